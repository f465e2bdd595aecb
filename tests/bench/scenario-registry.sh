# tests/bench/scenario-registry.sh — OCI registry pull and push against
# skopeo, umoci and podman, with Debian's docker-registry on 127.0.0.1.
#
# The image: the Debian minbase tree in 3 layers (everything but /usr; /usr
# but /usr/share; /usr/share), gzip, pushed with skopeo. A second tag shares
# the first two layers and has a changed /usr/share layer.
# Targets:
#   first pull into a fresh store (bare): <= 0.5x `skopeo copy docker://… oci:DIR`
#     + `umoci unpack`, and <= 1.0x `podman pull` into a fresh vfs storage;
#   the second tag moves only the new layer's bytes (counted by cairn and in the
#     registry's access log);
#   push of the pulled commit to a new repository: <= 1.0x `skopeo copy oci:DIR
#     docker://` of the same image, measured with the layer already built (the
#     built-layer cache: a second push, or a push after an export) and, for
#     the record, with the layer built by the push.
# Each run works in a new directory (and pushes to a new repository name);
# cairn's record of where it pushed blobs is removed before each push so that it
# uploads everything, as skopeo does.

bench_start_registry() {
  local dir=$1 port
  mkdir -p "$dir/data"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  secret: bench\n' \
    "$dir/data" "$port" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  BENCH_REG_PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
    sleep 0.05
  done
  BENCH_REG=127.0.0.1:$port
}

# The 3-layer layout (cached with the minbase).
bench_minbase_layout() {
  local r; r=$(bench_debian_rootfs) || return 1
  local d=$BENCH_CACHE/minbase-3layers
  if [ ! -f "$d.done" ]; then
    rm -rf "$d" "$d.tmp"; mkdir -p "$d.tmp"
    ( cd "$r" && tar --numeric-owner --xattrs --exclude=./usr -cf "$d.tmp/l1.tar" . )
    ( cd "$r" && tar --numeric-owner --xattrs --exclude=./usr/share -cf "$d.tmp/l2.tar" ./usr )
    ( cd "$r" && tar --numeric-owner --xattrs -cf "$d.tmp/l3.tar" ./usr/share )
    mkdir -p "$d.tmp/extra/usr/share/doc/cairn-bench"
    echo "second tag" > "$d.tmp/extra/usr/share/doc/cairn-bench/README"
    ( cd "$r" && tar --numeric-owner --xattrs -cf "$d.tmp/l3b.tar" ./usr/share \
        -C "$d.tmp/extra" ./usr/share/doc/cairn-bench )
    umoci init --layout "$d" >&2
    umoci new --image "$d:v1" >&2
    for l in l1 l2; do umoci raw add-layer --image "$d:v1" "$d.tmp/$l.tar" >&2; done
    umoci config --image "$d:v1" --config.cmd /bin/bash >&2
    umoci tag --image "$d:v1" v2 >&2
    umoci raw add-layer --image "$d:v1" "$d.tmp/l3.tar" >&2
    umoci raw add-layer --image "$d:v2" "$d.tmp/l3b.tar" >&2
    rm -rf "$d.tmp"; touch "$d.done"
  fi
  echo "$d"
}

scenario_registry() {
  for c in docker-registry skopeo umoci podman; do
    command -v $c >/dev/null || { echo "bench: registry: needs $c" >&2; return 1; }
  done
  local layout; layout=$(bench_minbase_layout) || return 1
  bench_start_registry "$BENCH_WORK/reg"
  trap 'kill $BENCH_REG_PID 2>/dev/null' RETURN
  skopeo copy -q --dest-tls-verify=false "oci:$layout:v1" "docker://$BENCH_REG/bench/deb:v1"
  skopeo copy -q --dest-tls-verify=false "oci:$layout:v2" "docker://$BENCH_REG/bench/deb:v2"
  local img="$BENCH_REG/bench/deb"
  bench_compare "first pull, 3-layer Debian minbase, local registry (bare)" \
    --prepare "n=\$(( \$(cat $BENCH_WORK/.n 2>/dev/null || echo 0) + 1 )); echo \$n > $BENCH_WORK/.n; d=$BENCH_WORK/run-\$n; mkdir -p \$d && $CAIRN --repo=\$d/c init --mode=bare >/dev/null && ln -sfn run-\$n $BENCH_WORK/cur && sync" \
    --target "skopeo_umoci<=0.5" --target "podman<=1.0" \
    cairn="$CAIRN --repo=$BENCH_WORK/cur/c pull --tls-verify=false docker://$img:v1" \
    skopeo_umoci="skopeo copy -q --src-tls-verify=false docker://$img:v1 oci:$BENCH_WORK/cur/oci:v1 && umoci unpack --image $BENCH_WORK/cur/oci:v1 $BENCH_WORK/cur/bundle" \
    podman="podman --root $BENCH_WORK/cur/pm --runroot $BENCH_WORK/cur/pmrun --storage-driver vfs pull -q --tls-verify=false $img:v1"

  # the second tag: count the bytes
  "$CAIRN" --repo=second init --mode=bare >/dev/null
  "$CAIRN" --repo=second pull --tls-verify=false "docker://$img:v1" >/dev/null
  : > "$BENCH_WORK/reg/log"
  "$CAIRN" --repo=second pull --tls-verify=false --json "docker://$img:v2" > second.json
  local new got size
  new=$(python3 - "$layout" <<'PY'
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = [x for x in idx["manifests"] if x["annotations"]["org.opencontainers.image.ref.name"] == "v2"][0]
print(json.load(open(d + "/blobs/sha256/" + m["digest"][7:]))["layers"][-1]["digest"])
PY
)
  size=$(stat -c %s "$layout/blobs/sha256/${new#sha256:}")
  got=$(python3 -c 'import json; print(json.load(open("second.json"))["bytes_fetched"])')
  local blob_gets; blob_gets=$(grep -c 'GET /v2/bench/deb/blobs/' "$BENCH_WORK/reg/log" || true)
  echo "== second tag sharing 2 of 3 layers: $got bytes fetched; the new layer is $size bytes" \
    "($(( got - size )) bytes of manifest and config); $blob_gets blob GETs (config + new layer)" \
    "-> $( [ "$got" -le $((size + 16384)) ] && [ "$blob_gets" = 2 ] && echo PASS || echo FAIL)"

  # push: the pulled commit, one layer, to a new repository each run. skopeo
  # runs with an empty blob-info cache (a tmpfs over /var/lib/containers/cache
  # in a private mount namespace) and cairn without its record of where it
  # pushed blobs, so that neither mounts a blob from an earlier run's
  # repository instead of sending it.
  "$CAIRN" --repo=pushsrc init --mode=bare >/dev/null
  "$CAIRN" --repo=pushsrc pull --tls-verify=false -b deb "docker://$img:v1" >/dev/null
  "$CAIRN" --repo=pushsrc export deb --format=oci "$BENCH_WORK/cairn-layout:deb" >/dev/null
  local newname="n=\$(( \$(cat $BENCH_WORK/.pn 2>/dev/null || echo 0) + 1 )); echo \$n > $BENCH_WORK/.pn; rm -f $BENCH_WORK/pushsrc/extensions/cairn/oci-blob-locations"
  local skopeo_push="unshare -m sh -c 'mount -t tmpfs none /var/lib/containers/cache && skopeo copy -q --dest-tls-verify=false oci:$BENCH_WORK/cairn-layout:deb docker://$BENCH_REG/push/s\$(cat $BENCH_WORK/.pn):x'"
  : > "$BENCH_WORK/reg/log"
  bench_compare "push of the minbase commit to a new repository, layer built before (gzip)" \
    --prepare "$newname; sync" --target "skopeo<=1.0" \
    cairn="$CAIRN --repo=$BENCH_WORK/pushsrc push --tls-verify=false deb docker://$BENCH_REG/push/c\$(cat $BENCH_WORK/.pn):x" \
    skopeo="$skopeo_push"
  bench_compare "first push of the minbase commit (building the gzip layer)" \
    --prepare "$newname; rm -rf $BENCH_WORK/pushsrc/extensions/cairn/oci-built; sync" --target "skopeo<=1.0" \
    cairn="$CAIRN --repo=$BENCH_WORK/pushsrc push --tls-verify=false deb docker://$BENCH_REG/push/c\$(cat $BENCH_WORK/.pn):x" \
    skopeo="$skopeo_push"
  local mounts; mounts=$(grep -c 'mount=' "$BENCH_WORK/reg/log" || true)
  echo "registry: $mounts cross-repository mount requests during the push runs (expected 0)"
}
