#!/bin/sh
# watched.sh PYTHON NODE TEST.watched -- make check's log compiler for
# TEST.watched: runs TEST (.py with PYTHON, .mjs with NODE) with
# WSB_WATCH=1, so that every wsbridge it starts has a control socket and a
# live subscriber (wsbtest.py, watcher.py). The automake name tells which
# mode a result belongs to.
py=$1 node=$2 t=${3%.watched}
WSB_WATCH=1
export WSB_WATCH
case $t in
*.mjs)	exec $node "$t" ;;
*)	exec $py "$t" ;;
esac
