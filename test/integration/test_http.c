/*
 * HTTP side: / serves www/index.html, every file under www/ is served byte
 * for byte with its Content-Type, a missing path is 404, traversal attempts
 * (.., %2e%2e, encoded slashes and backslashes) never escape www/, and
 * /healthz answers 200 {"status":"ok"}. One chatd for the group.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int
group_setup(void **state)
{
	return chat_fixture_setup(state, NULL);
}

static int
group_teardown(void **state)
{
	return chat_fixture_teardown(state);
}

static const char *
www_dir(void)
{
	const char *w = getenv("CHAT_WWW");

	if (!w || !*w)
		fail_msg("CHAT_WWW is not set (run through ctest)");
	return w;
}

/* The media type of a response, lower-cased, parameters dropped. */
static void
media_type(const struct http_response *r, char *out, size_t outlen)
{
	char v[256];

	if (!http_header(r, "Content-Type", v, sizeof(v)))
		fail_msg("no Content-Type in:\n%s", r->head);
	v[strcspn(v, "; ")] = '\0';
	for (char *p = v; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	snprintf(out, outlen, "%s", v);
}

/* Acceptable media types by extension ('|'-separated), NULL: unchecked. */
static const char *
expected_types(const char *path)
{
	static const struct {
		const char *ext, *types;
	} map[] = {
		{".html", "text/html"},
		{".htm", "text/html"},
		{".css", "text/css"},
		{".js", "text/javascript|application/javascript"},
		{".mjs", "text/javascript|application/javascript"},
		{".json", "application/json"},
		{".webmanifest", "application/manifest+json|application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".jpeg", "image/jpeg"},
		{".gif", "image/gif"},
		{".webp", "image/webp"},
		{".ico", "image/x-icon|image/vnd.microsoft.icon"},
		{".txt", "text/plain"},
		{".woff2", "font/woff2"},
		{".woff", "font/woff"},
	};
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(dot, map[i].ext))
			return map[i].types;
	return NULL;
}

static bool
type_in(const char *type, const char *list)
{
	size_t n = strlen(type);

	while (*list) {
		size_t len = strcspn(list, "|");

		if (len == n && !strncmp(list, type, n))
			return true;
		list += len;
		if (*list == '|')
			list++;
	}
	return false;
}

/* GET path: must be 200 with exactly the bytes of file. */
static void
expect_file(int port, const char *path, const char *file, const char *types)
{
	struct http_response r;
	size_t len;
	char *want = read_file_all(file, &len);
	char mt[256];

	assert_non_null(want);
	assert_int_equal(http_get(port, path, CHAT_TIMEOUT_MS, &r), 0);
	if (r.status != 200)
		fail_msg("GET %s: status %d, expected 200", path, r.status);
	if (r.body_len != len || memcmp(r.body, want, len) != 0)
		fail_msg("GET %s: body (%zu bytes) differs from %s (%zu bytes)",
			 path, r.body_len, file, len);
	if (types) {
		media_type(&r, mt, sizeof(mt));
		if (!type_in(mt, types))
			fail_msg("GET %s: Content-Type %s, expected %s", path,
				 mt, types);
	}
	free(want);
	http_response_fini(&r);
}

CHAT_TEST(test_http_root_serves_index_html)
{
	char file[PATH_MAX];

	snprintf(file, sizeof(file), "%s/index.html", www_dir());
	expect_file(port, "/", file, "text/html");
	expect_file(port, "/index.html", file, "text/html");
}

/* nftw has no user pointer: the walk's state lives here. */
static struct {
	int port;
	size_t root_len;
	int files, css, js;
} walk;

static int
visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *rel = path + walk.root_len;
	const char *base = path + ftw->base;
	const char *types;
	bool plain = true;

	(void)sb;
	if (flag != FTW_F || base[0] == '.')
		return 0;
	for (const char *p = rel; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-/",
			    *p))
			plain = false;
	if (!plain || strstr(rel, "/."))
		return 0; /* would need URL-encoding or is hidden */
	types = expected_types(rel);
	print_message("  GET %s (%s)\n", rel, types ? types : "any type");
	expect_file(walk.port, rel, path, types);
	walk.files++;
	if (types && !strcmp(types, "text/css"))
		walk.css++;
	if (types && strstr(types, "javascript"))
		walk.js++;
	return 0;
}

CHAT_TEST(test_http_every_www_file_is_served_with_its_content_type)
{
	char root[PATH_MAX];

	if (!realpath(www_dir(), root))
		fail_msg("CHAT_WWW=%s does not resolve", www_dir());
	walk.port = port;
	walk.root_len = strlen(root);
	walk.files = walk.css = walk.js = 0;
	assert_int_equal(nftw(root, visit, 16, FTW_PHYS), 0);
	print_message("  %d files (%d css, %d js)\n", walk.files, walk.css,
		      walk.js);
	/* The browser client has a stylesheet and JavaScript modules. */
	assert_true(walk.css >= 1);
	assert_true(walk.js >= 1);
}

CHAT_TEST(test_http_missing_path_is_404)
{
	static const char *const paths[] = {
		"/no-such-file.html",
		"/missing/dir/app.js",
		"/index.html.bak",
		"/chat.db",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_response r;

		assert_int_equal(http_get(port, paths[i], CHAT_TIMEOUT_MS, &r),
				 0);
		if (r.status != 404)
			fail_msg("GET %s: status %d, expected 404", paths[i],
				 r.status);
		http_response_fini(&r);
	}
}

CHAT_TEST(test_http_traversal_never_escapes_www)
{
	static const char *const paths[] = {
		"/../CMakeLists.txt",
		"/../../CMakeLists.txt",
		"/../docs/protocol.md",
		"/./../CMakeLists.txt",
		"/../../../../../../../../etc/passwd",
		"/%2e%2e/CMakeLists.txt",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
		"/.%2e/CMakeLists.txt",
		"/%2e./CMakeLists.txt",
		"/..%2fCMakeLists.txt",
		"/..%2FCMakeLists.txt",
		"/%2e%2e%2fCMakeLists.txt",
		"/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/..%5cCMakeLists.txt",
		"/..\\CMakeLists.txt",
		"/%252e%252e/CMakeLists.txt",
		"/%c0%ae%c0%ae/CMakeLists.txt",
		"//etc/passwd",
		"/..;/CMakeLists.txt",
		"/index.html/../../CMakeLists.txt",
	};
	char file[PATH_MAX];
	char *cmake, *proto;
	size_t cmake_len, proto_len;

	snprintf(file, sizeof(file), "%s/../CMakeLists.txt", www_dir());
	cmake = read_file_all(file, &cmake_len);
	snprintf(file, sizeof(file), "%s/../docs/protocol.md", www_dir());
	proto = read_file_all(file, &proto_len);
	assert_non_null(cmake);
	assert_non_null(proto);
	/* A distinctive line of each file outside www/. */
	cmake[strcspn(cmake, "\n")] = '\0';
	proto[strcspn(proto, "\n")] = '\0';
	assert_true(strlen(cmake) > 10);

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_response r;

		assert_int_equal(http_get(port, paths[i], CHAT_TIMEOUT_MS, &r),
				 0);
		print_message("  GET %s -> %d\n", paths[i], r.status);
		if (r.status != 400 && r.status != 403 && r.status != 404)
			fail_msg("GET %s: status %d, expected 400, 403 or 404",
				 paths[i], r.status);
		if (memmem(r.body, r.body_len, cmake, strlen(cmake)) ||
		    memmem(r.body, r.body_len, proto, strlen(proto)) ||
		    memmem(r.body, r.body_len, "root:", 5))
			fail_msg("GET %s leaked a file outside www/", paths[i]);
		http_response_fini(&r);
	}
	free(cmake);
	free(proto);
	/* And the server still serves normally. */
	snprintf(file, sizeof(file), "%s/index.html", www_dir());
	expect_file(port, "/", file, "text/html");
}

CHAT_TEST(test_http_healthz_is_200_status_ok)
{
	struct http_response r;
	json_t *body, *want;
	json_error_t err;

	assert_int_equal(http_get(port, "/healthz", CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 200);
	body = json_loadb(r.body, r.body_len, 0, &err);
	if (!body)
		fail_msg("/healthz body is not JSON (%s): %s", err.text, r.body);
	want = json_pack("{s:s}", "status", "ok");
	if (!json_equal(body, want))
		fail_msg("/healthz body is %s", r.body);
	json_decref(want);
	json_decref(body);
	http_response_fini(&r);
}

CHAT_TEST(test_http_and_websocket_share_the_port)
{
	/* After all the HTTP above, the chat endpoint still works. */
	struct ws_client *c = chat_connect(port, NULL);

	chat_roundtrip(c, NULL);
	ws_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_root_serves_index_html),
		cmocka_unit_test(
			test_http_every_www_file_is_served_with_its_content_type),
		cmocka_unit_test(test_http_missing_path_is_404),
		cmocka_unit_test(test_http_traversal_never_escapes_www),
		cmocka_unit_test(test_http_healthz_is_200_status_ok),
		cmocka_unit_test(test_http_and_websocket_share_the_port),
	};

	return cmocka_run_group_tests_name("http", tests, group_setup,
					   group_teardown);
}
