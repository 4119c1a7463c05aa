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
#include "log.h"
#include "msg.h"
#include "session.h"

void
keepalive_tick(struct chat *c, int64_t now)
{
	int64_t interval = (int64_t)c->cfg->ping_interval * 1000;
	struct msg *ping = NULL;

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
		if (awaiting || now - s->last_seen_ms < interval)
			continue;
		/* One ping frame, shared like any broadcast. It carries a
		 * payload because lws 4.1 does not report empty pongs. */
		if (!ping)
			ping = msg_new_frame(MSG_OP_PING, KEEPALIVE_PING_PAYLOAD,
					     strlen(KEEPALIVE_PING_PAYLOAD));
		if (ping) {
			session_send(s, ping);
			s->ping_sent_ms = now;
		}
	}
	msg_unref(ping);
}
