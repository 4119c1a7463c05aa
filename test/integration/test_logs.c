/*
 * Connect and disconnect lines at info, as the classic socket.io chat logs
 * "a user connected" / "user disconnected": session id, peer address,
 * nick, and for a disconnect the duration and the close code it ended
 * with (1000 from the client, 1003 from the server, 1006 for a dropped
 * connection).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The log line for nick that contains `what`, waiting for it to appear. */
static void
expect_line(struct chatd *d, const char *nick, const char *what)
{
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	char *err = NULL;

	for (;;) {
		char *line;

		free(err);
		err = chatd_stderr(d);
		for (line = err ? strtok(err, "\n") : NULL; line;
		     line = strtok(NULL, "\n"))
			if (strstr(line, " info  session ") &&
			    strstr(line, nick) && strstr(line, what)) {
				free(err);
				return;
			}
		if (monotonic_ms() > deadline)
			break;
		usleep(50 * 1000);
	}
	err = chatd_stderr(d);
	fail_msg("no info line for %s with '%s' in:\n%s", nick, what,
		 err ? err : "");
}

CHAT_TEST(test_logs_connect_and_disconnect_with_peer_nick_and_code)
{
	char a[CHAT_NICK_MAX + 1], b[CHAT_NICK_MAX + 1], c[CHAT_NICK_MAX + 1];
	char want[128];
	struct ws_client *ca = chat_connect(port, a);
	struct ws_client *cb = chat_connect(port, b);
	struct ws_client *cc = chat_connect(port, c);

	snprintf(want, sizeof(want), "connected from 127.0.0.1 as %s", a);
	expect_line(&fx->d, a, want);
	snprintf(want, sizeof(want), "connected from 127.0.0.1 as %s", b);
	expect_line(&fx->d, b, want);

	ws_close(ca); /* 1000 */
	assert_int_equal(ws_send_binary(cb, "x", 1), 0);
	assert_int_equal(ws_recv_close_code(cb, CHAT_TIMEOUT_MS, NULL), 1003);
	ws_free(cb);
	ws_free(cc); /* no close frame */

	snprintf(want, sizeof(want), "disconnected from 127.0.0.1 (%s) after ",
		 a);
	expect_line(&fx->d, a, want);
	expect_line(&fx->d, a, "close 1000");
	expect_line(&fx->d, b, "close 1003");
	expect_line(&fx->d, c, "close 1006");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_logs_connect_and_disconnect_with_peer_nick_and_code,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
