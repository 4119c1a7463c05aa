/*
 * jwt: checks the HS256 JSON Web Tokens (RFC 7519) that admit a WebSocket
 * handshake, and owns the claims chatd takes from one (sub, exp, nbf,
 * rooms). The algorithm is pinned to HS256 whatever the header says, and
 * the MAC is compared in constant time. Pure: no I/O, no lws; any thread.
 */
#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "name.h"

/* Clock skew allowed between the site that mints tokens and chatd. */
#define JWT_LEEWAY_SECS 30
/* Most rooms a token's rooms claim may list. */
#define JWT_ROOMS_MAX 256
/* Longest token looked at; lws's 4 KiB header buffer holds less anyway. */
#define JWT_TOKEN_MAX 8192
/* HMAC-SHA-256 output, the only signature length HS256 has. */
#define JWT_MAC_LEN 32

enum jwt_error {
	JWT_OK = 0,
	JWT_EMALFORMED = -1, /* not three base64url parts of JSON objects */
	JWT_EALG = -2,       /* alg is not "HS256", or the header has crit */
	JWT_ESIGNATURE = -3, /* the signature is not this secret's MAC */
	JWT_EEXPIRED = -4,   /* exp was more than the leeway ago */
	JWT_ENOTYET = -5,    /* nbf is more than the leeway ahead */
	JWT_ECLAIMS = -6,    /* no exp; sub not a nick; rooms not room names */
	JWT_ENOMEM = -7,
};

/* What a verified token says; one allocation (jwt_claims_free). */
struct jwt_claims {
	char sub[NAME_NICK_MAX + 1]; /* a valid nick */
	int64_t exp;                 /* seconds since the epoch */
	bool has_rooms;              /* false: no rooms claim, any room */
	unsigned nrooms;             /* 1..JWT_ROOMS_MAX when has_rooms */
	char rooms[][NAME_ROOM_MAX + 1]; /* valid room names, token order */
};

/*
 * Checks token (len bytes, no NUL needed) against key at time now (epoch
 * seconds), in this order: three parts; a header whose alg is exactly
 * HS256; a signature that is HMAC-SHA-256(key, header.payload), compared
 * with CRYPTO_memcmp; then the claims: exp required (JWT_LEEWAY_SECS of
 * slack), nbf when present, sub a valid nick, rooms when present 1 to
 * JWT_ROOMS_MAX valid room names. Base64url is strict: no padding, no
 * other alphabet, no stray bits. Returns 0 and *out, a new claims object
 * the caller frees, or a negative jwt_error with *out NULL.
 */
int jwt_verify(const char *token, size_t len, const unsigned char *key,
	       size_t key_len, int64_t now, struct jwt_claims **out);

void jwt_claims_free(struct jwt_claims *c);

/* Whether the claims let a session join room (exact, case-sensitive). */
bool jwt_claims_allow_room(const struct jwt_claims *c, const char *room);

/* A short phrase for err (a jwt_error), fit for a 401 body or a log line. */
const char *jwt_strerror(int err);

/*
 * Decodes unpadded base64url (RFC 7515 section 2) of len bytes into out,
 * which holds *out_len bytes; on return *out_len is the decoded length.
 * Returns 0, or -1 for a character outside [A-Za-z0-9_-], a length that
 * is 1 modulo 4, non-zero bits after the last byte (a second spelling of
 * the same bytes), or out too small.
 */
int jwt_base64url_decode(const char *in, size_t len, unsigned char *out,
			 size_t *out_len);

#endif
