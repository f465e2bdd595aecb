#!/bin/bash
# tests/oci-validation/run.sh [TEST...] — run the OCI runtime-tools
# validation programs (built by tests/oci-validation/build.sh) against the
# runtime named by $RUNTIME (a path or a command in PATH; the programs call
# it with the runc command line: create/start/state/kill/delete).
#
# Every program runs inside tests/oci-sandbox.sh (its own cgroups below the
# caller's, cgroup/mount/net namespaces, a fresh /run for the runtime's
# state), in a fresh working directory holding runtimetest and the rootfs
# tarball, with a timeout (OCI_VALIDATION_TIMEOUT, default 120 s).
# Prints TAP, one test point per program ("ok" when the program exited 0,
# printed a plan and no "not ok" point; "# SKIP" when it skipped
# everything), the failing points of a failed program as comments, then
#   RUNTIME: N passed, N failed, N skipped (programs); N ok, N not ok (points)
# $OCI_VALIDATION_OUT (default a new temporary directory) keeps each
# program's TAP and stderr and results.txt: "NAME pass|fail|skip OK TOTAL".
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

if [ "${OCI_SANDBOXED:-0}" != 1 ]; then
  exec "$here/../oci-sandbox.sh" "$0" "$@"
fi

out=${OCI_VALIDATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-oci-validation.XXXXXX")}
mkdir -p "$out"
export OCI_VALIDATION_OUT=$out
if [ $# = 0 ]; then
  set -- $(cd "$bin" && ls *.t | sed 's/\.t$//')
fi

n=0 pass=0 fail=0 skip=0 pts_ok=0 pts_bad=0
: > "$out/results.txt"
echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -n 1))"
for t in "$@"; do
  n=$((n + 1))
  w=$(mktemp -d "$out/work.XXXXXX")
  # real files: the programs copy runtimetest with a helper that would
  # copy a symlink as a symlink
  for f in runtimetest rootfs-amd64.tar.gz; do ln "$bin/$f" "$w/$f" 2>/dev/null || cp "$bin/$f" "$w/$f"; done
  rc=0
  ( cd "$w" && TMPDIR=$w timeout -k 5 "${OCI_VALIDATION_TIMEOUT:-120}" "$bin/$t.t" ) \
    > "$out/$t.tap" 2> "$out/$t.stderr" < /dev/null || rc=$?
  # a runtime that failed half-way may leave mounts in the bundle (they
  # live in the sandbox's mount namespace): unmount them before removing it
  grep -o " $w/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$w"
  read -r status ok total why < <(python3 "$here/classify.py" "$out/$t.tap" "$rc")
  case $status in
    pass) pass=$((pass + 1)); echo "ok $n - $t ($ok/$total)" ;;
    skip) skip=$((skip + 1)); echo "ok $n - $t # SKIP $(grep -m1 -oE '# SKIP.*' "$out/$t.tap" | cut -c8-)" ;;
    *)
      fail=$((fail + 1))
      echo "not ok $n - $t ($ok/$total: $why)"
      grep -E '^not ok [0-9]+' "$out/$t.tap" | grep -v '# TODO' | head -n 8 | sed 's/^/#   /'
      grep -m 3 '"error"' "$out/$t.tap" | sed 's/^ */#   /'
      tail -n 3 "$out/$t.stderr" | sed 's/^/#   stderr: /' ;;
  esac
  pts_ok=$((pts_ok + ok)); pts_bad=$((pts_bad + total - ok))
  echo "$t $status $ok $total" >> "$out/results.txt"
done
echo "1..$n"
echo "# results in $out"
echo "$(basename "$RUNTIME"): $pass passed, $fail failed, $skip skipped (programs); $pts_ok ok, $pts_bad not ok (points)"
[ $fail = 0 ]
