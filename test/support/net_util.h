/*
 * Small helpers shared by the test client and fixtures: TCP connect (to
 * loopback or to any address literal), the monotonic clock, UTF-8
 * validation, SHA-1 and base64.
 */
#ifndef CHAT_TEST_NET_UTIL_H
#define CHAT_TEST_NET_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Connects to 127.0.0.1:port within timeout_ms (non-blocking connect, so a
 * full backlog cannot stall a test). rcvbuf > 0 sets SO_RCVBUF first. The
 * socket is blocking, close-on-exec, TCP_NODELAY, with a 10 s send timeout.
 * Returns the fd, or -1 with errno set. */
int tcp_connect_loopback(int port, int rcvbuf, int timeout_ms);

/* Connects to ip:port, ip an IPv4 or IPv6 literal ("127.0.0.2", "::1"),
 * within timeout_ms; the socket is set up as by tcp_connect_loopback.
 * Returns the fd, or -1 with errno set: ECONNREFUSED when nothing listens
 * there, ETIMEDOUT at the deadline, EINVAL for an ip that is no literal. */
int tcp_connect_addr(const char *ip, int port, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds. */
long long monotonic_ms(void);

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or > U+10FFFF. The
 * client's own check, kept apart from the server's src/utf8.c on purpose. */
bool net_utf8_is_valid(const unsigned char *s, size_t n);

/* Value of header `name` (case-insensitive) in an HTTP head, trimmed, into
 * out (truncated to outlen - 1). False when absent. */
bool net_header_value(const char *head, const char *name, char *out,
		      size_t outlen);

/* out must hold 4 * ((n + 2) / 3) + 1 bytes. */
void base64_encode(const unsigned char *in, size_t n, char *out);
void sha1_digest(const void *data, size_t n, unsigned char out[20]);

#endif
