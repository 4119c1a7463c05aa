/*
 * Chained hash table of owned string keys to borrowed values, hashed with
 * SipHash-1-3 under a per-process random key (as Redis does), so names a
 * client picks cannot be made to land in one bucket.
 */
#include "dict.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct dict_entry {
	struct dict_entry *next;
	void *value;
	uint32_t hash;
	char key[];
};

#define DICT_MIN_BUCKETS 16

static void seed_once(void);

void
dict_init(struct dict *d, bool nocase)
{
	seed_once();
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
	*d = (struct dict){ .nocase = d->nocase };
}

static uint64_t sip_k0, sip_k1;
static bool seeded;

void
dict_set_seed(const uint8_t key[16])
{
	memcpy(&sip_k0, key, 8);
	memcpy(&sip_k1, key + 8, 8);
	seeded = true;
}

/* The first table made draws the key; every table of the process uses it. */
static void
seed_once(void)
{
	uint8_t key[16];

	if (seeded)
		return;
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		/* No entropy source: still differs from run to run. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		    (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
		memcpy(key, &x, 8);
		x = x * 0xbf58476d1ce4e5b9ull + (uint64_t)(uintptr_t)&x;
		memcpy(key + 8, &x, 8);
	}
	dict_set_seed(key);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
	do {                                                                  \
		v0 += v1;                                                     \
		v1 = ROTL(v1, 13);                                            \
		v1 ^= v0;                                                     \
		v0 = ROTL(v0, 32);                                            \
		v2 += v3;                                                     \
		v3 = ROTL(v3, 16);                                            \
		v3 ^= v2;                                                     \
		v0 += v3;                                                     \
		v3 = ROTL(v3, 21);                                            \
		v3 ^= v0;                                                     \
		v2 += v1;                                                     \
		v1 = ROTL(v1, 17);                                            \
		v1 ^= v2;                                                     \
		v2 = ROTL(v2, 32);                                            \
	} while (0)

/*
 * SipHash-1-3 (one compression round, three finalization rounds, the
 * variant Redis uses for its tables) of key, read as little-endian 8-byte
 * words, each byte folded to lower case for nocase tables.
 */
static uint32_t
hash_key(const struct dict *d, const char *key)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ sip_k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ sip_k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ sip_k0;
	uint64_t v3 = 0x7465646279746573ull ^ sip_k1;
	const unsigned char *p = (const unsigned char *)key;
	uint64_t m = 0, len = 0;
	unsigned n = 0;

	for (; *p; p++, len++) {
		uint64_t c = d->nocase ? (unsigned char)tolower(*p) : *p;

		m |= c << (8 * n);
		if (++n == 8) {
			v3 ^= m;
			SIPROUND;
			v0 ^= m;
			m = 0;
			n = 0;
		}
	}
	m |= len << 56;
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	m = v0 ^ v1 ^ v2 ^ v3;
	return (uint32_t)(m ^ m >> 32);
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

const char *
dict_key(const struct dict *d, const char *key)
{
	struct dict_entry **pe = find_slot(d, key, hash_key(d, key));

	return pe ? (*pe)->key : NULL;
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

uint32_t
dict_hash(const struct dict *d, const char *key)
{
	return hash_key(d, key);
}
