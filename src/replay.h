/*
 * replay: history frames (join replay, `since` recovery, paging) sized for
 * the asker's send queue and encoded once. Owns a scratch buffer of encoded
 * items, reused from frame to frame. Service thread only.
 */
#ifndef CHAT_REPLAY_H
#define CHAT_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct history;

struct replay {
	struct jbuf items; /* the visited messages, encoded, comma-separated */
	size_t *offsets;   /* where each item starts in items */
	unsigned nitems, cap_items;
	bool oom;
};

void replay_init(struct replay *rp);
void replay_fini(struct replay *rp);

/*
 * Builds into out one history frame for room: after true, the oldest
 * messages with id > from (a replay); after false, the newest below from
 * (a page; 0: no bound). At most limit messages, and no more than fit in
 * max_bytes, dropping the newest of a replay or the oldest of a page, with
 * `more` set so the client asks for them; at least one message goes in
 * even when it alone is larger. On out of memory out->oom is set.
 */
void replay_build(struct replay *rp, struct jbuf *out, struct history *h,
		  const char *room, bool after, uint64_t from, unsigned limit,
		  size_t max_bytes);

#endif
