/*
 * Engine.IO's long-polling transport on lws's HTTP server (see eio_poll.h).
 * A session's frames are the same msgs its WebSocket would be sent (their
 * payloads here, their frames there), so moving to the WebSocket moves the
 * queue as it is.
 */
#include "eio_poll.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "chat_proto.h"
#include "growbuf.h"
#include "http.h"
#include "log.h"
#include "msg.h"
#include "msgq.h"
#include "session.h"
#include "socketio.h"
#include "upgrade.h"

/* An ended session's last frames (and its close packet) wait this long
 * for the client's next poll, which normally follows the last at once. */
#define BYE_GRACE_SECS 5
/* A probe that has not upgraded in this long is dropped (the reference
 * server's upgradeTimeout); polling goes on. */
#define PROBE_TIMEOUT_SECS 10
/* One poll answers with at most this much; the rest waits for the next.
 * What the socket does not take lws holds outside the send queue's bound,
 * so the answer is kept small and must go out within ANSWER_TIMEOUT_SECS. */
#define POLL_PAYLOAD_MAX (64 * 1024)
#define ANSWER_TIMEOUT_SECS 20
/* A POST's body must come whole within this long (lws re-arms its own
 * timeout at every piece, so a trickle would hold a header table for
 * good). */
#define POST_DEADLINE_MS 10000

#define TYPE_PACKETS "text/plain; charset=UTF-8"
#define TYPE_JSON "application/json"

struct eio_poll {
	struct session s; /* s.poll points back here while it polls */
	char sid[ENGINEIO_SID_LEN + 1];
	struct eio_polls *polls;
	struct eio_poll_req *get;  /* the poll waiting for frames, or NULL */
	struct eio_poll_req *post; /* the POST being read, or NULL */
	struct lws *probe;	   /* the WebSocket probing, or NULL */
	bool probed;	   /* "2probe" came: polls are answered at once */
	bool probe_reply;  /* "3probe" is still to be written */
	bool upgraded;	   /* the probe took the session over */
	bool ending;	   /* the end is scheduled */
	bool ended;	   /* disconnected; bye waits for the last poll */
	char *bye;	   /* its last frames and the close packet */
	size_t bye_len;
	lws_sorted_usec_list_t timer; /* the end, then the bye's grace */
};

/* ---- the table ---- */

void
eio_polls_init(struct eio_polls *polls, struct lws_context *context)
{
	dict_init(&polls->by_sid, false);
	polls->context = context;
}

static struct eio_poll *
find(const struct eio_polls *polls, const char *sid)
{
	return sid && *sid ? dict_get(&polls->by_sid, sid) : NULL;
}

enum engineio_sid
eio_polls_lookup(const struct eio_polls *polls, const char *sid)
{
	struct eio_poll *p = find(polls, sid);

	return p && !p->ended ? ENGINEIO_SID_POLLING : ENGINEIO_SID_UNKNOWN;
}

static struct eio_poll *
poll_of(struct session *s)
{
	return lws_container_of(s, struct eio_poll, s);
}

struct session *
eio_poll_session(struct eio_poll *p)
{
	return &p->s;
}

bool
eio_poll_is_upgraded(const struct eio_poll *p)
{
	return p->upgraded;
}

/* Frees p, which no request and no session refers to any more. */
static void
poll_free(struct eio_poll *p)
{
	lws_sul_cancel(&p->timer);
	if (!p->upgraded)
		dict_del(&p->polls->by_sid, p->sid);
	free(p->bye);
	free(p);
}

/* ---- responses ---- */

/*
 * The answer to req, whole, at once: lws keeps what the socket does not
 * take and sends it first. req is done with first, since completing the
 * transaction frees it (lws binds the connection anew, which frees the
 * per-connection storage). Returns 0, or -1 to hang up.
 */
static int
respond(struct eio_poll_req *req, unsigned code, const char *type,
	const char *body, size_t len)
{
	struct lws *wsi = req->wsi;
	bool head = req->head;

	eio_poll_req_reset(req);
	/* A client that does not read its answer is dropped: lws replaces
	 * this with its keep-alive timeout once the answer is out. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, ANSWER_TIMEOUT_SECS);
	return http_respond(wsi, head, code, type, body, len);
}

static int
respond_error(struct eio_poll_req *req, enum engineio_error e)
{
	const char *body = engineio_error_json(e);

	return respond(req, e == ENGINEIO_FORBIDDEN ? 403 : 400, TYPE_JSON,
		       body, strlen(body));
}

/* ---- the session's end ---- */

/*
 * Pops the frames queued, up to max bytes of payload (one frame at least),
 * and joins them with Engine.IO's separator into one payload, followed by
 * the packet last when it is not NULL. Returns a buffer the caller frees,
 * or NULL with *len 0 when there is nothing to send, or out of memory (then
 * the queue is as it was).
 */
static char *
join_frames(struct msgq *q, size_t max, const char *last, size_t *len)
{
	size_t total = 0, n = 0;
	struct msg *m;
	char *buf, *at;

	*len = 0;
	for (; (m = msgq_peek_at(q, n)); n++) {
		if (n && total + m->len + 1 > max)
			break;
		total += m->len + (n ? 1 : 0);
	}
	if (last)
		total += strlen(last) + (n ? 1 : 0);
	if ((!n && !last) || !(buf = malloc(total)))
		return NULL;
	at = buf;
	for (size_t i = 0; i < n; i++) {
		m = msgq_pop(q);
		if (i)
			*at++ = ENGINEIO_SEPARATOR;
		memcpy(at, msg_payload(m), m->len);
		at += m->len;
		msg_unref(m);
	}
	if (last) {
		if (n)
			*at++ = ENGINEIO_SEPARATOR;
		memcpy(at, last, strlen(last));
	}
	*len = total;
	return buf;
}

/* Its last frames (a dialect's goodbye, staged with the close) and the
 * close packet, as one payload; without memory the poll gets the close
 * packet alone. */
static void
make_bye(struct eio_poll *p)
{
	p->bye = join_frames(&p->s.q, SIZE_MAX, "1", &p->bye_len);
}

static void
bye_expired(lws_sorted_usec_list_t *sul)
{
	poll_free(lws_container_of(sul, struct eio_poll, timer));
}

/* An ended session waits this long for its last poll, then goes. */
static void
expire_later(struct eio_poll *p)
{
	lws_sul_schedule(p->polls->context, 0, &p->timer, bye_expired,
			 (lws_usec_t)BYE_GRACE_SECS * LWS_US_PER_SEC);
}

/*
 * Runs from a timer, not from session_close: the chat is still using the
 * session when it asks for the close. The client learns of it from its
 * poll (the close packet), now or when it next polls.
 */
static void
end_now(lws_sorted_usec_list_t *sul)
{
	struct eio_poll *p = lws_container_of(sul, struct eio_poll, timer);

	make_bye(p);
	if (!p->s.end_code) {
		p->s.end_code = p->s.close_code;
		p->s.end_reason = p->s.close_reason;
	}
	chat_proto_session_end(&p->s);
	p->ended = true;
	if (p->post) {
		/* Its packets have nobody to go to: 400 when it ends. */
		p->post->p = NULL;
		p->post = NULL;
	}
	if (p->probe) {
		struct session *shell = lws_wsi_user(p->probe);

		shell->upgrade_of = NULL;
		lws_set_timeout(p->probe, PENDING_TIMEOUT_KILLED_BY_PARENT,
				LWS_TO_KILL_ASYNC);
		p->probe = NULL;
	}
	if (p->get)
		lws_callback_on_writable(p->get->wsi);
	else
		expire_later(p);
}

void
eio_poll_close(struct session *s)
{
	struct eio_poll *p = poll_of(s);

	if (p->ending)
		return;
	p->ending = true;
	lws_sul_schedule(p->polls->context, 0, &p->timer, end_now, 1);
}

struct poll_list {
	struct eio_poll **v;
	size_t n;
};

static void
collect(const char *sid, void *value, void *ud)
{
	struct poll_list *all = ud;

	(void)sid;
	all->v[all->n++] = value;
}

void
eio_polls_fini(struct eio_polls *polls)
{
	struct poll_list all = { 0 };

	/* lws has closed every connection by now (no request refers to a
	 * session), so each is ended and freed here and now. */
	all.v = calloc(polls->by_sid.count + 1, sizeof(*all.v));
	if (all.v) {
		dict_foreach(&polls->by_sid, collect, &all);
		for (size_t i = 0; i < all.n; i++) {
			struct eio_poll *p = all.v[i];

			if (!p->ended) {
				p->s.end_code = CHAT_CLOSE_GOING_AWAY;
				p->s.end_reason = "server shutting down";
				chat_proto_session_end(&p->s);
			}
			poll_free(p);
		}
		free(all.v);
	}
	dict_fini(&polls->by_sid);
}

/* ---- polls ---- */

void
eio_poll_wake(struct session *s)
{
	struct eio_poll *p = poll_of(s);

	if (p->get)
		lws_callback_on_writable(p->get->wsi);
}

/* Answers the poll req (done with it then); returns 1 when it is left
 * waiting. */
static int
answer_poll(struct eio_poll_req *req)
{
	struct eio_poll *p = req->p;
	size_t len;
	char *body;
	int rc;

	if (!p) /* the session moved to its WebSocket */
		return respond(req, 200, TYPE_PACKETS, "6", 1);
	if (p->ended) {
		/* Freed before the answer: completing the transaction can
		 * serve another connection's request at once, one more poll
		 * of this very sid among them. */
		char *bye = p->bye;
		size_t bye_len = p->bye_len;

		req->p = NULL;
		p->get = NULL;
		p->bye = NULL;
		poll_free(p);
		rc = respond(req, 200, TYPE_PACKETS, bye ? bye : "1",
			     bye ? bye_len : 1);
		free(bye);
		return rc;
	}
	if (p->ending)
		return 1; /* its end (end_now) answers it: frames and close */
	body = join_frames(&p->s.q, POLL_PAYLOAD_MAX, NULL, &len);
	if (!body && !p->probed)
		return 1; /* nothing to say yet */
	if (!body)
		return respond(req, 200, TYPE_PACKETS, "6", 1);
	p->s.chat->stats.sent_bytes += len;
	rc = respond(req, 200, TYPE_PACKETS, body, len);
	free(body);
	if (p->s.stalled)
		chat_resume(&p->s);
	return rc;
}

int
eio_poll_writeable(struct lws *wsi, struct eio_poll_req *req)
{
	(void)wsi;
	return answer_poll(req) < 0 ? -1 : 0;
}

/* A poll of p: answered now when there is something to say, else left
 * waiting, without its header table (a pool every request shares) and
 * without a timeout (the keepalive's ping answers it within an interval). */
static int
start_poll(struct lws *wsi, struct eio_poll_req *req, struct eio_poll *p)
{
	int rc;

	if (p->get) {
		/* The reference server's "overlap from client": an error
		 * that ends the session. */
		session_close(&p->s, CHAT_CLOSE_PROTOCOL_ERROR,
			      "engine.io: overlapping polls");
		return respond_error(req, ENGINEIO_BAD_REQUEST);
	}
	p->get = req;
	req->p = p;
	rc = answer_poll(req);
	if (rc != 1)
		return rc;
	lws_http_headers_detach(wsi);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	return 0;
}

/* ---- the handshake ---- */

static void
new_sid(const struct eio_polls *polls, char *sid)
{
	do
		engineio_sid(sid);
	while (find(polls, sid));
}

static int
handshake(struct lws *wsi, struct eio_poll_req *req, struct eio_polls *polls)
{
	struct chat_proto_refusal no;
	struct eio_poll *p;

	if (chat_proto_admit(wsi, &no))
		return respond(req, no.status, no.type, no.body,
			       strlen(no.body));
	p = calloc(1, sizeof(*p));
	if (!p)
		return respond(req, 503, "text/plain", "out of memory\n", 14);
	p->polls = polls;
	p->s.dialect = SESSION_SOCKETIO;
	p->s.poll = p;
	new_sid(polls, p->sid);
	if (dict_set(&polls->by_sid, p->sid, p)) {
		free(p);
		return respond(req, 503, "text/plain", "out of memory\n", 14);
	}
	if (chat_proto_session_begin(wsi, &p->s)) {
		dict_del(&polls->by_sid, p->sid);
		free(p);
		return respond(req, 503, "text/plain",
			       "cannot open a session now\n", 26);
	}
	socketio_open(&p->s, p->sid, true);
	return start_poll(wsi, req, p);
}

/* ---- POSTs ---- */

static int
start_post(struct lws *wsi, struct eio_poll_req *req, struct eio_poll *p)
{
	char cl[24];

	(void)wsi;
	if (p->post) {
		/* "data request overlap from client" */
		session_close(&p->s, CHAT_CLOSE_PROTOCOL_ERROR,
			      "engine.io: overlapping posts");
		return respond_error(req, ENGINEIO_BAD_REQUEST);
	}
	/* Announced over maxPayload: answered now, not read (the reference
	 * server's 413); the session ends as for a body found too big. */
	if (lws_hdr_copy(req->wsi, cl, sizeof(cl),
			 WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(cl, NULL, 10) > p->s.chat->cfg->max_message_bytes) {
		session_close(&p->s, CHAT_CLOSE_TOO_BIG, "message too big");
		return respond(req, 413, "text/plain", "payload too large\n",
			       18);
	}
	p->post = req;
	req->p = p;
	req->post = true;
	req->started_ms = chat_now_ms();
	return 0; /* the body follows */
}

int
eio_poll_body(struct lws *wsi, struct eio_poll_req *req, const void *in,
	      size_t len)
{
	size_t max;
	int rc;

	(void)wsi;
	if (!req->post || !req->p || req->too_big || !len)
		return 0; /* read on to the end, then answered */
	if (chat_now_ms() - req->started_ms > POST_DEADLINE_MS)
		return -1; /* a trickle: hang up */
	max = req->p->s.chat->cfg->max_message_bytes;
	rc = growbuf_append(&req->body, &req->len, &req->cap, in, len, max);
	if (rc == -EMSGSIZE)
		req->too_big = true;
	return rc == -ENOMEM ? -1 : 0;
}

int
eio_poll_body_done(struct lws *wsi, struct eio_poll_req *req)
{
	struct eio_poll *p = req->p;
	const char *pkt;
	size_t at = 0, n;

	if (!req->post) /* a poll with a body: answered (400) already */
		return 0;
	if (!p)
		return respond_error(req, req->noop ? ENGINEIO_BAD_REQUEST
						    : ENGINEIO_UNKNOWN_SID);
	if (req->too_big) {
		/* Over maxPayload: the reference server's 413; what the
		 * client sent is lost, so its session ends with it. */
		session_close(&p->s, CHAT_CLOSE_TOO_BIG, "message too big");
		return respond(req, 413, "text/plain", "payload too large\n",
			       18);
	}
	if (!req->len)
		session_close(&p->s, CHAT_CLOSE_PROTOCOL_ERROR,
			      "engine.io: empty payload");
	while (!p->s.closing &&
	       engineio_next_packet(req->body, req->len, &at, &pkt, &n))
		socketio_receive(&p->s, pkt, n);
	return respond(req, 200, "text/html", "ok", 2);
}

/* ---- the endpoint ---- */

int
eio_poll_http(struct lws *wsi, struct eio_poll_req *req)
{
	struct eio_polls *polls = chat_proto_polls(wsi);
	struct upgrade_engineio_query q;
	struct engineio_request r;
	struct eio_poll *p;
	enum engineio_error e;
	bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
	bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	char cl[24];

	eio_poll_req_reset(req);
	req->active = true;
	req->wsi = wsi;
	req->head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
	/* A poll has no body: lws would read one all the same, and a body
	 * is a POST's. */
	if (get && lws_hdr_copy(wsi, cl, sizeof(cl),
				WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(cl, NULL, 10) > 0)
		return respond_error(req, ENGINEIO_BAD_REQUEST);
	if (!polls)
		return respond_error(req, ENGINEIO_BAD_REQUEST);
	upgrade_engineio_query(wsi, &q);
	p = find(polls, q.sid);
	if (p && p->ended && get && !strcmp(q.transport, "polling")) {
		/* Its last poll: the last frames and the close packet. */
		if (p->get)
			return respond_error(req, ENGINEIO_BAD_REQUEST);
		p->get = req;
		req->p = p;
		return answer_poll(req) < 0 ? -1 : 0;
	}
	r = upgrade_engineio_request(&q, get, false,
				     eio_polls_lookup(polls, q.sid));
	e = engineio_check(&r);
	/* Polls and POSTs only: the reference server's other methods
	 * (OPTIONS for CORS) are for other origins. */
	if (e == ENGINEIO_OK && p && !get && !post)
		e = ENGINEIO_BAD_REQUEST;
	if (e != ENGINEIO_OK)
		return respond_error(req, e);
	/* lws 4.1.6 reads no chunked request bodies; browsers and
	 * engine.io-client send a length. */
	if (post && !lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH))
		return respond(req, 411, "text/plain", "length required\n",
			       16);
	if (!p)
		return handshake(wsi, req, polls);
	/* Not chat_seen here: a request is no answer to a ping, its packets
	 * are (socketio_receive), or a client that polls and never pongs
	 * would be kept for good. */
	return get ? start_poll(wsi, req, p) : start_post(wsi, req, p);
}

void
eio_poll_req_reset(struct eio_poll_req *req)
{
	struct eio_poll *p = req->p;

	/* An ended session's last poll gone unanswered (its connection
	 * closed): the next one has the grace to come. */
	if (p && p->get == req && p->ended)
		expire_later(p);
	if (p && p->get == req)
		p->get = NULL;
	if (p && p->post == req)
		p->post = NULL;
	free(req->body);
	*req = (struct eio_poll_req){ 0 };
}

/* ---- the upgrade ---- */

int
eio_poll_probe_begin(struct eio_polls *polls, struct lws *wsi,
		     struct session *shell, const char *sid)
{
	struct eio_poll *p = find(polls, sid);

	if (!p || p->ended || p->ending || p->probe)
		return -1;
	p->probe = wsi;
	shell->upgrade_of = p;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, PROBE_TIMEOUT_SECS);
	return 0;
}

/* The client's "5": from now on the session is the WebSocket's. A poll
 * still waiting is sent a noop to end it. */
static void
upgrade(struct lws *wsi, struct eio_poll *p)
{
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	dict_del(&p->polls->by_sid, p->sid);
	p->upgraded = true;
	p->probe = NULL;
	if (p->get) {
		p->get->p = NULL;
		p->get->noop = true;
		lws_callback_on_writable(p->get->wsi);
		p->get = NULL;
	}
	if (p->post) {
		p->post->p = NULL;
		p->post->noop = true;
		p->post = NULL;
	}
	p->s.poll = NULL;
	p->s.conn = wsi;
	log_debug("session %llu: socket.io upgraded to WebSocket",
		  (unsigned long long)p->s.id);
	if (!msgq_is_empty(&p->s.q))
		lws_callback_on_writable(wsi);
}

int
eio_poll_probe_receive(struct lws *wsi, struct session *shell,
		       const char *in, size_t len)
{
	struct eio_poll *p = shell->upgrade_of;

	/* A session on its way out is not moved (its end is scheduled). */
	if (p->ending)
		return -1;
	if (!lws_is_first_fragment(wsi) || !lws_is_final_fragment(wsi) ||
	    lws_frame_is_binary(wsi))
		return -1;
	if (len == 6 && !memcmp(in, "2probe", 6) && !p->probed) {
		/* "3probe" goes from WRITEABLE; a waiting poll is answered
		 * (noop) so that the client can pause polling. */
		p->probed = true;
		p->probe_reply = true;
		lws_callback_on_writable(wsi);
		if (p->get)
			lws_callback_on_writable(p->get->wsi);
		return 0;
	}
	if (len == 1 && in[0] == '5' && p->probed) {
		upgrade(wsi, p);
		return 0;
	}
	return -1; /* anything else: the probe failed; polling goes on */
}

int
eio_poll_probe_writeable(struct lws *wsi, struct session *shell)
{
	unsigned char buf[LWS_PRE + 6];

	if (!shell->upgrade_of || !shell->upgrade_of->probe_reply)
		return 0;
	shell->upgrade_of->probe_reply = false;
	memcpy(&buf[LWS_PRE], "3probe", 6);
	return lws_write(wsi, &buf[LWS_PRE], 6, LWS_WRITE_TEXT) < 6 ? -1 : 0;
}

void
eio_poll_probe_closed(struct session *shell)
{
	struct eio_poll *p = shell->upgrade_of;

	shell->upgrade_of = NULL;
	if (!p)
		return;
	if (p->upgraded) {
		free(p->bye);
		free(p);
		return;
	}
	p->probe = NULL;
	p->probed = false;
}
