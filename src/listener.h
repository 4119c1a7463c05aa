/*
 * listener: the sockets chatd listens on, bound by chatd itself and handed
 * to lws one accepted connection at a time. Owns the listening descriptors
 * until they are adopted into an lws vhost, which then owns them.
 *
 * Why not lws's own listener: lws 4.1.6 built with IPv6 reads an IPv4
 * address given as `iface` as an interface name and then writes it into the
 * wrong half of a sockaddr_in6, so it binds the wildcard; an address the
 * machine does not have is retried quietly instead of failing the start.
 */
#ifndef CHAT_LISTENER_H
#define CHAT_LISTENER_H

#include <stddef.h>

#include <libwebsockets.h>

/* "localhost" is one address per family; a few more names are plenty. */
#define LISTENER_MAX_SOCKETS 8
#define LISTENER_PROTOCOL_NAME "chatd-listener"

struct listener {
	int fds[LISTENER_MAX_SOCKETS];
	unsigned nfds;
	int port;             /* the bound port, also when 0 was asked */
	char url[300];        /* what the ready line shows, "http://[::1]:5000" */
	char where[160];      /* a note after the URL, "" or "(all interfaces)" */
};

/*
 * Binds and listens: host NULL means every interface (IPv6 and IPv4 on one
 * dual-stack socket, IPv4 alone where IPv6 is off); an IPv4 or IPv6 literal
 * binds that address only; a name binds every address it resolves to.
 * scheme is "http" or "https", for the URL. On failure returns -1 with one
 * line in err (strerror text) and nothing left open.
 */
int listener_open(struct listener *l, const char *host, unsigned port,
		  const char *scheme, char *err, size_t errlen);

/*
 * Hands the listening sockets to vh, whose protocol list must hold
 * listener_protocol(). From then on lws owns and closes them. Returns 0, or
 * -1 (logged) when lws refused one; the rest are closed then.
 */
int listener_adopt(struct listener *l, struct lws_vhost *vh);

/* Closes sockets not yet adopted (after a failed start). */
void listener_close(struct listener *l);

/* Per listening socket, as the protocol's per-session data. */
struct listener_pss {
	lws_sorted_usec_list_t resume; /* accepting again after a pause */
	struct lws *wsi;
};

/* The lws protocol that accepts on the adopted sockets. */
int listener_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len);

#endif
