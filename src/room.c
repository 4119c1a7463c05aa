/*
 * Room membership: a growable array of session pointers.
 */
#include "room.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct room *
room_new(const char *name, uint64_t last_id)
{
	struct room *r;

	if (!name_is_valid(name, NAME_ROOM_MAX))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	strcpy(r->name, name);
	r->last_id = last_id;
	return r;
}

void
room_free(struct room *r)
{
	if (!r)
		return;
	free(r->members);
	free(r);
}

int
room_add(struct room *r, struct session *s)
{
	if (r->nmembers == r->cap) {
		unsigned cap = r->cap ? r->cap * 2 : 4;
		struct session **m = realloc(r->members, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		r->members = m;
		r->cap = cap;
	}
	r->members[r->nmembers++] = s;
	return 0;
}

void
room_remove(struct room *r, struct session *s)
{
	for (unsigned i = 0; i < r->nmembers; i++)
		if (r->members[i] == s) {
			memmove(&r->members[i], &r->members[i + 1],
				(r->nmembers - i - 1) * sizeof(*r->members));
			r->nmembers--;
			return;
		}
}
