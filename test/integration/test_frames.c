/*
 * Frame-level behaviour: fragmented messages reassembled (control frames in
 * between, UTF-8 split across fragments), ping/pong, the close handshake,
 * each client-caused close code (1003 binary, 1007 invalid UTF-8, 1009 over
 * --max-message-bytes), and hostile text that must come back byte for byte
 * in frames that are valid JSON with < > & U+2028 U+2029 and control
 * characters escaped. Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include "chat_proto.h"

#include <stdlib.h>
#include <string.h>

#define SMALL_MAX 1024

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
setup_small(void **state)
{
	static const char *const args[] = {"--max-message-bytes", "1024", NULL};

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* c must get a close frame with `code`, then the TCP connection ends. */
static void
expect_close_frame(struct ws_client *c, int code, bool wait_eof);

static void
expect_closed_with(struct ws_client *c, int code)
{
	expect_close_frame(c, code, true);
}

static void
expect_close_frame(struct ws_client *c, int code, bool wait_eof)
{
	size_t dropped = 0;
	int got = ws_recv_close_code(c, CHAT_TIMEOUT_MS, &dropped);

	if (got != code)
		fail_msg("expected close %d, got %s %d (reason '%s', %zu "
			 "messages before)",
			 code,
			 got == 0	      ? "no close within the timeout:"
			 : got == WS_CLOSE_ABNORMAL ? "EOF without close frame:"
						    : "close",
			 got, ws_close_reason(c), dropped);
	if (wait_eof)
		assert_true(ws_wait_eof(c, CHAT_TIMEOUT_MS));
}

/* Builds {"type":"message","text":text} (text may hold NULs). */
static char *
message_json(const char *text, size_t len, const char *cid)
{
	json_t *req = json_pack("{s:s}", "type", "message");
	json_t *t = json_stringn(text, len);
	char *s;

	assert_non_null(t);
	json_object_set_new(req, "text", t);
	if (cid)
		json_object_set_new(req, "cid", json_string(cid));
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	assert_non_null(s);
	return s;
}

/* What the protocol says a server frame never holds raw. */
static void
check_escaped(const char *raw, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
			fail_msg("server frame holds raw byte 0x%02x at %zu: "
				 "%.*s",
				 ch, i, (int)(len > 300 ? 300 : len), raw);
		if (ch == 0xe2 && i + 2 < len &&
		    (unsigned char)raw[i + 1] == 0x80 &&
		    ((unsigned char)raw[i + 2] == 0xa8 ||
		     (unsigned char)raw[i + 2] == 0xa9))
			fail_msg("server frame holds a raw U+2028/U+2029 at "
				 "%zu",
				 i);
	}
}

/*
 * Sends text (as a plain frame, or as JSON) and checks that the echo is a
 * valid, escaped JSON frame whose text equals it byte for byte.
 */
static void
expect_roundtrip(struct ws_client *c, const char *nick, const char *text,
		 size_t len, bool plain)
{
	char *raw = NULL;
	size_t raw_len = 0;
	json_t *m, *t;

	if (plain) {
		assert_int_equal(ws_send_textn(c, text, len), 0);
	} else {
		char *s = message_json(text, len, NULL);

		assert_int_equal(ws_send_text(c, s), 0);
		free(s);
	}
	m = ws_recv_json_raw(c, CHAT_TIMEOUT_MS, &raw, &raw_len);
	if (!m)
		fail_msg("no echo for a %zu-byte %s text (close code %d)", len,
			 plain ? "plain" : "JSON", ws_close_code(c));
	chat_check_msg(m);
	assert_string_equal(jstr(m, "type"), "message");
	assert_string_equal(jstr(m, "nick"), nick);
	t = json_object_get(m, "text");
	if (json_string_length(t) != len ||
	    memcmp(json_string_value(t), text, len) != 0)
		fail_msg("text changed on the way (%zu -> %zu bytes): frame "
			 "%.*s",
			 len, json_string_length(t),
			 (int)(raw_len > 400 ? 400 : raw_len), raw);
	check_escaped(raw, raw_len);
	free(raw);
	json_decref(m);
}

CHAT_TEST(test_frames_fragmented_message_is_reassembled)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char text[400];
	char *s;
	json_t *m;

	for (size_t i = 0; i < sizeof(text) - 1; i++)
		text[i] = (char)('a' + i % 26);
	text[sizeof(text) - 1] = '\0';
	s = message_json(text, strlen(text), "frag-1");
	assert_int_equal(ws_send_fragmented(c, WS_OP_TEXT, s, strlen(s), 7), 0);
	free(s);
	m = chat_expect_msg(c, "lobby", nick, text, "frag-1");
	json_decref(m);

	/* A plain text message in fragments too. */
	assert_int_equal(ws_send_fragmented(c, WS_OP_TEXT, "hello world", 11, 3),
			 0);
	m = chat_expect_msg(c, "lobby", nick, "hello world", NULL);
	json_decref(m);
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
}

CHAT_TEST(test_frames_one_byte_fragments_split_utf8_sequences)
{
	static const char text[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 "
				   "\xe2\x9c\x93 \xe4\xb8\xad\xe6\x96\x87";
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char *s = message_json(text, sizeof(text) - 1, NULL);
	json_t *m;

	/* One byte per frame: every multi-byte character is split. */
	assert_int_equal(ws_send_fragmented(c, WS_OP_TEXT, s, strlen(s),
					    strlen(s)),
			 0);
	free(s);
	m = chat_expect_msg(c, "lobby", nick, text, NULL);
	json_decref(m);
	assert_int_equal(ws_send_fragmented(c, WS_OP_TEXT, text,
					    sizeof(text) - 1, sizeof(text) - 1),
			 0);
	m = chat_expect_msg(c, "lobby", nick, text, NULL);
	json_decref(m);
	ws_close(c);
}

CHAT_TEST(test_frames_ping_between_fragments_is_answered)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	const char *part1 = "{\"type\":\"message\",\"te";
	const char *part2 = "xt\":\"pinged in between\"}";
	bool got_pong = false, got_msg = false;
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;

	assert_int_equal(ws_send_frame(c, WS_OP_TEXT, false, part1,
				       strlen(part1)),
			 0);
	assert_int_equal(ws_send_ping(c, "mid", 3), 0);
	assert_int_equal(ws_send_frame(c, WS_OP_CONT, true, part2,
				       strlen(part2)),
			 0);
	while ((!got_pong || !got_msg) && monotonic_ms() < deadline) {
		struct ws_frame f;
		int r = ws_recv_frame(c, &f, (int)(deadline - monotonic_ms()));

		if (r != WS_OK)
			break;
		if (f.opcode == WS_OP_PONG) {
			assert_int_equal(f.len, 3);
			assert_memory_equal(f.data, "mid", 3);
			got_pong = true;
		} else if (f.opcode == WS_OP_TEXT) {
			json_t *m = json_loadb((char *)f.data, f.len, 0, NULL);

			assert_true(f.fin);
			assert_non_null(m);
			assert_string_equal(jstr(m, "type"), "message");
			assert_string_equal(jstr(m, "text"), "pinged in between");
			assert_string_equal(jstr(m, "nick"), nick);
			json_decref(m);
			got_msg = true;
		} else {
			fail_msg("unexpected frame opcode %u", f.opcode);
		}
		ws_frame_fini(&f);
	}
	assert_true(got_pong);
	assert_true(got_msg);
	ws_close(c);
}

CHAT_TEST(test_frames_ping_gets_pong_with_payload)
{
	struct ws_client *c = chat_connect(port, NULL);
	struct ws_frame f;

	assert_int_equal(ws_send_ping(c, "hello-ping", 10), 0);
	assert_int_equal(ws_recv_frame(c, &f, CHAT_TIMEOUT_MS), WS_OK);
	assert_int_equal(f.opcode, WS_OP_PONG);
	assert_true(f.fin);
	assert_false(f.masked);
	assert_int_equal(f.len, 10);
	assert_memory_equal(f.data, "hello-ping", 10);
	ws_frame_fini(&f);
	chat_roundtrip(c, NULL);
	ws_close(c);
}

CHAT_TEST(test_frames_close_is_answered_and_connection_ends)
{
	struct ws_client *c = chat_connect(port, NULL);
	int code;

	assert_int_equal(ws_send_close(c, 1000, "done"), 0);
	code = ws_recv_close_code(c, CHAT_TIMEOUT_MS, NULL);
	assert_true(ws_got_close_frame(c));
	/* RFC 6455 5.5.1: the reply typically echoes the code. */
	if (code != 1000 && code != WS_CLOSE_NO_STATUS)
		fail_msg("close reply code %d", code);
	assert_true(ws_wait_eof(c, CHAT_TIMEOUT_MS));
	ws_free(c);
}

CHAT_TEST(test_frames_binary_frame_closes_1003)
{
	struct ws_client *cs[2];
	char nicks[2][CHAT_NICK_MAX + 1];

	chat_connect_many(port, 2, cs, nicks);
	assert_int_equal(ws_send_binary(cs[1], "\x01\x02\x03", 3), 0);
	expect_closed_with(cs[1], 1003);
	ws_free(cs[1]);

	/* Others are unaffected; they see the session leave. */
	chat_expect_presence(cs[0], "lobby", "leave", nicks[1], NULL);
	chat_roundtrip(cs[0], NULL);

	/* A fragmented binary message too. */
	cs[1] = chat_connect(port, nicks[1]);
	chat_expect_presence(cs[0], "lobby", "join", nicks[1], NULL);
	assert_int_equal(ws_send_fragmented(cs[1], WS_OP_BINARY, "abcdef", 6, 2),
			 0);
	expect_closed_with(cs[1], 1003);
	ws_free(cs[1]);
	ws_close(cs[0]);
}

CHAT_TEST(test_frames_invalid_utf8_closes_1007)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
#define B(s) {s, sizeof(s) - 1}
		B("\xff"),
		B("bad \xc0\xaf overlong"),
		B("\xed\xa0\x80 surrogate"),
		B("\xf4\x90\x80\x80 above U+10FFFF"),
		B("truncated at the end \xe2\x82"),
		B("{\"type\":\"message\",\"text\":\"\xfe\"}"),
#undef B
	};
	char nick0[CHAT_NICK_MAX + 1];
	struct ws_client *c0 = chat_connect(port, nick0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char nick[CHAT_NICK_MAX + 1];
		struct ws_client *c = chat_connect(port, nick);

		print_message("  case %zu\n", i);
		assert_int_equal(ws_send_textn(c, bad[i].bytes, bad[i].len), 0);
		expect_closed_with(c, 1007);
		ws_free(c);
	}
	/* Invalid only once the fragments are put together: E2 28 A1. */
	{
		struct ws_client *c = chat_connect(port, NULL);

		assert_int_equal(ws_send_frame(c, WS_OP_TEXT, false, "ab\xe2", 3),
				 0);
		assert_int_equal(ws_send_frame(c, WS_OP_CONT, true, "\x28\xa1", 2),
				 0);
		expect_closed_with(c, 1007);
		ws_free(c);
	}
	/* The bystander is fine (after the presence traffic). */
	chat_say(c0, NULL, "still here", NULL);
	json_decref(chat_wait_msg(c0, "lobby", nick0, "still here", NULL));
	ws_close(c0);
}

CHAT_TEST(test_frames_over_max_message_bytes_closes_1009)
{
	char big[SMALL_MAX + 1];
	struct ws_client *c;
	char *s;

	memset(big, 'a', sizeof(big));

	/* One plain text frame of max + 1 bytes. */
	print_message("  one frame\n");
	c = chat_connect(port, NULL);
	assert_int_equal(ws_send_textn(c, big, SMALL_MAX + 1), 0);
	expect_closed_with(c, 1009);
	ws_free(c);

	/* A frame of three times the max: the server's close comes while
	 * the rest of the frame is still arriving (lws hands payloads over
	 * in pieces of its rx buffer). It must still read the client's close
	 * reply and hang up at once, not after lws's own timeout (3 s). */
	print_message("  one frame, cut off part-way\n");
	c = chat_connect(port, NULL);
	{
		char *huge = malloc(3 * SMALL_MAX);
		long long t0;

		assert_non_null(huge);
		memset(huge, 'h', 3 * SMALL_MAX);
		assert_int_equal(ws_send_textn(c, huge, 3 * SMALL_MAX), 0);
		free(huge);
		assert_int_equal(ws_recv_close_code(c, CHAT_TIMEOUT_MS, NULL),
				 1009);
		t0 = monotonic_ms();
		assert_true(ws_wait_eof(c, CHAT_TIMEOUT_MS));
		if (monotonic_ms() - t0 > 2000)
			fail_msg("the server hung up %lld ms after the close",
				 monotonic_ms() - t0);
	}
	ws_free(c);

	/* A JSON message of max + 1 bytes. */
	print_message("  one JSON message\n");
	c = chat_connect(port, NULL);
	s = message_json(big, SMALL_MAX + 1 - strlen("{\"type\":\"message\","
						     "\"text\":\"\"}"),
			 NULL);
	assert_int_equal(strlen(s), SMALL_MAX + 1);
	assert_int_equal(ws_send_text(c, s), 0);
	free(s);
	expect_closed_with(c, 1009);
	ws_free(c);

	/* Fragments that are each small but over the max together. */
	print_message("  fragments\n");
	c = chat_connect(port, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ws_send_frame(c, i ? WS_OP_CONT : WS_OP_TEXT,
					       i == 2, big, 400),
				 0);
	expect_closed_with(c, 1009);
	ws_free(c);

	/* A frame announcing 1 MiB: closed without waiting for all of it. */
	print_message("  announced 1 MiB\n");
	c = chat_connect(port, NULL);
	{
		unsigned char hdr[14] = {0x81, 0x80 | 127, 0, 0, 0, 0,
					 0, 0x10, 0, 0, 0, 0, 0, 0};
		/* length 0x100000, mask key 0 so the payload goes as is */
		char chunk[2048];

		memset(chunk, 'b', sizeof(chunk));
		assert_int_equal(ws_send_raw(c, hdr, sizeof(hdr)), 0);
		assert_int_equal(ws_send_raw(c, chunk, sizeof(chunk)), 0);
		/* Our close reply would land inside the announced payload,
		 * so the server cannot read it: don't wait for its EOF. */
		expect_close_frame(c, 1009, false);
	}
	ws_free(c);

	/* The server lives on. The sessions closed above may still be
	 * leaving the lobby: their presence frames can come first. */
	c = chat_connect(port, NULL);
	chat_say(c, NULL, "still here", NULL);
	json_decref(chat_wait_msg(c, NULL, NULL, "still here", NULL));
	ws_close(c);
}

CHAT_TEST(test_frames_exactly_max_message_bytes_is_accepted)
{
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char text[SMALL_MAX + 1];
	size_t tlen = SMALL_MAX - strlen("{\"type\":\"message\",\"text\":\"\"}");
	char *s;
	json_t *m;

	memset(text, 'z', sizeof(text));
	text[tlen] = '\0';
	s = message_json(text, tlen, NULL);
	assert_int_equal(strlen(s), SMALL_MAX);
	assert_int_equal(ws_send_text(c, s), 0);
	m = chat_expect_msg(c, "lobby", nick, text, NULL);
	json_decref(m);
	/* The same bytes in four fragments. */
	assert_int_equal(ws_send_fragmented(c, WS_OP_TEXT, s, strlen(s), 4), 0);
	m = chat_expect_msg(c, "lobby", nick, text, NULL);
	json_decref(m);
	free(s);
	/* A plain text frame of exactly the max. */
	memset(text, 'y', SMALL_MAX);
	text[SMALL_MAX] = '\0';
	assert_int_equal(ws_send_text(c, text), 0);
	m = chat_expect_msg(c, "lobby", nick, text, NULL);
	json_decref(m);
	ws_close(c);
}

CHAT_TEST(test_frames_hostile_text_round_trips_exactly)
{
	static const struct {
		const char *s;
		size_t len;
	} texts[] = {
#define T(s) {s, sizeof(s) - 1}
		T("he said \"hi\" and left"),
		T("back\\slash \\\\ and \\\" and \\u0041 literally"),
		T("</script><script>alert(1)</script>"),
		T("<!-- & &amp; > < ]]> -->"),
		T("line\xe2\x80\xa8separator\xe2\x80\xa9paragraph"),
		T("emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
		  "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
		  "\xf0\x9f\x91\xa7"),
		T("tab\tnewline\ncr\rbell\a backspace\b formfeed\f vt\v esc\x1b"),
		T("del\x7f and \xc2\x80\xc2\x9f C1 controls"),
		T("\xef\xbb\xbf BOM, \xef\xbf\xbd replacement, \xef\xbf\xbf"),
		T("'single' `back` $dollar {brace} [bracket]"),
		T("\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xe4\xb8\xad\xe6\x96"
		  "\x87 \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"),
		T("\"}],\"type\":\"error\",\"x\":{\"a\":\""),
		T("/* */ // \\n \\r \\t \\b \\f \\/ \\ud83d\\ude00"),
	};
	char ctl[64];
	size_t n = 0;
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		print_message("  text %zu\n", i);
		expect_roundtrip(c, nick, texts[i].s, texts[i].len, false);
		expect_roundtrip(c, nick, texts[i].s, texts[i].len, true);
	}
	/* Every C0 control character but NUL (see the NUL test). */
	n = (size_t)snprintf(ctl, sizeof(ctl), "ctl:");
	for (int ch = 1; ch < 0x20; ch++)
		ctl[n++] = (char)ch;
	expect_roundtrip(c, nick, ctl, n, false);
	expect_roundtrip(c, nick, ctl, n, true);
	/* Text that is itself a JSON request, sent inside a request. */
	expect_roundtrip(c, nick, "{\"type\":\"nick\",\"nick\":\"evil\"}", 29,
			 false);
	ws_close(c);
}

CHAT_TEST(test_frames_escaping_survives_worst_case_expansion)
{
	/* Max-size texts (--max-text-bytes 4096) of the characters that grow
	 * most when escaped (x6 for \u003c, \u2028, \u0001). */
	static const char *const units[] = {"<", "\"", "\\", "\x01",
					    "\xe2\x80\xa8", "&", "<\x1f>\xe2\x80\xa9"};
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char *text = malloc(4097);

	assert_non_null(text);
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t ul = strlen(units[u]), len = 0;

		while (len + ul <= 4096) {
			memcpy(text + len, units[u], ul);
			len += ul;
		}
		print_message("  unit %zu: %zu bytes\n", u, len);
		expect_roundtrip(c, nick, text, len, false);
		expect_roundtrip(c, nick, text, len, true);
	}
	free(text);
	ws_close(c);
}

/*
 * lws hands a frame's payload over in pieces of the rx buffer
 * (CHAT_PROTO_RX_BUFFER, small for idle memory), so even an unfragmented
 * message larger than it is reassembled. Payloads of one byte under, at
 * and over each of its first multiples come back whole, and a UTF-8
 * character cut by the piece boundary is not taken for invalid.
 */
CHAT_TEST(test_frames_unfragmented_messages_across_rx_buffer_pieces)
{
	const size_t rx = CHAT_PROTO_RX_BUFFER;
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char *wrapper = message_json("", 0, NULL);
	size_t overhead = strlen(wrapper), cap = 3 * rx + 8;
	char *text = malloc(cap);

	free(wrapper);
	assert_non_null(text);
	for (size_t k = 1; k <= 3; k++)
		for (size_t len = k * rx - 1; len <= k * rx + 1; len++) {
			for (size_t i = 0; i < len; i++)
				text[i] = (char)('a' + i % 26);
			print_message("  %zu bytes\n", len);
			expect_roundtrip(c, nick, text, len, true);
		}
	/* As a JSON request: the payload, wrapper and all, one byte under, at
	 * and over the buffer. */
	for (size_t len = rx - 1 - overhead; len <= rx + 1 - overhead; len++) {
		memset(text, 'j', len);
		expect_roundtrip(c, nick, text, len, false);
	}
	/* A three-byte character straddling the end of the first piece, at
	 * each of its three offsets. */
	for (size_t lead = 0; lead < 3; lead++) {
		size_t len = lead;

		memset(text, 'x', lead);
		while (len + 3 <= rx + 6) {
			memcpy(text + len, "\xe2\x82\xac", 3);
			len += 3;
		}
		expect_roundtrip(c, nick, text, len, true);
	}
	free(text);
	ws_close(c);
}

CHAT_TEST(test_frames_nul_in_plain_text_round_trips)
{
	/* NUL is valid UTF-8 and a control character: it must come back as
	 * \u0000, not cut the text short. */
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);

	expect_roundtrip(c, nick, "a\0b", 3, true);
	ws_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_frames_fragmented_message_is_reassembled, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_unfragmented_messages_across_rx_buffer_pieces,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_one_byte_fragments_split_utf8_sequences,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_ping_between_fragments_is_answered, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_ping_gets_pong_with_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_close_is_answered_and_connection_ends, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_binary_frame_closes_1003, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_invalid_utf8_closes_1007, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_over_max_message_bytes_closes_1009,
			setup_small, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_exactly_max_message_bytes_is_accepted,
			setup_small, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_hostile_text_round_trips_exactly, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_escaping_survives_worst_case_expansion,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frames_nul_in_plain_text_round_trips, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("frames", tests, NULL, NULL);
}
