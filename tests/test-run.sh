#!/bin/bash
# cairn run, end to end: signature policy, cached checkout (atomic, shared,
# racing first runs, prune), confinement and limits under run, OCI image
# defaults, rootless.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/gpg-test-keys.sh"

make_busybox_rootfs() {
  local r=$1
  mkdir -p $r/bin $r/etc $r/proc $r/dev $r/sys $r/tmp $r/root
  cp "$(command -v busybox)" $r/bin/busybox
  for a in $($r/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $r/bin/$a; done
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/:/bin/sh\n' > $r/etc/passwd
  printf 'root:x:0:\napp:x:4321:\n' > $r/etc/group
}

setup() {
  require_cmd busybox gpg
  make_busybox_rootfs rootfs
  export CAIRN_REPO=$T/repo
  $CAIRN init >/dev/null
}

with_keys() {
  cairn_gpg_make_fixture $T/keys >/dev/null
  add_cleanup "cairn_gpg_cleanup_fixture $T/keys"
}

t_signed_policy() {
  setup; with_keys
  local H=$T/keys/home K=$(cat $T/keys/good.fpr)
  $CAIRN commit -b app --gpg-sign=$K --gpg-homedir=$H rootfs >/dev/null
  out=$($CAIRN run --require-signed --keyring=$T/keys/good.gpg app -- /bin/echo signed-ok)
  assert_streq "$out" signed-ok
  # unsigned: refused, nothing runs
  $CAIRN commit -b unsigned rootfs >/dev/null
  assert_exit 1 $CAIRN run --require-signed --keyring=$T/keys/good.gpg unsigned -- /bin/touch /tmp/ran
  assert_file_has_content "$T/err" 'refusing to run'
  assert_file_has_content "$T/err" 'no GPG signatures'
  # untrusted key: refused
  $CAIRN commit -b other --gpg-sign=$(cat $T/keys/untrusted.fpr) --gpg-homedir=$H rootfs >/dev/null
  assert_exit 1 $CAIRN run --require-signed --keyring=$T/keys/good.gpg other -- /bin/true
  assert_file_has_content "$T/err" 'not in the trusted keyrings'
  # tampered commit object: refused (its bytes no longer hash to its name)
  c=$($CAIRN rev-parse app)
  obj=repo/objects/${c:0:2}/${c:2}.commit
  cp $obj $T/commit.bak; chmod u+w $obj
  printf 'X' | dd of=$obj bs=1 seek=20 conv=notrunc 2>/dev/null
  assert_exit 1 $CAIRN run --require-signed --keyring=$T/keys/good.gpg $c -- /bin/true
  cp $T/commit.bak $obj
  # repo config run.require-signatures=true: unsigned refused without the flag
  printf '\n[run]\nrequire-signatures=true\n' >> repo/config
  assert_exit 1 $CAIRN run unsigned -- /bin/true
  assert_file_has_content "$T/err" 'refusing to run'
  mkdir -p repo/trusted.gpg.d; cp $T/keys/good.gpg repo/trusted.gpg.d/
  assert_streq "$($CAIRN run app -- /bin/echo ok)" ok
  $CAIRN fsck >/dev/null
}

t_remote_gpg_verify() {
  setup; with_keys
  local H=$T/keys/home K=$(cat $T/keys/good.fpr)
  # a ref that belongs to a remote with gpg-verify=true must be signed
  $CAIRN remote add --gpg-import=$T/keys/good.gpg origin file://$T/elsewhere
  c=$($CAIRN commit --orphan rootfs)
  $CAIRN --repo=$T/repo refs --create=tmp $c >/dev/null
  mkdir -p repo/refs/remotes/origin; cp repo/refs/heads/tmp repo/refs/remotes/origin/app
  assert_exit 1 $CAIRN run origin:app -- /bin/true
  assert_file_has_content "$T/err" 'refusing to run'
  $CAIRN sign --key-id=$K --gpg-homedir=$H $c
  assert_streq "$($CAIRN run origin:app -- /bin/echo verified)" verified
  # a key trusted only for another remote does not count
  $CAIRN remote add --gpg-import=$T/keys/second.gpg other file://$T/x
  c2=$($CAIRN commit --orphan -s second-key --gpg-sign=$(cat $T/keys/second.fpr) --gpg-homedir=$H rootfs)
  echo $c2 > repo/refs/remotes/origin/app2
  assert_exit 1 $CAIRN run origin:app2 -- /bin/true
}

t_confinement_and_limits() {
  require_root
  setup
  $CAIRN commit -b app rootfs >/dev/null
  out=$($CAIRN run --hostname=box app -- /bin/sh -c 'hostname; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; touch /x 2>/dev/null && echo RW || echo RO; ls /sys/class/net')
  echo "$out" | grep -qx box
  echo "$out" | grep -q 'Seccomp:.*2'; echo "$out" | grep -q 'NoNewPrivs:.*1'
  echo "$out" | grep -qx RO; [ "$(echo "$out" | tail -1)" = lo ]
  # the cached checkout is never writable from the container, even as root
  co=$(ls -d repo/extensions/cairn/checkouts/*/)
  # the cache made every mount point run uses by default (the tree lacks
  # /run, /var/tmp and the /etc files): the root is the checkout, no overlay
  fs=$($CAIRN run --net=none app -- /bin/awk '$5 == "/" { print $(NF-2) }' /proc/self/mountinfo)
  [ -n "$fs" ] && [ "$fs" != overlay ] || { echo "root is '$fs', not the cached checkout"; exit 1; }
  assert_exit 1 $CAIRN run app -- /bin/sh -c 'echo x > /bin/busybox'
  # --writable: writes go to a tmpfs overlay and vanish; the store is intact
  assert_streq "$($CAIRN run --writable app -- /bin/sh -c 'echo new > /etc/motd; cat /etc/motd')" new
  assert_not_has_file $co/etc/motd
  # limits: pids and memory
  n=$($CAIRN run --pids=20 app -- /bin/sh -c '(for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do sleep 3 & done) 2>/dev/null; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n' 2>/dev/null)
  [ "$n" -le 20 ] && [ "$n" -ge 5 ] || { echo "pids limit not enforced: $n processes"; exit 1; }
  # cgroup v1 hierarchies (a hybrid host): only those cairn reads (device
  # rules, freezer, stats), and that of a limit asked (runtime/oci-cgroup.c)
  if [ -d /sys/fs/cgroup/devices ]; then
    ls=$($CAIRN run --net=none app -- /bin/ls /sys/fs/cgroup)
    for h in devices freezer memory pids; do echo "$ls" | grep -qx $h; done
    echo "$ls" | grep -qx -e cpuset -e blkio -e cpu && { echo "unasked hierarchies: $ls"; exit 1; }
    $CAIRN run --net=none --cpus=1 app -- /bin/ls /sys/fs/cgroup | grep -qx -e cpu -e 'cpu,cpuacct'
  fi
  # a container kept after its exit (no --rm) gives its cgroups back at
  # once: one never removed leaves none behind; rm still works
  k=keep$$
  assert_exit 3 $CAIRN run --name=$k --net=none app -- /bin/sh -c 'exit 3'
  [ -z "$(ls -d /sys/fs/cgroup/*/cairn/$k /sys/fs/cgroup/cairn/$k 2>/dev/null)" ] || {
    echo "cgroups of the exited $k left"; exit 1; }
  $CAIRN ps -a | grep -q "^$k .*Exited (3)"
  $CAIRN rm $k >/dev/null
  assert_exit 137 $CAIRN run --memory=32M app -- /bin/sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo ${#x}'
  # exit status and signals
  assert_exit 7 $CAIRN run app -- /bin/sh -c 'exit 7'
  # pid 1 is an init unless the command is one (as cairn-launch's own
  # default): the TERM kills the shell; --no-init runs it as pid 1, as
  # podman does, and the kernel ignores the unhandled signal
  assert_exit 143 $CAIRN run app -- /bin/sh -c 'kill -TERM $$'
  assert_exit 0 $CAIRN run --no-init app -- /bin/sh -c 'kill -TERM $$; [ $$ = 1 ]'
  $CAIRN fsck >/dev/null
  ostree --repo=repo fsck >/dev/null
}

t_concurrent_first_runs() {
  setup
  c=$($CAIRN commit -b app rootfs)
  for i in 1 2 3 4; do ($CAIRN run app -- /bin/echo run$i > out$i 2>err$i; echo $? > rc$i) & done
  wait
  for i in 1 2 3 4; do assert_streq "$(cat rc$i)" 0; assert_streq "$(cat out$i)" run$i; done
  # one checkout (beside it: its .lock)
  assert_streq "$(ls repo/extensions/cairn/checkouts | grep -c -v -e '\.lock$')" 1
  assert_has_dir repo/extensions/cairn/checkouts/$c
  [ -z "$(ls -A repo/extensions/cairn/checkouts | grep '^\.' || true)" ]
}

t_prune_cached_checkouts() {
  setup
  a=$($CAIRN commit -b a rootfs); echo b > rootfs/etc/b; b=$($CAIRN commit -b b rootfs)
  $CAIRN run a -- /bin/true; $CAIRN run b -- /bin/true
  # b is in use by a running container while its ref is deleted
  $CAIRN run --name=busy b -- /bin/sleep 30 & pid=$!
  add_cleanup "kill $pid"
  # running: its launcher holds the checkout's lock
  for i in $(seq 1 100); do $CAIRN ps | grep -q '^busy .* Up ' && break; sleep 0.1; done
  $CAIRN refs --delete a b
  $CAIRN prune --refs-only > out
  assert_file_has_content out 'Removed 1 cached checkouts'
  assert_not_has_file repo/extensions/cairn/checkouts/$a
  assert_has_dir repo/extensions/cairn/checkouts/$b
  kill $pid; wait $pid 2>/dev/null || true
  $CAIRN prune --refs-only > out2
  assert_not_has_file repo/extensions/cairn/checkouts/$b
  $CAIRN fsck >/dev/null
}

t_oci_image_defaults() {
  require_cmd umoci
  setup
  umoci init --layout img >/dev/null
  umoci new --image img:app >/dev/null
  umoci unpack --rootless --image img:app bundle >/dev/null 2>&1 || umoci unpack --image img:app bundle >/dev/null
  cp -a rootfs/. bundle/rootfs/
  umoci repack --image img:app bundle >/dev/null
  umoci config --image img:app --config.entrypoint=/bin/sh --config.entrypoint=-c \
    --config.cmd='echo "$GREETING from $(pwd) as $(id -u):$(id -g)"' --config.env=GREETING=hello \
    --config.workingdir=/tmp --config.user=app >/dev/null
  $CAIRN import oci img:app -b app >/dev/null
  assert_streq "$($CAIRN run app)" "hello from /tmp as 1234:4321"
  # CMD given replaces Cmd, Entrypoint stays; explicit options win
  assert_streq "$($CAIRN run --workdir=/etc --user=0 app -- 'echo $GREETING $(pwd) $(id -u)')" "hello /etc 0"
  # no command and no image defaults: a clear error
  $CAIRN commit -b plain rootfs >/dev/null
  assert_exit 2 $CAIRN run plain
  assert_file_has_content "$T/err" 'no command given'
}

t_rootless() {
  require_root
  # a user of this script's own (test-run.sh and test-run-like.sh may run at
  # once: a shared name was deleted under the other's feet)
  local ru=cairnrl$$
  useradd -M -d /nonexistent "$ru"
  add_cleanup "userdel $ru"
  mkdir u; make_busybox_rootfs u/rootfs
  chown -R $ru u; chmod 0755 $T
  out=$(cd u && runuser -u $ru -- env CAIRN_REPO=$T/u/repo CAIRN_CONTAINERS=$T/u/containers CAIRN_RUN_RECORDS=$T/u/records $CAIRN commit -b app rootfs 2>&1 && \
        runuser -u $ru -- env CAIRN_REPO=$T/u/repo CAIRN_CONTAINERS=$T/u/containers CAIRN_RUN_RECORDS=$T/u/records $CAIRN run app -- /bin/sh -c 'echo rootless $(id -u)' 2>&1) \
    || { echo "$out"; exit 1; }
  echo "$out" | grep -q '^rootless '
  # limits without a delegated cgroup: an error that says why, never ignored
  if runuser -u $ru -- env CAIRN_REPO=$T/u/repo CAIRN_CONTAINERS=$T/u/containers CAIRN_RUN_RECORDS=$T/u/records $CAIRN run --memory=64M app -- /bin/true 2> err; then
    [ -w /sys/fs/cgroup/memory ] || { echo "limit silently ignored"; exit 1; }
  else
    grep -q 'cgroup' err
  fi
  grep -q 'mode=bare-user$' u/repo/config
  runuser -u $ru -- env CAIRN_REPO=$T/u/repo CAIRN_CONTAINERS=$T/u/containers CAIRN_RUN_RECORDS=$T/u/records $CAIRN fsck >/dev/null
}

# The front end's warm path (cli/front.c) replays a launch that cairn-core
# approved before (cli/run-record.h), and hands over to cairn-core or
# cairn-full whenever it has no record that still holds.
NOFULL="env CAIRN_FULL=/nonexistent CAIRN_CORE=/nonexistent"
t_front_end_fast_path() {
  setup
  $CAIRN commit -b app rootfs >/dev/null
  assert_streq "$($CAIRN run app -- /bin/echo cold)" cold          # creates the checkout
  # the same invocation: replayed; the command after "--" may vary
  assert_streq "$($NOFULL $CAIRN run app -- /bin/echo warm)" warm
  assert_streq "$($NOFULL $CAIRN run app -- /bin/echo again)" again
  # options are part of what was approved: new options, new decision
  assert_exit 125 $NOFULL $CAIRN run --memory=64M app -- /bin/echo x
  assert_streq "$($CAIRN run --memory=64M app -- /bin/echo limited)" limited
  assert_streq "$($NOFULL $CAIRN run --memory=64M app -- /bin/echo limited)" limited
  c=$($CAIRN rev-parse app)
  assert_streq "$($CAIRN run $c -- /bin/echo bychecksum)" bychecksum
  assert_streq "$($NOFULL $CAIRN run $c -- /bin/echo bychecksum)" bychecksum
  # without "--", the command is part of the key
  assert_streq "$($CAIRN run app /bin/echo nodash)" nodash
  assert_streq "$($NOFULL $CAIRN run app /bin/echo nodash)" nodash
  assert_exit 125 $NOFULL $CAIRN run app /bin/echo other
  # never recorded: signature flags, --mount, revs other than a local ref or
  # a checksum, unknown options, -v
  for args in "--require-signed app" "--keyring=x app" "--mount app" "app^" "origin:app" \
    "--bogus app"; do
    $CAIRN run $args -- /bin/true >/dev/null 2>&1 || true
    assert_exit 125 $NOFULL $CAIRN run $args -- /bin/true
  done
  $CAIRN -v run app -- /bin/true 2>/dev/null
  assert_exit 125 $NOFULL $CAIRN -v run app -- /bin/true
  # the ref moves: the record no longer holds, cairn-core decides again
  echo changed > rootfs/etc-marker
  $CAIRN commit -b app rootfs >/dev/null
  assert_exit 125 $NOFULL $CAIRN run app -- /bin/true
  assert_streq "$($CAIRN run app -- /bin/cat /etc-marker)" changed
  assert_streq "$($NOFULL $CAIRN run app -- /bin/cat /etc-marker)" changed
  # a record somebody else could have written is not trusted
  chmod 0666 "$CAIRN_RUN_RECORDS"/*.rec
  assert_exit 125 $NOFULL $CAIRN run app -- /bin/true
  chmod 0600 "$CAIRN_RUN_RECORDS"/*.rec; chmod 0777 "$CAIRN_RUN_RECORDS"
  assert_exit 125 $NOFULL $CAIRN run app -- /bin/true
  chmod 0700 "$CAIRN_RUN_RECORDS"
  # a pruned checkout: the record's lock does not hold
  $CAIRN run app -- /bin/true
  $CAIRN refs --delete app; $CAIRN prune >/dev/null
  assert_exit 125 $NOFULL $CAIRN run $c -- /bin/true
  # image defaults (entrypoint, env, workdir, user) are replayed as approved
  require_cmd umoci
  umoci init --layout img >/dev/null; umoci new --image img:app >/dev/null
  umoci unpack --image img:app bundle >/dev/null; cp -a rootfs/. bundle/rootfs/
  umoci repack --image img:app bundle >/dev/null
  umoci config --image img:app --config.entrypoint=/bin/sh --config.entrypoint=-c \
    --config.cmd='echo $GREETING $(pwd) $(id -u)' --config.env=GREETING=hi --config.workingdir=/tmp --config.user=app >/dev/null
  $CAIRN import oci img:app -b oci >/dev/null
  full=$($CAIRN run oci)
  assert_streq "$full" "hi /tmp 1234"
  assert_streq "$($NOFULL $CAIRN run oci)" "$full"
  $CAIRN run --user=0 --workdir=/ oci -- 'echo $GREETING $(pwd) $(id -u)' >/dev/null
  assert_streq "$($NOFULL $CAIRN run --user=0 --workdir=/ oci -- 'echo $GREETING $(pwd) $(id -u) x')" "hi / 0 x"
  # routing: libarchive/libcurl/libfuse commands go to cairn-full, the rest to cairn-core
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN export app -o /dev/null
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN commit -b t --tree=tar=x.tar
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN --version
  env CAIRN_FULL=/nonexistent $CAIRN fsck >/dev/null
  assert_exit 125 env CAIRN_CORE=/nonexistent $CAIRN fsck
}

# `cairn` and `cairn-launch` are one executable (Makefile-runtime.am): a warm
# run is replayed and goes on into the launcher in the same process, one
# exec in all before the container's command; what the container runs of the
# launcher (the pasta hook, /dev/init) is it by its own name.
t_warm_run_one_exec() {
  setup
  require_cmd strace
  [ "$CAIRN" -ef "$CAIRN_TOP_BUILDDIR/cairn-launch" ] || { echo "cairn is not cairn-launch"; exit 1; }
  $CAIRN commit -b app rootfs >/dev/null
  $CAIRN run --net=none app -- /bin/true
  strace -f -e trace=execve -o execs $NOFULL $CAIRN run --net=none app -- /bin/echo warm > out
  assert_file_has_content out '^warm$'
  grep 'execve(' execs | grep -v 'resumed>' | sed 's/^[0-9]* *execve("\([^"]*\)".*/\1/' > progs
  printf '%s\n' /usr/bin/env "$CAIRN" /bin/echo > want
  diff -u want progs
  # the init in front of the command (nothing of the front end's command
  # line shows) and, where passt is, the pasta hook
  $NOFULL $CAIRN run --net=none app -- /bin/sh -c 'tr "\0" "\n" < /proc/1/cmdline' > cmdline
  assert_streq "$(head -3 cmdline | tr '\n' ' ')" "/dev/init --container-init /bin/sh "
  if grep -q -e cairn -e repo cmdline; then echo "the front end's command line shows"; exit 1; fi
  if command -v pasta >/dev/null; then
    $CAIRN run --net=pasta app -- /bin/true
    assert_streq "$($NOFULL $CAIRN run --net=pasta app -- /bin/sh -c 'ls /sys/class/net | sort | tr "\n" " "')" "eth0 lo "
  fi
  # the front end starts a network namespace beside for a run of its own
  # network (runtime/oci-create.c early_net): a warm --net=host run keeps
  # the host's, a warm --net=none one gets its own with lo up
  local host_net; host_net=$(readlink /proc/self/ns/net)
  for net in "--net=host" "--network host"; do
    $CAIRN run $net app -- /bin/true
    assert_streq "$($NOFULL $CAIRN run $net app -- /bin/readlink /proc/self/ns/net)" "$host_net"
  done
  $NOFULL $CAIRN run --net=none app -- /bin/sh -c 'readlink /proc/self/ns/net; cat /sys/class/net/lo/flags' > nn
  assert_not_streq "$(sed -n 1p nn)" "$host_net"
  assert_streq "$(sed -n 2p nn)" 0x9
}

# Every input of the run policy, changed in turn after a warm run: the
# front end must hand over (125 with no cairn-core to hand to), and the full
# path must decide again (here: refuse).
t_fast_path_policy_inputs() {
  setup; with_keys
  local H=$T/keys/home K; K=$(cat $T/keys/good.fpr)
  $CAIRN commit -b app --gpg-sign=$K --gpg-homedir=$H rootfs >/dev/null
  $CAIRN commit -b plain rootfs >/dev/null
  warm() { $CAIRN run "$@" -- /bin/true && $NOFULL $CAIRN run "$@" -- /bin/true; }
  # 1. the repository config: a signature requirement appears
  warm plain
  printf '\n[run]\nrequire-signatures=true\n' >> repo/config
  assert_exit 125 $NOFULL $CAIRN run plain -- /bin/true
  assert_exit 1 $CAIRN run plain -- /bin/true
  assert_file_has_content "$T/err" "refusing to run"
  # signed runs are decided by cairn-core every time (never recorded)
  mkdir -p repo/trusted.gpg.d; cp $T/keys/good.gpg repo/trusted.gpg.d/good.gpg
  $CAIRN run app -- /bin/true
  assert_exit 125 $NOFULL $CAIRN run app -- /bin/true
  # 2. the keyring: the key that signed is gone -> refused
  rm repo/trusted.gpg.d/good.gpg; cp $T/keys/second.gpg repo/trusted.gpg.d/second.gpg
  assert_exit 125 $NOFULL $CAIRN run app -- /bin/true
  assert_exit 1 $CAIRN run app -- /bin/true
  assert_file_has_content "$T/err" "refusing to run"
  # 3. --require-signed on a ref that ran warm without it
  sed -i '/require-signatures/d' repo/config
  warm plain
  assert_exit 125 $NOFULL $CAIRN run --require-signed plain -- /bin/true
  assert_exit 1 $CAIRN run --require-signed plain -- /bin/true
  # 4. a remote's gpg-verify: a ref of a remote ran warm, then the remote
  # requires signatures
  CAIRN_REPO=$T/src $CAIRN init --mode=archive >/dev/null
  CAIRN_REPO=$T/src $CAIRN commit -b rplain rootfs >/dev/null
  $CAIRN remote add --no-gpg-verify origin file://$T/src >/dev/null
  $CAIRN pull origin rplain >/dev/null
  for ref in rplain origin:rplain; do
    $CAIRN run $ref -- /bin/true
    assert_exit 125 $NOFULL $CAIRN run $ref -- /bin/true # a remote's ref: never recorded
  done
  sed -i 's/gpg-verify=false/gpg-verify=true/' repo/config
  grep -q 'gpg-verify=true' repo/config
  for ref in rplain origin:rplain; do
    assert_exit 1 $CAIRN run $ref -- /bin/true
    assert_file_has_content "$T/err" "refusing to run"
  done
}

run_test "signature policy: --require-signed, unsigned, untrusted, tampered, config" t_signed_policy
run_test "remote with gpg-verify requires its own keyring" t_remote_gpg_verify
run_test "confinement, read-only checkout, --writable, limits, exit codes" t_confinement_and_limits
run_test "concurrent first runs share one checkout" t_concurrent_first_runs
run_test "prune removes unused cached checkouts only" t_prune_cached_checkouts
run_test "OCI image Entrypoint/Cmd/Env/WorkingDir/User" t_oci_image_defaults
run_test "rootless: bare-user repo, user-mode checkout" t_rootless
run_test "front end: warm fast path replays approved launches only, routing to cairn-core and cairn-full" t_front_end_fast_path
run_test "front end: each input of the run policy changed after a warm run is decided again" t_fast_path_policy_inputs
run_test "a warm run is one exec: cairn is cairn-launch, the launcher runs in process" t_warm_run_one_exec
tests_done
