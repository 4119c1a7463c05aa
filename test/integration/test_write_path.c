/*
 * The coalesced write path: frames for a session are gathered and written
 * raw, many per write. These tests read the wire frame by frame and check
 * that nothing is split, reordered or interleaved wrongly: under a flood
 * with pings in between, through a reader too slow to take a whole write at
 * once (partial writes), and with a shutdown landing after a flood.
 */
#include "chat_test.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_util.h"

#define FLOOD 6000

static int
setup(void **state)
{
	/* A queue big enough that no test here culls its slow reader. */
	static const char *const args[] = { "--send-queue-bytes", "16777216",
					    NULL };

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* Reads one wire frame; server frames are final, unmasked, no RSV bits. */
static void
recv_wire_frame(struct ws_client *c, struct ws_frame *f)
{
	int r = ws_recv_frame(c, f, CHAT_TIMEOUT_MS);

	if (r != WS_OK)
		fail_msg("no frame (%d): %s", r, ws_error(c));
	assert_true(f->fin);
	assert_false(f->masked);
	assert_int_equal(f->rsv, 0);
}

/* A text frame must be the message "seq N" with N == *next. */
static void
check_seq(const struct ws_frame *f, const char *nick, int *next)
{
	char want[32];
	json_error_t err;
	json_t *j = json_loadb((const char *)f->data, f->len, 0, &err);

	if (!j)
		fail_msg("frame %d is not JSON: %.80s", *next, f->data);
	if (strcmp(jstr(j, "type"), "message")) {
		/* presence and the like may come between */
		json_decref(j);
		return;
	}
	snprintf(want, sizeof(want), "seq %d", *next);
	assert_string_equal(jstr(j, "nick"), nick);
	if (strcmp(jstr(j, "text"), want))
		fail_msg("got '%s', expected '%s'", jstr(j, "text"), want);
	(*next)++;
	json_decref(j);
}

/* Publishes FLOOD messages "seq N" from p, as fast as its socket takes. */
static void
publish_flood(struct ws_client *p, int n)
{
	char text[32];

	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "seq %d", i);
		chat_say(p, NULL, text, NULL);
	}
}

CHAT_TEST(test_write_path_pings_during_a_flood_get_their_pongs)
{
	/* The reader's small receive buffer keeps most of the flood in the
	 * server's queue rather than in the kernel: a pong must get past
	 * that queue. With the default buffers a fast server can have the
	 * whole flood in the socket before the first ping arrives, and then
	 * no pong could come mid-flood whatever the server did. */
	struct ws_connect_opts small = { .rcvbuf = 4096 };
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	int next = 0, pings = 0, pongs = 0, last_ping = -100;
	int mid_flood_pongs = 0;
	char ping[16] = "";
	bool waiting_pong = false;
	long long deadline = monotonic_ms() + 30000;

	cs[0] = chat_connect_opts(port, nicks[0], &small);
	cs[1] = chat_connect(port, nicks[1]);
	chat_expect_presence(cs[0], "lobby", "join", nicks[1], NULL);
	/* The publisher reads its own echoes only at the end. */
	publish_flood(cs[1], FLOOD);
	while (next < FLOOD && monotonic_ms() < deadline) {
		struct ws_frame f;

		if (!waiting_pong && next - last_ping >= 20) {
			last_ping = next;
			snprintf(ping, sizeof(ping), "p%d", pings++);
			assert_int_equal(ws_send_ping(cs[0], ping, strlen(ping)),
					 0);
			waiting_pong = true;
		}
		recv_wire_frame(cs[0], &f);
		if (f.opcode == WS_OP_PONG) {
			assert_true(waiting_pong);
			assert_int_equal(f.len, strlen(ping));
			assert_memory_equal(f.data, ping, f.len);
			waiting_pong = false;
			pongs++;
			if (next < FLOOD)
				mid_flood_pongs++;
		} else {
			assert_int_equal(f.opcode, WS_OP_TEXT);
			check_seq(&f, nicks[1], &next);
		}
		ws_frame_fini(&f);
	}
	assert_int_equal(next, FLOOD);
	/* The last ping's pong may still be on its way. */
	if (waiting_pong) {
		struct ws_frame f;

		recv_wire_frame(cs[0], &f);
		assert_int_equal(f.opcode, WS_OP_PONG);
		ws_frame_fini(&f);
		pongs++;
	}
	/* A pong waits behind the frames already in the socket, so how many
	 * fit in a flood depends on buffer sizes; at least one must. */
	assert_true(mid_flood_pongs >= 1);
	assert_int_equal(pongs, pings);
	print_message("%d messages, %d pings answered\n", FLOOD, pongs);
	chat_close_all(cs, 2);
}

CHAT_TEST(test_write_path_slow_reader_gets_whole_frames_in_order)
{
	struct ws_connect_opts small = { .rcvbuf = 2048 };
	struct ws_client *p, *slow;
	char pnick[CHAT_NICK_MAX + 1], text[3100];
	long long deadline;
	int next = 0;

	p = chat_connect(port, pnick);
	slow = chat_connect_opts(port, NULL, &small);
	json_decref(ws_expect_type(p, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	/* 400 frames of ~3 KB: each gathered write is far more than the
	 * slow reader's socket takes, so most writes end part-way. */
	for (int i = 0; i < 400; i++) {
		int n = snprintf(text, sizeof(text), "seq %d ", i);

		memset(text + n, 'a' + i % 26, 3000);
		text[n + 3000] = '\0';
		chat_say(p, NULL, text, NULL);
	}
	deadline = monotonic_ms() + 60000;
	while (next < 400 && monotonic_ms() < deadline) {
		struct ws_msg m;
		json_t *j;
		char want[32];

		/* Read slowly: the server meets a full socket again and again. */
		if (next % 20 == 0)
			usleep(20000);
		assert_int_equal(ws_recv_msg(slow, &m, CHAT_TIMEOUT_MS), WS_OK);
		j = json_loadb(m.data, m.len, 0, NULL);
		assert_non_null(j);
		snprintf(want, sizeof(want), "seq %d ", next);
		if (!strcmp(jstr(j, "type"), "message")) {
			const char *t = jstr(j, "text");

			assert_int_equal(strlen(t), strlen(want) + 3000);
			assert_memory_equal(t, want, strlen(want));
			for (size_t k = strlen(want); k < strlen(t); k++)
				if (t[k] != 'a' + next % 26)
					fail_msg("message %d corrupt at %zu", next,
						 k);
			next++;
		}
		json_decref(j);
		ws_msg_fini(&m);
	}
	assert_int_equal(next, 400);
	chat_roundtrip(slow, NULL);
	ws_free(slow);
	ws_free(p);
}

CHAT_TEST(test_write_path_shutdown_after_a_flood_closes_1001)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];
	int next = 0, code = 0;
	long long deadline;

	chat_connect_many(port, 2, cs, nicks);
	publish_flood(cs[1], FLOOD);
	/* Let the flood land in the reader's socket and queue, unread. */
	usleep(300000);
	assert_int_equal(chatd_signal(&fx->d, SIGTERM), 0);
	deadline = monotonic_ms() + 10000;
	while (monotonic_ms() < deadline) {
		struct ws_frame f;
		int r = ws_recv_frame(cs[0], &f, CHAT_TIMEOUT_MS);

		if (r == WS_CLOSED) {
			code = WS_CLOSE_ABNORMAL;
			break;
		}
		assert_int_equal(r, WS_OK);
		assert_true(f.fin);
		if (f.opcode == WS_OP_CLOSE) {
			assert_true(f.len >= 2);
			code = (f.data[0] << 8) | f.data[1];
			ws_frame_fini(&f);
			break;
		}
		assert_int_equal(f.opcode, WS_OP_TEXT);
		/* Whatever arrived before the close is whole and in order. */
		check_seq(&f, nicks[1], &next);
		ws_frame_fini(&f);
	}
	print_message("%d messages, then close %d\n", next, code);
	assert_int_equal(code, 1001);
	chat_close_all(cs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_write_path_pings_during_a_flood_get_their_pongs,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_write_path_slow_reader_gets_whole_frames_in_order,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_write_path_shutdown_after_a_flood_closes_1001,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
