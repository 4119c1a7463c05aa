/*
 * socket.io-client's browser bundle under /socket.io/, as node's socket.io
 * server serves it: every file of the pinned package's dist/ byte for byte
 * (the copy the build's npm ci made, SIO_CLIENT_DIR), .js as
 * application/javascript and .map as application/json, with the ETag and
 * 304s of any static file; other names under /socket.io/ stay 404, all of
 * them are 404 with --socketio off, and a chatd that cannot find the
 * bundle warns once and serves the rest.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* From test/integration/CMakeLists.txt: the build tree's dist/ folder (""
 * when npm was missing at configure time), the version pinned, and the one
 * test/e2e pins. */
#ifndef SIO_CLIENT_DIR
#error "SIO_CLIENT_DIR is set by CMake"
#endif
#if !defined(SIO_CLIENT_VERSION) || !defined(E2E_SIO_CLIENT_VERSION)
#error "SIO_CLIENT_VERSION and E2E_SIO_CLIENT_VERSION are set by CMake"
#endif

/* Every file node's server serves, and its media type. */
static const struct {
	const char *name, *type;
} bundle[] = {
	{ "socket.io.js", "application/javascript" },
	{ "socket.io.js.map", "application/json" },
	{ "socket.io.min.js", "application/javascript" },
	{ "socket.io.min.js.map", "application/json" },
	{ "socket.io.esm.min.js", "application/javascript" },
	{ "socket.io.esm.min.js.map", "application/json" },
	{ "socket.io.msgpack.min.js", "application/javascript" },
	{ "socket.io.msgpack.min.js.map", "application/json" },
};
#define NBUNDLE (sizeof(bundle) / sizeof(bundle[0]))

static int
setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
setup_off(void **state)
{
	static const char *const args[] = { "--socketio", "off", NULL };

	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/* The build tree's copy of name; fails the test when the build has none. */
static char *
built_file(const char *name, size_t *len)
{
	char path[PATH_MAX];
	char *data;

	if (!*SIO_CLIENT_DIR)
		fail_msg("no socket.io-client bundle in this build: npm was "
			 "not found at configure time (run "
			 "scripts/install-deps.sh, then configure again)");
	snprintf(path, sizeof(path), "%s/%s", SIO_CLIENT_DIR, name);
	data = read_file_all(path, len);
	if (!data)
		fail_msg("cannot read %s (did the build's npm ci run?)", path);
	return data;
}

static struct http_response
fetch(int port, const char *method, const char *path, const char *headers)
{
	const struct http_request req = { .method = method,
					  .path = path,
					  .headers = headers };
	struct http_response r;

	assert_int_equal(http_request(port, &req, CHAT_TIMEOUT_MS, &r), 0);
	return r;
}

static void
must_header(const struct http_response *r, const char *name, char *out,
	    size_t outlen, const char *path)
{
	if (!http_header(r, name, out, outlen))
		fail_msg("%s: no %s in:\n%s", path, name, r->head);
}

/* The media type, parameters dropped (node adds "; charset=utf-8"). */
static void
expect_type(const struct http_response *r, const char *path, const char *want)
{
	char v[256];

	must_header(r, "Content-Type", v, sizeof(v), path);
	v[strcspn(v, "; ")] = '\0';
	if (strcasecmp(v, want))
		fail_msg("GET %s: Content-Type %s, expected %s", path, v, want);
}

/* What the bytes are, apart from being the build's: the pinned release's
 * banner on a bundle, a version 3 source map of its file on a map. */
static void
expect_real_bundle(const char *name, const char *body, size_t len)
{
	static const char banner[] = "/*!\n * Socket.IO v" SIO_CLIENT_VERSION
				     "\n";
	size_t n = strlen(name);

	if (n > 4 && !strcmp(name + n - 4, ".map")) {
		json_error_t e;
		json_t *map = json_loadb(body, len, 0, &e);
		const char *file;

		if (!map)
			fail_msg("%s is not JSON: %s", name, e.text);
		assert_int_equal(jint(map, "version"), 3);
		file = jstr(map, "file");
		if (strlen(file) != n - 4 || strncmp(file, name, n - 4))
			fail_msg("%s maps %s", name, file);
		json_decref(map);
	} else if (len < sizeof(banner) - 1 ||
		   memcmp(body, banner, sizeof(banner) - 1)) {
		fail_msg("%s does not open with socket.io-client %s's banner",
			 name, SIO_CLIENT_VERSION);
	}
}

static void
expect_status(int port, const char *method, const char *path, int status)
{
	struct http_response r = fetch(port, method, path, NULL);

	if (r.status != status)
		fail_msg("%s %s: status %d, expected %d", method, path,
			 r.status, status);
	http_response_fini(&r);
}

CHAT_TEST(test_socketio_client_files_are_the_built_bundle)
{
	/* One socket.io-client in the project: the one served is the one the
	 * e2e tests run (test/e2e/package.json). */
	assert_string_equal(SIO_CLIENT_VERSION, E2E_SIO_CLIENT_VERSION);
	for (size_t i = 0; i < NBUNDLE; i++) {
		char path[128];
		size_t len;
		char *want = built_file(bundle[i].name, &len);
		struct http_response r;

		snprintf(path, sizeof(path), "/socket.io/%s", bundle[i].name);
		r = fetch(port, "GET", path, NULL);
		if (r.status != 200)
			fail_msg("GET %s: status %d, expected 200", path,
				 r.status);
		expect_type(&r, path, bundle[i].type);
		if (r.body_len != len || memcmp(r.body, want, len))
			fail_msg("GET %s: body (%zu bytes) is not %s/%s (%zu "
				 "bytes)",
				 path, r.body_len, SIO_CLIENT_DIR,
				 bundle[i].name, len);
		expect_real_bundle(bundle[i].name, r.body, r.body_len);
		http_response_fini(&r);
		free(want);
	}
}

/* A cache-busting query, as pages add to script URLs, changes nothing. */
CHAT_TEST(test_socketio_client_query_is_ignored)
{
	size_t len;
	char *want = built_file("socket.io.min.js", &len);
	struct http_response r =
		fetch(port, "GET", "/socket.io/socket.io.min.js?v=4.8.1", NULL);

	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, want, len);
	http_response_fini(&r);
	free(want);
}

CHAT_TEST(test_socketio_client_answers_304_to_its_etag)
{
	static const char *const paths[] = { "/socket.io/socket.io.js",
					     "/socket.io/socket.io.min.js.map" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *path = paths[i];
		struct http_response r = fetch(port, "GET", path, NULL);
		char etag[256], v[256], h[512];
		size_t full = r.body_len;

		assert_int_equal(r.status, 200);
		must_header(&r, "ETag", etag, sizeof(etag), path);
		must_header(&r, "Last-Modified", v, sizeof(v), path);
		must_header(&r, "Cache-Control", v, sizeof(v), path);
		assert_string_equal(v, "no-cache");
		http_response_fini(&r);

		snprintf(h, sizeof(h), "If-None-Match: %s\r\n", etag);
		r = fetch(port, "GET", path, h);
		if (r.status != 304)
			fail_msg("GET %s with %s: status %d, expected 304",
				 path, etag, r.status);
		must_header(&r, "ETag", v, sizeof(v), path);
		assert_string_equal(v, etag);
		assert_int_equal(r.body_len, 0);
		http_response_fini(&r);

		/* Another tag gets the whole file again. */
		r = fetch(port, "GET", path, "If-None-Match: \"other\"\r\n");
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, full);
		http_response_fini(&r);

		/* HEAD: the GET's headers, no body. */
		r = fetch(port, "HEAD", path, NULL);
		assert_int_equal(r.status, 200);
		must_header(&r, "Content-Length", v, sizeof(v), path);
		assert_int_equal(strtoull(v, NULL, 10), full);
		must_header(&r, "ETag", v, sizeof(v), path);
		assert_string_equal(v, etag);
		assert_int_equal(r.body_len, 0);
		http_response_fini(&r);
	}
}

/* Only the bundle's own names: not the rest of dist/ or of the package,
 * not names node's pattern allows but the package does not ship. */
CHAT_TEST(test_socketio_client_other_names_are_404)
{
	static const char *const paths[] = {
		"/socket.io/foo.js",
		"/socket.io/socket.io.esm.js",
		"/socket.io/socket.io.msgpack.js",
		"/socket.io/LICENSE",
		"/socket.io/package.json",
		"/socket.io/dist/socket.io.js",
		"/socket.io/socket.io.js/",
		"/socket.io/socket.io.jsx",
		"/socket.io/Socket.io.js",
		"/socket.io.js",
		"/socket.io-client/socket.io.js",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect_status(port, "GET", paths[i], 404);
	expect_status(port, "GET", "/", 200);
}

CHAT_TEST(test_socketio_client_off_is_404)
{
	for (size_t i = 0; i < NBUNDLE; i++) {
		char path[128];

		snprintf(path, sizeof(path), "/socket.io/%s", bundle[i].name);
		expect_status(port, "GET", path, 404);
		expect_status(port, "HEAD", path, 404);
	}
	expect_status(port, "GET", "/", 200);
}

/* Copies the chatd binary into dir: from there, neither the installed
 * nor the build tree's bundle is beside it. */
static void
copy_binary(const char *dir, char *out, size_t outlen)
{
	const char *bin = getenv("CHATD_BIN");
	size_t len;
	char *data;
	FILE *f;

	assert_non_null(bin);
	data = read_file_all(bin, &len);
	assert_non_null(data);
	snprintf(out, outlen, "%s/chatd", dir);
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(out, 0755), 0);
	free(data);
}

static unsigned
count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
test_socketio_client_missing_bundle_warns_and_serves_on(void **state)
{
	char dir[] = "/tmp/chatd-sioclient-XXXXXX", bin[PATH_MAX];
	char *saved = getenv("CHATD_BIN") ? strdup(getenv("CHATD_BIN")) : NULL;
	struct chatd d;
	char *err;
	int rc;

	(void)state;
	assert_non_null(saved);
	assert_non_null(mkdtemp(dir));
	copy_binary(dir, bin, sizeof(bin));
	setenv("CHATD_BIN", bin, 1);
	rc = chatd_start(&d, NULL);
	setenv("CHATD_BIN", saved, 1);
	free(saved);
	unlink(bin);
	rmdir(dir);
	assert_int_equal(rc, 0);

	expect_status(d.port, "GET", "/socket.io/socket.io.js", 404);
	expect_status(d.port, "GET", "/socket.io/socket.io.min.js.map", 404);
	expect_status(d.port, "GET", "/", 200);
	expect_status(d.port, "GET", "/healthz", 200);
	err = chatd_stderr(&d);
	assert_non_null(err);
	if (count(err, "/socket.io/socket.io.js will be 404") != 1 ||
	    !strstr(err, "warn"))
		fail_msg("expected one warning that the bundle will be 404:\n"
			 "%s",
			 err);
	free(err);
	assert_int_equal(chatd_stop(&d), 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_socketio_client_files_are_the_built_bundle),
		T(test_socketio_client_query_is_ignored),
		T(test_socketio_client_answers_304_to_its_etag),
		T(test_socketio_client_other_names_are_404),
		cmocka_unit_test_setup_teardown(test_socketio_client_off_is_404,
						setup_off, teardown),
		cmocka_unit_test(
			test_socketio_client_missing_bundle_warns_and_serves_on),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
