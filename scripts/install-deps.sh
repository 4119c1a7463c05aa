#!/bin/sh
# Installs what chatd needs to build, run and test, from Debian's packages only.
# Idempotent: installs nothing when every package is already present.
set -eu

PKGS="build-essential cmake pkg-config libwebsockets-dev libssl-dev libjansson-dev
libsqlite3-dev sqlite3 libcmocka-dev"

if [ "${1:-}" = "--print" ]; then echo $PKGS; exit 0; fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
