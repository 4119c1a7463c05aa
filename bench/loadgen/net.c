/*
 * The WebSocket client side of the load generator: non-blocking connects
 * from 127.0.0.x to 127.0.0.1 only, the upgrade handshake, RFC 6455 frame
 * parsing (server frames are unmasked) and masked client text frames.
 * Owns every socket and buffer; dialect logic lives in proto.c.
 */
#define _GNU_SOURCE
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RB_CAP (256 * 1024)
#define MAX_FRAME (32u * 1024 * 1024) /* a 10k-member joined list fits */
#define MAX_OUT (64u * 1024 * 1024)
#define EVENTS 512
#define READS_PER_EVENT 4

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
next_rand(struct lg *g)
{
	/* xorshift64: masks need not be secret against our own servers. */
	uint64_t x = g->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	g->rng = x;
	return x;
}

int
lg_init(struct lg *g, const struct lg_opts *o, uint32_t nconns)
{
	memset(g, 0, sizeof(*g));
	g->o = o;
	g->rng = 0x9e3779b97f4a7c15ull ^ now_ns();
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	g->conns = calloc(nconns ? nconns : 1, sizeof(*g->conns));
	g->flush = calloc(nconns ? nconns : 1, sizeof(*g->flush));
	g->rb_cap = RB_CAP;
	g->rb = malloc(g->rb_cap);
	g->payload = malloc(o->size + 64);
	if (g->ep < 0 || !g->conns || !g->flush || !g->rb || !g->payload) {
		snprintf(g->err, sizeof(g->err), "init: out of memory");
		return -1;
	}
	g->nconns = nconns;
	for (uint32_t i = 0; i < nconns; i++) {
		g->conns[i].fd = -1;
		g->conns[i].id = i;
		g->conns[i].pub = -1;
		g->conns[i].state = ST_DEAD;
	}
	hist_reset(&g->st.lat);
	return 0;
}

void
lg_fini(struct lg *g)
{
	for (uint32_t i = 0; i < g->nconns; i++) {
		struct lg_conn *c = &g->conns[i];
		if (c->fd >= 0)
			close(c->fd);
		free(c->in);
		free(c->out);
		free(c->expect);
	}
	for (uint32_t i = 0; i < g->npubs; i++)
		free(g->pubs[i].cnt);
	free(g->pubs);
	free(g->conns);
	free(g->flush);
	free(g->rb);
	free(g->payload);
	if (g->ep >= 0)
		close(g->ep);
}

static void
set_events(struct lg *g, struct lg_conn *c, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
		.data.u32 = c->id,
	};
	if (out != c->pollout) {
		c->pollout = out;
		epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void
count_end(struct lg *g, struct lg_conn *c)
{
	if (c->counted) {
		if (c->state == ST_READY)
			g->nready--;
		g->nclosed++;
	} else {
		g->nfailed++;
	}
	c->counted = true;
}

void
lg_kill(struct lg *g, struct lg_conn *c)
{
	if (c->state == ST_DEAD)
		return;
	if (c->state == ST_CONNECTING)
		g->nconnecting--;
	count_end(g, c);
	c->state = ST_DEAD;
	if (c->fd >= 0) {
		epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->in_len = c->out_len = c->out_off = 0;
}

void
lg_mark_ready(struct lg *g, struct lg_conn *c)
{
	if (c->state == ST_READY)
		return;
	c->state = ST_READY;
	c->counted = true;
	g->nready++;
}

int
lg_port(const struct lg *g, const struct lg_conn *c)
{
	/* Connections [0, pubs) publish; of the subscribers after them,
	 * every second one goes to the other instance of a cluster. */
	if (!g->o->port2 || c->pub >= 0 || (c->id - g->npubs) % 2 == 0)
		return g->o->port;
	return g->o->port2;
}

int
lg_connect(struct lg *g, struct lg_conn *c)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	int one = 1;

	/* Several source addresses keep 4-tuples plentiful for 10k sockets;
	 * the destination is always 127.0.0.1. */
	src.sin_addr.s_addr = htonl(0x7f000001u + c->id % g->o->sources);
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	dst.sin_port = htons((uint16_t)lg_port(g, c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		   sizeof(one));
	if (g->o->sources > 1 &&
	    bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		goto fail;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
		.data.u32 = c->id,
	};
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail;
	c->pollout = true;
	c->state = ST_CONNECTING;
	g->nconnecting++;
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = ST_DEAD;
	count_end(g, c);
	return -1;
}

static int
out_append(struct lg_conn *c, const void *p, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + n)
			cap *= 2;
		if (cap > MAX_OUT)
			return -1;
		char *b = realloc(c->out, cap);
		if (!b)
			return -1;
		c->out = b;
		c->out_cap = (uint32_t)cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += (uint32_t)n;
	return 0;
}

static void
mark_dirty(struct lg *g, struct lg_conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		g->flush[g->nflush++] = c->id;
	}
}

static int
put_frame(struct lg *g, struct lg_conn *c, int opcode, const char *p,
	  size_t n)
{
	unsigned char h[14];
	size_t hl = 2;
	uint32_t key = (uint32_t)next_rand(g);

	h[0] = (unsigned char)(0x80 | opcode);
	if (n < 126) {
		h[1] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(h + hl, &key, 4);
	hl += 4;
	if (out_append(c, h, hl) < 0 || out_append(c, p, n) < 0)
		return -1;
	unsigned char *m = (unsigned char *)c->out + c->out_len - n;
	const unsigned char *k = (const unsigned char *)&key;
	for (size_t i = 0; i < n; i++)
		m[i] ^= k[i & 3];
	mark_dirty(g, c);
	return 0;
}

int
lg_send_text(struct lg *g, struct lg_conn *c, const char *p, size_t n)
{
	if (c->state == ST_DEAD)
		return -1;
	if (put_frame(g, c, 1, p, n) < 0) {
		snprintf(g->err, sizeof(g->err), "output over %u bytes",
			 MAX_OUT);
		lg_kill(g, c);
		return -1;
	}
	return 0;
}

static void
flush_one(struct lg *g, struct lg_conn *c)
{
	c->dirty = false;
	if (c->state == ST_DEAD || c->state == ST_CONNECTING)
		return;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			lg_kill(g, c);
			return;
		}
		c->out_off += (uint32_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	set_events(g, c, c->out_len > 0);
}

static void
send_handshake(struct lg *g, struct lg_conn *c)
{
	char req[512], key[25];
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t r1 = next_rand(g), r2 = next_rand(g);

	/* 16 random bytes in base64: 22 symbols and "==". */
	for (int i = 0; i < 22; i++) {
		uint64_t r = i < 11 ? r1 >> (i * 6) : r2 >> ((i - 11) * 6);
		key[i] = b64[i == 21 ? (r & 0x30) : (r & 63)];
	}
	key[22] = key[23] = '=';
	key[24] = 0;
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n"
			 "Host: 127.0.0.1:%d\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "%s%s%s"
			 "\r\n",
			 g->o->path, lg_port(g, c), key,
			 g->o->subprotocol ? "Sec-WebSocket-Protocol: " : "",
			 g->o->subprotocol ? g->o->subprotocol : "",
			 g->o->subprotocol ? "\r\n" : "");
	c->state = ST_HANDSHAKE;
	if (out_append(c, req, (size_t)n) < 0) {
		lg_kill(g, c);
		return;
	}
	mark_dirty(g, c);
}

static void
on_connected(struct lg *g, struct lg_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		lg_kill(g, c);
		return;
	}
	g->nconnecting--;
	send_handshake(g, c);
}

/* Parses the complete frames in p; returns bytes consumed or -1 to kill. */
static long
parse_frames(struct lg *g, struct lg_conn *c, char *p, size_t n,
	     uint64_t now)
{
	size_t off = 0;

	while (n - off >= 2 && c->state != ST_DEAD) {
		const unsigned char *h = (const unsigned char *)p + off;
		uint64_t len = h[1] & 0x7f;
		size_t hl = 2;
		if (h[1] & 0x80)
			return -1; /* servers never mask */
		if (len == 126) {
			if (n - off < 4)
				break;
			len = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (len == 127) {
			if (n - off < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl = 10;
		}
		if (len > MAX_FRAME)
			return -1;
		if (n - off < hl + len)
			break;
		char *pl = p + off + hl;
		int op = h[0] & 0x0f;
		off += hl + (size_t)len;
		if (op == 1) {
			if (!(h[0] & 0x80))
				continue; /* fragmented: none of ours */
			if (proto_on_text(g, c, pl, (size_t)len, now) < 0)
				return -1;
		} else if (op == 8) {
			return -1;
		} else if (op == 9) {
			if (put_frame(g, c, 10, pl, (size_t)len) < 0)
				return -1;
		}
	}
	return (long)off;
}

static int
carry(struct lg_conn *c, const char *p, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 256;
		while (cap < c->in_len + n)
			cap *= 2;
		if (cap > 2 * MAX_FRAME)
			return -1;
		char *b = realloc(c->in, cap);
		if (!b)
			return -1;
		c->in = b;
		c->in_cap = (uint32_t)cap;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += (uint32_t)n;
	return 0;
}

/* Consumes the HTTP response in c->in; returns bytes used, 0 if more are
 * needed, -1 when it is not a 101. */
static long
parse_response(struct lg_conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);

	if (!end)
		return c->in_len > 8192 ? -1 : 0;
	if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12))
		return -1;
	return end + 4 - c->in;
}

static int
on_data(struct lg *g, struct lg_conn *c, size_t n, uint64_t now)
{
	long used;

	if (c->state == ST_HANDSHAKE || c->in_len) {
		if (carry(c, g->rb, n) < 0)
			return -1;
		size_t off = 0;
		if (c->state == ST_HANDSHAKE) {
			used = parse_response(c);
			if (used <= 0)
				return (int)used;
			c->state = ST_OPEN;
			if (g->o->mode == MODE_RAW)
				lg_mark_ready(g, c);
			off = (size_t)used;
		}
		used = parse_frames(g, c, c->in + off, c->in_len - off, now);
		if (used < 0)
			return -1;
		off += (size_t)used;
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= (uint32_t)off;
		if (!c->in_len && c->in_cap > 65536) {
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
		return 0;
	}
	used = parse_frames(g, c, g->rb, n, now);
	if (used < 0)
		return -1;
	if ((size_t)used < n && carry(c, g->rb + used, n - (size_t)used) < 0)
		return -1;
	return 0;
}

static void
on_readable(struct lg *g, struct lg_conn *c)
{
	for (int i = 0; i < READS_PER_EVENT && c->state != ST_DEAD; i++) {
		ssize_t n = recv(c->fd, g->rb, g->rb_cap, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			lg_kill(g, c);
			return;
		}
		uint64_t now = now_ns();
		g->last_rx_ns = now;
		if (on_data(g, c, (size_t)n, now) < 0) {
			lg_kill(g, c);
			return;
		}
		if ((size_t)n < g->rb_cap)
			return;
	}
}

static void
flush_all(struct lg *g)
{
	for (uint32_t i = 0; i < g->nflush; i++)
		flush_one(g, &g->conns[g->flush[i]]);
	g->nflush = 0;
}

int
lg_turn(struct lg *g, int64_t timeout_ns)
{
	struct epoll_event ev[EVENTS];
	struct timespec ts = {0, 0};

	/* What the caller queued goes out before we sleep. */
	flush_all(g);

	if (timeout_ns > 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
	}
	int n = epoll_pwait2(g->ep, ev, EVENTS, &ts, NULL);
	for (int i = 0; i < n; i++) {
		struct lg_conn *c = &g->conns[ev[i].data.u32];
		if (c->state == ST_DEAD)
			continue;
		if (c->state == ST_CONNECTING) {
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(g, c);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
			on_readable(g, c);
		if (c->state != ST_DEAD && (ev[i].events & EPOLLOUT))
			mark_dirty(g, c);
	}
	flush_all(g);
	return n < 0 ? 0 : n;
}
