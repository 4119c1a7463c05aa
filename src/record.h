/*
 * One stored chat message, as history keeps it and as the "message" frame
 * carries it. Pointers are borrowed from whoever produced the record.
 */
#ifndef CHAT_RECORD_H
#define CHAT_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct chat_record {
	const char *room;
	uint64_t id;  /* per room, strictly increasing from 1 */
	int64_t ts;   /* epoch milliseconds */
	const char *nick;
	const char *text;
	size_t text_len; /* text may hold NUL bytes from a plain frame */
	const char *cid; /* NULL when the sender gave none */
};

#endif
