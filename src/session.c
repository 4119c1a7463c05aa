/*
 * Per-connection state: send queue, room list and inbound reassembly.
 */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "growbuf.h"
#include "log.h"
#include "msg.h"

void
session_send(struct session *s, struct msg *m)
{
	if (s->dialect == SESSION_NATIVE)
		session_queue(s, m);
}

void
session_queue(struct session *s, struct msg *m)
{
	int rc;

	if (s->closing)
		return;
	rc = msgq_push(&s->q, m);
	if (rc == -ENOBUFS) {
		log_warn("session %llu: send queue over %zu bytes, closing "
			 "(slow consumer)",
			 (unsigned long long)s->id, s->q.max_bytes);
		s->chat->stats.slow_consumers++;
		session_close(s, CHAT_CLOSE_POLICY, "slow consumer");
		return;
	}
	if (rc) {
		log_warn("session %llu: out of memory queueing a frame, closing",
			 (unsigned long long)s->id);
		session_close(s, CHAT_CLOSE_GOING_AWAY, "out of memory");
		return;
	}
	s->chat->transport.wake(s);
}

void
session_close(struct session *s, uint16_t code, const char *reason)
{
	session_close_after(s, NULL, code, reason);
}

void
session_close_after(struct session *s, struct msg *last, uint16_t code,
		    const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_code = code;
	s->close_reason = reason;
	/* Whatever is queued would only delay the close frame. */
	msgq_fini(&s->q);
	/* The queue is empty, so it takes last whatever its bound; only out
	 * of memory loses it, and the close goes out all the same. */
	if (last)
		msgq_push(&s->q, last);
	s->chat->transport.close(s);
}

struct room *
session_current_room(const struct session *s)
{
	return s->nrooms ? s->rooms[s->nrooms - 1] : NULL;
}

bool
session_in_room(const struct session *s, const struct room *r)
{
	for (unsigned i = 0; i < s->nrooms; i++)
		if (s->rooms[i] == r)
			return true;
	return false;
}


static int
room_index(const struct session *s, const struct room *r)
{
	for (unsigned i = 0; i < s->nrooms; i++)
		if (s->rooms[i] == r)
			return (int)i;
	return -1;
}

int
session_enter_room(struct session *s, struct room *r)
{
	int at = room_index(s, r);
	int64_t typing = at >= 0 ? s->typing_ms[at] : 0;

	session_exit_room(s, r);
	if (s->nrooms == s->rooms_cap) {
		unsigned cap = s->rooms_cap ? s->rooms_cap * 2 : 2;
		struct room **rooms = realloc(s->rooms, cap * sizeof(*rooms));
		int64_t *ts;

		if (!rooms)
			return -ENOMEM;
		s->rooms = rooms;
		ts = realloc(s->typing_ms, cap * sizeof(*ts));
		if (!ts)
			return -ENOMEM; /* rooms only grew: still consistent */
		s->typing_ms = ts;
		s->rooms_cap = cap;
	}
	s->rooms[s->nrooms] = r;
	s->typing_ms[s->nrooms++] = typing;
	return 0;
}

void
session_exit_room(struct session *s, struct room *r)
{
	int at = room_index(s, r);
	size_t tail;

	if (at < 0)
		return;
	tail = s->nrooms - (unsigned)at - 1;
	memmove(&s->rooms[at], &s->rooms[at + 1], tail * sizeof(*s->rooms));
	memmove(&s->typing_ms[at], &s->typing_ms[at + 1],
		tail * sizeof(*s->typing_ms));
	s->nrooms--;
}

void
session_rooms_fini(struct session *s)
{
	free(s->rooms);
	free(s->typing_ms);
	s->rooms = NULL;
	s->typing_ms = NULL;
	s->nrooms = s->rooms_cap = 0;
}

bool
session_typing_due(struct session *s, const struct room *r, int64_t now_ms,
		   int64_t interval_ms)
{
	int at = room_index(s, r);

	if (at < 0)
		return false;
	if (s->typing_ms[at] && now_ms - s->typing_ms[at] < interval_ms &&
	    now_ms >= s->typing_ms[at])
		return false;
	s->typing_ms[at] = now_ms;
	return true;
}

void
session_typing_reset(struct session *s, const struct room *r)
{
	int at = room_index(s, r);

	if (at >= 0)
		s->typing_ms[at] = 0;
}

int
session_rx_append(struct session *s, const void *data, size_t len, size_t max)
{
	return growbuf_append(&s->rx, &s->rx_len, &s->rx_cap, data, len, max);
}

void
session_rx_reset(struct session *s)
{
	/* Idle sessions keep no reassembly buffer. */
	free(s->rx);
	s->rx = NULL;
	s->rx_len = s->rx_cap = 0;
}

int
session_stall_push(struct session *s, const char *data, size_t len)
{
	struct stalled_request *r;

	if (s->nstalled >= SESSION_MAX_STALLED)
		return -ENOSPC;
	r = malloc(sizeof(*r) + len);
	if (!r)
		return -ENOMEM;
	r->next = NULL;
	r->len = len;
	memcpy(r->data, data, len);
	if (s->stalled_tail)
		s->stalled_tail->next = r;
	else
		s->stalled = r;
	s->stalled_tail = r;
	s->nstalled++;
	return 0;
}

void
session_stall_pop(struct session *s)
{
	struct stalled_request *r = s->stalled;

	if (!r)
		return;
	s->stalled = r->next;
	if (!s->stalled)
		s->stalled_tail = NULL;
	s->nstalled--;
	free(r);
}

void
session_stall_clear(struct session *s)
{
	while (s->stalled)
		session_stall_pop(s);
}
