# tests/registry-lib.sh — a real OCI registry for the tests (sourced).
#
# start_registry DIR [--tls] [--htpasswd USER:PASS] [--token USER:PASS]
#   starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 at a free
#   port, with its config, storage and log under DIR; sets REG=127.0.0.1:PORT
#   and REG_PID, and registers its end (by pid) as a cleanup. --tls serves
#   https with a certificate of a test CA (DIR/ca/ca.crt, the directory
#   --cert-dir and skopeo's --dest-cert-dir read); --htpasswd turns on basic
#   authentication; --token turns on token authentication with
#   tests/registry-token-server.py as the token server (its log:
#   DIR/token.log). The registry's access log is DIR/log.
# make_layered_images DIR: an OCI layout with busybox images (see below).
# skopeo_push SRC REF: skopeo copy SRC docker://$REG/REF (plain http or the
#   test CA, with $REG_CREDS when set).

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A CA and a server certificate for 127.0.0.1 and localhost.
make_test_ca() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cairn test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
}

# bcrypt, the only hash docker-registry's htpasswd reads ($2b$ from crypt(3)).
bcrypt_line() {
  python3 -W ignore -c 'import crypt, sys; u, p = sys.argv[1].split(":", 1); print(u + ":" + crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$1"
}

start_token_server() {
  local dir=$1 creds=$2
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cairn test token signer" \
    -keyout "$dir/token.key" -out "$dir/token.crt" 2>/dev/null
  echo "$creds" > "$dir/token-users"
  : > "$dir/token.log"
  python3 "$CAIRN_TOP_SRCDIR/tests/registry-token-server.py" "$dir/token.key" "$dir/token.crt" \
    "$dir/token-users" "$dir/token.port" "$dir/token.log" 2> "$dir/token.err" &
  TOKEN_PID=$!
  add_cleanup "kill $TOKEN_PID"
  for _ in $(seq 1 100); do [ -s "$dir/token.port" ] && break; sleep 0.05; done
  [ -s "$dir/token.port" ] || { cat "$dir/token.err"; fatal "the token server did not start"; }
  TOKEN_PORT=$(cat "$dir/token.port")
}

write_registry_config() {
  local dir=$1 port=$2 tls=$3 auth=$4
  {
    printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$dir/data"
    printf '  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n  secret: cairn-test\n' "$port"
    if [ "$tls" = 1 ]; then
      printf '  tls:\n    certificate: %s\n    key: %s\n' "$dir/certs/server.crt" "$dir/certs/server.key"
    fi
    case $auth in
      htpasswd) printf 'auth:\n  htpasswd:\n    realm: cairn-test\n    path: %s\n' "$dir/htpasswd" ;;
      token) printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: cairn-test-registry\n    issuer: cairn-test-issuer\n    rootcertbundle: %s\n' \
               "$TOKEN_PORT" "$dir/token.crt" ;;
    esac
  } > "$dir/config.yml"
}

start_registry() {
  local dir=$1 tls=0 auth=none creds=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --tls) tls=1 ;;
      --htpasswd) auth=htpasswd; creds=$2; shift ;;
      --token) auth=token; creds=$2; shift ;;
    esac
    shift
  done
  command -v docker-registry >/dev/null || skip "needs docker-registry"
  mkdir -p "$dir/data"
  if [ $tls = 1 ]; then
    make_test_ca "$dir/certs"
    # what a client's --cert-dir holds: the CA only
    mkdir -p "$dir/ca" && cp "$dir/certs/ca.crt" "$dir/ca/"
  fi
  [ $auth = htpasswd ] && bcrypt_line "$creds" > "$dir/htpasswd"
  [ $auth = token ] && start_token_server "$dir" "$creds"
  local scheme=http; [ $tls = 1 ] && scheme=https
  for _ in 1 2 3 4 5; do
    local port; port=$(free_port)
    write_registry_config "$dir" "$port" $tls $auth
    docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 1 100); do
      kill -0 $REG_PID 2>/dev/null || break
      curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" && break
      sleep 0.05
    done
    if kill -0 $REG_PID 2>/dev/null; then
      add_cleanup "kill $REG_PID"
      REG=127.0.0.1:$port
      REG_DIR=$dir
      return 0
    fi
  done
  cat "$dir/log"
  fatal "docker-registry did not start"
}

# The skopeo options that reach $REG.
skopeo_dest_opts() {
  if [ -d "$REG_DIR/ca" ]; then echo "--dest-cert-dir=$REG_DIR/ca"; else echo "--dest-tls-verify=false"; fi
  if [ -n "${REG_CREDS:-}" ]; then echo "--dest-creds=$REG_CREDS"; fi
}
skopeo_src_opts() { skopeo_dest_opts | sed 's/--dest-/--src-/'; }

skopeo_push() {
  # shellcheck disable=SC2046
  skopeo copy -q $(skopeo_dest_opts) "$1" "docker://$REG/$2"
}

# A busybox rootfs layer, as a directory.
busybox_tree() {
  local r=$1
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/dev" "$r/sys"
  cp "$(command -v busybox)" "$r/bin/busybox"
  ln -sf busybox "$r/bin/sh"; ln -sf busybox "$r/bin/cat"; ln -sf busybox "$r/bin/ls"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
}

# tar of a directory's contents as a layer (GNU tar, numeric root owners).
layer_tar() { tar --numeric-owner --owner=0 --group=0 -C "$1" -cf "$2" .; }

# make_layered_images DIR: an OCI layout with
#   :t1  3 layers: L1 busybox, L2 etc/motd + data/keep + data/gone,
#        L3 etc/v=1, a whiteout of data/gone and an opaque data/opq/;
#        config Cmd [/bin/sh -c 'cat /etc/motd /etc/v'], Env, WorkingDir, Labels
#   :t2  L1 and L2 shared with t1, L3' etc/v=2 (only that layer is new)
make_layered_images() {
  local dir=$1 w
  w=$(mktemp -d "${TMPDIR:-/tmp}/layers.XXXXXX")
  busybox_tree "$w/l1"
  mkdir -p "$w/l2/etc" "$w/l2/data/opq"
  echo "hello from the registry" > "$w/l2/etc/motd"
  echo keep > "$w/l2/data/keep"; echo gone > "$w/l2/data/gone"; echo old > "$w/l2/data/opq/old"
  mkdir -p "$w/l3/etc" "$w/l3/data/opq" "$w/l3b/etc"
  echo 1 > "$w/l3/etc/v"; : > "$w/l3/data/.wh.gone"; : > "$w/l3/data/opq/.wh..wh..opq"
  echo new > "$w/l3/data/opq/new"
  echo 2 > "$w/l3b/etc/v"
  for l in l1 l2 l3 l3b; do layer_tar "$w/$l" "$w/$l.tar"; done
  umoci init --layout "$dir"
  umoci new --image "$dir:t1"
  umoci raw add-layer --image "$dir:t1" "$w/l1.tar"
  umoci raw add-layer --image "$dir:t1" "$w/l2.tar"
  umoci config --image "$dir:t1" --config.cmd /bin/sh --config.cmd -c \
    --config.cmd 'cat /etc/motd /etc/v' --config.env FOO=bar --config.workingdir /data \
    --config.label org.example.role=test
  umoci tag --image "$dir:t1" t2
  umoci raw add-layer --image "$dir:t1" "$w/l3.tar"
  umoci raw add-layer --image "$dir:t2" "$w/l3b.tar"
  rm -rf "$w"
}

# The size of a blob of a layout, by digest.
blob_size() { stat -c %s "$1/blobs/sha256/${2#sha256:}"; }
# The digest of the last layer of a layout's TAG.
last_layer() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(d + "/index.json"))
m = [x for x in idx["manifests"] if x.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
man = json.load(open(d + "/blobs/sha256/" + m["digest"][7:]))
print(man["layers"][-1]["digest"])
PY
}
