/*
 * Parser of redis:// URLs, by hand: the grammar is four fields, and the
 * password is the one part that needs care (percent-escapes, any byte).
 */
#include "redis_url.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies [p, end) into out (size cap), decoding %XX. */
static int
unescape(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	for (; p < end; p++) {
		char c = *p;

		if (c == '%') {
			if (end - p < 3 || hex(p[1]) < 0 || hex(p[2]) < 0)
				return -1;
			c = (char)(hex(p[1]) << 4 | hex(p[2]));
			p += 2;
		}
		if (!c || n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = 0;
	return 0;
}

/* Digits only, from min to max. */
static int
number(const char *p, const char *end, unsigned min, unsigned max,
       unsigned *out)
{
	unsigned long v = 0;

	if (p == end || end - p > 10)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static bool
host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

int
redis_url_parse(const char *s, struct redis_url *out, const char **why)
{
	const char *p, *end, *at, *host, *host_end, *port = NULL;

	memset(out, 0, sizeof(*out));
	out->port = REDIS_URL_DEFAULT_PORT;
	if (!strncmp(s, "rediss://", 9)) {
		*why = "rediss:// (TLS) is not supported by this build's "
		       "hiredis; use redis:// over a trusted network or a "
		       "TLS tunnel";
		return -1;
	}
	if (strncmp(s, "redis://", 8)) {
		*why = "must start with redis://";
		return -1;
	}
	p = s + 8;
	end = p + strcspn(p, "/?#");
	if (end[0] == '?' || end[0] == '#') {
		*why = "query and fragment parts are not supported";
		return -1;
	}
	/* The last '@' ends the credentials: a password may hold one. */
	at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		/* user:password (a user needs Redis 6 ACLs: only the
		 * password is sent, which covers the default user) or
		 * :password. A bare user with no password means nothing. */
		if (!colon || colon + 1 == at) {
			*why = "credentials must be :password@ or user:password@";
			return -1;
		}
		if (colon != p) {
			*why = "a user name is not supported, only :password@";
			return -1;
		}
		if (unescape(colon + 1, at, out->password,
			     sizeof(out->password))) {
			*why = "bad password (too long, or a bad %-escape)";
			return -1;
		}
		p = at + 1;
	}
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (!host_end || host_end == host) {
			*why = "unterminated IPv6 literal";
			return -1;
		}
		for (const char *q = host; q < host_end; q++)
			if (!(hex(*q) >= 0 || *q == ':' || *q == '.')) {
				*why = "bad IPv6 literal";
				return -1;
			}
		p = host_end + 1;
		if (p < end && *p != ':') {
			*why = "junk after the IPv6 literal";
			return -1;
		}
	} else {
		host = p;
		host_end = p;
		while (host_end < end && *host_end != ':')
			host_end++;
		for (const char *q = host; q < host_end; q++)
			if (!host_char_ok(*q)) {
				*why = "bad host name";
				return -1;
			}
		p = host_end;
	}
	if (host_end == host) {
		*why = "no host";
		return -1;
	}
	if ((size_t)(host_end - host) > REDIS_URL_HOST_MAX) {
		*why = "host name too long";
		return -1;
	}
	memcpy(out->host, host, (size_t)(host_end - host));
	out->host[host_end - host] = 0;
	if (p < end && *p == ':') {
		port = p + 1;
		if (number(port, end, 1, 65535, &out->port)) {
			*why = "port must be a number from 1 to 65535";
			return -1;
		}
	}
	if (*end == '/' && end[1]) {
		const char *db = end + 1;

		if (number(db, db + strlen(db), 0, 1000000, &out->db)) {
			*why = "database must be a number";
			return -1;
		}
	}
	return 0;
}
