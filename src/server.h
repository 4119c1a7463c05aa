/*
 * The server: one lws context, one vhost with the www/ mount and the chat
 * protocol, signal handling and the service loop.
 */
#ifndef CHAT_SERVER_H
#define CHAT_SERVER_H

#include <stddef.h>

struct config;

/* Exit statuses of server_run(). */
enum server_exit {
	SERVER_EXIT_OK = 0,
	SERVER_EXIT_FAILURE = 1, /* could not start: port in use, ... */
	SERVER_EXIT_USAGE = 2,   /* a configured value is unusable */
};

/*
 * Runs until SIGTERM or SIGINT, then closes every session with 1001 and
 * returns SERVER_EXIT_OK. On a start-up failure returns another status with
 * err filled (one line naming the cause).
 */
int server_run(const struct config *cfg, char *err, size_t errlen);

#endif
