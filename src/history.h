/*
 * history: the durable message store behind join replay, paging and resend
 * de-duplication, in SQLite (a file, or ":memory:").
 *
 * Writes are grouped: history_append() adds to an open transaction and
 * history_commit() ends it, so one commit covers every message received in
 * an event-loop turn. Readers see appended records at once (same connection).
 * Records passed to a visitor are borrowed, valid only during the call,
 * oldest first. Service thread only; nothing here waits on another process.
 */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define HISTORY_SCHEMA_VERSION 1
/* Resends are recognised among this many newest messages of a room. */
#define HISTORY_CID_WINDOW 10000
/* Retention deletes at most this many rows of a room per commit. */
#define HISTORY_TRIM_BATCH 500

struct history;

typedef void (*history_visit_fn)(const struct chat_record *r, void *ud);

/*
 * Opens (creating or migrating) the store at path, keeping at most
 * max_per_room messages per room. NULL with err filled when the file cannot
 * be opened or written, is not a chatd database, is corrupt, or comes from a
 * newer schema; such a file is never modified.
 */
struct history *history_open(const char *path, uint64_t max_per_room,
			     char *err, size_t errlen);
/* Commits what is pending, then closes. */
void history_close(struct history *h);

/*
 * Adds a copy of r to the open transaction (begun if needed). 0, -EIO, or
 * -ECANCELED when SQLite rolled the whole open transaction back (disk full,
 * I/O error): everything appended since the last commit is gone.
 */
int history_append(struct history *h, const struct chat_record *r);
/* Commits the open transaction, if any, then trims the rooms it touched.
 * 0, or -EIO when the commit failed (the appended records are gone). */
int history_commit(struct history *h);
bool history_has_pending(const struct history *h);

/* The highest id stored for room, 0 when none. */
uint64_t history_last_id(struct history *h, const char *room);

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
