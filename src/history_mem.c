/*
 * In-memory history: per room, a ring of the newest HISTORY_MEM_MAX records.
 * Ids in a room are consecutive, so a record's slot follows from its id.
 */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"

struct stored {
	struct chat_record rec; /* strings point into data[] */
	char data[];
};

struct room_log {
	struct stored **ring; /* grows up to HISTORY_MEM_MAX */
	unsigned cap, start, count;
	uint64_t last_id;
};

struct history {
	struct dict rooms; /* name -> struct room_log */
};

struct history *
history_open(char *err, size_t errlen)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h) {
		strncpy(err, "out of memory", errlen);
		return NULL;
	}
	dict_init(&h->rooms, false);
	return h;
}

static void
free_log(void *value, void *ud)
{
	struct room_log *log = value;

	for (unsigned i = 0; i < log->count; i++)
		free(log->ring[(log->start + i) % log->cap]);
	free(log->ring);
	free(log);
}

void
history_close(struct history *h)
{
	if (!h)
		return;
	dict_foreach(&h->rooms, free_log, NULL);
	dict_fini(&h->rooms);
	free(h);
}

static struct stored *
copy_record(const struct chat_record *r)
{
	size_t room = strlen(r->room) + 1, nick = strlen(r->nick) + 1;
	size_t cid = r->cid ? strlen(r->cid) + 1 : 0;
	struct stored *s = malloc(sizeof(*s) + room + nick + cid + r->text_len + 1);
	char *p;

	if (!s)
		return NULL;
	s->rec = *r;
	p = s->data;
	s->rec.room = memcpy(p, r->room, room);
	p += room;
	s->rec.nick = memcpy(p, r->nick, nick);
	p += nick;
	if (cid) {
		s->rec.cid = memcpy(p, r->cid, cid);
		p += cid;
	}
	s->rec.text = memcpy(p, r->text, r->text_len);
	p[r->text_len] = '\0';
	return s;
}

static int
grow(struct room_log *log)
{
	unsigned cap = log->cap ? log->cap * 2 : 16;
	struct stored **ring;

	if (cap > HISTORY_MEM_MAX)
		cap = HISTORY_MEM_MAX;
	ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (unsigned i = 0; i < log->count; i++)
		ring[i] = log->ring[(log->start + i) % log->cap];
	free(log->ring);
	log->ring = ring;
	log->cap = cap;
	log->start = 0;
	return 0;
}

int
history_append(struct history *h, const struct chat_record *r)
{
	struct room_log *log = dict_get(&h->rooms, r->room);
	struct stored *s;

	if (!log) {
		log = calloc(1, sizeof(*log));
		if (!log)
			return -ENOMEM;
		if (dict_set(&h->rooms, r->room, log)) {
			free(log);
			return -ENOMEM;
		}
	}
	if (r->id <= log->last_id)
		return -EINVAL;
	if (log->count == log->cap && log->cap < HISTORY_MEM_MAX && grow(log))
		return -ENOMEM;
	s = copy_record(r);
	if (!s)
		return -ENOMEM;
	if (log->count == log->cap) {
		/* Full at the maximum: the oldest record makes room. */
		free(log->ring[log->start]);
		log->ring[log->start] = s;
		log->start = (log->start + 1) % log->cap;
	} else {
		log->ring[(log->start + log->count) % log->cap] = s;
		log->count++;
	}
	log->last_id = r->id;
	return 0;
}

uint64_t
history_last_id(struct history *h, const char *room)
{
	struct room_log *log = dict_get(&h->rooms, room);

	return log ? log->last_id : 0;
}

static const struct chat_record *
at(const struct room_log *log, unsigned i)
{
	return &log->ring[(log->start + i) % log->cap]->rec;
}

/* Visits slots [from, to) of the ring. */
static void
visit(const struct room_log *log, unsigned from, unsigned to,
      history_visit_fn fn, void *ud)
{
	for (unsigned i = from; i < to; i++)
		fn(at(log, i), ud);
}

int
history_before(struct history *h, const char *room, uint64_t before,
	       unsigned limit, history_visit_fn fn, void *ud, bool *more)
{
	struct room_log *log = dict_get(&h->rooms, room);
	unsigned end, from;
	uint64_t first;

	*more = false;
	if (!log || !log->count)
		return 0;
	first = at(log, 0)->id;
	if (!before || before > log->last_id)
		end = log->count;
	else if (before <= first)
		return 0;
	else
		end = (unsigned)(before - first);
	from = end > limit ? end - limit : 0;
	*more = from > 0;
	visit(log, from, end, fn, ud);
	return 0;
}

int
history_after(struct history *h, const char *room, uint64_t since,
	      unsigned limit, history_visit_fn fn, void *ud, bool *more)
{
	struct room_log *log = dict_get(&h->rooms, room);
	unsigned from, end;
	uint64_t first;

	*more = false;
	if (!log || !log->count || since >= log->last_id)
		return 0;
	first = at(log, 0)->id;
	from = since < first ? 0 : (unsigned)(since - first + 1);
	end = log->count - from > limit ? from + limit : log->count;
	*more = end < log->count;
	visit(log, from, end, fn, ud);
	return 0;
}
