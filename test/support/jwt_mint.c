/*
 * Test tokens: base64url and HMAC-SHA-256 only, no JSON checks.
 */
#include "jwt_mint.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

void
mint_b64url(const void *in, size_t n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = abc[p[i] >> 2];
		out[o++] = abc[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = abc[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		out[o++] = abc[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = abc[p[i] >> 2];
		out[o++] = abc[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = abc[p[i] >> 2];
		out[o++] = abc[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = abc[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

char *
mint_token(const char *header, const char *payload, const void *key,
	   size_t key_len)
{
	size_t hl = strlen(header), pl = strlen(payload);
	size_t cap = 4 * ((hl + 2) / 3) + 4 * ((pl + 2) / 3) + 64;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	char *t = malloc(cap);
	size_t n;

	if (!t)
		return NULL;
	mint_b64url(header, hl, t);
	n = strlen(t);
	t[n++] = '.';
	mint_b64url(payload, pl, t + n);
	n += strlen(t + n);
	if (key) {
		HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)t, n,
		     mac, &mac_len);
	}
	t[n++] = '.';
	mint_b64url(mac, mac_len, t + n);
	return t;
}

char *
mint_hs256(const char *payload, const void *key, size_t key_len)
{
	return mint_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key,
			  key_len);
}

long long
mint_now(void)
{
	return (long long)time(NULL);
}
