/*
 * admission: whether a connection may become a chat session (origin,
 * connection limits, token), the refusals' HTTP answers, and a session's
 * start and end as the protocol sees them: counted, logged, handed to the
 * chat. The WebSocket handshake and socket.io's polling handshake
 * (eio_poll.c) share it.
 */
#include "chat_proto.h"
#include "chat_proto_vhd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "engineio.h"
#include "jwt.h"
#include "log.h"
#include "upgrade.h"

/* The address wsi's session is counted under. */
static void
peer_addr(struct lws *wsi, char *out, size_t outlen)
{
	char peer[CONN_LIMITS_ADDR_MAX] = "";

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	conn_limits_addr_key(peer, out, outlen);
}

/* "socket.io " in the log lines of socket.io sessions, and the JSON
 * lines' "dialect" field (only for them: v1 lines stay as they were). */
static const char *
dialect_word(const struct session *s)
{
	return s->dialect == SESSION_SOCKETIO ? "socket.io " : "";
}

/* The address a session is counted under; "" before it is. */
static const char *
peer_of(const struct session *s)
{
	return s->addr ? s->addr : "";
}

static void
log_connect(const struct session *s)
{
	const struct log_field f[] = { LOG_NUM("session", s->id),
				       LOG_STR("peer", peer_of(s)),
				       LOG_STR("nick", s->nick),
				       LOG_STR("dialect", "socket.io") };
	size_t nf = LOG_NFIELDS(f) - (s->dialect != SESSION_SOCKETIO);

	log_event(LOG_LEVEL_INFO, "connect", f, nf,
		  "session %llu: %sconnected from %s as %s",
		  (unsigned long long)s->id, dialect_word(s), peer_of(s),
		  s->nick);
}

/* A connection dropped without a close frame ends with 1006, as a client
 * would see it. */
static void
log_disconnect(const struct session *s)
{
	int64_t ms = chat_now_ms() - s->connected_ms;
	unsigned code = s->end_code ? s->end_code : 1006;
	const char *reason = s->end_code && s->end_reason ? s->end_reason
				: s->end_code ? "" : "connection lost";
	const struct log_field f[] = { LOG_NUM("session", s->id),
				       LOG_STR("peer", peer_of(s)),
				       LOG_STR("nick", s->nick),
				       LOG_NUM("duration_ms", ms),
				       LOG_NUM("code", code),
				       LOG_STR("reason", reason),
				       LOG_STR("dialect", "socket.io") };
	size_t nf = LOG_NFIELDS(f) - (s->dialect != SESSION_SOCKETIO);

	log_event(LOG_LEVEL_INFO, "disconnect", f, nf,
		  "session %llu: %sdisconnected from %s (%s) after "
		  "%lld.%03lld s, close %u%s%s",
		  (unsigned long long)s->id, dialect_word(s), peer_of(s), s->nick,
		  (long long)(ms / 1000), (long long)(ms % 1000), code,
		  *reason ? ": " : "", reason);
}

/*
 * With --jwt-secret-file, a new session needs a valid token (else 401),
 * whose nick is not someone else's (409: a sub that differs from the
 * holder's in letter case only). The reason goes in the body and the log,
 * never the token.
 */
static int
refuse_token(struct lws *wsi, struct chat_vhd *vhd, const char *addr,
	     struct chat_proto_refusal *no)
{
	struct jwt_claims *claims;
	bool free_nick;
	int rc;

	if (!vhd->auth)
		return 0;
	rc = auth_check(vhd->auth, wsi, time(NULL), &claims);
	if (rc) {
		vhd->chat.stats.refused[CHAT_STATS_REFUSED_TOKEN]++;
		log_info("%s: handshake refused (401): %s", addr,
			 auth_strerror(rc));
		no->status = 401;
		snprintf(no->body, sizeof(no->body), "%s\n",
			 auth_strerror(rc));
		return 1;
	}
	free_nick = chat_token_nick_is_free(&vhd->chat, claims->sub);
	jwt_claims_free(claims);
	if (free_nick)
		return 0;
	vhd->chat.stats.refused[CHAT_STATS_REFUSED_NICK]++;
	log_info("%s: handshake refused (409): the token's nick is another "
		 "user's",
		 addr);
	no->status = 409;
	snprintf(no->body, sizeof(no->body), "that nick is another user's\n");
	return 1;
}

int
chat_proto_admit(struct lws *wsi, struct chat_proto_refusal *no)
{
	struct chat_vhd *vhd = chat_proto_vhd(wsi);
	char addr[CONN_LIMITS_ADDR_MAX], origin[256];

	no->type = "text/plain";
	if (!vhd) {
		no->status = 503;
		snprintf(no->body, sizeof(no->body), "no chat here\n");
		return 1;
	}
	peer_addr(wsi, addr, sizeof(addr));
	if (!upgrade_origin_allowed(wsi, vhd->chat.cfg->allowed_origins, origin,
				    sizeof(origin))) {
		vhd->chat.stats.refused[CHAT_STATS_REFUSED_ORIGIN]++;
		log_info("%s: handshake from origin '%s' refused (403)", addr,
			 origin);
		no->status = 403;
		snprintf(no->body, sizeof(no->body),
			 "this origin may not connect\n");
		return 1;
	}
	if (conn_limits_admit(&vhd->limits, addr))
		return refuse_token(wsi, vhd, addr, no);
	vhd->chat.stats.refused[CHAT_STATS_REFUSED_BUSY]++;
	log_debug("%s: over the connection limits, 503", addr);
	no->status = 503;
	snprintf(no->body, sizeof(no->body),
		 "too many connections, try again later\n");
	return 1;
}

/* The reason phrase and the headers that go with a refusal's status. */
static int
refuse_upgrade(struct lws *wsi, const struct chat_proto_refusal *no)
{
	switch (no->status) {
	case 401:
		return upgrade_refuse(wsi, 401, "Unauthorized",
				      "www-authenticate: Bearer "
				      "realm=\"chat\"\r\n",
				      no->body);
	case 403:
		return upgrade_refuse(wsi, 403, "Forbidden", "", no->body);
	case 409:
		return upgrade_refuse(wsi, 409, "Conflict", "", no->body);
	default:
		return upgrade_refuse(wsi, 503, "Service Unavailable",
				      "retry-after: 5\r\n", no->body);
	}
}

int
chat_proto_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
	struct chat_vhd *vhd = chat_proto_vhd(wsi);
	enum chat_stats_refusal why = CHAT_STATS_REFUSED_BAD_REQUEST;
	struct upgrade_engineio_query q;
	struct chat_proto_refusal no;
	int rc = upgrade_confirm(wsi, upgrade, vhd && vhd->chat.cfg->socketio,
				 &why);

	if (rc && vhd)
		vhd->chat.stats.refused[why]++;
	/* Other upgrades are lws's to answer (upgrade_confirm refused h2c). */
	if (rc || !vhd || !upgrade || strcasecmp(upgrade, "websocket"))
		return rc;
	/* An upgrade from polling joins a session admitted already: its
	 * sid, 120 random bits, stands for the rest. */
	if (upgrade_endpoint(wsi, vhd->chat.cfg->socketio) ==
	    UPGRADE_SOCKETIO) {
		upgrade_engineio_query(wsi, &q);
		if (q.has_sid) {
			if (eio_polls_lookup(&vhd->polls, q.sid) ==
			    ENGINEIO_SID_POLLING)
				return 0;
			vhd->chat.stats.refused[why]++;
			return upgrade_refuse_as(
				wsi, 400, "Bad Request", "", "application/json",
				engineio_error_json(ENGINEIO_UNKNOWN_SID));
		}
	}
	if (!chat_proto_admit(wsi, &no))
		return 0;
	return refuse_upgrade(wsi, &no);
}

int
chat_proto_session_begin(struct lws *wsi, struct session *s)
{
	struct chat_vhd *vhd = chat_proto_vhd(wsi);
	char addr[CONN_LIMITS_ADDR_MAX];
	const char *counted;
	struct jwt_claims *claims = NULL;
	int rc;

	if (!vhd)
		return -1;
	peer_addr(wsi, addr, sizeof(addr));
	/* The token was checked at CONFIRM_UPGRADE, but what it says cannot
	 * be kept until now: lws frees that callback's pss when it binds
	 * the chat protocol. lws 4.1.6 detaches the header table only after
	 * ESTABLISHED (lws_process_ws_upgrade2), in the same call, so the
	 * same token is read and checked again; and a way to ESTABLISHED
	 * that skipped CONFIRM_UPGRADE would still meet it. */
	if (vhd->auth) {
		rc = auth_check(vhd->auth, wsi, time(NULL), &claims);
		if (rc) {
			log_info("%s: session refused: %s", addr,
				 auth_strerror(rc));
			return -1;
		}
	}
	counted = conn_limits_add(&vhd->limits, addr);
	if (!counted) {
		jwt_claims_free(claims);
		return -1;
	}
	if (chat_connect(&vhd->chat, s, s->poll ? NULL : wsi, claims)) {
		conn_limits_remove(&vhd->limits, addr);
		jwt_claims_free(claims);
		return -1;
	}
	s->addr = counted;
	/* As the classic socket.io chat says "a user connected". */
	s->connected_ms = chat_now_ms();
	log_connect(s);
	return 0;
}

void
chat_proto_session_end(struct session *s)
{
	struct chat_vhd *vhd = s->chat ? chat_proto_vhd_of(s) : NULL;

	if (s->chat) {
		log_disconnect(s);
		chat_stats_count_close(&s->chat->stats,
				       s->end_code ? s->end_code : 1006);
	}
	/* After the log line: the last session from an address takes the
	 * table's copy of it along. */
	if (vhd && s->addr)
		conn_limits_remove(&vhd->limits, s->addr);
	s->addr = NULL;
	chat_disconnect(s);
	/* Last: chat_disconnect flushes the chat, which may wake s again. */
	if (vhd)
		batch_forget(&vhd->batch, s);
}

