/*
 * Replays never cull the client that asked: several joins with `since` in
 * one burst, together far larger than the send queue, each get their whole
 * history in frames of at most half the queue, waiting for queue space
 * instead of failing, and requests behind them keep their order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOMS 16
#define PER_ROOM 1000
#define QUEUE_BYTES (256 * 1024)

static int
setup(void **state)
{
	static const char *const args[] = {"--send-queue-bytes", "262144",
					   "--db", ":memory:", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* PER_ROOM messages of 100 bytes in each of ROOMS rooms, from one writer
 * that reads as it goes (so it is never culled itself). */
/* Whether m is the echo of the last seeded message of its room. */
static bool
is_last_echo(json_t *m)
{
	bool last = !strcmp(jstr(m, "type"), "message") &&
		    jint(m, "id") == PER_ROOM;

	json_decref(m);
	return last;
}

static void
seed(int port)
{
	struct ws_client *w = chat_connect(port, NULL);
	char text[101], room[16];

	memset(text, 'x', 100);
	text[100] = '\0';
	for (int r = 0; r < ROOMS; r++) {
		bool done = false;
		json_t *m;

		snprintf(room, sizeof(room), "r%d", r);
		json_decref(chat_join(w, room));
		for (int i = 0; i < PER_ROOM; i++) {
			assert_int_equal(ws_send_pack(w, "{s:s, s:s, s:s}",
						      "type", "message", "room",
						      room, "text", text),
					 0);
			/* Read as it goes, so it is never culled itself. */
			while ((m = ws_try_json(w)))
				done |= is_last_echo(m);
		}
		/* Read up to its own last message: all of them stored. */
		while (!done) {
			m = ws_recv_json(w, CHAT_TIMEOUT_MS);
			if (!m)
				fail_msg("seeding r%d: no echo (close %d)", r,
					 ws_close_code(w));
			done = is_last_echo(m);
		}
	}
	ws_close(w);
}

struct room_state {
	long long last; /* highest id received */
	bool done;
};

CHAT_TEST(test_replay_burst_of_joins_never_culls_the_asker)
{
	struct room_state rs[ROOMS] = { 0 };
	struct ws_client *c;
	char room[16];
	size_t frames = 0, largest = 0;
	int done = 0;

	seed(port);
	c = chat_connect(port, NULL);
	/* All the joins in one burst: 16 x ~190 KB against a 256 KB queue. */
	for (int r = 0; r < ROOMS; r++) {
		snprintf(room, sizeof(room), "r%d", r);
		assert_int_equal(ws_send_pack(c, "{s:s, s:s, s:i}", "type",
					      "join", "room", room, "since", 0),
				 0);
	}
	while (done < ROOMS) {
		char *raw = NULL;
		size_t raw_len = 0;
		json_t *m = ws_recv_json_raw(c, CHAT_TIMEOUT_MS, &raw,
					     &raw_len);
		const char *type;
		json_t *msgs;
		int r;

		if (!m)
			fail_msg("no frame after %d of %d replays (close %d)",
				 done, ROOMS, ws_close_code(c));
		type = jstr(m, "type");
		if (strcmp(type, "history")) {
			free(raw);
			json_decref(m);
			continue; /* joined, presence */
		}
		frames++;
		if (raw_len > largest)
			largest = raw_len;
		if (raw_len > QUEUE_BYTES / 2)
			fail_msg("a history frame of %zu bytes, over half the "
				 "queue", raw_len);
		free(raw);
		if (sscanf(jstr(m, "room"), "r%d", &r) != 1 || r < 0 ||
		    r >= ROOMS)
			fail_msg("history of an unexpected room");
		msgs = jarr(m, "messages");
		for (size_t i = 0; i < json_array_size(msgs); i++) {
			long long id = (long long)jint(
				json_array_get(msgs, i), "id");

			if (id != rs[r].last + 1)
				fail_msg("room r%d: id %lld after %lld", r, id,
					 rs[r].last);
			rs[r].last = id;
		}
		if (json_is_true(json_object_get(m, "more"))) {
			/* The client asks for the rest, as the protocol says. */
			snprintf(room, sizeof(room), "r%d", r);
			assert_int_equal(
				ws_send_pack(c, "{s:s, s:s, s:I}", "type",
					     "join", "room", room, "since",
					     (json_int_t)rs[r].last),
				0);
		} else if (!rs[r].done) {
			if (rs[r].last != PER_ROOM)
				fail_msg("room r%d ended at %lld", r,
					 rs[r].last);
			rs[r].done = true;
			done++;
		}
		json_decref(m);
	}
	print_message("%d replays of %d messages in %zu frames, the largest "
		      "%zu bytes\n",
		      ROOMS, PER_ROOM, frames, largest);
	assert_false(ws_is_closed(c));
	chat_roundtrip(c, NULL);
	ws_close(c);
}

/* A message right behind a join that had to wait still comes after it. */
CHAT_TEST(test_replay_requests_behind_a_waiting_join_keep_their_order)
{
	struct ws_client *c;
	char room[16];
	json_t *m;
	bool joined_last = false;

	seed(port);
	c = chat_connect(port, NULL);
	for (int r = 0; r < 4; r++) {
		snprintf(room, sizeof(room), "r%d", r);
		assert_int_equal(ws_send_pack(c, "{s:s, s:s, s:i}", "type",
					      "join", "room", room, "since", 0),
				 0);
	}
	/* r3's join waits for queue space; this message to r3 must not
	 * overtake it (it would get not_in_room). */
	assert_int_equal(ws_send_pack(c, "{s:s, s:s, s:s, s:s}", "type",
				      "message", "room", "r3", "text", "behind",
				      "cid", "b1"),
			 0);
	for (;;) {
		m = ws_recv_json(c, CHAT_TIMEOUT_MS);
		if (!m)
			fail_msg("no echo of the message behind the joins");
		if (!strcmp(jstr(m, "type"), "error"))
			fail_msg("error: %s", json_brief(m));
		if (!strcmp(jstr(m, "type"), "joined") &&
		    !strcmp(jstr(m, "room"), "r3"))
			joined_last = true;
		if (!strcmp(jstr(m, "type"), "message")) {
			assert_true(joined_last);
			assert_string_equal(jstr(m, "text"), "behind");
			json_decref(m);
			break;
		}
		json_decref(m);
	}
	ws_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_replay_burst_of_joins_never_culls_the_asker, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replay_requests_behind_a_waiting_join_keep_their_order,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
