/*
 * upgrade: the checks a WebSocket opening handshake must pass before lws
 * answers it with 101 (RFC 6455 section 4.2.1), with the HTTP error each
 * failure gets. lws 4.1.6 drops a request without Sec-WebSocket-Key with no
 * answer, accepts any Sec-WebSocket-Version, and binds a subprotocol name
 * to whichever of the vhost's protocols has it, the static files included.
 */
#ifndef CHAT_UPGRADE_H
#define CHAT_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "chat_stats.h"
#include "engineio.h"

/* The WebSocket endpoints, by request path. */
enum upgrade_endpoint {
	UPGRADE_NONE,     /* not an endpoint: 404 */
	UPGRADE_CHAT,     /* /chat, protocol v1 */
	UPGRADE_SOCKETIO, /* /socket.io/, when socketio is on (socketio.h) */
};

/* Which endpoint wsi's request path names (the query aside). */
enum upgrade_endpoint upgrade_endpoint(struct lws *wsi, bool socketio);

/*
 * For LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (upgrade is its `in`): returns 0
 * when the upgrade may go on, 1 when an error response was written (lws
 * then completes the transaction), -1 to hang up. Unless 0, *why says
 * which check refused it. socketio: whether /socket.io/ is served; its
 * handshakes also need Engine.IO's query (EIO=4, transport=websocket),
 * else 400 with the Engine.IO error body. A sid there (an upgrade from
 * polling) is taken as a polling session's: the caller looks it up.
 */
int upgrade_confirm(struct lws *wsi, const char *upgrade, bool socketio,
		    enum chat_stats_refusal *why);

/* The query of a request to /socket.io/, as far as Engine.IO reads it. */
struct upgrade_engineio_query {
	char eio[8];       /* "" when absent; "?" when too long to be "4" */
	char transport[16];/* likewise: "?" is no transport */
	char sid[ENGINEIO_SID_LEN + 1]; /* "" when absent or not a sid */
	bool has_eio, has_transport, has_sid;
};

/* Copies wsi's query (its header table must still be attached) into q. */
void upgrade_engineio_query(struct lws *wsi, struct upgrade_engineio_query *q);

/*
 * The engineio_request of q (its strings stay q's), for a request with the
 * given method and upgrade, whose sid (when it has one) names a session in
 * state sid.
 */
struct engineio_request
upgrade_engineio_request(const struct upgrade_engineio_query *q, bool get,
			 bool upgrade, enum engineio_sid sid);

/*
 * Answers the upgrade with status (and its reason phrase), extra header
 * lines (each ending "\r\n", or ""), and a short text body; lws then closes
 * the connection. Returns 1, or -1 when even that failed (hang up).
 */
int upgrade_refuse(struct lws *wsi, unsigned status, const char *reason,
		   const char *extra, const char *body);
/* The same with a body of another Content-Type. */
int upgrade_refuse_as(struct lws *wsi, unsigned status, const char *reason,
		      const char *extra, const char *type, const char *body);

/*
 * Cross-site WebSocket hijacking guard: true when the request has no
 * Origin (not a browser), its Origin is the server's own scheme://host as
 * the request names it, or one of allowed (comma-separated, "*" any). The
 * Origin, when there is one, goes to origin for the log, control bytes
 * shown as '?'.
 */
bool upgrade_origin_allowed(struct lws *wsi, const char *allowed,
			    char *origin, size_t origin_len);

#endif
