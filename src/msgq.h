/*
 * msgq: a session's bounded FIFO of msg references.
 *
 * Lifetime: a successful push takes a reference; a push that would go over the
 * byte bound fails and takes nothing; pop hands the reference to the caller.
 * The ring starts empty with no storage and grows by doubling. A drained ring
 * is freed, so an idle session costs no queue memory; the next push
 * allocates the size it had, so a busy one pays one malloc per burst, not
 * one per doubling.
 */
#ifndef CHAT_MSGQ_H
#define CHAT_MSGQ_H

#include <stdbool.h>
#include <stddef.h>

struct msg;

struct msgq {
	struct msg **slots;
	unsigned head, count, cap;
	/* The capacity the ring had when it last drained (at most
	 * MSGQ_REGROW_MAX): a busy session regrows to it in one step. */
	unsigned drained_cap;
	size_t bytes;     /* payload bytes queued */
	size_t max_bytes; /* bound checked on push */
};

void msgq_init(struct msgq *q, size_t max_bytes);
/* Drops every queued reference and frees the ring. */
void msgq_fini(struct msgq *q);

/*
 * Queues a reference to m. Returns 0; -ENOBUFS when the queue is not empty
 * and m would take it over max_bytes (a lone message larger than the bound is
 * accepted, so one big history frame cannot cull a client); -ENOMEM. On error
 * the queue and m's count are unchanged.
 */
int msgq_push(struct msgq *q, struct msg *m);
/* The oldest msg, whose reference passes to the caller; NULL when empty. */
struct msg *msgq_pop(struct msgq *q);
struct msg *msgq_peek(const struct msgq *q);
/* The i-th oldest msg (0 is the head), still queued; NULL past the end. */
struct msg *msgq_peek_at(const struct msgq *q, unsigned i);

static inline bool
msgq_is_empty(const struct msgq *q)
{
	return q->count == 0;
}

#endif
