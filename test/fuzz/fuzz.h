/*
 * Shared by the libFuzzer harnesses: a check that aborts whatever NDEBUG
 * says (libFuzzer records the input as a crash), and a second UTF-8
 * validator written from a different source (Unicode 15, table 3-7) so
 * that src/utf8.c is compared, not trusted.
 */
#ifndef CHAT_FUZZ_H
#define CHAT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #cond);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* Well-formed UTF-8 byte sequences (table 3-7): for each range of lead
 * bytes, how many bytes follow and the range of the first of them; the
 * others are always 80..BF. */
static inline bool
fuzz_utf8_is_valid(const unsigned char *p, size_t len)
{
	static const struct {
		unsigned char first, last, n, lo, hi;
	} leads[] = {
		{ 0xc2, 0xdf, 1, 0x80, 0xbf }, { 0xe0, 0xe0, 2, 0xa0, 0xbf },
		{ 0xe1, 0xec, 2, 0x80, 0xbf }, { 0xed, 0xed, 2, 0x80, 0x9f },
		{ 0xee, 0xef, 2, 0x80, 0xbf }, { 0xf0, 0xf0, 3, 0x90, 0xbf },
		{ 0xf1, 0xf3, 3, 0x80, 0xbf }, { 0xf4, 0xf4, 3, 0x80, 0x8f },
	};
	size_t i = 0;

	while (i < len) {
		size_t k, n = sizeof(leads) / sizeof(leads[0]);

		if (p[i] <= 0x7f) {
			i++;
			continue;
		}
		for (k = 0; k < n; k++)
			if (p[i] >= leads[k].first && p[i] <= leads[k].last)
				break;
		if (k == n || len - i - 1 < leads[k].n)
			return false;
		if (p[i + 1] < leads[k].lo || p[i + 1] > leads[k].hi)
			return false;
		for (size_t j = 2; j <= leads[k].n; j++)
			if (p[i + j] < 0x80 || p[i + j] > 0xbf)
				return false;
		i += 1 + leads[k].n;
	}
	return true;
}

#endif
