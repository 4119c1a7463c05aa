/*
 * The socket.io vocabulary of the integration tests (test_socketio.c,
 * test_eio_polling.c): a socket.io client by hand on the project's
 * WebSocket client (the open packet, CONNECT, expectations on packets),
 * what a chat message event looks like, and Engine.IO's HTTP error
 * answers. Every expectation fails at the caller's line with what it saw.
 */
#ifndef CHAT_TEST_SIO_TEST_H
#define CHAT_TEST_SIO_TEST_H

#include "chat_test.h"

#define SIO_PATH "/socket.io/?EIO=4&transport=websocket"

/* The next text message, as a malloc'd string (caller frees). */
#define sio_recv(c) sio_recv_at(__FILE__, __LINE__, (c), CHAT_TIMEOUT_MS)
char *sio_recv_at(const char *file, int line, struct ws_client *c, int ms);

/* The next message must be exactly want. */
#define sio_expect(c, want) sio_expect_at(__FILE__, __LINE__, (c), (want))
void sio_expect_at(const char *file, int line, struct ws_client *c,
		   const char *want);

/* The next message must start with prefix. */
#define sio_expect_prefix(c, prefix)                                          \
	sio_expect_prefix_at(__FILE__, __LINE__, (c), (prefix))
void sio_expect_prefix_at(const char *file, int line, struct ws_client *c,
			  const char *prefix);

/* Nothing arrives for ms, and the connection stays open. */
#define sio_quiet(c, ms) sio_quiet_at(__FILE__, __LINE__, (c), (ms))
void sio_quiet_at(const char *file, int line, struct ws_client *c, int ms);

/* One text message; fails the test when the write fails. */
void sio_send(struct ws_client *c, const char *packet);

bool sio_has_prefix(const char *s, const char *prefix);

/* The sid's form: 20 characters of base64url. */
bool sio_sid_is_valid(const char *sid);

/* The WebSocket handshake at SIO_PATH and the open packet, parsed (caller
 * decrefs; NULL: not wanted). */
#define sio_open(port, open_out)                                              \
	sio_open_at(__FILE__, __LINE__, (port), (open_out))
struct ws_client *sio_open_at(const char *file, int line, int port,
			      json_t **open_out);

/* Open, then CONNECT to "/": the answer is 40{"sid":...}. Pings before
 * it are answered. */
#define sio_connect(port) sio_connect_at(__FILE__, __LINE__, (port))
struct ws_client *sio_connect_at(const char *file, int line, int port);

/* The server's close frame must come with code (and reason, when given,
 * as a substring) and nothing before it, then the end of the connection. */
#define sio_expect_close(c, code, reason)                                     \
	sio_expect_close_at(__FILE__, __LINE__, (c), (code), (reason))
void sio_expect_close_at(const char *file, int line, struct ws_client *c,
			 int code, const char *reason);

/* Whether packet is exactly the chat message event for text (an array of
 * the event's name and the text, whatever the text holds). */
bool sio_is_chat(const char *packet, const char *text);

/* The next message must be the chat message event for text. */
#define sio_expect_chat(c, text)                                              \
	sio_expect_chat_at(__FILE__, __LINE__, (c), (text))
void sio_expect_chat_at(const char *file, int line, struct ws_client *c,
			const char *text);

/* A v1 client's next frame is a socket.io client entering the lobby: its
 * nick into nick (CHAT_NICK_MAX + 1 bytes). */
#define sio_presence_join(n, nick)                                            \
	sio_presence_join_at(__FILE__, __LINE__, (n), (nick))
void sio_presence_join_at(const char *file, int line, struct ws_client *n,
			  char *nick);

/* A WebSocket upgrade request by hand to path (extra header lines may be
 * NULL), for the refusals: the whole response, as http_pipeline's. */
int sio_raw_upgrade(int port, const char *path, const char *extra,
		    struct http_response *r);

/* r is 400, application/json, with Engine.IO's error body {"code":code,
 * "message":message}; r is freed. */
#define sio_expect_engineio_error(r, code, message)                           \
	sio_expect_engineio_error_at(__FILE__, __LINE__, (r), (code),         \
				     (message))
void sio_expect_engineio_error_at(const char *file, int line,
				  struct http_response *r, int code,
				  const char *message);

/* Fixtures of the socket.io tests: chatd with small limits
 * (--max-message-bytes 1024, --max-text-bytes 100), with --ping-interval 1,
 * with --socketio off. */
int sio_setup(void **state);
int sio_setup_heartbeat(void **state);
int sio_setup_off(void **state);

#endif
