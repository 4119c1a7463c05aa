/*
 * Minimal blocking RFC 6455 client for the integration tests, written without
 * libwebsockets so that tests can send what a real client never would
 * (binary frames, invalid UTF-8, oversized or oddly fragmented messages).
 * Owns one TCP socket to 127.0.0.1 and its receive buffer. Single-threaded.
 */
#ifndef CHAT_TEST_WS_CLIENT_H
#define CHAT_TEST_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "net_util.h"

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Results of the receive calls. */
#define WS_OK 1
#define WS_TIMEOUT 0
#define WS_CLOSED (-1) /* close frame received, or EOF / reset */
#define WS_ERROR (-2)  /* the server broke RFC 6455; see ws_error() */

/* Pseudo close code recorded when the TCP connection ended without a close
 * frame (RFC 6455 7.1.5: "abnormal closure"). */
#define WS_CLOSE_ABNORMAL 1006
/* Close frame without a status code. */
#define WS_CLOSE_NO_STATUS 1005

struct ws_client;

struct ws_connect_opts {
	const char *path;        /* default "/chat" */
	const char *subprotocol; /* default "chat"; "" sends no header */
	int rcvbuf;              /* SO_RCVBUF before connect; 0 leaves it */
	int timeout_ms;          /* handshake deadline; default 5000 */
	const char *headers;     /* extra lines, each ending "\r\n"; may be NULL */
};

struct ws_frame {
	unsigned opcode;
	bool fin;
	unsigned rsv;  /* RSV1..3 bits as received (should be 0) */
	bool masked;   /* server frames must not be masked */
	unsigned char *data; /* malloc'd, NUL-terminated; free with ws_frame_fini */
	size_t len;
};

struct ws_msg {
	unsigned opcode; /* WS_OP_TEXT or WS_OP_BINARY */
	char *data;      /* malloc'd, NUL-terminated; free with ws_msg_fini */
	size_t len;
};

/*
 * Connect to 127.0.0.1:port and complete the opening handshake (101,
 * Sec-WebSocket-Accept checked). On failure NULL is returned, the reason is
 * printed and nothing is left open.
 */
struct ws_client *ws_connect(int port);
struct ws_client *ws_connect_opts(int port, const struct ws_connect_opts *o);

/*
 * The two halves of ws_connect_opts, so that many handshakes can be in
 * flight at once: ws_start connects and writes the request, ws_finish reads
 * and checks the response. ws_finish returns 0, or -1 (reason in ws_error;
 * the client must still be freed).
 */
struct ws_client *ws_start(int port, const struct ws_connect_opts *o);
int ws_finish(struct ws_client *c);

/* Graceful: send close 1000, wait up to 1 s for the server's close and EOF,
 * then free. NULL is allowed. */
void ws_close(struct ws_client *c);
/* Abrupt: close the socket and free, no close frame. NULL is allowed. */
void ws_free(struct ws_client *c);

int ws_fd(const struct ws_client *c);
const char *ws_error(const struct ws_client *c);
/* Sec-WebSocket-Protocol of the 101 response, "" when absent. */
const char *ws_subprotocol(const struct ws_client *c);
/* Raw 101 response head (status line and headers). */
const char *ws_response_head(const struct ws_client *c);

/* Close state: ws_close_code is 0 while open, the server's code after its
 * close frame (WS_CLOSE_NO_STATUS when it had none), WS_CLOSE_ABNORMAL
 * after EOF or reset without a close frame. */
bool ws_is_closed(const struct ws_client *c);
int ws_close_code(const struct ws_client *c);
const char *ws_close_reason(const struct ws_client *c);
bool ws_got_close_frame(const struct ws_client *c);

/* Sending. Every frame is masked with a fresh key unless said otherwise.
 * Return 0, or -1 when the socket write failed (peer gone, 10 s stall). */
int ws_send_frame(struct ws_client *c, unsigned opcode, bool fin,
		  const void *data, size_t len);
/* Full control over the first byte (FIN, RSV, opcode) and masking. */
int ws_send_frame_raw(struct ws_client *c, unsigned char b0, bool mask,
		      const void *data, size_t len);
int ws_send_text(struct ws_client *c, const char *s);
int ws_send_textn(struct ws_client *c, const void *s, size_t n);
int ws_send_binary(struct ws_client *c, const void *data, size_t n);
int ws_send_ping(struct ws_client *c, const void *data, size_t n);
/* code 0 sends a close frame with no payload. */
int ws_send_close(struct ws_client *c, int code, const char *reason);
/* One message split into nfrags frames (first opcode, then continuations)
 * of nearly equal size; nfrags >= len sends one byte per frame. */
int ws_send_fragmented(struct ws_client *c, unsigned opcode, const void *data,
		       size_t len, size_t nfrags);
/* Bytes written to the socket as they are. */
int ws_send_raw(struct ws_client *c, const void *data, size_t len);
/* obj serialized compactly (UTF-8 left as is) as one text frame. */
int ws_send_json(struct ws_client *c, const json_t *obj);
/* json_pack format: ws_send_pack(c, "{s:s, s:s}", "type", "nick", ...). */
int ws_send_pack(struct ws_client *c, const char *fmt, ...);

/*
 * One frame as it came off the wire, control frames included, no automatic
 * replies. Returns WS_OK, WS_TIMEOUT, WS_CLOSED (EOF) or WS_ERROR.
 */
int ws_recv_frame(struct ws_client *c, struct ws_frame *f, int timeout_ms);
void ws_frame_fini(struct ws_frame *f);

/*
 * One complete data message: fragments are reassembled, pings answered,
 * pongs dropped, a close frame recorded and answered (WS_CLOSED returned).
 */
int ws_recv_msg(struct ws_client *c, struct ws_msg *m, int timeout_ms);
/* Like ws_recv_msg but never waits: reads what the socket holds now. */
int ws_try_msg(struct ws_client *c, struct ws_msg *m);
void ws_msg_fini(struct ws_msg *m);
/* True when unparsed bytes are buffered (poll() would not show them). */
bool ws_has_buffered(const struct ws_client *c);

/*
 * The next message as a JSON object. NULL on timeout or close. A frame that
 * is binary, not valid JSON, or not an object with a string "type" fails the
 * running test: the protocol allows nothing else.
 * raw, when given, receives a malloc'd copy of the frame's bytes.
 */
json_t *ws_recv_json(struct ws_client *c, int timeout_ms);
json_t *ws_recv_json_raw(struct ws_client *c, int timeout_ms, char **raw,
			 size_t *raw_len);
/* Non-blocking ws_recv_json (for poll loops). */
json_t *ws_try_json(struct ws_client *c);

#define WS_STRICT 0 /* the next frame must be of the type */
#define WS_SKIP 1   /* frames of other types are dropped */

/* The next frame of `type`, or fail the test (timeout, close, or with
 * WS_STRICT another type first). Caller json_decref()s the result. */
#define ws_expect_type(c, type, timeout_ms, flags)                            \
	ws_expect_type_at(__FILE__, __LINE__, (c), (type), (timeout_ms), (flags))
json_t *ws_expect_type_at(const char *file, int line, struct ws_client *c,
			  const char *type, int timeout_ms, int flags);

/*
 * Reads and drops data frames until the server's close frame or EOF, for up
 * to timeout_ms. Returns the close code (WS_CLOSE_ABNORMAL after EOF without
 * a close frame), 0 on timeout, -1 on a protocol error. `dropped`, when
 * given, counts the data messages read before the close.
 */
int ws_recv_close_code(struct ws_client *c, int timeout_ms, size_t *dropped);

/* Waits for the server to close the TCP connection (EOF or reset), dropping
 * anything before it. Returns true when it did within timeout_ms. */
bool ws_wait_eof(struct ws_client *c, int timeout_ms);

#endif
