#!/bin/sh
# cpack -G DEB: the package installs under /usr, depends on the Debian
# libraries chatd links (computed by dpkg-shlibdeps) and not on node, and
# its chatd, once unpacked anywhere and run from /, serves its own web
# client and socket.io-client's bundle.
#
# usage: test_deb.sh BUILD_DIR SOURCE_DIR
set -eu

build=$1
src=$2
. "$src/test/install/lib.sh"

(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$tmp"/out/chatd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "cpack made no chatd_*.deb"
echo "built $(basename "$deb")"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libwebsockets17 libwebsockets-evlib-ev libev4 libssl3 libjansson4 \
	libsqlite3-0; do
	echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib"
done
# npm fetched the bundle at build time; nothing runs it.
case "$depends" in
*node*|*npm*) fail "Depends names node or npm" ;;
esac

dpkg-deb -x "$deb" "$tmp/root"
sio=usr/share/chatd/socket.io-client
for f in usr/bin/chatd usr/share/chatd/www/index.html \
	usr/share/man/man8/chatd.8 usr/lib/systemd/system/chatd.service \
	$sio/socket.io.js $sio/socket.io.min.js $sio/socket.io.js.map \
	$sio/socket.io.min.js.map $sio/LICENSE; do
	[ -f "$tmp/root/$f" ] || fail "the package lacks /$f"
done
grep -q '^ExecStart=/usr/bin/chatd$' "$tmp/root/usr/lib/systemd/system/chatd.service" ||
	fail "the packaged unit does not start /usr/bin/chatd"

mkdir -p "$tmp/home"
start_from_root run env -u CHAT_WWW -u CHAT_DB -u STATE_DIRECTORY \
	-u XDG_STATE_HOME HOME="$tmp/home" "$tmp/root/usr/bin/chatd"
get "http://127.0.0.1:$port/" >"$tmp/page.html" || fail "GET / failed"
cmp -s "$tmp/page.html" "$src/www/index.html" ||
	fail "the packaged chatd does not serve its own index.html"
get "http://127.0.0.1:$port/socket.io/socket.io.js" >"$tmp/sio.js" ||
	fail "GET /socket.io/socket.io.js failed"
cmp -s "$tmp/sio.js" "$tmp/root/$sio/socket.io.js" ||
	fail "the packaged chatd does not serve its own socket.io-client bundle"
echo "the unpacked /usr/bin/chatd, run from /, serves its web client and socket.io-client's bundle"
echo "PASS"
