#!/bin/bash
# tests/oci-sandbox.sh CMD [ARGS...] — run CMD (as root) in a sandbox where
# the OCI engines and runtimes under test can create cgroups, mounts and
# network devices as they like without touching the host's:
#
#   - one cgroup per hierarchy, named cairn-oci-<pid>-<random>, created below
#     this process's own cgroup in every v1 hierarchy and in the cgroup2 one
#     (cpuset: cpus and mems copied from the parent, which v1 requires before
#     a task can join); this process moves into them;
#   - then a new cgroup namespace (its root is that cgroup), mount namespace
#     (private propagation) and network namespace (loopback up), in which
#     /sys/fs/cgroup is a fresh tmpfs with every hierarchy mounted again, so
#     that "/" in a cgroupsPath (the runtime-tools validation uses the
#     absolute path /cgrouptest; containerd /default/<id>; podman
#     /libpod_parent) is the sandbox's cgroup; /run is a fresh tmpfs (runc,
#     crun and cairn-launch keep their default state there; podman and
#     containerd sockets too);
#   - when CMD is done, every process still in the sandbox's cgroups (only
#     processes CMD started can be there) is killed by pid, and the cgroup
#     tree is removed deepest first.
#
# The layout inside keeps the host's kind: v1 hierarchies plus cgroup2 at
# unified/ on a hybrid host. One difference is unavoidable: the cgroup2
# root of the namespace is a child of a cgroup of ours, so its
# cgroup.controllers is empty, not the controllers of the real root
# (hugetlb here); see docs/runtime-anchors.md §3 and §7.2 for why that
# matters to crun, which refuses a hybrid host whose cgroup2 lists any.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

if [ "${1:-}" = --inner ]; then
  shift
  # Inside the namespaces: remount the cgroup hierarchies, /run, lo up.
  mounts=$1; shift
  mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup_root /sys/fs/cgroup
  while read -r mp type opts; do
    mkdir -p "$mp"
    if [ "$type" = cgroup2 ]; then
      mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$mp"
    else
      mount -t cgroup -o "nosuid,nodev,noexec,$opts" cgroup "$mp"
    fi
  done < "$mounts"
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
  mkdir -p /run/lock /run/user
  ip link set lo up
  export OCI_SANDBOXED=1
  exec "$@"
fi

[ "$(id -u)" = 0 ] || { echo "oci-sandbox: needs root" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

name="cairn-oci-$$-$RANDOM"
state=$(mktemp -d "${TMPDIR:-/tmp}/cairn-oci-sandbox.XXXXXX")
dirs=()

# The cgroup hierarchies, one "MOUNTPOINT TYPE CONTROLLERS" line each
# (CONTROLLERS as /proc/self/cgroup names them: "memory", "name=systemd";
# "none" for cgroup2).
awk '$3 == "cgroup" || $3 == "cgroup2" {
       n = split($4, o, ","); s = "";
       for (i = 1; i <= n; i++)
         if ($3 == "cgroup" && o[i] !~ /^(rw|ro|relatime|noatime|nosuid|nodev|noexec|seclabel|xattr|clone_children|noprefix|cpuset_v2_mode|release_agent=.*)$/)
           s = s (s ? "," : "") o[i];
       print $2, $3, (s ? s : "none") }' /proc/self/mounts > "$state/mounts"

# own_path TYPE CONTROLLERS: this process's cgroup in that hierarchy.
own_path() {
  if [ "$1" = cgroup2 ]; then
    sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup
  else
    awk -F: -v c="$2" '$1 != "0" && $2 == c { sub(/^[^:]*:[^:]*:/, ""); print; exit }' /proc/self/cgroup
  fi
}

cleanup() {
  local i d p pids mp type opts parent
  # Leave our cgroups first, so that only what CMD started is left in them.
  while read -r mp type opts; do
    parent=$(own_path "$type" "$opts")
    parent=${parent%/sandbox}
    echo $$ > "$mp${parent%/$name}/cgroup.procs" 2>/dev/null || true
  done < "$state/mounts"
  # Kill what is left, by pid, until every cgroup of ours is empty.
  for i in $(seq 1 50); do
    pids=$(for d in "${dirs[@]}"; do [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} +; done 2>/dev/null | sort -u)
    [ -z "$pids" ] && break
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    # a frozen cgroup (pause) holds its tasks: thaw it so SIGKILL lands
    for d in "${dirs[@]}"; do
      [ -d "$d" ] && find "$d" -name freezer.state -exec sh -c 'for f; do echo THAWED > "$f"; done' sh {} + 2>/dev/null
    done
    sleep 0.1
  done
  for d in "${dirs[@]}"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] && echo "oci-sandbox: could not remove cgroup $d" >&2
  done
  rm -rf "$state"
}
trap cleanup EXIT

while read -r mp type opts; do
  parent=$(own_path "$type" "$opts")
  d="$mp${parent%/}/$name"
  mkdir "$d"
  dirs+=("$d")
  if [ -f "$d/cpuset.cpus" ]; then
    cat "$mp${parent%/}/cpuset.cpus" > "$d/cpuset.cpus"
    cat "$mp${parent%/}/cpuset.mems" > "$d/cpuset.mems"
  fi
  # cgroup2: one level more, so that the namespace's root lists the
  # controllers of OUR cgroup.subtree_control (none), whatever the host
  # enables in its root's (a runtime on the host may add hugetlb there).
  # OCI_SANDBOX_CGROUP2_CONTROLLERS="hugetlb ..." enables those in our
  # cgroup2 level, so that the namespace's root lists them (the host's
  # view on this machine, which crun refuses): possible only for
  # controllers the host's root already enables for its children.
  if [ "$type" = cgroup2 ]; then
    mkdir "$d/sandbox"
    for c in ${OCI_SANDBOX_CGROUP2_CONTROLLERS:-}; do echo "+$c" > "$d/cgroup.subtree_control"; done
    d=$d/sandbox
  fi
  echo $$ > "$d/cgroup.procs"
done < "$state/mounts"

# In the background, so that a TERM or INT to this script reaches CMD (and
# the cleanup runs after it) instead of waiting for it.
unshare --cgroup --mount --net --propagation private -- "$0" --inner "$state/mounts" "$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
rc=0
while :; do
  wait $child && rc=0 || rc=$?
  kill -0 $child 2>/dev/null || break
done
exit $rc
