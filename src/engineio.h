/*
 * engineio: Engine.IO protocol 4 (what socket.io 4.x clients speak under
 * Socket.IO). Its packets are "<type digit>[data]", one per WebSocket text
 * message, or several to an HTTP body on the polling transport, separated
 * by a record separator: parsing the client's packets and payloads,
 * building the server's open packet, and the requests' checks with their
 * error bodies. Pure: no I/O, no lws. The spec: github.com/socketio/
 * engine.io-protocol (README, v4).
 */
#ifndef CHAT_ENGINEIO_H
#define CHAT_ENGINEIO_H

#include <stdbool.h>
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
 * The open packet into b (reset first): 0{"sid":...,"upgrades":[...],
 * "pingInterval":...,"pingTimeout":...,"maxPayload":...}. upgrades: a
 * polling session may move to the WebSocket transport; one opened on a
 * WebSocket has nowhere to go.
 */
void engineio_open(struct jbuf *b, const char *sid, bool upgrades,
		   unsigned ping_interval_ms, unsigned ping_timeout_ms,
		   size_t max_payload);

/* The polling transport's payloads: packets separated by this byte. */
#define ENGINEIO_SEPARATOR '\x1e'

/*
 * The next packet of a polling payload: from *at up to the separator or
 * the end, into *pkt and *pkt_len; *at moves past it. Returns false when
 * *at is the end. Empty packets come out as such (engineio_parse refuses
 * them).
 */
bool engineio_next_packet(const char *buf, size_t len, size_t *at,
			  const char **pkt, size_t *pkt_len);

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

/* What a request's sid names, as the server's sessions know it. */
enum engineio_sid {
	ENGINEIO_SID_NONE,     /* no sid: a handshake */
	ENGINEIO_SID_UNKNOWN,  /* no such session (any more) */
	ENGINEIO_SID_POLLING,  /* a session on the polling transport */
	ENGINEIO_SID_UPGRADED, /* one that moved to its WebSocket */
};

/* One request to the Engine.IO endpoint, as far as its checks go. */
struct engineio_request {
	const char *eio;       /* the EIO query value, NULL when absent */
	const char *transport; /* the transport one, likewise */
	enum engineio_sid sid;
	bool get;     /* the method is GET */
	bool upgrade; /* a WebSocket upgrade */
};

/*
 * Checks a request in the reference server's order: the transport
 * ("polling" or "websocket"), then the sid (unknown; a transport other
 * than its session's, unless it upgrades a polling one), then for a
 * handshake the method (GET), the upgrade a websocket transport needs,
 * and EIO, which must be "4". Returns ENGINEIO_OK or the error.
 */
enum engineio_error engineio_check(const struct engineio_request *r);

/* The body the reference server answers an error with, a static string:
 * {"code":5,"message":"Unsupported protocol version"}. */
const char *engineio_error_json(enum engineio_error e);

#endif
