/*
 * Cluster mode (issue 13): several chatd instances on one real
 * redis-server form one chat. A message crosses instances with one id, in
 * one order, exactly once; history and `since` are the same through any
 * instance, one started late included; while Redis is down a message gets
 * `unavailable`, and after Redis comes back empty ids keep increasing.
 * Presence crosses too: joined lists and counts every instance's members,
 * join, leave, nick and typing reach the other instances, a nick is
 * unique cluster-wide (two racing for one: one wins), and a killed
 * instance's members leave within 15 s, or as soon as it restarts. The
 * message tests skip presence frames; the presence tests read every frame.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"
#include "jwt_mint.h"
#include "redis_fixture.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODES 3                 /* a and b in every test, c when started */
#define HEALTH_TIMEOUT_MS 15000 /* reconnect backoff is at most ~2 s */
#define HEALTH_POLL_MS 100
/* A copy from another instance crosses Redis first: wait a little longer
 * than CHAT_QUIET_MS before calling it absent. */
#define CLUSTER_QUIET_MS 600
#define BURST 50 /* messages per sender in the ordering test */
#define TEXT_MAX 32

struct cluster {
	struct redis_fixture redis;
	struct chatd node[NODES];
	int started, finished; /* test bodies entered and completed */
};

/* A message as a client saw it. */
struct seen {
	json_int_t id;
	char nick[CHAT_NICK_MAX + 1];
	char text[TEXT_MAX];
};

/* Like CHAT_TEST, with the cluster as `cl`. */
#define CLUSTER_TEST(name)                                                    \
	static void name##_body(struct cluster *cl);                          \
	static void name(void **state)                                        \
	{                                                                     \
		struct cluster *cl_ = *state;                                 \
		cl_->started++;                                               \
		name##_body(cl_);                                             \
		cl_->finished++;                                              \
	}                                                                     \
	static void name##_body(struct cluster *cl)

/* ---- /healthz ---------------------------------------------------------- */

/* One GET /healthz: its status, and its "redis" field into redis ("" when
 * absent). -1 when there was no HTTP answer. */
static int
healthz(int port, char *redis, size_t len)
{
	struct http_response r;
	json_t *body;
	int status;

	if (http_get(port, "/healthz", CHAT_TIMEOUT_MS, &r) < 0)
		return -1;
	status = r.status;
	body = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(redis, len, "%s",
		 jstr_opt(body, "redis") ? jstr_opt(body, "redis") : "");
	json_decref(body);
	http_response_fini(&r);
	return status;
}

/* The value of an unlabelled sample in port's /metrics; fails the test
 * when it is not there. */
static double
metric(int port, const char *name)
{
	struct http_response r;
	char pat[128];
	const char *at;
	double v;

	if (http_get(port, "/metrics", CHAT_TIMEOUT_MS, &r) < 0 ||
	    r.status != 200)
		fail_msg("GET /metrics on port %d failed", port);
	snprintf(pat, sizeof(pat), "\n%s ", name);
	at = strstr(r.body, pat);
	if (!at) {
		http_response_fini(&r);
		fail_msg("/metrics on port %d has no %s", port, name);
	}
	v = strtod(at + strlen(pat), NULL);
	http_response_fini(&r);
	return v;
}

/* Polls /healthz until it answers status with "redis":state. Returns 0, or
 * -1 after HEALTH_TIMEOUT_MS with the last answer printed. */
static int
wait_health(const struct chatd *d, int status, const char *state)
{
	long long deadline = monotonic_ms() + HEALTH_TIMEOUT_MS;
	char redis[32] = "";
	int got;

	for (;;) {
		got = healthz(d->port, redis, sizeof(redis));
		if (got == status && !strcmp(redis, state))
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		usleep(HEALTH_POLL_MS * 1000);
	}
	print_error("chatd on port %d: /healthz still %d \"redis\":\"%s\" "
		    "after %d ms, expected %d \"%s\"\n", d->port, got, redis,
		    HEALTH_TIMEOUT_MS, status, state);
	return -1;
}

#define wait_up(d) wait_health((d), 200, "up")
#define wait_down(d) wait_health((d), 503, "down")

/* ---- fixture ----------------------------------------------------------- */

/* Starts node i as instance "a", "b" or "c" on the cluster's Redis, with
 * one more flag (may be NULL). */
static int
node_start_with(struct cluster *cl, int i, const char *extra)
{
	char id[2] = { (char)('a' + i), '\0' };
	const char *args[] = { "--redis", redis_fixture_url(&cl->redis),
			       "--instance-id", id, extra, NULL };

	return chatd_start(&cl->node[i], args);
}

static int
node_start(struct cluster *cl, int i)
{
	return node_start_with(cl, i, NULL);
}

static int
setup_redis_only(void **state)
{
	struct cluster *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return -1;
	if (redis_fixture_start(&cl->redis) < 0) {
		free(cl);
		return -1;
	}
	*state = cl;
	return 0;
}

static int teardown(void **state);

/* Redis, then instances a and b, both connected and synced. */
static int
setup(void **state)
{
	struct cluster *cl;

	if (setup_redis_only(state) < 0)
		return -1;
	cl = *state;
	for (int i = 0; i < 2; i++) {
		if (node_start(cl, i) < 0 || wait_up(&cl->node[i]) < 0) {
			cl->started++; /* so that teardown shows the logs */
			teardown(state);
			return -1;
		}
	}
	return 0;
}

/* Every instance must exit 0 on SIGTERM, whatever state Redis is in. */
static int
teardown(void **state)
{
	struct cluster *cl = *state;
	bool failed;
	int rc = 0;

	if (!cl)
		return 0;
	failed = cl->started != cl->finished;
	for (int i = 0; i < NODES; i++) {
		if (!cl->node[i].pid)
			continue;
		if (failed)
			chatd_dump_logs(&cl->node[i], "a test failed");
		if (chatd_stop(&cl->node[i]) != 0)
			rc = -1;
	}
	if (failed)
		redis_fixture_dump_log(&cl->redis, "a test failed");
	redis_fixture_cleanup(&cl->redis);
	free(cl);
	*state = NULL;
	return rc;
}

/* ---- messages ---------------------------------------------------------- */

/* Reads the next message (skipping presence) and copies what identifies
 * it. cid NULL: it must have none. */
static void
next_msg(struct ws_client *c, const char *cid, struct seen *s)
{
	json_t *m = chat_wait_msg(c, "lobby", NULL, NULL, cid);

	s->id = jint(m, "id");
	snprintf(s->nick, sizeof(s->nick), "%s", jstr(m, "nick"));
	snprintf(s->text, sizeof(s->text), "%s", jstr(m, "text"));
	json_decref(m);
}

/*
 * from (nick) sends text to the lobby; every client in to[] (the sender
 * among them) must get it next, all with one id, which is returned.
 */
static json_int_t
say_everywhere(struct ws_client *from, const char *nick, const char *text,
	       const char *cid, struct ws_client *const *to, size_t n)
{
	json_int_t id = 0;

	chat_say(from, NULL, text, cid);
	for (size_t i = 0; i < n; i++) {
		json_t *m = chat_wait_msg(to[i], "lobby", nick, text, cid);

		if (i == 0)
			id = jint(m, "id");
		else if (jint(m, "id") != id)
			fail_msg("client %zu got \"%s\" as id %lld, client 0 "
				 "as id %lld", i, text,
				 (long long)jint(m, "id"), (long long)id);
		json_decref(m);
	}
	return id;
}

/* No message and no error arrives within CLUSTER_QUIET_MS; presence and
 * typing frames may (they are not this stage's business). */
static void
expect_no_message(struct ws_client *c)
{
	long long deadline = monotonic_ms() + CLUSTER_QUIET_MS;
	long long left;

	while ((left = deadline - monotonic_ms()) > 0) {
		json_t *j = ws_recv_json(c, (int)left);
		const char *type;

		if (!j)
			break;
		type = jstr(j, "type");
		if (!strcmp(type, "message") || !strcmp(type, "error")) {
			char buf[1200];

			snprintf(buf, sizeof(buf), "%s", json_brief(j));
			json_decref(j);
			fail_msg("expected no message, got %s", buf);
		}
		json_decref(j);
	}
	if (ws_is_closed(c))
		fail_msg("connection closed (code %d) while it should stay "
			 "open", ws_close_code(c));
}

/* Connects to port and returns the greeting's lobby history in *h. */
static struct ws_client *
connect_for_history(int port, json_t **h)
{
	struct ws_client *c = ws_connect(port);

	assert_non_null(c);
	json_decref(ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	json_decref(ws_expect_type(c, "joined", CHAT_TIMEOUT_MS, WS_STRICT));
	*h = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	return c;
}

/* History frame h holds exactly want[0..n), with nothing older left. */
static void
expect_history(json_t *h, const struct seen *want, size_t n)
{
	json_t *msgs = jarr(h, "messages"), *m;
	size_t i;

	if (json_array_size(msgs) != n ||
	    json_is_true(json_object_get(h, "more")))
		fail_msg("expected %zu messages and no more, got %s", n,
			 json_brief(h));
	json_array_foreach(msgs, i, m) {
		chat_check_msg(m);
		if (jint(m, "id") != want[i].id ||
		    strcmp(jstr(m, "nick"), want[i].nick) ||
		    strcmp(jstr(m, "text"), want[i].text))
			fail_msg("history message %zu is %s, expected id %lld "
				 "\"%s\" from %s", i, json_brief(m),
				 (long long)want[i].id, want[i].text,
				 want[i].nick);
	}
}

/* ---- the fixture on its own -------------------------------------------- */

static void
expect_reply(struct cluster *cl, const char *cmd, const char *want)
{
	char reply[64];

	if (redis_fixture_inline(&cl->redis, cmd, reply, sizeof(reply),
				 CHAT_TIMEOUT_MS) < 0)
		fail_msg("%s: no reply from redis on port %d", cmd,
			 cl->redis.port);
	if (strcmp(reply, want))
		fail_msg("%s: reply %s, expected %s", cmd, reply, want);
}

/* The premises of the tests below: the URL survives a restart, and the
 * restarted server is empty. */
CLUSTER_TEST(test_redis_fixture_restarts_empty_on_the_same_port)
{
	char url[64], reply[64];

	snprintf(url, sizeof(url), "%s", redis_fixture_url(&cl->redis));
	assert_int_equal(strncmp(url, "redis://127.0.0.1:", 18), 0);
	expect_reply(cl, "PING", "+PONG");
	expect_reply(cl, "SET chatd-test-key 1", "+OK");
	expect_reply(cl, "DBSIZE", ":1");
	assert_int_equal(redis_fixture_stop(&cl->redis), 0);
	assert_int_equal(redis_fixture_inline(&cl->redis, "PING", reply,
					      sizeof(reply), 500),
			 -1);
	assert_int_equal(redis_fixture_restart(&cl->redis), 0);
	assert_string_equal(redis_fixture_url(&cl->redis), url);
	expect_reply(cl, "DBSIZE", ":0");
}

/* ---- cluster mode ------------------------------------------------------ */

CLUSTER_TEST(test_cluster_message_crosses_instances_both_ways)
{
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a = chat_connect(cl->node[0].port, na);
	struct ws_client *b = chat_connect(cl->node[1].port, nb);
	struct ws_client *both[] = { a, b };
	json_int_t first, second;

	first = say_everywhere(a, na, "hello world", NULL, both, 2);
	second = say_everywhere(b, nb, "hello back", NULL, both, 2);
	assert_true(second > first);
	/* Each was delivered once per client, not once per instance. */
	expect_no_message(a);
	expect_no_message(b);
	ws_close(a);
	ws_close(b);
}

/*
 * One sequence as a client saw it: ids strictly increasing, and each
 * sender's texts ("a-00".."a-49", "b-00"...) complete, once each, in the
 * order sent.
 */
static void
check_sequence(const struct seen *seq, size_t n, const char *who)
{
	int next[2] = { 0, 0 };

	for (size_t i = 0; i < n; i++) {
		char want[TEXT_MAX];
		int k = seq[i].text[0] == 'b';

		if (i > 0 && seq[i].id <= seq[i - 1].id)
			fail_msg("%s: id %lld after %lld", who,
				 (long long)seq[i].id,
				 (long long)seq[i - 1].id);
		snprintf(want, sizeof(want), "%c-%02d", "ab"[k], next[k]++);
		if (strcmp(seq[i].text, want))
			fail_msg("%s: message %zu is \"%s\", expected \"%s\"",
				 who, i, seq[i].text, want);
	}
	if (next[0] != BURST || next[1] != BURST)
		fail_msg("%s: %d from a and %d from b", who, next[0], next[1]);
}

CLUSTER_TEST(test_cluster_two_senders_one_order_exactly_once)
{
	static const char *const who[] = { "sender on a", "receiver on a",
					   "sender on b", "receiver on b" };
	static struct seen seq[4][2 * BURST];
	char nick[4][CHAT_NICK_MAX + 1];
	struct ws_client *c[4];

	for (int i = 0; i < 4; i++)
		c[i] = chat_connect(cl->node[i / 2].port, nick[i]);
	/* Interleaved, without reading: both instances take messages for
	 * the room at the same time. */
	for (int i = 0; i < BURST; i++) {
		char text[TEXT_MAX];

		snprintf(text, sizeof(text), "a-%02d", i);
		chat_say(c[0], NULL, text, NULL);
		snprintf(text, sizeof(text), "b-%02d", i);
		chat_say(c[2], NULL, text, NULL);
	}
	for (int i = 0; i < 4; i++) {
		for (size_t k = 0; k < 2 * BURST; k++)
			next_msg(c[i], NULL, &seq[i][k]);
		check_sequence(seq[i], 2 * BURST, who[i]);
	}
	/* The same (id, sender, text) sequence on every client. */
	for (int i = 1; i < 4; i++)
		for (size_t k = 0; k < 2 * BURST; k++)
			if (seq[i][k].id != seq[0][k].id ||
			    strcmp(seq[i][k].text, seq[0][k].text) ||
			    strcmp(seq[i][k].nick, seq[0][k].nick))
				fail_msg("message %zu: %s saw id %lld \"%s\", "
					 "%s saw id %lld \"%s\"", k, who[i],
					 (long long)seq[i][k].id,
					 seq[i][k].text, who[0],
					 (long long)seq[0][k].id,
					 seq[0][k].text);
	for (int i = 0; i < 4; i++) {
		expect_no_message(c[i]);
		ws_close(c[i]);
	}
}

/* A new client on node i: the greeting's history holds want[0..5), and
 * `since` the 2nd holds exactly the 3rd to the 5th. */
static void
expect_history_on(struct cluster *cl, int i, const struct seen *want)
{
	json_t *h;
	struct ws_client *c = connect_for_history(cl->node[i].port, &h);

	expect_history(h, want, 5);
	json_decref(h);
	h = chat_join_ex(c, "lobby", NULL, (long long)want[1].id, NULL);
	expect_history(h, want + 2, 3);
	json_decref(h);
	ws_close(c);
}

CLUSTER_TEST(test_cluster_history_is_the_same_through_any_instance)
{
	char na[CHAT_NICK_MAX + 1], nc[CHAT_NICK_MAX + 1];
	struct ws_client *a = chat_connect(cl->node[0].port, na);
	/* Once this client on b has a message, b has it in its history. */
	struct ws_client *w = chat_connect(cl->node[1].port, NULL);
	struct ws_client *both[] = { a, w }, *late;
	struct seen sent[5];

	for (int i = 0; i < 5; i++) {
		snprintf(sent[i].nick, sizeof(sent[i].nick), "%s", na);
		snprintf(sent[i].text, sizeof(sent[i].text), "history %d",
			 i + 1);
		sent[i].id = say_everywhere(a, na, sent[i].text, NULL, both,
					    2);
	}
	expect_history_on(cl, 1, sent);

	/* An instance started after the messages backfills them. */
	assert_int_equal(node_start(cl, 2), 0);
	assert_int_equal(wait_up(&cl->node[2]), 0);
	expect_history_on(cl, 2, sent);
	/* And its ids continue after them, for everyone. */
	late = chat_connect(cl->node[2].port, nc);
	{
		struct ws_client *all[] = { late, a, w };

		assert_true(say_everywhere(late, nc, "from c", NULL, all, 3) >
			    sent[4].id);
	}
	ws_close(late);
	ws_close(w);
	ws_close(a);
}

CLUSTER_TEST(test_cluster_redis_down_then_back_empty)
{
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a = chat_connect(cl->node[0].port, na);
	struct ws_client *b = chat_connect(cl->node[1].port, nb);
	struct ws_client *both[] = { a, b }, *newcomer;
	struct seen before[3];
	json_int_t after, from_b;
	json_t *h;

	for (int i = 0; i < 3; i++) {
		snprintf(before[i].nick, sizeof(before[i].nick), "%s", na);
		snprintf(before[i].text, sizeof(before[i].text), "before %d",
			 i + 1);
		before[i].id = say_everywhere(a, na, before[i].text, NULL,
					      both, 2);
	}

	assert_int_equal(redis_fixture_stop(&cl->redis), 0);
	/* Both must have noticed, or b's "up" below could be stale. */
	assert_int_equal(wait_down(&cl->node[0]), 0);
	assert_int_equal(wait_down(&cl->node[1]), 0);
	assert_true(metric(cl->node[0].port, "chat_redis_up") == 0);
	/* Refused, never silently dropped, and nobody gets it. */
	chat_say(a, NULL, "while down", "c1");
	chat_expect_error(a, "unavailable", "c1");
	expect_no_message(a);
	expect_no_message(b);
	/* Still serving: a newcomer's greeting, history from the replica. */
	newcomer = connect_for_history(cl->node[0].port, &h);
	expect_history(h, before, 3);
	json_decref(h);
	ws_close(newcomer);

	/* Restarted without persistence: Redis has forgotten every id. */
	assert_int_equal(redis_fixture_restart(&cl->redis), 0);
	assert_int_equal(wait_up(&cl->node[0]), 0);
	assert_int_equal(wait_up(&cl->node[1]), 0);
	/* The client's retry with the same cid: it was never stored. */
	after = say_everywhere(a, na, "while down", "c1", both, 2);
	if (after <= before[2].id)
		fail_msg("id %lld after the restart, %lld before it",
			 (long long)after, (long long)before[2].id);
	from_b = say_everywhere(b, nb, "back from b", NULL, both, 2);
	assert_true(from_b > after);
	/* a published 4 (3 before, 1 after), reconnected both connections
	 * and delivered all 5 from Redis. */
	assert_true(metric(cl->node[0].port, "chat_redis_up") == 1);
	assert_true(metric(cl->node[0].port,
			   "chat_redis_publish_seconds_count") == 4);
	assert_true(metric(cl->node[0].port, "chat_redis_reconnects_total") >=
		    2);
	assert_true(metric(cl->node[0].port,
			   "chat_redis_messages_received_total") == 5);
	expect_no_message(a);
	expect_no_message(b);
	ws_close(a);
	ws_close(b);
}

/* ---- presence and nicks across instances ------------------------------- */

/* Heartbeats every 2 s, purge after 10 s of silence: the bound. */
#define PURGE_MS 15000

/* Sends {"type":"typing","room":room}. */
static void
send_typing(struct ws_client *c, const char *room)
{
	assert_int_equal(ws_send_pack(c, "{s:s, s:s}", "type", "typing",
				      "room", room),
			 0);
}

/* A guest nick in cluster mode: "guest-" and 12 hex digits. */
static void
expect_guest_nick(const char *nick)
{
	bool ok = strlen(nick) == 18 && !strncmp(nick, "guest-", 6);

	for (size_t i = 6; ok && i < 18; i++)
		ok = isxdigit((unsigned char)nick[i]);
	if (!ok)
		fail_msg("guest nick \"%s\" is not guest- and 12 hex digits",
			 nick);
}

/*
 * Connects to node i and checks the greeting, strictly in order: welcome
 * (lobby, a cluster guest nick, copied to nick), joined lobby (into
 * *joined, caller decrefs) and history lobby.
 */
static struct ws_client *
connect_joined(struct cluster *cl, int i, char *nick, json_t **joined)
{
	struct ws_client *c = ws_connect(cl->node[i].port);
	json_t *w;

	if (!c)
		fail_msg("could not connect to node %d", i);
	w = ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(w, "room"), "lobby");
	snprintf(nick, CHAT_NICK_MAX + 1, "%s", jstr(w, "nick"));
	json_decref(w);
	expect_guest_nick(nick);
	*joined = ws_expect_type(c, "joined", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(*joined, "room"), "lobby");
	w = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(w, "room"), "lobby");
	json_decref(w);
	return c;
}

/* joined lists exactly nicks[0..n) (any order) and counts n. */
static void
expect_members(const json_t *joined, const char *const *nicks, size_t n)
{
	json_t *members = jarr(joined, "members");
	bool ok = json_array_size(members) == n &&
		  jint(joined, "count") == (json_int_t)n;
	char want[512] = "";

	for (size_t i = 0; i < n; i++) {
		ok = ok && json_array_has_string(members, nicks[i]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s%s", i ? ", " : "", nicks[i]);
	}
	if (!ok)
		fail_msg("expected members [%s] and count %zu, got %s", want,
			 n, json_brief(joined));
}

/* c (re-)joins room, and its joined lists exactly nicks[0..n). */
static void
expect_room_members(struct ws_client *c, const char *room,
		    const char *const *nicks, size_t n)
{
	json_t *joined;

	json_decref(chat_join_ex(c, room, NULL, -1, &joined));
	expect_members(joined, nicks, n);
	json_decref(joined);
}

/*
 * The next frames of c are presence `event` for nick (old: NULL for none)
 * in each of rooms[0..n), once each, in any order, all before deadline
 * (monotonic ms).
 */
static void
expect_presence_in(struct ws_client *c, const char *event, const char *nick,
		   const char *old, const char *const *rooms, size_t n,
		   long long deadline)
{
	bool got[8] = { false };

	assert_true(n <= 8);
	for (size_t k = 0; k < n; k++) {
		long long left = deadline - monotonic_ms();
		json_t *p = ws_recv_json(c, left > 0 ? (int)left : 0);
		size_t i = n;

		if (!p)
			fail_msg("presence %s of %s: %zu of %zu rooms in time",
				 event, nick, k, n);
		if (!strcmp(jstr(p, "type"), "presence") &&
		    !strcmp(jstr(p, "event"), event) &&
		    !strcmp(jstr(p, "nick"), nick) &&
		    (old ? jstr_opt(p, "old") && !strcmp(jstr(p, "old"), old)
			 : !json_object_get(p, "old")))
			for (i = 0; i < n; i++)
				if (!got[i] && !strcmp(jstr(p, "room"),
						       rooms[i]))
					break;
		if (i == n) {
			char buf[1200];

			snprintf(buf, sizeof(buf), "%s", json_brief(p));
			json_decref(p);
			fail_msg("expected presence %s of %s (old %s), got %s",
				 event, nick, old ? old : "none", buf);
		}
		got[i] = true;
		json_decref(p);
	}
}

/* The next frame of c is typing in room by nick. */
static void
expect_typing(struct ws_client *c, const char *room, const char *nick)
{
	json_t *t = ws_expect_type(c, "typing", CHAT_TIMEOUT_MS, WS_STRICT);

	assert_string_equal(jstr(t, "room"), room);
	assert_string_equal(jstr(t, "nick"), nick);
	json_decref(t);
}

/*
 * from (nick) sends text to room; the next frame of every client in
 * to[0..n) (the sender among them) is that message. A presence or typing
 * event published before it has reached every instance of to[] then.
 */
static void
say_strict(struct ws_client *from, const char *nick, const char *room,
	   const char *text, struct ws_client *const *to, size_t n)
{
	chat_say(from, room, text, NULL);
	for (size_t i = 0; i < n; i++) {
		json_t *m = ws_recv_json(to[i], CHAT_TIMEOUT_MS);
		char buf[1200];

		if (m && !strcmp(jstr(m, "type"), "message") &&
		    !strcmp(jstr(m, "room"), room) &&
		    !strcmp(jstr(m, "nick"), nick) &&
		    !strcmp(jstr(m, "text"), text)) {
			chat_check_msg(m);
			json_decref(m);
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", json_brief(m));
		json_decref(m);
		fail_msg("client %zu of %zu: expected \"%s\" from %s in %s, "
			 "got %s", i, n, text, nick, room, buf);
	}
}

/*
 * A client on a, then one on b, whose joined lists both; a hears of b.
 * Redis runs an instance's scripts in the order its one command
 * connection sent them, and publishes to every subscriber at once: when
 * a's message has come back to it, a's join (sent before it) already
 * waits on b's subscription, ahead of b's new client. Later arrivals are
 * seen by a client on each instance before the next step.
 */
static void
connect_pair(struct cluster *cl, struct ws_client **a, char *na,
	     struct ws_client **b, char *nb)
{
	json_t *joined;

	*a = connect_joined(cl, 0, na, &joined);
	expect_members(joined, (const char *const[]){ na }, 1);
	json_decref(joined);
	chat_roundtrip(*a, NULL);
	*b = connect_joined(cl, 1, nb, &joined);
	expect_members(joined, (const char *const[]){ na, nb }, 2);
	json_decref(joined);
	chat_expect_presence(*a, "lobby", "join", nb, NULL);
}

static void
expect_quiet_all(struct ws_client *const *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		chat_expect_quiet(cs[i], i ? 50 : CLUSTER_QUIET_MS);
}

CLUSTER_TEST(test_cluster_joined_lists_and_counts_every_instance)
{
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	char n2[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b, *a2;
	json_t *joined;

	connect_pair(cl, &a, na, &b, nb);
	/* A second client on a: members of both instances, and the
	 * presence join reaches both. */
	a2 = connect_joined(cl, 0, n2, &joined);
	expect_members(joined, (const char *const[]){ na, nb, n2 }, 3);
	json_decref(joined);
	chat_expect_presence(a, "lobby", "join", n2, NULL);
	chat_expect_presence(b, "lobby", "join", n2, NULL);
	expect_room_members(b, "lobby", (const char *const[]){ na, nb, n2 },
			    3);

	/* A room whose only member is on b, joined later from a. b's
	 * message in the lobby follows its join in the channel. */
	json_decref(chat_join(b, "pr"));
	{
		struct ws_client *all[] = { b, a, a2 };

		say_strict(b, nb, "lobby", "joined pr", all, 3);
	}
	json_decref(chat_join_ex(a2, "pr", NULL, -1, &joined));
	expect_members(joined, (const char *const[]){ nb, n2 }, 2);
	json_decref(joined);
	chat_expect_presence(b, "pr", "join", n2, NULL);
	expect_room_members(b, "pr", (const char *const[]){ nb, n2 }, 2);
	{
		struct ws_client *all[] = { a, b, a2 };

		expect_quiet_all(all, 3);
	}
	ws_close(a2);
	ws_close(b);
	ws_close(a);
}

CLUSTER_TEST(test_cluster_presence_join_and_leave_cross_instances)
{
	static const char *const rooms[] = { "lobby", "pp" };
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b;

	connect_pair(cl, &a, na, &b, nb);
	json_decref(chat_join(a, "pp"));
	{
		struct ws_client *both[] = { a, b };

		say_strict(a, na, "lobby", "joined pp", both, 2);
	}
	json_decref(chat_join(b, "pp"));
	chat_expect_presence(a, "pp", "join", nb, NULL);
	/* leave requests, each way */
	chat_leave(a, "pp");
	chat_expect_presence(b, "pp", "leave", na, NULL);
	json_decref(chat_join(a, "pp"));
	chat_expect_presence(b, "pp", "join", na, NULL);
	chat_leave(b, "pp");
	chat_expect_presence(a, "pp", "leave", nb, NULL);
	json_decref(chat_join(b, "pp"));
	chat_expect_presence(a, "pp", "join", nb, NULL);
	expect_room_members(b, "pp", (const char *const[]){ na, nb }, 2);

	/* A dropped connection (no close frame) leaves every room. */
	ws_free(b);
	expect_presence_in(a, "leave", nb, NULL, rooms, 2,
			   monotonic_ms() + CHAT_TIMEOUT_MS);
	chat_expect_quiet(a, CLUSTER_QUIET_MS);
	expect_room_members(a, "pp", (const char *const[]){ na }, 1);
	expect_room_members(a, "lobby", (const char *const[]){ na }, 1);
	ws_close(a);
}

CLUSTER_TEST(test_cluster_nick_change_and_typing_cross_instances)
{
	static const char *const rooms[] = { "lobby", "ty" };
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b;
	json_t *req, *joined;

	connect_pair(cl, &a, na, &b, nb);
	json_decref(chat_join(b, "ty"));
	{
		struct ws_client *both[] = { b, a };

		say_strict(b, nb, "lobby", "joined ty", both, 2);
	}
	json_decref(chat_join(a, "ty"));
	chat_expect_presence(b, "ty", "join", na, NULL);

	/* A nick request: every room of the renamed, on both instances. */
	chat_send_nick(a, "Alice", NULL);
	expect_presence_in(a, "nick", "Alice", na, rooms, 2,
			   monotonic_ms() + CHAT_TIMEOUT_MS);
	expect_presence_in(b, "nick", "Alice", na, rooms, 2,
			   monotonic_ms() + CHAT_TIMEOUT_MS);
	/* A join with a nick: renamed in its rooms first, then joined. */
	req = json_pack("{s:s, s:s, s:s}", "type", "join", "room", "jn",
			"nick", "Bob");
	assert_int_equal(ws_send_json(b, req), 0);
	json_decref(req);
	expect_presence_in(b, "nick", "Bob", nb, rooms, 2,
			   monotonic_ms() + CHAT_TIMEOUT_MS);
	joined = ws_expect_type(b, "joined", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(joined, "room"), "jn");
	expect_members(joined, (const char *const[]){ "Bob" }, 1);
	json_decref(joined);
	json_decref(ws_expect_type(b, "history", CHAT_TIMEOUT_MS, WS_STRICT));
	expect_presence_in(a, "nick", "Bob", nb, rooms, 2,
			   monotonic_ms() + CHAT_TIMEOUT_MS);
	expect_room_members(a, "ty", (const char *const[]){ "Alice", "Bob" },
			    2);

	/* Typing crosses too, and never comes back to the typist: its next
	 * frame is its own message. */
	send_typing(a, "ty");
	expect_typing(b, "ty", "Alice");
	{
		struct ws_client *both[] = { a, b };

		say_strict(a, "Alice", "ty", "typed", both, 2);
	}
	send_typing(b, "lobby");
	expect_typing(a, "lobby", "Bob");
	{
		struct ws_client *both[] = { b, a };

		say_strict(b, "Bob", "lobby", "typed too", both, 2);
	}
	/* Not to a room a is not in. */
	send_typing(b, "jn");
	chat_roundtrip(b, "jn");
	{
		struct ws_client *both[] = { a, b };

		expect_quiet_all(both, 2);
	}
	ws_close(b);
	ws_close(a);
}

CLUSTER_TEST(test_cluster_nick_is_unique_across_instances)
{
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	char upper[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b;
	json_t *req;

	connect_pair(cl, &a, na, &b, nb);
	/* a's guest nick, in any letter case. */
	for (size_t i = 0; i <= strlen(na); i++)
		upper[i] = (char)toupper((unsigned char)na[i]);
	chat_send_nick(b, na, "g1");
	chat_expect_error(b, "nick_taken", "g1");
	chat_send_nick(b, upper, "g2");
	chat_expect_error(b, "nick_taken", "g2");

	chat_send_nick(a, "Carol", NULL);
	chat_expect_presence(a, "lobby", "nick", "Carol", na);
	chat_expect_presence(b, "lobby", "nick", "Carol", na);
	chat_send_nick(b, "Carol", "n1");
	chat_expect_error(b, "nick_taken", "n1");
	chat_send_nick(b, "carol", "n2");
	chat_expect_error(b, "nick_taken", "n2");
	chat_send_nick(b, "CAROL", "n3");
	chat_expect_error(b, "nick_taken", "n3");
	/* A join with a taken nick changes nothing. */
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "join", "room", "jt",
			"nick", "cAROL", "cid", "j1");
	assert_int_equal(ws_send_json(b, req), 0);
	json_decref(req);
	chat_expect_error(b, "nick_taken", "j1");
	chat_say(b, "jt", "am I in?", "j2");
	chat_expect_error(b, "not_in_room", "j2");
	{
		struct ws_client *both[] = { b, a };

		say_strict(b, nb, "lobby", "still me", both, 2);
	}
	/* The holder may change the letter case of its own nick. */
	chat_send_nick(a, "CAROL", NULL);
	chat_expect_presence(a, "lobby", "nick", "CAROL", "Carol");
	chat_expect_presence(b, "lobby", "nick", "CAROL", "Carol");

	/* Freed by a nick change: b takes it. */
	chat_send_nick(a, "Dave", NULL);
	chat_expect_presence(a, "lobby", "nick", "Dave", "CAROL");
	chat_expect_presence(b, "lobby", "nick", "Dave", "CAROL");
	chat_send_nick(b, "carol", "n4");
	chat_expect_presence(b, "lobby", "nick", "carol", nb);
	chat_expect_presence(a, "lobby", "nick", "carol", nb);
	chat_send_nick(a, "Carol", "n5");
	chat_expect_error(a, "nick_taken", "n5");
	/* Freed by a disconnect: a takes it back. */
	ws_close(b);
	chat_expect_presence(a, "lobby", "leave", "carol", NULL);
	chat_send_nick(a, "Carol", "n6");
	chat_expect_presence(a, "lobby", "nick", "Carol", "Dave");
	chat_expect_quiet(a, CLUSTER_QUIET_MS);
	ws_close(a);
}

/* What one racer saw of a round, up to its own answer. */
struct claim {
	bool won, lost;
	bool saw_other; /* the other's presence nick */
};

/*
 * Reads c's frames up to the answer to its request (cid) for want: its
 * own presence nick (won) or nick_taken (lost). The only other frame
 * allowed before it is the other racer's presence nick, other_want for
 * other_old.
 */
static void
read_claim(struct ws_client *c, const char *want, const char *old,
	   const char *cid, const char *other_want, const char *other_old,
	   struct claim *out)
{
	*out = (struct claim){ false };
	while (!out->won && !out->lost) {
		json_t *f = ws_recv_json(c, CHAT_TIMEOUT_MS);
		const char *type;
		bool nick_event;

		if (!f)
			fail_msg("no answer to nick request %s", cid);
		type = jstr(f, "type");
		nick_event = !strcmp(type, "presence") &&
			     !strcmp(jstr(f, "event"), "nick") &&
			     !strcmp(jstr(f, "room"), "lobby") &&
			     jstr_opt(f, "old");
		if (!strcmp(type, "error") &&
		    !strcmp(jstr(f, "code"), "nick_taken") &&
		    jstr_opt(f, "cid") && !strcmp(jstr(f, "cid"), cid)) {
			out->lost = true;
		} else if (nick_event && !strcmp(jstr(f, "nick"), want) &&
			   !strcmp(jstr(f, "old"), old)) {
			out->won = true;
		} else if (nick_event && !out->saw_other &&
			   !strcmp(jstr(f, "nick"), other_want) &&
			   !strcmp(jstr(f, "old"), other_old)) {
			out->saw_other = true;
		} else {
			char buf[1200];

			snprintf(buf, sizeof(buf), "%s", json_brief(f));
			json_decref(f);
			fail_msg("racing for %s (%s): unexpected %s", want, cid,
				 buf);
		}
		json_decref(f);
	}
}

#define RACE_ROUNDS 6

CLUSTER_TEST(test_cluster_two_instances_racing_for_a_nick_one_wins)
{
	char nick[2][CHAT_NICK_MAX + 1];
	struct ws_client *c[2];

	connect_pair(cl, &c[0], nick[0], &c[1], nick[1]);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		char want[2][CHAT_NICK_MAX + 1], cid[2][16];
		struct claim got[2];
		int first = round % 2, w;

		/* Odd rounds: the same nick in another letter case. */
		snprintf(want[0], sizeof(want[0]), "Racer%d", round);
		snprintf(want[1], sizeof(want[1]), round % 2 ? "RACER%d"
							      : "Racer%d",
			 round);
		for (int k = 0; k < 2; k++) {
			int i = first ^ k;

			snprintf(cid[i], sizeof(cid[i]), "r%d-%c", round,
				 "ab"[i]);
			chat_send_nick(c[i], want[i], cid[i]);
		}
		for (int i = 0; i < 2; i++)
			read_claim(c[i], want[i], nick[i], cid[i], want[!i],
				   nick[!i], &got[i]);
		if (got[0].won == got[1].won)
			fail_msg("round %d: %s for %s on a and %s on b", round,
				 got[0].won ? "won" : "lost", want[0],
				 got[1].won ? "won" : "lost");
		w = got[1].won;
		if (got[w].saw_other)
			fail_msg("round %d: the winner on %c saw the loser "
				 "renamed", round, "ab"[w]);
		if (!got[!w].saw_other)
			chat_expect_presence(c[!w], "lobby", "nick", want[w],
					     nick[w]);
		snprintf(nick[w], sizeof(nick[w]), "%s", want[w]);
	}
	expect_quiet_all(c, 2);
	ws_close(c[1]);
	ws_close(c[0]);
}

CLUSTER_TEST(test_cluster_nick_change_while_redis_down_is_unavailable)
{
	char na[CHAT_NICK_MAX + 1];
	struct ws_client *a;
	json_t *joined, *req;

	a = connect_joined(cl, 0, na, &joined);
	json_decref(joined);
	assert_int_equal(redis_fixture_stop(&cl->redis), 0);
	assert_int_equal(wait_down(&cl->node[0]), 0);
	chat_send_nick(a, "Dora", "d1");
	chat_expect_error(a, "unavailable", "d1");
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "join", "room", "jd",
			"nick", "Dora", "cid", "d2");
	assert_int_equal(ws_send_json(a, req), 0);
	json_decref(req);
	chat_expect_error(a, "unavailable", "d2");
	chat_expect_quiet(a, CLUSTER_QUIET_MS);

	/* Back: neither the nick nor the join had happened. */
	assert_int_equal(redis_fixture_restart(&cl->redis), 0);
	assert_int_equal(wait_up(&cl->node[0]), 0);
	chat_send_nick(a, "Dora", "d3");
	chat_expect_presence(a, "lobby", "nick", "Dora", na);
	chat_expect_quiet(a, CLUSTER_QUIET_MS);
	ws_close(a);
}

/*
 * b's client takes nick "victim" and joins r beside a's client; a's
 * client has seen both.
 */
static void
victim_in_r(struct ws_client *a, struct ws_client *b, const char *nb)
{
	chat_send_nick(b, "victim", NULL);
	chat_expect_presence(b, "lobby", "nick", "victim", nb);
	chat_expect_presence(a, "lobby", "nick", "victim", nb);
	json_decref(chat_join(a, "r"));
	json_decref(chat_join(b, "r"));
	chat_expect_presence(a, "r", "join", "victim", NULL);
}

/*
 * After "victim" left with its instance: a new client on node i sees a's
 * client (nick na) and itself as members, and takes "victim"; both hear
 * it, and nothing else. Closes both clients.
 */
static void
victim_free_on(struct cluster *cl, int i, struct ws_client *a,
	       const char *na)
{
	char n2[CHAT_NICK_MAX + 1];
	struct ws_client *c;
	json_t *joined;

	c = connect_joined(cl, i, n2, &joined);
	expect_members(joined, (const char *const[]){ na, n2 }, 2);
	json_decref(joined);
	chat_expect_presence(a, "lobby", "join", n2, NULL);
	chat_send_nick(c, "victim", "v1");
	chat_expect_presence(c, "lobby", "nick", "victim", n2);
	chat_expect_presence(a, "lobby", "nick", "victim", n2);
	{
		struct ws_client *both[] = { a, c };

		expect_quiet_all(both, 2);
	}
	ws_close(c);
	ws_close(a);
}

CLUSTER_TEST(test_cluster_killed_instance_members_leave_and_nick_is_freed)
{
	static const char *const rooms[] = { "lobby", "r" };
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b;
	long long killed;

	connect_pair(cl, &a, na, &b, nb);
	victim_in_r(a, b, nb);
	killed = monotonic_ms();
	chatd_kill(&cl->node[1]);
	ws_free(b);
	expect_presence_in(a, "leave", "victim", NULL, rooms, 2,
			   killed + PURGE_MS);
	expect_room_members(a, "r", (const char *const[]){ na }, 1);

	/* Its nick is free: a new client on a takes it. */
	victim_free_on(cl, 0, a, na);
}

/* A restarted instance says who is on it afresh as soon as it is back,
 * which drops its old members long before they could be purged. */
#define RESTART_LEAVE_MS 6000

CLUSTER_TEST(test_cluster_restarted_instance_drops_its_old_members)
{
	static const char *const rooms[] = { "lobby", "r" };
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	struct ws_client *a, *b;
	long long killed;

	connect_pair(cl, &a, na, &b, nb);
	victim_in_r(a, b, nb);
	killed = monotonic_ms();
	chatd_kill(&cl->node[1]);
	ws_free(b);
	assert_int_equal(node_start(cl, 1), 0); /* "b" again */
	expect_presence_in(a, "leave", "victim", NULL, rooms, 2,
			   killed + RESTART_LEAVE_MS);
	assert_int_equal(wait_up(&cl->node[1]), 0);

	/* The new b knows a's client, and "victim" is free on it. */
	victim_free_on(cl, 1, a, na);
}

/* A presence event as expected, for expect_presence_set. */
struct presence_ev {
	const char *room, *event, *nick;
};

/* The next n frames of c are the presence events evs[0..n) (no "old"),
 * once each, in any order, all before deadline (monotonic ms). */
static void
expect_presence_set(struct ws_client *c, const struct presence_ev *evs,
		    size_t n, long long deadline)
{
	bool got[8] = { false };

	assert_true(n <= 8);
	for (size_t k = 0; k < n; k++) {
		long long left = deadline - monotonic_ms();
		json_t *p = ws_recv_json(c, left > 0 ? (int)left : 0);
		size_t i = n;

		if (!p)
			fail_msg("%zu of %zu presence events in time", k, n);
		if (!strcmp(jstr(p, "type"), "presence") &&
		    !json_object_get(p, "old"))
			for (i = 0; i < n; i++)
				if (!got[i] &&
				    !strcmp(jstr(p, "room"), evs[i].room) &&
				    !strcmp(jstr(p, "event"), evs[i].event) &&
				    !strcmp(jstr(p, "nick"), evs[i].nick))
					break;
		if (i == n) {
			char buf[1200];

			snprintf(buf, sizeof(buf), "%s", json_brief(p));
			json_decref(p);
			fail_msg("unexpected frame %s (%zu of %zu presence "
				 "events seen)", buf, k, n);
		}
		got[i] = true;
		json_decref(p);
	}
}

/* Longer than a restart and a connect take, shorter than chatd's 2 s
 * Redis command timeout (so a does not drop its connections). */
#define PAUSE_MS 1500

/*
 * A client reaches the restarted b before b is back in the cluster (Redis
 * holds every command for PAUSE_MS): the old members still leave, and the
 * new client joins, whatever session ids the new process hands out.
 */
CLUSTER_TEST(test_cluster_restarted_instance_with_an_early_client)
{
	char na[CHAT_NICK_MAX + 1], nb[CHAT_NICK_MAX + 1];
	char n2[CHAT_NICK_MAX + 1], pause[32];
	struct ws_client *a, *b, *b2;
	json_t *joined;
	long long paused;

	connect_pair(cl, &a, na, &b, nb);
	victim_in_r(a, b, nb);
	snprintf(pause, sizeof(pause), "CLIENT PAUSE %d", PAUSE_MS);
	paused = monotonic_ms();
	expect_reply(cl, pause, "+OK");
	chatd_kill(&cl->node[1]);
	ws_free(b);
	assert_int_equal(node_start(cl, 1), 0);
	b2 = connect_joined(cl, 1, n2, &joined);
	json_decref(joined);
	if (monotonic_ms() - paused >= PAUSE_MS) {
		/* Too slow a machine: b may have been back already. */
		print_message("restart and connect took %lld ms, over the "
			      "%d ms pause: skipped\n",
			      monotonic_ms() - paused, PAUSE_MS);
		ws_close(b2);
		ws_close(a);
		cl->finished++; /* nothing failed: no logs */
		skip();
	}
	{
		const struct presence_ev want[] = {
			{ "lobby", "leave", "victim" },
			{ "r", "leave", "victim" },
			{ "lobby", "join", n2 },
		};

		expect_presence_set(a, want, 3,
				    paused + PAUSE_MS + RESTART_LEAVE_MS);
	}
	assert_int_equal(wait_up(&cl->node[1]), 0);
	expect_room_members(a, "lobby", (const char *const[]){ na, n2 }, 2);
	expect_room_members(a, "r", (const char *const[]){ na }, 1);
	/* b2 came while b was still catching up: what b learns then reaches
	 * it live, as it would any member of an instance that missed it: the
	 * lobby's earlier messages, and a's client joining its member list
	 * (its joined frame could not name it yet). That, and nothing else. */
	for (json_t *m; (m = ws_recv_json(b2, CLUSTER_QUIET_MS));) {
		const char *type = jstr(m, "type");

		if (strcmp(type, "message") &&
		    !(!strcmp(type, "presence") &&
		      !strcmp(jstr(m, "event"), "join") &&
		      !strcmp(jstr(m, "nick"), na)))
			fail_msg("b2 got %s after the catch-up", json_brief(m));
		json_decref(m);
	}
	chat_expect_quiet(a, 50);
	ws_close(b2);
	ws_close(a);
}

/* ---- token auth: one person on several instances ----------------------- */

#define SECRET "cluster-secret-0123456789abcdef-xyz"

/* Restarts b and starts c with --jwt-secret-file (a file in the Redis
 * fixture's temp dir, removed with it); a keeps taking guests. */
static void
token_nodes(struct cluster *cl)
{
	char path[300], arg[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/jwt.secret", cl->redis.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", SECRET);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(arg, sizeof(arg), "--jwt-secret-file=%s", path);
	assert_int_equal(chatd_stop(&cl->node[1]), 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(node_start_with(cl, i, arg), 0);
		assert_int_equal(wait_up(&cl->node[i]), 0);
	}
}

/* Connects to node i with a token for sub and checks the greeting like
 * connect_joined (the nick is sub). */
static struct ws_client *
connect_token(struct cluster *cl, int i, const char *sub, json_t **joined)
{
	char payload[256], path[1024];
	char *tok;
	struct ws_connect_opts o = { .path = path };
	struct ws_client *c;
	json_t *w;

	snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld}", sub,
		 mint_now() + 3600);
	tok = mint_hs256(payload, SECRET, strlen(SECRET));
	assert_non_null(tok);
	snprintf(path, sizeof(path), "/chat?token=%s", tok);
	free(tok);
	c = ws_connect_opts(cl->node[i].port, &o);
	if (!c)
		fail_msg("could not connect to node %d as %s", i, sub);
	w = ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(w, "nick"), sub);
	assert_string_equal(jstr(w, "room"), "lobby");
	json_decref(w);
	*joined = ws_expect_type(c, "joined", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(*joined, "room"), "lobby");
	w = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	json_decref(w);
	return c;
}

/*
 * Two connections of one sub on two instances are one person, as on one
 * server: listed and counted once, and the other instances hear of a join
 * when the first comes in and of a leave when the last goes. (What the
 * second one's own instance tells its neighbours is the next test's.)
 */
CLUSTER_TEST(test_cluster_one_person_on_two_instances_counts_once)
{
	char na[CHAT_NICK_MAX + 1];
	struct ws_client *a, *tab1, *tab2;
	json_t *joined;

	token_nodes(cl);
	a = connect_joined(cl, 0, na, &joined);
	json_decref(joined);
	chat_roundtrip(a, NULL);
	tab1 = connect_token(cl, 1, "Tab", &joined);
	expect_members(joined, (const char *const[]){ na, "Tab" }, 2);
	json_decref(joined);
	chat_expect_presence(a, "lobby", "join", "Tab", NULL);
	chat_roundtrip(tab1, NULL);
	json_decref(chat_expect_msg(a, "lobby", "Tab", NULL, NULL));

	/* The second tab, on c: nobody new. */
	tab2 = connect_token(cl, 2, "Tab", &joined);
	expect_members(joined, (const char *const[]){ na, "Tab" }, 2);
	json_decref(joined);
	{
		struct ws_client *all[] = { tab2, a, tab1 };

		say_strict(tab2, "Tab", "lobby", "two tabs", all, 3);
	}
	expect_room_members(a, "lobby", (const char *const[]){ na, "Tab" }, 2);
	expect_room_members(tab1, "lobby", (const char *const[]){ na, "Tab" },
			    2);
	chat_send_nick(a, "tAB", "t1");
	chat_expect_error(a, "nick_taken", "t1");

	/* One tab gone: still there. */
	ws_close(tab2);
	chat_expect_quiet(a, CLUSTER_QUIET_MS);
	{
		struct ws_client *both[] = { tab1, a };

		say_strict(tab1, "Tab", "lobby", "one tab left", both, 2);
	}
	expect_room_members(a, "lobby", (const char *const[]){ na, "Tab" }, 2);
	/* The last one gone: it leaves. */
	ws_close(tab1);
	chat_expect_presence(a, "lobby", "leave", "Tab", NULL);
	expect_room_members(a, "lobby", (const char *const[]){ na }, 1);
	chat_expect_quiet(a, CLUSTER_QUIET_MS);
	ws_close(a);
}

/*
 * The second tab's own instance: its neighbours already have the person
 * in the room (through the first tab, elsewhere), so they hear of neither
 * the second tab's coming nor its going.
 */
CLUSTER_TEST(test_cluster_second_tab_is_no_news_on_its_own_instance)
{
	struct ws_client *tab1, *wit, *tab2;
	json_t *joined;

	token_nodes(cl);
	tab1 = connect_token(cl, 1, "Tab", &joined);
	json_decref(joined);
	chat_roundtrip(tab1, NULL);
	wit = connect_token(cl, 2, "Wit", &joined);
	expect_members(joined, (const char *const[]){ "Tab", "Wit" }, 2);
	json_decref(joined);
	chat_expect_presence(tab1, "lobby", "join", "Wit", NULL);

	tab2 = connect_token(cl, 2, "Tab", &joined);
	expect_members(joined, (const char *const[]){ "Tab", "Wit" }, 2);
	json_decref(joined);
	{
		struct ws_client *all[] = { tab2, wit, tab1 };

		say_strict(tab2, "Tab", "lobby", "two tabs", all, 3);
	}
	ws_close(tab2);
	{
		struct ws_client *both[] = { wit, tab1 };

		say_strict(wit, "Wit", "lobby", "one tab left", both, 2);
	}
	expect_room_members(wit, "lobby", (const char *const[]){ "Tab", "Wit" },
			    2);
	ws_close(tab1);
	chat_expect_presence(wit, "lobby", "leave", "Tab", NULL);
	chat_expect_quiet(wit, CLUSTER_QUIET_MS);
	ws_close(wit);
}

/*
 * A sub that differs only in letter case from a nick held on another
 * instance is someone else's: the handshake gets 409, as on one server
 * (docs/protocol.md, Opening handshake).
 */
CLUSTER_TEST(test_cluster_token_nick_in_another_case_is_refused_elsewhere)
{
	char payload[256], path[1024];
	struct ws_connect_opts o = { .path = path };
	struct ws_client *carol, *c;
	json_t *joined;
	char *tok;
	int rc;

	token_nodes(cl);
	carol = connect_token(cl, 1, "Carol", &joined);
	json_decref(joined);
	/* Its nick is registered in Redis before this comes back. */
	chat_roundtrip(carol, NULL);

	snprintf(payload, sizeof(payload), "{\"sub\":\"carol\",\"exp\":%lld}",
		 mint_now() + 3600);
	tok = mint_hs256(payload, SECRET, strlen(SECRET));
	assert_non_null(tok);
	snprintf(path, sizeof(path), "/chat?token=%s", tok);
	free(tok);
	c = ws_start(cl->node[2].port, &o);
	assert_non_null(c);
	rc = ws_finish(c);
	if (rc == 0) {
		json_t *w = ws_recv_json(c, CHAT_TIMEOUT_MS);
		char buf[1200];

		snprintf(buf, sizeof(buf), "%s", json_brief(w));
		json_decref(w);
		ws_free(c);
		fail_msg("sub carol was let in on c (%s) while Carol is on b",
			 buf);
	}
	if (strncmp(ws_response_head(c), "HTTP/1.1 409", 12))
		fail_msg("expected 409, got %.*s",
			 (int)strcspn(ws_response_head(c), "\r\n"),
			 ws_response_head(c));
	ws_free(c);
	chat_expect_quiet(carol, CLUSTER_QUIET_MS);
	ws_close(carol);
}

/* ---- socket.io clients ------------------------------------------------ */

/* The next text message of a socket.io client must be want. */
static void
sio_expect(struct ws_client *c, const char *want)
{
	struct ws_msg m;
	int r = ws_recv_msg(c, &m, CHAT_TIMEOUT_MS);

	if (r != WS_OK)
		fail_msg("expected '%s', got nothing (%d)", want, r);
	if (strcmp(m.data, want))
		fail_msg("expected '%s', got '%s'", want, m.data);
	ws_msg_fini(&m);
}

/* A socket.io client in the lobby of the instance on port. */
static struct ws_client *
sio_connect(int port)
{
	struct ws_connect_opts o = {
		.path = "/socket.io/?EIO=4&transport=websocket",
		.subprotocol = "",
	};
	struct ws_client *c = ws_connect_opts(port, &o);
	struct ws_msg m;

	assert_non_null(c);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ws_recv_msg(c, &m, CHAT_TIMEOUT_MS), WS_OK);
		/* The open packet, then the answer to CONNECT. */
		assert_true(!strncmp(m.data, i ? "40{" : "0{", i ? 3 : 2));
		ws_msg_fini(&m);
		if (!i)
			assert_int_equal(ws_send_text(c, "40"), 0);
	}
	return c;
}

/* Messages from Redis take the same way to socket.io clients as local
 * ones: a v1 message on one instance reaches a socket.io client on the
 * other, and the other way round. */
CLUSTER_TEST(test_cluster_socketio_clients_get_every_instances_messages)
{
	struct ws_client *a = chat_connect(cl->node[0].port, NULL);
	struct ws_client *s = sio_connect(cl->node[1].port);
	json_t *m;

	chat_say(a, NULL, "from a", NULL);
	json_decref(chat_wait_msg(a, "lobby", NULL, "from a", NULL));
	sio_expect(s, "42[\"chat message\",\"from a\"]");
	assert_int_equal(ws_send_text(s, "421[\"chat message\",\"from b\"]"),
			 0);
	sio_expect(s, "431[{\"status\":\"ok\"}]");
	sio_expect(s, "42[\"chat message\",\"from b\"]");
	m = chat_wait_msg(a, "lobby", NULL, "from b", NULL);
	assert_true(!strncmp(jstr(m, "nick"), "guest-", 6));
	json_decref(m);
	expect_no_message(a);
	ws_close(s);
	ws_close(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_redis_fixture_restarts_empty_on_the_same_port,
			setup_redis_only, teardown),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_cluster_message_crosses_instances_both_ways),
		T(test_cluster_two_senders_one_order_exactly_once),
		T(test_cluster_history_is_the_same_through_any_instance),
		T(test_cluster_redis_down_then_back_empty),
		T(test_cluster_joined_lists_and_counts_every_instance),
		T(test_cluster_presence_join_and_leave_cross_instances),
		T(test_cluster_nick_change_and_typing_cross_instances),
		T(test_cluster_nick_is_unique_across_instances),
		T(test_cluster_two_instances_racing_for_a_nick_one_wins),
		T(test_cluster_nick_change_while_redis_down_is_unavailable),
		T(test_cluster_killed_instance_members_leave_and_nick_is_freed),
		T(test_cluster_restarted_instance_drops_its_old_members),
		T(test_cluster_restarted_instance_with_an_early_client),
		T(test_cluster_one_person_on_two_instances_counts_once),
		T(test_cluster_second_tab_is_no_news_on_its_own_instance),
		T(test_cluster_token_nick_in_another_case_is_refused_elsewhere),
		T(test_cluster_socketio_clients_get_every_instances_messages),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
