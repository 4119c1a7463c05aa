/*
 * The end-of-turn batch: read on, flush once, write through.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "msg.h"
#include "session.h"

void
batch_init(struct batch *b, struct lws_context *context, struct chat *chat)
{
	b->context = context;
	b->chat = chat;
	b->flush_wanted = b->flushing = false;
	b->readers = b->writers = (struct session_list){ 0 };
}

void
batch_fini(struct batch *b)
{
	free(b->readers.v);
	free(b->writers.v);
	b->readers = b->writers = (struct session_list){ 0 };
}

static int
list_add(struct session_list *l, struct session *s)
{
	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 64;
		struct session **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static void
list_remove(struct session_list *l, struct session *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i] == s) {
			l->v[i] = l->v[--l->n];
			return;
		}
}

void
batch_note_input(struct batch *b, struct session *s)
{
	if (!s->had_input)
		s->had_input = !list_add(&b->readers, s);
}

void
batch_forget(struct batch *b, struct session *s)
{
	if (s->had_input)
		list_remove(&b->readers, s);
	if (s->got_frames)
		list_remove(&b->writers, s);
	s->had_input = s->got_frames = false;
}

/*
 * During a flush, a session given frames is written to at its end, all
 * of its frames in one write, without a trip through poll() for POLLOUT
 * (write_through). Any other time, lws calls back when it may write.
 */
void
batch_wake(struct batch *b, struct session *s)
{
	if (b->flushing && !s->got_frames && !list_add(&b->writers, s)) {
		s->got_frames = true;
		return;
	}
	if (!s->got_frames)
		lws_callback_on_writable(s->conn);
}

void
batch_want_flush(struct batch *b)
{
	b->flush_wanted = true;
}

/* Every turn: requests other than messages (join, typing) flush on their
 * own, so the list would otherwise keep them until the next message. */
static void
clear_readers(struct batch *b)
{
	for (unsigned i = 0; i < b->readers.n; i++)
		b->readers.v[i]->had_input = false;
	b->readers.n = 0;
}

/*
 * lws reads at most a connection's rx buffer (CHAT_PROTO_RX_BUFFER, kept
 * small for idle memory) per POLLIN and then goes back to poll(). Before
 * a flush, each session that sent input this turn is read on to the end
 * (or DRAIN_READS_MAX more buffers), through lws_service_fd as if poll()
 * had said POLLIN: so one flush, one commit and one write per recipient
 * cover all the messages already waiting, not the first few of them.
 */
#define DRAIN_READS_MAX 64

/* True when session s is still at index i of the list: lws_service_fd can
 * close and free it, and batch_forget then moves the last one into slot
 * i. */
static bool
still_at(const struct session_list *l, unsigned i, const struct session *s)
{
	return i < l->n && l->v[i] == s;
}

static void
drain_readers(struct batch *b)
{
	bool more = false;
	unsigned i = 0;

	while (i < b->readers.n) {
		struct session *s = b->readers.v[i];
		int reads = 0;

		for (; reads < DRAIN_READS_MAX; reads++) {
			struct lws_pollfd pfd = {
				.fd = lws_get_socket_fd(s->conn),
				.events = LWS_POLLIN,
				.revents = LWS_POLLIN,
			};
			int rc;

			if (s->closing || s->stalled || pfd.fd < 0)
				break;
			s->read_something = false;
			/* Nonzero: lws is closing it, or has freed it. */
			rc = lws_service_fd(b->context, &pfd);
			if (!still_at(&b->readers, i, s) || rc ||
			    !s->read_something)
				break;
		}
		if (!still_at(&b->readers, i, s))
			continue; /* freed: slot i holds another session now */
		more |= reads == DRAIN_READS_MAX;
		i++;
	}
	clear_readers(b);
	/* Input left for the next turn may sit where poll cannot see it
	 * (inside OpenSSL): wake lws so it looks. */
	if (more)
		lws_cancel_service(b->context);
}

/*
 * Sends what is queued for s in one write: the frames are complete on the
 * wire already (msg_frame), so they go out with LWS_WRITE_RAW, which lws
 * 4.1 passes to the socket as it is. A single frame is written from its msg;
 * several are first gathered into the batch's buffer, up to the write
 * bound. Whole frames only: lws keeps an unsent tail and sends it before
 * anything else, so frames are never interleaved with lws's own (pong,
 * close). Sending each frame from its msg with one sendmsg() of iovecs
 * instead was measured slower (docs/performance.md).
 */
int
batch_write_queued(struct batch *b, struct lws *wsi, struct session *s)
{
	unsigned char *out = &b->gather[LWS_PRE];
	struct msg *m, *next;
	size_t used = 0, len;
	int n;

	m = msgq_peek(&s->q);
	if (!m)
		return 0; /* spurious, or the queue was dropped */
	next = msgq_peek_at(&s->q, 1);
	if (!next ||
	    msg_frame_len(m) + msg_frame_len(next) > CHAT_PROTO_WRITE_BOUND) {
		m = msgq_pop(&s->q);
		len = msg_frame_len(m);
		n = lws_write(wsi, msg_frame(m), len, LWS_WRITE_RAW);
		msg_unref(m);
	} else {
		while ((m = msgq_peek(&s->q)) &&
		       used + msg_frame_len(m) <= CHAT_PROTO_WRITE_BOUND) {
			memcpy(out + used, msg_frame(m), msg_frame_len(m));
			used += msg_frame_len(m);
			msg_unref(msgq_pop(&s->q));
		}
		len = used;
		n = lws_write(wsi, out, len, LWS_WRITE_RAW);
	}
	if (n < (int)len)
		return -1;
	b->chat->stats.sent_bytes += len;
	if (s->stalled)
		chat_resume(s);
	if (!msgq_is_empty(&s->q))
		lws_callback_on_writable(wsi);
	return 0;
}

/*
 * Writes each session the flush gave frames to, now: its queue was just
 * filled and poll() would only say what is known, that the socket takes
 * them. A socket lws still holds bytes for waits for POLLOUT as before.
 * Sessions are not closed here (no callback to return -1 from): a failed
 * write marks the connection for lws to close.
 */
static void
write_through(struct batch *b)
{
	for (unsigned i = 0; i < b->writers.n; i++) {
		struct session *s = b->writers.v[i];
		struct lws *wsi = s->conn;

		s->got_frames = false;
		if (s->close_started)
			continue;
		if (s->closing || lws_partial_buffered(wsi)) {
			lws_callback_on_writable(wsi);
			continue;
		}
		if (batch_write_queued(b, wsi, s) < 0)
			lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
					LWS_TO_KILL_ASYNC);
	}
	b->writers.n = 0;
}

/* Reads what waits, commits and fans out, then writes what it queued. */
static void
flush(struct batch *b)
{
	b->flush_wanted = false;
	drain_readers(b);
	b->flushing = true;
	chat_flush(b->chat);
	b->flushing = false;
	write_through(b);
}

/* A flush can make more to flush (a stalled request resumed by a write);
 * past this many rounds the rest waits for the next turn, woken at once. */
#define FLUSH_ROUNDS_MAX 8

void
batch_end_of_turn(struct batch *b)
{
	for (int round = 0; b->flush_wanted; round++) {
		if (round == FLUSH_ROUNDS_MAX) {
			lws_cancel_service(b->context);
			break;
		}
		flush(b);
	}
	clear_readers(b);
}
