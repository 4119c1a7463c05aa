/*
 * conn_limits: how many chat sessions there are, in all and per client
 * address, against --max-connections and --max-connections-per-ip. The
 * handshake asks before it upgrades; sessions are counted from ESTABLISHED
 * to CLOSED, so a freed slot is free again at once.
 */
#ifndef CHAT_CONN_LIMITS_H
#define CHAT_CONN_LIMITS_H

#include <stdbool.h>

#include "dict.h"

/* Longest textual address (IPv6), as lws_get_peer_simple() writes it. */
#define CONN_LIMITS_ADDR_MAX 64

struct conn_limits {
	unsigned max, max_per_addr; /* 0: no limit */
	unsigned total;
	struct dict per_addr; /* address -> count, as a pointer-sized int */
};

void conn_limits_init(struct conn_limits *l, unsigned max,
		      unsigned max_per_addr);
void conn_limits_fini(struct conn_limits *l);

/* Whether one more session from addr stays within both limits. */
bool conn_limits_admit(const struct conn_limits *l, const char *addr);

/*
 * Counts a session from addr. Returns the table's copy of addr, which
 * stays valid while that session is counted (a session keeps it rather
 * than a 64-byte copy of its own), or NULL out of memory with nothing
 * counted.
 */
const char *conn_limits_add(struct conn_limits *l, const char *addr);
/* Uncounts one session from addr (which conn_limits_add counted). */
void conn_limits_remove(struct conn_limits *l, const char *addr);

/*
 * Writes the address a peer is counted under into out: IPv4 clients of a
 * dual-stack socket show up as ::ffff:a.b.c.d and are counted as a.b.c.d.
 */
void conn_limits_addr_key(const char *peer, char *out, size_t outlen);

#endif
