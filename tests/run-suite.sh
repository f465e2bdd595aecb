#!/bin/bash
# Build and run the whole test suite in BUILDDIR (default _build); print one
# closing line "N passed, N failed, N skipped" and exit non-zero on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/_build}
start=$(date +%s)
make -C "$b" -j"$(nproc)" check >"$b/check-output.log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' "$b/check-output.log" | grep -v '^PASS' || true
log="$b/test-suite.log"
get() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$b/check-output.log" | tail -1; }
pass=$(get PASS); fail=$(get FAIL); err=$(get ERROR); skip=$(get SKIP); xpass=$(get XPASS)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} )); skip=${skip:-0}
if [ $rc != 0 ] && [ $fail = 0 ]; then
  tail -40 "$b/check-output.log"; fail=1   # the build or harness itself failed
fi
if [ $fail != 0 ] && [ -f "$log" ]; then
  echo "---- failures (from $log) ----"
  awk '/^(FAIL|ERROR): /,0' "$log" | grep -E '^(not ok|#|FAIL|ERROR)' | head -200
fi
echo "suite took $(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
