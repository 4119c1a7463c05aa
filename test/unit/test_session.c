/*
 * session: inbound reassembly (grows, refuses past max with -EMSGSIZE and
 * keeps what it had, reset frees), the room list (current room is the last
 * one entered; re-entering moves a room last), and send/close against a fake
 * transport (wake on queue, 1008 "slow consumer" over the queue bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "msg.h"
#include "room.h"
#include "session.h"

#define QUEUE_BYTES 100

/* Rooms are only pointers to a session; zeroed storage will do. */
static struct room rooms[80];

struct fx {
	struct chat chat; /* just enough of one: transport and stats */
	struct session s;
	int wakes, closes;
	struct session *last_woken, *last_closed;
};

static struct fx *cur; /* the transport callbacks find the fixture here */

static void
fake_wake(struct session *s)
{
	cur->wakes++;
	cur->last_woken = s;
}

static void
fake_close(struct session *s)
{
	cur->closes++;
	cur->last_closed = s;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->chat.transport.wake = fake_wake;
	fx->chat.transport.close = fake_close;
	fx->s.chat = &fx->chat;
	fx->s.id = 7;
	msgq_init(&fx->s.q, QUEUE_BYTES);
	cur = fx;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	msgq_fini(&fx->s.q);
	session_rx_reset(&fx->s);
	session_rooms_fini(&fx->s);
	free(fx);
	cur = NULL;
	*state = NULL;
	assert_int_equal(msg_live_count(), 0);
	return 0;
}

/* ---- inbound reassembly --------------------------------------------- */

static void
test_session_rx_append_concatenates_fragments(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	assert_null(s->rx);
	assert_int_equal(session_rx_append(s, "hello", 5, 100), 0);
	assert_int_equal(session_rx_append(s, ", ", 2, 100), 0);
	assert_int_equal(session_rx_append(s, "world", 5, 100), 0);
	assert_int_equal(s->rx_len, 12);
	assert_memory_equal(s->rx, "hello, world", 12);
	assert_true(s->rx_cap >= 12 && s->rx_cap <= 100);
}

static void
test_session_rx_append_grows_past_initial_capacity(void **state)
{
	struct session *s = &((struct fx *)*state)->s;
	const size_t max = 1 << 20;
	char chunk[1000];
	size_t total = 0;

	for (int i = 0; i < 300; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		assert_int_equal(session_rx_append(s, chunk, sizeof(chunk), max),
				 0);
		total += sizeof(chunk);
		assert_int_equal(s->rx_len, total);
		assert_true(s->rx_cap >= total && s->rx_cap <= max);
	}
	for (int i = 0; i < 300; i++)
		for (size_t k = 0; k < sizeof(chunk); k++)
			if (s->rx[i * sizeof(chunk) + k] != 'a' + i % 26)
				fail_msg("byte %zu is wrong",
					 i * sizeof(chunk) + k);
}

static void
test_session_rx_append_up_to_exactly_max(void **state)
{
	struct session *s = &((struct fx *)*state)->s;
	char buf[3000];

	memset(buf, 'm', sizeof(buf));
	assert_int_equal(session_rx_append(s, buf, 1500, 3000), 0);
	assert_int_equal(session_rx_append(s, buf, 1500, 3000), 0);
	assert_int_equal(s->rx_len, 3000);
	/* The buffer never grows past max. */
	assert_int_equal(s->rx_cap, 3000);
}

static void
test_session_rx_append_past_max_fails_and_keeps_content(void **state)
{
	struct session *s = &((struct fx *)*state)->s;
	char big[200];
	size_t cap;

	memset(big, 'B', sizeof(big));
	assert_int_equal(session_rx_append(s, "abcdef", 6, 100), 0);
	cap = s->rx_cap;
	assert_int_equal(session_rx_append(s, big, 95, 100), -EMSGSIZE);
	assert_int_equal(s->rx_len, 6);
	assert_int_equal(s->rx_cap, cap);
	assert_memory_equal(s->rx, "abcdef", 6);
	/* One byte short of the limit still fits; then nothing more does. */
	assert_int_equal(session_rx_append(s, big, 94, 100), 0);
	assert_int_equal(s->rx_len, 100);
	assert_int_equal(session_rx_append(s, "x", 1, 100), -EMSGSIZE);
	assert_int_equal(s->rx_len, 100);
	assert_memory_equal(s->rx, "abcdef", 6);
	assert_memory_equal(s->rx + 6, big, 94);
}

static void
test_session_rx_append_single_fragment_over_max_fails(void **state)
{
	struct session *s = &((struct fx *)*state)->s;
	char big[200] = { 0 };

	assert_int_equal(session_rx_append(s, big, 101, 100), -EMSGSIZE);
	assert_int_equal(s->rx_len, 0);
	assert_null(s->rx);
	/* A length that would wrap size_t arithmetic is refused too. */
	assert_int_equal(session_rx_append(s, "ab", 2, 100), 0);
	assert_int_equal(session_rx_append(s, big, SIZE_MAX, 100), -EMSGSIZE);
	assert_int_equal(session_rx_append(s, big, SIZE_MAX - 1, 100),
			 -EMSGSIZE);
	assert_int_equal(s->rx_len, 2);
	assert_memory_equal(s->rx, "ab", 2);
}

/* An empty fragment (a WebSocket frame may carry 0 bytes) before anything
 * has been buffered must be accepted without touching memory. */
static void
test_session_rx_append_empty_fragment_to_fresh_session(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	assert_int_equal(session_rx_append(s, "", 0, 100), 0);
	assert_int_equal(s->rx_len, 0);
	assert_int_equal(session_rx_append(s, "abc", 3, 100), 0);
	assert_int_equal(session_rx_append(s, "", 0, 100), 0);
	assert_int_equal(s->rx_len, 3);
	assert_memory_equal(s->rx, "abc", 3);
}

static void
test_session_rx_reset_frees_and_allows_reuse(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	assert_int_equal(session_rx_append(s, "first", 5, 100), 0);
	session_rx_reset(s);
	assert_null(s->rx);
	assert_int_equal(s->rx_len, 0);
	assert_int_equal(s->rx_cap, 0);
	session_rx_reset(s); /* twice is fine */
	assert_int_equal(session_rx_append(s, "second", 6, 100), 0);
	assert_int_equal(s->rx_len, 6);
	assert_memory_equal(s->rx, "second", 6);
}

/* ---- rooms ------------------------------------------------------------ */

static void
assert_rooms(const struct session *s, const int *idx, unsigned n)
{
	assert_int_equal(s->nrooms, n);
	for (unsigned i = 0; i < n; i++)
		if (s->rooms[i] != &rooms[idx[i]])
			fail_msg("room %u is not rooms[%d]", i, idx[i]);
	if (n)
		assert_ptr_equal(session_current_room(s), &rooms[idx[n - 1]]);
	else
		assert_null(session_current_room(s));
}

static void
enter(struct session *s, int i)
{
	assert_int_equal(session_enter_room(s, &rooms[i]), 0);
}

static void
test_session_new_has_no_current_room(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	assert_null(session_current_room(s));
	assert_false(session_in_room(s, &rooms[0]));
}

static void
test_session_enter_room_makes_it_current(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	enter(s, 0);
	assert_rooms(s, (const int[]){ 0 }, 1);
	enter(s, 1);
	enter(s, 2);
	assert_rooms(s, (const int[]){ 0, 1, 2 }, 3);
	assert_true(session_in_room(s, &rooms[0]));
	assert_true(session_in_room(s, &rooms[2]));
	assert_false(session_in_room(s, &rooms[3]));
}

static void
test_session_enter_existing_room_moves_it_last(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	enter(s, 0);
	enter(s, 1);
	enter(s, 2);
	enter(s, 0); /* first becomes current, no duplicate */
	assert_rooms(s, (const int[]){ 1, 2, 0 }, 3);
	enter(s, 2); /* middle */
	assert_rooms(s, (const int[]){ 1, 0, 2 }, 3);
	enter(s, 2); /* already current: nothing moves */
	assert_rooms(s, (const int[]){ 1, 0, 2 }, 3);
}

static void
test_session_exit_room_keeps_order_and_current(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	for (int i = 0; i < 4; i++)
		enter(s, i);
	session_exit_room(s, &rooms[1]);
	assert_rooms(s, (const int[]){ 0, 2, 3 }, 3);
	assert_false(session_in_room(s, &rooms[1]));
	/* Leaving the current room makes the previous one current. */
	session_exit_room(s, &rooms[3]);
	assert_rooms(s, (const int[]){ 0, 2 }, 2);
	session_exit_room(s, &rooms[0]);
	session_exit_room(s, &rooms[2]);
	assert_rooms(s, NULL, 0);
}

static void
test_session_exit_room_not_joined_is_a_no_op(void **state)
{
	struct session *s = &((struct fx *)*state)->s;

	session_exit_room(s, &rooms[5]); /* no rooms at all */
	assert_rooms(s, NULL, 0);
	enter(s, 0);
	enter(s, 1);
	session_exit_room(s, &rooms[5]);
	session_exit_room(s, &rooms[1]);
	session_exit_room(s, &rooms[1]);
	assert_rooms(s, (const int[]){ 0 }, 1);
}

static void
test_session_many_rooms_keep_order(void **state)
{
	struct session *s = &((struct fx *)*state)->s;
	int want[SESSION_MAX_ROOMS];

	for (int i = 0; i < SESSION_MAX_ROOMS; i++) {
		enter(s, i);
		want[i] = i;
	}
	assert_rooms(s, want, SESSION_MAX_ROOMS);
	enter(s, 10);
	for (int i = 10; i < SESSION_MAX_ROOMS - 1; i++)
		want[i] = i + 1;
	want[SESSION_MAX_ROOMS - 1] = 10;
	assert_rooms(s, want, SESSION_MAX_ROOMS);
}

/* ---- send and close ------------------------------------------------- */

static void
test_session_send_queues_a_ref_and_wakes(void **state)
{
	struct fx *fx = *state;
	struct msg *m = msg_new("frame", 5);

	assert_non_null(m);
	session_send(&fx->s, m);
	assert_int_equal(fx->wakes, 1);
	assert_ptr_equal(fx->last_woken, &fx->s);
	assert_int_equal(fx->closes, 0);
	/* The queue took its own ref; the caller keeps theirs. */
	assert_int_equal(m->refs, 2);
	assert_ptr_equal(msgq_peek(&fx->s.q), m);
	msg_unref(m);
}

static void
test_session_send_over_queue_bound_closes_with_1008(void **state)
{
	struct fx *fx = *state;
	struct msg *a = msg_new("0123456789", 10);
	char big[QUEUE_BYTES];
	struct msg *b;

	memset(big, 'b', sizeof(big));
	b = msg_new(big, sizeof(big));
	assert_non_null(a);
	assert_non_null(b);
	session_send(&fx->s, a);
	session_send(&fx->s, b);
	assert_int_equal(fx->wakes, 1);
	assert_int_equal(fx->closes, 1);
	assert_ptr_equal(fx->last_closed, &fx->s);
	assert_true(fx->s.closing);
	assert_int_equal(fx->s.close_code, CHAT_CLOSE_POLICY);
	assert_int_equal(fx->s.close_code, 1008);
	assert_string_equal(fx->s.close_reason, "slow consumer");
	assert_int_equal(fx->chat.stats.slow_consumers, 1);
	/* b was never queued, and the close dropped what was. */
	assert_int_equal(b->refs, 1);
	assert_int_equal(a->refs, 1);
	assert_true(msgq_is_empty(&fx->s.q));
	msg_unref(a);
	msg_unref(b);
}

static void
test_session_send_lone_big_msg_is_queued(void **state)
{
	struct fx *fx = *state;
	char big[QUEUE_BYTES * 3];
	struct msg *m;

	memset(big, 'h', sizeof(big));
	m = msg_new(big, sizeof(big));
	assert_non_null(m);
	session_send(&fx->s, m);
	assert_int_equal(fx->wakes, 1);
	assert_int_equal(fx->closes, 0);
	assert_false(fx->s.closing);
	assert_int_equal(m->refs, 2);
	msg_unref(m);
}

static void
test_session_send_after_close_is_dropped(void **state)
{
	struct fx *fx = *state;
	struct msg *m = msg_new("late", 4);

	assert_non_null(m);
	session_close(&fx->s, CHAT_CLOSE_GOING_AWAY, "server shutdown");
	session_send(&fx->s, m);
	assert_int_equal(fx->wakes, 0);
	assert_int_equal(m->refs, 1);
	assert_true(msgq_is_empty(&fx->s.q));
	assert_int_equal(fx->chat.stats.slow_consumers, 0);
	msg_unref(m);
}

static void
test_session_close_drains_queue_once(void **state)
{
	struct fx *fx = *state;
	struct msg *m = msg_new("queued", 6);

	assert_non_null(m);
	session_send(&fx->s, m);
	session_send(&fx->s, m);
	assert_int_equal(m->refs, 3);
	session_close(&fx->s, CHAT_CLOSE_GOING_AWAY, "server shutdown");
	assert_int_equal(m->refs, 1);
	assert_int_equal(fx->closes, 1);
	assert_int_equal(fx->s.close_code, 1001);
	assert_string_equal(fx->s.close_reason, "server shutdown");
	/* A second close keeps the first code and does not call out again. */
	session_close(&fx->s, CHAT_CLOSE_TOO_BIG, "message too big");
	assert_int_equal(fx->closes, 1);
	assert_int_equal(fx->s.close_code, 1001);
	assert_string_equal(fx->s.close_reason, "server shutdown");
	msg_unref(m);
}

/* v1 frames go to v1 sessions only; session_queue takes any. */
static void
test_session_send_skips_other_dialects(void **state)
{
	struct fx *fx = *state;
	struct msg *m = msg_new("{\"type\":\"typing\"}", 17);

	assert_non_null(m);
	fx->s.dialect = SESSION_SOCKETIO;
	session_send(&fx->s, m);
	assert_int_equal(fx->wakes, 0);
	assert_int_equal(m->refs, 1);
	assert_true(msgq_is_empty(&fx->s.q));
	session_queue(&fx->s, m);
	assert_int_equal(fx->wakes, 1);
	assert_int_equal(m->refs, 2);
	assert_ptr_equal(msgq_peek(&fx->s.q), m);
	msg_unref(m);
}

/* The last frame replaces what was queued, even over the queue bound,
 * and nothing may follow it. */
static void
test_session_close_after_keeps_only_the_last_frame(void **state)
{
	struct fx *fx = *state;
	struct msg *m = msg_new("queued", 6);
	char big[QUEUE_BYTES * 2];
	struct msg *last, *late = msg_new("late", 4);

	memset(big, 'l', sizeof(big));
	last = msg_new(big, sizeof(big));
	assert_non_null(m);
	assert_non_null(last);
	assert_non_null(late);
	session_send(&fx->s, m);
	session_close_after(&fx->s, last, CHAT_CLOSE_UNSUPPORTED, "bye");
	assert_int_equal(fx->closes, 1);
	assert_int_equal(fx->s.close_code, 1003);
	assert_string_equal(fx->s.close_reason, "bye");
	assert_int_equal(m->refs, 1);
	assert_int_equal(last->refs, 2);
	assert_ptr_equal(msgq_peek(&fx->s.q), last);
	assert_null(msgq_peek_at(&fx->s.q, 1));
	session_queue(&fx->s, late);
	session_close_after(&fx->s, late, CHAT_CLOSE_GOING_AWAY, "again");
	assert_int_equal(late->refs, 1);
	assert_int_equal(fx->closes, 1);
	assert_null(msgq_peek_at(&fx->s.q, 1));
	msg_unref(m);
	msg_unref(last);
	msg_unref(late);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_session_rx_append_concatenates_fragments),
		T(test_session_rx_append_grows_past_initial_capacity),
		T(test_session_rx_append_up_to_exactly_max),
		T(test_session_rx_append_past_max_fails_and_keeps_content),
		T(test_session_rx_append_single_fragment_over_max_fails),
		T(test_session_rx_reset_frees_and_allows_reuse),
		T(test_session_new_has_no_current_room),
		T(test_session_enter_room_makes_it_current),
		T(test_session_enter_existing_room_moves_it_last),
		T(test_session_exit_room_keeps_order_and_current),
		T(test_session_exit_room_not_joined_is_a_no_op),
		T(test_session_many_rooms_keep_order),
		T(test_session_send_queues_a_ref_and_wakes),
		T(test_session_send_over_queue_bound_closes_with_1008),
		T(test_session_send_lone_big_msg_is_queued),
		T(test_session_send_after_close_is_dropped),
		T(test_session_close_drains_queue_once),
		T(test_session_send_skips_other_dialects),
		T(test_session_close_after_keeps_only_the_last_frame),
		/* Last: under UBSan its failure ends the program. */
		T(test_session_rx_append_empty_fragment_to_fresh_session),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
