/*
 * engineio: packet types and data split off, the open packet (valid JSON,
 * every field), sids (form and freshness), the handshake's query checks in
 * the reference server's order, and their error bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "engineio.h"

static void
test_engineio_parse_splits_type_and_data(void **state)
{
	const char *data = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(engineio_parse("3", 1, &data, &n), ENGINEIO_PONG);
	assert_int_equal(n, 0);
	assert_int_equal(engineio_parse("42[\"a\"]", 7, &data, &n),
			 ENGINEIO_MESSAGE);
	assert_int_equal(n, 6);
	assert_memory_equal(data, "2[\"a\"]", 6);
	for (char t = '0'; t <= '6'; t++)
		assert_int_equal(engineio_parse(&t, 1, &data, &n), t - '0');
}

static void
test_engineio_parse_refuses_what_is_no_packet(void **state)
{
	static const char *const bad[] = { "7", "9", "x", " 4", "/", "b4" };
	const char *data;
	size_t n;

	(void)state;
	assert_int_equal(engineio_parse("", 0, &data, &n), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(engineio_parse(bad[i], strlen(bad[i]), &data,
						&n),
				 -1);
}

static bool
is_sid(const char *s)
{
	return strlen(s) == ENGINEIO_SID_LEN &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-_") == ENGINEIO_SID_LEN;
}

/* 20 base64url characters, different each time, every character used. */
static void
test_engineio_sids_are_fresh_base64url(void **state)
{
	char a[ENGINEIO_SID_LEN + 1], b[ENGINEIO_SID_LEN + 1];
	bool seen[256] = { false };
	unsigned distinct = 0;

	(void)state;
	engineio_sid(a);
	assert_true(is_sid(a));
	for (int i = 0; i < 200; i++) {
		engineio_sid(b);
		assert_true(is_sid(b));
		assert_string_not_equal(a, b);
		for (size_t k = 0; k < ENGINEIO_SID_LEN; k++)
			seen[(unsigned char)b[k]] = true;
	}
	for (int c = 0; c < 256; c++)
		distinct += seen[c];
	assert_int_equal(distinct, 64);
}

static void
test_engineio_open_packet_is_0_and_the_handshake_json(void **state)
{
	struct jbuf b;
	json_t *j;

	(void)state;
	jbuf_init(&b);
	jbuf_raw(&b, "left over", 9);
	engineio_open(&b, "AbC-_0123456789xyzAB", false, 25000, 20000, 1000000);
	assert_false(b.oom);
	assert_int_equal(b.data[0], '0');
	j = json_loadb(b.data + 1, b.len - 1, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 5);
	assert_string_equal(json_string_value(json_object_get(j, "sid")),
			    "AbC-_0123456789xyzAB");
	assert_true(json_is_array(json_object_get(j, "upgrades")));
	assert_int_equal(json_array_size(json_object_get(j, "upgrades")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "pingInterval")),
			 25000);
	assert_int_equal(json_integer_value(json_object_get(j, "pingTimeout")),
			 20000);
	assert_int_equal(json_integer_value(json_object_get(j, "maxPayload")),
			 1000000);
	json_decref(j);
	jbuf_fini(&b);
}

/* The check of a request: EIO, transport, what its sid names, GET or
 * not, an upgrade or not. */
static enum engineio_error
check(const char *eio, const char *transport, enum engineio_sid sid,
      bool get, bool upgrade)
{
	struct engineio_request r = { .eio = eio, .transport = transport,
				      .sid = sid, .get = get,
				      .upgrade = upgrade };

	return engineio_check(&r);
}

static void
test_engineio_check_in_the_reference_order(void **state)
{
	const enum engineio_sid none = ENGINEIO_SID_NONE;

	(void)state;
	/* Handshakes: a WebSocket one, a polling one. */
	assert_int_equal(check("4", "websocket", none, true, true),
			 ENGINEIO_OK);
	assert_int_equal(check("4", "polling", none, true, false),
			 ENGINEIO_OK);
	/* Transport first: wrong on every count, it is what is reported. */
	assert_int_equal(check("3", "flash", ENGINEIO_SID_UNKNOWN, false,
			       true),
			 ENGINEIO_UNKNOWN_TRANSPORT);
	assert_int_equal(check("4", NULL, none, true, true),
			 ENGINEIO_UNKNOWN_TRANSPORT);
	assert_int_equal(check("4", "WebSocket", none, true, true),
			 ENGINEIO_UNKNOWN_TRANSPORT);
	/* Then the sid, whatever the version. */
	assert_int_equal(check("3", "websocket", ENGINEIO_SID_UNKNOWN, true,
			       true),
			 ENGINEIO_UNKNOWN_SID);
	assert_int_equal(check("4", "polling", ENGINEIO_SID_UNKNOWN, false,
			       false),
			 ENGINEIO_UNKNOWN_SID);
	/* A polling session is polled, posted to, or upgraded... */
	assert_int_equal(check(NULL, "polling", ENGINEIO_SID_POLLING, true,
			       false),
			 ENGINEIO_OK);
	assert_int_equal(check("4", "polling", ENGINEIO_SID_POLLING, false,
			       false),
			 ENGINEIO_OK);
	assert_int_equal(check("4", "websocket", ENGINEIO_SID_POLLING, true,
			       true),
			 ENGINEIO_OK);
	/* ...but not through another transport without the upgrade, nor
	 * polled with one; an upgraded session has only its WebSocket. */
	assert_int_equal(check("4", "websocket", ENGINEIO_SID_POLLING, true,
			       false),
			 ENGINEIO_BAD_REQUEST);
	assert_int_equal(check("4", "polling", ENGINEIO_SID_POLLING, true,
			       true),
			 ENGINEIO_BAD_REQUEST);
	assert_int_equal(check("4", "polling", ENGINEIO_SID_UPGRADED, true,
			       false),
			 ENGINEIO_BAD_REQUEST);
	/* A handshake is a GET... */
	assert_int_equal(check("4", "polling", none, false, false),
			 ENGINEIO_BAD_HANDSHAKE_METHOD);
	/* ...the websocket transport's an upgrade, polling's not... */
	assert_int_equal(check("4", "websocket", none, true, false),
			 ENGINEIO_BAD_REQUEST);
	assert_int_equal(check("4", "polling", none, true, true),
			 ENGINEIO_BAD_REQUEST);
	/* ...of version 4. */
	assert_int_equal(check("3", "websocket", none, true, true),
			 ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(check(NULL, "polling", none, true, false),
			 ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(check("44", "websocket", none, true, true),
			 ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION);
}

/* Payloads split at each 0x1e; empty packets are kept, for the parser to
 * refuse. */
static void
test_engineio_payload_splits_at_the_separator(void **state)
{
	static const struct {
		const char *in;
		const char *want[4];
	} cases[] = {
		{ "4hello", { "4hello" } },
		{ "2\x1e" "42[\"a\"]\x1e" "3", { "2", "42[\"a\"]", "3" } },
		{ "4a\x1e", { "4a", "" } },
		{ "\x1e" "4a", { "", "4a" } },
		{ "", { NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in, *pkt;
		size_t at = 0, n, k = 0;

		while (engineio_next_packet(in, strlen(in), &at, &pkt, &n)) {
			assert_non_null(cases[i].want[k]);
			assert_int_equal(n, strlen(cases[i].want[k]));
			assert_memory_equal(pkt, cases[i].want[k], n);
			k++;
		}
		assert_null(cases[i].want[k]);
	}
}

/* A polled session's open packet offers the WebSocket. */
static void
test_engineio_open_packet_offers_the_upgrade_when_polled(void **state)
{
	struct jbuf b;
	json_t *j, *up;

	(void)state;
	jbuf_init(&b);
	engineio_open(&b, "AbC-_0123456789xyzAB", true, 25000, 25000, 1000);
	j = json_loadb(b.data + 1, b.len - 1, 0, NULL);
	assert_non_null(j);
	up = json_object_get(j, "upgrades");
	assert_int_equal(json_array_size(up), 1);
	assert_string_equal(json_string_value(json_array_get(up, 0)),
			    "websocket");
	json_decref(j);
	jbuf_fini(&b);
}

static void
test_engineio_error_bodies_are_the_reference_ones(void **state)
{
	static const struct {
		enum engineio_error e;
		int code;
		const char *message;
	} want[] = {
		{ ENGINEIO_UNKNOWN_TRANSPORT, 0, "Transport unknown" },
		{ ENGINEIO_UNKNOWN_SID, 1, "Session ID unknown" },
		{ ENGINEIO_BAD_HANDSHAKE_METHOD, 2, "Bad handshake method" },
		{ ENGINEIO_BAD_REQUEST, 3, "Bad request" },
		{ ENGINEIO_FORBIDDEN, 4, "Forbidden" },
		{ ENGINEIO_UNSUPPORTED_PROTOCOL_VERSION, 5,
		  "Unsupported protocol version" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *j = json_loads(engineio_error_json(want[i].e), 0, NULL);

		assert_non_null(j);
		assert_int_equal(json_object_size(j), 2);
		assert_int_equal(json_integer_value(json_object_get(j, "code")),
				 want[i].code);
		assert_string_equal(
			json_string_value(json_object_get(j, "message")),
			want[i].message);
		json_decref(j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engineio_parse_splits_type_and_data),
		cmocka_unit_test(test_engineio_parse_refuses_what_is_no_packet),
		cmocka_unit_test(test_engineio_sids_are_fresh_base64url),
		cmocka_unit_test(
			test_engineio_open_packet_is_0_and_the_handshake_json),
		cmocka_unit_test(test_engineio_check_in_the_reference_order),
		cmocka_unit_test(test_engineio_payload_splits_at_the_separator),
		cmocka_unit_test(
			test_engineio_open_packet_offers_the_upgrade_when_polled),
		cmocka_unit_test(test_engineio_error_bodies_are_the_reference_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
