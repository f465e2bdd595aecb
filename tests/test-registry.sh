#!/bin/bash
# OCI registries: cairn pull docker:// and cairn push … docker:// against
# Debian's docker-registry (distribution 2.8) started by each case on
# 127.0.0.1 (plain http, https with a test CA, htpasswd, token auth with
# tests/registry-token-server.py); images go in with skopeo from layouts
# built with umoci; round trips through skopeo, umoci and cairn run; hostile
# registries through tests/registry-proxy.py.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/registry-lib.sh"

root_tree() { "$CAIRN" --repo "$1" show --json "$2" | sed 's/.*"root_tree":"\([0-9a-f]*\)".*/\1/'; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# A failed pull or push: no ref, and both fscks are clean.
assert_repo_clean() {
  ! "$CAIRN" --repo "$1" rev-parse "$2" >/dev/null 2>&1 || { echo "assert: ref $2 moved"; exit 1; }
  "$CAIRN" --repo "$1" fsck >/dev/null
  ostree --repo="$1" fsck >/dev/null
}
# The tree umoci unpacks for a layout's TAG, committed to REPO as REF.
commit_umoci_unpack() {
  umoci unpack --image "$1:$2" "$T/unpack-$2" >/dev/null
  "$CAIRN" --repo "$3" commit -b "$4" "$T/unpack-$2/rootfs" >/dev/null
}
setup() {
  require_cmd docker-registry skopeo umoci busybox ostree
  unset REGISTRY_AUTH_FILE DOCKER_CONFIG
  export XDG_RUNTIME_DIR=$T/run HOME=$T/home
  mkdir -p "$XDG_RUNTIME_DIR" "$HOME"
}
start_proxy() {
  python3 "$CAIRN_TOP_SRCDIR/tests/registry-proxy.py" "$REG" "$T/proxy.port" "$T/proxy.log" "$@" \
    2> "$T/proxy.err" &
  PROXY_PID=$!
  add_cleanup "kill $PROXY_PID"
  for _ in $(seq 1 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
  PROXY=127.0.0.1:$(cat "$T/proxy.port")
}
stop_proxy() { kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true; rm -f "$T/proxy.port"; }

t_pull_http() {
  setup
  start_registry reg
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  "$CAIRN" --repo r init --mode=bare >/dev/null
  "$CAIRN" --repo r pull --tls-verify=false --json "docker://$REG/test/img:t1" > pull.json
  assert_streq "$(json_field layers < pull.json)" 3
  assert_streq "$(json_field layers_cached < pull.json)" 0
  # the same tree as the layout imported, and as umoci unpacks it
  "$CAIRN" --repo r import oci img:t1 -b imported >/dev/null
  commit_umoci_unpack img t1 r unpacked
  assert_streq "$(root_tree r test/img/t1)" "$(root_tree r imported)"
  assert_streq "$(root_tree r test/img/t1)" "$(root_tree r unpacked)"
  "$CAIRN" --repo r ls test/img/t1 /data > ls
  assert_file_has_content ls keep
  assert_not_file_has_content ls gone
  "$CAIRN" --repo r show test/img/t1 > show
  digest=$(skopeo inspect --tls-verify=false "docker://$REG/test/img:t1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
  assert_file_has_content show "cairn.oci.source: docker://$REG/test/img:t1"
  assert_file_has_content show "cairn.oci.manifest-digest: $digest"
  assert_file_has_content show "cairn.oci.cmd: \['/bin/sh', '-c', 'cat /etc/motd /etc/v'\]"
  assert_file_has_content show "cairn.oci.labels: {'org.example.role': 'test'}"
  # and it runs, with the image's command
  out=$("$CAIRN" --repo r run test/img/t1)
  assert_streq "$out" "hello from the registry
1"
  "$CAIRN" --repo r fsck >/dev/null
  ostree --repo=r fsck >/dev/null
}

t_pull_update() {
  setup
  start_registry reg
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  skopeo_push oci:img:t2 test/img:t2
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  "$CAIRN" --repo r pull --tls-verify=false --json "docker://$REG/test/img:t1" > p1.json
  c1=$(json_field commit < p1.json)
  # unchanged: only the manifest is fetched, the ref stays
  "$CAIRN" --repo r pull --tls-verify=false --json "docker://$REG/test/img:t1" > p2.json
  assert_streq "$(json_field up_to_date < p2.json)" True
  assert_streq "$(json_field commit < p2.json)" "$c1"
  [ "$(json_field bytes_fetched < p2.json)" -lt 2000 ] || { echo "assert: fetched more than the manifest"; exit 1; }
  # t2 shares two of three layers: only the new layer (with its manifest and
  # config) comes over the wire
  : > reg/log
  "$CAIRN" --repo r pull --tls-verify=false --json -b t2 "docker://$REG/test/img:t2" > p3.json
  assert_streq "$(json_field layers_cached < p3.json)" 2
  new=$(last_layer img t2)
  new_size=$(blob_size img "$new")
  got=$(json_field bytes_fetched < p3.json)
  info "t2: new layer $new_size bytes, $got bytes fetched"
  [ "$got" -ge "$new_size" ] && [ "$got" -le $((new_size + 4096)) ] ||
    { echo "assert: fetched $got bytes for a new layer of $new_size"; exit 1; }
  assert_streq "$(grep -c 'GET /v2/test/img/blobs/' reg/log)" 2   # the config and the new layer
  assert_file_has_content reg/log "GET /v2/test/img/blobs/$new"
  "$CAIRN" --repo r import oci img:t2 -b t2-imported >/dev/null
  assert_streq "$(root_tree r t2)" "$(root_tree r t2-imported)"
  # the tag moved to t2's content: the ref's commit gets a child
  skopeo_push oci:img:t2 test/img:t1
  "$CAIRN" --repo r pull --tls-verify=false --json "docker://$REG/test/img:t1" > p4.json
  assert_streq "$(json_field layers_cached < p4.json)" 3
  [ "$(json_field bytes_fetched < p4.json)" -lt 4000 ] || { echo "assert: layers fetched again"; exit 1; }
  "$CAIRN" --repo r log test/img/t1 | grep -c '^commit' > n
  assert_streq "$(cat n)" 2
  assert_streq "$(root_tree r test/img/t1)" "$(root_tree r t2)"
  # prune keeps the layer cache (refs) and everything stays consistent
  "$CAIRN" --repo r prune >/dev/null
  "$CAIRN" --repo r refs | grep -c '^cairn/oci/layers/sha256/' > n
  assert_streq "$(cat n)" 4
  "$CAIRN" --repo r fsck >/dev/null
  ostree --repo=r fsck >/dev/null
}

t_pull_index() {
  setup
  [ "$(uname -m)" = x86_64 ] || skip "the fixture's platforms are amd64 and arm64"
  start_registry reg
  make_layered_images img
  # an arm64 image: t2's content, config architecture arm64
  umoci tag --image img:t2 arm
  umoci config --image img:arm --architecture=arm64
  python3 - <<'PY'
import json, hashlib
idx = json.load(open("img/index.json"))
pick = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}
def plat(m, arch):
    d = dict(m); d.pop("annotations", None); d["platform"] = {"os": "linux", "architecture": arch}; return d
multi = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [plat(pick["arm"], "arm64"), plat(pick["t1"], "amd64")]}
b = json.dumps(multi).encode(); h = hashlib.sha256(b).hexdigest()
open("img/blobs/sha256/" + h, "wb").write(b)
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + h,
                         "size": len(b), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open("img/index.json", "w"))
PY
  # shellcheck disable=SC2046
  skopeo copy -q --all $(skopeo_dest_opts) oci:img:multi "docker://$REG/test/multi:latest"
  "$CAIRN" --repo r init --mode=archive >/dev/null
  "$CAIRN" --repo r import oci img:t1 -b amd >/dev/null
  "$CAIRN" --repo r import oci img:arm -b arm >/dev/null
  "$CAIRN" --repo r pull --tls-verify=false "docker://$REG/test/multi" >/dev/null
  assert_streq "$(root_tree r test/multi/latest)" "$(root_tree r amd)"
  "$CAIRN" --repo r show test/multi/latest | grep -q 'cairn.oci.architecture: amd64'
  "$CAIRN" --repo r pull --tls-verify=false --platform=linux/arm64 -b m-arm "docker://$REG/test/multi" >/dev/null
  assert_streq "$(root_tree r m-arm)" "$(root_tree r arm)"
  "$CAIRN" --repo r show m-arm | grep -q 'cairn.oci.architecture: arm64'
  assert_fails "$CAIRN" --repo r pull --tls-verify=false --platform=linux/s390x -b m-s390x "docker://$REG/test/multi"
  assert_file_has_content "$T/err" "no manifest for platform linux/s390x (available: .*(linux/arm64), .*(linux/amd64))"
  assert_repo_clean r m-s390x
}

t_pull_push_https() {
  setup
  start_registry reg --tls
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  # the test CA is not trusted by default
  assert_fails "$CAIRN" --repo r pull "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "docker://$REG/test/img: https://$REG/v2/: .*certificate"
  assert_repo_clean r test/img/t1
  "$CAIRN" --repo r pull --cert-dir=reg/ca "docker://$REG/test/img:t1" >/dev/null
  "$CAIRN" --repo r pull --tls-verify=false -b insecure "docker://$REG/test/img:t1" >/dev/null
  assert_streq "$(root_tree r test/img/t1)" "$(root_tree r insecure)"
  d=$("$CAIRN" --repo r push --cert-dir=reg/ca test/img/t1 "docker://$REG/back/img:v1")
  skopeo inspect --cert-dir=reg/ca "docker://$REG/back/img:v1" | grep -q "\"Digest\": \"$d\""
  # a missing --cert-dir is named
  assert_fails "$CAIRN" --repo r pull --cert-dir=nodir -b x "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "cert-dir nodir"
}

auth_json() { printf '{"auths":{"%s":{"auth":"%s"}}}' "$1" "$(printf %s "$2" | base64 -w0)"; }

t_htpasswd() {
  setup
  start_registry reg --htpasswd alice:s3cret
  REG_CREDS=alice:s3cret
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  # 401 without credentials: a clear error, nothing stored under the ref
  assert_fails "$CAIRN" --repo r pull --tls-verify=false "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "docker://$REG/test/img: authentication required (401) and no credentials for $REG"
  assert_repo_clean r test/img/t1
  assert_fails "$CAIRN" --repo r pull --tls-verify=false --creds=alice:wrong "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "refused the credentials of 'alice'"
  assert_repo_clean r test/img/t1
  "$CAIRN" --repo r pull --tls-verify=false --creds=alice:s3cret -b creds "docker://$REG/test/img:t1" >/dev/null
  # podman's auth file, then docker's
  mkdir -p run/containers; auth_json "$REG" alice:s3cret > run/containers/auth.json
  "$CAIRN" --repo r pull --tls-verify=false -b podman-auth "docker://$REG/test/img:t1" >/dev/null
  rm run/containers/auth.json
  mkdir -p home/.docker; auth_json "http://$REG" alice:s3cret > home/.docker/config.json
  "$CAIRN" --repo r pull --tls-verify=false -b docker-auth "docker://$REG/test/img:t1" >/dev/null
  # a host/namespace key matches too, and --authfile wins
  auth_json "$REG/test" alice:s3cret > other.json
  rm home/.docker/config.json
  "$CAIRN" --repo r pull --tls-verify=false --authfile=other.json -b authfile "docker://$REG/test/img:t1" >/dev/null
  assert_streq "$(root_tree r podman-auth)" "$(root_tree r creds)"
  assert_streq "$(root_tree r docker-auth)" "$(root_tree r creds)"
  assert_streq "$(root_tree r authfile)" "$(root_tree r creds)"
  "$CAIRN" --repo r push --tls-verify=false --creds=alice:s3cret creds "docker://$REG/pushed/img:v1" >/dev/null
  skopeo inspect --tls-verify=false --creds=alice:s3cret "docker://$REG/pushed/img:v1" >/dev/null
  printf 'not json' > bad.json
  assert_fails "$CAIRN" --repo r pull --tls-verify=false --authfile=bad.json -b x "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "bad.json"
}

t_token() {
  setup
  start_registry reg --token bob:pa55
  REG_CREDS=bob:pa55
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  assert_fails "$CAIRN" --repo r pull --tls-verify=false "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "the token server http://127.0.0.1:$TOKEN_PORT/token refused an anonymous request (401)"
  assert_repo_clean r test/img/t1
  : > reg/token.log
  "$CAIRN" --repo r pull --tls-verify=false --creds=bob:pa55 "docker://$REG/test/img:t1" >/dev/null
  assert_file_has_content reg/token.log "^bob repository:test/img:pull$"
  "$CAIRN" --repo r import oci img:t1 -b imported >/dev/null
  assert_streq "$(root_tree r test/img/t1)" "$(root_tree r imported)"
  "$CAIRN" --repo r push --tls-verify=false --creds=bob:pa55 test/img/t1 "docker://$REG/cairn/img:v1" >/dev/null
  assert_file_has_content reg/token.log "^bob repository:cairn/img:pull,push$"
  # a second repository: the blobs are mounted, with a token for both
  "$CAIRN" --repo r push --tls-verify=false --creds=bob:pa55 --json test/img/t1 "docker://$REG/cairn/img2:v1" > push.json
  assert_streq "$(json_field blobs_mounted < push.json)" 2
  assert_streq "$(json_field blobs_uploaded < push.json)" 0
  assert_file_has_content reg/token.log "^bob repository:cairn/img2:pull,push repository:cairn/img:pull$"
  skopeo inspect --tls-verify=false --creds=bob:pa55 "docker://$REG/cairn/img2:v1" >/dev/null
}

t_push_roundtrip() {
  setup
  start_registry reg
  busybox_tree tree
  mkdir -p tree/data/old; echo a > tree/data/a; echo x > tree/data/old/x; echo gone > tree/gone
  "$CAIRN" --repo r init --mode=bare >/dev/null
  "$CAIRN" --repo r commit -b app -s one tree >/dev/null
  rm -rf tree/data/old tree/gone; echo b > tree/data/b; echo now-a-file > tree/data/old
  chmod 0700 tree/data
  "$CAIRN" --repo r commit -b app -s two tree >/dev/null
  for how in single parents; do
    "$CAIRN" --repo r push --tls-verify=false --json --layers=$how app "docker://$REG/cairn/app:$how" > $how.json
    d=$(json_field digest < $how.json)
    # skopeo reads it, umoci unpacks it to the commit's tree
    skopeo inspect --tls-verify=false "docker://$REG/cairn/app:$how" > inspect
    assert_file_has_content inspect "\"Digest\": \"$d\""
    skopeo copy -q --src-tls-verify=false "docker://$REG/cairn/app:$how" "oci:out:$how"
    commit_umoci_unpack out $how r unpacked-$how
    assert_streq "$(root_tree r unpacked-$how)" "$(root_tree r app)"
    # and cairn pulls it back to the same tree
    "$CAIRN" --repo r pull --tls-verify=false -b back-$how "docker://$REG/cairn/app:$how" >/dev/null
    assert_streq "$(root_tree r back-$how)" "$(root_tree r app)"
  done
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["layers"]))' \
    "out/blobs/sha256/$(json_field digest < parents.json | cut -d: -f2)" > n
  assert_streq "$(cat n)" 2
  # reproducible: the same commit gives the same digest, in a registry and in a layout
  "$CAIRN" --repo r push --tls-verify=false --json app "docker://$REG/cairn/again:x" > again.json
  assert_streq "$(json_field digest < again.json)" "$(json_field digest < single.json)"
  assert_streq "$("$CAIRN" --repo r export app --format=oci layout:x)" "$(json_field digest < single.json)"
  # chunked uploads (every blob in 4 KiB chunks) give the same image
  : > reg/log
  "$CAIRN" --repo r push --tls-verify=false --json --chunk-size=4K --compress=zstd app "docker://$REG/cairn/chunked:z" > chunked.json
  assert_file_has_content reg/log '"PATCH /v2/cairn/chunked/blobs/uploads/'
  [ "$(grep -c '"PATCH /v2/cairn/chunked/blobs/uploads/' reg/log)" -gt 10 ] || { echo "assert: too few chunks"; exit 1; }
  skopeo copy -q --src-tls-verify=false "docker://$REG/cairn/chunked:z" oci:zlayout:z
  "$CAIRN" --repo r import oci zlayout:z -b chunked-back >/dev/null
  assert_streq "$(root_tree r chunked-back)" "$(root_tree r app)"
  # a monolithic push sends each blob in one PUT, no PATCH (new blobs:
  # those of app are known to be in cairn/app and would be mounted)
  echo 3 > tree/data/c
  "$CAIRN" --repo r commit -b app3 tree >/dev/null
  : > reg/log
  "$CAIRN" --repo r push --tls-verify=false app3 "docker://$REG/cairn/mono:m" >/dev/null
  assert_not_file_has_content reg/log '"PATCH '
  assert_file_has_content reg/log '"PUT /v2/cairn/mono/blobs/uploads/.*digest=sha256'
  # pushing again: every blob is there already (HEAD), nothing uploaded
  "$CAIRN" --repo r push --tls-verify=false --json app3 "docker://$REG/cairn/mono:m" > again.json
  assert_streq "$(json_field blobs_present < again.json)" 2
  assert_streq "$(json_field blobs_uploaded < again.json)" 0
  # the image's defaults travel: run what we pushed, after pulling it back
  "$CAIRN" --repo r run back-single -- /bin/cat /data/old > out.txt
  assert_streq "$(cat out.txt)" now-a-file
}

t_bad_input() {
  setup
  start_registry reg
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  R=r
  pull() { "$CAIRN" --repo $R pull --tls-verify=false -b "$1" "docker://$2"; }
  # an unknown tag
  assert_fails pull x "$REG/test/img:nope"
  assert_file_has_content "$T/err" "docker://$REG/test/img: manifest nope: HTTP 404: manifest unknown (MANIFEST_UNKNOWN)"
  assert_repo_clean r x
  # a layer with ../ and one with an absolute path
  python3 "$CAIRN_TOP_SRCDIR/tests/evil-tar.py" evil >/dev/null
  for case in dotdot absolute; do
    f=$(ls evil/*$case*.tar | head -1)
    umoci tag --image img:t1 $case
    umoci raw add-layer --image img:$case "$f"
    skopeo_push oci:img:$case test/evil:$case
    assert_fails pull $case "$REG/test/evil:$case"
    assert_file_has_content "$T/err" "docker://$REG/test/evil: layer sha256:[0-9a-f]*: entry"
    assert_file_has_content "$T/err" "'..' component\|absolute path"
    assert_repo_clean r $case
  done
  # a blob whose content does not match its digest (changed in the storage;
  # in a fresh repository: the evil images share t1's layers, now cached)
  "$CAIRN" --repo r2 init --mode=bare-user >/dev/null
  l=$(last_layer img t1)
  data=reg/data/docker/registry/v2/blobs/sha256/${l:7:2}/${l#sha256:}/data
  cp "$data" blob.bak
  python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-20]^=1; open(p,"wb").write(b)' "$data"
  assert_fails "$CAIRN" --repo r2 pull --tls-verify=false -b tampered "docker://$REG/test/img:t1"
  assert_file_has_content "$T/err" "blob $l: digest mismatch (content hashes to sha256:"
  assert_repo_clean r2 tampered
  assert_not_has_file r2/extensions/cairn/oci-partial/${l#sha256:}
  ! "$CAIRN" --repo r2 refs | grep -q "${l#sha256:}" || { echo "assert: the bad layer is cached"; exit 1; }
  cp blob.bak "$data"
  # a manifest too large (the rest in r2 too, where t1's layers are not cached)
  R=r2
  start_proxy bigmanifest=big
  assert_fails pull big "$PROXY/test/img:big"
  assert_file_has_content "$T/err" "manifest big is too large (more than 4 MiB)"
  assert_repo_clean $R big
  stop_proxy
  # a registry that hangs in the middle of a blob
  start_proxy hang=100
  start=$(date +%s)
  CAIRN_REGISTRY_TIMEOUT=2 assert_fails pull hang "$PROXY/test/img:t1"
  took=$(( $(date +%s) - start ))
  info "stalled registry refused in $took s"
  [ $took -lt 20 ] || { echo "assert: took $took s"; exit 1; }
  assert_file_has_content "$T/err" "stalled: no data for 2 s"
  assert_repo_clean $R hang
  stop_proxy
  # one that always closes the connection in the middle of a blob
  start_proxy cut=50
  assert_fails pull cut "$PROXY/test/img:t1"
  assert_file_has_content "$T/err" "the connection closed after .* of .* bytes\|transfer closed with"
  assert_repo_clean $R cut
  stop_proxy
  # the good image still pulls, from what the failed pulls kept
  pull good "$REG/test/img:t1" >/dev/null
  "$CAIRN" --repo $R fsck >/dev/null
  ostree --repo=$R fsck >/dev/null
}

t_resume() {
  setup
  start_registry reg
  make_layered_images img
  skopeo_push oci:img:t1 test/img:t1
  l1=$(python3 -c 'import json,sys; idx=json.load(open("img/index.json")); m=[x for x in idx["manifests"] if x["annotations"]["org.opencontainers.image.ref.name"]=="t1"][0]; print(json.load(open("img/blobs/sha256/"+m["digest"][7:]))["layers"][0]["digest"])')
  size=$(blob_size img "$l1")
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  # a connection cut once per blob: each download resumes with a Range request
  start_proxy cut=2000x2
  "$CAIRN" --repo r pull --tls-verify=false -b cut "docker://$PROXY/test/img:t1" >/dev/null
  assert_file_has_content proxy.log "GET /v2/test/img/blobs/$l1 bytes=2000-"
  assert_file_has_content proxy.log "GET /v2/test/img/blobs/$l1 bytes=4000-"
  stop_proxy
  "$CAIRN" --repo r refs --delete cut
  for d in $("$CAIRN" --repo r refs cairn/oci/layers); do "$CAIRN" --repo r refs --delete "$d"; done
  # a pull killed in the middle of the big layer keeps what it had
  : > proxy.log
  start_proxy slow=400000
  "$CAIRN" --repo r pull --tls-verify=false -b killed "docker://$PROXY/test/img:t1" >/dev/null 2>&1 &
  pid=$!
  part=r/extensions/cairn/oci-partial/${l1#sha256:}
  for _ in $(seq 1 200); do [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt 100000 ] && break; sleep 0.05; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  have=$(stat -c %s "$part")
  info "killed with $have of $size bytes of the first layer"
  [ "$have" -gt 0 ] && [ "$have" -lt "$size" ] || { echo "assert: nothing partial to resume ($have)"; exit 1; }
  stop_proxy
  assert_repo_clean r killed
  : > proxy.log
  start_proxy
  "$CAIRN" --repo r pull --tls-verify=false --json -b killed "docker://$PROXY/test/img:t1" > again.json
  assert_file_has_content proxy.log "GET /v2/test/img/blobs/$l1 bytes=$have-"
  # the small layers came whole before the kill: read again from their
  # partial files, not fetched (the only blob requests: the config and the rest of l1)
  assert_streq "$(grep -c 'GET /v2/test/img/blobs/' proxy.log)" 2
  got=$(json_field bytes_fetched < again.json)
  info "resumed: $got bytes fetched for a first layer of $size"
  "$CAIRN" --repo r import oci img:t1 -b imported >/dev/null
  assert_streq "$(root_tree r killed)" "$(root_tree r imported)"
  assert_not_has_file "$part"
  "$CAIRN" --repo r fsck >/dev/null
}

t_usage() {
  setup
  "$CAIRN" --repo r init >/dev/null
  assert_exit 1 "$CAIRN" --repo r pull "docker://Bad/Name"
  assert_file_has_content "$T/err" "invalid image reference 'docker://Bad/Name'"
  assert_exit 1 "$CAIRN" --repo r pull "docker://127.0.0.1:1/x@sha256:abc"
  assert_file_has_content "$T/err" "the digest must be sha256: and 64"
  assert_exit 2 "$CAIRN" --repo r pull --platform=linux/arm64 origin
  assert_exit 2 "$CAIRN" --repo r pull --tls-verify=maybe docker://x/y
  assert_exit 2 "$CAIRN" --repo r push app docker://a/b docker://c/d
  assert_exit 1 "$CAIRN" --repo r push app "docker://127.0.0.1:1/x@sha256:$(printf '0%.0s' $(seq 1 64))"
  assert_file_has_content "$T/err" "push to a tag"
  # nothing listens: the error names the registry
  port=$(free_port)
  assert_exit 1 "$CAIRN" --repo r pull --tls-verify=false "docker://127.0.0.1:$port/x/y:z"
  assert_file_has_content "$T/err" "docker://127.0.0.1:$port/x/y: .*127.0.0.1:$port"
}

run_test "pull over http: equals import and umoci unpack, image config recorded, runs" t_pull_http
run_test "pull again: unchanged manifest fetches nothing else; shared layers are not fetched" t_pull_update
run_test "pull of an image index: host platform, --platform, unknown platform" t_pull_index
run_test "https with a test CA: refused without it, --cert-dir, --tls-verify=false, push" t_pull_push_https
run_test "htpasswd: 401 without credentials, --creds, auth.json (podman, docker), --authfile" t_htpasswd
run_test "token auth (Python token server): anonymous refused, pull, push, mount scopes" t_token
run_test "push: skopeo and umoci read it, --layers=parents, reproducible, chunked, monolithic" t_push_roundtrip
run_test "bad input: unknown tag, ../ and absolute layers, tampered blob, huge manifest, hang, cut" t_bad_input
run_test "resume: cut connections continue with Range; a killed pull keeps its partial layer" t_resume
run_test "references and options: clear usage errors" t_usage
tests_done
