/*
 * config: defaults, then environment variables, then flags; both flag forms
 * (--port=N and --port N); every error names its option or variable;
 * --help and --version. Setup clears the variables and teardown restores them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *const env_names[] = {
	"PORT",
	"CHAT_HOST",
	"CHAT_WWW",
	"CHAT_HISTORY",
	"CHAT_MAX_MESSAGE_BYTES",
	"CHAT_MAX_TEXT_BYTES",
	"CHAT_SEND_QUEUE_BYTES",
	"CHAT_DB",
	"CHAT_HISTORY_MAX",
	"CHAT_METRICS_LISTEN",
	"CHAT_HISTORY_MAX_TOTAL",
	"CHAT_LOG_LEVEL",
	"CHAT_LOG_FORMAT",
	"CHAT_JWT_SECRET",
	"CHAT_REDIS",
	"CHAT_INSTANCE_ID",
	"CHAT_SOCKETIO",
};
#define N_ENV (sizeof(env_names) / sizeof(env_names[0]))

#define MAX_ARGS 32

struct fx {
	char *saved[N_ENV]; /* the variables as they were; NULL: unset */
	struct config cfg;
	char err[256];
	char *argv[MAX_ARGS + 2];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	for (size_t i = 0; i < N_ENV; i++) {
		const char *v = getenv(env_names[i]);

		if (v && !(fx->saved[i] = strdup(v)))
			return -1;
		unsetenv(env_names[i]);
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < N_ENV; i++) {
		if (fx->saved[i])
			setenv(env_names[i], fx->saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(fx->saved[i]);
	}
	free(fx);
	*state = NULL;
	return 0;
}

/* config_parse with argv = { "chatd", args..., NULL }. */
#define PARSE(fx, ...) parse_args((fx), (const char *[]){ __VA_ARGS__, NULL })
#define PARSE0(fx) parse_args((fx), (const char *[]){ NULL })

static enum config_result
parse_args(struct fx *fx, const char **args)
{
	int argc = 0;

	fx->argv[argc++] = "chatd";
	while (*args) {
		assert_true(argc <= MAX_ARGS);
		fx->argv[argc++] = (char *)*args++;
	}
	fx->argv[argc] = NULL;
	memset(fx->err, 0, sizeof(fx->err));
	return config_parse(&fx->cfg, argc, fx->argv, fx->err,
			    sizeof(fx->err));
}

/* The error line must mention each of the given words. */
static void
assert_err_names(const struct fx *fx, const char *word)
{
	if (!strstr(fx->err, word))
		fail_msg("error '%s' does not name '%s'", fx->err, word);
}

static void
assert_error(struct fx *fx, enum config_result got, const char *name,
	     const char *value)
{
	if (got != CONFIG_ERROR)
		fail_msg("expected an error naming %s, got result %d", name,
			 (int)got);
	assert_true(fx->err[0] != '\0');
	assert_null(strchr(fx->err, '\n'));
	assert_err_names(fx, name);
	if (value)
		assert_err_names(fx, value);
}

static void
assert_defaults(const struct config *c)
{
	assert_null(c->host);
	assert_int_equal(c->port, CONFIG_DEFAULT_PORT);
	assert_int_equal(c->port, 5000);
	/* NULL: found at start-up, wherever chatd was started (paths.c). */
	assert_null(c->www);
	assert_int_equal(c->history, CONFIG_DEFAULT_HISTORY);
	assert_int_equal(c->max_message_bytes, CONFIG_DEFAULT_MAX_MESSAGE_BYTES);
	assert_int_equal(c->max_text_bytes, CONFIG_DEFAULT_MAX_TEXT_BYTES);
	assert_int_equal(c->send_queue_bytes, CONFIG_DEFAULT_SEND_QUEUE_BYTES);
	assert_null(c->db);
	assert_int_equal(c->history_max, CONFIG_DEFAULT_HISTORY_MAX);
	assert_int_equal(c->history_max_total,
			 CONFIG_DEFAULT_HISTORY_MAX_TOTAL);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
	assert_null(c->healthcheck_url);
	assert_true(c->socketio);
}

/* ---- defaults, env, flags ------------------------------------------- */

static void
test_config_no_args_no_env_gives_defaults(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_defaults(&fx->cfg);
}

static void
test_config_env_sets_every_option(void **state)
{
	struct fx *fx = *state;

	setenv("PORT", "6001", 1);
	setenv("CHAT_HOST", "127.0.0.1", 1);
	setenv("CHAT_WWW", "/srv/www", 1);
	setenv("CHAT_HISTORY", "7", 1);
	setenv("CHAT_MAX_MESSAGE_BYTES", "2048", 1);
	setenv("CHAT_MAX_TEXT_BYTES", "300", 1);
	setenv("CHAT_SEND_QUEUE_BYTES", "8192", 1);
	setenv("CHAT_DB", "/tmp/env.db", 1);
	setenv("CHAT_HISTORY_MAX", "500", 1);
	setenv("CHAT_LOG_LEVEL", "debug", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 6001);
	assert_string_equal(fx->cfg.host, "127.0.0.1");
	assert_string_equal(fx->cfg.www, "/srv/www");
	assert_int_equal(fx->cfg.history, 7);
	assert_int_equal(fx->cfg.max_message_bytes, 2048);
	assert_int_equal(fx->cfg.max_text_bytes, 300);
	assert_int_equal(fx->cfg.send_queue_bytes, 8192);
	assert_string_equal(fx->cfg.db, "/tmp/env.db");
	assert_int_equal(fx->cfg.history_max, 500);
	assert_int_equal(fx->cfg.log_level, LOG_LEVEL_DEBUG);
}

static void
test_config_one_env_var_leaves_the_rest_default(void **state)
{
	struct fx *fx = *state;

	setenv("CHAT_HISTORY", "0", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_int_equal(fx->cfg.history, 0);
	fx->cfg.history = CONFIG_DEFAULT_HISTORY;
	assert_defaults(&fx->cfg);
}

static void
test_config_flags_with_separate_values(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--port", "7000", "--host", "::1", "--www",
			       "/tmp/w", "--history", "1000",
			       "--max-message-bytes", "64", "--max-text-bytes",
			       "1", "--send-queue-bytes", "1024", "--db",
			       ":memory:", "--history-max", "1",
			       "--log-level", "warn"),
			 CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 7000);
	assert_string_equal(fx->cfg.host, "::1");
	assert_string_equal(fx->cfg.www, "/tmp/w");
	assert_int_equal(fx->cfg.history, 1000);
	assert_int_equal(fx->cfg.max_message_bytes, 64);
	assert_int_equal(fx->cfg.max_text_bytes, 1);
	assert_int_equal(fx->cfg.send_queue_bytes, 1024);
	assert_string_equal(fx->cfg.db, ":memory:");
	assert_int_equal(fx->cfg.history_max, 1);
	assert_int_equal(fx->cfg.log_level, LOG_LEVEL_WARN);
}

static void
test_config_flags_with_equals_values(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--port=7001", "--host=0.0.0.0",
			       "--www=/a=b", "--history=3",
			       "--max-message-bytes=16777216",
			       "--max-text-bytes=16777216",
			       "--send-queue-bytes=4294967296",
			       "--db=a=b.db", "--history-max=1099511627776",
			       "--log-level=error"),
			 CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 7001);
	assert_string_equal(fx->cfg.host, "0.0.0.0");
	/* Only the first '=' splits. */
	assert_string_equal(fx->cfg.www, "/a=b");
	assert_int_equal(fx->cfg.history, 3);
	assert_int_equal(fx->cfg.max_message_bytes, 16u << 20);
	assert_int_equal(fx->cfg.max_text_bytes, 16u << 20);
	assert_true(fx->cfg.send_queue_bytes == (size_t)1 << 32);
	assert_string_equal(fx->cfg.db, "a=b.db");
	assert_true(fx->cfg.history_max == (size_t)1 << 40);
	assert_int_equal(fx->cfg.log_level, LOG_LEVEL_ERR);
}

static void
test_config_strings_point_into_argv_and_env(void **state)
{
	struct fx *fx = *state;

	setenv("CHAT_HOST", "envhost", 1);
	assert_int_equal(PARSE(fx, "--www", "dir"), CONFIG_RUN);
	assert_ptr_equal(fx->cfg.www, fx->argv[2]);
	assert_ptr_equal(fx->cfg.host, getenv("CHAT_HOST"));
}

static void
test_config_log_level_accepts_each_name(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "debug", LOG_LEVEL_DEBUG },
		{ "info", LOG_LEVEL_INFO },
		{ "warn", LOG_LEVEL_WARN },
		{ "error", LOG_LEVEL_ERR },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		assert_int_equal(PARSE(fx, "--log-level", levels[i].name),
				 CONFIG_RUN);
		assert_int_equal(fx->cfg.log_level, levels[i].level);
	}
}

static void
test_config_flags_beat_env(void **state)
{
	struct fx *fx = *state;

	setenv("PORT", "6001", 1);
	setenv("CHAT_HOST", "envhost", 1);
	setenv("CHAT_WWW", "envwww", 1);
	setenv("CHAT_HISTORY", "7", 1);
	setenv("CHAT_MAX_MESSAGE_BYTES", "2048", 1);
	setenv("CHAT_MAX_TEXT_BYTES", "300", 1);
	setenv("CHAT_SEND_QUEUE_BYTES", "8192", 1);
	setenv("CHAT_DB", "env.db", 1);
	setenv("CHAT_HISTORY_MAX", "500", 1);
	setenv("CHAT_LOG_LEVEL", "debug", 1);
	assert_int_equal(PARSE(fx, "--port", "0", "--host=flaghost", "--www",
			       "flagwww", "--history=9",
			       "--max-message-bytes", "4096",
			       "--max-text-bytes=400", "--send-queue-bytes",
			       "16384", "--db", "flag.db", "--history-max=600",
			       "--log-level=warn"),
			 CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 0);
	assert_string_equal(fx->cfg.host, "flaghost");
	assert_string_equal(fx->cfg.www, "flagwww");
	assert_int_equal(fx->cfg.history, 9);
	assert_int_equal(fx->cfg.max_message_bytes, 4096);
	assert_int_equal(fx->cfg.max_text_bytes, 400);
	assert_int_equal(fx->cfg.send_queue_bytes, 16384);
	assert_string_equal(fx->cfg.db, "flag.db");
	assert_int_equal(fx->cfg.history_max, 600);
	assert_int_equal(fx->cfg.log_level, LOG_LEVEL_WARN);
}

static void
test_config_env_applies_where_no_flag_is_given(void **state)
{
	struct fx *fx = *state;

	setenv("PORT", "6001", 1);
	setenv("CHAT_HISTORY", "7", 1);
	assert_int_equal(PARSE(fx, "--port=6002"), CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 6002);
	assert_int_equal(fx->cfg.history, 7);
}

static void
test_config_last_flag_wins(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--port", "1", "--port=2", "--port", "3"),
			 CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 3);
}

static void
test_config_range_boundaries_are_accepted(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--port", "0", "--history", "0"),
			 CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 0);
	assert_int_equal(fx->cfg.history, 0);
	assert_int_equal(PARSE(fx, "--port", "65535"), CONFIG_RUN);
	assert_int_equal(fx->cfg.port, 65535);
}

/* ---- errors --------------------------------------------------------- */

static void
test_config_unknown_flag_is_named(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "--bogus"), "--bogus", NULL);
	assert_error(fx, PARSE(fx, "--bogus=1"), "--bogus", NULL);
	assert_error(fx, PARSE(fx, "--port", "80", "-p"), "-p", NULL);
	assert_error(fx, PARSE(fx, "stray"), "stray", NULL);
	/* A prefix of a real flag is not that flag. */
	assert_error(fx, PARSE(fx, "--por=80"), "--por", NULL);
	assert_error(fx, PARSE(fx, "--ports=80"), "--ports", NULL);
	assert_error(fx, PARSE(fx, "-port=80"), "-port", NULL);
}

static void
test_config_bad_number_names_flag_and_value(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = { "abc", "12x", "1.5", "-1", "0x10",
					   "-0",  "1e3", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_error(fx, PARSE(fx, "--port", bad[i]), "--port", NULL);
		if (bad[i][0])
			assert_err_names(fx, bad[i]);
	}
	assert_error(fx, PARSE(fx, "--history=many"), "--history", "many");
	assert_error(fx, PARSE(fx, "--max-text-bytes=4k"), "--max-text-bytes",
		     "4k");
	assert_error(fx, PARSE(fx, "--port="), "--port", NULL);
}

static void
test_config_out_of_range_names_flag(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "--port", "65536"), "--port", "65536");
	assert_error(fx, PARSE(fx, "--port", "99999999999999999999999"),
		     "--port", NULL);
	assert_error(fx, PARSE(fx, "--history", "1001"), "--history", "1001");
	assert_error(fx, PARSE(fx, "--max-message-bytes", "63"),
		     "--max-message-bytes", "63");
	assert_error(fx, PARSE(fx, "--max-message-bytes", "16777217"),
		     "--max-message-bytes", NULL);
	assert_error(fx, PARSE(fx, "--max-text-bytes", "0"),
		     "--max-text-bytes", NULL);
	assert_error(fx, PARSE(fx, "--send-queue-bytes", "1023"),
		     "--send-queue-bytes", "1023");
	assert_error(fx, PARSE(fx, "--send-queue-bytes", "4294967297"),
		     "--send-queue-bytes", NULL);
	assert_error(fx, PARSE(fx, "--history-max", "0"), "--history-max",
		     NULL);
	assert_error(fx, PARSE(fx, "--history-max", "1099511627777"),
		     "--history-max", "1099511627777");
	assert_error(fx, PARSE(fx, "--history-max-total", "0"),
		     "--history-max-total", NULL);
}

static void
test_config_history_max_total_from_env_and_flag(void **state)
{
	struct fx *fx = *state;

	setenv("CHAT_HISTORY_MAX_TOTAL", "20", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_int_equal(fx->cfg.history_max_total, 20);
	assert_int_equal(PARSE(fx, "--history-max-total", "1"), CONFIG_RUN);
	assert_int_equal(fx->cfg.history_max_total, 1);
}

/* ADDR:PORT with an IPv4 or bracketed IPv6 literal; anything else names
 * the flag (or the variable) and the value. */
static void
test_config_metrics_listen_takes_addr_port_only(void **state)
{
	static const char *const bad[] = {
		"localhost:9100", "127.0.0.1", "::1:9100", "[::1]9100",
		"[::1]:", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1: 80",
		":9100", "1.2.3:80", "[127.0.0.1]:80", "[fe80::1%lo]:80",
	};
	struct fx *fx = *state;

	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_false(fx->cfg.metrics_listen.set);
	assert_int_equal(PARSE(fx, "--metrics-listen", "127.0.0.1:9100"),
			 CONFIG_RUN);
	assert_true(fx->cfg.metrics_listen.set);
	assert_string_equal(fx->cfg.metrics_listen.host, "127.0.0.1");
	assert_int_equal(fx->cfg.metrics_listen.port, 9100);
	assert_int_equal(PARSE(fx, "--metrics-listen=[::1]:0"), CONFIG_RUN);
	assert_string_equal(fx->cfg.metrics_listen.host, "::1");
	assert_int_equal(fx->cfg.metrics_listen.port, 0);
	setenv("CHAT_METRICS_LISTEN", "0.0.0.0:65535", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_string_equal(fx->cfg.metrics_listen.host, "0.0.0.0");
	assert_int_equal(fx->cfg.metrics_listen.port, 65535);
	setenv("CHAT_METRICS_LISTEN", "nowhere", 1);
	assert_error(fx, PARSE0(fx), "CHAT_METRICS_LISTEN", "nowhere");
	unsetenv("CHAT_METRICS_LISTEN");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(fx, PARSE(fx, "--metrics-listen", bad[i]),
			     "--metrics-listen", bad[i]);
}

/* --redis / CHAT_REDIS: parsed into host, port, password and db; a bad
 * URL names the flag and why, and never echoes the value (a password). */
static void
test_config_redis_url_from_env_and_flag(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_false(fx->cfg.redis_set);
	assert_null(fx->cfg.instance_id);
	assert_int_equal(PARSE(fx, "--redis", "redis://:pw@10.0.0.5:7000/3",
			       "--instance-id", "a1"),
			 CONFIG_RUN);
	assert_true(fx->cfg.redis_set);
	assert_string_equal(fx->cfg.redis.host, "10.0.0.5");
	assert_int_equal(fx->cfg.redis.port, 7000);
	assert_string_equal(fx->cfg.redis.password, "pw");
	assert_int_equal(fx->cfg.redis.db, 3);
	assert_string_equal(fx->cfg.instance_id, "a1");
	setenv("CHAT_REDIS", "redis://redis", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_true(fx->cfg.redis_set);
	assert_string_equal(fx->cfg.redis.host, "redis");
	assert_int_equal(fx->cfg.redis.port, 6379);
	assert_error(fx, PARSE(fx, "--redis", "rediss://:topsecret@h"),
		     "--redis", "TLS");
	assert_null(strstr(fx->err, "topsecret"));
	setenv("CHAT_REDIS", "redis://:topsecret@h:99999", 1);
	assert_error(fx, PARSE0(fx), "CHAT_REDIS", "port");
	assert_null(strstr(fx->err, "topsecret"));
	unsetenv("CHAT_REDIS");
}

/* --socketio / CHAT_SOCKETIO: on by default; on or off, nothing else
 * (not 1, not yes), and the flag beats the variable. */
static void
test_config_socketio_is_on_or_off(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = { "", "1", "0", "yes", "ON", "of" };

	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_true(fx->cfg.socketio);
	assert_int_equal(PARSE(fx, "--socketio", "off"), CONFIG_RUN);
	assert_false(fx->cfg.socketio);
	setenv("CHAT_SOCKETIO", "off", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_false(fx->cfg.socketio);
	assert_int_equal(PARSE(fx, "--socketio=on"), CONFIG_RUN);
	assert_true(fx->cfg.socketio);
	setenv("CHAT_SOCKETIO", "maybe", 1);
	assert_error(fx, PARSE0(fx), "CHAT_SOCKETIO", "maybe");
	unsetenv("CHAT_SOCKETIO");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(fx, PARSE(fx, "--socketio", bad[i]), "--socketio",
			     bad[i]);
}

static void
test_config_missing_value_names_flag(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "--port"), "--port", "missing");
	assert_error(fx, PARSE(fx, "--port", "1", "--log-level"),
		     "--log-level", "missing");
	assert_error(fx, PARSE(fx, "--host"), "--host", NULL);
}

static void
test_config_bad_log_level_names_flag_and_choices(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "--log-level", "loud"), "--log-level",
		     "loud");
	assert_err_names(fx, "debug");
	assert_error(fx, PARSE(fx, "--log-level="), "--log-level", NULL);
	assert_error(fx, PARSE(fx, "--log-level", "err"), "--log-level",
		     "err");
}

static void
test_config_empty_string_option_is_an_error(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "--www="), "--www", NULL);
	assert_error(fx, PARSE(fx, "--host", ""), "--host", NULL);
	assert_error(fx, PARSE(fx, "--db="), "--db", NULL);
}

static void
test_config_env_errors_name_the_variable(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *name, *value;
	} bad[] = {
		{ "PORT", "abc" },
		{ "PORT", "70000" },
		{ "CHAT_HISTORY", "-3" },
		{ "CHAT_MAX_MESSAGE_BYTES", "10" },
		{ "CHAT_MAX_TEXT_BYTES", "lots" },
		{ "CHAT_SEND_QUEUE_BYTES", "1" },
		{ "CHAT_LOG_LEVEL", "verbose" },
		{ "CHAT_HOST", "" },
		{ "CHAT_WWW", "" },
		{ "CHAT_DB", "" },
		{ "CHAT_HISTORY_MAX", "0" },
		{ "CHAT_HISTORY_MAX_TOTAL", "0" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv(bad[i].name, bad[i].value, 1);
		assert_error(fx, PARSE0(fx), bad[i].name,
			     bad[i].value[0] ? bad[i].value : NULL);
		unsetenv(bad[i].name);
	}
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
}

static void
test_config_error_fits_a_small_buffer(void **state)
{
	struct fx *fx = *state;
	char err[8];
	char *argv[] = { "chatd", "--max-message-bytes", "not-a-number",
			 NULL };

	memset(err, 'X', sizeof(err));
	assert_int_equal(config_parse(&fx->cfg, 3, argv, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_memory_equal(err, "--max-m", 7);
}

/*
 * Found by test/fuzz/fuzz_config.c (test/fuzz/corpus/config/regress-*):
 * the error line echoed what was typed as it was, so a newline split it in
 * two and an escape reached the terminal.
 */
static void
test_config_error_shows_control_bytes_escaped(void **state)
{
	struct fx *fx = *state;

	assert_error(fx, PARSE(fx, "\n"), "\\x0a: unknown option", NULL);
	assert_error(fx, PARSE(fx, "--po\x1b[2Jrt=1"), "--po\\x1b[2Jrt", NULL);
	assert_error(fx, PARSE(fx, "--port", "8\n0"), "--port", "'8\\x0a0'");
	assert_error(fx, PARSE(fx, "--log-level=\r\x7f"), "--log-level",
		     "'\\x0d\\x7f'");
	assert_error(fx, PARSE(fx, "--allowed-origin=https://a\x02"),
		     "--allowed-origin", "'https://a\\x02'");
	setenv("CHAT_HISTORY", "1\t2", 1);
	assert_error(fx, PARSE0(fx), "CHAT_HISTORY", "'1\\x092'");
	for (const char *p = fx->err; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* ---- help and version ----------------------------------------------- */

static void
test_config_help_and_version_results(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--help"), CONFIG_HELP);
	assert_int_equal(PARSE(fx, "-h"), CONFIG_HELP);
	assert_int_equal(PARSE(fx, "--port", "1", "--help"), CONFIG_HELP);
	assert_int_equal(PARSE(fx, "--version"), CONFIG_VERSION);
	assert_int_equal(PARSE(fx, "--log-level=debug", "--version"),
			 CONFIG_VERSION);
	/* The first of the two wins. */
	assert_int_equal(PARSE(fx, "--version", "--help"), CONFIG_VERSION);
}

static void
test_config_usage_lists_every_flag_and_variable(void **state)
{
	static const char *const flags[] = {
		"--port",	   "--host",	       "--www",
		"--history",	   "--max-message-bytes", "--max-text-bytes",
		"--send-queue-bytes", "--db",	       "--history-max",
		"--log-level",	   "--help",	       "--version",
	};
	char out[8192];
	size_t n;
	FILE *tmp = tmpfile();
	int saved;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	config_usage("chatd-test");
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	fclose(tmp);
	out[n] = '\0';

	assert_non_null(strstr(out, "chatd-test"));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(out, flags[i]))
			fail_msg("usage lacks %s:\n%s", flags[i], out);
	for (size_t i = 0; i < N_ENV; i++)
		if (!strstr(out, env_names[i]))
			fail_msg("usage lacks %s:\n%s", env_names[i], out);
}

/* CHAT_JWT_SECRET names the secret's file, as --jwt-secret-file does. */
static void
test_config_jwt_secret_file_from_env_and_flag(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_null(fx->cfg.jwt_secret_file);
	setenv("CHAT_JWT_SECRET", "/etc/chatd/from-env", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_string_equal(fx->cfg.jwt_secret_file, "/etc/chatd/from-env");
	assert_int_equal(PARSE(fx, "--jwt-secret-file", "/run/secret"),
			 CONFIG_RUN);
	assert_string_equal(fx->cfg.jwt_secret_file, "/run/secret");
	assert_int_equal(PARSE(fx, "--jwt-secret-file="), CONFIG_ERROR);
	assert_non_null(strstr(fx->err, "--jwt-secret-file"));
}

static void
test_config_log_format_from_env_and_flag(void **state)
{
	struct fx *fx = *state;

	setenv("CHAT_LOG_FORMAT", "json", 1);
	assert_int_equal(PARSE0(fx), CONFIG_RUN);
	assert_int_equal(fx->cfg.log_format, LOG_FORMAT_JSON);
	assert_int_equal(PARSE(fx, "--log-format", "text"), CONFIG_RUN);
	assert_int_equal(fx->cfg.log_format, LOG_FORMAT_TEXT);
	assert_error(fx, PARSE(fx, "--log-format=xml"), "--log-format",
		     "xml");
	assert_err_names(fx, "json");
	setenv("CHAT_LOG_FORMAT", "JSON", 1);
	assert_error(fx, PARSE0(fx), "CHAT_LOG_FORMAT", "JSON");
}

/* A mode: its URL is optional, and the other options still apply. */
static void
test_config_healthcheck_mode_with_and_without_url(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE(fx, "--healthcheck"), CONFIG_HEALTHCHECK);
	assert_null(fx->cfg.healthcheck_url);
	assert_int_equal(PARSE(fx, "--healthcheck", "--port", "7001"),
			 CONFIG_HEALTHCHECK);
	assert_null(fx->cfg.healthcheck_url);
	assert_int_equal(fx->cfg.port, 7001);
	assert_int_equal(PARSE(fx, "--healthcheck", "http://h:1/healthz"),
			 CONFIG_HEALTHCHECK);
	assert_string_equal(fx->cfg.healthcheck_url, "http://h:1/healthz");
	assert_int_equal(PARSE(fx, "--port=9", "--healthcheck=http://x/"),
			 CONFIG_HEALTHCHECK);
	assert_string_equal(fx->cfg.healthcheck_url, "http://x/");
	assert_error(fx, PARSE(fx, "--healthcheck="), "--healthcheck", NULL);
	assert_error(fx, PARSE(fx, "--healthcheck", "--bogus"), "--bogus",
		     NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_config_no_args_no_env_gives_defaults),
		T(test_config_env_sets_every_option),
		T(test_config_one_env_var_leaves_the_rest_default),
		T(test_config_flags_with_separate_values),
		T(test_config_flags_with_equals_values),
		T(test_config_strings_point_into_argv_and_env),
		T(test_config_log_level_accepts_each_name),
		T(test_config_flags_beat_env),
		T(test_config_env_applies_where_no_flag_is_given),
		T(test_config_last_flag_wins),
		T(test_config_range_boundaries_are_accepted),
		T(test_config_unknown_flag_is_named),
		T(test_config_bad_number_names_flag_and_value),
		T(test_config_out_of_range_names_flag),
		T(test_config_history_max_total_from_env_and_flag),
		T(test_config_metrics_listen_takes_addr_port_only),
		T(test_config_redis_url_from_env_and_flag),
		T(test_config_socketio_is_on_or_off),
		T(test_config_missing_value_names_flag),
		T(test_config_bad_log_level_names_flag_and_choices),
		T(test_config_empty_string_option_is_an_error),
		T(test_config_env_errors_name_the_variable),
		T(test_config_error_fits_a_small_buffer),
		T(test_config_error_shows_control_bytes_escaped),
		T(test_config_help_and_version_results),
		T(test_config_usage_lists_every_flag_and_variable),
		T(test_config_jwt_secret_file_from_env_and_flag),
		T(test_config_log_format_from_env_and_flag),
		T(test_config_healthcheck_mode_with_and_without_url),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
