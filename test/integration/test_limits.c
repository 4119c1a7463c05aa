/*
 * No client can lock the others out: sockets that never finish a request
 * neither starve newcomers nor live long, and --max-connections /
 * --max-connections-per-ip turn the handshake over either into a 503
 * without disturbing anyone connected, a freed slot usable at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SILENT 300
/* The server's idle timeout for an unfinished request is 5 s. */
#define SILENT_GONE_MS 9000

static int
setup(void **state)
{
	chat_raise_nofile(2 * SILENT + 256);
	return chat_fixture_setup(state, NULL);
}

static int
setup_per_ip_3(void **state)
{
	static const char *const args[] = {"--max-connections-per-ip", "3",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_total_3(void **state)
{
	static const char *const args[] = {"--max-connections", "3",
					   "--max-connections-per-ip", "0",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_off(void **state)
{
	static const char *const args[] = {"--max-connections", "0",
					   "--max-connections-per-ip", "0",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* True when the server has closed fd (EOF or reset), without waiting. */
static bool
is_closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	return read(fd, &c, 1) <= 0;
}

CHAT_TEST(test_limits_silent_sockets_neither_starve_newcomers_nor_linger)
{
	int fds[SILENT];
	struct http_response r;
	struct ws_client *c;
	long long t0, deadline;
	size_t open_left;

	for (int i = 0; i < SILENT; i++) {
		fds[i] = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
		assert_true(fds[i] >= 0);
	}
	/* One more than the old header pool of 256: a newcomer used to wait
	 * for a silent socket to time out. */
	t0 = monotonic_ms();
	assert_int_equal(http_get(port, "/healthz", 3000, &r), 0);
	assert_int_equal(r.status, 200);
	http_response_fini(&r);
	c = chat_connect(port, NULL);
	chat_roundtrip(c, NULL);
	if (monotonic_ms() - t0 > 3000)
		fail_msg("a newcomer waited %lld ms behind %d silent sockets",
			 monotonic_ms() - t0, SILENT);

	/* Each silent socket is dropped once its request is overdue. */
	deadline = t0 + SILENT_GONE_MS;
	do {
		open_left = 0;
		for (int i = 0; i < SILENT; i++)
			if (fds[i] >= 0 && is_closed_by_server(fds[i])) {
				close(fds[i]);
				fds[i] = -1;
			} else if (fds[i] >= 0) {
				open_left++;
			}
		if (open_left)
			usleep(100 * 1000);
	} while (open_left && monotonic_ms() < deadline);
	for (int i = 0; i < SILENT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (open_left)
		fail_msg("%zu of %d silent sockets still open after %d ms",
			 open_left, SILENT, SILENT_GONE_MS);
	/* The chat session, which did send its request, is still there. */
	chat_roundtrip(c, NULL);
	ws_close(c);
}

/* A raw upgrade that must be refused with 503 and the connection closed. */
static void
expect_503(int port)
{
	struct ws_client *c = ws_start(port, NULL);
	const char *head;

	assert_non_null(c);
	if (ws_finish(c) == 0)
		fail_msg("a handshake over the limit was accepted");
	head = ws_response_head(c);
	if (!head || strncmp(head, "HTTP/1.1 503", 12))
		fail_msg("expected 503, got '%.60s' (%s)", head ? head : "",
			 ws_error(c));
	ws_free(c);
}

/* The sessions in cs (one lobby) stay undisturbed: a message from the
 * first reaches every one, the sender included, and nothing else comes
 * first. */
static void
expect_alive(struct ws_client **cs, size_t n)
{
	char text[64];

	snprintf(text, sizeof(text), "alive-%lld", monotonic_ms());
	chat_say(cs[0], NULL, text, NULL);
	for (size_t i = 0; i < n; i++)
		json_decref(chat_expect_msg(cs[i], "lobby", NULL, text, NULL));
}

static void
check_limit_of_3(int port)
{
	struct ws_client *cs[3];
	char nicks[3][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 3, cs, nicks);
	for (int i = 0; i < 3; i++)
		expect_503(port);
	expect_alive(cs, 3);
	/* Nobody saw the refused ones come or go. */
	for (int i = 0; i < 3; i++)
		chat_expect_quiet(cs[i], CHAT_QUIET_MS);

	/* A freed slot is free at once. */
	ws_close(cs[0]);
	for (int i = 1; i < 3; i++)
		chat_expect_presence(cs[i], "lobby", "leave", nicks[0], NULL);
	cs[0] = chat_connect(port, nicks[0]);
	for (int i = 1; i < 3; i++)
		chat_expect_presence(cs[i], "lobby", "join", nicks[0], NULL);
	expect_503(port);
	expect_alive(cs, 3);
	chat_close_all(cs, 3);
}

CHAT_TEST(test_limits_per_ip_over_the_limit_gets_503)
{
	struct http_response r;

	check_limit_of_3(port);
	/* Plain HTTP is not a chat session: never counted or refused. */
	assert_int_equal(http_get(port, "/healthz", CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 200);
	http_response_fini(&r);
}

CHAT_TEST(test_limits_total_over_the_limit_gets_503)
{
	check_limit_of_3(port);
}

CHAT_TEST(test_limits_zero_turns_both_off)
{
	enum { N = 300 };
	struct ws_client **cs = calloc(N, sizeof(*cs));

	assert_non_null(cs);
	chat_raise_nofile(2 * N + 256);
	for (int i = 0; i < N; i++) {
		cs[i] = ws_connect(port);
		if (!cs[i])
			fail_msg("connection %d refused with both limits off",
				 i + 1);
	}
	for (int i = 0; i < N; i++)
		ws_free(cs[i]);
	free(cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_limits_silent_sockets_neither_starve_newcomers_nor_linger,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_limits_per_ip_over_the_limit_gets_503,
			setup_per_ip_3, teardown),
		cmocka_unit_test_setup_teardown(
			test_limits_total_over_the_limit_gets_503,
			setup_total_3, teardown),
		cmocka_unit_test_setup_teardown(test_limits_zero_turns_both_off,
						setup_off, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
