/*
 * HTTP side: / serves www/index.html, every file under www/ is served byte
 * for byte with its Content-Type, a missing path is 404, traversal attempts
 * (.., %2e%2e, encoded slashes and backslashes) and hidden files never get
 * served, /healthz answers 200 {"status":"ok"} whatever rides along with
 * the request, HEAD answers as GET does without the body, other methods get
 * 405, and files carry validators that conditional requests turn into 304.
 * One chatd for the group; the tests that need their own www/ start their
 * own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

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

/* ---- HEAD, other methods ------------------------------------------- */

/* Headers a HEAD must answer exactly as the GET does. */
static const char *const same_headers[] = {
	"Content-Type",
	"Content-Length",
	"ETag",
	"Last-Modified",
	"Cache-Control",
	"Allow",
	"Content-Security-Policy",
	"X-Content-Type-Options",
};

static void
expect_head_like_get(int port, const char *path)
{
	const struct http_request head = {.method = "HEAD", .path = path};
	struct http_response g, h;
	char gv[1024], hv[1024] = "", cl[32];

	assert_int_equal(http_get(port, path, CHAT_TIMEOUT_MS, &g), 0);
	/* The client fails the call on any byte after HEAD's headers. */
	assert_int_equal(http_request(port, &head, CHAT_TIMEOUT_MS, &h), 0);
	print_message("  HEAD %s -> %d (GET %d, %zu bytes)\n", path, h.status,
		      g.status, g.body_len);
	if (h.status != g.status)
		fail_msg("HEAD %s: status %d, GET gave %d", path, h.status,
			 g.status);
	for (size_t i = 0; i < sizeof(same_headers) / sizeof(*same_headers);
	     i++) {
		bool in_g = http_header(&g, same_headers[i], gv, sizeof(gv));
		bool in_h = http_header(&h, same_headers[i], hv, sizeof(hv));

		if (in_g != in_h || (in_g && strcmp(gv, hv)))
			fail_msg("%s: %s is '%s' for GET, '%s' for HEAD", path,
				 same_headers[i], in_g ? gv : "(none)",
				 in_h ? hv : "(none)");
	}
	/* That Content-Length is the length of the GET's body. */
	snprintf(cl, sizeof(cl), "%zu", g.body_len);
	if (!http_header(&h, "Content-Length", hv, sizeof(hv)) ||
	    strcmp(hv, cl))
		fail_msg("HEAD %s: Content-Length %s, the body has %s bytes",
			 path, hv, cl);
	assert_int_equal(h.body_len, 0);
	http_response_fini(&g);
	http_response_fini(&h);
}

CHAT_TEST(test_http_head_answers_like_get_without_a_body)
{
	static const char *const paths[] = {
		"/",	      "/index.html", "/style.css",
		"/js/app.js", "/favicon.svg", "/healthz",
		"/no-such-file.html", "/.env",
	};
	static const char pipelined[] =
		"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"
		"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	const bool no_body[] = {true, true, false};
	struct http_response r[3];

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++)
		expect_head_like_get(port, paths[i]);

	/* On a kept-alive connection a HEAD's missing body is what lets the
	 * next response be read at all. */
	assert_int_equal(http_pipeline(port, pipelined, sizeof(pipelined) - 1,
				       3, no_body, CHAT_TIMEOUT_MS, r),
			 0);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(r[1].status, 200);
	assert_int_equal(r[2].status, 200);
	assert_string_equal(r[2].body, "{\"status\":\"ok\"}");
	for (int i = 0; i < 3; i++)
		http_response_fini(&r[i]);
}

/* The Allow header names exactly GET and HEAD, in any order and case. */
static void
expect_allow_get_head(const struct http_response *r, const char *what)
{
	char v[128], *save = NULL;
	int get = 0, head = 0, other = 0;

	if (!http_header(r, "Allow", v, sizeof(v)))
		fail_msg("%s: no Allow header in:\n%s", what, r->head);
	for (char *t = strtok_r(v, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (!strcasecmp(t, "GET"))
			get++;
		else if (!strcasecmp(t, "HEAD"))
			head++;
		else
			other++;
	}
	if (get != 1 || head != 1 || other)
		fail_msg("%s: Allow is not 'GET, HEAD' in:\n%s", what, r->head);
}

CHAT_TEST(test_http_other_methods_get_405_with_allow)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE",
					      "OPTIONS", "PATCH"};
	static const char *const paths[] = {"/", "/index.html", "/healthz",
					    "/no-such-file.html", "/.env"};
	static const char *const connects[] = {
		"CONNECT / HTTP/1.1\r\nHost: t\r\n\r\n",
		"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n",
	};
	static const char body_then_get[] =
		"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n"
		"Content-Type: text/plain\r\n\r\nabc=def"
		"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	struct http_response r, rs[2];
	char what[128];

	for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++)
		for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p++) {
			bool body = strcmp(methods[m], "DELETE") &&
				    strcmp(methods[m], "OPTIONS");
			const struct http_request req = {
				.method = methods[m],
				.path = paths[p],
				.headers = body ? "Content-Type: text/plain\r\n"
						: NULL,
				.body = body ? "x=1" : NULL,
				.body_len = body ? 3 : 0,
			};

			snprintf(what, sizeof(what), "%s %s", methods[m],
				 paths[p]);
			assert_int_equal(http_request(port, &req,
						      CHAT_TIMEOUT_MS, &r),
					 0);
			if (r.status != 405)
				fail_msg("%s: status %d, expected 405", what,
					 r.status);
			expect_allow_get_head(&r, what);
			http_response_fini(&r);
		}

	/* lws makes a raw socket of a CONNECT; it must not stay open. */
	for (size_t i = 0; i < sizeof(connects) / sizeof(*connects); i++) {
		assert_int_equal(http_pipeline(port, connects[i],
					       strlen(connects[i]), 1, NULL,
					       CHAT_TIMEOUT_MS, &r),
				 0);
		print_message("  %.*s -> %d\n",
			      (int)strcspn(connects[i], "\r"), connects[i],
			      r.status);
		assert_int_equal(r.status, 405);
		expect_allow_get_head(&r, "CONNECT");
		http_response_fini(&r);
	}

	/* A refused request's body is read and dropped, not taken for the
	 * next request on the connection. */
	assert_int_equal(http_pipeline(port, body_then_get,
				       sizeof(body_then_get) - 1, 2, NULL,
				       CHAT_TIMEOUT_MS, rs),
			 0);
	assert_int_equal(rs[0].status, 405);
	assert_int_equal(rs[1].status, 200);
	assert_string_equal(rs[1].body, "{\"status\":\"ok\"}");
	http_response_fini(&rs[0]);
	http_response_fini(&rs[1]);
}

/* ---- /healthz with a body, pipelined -------------------------------- */

static void
expect_healthz(const struct http_response *r, const char *what)
{
	if (r->status != 200 || strcmp(r->body, "{\"status\":\"ok\"}"))
		fail_msg("%s: %d '%s', expected 200 {\"status\":\"ok\"}", what,
			 r->status, r->body);
}

CHAT_TEST(test_http_healthz_answers_a_request_carrying_a_body)
{
	const struct http_request req = {
		.path = "/healthz",
		.body = "hello",
		.body_len = 5,
	};
	/* Kept alive: the next request follows the body at once. */
	static const char twice[] =
		"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"
		"hello"
		"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	struct http_response r, rs[2];

	assert_int_equal(http_request(port, &req, CHAT_TIMEOUT_MS, &r), 0);
	expect_healthz(&r, "GET /healthz with a body");
	http_response_fini(&r);

	assert_int_equal(http_pipeline(port, twice, sizeof(twice) - 1, 2, NULL,
				       CHAT_TIMEOUT_MS, rs),
			 0);
	expect_healthz(&rs[0], "GET /healthz with a body, kept alive");
	expect_healthz(&rs[1], "GET /healthz after it");
	http_response_fini(&rs[0]);
	http_response_fini(&rs[1]);
}

CHAT_TEST(test_http_healthz_answers_pipelined_requests_in_order)
{
	/* All in one write, as a monitor that pipelines would send them. */
	static const char raw[] =
		"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /no-such-file.html HTTP/1.1\r\nHost: t\r\n\r\n"
		"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
		"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"\r\n";
	const bool no_body[] = {false, false, false, true, false, false};
	struct http_response r[6];
	char file[PATH_MAX];
	size_t len;
	char *index;

	snprintf(file, sizeof(file), "%s/index.html", www_dir());
	index = read_file_all(file, &len);
	assert_non_null(index);
	assert_int_equal(http_pipeline(port, raw, sizeof(raw) - 1, 6, no_body,
				       CHAT_TIMEOUT_MS, r),
			 0);
	expect_healthz(&r[0], "1st pipelined /healthz");
	expect_healthz(&r[1], "2nd pipelined /healthz");
	assert_int_equal(r[2].status, 404);
	assert_int_equal(r[3].status, 200);
	expect_healthz(&r[4], "/healthz after a HEAD");
	assert_int_equal(r[5].status, 200);
	assert_int_equal(r[5].body_len, len);
	assert_memory_equal(r[5].body, index, len);
	for (int i = 0; i < 6; i++)
		http_response_fini(&r[i]);
	free(index);
}

/* ---- a www/ of the test's own ---------------------------------------- */

/*
 * Hidden files and folders beside plain ones. Each test that uses it gets
 * a fresh copy and its own chatd (--www there), stopped and removed by the
 * teardown even when the test fails.
 */
static const char *const site_files[] = {
	"index.html", "<p>site</p>\n",
	"visible.txt", "visible\n",
	".env", "SECRET=1\n",
	".git/config", "[core] SECRET\n",
	".git/index.html", "SECRET index\n",
	".hidden/page.html", "SECRET page\n",
	"sub/visible.txt", "also visible\n",
	"sub/.hidden", "SECRET sub\n",
	"sub/.git/HEAD", "SECRET head\n",
	NULL,
};

struct temp_site {
	char dir[64];
	struct chatd d;
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* Writes dir/rel, making its directories as needed; 0 or -1. */
static int
put_file(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = strchr(path + strlen(dir) + 1, '/'); p;
	     p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			print_error("mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		print_error("fopen %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs(text, f);
	return fclose(f) ? -1 : 0;
}

static int
site_setup(void **state)
{
	struct temp_site *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/chatd-www-XXXXXX");
	if (!mkdtemp(s->dir)) {
		free(s);
		return -1;
	}
	for (size_t i = 0; site_files[i]; i += 2)
		if (put_file(s->dir, site_files[i], site_files[i + 1]))
			goto fail;
	if (chatd_start(&s->d, (const char *const[]){"--www", s->dir, NULL}))
		goto fail;
	*state = s;
	return 0;

fail:
	nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(s);
	return -1;
}

static int
site_teardown(void **state)
{
	struct temp_site *s = *state;
	int st = chatd_stop(&s->d);

	nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(s);
	return st == 0 ? 0 : -1;
}

static void
expect_status(int port, const char *method, const char *path, int want)
{
	const struct http_request req = {.method = method, .path = path};
	struct http_response r;

	assert_int_equal(http_request(port, &req, CHAT_TIMEOUT_MS, &r), 0);
	print_message("  %s %s -> %d\n", method, path, r.status);
	if (r.status != want)
		fail_msg("%s %s: status %d, expected %d", method, path,
			 r.status, want);
	if (memmem(r.body, r.body_len, "SECRET", 6))
		fail_msg("%s %s: a hidden file's content was served", method,
			 path);
	http_response_fini(&r);
}

static void
test_http_hidden_files_and_folders_are_404(void **state)
{
	static const char *const hidden[] = {
		"/.env",	"/.git/config",	    "/.git/",
		"/.git",	"/.git/index.html", "/.hidden/page.html",
		"/.hidden/",	"/sub/.hidden",	    "/sub/.git/HEAD",
		"/%2eenv",	"/%2Eenv",	    "/sub/%2ehidden",
		"/sub/../.env", "/./.env",	    "/%2egit/config",
	};
	struct temp_site *s = *state;

	for (size_t i = 0; i < sizeof(hidden) / sizeof(*hidden); i++) {
		expect_status(s->d.port, "GET", hidden[i], 404);
		expect_status(s->d.port, "HEAD", hidden[i], 404);
	}
	/* The plain files beside them are served. */
	expect_status(s->d.port, "GET", "/", 200);
	expect_status(s->d.port, "GET", "/visible.txt", 200);
	expect_status(s->d.port, "GET", "/sub/visible.txt", 200);
	expect_status(s->d.port, "HEAD", "/sub/visible.txt", 200);
}

/* ---- validators and conditional requests ------------------------------ */

static void
must_header(const struct http_response *r, const char *name, char *out,
	    size_t outlen, const char *what)
{
	if (!http_header(r, name, out, outlen))
		fail_msg("%s: no %s in:\n%s", what, name, r->head);
}

static struct http_response
fetch(int port, const char *method, const char *path, const char *headers)
{
	const struct http_request req = {
		.method = method, .path = path, .headers = headers};
	struct http_response r;

	assert_int_equal(http_request(port, &req, CHAT_TIMEOUT_MS, &r), 0);
	print_message("  %s %s%s%.*s -> %d\n", method, path, headers ? " " : "",
		      headers ? (int)strcspn(headers, "\r") : 0,
		      headers ? headers : "", r.status);
	return r;
}

/* A conditional request must give a 304 with no body, the same ETag. */
static void
expect_304(int port, const char *method, const char *path, const char *hdrs,
	   const char *etag)
{
	struct http_response r = fetch(port, method, path, hdrs);
	char v[256];

	if (r.status != 304)
		fail_msg("%s %s with %s: status %d, expected 304", method, path,
			 hdrs, r.status);
	must_header(&r, "ETag", v, sizeof(v), path);
	assert_string_equal(v, etag);
	assert_int_equal(r.body_len, 0);
	http_response_fini(&r);
}

static void
expect_200_of(int port, const char *path, const char *hdrs, size_t len)
{
	struct http_response r = fetch(port, "GET", path, hdrs);

	if (r.status != 200 || r.body_len != len)
		fail_msg("GET %s with %s: %d, %zu bytes; expected 200, %zu",
			 path, hdrs, r.status, r.body_len, len);
	http_response_fini(&r);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" (strftime's %y draws -Wformat-y2k). */
static void
rfc850_date(const struct tm *tm, char *out, size_t outlen)
{
	char day[16], mon[8];

	strftime(day, sizeof(day), "%A", tm);
	strftime(mon, sizeof(mon), "%b", tm);
	snprintf(out, outlen, "%s, %02d-%s-%02d %02d:%02d:%02d GMT", day,
		 tm->tm_mday, mon, tm->tm_year % 100, tm->tm_hour, tm->tm_min,
		 tm->tm_sec);
}

CHAT_TEST(test_http_files_carry_validators_and_answer_304)
{
	static const char *const paths[] = {"/", "/index.html", "/style.css",
					    "/js/app.js", "/favicon.svg"};
	static const char *const cache_free[] = {"/", "/index.html"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		const char *path = paths[i];
		char file[PATH_MAX], etag[256], lm[128], cc[256], h[512];
		char date[64];
		struct http_response r = fetch(port, "GET", path, NULL);
		struct stat st;
		struct tm tm;
		const char *end;

		assert_int_equal(r.status, 200);
		must_header(&r, "ETag", etag, sizeof(etag), path);
		must_header(&r, "Last-Modified", lm, sizeof(lm), path);
		must_header(&r, "Cache-Control", cc, sizeof(cc), path);
		if (strcasestr(cc, "no-store"))
			fail_msg("%s: Cache-Control '%s' forbids caching", path,
				 cc);
		/* A strong or weak entity-tag: "..." or W/"...". */
		if (strlen(etag) < 2 || etag[strlen(etag) - 1] != '"' ||
		    (etag[0] != '"' && strncmp(etag, "W/\"", 3)))
			fail_msg("%s: ETag %s is not an entity-tag", path,
				 etag);
		/* Last-Modified is the file's mtime as an IMF-fixdate. */
		snprintf(file, sizeof(file), "%s%s", www_dir(),
			 strcmp(path, "/") ? path : "/index.html");
		assert_int_equal(stat(file, &st), 0);
		memset(&tm, 0, sizeof(tm));
		end = strptime(lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (!end || *end)
			fail_msg("%s: Last-Modified '%s' is no IMF-fixdate",
				 path, lm);
		assert_int_equal(timegm(&tm), st.st_mtime);

		snprintf(h, sizeof(h), "If-None-Match: %s\r\n", etag);
		expect_304(port, "GET", path, h, etag);
		expect_304(port, "HEAD", path, h, etag);
		/* A list, and the weak form of the tag, match too. */
		snprintf(h, sizeof(h),
			 "If-None-Match: \"other\", W/%s\r\n", etag);
		expect_304(port, "GET", path, h, etag);
		expect_304(port, "GET", path, "If-None-Match: *\r\n", etag);
		snprintf(h, sizeof(h), "If-Modified-Since: %s\r\n", lm);
		expect_304(port, "GET", path, h, etag);
		/* And the two obsolete date forms a server must accept. */
		rfc850_date(&tm, date, sizeof(date));
		snprintf(h, sizeof(h), "If-Modified-Since: %s\r\n", date);
		expect_304(port, "GET", path, h, etag);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		snprintf(h, sizeof(h), "If-Modified-Since: %s\r\n", date);
		expect_304(port, "GET", path, h, etag);

		/* Anything else gets the file. */
		expect_200_of(port, path, "If-None-Match: \"other\"\r\n",
			      r.body_len);
		expect_200_of(port, path,
			      "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 "
			      "GMT\r\n",
			      r.body_len);
		expect_200_of(port, path, "If-Modified-Since: yesterday\r\n",
			      r.body_len);
		/* If-None-Match wins over a matching If-Modified-Since. */
		snprintf(h, sizeof(h),
			 "If-None-Match: \"other\"\r\n"
			 "If-Modified-Since: %s\r\n",
			 lm);
		expect_200_of(port, path, h, r.body_len);
		http_response_fini(&r);
	}

	/* index.html is checked again on every load. */
	for (size_t i = 0; i < sizeof(cache_free) / sizeof(*cache_free); i++) {
		const char *path = cache_free[i];
		struct http_response r = fetch(port, "GET", path, NULL);
		char cc[256];

		must_header(&r, "Cache-Control", cc, sizeof(cc), path);
		if (!strcasestr(cc, "no-cache"))
			fail_msg("%s: Cache-Control '%s' lacks no-cache", path,
				 cc);
		http_response_fini(&r);
	}
}

CHAT_TEST(test_http_304_sends_no_body_on_a_kept_alive_connection)
{
	char raw[1024], etag[256];
	struct http_response r = fetch(port, "GET", "/style.css", NULL), rs[2];

	must_header(&r, "ETag", etag, sizeof(etag), "/style.css");
	http_response_fini(&r);
	snprintf(raw, sizeof(raw),
		 "GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n"
		 "\r\n"
		 "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		 "\r\n",
		 etag);
	assert_int_equal(http_pipeline(port, raw, strlen(raw), 2, NULL,
				       CHAT_TIMEOUT_MS, rs),
			 0);
	assert_int_equal(rs[0].status, 304);
	expect_healthz(&rs[1], "/healthz after a 304");
	http_response_fini(&rs[0]);
	http_response_fini(&rs[1]);
}

static void
test_http_changed_file_gets_a_new_etag(void **state)
{
	struct temp_site *s = *state;
	char path[PATH_MAX], old[256], now[256], h[512];
	struct http_response r;
	struct timespec times[2];

	r = fetch(s->d.port, "GET", "/", NULL);
	must_header(&r, "ETag", old, sizeof(old), "/");
	http_response_fini(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", old);

	/* Same size, new content and mtime (as a deploy would leave it). */
	assert_int_equal(put_file(s->dir, "index.html", "<p>new!</p>\n"), 0);
	snprintf(path, sizeof(path), "%s/index.html", s->dir);
	times[0].tv_sec = times[1].tv_sec = time(NULL) + 10;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	r = fetch(s->d.port, "GET", "/", h);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "<p>new!</p>\n");
	must_header(&r, "ETag", now, sizeof(now), "/");
	if (!strcmp(old, now))
		fail_msg("the ETag %s did not change with the file", old);
	http_response_fini(&r);

	/* A longer file with that same mtime: the size alone tells. */
	assert_int_equal(put_file(s->dir, "index.html", "<p>newer</p>\n"), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", now);
	r = fetch(s->d.port, "GET", "/", h);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "<p>newer</p>\n");
	http_response_fini(&r);
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
		cmocka_unit_test(
			test_http_head_answers_like_get_without_a_body),
		cmocka_unit_test(test_http_other_methods_get_405_with_allow),
		cmocka_unit_test(
			test_http_healthz_answers_a_request_carrying_a_body),
		cmocka_unit_test(
			test_http_healthz_answers_pipelined_requests_in_order),
		cmocka_unit_test_setup_teardown(
			test_http_hidden_files_and_folders_are_404, site_setup,
			site_teardown),
		cmocka_unit_test(
			test_http_files_carry_validators_and_answer_304),
		cmocka_unit_test(
			test_http_304_sends_no_body_on_a_kept_alive_connection),
		cmocka_unit_test_setup_teardown(
			test_http_changed_file_gets_a_new_etag, site_setup,
			site_teardown),
		cmocka_unit_test(test_http_and_websocket_share_the_port),
	};

	return cmocka_run_group_tests_name("http", tests, group_setup,
					   group_teardown);
}
