/*
 * Nick registry: the dict names one holder of each nick; further holders
 * (tabs of one token's sub) hang off it in a list, so the common case of
 * one holder costs no more than a plain dict entry.
 */
#include "nicks.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "dict.h"
#include "session.h"

struct session *
nicks_holder(const struct dict *d, const char *nick)
{
	return dict_get(d, nick);
}

int
nicks_add(struct dict *d, struct session *s)
{
	struct session *first = dict_get(d, s->nick);

	s->nick_prev = s->nick_next = NULL;
	if (!first)
		return dict_set(d, s->nick, s);
	s->nick_prev = first;
	s->nick_next = first->nick_next;
	if (first->nick_next)
		first->nick_next->nick_prev = s;
	first->nick_next = s;
	return 0;
}

void
nicks_remove(struct dict *d, struct session *s)
{
	if (s->nick_prev) {
		s->nick_prev->nick_next = s->nick_next;
		if (s->nick_next)
			s->nick_next->nick_prev = s->nick_prev;
	} else if (s->nick_next) {
		int rc;

		s->nick_next->nick_prev = NULL;
		/* Replacing the value of a key that is there allocates
		 * nothing, so this cannot fail. */
		rc = dict_set(d, s->nick, s->nick_next);
		assert(rc == 0);
		(void)rc;
	} else if (dict_get(d, s->nick) == s) {
		dict_del(d, s->nick);
	}
	s->nick_prev = s->nick_next = NULL;
}

int
nicks_rename(struct dict *d, struct session *s, const char *nick)
{
	assert(!s->nick_prev && !s->nick_next);
	assert(strlen(nick) < sizeof(s->nick));
	/* Holding nick already means only its letter case changes: the
	 * case-folded key is the same. */
	if (dict_get(d, nick) != s) {
		if (dict_set(d, nick, s))
			return -ENOMEM;
		dict_del(d, s->nick);
	}
	strcpy(s->nick, nick);
	return 0;
}

bool
nicks_shared_in(const struct session *s, const struct room *r)
{
	for (const struct session *p = s->nick_prev; p; p = p->nick_prev)
		if (session_in_room(p, r))
			return true;
	for (const struct session *p = s->nick_next; p; p = p->nick_next)
		if (session_in_room(p, r))
			return true;
	return false;
}

bool
nicks_listed_at(const struct session *s, const struct room *r)
{
	for (const struct session *p = s->nick_prev; p; p = p->nick_prev)
		if (session_in_room(p, r))
			return false;
	return true;
}
