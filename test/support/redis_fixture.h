/*
 * Spawns a real redis-server for the cluster-mode tests (path from
 * $REDIS_SERVER, else redis-server on PATH) on a free loopback port, with no
 * persistence, in a fresh temp dir that holds its log. Stops it and starts
 * it again, empty, on the same port, so a chatd's --redis URL stays valid.
 * Owns the child process and the temp dir. Single-threaded.
 */
#ifndef CHAT_TEST_REDIS_FIXTURE_H
#define CHAT_TEST_REDIS_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#define REDIS_READY_TIMEOUT_MS 5000 /* from exec to the first PONG */
#define REDIS_STOP_TIMEOUT_MS 5000  /* SIGTERM to exit, then SIGKILL */

struct redis_fixture {
	pid_t pid;         /* 0 while stopped */
	int port;          /* kept across stop and restart */
	char bin[256];     /* the redis-server that is run */
	char dir[256];     /* temp dir: its --dir and cwd, and the log */
	char log_path[300];
	char url[64];      /* "redis://127.0.0.1:PORT" */
};

/*
 * Starts redis-server on a free port and waits until it answers PING.
 * Returns 0, or -1 with the reason printed (a missing redis-server is named
 * as such), nothing left running and no temp dir left behind.
 */
int redis_fixture_start(struct redis_fixture *r);
/*
 * SIGTERM, then SIGKILL when it has not exited within
 * REDIS_STOP_TIMEOUT_MS; reaps it. The port and the temp dir stay for
 * redis_fixture_restart. Returns 0 when it exited on the SIGTERM, -1
 * otherwise. Safe to call when it is already stopped.
 */
int redis_fixture_stop(struct redis_fixture *r);
/*
 * Starts a stopped server again on the same port, empty (no persistence),
 * and waits for its PONG. Returns 0, or -1 with the reason printed.
 */
int redis_fixture_restart(struct redis_fixture *r);
/* Stops the server and removes the temp dir (unless $CHATD_KEEP_TMP). */
void redis_fixture_cleanup(struct redis_fixture *r);

/* "redis://127.0.0.1:PORT", valid across restarts. */
const char *redis_fixture_url(const struct redis_fixture *r);

/*
 * Sends one inline command (words separated by spaces, e.g. "DBSIZE") on a
 * fresh connection and copies the first line of the reply, without its
 * CRLF, into reply ("+PONG", ":0", "$-1"). Returns 0, or -1 when the
 * server could not be reached or did not answer within timeout_ms.
 */
int redis_fixture_inline(const struct redis_fixture *r, const char *cmd,
			 char *reply, size_t len, int timeout_ms);

/* Prints the tail of the server's log to stderr, headed by `why`. */
void redis_fixture_dump_log(const struct redis_fixture *r, const char *why);

#endif
