/*
 * Ring buffer of msg pointers with byte accounting.
 */
#include "msgq.h"

#include <errno.h>
#include <stdlib.h>

#include "msg.h"

#define MSGQ_MIN_CAP 8
/* Larger rings are not remembered: a session that once had a deep backlog
 * would otherwise allocate it for every later burst. 64 slots is 512 bytes
 * and two full S2 windows. */
#define MSGQ_REGROW_MAX 64

void
msgq_init(struct msgq *q, size_t max_bytes)
{
	*q = (struct msgq){ .max_bytes = max_bytes };
}

void
msgq_fini(struct msgq *q)
{
	struct msg *m;

	while ((m = msgq_pop(q)))
		msg_unref(m);
	free(q->slots);
	*q = (struct msgq){ .max_bytes = q->max_bytes };
}

static int
grow(struct msgq *q)
{
	unsigned cap = q->cap ? q->cap * 2
			      : q->drained_cap ? q->drained_cap : MSGQ_MIN_CAP;
	struct msg **slots = malloc(cap * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (unsigned i = 0; i < q->count; i++)
		slots[i] = q->slots[(q->head + i) & (q->cap - 1)];
	free(q->slots);
	q->slots = slots;
	q->cap = cap;
	q->head = 0;
	return 0;
}

int
msgq_push(struct msgq *q, struct msg *m)
{
	if (q->count && q->bytes + m->len > q->max_bytes)
		return -ENOBUFS;
	if (q->count == q->cap && grow(q))
		return -ENOMEM;
	q->slots[(q->head + q->count) & (q->cap - 1)] = msg_ref(m);
	q->count++;
	q->bytes += m->len;
	return 0;
}

struct msg *
msgq_peek(const struct msgq *q)
{
	return q->count ? q->slots[q->head] : NULL;
}

struct msg *
msgq_peek_at(const struct msgq *q, unsigned i)
{
	return i < q->count ? q->slots[(q->head + i) & (q->cap - 1)] : NULL;
}

struct msg *
msgq_pop(struct msgq *q)
{
	struct msg *m;

	if (!q->count)
		return NULL;
	m = q->slots[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	q->bytes -= m->len;
	/* A drained ring goes back at once: most sessions are idle most of
	 * the time, and 10,000 of them holding 8 slots each is 0.8 MB of
	 * nothing; a busy one pays a malloc per flush, not per frame. */
	if (!q->count) {
		q->drained_cap = q->cap < MSGQ_REGROW_MAX ? q->cap
							  : MSGQ_REGROW_MAX;
		free(q->slots);
		q->slots = NULL;
		q->cap = 0;
		q->head = 0;
	}
	return m;
}
