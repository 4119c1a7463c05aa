/*
 * Leveled logging to stderr, as text or as one JSON object per line. One
 * emit function serves chatd and lws, so their lines interleave in one
 * format with the same timestamps.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/*
 * A named value an event carries besides its message: a member of the
 * JSON object, and nothing more in text, where the message already says
 * it. A NULL str leaves the field out.
 */
struct log_field {
	const char *key;
	const char *str;
	long long num;
	bool is_num;
};

#define LOG_STR(k, v) ((struct log_field){ .key = (k), .str = (v) })
#define LOG_NUM(k, v) \
	((struct log_field){ .key = (k), .num = (long long)(v), .is_num = true })

/* Sets the threshold and format, and routes lws's own logging (its err
 * and warn) here. */
void log_setup(enum log_level level, enum log_format format);

/* Parses "debug|info|warn|error"; returns 0 or -1 when the name is unknown. */
int log_level_parse(const char *name, enum log_level *out);

/* Parses "text|json"; returns 0 or -1 when the name is unknown. */
int log_format_parse(const char *name, enum log_format *out);

/*
 * One line for event (a short name such as "connect", which JSON readers
 * filter on) with a printf message and the fields.
 */
void log_event(enum log_level level, const char *event,
	       const struct log_field *fields, size_t nfields, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));

/*
 * A line printed whatever the threshold, for what scripts wait for (the
 * ready line): in text, the bare message with no time or level, as it
 * always was; in JSON, an object of level "notice".
 */
void log_notice(const char *event, const struct log_field *fields,
		size_t nfields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The one line of a fatal error, whatever the threshold: "chatd: why" in
 * text, as start-up errors always were; an object of level "error" and
 * event "fatal" in JSON.
 */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_emit(level, ...) log_event(level, "log", NULL, 0, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_err(...) log_emit(LOG_LEVEL_ERR, __VA_ARGS__)

#define LOG_NFIELDS(array) (sizeof(array) / sizeof((array)[0]))

#endif
