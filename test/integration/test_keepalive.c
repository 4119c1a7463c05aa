/*
 * Keepalive (--ping-interval): an idle client is pinged, a client that
 * answers stays connected, and one that sends nothing at all, not even
 * pongs, is closed. Run with a 1 s interval to keep the test short.
 */
#include "chat_test.h"

#include <string.h>

#include "net_util.h"

static int
setup(void **state)
{
	static const char *const args[] = { "--ping-interval", "1", NULL };

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* Reads raw frames (no automatic pongs) until a ping or the deadline. */
static bool
wait_ping(struct ws_client *c, int ms)
{
	long long deadline = monotonic_ms() + ms;

	while (monotonic_ms() < deadline) {
		struct ws_frame f;
		int r = ws_recv_frame(c, &f, (int)(deadline - monotonic_ms()));
		bool ping;

		if (r != WS_OK)
			return false;
		ping = f.opcode == WS_OP_PING;
		if (ping) {
			assert_true(f.fin);
			assert_false(f.masked);
			/* lws 4.1 drops empty pongs, so pings carry bytes */
			assert_true(f.len > 0);
		}
		ws_frame_fini(&f);
		if (ping)
			return true;
	}
	return false;
}

CHAT_TEST(test_keepalive_idle_client_is_pinged)
{
	struct ws_client *c = chat_connect(port, NULL);

	/* Silent for an interval: pinged at the next tick (<= 2 s). */
	assert_true(wait_ping(c, 3000));
	ws_free(c);
}

CHAT_TEST(test_keepalive_answering_client_stays)
{
	struct ws_client *c = chat_connect(port, NULL);
	long long until = monotonic_ms() + 4500;

	/* ws_recv_msg answers pings: more than two intervals go by. */
	while (monotonic_ms() < until) {
		struct ws_msg m;
		int r = ws_recv_msg(c, &m, 200);

		assert_int_not_equal(r, WS_CLOSED);
		if (r == WS_OK)
			ws_msg_fini(&m);
	}
	assert_false(ws_is_closed(c));
	chat_roundtrip(c, NULL);
	ws_free(c);
}

CHAT_TEST(test_keepalive_silent_client_is_closed)
{
	struct ws_client *c = chat_connect(port, NULL);
	struct ws_client *watcher = chat_connect(port, NULL);
	long long t0 = monotonic_ms(), deadline = t0 + 8000;
	int code = 0;

	/* Reads everything, answers nothing: two to three intervals. */
	while (monotonic_ms() < deadline) {
		struct ws_frame f;
		int r = ws_recv_frame(c, &f, 500);

		if (r == WS_CLOSED) {
			code = WS_CLOSE_ABNORMAL;
			break;
		}
		if (r != WS_OK)
			continue;
		if (f.opcode == WS_OP_CLOSE) {
			assert_true(f.len >= 2);
			code = (f.data[0] << 8) | f.data[1];
			assert_memory_equal(f.data + 2, "ping timeout",
					    strlen("ping timeout"));
		}
		ws_frame_fini(&f);
		if (code)
			break;
		/* The watcher answers its pings and must not be closed. */
		{
			struct ws_msg m;

			if (ws_try_msg(watcher, &m) == WS_OK)
				ws_msg_fini(&m);
		}
	}
	print_message("silent client closed with %d after %lld ms\n", code,
		      monotonic_ms() - t0);
	assert_int_equal(code, 1001);
	assert_true(monotonic_ms() - t0 >= 1500);
	ws_free(c);
	assert_false(ws_is_closed(watcher));
	ws_free(watcher);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_keepalive_idle_client_is_pinged, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_keepalive_answering_client_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_keepalive_silent_client_is_closed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
