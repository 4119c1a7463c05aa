/*
 * No client can drown the others: --rate/--burst per connection (errors
 * rate_limited with the request's cid, a sustained flood closed 1008),
 * typing relayed at most every 2 s per member and room, --max-rooms
 * (too_many_rooms), and a join with a nick that is all or nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
setup_rate_5(void **state)
{
	static const char *const args[] = {"--rate", "5", "--burst", "5",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_rate_2(void **state)
{
	static const char *const args[] = {"--rate", "2", "--burst", "2",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_default_rate(void **state)
{
	static const char *const args[] = {"--rate", "20", "--burst", "40",
					   NULL};

	return chat_fixture_setup(state, args);
}

static int
setup_two_rooms(void **state)
{
	static const char *const args[] = {"--max-rooms", "2", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

CHAT_TEST(test_ratelimit_over_the_burst_gets_rate_limited_with_cid)
{
	struct ws_client *c = chat_connect(port, NULL);
	char cid[32];
	int delivered = 0, limited = 0;
	bool seen[20] = { false };

	for (int i = 0; i < 20; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		assert_int_equal(ws_send_pack(c, "{s:s, s:s, s:s}", "type",
					      "message", "text", "hi", "cid",
					      cid),
				 0);
	}
	/* Refusals are answered at once, messages once committed: match
	 * them by cid, each request answered exactly once. */
	for (int i = 0; i < 20; i++) {
		json_t *m = ws_recv_json(c, CHAT_TIMEOUT_MS);
		int n = -1;

		assert_non_null(m);
		if (sscanf(jstr(m, "cid"), "c%d", &n) != 1 || n < 0 ||
		    n >= 20 || seen[n])
			fail_msg("unexpected or repeated cid: %s",
				 json_brief(m));
		seen[n] = true;
		if (!strcmp(jstr(m, "type"), "message")) {
			delivered++;
		} else {
			assert_string_equal(jstr(m, "type"), "error");
			assert_string_equal(jstr(m, "code"), "rate_limited");
			limited++;
		}
		json_decref(m);
	}
	/* The burst of 5 (a token or so may refill while they arrive). */
	if (delivered < 5 || delivered > 7)
		fail_msg("%d of 20 delivered with --burst 5", delivered);
	assert_int_equal(delivered + limited, 20);
	chat_expect_quiet(c, CHAT_QUIET_MS);

	/* The bucket refills at --rate: a second later there is room. */
	usleep(1100 * 1000);
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_ratelimit_sustained_flood_is_closed_1008)
{
	struct ws_client *c = chat_connect(port, NULL);
	struct ws_client *other = chat_connect(port, NULL);
	long long start = monotonic_ms(), deadline = start + 20000;
	int code = 0;

	/* About 200 a second against --rate 2: far over ten times, even
	 * when a loaded machine (an ASan build) slows the loop down. */
	while (monotonic_ms() < deadline) {
		json_t *m;
		bool sent = true;

		for (int i = 0; i < 10 && sent; i++)
			sent = ws_send_pack(c, "{s:s, s:s}", "type", "message",
					    "text", "flood") == 0;
		if (!sent)
			break;
		while ((m = ws_try_json(c)))
			json_decref(m);
		if (ws_is_closed(c))
			break;
		usleep(50 * 1000);
	}
	code = ws_is_closed(c) ? ws_close_code(c)
			       : ws_recv_close_code(c, CHAT_TIMEOUT_MS, NULL);
	if (code != 1008)
		fail_msg("the flooder got close %d after %lld ms", code,
			 monotonic_ms() - start);
	/* Not before ten seconds of flood. */
	if (monotonic_ms() - start < 10000)
		fail_msg("closed after only %lld ms", monotonic_ms() - start);
	ws_free(c);
	/* The other member kept being served throughout. */
	{
		json_t *m;

		while ((m = ws_recv_json(other, CHAT_QUIET_MS)))
			json_decref(m);
	}
	chat_roundtrip(other, NULL);
	ws_close(other);
}

CHAT_TEST(test_ratelimit_typing_is_relayed_once_per_two_seconds)
{
	struct ws_client *typist = chat_connect(port, NULL);
	struct ws_client *reader;
	char nick[CHAT_NICK_MAX + 1];
	int relayed = 0;
	json_t *m;

	reader = chat_connect(port, nick);
	chat_expect_presence(typist, "lobby", "join", nick, NULL);
	/* 30 keystrokes in about 600 ms, within the burst. */
	for (int i = 0; i < 30; i++) {
		assert_int_equal(ws_send_pack(typist, "{s:s}", "type",
					      "typing"),
				 0);
		usleep(20 * 1000);
	}
	chat_roundtrip(typist, NULL);
	while ((m = ws_recv_json(reader, CHAT_QUIET_MS))) {
		if (!strcmp(jstr(m, "type"), "typing"))
			relayed++;
		json_decref(m);
	}
	assert_int_equal(relayed, 1);

	/* Two seconds after the relayed one, the next is relayed again. */
	usleep(2100 * 1000);
	assert_int_equal(ws_send_pack(typist, "{s:s}", "type", "typing"), 0);
	m = ws_expect_type(reader, "typing", CHAT_TIMEOUT_MS, WS_STRICT);
	json_decref(m);
	ws_close(reader);
	ws_close(typist);
}

CHAT_TEST(test_ratelimit_max_rooms_and_join_with_nick_all_or_nothing)
{
	char nick_a[CHAT_NICK_MAX + 1], nick_b[CHAT_NICK_MAX + 1];
	struct ws_client *a = chat_connect(port, nick_a);
	struct ws_client *b = chat_connect(port, nick_b);
	json_t *m;

	chat_expect_presence(a, "lobby", "join", nick_b, NULL);
	/* lobby + r1: the two rooms --max-rooms 2 allows. */
	json_decref(chat_join(a, "r1"));
	assert_int_equal(ws_send_pack(b, "{s:s, s:s, s:s, s:s}", "type",
				      "join", "room", "r2", "nick",
				      "wannabe", "cid", "j1"),
			 0);
	chat_expect_error(b, "too_many_rooms", "j1");
	/* The refused join changed nothing: same nick, still in lobby. */
	chat_say(b, "lobby", "still me", NULL);
	m = chat_expect_msg(b, "lobby", nick_b, "still me", NULL);
	json_decref(m);
	json_decref(chat_expect_msg(a, "lobby", nick_b, "still me", NULL));

	/* A room that exists can still be joined. */
	json_decref(chat_join(b, "r1"));
	chat_expect_presence(a, "r1", "join", nick_b, NULL);

	/* Once r1 is empty it is gone, and a new room fits again. */
	assert_int_equal(ws_send_pack(a, "{s:s, s:s}", "type", "leave", "room",
				      "r1"),
			 0);
	json_decref(ws_expect_type(a, "left", CHAT_TIMEOUT_MS, WS_SKIP));
	chat_expect_presence(b, "r1", "leave", nick_a, NULL);
	assert_int_equal(ws_send_pack(b, "{s:s, s:s}", "type", "leave", "room",
				      "r1"),
			 0);
	json_decref(ws_expect_type(b, "left", CHAT_TIMEOUT_MS, WS_SKIP));
	assert_int_equal(ws_send_pack(b, "{s:s, s:s, s:s}", "type", "join",
				      "room", "r2", "nick", "wannabe"),
			 0);
	m = ws_expect_type(b, "joined", CHAT_TIMEOUT_MS, WS_SKIP);
	assert_string_equal(jstr(m, "room"), "r2");
	json_decref(m);
	ws_close(a);
	ws_close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_ratelimit_over_the_burst_gets_rate_limited_with_cid,
			setup_rate_5, teardown),
		cmocka_unit_test_setup_teardown(
			test_ratelimit_sustained_flood_is_closed_1008,
			setup_rate_2, teardown),
		cmocka_unit_test_setup_teardown(
			test_ratelimit_typing_is_relayed_once_per_two_seconds,
			setup_default_rate, teardown),
		cmocka_unit_test_setup_teardown(
			test_ratelimit_max_rooms_and_join_with_nick_all_or_nothing,
			setup_two_rooms, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
