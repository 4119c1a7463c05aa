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
struct session;

/* Keys and channel, shared by every instance of one chat. */
#define CLUSTER_KEY_PREFIX "chatd:"
#define CLUSTER_CHANNEL CLUSTER_KEY_PREFIX "messages"
/* --instance-id: 1 to this many of [A-Za-z0-9_.-]. */
#define CLUSTER_INSTANCE_MAX 64
/* Each instance records itself alive this often; one silent for
 * CLUSTER_DEAD_MS is purged (its members leave, its nicks are freed) by
 * whichever instance notices first. A heartbeat that comes more than
 * CLUSTER_PAUSE_MS after the last look for the dead judges nobody: Redis
 * (or everyone) was held up, not one instance. */
#define CLUSTER_HEARTBEAT_MS 2000
#define CLUSTER_DEAD_MS 10000
#define CLUSTER_PAUSE_MS 5000
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

/*
 * This instance's presence, told to the others through Redis (each a
 * script that updates the shared members and nicks and publishes the
 * event): a session's nick registered, a room joined or left, the session
 * gone, a typing notice. While the cluster is down they are not sent; the
 * catch-up that follows announces every session afresh.
 */
void cluster_session_started(struct cluster *cl, const struct session *s);
void cluster_joined(struct cluster *cl, const struct session *s,
		    const char *room);
void cluster_left(struct cluster *cl, const struct session *s,
		  const char *room);
void cluster_session_ended(struct cluster *cl, const struct session *s);
void cluster_typing(struct cluster *cl, const struct session *s,
		    const char *room);

/*
 * Claims nick for s across the cluster (and frees its old one) in one
 * step, so two instances racing for a nick never both get it. 0: the
 * answer comes through chat_nick_claimed; -1 when the cluster is not up.
 */
int cluster_claim_nick(struct cluster *cl, const struct session *s,
		       const char *nick);

/* A granted claim that s could not take after all (cluster_claim_nick):
 * Redis is told s keeps its nick, and the others are told so. */
void cluster_rename_back(struct cluster *cl, const struct session *s,
			 const char *granted);

/*
 * Calls fn (may be NULL) for each nick in room on other instances that no
 * member here has, once per nick; returns how many.
 */
int cluster_foreach_member(const struct cluster *cl, const char *room,
			   void (*fn)(const char *nick, void *ud), void *ud);

/*
 * A clean stop, after the sessions have closed: tells the others that this
 * instance is leaving (what is left of its members leave, its nicks are
 * freed) and runs loop until Redis has answered everything sent, or for
 * timeout_ms at most.
 */
void cluster_stop(struct cluster *cl, struct ev_loop *loop, int timeout_ms);

/* Whether a member of room on another instance goes by nick. */
bool cluster_room_has_nick(const struct cluster *cl, const char *room,
			   const char *nick);

/*
 * Whether nick (a token's sub) is held on another instance by someone
 * else: a differently spelled nick, or the same one not from a token.
 */
bool cluster_nick_held_elsewhere(const struct cluster *cl, const char *nick);

const struct cluster_stats *cluster_stats(const struct cluster *cl);
/* Command round trips (replies on the command connection), and
 * reconnections of either connection. */
uint64_t cluster_round_trips(const struct cluster *cl);
uint64_t cluster_reconnects(const struct cluster *cl);

#endif
