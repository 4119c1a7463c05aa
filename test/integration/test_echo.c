/*
 * The classic echo: connect, send 'hello world' as a plain text frame and
 * get it back as one's own message; the JSON form with cid; the handshake
 * with and without the "chat" subprotocol. Fresh chatd per test.
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

CHAT_TEST(test_echo_plain_hello_world_comes_back_as_own_message)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	long long before = chat_now_ms(), after;
	json_t *m;

	assert_int_equal(ws_send_text(c, "hello world"), 0);
	m = chat_expect_msg(c, "lobby", nick, "hello world", NULL);
	after = chat_now_ms();
	/* The first message of a fresh room has id 1. */
	assert_int_equal(jint(m, "id"), 1);
	/* ts is epoch milliseconds, taken while we waited (1 s of slack). */
	assert_in_range(jint(m, "ts"), before - 1000, after + 1000);
	json_decref(m);
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
}

CHAT_TEST(test_echo_json_message_echoes_cid)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	json_t *m;

	assert_int_equal(ws_send_text(c, "{\"type\":\"message\","
					 "\"text\":\"hi there\","
					 "\"cid\":\"c-1\"}"),
			 0);
	m = chat_expect_msg(c, "lobby", nick, "hi there", "c-1");
	json_decref(m);

	/* Explicit room, and a cid of the maximum 64 bytes. */
	const char *cid64 =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(strlen(cid64), 64);
	chat_say(c, "lobby", "with room", cid64);
	m = chat_expect_msg(c, "lobby", nick, "with room", cid64);
	json_decref(m);

	/* Without a cid there is none on the message. */
	chat_say(c, NULL, "no cid", NULL);
	m = chat_expect_msg(c, "lobby", nick, "no cid", NULL);
	json_decref(m);
	ws_close(c);
}

CHAT_TEST(test_echo_ids_strictly_increase_from_1)
{
	struct ws_client *c = chat_connect(port, NULL);
	json_int_t prev = 0;

	for (int i = 0; i < 20; i++) {
		char text[32];
		json_t *m;

		snprintf(text, sizeof(text), "n%d", i);
		assert_int_equal(ws_send_text(c, text), 0);
		m = chat_expect_msg(c, "lobby", NULL, text, NULL);
		if (i == 0)
			assert_int_equal(jint(m, "id"), 1);
		assert_true(jint(m, "id") > prev);
		prev = jint(m, "id");
		json_decref(m);
	}
	ws_close(c);
}

CHAT_TEST(test_echo_plain_text_is_the_whole_frame)
{
	/* Anything whose first non-space character is not '{' is text,
	 * kept byte for byte: leading spaces, JSON arrays and scalars too. */
	static const char *const texts[] = {
		"   leading spaces kept",
		"[1,2,3]",
		"\"just a JSON string\"",
		"42",
		"null",
		"trailing spaces   ",
		"} not an object {",
	};
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *m;

		assert_int_equal(ws_send_text(c, texts[i]), 0);
		m = chat_expect_msg(c, "lobby", nick, texts[i], NULL);
		json_decref(m);
	}
	ws_close(c);
}

CHAT_TEST(test_echo_handshake_with_subprotocol_chat)
{
	struct ws_connect_opts o = {.subprotocol = "chat"};
	struct ws_client *c = chat_connect_opts(port, NULL, &o);

	assert_string_equal(ws_subprotocol(c), "chat");
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_echo_handshake_without_subprotocol_is_served_chat)
{
	struct ws_connect_opts o = {.subprotocol = ""};
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect_opts(port, nick, &o);
	json_t *m;

	/* RFC 6455 4.1: a server must not name a subprotocol the client did
	 * not offer (websocat and browsers would fail the connection). */
	if (ws_subprotocol(c)[0])
		fail_msg("server chose subprotocol '%s' though none was "
			 "offered; response:\n%s",
			 ws_subprotocol(c), ws_response_head(c));
	assert_int_equal(ws_send_text(c, "hello world"), 0);
	m = chat_expect_msg(c, "lobby", nick, "hello world", NULL);
	json_decref(m);
	ws_close(c);
}

CHAT_TEST(test_echo_second_session_sees_the_first_ones_message)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_t *m;

	chat_connect_many(port, 2, cs, nicks);
	assert_string_not_equal(nicks[0], nicks[1]);
	assert_int_equal(ws_send_text(cs[0], "hello world"), 0);
	m = chat_expect_msg(cs[0], "lobby", nicks[0], "hello world", NULL);
	json_decref(m);
	m = chat_expect_msg(cs[1], "lobby", nicks[0], "hello world", NULL);
	json_decref(m);
	chat_close_all(cs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_echo_plain_hello_world_comes_back_as_own_message,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_json_message_echoes_cid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_echo_ids_strictly_increase_from_1, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_echo_plain_text_is_the_whole_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_echo_handshake_with_subprotocol_chat, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_echo_handshake_without_subprotocol_is_served_chat,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_echo_second_session_sees_the_first_ones_message,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("echo", tests, NULL, NULL);
}
