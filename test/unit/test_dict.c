/*
 * dict: set/get/del, replacing a value, owned key copies, growth to many
 * thousands of keys, case-insensitive tables, and foreach visiting every
 * entry exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"

#define MANY 10000

static int vals[MANY]; /* values are pointers to these */

static int
setup_case(void **state)
{
	struct dict *d = malloc(sizeof(*d));

	if (!d)
		return -1;
	dict_init(d, false);
	*state = d;
	return 0;
}

static int
setup_nocase(void **state)
{
	struct dict *d = malloc(sizeof(*d));

	if (!d)
		return -1;
	dict_init(d, true);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	dict_fini(*state);
	free(*state);
	*state = NULL;
	return 0;
}

static void
key_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "key-%d", i);
}

/* foreach callback: counts each visit of vals[i] in ud (an int[MANY]) and
 * checks that the key it comes with is key_of(i). */
static void
count_visit(const char *key, void *value, void *ud)
{
	int *seen = ud;
	int i = (int)((int *)value - vals);
	char want[32];

	assert_in_range(i, 0, MANY - 1);
	key_of(want, sizeof(want), i);
	assert_non_null(key);
	assert_string_equal(key, want);
	seen[i]++;
}

static void
test_dict_empty_table_finds_nothing(void **state)
{
	struct dict *d = *state;
	int seen[MANY] = { 0 };

	assert_int_equal(d->count, 0);
	assert_null(dict_get(d, "x"));
	assert_null(dict_get(d, ""));
	assert_null(dict_del(d, "x"));
	dict_foreach(d, count_visit, seen);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(seen[i], 0);
}

static void
test_dict_set_then_get_returns_value(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "alice", &vals[1]), 0);
	assert_int_equal(dict_set(d, "bob", &vals[2]), 0);
	assert_int_equal(d->count, 2);
	assert_ptr_equal(dict_get(d, "alice"), &vals[1]);
	assert_ptr_equal(dict_get(d, "bob"), &vals[2]);
	assert_null(dict_get(d, "carol"));
	assert_null(dict_get(d, "alic"));
	assert_null(dict_get(d, "alicea"));
}

static void
test_dict_set_existing_key_replaces_value(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "k", &vals[1]), 0);
	assert_int_equal(dict_set(d, "k", &vals[2]), 0);
	assert_int_equal(d->count, 1);
	assert_ptr_equal(dict_get(d, "k"), &vals[2]);
	assert_ptr_equal(dict_del(d, "k"), &vals[2]);
	assert_null(dict_get(d, "k"));
	assert_int_equal(d->count, 0);
}

static void
test_dict_del_returns_value_and_removes_only_that_key(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "a", &vals[1]), 0);
	assert_int_equal(dict_set(d, "b", &vals[2]), 0);
	assert_int_equal(dict_set(d, "c", &vals[3]), 0);
	assert_ptr_equal(dict_del(d, "b"), &vals[2]);
	assert_int_equal(d->count, 2);
	assert_null(dict_get(d, "b"));
	assert_null(dict_del(d, "b"));
	assert_int_equal(d->count, 2);
	assert_ptr_equal(dict_get(d, "a"), &vals[1]);
	assert_ptr_equal(dict_get(d, "c"), &vals[3]);
	/* Deleted keys can come back. */
	assert_int_equal(dict_set(d, "b", &vals[4]), 0);
	assert_ptr_equal(dict_get(d, "b"), &vals[4]);
	assert_int_equal(d->count, 3);
}

static void
test_dict_owns_a_copy_of_the_key(void **state)
{
	struct dict *d = *state;
	char key[16] = "mutable";

	assert_int_equal(dict_set(d, key, &vals[1]), 0);
	strcpy(key, "changed");
	assert_ptr_equal(dict_get(d, "mutable"), &vals[1]);
	assert_null(dict_get(d, "changed"));
	assert_null(dict_get(d, key));
}

/* dict_key hands out the table's own copy, alive until the entry goes. */
static void
test_dict_key_is_the_tables_copy(void **state)
{
	struct dict *d = *state;
	char key[16] = "10.0.0.1";
	const char *kept;

	assert_null(dict_key(d, key));
	assert_int_equal(dict_set(d, key, &vals[1]), 0);
	kept = dict_key(d, key);
	assert_non_null(kept);
	assert_ptr_not_equal(kept, key);
	assert_string_equal(kept, "10.0.0.1");
	/* Replacing the value keeps the entry, so the copy too. */
	assert_int_equal(dict_set(d, "10.0.0.1", &vals[2]), 0);
	assert_ptr_equal(dict_key(d, "10.0.0.1"), kept);
	/* Growth relinks entries without moving them. */
	for (int i = 0; i < 1000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(dict_set(d, k, &vals[0]), 0);
	}
	assert_ptr_equal(dict_key(d, "10.0.0.1"), kept);
	assert_string_equal(kept, "10.0.0.1");
	dict_del(d, "10.0.0.1");
	assert_null(dict_key(d, "10.0.0.1"));
}

static void
test_dict_empty_and_long_keys(void **state)
{
	struct dict *d = *state;
	char long_key[2001];

	memset(long_key, 'z', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_int_equal(dict_set(d, "", &vals[1]), 0);
	assert_int_equal(dict_set(d, long_key, &vals[2]), 0);
	assert_ptr_equal(dict_get(d, ""), &vals[1]);
	assert_ptr_equal(dict_get(d, long_key), &vals[2]);
	long_key[1999] = 'y';
	assert_null(dict_get(d, long_key));
}

static void
test_dict_case_sensitive_table_keeps_cases_apart(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "Alice", &vals[1]), 0);
	assert_int_equal(dict_set(d, "alice", &vals[2]), 0);
	assert_int_equal(d->count, 2);
	assert_ptr_equal(dict_get(d, "Alice"), &vals[1]);
	assert_ptr_equal(dict_get(d, "alice"), &vals[2]);
	assert_null(dict_get(d, "ALICE"));
	assert_null(dict_del(d, "ALICE"));
}

static void
test_dict_nocase_table_matches_any_case(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "Alice-99_x.Y", &vals[1]), 0);
	assert_ptr_equal(dict_get(d, "alice-99_x.y"), &vals[1]);
	assert_ptr_equal(dict_get(d, "ALICE-99_X.Y"), &vals[1]);
	assert_ptr_equal(dict_get(d, "aLiCe-99_X.y"), &vals[1]);
	assert_null(dict_get(d, "alice-99_x.z"));
	/* Setting another spelling replaces; it is the same key. */
	assert_int_equal(dict_set(d, "ALICE-99_X.Y", &vals[2]), 0);
	assert_int_equal(d->count, 1);
	assert_ptr_equal(dict_get(d, "Alice-99_x.Y"), &vals[2]);
	assert_ptr_equal(dict_del(d, "alice-99_X.y"), &vals[2]);
	assert_int_equal(d->count, 0);
	assert_null(dict_get(d, "Alice-99_x.Y"));
}

static void
test_dict_nocase_folds_only_ascii_letters(void **state)
{
	struct dict *d = *state;

	/* '[' and '{' differ from each other by the same bit as 'A'/'a'. */
	assert_int_equal(dict_set(d, "a[", &vals[1]), 0);
	assert_null(dict_get(d, "a{"));
	assert_null(dict_get(d, "A{"));
	assert_ptr_equal(dict_get(d, "A["), &vals[1]);
	/* E-acute: U+00C9 vs U+00E9 are different keys. */
	assert_int_equal(dict_set(d, "\xc3\x89", &vals[2]), 0);
	assert_null(dict_get(d, "\xc3\xa9"));
	assert_int_equal(d->count, 2);
}

static void
test_dict_nocase_many_keys_in_mixed_case(void **state)
{
	struct dict *d = *state;
	char key[32];

	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "%sNick%d", i % 2 ? "UP" : "lo", i);
		assert_int_equal(dict_set(d, key, &vals[i]), 0);
	}
	assert_int_equal(d->count, 2000);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "%snIcK%d", i % 2 ? "up" : "LO", i);
		assert_ptr_equal(dict_get(d, key), &vals[i]);
	}
}

static void
test_dict_grows_to_ten_thousand_keys(void **state)
{
	struct dict *d = *state;
	char key[32];

	for (int i = 0; i < MANY; i++) {
		key_of(key, sizeof(key), i);
		assert_int_equal(dict_set(d, key, &vals[i]), 0);
		assert_int_equal(d->count, (size_t)i + 1);
	}
	assert_true(d->nbuckets >= 16);
	for (int i = 0; i < MANY; i++) {
		key_of(key, sizeof(key), i);
		assert_ptr_equal(dict_get(d, key), &vals[i]);
	}
	assert_null(dict_get(d, "key-10000"));
	assert_null(dict_get(d, "key--1"));

	/* Drop the even ones; the odd ones stay reachable. */
	for (int i = 0; i < MANY; i += 2) {
		key_of(key, sizeof(key), i);
		assert_ptr_equal(dict_del(d, key), &vals[i]);
	}
	assert_int_equal(d->count, MANY / 2);
	for (int i = 0; i < MANY; i++) {
		key_of(key, sizeof(key), i);
		if (i % 2)
			assert_ptr_equal(dict_get(d, key), &vals[i]);
		else
			assert_null(dict_get(d, key));
	}
	/* Replacing every remaining one keeps the count. */
	for (int i = 1; i < MANY; i += 2) {
		key_of(key, sizeof(key), i);
		assert_int_equal(dict_set(d, key, &vals[i - 1]), 0);
	}
	assert_int_equal(d->count, MANY / 2);
	for (int i = 1; i < MANY; i += 2) {
		key_of(key, sizeof(key), i);
		assert_ptr_equal(dict_get(d, key), &vals[i - 1]);
	}
}

static void
test_dict_foreach_visits_every_entry_once(void **state)
{
	struct dict *d = *state;
	static int seen[MANY];
	char key[32];

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 3000; i++) {
		key_of(key, sizeof(key), i);
		assert_int_equal(dict_set(d, key, &vals[i]), 0);
	}
	for (int i = 0; i < 3000; i += 3) {
		key_of(key, sizeof(key), i);
		dict_del(d, key);
	}
	dict_foreach(d, count_visit, seen);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(seen[i], i < 3000 && i % 3 ? 1 : 0);
}

static void
test_dict_fini_empties_and_table_is_reusable(void **state)
{
	struct dict *d = *state;

	assert_int_equal(dict_set(d, "Key", &vals[1]), 0);
	dict_fini(d);
	assert_int_equal(d->count, 0);
	assert_null(dict_get(d, "Key"));
	assert_true(d->nocase);
	assert_int_equal(dict_set(d, "KEY", &vals[2]), 0);
	assert_ptr_equal(dict_get(d, "key"), &vals[2]);
}

/* Runs first: the key drawn at the first dict_init() is not a fixed one. */
static void
test_dict_process_seed_is_random(void **state)
{
	static const uint8_t zero[16] = { 0 };
	struct dict *d = *state;
	uint32_t seeded = dict_hash(d, "lobby"), fixed;
	struct dict z;

	dict_set_seed(zero);
	dict_init(&z, false);
	fixed = dict_hash(&z, "lobby");
	dict_fini(&z);
	/* 1 in 2^32 to fail by chance. */
	assert_int_not_equal(seeded, fixed);
}

/*
 * Names chosen to share one bucket under one key (as an attacker who knew
 * the key would pick them) spread out under another.
 */
static void
test_dict_names_colliding_under_one_key_spread_under_another(void **state)
{
	enum { N = 64, BUCKETS = 1024 };
	static const uint8_t key_a[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
					   9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t key_b[16] = { 16, 15, 14, 13, 12, 11, 10, 9,
					   8, 7, 6, 5, 4, 3, 2, 1 };
	char names[N][16];
	unsigned found = 0, per_bucket[BUCKETS] = { 0 }, worst = 0;
	struct dict d;

	(void)state;
	dict_set_seed(key_a);
	dict_init(&d, true);
	for (unsigned i = 0; found < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%u", i);
		if ((dict_hash(&d, name) & (BUCKETS - 1)) == 0)
			memcpy(names[found++], name, sizeof(name));
	}
	dict_fini(&d);

	dict_set_seed(key_b);
	dict_init(&d, true);
	for (unsigned i = 0; i < N; i++) {
		unsigned b = dict_hash(&d, names[i]) & (BUCKETS - 1);

		if (++per_bucket[b] > worst)
			worst = per_bucket[b];
	}
	dict_fini(&d);
	/* 64 balls in 1024 bins: more than 4 in one is very unlikely. */
	if (worst > 4)
		fail_msg("%u of the %d names still share a bucket", worst, N);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_case, teardown)
#define TN(f) { "nocase:" #f, f, setup_nocase, teardown, NULL }
		T(test_dict_process_seed_is_random),
		T(test_dict_names_colliding_under_one_key_spread_under_another),
		T(test_dict_empty_table_finds_nothing),
		TN(test_dict_empty_table_finds_nothing),
		T(test_dict_set_then_get_returns_value),
		TN(test_dict_set_then_get_returns_value),
		T(test_dict_set_existing_key_replaces_value),
		T(test_dict_del_returns_value_and_removes_only_that_key),
		TN(test_dict_del_returns_value_and_removes_only_that_key),
		T(test_dict_owns_a_copy_of_the_key),
		T(test_dict_key_is_the_tables_copy),
		TN(test_dict_key_is_the_tables_copy),
		T(test_dict_empty_and_long_keys),
		T(test_dict_case_sensitive_table_keeps_cases_apart),
		TN(test_dict_nocase_table_matches_any_case),
		TN(test_dict_nocase_folds_only_ascii_letters),
		TN(test_dict_nocase_many_keys_in_mixed_case),
		T(test_dict_grows_to_ten_thousand_keys),
		TN(test_dict_grows_to_ten_thousand_keys),
		T(test_dict_foreach_visits_every_entry_once),
		TN(test_dict_fini_empties_and_table_is_reusable),
#undef T
#undef TN
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
