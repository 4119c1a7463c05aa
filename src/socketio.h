/*
 * socketio: the socket.io dialect. Socket.IO protocol 5 packets inside
 * Engine.IO 4 message packets (engineio.h), one per WebSocket text message,
 * and their meaning here: a socket.io client is a session in the lobby
 * under a guest nick, its "chat message" events are messages to it, and
 * every message of the lobby comes to it as a "chat message" event. The
 * spec: github.com/socketio/socket.io-protocol (v5). Service thread only.
 */
#ifndef CHAT_SOCKETIO_H
#define CHAT_SOCKETIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chat_dialect;
struct session;

enum socketio_type {
	SOCKETIO_CONNECT = 0,
	SOCKETIO_DISCONNECT = 1,
	SOCKETIO_EVENT = 2,
	SOCKETIO_ACK = 3,
	SOCKETIO_CONNECT_ERROR = 4,
	SOCKETIO_BINARY_EVENT = 5,
	SOCKETIO_BINARY_ACK = 6,
};

/* One packet as the reference parser (socket.io-parser) splits it:
 * <type>[<attachments>-][<namespace>,][<ack id>][JSON payload]. */
struct socketio_packet {
	enum socketio_type type;
	const char *nsp; /* "/" when the packet names none */
	size_t nsp_len;
	bool has_id;
	uint64_t id;
	const char *data; /* the JSON payload, unparsed; data_len 0: none */
	size_t data_len;
};

/* Ack ids up to this (15 digits) stay exact in JavaScript's numbers. */
#define SOCKETIO_MAX_ACK_ID 999999999999999ull

/*
 * Splits a Socket.IO packet (an Engine.IO message's data, len bytes) into
 * *p, pointing into buf. Binary packets (5, 6) are split as far as their
 * type only. Returns 0, or -1 when it is no packet: empty, an unknown type
 * digit, or an ack id over SOCKETIO_MAX_ACK_ID. The payload (whatever
 * follows the digits) is not looked at.
 */
int socketio_parse(struct socketio_packet *p, const char *buf, size_t len);

/* The hooks chat.c calls for socket.io sessions (chat->dialects). */
extern const struct chat_dialect socketio_dialect;

/*
 * Sends s, a socket.io session that chat_connect() just registered, the
 * Engine.IO open packet: sid (engineio_sid), the upgrade to a WebSocket
 * when it is polled (upgrades), pingInterval and pingTimeout (both the
 * keepalive interval), maxPayload (--max-message-bytes).
 */
void socketio_open(struct session *s, const char *sid, bool upgrades);

/*
 * One message from s (a complete WebSocket text message): an Engine.IO
 * packet. What the protocols do not allow stages a close: 1002 with a
 * reason naming the protocol, 1007 for invalid UTF-8, 1003 after a
 * disconnect packet for binary attachments. A close from the client
 * (Engine.IO close, Socket.IO disconnect) is answered with 1000.
 */
void socketio_receive(struct session *s, const char *buf, size_t len);

#endif
