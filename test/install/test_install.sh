#!/bin/sh
# cmake --install into a temporary prefix, then the installed chatd run
# from / with no --www and no --db: it must serve the installed page, keep
# history in the state directory, and say both in its start line. The
# build-tree binary, run from / too, must find the source tree's www/.
# socket.io-client's bundle is installed beside www/ and served at
# /socket.io/socket.io.js by both. The man page must render and the
# systemd unit must pass systemd-analyze verify.
#
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu

build=$1
src=$2
. "$src/test/install/lib.sh"

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.out" ||
	fail "cmake --install exited $?"
sio=share/chatd/socket.io-client
# The build's copy, from npm ci (cmake/SocketioClient.cmake).
built_sio=$build/socket.io-client/node_modules/socket.io-client/dist
for f in bin/chatd share/chatd/www/index.html share/man/man8/chatd.8 \
	lib/systemd/system/chatd.service $sio/socket.io.js \
	$sio/socket.io.js.map $sio/socket.io.min.js $sio/socket.io.min.js.map \
	$sio/socket.io.esm.min.js $sio/socket.io.esm.min.js.map $sio/LICENSE; do
	[ -f "$prefix/$f" ] || fail "cmake --install did not install $f"
done
[ -x "$prefix/bin/chatd" ] || fail "installed chatd is not executable"
for f in socket.io.js socket.io.min.js.map; do
	cmp -s "$prefix/$sio/$f" "$built_sio/$f" ||
		fail "the installed $sio/$f is not the build's"
done
echo "installed: bin/chatd, share/chatd/www, $sio, man8/chatd.8, chatd.service"

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
get "http://127.0.0.1:$port/socket.io/socket.io.js" >"$tmp/sio.js" ||
	fail "GET /socket.io/socket.io.js failed"
cmp -s "$tmp/sio.js" "$prefix/$sio/socket.io.js" ||
	fail "GET /socket.io/socket.io.js is not the installed bundle"
grep -q "socket.io-client bundle $prefix/$sio at" "$tmp/installed.log" ||
	fail "the installed chatd does not name its installed bundle"
echo "installed chatd from / serves the page and socket.io-client's bundle, history in ~/.local/state/chatd"

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
get "http://127.0.0.1:$port/socket.io/socket.io.min.js" >"$tmp/sio2.js" ||
	fail "GET /socket.io/socket.io.min.js failed"
cmp -s "$tmp/sio2.js" "$built_sio/socket.io.min.js" ||
	fail "the build-tree chatd does not serve the build's bundle"
echo "build-tree chatd from / serves the source www/ and the build's bundle"

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
