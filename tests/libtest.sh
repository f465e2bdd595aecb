# tests/libtest.sh — shared helpers for cairn's shell integration tests.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Each tests/test-*.sh sources this file, then calls `run_test NAME FUNC`
# for each case and `tests_done` at the end. Output is TAP; the plan is
# computed at the end (never hand-counted). Each case runs in a subshell,
# in its own fresh temporary directory ($T), with `set -e` semantics.
#
# Skips: `skip_unless COND_DESC cmd...` / `skip "why"` skip the current case;
# with CAIRN_TESTS_MUST_RUN=1 a skip is turned into a failure so that a green
# run cannot hide work that did not run.

set -u

: "${CAIRN_TOP_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${CAIRN_TOP_BUILDDIR:=$CAIRN_TOP_SRCDIR}"
export CAIRN_TOP_SRCDIR CAIRN_TOP_BUILDDIR
export PATH="$CAIRN_TOP_BUILDDIR:$PATH"
CAIRN="$CAIRN_TOP_BUILDDIR/cairn"
CAIRN_LAUNCH="$CAIRN_TOP_BUILDDIR/cairn-launch"
export LC_ALL=C.UTF-8
umask 022

_tap_n=0
_tap_failed=0
_tap_tmproot=$(mktemp -d "${TMPDIR:-/tmp}/cairn-test.XXXXXX")
chmod 0755 "$_tap_tmproot"
# cairn run's approved launches (cli/run-record.h) stay in the test's tree
export CAIRN_RUN_RECORDS="$_tap_tmproot/run-records"
# ... and the containers it starts (bundles, the OCI runtime's state, logs)
export CAIRN_CONTAINERS="$_tap_tmproot/containers"
# Cleanup hooks registered by tests (run at exit, newest first). A case
# runs in a subshell, which does not inherit the EXIT trap and whose
# variables the script never sees: run_test gives it its own list and trap,
# so that what a case starts (a server, a registry) ends with the case.
_tap_cleanups=""
add_cleanup() { _tap_cleanups="$*
$_tap_cleanups"; }
_tap_run_cleanups() {
  local IFS='
'
  for c in $_tap_cleanups; do [ -n "$c" ] && eval "$c" >/dev/null 2>&1 || true; done
  _tap_cleanups=""
}
# Containers a test started through cairn run and never removed (a detached
# one that exited, or one a failed case left running) still own cgroups
# below cairn's parent: the runtime deletes each one found in the test's own
# state roots (only ours), which ends it and gives its cgroups back.
_tap_delete_containers() {
  [ -x "$CAIRN_LAUNCH" ] || return 0
  local st dir
  find "$_tap_tmproot" -maxdepth 7 -path '*/containers/runtime/*/state.json' 2>/dev/null |
    while read -r st; do
      dir=${st%/state.json}
      "$CAIRN_LAUNCH" --root "${dir%/*}" delete --force "${dir##*/}" >/dev/null 2>&1 || true
    done
}
_tap_exit() {
  _tap_run_cleanups
  _tap_delete_containers
  # Unmount anything still mounted below our temp root (only ours), then remove it.
  if [ -d "$_tap_tmproot" ]; then
    grep -o " $_tap_tmproot[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    chattr -R -i "$_tap_tmproot" 2>/dev/null || true
    rm -rf "$_tap_tmproot" 2>/dev/null || { chmod -R u+rwx "$_tap_tmproot" 2>/dev/null; rm -rf "$_tap_tmproot"; }
  fi
}
trap _tap_exit EXIT

# Diagnostics go to stdout as TAP comments.
info() { printf '# %s\n' "$*"; }
fatal() { printf '# FATAL: %s\n' "$*" >&2; exit 1; }

# skip "reason": ends the current case as skipped (or failed under MUST_RUN).
skip() {
  if [ "${CAIRN_TESTS_MUST_RUN:-0}" = 1 ]; then
    printf '# MUST_RUN: refusing to skip: %s\n' "$*" >&2
    exit 1
  fi
  printf '%s\n' "$*" > "$T/.skip"
  exit 0
}
# skip_unless "what is needed" CMD...: skip when CMD fails.
skip_unless() { local why=$1; shift; "$@" >/dev/null 2>&1 || skip "$why"; }
require_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
have() { command -v "$1" >/dev/null 2>&1; }
require_cmd() { for c in "$@"; do have "$c" || skip "needs $c"; done; }

# run_test NAME FUNC [ARGS...]: one TAP test point.
run_test() {
  local name=$1; shift
  # CAIRN_TEST_FILTER=REGEX: run only the cases whose name matches (while
  # working on one; the suite never sets it)
  if [ -n "${CAIRN_TEST_FILTER:-}" ] && ! [[ $name =~ $CAIRN_TEST_FILTER ]]; then return 0; fi
  # CAIRN_TEST_EXCLUDE=REGEX: leave out the matching cases (the sanitizer
  # stage does, for the ones whose cost is hashing gigabytes)
  if [ -n "${CAIRN_TEST_EXCLUDE:-}" ] && [[ $name =~ $CAIRN_TEST_EXCLUDE ]]; then return 0; fi
  _tap_n=$((_tap_n + 1))
  T="$_tap_tmproot/t$_tap_n"
  mkdir -p "$T"
  # Not `( ... ) || rc=$?`: bash ignores set -e in a subshell whose status
  # is tested, and a failing command in the middle of a test would go
  # unnoticed. The subshell runs unchecked, its status is read afterwards.
  local rc had_e=0 t0=$SECONDS
  case $- in *e*) had_e=1; set +e ;; esac
  # The ERR trap names the command that ended the test under set -e (only
  # at the test's own level: a command substitution has set -e off, and a
  # failure inside one ends nothing).
  ( cd "$T" || exit 1; set -eE; _tap_lvl=$BASH_SUBSHELL
    _tap_cleanups=""; trap "_tap_run_cleanups 2>/dev/null" EXIT
    trap '_tap_rc=$?; [ $BASH_SUBSHELL != $_tap_lvl ] ||
      echo "failed (status $_tap_rc): $BASH_COMMAND (${BASH_SOURCE[0]##*/}:$LINENO)" >&2' ERR
    "$@" ) > "$_tap_tmproot/out$_tap_n" 2>&1
  rc=$?
  [ $had_e = 0 ] || set -e
  if [ $rc = 0 ] && [ -f "$T/.skip" ]; then
    echo "ok $_tap_n - $name # SKIP $(cat "$T/.skip")"
  elif [ $rc = 0 ]; then
    echo "ok $_tap_n - $name"
  else
    echo "not ok $_tap_n - $name (exit $rc)"
    # every failed assertion and failing command first, wherever it is in
    # the output, then the output's end
    grep -E '^(assert|failed \(status)' "$_tap_tmproot/out$_tap_n" | sed 's/^/#   /'
    sed 's/^/#   /' "$_tap_tmproot/out$_tap_n" | tail -n 40
    _tap_failed=$((_tap_failed + 1))
  fi
  if [ "${CAIRN_TEST_VERBOSE:-0}" = 1 ]; then sed 's/^/# | /' "$_tap_tmproot/out$_tap_n"; fi
  # slow cases are named in the log (tests/run-suite.sh lists the slowest)
  [ $((SECONDS - t0)) -lt 5 ] || echo "# time: $((SECONDS - t0)) s: $name"
}

tests_done() {
  echo "# time: $SECONDS s in all"
  echo "1..$_tap_n"
  [ $_tap_failed = 0 ]
}

# ---- assertions (each prints what failed and exits non-zero) ----------------
assert_file_has_content() { grep -q -e "$2" "$1" || { echo "assert: '$1' lacks /$2/:"; head -c 2000 "$1"; exit 1; }; }
assert_not_file_has_content() { ! grep -q -e "$2" "$1" || { echo "assert: '$1' has /$2/"; exit 1; }; }
assert_streq() { [ "$1" = "$2" ] || { echo "assert: '$1' != '$2'"; exit 1; }; }
assert_not_streq() { [ "$1" != "$2" ] || { echo "assert: both are '$1'"; exit 1; }; }
assert_has_file() { [ -f "$1" ] || { echo "assert: no file $1"; exit 1; }; }
assert_has_dir() { [ -d "$1" ] || { echo "assert: no dir $1"; exit 1; }; }
assert_not_has_file() { [ ! -e "$1" ] && [ ! -L "$1" ] || { echo "assert: $1 exists"; exit 1; }; }
assert_symlink_has_content() { [ "$(readlink "$1")" = "$2" ] || { echo "assert: $1 -> '$(readlink "$1")' not '$2'"; exit 1; }; }
# assert_fails CMD...: CMD must exit non-zero (its stderr goes to $T/err).
assert_fails() { if "$@" 2>"$T/err" >"$T/out"; then echo "assert: succeeded: $*"; exit 1; fi; }
# assert_exit N CMD...: CMD must exit with status N.
assert_exit() { local want=$1 rc=0; shift; "$@" 2>"$T/err" >"$T/out" || rc=$?; [ $rc = "$want" ] || { echo "assert: '$*' exited $rc, want $want"; cat "$T/err"; exit 1; }; }

# ---- cairn helpers ----------------------------------------------------------
# The modes a repo body runs in; tests loop over them as ostree's suite does.
CAIRN_MODES="bare bare-user bare-user-only archive"
mode_possible() { [ "$1" != bare ] || [ "$(id -u)" = 0 ]; }
# user xattrs are needed for bare-user
have_user_xattrs() { local f; f=$(mktemp -p "${1:-$T}"); setfattr -n user.cairn-test -v 1 "$f" 2>/dev/null; local rc=$?; rm -f "$f"; return $rc; }

# make_busybox_tree DIR: a small rootfs for containers (static busybox and
# its applets, /etc/motd "from the mount", a root-only /etc/secret).
make_busybox_tree() {
  local d=$1 bb
  bb=$(command -v busybox) || skip "needs busybox"
  # every mount point cairn run uses is in the tree, so that its root is
  # the stored tree itself, not an overlay that makes the missing ones
  mkdir -p "$d/bin" "$d/proc" "$d/dev" "$d/sys" "$d/tmp" "$d/run" "$d/var/tmp" "$d/etc"
  : > "$d/etc/hosts"; : > "$d/etc/hostname"; : > "$d/etc/resolv.conf"
  cp "$bb" "$d/bin/busybox"
  for a in $("$d/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"; done
  echo 'from the mount' > "$d/etc/motd"
  echo 'root:x:0:0:root:/:/bin/sh' > "$d/etc/passwd"
  echo 'root:x:0:' > "$d/etc/group"
  printf 'mode 0600\n' > "$d/etc/secret"; chmod 0600 "$d/etc/secret"
}

# make_varied_tree DIR: the interop tree (nested/empty dirs, empty files,
# symlinks dangling/absolute, setuid and 0700 modes, xattrs, hardlinks,
# long and UTF-8 names).
make_varied_tree() {
  local d=$1
  mkdir -p "$d/a/b/c" "$d/emptydir" "$d/private" "$d/ünïcödé"
  printf 'hello\n' > "$d/hello.txt"
  printf '#!/bin/sh\necho hi\n' > "$d/a/run.sh"; chmod 0755 "$d/a/run.sh"
  : > "$d/a/b/empty"
  : > "$d/a/b/c/also-empty"
  head -c 300000 /dev/urandom > "$d/a/big.bin"
  printf 'suid\n' > "$d/suid"; chmod 04755 "$d/suid"
  printf 'secret\n' > "$d/private/key"; chmod 0600 "$d/private/key"; chmod 0700 "$d/private"
  ln -s hello.txt "$d/link"
  ln -s /nonexistent/absolute "$d/dangling-abs"
  ln -s ../../hello.txt "$d/a/b/rel-link"
  ln "$d/hello.txt" "$d/a/hardlink.txt"
  printf 'x\n' > "$d/ünïcödé/日本語.txt"
  printf 'long\n' > "$d/$(printf 'n%.0s' $(seq 1 200))"
  printf 'attrs\n' > "$d/withxattr"
  setfattr -n user.alpha -v "a" "$d/withxattr" 2>/dev/null || true
  setfattr -n user.zeta -v "z" "$d/withxattr" 2>/dev/null || true
  chmod 0755 "$d" "$d/a" "$d/a/b" "$d/a/b/c" "$d/emptydir" "$d/ünïcödé"
}
