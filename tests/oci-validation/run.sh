#!/bin/bash
# tests/oci-validation/run.sh [TEST...] — run the OCI runtime-tools
# validation programs (built by tests/oci-validation/build.sh) against the
# runtime named by $RUNTIME (a path or a command in PATH; the programs call
# it with the runc command line: create/start/state/kill/delete).
#
# The programs run in OCI_VALIDATION_JOBS workers (default 1), each inside
# its own tests/oci-sandbox.sh (its own cgroups below the caller's,
# cgroup/mount/net namespaces, a fresh /run for the runtime's state: two
# programs running at once never see each other's containers or cgroups,
# such as the absolute /cgrouptest several programs use); a worker takes
# the next program not yet taken until none is left. Most of a program's
# time is spent waiting (it polls the runtime's state in steps), so a few
# workers cut the wall time without loading the CPUs much. Each program
# runs in a fresh working directory holding runtimetest and the rootfs
# tarball, with a timeout (OCI_VALIDATION_TIMEOUT, default 120 s).
# Prints TAP, one test point per program in the order given ("ok" when the
# program exited 0, printed a plan and no "not ok" point; "# SKIP" when it
# skipped everything), the failing points of a failed program as comments,
# then
#   RUNTIME: N passed, N failed, N skipped (programs); N ok, N not ok (points)
# $OCI_VALIDATION_OUT (default a new temporary directory) keeps each
# program's TAP and stderr and results.txt:
#   "NAME pass|fail|skip OK TOTAL SECONDS".
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${OCI_VALIDATION_CACHE:-/var/tmp/cairn-oci-validation}
bin=$CACHE/bin
: "${RUNTIME:=runc}"

[ -x "$bin/runtimetest" ] || { echo "oci-validation/run: not built (run tests/oci-validation/build.sh)" >&2; exit 1; }
rt=$(command -v "$RUNTIME") || { echo "oci-validation/run: no runtime '$RUNTIME'" >&2; exit 1; }
export RUNTIME=$rt

# run_one NAME: run one program; leaves NAME.tap, NAME.stderr and NAME.rc
# ("EXIT-STATUS SECONDS") in $out (classified at the end, all at once: one
# interpreter for the run rather than one a program).
run_one() {
  local t=$1 out=$OCI_VALIDATION_OUT w f rc t0 secs
  w=$(mktemp -d "$out/work.XXXXXX")
  # real files: the programs copy runtimetest with a helper that would
  # copy a symlink as a symlink
  for f in runtimetest rootfs-amd64.tar.gz; do ln "$bin/$f" "$w/$f" 2>/dev/null || cp "$bin/$f" "$w/$f"; done
  rc=0 t0=$EPOCHREALTIME
  ( cd "$w" && TMPDIR=$w timeout -k 5 "${OCI_VALIDATION_TIMEOUT:-120}" "$bin/$t.t" ) \
    > "$out/$t.tap" 2> "$out/$t.stderr" < /dev/null || rc=$?
  secs=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 100000 ))
  # a runtime that failed half-way may leave mounts in the bundle (they
  # live in the sandbox's mount namespace): unmount them before removing it
  grep -o " $w/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$w"
  echo "$rc $((secs / 10)).$((secs % 10))" > "$out/$t.rc.tmp"
  mv "$out/$t.rc.tmp" "$out/$t.rc"
}

# --worker (in a sandbox of its own): run the programs of $out/queue, taking
# the next one not yet taken by any worker until none is left.
if [ "${1:-}" = --worker ]; then
  [ "${OCI_SANDBOXED:-0}" = 1 ] || exec "$here/../oci-sandbox.sh" "$0" --worker
  q=$OCI_VALIDATION_OUT/queue
  while :; do
    i=$(flock "$q.lock" sh -c 'i=$(($(cat "$1.next") + 1)); echo $i > "$1.next"; echo $i' sh "$q")
    t=$(sed -n "${i}p" "$q")
    [ -n "$t" ] || break
    run_one "$t"
  done
  exit 0
fi

out=${OCI_VALIDATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-oci-validation.XXXXXX")}
mkdir -p "$out"
export OCI_VALIDATION_OUT=$out
if [ $# = 0 ]; then
  set -- $(cd "$bin" && ls *.t | sed 's/\.t$//')
fi
for t in "$@"; do
  [ -x "$bin/$t.t" ] || { echo "oci-validation/run: no program '$t'" >&2; exit 1; }
  rm -f "$out/$t.rc"
done

# the pool: OCI_VALIDATION_JOBS workers, each in a sandbox of its own
jobs=${OCI_VALIDATION_JOBS:-1}
printf '%s\n' "$@" > "$out/queue"
echo 0 > "$out/queue.next"
t0=$(date +%s) pids=()
for _ in $(seq 1 "$jobs"); do
  "$0" --worker &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
wait "${pids[@]}"
elapsed=$(($(date +%s) - t0))

n=0 pass=0 fail=0 skip=0 pts_ok=0 pts_bad=0
: > "$out/results.txt"
echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -n 1))"
while read -r t status ok total why; do
  n=$((n + 1))
  secs=$(cut -d' ' -f2 "$out/$t.rc" 2>/dev/null || echo 0)
  case $status in
    pass) pass=$((pass + 1)); echo "ok $n - $t ($ok/$total, ${secs}s)" ;;
    skip) skip=$((skip + 1)); echo "ok $n - $t # SKIP $(grep -m1 -oE '# SKIP.*' "$out/$t.tap" | cut -c8-)" ;;
    *)
      fail=$((fail + 1))
      echo "not ok $n - $t ($ok/$total: $why, ${secs}s)"
      grep -E '^not ok [0-9]+' "$out/$t.tap" 2>/dev/null | grep -v '# TODO' | head -n 8 | sed 's/^/#   /'
      grep -m 3 '"error"' "$out/$t.tap" 2>/dev/null | sed 's/^ */#   /'
      tail -n 3 "$out/$t.stderr" 2>/dev/null | sed 's/^/#   stderr: /' ;;
  esac
  pts_ok=$((pts_ok + ok)); pts_bad=$((pts_bad + total - ok))
  echo "$t $status $ok $total $secs" >> "$out/results.txt"
done < <(python3 "$here/classify.py" --dir "$out" "$@")
echo "1..$n"
echo "# results in $out; ${elapsed}s, $jobs at once"
echo "$(basename "$RUNTIME"): $pass passed, $fail failed, $skip skipped (programs); $pts_ok ok, $pts_bad not ok (points)"
[ $fail = 0 ]
