/*
 * utf8_is_valid: RFC 3629 UTF-8 as inbound text frames must be (close
 * 1007 otherwise): multi-byte forms at their boundaries, overlong forms,
 * surrogates, code points past U+10FFFF, truncated sequences and stray
 * continuation bytes (src/utf8.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct fx {
	unsigned char *buf; /* exact-size copy: ASan catches reads past len */
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->buf);
	free(fx);
	*state = NULL;
	return 0;
}

static bool
valid(struct fx *fx, const void *p, size_t len)
{
	free(fx->buf);
	fx->buf = malloc(len ? len : 1);
	assert_non_null(fx->buf);
	if (len)
		memcpy(fx->buf, p, len);
	return utf8_is_valid(fx->buf, len);
}

#define V(lit) valid(fx, lit, sizeof(lit) - 1)

static void
print_hex(const char *what, const unsigned char *p, size_t len)
{
	print_error("%s:", what);
	for (size_t i = 0; i < len; i++)
		print_error(" %02x", p[i]);
	print_error("\n");
}

#define assert_valid(lit)                                                     \
	do {                                                                  \
		if (!V(lit)) {                                                \
			print_hex("rejected", (const unsigned char *)(lit),   \
				  sizeof(lit) - 1);                           \
			fail();                                               \
		}                                                             \
	} while (0)

#define assert_invalid(lit)                                                   \
	do {                                                                  \
		if (V(lit)) {                                                 \
			print_hex("accepted", (const unsigned char *)(lit),   \
				  sizeof(lit) - 1);                           \
			fail();                                               \
		}                                                             \
	} while (0)

/* Encodes cp (no checks) and returns the length. */
static size_t
encode(uint32_t cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

static void
test_utf8_empty_and_ascii_are_valid(void **state)
{
	struct fx *fx = *state;
	unsigned char all[128];

	assert_true(valid(fx, "", 0));
	assert_valid("hello world");
	for (int i = 0; i < 128; i++)
		all[i] = (unsigned char)i;
	/* NUL and every other control byte are valid UTF-8. */
	assert_true(valid(fx, all, sizeof(all)));
}

static void
test_utf8_multibyte_boundaries_are_valid(void **state)
{
	struct fx *fx = *state;

	assert_valid("\xc2\x80");         /* U+0080, smallest 2-byte */
	assert_valid("\xc3\xa9");         /* e-acute */
	assert_valid("\xdf\xbf");         /* U+07FF, largest 2-byte */
	assert_valid("\xe0\xa0\x80");     /* U+0800, smallest 3-byte */
	assert_valid("\xe2\x82\xac");     /* euro */
	assert_valid("\xe2\x80\xa8");     /* U+2028 */
	assert_valid("\xed\x9f\xbf");     /* U+D7FF, just below surrogates */
	assert_valid("\xee\x80\x80");     /* U+E000, just above */
	assert_valid("\xef\xbf\xbd");     /* U+FFFD */
	assert_valid("\xef\xbf\xbf");     /* U+FFFF */
	assert_valid("\xf0\x90\x80\x80"); /* U+10000, smallest 4-byte */
	assert_valid("\xf0\x9f\x98\x80"); /* grinning face */
	assert_valid("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
	assert_valid("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
		     "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!");
}

static void
test_utf8_every_scalar_value_round_trips(void **state)
{
	struct fx *fx = *state;
	unsigned char b[4];

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n = encode(cp, b);
		bool want = cp < 0xd800 || cp > 0xdfff;

		if (valid(fx, b, n) != want)
			fail_msg("U+%04X: got %s", (unsigned)cp,
				 want ? "invalid" : "valid");
	}
}

static void
test_utf8_overlong_forms_are_invalid(void **state)
{
	struct fx *fx = *state;

	assert_invalid("\xc0\x80");         /* NUL in 2 bytes */
	assert_invalid("\xc0\xaf");         /* '/' */
	assert_invalid("\xc1\xbf");         /* U+007F */
	assert_invalid("\xe0\x80\x80");     /* NUL in 3 bytes */
	assert_invalid("\xe0\x80\xaf");
	assert_invalid("\xe0\x9f\xbf");     /* U+07FF in 3 bytes */
	assert_invalid("\xf0\x80\x80\x80"); /* NUL in 4 bytes */
	assert_invalid("\xf0\x80\x80\xaf");
	assert_invalid("\xf0\x8f\xbf\xbf"); /* U+FFFF in 4 bytes */
	assert_invalid("ok\xc0\x80ok");
}

static void
test_utf8_surrogates_are_invalid(void **state)
{
	struct fx *fx = *state;

	assert_invalid("\xed\xa0\x80"); /* U+D800 */
	assert_invalid("\xed\xad\xbf"); /* U+DB7F */
	assert_invalid("\xed\xb0\x80"); /* U+DC00 */
	assert_invalid("\xed\xbf\xbf"); /* U+DFFF */
	/* A CESU-8 style pair for U+1F600. */
	assert_invalid("\xed\xa0\xbd\xed\xb8\x80");
}

static void
test_utf8_beyond_u10ffff_is_invalid(void **state)
{
	struct fx *fx = *state;

	assert_invalid("\xf4\x90\x80\x80"); /* U+110000 */
	assert_invalid("\xf4\xbf\xbf\xbf");
	assert_invalid("\xf5\x80\x80\x80");
	assert_invalid("\xf7\xbf\xbf\xbf"); /* U+1FFFFF */
	assert_invalid("\xf8\x88\x80\x80\x80"); /* old 5-byte form */
	assert_invalid("\xfc\x84\x80\x80\x80\x80"); /* old 6-byte form */
	assert_invalid("\xfe");
	assert_invalid("\xff");
}

static void
test_utf8_truncated_sequences_are_invalid(void **state)
{
	struct fx *fx = *state;

	assert_invalid("\xc3");
	assert_invalid("\xe2\x82");
	assert_invalid("\xe2");
	assert_invalid("\xf0\x9f\x98");
	assert_invalid("\xf0\x9f");
	assert_invalid("\xf0");
	assert_invalid("abc\xe2\x82");
	assert_invalid("abc\xf0\x9f\x98");
	/* Cut short by the next character rather than the end. */
	assert_invalid("\xc3" "a");
	assert_invalid("\xe2\x82" "a");
	assert_invalid("\xf0\x9f\x98" "a");
	assert_invalid("\xe2\x82\xc3\xa9");
}

static void
test_utf8_truncation_by_len_is_invalid(void **state)
{
	struct fx *fx = *state;
	static const char euro[] = "x\xe2\x82\xac";

	/* The bytes exist in memory past len, but len is what counts. */
	assert_true(valid(fx, euro, 4));
	assert_false(valid(fx, euro, 3));
	assert_false(valid(fx, euro, 2));
	assert_true(valid(fx, euro, 1));
}

static void
test_utf8_stray_continuation_bytes_are_invalid(void **state)
{
	struct fx *fx = *state;

	assert_invalid("\x80");
	assert_invalid("\xbf");
	assert_invalid("a\x80");
	assert_invalid("\x80" "a");
	assert_invalid("\xc3\xa9\xa9");         /* one too many */
	assert_invalid("\xe2\x82\xac\x80");
	assert_invalid("\xf0\x9f\x98\x80\x80");
	for (int c = 0x80; c <= 0xbf; c++) {
		unsigned char b[3] = { 'x', (unsigned char)c, 'y' };

		if (valid(fx, b, sizeof(b)))
			fail_msg("lone 0x%02x accepted", c);
	}
}

static void
test_utf8_every_lead_byte_alone_is_invalid(void **state)
{
	struct fx *fx = *state;

	for (int c = 0x80; c <= 0xff; c++) {
		unsigned char b = (unsigned char)c;

		if (valid(fx, &b, 1))
			fail_msg("lone 0x%02x accepted", c);
	}
}

static void
test_utf8_invalid_byte_late_in_long_text_is_found(void **state)
{
	struct fx *fx = *state;
	size_t len = 100000;
	unsigned char *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i + 4 <= len; i += 4)
		memcpy(p + i, "\xf0\x9f\x98\x80", 4);
	assert_true(valid(fx, p, len));
	p[len - 2] = 0x41; /* breaks the last emoji */
	assert_false(valid(fx, p, len));
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_utf8_empty_and_ascii_are_valid),
		T(test_utf8_multibyte_boundaries_are_valid),
		T(test_utf8_every_scalar_value_round_trips),
		T(test_utf8_overlong_forms_are_invalid),
		T(test_utf8_surrogates_are_invalid),
		T(test_utf8_beyond_u10ffff_is_invalid),
		T(test_utf8_truncated_sequences_are_invalid),
		T(test_utf8_truncation_by_len_is_invalid),
		T(test_utf8_stray_continuation_bytes_are_invalid),
		T(test_utf8_every_lead_byte_alone_is_invalid),
		T(test_utf8_invalid_byte_late_in_long_text_is_found),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
