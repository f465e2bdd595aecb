# tests/bench/scenario-import.sh — tar import and export against ostree.
# Targets: import into bare-user <= 0.4x ostree, into archive <= 0.3x;
# export <= 0.7x `ostree export`. Each run starts from a fresh repository
# (in a new directory: see bench_fresh_repos_prepare).
scenario_import() {
  local tar; tar=$(bench_debian_tarball) || return 1
  for mode in bare-user archive; do
    local target=0.4; [ $mode = archive ] && target=0.3
    bench_compare "tar import ($mode, Debian minbase)" \
      --prepare "$(bench_fresh_repos_prepare $mode)" --target "ostree<=$target" \
      cairn="$CAIRN --repo $BENCH_WORK/cur/c commit -b deb --tree=tar=$tar" \
      ostree="ostree --repo=$BENCH_WORK/cur/o commit -b deb --tree=tar=$tar"
  done
  for mode in bare-user archive; do
    "$CAIRN" --repo x-$mode init --mode=$mode >/dev/null
    "$CAIRN" --repo x-$mode commit -b deb --tree=tar="$tar" >/dev/null
    bench_compare "export ($mode, Debian minbase)" --target "ostree<=0.7" \
      cairn="$CAIRN --repo x-$mode export deb -o out-c.tar" \
      ostree="ostree --repo=x-$mode export deb > out-o.tar"
  done
}
