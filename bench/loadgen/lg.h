/*
 * chatd's load generator: shared types. One process, one thread, one epoll
 * set; every connection is a minimal RFC 6455 client (net.c) speaking one
 * of three dialects (proto.c); traffic.c runs the scenarios on top.
 */
#ifndef LG_H
#define LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

enum lg_mode { MODE_CHATD, MODE_RAW, MODE_SOCKETIO };

#define LG_MAX_PIDS 8 /* --server-pid: processes that together serve */

enum lg_state {
	ST_CONNECTING, /* non-blocking connect() under way */
	ST_HANDSHAKE,  /* upgrade request sent, waiting for the 101 */
	ST_OPEN,       /* WebSocket open, dialect's greeting not done yet */
	ST_READY,      /* can publish and receive */
	ST_DEAD,
};

struct lg_opts {
	enum lg_mode mode;
	int port;
	int port2;            /* 0, or half the subscribers connect here */
	const char *path;
	const char *subprotocol;
	unsigned subs, pubs;
	double rate;          /* per publisher msgs/s; 0: closed loop */
	unsigned window;      /* closed loop: messages in flight per pub */
	double duration;      /* seconds of sending */
	uint64_t count;       /* or a number of messages per publisher */
	unsigned size;        /* payload text bytes */
	unsigned idle;        /* S4: idle connections to open */
	unsigned concurrency; /* S4: connects under way at once */
	double hold;          /* S4: seconds to hold them */
	int server_pids[LG_MAX_PIDS]; /* whose CPU time (and VmRSS) count */
	unsigned nserver_pids;
	bool sweep;
	double sweep_start;   /* first per-publisher rate of a sweep */
	double sweep_step;    /* seconds per sweep step */
	unsigned sweep_steps; /* most steps of a sweep */
	double p99_limit_ms;  /* sweep pass: p99 at most this */
	unsigned sources;     /* source addresses 127.0.0.1 .. 127.0.0.N */
	double timeout;       /* hard bound on the whole run, seconds */
	const char *peer, *scenario;
	int rep;
};

struct lg_conn {
	int fd;
	uint32_t id;
	uint8_t state;
	bool dirty;     /* on the flush list */
	bool pollout;   /* EPOLLOUT armed */
	bool counted;   /* ready or failure already counted */
	int32_t pub;    /* publisher index, -1 for a pure subscriber */
	char *in;       /* partial frame carried over between reads */
	uint32_t in_len, in_cap;
	char *out;      /* bytes not yet accepted by send() */
	uint32_t out_off, out_len, out_cap;
	uint32_t *expect; /* per publisher: next sequence expected */
};

struct lg_pub {
	struct lg_conn *c;
	uint64_t sent;  /* next sequence to send */
	uint64_t done;  /* closed loop: every receiver has all below this */
	uint64_t first; /* first sequence of the current step */
	uint64_t offset_ns;
	uint32_t *cnt;  /* closed loop: receivers per in-flight sequence */
	uint32_t mask;
};

struct lg_stats {
	uint64_t delivered, gaps, dup, foreign;
	uint64_t t_first_rx, t_last_rx;
	struct hist lat;
};

struct lg {
	const struct lg_opts *o;
	int ep;
	struct lg_conn *conns;
	uint32_t nconns;
	struct lg_pub *pubs;
	uint32_t npubs;
	uint32_t nrecv;       /* connections that count as receivers */
	uint32_t *flush;      /* dirty connections, flushed once per turn */
	uint32_t nflush;
	uint32_t nready, nfailed, nclosed, nconnecting;
	uint64_t last_rx_ns;  /* any byte from the server, for quiet checks */
	uint64_t rx_texts, rx_text_bytes; /* every text frame received */
	uint64_t rng;
	char *rb;             /* shared receive buffer */
	size_t rb_cap;
	char *payload;        /* scratch for one outgoing text */
	struct lg_stats st;
	bool closed_loop;
	char err[160];
};

/* net.c */
uint64_t now_ns(void);
int lg_init(struct lg *g, const struct lg_opts *o, uint32_t nconns);
void lg_fini(struct lg *g);
int lg_connect(struct lg *g, struct lg_conn *c);
/* One event-loop turn of at most timeout_ns; returns events handled. */
int lg_turn(struct lg *g, int64_t timeout_ns);
/* Queues one masked text frame; sent at the end of the turn. */
int lg_send_text(struct lg *g, struct lg_conn *c, const char *p, size_t n);
void lg_kill(struct lg *g, struct lg_conn *c);
void lg_mark_ready(struct lg *g, struct lg_conn *c);
/* The port c connects to: publishers always --port, the others alternate
 * between --port and --port2 when it is given. */
int lg_port(const struct lg *g, const struct lg_conn *c);

/* proto.c: the dialects */
const char *proto_default_path(enum lg_mode m);
const char *proto_default_subprotocol(enum lg_mode m);
int proto_on_text(struct lg *g, struct lg_conn *c, const char *p, size_t n,
		  uint64_t now);
int proto_publish(struct lg *g, struct lg_conn *c, uint32_t pub, uint64_t seq,
		  uint64_t ts);

/* traffic.c */
void traffic_on_payload(struct lg *g, struct lg_conn *c, const char *p,
			size_t n, uint64_t now);
int run_traffic(struct lg *g, char *json, size_t cap);
int run_idle(struct lg *g, char *json, size_t cap);

#endif
