/*
 * Frame encoding by hand and request decoding with jansson.
 */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
jbuf_init(struct jbuf *b)
{
	*b = (struct jbuf){ 0 };
}

void
jbuf_fini(struct jbuf *b)
{
	free(b->data);
	jbuf_init(b);
}

void
jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	b->oom = false;
}

static bool
reserve(struct jbuf *b, size_t extra)
{
	size_t cap;
	char *data;

	if (b->oom)
		return false;
	if (b->len + extra <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->oom = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void
jbuf_raw(struct jbuf *b, const char *s, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

#define RAW(b, lit) jbuf_raw(b, lit, sizeof(lit) - 1)

static void
put_u64(struct jbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	jbuf_raw(b, tmp, (size_t)n);
}

static void
put_i64(struct jbuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	jbuf_raw(b, tmp, (size_t)n);
}

static void
put_cstr(struct jbuf *b, const char *s)
{
	jbuf_str(b, s, strlen(s));
}

/* Bytes that need a \u escape; the rest of ASCII is copied as is. */
static bool
needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' ||
	       c == '&';
}

void
jbuf_str(struct jbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	/* Worst case every byte becomes \u00XX: reserve once, write freely. */
	if (!reserve(b, len * 6 + 2))
		return;
	char *o = b->data + b->len;

	*o++ = '"';
	while (p < end) {
		unsigned char c = *p;

		if (!needs_escape(c) && c != 0xe2) {
			*o++ = (char)c;
			p++;
			continue;
		}
		if (c == 0xe2) {
			/* U+2028/U+2029 end a line in JavaScript. */
			if (end - p >= 3 && p[1] == 0x80 &&
			    (p[2] == 0xa8 || p[2] == 0xa9)) {
				memcpy(o, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
				o += 6;
				p += 3;
			} else {
				*o++ = (char)c;
				p++;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
		p++;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
}

void
json_welcome(struct jbuf *b, const char *nick, const char *room)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"welcome\",\"nick\":");
	put_cstr(b, nick);
	RAW(b, ",\"room\":");
	put_cstr(b, room);
	RAW(b, "}");
}

/* With id_at, the id is left out and its place told there. */
static void
message_object(struct jbuf *b, const struct chat_record *r, size_t *id_at)
{
	RAW(b, "{\"type\":\"message\",\"room\":");
	put_cstr(b, r->room);
	RAW(b, ",\"id\":");
	if (id_at)
		*id_at = b->len;
	else
		put_u64(b, r->id);
	RAW(b, ",\"nick\":");
	put_cstr(b, r->nick);
	RAW(b, ",\"text\":");
	jbuf_str(b, r->text, r->text_len);
	RAW(b, ",\"ts\":");
	put_i64(b, r->ts);
	if (r->cid) {
		RAW(b, ",\"cid\":");
		put_cstr(b, r->cid);
	}
	RAW(b, "}");
}

void
json_message(struct jbuf *b, const struct chat_record *r)
{
	jbuf_reset(b);
	message_object(b, r, NULL);
}

void
json_message_split(struct jbuf *b, const struct chat_record *r, size_t *id_at)
{
	jbuf_reset(b);
	message_object(b, r, id_at);
}

int
json_message_text(const char *frame, size_t len, size_t *at,
		  size_t *text_len)
{
	static const char key[] = ",\"text\":\"";
	const char *end = frame + len, *q;
	const char *p = memmem(frame, len, key, sizeof(key) - 1);

	/* The fields before text (type, room, id, nick) are names and
	 * numbers, which hold no quote: the first match is the field. */
	if (!p)
		return -1;
	p += sizeof(key) - 2; /* the opening quote */
	for (q = p + 1; q < end; q++) {
		if (*q == '"')
			break;
		/* An escape: the byte after it never ends the string. */
		if (*q == '\\' && ++q == end)
			break;
	}
	if (q >= end)
		return -1;
	*at = (size_t)(p - frame);
	*text_len = (size_t)(q + 1 - p);
	return 0;
}

void
json_left(struct jbuf *b, const char *room)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"left\",\"room\":");
	put_cstr(b, room);
	RAW(b, "}");
}

void
json_presence(struct jbuf *b, const char *room, const char *event,
	      const char *nick, const char *old)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"presence\",\"room\":");
	put_cstr(b, room);
	RAW(b, ",\"event\":");
	put_cstr(b, event);
	RAW(b, ",\"nick\":");
	put_cstr(b, nick);
	if (old) {
		RAW(b, ",\"old\":");
		put_cstr(b, old);
	}
	RAW(b, "}");
}

void
json_typing(struct jbuf *b, const char *room, const char *nick)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"typing\",\"room\":");
	put_cstr(b, room);
	RAW(b, ",\"nick\":");
	put_cstr(b, nick);
	RAW(b, "}");
}

void
json_error(struct jbuf *b, const char *code, const char *text, const char *cid)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"error\",\"code\":");
	put_cstr(b, code);
	RAW(b, ",\"message\":");
	put_cstr(b, text);
	if (cid) {
		RAW(b, ",\"cid\":");
		put_cstr(b, cid);
	}
	RAW(b, "}");
}

/* Lists track "first item" by looking at the byte before the cursor. */
static void
list_sep(struct jbuf *b)
{
	if (b->len && b->data[b->len - 1] != '[')
		RAW(b, ",");
}

void
json_joined_begin(struct jbuf *b, const char *room)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"joined\",\"room\":");
	put_cstr(b, room);
	RAW(b, ",\"members\":[");
}

void
json_joined_member(struct jbuf *b, const char *nick)
{
	list_sep(b);
	put_cstr(b, nick);
}

void
json_joined_end(struct jbuf *b, unsigned count)
{
	RAW(b, "],\"count\":");
	put_u64(b, count);
	RAW(b, "}");
}

void
json_history_begin(struct jbuf *b, const char *room)
{
	jbuf_reset(b);
	RAW(b, "{\"type\":\"history\",\"room\":");
	put_cstr(b, room);
	RAW(b, ",\"messages\":[");
}

void
json_history_item(struct jbuf *b, const struct chat_record *r)
{
	list_sep(b);
	message_object(b, r, NULL);
}

void
json_history_end(struct jbuf *b, bool more)
{
	if (more)
		RAW(b, "],\"more\":true}");
	else
		RAW(b, "],\"more\":false}");
}

/* ---- decoding ---- */

static const struct {
	const char *name;
	enum request_type type;
} request_types[] = {
	{ "message", REQ_MESSAGE }, { "join", REQ_JOIN },
	{ "leave", REQ_LEAVE },     { "nick", REQ_NICK },
	{ "history", REQ_HISTORY }, { "typing", REQ_TYPING },
};

/*
 * Reads an optional string member; false when present but not a string.
 * Without len, an embedded NUL (\u0000) is refused too: names are C strings.
 */
static bool
opt_string(json_t *root, const char *key, const char **out, size_t *len)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return true;
	if (!json_is_string(v))
		return false;
	if (!len && strlen(json_string_value(v)) != json_string_length(v))
		return false;
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return true;
}

static bool
opt_count(json_t *root, const char *key, bool *has, int64_t *out)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*has = true;
	*out = json_integer_value(v);
	return true;
}

const char *
request_parse(struct request *req, const char *buf, size_t len,
	      const char **why)
{
	json_error_t jerr;
	const char *type = NULL;
	size_t i = 0, cid_len = 0;

	*req = (struct request){ .type = REQ_MESSAGE };
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
			   buf[i] == '\r'))
		i++;
	if (i == len || buf[i] != '{') {
		req->text = buf;
		req->text_len = len;
		return NULL;
	}

	/* Text may hold U+0000 like any other character (it is counted, not
	 * NUL-terminated); opt_string() keeps it out of names. */
	req->root = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
	if (!req->root) {
		*why = "frame is not valid JSON";
		return "bad_json";
	}
	if (!json_is_object(req->root)) {
		*why = "frame is not a JSON object";
		return "bad_json";
	}
	/* cid first, so every later error can echo it. */
	if (!opt_string(req->root, "cid", &req->cid, &cid_len) ||
	    (req->cid && (cid_len == 0 || cid_len > REQUEST_MAX_CID ||
			  memchr(req->cid, '\0', cid_len)))) {
		req->cid = NULL;
		*why = "cid must be a string of 1 to 64 bytes";
		return "bad_request";
	}
	if (!opt_string(req->root, "type", &type, NULL) || !type) {
		*why = "type must be a string";
		return "bad_request";
	}
	for (i = 0; i < sizeof(request_types) / sizeof(request_types[0]); i++)
		if (!strcmp(type, request_types[i].name))
			break;
	if (i == sizeof(request_types) / sizeof(request_types[0])) {
		*why = "unknown request type";
		return "unknown_type";
	}
	req->type = request_types[i].type;

	if (!opt_string(req->root, "room", &req->room, NULL) ||
	    !opt_string(req->root, "nick", &req->nick, NULL) ||
	    !opt_string(req->root, "text", &req->text, &req->text_len)) {
		*why = "room, nick and text must be strings";
		return "bad_request";
	}
	if (!opt_count(req->root, "since", &req->has_since, &req->since) ||
	    !opt_count(req->root, "before", &req->has_before, &req->before) ||
	    !opt_count(req->root, "limit", &req->has_limit, &req->limit) ||
	    (req->has_limit && req->limit < 1)) {
		*why = "since, before and limit must be whole numbers "
		       "(limit at least 1)";
		return "bad_request";
	}

	switch (req->type) {
	case REQ_MESSAGE:
		if (!req->text) {
			*why = "message needs a text";
			return "bad_request";
		}
		break;
	case REQ_JOIN:
	case REQ_LEAVE:
	case REQ_HISTORY:
		if (!req->room) {
			*why = "room is required";
			return "bad_request";
		}
		break;
	case REQ_NICK:
		if (!req->nick) {
			*why = "nick is required";
			return "bad_request";
		}
		break;
	case REQ_TYPING:
		break;
	}
	return NULL;
}

void
request_fini(struct request *req)
{
	if (req->root)
		json_decref(req->root);
	req->root = NULL;
}
