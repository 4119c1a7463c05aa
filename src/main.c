/*
 * chatd: argv -> config -> server_run() -> exit status.
 */
#include <stdio.h>

#include "config.h"
#include "server.h"

#ifndef CHATD_VERSION
#define CHATD_VERSION "0.0.0"
#endif

int
main(int argc, char **argv)
{
	struct config cfg;
	char err[256] = "";
	int status;

	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(argv[0]);
		return 0;
	case CONFIG_VERSION:
		printf("chatd %s\n", CHATD_VERSION);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "chatd: %s\n", err);
		return 2;
	case CONFIG_RUN:
		break;
	}
	status = server_run(&cfg, err, sizeof(err));
	if (status)
		fprintf(stderr, "chatd: %s\n", err);
	return status;
}
