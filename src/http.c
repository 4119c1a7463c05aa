/*
 * Static files and /healthz. Request paths are checked segment by segment
 * (no "..", no hidden files) and the resolved file must still lie under the
 * document root, so no spelling of a path escapes www/.
 */
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct http_vhd {
	const char *root; /* resolved document root, from the "www" pvo */
	size_t root_len;
};

static const char healthz_body[] = "{\"status\":\"ok\"}";

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

/* Resolves uri under the root into out; 0 when it names a served file. */
static int
resolve(const struct http_vhd *vhd, const char *uri, char *out)
{
	char joined[PATH_MAX];
	struct stat st;
	size_t n = strlen(uri);
	int len;

	if (!path_is_clean(uri))
		return -1;
	len = snprintf(joined, sizeof(joined), "%s%s%s", vhd->root, uri,
		       uri[n - 1] == '/' ? "index.html" : "");
	if (len < 0 || (size_t)len >= sizeof(joined))
		return -1;
	if (!realpath(joined, out) || stat(out, &st))
		return -1;
	if (S_ISDIR(st.st_mode)) {
		/* "/dir" shows "/dir/index.html", as "/" does; resolved
		 * again, since that index.html may itself be a symlink. */
		if (strlen(out) + sizeof("/index.html") > PATH_MAX)
			return -1;
		strcpy(joined, out);
		strcat(joined, "/index.html");
		if (!realpath(joined, out) || stat(out, &st))
			return -1;
	}
	/* A symlink inside www/ may point anywhere: check where it landed. */
	if (!S_ISREG(st.st_mode) || strncmp(out, vhd->root, vhd->root_len) ||
	    out[vhd->root_len] != '/')
		return -1;
	return 0;
}

static int
send_healthz_headers(struct lws *wsi, struct http_pss *pss)
{
	/* Room for the security headers lws adds to every response. */
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = &buf[LWS_PRE], *p = start;
	unsigned char *end = &buf[sizeof(buf) - 1];

	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json",
					sizeof(healthz_body) - 1, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	pss->healthz_pending = 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
send_status(struct lws *wsi, unsigned code)
{
	if (lws_return_http_status(wsi, code, NULL))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
on_http(struct lws *wsi, const struct http_vhd *vhd, struct http_pss *pss)
{
	char uri[1024], path[PATH_MAX];
	const char *mime;
	int n;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return send_status(wsi, HTTP_STATUS_BAD_REQUEST);
	if (!strcmp(uri, "/healthz"))
		return send_healthz_headers(wsi, pss);
	if (!vhd || resolve(vhd, uri, path))
		return send_status(wsi, HTTP_STATUS_NOT_FOUND);
	mime = lws_get_mimetype(path, NULL);
	n = lws_serve_http_file(wsi, path, mime ? mime : "application/octet-stream",
				NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	      void *in, size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct http_vhd *vhd =
		vh ? lws_protocol_vh_priv_get(vh, lws_get_protocol(wsi)) : NULL;
	const struct lws_protocol_vhost_options *pvo;
	unsigned char buf[LWS_PRE + sizeof(healthz_body)];

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		pvo = lws_pvo_search(in, "www");
		if (!pvo)
			return 0; /* a vhost without a site serves 404s */
		vhd = lws_protocol_vh_priv_zalloc(vh, lws_get_protocol(wsi),
						  sizeof(*vhd));
		if (!vhd)
			return -1;
		vhd->root = pvo->value;
		vhd->root_len = strlen(pvo->value);
		return 0;

	case LWS_CALLBACK_HTTP:
		return on_http(wsi, vhd, user);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		/* lws may ask on its own (after draining a partial write):
		 * only a pending /healthz has a body to send, in one piece. */
		if (!user || !((struct http_pss *)user)->healthz_pending)
			break;
		((struct http_pss *)user)->healthz_pending = 0;
		memcpy(&buf[LWS_PRE], healthz_body, sizeof(healthz_body) - 1);
		if (lws_write(wsi, &buf[LWS_PRE], sizeof(healthz_body) - 1,
			      LWS_WRITE_HTTP_FINAL) < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
