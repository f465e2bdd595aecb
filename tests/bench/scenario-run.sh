# cairn run: warm start (--rm, no network; the other defaults as they are)
# vs cairn-launch on the same directory (busybox); cold start on Debian
# minbase vs the Flatpak-style ostree checkout + bwrap; exec into a detached
# container vs podman exec; --net=pasta vs podman run --network=pasta.
scenario_run() {
  local B; B=$(bench_busybox_rootfs) || return 1
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK
  export CAIRN_CONTAINERS=$W/containers CAIRN_RUN_RECORDS=$W/run-records
  $CAIRN --repo=$W/r init >/dev/null
  $CAIRN --repo=$W/r commit -b busybox $B >/dev/null
  # the warm start with the containers' directory on a tmpfs, as cairn's
  # default for root (/run/cairn/containers) is on Debian 12, in a mount
  # namespace of its own; then on this machine's disk, for comparison
  mkdir -p $W/containers
  BENCH_WORK=$W BENCH_RESULTS=$BENCH_RESULTS \
    unshare -m --propagation private bash -c '. "$1/lib.sh"; . "$1/scenario-run.sh"; scenario_run_warm tmpfs' \
    _ "$BENCH_DIR"
  scenario_run_warm disk
  export CAIRN_CONTAINERS=$W/containers CAIRN_RUN_RECORDS=$W/run-records
  scenario_run_podman "$B"
  $CAIRN --repo=$W/r commit -b debian $R >/dev/null
  ostree --repo=$W/r refs >/dev/null
  # --net=private: loopback only, as bwrap --unshare-all gives
  bench_compare "cold start on Debian minbase (no cached checkout)" \
    --prepare "rm -rf $W/r/extensions/cairn/checkouts $W/oco" --target "ostree+bwrap<=0.7" \
    cairn="$CAIRN --repo=$W/r run --rm --net=private debian /bin/true" \
    ostree+bwrap="ostree --repo=$W/r checkout debian $W/oco && bwrap --unshare-all --die-with-parent --ro-bind $W/oco / --proc /proc --dev /dev /bin/true"
  rm -rf $W/r $W/oco $W/containers $W/run-records $W/run-records-tmpfs $W/run-records-disk
}

# The warm start against cairn-launch on the same checkout (target <= 1.2x),
# the containers' directory (bundles, the runtime's state) on a tmpfs or on
# the disk under $BENCH_WORK. /run is a tmpfs on Debian 12; on this VM it is
# the root's ext4, mounted without a journal, where allocating an inode
# skips every inode of its group deleted in the last minutes (ext4's
# recently_deleted(): a container's few files made and removed per start
# add up over a benchmark's runs). Also timed in bash (bench_lean), without
# compare.py's Python fork and `sh -c`, which add the same ~6 ms to both.
# 100 and 200 runs: one start's time spreads over some ±1.5 ms on a VM,
# and the ratio of medians of 30 moved by ±0.06 between identical runs.
scenario_run_warm() {
  local where=$1 W=$BENCH_WORK
  export CAIRN_CONTAINERS=$W/containers CAIRN_RUN_RECORDS=$W/run-records-$where
  if [ "$where" = tmpfs ]; then mount -t tmpfs -o mode=0700 cairn-bench-containers "$W/containers"; fi
  $CAIRN --repo=$W/r run --rm --net=none busybox /bin/true
  local co; co=$(ls -d $W/r/extensions/cairn/checkouts/*/ | head -1) target=()
  [ "$where" = disk ] || target=(--target "cairn-launch<=1.2")
  local cairn="$CAIRN --repo=$W/r run --rm --net=none busybox /bin/true"
  local launch="$CAIRN_LAUNCH --seccomp-cache=$W/r/extensions/cairn/seccomp $co -- /bin/true"
  BENCH_RUNS=100 bench_compare "warm start ($where containers dir): cairn run --rm --net=none REF /bin/true" \
    --warmup 5 "${target[@]}" cairn="$cairn" cairn-launch="$launch"
  BENCH_RUNS=200 bench_lean "warm start ($where containers dir), timed in bash" cairn="$cairn" cairn-launch="$launch"
}

# `cairn run -d` then `cairn exec NAME /bin/true` vs `podman exec` on the
# same busybox image (target <= 0.5x), and cairn's pasta against podman's
# (reported), in the sandbox of the OCI scenario (tests/oci-sandbox.sh: its
# own cgroups, mounts and network namespace, where a veth pair with a
# default route gives pasta a host side to copy).
scenario_run_podman() {
  local B=$1 W=$BENCH_WORK
  command -v podman >/dev/null || {
    echo "bench: run: podman missing: exec and pasta rows skipped"
    return 0
  }
  python3 "$CAIRN_TOP_SRCDIR/tests/make-docker-archive.py" "$B" localhost/bench-busybox:1 "$W/run-image.tar"
  local pm; pm=$(bench_podman "$W/run-podman")
  local c="$CAIRN --repo=$W/r"
  cat > "$W/run-sandbox.sh" <<EOF
set -e
. "$BENCH_DIR/lib.sh"
export CAIRN_CONTAINERS=$W/containers CAIRN_RUN_RECORDS=$W/run-records
$pm load -i "$W/run-image.tar" >/dev/null 2>&1
$c run -d --net=none --name=bx busybox /bin/sleep 1000 >/dev/null
$pm run -d --name=px localhost/bench-busybox:1 /bin/sleep 1000 >/dev/null
bench_compare "exec: cairn run -d, then cairn exec NAME /bin/true" --warmup 3 --target 'podman<=0.5' \\
  cairn="$c exec bx /bin/true" \\
  podman="$pm exec px /bin/true"
$c rm -f bx >/dev/null
$pm rm -f -t 0 px >/dev/null 2>&1 || true
if command -v pasta >/dev/null; then
  ip link add bench0 type veth peer name bench1
  ip addr add 192.0.2.1/24 dev bench0
  ip link set bench1 up
  ip link set bench0 up
  ip route add default via 192.0.2.254 dev bench0
  # podman before 4.4 (Debian 12 has 4.3) has no --network=pasta: then its
  # user-mode network, slirp4netns, is the row's anchor, and the label says so
  pnet=pasta
  $pm run --rm --network=pasta localhost/bench-busybox:1 /bin/true >/dev/null 2>&1 || pnet=slirp4netns
  bench_compare "pasta: cairn run --rm --net=pasta vs podman run --rm --network=\$pnet" --warmup 2 \\
    cairn="$c run --rm --net=pasta busybox /bin/true" \\
    podman="$pm run --rm --network=\$pnet localhost/bench-busybox:1 /bin/true"
fi
EOF
  BENCH_RESULTS=$BENCH_RESULTS BENCH_RUNS=$BENCH_RUNS CAIRN_TOP_SRCDIR=$CAIRN_TOP_SRCDIR \
    CAIRN_TOP_BUILDDIR=$CAIRN_TOP_BUILDDIR CAIRN_LAUNCH=$CAIRN_LAUNCH \
    "$CAIRN_TOP_SRCDIR/tests/oci-sandbox.sh" bash "$W/run-sandbox.sh"
  rm -rf "$W/run-podman" "$W/run-image.tar" "$W/run-sandbox.sh"
}
