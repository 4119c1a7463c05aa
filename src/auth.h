/*
 * auth: optional token auth of WebSocket handshakes (--jwt-secret-file).
 * Owns the HS256 secret, read once at start-up, and finds a handshake's
 * token: the `token` query parameter, else the `chat_token` cookie. jwt.c
 * checks it. Loaded before the service loop; read on the service thread.
 */
#ifndef CHAT_AUTH_H
#define CHAT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

struct jwt_claims;

#define AUTH_QUERY_PARAM "token"
#define AUTH_COOKIE_NAME "chat_token"
/* HMAC hashes a key longer than its 64-byte block first: a secret this
 * long is already more than HS256 can use. */
#define AUTH_SECRET_MAX 1024
/* RFC 7518 3.2: an HS256 key must have at least the hash's 256 bits. */
#define AUTH_SECRET_MIN 32
/* Room for the query argument or the whole Cookie header. */
#define AUTH_HEADER_MAX 4096

/* auth_check found no token at all (a jwt_error otherwise). */
#define AUTH_ENOTOKEN (-100)

struct auth {
	bool enabled;
	bool readable_by_others; /* group or others may read the file */
	const char *path;
	size_t key_len;
	unsigned char key[AUTH_SECRET_MAX];
};

/*
 * Reads the secret in the file at path (NULL: token auth off) into a: its
 * bytes, less one trailing newline. Returns 0, or -1 with err holding one
 * line naming --jwt-secret-file (missing, unreadable, empty, over
 * AUTH_SECRET_MAX bytes); then a holds no secret.
 */
int auth_load(struct auth *a, const char *path, char *err, size_t errlen);

/* Logs a warn line for each weakness auth_load saw: a file others may
 * read, a secret under AUTH_SECRET_MIN bytes. */
void auth_log_warnings(const struct auth *a);

/* Wipes the secret. */
void auth_fini(struct auth *a);

/*
 * Checks the token of the handshake on wsi (its header table must still be
 * attached: CONFIRM_UPGRADE or ESTABLISHED) at time now (epoch seconds).
 * A non-empty `token` query parameter wins over the cookie. Returns 0 and
 * *out (the caller frees it with jwt_claims_free), or AUTH_ENOTOKEN or a
 * negative jwt_error, with *out NULL.
 */
int auth_check(const struct auth *a, struct lws *wsi, int64_t now,
	       struct jwt_claims **out);

/* A short phrase for an auth_check result (for the 401 body and logs). */
const char *auth_strerror(int err);

/*
 * Finds cookie `name` in a Cookie header value (RFC 6265 5.4: "a=1; b=2"),
 * which it edits in place. Returns its value, without surrounding double
 * quotes, or NULL when there is no such cookie or its value is empty.
 */
char *auth_cookie_find(char *header, const char *name);

#endif
