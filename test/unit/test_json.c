/*
 * json: every frame encoder yields one valid JSON object (parsed back with
 * jansson and compared field by field) whatever the strings hold, with "<>&",
 * U+2028 and U+2029 escaped in the raw bytes; lists with 0, 1 and many
 * items; request_parse for plain-text frames, each request type and each
 * error code, with the cid kept for error replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct fx {
	struct jbuf b;
	json_t *doc;    /* the last encoder output, parsed */
	struct request req;
	char *frame;    /* exact-size copy (no NUL) handed to request_parse */
	const char *why;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	jbuf_init(&fx->b);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	request_fini(&fx->req);
	free(fx->frame);
	json_decref(fx->doc);
	jbuf_fini(&fx->b);
	free(fx);
	*state = NULL;
	return 0;
}

/* ---- helpers: encoder output ---------------------------------------- */

static const char *const hostile[] = {
	"plain",
	"",
	"\"quoted\" 'single' \\back\\slash\\",
	"\\\"\\\\\"\\u0041\\n",
	"trailing backslash \\",
	"</script><script>alert(\"x\")</script>",
	"<>&<>&&amp;&lt;",
	"a\xe2\x80\xa8"
	"b\xe2\x80\xa9"
	"c",
	"\xe2\x80\xa8\xe2\x80\xa9",
	/* Other E2 xx xx characters must pass through untouched: euro,
	 * ellipsis, U+2027, U+202A, U+2000. */
	"\xe2\x82\xac \xe2\x80\xa6 \xe2\x80\xa7 \xe2\x80\xaa \xe2\x80\x80",
	"\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd emoji",
	"\x01\x02\x1f tab\there nl\ncr\r ff\f bs\b",
	"\x7f del / slash",
	"unicode \xc3\xa9\xe4\xb8\xad\xf4\x8f\xbf\xbf",
	"{\"type\":\"message\"}",
};
#define N_HOSTILE (sizeof(hostile) / sizeof(hostile[0]))

static void
check_html_safe(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == '<' || c == '>' || c == '&')
			fail_msg("raw byte 0x%02x at %zu of %.*s", c, i, (int)len,
				 p);
		if (c == 0xe2 && i + 2 < len && (unsigned char)p[i + 1] == 0x80 &&
		    ((unsigned char)p[i + 2] == 0xa8 ||
		     (unsigned char)p[i + 2] == 0xa9))
			fail_msg("raw U+2028/9 at %zu of %.*s", i, (int)len, p);
	}
}

/* Parses the encoder's output (NUL may appear as \u0000), checks it is one
 * HTML-safe object, and keeps it in fx->doc. */
static json_t *
load_out(struct fx *fx)
{
	json_error_t err;

	json_decref(fx->doc);
	fx->doc = NULL;
	assert_false(fx->b.oom);
	assert_non_null(fx->b.data);
	fx->doc = json_loadb(fx->b.data, fx->b.len, JSON_ALLOW_NUL, &err);
	if (!fx->doc)
		fail_msg("not JSON (%s at %d): %.*s", err.text, err.position,
			 (int)fx->b.len, fx->b.data);
	assert_true(json_is_object(fx->doc));
	check_html_safe(fx->b.data, fx->b.len);
	return fx->doc;
}

/* Fails unless got equals want (which it consumes). */
static void
assert_json_is(const json_t *got, json_t *want)
{
	assert_non_null(want);
	if (!json_equal((json_t *)got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_ENSURE_ASCII);

		print_error("got  %s\nwant %s\n", g ? g : "?", w ? w : "?");
		free(g);
		free(w);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

static json_t *
jstrn(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	assert_non_null(v); /* s must be valid UTF-8 */
	return v;
}

static json_t *
jstr(const char *s)
{
	return jstrn(s, strlen(s));
}

/* The message object json_message() must produce for r. */
static json_t *
want_message(const struct chat_record *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", jstr("message"));
	json_object_set_new(o, "room", jstr(r->room));
	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(o, "nick", jstr(r->nick));
	json_object_set_new(o, "text", jstrn(r->text, r->text_len));
	json_object_set_new(o, "ts", json_integer(r->ts));
	if (r->cid)
		json_object_set_new(o, "cid", jstr(r->cid));
	return o;
}

static bool
raw_has(const struct fx *fx, const char *needle)
{
	return memmem(fx->b.data, fx->b.len, needle, strlen(needle)) != NULL;
}

/* ---- jbuf_str -------------------------------------------------------- */

static void
test_json_str_escapes_html_specials_as_unicode(void **state)
{
	struct fx *fx = *state;

	jbuf_str(&fx->b, "<>&", 3);
	assert_int_equal(fx->b.len, strlen("\"\\u003c\\u003e\\u0026\""));
	assert_memory_equal(fx->b.data, "\"\\u003c\\u003e\\u0026\"", fx->b.len);
}

static void
test_json_str_escapes_line_and_paragraph_separators(void **state)
{
	struct fx *fx = *state;
	static const char in[] = "x\xe2\x80\xa8y\xe2\x80\xa9z";
	static const char out[] = "\"x\\u2028y\\u2029z\"";

	jbuf_str(&fx->b, in, sizeof(in) - 1);
	assert_int_equal(fx->b.len, sizeof(out) - 1);
	assert_memory_equal(fx->b.data, out, sizeof(out) - 1);
}

static void
test_json_str_separator_split_at_end_is_copied(void **state)
{
	struct fx *fx = *state;
	json_t *v;
	json_error_t err;

	/* An E2 80 at the very end (len cut before A8) must not be read past
	 * len, nor turned into \u2028. The text is then not valid UTF-8, so
	 * only the bytes are checked. */
	static const char in[] = "ab\xe2\x80\xa8";

	jbuf_str(&fx->b, in, 4);
	assert_int_equal(fx->b.len, 6);
	assert_memory_equal(fx->b.data, "\"ab\xe2\x80\"", 6);
	jbuf_reset(&fx->b);
	jbuf_str(&fx->b, in, 5);
	v = json_loadb(fx->b.data, fx->b.len, JSON_DECODE_ANY, &err);
	assert_non_null(v);
	assert_string_equal(json_string_value(v), "ab\xe2\x80\xa8");
	json_decref(v);
}

static void
test_json_str_round_trips_every_control_char(void **state)
{
	struct fx *fx = *state;

	for (int c = 0; c < 0x20; c++) {
		char ch = (char)c;
		json_error_t err;
		json_t *v;

		jbuf_reset(&fx->b);
		jbuf_str(&fx->b, &ch, 1);
		check_html_safe(fx->b.data, fx->b.len);
		v = json_loadb(fx->b.data, fx->b.len,
			       JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		if (!v)
			fail_msg("0x%02x: %s: %.*s", c, err.text, (int)fx->b.len,
				 fx->b.data);
		assert_true(json_is_string(v));
		assert_int_equal(json_string_length(v), 1);
		assert_int_equal(json_string_value(v)[0], c);
		json_decref(v);
	}
}

static void
test_json_str_appends_after_existing_bytes(void **state)
{
	struct fx *fx = *state;

	jbuf_raw(&fx->b, "[", 1);
	jbuf_str(&fx->b, "a\"b", 3);
	jbuf_raw(&fx->b, "]", 1);
	assert_int_equal(fx->b.len, 8);
	assert_memory_equal(fx->b.data, "[\"a\\\"b\"]", 8);
}

/* ---- frame encoders ------------------------------------------------- */

static void
test_json_welcome_matches_protocol_example(void **state)
{
	struct fx *fx = *state;

	json_welcome(&fx->b, "guest-3f2a", "lobby");
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:s}", "type",
					       "welcome", "nick", "guest-3f2a",
					       "room", "lobby"));
}

static void
test_json_welcome_hostile_strings_round_trip(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < N_HOSTILE; i++) {
		const char *s = hostile[i], *t = hostile[N_HOSTILE - 1 - i];

		json_welcome(&fx->b, s, t);
		assert_json_is(load_out(fx),
			       json_pack("{s:s,s:o,s:o}", "type", "welcome",
					 "nick", jstr(s), "room", jstr(t)));
	}
}

static void
test_json_encoders_reset_the_buffer(void **state)
{
	struct fx *fx = *state;

	jbuf_raw(&fx->b, "garbage", 7);
	json_left(&fx->b, "first");
	json_left(&fx->b, "second");
	assert_json_is(load_out(fx), json_pack("{s:s,s:s}", "type", "left",
					       "room", "second"));
}

static void
test_json_message_hostile_text_round_trips(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < N_HOSTILE; i++) {
		struct chat_record r = {
			.room = "lobby",
			.id = i + 1,
			.ts = 1700000000123,
			.nick = hostile[(i + 3) % N_HOSTILE],
			.text = hostile[i],
			.text_len = strlen(hostile[i]),
			.cid = i % 2 ? hostile[(i + 5) % N_HOSTILE] : NULL,
		};

		json_message(&fx->b, &r);
		assert_json_is(load_out(fx), want_message(&r));
	}
}

/* The text as json_message_text finds it, decoded: the quoted bytes are
 * one JSON string, and it is the record's text. */
static void
assert_text_span_is(const struct fx *fx, const char *text, size_t len)
{
	size_t at = 0, n = 0;
	json_error_t err;
	json_t *s;

	assert_int_equal(json_message_text(fx->b.data, fx->b.len, &at, &n), 0);
	assert_true(at + n <= fx->b.len);
	assert_int_equal(fx->b.data[at], '"');
	assert_int_equal(fx->b.data[at + n - 1], '"');
	s = json_loadb(fx->b.data + at, n, JSON_DECODE_ANY | JSON_ALLOW_NUL,
		       &err);
	if (!s || !json_is_string(s))
		fail_msg("not a JSON string (%s): %.*s", err.text, (int)n,
			 fx->b.data + at);
	assert_int_equal(json_string_length(s), len);
	assert_memory_equal(json_string_value(s), text, len);
	json_decref(s);
}

/* socket.io frames wrap a message frame's text as it is (socketio.c):
 * found whatever the text, the nick or the cid hold, in the cluster's
 * split form too once the id is in. */
static void
test_json_message_text_span_is_the_text(void **state)
{
	struct fx *fx = *state;
	static const char decoy[] = ",\"text\":\"decoy\\\"\",\"ts\":1}";

	for (size_t i = 0; i < N_HOSTILE; i++) {
		struct chat_record r = {
			.room = "lobby",
			.id = i + 1,
			.ts = 1700000000123,
			.nick = "guest-1a2b",
			.text = hostile[i],
			.text_len = strlen(hostile[i]),
			.cid = i % 2 ? decoy : hostile[(i + 5) % N_HOSTILE],
		};
		size_t id_at = 0;
		char *joined;

		json_message(&fx->b, &r);
		assert_text_span_is(fx, r.text, r.text_len);
		json_message_split(&fx->b, &r, &id_at);
		assert_true(asprintf(&joined, "%.*s42%.*s", (int)id_at,
				     fx->b.data, (int)(fx->b.len - id_at),
				     fx->b.data + id_at) > 0);
		jbuf_reset(&fx->b);
		jbuf_raw(&fx->b, joined, strlen(joined));
		free(joined);
		assert_text_span_is(fx, r.text, r.text_len);
	}
	/* A decoy inside the text is skipped over as part of it. */
	{
		struct chat_record r = { .room = "r", .id = 1, .ts = 1,
					 .nick = "n", .text = decoy,
					 .text_len = sizeof(decoy) - 1 };

		json_message(&fx->b, &r);
		assert_text_span_is(fx, decoy, sizeof(decoy) - 1);
	}
}

/* No text field, or one that never ends: -1, nothing read past the end. */
static void
test_json_message_text_refuses_other_frames(void **state)
{
	static const char *const frames[] = {
		"",
		"{\"type\":\"typing\",\"room\":\"r\",\"nick\":\"n\"}",
		"{\"type\":\"message\",\"text\":\"open",
		"{\"type\":\"message\",\"text\":\"ends in a backslash\\",
	};
	size_t at, n;

	(void)state;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		size_t len = strlen(frames[i]);
		char *copy = malloc(len ? len : 1); /* exact size, for ASan */

		assert_non_null(copy);
		memcpy(copy, frames[i], len);
		assert_int_equal(json_message_text(copy, len, &at, &n), -1);
		free(copy);
	}
}

static void
test_json_message_text_with_every_control_char_and_nul(void **state)
{
	struct fx *fx = *state;
	char text[0x20 + 2];
	struct chat_record r = {
		.room = "r", .id = 7, .ts = 1, .nick = "n", .text = text,
		.text_len = sizeof(text),
	};
	json_t *doc;

	for (int c = 0; c < 0x20; c++)
		text[c] = (char)c;
	text[0x20] = 'z';
	text[0x21] = '\0'; /* a trailing NUL is part of the text too */
	json_message(&fx->b, &r);
	doc = load_out(fx);
	assert_json_is(doc, want_message(&r));
	assert_int_equal(json_string_length(json_object_get(doc, "text")),
			 sizeof(text));
	assert_true(raw_has(fx, "\\u0000"));
}

static void
test_json_message_raw_bytes_escape_script_and_separators(void **state)
{
	struct fx *fx = *state;
	static const char text[] = "</script>&\xe2\x80\xa8\xe2\x80\xa9";
	struct chat_record r = {
		.room = "lobby", .id = 1, .ts = 2, .nick = "bob", .text = text,
		.text_len = sizeof(text) - 1,
	};

	json_message(&fx->b, &r);
	assert_json_is(load_out(fx), want_message(&r));
	assert_true(raw_has(fx, "\\u003c/script\\u003e\\u0026"));
	assert_true(raw_has(fx, "\\u2028\\u2029"));
	assert_false(raw_has(fx, "</"));
}

static void
test_json_message_long_text_round_trips(void **state)
{
	struct fx *fx = *state;
	size_t cap = 300000, len = 0;
	char *text = malloc(cap);
	struct chat_record r = { .room = "big", .id = UINT64_C(9007199254740993),
				 .ts = INT64_C(-1), .nick = "n", .cid = "c" };

	assert_non_null(text);
	for (size_t i = 0; len + 64 < cap; i++) {
		const char *s = hostile[i % N_HOSTILE];

		memcpy(text + len, s, strlen(s));
		len += strlen(s);
		text[len++] = '\0';
	}
	r.text = text;
	r.text_len = len;
	json_message(&fx->b, &r);
	assert_true(fx->b.len > len);
	assert_json_is(load_out(fx), want_message(&r));
	free(text);
}

static void
test_json_message_omits_cid_when_null(void **state)
{
	struct fx *fx = *state;
	struct chat_record r = { .room = "a", .id = 1, .ts = 5, .nick = "n",
				 .text = "t", .text_len = 1 };

	json_message(&fx->b, &r);
	assert_null(json_object_get(load_out(fx), "cid"));
	assert_int_equal(json_object_size(fx->doc), 6);
}

static void
test_json_left_typing_round_trip_hostile(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < N_HOSTILE; i++) {
		const char *s = hostile[i], *t = hostile[(i + 1) % N_HOSTILE];

		json_left(&fx->b, s);
		assert_json_is(load_out(fx), json_pack("{s:s,s:o}", "type",
						       "left", "room", jstr(s)));
		json_typing(&fx->b, s, t);
		assert_json_is(load_out(fx),
			       json_pack("{s:s,s:o,s:o}", "type", "typing",
					 "room", jstr(s), "nick", jstr(t)));
	}
}

static void
test_json_presence_with_and_without_old(void **state)
{
	struct fx *fx = *state;

	json_presence(&fx->b, "lobby", "join", "alice", NULL);
	assert_json_is(load_out(fx),
		       json_pack("{s:s,s:s,s:s,s:s}", "type", "presence",
				 "room", "lobby", "event", "join", "nick",
				 "alice"));
	json_presence(&fx->b, "lobby", "nick", "bob", "alice");
	assert_json_is(load_out(fx),
		       json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "presence",
				 "room", "lobby", "event", "nick", "nick",
				 "bob", "old", "alice"));
	for (size_t i = 0; i < N_HOSTILE; i++) {
		const char *s = hostile[i], *t = hostile[(i + 2) % N_HOSTILE];

		json_presence(&fx->b, t, "leave", s, t);
		assert_json_is(load_out(fx),
			       json_pack("{s:s,s:o,s:s,s:o,s:o}", "type",
					 "presence", "room", jstr(t), "event",
					 "leave", "nick", jstr(s), "old",
					 jstr(t)));
	}
}

static void
test_json_error_with_and_without_cid(void **state)
{
	struct fx *fx = *state;

	json_error(&fx->b, "bad_json", "frame is not valid JSON", NULL);
	assert_json_is(load_out(fx),
		       json_pack("{s:s,s:s,s:s}", "type", "error", "code",
				 "bad_json", "message",
				 "frame is not valid JSON"));
	/* A client's cid comes back verbatim, whatever it holds. */
	for (size_t i = 0; i < N_HOSTILE; i++) {
		const char *s = hostile[i];

		json_error(&fx->b, "too_long", s, s);
		assert_json_is(load_out(fx),
			       json_pack("{s:s,s:s,s:o,s:o}", "type", "error",
					 "code", "too_long", "message", jstr(s),
					 "cid", jstr(s)));
	}
}

/* ---- lists ---------------------------------------------------------- */

static void
test_json_joined_with_no_members(void **state)
{
	struct fx *fx = *state;

	json_joined_begin(&fx->b, "empty");
	json_joined_end(&fx->b, 0);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:[],s:i}", "type",
					       "joined", "room", "empty",
					       "members", "count", 0));
}

static void
test_json_joined_with_one_member(void **state)
{
	struct fx *fx = *state;

	json_joined_begin(&fx->b, "r");
	json_joined_member(&fx->b, "solo");
	json_joined_end(&fx->b, 1);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:[s],s:i}", "type",
					       "joined", "room", "r", "members",
					       "solo", "count", 1));
}

static void
test_json_joined_with_many_members_in_order(void **state)
{
	struct fx *fx = *state;
	json_t *want = json_array();

	json_joined_begin(&fx->b, "crowd[");
	for (size_t i = 0; i < 300; i++) {
		/* Include names ending in '[' and empty ones: the separator
		 * logic must not be fooled by the strings' contents. */
		const char *s = i % 3 == 0 ? "x[" : hostile[i % N_HOSTILE];

		json_joined_member(&fx->b, s);
		json_array_append_new(want, jstr(s));
	}
	json_joined_end(&fx->b, 300);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:o,s:i}", "type",
					       "joined", "room", "crowd[",
					       "members", want, "count", 300));
}

static void
test_json_joined_begin_resets_a_used_buffer(void **state)
{
	struct fx *fx = *state;

	json_left(&fx->b, "old");
	json_joined_begin(&fx->b, "r");
	json_joined_member(&fx->b, "a");
	json_joined_member(&fx->b, "b");
	json_joined_end(&fx->b, 2);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:[s,s],s:i}", "type",
					       "joined", "room", "r", "members",
					       "a", "b", "count", 2));
}

static void
test_json_history_empty_with_more_false_and_true(void **state)
{
	struct fx *fx = *state;

	json_history_begin(&fx->b, "r");
	json_history_end(&fx->b, false);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:[],s:b}", "type",
					       "history", "room", "r",
					       "messages", "more", 0));
	json_history_begin(&fx->b, "r");
	json_history_end(&fx->b, true);
	assert_json_is(load_out(fx), json_pack("{s:s,s:s,s:[],s:b}", "type",
					       "history", "room", "r",
					       "messages", "more", 1));
}

static void
test_json_history_with_one_item(void **state)
{
	struct fx *fx = *state;
	struct chat_record r = { .room = "r", .id = 42, .ts = 1700000000000,
				 .nick = "ann", .text = "hi <b>", .text_len = 6,
				 .cid = "c-1" };

	json_history_begin(&fx->b, "r");
	json_history_item(&fx->b, &r);
	json_history_end(&fx->b, false);
	assert_json_is(load_out(fx),
		       json_pack("{s:s,s:s,s:[o],s:b}", "type", "history",
				 "room", "r", "messages", want_message(&r),
				 "more", 0));
}

static void
test_json_history_with_many_hostile_items_in_order(void **state)
{
	struct fx *fx = *state;
	json_t *want = json_array();
	char text[3] = { 'a', '\0', '[' };

	json_history_begin(&fx->b, "room.x");
	for (size_t i = 0; i < 120; i++) {
		struct chat_record r = {
			.room = "room.x",
			.id = i + 1,
			.ts = 1700000000000 + (int64_t)i,
			.nick = hostile[(i + 1) % N_HOSTILE],
			.text = i % 4 == 0 ? text : hostile[i % N_HOSTILE],
			.text_len = i % 4 == 0 ? sizeof(text)
					       : strlen(hostile[i % N_HOSTILE]),
			.cid = i % 3 ? NULL : hostile[i % N_HOSTILE],
		};

		json_history_item(&fx->b, &r);
		json_array_append_new(want, want_message(&r));
	}
	json_history_end(&fx->b, true);
	assert_json_is(load_out(fx),
		       json_pack("{s:s,s:s,s:o,s:b}", "type", "history",
				 "room", "room.x", "messages", want, "more", 1));
}

/* ---- request_parse: helpers ----------------------------------------- */

/* Parses len bytes from an exact-size heap copy, so ASan flags any read
 * past the frame (there is no terminating NUL). */
static const char *
parse(struct fx *fx, const char *buf, size_t len)
{
	const char *code;

	request_fini(&fx->req);
	free(fx->frame);
	fx->frame = malloc(len ? len : 1);
	assert_non_null(fx->frame);
	if (len)
		memcpy(fx->frame, buf, len);
	fx->why = NULL;
	code = request_parse(&fx->req, fx->frame, len, &fx->why);
	if (code) {
		assert_non_null(fx->why);
		assert_true(fx->why[0] != '\0');
	}
	return code;
}

static const char *
parse_str(struct fx *fx, const char *s)
{
	return parse(fx, s, strlen(s));
}

#define assert_parses(fx, s)                                                  \
	do {                                                                  \
		const char *code_ = parse_str((fx), (s));                     \
		if (code_)                                                    \
			fail_msg("%s: %s (%s)", (s), code_, (fx)->why);       \
	} while (0)

#define assert_parse_error(fx, s, want)                                       \
	do {                                                                  \
		const char *code_ = parse_str((fx), (s));                     \
		if (!code_ || strcmp(code_, (want)))                          \
			fail_msg("%s: got %s, want %s", (s),                  \
				 code_ ? code_ : "success", (want));          \
	} while (0)

static void
assert_plain_text(struct fx *fx, const char *buf, size_t len)
{
	assert_null(parse(fx, buf, len));
	assert_int_equal(fx->req.type, REQ_MESSAGE);
	assert_ptr_equal(fx->req.text, fx->frame);
	assert_int_equal(fx->req.text_len, len);
	assert_null(fx->req.root);
	assert_null(fx->req.room);
	assert_null(fx->req.nick);
	assert_null(fx->req.cid);
	assert_false(fx->req.has_since || fx->req.has_before ||
		     fx->req.has_limit);
}

/* ---- request_parse: plain text -------------------------------------- */

static void
test_request_plain_text_is_a_message_of_the_whole_frame(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "hello world", 11);
	assert_memory_equal(fx->req.text, "hello world", 11);
}

static void
test_request_plain_text_keeps_leading_spaces(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "   hi there  ", 13);
	assert_memory_equal(fx->req.text, "   hi there  ", 13);
	assert_plain_text(fx, "\n\t x", 4);
}

static void
test_request_frame_starting_with_bracket_is_plain_text(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "[1]", 3);
	assert_plain_text(fx, "  [\"type\",\"join\"]", 17);
	assert_plain_text(fx, "\"string\"", 8);
	assert_plain_text(fx, "42", 2);
	assert_plain_text(fx, "x {\"type\":\"join\",\"room\":\"a\"}", 28);
}

static void
test_request_empty_and_blank_frames_are_plain_text(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "", 0);
	assert_plain_text(fx, "    ", 4);
	assert_plain_text(fx, " \r\n\t", 4);
}

static void
test_request_plain_text_keeps_nul_bytes(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "a\0b\0", 4);
	assert_memory_equal(fx->req.text, "a\0b\0", 4);
	/* A NUL before the brace is not white space either. */
	assert_plain_text(fx, "\0{}", 3);
}

static void
test_request_fini_after_plain_text_is_harmless(void **state)
{
	struct fx *fx = *state;

	assert_plain_text(fx, "hi", 2);
	request_fini(&fx->req);
	request_fini(&fx->req);
	assert_null(fx->req.root);
}

/* ---- request_parse: valid requests ---------------------------------- */

static void
test_request_message_with_room_and_cid(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"message\",\"text\":\"hi there\","
			  "\"room\":\"dev\",\"cid\":\"c-1\"}");
	assert_int_equal(fx->req.type, REQ_MESSAGE);
	assert_int_equal(fx->req.text_len, 8);
	assert_memory_equal(fx->req.text, "hi there", 8);
	assert_string_equal(fx->req.room, "dev");
	assert_string_equal(fx->req.cid, "c-1");
	assert_null(fx->req.nick);
	assert_non_null(fx->req.root);
}

static void
test_request_json_after_leading_white_space(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, " \t\r\n{\"type\":\"message\",\"text\":\"x\"}\n");
	assert_int_equal(fx->req.type, REQ_MESSAGE);
	assert_string_equal(fx->req.text, "x");
	assert_null(fx->req.room);
	assert_null(fx->req.cid);
}

static void
test_request_message_text_escapes_are_decoded(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"message\",\"text\":"
			  "\"q\\\"b\\\\n\\n\\u003c\\u2028\\ud83d\\ude00\"}");
	assert_int_equal(fx->req.text_len, 14);
	assert_memory_equal(fx->req.text,
			    "q\"b\\n\n<\xe2\x80\xa8\xf0\x9f\x98\x80", 14);
}

/* protocol.md: bad_json is for frames that are not valid JSON, and
 * "a\u0000b" is valid JSON; text is counted, so it may hold U+0000. */
static void
test_request_message_text_with_escaped_nul_is_accepted(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"message\",\"text\":\"a\\u0000b\"}");
	assert_int_equal(fx->req.text_len, 3);
	assert_memory_equal(fx->req.text, "a\0b", 3);
}

static void
test_request_message_empty_text_is_left_to_the_caller(void **state)
{
	struct fx *fx = *state;

	/* "empty" is chat's error, not the parser's. */
	assert_parses(fx, "{\"type\":\"message\",\"text\":\"\"}");
	assert_non_null(fx->req.text);
	assert_int_equal(fx->req.text_len, 0);
}

static void
test_request_join_with_nick_and_since(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"join\",\"room\":\"r1\",\"nick\":\"bo\","
			  "\"since\":9007199254740993}");
	assert_int_equal(fx->req.type, REQ_JOIN);
	assert_string_equal(fx->req.room, "r1");
	assert_string_equal(fx->req.nick, "bo");
	assert_true(fx->req.has_since);
	assert_true(fx->req.since == INT64_C(9007199254740993));
	assert_false(fx->req.has_before);
	assert_false(fx->req.has_limit);
}

static void
test_request_join_since_zero_is_present(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"join\",\"room\":\"r\",\"since\":0}");
	assert_true(fx->req.has_since);
	assert_int_equal(fx->req.since, 0);
	assert_parses(fx, "{\"type\":\"join\",\"room\":\"r\"}");
	assert_false(fx->req.has_since);
	assert_null(fx->req.nick);
}

static void
test_request_leave_nick_typing(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"leave\",\"room\":\"r\"}");
	assert_int_equal(fx->req.type, REQ_LEAVE);
	assert_string_equal(fx->req.room, "r");
	assert_parses(fx, "{\"type\":\"nick\",\"nick\":\"zed\"}");
	assert_int_equal(fx->req.type, REQ_NICK);
	assert_string_equal(fx->req.nick, "zed");
	assert_parses(fx, "{\"type\":\"typing\"}");
	assert_int_equal(fx->req.type, REQ_TYPING);
	assert_null(fx->req.room);
	assert_parses(fx, "{\"type\":\"typing\",\"room\":\"q\"}");
	assert_int_equal(fx->req.type, REQ_TYPING);
	assert_string_equal(fx->req.room, "q");
}

static void
test_request_history_with_before_and_limit(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"history\",\"room\":\"r\",\"before\":77,"
			  "\"limit\":1}");
	assert_int_equal(fx->req.type, REQ_HISTORY);
	assert_true(fx->req.has_before);
	assert_int_equal(fx->req.before, 77);
	assert_true(fx->req.has_limit);
	assert_int_equal(fx->req.limit, 1);
	assert_false(fx->req.has_since);
	/* Over 100 is clamped by chat, not refused here. */
	assert_parses(fx, "{\"type\":\"history\",\"room\":\"r\",\"limit\":500}");
	assert_int_equal(fx->req.limit, 500);
}

static void
test_request_unknown_fields_are_ignored(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"v\":1,\"type\":\"typing\",\"extra\":[1,{\"a\":null}]}");
	assert_int_equal(fx->req.type, REQ_TYPING);
}

static void
test_request_cid_of_64_bytes_is_accepted(void **state)
{
	struct fx *fx = *state;
	char frame[256];
	/* 32 two-byte characters: 64 bytes. */
	const char *cid = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9";

	assert_int_equal(strlen(cid), REQUEST_MAX_CID);
	snprintf(frame, sizeof(frame),
		 "{\"type\":\"typing\",\"cid\":\"%s\"}", cid);
	assert_parses(fx, frame);
	assert_string_equal(fx->req.cid, cid);
	assert_parses(fx, "{\"type\":\"typing\",\"cid\":\"x\"}");
	assert_string_equal(fx->req.cid, "x");
}

/* ---- request_parse: errors ------------------------------------------ */

static void
test_request_invalid_json_is_bad_json(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{",
		"  {",
		"{\"type\":",
		"{\"type\":\"message\",}",
		"{'type':'message'}",
		"{type:\"message\"}",
		"{\"type\":\"message\"} trailing",
		"{\"type\":\"message\"}{}",
		"{\"text\":\"unterminated}",
		"{\"text\":\"bad escape \\x\"}",
		"{\"text\":\"lone surrogate \\ud800\"}",
		"{\"since\":01}",
		"{\"a\":NaN}",
		"{}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_parse_error(fx, bad[i], "bad_json");
		assert_null(fx->req.cid);
	}
}

static void
test_request_missing_or_non_string_type_is_bad_request(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{}",
		"{\"text\":\"hi\"}",
		"{\"type\":5}",
		"{\"type\":null}",
		"{\"type\":true}",
		"{\"type\":[\"message\"]}",
		"{\"type\":{\"name\":\"message\"}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_error(fx, bad[i], "bad_request");
}

static void
test_request_unknown_type_is_unknown_type(void **state)
{
	struct fx *fx = *state;

	assert_parse_error(fx, "{\"type\":\"shout\"}", "unknown_type");
	assert_parse_error(fx, "{\"type\":\"\"}", "unknown_type");
	assert_parse_error(fx, "{\"type\":\"MESSAGE\",\"text\":\"x\"}",
			   "unknown_type");
	assert_parse_error(fx, "{\"type\":\"message \",\"text\":\"x\"}",
			   "unknown_type");
	assert_parse_error(fx, "{\"type\":\"welcome\"}", "unknown_type");
}

static void
test_request_fields_of_the_wrong_type_are_bad_request(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{\"type\":\"message\"}",
		"{\"type\":\"message\",\"text\":5}",
		"{\"type\":\"message\",\"text\":null}",
		"{\"type\":\"message\",\"text\":[\"hi\"]}",
		"{\"type\":\"message\",\"text\":\"hi\",\"room\":7}",
		"{\"type\":\"join\"}",
		"{\"type\":\"join\",\"room\":null}",
		"{\"type\":\"join\",\"room\":\"r\",\"nick\":false}",
		"{\"type\":\"leave\"}",
		"{\"type\":\"leave\",\"room\":[\"r\"]}",
		"{\"type\":\"history\"}",
		"{\"type\":\"nick\"}",
		"{\"type\":\"nick\",\"nick\":1}",
		"{\"type\":\"typing\",\"room\":{}}",
		"{\"type\":\"typing\",\"text\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_error(fx, bad[i], "bad_request");
}

static void
test_request_bad_counts_are_bad_request(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{\"type\":\"join\",\"room\":\"r\",\"since\":-1}",
		"{\"type\":\"join\",\"room\":\"r\",\"since\":1.5}",
		"{\"type\":\"join\",\"room\":\"r\",\"since\":\"5\"}",
		"{\"type\":\"join\",\"room\":\"r\",\"since\":null}",
		"{\"type\":\"history\",\"room\":\"r\",\"before\":-5}",
		"{\"type\":\"history\",\"room\":\"r\",\"before\":true}",
		"{\"type\":\"history\",\"room\":\"r\",\"limit\":0}",
		"{\"type\":\"history\",\"room\":\"r\",\"limit\":-1}",
		"{\"type\":\"history\",\"room\":\"r\",\"limit\":2.0}",
		"{\"type\":\"history\",\"room\":\"r\",\"limit\":\"10\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_error(fx, bad[i], "bad_request");
}

static void
test_request_bad_cid_is_bad_request_without_cid(void **state)
{
	struct fx *fx = *state;
	char frame[256];
	static const char *const bad[] = {
		"{\"type\":\"typing\",\"cid\":\"\"}",
		"{\"type\":\"typing\",\"cid\":5}",
		"{\"type\":\"typing\",\"cid\":null}",
		"{\"type\":\"typing\",\"cid\":[\"a\"]}",
		/* A bad cid wins over a bad type: it is checked first. */
		"{\"type\":\"nope\",\"cid\":\"\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_parse_error(fx, bad[i], "bad_request");
		assert_null(fx->req.cid);
	}
	/* 65 bytes: one too many. */
	snprintf(frame, sizeof(frame), "{\"type\":\"typing\",\"cid\":\"%065d\"}",
		 0);
	assert_parse_error(fx, frame, "bad_request");
	assert_null(fx->req.cid);
}

/* A cid holding U+0000 is refused: it is echoed as a C string. */
static void
test_request_cid_with_escaped_nul_is_bad_request(void **state)
{
	struct fx *fx = *state;

	assert_parse_error(fx, "{\"type\":\"typing\",\"cid\":\"a\\u0000b\"}",
			   "bad_request");
	assert_null(fx->req.cid);
}

/* Names are C strings: a NUL inside one would cut it short. */
static void
test_request_names_with_escaped_nul_are_bad_request(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{\"type\":\"join\",\"room\":\"lobby\\u0000x\"}",
		"{\"type\":\"join\",\"room\":\"\\u0000\"}",
		"{\"type\":\"nick\",\"nick\":\"bob\\u0000\"}",
		"{\"type\":\"message\",\"text\":\"t\",\"room\":\"a\\u0000\"}",
		"{\"type\":\"typing\\u0000x\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_error(fx, bad[i], "bad_request");
	/* ...while the cid survives for the error reply. */
	assert_parse_error(fx,
			   "{\"type\":\"nick\",\"nick\":\"a\\u0000\","
			   "\"cid\":\"k2\"}",
			   "bad_request");
	assert_string_equal(fx->req.cid, "k2");
}

static void
test_request_cid_is_kept_when_a_later_field_is_bad(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *frame, *code;
	} cases[] = {
		{ "{\"type\":5,\"cid\":\"k1\"}", "bad_request" },
		{ "{\"cid\":\"k1\"}", "bad_request" },
		{ "{\"cid\":\"k1\",\"type\":\"shout\"}", "unknown_type" },
		{ "{\"type\":\"message\",\"cid\":\"k1\"}", "bad_request" },
		{ "{\"type\":\"message\",\"text\":1,\"cid\":\"k1\"}",
		  "bad_request" },
		{ "{\"type\":\"join\",\"cid\":\"k1\",\"room\":\"r\","
		  "\"since\":-1}",
		  "bad_request" },
		{ "{\"type\":\"history\",\"room\":\"r\",\"limit\":0,"
		  "\"cid\":\"k1\"}",
		  "bad_request" },
		{ "{\"type\":\"nick\",\"cid\":\"k1\"}", "bad_request" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_parse_error(fx, cases[i].frame, cases[i].code);
		assert_non_null(fx->req.cid);
		assert_string_equal(fx->req.cid, "k1");
	}
}

static void
test_request_fini_frees_and_is_idempotent(void **state)
{
	struct fx *fx = *state;

	assert_parses(fx, "{\"type\":\"join\",\"room\":\"r\",\"nick\":\"n\"}");
	assert_non_null(fx->req.root);
	request_fini(&fx->req);
	assert_null(fx->req.root);
	request_fini(&fx->req);
	/* And after an error (the tree was built, then refused). */
	assert_parse_error(fx, "{\"type\":\"zzz\",\"cid\":\"c\"}",
			   "unknown_type");
	request_fini(&fx->req);
	assert_null(fx->req.root);
	/* LeakSanitizer checks that nothing was left behind. */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_json_str_escapes_html_specials_as_unicode),
		T(test_json_str_escapes_line_and_paragraph_separators),
		T(test_json_str_separator_split_at_end_is_copied),
		T(test_json_str_round_trips_every_control_char),
		T(test_json_str_appends_after_existing_bytes),
		T(test_json_welcome_matches_protocol_example),
		T(test_json_welcome_hostile_strings_round_trip),
		T(test_json_encoders_reset_the_buffer),
		T(test_json_message_hostile_text_round_trips),
		T(test_json_message_text_with_every_control_char_and_nul),
		T(test_json_message_text_span_is_the_text),
		T(test_json_message_text_refuses_other_frames),
		T(test_json_message_raw_bytes_escape_script_and_separators),
		T(test_json_message_long_text_round_trips),
		T(test_json_message_omits_cid_when_null),
		T(test_json_left_typing_round_trip_hostile),
		T(test_json_presence_with_and_without_old),
		T(test_json_error_with_and_without_cid),
		T(test_json_joined_with_no_members),
		T(test_json_joined_with_one_member),
		T(test_json_joined_with_many_members_in_order),
		T(test_json_joined_begin_resets_a_used_buffer),
		T(test_json_history_empty_with_more_false_and_true),
		T(test_json_history_with_one_item),
		T(test_json_history_with_many_hostile_items_in_order),
		T(test_request_plain_text_is_a_message_of_the_whole_frame),
		T(test_request_plain_text_keeps_leading_spaces),
		T(test_request_frame_starting_with_bracket_is_plain_text),
		T(test_request_empty_and_blank_frames_are_plain_text),
		T(test_request_plain_text_keeps_nul_bytes),
		T(test_request_fini_after_plain_text_is_harmless),
		T(test_request_message_with_room_and_cid),
		T(test_request_json_after_leading_white_space),
		T(test_request_message_text_escapes_are_decoded),
		T(test_request_message_text_with_escaped_nul_is_accepted),
		T(test_request_message_empty_text_is_left_to_the_caller),
		T(test_request_join_with_nick_and_since),
		T(test_request_join_since_zero_is_present),
		T(test_request_leave_nick_typing),
		T(test_request_history_with_before_and_limit),
		T(test_request_unknown_fields_are_ignored),
		T(test_request_cid_of_64_bytes_is_accepted),
		T(test_request_invalid_json_is_bad_json),
		T(test_request_missing_or_non_string_type_is_bad_request),
		T(test_request_unknown_type_is_unknown_type),
		T(test_request_fields_of_the_wrong_type_are_bad_request),
		T(test_request_bad_counts_are_bad_request),
		T(test_request_bad_cid_is_bad_request_without_cid),
		T(test_request_cid_with_escaped_nul_is_bad_request),
		T(test_request_names_with_escaped_nul_are_bad_request),
		T(test_request_cid_is_kept_when_a_later_field_is_bad),
		T(test_request_fini_frees_and_is_idempotent),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
