/*
 * The socket.io dialect: Engine.IO packets in, Socket.IO packets inside
 * them, turned into chat requests; and the frames its sessions get (open,
 * connect, acks, "chat message" events, pings). What a socket.io session
 * may do is the classic example's: connect to "/", emit "chat message".
 */
#include "socketio.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "engineio.h"
#include "json.h"
#include "keepalive.h"
#include "log.h"
#include "msg.h"
#include "session.h"
#include "utf8.h"

#define CHAT_EVENT "chat message"

int
socketio_parse(struct socketio_packet *p, const char *buf, size_t len)
{
	size_t i = 1;

	*p = (struct socketio_packet){ .nsp = "/", .nsp_len = 1 };
	if (!len || buf[0] < '0' || buf[0] > '6')
		return -1;
	p->type = (enum socketio_type)(buf[0] - '0');
	/* Refused whatever follows (socketio_receive): no need to look. */
	if (p->type == SOCKETIO_BINARY_EVENT || p->type == SOCKETIO_BINARY_ACK)
		return 0;
	/* A namespace runs to the first comma, which is not part of it. */
	if (i < len && buf[i] == '/') {
		const char *comma = memchr(buf + i, ',', len - i);
		size_t end = comma ? (size_t)(comma - buf) : len;

		p->nsp = buf + i;
		p->nsp_len = end - i;
		i = comma ? end + 1 : len;
	}
	if (i < len && buf[i] >= '0' && buf[i] <= '9') {
		size_t start = i;

		p->has_id = true;
		for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
			if (i - start == 15)
				return -1; /* SOCKETIO_MAX_ACK_ID */
			p->id = p->id * 10 + (uint64_t)(buf[i] - '0');
		}
	}
	p->data = buf + i;
	p->data_len = len - i;
	return 0;
}

static bool
is_main(const struct socketio_packet *p)
{
	return p->nsp_len == 1 && p->nsp[0] == '/';
}

/* The payload as JSON, or NULL when there is none or it is not JSON.
 * Numbers past 64 bits are taken as reals and U+0000 as a character
 * (texts are counted), so valid JSON is never refused for those. */
static json_t *
payload(const struct socketio_packet *p)
{
	if (!p->data_len)
		return NULL;
	return json_loadb(p->data, p->data_len,
			  JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL |
				  JSON_ALLOW_NUL,
			  NULL);
}

/* Event names the reference parser refuses: its sockets' own. */
static bool
is_reserved(const json_t *name)
{
	static const char *const reserved[] = {
		"connect",     "connect_error",	 "disconnect",
		"disconnecting", "newListener", "removeListener",
	};
	const char *v = json_string_value(name);

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (json_string_length(name) == strlen(reserved[i]) &&
		    !memcmp(v, reserved[i], strlen(reserved[i])))
			return true;
	return false;
}

static bool
is_chat_event(const json_t *name)
{
	return json_is_string(name) &&
	       json_string_length(name) == sizeof(CHAT_EVENT) - 1 &&
	       !memcmp(json_string_value(name), CHAT_EVENT,
		       sizeof(CHAT_EVENT) - 1);
}

static void
protocol_error(struct session *s, const char *reason)
{
	session_close(s, CHAT_CLOSE_PROTOCOL_ERROR, reason);
}

/* The chat's scratch buffer as a frame for s. Losing one of these (an
 * open, a connect, an ack) would leave the client waiting: out of memory
 * closes the session instead. */
static void
queue_out(struct session *s)
{
	struct jbuf *b = &s->chat->out;
	struct msg *m = b->oom ? NULL : msg_new(b->data, b->len);

	if (!m) {
		log_warn("session %llu: out of memory for a socket.io frame, "
			 "closing",
			 (unsigned long long)s->id);
		session_close(s, CHAT_CLOSE_GOING_AWAY, "out of memory");
		return;
	}
	session_queue(s, m);
	msg_unref(m);
}

#define RAW(b, lit) jbuf_raw(b, lit, sizeof(lit) - 1)

/* The ack of the event in hand: 43<id>[{"status":"ok"}], or with code
 * {"status":"error","code":...,"message":...}, as the socket.io docs'
 * examples answer. */
static void
send_ack(struct session *s, const char *code, const char *text)
{
	struct jbuf *b = &s->chat->out;
	char head[32];
	int n = snprintf(head, sizeof(head), "43%llu[{\"status\":",
			 (unsigned long long)s->sio.ack_id);

	s->sio.acking = false;
	jbuf_reset(b);
	jbuf_raw(b, head, (size_t)n);
	if (!code) {
		RAW(b, "\"ok\"}]");
	} else {
		RAW(b, "\"error\",\"code\":");
		jbuf_str(b, code, strlen(code));
		RAW(b, ",\"message\":");
		jbuf_str(b, text, strlen(text));
		RAW(b, "}]");
	}
	queue_out(s);
}

/* ---- the hooks chat.c calls ---- */

/* An event without an ack id has no answer in Socket.IO: its error is
 * dropped, as the classic server would drop it. */
static void
on_error(struct session *s, const char *code, const char *text)
{
	if (s->sio.acking)
		send_ack(s, code, text);
	else
		log_debug("session %llu: socket.io event refused (%s)",
			  (unsigned long long)s->id, code);
}

/* 42["chat message",<text>]: the text's JSON string is copied from the
 * v1 frame as it is, escaped already, so nothing is encoded twice. */
static struct msg *
message_frame(struct msg *m)
{
	static const char head[] = "42[\"" CHAT_EVENT "\",";
	const char *frame = (const char *)msg_payload(m);
	size_t at, len;

	if (json_message_text(frame, m->len, &at, &len)) {
		log_warn("a message frame without a text; not sent to "
			 "socket.io clients");
		return NULL;
	}
	const struct msg_part parts[] = {
		{ head, sizeof(head) - 1 },
		{ frame + at, len },
		{ "]", 1 },
	};
	return msg_new_parts(parts, 3);
}

static struct msg *
ping_frame(void)
{
	return msg_new("2", 1);
}

const struct chat_dialect socketio_dialect = {
	.message = message_frame,
	.error = on_error,
	.ping = ping_frame,
};

/* ---- packets from the client ---- */

void
socketio_open(struct session *s, const char *sid, bool upgrades)
{
	const struct config *cfg = s->chat->cfg;
	unsigned ms = keepalive_interval(cfg) * 1000;

	/* The server's pings come every interval, and one unanswered by the
	 * next is a timeout: pingTimeout is the interval too. */
	engineio_open(&s->chat->out, sid, upgrades, ms, ms,
		      cfg->max_message_bytes);
	queue_out(s);
}

/* CONNECT: "/" is the chat; any other namespace gets CONNECT_ERROR, and
 * the connection stays for "/". A refusal is an answer, so it costs a
 * request as an error does for a v1 client. */
static void
on_connect(struct session *s, const struct socketio_packet *p)
{
	struct jbuf *b = &s->chat->out;
	char sid[ENGINEIO_SID_LEN + 1];
	json_t *auth = payload(p);
	bool valid = !p->data_len || json_is_object(auth);

	/* The auth object is not used: token auth reads the handshake. */
	json_decref(auth);
	if (!valid) {
		protocol_error(s, "socket.io: invalid payload");
		return;
	}
	if (!is_main(p)) {
		if (!chat_admit(s, NULL))
			return;
		jbuf_reset(b);
		RAW(b, "44");
		jbuf_raw(b, p->nsp, p->nsp_len);
		RAW(b, ",{\"message\":\"Invalid namespace\"}");
		queue_out(s);
		return;
	}
	if (s->sio.connected) {
		protocol_error(s, "socket.io: already connected");
		return;
	}
	/* In its first room before it is told it is connected: a join the
	 * server refuses (a token whose room is full, say) is a connect
	 * error, not a connection that sits in no room. */
	if (chat_enter(s) || !session_current_room(s)) {
		static const char refused[] =
			"44{\"message\":\"cannot join a room\"}";
		struct msg *m = msg_new(refused, sizeof(refused) - 1);

		session_close_after(s, m, CHAT_CLOSE_GOING_AWAY,
				    "socket.io: cannot join a room");
		msg_unref(m);
		return;
	}
	s->sio.connected = true;
	engineio_sid(sid);
	jbuf_reset(b);
	RAW(b, "40{\"sid\":\"");
	jbuf_raw(b, sid, ENGINEIO_SID_LEN);
	RAW(b, "\"}");
	queue_out(s);
	log_debug("session %llu: socket.io connected to /",
		  (unsigned long long)s->id);
}

/*
 * EVENT: ["chat message", text] is a message to the session's room; any
 * other event, or a chat message whose text is no string, is an error
 * (answered in the ack when one was asked for). Every event counts against
 * the request budget, as every v1 frame does.
 */
static void
on_event(struct session *s, const struct socketio_packet *p)
{
	struct request req = { .type = REQ_MESSAGE };
	json_t *args = payload(p);
	json_t *name = json_array_get(args, 0);
	json_t *text = json_array_get(args, 1);

	if (!is_main(p)) {
		json_decref(args);
		protocol_error(s, "socket.io: event for a namespace not "
				  "connected");
		return;
	}
	/* A non-empty array led by the event's name (a number will do). */
	if (!json_is_array(args) || !name ||
	    !(json_is_number(name) ||
	      (json_is_string(name) && !is_reserved(name)))) {
		json_decref(args);
		protocol_error(s, "socket.io: invalid payload");
		return;
	}
	s->sio.acking = p->has_id;
	s->sio.ack_id = p->id;
	if (!is_chat_event(name)) {
		chat_request(s, &req, "unknown_type",
			     "the only event is \"" CHAT_EVENT "\"");
	} else if (!json_is_string(text)) {
		chat_request(s, &req, "bad_request",
			     "\"" CHAT_EVENT "\" takes a string");
	} else {
		req.text = json_string_value(text);
		req.text_len = json_string_length(text);
		chat_request(s, &req, NULL, NULL);
	}
	/* Not answered with an error: accepted. */
	if (s->sio.acking)
		send_ack(s, NULL, NULL);
	json_decref(args);
}

/*
 * Binary attachments are not supported: a disconnect first, so that the
 * client's socket hears it is over (reason "io server disconnect") rather
 * than reconnecting into the same refusal, then close 1003.
 */
static void
refuse_binary(struct session *s)
{
	struct msg *bye = msg_new("41", 2);

	session_close_after(s, bye, CHAT_CLOSE_UNSUPPORTED,
			    "socket.io binary attachments are not supported");
	msg_unref(bye);
}

static void
on_packet(struct session *s, const char *buf, size_t len)
{
	struct socketio_packet p;
	json_t *args;

	if (socketio_parse(&p, buf, len)) {
		protocol_error(s, "socket.io: malformed packet");
		return;
	}
	if (p.type == SOCKETIO_BINARY_EVENT || p.type == SOCKETIO_BINARY_ACK) {
		refuse_binary(s);
		return;
	}
	/* "If the server does not receive a CONNECT packet first, then it
	 * MUST close the connection immediately." */
	if (p.type != SOCKETIO_CONNECT && !s->sio.connected) {
		protocol_error(s, "socket.io: no connect first");
		return;
	}
	switch (p.type) {
	case SOCKETIO_CONNECT:
		on_connect(s, &p);
		break;
	case SOCKETIO_DISCONNECT:
		if (p.data_len)
			protocol_error(s, "socket.io: invalid payload");
		else if (is_main(&p))
			/* Its only namespace: the connection is done. */
			session_close(s, CHAT_CLOSE_NORMAL,
				      "socket.io disconnect");
		else
			chat_admit(s, NULL); /* ignored, but not for free */
		break;
	case SOCKETIO_EVENT:
		on_event(s, &p);
		break;
	case SOCKETIO_ACK:
		/* The server asks for no acks, so there is nothing to match;
		 * the payload must still be an array. Parsing it costs, so it
		 * counts against the budget like any request. */
		if (!chat_admit(s, NULL))
			break;
		args = payload(&p);
		if (!json_is_array(args))
			protocol_error(s, "socket.io: invalid payload");
		json_decref(args);
		break;
	default:
		/* CONNECT_ERROR is the server's to send. */
		protocol_error(s, "socket.io: unexpected packet");
		break;
	}
}

void
socketio_receive(struct session *s, const char *buf, size_t len)
{
	const char *data;
	size_t n;

	if (s->closing)
		return;
	/* Any packet shows the client is there, as the reference server
	 * takes it: it answers a ping as a pong would. */
	chat_seen(s);
	if (!utf8_is_valid((const unsigned char *)buf, len)) {
		session_close(s, CHAT_CLOSE_BAD_PAYLOAD, "invalid UTF-8");
		return;
	}
	switch (engineio_parse(buf, len, &data, &n)) {
	case ENGINEIO_MESSAGE:
		on_packet(s, data, n);
		break;
	case ENGINEIO_PONG:
		/* "3probe" belongs to an upgrade (eio_poll.c). One
		 * pong per ping costs nothing of the budget to speak of; a
		 * flood of them is a flood. */
		if (n)
			protocol_error(s, "engine.io: unexpected pong");
		else
			chat_admit(s, NULL);
		break;
	case ENGINEIO_CLOSE:
		session_close(s, CHAT_CLOSE_NORMAL, "engine.io close");
		break;
	case -1:
		protocol_error(s, "engine.io: malformed packet");
		break;
	default:
		/* open and noop are the server's, upgrade needs an upgrade;
		 * a ping is version 3's heartbeat, which v4 turned round. */
		protocol_error(s, "engine.io: unexpected packet");
		break;
	}
}
