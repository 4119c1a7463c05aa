/*
 * growbuf: appending bytes to a heap buffer that doubles as it fills, up to
 * a bound. A session's reassembly of a fragmented message and a polling
 * POST's body both collect input this way.
 */
#ifndef CHAT_GROWBUF_H
#define CHAT_GROWBUF_H

#include <stddef.h>

/*
 * Appends n bytes of data to *buf (len bytes used, cap allocated; all
 * three may start at NULL/0). The buffer starts at 1 KiB and doubles, never
 * past max. Returns 0; -EMSGSIZE when len + n would exceed max; -ENOMEM.
 * On error nothing changes. Appending nothing allocates nothing.
 */
int growbuf_append(char **buf, size_t *len, size_t *cap, const void *data,
		   size_t n, size_t max);

#endif
