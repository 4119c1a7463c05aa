/*
 * Slow consumer: chatd runs with --send-queue-bytes 65536. One session with
 * a tiny receive buffer never reads while a publisher sends 2 KB messages;
 * a normal subscriber (and the publisher itself) must get every one, in
 * order, without gaps, and the slow session must be dropped: presence leave
 * to the others, and close 1008 "slow consumer" once it finally reads (or at
 * least the end of its TCP stream).
 *
 * How much must be sent before the server's queue for the slow session
 * fills depends on the kernel: on loopback (64 KiB MSS) the server's socket
 * send buffer alone autotunes to ~4 MiB. So the publisher keeps going until
 * the drop is seen (at most MAX_MSGS, ~20 MiB), then sends TAIL more. The
 * close itself may take lws up to its 5 s timeouts (STYLE.md), so after
 * MAX_MSGS the test waits up to LEAVE_WAIT_MS for the presence leave.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MSG_BYTES 2000 /* under the default --max-text-bytes 4096 */
#define MAX_MSGS 10000
#define TAIL 200    /* messages published after the drop was seen */
#define WINDOW 16   /* messages in flight: ~32 KiB, under the bound */
#define PUBLISH_DEADLINE_MS 60000
#define LEAVE_WAIT_MS 15000

static int
setup(void **state)
{
	static const char *const args[] = {"--send-queue-bytes", "65536", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

struct reader {
	struct ws_client *c;
	const char *name;
	int got;             /* messages received in order */
	json_int_t last_id;
	bool saw_slow_leave;
};

static void
make_text(char *buf, int seq)
{
	int n = snprintf(buf, MSG_BYTES + 1, "seq-%06d-", seq);

	memset(buf + n, 'x', (size_t)(MSG_BYTES - n));
	buf[MSG_BYTES] = '\0';
}

/* Drains what r's socket holds now; every message must be the next one. */
static void
drain(struct reader *r, const char *slow_nick)
{
	char want[MSG_BYTES + 1];

	for (int guard = 0; guard < 100000; guard++) {
		json_t *j = ws_try_json(r->c);
		const char *type;

		if (!j)
			break;
		type = jstr(j, "type");
		if (!strcmp(type, "message")) {
			make_text(want, r->got);
			if (strcmp(jstr(j, "text"), want) != 0)
				fail_msg("%s: message %d out of order or lost: "
					 "got '%.16s...'",
					 r->name, r->got, jstr(j, "text"));
			if (jint(j, "id") <= r->last_id)
				fail_msg("%s: id %lld after %lld", r->name,
					 (long long)jint(j, "id"),
					 (long long)r->last_id);
			r->last_id = jint(j, "id");
			r->got++;
		} else if (!strcmp(type, "presence") &&
			   !strcmp(jstr(j, "event"), "leave") &&
			   !strcmp(jstr(j, "nick"), slow_nick)) {
			r->saw_slow_leave = true;
		} else {
			fail_msg("%s: unexpected frame %s", r->name,
				 json_brief(j));
		}
		json_decref(j);
	}
	if (ws_is_closed(r->c))
		fail_msg("%s was disconnected (close %d '%s') after %d "
			 "messages",
			 r->name, ws_close_code(r->c), ws_close_reason(r->c),
			 r->got);
}

CHAT_TEST(test_slow_consumer_is_dropped_while_others_get_everything)
{
	struct ws_client *cs[2], *slow;
	char nicks[2][CHAT_NICK_MAX + 1], slow_nick[CHAT_NICK_MAX + 1];
	struct ws_connect_opts tiny = {.rcvbuf = 4096};
	struct reader rd[2];
	char text[MSG_BYTES + 1];
	long long t0, deadline, leave_deadline = 0, t_drop = 0;
	int sent = 0, code, drop_at = -1;
	size_t slow_frames = 0;
	json_t *p;

	chat_connect_many(port, 2, cs, nicks);
	slow = ws_connect_opts(port, &tiny);
	assert_non_null(slow);
	/* The slow one never reads; learn its nick from the others. */
	p = ws_expect_type(cs[0], "presence", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(p, "event"), "join");
	snprintf(slow_nick, sizeof(slow_nick), "%s", jstr(p, "nick"));
	json_decref(p);
	chat_expect_presence(cs[1], "lobby", "join", slow_nick, NULL);

	rd[0] = (struct reader){.c = cs[0], .name = "subscriber"};
	rd[1] = (struct reader){.c = cs[1], .name = "publisher"};
	t0 = monotonic_ms();
	deadline = t0 + PUBLISH_DEADLINE_MS;
	for (;;) {
		struct pollfd pfd[2];
		bool buffered = false, all_in;
		int target;

		if (drop_at < 0 && rd[0].saw_slow_leave &&
		    rd[1].saw_slow_leave) {
			drop_at = sent;
			t_drop = monotonic_ms();
		}
		target = drop_at < 0 ? MAX_MSGS : drop_at + TAIL;
		all_in = rd[0].got == sent && rd[1].got == sent;
		if (drop_at >= 0 && sent >= target && all_in)
			break;
		if (drop_at < 0 && sent >= MAX_MSGS && all_in) {
			/* All published and delivered: give the close its
			 * time, still draining. */
			if (!leave_deadline)
				leave_deadline = monotonic_ms() + LEAVE_WAIT_MS;
			else if (monotonic_ms() >= leave_deadline)
				break;
		}
		if (monotonic_ms() >= deadline)
			break;
		/* Publish while both readers are within the window. */
		for (int burst = 0; burst < 8 && sent < target &&
				    sent - rd[0].got < WINDOW &&
				    sent - rd[1].got < WINDOW;
		     burst++) {
			make_text(text, sent);
			chat_say(cs[1], "lobby", text, NULL);
			sent++;
		}
		for (int i = 0; i < 2; i++) {
			pfd[i].fd = ws_fd(rd[i].c);
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			buffered |= ws_has_buffered(rd[i].c);
		}
		poll(pfd, 2, buffered ? 0 : 100);
		for (int i = 0; i < 2; i++)
			drain(&rd[i], slow_nick);
	}
	print_message("published %d (slow one dropped after %d, at %lld ms), "
		      "subscriber got %d, publisher got %d in %lld ms\n",
		      sent, drop_at, t_drop ? t_drop - t0 : -1LL, rd[0].got,
		      rd[1].got, monotonic_ms() - t0);
	if (!rd[0].saw_slow_leave || !rd[1].saw_slow_leave)
		fail_msg("the slow session was not dropped (no presence leave) "
			 "after %d messages of %d bytes (%lld ms)",
			 sent, MSG_BYTES, monotonic_ms() - t0);
	/* Nobody else lost anything, before or after the drop. */
	assert_int_equal(rd[0].got, sent);
	assert_int_equal(rd[1].got, sent);
	assert_true(sent >= drop_at + TAIL || sent == MAX_MSGS);

	/* Now it reads: whatever was in flight, then close 1008 (or, if
	 * the close frame could not be written, the end of the stream). */
	code = ws_recv_close_code(slow, 10000, &slow_frames);
	print_message("slow consumer read %zu frames, then close %d '%s'\n",
		      slow_frames, code, ws_close_reason(slow));
	if (code == 0)
		fail_msg("slow consumer not disconnected within 10 s of "
			 "reading (%zu frames read)",
			 slow_frames);
	if (code != 1008 && code != WS_CLOSE_ABNORMAL)
		fail_msg("slow consumer closed with %d, expected 1008", code);
	if (code == 1008)
		assert_string_equal(ws_close_reason(slow), "slow consumer");
	/* It was cut off well before the end. */
	assert_true(slow_frames < (size_t)sent);
	ws_free(slow);

	/* Business as usual for the others. */
	chat_roundtrip(cs[0], NULL);
	json_decref(chat_expect_msg(cs[1], "lobby", nicks[0], NULL, NULL));
	chat_close_all(cs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_slow_consumer_is_dropped_while_others_get_everything,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("slow_consumer", tests, NULL, NULL);
}
