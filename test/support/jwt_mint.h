/*
 * Token minting for the tests, written apart from src/jwt.c on purpose (a
 * shared bug would pass both sides): base64url by hand, HMAC-SHA-256 with
 * OpenSSL. Any header and payload text, so tests can mint what a real
 * site never would (alg none, RS256, duplicate keys). Pure; any thread.
 */
#ifndef CHAT_TEST_JWT_MINT_H
#define CHAT_TEST_JWT_MINT_H

#include <stddef.h>

/* Unpadded base64url of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
void mint_b64url(const void *in, size_t n, char *out);

/*
 * "B64(header).B64(payload).B64(HMAC-SHA-256(key, first two parts))";
 * key NULL leaves the signature part empty (as alg none has it). Returns
 * a malloc'd string (the caller frees it), or NULL when out of memory.
 */
char *mint_token(const char *header, const char *payload, const void *key,
		 size_t key_len);

/* mint_token with the header {"alg":"HS256","typ":"JWT"}. */
char *mint_hs256(const char *payload, const void *key, size_t key_len);

/* Current epoch seconds. */
long long mint_now(void);

#endif
