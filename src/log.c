/*
 * Leveled logging: a threshold and one emit function, shared with lws.
 */
#include "log.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static void
emit_line(const char *tag, const char *text)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %s%s", when, ts.tv_nsec / 1000000, tag,
		text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
}

static void
lws_emit(int level, const char *line)
{
	emit_line(level == LLL_ERR ? "lws-e" : "lws", line);
}

void
log_setup(enum log_level level)
{
	int lws_mask = LLL_ERR;

	threshold = level;
	if (level <= LOG_LEVEL_WARN)
		lws_mask |= LLL_WARN;
	if (level == LOG_LEVEL_DEBUG)
		lws_mask |= LLL_NOTICE;
	lws_set_log_level(lws_mask, lws_emit);
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_emit(enum log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (level < threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit_line(level_names[level], text);
}
