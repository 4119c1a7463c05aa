/*
 * /metrics: Prometheus text format 0.0.4 that real tools accept (promtool
 * check metrics, and prometheus_client's parser through check_metrics.py),
 * with values that follow the traffic exactly where it is deterministic:
 * sessions, rooms, messages, deliveries, closes by code, handshakes refused
 * by reason (a missing token too). HEAD answers like GET. --metrics-listen
 * serves /metrics on a port of its own, IPv4 or IPv6, with 404 for
 * anything else there and for /metrics on the public port; a bad value is
 * exit 2 naming the flag, a port in use exit 1. Each test runs its own
 * chatd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 5000
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define LOBBY "lobby"

/* Debian's python, where python3-prometheus-client installs its module
 * (a python3 earlier in PATH, pyenv's say, would not have it). */
#define SYSTEM_PYTHON "/usr/bin/python3"
#define PROMTOOL "/usr/bin/promtool"

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* GET (or HEAD) path on port: must be 200 with the exposition type. */
static void
fetch(int port, const char *method, const char *path,
      struct http_response *r)
{
	const struct http_request req = { .method = method, .path = path };
	char type[128];

	if (http_request(port, &req, CHAT_TIMEOUT_MS, r))
		fail_msg("%s %s on port %d failed", method, path, port);
	if (r->status != 200)
		fail_msg("%s %s: status %d\n%s", method, path, r->status,
			 r->head);
	if (!http_header(r, "Content-Type", type, sizeof(type)) ||
	    strcmp(type, CONTENT_TYPE))
		fail_msg("%s %s: Content-Type is not '%s':\n%s", method, path,
			 CONTENT_TYPE, r->head);
}

static int
status_of(int port, const char *path)
{
	struct http_response r;
	int st;

	if (http_get(port, path, CHAT_TIMEOUT_MS, &r))
		fail_msg("GET %s on port %d failed", path, port);
	st = r.status;
	http_response_fini(&r);
	return st;
}

/* The line after the one p is in, or NULL after the last. */
static const char *
next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

/*
 * The value of the sample whose name and labels are exactly `series`
 * (`chat_closes_total{code="1000"}`), -1 when the text has none.
 */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = next_line(p))
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

#define expect_sample(text, series, want)                                     \
	expect_sample_at(__FILE__, __LINE__, (text), (series), (want))
static void
expect_sample_at(const char *file, int line, const char *text,
		 const char *series, double want)
{
	double got = sample(text, series);

	if (got != want) {
		print_error("%s:%d: %s is %g, expected %g in:\n%s\n", file,
			    line, series, got, want, text);
		_fail(file, line);
	}
}

/* GET /metrics: the body (caller frees). */
static char *
metrics(int port)
{
	struct http_response r;
	char *body;

	fetch(port, "GET", "/metrics", &r);
	body = r.body;
	r.body = NULL;
	http_response_fini(&r);
	return body;
}

/* The metrics body once `series` reads `want` (closes land shortly after
 * the client sees its close); fails at the deadline. Caller frees. */
static char *
metrics_when(int port, const char *series, double want)
{
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;

	for (;;) {
		char *body = metrics(port);

		if (sample(body, series) == want || monotonic_ms() > deadline)
			return body;
		free(body);
		usleep(20 * 1000);
	}
}

/*
 * Reads what the server sends on fd until it closes (or CHAT_TIMEOUT_MS,
 * or buf is full) into buf, NUL-terminated, then closes fd.
 */
static void
read_to_eof(int fd, char *buf, size_t cap)
{
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	size_t got = 0;

	while (got < cap - 1 && monotonic_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		r = recv(fd, buf + got, cap - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
}

/*
 * A WebSocket handshake written by hand, so that any header can be wrong;
 * returns the HTTP status of the answer.
 */
static int
handshake_status(int port, const char *path, const char *version,
		 const char *extra)
{
	char req[1024], resp[2048];
	int fd = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS), status = 0;
	int n;

	assert_true(fd >= 0);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		     "Sec-WebSocket-Version: %s\r\n%s\r\n",
		     path, port, version, extra);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	/* Refusals close the connection: read to EOF. */
	read_to_eof(fd, resp, sizeof(resp));
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		fail_msg("no HTTP answer to the handshake: '%s'", resp);
	return status;
}

/* ---- values follow the traffic ---------------------------------------- */

static int
setup_limited(void **state)
{
	/* Four sessions at most: the fifth handshake is refused as busy. */
	static const char *const args[] = { "--max-connections", "4", NULL };

	return chat_fixture_setup(state, args);
}

CHAT_TEST(test_metrics_follow_sessions_messages_closes_and_refusals)
{
	struct ws_client *cs[4];
	char nicks[4][CHAT_NICK_MAX + 1];
	char *m = metrics(port);

	expect_sample(m, "chat_connections", 0);
	expect_sample(m, "chat_rooms", 0);
	expect_sample(m, "chat_messages_total", 0);
	expect_sample(m, "chat_deliveries_total", 0);
	expect_sample(m, "chat_sent_bytes_total", 0);
	expect_sample(m, "chat_history_commit_seconds_count", 0);
	expect_sample(m, "chat_closes_total{code=\"1000\"}", -1);
	free(m);

	chat_connect_many(port, 4, cs, nicks);
	json_decref(chat_join(cs[0], "side"));
	m = metrics(port);
	expect_sample(m, "chat_connections", 4);
	expect_sample(m, "chat_rooms", 2);
	free(m);

	/* Three messages to the lobby's four, one to side's one member. */
	for (int i = 0; i < 3; i++) {
		char text[16];

		snprintf(text, sizeof(text), "hello %d", i);
		chat_say(cs[i], LOBBY, text, NULL);
		for (int j = 0; j < 4; j++)
			json_decref(chat_wait_msg(cs[j], LOBBY, nicks[i], text,
						  NULL));
	}
	chat_say(cs[0], "side", "aside", NULL);
	json_decref(chat_wait_msg(cs[0], "side", nicks[0], "aside", NULL));

	/* A fifth session is over --max-connections; then refusals that
	 * the handshake checks make, one of each. */
	assert_int_equal(handshake_status(port, "/chat", "13", ""), 503);
	assert_int_equal(handshake_status(port, "/chat", "13",
					  "Origin: https://evil.example\r\n"),
			 403);
	assert_int_equal(handshake_status(port, "/chat", "8", ""), 426);
	assert_int_equal(handshake_status(port, "/elsewhere", "13", ""), 404);
	assert_int_equal(handshake_status(port, "/chat", "13",
					  "Sec-WebSocket-Protocol: http\r\n"),
			 400);

	m = metrics(port);
	expect_sample(m, "chat_messages_total", 4);
	expect_sample(m, "chat_deliveries_total", 3 * 4 + 1);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"busy\"}", 1);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"origin\"}",
		      1);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"version\"}",
		      1);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"path\"}", 1);
	expect_sample(m,
		      "chat_handshakes_rejected_total{reason=\"subprotocol\"}",
		      1);
	expect_sample(m,
		      "chat_handshakes_rejected_total{reason=\"bad_request\"}",
		      0);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"token\"}",
		      0);
	if (sample(m, "chat_sent_bytes_total") < 1000)
		fail_msg("sent bytes too few for the frames sent:\n%s", m);
	if (sample(m, "chat_history_commit_seconds_count") < 1 ||
	    sample(m, "chat_history_commit_seconds_sum") <= 0)
		fail_msg("no history commit measured:\n%s", m);
	free(m);

	/* Four ends: 1000 from the client, 1003 from the server (binary),
	 * an application code (counted as other) and no close frame. */
	ws_close(cs[0]);
	assert_int_equal(ws_send_binary(cs[1], "x", 1), 0);
	assert_int_equal(ws_recv_close_code(cs[1], CHAT_TIMEOUT_MS, NULL),
			 1003);
	ws_free(cs[1]);
	assert_int_equal(ws_send_close(cs[2], 4000, "bye"), 0);
	ws_recv_close_code(cs[2], CHAT_TIMEOUT_MS, NULL);
	ws_free(cs[2]);
	ws_free(cs[3]);

	m = metrics_when(port, "chat_connections", 0);
	expect_sample(m, "chat_connections", 0);
	expect_sample(m, "chat_rooms", 0);
	expect_sample(m, "chat_closes_total{code=\"1000\"}", 1);
	expect_sample(m, "chat_closes_total{code=\"1003\"}", 1);
	expect_sample(m, "chat_closes_total{code=\"1006\"}", 1);
	expect_sample(m, "chat_closes_total{code=\"other\"}", 1);
	expect_sample(m, "chat_closes_total{code=\"1001\"}", -1);
	expect_sample(m, "chat_messages_total", 4);
	free(m);
}

/* With token auth, a handshake without a token is refused as "token". */
static void
test_metrics_count_handshakes_without_a_token(void **state)
{
	static const char secret[] = "metrics-test-secret-0123456789abcdef";
	char dir[] = "/tmp/chat-metrics-XXXXXX", path[64];
	const char *const args[] = { "--jwt-secret-file", path, NULL };
	struct chatd d;
	char *m;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, secret, sizeof(secret) - 1),
			 (ssize_t)sizeof(secret) - 1);
	close(fd);
	assert_int_equal(chatd_start(&d, args), 0);
	assert_int_equal(handshake_status(d.port, "/chat", "13", ""), 401);
	assert_int_equal(handshake_status(d.port, "/chat", "13", ""), 401);
	m = metrics(d.port);
	expect_sample(m, "chat_handshakes_rejected_total{reason=\"token\"}", 2);
	expect_sample(m, "chat_connections", 0);
	free(m);
	assert_int_equal(chatd_stop(&d), 0);
	unlink(path);
	rmdir(dir);
}

/* ---- the format, as real tools read it -------------------------------- */

static int
setup_plain(void **state)
{
	return chat_fixture_setup(state, NULL);
}

/* Runs `cmd < file`; returns its exit status, its output in *out. */
static int
run_on_file(const char *cmd, const char *file, char **out)
{
	char line[1024];
	size_t used = 0, cap = 4096;
	FILE *p;
	int st;

	snprintf(line, sizeof(line), "%s < '%s' 2>&1", cmd, file);
	p = popen(line, "r");
	assert_non_null(p);
	*out = malloc(cap);
	assert_non_null(*out);
	for (;;) {
		size_t n = fread(*out + used, 1, cap - used - 1, p);

		used += n;
		if (!n)
			break;
		if (cap - used < 2) {
			cap *= 2;
			*out = realloc(*out, cap);
			assert_non_null(*out);
		}
	}
	(*out)[used] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
expect_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = next_line(p))
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			return;
	fail_msg("no line '%s' in:\n%s", line, text);
}

CHAT_TEST(test_metrics_pass_promtool_and_prometheus_client_parser)
{
	char nick[CHAT_NICK_MAX + 1], file[300], *body, *out;
	struct ws_client *c = chat_connect(port, nick);
	FILE *f;
	int st;

	chat_say(c, NULL, "counted", NULL);
	json_decref(chat_expect_msg(c, LOBBY, nick, "counted", NULL));
	ws_close(c);
	assert_int_equal(handshake_status(port, "/chat", "13",
					  "Origin: https://evil.example\r\n"),
			 403);
	body = metrics_when(port, "chat_closes_total{code=\"1000\"}", 1);

	snprintf(file, sizeof(file), "%s/metrics.txt", fx->d.dir);
	f = fopen(file, "w");
	assert_non_null(f);
	assert_int_equal(fputs(body, f) >= 0, 1);
	fclose(f);

	st = run_on_file(PROMTOOL " check metrics", file, &out);
	if (st)
		fail_msg("promtool check metrics exit %d:\n%s\non:\n%s", st,
			 out, body);
	free(out);

	st = run_on_file(SYSTEM_PYTHON " " CHECK_METRICS_PY, file, &out);
	if (st)
		fail_msg("check_metrics.py exit %d:\n%s\non:\n%s", st, out,
			 body);
	/* The values as prometheus_client parsed them. */
	expect_line(out, "chat_build_info{version=\"" CHATD_VERSION "\"} 1");
	expect_line(out, "chat_connections 0");
	expect_line(out, "chat_messages_total 1");
	expect_line(out, "chat_deliveries_total 1");
	expect_line(out, "chat_closes_total{code=\"1000\"} 1");
	expect_line(out, "chat_handshakes_rejected_total{reason=\"origin\"} 1");
	expect_line(out, "chat_history_commit_seconds_count 1");
	expect_line(out, "chat_history_commit_seconds_bucket{le=\"+Inf\"} 1");
	if (sample(body, "chat_process_resident_memory_bytes") < 1 << 20 ||
	    sample(body, "chat_process_open_fds") < 3)
		fail_msg("process memory or descriptors implausible:\n%s",
			 body);
	free(out);
	free(body);
}

CHAT_TEST(test_metrics_head_answers_like_get_without_body)
{
	struct http_response get, head;
	char len[32];

	fetch(port, "GET", "/metrics", &get);
	fetch(port, "HEAD", "/metrics", &head);
	assert_int_equal(head.body_len, 0);
	if (!http_header(&head, "Content-Length", len, sizeof(len)) ||
	    atoi(len) < (int)get.body_len / 2)
		fail_msg("HEAD has no plausible Content-Length:\n%s",
			 head.head);
	assert_non_null(strstr(get.body, "# TYPE chat_connections gauge\n"));
	assert_int_equal(get.body[get.body_len - 1], '\n');
	http_response_fini(&get);
	http_response_fini(&head);
}

/* ---- --metrics-listen ------------------------------------------------- */

/* The port of "metrics on http://HOST:PORT/metrics" in the log. */
static int
metrics_port(const struct chatd *d, const char *host)
{
	char want[96], *err = chatd_stderr(d), *at;
	int port = -1;

	snprintf(want, sizeof(want), "info  metrics on http://%s:", host);
	at = err ? strstr(err, want) : NULL;
	if (at)
		sscanf(at + strlen(want), "%d/metrics", &port);
	if (port <= 0)
		fail_msg("no '%s' line in:\n%s", want, err ? err : "");
	free(err);
	return port;
}

static int
setup_listen(void **state)
{
	static const char *const args[] = { "--metrics-listen",
					    "127.0.0.1:0", NULL };

	return chat_fixture_setup(state, args);
}

CHAT_TEST(test_metrics_listen_serves_metrics_alone_and_hides_them_publicly)
{
	int mport = metrics_port(&fx->d, "127.0.0.1");
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c = chat_connect(port, nick);
	char *m;

	assert_int_not_equal(mport, port);
	/* The chat's state, seen from the other port. */
	m = metrics(mport);
	expect_sample(m, "chat_connections", 1);
	free(m);
	assert_int_equal(status_of(port, "/metrics"), 404);
	assert_int_equal(status_of(port, "/healthz"), 200);
	assert_int_equal(status_of(mport, "/"), 404);
	assert_int_equal(status_of(mport, "/healthz"), 404);
	assert_int_equal(status_of(mport, "/index.html"), 404);
	assert_int_equal(handshake_status(mport, "/chat", "13", ""), 404);
	ws_close(c);
}

/* Whether this machine can bind ::1 (containers often run without IPv6). */
static bool
have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return false;
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

static void
test_metrics_listen_takes_an_ipv6_literal(void **state)
{
	static const char *const args[] = { "--metrics-listen", "[::1]:0",
					    NULL };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: [::1]\r\n"
				  "Connection: close\r\n\r\n";
	struct chatd d;
	char resp[16384];
	int fd;

	if (!have_ipv6_loopback()) {
		print_message("no IPv6 loopback here: skipped\n");
		skip();
	}
	assert_int_equal(chatd_start(&d, args), 0);
	fd = tcp_connect_addr("::1", metrics_port(&d, "[::1]"),
			      CHAT_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
			 (ssize_t)sizeof(req) - 1);
	read_to_eof(fd, resp, sizeof(resp));
	if (strncmp(resp, "HTTP/1.1 200", 12) ||
	    !strstr(resp, "\nchat_connections 0\n"))
		fail_msg("no metrics over [::1]:\n%s", resp);
	assert_int_equal(chatd_stop(&d), 0);
}

/* chatd with exactly args (and env): exit `want`, one stderr line naming
 * `name`. */
static void
expect_refused_start(const char *const *args, const char *const *env,
		     int want, const char *name)
{
	struct chatd_opts o = { .args = args, .env = env };
	char *err = NULL;
	int st = chatd_run(&o, RUN_TIMEOUT_MS, NULL, &err);

	if (st != want || !err || !strstr(err, name))
		fail_msg("exit %d (expected %d), stderr not naming %s: %s", st,
			 want, name, err ? err : "");
	if (strchr(err, '\n') != err + strlen(err) - 1)
		fail_msg("more than one line: %s", err);
	free(err);
}

static void
test_metrics_listen_bad_value_exits_2_naming_it(void **state)
{
	static const char *const bad[] = {
		"localhost:9100", /* a name, not an address */
		"127.0.0.1",      /* no port */
		"::1:9100",       /* IPv6 without brackets */
		"[::1]9100",      "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:",     ":9100",	     "127.0.0.1:9100x",
		"999.0.0.1:9100",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *const args[] = { "--metrics-listen", bad[i], NULL };

		expect_refused_start(args, NULL, 2, "--metrics-listen");
	}
	{
		const char *const env[] = { "CHAT_METRICS_LISTEN=nowhere",
					    NULL };

		expect_refused_start(NULL, env, 2, "CHAT_METRICS_LISTEN");
	}
}

static void
test_metrics_listen_port_in_use_exits_1_naming_it(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char value[64];
	const char *const args[] = { "--metrics-listen", value, NULL };

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(value, sizeof(value), "127.0.0.1:%d", ntohs(a.sin_port));
	expect_refused_start(args, NULL, 1, "--metrics-listen");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_metrics_follow_sessions_messages_closes_and_refusals,
			setup_limited, teardown),
		cmocka_unit_test(test_metrics_count_handshakes_without_a_token),
		cmocka_unit_test_setup_teardown(
			test_metrics_pass_promtool_and_prometheus_client_parser,
			setup_plain, teardown),
		cmocka_unit_test_setup_teardown(
			test_metrics_head_answers_like_get_without_body,
			setup_plain, teardown),
		cmocka_unit_test_setup_teardown(
			test_metrics_listen_serves_metrics_alone_and_hides_them_publicly,
			setup_listen, teardown),
		cmocka_unit_test(test_metrics_listen_takes_an_ipv6_literal),
		cmocka_unit_test(test_metrics_listen_bad_value_exits_2_naming_it),
		cmocka_unit_test(
			test_metrics_listen_port_in_use_exits_1_naming_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
