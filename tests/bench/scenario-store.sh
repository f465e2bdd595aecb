# Store: commit (bare-user, archive), re-commit of an unmodified checkout,
# fsck — cairn vs ostree on the Debian minbase rootfs; scaling on synthetic
# trees of 10k/100k (and 1M with BENCH_SCALE_1M=1) small files.
# Nothing is deleted before the scenario ends (run.sh removes its work
# directory): see bench_fresh_repos_prepare.
scenario_store() {
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK
  echo "rootfs: $R ($(du -sh "$R" | cut -f1), $(find "$R" | wc -l) entries)"
  # Each commit row prints its conditions: a fresh machine differs from a
  # warm one in these (load, dirty data, the tree in the page cache or not).
  for mode in bare-user archive; do
    local goal=0.35; [ $mode = archive ] && goal=0.25
    sync; bench_conditions; echo "tree: $(bench_tree_cached "$R")"
    bench_compare "commit into a fresh $mode repo" \
      --prepare "$(bench_fresh_repos_prepare $mode)" --target "ostree<=$goal" \
      cairn="$CAIRN --repo=$W/cur/c commit -b bench $R" \
      ostree="ostree --repo=$W/cur/o commit -b bench $R"
  done
  # The first commit on a fresh machine reads a tree that is not in the page
  # cache: the same comparison with the cache dropped before every run.
  if [ "$(id -u)" = 0 ]; then
    sync; bench_conditions
    bench_compare "commit into a fresh bare-user repo, cold page cache" \
      --prepare "$(bench_fresh_repos_prepare bare-user) && $(bench_cold_prepare)" --target "ostree<=0.35" \
      cairn="$CAIRN --repo=$W/cur/c commit -b bench $R" \
      ostree="ostree --repo=$W/cur/o commit -b bench $R"
  fi
  # re-commit of an unmodified checkout (devino cache vs --link-checkout-speedup)
  $CAIRN --repo=$W/c init --mode=bare-user >/dev/null; ostree --repo=$W/o init --mode=bare-user
  $CAIRN --repo=$W/c commit -b bench $R >/dev/null; ostree --repo=$W/o commit -b bench $R >/dev/null
  $CAIRN --repo=$W/c checkout -U bench $W/cco; ostree --repo=$W/o checkout -U bench $W/oco
  bench_compare "re-commit of an unmodified checkout (bare-user)" --target "ostree<=0.5" \
    cairn="$CAIRN --repo=$W/c commit -b bench $W/cco" \
    ostree="ostree --repo=$W/o commit -b bench --link-checkout-speedup $W/oco"
  # fsck of the same repository (made by ostree, so both read the same bytes)
  bench_compare "fsck (bare-user repo)" --target "ostree<=0.5" \
    cairn="$CAIRN --repo=$W/o fsck" ostree="ostree --repo=$W/o fsck"
  $CAIRN --repo=$W/ar init --mode=archive >/dev/null; $CAIRN --repo=$W/ar commit -b bench $R >/dev/null
  bench_compare "fsck (archive repo)" --target "ostree<=0.5" \
    cairn="$CAIRN --repo=$W/ar fsck" ostree="ostree --repo=$W/ar fsck"
  bench_store_scaling
}

bench_store_scaling() {
  local W=$BENCH_WORK sizes="10000 100000"
  [ "${BENCH_SCALE_1M:-0}" = 1 ] && sizes="$sizes 1000000"
  echo "== scaling: commit of N small files into a fresh bare-user repo (one run each)"
  printf '   %-10s %12s %12s %14s %14s\n' files "cairn s" "ostree s" "cairn RSS KiB" "ostree RSS KiB"
  # Repositories go to new directories and are deleted only when the
  # scenario ends (see bench_fresh_repos_prepare: deleting inodes just before
  # a timed run slows every file created after it, for both tools).
  for n in $sizes; do
    local S; S=$(bench_synthetic_tree $n)
    local d=$W/scale-$n
    mkdir -p $d; $CAIRN --repo=$d/c init --mode=bare-user >/dev/null; ostree --repo=$d/o init --mode=bare-user
    sync
    read -r ct cm < <(bench_time_rss "$CAIRN --repo=$d/c commit -b s $S")
    read -r ot om < <(bench_time_rss "ostree --repo=$d/o commit -b s $S")
    printf '   %-10s %12s %12s %14s %14s\n' $n $ct $ot $cm $om
    echo "{\"label\":\"scaling $n\",\"cairn_s\":$ct,\"ostree_s\":$ot,\"cairn_rss_kib\":$cm,\"ostree_rss_kib\":$om}" >> "$BENCH_RESULTS"
  done
}
