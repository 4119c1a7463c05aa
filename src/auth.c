/*
 * The token secret and a handshake's token: read the secret file once,
 * find the token in the request, hand both to jwt_verify().
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "jwt.h"
#include "log.h"

#define FLAG "--jwt-secret-file"

/* Reads up to len bytes; returns how many, or -1 with errno set. */
static ssize_t
read_up_to(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
auth_load(struct auth *a, const char *path, char *err, size_t errlen)
{
	/* One byte over the bound, and one for a newline after it, tell a
	 * secret that is too long from one that just fits. */
	unsigned char buf[AUTH_SECRET_MAX + 2];
	struct stat st = { 0 };
	ssize_t n = -1;
	size_t len;
	int fd;

	*a = (struct auth){ .path = path };
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 && !fstat(fd, &st))
		n = read_up_to(fd, buf, sizeof(buf));
	if (n < 0) {
		snprintf(err, errlen, FLAG ": cannot read '%s': %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	len = (size_t)n;
	if (len && buf[len - 1] == '\n')
		len--;
	if (!len || len > AUTH_SECRET_MAX) {
		if (len)
			snprintf(err, errlen,
				 FLAG ": '%s' holds more than %d bytes; no "
				 "HS256 secret needs that many",
				 path, AUTH_SECRET_MAX);
		else
			snprintf(err, errlen, FLAG ": '%s' is empty", path);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	memcpy(a->key, buf, len);
	OPENSSL_cleanse(buf, sizeof(buf));
	a->key_len = len;
	a->enabled = true;
	a->readable_by_others = st.st_mode & (S_IRGRP | S_IROTH);
	return 0;
}

void
auth_log_warnings(const struct auth *a)
{
	if (!a->enabled)
		return;
	log_info("token auth on: every WebSocket handshake needs an HS256 "
		 "token signed with the secret in '%s'",
		 a->path);
	if (a->readable_by_others)
		log_warn(FLAG ": '%s' may be read by group or others; it "
			 "should be readable by chatd's user only (chmod 600)",
			 a->path);
	if (a->key_len < AUTH_SECRET_MIN)
		log_warn(FLAG ": the secret is %zu bytes; HS256 wants at least "
			 "%d random bytes (RFC 7518 3.2)",
			 a->key_len, AUTH_SECRET_MIN);
}

void
auth_fini(struct auth *a)
{
	OPENSSL_cleanse(a->key, sizeof(a->key));
	a->key_len = 0;
	a->enabled = false;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

char *
auth_cookie_find(char *header, const char *name)
{
	size_t name_len = strlen(name);
	char *p = header;

	while (*p) {
		char *end, *eq, *name_end, *v;

		while (*p == ';' || is_wsp(*p))
			p++;
		end = p + strcspn(p, ";");
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq) {
			p = end;
			continue;
		}
		name_end = eq;
		while (name_end > p && is_wsp(name_end[-1]))
			name_end--;
		v = eq + 1;
		while (v < end && is_wsp(*v))
			v++;
		if ((size_t)(name_end - p) == name_len &&
		    !memcmp(p, name, name_len)) {
			char *e = end;

			while (e > v && is_wsp(e[-1]))
				e--;
			if (e - v >= 2 && *v == '"' && e[-1] == '"') {
				v++;
				e--;
			}
			/* An empty one may be followed by another of the
			 * same name (another Path): look on. */
			if (e > v) {
				*e = '\0';
				return v;
			}
		}
		p = end;
	}
	return NULL;
}

int
auth_check(const struct auth *a, struct lws *wsi, int64_t now,
	   struct jwt_claims **out)
{
	char buf[AUTH_HEADER_MAX];
	const char *token;

	*out = NULL;
	/* lws 4.1.6 matches the argument's name as a prefix: "token=" must
	 * carry its "=" so that "tokens=" is not taken for it. */
	token = lws_get_urlarg_by_name(wsi, AUTH_QUERY_PARAM "=", buf,
				       (int)sizeof(buf));
	if (!token || !*token) {
		/* Parsed here: lws_http_cookie_get() in 4.1.6 would also find
		 * "xchat_token=" and logs the whole header at notice. */
		token = NULL;
		if (lws_hdr_copy(wsi, buf, (int)sizeof(buf),
				 WSI_TOKEN_HTTP_COOKIE) > 0)
			token = auth_cookie_find(buf, AUTH_COOKIE_NAME);
	}
	if (!token)
		return AUTH_ENOTOKEN;
	return jwt_verify(token, strlen(token), a->key, a->key_len, now, out);
}

const char *
auth_strerror(int err)
{
	return err == AUTH_ENOTOKEN ? "no token" : jwt_strerror(err);
}
