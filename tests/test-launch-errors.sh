#!/bin/bash
# cairn-launch's error paths: every refusal is one clear line naming what
# was wrong, exit status 125 (126/127 for the command), nothing printed from
# freed or uninitialised memory. The sanitizer build runs this same file
# against tests/cairn-launch-asan (the launcher built with ASan and UBSan,
# tests/run-sanitizers.sh); the ordinary build against cairn-launch.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later

. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/launch-lib.sh"

L="$CAIRN_LAUNCH"
if [ -x "$CAIRN_TOP_BUILDDIR/tests/cairn-launch-asan" ]; then
  L="$CAIRN_TOP_BUILDDIR/tests/cairn-launch-asan"
  # No leak check: the launcher allocates its configuration once and exits
  # (memory it never frees is returned with the process), and the container
  # child exits through _exit. Every read and write is checked.
  export ASAN_OPTIONS="abort_on_error=0:exitcode=99:detect_leaks=0"
fi
[ -x "$L" ] || fatal "no $L"
# as another user (as_user resets the environment)
LU="env ASAN_OPTIONS=${ASAN_OPTIONS:-} $L"
[ -x "$PROBE" ] || fatal "no $PROBE (make tests/launch-probe)"
setup_launch_user
echo "# launcher under test: $L"

# refused L ARGS...: exit 125, one line on stderr that matches $want, and
# only printable bytes (a message from freed memory shows as garbage).
refused() {
  local want=$1 rc=0; shift
  "$@" > out 2> err || rc=$?
  [ $rc = 125 ] || { echo "assert: '$*' exited $rc, want 125"; cat err; exit 1; }
  assert_file_has_content err "$want"
  if LC_ALL=C grep -q '[^[:print:][:space:]]' err; then echo "assert: unprintable: $(cat -v err)"; exit 1; fi
  if grep -q 'Sanitizer\|runtime error:' err; then cat err; exit 1; fi
  [ "$(grep -cv '^$' err)" = 1 ] || { echo "assert: more than one line:"; cat err; exit 1; }
}

t_options() {
  make_rootfs r
  refused "unknown option or missing argument: '--frobnicate'" "$L" --frobnicate r /bin/true
  refused "missing ROOTFS" "$L"
  refused "missing CMD" "$L" r
  refused "invalid --memory .*'lots'" "$L" --memory=lots r /bin/true
  refused "invalid --pids .*'-3'" "$L" --pids=-3 r /bin/true
  refused "unknown capability: 'NOT_A_CAP'" "$L" --cap-add=NOT_A_CAP r /bin/true
  refused "--net must be .*'carrier-pigeon'" "$L" --net=carrier-pigeon r /bin/true
  refused "no profile to print with --seccomp=unconfined" "$L" --seccomp=unconfined --print-seccomp-profile
  refused "no filter to print with --seccomp=unconfined" "$L" --seccomp=unconfined --print-seccomp-bpf
}

t_rootfs() {
  require_root
  make_rootfs r
  refused "(nowhere)" "$L" nowhere /bin/true
  touch afile
  refused "(afile)" "$L" afile /bin/true
  rmdir r/proc
  refused "(proc)" "$L" r /bin/true
}

t_seccomp_profiles() {
  require_root
  make_rootfs r
  refused "seccomp profile: cannot open (.*missing.json): No such file" "$L" --seccomp="$T/missing.json" r /bin/true
  echo '{ "defaultAction": ' > bad.json
  refused "seccomp profile: invalid JSON (.* at byte [0-9]*) (.*bad.json)" "$L" --seccomp="$T/bad.json" r /bin/true
  echo '{ "defaultAction": "SCMP_ACT_EXPLODE" }' > act.json
  refused "unsupported action (SCMP_ACT_EXPLODE)" "$L" --seccomp="$T/act.json" r /bin/true
  head -c 20000000 /dev/zero | tr '\0' ' ' > big.json
  refused "seccomp profile: file too large (.*big.json)" "$L" --seccomp="$T/big.json" r /bin/true
}

t_binds() {
  require_root
  make_rootfs r
  refused "(/nonexistent-source-$$)" "$L" --bind=/nonexistent-source-$$:/mnt r /bin/true
  refused "--bind needs SRC:DST.*'/tmp'" "$L" --bind=/tmp r /bin/true
}

t_command() {
  require_root
  make_rootfs r
  local rc=0
  "$L" r /bin/no-such-command 2> err || rc=$?
  assert_streq "$rc" 127
  assert_file_has_content err "no-such-command"
  printf 'not a program' > r/bin/notexec; chmod 0644 r/bin/notexec
  rc=0; "$L" r /bin/notexec 2> err || rc=$?
  assert_streq "$rc" 126
  assert_file_has_content err "notexec"
}

# The rootless cgroup refusal named a directory it had already freed (it
# printed bytes of freed memory); the message must name it.
t_rootless_limits() {
  require_user
  make_rootfs r
  local d; d=$(mktemp -d); cp -a r "$d/"; chmod 0755 "$d"
  refused "delegat.* (/sys/fs/cgroup/[a-z_,/]*cairn): " as_user $LU --seccomp-cache=none --memory=64M "$d/r" /bin/true
  refused "delegat.* (/sys/fs/cgroup/[a-z_,/]*cairn): " as_user $LU --seccomp-cache=none --pids=10 "$d/r" /bin/true
  rm -rf "$d"
}

# A host /dev/null that is not the null device is never mounted over the
# container's masked paths; /dev/zero replaced is refused for the rootless
# /dev too. Each case swaps the node in a mount namespace of its own.
t_host_dev_nodes() {
  require_root
  make_rootfs r
  echo "not null" > fake
  refused "(/dev/null): No such device" unshare -m sh -c "mount --bind $T/fake /dev/null && exec $L $T/r /bin/true"
  refused "(/dev/null): No such device" unshare -m sh -c "mount --bind /dev/zero /dev/null && exec $L $T/r /bin/true"
  require_user
  local d; d=$(mktemp -d); cp -a r "$d/"; chmod 0755 "$d"
  refused "(/dev/zero): No such device" unshare -m sh -c \
    "mount --bind /dev/full /dev/zero && exec setpriv --reuid=$LAUNCH_UID --regid=$LAUNCH_GID --clear-groups -- $LU --seccomp-cache=none $d/r /bin/true"
  rm -rf "$d"
  # the real ones work (--no-init: the launcher's own pid 1 confines itself
  # with a seccomp allow-list that the sanitizers' runtime does not fit)
  "$L" --no-init r /bin/true
}

run_test "options: unknown, missing, malformed values" t_options
run_test "rootfs: missing, not a directory, without /proc" t_rootfs
run_test "seccomp profiles: missing, invalid JSON, unknown action, too large" t_seccomp_profiles
run_test "binds: missing source, malformed" t_binds
run_test "command not found (127) and not executable (126)" t_command
run_test "rootless limits without delegation name the cgroup directory" t_rootless_limits
run_test "a host /dev/null or /dev/zero that is not the device is refused" t_host_dev_nodes
tests_done
