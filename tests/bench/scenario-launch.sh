# tests/bench/scenario-launch.sh — container start-to-exit, busybox rootfs,
# /bin/true: cairn-launch with full default confinement against bwrap and
# crun (docs/runtime-anchors.md §7).
#
# crun 1.8 refuses this machine's hybrid cgroups while cgroup2 lists a
# controller; the workaround of §7.2 is used: every command of the scenario
# (cairn and bwrap too, for fairness) runs inside one private mount namespace
# in which an empty file is bind-mounted over
# /sys/fs/cgroup/unified/cgroup.controllers.  The host is not modified.
#
# "floor" is a reference without any confinement beyond the namespaces:
# `unshare` + `chroot` + /bin/true (no /proc, /dev, limits, seccomp or cap
# changes). No goal applies to it; it shows how much of a start is the
# kernel's namespace and process work that every runtime pays.
#
# Limits everywhere: memory 256 MiB, 128 pids, half a CPU, and CPU shares 512
# (crun) ~ --cpu-weight=20 (cairn: weight 20 -> shares 500).

_launch_bundle() {   # DIR ROOTFS [SECCOMP_JSON]
  local dir=$1 rootfs=$2 sc=${3:-}
  mkdir -p "$dir"
  ( cd "$dir" && crun spec >/dev/null )
  python3 - "$dir/config.json" "$rootfs" "$sc" <<'PY'
import json, sys
path, rootfs, sc = sys.argv[1:4]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
ns = c["linux"]["namespaces"]
if not any(n["type"] == "cgroup" for n in ns):
    ns.append({"type": "cgroup"})
c["linux"]["resources"] = {
    "memory": {"limit": 256 * 1024 * 1024},
    "pids": {"limit": 128},
    "cpu": {"quota": 50000, "period": 100000, "shares": 512},
}
if sc:
    c["linux"]["seccomp"] = json.load(open(sc))
json.dump(c, open(path, "w"), indent=1)
PY
}

scenario_launch() {
  command -v crun >/dev/null || { echo "bench: crun not installed" >&2; return 1; }
  command -v bwrap >/dev/null || { echo "bench: bwrap not installed" >&2; return 1; }
  local R; R=$(bench_busybox_rootfs)
  local W=$BENCH_WORK
  # lib.sh's loop over `busybox --list` also links bin/busybox to itself
  # (the list contains "busybox"): use a repaired copy, leave the cache alone.
  if [ -L "$R/bin/busybox" ]; then
    cp -a "$R" "$W/rootfs"; rm "$W/rootfs/bin/busybox"; cp /bin/busybox "$W/rootfs/bin/busybox"
    R=$W/rootfs
  fi
  "$CAIRN_LAUNCH" --print-seccomp-profile > "$W/cairn-seccomp.json"
  _launch_bundle "$W/crun-limits" "$R"
  _launch_bundle "$W/crun-limits-seccomp" "$R" "$W/cairn-seccomp.json"
  : > "$W/empty"
  # warm cairn's seccomp BPF cache once (a start never compiles after that)
  "$CAIRN_LAUNCH" "$R" /bin/true
  cat > "$W/in-ns.sh" <<EOF
set -e
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
  mount --bind "$W/empty" /sys/fs/cgroup/unified/cgroup.controllers
fi
. "$BENCH_DIR/lib.sh"
bench_compare "launch: start-to-exit, busybox /bin/true, limits mem+pids+cpu" --warmup 5 \\
  --target 'bwrap<=1.0' --target 'crun-limits<=0.5' --target 'crun-limits-seccomp<=0.3' \\
  cairn="$CAIRN_LAUNCH --memory=256M --pids=128 --cpus=0.5 --cpu-weight=20 $R /bin/true" \\
  bwrap="bwrap --unshare-all --die-with-parent --ro-bind $R / --proc /proc --dev /dev /bin/true" \\
  crun-limits="crun run -b $W/crun-limits cb\\\$\\\$ >/dev/null" \\
  crun-limits-seccomp="crun run -b $W/crun-limits-seccomp cs\\\$\\\$ >/dev/null" \\
  floor="unshare -m -p -n -u -i -f chroot $R /bin/true"
EOF
  BENCH_RESULTS=$BENCH_RESULTS BENCH_RUNS=${BENCH_RUNS_LAUNCH:-$((BENCH_RUNS < 30 ? 30 : BENCH_RUNS))} \
    CAIRN_TOP_SRCDIR=$CAIRN_TOP_SRCDIR CAIRN_TOP_BUILDDIR=$CAIRN_TOP_BUILDDIR \
    unshare -m --propagation private bash "$W/in-ns.sh"
}
