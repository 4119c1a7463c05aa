/*
 * Leveled logging to stderr. One emit function serves chatd and lws, so
 * their lines interleave with the same timestamp format.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

/* Sets the threshold and routes lws's own logging (its err and warn) here. */
void log_setup(enum log_level level);

/* Parses "debug|info|warn|error"; returns 0 or -1 when the name is unknown. */
int log_level_parse(const char *name, enum log_level *out);

void log_emit(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_err(...) log_emit(LOG_LEVEL_ERR, __VA_ARGS__)

#endif
