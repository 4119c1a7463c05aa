/*
 * auth: the secret file (its bytes less one trailing newline; missing,
 * unreadable, empty or oversized is one error line naming the flag;
 * readable by group or others is noted for a warning) and the Cookie
 * header parser that finds chat_token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "jwt.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/chat-auth-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/secret", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	rmdir(fx->dir);
	test_free(fx);
	return 0;
}

/* Writes len bytes to the fixture's file with mode. */
static void
put(struct fixture *fx, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(fx->path);
	fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
load_ok(struct fixture *fx, struct auth *a)
{
	char err[256] = "";

	if (auth_load(a, fx->path, err, sizeof(err)))
		fail_msg("auth_load: %s", err);
	assert_true(a->enabled);
	assert_string_equal(a->path, fx->path);
}

/* auth_load must fail with one line naming the flag, the path and why. */
static void
load_fails(struct fixture *fx, const char *why)
{
	struct auth a;
	char err[256] = "";

	assert_int_equal(auth_load(&a, fx->path, err, sizeof(err)), -1);
	assert_false(a.enabled);
	assert_int_equal(a.key_len, 0);
	if (strncmp(err, "--jwt-secret-file: ", 19) || !strstr(err, fx->path) ||
	    !strstr(err, why) || strchr(err, '\n'))
		fail_msg("error line '%s' should name the flag, the file and "
			 "'%s'",
			 err, why);
}

static void
test_auth_no_file_means_no_token_auth(void **state)
{
	struct auth a;
	char err[64] = "";

	(void)state;
	assert_int_equal(auth_load(&a, NULL, err, sizeof(err)), 0);
	assert_false(a.enabled);
}

static void
test_auth_secret_is_the_bytes_less_one_trailing_newline(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char binary[] = { 's', 0, '\n', 0xff, '\n' };
	struct auth a;

	put(fx, "s3cret\n", 7, 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, 6);
	assert_memory_equal(a.key, "s3cret", 6);
	/* Only one newline goes; the rest is the secret's. */
	put(fx, "s3cret\n\n", 8, 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, 7);
	put(fx, "s3cret\r\n", 8, 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, 7);
	assert_memory_equal(a.key, "s3cret\r", 7);
	put(fx, "s3cret", 6, 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, 6);
	/* Any bytes: NULs and newlines inside are part of it. */
	put(fx, binary, sizeof(binary), 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, 4);
	assert_memory_equal(a.key, binary, 4);
	auth_fini(&a);
	assert_false(a.enabled);
	assert_int_equal(a.key_len, 0);
}

static void
test_auth_bad_files_are_one_line_naming_the_flag(void **state)
{
	struct fixture *fx = *state;
	char big[AUTH_SECRET_MAX + 2];
	struct auth a;

	load_fails(fx, "No such file");
	put(fx, "", 0, 0600);
	load_fails(fx, "empty");
	put(fx, "\n", 1, 0600);
	load_fails(fx, "empty");
	memset(big, 'k', sizeof(big));
	put(fx, big, AUTH_SECRET_MAX + 1, 0600);
	load_fails(fx, "more than 1024 bytes");
	/* Exactly the bound, with or without its newline, is fine. */
	put(fx, big, AUTH_SECRET_MAX, 0600);
	load_ok(fx, &a);
	big[AUTH_SECRET_MAX] = '\n';
	put(fx, big, AUTH_SECRET_MAX + 1, 0600);
	load_ok(fx, &a);
	assert_int_equal(a.key_len, AUTH_SECRET_MAX);
	/* Unreadable (root reads anything: then the check is moot). */
	if (geteuid() != 0) {
		put(fx, "s3cret", 6, 0200);
		load_fails(fx, "Permission denied");
	}
	unlink(fx->path);
	assert_int_equal(mkdir(fx->path, 0700), 0);
	load_fails(fx, "Is a directory");
	rmdir(fx->path);
}

static void
test_auth_file_readable_by_others_is_noted(void **state)
{
	struct fixture *fx = *state;
	static const mode_t loose[] = { 0644, 0640, 0604, 0666 };
	struct auth a;

	put(fx, "s3cret", 6, 0600);
	load_ok(fx, &a);
	assert_false(a.readable_by_others);
	put(fx, "s3cret", 6, 0400);
	load_ok(fx, &a);
	assert_false(a.readable_by_others);
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		put(fx, "s3cret", 6, loose[i]);
		load_ok(fx, &a);
		if (!a.readable_by_others)
			fail_msg("mode %o not noted", (unsigned)loose[i]);
	}
}

/* The cookie's value in header, or NULL. */
static const char *
cookie(const char *header)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s", header);
	return auth_cookie_find(buf, "chat_token");
}

static void
test_auth_cookie_is_found_by_its_exact_name(void **state)
{
	(void)state;
	assert_string_equal(cookie("chat_token=abc"), "abc");
	assert_string_equal(cookie("a=1; chat_token=abc; b=2"), "abc");
	assert_string_equal(cookie("a=1;chat_token=abc"), "abc");
	assert_string_equal(cookie("chat_token = abc ;b=2"), "abc");
	assert_string_equal(cookie("chat_token=\"abc\""), "abc");
	assert_string_equal(cookie("chat_token=a.b.c"), "a.b.c");
	/* Names that only contain it, and values that do, are others. */
	assert_null(cookie("xchat_token=abc"));
	assert_null(cookie("chat_tokens=abc"));
	assert_null(cookie("other=chat_token=abc"));
	assert_null(cookie("Chat_Token=abc"));
	/* Absent or empty: no cookie, unless another one follows. */
	assert_null(cookie(""));
	assert_null(cookie("chat_token"));
	assert_null(cookie("chat_token="));
	assert_null(cookie("chat_token=\"\""));
	assert_string_equal(cookie("chat_token=; chat_token=xyz"), "xyz");
	/* The first of two: the browser sends the most specific Path
	 * first (RFC 6265 5.4). */
	assert_string_equal(cookie("chat_token=one; chat_token=two"), "one");
}

static void
test_auth_strerror_says_no_token(void **state)
{
	(void)state;
	assert_string_equal(auth_strerror(AUTH_ENOTOKEN), "no token");
	assert_string_equal(auth_strerror(JWT_EEXPIRED), "token expired");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_no_file_means_no_token_auth),
		cmocka_unit_test_setup_teardown(
			test_auth_secret_is_the_bytes_less_one_trailing_newline,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_auth_bad_files_are_one_line_naming_the_flag, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_auth_file_readable_by_others_is_noted, setup,
			teardown),
		cmocka_unit_test(test_auth_cookie_is_found_by_its_exact_name),
		cmocka_unit_test(test_auth_strerror_says_no_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
