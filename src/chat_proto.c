/*
 * lws glue for the "chat" protocol: per-vhost chat state in the vhd, a
 * struct session as the per-session storage, lws's reasons handed to the
 * loop turn's batch (batch.c: reads, one flush, writes) and to the chat,
 * and reassembly of fragmented messages. Both endpoints come here: /chat
 * (protocol v1, chat.c) and /socket.io/ (socketio.c), told apart by path;
 * socket.io's HTTP long-polling sessions (eio_poll.c) come through the
 * transport hooks, and their upgrades through the WebSocket ones.
 */
#include "chat_proto.h"
#include "chat_proto_vhd.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "batch.h"
#include "chat.h"
#include "cluster.h"
#include "conn_limits.h"
#include "eio_poll.h"
#include "keepalive.h"
#include "log.h"
#include "session.h"
#include "socketio.h"
#include "upgrade.h"
#include "ws_rules.h"

/* How long a staged close may wait on a client that does not read: its
 * queue is already over the bound, so this only gives the close frame a
 * chance; others never wait for it. */
#define CLOSE_GRACE_SECS 2

/* A polled session's frames wait for its next poll (eio_poll.c). */
static void
wake(struct session *s)
{
	if (s->poll)
		eio_poll_wake(s);
	else
		batch_wake(&chat_proto_vhd_of(s)->batch, s);
}

static void
close_later(struct session *s)
{
	if (s->poll) {
		eio_poll_close(s);
		return;
	}
	/* The close frame is written from WRITEABLE, after whatever lws
	 * already holds for this connection; a client that never reads is
	 * dropped when the grace runs out. */
	lws_callback_on_writable(s->conn);
	lws_set_timeout(s->conn, PENDING_TIMEOUT_LAGGING, CLOSE_GRACE_SECS);
}

static void
schedule_flush(struct chat *c)
{
	batch_want_flush(&lws_container_of(c, struct chat_vhd, chat)->batch);
}

void
chat_proto_end_of_turn(struct lws_vhost *vh, const struct lws_protocols *proto)
{
	struct chat_vhd *vhd = lws_protocol_vh_priv_get(vh, proto);

	if (vhd)
		batch_end_of_turn(&vhd->batch);
}

/*
 * Keepalive is one timer for the whole vhost, not lws's per-connection
 * validity timers: lws 4.1 keeps those in a sorted list, so each new
 * connection paid a walk over all the others (quadratic at 10,000).
 */
static void
tick_due(lws_sorted_usec_list_t *sul)
{
	struct chat_vhd *vhd =
		lws_container_of(sul, struct chat_vhd, tick_timer);

	keepalive_tick(&vhd->chat, chat_now_ms());
	lws_sul_schedule(vhd->context, 0, &vhd->tick_timer, tick_due,
			 (lws_usec_t)keepalive_interval(vhd->chat.cfg) *
				 LWS_US_PER_SEC);
}

static void
pause_reading(struct session *s, bool paused)
{
	/* lws keeps what it already read and hands it over once resumed.
	 * A polled session's requests are messages, which never wait. */
	if (!s->poll)
		lws_rx_flow_control(s->conn, !paused);
}

static const struct chat_transport transport = {
	.wake = wake,
	.close = close_later,
	.schedule_flush = schedule_flush,
	.pause = pause_reading,
};

/*
 * Hands the close to lws: it sends the close frame (after anything it still
 * holds) and waits for the peer's. Returns -1, for the callback to return.
 * From here on nothing else may be written: a frame after the close frame
 * would break the handshake, so the queue is dropped for good.
 */
static int
close_with(struct lws *wsi, struct session *s, uint16_t code,
	   const char *reason)
{
	s->closing = true;
	s->close_started = true;
	if (!s->end_code) {
		s->end_code = code;
		s->end_reason = reason;
	}
	msgq_fini(&s->q);
	lws_close_reason(wsi, (enum lws_close_status)code,
			 (unsigned char *)reason, strlen(reason));
	return -1;
}

/*
 * From now on lws alone writes to this connection (its close frame or the
 * echo of the peer's), and nothing the peer sends is delivered: RFC 6455
 * allows no data frame after a close frame, in either direction.
 */
static void
stop_sending(struct session *s)
{
	s->closing = true;
	s->close_started = true;
	msgq_fini(&s->q);
}

/* The peer sent its close frame; lws echoes it unless this fails it. */
static int
on_peer_close(struct lws *wsi, struct session *s, const unsigned char *p,
	      size_t len)
{
	uint16_t code = ws_rules_check_close(p, len);

	stop_sending(s);
	if (!s->end_code) {
		s->end_code = code ? code
			  : len >= 2 ? (uint16_t)(p[0] << 8 | p[1])
				     : 1005; /* a close without a code */
		s->end_reason = code ? "invalid close frame"
				     : "closed by the client";
	}
	if (!code)
		return 0;
	/* lws sends this reason instead of the echo once we return -1. */
	lws_close_reason(wsi, (enum lws_close_status)code,
			 (unsigned char *)"invalid close frame", 19);
	return -1;
}

/* Not EOF and not reset: the peer could still read a close frame. */
static bool
peer_is_there(struct lws *wsi)
{
	char c;
	ssize_t n = recv(lws_get_socket_fd(wsi), &c, 1,
			 MSG_PEEK | MSG_DONTWAIT);

	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/*
 * lws is closing the connection on its own: a protocol error it found (bad
 * opcode, RSV bits, a fragmented or oversized control frame), a timeout, or
 * the peer gone. lws 4.1.6 still calls SERVER_WRITEABLE after its close
 * frame (ops-ws.c, "Priority 4"), so the queue goes now. For a control
 * frame with an extended length it sends no close frame at all; a peer
 * still connected gets 1002 then (lws keeps a reason it already set: the
 * code is the same, only the text is ours).
 */
static void
on_lws_close(struct lws *wsi, struct session *s)
{
	bool staged = s->closing;

	if (s->close_started)
		return; /* our close or the peer's, already handled */
	stop_sending(s);
	if (!peer_is_there(wsi)) {
		if (!s->end_code) {
			s->end_code = 1006; /* gone without a close frame */
			s->end_reason = "connection lost";
		}
		return;
	}
	if (!s->end_code) {
		s->end_code = staged ? s->close_code
				     : LWS_CLOSE_STATUS_PROTOCOL_ERR;
		s->end_reason = staged ? s->close_reason : "protocol error";
	}
	if (staged)
		lws_close_reason(wsi, (enum lws_close_status)s->close_code,
				 (unsigned char *)s->close_reason,
				 strlen(s->close_reason));
	else
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR,
				 (unsigned char *)"protocol error", 14);
}

/* Only the chat's endpoints upgrade: /chat, and /socket.io/ when on. */
static bool
is_endpoint(struct lws *wsi, const struct chat_vhd *vhd)
{
	return vhd && upgrade_endpoint(wsi, vhd->chat.cfg->socketio) !=
			      UPGRADE_NONE;
}

static int
on_writeable(struct lws *wsi, struct chat_vhd *vhd, struct session *s)
{
	if (s->close_started)
		return 0; /* lws owns the connection's last writes */
	if (!s->closing)
		return batch_write_queued(&vhd->batch, wsi, s);
	/* A last frame staged with the close (session_close_after) goes
	 * out first, then the close from the next callback. */
	if (!msgq_is_empty(&s->q)) {
		lws_callback_on_writable(wsi);
		return batch_write_queued(&vhd->batch, wsi, s);
	}
	return close_with(wsi, s, s->close_code, s->close_reason);
}

/*
 * A message over --max-message-bytes closes 1009. lws 4.1.6 hands a
 * frame's payload over in pieces of the rx buffer and, once the close is
 * sent, does not read the peer's close reply behind the rest of that
 * frame: the connection would hang on until lws's own timeout. A frame
 * whose end is near (TOO_BIG_DROP_MAX) is therefore read to its end and
 * dropped first; one that announces more is closed at once, as a peer
 * sending megabytes past the limit does not get to wait for an orderly
 * close.
 */
#define TOO_BIG_DROP_MAX (64 * 1024)

static int
too_big(struct lws *wsi, struct session *s)
{
	size_t left = lws_remaining_packet_payload(wsi);

	session_rx_reset(s);
	if (left && left <= TOO_BIG_DROP_MAX) {
		s->dropping = true;
		return 0;
	}
	return close_with(wsi, s, CHAT_CLOSE_TOO_BIG, "message too big");
}

static int
drop_rest(struct lws *wsi, struct session *s)
{
	if (lws_remaining_packet_payload(wsi))
		return 0;
	return close_with(wsi, s, CHAT_CLOSE_TOO_BIG, "message too big");
}

/* One whole inbound message, in the session's dialect. Returns 0 or a
 * close code (invalid UTF-8); a dialect may also stage a close itself. */
static int
dispatch(struct session *s, const char *buf, size_t len)
{
	if (s->dialect == SESSION_SOCKETIO) {
		socketio_receive(s, buf, len);
		return 0;
	}
	return chat_receive(s, buf, len);
}

static int
on_receive(struct lws *wsi, struct session *s, const char *in, size_t len)
{
	size_t max = s->chat->cfg->max_message_bytes;
	int code, rc;

	if (s->closing)
		return 0;
	s->read_something = true;
	if (s->dropping)
		return drop_rest(wsi, s);
	/* Read on to the end before the next flush. */
	batch_note_input(&chat_proto_vhd_of(s)->batch, s);
	if (lws_frame_is_binary(wsi))
		return close_with(wsi, s, CHAT_CLOSE_UNSUPPORTED,
				  "binary frames are not supported");

	if (!s->rx_len && lws_is_final_fragment(wsi)) {
		/* The common case: a whole message in one piece, no copy. */
		if (len > max)
			return too_big(wsi, s);
		code = dispatch(s, in, len);
	} else {
		rc = session_rx_append(s, in, len, max);
		if (rc == -EMSGSIZE)
			return too_big(wsi, s);
		if (rc)
			return close_with(wsi, s, CHAT_CLOSE_GOING_AWAY,
					  "out of memory");
		if (!lws_is_final_fragment(wsi))
			return 0;
		code = dispatch(s, s->rx, s->rx_len);
		session_rx_reset(s);
	}
	if (code)
		return close_with(wsi, s, (uint16_t)code, "invalid UTF-8");
	return 0;
}

struct chat_vhd *
chat_proto_vhd(struct lws *wsi)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	const struct lws_protocols *p =
		vh ? lws_vhost_name_to_protocol(vh, CHAT_PROTOCOL_NAME) : NULL;

	return p ? lws_protocol_vh_priv_get(vh, p) : NULL;
}

struct eio_polls *
chat_proto_polls(struct lws *wsi)
{
	struct chat_vhd *vhd = chat_proto_vhd(wsi);

	return vhd ? &vhd->polls : NULL;
}

static int
on_established(struct lws *wsi, struct chat_vhd *vhd, struct session *s)
{
	struct upgrade_engineio_query q;
	char sid[ENGINEIO_SID_LEN + 1];

	if (!vhd)
		return -1;
	/* The header table is still there (see chat_proto_session_begin):
	 * the path tells the dialect. */
	if (upgrade_endpoint(wsi, vhd->chat.cfg->socketio) !=
	    UPGRADE_SOCKETIO)
		return chat_proto_session_begin(wsi, s);
	/* With a sid, a polling session's upgrade: this connection probes
	 * it, and holds no session of its own. */
	upgrade_engineio_query(wsi, &q);
	if (q.has_sid)
		return eio_poll_probe_begin(&vhd->polls, wsi, s, q.sid);
	s->dialect = SESSION_SOCKETIO;
	if (chat_proto_session_begin(wsi, s))
		return -1;
	engineio_sid(sid);
	socketio_open(s, sid, false);
	return 0;
}

/* A WebSocket probing a polling session, before it takes it over. */
static int
probe_callback(struct lws *wsi, enum lws_callback_reasons reason,
	       struct session *shell, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RECEIVE:
		return eio_poll_probe_receive(wsi, shell, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return eio_poll_probe_writeable(wsi, shell);
	case LWS_CALLBACK_CLOSED:
		eio_poll_probe_closed(shell);
		return 0;
	default:
		return 0;
	}
}

int
chat_proto_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct chat_vhd *vhd =
		vh ? lws_protocol_vh_priv_get(vh, lws_get_protocol(wsi)) : NULL;
	struct session *s = user;
	const struct lws_protocol_vhost_options *pvo;
	const struct chat_env *env;

	if (s && s->upgrade_of) {
		struct session *shell = s;

		if (!eio_poll_is_upgraded(s->upgrade_of))
			return probe_callback(wsi, reason, s, in, len);
		/* Taken over: the polling session is this connection's. */
		s = eio_poll_session(s->upgrade_of);
		if (reason == LWS_CALLBACK_CLOSED) {
			chat_proto_session_end(s);
			eio_poll_probe_closed(shell);
			return 0;
		}
	}

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		pvo = lws_pvo_search(in, "env");
		if (!pvo || !pvo->value) {
			log_err("chat protocol: no env pvo");
			return -1;
		}
		env = (const struct chat_env *)pvo->value;
		vhd = lws_protocol_vh_priv_zalloc(vh, lws_get_protocol(wsi),
						  sizeof(*vhd));
		if (!vhd)
			return -1;
		vhd->context = lws_get_context(wsi);
		batch_init(&vhd->batch, vhd->context, &vhd->chat);
		eio_polls_init(&vhd->polls, vhd->context);
		if (env->auth && env->auth->enabled) {
			vhd->auth = env->auth;
			auth_log_warnings(vhd->auth);
		}
		chat_init(&vhd->chat, env->cfg, &transport, env->history);
		if (env->cfg->socketio)
			vhd->chat.dialects[SESSION_SOCKETIO] = &socketio_dialect;
		if (env->cluster) {
			vhd->chat.cluster = env->cluster;
			cluster_attach(env->cluster, &vhd->chat);
		}
		conn_limits_init(&vhd->limits, env->cfg->max_connections,
				 env->cfg->max_connections_per_ip);
		if (keepalive_interval(env->cfg))
			lws_sul_schedule(vhd->context, 0, &vhd->tick_timer,
					 tick_due,
					 (lws_usec_t)keepalive_interval(env->cfg) *
						 LWS_US_PER_SEC);
		break;

	case LWS_CALLBACK_PROTOCOL_DESTROY:
		if (vhd) {
			lws_sul_cancel(&vhd->tick_timer);
			eio_polls_fini(&vhd->polls);
			batch_fini(&vhd->batch);
			if (vhd->chat.cluster)
				cluster_attach(vhd->chat.cluster, NULL);
			chat_fini(&vhd->chat);
			conn_limits_fini(&vhd->limits);
		}
		break;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* chat is the vhost's default protocol, so a connection's
		 * first request comes here before any mount binds it. */
		return chat_proto_confirm_upgrade(wsi, in);

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return is_endpoint(wsi, vhd) ? 0 : 1;

	case LWS_CALLBACK_ESTABLISHED:
		return on_established(wsi, vhd, s);

	case LWS_CALLBACK_CLOSED:
		chat_proto_session_end(s);
		break;

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s->chat)
			return 0;
		return on_writeable(wsi, vhd, s);

	case LWS_CALLBACK_RECEIVE:
		if (!s->chat)
			return -1;
		return on_receive(wsi, s, in, len);

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (!s->chat)
			return 0;
		return on_peer_close(wsi, s, in, len);

	case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
		if (s && s->chat)
			on_lws_close(wsi, s);
		break;

	case LWS_CALLBACK_RECEIVE_PONG:
		if (s->chat)
			chat_seen(s);
		break;

	default:
		break;
	}
	return 0;
}

struct chat *
chat_proto_chat(struct lws_vhost *vh, const struct lws_protocols *proto)
{
	struct chat_vhd *vhd = lws_protocol_vh_priv_get(vh, proto);

	return vhd ? &vhd->chat : NULL;
}
