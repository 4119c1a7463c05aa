/*
 * Broadcast: every member of a room (the sender included) gets each message
 * exactly once, in one order shared by all, ids strictly increasing, cid on
 * every copy. Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdlib.h>
#include <string.h>

#define NCLIENTS 5
#define PER_CLIENT 4
#define TOTAL (NCLIENTS * PER_CLIENT)

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

CHAT_TEST(test_broadcast_each_member_gets_each_message_once_in_one_order)
{
	struct ws_client *cs[NCLIENTS];
	char nicks[NCLIENTS][CHAT_NICK_MAX + 1];
	json_int_t ids[NCLIENTS][TOTAL];
	int seen[NCLIENTS][TOTAL];

	chat_connect_many(port, NCLIENTS, cs, nicks);

	/* Interleave the senders: round k, client i sends "m-i-k". */
	for (int k = 0; k < PER_CLIENT; k++)
		for (int i = 0; i < NCLIENTS; i++) {
			char text[32], cid[32];

			snprintf(text, sizeof(text), "m-%d-%d", i, k);
			snprintf(cid, sizeof(cid), "cid-%d-%d", i, k);
			chat_say(cs[i], NULL, text, cid);
		}

	memset(seen, 0, sizeof(seen));
	for (int r = 0; r < NCLIENTS; r++) {
		int last_k[NCLIENTS];

		for (int i = 0; i < NCLIENTS; i++)
			last_k[i] = -1;
		for (int n = 0; n < TOTAL; n++) {
			json_t *m = ws_expect_type(cs[r], "message",
						   CHAT_TIMEOUT_MS, WS_STRICT);
			int i, k, consumed = 0;
			char want_cid[32];

			chat_check_msg(m);
			assert_string_equal(jstr(m, "room"), "lobby");
			if (sscanf(jstr(m, "text"), "m-%d-%d%n", &i, &k,
				   &consumed) != 2 ||
			    jstr(m, "text")[consumed] || i < 0 ||
			    i >= NCLIENTS || k < 0 || k >= PER_CLIENT)
				fail_msg("unexpected message %s", json_brief(m));
			/* The nick is the sender's, the cid the sender's. */
			assert_string_equal(jstr(m, "nick"), nicks[i]);
			snprintf(want_cid, sizeof(want_cid), "cid-%d-%d", i, k);
			assert_string_equal(jstr(m, "cid"), want_cid);
			/* Exactly once. */
			assert_int_equal(seen[r][i * PER_CLIENT + k], 0);
			seen[r][i * PER_CLIENT + k] = 1;
			/* Each sender's messages keep their order. */
			assert_int_equal(k, last_k[i] + 1);
			last_k[i] = k;
			ids[r][n] = jint(m, "id");
			if (n == 0)
				assert_int_equal(ids[r][n], 1);
			else
				assert_true(ids[r][n] > ids[r][n - 1]);
			json_decref(m);
		}
	}
	/* One order for everybody: the same id sequence. */
	for (int r = 1; r < NCLIENTS; r++)
		assert_memory_equal(ids[r], ids[0], sizeof(ids[0]));
	/* And nothing more (no duplicate arrives late). */
	for (int r = 0; r < NCLIENTS; r++)
		chat_expect_quiet(cs[r], r == 0 ? CHAT_QUIET_MS : 50);
	chat_close_all(cs, NCLIENTS);
}

CHAT_TEST(test_broadcast_same_text_twice_is_two_messages)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_int_t a, b;
	json_t *m;

	chat_connect_many(port, 2, cs, nicks);
	chat_say(cs[0], NULL, "again", "cid-a");
	chat_say(cs[0], NULL, "again", "cid-b");
	chat_say(cs[0], NULL, "again", NULL);
	for (int r = 0; r < 2; r++) {
		m = chat_expect_msg(cs[r], "lobby", nicks[0], "again", "cid-a");
		a = jint(m, "id");
		json_decref(m);
		m = chat_expect_msg(cs[r], "lobby", nicks[0], "again", "cid-b");
		b = jint(m, "id");
		json_decref(m);
		assert_true(b > a);
		m = chat_expect_msg(cs[r], "lobby", nicks[0], "again", NULL);
		assert_true(jint(m, "id") > b);
		json_decref(m);
	}
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_broadcast_resent_cid_goes_back_to_the_sender_only)
{
	/* docs/protocol.md "History, replay and resends": a message whose
	 * cid the same nick already used in that room is not stored or
	 * broadcast again; the sender alone gets the original back. */
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	json_t *first, *again, *m;

	chat_connect_many(port, 2, cs, nicks);
	chat_say(cs[0], NULL, "once", "retry-1");
	first = chat_expect_msg(cs[0], "lobby", nicks[0], "once", "retry-1");
	json_decref(chat_expect_msg(cs[1], "lobby", nicks[0], "once", "retry-1"));

	chat_say(cs[0], NULL, "once", "retry-1");
	again = chat_expect_msg(cs[0], "lobby", nicks[0], "once", "retry-1");
	assert_int_equal(jint(again, "id"), jint(first, "id"));
	assert_int_equal(jint(again, "ts"), jint(first, "ts"));
	json_decref(again);
	/* The other member does not see it twice: its next message is the
	 * next one said. */
	chat_say(cs[0], NULL, "next", NULL);
	m = chat_expect_msg(cs[0], "lobby", nicks[0], "next", NULL);
	assert_true(jint(m, "id") > jint(first, "id"));
	json_decref(m);
	json_decref(chat_expect_msg(cs[1], "lobby", nicks[0], "next", NULL));

	/* Same cid from another nick, or in another room: a new message. */
	chat_say(cs[1], NULL, "mine", "retry-1");
	json_decref(chat_expect_msg(cs[1], "lobby", nicks[1], "mine", "retry-1"));
	json_decref(chat_expect_msg(cs[0], "lobby", nicks[1], "mine", "retry-1"));
	json_decref(chat_join(cs[0], "side"));
	chat_say(cs[0], "side", "elsewhere", "retry-1");
	m = chat_expect_msg(cs[0], "side", nicks[0], "elsewhere", "retry-1");
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	json_decref(first);
	chat_expect_quiet(cs[1], CHAT_QUIET_MS);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_broadcast_late_joiner_gets_earlier_messages_only_as_history)
{
	char nick0[CHAT_NICK_MAX + 1], nick1[CHAT_NICK_MAX + 1];
	struct ws_client *c0 = chat_connect(port, nick0), *c1;
	json_t *m, *h, *msgs;

	chat_say(c0, NULL, "before you came", NULL);
	m = chat_expect_msg(c0, "lobby", nick0, "before you came", NULL);
	json_decref(m);

	/* c1's greeting history holds it... */
	c1 = ws_connect(port);
	assert_non_null(c1);
	m = ws_expect_type(c1, "welcome", CHAT_TIMEOUT_MS, WS_STRICT);
	snprintf(nick1, sizeof(nick1), "%s", jstr(m, "nick"));
	json_decref(m);
	json_decref(ws_expect_type(c1, "joined", CHAT_TIMEOUT_MS, WS_STRICT));
	h = ws_expect_type(c1, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	msgs = jarr(h, "messages");
	assert_int_equal(json_array_size(msgs), 1);
	chat_check_msg(json_array_get(msgs, 0));
	assert_string_equal(jstr(json_array_get(msgs, 0), "text"),
			    "before you came");
	assert_string_equal(jstr(json_array_get(msgs, 0), "nick"), nick0);
	assert_int_equal(jint(json_array_get(msgs, 0), "id"), 1);
	json_decref(h);
	chat_expect_presence(c0, "lobby", "join", nick1, NULL);

	/* ...and it is not delivered live again: the first live message
	 * c1 gets is the next one. */
	chat_say(c0, NULL, "now", NULL);
	m = chat_expect_msg(c0, "lobby", nick0, "now", NULL);
	json_int_t id = jint(m, "id");
	assert_true(id > 1);
	json_decref(m);
	m = chat_expect_msg(c1, "lobby", nick0, "now", NULL);
	assert_int_equal(jint(m, "id"), id);
	json_decref(m);
	chat_expect_quiet(c1, CHAT_QUIET_MS);
	ws_close(c0);
	ws_close(c1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_broadcast_each_member_gets_each_message_once_in_one_order,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_broadcast_same_text_twice_is_two_messages, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_broadcast_resent_cid_goes_back_to_the_sender_only,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_broadcast_late_joiner_gets_earlier_messages_only_as_history,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("broadcast", tests, NULL, NULL);
}
