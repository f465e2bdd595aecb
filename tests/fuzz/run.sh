#!/bin/bash
# Build the fuzz targets and run each for SECONDS (default 60) on a copy of
# its committed seed corpus (tests/fuzz/corpus/TARGET), printing per target
# the executions, exec/s, crashes and corpus size, then "N passed, N failed".
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
# Environment: FUZZ_JOBS (targets run at once, default 1), FUZZ_BUILDDIR
# (default build-fuzz/), FUZZ_NO_BUILD=1 (use the targets already built).
# A crash leaves its input in BUILDDIR/fuzz-artifacts/TARGET/ and the log in
# BUILDDIR/fuzz-logs/TARGET.log; add the input to the corpus as a
# regression seed once the bug is fixed. Exit status 1 on any crash.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
shift || true
bld=${FUZZ_BUILDDIR:-$top/build-fuzz}
jobs=${FUZZ_JOBS:-1}
all="tar metadata summary sync-serve sync-pull delta seccomp-json launch-options oci-config"
targets=${*:-$all}

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  "$top/tests/fuzz/build.sh" "$bld" || { echo "fuzz: build failed"; exit 2; }
fi

# Extra libFuzzer flags per target.
extra_flags() {
  case "$1" in
    # cairn-launch exits right after an option error and does not free the
    # strings it kept (--bind); those are not leaks worth reporting.
    launch-options) echo "-detect_leaks=0" ;;
    # the runtime reads one config.json and exits: what a refused config
    # leaves allocated is not a leak worth reporting either
    oci-config) echo "-detect_leaks=0" ;;
    *) echo "" ;;
  esac
}

run_one() {
  local t=$1 bin="$bld/tests/fuzz/fuzz-$1"
  local work="$bld/fuzz-corpus/$t" art="$bld/fuzz-artifacts/$t/" log="$bld/fuzz-logs/$t.log"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*
  local rc=0
  # -close_fd_mask=3: the targets' own output is not wanted; libFuzzer
  # keeps a descriptor of its own for its reports.
  local asan=""
  case $t in launch-options | oci-config) asan="detect_leaks=0" ;; esac
  ASAN_OPTIONS="$asan" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -close_fd_mask=3 \
    -print_final_stats=1 -artifact_prefix="$art" $(extra_flags "$t") \
    "$work" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  local execs rate crashes corpus
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  [ "$rc" != 0 ] && [ "$crashes" = 0 ] && crashes=1
  corpus=$(find "$work" -type f | wc -l)
  printf '%-15s executions %s, exec/s %s, crashes %s, corpus %s\n' "$t:" "${execs:-0}" "${rate:-0}" "$crashes" "$corpus"
  if [ "$crashes" != 0 ]; then
    grep -m1 -A25 -E '^==[0-9]+==ERROR|runtime error|ERROR: libFuzzer|GLib.*CRITICAL|GLib.*WARNING|^\*\*' "$log" | sed 's/^/    /'
    return 1
  fi
  return 0
}

pass=0 fail=0
resdir=$(mktemp -d)
trap 'rm -rf "$resdir"' EXIT
running=0
for t in $targets; do
  ( run_one "$t" >"$resdir/$t.out"; echo $? >"$resdir/$t.rc" ) &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
for t in $targets; do
  cat "$resdir/$t.out"
  if [ "$(cat "$resdir/$t.rc")" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
