# tests/bench/scenario-delta.sh — pulls of the Debian minbase rootfs through
# ostree-made static deltas over HTTP (same server, loopback), into
# bare-user, cairn pull vs ostree pull:
#   1. update pull: the client holds v1, the server's ref is v2 (10 changed
#      files, as in scenario-pull.sh) with a v1 -> v2 delta; each run starts
#      from a new hardlinked copy of the client at v1. Also the bytes: the
#      delta pull against cairn's loose-object pull of the same update.
#   2. first pull from the --empty delta to v2.
# The archive repository and its deltas (ostree static-delta generate of the
# minbase takes minutes) are cached in $BENCH_CACHE/delta-archive.

. "$BENCH_DIR/scenario-pull.sh" # _pull_start_server

_delta_repo() { # ROOTFS: prints the cached repo
  local R=$1 r=$BENCH_CACHE/delta-archive
  if [ ! -f "$r.done" ]; then
    echo "bench: making the archive repo and ostree's deltas (once, cached in $r)" >&2
    rm -rf "$r" "$r.v2"
    ostree --repo="$r" init --mode=archive
    ostree --repo="$r" commit -b app --tree=dir="$R" >/dev/null
    cp -a "$R" "$r.v2"
    local i=0
    for f in $(cd "$r.v2" && find usr/share/doc etc -type f -size +2k -size -40k | sort | head -n 10); do
      printf 'changed for the update bench %d\n' $i >> "$r.v2/$f"; i=$((i + 1))
    done
    ostree --repo="$r" commit -b app --tree=dir="$r.v2" >/dev/null
    rm -rf "$r.v2"
    ostree --repo="$r" static-delta generate --empty --to=app >/dev/null
    ostree --repo="$r" static-delta generate --from=app^ --to=app >/dev/null
    ostree --repo="$r" summary -u
    touch "$r.done"
  fi
  echo "$r"
}

scenario_delta() {
  command -v ostree >/dev/null || { echo "bench: ostree not installed" >&2; return 1; }
  local R; R=$(bench_debian_rootfs) || return 1
  local A; A=$(_delta_repo "$R") || return 1
  local W=$BENCH_WORK v1
  v1=$(ostree --repo="$A" rev-parse app^)
  chmod 0755 "$W"
  _pull_start_server "$A"
  trap 'kill "$PULL_SRV_PID" 2>/dev/null' EXIT # run.sh runs each scenario in a subshell
  local url="http://127.0.0.1:$PULL_PORT/"
  # The clients at v1 (fetched loose), copied with hardlinks for each run.
  $CAIRN --repo="$W/cb" init --mode=bare-user >/dev/null
  $CAIRN --repo="$W/cb" remote add --no-gpg-verify origin "$url" >/dev/null
  $CAIRN --repo="$W/cb" pull --disable-static-deltas origin "$v1" >/dev/null
  mkdir -p "$W/cb/refs/remotes/origin"; echo "$v1" > "$W/cb/refs/remotes/origin/app"
  ostree --repo="$W/ob" init --mode=bare-user
  ostree --repo="$W/ob" remote add --no-gpg-verify origin "$url"
  ostree --repo="$W/ob" pull --disable-static-deltas origin "app@$v1" >/dev/null
  bench_compare "delta: update pull (10 changed files) from ostree's delta over HTTP, Debian minbase ($PULL_SERVER)" \
    --target 'ostree<=0.7' \
    --prepare "n=\$(( \$(cat $W/.nd 2>/dev/null || echo 0) + 1 )); echo \$n > $W/.nd; cp -al $W/cb $W/cu-\$n; cp -al $W/ob $W/ou-\$n; ln -sfn cu-\$n $W/cu; ln -sfn ou-\$n $W/ou; sync" \
    cairn="$CAIRN --repo=$W/cu pull origin app" \
    ostree="ostree --repo=$W/ou pull origin app >/dev/null"
  # Bytes of the same update, through the delta and loose.
  cp -al "$W/cb" "$W/bytes-delta"; cp -al "$W/cb" "$W/bytes-loose"
  $CAIRN --repo="$W/bytes-delta" pull --json origin app > "$W/delta.json"
  $CAIRN --repo="$W/bytes-loose" pull --json --disable-static-deltas origin app > "$W/loose.json"
  local db lb
  db=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$W/delta.json")
  lb=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$W/loose.json")
  echo "delta: update pull, bytes fetched: through the delta $db, loose objects $lb (target: fewer through the delta: $([ "$db" -lt "$lb" ] && echo PASS || echo FAIL))"
  printf '{"label": "delta: update pull, bytes fetched", "delta": %s, "loose": %s}\n' "$db" "$lb" >> "$BENCH_RESULTS"
  bench_compare "delta: first pull from ostree's --empty delta over HTTP, Debian minbase ($PULL_SERVER)" \
    --target 'ostree<=0.7' \
    --prepare "$(bench_fresh_repos_prepare bare-user); \
$CAIRN --repo=$W/cur/c remote add --no-gpg-verify origin $url; \
ostree --repo=$W/cur/o remote add --no-gpg-verify origin $url" \
    cairn="$CAIRN --repo=$W/cur/c pull origin app" \
    ostree="ostree --repo=$W/cur/o pull origin app >/dev/null"
  kill "$PULL_SRV_PID"; wait "$PULL_SRV_PID" 2>/dev/null || true
}
