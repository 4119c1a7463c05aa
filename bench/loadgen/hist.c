/*
 * Log-linear latency histogram (see hist.h). Values past the top bucket
 * land in it, but max stays exact.
 */
#include "hist.h"

#include <string.h>

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static unsigned
index_of(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	/* v >> shift keeps the top HIST_SUB_BITS + 1 bits: 32..63. */
	unsigned shift = msb - HIST_SUB_BITS;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

static uint64_t
mid_of(unsigned i)
{
	if (i < 2 * HIST_SUB)
		return i;
	unsigned shift = i / HIST_SUB - 1;
	uint64_t lo = (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
	return lo + (((uint64_t)1 << shift) >> 1);
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->n[index_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen > want) {
			uint64_t m = mid_of(i);
			return m > h->max ? h->max : m;
		}
	}
	return h->max;
}
