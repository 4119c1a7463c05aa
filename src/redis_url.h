/*
 * redis_url: the --redis value, redis://[:password@]host[:port][/db],
 * split into what a connection needs. Pure, any thread.
 *
 * rediss:// (TLS) is refused: Debian 12's hiredis (0.14) has no TLS.
 */
#ifndef CHAT_REDIS_URL_H
#define CHAT_REDIS_URL_H

#define REDIS_URL_DEFAULT_PORT 6379
#define REDIS_URL_HOST_MAX 255
#define REDIS_URL_PASSWORD_MAX 255

struct redis_url {
	char host[REDIS_URL_HOST_MAX + 1]; /* a name or an IP literal */
	unsigned port;
	char password[REDIS_URL_PASSWORD_MAX + 1]; /* "": no AUTH */
	unsigned db; /* SELECTed when not 0 */
};

/*
 * Parses s into *out. Returns 0, or -1 with a short reason in *why (a
 * static string) and *out unspecified. Percent-escapes in the password
 * are decoded; IPv6 literals go in brackets.
 */
int redis_url_parse(const char *s, struct redis_url *out, const char **why);

#endif
