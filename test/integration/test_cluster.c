/*
 * Cluster mode (issue 13, stage 1): several chatd instances on one real
 * redis-server form one chat. A message crosses instances with one id, in
 * one order, exactly once; history and `since` are the same through any
 * instance, one started late included; while Redis is down a message gets
 * `unavailable`, and after Redis comes back empty ids keep increasing.
 * Presence does not cross instances yet, so waits skip presence frames.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"
#include "redis_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Starts node i as instance "a", "b" or "c" on the cluster's Redis. */
static int
node_start(struct cluster *cl, int i)
{
	char id[2] = { (char)('a' + i), '\0' };
	const char *args[] = { "--redis", redis_fixture_url(&cl->redis),
			       "--instance-id", id, NULL };

	return chatd_start(&cl->node[i], args);
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
		T(test_cluster_socketio_clients_get_every_instances_messages),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
