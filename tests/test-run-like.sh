#!/bin/bash
# cairn run as podman users expect it: a clean environment, the familiar
# flags, filesystem defaults, /etc files given without writing the store,
# pasta with published ports both ways, named containers (ps, exec, logs,
# stats, stop, kill, rm) on the OCI runtime's state, rootless, and the shell
# completion generated from the option tables.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"

# Debian's python3 (dev.sh's TEST_DEPS), not the first python3 of PATH:
# the UDP cases run it inside too, from the host's /usr bound on /usr
PY=/usr/bin/python3

make_rootfs() {
  local r=$1
  mkdir -p $r/bin $r/etc $r/proc $r/dev $r/sys $r/root $r/home/app
  cp "$(command -v busybox)" $r/bin/busybox
  # the applets' links in one process, not one ln each (seconds on a loaded machine)
  $PY -c 'import os, sys
for a in sys.argv[2:]:
    if a != "busybox": os.symlink("busybox", os.path.join(sys.argv[1], a))' $r/bin $($r/bin/busybox --list)
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/home/app:/bin/sh\n' > $r/etc/passwd
  printf 'root:x:0:\napp:x:4321:\n' > $r/etc/group
  # the host's /usr, bound on /usr by the UDP cases (busybox has no UDP
  # server or client), finds its loader and libraries through these
  ln -s usr/lib $r/lib; ln -s usr/lib64 $r/lib64
}

end_case() {
  local rc=$? left
  trap - ERR
  left=$($CAIRN ps -a 2>/dev/null | awk 'NR > 1 {print $1}')
  [ -z "$left" ] || $CAIRN rm -f $left >/dev/null 2>&1 || true
  [ -z "$extra_pids" ] || kill $extra_pids 2>/dev/null || true
  exit $rc
}

setup() {
  require_cmd busybox $PY
  make_rootfs rootfs
  export CAIRN_REPO=$T/repo CAIRN_CONTAINERS=$T/containers
  # what a failed case leaves running is ended with it (the subshell's exit)
  extra_pids=
  trap end_case EXIT
  $CAIRN init >/dev/null
  $CAIRN commit -b app rootfs >/dev/null
}

# The store and the cached checkout are never written by a container.
store_intact() {
  $CAIRN fsck >/dev/null
  ostree --repo=repo fsck >/dev/null 2>&1 || { echo "ostree fsck failed"; exit 1; }
  local co; co=$(ls -d repo/extensions/cairn/checkouts/*/ | head -1)
  for f in data srv tmp/x; do
    assert_not_has_file "$co/$f"
  done
  # the mount points the cache made for them (checkout/cache.c) stay empty
  for f in etc/resolv.conf etc/hosts etc/hostname; do
    [ ! -s "$co/$f" ] || { echo "$co/$f was written"; exit 1; }
  done
}

t_env_hygiene() {
  require_root
  setup
  export SECRET_TOKEN=hunter2 PASSME=fromhost
  out=$($CAIRN run --net=none app -- /bin/env)
  echo "$out" | grep -q '^SECRET_TOKEN' && { echo "host variable leaked: $out"; exit 1; }
  echo "$out" | grep -q '^CAIRN_REPO' && { echo "CAIRN_REPO leaked"; exit 1; }
  echo "$out" | grep -qx 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  echo "$out" | grep -qx 'HOME=/root'
  echo "$out" | grep -qx 'container=cairn'
  echo "$out" | grep -q '^HOSTNAME=.'
  echo "$out" | grep -q '^TERM=' && { echo "TERM without a tty"; exit 1; }
  # nor through pid 1 (the init, run in the container's process): its
  # cmdline and environ are the init's, even to a process that may read them
  out=$($CAIRN run --net=none --cap-add=SYS_PTRACE app -- /bin/sh -c \
    'tr "\0" "\n" < /proc/1/cmdline; tr "\0" "\n" < /proc/1/environ')
  echo "$out" | grep -qx -- --container-init
  echo "$out" | grep -qx container=cairn
  echo "$out" | grep -q 'SECRET_TOKEN\|CAIRN_REPO\|--containers=' && { echo "pid 1 shows the host's: $out"; exit 1; }
  # HOME from the container user's passwd entry
  assert_streq "$($CAIRN run --net=none -u app app -- /bin/sh -c 'echo $HOME $(id -u)')" "/home/app 1234"
  # -e NAME=VALUE, -e NAME (the host's value), --env-file, --env-host
  printf '# comment\nFROMFILE=yes\nPASSME\n' > envf
  out=$($CAIRN run --net=none -e A=1 -e PASSME --env-file envf app -- /bin/env)
  echo "$out" | grep -qx A=1; echo "$out" | grep -qx PASSME=fromhost; echo "$out" | grep -qx FROMFILE=yes
  echo "$out" | grep -q '^SECRET_TOKEN' && exit 1
  assert_streq "$($CAIRN run --net=none --env-host app -- /bin/sh -c 'echo $SECRET_TOKEN')" hunter2
  # a variable the host lacks is left out, as podman does
  assert_streq "$($CAIRN run --net=none -e NOT_SET_ANYWHERE app -- /bin/sh -c 'echo ${NOT_SET_ANYWHERE-unset}')" unset
  # -t: a terminal, and TERM=xterm with it (podman's value)
  require_cmd script
  out=$(script -qec "$CAIRN run --net=none -t app -- /bin/sh -c 'tty; echo \$TERM'" /dev/null | tr -d '\r')
  echo "$out" | grep -q '^/dev/pts/'; echo "$out" | grep -qx xterm
  # -i: standard input reaches the container only when asked for
  assert_streq "$(echo hello | $CAIRN run --net=none -i app -- /bin/cat)" hello
  assert_streq "$(echo hello | $CAIRN run --net=none app -- /bin/cat)" ""
}

t_flags() {
  require_root
  setup
  # unknown options are usage errors naming the option, before and after REF
  assert_exit 2 $CAIRN run --bogus app -- /bin/true
  assert_file_has_content "$T/err" "--bogus"
  assert_exit 2 $CAIRN run -Z app
  assert_file_has_content "$T/err" "\-Z"
  assert_exit 2 $CAIRN run --read-only --writable app -- /bin/true
  # the command after REF keeps its own options
  assert_streq "$($CAIRN run --net=none app /bin/echo -e 'a\tb')" "$(printf 'a\tb')"
  # -w (made when the image lacks it), -u, --entrypoint, --hostname
  assert_streq "$($CAIRN run --net=none -w /no/such/dir -u 1234:4321 app -- /bin/sh -c 'echo $(pwd) $(id -u):$(id -g)')" "/no/such/dir 1234:4321"
  assert_streq "$($CAIRN run --net=none --entrypoint /bin/echo app one two)" "one two"
  assert_streq "$($CAIRN run --net=none --entrypoint '["/bin/sh","-c"]' app 'echo json')" "json"
  assert_streq "$($CAIRN run --net=none --hostname box app -- /bin/hostname)" box
  # limits: -m, --pids-limit, --cpus, in the container's own cgroup
  out=$($CAIRN run --net=none -m 64m --pids-limit 33 --cpus 0.5 app -- /bin/sh -c '
    if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max
    else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; q=$(cat /sys/fs/cgroup/cpu*/cpu.cfs_quota_us | head -1); p=$(cat /sys/fs/cgroup/cpu*/cpu.cfs_period_us | head -1); echo "$q $p"; fi')
  echo "$out" | grep -qx 67108864; echo "$out" | grep -qx 33; echo "$out" | grep -qx '50000 100000'
  # capabilities: --cap-drop, --cap-add (CAP_NET_RAW is bit 13, CAP_SYS_TIME 25)
  capeff() { printf '%d' "0x$(echo "$1" | awk '/^CapEff/ {print $2}')"; }
  c=$(capeff "$($CAIRN run --net=none app -- /bin/cat /proc/self/status)")
  [ $(( (c >> 13) & 1 )) = 1 ] && [ $(( (c >> 25) & 1 )) = 0 ] || { echo "default caps $c"; exit 1; }
  c=$(capeff "$($CAIRN run --net=none --cap-drop NET_RAW --cap-add SYS_TIME app -- /bin/cat /proc/self/status)")
  [ $(( (c >> 13) & 1 )) = 0 ] && [ $(( (c >> 25) & 1 )) = 1 ] || { echo "--cap-drop/--cap-add caps $c"; exit 1; }
  # --security-opt seccomp=unconfined|FILE
  $CAIRN run --net=none app -- /bin/grep -q '^Seccomp:.*2' /proc/self/status
  $CAIRN run --net=none --security-opt seccomp=unconfined app -- /bin/grep -q '^Seccomp:.*0' /proc/self/status
  echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}' > prof.json
  assert_exit 1 $CAIRN run --net=none --security-opt seccomp=$T/prof.json app -- /bin/mkdir /tmp/d
  assert_exit 2 $CAIRN run --security-opt label=disable app -- /bin/true
  # --init: pid 1 is the init; --no-init: the command
  assert_streq "$($CAIRN run --net=none --init app -- /bin/sh -c 'echo $$')" 2
  assert_streq "$($CAIRN run --net=none --no-init app -- /bin/sh -c 'echo $$')" 1
  # -d/--rm/--name: the container is gone after --rm
  $CAIRN run --net=none --rm --name=gone app -- /bin/true
  if $CAIRN ps --all | grep -q '^gone '; then echo "--rm left it"; exit 1; fi
  store_intact
}

t_filesystem_defaults() {
  require_root
  setup
  mkdir -p host/data; echo hostfile > host/data/f
  # /tmp, /run, /var/tmp: writable tmpfs; the root read-only
  $CAIRN run --net=none app -- /bin/sh -c 'for d in /tmp /run /var/tmp; do echo x > $d/x || exit 1; grep -q " $d tmpfs" /proc/mounts || exit 1; done; ! touch /x 2>/dev/null'
  # --read-only: strict, no tmpfs anywhere
  assert_exit 1 $CAIRN run --net=none --read-only app -- /bin/sh -c 'echo x > /tmp/x'
  # --writable: an overlay, gone with the container
  assert_streq "$($CAIRN run --net=none --writable app -- /bin/sh -c 'echo new > /srv; cat /srv')" new
  # binds onto paths missing in the image (a tmpfs overlay of their parent)
  assert_streq "$($CAIRN run --net=none -v $T/host/data:/data/in/here app -- /bin/cat /data/in/here/f)" hostfile
  assert_streq "$($CAIRN run --net=none -v $T/host/data:/etc/extra:ro app -- /bin/sh -c 'cat /etc/extra/f; cat /etc/passwd | head -1; echo y > /etc/extra/g 2>/dev/null || echo ro')" "hostfile
root:x:0:0:root:/root:/bin/sh
ro"
  echo y | $CAIRN run --net=none -i -v $T/host/data:/data app -- /bin/sh -c 'cat > /data/written'
  assert_file_has_content host/data/written '^y$'
  assert_exit 2 $CAIRN run -v relative:/x app -- /bin/true
  assert_exit 1 $CAIRN run -v $T/no/such:/x app -- /bin/true
  assert_file_has_content "$T/err" "$T/no/such"
  store_intact
}

t_etc_files() {
  require_root
  setup
  out=$($CAIRN run --net=none --dns 192.0.2.53 --add-host db.example:192.0.2.7 --hostname web app -- \
    /bin/sh -c 'cat /etc/resolv.conf /etc/hosts /etc/hostname; echo x > /etc/hosts 2>/dev/null || echo ro')
  echo "$out" | grep -qx 'nameserver 192.0.2.53'
  echo "$out" | grep -q '^192.0.2.7[[:space:]]*db.example$'
  echo "$out" | grep -q '^127.0.0.1[[:space:]].*localhost'
  echo "$out" | grep -qx web; echo "$out" | grep -qx ro
  # --net=host: the host's name servers, even when the image has no /etc/resolv.conf
  if [ -s /etc/resolv.conf ]; then
    $CAIRN run --net=host app -- /bin/cat /etc/resolv.conf > got
    grep '^nameserver' /etc/resolv.conf | head -1 > want
    grep -qxF "$(cat want)" got
  fi
  assert_exit 2 $CAIRN run --dns not-an-ip app -- /bin/true
  assert_exit 2 $CAIRN run --add-host nocolon app -- /bin/true
  store_intact
}

# free_port [tcp|udp]...: as many ports of 127.0.0.1 that nobody holds now
# (one TCP port without arguments)
free_port() {
  $PY -c 'import socket, sys
socks = [socket.socket(type=socket.SOCK_DGRAM if k == "udp" else socket.SOCK_STREAM) for k in sys.argv[1:] or ["tcp"]]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$@"
}

# $T/udp.py, run on the host and, with the host's /usr bound in, inside:
#   serve IP PORT...   each datagram is printed as "PORT DATA" and answered
#                      with "HOSTNAME:DATA" (the answer names its side)
#   ask IP PORT DATA   sends DATA until an answer comes (10 s), prints it
#   send IP PORT DATA  sends DATA for 0.3 s, answered or not
udp_tool() {
  cat > $T/udp.py <<'PY'
import select, socket, sys, time
cmd, ip, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
if cmd == "serve":
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, int(p)))
        socks[s] = p
    while True:
        for s in select.select(list(socks), [], [])[0]:
            data, peer = s.recvfrom(2048)
            print(socks[s], data.decode(), flush=True)
            s.sendto(socket.gethostname().encode() + b":" + data, peer)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.1)
end = time.monotonic() + (10 if cmd == "ask" else 0.3)
while time.monotonic() < end:
    s.sendto(ports[1].encode(), (ip, int(ports[0])))
    try:
        print(s.recv(2048).decode())
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no answer from %s:%s" % (ip, ports[0]) if cmd == "ask" else 0)
PY
}

t_pasta_publish() {
  require_root
  require_cmd pasta curl $PY
  setup
  udp_tool
  read -r hp up ut sp us <<< "$(free_port tcp udp udp tcp udp)"
  # host servers on 127.0.0.1, TCP and UDP, for the end: up by then
  echo host-ok > hostpage
  $PY -m http.server --bind 127.0.0.1 $sp --directory $T >/dev/null 2>&1 & spid=$!
  $PY udp.py serve 127.0.0.1 $us >/dev/null & extra_pids="$spid $!"
  # servers inside, reached from the host through published ports: httpd
  # (TCP), and python3 (the host's /usr bound in) answering UDP on the same
  # port number. On a translated UDP port (HOSTPORT:5353) Debian 12's pasta
  # (passt 0.0~git20230309) delivers the datagram but loses the answer (it
  # sends it on fd 0: ENOTSOCK, pasta alone as well): there the server's
  # log shows what arrived.
  mkdir -p www; echo inside-ok > www/index.html
  $CAIRN run -d --name=web -p 127.0.0.1:$hp:8080 -p 127.0.0.1:$up:$up/udp -p 127.0.0.1:$ut:5353/udp \
    -v $T/www:/www:ro -v $T/udp.py:/udp.py:ro -v /usr:/usr:ro app -- \
    /bin/sh -c "httpd -p 8080 -h /www; exec $PY /udp.py serve 0.0.0.0 $up 5353" >/dev/null
  assert_streq "$($PY udp.py ask 127.0.0.1 $up in-$up)" "web:in-$up"
  # httpd listened before the UDP server started
  assert_streq "$(curl -s --max-time 2 http://127.0.0.1:$hp/index.html)" inside-ok
  $PY udp.py send 127.0.0.1 $ut in-$ut >/dev/null
  for i in $(seq 1 30); do $CAIRN logs web | grep -qx "5353 in-$ut" && break; sleep 0.1; done
  $CAIRN logs web | grep -qx "5353 in-$ut" || { $CAIRN logs web; echo "nothing through $ut:5353/udp"; exit 1; }
  $CAIRN rm -f web >/dev/null
  # the host servers, reached from inside. cairn passes --no-map-gw
  # (podman 4's default): the host's loopback is reached through pasta's
  # -T/-U, which forward the container's loopback port to the host's, as
  # podman's --network=pasta:-T,PORT,-U,PORT
  for i in $(seq 1 50); do curl -s --max-time 1 http://127.0.0.1:$sp/hostpage >/dev/null && break; sleep 0.1; done
  out=$($CAIRN run --network=pasta:-T,$sp,-U,$us -v $T/udp.py:/udp.py:ro -v /usr:/usr:ro app -- /bin/sh -c \
    "wget -q -O - http://127.0.0.1:$sp/hostpage; $PY /udp.py ask 127.0.0.1 $us out-$us")
  assert_streq "$out" "host-ok
$(hostname):out-$us"
  # -p without pasta is refused, naming the network
  assert_exit 2 $CAIRN run --net=private -p 8080:80 app -- /bin/true
  assert_file_has_content "$T/err" 'private'
  store_intact
}

t_named_containers() {
  require_root
  setup
  $CAIRN run -d --net=none --name=box app -- /bin/sh -c 'echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done' > id
  assert_streq "$(cat id)" box
  assert_exit 125 $CAIRN run -d --net=none --name=box app -- /bin/true
  assert_file_has_content "$T/err" 'box'
  $CAIRN ps > ps.out
  grep -q '^box .* Up ' ps.out
  $CAIRN ps --json > ps.json
  python3 -c 'import json,sys; d=json.load(open("ps.json")); c=[x for x in d if x["name"]=="box"][0]; assert c["status"]=="running" and c["pid"]>0 and c["image"]=="app", c'
  # exec: a command in the running container, its status, -e, -w, -u
  assert_streq "$($CAIRN exec box /bin/cat /etc/hostname)" box
  assert_exit 3 $CAIRN exec box /bin/sh -c 'exit 3'
  assert_streq "$($CAIRN exec -e X=1 -w /tmp -u 1234 box /bin/sh -c 'echo $X $(pwd) $(id -u)')" "1 /tmp 1234"
  [ "$($CAIRN exec box /bin/sh -c 'cat /proc/1/cmdline | tr "\0" " "')" != "" ]
  assert_streq "$(echo in | $CAIRN exec -i box /bin/cat)" in
  assert_exit 1 $CAIRN exec nosuch /bin/true
  assert_file_has_content "$T/err" 'nosuch'
  # logs, logs -f (ends when the container stops)
  for i in $(seq 1 50); do $CAIRN logs box | grep -q 'tick 2' && break; sleep 0.1; done
  $CAIRN logs box | head -1 | grep -qx started
  $CAIRN logs -f box > follow & fpid=$!
  # stats: cgroup figures
  $CAIRN stats box | grep -q '^box '
  $CAIRN stats --json box > stats.json
  python3 -c 'import json; d=json.load(open("stats.json")); s=d[0]; assert s["name"]=="box" and s["pids"]>=1 and s["memory_bytes"]>0, s'
  # stop: TERM, then KILL after -t
  start=$(date +%s)
  $CAIRN stop -t 5 box >/dev/null
  [ $(( $(date +%s) - start )) -lt 5 ] || { echo "stop waited for KILL"; exit 1; }
  wait $fpid
  grep -q 'tick' follow
  $CAIRN ps | grep -q '^box ' && { echo "stopped container listed without --all"; exit 1; }
  $CAIRN ps --all | grep -q '^box .*Exited (143)'
  assert_exit 1 $CAIRN exec box /bin/true
  # kill: a container that ignores TERM
  # (the TERM is sent once the trap is set: sent earlier, it ends the shell)
  $CAIRN run -d --net=none --no-init --name=stubborn app -- /bin/sh -c 'trap "" TERM; echo trapped; while true; do sleep 0.2; done' >/dev/null
  for i in $(seq 1 50); do $CAIRN logs stubborn | grep -q trapped && break; sleep 0.1; done
  $CAIRN kill --signal=TERM stubborn
  sleep 0.5
  $CAIRN ps | grep -q '^stubborn .* Up '
  $CAIRN kill stubborn
  for i in $(seq 1 50); do $CAIRN ps | grep -q '^stubborn ' || break; sleep 0.1; done
  $CAIRN ps --all | grep -q '^stubborn .*Exited (137)'
  # rm: refuses a running one without -f; removes bundle and log
  $CAIRN run -d --net=none --name=live app -- /bin/sleep 100 >/dev/null
  assert_exit 1 $CAIRN rm live
  assert_file_has_content "$T/err" 'live'
  $CAIRN rm -f live box stubborn
  [ "$($CAIRN ps --all --json)" = "[]" ] || { $CAIRN ps --all; exit 1; }
  assert_not_has_file "$CAIRN_CONTAINERS/bundles/box"
  store_intact
}

t_rootless() {
  require_root
  require_cmd busybox $PY
  # a user of this script's own (test-run.sh and test-run-like.sh may run at
  # once: a shared name was deleted under the other's feet)
  local ru=cairnrl$$
  useradd -M -d /nonexistent "$ru"
  add_cleanup "userdel $ru"
  mkdir u; (cd u && make_rootfs rootfs); mkdir -p u/host; echo hostfile > u/host/f
  chown -R $ru u; chmod 0755 $T
  as_user() {
    (cd $T/u && ${tun:+with_tun $tun} runuser -u $ru -- env -i PATH="$PATH" SECRET_TOKEN=hunter2 \
      CAIRN_REPO=$T/u/repo CAIRN_CONTAINERS=$T/u/containers CAIRN_RUN_RECORDS=$T/u/records "$@")
  }
  as_user $CAIRN init >/dev/null
  as_user $CAIRN commit -b app rootfs >/dev/null
  # env hygiene, writable /tmp, a bind onto a missing path
  out=$(as_user $CAIRN run -v $T/u/host:/mnt/new/dir app -- /bin/sh -c 'env; echo x > /tmp/x && echo tmp-ok; cat /mnt/new/dir/f; id -u')
  echo "$out" | grep -q SECRET_TOKEN && { echo "leaked"; exit 1; }
  echo "$out" | grep -qx container=cairn; echo "$out" | grep -qx tmp-ok
  echo "$out" | grep -qx hostfile; echo "$out" | grep -qx 0
  echo "$out" | grep -qx 'HOME=/root'
  # named containers, rootless
  as_user $CAIRN run -d --name=rl app -- /bin/sh -c 'echo hi; sleep 100' >/dev/null
  for i in $(seq 1 50); do as_user $CAIRN logs rl | grep -q hi && break; sleep 0.1; done
  as_user $CAIRN logs rl | grep -qx hi
  as_user $CAIRN ps | grep -q '^rl .* Up '
  assert_streq "$(as_user $CAIRN exec rl /bin/sh -c 'echo $(id -u) $container')" "0 cairn"
  as_user $CAIRN stats rl | grep -q '^rl '
  as_user $CAIRN stop -t 2 rl >/dev/null
  as_user $CAIRN rm rl
  rootless_pasta
  as_user $CAIRN fsck >/dev/null
}

# pasta, rootless, both ways, TCP and UDP. pasta opens /dev/net/tun as the
# user; Debian makes it 0666, this host may keep it to root: the user is
# given a node of its own (10:200 on a tmpfs, bound over /dev/net/tun in a
# mount namespace of the run's), the host's device is left as it is. A node
# the user may not open (0600) fails `cairn run --net=pasta` in one line
# naming the device, and the default network falls back to loopback only.
rootless_pasta() {
  require_cmd pasta curl unshare $PY
  [ -c /dev/net/tun ] || skip "no /dev/net/tun here (the tun module), which pasta needs"
  mkdir $T/tun
  with_tun() {
    unshare -m --propagation private sh -ec 'mount -t tmpfs -o size=4k,mode=0755 tun "$1"
      mknod -m "$2" "$1/tun" c 10 200; mount --bind "$1/tun" /dev/net/tun; shift 2; exec "$@"' \
      sh $T/tun "$@"
  }
  tun=0666 as_user sh -c 'exec 3<>/dev/net/tun' 2>tun.err ||
    skip "an unprivileged user cannot open a 0666 10:200 node: $(cat tun.err) (a device cgroup or LSM denies tun)"
  udp_tool; cp $T/udp.py $T/u/; chmod 0644 $T/u/udp.py
  read -r hp up sp us <<< "$(free_port tcp udp tcp udp)"
  # host servers on 127.0.0.1, TCP and UDP, for "out" below
  echo host-ok > hostpage
  $PY -m http.server --bind 127.0.0.1 $sp --directory $T >/dev/null 2>&1 & spid=$!
  $PY udp.py serve 127.0.0.1 $us >/dev/null & add_cleanup "kill $spid $!"
  # in: TCP and UDP servers inside, through -p
  add_cleanup "as_user $CAIRN rm -f web"
  tun=0666 as_user $CAIRN run -d --name=web -p 127.0.0.1:$hp:8080 -p 127.0.0.1:$up:$up/udp \
    -v $T/u/udp.py:/udp.py:ro -v /usr:/usr:ro app -- \
    /bin/sh -c "echo rl-ok > /tmp/i; httpd -p 8080 -h /tmp; exec $PY /udp.py serve 0.0.0.0 $up" >/dev/null
  got=$($PY udp.py ask 127.0.0.1 $up rl-in || true)
  got="$got $(curl -s --max-time 2 http://127.0.0.1:$hp/i || true)"
  as_user $CAIRN rm -f web
  assert_streq "$got" "web:rl-in rl-ok"
  # out: the host servers through -T and -U
  for i in $(seq 1 50); do curl -s --max-time 1 http://127.0.0.1:$sp/hostpage >/dev/null && break; sleep 0.1; done
  out=$(tun=0666 as_user $CAIRN run --network=pasta:-T,$sp,-U,$us -v $T/u/udp.py:/udp.py:ro -v /usr:/usr:ro \
    app -- /bin/sh -c "wget -q -O - http://127.0.0.1:$sp/hostpage; $PY /udp.py ask 127.0.0.1 $us rl-out")
  assert_streq "$out" "host-ok
$(hostname):rl-out"
  # a node kept to root: one line naming it, before anything starts
  tun=0600 assert_exit 1 as_user $CAIRN run --net=pasta app -- /bin/true
  assert_streq "$(wc -l < $T/err)" 1
  assert_file_has_content $T/err '/dev/net/tun: Permission denied'
  assert_streq "$(tun=0600 as_user $CAIRN run app -- /bin/cat /proc/net/dev | grep -c ':')" 1
}

# Every command and every option --help lists is offered by the bash
# completion, which is generated from the same tables.
t_completion() {
  require_cmd bash
  script=$T/cairn.bash
  $CAIRN completion bash > $script
  if [ -f "$CAIRN_TOP_BUILDDIR/completion/bash/cairn" ]; then
    cmp "$CAIRN_TOP_BUILDDIR/completion/bash/cairn" $script
  fi
  complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cairn; printf "%s\n" "${COMPREPLY[@]}"' _ $script "$@"
  }
  cmds=$($CAIRN --help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
  [ -n "$cmds" ] || { $CAIRN --help; echo "no commands in --help"; exit 1; }
  offered=$(complete_words cairn "")
  n=0
  for c in $cmds; do
    echo "$offered" | grep -qx "$c" || { echo "command $c not offered"; exit 1; }
    case $c in remote|static-delta|help|completion) continue ;; esac
    opts=$($CAIRN $c --help | grep -oE '^  +(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+$' | grep -vx -- --help || true)
    got=$(complete_words cairn $c --)
    for o in $opts; do
      echo "$got" | grep -qx -- "$o" || { echo "$c: option $o not offered"; exit 1; }
      n=$((n+1))
    done
  done
  [ $n -gt 60 ] || { echo "only $n options checked"; exit 1; }
  # the verbs and their options
  for v in add gpg-import list show delete; do complete_words cairn remote "" | grep -qx $v; done
  complete_words cairn static-delta "" | grep -qx generate
  complete_words cairn remote add -- | grep -qx -- --no-gpg-verify || complete_words cairn remote add -- | grep -q -- '--'
  # short options, values, names of containers
  complete_words cairn run - | grep -qx -- -e
  complete_words cairn run --env-file "" >/dev/null
  assert_exit 2 $CAIRN completion fish
}

run_test "environment: image Env, PATH, HOME, HOSTNAME, container, TERM; -e, --env-file, --env-host; nothing else from the host" t_env_hygiene
run_test "flags: unknown options exit 2; -w -u --entrypoint --hostname -m --pids-limit --cpus --cap-add/--cap-drop --security-opt --init -t -i --rm" t_flags
run_test "filesystem defaults: tmpfs /tmp /run /var/tmp, --read-only, --writable, binds onto missing paths" t_filesystem_defaults
run_test "resolv.conf, hosts, hostname given without writing the store; --dns, --add-host" t_etc_files
run_test "pasta: -p TCP and UDP to servers inside, host servers on 127.0.0.1 from inside" t_pasta_publish
run_test "named containers: -d --name, ps, exec, logs -f, stats, stop, kill, rm" t_named_containers
run_test "rootless: env, /tmp, binds, named containers, pasta both ways (TCP, UDP), /dev/net/tun refused" t_rootless
run_test "completion: every command and option of --help is offered" t_completion
tests_done
