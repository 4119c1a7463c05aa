/*
 * Leveled logging: a threshold, a format and one emit function, shared
 * with lws. JSON lines are built with jansson, one compact object each.
 */
#include "log.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level threshold = LOG_LEVEL_INFO;
static enum log_format format = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const format_names[] = { "text", "json" };

/*
 * A JSON string for text that may not be UTF-8 (a nick is, but lws's lines
 * and peer input quoted in a message may not be): bytes jansson refuses
 * become '?', so the line is still written.
 */
static json_t *
json_text(const char *text)
{
	json_t *j = json_string(text);
	char *copy;

	if (j)
		return j;
	copy = strdup(text);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static void
emit_json(const char *when, const char *level, const char *event,
	  const struct log_field *fields, size_t nfields, const char *text)
{
	json_t *o = json_object();
	char *line;

	if (!o)
		return;
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "event", json_string(event));
	json_object_set_new(o, "msg", json_text(text));
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].is_num)
			json_object_set_new(o, fields[i].key,
					    json_integer(fields[i].num));
		else if (fields[i].str)
			json_object_set_new(o, fields[i].key,
					    json_text(fields[i].str));
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line)
		fprintf(stderr, "%s\n", line);
	free(line);
	json_decref(o);
}

/* The time of a line, ISO 8601 in UTC with milliseconds. */
static void
format_time(char *when, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void
emit_line(const char *level, const char *event,
	  const struct log_field *fields, size_t nfields, char *text)
{
	char when[40];
	size_t len = strlen(text);

	/* lws ends its lines with a newline; one line is one entry. */
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	format_time(when, sizeof(when));
	if (format == LOG_FORMAT_JSON)
		emit_json(when, level, event, fields, nfields, text);
	else
		fprintf(stderr, "%s %-5s %s\n", when, level, text);
}

static void
lws_emit(int level, const char *line)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s", line);
	if (format == LOG_FORMAT_JSON)
		emit_line(level == LLL_ERR ? "error" : "warn", "lws", NULL, 0,
			  text);
	else
		emit_line(level == LLL_ERR ? "lws-e" : "lws", "lws", NULL, 0,
			  text);
}

void
log_setup(enum log_level level, enum log_format fmt)
{
	int lws_mask = LLL_ERR;

	threshold = level;
	format = fmt;
	if (level <= LOG_LEVEL_WARN)
		lws_mask |= LLL_WARN;
	if (level == LOG_LEVEL_DEBUG)
		lws_mask |= LLL_NOTICE;
	lws_set_log_level(lws_mask, lws_emit);
}

static int
name_index(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

int
log_level_parse(const char *name, enum log_level *out)
{
	int i = name_index(name, level_names,
			   sizeof(level_names) / sizeof(level_names[0]));

	if (i < 0)
		return -1;
	*out = (enum log_level)i;
	return 0;
}

int
log_format_parse(const char *name, enum log_format *out)
{
	int i = name_index(name, format_names,
			   sizeof(format_names) / sizeof(format_names[0]));

	if (i < 0)
		return -1;
	*out = (enum log_format)i;
	return 0;
}

/* A line printed whatever the threshold: text bare, JSON with a time. */
static void
emit_always(const char *level, const char *event,
	    const struct log_field *fields, size_t nfields, const char *prefix,
	    const char *text)
{
	char when[40];

	if (format == LOG_FORMAT_JSON) {
		format_time(when, sizeof(when));
		emit_json(when, level, event, fields, nfields, text);
	} else {
		fprintf(stderr, "%s%s\n", prefix, text);
	}
	fflush(stderr);
}

void
log_notice(const char *event, const struct log_field *fields, size_t nfields,
	   const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit_always("notice", event, fields, nfields, "", text);
}

void
log_fatal(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit_always("error", "fatal", NULL, 0, "chatd: ", text);
}

void
log_event(enum log_level level, const char *event,
	  const struct log_field *fields, size_t nfields, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (level < threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit_line(level_names[level], event, fields, nfields, text);
}
