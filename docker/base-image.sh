#!/bin/sh
# Makes the base images the Dockerfile names, debian:bookworm and
# debian:bookworm-slim, without a registry (none is reachable here): one
# minbase bookworm tree from the Debian mirrors apt already uses, built once
# with mmdebstrap, cached as a tarball in the build folder, then imported
# and tagged as docker.io/library/debian:... (where the short names go).
# Usage: docker/base-image.sh BUILD_DIR  (with CONTAINERS_CONF exported)
set -eu
BUILD_DIR=$1
TARBALL="$BUILD_DIR/debian-bookworm-slim.tar"

# This machine's own sources (deb822 or one-line format alike): bookworm,
# its updates and its security suite, main only, as in Debian's images.
sources() {
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
		'Target-Of: deb' |
		awk '$2 ~ /^bookworm(-updates|-security)?$/ && $3 == "main" {
			print "deb " $1 " " $2 " main" }' | sort -u
}

if [ ! -s "$TARBALL" ]; then
	src=$(sources)
	if [ -z "$src" ]; then
		echo "base-image: no bookworm main source in apt's sources" >&2
		exit 1
	fi
	echo "base-image: mmdebstrap $TARBALL from:" >&2
	echo "$src" | sed 's/^/  /' >&2
	# The tree is slim as Debian's slim images are (no man pages, docs
	# but copyright files, translations), by dpkg path filters that stay
	# in the image so packages installed on top stay slim too. The build
	# stage needs none of that either, so one tree serves both tags.
	# merged-usr as debootstrap does it: with mmdebstrap's default
	# (the usrmerge package) a full perl would come along, 50 MB.
	set -- --quiet --variant=minbase --format=tar \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/groff/*' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm "$TARBALL.part"
	while IFS= read -r line; do set -- "$@" "$line"; done <<SRC
$src
SRC
	mkdir -p "$BUILD_DIR"
	# Written aside and renamed, so an interrupted run leaves no tarball
	# that a later run would take as complete.
	rm -f "$TARBALL.part"
	if ! mmdebstrap "$@" >"$BUILD_DIR/mmdebstrap.log" 2>&1; then
		cat "$BUILD_DIR/mmdebstrap.log" >&2
		echo "base-image: mmdebstrap failed (log above)" >&2
		exit 1
	fi
	mv "$TARBALL.part" "$TARBALL"
fi

podman import --quiet --change 'CMD ["bash"]' "$TARBALL" \
	docker.io/library/debian:bookworm-slim >/dev/null
podman tag docker.io/library/debian:bookworm-slim \
	docker.io/library/debian:bookworm
echo "base-image: debian:bookworm and debian:bookworm-slim from $TARBALL" >&2
