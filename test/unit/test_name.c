/*
 * name: the room/nick rule, 1..max characters of [A-Za-z0-9_.-]: the length
 * boundaries for both maxima and every byte outside the set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

/* A scratch buffer big enough for any name a test builds. */
#define BUF 512

static int
setup(void **state)
{
	char *buf = calloc(1, BUF);

	if (!buf)
		return -1;
	*state = buf;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	*state = NULL;
	return 0;
}

static bool
in_set(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* n copies of c, NUL-terminated, in buf. */
static const char *
fill(char *buf, char c, size_t n)
{
	assert_true(n < BUF);
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_name_empty_and_null_are_rejected(void **state)
{
	assert_false(name_is_valid("", NAME_ROOM_MAX));
	assert_false(name_is_valid("", NAME_NICK_MAX));
	assert_false(name_is_valid(NULL, NAME_ROOM_MAX));
}

static void
test_name_single_char_is_accepted(void **state)
{
	assert_true(name_is_valid("a", NAME_ROOM_MAX));
	assert_true(name_is_valid("Z", NAME_NICK_MAX));
	assert_true(name_is_valid("0", NAME_NICK_MAX));
	assert_true(name_is_valid("-", NAME_NICK_MAX));
	assert_true(name_is_valid(".", NAME_ROOM_MAX));
	assert_true(name_is_valid("_", NAME_ROOM_MAX));
}

static void
test_name_room_max_length_boundary(void **state)
{
	char *buf = *state;

	assert_int_equal(NAME_ROOM_MAX, 64);
	assert_true(name_is_valid(fill(buf, 'r', 63), NAME_ROOM_MAX));
	assert_true(name_is_valid(fill(buf, 'r', 64), NAME_ROOM_MAX));
	assert_false(name_is_valid(fill(buf, 'r', 65), NAME_ROOM_MAX));
	assert_false(name_is_valid(fill(buf, 'r', 500), NAME_ROOM_MAX));
}

static void
test_name_nick_max_length_boundary(void **state)
{
	char *buf = *state;

	assert_int_equal(NAME_NICK_MAX, 32);
	assert_true(name_is_valid(fill(buf, 'n', 31), NAME_NICK_MAX));
	assert_true(name_is_valid(fill(buf, 'n', 32), NAME_NICK_MAX));
	assert_false(name_is_valid(fill(buf, 'n', 33), NAME_NICK_MAX));
	/* A valid room name can be too long for a nick. */
	assert_true(name_is_valid(fill(buf, 'n', 40), NAME_ROOM_MAX));
	assert_false(name_is_valid(buf, NAME_NICK_MAX));
}

static void
test_name_every_allowed_char_is_accepted(void **state)
{
	static const char all[] = "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	char one[2] = { 0 };

	assert_true(name_is_valid(all, sizeof(all)));
	assert_true(name_is_valid("guest-3f2a", NAME_NICK_MAX));
	assert_true(name_is_valid("..", NAME_ROOM_MAX));
	assert_true(name_is_valid("--x--", NAME_ROOM_MAX));
	for (const char *p = all; *p; p++) {
		one[0] = *p;
		assert_true(name_is_valid(one, 1));
	}
}

static void
test_name_each_bad_byte_is_rejected_anywhere(void **state)
{
	char *buf = *state;

	for (int c = 1; c < 256; c++) {
		if (in_set(c))
			continue;
		/* alone, first, in the middle, last */
		buf[0] = (char)c, buf[1] = '\0';
		if (name_is_valid(buf, NAME_ROOM_MAX))
			fail_msg("byte 0x%02x accepted alone", c);
		strcpy(buf, "?abc");
		buf[0] = (char)c;
		if (name_is_valid(buf, NAME_ROOM_MAX))
			fail_msg("byte 0x%02x accepted first", c);
		strcpy(buf, "ab?cd");
		buf[2] = (char)c;
		if (name_is_valid(buf, NAME_ROOM_MAX))
			fail_msg("byte 0x%02x accepted inside", c);
		strcpy(buf, "abcd?");
		buf[4] = (char)c;
		if (name_is_valid(buf, NAME_NICK_MAX))
			fail_msg("byte 0x%02x accepted last", c);
	}
}

static void
test_name_common_bad_names_are_rejected(void **state)
{
	static const char *const bad[] = {
		" lobby", "lobby ", "lob by", "a/b",     "a\\b",
		"a:b",	  "a@b",    "#room",  "caf\xc3\xa9", "\xf0\x9f\x98\x80",
		"a\tb",	  "a\nb",   "<b>",    "a+b",     "a,b",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (name_is_valid(bad[i], NAME_ROOM_MAX))
			fail_msg("'%s' accepted", bad[i]);
}

static void
test_name_bad_char_just_past_max_is_rejected(void **state)
{
	char *buf = *state;

	/* max valid chars, then one bad one: too long and bad. */
	fill(buf, 'x', NAME_NICK_MAX + 1);
	buf[NAME_NICK_MAX] = '!';
	assert_false(name_is_valid(buf, NAME_NICK_MAX));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_name_empty_and_null_are_rejected),
		T(test_name_single_char_is_accepted),
		T(test_name_room_max_length_boundary),
		T(test_name_nick_max_length_boundary),
		T(test_name_every_allowed_char_is_accepted),
		T(test_name_each_bad_byte_is_rejected_anywhere),
		T(test_name_common_bad_names_are_rejected),
		T(test_name_bad_char_just_past_max_is_rejected),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
