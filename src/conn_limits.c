/*
 * Session counts per client address. The table holds only addresses with
 * at least one session, so it is as large as the set of connected clients.
 */
#include "conn_limits.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void
conn_limits_init(struct conn_limits *l, unsigned max, unsigned max_per_addr)
{
	*l = (struct conn_limits){ .max = max, .max_per_addr = max_per_addr };
	dict_init(&l->per_addr, false);
}

void
conn_limits_fini(struct conn_limits *l)
{
	dict_fini(&l->per_addr);
}

static uintptr_t
count_of(const struct conn_limits *l, const char *addr)
{
	return (uintptr_t)dict_get(&l->per_addr, addr);
}

bool
conn_limits_admit(const struct conn_limits *l, const char *addr)
{
	if (l->max && l->total >= l->max)
		return false;
	return !l->max_per_addr || count_of(l, addr) < l->max_per_addr;
}

const char *
conn_limits_add(struct conn_limits *l, const char *addr)
{
	uintptr_t n = count_of(l, addr) + 1;

	if (dict_set(&l->per_addr, addr, (void *)n))
		return NULL;
	l->total++;
	return dict_key(&l->per_addr, addr);
}

void
conn_limits_remove(struct conn_limits *l, const char *addr)
{
	uintptr_t n = count_of(l, addr);

	if (!n)
		return;
	l->total--;
	if (n == 1)
		dict_del(&l->per_addr, addr);
	else
		dict_set(&l->per_addr, addr, (void *)(n - 1)); /* no growth */
}

void
conn_limits_addr_key(const char *peer, char *out, size_t outlen)
{
	static const char mapped[] = "::ffff:";

	if (!strncmp(peer, mapped, sizeof(mapped) - 1) &&
	    strchr(peer + sizeof(mapped) - 1, '.'))
		peer += sizeof(mapped) - 1;
	snprintf(out, outlen, "%s", peer);
}
