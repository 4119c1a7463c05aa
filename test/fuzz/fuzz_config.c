/*
 * config_parse() on a command line and environment built from the fuzz
 * bytes. The input is split on NUL bytes; a piece "CHAT_...=v" or "PORT=v"
 * becomes an environment variable (at most ENV_MAX), any other an argv
 * element after "chatd". Checked: --help/--version win whatever else is
 * there, an error is one line naming its source, strings point into argv,
 * the environment or the defaults, argv is not written to, and
 * "--name=value" parses exactly like "--name" "value".
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define ARGS_MAX 64
#define ENV_MAX 8

extern char **environ;

struct input {
	char *argv[ARGS_MAX + 2];
	int argc;
	char *env[ENV_MAX]; /* "NAME=value", given to putenv */
	char *env_name[ENV_MAX];
	int nenv;
};

struct outcome {
	enum config_result rc;
	struct config cfg;
	char err[256];
};

static struct config defaults;

static bool
is_env_piece(const char *s)
{
	return (!strncmp(s, "CHAT_", 5) && strchr(s, '=')) ||
	       !strncmp(s, "PORT=", 5);
}

/* Variables from the fuzzer's own environment would make runs differ. */
static void
clear_chat_env(void)
{
	for (;;) {
		char name[256];
		size_t n;
		char **e;

		for (e = environ; *e && !is_env_piece(*e); e++)
			;
		if (!*e)
			return;
		n = strcspn(*e, "=");
		FUZZ_CHECK(n < sizeof(name));
		memcpy(name, *e, n);
		name[n] = '\0';
		unsetenv(name);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *args[] = { "chatd", NULL }, err[256];

	clear_chat_env();
	FUZZ_CHECK(config_parse(&defaults, 1, args, err, sizeof(err)) ==
		   CONFIG_RUN);
	return 0;
}

static void
input_fini(struct input *in)
{
	for (int i = 1; i < in->argc; i++)
		free(in->argv[i]);
	/* unsetenv before free: the environment holds our strings. */
	for (int i = 0; i < in->nenv; i++) {
		unsetenv(in->env_name[i]);
		free(in->env_name[i]);
		free(in->env[i]);
	}
}

static void
input_init(struct input *in, const uint8_t *data, size_t size)
{
	size_t at = 0;

	memset(in, 0, sizeof(*in));
	in->argv[in->argc++] = "chatd";
	/* A NUL ends a piece: "a\0\0" is "a" and "", "" is no piece at all. */
	while (at < size && in->argc <= ARGS_MAX) {
		const char *piece = (const char *)data + at;
		size_t n = 0;
		char *s;

		while (at + n < size && data[at + n])
			n++;
		s = strndup(piece, n);
		FUZZ_CHECK(s);
		at += n + 1;
		if (is_env_piece(s) && in->nenv < ENV_MAX) {
			in->env_name[in->nenv] = strndup(s, strcspn(s, "="));
			FUZZ_CHECK(in->env_name[in->nenv]);
			/* putenv, not setenv: glibc keeps every value setenv
			 * ever copied, and a long run sets millions. */
			FUZZ_CHECK(!putenv(s));
			in->env[in->nenv++] = s;
		} else if (is_env_piece(s)) {
			free(s);
		} else {
			in->argv[in->argc++] = s;
		}
	}
	in->argv[in->argc] = NULL;
}

static bool
points_into(const char *p, const char *s)
{
	return p >= s && p <= s + strlen(s);
}

/* A string option: the default, or part of an argv element or variable. */
static void
check_source(const struct input *in, const char *v, const char *def)
{
	if (v == def)
		return;
	FUZZ_CHECK(v && *v);
	for (int i = 1; i < in->argc; i++)
		if (points_into(v, in->argv[i]))
			return;
	for (int i = 0; i < in->nenv; i++)
		if (points_into(v, in->env[i]))
			return;
	FUZZ_CHECK(!"a string option from nowhere");
}

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool
hostport_eq(const struct hostport *a, const struct hostport *b)
{
	return a->set == b->set && a->port == b->port &&
	       !strcmp(a->host, b->host);
}

static bool
config_eq(const struct config *a, const struct config *b)
{
	return hostport_eq(&a->metrics_listen, &b->metrics_listen) &&
	       str_eq(a->host, b->host) && a->port == b->port &&
	       str_eq(a->www, b->www) && a->history == b->history &&
	       a->max_message_bytes == b->max_message_bytes &&
	       a->max_text_bytes == b->max_text_bytes &&
	       a->send_queue_bytes == b->send_queue_bytes &&
	       str_eq(a->db, b->db) && a->history_max == b->history_max &&
	       a->history_max_total == b->history_max_total &&
	       a->ping_interval == b->ping_interval &&
	       a->max_connections == b->max_connections &&
	       a->max_connections_per_ip == b->max_connections_per_ip &&
	       a->rate == b->rate && a->burst == b->burst &&
	       a->max_rooms == b->max_rooms && a->log_level == b->log_level &&
	       a->log_format == b->log_format &&
	       str_eq(a->healthcheck_url, b->healthcheck_url) &&
	       !strcmp(a->allowed_origins, b->allowed_origins);
}

static void
parse(struct outcome *o, char **argv, int argc)
{
	memset(o, 0, sizeof(*o));
	o->rc = config_parse(&o->cfg, argc, argv, o->err, sizeof(o->err));
}

static bool
is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") ||
	       !strcmp(a, "--version");
}

static void
check_outcome(const struct input *in, const struct outcome *o)
{
	enum config_result first = CONFIG_RUN;

	for (int i = 1; i < in->argc && first == CONFIG_RUN; i++) {
		if (!is_help(in->argv[i]))
			continue;
		first = strcmp(in->argv[i], "--version") ? CONFIG_HELP
							 : CONFIG_VERSION;
	}
	if (first != CONFIG_RUN) {
		FUZZ_CHECK(o->rc == first);
		return;
	}
	if (o->rc == CONFIG_ERROR) {
		size_t n = strnlen(o->err, sizeof(o->err));

		FUZZ_CHECK(n > 0 && n < sizeof(o->err));
		/* "name: reason", unless a long name filled the buffer. */
		FUZZ_CHECK(strstr(o->err, ": ") || n == sizeof(o->err) - 1);
		/* One line, and nothing the terminal would act on. */
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)o->err[i] >= 0x20 &&
				   o->err[i] != 0x7f);
		return;
	}
	/* --healthcheck is a mode: the rest is parsed as for a run. */
	if (o->rc == CONFIG_HEALTHCHECK) {
		bool named = false;

		for (int i = 1; i < in->argc; i++)
			named |= !strncmp(in->argv[i], "--healthcheck", 13) &&
				 (!in->argv[i][13] || in->argv[i][13] == '=');
		FUZZ_CHECK(named);
		FUZZ_CHECK(!o->cfg.healthcheck_url || *o->cfg.healthcheck_url);
	} else {
		FUZZ_CHECK(o->rc == CONFIG_RUN);
		FUZZ_CHECK(!o->cfg.healthcheck_url);
	}
	check_source(in, o->cfg.host, defaults.host);
	check_source(in, o->cfg.www, defaults.www);
	check_source(in, o->cfg.db, defaults.db);
	FUZZ_CHECK(o->cfg.port <= 65535);
	/* What --metrics-listen took is an address literal and a port. */
	if (o->cfg.metrics_listen.set) {
		unsigned char addr[16];

		FUZZ_CHECK(o->cfg.metrics_listen.port <= 65535);
		FUZZ_CHECK(inet_pton(AF_INET, o->cfg.metrics_listen.host,
				     addr) == 1 ||
			   inet_pton(AF_INET6, o->cfg.metrics_listen.host,
				     addr) == 1);
	}
	FUZZ_CHECK(o->cfg.log_level >= LOG_LEVEL_DEBUG &&
		   o->cfg.log_level <= LOG_LEVEL_ERR);
	FUZZ_CHECK(o->cfg.log_format == LOG_FORMAT_TEXT ||
		   o->cfg.log_format == LOG_FORMAT_JSON);
}

/*
 * The same command line with each "--name=value" given as "--name"
 * "value", where that form means the same: not for --help or --version,
 * which count only as whole words, nor a value that would read as a flag.
 */
static int
split_equals(const struct input *in, char **out, char **owned, int *nowned)
{
	int argc = 0;

	*nowned = 0;
	for (int i = 0; i < in->argc; i++) {
		char *a = in->argv[i], *eq = strchr(a, '=');
		char *name;

		if (i == 0 || strncmp(a, "--", 2) || !eq ||
		    !strncmp(eq + 1, "--", 2) || is_help(eq + 1)) {
			out[argc++] = a;
			continue;
		}
		name = strndup(a, (size_t)(eq - a));
		FUZZ_CHECK(name);
		if (is_help(name)) {
			free(name);
			out[argc++] = a;
			continue;
		}
		owned[(*nowned)++] = name;
		out[argc++] = name;
		out[argc++] = eq + 1;
	}
	out[argc] = NULL;
	return argc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	struct outcome a, b;
	char *copy[ARGS_MAX + 2], *split[2 * ARGS_MAX + 2];
	char *owned[ARGS_MAX];
	int nowned, argc2;

	input_init(&in, data, size);
	for (int i = 1; i < in.argc; i++) {
		copy[i] = strdup(in.argv[i]);
		FUZZ_CHECK(copy[i]);
	}

	parse(&a, in.argv, in.argc);
	check_outcome(&in, &a);
	for (int i = 1; i < in.argc; i++) {
		FUZZ_CHECK(!strcmp(copy[i], in.argv[i]));
		free(copy[i]);
	}

	argc2 = split_equals(&in, split, owned, &nowned);
	parse(&b, split, argc2);
	FUZZ_CHECK(a.rc == b.rc);
	if (a.rc == CONFIG_ERROR)
		FUZZ_CHECK(!strcmp(a.err, b.err));
	else if (a.rc == CONFIG_RUN)
		FUZZ_CHECK(config_eq(&a.cfg, &b.cfg));
	for (int i = 0; i < nowned; i++)
		free(owned[i]);
	input_fini(&in);
	return 0;
}
