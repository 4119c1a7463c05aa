/*
 * redis_url: what --redis accepts (host forms, port, password with its
 * escapes, database) and a reason for each thing it refuses, rediss://
 * among them (no TLS in Debian 12's hiredis).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "redis_url.h"

static struct redis_url
parse_ok(const char *s)
{
	struct redis_url u;
	const char *why = NULL;

	if (redis_url_parse(s, &u, &why))
		fail_msg("%s: refused (%s)", s, why);
	return u;
}

static void
test_host_and_defaults(void **state)
{
	struct redis_url u = parse_ok("redis://cache.internal");

	(void)state;
	assert_string_equal(u.host, "cache.internal");
	assert_int_equal(u.port, REDIS_URL_DEFAULT_PORT);
	assert_string_equal(u.password, "");
	assert_int_equal(u.db, 0);
	u = parse_ok("redis://127.0.0.1:6390/");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6390);
	assert_int_equal(u.db, 0);
}

static void
test_ipv6_literal(void **state)
{
	struct redis_url u = parse_ok("redis://[::1]:7000/2");

	(void)state;
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 2);
}

static void
test_password_and_escapes(void **state)
{
	struct redis_url u = parse_ok("redis://:s3cret@redis:6379/5");

	(void)state;
	assert_string_equal(u.password, "s3cret");
	assert_string_equal(u.host, "redis");
	assert_int_equal(u.db, 5);
	/* An '@' in a password, escaped or not: the last '@' ends it. */
	u = parse_ok("redis://:a%40b%3Ac@h");
	assert_string_equal(u.password, "a@b:c");
	u = parse_ok("redis://:a@b@h");
	assert_string_equal(u.password, "a@b");
	assert_string_equal(u.host, "h");
}

static void
refused(const char *s, const char *why_has)
{
	struct redis_url u;
	const char *why = NULL;

	if (!redis_url_parse(s, &u, &why))
		fail_msg("%s: accepted", s);
	assert_non_null(why);
	if (!strstr(why, why_has))
		fail_msg("%s: reason '%s' lacks '%s'", s, why, why_has);
}

static void
test_refusals(void **state)
{
	(void)state;
	refused("rediss://h:6380", "TLS");
	refused("http://h", "redis://");
	refused("redis://", "no host");
	refused("redis://:6379", "no host");
	refused("redis://h:0", "port");
	refused("redis://h:65536", "port");
	refused("redis://h:12x", "port");
	refused("redis://h:", "port");
	refused("redis://h/x", "database");
	refused("redis://h/-1", "database");
	refused("redis://h?timeout=1", "query");
	refused("redis://user@h", "credentials");
	refused("redis://user:pw@h", "user name");
	refused("redis://:@h", "credentials");
	refused("redis://:%zz@h", "password");
	refused("redis://:%00@h", "password");
	refused("redis://ho st", "host");
	refused("redis://[::1", "IPv6");
	refused("redis://[::1]x", "IPv6");
	refused("redis://[zz]", "IPv6");
}

static void
test_length_bounds(void **state)
{
	char s[600], pw[REDIS_URL_PASSWORD_MAX + 2];

	(void)state;
	memset(pw, 'p', sizeof(pw) - 1);
	pw[REDIS_URL_PASSWORD_MAX] = 0; /* the longest one kept */
	snprintf(s, sizeof(s), "redis://:%s@h", pw);
	assert_int_equal(strlen(parse_ok(s).password), REDIS_URL_PASSWORD_MAX);
	pw[REDIS_URL_PASSWORD_MAX] = 'p';
	pw[REDIS_URL_PASSWORD_MAX + 1] = 0;
	snprintf(s, sizeof(s), "redis://:%s@h", pw);
	refused(s, "password");
	memset(s, 0, sizeof(s));
	memcpy(s, "redis://", 8);
	memset(s + 8, 'h', REDIS_URL_HOST_MAX + 1);
	refused(s, "too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_and_defaults),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_password_and_escapes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_length_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
