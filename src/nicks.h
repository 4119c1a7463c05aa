/*
 * nicks: the registry of nicks in use, a case-folding dict from a nick to
 * the sessions holding it. A guest or chosen nick has one session; a
 * token's sub may have several (one person's browser tabs), linked through
 * session.nick_prev/nick_next behind the one the dict names. The dict is
 * the chat's; sessions are borrowed. Service thread only.
 */
#ifndef CHAT_NICKS_H
#define CHAT_NICKS_H

#include <stdbool.h>

struct dict;
struct room;
struct session;

/* The session holding nick (compared case-insensitively), or NULL; with
 * several, the first of them. */
struct session *nicks_holder(const struct dict *d, const char *nick);

/*
 * Registers s under s->nick, beside any sessions holding it already (the
 * caller has decided that they may share it). Returns 0, or -ENOMEM with
 * nothing changed.
 */
int nicks_add(struct dict *d, struct session *s);

/* Unregisters s; the nick stays with the others holding it, if any. */
void nicks_remove(struct dict *d, struct session *s);

/*
 * Renames s, its nick's only holder, to nick, which nobody else holds
 * (nick may differ from s->nick in letter case only). Returns 0, or
 * -ENOMEM with nothing changed.
 */
int nicks_rename(struct dict *d, struct session *s, const char *nick);

/* Whether another session holding s's nick is a member of r. */
bool nicks_shared_in(const struct session *s, const struct room *r);

/* Whether r's member list names its nick at s: s is, of the sessions
 * holding that nick, the first in r. */
bool nicks_listed_at(const struct session *s, const struct room *r);

#endif
