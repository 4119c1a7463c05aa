/*
 * Run-time configuration: defaults < environment < flags, gathered into one
 * struct that is read-only once the server starts.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "hostport.h"
#include "log.h"
#include "redis_url.h"

#define CONFIG_DEFAULT_PORT 5000
#define CONFIG_DEFAULT_HISTORY 50
#define CONFIG_DEFAULT_MAX_MESSAGE_BYTES 65536
#define CONFIG_DEFAULT_MAX_TEXT_BYTES 4096
#define CONFIG_DEFAULT_SEND_QUEUE_BYTES 1048576
#define CONFIG_DEFAULT_HISTORY_MAX 100000
#define CONFIG_DEFAULT_HISTORY_MAX_TOTAL 10000000
#define CONFIG_DEFAULT_PING_INTERVAL 30
#define CONFIG_DEFAULT_MAX_CONNECTIONS 10000
#define CONFIG_DEFAULT_MAX_CONNECTIONS_PER_IP 256
#define CONFIG_DEFAULT_RATE 20
#define CONFIG_DEFAULT_BURST 40
#define CONFIG_DEFAULT_MAX_ROOMS 10000

struct config {
	const char *host; /* NULL: every interface */
	unsigned port;    /* 0: any free port */
	const char *www;  /* NULL: the installed or source www (paths.h) */
	unsigned history; /* messages replayed on join */
	size_t max_message_bytes;
	size_t max_text_bytes;
	size_t send_queue_bytes;
	const char *db;     /* SQLite file, or ":memory:"; NULL: paths.h */
	size_t history_max; /* messages kept per room */
	size_t history_max_total; /* messages kept in all rooms together */
	unsigned ping_interval; /* seconds; 0: no keepalive pings */
	unsigned max_connections;        /* chat sessions in all; 0: no limit */
	unsigned max_connections_per_ip; /* per client address; 0: no limit */
	unsigned rate;      /* requests per second per session; 0: no limit */
	unsigned burst;     /* requests a quiet session may send at once */
	unsigned max_rooms; /* rooms with members at once */
	enum log_level log_level;
	enum log_format log_format;
	/* --healthcheck: the URL to probe; NULL: this server's /healthz. */
	const char *healthcheck_url;
	const char *tls_cert; /* NULL: plain http and ws */
	const char *tls_key;
	unsigned redirect_http_port; /* 0: none */
	/* Web origins allowed besides the server's own: comma-separated,
	 * "*" for any; "" for none. */
	char allowed_origins[2048];
	bool origins_from_flag; /* a flag replaced the environment's list */
	/* File holding the HS256 secret of token auth; NULL: no tokens. */
	const char *jwt_secret_file;
	/* Where /metrics is served instead of --port; .set false: on --port. */
	struct hostport metrics_listen;
	/* --redis: cluster mode (cluster.h) when set. */
	bool redis_set;
	struct redis_url redis;
	/* This instance's name in the cluster; NULL: host name and pid. */
	const char *instance_id;
	/* --socketio: /socket.io/ speaks Engine.IO 4 and Socket.IO 5 too
	 * (socketio.h); off, it is a 404 like any unknown path. */
	bool socketio;
};

enum config_result {
	CONFIG_RUN = 0,
	CONFIG_HELP = 1,    /* --help: usage printed to stdout, exit 0 */
	CONFIG_VERSION = 2, /* --version */
	CONFIG_HEALTHCHECK = 3, /* --healthcheck [URL]: probe (healthcheck.h) */
	CONFIG_ERROR = -1,  /* err holds one line naming the option; exit 2 */
};

/*
 * Fills *cfg from defaults, then the environment (getenv), then argv.
 * Strings in *cfg point into argv or the environment. On CONFIG_ERROR, err
 * names the bad option or variable and *cfg is unspecified.
 */
enum config_result config_parse(struct config *cfg, int argc, char **argv,
				char *err, size_t errlen);

/* Prints the option table (flags, variables, defaults). */
void config_usage(const char *prog);

#endif
