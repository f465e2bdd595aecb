#!/bin/bash
# tests/ci/clean-root.sh: run `.ci/run` (or another command) on a clean
# Debian 12 root, so that CI is proven to install everything it needs: a
# debootstrap minbase with nothing in it but what `.ci/run` installs itself
# (`./dev.sh test` apt-installs every dependency, dev.sh's *_DEPS).
#
# How: the base (a `debootstrap --variant=minbase bookworm`, made once and
# never modified) is copied to a fresh work root; a `git clone` of this
# checkout's committed HEAD goes to /check/cairn in it. In a mount namespace
# of its own (nothing reaches the host's mount table) the work root gets
# the mounts a booted host has (proc, sysfs with the host's cgroup
# hierarchies bound recursively, /dev with a new devpts and /dev/shm,
# tmpfs /run; /tmp on the root's own disk) and becomes the root with pivot_root, not chroot:
# the runtime's tests pivot_root themselves and check the mount table. The
# command runs there as root with a clean environment after
# `apt-get install git ca-certificates`.
#
# Usage (root, on Debian 12):
#   tests/ci/clean-root.sh [--root DIR] [--keep] [-- CMD...]
#   ./dev.sh cleanroot [-- CMD...]
# Without CMD it runs `cd /check/cairn && time bash .ci/run` (about 22
# minutes on 2 CPUs); CMD runs after the apt-get, under / of the clean root.
#   --root DIR   the work root (default /var/tmp/cairn-ci-root), removed
#                first (only when an earlier run of this script made it)
#   --keep       keep the work root after the run (removed by default)
# Environment:
#   CAIRN_CLEAN_ROOT=DIR  the Debian 12 minbase to copy, never modified
#                         (default /work/cleanroot where it has /bin/sh, else
#                         /var/tmp/cairn-clean-root, made with debootstrap
#                         the first time; debootstrap is apt-installed)
#   CAIRN_CI_TMP=tmpfs    /tmp as a tmpfs instead of a directory of the work
#                         root (the default: the root's own file system, as
#                         Debian 12 and this host have it); see the note at
#                         the mounts
# The output goes to the terminal and to DIR/../cairn-ci-root.log
# (/var/tmp/cairn-ci-root.log by default). Uncommitted changes are NOT
# tested: the source is a clone of HEAD (commit first). The exit status is
# the command's (or apt-get's, or this script's own errors').
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
self="$top/tests/ci/clean-root.sh"
mirror=http://deb.debian.org/debian

say() { printf 'clean-root: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() {
  echo "usage: $0 [--root DIR] [--keep] [-- CMD...]" >&2
  echo "       $0 --make-base    (make the base if missing, print its path)" >&2
  exit "${1:-2}"
}

args=("$@")
work=/var/tmp/cairn-ci-root
keep=0 make_base=0
while [ $# -gt 0 ]; do
  case $1 in
    --make-base) make_base=1; shift ;;
    --root) [ $# -ge 2 ] || usage; work=$2; shift 2 ;;
    --root=*) work=${1#--root=}; shift ;;
    --keep) keep=1; shift ;;
    --) shift; break ;;
    -h|--help) usage 0 ;;
    *) usage ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, mounts, pivot_root)"
work=$(realpath -m "$work")
case $work in /|/bin|/boot|/dev|/etc|/home|/lib*|/proc|/root|/run|/sbin|/sys|/tmp|/usr|/var|/var/tmp|/work)
  die "--root $work: not a directory to remove" ;;
esac
log="$(dirname "$work")/cairn-ci-root.log"

# Everything below goes to the terminal and to the log: run again with the
# output through tee (tee -i: a ^C ends this script's run, whose cleanup
# still writes to the log, not the tee). --make-base (tests/vm/i386-tcg.sh)
# only makes the base and prints its path.
if [ -z "${_CAIRN_CLEAN_ROOT_LOG:-}" ] && [ "$make_base" = 0 ]; then
  mkdir -p "$(dirname "$log")"
  rc=0
  _CAIRN_CLEAN_ROOT_LOG=$log bash "$self" "${args[@]}" 2>&1 | tee -i "$log" || rc=${PIPESTATUS[0]}
  exit "$rc"
fi
[ "$make_base" = 1 ] || say "log: $log"

for c in unshare pivot_root mount umount findmnt git cp stat; do
  command -v "$c" >/dev/null || die "$c not found (util-linux, mount, git)"
done

# 1. the base: a Debian 12 minbase, made once, then only read
base=${CAIRN_CLEAN_ROOT:-}
if [ -z "$base" ]; then
  if [ -x /work/cleanroot/bin/sh ]; then base=/work/cleanroot; else base=/var/tmp/cairn-clean-root; fi
fi
base=$(realpath -m "$base")
case $work/ in "$base"/*) die "the work root $work is inside the base $base" ;; esac
case $base/ in "$work"/*) die "the base $base is inside the work root $work" ;; esac
if [ ! -x "$base/bin/sh" ]; then
  [ ! -e "$base" ] || [ -z "$(ls -A "$base")" ] ||
    die "$base is not empty and has no /bin/sh: not a Debian root (set CAIRN_CLEAN_ROOT)"
  if ! command -v debootstrap >/dev/null; then
    say "apt-get install debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # made in a side directory: an interrupted debootstrap leaves no base
  say "debootstrap --variant=minbase bookworm $base $mirror (a few minutes)"
  rm -rf "$base.partial"
  t0=$SECONDS
  debootstrap --variant=minbase bookworm "$base.partial" "$mirror"
  rmdir "$base" 2>/dev/null || true
  mv "$base.partial" "$base"
  say "debootstrap took $((SECONDS - t0)) s"
fi
say "base: $base (Debian $(cat "$base/etc/debian_version"))"
if [ "$make_base" = 1 ]; then
  echo "$base"
  exit 0
fi

# 2. the work root: a copy of the base, the clone, the resolver
stamp=.cairn-ci-root
if [ -e "$work" ]; then
  [ -f "$work/$stamp" ] || [ -z "$(ls -A "$work")" ] ||
    die "$work exists and was not made by this script (no /$stamp): remove it yourself"
  [ -z "$(findmnt -rn -o TARGET | awk -v w="$work" '$0 == w || index($0, w "/") == 1')" ] ||
    die "something is mounted below $work on the host"
  say "removing the previous work root $work"
  rm -rf --one-file-system "$work"
fi

# The processes left in the work root once the command is done (a daemon a
# test started): those whose root directory is the work root itself.
# shellcheck disable=SC2317 # leftovers and cleanup run from the EXIT trap
leftovers() {
  local id p
  id=$(stat -c %d:%i "$work")
  for p in /proc/[0-9]*; do
    [ "$(stat -L -c %d:%i "$p/root" 2>/dev/null)" != "$id" ] || echo "${p#/proc/}"
  done
}
# cleanup: end the leftovers, remove the work root unless --keep.
# shellcheck disable=SC2317
cleanup() {
  local rc=$? pids
  trap - EXIT INT TERM
  # shellcheck disable=SC2086 # one word per pid
  for _ in 1 2 3 4 5; do
    pids=$(leftovers)
    [ -n "$pids" ] || break
    say "killing what is left in the work root: pids" $pids
    kill -9 $pids 2>/dev/null || true
    sleep 1
  done
  if [ "$keep" = 1 ]; then
    say "kept the work root $work"
  else
    say "removing the work root $work"
    rm -rf --one-file-system "$work" 2>/dev/null ||
      { chattr -R -i "$work" 2>/dev/null; rm -rf --one-file-system "$work"; } ||
      say "could not remove $work"
  fi
  say "exit status $rc; log: $log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "copying the base to the work root $work"
cp -a "$base" "$work"
touch "$work/$stamp"
git clone -q --no-local "$top" "$work/check/cairn"
say "source: /check/cairn is $(git -C "$work/check/cairn" log -1 --format='%h %s')"
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
  say "note: $top has uncommitted changes; they are not tested"
# a symlink in the copy must not send the copy to a host path
rm -f "$work/etc/resolv.conf"
cp /etc/resolv.conf "$work/etc/resolv.conf"

# 3. the command, in the clean root
# shellcheck disable=SC2016 # expanded by the clean root's bash
if [ $# -gt 0 ]; then
  script='apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y git ca-certificates && "$@"'
  say "command: $*"
else
  script='apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y git ca-certificates && cd /check/cairn && time bash .ci/run'
  set -- # no arguments for the script
  say "command: cd /check/cairn && time bash .ci/run"
fi
tmp_mount="the work root's own directory (CAIRN_CI_TMP=tmpfs for a tmpfs)"
[ "${CAIRN_CI_TMP:-disk}" != tmpfs ] || tmp_mount="tmpfs"
say "mounts: proc, sysfs, /sys/fs/cgroup (the host's, recursively), /dev (the host's)
  with a new devpts and a tmpfs /dev/shm, tmpfs /run, /tmp: $tmp_mount; then pivot_root"

# The mounts follow the host's (this machine: no nosuid/nodev on /proc,
# /sys, /dev/shm or /tmp). /dev is a bind of the host's devtmpfs, so loop
# devices (/dev/loop-control makes new ones), /dev/fuse and /dev/net/tun
# are there; a new devpts instance (its own ptmx, which /dev/ptmx finds
# next to it) keeps the host's terminals out. /sys/fs/cgroup is bound with
# every hierarchy below it, so the layout is the host's (hybrid here: v1
# hierarchies plus cgroup2 at unified/, what tests/oci-sandbox.sh and
# tests/host-facts.sh read from /proc/self/mounts) and /proc/self/cgroup's
# paths resolve. /tmp stays on disk by default: on a tmpfs a repository's
# EROFS image cannot be mounted file-backed and goes through a loop device
# (t_tmpfs_repo in tests/test-kmount.sh), a path the host's runs (ext4 /tmp,
# as on Debian 12) do not take.
# shellcheck disable=SC2016 # expanded by the namespace's bash
inner='
set -euo pipefail
r=$1 tmp=$2 script=$3; shift 3
mount --bind "$r" "$r"
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount --rbind /sys/fs/cgroup "$r/sys/fs/cgroup"
mount --bind /dev "$r/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$r/dev/pts"
mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mkdir -m 1777 "$r/run/lock"
if [ "$tmp" = disk ]; then chmod 1777 "$r/tmp"; else mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"; fi
cd "$r"
# the old root goes on top of the new one, and is then detached from it
pivot_root . .
umount -l .
cd /
exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
  /bin/bash -c "$script" bash "$@"'
t0=$SECONDS
rc=0
unshare -m --propagation private -- bash -c "$inner" clean-root-ns "$work" "${CAIRN_CI_TMP:-disk}" "$script" "$@" || rc=$?
say "the command ended with status $rc after $((SECONDS - t0)) s"
exit "$rc"
