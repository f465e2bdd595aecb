# Checkout: hardlink farms (bare-user -U; bare as root) vs ostree checkout
# and cp -al; archive (decompressing copy) vs ostree checkout.
# Each run checks out into a new directory; nothing is deleted before the
# scenario ends (see bench_fresh_repos_prepare in lib.sh).
scenario_checkout() {
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK
  $CAIRN --repo=$W/bu init --mode=bare-user >/dev/null; $CAIRN --repo=$W/bu commit -b bench $R >/dev/null
  $CAIRN --repo=$W/bu checkout -U bench $W/src-for-cp
  bench_compare "hardlink checkout, bare-user -U" \
    --prepare "$(bench_fresh_dir_prepare)" --target "ostree<=0.7" --target "cp-al<=1.0" \
    cairn="$CAIRN --repo=$W/bu checkout -U bench $W/cur/d1" \
    ostree="ostree --repo=$W/bu checkout -U bench $W/cur/d2" \
    cp-al="cp -al $W/src-for-cp $W/cur/d3"
  if [ "$(id -u)" = 0 ]; then
    $CAIRN --repo=$W/b init --mode=bare >/dev/null; $CAIRN --repo=$W/b commit -b bench $R >/dev/null
    bench_compare "hardlink checkout, bare (root)" \
      --prepare "$(bench_fresh_dir_prepare)" --target "ostree<=0.7" \
      cairn="$CAIRN --repo=$W/b checkout bench $W/cur/d1" \
      ostree="ostree --repo=$W/b checkout bench $W/cur/d2"
  fi
  $CAIRN --repo=$W/ar init --mode=archive >/dev/null; $CAIRN --repo=$W/ar commit -b bench $R >/dev/null
  bench_compare "archive checkout (decompress + copy)" \
    --prepare "$(bench_fresh_dir_prepare)" --target "ostree<=0.5" \
    cairn="$CAIRN --repo=$W/ar checkout bench $W/cur/d1" \
    ostree="ostree --repo=$W/ar checkout bench $W/cur/d2"
}
