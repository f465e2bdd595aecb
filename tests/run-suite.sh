#!/bin/bash
# Build and run the whole test suite in BUILDDIR (default _build); print one
# closing line "N passed, N failed, N skipped" and exit non-zero on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/_build}
start=$(date +%s)
bash "$top/tests/host-facts.sh"
# The sanitizer and fuzz builds (each a build of the whole tree) start now, at
# a low priority beside the tests, which spend much of their time waiting
# (servers, namespaces, child processes); their stages below then only run.
fuzzdir=${FUZZ_BUILDDIR:-$top/build-fuzz}
nice -n 15 bash "$top/tests/run-sanitizers.sh" --build-only >"$b/prebuild-sanitizers.log" 2>&1 &
pb_san=$!
nice -n 15 "$top/tests/fuzz/build.sh" "$fuzzdir" >"$b/prebuild-fuzz.log" 2>&1 &
pb_fuzz=$!
# The longest tests start first, so that -j does not leave one of them
# running alone at the end; the rest keep the Makefile's order.
slow="tests/test-oci-validation.sh tests/test-oci.sh tests/test-sign.sh tests/test-run.sh
 tests/test-store.sh tests/test-checkout.sh tests/test-registry.sh tests/test-oci-engines.sh
 tests/test-pull.sh tests/test-import.sh tests/test-run-like.sh tests/test-delta.sh tests/test-launch.sh"
all_tests=$(printf 'print-tests:\n\t@echo $(TESTS)\n' |
  make -C "$b" -s --no-print-directory -f Makefile -f - print-tests)
order=""
for t in $slow; do case " $all_tests " in *" $t "*) order="$order $t" ;; esac; done
for t in $all_tests; do case " $slow " in *" $t "*) ;; *) order="$order $t" ;; esac; done
make -C "$b" -j"$(nproc)" check TESTS="$order" >"$b/check-output.log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' "$b/check-output.log" | grep -v '^PASS' || true
log="$b/test-suite.log"
get() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$b/check-output.log" | tail -1; }
pass=$(get PASS); fail=$(get FAIL); err=$(get ERROR); skip=$(get SKIP); xpass=$(get XPASS)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} )); skip=${skip:-0}
if [ $rc != 0 ] && [ $fail = 0 ]; then
  tail -40 "$b/check-output.log"; fail=1   # the build or harness itself failed
fi
# where the time goes (tests/libtest.sh writes "# time:" lines)
echo "slowest tests and cases:"
grep -H '^# time: [0-9]* s in all' "$b"/tests/*.log 2>/dev/null |
  sed -E 's|^.*/tests/(.*)\.log:# time: ([0-9]+) s in all|\2 s \1|' | sort -rn | head -8 | sed 's/^/  /'
grep -h '^# time: [0-9]* s: ' "$b"/tests/*.log 2>/dev/null |
  sed 's/^# time: //' | sort -rn | head -8 | sed 's/^/  /'
if [ $fail != 0 ] && [ -f "$log" ]; then
  echo "---- failures (from $log) ----"
  awk '/^(FAIL|ERROR): /,0' "$log" | grep -E '^(not ok|#|FAIL|ERROR)' | head -200
fi

# Stages outside automake's harness, each ending with its own
# "N passed, N failed" line (or counted as one case): the formatting check,
# the sanitizer build's unit and launcher error-path tests, the fuzz
# targets' bounded CI run.
stage() {
  local name=$1; shift
  local out="$b/stage-$name.log" src=rc line p f
  local t0=$(date +%s)
  "$@" >"$out" 2>&1
  src=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  elif [ $src = 0 ]; then p=1 f=0
  else p=0 f=1; fi
  if [ $src != 0 ] && [ "$f" = 0 ]; then f=1; fi
  echo "stage $name: $p passed, $f failed ($(( $(date +%s) - t0 )) s)"
  if [ "$f" != 0 ]; then echo "FAIL: stage $name (log $out):"; tail -80 "$out"; fi
  pass=$((pass + p)); fail=$((fail + f))
}
echo "make check took $(( $(date +%s) - start )) s"
wait $pb_san; wait $pb_fuzz && export FUZZ_NO_BUILD=1
echo "the sanitizer and fuzz builds ended $(( $(date +%s) - start )) s after the start"
stage check-format make -C "$b" -s check-format
stage sanitizers bash "$top/tests/run-sanitizers.sh"
stage fuzz bash "$top/tests/fuzz/run-ci.sh"

echo "suite took $(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
