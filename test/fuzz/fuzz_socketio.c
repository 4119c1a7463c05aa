/*
 * The socket.io dialect's parsers on any message a client can send:
 * engineio_parse() and, inside a message packet, socketio_parse();
 * engineio_next_packet() on any polling POST body; and
 * json_message_text() on any frame (in cluster mode frames come through
 * Redis). Every span they return must lie in the input and rebuild it: a
 * packet is its type digit, its namespace and comma, its ack id's digits
 * and its payload, in that order and nothing else.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engineio.h"
#include "fuzz.h"
#include "json.h"
#include "socketio.h"

static bool
within(const char *buf, size_t len, const char *p, size_t n)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void
check_socketio(const char *buf, size_t len)
{
	struct socketio_packet p;
	size_t at = 1;

	if (socketio_parse(&p, buf, len)) {
		/* Refused: empty, a type that is no digit 0-6, or an ack id
		 * of 16 digits or more. */
		FUZZ_CHECK(!len || buf[0] < '0' || buf[0] > '6' ||
			   len > 16);
		return;
	}
	FUZZ_CHECK(len && p.type == (enum socketio_type)(buf[0] - '0'));
	if (p.type == SOCKETIO_BINARY_EVENT || p.type == SOCKETIO_BINARY_ACK)
		return;
	if (len > 1 && buf[1] == '/') {
		FUZZ_CHECK(p.nsp == buf + 1);
		FUZZ_CHECK(!memchr(p.nsp, ',', p.nsp_len));
		at += p.nsp_len;
		if (at < len) {
			FUZZ_CHECK(buf[at] == ',');
			at++;
		}
	} else {
		FUZZ_CHECK(p.nsp_len == 1 && p.nsp[0] == '/');
	}
	if (p.has_id) {
		size_t nd = (size_t)(p.data - (buf + at));
		uint64_t v = 0;

		FUZZ_CHECK(p.data > buf + at && nd <= 15);
		for (size_t i = 0; i < nd; i++) {
			FUZZ_CHECK(buf[at + i] >= '0' && buf[at + i] <= '9');
			v = v * 10 + (uint64_t)(buf[at + i] - '0');
		}
		FUZZ_CHECK(v == p.id && p.id <= SOCKETIO_MAX_ACK_ID);
		at += nd;
	}
	FUZZ_CHECK(p.data == buf + at && p.data_len == len - at);
	/* No digit is left at the payload's head: it would be the id's. */
	FUZZ_CHECK(p.has_id || !p.data_len || p.data[0] < '0' ||
		   p.data[0] > '9');
}

/* A polling body's packets: consecutive, separator-free spans that with
 * one separator between each rebuild the body. */
static void
check_payload(const char *buf, size_t len)
{
	size_t at = 0, next = 0, count = 0, seps = 0;
	const char *pkt;
	size_t n;

	for (size_t i = 0; i < len; i++)
		seps += buf[i] == ENGINEIO_SEPARATOR;
	while (engineio_next_packet(buf, len, &at, &pkt, &n)) {
		FUZZ_CHECK(pkt == buf + next && within(buf, len, pkt, n));
		FUZZ_CHECK(!memchr(pkt, ENGINEIO_SEPARATOR, n));
		FUZZ_CHECK(next + n == len || buf[next + n] == ENGINEIO_SEPARATOR);
		next += n + 1;
		FUZZ_CHECK(at == next);
		count++;
	}
	FUZZ_CHECK(count == (len ? seps + 1 : 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *d = NULL;
	size_t n = 0, at = 0, tlen = 0;
	int t = engineio_parse(buf, size, &d, &n);

	if (!size || buf[0] < '0' || buf[0] > '6') {
		FUZZ_CHECK(t == -1);
	} else {
		FUZZ_CHECK(t == buf[0] - '0');
		FUZZ_CHECK(d == buf + 1 && n == size - 1);
		if (t == ENGINEIO_MESSAGE)
			check_socketio(d, n);
	}
	check_socketio(buf, size);
	check_payload(buf, size);
	if (!json_message_text(buf, size, &at, &tlen)) {
		FUZZ_CHECK(tlen >= 2 && within(buf, size, buf + at, tlen));
		FUZZ_CHECK(buf[at] == '"' && buf[at + tlen - 1] == '"');
		FUZZ_CHECK(at >= 8 && !memcmp(buf + at - 8, ",\"text\":", 8));
	}
	return 0;
}
