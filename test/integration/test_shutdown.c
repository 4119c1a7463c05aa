/*
 * Shutdown: on SIGTERM or SIGINT every session gets close 1001 and chatd
 * exits 0 within 5 s, also with a client that stopped reading and a
 * connection stuck half way through its HTTP request.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NCLIENTS 3

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
teardown(void **state)
{
	/* The test reaped chatd already; this checks the status again and
	 * stops it if the test failed before signalling. */
	return chat_fixture_teardown(state);
}

/* Signals chatd; every client must see close 1001 and chatd exit 0, all
 * within CHATD_STOP_TIMEOUT_MS of the signal. */
static void
signal_and_expect_clean_exit(struct chat_fixture *fx, int sig,
			     struct ws_client **cs, size_t n)
{
	long long t0 = monotonic_ms(), left;
	int st;

	assert_int_equal(chatd_signal(&fx->d, sig), 0);
	for (size_t i = 0; i < n; i++) {
		size_t dropped = 0;
		int code;

		left = t0 + CHATD_STOP_TIMEOUT_MS - monotonic_ms();
		code = ws_recv_close_code(cs[i], left > 0 ? (int)left : 0,
					  &dropped);
		if (code != 1001)
			fail_msg("client %zu: expected close 1001 after signal "
				 "%d, got %d (%s) after %lld ms",
				 i, sig, code,
				 code == 0 ? "nothing"
				 : code == WS_CLOSE_ABNORMAL
					 ? "EOF without close frame"
					 : "close frame",
				 monotonic_ms() - t0);
	}
	left = t0 + CHATD_STOP_TIMEOUT_MS - monotonic_ms();
	st = chatd_wait(&fx->d, left > 0 ? (int)left : 0);
	if (st != 0) {
		chatd_dump_logs(&fx->d, "shutdown");
		fail_msg("chatd %s after signal %d (%lld ms)",
			 st < 0 ? "still running" : "exited non-zero", sig,
			 monotonic_ms() - t0);
	}
	print_message("  exit 0 %lld ms after signal %d\n", monotonic_ms() - t0,
		      sig);
	for (size_t i = 0; i < n; i++)
		assert_true(ws_wait_eof(cs[i], 1000));
}

CHAT_TEST(test_shutdown_sigterm_closes_every_session_1001_and_exits_0)
{
	struct ws_client *cs[NCLIENTS];
	char nicks[NCLIENTS][CHAT_NICK_MAX + 1];

	chat_connect_many(port, NCLIENTS, cs, nicks);
	json_decref(chat_join(cs[0], "elsewhere"));
	signal_and_expect_clean_exit(fx, SIGTERM, cs, NCLIENTS);
	for (int i = 0; i < NCLIENTS; i++)
		ws_free(cs[i]);
}

CHAT_TEST(test_shutdown_sigint_closes_every_session_1001_and_exits_0)
{
	struct ws_client *cs[NCLIENTS];
	char nicks[NCLIENTS][CHAT_NICK_MAX + 1];

	chat_connect_many(port, NCLIENTS, cs, nicks);
	signal_and_expect_clean_exit(fx, SIGINT, cs, NCLIENTS);
	for (int i = 0; i < NCLIENTS; i++)
		ws_free(cs[i]);
}

CHAT_TEST(test_shutdown_with_stuck_peers_still_exits_within_5s)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_connect_opts tiny = {.rcvbuf = 4096};
	struct ws_client *c = chat_connect(port, nick), *stuck;
	char text[1024];
	int half, idle;
	const char *partial = "GET /index.html HTTP/1.1\r\nHost: 127.";

	/* A session that never reads, with a full socket. */
	stuck = ws_connect_opts(port, &tiny);
	assert_non_null(stuck);
	json_decref(ws_expect_type(c, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	memset(text, 'q', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < 300; i++) {
		chat_say(c, NULL, text, NULL);
		json_decref(chat_expect_msg(c, "lobby", nick, text, NULL));
	}
	/* An HTTP request cut in the middle, and a TCP connection that
	 * never says anything. */
	half = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
	assert_true(half >= 0);
	assert_int_equal(send(half, partial, strlen(partial), MSG_NOSIGNAL),
			 (ssize_t)strlen(partial));
	idle = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
	assert_true(idle >= 0);

	signal_and_expect_clean_exit(fx, SIGTERM, &c, 1);
	ws_free(c);
	ws_free(stuck);
	close(half);
	close(idle);
}

CHAT_TEST(test_shutdown_newcomer_during_the_grace_gets_1001)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_connect_opts tiny = {.rcvbuf = 4096};
	struct ws_client *c = chat_connect(port, nick), *stuck, *late;
	char text[1024];
	size_t dropped = 0;
	int code;

	/* A stuck session keeps the server in its shutdown grace. */
	stuck = ws_connect_opts(port, &tiny);
	assert_non_null(stuck);
	json_decref(ws_expect_type(c, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	memset(text, 'q', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < 300; i++) {
		chat_say(c, NULL, text, NULL);
		json_decref(chat_expect_msg(c, "lobby", nick, text, NULL));
	}
	assert_int_equal(chatd_signal(&fx->d, SIGTERM), 0);
	assert_int_equal(ws_recv_close_code(c, CHAT_TIMEOUT_MS, NULL), 1001);
	/* A client reconnecting at once is sent away the same way, not
	 * welcomed into a server that is about to go. */
	late = ws_connect(port);
	assert_non_null(late); /* the listener is open during the grace */
	code = ws_recv_close_code(late, CHAT_TIMEOUT_MS, &dropped);
	assert_int_equal(code, 1001);
	assert_string_equal(ws_close_reason(late), "server shutdown");
	assert_int_equal(dropped, 0); /* no welcome first */
	ws_free(late);
	assert_int_equal(chatd_stop(&fx->d), 0);
	ws_free(c);
	ws_free(stuck);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_shutdown_sigterm_closes_every_session_1001_and_exits_0,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_shutdown_sigint_closes_every_session_1001_and_exits_0,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_shutdown_with_stuck_peers_still_exits_within_5s,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_shutdown_newcomer_during_the_grace_gets_1001,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("shutdown", tests, NULL, NULL);
}
