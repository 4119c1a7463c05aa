/*
 * eio_poll: Engine.IO's HTTP long-polling transport, the one socket.io
 * clients start on by default (engine.io-protocol, v4). A polling session
 * is a socket.io session (socketio.h) that no connection owns:
 *   GET  /socket.io/?EIO=4&transport=polling          opens it, answered
 *        with the open packet;
 *   GET  ...&sid=<sid>   waits for its frames (one such request at a
 *        time), answered with every frame queued, 0x1e between them, as
 *        soon as there is one (the keepalive's ping comes every interval);
 *   POST ...&sid=<sid>   brings its packets, the same way separated,
 *        answered "ok".
 * A WebSocket to /socket.io/ with its sid may take the session over (the
 * upgrade): "2probe" is answered "3probe" and a waiting GET "6" (noop), and
 * the client's "5" moves the session, queue and all, to that WebSocket.
 * Service thread only.
 */
#ifndef CHAT_EIO_POLL_H
#define CHAT_EIO_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "dict.h"
#include "engineio.h"

struct eio_poll;
struct session;

/* A vhost's polling sessions, by sid. */
struct eio_polls {
	struct dict by_sid;
	struct lws_context *context;
};

void eio_polls_init(struct eio_polls *polls, struct lws_context *context);
/* Ends every polling session still open (shutdown), then frees the table. */
void eio_polls_fini(struct eio_polls *polls);

/* What sid names here: ENGINEIO_SID_UNKNOWN or ENGINEIO_SID_POLLING. */
enum engineio_sid eio_polls_lookup(const struct eio_polls *polls,
				   const char *sid);

/* One HTTP request to the polling endpoint, in http.c's per-connection
 * storage; zeroed means "not one". */
struct eio_poll_req {
	bool active;	/* this request is the polling transport's */
	bool post;
	bool too_big;	/* a POST body over maxPayload: skipped to its end */
	bool noop;	/* answer "6": the session moved to its WebSocket */
	bool head;	/* a HEAD: the answer's headers alone */
	int64_t started_ms; /* a POST's start, for its deadline */
	struct lws *wsi;
	struct eio_poll *p; /* its session, NULL when there is none (now) */
	char *body;	/* a POST's body so far */
	size_t len, cap;
};

/*
 * LWS_CALLBACK_HTTP for the endpoint's path (/socket.io/): the checks,
 * then a handshake, a poll or the start of a POST. Returns what the
 * callback returns: 0, or -1 to hang up.
 */
int eio_poll_http(struct lws *wsi, struct eio_poll_req *req);
/* LWS_CALLBACK_HTTP_BODY and _BODY_COMPLETION, for an active POST. */
int eio_poll_body(struct lws *wsi, struct eio_poll_req *req, const void *in,
		  size_t len);
int eio_poll_body_done(struct lws *wsi, struct eio_poll_req *req);
/* LWS_CALLBACK_HTTP_WRITEABLE, for an active GET: a waiting poll is
 * answered once there is something to say. */
int eio_poll_writeable(struct lws *wsi, struct eio_poll_req *req);
/* LWS_CALLBACK_CLOSED_HTTP, and whenever the request is done with. */
void eio_poll_req_reset(struct eio_poll_req *req);

/* The transport's hooks for a session on the polling transport
 * (chat_proto.c's wake and close, for sessions whose poll is set). */
void eio_poll_wake(struct session *s);
void eio_poll_close(struct session *s);

/*
 * The upgrade, on the WebSocket (chat_proto.c), whose per-session storage
 * is shell: it holds no session of its own but points at the polling one
 * (shell->upgrade_of) from eio_poll_probe_begin on.
 */
/* At ESTABLISHED: shell probes polling session sid. Returns 0, or -1 when
 * there is no such session (any more) or it already has a probe. */
int eio_poll_probe_begin(struct eio_polls *polls, struct lws *wsi,
			 struct session *shell, const char *sid);
/* Whether the probe took the session over: shell's traffic is then that
 * session's, as on any WebSocket (eio_poll_session). */
bool eio_poll_is_upgraded(const struct eio_poll *p);
struct session *eio_poll_session(struct eio_poll *p);
/* The probe's WebSocket messages and writes before the upgrade. Return
 * what the callback returns. */
int eio_poll_probe_receive(struct lws *wsi, struct session *shell,
			   const char *in, size_t len);
int eio_poll_probe_writeable(struct lws *wsi, struct session *shell);
/*
 * The probe's WebSocket closed. Before the upgrade the polling session
 * goes on without it; after it, the session has ended already (the
 * caller disconnected it) and is freed here.
 */
void eio_poll_probe_closed(struct session *shell);

#endif
