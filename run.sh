#!/bin/sh
# Installs what is missing, builds wsbridge, and runs the built-in demo:
# WebSocket server on 127.0.0.1:8080 with /echo (built-in echo).
set -eu
cd "$(dirname "$0")"
top=$(pwd)
contrib/install-deps.sh run
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
mkdir -p build-run
cd build-run
[ -f Makefile ] || "$top/configure" -q
make -s -j2
cat <<MSG
wsbridge demo on ws://127.0.0.1:8080
  /echo   built-in echo (subprotocols chat, binary)
Try it from a browser console:
  ws = new WebSocket('ws://127.0.0.1:8080/echo'); ws.onmessage = e => console.log(e.data); ws.onopen = () => ws.send('hi')
Ctrl-C stops it (clients get close 1001).
MSG
exec ./wsbridge --demo "$@"
