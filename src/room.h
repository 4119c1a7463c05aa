/*
 * A room: its name, its members (borrowed session pointers, in join order)
 * and the last message id handed out. The chat owns rooms through its
 * registry; a room never owns a session.
 */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include <stdbool.h>
#include <stdint.h>

#include "name.h"

struct session;

struct room {
	struct session **members;
	unsigned nmembers, cap;
	/* Distinct nicks among the members: one person's tabs (sessions of
	 * one token's sub) count once. chat.c keeps it. */
	unsigned npeople;
	uint64_t last_id; /* ids continue from here: next is last_id + 1 */
	char name[NAME_ROOM_MAX + 1];
};

/* A room with no members; NULL when out of memory or name is invalid. */
struct room *room_new(const char *name, uint64_t last_id);
void room_free(struct room *r);

/* Appends s (which must not be a member). 0 or -ENOMEM, nothing changed. */
int room_add(struct room *r, struct session *s);
/* Removes s if it is a member, keeping join order. */
void room_remove(struct room *r, struct session *s);

static inline bool
room_is_empty(const struct room *r)
{
	return r->nmembers == 0;
}

#endif
