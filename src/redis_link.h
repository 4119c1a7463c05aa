/*
 * redis_link: one asynchronous connection to Redis (hiredis) on chatd's
 * libev loop, which keeps itself connected: it connects, authenticates
 * and selects the database, then reports "up"; when the connection fails
 * or Redis stops answering it reports "down", fails every outstanding
 * command (its callback gets a NULL reply) and tries again with backoff.
 *
 * Nothing here blocks but the first lookup of the host, at
 * redis_link_new (where a name that does not resolve is an error to
 * report); each reconnect looks it up again on glibc's resolver thread.
 * A lookup, a connect or a command that takes longer than
 * REDIS_LINK_TIMEOUT_MS counts as a failure, so a hung or partitioned
 * Redis is noticed as surely as a closed one.
 *
 * Service thread only.
 */
#ifndef CHAT_REDIS_LINK_H
#define CHAT_REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis_url.h"

struct ev_loop;
struct redis_link;
struct redisReply;

#define REDIS_LINK_TIMEOUT_MS 2000
#define REDIS_LINK_BACKOFF_MIN_MS 100
#define REDIS_LINK_BACKOFF_MAX_MS 2000

struct redis_link_events {
	/* Connected and ready for commands. */
	void (*up)(struct redis_link *l, void *ud);
	/* Was up, is not any more (outstanding commands already failed). */
	void (*down)(struct redis_link *l, void *ud);
};

/*
 * A reply, or NULL when the command failed (link lost, timed out, or the
 * link is being freed). A subscription's callback is called once per
 * message and finally once with NULL.
 */
typedef void (*redis_link_reply_fn)(struct redis_link *l,
				    struct redisReply *reply, void *priv);

/*
 * Resolves url's host (the only blocking step, done at start-up); the
 * link connects once started. name labels its log lines ("commands",
 * "events"). NULL with err filled when the host does not resolve or
 * memory is short.
 */
struct redis_link *redis_link_new(struct ev_loop *loop,
				  const struct redis_url *url,
				  const char *name,
				  const struct redis_link_events *ev, void *ud,
				  char *err, size_t errlen);
/* Starts connecting (and keeping connected); once only. */
void redis_link_start(struct redis_link *l);
/* Fails what is outstanding (callbacks get NULL) and frees the link. */
void redis_link_free(struct redis_link *l);

bool redis_link_is_up(const struct redis_link *l);

/*
 * Sends a command. Returns 0 (cb will be called exactly once, with the
 * reply or NULL) or -1 when the link is not up (cb is not called).
 * subscribe: a (P)SUBSCRIBE whose callback stays for every message.
 */
int redis_link_command(struct redis_link *l, bool subscribe,
		       redis_link_reply_fn cb, void *priv, int argc,
		       const char **argv, const size_t *argvlen);

/* Commands sent and not answered yet. */
unsigned redis_link_pending(const struct redis_link *l);

/* Drops the connection (as if it failed) and reconnects after backoff. */
void redis_link_reset(struct redis_link *l, const char *why);

/* Commands answered, and connections made after the first. */
struct redis_link_stats {
	uint64_t replies;
	uint64_t reconnects;
};
const struct redis_link_stats *redis_link_stats(const struct redis_link *l);

#endif
