/*
 * chatd process fixture (see chatd_fixture.h): fork/exec with a deadline on
 * the ready line (as libssh's torture_wait_for_daemon), logs in files so the
 * child never blocks on a pipe, SIGTERM and a bounded reap on stop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chatd_fixture.h"
#include "http_client.h"
#include "net_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

extern char **environ;

#define READY_PREFIX "listening on http://"
#define MAX_ARGS 64

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
chatd_parse_ready(const char *text, char *host, size_t hostlen)
{
	const char *p = text ? strstr(text, READY_PREFIX) : NULL;
	const char *start, *end, *colon = NULL;
	long port;
	char *num_end;

	if (!p)
		return -1;
	start = p + strlen(READY_PREFIX);
	end = start;
	/* A '"' ends it too: in --log-format json the line is an object. */
	while (*end && *end != '\n' && *end != '\r' && *end != ' ' &&
	       *end != '\t' && *end != '"')
		end++;
	/* Only a complete line counts: the port may still be coming. */
	if (!*end)
		return -1;
	if (end > start && end[-1] == '/')
		end--;
	for (const char *q = start; q < end; q++)
		if (*q == ':')
			colon = q;
	if (!colon || colon == start)
		return -1;
	port = strtol(colon + 1, &num_end, 10);
	if (num_end != end || port <= 0 || port > 65535)
		return -1;
	if (host && hostlen) {
		size_t hl = (size_t)(colon - start);

		if (hl >= hostlen)
			hl = hostlen - 1;
		memcpy(host, start, hl);
		host[hl] = '\0';
	}
	return (int)port;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void
chatd_cleanup(struct chatd *d)
{
	if (!d->dir[0])
		return;
	if (!getenv("CHATD_KEEP_TMP"))
		nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "chatd fixture: kept %s\n", d->dir);
	d->dir[0] = '\0';
}

char *
chatd_stderr(const struct chatd *d)
{
	return d->err_path[0] ? read_file_all(d->err_path, NULL) : NULL;
}

char *
chatd_stdout(const struct chatd *d)
{
	return d->out_path[0] ? read_file_all(d->out_path, NULL) : NULL;
}

static void
dump_tail(const char *label, const char *path, size_t max)
{
	size_t len = 0;
	char *s = read_file_all(path, &len);
	const char *p;

	if (!s) {
		fprintf(stderr, "---- chatd %s: (unreadable: %s)\n", label, path);
		return;
	}
	p = s;
	if (len > max) {
		p = s + len - max;
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
	}
	fprintf(stderr, "---- chatd %s (%zu bytes%s) ----\n%s%s", label, len,
		p != s ? ", tail" : "", p,
		len && s[len - 1] != '\n' ? "\n" : "");
	free(s);
}

void
chatd_dump_logs(const struct chatd *d, const char *why)
{
	fprintf(stderr, "==== chatd (pid %d, port %d): %s ====\n", (int)d->pid,
		d->port, why);
	if (d->err_path[0])
		dump_tail("stderr", d->err_path, 64 * 1024);
	if (d->out_path[0])
		dump_tail("stdout", d->out_path, 8 * 1024);
	fprintf(stderr, "==== end of chatd logs ====\n");
}

static int
decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int
chatd_wait(struct chatd *d, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;

	while (d->pid > 0) {
		int st;
		pid_t r = waitpid(d->pid, &st, WNOHANG);

		if (r == d->pid) {
			d->status = decode_status(st);
			d->pid = 0;
			break;
		}
		if (r < 0 && errno != EINTR) {
			d->status = -1;
			d->pid = 0;
			break;
		}
		if (monotonic_ms() >= deadline)
			return -1;
		sleep_ms(5);
	}
	return d->status;
}

int
chatd_signal(struct chatd *d, int sig)
{
	if (d->pid <= 0)
		return -1;
	return kill(d->pid, sig);
}

static bool
env_name_matches(const char *entry, const char *name)
{
	size_t n = strcspn(name, "=");

	return !strncmp(entry, name, n) && entry[n] == '=';
}

/* Spawns without waiting; 0 or -1. */
static int
spawn(struct chatd *d, const struct chatd_opts *o)
{
	const char *bin = getenv("CHATD_BIN");
	const char *www = getenv("CHAT_WWW");
	const char *tmp = getenv("TMPDIR");
	const char *argv[MAX_ARGS];
	char **envp = NULL;
	size_t argc = 0, envc = 0, nenv = 0;
	int devnull = -1, out = -1, err = -1;
	pid_t parent = getpid();

	memset(d, 0, sizeof(*d));
	d->status = -1;
	if (!bin || !*bin) {
		print_error("chatd fixture: CHATD_BIN is not set (run the "
			    "tests through ctest)\n");
		return -1;
	}
	if (access(bin, X_OK) < 0) {
		print_error("chatd fixture: CHATD_BIN=%s is not executable: "
			    "%s\n", bin, strerror(errno));
		return -1;
	}
	snprintf(d->dir, sizeof(d->dir), "%s/chatd-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->dir)) {
		print_error("chatd fixture: mkdtemp %s: %s\n", d->dir,
			    strerror(errno));
		d->dir[0] = '\0';
		return -1;
	}
	snprintf(d->out_path, sizeof(d->out_path), "%s/stdout.log", d->dir);
	snprintf(d->err_path, sizeof(d->err_path), "%s/stderr.log", d->dir);

	argv[argc++] = bin;
	if (!o->no_defaults) {
		argv[argc++] = "--port";
		argv[argc++] = "0";
		argv[argc++] = "--host";
		argv[argc++] = "127.0.0.1";
		if (www && *www) {
			argv[argc++] = "--www";
			argv[argc++] = www;
		}
		/* History in memory unless the test gives a --db (after
		 * these, so it wins): nothing lands in the user's state
		 * directory, which is chatd's own default. */
		argv[argc++] = "--db";
		argv[argc++] = ":memory:";
		/* Tests send as fast as they can; the rate limit has tests
		 * of its own, which ask for it after this. */
		argv[argc++] = "--rate";
		argv[argc++] = "0";
	}
	for (size_t i = 0; o->args && o->args[i]; i++) {
		if (argc + 1 >= MAX_ARGS)
			break;
		argv[argc++] = o->args[i];
	}
	argv[argc] = NULL;

	for (char **e = environ; *e; e++)
		nenv++;
	for (size_t i = 0; o->env && o->env[i]; i++)
		nenv++;
	envp = calloc(nenv + 1, sizeof(*envp));
	if (!envp)
		goto fail;
	for (char **e = environ; *e; e++) {
		/* Nothing of the caller's configuration leaks in (a
		 * developer's CHAT_DB must never be written by a test);
		 * CHAT_WWW is the ctest-provided www/ and stays. */
		bool drop = env_name_matches(*e, "PORT") ||
			    (!strncmp(*e, "CHAT_", 5) &&
			     !env_name_matches(*e, "CHAT_WWW"));

		for (size_t i = 0; !drop && o->env && o->env[i]; i++)
			drop = env_name_matches(*e, o->env[i]);
		if (!drop)
			envp[envc++] = *e;
	}
	for (size_t i = 0; o->env && o->env[i]; i++)
		if (strchr(o->env[i], '='))
			envp[envc++] = (char *)o->env[i];
	envp[envc] = NULL;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = open(d->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
					O_CLOEXEC, 0600);
	err = open(d->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
					O_CLOEXEC, 0600);
	if (devnull < 0 || out < 0 || err < 0) {
		print_error("chatd fixture: opening logs in %s: %s\n", d->dir,
			    strerror(errno));
		goto fail;
	}
	fflush(stdout);
	fflush(stderr);
	d->pid = fork();
	if (d->pid < 0) {
		print_error("chatd fixture: fork: %s\n", strerror(errno));
		d->pid = 0;
		goto fail;
	}
	if (d->pid == 0) {
		/* If the test dies (ctest timeout), take the server with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (chdir(d->dir) < 0 || dup2(devnull, 0) < 0 ||
		    dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execve(bin, (char *const *)argv, envp);
		dprintf(2, "chatd fixture: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(devnull);
	close(out);
	close(err);
	free(envp);
	return 0;
fail:
	if (devnull >= 0)
		close(devnull);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	free(envp);
	chatd_cleanup(d);
	return -1;
}

int
chatd_spawn(struct chatd *d, const struct chatd_opts *o)
{
	struct chatd_opts def = {0};
	long long start, deadline;
	int timeout;

	if (!o)
		o = &def;
	timeout = o->ready_timeout_ms > 0 ? o->ready_timeout_ms
					  : CHATD_READY_TIMEOUT_MS;
	if (spawn(d, o) < 0)
		return -1;
	if (o->no_wait)
		return 0;
	start = monotonic_ms();
	deadline = start + timeout;
	for (;;) {
		char *log = chatd_stderr(d);
		int port = chatd_parse_ready(log, d->host, sizeof(d->host));

		free(log);
		if (port > 0) {
			d->port = port;
			return 0;
		}
		if (chatd_wait(d, 0) >= 0 || d->pid == 0) {
			char why[128];

			snprintf(why, sizeof(why),
				 "exited with status %d before its ready line",
				 d->status);
			print_error("chatd fixture: %s\n", why);
			chatd_dump_logs(d, why);
			chatd_cleanup(d);
			return -1;
		}
		if (monotonic_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	{
		char *so = chatd_stdout(d);
		bool on_stdout = chatd_parse_ready(so, NULL, 0) > 0;

		free(so);
		print_error("chatd fixture: no '" READY_PREFIX "HOST:PORT' line "
			    "on stderr within %d ms%s\n", timeout,
			    on_stdout ? " (it was printed on stdout)" : "");
	}
	chatd_dump_logs(d, "no ready line");
	chatd_kill(d);
	return -1;
}

int
chatd_start(struct chatd *d, const char *const *args)
{
	struct chatd_opts o = {.args = args};

	return chatd_spawn(d, &o);
}

void
chatd_kill(struct chatd *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		chatd_wait(d, 5000);
	}
	chatd_cleanup(d);
}

int
chatd_stop(struct chatd *d)
{
	int st;

	if (d->pid > 0) {
		long long t0 = monotonic_ms();

		kill(d->pid, SIGTERM);
		st = chatd_wait(d, CHATD_STOP_TIMEOUT_MS);
		if (st < 0 && d->pid > 0) {
			char why[96];

			snprintf(why, sizeof(why),
				 "still running %d ms after SIGTERM",
				 CHATD_STOP_TIMEOUT_MS);
			print_error("chatd fixture: %s\n", why);
			chatd_dump_logs(d, why);
			kill(d->pid, SIGKILL);
			chatd_wait(d, 5000);
			chatd_cleanup(d);
			return -1;
		}
		if (st != 0) {
			char why[96];

			snprintf(why, sizeof(why),
				 "exit status %d after SIGTERM (%lld ms)", st,
				 monotonic_ms() - t0);
			print_error("chatd fixture: %s\n", why);
			chatd_dump_logs(d, why);
		} else if (getenv("CHATD_TEST_LOG")) {
			chatd_dump_logs(d, "stopped");
		}
	}
	st = d->status;
	chatd_cleanup(d);
	return st;
}

int
chatd_run(const struct chatd_opts *o, int timeout_ms, char **out, char **err)
{
	struct chatd_opts ro = {0};
	struct chatd d;
	int st;

	if (o)
		ro = *o;
	ro.no_wait = true;
	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	if (spawn(&d, &ro) < 0)
		return -1;
	st = chatd_wait(&d, timeout_ms);
	if (st < 0 && d.pid > 0) {
		chatd_dump_logs(&d, "chatd_run: still running at the deadline");
		kill(d.pid, SIGKILL);
		chatd_wait(&d, 5000);
		st = -1;
	}
	if (out)
		*out = chatd_stdout(&d);
	if (err)
		*err = chatd_stderr(&d);
	chatd_cleanup(&d);
	return st;
}

int
free_tcp_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}
