#!/usr/bin/env bash
# Run cairn's benchmarks side by side with the anchors (ostree, bwrap, crun,
# cp, rsync). Not part of the test suite.
#   tests/bench/run.sh               all scenarios
#   tests/bench/run.sh NAME...       only the named scenarios (scenario-NAME.sh)
#   BENCH_RUNS=N                     timed runs per command (default 7)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ -x "$CAIRN" ] || { echo "bench: build first (no $CAIRN)" >&2; exit 1; }
if [ $# = 0 ]; then
  set -- $(cd "$here" && ls scenario-*.sh | sed 's/^scenario-//; s/\.sh$//')
fi
echo "cairn benchmarks on $(uname -r), $(nproc) cpus; results also in $BENCH_RESULTS"
# ext4 skips inodes freed in the last 60 s -- 360 s while their inode table
# block is dirty, which allocating new inodes beside them keeps it -- when it
# allocates new ones, scanning past each of them for every new file: after a
# mass deletion, a commit into a new directory measured 3x slower for cairn
# and 2.3x for ostree (find_inode_bit/recently_deleted at 71% of a profile).
# So the work directories are deleted only when all scenarios are done, and
# a run that starts within 400 s of the previous run's deletion waits.
stamp=$BENCH_CACHE/.last-delete
if [ -f "$stamp" ]; then
  wait_s=$(( $(stat -c %Y "$stamp") + 400 - $(date +%s) ))
  if [ "$wait_s" -gt 0 ]; then
    echo "bench: waiting ${wait_s}s after the previous run's deletions"; sleep "$wait_s"
  fi
fi
works=()
cleanup() { [ ${#works[@]} = 0 ] || { rm -rf "${works[@]}"; sync; touch "$stamp"; }; }
trap cleanup EXIT
for s in "$@"; do
  f="$here/scenario-$s.sh"
  [ -f "$f" ] || { echo "bench: no scenario '$s'" >&2; exit 2; }
  . "$f"
  BENCH_WORK=$(mktemp -d /var/tmp/cairn-bench-work.XXXXXX)
  export BENCH_WORK
  works+=("$BENCH_WORK")
  echo; echo "### scenario: $s"
  bench_conditions
  ( cd "$BENCH_WORK" && "scenario_${s//-/_}" )
done
