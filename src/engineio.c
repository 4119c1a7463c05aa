/*
 * Engine.IO 4 packets: a type digit and its data, one per WebSocket text
 * message or separated by 0x1e in a polling body. Parsing, the open packet
 * and the requests' checks and errors.
 */
#include "engineio.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int
engineio_parse(const char *buf, size_t len, const char **data,
	       size_t *data_len)
{
	if (!len || buf[0] < '0' || buf[0] > '6')
		return -1;
	*data = buf + 1;
	*data_len = len - 1;
	return buf[0] - '0';
}

void
engineio_sid(char *out)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[ENGINEIO_SID_LEN * 6 / 8];
	size_t got = 0;

	/* getrandom on a booted system does not fail for 15 bytes; a clock
	 * mix keeps ids distinct if it ever does (they are not secrets: the
	 * connection is the session, a sid grants nothing). */
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got,
				      GRND_NONBLOCK);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(raw)) {
		struct timespec ts;
		static unsigned counter;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (size_t i = got; i < sizeof(raw); i++)
			raw[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^
						 (counter + i) * 151u);
		counter++;
	}
	for (size_t i = 0; i < ENGINEIO_SID_LEN; i++) {
		size_t bit = i * 6;
		unsigned v = (unsigned)raw[bit / 8] << 8 |
			     (bit / 8 + 1 < sizeof(raw) ? raw[bit / 8 + 1] : 0);

		out[i] = b64url[(v >> (10 - bit % 8)) & 63];
	}
	out[ENGINEIO_SID_LEN] = '\0';
}

bool
engineio_next_packet(const char *buf, size_t len, size_t *at,
		     const char **pkt, size_t *pkt_len)
{
	const char *sep;
	/* At the end there is one more packet, an empty one, only when the
	 * payload ends with a separator. */
	bool empty_last = len && buf[len - 1] == ENGINEIO_SEPARATOR;

	if (*at > len || (*at == len && !empty_last))
		return false;
	*pkt = buf + *at;
	sep = memchr(*pkt, ENGINEIO_SEPARATOR, len - *at);
	*pkt_len = sep ? (size_t)(sep - *pkt) : len - *at;
	*at += *pkt_len + 1;
	return true;
}

void
engineio_open(struct jbuf *b, const char *sid, bool upgrades,
	      unsigned ping_interval_ms, unsigned ping_timeout_ms,
	      size_t max_payload)
{
	char tail[160];
	int n = snprintf(tail, sizeof(tail),
			 ",\"upgrades\":[%s],\"pingInterval\":%u,"
			 "\"pingTimeout\":%u,\"maxPayload\":%zu}",
			 upgrades ? "\"websocket\"" : "", ping_interval_ms,
			 ping_timeout_ms, max_payload);

	jbuf_reset(b);
	jbuf_raw(b, "0{\"sid\":", 8);
	jbuf_str(b, sid, strlen(sid));
	jbuf_raw(b, tail, (size_t)n);
}

enum engineio_error
engineio_check(const struct engineio_request *r)
{
	bool websocket = r->transport && !strcmp(r->transport, "websocket");

	if (!websocket && (!r->transport || strcmp(r->transport, "polling")))
		return ENGINEIO_UNKNOWN_TRANSPORT;
	switch (r->sid) {
	case ENGINEIO_SID_UNKNOWN:
		return ENGINEIO_UNKNOWN_SID;
	case ENGINEIO_SID_POLLING:
		/* Polling goes on, or moves to a WebSocket. */
		return websocket == r->upgrade ? ENGINEIO_OK
					       : ENGINEIO_BAD_REQUEST;
	case ENGINEIO_SID_UPGRADED:
		/* Its WebSocket is all it has now. */
		return ENGINEIO_BAD_REQUEST;
	case ENGINEIO_SID_NONE:
		break;
	}
	if (!r->get)
		return ENGINEIO_BAD_HANDSHAKE_METHOD;
	if (websocket != r->upgrade)
		return ENGINEIO_BAD_REQUEST;
	/* The reference server takes anything but "4" for version 3, which
	 * it serves only when told to. */
	if (!r->eio || strcmp(r->eio, "4"))
		return ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION;
	return ENGINEIO_OK;
}

const char *
engineio_error_json(enum engineio_error e)
{
	switch (e) {
	case ENGINEIO_UNKNOWN_TRANSPORT:
		return "{\"code\":0,\"message\":\"Transport unknown\"}";
	case ENGINEIO_UNKNOWN_SID:
		return "{\"code\":1,\"message\":\"Session ID unknown\"}";
	case ENGINEIO_BAD_HANDSHAKE_METHOD:
		return "{\"code\":2,\"message\":\"Bad handshake method\"}";
	case ENGINEIO_FORBIDDEN:
		return "{\"code\":4,\"message\":\"Forbidden\"}";
	case ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION:
		return "{\"code\":5,\"message\":\"Unsupported protocol "
		       "version\"}";
	case ENGINEIO_BAD_REQUEST:
	case ENGINEIO_OK:
		break;
	}
	return "{\"code\":3,\"message\":\"Bad request\"}";
}
