#!/bin/sh
# contrib/coverage.sh [BUILD_DIR] -- what the whole test suite runs of src/.
# Builds wsbridge as ./test.sh does (ASan+UBSan, so the WSB_CHECKS code is
# in) but at -O0 with gcov instrumentation, in BUILD_DIR (default
# build-cov/, started afresh), runs `make check` (units, fuzz seeds, and the
# integration tests in both modes), then prints line, branch and function
# coverage per file of src/, the totals, and every function in src/ that
# never ran (contrib/coverage-report.py; gcov from gcc, no other tool).
# The report is also left in BUILD_DIR/coverage.txt. Exit status: that of
# make check (the report is printed either way).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
build=${1:-build-cov}
contrib/install-deps.sh test
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
rm -rf "$build"
mkdir -p "$build"
cd "$build"
"$top/configure" -q --enable-asan CFLAGS="-g -O0 --coverage" \
    LDFLAGS="--coverage"
make -s -j2
rc=0
make -s -j2 check >check.out 2>&1 || rc=$?
grep -E '^(FAIL|ERROR|XPASS):' check.out || true
sed -n 's/^# \(TOTAL\|PASS\|FAIL\|ERROR\|SKIP\): */\1 /p' test-suite.log |
	tr '\n' ' '
echo
python3 "$top/contrib/coverage-report.py" . "$top" src/ | tee coverage.txt
[ "$rc" -eq 0 ] || echo "make check failed (status $rc): the numbers are those of a failing run"
exit $rc
