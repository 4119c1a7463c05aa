/*
 * ratelimit: the burst, refill at the rate, the cap on saved tokens, rate 0,
 * a clock that steps back, and the flood detector's ten whole seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static unsigned
take_n(struct ratelimit *r, unsigned n, unsigned rate, unsigned burst,
       int64_t now)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += ratelimit_take(r, rate, burst, now) == RATELIMIT_OK;
	return ok;
}

static void
test_ratelimit_burst_then_refill_at_the_rate(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 40, 1000);
	assert_int_equal(take_n(&r, 100, 20, 40, 1000), 40);
	/* 20 a second: 100 ms buys two. */
	assert_int_equal(take_n(&r, 10, 20, 40, 1100), 2);
	/* A long pause saves up no more than the burst. */
	assert_int_equal(take_n(&r, 100, 20, 40, 60000), 40);
}

static void
test_ratelimit_rate_0_is_no_limit(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 1, 0);
	assert_int_equal(take_n(&r, 100000, 0, 1, 0), 100000);
}

static void
test_ratelimit_clock_stepping_back_refills_nothing(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 5, 10000);
	assert_int_equal(take_n(&r, 5, 5, 5, 10000), 5);
	assert_int_equal(take_n(&r, 5, 5, 5, 5000), 0);
	assert_int_equal(take_n(&r, 5, 5, 5, 10200), 1);
}

static void
test_ratelimit_ten_seconds_of_flood_close(void **state)
{
	struct ratelimit r;
	enum ratelimit_verdict v = RATELIMIT_OK;
	int64_t t;

	(void)state;
	ratelimit_init(&r, 5, 0);
	/* 62.5 a second against 5: over ten times. Closed once ten whole
	 * seconds of it are over, not before. */
	for (t = 0; t < 10000; t += 16)
		assert_int_not_equal(ratelimit_take(&r, 5, 5, t),
				     RATELIMIT_CLOSE);
	for (; t < 11100 && v != RATELIMIT_CLOSE; t += 16)
		v = ratelimit_take(&r, 5, 5, t);
	assert_int_equal(v, RATELIMIT_CLOSE);
}

static void
test_ratelimit_a_calm_second_resets_the_flood_count(void **state)
{
	struct ratelimit r;
	int64_t t = 0;

	(void)state;
	ratelimit_init(&r, 5, 0);
	for (int round = 0; round < 3; round++) {
		/* Nine seconds of flood, then a second at the rate. */
		for (int i = 0; i < 9 * 60; i++, t += 16)
			assert_int_not_equal(ratelimit_take(&r, 5, 5, t),
					     RATELIMIT_CLOSE);
		for (int i = 0; i < 5; i++, t += 200)
			assert_int_not_equal(ratelimit_take(&r, 5, 5, t),
					     RATELIMIT_CLOSE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_burst_then_refill_at_the_rate),
		cmocka_unit_test(test_ratelimit_rate_0_is_no_limit),
		cmocka_unit_test(
			test_ratelimit_clock_stepping_back_refills_nothing),
		cmocka_unit_test(test_ratelimit_ten_seconds_of_flood_close),
		cmocka_unit_test(
			test_ratelimit_a_calm_second_resets_the_flood_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
