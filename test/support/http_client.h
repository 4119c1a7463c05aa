/*
 * Tiny blocking HTTP/1.1 client for the static-file tests: the request path
 * is sent byte for byte (no normalisation), so traversal attempts reach the
 * server as written. Any method, extra headers and a body; raw pipelined
 * requests read back response by response. Handles Content-Length, chunked
 * and read-to-EOF bodies, and responses that have no body (HEAD, 304).
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

struct http_request {
	const char *method;  /* NULL: GET */
	const char *path;    /* sent as written */
	const char *headers; /* extra lines, each ending "\r\n"; may be NULL */
	const char *body;    /* with Content-Length; NULL: no body, no header */
	size_t body_len;
};

/*
 * Sends req to 127.0.0.1:port with "Connection: close" and reads the
 * response. A HEAD response is read without a body, and then nothing but
 * the close may follow (bytes after it fail the call). Returns 0 and fills
 * r, or -1 (connect, timeout or malformed response; the reason is printed).
 * On -1 r holds nothing to free.
 */
int http_request(int port, const struct http_request *req, int timeout_ms,
		 struct http_response *r);
/* http_request for GET raw_path. */
int http_get(int port, const char *raw_path, int timeout_ms,
	     struct http_response *r);

/*
 * Sends raw (raw_len bytes: one or more requests, the last of which should
 * ask for "Connection: close") in a single write, then reads n responses in
 * order into rs; no_body[i] says response i answers a HEAD (no_body may be
 * NULL). After the n-th response the server must close the connection with
 * nothing more sent. Returns 0, or -1 with the reason printed and nothing
 * in rs to free.
 */
int http_pipeline(int port, const char *raw, size_t raw_len, size_t n,
		  const bool *no_body, int timeout_ms,
		  struct http_response *rs);

void http_response_fini(struct http_response *r);

/* Value of a response header (case-insensitive name), trimmed, into out;
 * false when absent. */
bool http_header(const struct http_response *r, const char *name, char *out,
		 size_t outlen);

/* Reads a whole file; NULL on error. */
char *read_file_all(const char *path, size_t *len);

#endif
