/*
 * Static files, /healthz and /metrics, for GET and HEAD; any other method
 * gets 405. /socket.io/ is socket.io's: its client bundle
 * (socketio_client.h), and Engine.IO's polling transport with its POSTs
 * (eio_poll.h). The metrics vhost (--metrics-listen) serves /metrics alone.
 * Request paths are checked segment by segment (no "..", no hidden files)
 * and the resolved file must still lie under the document root, so no
 * spelling of a path escapes www/. Files carry ETag and Last-Modified and
 * answer conditional requests with 304.
 */
#include "http.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chat.h"
#include "chat_proto.h"
#include "cluster.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "socketio_client.h"
#include "upgrade.h"

#define HTTP_ALLOW "GET, HEAD"
#define HTTP_TEXT "text/plain; charset=utf-8"
/*
 * Every file is revalidated on every load: the client's modules are not
 * fingerprinted (js/app.js imports ./chat.js by name), so a cached module
 * could outlive a deploy and run against a newer index.html. A revalidation
 * costs one round trip and a 304 without a body.
 */
#define HTTP_FILE_CACHE "no-cache"

struct http_vhd {
	const char *root; /* resolved document root, "www" pvo; NULL: none */
	size_t root_len;
	/* The "metrics" pvo: the vhost whose chat /metrics shows; NULL:
	 * /metrics is 404 here (it has a listener of its own). */
	const char *metrics_of;
	/* The "socketio" pvo: /socket.io/ is Engine.IO's (socketio.h). */
	bool socketio;
	/* Its value: socket.io-client's bundle folder; "": none found. */
	const char *socketio_client;
};

/* What a served file is known by: both validators, as sent. */
struct validators {
	char etag[64];
	/* 29 used; the rest keeps -Wformat-truncation quiet. */
	char last_modified[80];
};

static const char healthz_body[] = "{\"status\":\"ok\"}";
/* Cluster mode: whether this instance can take messages (cluster.h). */
static const char healthz_redis_up[] = "{\"status\":\"ok\",\"redis\":\"up\"}";
static const char healthz_redis_down[] =
	"{\"status\":\"unavailable\",\"redis\":\"down\"}";

void
http_mount_init(struct lws_http_mount *mount)
{
	memset(mount, 0, sizeof(*mount));
	mount->mountpoint = "/";
	mount->mountpoint_len = 1;
	mount->origin = HTTP_PROTOCOL_NAME;
	mount->origin_protocol = LWSMPRO_CALLBACK;
}

/* Every segment must be a plain name: no "", ".", ".." or dotfiles. */
static int
path_is_clean(const char *uri)
{
	const char *p = uri;

	if (*p != '/')
		return 0;
	while (*p == '/') {
		const char *seg = ++p;

		while (*p && *p != '/')
			p++;
		if (p == seg) {
			if (!*p)
				return 1; /* a trailing slash */
			return 0;
		}
		if (*seg == '.' || memchr(seg, '\\', (size_t)(p - seg)))
			return 0;
	}
	return *p == '\0';
}

int
http_resolve_path(const char *root, size_t root_len, const char *uri,
		  char *out, struct stat *st)
{
	char joined[PATH_MAX];
	size_t n = strlen(uri);
	int len;

	if (!path_is_clean(uri))
		return -1;
	len = snprintf(joined, sizeof(joined), "%s%s%s", root, uri,
		       uri[n - 1] == '/' ? "index.html" : "");
	if (len < 0 || (size_t)len >= sizeof(joined))
		return -1;
	if (!realpath(joined, out) || stat(out, st))
		return -1;
	if (S_ISDIR(st->st_mode)) {
		/* "/dir" shows "/dir/index.html", as "/" does; resolved
		 * again, since that index.html may itself be a symlink. */
		if (strlen(out) + sizeof("/index.html") > PATH_MAX)
			return -1;
		strcpy(joined, out);
		strcat(joined, "/index.html");
		if (!realpath(joined, out) || stat(out, st))
			return -1;
	}
	/* A symlink inside www/ may point anywhere: check where it landed. */
	if (!S_ISREG(st->st_mode) || strncmp(out, root, root_len) ||
	    out[root_len] != '/')
		return -1;
	return 0;
}

static int
add_header(struct lws *wsi, enum lws_token_indexes token, const char *value,
	   unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_token(wsi, token,
					    (const unsigned char *)value,
					    (int)strlen(value), p, end);
}

/*
 * Every response but a GET of a file is written whole, in one lws_write,
 * from a buffer of its own and right from LWS_CALLBACK_HTTP. A body left
 * for HTTP_WRITEABLE may never go out: lws does not ask for that callback
 * while the request's own body, or a request pipelined behind it, waits to
 * be read. And lws's own builders (lws_return_http_status, the headers of
 * lws_serve_http_file) use the per-thread buffer that still holds those
 * unread bytes, so a pipelined request would be overwritten.
 */
#define HTTP_HEAD_ROOM 2048 /* ours plus the security headers lws adds */

static int
finish(struct lws *wsi, unsigned char *start, unsigned char *p)
{
	if (lws_write(wsi, start, (size_t)lws_ptr_diff(p, start),
		      LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	/* With a request body still unread, lws first discards it. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A response of len body bytes; HEAD gets its headers alone. allow: an
 * Allow value. */
static int
compose(struct lws *wsi, bool head, unsigned code, const char *allow,
	const char *type, const char *body, size_t len, unsigned char **p,
	unsigned char *end)
{
	if (lws_add_http_common_headers(wsi, code, type, len, p, end) ||
	    add_header(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, "no-store", p,
		       end) ||
	    (allow && add_header(wsi, WSI_TOKEN_HTTP_ALLOW, allow, p, end)) ||
	    lws_finalize_http_header(wsi, p, end))
		return -1;
	if (head)
		return 0;
	if ((size_t)(end - *p) < len)
		return -1;
	memcpy(*p, body, len);
	*p += len;
	return 0;
}

static int
send_whole(struct lws *wsi, bool head, unsigned code, const char *allow,
	   const char *type, const char *body)
{
	unsigned char buf[LWS_PRE + HTTP_HEAD_ROOM];
	unsigned char *start = &buf[LWS_PRE], *p = start;

	if (compose(wsi, head, code, allow, type, body, strlen(body), &p,
		    &buf[sizeof(buf) - 1]))
		return -1;
	return finish(wsi, start, p);
}

int
http_respond(struct lws *wsi, bool head, unsigned code, const char *type,
	     const char *body, size_t len)
{
	size_t size = LWS_PRE + HTTP_HEAD_ROOM + len;
	unsigned char *buf = malloc(size), *p;
	int rc = -1;

	if (!buf)
		return -1;
	p = &buf[LWS_PRE];
	if (!compose(wsi, head, code, NULL, type, body, len, &p,
		     &buf[size - 1]))
		rc = finish(wsi, &buf[LWS_PRE], p);
	free(buf);
	return rc;
}

static int
send_error(struct lws *wsi, bool head, unsigned code)
{
	switch (code) {
	case HTTP_STATUS_NOT_FOUND:
		return send_whole(wsi, head, code, NULL, HTTP_TEXT,
				  "Not Found\n");
	case HTTP_STATUS_METHOD_NOT_ALLOWED:
		return send_whole(wsi, head, code, HTTP_ALLOW, HTTP_TEXT,
				  "Method Not Allowed\n");
	default:
		return send_whole(wsi, head, code, NULL, HTTP_TEXT,
				  "Bad Request\n");
	}
}

/* IMF-fixdate, as RFC 9110 asks; by hand, since strftime follows locale. */
static void
http_date(time_t t, char *out, size_t outlen)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
					 "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
		tm.tm_wday = 4;
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Any of the three HTTP-date forms (RFC 9110 5.6.7); -1 when none fits. */
static time_t
http_date_parse(const char *s)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",      /* asctime */
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tm tm;
		const char *rest;

		memset(&tm, 0, sizeof(tm));
		rest = strptime(s, forms[i], &tm);
		if (rest && !*rest)
			return timegm(&tm);
	}
	return -1;
}

/*
 * The ETag changes with the size or the nanosecond mtime, as nginx's does;
 * a strong tag, since the bytes are sent as stored.
 */
static void
validators_init(struct validators *v, const struct stat *st)
{
	unsigned long long ns = (unsigned long long)st->st_mtim.tv_sec *
					1000000000ull +
				(unsigned long long)st->st_mtim.tv_nsec;

	snprintf(v->etag, sizeof(v->etag), "\"%llx-%llx\"",
		 (unsigned long long)st->st_size, ns);
	http_date(st->st_mtim.tv_sec, v->last_modified,
		  sizeof(v->last_modified));
}

/* If-None-Match: "*" or a list of tags, compared weakly (RFC 9110 13.1.2). */
static bool
etag_listed(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, " \t,");
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		len = strcspn(p, ",");
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && !memcmp(p, etag, n))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static bool
not_modified(struct lws *wsi, const struct validators *v,
	     const struct stat *st)
{
	char h[512];
	time_t since;

	/* If-None-Match wins: If-Modified-Since is then ignored. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH))
		return lws_hdr_copy(wsi, h, sizeof(h),
				    WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0 &&
		       etag_listed(h, v->etag);
	if (lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_IF_MODIFIED_SINCE) <=
	    0)
		return false;
	since = http_date_parse(h);
	/* A date from the future is not one this server handed out. */
	if (since < 0 || since > time(NULL))
		return false;
	return st->st_mtim.tv_sec <= since;
}

/* The validators and the cache policy, as a 200 or a 304 carries them. */
static int
add_cache_headers(struct lws *wsi, const struct validators *v,
		  unsigned char **p, unsigned char *end)
{
	return add_header(wsi, WSI_TOKEN_HTTP_ETAG, v->etag, p, end) ||
	       add_header(wsi, WSI_TOKEN_HTTP_LAST_MODIFIED, v->last_modified,
			  p, end) ||
	       add_header(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, HTTP_FILE_CACHE,
			  p, end);
}

/*
 * The headers of a file alone: a 304, or the 200 a HEAD gets. They match
 * what lws_serve_http_file sends for the GET (with Accept-Ranges and gzip
 * both off in Debian's lws 4.1.6).
 */
static int
send_file_headers(struct lws *wsi, unsigned code, const char *mime,
		  const struct stat *st, const struct validators *v)
{
	unsigned char buf[LWS_PRE + HTTP_HEAD_ROOM];
	unsigned char *start = &buf[LWS_PRE], *p = start;
	unsigned char *end = &buf[sizeof(buf) - 1];
	int n;

	/* A 304 has no Content-Length: it would have to be the 200's. */
	if (code == HTTP_STATUS_NOT_MODIFIED)
		n = lws_add_http_header_status(wsi, code, &p, end);
	else
		n = lws_add_http_common_headers(wsi, code, mime,
						(lws_filepos_t)st->st_size, &p,
						end);
	if (n || add_cache_headers(wsi, v, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	return finish(wsi, start, p);
}

static int
serve_file_as(struct lws *wsi, bool head, const char *path,
	      const struct stat *st, const char *mime)
{
	unsigned char hdrs[256];
	unsigned char *p = hdrs, *end = &hdrs[sizeof(hdrs) - 1];
	struct validators v;
	int n;

	validators_init(&v, st);
	if (not_modified(wsi, &v, st))
		return send_file_headers(wsi, HTTP_STATUS_NOT_MODIFIED, mime,
					 st, &v);
	if (head)
		return send_file_headers(wsi, HTTP_STATUS_OK, mime, st, &v);
	/* lws adds the status, Content-Type and Content-Length, and leaves
	 * out its own "no-store" once other_headers hold a cache-control. */
	if (add_cache_headers(wsi, &v, &p, end))
		return -1;
	n = lws_serve_http_file(wsi, path, mime, (const char *)hdrs,
				lws_ptr_diff(p, hdrs));
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* A file of www/, typed by lws from its extension. */
static int
serve_file(struct lws *wsi, bool head, const char *path,
	   const struct stat *st)
{
	const char *mime = lws_get_mimetype(path, NULL);

	return serve_file_as(wsi, head, path, st,
			     mime ? mime : "application/octet-stream");
}

/*
 * socket.io-client's bundle, as node's socket.io server serves it, but
 * with the validators and cache policy of every other file. The folder
 * was resolved at start-up and the names are fixed, so no path check; no
 * folder is a 404, as server.c warned then.
 */
static int
serve_socketio_client(struct lws *wsi, const struct http_vhd *vhd, bool head,
		      const struct socketio_client_file *f)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	if (!vhd->socketio_client || !*vhd->socketio_client)
		return send_error(wsi, head, HTTP_STATUS_NOT_FOUND);
	n = snprintf(path, sizeof(path), "%s/%s", vhd->socketio_client,
		     f->name);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) ||
	    !S_ISREG(st.st_mode))
		return send_error(wsi, head, HTTP_STATUS_NOT_FOUND);
	return serve_file_as(wsi, head, path, &st, f->type);
}

/* Written whole like the others, from a buffer sized to the text. */
static int
send_metrics(struct lws *wsi, bool head, const char *chat_vhost)
{
	struct lws_vhost *vh =
		lws_get_vhost_by_name(lws_get_context(wsi), chat_vhost);
	const struct lws_protocols *proto =
		vh ? lws_vhost_name_to_protocol(vh, CHAT_PROTOCOL_NAME) : NULL;
	size_t len = 0;
	char *text = metrics_render(proto ? chat_proto_chat(vh, proto) : NULL,
				    &len);
	int rc;

	if (!text) {
		log_warn("out of memory rendering /metrics; connection closed");
		return -1;
	}
	rc = http_respond(wsi, head, HTTP_STATUS_OK, METRICS_CONTENT_TYPE,
			  text, len);
	free(text);
	return rc;
}

/* 200, or in cluster mode 503 while Redis is down or being caught up
 * with: a load balancer then sends newcomers to an instance that works. */
static int
send_healthz(struct lws *wsi, bool head)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	const struct lws_protocols *proto =
		lws_vhost_name_to_protocol(vh, CHAT_PROTOCOL_NAME);
	const struct chat *chat = proto ? chat_proto_chat(vh, proto) : NULL;
	const char *body = healthz_body;
	unsigned code = HTTP_STATUS_OK;

	if (chat && chat->cluster) {
		bool up = cluster_state(chat->cluster) == CLUSTER_UP;

		body = up ? healthz_redis_up : healthz_redis_down;
		code = up ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
	}
	return send_whole(wsi, head, code, NULL, "application/json", body);
}

static int
on_http(struct lws *wsi, const struct http_vhd *vhd, struct http_pss *pss)
{
	enum lws_token_indexes method = WSI_TOKEN_GET_URI;
	const struct socketio_client_file *bundle_file;
	char uri[1024], path[PATH_MAX];
	struct stat st;
	bool head;

	/*
	 * lws keeps the path under the method's token, and lets only one
	 * method through; those it does not know (TRACE, made-up ones) get
	 * its 403 before any callback, and CONNECT goes to on_connect.
	 */
	head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
	if (head)
		method = WSI_TOKEN_HEAD_URI;
	else if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		method = WSI_TOKEN_POST_URI; /* Engine.IO's, or 405 */
	else if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return send_error(wsi, false, HTTP_STATUS_METHOD_NOT_ALLOWED);
	if (lws_hdr_copy(wsi, uri, sizeof(uri), method) <= 0)
		return send_error(wsi, head, HTTP_STATUS_BAD_REQUEST);
	/* Engine.IO's polling transport (eio_poll.h): polls and POSTs. */
	if (vhd && vhd->root && vhd->socketio && !strcmp(uri, "/socket.io/"))
		return eio_poll_http(wsi, &pss->poll);
	if (method == WSI_TOKEN_POST_URI)
		return send_error(wsi, false, HTTP_STATUS_METHOD_NOT_ALLOWED);
	if (vhd && vhd->metrics_of && !strcmp(uri, "/metrics"))
		return send_metrics(wsi, head, vhd->metrics_of);
	if (!vhd || !vhd->root)
		return send_error(wsi, head, HTTP_STATUS_NOT_FOUND);
	bundle_file = vhd->socketio ? socketio_client_find(uri) : NULL;
	if (bundle_file)
		return serve_socketio_client(wsi, vhd, head, bundle_file);
	if (!strcmp(uri, "/healthz"))
		return send_healthz(wsi, head);
	if (http_resolve_path(vhd->root, vhd->root_len, uri, path, &st))
		return send_error(wsi, head, HTTP_STATUS_NOT_FOUND);
	return serve_file(wsi, head, path, &st);
}

/*
 * lws 4.1.6 turns a CONNECT into a raw socket on the vhost's first
 * protocol, this one, and would then hold it open for good: answer it like
 * any other method, then close (lws sends what is buffered first).
 */
static int
on_connect(struct lws *wsi)
{
	unsigned char buf[LWS_PRE + HTTP_HEAD_ROOM];
	unsigned char *start = &buf[LWS_PRE], *p = start;

	if (!compose(wsi, false, HTTP_STATUS_METHOD_NOT_ALLOWED, HTTP_ALLOW,
		     HTTP_TEXT, "Method Not Allowed\n",
		     sizeof("Method Not Allowed\n") - 1, &p,
		     &buf[sizeof(buf) - 1]))
		lws_write(wsi, start, (size_t)lws_ptr_diff(p, start),
			  LWS_WRITE_RAW);
	return -1;
}

int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	      void *in, size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct http_vhd *vhd =
		vh ? lws_protocol_vh_priv_get(vh, lws_get_protocol(wsi)) : NULL;
	struct http_pss *pss = user;
	const struct lws_protocol_vhost_options *www, *metrics, *sio;

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		www = lws_pvo_search(in, "www");
		metrics = lws_pvo_search(in, "metrics");
		if (!www && !metrics)
			return 0; /* a vhost without either serves 404s */
		vhd = lws_protocol_vh_priv_zalloc(vh, lws_get_protocol(wsi),
						  sizeof(*vhd));
		if (!vhd)
			return -1;
		if (www) {
			vhd->root = www->value;
			vhd->root_len = strlen(www->value);
		}
		if (metrics)
			vhd->metrics_of = metrics->value;
		sio = lws_pvo_search(in, "socketio");
		vhd->socketio = sio != NULL;
		vhd->socketio_client = sio ? sio->value : NULL;
		return 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* No chat where there is no site: the metrics vhost. */
		if (!vhd || !vhd->root)
			return upgrade_refuse(wsi, 404, "Not Found", "",
					      "no WebSocket endpoint here\n");
		/* A keep-alive connection bound here by an earlier request. */
		return chat_proto_confirm_upgrade(wsi, in);

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* static files are no WebSocket subprotocol */

	case LWS_CALLBACK_HTTP:
		return on_http(wsi, vhd, pss);

	case LWS_CALLBACK_HTTP_BODY:
		if (pss && pss->poll.active)
			return eio_poll_body(wsi, &pss->poll, in, len);
		break;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss && pss->poll.active)
			return eio_poll_body_done(wsi, &pss->poll);
		break;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (pss && pss->poll.active)
			return eio_poll_writeable(wsi, &pss->poll);
		break;

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* The storage goes: on a close, and when lws binds the
		 * connection anew for its next request (a pipelined one
		 * behind a waiting poll included), which sends no CLOSED. */
		if (pss)
			eio_poll_req_reset(&pss->poll);
		break;

	case LWS_CALLBACK_RAW_RX:
		return on_connect(wsi);

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols metrics_protocols[] = {
	{
		.name = HTTP_PROTOCOL_NAME,
		.callback = http_callback,
		.per_session_data_size = sizeof(struct http_pss),
	},
	{
		.name = LISTENER_PROTOCOL_NAME,
		.callback = listener_callback,
		.per_session_data_size = sizeof(struct listener_pss),
	},
	{ NULL, NULL, 0, 0, 0, NULL, 0 } /* terminator */
};

struct lws_vhost *
http_metrics_vhost_create(struct lws_context *context, const char *chat_vhost)
{
	/* lws keeps pointers to these for the vhost's life, not copies. */
	static struct lws_protocol_vhost_options pvo_metrics = {
		NULL, NULL, "metrics", NULL
	};
	static const struct lws_protocol_vhost_options pvo_http = {
		NULL, &pvo_metrics, HTTP_PROTOCOL_NAME, ""
	};
	static struct lws_http_mount mount;
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	pvo_metrics.value = chat_vhost;
	http_mount_init(&mount);
	memset(&info, 0, sizeof(info));
	/* Not NO_LISTEN_SERVER, as redirect.c explains: lws would move its
	 * requests over to the chat vhost. */
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.vhost_name = HTTP_METRICS_VHOST_NAME;
	info.protocols = metrics_protocols;
	info.pvo = &pvo_http;
	info.mounts = &mount;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	vh = lws_create_vhost(context, &info);
	if (!vh)
		log_err("cannot create the metrics vhost");
	return vh;
}
