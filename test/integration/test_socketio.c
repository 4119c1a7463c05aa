/*
 * The socket.io dialect on the wire, with the project's own WebSocket
 * client so that anything can be sent: the handshake's Engine.IO checks
 * (400 with the error body, 404 with --socketio off, origin and limits as
 * for /chat), the open packet, CONNECT and its refusal for other
 * namespaces, chat messages both ways between socket.io and v1 clients,
 * acks, the heartbeat and its timeout, and every malformed packet closing
 * its connection with nothing reaching anyone else. Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"
#include "sio_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_util.h"

#define SMALL_MAX 1024

static int
setup_limits(void **state)
{
	static const char *const args[] = { "--max-connections", "1",
					    "--rate", "1", "--burst", "2",
					    NULL };

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* ---- the handshake ---------------------------------------------------- */

CHAT_TEST(test_socketio_open_packet_fields)
{
	json_t *open, *open2;
	struct ws_client *c = sio_open(port, &open);
	struct ws_client *c2 = sio_open(port, &open2);

	assert_int_equal(json_object_size(open), 5);
	assert_true(sio_sid_is_valid(jstr(open, "sid")));
	assert_true(json_is_array(json_object_get(open, "upgrades")));
	assert_int_equal(json_array_size(json_object_get(open, "upgrades")), 0);
	/* The default --ping-interval, 30 s, is both of Engine.IO's. */
	assert_int_equal(jint(open, "pingInterval"), 30000);
	assert_int_equal(jint(open, "pingTimeout"), 30000);
	assert_int_equal(jint(open, "maxPayload"), SMALL_MAX);
	assert_string_not_equal(jstr(open, "sid"), jstr(open2, "sid"));
	json_decref(open);
	json_decref(open2);
	/* Nothing but the open packet until the client connects. */
	sio_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
	ws_close(c2);
}

CHAT_TEST(test_socketio_handshake_errors_are_engineio_400s)
{
	static const struct {
		const char *path;
		int code;
		const char *message;
	} cases[] = {
		{ "/socket.io/?EIO=3&transport=websocket", 5,
		  "Unsupported protocol version" },
		{ "/socket.io/?EIO=5&transport=websocket", 5,
		  "Unsupported protocol version" },
		{ "/socket.io/?transport=websocket", 5,
		  "Unsupported protocol version" },
		/* Polling's requests are no upgrades. */
		{ "/socket.io/?EIO=4&transport=polling", 3, "Bad request" },
		{ "/socket.io/?EIO=4&transport=webtransport", 0,
		  "Transport unknown" },
		{ "/socket.io/?EIO=4", 0, "Transport unknown" },
		{ "/socket.io/?EIO=4&transport=websocket&sid=abc", 1,
		  "Session ID unknown" },
	};
	struct http_response r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sio_raw_upgrade(port, cases[i].path, NULL, &r), 0);
		sio_expect_engineio_error(&r, cases[i].code, cases[i].message);
	}
	/* A long token before EIO does not hide it. */
	{
		char path[2100];

		snprintf(path, sizeof(path), "/socket.io/?token=%01800d&EIO=3"
			 "&transport=websocket", 0);
		assert_int_equal(sio_raw_upgrade(port, path, NULL, &r), 0);
		sio_expect_engineio_error(&r, 5, "Unsupported protocol version");
	}
	/* Plain HTTP is the polling transport's (test_eio_polling.c), and
	 * the websocket one needs the upgrade. */
	assert_int_equal(http_get(port, "/socket.io/?EIO=4&transport=websocket",
				  CHAT_TIMEOUT_MS, &r),
			 0);
	sio_expect_engineio_error(&r, 3, "Bad request");
	/* Other paths under it are not Engine.IO's. */
	assert_int_equal(sio_raw_upgrade(port, "/socket.io?EIO=4&transport=websocket",
				     NULL, &r),
			 0);
	assert_int_equal(r.status, 404);
	http_response_fini(&r);
	assert_int_equal(http_get(port, "/socket.io/x", CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 404);
	http_response_fini(&r);
	/* The WebSocket checks still apply. */
	assert_int_equal(sio_raw_upgrade(port, SIO_PATH,
				     "Sec-WebSocket-Protocol: http\r\n", &r),
			 0);
	assert_int_equal(r.status, 400);
	http_response_fini(&r);
}

/* The origin check and the connection limits are the same as /chat's. */
CHAT_TEST(test_socketio_origin_is_checked)
{
	struct http_response r;
	char own[64];
	struct ws_connect_opts o = { .path = SIO_PATH, .subprotocol = "",
				     .headers = own };
	struct ws_client *c;

	assert_int_equal(sio_raw_upgrade(port, SIO_PATH,
				     "Origin: http://evil.example\r\n", &r),
			 0);
	assert_int_equal(r.status, 403);
	http_response_fini(&r);
	/* The server's own origin is fine. */
	snprintf(own, sizeof(own), "Origin: http://127.0.0.1:%d\r\n", port);
	c = ws_connect_opts(port, &o);
	assert_non_null(c);
	sio_expect_prefix(c, "0{\"sid\":");
	ws_close(c);
}

CHAT_TEST(test_socketio_connection_limit_applies)
{
	struct ws_client *c = sio_connect(port);
	struct http_response r;

	assert_int_equal(sio_raw_upgrade(port, SIO_PATH, NULL, &r), 0);
	assert_int_equal(r.status, 503);
	http_response_fini(&r);
	assert_int_equal(sio_raw_upgrade(port, "/chat", NULL, &r), 0);
	assert_int_equal(r.status, 503);
	http_response_fini(&r);
	ws_close(c);
}

CHAT_TEST(test_socketio_off_is_404)
{
	struct http_response r;
	struct ws_client *n;

	assert_int_equal(sio_raw_upgrade(port, SIO_PATH, NULL, &r), 0);
	assert_int_equal(r.status, 404);
	http_response_fini(&r);
	assert_int_equal(http_get(port, "/socket.io/?EIO=4&transport=polling",
				  CHAT_TIMEOUT_MS, &r),
			 0);
	assert_int_equal(r.status, 404);
	http_response_fini(&r);
	n = chat_connect(port, NULL);
	chat_roundtrip(n, NULL);
	ws_close(n);
}

/* ---- Socket.IO connect ---------------------------------------------- */

CHAT_TEST(test_socketio_other_namespaces_are_refused)
{
	struct ws_client *c = sio_open(port, NULL);

	sio_send(c, "40/admin,");
	sio_expect(c, "44/admin,{\"message\":\"Invalid namespace\"}");
	sio_send(c, "40/admin,{\"token\":\"x\"}");
	sio_expect(c, "44/admin,{\"message\":\"Invalid namespace\"}");
	/* The connection is still good for "/", auth payload and all. */
	sio_send(c, "40{\"token\":\"x\"}");
	sio_expect_prefix(c, "40{\"sid\":\"");
	sio_send(c, "42[\"chat message\",\"in\"]");
	sio_expect_chat(c, "in");
	ws_close(c);
}

/* ---- chat, both ways -------------------------------------------------- */

CHAT_TEST(test_socketio_chat_message_reaches_everyone)
{
	static const char hostile[] =
		"\"q\" \\b <script>&amp; \xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80";
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *a = sio_connect(port), *b;
	char a_nick[CHAT_NICK_MAX + 1], b_nick[CHAT_NICK_MAX + 1];
	json_t *m, *h;

	sio_presence_join(n, a_nick);
	b = sio_connect(port);
	sio_presence_join(n, b_nick);
	assert_string_not_equal(a_nick, b_nick);
	assert_true(!strncmp(a_nick, "guest-", 6));

	/* The classic example: emit, and everyone gets it, sender too. */
	sio_send(a, "42[\"chat message\",\"hello world\"]");
	sio_expect_chat(a, "hello world");
	sio_expect_chat(b, "hello world");
	m = chat_expect_msg(n, "lobby", a_nick, "hello world", NULL);
	assert_true(jint(m, "id") > 0);
	json_decref(m);

	/* A v1 message reaches the socket.io clients as chat message. */
	chat_say(n, NULL, "from native", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "from native", NULL));
	sio_expect_chat(a, "from native");
	sio_expect_chat(b, "from native");

	/* Whatever the text holds, it arrives as it was sent. */
	chat_say(n, NULL, hostile, NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, hostile, NULL));
	sio_expect_chat(a, hostile);
	sio_expect_chat(b, hostile);
	{
		json_t *ev = json_pack("[s,s]", "chat message", hostile);
		char *s = json_dumps(ev, JSON_COMPACT), *pkt;

		assert_true(asprintf(&pkt, "42%s", s) > 0);
		sio_send(b, pkt);
		free(pkt);
		free(s);
		json_decref(ev);
	}
	sio_expect_chat(a, hostile);
	sio_expect_chat(b, hostile);
	json_decref(chat_expect_msg(n, "lobby", b_nick, hostile, NULL));

	/* Stored like any message: a later client's history has them. */
	ws_close(n);
	n = ws_connect(port);
	assert_non_null(n);
	json_decref(ws_expect_type(n, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	json_decref(ws_expect_type(n, "joined", CHAT_TIMEOUT_MS, WS_STRICT));
	h = ws_expect_type(n, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_int_equal(json_array_size(jarr(h, "messages")), 4);
	assert_string_equal(
		jstr(json_array_get(jarr(h, "messages"), 0), "text"),
		"hello world");
	assert_string_equal(
		jstr(json_array_get(jarr(h, "messages"), 0), "nick"), a_nick);
	json_decref(h);

	/* The socket.io clients got nothing but the chat messages. */
	sio_quiet(a, CHAT_QUIET_MS);
	sio_quiet(b, CHAT_QUIET_MS);
	ws_close(a);
	ws_close(b);
	ws_close(n);
}

/* Presence, typing, joined, history, errors: none of it is sent to a
 * socket.io client, whose next packet is the next lobby message. */
CHAT_TEST(test_socketio_gets_no_native_frames)
{
	struct ws_client *a = sio_connect(port);
	struct ws_client *n = chat_connect(port, NULL), *n2;

	ws_send_pack(n, "{s:s}", "type", "typing");
	ws_send_pack(n, "{s:s,s:s}", "type", "nick", "nick", "renamed");
	json_decref(ws_expect_type(n, "presence", CHAT_TIMEOUT_MS, WS_SKIP));
	ws_send_pack(n, "{s:s,s:s}", "type", "join", "room", "elsewhere");
	json_decref(ws_expect_type(n, "history", CHAT_TIMEOUT_MS, WS_SKIP));
	ws_send_pack(n, "{s:s}", "type", "bogus");
	chat_expect_error(n, "unknown_type", NULL);
	n2 = chat_connect(port, NULL);
	ws_close(n2);
	chat_say(n, "lobby", "the next one", NULL);
	json_decref(chat_wait_msg(n, "lobby", "renamed", "the next one", NULL));
	sio_expect_chat(a, "the next one");
	sio_quiet(a, CHAT_QUIET_MS);
	ws_close(a);
	ws_close(n);
}

CHAT_TEST(test_socketio_acks_answer_events)
{
	struct ws_client *a = sio_connect(port);
	char pkt[256];

	sio_send(a, "421[\"chat message\",\"acked\"]");
	sio_expect(a, "431[{\"status\":\"ok\"}]");
	sio_expect_chat(a, "acked");
	sio_send(a, "4299[\"other\",1,{\"x\":[2]}]");
	sio_expect(a, "4399[{\"status\":\"error\",\"code\":\"unknown_type\","
		      "\"message\":\"the only event is \\\"chat message\\\"\"}]");
	sio_send(a, "423[7,\"a number names an event too\"]");
	sio_expect(a, "433[{\"status\":\"error\",\"code\":\"unknown_type\","
		      "\"message\":\"the only event is \\\"chat message\\\"\"}]");
	sio_send(a, "424[\"chat message\",5]");
	sio_expect(a, "434[{\"status\":\"error\",\"code\":\"bad_request\","
		      "\"message\":\"\\\"chat message\\\" takes a string\"}]");
	sio_send(a, "425[\"chat message\",\"\"]");
	sio_expect(a, "435[{\"status\":\"error\",\"code\":\"empty\","
		      "\"message\":\"message text is empty\"}]");
	/* --max-text-bytes 100 */
	snprintf(pkt, sizeof(pkt), "42999999999999999[\"chat message\",\"%0101d\"]",
		 0);
	sio_send(a, pkt);
	sio_expect_prefix(a, "43999999999999999[{\"status\":\"error\","
			     "\"code\":\"too_long\"");
	/* Without an ack id an error has no answer; and a chat message with
	 * more arguments takes the first. */
	sio_send(a, "42[\"chat message\",5]");
	sio_send(a, "42[\"chat message\",\"two\",\"three\"]");
	sio_expect_chat(a, "two");
	/* An ack from the client matches nothing and is dropped. */
	sio_send(a, "431[\"whatever\"]");
	sio_quiet(a, CHAT_QUIET_MS);
	ws_close(a);
}

CHAT_TEST(test_socketio_requests_are_rate_limited)
{
	struct ws_client *a = sio_connect(port);
	bool ok1 = false, ok2 = false, limited = false;
	int chats = 0;

	/* A refused namespace is answered, so it costs a request as an
	 * error does: --burst 2, so the third at once gets nothing. */
	sio_send(a, "40/admin,");
	sio_send(a, "40/admin,");
	sio_send(a, "40/admin,");
	sio_expect(a, "44/admin,{\"message\":\"Invalid namespace\"}");
	sio_expect(a, "44/admin,{\"message\":\"Invalid namespace\"}");
	sio_quiet(a, CHAT_QUIET_MS);
	/* --rate 1: the burst is back after two seconds. */
	usleep(2100 * 1000);
	/* The third message at once is refused. Acks go out at once,
	 * messages with the end of the loop turn: in any order. */
	sio_send(a, "421[\"chat message\",\"one\"]");
	sio_send(a, "422[\"chat message\",\"two\"]");
	sio_send(a, "423[\"chat message\",\"three\"]");
	for (int i = 0; i < 5; i++) {
		char *p = sio_recv(a);

		if (!strcmp(p, "431[{\"status\":\"ok\"}]"))
			ok1 = true;
		else if (!strcmp(p, "432[{\"status\":\"ok\"}]"))
			ok2 = true;
		else if (sio_has_prefix(p, "433[{\"status\":\"error\",\"code\":"
				       "\"rate_limited\""))
			limited = true;
		else if (!strcmp(p, chats ? "42[\"chat message\",\"two\"]"
					  : "42[\"chat message\",\"one\"]"))
			chats++;
		else
			fail_msg("unexpected '%s'", p);
		free(p);
	}
	assert_true(ok1 && ok2 && limited && chats == 2);
	sio_quiet(a, CHAT_QUIET_MS);
	ws_close(a);
}

/* ---- closes ----------------------------------------------------------- */

/*
 * Each packet the protocols do not allow closes its connection with 1002
 * and a reason; a chat message sent right behind it goes nowhere, and the
 * other clients (socket.io and v1) see nothing of either.
 */
CHAT_TEST(test_socketio_malformed_packets_close_and_reach_nobody)
{
	static const struct {
		const char *packet;
		const char *reason;
	} cases[] = {
		{ "", "engine.io" },
		{ "7", "engine.io" },
		{ "x42[\"chat message\",\"x\"]", "engine.io" },
		{ "0", "engine.io" },
		{ "2", "engine.io" },
		{ "3probe", "engine.io" },
		{ "5", "engine.io" },
		{ "6", "engine.io" },
		{ "4", "socket.io" },
		{ "47", "socket.io" },
		{ "42", "socket.io" },
		{ "42[]", "socket.io" },
		{ "42{}", "socket.io" },
		{ "42\"chat message\"", "socket.io" },
		{ "42abc", "socket.io" },
		{ "42[\"chat message\",\"x\"", "socket.io" },
		{ "42[\"connect\",\"x\"]", "socket.io" },
		{ "42[\"disconnect\"]", "socket.io" },
		{ "42[null,\"x\"]", "socket.io" },
		{ "42[[\"chat message\"],\"x\"]", "socket.io" },
		{ "421234567890123456[\"chat message\",\"x\"]", "socket.io" },
		{ "42/admin,[\"chat message\",\"x\"]", "socket.io" },
		{ "40", "socket.io" }, /* connected already */
		{ "40[]", "socket.io" },
		{ "41{}", "socket.io" },
		{ "43", "socket.io" },
		{ "43{}", "socket.io" },
		{ "44{\"message\":\"x\"}", "socket.io" },
	};
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *b = sio_connect(port);
	char nick[CHAT_NICK_MAX + 1];

	sio_presence_join(n, nick);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ws_client *c = sio_connect(port);

		sio_presence_join(n, nick);
		ws_send_text(c, cases[i].packet);
		ws_send_text(c, "42[\"chat message\",\"after\"]");
		print_message("packet '%s'\n", cases[i].packet);
		sio_expect_close(c, 1002, cases[i].reason);
		ws_free(c);
		json_decref(ws_expect_type(n, "presence", CHAT_TIMEOUT_MS,
					   WS_STRICT));
	}
	/* Before CONNECT, only CONNECT will do. */
	{
		struct ws_client *c = sio_open(port, NULL);

		ws_send_text(c, "42[\"chat message\",\"after\"]");
		sio_expect_close(c, 1002, "no connect first");
		ws_free(c);
	}
	/* The barrier: the next thing anyone gets is this message. */
	chat_say(n, NULL, "barrier", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "barrier", NULL));
	sio_expect_chat(b, "barrier");
	ws_close(b);
	ws_close(n);
}

CHAT_TEST(test_socketio_binary_is_refused)
{
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *c = sio_connect(port);
	char nick[CHAT_NICK_MAX + 1];

	sio_presence_join(n, nick);
	/* A binary frame, like any v1 client's: 1003. */
	ws_send_binary(c, "\x01\x02", 2);
	sio_expect_close(c, 1003, NULL);
	ws_free(c);
	json_decref(ws_expect_type(n, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	/* Binary attachments: a Socket.IO disconnect, then 1003. */
	c = sio_connect(port);
	sio_presence_join(n, nick);
	ws_send_text(c, "451-[\"chat message\",{\"_placeholder\":true,"
			"\"num\":0}]");
	ws_send_binary(c, "\x01\x02", 2);
	sio_expect(c, "41");
	sio_expect_close(c, 1003, "binary attachments are not supported");
	ws_free(c);
	chat_say(n, NULL, "barrier", NULL);
	json_decref(chat_wait_msg(n, "lobby", NULL, "barrier", NULL));
	ws_close(n);
}

CHAT_TEST(test_socketio_oversize_and_bad_utf8_close)
{
	struct ws_client *c = sio_connect(port);
	char big[SMALL_MAX + 64];

	/* Over maxPayload (--max-message-bytes): 1009. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "42[\"chat message\",\"", 19);
	memcpy(big + sizeof(big) - 2, "\"]", 2);
	ws_send_textn(c, big, sizeof(big));
	sio_expect_close(c, 1009, NULL);
	ws_free(c);
	c = sio_connect(port);
	ws_send_textn(c, "42[\"chat message\",\"\xff\"]", 22);
	sio_expect_close(c, 1007, NULL);
	ws_free(c);
	/* Exactly maxPayload is fine (its text is then too long). */
	c = sio_connect(port);
	{
		char pkt[SMALL_MAX];

		memcpy(pkt, "421[\"chat message\",\"", 20);
		memset(pkt + 20, 'y', SMALL_MAX - 22);
		memcpy(pkt + SMALL_MAX - 2, "\"]", 2);
		ws_send_textn(c, pkt, SMALL_MAX);
	}
	sio_expect_prefix(c, "431[{\"status\":\"error\",\"code\":\"too_long\"");
	ws_close(c);
}

/* The client's own ends: Engine.IO close and Socket.IO disconnect. */
CHAT_TEST(test_socketio_client_close_and_disconnect)
{
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *c = sio_connect(port);
	char nick[CHAT_NICK_MAX + 1];
	json_t *p;

	sio_presence_join(n, nick);
	sio_send(c, "41");
	sio_expect_close(c, 1000, "socket.io disconnect");
	ws_free(c);
	p = ws_expect_type(n, "presence", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(p, "event"), "leave");
	assert_string_equal(jstr(p, "nick"), nick);
	json_decref(p);
	c = sio_connect(port);
	sio_presence_join(n, nick);
	sio_send(c, "1");
	sio_expect_close(c, 1000, "engine.io close");
	ws_free(c);
	json_decref(ws_expect_type(n, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	ws_close(n);
}

/* info lines for socket.io sessions, as for v1 ones, saying which. */
CHAT_TEST(test_socketio_connect_and_disconnect_are_logged)
{
	struct ws_client *c = sio_connect(port);
	long long deadline;
	char *log = NULL;

	ws_close(c);
	deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	for (;;) {
		free(log);
		log = chatd_stderr(&fx->d);
		if ((log && strstr(log, "socket.io disconnected from 127.0.0.1")) ||
		    monotonic_ms() > deadline)
			break;
		usleep(50 * 1000);
	}
	assert_non_null(log);
	if (!strstr(log, "session 1: socket.io connected from 127.0.0.1 as "
			 "guest-") ||
	    !strstr(log, "session 1: socket.io disconnected from 127.0.0.1"))
		fail_msg("no socket.io connect and disconnect lines:\n%s", log);
	free(log);
}

/* ---- the heartbeat (--ping-interval 1) ------------------------------- */

CHAT_TEST(test_socketio_pings_are_answered_and_keep_it_open)
{
	json_t *open;
	struct ws_client *c = sio_open(port, &open);
	long long until;
	int pings = 0, chats = 0;

	assert_int_equal(jint(open, "pingInterval"), 1000);
	assert_int_equal(jint(open, "pingTimeout"), 1000);
	json_decref(open);
	sio_send(c, "40");
	/* Pinged every interval, busy or not (each pong comes with a
	 * message); each answer keeps it open. */
	until = monotonic_ms() + 4500;
	while (monotonic_ms() < until) {
		struct ws_msg m;
		int r = ws_recv_msg(c, &m, 200);

		assert_int_not_equal(r, WS_CLOSED);
		if (r != WS_OK)
			continue;
		if (!strcmp(m.data, "2")) {
			pings++;
			sio_send(c, "3");
			sio_send(c, "42[\"chat message\",\"busy\"]");
		} else if (!strcmp(m.data, "42[\"chat message\",\"busy\"]")) {
			chats++;
		} else if (!sio_has_prefix(m.data, "40{")) {
			fail_msg("unexpected '%s'", m.data);
		}
		ws_msg_fini(&m);
	}
	if (pings < 3 || chats < 2)
		fail_msg("%d pings, %d messages in 4.5 s at a 1 s interval",
			 pings, chats);
	assert_false(ws_is_closed(c));
	ws_close(c);
}

CHAT_TEST(test_socketio_unanswered_ping_closes)
{
	struct ws_client *c = sio_connect(port);
	long long start = monotonic_ms();

	sio_expect(c, "2");
	/* No pong: closed at the next interval. */
	sio_expect_close(c, 1001, "ping timeout");
	if (monotonic_ms() - start > 4000)
		fail_msg("closed after %lld ms", monotonic_ms() - start);
	ws_free(c);
}

CHAT_TEST(test_socketio_no_connect_closes)
{
	json_t *open;
	struct ws_client *c = sio_open(port, &open);
	long long start = monotonic_ms();
	struct ws_msg m;

	json_decref(open);
	/* Pongs alone do not keep a connection that never says CONNECT:
	 * each ping (at most one or two at a 1 s interval) is answered. */
	for (int i = 0; i < 3 && ws_recv_msg(c, &m, 1500) == WS_OK; i++) {
		if (strcmp(m.data, "2"))
			fail_msg("unexpected '%s'", m.data);
		ws_msg_fini(&m);
		sio_send(c, "3");
	}
	sio_expect_close(c, 1008, "no connect");
	if (monotonic_ms() - start > 4000)
		fail_msg("closed after %lld ms", monotonic_ms() - start);
	ws_free(c);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sio_setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_socketio_open_packet_fields),
		T(test_socketio_handshake_errors_are_engineio_400s),
		T(test_socketio_origin_is_checked),
		cmocka_unit_test_setup_teardown(
			test_socketio_connection_limit_applies, setup_limits,
			teardown),
		cmocka_unit_test_setup_teardown(test_socketio_off_is_404,
						sio_setup_off, teardown),
		T(test_socketio_other_namespaces_are_refused),
		T(test_socketio_chat_message_reaches_everyone),
		T(test_socketio_gets_no_native_frames),
		T(test_socketio_acks_answer_events),
		cmocka_unit_test_setup_teardown(
			test_socketio_requests_are_rate_limited, setup_limits,
			teardown),
		T(test_socketio_malformed_packets_close_and_reach_nobody),
		T(test_socketio_binary_is_refused),
		T(test_socketio_oversize_and_bad_utf8_close),
		T(test_socketio_client_close_and_disconnect),
		T(test_socketio_connect_and_disconnect_are_logged),
		cmocka_unit_test_setup_teardown(
			test_socketio_pings_are_answered_and_keep_it_open,
			sio_setup_heartbeat, teardown),
		cmocka_unit_test_setup_teardown(
			test_socketio_unanswered_ping_closes, sio_setup_heartbeat,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_socketio_no_connect_closes, sio_setup_heartbeat,
			teardown),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
