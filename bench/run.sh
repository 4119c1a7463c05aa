#!/usr/bin/env bash
# chatd's benchmark runner: builds the load generator and the C ceiling
# server, starts each peer pinned to CPU 0 (the load generator on CPU 1),
# runs scenarios S1-S4 and the open-loop sweeps, peers interleaved within
# each repetition, and writes build/bench/results.md (plus the raw JSON
# lines in results.jsonl next to it). Only 127.0.0.1 is ever a target.
#
#   bench/run.sh            full run, about 15 minutes
#   bench/run.sh --quick    one repetition, short steps, about 2 minutes
#   PEERS="chatd-mem ceiling-cork" bench/run.sh --quick   a subset
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-build/bench}
case $OUT in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

ALL_PEERS="chatd-mem chatd-file socketio lws-mirror ceiling-send ceiling-cork"
PEERS=${PEERS:-$ALL_PEERS}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}

if [ $QUICK = 1 ]; then
	REPS=1
	S1_COUNT=500
	S2_SECS=2
	S3_SECS=2
	SWEEP_STEP=1
	SWEEP_STEPS=7
	SWEEP_S3_START=20
	SWEEP_SHAPES="S3"
	S4_TIMEOUT=15
else
	REPS=3
	S1_COUNT=1000
	S2_SECS=10
	S3_SECS=10
	SWEEP_STEP=2.5
	SWEEP_STEPS=10
	SWEEP_S3_START=10
	SWEEP_SHAPES="S2 S3"
	S4_TIMEOUT=25
fi

mkdir -p "$OUT/logs" "$OUT/tmp"
RAW="$OUT/results.jsonl"
: >"$RAW"
LG="$OUT/loadgen"
SERVER_PID=""
LOADGEN_PID=""

cleanup() {
	[ -n "$LOADGEN_PID" ] && kill "$LOADGEN_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && stop_server
	rm -rf "$OUT/tmp"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# 10,000 idle connections need more descriptors than the usual 1024, for
# the load generator and for every server started from here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null

log "bench: building loadgen and ceiling"
if ! make -s -C bench OUT="$OUT" >"$OUT/logs/build.log" 2>&1; then
	cat "$OUT/logs/build.log" >&2
	exit 1
fi

# A snapshot, so that a rebuild during the run cannot mix two chatds.
CHATD=""
CHATD_INFO="build/chatd missing"
if [ -x build/chatd ]; then
	CHATD="$OUT/tmp/chatd"
	cp build/chatd "$CHATD"
	CHATD_INFO="HEAD $(git rev-parse --short HEAD 2>/dev/null)"
	git diff --quiet HEAD -- src 2>/dev/null ||
		CHATD_INFO="$CHATD_INFO + changes in src/"
	CHATD_INFO="$CHATD_INFO, build/chatd of $(date -r build/chatd '+%F %T')"
fi
chatd_extra=""
# The load generator is one client address opening 10,000 connections and
# flooding at full speed: switch off the limits built for real clients.
if [ -n "$CHATD" ] && "$CHATD" --help 2>&1 | grep -q -- '--max-connections '; then
	chatd_extra="--max-connections 0 --max-connections-per-ip 0"
fi
if [ -n "$CHATD" ] && "$CHATD" --help 2>&1 | grep -q -- '--rate '; then
	chatd_extra="$chatd_extra --rate 0"
fi

# Why a peer cannot run, or nothing if it can.
peer_missing() {
	case $1 in
	chatd-*) [ -n "$CHATD" ] || echo "build/chatd missing (make build)" ;;
	socketio)
		command -v node >/dev/null || { echo "node missing"; return; }
		[ -d bench/socketio/node_modules/socket.io ] ||
			echo "bench/socketio/node_modules missing (setup.sh)"
		;;
	lws-mirror)
		command -v libwebsockets-test-server >/dev/null ||
			echo "libwebsockets-test-server missing (setup.sh)"
		;;
	ceiling-*) [ -x "$OUT/ceiling" ] || echo "ceiling not built" ;;
	esac
}

# Equal bytes per delivery: chatd is sent the load generator's default
# 48-byte text and wraps it in a message frame of about 142 bytes (type,
# room, a 6-digit id, nick, ts), while the other servers relay what they
# are sent, so they get texts that make frames of chatd's size:
# CHATD_FRAME bytes as it is for the raw servers, 21 fewer for socket.io's
# 42["chat message","..."]. The report shows each peer's mean frame size.
CHATD_FRAME=${CHATD_FRAME:-142}
peer_mode() {
	case $1 in
	chatd-*) echo "--mode chatd" ;;
	socketio) echo "--mode socketio --size $((CHATD_FRAME - 21))" ;;
	lws-mirror) echo "--mode raw --subprotocol lws-mirror-protocol" \
		"--size $CHATD_FRAME" ;;
	*) echo "--mode raw --size $CHATD_FRAME" ;;
	esac
}

# Waits for "listening on http://HOST:PORT" in $1, or for a connectable
# port $2; sets SERVER_PORT. Bounded at 15 s.
wait_ready() {
	local logf=$1 port=${2:-} i
	for i in $(seq 150); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			return 1
		fi
		if [ -n "$port" ]; then
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
			then
				SERVER_PORT=$port
				return 0
			fi
		else
			SERVER_PORT=$(grep -o 'listening on http://[0-9.:]*' \
				"$logf" 2>/dev/null | head -1 | sed 's/.*://')
			[ -n "$SERVER_PORT" ] && return 0
		fi
		sleep 0.1
	done
	return 1
}

DBN=0
start_server() {
	local peer=$1 logf="$OUT/logs/$1.log" port=""
	SERVER_PORT=""
	# The child truncates the log only once it runs: a stale ready line
	# from the last start would name a dead port.
	rm -f "$logf"
	case $peer in
	chatd-mem)
		taskset -c "$SERVER_CPU" "$CHATD" --port 0 --host 127.0.0.1 \
			--www www --db :memory: --log-level info $chatd_extra \
			>"$logf" 2>&1 &
		;;
	chatd-file)
		DBN=$((DBN + 1))
		taskset -c "$SERVER_CPU" "$CHATD" --port 0 --host 127.0.0.1 \
			--www www --db "$OUT/tmp/chatd-$DBN.db" \
			--log-level info $chatd_extra >"$logf" 2>&1 &
		;;
	socketio)
		PORT=0 taskset -c "$SERVER_CPU" node bench/socketio/server.js \
			>"$logf" 2>&1 &
		;;
	lws-mirror)
		port=$("$LG" --free-port)
		taskset -c "$SERVER_CPU" libwebsockets-test-server -p "$port" \
			-i lo -d 1 >"$logf" 2>&1 &
		;;
	ceiling-send | ceiling-cork)
		taskset -c "$SERVER_CPU" "$OUT/ceiling" --port 0 \
			--mode "${peer#ceiling-}" >"$logf" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	if ! wait_ready "$logf" "$port"; then
		stop_server
		return 1
	fi
}

stop_server() {
	local i
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
	rm -f "$OUT"/tmp/chatd-*.db*
}

# Appends one JSON line for a run that could not happen.
record_error() {
	printf '{"peer":"%s","scenario":"%s","rep":%s,' "$1" "$2" "$3" >>"$RAW"
	printf '"ok":false,"error":"%s"}\n' "$4" >>"$RAW"
}

scenario_args() {
	case $1 in
	S1) echo "--subs 0 --pubs 1 --rate 1000 --count $S1_COUNT" ;;
	S2) echo "--subs 100 --pubs 1 --window 32 --duration $S2_SECS" ;;
	S3) echo "--subs 1000 --pubs 10 --rate 20 --duration $S3_SECS" ;;
	S4) echo "--idle 10000 --concurrency 64 --hold 1" \
		"--timeout $S4_TIMEOUT" ;;
	sweep-S2)
		echo "--subs 100 --pubs 1 --sweep --sweep-start 1000" \
			"--sweep-step $SWEEP_STEP --sweep-steps $SWEEP_STEPS" \
			"--timeout 90"
		;;
	sweep-S3)
		echo "--subs 1000 --pubs 10 --sweep" \
			"--sweep-start $SWEEP_S3_START" \
			"--sweep-step $SWEEP_STEP --sweep-steps $SWEEP_STEPS" \
			"--timeout 90"
		;;
	esac
}

# One scenario against one fresh server: start, load, stop. A server that
# dies under load is a result; one killed from outside (the machine is
# shared, and a stray pkill happens) gets one more try.
run_one() {
	run_once "$@" "" && return
	log "bench: $1 $2 again"
	run_once "$@" last
}

# Returns 1 when the server died with status 0 or by SIGTERM/SIGINT,
# which only a signal from outside explains.
run_once() {
	local peer=$1 sc=$2 rep=$3 last=$4 why out rc
	why=$(peer_missing "$peer")
	if [ -n "$why" ]; then
		record_error "$peer" "$sc" "$rep" "not run: $why"
		return
	fi
	if ! start_server "$peer"; then
		record_error "$peer" "$sc" "$rep" \
			"server did not start (see $OUT/logs/$peer.log)"
		log "bench: $peer did not start"
		return
	fi
	# --timeout first: S4 and the sweeps override it.
	taskset -c "$LOADGEN_CPU" "$LG" --port "$SERVER_PORT" --timeout 90 \
		$(peer_mode "$peer") $(scenario_args "$sc") \
		--server-pid "$SERVER_PID" --peer "$peer" --scenario "$sc" \
		--rep "$rep" >"$OUT/tmp/out.json" 2>>"$OUT/logs/loadgen.log" &
	LOADGEN_PID=$!
	wait "$LOADGEN_PID"
	rc=$?
	LOADGEN_PID=""
	out=$(head -c 200000 "$OUT/tmp/out.json")
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		wait "$SERVER_PID" 2>/dev/null
		rc=$?
		SERVER_PID=""
		log "bench: $peer exited with status $rc during $sc" \
			"(see $OUT/logs/$peer.log)"
		cp "$OUT/logs/$peer.log" "$OUT/logs/$peer-died-$sc-$rep.log"
		case $rc in 0 | 130 | 143) [ -z "$last" ] && return 1 ;; esac
		# The figures of a run whose server died are not results.
		out=$(python3 -c 'import json,sys
r = json.loads(sys.argv[1] or "{}")
r.update(peer=sys.argv[2], scenario=sys.argv[3], rep=int(sys.argv[4]),
         ok=False, error="server exited with status " + sys.argv[5])
print(json.dumps(r))' "$out" "$peer" "$sc" "$rep" "$rc")
	fi
	if [ -n "$out" ]; then
		printf '%s\n' "$out" >>"$RAW"
	else
		record_error "$peer" "$sc" "$rep" \
			"loadgen exited $rc without a result"
	fi
	stop_server
	log "bench: rep $rep $sc $peer:" \
		"$(python3 bench/report.py --brief <<<"$out" 2>/dev/null)"
}

# Rotates the peer order by $1 so no peer always runs first or last.
rotated() {
	local k=$1 a=($PEERS) n i
	n=${#a[@]}
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${a[$(((i + k) % n))]}"
	done
}

START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 $REPS); do
	for sc in S1 S2 S3; do
		for peer in $(rotated "$rep"); do
			run_one "$peer" "$sc" "$rep"
		done
	done
done
# Idle memory and connect time, and the sweeps: once each per peer.
for peer in $(rotated 0); do
	run_one "$peer" S4 1
done
for shape in $SWEEP_SHAPES; do
	for peer in $(rotated 0); do
		run_one "$peer" "sweep-$shape" 1
	done
done
END=$(date +%s)

python3 bench/report.py --raw "$RAW" --out "$OUT/results.md" \
	--quick "$QUICK" --reps "$REPS" --secs "$((END - START))" \
	--load-start "$LOAD_START" \
	--load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--peers "$PEERS" --commit "$CHATD_INFO"
cat "$OUT/results.md"
