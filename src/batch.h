/*
 * batch: what chatd does with each loop turn's input, as one batch. The
 * sessions that sent input are read on to the end, the chat's flush
 * commits and fans out every message of the turn once, and each session
 * given frames is written once, at once (not a poll() round later).
 *
 * Ownership: a batch belongs to the chat protocol's per-vhost state and
 * borrows the chat and the lws context; its lists borrow sessions, which
 * leave them through batch_forget() before they are freed.
 */
#ifndef CHAT_BATCH_H
#define CHAT_BATCH_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "chat_proto.h"

struct chat;
struct session;

/* Sessions the batch works through, in the order they came. */
struct session_list {
	struct session **v;
	unsigned n, cap;
};

struct batch {
	struct lws_context *context;
	struct chat *chat;
	bool flush_wanted; /* messages wait for batch_end_of_turn */
	bool flushing;     /* the chat's flush is running */
	struct session_list readers; /* sent input since the last flush */
	struct session_list writers; /* given frames by the running flush */
	/* Where a session's pending frames are gathered for one write. */
	unsigned char gather[LWS_PRE + CHAT_PROTO_WRITE_BOUND];
};

void batch_init(struct batch *b, struct lws_context *context,
		struct chat *chat);
void batch_fini(struct batch *b);

/* s handed over a frame this turn: it is read on to the end first. */
void batch_note_input(struct batch *b, struct session *s);
/* s's queue has frames: written at the flush's end when the flush gave
 * them, otherwise when lws says the socket may take them. */
void batch_wake(struct batch *b, struct session *s);
/* The chat has messages to commit and fan out (chat_transport). */
void batch_want_flush(struct batch *b);
/* The loop turn is over, every event of it handled: flush now. */
void batch_end_of_turn(struct batch *b);
/*
 * Sends what is queued for s (a WebSocket session) in one write, and asks
 * for the next writable callback while more waits. Returns 0, or -1 when
 * the connection failed.
 */
int batch_write_queued(struct batch *b, struct lws *wsi, struct session *s);
/* s is going away: it leaves the batch's lists. */
void batch_forget(struct batch *b, struct session *s);

#endif
