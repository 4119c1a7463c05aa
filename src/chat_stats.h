/*
 * chat_stats: what the chat service counts, for the shutdown line and for
 * /metrics (metrics.c renders it). Plain increments on the service thread:
 * the hot paths pay an add each, the fan-out one per message (its
 * recipients at once), never one per recipient.
 */
#ifndef CHAT_CHAT_STATS_H
#define CHAT_CHAT_STATS_H

#include <stdint.h>

/* Why a WebSocket handshake was refused before the upgrade. */
enum chat_stats_refusal {
	CHAT_STATS_REFUSED_BAD_REQUEST, /* 400: bad Sec-WebSocket-Key, h2c */
	CHAT_STATS_REFUSED_SUBPROTOCOL, /* 400: a subprotocol but chat */
	CHAT_STATS_REFUSED_METHOD,      /* 405: not a GET */
	CHAT_STATS_REFUSED_PATH,        /* 404: not /chat */
	CHAT_STATS_REFUSED_VERSION,     /* 426: not version 13 */
	CHAT_STATS_REFUSED_ORIGIN,      /* 403: a foreign Origin */
	CHAT_STATS_REFUSED_BUSY,        /* 503: over the connection limits */
	CHAT_STATS_REFUSED_TOKEN,       /* 401: no valid token */
	CHAT_STATS_REFUSED_NICK,        /* 409: the token's nick is taken */
	CHAT_STATS_REFUSED_COUNT
};

/*
 * Close codes 1000..1015, RFC 6455's own, are counted one by one; any
 * other (a client may send 3000-4999) in one more slot, so that clients
 * cannot grow what is kept or exposed.
 */
#define CHAT_STATS_CLOSE_FIRST 1000
#define CHAT_STATS_CLOSE_KNOWN 16
#define CHAT_STATS_CLOSE_OTHER CHAT_STATS_CLOSE_KNOWN /* index of the rest */

/* History commit latency: buckets up to these bounds, then one above. */
#define CHAT_STATS_COMMIT_BUCKETS 14
extern const uint64_t chat_stats_commit_bounds_ns[CHAT_STATS_COMMIT_BUCKETS];

struct chat_stats {
	uint64_t messages;       /* chat messages committed and broadcast */
	uint64_t deliveries;     /* message frames fanned out to members */
	uint64_t sent_bytes;     /* bytes the transport wrote to sessions */
	uint64_t slow_consumers; /* sessions closed with 1008 */
	uint64_t ping_timeouts;  /* sessions closed for silence */
	uint64_t refused[CHAT_STATS_REFUSED_COUNT]; /* handshakes, by reason */
	uint64_t closes[CHAT_STATS_CLOSE_KNOWN + 1]; /* ended sessions */
	/* History commits: per bucket (not cumulative), count, total ns. */
	uint64_t commit_buckets[CHAT_STATS_COMMIT_BUCKETS + 1];
	uint64_t commits;
	uint64_t commit_ns;
};

/* A latency histogram on the same bounds (cluster mode's publish). */
struct chat_latency {
	uint64_t buckets[CHAT_STATS_COMMIT_BUCKETS + 1]; /* not cumulative */
	uint64_t count;
	uint64_t ns;
};

void chat_latency_count(struct chat_latency *h, uint64_t ns);

/* Counts a session that ended with close code (1006: no close frame). */
void chat_stats_count_close(struct chat_stats *st, unsigned code);

/* Counts one history commit that took ns nanoseconds. */
void chat_stats_count_commit(struct chat_stats *st, uint64_t ns);

#endif
