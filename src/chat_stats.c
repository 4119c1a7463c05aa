/*
 * The counters' non-trivial updates: close codes into their bounded
 * table, commit (and publish) times into their latency buckets.
 */
#include "chat_stats.h"

/*
 * From 100 us, about what an in-memory or cached commit takes, to 5 s,
 * beyond the 250 ms a locked file may cost (HISTORY_BUSY_TIMEOUT_MS) plus
 * an fsync on a slow disk.
 */
const uint64_t chat_stats_commit_bounds_ns[CHAT_STATS_COMMIT_BUCKETS] = {
	100000,	   250000,    500000,	  1000000,    2500000,
	5000000,   10000000,  25000000,  50000000,   100000000,
	250000000, 500000000, 1000000000, 5000000000ull,
};

void
chat_stats_count_close(struct chat_stats *st, unsigned code)
{
	unsigned i = code - CHAT_STATS_CLOSE_FIRST;

	/* Below the first, i wraps to a large value: "other" too. */
	st->closes[i < CHAT_STATS_CLOSE_KNOWN ? i : CHAT_STATS_CLOSE_OTHER]++;
}

static unsigned
bucket_of(uint64_t ns)
{
	unsigned i = 0;

	while (i < CHAT_STATS_COMMIT_BUCKETS &&
	       ns > chat_stats_commit_bounds_ns[i])
		i++;
	return i;
}

void
chat_stats_count_commit(struct chat_stats *st, uint64_t ns)
{
	st->commit_buckets[bucket_of(ns)]++;
	st->commits++;
	st->commit_ns += ns;
}

void
chat_latency_count(struct chat_latency *h, uint64_t ns)
{
	h->buckets[bucket_of(ns)]++;
	h->count++;
	h->ns += ns;
}
