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
for s in "$@"; do
  f="$here/scenario-$s.sh"
  [ -f "$f" ] || { echo "bench: no scenario '$s'" >&2; exit 2; }
  . "$f"
  BENCH_WORK=$(mktemp -d /var/tmp/cairn-bench-work.XXXXXX)
  export BENCH_WORK
  echo; echo "### scenario: $s"
  ( cd "$BENCH_WORK" && "scenario_${s//-/_}" )
  rm -rf "$BENCH_WORK"
done
