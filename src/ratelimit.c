/*
 * Token bucket in integer thousandths (no floating point on the request
 * path) plus one-second windows for flood detection.
 */
#include "ratelimit.h"

void
ratelimit_init(struct ratelimit *r, unsigned burst, int64_t now_ms)
{
	*r = (struct ratelimit){
		.millitokens = (int64_t)burst * 1000,
		.last_ms = now_ms,
		.window_ms = now_ms,
	};
}

/* Closes the window that ended before now and counts it as flood or not. */
static void
roll_window(struct ratelimit *r, unsigned rate, int64_t now_ms)
{
	int64_t elapsed = now_ms - r->window_ms;

	if (elapsed < 1000)
		return;
	if (elapsed < 2000 &&
	    r->window_count > (uint64_t)rate * RATELIMIT_FLOOD_FACTOR)
		r->flood_secs++;
	else
		r->flood_secs = 0; /* a calm window, or a whole idle second */
	r->window_ms = now_ms;
	r->window_count = 0;
}

enum ratelimit_verdict
ratelimit_take(struct ratelimit *r, unsigned rate, unsigned burst,
	       int64_t now_ms)
{
	int64_t cap = (int64_t)burst * 1000;

	if (!rate)
		return RATELIMIT_OK;
	/* A clock step backwards refills nothing and counts as no time. */
	if (now_ms > r->last_ms) {
		r->millitokens += (now_ms - r->last_ms) * (int64_t)rate;
		if (r->millitokens > cap)
			r->millitokens = cap;
		r->last_ms = now_ms;
	}
	if (now_ms < r->window_ms)
		r->window_ms = now_ms;
	roll_window(r, rate, now_ms);
	r->window_count++;
	if (r->flood_secs >= RATELIMIT_FLOOD_SECS)
		return RATELIMIT_CLOSE;
	if (r->millitokens < 1000)
		return RATELIMIT_DROP;
	r->millitokens -= 1000;
	return RATELIMIT_OK;
}
