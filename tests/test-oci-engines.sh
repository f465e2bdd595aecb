#!/bin/bash
# tests/test-oci-engines.sh — real container engines drive the OCI runtime
# under test: podman 4.3 (with conmon), as root and rootless, and a
# containerd 1.6 started by the test, through ctr and the runc v2 shim.
#
# The runtime is $OCI_RUNTIME: a path or a command in PATH, default the
# build's cairn-launch. The same file run with OCI_RUNTIME=runc (the suite
# does that: tests/test-oci-engines-runc.sh) proves the harness itself.
#
# Everything runs inside tests/oci-sandbox.sh: the engines' cgroups go below
# a cgroup the test made, mounts and /run stay in the test's mount
# namespace, and the network is a namespace of the test's own (loopback with
# one extra address that tells --network=host from none). Images are made
# by the test (static busybox, tests/make-docker-archive.py) and loaded from
# a docker-archive: no registry, no network. Engine state, configuration
# (containers.conf, storage.conf, registries.conf, the signature policy,
# containerd's config.toml) and sockets are under the test's temporary
# directory. Processes are ended by pid; the rootless user and its
# subordinate id ranges are removed at exit.
#
# Rootless podman gets no cgroups on a v1 or hybrid host with the cgroupfs
# manager (podman's rule, not the runtime's): --memory, --pids-limit, pause
# and stats are checked as root only, and they read the cgroup v1 files
# (memory.limit_in_bytes, pids.max, freezer.state) of the hybrid layout of
# the project's machines.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later

if [ "${OCI_SANDBOXED:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
  exec "$(dirname "$0")/oci-sandbox.sh" bash "$0" "$@"
fi

. "$(dirname "$0")/libtest.sh"

case ${OCI_RUNTIME:-cairn-launch} in
  cairn-launch) RUNTIME=$CAIRN_LAUNCH ;;
  */*) RUNTIME=$OCI_RUNTIME ;;
  *) RUNTIME=$(command -v "$OCI_RUNTIME" || echo "/nonexistent/$OCI_RUNTIME") ;;
esac
IMG=localhost/cairn-busybox:test
S=$_tap_tmproot   # state shared by the cases of one engine and mode

# ---- the image ---------------------------------------------------------------
make_image() {
  local r=$S/img
  mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  chmod 1777 "$r/tmp"
  python3 "$CAIRN_TOP_SRCDIR/tests/make-docker-archive.py" "$r" "$IMG" "$S/busybox.tar"
  chmod 0644 "$S/busybox.tar"
}

# ---- podman ------------------------------------------------------------------
# podman_setup MODE DIR: configuration for one mode (root | rootless).
podman_setup() {
  local mode=$1 d=$2 driver=vfs nproc
  nproc=$(ulimit -Hu); [ "$nproc" != unlimited ] && [ "$nproc" -le 32768 ] || nproc=32768
  grep -qw overlay /proc/filesystems && driver=overlay
  mkdir -p "$d/home/.config/containers" "$d/xdg" "$d/tmp" "$d/cni"
  cat > "$d/containers.conf" <<EOF
[containers]
netns = "none"
log_driver = "k8s-file"
# podman as root asks for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576 by
# default, which needs CAP_SYS_RESOURCE; in a harness whose bounding set
# lacks it (this one) every start fails ("error setting rlimit type 7/6").
# So: the test's own NOFILE, and NPROC no higher than conmon's (podman
# leaves conmon with 32768 here, measured).
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
[network]
network_config_dir = "$d/cni"
EOF
  cat > "$d/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$d/storage"
runroot = "$d/run"
EOF
  echo 'unqualified-search-registries = []' > "$d/registries.conf"
  echo '{"default": [{"type": "reject"}], "transports": {"docker-archive": {"": [{"type": "insecureAcceptAnything"}]}}}' \
    > "$d/home/.config/containers/policy.json"
  chmod 0700 "$d/xdg"
  if [ "$mode" = rootless ]; then chown -R "$PM_USER:$PM_USER" "$d"; fi
}

# write_pm: $S/pm MODE ARGS... runs podman of that mode with the runtime
# under test (a script, so that pty and cleanup commands can call it too).
write_pm() {
  cat > "$S/pm" <<EOF
#!/bin/bash
mode=\$1; shift
d=$S/podman-\$mode
env=(HOME="\$d/home" XDG_RUNTIME_DIR="\$d/xdg" PATH=/usr/sbin:/usr/bin:/sbin:/bin
  CONTAINERS_CONF="\$d/containers.conf" CONTAINERS_STORAGE_CONF="\$d/storage.conf"
  CONTAINERS_REGISTRIES_CONF="\$d/registries.conf" TMPDIR="\$d/tmp")
cmd=(podman --runtime "$RUNTIME" --cgroup-manager=cgroupfs --root "\$d/storage"
  --runroot "\$d/run" --tmpdir "\$d/tmp" --events-backend=file)
if [ "\$mode" = rootless ]; then
  exec setpriv --reuid="$PM_USER" --regid="$PM_USER" --init-groups -- env -i "\${env[@]}" "\${cmd[@]}" "\$@"
fi
exec env "\${env[@]}" "\${cmd[@]}" "\$@"
EOF
  chmod 0755 "$S/pm"
}
pm() { "$S/pm" "$@"; }

# The rootless user, with subordinate ids the test picks and removes.
PM_USER=""
setup_rootless_user() {
  PM_USER="cairnoe$$"
  useradd -M -d "$S/podman-rootless/home" -s /bin/false "$PM_USER" >/dev/null 2>&1 || { PM_USER=""; return 1; }
  add_cleanup "userdel $PM_USER"
  # a random 65536-wide range that overlaps no entry of /etc/subuid or /etc/subgid
  local base i
  for i in $(seq 20); do
    base=$(( (200 + RANDOM % 20000) * 65536 ))
    cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: -v b="$base" \
      '$2 < b + 65536 && b < $2 + $3 { bad = 1 } END { exit bad }' && break
  done
  usermod --add-subuids "$base-$((base + 65535))" --add-subgids "$base-$((base + 65535))" "$PM_USER"
}

# The container's cgroup directory in the v1 hierarchy $2, from its pid $1.
ctr_cgroup() {
  local path; path=$(awk -F: -v c="$2" '$2 == c { print $3 }' "/proc/$1/cgroup")
  echo "/sys/fs/cgroup/$2$path"
}

# Each podman case runs in both modes; $1 is the mode.
t_podman_load() {
  local mode=$1
  pm "$mode" load -i "$S/busybox.tar" > load.out 2>&1 || { cat load.out; exit 1; }
  pm "$mode" images --format '{{.Repository}}:{{.Tag}}' > images
  assert_file_has_content images "^$IMG\$"
}

t_podman_exit_codes() {
  local mode=$1
  pm "$mode" run --rm "$IMG" true
  assert_exit 7 pm "$mode" run --rm "$IMG" sh -c 'exit 7'
  assert_exit 127 pm "$mode" run --rm "$IMG" /no/such/command
  pm "$mode" run --rm "$IMG" sh -c 'echo out-$((6*7)); echo err >&2' > out 2> err
  assert_file_has_content out '^out-42$'
  assert_file_has_content err '^err$'
  # nothing is left behind by --rm
  pm "$mode" ps -a -q > left
  assert_streq "$(cat left)" ""
}

t_podman_tty() {
  local mode=$1
  python3 "$CAIRN_TOP_SRCDIR/tests/oci-pty.py" --rows 33 --cols 101 \
    'expect:# ' 'send:stty size\r' 'expect:33 101' \
    'resize:40:120' 'sleep:0.5' 'send:stty size\r' 'expect:40 120' \
    'send:tty\r' 'expect:/dev/pts/[0-9]+' \
    'send:sleep 60; echo slept\r' 'sleep:1' 'send:\x03' 'expect:# ' \
    'send:echo x$((6*7))\r' 'expect:x42' 'send:exit 3\r' 'exit:3' \
    -- "$S/pm" "$mode" run -it --rm "$IMG" sh > transcript
  # Ctrl-C ended the sleep, not the shell: "slept" never came
  assert_not_file_has_content transcript '^slept'
}

t_podman_detach() {
  local mode=$1 i
  pm "$mode" run -d --name det "$IMG" sh -c 'echo started; trap "echo stopping; exit 0" TERM; while :; do sleep 0.1; done' > id
  trap "$S/pm $mode rm -f -t 0 det det2 >/dev/null 2>&1 || true" EXIT
  for i in $(seq 50); do pm "$mode" logs det > log 2>&1; grep -q started log && break; sleep 0.1; done
  assert_file_has_content log '^started$'
  pm "$mode" ps --format '{{.Names}} {{.Status}}' > ps
  assert_file_has_content ps '^det Up'
  pm "$mode" exec det sh -c 'echo exec-$((2+3)); cat /proc/1/cmdline | tr "\0" " "' > exec.out
  assert_file_has_content exec.out '^exec-5$'
  assert_file_has_content exec.out '^sh -c echo started'
  assert_exit 4 pm "$mode" exec det sh -c 'exit 4'
  pm "$mode" exec -i det sh -c 'read x; echo got-$x' <<< "input" > exec2.out
  assert_file_has_content exec2.out '^got-input$'
  pm "$mode" stop -t 10 det
  pm "$mode" inspect -f '{{.State.Status}} {{.State.ExitCode}}' det > state
  assert_file_has_content state '^exited 0$'
  pm "$mode" logs det > log 2>&1
  assert_file_has_content log '^stopping$'
  pm "$mode" ps -a --format '{{.Names}} {{.Status}}' > ps
  assert_file_has_content ps '^det Exited (0)'
  pm "$mode" rm det
  # killed by a signal: 128 + 9
  pm "$mode" run -d --name det2 "$IMG" sleep 600 > /dev/null
  pm "$mode" kill -s KILL det2
  assert_streq "$(pm "$mode" wait det2)" 137
  pm "$mode" rm det2
}

t_podman_network() {
  local mode=$1
  pm "$mode" run --rm --network=none "$IMG" ip -o addr > none
  assert_file_has_content none ' lo .*127\.0\.0\.1/8'
  assert_not_file_has_content none '127\.0\.0\.42'
  pm "$mode" run --rm --network=none "$IMG" ip -o link > links
  [ "$(wc -l < links)" = 1 ] || { echo "assert: more than lo with --network=none:"; cat links; exit 1; }
  pm "$mode" run --rm --network=host "$IMG" ip -o addr > host
  assert_file_has_content host '127\.0\.0\.42'
}

t_podman_memory() {
  pm root run -d --name mem --memory 64m "$IMG" sleep 600 > /dev/null
  trap "$S/pm root rm -f -t 0 mem >/dev/null 2>&1 || true" EXIT
  local pid; pid=$(pm root inspect -f '{{.State.Pid}}' mem)
  local cg; cg=$(ctr_cgroup "$pid" memory)
  assert_streq "$(cat "$cg/memory.limit_in_bytes")" 67108864
  pm root rm -f -t 0 mem
  # the effect: touching 128 MiB under a 32 MiB limit is an OOM kill (137)
  assert_exit 137 pm root run --rm --memory 32m "$IMG" dd if=/dev/zero of=/dev/null bs=128M count=1
}

t_podman_pids() {
  pm root run -d --name pids --pids-limit 8 "$IMG" sleep 600 > /dev/null
  trap "$S/pm root rm -f -t 0 pids >/dev/null 2>&1 || true" EXIT
  local pid; pid=$(pm root inspect -f '{{.State.Pid}}' pids)
  assert_streq "$(cat "$(ctr_cgroup "$pid" pids)/pids.max")" 8
  pm root rm -f -t 0 pids
  # the effect: the 8th process cannot be forked
  pm root run --rm --pids-limit 8 "$IMG" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 3 & done; wait' > out 2>&1 || true
  assert_file_has_content out "fork"
}

t_podman_pause() {
  pm root run -d --name pz "$IMG" sh -c 'while :; do date +%s%N > /tmp/tick; sleep 0.1; done' > /dev/null
  trap "$S/pm root rm -f -t 0 pz >/dev/null 2>&1 || true" EXIT
  local pid; pid=$(pm root inspect -f '{{.State.Pid}}' pz)
  pm root pause pz
  assert_streq "$(pm root inspect -f '{{.State.Status}}' pz)" paused
  assert_streq "$(cat "$(ctr_cgroup "$pid" freezer)/freezer.state")" FROZEN
  # frozen: the loop writes nothing while paused
  local a b; a=$(cat "/proc/$pid/root/tmp/tick"); sleep 0.5; b=$(cat "/proc/$pid/root/tmp/tick")
  assert_streq "$a" "$b"
  pm root unpause pz
  assert_streq "$(pm root inspect -f '{{.State.Status}}' pz)" running
  assert_streq "$(cat "$(ctr_cgroup "$pid" freezer)/freezer.state")" THAWED
  sleep 0.5; b=$(cat "/proc/$pid/root/tmp/tick")
  assert_not_streq "$a" "$b"
  pm root rm -f -t 0 pz
}

t_podman_stats() {
  pm root run -d --name st --memory 64m "$IMG" sh -c 'sleep 600 & sleep 600 & wait' > /dev/null
  trap "$S/pm root rm -f -t 0 st >/dev/null 2>&1 || true" EXIT
  pm root stats --no-stream --format '{{.Name}} {{.PIDs}} {{.MemUsage}}' st > stats
  cat stats
  # three processes (sh and two sleeps), the 64 MiB limit as the usage's bound
  assert_file_has_content stats '^st 3 .* / 67.11MB$'
  pm root rm -f -t 0 st
}

# ---- containerd ----------------------------------------------------------------
CTD=$S/containerd
ctr_() { ctr --address "$CTD/containerd.sock" -n cairntest "$@"; }

t_containerd_start() {
  mkdir -p "$CTD"
  cat > "$CTD/config.toml" <<EOF
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD/containerd.sock"
[ttrpc]
  address = "$CTD/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTD/opt"
EOF
  containerd --config "$CTD/config.toml" > "$CTD/log" 2>&1 &
  echo $! > "$CTD/pid"
  local i
  for i in $(seq 100); do [ -S "$CTD/containerd.sock" ] && ctr_ version > /dev/null 2>&1 && break; sleep 0.1; done
  ctr_ version > version || { cat "$CTD/log"; exit 1; }
  ctr_ image import "$S/busybox.tar" > import.out 2>&1 || { cat import.out; exit 1; }
  ctr_ image ls -q > images
  assert_file_has_content images "$IMG"
}
stop_containerd() {
  [ -f "$CTD/pid" ] || return 0
  local pid; pid=$(cat "$CTD/pid")
  kill "$pid" 2>/dev/null || return 0
  local i; for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
add_cleanup stop_containerd

t_ctr_run() {
  ctr_ run --rm --runc-binary "$RUNTIME" "$IMG" ctr-true true
  assert_exit 7 ctr_ run --rm --runc-binary "$RUNTIME" "$IMG" ctr-exit sh -c 'exit 7'
  ctr_ run --rm --runc-binary "$RUNTIME" "$IMG" ctr-out sh -c 'echo out-$((6*7)); echo err >&2' > out 2> err
  assert_file_has_content out '^out-42$'
  assert_file_has_content err '^err$'
  ctr_ containers ls -q > left
  assert_streq "$(cat left)" ""
}

t_ctr_task() {
  ctr_ run -d --runc-binary "$RUNTIME" "$IMG" ctr-d sh -c 'trap "exit 9" TERM; while :; do sleep 0.1; done'
  trap 'ctr_ task delete -f ctr-d >/dev/null 2>&1 || true; ctr_ container delete ctr-d >/dev/null 2>&1 || true' EXIT
  ctr_ task ls > tasks
  assert_file_has_content tasks '^ctr-d .*RUNNING'
  ctr_ task exec --exec-id e1 ctr-d sh -c 'echo exec-$((2+3))' > exec.out
  assert_file_has_content exec.out '^exec-5$'
  assert_exit 4 ctr_ task exec --exec-id e2 ctr-d sh -c 'exit 4'
  ctr_ task metrics ctr-d > metrics
  cat metrics
  assert_file_has_content metrics 'pids.current'
  assert_file_has_content metrics 'memory.usage_in_bytes'
  ctr_ task ps ctr-d > ps
  [ "$(wc -l < ps)" -ge 3 ] || { echo "assert: ctr task ps lists fewer than 2 processes:"; cat ps; exit 1; }
  ctr_ task kill -s SIGTERM ctr-d
  local i
  for i in $(seq 50); do ctr_ task ls > tasks; grep -q '^ctr-d .*STOPPED' tasks && break; sleep 0.1; done
  assert_file_has_content tasks '^ctr-d .*STOPPED'
  ctr_ task delete ctr-d > del 2>&1
  assert_file_has_content del 'exit code 9'
  ctr_ container delete ctr-d
  ctr_ containers ls -q > left
  assert_streq "$(cat left)" ""
}

# ---- run ----------------------------------------------------------------------
# OCI_ENGINES_CASES=REGEX runs only the cases whose name matches (the
# setup cases they depend on are always run).
case_() {
  local name=$1
  case $name in *load\ of*|containerd:\ started*) ;; *)
    [ -z "${OCI_ENGINES_CASES:-}" ] || grep -qE -- "$OCI_ENGINES_CASES" <<<"$name" || return 0 ;;
  esac
  run_test "$@"
}
info "runtime under test: $RUNTIME"
setup_ok=1
if [ "$(id -u)" != 0 ]; then
  run_test "engines need root (the rootless cases are run as a user the test creates)" skip "needs root"
  setup_ok=0
fi
[ -x "$RUNTIME" ] || { run_test "runtime $RUNTIME exists" false; setup_ok=0; }
if [ $setup_ok = 1 ]; then
  make_image
  # marks the test's network namespace (no dummy/veth modules needed)
  ip addr add 127.0.0.42/32 dev lo
  setup_rootless_user || true
  write_pm
  for mode in root rootless; do
    if [ "$mode" = rootless ] && [ -z "$PM_USER" ]; then
      case_ "podman rootless: a test user with subordinate ids" false
      continue
    fi
    podman_setup "$mode" "$S/podman-$mode"
    case_ "podman $mode: load of a docker-archive made by the test" t_podman_load "$mode"
    case_ "podman $mode: run --rm exit codes (0, 7, 127 for no such command), stdout/stderr" t_podman_exit_codes "$mode"
    case_ "podman $mode: run -it, a shell on a pty: window size and resize, Ctrl-C, exit status" t_podman_tty "$mode"
    case_ "podman $mode: run -d, exec (status, stdin), ps, logs, stop (SIGTERM reaches pid 1), kill (137)" t_podman_detach "$mode"
    case_ "podman $mode: --network=none has only lo, --network=host sees the test's netns" t_podman_network "$mode"
    pm "$mode" system migrate > /dev/null 2>&1 || true
  done
  case_ "podman root: --memory sets the cgroup limit and an allocation past it is OOM-killed" t_podman_memory
  case_ "podman root: --pids-limit sets pids.max and forks past it fail" t_podman_pids
  case_ "podman root: pause freezes the container, unpause thaws it" t_podman_pause
  case_ "podman root: stats --no-stream reports the container's pids and memory limit" t_podman_stats
  case_ "containerd: started by the test on its own socket; ctr image import of a docker-archive" t_containerd_start
  case_ "ctr run --runc-binary: exit status, stdout and stderr, nothing left" t_ctr_run
  case_ "ctr task exec, metrics, ps, kill (SIGTERM to pid 1), delete" t_ctr_task
  # rootless podman leaves a pause process per user: end it by its pid file
  rp=$S/podman-rootless/xdg/libpod/tmp/pause.pid
  [ -f "$rp" ] && kill "$(cat "$rp")" 2>/dev/null
fi
tests_done
