#!/bin/sh
# Runs each libFuzzer harness for a bounded time under ASan + UBSan, on a
# copy of its seed corpus in the build dir: the repo is never written to,
# and what a run finds is kept for the next one. Any crash, leak, timeout
# or broken invariant fails the run; the input is left in
# BUILD_DIR/fuzz/artifacts/ (add it to corpus/<target>/ with a unit test).
# Usage: test/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (make fuzz)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
seconds=$2
shift 2
targets=${*:-json rx ws_close http_path config jwt socketio}

# libFuzzer reads 0 as "no limit": a bounded run needs at least 1 s.
case $seconds in
''|*[!0-9]*|0) echo "run.sh: SECONDS must be a whole number >= 1" >&2; exit 2 ;;
esac

work=$build/fuzz
failed=""
for t in $targets; do
	bin=$build/test/fuzz/fuzz_$t
	corpus=$work/corpus/$t
	log=$work/$t.log
	dict=""
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	mkdir -p "$corpus" "$work/artifacts" "$work/tmp"
	cp "$here/corpus/$t/"* "$corpus/"
	# UBSan already aborts (-fno-sanitize-recover); ASan checks leaks at
	# the end of every input. TMPDIR: fuzz_http_path's document root.
	if TMPDIR=$work/tmp UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" $dict -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$t-" "$corpus" >"$log" 2>&1
	then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz_$t: ok, $runs runs in ${seconds}s," \
			"$(ls "$corpus" | wc -l) inputs in $corpus"
	else
		echo "fuzz_$t: FAILED (full log: $log)"
		grep -E 'invariant failed|ERROR:|SUMMARY:|runtime error|Test unit written' \
			"$log" || tail -n 20 "$log"
		echo
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzzing failed:$failed" >&2
	exit 1
fi
