#!/bin/sh
# Installs what chatd needs from Debian's packages, and nothing already
# present.
#   scripts/install-deps.sh         build, run and test (make test)
#   scripts/install-deps.sh --run   build and run only (make run, make deb,
#                                   the image's build stage)
#   scripts/install-deps.sh --docker  what make docker-test needs to build
#                                     and run the image with podman
# The test set adds the browser tests' node packages, pinned in
# test/e2e/package-lock.json.
set -eu
cd "$(dirname "$0")/.."

mode=test
case "${1:-}" in
"") ;;
--run) mode=run ;;
--docker) mode=docker ;;
*)
	echo "install-deps.sh: $1: unknown option (use --run, --docker or" \
		"nothing)" >&2
	exit 2
	;;
esac

# Building and running chatd. npm too: the build fetches socket.io-client's
# browser bundle with `npm ci` (cmake/SocketioClient.cmake); chatd never
# runs node. Debian's, unless a node and an npm are installed.
PKGS="build-essential cmake pkg-config libwebsockets-dev libssl-dev
libjansson-dev libsqlite3-dev libhiredis-dev"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

if [ "$mode" = docker ]; then
	# A machine with no Docker engine: rootful podman (runc, since crun
	# refuses hybrid cgroup layouts), podman-compose (aardvark-dns
	# resolves its service names), mmdebstrap for the base image (no
	# registry is reachable) and python3-websockets for the echo check.
	# The image builds chatd itself (npm included), so nothing of the
	# above.
	PKGS="podman buildah runc netavark aardvark-dns iptables catatonit
podman-compose mmdebstrap python3 python3-websockets"
fi

if [ "$mode" = test ]; then
	# The tests: cmocka, the sqlite3 CLI, the browser; node (above) runs
	# the browser and TLS tests too.
	PKGS="$PKGS sqlite3 libcmocka-dev chromium"
	# make fuzz: clang, and its libFuzzer and sanitizer runtimes, which
	# clang only recommends.
	PKGS="$PKGS clang libclang-rt-dev"
	# The TLS tests make their certificates with the openssl CLI, and
	# test_token_auth runs the README's token-minting line with it.
	PKGS="$PKGS openssl"
	# test_install: python3 fetches pages, groff renders the man page,
	# systemd-analyze verifies the unit.
	PKGS="$PKGS python3 groff-base systemd"
	# test_metrics checks /metrics with promtool and prometheus_client's
	# parser.
	PKGS="$PKGS prometheus python3-prometheus-client"
	# test_cluster runs chatd instances in cluster mode against a
	# redis-server of its own, on a free loopback port.
	PKGS="$PKGS redis-server"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	echo "installing:$missing" >&2
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# No recommends: podman, for one, would bring crun (the runtime that
	# fails here), slirp4netns and uidmap, which a rootful run never uses.
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing
fi

# The browser tests' node packages; never a browser download (they drive
# Debian's /usr/bin/chromium).
if [ "$mode" = test ] && [ -f test/e2e/package-lock.json ] &&
	{ [ ! -d test/e2e/node_modules ] ||
	  [ test/e2e/package-lock.json -nt test/e2e/node_modules ]; }; then
	(cd test/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	touch test/e2e/node_modules
fi
