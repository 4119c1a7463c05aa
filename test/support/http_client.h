/*
 * Tiny blocking HTTP/1.1 GET for the static-file tests: the request path is
 * sent byte for byte (no normalisation), so traversal attempts reach the
 * server as written. Handles Content-Length, chunked and read-to-EOF bodies.
 */
#ifndef CHAT_TEST_HTTP_CLIENT_H
#define CHAT_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct http_response {
	int status;
	char *head; /* status line and headers, NUL-terminated */
	char *body; /* NUL-terminated (body_len excludes the NUL) */
	size_t body_len;
};

/*
 * GET raw_path from 127.0.0.1:port. Returns 0 and fills r, or -1 (connect,
 * timeout or malformed response; the reason is printed). On -1 r holds
 * nothing to free.
 */
int http_get(int port, const char *raw_path, int timeout_ms,
	     struct http_response *r);
void http_response_fini(struct http_response *r);

/* Value of a response header (case-insensitive name), trimmed, into out;
 * false when absent. */
bool http_header(const struct http_response *r, const char *name, char *out,
		 size_t outlen);

/* Reads a whole file; NULL on error. */
char *read_file_all(const char *path, size_t *len);

#endif
