#!/bin/sh
# cmake --install into a temporary prefix, then the installed chatd run
# from / with no --www and no --db: it must serve the installed page, keep
# history in the state directory, and say both in its start line. The
# build-tree binary, run from / too, must find the source tree's www/.
# The man page must render and the systemd unit must pass
# systemd-analyze verify.
#
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu

build=$1
src=$2
tmp=$(mktemp -d /tmp/chatd-install-XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

# Starts "$@" from / in the background, logging to $tmp/$name.log; sets
# port to the port of its ready line (bounded wait).
start_from_root() {
	name=$1
	shift
	(cd / && exec "$@" --port 0 --host 127.0.0.1) \
		>"$tmp/$name.out" 2>"$tmp/$name.log" &
	pids="$pids $!"
	port=""
	i=0
	while [ $i -lt 200 ]; do
		port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' \
			"$tmp/$name.log")
		[ -n "$port" ] && return 0
		kill -0 "$!" 2>/dev/null || fail "$name exited before its ready line"
		sleep 0.1
		i=$((i + 1))
	done
	fail "$name printed no ready line within 20 s"
}

# GET url; prints the body, fails unless the status is 200.
get() {
	python3 - "$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    if r.status != 200:
        sys.exit("status %d" % r.status)
    sys.stdout.buffer.write(r.read())
PY
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.out" ||
	fail "cmake --install exited $?"
for f in bin/chatd share/chatd/www/index.html share/man/man8/chatd.8 \
	lib/systemd/system/chatd.service; do
	[ -f "$prefix/$f" ] || fail "cmake --install did not install $f"
done
[ -x "$prefix/bin/chatd" ] || fail "installed chatd is not executable"
echo "installed: bin/chatd, share/chatd/www, man8/chatd.8, chatd.service"

# The installed binary, from /, with no --www and no --db: the state
# directory is ~/.local/state/chatd, HOME pointing into $tmp.
mkdir -p "$tmp/home"
start_from_root installed env -u STATE_DIRECTORY -u XDG_STATE_HOME \
	-u CHAT_WWW -u CHAT_DB HOME="$tmp/home" "$prefix/bin/chatd"
get "http://127.0.0.1:$port/" >"$tmp/page.html" || fail "GET / failed"
cmp -s "$tmp/page.html" "$src/www/index.html" ||
	fail "GET / is not the installed www/index.html"
grep -q "web client $prefix/share/chatd/www, history $tmp/home/.local/state/chatd/chat.db" \
	"$tmp/installed.log" || fail "start line does not name the installed www and the state db"
grep -q "chatd [0-9][0-9.]*:" "$tmp/installed.log" ||
	fail "start line does not state the version"
[ -f "$tmp/home/.local/state/chatd/chat.db" ] ||
	fail "no chat.db in ~/.local/state/chatd"
[ ! -e /chat.db ] || fail "a chat.db appeared in / (the working directory)"
echo "installed chatd from / serves the page, history in ~/.local/state/chatd"

# systemd's StateDirectory= comes as $STATE_DIRECTORY.
mkdir -p "$tmp/state"
start_from_root state env -u CHAT_WWW -u CHAT_DB STATE_DIRECTORY="$tmp/state" \
	HOME="$tmp/home" "$prefix/bin/chatd"
grep -q "history $tmp/state/chat.db" "$tmp/state.log" ||
	fail "STATE_DIRECTORY is not where history goes"
[ -f "$tmp/state/chat.db" ] || fail "no chat.db in \$STATE_DIRECTORY"
echo "STATE_DIRECTORY holds chat.db"

# The build-tree binary from /: the source tree's www/.
start_from_root buildtree env -u CHAT_WWW -u CHAT_DB HOME="$tmp/home" \
	"$build/chatd"
get "http://127.0.0.1:$port/" >"$tmp/page2.html" || fail "GET / failed"
cmp -s "$tmp/page2.html" "$src/www/index.html" ||
	fail "the build-tree chatd does not serve the source www/"
echo "build-tree chatd from / serves the source www/"

# The man page renders without warnings; the unit is one systemd accepts.
warn=$(groff -man -Tutf8 -ww -z "$prefix/share/man/man8/chatd.8" 2>&1) ||
	fail "groff failed on chatd.8"
[ -z "$warn" ] || fail "groff warns on chatd.8: $warn"
grep -q "^ExecStart=$prefix/bin/chatd\$" "$prefix/lib/systemd/system/chatd.service" ||
	fail "the unit's ExecStart is not the installed binary"
# --man=no: the page is under the temporary prefix, not in man's path.
out=$(systemd-analyze verify --man=no "$prefix/lib/systemd/system/chatd.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "man page renders; systemd-analyze verify accepts chatd.service"
echo "PASS"
