#!/bin/sh
# Checks the module graph of src/ (a module is X.c with X.h; an arrow X -> Y
# when either includes Y.h):
#  - no cycle: every arrow points down (tsort finds an order);
#  - the protocol core (libwscore.a) includes nothing but itself;
#  - only the app layer (main.c, server.c) includes server.h.
set -u
src=$(cd "$(dirname "$0")/../src" && pwd)
core="util ws_frame ws_utf8 ws_deflate http1 handshake h2req arrivals proxyproto cidr forwarded webreq"
tmp=${TMPDIR:-/tmp}/check-layers.$$
trap 'rm -f "$tmp"' EXIT
fail=0

cd "$src"
for f in *.c *.h; do
	m=${f%.*}
	sed -n 's/^#include "\([a-z0-9_]*\)\.h".*/\1/p' "$f" | while read -r d; do
		[ "$d" = "$m" ] || [ "$d" = wsb_autoconf ] || echo "$m $d"
	done
done | sort -u >"$tmp"

if ! tsort "$tmp" >/dev/null 2>&1; then
	echo "FAIL: include cycle among src modules:"
	tsort "$tmp" 2>&1 >/dev/null | sed 's/^/  /'
	fail=1
fi

for m in $core; do
	while read -r from to; do
		[ "$from" = "$m" ] || continue
		case " $core " in
		*" $to "*) ;;
		*) echo "FAIL: core module $from includes $to.h"; fail=1 ;;
		esac
	done <"$tmp"
done

while read -r from to; do
	[ "$to" = server ] || continue
	case "$from" in
	main|server) ;;
	*) echo "FAIL: $from includes server.h (app layer only)"; fail=1 ;;
	esac
done <"$tmp"

[ "$fail" -eq 0 ] && echo "PASS: $(wc -l <"$tmp") include arrows, no cycle"
exit "$fail"
