/*
 * room: room_new validates the name and keeps last_id; members stay in join
 * order through adds and removes; removing a non-member changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "room.h"
#include "session.h"

#define NS 200

/* Sessions are only pointers to a room; zeroed storage will do. */
static struct session ss[NS];

static int
setup(void **state)
{
	struct room *r = room_new("lobby", 0);

	if (!r)
		return -1;
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	room_free(*state);
	*state = NULL;
	return 0;
}

/* The members must be exactly ss[idx[0]], ss[idx[1]], ... */
static void
assert_members(const struct room *r, const int *idx, unsigned n)
{
	assert_int_equal(r->nmembers, n);
	for (unsigned i = 0; i < n; i++)
		if (r->members[i] != &ss[idx[i]])
			fail_msg("member %u is not ss[%d]", i, idx[i]);
	assert_true(room_is_empty(r) == (n == 0));
}

static void
add(struct room *r, int i)
{
	assert_int_equal(room_add(r, &ss[i]), 0);
}

static void
test_room_new_is_empty_with_name_and_last_id(void **state)
{
	struct room *r = *state, *r2;

	assert_string_equal(r->name, "lobby");
	assert_int_equal(r->last_id, 0);
	assert_true(room_is_empty(r));
	assert_int_equal(r->nmembers, 0);

	r2 = room_new("dev.ops-2_x", UINT64_C(1) << 40);
	assert_non_null(r2);
	assert_string_equal(r2->name, "dev.ops-2_x");
	assert_true(r2->last_id == UINT64_C(1) << 40);
	room_free(r2);
}

static void
test_room_new_accepts_a_64_char_name(void **state)
{
	char name[NAME_ROOM_MAX + 1];
	struct room *r;

	memset(name, 'q', NAME_ROOM_MAX);
	name[NAME_ROOM_MAX] = '\0';
	r = room_new(name, 3);
	assert_non_null(r);
	assert_string_equal(r->name, name);
	room_free(r);
}

static void
test_room_new_rejects_invalid_names(void **state)
{
	char long_name[NAME_ROOM_MAX + 2];
	static const char *const bad[] = { "",	  " lobby", "a b", "a/b",
					   "\xc3\xa9", "a\nb",	 "<x>" };

	memset(long_name, 'q', NAME_ROOM_MAX + 1);
	long_name[NAME_ROOM_MAX + 1] = '\0';
	assert_null(room_new(long_name, 0));
	assert_null(room_new(NULL, 0));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (room_new(bad[i], 0))
			fail_msg("room '%s' was created", bad[i]);
}

static void
test_room_free_null_is_a_no_op(void **state)
{
	room_free(NULL);
	assert_string_equal(((struct room *)*state)->name, "lobby");
}

static void
test_room_add_keeps_join_order(void **state)
{
	struct room *r = *state;
	const int want[] = { 3, 1, 4, 0, 5, 9, 2 };

	for (unsigned i = 0; i < 7; i++)
		add(r, want[i]);
	assert_members(r, want, 7);
	assert_false(room_is_empty(r));
}

static void
test_room_add_many_grows_in_order(void **state)
{
	struct room *r = *state;
	static int want[NS];

	for (int i = 0; i < NS; i++) {
		want[i] = NS - 1 - i;
		add(r, want[i]);
	}
	assert_members(r, want, NS);
	assert_true(r->cap >= NS);
}

static void
test_room_remove_keeps_order_of_the_rest(void **state)
{
	struct room *r = *state;

	for (int i = 0; i < 6; i++)
		add(r, i);
	room_remove(r, &ss[2]); /* middle */
	assert_members(r, (const int[]){ 0, 1, 3, 4, 5 }, 5);
	room_remove(r, &ss[0]); /* first */
	assert_members(r, (const int[]){ 1, 3, 4, 5 }, 4);
	room_remove(r, &ss[5]); /* last */
	assert_members(r, (const int[]){ 1, 3, 4 }, 3);
	add(r, 2); /* re-added at the end */
	assert_members(r, (const int[]){ 1, 3, 4, 2 }, 4);
	room_remove(r, &ss[1]);
	room_remove(r, &ss[3]);
	room_remove(r, &ss[4]);
	room_remove(r, &ss[2]);
	assert_members(r, NULL, 0);
	assert_true(room_is_empty(r));
}

static void
test_room_remove_non_member_is_a_no_op(void **state)
{
	struct room *r = *state;

	room_remove(r, &ss[7]); /* from an empty room */
	assert_members(r, NULL, 0);
	add(r, 0);
	add(r, 1);
	room_remove(r, &ss[7]);
	room_remove(r, NULL);
	assert_members(r, (const int[]){ 0, 1 }, 2);
	room_remove(r, &ss[0]);
	room_remove(r, &ss[0]); /* a second time */
	assert_members(r, (const int[]){ 1 }, 1);
}

static void
test_room_remove_in_a_large_room(void **state)
{
	struct room *r = *state;
	static int want[NS];
	unsigned n = 0;

	for (int i = 0; i < NS; i++)
		add(r, i);
	for (int i = 0; i < NS; i += 3)
		room_remove(r, &ss[i]);
	for (int i = 0; i < NS; i++)
		if (i % 3)
			want[n++] = i;
	assert_members(r, want, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_room_new_is_empty_with_name_and_last_id),
		T(test_room_new_accepts_a_64_char_name),
		T(test_room_new_rejects_invalid_names),
		T(test_room_free_null_is_a_no_op),
		T(test_room_add_keeps_join_order),
		T(test_room_add_many_grows_in_order),
		T(test_room_remove_keeps_order_of_the_rest),
		T(test_room_remove_non_member_is_a_no_op),
		T(test_room_remove_in_a_large_room),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
