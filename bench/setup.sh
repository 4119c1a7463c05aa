#!/bin/sh
# Installs what the benchmark needs beyond chatd's own build deps, from
# Debian's packages and the npm lock in bench/socketio. Idempotent: does
# nothing when everything is already there. Uses sudo when not root.
set -eu
cd "$(dirname "$0")"

# libwebsockets-test-server: the lws mirror peer. libssl-dev: SHA-1 for the
# ceiling server's handshake. util-linux: taskset. python3: the report.
# redis-server and curl: the cluster peer and its /healthz and /metrics.
PKGS="libwebsockets-test-server build-essential libssl-dev util-linux python3"
PKGS="$PKGS redis-server curl"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	echo "bench/setup.sh: installing:$missing" >&2
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing
fi

# The socket.io peer: express and socket.io exactly as package-lock.json
# pins them.
if [ ! -d socketio/node_modules ] ||
	[ socketio/package-lock.json -nt socketio/node_modules ]; then
	(cd socketio && npm ci --no-audit --no-fund --loglevel=error)
	touch socketio/node_modules
fi
