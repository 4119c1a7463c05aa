/*
 * The three dialects the load generator speaks over its WebSocket client:
 * chatd's JSON v1, raw text frames (lws mirror, the ceiling servers) and
 * Socket.IO v4 over Engine.IO's websocket transport. Each turns a payload
 * into a frame and finds the payload in a received frame, cheaply.
 */
#define _GNU_SOURCE
#include "lg.h"

#include <stdio.h>
#include <string.h>

const char *
proto_default_path(enum lg_mode m)
{
	switch (m) {
	case MODE_CHATD:
		return "/chat";
	case MODE_SOCKETIO:
		return "/socket.io/?EIO=4&transport=websocket";
	default:
		return "/";
	}
}

const char *
proto_default_subprotocol(enum lg_mode m)
{
	return m == MODE_CHATD ? "chat" : NULL;
}

#define PFX(s) s, sizeof(s) - 1

static bool
starts(const char *p, size_t n, const char *s, size_t sl)
{
	return n >= sl && !memcmp(p, s, sl);
}

/* Our payload never holds '"' or '\\', so the string ends at the next '"'. */
static void
string_at(struct lg *g, struct lg_conn *c, const char *p, size_t n,
	  const char *key, size_t kl, uint64_t now)
{
	const char *s = memmem(p, n, key, kl);

	if (!s)
		return;
	s += kl;
	const char *e = memchr(s, '"', (size_t)(p + n - s));
	if (e)
		traffic_on_payload(g, c, s, (size_t)(e - s), now);
}

/*
 * The text of a chatd message frame: the string after "text":. This runs
 * once per delivery, millions of times a second, and glibc's memmem took
 * about 35 ns a frame here (at 6 M deliveries/s, a fifth of the one CPU
 * the load generator has). Hopping from ':' to ':' with
 * memchr (room, id, nick, then text: four hops) and checking the key
 * around each takes about 13 ns. A "text": spelled inside a string never
 * matches, as with memmem: there a '\\' escapes each of its quotes.
 */
static void
chatd_message_text(struct lg *g, struct lg_conn *c, const char *p, size_t n,
		   uint64_t now)
{
	const char *end = p + n, *q = p;

	while (end - q > 2 && (q = memchr(q, ':', (size_t)(end - q - 1)))) {
		if (q - p >= 6 && !memcmp(q - 6, "\"text\"", 6) && q[1] == '"') {
			const char *s = q + 2;
			const char *e = memchr(s, '"', (size_t)(end - s));
			if (e)
				traffic_on_payload(g, c, s, (size_t)(e - s),
						   now);
			return;
		}
		q++;
	}
}

static int
chatd_text(struct lg *g, struct lg_conn *c, const char *p, size_t n,
	   uint64_t now)
{
	/* chatd writes "type" first; skip room/id/nick to the text. */
	if (starts(p, n, PFX("{\"type\":\"message\""))) {
		chatd_message_text(g, c, p + 17, n - 17, now);
		return 0;
	}
	if (c->state == ST_OPEN && starts(p, n, PFX("{\"type\":\"history\"")))
		lg_mark_ready(g, c);
	return 0;
}

static int
socketio_text(struct lg *g, struct lg_conn *c, const char *p, size_t n,
	      uint64_t now)
{
	if (starts(p, n, PFX("42["))) {
		string_at(g, c, p + 3, n - 3, PFX("\"chat message\",\""), now);
		return 0;
	}
	if (n == 1 && p[0] == '2')
		return lg_send_text(g, c, "3", 1); /* Engine.IO ping */
	if (starts(p, n, PFX("0{")))
		return lg_send_text(g, c, "40", 2); /* open: connect to "/" */
	if (starts(p, n, PFX("40")) && c->state == ST_OPEN)
		lg_mark_ready(g, c);
	if (starts(p, n, PFX("1")) || starts(p, n, PFX("41")))
		return -1; /* closed by the server */
	return 0;
}

int
proto_on_text(struct lg *g, struct lg_conn *c, const char *p, size_t n,
	      uint64_t now)
{
	g->rx_texts++;
	g->rx_text_bytes += n;
	switch (g->o->mode) {
	case MODE_CHATD:
		return chatd_text(g, c, p, n, now);
	case MODE_SOCKETIO:
		return socketio_text(g, c, p, n, now);
	default:
		traffic_on_payload(g, c, p, n, now);
		return 0;
	}
}

/*
 * Payload: "B<pub>.<seq>.<ts>" padded with '-' to --size bytes, so every
 * dialect carries the same text and no JSON escaping is ever needed.
 */
int
proto_publish(struct lg *g, struct lg_conn *c, uint32_t pub, uint64_t seq,
	      uint64_t ts)
{
	char *b = g->payload;
	size_t cap = g->o->size + 64;
	int pre = 0, post = 0;

	switch (g->o->mode) {
	case MODE_CHATD:
		pre = snprintf(b, cap, "{\"type\":\"message\",\"text\":\"");
		post = 2;
		break;
	case MODE_SOCKETIO:
		pre = snprintf(b, cap, "42[\"chat message\",\"");
		post = 2;
		break;
	default:
		break;
	}
	int t = snprintf(b + pre, cap - (size_t)pre, "B%u.%llu.%llu", pub,
			 (unsigned long long)seq, (unsigned long long)ts);
	size_t len = (size_t)pre + (size_t)t;
	while (len < (size_t)pre + g->o->size)
		b[len++] = '-';
	if (g->o->mode == MODE_CHATD)
		memcpy(b + len, "\"}", 2);
	else if (g->o->mode == MODE_SOCKETIO)
		memcpy(b + len, "\"]", 2);
	len += (size_t)post;
	return lg_send_text(g, c, b, len);
}
