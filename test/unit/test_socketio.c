/*
 * socketio_parse: type, namespace, ack id and payload split as the
 * reference parser (socket.io-parser) splits them, from the spec's own
 * examples; what is no packet. The session side is the integration test's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "socketio.h"

struct want {
	const char *in;
	enum socketio_type type;
	const char *nsp;
	bool has_id;
	uint64_t id;
	const char *data;
};

/* Parses a copy of exactly strlen(in) bytes, so ASan sees any overread. */
static void
check(const struct want *w)
{
	size_t len = strlen(w->in);
	char *copy = malloc(len ? len : 1);
	struct socketio_packet p;

	assert_non_null(copy);
	memcpy(copy, w->in, len);
	if (socketio_parse(&p, copy, len))
		fail_msg("'%s' was refused", w->in);
	assert_int_equal(p.type, w->type);
	assert_int_equal(p.nsp_len, strlen(w->nsp));
	assert_memory_equal(p.nsp, w->nsp, p.nsp_len);
	assert_int_equal(p.has_id, w->has_id);
	if (w->has_id)
		assert_int_equal(p.id, w->id);
	assert_int_equal(p.data_len, strlen(w->data));
	assert_memory_equal(p.data, w->data, p.data_len);
	free(copy);
}

static void
test_socketio_parse_the_spec_examples(void **state)
{
	static const struct want cases[] = {
		{ "0", SOCKETIO_CONNECT, "/", false, 0, "" },
		{ "0/admin,{\"sid\":\"oSO0\"}", SOCKETIO_CONNECT, "/admin",
		  false, 0, "{\"sid\":\"oSO0\"}" },
		{ "4{\"message\":\"Not authorized\"}", SOCKETIO_CONNECT_ERROR,
		  "/", false, 0, "{\"message\":\"Not authorized\"}" },
		{ "2[\"foo\"]", SOCKETIO_EVENT, "/", false, 0, "[\"foo\"]" },
		{ "2/admin,[\"bar\"]", SOCKETIO_EVENT, "/admin", false, 0,
		  "[\"bar\"]" },
		{ "212[\"foo\"]", SOCKETIO_EVENT, "/", true, 12, "[\"foo\"]" },
		{ "3/admin,13[\"bar\"]", SOCKETIO_ACK, "/admin", true, 13,
		  "[\"bar\"]" },
		{ "1", SOCKETIO_DISCONNECT, "/", false, 0, "" },
		{ "1/admin,", SOCKETIO_DISCONNECT, "/admin", false, 0, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void
test_socketio_parse_edges(void **state)
{
	static const struct want cases[] = {
		/* A namespace without its comma runs to the end. */
		{ "0/admin", SOCKETIO_CONNECT, "/admin", false, 0, "" },
		{ "2/,[\"x\"]", SOCKETIO_EVENT, "/", false, 0, "[\"x\"]" },
		{ "20[\"x\"]", SOCKETIO_EVENT, "/", true, 0, "[\"x\"]" },
		{ "2999999999999999[\"x\"]", SOCKETIO_EVENT, "/", true,
		  SOCKETIO_MAX_ACK_ID, "[\"x\"]" },
		/* Whatever follows the digits is the payload, valid or not. */
		{ "21abc", SOCKETIO_EVENT, "/", true, 1, "abc" },
		{ "2abc", SOCKETIO_EVENT, "/", false, 0, "abc" },
		/* Binary packets: the type alone. */
		{ "51-[\"x\",{\"_placeholder\":true,\"num\":0}]",
		  SOCKETIO_BINARY_EVENT, "/", false, 0, "" },
		{ "6", SOCKETIO_BINARY_ACK, "/", false, 0, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void
test_socketio_parse_refuses_what_is_no_packet(void **state)
{
	static const char *const bad[] = {
		"", "7", "9", "x", "/", " 2[\"x\"]",
		"21234567890123456[\"x\"]", /* 16 digits */
	};
	struct socketio_packet p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!socketio_parse(&p, bad[i], strlen(bad[i])))
			fail_msg("'%s' was taken for a packet", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socketio_parse_the_spec_examples),
		cmocka_unit_test(test_socketio_parse_edges),
		cmocka_unit_test(test_socketio_parse_refuses_what_is_no_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
