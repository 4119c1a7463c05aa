/*
 * The health probe: parse an http(s) URL, connect within a deadline, send
 * one GET, read the status line.
 */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct url {
	bool tls;
	char host[256];
	char port[8];
	char path[1024];
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* http[s]://host[:port][/path], host a name, IPv4 or [IPv6]. */
static int
parse_url(const char *s, struct url *u)
{
	const char *p, *end;
	size_t len;

	memset(u, 0, sizeof(*u));
	if (!strncasecmp(s, "http://", 7))
		p = s + 7;
	else if (!strncasecmp(s, "https://", 8)) {
		p = s + 8;
		u->tls = true;
	} else
		return -1;
	if (*p == '[') {
		end = strchr(++p, ']');
		if (!end)
			return -1;
		len = (size_t)(end - p);
		end++;
	} else {
		len = strcspn(p, ":/?#");
		end = p + len;
	}
	if (!len || len >= sizeof(u->host))
		return -1;
	memcpy(u->host, p, len);
	strcpy(u->port, u->tls ? "443" : "80");
	if (*end == ':') {
		len = strspn(end + 1, "0123456789");
		if (!len || len >= sizeof(u->port) ||
		    atoi(end + 1) < 1 || atoi(end + 1) > 65535)
			return -1;
		memcpy(u->port, end + 1, len);
		u->port[len] = '\0';
		end += 1 + len;
	}
	if (*end && *end != '/')
		return -1;
	if (strlen(*end ? end : "/") >= sizeof(u->path) ||
	    strpbrk(end, " \r\n\t"))
		return -1;
	strcpy(u->path, *end ? end : "/");
	return 0;
}

/* SNI names hosts only (RFC 6066, section 3). */
static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

/* This configuration's /healthz: a wildcard or absent --host is probed on
 * loopback. */
static int
own_url(const struct config *cfg, struct url *u, char *why, size_t whylen)
{
	const char *h = cfg->host;

	if (!cfg->port) {
		snprintf(why, whylen,
			 "--healthcheck: --port 0 has no fixed port; give a URL");
		return -1;
	}
	memset(u, 0, sizeof(*u));
	u->tls = cfg->tls_cert != NULL;
	/* No --host is one dual-stack socket; "::" alone is IPv6 only. */
	if (!h || !strcmp(h, "0.0.0.0"))
		h = "127.0.0.1";
	else if (!strcmp(h, "::"))
		h = "::1";
	snprintf(u->host, sizeof(u->host), "%s", h);
	snprintf(u->port, sizeof(u->port), "%u", cfg->port);
	strcpy(u->path, "/healthz");
	return 0;
}

static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left = deadline - now_ms();
	int rc;

	if (left <= 0)
		return 0;
	do
		rc = poll(&pfd, 1, (int)left);
	while (rc < 0 && errno == EINTR);
	return rc;
}

/* A connected, blocking socket whose reads and writes end at deadline. */
static int
connect_to(const struct url *u, long long deadline, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int rc, fd = -1, soerr = ETIMEDOUT;

	rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc) {
		snprintf(why, whylen, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		socklen_t sl = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC |
						  SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			soerr = errno;
			continue;
		}
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		soerr = errno;
		if (soerr == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) > 0 &&
		    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) &&
		    !soerr)
			break;
		if (soerr == EINPROGRESS)
			soerr = ETIMEDOUT;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(why, whylen, "%s port %s: %s", u->host, u->port,
			 strerror(soerr));
		return -1;
	}
	return fd;
}

/*
 * After a read or write (rc) that did not go through on the non-blocking
 * socket: waits, until the deadline, for what it needs. 0: try again;
 * -1: an error, the end of the stream, or time is up.
 */
static int
await_io(int fd, SSL *ssl, int rc, bool writing, long long deadline)
{
	short events;

	if (ssl) {
		int e = SSL_get_error(ssl, rc);

		if (e == SSL_ERROR_WANT_READ)
			events = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			events = POLLOUT;
		else
			return -1;
	} else {
		if (rc >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
				errno != EINTR))
			return -1;
		events = writing ? POLLOUT : POLLIN;
	}
	return wait_fd(fd, events, deadline) > 0 ? 0 : -1;
}

/* Sends the request and reads up to the status line, over TLS or not,
 * all of it within the deadline. */
static int
exchange(int fd, SSL *ssl, const char *req, char *resp, size_t resplen,
	 long long deadline)
{
	size_t len = strlen(req), got = 0;

	while (len) {
		int n = ssl ? SSL_write(ssl, req, (int)len)
			    : (int)send(fd, req, len, MSG_NOSIGNAL);

		if (n > 0) {
			req += n;
			len -= (size_t)n;
		} else if (await_io(fd, ssl, n, true, deadline)) {
			return -1;
		}
	}
	resp[0] = '\0';
	while (got + 1 < resplen && !memchr(resp, '\n', got)) {
		int n = ssl ? SSL_read(ssl, resp + got, (int)(resplen - 1 - got))
			    : (int)recv(fd, resp + got, resplen - 1 - got, 0);

		if (n > 0) {
			got += (size_t)n;
			resp[got] = '\0';
		} else if (await_io(fd, ssl, n, false, deadline)) {
			break;
		}
	}
	return got ? 0 : -1;
}

enum healthcheck_result
healthcheck_run(const struct config *cfg, char *why, size_t whylen)
{
	long long deadline = now_ms() + HEALTHCHECK_TIMEOUT_MS;
	char req[2048], resp[512], host[300];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	struct url u;
	int fd, status = 0;
	enum healthcheck_result result = HEALTHCHECK_UNHEALTHY;

	/* A server that resets the connection mid-write is unhealthy, not
	 * a reason to die of SIGPIPE (SSL_write has no MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	if (cfg->healthcheck_url) {
		if (parse_url(cfg->healthcheck_url, &u)) {
			snprintf(why, whylen,
				 "--healthcheck: '%.200s' is not an http:// "
				 "or https:// URL",
				 cfg->healthcheck_url);
			return HEALTHCHECK_USAGE;
		}
	} else if (own_url(cfg, &u, why, whylen))
		return HEALTHCHECK_USAGE;

	fd = connect_to(&u, deadline, why, whylen);
	if (fd < 0)
		return HEALTHCHECK_UNHEALTHY;
	if (u.tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		ssl = ctx ? SSL_new(ctx) : NULL;
		int rc = 0;

		if (ssl && SSL_set_fd(ssl, fd) &&
		    (is_ip_literal(u.host) ||
		     SSL_set_tlsext_host_name(ssl, u.host)))
			while ((rc = SSL_connect(ssl)) != 1 &&
			       !await_io(fd, ssl, rc, false, deadline))
				;
		if (rc != 1) {
			snprintf(why, whylen, "%s port %s: TLS handshake failed",
				 u.host, u.port);
			goto out;
		}
	}
	snprintf(host, sizeof(host), strchr(u.host, ':') ? "[%s]" : "%s",
		 u.host);
	/* Large enough for the longest path, host and port parse_url lets
	 * through. */
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: chatd-"
		 "healthcheck\r\nConnection: close\r\n\r\n",
		 u.path, host, u.port);
	if (exchange(fd, ssl, req, resp, sizeof(resp), deadline)) {
		snprintf(why, whylen, "%s port %s: no answer", u.host, u.port);
		goto out;
	}
	if (sscanf(resp, "HTTP/1.%*1d %3d", &status) != 1) {
		snprintf(why, whylen, "%s port %s: not an HTTP answer", u.host,
			 u.port);
		goto out;
	}
	if (status == 200)
		result = HEALTHCHECK_OK;
	else
		snprintf(why, whylen, "%s%s: HTTP %d", host, u.path, status);
out:
	if (ssl)
		SSL_free(ssl);
	if (ctx)
		SSL_CTX_free(ctx);
	close(fd);
	return result;
}
