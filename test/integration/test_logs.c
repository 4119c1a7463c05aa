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

#include <signal.h>
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

/* Waits for a JSON line of event that names nick. */
static void
expect_line_json(struct chatd *d, const char *nick, const char *event)
{
	char want_nick[64], want_event[64];
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	char *err = NULL;

	snprintf(want_nick, sizeof(want_nick), "\"nick\":\"%s\"", nick);
	snprintf(want_event, sizeof(want_event), "\"event\":\"%s\"", event);
	for (;;) {
		char *line, *save = NULL;

		free(err);
		err = chatd_stderr(d);
		for (line = err ? strtok_r(err, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			if (strstr(line, want_nick) && strstr(line, want_event)) {
				free(err);
				return;
			}
		if (monotonic_ms() > deadline)
			break;
		usleep(50 * 1000);
	}
	fail_msg("no %s line for %s in:\n%s", event, nick, err ? err : "");
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

static int
setup_json(void **state)
{
	static const char *const args[] = { "--log-format", "json", NULL };

	return chat_fixture_setup(state, args);
}

/* Every line of the log, each parsed as JSON: fails on the first that is
 * not an object with a time, a level, an event and a message. */
static json_t *
parse_json_lines(const char *text)
{
	json_t *lines = json_array();
	char *copy = strdup(text), *save = NULL;

	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *o = json_loads(l, 0, &e);
		const char *when, *level;

		if (!o || !json_is_object(o))
			fail_msg("log line is not a JSON object (%s): %s",
				 e.text, l);
		when = jstr(o, "time");
		level = jstr(o, "level");
		jstr(o, "event");
		jstr(o, "msg");
		/* 2026-11-30T16:44:01.529Z */
		if (strlen(when) != 24 || when[10] != 'T' || when[23] != 'Z')
			fail_msg("time '%s' is not ISO 8601 UTC: %s", when, l);
		if (strcmp(level, "debug") && strcmp(level, "info") &&
		    strcmp(level, "warn") && strcmp(level, "error") &&
		    strcmp(level, "notice"))
			fail_msg("unknown level '%s': %s", level, l);
		json_array_append_new(lines, o);
	}
	free(copy);
	return lines;
}

/* The first line of event whose field key has the string value. */
static json_t *
find_event(json_t *lines, const char *event, const char *key,
	   const char *value)
{
	size_t i;
	json_t *o;

	json_array_foreach (lines, i, o) {
		const char *v = jstr_opt(o, key);

		if (!strcmp(jstr(o, "event"), event) && v && !strcmp(v, value))
			return o;
	}
	return NULL;
}

/*
 * --log-format json: the same events, one object per line, every line of
 * the run (start, ready, connects, disconnects with their codes, shutdown)
 * parsed.
 */
CHAT_TEST(test_logs_json_one_object_per_line_with_event_fields)
{
	char a[CHAT_NICK_MAX + 1], b[CHAT_NICK_MAX + 1], c[CHAT_NICK_MAX + 1];
	struct ws_client *ca = chat_connect(port, a);
	struct ws_client *cb = chat_connect(port, b);
	struct ws_client *cc = chat_connect(port, c);
	static const struct {
		const char *nick_of; /* a, b or c */
		int code;
	} ends[] = { { "a", 1000 }, { "b", 1003 }, { "c", 1006 } };
	json_t *lines, *o, *conn;
	char *err;

	ws_close(ca);
	assert_int_equal(ws_send_binary(cb, "x", 1), 0);
	assert_int_equal(ws_recv_close_code(cb, CHAT_TIMEOUT_MS, NULL), 1003);
	ws_free(cb);
	ws_free(cc);
	expect_line_json(&fx->d, c, "disconnect");

	assert_int_equal(chatd_signal(&fx->d, SIGTERM), 0);
	assert_int_equal(chatd_wait(&fx->d, 5000), 0);
	err = chatd_stderr(&fx->d);
	assert_non_null(err);
	lines = parse_json_lines(err);

	o = find_event(lines, "start", "version", CHATD_VERSION);
	if (!o)
		fail_msg("no start event with version %s in:\n%s",
			 CHATD_VERSION, err);
	assert_string_equal(jstr(o, "db"), ":memory:");
	assert_non_null(strstr(jstr(o, "www"), "www"));
	o = find_event(lines, "listening", "level", "notice");
	assert_non_null(o);
	assert_non_null(strstr(jstr(o, "url"), "http://127.0.0.1:"));

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		const char *nick = ends[i].nick_of[0] == 'a'   ? a
				   : ends[i].nick_of[0] == 'b' ? b
							       : c;

		conn = find_event(lines, "connect", "nick", nick);
		if (!conn)
			fail_msg("no connect event for %s in:\n%s", nick, err);
		assert_string_equal(jstr(conn, "peer"), "127.0.0.1");
		assert_string_equal(jstr(conn, "level"), "info");
		o = find_event(lines, "disconnect", "nick", nick);
		if (!o)
			fail_msg("no disconnect event for %s in:\n%s", nick,
				 err);
		assert_int_equal(jint(o, "session"), jint(conn, "session"));
		assert_string_equal(jstr(o, "peer"), "127.0.0.1");
		assert_int_equal(jint(o, "code"), ends[i].code);
		assert_true(jint(o, "duration_ms") >= 0);
		jstr(o, "reason");
	}
	if (!find_event(lines, "log", "msg", "stopped"))
		fail_msg("no 'stopped' line in:\n%s", err);
	json_decref(lines);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_logs_connect_and_disconnect_with_peer_nick_and_code,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_logs_json_one_object_per_line_with_event_fields,
			setup_json, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
