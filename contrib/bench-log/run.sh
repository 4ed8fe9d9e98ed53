#!/bin/sh
# run.sh -- the frame log benchmark (not part of the test suite).
#  1. frames/s the log sustains into SQLite (bench_framelog: the real queue
#     and writer thread, no sockets);
#  2. wsbridge with the frame log off and on, in the same run, interleaved:
#     contrib/bench's suite (its wsload and backends, every byte checked)
#     with the peers wsbridge and wsbridge-log, for the 64-byte echo and
#     64 KiB up and down; its last table gives the on/off ratios and the
#     frames logged and dropped.
# Run from a build directory of a normal (non-sanitizer) build:
#   ../configure -q && make && make bench-log
# Knobs: DURATION (s, default 3), ROUNDS (default 3); BENCH_ARGS go to
# contrib/bench/run.sh as well (e.g. --conns 1,64,1000).
set -eu
dur=${DURATION:-3}
rounds=${ROUNDS:-3}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/wsbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
if grep -q __asan_init ./wsbridge 2>/dev/null; then
	echo "warning: this is a sanitizer build; numbers will be low" >&2
fi

echo "== frames/s into SQLite (real queue and writer thread, 2M frames)"
./contrib/bench-log/bench_framelog -n 2000000 "$dir/raw.db"
./contrib/bench-log/bench_framelog -n 2000000 -c 64 "$dir/raw64.db"

echo "== wsbridge, frame log off (wsbridge) and on (wsbridge-log)"
WSBRIDGE=$(pwd)/wsbridge BENCH_OUT=$dir/bench \
    "$top/contrib/bench/run.sh" --peers wsbridge,wsbridge-log \
    --only 'echo 64B,up 64KiB,down 64KiB' --conns 64 \
    --rounds "$rounds" --duration "$dur" ${BENCH_ARGS:-}
