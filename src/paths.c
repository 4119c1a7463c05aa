/*
 * Default paths, computed at start-up (see paths.h).
 */
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by CMake: the client's path relative to the binary's folder once
 * installed, and the source tree's www/ for a build-folder run. */
#ifndef CHATD_WWW_FROM_BINDIR
#define CHATD_WWW_FROM_BINDIR "../share/chatd/www"
#endif
#ifndef CHATD_SOURCE_WWW
#define CHATD_SOURCE_WWW ""
#endif
/* And socket.io-client's bundle: installed, and in the build tree (""
 * when the build has none), both relative to the binary's folder. */
#ifndef CHATD_SIO_CLIENT_FROM_BINDIR
#define CHATD_SIO_CLIENT_FROM_BINDIR "../share/chatd/socket.io-client"
#endif
#ifndef CHATD_SIO_CLIENT_BUILD_FROM_BINDIR
#define CHATD_SIO_CLIENT_BUILD_FROM_BINDIR ""
#endif

#define DB_NAME "chat.db"

static bool
is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The folder holding the running binary, without a trailing slash. */
static int
binary_dir(char *out, size_t outlen)
{
	ssize_t n = readlink("/proc/self/exe", out, outlen - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= outlen - 1)
		return -1;
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

int
paths_default_www(char *out, size_t outlen, char *err, size_t errlen)
{
	char bin[PATH_MAX], installed[PATH_MAX + 64] = "";
	const char *tried[2];
	size_t ntried = 0;

	if (outlen < PATH_MAX) {
		snprintf(err, errlen, "--www: path buffer too small");
		return -1;
	}
	if (!binary_dir(bin, sizeof(bin))) {
		snprintf(installed, sizeof(installed), "%s/%s", bin,
			 CHATD_WWW_FROM_BINDIR);
		tried[ntried++] = installed;
	}
	if (*CHATD_SOURCE_WWW)
		tried[ntried++] = CHATD_SOURCE_WWW;
	for (size_t i = 0; i < ntried; i++)
		if (is_dir(tried[i]) && realpath(tried[i], out))
			return 0;
	snprintf(err, errlen,
		 "--www: not given, and no web client at %s%s%s; give --www "
		 "DIR",
		 ntried ? tried[0] : "(unknown binary path)",
		 ntried > 1 ? " or " : "", ntried > 1 ? tried[1] : "");
	return -1;
}

int
paths_socketio_client(char *out, size_t outlen, char *err, size_t errlen)
{
	char bin[PATH_MAX], tried[2][PATH_MAX + 64];
	size_t ntried = 0;

	if (outlen < PATH_MAX || binary_dir(bin, sizeof(bin))) {
		snprintf(err, errlen, "socket.io-client's bundle: cannot tell "
				      "where the chatd binary is");
		return -1;
	}
	snprintf(tried[ntried++], sizeof(tried[0]), "%s/%s", bin,
		 CHATD_SIO_CLIENT_FROM_BINDIR);
	if (*CHATD_SIO_CLIENT_BUILD_FROM_BINDIR)
		snprintf(tried[ntried++], sizeof(tried[0]), "%s/%s", bin,
			 CHATD_SIO_CLIENT_BUILD_FROM_BINDIR);
	for (size_t i = 0; i < ntried; i++)
		if (is_dir(tried[i]) && realpath(tried[i], out))
			return 0;
	snprintf(err, errlen, "no socket.io-client bundle at %s%s%s", tried[0],
		 ntried > 1 ? " or " : "", ntried > 1 ? tried[1] : "");
	return -1;
}

/* mkdir -p, the folders it makes private to the user. */
static int
make_dirs(char *path)
{
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = c;
			return -1;
		}
		*p = c;
		if (!c)
			return 0;
	}
}

int
paths_default_db(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *state = getenv("STATE_DIRECTORY");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[PATH_MAX];
	int n;

	if (state && *state) {
		/* systemd lists one path per StateDirectory= entry. */
		n = snprintf(out, outlen, "%.*s/" DB_NAME,
			     (int)strcspn(state, ":"), state);
		if (n < 0 || (size_t)n >= outlen) {
			snprintf(err, errlen, "--db: STATE_DIRECTORY too long");
			return -1;
		}
		return 0;
	}
	if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/chatd", xdg);
	else if (home && home[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/.local/state/chatd", home);
	else {
		snprintf(err, errlen,
			 "--db: not given, and none of STATE_DIRECTORY, "
			 "XDG_STATE_HOME, HOME is an absolute path; give "
			 "--db FILE");
		return -1;
	}
	if (n < 0 || (size_t)n >= sizeof(dir) ||
	    (size_t)n + sizeof("/" DB_NAME) > outlen) {
		snprintf(err, errlen, "--db: state directory path too long");
		return -1;
	}
	if (make_dirs(dir)) {
		snprintf(err, errlen, "--db: cannot make %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	snprintf(out, outlen, "%s/" DB_NAME, dir);
	return 0;
}
