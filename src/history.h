/*
 * history: the message store behind join replay and paging. Records are
 * copied in; readers get borrowed records, valid only during the callback,
 * oldest first. Service thread only.
 *
 * This build keeps the newest HISTORY_MEM_MAX records of each room in memory.
 */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define HISTORY_MEM_MAX 10000

struct history;

typedef void (*history_visit_fn)(const struct chat_record *r, void *ud);

/* NULL and a message in err when it cannot be opened. */
struct history *history_open(char *err, size_t errlen);
void history_close(struct history *h);

/* Stores a copy of r, whose id must be above the room's last. 0 or -errno. */
int history_append(struct history *h, const struct chat_record *r);

/* The highest id stored for room, 0 when none. */
uint64_t history_last_id(struct history *h, const char *room);

/*
 * Visits up to limit records of room with id < before (before 0: no bound),
 * the newest ones, oldest first. *more tells whether older records exist.
 */
int history_before(struct history *h, const char *room, uint64_t before,
		   unsigned limit, history_visit_fn fn, void *ud, bool *more);

/*
 * Visits up to limit records of room with id > since, the oldest ones,
 * oldest first. *more tells whether newer records were left out.
 */
int history_after(struct history *h, const char *room, uint64_t since,
		  unsigned limit, history_visit_fn fn, void *ud, bool *more);

#endif
