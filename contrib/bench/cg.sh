#!/bin/bash
# cg.sh [-m echo|up|down] [-s SIZE] [-c CONNS] [-d SECS] [-t] [-2] [-w] WSBRIDGE
# -- instructions per message (echo) or per MiB (up, down) that WSBRIDGE's
# event loop runs, counted by callgrind (--toggle-collect=event_base_loop:
# start-up is left out; handshakes and the warm-up are in, a small part).
# Counts do not move with the machine's load as times do, so this is the
# tool for changes too small for ab.sh on a shared machine. -t: wss://,
# -2: HTTP/2, -w: watched (a control socket and a subscriber as
# wsbridge-top is). The callgrind file is kept when CG_OUT names one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mode=echo size=64 conns=64 secs=4 wl='' watch=''
while getopts m:s:c:d:t2w o; do
	case $o in
	m) mode=$OPTARG ;; s) size=$OPTARG ;; c) conns=$OPTARG ;;
	d) secs=$OPTARG ;; t) wl="$wl -t" ;; 2) wl="$wl -2" ;; w) watch=1 ;;
	*) sed -n '2,10p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n '2,10p' "$0"; exit 2; }
bin=$1
out=$(mktemp -d /tmp/wsbridge-cg.XXXXXX)
trap 'kill $wpid $bpid $spid 2>/dev/null; rm -rf "$out"' EXIT
wpid='' bpid='' spid=''
make -s -C "$here" OUT="$out" >&2
ulimit -n 20000 2>/dev/null || true
bp=$((23000 + $$ % 4000)) wp=$((bp + 1))
case $mode in
up) "$out/wsbback" sink "$bp" >/dev/null 2>&1 & ;;
down) "$out/wsbback" source "$bp" "$size" >/dev/null 2>&1 & ;;
*) "$out/wsbback" echo "$bp" >/dev/null 2>&1 & ;;
esac
bpid=$!
args=("127.0.0.1:$wp" "127.0.0.1:$bp")
case $wl in *-t*)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$out/key.pem" -out "$out/cert.pem" -days 30 \
	    -subj /CN=localhost >/dev/null 2>&1
	args=(--listen "127.0.0.1:$wp tls cert=$out/cert.pem key=$out/key.pem"
	    --route "*=127.0.0.1:$bp") ;;
esac
if [ -n "$watch" ]; then
	args=(--control "$out/ctl" "${args[@]}")
	/usr/bin/python3 - "$out/ctl" <<'PY' >/dev/null 2>&1 &
import os, socket, sys, time
for _ in range(30000):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"subscribe","snapshot_ms":1000,"conns":true}\n')
while s.recv(1 << 16):
    pass
PY
	spid=$!
fi
valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
    --toggle-collect=event_base_loop "$bin" "${args[@]}" 2>/dev/null &
wpid=$!
for _ in $(seq 600); do
	(exec 3<>"/dev/tcp/127.0.0.1/$wp") 2>/dev/null && break
	sleep 0.05
done
# shellcheck disable=SC2086
res=$("$out/wsload" -m "$mode" -w $wl -p "$wp" -c "$conns" -s "$size" \
    -d "$secs" -W 0.5 | grep RESULT)
kill "$wpid"
wait "$wpid" 2>/dev/null || true
wpid=
[ -n "${CG_OUT:-}" ] && cp "$out/cg" "$CG_OUT"
ir=$(callgrind_annotate "$out/cg" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
case $res in *integrity=ok*) ;; *) echo "cg: $res" >&2; exit 1 ;; esac
echo "$res"
if [ "$mode" = echo ]; then
	echo "$res" | awk -v ir="$ir" '{ match($0, /msgs=[0-9]+/);
	    n = substr($0, RSTART + 5, RLENGTH - 5);
	    printf "%s: %.0f instructions per message (%d over %d)\n", "'"$bin"'", ir / n, ir, n }'
else
	echo "$res" | awk -v ir="$ir" -v s="$secs" '{ match($0, /mib_s=[0-9.]+/);
	    m = substr($0, RSTART + 6, RLENGTH - 6) * s;
	    printf "%s: %.0f instructions per MiB (%d over %.1f MiB)\n", "'"$bin"'", ir / m, ir, m }'
fi
