/*
 * Prometheus text exposition, written by hand: a dozen families need no
 * client library. Counters come from chat_stats as they are; gauges are
 * read at scrape time, so nothing is kept up to date between scrapes.
 */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "chat.h"
#include "cluster.h"
#include "history.h"

#ifndef CHATD_VERSION
#define CHATD_VERSION "0.0.0"
#endif

/* The label value of each chat_stats_refusal, in the enum's order. */
static const char *const refusal_names[CHAT_STATS_REFUSED_COUNT] = {
	[CHAT_STATS_REFUSED_BAD_REQUEST] = "bad_request",
	[CHAT_STATS_REFUSED_SUBPROTOCOL] = "subprotocol",
	[CHAT_STATS_REFUSED_METHOD] = "method",
	[CHAT_STATS_REFUSED_PATH] = "path",
	[CHAT_STATS_REFUSED_VERSION] = "version",
	[CHAT_STATS_REFUSED_ORIGIN] = "origin",
	[CHAT_STATS_REFUSED_BUSY] = "busy",
	[CHAT_STATS_REFUSED_TOKEN] = "token",
	[CHAT_STATS_REFUSED_NICK] = "nick_taken",
};

/* A growing text buffer; after a failed allocation it only remembers so. */
struct text {
	char *data;
	size_t len, cap;
	bool oom;
};

static void
put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len)
			break;
		size_t cap = t->cap * 2 + (size_t)n;
		char *p = realloc(t->data, cap);

		if (!p) {
			t->oom = true;
			return;
		}
		t->data = p;
		t->cap = cap;
	}
	t->len += (size_t)n;
}

static void
family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct text *t, const char *name, const char *type, const char *help,
    uint64_t value)
{
	family(t, name, type, help);
	put(t, "%s %llu\n", name, (unsigned long long)value);
}

/* ns as decimal seconds, exactly. */
static void
put_seconds(struct text *t, uint64_t ns)
{
	put(t, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
	    (unsigned long long)(ns % 1000000000u));
}

static void
closes(struct text *t, const struct chat_stats *st)
{
	family(t, "chat_closes_total", "counter",
	       "Chat sessions ended, by WebSocket close code (1006: the "
	       "connection dropped without a close frame; other: a code "
	       "outside 1000-1015).");
	for (unsigned i = 0; i < CHAT_STATS_CLOSE_KNOWN; i++)
		if (st->closes[i])
			put(t, "chat_closes_total{code=\"%u\"} %llu\n",
			    CHAT_STATS_CLOSE_FIRST + i,
			    (unsigned long long)st->closes[i]);
	if (st->closes[CHAT_STATS_CLOSE_OTHER])
		put(t, "chat_closes_total{code=\"other\"} %llu\n",
		    (unsigned long long)st->closes[CHAT_STATS_CLOSE_OTHER]);
}

static void
refusals(struct text *t, const struct chat_stats *st)
{
	/* Every reason, zeros too: a rate over a series that appears only
	 * at its first refusal would miss that first one. */
	family(t, "chat_handshakes_rejected_total", "counter",
	       "WebSocket handshakes refused before the upgrade, by reason.");
	for (unsigned i = 0; i < CHAT_STATS_REFUSED_COUNT; i++)
		put(t, "chat_handshakes_rejected_total{reason=\"%s\"} %llu\n",
		    refusal_names[i], (unsigned long long)st->refused[i]);
}

/* buckets: CHAT_STATS_COMMIT_BUCKETS + 1 counts, not cumulative. */
static void
histogram(struct text *t, const char *name, const char *help,
	  const uint64_t *buckets, uint64_t count, uint64_t ns)
{
	uint64_t cumulative = 0;

	family(t, name, "histogram", help);
	for (unsigned i = 0; i < CHAT_STATS_COMMIT_BUCKETS; i++) {
		cumulative += buckets[i];
		put(t, "%s_bucket{le=\"%g\"} %llu\n", name,
		    (double)chat_stats_commit_bounds_ns[i] / 1e9,
		    (unsigned long long)cumulative);
	}
	put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name,
	    (unsigned long long)count, name);
	put_seconds(t, ns);
	put(t, "\n%s_count %llu\n", name, (unsigned long long)count);
}

static void
cluster_families(struct text *t, const struct cluster *cl)
{
	const struct cluster_stats *st = cluster_stats(cl);

	one(t, "chat_redis_up", "gauge",
	    "1 when this instance's Redis connections are up and its history "
	    "replica caught up (cluster mode), else 0.",
	    cluster_state(cl) == CLUSTER_UP);
	one(t, "chat_redis_round_trips_total", "counter",
	    "Redis commands answered (the subscription's messages not "
	    "counted).",
	    cluster_round_trips(cl));
	one(t, "chat_redis_reconnects_total", "counter",
	    "Redis connections made again after a failure.",
	    cluster_reconnects(cl));
	one(t, "chat_redis_messages_received_total", "counter",
	    "Messages delivered here from Redis (its channel, or a room's "
	    "stream on a catch-up).",
	    st->received);
	one(t, "chat_redis_publish_failures_total", "counter",
	    "Messages refused with unavailable after their publish failed.",
	    st->publish_failed);
	histogram(t, "chat_redis_publish_seconds",
		  "Round trip of a message's publish script (id, stream, "
		  "publish) to Redis.",
		  st->publish.buckets, st->publish.count, st->publish.ns);
}

static void
chat_families(struct text *t, const struct chat *c)
{
	const struct chat_stats *st = &c->stats;

	one(t, "chat_connections", "gauge",
	    "Open chat sessions (WebSocket connections past the handshake).",
	    c->nsessions);
	one(t, "chat_rooms", "gauge", "Rooms with at least one member.",
	    c->rooms.count);
	if (c->history)
		one(t, "chat_history_messages", "gauge",
		    "Messages kept in the history database.",
		    history_count(c->history));
	one(t, "chat_messages_total", "counter",
	    "Chat messages accepted: stored, committed and broadcast.",
	    st->messages);
	one(t, "chat_deliveries_total", "counter",
	    "Message frames fanned out to room members, one per recipient.",
	    st->deliveries);
	one(t, "chat_sent_bytes_total", "counter",
	    "Bytes of WebSocket frames written to chat sessions.",
	    st->sent_bytes);
	closes(t, st);
	one(t, "chat_slow_consumer_disconnects_total", "counter",
	    "Sessions closed (1008) because their send queue went over "
	    "--send-queue-bytes.",
	    st->slow_consumers);
	one(t, "chat_ping_timeouts_total", "counter",
	    "Sessions closed (1001) for leaving a keepalive ping unanswered.",
	    st->ping_timeouts);
	refusals(t, st);
	histogram(t, "chat_history_commit_seconds",
		  "Time to commit a batch of messages to the history database.",
		  st->commit_buckets, st->commits, st->commit_ns);
	if (c->cluster)
		cluster_families(t, c->cluster);
}

/* Resident pages from /proc/self/statm; false when unreadable. */
static bool
resident_bytes(uint64_t *out)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return false;
	*out = resident * (uint64_t)page;
	return true;
}

/* Entries of /proc/self/fd but the one reading it; false when unreadable. */
static bool
open_fds(uint64_t *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	*out = n ? n - 1 : 0;
	return true;
}

static void
process_families(struct text *t)
{
	struct rlimit rl;
	uint64_t v;

	if (resident_bytes(&v))
		one(t, "chat_process_resident_memory_bytes", "gauge",
		    "Resident memory of the chatd process, in bytes.", v);
	if (open_fds(&v))
		one(t, "chat_process_open_fds", "gauge",
		    "Open file descriptors of the chatd process.", v);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		one(t, "chat_process_max_fds", "gauge",
		    "The process's limit on open file descriptors.",
		    (uint64_t)rl.rlim_cur);
}

char *
metrics_render(const struct chat *c, size_t *len)
{
	struct text t = { .cap = 4096 };

	t.data = malloc(t.cap);
	if (!t.data)
		return NULL;
	t.data[0] = '\0';
	family(&t, "chat_build_info", "gauge",
	       "Always 1; the version label says which chatd this is.");
	put(&t, "chat_build_info{version=\"%s\"} 1\n", CHATD_VERSION);
	if (c)
		chat_families(&t, c);
	process_families(&t);
	if (t.oom) {
		free(t.data);
		return NULL;
	}
	*len = t.len;
	return t.data;
}
