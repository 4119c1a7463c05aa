/*
 * jwt: strict base64url, the algorithm pinned to HS256 whatever the header
 * says, the MAC compared with CRYPTO_memcmp over its whole length, and the
 * claims (exp with leeway, nbf, sub, rooms). Tokens are minted by
 * test/support/jwt_mint.c, which shares no code with src/jwt.c. Built with
 * -Wl,--wrap=CRYPTO_memcmp where the linker has it (CHAT_WRAP_MEMCMP), so
 * the comparison's calls can be counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jwt.h"
#include "jwt_mint.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define KEY_LEN (sizeof(KEY) - 1)
#define NOW 1700000000LL

#ifdef CHAT_WRAP_MEMCMP
/* Counts CRYPTO_memcmp calls from src/jwt.c (the linker sends them here). */
int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

static unsigned memcmp_calls;
static size_t memcmp_len;

int
__wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
	memcmp_calls++;
	memcmp_len = len;
	return __real_CRYPTO_memcmp(a, b, len);
}
#endif

/* Verifies a token; returns the result, claims freed unless wanted. */
static int
verify_at(const char *token, long long now, struct jwt_claims **out)
{
	struct jwt_claims *c = (struct jwt_claims *)1;
	int rc = jwt_verify(token, strlen(token), (const unsigned char *)KEY,
			    KEY_LEN, now, &c);

	if (rc)
		assert_null(c);
	else
		assert_non_null(c);
	if (out)
		*out = c;
	else
		jwt_claims_free(c);
	return rc;
}

static int
verify(const char *token)
{
	return verify_at(token, NOW, NULL);
}

/* An HS256 token for payload (printf format) signed with KEY. */
static char *
token_for(const char *fmt, ...)
{
	char payload[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(payload, sizeof(payload), fmt, ap);
	va_end(ap);
	return mint_hs256(payload, KEY, KEY_LEN);
}

static int
verify_payload(const char *payload)
{
	char *t = token_for("%s", payload);
	int rc = verify(t);

	free(t);
	return rc;
}

static int
verify_header(const char *header, const void *key, size_t key_len)
{
	char *t = mint_token(header, "{\"sub\":\"alice\",\"exp\":1700003600}",
			     key, key_len);
	int rc = verify(t);

	free(t);
	return rc;
}

/* ---- base64url ---- */

static int
decode(const char *in, unsigned char *out, size_t *len)
{
	return jwt_base64url_decode(in, strlen(in), out, len);
}

static void
test_jwt_base64url_decodes_rfc4648_vectors(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "", "" },
		{ "Zg", "f" },
		{ "Zm8", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9vYg", "foob" },
		{ "Zm9vYmE", "fooba" },
		{ "Zm9vYmFy", "foobar" },
	};
	unsigned char out[16];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		len = sizeof(out);
		assert_int_equal(decode(v[i].in, out, &len), 0);
		assert_int_equal(len, strlen(v[i].out));
		assert_memory_equal(out, v[i].out, len);
	}
	/* The URL-safe letters: 62 is '-', 63 is '_'. */
	len = sizeof(out);
	assert_int_equal(decode("-_8", out, &len), 0);
	assert_int_equal(len, 2);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
}

static void
test_jwt_base64url_refuses_padding_and_stray_bits(
	void **state)
{
	static const char *const bad[] = {
		"Zg==", /* padding */
		"Zm9v=",
		"+/8",    /* the standard alphabet */
		"Zm 9v",  /* space */
		"Zm9vY",  /* 1 mod 4: six bits, no byte */
		"Zh",     /* "f" with non-zero bits after it */
		"Zm9",    /* "fo" spelt with a stray bit */
		"Zm9v\n", /* newline */
	};
	unsigned char out[16];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = sizeof(out);
		if (!decode(bad[i], out, &len))
			fail_msg("'%s' was decoded", bad[i]);
	}
	/* Too small an output is refused, not overrun. */
	len = 2;
	assert_int_equal(decode("Zm9v", out, &len), -1);
}

/* ---- valid tokens and claims ---- */

static void
test_jwt_valid_token_gives_sub_and_exp(void **state)
{
	char *t = token_for("{\"sub\":\"alice\",\"exp\":%lld,\"iat\":%lld}",
			    NOW + 3600, NOW);
	struct jwt_claims *c;

	(void)state;
	assert_int_equal(verify_at(t, NOW, &c), JWT_OK);
	assert_string_equal(c->sub, "alice");
	assert_int_equal(c->exp, NOW + 3600);
	assert_false(c->has_rooms);
	/* No rooms claim: any room. */
	assert_true(jwt_claims_allow_room(c, "lobby"));
	assert_true(jwt_claims_allow_room(c, "anything"));
	jwt_claims_free(c);
	free(t);
}

static void
test_jwt_rooms_claim_limits_rooms_exactly(void **state)
{
	char *t = token_for("{\"sub\":\"bob\",\"exp\":%lld,"
			    "\"rooms\":[\"ops\",\"dev.team\"]}",
			    NOW + 60);
	struct jwt_claims *c;

	(void)state;
	assert_int_equal(verify_at(t, NOW, &c), JWT_OK);
	assert_true(c->has_rooms);
	assert_int_equal(c->nrooms, 2);
	assert_string_equal(c->rooms[0], "ops");
	assert_true(jwt_claims_allow_room(c, "ops"));
	assert_true(jwt_claims_allow_room(c, "dev.team"));
	assert_false(jwt_claims_allow_room(c, "lobby"));
	/* Room names are case-sensitive, so is the list. */
	assert_false(jwt_claims_allow_room(c, "OPS"));
	assert_false(jwt_claims_allow_room(c, "op"));
	jwt_claims_free(c);
	free(t);
}

static void
test_jwt_exp_and_nbf_have_a_small_leeway(void **state)
{
	char *t;

	(void)state;
	/* exp: refused once it is JWT_LEEWAY_SECS in the past. */
	t = token_for("{\"sub\":\"a\",\"exp\":%lld}", NOW);
	assert_int_equal(verify_at(t, NOW + JWT_LEEWAY_SECS - 1, NULL),
			 JWT_OK);
	assert_int_equal(verify_at(t, NOW + JWT_LEEWAY_SECS, NULL),
			 JWT_EEXPIRED);
	assert_int_equal(verify_at(t, NOW + 3600, NULL), JWT_EEXPIRED);
	free(t);
	/* nbf: accepted from JWT_LEEWAY_SECS before it. */
	t = token_for("{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 7200,
		      NOW + 600);
	assert_int_equal(verify_at(t, NOW, NULL), JWT_ENOTYET);
	assert_int_equal(verify_at(t, NOW + 600 - JWT_LEEWAY_SECS - 1, NULL),
			 JWT_ENOTYET);
	assert_int_equal(verify_at(t, NOW + 600 - JWT_LEEWAY_SECS, NULL),
			 JWT_OK);
	free(t);
	/* NumericDate may be a real number. */
	t = token_for("{\"sub\":\"a\",\"exp\":%lld.5,\"nbf\":%lld.25}",
		      NOW + 10, NOW - 10);
	assert_int_equal(verify(t), JWT_OK);
	free(t);
}

static void
test_jwt_claims_exp_sub_and_rooms_are_checked(void **state)
{
	static const char *const bad[] = {
		"{\"sub\":\"alice\"}",                       /* no exp */
		"{\"sub\":\"alice\",\"exp\":\"1700003600\"}", /* exp a string */
		"{\"sub\":\"alice\",\"exp\":null}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"nbf\":\"x\"}",
		"{\"exp\":1700003600}",                      /* no sub */
		"{\"sub\":42,\"exp\":1700003600}",
		"{\"sub\":\"\",\"exp\":1700003600}",
		"{\"sub\":\"al ice\",\"exp\":1700003600}",   /* not a nick */
		"{\"sub\":\"alice@example.com\",\"exp\":1700003600}",
		"{\"sub\":\"abcdefghijabcdefghijabcdefghijabc\","
		"\"exp\":1700003600}",                        /* 33 chars */
		"{\"sub\":\"alice\",\"exp\":1700003600,\"rooms\":\"ops\"}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"rooms\":[]}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"rooms\":null}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"rooms\":[\"ok\",1]}",
		"{\"sub\":\"alice\",\"exp\":1700003600,\"rooms\":[\"#ops\"]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = verify_payload(bad[i]);

		if (rc != JWT_ECLAIMS)
			fail_msg("%s: %d (%s), expected JWT_ECLAIMS", bad[i],
				 rc, jwt_strerror(rc));
	}
	/* A 32-character sub is a nick. */
	assert_int_equal(verify_payload("{\"sub\":\"abcdefghijabcdefghijabcd"
					"efghijab\",\"exp\":1700003600}"),
			 JWT_OK);
}

static void
test_jwt_rooms_claim_is_bounded(void **state)
{
	char payload[JWT_ROOMS_MAX * 8 + 128];
	size_t n;

	(void)state;
	n = (size_t)snprintf(payload, sizeof(payload),
			     "{\"sub\":\"a\",\"exp\":%lld,\"rooms\":[",
			     NOW + 60);
	for (int i = 0; i < JWT_ROOMS_MAX; i++)
		n += (size_t)snprintf(payload + n, sizeof(payload) - n,
				      "%s\"r%d\"", i ? "," : "", i);
	strcpy(payload + n, "]}");
	assert_int_equal(verify_payload(payload), JWT_OK);
	strcpy(payload + n, ",\"one-more\"]}");
	assert_int_equal(verify_payload(payload), JWT_ECLAIMS);
}

/* ---- the algorithm is chatd's, not the token's ---- */

static void
test_jwt_alg_other_than_hs256_is_refused(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"None\"}",
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS512\"}",
		"{\"alg\":\"HS384\"}",
		"{\"alg\":\"hs256\"}",  /* alg is case-sensitive (RFC 7515) */
		"{\"alg\":\"HS256 \"}",
		"{\"alg\":[\"HS256\"]}",
		"{\"typ\":\"JWT\"}",   /* no alg */
		/* An extension chatd would have to understand. */
		"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		/* Signed with the right key all the same: only the header
		 * says what to verify with, and chatd does not listen. */
		int rc = verify_header(headers[i], KEY, KEY_LEN);

		if (rc != JWT_EALG)
			fail_msg("%s: %d (%s), expected JWT_EALG", headers[i],
				 rc, jwt_strerror(rc));
	}
	assert_int_equal(verify_header("{\"alg\":\"HS256\"}", KEY, KEY_LEN),
			 JWT_OK);
}

static void
test_jwt_alg_none_without_signature_is_refused(void **state)
{
	(void)state;
	assert_int_equal(verify_header("{\"alg\":\"none\"}", NULL, 0),
			 JWT_EALG);
	/* Even with alg HS256, an empty signature is no signature. */
	assert_int_equal(verify_header("{\"alg\":\"HS256\"}", NULL, 0),
			 JWT_ESIGNATURE);
}

static void
test_jwt_rs256_header_over_an_hmac_is_refused(void **state)
{
	/* Algorithm confusion: an RS256 header whose "signature" is an HMAC
	 * keyed with the secret (what a verifier that takes its key for a
	 * public key and its algorithm from the token would accept). */
	char *t = mint_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
			     "{\"sub\":\"mallory\",\"exp\":1700003600}", KEY,
			     KEY_LEN);

	(void)state;
	assert_int_equal(verify(t), JWT_EALG);
	free(t);
}

/* ---- signatures ---- */

#define B64URL                                                                 \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static int
b64url_index(char c)
{
	const char *p = strchr(B64URL, c);

	assert_non_null(p);
	return (int)(p - B64URL);
}

/* token's first two parts, then n bytes of its MAC (repeated) as the
 * signature, into out. */
static void
with_signature_bytes(const char *token, size_t n, char *out, size_t outlen)
{
	unsigned char mac[64];
	size_t mac_len = sizeof(mac), head = (size_t)(strrchr(token, '.') -
						      token);
	char sig[128];

	assert_int_equal(jwt_base64url_decode(token + head + 1,
					      strlen(token + head + 1), mac,
					      &mac_len),
			 0);
	for (size_t i = mac_len; i < n; i++)
		mac[i] = mac[i % mac_len];
	mint_b64url(mac, n, sig);
	snprintf(out, outlen, "%.*s.%s", (int)head, token, sig);
}

static void
test_jwt_bad_signatures_are_refused(void **state)
{
	char *t = token_for("{\"sub\":\"alice\",\"exp\":%lld}", NOW + 60);
	char *other = mint_hs256("{\"sub\":\"alice\",\"exp\":1700000060}",
				 "another secret", 14);
	char *sig = strrchr(t, '.') + 1;
	char tampered[512];
	size_t len = strlen(t);

	(void)state;
	assert_int_equal(verify(t), JWT_OK);
	assert_int_equal(verify(other), JWT_ESIGNATURE);
	/* One bit off, at the start and at the end of the MAC. */
	snprintf(tampered, sizeof(tampered), "%s", t);
	tampered[sig - t] = sig[0] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(tampered), JWT_ESIGNATURE);
	snprintf(tampered, sizeof(tampered), "%s", t);
	/* The last character holds 4 bits and 2 zero bits: flip a data bit. */
	tampered[len - 1] = t[len - 1] == 'A' ? 'E' : 'A';
	assert_int_equal(verify(tampered), JWT_ESIGNATURE);
	/* The payload changed under the same signature. */
	{
		char *forged = token_for("{\"sub\":\"admin\",\"exp\":%lld}",
					 NOW + 60);

		snprintf(tampered, sizeof(tampered), "%.*s%s",
			 (int)(strrchr(forged, '.') - forged), forged,
			 strrchr(t, '.'));
		assert_int_equal(verify(tampered), JWT_ESIGNATURE);
		free(forged);
	}
	/* 31 and 33 bytes: not an HS256 MAC, whatever they hold. */
	with_signature_bytes(t, 31, tampered, sizeof(tampered));
	assert_int_equal(verify(tampered), JWT_ESIGNATURE);
	with_signature_bytes(t, 33, tampered, sizeof(tampered));
	assert_int_equal(verify(tampered), JWT_ESIGNATURE);
	/* The right MAC spelt with a stray bit after its last byte (43
	 * characters hold 258 bits; the last 2 must be zero). */
	snprintf(tampered, sizeof(tampered), "%s", t);
	tampered[len - 1] = B64URL[b64url_index(t[len - 1]) ^ 1];
	assert_int_equal(verify(tampered), JWT_ESIGNATURE);
	free(other);
	free(t);
}

static void
test_jwt_signature_comes_before_claims(void **state)
{
	/* Expired, sub invalid, and signed with another key: the answer is
	 * about the signature, the only thing an attacker controls. */
	char *t = mint_hs256("{\"sub\":\"not a nick\",\"exp\":1}", "other", 5);

	(void)state;
	assert_int_equal(verify(t), JWT_ESIGNATURE);
	free(t);
}

static void
test_jwt_mac_compare_is_constant_time(
	void **state)
{
#ifdef CHAT_WRAP_MEMCMP
	char *t = token_for("{\"sub\":\"alice\",\"exp\":%lld}", NOW + 60);
	char *sig = strrchr(t, '.') + 1;

	(void)state;
	memcmp_calls = 0;
	assert_int_equal(verify(t), JWT_OK);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_len, JWT_MAC_LEN);
	/* A wrong first byte still costs one comparison of all 32 bytes:
	 * nothing in the path stops early. */
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	memcmp_calls = 0;
	memcmp_len = 0;
	assert_int_equal(verify(t), JWT_ESIGNATURE);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_len, JWT_MAC_LEN);
	/* A header other than HS256 never gets that far. */
	free(t);
	t = mint_token("{\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1}", NULL,
		       0);
	memcmp_calls = 0;
	assert_int_equal(verify(t), JWT_EALG);
	assert_int_equal(memcmp_calls, 0);
	free(t);
#else
	(void)state;
	skip();
#endif
}

/* ---- malformed ---- */

static void
test_jwt_malformed_tokens_are_refused(void **state)
{
	char *dup_alg = mint_token("{\"alg\":\"none\",\"alg\":\"HS256\"}",
				   "{\"sub\":\"a\",\"exp\":1700003600}", KEY,
				   KEY_LEN);
	char *dup_sub = token_for("{\"sub\":\"a\",\"sub\":\"admin\","
				  "\"exp\":1700003600}");
	char *array_hdr = mint_token("[\"HS256\"]", "{}", KEY, KEY_LEN);
	char *not_json = mint_token("{\"alg\":\"HS256\"}", "not json", KEY,
				    KEY_LEN);
	char *array_body = mint_token("{\"alg\":\"HS256\"}", "[1]", KEY,
				      KEY_LEN);
	char *nul = mint_token("{\"alg\":\"HS256\"}",
			       "{\"sub\":\"a\\u0000b\",\"exp\":1700003600}",
			       KEY, KEY_LEN);
	char *good = token_for("{\"sub\":\"a\",\"exp\":%lld}", NOW + 60);
	char padded[512], extra[512];
	const char *const bad[] = {
		"",	     "abc", "a.b",	 "a.b.c.d", "..",
		"...",	     dup_alg,	 array_hdr, not_json, array_body,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = verify(bad[i]);

		if (rc != JWT_EMALFORMED)
			fail_msg("'%s': %d (%s), expected JWT_EMALFORMED",
				 bad[i], rc, jwt_strerror(rc));
	}
	/* The payload is read once the signature holds: still refused. */
	assert_int_equal(verify(dup_sub), JWT_EMALFORMED);
	assert_int_equal(verify(nul), JWT_EMALFORMED);
	/* Padding and a fourth part. */
	snprintf(padded, sizeof(padded), "%s=", good);
	assert_int_not_equal(verify(padded), JWT_OK);
	snprintf(extra, sizeof(extra), "%s.", good);
	assert_int_equal(verify(extra), JWT_EMALFORMED);
	/* The length given is the token: what follows is not read. */
	{
		struct jwt_claims *c = NULL;

		snprintf(extra, sizeof(extra), "%sGARBAGE", good);
		assert_int_equal(jwt_verify(extra, strlen(good),
					    (const unsigned char *)KEY, KEY_LEN,
					    NOW, &c),
				 JWT_OK);
		jwt_claims_free(c);
	}
	free(dup_alg);
	free(dup_sub);
	free(array_hdr);
	free(not_json);
	free(array_body);
	free(nul);
	free(good);
}

static void
test_jwt_strerror_tells_every_error_apart(void **state)
{
	(void)state;
	for (int e = JWT_ENOMEM; e <= JWT_OK; e++)
		for (int f = JWT_ENOMEM; f < e; f++)
			assert_string_not_equal(jwt_strerror(e),
						jwt_strerror(f));
	assert_string_equal(jwt_strerror(JWT_EEXPIRED), "token expired");
	assert_string_equal(jwt_strerror(-99), "invalid token");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt_base64url_decodes_rfc4648_vectors),
		cmocka_unit_test(
			test_jwt_base64url_refuses_padding_and_stray_bits),
		cmocka_unit_test(test_jwt_valid_token_gives_sub_and_exp),
		cmocka_unit_test(test_jwt_rooms_claim_limits_rooms_exactly),
		cmocka_unit_test(test_jwt_exp_and_nbf_have_a_small_leeway),
		cmocka_unit_test(test_jwt_claims_exp_sub_and_rooms_are_checked),
		cmocka_unit_test(test_jwt_rooms_claim_is_bounded),
		cmocka_unit_test(test_jwt_alg_other_than_hs256_is_refused),
		cmocka_unit_test(
			test_jwt_alg_none_without_signature_is_refused),
		cmocka_unit_test(test_jwt_rs256_header_over_an_hmac_is_refused),
		cmocka_unit_test(test_jwt_bad_signatures_are_refused),
		cmocka_unit_test(test_jwt_signature_comes_before_claims),
		cmocka_unit_test(test_jwt_mac_compare_is_constant_time),
		cmocka_unit_test(test_jwt_malformed_tokens_are_refused),
		cmocka_unit_test(test_jwt_strerror_tells_every_error_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
