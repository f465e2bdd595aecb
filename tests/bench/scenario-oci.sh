# tests/bench/scenario-oci.sh — cairn-launch as an OCI runtime against crun
# and runc, on the same bundle (busybox rootfs, /bin/true):
#   1. create + start + wait + delete, through the runc command line
#      (cairn-launch --root DIR create --bundle B --pid-file F ID; start;
#      wait for the container's pid to go; delete), same limits (memory
#      256 MiB, 128 pids, half a CPU, shares 512) and the same seccomp
#      policy (cairn-launch --print-seccomp-profile, which prints it in the
#      runtime-spec form) for every runtime. Targets: <= 0.5x crun,
#      <= 0.3x runc.
#   2. `podman run --rm IMAGE /bin/true` with --runtime cairn-launch,
#      crun and runc (podman's own work dominates). Target: <= 1.0x crun.
#   3. peak RSS of the runtime process during `create` (GNU time's maximum
#      resident set of the create command; the container's own process is
#      not waited by it and is not counted), max of 5 runs.
#
# Everything runs inside tests/oci-sandbox.sh (own cgroups, mount, net
# namespaces, fresh /run): crun 1.8 refuses this machine's hybrid cgroups
# at the host's root cgroup ("cgroups in hybrid mode not supported") but
# runs in the sandbox's cgroup namespace, whose cgroup2 root lists no
# controllers (docs/runtime-anchors.md §3). All three runtimes see the same.

scenario_oci() {
  local rt
  for rt in crun runc podman; do
    command -v $rt >/dev/null || { echo "bench: $rt not installed" >&2; return 1; }
  done
  local R; R=$(bench_busybox_rootfs)
  local W=$BENCH_WORK
  # lib.sh's busybox rootfs links bin/busybox to itself (the applet list
  # contains "busybox"): use a repaired copy, leave the cache alone.
  cp -a "$R" "$W/rootfs"; rm -f "$W/rootfs/bin/busybox"; cp /bin/busybox "$W/rootfs/bin/busybox"
  R=$W/rootfs
  "$CAIRN_LAUNCH" --print-seccomp-profile > "$W/seccomp.json"
  mkdir -p "$W/bundle"
  (cd "$W/bundle" && crun spec >/dev/null)
  python3 - "$W/bundle/config.json" "$R" "$W/seccomp.json" <<'PY'
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
c["linux"]["seccomp"] = json.load(open(sc))
# process.capabilities as `crun spec` wrote them: its ambient set without
# inheritable capabilities cannot be raised, and every runtime skips it
json.dump(c, open(path, "w"), indent=1)
PY
  # One container life through the runc command line: RUNTIME STATE-DIR.
  cat > "$W/cycle.sh" <<EOF
rt=\$1 root=\$2 id=b\$\$
\$rt --root "\$root" create --bundle "$W/bundle" --pid-file "$W/pid-\$id" "\$id" || exit 1
pid=\$(cat "$W/pid-\$id")
\$rt --root "\$root" start "\$id" || exit 1
# gone or a zombie: the orphaned container process is reaped by pid 1,
# which may take its time (2 s on this VM), not by the runtime
while read -r _ _ st _ < "/proc/\$pid/stat" && [ "\$st" != Z ]; do :; done 2>/dev/null
\$rt --root "\$root" delete "\$id" || exit 1
rm -f "$W/pid-\$id"
EOF
  python3 "$CAIRN_TOP_SRCDIR/tests/make-docker-archive.py" "$R" localhost/bench-busybox:1 "$W/image.tar"
  local pm; pm=$(bench_podman "$W/podman")

  cat > "$W/in-sandbox.sh" <<EOF
set -e
. "$BENCH_DIR/lib.sh"
$pm load -i "$W/image.tar" >/dev/null 2>&1
# warm-up outside the timing: cairn-launch's seccomp cache, page cache
sh "$W/cycle.sh" "$CAIRN_LAUNCH" /run/bench-cairn
bench_compare "oci: create+start+wait+delete, busybox /bin/true, limits mem+pids+cpu, cairn's seccomp policy" --warmup 3 \\
  --target 'crun<=0.5' --target 'runc<=0.3' \\
  cairn-launch="sh $W/cycle.sh $CAIRN_LAUNCH /run/bench-cairn" \\
  crun="sh $W/cycle.sh crun /run/bench-crun" \\
  runc="sh $W/cycle.sh runc /run/bench-runc"
BENCH_RUNS=\${BENCH_RUNS_PODMAN:-$BENCH_RUNS} bench_compare "oci: podman run --rm busybox /bin/true (--runtime)" --warmup 2 \\
  --target 'crun<=1.0' \\
  cairn-launch="$pm --runtime $CAIRN_LAUNCH run --rm localhost/bench-busybox:1 /bin/true" \\
  crun="$pm --runtime \$(command -v crun) run --rm localhost/bench-busybox:1 /bin/true" \\
  runc="$pm --runtime \$(command -v runc) run --rm localhost/bench-busybox:1 /bin/true"
echo "== oci: peak RSS of the runtime during create (KiB, max of 5 runs)"
for rt in "$CAIRN_LAUNCH" crun runc; do
  max=0
  for i in 1 2 3 4 5; do
    /usr/bin/time -f %M -o "$W/rss" \$rt --root /run/bench-rss create --bundle "$W/bundle" rss\$i >/dev/null 2>&1 || { echo "bench: \$rt create failed" >&2; exit 1; }
    \$rt --root /run/bench-rss delete -f rss\$i >/dev/null 2>&1 || true
    v=\$(tail -n 1 "$W/rss"); [ "\$v" -gt "\$max" ] && max=\$v
  done
  printf '  %-14s %8s KiB\n' "\$(basename "\$rt")" "\$max"
  echo "{\"label\": \"oci: peak RSS during create\", \"runtime\": \"\$(basename "\$rt")\", \"kib\": \$max}" >> "\$BENCH_RESULTS"
done
EOF
  BENCH_RESULTS=$BENCH_RESULTS BENCH_RUNS=${BENCH_RUNS_OCI:-$((BENCH_RUNS < 20 ? 20 : BENCH_RUNS))} \
    CAIRN_TOP_SRCDIR=$CAIRN_TOP_SRCDIR CAIRN_TOP_BUILDDIR=$CAIRN_TOP_BUILDDIR CAIRN_LAUNCH=$CAIRN_LAUNCH \
    "$CAIRN_TOP_SRCDIR/tests/oci-sandbox.sh" bash "$W/in-sandbox.sh"
}
