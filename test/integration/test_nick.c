/*
 * Nicks: the welcome guest nick, the 1..32 [A-Za-z0-9_.-] rule, uniqueness
 * compared case-insensitively, release on disconnect, join with nick.
 * Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* c renames itself (c is in lobby only): its own presence event. */
static void
rename_ok(struct ws_client *c, const char *old, const char *nick)
{
	chat_send_nick(c, nick, NULL);
	chat_expect_presence(c, "lobby", "nick", nick, old);
}

CHAT_TEST(test_nick_welcome_gives_distinct_valid_guest_nicks)
{
	enum { N = 12 };
	struct ws_client *cs[N];
	char nicks[N][CHAT_NICK_MAX + 1];

	chat_connect_many(port, N, cs, nicks);
	for (int i = 0; i < N; i++) {
		/* "guest-XXXX" per the issue; the rule is checked on connect */
		if (strncmp(nicks[i], "guest-", 6) != 0 || !nicks[i][6])
			fail_msg("welcome nick '%s' is not guest-XXXX",
				 nicks[i]);
		for (int k = 0; k < i; k++)
			if (!strcasecmp(nicks[i], nicks[k]))
				fail_msg("two sessions got nick '%s'/'%s'",
					 nicks[k], nicks[i]);
	}
	chat_close_all(cs, N);
}

CHAT_TEST(test_nick_change_is_announced_and_used)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	rename_ok(c, nick, "Alice_1.x-Y");
	chat_say(c, NULL, "it is me", NULL);
	json_decref(chat_expect_msg(c, "lobby", "Alice_1.x-Y", "it is me", NULL));
	/* Boundaries: 1 and 32 characters. */
	rename_ok(c, "Alice_1.x-Y", "x");
	rename_ok(c, "x", "abcdefghijklmnopqrstuvwxyz012345");
	ws_close(c);
}

CHAT_TEST(test_nick_rule_violations_are_bad_nick)
{
	static const char *const bad[] = {
		"",
		"has space",
		"abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
		"\xc3\xbcml\xc3\xa4ut",              /* ümläut */
		"a/b",
		"tab\there",
		"semi;colon",
		"<script>",
		"emoji\xf0\x9f\x98\x80",
		"at@sign",
		" lead",
		"trail ",
	};
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char cid[16];

		snprintf(cid, sizeof(cid), "bn-%zu", i);
		chat_send_nick(c, bad[i], cid);
		chat_expect_error(c, "bad_nick", cid);
	}
	/* Nothing changed: still open, still the old nick. */
	chat_say(c, NULL, "unchanged", NULL);
	json_decref(chat_expect_msg(c, "lobby", nick, "unchanged", NULL));
	ws_close(c);
}

CHAT_TEST(test_nick_wrong_type_is_bad_request)
{
	struct ws_client *c = chat_connect(port, NULL);

	assert_int_equal(ws_send_text(c, "{\"type\":\"nick\",\"nick\":5,"
					 "\"cid\":\"n5\"}"),
			 0);
	chat_expect_error(c, "bad_request", "n5");
	assert_int_equal(ws_send_text(c, "{\"type\":\"nick\",\"nick\":null}"),
			 0);
	chat_expect_error(c, "bad_request", NULL);
	/* No nick at all: a request without its field. */
	assert_int_equal(ws_send_text(c, "{\"type\":\"nick\"}"), 0);
	chat_expect_error_any(c, "bad_request|bad_nick");
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_nick_uniqueness_ignores_case)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	chat_send_nick(cs[0], "Bob", NULL);
	chat_expect_presence(cs[0], "lobby", "nick", "Bob", nicks[0]);
	chat_expect_presence(cs[1], "lobby", "nick", "Bob", nicks[0]);

	chat_send_nick(cs[1], "bob", "t1");
	chat_expect_error(cs[1], "nick_taken", "t1");
	chat_send_nick(cs[1], "BOB", "t2");
	chat_expect_error(cs[1], "nick_taken", "t2");
	chat_send_nick(cs[1], "Bob", "t3");
	chat_expect_error(cs[1], "nick_taken", "t3");
	chat_send_nick(cs[0], "Bobby", NULL);
	chat_expect_presence(cs[0], "lobby", "nick", "Bobby", "Bob");
	chat_expect_presence(cs[1], "lobby", "nick", "Bobby", "Bob");
	/* Bob is free again once its owner moved on. */
	chat_send_nick(cs[1], "BOB", NULL);
	chat_expect_presence(cs[1], "lobby", "nick", "BOB", nicks[1]);
	chat_expect_presence(cs[0], "lobby", "nick", "BOB", nicks[1]);
	chat_send_nick(cs[0], "bOb", "t4");
	chat_expect_error(cs[0], "nick_taken", "t4");
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_nick_guest_nick_of_another_session_is_taken)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	char upper[CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	for (size_t i = 0; i <= strlen(nicks[0]); i++)
		upper[i] = (char)toupper((unsigned char)nicks[0][i]);
	chat_send_nick(cs[1], nicks[0], "g1");
	chat_expect_error(cs[1], "nick_taken", "g1");
	chat_send_nick(cs[1], upper, "g2");
	chat_expect_error(cs[1], "nick_taken", "g2");
	chat_expect_quiet(cs[0], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_nick_is_released_on_disconnect)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	chat_send_nick(cs[0], "Carol", NULL);
	chat_expect_presence(cs[0], "lobby", "nick", "Carol", nicks[0]);
	chat_expect_presence(cs[1], "lobby", "nick", "Carol", nicks[0]);
	ws_close(cs[0]);
	cs[0] = NULL;
	/* Once the server has said Carol left, the nick is free. */
	chat_expect_presence(cs[1], "lobby", "leave", "Carol", NULL);
	chat_send_nick(cs[1], "carol", NULL);
	chat_expect_presence(cs[1], "lobby", "nick", "carol", nicks[1]);
	ws_close(cs[1]);
}

CHAT_TEST(test_nick_join_with_nick_changes_it_first_or_fails_whole)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_t *req, *joined, *h;

	chat_connect_many(port, 2, cs, nicks);
	chat_send_nick(cs[0], "Dave", NULL);
	chat_expect_presence(cs[0], "lobby", "nick", "Dave", nicks[0]);
	chat_expect_presence(cs[1], "lobby", "nick", "Dave", nicks[0]);
	json_decref(chat_join(cs[0], "jn"));

	/* A taken nick fails the whole join: not in jn afterwards. */
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "join", "room", "jn",
			"nick", "DAVE", "cid", "j1");
	assert_int_equal(ws_send_json(cs[1], req), 0);
	json_decref(req);
	chat_expect_error(cs[1], "nick_taken", "j1");
	chat_say(cs[1], "jn", "am I in?", "j2");
	chat_expect_error(cs[1], "not_in_room", "j2");

	/* So does a bad one. */
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "join", "room", "jn",
			"nick", "bad nick", "cid", "j3");
	assert_int_equal(ws_send_json(cs[1], req), 0);
	json_decref(req);
	chat_expect_error(cs[1], "bad_nick", "j3");
	chat_say(cs[1], "jn", "am I in now?", "j4");
	chat_expect_error(cs[1], "not_in_room", "j4");
	/* cs[0] in jn saw nothing of it. */
	chat_expect_quiet(cs[0], CHAT_QUIET_MS);

	/* A good one: renamed first (presence nick in lobby, to both), then
	 * joined with the new nick among the members. */
	h = chat_join_ex(cs[1], "jn", "Erin", -1, &joined);
	assert_true(json_array_has_string(jarr(joined, "members"), "Erin"));
	assert_true(json_array_has_string(jarr(joined, "members"), "Dave"));
	assert_false(json_array_has_string(jarr(joined, "members"), nicks[1]));
	json_decref(joined);
	json_decref(h);
	chat_expect_presence(cs[0], "lobby", "nick", "Erin", nicks[1]);
	chat_expect_presence(cs[0], "jn", "join", "Erin", NULL);
	chat_say(cs[1], "jn", "hi from Erin", NULL);
	json_decref(chat_expect_msg(cs[1], "jn", "Erin", "hi from Erin", NULL));
	json_decref(chat_expect_msg(cs[0], "jn", "Erin", "hi from Erin", NULL));
	chat_close_all(cs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_nick_welcome_gives_distinct_valid_guest_nicks,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_change_is_announced_and_used, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_rule_violations_are_bad_nick, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_wrong_type_is_bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_uniqueness_ignores_case, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_guest_nick_of_another_session_is_taken, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_is_released_on_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nick_join_with_nick_changes_it_first_or_fails_whole,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("nick", tests, NULL, NULL);
}
