/*
 * Refcounted outbound frames: one allocation holds the refcount, headroom,
 * the RFC 6455 header and the payload, so fan-out to N sessions costs one
 * malloc and one copy.
 */
#include "msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long live;

/*
 * Writes the header of a final, unmasked frame of len bytes so that it ends
 * at `end` (RFC 6455 section 5.2); returns its length.
 */
static unsigned char
frame_header(unsigned char *end, unsigned char opcode, size_t len)
{
	unsigned char *h;

	if (len < 126) {
		h = end - 2;
		h[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		h = end - 4;
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	} else {
		h = end - 10;
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	h[0] = (unsigned char)(0x80 | opcode); /* FIN */
	return (unsigned char)(end - h);
}

struct msg *
msg_new(const void *payload, size_t len)
{
	return msg_new_frame(MSG_OP_TEXT, payload, len);
}

static struct msg *
build(unsigned char opcode, const struct msg_part *parts, unsigned n)
{
	size_t len = 0, at = LWS_PRE;
	struct msg *m;

	for (unsigned i = 0; i < n; i++)
		len += parts[i].len;
	/* +1 keeps a NUL after the payload, handy for logging and tests. */
	m = malloc(sizeof(*m) + LWS_PRE + len + 1);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	m->hdr_len = frame_header(m->buf + LWS_PRE, opcode, len);
	for (unsigned i = 0; i < n; i++) {
		if (parts[i].len)
			memcpy(m->buf + at, parts[i].data, parts[i].len);
		at += parts[i].len;
	}
	m->buf[LWS_PRE + len] = '\0';
	live++;
	return m;
}

struct msg *
msg_new_frame(unsigned char opcode, const void *payload, size_t len)
{
	struct msg_part part = { payload, len };

	return build(opcode, &part, 1);
}

struct msg *
msg_new_parts(const struct msg_part *parts, unsigned n)
{
	return build(MSG_OP_TEXT, parts, n);
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (!m)
		return;
	if (m->refs <= 0)
		abort(); /* a double unref is a bug that would corrupt memory */
	if (--m->refs == 0) {
		live--;
		free(m);
	}
}

long
msg_live_count(void)
{
	return live;
}
