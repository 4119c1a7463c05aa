# Redis for chatd's cluster stack (docker/compose.cluster.yml): Debian 12's
# redis-server on the same debian:bookworm-slim base as chatd's image,
# nothing kept on disk (chatd keeps ids increasing over an empty Redis), as
# the package's non-root user. Build from the repository root:
#   docker build -f docker/redis.Dockerfile -t chatd-redis .
# Plain Dockerfile syntax only: Docker and podman alike.

FROM debian:bookworm-slim
# A postinst must not try to start the service in the build: policy-rc.d
# says no (101) for that one step. apt's lists and caches go in the same
# step, as in docker/Dockerfile.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
	&& chmod 755 /usr/sbin/policy-rc.d \
	&& apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		redis-server \
	&& apt-get clean \
	&& rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d

EXPOSE 6379
# redis-cli exits 0 on an error reply too (LOADING, NOAUTH): only PONG is
# healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
	CMD ["sh", "-c", "redis-cli ping | grep -qx PONG"]
# Redis's own defaults rather than Debian's /etc/redis/redis.conf (a
# daemon on loopback with a log file): in the foreground, logging to
# stderr, on every interface of the container's network, which nothing
# publishes. No password and no protected mode there, so only the stack's
# own network reaches it; no RDB or AOF: a restart starts empty.
USER redis
WORKDIR /var/lib/redis
ENTRYPOINT ["redis-server"]
CMD ["--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", \
	"--appendonly", "no"]
