# tests/launch-lib.sh — helpers for the cairn-launch security suite (sourced
# by tests/test-launch*.sh after tests/libtest.sh).
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later

PROBE="$CAIRN_TOP_BUILDDIR/tests/launch-probe"

# make_rootfs DIR: static busybox + the static probe + empty mount points.
make_rootfs() {
  local r=$1 a
  mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/sys" "$r/tmp" "$r/etc" "$r/mnt"
  cp /bin/busybox "$r/bin/busybox"
  for a in sh ls cat echo true false id hostname ip mount sleep ps grep wc stat test kill touch mkdir; do
    ln -sf busybox "$r/bin/$a"
  done
  cp "$PROBE" "$r/bin/probe"
  chmod -R a+rX "$r"
}

# kv FILE KEY: the value of KEY=... printed by the probe.
kv() { sed -n "s|^$2=||p" "$1" | head -n 1; }
assert_kv() {
  local got; got=$(kv "$1" "$2")
  [ "$got" = "$3" ] || { echo "assert: $2='$got', want '$3'"; cat "$1"; exit 1; }
}
# assert_kv_in FILE KEY V1 V2...: the value is one of the Vs.
assert_kv_in() {
  local f=$1 k=$2 got; shift 2; got=$(kv "$f" "$k")
  for v in "$@"; do [ "$got" = "$v" ] && return 0; done
  echo "assert: $k='$got', want one of: $*"; cat "$f"; exit 1
}

# Rootless: a throwaway unprivileged user, created once per script.
LAUNCH_USER=""
setup_launch_user() {
  [ "$(id -u)" = 0 ] || return 0
  LAUNCH_USER="cairnlt$$"
  useradd -M -d /nonexistent -s /bin/false "$LAUNCH_USER" >/dev/null 2>&1 || { LAUNCH_USER=""; return 0; }
  add_cleanup "userdel $LAUNCH_USER"
  LAUNCH_UID=$(id -u "$LAUNCH_USER"); LAUNCH_GID=$(id -g "$LAUNCH_USER")
  export LAUNCH_USER LAUNCH_UID LAUNCH_GID
}
# as_user CMD...: run CMD as the throwaway user (skips when impossible).
as_user() {
  setpriv --reuid="$LAUNCH_UID" --regid="$LAUNCH_GID" --clear-groups --reset-env -- "$@"
}
require_user() {
  [ -n "$LAUNCH_USER" ] || skip "cannot create an unprivileged user (needs root and useradd)"
  as_user "$CAIRN_LAUNCH" --help >/dev/null 2>&1 || skip "the build dir is not readable by $LAUNCH_USER"
}

# Cgroup directories of launcher pid $1 (all hierarchies).
launcher_cgroups() {
  ls -d /sys/fs/cgroup/*/cairn/c"$1"-* /sys/fs/cgroup/cairn/c"$1"-* 2>/dev/null || true
}
# wait_for FILE PATTERN [TENTHS]: poll until FILE has PATTERN.
wait_for() {
  local i=0
  while ! grep -q -e "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -le "${3:-100}" ] || { echo "timeout waiting for /$2/ in $1"; cat "$1"; return 1; }
    sleep 0.1
  done
}
