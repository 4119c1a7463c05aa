/*
 * request_parse() on any bytes a client can send in a text frame, then
 * request_fini(). Checks the decoder's promises (error codes, required
 * fields, names without NUL, cid bounds) and that what it hands on can be
 * framed again: each decoded string goes through the hand-made encoder and
 * must come back unchanged when jansson parses the frame.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A decoded name: jansson validated it, and opt_string refused NULs. */
static void
check_name(json_t *root, const char *key, const char *value)
{
	json_t *v = json_object_get(root, key);

	if (!value) {
		FUZZ_CHECK(!v);
		return;
	}
	FUZZ_CHECK(json_is_string(v) && json_string_value(v) == value);
	FUZZ_CHECK(strlen(value) == json_string_length(v));
	FUZZ_CHECK(fuzz_utf8_is_valid((const unsigned char *)value,
				      strlen(value)));
}

static void
check_cid(const struct request *req)
{
	size_t n;

	if (!req->cid)
		return;
	n = strlen(req->cid);
	FUZZ_CHECK(n >= 1 && n <= REQUEST_MAX_CID);
	FUZZ_CHECK(fuzz_utf8_is_valid((const unsigned char *)req->cid, n));
}

static bool
json_str_is(json_t *obj, const char *key, const char *s, size_t len)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) && json_string_length(v) == len &&
	       !memcmp(json_string_value(v), s, len);
}

/*
 * A frame the encoder wrote parses back, and holds nothing a script or
 * HTML parser would stop at (docs/protocol.md promises it can be embedded).
 */
static json_t *
reparse(const struct jbuf *b)
{
	json_t *obj;

	FUZZ_CHECK(!b->oom);
	FUZZ_CHECK(!memchr(b->data, '<', b->len) &&
		   !memchr(b->data, '>', b->len) &&
		   !memchr(b->data, '&', b->len));
	for (size_t i = 0; i + 2 < b->len; i++)
		FUZZ_CHECK(!((unsigned char)b->data[i] == 0xe2 &&
			     (unsigned char)b->data[i + 1] == 0x80 &&
			     ((unsigned char)b->data[i + 2] == 0xa8 ||
			      (unsigned char)b->data[i + 2] == 0xa9)));
	obj = json_loadb(b->data, b->len, JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(json_is_object(obj));
	return obj;
}

/* The message frame this request would become, as chat.c builds it. */
static void
check_message_frame(const struct request *req)
{
	struct chat_record r = {
		.room = req->room ? req->room : "lobby",
		.id = 1,
		.ts = 1700000000000,
		.nick = req->nick ? req->nick : "guest-1",
		.text = req->text,
		.text_len = req->text_len,
		.cid = req->cid,
	};
	struct jbuf b;
	json_t *obj;

	jbuf_init(&b);
	json_message(&b, &r);
	obj = reparse(&b);
	FUZZ_CHECK(json_str_is(obj, "type", "message", 7));
	FUZZ_CHECK(json_str_is(obj, "room", r.room, strlen(r.room)));
	FUZZ_CHECK(json_str_is(obj, "nick", r.nick, strlen(r.nick)));
	FUZZ_CHECK(json_str_is(obj, "text", r.text, r.text_len));
	FUZZ_CHECK(json_integer_value(json_object_get(obj, "id")) == 1);
	if (r.cid)
		FUZZ_CHECK(json_str_is(obj, "cid", r.cid, strlen(r.cid)));
	else
		FUZZ_CHECK(!json_object_get(obj, "cid"));
	json_decref(obj);
	jbuf_fini(&b);
}

static void
check_error_frame(const char *code, const char *why, const char *cid)
{
	struct jbuf b;
	json_t *obj;

	jbuf_init(&b);
	json_error(&b, code, why, cid);
	obj = reparse(&b);
	FUZZ_CHECK(json_str_is(obj, "code", code, strlen(code)));
	if (cid)
		FUZZ_CHECK(json_str_is(obj, "cid", cid, strlen(cid)));
	json_decref(obj);
	jbuf_fini(&b);
}

static void
check_decoded(const struct request *req)
{
	json_t *root = req->root, *type = json_object_get(root, "type");

	FUZZ_CHECK(json_is_object(root) && json_is_string(type));
	check_name(root, "room", req->room);
	check_name(root, "nick", req->nick);
	check_cid(req);
	if (req->text) {
		json_t *t = json_object_get(root, "text");

		FUZZ_CHECK(json_string_value(t) == req->text &&
			   json_string_length(t) == req->text_len);
		FUZZ_CHECK(fuzz_utf8_is_valid(
			(const unsigned char *)req->text, req->text_len));
	}
	FUZZ_CHECK(!req->has_since || req->since >= 0);
	FUZZ_CHECK(!req->has_before || req->before >= 0);
	FUZZ_CHECK(!req->has_limit || req->limit >= 1);

	switch (req->type) {
	case REQ_MESSAGE:
		FUZZ_CHECK(!strcmp(json_string_value(type), "message"));
		FUZZ_CHECK(req->text);
		break;
	case REQ_JOIN:
	case REQ_LEAVE:
	case REQ_HISTORY:
		FUZZ_CHECK(req->room);
		break;
	case REQ_NICK:
		FUZZ_CHECK(req->nick);
		break;
	case REQ_TYPING:
		break;
	default:
		FUZZ_CHECK(!"a request type outside the enum");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why = NULL, *code;
	/* chat_receive() refuses invalid UTF-8 before decoding; the decoder
	 * gets the rest too, to show it does not depend on that. */
	bool utf8 = fuzz_utf8_is_valid(data, size);
	struct request req;
	size_t i = 0;

	code = request_parse(&req, buf, size, &why);
	while (i < size && is_space(buf[i]))
		i++;

	if (code) {
		FUZZ_CHECK(!strcmp(code, "bad_json") ||
			   !strcmp(code, "bad_request") ||
			   !strcmp(code, "unknown_type"));
		FUZZ_CHECK(why && *why);
		FUZZ_CHECK(i < size && buf[i] == '{');
		if (!strcmp(code, "bad_json"))
			FUZZ_CHECK(!req.cid);
		else
			FUZZ_CHECK(json_is_object(req.root));
		check_cid(&req);
		check_error_frame(code, why, req.cid);
	} else if (!req.root) {
		/* Plain text: the whole frame is the message, not a copy. */
		FUZZ_CHECK(i == size || buf[i] != '{');
		FUZZ_CHECK(req.type == REQ_MESSAGE && req.text == buf &&
			   req.text_len == size);
		FUZZ_CHECK(!req.room && !req.nick && !req.cid);
		if (utf8)
			check_message_frame(&req);
	} else {
		FUZZ_CHECK(utf8 && i < size && buf[i] == '{');
		check_decoded(&req);
		if (req.type == REQ_MESSAGE)
			check_message_frame(&req);
	}
	request_fini(&req);
	FUZZ_CHECK(!req.root);
	return 0;
}
