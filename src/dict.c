/*
 * Chained hash table of owned string keys to borrowed values.
 */
#include "dict.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dict_entry {
	struct dict_entry *next;
	void *value;
	uint32_t hash;
	char key[];
};

#define DICT_MIN_BUCKETS 16

void
dict_init(struct dict *d, bool nocase)
{
	*d = (struct dict){ .nocase = nocase };
}

void
dict_fini(struct dict *d)
{
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct dict_entry *e = d->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(d->buckets);
	dict_init(d, d->nocase);
}

/* FNV-1a, folded to lower case for nocase tables. */
static uint32_t
hash_key(const struct dict *d, const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= d->nocase ? (unsigned char)tolower(*p) : *p;
		h *= 16777619u;
	}
	return h;
}

static bool
key_equal(const struct dict *d, const char *a, const char *b)
{
	return d->nocase ? !strcasecmp(a, b) : !strcmp(a, b);
}

static struct dict_entry **
find_slot(const struct dict *d, const char *key, uint32_t h)
{
	struct dict_entry **pe;

	if (!d->nbuckets)
		return NULL;
	for (pe = &d->buckets[h & (d->nbuckets - 1)]; *pe; pe = &(*pe)->next)
		if ((*pe)->hash == h && key_equal(d, (*pe)->key, key))
			return pe;
	return NULL;
}

void *
dict_get(const struct dict *d, const char *key)
{
	struct dict_entry **pe = find_slot(d, key, hash_key(d, key));

	return pe ? (*pe)->value : NULL;
}

static int
grow(struct dict *d)
{
	size_t n = d->nbuckets ? d->nbuckets * 2 : DICT_MIN_BUCKETS;
	struct dict_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct dict_entry *e = d->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = n;
	return 0;
}

int
dict_set(struct dict *d, const char *key, void *value)
{
	uint32_t h = hash_key(d, key);
	struct dict_entry **pe = find_slot(d, key, h), *e;
	size_t klen;

	if (pe) {
		(*pe)->value = value;
		return 0;
	}
	/* Grow before inserting so a failure leaves the table as it was. */
	if (d->count >= d->nbuckets && grow(d))
		return -ENOMEM;
	klen = strlen(key);
	e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = d->buckets[h & (d->nbuckets - 1)];
	d->buckets[h & (d->nbuckets - 1)] = e;
	d->count++;
	return 0;
}

void *
dict_del(struct dict *d, const char *key)
{
	struct dict_entry **pe = find_slot(d, key, hash_key(d, key)), *e;
	void *value;

	if (!pe)
		return NULL;
	e = *pe;
	*pe = e->next;
	value = e->value;
	free(e);
	d->count--;
	return value;
}

void
dict_foreach(const struct dict *d,
	     void (*fn)(const char *key, void *value, void *ud), void *ud)
{
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct dict_entry *e = d->buckets[i]; e; e = e->next)
			fn(e->key, e->value, ud);
}
