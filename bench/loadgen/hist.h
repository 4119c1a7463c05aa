/*
 * Latency histogram in the manner of HdrHistogram: log2 buckets, each split
 * into 32 linear sub-buckets, so any recorded value is known within about
 * 3% from 1 ns to 2^40 ns (18 minutes). Fixed size, no allocation.
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t n[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* The value at quantile q (0..1): the midpoint of its bucket; 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
