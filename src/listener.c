/*
 * Listening sockets bound by chatd (see listener.h for why not lws's), and
 * the raw-descriptor protocol that accepts on them and hands each new
 * connection to lws as if its own listener had accepted it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* accept4 */
#endif
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* As lws: a burst of thousands of connects must not overflow the queue
 * (a dropped SYN costs the client a second). */
#define LISTEN_BACKLOG SOMAXCONN
/* Accepts per wake-up, so a connect storm cannot starve the other events. */
#define ACCEPTS_PER_EVENT 64
/* Out of descriptors: stop accepting this long rather than spin on POLLIN. */
#define ACCEPT_PAUSE_US (100 * LWS_US_PER_MS)

static void
format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
			  ip, sizeof(ip));
		snprintf(out, outlen, "[%s]", ip);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  ip, sizeof(ip));
		snprintf(out, outlen, "%s", ip);
	}
}

static void
set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * One listening socket on sa. v6only is -1 to leave the kernel default, else
 * the IPV6_V6ONLY value. Returns the descriptor, or -1 with errno set.
 */
static int
listen_on(struct sockaddr *sa, socklen_t salen, int v6only)
{
	int fd, one = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	/* A restart must not wait for the last run's TIME_WAIT sockets;
	 * Linux still refuses a port another socket listens on. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (sa->sa_family == AF_INET6 && v6only >= 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
		goto fail;
	if (bind(fd, sa, salen) || listen(fd, LISTEN_BACKLOG))
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void
set_url(struct listener *l, const char *scheme, const char *host)
{
	/* An IPv6 literal goes in brackets, or no browser takes the URL. */
	bool v6 = strchr(host, ':') != NULL;

	snprintf(l->url, sizeof(l->url), "%s://%s%s%s:%d", scheme,
		 v6 ? "[" : "", host, v6 ? "]" : "", l->port);
}

/* No --host: one dual-stack socket, or IPv4 alone where IPv6 is off. */
static int
open_wildcard(struct listener *l, unsigned port, const char *scheme,
	      char *err, size_t errlen)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_ANY_INIT,
				   .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_ANY),
				  .sin_port = htons((uint16_t)port) };
	int fd;

	fd = listen_on((struct sockaddr *)&a6, sizeof(a6), 0);
	if (fd >= 0) {
		l->fds[l->nfds++] = fd;
		l->port = bound_port(fd);
		set_url(l, scheme, "::");
		snprintf(l->where, sizeof(l->where),
			 "(all interfaces, IPv6 and IPv4)");
		return 0;
	}
	if (errno != EAFNOSUPPORT) {
		snprintf(err, errlen, "cannot listen on port %u: %s", port,
			 strerror(errno));
		return -1;
	}
	fd = listen_on((struct sockaddr *)&a4, sizeof(a4), -1);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on port %u: %s", port,
			 strerror(errno));
		return -1;
	}
	l->fds[l->nfds++] = fd;
	l->port = bound_port(fd);
	set_url(l, scheme, "0.0.0.0");
	snprintf(l->where, sizeof(l->where), "(all IPv4 interfaces)");
	return 0;
}

int
listener_open(struct listener *l, const char *host, unsigned port,
	      const char *scheme, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char portstr[16], shown[INET6_ADDRSTRLEN + 2];
	int rc, fd, want = (int)port;

	memset(l, 0, sizeof(*l));
	l->port = -1;
	if (!host)
		return open_wildcard(l, port, scheme, err, errlen);

	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "--host %s: %s", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (l->nfds == LISTENER_MAX_SOCKETS)
			break;
		/* With port 0 the first bind picks the port; the other
		 * addresses of the name take the same one. */
		if (want == 0 && l->port > 0)
			set_port(ai->ai_addr, l->port);
		/* An IPv6 address means that address, never IPv4 too. */
		fd = listen_on(ai->ai_addr, ai->ai_addrlen, 1);
		if (fd < 0 && errno == EAFNOSUPPORT && ai != res)
			continue; /* a name's IPv6 address on an IPv4 host */
		if (fd < 0) {
			format_addr(ai->ai_addr, shown, sizeof(shown));
			snprintf(err, errlen, "cannot listen on %s:%d: %s",
				 shown, l->port > 0 ? l->port : want,
				 strerror(errno));
			freeaddrinfo(res);
			listener_close(l);
			return -1;
		}
		l->fds[l->nfds++] = fd;
		if (l->port <= 0)
			l->port = bound_port(fd);
	}
	freeaddrinfo(res);
	if (!l->nfds) {
		snprintf(err, errlen, "--host %s: no usable address", host);
		return -1;
	}
	set_url(l, scheme, host);
	return 0;
}

void
listener_close(struct listener *l)
{
	for (unsigned i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	l->nfds = 0;
}

int
listener_adopt(struct listener *l, struct lws_vhost *vh)
{
	lws_sock_file_fd_type fd;
	unsigned i;

	for (i = 0; i < l->nfds; i++) {
		fd.filefd = l->fds[i];
		if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd,
						LISTENER_PROTOCOL_NAME, NULL)) {
			log_err("cannot watch listening socket %d", l->fds[i]);
			/* lws closes only sockets it refused, not raw
			 * descriptors: this one and the rest are ours. */
			for (; i < l->nfds; i++)
				close(l->fds[i]);
			l->nfds = 0;
			return -1;
		}
	}
	l->nfds = 0; /* lws owns them now */
	return 0;
}

static void
resume_accepting(lws_sorted_usec_list_t *sul)
{
	struct listener_pss *pss = lws_container_of(sul, struct listener_pss, resume);

	lws_rx_flow_control(pss->wsi, 1);
}

/*
 * The kernel's send buffer per connection, fixed instead of autotuned
 * (Linux grows it up to tcp_wmem's 4 MiB): what a client has not read
 * stays in chatd's own queue, which --send-queue-bytes bounds and where a
 * pong or a close frame can still get ahead of the backlog, rather than
 * megabytes deep in the kernel. Linux doubles it for its bookkeeping;
 * a flush writes at most 64 KiB to a session at a time.
 */
#define SEND_BUFFER (128 * 1024)

static void
accept_some(struct lws *wsi, struct listener_pss *pss)
{
	int lfd = lws_get_socket_fd(wsi), fd, one = 1, sndbuf = SEND_BUFFER;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of descriptors or memory: the backlog keeps
			 * the connections; try again shortly instead of
			 * spinning on a socket that stays readable. */
			log_warn("accept: %s; pausing new connections",
				 strerror(errno));
			pss->wsi = wsi;
			lws_rx_flow_control(wsi, 0);
			lws_sul_schedule(lws_get_context(wsi), 0, &pss->resume,
					 resume_accepting, ACCEPT_PAUSE_US);
			return;
		}
		/* As lws's own listener does: small frames go out at once. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		/* On failure lws has closed fd already. */
		if (!lws_adopt_socket_vhost(lws_get_vhost(wsi), fd))
			log_warn("could not take a new connection");
	}
}

int
listener_callback(struct lws *wsi, enum lws_callback_reasons reason,
		  void *user, void *in, size_t len)
{
	struct listener_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (pss)
			accept_some(wsi, pss);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (pss)
			lws_sul_cancel(&pss->resume);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* never a WebSocket subprotocol */
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
