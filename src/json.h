/*
 * Protocol v1 frames: decoding client requests (with jansson) and encoding
 * server frames (by hand, into a growable buffer, so the hot "message" frame
 * costs one pass and no intermediate tree). Pure: no I/O, no lws.
 */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* A growable byte buffer; after an allocation failure `oom` sticks. */
struct jbuf {
	char *data;
	size_t len, cap;
	bool oom;
};

void jbuf_init(struct jbuf *b);
void jbuf_fini(struct jbuf *b);
void jbuf_reset(struct jbuf *b);
void jbuf_raw(struct jbuf *b, const char *s, size_t len);
/* A quoted JSON string. s must be valid UTF-8; "<>&", U+2028 and U+2029 are
 * escaped as well so a frame is safe inside HTML or a script. */
void jbuf_str(struct jbuf *b, const char *s, size_t len);

/* Frame encoders: each resets b and leaves one complete JSON object. */
void json_welcome(struct jbuf *b, const char *nick, const char *room);
void json_message(struct jbuf *b, const struct chat_record *r);
/*
 * The message frame without its id (r->id is ignored): the id belongs at
 * *id_at, between b->data[0, *id_at) and the rest, where Redis writes it
 * in cluster mode (cluster.c).
 */
void json_message_split(struct jbuf *b, const struct chat_record *r,
			size_t *id_at);
/*
 * Where the text of a message frame (as json_message builds it, here or on
 * another instance) lies: the quoted JSON string, quotes included, is
 * frame[*at, *at + *len). Another dialect wraps those bytes as they are
 * (socketio.c). Returns 0, or -1 when frame holds no such field.
 */
int json_message_text(const char *frame, size_t len, size_t *at,
		      size_t *text_len);
void json_left(struct jbuf *b, const char *room);
void json_presence(struct jbuf *b, const char *room, const char *event,
		   const char *nick, const char *old);
void json_typing(struct jbuf *b, const char *room, const char *nick);
void json_error(struct jbuf *b, const char *code, const char *text,
		const char *cid);
/* Lists: begin, then one call per item, then end. */
void json_joined_begin(struct jbuf *b, const char *room);
void json_joined_member(struct jbuf *b, const char *nick);
void json_joined_end(struct jbuf *b, unsigned count);
void json_history_begin(struct jbuf *b, const char *room);
void json_history_item(struct jbuf *b, const struct chat_record *r);
void json_history_end(struct jbuf *b, bool more);

enum request_type {
	REQ_MESSAGE,
	REQ_JOIN,
	REQ_LEAVE,
	REQ_NICK,
	REQ_HISTORY,
	REQ_TYPING,
};

struct request {
	enum request_type type;
	const char *room; /* NULL when absent */
	const char *nick;
	const char *cid;
	const char *text;
	size_t text_len;
	bool has_since, has_before, has_limit;
	int64_t since, before, limit;
	json_t *root; /* owns the strings above; NULL for a plain-text frame */
};

/*
 * Decodes one complete text frame (valid UTF-8) of len bytes. A frame whose
 * first non-space byte is not '{' is a message whose text is the whole frame
 * (text points into buf). Returns NULL on success, or an error code
 * (bad_json, bad_request, unknown_type) with *why set to a sentence; req->cid
 * is filled whenever it could be read, so errors can echo it. Either way the
 * caller calls request_fini().
 */
const char *request_parse(struct request *req, const char *buf, size_t len,
			  const char **why);
void request_fini(struct request *req);

#define REQUEST_MAX_CID 64

#endif
