/*
 * Opening-handshake checks, run before lws sees the upgrade. Each refusal is
 * a complete HTTP response, so a client learns why instead of seeing the
 * connection drop.
 */
#include "upgrade.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chat_proto.h"
#include "log.h"

#define CHAT_PATH "/chat"
/* Where socket.io clients connect: their default path, with the trailing
 * slash engine.io-client adds (the reference server wants it too). */
#define SOCKETIO_PATH "/socket.io/"

/*
 * Formatted here rather than with lws_add_http_header_status(), which
 * at this stage, before lws has looked at the request line, would say
 * HTTP/1.0. lws closes the connection after it (its keep-alive state is not
 * set up yet either), which the response says. Returns 1, or -1 to hang up.
 */
int
upgrade_refuse(struct lws *wsi, unsigned status, const char *reason,
	       const char *extra, const char *body)
{
	return upgrade_refuse_as(wsi, status, reason, extra, "text/plain",
				 body);
}

int
upgrade_refuse_as(struct lws *wsi, unsigned status, const char *reason,
		  const char *extra, const char *type, const char *body)
{
	unsigned char buf[LWS_PRE + 4096]; /* room for a long Location */
	char *start = (char *)&buf[LWS_PRE];
	int n;

	n = snprintf(start, sizeof(buf) - LWS_PRE,
		     "HTTP/1.1 %u %s\r\n"
		     "content-type: %s\r\n"
		     "x-content-type-options: nosniff\r\n"
		     "%s"
		     "content-length: %zu\r\n"
		     "connection: close\r\n"
		     "\r\n%s",
		     status, reason, type, extra, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
		return -1;
	if (lws_write(wsi, (unsigned char *)start, (size_t)n,
		      LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	log_debug("websocket upgrade refused: %u %s", status, reason);
	return 1;
}

/* 24 base64 characters ending in "==": exactly 16 bytes once decoded. */
static bool
key_is_valid(const char *key)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";

	if (strlen(key) != 24 || strcmp(key + 22, "=="))
		return false;
	return strspn(key, alphabet) == 22;
}

/*
 * lws binds the first name in Sec-WebSocket-Protocol that one of the
 * vhost's protocols has, the static-file and listener protocols included,
 * so the first such name must be "chat". No header means the default,
 * which is chat.
 */
static bool
subprotocol_is_chat(struct lws *wsi)
{
	char list[256], *save = NULL, *tok;
	int n = lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL);

	if (n < 0)
		return false; /* longer than any list a chat client sends */
	if (n == 0)
		return true;
	for (tok = strtok_r(list, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save))
		if (lws_vhost_name_to_protocol(lws_get_vhost(wsi), tok))
			return !strcmp(tok, CHAT_PROTOCOL_NAME);
	return false;
}

enum upgrade_endpoint
upgrade_endpoint(struct lws *wsi, bool socketio)
{
	char uri[64];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return UPGRADE_NONE;
	if (!strcmp(uri, CHAT_PATH))
		return UPGRADE_CHAT;
	if (socketio && !strcmp(uri, SOCKETIO_PATH))
		return UPGRADE_SOCKETIO;
	return UPGRADE_NONE;
}

/*
 * The value of query parameter name (lws keeps each "name=value" urldecoded
 * as a fragment), or NULL. lws_get_urlarg_by_name() stops at the first
 * fragment longer than its buffer, so a long token before EIO would hide
 * it; the buffer here holds any fragment (lws keeps all the headers of a
 * request in 4 KiB).
 */
static const char *
query_arg(struct lws *wsi, const char *name, char *buf, int len)
{
	size_t n = strlen(name);

	for (int i = 0;
	     lws_hdr_copy_fragment(wsi, buf, len, WSI_TOKEN_HTTP_URI_ARGS, i) >=
	     0;
	     i++)
		if (!strncmp(buf, name, n) && buf[n] == '=')
			return buf + n + 1;
	return NULL;
}

/* Copies a query value into out, or marks it as no valid one. */
static void
copy_value(const char *v, char *out, size_t outlen, const char *invalid,
	   bool *has)
{
	*has = v != NULL;
	if (!v)
		out[0] = '\0';
	else if (strlen(v) < outlen)
		strcpy(out, v);
	else
		strcpy(out, invalid);
}

void
upgrade_engineio_query(struct lws *wsi, struct upgrade_engineio_query *q)
{
	char buf[4096];

	copy_value(query_arg(wsi, "EIO", buf, sizeof(buf)), q->eio,
		   sizeof(q->eio), "?", &q->has_eio);
	copy_value(query_arg(wsi, "transport", buf, sizeof(buf)),
		   q->transport, sizeof(q->transport), "?",
		   &q->has_transport);
	copy_value(query_arg(wsi, "sid", buf, sizeof(buf)), q->sid,
		   sizeof(q->sid), "", &q->has_sid);
}

struct engineio_request
upgrade_engineio_request(const struct upgrade_engineio_query *q, bool get,
			 bool upgrade, enum engineio_sid sid)
{
	return (struct engineio_request){
		.eio = q->has_eio ? q->eio : NULL,
		.transport = q->has_transport ? q->transport : NULL,
		.sid = q->has_sid ? sid : ENGINEIO_SID_NONE,
		.get = get,
		.upgrade = upgrade,
	};
}

int
upgrade_confirm(struct lws *wsi, const char *upgrade, bool socketio,
		enum chat_stats_refusal *why)
{
	char version[8], key[64];
	char *uri_ptr = NULL;
	int uri_len = 0;
	enum upgrade_endpoint endpoint;
	enum engineio_error eio;

	if (!upgrade)
		return 0;
	/* lws 4.1.6 would take "h2c" and then WebSockets over HTTP/2, which
	 * never come through this check (origin, limits); lws answers other
	 * upgrade names with 403 itself. */
	*why = CHAT_STATS_REFUSED_BAD_REQUEST;
	if (!strcasecmp(upgrade, "h2c"))
		return upgrade_refuse(wsi, 400, "Bad Request", "",
				      "only WebSocket upgrades are served\n");
	if (strcasecmp(upgrade, "websocket"))
		return 0;
	*why = CHAT_STATS_REFUSED_METHOD;
	if (lws_http_get_uri_and_method(wsi, &uri_ptr, &uri_len) !=
	    LWSHUMETH_GET)
		return upgrade_refuse(wsi, 405, "Method Not Allowed",
				      "allow: GET\r\n",
				      "a WebSocket upgrade is a GET\n");
	*why = CHAT_STATS_REFUSED_PATH;
	endpoint = upgrade_endpoint(wsi, socketio);
	if (endpoint == UPGRADE_NONE)
		return upgrade_refuse(wsi, 404, "Not Found", "",
				      "the chat endpoint is " CHAT_PATH "\n");
	/* Engine.IO's own checks first, as its reference server makes them
	 * before the WebSocket handshake's. */
	*why = CHAT_STATS_REFUSED_BAD_REQUEST;
	eio = ENGINEIO_OK;
	if (endpoint == UPGRADE_SOCKETIO) {
		struct upgrade_engineio_query q;
		struct engineio_request r;

		upgrade_engineio_query(wsi, &q);
		r = upgrade_engineio_request(&q, true, true,
					     ENGINEIO_SID_POLLING);
		eio = engineio_check(&r);
	}
	if (eio != ENGINEIO_OK)
		return upgrade_refuse_as(wsi, 400, "Bad Request", "",
					 "application/json",
					 engineio_error_json(eio));
	*why = CHAT_STATS_REFUSED_VERSION;
	if (lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_VERSION) <=
		    0 ||
	    strcmp(version, "13"))
		return upgrade_refuse(wsi, 426, "Upgrade Required",
				      "sec-websocket-version: 13\r\n",
				      "only WebSocket version 13 is "
				      "supported\n");
	*why = CHAT_STATS_REFUSED_BAD_REQUEST;
	if (lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY) <= 0 ||
	    !key_is_valid(key))
		return upgrade_refuse(wsi, 400, "Bad Request", "",
				      "missing or invalid "
				      "Sec-WebSocket-Key\n");
	*why = CHAT_STATS_REFUSED_SUBPROTOCOL;
	if (!subprotocol_is_chat(wsi))
		return upgrade_refuse(wsi, 400, "Bad Request", "",
				      "the only subprotocol is \"chat\"\n");
	return 0;
}

/* Whether origin is one of the comma-separated list (or the list has *). */
static bool
in_list(const char *origin, const char *list)
{
	size_t olen = strlen(origin);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if ((len == 1 && *p == '*') ||
		    (len == olen && !strncasecmp(p, origin, len)))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

bool
upgrade_origin_allowed(struct lws *wsi, const char *allowed, char *origin,
		       size_t origin_len)
{
	char host[256], own[300];
	bool ctl = false;
	int n;

	origin[0] = '\0';
	if (!lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN))
		return true; /* not a browser: nothing to hijack */
	n = lws_hdr_copy(wsi, origin, (int)origin_len, WSI_TOKEN_ORIGIN);
	if (n <= 0)
		return false; /* longer than any real origin */
	/* The header is the client's, and it goes to the log: control
	 * bytes are masked, and an origin holding one is no origin. */
	for (char *q = origin; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f) {
			*q = '?';
			ctl = true;
		}
	if (ctl)
		return false;
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) > 0) {
		snprintf(own, sizeof(own), "%s://%s",
			 lws_is_ssl(wsi) ? "https" : "http", host);
		if (!strcasecmp(origin, own))
			return true;
	}
	return in_list(origin, allowed);
}
