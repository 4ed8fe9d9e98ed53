#!/bin/bash
# ab.sh -- paired comparison of wsbridge builds (and the bare relay) on one
# scenario: the peers alternate run by run, ROUNDS times, and each gets the
# sorted rates and proxy CPU per message (per MiB for up/down) of its runs,
# median first. Steadier than one suite run on a shared machine when the
# question is "is this build faster than that one".
#
#   contrib/bench/ab.sh [-r ROUNDS] [-d SECS] [-m echo|up|down] [-s SIZE]
#       [-c CONNS] [-x 'wsbridge args'] [-t] [-2] PEER...
#
# PEER is "relay" or the path of a wsbridge binary; -x adds arguments to
# every wsbridge (e.g. -x '--log-db /tmp/ab.db'); -t runs the wsbridges
# over wss:// (a self-signed P-256 certificate; the relay stays plain TCP,
# the floor TLS is measured against); -2 over HTTP/2 (RFC 8441; with -t
# negotiated by ALPN, else h2c with prior knowledge; one stream per
# connection, as wsload -2 does). Defaults: 5 rounds of
# 3 s, 64-byte echo over 64 connections. The tools are built into
# BENCH_OUT (default: a temp dir). Every byte is checked by wsload.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rounds=5 secs=3 mode=echo size=64 conns=64 extra= tls= h2=
while getopts r:d:m:s:c:x:t2 o; do
	case $o in
	r) rounds=$OPTARG ;; d) secs=$OPTARG ;; m) mode=$OPTARG ;;
	s) size=$OPTARG ;; c) conns=$OPTARG ;; x) extra=$OPTARG ;; t) tls=1 ;; 2) h2=-2 ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,18p' "$0"; exit 2; }
if [ -n "${BENCH_OUT:-}" ]; then
	out=$BENCH_OUT
else
	out=$(mktemp -d /tmp/wsbridge-ab.XXXXXX)
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/bin"
make -s -C "$here" OUT="$out/bin" >&2
if [ -n "$tls" ] && [ ! -f "$out/cert.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$out/key.pem" -out "$out/cert.pem" -days 30 \
	    -subj /CN=localhost >/dev/null 2>&1
fi
ulimit -n 20000 2>/dev/null || true
case $mode in
up) back="sink" key=mib_s ;;
down) back="source" key=mib_s ;;
*) back="echo" key=msg_s ;;
esac

port=$((21000 + $$ % 4000))
wait_port() {	# the listener is up (no fixed sleep)
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.02
	done
	echo "ab: nothing listens on $1" >&2
	exit 1
}

declare -A rate cpu
for r in $(seq "$rounds"); do
	for peer in "$@"; do
		bp=$port wp=$((port + 1))
		port=$((port + 2))
		if [ "$back" = source ]; then
			"$out/bin/wsbback" source "$bp" "$size" >/dev/null 2>&1 &
		else
			"$out/bin/wsbback" "$back" "$bp" >/dev/null 2>&1 &
		fi
		bpid=$!
		wait_port "$bp"
		if [ "$peer" = relay ]; then
			"$out/bin/relay" "$wp" "$bp" >/dev/null 2>&1 & wpid=$!
			ws=
		else
			ws=-w
			if [ -n "$tls" ]; then
				# shellcheck disable=SC2086
				"$peer" $extra --listen "127.0.0.1:$wp tls \
cert=$out/cert.pem key=$out/key.pem" --route "*=127.0.0.1:$bp" \
				    2>/dev/null & wpid=$!
				ws="-w -t $h2"
			else
				# shellcheck disable=SC2086
				"$peer" $extra "127.0.0.1:$wp" "127.0.0.1:$bp" \
				    2>/dev/null & wpid=$!
				ws="-w $h2"
			fi
		fi
		wait_port "$wp"
		res=$("$out/bin/wsload" -m "$mode" $ws -p "$wp" -c "$conns" \
		    -s "$size" -d "$secs" -W 0.5 -x "$wpid" -b "$bpid" |
		    grep RESULT) || { echo "ab: $peer failed" >&2; exit 1; }
		kill "$wpid" "$bpid"
		wait "$wpid" "$bpid" 2>/dev/null || true
		case $res in *integrity=ok*) ;; *)
			echo "ab: $peer: $res" >&2; exit 1 ;;
		esac
		v=$(echo "$res" | grep -o "$key=[0-9.]*" | cut -d= -f2)
		p=$(echo "$res" | grep -o 'proxy_cpu=[0-9.]*' | cut -d= -f2)
		rate[$peer]+="$v "
		cpu[$peer]+="$(echo "$p $v $secs" |
		    awk '{ printf "%.2f", ($2 > 0 ? $1 * 1e6 / ($2 * $3) : 0) }') "
	done
done
unit="us/msg"
[ "$key" = mib_s ] && unit="us/MiB"
med() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 }
	END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	      printf "%s (", m; for (i = 1; i <= NR; i++) printf "%s%s", v[i],
	      i < NR ? " " : ")" }'; }
echo "$mode size=$size conns=$conns, $rounds rounds of ${secs}s; median (all runs)"
for peer in "$@"; do
	echo "$peer: $key $(echo "${rate[$peer]}" | med); $unit $(echo "${cpu[$peer]}" | med)"
done
