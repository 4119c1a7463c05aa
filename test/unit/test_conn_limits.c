/*
 * conn_limits: the total and per-address bounds, 0 as "no limit", and the
 * address copy a session keeps (conn_limits_add's result stays valid while
 * any session from that address is counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "conn_limits.h"

static void
test_conn_limits_per_address_and_total_bounds(void **state)
{
	struct conn_limits l;

	(void)state;
	conn_limits_init(&l, 3, 2);
	assert_true(conn_limits_admit(&l, "10.0.0.1"));
	assert_non_null(conn_limits_add(&l, "10.0.0.1"));
	assert_non_null(conn_limits_add(&l, "10.0.0.1"));
	assert_false(conn_limits_admit(&l, "10.0.0.1"));
	assert_true(conn_limits_admit(&l, "10.0.0.2"));
	assert_non_null(conn_limits_add(&l, "10.0.0.2"));
	assert_false(conn_limits_admit(&l, "10.0.0.3")); /* total */
	conn_limits_remove(&l, "10.0.0.1");
	assert_true(conn_limits_admit(&l, "10.0.0.1"));
	assert_true(conn_limits_admit(&l, "10.0.0.3"));
	conn_limits_fini(&l);
}

static void
test_conn_limits_zero_is_no_limit(void **state)
{
	struct conn_limits l;

	(void)state;
	conn_limits_init(&l, 0, 0);
	for (int i = 0; i < 1000; i++)
		assert_non_null(conn_limits_add(&l, "::1"));
	assert_true(conn_limits_admit(&l, "::1"));
	assert_int_equal(l.total, 1000);
	conn_limits_fini(&l);
}

/* Sessions keep the returned copy instead of their own: one per address,
 * alive until the last session from it is uncounted. */
static void
test_conn_limits_add_returns_one_copy_per_address(void **state)
{
	struct conn_limits l;
	char addr[CONN_LIMITS_ADDR_MAX] = "192.0.2.7";
	const char *a, *b;

	(void)state;
	conn_limits_init(&l, 0, 0);
	a = conn_limits_add(&l, addr);
	assert_non_null(a);
	assert_ptr_not_equal(a, addr);
	strcpy(addr, "overwritten");
	assert_string_equal(a, "192.0.2.7");
	b = conn_limits_add(&l, "192.0.2.7");
	assert_ptr_equal(a, b);
	/* Other addresses coming and going leave it where it is. */
	for (int i = 0; i < 500; i++) {
		char other[32];

		snprintf(other, sizeof(other), "198.51.100.%d", i);
		assert_non_null(conn_limits_add(&l, other));
	}
	conn_limits_remove(&l, a); /* the copy itself may be the key */
	assert_string_equal(b, "192.0.2.7");
	assert_int_equal(l.total, 501);
	conn_limits_remove(&l, b);
	assert_int_equal(l.total, 500);
	assert_true(conn_limits_admit(&l, "192.0.2.7"));
	conn_limits_fini(&l);
}

static void
test_conn_limits_ipv4_mapped_counts_as_ipv4(void **state)
{
	char out[CONN_LIMITS_ADDR_MAX];

	(void)state;
	conn_limits_addr_key("::ffff:127.0.0.1", out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	conn_limits_addr_key("::1", out, sizeof(out));
	assert_string_equal(out, "::1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_limits_per_address_and_total_bounds),
		cmocka_unit_test(test_conn_limits_zero_is_no_limit),
		cmocka_unit_test(test_conn_limits_add_returns_one_copy_per_address),
		cmocka_unit_test(test_conn_limits_ipv4_mapped_counts_as_ipv4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
