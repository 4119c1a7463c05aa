/*
 * A string-keyed hash table (separate chaining, power-of-two buckets) that
 * maps to caller-owned pointers. It owns copies of the keys, never the values.
 * Case-insensitive tables fold ASCII letters, as nick uniqueness needs.
 */
#ifndef CHAT_DICT_H
#define CHAT_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dict_entry;

struct dict {
	struct dict_entry **buckets;
	size_t nbuckets; /* 0 until the first insert */
	size_t count;
	bool nocase;
};

/* The first dict_init() of a process draws the hash key at random. */
void dict_init(struct dict *d, bool nocase);
/* Sets the hash key of every table made after it (tests; not thread-safe).
 * Tables made before keep stale hashes: call it before any. */
void dict_set_seed(const uint8_t key[16]);
/* The hash a table gives key (tests). */
uint32_t dict_hash(const struct dict *d, const char *key);
/* Frees the table and its key copies; values are the caller's. */
void dict_fini(struct dict *d);

void *dict_get(const struct dict *d, const char *key);
/* Adds or replaces. Returns 0, or -ENOMEM with the table unchanged. */
int dict_set(struct dict *d, const char *key, void *value);
/* The table's own copy of key, valid until that entry is deleted; NULL
 * when absent. */
const char *dict_key(const struct dict *d, const char *key);
/* Returns the removed value, or NULL when absent. key may be the table's
 * own copy (dict_key): it is not read once the entry is freed. */
void *dict_del(struct dict *d, const char *key);

/* Calls fn for every entry; fn must not change the table. */
void dict_foreach(const struct dict *d,
		  void (*fn)(const char *key, void *value, void *ud), void *ud);

#endif
