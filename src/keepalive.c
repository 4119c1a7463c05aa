/*
 * Keepalive: finds sessions whose peer went quiet, pings them with one
 * shared ping frame, and closes those that leave a ping unanswered. Run from
 * one periodic timer per vhost, so its cost is a walk over the sessions per
 * interval and nothing per connection in between.
 */
#include "keepalive.h"

#include <stdbool.h>
#include <string.h>

#include "chat.h"
#include "config.h"
#include "log.h"
#include "msg.h"
#include "session.h"

unsigned
keepalive_interval(const struct config *cfg)
{
	if (cfg->ping_interval)
		return cfg->ping_interval;
	return cfg->socketio ? CONFIG_DEFAULT_PING_INTERVAL : 0;
}

/* A dialect's ping, every interval: the ping frame is built once per run,
 * for all of the dialect's sessions. */
static void
dialect_ping(struct chat *c, struct session *s, struct msg **ping,
	     int64_t now)
{
	if (!*ping)
		*ping = c->dialects[s->dialect]->ping();
	if (*ping) {
		session_queue(s, *ping);
		s->ping_sent_ms = now;
	}
}

void
keepalive_tick(struct chat *c, int64_t now)
{
	int64_t interval = (int64_t)keepalive_interval(c->cfg) * 1000;
	struct msg *pings[SESSION_DIALECTS] = { NULL };

	if (!interval)
		return;
	for (struct session *s = c->sessions; s; s = s->next) {
		bool awaiting = s->ping_sent_ms && s->last_seen_ms < s->ping_sent_ms;

		if (s->closing)
			continue;
		/* Closed only after a ping went unanswered for an interval. */
		if (awaiting && now - s->ping_sent_ms >= interval) {
			log_info("session %llu: no answer to a ping for %lld s, "
				 "closing",
				 (unsigned long long)s->id,
				 (long long)((now - s->ping_sent_ms) / 1000));
			c->stats.ping_timeouts++;
			session_close(s, CHAT_CLOSE_GOING_AWAY, "ping timeout");
			continue;
		}
		if (awaiting)
			continue;
		/* A socket.io client must CONNECT first: one that only
		 * answers pings would hold its slot for good (the reference
		 * server gives it a timeout too). */
		if (s->dialect == SESSION_SOCKETIO && !s->sio.connected &&
		    now - s->connected_ms >= interval) {
			log_info("session %llu: no socket.io connect in %lld s, "
				 "closing",
				 (unsigned long long)s->id,
				 (long long)((now - s->connected_ms) / 1000));
			session_close(s, CHAT_CLOSE_POLICY,
				      "socket.io: no connect");
			continue;
		}
		if (c->dialects[s->dialect]) {
			dialect_ping(c, s, &pings[s->dialect], now);
			continue;
		}
		if (!c->cfg->ping_interval || now - s->last_seen_ms < interval)
			continue;
		/* One ping frame, shared like any broadcast. It carries a
		 * payload because lws 4.1 does not report empty pongs. */
		if (!pings[SESSION_NATIVE])
			pings[SESSION_NATIVE] = msg_new_frame(
				MSG_OP_PING, KEEPALIVE_PING_PAYLOAD,
				strlen(KEEPALIVE_PING_PAYLOAD));
		if (pings[SESSION_NATIVE]) {
			session_send(s, pings[SESSION_NATIVE]);
			s->ping_sent_ms = now;
		}
	}
	for (unsigned d = 0; d < SESSION_DIALECTS; d++)
		msg_unref(pings[d]);
}
