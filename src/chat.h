/*
 * chat: the service's state for one vhost (sessions, nicks, rooms, history)
 * and the handling of protocol v1 requests. It knows nothing of lws: the
 * transport hands it sessions and frames and gives it two callbacks.
 * Service thread only.
 */
#ifndef CHAT_CHAT_H
#define CHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_stats.h"
#include "config.h"
#include "dict.h"
#include "replay.h"
#include "json.h"
#include "name.h"
#include "session.h"

struct chat;
struct cluster;
struct history;
struct jwt_claims;
struct msg;

#define CHAT_LOBBY "lobby"
#define CHAT_SINCE_LIMIT 1000
#define CHAT_PAGE_DEFAULT 50
#define CHAT_PAGE_MAX 100
/*
 * Rooms with more members are "large": `joined` lists no members (its count
 * says how many) and join/leave presence is not broadcast. Otherwise every
 * join would cost a frame per member and a member list the size of the room,
 * quadratic work as a room grows.
 */
#define CHAT_ROOM_LIST_MAX 500

/* A session's typing notices reach a room at most this often. */
#define CHAT_TYPING_INTERVAL_MS 2000

/* WebSocket close codes chatd sends (RFC 6455 section 7.4.1). */
enum chat_close {
	CHAT_CLOSE_NORMAL = 1000,
	CHAT_CLOSE_GOING_AWAY = 1001,
	CHAT_CLOSE_PROTOCOL_ERROR = 1002,
	CHAT_CLOSE_UNSUPPORTED = 1003,
	CHAT_CLOSE_BAD_PAYLOAD = 1007,
	CHAT_CLOSE_POLICY = 1008,
	CHAT_CLOSE_TOO_BIG = 1009,
};

struct chat_transport {
	/* Ask for a writable callback: the session's queue has frames. */
	void (*wake)(struct session *s);
	/* Send a close frame with s->close_code and s->close_reason, then
	 * drop the connection, without waiting long for a stuck reader. */
	void (*close)(struct session *s);
	/* Call chat_flush() soon: after the current loop turn's input. */
	void (*schedule_flush)(struct chat *c);
	/* Stop (true) or restart reading the session's requests: while its
	 * requests wait for queue space (chat_resume). */
	void (*pause)(struct session *s, bool paused);
};

/*
 * A wire dialect besides protocol v1 (socket.io), as chat.c sees it: what
 * its sessions get of a chat that otherwise speaks v1 to them. They are
 * never sent a v1 frame (session_send skips them); chat.c asks the dialect
 * instead. The transport fills chat->dialects.
 */
struct chat_dialect {
	/*
	 * The frame of this dialect for chat message m (a v1 message
	 * frame), or NULL when out of memory. Asked at most once per message
	 * delivered to a room, and only when a member of that room speaks
	 * the dialect; its one frame is then queued for each of them.
	 */
	struct msg *(*message)(struct msg *m);
	/* A request of s failed, with code (docs/protocol.md) and text. */
	void (*error)(struct session *s, const char *code, const char *text);
	/*
	 * The ping keepalive sends this dialect's sessions every interval,
	 * whatever else they get (Engine.IO clients count on the server's
	 * pings); any frame from the session answers it, and one that has
	 * answered nothing by the next interval is closed. One frame per
	 * interval for all; NULL when out of memory.
	 */
	struct msg *(*ping)(void);
};

/* A message stored but not yet committed, so not yet broadcast. */
struct chat_pending {
	struct msg *m;
	char room[NAME_ROOM_MAX + 1];
};

struct chat {
	const struct config *cfg;
	struct chat_transport transport;
	/* By session dialect; NULL for SESSION_NATIVE (v1 itself) and for
	 * dialects not served. Borrowed. */
	const struct chat_dialect *dialects[SESSION_DIALECTS];
	struct history *history; /* borrowed; in cluster mode a replica */
	/* Cluster mode (--redis): messages go through Redis, which gives
	 * their ids and brings them back (chat_remote_message). NULL: one
	 * node. Borrowed. */
	struct cluster *cluster;
	struct dict rooms;       /* name -> struct room, owned */
	struct dict nicks;       /* nick, case-folded -> sessions (nicks.c) */
	struct session *sessions;
	unsigned nsessions;
	uint64_t next_session_id;
	uint32_t rng;    /* guest nick generator */
	struct jbuf out; /* scratch for encoding frames */
	struct replay replay; /* scratch for history frames */
	struct chat_pending *pending; /* in arrival order */
	unsigned npending, pending_cap;
	struct chat_stats stats;
	bool shutting_down; /* chat_shutdown() ran: newcomers are sent away */
};

void chat_init(struct chat *c, const struct config *cfg,
	       const struct chat_transport *t, struct history *h);
/* Frees rooms and the scratch buffer; every session must be gone. */
void chat_fini(struct chat *c);

/*
 * Registers s (zeroed storage), gives it a guest nick, sends welcome and joins
 * it to the lobby. With claims (the handshake's token; NULL without token
 * auth) the nick is the token's sub instead, shared with the sessions of
 * that sub, and the first room is the lobby only if the token allows it,
 * else the first of its rooms. Returns 0, with claims now s's; or -ENOMEM,
 * or -EEXIST when another sub holds that nick (chat_token_nick_is_free), in
 * which case s is not registered, claims stay the caller's and the
 * connection should be dropped. A session of another dialect (s->dialect
 * set before the call) is registered and named only: no welcome, and no
 * room until chat_enter().
 */
int chat_connect(struct chat *c, struct session *s, void *conn,
		 struct jwt_claims *claims);

/*
 * Joins s, of another dialect, to the room a v1 session starts in (the
 * lobby, or its token's first room), when its dialect says it is in:
 * presence join to the others, nothing to s itself. Returns 0 or -ENOMEM
 * (nothing changed).
 */
int chat_enter(struct session *s);

/*
 * Whether a session whose token names sub may have that nick now: nobody
 * holds it, or only sessions of that same sub do (one person's tabs).
 */
bool chat_token_nick_is_free(const struct chat *c, const char *sub);
/* Leaves every room (presence leave to the others) and frees s's state. */
void chat_disconnect(struct session *s);

/*
 * Handles one complete inbound text message. Returns 0, or a close code
 * (1007 for invalid UTF-8) when the connection must be closed.
 */
int chat_receive(struct session *s, const char *buf, size_t len);

/*
 * The entry check of every request, whatever its dialect: the request
 * budget (--rate, --burst). Every request counts, a malformed one too:
 * errors cost output. Returns false when the request goes no further:
 * refused with rate_limited (cid: the request's, or NULL), or s closed for
 * flooding. chat_receive and chat_request make it; a dialect makes it
 * itself for packets it answers on its own.
 */
bool chat_admit(struct session *s, const char *cid);

/*
 * A request another dialect decoded (socket.io's "chat message" event is a
 * REQ_MESSAGE to the current room), or a request it could not make sense
 * of (code and why: the error, as request_parse gives them; NULL: none).
 * It passes the entry checks of every request (rate limit, flood close)
 * and is handled as a v1 one; errors go to the dialect's error hook. Such
 * requests never wait: they are messages, which need no queue space.
 */
void chat_request(struct session *s, const struct request *req,
		  const char *code, const char *why);

/*
 * Commits the pending messages as one transaction, then broadcasts each to
 * its room. Nothing is broadcast before it is durable; a failed commit drops
 * the batch (logged). Returns how many messages the batch held.
 */
unsigned chat_flush(struct chat *c);

/*
 * The transport wrote some of s's queue: requests kept waiting for queue
 * space (a history frame takes up to half of it) go on while there is room.
 */
void chat_resume(struct session *s);

/* Notes that the client sent something (any frame, a pong included). */
void chat_seen(struct session *s);

/* Epoch milliseconds, the clock of message timestamps and keepalive. */
int64_t chat_now_ms(void);

/*
 * Cluster mode: a message from Redis, in the room's id order, with its
 * frame as every member gets it. Stored in the replica and delivered to
 * the room's members here with the next flush.
 */
void chat_remote_message(struct chat *c, const struct chat_record *rec,
			 const char *frame, size_t len);

/*
 * Cluster mode: the publish of session_id's message failed (Redis lost or
 * too slow): it gets an `unavailable` error with the message's cid, if it
 * is still connected.
 */
void chat_publish_failed(struct chat *c, uint64_t session_id,
			 const char *cid);

/* Cluster mode: whether a member of room here goes by nick. */
bool chat_room_has_nick(const struct chat *c, const char *room,
			const char *nick);

/* Cluster mode: presence (join, leave, nick) or typing of a member on
 * another instance, for room's members here. */
void chat_remote_presence(struct chat *c, const char *room, const char *event,
			  const char *nick, const char *old);
void chat_remote_typing(struct chat *c, const char *room, const char *nick);

/*
 * Cluster mode: the answer to session_id's nick claim (1 granted, 0 taken,
 * -1 Redis failed). The waiting request is answered and the session's
 * requests go on; a grant it cannot take after all is handed back
 * (cluster_rename_back). Returns false when the session is gone.
 */
bool chat_nick_claimed(struct chat *c, uint64_t session_id, const char *nick,
		       int result);

/*
 * Cluster mode: Redis refused the token nick session_id was admitted with
 * (someone on another instance had it first, unseen here): the session
 * is closed with 1008, as two people may not share a nick.
 */
void chat_nick_refused(struct chat *c, uint64_t session_id);

/* Cluster mode: tells the cluster every session and room here again. */
void chat_cluster_reannounce(struct chat *c);

/* Stages close 1001 for every session (server shutdown). */
void chat_shutdown(struct chat *c);

#endif
