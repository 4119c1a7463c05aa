/*
 * http_resolve_path() on any request path, against a small document root
 * built once in a temp dir: plain files, a directory index, dotfiles, a
 * directory named index.html, a fifo, and symlinks that stay inside, leave
 * the root (relative, absolute, to a sibling sharing the root's name as a
 * prefix), loop or dangle. Whatever resolves must be a regular file under
 * the root, reached by a clean path and with no dot segment; the paths the
 * site does serve must still resolve, to the file they name.
 */
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "http.h"

/* on_http() copies the path into 1024 bytes. */
#define URI_MAX 1023

static char base[PATH_MAX]; /* the temp dir: root, and what lies beside */
static char root[PATH_MAX];
static size_t root_len;

/* Paths the site serves, and the file (under root) each one names. */
static const struct {
	const char *uri, *file;
} served[] = {
	{ "/", "index.html" },
	{ "/index.html", "index.html" },
	{ "/app.js", "app.js" },
	{ "/a b.txt", "a b.txt" },
	{ "/\xc3\xbc.txt", "\xc3\xbc.txt" },
	{ "/%2e%2e", "%2e%2e" }, /* lws decodes %xx first: here it is a name */
	{ "/sub", "sub/index.html" },
	{ "/sub/", "sub/index.html" },
	{ "/sub/file.txt", "sub/file.txt" },
	{ "/sub/deeper/x.css", "sub/deeper/x.css" },
	{ "/link-in", "sub/file.txt" },
	{ "/link-dir/file.txt", "sub/file.txt" },
	{ "/link-dir/", "sub/index.html" },
};

static void
make_file(const char *rel, const char *body)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	f = fopen(path, "w");
	FUZZ_CHECK(f);
	fputs(body, f);
	FUZZ_CHECK(!fclose(f));
}

static void
make_dir(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	FUZZ_CHECK(!mkdir(path, 0755));
}

static void
make_link(const char *target, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	FUZZ_CHECK(!symlink(target, path));
}

static int
remove_one(const char *path, const struct stat *st, int flag,
	   struct FTW *ftw)
{
	return remove(path);
}

static void
remove_tree(void)
{
	nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX + 16];

	snprintf(base, sizeof(base), "%s/chatd-fuzz-http-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(base));
	atexit(remove_tree);

	make_file("outside.txt", "outside\n");
	make_dir("www2");
	make_file("www2/stolen.txt", "beside the root\n");
	make_dir("www");
	make_file("www/index.html", "<p>index</p>\n");
	make_file("www/app.js", "export {};\n");
	make_file("www/a b.txt", "space\n");
	make_file("www/\xc3\xbc.txt", "u umlaut\n");
	make_file("www/%2e%2e", "a name, not a parent\n");
	make_file("www/.env", "SECRET=1\n");
	make_dir("www/.hidden");
	make_file("www/.hidden/index.html", "hidden\n");
	make_file("www/.hidden/secret.txt", "hidden\n");
	make_dir("www/sub");
	make_file("www/sub/index.html", "<p>sub</p>\n");
	make_file("www/sub/file.txt", "file\n");
	make_dir("www/sub/.git");
	make_file("www/sub/.git/config", "[core]\n");
	make_dir("www/sub/deeper");
	make_file("www/sub/deeper/x.css", "p {}\n");
	make_dir("www/noindex");
	make_dir("www/dirindex");
	make_dir("www/dirindex/index.html");
	make_link("sub/file.txt", "www/link-in");
	make_link("sub", "www/link-dir");
	make_link("../outside.txt", "www/link-out");
	make_link("..", "www/link-up");
	make_link("../www2/stolen.txt", "www/link-prefix");
	make_link("../www2", "www/link-prefix-dir");
	make_link("loop", "www/loop");
	make_link("nowhere", "www/dangling");
	snprintf(path, sizeof(path), "%s/outside.txt", base);
	make_link(path, "www/link-abs");
	snprintf(path, sizeof(path), "%s/www/pipe", base);
	FUZZ_CHECK(!mkfifo(path, 0644));

	/* As server.c hands it over: absolute and resolved. */
	snprintf(path, sizeof(path), "%s/www", base);
	FUZZ_CHECK(realpath(path, root));
	root_len = strlen(root);
	return 0;
}

/* What path_is_clean() promises, written again: "/" then plain names. */
static bool
uri_is_clean(const char *uri)
{
	if (uri[0] != '/' || strstr(uri, "//") || strstr(uri, "/.") ||
	    strchr(uri, '\\'))
		return false;
	return true;
}

static void
check_resolved(const char *uri, const char *out, const struct stat *st)
{
	struct stat again;

	FUZZ_CHECK(uri_is_clean(uri));
	FUZZ_CHECK(strlen(out) < PATH_MAX);
	FUZZ_CHECK(!strncmp(out, root, root_len) && out[root_len] == '/');
	FUZZ_CHECK(!strstr(out + root_len, "/."));
	FUZZ_CHECK(S_ISREG(st->st_mode));
	/* realpath left no symlink, and st is the file's own. */
	FUZZ_CHECK(!lstat(out, &again) && S_ISREG(again.st_mode));
	FUZZ_CHECK(again.st_ino == st->st_ino && again.st_dev == st->st_dev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);
	char *uri, out[PATH_MAX];
	struct stat st;
	int rc;

	if (n > URI_MAX)
		n = URI_MAX;
	/* An exact-size C string, as lws_hdr_copy() gives one. */
	uri = malloc(n + 1);
	FUZZ_CHECK(uri);
	memcpy(uri, data, n);
	uri[n] = '\0';

	rc = http_resolve_path(root, root_len, uri, out, &st);
	if (!rc)
		check_resolved(uri, out, &st);
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
		if (strcmp(uri, served[i].uri))
			continue;
		FUZZ_CHECK(!rc);
		FUZZ_CHECK(!strcmp(out + root_len + 1, served[i].file));
	}
	free(uri);
	return 0;
}
