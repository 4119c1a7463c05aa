/*
 * Tiny blocking HTTP/1.1 GET (see http_client.h). One connection per
 * request, "Connection: close", bounded by a deadline.
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

/* Decodes a complete chunked body in place; -1 when incomplete/malformed. */
static long
dechunk(const char *in, size_t len, char *out)
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
			return (long)o; /* trailers ignored */
		if (len - i < sz + 2)
			return -1;
		memmove(out + o, in + i, sz);
		o += sz;
		i += sz + 2;
	}
}

int
http_get(int port, const char *raw_path, int timeout_ms, struct http_response *r)
{
	long long deadline = monotonic_ms() + timeout_ms;
	struct rbuf b = {0};
	char req[4096], val[64];
	char *hend;
	size_t hlen;
	int fd, n;

	memset(r, 0, sizeof(*r));
	fd = tcp_connect_loopback(port, 0, timeout_ms);
	if (fd < 0) {
		print_error("http_get %s: connect failed: %s\n", raw_path,
			    strerror(errno));
		return -1;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		     "User-Agent: chatd-tests\r\nAccept: */*\r\n"
		     "Connection: close\r\n\r\n",
		     raw_path, port);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		print_error("http_get %s: send failed\n", raw_path);
		close(fd);
		return -1;
	}
	for (;;) {
		hend = b.len ? memmem(b.p, b.len, "\r\n\r\n", 4) : NULL;
		if (hend || b.eof)
			break;
		if (rbuf_fill(fd, &b, deadline) < 0)
			goto fail_timeout;
	}
	if (!hend) {
		print_error("http_get %s: connection closed before the end of "
			    "the headers (%zu bytes)\n", raw_path, b.len);
		goto fail;
	}
	hlen = (size_t)(hend - b.p) + 4;
	r->head = strndup(b.p, hlen);
	if (!r->head || sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) {
		print_error("http_get %s: bad status line '%.*s'\n", raw_path,
			    (int)strcspn(b.p, "\r\n"), b.p);
		goto fail;
	}
	if (http_header(r, "Content-Length", val, sizeof(val))) {
		size_t want = strtoull(val, NULL, 10);

		if (want > HTTP_MAX_BYTES)
			goto fail;
		while (b.len - hlen < want && !b.eof)
			if (rbuf_fill(fd, &b, deadline) < 0)
				goto fail_timeout;
		if (b.len - hlen < want) {
			print_error("http_get %s: body cut at %zu of %zu "
				    "bytes\n", raw_path, b.len - hlen, want);
			goto fail;
		}
		r->body_len = want;
	} else if (http_header(r, "Transfer-Encoding", val, sizeof(val)) &&
		   strcasestr(val, "chunked")) {
		long dl;

		for (;;) {
			char *tmp = malloc(b.len - hlen + 1);

			if (!tmp)
				goto fail;
			dl = dechunk(b.p + hlen, b.len - hlen, tmp);
			if (dl >= 0) {
				memcpy(b.p + hlen, tmp, (size_t)dl);
				free(tmp);
				break;
			}
			free(tmp);
			if (b.eof) {
				print_error("http_get %s: chunked body cut\n",
					    raw_path);
				goto fail;
			}
			if (rbuf_fill(fd, &b, deadline) < 0)
				goto fail_timeout;
		}
		r->body_len = (size_t)dl;
	} else if (r->status == 204 || r->status == 304) {
		r->body_len = 0;
	} else {
		while (!b.eof)
			if (rbuf_fill(fd, &b, deadline) < 0)
				goto fail_timeout;
		r->body_len = b.len - hlen;
	}
	r->body = malloc(r->body_len + 1);
	if (!r->body)
		goto fail;
	memcpy(r->body, b.p + hlen, r->body_len);
	r->body[r->body_len] = '\0';
	free(b.p);
	close(fd);
	return 0;

fail_timeout:
	print_error("http_get %s: no complete response within %d ms "
		    "(%zu bytes so far)\n", raw_path, timeout_ms, b.len);
fail:
	free(b.p);
	close(fd);
	http_response_fini(r);
	return -1;
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
