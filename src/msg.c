/*
 * Refcounted outbound payloads: one allocation holds header, headroom and
 * payload, so fan-out to N sessions costs one malloc and one copy.
 */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

static long live;

struct msg *
msg_new(const void *payload, size_t len)
{
	/* +1 keeps a NUL after the payload, handy for logging and tests. */
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);

	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	memcpy(m->buf + LWS_PRE, payload, len);
	m->buf[LWS_PRE + len] = '\0';
	live++;
	return m;
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
