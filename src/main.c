/*
 * chatd: argv -> config -> server_run() (or one health probe) -> exit
 * status.
 */
#include <stdio.h>

#include "config.h"
#include "healthcheck.h"
#include "log.h"
#include "server.h"

int
main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
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
	case CONFIG_HEALTHCHECK:
		status = (int)healthcheck_run(&cfg, err, sizeof(err));
		if (status)
			fprintf(stderr, "chatd: healthcheck: %s\n", err);
		return status;
	case CONFIG_RUN:
		break;
	}
	log_setup(cfg.log_level, cfg.log_format);
	status = server_run(&cfg, err, sizeof(err));
	if (status)
		log_fatal("%s", err);
	return status;
}
