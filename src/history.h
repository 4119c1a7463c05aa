/*
 * history: the durable message store behind join replay, paging and resend
 * de-duplication, in SQLite (a file, or ":memory:").
 *
 * Writes are grouped: history_append() adds to an open transaction and
 * history_commit() ends it, so one commit covers every message received in
 * an event-loop turn. Readers see appended records at once (same connection).
 * Records passed to a visitor are borrowed, valid only during the call,
 * oldest first. Service thread only; nothing here waits on another process
 * for longer than HISTORY_BUSY_TIMEOUT_MS (its lock on the file).
 */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define HISTORY_SCHEMA_VERSION 2
/* Resends are recognised among this many newest messages of a room. */
#define HISTORY_CID_WINDOW 10000
/* Retention deletes at most this many rows of a room per commit, and
 * the store-wide bound this many beyond what the commit added. */
#define HISTORY_TRIM_BATCH 500
/* How long a write waits for another process's lock before it fails. */
#define HISTORY_BUSY_TIMEOUT_MS 250

struct history;

typedef void (*history_visit_fn)(const struct chat_record *r, void *ud);

/*
 * Opens (creating or migrating) the store at path, keeping at most
 * max_per_room messages per room and max_total (at least 1) in all: a commit
 * deletes the oldest messages of any room beyond it. NULL with err filled
 * when the file cannot be opened or written, is not a chatd database, is
 * corrupt, or comes from a newer schema; such a file is never modified.
 */
struct history *history_open(const char *path, uint64_t max_per_room,
			     uint64_t max_total, char *err, size_t errlen);
/* Commits what is pending, then closes. */
void history_close(struct history *h);

/*
 * Adds a copy of r to the open transaction (begun if needed). 0, -EIO,
 * -EBUSY when another process held the write lock for longer than
 * HISTORY_BUSY_TIMEOUT_MS (nothing changed; a later append may succeed), or
 * -ECANCELED when SQLite rolled the whole open transaction back (disk full,
 * I/O error): everything appended since the last commit is gone.
 */
int history_append(struct history *h, const struct chat_record *r);
/* Trims the rooms the open transaction touched, then the store as a whole,
 * and commits it all, if anything is open. 0, or -EIO when the commit
 * failed (the appended records are gone). */
int history_commit(struct history *h);
bool history_has_pending(const struct history *h);

/*
 * The highest id stored for room. When none is (a new room, or one the
 * store-wide bound emptied), the highest id of any room the bound emptied,
 * so that ids are never reused; 0 before that ever happened.
 */
uint64_t history_last_id(struct history *h, const char *room);
/* Calls fn for every room that has messages, in name order. */
void history_foreach_room(struct history *h,
			  void (*fn)(const char *room, void *ud), void *ud);

/* Messages stored, the open transaction's included (kept, not queried). */
uint64_t history_count(const struct history *h);

/*
 * Visits up to limit records of room with id < before (before 0: no bound),
 * the newest ones, oldest first. *more tells whether older ones exist.
 */
int history_before(struct history *h, const char *room, uint64_t before,
		   unsigned limit, history_visit_fn fn, void *ud, bool *more);

/*
 * Visits up to limit records of room with id > since, the oldest ones,
 * oldest first. *more tells whether newer ones were left out.
 */
int history_after(struct history *h, const char *room, uint64_t since,
		  unsigned limit, history_visit_fn fn, void *ud, bool *more);

/*
 * Finds the message nick sent to room with this cid among the room's newest
 * HISTORY_CID_WINDOW; visits it and returns 1, 0 when there is none, -EIO.
 */
int history_find_cid(struct history *h, const char *room, const char *nick,
		     const char *cid, history_visit_fn fn, void *ud);

#endif
