/*
 * Configuration: flag beats env beats default. An unknown option or a bad
 * value is one line on stderr naming the option and exit status 2; --help
 * and --version exit 0; PORT, CHAT_HOST and CHAT_WWW are read from the
 * environment when no flag is given; every --log-level value is accepted.
 * Each test runs its own chatd processes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 5000

static const char *
www(void)
{
	const char *w = getenv("CHAT_WWW");

	if (!w || !*w)
		fail_msg("CHAT_WWW is not set (run through ctest)");
	return w;
}

/* Runs chatd with exactly args; checks exit 2 and one stderr line naming
 * `name` (case-insensitively). */
static void
expect_usage_error(const char *const *args, const char *const *env,
		   const char *name)
{
	struct chatd_opts o = {.args = args, .env = env, .no_defaults = true};
	char *out = NULL, *err = NULL;
	int st = chatd_run(&o, RUN_TIMEOUT_MS, &out, &err);
	size_t len;

	print_message("  chatd");
	for (size_t i = 0; args[i]; i++)
		print_message(" %s", args[i]);
	print_message(" -> %d, stderr: %s", st, err ? err : "(none)\n");
	if (st != 2)
		fail_msg("exit status %d, expected 2 (stderr: %s)", st,
			 err ? err : "");
	assert_non_null(err);
	if (!strcasestr(err, name))
		fail_msg("stderr does not name %s: %s", name, err);
	/* One line: no newline but an optional last one. */
	len = strlen(err);
	while (len && (err[len - 1] == '\n' || err[len - 1] == '\r'))
		len--;
	if (!len || memchr(err, '\n', len))
		fail_msg("stderr is not one line: '%s'", err);
	free(out);
	free(err);
}

static void
test_config_unknown_option_exits_2_naming_it(void **state)
{
	(void)state;
	expect_usage_error((const char *const[]){"--bogus-flag", NULL}, NULL,
			   "--bogus-flag");
	expect_usage_error((const char *const[]){"--port", "0", "--nope=1",
						 NULL},
			   NULL, "--nope");
}

static void
test_config_bad_values_exit_2_naming_the_option(void **state)
{
	static const struct {
		const char *opt, *val;
	} bad[] = {
		{"--port", "abc"},
		{"--port", "70000"},
		{"--port", "80x"},
		{"--port", ""},
		{"--history", "abc"},
		{"--max-message-bytes", "lots"},
		{"--max-text-bytes", "ten"},
		{"--send-queue-bytes", "12abc"},
		{"--log-level", "loud"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"--port", "0", bad[i].opt, bad[i].val,
				      NULL};

		expect_usage_error(args, NULL, bad[i].opt);
	}
	/* A missing value. */
	expect_usage_error((const char *const[]){"--port", NULL}, NULL,
			   "--port");
	expect_usage_error((const char *const[]){"--port", "0", "--history",
						 NULL},
			   NULL, "--history");
	/* A bad value from the environment names it too. */
	expect_usage_error((const char *const[]){NULL},
			   (const char *const[]){"PORT=abc", NULL}, "port");
}

static void
test_config_help_exits_0_and_lists_every_option(void **state)
{
	static const char *const opts[] = {
		"--port", "--host", "--www", "--history", "--max-message-bytes",
		"--max-text-bytes", "--send-queue-bytes", "--log-level",
		"--help", "--version",
	};
	struct chatd_opts o = {.args = (const char *const[]){"--help", NULL},
			       .no_defaults = true};
	char *out = NULL, *err = NULL, *all;
	int st = chatd_run(&o, RUN_TIMEOUT_MS, &out, &err);

	(void)state;
	if (st != 0)
		fail_msg("--help: exit status %d (stderr: %s)", st,
			 err ? err : "");
	assert_true(asprintf(&all, "%s\n%s", out ? out : "",
			     err ? err : "") > 0);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strstr(all, opts[i]))
			fail_msg("--help does not mention %s:\n%s", opts[i], all);
	free(all);
	free(out);
	free(err);
}

static void
test_config_version_exits_0_and_prints_a_version(void **state)
{
	struct chatd_opts o = {.args = (const char *const[]){"--version", NULL},
			       .no_defaults = true};
	char *out = NULL, *err = NULL;
	int st = chatd_run(&o, RUN_TIMEOUT_MS, &out, &err);
	const char *text;
	bool found = false;

	(void)state;
	if (st != 0)
		fail_msg("--version: exit status %d (stderr: %s)", st,
			 err ? err : "");
	text = out && *out ? out : err ? err : "";
	/* Something like "chatd 0.1.0": digits, a dot, digits. */
	for (const char *p = text; *p && !found; p++)
		found = p[0] >= '0' && p[0] <= '9' && p[1] == '.' &&
			p[2] >= '0' && p[2] <= '9';
	if (!found)
		fail_msg("--version printed no version: '%s'", text);
	free(out);
	free(err);
}

/* Spawns with exactly args/env, checks the ready line, connects. */
static void
expect_ready(const char *const *args, const char *const *env, int want_port,
	     const char *want_host)
{
	struct chatd d;
	struct chatd_opts o = {.args = args, .env = env, .no_defaults = true};
	struct ws_client *c;

	assert_int_equal(chatd_spawn(&d, &o), 0);
	if (want_port > 0 && d.port != want_port) {
		chatd_stop(&d);
		fail_msg("listening on port %d, expected %d", d.port,
			 want_port);
	}
	if (want_host && strcmp(d.host, want_host) != 0) {
		chatd_stop(&d);
		fail_msg("listening on host '%s', expected '%s'", d.host,
			 want_host);
	}
	c = ws_connect(d.port);
	if (!c) {
		chatd_stop(&d);
		fail_msg("no chat on the announced port %d", d.port);
	}
	json_decref(ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	ws_close(c);
	assert_int_equal(chatd_stop(&d), 0);
}

static void
test_config_port_0_announces_the_real_port_and_host(void **state)
{
	(void)state;
	expect_ready((const char *const[]){"--port", "0", "--host",
					   "127.0.0.1", "--www", www(), NULL},
		     NULL, 0, "127.0.0.1");
}

static void
test_config_port_from_env_and_flag_beats_env(void **state)
{
	int a = free_tcp_port(), b = free_tcp_port();
	char env_a[32], flag_b[16];

	(void)state;
	for (int tries = 0; tries < 20 && b == a; tries++)
		b = free_tcp_port();
	assert_true(a > 0 && b > 0 && a != b);
	snprintf(env_a, sizeof(env_a), "PORT=%d", a);
	snprintf(flag_b, sizeof(flag_b), "%d", b);
	/* Env only. */
	expect_ready((const char *const[]){"--host", "127.0.0.1", "--www",
					   www(), NULL},
		     (const char *const[]){env_a, NULL}, a, NULL);
	/* Flag and env: the flag wins. */
	expect_ready((const char *const[]){"--port", flag_b, "--host",
					   "127.0.0.1", "--www", www(), NULL},
		     (const char *const[]){env_a, NULL}, b, NULL);
}

static void
test_config_host_from_env(void **state)
{
	(void)state;
	expect_ready((const char *const[]){"--port", "0", "--www", www(), NULL},
		     (const char *const[]){"CHAT_HOST=127.0.0.1", NULL}, 0,
		     "127.0.0.1");
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* GET / from a chatd started with args/env must return `want`. */
static void
expect_index(const char *const *args, const char *const *env,
	     const char *want)
{
	struct chatd d;
	struct chatd_opts o = {.args = args, .env = env, .no_defaults = true};
	struct http_response r;

	assert_int_equal(chatd_spawn(&d, &o), 0);
	if (http_get(d.port, "/", CHAT_TIMEOUT_MS, &r) < 0) {
		chatd_stop(&d);
		fail_msg("GET / failed");
	}
	if (r.status != 200 || strcmp(r.body, want) != 0) {
		chatd_stop(&d);
		fail_msg("GET / gave %d '%.80s', expected '%.80s'", r.status,
			 r.body, want);
	}
	http_response_fini(&r);
	assert_int_equal(chatd_stop(&d), 0);
}

static void
test_config_www_from_env_and_flag_beats_env(void **state)
{
	char dir[] = "/tmp/chatd-www-XXXXXX", path[64], env[96];
	const char *decoy = "<!doctype html><title>decoy www</title>\n";
	char *real;
	char real_path[4096];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/index.html", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(decoy, f);
	fclose(f);
	snprintf(env, sizeof(env), "CHAT_WWW=%s", dir);
	snprintf(real_path, sizeof(real_path), "%s/index.html", www());
	real = read_file_all(real_path, NULL);
	assert_non_null(real);

	expect_index((const char *const[]){"--port", "0", "--host",
					   "127.0.0.1", NULL},
		     (const char *const[]){env, NULL}, decoy);
	expect_index((const char *const[]){"--port", "0", "--host",
					   "127.0.0.1", "--www", www(), NULL},
		     (const char *const[]){env, NULL}, real);
	free(real);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
test_config_every_log_level_is_accepted(void **state)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		/* The ready line may be below warn/error: find the server by
		 * connecting to a port we chose. */
		int port = free_tcp_port();
		char p[16];
		const char *args[] = {"--port", p, "--host", "127.0.0.1",
				      "--www", www(), "--log-level", levels[i],
				      NULL};
		struct chatd_opts o = {.args = args, .no_defaults = true,
				       .no_wait = true};
		struct chatd d;
		struct ws_client *c = NULL;
		long long deadline = monotonic_ms() + CHATD_READY_TIMEOUT_MS;

		snprintf(p, sizeof(p), "%d", port);
		assert_int_equal(chatd_spawn(&d, &o), 0);
		while (!c && monotonic_ms() < deadline &&
		       chatd_wait(&d, 0) < 0) {
			int fd = tcp_connect_loopback(port, 0, 1000);

			if (fd >= 0) {
				close(fd);
				c = ws_connect(port);
			} else {
				struct timespec ts = {.tv_nsec = 20000000};

				nanosleep(&ts, NULL);
			}
		}
		if (!c) {
			chatd_dump_logs(&d, "not serving");
			chatd_stop(&d);
			fail_msg("--log-level %s: no server on %d", levels[i],
				 port);
		}
		json_decref(ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS,
					   WS_STRICT));
		ws_close(c);
		assert_int_equal(chatd_stop(&d), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_unknown_option_exits_2_naming_it),
		cmocka_unit_test(test_config_bad_values_exit_2_naming_the_option),
		cmocka_unit_test(test_config_help_exits_0_and_lists_every_option),
		cmocka_unit_test(
			test_config_version_exits_0_and_prints_a_version),
		cmocka_unit_test(
			test_config_port_0_announces_the_real_port_and_host),
		cmocka_unit_test(test_config_port_from_env_and_flag_beats_env),
		cmocka_unit_test(test_config_host_from_env),
		cmocka_unit_test(test_config_www_from_env_and_flag_beats_env),
		cmocka_unit_test(test_config_every_log_level_is_accepted),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
