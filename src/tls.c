/*
 * Certificate checks with OpenSSL: the same calls lws makes when it loads
 * the pair (SSL_CTX_use_certificate_chain_file, SSL_CTX_use_PrivateKey_file,
 * SSL_CTX_check_private_key), on a context of our own, plus the validity
 * dates lws does not look at.
 */
#define _GNU_SOURCE 1 /* timegm */
#include "tls.h"

#include <errno.h>

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The last OpenSSL error as text, or fallback; clears the queue. */
static const char *
ssl_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
	return buf;
}

static int
readable(const char *path, const char *flag, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: cannot read '%s': %s", flag, path,
			 strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

void
tls_format_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int
tls_check_pair(const char *cert, const char *key, time_t *not_after,
	       char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	X509 *x;
	struct tm tm;
	char why[256], when[64];
	time_t end;
	int rc = -1;

	if (readable(cert, "--tls-cert", err, errlen) ||
	    readable(key, "--tls-key", err, errlen))
		return -1;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "--tls-cert: %s",
			 ssl_reason(why, sizeof(why), "out of memory"));
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "--tls-cert: '%s' is not a PEM "
			 "certificate: %s", cert,
			 ssl_reason(why, sizeof(why), "unreadable"));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL already compares the key with the certificate. */
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			goto mismatch;
		}
		snprintf(err, errlen, "--tls-key: '%s' is not a PEM private "
			 "key: %s", key,
			 ssl_reason(why, sizeof(why), "unreadable"));
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
mismatch:
		snprintf(err, errlen, "--tls-key: '%s' does not match the "
			 "certificate in --tls-cert", key);
		ERR_clear_error();
		goto out;
	}
	x = SSL_CTX_get0_certificate(ctx);
	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
		snprintf(err, errlen, "--tls-cert: '%s' has no expiry date",
			 cert);
		goto out;
	}
	end = timegm(&tm);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		tls_format_time(end, when, sizeof(when));
		snprintf(err, errlen, "--tls-cert: '%s' expired on %s", cert,
			 when);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		snprintf(err, errlen, "--tls-cert: '%s' is not valid yet",
			 cert);
		goto out;
	}
	if (not_after)
		*not_after = end;
	rc = 0;
out:
	SSL_CTX_free(ctx);
	return rc;
}
