#!/bin/sh
# Installs what chatd needs to build, run and test, from Debian's packages
# (and, for the browser tests, npm packages pinned in test/e2e/package-lock.json).
# Idempotent: installs nothing when everything is already present.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config libwebsockets-dev libssl-dev
libjansson-dev libsqlite3-dev sqlite3 libcmocka-dev chromium"
# make fuzz: clang, and its libFuzzer and sanitizer runtimes, which clang
# only recommends.
PKGS="$PKGS clang libclang-rt-dev"
# The TLS tests make their certificates with the openssl CLI, and
# test_token_auth runs the README's token-minting line with it.
PKGS="$PKGS openssl"
# test_metrics checks /metrics with promtool and prometheus_client's parser.
PKGS="$PKGS prometheus python3-prometheus-client"
# Debian's nodejs and npm, unless a node is already installed.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

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
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing
fi

# The browser tests' node packages; never a browser download (they drive
# Debian's /usr/bin/chromium).
if [ -f test/e2e/package-lock.json ] &&
	{ [ ! -d test/e2e/node_modules ] ||
	  [ test/e2e/package-lock.json -nt test/e2e/node_modules ]; }; then
	(cd test/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	touch test/e2e/node_modules
fi
