#!/bin/bash
# tests/oci-validation/compare.sh [RUNTIME...] — the runtime-tools
# validation programs against several runtimes side by side (default:
# the build's cairn-launch, crun and runc), RUNS times each (default 2):
# the figures of docs/performance.md (OCI section). Not part of the test
# suite (tests/test-oci-validation.sh runs cairn-launch alone): this is
# where crun is checked against tests/oci-validation/expected-crun.txt, the
# list cairn-launch's goal is taken from.
#
# Prints, for each runtime and run, run.sh's summary line and the seconds
# it took, then the programs each runtime passed in every run, and whether
# crun still passes all of expected-crun.txt. Outputs are kept under
# $OCI_VALIDATION_COMPARE_OUT (default a new temporary directory).
# Needs root and the programs built (tests/oci-validation/build.sh).
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
runs=${RUNS:-2}
export OCI_VALIDATION_JOBS=${OCI_VALIDATION_JOBS:-3}
out=${OCI_VALIDATION_COMPARE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-oci-compare.XXXXXX")}
mkdir -p "$out"
[ $# -gt 0 ] || set -- "${CAIRN_LAUNCH:-$top/_build/cairn-launch}" crun runc

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); $OCI_VALIDATION_JOBS programs at once"
for rt in "$@"; do
  name=$(basename "$rt")
  for r in $(seq 1 "$runs"); do
    t0=$(date +%s)
    RUNTIME=$rt OCI_VALIDATION_OUT=$out/$name-$r bash "$here/run.sh" > "$out/$name-$r.log" 2>&1
    echo "$(tail -n 1 "$out/$name-$r.log") [run $r, $(($(date +%s) - t0)) s, load $(cut -d' ' -f1 /proc/loadavg)]"
  done
  # passed in every run
  done_all=1
  for r in $(seq 1 "$runs"); do
    [ -s "$out/$name-$r/results.txt" ] || { echo "# $name: run $r did not finish (see $out/$name-$r.log)"; done_all=0; }
  done
  [ $done_all = 1 ] || continue
  for r in $(seq 1 "$runs"); do awk '$2 == "pass" { print $1 }' "$out/$name-$r/results.txt"; done \
    | sort | uniq -c | awk -v n="$runs" '$1 == n { print $2 }' > "$out/$name.passed"
  echo "# $name passed in all $runs runs ($(wc -l < "$out/$name.passed")):" $(cat "$out/$name.passed")
  if [ "$name" = crun ]; then
    missing=$(grep -v '^#' "$here/expected-crun.txt" | grep -vxF -f "$out/$name.passed" || true)
    [ -z "$missing" ] && echo "# crun passes every program of expected-crun.txt" \
      || echo "# crun no longer passes (expected-crun.txt):" $missing
  fi
done
echo "# outputs in $out"
