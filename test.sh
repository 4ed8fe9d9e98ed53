#!/bin/sh
# Installs what is missing, builds wsbridge with ASan+UBSan and -Werror, and
# runs the whole test suite: cmocka units, fuzz-seed replays, and
# integration tests against real peers (Python websockets, Node ws,
# headless Chromium). Prints "N passed, N failed" last.
#
# ./test.sh --busy runs the suite with two CPU-bound busy loops beside it
# (started here, killed when it ends): the tests must not rely on an idle
# machine (deadlines are for failures only; wait for the event).
set -eu
cd "$(dirname "$0")"
top=$(pwd)
busy=0
case "${1:-}" in
--busy)	busy=1 ;;
"")	;;
*)	echo "usage: $0 [--busy]" >&2; exit 2 ;;
esac
contrib/install-deps.sh test
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
mkdir -p build-test
cd build-test
[ -f Makefile ] || "$top/configure" -q --enable-asan --enable-werror
make -s -j2
rc=0
distfail=0
hogs=
if [ "$busy" -eq 1 ]; then
	for i in 1 2; do
		sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	trap 'kill $hogs 2>/dev/null || :' EXIT
	trap 'exit 130' INT TERM HUP
	echo "busy: two CPU-bound loops (pids$hogs) run beside the suite"
fi
make -s -j2 check || rc=$?
if [ -n "$hogs" ]; then
	kill $hogs 2>/dev/null || :
	wait $hogs 2>/dev/null || :
	trap - EXIT
	echo "busy: loops stopped; load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
# The release tarball builds, installs and passes the unit tests from a
# read-only source tree (the integration suite already ran above).
if [ "$rc" -eq 0 ]; then
	make -s distcheck TESTS="tests/unit/test_ws_frame tests/fuzz/run-seeds.sh" \
	    >distcheck.log 2>&1 || { tail -40 distcheck.log; echo "FAIL: make distcheck"; rc=1; distfail=1; }
fi
log=test-suite.log
pass=$(sed -n 's/^# PASS: *//p' $log)
fail=$(sed -n 's/^# FAIL: *//p' $log)
err=$(sed -n 's/^# ERROR: *//p' $log)
skip=$(sed -n 's/^# SKIP: *//p' $log)
[ "$rc" -ne 0 ] && cat $log
echo "${pass:-0} passed, $(( ${fail:-0} + ${err:-0} + distfail )) failed, ${skip:-0} skipped"
exit $rc
