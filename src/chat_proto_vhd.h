/*
 * chat_proto_vhd: the chat protocol's per-vhost state, shared by the two
 * files that make up the protocol: chat_proto.c (lws's callback) and
 * admission.c (who may become a session, and a session's start and end).
 * Nothing else includes it.
 */
#ifndef CHAT_PROTO_VHD_H
#define CHAT_PROTO_VHD_H

#include <libwebsockets.h>

#include "batch.h"
#include "chat.h"
#include "conn_limits.h"
#include "eio_poll.h"
#include "session.h"

struct auth;

struct chat_vhd {
	struct chat chat;
	struct conn_limits limits;
	struct lws_context *context;
	struct batch batch; /* the loop turn's reads, flush and writes */
	lws_sorted_usec_list_t tick_timer; /* keepalive pings */
	const struct auth *auth; /* token auth; NULL when off */
	struct eio_polls polls; /* socket.io sessions polled over HTTP */
};

/* The vhd of a session the chat holds. */
static inline struct chat_vhd *
chat_proto_vhd_of(struct session *s)
{
	return lws_container_of(s->chat, struct chat_vhd, chat);
}

/* The vhd of the chat protocol on wsi's vhost, whichever protocol wsi is
 * bound to; NULL before the protocol is initialised. */
struct chat_vhd *chat_proto_vhd(struct lws *wsi);

#endif
