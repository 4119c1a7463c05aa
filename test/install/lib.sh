# Shared by test_install.sh and test_deb.sh (sourced): a temporary folder
# removed on exit with every chatd started here, the failure report, a
# chatd started from / and waited for, and a page fetch.

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
	# Made here, not by the background redirection, which may come after
	# the first read below (sed failing on a missing file ends the script
	# under set -e).
	: >"$tmp/$name.log"
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
