/*
 * msg: a refcounted, immutable outbound WebSocket text frame, built once
 * (header and payload, ready for the wire) and shared by every recipient's
 * queue, so fan-out costs a reference per recipient, never a re-encode.
 *
 * Lifetime: msg_new() returns the creator's reference. Whoever stores the
 * pointer takes a reference with msg_ref(); msg_unref() drops one and the
 * last one frees. Service thread only: the count is a plain int, and an
 * underflow aborts. The frame header lives at the end of the LWS_PRE
 * headroom, so a msg is written with LWS_WRITE_RAW (lws adds no header of
 * its own); never pass msg_payload() to lws_write() with a framing type.
 */
#ifndef CHAT_MSG_H
#define CHAT_MSG_H

#include <libwebsockets.h>
#include <stddef.h>

struct msg {
	int refs;
	unsigned char hdr_len; /* frame header bytes just before the payload */
	size_t len;            /* payload bytes */
	/* LWS_PRE headroom, whose last hdr_len bytes hold the frame header,
	 * then the payload and a NUL. */
	unsigned char buf[];
};

/*
 * A msg holding a copy of len payload bytes framed as one unmasked, final
 * text frame; NULL when out of memory.
 */
struct msg *msg_new(const void *payload, size_t len);
/* The same with another opcode (MSG_OP_PING for keepalive pings). */
struct msg *msg_new_frame(unsigned char opcode, const void *payload,
			  size_t len);

/* One piece of a payload. */
struct msg_part {
	const void *data;
	size_t len;
};
/* A text frame whose payload is the n parts one after the other, copied
 * once (a frame that wraps another's bytes); NULL when out of memory. */
struct msg *msg_new_parts(const struct msg_part *parts, unsigned n);

#define MSG_OP_TEXT 0x1
#define MSG_OP_PING 0x9
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

static inline unsigned char *
msg_payload(struct msg *m)
{
	return m->buf + LWS_PRE;
}

/* The whole frame, header first: what goes on the wire as it is. */
static inline unsigned char *
msg_frame(struct msg *m)
{
	return m->buf + LWS_PRE - m->hdr_len;
}

static inline size_t
msg_frame_len(const struct msg *m)
{
	return m->hdr_len + m->len;
}

/* Live msgs in this process; tests assert it returns to zero. */
long msg_live_count(void);

#endif
