#!/bin/sh
# run.sh -- wsbridge's benchmark (issue 7): installs the peers that are
# missing (websockify, websocketd + socat from Debian, the Node bridge's
# locked ws), builds the C tools, raises the fd limit, and runs every
# scenario against every peer, printing markdown tables.
#
#   contrib/bench/run.sh [--rounds N] [--duration SECS] [--warmup SECS]
#       [--conns 1,64,1000] [--hs-conns N] [--idle N] [--idle-forking N]
#       [--sizes 1024,65536,1048576] [--peers relay,wsbridge,...]
#       (wsbridge-tls, -h2, -h2tls, -log: over wss://, HTTP/2 cleartext,
#       HTTP/2 over TLS, with the frame log on)
#       [--only 'up,echo'] [-v]   (bench.py --replay LOG re-prints a run)
#
# WSBRIDGE=path/to/wsbridge picks the binary (default: build an -O2 one in
# build-bench/). BENCH_OUT=dir keeps logs and the tools (default: a temp dir).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,16p' "$0"; exec python3 "$here/bench.py" --help; esac

# Peers: install the ones --peers asks for (default: all).
peers=relay,wsbridge,websockify,websocketd,node
prev=
for a in "$@"; do
	[ "$prev" = --peers ] && peers=$a
	case $a in --peers=*) peers=${a#--peers=} ;; esac
	prev=$a
done
need=python3
case ",$peers," in *,websockify,*) need="$need websockify" ;; esac
case ",$peers," in *,websocketd,*) need="$need websocketd socat" ;; esac
case ",$peers," in *,node,*) need="$need nodejs" ;; esac
missing=
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
command -v node >/dev/null && command -v npm >/dev/null &&
	missing=$(echo "$missing" | sed 's/ nodejs//')
if [ -n "$missing" ]; then
	echo "bench: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	    $missing >/dev/null
fi
if [ ! -d "$here/node-bridge/node_modules/ws" ] &&
    case ",$peers," in *,node,*) true ;; *) false ;; esac; then
	(cd "$here/node-bridge" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

out=${BENCH_OUT:-$(mktemp -d /tmp/wsbridge-bench.XXXXXX)}
mkdir -p "$out/bin"
make -s -C "$here" OUT="$out/bin" >&2

if [ -z "${WSBRIDGE:-}" ]; then
	mkdir -p "$top/build-bench"
	(cd "$top/build-bench" &&
	    { [ -f Makefile ] || { [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi); } &&
	      "$top/configure" -q CFLAGS='-O2 -g'; } &&
	    make -s -j2 wsbridge) >&2
	WSBRIDGE=$top/build-bench/wsbridge
fi

# 9,000 idle connections need ~18,000 descriptors in the proxy.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "bench: wsbridge=$WSBRIDGE fd limit $(ulimit -n), logs in $out" >&2
BENCH_CMD="contrib/bench/run.sh $*"
export BENCH_CMD
exec python3 "$here/bench.py" --bin "$out/bin" --wsbridge "$WSBRIDGE" \
    --outdir "$out" "$@"
