/*
 * hostport: an "ADDR:PORT" value such as 127.0.0.1:9100 or [::1]:9100, as
 * --metrics-listen takes it. ADDR is an IPv4 or IPv6 literal (the IPv6 one
 * in brackets), never a name: a listener for operators binds exactly where
 * it is told. Pure, any thread.
 */
#ifndef CHAT_HOSTPORT_H
#define CHAT_HOSTPORT_H

#include <stdbool.h>

/* Room for any IPv4 or IPv6 literal (INET6_ADDRSTRLEN is 46). */
#define HOSTPORT_HOST_MAX 64

struct hostport {
	bool set;                         /* a value was given */
	char host[HOSTPORT_HOST_MAX + 1]; /* the literal, without brackets */
	unsigned port;                    /* 0: any free port */
};

/*
 * Parses s into *out (set, host, port from 0 to 65535). Returns 0, or -1
 * with *out unchanged when s is anything else: no port, a name, an IPv6
 * literal without brackets, trailing bytes.
 */
int hostport_parse(const char *s, struct hostport *out);

#endif
