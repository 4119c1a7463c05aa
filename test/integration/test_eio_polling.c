/*
 * Engine.IO's HTTP long-polling transport on the wire (engine.io-protocol
 * v4), with the project's blocking HTTP client (a waiting GET runs on a
 * thread of its own): the handshake and its refusals, POSTs of packets
 * and GETs that wait for them, Socket.IO on top with v1 and socket.io
 * clients in the same lobby, the heartbeat and its timeout, the requests
 * that end a session (overlapping GETs, an oversized POST, malformed
 * packets, which reach nobody), the upgrade to a WebSocket, the
 * connection limit, and a thousand socket.io clients served in order.
 * Fresh chatd per test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"
#include "sio_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_util.h"

#define POLL_PATH "/socket.io/?EIO=4&transport=polling"
#define SMALL_MAX 1024
#define LONG_POLL_MS 8000 /* bounds a GET that must be answered */
#define WAIT_MS 300	  /* "this GET is still waiting" */

static int
setup_per_ip(void **state)
{
	static const char *const args[] = { "--max-connections-per-ip", "1",
					    NULL };

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* ---- a polling client, by hand --------------------------------------- */

#define SID_SIZE 21

static void
sid_path(char *out, size_t n, const char *sid)
{
	snprintf(out, n, POLL_PATH "&sid=%s", sid);
}

static int
eio_get(int port, const char *sid, int ms, struct http_response *r)
{
	char path[128];

	sid_path(path, sizeof(path), sid);
	return http_get(port, path, ms, r);
}

static int
eio_post(int port, const char *sid, const char *body, size_t len,
	 struct http_response *r)
{
	char path[128];
	const struct http_request req = {
		.method = "POST", .path = path,
		.headers = "Content-Type: text/plain;charset=UTF-8\r\n",
		.body = body, .body_len = len,
	};

	sid_path(path, sizeof(path), sid);
	return http_request(port, &req, CHAT_TIMEOUT_MS, r);
}

/* A POST of body that must be answered 200 "ok". */
#define eio_post_ok(port, sid, body)                                          \
	eio_post_ok_at(__FILE__, __LINE__, (port), (sid), (body), strlen(body))
static void
eio_post_ok_at(const char *file, int line, int port, const char *sid,
	       const char *body, size_t len)
{
	struct http_response r;

	if (eio_post(port, sid, body, len, &r) < 0)
		FAIL_AT(file, line, "POST '%.40s' got no response", body);
	if (r.status != 200 || strcmp(r.body, "ok"))
		FAIL_AT(file, line, "POST '%.40s' answered %d '%s'", body,
			r.status, r.body);
	http_response_fini(&r);
}

/* A payload's packets: the body split at the record separator. */
struct packets {
	char **p;
	size_t n;
};

static void
packets_split(const char *body, size_t len, struct packets *out)
{
	size_t start = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= len; i++) {
		if (i < len && body[i] != '\x1e')
			continue;
		out->p = realloc(out->p, (out->n + 1) * sizeof(*out->p));
		assert_non_null(out->p);
		out->p[out->n++] = strndup(body + start, i - start);
		start = i + 1;
	}
}

static void
packets_fini(struct packets *pk)
{
	for (size_t i = 0; i < pk->n; i++)
		free(pk->p[i]);
	free(pk->p);
	memset(pk, 0, sizeof(*pk));
}

/* r must be a 200 polling payload: its packets into pk; r is freed. */
static void
payload_at(const char *file, int line, struct http_response *r,
	   struct packets *pk)
{
	char type[64];

	if (r->status != 200)
		FAIL_AT(file, line, "GET answered %d '%s'", r->status,
			r->body);
	if (!http_header(r, "Content-Type", type, sizeof(type)) ||
	    strcmp(type, "text/plain; charset=UTF-8"))
		FAIL_AT(file, line, "GET answered with Content-Type '%s'",
			type);
	if (!r->body_len)
		FAIL_AT(file, line, "GET answered with an empty payload");
	packets_split(r->body, r->body_len, pk);
	http_response_fini(r);
}

/* A GET with sid: a 200 payload within LONG_POLL_MS, its packets. */
#define eio_poll(port, sid, pk) eio_poll_at(__FILE__, __LINE__, (port), (sid), (pk))
static void
eio_poll_at(const char *file, int line, int port, const char *sid,
	    struct packets *pk)
{
	struct http_response r;

	if (eio_get(port, sid, LONG_POLL_MS, &r) < 0)
		FAIL_AT(file, line, "GET got no response in %d ms",
			LONG_POLL_MS);
	payload_at(file, line, &r, pk);
}

/* The next GET's payload must be exactly want (one packet). */
#define eio_expect(port, sid, want)                                           \
	eio_expect_at(__FILE__, __LINE__, (port), (sid), (want))
static void
eio_expect_at(const char *file, int line, int port, const char *sid,
	      const char *want)
{
	struct packets pk;

	eio_poll_at(file, line, port, sid, &pk);
	if (pk.n != 1 || strcmp(pk.p[0], want))
		FAIL_AT(file, line, "expected the payload '%s', got %zu "
			"packets, the first '%s'",
			want, pk.n, pk.p[0]);
	packets_fini(&pk);
}

/* The handshake: 200, text/plain, the open packet with its fields;
 * the sid into sid (SID_SIZE bytes). */
#define eio_handshake(port, sid, open_out)                                    \
	eio_handshake_at(__FILE__, __LINE__, (port), (sid), (open_out))
static void
eio_handshake_at(const char *file, int line, int port, char *sid,
		 json_t **open_out)
{
	struct http_response r;
	char type[64];
	json_t *open;

	if (http_get(port, POLL_PATH, CHAT_TIMEOUT_MS, &r) < 0)
		FAIL_AT(file, line, "handshake: no response");
	if (r.status != 200)
		FAIL_AT(file, line, "handshake answered %d '%s'", r.status,
			r.body);
	if (!http_header(&r, "Content-Type", type, sizeof(type)) ||
	    strcmp(type, "text/plain; charset=UTF-8"))
		FAIL_AT(file, line, "handshake Content-Type '%s'", type);
	if (r.body[0] != '0' || memchr(r.body, '\x1e', r.body_len))
		FAIL_AT(file, line, "handshake payload '%s' is not one open "
			"packet", r.body);
	open = json_loads(r.body + 1, 0, NULL);
	if (!json_is_object(open) ||
	    !sio_sid_is_valid(jstr_opt(open, "sid")))
		FAIL_AT(file, line, "open packet '%s'", r.body);
	snprintf(sid, SID_SIZE, "%s", jstr_opt(open, "sid"));
	http_response_fini(&r);
	if (open_out)
		*open_out = open;
	else
		json_decref(open);
}

/* Handshake, then CONNECT to "/": POST 40, and a GET brings 40{"sid"}
 * (pings before it are answered). */
#define eio_connect(port, sid) eio_connect_at(__FILE__, __LINE__, (port), (sid))
static void
eio_connect_at(const char *file, int line, int port, char *sid)
{
	bool connected = false;

	eio_handshake_at(file, line, port, sid, NULL);
	eio_post_ok_at(file, line, port, sid, "40", 2);
	while (!connected) {
		struct packets pk;

		eio_poll_at(file, line, port, sid, &pk);
		for (size_t i = 0; i < pk.n; i++) {
			json_t *j;

			if (!strcmp(pk.p[i], "2")) {
				eio_post_ok_at(file, line, port, sid, "3", 1);
				continue;
			}
			j = strncmp(pk.p[i], "40{", 3)
				    ? NULL
				    : json_loads(pk.p[i] + 2, 0, NULL);
			if (connected || !j || json_object_size(j) != 1 ||
			    !sio_sid_is_valid(jstr_opt(j, "sid")))
				FAIL_AT(file, line, "CONNECT answered '%s'",
					pk.p[i]);
			json_decref(j);
			connected = true;
		}
		packets_fini(&pk);
	}
}

/* Bodies of the 400s of a session that is no more, or no more polled:
 * Engine.IO's "Session ID unknown" or "Bad request". */
#define expect_gone(r) expect_gone_at(__FILE__, __LINE__, (r))
static void
expect_gone_at(const char *file, int line, struct http_response *r)
{
	if (r->status != 400 ||
	    (strcmp(r->body, "{\"code\":1,\"message\":\"Session ID unknown\"}") &&
	     strcmp(r->body, "{\"code\":3,\"message\":\"Bad request\"}")))
		FAIL_AT(file, line, "expected 400 code 1 or 3, got %d '%s'",
			r->status, r->body);
	http_response_fini(r);
}

/* The sid is unknown now, to GET and POST alike. */
#define expect_unknown_sid(port, sid)                                         \
	expect_unknown_sid_at(__FILE__, __LINE__, (port), (sid))
static void
expect_unknown_sid_at(const char *file, int line, int port, const char *sid)
{
	struct http_response r;

	if (eio_get(port, sid, CHAT_TIMEOUT_MS, &r) < 0)
		FAIL_AT(file, line, "GET of an ended session: no response");
	sio_expect_engineio_error_at(file, line, &r, 1, "Session ID unknown");
	if (eio_post(port, sid, "3", 1, &r) < 0)
		FAIL_AT(file, line, "POST to an ended session: no response");
	sio_expect_engineio_error_at(file, line, &r, 1, "Session ID unknown");
}

/* A session's last poll, pk (freed here): it ends with the close packet
 * "1", and holds no event before it but the chat message mine, when
 * given. */
static void
check_last_poll(const char *file, int line, struct packets *pk,
		const char *mine)
{
	if (strcmp(pk->p[pk->n - 1], "1"))
		FAIL_AT(file, line, "the last poll ended '%s', not with the "
			"close packet",
			pk->p[pk->n - 1]);
	for (size_t i = 0; i + 1 < pk->n; i++)
		if (sio_has_prefix(pk->p[i], "42") &&
		    !(mine && sio_is_chat(pk->p[i], mine)))
			FAIL_AT(file, line, "an event in the last poll: '%s'",
				pk->p[i]);
	packets_fini(pk);
}

/* The session has ended: its next GET is its last poll (check_last_poll),
 * and then the sid is unknown. */
#define expect_ended(port, sid, mine)                                         \
	expect_ended_at(__FILE__, __LINE__, (port), (sid), (mine))
static void
expect_ended_at(const char *file, int line, int port, const char *sid,
		const char *mine)
{
	struct packets pk;

	eio_poll_at(file, line, port, sid, &pk);
	check_last_poll(file, line, &pk, mine);
	expect_unknown_sid_at(file, line, port, sid);
}

/* The session is over: its last poll, if it comes in time, is as
 * check_last_poll wants; then, or at once, its sid is unknown. */
#define expect_over(port, sid) expect_over_at(__FILE__, __LINE__, (port), (sid))
static void
expect_over_at(const char *file, int line, int port, const char *sid)
{
	struct http_response r;
	struct packets pk;

	if (eio_get(port, sid, LONG_POLL_MS, &r) < 0)
		FAIL_AT(file, line, "the last poll got no answer");
	if (r.status != 200) {
		sio_expect_engineio_error(&r, 1, "Session ID unknown");
		return;
	}
	payload_at(file, line, &r, &pk);
	check_last_poll(file, line, &pk, NULL);
	expect_unknown_sid_at(file, line, port, sid);
}

/* A v1 client sees a session leave the lobby. */
#define expect_leave(n, nick) expect_leave_at(__FILE__, __LINE__, (n), (nick))
static void
expect_leave_at(const char *file, int line, struct ws_client *n,
		const char *nick)
{
	json_t *p = ws_expect_type_at(file, line, n, "presence",
				      CHAT_TIMEOUT_MS, WS_STRICT);

	if (strcmp(jstr_opt(p, "event") ? jstr_opt(p, "event") : "", "leave") ||
	    strcmp(jstr_opt(p, "nick") ? jstr_opt(p, "nick") : "", nick))
		FAIL_AT(file, line, "expected %s to leave, got %s", nick,
			json_brief(p));
	json_decref(p);
}

/* ---- a GET that waits, on a thread ------------------------------------ */

struct bg_get {
	pthread_t thread;
	int port;
	char path[128];
	int rc;
	struct http_response r;
	atomic_bool done;
	long long ended_ms;
};

static void *
bg_get_run(void *arg)
{
	struct bg_get *b = arg;

	b->rc = http_get(b->port, b->path, LONG_POLL_MS, &b->r);
	b->ended_ms = monotonic_ms();
	atomic_store(&b->done, true);
	return NULL;
}

/* Starts a GET with sid and checks that it is still waiting WAIT_MS on. */
static void
bg_get_start(struct bg_get *b, int port, const char *sid)
{
	memset(b, 0, sizeof(*b));
	b->port = port;
	sid_path(b->path, sizeof(b->path), sid);
	atomic_init(&b->done, false);
	assert_int_equal(pthread_create(&b->thread, NULL, bg_get_run, b), 0);
	usleep(WAIT_MS * 1000);
	if (atomic_load(&b->done))
		fail_msg("the GET did not wait: answered %d '%s'", b->r.status,
			 b->r.body);
}

/* Waits for the GET's answer (the thread's own deadline bounds it); it
 * must have come within ms of since. */
static void
bg_get_join(struct bg_get *b, long long since, int ms)
{
	assert_int_equal(pthread_join(b->thread, NULL), 0);
	if (b->rc < 0)
		fail_msg("the waiting GET got no response");
	if (b->ended_ms - since > ms)
		fail_msg("the waiting GET was answered after %lld ms",
			 b->ended_ms - since);
}

/* ---- the handshake ---------------------------------------------------- */

CHAT_TEST(test_eio_polling_handshake_open_packet)
{
	char sid[SID_SIZE], sid2[SID_SIZE];
	json_t *open, *up;

	eio_handshake(port, sid, &open);
	assert_int_equal(json_object_size(open), 5);
	up = json_object_get(open, "upgrades");
	assert_true(json_is_array(up));
	assert_int_equal(json_array_size(up), 1);
	assert_string_equal(json_string_value(json_array_get(up, 0)),
			    "websocket");
	assert_int_equal(jint(open, "pingInterval"), 30000);
	assert_int_equal(jint(open, "pingTimeout"), 30000);
	assert_int_equal(jint(open, "maxPayload"), SMALL_MAX);
	json_decref(open);
	eio_handshake(port, sid2, NULL);
	assert_string_not_equal(sid, sid2);
	/* The open packet said it all: a POST is still answered ok. */
	eio_post_ok(port, sid, "3");
}

CHAT_TEST(test_eio_polling_handshake_and_sid_errors)
{
	const struct http_request post = { .method = "POST", .path = POLL_PATH,
					   .body = "40", .body_len = 2 };
	struct http_response r;

	assert_int_equal(http_request(port, &post, CHAT_TIMEOUT_MS, &r), 0);
	sio_expect_engineio_error(&r, 2, "Bad handshake method");
	assert_int_equal(http_get(port, "/socket.io/?EIO=3&transport=polling",
				  CHAT_TIMEOUT_MS, &r),
			 0);
	sio_expect_engineio_error(&r, 5, "Unsupported protocol version");
	assert_int_equal(http_get(port, "/socket.io/?EIO=4&transport=foo",
				  CHAT_TIMEOUT_MS, &r),
			 0);
	sio_expect_engineio_error(&r, 0, "Transport unknown");
	/* Unknown sids, well formed or not. */
	expect_unknown_sid(port, "AAAAAAAAAAAAAAAAAAAA");
	expect_unknown_sid(port, "nope");
}

CHAT_TEST(test_eio_polling_off_is_404)
{
	struct http_response r;

	assert_int_equal(http_get(port, POLL_PATH, CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 404);
	http_response_fini(&r);
}

/* ---- chat over polling ------------------------------------------------ */

/* A GET waits until there is something to say, and is answered as soon
 * as a v1 client says it. */
CHAT_TEST(test_eio_polling_long_poll_delivers_when_there_is_news)
{
	struct ws_client *n = chat_connect(port, NULL);
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	struct bg_get b;
	struct packets pk;
	long long said;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	bg_get_start(&b, port, sid);
	said = monotonic_ms();
	chat_say(n, NULL, "news", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "news", NULL));
	bg_get_join(&b, said, 2000);
	payload_at(__FILE__, __LINE__, &b.r, &pk);
	assert_int_equal(pk.n, 1);
	assert_true(sio_is_chat(pk.p[0], "news"));
	packets_fini(&pk);

	/* Queued while nobody polls: the next GET has them all, in order,
	 * one payload. */
	chat_say(n, NULL, "q1", NULL);
	chat_say(n, NULL, "q2", NULL);
	chat_say(n, NULL, "q3", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "q1", NULL));
	json_decref(chat_expect_msg(n, "lobby", NULL, "q2", NULL));
	json_decref(chat_expect_msg(n, "lobby", NULL, "q3", NULL));
	eio_poll(port, sid, &pk);
	if (pk.n != 3 || !sio_is_chat(pk.p[0], "q1") ||
	    !sio_is_chat(pk.p[1], "q2") || !sio_is_chat(pk.p[2], "q3"))
		fail_msg("expected q1, q2, q3 in one payload, got %zu packets, "
			 "the first '%s'", pk.n, pk.p[0]);
	packets_fini(&pk);
	ws_close(n);
}

/* POSTed events reach everyone: v1 clients, socket.io clients on a
 * WebSocket, and the poller itself. */
CHAT_TEST(test_eio_polling_post_reaches_everyone)
{
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *s;
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1], s_nick[CHAT_NICK_MAX + 1];
	struct packets pk;
	bool acked = false, chat = false;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	assert_true(!strncmp(nick, "guest-", 6));
	s = sio_connect(port);
	sio_presence_join(n, s_nick);

	eio_post_ok(port, sid, "42[\"chat message\",\"hi\"]");
	json_decref(chat_expect_msg(n, "lobby", nick, "hi", NULL));
	sio_expect_chat(s, "hi");
	eio_poll(port, sid, &pk);
	assert_int_equal(pk.n, 1);
	assert_true(sio_is_chat(pk.p[0], "hi"));
	packets_fini(&pk);

	/* Several packets in one POST, in order. */
	eio_post_ok(port, sid, "42[\"chat message\",\"one\"]\x1e"
			       "42[\"chat message\",\"two\"]");
	json_decref(chat_expect_msg(n, "lobby", nick, "one", NULL));
	json_decref(chat_expect_msg(n, "lobby", nick, "two", NULL));
	sio_expect_chat(s, "one");
	sio_expect_chat(s, "two");
	eio_poll(port, sid, &pk);
	assert_int_equal(pk.n, 2);
	assert_true(sio_is_chat(pk.p[0], "one"));
	assert_true(sio_is_chat(pk.p[1], "two"));
	packets_fini(&pk);

	/* A socket.io client on a WebSocket reaches the poller. */
	sio_send(s, "42[\"chat message\",\"from ws\"]");
	sio_expect_chat(s, "from ws");
	json_decref(chat_expect_msg(n, "lobby", s_nick, "from ws", NULL));
	eio_poll(port, sid, &pk);
	assert_int_equal(pk.n, 1);
	assert_true(sio_is_chat(pk.p[0], "from ws"));
	packets_fini(&pk);

	/* An ack id is answered, over polling too. */
	eio_post_ok(port, sid, "421[\"chat message\",\"x\"]");
	while (!acked || !chat) {
		eio_poll(port, sid, &pk);
		for (size_t i = 0; i < pk.n; i++) {
			if (!acked && !strcmp(pk.p[i], "431[{\"status\":\"ok\"}]"))
				acked = true;
			else if (!chat && sio_is_chat(pk.p[i], "x"))
				chat = true;
			else
				fail_msg("unexpected '%s'", pk.p[i]);
		}
		packets_fini(&pk);
	}
	json_decref(chat_expect_msg(n, "lobby", nick, "x", NULL));
	sio_expect_chat(s, "x");
	sio_quiet(s, CHAT_QUIET_MS);
	ws_close(s);
	ws_close(n);
}

/* ---- the heartbeat (--ping-interval 1) ------------------------------- */

CHAT_TEST(test_eio_polling_pings_come_and_pongs_keep_it_open)
{
	char sid[SID_SIZE];
	json_t *open;
	long long until, longest = 0;
	int pings = 0;
	bool alive = false;

	eio_handshake(port, sid, &open);
	assert_int_equal(jint(open, "pingInterval"), 1000);
	assert_int_equal(jint(open, "pingTimeout"), 1000);
	json_decref(open);
	eio_post_ok(port, sid, "40");
	until = monotonic_ms() + 4500;
	while (monotonic_ms() < until) {
		struct packets pk;
		long long t = monotonic_ms();

		eio_poll(port, sid, &pk);
		if (monotonic_ms() - t > longest)
			longest = monotonic_ms() - t;
		for (size_t i = 0; i < pk.n; i++) {
			if (!strcmp(pk.p[i], "2")) {
				pings++;
				eio_post_ok(port, sid, "3");
			} else if (!sio_has_prefix(pk.p[i], "40{")) {
				fail_msg("unexpected '%s'", pk.p[i]);
			}
		}
		packets_fini(&pk);
	}
	if (pings < 3)
		fail_msg("%d pings in 4.5 s at a 1 s interval", pings);
	/* A poll never waits much longer than an interval. */
	if (longest > 2500)
		fail_msg("a GET waited %lld ms", longest);
	/* Still open. */
	eio_post_ok(port, sid, "42[\"chat message\",\"alive\"]");
	for (int i = 0; i < 5 && !alive; i++) {
		struct packets pk;

		eio_poll(port, sid, &pk);
		for (size_t k = 0; k < pk.n; k++) {
			if (!strcmp(pk.p[k], "2"))
				eio_post_ok(port, sid, "3");
			else if (sio_is_chat(pk.p[k], "alive"))
				alive = true;
			else
				fail_msg("unexpected '%s'", pk.p[k]);
		}
		packets_fini(&pk);
	}
	assert_true(alive);
}

/* (No v1 client watches: at a 1 s interval it would have to answer its
 * own pings meanwhile.) */
CHAT_TEST(test_eio_polling_unanswered_ping_ends_the_session)
{
	char sid[SID_SIZE];
	bool pinged = false;
	long long start;
	struct packets pk;

	eio_connect(port, sid);
	while (!pinged) {
		eio_poll(port, sid, &pk);
		for (size_t i = 0; i < pk.n; i++)
			if (!strcmp(pk.p[i], "2"))
				pinged = true;
			else
				fail_msg("unexpected '%s'", pk.p[i]);
		packets_fini(&pk);
	}
	/* No pong: the poll made at once is answered with the close at the
	 * next interval. */
	start = monotonic_ms();
	eio_expect(port, sid, "1");
	if (monotonic_ms() - start > 3000)
		fail_msg("closed after %lld ms", monotonic_ms() - start);
	expect_unknown_sid(port, sid);
}

/* ---- requests that end a session ------------------------------------- */

CHAT_TEST(test_eio_polling_overlapping_gets_end_the_session)
{
	struct ws_client *n = chat_connect(port, NULL);
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	struct bg_get b;
	struct http_response r;
	struct packets pk;
	long long t;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	bg_get_start(&b, port, sid);
	assert_int_equal(eio_get(port, sid, CHAT_TIMEOUT_MS, &r), 0);
	t = monotonic_ms();
	sio_expect_engineio_error(&r, 3, "Bad request");
	bg_get_join(&b, t, 2000);
	payload_at(__FILE__, __LINE__, &b.r, &pk);
	assert_string_equal(pk.p[pk.n - 1], "1");
	packets_fini(&pk);
	expect_unknown_sid(port, sid);
	expect_leave(n, nick);
	ws_close(n);
}

CHAT_TEST(test_eio_polling_oversized_post_is_413_and_ends_the_session)
{
	struct ws_client *n = chat_connect(port, NULL);
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	char body[SMALL_MAX + 1];
	struct http_response r;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	/* Exactly maxPayload is fine (its text is too long for a message:
	 * the ack says so). */
	memcpy(body, "421[\"chat message\",\"", 20);
	memset(body + 20, 'y', SMALL_MAX - 22);
	memcpy(body + SMALL_MAX - 2, "\"]", 2);
	eio_post_ok_at(__FILE__, __LINE__, port, sid, body, SMALL_MAX);
	{
		struct packets pk;

		eio_poll(port, sid, &pk);
		assert_int_equal(pk.n, 1);
		if (!sio_has_prefix(pk.p[0], "431[{\"status\":\"error\","
					     "\"code\":\"too_long\""))
			fail_msg("unexpected '%s'", pk.p[0]);
		packets_fini(&pk);
	}
	/* One byte more: 413. */
	memcpy(body, "42[\"chat message\",\"", 19);
	memset(body + 19, 'z', SMALL_MAX + 1 - 21);
	memcpy(body + SMALL_MAX - 1, "\"]", 2);
	assert_int_equal(eio_post(port, sid, body, SMALL_MAX + 1, &r), 0);
	assert_int_equal(r.status, 413);
	http_response_fini(&r);
	/* The session is over: a last poll may still bring its close. */
	expect_over(port, sid);
	expect_leave(n, nick);
	chat_say(n, NULL, "barrier", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "barrier", NULL));
	ws_close(n);
}

/*
 * Each malformed POST ends its session, and neither it nor a chat message
 * POSTed right behind it reaches anyone: the v1 client's and the
 * socket.io client's next frame after all of them is the barrier.
 */
CHAT_TEST(test_eio_polling_malformed_posts_end_it_and_reach_nobody)
{
	static const char *const cases[] = {
		"",
		"9",
		"x42[\"chat message\",\"x\"]",
		"bAQIDBA==",
		"42[\"chat message\"",
		"42[\"chat message\",\"x\"",
		"42",
		"451-[\"chat message\",{\"_placeholder\":true,\"num\":0}]",
		"42[\"chat message\",\"first\"]\x1e" "9",
		/* A valid packet behind a malformed one goes nowhere. */
		"9\x1e" "42[\"chat message\",\"behind\"]",
		"42[\"chat message\"\x1e" "42[\"chat message\",\"behind\"]",
	};
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *s = sio_connect(port);
	char nick[CHAT_NICK_MAX + 1];

	sio_presence_join(n, nick);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sid[SID_SIZE];
		struct http_response r;
		bool first = strstr(cases[i], "first") != NULL;
		static const char after[] = "42[\"chat message\",\"after\"]";

		print_message("body '%s'\n", cases[i]);
		eio_connect(port, sid);
		sio_presence_join(n, nick);
		/* The answer to a bad POST is not the contract's: any. */
		assert_int_equal(eio_post(port, sid, cases[i],
					  strlen(cases[i]), &r),
				 0);
		http_response_fini(&r);
		assert_int_equal(eio_post(port, sid, after, strlen(after), &r),
				 0);
		http_response_fini(&r);
		if (first) {
			json_decref(chat_expect_msg(n, "lobby", nick, "first",
						    NULL));
			sio_expect_chat(s, "first");
		}
		expect_ended(port, sid, first ? "first" : NULL);
		expect_leave(n, nick);
	}
	chat_say(n, NULL, "barrier", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "barrier", NULL));
	sio_expect_chat(s, "barrier");
	ws_close(s);
	ws_close(n);
}

/* The client's own end: Engine.IO's close packet. */
CHAT_TEST(test_eio_polling_close_packet_ends_it)
{
	struct ws_client *n = chat_connect(port, NULL);
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	struct http_response r;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	assert_int_equal(eio_post(port, sid, "1", 1, &r), 0);
	http_response_fini(&r);
	expect_leave(n, nick);
	expect_over(port, sid);
	ws_close(n);
}

/* ---- the upgrade ------------------------------------------------------ */

static struct ws_client *
probe_connect(int port, const char *sid)
{
	char path[128];
	struct ws_connect_opts o = { .path = path, .subprotocol = "" };

	snprintf(path, sizeof(path), SIO_PATH "&sid=%s", sid);
	return ws_connect_opts(port, &o);
}

CHAT_TEST(test_eio_polling_upgrade_moves_the_session_to_the_websocket)
{
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *w;
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	struct bg_get b;
	struct http_response r;
	struct packets pk;
	long long t;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	bg_get_start(&b, port, sid);
	w = probe_connect(port, sid);
	assert_non_null(w);
	/* Nothing on the probe before it probes. */
	sio_quiet(w, CHAT_QUIET_MS);
	sio_send(w, "2probe");
	t = monotonic_ms();
	sio_expect(w, "3probe");
	/* The waiting poll is let go with a noop. */
	bg_get_join(&b, t, 2000);
	payload_at(__FILE__, __LINE__, &b.r, &pk);
	assert_int_equal(pk.n, 1);
	assert_string_equal(pk.p[0], "6");
	packets_fini(&pk);
	/* Said before the upgrade's end, with no poll to take it: it comes
	 * over the WebSocket once the upgrade is done. */
	chat_say(n, NULL, "between", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "between", NULL));
	sio_send(w, "5");
	sio_expect_chat(w, "between");
	chat_say(n, NULL, "after", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "after", NULL));
	sio_expect_chat(w, "after");
	/* The same session (same nick, no leave or join) sends on it. */
	sio_send(w, "42[\"chat message\",\"from the upgrade\"]");
	sio_expect_chat(w, "from the upgrade");
	json_decref(chat_expect_msg(n, "lobby", nick, "from the upgrade",
				    NULL));
	sio_send(w, "421[\"chat message\",\"acked\"]");
	sio_expect(w, "431[{\"status\":\"ok\"}]");
	sio_expect_chat(w, "acked");
	json_decref(chat_expect_msg(n, "lobby", nick, "acked", NULL));
	/* Polling is over for that sid. */
	assert_int_equal(eio_get(port, sid, CHAT_TIMEOUT_MS, &r), 0);
	expect_gone(&r);
	{
		static const char late[] = "42[\"chat message\",\"late\"]";

		assert_int_equal(eio_post(port, sid, late, strlen(late), &r),
				 0);
	}
	expect_gone(&r);
	sio_quiet(w, CHAT_QUIET_MS);
	/* And the WebSocket is the session: closing it is leaving. */
	ws_close(w);
	expect_leave(n, nick);
	chat_say(n, NULL, "barrier", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "barrier", NULL));
	ws_close(n);
}

CHAT_TEST(test_eio_polling_upgrade_with_an_unknown_sid_is_400)
{
	char sid[SID_SIZE];
	struct http_response r;

	assert_int_equal(sio_raw_upgrade(port, SIO_PATH "&sid=AAAAAAAAAAAAAAAAAAAA",
					 NULL, &r),
			 0);
	sio_expect_engineio_error(&r, 1, "Session ID unknown");
	/* A session that has ended is unknown too. */
	eio_connect(port, sid);
	assert_int_equal(eio_post(port, sid, "1", 1, &r), 0);
	http_response_fini(&r);
	{
		char path[128];
		long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;

		snprintf(path, sizeof(path), SIO_PATH "&sid=%s", sid);
		for (;;) {
			assert_int_equal(sio_raw_upgrade(port, path, NULL, &r),
					 0);
			if (r.status != 101 || monotonic_ms() > deadline)
				break;
			http_response_fini(&r);
			usleep(50 * 1000);
		}
		sio_expect_engineio_error(&r, 1, "Session ID unknown");
	}
}

CHAT_TEST(test_eio_polling_probe_that_closes_leaves_polling_working)
{
	struct ws_client *n = chat_connect(port, NULL);
	struct ws_client *w;
	char sid[SID_SIZE], nick[CHAT_NICK_MAX + 1];
	bool got = false;

	eio_connect(port, sid);
	sio_presence_join(n, nick);
	w = probe_connect(port, sid);
	assert_non_null(w);
	sio_send(w, "2probe");
	sio_expect(w, "3probe");
	ws_close(w);
	/* The poller carries on, as the same session (no leave). */
	eio_post_ok(port, sid, "42[\"chat message\",\"still here\"]");
	json_decref(chat_expect_msg(n, "lobby", nick, "still here", NULL));
	for (int i = 0; i < 3 && !got; i++) {
		struct packets pk;

		eio_poll(port, sid, &pk);
		for (size_t k = 0; k < pk.n; k++) {
			if (sio_is_chat(pk.p[k], "still here"))
				got = true;
			else if (strcmp(pk.p[k], "6"))
				fail_msg("unexpected '%s'", pk.p[k]);
		}
		packets_fini(&pk);
	}
	assert_true(got);
	/* A second probe may still upgrade it. */
	w = probe_connect(port, sid);
	assert_non_null(w);
	sio_send(w, "2probe");
	sio_expect(w, "3probe");
	sio_send(w, "5");
	chat_say(n, NULL, "upgraded", NULL);
	json_decref(chat_expect_msg(n, "lobby", NULL, "upgraded", NULL));
	sio_expect_chat(w, "upgraded");
	ws_close(w);
	expect_leave(n, nick);
	ws_close(n);
}

/* ---- limits ----------------------------------------------------------- */

/* --max-connections-per-ip 1: a polling session holds the address's one
 * slot until it ends. */
CHAT_TEST(test_eio_polling_session_counts_toward_the_per_ip_limit)
{
	char sid[SID_SIZE];
	struct http_response r;
	struct ws_client *n = NULL;
	long long deadline;

	eio_connect(port, sid);
	assert_int_equal(sio_raw_upgrade(port, "/chat", NULL, &r), 0);
	assert_int_equal(r.status, 503);
	http_response_fini(&r);
	assert_int_equal(http_get(port, POLL_PATH, CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 503);
	http_response_fini(&r);
	/* Its own requests are served. */
	eio_post_ok(port, sid, "42[\"chat message\",\"mine\"]");
	{
		struct packets pk;

		eio_poll(port, sid, &pk);
		assert_true(sio_is_chat(pk.p[0], "mine"));
		packets_fini(&pk);
	}
	/* Ended, it frees the slot. */
	assert_int_equal(eio_post(port, sid, "1", 1, &r), 0);
	http_response_fini(&r);
	deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	while (!n && monotonic_ms() < deadline) {
		n = ws_connect(port);
		if (!n)
			usleep(100 * 1000);
	}
	assert_non_null(n);
	json_decref(ws_expect_type(n, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	ws_close(n);
}

/* ---- a thousand socket.io clients ------------------------------------ */

#define NCLIENTS 1000
#define BATCH 100
#define NMSGS 50
#define LOAD_DEADLINE_MS 20000

static int
setup_load(void **state)
{
	static const char *const args[] = { "--max-connections-per-ip", "0",
					    NULL };

	chat_raise_nofile(2 * NCLIENTS + 64);
	return chat_fixture_setup(state, args);
}

/* Reads what client i holds now: each chat message must be the next one
 * (got[i]); pings are answered. */
static void
drain_client(struct ws_client *c, int i, int *got)
{
	struct ws_msg m;
	int r;

	while ((r = ws_try_msg(c, &m)) == WS_OK) {
		char want[32];

		if (!strcmp(m.data, "2")) {
			ws_msg_fini(&m);
			sio_send(c, "3");
			continue;
		}
		snprintf(want, sizeof(want), "m-%02d", got[i]);
		if (got[i] >= NMSGS || !sio_is_chat(m.data, want))
			fail_msg("client %d: expected message %d, got '%s'", i,
				 got[i], m.data);
		got[i]++;
		ws_msg_fini(&m);
	}
	if (r != WS_TIMEOUT)
		fail_msg("client %d closed (%d '%s') after %d messages", i,
			 ws_close_code(c), ws_close_reason(c), got[i]);
}

CHAT_TEST(test_eio_polling_1000_socketio_clients_get_every_message_in_order)
{
	struct ws_client **cs = calloc(NCLIENTS, sizeof(*cs));
	struct pollfd *pfd = calloc(NCLIENTS, sizeof(*pfd));
	int *got = calloc(NCLIENTS, sizeof(*got));
	const struct ws_connect_opts o = { .path = SIO_PATH, .subprotocol = "" };
	struct ws_client *n;
	long long t0 = monotonic_ms(), deadline, until;
	int done = 0;

	assert_non_null(cs);
	assert_non_null(pfd);
	assert_non_null(got);
	for (int b = 0; b < NCLIENTS; b += BATCH) {
		for (int i = b; i < b + BATCH; i++) {
			cs[i] = ws_start(port, &o);
			if (!cs[i])
				fail_msg("client %d could not connect", i);
		}
		for (int i = b; i < b + BATCH; i++) {
			if (ws_finish(cs[i]) < 0)
				fail_msg("client %d handshake: %s", i,
					 ws_error(cs[i]));
			sio_expect_prefix(cs[i], "0{\"sid\":");
			sio_send(cs[i], "40");
		}
		for (int i = b; i < b + BATCH; i++)
			sio_expect_prefix(cs[i], "40{\"sid\":");
	}
	print_message("%d socket.io clients connected in %lld ms\n", NCLIENTS,
		      monotonic_ms() - t0);
	/* The publisher: a v1 client (its joined frame does not list a
	 * thousand members, so not chat_connect). */
	n = ws_connect(port);
	assert_non_null(n);
	json_decref(ws_expect_type(n, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	json_decref(ws_expect_type(n, "joined", CHAT_TIMEOUT_MS, WS_STRICT));
	json_decref(ws_expect_type(n, "history", CHAT_TIMEOUT_MS, WS_STRICT));
	for (int k = 0; k < NMSGS; k++) {
		char text[32];

		snprintf(text, sizeof(text), "m-%02d", k);
		chat_say(n, NULL, text, NULL);
	}
	deadline = monotonic_ms() + LOAD_DEADLINE_MS;
	while (done < NCLIENTS && monotonic_ms() < deadline) {
		bool buffered = false;

		for (int i = 0; i < NCLIENTS; i++) {
			pfd[i].fd = ws_fd(cs[i]);
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			buffered |= ws_has_buffered(cs[i]);
		}
		poll(pfd, NCLIENTS, buffered ? 0 : 200);
		done = 0;
		for (int i = 0; i < NCLIENTS; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
			    ws_has_buffered(cs[i]))
				drain_client(cs[i], i, got);
			done += got[i] == NMSGS;
		}
	}
	if (done < NCLIENTS) {
		int short_i = 0;

		for (int i = 0; i < NCLIENTS; i++)
			if (got[i] < NMSGS)
				short_i = i;
		fail_msg("%d of %d clients got all %d messages in %d ms "
			 "(client %d got %d)",
			 done, NCLIENTS, NMSGS, LOAD_DEADLINE_MS, short_i,
			 got[short_i]);
	}
	/* No duplicates after the last one. */
	until = monotonic_ms() + CHAT_QUIET_MS;
	while (monotonic_ms() < until) {
		for (int i = 0; i < NCLIENTS; i++)
			drain_client(cs[i], i, got);
		usleep(20 * 1000);
	}
	print_message("done in %lld ms\n", monotonic_ms() - t0);
	ws_close(n);
	for (int i = 0; i < NCLIENTS; i++)
		ws_free(cs[i]);
	free(cs);
	free(pfd);
	free(got);
}

/* ---- requests lws would otherwise mishandle -------------------------- */

/* Sends raw on a new connection and returns the first line of what comes
 * back within ms ("" when nothing does); the fd stays open in *fd. */
static void
raw_first_line(int port, const char *raw, int ms, char *line, size_t n,
	       int *fd)
{
	struct pollfd pfd;
	ssize_t got = 0;

	line[0] = '\0';
	*fd = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
	assert_true(*fd >= 0);
	assert_int_equal(write(*fd, raw, strlen(raw)), (ssize_t)strlen(raw));
	pfd = (struct pollfd){ .fd = *fd, .events = POLLIN };
	if (poll(&pfd, 1, ms) == 1)
		got = read(*fd, line, n - 1);
	line[got > 0 ? got : 0] = '\0';
	line[strcspn(line, "\r")] = '\0';
}

/*
 * A request pipelined behind a waiting poll on the same connection makes
 * lws bind it anew, which frees the poll's storage without a close: the
 * session must forget that poll (ASan saw it used after the free) and go
 * on. A poll with a body, a HEAD, and a POST announcing more than
 * maxPayload are answered at once (400, headers alone, 413).
 */
CHAT_TEST(test_eio_polling_odd_requests_are_answered_and_harmless)
{
	char sid[SID_SIZE], raw[512], line[256];
	struct http_response r;
	struct packets pk;
	int fd, fd2;

	eio_connect(port, sid);
	snprintf(raw, sizeof(raw),
		 "GET " POLL_PATH "&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid);
	raw_first_line(port, raw, WAIT_MS, line, sizeof(line), &fd);
	assert_string_equal(line, ""); /* it waits */
	{
		static const char healthz[] =
			"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

		assert_int_equal(write(fd, healthz, sizeof(healthz) - 1),
				 (ssize_t)sizeof(healthz) - 1);
	}
	usleep(200 * 1000);
	/* The message wakes the poll that is no more: nothing may break. */
	eio_post_ok(port, sid, "42[\"chat message\",\"still here\"]");
	eio_poll_at(__FILE__, __LINE__, port, sid, &pk);
	assert_int_equal(pk.n, 1);
	assert_string_equal(pk.p[0], "42[\"chat message\",\"still here\"]");
	packets_fini(&pk);
	close(fd);

	/* A poll with a body: 400, and the session goes on. */
	snprintf(raw, sizeof(raw),
		 "GET " POLL_PATH "&sid=%s HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: 1000000\r\n\r\nxx",
		 sid);
	raw_first_line(port, raw, CHAT_TIMEOUT_MS, line, sizeof(line), &fd);
	assert_string_equal(line, "HTTP/1.1 400 Bad Request");
	close(fd);
	eio_post_ok(port, sid, "42[\"chat message\",\"after the body\"]");
	eio_poll_at(__FILE__, __LINE__, port, sid, &pk);
	assert_int_equal(pk.n, 1);
	packets_fini(&pk);

	/* HEAD: the status and headers, no body (the client would read the
	 * body as the next response). */
	{
		const struct http_request head = { .method = "HEAD",
						   .path = POLL_PATH };

		assert_int_equal(http_request(port, &head, CHAT_TIMEOUT_MS, &r),
				 0);
		assert_int_equal(r.status, 400);
		assert_int_equal(r.body_len, 0);
		http_response_fini(&r);
	}

	/* A POST announcing more than maxPayload: 413 before any of it is
	 * sent, and the session ends. */
	snprintf(raw, sizeof(raw),
		 "POST " POLL_PATH "&sid=%s HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: 100000000\r\n\r\n",
		 sid);
	raw_first_line(port, raw, CHAT_TIMEOUT_MS, line, sizeof(line), &fd2);
	assert_string_equal(line, "HTTP/1.1 413 Request Entity Too Large");
	close(fd2);
	expect_ended_at(__FILE__, __LINE__, port, sid, NULL);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sio_setup, teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)
	const struct CMUnitTest tests[] = {
		T(test_eio_polling_handshake_open_packet),
		T(test_eio_polling_handshake_and_sid_errors),
		TS(test_eio_polling_off_is_404, sio_setup_off),
		T(test_eio_polling_long_poll_delivers_when_there_is_news),
		T(test_eio_polling_post_reaches_everyone),
		TS(test_eio_polling_pings_come_and_pongs_keep_it_open,
		   sio_setup_heartbeat),
		TS(test_eio_polling_unanswered_ping_ends_the_session,
		   sio_setup_heartbeat),
		T(test_eio_polling_overlapping_gets_end_the_session),
		T(test_eio_polling_oversized_post_is_413_and_ends_the_session),
		T(test_eio_polling_malformed_posts_end_it_and_reach_nobody),
		T(test_eio_polling_close_packet_ends_it),
		T(test_eio_polling_upgrade_moves_the_session_to_the_websocket),
		T(test_eio_polling_upgrade_with_an_unknown_sid_is_400),
		T(test_eio_polling_probe_that_closes_leaves_polling_working),
		TS(test_eio_polling_session_counts_toward_the_per_ip_limit,
		   setup_per_ip),
		TS(test_eio_polling_1000_socketio_clients_get_every_message_in_order,
		   setup_load),
		T(test_eio_polling_odd_requests_are_answered_and_harmless),
	};
#undef TS
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
