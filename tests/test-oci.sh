#!/bin/bash
# cairn-launch as an OCI runtime: every verb of runc's command line and the
# config.json fields, driven directly (no engine), on bundles made here from
# busybox-static and the launch probe (tests/launch-probe.c).  Engines
# (podman, containerd) and the runtime-tools suite have their own tests.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later

. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/launch-lib.sh"

[ -x "$CAIRN_LAUNCH" ] || fatal "no $CAIRN_LAUNCH (build cairn-launch first)"
[ -x "$PROBE" ] || fatal "no $PROBE (make tests/launch-probe)"
setup_launch_user
SC_CACHE=$(mktemp -d /tmp/cairn-oci-sccache.XXXXXX)
add_cleanup "rm -rf $SC_CACHE"
chmod 0755 "$SC_CACHE"
# This test edits config.json with python3 a hundred times: call the
# interpreter itself, found once, rather than a version manager's shim
# (pyenv's costs a few shells a call, seconds in all under load).
PY3=$(python3 -c 'import sys; print(sys.executable)')
python3() { "$PY3" "$@"; }

# L VERB...: the runtime with this case's state directory.
L() { "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$SC_CACHE" "$@"; }
# Ids are unique per run: cgroups live below /sys/fs/cgroup/*/cairn/<id>.
ID=oci$$
# Every case removes what it created, whatever happened.
cleanup_containers() {
  local d
  for d in "$T"/state/*/; do
    [ -d "$d" ] && "$CAIRN_LAUNCH" --root "$T/state" delete --force "$(basename "$d")" >/dev/null 2>&1
  done
  # the parents t_resources made (only ours, only when empty)
  rmdir /sys/fs/cgroup/*/cairn-oci-test-$$ /sys/fs/cgroup/cairn-oci-test-$$ 2>/dev/null || true
  return 0
}

# mkbundle DIR: busybox + probe rootfs, config.json from `spec`, no terminal.
mkbundle() {
  mkdir -p "$1"
  make_rootfs "$1/rootfs"
  for a in awk head tr env sort readlink uname cut stty tty; do ln -sf busybox "$1/rootfs/bin/$a"; done
  (cd "$1" && "$CAIRN_LAUNCH" spec)
  cfg "$1" 'c["process"]["terminal"] = False'
}
# cfg BUNDLE PYTHON: edit BUNDLE/config.json, parsed as the dict c.
cfg() {
  python3 - "$1/config.json" "$2" <<'EOF'
import json, sys
_path = sys.argv[1]
c = json.load(open(_path))
exec(sys.argv[2])
json.dump(c, open(_path, "w"), indent=1)
EOF
}
# args BUNDLE ARG...: the container's command.
args() {
  local b=$1; shift
  cfg "$b" "c['process']['args'] = $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")"
}
# jget JSON-FILE PYTHON-EXPR: print a value of a JSON document (as j).
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
status_of() { L state "$1" > "$T/st.json" && jget "$T/st.json" 'j["status"]'; }
wait_status() {
  local i=0
  while [ "$(status_of "$1")" != "$2" ]; do
    i=$((i + 1)); [ $i -le 100 ] || { echo "timeout: $1 is $(status_of "$1"), want $2"; return 1; }
    sleep 0.05
  done
}
cgdirs() { ls -d /sys/fs/cgroup/*/cairn/"$1" /sys/fs/cgroup/cairn/"$1" 2>/dev/null || true; }
oci_case() { require_root; trap cleanup_containers EXIT; mkbundle "$T/b"; B="$T/b"; }

# ---- run, exit status, the spec's defaults ------------------------------------------------
t_run() {
  oci_case
  args "$B" /bin/probe ns
  L run --bundle "$B" $ID > out
  assert_kv out hostname cairn
  assert_kv out pid 1
  for n in mnt pid net ipc uts cgroup; do
    assert_not_streq "$(kv out ns_$n)" "$(stat -L -c %i /proc/self/ns/$n)"
  done
  assert_not_has_file "$T/state/$ID"
  # --no-pivot: MS_MOVE and chroot instead of pivot_root
  args "$B" /bin/sh -c 'ls /; cat /proc/self/mountinfo | wc -l'
  L run --no-pivot --bundle "$B" $ID > out
  assert_file_has_content out '^probe$\|^bin$'
  args "$B" /bin/sh -c 'exit 7'
  assert_exit 7 L run --bundle "$B" $ID
  # pid 1 cannot kill itself with a signal it does not handle; a fault is
  # another matter
  args "$B" /bin/probe segv
  assert_exit 139 L run --bundle "$B" $ID
  assert_streq "$(cgdirs $ID)" ""
  # the command is looked up in the container's PATH at create time
  args "$B" nosuchcommand
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'executable file not found in \$PATH.*nosuchcommand'
  assert_not_has_file "$T/state/$ID"
}

# ---- create / start / state / delete; the container outlives create -------------------------
t_lifecycle() {
  oci_case
  args "$B" /bin/sh -c 'echo started > /tmp/started; exec sleep 100'
  cfg "$B" 'c["root"]["readonly"] = False'
  # create from a subshell that exits at once: the init is not our child
  (L create --bundle "$B" --pid-file "$T/pid" $ID)
  pid=$(cat "$T/pid")
  kill -0 "$pid"
  assert_streq "$(status_of $ID)" created
  assert_streq "$(jget "$T/st.json" 'j["pid"]')" "$pid"
  assert_streq "$(jget "$T/st.json" 'j["bundle"]')" "$B"
  assert_streq "$(jget "$T/st.json" 'j["ociVersion"]')" 1.1.0
  # nothing of the command ran before start
  assert_not_has_file "$B/rootfs/tmp/started"
  [ "$(cat /proc/$pid/comm)" != sleep ]
  assert_fails L delete $ID.nope
  assert_file_has_content "$T/err" "container $ID.nope does not exist"
  L start $ID
  assert_streq "$(status_of $ID)" running
  assert_has_file "$B/rootfs/tmp/started"
  assert_streq "$(cat /proc/$pid/comm)" sleep
  assert_fails L start $ID
  assert_file_has_content "$T/err" 'it is running, not created'
  L list > list
  assert_file_has_content list "^$ID  *$pid  *running"
  L list --format json > list.json
  assert_streq "$(jget list.json '[c["status"] for c in j if c["id"]=="'$ID'"][0]')" running
  assert_fails L delete $ID
  assert_file_has_content "$T/err" 'not stopped'
  L kill $ID KILL
  wait_status $ID stopped
  [ -n "$(cgdirs $ID)" ]
  L delete $ID
  assert_not_has_file "$T/state/$ID"
  assert_streq "$(cgdirs $ID)" ""
  ! kill -0 "$pid" 2>/dev/null
  # delete of a created (never started) container is allowed and kills it
  L create --bundle "$B" $ID
  pid=$(L state $ID | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  L delete $ID
  ! kill -0 "$pid" 2>/dev/null
  # the same id twice is refused
  L create --bundle "$B" $ID
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" "container $ID already exists"
  L delete --force $ID
}

# ---- kill ----------------------------------------------------------------------------------
t_kill() {
  oci_case
  args "$B" /bin/probe trap
  L create --bundle "$B" $ID > out
  L start $ID
  wait_for out ready
  L kill $ID TERM
  wait_status $ID stopped
  L delete $ID
  # --all reaches every process of the cgroup, not only the init
  args "$B" /bin/sh -c 'sleep 100 & sleep 100 & wait'
  L run --detach --bundle "$B" $ID
  sleep 0.2
  L ps --format json $ID > ps.json
  assert_streq "$(jget ps.json 'len(j)')" 3
  L kill --all $ID KILL
  wait_status $ID stopped
  for p in $(jget ps.json '" ".join(map(str,j))'); do ! kill -0 "$p" 2>/dev/null; done
  assert_fails L kill $ID TERM
  assert_file_has_content "$T/err" 'not running'
  assert_fails L kill $ID NOSUCHSIG
  L delete $ID
  assert_fails L kill $ID
  assert_file_has_content "$T/err" 'does not exist'
  # a created container (pid 1 of its namespace, before start) ends on TERM too
  L create --bundle "$B" $ID
  L kill $ID TERM
  wait_status $ID stopped
  L delete $ID
  # a signal sent right after start, before the program has installed its
  # handler, is not lost (pid 1 of a namespace gets no signal it has no
  # handler for): kill holds it until the handler is there; then state and
  # delete agree that the container stopped
  args "$B" /bin/sh -c 'sleep 0.3; trap "echo got; exit 0" USR1; echo armed; sleep 5 & wait $!'
  for i in 1 2 3; do
    L create --bundle "$B" $ID > out
    L start $ID
    L kill $ID USR1
    wait_status $ID stopped
    L delete $ID
    assert_file_has_content out '^got$'
  done
  # a signal the program never handles is held for at most a second after
  # start, then dropped by the kernel as for runc and crun
  args "$B" /bin/sleep 100
  L create --bundle "$B" $ID
  L start $ID
  local t0=$(date +%s%N)
  L kill $ID TERM
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ]
  assert_streq "$(status_of $ID)" running
  L delete --force $ID
}

# ---- races ---------------------------------------------------------------------------------
t_races() {
  oci_case
  args "$B" /bin/sleep 100
  for i in $(seq 1 10); do
    L run --detach --bundle "$B" $ID-$i
    L kill $ID-$i KILL
    wait_status $ID-$i stopped
    (rc=0; L delete $ID-$i > d1.$i 2>&1 || rc=$?; echo $rc > r1.$i) &
    (rc=0; L delete $ID-$i > d2.$i 2>&1 || rc=$?; echo $rc > r2.$i) &
    wait
    # exactly one delete did it; the other found nothing
    assert_streq "$(cat r1.$i r2.$i | sort | tr '\n' ' ')" "0 1 "
    cat d1.$i d2.$i | grep -q "container $ID-$i does not exist"
    assert_not_has_file "$T/state/$ID-$i"
    assert_streq "$(cgdirs $ID-$i)" ""
  done
  # the verbs wait for the container's lock: with it held from outside, two
  # deletes queue; then exactly one removes the container
  L run --detach --bundle "$B" $ID-l
  L kill $ID-l KILL
  wait_status $ID-l stopped
  flock "$T/state/$ID-l" sleep 1.5 &
  holder=$!
  sleep 0.3
  (rc=0; L delete $ID-l > l1 2>&1 || rc=$?; echo $rc > rl1) &
  (rc=0; L delete $ID-l > l2 2>&1 || rc=$?; echo $rc > rl2) &
  sleep 0.6
  assert_has_dir "$T/state/$ID-l"
  [ ! -e rl1 ] && [ ! -e rl2 ]
  wait
  assert_streq "$(cat rl1 rl2 | sort | tr '\n' ' ')" "0 1 "
  cat l1 l2 | grep -q "container $ID-l does not exist"
  # two forced deletes of a running container: both succeed (runc: a
  # container already gone is no error for --force), nothing is left
  for i in $(seq 1 5); do
    L run --detach --bundle "$B" $ID-f$i
    (rc=0; L delete --force $ID-f$i > f1.$i 2>&1 || rc=$?; echo $rc > rf1.$i) &
    (rc=0; L delete --force $ID-f$i > f2.$i 2>&1 || rc=$?; echo $rc > rf2.$i) &
    wait
    assert_streq "$(cat rf1.$i rf2.$i | tr '\n' ' ')" "0 0 "
    assert_not_has_file "$T/state/$ID-f$i"
    assert_streq "$(cgdirs $ID-f$i)" ""
  done
  for i in $(seq 1 10); do
    L run --detach --bundle "$B" $ID-k$i
    (rc=0; L kill $ID-k$i KILL > k.$i 2>&1 || rc=$?; echo $rc > rk.$i) &
    (rc=0; L delete --force $ID-k$i > dk.$i 2>&1 || rc=$?; echo $rc > rd.$i) &
    wait
    assert_streq "$(cat rd.$i)" 0
    # kill either signalled it or found it gone (never anything else)
    [ "$(cat rk.$i)" = 0 ] || grep -q -e 'does not exist' -e 'not running' k.$i || { cat k.$i; exit 1; }
    assert_not_has_file "$T/state/$ID-k$i"
    assert_streq "$(cgdirs $ID-k$i)" ""
  done
}

# ---- exec ------------------------------------------------------------------------------------
t_exec() {
  oci_case
  cfg "$B" 'c["process"]["env"].append("FROMCFG=1"); c["process"]["args"] = ["/bin/sleep", "100"]'
  L run --detach --bundle "$B" $ID
  L exec $ID /bin/sh -c 'echo "pid1=$(cat /proc/1/comm) cfg=$FROMCFG x=$X cwd=$(pwd) id=$(id -u):$(id -g)"' > out
  assert_file_has_content out '^pid1=sleep cfg=1 x= cwd=/ id=0:0$'
  L exec -e X=2 --cwd /tmp --user 1000:1001 $ID /bin/sh -c 'echo "x=$X cwd=$(pwd) id=$(id -u):$(id -g)"' > out
  assert_file_has_content out '^x=2 cwd=/tmp id=1000:1001$'
  L exec $ID /bin/probe ns > ns
  L state $ID > st.json
  pid=$(jget st.json 'j["pid"]')
  for n in mnt pid net ipc uts; do
    assert_streq "$(kv ns ns_$n)" "$(stat -L -c %i /proc/$pid/ns/$n)"
  done
  # the exec'd process is in the container's cgroups and under its profile
  L exec $ID /bin/probe status > status
  assert_kv status CapEff 0000000020000420
  assert_kv status NoNewPrivs 1
  assert_exit 3 L exec $ID /bin/sh -c 'exit 3'
  assert_exit 1 L exec $ID /nonexistent
  assert_file_has_content "$T/err" 'nonexistent'
  cat > proc.json <<'EOF'
{"args": ["/bin/sh", "-c", "echo proc $A; id -u"], "env": ["A=fromfile", "PATH=/bin"], "cwd": "/tmp", "user": {"uid": 7, "gid": 7}}
EOF
  L exec --process proc.json $ID > out
  assert_streq "$(tr '\n' ' ' < out)" "proc fromfile 7 "
  L exec --detach --pid-file epid $ID /bin/sleep 100
  kill -0 "$(cat epid)"
  L ps --format json $ID > ps.json
  jget ps.json 'j' | grep -q "$(cat epid)"
  echo '{"args": ["/bin/true"], "cwd": "/", "bogus": 1}' > bad.json
  assert_fails L exec --process bad.json $ID
  assert_file_has_content "$T/err" 'unknown field process.json.bogus'
  L kill $ID KILL
  wait_status $ID stopped
  assert_fails L exec $ID /bin/true
  assert_file_has_content "$T/err" 'not running'
}

# ---- pause, resume, ps, update, events, features, list --------------------------------------
t_pause_update_events() {
  oci_case
  args "$B" /bin/sh -c 'i=0; while :; do i=$((i+1)); echo $i > /dev/shm/n; done'
  L run --detach --bundle "$B" $ID
  sleep 0.2
  L pause $ID
  assert_streq "$(status_of $ID)" paused
  a=$(L state $ID >/dev/null; cat /sys/fs/cgroup/freezer/cairn/$ID/freezer.state 2>/dev/null || cat /sys/fs/cgroup/cairn/$ID/cgroup.freeze)
  case $a in FROZEN|1) ;; *) echo "freezer: $a"; exit 1 ;; esac
  assert_fails L pause $ID
  L resume $ID
  assert_streq "$(status_of $ID)" running
  assert_fails L resume $ID
  L update --memory 64M --pids-limit 20 --cpu-quota 50000 --cpu-period 100000 $ID
  mem=$(cat /sys/fs/cgroup/memory/cairn/$ID/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/cairn/$ID/memory.max)
  assert_streq "$mem" 67108864
  pids=$(cat /sys/fs/cgroup/pids/cairn/$ID/pids.max 2>/dev/null || cat /sys/fs/cgroup/cairn/$ID/pids.max)
  assert_streq "$pids" 20
  echo '{"pids": {"limit": 30}, "memory": {"limit": 134217728}}' > res.json
  L update --resources res.json $ID
  pids=$(cat /sys/fs/cgroup/pids/cairn/$ID/pids.max 2>/dev/null || cat /sys/fs/cgroup/cairn/$ID/pids.max)
  assert_streq "$pids" 30
  echo '{"pids": {"limit": 40}}' | L update --resources - $ID
  echo '{"pids": {"limmit": 40}}' > bad.json
  assert_fails L update --resources bad.json $ID
  assert_file_has_content "$T/err" 'unknown field linux.resources.pids.limmit'
  L events --stats $ID > ev
  assert_streq "$(jget ev 'j["type"]')" stats
  assert_streq "$(jget ev 'j["data"]["pids"]["limit"]')" 40
  [ "$(jget ev 'j["data"]["memory"]["usage"]["usage"] > 0')" = True ]
  [ "$(jget ev 'j["data"]["cpu"]["usage"]["total"] > 0')" = True ]
  timeout 3 "$CAIRN_LAUNCH" --root "$T/state" events --interval 1 $ID > evs || true
  [ "$(grep -c '"type":"stats"' evs)" -ge 2 ]
  L features > f.json
  assert_streq "$(jget f.json '"createRuntime" in j["hooks"] and "user" in j["linux"]["namespaces"]')" True
  assert_streq "$(jget f.json 'j["linux"]["cgroup"]["systemd"]')" False
  assert_streq "$(jget f.json 'j["linux"]["mountExtensions"]["idmap"]["enabled"] and "ridmap" in j["mountOptions"]')" True
}

# ---- hooks: order, stdin, namespaces, failures, timeout --------------------------------------
t_hooks() {
  oci_case
  cat > "$T/hook" <<EOF
#!/bin/sh
# \$1: the hook's name; the state arrives on stdin
read -r state
# only stdin, stdout and stderr: not the fd 7 the runtime's caller has open
[ -e /proc/\$\$/fd/7 ] && echo "\$1 has fd 7" >> $T/hooks.log
echo "\$1 \$(readlink /proc/self/ns/uts) \$(echo "\$state" | sed -n 's/.*"status": *"\\([a-z]*\\)".*/\\1/p') \$(echo "\$state" | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')" >> $T/hooks.log
exit \${FAIL:-0}
EOF
  chmod 0755 "$T/hook"
  # startContainer's path is resolved in the container: a script in the rootfs
  cat > "$B/rootfs/bin/inhook" <<'EOF'
#!/bin/sh
read -r state
echo "startContainer $(hostname)" > /tmp/inhook.out
EOF
  chmod 0755 "$B/rootfs/bin/inhook"
  cfg "$B" "
h = lambda n, **k: dict(path='$T/hook', args=['hook', n], **k)
c['root']['readonly'] = False
c['hooks'] = {'prestart': [h('prestart')], 'createRuntime': [h('createRuntime')],
              'createContainer': [h('createContainer')],
              'startContainer': [dict(path='/bin/inhook')],
              'poststart': [h('poststart')], 'poststop': [h('poststop')]}
c['process']['args'] = ['/bin/sh', '-c', 'cat /tmp/inhook.out; sleep 100']"
  L create --bundle "$B" $ID > out 7< "$T/hook"
  pid=$(L state $ID | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  L start $ID
  wait_for out startContainer
  L kill $ID KILL
  wait_status $ID stopped
  L delete $ID
  # the runtime's hooks run in its namespaces, createContainer in the
  # container's; those before start see "created" (the environment exists:
  # runtime-spec runtime.md, "State"), each the pid its namespace sees
  me=$(readlink /proc/self/ns/uts)
  them=$(sed -n 's/^createContainer \([^ ]*\) .*/\1/p' "$T/hooks.log")
  assert_not_streq "$them" "$me"
  printf '%s\n' "prestart $me created $pid" "createRuntime $me created $pid" \
    "createContainer $them created 1" "poststart $me running $pid" "poststop $me stopped 0" > want
  diff -u want "$T/hooks.log"
  assert_file_has_content out '^startContainer cairn$'
  # a failing prestart hook: create fails, nothing is left
  cfg "$B" "c['hooks'] = {'prestart': [dict(path='$T/hook', args=['hook', 'bad'], env=['FAIL=3'])]}"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" "hook $T/hook failed with exit status 3"
  assert_not_has_file "$T/state/$ID"
  assert_streq "$(cgdirs $ID)" ""
  # a failing createContainer hook (in the container's namespaces): the same
  cfg "$B" "c['hooks'] = {'createContainer': [dict(path='$T/hook', args=['hook', 'cc'], env=['FAIL=2'])]}"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" "hook $T/hook failed with exit status 2"
  assert_not_has_file "$T/state/$ID"
  assert_streq "$(cgdirs $ID)" ""
  # the init dying during its setup without a word (a prestart hook kills
  # it): create fails, nothing is left
  printf '#!/bin/sh\nread -r s\nkill -9 $(echo "$s" | sed -n "s/.*\\"pid\\": *\\([0-9]*\\).*/\\1/p")\n' > "$T/killer"
  chmod 0755 "$T/killer"
  cfg "$B" "c['hooks'] = {'prestart': [dict(path='$T/killer')]}"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" "the container's init exited during its setup"
  assert_not_has_file "$T/state/$ID"
  assert_streq "$(cgdirs $ID)" ""
  # or failing a step of its setup (a mount): create fails with its reason
  cfg "$B" "c['hooks'] = {}; c['mounts'].append(dict(destination='/nosuch', type='nosuchfs', source='none'))"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" '/nosuch.*No such device'
  assert_not_has_file "$T/state/$ID"
  assert_streq "$(cgdirs $ID)" ""
  cfg "$B" "c['mounts'].pop()"
  # a hook past its timeout is killed and fails create
  printf '#!/bin/sh\nsleep 10\n' > "$T/slow"; chmod 0755 "$T/slow"
  cfg "$B" "c['hooks'] = {'createRuntime': [dict(path='$T/slow', timeout=1)]}"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" 'timed out after 1 s'
  assert_not_has_file "$T/state/$ID"
  # failing startContainer: start fails and the container is stopped
  printf '#!/bin/sh\nexit 1\n' > "$B/rootfs/bin/inhook"
  cfg "$B" "c['hooks'] = {'startContainer': [dict(path='/bin/inhook')]}"
  L create --bundle "$B" $ID
  assert_fails L start $ID
  assert_file_has_content "$T/err" 'hook failed'
  wait_status $ID stopped
  L delete $ID
  # failing poststart and poststop are warnings (in --log): the lifecycle
  # and the remaining hooks go on
  : > "$T/hooks.log"
  cfg "$B" "c['hooks'] = {'poststart': [dict(path='$T/hook', args=['hook', 'ps'], env=['FAIL=1']),
                                        dict(path='$T/hook', args=['hook', 'ps2'])],
                          'poststop': [dict(path='$T/hook', args=['hook', 'pst'], env=['FAIL=1']),
                                       dict(path='$T/hook', args=['hook', 'pst2'])]}"
  L create --bundle "$B" $ID
  L --log "$T/hooks-warn.log" start $ID
  L kill $ID KILL
  wait_status $ID stopped
  L --log "$T/hooks-warn.log" delete $ID
  assert_streq "$(cut -d' ' -f1 "$T/hooks.log" | tr '\n' ' ')" "ps ps2 pst pst2 "
  assert_file_has_content "$T/hooks-warn.log" "level=warning msg=\"poststart: hook $T/hook failed with exit status 1"
  assert_file_has_content "$T/hooks-warn.log" "level=warning msg=\"poststop: hook $T/hook failed with exit status 1"
}

# ---- process fields ----------------------------------------------------------------------------
t_process() {
  oci_case
  cfg "$B" '
p = c["process"]
p["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63}
p["cwd"] = "/tmp"
p["env"] = ["PATH=/bin", "ONLY=this"]
p["capabilities"] = {"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"], "effective": ["CAP_KILL"],
  "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
p["noNewPrivileges"] = False
p["oomScoreAdj"] = 500
c["hostname"] = "h1"
c["domainname"] = "d1"
c["root"]["readonly"] = False
c["root"]["readonly"] = False
p["args"] = ["/bin/sh", "-c", "/bin/probe status; echo groups=$(id -G); echo cwd=$(pwd); env | sort | tr \"\\n\" \" \"; echo; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; hostname; cat /proc/sys/kernel/domainname; touch /tmp/f; stat -c %a /tmp/f"]'
  chmod 1777 "$B/rootfs/tmp"
  L run --bundle "$B" $ID > out
  assert_kv out Uid "1000	1000	1000	1000"
  assert_kv out Gid "1001	1001	1001	1001"
  assert_kv out groups "1001 5 7"
  assert_kv out cwd /tmp
  assert_kv out CapBnd 0000000000002021
  # ambient KILL keeps KILL across exec for the non-root uid
  assert_kv out CapEff 0000000000000020
  assert_kv out CapPrm 0000000000000020
  assert_kv out CapInh 0000000000000020
  assert_kv out CapAmb 0000000000000020
  assert_kv out NoNewPrivs 0
  assert_file_has_content out '^ONLY=this PATH=/bin PWD=/tmp SHLVL=1 $'
  assert_streq "$(sed -n '/^PWD\|ONLY/{n;p;}' out | head -0)" ""
  grep -A6 '^ONLY=' out | tail -6 > tail
  assert_streq "$(tr '\n' ' ' < tail)" "100 200 500 h1 d1 600 "
  cfg "$B" 'c["process"]["noNewPrivileges"] = True; c["process"]["args"] = ["/bin/probe", "status"]'
  L run --bundle "$B" $ID > out
  assert_kv out NoNewPrivs 1
  cfg "$B" 'c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
c["process"]["args"] = ["/bin/sh", "-c", "ionice -p $$"]'
  ln -sf busybox "$B/rootfs/bin/ionice"
  L run --bundle "$B" $ID > out
  assert_file_has_content out 'best-effort: prio 6'
  # a process field cairn-launch does not apply is refused, never skipped
  cfg "$B" 'del c["process"]["ioPriority"]; c["process"]["scheduler"] = {"policy": "SCHED_IDLE"}'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'process.scheduler is not supported by cairn-launch'
  cfg "$B" 'del c["process"]["scheduler"]; c["process"]["apparmorProfile"] = "docker-default"'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'AppArmor is not enabled on this host'
  cfg "$B" 'del c["process"]["apparmorProfile"]; c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'SELinux is not enabled on this host'
  # a mount label where SELinux is off: left out, as runc and crun leave it
  # (the kernel would refuse context= on the tmpfs), and the container runs
  if [ ! -e /sys/fs/selinux/enforce ]; then
    cfg "$B" 'del c["process"]["selinuxLabel"]; c["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
c["mounts"].append({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
c["process"]["args"] = ["/bin/sh", "-c", "grep \" /mnt \" /proc/self/mountinfo"]'
    L run --bundle "$B" $ID > out
    assert_file_has_content out ' /mnt .* tmpfs '
    assert_not_file_has_content out 'context='
    cfg "$B" 'del c["linux"]["mountLabel"]; c["mounts"].pop()'
  fi
  cfg "$B" 'c.get("process", {}).pop("selinuxLabel", None); c["process"]["capabilities"]["bounding"].append("CAP_NOPE")'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" "unknown capability 'CAP_NOPE'"
  assert_not_has_file "$T/state/$ID"
  # a config.json straight from `runc spec` or `crun spec` runs unchanged:
  # they list ambient capabilities without inheritable ones, which the
  # kernel cannot raise; skipped, as runc and crun skip them
  local rt
  for rt in runc crun; do
    mkdir -p "$T/$rt"
    (cd "$T/$rt" && $rt spec)
    [ "$(jget "$T/$rt/config.json" 'len(j["process"]["capabilities"].get("ambient", []))')" -gt 0 ]
    [ "$(jget "$T/$rt/config.json" 'len(j["process"]["capabilities"].get("inheritable", []))')" = 0 ]
    cfg "$T/$rt" "c['root']['path'] = '$B/rootfs'; c['process']['terminal'] = False
c['process']['args'] = ['/bin/probe', 'status']"
    L run --bundle "$T/$rt" $ID > out
    assert_kv out CapAmb 0000000000000000
    assert_kv out CapEff 0000000020000420
  done
}

# ---- terminal, console socket, preserve-fds ---------------------------------------------------
t_terminal() {
  oci_case
  cfg "$B" 'c["process"]["terminal"] = True; c["process"]["consoleSize"] = {"height": 33, "width": 101}
c["process"]["args"] = ["/bin/sh", "-c", "/bin/probe session; stty size; sleep 1"]'
  # a console socket receiver: takes the pty master, prints what the container writes
  python3 - "$T/console.sock" > console.out 2>&1 <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
out = b""
while True:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode().replace("\r", ""))
EOF
  rcv=$!
  for i in $(seq 50); do [ -S "$T/console.sock" ] && break; sleep 0.1; done
  L create --bundle "$B" --console-socket "$T/console.sock" $ID
  L start $ID
  wait $rcv
  assert_kv console.out stdin /dev/pts/0
  assert_kv console.out console_is_stdin 1
  assert_file_has_content console.out '^33 101$'
  L delete --force $ID
  # terminal without a console socket: create refuses clearly
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" 'console-socket is needed'
  assert_not_has_file "$T/state/$ID"
  # run -t in the foreground relays the terminal itself
  cfg "$B" 'c["process"]["args"] = ["/bin/sh", "-c", "tty; exit 4"]'
  rc=0; script -qec "$CAIRN_LAUNCH --root $T/state run --bundle $B $ID" /dev/null < /dev/null > tty.out || rc=$?
  assert_streq "$rc" 4
  assert_file_has_content tty.out '/dev/pts/0'
  # exec -t: a new pty of the container's devpts, relayed by exec
  cfg "$B" 'c["process"]["terminal"] = False; c["process"]["args"] = ["/bin/sleep", "100"]'
  L run --detach --bundle "$B" $ID
  rc=0; script -qec "$CAIRN_LAUNCH --root $T/state exec -t $ID /bin/sh -c 'tty; exit 6'" /dev/null < /dev/null > etty.out || rc=$?
  assert_streq "$rc" 6
  # script(1) may relay a NUL from its stdin, echoed as ^@ by the pty
  assert_file_has_content etty.out '/dev/pts/[0-9]'
  L delete --force $ID
  # --preserve-fds N: fds 3..3+N-1 reach the process, nothing above
  cfg "$B" 'c["process"]["terminal"] = False; c["process"]["args"] = ["/bin/probe", "fds"]'
  echo passed > "$T/pfile"
  L run --preserve-fds 1 --bundle "$B" $ID 3<"$T/pfile" 4<"$T/pfile" > out
  echo "$(kv out fds)" | grep -q "^0:[^,]*,1:[^,]*,2:[^,]*,3:$T/pfile,$" || { cat out; exit 1; }
}

# ---- root, mounts, masked and read-only paths, propagation, devices --------------------------
t_mounts() {
  oci_case
  mkdir -p "$T/vol" "$B/rootfs/data"; echo hostdata > "$T/vol/f"; echo one > "$T/file"
  cfg "$B" "
c['mounts'] += [
  dict(destination='/data', type='bind', source='$T/vol', options=['rbind', 'ro', 'nosuid', 'nodev']),
  dict(destination='/new/dir', type='bind', source='$T/vol', options=['bind']),
  dict(destination='/etc/one', type='bind', source='$T/file', options=['bind', 'ro']),
  dict(destination='/scratch', type='tmpfs', source='tmpfs', options=['nosuid', 'noexec', 'size=1m', 'mode=700']),
  dict(destination='/opt', type='tmpfs', source='tmpfs', options=['tmpcopyup']),
]
c['linux']['maskedPaths'].append('/data/f')
c['linux']['readonlyPaths'].append('/new/dir')
c['linux']['devices'] = [dict(path='/dev/mynull', type='c', major=1, minor=3, fileMode=0o600, uid=1000, gid=1000)]
c['linux']['rootfsPropagation'] = 'rshared'
c['process']['args'] = ['/bin/check']"
  cat > "$B/rootfs/bin/check" <<'EOF'
#!/bin/sh
cat /data/f; cat /etc/one
/bin/probe mkdir /data/x; /bin/probe mkdir /new/dir/x; /bin/probe mkdir /x
stat -c "%a %u %g %t:%T" /dev/mynull
grep " /scratch " /proc/self/mountinfo
awk '$5 == "/" { print "root:", $0 }' /proc/self/mountinfo
echo copied=$(cat /opt/a/f),$(readlink /opt/l),$(stat -c %a /opt/a)
echo new > /opt/a/g
ls /dev | tr "\n" " "
EOF
  chmod 0755 "$B/rootfs/bin/check"
  mkdir -m 0750 -p "$B/rootfs/opt/a"; echo img > "$B/rootfs/opt/a/f"; ln -s a/f "$B/rootfs/opt/l"
  L run --bundle "$B" $ID > out
  # tmpcopyup: the image's files are in the tmpfs; writes stay there
  assert_kv out copied img,a/f,750
  assert_not_has_file "$B/rootfs/opt/a/g"
  assert_not_file_has_content out hostdata
  assert_file_has_content out '^one$'
  assert_kv out mkdir:/data/x EROFS
  assert_kv out mkdir:/new/dir/x EROFS
  assert_kv out mkdir:/x EROFS
  assert_file_has_content out '^600 1000 1000 1:3$'
  assert_file_has_content out ' /scratch rw,nosuid,noexec.* tmpfs tmpfs .*size=1024k,mode=700'
  assert_file_has_content out '^root: .* ro,.* shared:'
  assert_file_has_content out '^fd full mqueue mynull null ptmx pts random shm stderr stdin stdout tty urandom zero $'
  # the destinations were created in the rootfs, nothing outside it
  assert_has_dir "$B/rootfs/new/dir"
  assert_has_file "$B/rootfs/etc/one"
  # a symlink planted in the image is resolved inside the rootfs: a mount
  # destination below it is created there, never on the host
  ln -s /tmp "$B/rootfs/evil"
  cfg "$B" "c['mounts'].append(dict(destination='/evil/sub-$$', type='tmpfs', source='tmpfs'))
c['process']['args'] = ['/bin/true']"
  L run --bundle "$B" $ID
  assert_has_dir "$B/rootfs/tmp/sub-$$"
  [ ! -e /tmp/sub-$$ ]
  # one pointing at a host directory that the rootfs lacks: refused, host untouched
  mkdir -p "$T/outside"; ln -sfn "$T/outside" "$B/rootfs/evil"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'cannot create the mount destination in the rootfs (/evil/sub'
  assert_streq "$(ls "$T/outside")" ""
  rm "$B/rootfs/evil"
  ln -sfn /tmp "$B/rootfs/proc2"; rm -rf "$B/rootfs/proc"; ln -s /tmp "$B/rootfs/proc"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'real directory here.*/proc'
  rm "$B/rootfs/proc"; mkdir "$B/rootfs/proc"
  # (r)unbindable: the container's / cannot be bound; made so after the
  # rootfs and the binds of config.json are in place
  printf '#!/bin/sh\nawk '"'"'$5 == "/" { print "root:", $0 }'"'"' /proc/self/mountinfo\n' > "$B/rootfs/bin/rootprop"
  chmod 0755 "$B/rootfs/bin/rootprop"
  for p in unbindable runbindable; do
    cfg "$B" "c['linux']['rootfsPropagation'] = '$p'; c['process']['args'] = ['/bin/rootprop']"
    L run --bundle "$B" $ID > out
    assert_file_has_content out '^root: .* unbindable '
  done
  # file system options on a bind mean nothing to the kernel (runc and crun
  # pass them on): ignored with a warning
  cfg "$B" "c['mounts'].append(dict(destination='/vol2', type='bind', source='$T/vol', options=['bind', 'mode=755', 'size=1k']))
c['process']['args'] = ['/bin/cat', '/vol2/f']"
  L --log "$T/m.log" run --bundle "$B" $ID > out
  assert_file_has_content out '^hostdata$'
  assert_file_has_content "$T/m.log" "level=warning msg=\"config: mounts: /vol2: file system options on a bind mount are ignored: 'mode=755,size=1k'"
  # unknown options of a bind mount are refused
  cfg "$B" "c['mounts'][-1] = dict(destination='/data', type='bind', source='$T/vol', options=['bind', 'frobnicate'])"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" "unknown option for a bind mount: 'frobnicate'"
  # an id-mapped bind needs the container's own user namespace
  cfg "$B" "c['mounts'][-1] = dict(destination='/data', type='bind', source='$T/vol', options=['bind', 'idmap'])"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" '/data: an id-mapped mount (idmap, ridmap) needs its own uidMappings/gidMappings or a new user namespace'
  cfg "$B" "c['mounts'][-1] = dict(destination='/data', type='bind', source='$T/vol', options=['bind'], uidMappings=[])"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" '/data: uidMappings/gidMappings need the idmap or ridmap option'
  # with one (container 0 = host 100000): through idmap the host's root-owned
  # file is the container root's, and what that root creates is the host
  # root's; a plain bind of the same directory shows the overflow id
  mkdir -p "$T/idm"; echo x > "$T/idm/f"; chmod 0777 "$T/idm"
  mkbundle "$T/i"; mkdir "$T/i/rootfs/idm" "$T/i/rootfs/plain"
  cfg "$T/i" "c['linux']['namespaces'].append({'type': 'user'})
c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['mounts'] = [m for m in c['mounts'] if m['destination'] not in ('/sys', '/sys/fs/cgroup')]
c['mounts'].append(dict(destination='/idm', type='bind', source='$T/idm', options=['rbind', 'idmap']))
c['mounts'].append(dict(destination='/plain', type='bind', source='$T/idm', options=['rbind']))
c['process']['args'] = ['/bin/sh', '-c', 'stat -c \"%u %g\" /idm/f /plain/f; touch /idm/new /plain/new2']"
  L run --bundle "$T/i" $ID > out 2>&1 || true
  assert_streq "$(head -2 out | tr '\n' ' ')" "0 0 65534 65534 "
  assert_streq "$(stat -c '%u %g' "$T/idm/new")" "0 0"
  assert_streq "$(stat -c '%u %g' "$T/idm/new2")" "100000 100000"
  # a mount's own mappings, in a container without a user namespace: the
  # host's uid/gid 0 is 1000/1001 through that mount
  mkbundle "$T/j"; mkdir "$T/j/rootfs/idm"
  cfg "$T/j" "c['mounts'].append(dict(destination='/idm', type='bind', source='$T/idm', options=['bind', 'idmap'],
  uidMappings=[{'containerID': 0, 'hostID': 1000, 'size': 1}], gidMappings=[{'containerID': 0, 'hostID': 1001, 'size': 1}]))
c['process']['args'] = ['/bin/stat', '-c', '%u %g', '/idm/f']"
  L run --bundle "$T/j" $ID > out 2>&1 || true
  assert_streq "$(cat out)" "1000 1001"
}

# ---- namespaces, id mappings, sysctl, personality ---------------------------------------------
t_namespaces() {
  oci_case
  cfg "$B" 'c["process"]["args"] = ["/bin/sleep", "100"]'
  L run --detach --bundle "$B" $ID-a
  apid=$(L state $ID-a | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  mkbundle "$T/c"
  cfg "$T/c" "
for n in c['linux']['namespaces']:
    if n['type'] in ('network', 'ipc', 'uts'): n['path'] = '/proc/$apid/ns/' + ('net' if n['type'] == 'network' else n['type'])
del c['hostname']
c['mounts'] = [m for m in c['mounts'] if m['destination'] not in ('/sys', '/sys/fs/cgroup')]
c['linux']['sysctl'] = {'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234'}
c['linux']['personality'] = {'domain': 'LINUX32'}
c['process']['args'] = ['/bin/sh', '-c', '/bin/probe ns; cat /proc/self/uid_map; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; uname -m']"
  L run --bundle "$T/c" $ID-b > out
  for n in net ipc uts; do assert_streq "$(kv out ns_$n)" "$(stat -L -c %i /proc/$apid/ns/$n)"; done
  assert_not_streq "$(kv out ns_pid)" "$(stat -L -c %i /proc/$apid/ns/pid)"
  assert_streq "$(tail -3 out | tr '\n' ' ')" "1 1234 i686 "
  # a user namespace with mappings (root may map ranges)
  cfg "$B" "c['linux']['namespaces'].append({'type': 'user'})
c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['mounts'] = [m for m in c['mounts'] if m['destination'] not in ('/sys', '/sys/fs/cgroup')]
c['process']['args'] = ['/bin/sh', '-c', '/bin/probe ns; /bin/probe status; cat /proc/self/uid_map /proc/self/gid_map']"
  L run --bundle "$B" $ID-u > out
  assert_not_streq "$(kv out ns_user)" "$(stat -L -c %i /proc/self/ns/user)"
  assert_kv out Uid "0	0	0	0"
  assert_streq "$(grep -c '^ *0 *100000 *65536$' out)" 2
  # namespaces joined by path together with a new user namespace (a pod of
  # containers with their own mappings): joined first, then the user one
  cfg "$T/c" "c['linux']['namespaces'].append({'type': 'user'})
c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['linux']['sysctl'] = {}
# an ipc namespace of another user namespace: no mqueue mount of its own
c['mounts'] = [m for m in c['mounts'] if m['destination'] != '/dev/mqueue']
c['process']['args'] = ['/bin/sh', '-c', '/bin/probe ns; cat /proc/self/uid_map; echo me=\$\$']"
  L run --bundle "$T/c" $ID-b > out
  for n in net ipc uts; do assert_streq "$(kv out ns_$n)" "$(stat -L -c %i /proc/$apid/ns/$n)"; done
  assert_not_streq "$(kv out ns_user)" "$(stat -L -c %i /proc/self/ns/user)"
  assert_not_streq "$(kv out ns_pid)" "$(stat -L -c %i /proc/$apid/ns/pid)"
  assert_kv out me 1
  assert_file_has_content out '^ *0 *100000 *65536$'
  assert_not_has_file "$T/state/$ID-b"
  L create --bundle "$T/c" $ID-b
  L state $ID-b > st.json
  assert_streq "$(cat /proc/$(jget st.json 'j["pid"]')/uid_map | tr -s ' ')" " 0 100000 65536"
  L delete $ID-b
  # but a pid namespace given by path could not be mounted by that root
  cfg "$T/c" "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'pid'] + [{'type': 'pid', 'path': '/proc/$apid/ns/pid'}]"
  assert_fails L run --bundle "$T/c" $ID-b
  assert_file_has_content "$T/err" 'joining a pid namespace by path'
  cfg "$T/c" "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] not in ('user', 'pid')] + [{'type': 'pid'}]
del c['linux']['uidMappings']; del c['linux']['gidMappings']"
  assert_streq "$(cat /proc/sys/net/ipv4/ip_forward)" "$(cat /proc/sys/net/ipv4/ip_forward)"
  # a sysctl that is not namespaced here would change the host: refused
  cfg "$T/c" "c['linux']['sysctl'] = {'kernel.core_pattern': 'x'}"
  assert_fails L run --bundle "$T/c" $ID-b
  assert_file_has_content "$T/err" 'kernel.core_pattern is not namespaced'
  cfg "$T/c" "c['linux']['sysctl'] = {}; c['linux']['namespaces'].append({'type': 'time'})"
  assert_fails L run --bundle "$T/c" $ID-b
  assert_file_has_content "$T/err" 'time namespace is not supported'
  L delete --force $ID-a
  ns_joined_mnt_uts
  ns_no_mount_ns
}

# Mount and uts namespaces joined by path (another process's, made by
# unshare): the rootfs is set up and the hostname set in them, as runc and
# crun do; never in the runtime's own.
ns_joined_mnt_uts() {
  mkbundle "$T/j"
  unshare -m -u --propagation private sleep 100 &
  local holder=$!
  add_cleanup "kill $holder 2>/dev/null"
  local i=0
  while [ "$(stat -L -c %i /proc/$holder/ns/mnt)" = "$(stat -L -c %i /proc/self/ns/mnt)" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "unshare did not start"; exit 1; }; sleep 0.05
  done
  cfg "$T/j" "
for n in c['linux']['namespaces']:
    if n['type'] in ('mount', 'uts'): n['path'] = '/proc/$holder/ns/' + ('mnt' if n['type'] == 'mount' else 'uts')
c['hostname'] = 'joined'
c['process']['args'] = ['/bin/sh', '-c', '/bin/probe ns; hostname; test -e /proc/self/ns && echo proc=yes']"
  L run --bundle "$T/j" $ID-j > out
  assert_streq "$(kv out ns_mnt)" "$(stat -L -c %i /proc/$holder/ns/mnt)"
  assert_streq "$(kv out ns_uts)" "$(stat -L -c %i /proc/$holder/ns/uts)"
  assert_file_has_content out '^joined$'
  assert_kv out proc yes
  # the mounts are in the joined namespace, not in ours; our name is ours
  assert_not_file_has_content /proc/self/mountinfo " $T/j/rootfs"
  assert_not_streq "$(hostname)" joined
  kill $holder
  # the runtime's own namespaces are not the container's to change
  cfg "$T/j" "
for n in c['linux']['namespaces']:
    if n['type'] == 'uts': n['path'] = '/proc/self/ns/uts'"
  assert_fails L run --bundle "$T/j" $ID-j
  assert_file_has_content "$T/err" "hostname/domainname need a uts namespace of the container's own"
}

# No mount namespace at all: the container inherits the runtime's (runtime-
# spec config-linux.md, "Namespaces"); its mounts are made there below the
# rootfs, it is chrooted, and delete takes the mounts away.  Run in a mount
# namespace of the test's own.
ns_no_mount_ns() {
  mkbundle "$T/n"
  cfg "$T/n" "
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'mount']
c['root']['readonly'] = True
c['process']['args'] = ['/bin/sh', '-c', '/bin/probe ns; ls /proc/self/ns >/dev/null && echo proc=yes; ls /dev/null; exec sleep 100']"
  cat > "$T/nomnt.sh" <<EOF
set -e
me=\$(stat -L -c %i /proc/self/ns/mnt)
L() { "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$SC_CACHE" "\$@"; }
L create --bundle "$T/n" $ID-n > "$T/n.out"
L start $ID-n
i=0; until grep -q ^proc= "$T/n.out"; do i=\$((i + 1)); [ \$i -lt 100 ]; sleep 0.05; done
pid=\$(L state $ID-n | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
echo inherited=\$([ "\$(stat -L -c %i /proc/\$pid/ns/mnt)" = "\$me" ] && echo yes)
echo during=\$(grep -c " $T/n/rootfs" /proc/self/mountinfo)
echo exec=\$(L exec $ID-n /bin/ls /bin/probe)
L kill $ID-n KILL
i=0; until L state $ID-n | grep -q '"stopped"'; do i=\$((i + 1)); [ \$i -lt 100 ]; sleep 0.05; done
L delete $ID-n
echo after=\$(grep -c " $T/n/rootfs" /proc/self/mountinfo || true)
EOF
  unshare -m --propagation private sh "$T/nomnt.sh" > out
  cat "$T/n.out" out
  assert_kv out inherited yes
  assert_kv "$T/n.out" proc yes
  assert_file_has_content "$T/n.out" '^/dev/null$'
  [ "$(kv out during)" -ge 4 ]
  assert_kv out after 0
  # exec enters its root too (/bin/probe is only in the bundle's rootfs)
  assert_kv out exec /bin/probe
  assert_not_has_file "$T/state/$ID-n"
  # its "/" is the runtime's: no propagation to set there
  cfg "$T/n" "c['linux']['rootfsPropagation'] = 'rshared'"
  assert_fails L run --bundle "$T/n" $ID-n
  assert_file_has_content "$T/err" 'rootfsPropagation needs a mount namespace of the container'
}

# ---- cgroups and resources ----------------------------------------------------------------------
t_resources() {
  oci_case
  [ -d /sys/fs/cgroup/memory ] || skip "written for v1/hybrid hosts (this test reads v1 files)"
  cg=/cairn-oci-test-$$/ctr
  cfg "$B" "
c['linux']['cgroupsPath'] = '$cg'
c['linux']['resources'] = {
  'memory': {'limit': 67108864, 'reservation': 33554432, 'swappiness': 10},
  'cpu': {'shares': 512, 'quota': 50000, 'period': 100000, 'cpus': '0', 'mems': '0'},
  'pids': {'limit': 32},
  'devices': [{'allow': False, 'access': 'rwm'}, {'allow': True, 'type': 'c', 'major': 1, 'minor': 5, 'access': 'rwm'}],
}
c['linux']['devices'] = [dict(path='/dev/blocked', type='c', major=10, minor=229)]
c['process']['args'] = ['/bin/sh', '-c', 'head -c1 /dev/zero >/dev/null && echo zero=open; (exec 3</dev/blocked) 2>/dev/null && echo blocked=open || echo blocked=denied; /bin/probe forks; sleep 100']"
  L run --detach --bundle "$B" $ID > out 2>&1
  wait_for out forks=
  d=/sys/fs/cgroup
  assert_streq "$(cat $d/memory$cg/memory.limit_in_bytes)" 67108864
  assert_streq "$(cat $d/memory$cg/memory.soft_limit_in_bytes)" 33554432
  assert_streq "$(cat $d/memory$cg/memory.swappiness)" 10
  assert_streq "$(cat $d/cpu$cg/cpu.shares)" 512
  assert_streq "$(cat $d/cpu$cg/cpu.cfs_quota_us)" 50000
  assert_streq "$(cat $d/cpuset$cg/cpuset.cpus)" 0
  assert_streq "$(cat $d/pids$cg/pids.max)" 32
  assert_file_has_content $d/devices$cg/devices.list '^c 1:5 rwm$'
  # /dev/zero readable, /dev/blocked (10:229, not allowed) refused, forks stop at pids.max
  assert_kv out zero open
  assert_kv out blocked denied
  assert_kv out forks 30 # sh and the probe are 2 of the 32
  L delete --force $ID
  for c in memory cpu pids devices cpuset freezer; do [ ! -d $d/$c$cg ]; done
  rmdir $d/*/cairn-oci-test-$$ 2>/dev/null || true
  # the same rules as cgroup v2's eBPF device program (forced here in the
  # hybrid host's cgroup2 mount): /dev/zero allowed, 1:11 refused
  if [ -d $d/unified ]; then
    CAIRN_LAUNCH_DEVICES_BPF=1 L run --bundle "$B" $ID-bpf > out 2>&1 &
    wait_for out forks=
    assert_kv out zero open
    assert_kv out blocked denied
    assert_has_dir $d/unified$cg
    L delete --force $ID-bpf
    wait
    [ ! -d $d/unified$cg ]
    rmdir $d/*/cairn-oci-test-$$ 2>/dev/null || true
  fi
  # a relative cgroupsPath is below the runtime's own cgroup
  cfg "$B" "c['linux']['cgroupsPath'] = 'cairn-oci-rel-$$'; del c['linux']['resources']['devices']
c['process']['args'] = ['/bin/sleep', '100']"
  L run --detach --bundle "$B" $ID
  own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
  assert_has_dir "$d/memory${own%/}/cairn-oci-rel-$$"
  L delete --force $ID
  [ ! -d "$d/memory${own%/}/cairn-oci-rel-$$" ]
  # hugetlb: v1 controller, or the cgroup2 mount of a hybrid host
  cfg "$B" "c['linux']['cgroupsPath'] = ''; c['linux']['resources'] = {'hugepageLimits': [{'pageSize': '2MB', 'limit': 4194304}]}"
  L run --detach --bundle "$B" $ID
  h=$(cat $d/hugetlb/cairn/$ID/hugetlb.2MB.limit_in_bytes 2>/dev/null || cat $d/unified/cairn/$ID/hugetlb.2MB.max)
  assert_streq "$h" 4194304
  L delete --force $ID
  [ ! -d $d/unified/cairn/$ID ]
  # blockIO throttling of a disk of the machine (blkio.weight would need
  # the BFQ scheduler, which the virtio disk here does not use)
  if [ -d $d/blkio ]; then
    read -r mm < "/sys/block/$(ls /sys/block | head -n 1)/dev"
    cfg "$B" "c['linux']['resources'] = {'blockIO': {'throttleReadBpsDevice': [{'major': ${mm%:*}, 'minor': ${mm#*:}, 'rate': 1048576}], 'throttleWriteIOPSDevice': [{'major': ${mm%:*}, 'minor': ${mm#*:}, 'rate': 100}]}}"
    L run --detach --bundle "$B" $ID
    assert_file_has_content $d/blkio/cairn/$ID/blkio.throttle.read_bps_device "^$mm 1048576\$"
    assert_file_has_content $d/blkio/cairn/$ID/blkio.throttle.write_iops_device "^$mm 100\$"
    L delete --force $ID
  fi
  # what cannot be applied here is an error naming the field
  cfg "$B" "c['linux']['resources'] = {'rdma': {}}"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'linux.resources.rdma is not supported'
  cfg "$B" "c['linux']['resources'] = {'memory': {'kernel': 1048576}}"
  if [ ! -e $d/memory/memory.kmem.limit_in_bytes ]; then
    assert_fails L run --bundle "$B" $ID
    assert_file_has_content "$T/err" 'kernel'
  fi
  cfg "$B" "c['linux']['resources'] = {'unified': {'memory.high': '1000000'}}"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'linux.resources.unified'
  cfg "$B" "c['linux']['resources'] = {}; c['linux']['cgroupsPath'] = 'system.slice:cairn:x'"
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'systemd slice:prefix:name'
  assert_fails "$CAIRN_LAUNCH" --root "$T/state" --systemd-cgroup run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'no systemd cgroup driver'
  assert_not_has_file "$T/state/$ID"
}

# ---- seccomp (the runtime-spec form) ----------------------------------------------------------------
t_seccomp() {
  oci_case
  cfg "$B" '
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
  "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18},
               {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]}
c["root"]["readonly"] = False
c["process"]["args"] = ["/bin/sh", "-c", "/bin/probe mkdir /tmp/x; /bin/probe status"]'
  L run --bundle "$B" $ID > out
  assert_kv out mkdir:/tmp/x EXDEV
  assert_kv out Seccomp 2
  cfg "$B" 'c["process"]["args"] = ["/bin/sleep", "100"]'
  L run --detach --bundle "$B" $ID
  L exec $ID /bin/probe mkdir /tmp/y > out
  assert_kv out mkdir:/tmp/y EXDEV
  L delete --force $ID
  # SCMP_ACT_NOTIFY: the listener gets the fd and the containerProcessState;
  # once it closes the fd, the notified calls fail with ENOSYS
  python3 - "$T/sc.sock" > listener.out 2>&1 <<'EOF' &
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 65536, 1)
st = json.loads(msg)
print("fds=%s meta=%s id=%s status=%s pid=%s link=%s" % (st["fds"], st["metadata"], st["state"]["id"],
      st["state"]["status"], st["pid"] > 0, os.readlink("/proc/self/fd/%d" % fds[0])))
os.close(fds[0])
EOF
  lst=$!
  for i in $(seq 50); do [ -S "$T/sc.sock" ] && break; sleep 0.1; done
  cfg "$B" 'c["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY"
c["linux"]["seccomp"]["listenerPath"] = "'"$T"'/sc.sock"; c["linux"]["seccomp"]["listenerMetadata"] = "meta1"
c["process"]["args"] = ["/bin/probe", "mkdir", "/tmp/z"]'
  L run --bundle "$B" $ID > out
  wait $lst || { cat listener.out; exit 1; }
  assert_kv out mkdir:/tmp/z ENOSYS
  assert_file_has_content listener.out "^fds=\['seccompFd'\] meta=meta1 id=$ID status=creating pid=True link=anon_inode:seccomp notify$"
  assert_not_has_file "$T/state/$ID"
  cfg "$B" 'del c["linux"]["seccomp"]["listenerPath"]'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'SCMP_ACT_NOTIFY needs listenerPath'
  cfg "$B" 'c["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_ERRNO"; c["linux"]["seccomp"]["listenerPath"] = "/run/x.sock"'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'listenerPath without any SCMP_ACT_NOTIFY'
  cfg "$B" 'del c["linux"]["seccomp"]["listenerPath"]; c["linux"]["seccomp"]["syscalls"][0]["bogus"] = 1'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'unknown field linux.seccomp.syscalls\[\].bogus'
  cfg "$B" 'del c["linux"]["seccomp"]["syscalls"][0]["bogus"]; c["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_FROB"'
  assert_fails L run --bundle "$B" $ID
  assert_file_has_content "$T/err" 'unsupported action'
}

# ---- bad input ----------------------------------------------------------------------------------------
t_bad_config() {
  oci_case
  cp "$B/config.json" good.json
  try() { cp good.json "$B/config.json"; cfg "$B" "$1"; assert_fails L create --bundle "$B" $ID
          assert_file_has_content "$T/err" "$2"; assert_not_has_file "$T/state/$ID"; }
  try 'c["linux"]["frobnicate"] = 1' 'unknown field linux.frobnicate'
  try 'c["process"]["user"]["bogus"] = 1' 'unknown field process.user.bogus'
  try 'c["extra"] = {}' 'unknown field extra'
  try 'c["linux"]["intelRdt"] = {"closID": "x"}' 'linux.intelRdt is not supported by cairn-launch'
  try 'c["windows"] = {}' 'windows is not supported'
  try 'c["process"]["args"] = []' 'process.args must name a command'
  try 'c["process"]["cwd"] = "relative"' 'process.cwd must be an absolute path'
  try 'c["process"]["env"] = ["NOEQUALS"]' 'is not KEY=VALUE'
  try 'c["process"]["rlimits"] = [{"type": "RLIMIT_FROB", "soft": 1, "hard": 1}]' "unknown type 'RLIMIT_FROB'"
  try 'c["process"]["user"]["uid"] = -1' 'process.user.uid must be an integer'
  try 'c["root"]["path"] = "nowhere"' 'root.path .* is not a directory'
  try 'c["ociVersion"] = "2.0.0"' 'ociVersion must be 1.x'
  try 'c["linux"]["namespaces"].append({"type": "pid"})' "'pid' is listed twice"
  try 'c["mounts"].append({"destination": "rel", "type": "tmpfs"})' 'destination must be an absolute path'
  try 'c["linux"]["devices"] = [{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]' 'must be under /dev'
  try 'c["linux"]["resources"]["memory"] = {"limit": "lots"}' 'memory.limit must be an integer'
  try 'c["hooks"] = {"prestart": [{"path": "relative"}]}' 'must be an absolute path'
  try 'c["hooks"] = {"preStart": []}' 'unknown field hooks.preStart'
  try 'c["linux"]["maskedPaths"] = ["relative"]' "linux.maskedPaths: 'relative' is not an absolute path"
  printf '{"ociVersion": "1.1.0",}' > "$B/config.json"
  assert_fails L create --bundle "$B" $ID
  assert_file_has_content "$T/err" 'invalid JSON'
  assert_fails L create --bundle "$T/nowhere" $ID
  assert_file_has_content "$T/err" "bundle $T/nowhere"
  cp good.json "$B/config.json"
  assert_fails L create --bundle "$B" ../escape
  assert_file_has_content "$T/err" "invalid container id"
  # --log with --log-format json: the engines read the message from there
  assert_fails "$CAIRN_LAUNCH" --root "$T/state" --log "$T/log.json" --log-format json start nosuch
  assert_streq "$(jget "$T/log.json" 'j["level"]')" error
  jget "$T/log.json" 'j["msg"]' | grep -q 'container nosuch does not exist'
  # --debug: the command line and its exit status, on stderr and in the log
  assert_fails "$CAIRN_LAUNCH" --debug --root "$T/state" --log "$T/debug.log" kill nosuch KILL
  assert_file_has_content "$T/debug.log" "level=debug msg=\"kill nosuch KILL (root $T/state)\""
  assert_file_has_content "$T/debug.log" 'level=debug msg="kill: exit status 1"'
  assert_file_has_content "$T/err" 'cairn-launch: kill: exit status 1'
}

# ---- rootless ------------------------------------------------------------------------------------------
t_rootless() {
  require_user
  trap cleanup_containers EXIT
  mkdir -p "$T/b"; make_rootfs "$T/b/rootfs"
  chmod 0755 "$T" "$T/b"
  chown "$LAUNCH_UID:$LAUNCH_GID" "$T/b"
  as_user sh -c "cd $T/b && $CAIRN_LAUNCH spec --rootless"
  cfg "$T/b" 'c["process"]["terminal"] = False; c["process"]["args"] = ["/bin/sh", "-c", "/bin/probe status; cat /proc/self/uid_map; /bin/probe ns"]'
  mkdir "$T/ustate"; chown "$LAUNCH_UID:$LAUNCH_GID" "$T/ustate"
  UL() { as_user "$CAIRN_LAUNCH" --root "$T/ustate" --seccomp-cache=none "$@"; }
  UL run --bundle "$T/b" $ID > out
  assert_kv out Uid "0	0	0	0"
  assert_file_has_content out "^ *0 *$LAUNCH_UID *1$"
  assert_not_streq "$(kv out ns_user)" "$(stat -L -c %i /proc/self/ns/user)"
  cfg "$T/b" 'c["process"]["args"] = ["/bin/sleep", "100"]'
  UL create --bundle "$T/b" $ID
  UL start $ID
  UL exec $ID /bin/sh -c 'id -u; cat /proc/1/comm' > out
  assert_streq "$(tr '\n' ' ' < out)" "0 sleep "
  UL kill $ID KILL
  for i in $(seq 50); do UL state $ID | grep -q stopped && break; sleep 0.1; done
  UL delete $ID
  assert_not_has_file "$T/ustate/$ID"
  # limits need a delegated cgroup: refused clearly, not ignored
  cfg "$T/b" 'c["linux"]["resources"] = {"pids": {"limit": 10}}'
  assert_fails UL run --bundle "$T/b" $ID
  assert_file_has_content "$T/err" 'rootless: cgroups need a delegated cgroup'
  assert_not_has_file "$T/ustate/$ID"
  # root of a user namespace the caller made (podman's rootless mode runs
  # the runtime so): no new user namespace needed, nodes bound, no cgroups
  mkdir -p "$T/b2"; make_rootfs "$T/b2/rootfs"; (cd "$T/b2" && "$CAIRN_LAUNCH" spec)
  cfg "$T/b2" 'c["process"]["terminal"] = False; c["linux"]["resources"] = {}
c["process"]["args"] = ["/bin/sh", "-c", "/bin/probe status; cat /proc/self/uid_map; ls /dev"]'
  chmod -R a+rX "$T/b2"
  as_user unshare --user --map-root-user "$CAIRN_LAUNCH" --root "$T/ustate" --seccomp-cache=none run --bundle "$T/b2" $ID-ns > out
  assert_kv out Uid "0	0	0	0"
  assert_file_has_content out "^ *0 *$LAUNCH_UID *1$"
  assert_file_has_content out '^null$'
  assert_not_has_file "$T/ustate/$ID-ns"
  # a mapping of someone else's uid needs newuidmap and /etc/subuid
  cfg "$T/b" 'c["linux"]["resources"] = {}; c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]'
  assert_fails UL run --bundle "$T/b" $ID
  assert_file_has_content "$T/err" 'uid map'
}

# ---- --print-oci-config: the same container through both paths ------------------------------
t_print_config() {
  oci_case
  mkdir -p "$T/vol" "$T/pc"; echo v > "$T/vol/f"
  chmod 1777 "$B/rootfs/tmp"
  opts="--no-init --memory=64M --pids=20 --cpus=0.5 --hostname=box --bind=$T/vol:/mnt:ro --tmpfs=/tmp --clear-env --env=A=1 --env=B=2 --user=1000:1000 --workdir=/tmp --cap-add=SYS_PTRACE"
  check='/bin/probe syscalls; /bin/probe status; /bin/probe ns | grep -v ^ns_; awk "\$5 != \"/\" {print \$5, \$6, \$9}" /proc/self/mountinfo | sort; env | sort; pwd; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1; cat /mnt/f; /bin/probe mkdir /x; /bin/probe write /proc/sys/vm/swappiness'
  "$CAIRN_LAUNCH" --print-oci-config $opts "$B/rootfs" /bin/sh -c "$check" > "$T/pc/config.json"
  "$CAIRN_LAUNCH" --seccomp-cache="$SC_CACHE" $opts "$B/rootfs" /bin/sh -c "$check" > direct
  L run --bundle "$T/pc" $ID > oci
  # the OCI path mounts every hierarchy the container joins (read-only,
  # each rooted at its own cgroup), the launcher's form those of its limits
  # only (the container has cgroups of its own in those only)
  grep -v -e '^/sys/fs/cgroup/' direct > direct.f
  grep -v -e '^/sys/fs/cgroup/' oci > oci.f
  diff -u direct.f oci.f
  # the default profile keeps its ENOSYS for calls newer than libseccomp,
  # which its JSON form cannot say: recognised as the default policy
  assert_kv oci newer_syscall ENOSYS
  grep '^/sys/fs/cgroup/memory ro,' oci
  # a profile that differs from it in one rule is a profile like any other
  cfg "$T/pc" "c['linux']['seccomp']['syscalls'][0]['names'].append('acct')"
  L run --bundle "$T/pc" $ID > oci2
  assert_kv oci2 newer_syscall EPERM
  assert_kv oci CapEff 0000000000000000
  assert_kv oci CapBnd 00000000a00c25fb
  assert_kv oci Seccomp 2
  assert_kv oci hostname box
  assert_kv oci mkdir:/x EROFS
  assert_file_has_content oci '^A=1$'
  # an overlay root needs a place for its layers; without one it is refused
  assert_fails "$CAIRN_LAUNCH" --print-oci-config --writable "$B/rootfs" /bin/true
  assert_file_has_content "$T/err" 'need --overlay-upper=DIR'
  # --init: this binary, read-only at /dev/init, as pid 1 in front of the command
  "$CAIRN_LAUNCH" --print-oci-config --init "$B/rootfs" /bin/true > init.json
  python3 - init.json "$(realpath "$CAIRN_LAUNCH")" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["process"]["args"] == ["/dev/init", "--container-init", "/bin/true"], c["process"]["args"]
m = [m for m in c["mounts"] if m["destination"] == "/dev/init"]
assert m and m[0]["source"] == sys.argv[2] and "ro" in m[0]["options"], m
PY
}

# ---- device nodes over what the image has at their paths ----------------------------------------
# Without a tmpfs on /dev the nodes are made in the image's own /dev: what
# is at a node's path (here a regular file) is replaced, modes exact, set-id
# bits included (runtime/oci-mounts.c, make_node).
t_devices_replace() {
  oci_case
  cfg "$B" "c['mounts'] = [m for m in c['mounts'] if m['destination'] != '/dev']
c['linux']['devices'] = [dict(path='/dev/mynull', type='c', major=1, minor=3, fileMode=0o2640)]"
  echo planted > "$B/rootfs/dev/mynull"; echo planted > "$B/rootfs/dev/zero"
  args "$B" /bin/sh -c 'stat -c "%n %F %a %t:%T" /dev/mynull /dev/zero'
  L run --bundle "$B" $ID > out
  assert_file_has_content out '^/dev/mynull character special file 2640 1:3$'
  assert_file_has_content out '^/dev/zero character special file 666 1:5$'
}

# ---- the command's signals: every one at its default disposition, none blocked ------------------
# What the caller ignored or blocked does not reach the container (the
# child resets what /proc/self/status lists as ignored or caught,
# runtime/oci-child.c reset_signals), with and without the runtime's init.
t_signals_default() {
  oci_case
  local show='exec grep -E "^Sig(Ign|Blk|Cgt):" /proc/self/status'
  args "$B" /bin/sh -c "$show"
  # 32 and 33 too, which the C library keeps for itself (set with the
  # system call: its sigaction() refuses them)
  ign_rt() {
    perl -e 'for my $s (32, 33) { my $k = pack ("QQQQ", 1, 0, 0, 0);
               syscall (13, $s, $k, 0, 8) == 0 or die "rt_sigaction $s: $!" }
             exec @ARGV or die "exec: $!"' "$@"
  }
  (trap '' PIPE INT USR1 HUP TERM WINCH URG TTIN TTOU TSTP
   ign_rt "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$SC_CACHE" run --bundle "$B" $ID) > out
  (trap '' PIPE INT USR1 HUP TERM WINCH URG TTIN TTOU TSTP; ign_rt "$CAIRN_LAUNCH" --oci-run --containers="$T/ctrs" --rm --no-stdin \
    --init --seccomp-cache="$SC_CACHE" "$B/rootfs" /bin/sh -c "$show") > out-init
  for f in out out-init; do
    assert_file_has_content $f '^SigIgn:	0000000000000000$'
    assert_file_has_content $f '^SigBlk:	0000000000000000$'
    assert_file_has_content $f '^SigCgt:	0000000000000000$'
  done
}

# ---- --init: pid 1 confines itself before it handles anything --------------------------------
# The OCI form's init loads its own allow-list (runtime/init.c, reaper_filter)
# on top of the container's filter before it handles its first event (here a
# signal to forward), and exits on the command's end without it.
t_init_confined_before_events() {
  oci_case
  local cmd='grep Seccomp_filters /proc/1/status; trap "echo forwarded" USR1; kill -USR1 1;'
  cmd="$cmd"' for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "Seccomp_filters:.2" /proc/1/status && break; sleep 0.1; done;'
  cmd="$cmd"' grep Seccomp_filters /proc/1/status'
  "$CAIRN_LAUNCH" --oci-run --containers="$T/ctrs" --rm --no-stdin --init --seccomp-cache="$SC_CACHE" \
    "$B/rootfs" /bin/sh -c "$cmd" > out
  assert_streq "$(head -1 out | tr -s '\t ' ' ')" "Seccomp_filters: 1"
  assert_file_has_content out '^forwarded$'
  assert_streq "$(tail -1 out | tr -s '\t ' ' ')" "Seccomp_filters: 2"
}

# The init starts the command with vfork (runtime/init.c); under a profile
# that refuses vfork (EPERM) it falls back to fork, and the command runs.
t_init_vfork_refused() {
  oci_case
  "$CAIRN_LAUNCH" --print-seccomp-profile > prof.json
  python3 - prof.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for r in p["syscalls"]:
    r["names"] = [n for n in r["names"] if n != "vfork"]
p["syscalls"] = [r for r in p["syscalls"] if r["names"]]
p["syscalls"].append({"names": ["vfork"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
json.dump(p, open(sys.argv[1], "w"))
PY
  "$CAIRN_LAUNCH" --oci-run --containers="$T/ctrs" --rm --no-stdin --init --seccomp=prof.json \
    --seccomp-cache="$SC_CACHE" "$B/rootfs" /bin/echo ran > out
  assert_streq "$(cat out)" ran
}

# ---- delete: what a pid 1 without a pid namespace left behind ----------------------------------
# Its cgroups are busy until that is killed: run's deletion (and delete)
# kill what they find there and remove them (runtime/oci-cgroup.c, rm_cg).
t_delete_leftovers() {
  oci_case
  # running (a killed one may stay a zombie until the host's init reaps it)
  alive() { local s; s=$(awk '{print $3}' /proc/$1/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ]; }
  cfg "$B" "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'pid']"
  args "$B" /bin/sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!'
  L run --bundle "$B" $ID > out
  left=$(cat out)
  [ -n "$left" ] || { echo "no pid printed"; exit 1; }
  if alive "$left"; then echo "pid 1's child $left outlived run"; exit 1; fi
  assert_streq "$(cgdirs $ID)" ""
  # the same with create/start/delete: the leftover is killed by delete
  L create --bundle "$B" $ID > out2
  L start $ID
  wait_status $ID stopped
  left=$(cat out2)
  L delete $ID
  [ -n "$left" ] || { echo "nothing left to kill"; exit 1; }
  if alive "$left"; then echo "$left outlived delete"; exit 1; fi
  assert_streq "$(cgdirs $ID)" ""
}

# A start's overlapped steps (runtime/oci-create.c early_net and hand_cpu,
# runtime/oci-mounts.c's deferred cgroup mounts) give the container what
# the serial order gave: a network namespace of its own with lo up, the
# caller's CPUs (not only the one the runtime handed over at the clone),
# the cgroup mounts, and a later mount over one of them still over it.
t_start_overlap() {
  oci_case
  args "$B" /bin/sh -c 'cat /sys/class/net/lo/flags; readlink /proc/self/ns/net; grep Cpus_allowed_list /proc/self/status; grep Cpus_allowed_list /proc/1/status; cut -d" " -f5 /proc/self/mountinfo'
  L run --bundle "$B" $ID > out
  assert_streq "$(sed -n 1p out)" 0x9
  assert_not_streq "$(sed -n 2p out)" "$(readlink /proc/self/ns/net)"
  local cpus; cpus=$(grep Cpus_allowed_list /proc/self/status)
  assert_streq "$(sed -n 3p out)" "$cpus"
  assert_streq "$(sed -n 4p out)" "$cpus"
  assert_file_has_content out '^/sys/fs/cgroup$'
  # a narrower caller's set is the container's too
  if [ "$(nproc)" -ge 2 ]; then
    taskset -c 1 "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$SC_CACHE" run --bundle "$B" $ID > out1
    assert_streq "$(sed -n 3p out1)" "$(printf 'Cpus_allowed_list:\t1')"
    # one CPU: no thread beside, the child makes its own namespace
    assert_streq "$(sed -n 1p out1)" 0x9
    assert_not_streq "$(sed -n 2p out1)" "$(readlink /proc/self/ns/net)"
  fi
  # a tmpfs over /sys/fs, after the cgroup mount in the config, covers it
  cfg "$B" "c['mounts'].append({'destination': '/sys/fs', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'nodev']})"
  args "$B" /bin/sh -c 'echo "fs: $(ls -A /sys/fs)"; cut -d" " -f5 /proc/self/mountinfo'
  L run --bundle "$B" $ID > out2
  assert_file_has_content out2 '^fs: $'
  assert_streq "$(grep -n '^/sys/fs' out2 | tail -n 1 | cut -d: -f2)" /sys/fs
}

# A create killed after it made its state directory and before it wrote
# state.json (the child's namespaces and mounts are made meanwhile:
# runtime/oci-create.c record_created) leaves a directory with at most its
# exec fifo and config.json, and neither a process nor a cgroup: delete
# --force removes it; one whose creator still holds its lock is waited for.
t_delete_unborn() {
  mkdir -p "$T/state/ghost" "$T/state/busy"
  mkfifo "$T/state/ghost/exec.fifo"
  echo '{}' > "$T/state/ghost/config.json"
  if L delete ghost 2> err; then echo "delete without --force removed it"; exit 1; fi
  assert_file_has_content err "container ghost does not exist"
  L list > list
  if grep -q ghost list; then echo "list shows the unborn one"; exit 1; fi
  L delete --force ghost
  [ ! -e "$T/state/ghost" ] || { echo "left: $(ls -A "$T/state/ghost")"; exit 1; }
  # a live creator's (it holds the directory's lock)
  (exec python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$T/state/busy" "$T/held") &
  local holder=$!
  for _ in $(seq 200); do [ -e "$T/held" ] && break; sleep 0.05; done
  # delete waits for the lock (the creator finishes first): never removed under it
  local rc=0
  timeout 2 "$CAIRN_LAUNCH" --root "$T/state" delete --force busy || rc=$?
  assert_streq "$rc" 124
  [ -d "$T/state/busy" ] || { kill $holder; echo "removed under a live lock"; exit 1; }
  kill $holder; wait $holder 2>/dev/null || true
  L delete --force busy
  [ ! -e "$T/state/busy" ] || { echo "busy left after its holder ended"; exit 1; }
}

# ---- --oci-run: config.json handed to the runtime in the same process --------------------------
# The client prints the default seccomp profile into config.json and the
# runtime, finding exactly those bytes, takes the policy it was printed from
# instead of parsing it back (runtime/oci-spec.c, load_handoff). It must be
# the policy a full parse of the same config.json gives: the BPF cache is
# keyed by every rule in order, the default action and the ENOSYS flag, so
# both paths must hit one cache entry, and a policy that differs in one
# rule gets an entry of its own (the check can fail).
t_oci_run_handoff() {
  require_root
  make_rootfs "$T/rootfs"
  local sc="$T/sc" check='/bin/probe status; /bin/probe syscalls'
  mkdir -p "$sc" "$T/pc" "$T/pc2"
  "$CAIRN_LAUNCH" --oci-run --containers="$T/ctrs" --rm --no-stdin --seccomp-cache="$sc" \
    "$T/rootfs" /bin/sh -c "$check" > handoff
  assert_kv handoff Seccomp 2
  assert_kv handoff newer_syscall ENOSYS
  ls "$sc" | grep '\.bpf$' > one
  assert_streq "$(wc -l < one)" 1
  # the same options as config.json, through the runtime's command line
  "$CAIRN_LAUNCH" --print-oci-config "$T/rootfs" /bin/sh -c "$check" > "$T/pc/config.json"
  L run --bundle "$T/pc" $ID > /dev/null
  "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$sc" run --bundle "$T/pc" $ID > parsed
  assert_kv parsed Seccomp 2
  assert_kv parsed newer_syscall ENOSYS
  ls "$sc" | grep '\.bpf$' > after
  diff -u one after
  # another bounding set, another default policy: a second entry
  "$CAIRN_LAUNCH" --print-oci-config --cap-add=SYS_ADMIN "$T/rootfs" /bin/true > "$T/pc2/config.json"
  "$CAIRN_LAUNCH" --root "$T/state" --seccomp-cache="$sc" run --bundle "$T/pc2" $ID > /dev/null
  assert_streq "$(ls "$sc" | grep -c '\.bpf$')" 2
  # the container's files are gone (--rm)
  assert_streq "$(ls "$T/ctrs/bundles" 2>/dev/null | wc -l)" 0
}

# ---- the launcher's own form is untouched --------------------------------------------------------------
t_forms() {
  require_root
  make_rootfs "$T/run"
  cd "$T"
  # "run" is a directory here: the launcher's form (ROOTFS CMD)
  "$CAIRN_LAUNCH" --seccomp-cache="$SC_CACHE" run /bin/sh -c 'echo bwrap-form' > out
  assert_file_has_content out '^bwrap-form$'
  # ... unless an option only the OCI form has comes first
  assert_fails "$CAIRN_LAUNCH" --root "$T/state" run --bundle "$T/nowhere" x
  assert_file_has_content "$T/err" "bundle $T/nowhere"
  "$CAIRN_LAUNCH" --help > help
  assert_file_has_content help 'ROOTFS'
  "$CAIRN_LAUNCH" --rootless=false --root "$T/state" list > list
  assert_file_has_content list '^ID'
}

# OCI_ONLY=t_name runs one case (while working on it).
oci_test() { [ -z "${OCI_ONLY:-}" ] || [ "$OCI_ONLY" = "$2" ] || return 0; run_test "$@"; }
oci_test "run: namespaces, exit status, signal, PATH lookup at create" t_run
oci_test "create/start/state/list/delete; the container outlives create" t_lifecycle
oci_test "kill: signal, --all, stopped, unknown" t_kill
oci_test "races: two deletes, kill racing delete" t_races
oci_test "exec: namespaces, env, cwd, user, --process, --detach, exit status" t_exec
oci_test "pause/resume, update (flags and JSON), events, features" t_pause_update_events
oci_test "hooks: order, state on stdin, namespaces, failure semantics, timeout" t_hooks
oci_test "process: user, groups, umask, caps (5 sets), rlimits, nnp, oom, hostname, refusals" t_process
oci_test "terminal: console socket, consoleSize, run -t, --preserve-fds" t_terminal
oci_test "mounts, devices, masked/readonly paths, propagation, symlinks in the image" t_mounts
oci_test "namespaces by path (mount and uts too), none, id mappings, sysctl, personality" t_namespaces
oci_test "cgroupsPath and resources (memory, cpu, cpuset, pids, devices, hugetlb, blockIO)" t_resources
oci_test "seccomp in the runtime-spec form, also for exec; refusals" t_seccomp
oci_test "bad config.json: unknown and unsupported fields, types, JSON, --log json, --debug" t_bad_config
oci_test "rootless: spec --rootless, lifecycle, exec, limits refused" t_rootless
oci_test "--print-oci-config: the launcher's options as config.json, same container" t_print_config
oci_test "device nodes replace what the image has at their paths, modes exact" t_devices_replace
oci_test "the command's signals are at their defaults, whatever the caller ignored or blocked" t_signals_default
oci_test "--init: pid 1 loads its own filter before it handles its first event" t_init_confined_before_events
oci_test "--init: a profile that refuses vfork gets the command forked" t_init_vfork_refused
oci_test "delete: what pid 1 left behind without a pid namespace is killed, its cgroups removed" t_delete_leftovers
oci_test "a start's overlapped steps: own network namespace with lo up, the caller's CPUs, cgroup mounts in the config's order" t_start_overlap
oci_test "delete --force: a state directory without state.json (a create killed early) goes; a locked one is waited for" t_delete_unborn
oci_test "--oci-run hands config.json's default seccomp policy to the runtime as a full parse gives it" t_oci_run_handoff
oci_test "the launcher's own form is unchanged" t_forms
tests_done
