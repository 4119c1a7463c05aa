/*
 * redis-server process fixture (see redis_fixture.h): fork/exec with no
 * persistence, readiness by PING on a plain socket with a deadline, SIGTERM
 * and a bounded reap on stop, the same port again on restart.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "redis_fixture.h"
#include "http_client.h"
#include "net_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

/* free_tcp_port() lives with the chatd fixture. */
#include "chatd_fixture.h"

#define START_ATTEMPTS 3 /* a free port can be taken before redis binds it */

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* $REDIS_SERVER, else the first executable redis-server on $PATH. */
static bool
find_redis_server(char *out, size_t len)
{
	const char *env = getenv("REDIS_SERVER");
	const char *path = getenv("PATH");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		if (access(out, X_OK) == 0)
			return true;
		print_error("redis fixture: REDIS_SERVER=%s is not "
			    "executable: %s\n", env, strerror(errno));
		return false;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/redis-server", (int)n, path);
		if (n && access(out, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	print_error("redis fixture: no redis-server on PATH and REDIS_SERVER "
		    "is not set; the cluster tests need Debian's redis-server "
		    "(scripts/install-deps.sh installs it)\n");
	return false;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void
remove_dir(struct redis_fixture *r)
{
	if (!r->dir[0])
		return;
	if (!getenv("CHATD_KEEP_TMP"))
		nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "redis fixture: kept %s\n", r->dir);
	r->dir[0] = '\0';
}

/* Waits up to timeout_ms for the child to exit. Returns its status as the
 * chatd fixture decodes it (128+N for signal N), or -1 while it runs. */
static int
reap(struct redis_fixture *r, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;
	int st;

	while (r->pid > 0) {
		pid_t got = waitpid(r->pid, &st, WNOHANG);

		if (got == r->pid || (got < 0 && errno != EINTR)) {
			r->pid = 0;
			if (got < 0)
				return 255;
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		}
		if (monotonic_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
	return 0;
}

static int
spawn(struct redis_fixture *r)
{
	char port[16];
	const char *argv[] = { r->bin, "--port", port, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no",
			       "--daemonize", "no", "--dir", r->dir,
			       "--logfile", r->log_path, NULL };
	pid_t parent = getpid();
	int log;

	snprintf(port, sizeof(port), "%d", r->port);
	/* Appended to across restarts; redis-server's own early complaints
	 * (a bad option, before --logfile applies) land on stderr, so that
	 * goes into the same file. */
	log = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		   0600);
	if (log < 0) {
		print_error("redis fixture: %s: %s\n", r->log_path,
			    strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	if (r->pid < 0) {
		print_error("redis fixture: fork: %s\n", strerror(errno));
		r->pid = 0;
		close(log);
		return -1;
	}
	if (r->pid == 0) {
		/* If the test dies (ctest timeout), take the server with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int nul = open("/dev/null", O_RDONLY);

		if (chdir(r->dir) < 0 || nul < 0 || dup2(nul, 0) < 0 ||
		    dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(127);
		execv(r->bin, (char *const *)argv);
		dprintf(2, "redis fixture: exec %s: %s\n", r->bin,
			strerror(errno));
		_exit(127);
	}
	close(log);
	return 0;
}

/* Reads up to the first CRLF (or EOF) into reply; -1 on timeout. */
static int
read_line(int fd, char *reply, size_t len, long long deadline)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - monotonic_ms();
		ssize_t got;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		got = read(fd, reply + n, 1);
		if (got <= 0)
			break;
		n++;
		if (n >= 2 && reply[n - 2] == '\r' && reply[n - 1] == '\n') {
			n -= 2;
			break;
		}
	}
	reply[n] = '\0';
	return n ? 0 : -1;
}

int
redis_fixture_inline(const struct redis_fixture *r, const char *cmd,
		     char *reply, size_t len, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;
	char line[256];
	int fd, rc = -1;
	int n = snprintf(line, sizeof(line), "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof(line) || len < 2)
		return -1;
	fd = tcp_connect_loopback(r->port, 0, timeout_ms);
	if (fd < 0)
		return -1;
	if (write(fd, line, (size_t)n) == n)
		rc = read_line(fd, reply, len, deadline);
	close(fd);
	return rc;
}

/* Polls PING until +PONG, the child's exit or the deadline. */
static int
wait_ready(struct redis_fixture *r)
{
	long long deadline = monotonic_ms() + REDIS_READY_TIMEOUT_MS;
	char reply[64];

	for (;;) {
		int st = reap(r, 0);

		if (st >= 0) {
			char why[96];

			snprintf(why, sizeof(why),
				 "exited with status %d before answering PING",
				 st);
			print_error("redis fixture: %s\n", why);
			redis_fixture_dump_log(r, why);
			return -1;
		}
		if (redis_fixture_inline(r, "PING", reply, sizeof(reply),
					 200) == 0 &&
		    !strcmp(reply, "+PONG"))
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		sleep_ms(20);
	}
	print_error("redis fixture: no PONG on port %d within %d ms\n",
		    r->port, REDIS_READY_TIMEOUT_MS);
	redis_fixture_dump_log(r, "no PONG");
	kill(r->pid, SIGKILL);
	reap(r, REDIS_STOP_TIMEOUT_MS);
	return -1;
}

int
redis_fixture_start(struct redis_fixture *r)
{
	const char *tmp = getenv("TMPDIR");

	memset(r, 0, sizeof(*r));
	if (!find_redis_server(r->bin, sizeof(r->bin)))
		return -1;
	snprintf(r->dir, sizeof(r->dir), "%s/redis-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->dir)) {
		print_error("redis fixture: mkdtemp %s: %s\n", r->dir,
			    strerror(errno));
		r->dir[0] = '\0';
		return -1;
	}
	snprintf(r->log_path, sizeof(r->log_path), "%s/redis.log", r->dir);
	/* Another process may take the free port before redis binds it;
	 * redis then exits, and a new port is tried. */
	for (int i = 0; i < START_ATTEMPTS; i++) {
		r->port = free_tcp_port();
		if (r->port <= 0) {
			print_error("redis fixture: no free port\n");
			break;
		}
		snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d",
			 r->port);
		if (spawn(r) < 0)
			break;
		if (wait_ready(r) == 0)
			return 0;
	}
	remove_dir(r);
	return -1;
}

int
redis_fixture_stop(struct redis_fixture *r)
{
	int st;

	if (r->pid <= 0)
		return 0;
	kill(r->pid, SIGTERM);
	st = reap(r, REDIS_STOP_TIMEOUT_MS);
	if (st < 0) {
		print_error("redis fixture: still running %d ms after "
			    "SIGTERM; killed\n", REDIS_STOP_TIMEOUT_MS);
		redis_fixture_dump_log(r, "no exit on SIGTERM");
		kill(r->pid, SIGKILL);
		reap(r, REDIS_STOP_TIMEOUT_MS);
		return -1;
	}
	return st == 0 ? 0 : -1;
}

int
redis_fixture_restart(struct redis_fixture *r)
{
	if (r->pid > 0) {
		print_error("redis fixture: restart while running\n");
		return -1;
	}
	if (spawn(r) < 0)
		return -1;
	return wait_ready(r);
}

void
redis_fixture_cleanup(struct redis_fixture *r)
{
	redis_fixture_stop(r);
	remove_dir(r);
}

const char *
redis_fixture_url(const struct redis_fixture *r)
{
	return r->url;
}

void
redis_fixture_dump_log(const struct redis_fixture *r, const char *why)
{
	size_t len = 0, max = 16 * 1024;
	char *s = r->log_path[0] ? read_file_all(r->log_path, &len) : NULL;
	const char *p = s;

	fprintf(stderr, "==== redis-server (port %d): %s ====\n", r->port, why);
	if (s && len > max) {
		p = s + len - max;
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	fprintf(stderr, "%s%s", p ? p : "(no log)\n",
		s && len && s[len - 1] != '\n' ? "\n" : "");
	fprintf(stderr, "==== end of redis-server log ====\n");
	free(s);
}
