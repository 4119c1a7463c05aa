/*
 * Spawns the real chatd (path from $CHATD_BIN) for integration tests, in a
 * fresh temp dir as its cwd, with stdout and stderr going to log files there
 * (so the server can never block on a full pipe), waits for its ready line
 * `listening on http://HOST:PORT`, and stops it with SIGTERM.
 * Owns the child process and the temp dir. Single-threaded.
 */
#ifndef CHAT_TEST_CHATD_FIXTURE_H
#define CHAT_TEST_CHATD_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CHATD_READY_TIMEOUT_MS 10000 /* ASan builds start slowly */
#define CHATD_STOP_TIMEOUT_MS 5000   /* the shutdown bound */

struct chatd {
	pid_t pid;         /* 0 once reaped */
	int status;        /* exit status once reaped (see chatd_wait) */
	int port;          /* from the ready line */
	char host[64];     /* from the ready line */
	char dir[256];     /* temp dir, the server's cwd */
	char out_path[300];
	char err_path[300];
};

struct chatd_opts {
	/* Extra argv, NULL-terminated; may be NULL. */
	const char *const *args;
	/* "NAME=VALUE" sets, "NAME" unsets; NULL-terminated; may be NULL.
	 * PORT and every CHAT_* variable but CHAT_WWW are unset unless given
	 * here, so the caller's environment cannot leak into a test. */
	const char *const *env;
	/* Leave out the defaults --port 0 --host 127.0.0.1 --www $CHAT_WWW
	 * --db :memory: --rate 0 (flags in args come after them, so they
	 * win). */
	bool no_defaults;
	/* Return right after the spawn, without waiting for the ready line. */
	bool no_wait;
	int ready_timeout_ms; /* 0: CHATD_READY_TIMEOUT_MS */
};

/*
 * Starts chatd. Returns 0 once the ready line is seen (d->port, d->host
 * set), or -1: the reason and the server's output are printed, the child
 * is killed and the temp dir removed.
 */
int chatd_spawn(struct chatd *d, const struct chatd_opts *o);
/* chatd_spawn with the defaults plus args (NULL-terminated, may be NULL). */
int chatd_start(struct chatd *d, const char *const *args);

int chatd_signal(struct chatd *d, int sig);
/*
 * Waits up to timeout_ms for the child to exit and reaps it. Returns its
 * exit status (0-255), 128+N when killed by signal N, or -1 when it is
 * still running. Calling it again after the reap returns the same status.
 */
int chatd_wait(struct chatd *d, int timeout_ms);
/*
 * SIGTERM, then chatd_wait(CHATD_STOP_TIMEOUT_MS). Returns the exit status,
 * or -1 when it did not exit in time (it is then killed with SIGKILL).
 * Prints the server's logs when the status is not 0, then removes the temp
 * dir unless $CHATD_KEEP_TMP is set. Safe to call twice.
 */
int chatd_stop(struct chatd *d);
/* SIGKILL and reap, then clean up like chatd_stop. */
void chatd_kill(struct chatd *d);
/* Removes the temp dir (already done by chatd_stop and chatd_kill). */
void chatd_cleanup(struct chatd *d);

/* The server's stderr so far (malloc'd, NUL-terminated), or NULL. */
char *chatd_stderr(const struct chatd *d);
char *chatd_stdout(const struct chatd *d);
/* Prints the tail of both logs to stderr, headed by `why`. */
void chatd_dump_logs(const struct chatd *d, const char *why);

/*
 * Runs chatd to completion (for option-parsing tests). Returns the exit
 * status as chatd_wait does, or -1 when it ran past timeout_ms (then it is
 * killed). *out and *err, when given, receive its stdout and stderr
 * (malloc'd). The defaults are added unless o->no_defaults.
 */
int chatd_run(const struct chatd_opts *o, int timeout_ms, char **out,
	      char **err);

/* An unused loopback TCP port (bound and released; racy but fine here). */
int free_tcp_port(void);

/* Parses "listening on http://HOST:PORT" out of text; port or -1. */
int chatd_parse_ready(const char *text, char *host, size_t hostlen);

#endif
