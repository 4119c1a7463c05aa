/*
 * Cross-site WebSocket hijacking: a handshake with no Origin (not a
 * browser) or the server's own origin is accepted; any other Origin gets
 * 403 before the upgrade, logged with the origin and the peer, unless
 * --allowed-origin (repeatable, * for any) or CHAT_ALLOWED_ORIGINS
 * (comma-separated) lists it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
setup_allow_two(void **state)
{
	static const char *const args[] = {
		"--allowed-origin", "https://good.example",
		"--allowed-origin", "http://other.example:8080", NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_allow_any(void **state)
{
	static const char *const args[] = {"--allowed-origin", "*", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* The status of a handshake carrying `origin` (NULL: no Origin header). */
static int
handshake_status(int port, const char *origin)
{
	char headers[512] = "";
	struct ws_connect_opts o = { .headers = headers };
	struct ws_client *c;
	int status = 0;

	if (origin)
		snprintf(headers, sizeof(headers), "Origin: %s\r\n", origin);
	c = ws_start(port, &o);
	assert_non_null(c);
	if (ws_finish(c) == 0) {
		status = 101;
		/* An accepted one is a real session. */
		json_decref(ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS,
					   WS_STRICT));
		ws_close(c);
		return status;
	}
	if (!ws_response_head(c) ||
	    sscanf(ws_response_head(c), "HTTP/1.1 %d", &status) != 1)
		fail_msg("no HTTP answer: %s", ws_error(c));
	ws_free(c);
	return status;
}

CHAT_TEST(test_origin_none_and_own_are_accepted_others_refused)
{
	char own[64], log_line[128];
	char *err;

	snprintf(own, sizeof(own), "http://127.0.0.1:%d", port);
	assert_int_equal(handshake_status(port, NULL), 101);
	assert_int_equal(handshake_status(port, own), 101);
	/* Scheme and host compare without regard to case. */
	snprintf(own, sizeof(own), "HTTP://127.0.0.1:%d", port);
	assert_int_equal(handshake_status(port, own), 101);

	assert_int_equal(handshake_status(port, "https://evil.example"), 403);
	/* Same host, other port or scheme: another origin. */
	assert_int_equal(handshake_status(port, "http://127.0.0.1"), 403);
	snprintf(own, sizeof(own), "https://127.0.0.1:%d", port);
	assert_int_equal(handshake_status(port, own), 403);
	assert_int_equal(handshake_status(port, "null"), 403);

	/* Logged at info with the origin and the peer. */
	err = chatd_stderr(&fx->d);
	assert_non_null(err);
	snprintf(log_line, sizeof(log_line),
		 "127.0.0.1: handshake from origin 'https://evil.example' "
		 "refused");
	if (!strstr(err, log_line))
		fail_msg("no log line '%s' in:\n%s", log_line, err);
	free(err);
}

CHAT_TEST(test_origin_allow_list)
{
	char own[64];

	snprintf(own, sizeof(own), "http://127.0.0.1:%d", port);
	assert_int_equal(handshake_status(port, "https://good.example"), 101);
	assert_int_equal(handshake_status(port, "http://other.example:8080"),
			 101);
	assert_int_equal(handshake_status(port, own), 101);
	assert_int_equal(handshake_status(port, "https://evil.example"), 403);
	assert_int_equal(handshake_status(port, "http://good.example"), 403);
}

CHAT_TEST(test_origin_wildcard_allows_any)
{
	assert_int_equal(handshake_status(port, "https://evil.example"), 101);
	assert_int_equal(handshake_status(port, "null"), 101);
}

static void
test_origin_from_environment(void **state)
{
	static const char *const env[] = {
		"CHAT_ALLOWED_ORIGINS=https://a.example, https://b.example",
		NULL};
	struct chatd_opts o = { .env = env };
	struct chatd d;

	(void)state;
	assert_int_equal(chatd_spawn(&d, &o), 0);
	assert_int_equal(handshake_status(d.port, "https://a.example"), 101);
	assert_int_equal(handshake_status(d.port, "https://b.example"), 101);
	assert_int_equal(handshake_status(d.port, "https://c.example"), 403);
	assert_int_equal(chatd_stop(&d), 0);
}

static void
test_origin_bad_value_exits_2_naming_the_flag(void **state)
{
	static const char *const bad[] = {"ftp://x.example",
					  "https://x.example/path", "x.example",
					  ""};
	char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"--allowed-origin", bad[i], NULL};
		struct chatd_opts o = { .args = args };

		assert_int_equal(chatd_run(&o, 5000, NULL, &err), 2);
		if (!strstr(err, "--allowed-origin"))
			fail_msg("error does not name the flag: %s", err);
		free(err);
		err = NULL;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_origin_none_and_own_are_accepted_others_refused,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_origin_allow_list,
						setup_allow_two, teardown),
		cmocka_unit_test_setup_teardown(test_origin_wildcard_allows_any,
						setup_allow_any, teardown),
		cmocka_unit_test(test_origin_from_environment),
		cmocka_unit_test(test_origin_bad_value_exits_2_naming_the_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
