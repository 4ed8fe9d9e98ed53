#!/bin/sh
# measure.sh -- CPU that wsbridge-top and wsbridge spend on the dashboard
# with N WebSocket connections (default 10000), each echoing a 64-byte
# message every 10 s: wsbridge alone (control socket on, nobody watching),
# then wsbridge-top attached in tmux at 1 s and at 0.1 s refresh.
#   contrib/bench-top/measure.sh BUILD_DIR [N] [SECONDS]
# BUILD_DIR holds a release build (configure without --enable-asan).
set -eu
bin=$(cd "$1" && pwd)
n=${2:-10000}
secs=${3:-20}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=$((20000 + $$ % 20000))
"$bin/wsbridge" -l 127.0.0.1:$port -r '/echo=echo' --control "$tmp/c.sock" \
    -o "max-connections $((n + 100))" --log-level warn 2>"$tmp/wsb.log" &
wsb=$!
cleanup() {
	tmux kill-session -t benchtop 2>/dev/null || true
	kill "$load" 2>/dev/null || true
	kill "$wsb" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
sleep 0.5
/usr/bin/python3 "$here/load.py" $port /echo "$n" 10 >"$tmp/load.out" &
load=$!
while ! grep -q "^open" "$tmp/load.out" 2>/dev/null; do sleep 0.5; done
sleep 2
ticks=$(getconf CLK_TCK)
cpu() {		# utime+stime of pid, in ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
measure() {	# label pid...: CPU % of each over $secs
	label=$1
	shift
	set -- "$@"
	a=""
	for p in "$@"; do a="$a $(cpu "$p")"; done
	sleep "$secs"
	i=0
	out=""
	for p in "$@"; do
		i=$((i + 1))
		before=$(echo $a | cut -d' ' -f$i)
		after=$(cpu "$p")
		out="$out $(awk -v d=$((after - before)) -v t="$ticks" -v s="$secs" \
		    'BEGIN { printf "%.1f%%", 100 * d / t / s }')"
	done
	echo "$label:$out"
}
echo "$n connections, one 64-byte echo each per 10 s; $secs s a measurement"
measure "wsbridge, nobody watching (wsbridge)" "$wsb"
for d in 1 0.1; do
	tmux kill-session -t benchtop 2>/dev/null || true
	tmux new-session -d -s benchtop -x 160 -y 48 \
	    "LANG=C.UTF-8 $bin/wsbridge-top -s $tmp/c.sock -d $d"
	sleep 3
	top=$(pgrep -n -f "wsbridge-top -s $tmp/c.sock")
	measure "wsbridge-top -d $d attached (wsbridge, wsbridge-top)" "$wsb" "$top"
	tmux send-keys -t benchtop h
	sleep 1
	measure "  same, head-of-line view (wsbridge, wsbridge-top)" "$wsb" "$top"
done
tmux capture-pane -p -t benchtop | head -12
