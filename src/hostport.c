/*
 * "ADDR:PORT" parsing, with inet_pton deciding what an address is, so the
 * value accepted here is one listener_open() binds without a lookup.
 */
#include "hostport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* Digits only, 0 to 65535; strtoul would take " 80", "+81" and "-1". */
static int
parse_port(const char *s, unsigned *out)
{
	unsigned long n = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n > 65535)
		return -1;
	*out = (unsigned)n;
	return 0;
}

int
hostport_parse(const char *s, struct hostport *out)
{
	struct hostport hp = { .set = true };
	unsigned char addr[sizeof(struct in6_addr)];
	const char *host = s, *colon;
	size_t len;
	int family = AF_INET;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		host = s + 1;
		len = (size_t)(close - host);
		colon = close + 1;
		family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		len = (size_t)(colon - s);
		/* "::1:9100" is ambiguous: an IPv6 literal needs brackets. */
		if (memchr(s, ':', len))
			return -1;
	}
	if (!len || len > HOSTPORT_HOST_MAX)
		return -1;
	memcpy(hp.host, host, len);
	hp.host[len] = '\0';
	/* inet_pton takes no zone ("fe80::1%eth0"): such an address is
	 * refused rather than bound on a guessed interface. */
	if (inet_pton(family, hp.host, addr) != 1 ||
	    parse_port(colon + 1, &hp.port))
		return -1;
	*out = hp;
	return 0;
}
