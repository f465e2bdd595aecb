# cairn run: warm start vs cairn-launch on the same directory (busybox);
# cold start on Debian minbase vs the Flatpak-style ostree checkout + bwrap.
scenario_run() {
  local B; B=$(bench_busybox_rootfs) || return 1
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK
  $CAIRN --repo=$W/r init >/dev/null
  $CAIRN --repo=$W/r commit -b busybox $B >/dev/null
  $CAIRN --repo=$W/r run busybox -- /bin/true
  local co; co=$(ls -d $W/r/extensions/cairn/checkouts/*/ | head -1)
  BENCH_RUNS=30 bench_compare "warm start: cairn run REF /bin/true" --warmup 5 --target "cairn-launch<=1.2" \
    cairn="$CAIRN --repo=$W/r run busybox -- /bin/true" \
    cairn-launch="$CAIRN_LAUNCH --seccomp-cache=$W/r/extensions/cairn/seccomp $co -- /bin/true"
  $CAIRN --repo=$W/r commit -b debian $R >/dev/null
  ostree --repo=$W/r refs >/dev/null
  bench_compare "cold start on Debian minbase (no cached checkout)" \
    --prepare "rm -rf $W/r/extensions/cairn/checkouts $W/oco" --target "ostree+bwrap<=0.7" \
    cairn="$CAIRN --repo=$W/r run debian -- /bin/true" \
    ostree+bwrap="ostree --repo=$W/r checkout debian $W/oco && bwrap --unshare-all --die-with-parent --ro-bind $W/oco / --proc /proc --dev /dev /bin/true"
  rm -rf $W/r $W/oco
}
