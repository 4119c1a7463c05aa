/*
 * msg: a refcounted, immutable outbound frame payload with LWS_PRE bytes of
 * headroom, built once and shared by every recipient's queue.
 *
 * Lifetime: msg_new() returns the creator's reference. Whoever stores the
 * pointer takes a reference with msg_ref(); msg_unref() drops one and the
 * last one frees. Service thread only: the count is a plain int, and an
 * underflow aborts. The headroom is lws's scratch space during lws_write();
 * nothing may be kept in it.
 */
#ifndef CHAT_MSG_H
#define CHAT_MSG_H

#include <libwebsockets.h>
#include <stddef.h>

struct msg {
	int refs;
	size_t len; /* payload bytes, excluding headroom */
	unsigned char buf[];
};

/* A msg holding a copy of len bytes; NULL when out of memory. */
struct msg *msg_new(const void *payload, size_t len);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

static inline unsigned char *
msg_payload(struct msg *m)
{
	return m->buf + LWS_PRE;
}

/* Live msgs in this process; tests assert it returns to zero. */
long msg_live_count(void);

#endif
