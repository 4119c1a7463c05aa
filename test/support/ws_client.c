/*
 * Minimal blocking RFC 6455 client (see ws_client.h): handshake with its own
 * SHA-1 and base64, masked frames out, unmasked frames in, a receive buffer
 * that keeps whatever followed the 101 response. No threads, no lws.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "ws_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_FRAME ((size_t)64 << 20)
#define WS_MAX_HEAD 16384

struct ws_client {
	int fd;
	unsigned char *buf; /* unparsed received bytes */
	size_t len, cap;
	bool eof;
	bool close_sent;
	bool close_received;
	int close_code;
	char close_reason[128];
	char key[32];
	char subprotocol[64];
	char want_subprotocol[64];
	char *head;
	char error[256];
	int timeout_ms;
	/* reassembly of a fragmented data message */
	bool in_frag;
	unsigned frag_op;
	unsigned char *frag;
	size_t frag_len, frag_cap;
};

/* ---- small utilities ---------------------------------------------------- */

static void
set_error(struct ws_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static void
random_bytes(void *p, size_t n)
{
	unsigned char *b = p;

	while (n) {
		ssize_t r = getrandom(b, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* Not security sensitive: fall back to rand(). */
			for (size_t i = 0; i < n; i++)
				b[i] = (unsigned char)rand();
			return;
		}
		b += r;
		n -= (size_t)r;
	}
}

static int
write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- receive buffer ----------------------------------------------------- */

#define FILL_DATA 1
#define FILL_TIMEOUT 0
#define FILL_EOF (-1)

static int
reserve(struct ws_client *c, size_t extra)
{
	if (c->cap - c->len >= extra)
		return 0;
	size_t ncap = c->cap ? c->cap : 65536;
	while (ncap - c->len < extra)
		ncap *= 2;
	unsigned char *nb = realloc(c->buf, ncap);
	if (!nb)
		return -1;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/* Waits up to timeout_ms (0: not at all) and reads once. */
static int
fill(struct ws_client *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	ssize_t n;
	int r;

	if (c->eof)
		return FILL_EOF;
	do {
		r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return FILL_TIMEOUT;
	if (reserve(c, 65536) < 0) {
		c->eof = true;
		return FILL_EOF;
	}
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (n > 0) {
		c->len += (size_t)n;
		return FILL_DATA;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return FILL_TIMEOUT;
	/* EOF, or a reset (ECONNRESET): the server is gone either way. */
	c->eof = true;
	if (!c->close_received)
		c->close_code = WS_CLOSE_ABNORMAL;
	return FILL_EOF;
}

static void
consume(struct ws_client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* 1: a frame was parsed into f, 0: need more bytes, -1: protocol error. */
static int
parse_frame(struct ws_client *c, struct ws_frame *f)
{
	const unsigned char *p = c->buf;
	size_t hdr = 2, plen;
	unsigned char mask[4] = {0};

	if (c->len < 2)
		return 0;
	plen = p[1] & 0x7f;
	if (plen == 126) {
		hdr = 4;
		if (c->len < hdr)
			return 0;
		plen = (size_t)p[2] << 8 | p[3];
	} else if (plen == 127) {
		hdr = 10;
		if (c->len < hdr)
			return 0;
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | p[2 + i];
		if (v > WS_MAX_FRAME) {
			set_error(c, "server frame of %llu bytes",
				  (unsigned long long)v);
			return -1;
		}
		plen = (size_t)v;
	}
	if (p[1] & 0x80) {
		if (c->len < hdr + 4)
			return 0;
		memcpy(mask, p + hdr, 4);
		hdr += 4;
	}
	if (c->len < hdr + plen)
		return 0;
	memset(f, 0, sizeof(*f));
	f->fin = p[0] & 0x80;
	f->rsv = (p[0] >> 4) & 7;
	f->opcode = p[0] & 0x0f;
	f->masked = p[1] & 0x80;
	f->len = plen;
	f->data = malloc(plen + 1);
	if (!f->data) {
		set_error(c, "out of memory");
		return -1;
	}
	memcpy(f->data, p + hdr, plen);
	if (f->masked)
		for (size_t i = 0; i < plen; i++)
			f->data[i] ^= mask[i & 3];
	f->data[plen] = '\0';
	consume(c, hdr + plen);
	return 1;
}

/* ---- connect and close -------------------------------------------------- */

struct ws_client *
ws_start(int port, const struct ws_connect_opts *o)
{
	struct ws_connect_opts def = {0};
	unsigned char nonce[16];
	char req[4096];
	struct ws_client *c;
	int n;

	if (!o)
		o = &def;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	snprintf(c->want_subprotocol, sizeof(c->want_subprotocol), "%s",
		 o->subprotocol ? o->subprotocol : "chat");
	c->fd = tcp_connect_loopback(port, o->rcvbuf, c->timeout_ms);
	if (c->fd < 0) {
		print_error("ws_start: connect to 127.0.0.1:%d failed: %s\n",
			    port, strerror(errno));
		free(c);
		return NULL;
	}
	random_bytes(nonce, sizeof(nonce));
	base64_encode(nonce, sizeof(nonce), c->key);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\n"
		     "Host: 127.0.0.1:%d\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "%s%s%s"
		     "%s"
		     "\r\n",
		     o->path ? o->path : "/chat", port, c->key,
		     c->want_subprotocol[0] ? "Sec-WebSocket-Protocol: " : "",
		     c->want_subprotocol,
		     c->want_subprotocol[0] ? "\r\n" : "",
		     o->headers ? o->headers : "");
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    write_all(c->fd, req, (size_t)n) < 0) {
		print_error("ws_start: sending the handshake failed\n");
		ws_free(c);
		return NULL;
	}
	return c;
}

int
ws_finish(struct ws_client *c)
{
	long long deadline = monotonic_ms() + c->timeout_ms;
	char *end = NULL, expect[64], val[256], concat[128];
	unsigned char digest[20];
	size_t hlen;

	for (;;) {
		if (c->len) {
			end = memmem(c->buf, c->len, "\r\n\r\n", 4);
			if (end)
				break;
		}
		if (c->len > WS_MAX_HEAD) {
			set_error(c, "handshake response head over %d bytes",
				  WS_MAX_HEAD);
			return -1;
		}
		long long left = deadline - monotonic_ms();
		if (left <= 0) {
			set_error(c, "no handshake response within %d ms",
				  c->timeout_ms);
			return -1;
		}
		if (fill(c, (int)left) == FILL_EOF) {
			set_error(c, "connection closed during the handshake "
				     "(%zu bytes received)", c->len);
			return -1;
		}
	}
	hlen = (size_t)(end - (char *)c->buf) + 4;
	c->head = malloc(hlen + 1);
	if (!c->head) {
		set_error(c, "out of memory");
		return -1;
	}
	memcpy(c->head, c->buf, hlen);
	c->head[hlen] = '\0';
	consume(c, hlen); /* what follows is already frames */

	if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
		set_error(c, "handshake answered '%.*s'",
			  (int)strcspn(c->head, "\r\n"), c->head);
		return -1;
	}
	if (!net_header_value(c->head, "Upgrade", val, sizeof(val)) ||
	    strcasecmp(val, "websocket") != 0) {
		set_error(c, "101 without 'Upgrade: websocket'");
		return -1;
	}
	if (!net_header_value(c->head, "Connection", val, sizeof(val)) ||
	    !strcasestr(val, "upgrade")) {
		set_error(c, "101 without 'Connection: Upgrade'");
		return -1;
	}
	snprintf(concat, sizeof(concat), "%s%s", c->key, WS_GUID);
	sha1_digest(concat, strlen(concat), digest);
	base64_encode(digest, sizeof(digest), expect);
	if (!net_header_value(c->head, "Sec-WebSocket-Accept", val, sizeof(val)) ||
	    strcmp(val, expect) != 0) {
		set_error(c, "Sec-WebSocket-Accept is '%s', expected '%s'",
			  net_header_value(c->head, "Sec-WebSocket-Accept", val,
				     sizeof(val)) ? val : "(none)",
			  expect);
		return -1;
	}
	if (net_header_value(c->head, "Sec-WebSocket-Protocol", c->subprotocol,
		       sizeof(c->subprotocol)) &&
	    !c->subprotocol[0])
		snprintf(c->subprotocol, sizeof(c->subprotocol), "(empty)");
	if (c->want_subprotocol[0] &&
	    strcmp(c->subprotocol, c->want_subprotocol) != 0) {
		set_error(c, "asked for subprotocol '%s', server chose '%s'",
			  c->want_subprotocol, c->subprotocol);
		return -1;
	}
	return 0;
}

struct ws_client *
ws_connect_opts(int port, const struct ws_connect_opts *o)
{
	struct ws_client *c = ws_start(port, o);

	if (!c)
		return NULL;
	if (ws_finish(c) < 0) {
		print_error("ws_connect: %s\n", c->error);
		ws_free(c);
		return NULL;
	}
	return c;
}

struct ws_client *
ws_connect(int port)
{
	return ws_connect_opts(port, NULL);
}

void
ws_free(struct ws_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c->frag);
	free(c->head);
	free(c);
}

void
ws_close(struct ws_client *c)
{
	if (!c)
		return;
	if (!c->eof && !c->close_received) {
		if (!c->close_sent)
			ws_send_close(c, 1000, "bye");
		ws_recv_close_code(c, 1000, NULL);
	}
	if (!c->eof)
		ws_wait_eof(c, 1000);
	ws_free(c);
}

int
ws_fd(const struct ws_client *c)
{
	return c->fd;
}

const char *
ws_error(const struct ws_client *c)
{
	return c->error;
}

const char *
ws_subprotocol(const struct ws_client *c)
{
	return c->subprotocol;
}

const char *
ws_response_head(const struct ws_client *c)
{
	return c->head ? c->head : "";
}

bool
ws_is_closed(const struct ws_client *c)
{
	return c->eof || c->close_received;
}

int
ws_close_code(const struct ws_client *c)
{
	return c->close_code;
}

const char *
ws_close_reason(const struct ws_client *c)
{
	return c->close_reason;
}

bool
ws_got_close_frame(const struct ws_client *c)
{
	return c->close_received;
}

bool
ws_has_buffered(const struct ws_client *c)
{
	return c->len > 0;
}

/* ---- sending ------------------------------------------------------------ */

int
ws_send_frame_raw(struct ws_client *c, unsigned char b0, bool mask,
		  const void *data, size_t len)
{
	unsigned char *f, key[4];
	size_t hdr = 2;
	int r;

	f = malloc(len + 14);
	if (!f)
		return -1;
	f[0] = b0;
	if (len < 126) {
		f[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		f[1] = 126;
		f[2] = (unsigned char)(len >> 8);
		f[3] = (unsigned char)len;
		hdr = 4;
	} else {
		f[1] = 127;
		for (int i = 0; i < 8; i++)
			f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hdr = 10;
	}
	if (mask) {
		f[1] |= 0x80;
		random_bytes(key, 4);
		memcpy(f + hdr, key, 4);
		hdr += 4;
		for (size_t i = 0; i < len; i++)
			f[hdr + i] = ((const unsigned char *)data)[i] ^ key[i & 3];
	} else if (len) {
		memcpy(f + hdr, data, len);
	}
	r = write_all(c->fd, f, hdr + len);
	free(f);
	return r;
}

int
ws_send_frame(struct ws_client *c, unsigned opcode, bool fin, const void *data,
	      size_t len)
{
	if (opcode == WS_OP_CLOSE)
		c->close_sent = true;
	return ws_send_frame_raw(c, (unsigned char)((fin ? 0x80 : 0) |
						    (opcode & 0x0f)),
				 true, data, len);
}

int
ws_send_text(struct ws_client *c, const char *s)
{
	return ws_send_frame(c, WS_OP_TEXT, true, s, strlen(s));
}

int
ws_send_textn(struct ws_client *c, const void *s, size_t n)
{
	return ws_send_frame(c, WS_OP_TEXT, true, s, n);
}

int
ws_send_binary(struct ws_client *c, const void *data, size_t n)
{
	return ws_send_frame(c, WS_OP_BINARY, true, data, n);
}

int
ws_send_ping(struct ws_client *c, const void *data, size_t n)
{
	return ws_send_frame(c, WS_OP_PING, true, data, n);
}

int
ws_send_close(struct ws_client *c, int code, const char *reason)
{
	unsigned char p[125];
	size_t n = 0;

	if (code) {
		size_t rl = reason ? strlen(reason) : 0;

		if (rl > sizeof(p) - 2)
			rl = sizeof(p) - 2;
		p[0] = (unsigned char)(code >> 8);
		p[1] = (unsigned char)code;
		if (rl)
			memcpy(p + 2, reason, rl);
		n = 2 + rl;
	}
	return ws_send_frame(c, WS_OP_CLOSE, true, p, n);
}

int
ws_send_fragmented(struct ws_client *c, unsigned opcode, const void *data,
		   size_t len, size_t nfrags)
{
	const unsigned char *p = data;
	size_t off = 0;

	if (nfrags < 1)
		nfrags = 1;
	if (nfrags > len && len > 0)
		nfrags = len;
	for (size_t i = 0; i < nfrags; i++) {
		size_t end = len * (i + 1) / nfrags;
		bool last = i + 1 == nfrags;

		if (ws_send_frame(c, i == 0 ? opcode : WS_OP_CONT, last,
				  p + off, end - off) < 0)
			return -1;
		off = end;
	}
	return 0;
}

int
ws_send_raw(struct ws_client *c, const void *data, size_t len)
{
	return write_all(c->fd, data, len);
}

int
ws_send_json(struct ws_client *c, const json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
	int r;

	if (!s)
		return -1;
	r = ws_send_text(c, s);
	free(s);
	return r;
}

int
ws_send_pack(struct ws_client *c, const char *fmt, ...)
{
	json_error_t err;
	json_t *obj;
	va_list ap;
	int r;

	va_start(ap, fmt);
	obj = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	if (!obj) {
		print_error("ws_send_pack('%s'): %s\n", fmt, err.text);
		return -1;
	}
	r = ws_send_json(c, obj);
	json_decref(obj);
	return r;
}

/* ---- receiving ---------------------------------------------------------- */

void
ws_frame_fini(struct ws_frame *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

void
ws_msg_fini(struct ws_msg *m)
{
	free(m->data);
	m->data = NULL;
	m->len = 0;
}

static int
recv_frame_until(struct ws_client *c, struct ws_frame *f, long long deadline)
{
	for (;;) {
		int r = parse_frame(c, f);

		if (r > 0)
			return WS_OK;
		if (r < 0)
			return WS_ERROR;
		if (c->eof)
			return WS_CLOSED;
		long long left = deadline - monotonic_ms();
		if (left < 0)
			left = 0;
		r = fill(c, (int)left);
		if (r == FILL_TIMEOUT && left == 0)
			return WS_TIMEOUT;
	}
}

int
ws_recv_frame(struct ws_client *c, struct ws_frame *f, int timeout_ms)
{
	return recv_frame_until(c, f, monotonic_ms() + timeout_ms);
}

static int
frag_append(struct ws_client *c, const unsigned char *d, size_t n)
{
	if (c->frag_len + n + 1 > c->frag_cap) {
		size_t ncap = c->frag_cap ? c->frag_cap : 4096;
		while (ncap < c->frag_len + n + 1)
			ncap *= 2;
		unsigned char *nb = realloc(c->frag, ncap);
		if (!nb)
			return -1;
		c->frag = nb;
		c->frag_cap = ncap;
	}
	memcpy(c->frag + c->frag_len, d, n);
	c->frag_len += n;
	c->frag[c->frag_len] = '\0';
	return 0;
}

static int
recv_msg_until(struct ws_client *c, struct ws_msg *m, long long deadline)
{
	struct ws_frame f;

	memset(m, 0, sizeof(*m));
	if (c->close_received)
		return WS_CLOSED;
	for (int guard = 0; guard < 1000000; guard++) {
		int r = recv_frame_until(c, &f, deadline);

		if (r != WS_OK)
			return r;
		if (f.masked || f.rsv) {
			set_error(c, "server frame %s (opcode %u)",
				  f.masked ? "is masked" : "has RSV bits",
				  f.opcode);
			ws_frame_fini(&f);
			return WS_ERROR;
		}
		if (f.opcode & 0x8) {
			if (!f.fin || f.len > 125) {
				set_error(c, "bad control frame (op %u, len %zu)",
					  f.opcode, f.len);
				ws_frame_fini(&f);
				return WS_ERROR;
			}
		}
		switch (f.opcode) {
		case WS_OP_PING:
			if (!c->close_sent)
				ws_send_frame(c, WS_OP_PONG, true, f.data,
					      f.len);
			ws_frame_fini(&f);
			continue;
		case WS_OP_PONG:
			ws_frame_fini(&f);
			continue;
		case WS_OP_CLOSE:
			c->close_received = true;
			if (f.len >= 2) {
				c->close_code = f.data[0] << 8 | f.data[1];
				snprintf(c->close_reason,
					 sizeof(c->close_reason), "%.*s",
					 (int)(f.len - 2), f.data + 2);
			} else {
				c->close_code = WS_CLOSE_NO_STATUS;
			}
			if (!c->close_sent) {
				/* Echo the code as RFC 6455 5.5.1 asks. */
				if (f.len >= 2)
					ws_send_frame(c, WS_OP_CLOSE, true,
						      f.data, 2);
				else
					ws_send_frame(c, WS_OP_CLOSE, true,
						      NULL, 0);
			}
			ws_frame_fini(&f);
			return WS_CLOSED;
		case WS_OP_TEXT:
		case WS_OP_BINARY:
			if (c->in_frag) {
				set_error(c, "new data frame inside a "
					     "fragmented message");
				ws_frame_fini(&f);
				return WS_ERROR;
			}
			if (f.fin) {
				m->opcode = f.opcode;
				m->data = (char *)f.data;
				m->len = f.len;
				return WS_OK;
			}
			c->in_frag = true;
			c->frag_op = f.opcode;
			c->frag_len = 0;
			if (frag_append(c, f.data, f.len) < 0) {
				ws_frame_fini(&f);
				return WS_ERROR;
			}
			ws_frame_fini(&f);
			continue;
		case WS_OP_CONT:
			if (!c->in_frag) {
				set_error(c, "continuation without a start");
				ws_frame_fini(&f);
				return WS_ERROR;
			}
			if (frag_append(c, f.data, f.len) < 0) {
				ws_frame_fini(&f);
				return WS_ERROR;
			}
			ws_frame_fini(&f);
			if (!f.fin)
				continue;
			c->in_frag = false;
			m->opcode = c->frag_op;
			m->data = malloc(c->frag_len + 1);
			if (!m->data)
				return WS_ERROR;
			memcpy(m->data, c->frag, c->frag_len + 1);
			m->len = c->frag_len;
			return WS_OK;
		default:
			set_error(c, "server frame with reserved opcode %u",
				  f.opcode);
			ws_frame_fini(&f);
			return WS_ERROR;
		}
	}
	return WS_ERROR;
}

int
ws_recv_msg(struct ws_client *c, struct ws_msg *m, int timeout_ms)
{
	return recv_msg_until(c, m, monotonic_ms() + timeout_ms);
}

int
ws_try_msg(struct ws_client *c, struct ws_msg *m)
{
	return recv_msg_until(c, m, 0);
}

static void
print_frame(const char *what, const char *data, size_t len)
{
	char out[1024];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < sizeof(out); i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
					      "\\x%02x", ch);
	}
	out[o] = '\0';
	print_error("%s (%zu bytes): %s%s\n", what, len, out,
		    o + 8 >= sizeof(out) ? "..." : "");
}

static json_t *
msg_to_json(struct ws_client *c, struct ws_msg *m, char **raw, size_t *raw_len)
{
	json_error_t err;
	json_t *j, *type;

	if (m->opcode != WS_OP_TEXT) {
		print_frame("server sent a binary frame", m->data, m->len);
		ws_msg_fini(m);
		fail();
	}
	if (!net_utf8_is_valid((unsigned char *)m->data, m->len)) {
		print_frame("server sent invalid UTF-8", m->data, m->len);
		ws_msg_fini(m);
		fail();
	}
	j = json_loadb(m->data, m->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		       &err);
	if (!j || !json_is_object(j)) {
		print_error("server frame is not a JSON object: %s\n",
			    j ? "(not an object)" : err.text);
		print_frame("frame", m->data, m->len);
		json_decref(j);
		ws_msg_fini(m);
		fail();
	}
	type = json_object_get(j, "type");
	if (!json_is_string(type)) {
		print_frame("server frame without a string \"type\"", m->data,
			    m->len);
		json_decref(j);
		ws_msg_fini(m);
		fail();
	}
	(void)c;
	if (raw) {
		*raw = m->data;
		if (raw_len)
			*raw_len = m->len;
		m->data = NULL;
	}
	ws_msg_fini(m);
	return j;
}

json_t *
ws_recv_json_raw(struct ws_client *c, int timeout_ms, char **raw,
		 size_t *raw_len)
{
	struct ws_msg m;
	int r = ws_recv_msg(c, &m, timeout_ms);

	if (r == WS_ERROR)
		print_error("ws_recv_json: %s\n", c->error);
	if (r != WS_OK)
		return NULL;
	return msg_to_json(c, &m, raw, raw_len);
}

json_t *
ws_recv_json(struct ws_client *c, int timeout_ms)
{
	return ws_recv_json_raw(c, timeout_ms, NULL, NULL);
}

json_t *
ws_try_json(struct ws_client *c)
{
	struct ws_msg m;
	int r = ws_try_msg(c, &m);

	if (r == WS_ERROR)
		print_error("ws_try_json: %s\n", c->error);
	if (r != WS_OK)
		return NULL;
	return msg_to_json(c, &m, NULL, NULL);
}

json_t *
ws_expect_type_at(const char *file, int line, struct ws_client *c,
		  const char *type, int timeout_ms, int flags)
{
	long long deadline = monotonic_ms() + timeout_ms;

	for (int guard = 0; guard < 100000; guard++) {
		struct ws_msg m;
		int r = recv_msg_until(c, &m, deadline);

		if (r != WS_OK) {
			print_error("%s:%d: expected a '%s' frame within %d ms, "
				    "got %s (close code %d%s%s)\n",
				    file, line, type, timeout_ms,
				    r == WS_TIMEOUT ? "nothing"
				    : r == WS_CLOSED ? "the connection closed"
						     : c->error,
				    c->close_code,
				    c->close_reason[0] ? ", reason " : "",
				    c->close_reason);
			_fail(file, line);
		}
		json_t *j = msg_to_json(c, &m, NULL, NULL);
		const char *t = json_string_value(json_object_get(j, "type"));

		if (!strcmp(t, type))
			return j;
		if (flags == WS_STRICT) {
			char *s = json_dumps(j, JSON_COMPACT);

			print_error("%s:%d: expected a '%s' frame, got %s\n",
				    file, line, type, s ? s : "?");
			free(s);
			json_decref(j);
			_fail(file, line);
		}
		json_decref(j);
	}
	print_error("%s:%d: no '%s' frame in 100000 frames\n", file, line, type);
	_fail(file, line);
	return NULL;
}

int
ws_recv_close_code(struct ws_client *c, int timeout_ms, size_t *dropped)
{
	long long deadline = monotonic_ms() + timeout_ms;
	size_t n = 0;
	int r = WS_OK;

	for (size_t guard = 0; guard < 10000000; guard++) {
		struct ws_msg m;

		r = recv_msg_until(c, &m, deadline);
		if (r != WS_OK)
			break;
		ws_msg_fini(&m);
		n++;
	}
	if (dropped)
		*dropped = n;
	if (r == WS_CLOSED)
		return c->close_code;
	if (r == WS_ERROR)
		return -1;
	return 0;
}

bool
ws_wait_eof(struct ws_client *c, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;

	while (!c->eof) {
		long long left = deadline - monotonic_ms();

		if (left <= 0)
			return false;
		c->len = 0; /* drop whatever comes */
		fill(c, (int)left);
	}
	return true;
}
