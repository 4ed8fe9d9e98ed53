#!/bin/sh
# Installs what is missing, builds wsbridge, and runs the built-in demo:
# WebSocket server on 127.0.0.1:8080 with /echo (built-in echo), every frame
# recorded to ./wsbridge.db, and the live dashboard (wsbridge-top) attached
# through ./wsbridge.sock. Quitting the dashboard (q) stops wsbridge.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
contrib/install-deps.sh run
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
mkdir -p build-run
(
	cd build-run
	[ -f Makefile ] || "$top/configure" -q
	make -s -j2
)
cat <<MSG
wsbridge demo on ws://127.0.0.1:8080
  /echo   built-in echo (subprotocols chat, binary)
Try it from a browser console:
  ws = new WebSocket('ws://127.0.0.1:8080/echo'); ws.onmessage = e => console.log(e.data); ws.onopen = () => ws.send('hi')
Frames are recorded to $top/wsbridge.db (replay: build-run/wsbridge-top --db wsbridge.db).
The dashboard starts in 2 seconds; press ? in it for the keys, q to quit
(wsbridge then stops; clients get close 1001). Its log: $top/wsbridge.log
MSG
log=wsbridge.log
build-run/wsbridge --demo --log-db wsbridge.db --control ./wsbridge.sock "$@" \
    2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
trap 'exit 130' INT TERM HUP
# Wait for the control socket (or for wsbridge to fail).
i=0
while [ ! -S wsbridge.sock ] && kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! kill -0 $pid 2>/dev/null; then
	cat "$log" >&2
	exit 1
fi
sleep 2
if [ -t 0 ] && [ -t 1 ]; then
	build-run/wsbridge-top -s ./wsbridge.sock
else
	echo "no terminal for the dashboard: wsbridge runs until interrupted"
	wait $pid
fi
