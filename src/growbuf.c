/*
 * A bounded, doubling byte buffer.
 */
#include "growbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROWBUF_FIRST 1024

int
growbuf_append(char **buf, size_t *len, size_t *cap, const void *data,
	       size_t n, size_t max)
{
	if (n > max || *len > max - n)
		return -EMSGSIZE;
	if (!n)
		return 0; /* nothing to copy; *buf may still be NULL */
	if (*len + n > *cap) {
		size_t want = *cap ? *cap : GROWBUF_FIRST;
		char *b;

		while (want < *len + n)
			want *= 2;
		if (want > max)
			want = max;
		b = realloc(*buf, want);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = want;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}
