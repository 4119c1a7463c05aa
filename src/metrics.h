/*
 * metrics: the Prometheus text exposition (format 0.0.4) of one chat's
 * gauges and counters (chat_stats) and of the process (memory, file
 * descriptors). Its one job is the text; http.c serves it.
 */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stddef.h>

struct chat;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders every family, each with HELP and TYPE lines and names starting
 * "chat_". Returns the text (malloc'd, NUL-terminated; the caller frees
 * it) with its length in *len, or NULL when out of memory. Reads c and
 * /proc/self; service thread only (c is not locked).
 */
char *metrics_render(const struct chat *c, size_t *len);

#endif
