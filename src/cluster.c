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

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "chat.h"
#include "cluster_lua.h"
#include "config.h"
#include "dict.h"
#include "json.h"
#include "history.h"
#include "log.h"
#include "name.h"
#include "record.h"
#include "redis_link.h"
#include "room.h"
#include "session.h"

#define ROOMS_KEY CLUSTER_KEY_PREFIX "rooms"
#define EPOCH_KEY CLUSTER_KEY_PREFIX "epoch"
#define KEY_MAX (sizeof(CLUSTER_KEY_PREFIX) + NAME_ROOM_MAX + 16)

/* A live event kept while its room catches up. */
struct held {
	struct held *next;
	uint64_t id;
	size_t len;
	char frame[];
};

/*
 * A session as the scripts name it: this process's random boot tag and
 * the session's id, so that an instance restarted under the same
 * --instance-id (whose ids start again from 1) never names a session of
 * its previous life.
 */
#define SID_MAX 40

/* A member of the room on another instance, as its events told. */
struct rmember {
	bool stale; /* its instance is re-announcing its members */
	bool token; /* a token's sub: its other tabs are the same person */
	char sid[SID_MAX];
	char inst[CLUSTER_INSTANCE_MAX + 1];
	char nick[NAME_NICK_MAX + 1];
};

struct cl_room {
	struct cluster *cl;
	uint64_t last;   /* highest id delivered here */
	bool syncing;    /* a catch-up is under way; live events are held */
	unsigned gen;    /* the cluster generation of that catch-up */
	struct held *held, *held_tail;
	unsigned nheld; /* at most HELD_MAX: the stream has the rest */
	struct rmember *rm; /* the members on other instances */
	unsigned nrm, rm_cap;
	/* Indexes over rm, so that an event costs the same in a room of ten
	 * or of ten thousand: "inst\x1fsid" -> index + 1, and each nick
	 * (case-folded) -> how many of rm go by it. */
	struct dict by_key, nicks;
	/* While a snapshot of the members is on its way (on the command
	 * connection, unordered against the channel's events), the members
	 * that events touched meanwhile: the events are newer. */
	bool members_fetching;
	struct dict touched; /* "inst\x1fsid" -> r */
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
	char instance[CLUSTER_INSTANCE_MAX + 1]; /* --instance-id, or
						  * host name and pid */
	char boot[17]; /* this process's tag in session names (SID_MAX) */
	ev_timer heartbeat;
	/* When the subscription last brought anything (every heartbeat
	 * publishes a beat): a silent one has gone half-open. */
	uint64_t last_event_ns;
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
	dict_init(&r->by_key, false);
	dict_init(&r->nicks, true);
	snprintf(r->name, sizeof(r->name), "%s", name);
	/* What the replica holds is what was delivered here before. */
	r->last = history_last_id(cl->history, name);
	if (dict_set(&cl->rooms, r->name, r)) {
		dict_fini(&r->by_key);
		dict_fini(&r->nicks);
		free(r);
		return NULL;
	}
	return r;
}

static void
drop_held(struct cl_room *r)
{
	r->nheld = 0;
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
	struct cl_room *r = value;

	(void)name;
	(void)ud;
	drop_held(r);
	if (r->members_fetching)
		dict_fini(&r->touched);
	dict_fini(&r->by_key);
	dict_fini(&r->nicks);
	free(r->rm);
	free(r);
}

/* ---- delivery ---- */

/* A message frame as it came from Redis, for the replica and the room's
 * members here; parsed is its JSON when the caller has it already. */
static int
deliver_frame(struct cluster *cl, const char *frame, size_t len,
	      struct cl_room *r, uint64_t id, json_t *parsed)
{
	json_error_t jerr;
	json_t *o = parsed ? json_incref(parsed)
			   : json_loadb(frame, len, JSON_ALLOW_NUL, &jerr);
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

/* The room and id of a message frame, parsed for real (not trusted to
 * json.c's layout); -1 when o is not a message frame. */
static int
frame_room_id(json_t *o, char *room, uint64_t *id)
{
	const char *name = json_string_value(json_object_get(o, "room"));
	json_t *jid = json_object_get(o, "id");

	if (!name || !name_is_valid(name, NAME_ROOM_MAX) ||
	    !json_is_integer(jid) || json_integer_value(jid) <= 0)
		return -1;
	strcpy(room, name);
	*id = (uint64_t)json_integer_value(jid);
	return 0;
}

static void start_sync(struct cl_room *r);
static void maybe_sync(struct cluster *cl);

/* Live events kept per room while it catches up; past it they are left
 * to the stream, which the catch-up reads to its end anyway. */
#define HELD_MAX 10000

static int
hold(struct cl_room *r, const char *frame, size_t len, uint64_t id)
{
	struct held *h;

	if (r->nheld >= HELD_MAX)
		return 0;
	h = malloc(sizeof(*h) + len);
	if (!h)
		return -1;
	r->nheld++;
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
offer(struct cl_room *r, const char *frame, size_t len, uint64_t id,
      json_t *parsed)
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
		deliver_frame(r->cl, frame, len, r, id, parsed);
		return;
	}
	hold(r, frame, len, id);
	start_sync(r);
}

/* ---- the other instances' members ---- */

#define RM_KEY_MAX (CLUSTER_INSTANCE_MAX + SID_MAX + 2)

static void
rm_key(char *out, const char *inst, const char *sid)
{
	snprintf(out, RM_KEY_MAX, "%s\x1f%s", inst, sid);
}

static struct rmember *
rm_find(struct cl_room *r, const char *inst, const char *sid)
{
	char key[RM_KEY_MAX];
	uintptr_t at;

	rm_key(key, inst, sid);
	at = (uintptr_t)dict_get(&r->by_key, key);
	return at ? &r->rm[at - 1] : NULL;
}

/* Counts one more (delta 1) or one fewer (-1) of r's members by nick. Out
 * of memory the count is lost: presence may then say a join twice. */
static void
nick_count(struct cl_room *r, const char *nick, int delta)
{
	uintptr_t n = (uintptr_t)dict_get(&r->nicks, nick) + (uintptr_t)delta;

	if (n)
		dict_set(&r->nicks, nick, (void *)n);
	else
		dict_del(&r->nicks, nick);
}

/* Whether anyone in r goes by nick: another instance's member, or one of
 * this instance's (one person's tabs count once). */
static bool
nick_present(const struct cluster *cl, const struct cl_room *r,
	     const char *nick)
{
	return dict_get(&r->nicks, nick) ||
	       (cl->chat && chat_room_has_nick(cl->chat, r->name, nick));
}

static void
announce(struct cluster *cl, struct cl_room *r, const char *event,
	 const char *nick, const char *old)
{
	if (cl->chat)
		chat_remote_presence(cl->chat, r->name, event, nick, old);
}

static void
rm_join(struct cluster *cl, struct cl_room *r, const char *inst,
	const char *sid, const char *nick, bool token)
{
	struct rmember *m = rm_find(r, inst, sid);
	char key[RM_KEY_MAX];
	bool present;

	if (m) {
		m->stale = false;
		if (strcmp(m->nick, nick)) {
			char old[NAME_NICK_MAX + 1];

			strcpy(old, m->nick);
			nick_count(r, old, -1);
			snprintf(m->nick, sizeof(m->nick), "%s", nick);
			nick_count(r, m->nick, 1);
			announce(cl, r, "nick", m->nick, old);
		}
		return;
	}
	if (r->nrm == r->rm_cap) {
		unsigned cap = r->rm_cap ? r->rm_cap * 2 : 8;
		struct rmember *v = realloc(r->rm, cap * sizeof(*v));

		if (!v) {
			log_warn("redis: out of memory for a member of room %s",
				 r->name);
			return;
		}
		r->rm = v;
		r->rm_cap = cap;
	}
	present = nick_present(cl, r, nick);
	rm_key(key, inst, sid);
	if (dict_set(&r->by_key, key, (void *)(uintptr_t)(r->nrm + 1))) {
		log_warn("redis: out of memory for a member of room %s",
			 r->name);
		return;
	}
	m = &r->rm[r->nrm++];
	*m = (struct rmember){ .token = token };
	snprintf(m->sid, sizeof(m->sid), "%s", sid);
	snprintf(m->inst, sizeof(m->inst), "%s", inst);
	snprintf(m->nick, sizeof(m->nick), "%s", nick);
	nick_count(r, m->nick, 1);
	if (!present)
		announce(cl, r, "join", m->nick, NULL);
}

/* Removes r->rm[i] (the last one takes its place: order is not kept),
 * with leave presence when its nick is not in the room any more. Walks
 * that remove go from the end, so the one moved in was seen already. */
static void
rm_remove_at(struct cluster *cl, struct cl_room *r, unsigned i)
{
	char nick[NAME_NICK_MAX + 1], key[RM_KEY_MAX];
	unsigned last = r->nrm - 1;

	strcpy(nick, r->rm[i].nick);
	rm_key(key, r->rm[i].inst, r->rm[i].sid);
	dict_del(&r->by_key, key);
	nick_count(r, nick, -1);
	if (i != last) {
		r->rm[i] = r->rm[last];
		rm_key(key, r->rm[i].inst, r->rm[i].sid);
		/* Replacing a key that exists allocates nothing. */
		dict_set(&r->by_key, key, (void *)(uintptr_t)(i + 1));
	}
	r->nrm--;
	if (!nick_present(cl, r, nick))
		announce(cl, r, "leave", nick, NULL);
}

static void
rm_leave(struct cluster *cl, struct cl_room *r, const char *inst,
	 const char *sid)
{
	struct rmember *m = rm_find(r, inst, sid);

	if (m)
		rm_remove_at(cl, r, (unsigned)(m - r->rm));
}

/* Every member of inst in every room: only the stale ones, or all. */
struct inst_walk {
	struct cluster *cl;
	const char *inst;
	bool stale_only;
	bool mark; /* mark stale instead of removing */
};

static void
walk_inst(const char *name, void *value, void *ud)
{
	struct inst_walk *w = ud;
	struct cl_room *r = value;

	(void)name;
	for (unsigned i = r->nrm; i-- > 0;) {
		if (strcmp(r->rm[i].inst, w->inst))
			continue;
		if (w->mark)
			r->rm[i].stale = true;
		else if (!w->stale_only || r->rm[i].stale)
			rm_remove_at(w->cl, r, i);
	}
}

static void
each_of_inst(struct cluster *cl, const char *inst, bool stale_only, bool mark)
{
	struct inst_walk w = { cl, inst, stale_only, mark };

	dict_foreach(&cl->rooms, walk_inst, &w);
}

static void reannounce(struct cluster *cl);

/* An event about inst's session sid in r, newer than a snapshot on its
 * way (members_fetching). */
static void
touch(struct cl_room *r, const char *inst, const char *sid)
{
	char key[RM_KEY_MAX];

	if (!r->members_fetching)
		return;
	rm_key(key, inst, sid);
	dict_set(&r->touched, key, r);
}

/* An event of another instance's presence (or of this one's, ignored:
 * it was shown here when it happened). */
static void
on_presence_event(struct cluster *cl, json_t *o)
{
	const char *x = json_string_value(json_object_get(o, "x"));
	const char *inst = json_string_value(json_object_get(o, "inst"));
	const char *sid = json_string_value(json_object_get(o, "sid"));
	const char *room = json_string_value(json_object_get(o, "room"));
	const char *nick = json_string_value(json_object_get(o, "nick"));
	const char *tok = json_string_value(json_object_get(o, "tok"));
	bool token = tok && !strcmp(tok, "1");
	struct cl_room *r;

	if (!x || !inst)
		return;
	if (!strcmp(x, "gone")) {
		/* Purged as dead while alive (a long partition): say again
		 * who is here. */
		if (!strcmp(inst, cl->instance))
			reannounce(cl);
		else
			each_of_inst(cl, inst, false, false);
		return;
	}
	if (!strcmp(inst, cl->instance))
		return;
	if (!strcmp(x, "reset")) {
		each_of_inst(cl, inst, false, true);
	} else if (!strcmp(x, "synced")) {
		each_of_inst(cl, inst, true, false);
	} else if (!strcmp(x, "typing")) {
		if (cl->chat && room && nick && name_is_valid(room, NAME_ROOM_MAX))
			chat_remote_typing(cl->chat, room, nick);
	} else if (!strcmp(x, "nick")) {
		json_t *rooms = json_object_get(o, "rooms");
		size_t i;
		json_t *v;

		if (!nick || !json_is_array(rooms))
			return; /* cjson writes no rooms as {} */
		json_array_foreach(rooms, i, v) {
			const char *name = json_string_value(v);

			r = name && sid ? dict_get(&cl->rooms, name) : NULL;
			if (r && rm_find(r, inst, sid)) {
				touch(r, inst, sid);
				rm_join(cl, r, inst, sid, nick, token);
			}
		}
	} else if (room && name_is_valid(room, NAME_ROOM_MAX) && sid) {
		if (!strcmp(x, "join") && nick &&
		    name_is_valid(nick, NAME_NICK_MAX)) {
			r = get_room(cl, room);
			if (r) {
				touch(r, inst, sid);
				rm_join(cl, r, inst, sid, nick, token);
			}
		} else if (!strcmp(x, "leave")) {
			r = dict_get(&cl->rooms, room);
			if (r) {
				touch(r, inst, sid);
				rm_leave(cl, r, inst, sid);
			}
		}
	}
}

/* A catch-up's view of r's members: what the events missed is put right,
 * with presence for the difference. */
static void
on_members(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cl_room *r = priv;
	struct cluster *cl = r->cl;
	char key[RM_KEY_MAX];

	(void)l;
	if (!r->members_fetching)
		return;
	if (!reply || reply->type != REDIS_REPLY_ARRAY || r->gen != cl->gen)
		goto done;
	/* Members the events touched meanwhile stay as the events left
	 * them; the rest is made what the snapshot says. */
	for (unsigned i = 0; i < r->nrm; i++) {
		rm_key(key, r->rm[i].inst, r->rm[i].sid);
		r->rm[i].stale = !dict_get(&r->touched, key);
	}
	for (size_t i = 0; i + 1 < reply->elements; i += 2) {
		redisReply *k = reply->element[i], *v = reply->element[i + 1];
		char inst[CLUSTER_INSTANCE_MAX + 1], nick[NAME_NICK_MAX + 1];
		const char *us, *vs;
		size_t n, vn;

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    dict_get(&r->touched, k->str))
			continue;
		/* key "inst\x1fsid", value "nick\x1ftoken" */
		us = memchr(k->str, '\x1f', k->len);
		vs = memchr(v->str, '\x1f', v->len);
		n = us ? (size_t)(us - k->str) : 0;
		vn = vs ? (size_t)(vs - v->str) : 0;
		if (!n || n > CLUSTER_INSTANCE_MAX || !vn ||
		    vn > NAME_NICK_MAX || strlen(us + 1) >= SID_MAX)
			continue;
		memcpy(inst, k->str, n);
		inst[n] = 0;
		memcpy(nick, v->str, vn);
		nick[vn] = 0;
		if (strcmp(inst, cl->instance) &&
		    name_is_valid(nick, NAME_NICK_MAX))
			rm_join(cl, r, inst, us + 1, nick, !strcmp(vs + 1, "1"));
	}
	for (unsigned i = r->nrm; i-- > 0;)
		if (r->rm[i].stale)
			rm_remove_at(cl, r, i);
done:
	r->members_fetching = false;
	dict_fini(&r->touched);
}

int
cluster_foreach_member(const struct cluster *cl, const char *room,
		       void (*fn)(const char *nick, void *ud), void *ud)
{
	const struct cl_room *r = dict_get(&cl->rooms, room);
	/* Nicks already counted, for rooms too big to compare pairwise. */
	struct dict seen_set;
	bool big = r && r->nrm > 32;
	int n = 0;

	if (!r)
		return 0;
	dict_init(&seen_set, true);
	for (unsigned i = 0; i < r->nrm; i++) {
		const char *nick = r->rm[i].nick;
		bool seen = cl->chat && chat_room_has_nick(cl->chat, room, nick);

		if (big)
			seen = seen || dict_get(&seen_set, nick) ||
			       dict_set(&seen_set, nick, (void *)r);
		for (unsigned j = 0; !big && j < i && !seen; j++)
			seen = !strcasecmp(r->rm[j].nick, nick);
		if (seen)
			continue;
		if (fn)
			fn(nick, ud);
		n++;
	}
	dict_fini(&seen_set);
	return n;
}

bool
cluster_room_has_nick(const struct cluster *cl, const char *room,
		      const char *nick)
{
	const struct cl_room *r = dict_get(&cl->rooms, room);

	return r && dict_get(&r->nicks, nick);
}

struct nick_walk {
	const char *nick;
	bool held;
};

static void
walk_nick(const char *name, void *value, void *ud)
{
	const struct cl_room *r = value;
	struct nick_walk *w = ud;

	(void)name;
	for (unsigned i = 0; i < r->nrm && !w->held; i++)
		if (!strcasecmp(r->rm[i].nick, w->nick) &&
		    (!r->rm[i].token || strcmp(r->rm[i].nick, w->nick)))
			w->held = true;
}

/* What this instance knows: the members of every room it has heard of.
 * A session in no room is not seen here; Redis then refuses the
 * registration (cluster_session_started), and the session is closed. */
bool
cluster_nick_held_elsewhere(const struct cluster *cl, const char *nick)
{
	struct nick_walk w = { nick, false };

	dict_foreach(&cl->rooms, walk_nick, &w);
	return w.held;
}

/* ---- this instance's presence, told to the others ---- */

/* Scripts may run while catching up, before messages are taken again. */
static bool
can_send(const struct cluster *cl)
{
	return cl->state != CLUSTER_DOWN && redis_link_is_up(cl->cmd);
}

#define SCRIPT_ARGS_MAX (8 + SESSION_MAX_ROOMS)

static void
on_script(struct redis_link *l, redisReply *reply, void *priv)
{
	(void)l;
	(void)priv;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis: a script failed: %s", reply->str);
}

/* EVAL of one of cluster_lua's scripts: ARGV is the prefix, the channel,
 * then args. */
static int
run_script(struct cluster *cl, const char *script, redis_link_reply_fn cb,
	   void *priv, int argc, const char **args)
{
	const char *argv[5 + SCRIPT_ARGS_MAX] = {
		"EVAL", script, "0", CLUSTER_KEY_PREFIX, CLUSTER_CHANNEL,
	};

	if (argc > SCRIPT_ARGS_MAX)
		return -1;
	memcpy(argv + 5, args, (size_t)argc * sizeof(*args));
	return redis_link_command(cl->cmd, false, cb ? cb : on_script, priv,
				  5 + argc, argv, NULL);
}

/* A session's names for the scripts: its id, its nick folded, who owns
 * the nick (the session, or a token's sub, whose tabs share it). */
struct who {
	char sid[SID_MAX];
	char fold[NAME_NICK_MAX + 1];
	char owner[CLUSTER_INSTANCE_MAX + SID_MAX + 2];
	const char *token;
};

static void
who_is(const struct cluster *cl, const struct session *s, const char *nick,
       struct who *w)
{
	size_t i;

	snprintf(w->sid, sizeof(w->sid), "%s.%" PRIu64, cl->boot, s->id);
	for (i = 0; nick[i] && i < NAME_NICK_MAX; i++)
		w->fold[i] = (char)tolower((unsigned char)nick[i]);
	w->fold[i] = 0;
	if (s->claims)
		snprintf(w->owner, sizeof(w->owner), "\x1e%s", nick);
	else
		snprintf(w->owner, sizeof(w->owner), "%s:%s", cl->instance,
			 w->sid);
	w->token = s->claims ? "1" : "0";
}

/* Whose nick a registration's or a claim's reply is about. */
struct nick_ctx {
	struct cluster *cl;
	uint64_t session_id;
	bool token;
	char nick[NAME_NICK_MAX + 1];
};

static struct nick_ctx *
nick_ctx_new(struct cluster *cl, const struct session *s, const char *nick)
{
	struct nick_ctx *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = (struct nick_ctx){ .cl = cl, .session_id = s->id,
				.token = s->claims != NULL };
	snprintf(c->nick, sizeof(c->nick), "%s", nick);
	return c;
}

static void
on_registered(struct redis_link *l, redisReply *reply, void *priv)
{
	struct nick_ctx *c = priv;

	(void)l;
	if (reply && reply->type == REDIS_REPLY_INTEGER && !reply->integer) {
		log_warn("redis: nick %s is also held on another instance%s",
			 c->nick, c->token ? "; its session here is closed" : "");
		/* A token's nick cannot be changed: the later one goes. A
		 * guest's 48 random bits meeting another's is left be. */
		if (c->token && c->cl->chat)
			chat_nick_refused(c->cl->chat, c->session_id);
	} else if (reply && reply->type == REDIS_REPLY_ERROR) {
		log_warn("redis: a script failed: %s", reply->str);
	}
	free(c);
}

void
cluster_session_started(struct cluster *cl, const struct session *s)
{
	struct nick_ctx *c;
	struct who w;

	if (!can_send(cl) || !(c = nick_ctx_new(cl, s, s->nick)))
		return;
	who_is(cl, s, s->nick, &w);
	const char *args[] = { cl->instance, w.sid, w.fold, w.owner, w.token };
	if (run_script(cl, cluster_lua_register, on_registered, c, 5, args))
		free(c);
}

static void
room_script(struct cluster *cl, const char *script, const struct session *s,
	    const char *room)
{
	struct who w;

	if (!can_send(cl))
		return;
	who_is(cl, s, s->nick, &w);
	const char *args[] = { cl->instance, w.sid, room, s->nick, w.token };
	run_script(cl, script, NULL, NULL, 5, args);
}

void
cluster_joined(struct cluster *cl, const struct session *s, const char *room)
{
	room_script(cl, cluster_lua_join, s, room);
}

void
cluster_left(struct cluster *cl, const struct session *s, const char *room)
{
	room_script(cl, cluster_lua_leave, s, room);
}

/* Frees whatever nick Redis records for the session (cluster_lua_bye). */
static void
bye(struct cluster *cl, uint64_t session_id)
{
	char sid[SID_MAX];

	if (!can_send(cl))
		return;
	snprintf(sid, sizeof(sid), "%s.%" PRIu64, cl->boot, session_id);
	const char *args[] = { cl->instance, sid };
	run_script(cl, cluster_lua_bye, NULL, NULL, 2, args);
}

void
cluster_session_ended(struct cluster *cl, const struct session *s)
{
	bye(cl, s->id);
}

/* An event that changes nothing in Redis: published as it is, and o
 * (a new reference, may be NULL) is let go. */
static void
publish_event(struct cluster *cl, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text) {
		const char *argv[] = { "PUBLISH", CLUSTER_CHANNEL, text };

		redis_link_command(cl->cmd, false, on_script, NULL, 3, argv,
				   NULL);
	}
	free(text);
	json_decref(o);
}

void
cluster_typing(struct cluster *cl, const struct session *s, const char *room)
{
	if (can_send(cl))
		publish_event(cl, json_pack("{s:s, s:s, s:s, s:s}", "x",
					    "typing", "inst", cl->instance,
					    "room", room, "nick", s->nick));
}

static void
on_claimed(struct redis_link *l, redisReply *reply, void *priv)
{
	struct nick_ctx *c = priv;
	struct cluster *cl = c->cl;
	int result = !reply || reply->type != REDIS_REPLY_INTEGER
			     ? -1
			     : reply->integer ? 1 : 0;

	(void)l;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis: nick claim failed: %s", reply->str);
	/* A session gone meanwhile: what Redis granted it goes again (its
	 * own bye may have run before the rename did). */
	if ((!cl->chat || !chat_nick_claimed(cl->chat, c->session_id, c->nick,
					     result)) &&
	    result == 1)
		bye(cl, c->session_id);
	free(c);
}

/* Runs the rename script for s from nick `from` to nick `to` (s's rooms
 * get the new nick); cb answers it, or nothing does when cb is NULL. */
static int
rename_script(struct cluster *cl, const struct session *s, const char *from,
	      const char *to, redis_link_reply_fn cb, void *priv)
{
	const char *args[8 + SESSION_MAX_ROOMS];
	struct who w, old;
	int n = 0;

	who_is(cl, s, to, &w);
	who_is(cl, s, from, &old);
	args[n++] = cl->instance;
	args[n++] = w.sid;
	args[n++] = w.fold;
	args[n++] = w.owner;
	args[n++] = w.token;
	args[n++] = old.fold;
	args[n++] = to;
	args[n++] = from;
	for (unsigned i = 0; i < s->nrooms && n < 8 + SESSION_MAX_ROOMS; i++)
		args[n++] = s->rooms[i]->name;
	return run_script(cl, cluster_lua_rename, cb, priv, n, args);
}

int
cluster_claim_nick(struct cluster *cl, const struct session *s,
		   const char *nick)
{
	struct nick_ctx *c;

	if (cl->state != CLUSTER_UP || s->claims ||
	    !(c = nick_ctx_new(cl, s, nick)))
		return -1;
	if (rename_script(cl, s, s->nick, c->nick, on_claimed, c)) {
		free(c);
		return -1;
	}
	return 0;
}

void
cluster_rename_back(struct cluster *cl, const struct session *s,
		    const char *granted)
{
	if (can_send(cl))
		rename_script(cl, s, granted, s->nick, NULL, NULL);
}

/* This instance's members, afresh: the others mark what they knew of it
 * stale, learn it again, and drop what was not said again. */
static void
reannounce(struct cluster *cl)
{
	const char *inst[] = { cl->instance };

	if (!can_send(cl))
		return;
	run_script(cl, cluster_lua_reset, NULL, NULL, 1, inst);
	if (cl->chat)
		chat_cluster_reannounce(cl->chat);
	publish_event(cl, json_pack("{s:s, s:s}", "x", "synced", "inst",
				    cl->instance));
}

static void
on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *cl = w->data;
	char dead[16], pause[16];
	const char *args[] = { cl->instance, dead, pause };

	(void)loop;
	(void)revents;
	if (!can_send(cl))
		return;
	if (cl->state == CLUSTER_UP &&
	    mono_ns() - cl->last_event_ns >
		    3ull * CLUSTER_HEARTBEAT_MS * 1000000u) {
		redis_link_reset(cl->sub, "no beat on the subscription");
		return;
	}
	snprintf(dead, sizeof(dead), "%d", CLUSTER_DEAD_MS);
	snprintf(pause, sizeof(pause), "%d", CLUSTER_PAUSE_MS);
	run_script(cl, cluster_lua_heartbeat, NULL, NULL, 3, args);
}

static void
on_event(struct redis_link *l, redisReply *reply, void *priv)
{
	struct cluster *cl = priv;
	char room[NAME_ROOM_MAX + 1];
	redisReply *kind, *payload;
	struct cl_room *r;
	json_error_t jerr;
	json_t *o;
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
	cl->last_event_ns = mono_ns();
	if (!strcmp(kind->str, "subscribe")) {
		cl->subscribed = true;
		maybe_sync(cl);
		return;
	}
	if (strcmp(kind->str, "message") || payload->type != REDIS_REPLY_STRING)
		return;
	o = json_loadb(payload->str, payload->len, JSON_ALLOW_NUL, &jerr);
	if (json_object_get(o, "x")) {
		on_presence_event(cl, o);
	} else if (frame_room_id(o, room, &id)) {
		log_warn("redis: a malformed message on %s; skipped",
			 CLUSTER_CHANNEL);
	} else if (!(r = get_room(cl, room))) {
		log_warn("redis: out of memory for room %s", room);
	} else {
		offer(r, payload->str, payload->len, id, o);
	}
	json_decref(o);
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

/* r's stream is read to its end: the held live events follow, in order.
 * A gap left now is one the stream cannot fill (trimmed, or lost with a
 * Redis that restarted): waiting for it again would hold the room for
 * good, so the messages that exist go out. */
static void
finish_sync(struct cl_room *r)
{
	struct held *h = r->held;

	r->syncing = false;
	r->held = r->held_tail = NULL;
	r->nheld = 0;
	while (h) {
		struct held *next = h->next;

		if (h->id > r->last)
			deliver_frame(r->cl, h->frame, h->len, r, h->id, NULL);
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
			      fields->element[1]->len, r, id, NULL);
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

/* Who is in r on the other instances, for on_members. */
static void
fetch_members(struct cl_room *r)
{
	char key[KEY_MAX];
	const char *argv[] = { "HGETALL", key };

	if (r->members_fetching)
		return; /* one is on its way: it answers this too */
	room_key(key, r->name, "members");
	dict_init(&r->touched, false);
	r->members_fetching = true;
	if (redis_link_command(r->cl->cmd, false, on_members, r, 2, argv,
			       NULL)) {
		r->members_fetching = false;
		dict_fini(&r->touched);
	}
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
			if (!r)
				continue;
			start_sync(r);
			fetch_members(r);
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
	const char *argv[] = { "EVAL", cluster_lua_seed, "2", key, ROOMS_KEY, name,
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
	const char *epoch[] = { "EVAL", cluster_lua_epoch, "1", EPOCH_KEY, fresh };
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
	if (!w.rc) {
		/* Alive before anything of it is in Redis, so that if it
		 * dies now, it is purged; then who is here (this instance
		 * may have been purged while away), and the rooms caught
		 * up. */
		on_heartbeat(cl->loop, &cl->heartbeat, 0);
		reannounce(cl);
		dict_foreach(&cl->rooms, fetch_waiting, NULL);
	}
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
	{
		uint64_t tag = 0;

		if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) != sizeof(tag))
			tag = mono_ns() ^ (uint64_t)getpid() << 32;
		snprintf(cl->boot, sizeof(cl->boot), "%016" PRIx64, tag);
	}
	if (cfg->instance_id) {
		snprintf(cl->instance, sizeof(cl->instance), "%s",
			 cfg->instance_id);
	} else {
		char host[64] = "";

		/* A host name is letters, digits, dots and dashes: a valid
		 * instance name once cut to fit beside the pid. */
		gethostname(host, 48);
		snprintf(cl->instance, sizeof(cl->instance), "%.48s-%d",
			 host[0] ? host : "chatd", (int)getpid());
	}
	log_info("cluster mode: Redis at %s:%u, instance %s", cfg->redis.host,
		 cfg->redis.port, cl->instance);
	ev_timer_init(&cl->heartbeat, on_heartbeat,
		      CLUSTER_HEARTBEAT_MS / 1000.0,
		      CLUSTER_HEARTBEAT_MS / 1000.0);
	cl->heartbeat.data = cl;
	return cl;
}

void
cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	ev_timer_stop(cl->loop, &cl->heartbeat);
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

/* Every room the replica holds is known before the first catch-up, so
 * that its counter is raised in a Redis that came back empty. */
static void
know_room(const char *room, void *ud)
{
	if (name_is_valid(room, NAME_ROOM_MAX))
		get_room(ud, room);
}

void
cluster_attach(struct cluster *cl, struct chat *chat)
{
	cl->chat = chat;
	if (chat && !cl->rooms.count)
		history_foreach_room(cl->history, know_room, cl);
	if (chat) {
		redis_link_start(cl->cmd);
		redis_link_start(cl->sub);
		ev_timer_start(cl->loop, &cl->heartbeat);
	}
}

enum cluster_state
cluster_state(const struct cluster *cl)
{
	return cl->state;
}

void
cluster_stop(struct cluster *cl, struct ev_loop *loop, int timeout_ms)
{
	const char *inst[] = { cl->instance };
	uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;

	ev_timer_stop(loop, &cl->heartbeat);
	if (!can_send(cl) ||
	    run_script(cl, cluster_lua_purge, NULL, NULL, 1, inst))
		return;
	/* The watchdog (100 ms) bounds each wait. */
	while (redis_link_pending(cl->cmd) && mono_ns() < end)
		ev_run(loop, EVRUN_ONCE);
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
	const char *argv[] = { "EVAL", cluster_lua_publish, "3", id_key, log_key,
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
