#!/bin/sh
# Installs what docker/test.sh needs to build and run the image on a Debian
# 12 machine with no Docker engine: rootful podman (runc, since crun refuses
# hybrid cgroup layouts), podman-compose (aardvark-dns resolves its service
# names), mmdebstrap for the base image (no registry is reachable) and
# python3-websockets for the echo check. Idempotent, like
# scripts/install-deps.sh: installs nothing when everything is present.
set -eu

PKGS="podman buildah runc netavark aardvark-dns iptables catatonit
podman-compose mmdebstrap python3 python3-websockets"

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
	# No recommends: podman would otherwise bring crun (which is the one
	# that fails here), slirp4netns, uidmap and friends a rootful run
	# does not use.
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing
fi
