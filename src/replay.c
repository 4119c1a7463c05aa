/*
 * Each message is encoded once, into a scratch list with its offset; the
 * frame is then the longest run of whole items that fits. The old way, a
 * rebuild with half the messages until the frame fit, encoded a 1,000 x
 * 4 KB replay about 49 MB deep to send 369 KB.
 */
#include "replay.h"

#include <stdlib.h>

#include "history.h"

void
replay_init(struct replay *rp)
{
	*rp = (struct replay){ 0 };
	jbuf_init(&rp->items);
}

void
replay_fini(struct replay *rp)
{
	jbuf_fini(&rp->items);
	free(rp->offsets);
}

static void
add_item(const struct chat_record *rec, void *ud)
{
	struct replay *rp = ud;

	if (rp->nitems == rp->cap_items) {
		unsigned cap = rp->cap_items ? rp->cap_items * 2 : 64;
		size_t *o = realloc(rp->offsets, cap * sizeof(*o));

		if (!o) {
			rp->oom = true;
			return;
		}
		rp->offsets = o;
		rp->cap_items = cap;
	}
	rp->offsets[rp->nitems++] = rp->items.len;
	json_history_item(&rp->items, rec);
}

/* Item i's text, without the comma that separates it from the one before. */
static const char *
item(const struct replay *rp, unsigned i, size_t *len)
{
	size_t start = rp->offsets[i];
	size_t end = i + 1 < rp->nitems ? rp->offsets[i + 1] : rp->items.len;

	if (rp->items.data[start] == ',')
		start++;
	*len = end - start;
	return rp->items.data + start;
}

void
replay_build(struct replay *rp, struct jbuf *out, struct history *h,
	     const char *room, bool after, uint64_t from, unsigned limit,
	     size_t max_bytes)
{
	unsigned first, last, i; /* the items that go in: [first, last) */
	size_t used, len;
	bool more = false;

	jbuf_reset(&rp->items);
	rp->nitems = 0;
	rp->oom = false;
	/* The list opens with '[' so json_history_item() puts no comma
	 * before the first item. */
	jbuf_raw(&rp->items, "[", 1);
	if (after)
		history_after(h, room, from, limit, add_item, rp, &more);
	else
		history_before(h, room, from, limit, add_item, rp, &more);

	json_history_begin(out, room);
	used = out->len + sizeof("],\"more\":false}");
	if (rp->oom || rp->items.oom) {
		out->oom = true;
		return;
	}
	first = 0;
	last = rp->nitems;
	if (after) {
		/* A replay keeps its oldest: the client goes on from there. */
		for (i = 0; i < rp->nitems; i++) {
			item(rp, i, &len);
			if (i && used + len + 1 > max_bytes)
				break;
			used += len + 1;
		}
		if (i < rp->nitems)
			more = true;
		last = i;
	} else if (rp->nitems) {
		/* A page keeps its newest: the client pages on below it. */
		for (i = rp->nitems; i > 0; i--) {
			item(rp, i - 1, &len);
			if (i < rp->nitems && used + len + 1 > max_bytes)
				break;
			used += len + 1;
		}
		if (i > 0)
			more = true;
		first = i;
	}
	for (i = first; i < last; i++) {
		const char *p = item(rp, i, &len);

		if (i > first)
			jbuf_raw(out, ",", 1);
		jbuf_raw(out, p, len);
	}
	json_history_end(out, more);
}
