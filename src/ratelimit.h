/*
 * ratelimit: one client's request budget, a token bucket (--rate tokens a
 * second, at most --burst saved up), and the flood detector that closes a
 * client which keeps sending at over ten times the rate. Pure: the caller
 * passes the clock. 32 bytes per session.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdint.h>

/* Sending at over RATELIMIT_FLOOD_FACTOR times the rate for
 * RATELIMIT_FLOOD_SECS whole seconds in a row gets a client closed. */
#define RATELIMIT_FLOOD_FACTOR 10
#define RATELIMIT_FLOOD_SECS 10

enum ratelimit_verdict {
	RATELIMIT_OK,    /* handle the request */
	RATELIMIT_DROP,  /* over the limit: refuse this one */
	RATELIMIT_CLOSE, /* a sustained flood: close the connection */
};

struct ratelimit {
	int64_t millitokens;  /* thousandths of a request */
	int64_t last_ms;      /* when the bucket was last refilled */
	int64_t window_ms;    /* start of the current one-second window */
	uint32_t window_count; /* requests seen in it */
	uint32_t flood_secs;   /* windows in a row over the flood rate */
};

/* A full bucket at now_ms. */
void ratelimit_init(struct ratelimit *r, unsigned burst, int64_t now_ms);

/*
 * Counts one request at now_ms against rate per second and burst. rate 0
 * means no limit (always RATELIMIT_OK).
 */
enum ratelimit_verdict ratelimit_take(struct ratelimit *r, unsigned rate,
				      unsigned burst, int64_t now_ms);

#endif
