# tests/bench/scenario-mount.sh — the FUSE view (`cairn mount`) against a
# hardlinked checkout of the same commit, Debian minbase.
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
#   mount latency: `cairn mount` until `ls` of the root succeeds (<= 50 ms)

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
  local M="$C --repo=$W/r mount deb $W/mnt"
  local MU="$C --repo=$W/ru mount deb $W/mnt"
  local U="$C umount $W/mnt"

  # A fresh mount before every cairn run (untimed): the timed command is the
  # walk of a mount whose kernel caches are empty, against the same walk of
  # the checkout.
  local fresh="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then $M; fi; $prep"
  local freshnp="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then CAIRN_MOUNT_NO_PASSTHROUGH=1 $M; fi; $prep"
  local freshu="$U 2>/dev/null; if [ \"\$BENCH_WHICH\" = cairn ]; then $MU; fi; $prep"
  bench_compare "mount: metadata walk, bare, fresh mount (tar cf /dev/null)" --prepare "$fresh" \
    --target checkout'<=1.5' \
    cairn="tar cf /dev/null -C $W/mnt ." \
    checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount: metadata walk, bare-user, fresh mount (tar cf /dev/null)" --prepare "$freshu" \
    --target checkout'<=1.5' \
    cairn="tar cf /dev/null -C $W/mnt ." \
    checkout="tar cf /dev/null -C $W/co ."
  bench_compare "mount: full read, bare, fresh mount (tar cf - | cat)" --prepare "$fresh" \
    --target checkout'<=1.5' \
    cairn="tar cf - -C $W/mnt . | cat >/dev/null" \
    checkout="tar cf - -C $W/co . | cat >/dev/null"
  bench_compare "mount: full read, bare, fresh mount, no passthrough (tar cf - | cat)" \
    --prepare "$freshnp" \
    cairn="tar cf - -C $W/mnt . | cat >/dev/null" \
    checkout="tar cf - -C $W/co . | cat >/dev/null"
  # The same walk timing mount and unmount too (what a user types).
  bench_compare "mount: mount + metadata walk + umount, bare" --prepare "$U 2>/dev/null; $prep" \
    cairn="$M && tar cf /dev/null -C $W/mnt . && $U" \
    checkout="tar cf /dev/null -C $W/co ."
  $U 2>/dev/null || true
  bench_compare "mount: until listable (cairn mount; ls)" \
    --prepare "$U 2>/dev/null; rm -rf $W/co2; $prep" \
    cairn="$M && ls $W/mnt >/dev/null" \
    checkout="$C --repo=$W/r checkout deb $W/co2 && ls $W/co2 >/dev/null"
  $U 2>/dev/null || true
}
