#!/usr/bin/env bash
# chatd's benchmark runner: builds the load generator and the C ceiling
# server, starts each peer pinned to CPU 0 (the load generator on CPU 1),
# runs scenarios S1-S4 and the open-loop sweeps, peers interleaved within
# each repetition, and writes build/bench/results.md (plus the raw JSON
# lines in results.jsonl next to it). Only 127.0.0.1 is ever a target.
# chatd-cluster is two chatd on one redis-server, all three on the server
# CPU; it runs S2 and S3 only.
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

ALL_PEERS="chatd-mem chatd-cluster chatd-file chatd-sio socketio lws-mirror"
ALL_PEERS="$ALL_PEERS ceiling-send ceiling-cork"
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
# The server's processes (a cluster has three) and their logs, in the
# order they are stopped; SERVER_PID is the one wait_ready watches.
SERVER_PID=""
SERVER_PIDS=()
SERVER_LOGS=()
SERVER_PORT2=""
LOADGEN_PID=""

cleanup() {
	[ -n "$LOADGEN_PID" ] && kill "$LOADGEN_PID" 2>/dev/null
	[ ${#SERVER_PIDS[@]} -gt 0 ] && stop_server
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

# Where a peer's server logs go.
peer_logs() {
	case $1 in
	chatd-cluster) echo "$OUT/logs/$1-{a,b,redis}.log" ;;
	*) echo "$OUT/logs/$1.log" ;;
	esac
}

# Why a peer cannot run, or nothing if it can.
peer_missing() {
	case $1 in
	chatd-cluster)
		if [ -z "$CHATD" ]; then
			echo "build/chatd missing (make build)"
		elif ! "$CHATD" --help 2>&1 | grep -q -- '--redis '; then
			echo "build/chatd has no --redis"
		elif ! command -v redis-server >/dev/null; then
			echo "redis-server missing (setup.sh)"
		elif ! command -v curl >/dev/null; then
			echo "curl missing (setup.sh)"
		fi
		;;
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
	# chatd's socket.io dialect is sent what node's socket.io is.
	chatd-sio | socketio)
		echo "--mode socketio --size $((CHATD_FRAME - 21))" ;;
	chatd-*) echo "--mode chatd" ;;
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
	SERVER_PORT2=""
	SERVER_PIDS=()
	SERVER_LOGS=()
	# The child truncates the log only once it runs: a stale ready line
	# from the last start would name a dead port.
	rm -f "$logf"
	case $peer in
	chatd-cluster)
		start_cluster
		return
		;;
	chatd-mem | chatd-sio)
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
	SERVER_PIDS=("$SERVER_PID")
	SERVER_LOGS=("$logf")
	if ! wait_ready "$logf" "$port"; then
		stop_server
		return 1
	fi
}

# chatd-cluster: a fresh redis-server without persistence, then chatd
# instances b and a on it (flags of chatd-mem, plus --redis), all three
# pinned to the server CPU. The publishers go to a (SERVER_PORT), half the
# subscribers to b (SERVER_PORT2). Ready once both report "redis":"up".
start_cluster() {
	local base="$OUT/logs/chatd-cluster" rport inst logf up port end
	rport=$("$LG" --free-port)
	rm -f "$base-a.log" "$base-b.log" "$base-redis.log"
	taskset -c "$SERVER_CPU" redis-server --port "$rport" \
		--bind 127.0.0.1 --save "" --appendonly no \
		>"$base-redis.log" 2>&1 &
	SERVER_PID=$!
	SERVER_PIDS=("$SERVER_PID")
	SERVER_LOGS=("$base-redis.log")
	if ! wait_ready "" "$rport"; then
		stop_server
		return 1
	fi
	for inst in b a; do
		logf="$base-$inst.log"
		taskset -c "$SERVER_CPU" "$CHATD" --port 0 --host 127.0.0.1 \
			--www www --db :memory: --log-level info $chatd_extra \
			--redis "redis://127.0.0.1:$rport" \
			--instance-id "$inst" \
			>"$logf" 2>&1 &
		SERVER_PID=$!
		SERVER_PIDS=("$SERVER_PID" "${SERVER_PIDS[@]}")
		SERVER_LOGS=("$logf" "${SERVER_LOGS[@]}")
		if ! wait_ready "$logf"; then
			stop_server
			return 1
		fi
		[ $inst = b ] && SERVER_PORT2=$SERVER_PORT
	done
	# Both bodies must say so.
	end=$((SECONDS + 15))
	while [ $SECONDS -lt $end ]; do
		up=""
		for port in "$SERVER_PORT" "$SERVER_PORT2"; do
			up="$up$(curl -s --max-time 1 \
				"http://127.0.0.1:$port/healthz")"
		done
		case $up in *'"redis":"up"'*'"redis":"up"'*) return 0 ;; esac
		sleep 0.1
	done
	log "bench: chatd-cluster: redis not up on both instances in 15 s"
	stop_server
	return 1
}

# The index in SERVER_PIDS of the first process that is gone, or nothing.
server_gone() {
	local i
	for i in "${!SERVER_PIDS[@]}"; do
		if ! kill -0 "${SERVER_PIDS[$i]}" 2>/dev/null; then
			echo "$i"
			return
		fi
	done
}

# Stops the server's processes in order (a cluster's chatds before their
# Redis), each given 5 s after SIGTERM.
stop_server() {
	local i p
	for p in "${SERVER_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SERVER_PID=""
	SERVER_PIDS=()
	rm -f "$OUT"/tmp/chatd-*.db*
}

# chatd-cluster: the Redis families of both instances' /metrics, summed,
# as "name value" lines.
cluster_scrape() {
	local port
	for port in "$SERVER_PORT" "$SERVER_PORT2"; do
		curl -s --max-time 2 "http://127.0.0.1:$port/metrics"
	done | awk '/^chat_redis_[a-z_]+ / { s[$1] += $2 }
		END { for (k in s) printf "%s %.9f\n", k, s[k] }'
}

# Warn and error lines (lws's own included) in the cluster's chatd logs.
cluster_warnings() {
	cat "$OUT/logs/chatd-cluster-a.log" "$OUT/logs/chatd-cluster-b.log" |
		grep -cE '^[^ ]+ (warn|error|lws-e|lws) '
}

# Adds chatd-cluster's own figures to the JSON line $1: the mean round
# trip of a message's publish script, Redis commands per message sent
# (counted from the scrape $2, taken before the load) and the number $3
# of warnings logged.
cluster_figures() {
	python3 -c 'import json,sys
r = json.loads(sys.argv[1])
def scrape(text):
    return {k: float(v) for k, v in (l.split() for l in text.splitlines())}
before, after = scrape(sys.argv[2]), scrape(sys.argv[3])
n = after.get("chat_redis_publish_seconds_count")
if n:
    r["redis_publish_mean_us"] = round(
        after["chat_redis_publish_seconds_sum"] / n * 1e6, 1)
for key, name in (("publish_seconds_count", "publishes"),
                  ("publish_failures_total", "publish_failures"),
                  ("reconnects_total", "reconnects")):
    if "chat_redis_" + key in after:
        r["redis_" + name] = int(after["chat_redis_" + key])
k = "chat_redis_round_trips_total"
if k in after and k in before:
    rt = after[k] - before[k]
    r["redis_round_trips"] = int(rt)
    if r.get("sent"):
        r["redis_round_trips_per_msg"] = round(rt / r["sent"], 3)
r["server_log_warnings"] = int(sys.argv[4])
print(json.dumps(r))' "$1" "$2" "$(cluster_scrape)" "$3"
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

# Whether a peer runs a scenario: the cluster is measured on fan-out (S2,
# S3); its S1, S4 and sweeps show "not run".
peer_runs() {
	case $1:$2 in
	chatd-cluster:S2 | chatd-cluster:S3) return 0 ;;
	chatd-cluster:*) return 1 ;;
	*) return 0 ;;
	esac
}

# One scenario against one fresh server: start, load, stop. A server that
# dies under load is a result; one killed from outside (the machine is
# shared, and a stray pkill happens) gets one more try.
run_one() {
	if ! peer_runs "$1" "$2"; then
		log "bench: $1 skips $2"
		return
	fi
	run_once "$@" "" && return
	log "bench: $1 $2 again"
	run_once "$@" last
}

# Returns 1 when the server died with status 0 or by SIGTERM/SIGINT,
# which only a signal from outside explains.
run_once() {
	local peer=$1 sc=$2 rep=$3 last=$4 why out rc gone f
	local cluster=() before="" warn figs
	why=$(peer_missing "$peer")
	if [ -n "$why" ]; then
		record_error "$peer" "$sc" "$rep" "not run: $why"
		return
	fi
	if ! start_server "$peer"; then
		record_error "$peer" "$sc" "$rep" \
			"server did not start (see $(peer_logs "$peer"))"
		log "bench: $peer did not start"
		return
	fi
	if [ -n "$SERVER_PORT2" ]; then
		cluster=(--port2 "$SERVER_PORT2")
		before=$(cluster_scrape)
	fi
	# --timeout first: S4 and the sweeps override it.
	taskset -c "$LOADGEN_CPU" "$LG" --port "$SERVER_PORT" "${cluster[@]}" \
		--timeout 90 $(peer_mode "$peer") $(scenario_args "$sc") \
		--server-pid "$(IFS=,; echo "${SERVER_PIDS[*]}")" \
		--peer "$peer" --scenario "$sc" --rep "$rep" \
		>"$OUT/tmp/out.json" 2>>"$OUT/logs/loadgen.log" &
	LOADGEN_PID=$!
	wait "$LOADGEN_PID"
	rc=$?
	LOADGEN_PID=""
	out=$(head -c 200000 "$OUT/tmp/out.json")
	gone=$(server_gone)
	if [ -n "$gone" ]; then
		wait "${SERVER_PIDS[$gone]}" 2>/dev/null
		rc=$?
		log "bench: $peer exited with status $rc during $sc" \
			"(see ${SERVER_LOGS[$gone]})"
		for f in "${SERVER_LOGS[@]}"; do
			cp "$f" "${f%.log}-died-$sc-$rep.log"
		done
		case $rc in 0 | 130 | 143)
			if [ -z "$last" ]; then
				stop_server
				return 1
			fi
			;;
		esac
		# The figures of a run whose server died are not results.
		out=$(python3 -c 'import json,sys
r = json.loads(sys.argv[1] or "{}")
r.update(peer=sys.argv[2], scenario=sys.argv[3], rep=int(sys.argv[4]),
         ok=False, error="server exited with status " + sys.argv[5])
print(json.dumps(r))' "$out" "$peer" "$sc" "$rep" "$rc")
	elif [ -n "$SERVER_PORT2" ] && [ -n "$out" ]; then
		warn=$(cluster_warnings)
		figs=$(cluster_figures "$out" "$before" "$warn") && out=$figs
		if [ "$warn" != 0 ]; then
			for f in "${SERVER_LOGS[@]}"; do
				cp "$f" "${f%.log}-$sc-$rep.log"
			done
			log "bench: $peer logged warnings during $sc" \
				"(see $OUT/logs/$peer-*-$sc-$rep.log)"
		fi
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
