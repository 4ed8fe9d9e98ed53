#!/bin/sh
# Installs what is missing, builds wsbridge with ASan+UBSan and -Werror, and
# runs the whole test suite: cmocka units, fuzz-seed replays, and
# integration tests against real peers (Python websockets, Node ws,
# headless Chromium). Prints "N passed, N failed" last.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
contrib/install-deps.sh test
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
mkdir -p build-test
cd build-test
[ -f Makefile ] || "$top/configure" -q --enable-asan --enable-werror
make -s -j2
rc=0
distfail=0
make -s -j2 check || rc=$?
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
