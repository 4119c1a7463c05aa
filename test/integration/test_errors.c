/*
 * Every error code of protocol v1: bad_json, bad_request, unknown_type,
 * bad_room, bad_nick, nick_taken, not_in_room, empty, too_long. Each error
 * is a frame {"type":"error","code","message","cid"?}, the cid of the
 * request echoed, and the connection stays open (checked by a round trip
 * after each). chatd runs with --max-text-bytes 64.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 64

static int
setup(void **state)
{
	static const char *const args[] = {"--max-text-bytes", "64", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

struct raw_case {
	const char *frame;
	const char *code; /* '|'-separated when the spec allows several */
	const char *cid;  /* expected echo, NULL: absent, "*": not checked */
};

/* Sends each frame as it is; checks the error and that c is still open. */
static void
run_cases(struct ws_client *c, const struct raw_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		print_message("  frame: %s\n", cases[i].frame);
		assert_int_equal(ws_send_text(c, cases[i].frame), 0);
		if (strchr(cases[i].code, '|') ||
		    (cases[i].cid && !strcmp(cases[i].cid, "*")))
			chat_expect_error_any(c, cases[i].code);
		else
			chat_expect_error(c, cases[i].code, cases[i].cid);
		chat_roundtrip(c, NULL);
	}
}

CHAT_TEST(test_errors_bad_json)
{
	static const struct raw_case cases[] = {
		{"{", "bad_json", NULL},
		{"{\"type\":\"message\",", "bad_json", NULL},
		{"{nope}", "bad_json", NULL},
		{"  {\"type\":\"message\",\"text\":}", "bad_json", NULL},
		{"   {'type':'message'}", "bad_json", NULL},
		{"{\"type\":\"message\",\"text\":\"x\"} trailing", "bad_json",
		 NULL},
		{"{\"type\":\"message\",\"text\":\"x\",}", "bad_json", NULL},
	};
	struct ws_client *c = chat_connect(port, NULL);

	run_cases(c, cases, sizeof(cases) / sizeof(cases[0]));
	ws_close(c);
}

CHAT_TEST(test_errors_bad_request)
{
	static const struct raw_case cases[] = {
		{"{}", "bad_request", NULL},
		{"{\"cid\":\"k1\"}", "bad_request", "k1"},
		{"{\"type\":5,\"cid\":\"k2\"}", "bad_request", "k2"},
		{"{\"type\":null}", "bad_request", NULL},
		{"{\"type\":\"message\",\"text\":5,\"cid\":\"k3\"}",
		 "bad_request", "k3"},
		{"{\"type\":\"message\",\"cid\":\"k3b\"}", "bad_request", "k3b"},
		{"{\"type\":\"message\",\"text\":\"x\",\"room\":5,\"cid\":\"k4\"}",
		 "bad_request", "k4"},
		{"{\"type\":\"join\",\"room\":\"okroom\",\"since\":\"x\","
		 "\"cid\":\"k5\"}",
		 "bad_request", "k5"},
		{"{\"type\":\"join\",\"room\":\"okroom\",\"nick\":5,"
		 "\"cid\":\"k5b\"}",
		 "bad_request", "k5b"},
		{"{\"type\":\"join\",\"cid\":\"k5c\"}", "bad_request|bad_room",
		 "*"},
		{"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":0,"
		 "\"cid\":\"k6\"}",
		 "bad_request", "k6"},
		{"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":-3,"
		 "\"cid\":\"k7\"}",
		 "bad_request", "k7"},
		{"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":\"9\","
		 "\"cid\":\"k7b\"}",
		 "bad_request", "k7b"},
		{"{\"type\":\"history\",\"room\":\"lobby\",\"before\":\"x\","
		 "\"cid\":\"k8\"}",
		 "bad_request", "k8"},
		{"{\"type\":\"leave\",\"room\":[\"lobby\"],\"cid\":\"k9\"}",
		 "bad_request", "k9"},
		{"{\"type\":\"typing\",\"room\":7,\"cid\":\"k10\"}", "bad_request",
		 "k10"},
		/* A bad cid itself: empty, 65 bytes, not a string. */
		{"{\"type\":\"message\",\"text\":\"x\",\"cid\":\"\"}",
		 "bad_request", "*"},
		{"{\"type\":\"message\",\"text\":\"x\",\"cid\":\"0123456789abcdef"
		 "0123456789abcdef0123456789abcdef0123456789abcdefX\"}",
		 "bad_request", "*"},
		{"{\"type\":\"message\",\"text\":\"x\",\"cid\":7}", "bad_request",
		 "*"},
	};
	struct ws_client *c = chat_connect(port, NULL);

	run_cases(c, cases, sizeof(cases) / sizeof(cases[0]));
	/* Nothing of the above was delivered as a message. */
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
}

CHAT_TEST(test_errors_unknown_type)
{
	static const struct raw_case cases[] = {
		{"{\"type\":\"dance\",\"cid\":\"u1\"}", "unknown_type", "u1"},
		{"{\"type\":\"\"}", "unknown_type|bad_request", NULL},
		{"{\"type\":\"MESSAGE\",\"text\":\"x\",\"cid\":\"u2\"}",
		 "unknown_type", "u2"},
		{"{\"type\":\"welcome\",\"cid\":\"u3\"}", "unknown_type", "u3"},
		{"{\"type\":\"error\",\"cid\":\"u4\"}", "unknown_type", "u4"},
	};
	struct ws_client *c = chat_connect(port, NULL);

	run_cases(c, cases, sizeof(cases) / sizeof(cases[0]));
	ws_close(c);
}

CHAT_TEST(test_errors_bad_room)
{
	static const char *const bad[] = {
		"",
		"with space",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
		"\xc3\xbcml\xc3\xa4ut",
		"a/b",
		"../etc",
		"room#1",
		"new\nline",
	};
	static const char *const ops[] = {"join", "leave", "message", "history",
					  "typing"};
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			json_t *req = json_pack("{s:s, s:s}", "type", ops[o],
						"room", bad[i]);
			char cid[32];

			snprintf(cid, sizeof(cid), "%s-%zu", ops[o], i);
			json_object_set_new(req, "cid", json_string(cid));
			if (!strcmp(ops[o], "message"))
				json_object_set_new(req, "text",
						    json_string("x"));
			assert_int_equal(ws_send_json(c, req), 0);
			json_decref(req);
			chat_expect_error(c, "bad_room", cid);
		}
	chat_roundtrip(c, NULL);

	/* 64 characters is the longest good name. */
	const char *r64 =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.";
	assert_int_equal(strlen(r64), 64);
	json_decref(chat_join(c, r64));
	chat_say(c, r64, "long room", NULL);
	json_decref(chat_expect_msg(c, r64, nick, "long room", NULL));
	json_decref(chat_join(c, "a"));
	ws_close(c);
}

CHAT_TEST(test_errors_bad_nick_and_nick_taken)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	assert_int_equal(ws_send_pack(cs[0], "{s:s, s:s, s:s}", "type", "nick",
				      "nick", "no good", "cid", "n1"),
			 0);
	chat_expect_error(cs[0], "bad_nick", "n1");
	chat_roundtrip(cs[0], NULL);
	json_decref(chat_expect_msg(cs[1], "lobby", nicks[0], NULL, NULL));

	assert_int_equal(ws_send_pack(cs[0], "{s:s, s:s}", "type", "nick",
				      "nick", "Taken1"),
			 0);
	chat_expect_presence(cs[0], "lobby", "nick", "Taken1", nicks[0]);
	chat_expect_presence(cs[1], "lobby", "nick", "Taken1", nicks[0]);
	assert_int_equal(ws_send_pack(cs[1], "{s:s, s:s, s:s}", "type", "nick",
				      "nick", "tAKEN1", "cid", "n2"),
			 0);
	chat_expect_error(cs[1], "nick_taken", "n2");
	chat_roundtrip(cs[1], NULL);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_errors_not_in_room)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	static const struct raw_case cases[] = {
		{"{\"type\":\"message\",\"room\":\"elsewhere\",\"text\":\"x\","
		 "\"cid\":\"r1\"}",
		 "not_in_room", "r1"},
		{"{\"type\":\"leave\",\"room\":\"elsewhere\",\"cid\":\"r2\"}",
		 "not_in_room", "r2"},
		{"{\"type\":\"history\",\"room\":\"elsewhere\",\"cid\":\"r3\"}",
		 "not_in_room", "r3"},
		{"{\"type\":\"typing\",\"room\":\"elsewhere\",\"cid\":\"r4\"}",
		 "not_in_room", "r4"},
	};
	json_t *m;

	run_cases(c, cases, sizeof(cases) / sizeof(cases[0]));

	/* Without any room: no current room either. */
	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "leave", "room",
				      "lobby"),
			 0);
	m = ws_expect_type(c, "left", CHAT_TIMEOUT_MS, WS_STRICT);
	json_decref(m);
	chat_say(c, NULL, "to whom?", "r5");
	chat_expect_error(c, "not_in_room", "r5");
	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "typing", "cid",
				      "r6"),
			 0);
	chat_expect_error(c, "not_in_room", "r6");
	assert_int_equal(ws_send_text(c, "plain, to whom?"), 0);
	chat_expect_error(c, "not_in_room", NULL);
	assert_int_equal(ws_send_pack(c, "{s:s, s:s, s:s}", "type", "leave",
				      "room", "lobby", "cid", "r7"),
			 0);
	chat_expect_error(c, "not_in_room", "r7");
	/* Still open: join and talk again. */
	json_decref(chat_join(c, "back"));
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_errors_empty_text)
{
	struct ws_client *c = chat_connect(port, NULL);

	chat_say(c, NULL, "", "e1");
	chat_expect_error(c, "empty", "e1");
	chat_say(c, "lobby", "", NULL);
	chat_expect_error(c, "empty", NULL);
	chat_roundtrip(c, NULL);
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
}

CHAT_TEST(test_errors_too_long_counts_bytes)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char text[4 * MAX_TEXT + 1];
	json_t *m;

	/* Exactly the limit: fine. */
	memset(text, 'a', MAX_TEXT);
	text[MAX_TEXT] = '\0';
	chat_say(c, NULL, text, "t0");
	m = chat_expect_msg(c, "lobby", nick, text, "t0");
	json_decref(m);
	/* One byte over. */
	text[MAX_TEXT] = 'a';
	text[MAX_TEXT + 1] = '\0';
	chat_say(c, NULL, text, "t1");
	chat_expect_error(c, "too_long", "t1");
	/* Same as a plain text frame. */
	assert_int_equal(ws_send_text(c, text), 0);
	chat_expect_error(c, "too_long", NULL);
	/* Bytes, not characters: 21 x U+20AC is 63 bytes, 22 is 66. */
	text[0] = '\0';
	for (int i = 0; i < 21; i++)
		strcat(text, "\xe2\x82\xac");
	chat_say(c, NULL, text, "t2");
	json_decref(chat_expect_msg(c, "lobby", nick, text, "t2"));
	strcat(text, "\xe2\x82\xac");
	chat_say(c, NULL, text, "t3");
	chat_expect_error(c, "too_long", "t3");
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_errors_go_only_to_the_offender)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	assert_int_equal(ws_send_text(cs[0], "{broken"), 0);
	chat_expect_error(cs[0], "bad_json", NULL);
	chat_say(cs[0], NULL, "", "x1");
	chat_expect_error(cs[0], "empty", "x1");
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_bad_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_bad_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_unknown_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_bad_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_errors_bad_nick_and_nick_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_not_in_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_empty_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_errors_too_long_counts_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_errors_go_only_to_the_offender, setup, teardown),
	};

	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
