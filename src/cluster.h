/*
 * cluster: several chatd instances serving one chat through Redis
 * (--redis). Redis gives each room its one order: a message's id, its
 * place in the room's capped stream (the shared history) and its publish
 * to every instance happen in one server-side script. Each instance
 * delivers a room's messages in id order, each once, to its own members,
 * and keeps a replica of the history in its SQLite store, which it
 * brings up to date from the streams whenever it (re)connects, so joins,
 * `since` and paging are answered locally and are the same everywhere.
 *
 * Two connections (redis_link.c): one for commands, one subscribed to the
 * message channel. When either fails the cluster is "down": messages sent
 * meanwhile are refused with `unavailable`, everything else goes on, and
 * once both are back the replica is caught up before it is "up" again.
 *
 * Service thread only.
 */
#ifndef CHAT_CLUSTER_H
#define CHAT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat_stats.h"

struct chat;
struct config;
struct ev_loop;
struct history;
struct cluster;

/* Keys and channel, shared by every instance of one chat. */
#define CLUSTER_KEY_PREFIX "chatd:"
#define CLUSTER_CHANNEL CLUSTER_KEY_PREFIX "messages"
/* A catch-up reads a room's stream this many entries at a time. */
#define CLUSTER_SYNC_BATCH 500

enum cluster_state {
	CLUSTER_DOWN,    /* a connection is not up */
	CLUSTER_SYNCING, /* both up, the replica is catching up */
	CLUSTER_UP,
};

struct cluster_stats {
	uint64_t received;   /* messages delivered from the channel/streams */
	uint64_t publish_failed;
	/* Round trips of accepted publishes (their count: the published). */
	struct chat_latency publish;
};

/*
 * Connects (asynchronously) to cfg's Redis on loop. history is the local
 * replica (borrowed). NULL with err filled when the Redis host does not
 * resolve or memory is short.
 */
struct cluster *cluster_new(struct ev_loop *loop, const struct config *cfg,
			    struct history *history, char *err,
			    size_t errlen);
void cluster_free(struct cluster *cl);

/* The chat that receives the messages (chat_remote_message); set once the
 * protocol has made it, which starts the connections, and NULL again
 * before it goes. */
void cluster_attach(struct cluster *cl, struct chat *chat);

enum cluster_state cluster_state(const struct cluster *cl);

/*
 * Publishes a message frame whose id Redis fills in between head and tail
 * (json_message_split). The frame reaches every instance, this one too,
 * through the channel. Returns 0, or -1 when the cluster is not up or
 * memory is short; a publish that fails later is reported through
 * chat_publish_failed(session_id, cid).
 */
int cluster_publish(struct cluster *cl, uint64_t session_id, const char *room,
		    const char *head, size_t head_len, const char *tail,
		    size_t tail_len, const char *cid);

const struct cluster_stats *cluster_stats(const struct cluster *cl);
/* Command round trips (replies on the command connection), and
 * reconnections of either connection. */
uint64_t cluster_round_trips(const struct cluster *cl);
uint64_t cluster_reconnects(const struct cluster *cl);

#endif
