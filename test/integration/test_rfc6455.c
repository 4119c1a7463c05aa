/*
 * RFC 6455 strictness where lws 4.1.6 alone is lax, in the spirit of the
 * Autobahn client's sections 1-7: reserved opcodes and RSV bits, close
 * frames with a bad length, code or reason, oversized and fragmented
 * control frames, and the opening handshake (key, version, subprotocol,
 * path, method). After any close frame from the server nothing else may
 * follow, and nothing a client sent after a protocol error or after its
 * own close frame may reach another member. Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <arpa/inet.h>
#include <poll.h>
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

/*
 * Reads c up to the server's close frame and returns its code; data frames
 * before it are counted into *before.
 */
static int
read_to_close(struct ws_client *c, size_t *before)
{
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	struct ws_frame f;
	int code, r;

	for (;;) {
		r = ws_recv_frame(c, &f, (int)(deadline - monotonic_ms()));
		if (r != WS_OK)
			fail_msg("no close frame from the server (%s)",
				 r == WS_TIMEOUT ? "timeout" : "EOF or error");
		if (f.opcode == WS_OP_CLOSE)
			break;
		if (before)
			(*before)++;
		ws_frame_fini(&f);
	}
	code = f.len >= 2 ? (f.data[0] << 8 | f.data[1]) : WS_CLOSE_NO_STATUS;
	ws_frame_fini(&f);
	return code;
}

/* Nothing at all may follow a close frame (RFC 6455 5.5.1). */
static void
expect_nothing_more(struct ws_client *c, int wait_ms)
{
	struct ws_frame f;

	if (ws_recv_frame(c, &f, wait_ms) == WS_OK) {
		unsigned op = f.opcode;

		ws_frame_fini(&f);
		fail_msg("a frame (opcode %u) followed the close frame", op);
	}
}

static int
close_then_silence(struct ws_client *c, size_t *before)
{
	int code = read_to_close(c, before);

	expect_nothing_more(c, 2 * CHAT_QUIET_MS);
	return code;
}

/* w must see the n offenders leave and nothing else: no message. */
static void
expect_only_leaves(struct ws_client *w, size_t n)
{
	size_t leaves = 0;
	json_t *m;

	while (leaves < n && (m = ws_recv_json(w, CHAT_TIMEOUT_MS))) {
		const char *type = jstr(m, "type");

		if (!strcmp(type, "message"))
			fail_msg("a message reached another member: %s",
				 json_brief(m));
		if (strcmp(type, "presence") ||
		    strcmp(jstr(m, "event"), "leave"))
			fail_msg("unexpected frame: %s", json_brief(m));
		leaves++;
		json_decref(m);
	}
	assert_int_equal(leaves, n);
	chat_expect_quiet(w, CHAT_QUIET_MS);
}

#define MAX_CASES 32

struct bad_frame {
	unsigned char bytes[160];
	size_t len;
	int code; /* the close code it must get */
};

/*
 * Each case on its own connection, all at once: the bad frame followed in
 * the same write by a chat message. Each must get its close code and
 * nothing after it, and a watcher in the lobby must see no message.
 */
static void
check_fails(int port, const struct bad_frame *cases, size_t n)
{
	static const char text[] =
		"{\"type\":\"message\",\"text\":\"after the error\"}";
	struct ws_client *w = chat_connect(port, NULL), *cs[MAX_CASES];
	char nick[CHAT_NICK_MAX + 1];
	unsigned char buf[256];
	size_t tl = sizeof(text) - 1;

	assert_true(n <= MAX_CASES);
	for (size_t i = 0; i < n; i++) {
		cs[i] = chat_connect(port, nick);
		chat_expect_presence(w, "lobby", "join", nick, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = cases[i].len;

		memcpy(buf, cases[i].bytes, len);
		buf[len++] = 0x81;
		buf[len++] = (unsigned char)(0x80 | tl);
		memset(buf + len, 0, 4); /* an all-zero key is still a mask */
		len += 4;
		memcpy(buf + len, text, tl);
		len += tl;
		assert_int_equal(ws_send_raw(cs[i], buf, len), 0);
	}
	for (size_t i = 0; i < n; i++) {
		int got = read_to_close(cs[i], NULL);

		if (got != cases[i].code)
			fail_msg("case %zu (first byte 0x%02x): expected close "
				 "%d, got %d",
				 i, cases[i].bytes[0], cases[i].code, got);
	}
	usleep(2 * CHAT_QUIET_MS * 1000);
	for (size_t i = 0; i < n; i++) {
		expect_nothing_more(cs[i], 0);
		ws_free(cs[i]);
	}
	expect_only_leaves(w, n);
	ws_close(w);
}

/* A masked frame: b0, then len (< 126) payload bytes under a zero key. */
static size_t
small_frame(unsigned char *out, unsigned char b0, const void *payload,
	    size_t len)
{
	out[0] = b0;
	out[1] = (unsigned char)(0x80 | len);
	memset(out + 2, 0, 4);
	memcpy(out + 6, payload, len);
	return 6 + len;
}

/* A masked frame: b0, then len (< 126) payload bytes under a zero key. */
static void
add_case(struct bad_frame *c, size_t *n, unsigned char b0,
	 const void *payload, size_t len, int code)
{
	assert_true(*n < MAX_CASES);
	c[*n].len = small_frame(c[*n].bytes, b0, payload, len);
	c[*n].code = code;
	(*n)++;
}

CHAT_TEST(test_rfc6455_reserved_opcodes_fail_with_1002)
{
	static const unsigned char ops[] = {3, 4, 5, 6, 7,
					    0xb, 0xc, 0xd, 0xe, 0xf};
	struct bad_frame cases[MAX_CASES];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(ops); i++)
		add_case(cases, &n, (unsigned char)(0x80 | ops[i]), "abc", 3,
			 1002);
	check_fails(port, cases, n);
}

CHAT_TEST(test_rfc6455_rsv_bits_without_extension_fail_with_1002)
{
	static const char text[] = "{\"type\":\"message\",\"text\":\"rsv\"}";
	struct bad_frame cases[MAX_CASES];
	size_t n = 0;

	for (unsigned rsv = 1; rsv <= 7; rsv++)
		add_case(cases, &n, (unsigned char)(0x81 | rsv << 4), text,
			 sizeof(text) - 1, 1002);
	/* On a ping too. */
	add_case(cases, &n, 0xc9, "p", 1, 1002);
	check_fails(port, cases, n);
}

CHAT_TEST(test_rfc6455_close_with_one_byte_payload_fails_with_1002)
{
	struct bad_frame cases[1];
	size_t n = 0;

	add_case(cases, &n, 0x88, "\x03", 1, 1002);
	check_fails(port, cases, n);
}

CHAT_TEST(test_rfc6455_close_with_invalid_code_fails_with_1002)
{
	static const unsigned codes[] = {0,    999,  1004, 1005, 1006, 1012,
					 1013, 1014, 1015, 1016, 1100, 2000,
					 2999, 5000, 65535};
	struct bad_frame cases[MAX_CASES];
	unsigned char p[5];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		p[0] = (unsigned char)(codes[i] >> 8);
		p[1] = (unsigned char)(codes[i] & 0xff);
		memcpy(p + 2, "bye", 3);
		add_case(cases, &n, 0x88, p, 5, 1002);
	}
	check_fails(port, cases, n);
}

CHAT_TEST(test_rfc6455_close_with_invalid_utf8_reason_fails_with_1007)
{
	static const unsigned char bad[][6] = {
		{0x03, 0xe8, 'o', 'k', 0xff, 0xfe},
		{0x03, 0xe8, 0xed, 0xa0, 0x80, 'x'}, /* a surrogate */
		{0x03, 0xe8, 'o', 'k', 'o', 0xc3},   /* cut short */
	};
	struct bad_frame cases[MAX_CASES];
	size_t n = 0;

	for (size_t i = 0; i < 3; i++)
		add_case(cases, &n, 0x88, bad[i], 6, 1007);
	check_fails(port, cases, n);
}

CHAT_TEST(test_rfc6455_valid_close_codes_are_echoed)
{
	static const unsigned codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
					 1009, 1010, 1011, 3000, 4000, 4999};
	struct ws_client *cs[12];

	for (size_t i = 0; i < 12; i++) {
		cs[i] = chat_connect(port, NULL);
		assert_int_equal(ws_send_close(cs[i], (int)codes[i], "bye"),
				 0);
	}
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(close_then_silence(cs[i], NULL),
				 (int)codes[i]);
		ws_free(cs[i]);
	}
}

CHAT_TEST(test_rfc6455_control_frame_over_125_bytes_fails_with_1002)
{
	struct bad_frame cases[2];

	/* A ping and a close whose length uses the 16-bit form (126
	 * bytes): lws 4.1.6 drops those without a close frame. */
	for (size_t i = 0; i < 2; i++) {
		unsigned char *f = cases[i].bytes;

		f[0] = i ? 0x88 : 0x89;
		f[1] = 0x80 | 126;
		f[2] = 0;
		f[3] = 126;
		memset(f + 4, 0, 4);
		memset(f + 8, 'p', 126);
		if (i) {
			f[8] = 0x03; /* 1000 and a long reason */
			f[9] = 0xe8;
		}
		cases[i].len = 8 + 126;
		cases[i].code = 1002;
	}
	check_fails(port, cases, 2);
}

CHAT_TEST(test_rfc6455_fragmented_control_frames_fail_with_1002)
{
	struct bad_frame cases[MAX_CASES];
	size_t n = 0;

	add_case(cases, &n, 0x09, "ping", 4, 1002);
	add_case(cases, &n, 0x0a, "pong", 4, 1002);
	add_case(cases, &n, 0x08, "\x03\xe8", 2, 1002);
	check_fails(port, cases, n);
}

/*
 * Frames that are queued for a client when it breaks the protocol must not
 * follow the close frame: a flood keeps its queue busy before, during and
 * after the bad frame.
 */
CHAT_TEST(test_rfc6455_nothing_is_written_after_the_close_frame)
{
	static const char text[] = "{\"type\":\"message\",\"text\":\"flood\"}";
	struct ws_client *flooder = chat_connect(port, NULL);
	unsigned char f[64];
	json_t *m;

	for (int round = 0; round < 5; round++) {
		struct ws_client *c = chat_connect(port, NULL);
		size_t before = 0;

		for (int i = 0; i < 200; i++)
			assert_int_equal(ws_send_text(flooder, text), 0);
		assert_int_equal(ws_send_raw(c, f,
					     small_frame(f, 0x83, "x", 1)),
				 0);
		for (int i = 0; i < 200; i++)
			assert_int_equal(ws_send_text(flooder, text), 0);
		assert_int_equal(close_then_silence(c, &before), 1002);
		ws_free(c);
		/* Keep the flooder's own socket drained. */
		while ((m = ws_recv_json(flooder, CHAT_QUIET_MS)))
			json_decref(m);
	}
	ws_close(flooder);
}

/* After the client's own close frame, its data frames go nowhere. */
CHAT_TEST(test_rfc6455_data_after_the_clients_close_is_not_delivered)
{
	static const char text[] =
		"{\"type\":\"message\",\"text\":\"after my close\"}";
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *w = chat_connect(port, NULL);
	struct ws_client *c = chat_connect(port, nick);
	unsigned char buf[128];
	size_t n;

	chat_expect_presence(w, "lobby", "join", nick, NULL);
	n = small_frame(buf, 0x88, "\x03\xe8", 2);
	n += small_frame(buf + n, 0x81, text, sizeof(text) - 1);
	assert_int_equal(ws_send_raw(c, buf, n), 0);
	assert_int_equal(close_then_silence(c, NULL), 1000);
	ws_free(c);
	expect_only_leaves(w, 1);
	ws_close(w);
}

/*
 * KNOWN LIMIT of lws 4.1.6 (docs/protocol.md): a server must fail a client
 * frame that is not masked, but lws parses the mask bit into a private
 * field and never checks it (lib/roles/ws/ops-ws.c, lws_ws_rx_sm(),
 * LWS_RXPS_04_FRAME_HDR_LEN), and no callback shows it to chatd. This test
 * pins what happens today, the frame is taken as if masked, so that the day
 * lws refuses it (1002) the test fails and the limit comes out of the docs.
 */
CHAT_TEST(test_rfc6455_known_limit_unmasked_frame_is_accepted_by_lws)
{
	static const char text[] = "{\"type\":\"message\",\"text\":\"bare\"}";
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	unsigned char f[64];
	json_t *m;

	f[0] = 0x81;
	f[1] = sizeof(text) - 1; /* mask bit clear, no key */
	memcpy(f + 2, text, sizeof(text) - 1);
	assert_int_equal(ws_send_raw(c, f, 2 + sizeof(text) - 1), 0);
	m = ws_recv_json(c, CHAT_TIMEOUT_MS);
	if (!m && ws_close_code(c) == 1002)
		fail_msg("lws now fails unmasked frames with 1002: remove this "
			 "known limit from docs/protocol.md and turn this test "
			 "into a check for 1002");
	if (!m)
		fail_msg("neither delivered nor closed with 1002 (close %d)",
			 ws_close_code(c));
	assert_string_equal(jstr(m, "type"), "message");
	assert_string_equal(jstr(m, "text"), "bare");
	print_message("KNOWN LIMIT (lws 4.1.6): an unmasked client frame was "
		      "accepted; see docs/protocol.md\n");
	json_decref(m);
	ws_close(c);
}

/*
 * Writes a raw request and reads the whole response up to EOF: a refused
 * upgrade must end the connection. A 101 is returned once its head is in.
 */
static char *
raw_http(int port, const char *req)
{
	int fd = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
	size_t len = 0, cap = 8192;
	char *out = malloc(cap);
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;

	assert_true(fd >= 0);
	assert_non_null(out);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - monotonic_ms();
		ssize_t n;

		if (left <= 0)
			fail_msg("the server kept the connection open after: "
				 "%.*s", (int)len, out);
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
		if (!strncmp(out, "HTTP/1.1 101", 12) && strstr(out, "\r\n\r\n"))
			break;
		if (len == cap - 1)
			fail_msg("response too long");
	}
	close(fd);
	out[len] = '\0';
	return out;
}

static int
status_of(const char *resp)
{
	int status = 0;

	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		fail_msg("not an HTTP response: '%.200s'", resp);
	return status;
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static char *
upgrade(int port, const char *method, const char *path, const char *extra)
{
	char req[1024];

	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n%s\r\n",
		 method, path, port, extra);
	return raw_http(port, req);
}

CHAT_TEST(test_rfc6455_handshake_without_key_gets_400)
{
	char *r = upgrade(port, "GET", "/chat", "Sec-WebSocket-Version: 13\r\n");

	assert_int_equal(status_of(r), 400);
	free(r);
	r = upgrade(port, "GET", "/chat",
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: abc\r\n");
	assert_int_equal(status_of(r), 400);
	free(r);
}

CHAT_TEST(test_rfc6455_handshake_with_other_version_gets_426)
{
	static const char *const versions[] = {
		"Sec-WebSocket-Version: 8\r\n",
		"Sec-WebSocket-Version: 12\r\n",
		"Sec-WebSocket-Version: 14\r\n",
		"", /* none at all */
	};
	char extra[256], v[16];

	for (size_t i = 0; i < 4; i++) {
		char *r;

		snprintf(extra, sizeof(extra), "Sec-WebSocket-Key: " KEY "\r\n%s",
			 versions[i]);
		r = upgrade(port, "GET", "/chat", extra);
		assert_int_equal(status_of(r), 426);
		if (!net_header_value(r, "Sec-WebSocket-Version", v, sizeof(v)))
			fail_msg("426 without Sec-WebSocket-Version: %s", r);
		assert_string_equal(v, "13");
		free(r);
	}
}

CHAT_TEST(test_rfc6455_subprotocols_other_than_chat_are_refused)
{
	static const char *const refused[] = {"http", "foo", "chatd-listener",
					      "http, chat", "chat2"};
	struct ws_connect_opts o = { 0 };
	struct ws_client *c;
	char extra[256];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *r;

		snprintf(extra, sizeof(extra),
			 "Sec-WebSocket-Key: " KEY "\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Protocol: %s\r\n",
			 refused[i]);
		r = upgrade(port, "GET", "/chat", extra);
		if (status_of(r) == 101)
			fail_msg("subprotocol '%s' was accepted", refused[i]);
		assert_int_equal(status_of(r), 400);
		free(r);
	}
	/* chat after names the server does not know is fine. */
	snprintf(extra, sizeof(extra),
		 "Sec-WebSocket-Key: " KEY "\r\n"
		 "Sec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Protocol: foo, chat\r\n");
	{
		char *r = upgrade(port, "GET", "/chat", extra), v[32];

		assert_int_equal(status_of(r), 101);
		assert_true(net_header_value(r, "Sec-WebSocket-Protocol", v,
					     sizeof(v)));
		assert_string_equal(v, "chat");
		free(r);
	}
	o.subprotocol = "chat";
	c = ws_connect_opts(port, &o);
	assert_non_null(c);
	assert_string_equal(ws_subprotocol(c), "chat");
	ws_close(c);
}

CHAT_TEST(test_rfc6455_upgrade_elsewhere_than_chat_gets_404)
{
	char *r = upgrade(port, "GET", "/",
			  "Sec-WebSocket-Key: " KEY "\r\n"
			  "Sec-WebSocket-Version: 13\r\n");

	assert_int_equal(status_of(r), 404);
	free(r);
	r = upgrade(port, "GET", "/chat/x",
		    "Sec-WebSocket-Key: " KEY "\r\n"
		    "Sec-WebSocket-Version: 13\r\n");
	assert_int_equal(status_of(r), 404);
	free(r);
}

/* HTTP/2 by upgrade would carry WebSockets past every check above. */
CHAT_TEST(test_rfc6455_h2c_upgrade_is_refused)
{
	char req[512], *r;

	snprintf(req, sizeof(req),
		 "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		 "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
		 port);
	r = raw_http(port, req);
	assert_int_equal(status_of(r), 400);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_rfc6455_reserved_opcodes_fail_with_1002),
		T(test_rfc6455_rsv_bits_without_extension_fail_with_1002),
		T(test_rfc6455_close_with_one_byte_payload_fails_with_1002),
		T(test_rfc6455_close_with_invalid_code_fails_with_1002),
		T(test_rfc6455_close_with_invalid_utf8_reason_fails_with_1007),
		T(test_rfc6455_valid_close_codes_are_echoed),
		T(test_rfc6455_control_frame_over_125_bytes_fails_with_1002),
		T(test_rfc6455_fragmented_control_frames_fail_with_1002),
		T(test_rfc6455_nothing_is_written_after_the_close_frame),
		T(test_rfc6455_data_after_the_clients_close_is_not_delivered),
		T(test_rfc6455_handshake_without_key_gets_400),
		T(test_rfc6455_handshake_with_other_version_gets_426),
		T(test_rfc6455_subprotocols_other_than_chat_are_refused),
		T(test_rfc6455_upgrade_elsewhere_than_chat_gets_404),
		T(test_rfc6455_known_limit_unmasked_frame_is_accepted_by_lws),
		T(test_rfc6455_h2c_upgrade_is_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
