#!/bin/bash
# Mount: the read-only FUSE view (cairn mount --fuse; the kernel mount, root's
# default, is tests/test-kmount.sh) equals `cairn checkout` of the same commit in
# every repo mode (commits by cairn and by the real ostree); concurrent
# readers; unmount with open files; corrupt/missing objects give EIO and a log
# line naming the object; prune while mounted; `cairn run --mount`.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
MANIFEST="python3 $CAIRN_TOP_SRCDIR/tests/tree-manifest.py"

require_fuse() {
  [ -c /dev/fuse ] || skip "needs /dev/fuse"
  have fusermount3 || skip "needs fusermount3"
  grep -qw fuse /proc/filesystems || skip "needs the fuse file system"
}

# mount_at REPO REF DIR [OPTIONS...]: mount (daemonised) and make sure the
# case never leaves it behind, even when it fails half-way.
MOUNTS=""
mount_at() {
  local repo=$1 ref=$2 dir=$3; shift 3
  mkdir -p "$dir"
  $CAIRN --repo="$repo" mount --fuse "$@" "$ref" "$dir"
  MOUNTS="$MOUNTS $dir"
  add_cleanup "fusermount3 -u -z $dir"
  trap 'for m in $MOUNTS; do fusermount3 -u -z "$m" 2>/dev/null || :; done' EXIT
  mountpoint -q "$dir"
}

# stat fields a manifest does not show: type, mode, owner, size of
# non-directories (symlinks: target length), directory link counts.
stat_list() {
  (cd "$1" && find . \( -type d -printf '%p d %m %U %G %n\n' \) -o -printf '%p %y %m %U %G %s\n' | sort)
}

not_mounted() { if mountpoint -q "$1"; then echo "still mounted: $1"; exit 1; fi; }
wait_mounted() { local i; for i in $(seq 1 100); do mountpoint -q "$1" && return 0; sleep 0.05; done; echo "not mounted: $1"; exit 1; }
# wait_exit PID: the process must end within 5 s; its status is returned.
wait_exit() {
  local i
  for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$1" 2>/dev/null; then echo "process $1 still running"; exit 1; fi
  wait "$1"
}
# mount_fg REPO REF DIR LOG [OPTIONS...]: foreground server in the background
# (log on LOG); sets $pid.
mount_fg() {
  local repo=$1 ref=$2 dir=$3 log=$4; shift 4
  mkdir -p "$dir"
  $CAIRN --repo="$repo" mount --fuse -f "$@" "$ref" "$dir" 2> "$log" & pid=$!
  MOUNTS="$MOUNTS $dir"
  add_cleanup "fusermount3 -u -z $dir"
  trap 'for m in $MOUNTS; do fusermount3 -u -z "$m" 2>/dev/null || :; done' EXIT
  wait_mounted "$dir"
}

t_equals_checkout() {
  require_fuse; require_root
  make_varied_tree src
  chown 1234:5678 src/hello.txt
  local makers="cairn"; have ostree && makers="cairn ostree"
  [ "${CAIRN_TESTS_MUST_RUN:-0}" = 1 ] && ! have ostree && skip "needs ostree"
  for m in $CAIRN_MODES; do
    for maker in $makers; do
      rm -rf r co
      if [ $maker = cairn ]; then
        $CAIRN --repo=r init --mode=$m >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
      else
        ostree --repo=r init --mode=$m; ostree --repo=r commit -b main src >/dev/null
      fi
      $CAIRN --repo=r checkout main co
      mount_at r main mnt
      $MANIFEST co > want; $MANIFEST mnt > got
      diff -u want got || { echo "manifest differs: mode $m, commit by $maker"; exit 1; }
      diff -r --no-dereference co mnt || { echo "diff -r: mode $m, by $maker"; exit 1; }
      stat_list co > want; stat_list mnt > got
      diff -u want got || { echo "stat fields differ: mode $m, by $maker"; exit 1; }
      if [ $m != bare-user-only ]; then
        assert_streq "$(getfattr --only-values -n user.alpha mnt/withxattr)" a
      fi
      # one object, one inode: a file at two paths is one inode
      assert_streq "$(stat -c %i mnt/hello.txt)" "$(stat -c %i mnt/a/hardlink.txt)"
      find mnt -printf '%i %p\n' | sort > ino1
      $CAIRN umount mnt
      not_mounted mnt
      # stable across mounts: the inode numbers derive from the objects
      mount_at r main mnt
      find mnt -printf '%i %p\n' | sort > ino2
      diff -u ino1 ino2
      $CAIRN umount mnt
    done
  done
}

t_read_only() {
  require_fuse
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mount_at r main mnt
  for cmd in "touch mnt/new" "mkdir mnt/d" "rm mnt/hello.txt" "chmod 0777 mnt/hello.txt" \
             "ln -s x mnt/l2" "mv mnt/hello.txt mnt/h2" "setfattr -n user.x -v 1 mnt/hello.txt"; do
    assert_fails sh -c "$cmd"
    assert_file_has_content "$T/err" 'Read-only file system'
  done
  assert_fails sh -c 'echo x >> mnt/hello.txt'
  assert_file_has_content "$T/err" 'Read-only file system'
  assert_streq "$(cat mnt/hello.txt)" hello
  assert_symlink_has_content mnt/link hello.txt
  # a cairn mount only: umount refuses anything else
  assert_fails $CAIRN umount "$T"
  assert_file_has_content "$T/err" 'not a cairn mount'
  assert_exit 2 $CAIRN umount
  assert_fails $CAIRN --repo=r mount nosuchref mnt2
  mkdir -p mnt2; assert_fails $CAIRN --repo=r mount nosuchref mnt2
  not_mounted mnt2
  $CAIRN umount mnt
}

# The getxattrat fast path and the open-the-object fallback serve the same tree.
t_no_xattrat_fallback() {
  require_fuse; require_root
  make_varied_tree src
  chown 1234:5678 src/hello.txt
  for m in bare bare-user; do
    rm -rf r co
    $CAIRN --repo=r init --mode=$m >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
    $CAIRN --repo=r checkout main co
    CAIRN_NO_XATTRAT=1 mount_at r main mnt
    $MANIFEST co > want; $MANIFEST mnt > got
    diff -u want got
    $CAIRN umount mnt
  done
}

# File data: as root, bare objects are read by the kernel through FUSE
# passthrough (no READ request reaches the server); forced off, or for an
# archive repo, the server reads them. Both give the checkout's bytes.
t_passthrough() {
  require_fuse; require_root
  grep -q 'passthrough' /proc/kallsyms 2>/dev/null || skip "kernel without FUSE passthrough"
  make_varied_tree src
  head -c 3000000 /dev/urandom > src/a/large.bin
  for m in bare bare-user archive; do
    for pt in on off; do
      rm -rf r co
      $CAIRN --repo=r init --mode=$m >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
      $CAIRN --repo=r checkout main co
      if [ $pt = on ]; then mount_fg r main mnt log -d
      else CAIRN_MOUNT_NO_PASSTHROUGH=1 mount_fg r main mnt log -d; fi
      diff -r --no-dereference co mnt
      cmp co/a/large.bin mnt/a/large.bin
      # mmap (sha256sum reads; python maps) sees the same bytes
      python3 -c 'import mmap,sys; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); sys.stdout.write(str(len(m[:]))+"\n")' mnt/a/large.bin > len
      assert_streq "$(cat len)" 3000000
      $CAIRN umount mnt; wait_exit $pid
      if [ $pt = on ] && [ $m != archive ]; then
        assert_file_has_content log 'file data: kernel passthrough'
        assert_file_has_content log 'fuse: OPEN .*passthrough'
        assert_not_file_has_content log 'fuse: READ '
      else
        assert_file_has_content log 'file data: read by cairn'
        assert_file_has_content log 'fuse: READ '
        assert_not_file_has_content log ', passthrough'
      fi
      if [ $pt = off ]; then assert_file_has_content log 'passthrough off: CAIRN_MOUNT_NO_PASSTHROUGH=1'; fi
      if [ $m = archive ] && [ $pt = on ]; then assert_file_has_content log "passthrough off: archive repository"; fi
    done
  done
  # --verify hashes on first open, in the server: no passthrough
  rm -rf r; $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mount_fg r main mnt log -d --verify
  cmp src/a/large.bin mnt/a/large.bin
  $CAIRN umount mnt; wait_exit $pid
  assert_file_has_content log 'passthrough off: --verify'
  # -v names the path of file data, without -d's line per request
  mkdir -p mnt; $CAIRN -v --repo=r mount --fuse -f main mnt 2> vlog & pid=$!
  MOUNTS="$MOUNTS mnt"; wait_mounted mnt
  cat mnt/hello.txt > /dev/null
  $CAIRN umount mnt; wait_exit $pid
  assert_file_has_content vlog 'file data: kernel passthrough'
  assert_not_file_has_content vlog 'fuse: OPEN'
}

t_concurrent_readers() {
  require_fuse
  make_varied_tree src
  for i in $(seq 1 40); do mkdir -p src/many/d$i; head -c $((i * 3000)) /dev/urandom > src/many/d$i/f; done
  for m in bare-user archive; do
    rm -rf r; $CAIRN --repo=r init --mode=$m >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
    mount_at r main mnt
    (cd src && find . -type f | sort | xargs -d '\n' sha256sum) > want
    for i in 1 2 3 4 5 6 7 8; do
      (cd mnt && tar cf /dev/null . && find . -type f | sort | xargs -d '\n' sha256sum > "$T/got$i") &
    done
    wait
    for i in 1 2 3 4 5 6 7 8; do diff -u want got$i; done
    # 8 parallel readers of one big archive object share one decompression
    for i in 1 2 3 4 5 6 7 8; do sha256sum < mnt/a/big.bin > big$i & done
    wait
    for i in 2 3 4 5 6 7 8; do cmp big1 big$i; done
    assert_streq "$(sha256sum < src/a/big.bin)" "$(cat big1)"
    $CAIRN umount mnt
  done
}

t_umount_open_files() {
  require_fuse
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mount_fg r main mnt log
  exec 3< mnt/a/big.bin
  $CAIRN umount mnt 2> err
  assert_file_has_content err 'busy'
  not_mounted mnt
  [ -z "$(ls -A mnt)" ]
  # the open file still reads, complete and right; the server waits for it
  assert_streq "$(sha256sum <&3)" "$(sha256sum < src/a/big.bin)"
  sleep 0.3; kill -0 $pid
  exec 3<&-
  wait_exit $pid
  # a daemonised mount: `cairn umount` (not busy) and nothing left running
  mount_at r main mnt
  ls mnt >/dev/null
  $CAIRN umount mnt 2> err
  assert_not_file_has_content err 'busy'
  not_mounted mnt
  # a foreground server exits 0 on SIGTERM, unmounting
  mount_fg r main mnt2 log2
  ls mnt2 >/dev/null
  kill -TERM $pid
  wait_exit $pid
  not_mounted mnt2
}

# object path of PATH in commit REF of repo r (files only)
obj_of() {
  local c; c=$($CAIRN --repo=$1 ls "$2" "$3" | awk '{print $5}')
  local ext=file; case $(sed -n 's/^mode *= *//p' $1/config) in archive*) ext=filez;; esac
  echo "$1/objects/${c:0:2}/${c:2}.$ext"
}

t_corrupt_eio() {
  require_fuse
  make_varied_tree src
  printf 'more\n' > src/other.txt
  printf 'verify me\n' > src/checked.txt
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local missing nometa modified
  missing=$(obj_of r main /hello.txt); nometa=$(obj_of r main /a/run.sh)
  modified=$(obj_of r main /checked.txt)
  rm -f "$missing"
  setfattr -x user.ostreemeta "$nometa"
  printf 'verify ME\n' > "$modified"
  mount_fg r main mnt log --verify
  assert_fails stat mnt/hello.txt; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails cat mnt/a/hardlink.txt   # the same object at another path
  assert_file_has_content "$T/err" 'Input/output error'
  assert_fails stat mnt/a/run.sh; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails cat mnt/checked.txt; assert_file_has_content "$T/err" 'Input/output error'
  # the rest of the tree is intact
  assert_streq "$(cat mnt/other.txt)" more
  assert_streq "$(cat mnt/private/key)" secret
  # every dirtree corrupted after the root was loaded: directories fail, not the server
  for f in $(find r/objects -name '*.dirtree'); do printf 'garbage' > "$f"; done
  assert_fails ls mnt/a/b; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails ls mnt/ünïcödé; assert_file_has_content "$T/err" 'Input/output error'
  assert_streq "$(cat mnt/other.txt)" more
  $CAIRN umount mnt; wait_exit $pid
  for o in "$missing" "$nometa" "$modified"; do
    assert_file_has_content log "$(basename "${o%.file}")"
  done
  assert_file_has_content log 'dirtree'
  # archive: a damaged compressed payload is EIO on read, logged
  $CAIRN --repo=a init --mode=archive >/dev/null; $CAIRN --repo=a commit -b main src >/dev/null
  local z; z=$(obj_of a main /a/big.bin)
  python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(-2000, 2); f.write(b'\xff'*64)" "$z"
  mount_fg a main mnt loga
  assert_fails cat mnt/a/big.bin; assert_file_has_content "$T/err" 'Input/output error'
  assert_streq "$(cat mnt/other.txt)" more
  $CAIRN umount mnt; wait_exit $pid
  local zc; zc=$(basename "$z"); assert_file_has_content loga "${zc%.filez}"
}

t_prune_while_mounted() {
  require_fuse
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null
  local c; c=$($CAIRN --repo=r commit -b main src)
  mount_fg r "$c" mnt log
  assert_streq "$(cat mnt/hello.txt)" hello   # loaded before the prune
  exec 3< mnt/a/big.bin
  $CAIRN --repo=r refs --delete main
  timeout 30 $CAIRN --repo=r prune --refs-only > pruned   # the mount holds no lock
  assert_file_has_content pruned 'Deleted'
  [ -z "$(find r/objects -name '*.file')" ]
  # still served: cached metadata, and the file opened before the prune
  assert_streq "$(stat -c %s mnt/hello.txt)" 6
  assert_streq "$(sha256sum <&3)" "$(sha256sum < src/a/big.bin)"
  exec 3<&-
  # what was never read is gone: EIO, not a crash
  assert_fails cat mnt/private/key; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails cat mnt/suid; assert_file_has_content "$T/err" 'Input/output error'
  kill -0 $pid
  ls mnt >/dev/null
  $CAIRN umount mnt; wait_exit $pid
  assert_file_has_content log 'is missing'
}

# A busybox rootfs: the bench cache's if it is sound, else our own copy.
busybox_tree() {
  local d=$1 bb
  bb=$(command -v busybox) || skip "needs busybox"
  mkdir -p "$d/bin" "$d/proc" "$d/dev" "$d/sys" "$d/tmp" "$d/etc"
  cp "$bb" "$d/bin/busybox"
  for a in $("$d/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"; done
  echo 'from the mount' > "$d/etc/motd"
  echo 'root:x:0:0:root:/:/bin/sh' > "$d/etc/passwd"
  echo 'root:x:0:' > "$d/etc/group"
  printf 'mode 0600\n' > "$d/etc/secret"; chmod 0600 "$d/etc/secret"
}

t_run_mount() {
  require_fuse; require_root
  [ -x "$CAIRN_LAUNCH" ] || skip "needs cairn-launch"
  busybox_tree bb
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b bb bb >/dev/null
  $CAIRN --repo=r run --mount=fuse bb -- /bin/sh -c 'cat /etc/motd' > out 2> err || { cat err; exit 1; }
  assert_file_has_content out 'from the mount'
  # the container's root is the FUSE view, not a checkout
  $CAIRN --repo=r run --mount=fuse bb -- /bin/sh -c 'grep " / " /proc/self/mountinfo' > out
  assert_file_has_content out 'fuse.cairn'
  [ ! -d r/extensions/cairn/checkouts ] || [ -z "$(ls -A r/extensions/cairn/checkouts | grep -v lock)" ]
  assert_exit 7 $CAIRN --repo=r run --mount=fuse bb -- /bin/sh -c 'exit 7'
  # with a cached checkout present (the front end's fast path), --mount still mounts
  $CAIRN --repo=r run bb -- /bin/true
  $CAIRN --repo=r run --mount=fuse bb -- /bin/sh -c 'grep " / " /proc/self/mountinfo' > out
  assert_file_has_content out 'fuse.cairn'
  # a mapped, unprivileged container user reads world-readable files only
  $CAIRN --repo=r run --mount=fuse --user=1000:1000 bb -- /bin/sh -c 'cat /etc/motd; cat /etc/secret || echo denied' > out
  assert_file_has_content out 'from the mount'
  assert_file_has_content out 'denied'
  # nothing left mounted, no mount point left behind
  if grep 'fuse.cairn' /proc/self/mountinfo | grep -q "$T"; then echo "mount left behind"; exit 1; fi
  [ -z "$(ls -A r/extensions/cairn/mounts 2>/dev/null)" ]
}

run_test "mounted tree equals cairn checkout, every mode, cairn and ostree commits" t_equals_checkout
run_test "read-only: EROFS on every write; umount refuses non-cairn mounts" t_read_only
run_test "metadata without *xattrat (forced fallback) equals checkout" t_no_xattrat_fallback
run_test "file data by kernel passthrough as root; forced off, archive, --verify: read by the server" t_passthrough
run_test "concurrent readers (bare-user, archive)" t_concurrent_readers
run_test "unmount with open files; server exits after last close; -f exits on SIGTERM" t_umount_open_files
run_test "missing/corrupt objects and dirtrees: EIO and a log line naming the object" t_corrupt_eio
run_test "prune while mounted: no crash, open files keep reading, gone objects EIO" t_prune_while_mounted
run_test "cairn run --mount: container on the FUSE view" t_run_mount
tests_done
