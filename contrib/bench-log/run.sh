#!/bin/sh
# run.sh -- the frame log benchmark (not part of the test suite).
#  1. frames/s the log sustains into SQLite (bench_framelog);
#  2. 64-byte echo message rate and 64 KiB echo throughput through a
#     wsbridge with logging off and on, in the same run, alternating.
# Run from a build directory of a normal (non-sanitizer) build:
#   ../configure -q && make && make bench-log
# Knobs: DURATION (s, default 5), ROUNDS (default 2), DB (default in /tmp).
set -eu
dur=${DURATION:-5}
rounds=${ROUNDS:-2}
dir=$(mktemp -d /tmp/wsbench.XXXXXX)
db=${DB:-$dir/bench.db}
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT INT TERM
if grep -q __asan_init ./wsbridge 2>/dev/null; then
	echo "warning: this is a sanitizer build; numbers will be low" >&2
fi

echo "== frames/s into SQLite (real queue and writer thread, 2M frames)"
./contrib/bench-log/bench_framelog -n 2000000 "$dir/raw.db"
./contrib/bench-log/bench_framelog -n 2000000 -c 64 "$dir/raw64.db"

start() {	# start [extra args]: sets pid and port
	./wsbridge --listen 127.0.0.1:0 --route /echo=echo "$@" \
	    2>"$dir/err" &
	pid=$!
	port=
	for _ in $(seq 50); do
		sleep 0.1
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		    "$dir/err" | head -1)
		[ -n "$port" ] && break
	done
	[ -n "$port" ] || { echo "wsbridge did not start"; cat "$dir/err"; exit 1; }
}
stop() {
	kill -TERM $pid
	wait $pid || true
}

for r in $(seq "$rounds"); do
	for mode in off on; do
		rm -f "$db" "$db-wal" "$db-shm"
		if [ $mode = on ]; then start --log-db "$db"; else start; fi
		printf 'round %s, logging %-3s  64 B: ' "$r" $mode
		./contrib/bench-log/wsload -c 4 -w 64 -s 64 -d "$dur" \
		    127.0.0.1 "$port" /echo
		printf 'round %s, logging %-3s 64 KiB: ' "$r" $mode
		./contrib/bench-log/wsload -c 4 -w 4 -s 65536 -d "$dur" \
		    127.0.0.1 "$port" /echo
		stop
		if [ $mode = on ]; then
			sqlite3 "$db" "SELECT '   logged: ' || frames_written ||
			    ' frames, dropped ' || frames_dropped ||
			    ', lost ' || records_lost FROM log_status"
		fi
	done
done
