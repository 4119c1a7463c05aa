/*
 * HTTP side of the vhost: static files from the www/ directory, /healthz
 * and /metrics, all answered from one callback mount so that a missing file
 * gets a real 404 (lws 4.1's file mount leaves such requests hanging), HEAD
 * is answered like GET and other methods get 405. Also the vhost of
 * --metrics-listen, which answers /metrics and 404 for anything else.
 */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "eio_poll.h"

#define HTTP_PROTOCOL_NAME "http"
#define HTTP_METRICS_VHOST_NAME "metrics"

/* Fills the mount sending every path to the "http" protocol. */
void http_mount_init(struct lws_http_mount *mount);

/*
 * The "http" protocol callback. Its PROTOCOL_INIT takes the document root
 * (an absolute, resolved path) from the pvo named "www", and from the pvo
 * named "metrics" the name of the vhost whose chat /metrics shows; without
 * that pvo /metrics is 404.
 */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
		  void *user, void *in, size_t len);

/*
 * Creates the vhost of --metrics-listen in context (no listening socket of
 * its own: listener.c adopts into it): /metrics shows the chat of vhost
 * chat_vhost (a string that outlives the context), everything else is 404,
 * WebSocket upgrades included. NULL on failure (logged).
 */
struct lws_vhost *http_metrics_vhost_create(struct lws_context *context,
					    const char *chat_vhost);

/*
 * Answers wsi's request, whole, from LWS_CALLBACK_HTTP or a later callback
 * of the same request: code, type, "Cache-Control: no-store" and len body
 * bytes (none for HEAD), then the transaction completes, which may free
 * the connection's per-session storage. Returns 0, or -1 to hang up.
 */
int http_respond(struct lws *wsi, bool head, unsigned code, const char *type,
		 const char *body, size_t len);

/*
 * Resolves a request path (as lws decoded it) under root, the resolved
 * document root of root_len bytes, into out (PATH_MAX bytes) and its stat
 * into st. Returns 0 when it names a regular file that lies under root
 * (symlinks followed) and uri has no "", ".", ".." or dotfile segment;
 * else -1, with out and st unspecified. Any thread; exposed for
 * test/fuzz/fuzz_http_path.c.
 */
int http_resolve_path(const char *root, size_t root_len, const char *uri,
		      char *out, struct stat *st);

/*
 * Per-connection state of the "http" protocol (server.c sizes the pss from
 * it): that of a request to Engine.IO's polling transport, the only one
 * answered later than from LWS_CALLBACK_HTTP (a poll waits for frames, a
 * POST for its body). Every other response is written whole, or handed to
 * lws_serve_http_file, from LWS_CALLBACK_HTTP.
 */
struct http_pss {
	struct eio_poll_req poll;
};

#endif
