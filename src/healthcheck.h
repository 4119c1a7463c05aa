/*
 * chatd --healthcheck [URL]: one GET, for container health checks that
 * have no curl. Exits 0 when the answer is 200, 1 otherwise.
 */
#ifndef CHAT_HEALTHCHECK_H
#define CHAT_HEALTHCHECK_H

#include <stddef.h>

#include "config.h"

#define HEALTHCHECK_TIMEOUT_MS 5000

enum healthcheck_result {
	HEALTHCHECK_OK = 0,        /* 200 */
	HEALTHCHECK_UNHEALTHY = 1, /* another status, or no answer */
	HEALTHCHECK_USAGE = 2,     /* the URL cannot be used */
};

/*
 * Probes cfg->healthcheck_url, or when it is NULL this configuration's own
 * /healthz (http or https, --host or loopback, --port). why gets one line
 * on any result but HEALTHCHECK_OK. https is not verified: the check asks
 * whether this server answers, not who it is.
 */
enum healthcheck_result healthcheck_run(const struct config *cfg, char *why,
					size_t whylen);

#endif
