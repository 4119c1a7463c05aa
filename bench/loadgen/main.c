/*
 * loadgen: chatd's load generator. argv -> options -> one scenario ->
 * one JSON line on stdout (the runner tabulates those). Talks only to
 * 127.0.0.1; every phase has a deadline, and --timeout bounds the run.
 */
#define _GNU_SOURCE
#include "lg.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void
usage(FILE *f)
{
	fputs("usage: loadgen --port N [--port2 M] [--mode chatd|raw|socketio]\n"
	      "  traffic: --subs N --pubs P (--rate R | --window W)\n"
	      "           (--duration S | --count C) [--size B]\n"
	      "           [--sweep --sweep-start R --sweep-step S"
	      " --sweep-steps K --p99-limit-ms L]\n"
	      "  idle:    --idle N [--concurrency C] [--hold S]\n"
	      "  common:  [--path P] [--subprotocol S] [--sources K]"
	      " [--timeout S]\n"
	      "           [--peer NAME --scenario NAME --rep N]"
	      " [--server-pid PID[,PID...]]\n"
	      "  --port2: publishers on --port, the others alternate"
	      " between the two\n"
	      "  --server-pid: the server's processes; its CPU time and"
	      " RSS are their sums\n"
	      "  --free-port: print a free 127.0.0.1 port and exit\n",
	      f);
}

/* "PID[,PID...]": the processes that together are the server. */
static void
pids(struct lg_opts *o, const char *s)
{
	char *e;

	o->nserver_pids = 0;
	for (;;) {
		long v = strtol(s, &e, 10);
		if (e == s || v <= 0 || (*e && *e != ',') ||
		    o->nserver_pids == LG_MAX_PIDS) {
			fprintf(stderr, "loadgen: bad value for --server-pid\n");
			exit(2);
		}
		o->server_pids[o->nserver_pids++] = (int)v;
		if (!*e)
			return;
		s = e + 1;
	}
}

static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 1;
	printf("%d\n", ntohs(a.sin_port));
	close(fd);
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit r;

	/* 10,000 sockets need more than the usual soft limit of 1024. */
	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static double
num(const char *s, const char *name)
{
	char *e;
	double v = strtod(s, &e);

	if (e == s || *e || v < 0) {
		fprintf(stderr, "loadgen: bad value for --%s: %s\n", name, s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", 1, 0, 'p'},         {"port2", 1, 0, 'q'},
		{"mode", 1, 0, 'm'},
		{"path", 1, 0, 'P'},         {"subprotocol", 1, 0, 'S'},
		{"subs", 1, 0, 's'},         {"pubs", 1, 0, 'b'},
		{"rate", 1, 0, 'r'},         {"window", 1, 0, 'w'},
		{"duration", 1, 0, 'd'},     {"count", 1, 0, 'c'},
		{"size", 1, 0, 'z'},         {"idle", 1, 0, 'i'},
		{"concurrency", 1, 0, 'C'},  {"hold", 1, 0, 'H'},
		{"server-pid", 1, 0, 'k'},   {"sweep", 0, 0, 'W'},
		{"sweep-start", 1, 0, '1'},  {"sweep-step", 1, 0, '2'},
		{"sweep-steps", 1, 0, '3'},  {"p99-limit-ms", 1, 0, 'L'},
		{"sources", 1, 0, 'a'},      {"timeout", 1, 0, 'T'},
		{"peer", 1, 0, 'n'},         {"scenario", 1, 0, 'N'},
		{"rep", 1, 0, 'R'},          {"free-port", 0, 0, 'F'},
		{"help", 0, 0, 'h'},         {0, 0, 0, 0},
	};
	struct lg_opts o = {
		.mode = MODE_CHATD,
		.window = 32,
		.duration = 10,
		.size = 48,
		.concurrency = 256,
		.hold = 1,
		.sweep_start = 10,
		.sweep_step = 3,
		.sweep_steps = 12,
		.p99_limit_ms = 100,
		.sources = 16,
		.timeout = 120,
		.peer = "?",
		.scenario = "?",
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.port = (int)num(optarg, "port"); break;
		case 'q': o.port2 = (int)num(optarg, "port2"); break;
		case 'm':
			if (!strcmp(optarg, "chatd"))
				o.mode = MODE_CHATD;
			else if (!strcmp(optarg, "raw"))
				o.mode = MODE_RAW;
			else if (!strcmp(optarg, "socketio"))
				o.mode = MODE_SOCKETIO;
			else {
				fprintf(stderr, "loadgen: bad --mode %s\n",
					optarg);
				return 2;
			}
			break;
		case 'P': o.path = optarg; break;
		case 'S': o.subprotocol = *optarg ? optarg : NULL; break;
		case 's': o.subs = (unsigned)num(optarg, "subs"); break;
		case 'b': o.pubs = (unsigned)num(optarg, "pubs"); break;
		case 'r': o.rate = num(optarg, "rate"); break;
		case 'w': o.window = (unsigned)num(optarg, "window"); break;
		case 'd': o.duration = num(optarg, "duration"); break;
		case 'c': o.count = (uint64_t)num(optarg, "count"); break;
		case 'z': o.size = (unsigned)num(optarg, "size"); break;
		case 'i': o.idle = (unsigned)num(optarg, "idle"); break;
		case 'C':
			o.concurrency = (unsigned)num(optarg, "concurrency");
			break;
		case 'H': o.hold = num(optarg, "hold"); break;
		case 'k': pids(&o, optarg); break;
		case 'W': o.sweep = true; break;
		case '1': o.sweep_start = num(optarg, "sweep-start"); break;
		case '2': o.sweep_step = num(optarg, "sweep-step"); break;
		case '3':
			o.sweep_steps = (unsigned)num(optarg, "sweep-steps");
			break;
		case 'L': o.p99_limit_ms = num(optarg, "p99-limit-ms"); break;
		case 'a': o.sources = (unsigned)num(optarg, "sources"); break;
		case 'T': o.timeout = num(optarg, "timeout"); break;
		case 'n': o.peer = optarg; break;
		case 'N': o.scenario = optarg; break;
		case 'R': o.rep = (int)num(optarg, "rep"); break;
		case 'F': return free_port();
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.port || o.port > 65535 || o.port2 > 65535 ||
	    (!o.idle && !o.pubs) ||
	    o.sources < 1 || o.sources > 250 || o.size < 24 ||
	    o.window < 1 || o.window > 65536 || o.concurrency < 1) {
		usage(stderr);
		return 2;
	}
	if (!o.path)
		o.path = proto_default_path(o.mode);
	if (!o.subprotocol)
		o.subprotocol = proto_default_subprotocol(o.mode);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Last resort should a phase's own deadline ever fail to fire. */
	alarm((unsigned)o.timeout + 30);

	static char json[1 << 16];
	struct lg g = {.o = &o, .ep = -1};
	int rc = o.idle ? run_idle(&g, json, sizeof(json))
			: run_traffic(&g, json, sizeof(json));
	puts(json);
	fflush(stdout);
	lg_fini(&g);
	return rc < 0 ? 1 : 0;
}
