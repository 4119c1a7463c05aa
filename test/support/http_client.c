/*
 * Tiny blocking HTTP/1.1 client (see http_client.h). One connection per
 * request or pipeline, bounded by a deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "http_client.h"
#include "net_util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define HTTP_MAX_BYTES ((size_t)32 << 20)

struct rbuf {
	char *p;
	size_t off; /* start of what no response has taken yet */
	size_t len, cap;
	bool eof;
};

static int
rbuf_fill(int fd, struct rbuf *b, long long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	long long left = deadline - monotonic_ms();
	ssize_t n;
	int r;

	if (left <= 0)
		return -1;
	do {
		r = poll(&pfd, 1, (int)left);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	if (b->cap - b->len < 65536 + 1) {
		size_t ncap = b->cap ? b->cap * 2 : 131072;
		char *np;

		if (ncap > HTTP_MAX_BYTES)
			return -1;
		np = realloc(b->p, ncap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	n = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		b->eof = true;
		return 0;
	}
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return 0;
}

bool
http_header(const struct http_response *r, const char *name, char *out,
	    size_t outlen)
{
	return r->head && net_header_value(r->head, name, out, outlen);
}

static size_t
unread(const struct rbuf *b)
{
	return b->len - b->off;
}

/*
 * Decodes a complete chunked body into out; *used gets the bytes it took,
 * trailers and the final CRLF included. -1 when incomplete or malformed.
 */
static long
dechunk(const char *in, size_t len, char *out, size_t *used)
{
	size_t i = 0, o = 0;

	for (;;) {
		char *end;
		unsigned long sz;
		const char *crlf = memmem(in + i, len - i, "\r\n", 2);

		if (!crlf)
			return -1;
		sz = strtoul(in + i, &end, 16);
		if (end == in + i)
			return -1;
		i = (size_t)(crlf - in) + 2;
		if (sz == 0)
			break;
		if (len - i < sz + 2)
			return -1;
		memmove(out + o, in + i, sz);
		o += sz;
		i += sz + 2;
	}
	for (;;) { /* trailer lines, up to an empty one */
		const char *crlf = memmem(in + i, len - i, "\r\n", 2);

		if (!crlf)
			return -1;
		if (crlf == in + i) {
			*used = i + 2;
			return (long)o;
		}
		i = (size_t)(crlf - in) + 2;
	}
}

/*
 * Reads one response from b (refilled from fd) into r and moves b->off past
 * it. no_body: it answers a HEAD. 0, or -1 with the reason printed and
 * nothing in r.
 */
static int
read_response(int fd, struct rbuf *b, long long deadline, bool no_body,
	      const char *what, struct http_response *r)
{
	char val[64];
	char *hend;
	size_t hlen, used;

	memset(r, 0, sizeof(*r));
	for (;;) {
		hend = NULL;
		if (unread(b))
			hend = memmem(b->p + b->off, unread(b), "\r\n\r\n", 4);
		if (hend || b->eof)
			break;
		if (rbuf_fill(fd, b, deadline) < 0)
			goto fail_timeout;
	}
	if (!hend) {
		print_error("%s: connection closed before the end of the "
			    "headers (%zu bytes)\n", what, b->len - b->off);
		goto fail;
	}
	hlen = (size_t)(hend - (b->p + b->off)) + 4;
	r->head = strndup(b->p + b->off, hlen);
	if (!r->head || sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) {
		print_error("%s: bad status line '%.*s'\n", what,
			    (int)strcspn(b->p + b->off, "\r\n"), b->p + b->off);
		goto fail;
	}
	b->off += hlen;
	if (no_body || r->status == 204 || r->status == 304) {
		r->body_len = used = 0;
	} else if (http_header(r, "Content-Length", val, sizeof(val))) {
		size_t want = strtoull(val, NULL, 10);

		if (want > HTTP_MAX_BYTES)
			goto fail;
		while (unread(b) < want && !b->eof)
			if (rbuf_fill(fd, b, deadline) < 0)
				goto fail_timeout;
		if (unread(b) < want) {
			print_error("%s: body cut at %zu of %zu bytes\n", what,
				    unread(b), want);
			goto fail;
		}
		r->body_len = used = want;
	} else if (http_header(r, "Transfer-Encoding", val, sizeof(val)) &&
		   strcasestr(val, "chunked")) {
		long dl;

		for (;;) {
			char *tmp = malloc(unread(b) + 1);

			if (!tmp)
				goto fail;
			dl = dechunk(b->p + b->off, unread(b), tmp, &used);
			if (dl >= 0) {
				/* The decoded body is shorter than its
				 * chunks, so tmp has room for the NUL. */
				r->body = tmp;
				break;
			}
			free(tmp);
			if (b->eof) {
				print_error("%s: chunked body cut\n", what);
				goto fail;
			}
			if (rbuf_fill(fd, b, deadline) < 0)
				goto fail_timeout;
		}
		r->body_len = (size_t)dl;
	} else {
		while (!b->eof)
			if (rbuf_fill(fd, b, deadline) < 0)
				goto fail_timeout;
		r->body_len = used = unread(b);
	}
	if (!r->body) {
		r->body = malloc(r->body_len + 1);
		if (!r->body)
			goto fail;
		memcpy(r->body, b->p + b->off, r->body_len);
	}
	r->body[r->body_len] = '\0';
	b->off += used;
	return 0;

fail_timeout:
	print_error("%s: no complete response in time (%zu bytes so far)\n",
		    what, b->len);
fail:
	http_response_fini(r);
	return -1;
}

/* After the last response: the server closes and sends nothing more. */
static int
expect_close(int fd, struct rbuf *b, long long deadline, const char *what)
{
	while (!b->eof)
		if (rbuf_fill(fd, b, deadline) < 0) {
			print_error("%s: the server did not close the "
				    "connection after the last response\n",
				    what);
			return -1;
		}
	if (b->len > b->off) {
		int shown = unread(b) > 200 ? 200 : (int)unread(b);

		print_error("%s: %zu bytes after the last response: '%.*s'\n",
			    what, unread(b), shown, b->p + b->off);
		return -1;
	}
	return 0;
}

static int
exchange(int port, const char *raw, size_t raw_len, size_t n,
	 const bool *no_body, int timeout_ms, const char *what,
	 struct http_response *rs)
{
	long long deadline = monotonic_ms() + timeout_ms;
	struct rbuf b = {0};
	size_t i, sent = 0;
	int fd;

	fd = tcp_connect_loopback(port, 0, timeout_ms);
	if (fd < 0) {
		print_error("%s: connect failed: %s\n", what, strerror(errno));
		return -1;
	}
	while (sent < raw_len) {
		ssize_t w = send(fd, raw + sent, raw_len - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			print_error("%s: send failed: %s\n", what,
				    strerror(errno));
			close(fd);
			return -1;
		}
		sent += (size_t)w;
	}
	for (i = 0; i < n; i++)
		if (read_response(fd, &b, deadline, no_body && no_body[i], what,
				  &rs[i]) < 0) {
			print_error("%s: response %zu of %zu\n", what, i + 1,
				    n);
			break;
		}
	if (i == n && expect_close(fd, &b, deadline, what) == 0) {
		free(b.p);
		close(fd);
		return 0;
	}
	while (i > 0)
		http_response_fini(&rs[--i]);
	free(b.p);
	close(fd);
	return -1;
}

int
http_request(int port, const struct http_request *req, int timeout_ms,
	     struct http_response *r)
{
	const char *method = req->method ? req->method : "GET";
	char head[4096], what[128], clen[64] = "";
	char *raw;
	bool no_body = !strcmp(method, "HEAD");
	int n, rc;

	snprintf(what, sizeof(what), "%s %.100s", method, req->path);
	if (req->body)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n",
			 req->body_len);
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		     "User-Agent: chatd-tests\r\nAccept: */*\r\n"
		     "Connection: close\r\n%s%s\r\n",
		     method, req->path, port, req->headers ? req->headers : "",
		     clen);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		print_error("%s: request too long\n", what);
		return -1;
	}
	raw = malloc((size_t)n + req->body_len + 1);
	if (!raw)
		return -1;
	memcpy(raw, head, (size_t)n);
	if (req->body)
		memcpy(raw + n, req->body, req->body_len);
	rc = exchange(port, raw, (size_t)n + (req->body ? req->body_len : 0),
		      1, &no_body, timeout_ms, what, r);
	free(raw);
	if (rc < 0)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
http_get(int port, const char *raw_path, int timeout_ms,
	 struct http_response *r)
{
	const struct http_request req = {.method = "GET", .path = raw_path};

	return http_request(port, &req, timeout_ms, r);
}

int
http_pipeline(int port, const char *raw, size_t raw_len, size_t n,
	      const bool *no_body, int timeout_ms, struct http_response *rs)
{
	int rc = exchange(port, raw, raw_len, n, no_body, timeout_ms,
			  "pipeline", rs);

	if (rc < 0)
		memset(rs, 0, n * sizeof(*rs));
	return rc;
}

void
http_response_fini(struct http_response *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *
read_file_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 4097) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *np = realloc(p, ncap);

			if (!np) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = np;
			cap = ncap;
		}
		size_t got = fread(p + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}
