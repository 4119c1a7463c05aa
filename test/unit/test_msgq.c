/*
 * msgq: FIFO order, byte accounting, the max_bytes bound (a refused push
 * takes no ref; a lone oversized msg is accepted into an empty queue), ring
 * wrap-around and growth, peek_at, and fini dropping every queued ref.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msgq.h"

#define MAX_BYTES 1000
#define MAX_OWNED 4096

/* The queue under test plus the creator refs of every msg a test made, so
 * teardown can drop them even when a test fails halfway. */
struct fx {
	struct msgq q;
	struct msg *owned[MAX_OWNED];
	size_t nowned;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	msgq_init(&fx->q, MAX_BYTES);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	msgq_fini(&fx->q);
	for (size_t i = 0; i < fx->nowned; i++)
		msg_unref(fx->owned[i]);
	free(fx);
	*state = NULL;
	assert_int_equal(msg_live_count(), 0);
	return 0;
}

/* A msg of len bytes whose payload starts with "#<seq>"; the fixture keeps
 * the creator's ref. */
static struct msg *
mk(struct fx *fx, size_t len, unsigned seq)
{
	char *buf = calloc(1, len + 16);
	struct msg *m;

	assert_non_null(buf);
	memset(buf, '.', len);
	if (len)
		snprintf(buf, len + 1, "#%u", seq);
	m = msg_new(buf, len);
	free(buf);
	assert_non_null(m);
	assert_true(fx->nowned < MAX_OWNED);
	fx->owned[fx->nowned++] = m;
	return m;
}

/* Pushes n msgs numbered from seq, each of len bytes. */
static void
push_n(struct fx *fx, struct msg **out, unsigned n, unsigned seq, size_t len)
{
	for (unsigned i = 0; i < n; i++) {
		out[i] = mk(fx, len, seq + i);
		assert_int_equal(msgq_push(&fx->q, out[i]), 0);
	}
}

static void
pop_expect(struct fx *fx, struct msg **want, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct msg *m = msgq_pop(&fx->q);

		assert_ptr_equal(m, want[i]);
		assert_int_equal(m->refs, 2);
		msg_unref(m);
	}
}

static void
test_msgq_new_queue_is_empty(void **state)
{
	struct fx *fx = *state;

	assert_true(msgq_is_empty(&fx->q));
	assert_null(msgq_pop(&fx->q));
	assert_null(msgq_peek(&fx->q));
	assert_int_equal(fx->q.bytes, 0);
	assert_int_equal(fx->q.count, 0);
	assert_int_equal(fx->q.max_bytes, MAX_BYTES);
	/* An idle queue holds no storage. */
	assert_null(fx->q.slots);
	assert_int_equal(fx->q.cap, 0);
}

static void
test_msgq_push_takes_a_ref_and_pop_hands_it_over(void **state)
{
	struct fx *fx = *state;
	struct msg *m = mk(fx, 10, 1), *out;

	assert_int_equal(msgq_push(&fx->q, m), 0);
	assert_int_equal(m->refs, 2);
	assert_false(msgq_is_empty(&fx->q));
	out = msgq_pop(&fx->q);
	assert_ptr_equal(out, m);
	/* The queue's ref is now the caller's. */
	assert_int_equal(m->refs, 2);
	assert_true(msgq_is_empty(&fx->q));
	msg_unref(out);
	assert_int_equal(m->refs, 1);
}

static void
test_msgq_peek_returns_oldest_without_taking_it(void **state)
{
	struct fx *fx = *state;
	struct msg *a = mk(fx, 3, 1), *b = mk(fx, 4, 2);

	assert_int_equal(msgq_push(&fx->q, a), 0);
	assert_int_equal(msgq_push(&fx->q, b), 0);
	assert_ptr_equal(msgq_peek(&fx->q), a);
	assert_ptr_equal(msgq_peek(&fx->q), a);
	assert_int_equal(a->refs, 2);
	assert_int_equal(fx->q.count, 2);
	assert_int_equal(fx->q.bytes, 7);
}

static void
test_msgq_peek_at_walks_the_queue_oldest_first(void **state)
{
	struct fx *fx = *state;
	struct msg *a[7], *b[5];

	assert_null(msgq_peek_at(&fx->q, 0));
	/* Wrap the 8-slot ring: head at 4, entries in slots 4..7 and 0..3. */
	push_n(fx, a, 7, 0, 1);
	pop_expect(fx, a, 4);
	push_n(fx, b, 5, 100, 1);
	assert_int_equal(fx->q.cap, 8);
	for (unsigned i = 0; i < 3; i++)
		assert_ptr_equal(msgq_peek_at(&fx->q, i), a[4 + i]);
	for (unsigned i = 0; i < 5; i++)
		assert_ptr_equal(msgq_peek_at(&fx->q, 3 + i), b[i]);
	assert_null(msgq_peek_at(&fx->q, 8));
	assert_null(msgq_peek_at(&fx->q, 1000));
	assert_ptr_equal(msgq_peek_at(&fx->q, 0), msgq_peek(&fx->q));
	/* Peeking takes no reference and removes nothing. */
	assert_int_equal(b[0]->refs, 2);
	assert_int_equal(fx->q.count, 8);
}

static void
test_msgq_pops_in_fifo_order_with_byte_accounting(void **state)
{
	struct fx *fx = *state;
	struct msg *ms[5];
	size_t total = 0;

	for (unsigned i = 0; i < 5; i++) {
		ms[i] = mk(fx, 10 + i, i);
		assert_int_equal(msgq_push(&fx->q, ms[i]), 0);
		total += 10 + i;
		assert_int_equal(fx->q.bytes, total);
		assert_int_equal(fx->q.count, i + 1);
	}
	for (unsigned i = 0; i < 5; i++) {
		struct msg *m = msgq_pop(&fx->q);

		assert_ptr_equal(m, ms[i]);
		total -= m->len;
		assert_int_equal(fx->q.bytes, total);
		msg_unref(m);
	}
	assert_int_equal(fx->q.bytes, 0);
	assert_null(msgq_pop(&fx->q));
}

static void
test_msgq_push_up_to_exactly_max_bytes_succeeds(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msgq_push(&fx->q, mk(fx, 600, 1)), 0);
	assert_int_equal(msgq_push(&fx->q, mk(fx, 400, 2)), 0);
	assert_int_equal(fx->q.bytes, MAX_BYTES);
	assert_int_equal(fx->q.count, 2);
}

static void
test_msgq_push_when_full_keeps_refcount(void **state)
{
	struct fx *fx = *state;
	struct msg *a = mk(fx, 600, 1), *b = mk(fx, 401, 2);

	assert_int_equal(msgq_push(&fx->q, a), 0);
	assert_int_equal(msgq_push(&fx->q, b), -ENOBUFS);
	/* Nothing was taken and nothing changed. */
	assert_int_equal(b->refs, 1);
	assert_int_equal(a->refs, 2);
	assert_int_equal(fx->q.count, 1);
	assert_int_equal(fx->q.bytes, 600);
	assert_ptr_equal(msgq_peek(&fx->q), a);
}

static void
test_msgq_push_when_full_leaves_order_intact(void **state)
{
	struct fx *fx = *state;
	struct msg *ms[4], *big = mk(fx, 500, 99);

	for (unsigned i = 0; i < 4; i++) {
		ms[i] = mk(fx, 200, i);
		assert_int_equal(msgq_push(&fx->q, ms[i]), 0);
	}
	assert_int_equal(msgq_push(&fx->q, big), -ENOBUFS);
	assert_int_equal(msgq_push(&fx->q, big), -ENOBUFS);
	assert_int_equal(big->refs, 1);
	/* A small one still fits in the 200 bytes left. */
	assert_int_equal(msgq_push(&fx->q, mk(fx, 200, 4)), 0);
	assert_int_equal(fx->q.bytes, MAX_BYTES);
	for (unsigned i = 0; i < 4; i++) {
		struct msg *m = msgq_pop(&fx->q);

		assert_ptr_equal(m, ms[i]);
		msg_unref(m);
	}
	msg_unref(msgq_pop(&fx->q));
	assert_true(msgq_is_empty(&fx->q));
}

static void
test_msgq_lone_msg_over_bound_is_accepted_when_empty(void **state)
{
	struct fx *fx = *state;
	struct msg *huge = mk(fx, 5 * MAX_BYTES, 1), *tiny = mk(fx, 1, 2);

	assert_int_equal(msgq_push(&fx->q, huge), 0);
	assert_int_equal(huge->refs, 2);
	assert_int_equal(fx->q.bytes, 5 * MAX_BYTES);
	/* While it is queued, even one more byte is refused. */
	assert_int_equal(msgq_push(&fx->q, tiny), -ENOBUFS);
	assert_int_equal(tiny->refs, 1);
	msg_unref(msgq_pop(&fx->q));
	assert_int_equal(fx->q.bytes, 0);
	assert_int_equal(msgq_push(&fx->q, tiny), 0);
	/* ...and once anything is queued, a big one is refused again. */
	assert_int_equal(msgq_push(&fx->q, huge), -ENOBUFS);
	assert_int_equal(huge->refs, 1);
}

static void
test_msgq_same_msg_queued_twice_holds_two_refs(void **state)
{
	struct fx *fx = *state;
	struct msg *m = mk(fx, 50, 1);

	assert_int_equal(msgq_push(&fx->q, m), 0);
	assert_int_equal(msgq_push(&fx->q, m), 0);
	assert_int_equal(m->refs, 3);
	assert_int_equal(fx->q.bytes, 100);
	msg_unref(msgq_pop(&fx->q));
	assert_int_equal(m->refs, 2);
	assert_int_equal(fx->q.bytes, 50);
}

static void
test_msgq_wraps_around_the_ring_in_order(void **state)
{
	struct fx *fx = *state;
	struct msg *a[6], *b[6];

	/* Fill most of the first ring (8 slots), drain part, refill so the
	 * tail wraps past the end while the head is in the middle. */
	push_n(fx, a, 6, 0, 1);
	pop_expect(fx, a, 4);
	push_n(fx, b, 6, 100, 1);
	assert_int_equal(fx->q.count, 8);
	assert_int_equal(fx->q.cap, 8);
	pop_expect(fx, a + 4, 2);
	pop_expect(fx, b, 6);
	assert_true(msgq_is_empty(&fx->q));
}

static void
test_msgq_grows_while_wrapped_keeping_order(void **state)
{
	struct fx *fx = *state;
	struct msg *a[8], *b[5], *c[20];

	push_n(fx, a, 8, 0, 1);
	pop_expect(fx, a, 5);
	/* head is 5 of 8: these wrap, then the ring grows from a wrapped
	 * state. */
	push_n(fx, b, 5, 100, 1);
	assert_int_equal(fx->q.count, 8);
	push_n(fx, c, 20, 200, 1);
	assert_int_equal(fx->q.count, 28);
	assert_true(fx->q.cap >= 28);
	assert_int_equal(fx->q.bytes, 28);
	pop_expect(fx, a + 5, 3);
	pop_expect(fx, b, 5);
	pop_expect(fx, c, 20);
	assert_true(msgq_is_empty(&fx->q));
}

static void
test_msgq_grows_past_8_16_and_64_entries(void **state)
{
	struct fx *fx = *state;
	static struct msg *ms[200];
	const unsigned sizes[] = { 8, 9, 16, 17, 64, 65, 200 };
	unsigned n = 0;

	fx->q.max_bytes = 1 << 20;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		push_n(fx, ms + n, sizes[k] - n, n, 3);
		n = sizes[k];
		assert_int_equal(fx->q.count, n);
		assert_int_equal(fx->q.bytes, 3 * n);
		assert_true(fx->q.cap >= n);
		assert_ptr_equal(msgq_peek(&fx->q), ms[0]);
	}
	pop_expect(fx, ms, 200);
	assert_true(msgq_is_empty(&fx->q));
	assert_int_equal(fx->q.bytes, 0);
}

static void
test_msgq_reusable_after_draining_a_grown_ring(void **state)
{
	struct fx *fx = *state;
	static struct msg *ms[100], *more[30];

	fx->q.max_bytes = 1 << 20;
	push_n(fx, ms, 100, 0, 2);
	pop_expect(fx, ms, 100);
	assert_null(msgq_peek(&fx->q));
	push_n(fx, more, 30, 1000, 2);
	assert_int_equal(fx->q.bytes, 60);
	pop_expect(fx, more, 30);
}

/* A drained ring is freed (idle sessions hold none), and the next push
 * allocates the size it had, at most 64 slots, in one step. */
static void
test_msgq_drained_ring_is_freed_and_regrows_in_one_step(void **state)
{
	struct fx *fx = *state;
	static struct msg *ms[200], *one[2];

	fx->q.max_bytes = 1 << 20;
	push_n(fx, ms, 32, 0, 2);
	assert_int_equal(fx->q.cap, 32);
	pop_expect(fx, ms, 32);
	assert_null(fx->q.slots);
	assert_int_equal(fx->q.cap, 0);
	push_n(fx, one, 1, 500, 2);
	assert_int_equal(fx->q.cap, 32);
	pop_expect(fx, one, 1);

	/* A deep backlog is not remembered whole. */
	push_n(fx, ms, 200, 1000, 2);
	assert_int_equal(fx->q.cap, 256);
	pop_expect(fx, ms, 200);
	push_n(fx, one + 1, 1, 2000, 2);
	assert_int_equal(fx->q.cap, 64);
	pop_expect(fx, one + 1, 1);

	/* fini forgets it: a fresh queue starts at the minimum. */
	push_n(fx, ms, 20, 3000, 2);
	msgq_fini(&fx->q);
	assert_int_equal(fx->q.max_bytes, 1 << 20);
	push_n(fx, ms, 1, 4000, 2);
	assert_int_equal(fx->q.cap, 8);
	pop_expect(fx, ms, 1);
}

/* A long interleaving of pushes and pops checked against a plain array:
 * any slip in head/count/cap arithmetic shows up as a wrong msg. */
static void
test_msgq_random_push_pop_matches_model(void **state)
{
	struct fx *fx = *state;
	static struct msg *model[MAX_OWNED];
	size_t head = 0, tail = 0, bytes = 0;
	uint32_t rng = 12345;

	fx->q.max_bytes = SIZE_MAX;
	for (unsigned step = 0; step < 6000; step++) {
		rng = rng * 1103515245u + 12345u;
		/* Bias toward pushing in phases so the ring grows and shrinks. */
		bool grow = (step / 500) % 2 == 0;
		unsigned r = (rng >> 16) % 10;

		if ((grow ? r < 7 : r < 3) && fx->nowned < MAX_OWNED) {
			size_t len = 1 + (rng >> 8) % 7;
			struct msg *m = mk(fx, len, step);

			assert_int_equal(msgq_push(&fx->q, m), 0);
			model[tail++] = m;
			bytes += len;
		} else if (head < tail) {
			struct msg *m = msgq_pop(&fx->q);

			assert_ptr_equal(m, model[head]);
			head++;
			bytes -= m->len;
			msg_unref(m);
		} else {
			assert_null(msgq_pop(&fx->q));
		}
		assert_int_equal(fx->q.count, tail - head);
		assert_int_equal(fx->q.bytes, bytes);
		assert_ptr_equal(msgq_peek(&fx->q),
				 head < tail ? model[head] : NULL);
		if (head < tail) {
			size_t k = (rng >> 4) % (tail - head);

			assert_ptr_equal(msgq_peek_at(&fx->q, (unsigned)k),
					 model[head + k]);
			assert_ptr_equal(msgq_peek_at(&fx->q, 0), model[head]);
			assert_ptr_equal(msgq_peek_at(&fx->q, tail - head - 1),
					 model[tail - 1]);
		}
		assert_null(msgq_peek_at(&fx->q, (unsigned)(tail - head)));
	}
}

static void
test_msgq_fini_drops_every_queued_ref(void **state)
{
	struct fx *fx = *state;
	struct msg *ms[20];

	fx->q.max_bytes = 1 << 20;
	push_n(fx, ms, 20, 0, 10);
	assert_int_equal(msgq_push(&fx->q, ms[0]), 0);
	assert_int_equal(ms[0]->refs, 3);
	assert_int_equal(msg_live_count(), 20);
	msgq_fini(&fx->q);
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(ms[i]->refs, 1);
	assert_true(msgq_is_empty(&fx->q));
	assert_int_equal(fx->q.bytes, 0);
	assert_null(fx->q.slots);
	/* Still usable, with the same bound. */
	assert_int_equal(fx->q.max_bytes, 1 << 20);
	assert_int_equal(msgq_push(&fx->q, ms[3]), 0);
	assert_ptr_equal(msgq_peek(&fx->q), ms[3]);
}

static void
test_msgq_fini_on_empty_queue_is_harmless(void **state)
{
	struct fx *fx = *state;

	msgq_fini(&fx->q);
	msgq_fini(&fx->q);
	assert_true(msgq_is_empty(&fx->q));
	assert_int_equal(fx->q.max_bytes, MAX_BYTES);
}

static void
test_msgq_fini_frees_msgs_whose_last_ref_was_queued(void **state)
{
	struct msgq q;
	struct msg *m = msg_new("x", 1);

	assert_non_null(m);
	msgq_init(&q, 100);
	assert_int_equal(msgq_push(&q, m), 0);
	msg_unref(m); /* the queue holds the only ref now */
	assert_int_equal(msg_live_count(), 1);
	msgq_fini(&q);
	assert_int_equal(msg_live_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_msgq_new_queue_is_empty),
		T(test_msgq_push_takes_a_ref_and_pop_hands_it_over),
		T(test_msgq_peek_returns_oldest_without_taking_it),
		T(test_msgq_peek_at_walks_the_queue_oldest_first),
		T(test_msgq_pops_in_fifo_order_with_byte_accounting),
		T(test_msgq_push_up_to_exactly_max_bytes_succeeds),
		T(test_msgq_push_when_full_keeps_refcount),
		T(test_msgq_push_when_full_leaves_order_intact),
		T(test_msgq_lone_msg_over_bound_is_accepted_when_empty),
		T(test_msgq_same_msg_queued_twice_holds_two_refs),
		T(test_msgq_wraps_around_the_ring_in_order),
		T(test_msgq_grows_while_wrapped_keeping_order),
		T(test_msgq_grows_past_8_16_and_64_entries),
		T(test_msgq_reusable_after_draining_a_grown_ring),
		T(test_msgq_drained_ring_is_freed_and_regrows_in_one_step),
		T(test_msgq_random_push_pop_matches_model),
		T(test_msgq_fini_drops_every_queued_ref),
		T(test_msgq_fini_on_empty_queue_is_harmless),
		T(test_msgq_fini_frees_msgs_whose_last_ref_was_queued),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
