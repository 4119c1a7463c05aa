/*
 * session: one WebSocket connection's chat state. lws allocates it (the
 * per-session storage) and zeroes it; chat_connect() fills it and
 * chat_disconnect() empties it.
 *
 * Lifetime: registered with the chat from ESTABLISHED to CLOSED. Rooms hold
 * borrowed pointers to it; disconnect removes it from each one, drains its
 * queue and frees what it owns, after which no pointer to it remains.
 *
 * Every connection holds one while idle, so the fields are ordered widest
 * first, leaving little padding, and nothing large is kept inline: 10,000
 * idle connections are one of the benchmark's targets (S4).
 */
#ifndef CHAT_SESSION_H
#define CHAT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgq.h"
#include "name.h"
#include "ratelimit.h"

struct chat;
struct eio_poll;
struct jwt_claims;
struct msg;
struct room;

/* A session joins at most this many rooms at once. */
#define SESSION_MAX_ROOMS 64
/* Requests that may wait for send-queue space (see session_stall_push). */
#define SESSION_MAX_STALLED 64

/*
 * The wire protocol a session speaks. chat.c works in protocol v1; another
 * dialect's sessions get only what their dialect frames for them (chat.h,
 * struct chat_dialect), never a v1 frame.
 */
enum session_dialect {
	SESSION_NATIVE,   /* protocol v1, docs/protocol.md */
	SESSION_SOCKETIO, /* Socket.IO 5 over Engine.IO 4 (socketio.h) */
	SESSION_DIALECTS
};

/* A request kept, as received, until the send queue can take its answer. */
struct stalled_request {
	struct stalled_request *next;
	size_t len;
	char data[];
};

struct session {
	struct session *prev, *next; /* the chat's list of sessions */
	struct chat *chat;
	void *conn; /* the transport's handle (the lws wsi) */
	/* Engine.IO's polling transport (eio_poll.h): the session's state
	 * there while it is polled over HTTP (conn is then NULL); NULL for a
	 * WebSocket's session. */
	struct eio_poll *poll;
	/* Set in a WebSocket's storage that holds no session of its own:
	 * it probes, or took over, that polling session (the upgrade). */
	struct eio_poll *upgrade_of;
	uint64_t id;
	int64_t last_seen_ms; /* last frame of any kind from the client */
	int64_t connected_ms; /* for the disconnect log line */
	int64_t ping_sent_ms; /* last keepalive ping, 0 when none */
	const char *end_reason; /* static string: why it ended, for the log */
	const char *close_reason; /* static string */
	struct room **rooms; /* join order; the last one is the current room */
	int64_t *typing_ms;  /* beside rooms: when typing was last relayed */
	unsigned nrooms, rooms_cap;
	unsigned nstalled;
	uint16_t end_code;   /* the close code it ended with; 0: none yet */
	uint16_t close_code; /* the one staged (closing) */
	struct stalled_request *stalled, *stalled_tail; /* oldest first */
	struct ratelimit rl; /* request budget */
	struct msgq q;
	char *rx; /* reassembly of a fragmented inbound message */
	size_t rx_len, rx_cap;
	/* Other sessions holding the same nick: tabs of one token's sub
	 * (nicks.c). */
	struct session *nick_prev, *nick_next;
	/* The handshake's token (--jwt-secret-file), owned: the nick is its
	 * sub and may not change, and its rooms bound the joins. NULL
	 * without token auth. */
	struct jwt_claims *claims;
	/* The client's address as connection limits count it, owned by
	 * them (conn_limits_add); NULL when not counted. Set by the
	 * transport. */
	const char *addr;
	/* socket.io sessions (socketio.c). */
	struct {
		uint64_t ack_id;
		bool connected; /* to the main namespace, "/" */
		bool acking;    /* the event in hand asked for an ack */
	} sio;
	/* enum session_dialect: set by the transport before chat_connect(),
	 * fixed for the session's life. */
	unsigned char dialect;
	/* The transport's batching marks (batch.c): in this loop
	 * turn's list of sessions that sent input, of those given frames
	 * during a flush, and whether the last read delivered a frame. */
	bool had_input, got_frames, read_something;
	bool dropping; /* reading a too-big frame to its end, then 1009 */
	/* Cluster mode: a nick claim is out; the request that asked for it
	 * waits at the head of the stalled ones (chat_nick_claimed). */
	bool claiming;
	bool closing; /* a close was staged: send it nothing more */
	bool close_started; /* the transport is sending the close frame */
	char nick[NAME_NICK_MAX + 1];
};

/*
 * Queues m, a frame of s's own dialect, and asks the transport for a
 * writable callback. A session whose queue is over its bound is closed with
 * 1008 "slow consumer" instead, and m is not queued; so is one that is
 * closing. m's reference stays with the caller either way.
 */
void session_queue(struct session *s, struct msg *m);

/*
 * session_queue for a protocol v1 frame: a session of another dialect is
 * not sent it (it would not understand it), so v1 frames can go to every
 * member of a room.
 */
void session_send(struct session *s, struct msg *m);

/*
 * Stages a close with code and a static reason string; nothing more is sent
 * to s, and the transport closes it once the frames it already took are out.
 */
void session_close(struct session *s, uint16_t code, const char *reason);

/*
 * session_close, with one last frame (last, may be NULL) sent just before
 * the close frame, in place of whatever else was queued: a dialect's own
 * goodbye (socket.io's disconnect packet). last's reference stays the
 * caller's.
 */
void session_close_after(struct session *s, struct msg *last, uint16_t code,
			 const char *reason);

struct room *session_current_room(const struct session *s);
bool session_in_room(const struct session *s, const struct room *r);
/* Adds r as the current room (moving it last if already there). */
int session_enter_room(struct session *s, struct room *r);
void session_exit_room(struct session *s, struct room *r);
/* Frees the room list (the rooms themselves are the chat's). */
void session_rooms_fini(struct session *s);

/*
 * Whether a typing notice from s in r may be relayed at now_ms: at most one
 * per interval_ms per room. Records now_ms when it may.
 */
bool session_typing_due(struct session *s, const struct room *r,
			int64_t now_ms, int64_t interval_ms);
/* s sent a message in r, which ends its typing there: the next typing
 * notice starts afresh and is relayed at once. */
void session_typing_reset(struct session *s, const struct room *r);

/*
 * Appends a fragment to the reassembly buffer, which never grows past max.
 * Returns 0, -EMSGSIZE when the message would be over max, or -ENOMEM.
 */
int session_rx_append(struct session *s, const void *data, size_t len,
		      size_t max);
void session_rx_reset(struct session *s);

/*
 * Keeps a copy of a request for later, after those already kept. Returns
 * 0, -ENOSPC when SESSION_MAX_STALLED are waiting, or -ENOMEM.
 */
int session_stall_push(struct session *s, const char *data, size_t len);
/* Frees the oldest kept request. */
void session_stall_pop(struct session *s);
/* Frees every kept request. */
void session_stall_clear(struct session *s);

#endif
