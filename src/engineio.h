/*
 * engineio: Engine.IO protocol 4 (what socket.io 4.x clients speak under
 * Socket.IO) over its WebSocket transport, where every packet is one text
 * message, "<type digit>[data]": parsing the client's packets, building the
 * server's open packet, and the handshake's query checks with their error
 * bodies. Pure: no I/O, no lws. The spec: github.com/socketio/
 * engine.io-protocol (README, v4).
 */
#ifndef CHAT_ENGINEIO_H
#define CHAT_ENGINEIO_H

#include <stddef.h>

#include "json.h"

enum engineio_type {
	ENGINEIO_OPEN = 0,
	ENGINEIO_CLOSE = 1,
	ENGINEIO_PING = 2,
	ENGINEIO_PONG = 3,
	ENGINEIO_MESSAGE = 4,
	ENGINEIO_UPGRADE = 5,
	ENGINEIO_NOOP = 6,
};

/*
 * Splits one packet (a whole WebSocket text message of len bytes) into
 * its type, returned, and its data (*data, *data_len: the bytes after the
 * type digit, maybe none). Returns -1 for anything that is no Engine.IO
 * packet: empty, or a first byte other than '0' to '6'.
 */
int engineio_parse(const char *buf, size_t len, const char **data,
		   size_t *data_len);

/* Session ids (the open packet's sid; Socket.IO's too): 20 characters of
 * base64url, 120 random bits. */
#define ENGINEIO_SID_LEN 20

/* A fresh random id and its NUL into out (ENGINEIO_SID_LEN + 1 bytes). */
void engineio_sid(char *out);

/*
 * The open packet into b (reset first): 0{"sid":...,"upgrades":[],
 * "pingInterval":...,"pingTimeout":...,"maxPayload":...}. No upgrades:
 * the only transport served is the WebSocket one, used directly.
 */
void engineio_open(struct jbuf *b, const char *sid, unsigned ping_interval_ms,
		   unsigned ping_timeout_ms, size_t max_payload);

/* The handshake errors of the reference server, with their codes. */
enum engineio_error {
	ENGINEIO_OK = -1,
	ENGINEIO_UNKNOWN_TRANSPORT = 0,
	ENGINEIO_UNKNOWN_SID = 1,
	ENGINEIO_BAD_HANDSHAKE_METHOD = 2,
	ENGINEIO_BAD_REQUEST = 3,
	ENGINEIO_FORBIDDEN = 4,
	ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

/*
 * Checks a handshake's query parameters (each NULL when absent), in the
 * reference server's order: the transport (only "websocket" is served, so
 * "polling" is unknown too), then sid (there are no polling sessions to
 * upgrade, so any sid is unknown), then EIO, which must be "4". upgrade:
 * whether the request asks for a WebSocket upgrade; a websocket transport
 * without one is a bad request. Returns ENGINEIO_OK or the error.
 */
enum engineio_error engineio_check_query(const char *eio,
					 const char *transport,
					 const char *sid, int upgrade);

/* The body the reference server answers an error with, a static string:
 * {"code":5,"message":"Unsupported protocol version"}. */
const char *engineio_error_json(enum engineio_error e);

#endif
