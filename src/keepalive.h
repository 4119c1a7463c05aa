/*
 * Keepalive: pings for idle sessions (--ping-interval), and the heartbeat
 * of other dialects (socket.io), which want a ping every interval whatever
 * their traffic. Service thread only.
 */
#ifndef CHAT_KEEPALIVE_H
#define CHAT_KEEPALIVE_H

#include <stdint.h>

struct chat;
struct config;

/* The payload of keepalive pings: lws 4.1 does not report empty pongs. */
#define KEEPALIVE_PING_PAYLOAD "chatd"

/*
 * Seconds between keepalive_tick runs: --ping-interval, or with 0 (no v1
 * pings) the default 30 s while socket.io is served, whose clients close
 * on their own without the server's pings; 0: no runs at all.
 */
unsigned keepalive_interval(const struct config *cfg);

/*
 * Run every keepalive_interval() seconds (now in epoch ms). A v1 session
 * silent for an interval gets a WebSocket ping (with --ping-interval 0,
 * none); a session of another dialect gets its dialect's ping every
 * interval. One that has not answered a ping (or sent anything) by the
 * next run is closed with 1001 "ping timeout".
 */
void keepalive_tick(struct chat *c, int64_t now);

#endif
