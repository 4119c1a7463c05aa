/*
 * Token auth's parsers of client bytes: jwt_verify() on the token as sent,
 * and again with a valid signature appended (so the header and claims
 * parsers are reached, not only the MAC check); jwt_base64url_decode()
 * strictness (what it accepts encodes back to the same text); and
 * auth_cookie_find() on a Cookie header.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "fuzz.h"
#include "jwt.h"
#include "name.h"

static const unsigned char key[] = "fuzz-secret-of-32-bytes-at-least!";
#define KEY_LEN (sizeof(key) - 1)
#define NOW 1800000000

static size_t
b64url(const unsigned char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		out[o++] = a[in[i] >> 2];
		out[o++] = a[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = a[v >> 10 & 63];
		out[o++] = a[v >> 4 & 63];
		out[o++] = a[(v & 15) << 2];
	}
	return o;
}

static void
check_claims(int rc, struct jwt_claims *c)
{
	if (rc) {
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(jwt_strerror(rc) != NULL);
		return;
	}
	FUZZ_CHECK(c != NULL);
	FUZZ_CHECK(name_is_valid(c->sub, NAME_NICK_MAX));
	FUZZ_CHECK(c->exp >= NOW - JWT_LEEWAY_SECS);
	if (c->has_rooms) {
		FUZZ_CHECK(c->nrooms >= 1 && c->nrooms <= JWT_ROOMS_MAX);
		for (unsigned i = 0; i < c->nrooms; i++) {
			FUZZ_CHECK(name_is_valid(c->rooms[i], NAME_ROOM_MAX));
			FUZZ_CHECK(jwt_claims_allow_room(c, c->rooms[i]));
		}
	} else {
		FUZZ_CHECK(jwt_claims_allow_room(c, "lobby"));
	}
	jwt_claims_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims *c = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE], *dec;
	unsigned mac_len = 0;
	char *signed_tok, *copy, *v;
	size_t dlen, n;
	int rc;

	if (size > JWT_TOKEN_MAX)
		return 0;
	/* As sent: almost always a bad MAC, and never a crash. */
	rc = jwt_verify((const char *)data, size, key, KEY_LEN, NOW, &c);
	check_claims(rc, c);

	/* Signed with the key: the header and claims parsers run. */
	signed_tok = malloc(size + 1 + 64);
	FUZZ_CHECK(signed_tok != NULL);
	memcpy(signed_tok, data, size);
	HMAC(EVP_sha256(), key, (int)KEY_LEN, data, size, mac, &mac_len);
	signed_tok[size] = '.';
	n = size + 1 + b64url(mac, mac_len, signed_tok + size + 1);
	c = NULL;
	rc = jwt_verify(signed_tok, n, key, KEY_LEN, NOW, &c);
	check_claims(rc, c);
	free(signed_tok);

	/* Strict base64url: what decodes encodes back to the same text. */
	dec = malloc(size + 1);
	FUZZ_CHECK(dec != NULL);
	dlen = size + 1;
	if (jwt_base64url_decode((const char *)data, size, dec, &dlen) == 0) {
		char *enc = malloc(size + 4);

		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(dlen <= size);
		FUZZ_CHECK(b64url(dec, dlen, enc) == size &&
			   memcmp(enc, data, size) == 0);
		free(enc);
	}
	free(dec);

	/* A Cookie header: the value found lies inside it. */
	copy = malloc(size + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	v = auth_cookie_find(copy, "chat_token");
	if (v)
		FUZZ_CHECK(v >= copy && v < copy + size && *v);
	free(copy);
	return 0;
}
