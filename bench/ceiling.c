/*
 * ceiling: the least a WebSocket broadcast server can do, as the yardstick
 * for chatd's benchmark. epoll, accept, upgrade, parse masked client text
 * frames, broadcast each (framed once) to every client. --mode send does one
 * send() per delivery; --mode cork appends to each client's output buffer
 * and flushes each client once per loop turn with one write. Loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RB_CAP (64 * 1024)
#define MAX_IN (1024 * 1024)        /* largest client message we accept */
#define MAX_OUT (64u * 1024 * 1024) /* slower than this: dropped */
#define EVENTS 512
#define LISTEN_FD UINT32_MAX

enum { ST_HTTP, ST_OPEN };

struct client {
	int fd;
	uint32_t slot;   /* index in clients[] */
	uint8_t state;
	bool pollout;
	bool dirty;
	char *in;
	uint32_t in_len, in_cap;
	char *out;
	uint32_t out_off, out_len, out_cap;
	struct client *next_dead;
};

static struct {
	bool cork;
	int ep, lfd;
	struct client **open;   /* clients in ST_OPEN, for broadcast */
	uint32_t nopen, capopen;
	struct client **dirty;  /* cork: to flush at the end of the turn */
	uint32_t ndirty, capdirty;
	char rb[RB_CAP];
	char frame[MAX_IN + 16];
	struct client *dead;    /* dropped this turn, freed at its end */
	volatile sig_atomic_t stop;
} S;

static void
on_signal(int sig)
{
	(void)sig;
	S.stop = 1;
}

static int
grow(char **b, uint32_t *cap, size_t need, size_t max)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	if (c > max)
		return -1;
	char *n = realloc(*b, c);
	if (!n)
		return -1;
	*b = n;
	*cap = (uint32_t)c;
	return 0;
}

static void
arm(struct client *c, bool out)
{
	if (out == c->pollout)
		return;
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.ptr = c,
	};
	c->pollout = out;
	epoll_ctl(S.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
drop(struct client *c)
{
	if (c->state == ST_OPEN) {
		/* Swap-remove keeps the open list dense for broadcast. */
		struct client *last = S.open[--S.nopen];
		S.open[c->slot] = last;
		last->slot = c->slot;
	}
	epoll_ctl(S.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	/* Freed at the end of the turn: events and the dirty list may still
	 * name it. */
	c->next_dead = S.dead;
	S.dead = c;
}

static void
reap(void)
{
	while (S.dead) {
		struct client *c = S.dead;
		S.dead = c->next_dead;
		free(c->in);
		free(c->out);
		free(c);
	}
}

/* Sends what is buffered; true while the client is alive. */
static bool
flush_out(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop(c);
			return false;
		}
		c->out_off += (uint32_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > 65536) {
			/* Idle clients keep no buffer: memory per connection
			 * is what S4 measures. */
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	arm(c, c->out_len > 0);
	return true;
}

static bool
append(struct client *c, const char *p, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (grow(&c->out, &c->out_cap, c->out_len + n, MAX_OUT) < 0) {
		drop(c); /* a slow consumer */
		return false;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += (uint32_t)n;
	return true;
}

/* send mode: one send() per delivery, buffering only what it refuses. */
static void
deliver_send(struct client *c, const char *f, size_t n)
{
	if (c->out_len) {
		append(c, f, n);
		return;
	}
	ssize_t w = send(c->fd, f, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		drop(c);
		return;
	}
	if (w < 0)
		w = 0;
	if ((size_t)w < n && append(c, f + w, n - (size_t)w))
		arm(c, true);
}

static void
deliver_cork(struct client *c, const char *f, size_t n)
{
	if (!append(c, f, n))
		return;
	if (!c->dirty) {
		if (S.ndirty == S.capdirty) {
			uint32_t cap = S.capdirty ? S.capdirty * 2 : 1024;
			void *d = realloc(S.dirty, cap * sizeof(*S.dirty));
			if (!d)
				return;
			S.dirty = d;
			S.capdirty = cap;
		}
		c->dirty = true;
		S.dirty[S.ndirty++] = c;
	}
}

static size_t
frame_header(char *h, int opcode, size_t n)
{
	h[0] = (char)(0x80 | opcode);
	if (n < 126) {
		h[1] = (char)n;
		return 2;
	}
	if (n < 65536) {
		h[1] = 126;
		h[2] = (char)(n >> 8);
		h[3] = (char)n;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (char)((uint64_t)n >> (56 - 8 * i));
	return 10;
}

static void
broadcast(const char *p, size_t n)
{
	/* Framed once; every delivery is the same bytes. */
	size_t hl = frame_header(S.frame, 1, n);
	memcpy(S.frame + hl, p, n);
	for (uint32_t i = 0; i < S.nopen;) {
		struct client *c = S.open[i];
		if (S.cork)
			deliver_cork(c, S.frame, hl + n);
		else
			deliver_send(c, S.frame, hl + n);
		if (i < S.nopen && S.open[i] == c)
			i++; /* else c was dropped and another took slot i */
	}
}

static void
reply(struct client *c, int opcode, const char *p, size_t n)
{
	char h[10];
	size_t hl = frame_header(h, opcode, n);

	if (append(c, h, hl) && append(c, p, n))
		flush_out(c);
}

static void
header_value(const char *req, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = req;

	out[0] = 0;
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) || p[nl] != ':')
			continue;
		p += nl + 1;
		while (*p == ' ')
			p++;
		size_t i = 0;
		while (p[i] && p[i] != '\r' && i + 1 < cap) {
			out[i] = p[i];
			i++;
		}
		out[i] = 0;
		return;
	}
}

static bool
handshake(struct client *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char key[128], proto[128], cat[192], acc[32], resp[512];
	unsigned char d[SHA_DIGEST_LENGTH];

	c->in[c->in_len] = 0;
	header_value(c->in, "Sec-WebSocket-Key", key, sizeof(key));
	header_value(c->in, "Sec-WebSocket-Protocol", proto, sizeof(proto));
	if (!key[0] || strlen(key) > 64)
		return false;
	/* Accept the first subprotocol offered, whatever it is. */
	char *comma = strchr(proto, ',');
	if (comma)
		*comma = 0;
	snprintf(cat, sizeof(cat), "%s%s", key, guid);
	SHA1((const unsigned char *)cat, strlen(cat), d);
	int j = 0;
	for (int i = 0; i < 18; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | d[i + 1] << 8 | d[i + 2];
		acc[j++] = b64[v >> 18];
		acc[j++] = b64[(v >> 12) & 63];
		acc[j++] = b64[(v >> 6) & 63];
		acc[j++] = b64[v & 63];
	}
	uint32_t v = (uint32_t)d[18] << 16 | d[19] << 8;
	acc[j++] = b64[v >> 18];
	acc[j++] = b64[(v >> 12) & 63];
	acc[j++] = b64[(v >> 6) & 63];
	acc[j++] = '=';
	acc[j] = 0;
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
			 acc, proto[0] ? "Sec-WebSocket-Protocol: " : "", proto,
			 proto[0] ? "\r\n" : "");
	return append(c, resp, (size_t)n) && flush_out(c);
}

/* Handles the complete frames in p; returns bytes used, -1 to drop. */
static long
frames(struct client *c, char *p, size_t n)
{
	size_t off = 0;

	while (n - off >= 6) {
		unsigned char *h = (unsigned char *)p + off;
		uint64_t len = h[1] & 0x7f;
		size_t hl = 2;
		if (!(h[1] & 0x80) || !(h[0] & 0x80))
			return -1; /* unmasked or fragmented: not our clients */
		if (len == 126) {
			len = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (len == 127) {
			if (n - off < 14)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl = 10;
		}
		if (len > MAX_IN)
			return -1;
		if (n - off < hl + 4 + len)
			break;
		unsigned char *k = h + hl, *pl = h + hl + 4;
		for (size_t i = 0; i < len; i++)
			pl[i] ^= k[i & 3];
		off += hl + 4 + (size_t)len;
		switch (h[0] & 0x0f) {
		case 1:
			broadcast((char *)pl, (size_t)len);
			if (c->fd < 0)
				return -1;
			break;
		case 8:
			reply(c, 8, (char *)pl, len >= 2 ? 2 : 0);
			return -1;
		case 9:
			reply(c, 10, (char *)pl, (size_t)len);
			break;
		default:
			break;
		}
		if (c->fd < 0)
			return -1;
	}
	return (long)off;
}

static void
on_readable(struct client *c)
{
	for (int round = 0; round < 4 && c->fd >= 0; round++) {
		ssize_t n = recv(c->fd, S.rb, sizeof(S.rb), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			drop(c);
			return;
		}
		if (grow(&c->in, &c->in_cap, c->in_len + (size_t)n + 1,
			 MAX_IN * 2) < 0) {
			drop(c);
			return;
		}
		memcpy(c->in + c->in_len, S.rb, (size_t)n);
		c->in_len += (uint32_t)n;
		size_t off = 0;
		if (c->state == ST_HTTP) {
			c->in[c->in_len] = 0;
			char *e = strstr(c->in, "\r\n\r\n");
			if (!e) {
				if (c->in_len > 8192)
					drop(c);
				continue;
			}
			off = (size_t)(e + 4 - c->in);
			if (!handshake(c)) {
				if (c->fd >= 0)
					drop(c);
				return;
			}
			if (S.nopen == S.capopen) {
				uint32_t cap = S.capopen ? S.capopen * 2 : 1024;
				void *o =
					realloc(S.open, cap * sizeof(*S.open));
				if (!o) {
					drop(c);
					return;
				}
				S.open = o;
				S.capopen = cap;
			}
			c->state = ST_OPEN;
			c->slot = S.nopen;
			S.open[S.nopen++] = c;
		}
		long used = frames(c, c->in + off, c->in_len - off);
		if (used < 0) {
			if (c->fd >= 0)
				drop(c);
			return;
		}
		off += (size_t)used;
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= (uint32_t)off;
		if (!c->in_len) {
			free(c->in); /* idle clients hold no buffer */
			c->in = NULL;
			c->in_cap = 0;
		}
		if ((size_t)n < sizeof(S.rb))
			return;
	}
}

static void
on_accept(void)
{
	for (int i = 0; i < 256; i++) {
		int fd = accept4(S.lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct client *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(S.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
		}
	}
}

static int
listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (S.lfd < 0)
		return -1;
	setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(S.lfd, 4096) < 0 ||
	    getsockname(S.lfd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(S.ep, EPOLL_CTL_ADD, S.lfd, &ev);
	fprintf(stderr, "listening on http://127.0.0.1:%d\n",
		ntohs(a.sin_port));
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", 1, 0, 'p'}, {"mode", 1, 0, 'm'}, {0, 0, 0, 0}};
	struct epoll_event ev[EVENTS];
	struct rlimit r;
	int port = 0, c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else if (c == 'm' && !strcmp(optarg, "cork"))
			S.cork = true;
		else if (c == 'm' && !strcmp(optarg, "send"))
			S.cork = false;
		else {
			fputs("usage: ceiling [--port N] [--mode send|cork]\n",
			      stderr);
			return 2;
		}
	}
	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	S.ep = epoll_create1(EPOLL_CLOEXEC);
	if (S.ep < 0 || listen_on(port) < 0) {
		perror("ceiling: listen");
		return 1;
	}
	while (!S.stop) {
		int n = epoll_wait(S.ep, ev, EVENTS, 1000);
		for (int i = 0; i < n; i++) {
			struct client *cl = ev[i].data.ptr;
			if (!cl) {
				on_accept();
				continue;
			}
			if (cl->fd < 0)
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(cl);
			if (cl->fd >= 0 && (ev[i].events & EPOLLOUT))
				flush_out(cl);
		}
		/* cork: one write per client per turn, whatever it holds. */
		for (uint32_t i = 0; i < S.ndirty; i++) {
			struct client *cl = S.dirty[i];
			cl->dirty = false;
			if (cl->fd >= 0 && !cl->pollout)
				flush_out(cl);
		}
		S.ndirty = 0;
		reap();
	}
	return 0;
}
