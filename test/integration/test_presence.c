/*
 * Presence: join on connect and on join, leave on leave and on disconnect
 * (abrupt or clean, one per room), nick changes (to the session itself too),
 * typing to the other members only. Fresh chatd per test.
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
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/*
 * Reads presence frames from c until `n` with event `event` and nick
 * `nick` arrived, for the rooms listed (each exactly once, any order);
 * anything else fails.
 */
static void
expect_presence_set(struct ws_client *c, const char *event, const char *nick,
		    const char *old, const char *const *rooms, size_t n)
{
	bool got[8] = {false};

	assert_true(n <= 8);
	for (size_t k = 0; k < n; k++) {
		json_t *p = ws_expect_type(c, "presence", CHAT_TIMEOUT_MS,
					   WS_STRICT);
		const char *room = jstr(p, "room");
		size_t i;

		assert_string_equal(jstr(p, "event"), event);
		assert_string_equal(jstr(p, "nick"), nick);
		if (old)
			assert_string_equal(jstr(p, "old"), old);
		for (i = 0; i < n; i++)
			if (!strcmp(rooms[i], room))
				break;
		if (i == n || got[i])
			fail_msg("unexpected or repeated presence %s",
				 json_brief(p));
		got[i] = true;
		json_decref(p);
	}
}

CHAT_TEST(test_presence_connect_announces_join_in_lobby)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];
	json_t *joined;

	/* chat_connect_many checks each earlier session sees each later
	 * one's presence join in lobby, in order. */
	chat_connect_many(port, 3, cs, nicks);
	for (int i = 0; i < 3; i++)
		chat_expect_quiet(cs[i], i ? 50 : CHAT_QUIET_MS);

	/* A lobby re-join lists all three members. */
	json_decref(chat_join_ex(cs[2], "lobby", NULL, -1, &joined));
	assert_int_equal(json_array_size(jarr(joined, "members")), 3);
	for (int i = 0; i < 3; i++)
		assert_true(json_array_has_string(jarr(joined, "members"),
						  nicks[i]));
	json_decref(joined);
	chat_close_all(cs, 3);
}

CHAT_TEST(test_presence_join_and_leave_of_a_room)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 3, cs, nicks);
	json_decref(chat_join(cs[0], "pr"));
	json_decref(chat_join(cs[1], "pr"));
	chat_expect_presence(cs[0], "pr", "join", nicks[1], NULL);
	chat_leave(cs[1], "pr");
	chat_expect_presence(cs[0], "pr", "leave", nicks[1], NULL);
	/* Not a member of pr: hears nothing of it. */
	chat_expect_quiet(cs[2], CHAT_QUIET_MS);
	chat_expect_quiet(cs[1], 50);
	chat_close_all(cs, 3);
}

CHAT_TEST(test_presence_abrupt_disconnect_leaves_every_room)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	static const char *const rooms[] = {"lobby", "dc"};

	chat_connect_many(port, 2, cs, nicks);
	json_decref(chat_join(cs[0], "dc"));
	json_decref(chat_join(cs[1], "dc"));
	chat_expect_presence(cs[0], "dc", "join", nicks[1], NULL);

	ws_free(cs[1]); /* TCP close, no close frame */
	cs[1] = NULL;
	expect_presence_set(cs[0], "leave", nicks[1], NULL, rooms, 2);
	chat_expect_quiet(cs[0], CHAT_QUIET_MS);
	/* The session is gone from the member lists too. */
	{
		json_t *joined;

		json_decref(chat_join_ex(cs[0], "dc", NULL, -1, &joined));
		assert_int_equal(json_array_size(jarr(joined, "members")), 1);
		json_decref(joined);
	}
	ws_close(cs[0]);
}

CHAT_TEST(test_presence_clean_close_leaves_every_room)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	static const char *const rooms[] = {"lobby", "cc1", "cc2"};

	chat_connect_many(port, 2, cs, nicks);
	for (int r = 1; r < 3; r++) {
		json_decref(chat_join(cs[0], rooms[r]));
		json_decref(chat_join(cs[1], rooms[r]));
		chat_expect_presence(cs[0], rooms[r], "join", nicks[1], NULL);
	}
	ws_close(cs[1]); /* close 1000 */
	cs[1] = NULL;
	expect_presence_set(cs[0], "leave", nicks[1], NULL, rooms, 3);
	chat_expect_quiet(cs[0], CHAT_QUIET_MS);
	ws_close(cs[0]);
}

CHAT_TEST(test_presence_nick_change_reaches_every_room_and_self)
{
	/* c0: lobby only; c1 (renames): lobby + pn; c2: pn only. */
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];
	int self_events = 0;

	chat_connect_many(port, 3, cs, nicks);
	json_decref(chat_join(cs[1], "pn"));
	json_decref(chat_join(cs[2], "pn"));
	chat_expect_presence(cs[1], "pn", "join", nicks[2], NULL);
	chat_leave(cs[2], "lobby");
	chat_expect_presence(cs[0], "lobby", "leave", nicks[2], NULL);
	chat_expect_presence(cs[1], "lobby", "leave", nicks[2], NULL);

	assert_int_equal(ws_send_pack(cs[1], "{s:s, s:s}", "type", "nick",
				      "nick", "Renamed_1"),
			 0);
	chat_expect_presence(cs[0], "lobby", "nick", "Renamed_1", nicks[1]);
	chat_expect_presence(cs[2], "pn", "nick", "Renamed_1", nicks[1]);
	/* The session itself hears of it: one event per room it is in, or
	 * at least one. */
	for (int k = 0; k < 2; k++) {
		json_t *p = ws_recv_json(cs[1], k ? CHAT_QUIET_MS
						  : CHAT_TIMEOUT_MS);

		if (!p)
			break;
		assert_string_equal(jstr(p, "type"), "presence");
		assert_string_equal(jstr(p, "event"), "nick");
		assert_string_equal(jstr(p, "nick"), "Renamed_1");
		assert_string_equal(jstr(p, "old"), nicks[1]);
		assert_true(!strcmp(jstr(p, "room"), "lobby") ||
			    !strcmp(jstr(p, "room"), "pn"));
		self_events++;
		json_decref(p);
	}
	assert_true(self_events >= 1);
	for (int i = 0; i < 3; i++)
		chat_expect_quiet(cs[i], i == 1 ? CHAT_QUIET_MS : 50);

	/* Later events use the new nick. */
	chat_say(cs[1], "pn", "from the new me", NULL);
	json_decref(chat_expect_msg(cs[1], "pn", "Renamed_1", "from the new me",
				    NULL));
	json_decref(chat_expect_msg(cs[2], "pn", "Renamed_1", "from the new me",
				    NULL));
	chat_leave(cs[1], "pn");
	chat_expect_presence(cs[2], "pn", "leave", "Renamed_1", NULL);
	chat_close_all(cs, 3);
}

CHAT_TEST(test_presence_typing_goes_to_the_other_members_only)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];
	json_t *t;

	chat_connect_many(port, 3, cs, nicks);
	json_decref(chat_join(cs[0], "ty"));
	json_decref(chat_join(cs[1], "ty"));
	chat_expect_presence(cs[0], "ty", "join", nicks[1], NULL);

	/* Explicit room. */
	assert_int_equal(ws_send_pack(cs[0], "{s:s, s:s}", "type", "typing",
				      "room", "ty"),
			 0);
	t = ws_expect_type(cs[1], "typing", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(t, "room"), "ty");
	assert_string_equal(jstr(t, "nick"), nicks[0]);
	json_decref(t);
	/* The typist gets nothing back: its next frame is its own message. */
	chat_roundtrip(cs[0], "ty");
	json_decref(chat_expect_msg(cs[1], "ty", nicks[0], NULL, NULL));

	/* Default room: the current one (ty, the last joined). Another
	 * typist: cs[0] just typed in ty, and typing is relayed at most
	 * every 2 s per member and room (test_ratelimit). */
	assert_int_equal(ws_send_pack(cs[1], "{s:s}", "type", "typing"), 0);
	t = ws_expect_type(cs[0], "typing", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(t, "room"), "ty");
	assert_string_equal(jstr(t, "nick"), nicks[1]);
	json_decref(t);
	chat_roundtrip(cs[1], NULL);
	json_decref(chat_expect_msg(cs[0], "ty", nicks[1], NULL, NULL));

	/* In lobby, cs[2] does get it. */
	assert_int_equal(ws_send_pack(cs[0], "{s:s, s:s}", "type", "typing",
				      "room", "lobby"),
			 0);
	for (int i = 1; i < 3; i++) {
		t = ws_expect_type(cs[i], "typing", CHAT_TIMEOUT_MS, WS_STRICT);
		assert_string_equal(jstr(t, "room"), "lobby");
		assert_string_equal(jstr(t, "nick"), nicks[0]);
		json_decref(t);
	}
	chat_roundtrip(cs[0], "lobby");
	for (int i = 1; i < 3; i++)
		json_decref(chat_expect_msg(cs[i], "lobby", nicks[0], NULL,
					    NULL));
	/* cs[2] never saw the ty typing events. */
	chat_expect_quiet(cs[2], CHAT_QUIET_MS);
	chat_close_all(cs, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_presence_connect_announces_join_in_lobby, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_presence_join_and_leave_of_a_room, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_presence_abrupt_disconnect_leaves_every_room, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_presence_clean_close_leaves_every_room, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_presence_nick_change_reaches_every_room_and_self,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_presence_typing_goes_to_the_other_members_only,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("presence", tests, NULL, NULL);
}
