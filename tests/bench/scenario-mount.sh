# tests/bench/scenario-mount.sh — `cairn mount` against a hardlinked
# checkout of the same commit, Debian minbase: the kernel mount (root's
# default: EROFS metadata image + overlayfs, docs/cairn-mount.md) with its
# targets, then the FUSE view (`--fuse`) beside it.
#
# Every cairn run mounts afresh (a new server, empty kernel caches for the
# mount), walks the tree, unmounts. The backing store and the checkout are
# both warm in the page cache (a warm-up run precedes the timed runs); set
# BENCH_MOUNT_COLD=1 to drop the page cache before every run of both sides
# instead (root only; slows everything else on the machine).
#
#   metadata walk: `tar cf /dev/null .` — GNU tar does not read file data
#                  when the archive is /dev/null: lookups, lstat, readdir
#   full read:     `tar cf - . | cat >/dev/null` — every byte of every file;
#                  as root the kernel reads bare objects itself (FUSE
#                  passthrough), a second row forces the server's read path
#                  (CAIRN_MOUNT_NO_PASSTHROUGH=1, what non-root users get)
#   mount latency: `cairn mount` until `ls` of the root succeeds (kernel,
#                  cached image: <= 10 ms; FUSE: <= 50 ms); the kernel one
#                  also timed inside bash (bench_lean: no Python fork, no
#                  `sh -c`), beside /bin/true and mount(8) of the same layers
#   image build:   `cairn mount` of a commit whose image is not cached
#                  against `ostree checkout` of it (<= 0.3x)
#   cold run:      `cairn run --mount REF /bin/true` with no image against
#                  `ostree checkout` + `bwrap` (<= 0.5x)
# The kernel rows run in a mount namespace of their own (unshare -m), so
# that nothing they mount outlives the scenario.

scenario_mount() {
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK C=$CAIRN
  [ "$(id -u)" = 0 ] || { echo "bench: mount scenario needs root (bare repo)" >&2; return 1; }
  "$C" --repo="$W/r" init --mode=bare >/dev/null
  "$C" --repo="$W/r" commit -b deb "$R" >/dev/null
  "$C" --repo="$W/ru" init --mode=bare-user >/dev/null
  "$C" --repo="$W/ru" commit -b deb "$R" >/dev/null
  "$C" --repo="$W/r" checkout deb "$W/co"
  mkdir -p "$W/mnt"
  # Never leave a mount behind, whatever fails.
  trap 'fusermount3 -u -z "$W/mnt" 2>/dev/null || true' RETURN
  local prep=":"
  if [ "${BENCH_MOUNT_COLD:-0}" = 1 ]; then
    prep="sync; echo 3 > /proc/sys/vm/drop_caches"
    echo "bench: page cache dropped before every run (cold)"
  else
    echo "bench: page cache warm for both sides (warm-up run first)"
  fi
  scenario_mount_kernel "$R" "$prep" || return 1
  local M="$C --repo=$W/r mount --fuse deb $W/mnt"
  local MU="$C --repo=$W/ru mount --fuse deb $W/mnt"
  local U="$C umount $W/mnt"

  # A fresh mount before every cairn run (untimed): the timed command is the
  # walk of a mount whose kernel caches are empty, against the same walk of
  # the checkout.
  local fresh="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then $M; fi; $prep"
  local freshnp="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then CAIRN_MOUNT_NO_PASSTHROUGH=1 $M; fi; $prep"
  local freshu="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then $MU; fi; $prep"
  bench_compare "mount (FUSE): metadata walk, bare, fresh mount (tar cf /dev/null)" --prepare "$fresh" \
    cairn="tar cf /dev/null -C $W/mnt ." \
    checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount (FUSE): metadata walk, bare-user, fresh mount (tar cf /dev/null)" --prepare "$freshu" \
    cairn="tar cf /dev/null -C $W/mnt ." \
    checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount (FUSE): full read, bare, fresh mount (tar cf - | cat)" --prepare "$fresh" \
    cairn="tar cf - -C $W/mnt . | cat >/dev/null" \
    checkout="tar cf - -C $W/co . | cat >/dev/null"
  bench_compare "mount (FUSE): full read, bare, fresh mount, no passthrough (tar cf - | cat)" \
    --prepare "$freshnp" \
    cairn="tar cf - -C $W/mnt . | cat >/dev/null" \
    checkout="tar cf - -C $W/co . | cat >/dev/null"
  # The same walk timing mount and unmount too (what a user types).
  bench_compare "mount (FUSE): mount + metadata walk + umount, bare" --prepare "$U 2>/dev/null; $prep" \
    cairn="$M && tar cf /dev/null -C $W/mnt . && $U" \
    checkout="tar cf /dev/null -C $W/co ."
  $U 2>/dev/null || true
  bench_compare "mount (FUSE): until listable (cairn mount --fuse; ls)" \
    --prepare "$U 2>/dev/null; rm -rf $W/co2; $prep" \
    cairn="$M && ls $W/mnt >/dev/null" \
    checkout="$C --repo=$W/r checkout deb $W/co2 && ls $W/co2 >/dev/null"
  $U 2>/dev/null || true
}

# The kernel mount's rows, in a mount namespace of their own.
scenario_mount_kernel() {
  local R=$1 prep=$2
  mkdir -p "$BENCH_WORK/kmnt"
  BENCH_WORK=$BENCH_WORK BENCH_RESULTS=$BENCH_RESULTS BENCH_PREP=$prep \
    unshare -m --propagation private bash -c '. "$1/lib.sh"; . "$1/scenario-mount.sh"; scenario_mount_kernel_rows' \
    _ "$BENCH_DIR"
}

scenario_mount_kernel_rows() {
  set -e
  local W=$BENCH_WORK C=$CAIRN prep=$BENCH_PREP
  local K="$C --repo=$W/r mount --kernel deb $W/kmnt" KU="$C --repo=$W/ru mount --kernel deb $W/kmnt"
  local U="umount $W/kmnt 2>/dev/null || :" I="$W/r/extensions/cairn/erofs"
  local drop="sync; echo 3 > /proc/sys/vm/drop_caches"
  # Cold (the goal's terms): page cache, dentries and inodes dropped before
  # every run of both sides, the mount made afresh for each cairn run.
  local cold="$U; if [ \"\$BENCH_WHICH\" = cairn ]; then $K; fi; $drop"
  local coldu="$U; if [ \"\$BENCH_WHICH\" = cairn ]; then $KU; fi; $drop"
  bench_compare "mount (kernel): cold metadata walk, bare (drop caches; tar cf /dev/null)" \
    --prepare "$cold" --target checkout'<=1.2' \
    cairn="tar cf /dev/null -C $W/kmnt ." checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount (kernel): cold metadata walk, bare-user (drop caches)" \
    --prepare "$coldu" --target checkout'<=1.2' \
    cairn="tar cf /dev/null -C $W/kmnt ." checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount (kernel): cold full read, bare (drop caches; tar cf - | cat)" \
    --prepare "$cold" --target checkout'<=1.1' \
    cairn="tar cf - -C $W/kmnt . | cat >/dev/null" checkout="tar cf - -C $W/co . | cat >/dev/null"
  # As the FUSE rows: a fresh mount, the store and the checkout warm.
  local fresh="$U; if [ \"\$BENCH_WHICH\" = cairn ]; then $K; fi; $prep"
  bench_compare "mount (kernel): metadata walk, bare, fresh mount, page cache warm" --prepare "$fresh" \
    cairn="tar cf /dev/null -C $W/kmnt ." checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount (kernel): full read, bare, fresh mount, page cache warm" --prepare "$fresh" \
    cairn="tar cf - -C $W/kmnt . | cat >/dev/null" checkout="tar cf - -C $W/co . | cat >/dev/null"
  sh -c "$U"
  $K; sh -c "$U"
  # The anchor is a checkout (as for FUSE); the goal is absolute: <= 10 ms.
  # The mount above left the front end a record (cli/run-record.h); beside
  # it the same mount through cairn-core, and a shell's own start.
  bench_compare "mount (kernel): cached image, until listable (cairn mount; ls)" --runs 15 \
    --prepare "$U; rm -rf $W/co2; $prep" \
    cairn="$K && ls $W/kmnt >/dev/null" \
    checkout="$C --repo=$W/r checkout deb $W/co2 && ls $W/co2 >/dev/null" \
    cairn-core="CAIRN_NO_FAST_MOUNT=1 $K && ls $W/kmnt >/dev/null" true="/bin/true"
  # The same without compare.py's Python fork and `sh -c` (~6 ms here, most
  # of the row above): timed inside this bash. Beside it the mount alone,
  # /bin/true, and the kernel's floor through mount(8): the overlay of the
  # same layers by hand, its EROFS layer mounted beforehand (untimed).
  local img; img=$I/$("$C" --repo="$W/r" rev-parse deb).img
  mkdir -p "$W/kmeta"
  mount -t erofs -o ro "$img" "$W/kmeta"
  bench_lean "mount (kernel): cached image, until listable, timed in bash (cairn mount; ls)" \
    --runs 21 --goal-ms 10 --prepare "$U; $prep" \
    cairn="$K && ls $W/kmnt" cairn-mount="$K" true="/bin/true" \
    mount-by-hand="mount -t overlay cairn -o ro,nodev,nosuid,lowerdir=$W/kmeta::$W/r/objects,metacopy=on,redirect_dir=follow $W/kmnt && ls $W/kmnt"
  umount "$W/kmeta"
  bench_compare "mount (kernel): image build of a new commit (cairn mount, no image) vs ostree checkout" \
    --prepare "$U; rm -rf $I $W/oco; $prep" --target ostree'<=0.3' \
    cairn="$K" ostree="ostree --repo=$W/r checkout deb $W/oco"
  sh -c "$U"
  # --net=private: loopback only, what bwrap --unshare-all gives (cairn
  # run's default is pasta where it is installed, ~100 ms of its own)
  bench_compare "cold start on Debian minbase: cairn run --mount (no image) vs ostree checkout + bwrap" \
    --prepare "rm -rf $I $W/oco; $prep" --target 'ostree+bwrap<=0.5' \
    cairn="$C --repo=$W/r run --mount=kernel --net=private deb -- /bin/true" \
    ostree+bwrap="ostree --repo=$W/r checkout deb $W/oco && bwrap --unshare-all --die-with-parent --ro-bind $W/oco / --proc /proc --dev /dev /bin/true"
}
