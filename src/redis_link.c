/*
 * A self-healing hiredis async connection. States: WAIT (backoff before
 * the next try), CONNECTING, HANDSHAKE (AUTH, SELECT, PING sent), UP. One
 * 100 ms watchdog timer drives the retries and the timeouts.
 *
 * hiredis frees a context itself when its connection fails, after running
 * the outstanding callbacks with a NULL reply; a context chatd drops
 * (timeout, reset) is freed with redisAsyncFree, which does the same.
 * Either way the link forgets the context first (l->ac), so callbacks
 * that arrive from a dropped context are recognised as stale by their
 * generation and touch nothing but their own command.
 */
#include "redis_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libev.h>

#include "log.h"

#define WATCHDOG_S 0.1

enum link_state {
	LINK_WAIT,
	LINK_RESOLVING, /* looking the host name up again (getaddrinfo_a) */
	LINK_CONNECTING,
	LINK_HANDSHAKE,
	LINK_UP,
};

struct redis_link {
	struct ev_loop *loop;
	char name[16];
	char host[REDIS_URL_HOST_MAX + 1];
	bool literal; /* host is an IP address: nothing to look up */
	char ip[INET6_ADDRSTRLEN]; /* the address connects go to */
	/* A lookup on glibc's resolver thread: the name's address may change
	 * (a container recreated), and the service thread never waits. */
	struct lookup *lookup;
	char shown[REDIS_URL_HOST_MAX + 16]; /* host:port, for logs */
	unsigned port;
	char password[REDIS_URL_PASSWORD_MAX + 1];
	unsigned db;
	struct redis_link_events ev;
	void *ud;
	redisAsyncContext *ac; /* NULL in WAIT */
	enum link_state state;
	ev_timer watchdog;
	int64_t since_ms;    /* RESOLVING, CONNECTING, HANDSHAKE: since when */
	int64_t retry_at_ms; /* WAIT: when to try again */
	unsigned backoff_ms;
	unsigned gen;        /* bumped whenever a context is given up */
	unsigned outstanding; /* commands still waiting for a first reply */
	int64_t progress_ms; /* last reply, or when outstanding left 0 */
	unsigned handshake_left;
	bool ever_up;
	bool failing_logged; /* one warning per run of failed tries */
	struct redis_link_stats stats;
};

/* One command in flight: its callback and the generation it belongs to. */
struct link_cmd {
	struct redis_link *l;
	redis_link_reply_fn cb;
	void *priv;
	unsigned gen;
	bool subscribe;
	bool counted; /* still in l->outstanding */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void try_connect(struct redis_link *l);

/* One getaddrinfo_a request: owned by the link until it is done, when it
 * may outlive the link (glibc's thread still writes into it). */
struct lookup {
	struct gaicb gai;
	struct addrinfo hints;
	char host[REDIS_URL_HOST_MAX + 1];
};

static void
lookup_free(struct lookup *q)
{
	if (q->gai.ar_result)
		freeaddrinfo(q->gai.ar_result);
	free(q);
}

/* Each retry looks the name up afresh, without waiting for the answer. */
static void
start_resolve(struct redis_link *l)
{
	struct lookup *q = calloc(1, sizeof(*q));
	struct gaicb *list[1];

	if (!q) {
		try_connect(l); /* the last address it had, then */
		return;
	}
	snprintf(q->host, sizeof(q->host), "%s", l->host);
	q->hints.ai_socktype = SOCK_STREAM;
	q->gai.ar_name = q->host;
	q->gai.ar_request = &q->hints;
	list[0] = &q->gai;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) {
		free(q);
		try_connect(l);
		return;
	}
	l->lookup = q;
	l->state = LINK_RESOLVING;
	l->since_ms = now_ms();
}

/* The first address of res, as text into out. */
static void
first_address(const struct addrinfo *res, char *out, size_t len)
{
	const void *addr;

	if (res->ai_family == AF_INET6)
		addr = &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr;
	else
		addr = &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
	inet_ntop(res->ai_family, addr, out, (socklen_t)len);
}

/* Called by the watchdog while RESOLVING. */
static void
check_resolve(struct redis_link *l)
{
	struct lookup *q = l->lookup;
	int rc = gai_error(&q->gai);
	char ip[INET6_ADDRSTRLEN];

	if (rc == EAI_INPROGRESS) {
		if (now_ms() - l->since_ms <= REDIS_LINK_TIMEOUT_MS ||
		    gai_cancel(&q->gai) != EAI_CANCELED)
			return; /* not yet (or it cannot be stopped: wait) */
		l->lookup = NULL;
		lookup_free(q);
		try_connect(l); /* too slow: the last address it had */
		return;
	}
	if (!rc && q->gai.ar_result) {
		first_address(q->gai.ar_result, ip, sizeof(ip));
		if (strcmp(ip, l->ip)) {
			log_info("redis %s: %s is at %s now", l->name, l->host,
				 ip);
			snprintf(l->ip, sizeof(l->ip), "%s", ip);
		}
	}
	l->lookup = NULL;
	lookup_free(q);
	try_connect(l);
}

/* A lookup still running when the link goes: cancelled, or (once glibc's
 * thread has it) left to that thread, a few bytes at exit. The stop does
 * not wait for a name server. */
static void
end_resolve(struct redis_link *l)
{
	struct lookup *q = l->lookup;

	if (!q)
		return;
	l->lookup = NULL;
	if (gai_cancel(&q->gai) == EAI_NOTCANCELED &&
	    gai_error(&q->gai) == EAI_INPROGRESS)
		return;
	lookup_free(q);
}

/* The context is gone (or going): fail over to WAIT and tell the user. */
static void
fail(struct redis_link *l, const char *why)
{
	bool was_up = l->state == LINK_UP;
	unsigned jitter = l->backoff_ms / 4;

	l->state = LINK_WAIT;
	l->gen++;
	l->outstanding = 0;
	l->retry_at_ms = now_ms() + l->backoff_ms +
			 (jitter ? (int64_t)((unsigned)rand() % jitter) : 0);
	if (was_up) {
		log_warn("redis %s: connection to %s lost (%s); reconnecting",
			 l->name, l->shown, why);
		l->failing_logged = true;
	} else if (!l->failing_logged) {
		log_warn("redis %s: cannot connect to %s (%s); retrying",
			 l->name, l->shown, why);
		l->failing_logged = true;
	}
	l->backoff_ms *= 2;
	if (l->backoff_ms > REDIS_LINK_BACKOFF_MAX_MS)
		l->backoff_ms = REDIS_LINK_BACKOFF_MAX_MS;
	if (was_up && l->ev.down)
		l->ev.down(l, l->ud);
}

/* chatd gives the context up: forget it, then free it (which runs the
 * outstanding callbacks with NULL, now stale). */
static void
drop(struct redis_link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;

	l->ac = NULL;
	fail(l, why);
	if (ac)
		redisAsyncFree(ac);
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct link_cmd *c = privdata;
	struct redis_link *l = c->l;

	(void)ac;
	if (c->counted) {
		c->counted = false;
		if (c->gen == l->gen) {
			l->outstanding--;
			l->progress_ms = now_ms();
		}
	}
	if (reply && c->gen == l->gen)
		l->stats.replies++;
	c->cb(l, reply, c->priv);
	if (!reply || !c->subscribe)
		free(c);
}

static int
send_argv(struct redis_link *l, bool subscribe, redis_link_reply_fn cb,
	  void *priv, int argc, const char **argv, const size_t *argvlen)
{
	struct link_cmd *c = malloc(sizeof(*c));

	if (!c)
		return -1;
	*c = (struct link_cmd){
		.l = l, .cb = cb, .priv = priv, .gen = l->gen,
		.subscribe = subscribe, .counted = true,
	};
	if (redisAsyncCommandArgv(l->ac, on_reply, c, argc, argv, argvlen) !=
	    REDIS_OK) {
		free(c);
		return -1;
	}
	if (!l->outstanding++)
		l->progress_ms = now_ms();
	return 0;
}

static void
become_up(struct redis_link *l)
{
	l->state = LINK_UP;
	l->backoff_ms = REDIS_LINK_BACKOFF_MIN_MS;
	if (l->ever_up)
		l->stats.reconnects++;
	if (!l->ever_up || l->failing_logged)
		log_info("redis %s: connected to %s", l->name, l->shown);
	l->ever_up = true;
	l->failing_logged = false;
	if (l->ev.up)
		l->ev.up(l, l->ud);
}

static void
on_handshake(struct redis_link *l, struct redisReply *reply, void *priv)
{
	(void)priv;
	if (!reply || l->state != LINK_HANDSHAKE)
		return; /* failed with its context; already handled */
	if (reply->type == REDIS_REPLY_ERROR) {
		char why[160];

		snprintf(why, sizeof(why), "%s", reply->str);
		drop(l, why);
		return;
	}
	if (--l->handshake_left == 0)
		become_up(l);
}

static void
handshake(struct redis_link *l)
{
	char db[16];
	const char *auth[] = { "AUTH", l->password };
	const char *select[] = { "SELECT", db };
	const char *ping[] = { "PING" };

	l->state = LINK_HANDSHAKE;
	l->handshake_left = 0;
	snprintf(db, sizeof(db), "%u", l->db);
	if (l->password[0]) {
		if (send_argv(l, false, on_handshake, NULL, 2, auth, NULL))
			goto failed;
		l->handshake_left++;
	}
	if (l->db) {
		if (send_argv(l, false, on_handshake, NULL, 2, select, NULL))
			goto failed;
		l->handshake_left++;
	}
	/* Up means Redis answered: a stopped (SIGSTOP) or wedged server
	 * still completes TCP handshakes from its listen backlog. */
	if (send_argv(l, false, on_handshake, NULL, 1, ping, NULL))
		goto failed;
	l->handshake_left++;
	return;
failed:
	/* Not dropped here: hiredis is still using the context once this
	 * connect callback returns. The handshake times out instead. */
	log_warn("redis %s: out of memory starting the handshake", l->name);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;

	if (ac != l->ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees this context once we return. */
		l->ac = NULL;
		fail(l, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	handshake(l);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;

	(void)status;
	if (ac != l->ac)
		return; /* one chatd dropped */
	l->ac = NULL;
	fail(l, ac->errstr[0] ? ac->errstr : "closed by the server");
}

static void
try_connect(struct redis_link *l)
{
	redisAsyncContext *ac = redisAsyncConnect(l->ip, (int)l->port);

	if (!ac) {
		fail(l, "out of memory");
		return;
	}
	if (ac->err) {
		char why[160];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		fail(l, why);
		return;
	}
	ac->data = l;
	l->ac = ac;
	l->state = LINK_CONNECTING;
	l->since_ms = now_ms();
	if (redisLibevAttach(l->loop, ac) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK)
		drop(l, "cannot attach to the event loop");
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_link *l = w->data;
	int64_t now = now_ms();

	(void)loop;
	(void)revents;
	switch (l->state) {
	case LINK_WAIT:
		if (now < l->retry_at_ms)
			break;
		if (l->literal)
			try_connect(l);
		else
			start_resolve(l);
		break;
	case LINK_RESOLVING:
		check_resolve(l);
		break;
	case LINK_CONNECTING:
	case LINK_HANDSHAKE:
		if (now - l->since_ms > REDIS_LINK_TIMEOUT_MS)
			drop(l, "connect timed out");
		break;
	case LINK_UP:
		if (l->outstanding &&
		    now - l->progress_ms > REDIS_LINK_TIMEOUT_MS)
			drop(l, "no reply within the timeout");
		break;
	}
}

/* The one blocking lookup, at start-up, where a name that does not
 * resolve is an error to report; retries look it up in the background. */
static int
resolve(struct redis_link *l, const char *host, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	unsigned char probe[sizeof(struct in6_addr)];
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc) {
		snprintf(err, errlen, "redis host %s: %s", host,
			 gai_strerror(rc));
		return -1;
	}
	first_address(res, l->ip, sizeof(l->ip));
	freeaddrinfo(res);
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->literal = inet_pton(AF_INET, host, probe) == 1 ||
		     inet_pton(AF_INET6, host, probe) == 1;
	return 0;
}

struct redis_link *
redis_link_new(struct ev_loop *loop, const struct redis_url *url,
	       const char *name, const struct redis_link_events *ev, void *ud,
	       char *err, size_t errlen)
{
	struct redis_link *l = calloc(1, sizeof(*l));

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (resolve(l, url->host, err, errlen)) {
		free(l);
		return NULL;
	}
	l->loop = loop;
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->shown, sizeof(l->shown), strchr(url->host, ':')
		 ? "[%s]:%u" : "%s:%u", url->host, url->port);
	l->port = url->port;
	memcpy(l->password, url->password, sizeof(l->password));
	l->db = url->db;
	l->ev = *ev;
	l->ud = ud;
	l->backoff_ms = REDIS_LINK_BACKOFF_MIN_MS;
	ev_timer_init(&l->watchdog, on_watchdog, WATCHDOG_S, WATCHDOG_S);
	l->watchdog.data = l;
	return l;
}

void
redis_link_start(struct redis_link *l)
{
	if (ev_is_active(&l->watchdog))
		return;
	ev_timer_start(l->loop, &l->watchdog);
	try_connect(l);
}

void
redis_link_free(struct redis_link *l)
{
	redisAsyncContext *ac;

	if (!l)
		return;
	ev_timer_stop(l->loop, &l->watchdog);
	end_resolve(l);
	ac = l->ac;
	l->ac = NULL;
	l->state = LINK_WAIT;
	l->gen++;
	if (ac)
		redisAsyncFree(ac);
	free(l);
}

bool
redis_link_is_up(const struct redis_link *l)
{
	return l && l->state == LINK_UP;
}

int
redis_link_command(struct redis_link *l, bool subscribe,
		   redis_link_reply_fn cb, void *priv, int argc,
		   const char **argv, const size_t *argvlen)
{
	if (!redis_link_is_up(l))
		return -1;
	return send_argv(l, subscribe, cb, priv, argc, argv, argvlen);
}

unsigned
redis_link_pending(const struct redis_link *l)
{
	return l->state == LINK_UP ? l->outstanding : 0;
}

void
redis_link_reset(struct redis_link *l, const char *why)
{
	if (l->state != LINK_WAIT)
		drop(l, why);
}

const struct redis_link_stats *
redis_link_stats(const struct redis_link *l)
{
	return &l->stats;
}
