/*
 * Option table and its parser. Each option has one flag and one environment
 * variable; a value is checked the same way wherever it came from.
 */
#include "config.h"
#include "name.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_kind {
	OPT_UINT,
	OPT_SIZE,
	OPT_STRING,
	OPT_LEVEL,
	OPT_FORMAT,
	OPT_ORIGINS,
	OPT_HOSTPORT,
	OPT_REDIS,
	OPT_NAME, /* 1 to 64 of [A-Za-z0-9_.-] */
	OPT_ONOFF, /* "on" or "off", into a bool */
};

struct option_spec {
	const char *flag;
	const char *env;
	enum opt_kind kind;
	size_t offset;
	unsigned long long min, max;
	const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct option_spec options[] = {
	{ "--port", "PORT", OPT_UINT, FIELD(port), 0, 65535,
	  "TCP port; 0 picks a free one (default 5000)" },
	{ "--host", "CHAT_HOST", OPT_STRING, FIELD(host), 0, 0,
	  "address to listen on (default: all interfaces)" },
	{ "--www", "CHAT_WWW", OPT_STRING, FIELD(www), 0, 0,
	  "directory served over HTTP (default: the installed "
	  "share/chatd/www, or the source tree's www/)" },
	{ "--history", "CHAT_HISTORY", OPT_UINT, FIELD(history), 0, 1000,
	  "messages replayed on join (default 50)" },
	{ "--max-message-bytes", "CHAT_MAX_MESSAGE_BYTES", OPT_SIZE,
	  FIELD(max_message_bytes), 64, 16u << 20,
	  "largest inbound WebSocket message (default 65536)" },
	{ "--max-text-bytes", "CHAT_MAX_TEXT_BYTES", OPT_SIZE,
	  FIELD(max_text_bytes), 1, 16u << 20,
	  "largest chat message text (default 4096)" },
	{ "--send-queue-bytes", "CHAT_SEND_QUEUE_BYTES", OPT_SIZE,
	  FIELD(send_queue_bytes), 1024, 1ull << 32,
	  "per-client send queue bound (default 1048576)" },
	{ "--db", "CHAT_DB", OPT_STRING, FIELD(db), 0, 0,
	  "SQLite history file, or :memory: (default: chat.db in "
	  "$STATE_DIRECTORY, else $XDG_STATE_HOME/chatd or "
	  "~/.local/state/chatd)" },
	{ "--history-max", "CHAT_HISTORY_MAX", OPT_SIZE, FIELD(history_max), 1,
	  1ull << 40, "messages kept per room (default 100000)" },
	{ "--history-max-total", "CHAT_HISTORY_MAX_TOTAL", OPT_SIZE,
	  FIELD(history_max_total), 1, 1ull << 40,
	  "messages kept in all rooms together (default 10000000)" },
	{ "--ping-interval", "CHAT_PING_INTERVAL", OPT_UINT,
	  FIELD(ping_interval), 0, 3600,
	  "seconds of silence before a ping; 0: none (default 30)" },
	{ "--max-connections", "CHAT_MAX_CONNECTIONS", OPT_UINT,
	  FIELD(max_connections), 0, 1000000,
	  "chat sessions at once, over it 503; 0: no limit (default 10000)" },
	{ "--max-connections-per-ip", "CHAT_MAX_CONNECTIONS_PER_IP", OPT_UINT,
	  FIELD(max_connections_per_ip), 0, 1000000,
	  "chat sessions per client address; 0: no limit (default 256)" },
	{ "--rate", "CHAT_RATE", OPT_UINT, FIELD(rate), 0, 1000000,
	  "requests per second per client; 0: no limit (default 20)" },
	{ "--burst", "CHAT_BURST", OPT_UINT, FIELD(burst), 1, 1000000,
	  "requests a client may send at once (default 40)" },
	{ "--max-rooms", "CHAT_MAX_ROOMS", OPT_UINT, FIELD(max_rooms), 1,
	  100000000, "rooms in use at once (default 10000)" },
	{ "--tls-cert", "CHAT_TLS_CERT", OPT_STRING, FIELD(tls_cert), 0, 0,
	  "PEM certificate chain: serve https and wss (with --tls-key)" },
	{ "--tls-key", "CHAT_TLS_KEY", OPT_STRING, FIELD(tls_key), 0, 0,
	  "PEM private key of --tls-cert" },
	{ "--redirect-http-port", "CHAT_REDIRECT_HTTP_PORT", OPT_UINT,
	  FIELD(redirect_http_port), 1, 65535,
	  "also listen for plain HTTP here and redirect it to https (TLS only)" },
	{ "--allowed-origin", "CHAT_ALLOWED_ORIGINS", OPT_ORIGINS,
	  FIELD(allowed_origins), 0, 0,
	  "a web origin whose pages may connect (repeatable; * any; the "
	  "variable is comma-separated)" },
	{ "--log-level", "CHAT_LOG_LEVEL", OPT_LEVEL, FIELD(log_level), 0, 0,
	  "debug|info|warn|error (default info)" },
	{ "--log-format", "CHAT_LOG_FORMAT", OPT_FORMAT, FIELD(log_format), 0,
	  0, "text|json: json is one object per line (default text)" },
	{ "--jwt-secret-file", "CHAT_JWT_SECRET", OPT_STRING,
	  FIELD(jwt_secret_file), 0, 0,
	  "HS256 secret: WebSocket handshakes then need a token "
	  "(default none)" },
	{ "--metrics-listen", "CHAT_METRICS_LISTEN", OPT_HOSTPORT,
	  FIELD(metrics_listen), 0, 0,
	  "serve /metrics on ADDR:PORT only, not on --port (default: on --port)" },
	{ "--redis", "CHAT_REDIS", OPT_REDIS, FIELD(redis), 0, 0,
	  "redis://[:password@]host[:port][/db]: cluster mode, one chat "
	  "across every chatd on that Redis (default: none, one node)" },
	{ "--instance-id", "CHAT_INSTANCE_ID", OPT_NAME, FIELD(instance_id),
	  0, 0, "this instance's name in a cluster (default: host name and "
	  "pid)" },
	{ "--socketio", "CHAT_SOCKETIO", OPT_ONOFF, FIELD(socketio), 0, 0,
	  "on|off: socket.io clients (Engine.IO 4, polling and WebSocket) at "
	  "/socket.io/ (default on)" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

#define HEALTHCHECK_FLAG "--healthcheck"

static void
set_defaults(struct config *cfg)
{
	*cfg = (struct config){
		.host = NULL,
		.port = CONFIG_DEFAULT_PORT,
		.history = CONFIG_DEFAULT_HISTORY,
		.max_message_bytes = CONFIG_DEFAULT_MAX_MESSAGE_BYTES,
		.max_text_bytes = CONFIG_DEFAULT_MAX_TEXT_BYTES,
		.send_queue_bytes = CONFIG_DEFAULT_SEND_QUEUE_BYTES,
		.history_max = CONFIG_DEFAULT_HISTORY_MAX,
		.history_max_total = CONFIG_DEFAULT_HISTORY_MAX_TOTAL,
		.ping_interval = CONFIG_DEFAULT_PING_INTERVAL,
		.max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS,
		.max_connections_per_ip = CONFIG_DEFAULT_MAX_CONNECTIONS_PER_IP,
		.rate = CONFIG_DEFAULT_RATE,
		.burst = CONFIG_DEFAULT_BURST,
		.max_rooms = CONFIG_DEFAULT_MAX_ROOMS,
		.log_level = LOG_LEVEL_INFO,
		.log_format = LOG_FORMAT_TEXT,
		.socketio = true,
	};
}

/*
 * What the user typed, fit for the one error line: a control byte (a
 * newline would split the line, an escape would drive the terminal) is
 * shown as \xNN. Cut short, not overrun, when out is full.
 */
static const char *
printable(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 <= outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(out + o, outlen - o, "\\x%02x", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/* "*" or scheme://host[:port] with scheme http or https, nothing after. */
static bool
origin_is_valid(const char *o, size_t len)
{
	size_t skip;

	if (len == 1 && o[0] == '*')
		return true;
	if (len > 7 && !strncasecmp(o, "http://", 7))
		skip = 7;
	else if (len > 8 && !strncasecmp(o, "https://", 8))
		skip = 8;
	else
		return false;
	for (size_t i = skip; i < len; i++)
		if (o[i] == '/' || o[i] == '?' || o[i] == '#' || o[i] == ',' ||
		    (unsigned char)o[i] <= ' ')
			return false;
	return true;
}

/*
 * Adds the comma-separated origins in value to cfg->allowed_origins. The
 * first --allowed-origin replaces what the environment said; later ones
 * add to it.
 */
static int
add_origins(struct config *cfg, const char *value, bool from_flag,
	    const char *source, char *err, size_t errlen)
{
	char *list = cfg->allowed_origins;
	size_t used;

	if (!*value) {
		snprintf(err, errlen, "%s: empty value", source);
		return -1;
	}
	if (from_flag && !cfg->origins_from_flag) {
		list[0] = '\0';
		cfg->origins_from_flag = true;
	}
	used = strlen(list);
	for (const char *p = value; *p;) {
		size_t len = strcspn(p, ",");

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (!origin_is_valid(p, len)) {
			char shown[256];

			printable(p, len > 200 ? 200 : len, shown,
				  sizeof(shown));
			snprintf(err, errlen,
				 "%s: '%s' is not an origin such as "
				 "https://chat.example.com or *",
				 source, shown);
			return -1;
		}
		if (used + len + 2 > sizeof(cfg->allowed_origins)) {
			snprintf(err, errlen, "%s: too many origins", source);
			return -1;
		}
		if (used)
			list[used++] = ',';
		memcpy(list + used, p, len);
		used += len;
		list[used] = '\0';
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Stores value into the field; the caller names the source in errors. */
static int
apply(struct config *cfg, const struct option_spec *o, const char *value,
      const char *source, char *err, size_t errlen)
{
	char *field = (char *)cfg + o->offset;
	unsigned long long n;
	char *end, shown[256];

	switch (o->kind) {
	case OPT_HOSTPORT:
		if (hostport_parse(value, (struct hostport *)field)) {
			snprintf(err, errlen,
				 "%s: '%s' is not ADDR:PORT with an IP address, "
				 "such as 127.0.0.1:9100 or [::1]:9100",
				 source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)));
			return -1;
		}
		return 0;
	case OPT_REDIS: {
		const char *why;

		/* The value is not echoed: it may hold a password. */
		if (redis_url_parse(value, (struct redis_url *)field, &why)) {
			snprintf(err, errlen, "%s: %s", source, why);
			return -1;
		}
		cfg->redis_set = true;
		return 0;
	}
	case OPT_ORIGINS:
		return add_origins(cfg, value, source == o->flag, source, err,
				   errlen);
	case OPT_NAME:
		if (!name_is_valid(value, 64)) {
			snprintf(err, errlen,
				 "%s: '%s' is not 1 to 64 of A-Z a-z 0-9 _ . -",
				 source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)));
			return -1;
		}
		*(const char **)field = value;
		return 0;
	case OPT_ONOFF:
		if (strcmp(value, "on") && strcmp(value, "off")) {
			snprintf(err, errlen, "%s: '%s' is not on or off",
				 source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)));
			return -1;
		}
		*(bool *)field = !strcmp(value, "on");
		return 0;
	case OPT_STRING:
		if (!*value) {
			snprintf(err, errlen, "%s: empty value", source);
			return -1;
		}
		*(const char **)field = value;
		return 0;
	case OPT_LEVEL:
		if (log_level_parse(value, (enum log_level *)field)) {
			snprintf(err, errlen,
				 "%s: '%s' is not one of debug, info, warn, error",
				 source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)));
			return -1;
		}
		return 0;
	case OPT_FORMAT:
		if (log_format_parse(value, (enum log_format *)field)) {
			snprintf(err, errlen,
				 "%s: '%s' is not one of text, json", source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)));
			return -1;
		}
		return 0;
	case OPT_UINT:
	case OPT_SIZE:
		errno = 0;
		n = strtoull(value, &end, 10);
		/* Digits only: strtoull would take " 80", "+81" and "-1". */
		if (value[0] < '0' || value[0] > '9' || *end || errno ||
		    n < o->min || n > o->max) {
			snprintf(err, errlen,
				 "%s: '%s' is not a whole number from %llu to %llu",
				 source,
				 printable(value, strlen(value), shown,
					   sizeof(shown)),
				 o->min, o->max);
			return -1;
		}
		if (o->kind == OPT_UINT)
			*(unsigned *)field = (unsigned)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	}
	return -1;
}

static const struct option_spec *
find_flag(const char *arg, size_t len)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strlen(options[i].flag) == len &&
		    !strncmp(options[i].flag, arg, len))
			return &options[i];
	return NULL;
}

enum config_result
config_parse(struct config *cfg, int argc, char **argv, char *err,
	     size_t errlen)
{
	bool healthcheck = false;

	set_defaults(cfg);

	/* --help and --version work whatever the environment holds. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return CONFIG_HELP;
		if (!strcmp(argv[i], "--version"))
			return CONFIG_VERSION;
	}

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *v = getenv(options[i].env);

		if (v && apply(cfg, &options[i], v, options[i].env, err, errlen))
			return CONFIG_ERROR;
	}

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *value;
		const struct option_spec *o;
		size_t name_len;

		eq = strchr(arg, '=');
		name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		/* A mode, not a setting: its URL is optional, and the other
		 * options still apply (they give the default URL). */
		if (name_len == strlen(HEALTHCHECK_FLAG) &&
		    !strncmp(arg, HEALTHCHECK_FLAG, name_len)) {
			healthcheck = true;
			if (eq)
				cfg->healthcheck_url = eq + 1;
			else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
				cfg->healthcheck_url = argv[++i];
			if (cfg->healthcheck_url && !*cfg->healthcheck_url) {
				snprintf(err, errlen, "%s: empty value",
					 HEALTHCHECK_FLAG);
				return CONFIG_ERROR;
			}
			continue;
		}
		o = strncmp(arg, "--", 2) ? NULL : find_flag(arg, name_len);
		if (!o) {
			char shown[256];

			printable(arg, name_len, shown, sizeof(shown));
			snprintf(err, errlen, "%s: unknown option", shown);
			return CONFIG_ERROR;
		}
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
			value = argv[++i];
		else {
			snprintf(err, errlen, "%s: missing value", o->flag);
			return CONFIG_ERROR;
		}
		if (apply(cfg, o, value, o->flag, err, errlen))
			return CONFIG_ERROR;
	}
	return healthcheck ? CONFIG_HEALTHCHECK : CONFIG_RUN;
}

void
config_usage(const char *prog)
{
	printf("usage: %s [options]\n\n"
	       "Every option may also come from its environment variable;\n"
	       "a flag beats the variable, which beats the default.\n\n",
	       prog);
	for (size_t i = 0; i < N_OPTIONS; i++)
		printf("  %-22s %-24s %s\n", options[i].flag, options[i].env,
		       options[i].help);
	printf("  %-22s %-24s %s\n", HEALTHCHECK_FLAG " [URL]", "",
	       "GET URL (default: this server's /healthz); exit 0 on 200, "
	       "1 otherwise, 2 for a URL it cannot use");
	printf("  %-22s %-24s %s\n  %-22s %-24s %s\n", "--help", "",
	       "print this help and exit", "--version", "",
	       "print the version and exit");
}
