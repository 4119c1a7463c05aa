/*
 * redirect: the optional plain-HTTP listener of a TLS chatd
 * (--redirect-http-port). Every request, an upgrade too, gets a 308 to the
 * same path and query on the https port, host from its Host header.
 */
#ifndef CHAT_REDIRECT_H
#define CHAT_REDIRECT_H

#include <libwebsockets.h>

#define REDIRECT_PROTOCOL_NAME "chatd-redirect"

/*
 * Creates the "redirect" vhost in context (no listening socket of its own:
 * listener.c adopts into it), sending clients to https_port. NULL on
 * failure (logged).
 */
struct lws_vhost *redirect_vhost_create(struct lws_context *context,
					int https_port);

#endif
