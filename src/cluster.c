/*
 * Cluster mode over two redis_links. The life of a message:
 *
 *   sender's instance        Redis (one script, atomic)       every instance
 *   cluster_publish  ---->   INCR id, XADD stream, PUBLISH --> on_event
 *                                                             in id order:
 *                                                             chat_remote_message
 *
 * Per room, `last` is the highest id delivered here. An event with id
 * last + 1 is delivered at once, a lower one is a duplicate (already read
 * from the stream), a higher one means something was missed: the room is
 * caught up from its stream (XRANGE from last + 1) while its live events
 * wait in `held`, which are then delivered after what the stream gave.
 * After every (re)connection all rooms are caught up this way.
 *
 * Ids never go back, even when Redis comes back empty: the script takes
 * the largest of its counter, the stream's last entry and the sender's
 * `last` (a floor), and on every catch-up each instance first raises the
 * counters to what it has already delivered.
 */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "chat.h"
#include "config.h"
#include "dict.h"
#include "json.h"
#include "history.h"
#include "log.h"
#include "name.h"
#include "record.h"
#include "redis_link.h"

/*
 * KEYS: the room's id counter, its stream, the set of rooms.
 * ARGV: room, floor, frame head, frame tail, stream length, channel.
 * Returns the id.
 */
static const char publish_script[] =
	"local id = redis.call('INCR', KEYS[1])\n"
	"local floor = tonumber(ARGV[2])\n"
	"local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)\n"
	"if #top > 0 then\n"
	"  local t = tonumber(string.match(top[1][1], '^(%d+)'))\n"
	"  if t > floor then floor = t end\n"
	"end\n"
	"if id <= floor then\n"
	"  id = floor + 1\n"
	"  redis.call('SET', KEYS[1], id)\n"
	"end\n"
	"local frame = ARGV[3] .. string.format('%d', id) .. ARGV[4]\n"
	"redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5],\n"
	"           string.format('%d-1', id), 'f', frame)\n"
	"redis.call('SADD', KEYS[3], ARGV[1])\n"
	"redis.call('PUBLISH', ARGV[6], frame)\n"
	"return id\n";

/* KEYS: the room's id counter, the set of rooms. ARGV: room, last id.
 * Raises the counter to what this instance already delivered. */
static const char seed_script[] =
	"local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if cur < tonumber(ARGV[2]) then\n"
	"  redis.call('SET', KEYS[1], ARGV[2])\n"
	"end\n"
	"redis.call('SADD', KEYS[2], ARGV[1])\n"
	"return cur\n";

/* KEYS: the epoch key. ARGV: a fresh epoch. Returns the epoch in force:
 * a new one means this Redis has never seen chatd, or lost its data. */
static const char epoch_script[] =
	"redis.call('SET', KEYS[1], ARGV[1], 'NX')\n"
	"return redis.call('GET', KEYS[1])\n";

#define ROOMS_KEY CLUSTER_KEY_PREFIX "rooms"
#define EPOCH_KEY CLUSTER_KEY_PREFIX "epoch"
#define KEY_MAX (sizeof(CLUSTER_KEY_PREFIX) + NAME_ROOM_MAX + 8)

/* A live event kept while its room catches up. */
struct held {
	struct held *next;
	uint64_t id;
	size_t len;
	char frame[];
};

struct cl_room {
	struct cluster *cl;
	uint64_t last;   /* highest id delivered here */
	bool syncing;    /* a catch-up is under way; live events are held */
	unsigned gen;    /* the cluster generation of that catch-up */
	struct held *held, *held_tail;
	char name[NAME_ROOM_MAX + 1];
};

struct cluster {
	struct ev_loop *loop;
	const struct config *cfg;
	struct history *history; /* the replica, borrowed */
	struct chat *chat;       /* NULL until attached */
	struct redis_link *cmd, *sub;
	enum cluster_state state;
	bool subscribed;
	unsigned gen;          /* bumped on every down: stale replies ignored */
	unsigned syncs_left;   /* catch-ups before SYNCING becomes UP */
	struct dict rooms;     /* name -> struct cl_room, owned */
	char epoch[64];        /* the epoch Redis had when last seen */
	char instance[128];    /* --instance-id, or host name and pid */
	struct cluster_stats stats;
};

/* What a publish's reply needs to know. */
struct publish_ctx {
	struct cluster *cl;
	uint64_t session_id;
	uint64_t start_ns;
	unsigned gen;
	bool has_cid;
	char cid[REQUEST_MAX_CID + 1];
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
room_key(char *out, const char *room, const char *what)
{
	snprintf(out, KEY_MAX, CLUSTER_KEY_PREFIX "{%s}:%s", room, what);
}

static struct cl_room *
get_room(struct cluster *cl, const char *name)
{
	struct cl_room *r = dict_get(&cl->rooms, name);

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cl = cl;
	snprintf(r->name, sizeof(r->name), "%s", name);
	/* What the replica holds is what was delivered here before. */
	r->last = history_last_id(cl->history, name);
	if (dict_set(&cl->rooms, r->name, r)) {
		free(r);
		return NULL;
	}
	return r;
}

static void
drop_held(struct cl_room *r)
{
	while (r->held) {
		struct held *h = r->held;

		r->held = h->next;
		free(h);
	}
	r->held_tail = NULL;
}

static void
free_room(const char *name, void *value, void *ud)
{
	(void)name;
	(void)ud;
	drop_held(value);
	free(value);
}

/* ---- delivery ---- */

/* A message frame as it came from Redis, parsed for the replica. */
static int
deliver_frame(struct cluster *cl, const char *frame, size_t len,
	      struct cl_room *r, uint64_t id)
{
	json_error_t jerr;
	json_t *o = json_loadb(frame, len, JSON_ALLOW_NUL, &jerr);
	json_t *text = json_object_get(o, "text");
	json_t *cid = json_object_get(o, "cid");
	struct chat_record rec = {
		.room = r->name,
		.id = id,
		.ts = (int64_t)json_integer_value(json_object_get(o, "ts")),
		.nick = json_string_value(json_object_get(o, "nick")),
		.text = json_string_value(text),
		.text_len = json_string_length(text),
		.cid = json_string_value(cid),
	};

	if (!rec.nick || !rec.text) {
		log_warn("redis: a malformed message in room %s (id %" PRIu64
			 "); skipped", r->name, id);
		json_decref(o);
		r->last = id;
		return -1;
	}
	r->last = id;
	cl->stats.received++;
	if (cl->chat)
		chat_remote_message(cl->chat, &rec, frame, len);
	json_decref(o);
	return 0;
}

/* The room and id of a message frame: both come first, as json.c writes
 * them, but it is parsed for real, not trusted to a layout. */
static int
frame_room_id(const char *frame, size_t len, char *room, uint64_t *id)
{
	json_error_t jerr;
	json_t *o = json_loadb(frame, len, JSON_ALLOW_NUL, &jerr);
	const char *name = json_string_value(json_object_get(o, "room"));
	json_t *jid = json_object_get(o, "id");
	int rc = -1;

	if (name && name_is_valid(name, NAME_ROOM_MAX) &&
	    json_is_integer(jid) && json_integer_value(jid) > 0) {
		strcpy(room, name);
		*id = (uint64_t)json_integer_value(jid);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

static void start_sync(struct cl_room *r);
static void maybe_sync(struct cluster *cl);

static int
hold(struct cl_room *r, const char *frame, size_t len, uint64_t id)
{
	struct held *h = malloc(sizeof(*h) + len);

	if (!h)
		return -1;
	h->next = NULL;
	h->id = id;
	h->len = len;
	memcpy(h->frame, frame, len);
	if (r->held_tail)
		r->held_tail->next = h;
	else
		r->held = h;
	r->held_tail = h;
	return 0;
}

/* A message for r, from the channel or a held one: delivered, skipped as
 * already delivered, or (a gap) kept while r catches up. */
static void
offer(struct cl_room *r, const char *frame, size_t len, uint64_t id)
{
	if (r->syncing) {
		if (hold(r, frame, len, id))
			log_warn("redis: out of memory holding a message of "
				 "room %s; it is read from the stream later",
				 r->name);
		return;
	}
	if (id <= r->last)
		return;
	if (id == r->last + 1) {
		deliver_frame(r->cl, frame, len, r, id);
		return;
	}
	hold(r, frame, len, id);
	start_sync(r);
}

static void
on_event(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cluster *cl = priv;
	char room[NAME_ROOM_MAX + 1];
	redisReply *kind, *payload;
	struct cl_room *r;
	uint64_t id;

	(void)l;
	if (!reply)
		return; /* the connection went: down() handles it */
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	kind = reply->element[0];
	payload = reply->element[2];
	if (kind->type != REDIS_REPLY_STRING)
		return;
	if (!strcmp(kind->str, "subscribe")) {
		cl->subscribed = true;
		maybe_sync(cl);
		return;
	}
	if (strcmp(kind->str, "message") || payload->type != REDIS_REPLY_STRING)
		return;
	if (frame_room_id(payload->str, payload->len, room, &id)) {
		log_warn("redis: a malformed message on %s; skipped",
			 CLUSTER_CHANNEL);
		return;
	}
	r = get_room(cl, room);
	if (!r) {
		log_warn("redis: out of memory for room %s", room);
		return;
	}
	offer(r, payload->str, payload->len, id);
}

/* ---- catch-up ---- */

static void fetch(struct cl_room *r);

static void
sync_done(struct cluster *cl)
{
	if (cl->syncs_left && --cl->syncs_left == 0 &&
	    cl->state == CLUSTER_SYNCING) {
		cl->state = CLUSTER_UP;
		log_info("redis: cluster up (%zu rooms)", cl->rooms.count);
	}
}

/* r's stream is read to its end: the held live events follow. */
static void
finish_sync(struct cl_room *r)
{
	struct held *h = r->held;

	r->syncing = false;
	r->held = r->held_tail = NULL;
	while (h) {
		struct held *next = h->next;

		/* offer() may start another catch-up (a gap the stream did
		 * not fill yet): the rest is then held again, in order. */
		offer(r, h->frame, h->len, h->id);
		free(h);
		h = next;
	}
}

static void
on_fetched(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cl_room *r = priv;
	struct cluster *cl = r->cl;
	size_t n;

	(void)l;
	if (!reply || r->gen != cl->gen || !r->syncing)
		return; /* stale: a newer catch-up replaces it */
	if (reply->type != REDIS_REPLY_ARRAY) {
		log_warn("redis: reading room %s: %s", r->name,
			 reply->type == REDIS_REPLY_ERROR ? reply->str
							   : "bad reply");
		redis_link_reset(cl->cmd, "bad stream reply");
		return;
	}
	n = reply->elements;
	for (size_t i = 0; i < n; i++) {
		redisReply *e = reply->element[i], *fields;
		uint64_t id;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		id = strtoull(e->element[0]->str, NULL, 10);
		fields = e->element[1];
		if (fields->type != REDIS_REPLY_ARRAY || fields->elements < 2 ||
		    fields->element[1]->type != REDIS_REPLY_STRING || id <= r->last)
			continue;
		deliver_frame(cl, fields->element[1]->str,
			      fields->element[1]->len, r, id);
	}
	if (n == CLUSTER_SYNC_BATCH) {
		fetch(r);
		return;
	}
	finish_sync(r);
	sync_done(cl);
}

static void
fetch(struct cl_room *r)
{
	struct cluster *cl = r->cl;
	char key[KEY_MAX], start[32], count[16];
	const char *argv[] = { "XRANGE", key, start, "+", "COUNT", count };

	room_key(key, r->name, "log");
	snprintf(start, sizeof(start), "%" PRIu64 "-0", r->last + 1);
	snprintf(count, sizeof(count), "%u", CLUSTER_SYNC_BATCH);
	if (redis_link_command(cl->cmd, false, on_fetched, r, 6, argv, NULL))
		redis_link_reset(cl->cmd, "cannot send a command");
}

/* Catches r up from its stream; counts in syncs_left until it is done. */
static void
start_sync(struct cl_room *r)
{
	struct cluster *cl = r->cl;

	if (r->syncing && r->gen == cl->gen)
		return; /* one is under way; it reads to the end */
	r->syncing = true;
	r->gen = cl->gen;
	cl->syncs_left++;
	if (cl->state == CLUSTER_DOWN)
		return; /* read once the connections are back */
	fetch(r);
}

static void
on_rooms(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cluster *cl = priv;

	(void)l;
	if (!reply || cl->state != CLUSTER_SYNCING)
		return;
	if (reply->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < reply->elements; i++) {
			redisReply *e = reply->element[i];
			struct cl_room *r;

			if (e->type != REDIS_REPLY_STRING ||
			    !name_is_valid(e->str, NAME_ROOM_MAX))
				continue;
			r = get_room(cl, e->str);
			if (r)
				start_sync(r);
		}
	sync_done(cl); /* the guard taken in maybe_sync */
}

static void
on_epoch(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cluster *cl = priv;

	(void)l;
	if (!reply || reply->type != REDIS_REPLY_STRING)
		return;
	if (cl->epoch[0] && strcmp(cl->epoch, reply->str))
		log_warn("redis: it lost its data (a new epoch): room ids "
			 "continue from this instance's history");
	snprintf(cl->epoch, sizeof(cl->epoch), "%s", reply->str);
}

static void
on_ignored(struct redis_link *l, redisReply *reply, void *priv)
{
	(void)l;
	(void)priv;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis: %s", reply->str);
}

struct seed_walk {
	struct cluster *cl;
	int rc;
};

/* Raises the room's counter in Redis to what was delivered here. */
static void
seed_room(const char *name, void *value, void *ud)
{
	struct seed_walk *w = ud;
	struct cl_room *r = value;
	char key[KEY_MAX], last[32];
	const char *argv[] = { "EVAL", seed_script, "2", key, ROOMS_KEY, name,
			       last };

	if (!r->last || w->rc)
		return;
	room_key(key, name, "id");
	snprintf(last, sizeof(last), "%" PRIu64, r->last);
	w->rc = redis_link_command(w->cl->cmd, false, on_ignored, NULL, 7,
				   argv, NULL);
}

/* A room marked for catch-up while the connections were down. */
static void
fetch_waiting(const char *name, void *value, void *ud)
{
	struct cl_room *r = value;

	(void)name;
	(void)ud;
	if (r->syncing)
		fetch(r);
}

/* Both connections are up: check the epoch, put back the counters, then
 * catch every room up. Pipelined on the command connection. */
static void
maybe_sync(struct cluster *cl)
{
	char fresh[64];
	const char *epoch[] = { "EVAL", epoch_script, "1", EPOCH_KEY, fresh };
	const char *rooms[] = { "SMEMBERS", ROOMS_KEY };
	struct seed_walk w = { cl, 0 };

	if (cl->state != CLUSTER_DOWN || !cl->subscribed ||
	    !redis_link_is_up(cl->cmd))
		return;
	cl->state = CLUSTER_SYNCING;
	snprintf(fresh, sizeof(fresh), "%lx-%lx-%d", (long)time(NULL),
		 (long)mono_ns(), (int)getpid());
	cl->syncs_left++; /* a guard until the room list is in */
	if (redis_link_command(cl->cmd, false, on_epoch, cl, 5, epoch, NULL))
		w.rc = -1;
	dict_foreach(&cl->rooms, seed_room, &w);
	if (!w.rc)
		dict_foreach(&cl->rooms, fetch_waiting, NULL);
	if (!w.rc &&
	    redis_link_command(cl->cmd, false, on_rooms, cl, 2, rooms, NULL))
		w.rc = -1;
	if (w.rc)
		redis_link_reset(cl->cmd, "cannot send a command");
}

/* ---- connections ---- */

static void
reset_room(const char *name, void *value, void *ud)
{
	struct cl_room *r = value;

	(void)name;
	(void)ud;
	r->syncing = false;
	drop_held(r);
}

static void
go_down(struct cluster *cl, const char *why)
{
	if (cl->state == CLUSTER_DOWN && !cl->subscribed)
		return;
	if (cl->state != CLUSTER_DOWN)
		log_warn("redis: cluster down (%s): messages are refused "
			 "until it is back", why);
	cl->state = CLUSTER_DOWN;
	cl->subscribed = false;
	cl->gen++;
	cl->syncs_left = 0;
	dict_foreach(&cl->rooms, reset_room, NULL);
	/* Both connections start afresh, so the catch-up that follows
	 * covers everything either of them missed. */
	redis_link_reset(cl->cmd, why);
	redis_link_reset(cl->sub, why);
}

static void
on_cmd_up(struct redis_link *l, void *ud)
{
	(void)l;
	maybe_sync(ud);
}

static void
on_cmd_down(struct redis_link *l, void *ud)
{
	(void)l;
	go_down(ud, "command connection lost");
}

static void
on_sub_up(struct redis_link *l, void *ud)
{
	struct cluster *cl = ud;
	const char *argv[] = { "SUBSCRIBE", CLUSTER_CHANNEL };

	if (redis_link_command(l, true, on_event, cl, 2, argv, NULL))
		redis_link_reset(l, "cannot subscribe");
}

static void
on_sub_down(struct redis_link *l, void *ud)
{
	(void)l;
	go_down(ud, "subscription lost");
}

struct cluster *
cluster_new(struct ev_loop *loop, const struct config *cfg,
	    struct history *history, char *err, size_t errlen)
{
	static const struct redis_link_events cmd_ev = {
		.up = on_cmd_up, .down = on_cmd_down,
	};
	static const struct redis_link_events sub_ev = {
		.up = on_sub_up, .down = on_sub_down,
	};
	struct cluster *cl = calloc(1, sizeof(*cl));

	if (!cl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->loop = loop;
	cl->cfg = cfg;
	cl->history = history;
	dict_init(&cl->rooms, false);
	cl->cmd = redis_link_new(loop, &cfg->redis, "commands", &cmd_ev, cl,
				 err, errlen);
	if (cl->cmd)
		cl->sub = redis_link_new(loop, &cfg->redis, "events", &sub_ev,
					 cl, err, errlen);
	if (!cl->sub) {
		cluster_free(cl);
		return NULL;
	}
	if (cfg->instance_id) {
		snprintf(cl->instance, sizeof(cl->instance), "%s",
			 cfg->instance_id);
	} else {
		char host[64] = "";

		gethostname(host, sizeof(host) - 1);
		snprintf(cl->instance, sizeof(cl->instance), "%s-%d",
			 host[0] ? host : "chatd", (int)getpid());
	}
	log_info("cluster mode: Redis at %s:%u, instance %s", cfg->redis.host,
		 cfg->redis.port, cl->instance);
	return cl;
}

void
cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	cl->chat = NULL;
	cl->state = CLUSTER_DOWN;
	cl->gen++;
	/* Freeing a link runs its callbacks with NULL: they see state DOWN
	 * and a new generation, and do nothing. */
	redis_link_free(cl->sub);
	cl->sub = NULL;
	redis_link_free(cl->cmd);
	cl->cmd = NULL;
	dict_foreach(&cl->rooms, free_room, NULL);
	dict_fini(&cl->rooms);
	free(cl);
}

void
cluster_attach(struct cluster *cl, struct chat *chat)
{
	cl->chat = chat;
	if (chat) {
		redis_link_start(cl->cmd);
		redis_link_start(cl->sub);
	}
}

enum cluster_state
cluster_state(const struct cluster *cl)
{
	return cl->state;
}

/* ---- publishing ---- */

static void
on_published(struct redis_link *l, redisReply *reply, void *priv)
{
	struct publish_ctx *p = priv;
	struct cluster *cl = p->cl;

	(void)l;
	if (reply && reply->type == REDIS_REPLY_INTEGER) {
		chat_latency_count(&cl->stats.publish, mono_ns() - p->start_ns);
	} else {
		if (reply && reply->type == REDIS_REPLY_ERROR)
			log_warn("redis: publish failed: %s", reply->str);
		cl->stats.publish_failed++;
		if (cl->chat)
			chat_publish_failed(cl->chat, p->session_id,
					    p->has_cid ? p->cid : NULL);
	}
	free(p);
}

int
cluster_publish(struct cluster *cl, uint64_t session_id, const char *room,
		const char *head, size_t head_len, const char *tail,
		size_t tail_len, const char *cid)
{
	struct cl_room *r;
	struct publish_ctx *p;
	char id_key[KEY_MAX], log_key[KEY_MAX], floor[32], maxlen[32];
	const char *argv[] = { "EVAL", publish_script, "3", id_key, log_key,
			       ROOMS_KEY, room, floor, head, tail, maxlen,
			       CLUSTER_CHANNEL };
	size_t lens[12];

	if (cl->state != CLUSTER_UP)
		return -1;
	r = get_room(cl, room);
	p = r ? malloc(sizeof(*p)) : NULL;
	if (!p)
		return -1;
	*p = (struct publish_ctx){
		.cl = cl, .session_id = session_id, .start_ns = mono_ns(),
		.gen = cl->gen, .has_cid = cid != NULL,
	};
	if (cid)
		snprintf(p->cid, sizeof(p->cid), "%s", cid);
	room_key(id_key, room, "id");
	room_key(log_key, room, "log");
	snprintf(floor, sizeof(floor), "%" PRIu64, r->last);
	snprintf(maxlen, sizeof(maxlen), "%zu", cl->cfg->history_max);
	/* head and tail are pieces of one buffer, not strings. */
	for (size_t i = 0; i < 12; i++)
		lens[i] = i == 8 ? head_len : i == 9 ? tail_len : strlen(argv[i]);
	if (redis_link_command(cl->cmd, false, on_published, p, 12, argv,
			       lens)) {
		free(p);
		return -1;
	}
	return 0;
}

const struct cluster_stats *
cluster_stats(const struct cluster *cl)
{
	return &cl->stats;
}

uint64_t
cluster_round_trips(const struct cluster *cl)
{
	return redis_link_stats(cl->cmd)->replies;
}

uint64_t
cluster_reconnects(const struct cluster *cl)
{
	return redis_link_stats(cl->cmd)->reconnects +
	       redis_link_stats(cl->sub)->reconnects;
}
