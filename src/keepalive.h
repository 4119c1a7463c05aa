/*
 * Keepalive pings for idle sessions (--ping-interval). Service thread only.
 */
#ifndef CHAT_KEEPALIVE_H
#define CHAT_KEEPALIVE_H

#include <stdint.h>

struct chat;

/* The payload of keepalive pings: lws 4.1 does not report empty pongs. */
#define KEEPALIVE_PING_PAYLOAD "chatd"

/*
 * Run every cfg->ping_interval seconds (now in epoch ms): a session silent
 * for an interval gets a ping; one that has not answered it (or sent
 * anything) by the next run is closed with 1001 "ping timeout".
 */
void keepalive_tick(struct chat *c, int64_t now);

#endif
