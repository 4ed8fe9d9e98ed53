#!/bin/sh
# Replays every fuzz target's seeds (and any crashers kept as regressions)
# through the target code in this build, sanitizers included when enabled.
set -e
here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_REPLAY_DIR:-$(pwd)/tests/fuzz}
for t in ws_frame ws_utf8 http1 config ws_deflate h2 ws_conn proxyproto webreq; do
	"$bin/replay_$t" "$here/seeds/$t"
done
