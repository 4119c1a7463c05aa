# The load balancer of chatd's cluster stack (docker/compose.cluster.yml):
# Debian 12's HAProxy with docker/haproxy.cfg, on the same
# debian:bookworm-slim base as chatd's image, as the package's non-root
# user. Build from the repository root:
#   docker build -f docker/haproxy.Dockerfile -t chatd-lb .
# Plain Dockerfile syntax only: Docker and podman alike.

FROM debian:bookworm-slim
# As in docker/redis.Dockerfile: no service start from a postinst.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
	&& chmod 755 /usr/sbin/policy-rc.d \
	&& apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		haproxy \
	&& apt-get clean \
	&& rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d
COPY docker/haproxy.cfg /etc/haproxy/haproxy.cfg
# A config that does not parse fails the build, not the first start (the
# backends' names need not resolve here: init-addr none).
RUN haproxy -c -q -f /etc/haproxy/haproxy.cfg

EXPOSE 5080
# No curl in here: bash's /dev/tcp asks haproxy.cfg's monitor-uri, which
# answers 200 while at least one chatd passes its check, 503 when none does.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
	CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5080 && printf 'GET /lb-health HTTP/1.0\\r\\n\\r\\n' >&3 && read -r -t 2 proto code rest <&3 && [ \"$code\" = 200 ]"]
# In the foreground (-db), logging to stderr. SIGTERM (the default stop
# signal) ends it at once: its clients' WebSockets close and they
# reconnect, as they would after a soft stop that waited for them.
USER haproxy
ENTRYPOINT ["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
