/*
 * A vhost of its own for the redirect port: the chat vhost speaks TLS on
 * every connection adopted into it, this one never does.
 */
#include "redirect.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "upgrade.h"

static int https_port;

/*
 * Appends s percent-encoded to out: lws hands over the path and query
 * decoded, so they are encoded again for the Location. Unreserved bytes
 * and those in keep stay as they are.
 */
static bool
put_encoded(char *out, size_t outlen, size_t *used, const char *s,
	    const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~", c) ||
			     strchr(keep, c);

		if (*used + 4 >= outlen)
			return false;
		if (plain) {
			out[(*used)++] = (char)c;
		} else {
			out[(*used)++] = '%';
			out[(*used)++] = hex[c >> 4];
			out[(*used)++] = hex[c & 15];
		}
	}
	out[*used] = '\0';
	return true;
}

/* "https://HOST[:PORT]/path?query" from the request, into out. */
static int
location(struct lws *wsi, char *out, size_t outlen)
{
	char host[256] = "", path[1024] = "/", arg[1024], *end;
	size_t used;
	int n;

	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return -1; /* HTTP/1.1 requires Host; nowhere to send it */
	/* Drop the port the client used; keep an IPv6 literal's brackets. */
	end = strrchr(host, ':');
	if (end && (host[0] != '[' || end > strchr(host, ']')))
		*end = '\0';
	if (strpbrk(host, "/?#@\\ "))
		return -1; /* not a host name: no open redirect elsewhere */
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 &&
	    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_HEAD_URI) <= 0 &&
	    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_POST_URI) <= 0)
		snprintf(path, sizeof(path), "/");
	n = snprintf(out, outlen, "https://%s", host);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	used = (size_t)n;
	if (https_port != 443) {
		n = snprintf(out + used, outlen - used, ":%d", https_port);
		if (n < 0 || (size_t)n >= outlen - used)
			return -1;
		used += (size_t)n;
	}
	if (!put_encoded(out, outlen, &used, path, "/"))
		return -1;
	/* lws splits the query at '&' into fragments, each decoded. */
	for (int i = 0;
	     lws_hdr_copy_fragment(wsi, arg, sizeof(arg),
				   WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
	     i++) {
		if (used + 2 >= outlen)
			return -1;
		out[used++] = i ? '&' : '?';
		if (!put_encoded(out, outlen, &used, arg, "="))
			return -1;
	}
	return 0;
}

static int
send_redirect(struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 4096], *start = &buf[LWS_PRE], *p = start;
	unsigned char *end = &buf[sizeof(buf) - 1];
	char to[2600];

	if (location(wsi, to, sizeof(to))) {
		lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, NULL);
		return -1;
	}
	if (lws_add_http_header_status(wsi, 308, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LOCATION,
					 (unsigned char *)to, (int)strlen(to),
					 &p, end) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) ||
	    lws_write(wsi, start, (size_t)(p - start),
		      LWS_WRITE_HTTP_HEADERS | LWS_WRITE_H2_STREAM_END) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/*
 * An upgrade request (ws:// to this port) gets the same 308, written as
 * upgrade.c writes its refusals: before lws has read the request line it
 * would say HTTP/1.0, and it completes the transaction itself.
 */
static int
send_upgrade_redirect(struct lws *wsi)
{
	char to[2600], hdr[2700];

	if (location(wsi, to, sizeof(to)))
		return upgrade_refuse(wsi, 400, "Bad Request", "",
				      "no usable Host header\n");
	snprintf(hdr, sizeof(hdr), "location: %s\r\n", to);
	return upgrade_refuse(wsi, 308, "Permanent Redirect", hdr, "");
}

static int
redirect_callback(struct lws *wsi, enum lws_callback_reasons reason,
		  void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return send_redirect(wsi);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* A ws:// client goes to wss:// the same way. */
		return send_upgrade_redirect(wsi);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ .name = REDIRECT_PROTOCOL_NAME, .callback = redirect_callback },
	{ .name = LISTENER_PROTOCOL_NAME, .callback = listener_callback,
	  .per_session_data_size = sizeof(struct listener_pss) },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct lws_http_mount mount = {
	.mountpoint = "/",
	.mountpoint_len = 1,
	.origin = REDIRECT_PROTOCOL_NAME,
	.origin_protocol = LWSMPRO_CALLBACK,
};

struct lws_vhost *
redirect_vhost_create(struct lws_context *context, int port)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	https_port = port;
	memset(&info, 0, sizeof(info));
	/* Not NO_LISTEN_SERVER like the chat vhost: lws picks a request's
	 * vhost by listen port and Host (lws_select_vhost), and would move
	 * redirect requests over to the chat vhost. */
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.vhost_name = "redirect";
	info.protocols = protocols;
	info.mounts = &mount;
	vh = lws_create_vhost(context, &info);
	if (!vh)
		log_err("cannot create the redirect vhost");
	return vh;
}
