/*
 * The "chat" lws protocol: turns lws callback reasons into chat calls and
 * does the writes. It holds no chat policy. Three files make it up:
 * chat_proto.c (the callback), batch.c (each loop turn's reads, flush and
 * writes) and admission.c (who may become a session, and a session's
 * start and end).
 */
#ifndef CHAT_PROTO_H
#define CHAT_PROTO_H

#include <libwebsockets.h>

struct auth;
struct chat;
struct cluster;
struct config;
struct eio_polls;
struct history;
struct session;

/* Handed to the protocol through its "env" pvo (lws passes pointers so). */
struct chat_env {
	const struct config *cfg;
	struct history *history;
	const struct auth *auth; /* token auth (auth.c); NULL: off */
	struct cluster *cluster; /* --redis (cluster.h); NULL: one node */
};

#define CHAT_PROTOCOL_NAME "chat"
/*
 * lws allocates this per connection (it is where a frame's payload is
 * unmasked) and reads at most this much per socket event (through the
 * per-thread CHAT_PROTO_READ_BUFFER); a message larger than it arrives
 * in pieces that session.c reassembles. Every connection holds it while
 * idle, so it is small: the flush reads a busy socket on to the end
 * itself (drain_readers in batch.c), so little throughput is lost.
 * 192 bytes hold a send request with up to about 100 bytes of text in one
 * piece; measured in `make bench`, S2 throughput is the same as with 512
 * bytes (128 cost 3-5%), and an idle connection takes 0.3 KiB less.
 */
#define CHAT_PROTO_RX_BUFFER 192
#define CHAT_PROTO_READ_BUFFER 65536
/* Frames pending for a session go out together, up to this many bytes per
 * write (also the protocol's tx_packet_size, so lws does not split it). */
#define CHAT_PROTO_WRITE_BOUND 65536

/*
 * The end of a loop turn, every event of it handled (server.c calls it
 * before the loop waits again): a flush of the turn's messages runs here,
 * so commits and writes group however many messages came in the turn,
 * and a quiet server delivers at once.
 */
void chat_proto_end_of_turn(struct lws_vhost *vh,
			    const struct lws_protocols *proto);

int chat_proto_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len);

/*
 * For LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, whichever protocol lws asks: the
 * handshake checks of upgrade.c, then the connection limits (503 when
 * over), then with token auth the token (401, or 409 for a nick another
 * user holds). Returns as upgrade_confirm() does.
 */
int chat_proto_confirm_upgrade(struct lws *wsi, const char *upgrade);

/* Why a new session is refused, as an HTTP response. */
struct chat_proto_refusal {
	unsigned status;
	const char *type; /* of the body */
	char body[128];
};

/*
 * The checks a new session passes however it comes (a WebSocket handshake,
 * which chat_proto_confirm_upgrade makes them for, or a polling one): its
 * origin (403), the connection limits (503), with token auth its token
 * (401, or 409 for a nick another user holds). Returns 0, or 1 with *no
 * filled in. wsi's header table must be attached.
 */
int chat_proto_admit(struct lws *wsi, struct chat_proto_refusal *no);

/*
 * Registers s (zeroed but for its dialect) with the chat of wsi's vhost,
 * for the connection wsi is the request of: its token, its place under the
 * connection limits, its nick and first room, and the connect log line.
 * s->conn is wsi unless s->poll is set. Returns 0, or -1 (logged): not
 * registered.
 */
int chat_proto_session_begin(struct lws *wsi, struct session *s);
/* The end of a registered session: the log line, its limits, its chat
 * state (chat_disconnect). */
void chat_proto_session_end(struct session *s);

/* The polling sessions (eio_poll.h) of wsi's vhost, or NULL. */
struct eio_polls *chat_proto_polls(struct lws *wsi);

/* The chat state of vhost vh, or NULL when the protocol failed to init. */
struct chat *chat_proto_chat(struct lws_vhost *vh,
			     const struct lws_protocols *proto);

#endif
