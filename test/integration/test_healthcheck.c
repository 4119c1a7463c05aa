/*
 * chatd --healthcheck [URL]: the probe a container's HEALTHCHECK runs,
 * with no curl in the image. 0 for a 200, 1 for anything else (another
 * status, nobody listening), 2 for a URL it cannot use.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* A loopback port nobody listens on: bound, read, closed. */
static int
unused_tcp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Runs chatd with exactly args; returns its status, stderr in *err. */
static int
probe(const char *const *args, char **err)
{
	struct chatd_opts o = { .args = args, .no_defaults = true };
	long long t0 = monotonic_ms();
	int st = chatd_run(&o, 10000, NULL, err);

	print_message("  chatd");
	for (size_t i = 0; args[i]; i++)
		print_message(" %s", args[i]);
	print_message(" -> %d in %lld ms%s%s", st, monotonic_ms() - t0,
		      *err && **err ? ": " : "\n", *err ? *err : "");
	return st;
}

CHAT_TEST(test_healthcheck_200_is_healthy)
{
	char url[96], *err = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
	assert_int_equal(probe((const char *const[]){ "--healthcheck", url,
						      NULL },
			       &err),
			 0);
	assert_true(!err || !*err); /* quiet when healthy */
	free(err);
}

/* No URL: this configuration's own /healthz, on loopback for no --host. */
CHAT_TEST(test_healthcheck_default_url_is_own_healthz)
{
	char p[16], *err = NULL;

	snprintf(p, sizeof(p), "%d", port);
	assert_int_equal(probe((const char *const[]){ "--healthcheck",
						      "--port", p, NULL },
			       &err),
			 0);
	free(err);
	/* The environment's PORT, as in the image. */
	char env_port[32];
	struct chatd_opts o = { .args = (const char *const[]){ "--healthcheck",
								NULL },
				.env = (const char *const[]){ env_port, NULL },
				.no_defaults = true };

	snprintf(env_port, sizeof(env_port), "PORT=%d", port);
	assert_int_equal(chatd_run(&o, 10000, NULL, &err), 0);
	free(err);
}

CHAT_TEST(test_healthcheck_other_status_is_unhealthy)
{
	char url[96], *err = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/no-such-page", port);
	assert_int_equal(probe((const char *const[]){ "--healthcheck", url,
						      NULL },
			       &err),
			 1);
	assert_non_null(err);
	assert_non_null(strstr(err, "HTTP 404"));
	free(err);
}

CHAT_TEST(test_healthcheck_nobody_listening_is_unhealthy)
{
	char url[96], *err = NULL;
	int closed = unused_tcp_port();

	assert_true(closed > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", closed);
	assert_int_equal(probe((const char *const[]){ "--healthcheck", url,
						      NULL },
			       &err),
			 1);
	assert_non_null(err);
	assert_non_null(strstr(err, "Connection refused"));
	free(err);
}

CHAT_TEST(test_healthcheck_unusable_url_exits_2_naming_the_flag)
{
	static const char *const bad[] = { "ftp://127.0.0.1/", "127.0.0.1:80",
					   "http://", "http://h:99999/",
					   "http://h:1x/" };
	char *err = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(probe((const char *const[]){ "--healthcheck",
							      bad[i], NULL },
				       &err),
				 2);
		assert_non_null(err);
		assert_non_null(strstr(err, "--healthcheck"));
		free(err);
		err = NULL;
	}
	/* --port 0 has no port to probe. */
	assert_int_equal(probe((const char *const[]){ "--healthcheck",
						      "--port", "0", NULL },
			       &err),
			 2);
	assert_non_null(strstr(err, "--port 0"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_healthcheck_200_is_healthy),
		T(test_healthcheck_default_url_is_own_healthz),
		T(test_healthcheck_other_status_is_unhealthy),
		T(test_healthcheck_nobody_listening_is_unhealthy),
		T(test_healthcheck_unusable_url_exits_2_naming_the_flag),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
