#!/bin/sh
# cpack -G DEB: the package installs under /usr, depends on the Debian
# libraries chatd links (computed by dpkg-shlibdeps), and its chatd, once
# unpacked anywhere and run from /, serves its own web client.
#
# usage: test_deb.sh BUILD_DIR SOURCE_DIR
set -eu

build=$1
src=$2
tmp=$(mktemp -d /tmp/chatd-deb-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/run.log" ] && cat "$tmp/run.log" >&2
	exit 1
}

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

dpkg-deb -x "$deb" "$tmp/root"
for f in usr/bin/chatd usr/share/chatd/www/index.html \
	usr/share/man/man8/chatd.8 usr/lib/systemd/system/chatd.service; do
	[ -f "$tmp/root/$f" ] || fail "the package lacks /$f"
done
grep -q '^ExecStart=/usr/bin/chatd$' "$tmp/root/usr/lib/systemd/system/chatd.service" ||
	fail "the packaged unit does not start /usr/bin/chatd"

mkdir -p "$tmp/home"
(cd / && exec env -u CHAT_WWW -u CHAT_DB -u STATE_DIRECTORY -u XDG_STATE_HOME \
	HOME="$tmp/home" "$tmp/root/usr/bin/chatd" --port 0 --host 127.0.0.1) \
	2>"$tmp/run.log" &
pid=$!
port=""
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
	port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/run.log")
	kill -0 "$pid" 2>/dev/null || fail "the packaged chatd exited"
	[ -n "$port" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$port" ] || fail "no ready line within 20 s"
python3 -c 'import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' \
	"http://127.0.0.1:$port/" >"$tmp/page.html" || fail "GET / failed"
cmp -s "$tmp/page.html" "$src/www/index.html" ||
	fail "the packaged chatd does not serve its own index.html"
echo "the unpacked /usr/bin/chatd, run from /, serves its web client"
echo "PASS"
