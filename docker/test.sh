#!/bin/sh
# make docker-test: builds docker/Dockerfile with rootful podman (no Docker
# engine runs on these machines), runs the image as a user would and checks
# it from the outside through a published 127.0.0.1 port: chat echo, page,
# health check, non-root, clean stop, history kept on the volume across
# containers; then the same stack through podman-compose and
# docker/compose.yml. Every container, volume and image it makes goes at
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
	podman rm -f -t 0 "$NAME" "$C_NAME" >/dev/null 2>&1
	podman volume rm -f "$VOLUME" "$C_VOLUME" >/dev/null 2>&1
	# podman-compose 1.0.3's down leaves the network it made.
	podman network rm -f "$C_NETWORK" >/dev/null 2>&1
	podman rmi -f "$IMAGE" "$C_IMAGE" >/dev/null 2>&1
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
if ! podman build --pull=never --format docker --layers=false \
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
say "image size: $((size / 1000000)) MB"
