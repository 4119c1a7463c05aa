/*
 * The socket.io test vocabulary (see sio_test.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "sio_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

char *
sio_recv_at(const char *file, int line, struct ws_client *c, int ms)
{
	struct ws_msg m;
	int r = ws_recv_msg(c, &m, ms);

	if (r != WS_OK)
		FAIL_AT(file, line, "no message: %s (close %d '%s')",
			r == WS_TIMEOUT ? "timeout" : "closed or error",
			ws_close_code(c), ws_close_reason(c));
	if (m.opcode != WS_OP_TEXT)
		FAIL_AT(file, line, "a binary message from the server");
	return m.data; /* NUL-terminated, the caller's now */
}

void
sio_expect_at(const char *file, int line, struct ws_client *c,
	      const char *want)
{
	char *got = sio_recv_at(file, line, c, CHAT_TIMEOUT_MS);

	if (strcmp(got, want))
		FAIL_AT(file, line, "expected '%s', got '%s'", want, got);
	free(got);
}

bool
sio_has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

void
sio_expect_prefix_at(const char *file, int line, struct ws_client *c,
		     const char *prefix)
{
	char *got = sio_recv_at(file, line, c, CHAT_TIMEOUT_MS);

	if (!sio_has_prefix(got, prefix))
		FAIL_AT(file, line, "expected '%s...', got '%s'", prefix, got);
	free(got);
}

void
sio_quiet_at(const char *file, int line, struct ws_client *c, int ms)
{
	struct ws_msg m;
	int r = ws_recv_msg(c, &m, ms);

	if (r == WS_OK)
		FAIL_AT(file, line, "expected nothing, got '%s'", m.data);
	if (r != WS_TIMEOUT)
		FAIL_AT(file, line, "closed (%d '%s') while it should stay open",
			ws_close_code(c), ws_close_reason(c));
}

void
sio_send(struct ws_client *c, const char *packet)
{
	assert_int_equal(ws_send_text(c, packet), 0);
}

bool
sio_sid_is_valid(const char *sid)
{
	return sid && strlen(sid) == 20 &&
	       strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789-_") == 20;
}

struct ws_client *
sio_open_at(const char *file, int line, int port, json_t **open_out)
{
	struct ws_connect_opts o = { .path = SIO_PATH, .subprotocol = "" };
	struct ws_client *c = ws_connect_opts(port, &o);
	json_t *open;
	char *p;

	if (!c)
		FAIL_AT(file, line, "socket.io handshake failed");
	p = sio_recv_at(file, line, c, CHAT_TIMEOUT_MS);
	if (p[0] != '0')
		FAIL_AT(file, line, "first packet is not open: '%s'", p);
	open = json_loads(p + 1, 0, NULL);
	if (!json_is_object(open))
		FAIL_AT(file, line, "open packet without an object: '%s'", p);
	free(p);
	if (open_out)
		*open_out = open;
	else
		json_decref(open);
	return c;
}

struct ws_client *
sio_connect_at(const char *file, int line, int port)
{
	struct ws_client *c = sio_open_at(file, line, port, NULL);
	char *p;
	json_t *j;

	sio_send(c, "40");
	while (!strcmp(p = sio_recv_at(file, line, c, CHAT_TIMEOUT_MS), "2")) {
		sio_send(c, "3");
		free(p);
	}
	if (strncmp(p, "40{", 3))
		FAIL_AT(file, line, "CONNECT answered '%s'", p);
	j = json_loads(p + 2, 0, NULL);
	if (!sio_sid_is_valid(jstr_opt(j, "sid")) || json_object_size(j) != 1)
		FAIL_AT(file, line, "CONNECT answered '%s'", p);
	json_decref(j);
	free(p);
	return c;
}

void
sio_expect_close_at(const char *file, int line, struct ws_client *c,
		    int code, const char *reason)
{
	size_t dropped = 0;
	int got = ws_recv_close_code(c, CHAT_TIMEOUT_MS, &dropped);

	if (got != code)
		FAIL_AT(file, line, "expected close %d, got %d '%s' (%zu "
			"messages before)",
			code, got, ws_close_reason(c), dropped);
	if (reason && !strstr(ws_close_reason(c), reason))
		FAIL_AT(file, line, "close %d reason '%s' does not say '%s'",
			code, ws_close_reason(c), reason);
	if (dropped)
		FAIL_AT(file, line, "%zu messages before the close", dropped);
	if (!ws_wait_eof(c, CHAT_TIMEOUT_MS))
		FAIL_AT(file, line, "connection still open after close");
}

bool
sio_is_chat(const char *packet, const char *text)
{
	json_t *a = strncmp(packet, "42[", 3) ? NULL
					      : json_loads(packet + 2, 0, NULL);
	bool ok = json_is_array(a) && json_array_size(a) == 2 &&
		  json_is_string(json_array_get(a, 0)) &&
		  !strcmp(json_string_value(json_array_get(a, 0)),
			  "chat message") &&
		  json_is_string(json_array_get(a, 1)) &&
		  !strcmp(json_string_value(json_array_get(a, 1)), text);

	json_decref(a);
	return ok;
}

void
sio_expect_chat_at(const char *file, int line, struct ws_client *c,
		   const char *text)
{
	char *p = sio_recv_at(file, line, c, CHAT_TIMEOUT_MS);

	if (!sio_is_chat(p, text))
		FAIL_AT(file, line, "expected the chat message '%s', got '%s'",
			text, p);
	free(p);
}

void
sio_presence_join_at(const char *file, int line, struct ws_client *n,
		     char *nick)
{
	json_t *p = ws_expect_type_at(file, line, n, "presence",
				      CHAT_TIMEOUT_MS, WS_STRICT);

	if (strcmp(jstr_at(file, line, p, "event"), "join") ||
	    strcmp(jstr_at(file, line, p, "room"), "lobby"))
		FAIL_AT(file, line, "expected a join to the lobby, got %s",
			json_brief(p));
	snprintf(nick, CHAT_NICK_MAX + 1, "%s", jstr_at(file, line, p, "nick"));
	json_decref(p);
}

int
sio_raw_upgrade(int port, const char *path, const char *extra,
		struct http_response *r)
{
	char req[4096];

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: " KEY "\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s\r\n",
		 path, port, extra ? extra : "");
	return http_pipeline(port, req, strlen(req), 1, NULL, CHAT_TIMEOUT_MS,
			     r);
}

void
sio_expect_engineio_error_at(const char *file, int line,
			     struct http_response *r, int code,
			     const char *message)
{
	char type[64], want[128];

	if (r->status != 400)
		FAIL_AT(file, line, "expected 400 (code %d), got %d '%s'", code,
			r->status, r->body ? r->body : "");
	if (!http_header(r, "Content-Type", type, sizeof(type)) ||
	    strcmp(type, "application/json"))
		FAIL_AT(file, line, "400 without Content-Type "
			"application/json");
	snprintf(want, sizeof(want), "{\"code\":%d,\"message\":\"%s\"}", code,
		 message);
	if (strcmp(r->body, want))
		FAIL_AT(file, line, "expected '%s', got '%s'", want, r->body);
	http_response_fini(r);
}

int
sio_setup(void **state)
{
	static const char *const args[] = { "--max-message-bytes", "1024",
					    "--max-text-bytes", "100", NULL };

	return chat_fixture_setup(state, args);
}

int
sio_setup_heartbeat(void **state)
{
	static const char *const args[] = { "--ping-interval", "1", NULL };

	return chat_fixture_setup(state, args);
}

int
sio_setup_off(void **state)
{
	static const char *const args[] = { "--socketio", "off", NULL };

	return chat_fixture_setup(state, args);
}
