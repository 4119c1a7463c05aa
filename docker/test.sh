#!/bin/sh
# make docker-test: builds docker/Dockerfile with rootful podman (no Docker
# engine runs on these machines), runs the image as a user would and checks
# it from the outside through a published 127.0.0.1 port: chat echo, page,
# health check, non-root, clean stop, history kept on the volume across
# containers; then the same stack through podman-compose and
# docker/compose.yml; then the cluster, docker/compose.cluster.yml (Redis,
# chatd-a, chatd-b, HAProxy): a message through the balancer from a client
# pinned to one instance reaches a client pinned to the other with the
# same id, and the balancer's health checks take a stopped instance, then
# a stopped Redis, out. Every container, volume and image it makes goes at
# exit; the base image tarball stays cached in build-docker/.
set -eu
cd "$(dirname "$0")/.."

BUILD_DIR=build-docker
PY=/usr/bin/python3	# Debian's, which has python3-websockets
T0=$(date +%s)
ID=$$
IMAGE=localhost/chatd-test:$ID
NAME=chatd-test-$ID
VOLUME=chatd-test-$ID-data
PROJECT=chatdtest$ID
# podman-compose's names for its container, image and volume.
C_NAME=${PROJECT}_chatd_1
C_IMAGE=${PROJECT}_chatd
C_VOLUME=${PROJECT}_chatd-data
C_NETWORK=${PROJECT}_default
# The cluster's project, apart from the single chatd's (down -v removes
# every volume labelled with its project), and podman-compose's names in it.
K_PROJECT=chatdcluster$ID
K_FILE=docker/compose.cluster.yml
K_SERVICES="redis chatd-a chatd-b lb"
K_IMAGES="${K_PROJECT}_redis ${K_PROJECT}_chatd-a ${K_PROJECT}_chatd-b ${K_PROJECT}_lb"
K_VOLUMES="${K_PROJECT}_chatd-a-data ${K_PROJECT}_chatd-b-data"
K_NETWORK=${K_PROJECT}_default
LOGS=$BUILD_DIR/logs
TEXT="hello world from docker-test $ID"

say() { echo "docker-test: $*"; }
die() {
	echo "docker-test: FAIL: $*" >&2
	exit 1
}
elapsed() { echo $(($(date +%s) - T0)); }

scripts/install-deps.sh --docker
. docker/podman-env.sh
# Docker image format, so HEALTHCHECK survives (OCI has no such field);
# podman-compose's own builds read this too.
BUILDAH_FORMAT=docker
export BUILDAH_FORMAT
rm -rf "$LOGS"
mkdir -p "$LOGS"

cleanup() {
	status=$?
	set +e
	if [ -f "$LOGS/compose-up.log" ]; then
		CHATD_PUBLISH=127.0.0.1:1 podman-compose -p "$PROJECT" \
			-f docker/compose.yml down -v >/dev/null 2>&1
	fi
	if [ -f "$LOGS/cluster-up.log" ]; then
		CHATD_CLUSTER_PUBLISH=127.0.0.1:1 podman-compose -p "$K_PROJECT" \
			-f "$K_FILE" down -v >/dev/null 2>&1
	fi
	for s in $K_SERVICES; do
		podman rm -f -t 0 "${K_PROJECT}_${s}_1" >/dev/null 2>&1
	done
	podman rm -f -t 0 "$NAME" "$C_NAME" >/dev/null 2>&1
	# shellcheck disable=SC2086 # lists of names
	podman volume rm -f "$VOLUME" "$C_VOLUME" $K_VOLUMES >/dev/null 2>&1
	# podman-compose 1.0.3's down leaves the network it made.
	podman network rm -f "$C_NETWORK" "$K_NETWORK" >/dev/null 2>&1
	# shellcheck disable=SC2086
	podman rmi -f "$IMAGE" "$C_IMAGE" $K_IMAGES >/dev/null 2>&1
	# The base tags are ours too; the tarball they came from stays.
	podman rmi docker.io/library/debian:bookworm \
		docker.io/library/debian:bookworm-slim >/dev/null 2>&1
	if [ "$status" -ne 0 ]; then
		say "logs of this run are in $LOGS/"
	fi
	say "$( [ "$status" -eq 0 ] && echo passed || echo FAILED) in $(elapsed) s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on now, on 127.0.0.1 (the only address used).
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready CONTAINER: the ready line in its log within 30 s.
wait_ready() {
	i=0
	while [ $i -lt 60 ]; do
		if podman logs "$1" 2>&1 | grep -q '^listening on http'; then
			return 0
		fi
		state=$(podman inspect --format '{{.State.Status}}' "$1" 2>/dev/null || echo gone)
		case $state in
		exited | stopped | gone)
			podman logs "$1" >&2 2>&1 || :
			die "$1 stopped before it was ready ($state, log above)"
			;;
		esac
		sleep 0.5
		i=$((i + 1))
	done
	podman logs "$1" >&2 2>&1 || :
	die "$1 printed no ready line within 30 s (log above)"
}

# pm ARGS: podman ARGS with its stderr in the log (without systemd it
# complains about health check timers on every stop and rm), shown on
# failure.
pm() {
	podman "$@" 2>>"$LOGS/podman.log" || {
		tail -n 5 "$LOGS/podman.log" >&2
		die "podman $* failed (above)"
	}
}

probe() {
	$PY docker/probe.py "$@" || die "probe $1 $2 failed (reason above)"
}

# wait_status ADDR PATH CODE: GET PATH answers CODE within 30 s (the
# balancer's checks run every 2 s and take 2 failures to mark one down).
wait_status() {
	i=0
	until $PY docker/probe.py status "$@" >"$LOGS/status.log" 2>&1; do
		i=$((i + 1))
		[ $i -le 30 ] || die "$(cat "$LOGS/status.log"), still after 30 s"
		sleep 1
	done
	cat "$LOGS/status.log"
}

# wait_healthy CONTAINER...: each passes its own health check within 60 s.
# Without systemd podman runs no check by itself: each run here is one.
wait_healthy() {
	for c in "$@"; do
		i=0
		until podman healthcheck run "$c" >"$LOGS/health.log" 2>&1; do
			state=$(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null || echo gone)
			case $state in
			exited | stopped | gone)
				podman logs "$c" >&2 2>&1 || :
				die "$c stopped before it was healthy ($state, log above)"
				;;
			esac
			i=$((i + 1))
			if [ $i -gt 60 ]; then
				podman logs "$c" >&2 2>&1 || :
				die "$c not healthy within 60 s: $(cat "$LOGS/health.log") (log above)"
			fi
			sleep 1
		done
	done
}

# health CONTAINER: the image's own check passes, and the same check
# against a port nothing listens on fails, so a pass means something.
health() {
	podman healthcheck run "$1" >"$LOGS/health.log" 2>&1 ||
		die "podman healthcheck run $1 failed: $(cat "$LOGS/health.log")"
	if podman exec "$1" chatd --healthcheck http://127.0.0.1:1/healthz \
		>/dev/null 2>&1; then
		die "chatd --healthcheck passed against a closed port"
	fi
	say "health: podman healthcheck run $1: healthy"
}

# not_root CONTAINER: chatd is PID 1 and runs with a uid other than 0.
not_root() {
	proc=$(podman exec "$1" cat /proc/1/status) ||
		die "podman exec $1 failed"
	comm=$(echo "$proc" | awk '$1 == "Name:" { print $2 }')
	uid=$(echo "$proc" | awk '$1 == "Uid:" { print $2 }')
	[ "$comm" = chatd ] || die "PID 1 in $1 is '$comm', not chatd"
	[ -n "$uid" ] && [ "$uid" -ne 0 ] || die "chatd in $1 runs as uid '$uid'"
	say "user: chatd runs as uid $uid"
}

say "base image"
docker/base-image.sh "$BUILD_DIR"

say "building $IMAGE (log: $LOGS/build.log)"
# No layer cache (--layers=false): nothing of the build is left behind
# once the tag is removed. --pull=never: the base images are local.
# The host's local certificate authorities (a TLS-inspecting proxy's, on
# machines that have one) go to the build's npm ci; none: nothing passed.
extra_ca=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
if ! podman build --pull=never --format docker --layers=false \
	--build-arg EXTRA_CA_CERTS="$extra_ca" \
	-f docker/Dockerfile -t "$IMAGE" . >"$LOGS/build.log" 2>&1; then
	tail -n 40 "$LOGS/build.log" >&2
	die "podman build failed (last lines above)"
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image: $IMAGE, $((size / 1000000)) MB ($size bytes), built in $(elapsed) s"

# What the Dockerfile promises, read back from the image itself.
config=$(podman image inspect --format \
	'{{.Config.User}} {{range $k, $v := .Config.ExposedPorts}}{{$k}}{{end}} {{range $k, $v := .Config.Volumes}}{{$k}}{{end}} {{.Config.StopSignal}}' \
	"$IMAGE")
[ "$config" = "chatd 5000/tcp /data SIGTERM" ] ||
	die "image config is '$config', want 'chatd 5000/tcp /data SIGTERM'"
podman image inspect --format '{{json .HealthCheck}}' "$IMAGE" |
	grep -q -- '"chatd","--healthcheck"' || die "the image has no HEALTHCHECK"

# --- podman run -------------------------------------------------------
PORT=$(free_port)
ADDR=127.0.0.1:$PORT
say "run: $NAME on $ADDR, volume $VOLUME"
podman run -d --name "$NAME" -p "$ADDR:5000" -v "$VOLUME:/data" "$IMAGE" \
	>"$LOGS/run.log" 2>&1 || die "podman run failed: $(cat "$LOGS/run.log")"
wait_ready "$NAME"
probe echo "$ADDR" "$TEXT"
probe page "$ADDR"
# socket.io-client's bundle, fetched by npm in the build stage alone.
probe status "$ADDR" /socket.io/socket.io.js 200
podman run --rm --entrypoint /bin/sh "$IMAGE" -c \
	'! command -v node && ! command -v npm' >/dev/null ||
	die "the image has node or npm (only the build stage should)"
health "$NAME"
not_root "$NAME"

# A client connected while it stops must get close 1001.
$PY docker/probe.py close "$ADDR" >"$LOGS/close.log" 2>&1 &
closer=$!
i=0
until grep -q '^close: connected' "$LOGS/close.log"; do
	i=$((i + 1))
	[ $i -le 50 ] || die "the close probe did not connect: $(cat "$LOGS/close.log")"
	sleep 0.2
done
t=$(date +%s%N)
pm stop -t 10 "$NAME" >/dev/null
ms=$((($(date +%s%N) - t) / 1000000))
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$code" -eq 0 ] || die "$NAME exited with $code on SIGTERM (logs: podman logs)"
[ "$ms" -lt 10000 ] || die "podman stop took $ms ms: SIGTERM did not end chatd"
wait "$closer" || die "client during stop: $(cat "$LOGS/close.log")"
say "stop: exit 0 after $ms ms; $(tail -n 1 "$LOGS/close.log")"
podman logs "$NAME" >"$LOGS/$NAME.log" 2>&1 || :

# A new container on the same volume has the history.
pm rm "$NAME" >/dev/null
podman run -d --name "$NAME" -p "$ADDR:5000" -v "$VOLUME:/data" "$IMAGE" \
	>"$LOGS/run.log" 2>&1 || die "podman run again failed: $(cat "$LOGS/run.log")"
wait_ready "$NAME"
probe history "$ADDR" "$TEXT"
pm stop -t 10 "$NAME" >/dev/null
pm rm "$NAME" >/dev/null

# --- podman-compose -----------------------------------------------------
# compose.yml builds the same Dockerfile; the image just built is tagged
# with the name podman-compose gives its build, so it runs that image
# instead of building it a second time (podman-compose builds only a
# missing image).
podman tag "$IMAGE" "$C_IMAGE"
PORT=$(free_port)
ADDR=127.0.0.1:$PORT
say "compose: project $PROJECT on $ADDR"
CHATD_PUBLISH=$ADDR podman-compose -p "$PROJECT" -f docker/compose.yml \
	up -d >"$LOGS/compose-up.log" 2>&1 ||
	die "podman-compose up failed: $(tail -n 20 "$LOGS/compose-up.log")"
podman container exists "$C_NAME" ||
	die "podman-compose made no container $C_NAME: $(tail -n 20 "$LOGS/compose-up.log")"
wait_ready "$C_NAME"
probe echo "$ADDR" "$TEXT"
health "$C_NAME"
# podman-compose turns the compose health check into --healthcheck-command.
podman inspect --format '{{json .Config.Healthcheck.Test}}' "$C_NAME" |
	grep -q -- 'chatd.*--healthcheck.*http://127.0.0.1:5000/healthz' ||
	die "$C_NAME health check is not compose.yml's: $(podman inspect \
		--format '{{json .Config.Healthcheck.Test}}' "$C_NAME")"
policy=$(podman inspect --format '{{.HostConfig.RestartPolicy.Name}}' "$C_NAME")
[ "$policy" = unless-stopped ] || die "$C_NAME restart policy '$policy'"
podman inspect --format '{{range .Mounts}}{{.Name}} {{.Destination}}{{end}}' \
	"$C_NAME" | grep -qx "$C_VOLUME /data" || die "$C_NAME has no $C_VOLUME on /data"
CHATD_PUBLISH=$ADDR podman-compose -p "$PROJECT" -f docker/compose.yml \
	down >"$LOGS/compose-down.log" 2>&1 ||
	die "podman-compose down failed: $(tail -n 20 "$LOGS/compose-down.log")"
podman container exists "$C_NAME" && die "$C_NAME still there after down"
say "compose: up, echo, health, restart policy, volume, down"

# --- the cluster: docker/compose.cluster.yml -----------------------------
# Redis and HAProxy images built here as chatd's was, under the names
# podman-compose would give its builds; chatd-a and chatd-b run the image
# above.
t=$(date +%s)
for s in redis lb; do
	case $s in
	redis) file=docker/redis.Dockerfile ;;
	lb) file=docker/haproxy.Dockerfile ;;
	esac
	if ! podman build --pull=never --format docker --layers=false \
		-f "$file" -t "${K_PROJECT}_$s" . >"$LOGS/build-$s.log" 2>&1; then
		tail -n 40 "$LOGS/build-$s.log" >&2
		die "podman build -f $file failed (last lines above)"
	fi
done
podman tag "$IMAGE" "${K_PROJECT}_chatd-a" "${K_PROJECT}_chatd-b"
redis_size=$(podman image inspect --format '{{.Size}}' "${K_PROJECT}_redis")
lb_size=$(podman image inspect --format '{{.Size}}' "${K_PROJECT}_lb")
say "cluster: images redis $((redis_size / 1000000)) MB, lb $((lb_size / 1000000)) MB, built in $(($(date +%s) - t)) s"

PORT=$(free_port)
KADDR=127.0.0.1:$PORT
say "cluster: project $K_PROJECT, the balancer on $KADDR"
t=$(date +%s)
CHATD_CLUSTER_PUBLISH=$KADDR podman-compose -p "$K_PROJECT" -f "$K_FILE" \
	up -d >"$LOGS/cluster-up.log" 2>&1 ||
	die "podman-compose up failed: $(tail -n 20 "$LOGS/cluster-up.log")"
for s in $K_SERVICES; do
	podman container exists "${K_PROJECT}_${s}_1" ||
		die "podman-compose made no container ${K_PROJECT}_${s}_1: $(tail -n 20 "$LOGS/cluster-up.log")"
done
for s in chatd-a chatd-b; do
	podman inspect --format '{{range .Mounts}}{{.Name}} {{.Destination}}{{end}}' \
		"${K_PROJECT}_${s}_1" | grep -qx "${K_PROJECT}_$s-data /data" ||
		die "${K_PROJECT}_${s}_1 has no volume of its own on /data"
done
# shellcheck disable=SC2046 # the container names
wait_healthy $(for s in $K_SERVICES; do echo "${K_PROJECT}_${s}_1"; done)
say "cluster: $K_SERVICES healthy after $(($(date +%s) - t)) s"
# The balancer's own check passes with one chatd up; the pinned routes
# answer once its checks have seen each.
for i in a b; do
	line=$(wait_status "$KADDR" "/healthz?instance=$i" 200)
	say "cluster: $line"
done
probe relay "$KADDR" a b "$TEXT (a to b)"
probe relay "$KADDR" b a "$TEXT (b to a)"
probe page "$KADDR"

# Health checks from the outside: a stopped chatd-b is out (pinned to it,
# 503; balanced, a answers), and with Redis stopped chatd-a's /healthz
# is 503, so the balancer has no server left and fails its own check.
pm stop -t 10 "${K_PROJECT}_chatd-b_1" >/dev/null
wait_status "$KADDR" "/healthz?instance=b" 503 >/dev/null
line=$(wait_status "$KADDR" /healthz 200)
case $line in
*"(instance a)") ;;
*) die "with chatd-b stopped, the balancer's answer: $line" ;;
esac
probe echo "$KADDR" "$TEXT (a alone)"
say "cluster: chatd-b stopped: ?instance=b 503, the rest served by a"
pm stop -t 10 "${K_PROJECT}_redis_1" >/dev/null
# 503 from chatd-a's /healthz, then from the balancer's monitor-uri once
# its checks have taken a out.
wait_status "$KADDR" /lb-health 503 >/dev/null
line=$(wait_status "$KADDR" /healthz 503)
case $line in
*"(instance none)") ;;
*) die "with no chatd up, the balancer's answer: $line" ;;
esac
if podman healthcheck run "${K_PROJECT}_lb_1" >/dev/null 2>&1; then
	die "the balancer passes its health check with no chatd up"
fi
say "cluster: redis stopped: chatd-a's /healthz 503, the balancer 503, lb unhealthy"

CHATD_CLUSTER_PUBLISH=$KADDR podman-compose -p "$K_PROJECT" -f "$K_FILE" \
	down -v >"$LOGS/cluster-down.log" 2>&1 ||
	die "podman-compose down failed: $(tail -n 20 "$LOGS/cluster-down.log")"
for s in $K_SERVICES; do
	podman container exists "${K_PROJECT}_${s}_1" &&
		die "${K_PROJECT}_${s}_1 still there after down"
done
for v in $K_VOLUMES; do
	podman volume exists "$v" && die "volume $v still there after down -v"
done
say "cluster: down -v"
say "image size: $((size / 1000000)) MB"
