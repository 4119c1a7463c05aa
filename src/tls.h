/*
 * tls: checks a certificate and key pair before lws is given it (at start
 * and on SIGHUP), so a bad pair is one clear line instead of a server that
 * starts and fails every handshake. OpenSSL only; no lws.
 */
#ifndef CHAT_TLS_H
#define CHAT_TLS_H

#include <stddef.h>
#include <time.h>

/*
 * Loads cert (a PEM chain) and key and checks that both are readable, that
 * the key matches the certificate and that the certificate is valid now.
 * Returns 0 and sets *not_after (when given), or -1 with one line in err
 * naming the flag at fault (--tls-cert or --tls-key).
 */
int tls_check_pair(const char *cert, const char *key, time_t *not_after,
		   char *err, size_t errlen);

/* "2026-12-01 15:11:09 UTC" */
void tls_format_time(time_t t, char *out, size_t outlen);

#endif
