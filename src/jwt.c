/*
 * HS256 token verification with OpenSSL's HMAC and CRYPTO_memcmp, claims
 * with jansson. Nothing in the payload is looked at before the signature
 * over it has been checked, and nothing in the header but alg and crit.
 */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
jwt_base64url_decode(const char *in, size_t len, unsigned char *out,
		     size_t *out_len)
{
	size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* One character left over carries 6 bits: no whole byte. */
	if (len % 4 == 1 || need > *out_len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The bits after the last byte must be zero, or one signature would
	 * have several spellings. */
	if (acc)
		return -1;
	*out_len = o;
	return 0;
}

/* Decodes one base64url part holding a JSON object; NULL if it is not. */
static json_t *
decode_object(const char *in, size_t len)
{
	size_t n = len / 4 * 3 + 2;
	unsigned char *buf = malloc(n);
	json_t *j = NULL;

	if (!buf)
		return NULL;
	if (!jwt_base64url_decode(in, len, buf, &n))
		/* A repeated name could mean one thing here and another
		 * to the site that minted the token. */
		j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES,
			       NULL);
	free(buf);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/*
 * The algorithm comes from chatd, never from the token: anything but
 * exactly "HS256" ("none", "RS256" hoping the secret is taken for a public
 * key, "hs256", HS512) is refused before any MAC is computed.
 */
static int
check_header(const char *in, size_t len)
{
	json_t *h = decode_object(in, len);
	const char *alg;
	int rc = 0;

	if (!h)
		return JWT_EMALFORMED;
	alg = json_string_value(json_object_get(h, "alg"));
	/* crit names extensions the token needs understood (RFC 7515
	 * 4.1.11); chatd understands none. */
	if (!alg || strcmp(alg, "HS256") || json_object_get(h, "crit"))
		rc = JWT_EALG;
	json_decref(h);
	return rc;
}

static int
check_signature(const char *signed_part, size_t signed_len, const char *sig,
		size_t sig_len, const unsigned char *key, size_t key_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE], given[JWT_MAC_LEN + 2];
	unsigned mac_len = 0;
	size_t given_len = sizeof(given);
	int rc;

	if (jwt_base64url_decode(sig, sig_len, given, &given_len) ||
	    given_len != JWT_MAC_LEN)
		return JWT_ESIGNATURE; /* the length is no secret */
	if (!HMAC(EVP_sha256(), key, (int)key_len,
		  (const unsigned char *)signed_part, signed_len, mac,
		  &mac_len) ||
	    mac_len != JWT_MAC_LEN)
		return JWT_ENOMEM;
	/* memcmp would stop at the first wrong byte, and how soon it answers
	 * would tell an attacker how much of a forged MAC is right. */
	rc = CRYPTO_memcmp(mac, given, JWT_MAC_LEN) ? JWT_ESIGNATURE : 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* A NumericDate: an integer or a real number of seconds. */
static bool
numeric_date(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	if (d >= 9.2e18)
		*out = INT64_MAX;
	else if (d <= -9.2e18)
		*out = INT64_MIN;
	else
		*out = (int64_t)d;
	return true;
}

/* rooms: absent (any room), or a non-empty array of room names. */
static int
rooms_count(const json_t *payload, size_t *n)
{
	const json_t *rooms = json_object_get(payload, "rooms"), *v;
	size_t i;

	*n = 0;
	if (!rooms)
		return 0;
	/* null or [] would be read as "any room" by one site and "no room"
	 * by another: refused, not guessed. */
	if (!json_is_array(rooms) || !json_array_size(rooms) ||
	    json_array_size(rooms) > JWT_ROOMS_MAX)
		return JWT_ECLAIMS;
	json_array_foreach(rooms, i, v)
		if (!name_is_valid(json_string_value(v), NAME_ROOM_MAX))
			return JWT_ECLAIMS;
	*n = json_array_size(rooms);
	return 0;
}

static int
read_claims(const json_t *p, int64_t now, struct jwt_claims **out)
{
	const json_t *rooms = json_object_get(p, "rooms");
	const char *sub = json_string_value(json_object_get(p, "sub"));
	const json_t *nbf_v = json_object_get(p, "nbf");
	struct jwt_claims *c;
	int64_t exp, nbf = 0;
	size_t nrooms;

	if (!numeric_date(json_object_get(p, "exp"), &exp) ||
	    (nbf_v && !numeric_date(nbf_v, &nbf)))
		return JWT_ECLAIMS;
	if (exp <= now - JWT_LEEWAY_SECS)
		return JWT_EEXPIRED;
	if (nbf_v && nbf > now + JWT_LEEWAY_SECS)
		return JWT_ENOTYET;
	if (!name_is_valid(sub, NAME_NICK_MAX) || rooms_count(p, &nrooms))
		return JWT_ECLAIMS;
	c = calloc(1, sizeof(*c) + nrooms * sizeof(c->rooms[0]));
	if (!c)
		return JWT_ENOMEM;
	strcpy(c->sub, sub);
	c->exp = exp;
	c->has_rooms = rooms != NULL;
	c->nrooms = (unsigned)nrooms;
	for (size_t i = 0; i < nrooms; i++)
		strcpy(c->rooms[i],
		       json_string_value(json_array_get(rooms, i)));
	*out = c;
	return 0;
}

int
jwt_verify(const char *token, size_t len, const unsigned char *key,
	   size_t key_len, int64_t now, struct jwt_claims **out)
{
	const char *dot1, *dot2;
	json_t *payload;
	int rc;

	*out = NULL;
	if (!len || len > JWT_TOKEN_MAX)
		return JWT_EMALFORMED;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))
		    : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return JWT_EMALFORMED;

	rc = check_header(token, (size_t)(dot1 - token));
	if (rc)
		return rc;
	rc = check_signature(token, (size_t)(dot2 - token), dot2 + 1,
			     len - (size_t)(dot2 + 1 - token), key, key_len);
	if (rc)
		return rc;
	payload = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!payload)
		return JWT_EMALFORMED;
	rc = read_claims(payload, now, out);
	json_decref(payload);
	return rc;
}

void
jwt_claims_free(struct jwt_claims *c)
{
	free(c);
}

bool
jwt_claims_allow_room(const struct jwt_claims *c, const char *room)
{
	if (!c->has_rooms)
		return true;
	for (unsigned i = 0; i < c->nrooms; i++)
		if (!strcmp(c->rooms[i], room))
			return true;
	return false;
}

const char *
jwt_strerror(int err)
{
	switch (err) {
	case JWT_OK:
		return "valid token";
	case JWT_EMALFORMED:
		return "malformed token";
	case JWT_EALG:
		return "token algorithm is not HS256";
	case JWT_ESIGNATURE:
		return "bad token signature";
	case JWT_EEXPIRED:
		return "token expired";
	case JWT_ENOTYET:
		return "token not yet valid";
	case JWT_ECLAIMS:
		return "token claims are missing or invalid";
	case JWT_ENOMEM:
		return "out of memory";
	}
	return "invalid token";
}
