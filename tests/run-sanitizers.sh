#!/bin/bash
# The sanitizer stage of the suite (tests/run-suite.sh): build cairn with
# --enable-sanitizers (ASan + UBSan, -fno-sanitize-recover) in a build dir
# of its own, then run under it the unit tests, the launcher's error paths
# (tests/test-launch-errors.sh against tests/cairn-launch-asan), and the
# store and import integration tests (hostile tarballs and images included;
# their cairn-core and cairn-full are sanitized). Ends with "N passed, N failed" and exits
# non-zero on any failure.
#
#   tests/run-sanitizers.sh [--build-only] [BUILDDIR]   (default _build-sanitizers)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
if [ "${1:-}" = --build-only ]; then build_only=1; shift; fi
b=${1:-$top/_build-sanitizers}
mkdir -p "$b"
if [ ! -f "$b/Makefile" ] || [ "$top/configure" -nt "$b/config.status" ]; then
  (cd "$b" && "$top/configure" -q --enable-sanitizers) || { echo "0 passed, 1 failed"; exit 1; }
fi
grep -q '^SANITIZER_CFLAGS = -fsanitize' "$b/Makefile" || {
  echo "$b is not a sanitizer build"; echo "0 passed, 1 failed"; exit 1; }
make -C "$b" -j"$(nproc)" -s >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
[ $build_only = 0 ] || exit 0

tests="tests/test-common-fdio tests/test-common-validate tests/test-checkout-hostile
 tests/test-sign-verify tests/test-launch-errors.sh tests/test-store.sh tests/test-import.sh"
# the 10 GiB sparse claim of test-import.sh hashes 11 GiB of zeros: run
# once by the suite's ordinary build, not again under ASan
CAIRN_TEST_EXCLUDE='sparse claim' make -C "$b" -j"$(nproc)" -s check TESTS="$(echo $tests)" > "$b/sanitizers-check.log" 2>&1
rc=$?
grep -E '^(FAIL|ERROR|XPASS):' "$b/sanitizers-check.log" || true
# what each failed case printed (its assertions and the end of its trace):
# CI keeps only this output, not the build directory
for log in "$b"/tests/*.log; do
  grep -q '^not ok' "$log" 2>/dev/null || continue
  echo "---- ${log##*/}"
  awk '/^not ok/ { n = 45 } n > 0 { print; n-- }' "$log"
done
get() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$b/sanitizers-check.log" | tail -1; }
pass=$(get PASS); fail=$(( $(get FAIL) + $(get ERROR) + $(get XPASS) ))
pass=${pass:-0}
if [ $rc != 0 ] && [ $fail = 0 ]; then tail -30 "$b/sanitizers-check.log"; fail=1; fi
# a sanitizer report anywhere in the logs is a failure even if its test
# did not notice it (a child whose output was discarded)
reports=$(grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' \
  "$b"/tests/*.log 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "sanitizer reports in: $reports"
  grep -h -A20 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' $reports | head -60
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
