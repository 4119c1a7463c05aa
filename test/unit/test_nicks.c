/*
 * nicks: one holder per nick as before, or several sessions sharing a
 * token's nick (tabs): the dict keeps naming one of them while any is
 * left, rename stays all-or-nothing, and a room lists a shared nick at
 * exactly one of its sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dict.h"
#include "nicks.h"
#include "room.h"
#include "session.h"

struct fixture {
	struct dict d;
	struct session s[4];
	struct room *r;
};

static int
setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	dict_init(&fx->d, true);
	fx->r = room_new("lobby", 0);
	*state = fx;
	return fx->r ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 4; i++)
		session_rooms_fini(&fx->s[i]);
	room_free(fx->r);
	dict_fini(&fx->d);
	test_free(fx);
	return 0;
}

static void
add(struct fixture *fx, int i, const char *nick)
{
	strcpy(fx->s[i].nick, nick);
	assert_int_equal(nicks_add(&fx->d, &fx->s[i]), 0);
}

static void
enter(struct fixture *fx, int i)
{
	assert_int_equal(room_add(fx->r, &fx->s[i]), 0);
	assert_int_equal(session_enter_room(&fx->s[i], fx->r), 0);
}

static void
test_nicks_single_holder_is_found_case_insensitively(void **state)
{
	struct fixture *fx = *state;

	add(fx, 0, "Alice");
	assert_ptr_equal(nicks_holder(&fx->d, "alice"), &fx->s[0]);
	assert_ptr_equal(nicks_holder(&fx->d, "ALICE"), &fx->s[0]);
	assert_null(nicks_holder(&fx->d, "bob"));
	nicks_remove(&fx->d, &fx->s[0]);
	assert_null(nicks_holder(&fx->d, "alice"));
	assert_int_equal(fx->d.count, 0);
}

static void
test_nicks_shared_nick_stays_until_its_last_holder_goes(void **state)
{
	struct fixture *fx = *state;

	add(fx, 0, "alice");
	add(fx, 1, "alice");
	add(fx, 2, "alice");
	assert_int_equal(fx->d.count, 1);
	/* The first holder goes: the dict names another one. */
	nicks_remove(&fx->d, &fx->s[0]);
	assert_non_null(nicks_holder(&fx->d, "alice"));
	assert_ptr_not_equal(nicks_holder(&fx->d, "alice"), &fx->s[0]);
	nicks_remove(&fx->d, &fx->s[2]);
	assert_ptr_equal(nicks_holder(&fx->d, "alice"), &fx->s[1]);
	assert_null(fx->s[1].nick_prev);
	assert_null(fx->s[1].nick_next);
	nicks_remove(&fx->d, &fx->s[1]);
	assert_null(nicks_holder(&fx->d, "alice"));
	assert_int_equal(fx->d.count, 0);
}

static void
test_nicks_shared_in_and_listed_at_name_a_person_once(void **state)
{
	struct fixture *fx = *state;

	add(fx, 0, "alice");
	add(fx, 1, "alice");
	add(fx, 2, "bob");
	enter(fx, 1);
	enter(fx, 2);
	/* One tab in the room: nobody shares it there yet. */
	assert_false(nicks_shared_in(&fx->s[1], fx->r));
	/* Seen from the tab outside, its other tab is in there. */
	assert_true(nicks_shared_in(&fx->s[0], fx->r));
	assert_true(nicks_listed_at(&fx->s[1], fx->r));
	assert_true(nicks_listed_at(&fx->s[2], fx->r));
	/* The second tab comes in: shared, listed at exactly one. */
	enter(fx, 0);
	assert_true(nicks_shared_in(&fx->s[0], fx->r));
	assert_true(nicks_shared_in(&fx->s[1], fx->r));
	assert_false(nicks_shared_in(&fx->s[2], fx->r));
	assert_int_equal(nicks_listed_at(&fx->s[0], fx->r) +
				 nicks_listed_at(&fx->s[1], fx->r),
			 1);
	/* One leaves: the other is listed again. */
	room_remove(fx->r, &fx->s[0]);
	session_exit_room(&fx->s[0], fx->r);
	assert_false(nicks_shared_in(&fx->s[1], fx->r));
	assert_true(nicks_listed_at(&fx->s[1], fx->r));
	nicks_remove(&fx->d, &fx->s[0]);
	nicks_remove(&fx->d, &fx->s[1]);
	nicks_remove(&fx->d, &fx->s[2]);
}

static void
test_nicks_rename_moves_the_key_or_only_the_case(void **state)
{
	struct fixture *fx = *state;

	add(fx, 0, "guest-1");
	add(fx, 1, "bob");
	assert_int_equal(nicks_rename(&fx->d, &fx->s[0], "carol"), 0);
	assert_string_equal(fx->s[0].nick, "carol");
	assert_null(nicks_holder(&fx->d, "guest-1"));
	assert_ptr_equal(nicks_holder(&fx->d, "CAROL"), &fx->s[0]);
	assert_int_equal(nicks_rename(&fx->d, &fx->s[0], "Carol"), 0);
	assert_string_equal(fx->s[0].nick, "Carol");
	assert_ptr_equal(nicks_holder(&fx->d, "carol"), &fx->s[0]);
	assert_int_equal(fx->d.count, 2);
	nicks_remove(&fx->d, &fx->s[0]);
	nicks_remove(&fx->d, &fx->s[1]);
	assert_int_equal(fx->d.count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_nicks_single_holder_is_found_case_insensitively,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nicks_shared_nick_stays_until_its_last_holder_goes,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nicks_shared_in_and_listed_at_name_a_person_once,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_nicks_rename_moves_the_key_or_only_the_case,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
