# tests/bench/scenario-pull.sh — pulls of the Debian minbase rootfs:
#   1. first pull over HTTP into bare-user: cairn pull vs ostree pull, same
#      server (nginx when installed, else python's threaded http.server),
#      loopback;
#   2. pull from a local path into bare-user: cairn pull PATH vs ostree
#      pull-local (same mode, same filesystem: both hardlink);
#   3. update pull over ssh (a new commit with 10 changed files; each run
#      starts from a new hardlinked copy, nothing is deleted): cairn's ssh
#      transport vs `rsync -az` over the same ssh, to a real sshd inside a
#      private network namespace; time (median) and bytes on the wire (both
#      directions, counted by a relay between the client and ssh).

_pull_nginx_conf() { # ROOT PORT DIR
  cat > "$3/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $3/nginx.pid;
error_log $3/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$2; root $1; location / { } }
}
EOF
}

# Start a static server for ROOT on 127.0.0.1; sets PULL_PORT and PULL_SRV_PID.
_pull_start_server() {
  local root=$1 W=$BENCH_WORK
  if command -v nginx >/dev/null; then
    PULL_PORT=18080
    _pull_nginx_conf "$root" $PULL_PORT "$W"
    nginx -c "$W/nginx.conf" -p "$W" > "$W/nginx.out" 2>&1 &
    PULL_SRV_PID=$!; PULL_SERVER=nginx
  else
    python3 -u -m http.server --bind 127.0.0.1 --directory "$root" 0 > "$W/httpd.log" 2>&1 &
    PULL_SRV_PID=$!; PULL_SERVER="python3 http.server (threaded)"
    for _ in $(seq 1 100); do
      PULL_PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$W/httpd.log" | head -n1)
      [ -n "$PULL_PORT" ] && break; sleep 0.05
    done
  fi
  sleep 0.5
  echo "bench: HTTP server: $PULL_SERVER on 127.0.0.1:$PULL_PORT" >&2
}

_pull_http_and_local() {
  local R=$1 W=$BENCH_WORK
  chmod 0755 "$W" # nginx workers run as www-data
  ostree --repo="$W/ar" init --mode=archive
  ostree --repo="$W/ar" commit -b app --tree=dir="$R" >/dev/null
  ostree --repo="$W/ar" summary -u
  _pull_start_server "$W/ar"
  local url="http://127.0.0.1:$PULL_PORT/"
  bench_compare "pull: first pull over HTTP into bare-user, Debian minbase ($PULL_SERVER)" \
    --target 'ostree<=0.6' \
    --prepare "$(bench_fresh_remotes_prepare bare-user "$url")" \
    cairn="$CAIRN --repo=$W/cur/c pull origin app" \
    ostree="ostree --repo=$W/cur/o pull origin app >/dev/null"
  kill "$PULL_SRV_PID"; wait "$PULL_SRV_PID" 2>/dev/null || true
  # The local source: a bare-user repo holding the tree.
  $CAIRN --repo="$W/bu" init --mode=bare-user >/dev/null
  $CAIRN --repo="$W/bu" pull "$W/ar" app >/dev/null
  bench_compare "pull: from a local path into bare-user (hardlinks), Debian minbase" \
    --target 'ostree-pull-local<=0.7' \
    --prepare "$(bench_fresh_repos_prepare bare-user)" \
    cairn="$CAIRN --repo=$W/cur/c pull $W/bu app" \
    ostree-pull-local="ostree --repo=$W/cur/o pull-local $W/bu app >/dev/null"
}

# A relay between the client and ssh that counts bytes both ways into $COUNT_FILE.
_pull_counting_ssh() {
  cat > "$BENCH_WORK/count-ssh" <<'EOF'
#!/usr/bin/env python3
import os, subprocess, sys, threading
p = subprocess.Popen(os.environ["REAL_SSH"].split() + sys.argv[1:], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
n = [0, 0]
def pump(src, dst, i, close):
    while True:
        b = os.read(src, 1 << 16)
        if not b:
            break
        n[i] += len(b)
        os.write(dst, b)
    if close:
        close()
t = threading.Thread(target=pump, args=(0, p.stdin.fileno(), 0, p.stdin.close), daemon=True)
t.start()
pump(p.stdout.fileno(), 1, 1, None)
rc = p.wait()
with open(os.environ["COUNT_FILE"], "a") as f:
    f.write("%d %d\n" % (n[0], n[1]))
sys.exit(rc)
EOF
  chmod +x "$BENCH_WORK/count-ssh"
}

_pull_ssh_in_ns() { # runs inside the network namespace
  local R=$1 W=$BENCH_WORK
  ip link set lo up
  /usr/sbin/sshd -f "$W/sshd_config" -E "$W/sshd.log"
  for _ in $(seq 1 100); do [ -s "$W/sshd.pid" ] && break; sleep 0.05; done
  local SSH="ssh -i $W/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -p 2222"
  # v1 and v2 (10 files changed) as trees for rsync, and as commits for cairn.
  cp -a "$R" "$W/v2"
  local i=0
  for f in $(cd "$W/v2" && find usr/share/doc etc -type f -size +2k -size -40k | sort | head -n 10); do
    printf 'changed for the update bench %d\n' $i >> "$W/v2/$f"; i=$((i + 1))
  done
  $CAIRN --repo="$W/srv" init --mode=bare-user >/dev/null
  $CAIRN --repo="$W/srv" commit -b app "$R" >/dev/null
  $CAIRN --repo="$W/base" init --mode=bare-user >/dev/null
  $CAIRN --repo="$W/base" pull "$W/srv" app >/dev/null
  $CAIRN --repo="$W/srv" commit -b app "$W/v2" >/dev/null
  cp -a "$R" "$W/rs-base"
  export CAIRN_SSH="$SSH" CAIRN_SSH_REMOTE_CAIRN="$CAIRN"
  local url="ssh://root@127.0.0.1:2222$W/srv"
  bench_compare "pull: update (10 changed files) over ssh, Debian minbase" \
    --target 'rsync<=1.0' \
    --prepare "n=\$(( \$(cat $W/.nu 2>/dev/null || echo 0) + 1 )); echo \$n > $W/.nu; cp -al $W/base $W/cu-\$n; cp -al $W/rs-base $W/ru-\$n; ln -sfn cu-\$n $W/cu; ln -sfn ru-\$n $W/ru; sync" \
    cairn="$CAIRN --repo=$W/cu pull $url app" \
    rsync="rsync -az -e '$SSH' root@127.0.0.1:$W/v2/ $W/ru/"
  # Bytes on the wire, both directions, through the same ssh.
  _pull_counting_ssh
  export REAL_SSH="$SSH" COUNT_FILE="$W/count-cairn"
  cp -al "$W/base" "$W/cu-bytes"
  CAIRN_SSH="$W/count-ssh" $CAIRN --repo="$W/cu-bytes" pull "$url" app
  cp -al "$W/rs-base" "$W/ru-bytes"
  COUNT_FILE="$W/count-rsync" rsync -az -e "$W/count-ssh" "root@127.0.0.1:$W/v2/" "$W/ru-bytes/"
  local cb rb
  cb=$(awk '{s += $1 + $2} END {print s}' "$W/count-cairn")
  rb=$(awk '{s += $1 + $2} END {print s}' "$W/count-rsync")
  echo "pull: update over ssh, bytes on the wire (both directions): cairn $cb, rsync -az $rb, ratio $(python3 -c "print(round($cb / $rb, 3))") (target <= 1.0)"
  printf '{"label": "pull: update over ssh, bytes on the wire", "cairn": %s, "rsync": %s}\n' "$cb" "$rb" >> "$BENCH_RESULTS"
  kill "$(cat "$W/sshd.pid")"
}

scenario_pull() {
  command -v ostree >/dev/null || { echo "bench: ostree not installed" >&2; return 1; }
  local R; R=$(bench_debian_rootfs) || return 1
  local W=$BENCH_WORK
  _pull_http_and_local "$R"
  command -v rsync >/dev/null && [ -x /usr/sbin/sshd ] || { echo "bench: rsync/sshd missing" >&2; return 1; }
  ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$W/id"
  cp "$W/id.pub" "$W/authorized_keys"; chmod 600 "$W/authorized_keys"
  cat > "$W/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 2222
HostKey $W/hostkey
AuthorizedKeysFile $W/authorized_keys
PidFile $W/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
  mkdir -p /run/sshd
  BENCH_RESULTS=$BENCH_RESULTS BENCH_RUNS=$BENCH_RUNS BENCH_WORK=$W CAIRN=$CAIRN \
    unshare --net bash -c '. "$0"; . "$1"; _pull_ssh_in_ns "$2"' \
    "$BENCH_DIR/lib.sh" "$BENCH_DIR/scenario-pull.sh" "$R"
}
