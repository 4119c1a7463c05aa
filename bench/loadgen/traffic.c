/*
 * The scenarios: connect, settle, then publish open loop (an exact schedule,
 * latency measured from the scheduled time so a stalled server cannot hide
 * its backlog) or closed loop (at most --window messages per publisher not
 * yet seen by every receiver). Every receiver checks order, gaps and
 * duplicates per publisher. Also the sweep and the idle-connection run.
 */
#define _GNU_SOURCE
#include "lg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MS 1000000ull
#define SEC 1000000000ull
#define BURST 1024 /* open loop: most sends per publisher per turn */

static uint64_t deadline; /* the whole run's hard bound */

static bool
past_deadline(uint64_t now)
{
	return now >= deadline;
}

static void
jcat(char *b, size_t cap, const char *fmt, ...)
{
	size_t l = strlen(b);
	va_list ap;

	if (l + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(b + l, cap - l, fmt, ap);
	va_end(ap);
}

static const char *
mode_name(enum lg_mode m)
{
	return m == MODE_CHATD ? "chatd" : m == MODE_RAW ? "raw" : "socketio";
}

static void
json_head(struct lg *g, char *b, size_t cap)
{
	const struct lg_opts *o = g->o;

	b[0] = 0;
	jcat(b, cap, "{\"peer\":\"%s\",\"scenario\":\"%s\",\"rep\":%d,"
		     "\"mode\":\"%s\",\"size\":%u",
	     o->peer, o->scenario, o->rep, mode_name(o->mode), o->size);
}

static uint64_t
parse_u(const char **p, const char *e, char stop, bool *ok)
{
	uint64_t v = 0;
	const char *s = *p;

	while (s < e && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (s == *p || (stop && (s == e || *s != stop)))
		*ok = false;
	*p = s + (stop ? 1 : 0);
	return v;
}

static void
advance_window(struct lg *g, struct lg_pub *pb)
{
	while (pb->done < pb->sent && pb->cnt[pb->done & pb->mask] >= g->nrecv)
		pb->cnt[pb->done++ & pb->mask] = 0;
}

void
traffic_on_payload(struct lg *g, struct lg_conn *c, const char *p, size_t n,
		   uint64_t now)
{
	const char *e = p + n;
	bool ok = true;

	if (!c->expect || n < 2 || p[0] != 'B') {
		g->st.foreign++;
		return;
	}
	p++;
	uint64_t pub = parse_u(&p, e, '.', &ok);
	uint64_t seq = parse_u(&p, e, '.', &ok);
	uint64_t ts = parse_u(&p, e, 0, &ok);
	if (!ok || pub >= g->npubs) {
		g->st.foreign++;
		return;
	}
	struct lg_pub *pb = &g->pubs[pub];
	uint32_t *x = &c->expect[pub];
	if (seq < *x) {
		/* A duplicate, or a late one already counted lost. */
		g->st.dup++;
		return;
	}
	if (seq > *x)
		g->st.gaps += seq - *x;
	*x = (uint32_t)seq + 1;
	g->st.delivered++;
	if (!g->st.t_first_rx)
		g->st.t_first_rx = now;
	g->st.t_last_rx = now;
	hist_add(&g->st.lat, now > ts ? now - ts : 0);
	if (g->closed_loop && seq >= pb->done && seq < pb->sent) {
		pb->cnt[seq & pb->mask]++;
		advance_window(g, pb);
	}
}

/* Opens conns [0, n) with at most `conc` handshakes under way. */
static void
connect_all(struct lg *g, uint32_t n, unsigned conc, uint64_t until)
{
	uint32_t launched = 0;

	for (;;) {
		uint64_t now = now_ns();
		uint32_t settled = g->nready + g->nfailed + g->nclosed;
		if (settled >= n || now >= until || past_deadline(now))
			break;
		while (launched < n && launched - settled < conc)
			lg_connect(g, &g->conns[launched++]);
		lg_turn(g, (int64_t)MS);
	}
}

/* Waits until nothing arrived for `quiet` ns (join storms, backlogs). */
static bool
settle(struct lg *g, uint64_t quiet, uint64_t max)
{
	uint64_t start = now_ns();

	g->last_rx_ns = start;
	for (;;) {
		uint64_t now = now_ns();
		if (now - g->last_rx_ns >= quiet)
			return true;
		if (now - start >= max || past_deadline(now))
			return false;
		lg_turn(g, (int64_t)(10 * MS));
	}
}

/* A process's user + system CPU seconds, from /proc/PID/stat. */
static double
cpu_s(int pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields after the ")" that ends the command name: utime is 14th. */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Nanoseconds a process has spent runnable but waiting for a CPU (the
 * second field of /proc/PID/schedstat; pid 0 is ourselves): how much
 * other work on the machine got in the way of a step.
 */
static double
run_delay_s(int pid)
{
	char path[64];
	unsigned long long run = 0, wait = 0;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/schedstat");
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (double)wait / 1e9 : -1;
}

/*
 * The server's figure (CPU seconds, run delay, VmRSS) is the sum over its
 * processes (a cluster: two chatd and their redis-server), -1 when one is
 * unknown, so that a missing process never makes the server look cheaper.
 */
static double
server_sum(const struct lg_opts *o, double (*one)(int pid))
{
	double sum = 0;

	if (!o->nserver_pids)
		return -1;
	for (unsigned i = 0; i < o->nserver_pids; i++) {
		double v = one(o->server_pids[i]);
		if (v < 0)
			return -1;
		sum += v;
	}
	return sum;
}

/*
 * Our own user + system CPU seconds. The load generator must never be
 * the limit: it is one thread pinned to one CPU, so its CPU time over a
 * phase divided by the phase's wall time near 1.0 means it was saturated
 * and the server's figures of that phase may be ours.
 */
static double
self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A phase's own CPU use: start with lgcpu_begin, end with lgcpu_end. */
struct lgcpu {
	double cpu0;
	uint64_t t0;
	double cpu_s;  /* -1 unknown */
	double wall_s;
	double share;  /* cpu_s / wall_s; -1 unknown */
};

static void
lgcpu_begin(struct lgcpu *m)
{
	m->cpu0 = self_cpu_s();
	m->t0 = now_ns();
}

static void
lgcpu_end(struct lgcpu *m)
{
	double cpu1 = self_cpu_s();

	m->wall_s = (double)(now_ns() - m->t0) / 1e9;
	m->cpu_s = m->cpu0 >= 0 && cpu1 >= 0 ? cpu1 - m->cpu0 : -1;
	m->share = m->cpu_s >= 0 && m->wall_s > 0 ? m->cpu_s / m->wall_s : -1;
}

struct step {
	double wait_s[2]; /* run delay of the server, and of loadgen */
	double cpu_s;  /* server CPU over the step; -1 unknown */
	struct lgcpu lg; /* our own CPU over the step, drain included */
	double rate;   /* per publisher; 0 closed loop */
	uint64_t sent, expected, delivered, lost, dup;
	double secs, msgs_per_s, deliveries_per_s;
	uint64_t p50, p99, p999, max;
	uint32_t dead;
	bool drained;
	uint64_t lag; /* open loop: the load generator's worst lateness */
};

static uint64_t
sent_in_step(struct lg *g)
{
	uint64_t s = 0;

	for (uint32_t i = 0; i < g->npubs; i++)
		s += g->pubs[i].sent - g->pubs[i].first;
	return s;
}

struct sched {
	double rate, interval; /* open loop; rate 0 is closed loop */
	uint64_t t0, end, count;
	uint64_t lag;          /* open loop: worst lateness of a send */
};

/* Sends what publisher i owes at `now`, lowering *wait to its next due
 * time; returns true while it still has messages to send in this step. */
static bool
publish_due(struct lg *g, uint32_t i, struct sched *s, uint64_t now,
	    int64_t *wait)
{
	struct lg_pub *pb = &g->pubs[i];

	if (pb->c->state != ST_READY)
		return false;
	for (int b = 0; b < BURST; b++) {
		uint64_t k = pb->sent - pb->first;
		uint64_t ts = now;
		if (s->count && k >= s->count)
			return false;
		if (s->rate > 0) {
			ts = s->t0 + pb->offset_ns +
			     (uint64_t)((double)k * s->interval);
			if (!s->count && ts >= s->end)
				return false;
			if (ts > now) {
				if ((int64_t)(ts - now) < *wait)
					*wait = (int64_t)(ts - now);
				return true;
			}
			if (now - ts > s->lag)
				s->lag = now - ts;
		} else if (pb->sent - pb->done >= g->o->window) {
			return true;
		}
		if (proto_publish(g, pb->c, i, pb->sent, ts) < 0)
			return false;
		pb->sent++;
	}
	return true;
}

static void
run_step(struct lg *g, double rate, double secs, uint64_t count,
	 struct step *r)
{
	struct sched s = {
		.rate = rate,
		.interval = rate > 0 ? (double)SEC / rate : 0,
		.t0 = now_ns() + MS,
		.count = count,
	};
	double cpu0 = server_sum(g->o, cpu_s);
	double w0 = server_sum(g->o, run_delay_s), l0 = run_delay_s(0);

	lgcpu_begin(&r->lg);
	s.end = s.t0 + (uint64_t)(secs * (double)SEC);
	memset(&g->st, 0, sizeof(g->st));
	hist_reset(&g->st.lat);
	g->closed_loop = rate <= 0;
	for (uint32_t i = 0; i < g->npubs; i++) {
		g->pubs[i].first = g->pubs[i].sent;
		g->pubs[i].offset_ns = (uint64_t)(s.interval * i / g->npubs);
	}
	for (;;) {
		uint64_t now = now_ns();
		/* Open loop sends every message scheduled before `end`, however
		 * late; closed loop simply stops there. */
		if (past_deadline(now) || (rate <= 0 && now >= s.end) ||
		    now >= s.end + 10 * SEC)
			break;
		int64_t wait = (int64_t)MS;
		bool more = false;
		for (uint32_t i = 0; i < g->npubs; i++)
			more |= publish_due(g, i, &s, now, &wait);
		if (!more)
			break;
		lg_turn(g, wait);
	}
	uint64_t t_end = now_ns();
	/* Drain: until every copy is in, or the server went quiet. */
	r->sent = sent_in_step(g);
	r->expected = r->sent * g->nrecv;
	g->last_rx_ns = t_end;
	r->drained = false;
	for (;;) {
		uint64_t now = now_ns();
		if (g->st.delivered >= r->expected) {
			r->drained = true;
			break;
		}
		/* A stalled (descheduled) server is not a lossy one: only a
		 * long silence ends the wait. */
		if (now - g->last_rx_ns > 2 * SEC || now - t_end > 15 * SEC ||
		    past_deadline(now))
			break;
		lg_turn(g, (int64_t)(10 * MS));
	}
	lgcpu_end(&r->lg);
	double cpu1 = server_sum(g->o, cpu_s);
	r->cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	double w1 = server_sum(g->o, run_delay_s), l1 = run_delay_s(0);
	r->wait_s[0] = w0 >= 0 && w1 >= 0 ? w1 - w0 : -1;
	r->wait_s[1] = l0 >= 0 && l1 >= 0 ? l1 - l0 : -1;
	uint64_t tail = 0;
	for (uint32_t c = 0; c < g->nrecv; c++)
		for (uint32_t p = 0; p < g->npubs; p++)
			tail += g->pubs[p].sent - g->conns[c].expect[p];
	r->rate = rate;
	r->lag = s.lag;
	r->delivered = g->st.delivered;
	r->lost = g->st.gaps + tail;
	r->dup = g->st.dup;
	r->dead = g->nrecv - g->nready;
	uint64_t last = g->st.t_last_rx > t_end ? g->st.t_last_rx : t_end;
	uint64_t t0 = s.t0;
	r->secs = (double)(t_end - t0) / (double)SEC;
	r->msgs_per_s = r->secs > 0 ? (double)r->sent / r->secs : 0;
	r->deliveries_per_s = last > t0 ? (double)r->delivered * (double)SEC /
						  (double)(last - t0)
					: 0;
	r->p50 = hist_quantile(&g->st.lat, 0.50);
	r->p99 = hist_quantile(&g->st.lat, 0.99);
	r->p999 = hist_quantile(&g->st.lat, 0.999);
	r->max = g->st.lat.max;
}

static void
json_step(char *b, size_t cap, const struct step *r)
{
	jcat(b, cap,
	     "\"rate\":%.1f,\"sent\":%llu,\"expected\":%llu,"
	     "\"delivered\":%llu,\"lost\":%llu,\"dup\":%llu,\"dead\":%u,"
	     "\"secs\":%.3f,\"msgs_per_s\":%.0f,\"deliveries_per_s\":%.0f,"
	     "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
	     "\"max_us\":%.1f,\"server_cpu_s\":%.2f,"
	     "\"server_cpu_ns_per_delivery\":%.0f,\"send_lag_max_us\":%.1f,"
	     "\"server_run_delay_s\":%.3f,\"loadgen_run_delay_s\":%.3f,"
	     "\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_share\":%.3f",
	     r->rate, (unsigned long long)r->sent,
	     (unsigned long long)r->expected,
	     (unsigned long long)r->delivered, (unsigned long long)r->lost,
	     (unsigned long long)r->dup, r->dead, r->secs, r->msgs_per_s,
	     r->deliveries_per_s, r->p50 / 1e3, r->p99 / 1e3, r->p999 / 1e3,
	     r->max / 1e3, r->cpu_s,
	     r->cpu_s >= 0 && r->delivered ? r->cpu_s * 1e9 / r->delivered
					   : -1,
	     r->lag / 1e3, r->wait_s[0], r->wait_s[1], r->lg.cpu_s,
	     r->lg.share);
}

static bool
step_passes(const struct lg *g, const struct step *r)
{
	return r->lost == 0 && r->dup == 0 && r->dead == 0 && r->sent &&
	       (double)r->p99 <= g->o->p99_limit_ms * 1e6;
}

static void
sweep(struct lg *g, char *b, size_t cap)
{
	const struct lg_opts *o = g->o;
	double rate = o->sweep_start, best = 0, fail = 0, best_dps = 0;
	double best_p99 = 0;
	unsigned bisect = 0;
	/* Our CPU over all steps, and the busiest step: a saturated load
	 * generator at the steps near the limit caps the sweep. */
	double lg_cpu = 0, lg_wall = 0, lg_max = -1;

	unsigned down = 0, nsteps = 0;
	jcat(b, cap, ",\"steps\":[");
	for (unsigned i = 0; i < o->sweep_steps; i++) {
		struct step r;
		bool pass = false;
		/* A shared machine stalls now and then: a step that fails is
		 * tried again, up to 3 times while others' work kept the
		 * server or us off the CPU for over 5% of it. */
		int tries = 2;
		for (int attempt = 0; attempt < tries && !pass; attempt++) {
			if (past_deadline(now_ns()))
				break;
			run_step(g, rate, o->sweep_step, 0, &r);
			pass = step_passes(g, &r);
			if (r.lg.share >= 0) {
				lg_cpu += r.lg.cpu_s;
				lg_wall += r.lg.wall_s;
				if (r.lg.share > lg_max)
					lg_max = r.lg.share;
			}
			if (r.wait_s[0] + r.wait_s[1] > 0.05 * r.secs)
				tries = 3;
			jcat(b, cap, "%s{", nsteps++ ? "," : "");
			json_step(b, cap, &r);
			jcat(b, cap, ",\"pass\":%s}", pass ? "true" : "false");
			fprintf(stderr,
				"sweep %s %s: rate %.1f -> %.0f deliveries/s, "
				"p99 %.1f ms, lost %llu, loadgen CPU %.0f%%: "
				"%s\n",
				o->peer, o->scenario, rate, r.deliveries_per_s,
				r.p99 / 1e6, (unsigned long long)r.lost,
				100 * r.lg.share, pass ? "pass" : "FAIL");
			/* A failed step leaves a backlog: start clean. */
			if (!settle(g, 300 * MS, 15 * SEC) ||
			    g->nready < g->nrecv || r.lost)
				break;
		}
		if (pass) {
			best = rate;
			best_dps = r.deliveries_per_s;
			best_p99 = r.p99 / 1e3;
		} else {
			fail = rate;
		}
		if (g->nready < g->nrecv || past_deadline(now_ns()))
			break;
		if (!fail)
			rate *= 2;
		else if (!best && down++ < 2)
			rate /= 4; /* even the first step failed: look lower */
		else if (best && bisect++ < 2)
			rate = sqrt(best * fail);
		else
			break;
		if (best && fail && rate <= best * 1.05)
			break;
		settle(g, 200 * MS, 2 * SEC);
	}
	jcat(b, cap,
	     "],\"sustainable_rate\":%.1f,"
	     "\"sustainable_deliveries_per_s\":%.0f,"
	     "\"sustainable_p99_us\":%.1f,\"first_failing_rate\":%.1f,"
	     "\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_share\":%.3f,"
	     "\"loadgen_cpu_share_max\":%.3f",
	     best, best_dps, best_p99, fail, lg_wall > 0 ? lg_cpu : -1,
	     lg_wall > 0 ? lg_cpu / lg_wall : -1, lg_max);
}

int
run_traffic(struct lg *g, char *b, size_t cap)
{
	const struct lg_opts *o = g->o;
	uint32_t n = o->subs + o->pubs;
	uint64_t t0 = now_ns();

	deadline = t0 + (uint64_t)(o->timeout * (double)SEC);
	json_head(g, b, cap);
	jcat(b, cap, ",\"subs\":%u,\"pubs\":%u,\"window\":%u", o->subs,
	     o->pubs, o->window);
	if (lg_init(g, o, n) < 0)
		goto fail;
	g->npubs = o->pubs;
	g->nrecv = n;
	g->pubs = calloc(o->pubs ? o->pubs : 1, sizeof(*g->pubs));
	if (!g->pubs)
		goto oom;
	uint32_t ring = 1;
	while (ring < o->window * 2)
		ring <<= 1;
	for (uint32_t i = 0; i < o->pubs; i++) {
		g->pubs[i].c = &g->conns[i];
		g->pubs[i].c->pub = (int32_t)i;
		g->pubs[i].mask = ring - 1;
		g->pubs[i].cnt = calloc(ring, sizeof(uint32_t));
		if (!g->pubs[i].cnt)
			goto oom;
	}
	for (uint32_t i = 0; i < n; i++) {
		g->conns[i].expect = calloc(o->pubs ? o->pubs : 1, 4);
		if (!g->conns[i].expect)
			goto oom;
	}
	connect_all(g, n, o->concurrency, t0 + 60 * SEC);
	double connect_ms = (double)(now_ns() - t0) / 1e6;
	jcat(b, cap, ",\"connect_ms\":%.1f,\"connected\":%u", connect_ms,
	     g->nready);
	if (g->nready < n) {
		snprintf(g->err, sizeof(g->err), "%u of %u connections failed",
			 n - g->nready, n);
		goto fail;
	}
	settle(g, 150 * MS, 20 * SEC);
	if (o->sweep) {
		sweep(g, b, cap);
	} else {
		struct step r;
		double secs = o->count && o->rate > 0
				      ? (double)o->count / o->rate + 2
				      : o->duration;
		run_step(g, o->rate, secs, o->count, &r);
		jcat(b, cap, ",");
		json_step(b, cap, &r);
	}
	/* What each delivery weighs on the wire, so peers sent different
	 * texts can be seen to carry frames of the same size. */
	jcat(b, cap, ",\"frame_bytes_mean\":%.1f",
	     g->rx_texts ? (double)g->rx_text_bytes / (double)g->rx_texts : 0.0);
	jcat(b, cap, ",\"ok\":true}");
	return 0;
oom:
	snprintf(g->err, sizeof(g->err), "out of memory");
fail:
	jcat(b, cap, ",\"ok\":false,\"error\":\"%s\"}", g->err);
	return -1;
}

static double
rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (double)kb;
}

int
run_idle(struct lg *g, char *b, size_t cap)
{
	const struct lg_opts *o = g->o;
	uint64_t t0 = now_ns();

	deadline = t0 + (uint64_t)(o->timeout * (double)SEC);
	json_head(g, b, cap);
	jcat(b, cap, ",\"idle\":%u,\"concurrency\":%u", o->idle,
	     o->concurrency);
	if (lg_init(g, o, o->idle) < 0) {
		jcat(b, cap, ",\"ok\":false,\"error\":\"%s\"}", g->err);
		return -1;
	}
	double before = server_sum(o, rss_kb);
	double cpu0 = server_sum(o, cpu_s);
	struct lgcpu lg;
	/* Ours over the connect phase, the one the 1 s target times. */
	lgcpu_begin(&lg);
	t0 = now_ns();
	connect_all(g, o->idle, o->concurrency, t0 + 60 * SEC);
	double connect_ms = (double)(now_ns() - t0) / 1e6;
	lgcpu_end(&lg);
	double cpu1 = server_sum(o, cpu_s);
	uint32_t ok = g->nready;
	bool quiet = settle(g, 250 * MS, 60 * SEC);
	double settle_ms = (double)(now_ns() - t0) / 1e6 - connect_ms;
	double after = server_sum(o, rss_kb);
	uint64_t hold_end = now_ns() + (uint64_t)(o->hold * (double)SEC);
	while (now_ns() < hold_end && !past_deadline(now_ns()))
		lg_turn(g, (int64_t)(10 * MS));
	double held = server_sum(o, rss_kb);
	double top = held > after ? held : after;
	double per = ok && before >= 0 && top >= 0 ? (top - before) / ok : -1;
	jcat(b, cap,
	     ",\"connected\":%u,\"failed\":%u,\"pending\":%u,"
	     "\"connect_ms\":%.1f,"
	     "\"settle_ms\":%.1f,\"settled\":%s,\"still_open\":%u,"
	     "\"rss_before_kb\":%.0f,\"rss_after_kb\":%.0f,"
	     "\"rss_held_kb\":%.0f,"
	     "\"rss_per_conn_kib\":%.3f,\"server_cpu_connect_s\":%.2f,"
	     "\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_share\":%.3f,"
	     "\"ok\":true}",
	     ok, g->nfailed, o->idle - ok - g->nfailed, connect_ms, settle_ms,
	     quiet ? "true" : "false",
	     g->nready, before, after, held, per,
	     cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, lg.cpu_s, lg.share);
	return 0;
}
