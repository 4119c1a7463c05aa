/*
 * Where chatd listens, seen by a client: --host (or CHAT_HOST) with an
 * address literal accepts on that address only, a name on every address it
 * resolves to, no host on IPv6 and IPv4 alike. An address the machine lacks,
 * a busy port or a name that does not resolve is one line on stderr and exit
 * status 1, with no ready line. Traffic goes to 127.0.0.0/8 and ::1 only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 5000 /* "fails within a few seconds" */
/* Resolving a name may wait on a DNS server before it fails. */
#define RESOLVE_TIMEOUT_MS 20000
#define CONNECT_TIMEOUT_MS 2000
/* Other tests listen on loopback ports too: when one holds the port on an
 * address that must refuse, start over on a new port this many times. */
#define ATTEMPTS 3
#define MAX_ADDRS 8
/* TEST-NET-1 (RFC 5737): no machine should have it. Only ever bound. */
#define ABSENT_ADDR "192.0.2.1"
/* RFC 6455 1.3's sample key and the accept value it must produce. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

struct listen_fixture {
	struct chatd d[2];
};

/* What a chatd started with args and env must look like from outside. */
struct listen_case {
	const char *const *args;
	const char *const *env;
	const char *host;              /* in the ready line, as shown */
	const char *note;              /* also in the ready line; may be NULL */
	const char *serve[MAX_ADDRS];  /* each answers /healthz */
	const char *refuse[MAX_ADDRS]; /* each refuses the connect */
	bool chat;                     /* a chat session over serve[0] too */
};

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct listen_fixture));
	return *state ? 0 : -1;
}

/* A failed test leaves its servers running; they go here. */
static int
teardown(void **state)
{
	struct listen_fixture *fx = *state;

	for (size_t i = 0; i < sizeof(fx->d) / sizeof(fx->d[0]); i++)
		chatd_kill(&fx->d[i]);
	free(fx);
	return 0;
}

static const char *
www(void)
{
	const char *w = getenv("CHAT_WWW");

	if (!w || !*w)
		fail_msg("CHAT_WWW is not set (run through ctest)");
	return w;
}

#define fail_logs(d, ...) fail_logs_at(__FILE__, __LINE__, (d), __VA_ARGS__)
static void fail_logs_at(const char *file, int line, const struct chatd *d,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));

static void
fail_logs_at(const char *file, int line, const struct chatd *d,
	     const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	chatd_dump_logs(d, why);
	print_error("%s\n", why);
	_fail(file, line);
	abort(); /* _fail does not return; this tells the compiler */
}

static bool
is_ipv6(const char *ip)
{
	return strchr(ip, ':') != NULL;
}

/* "127.0.0.2:80", "[::1]:80": for messages and the Host header. */
static void
format_hostport(const char *ip, int port, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s:%d", is_ipv6(ip) ? "[" : "", ip,
		 is_ipv6(ip) ? "]" : "", port);
}

/* Whether this machine can bind ip itself (so it "has" that address). */
static bool
can_bind(const char *ip)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, rc;

	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		len = sizeof(*a6);
	} else {
		return false;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = bind(fd, (struct sockaddr *)&ss, len);
	close(fd);
	return rc == 0;
}

/* Containers often run without IPv6: then its checks are skipped. */
static bool
have_ipv6_loopback(void)
{
	static int have = -1;

	if (have < 0)
		have = can_bind("::1");
	return have;
}

static void
send_all(int fd, const char *s)
{
	size_t len = strlen(s), sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, s + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the read that follows reports it */
		sent += (size_t)n;
	}
}

/*
 * Reads into buf (cap bytes, kept NUL-terminated) until *len >= want, or
 * when want is 0 until it holds a whole HTTP head. Returns 0, or -1 on EOF,
 * error or the deadline.
 */
static int
read_until(int fd, char *buf, size_t cap, size_t *len, size_t want,
	   long long deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - monotonic_ms();
		ssize_t n;

		if (want ? *len >= want : strstr(buf, "\r\n\r\n") != NULL)
			return 0;
		if (left <= 0 || *len + 1 >= cap ||
		    poll(&pfd, 1, (int)left) != 1)
			return -1;
		n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

/* The status line of an HTTP head, for messages. */
static int
first_line_len(const char *buf)
{
	return (int)strcspn(buf, "\r\n");
}

/*
 * ip:port accepts a connect and answers GET /healthz with 200 on it: a
 * server, not only a kernel backlog.
 */
static void
expect_serves(const struct chatd *d, const char *ip, int port)
{
	char hp[64], req[256], buf[4096] = "";
	size_t len = 0;
	int fd, status = 0;

	format_hostport(ip, port, hp, sizeof(hp));
	fd = tcp_connect_addr(ip, port, CONNECT_TIMEOUT_MS);
	if (fd < 0)
		fail_logs(d, "connect to %s: %s (chatd should accept there)",
			  hp, strerror(errno));
	snprintf(req, sizeof(req),
		 "GET /healthz HTTP/1.1\r\nHost: %s\r\n"
		 "Connection: close\r\n\r\n", hp);
	send_all(fd, req);
	read_until(fd, buf, sizeof(buf), &len, 0,
		   monotonic_ms() + CHAT_TIMEOUT_MS);
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200)
		fail_logs(d, "GET /healthz over %s: '%.*s' (expected 200)", hp,
			  first_line_len(buf), buf);
	print_message("  %s serves /healthz\n", hp);
}

/*
 * A chat session over ip:port: the WebSocket handshake (101 and the right
 * Sec-WebSocket-Accept), then the welcome frame. ws_client knows only
 * 127.0.0.1, hence this small one.
 */
static void
expect_chat(const struct chatd *d, const char *ip, int port)
{
	char hp[64], req[512], buf[16384] = "", accept[64];
	const unsigned char *f;
	size_t len = 0, hlen, plen, off;
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	json_t *j;
	int fd, status = 0;

	format_hostport(ip, port, hp, sizeof(hp));
	fd = tcp_connect_addr(ip, port, CONNECT_TIMEOUT_MS);
	if (fd < 0)
		fail_logs(d, "connect to %s: %s", hp, strerror(errno));
	snprintf(req, sizeof(req),
		 "GET /chat HTTP/1.1\r\nHost: %s\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: " WS_KEY "\r\n"
		 "Sec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Protocol: chat\r\n\r\n", hp);
	send_all(fd, req);
	if (read_until(fd, buf, sizeof(buf), &len, 0, deadline) < 0 ||
	    sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 101 ||
	    !net_header_value(buf, "Sec-WebSocket-Accept", accept,
			      sizeof(accept)) ||
	    strcmp(accept, WS_ACCEPT) != 0) {
		close(fd);
		fail_logs(d, "WebSocket handshake over %s: '%.*s'", hp,
			  first_line_len(buf), buf);
	}
	hlen = (size_t)(strstr(buf, "\r\n\r\n") - buf) + 4;
	/* The welcome is one small unmasked text frame. */
	if (read_until(fd, buf, sizeof(buf), &len, hlen + 2, deadline) < 0) {
		close(fd);
		fail_logs(d, "no frame after the handshake over %s", hp);
	}
	f = (const unsigned char *)buf + hlen;
	plen = f[1] & 0x7f;
	off = 2;
	if (plen == 126) {
		if (read_until(fd, buf, sizeof(buf), &len, hlen + 4,
			       deadline) < 0) {
			plen = 127; /* reported below */
		} else {
			plen = (size_t)f[2] << 8 | f[3];
			off = 4;
		}
	}
	if (f[0] != 0x81 || (f[1] & 0x80) || plen == 127 ||
	    read_until(fd, buf, sizeof(buf), &len, hlen + off + plen,
		       deadline) < 0) {
		close(fd);
		fail_logs(d, "over %s the first frame is not a whole small "
			  "text frame (0x%02x 0x%02x)", hp, f[0], f[1]);
	}
	close(fd);
	j = json_loadb((const char *)f + off, plen, 0, NULL);
	if (!j || !jstr_opt(j, "type") ||
	    strcmp(jstr_opt(j, "type"), "welcome") != 0)
		fail_logs(d, "over %s the first frame is not a welcome: %.*s",
			  hp, (int)plen, (const char *)f + off);
	json_decref(j);
	print_message("  %s serves chat\n", hp);
}

/*
 * ip:port must refuse a connect (ECONNREFUSED). Other programs listen on
 * loopback ports too, so one may hold this port on ip by chance. When
 * something accepts, d is stopped and ip:port tried again: refused now
 * means it was chatd, and the test fails; accepted still means another
 * process, and false tells the caller to start over (d is stopped then).
 */
static bool
expect_refused(struct chatd *d, const char *ip, int port)
{
	char hp[64];
	int fd, err;

	format_hostport(ip, port, hp, sizeof(hp));
	fd = tcp_connect_addr(ip, port, CONNECT_TIMEOUT_MS);
	err = errno;
	if (fd < 0 && err == ECONNREFUSED) {
		print_message("  %s refuses\n", hp);
		return true;
	}
	if (fd < 0)
		fail_logs(d, "connect to %s: %s, expected %s", hp,
			  strerror(err), strerror(ECONNREFUSED));
	close(fd);
	/* Stopped but not cleaned up, so its logs can still be shown. */
	chatd_signal(d, SIGTERM);
	if (chatd_wait(d, CHATD_STOP_TIMEOUT_MS) < 0)
		fail_logs(d, "chatd still running %d ms after SIGTERM",
			  CHATD_STOP_TIMEOUT_MS);
	fd = tcp_connect_addr(ip, port, CONNECT_TIMEOUT_MS);
	if (fd < 0)
		fail_logs(d, "chatd accepted on %s (refused once it stopped), "
			  "where it must not listen", hp);
	close(fd);
	chatd_cleanup(d);
	print_message("  %s is another program's; trying a new port\n", hp);
	return false;
}

/* The ready line, without its newline, into out ("" when none). */
static void
ready_line(const struct chatd *d, char *out, size_t outlen)
{
	char *log = chatd_stderr(d);
	const char *p = log ? strstr(log, "listening on ") : NULL;

	snprintf(out, outlen, "%.*s", p ? (int)strcspn(p, "\r\n") : 0,
		 p ? p : "");
	free(log);
}

static bool
skipped_ipv6(const char *ip)
{
	if (!is_ipv6(ip) || have_ipv6_loopback())
		return false;
	print_message("  no IPv6 loopback here: %s not checked\n", ip);
	return true;
}

/* Starts chatd as c says, checks it from outside, stops it (exit 0). */
static void
expect_listening(struct chatd *d, const struct listen_case *c)
{
	const struct chatd_opts o = {.args = c->args, .env = c->env,
				     .no_defaults = true};
	char line[256];
	bool done = false;

	for (int attempt = 1; !done; attempt++) {
		assert_true(attempt <= ATTEMPTS);
		assert_int_equal(chatd_spawn(d, &o), 0);
		ready_line(d, line, sizeof(line));
		print_message("  %s\n", line);
		if (strcmp(d->host, c->host) != 0)
			fail_logs(d, "ready line host '%s', expected '%s'",
				  d->host, c->host);
		if (c->note && !strstr(line, c->note))
			fail_logs(d, "ready line '%s' does not say '%s'", line,
				  c->note);
		for (size_t i = 0; c->serve[i]; i++)
			if (!skipped_ipv6(c->serve[i]))
				expect_serves(d, c->serve[i], d->port);
		if (c->chat && !skipped_ipv6(c->serve[0]))
			expect_chat(d, c->serve[0], d->port);
		done = true;
		for (size_t i = 0; done && c->refuse[i]; i++)
			if (!skipped_ipv6(c->refuse[i]))
				done = expect_refused(d, c->refuse[i],
						      d->port);
	}
	if (chatd_stop(d) != 0)
		fail_msg("chatd did not exit 0 on SIGTERM");
}

/*
 * Runs chatd with exactly args: it must exit 1 within timeout_ms, print no
 * ready line, and print one stderr line that holds each of want.
 */
static void
expect_start_fails(const char *const *args, int timeout_ms,
		   const char *const *want)
{
	struct chatd_opts o = {.args = args, .no_defaults = true};
	char *err = NULL;
	long long t0 = monotonic_ms();
	int st = chatd_run(&o, timeout_ms, NULL, &err);
	size_t len;

	print_message("  chatd");
	for (size_t i = 0; args[i]; i++)
		print_message(" %s", args[i]);
	print_message(" -> %d in %lld ms, stderr: %s", st,
		      monotonic_ms() - t0, err ? err : "(none)\n");
	if (st != 1)
		fail_msg("exit status %d, expected 1 (stderr: %s)", st,
			 err ? err : "");
	assert_non_null(err);
	if (strstr(err, "listening on"))
		fail_msg("a ready line although it failed: %s", err);
	for (size_t i = 0; want[i]; i++)
		if (!strstr(err, want[i]))
			fail_msg("stderr does not say '%s': %s", want[i], err);
	len = strlen(err);
	while (len && (err[len - 1] == '\n' || err[len - 1] == '\r'))
		len--;
	if (!len || memchr(err, '\n', len))
		fail_msg("stderr is not one line: '%s'", err);
	free(err);
}

/* The default args but the host: port 0, our www/, no history file. */
#define BASE_ARGS "--port", "0", "--www", www(), "--db", ":memory:"

static void
test_listen_ipv4_literal_binds_that_address_only(void **state)
{
	struct listen_fixture *fx = *state;
	const struct listen_case c = {
		.args = (const char *const[]){"--host", "127.0.0.2",
					      BASE_ARGS, NULL},
		.host = "127.0.0.2",
		.serve = {"127.0.0.2"},
		.refuse = {"127.0.0.1", "::1"},
		.chat = true,
	};

	expect_listening(&fx->d[0], &c);
}

static void
test_listen_ipv6_literal_binds_that_address_only(void **state)
{
	struct listen_fixture *fx = *state;
	const struct listen_case c = {
		.args = (const char *const[]){"--host", "::1", BASE_ARGS,
					      NULL},
		.host = "[::1]", /* a URL needs the brackets */
		.serve = {"::1"},
		.refuse = {"127.0.0.1"},
		.chat = true,
	};

	if (!have_ipv6_loopback()) {
		print_message("  no IPv6 loopback here\n");
		skip();
	}
	expect_listening(&fx->d[0], &c);
}

static void
test_listen_name_binds_every_address_it_resolves_to(void **state)
{
	static const char *const loopbacks[] = {"127.0.0.1", "::1"};
	struct listen_fixture *fx = *state;
	struct listen_case c = {
		.args = (const char *const[]){"--host", "localhost",
					      BASE_ARGS, NULL},
		.host = "localhost",
	};
	/* As chatd asks, so the test expects what this machine says. */
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
	size_t n = 0, ns = 0, nr = 0;
	int rc;

	rc = getaddrinfo("localhost", NULL, &hints, &res);
	if (rc)
		fail_msg("getaddrinfo localhost: %s", gai_strerror(rc));
	for (struct addrinfo *ai = res; ai && n < MAX_ADDRS - 1;
	     ai = ai->ai_next) {
		const void *a =
			ai->ai_family == AF_INET6
				? (const void *)&((struct sockaddr_in6 *)
							  ai->ai_addr)
					  ->sin6_addr
				: (const void *)&((struct sockaddr_in *)
							  ai->ai_addr)
					  ->sin_addr;
		bool dup = false;

		inet_ntop(ai->ai_family, a, addrs[n], sizeof(addrs[n]));
		for (size_t i = 0; i < n; i++)
			dup = dup || !strcmp(addrs[i], addrs[n]);
		if (dup)
			continue;
		print_message("  localhost is %s\n", addrs[n]);
		/* Only loopback gets traffic from these tests. */
		if (!strncmp(addrs[n], "127.", 4) || !strcmp(addrs[n], "::1"))
			c.serve[ns++] = addrs[n];
		n++;
	}
	freeaddrinfo(res);
	assert_true(ns > 0);
	/* A loopback address the name lacks gets nothing from chatd. */
	for (size_t i = 0; i < 2; i++) {
		bool listed = false;

		for (size_t k = 0; k < ns; k++)
			listed = listed || !strcmp(c.serve[k], loopbacks[i]);
		if (!listed)
			c.refuse[nr++] = loopbacks[i];
	}
	expect_listening(&fx->d[0], &c);
}

static void
test_listen_without_host_accepts_ipv6_and_ipv4(void **state)
{
	struct listen_fixture *fx = *state;
	const bool v6 = have_ipv6_loopback();
	const struct listen_case c = {
		.args = (const char *const[]){BASE_ARGS, NULL},
		.host = v6 ? "[::]" : "0.0.0.0",
		.note = v6 ? "all interfaces" : "all IPv4 interfaces",
		/* Any loopback address, not only the usual ones. */
		.serve = {"127.0.0.1", "::1", "127.0.0.2"},
	};

	expect_listening(&fx->d[0], &c);
}

static void
test_listen_host_from_env_binds_that_address_only(void **state)
{
	struct listen_fixture *fx = *state;
	const struct listen_case c = {
		.args = (const char *const[]){BASE_ARGS, NULL},
		.env = (const char *const[]){"CHAT_HOST=127.0.0.2", NULL},
		.host = "127.0.0.2",
		.serve = {"127.0.0.2"},
		.refuse = {"127.0.0.1", "::1"},
	};

	expect_listening(&fx->d[0], &c);
}

static void
test_listen_absent_address_exits_1_without_ready_line(void **state)
{
	(void)state;
	if (can_bind(ABSENT_ADDR)) {
		print_message("  this machine has " ABSENT_ADDR "\n");
		skip();
	}
	expect_start_fails((const char *const[]){"--host", ABSENT_ADDR,
						 BASE_ARGS, NULL},
			   RUN_TIMEOUT_MS,
			   (const char *const[]){ABSENT_ADDR,
						 strerror(EADDRNOTAVAIL),
						 NULL});
}

static void
test_listen_busy_port_exits_1_and_first_keeps_serving(void **state)
{
	struct listen_fixture *fx = *state;
	struct chatd *first = &fx->d[0];
	char port[16], where[64];

	assert_int_equal(chatd_start(first, (const char *const[]){"--db",
								  ":memory:",
								  NULL}),
			 0);
	snprintf(port, sizeof(port), "%d", first->port);
	format_hostport("127.0.0.1", first->port, where, sizeof(where));
	expect_start_fails((const char *const[]){"--port", port, "--host",
						 "127.0.0.1", "--www", www(),
						 "--db", ":memory:", NULL},
			   RUN_TIMEOUT_MS,
			   (const char *const[]){where, strerror(EADDRINUSE),
						 NULL});
	expect_serves(first, "127.0.0.1", first->port);
	expect_chat(first, "127.0.0.1", first->port);
	if (chatd_stop(first) != 0)
		fail_msg("the first chatd did not exit 0 on SIGTERM");
}

static void
test_listen_unresolvable_name_exits_1_naming_host(void **state)
{
	(void)state;
	/* .invalid never resolves (RFC 6761). */
	expect_start_fails((const char *const[]){"--host", "nosuch.invalid",
						 BASE_ARGS, NULL},
			   RESOLVE_TIMEOUT_MS,
			   (const char *const[]){"--host", "nosuch.invalid",
						 NULL});
}

#define LISTEN_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		LISTEN_TEST(test_listen_ipv4_literal_binds_that_address_only),
		LISTEN_TEST(test_listen_ipv6_literal_binds_that_address_only),
		LISTEN_TEST(
			test_listen_name_binds_every_address_it_resolves_to),
		LISTEN_TEST(test_listen_without_host_accepts_ipv6_and_ipv4),
		LISTEN_TEST(
			test_listen_host_from_env_binds_that_address_only),
		LISTEN_TEST(
			test_listen_absent_address_exits_1_without_ready_line),
		LISTEN_TEST(
			test_listen_busy_port_exits_1_and_first_keeps_serving),
		LISTEN_TEST(test_listen_unresolvable_name_exits_1_naming_host),
	};

	return cmocka_run_group_tests_name("listen", tests, NULL, NULL);
}
