/*
 * lws context set-up, the ready line, signals and graceful shutdown.
 */
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "chat.h"
#include "chat_proto.h"
#include "cluster.h"
#include "config.h"
#include "history.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "paths.h"
#include "redirect.h"
#include "session.h"
#include "tls.h"

/* Sessions get this long to take their 1001 close before the context goes. */
#define SHUTDOWN_GRACE_US (3 * LWS_US_PER_SEC)
/* Then, in cluster mode, at most this for Redis to take the leaving
 * (cluster_stop): within the 5 s a stop promises. */
#define CLUSTER_STOP_MS 1000
/*
 * lws runs its timers (timeouts, the keepalive tick, the listener's
 * back-off) from libev callbacks it arms after handling a socket, so a
 * timer set from elsewhere (a flush at the end of a turn, the shutdown)
 * could wait for the next socket event. A tick this often wakes lws
 * (lws_cancel_service) so none waits longer, and keeps the loop turning
 * while a shutdown drains.
 */
#define LWS_TIMER_TICK_S 0.05

#define HEADER_POOL 1024
#define HEADER_IDLE_SECS 5

static const struct lws_protocols protocols[] = {
	{
		.name = HTTP_PROTOCOL_NAME,
		.callback = http_callback,
		.per_session_data_size = sizeof(struct http_pss),
	},
	{
		.name = CHAT_PROTOCOL_NAME,
		.callback = chat_proto_callback,
		.per_session_data_size = sizeof(struct session),
		.rx_buffer_size = CHAT_PROTO_RX_BUFFER,
		.tx_packet_size = CHAT_PROTO_WRITE_BOUND,
	},
	{
		.name = LISTENER_PROTOCOL_NAME,
		.callback = listener_callback,
		.per_session_data_size = sizeof(struct listener_pss),
	},
	{ NULL, NULL, 0, 0, 0, NULL, 0 } /* terminator */
};

#define CHAT_PROTOCOL (&protocols[1])

static const lws_retry_bo_t no_validity_timers = { .secs_since_valid_ping = 0 };

static volatile sig_atomic_t stop_requested, reload_requested;
static struct lws_context *signal_context;

static void
on_signal(int signo)
{
	if (signo == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
	/* Wakes the loop; lws writes to its eventfd, which is safe here. */
	if (signal_context)
		lws_cancel_service(signal_context);
}

static void
on_timer_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	lws_cancel_service(w->data);
}

static int
resolve_www(const struct config *cfg, char *out, char *err, size_t errlen)
{
	struct stat st;

	if (!cfg->www)
		return paths_default_www(out, PATH_MAX, err, errlen);
	if (!realpath(cfg->www, out) || stat(out, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--www: '%s' is not a directory",
			 cfg->www);
		return -1;
	}
	return 0;
}

/* socket.io-client's bundle, served when --socketio is on; into out, or
 * "" (with a warning: chatd serves on without it). */
static void
resolve_socketio_client(const struct config *cfg, char *out)
{
	char why[2 * PATH_MAX + 64];

	out[0] = '\0';
	if (!cfg->socketio)
		return;
	if (paths_socketio_client(out, PATH_MAX, why, sizeof(why))) {
		out[0] = '\0';
		log_warn("%s: /socket.io/socket.io.js will be 404", why);
		return;
	}
	log_info("socket.io-client bundle %s at /socket.io/socket.io.js", out);
}

/* The history file: --db as given (relative paths are the user's), or
 * the state directory's chat.db. */
static int
resolve_db(const struct config *cfg, char *out, char *err, size_t errlen)
{
	if (!cfg->db)
		return paths_default_db(out, PATH_MAX, err, errlen);
	snprintf(out, PATH_MAX, "%s", cfg->db);
	return 0;
}

/* What a reader of the log needs first: which build serves which files
 * and keeps history where. Logged once the port is bound, so a start that
 * fails says only why. */
static void
log_start(const char *www, const char *db)
{
	const struct log_field f[] = { LOG_STR("version", CHATD_VERSION),
				       LOG_STR("www", www), LOG_STR("db", db) };

	log_event(LOG_LEVEL_INFO, "start", f, LOG_NFIELDS(f),
		  "chatd %s: web client %s, history %s", CHATD_VERSION, www,
		  db);
}

/* The ready line scripts wait for, at every log level. */
static void
log_ready(const struct listener *l)
{
	const struct log_field f[] = { LOG_STR("url", l->url) };

	log_notice("listening", f, LOG_NFIELDS(f), "listening on %s%s%s",
		   l->url, *l->where ? " " : "", l->where);
}

/* Where --metrics-listen serves, for the operator and for scrapers. */
static void
log_metrics(const struct listener *l)
{
	char url[sizeof(l->url) + 16];
	const struct log_field f[] = { LOG_STR("url", url) };

	snprintf(url, sizeof(url), "%s/metrics", l->url);
	log_event(LOG_LEVEL_INFO, "metrics", f, LOG_NFIELDS(f),
		  "metrics on %s", url);
}

/*
 * SIGHUP: certificates are rotated every few weeks, and a restart would
 * drop every client. The new pair is checked first, so a bad one leaves
 * the one in use; lws then loads it into the vhost's SSL_CTX, which new
 * connections use while open ones keep theirs.
 */
static void
reload_certificate(struct lws_context *context, const struct config *cfg)
{
	char why[512], until[64];
	time_t not_after;

	if (!cfg->tls_cert) {
		log_info("SIGHUP: no TLS certificate to reload");
		return;
	}
	if (tls_check_pair(cfg->tls_cert, cfg->tls_key, &not_after, why,
			   sizeof(why))) {
		log_warn("SIGHUP: keeping the certificate in use: %s", why);
		return;
	}
	if (lws_tls_cert_updated(context, cfg->tls_cert, cfg->tls_key, NULL,
				 0, NULL, 0)) {
		log_warn("SIGHUP: lws could not load the new certificate; "
			 "keeping the one in use");
		return;
	}
	tls_format_time(not_after, until, sizeof(until));
	log_info("SIGHUP: certificate reloaded from %s, valid until %s",
		 cfg->tls_cert, until);
}

/* The TLS flags make sense together only; checked before anything starts. */
static int
check_tls(const struct config *cfg, char *err, size_t errlen)
{
	char until[64];
	time_t not_after;

	if (cfg->tls_cert && !cfg->tls_key) {
		snprintf(err, errlen, "--tls-key: needed with --tls-cert");
		return -1;
	}
	if (cfg->tls_key && !cfg->tls_cert) {
		snprintf(err, errlen, "--tls-cert: needed with --tls-key");
		return -1;
	}
	if (cfg->redirect_http_port && !cfg->tls_cert) {
		snprintf(err, errlen, "--redirect-http-port: only with "
			 "--tls-cert and --tls-key");
		return -1;
	}
	if (!cfg->tls_cert)
		return 0;
	if (tls_check_pair(cfg->tls_cert, cfg->tls_key, &not_after, err,
			   errlen))
		return -1;
	tls_format_time(not_after, until, sizeof(until));
	log_info("TLS certificate %s valid until %s", cfg->tls_cert, until);
	return 0;
}

/* Each turn of the loop, before it waits: the chat's flush (chat_proto.h). */
static void
on_end_of_turn(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	chat_proto_end_of_turn(w->data, CHAT_PROTOCOL);
}

/*
 * lws initialises its protocols (the chat state among them) from a timer
 * it sets when the context is made, which the loop runs on one of its
 * first turns. Until then a WebSocket handshake would find no chat
 * protocol and get a 404, so the ready line waits for it (bounded).
 */
#define PROTOCOL_INIT_WAIT_US (5 * LWS_US_PER_SEC)

static int
wait_for_protocols(struct ev_loop *loop, struct lws_vhost *vhost)
{
	lws_usec_t give_up = lws_now_usecs() + PROTOCOL_INIT_WAIT_US;

	while (!chat_proto_chat(vhost, CHAT_PROTOCOL)) {
		if (lws_now_usecs() > give_up)
			return -1;
		ev_run(loop, EVRUN_ONCE); /* the tick bounds each wait */
	}
	return 0;
}

static void
service_until_stopped(struct lws_context *context, struct ev_loop *loop,
		      struct lws_vhost *vhost, const struct config *cfg)
{
	/* There: server_run waited for lws's protocol init. */
	struct chat *chat = chat_proto_chat(vhost, CHAT_PROTOCOL);
	lws_usec_t deadline = 0; /* of the shutdown's grace; 0: serving */
	ev_prepare end_of_turn;

	ev_prepare_init(&end_of_turn, on_end_of_turn);
	end_of_turn.data = vhost;
	ev_prepare_start(loop, &end_of_turn);

	for (;;) {
		/* One turn: wait for events (a signal wakes it through
		 * lws_cancel_service), handle them, return. */
		ev_run(loop, EVRUN_ONCE);
		if (reload_requested) {
			reload_requested = 0;
			reload_certificate(context, cfg);
		}
		if (!stop_requested)
			continue;
		if (!deadline) {
			log_info("shutting down: closing %u sessions",
				 chat->nsessions);
			chat_shutdown(chat);
			deadline = lws_now_usecs() + SHUTDOWN_GRACE_US;
		}
		if (!chat->nsessions || lws_now_usecs() > deadline)
			break;
	}
	ev_prepare_stop(loop, &end_of_turn);
	if (chat->cluster)
		cluster_stop(chat->cluster, loop, CLUSTER_STOP_MS);
	log_info("served %llu messages; closed %llu slow consumers, "
		 "%llu silent sessions; refused %llu handshakes over the "
		 "connection limits",
		 (unsigned long long)chat->stats.messages,
		 (unsigned long long)chat->stats.slow_consumers,
		 (unsigned long long)chat->stats.ping_timeouts,
		 (unsigned long long)chat->stats.refused[CHAT_STATS_REFUSED_BUSY]);
}

int
server_run(const struct config *cfg, char *err, size_t errlen)
{
	char www[PATH_MAX], db[PATH_MAX], why[256];
	char socketio_client[PATH_MAX];
	struct lws_http_mount mount;
	struct lws_context_creation_info info;
	struct lws_context *context = NULL;
	struct lws_vhost *vhost;
	struct history *history;
	struct chat_env env;
	struct auth auth;
	struct listener listener = { .nfds = 0 }, redirect_listener = { .nfds = 0 };
	struct listener metrics_listener = { .nfds = 0 };
	struct lws_vhost *redirect_vh, *metrics_vh;
	struct sigaction sa;
	struct ev_loop *loop = NULL;
	struct cluster *cluster = NULL;
	void *foreign_loops[1];
	ev_timer tick;
	int status = SERVER_EXIT_FAILURE;

	if (resolve_www(cfg, www, err, errlen) ||
	    resolve_db(cfg, db, err, errlen) || check_tls(cfg, err, errlen))
		return SERVER_EXIT_USAGE;
	if (auth_load(&auth, cfg->jwt_secret_file, err, errlen))
		return SERVER_EXIT_USAGE;
	history = history_open(db, cfg->history_max,
			       cfg->history_max_total, why, sizeof(why));
	if (!history) {
		snprintf(err, errlen, "--db: %s", why);
		status = SERVER_EXIT_USAGE;
		goto out;
	}
	/* Bound before lws starts, so a wrong --host or a busy port is one
	 * clear line and exit 1, and the ready line follows a real bind. */
	if (listener_open(&listener, cfg->host, cfg->port,
			  cfg->tls_cert ? "https" : "http", err, errlen) ||
	    (cfg->redirect_http_port &&
	     listener_open(&redirect_listener, cfg->host,
			   cfg->redirect_http_port, "http", err, errlen)))
		goto out;
	if (cfg->metrics_listen.set &&
	    listener_open(&metrics_listener, cfg->metrics_listen.host,
			  cfg->metrics_listen.port, "http", why, sizeof(why))) {
		snprintf(err, errlen, "--metrics-listen: %s", why);
		goto out;
	}
	log_start(www, db);
	resolve_socketio_client(cfg, socketio_client);
	env = (struct chat_env){ .cfg = cfg, .history = history,
				 .auth = &auth };

	/* The chat protocol finds its env here; "default" makes it serve
	 * clients that name no subprotocol. */
	const struct lws_protocol_vhost_options pvo_default = {
		NULL, NULL, "default", ""
	};
	const struct lws_protocol_vhost_options pvo_env = {
		&pvo_default, NULL, "env", (const char *)&env
	};
	const struct lws_protocol_vhost_options pvo_chat = {
		NULL, &pvo_env, CHAT_PROTOCOL_NAME, ""
	};
	/* /socket.io/ answers Engine.IO's errors (http.c) when served; the
	 * value: the folder of socket.io-client's bundle, "" when none. */
	const struct lws_protocol_vhost_options pvo_socketio = {
		NULL, NULL, "socketio", socketio_client
	};
	/* /metrics here unless it has a listener of its own. */
	const struct lws_protocol_vhost_options pvo_metrics = {
		cfg->socketio ? &pvo_socketio : NULL, NULL, "metrics",
		"default"
	};
	const struct lws_protocol_vhost_options pvo_www = {
		cfg->metrics_listen.set ? (cfg->socketio ? &pvo_socketio : NULL)
					: &pvo_metrics,
		NULL, "www", www
	};
	const struct lws_protocol_vhost_options pvo_http = {
		&pvo_chat, &pvo_www, HTTP_PROTOCOL_NAME, ""
	};

	http_mount_init(&mount);
	memset(&info, 0, sizeof(info));
	/* A server vhost whose connections come from listener.c. */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.pvo = &pvo_http;
	info.mounts = &mount;
	info.vhost_name = "default";
	info.pt_serv_buf_size = CHAT_PROTO_READ_BUFFER;
	/* chat_proto pings idle sessions itself (see tick_due there). */
	info.retry_and_idle_policy = &no_validity_timers;
	/* Header tables (about 5 KiB each) are held only while a request
	 * is read and answered, and freed when nobody waits for one. The
	 * pool is large enough that a few hundred silent sockets cannot take
	 * them all, and a connection that has not sent a whole request
	 * within HEADER_IDLE_SECS is dropped (lws's default is 10 s). */
	info.max_http_header_pool = HEADER_POOL;
	info.timeout_secs_ah_idle = HEADER_IDLE_SECS;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	if (cfg->tls_cert) {
		/* https and wss on the same port, every connection; TLS 1.2
		 * at least, OpenSSL's default ciphers; responses carry HSTS. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
				LWS_SERVER_OPTION_STS;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
		info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 |
				       SSL_OP_NO_TLSv1_1;
		/* HTTP/1.1 only: chatd's HTTP and WebSocket code is h1, and
		 * lws 4.1.6 would otherwise offer h2 by ALPN. */
		info.alpn = "http/1.1";
	}

	/*
	 * lws runs on a libev loop of ours with the epoll backend: its own
	 * poll() loop walks every descriptor on every turn, which at 10,000
	 * connections was half of the server's time. The loop is ours
	 * (foreign) so that this function decides when it stops.
	 */
	loop = ev_loop_new(EVBACKEND_EPOLL);
	if (!loop) {
		snprintf(err, errlen, "cannot create the event loop (libev epoll)");
		goto out;
	}
	if (cfg->redis_set) {
		cluster = cluster_new(loop, cfg, history, why, sizeof(why));
		if (!cluster) {
			snprintf(err, errlen, "--redis: %s", why);
			goto out;
		}
		env.cluster = cluster;
	}
	ev_timer_init(&tick, on_timer_tick, LWS_TIMER_TICK_S, LWS_TIMER_TICK_S);
	foreign_loops[0] = loop;
	info.foreign_loops = foreign_loops;
	info.options |= LWS_SERVER_OPTION_LIBEV;

	context = lws_create_context(&info);
	vhost = context ? lws_get_vhost_by_name(context, "default") : NULL;
	redirect_vh = vhost && cfg->redirect_http_port
			      ? redirect_vhost_create(context, listener.port)
			      : NULL;
	metrics_vh = vhost && cfg->metrics_listen.set
			     ? http_metrics_vhost_create(context, "default")
			     : NULL;
	if (!vhost || listener_adopt(&listener, vhost) ||
	    (cfg->redirect_http_port &&
	     (!redirect_vh ||
	      listener_adopt(&redirect_listener, redirect_vh))) ||
	    (cfg->metrics_listen.set &&
	     (!metrics_vh || listener_adopt(&metrics_listener, metrics_vh)))) {
		snprintf(err, errlen, "cannot start the server (see the log)");
		goto out;
	}

	tick.data = context;
	ev_timer_start(loop, &tick);
	if (wait_for_protocols(loop, vhost)) {
		snprintf(err, errlen, "lws did not start its protocols");
		goto out;
	}

	signal_context = context;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg->redirect_http_port)
		log_info("redirecting %s to https", redirect_listener.url);
	if (cfg->metrics_listen.set)
		log_metrics(&metrics_listener);
	log_ready(&listener);

	service_until_stopped(context, loop, vhost, cfg);
	status = SERVER_EXIT_OK;

out:
	signal_context = NULL;
	/* Sockets lws adopted are its own; these close only the rest. */
	listener_close(&listener);
	listener_close(&redirect_listener);
	listener_close(&metrics_listener);
	if (context)
		lws_context_destroy(context);
	cluster_free(cluster);
	if (loop) {
		ev_timer_stop(loop, &tick);
		ev_loop_destroy(loop);
	}
	if (history)
		history_close(history);
	auth_fini(&auth);
	if (status == SERVER_EXIT_OK)
		log_info("stopped");
	return status;
}
