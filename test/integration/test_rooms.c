/*
 * Rooms: isolation, per-room ids, join/leave/left, the current room, the
 * member list, history on join (--history, since) and the history request
 * (before/limit paging). Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdlib.h>
#include <string.h>

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
setup_history5(void **state)
{
	static const char *const args[] = {"--history", "5", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/*
 * c sends n messages "<prefix>-<i>" to room (pipelined in batches, each
 * echo checked in order); their ids go to ids[] when given.
 */
static void
send_n(struct ws_client *c, const char *room, int n, const char *prefix,
       json_int_t *ids)
{
	const int batch = 50;

	for (int start = 0; start < n; start += batch) {
		int end = start + batch < n ? start + batch : n;
		char text[64];

		for (int i = start; i < end; i++) {
			snprintf(text, sizeof(text), "%s-%d", prefix, i);
			chat_say(c, room, text, NULL);
		}
		for (int i = start; i < end; i++) {
			json_t *m;

			snprintf(text, sizeof(text), "%s-%d", prefix, i);
			m = chat_expect_msg(c, room, NULL, text, NULL);
			if (ids) {
				ids[i] = jint(m, "id");
				if (i > 0)
					assert_true(ids[i] > ids[i - 1]);
			}
			json_decref(m);
		}
	}
}

/* Sends a history request; returns the history frame (checked for room). */
static json_t *
history_req(struct ws_client *c, const char *room, json_int_t before,
	    json_int_t limit)
{
	json_t *req = json_pack("{s:s, s:s}", "type", "history", "room", room);
	json_t *h;

	if (before > 0)
		json_object_set_new(req, "before", json_integer(before));
	if (limit > 0)
		json_object_set_new(req, "limit", json_integer(limit));
	assert_int_equal(ws_send_json(c, req), 0);
	json_decref(req);
	h = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(h, "room"), room);
	return h;
}

/* The history frame h holds exactly ids[from..to) (texts prefix-i), with
 * "more" as given. */
static void
expect_history(const json_t *h, const json_int_t *ids, const char *prefix,
	       int from, int to, bool more)
{
	json_t *msgs = jarr(h, "messages");
	json_t *jmore = json_object_get(h, "more");

	if (json_array_size(msgs) != (size_t)(to - from))
		fail_msg("history holds %zu messages, expected %d (ids "
			 "%lld..%lld): %s",
			 json_array_size(msgs), to - from,
			 to > from ? (long long)ids[from] : 0LL,
			 to > from ? (long long)ids[to - 1] : 0LL,
			 json_brief(h));
	for (int i = from; i < to; i++) {
		json_t *m = json_array_get(msgs, (size_t)(i - from));
		char text[64];

		chat_check_msg(m);
		snprintf(text, sizeof(text), "%s-%d", prefix, i);
		assert_int_equal(jint(m, "id"), ids[i]);
		assert_string_equal(jstr(m, "text"), text);
	}
	assert_true(json_is_boolean(jmore));
	if (json_is_true(jmore) != more)
		fail_msg("history \"more\" is %s, expected %s (%d..%d)",
			 json_is_true(jmore) ? "true" : "false",
			 more ? "true" : "false", from, to);
}

CHAT_TEST(test_rooms_messages_stay_in_their_room)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];
	json_t *m;

	chat_connect_many(port, 3, cs, nicks);
	json_decref(chat_join(cs[0], "red"));
	json_decref(chat_join(cs[1], "blue"));

	chat_say(cs[0], "red", "only red", NULL);
	m = chat_expect_msg(cs[0], "red", nicks[0], "only red", NULL);
	json_decref(m);
	chat_say(cs[1], "blue", "only blue", NULL);
	m = chat_expect_msg(cs[1], "blue", nicks[1], "only blue", NULL);
	json_decref(m);
	/* Both echoes came back, so both fan-outs are done: nothing of
	 * red/blue may be queued ahead of these barriers. */
	chat_roundtrip(cs[0], "red");
	chat_roundtrip(cs[1], "blue");
	chat_expect_quiet(cs[2], CHAT_QUIET_MS);

	/* lobby still reaches all three. */
	chat_say(cs[2], "lobby", "to everyone", NULL);
	for (int i = 0; i < 3; i++) {
		m = chat_expect_msg(cs[i], "lobby", nicks[2], "to everyone",
				    NULL);
		json_decref(m);
	}
	chat_close_all(cs, 3);
}

CHAT_TEST(test_rooms_ids_are_per_room_and_start_at_1)
{
	struct ws_client *c = chat_connect(port, NULL);
	json_t *m;

	json_decref(chat_join(c, "r1"));
	json_decref(chat_join(c, "r2"));
	chat_say(c, "r1", "a", NULL);
	m = chat_expect_msg(c, "r1", NULL, "a", NULL);
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	chat_say(c, "r1", "b", NULL);
	m = chat_expect_msg(c, "r1", NULL, "b", NULL);
	assert_true(jint(m, "id") > 1);
	json_decref(m);
	chat_say(c, "r2", "c", NULL);
	m = chat_expect_msg(c, "r2", NULL, "c", NULL);
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	chat_say(c, "lobby", "d", NULL);
	m = chat_expect_msg(c, "lobby", NULL, "d", NULL);
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	ws_close(c);
}

CHAT_TEST(test_rooms_joined_lists_members_and_others_see_presence)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];
	json_t *joined, *members;

	chat_connect_many(port, 3, cs, nicks);
	json_decref(chat_join_ex(cs[0], "team", NULL, -1, &joined));
	members = jarr(joined, "members");
	assert_int_equal(json_array_size(members), 1);
	assert_true(json_array_has_string(members, nicks[0]));
	json_decref(joined);

	json_decref(chat_join_ex(cs[1], "team", NULL, -1, &joined));
	members = jarr(joined, "members");
	assert_int_equal(json_array_size(members), 2);
	assert_true(json_array_has_string(members, nicks[0]));
	assert_true(json_array_has_string(members, nicks[1]));
	json_decref(joined);

	chat_expect_presence(cs[0], "team", "join", nicks[1], NULL);
	/* The joiner gets no presence about itself; outsiders get none. */
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_expect_quiet(cs[2], 50);
	chat_close_all(cs, 3);
}

CHAT_TEST(test_rooms_current_room_is_the_most_recent_still_joined)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	json_t *m;

	json_decref(chat_join(c, "aaa"));
	json_decref(chat_join(c, "bbb"));
	chat_say(c, NULL, "to current", NULL);
	json_decref(chat_expect_msg(c, "bbb", nick, "to current", NULL));
	assert_int_equal(ws_send_text(c, "plain to current"), 0);
	json_decref(chat_expect_msg(c, "bbb", nick, "plain to current", NULL));

	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "leave", "room",
				      "bbb"),
			 0);
	m = ws_expect_type(c, "left", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(m, "room"), "bbb");
	json_decref(m);
	chat_say(c, NULL, "after leaving bbb", NULL);
	json_decref(chat_expect_msg(c, "aaa", nick, "after leaving bbb", NULL));

	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "leave", "room",
				      "aaa"),
			 0);
	m = ws_expect_type(c, "left", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(m, "room"), "aaa");
	json_decref(m);
	assert_int_equal(ws_send_text(c, "back in lobby"), 0);
	json_decref(chat_expect_msg(c, "lobby", nick, "back in lobby", NULL));

	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "leave", "room",
				      "lobby"),
			 0);
	m = ws_expect_type(c, "left", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(m, "room"), "lobby");
	json_decref(m);
	/* No room left: no current room. */
	chat_say(c, NULL, "nowhere", "c-nowhere");
	chat_expect_error(c, "not_in_room", "c-nowhere");
	assert_int_equal(ws_send_text(c, "plain nowhere"), 0);
	chat_expect_error(c, "not_in_room", NULL);

	json_decref(chat_join(c, "ccc"));
	chat_say(c, NULL, "in ccc", NULL);
	json_decref(chat_expect_msg(c, "ccc", nick, "in ccc", NULL));
	ws_close(c);
}

CHAT_TEST(test_rooms_rejoin_resends_joined_and_history_without_presence)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_t *h, *joined;

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "rj"));
	json_decref(chat_join(cs[1], "rj"));
	chat_expect_presence(cs[0], "rj", "join", nicks[1], NULL);
	chat_say(cs[0], "rj", "kept", NULL);
	json_decref(chat_expect_msg(cs[0], "rj", nicks[0], "kept", NULL));
	json_decref(chat_expect_msg(cs[1], "rj", nicks[0], "kept", NULL));

	json_decref(chat_join(cs[0], "other"));
	/* Join rj again: joined + history again, rj current again. */
	h = chat_join_ex(cs[0], "rj", NULL, -1, &joined);
	assert_int_equal(json_array_size(jarr(joined, "members")), 2);
	assert_true(json_array_has_string(jarr(joined, "members"), nicks[0]));
	assert_true(json_array_has_string(jarr(joined, "members"), nicks[1]));
	assert_int_equal(json_array_size(jarr(h, "messages")), 1);
	assert_string_equal(jstr(json_array_get(jarr(h, "messages"), 0), "text"),
			    "kept");
	json_decref(joined);
	json_decref(h);

	chat_say(cs[0], NULL, "current is rj", NULL);
	json_decref(chat_expect_msg(cs[0], "rj", nicks[0], "current is rj", NULL));
	/* cs[1] sees the message but no presence join for the re-join. */
	json_decref(chat_expect_msg(cs[1], "rj", nicks[0], "current is rj", NULL));
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_leave_sends_left_and_stops_delivery)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_t *m;

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "lv"));
	json_decref(chat_join(cs[1], "lv"));
	chat_expect_presence(cs[0], "lv", "join", nicks[1], NULL);

	assert_int_equal(ws_send_pack(cs[1], "{s:s, s:s}", "type", "leave",
				      "room", "lv"),
			 0);
	m = ws_expect_type(cs[1], "left", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(m, "room"), "lv");
	json_decref(m);
	chat_expect_presence(cs[0], "lv", "leave", nicks[1], NULL);

	chat_say(cs[0], "lv", "you left", NULL);
	json_decref(chat_expect_msg(cs[0], "lv", nicks[0], "you left", NULL));
	/* cs[1] no longer gets lv, and may not send there. */
	chat_say(cs[1], "lv", "let me in", "c-lv");
	chat_expect_error(cs[1], "not_in_room", "c-lv");
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_expect_quiet(cs[0], 50);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_history_on_join_is_the_last_50_by_default)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_int_t ids[60];
	json_t *h;

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "h50"));
	send_n(cs[0], "h50", 60, "h", ids);
	h = chat_join(cs[1], "h50");
	expect_history(h, ids, "h", 10, 60, true);
	for (size_t i = 0; i < json_array_size(jarr(h, "messages")); i++)
		assert_string_equal(
			jstr(json_array_get(jarr(h, "messages"), i), "nick"),
			nicks[0]);
	json_decref(h);
	chat_expect_presence(cs[0], "h50", "join", nicks[1], NULL);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_history_flag_bounds_the_join_replay)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_int_t ids[8];
	json_t *h;

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "few"));
	send_n(cs[0], "few", 3, "f", ids);
	h = chat_join(cs[1], "few");
	expect_history(h, ids, "f", 0, 3, false);
	json_decref(h);
	chat_expect_presence(cs[0], "few", "join", nicks[1], NULL);

	json_decref(chat_join(cs[0], "many"));
	send_n(cs[0], "many", 8, "m", ids);
	h = chat_join(cs[1], "many");
	expect_history(h, ids, "m", 3, 8, true);
	json_decref(h);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_join_since_replays_exactly_the_newer_messages)
{
	/* Runs with --history 5: since is not bounded by it. */
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_int_t ids[20];
	json_t *h;

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "sn"));
	send_n(cs[0], "sn", 20, "s", ids);

	h = chat_join_ex(cs[1], "sn", NULL, ids[1], NULL);
	expect_history(h, ids, "s", 2, 20, false);
	json_decref(h);
	chat_expect_presence(cs[0], "sn", "join", nicks[1], NULL);

	/* Re-join with the newest id: nothing is missing. */
	h = chat_join_ex(cs[1], "sn", NULL, ids[19], NULL);
	expect_history(h, ids, "s", 20, 20, false);
	json_decref(h);

	/* since 0: everything. */
	h = chat_join_ex(cs[1], "sn", NULL, 0, NULL);
	expect_history(h, ids, "s", 0, 20, false);
	json_decref(h);
	chat_expect_quiet(cs[0], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_join_since_is_capped_at_1000_with_more)
{
	enum { N = 1005 };
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_int_t *ids = calloc(N, sizeof(*ids));
	json_t *h, *msgs;
	size_t start;

	assert_non_null(ids);
	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "big"));
	send_n(cs[0], "big", N, "b", ids);

	h = chat_join_ex(cs[1], "big", NULL, 0, NULL);
	msgs = jarr(h, "messages");
	assert_int_equal(json_array_size(msgs), 1000);
	assert_true(json_is_true(json_object_get(h, "more")));
	/* The oldest 1000 after since, so that the client can ask again
	 * with the last id it got (docs/protocol.md). */
	for (start = 0; start < N; start++)
		if (ids[start] == jint(json_array_get(msgs, 0), "id"))
			break;
	if (start != 0)
		fail_msg("history after since=0 starts at message #%zu, not "
			 "the oldest",
			 start);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(jint(json_array_get(msgs, i), "id"), ids[i]);
	json_decref(h);
	/* Catch up the rest with since = the last id received. */
	h = chat_join_ex(cs[1], "big", NULL, ids[999], NULL);
	expect_history(h, ids, "b", 1000, N, false);
	json_decref(h);
	free(ids);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_rooms_history_request_pages_backwards)
{
	enum { N = 120 };
	json_int_t ids[N];
	struct ws_client *c = chat_connect(port, NULL);
	json_t *h;

	json_decref(chat_join(c, "pg"));
	send_n(c, "pg", N, "p", ids);

	h = history_req(c, "pg", 0, 10); /* the 10 newest */
	expect_history(h, ids, "p", 110, 120, true);
	json_decref(h);
	h = history_req(c, "pg", ids[110], 10); /* the page before */
	expect_history(h, ids, "p", 100, 110, true);
	json_decref(h);
	h = history_req(c, "pg", 0, 0); /* default limit 50 */
	expect_history(h, ids, "p", 70, 120, true);
	json_decref(h);
	h = history_req(c, "pg", 0, 500); /* clamped to 100 */
	expect_history(h, ids, "p", 20, 120, true);
	json_decref(h);
	h = history_req(c, "pg", ids[4], 10); /* fewer than asked: the start */
	expect_history(h, ids, "p", 0, 4, false);
	json_decref(h);
	h = history_req(c, "pg", ids[0], 10); /* nothing before the first */
	expect_history(h, ids, "p", 0, 0, false);
	json_decref(h);
	/* Only the requester gets it, and nothing else came along. */
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rooms_messages_stay_in_their_room, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_ids_are_per_room_and_start_at_1, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_joined_lists_members_and_others_see_presence,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_current_room_is_the_most_recent_still_joined,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_rejoin_resends_joined_and_history_without_presence,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_leave_sends_left_and_stops_delivery, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_history_on_join_is_the_last_50_by_default,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_history_flag_bounds_the_join_replay,
			setup_history5, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_join_since_replays_exactly_the_newer_messages,
			setup_history5, teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_join_since_is_capped_at_1000_with_more, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rooms_history_request_pages_backwards, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("rooms", tests, NULL, NULL);
}
