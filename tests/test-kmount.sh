#!/bin/bash
# The kernel mount (EROFS metadata image + overlayfs with the objects as a
# data-only layer, docs/cairn-mount.md) and raw image export: the mount
# equals `cairn checkout` in every mode for cairn- and ostree-made commits,
# fsck.erofs accepts every image; the image cache (checksum, corrupt image
# rebuilt, prune); missing objects; bad input; umount; a mounting process
# killed half-way leaves nothing; `cairn run --mount` shares one mount;
# `cairn export --format=erofs|squashfs`. Everything runs as root in a mount
# namespace of its own (the script re-executes itself under unshare -m), so
# nothing it mounts can outlive it.
if [ -z "${CAIRN_KMOUNT_NS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  export CAIRN_KMOUNT_NS=1
  exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
# Debian's python3 (a fast start: it runs twice per comparison).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
MANIFEST="$PY $CAIRN_TOP_SRCDIR/tests/tree-manifest.py"

# What the kernel lacks for the kernel mount, found once. A fresh machine
# may have erofs and overlay as modules not loaded yet: they are loaded
# here rather than relying on this machine's state. File-backed EROFS
# needs Linux 6.12 and detached mounts as overlay layers 6.15
# (docs/cairn-mount.md, "What is mounted").
kernel_lacks() {
  local fs out=""
  for fs in erofs overlay; do
    grep -qw "$fs" /proc/filesystems || modprobe "$fs" 2>/dev/null || :
    grep -qw "$fs" /proc/filesystems || out="$out the $fs file system (modprobe $fs failed);"
  done
  local v; v=$(uname -r | sed -n 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  set -- $v
  if [ $# = 2 ] && { [ "$1" -lt 6 ] || { [ "$1" = 6 ] && [ "$2" -lt 15 ]; }; }; then
    out="$out Linux >= 6.15 (this is $(uname -r));"
  fi
  echo "$out"
}
KMOUNT_LACKS=""
[ "$(id -u)" = 0 ] && KMOUNT_LACKS=$(kernel_lacks)

require_kmount() {
  require_root
  [ "${CAIRN_KMOUNT_NS:-}" = 1 ] || skip "needs unshare (a private mount namespace)"
  [ -z "$KMOUNT_LACKS" ] || skip "the kernel mount needs$KMOUNT_LACKS"
  require_cmd fsck.erofs
}

# Whether the FUSE fallback can be checked too (the fuse module loaded if
# it is one); under CAIRN_TESTS_MUST_RUN its absence fails the case.
fuse_here() {
  [ -c /dev/fuse ] || modprobe fuse 2>/dev/null || :
  [ -c /dev/fuse ] && return 0
  [ "${CAIRN_TESTS_MUST_RUN:-0}" != 1 ] || skip "the FUSE fallback needs /dev/fuse (CONFIG_FUSE_FS)"
  info "no /dev/fuse: the FUSE fallback is not checked"
  return 1
}

# mount_erofs_file IMAGE DIR: straight from the file, as cairn does (no
# loop device: a CI machine or a container may have none).
mount_erofs_file() { $PY "$CAIRN_TOP_SRCDIR/tests/mount-erofs.py" "$1" "$2"; }
# mount_squashfs IMAGE DIR: squashfs mounts block devices only, so this
# one needs a loop device (the loop module is loaded if it is one).
mount_squashfs() {
  [ -e /dev/loop-control ] || modprobe loop 2>/dev/null || :
  mount -t squashfs -o ro,loop "$1" "$2" 2> "$T/loop.err" || {
    cat "$T/loop.err"
    skip "mounting a squashfs image needs a loop device (CONFIG_BLK_DEV_LOOP, /dev/loop-control)"
  }
}

# stat fields a manifest does not show: type, mode, owner, size of
# non-directories (symlinks: target length), directory link counts.
stat_list() {
  (cd "$1" && find . \( -type d -printf '%p d %m %U %G %n\n' \) -o -printf '%p %y %m %U %G %s\n' | sort)
}
kmounted() { grep -q " $(realpath "$1") .* - overlay cairn:" /proc/self/mountinfo; }
img_of() { echo "$1/extensions/cairn/erofs/$2.img"; }

# mount_k REPO REF DIR: the kernel mount (--kernel: fail rather than FUSE)
mount_k() {
  mkdir -p "$3"
  $CAIRN --repo="$1" mount --kernel "$2" "$3"
  kmounted "$3" || { echo "not a kernel mount: $3"; grep " $(realpath "$3") " /proc/self/mountinfo; exit 1; }
}

# fixture MODE MAKER: sets FX to a directory holding repo r, where MAKER
# (cairn or ostree) committed the varied tree as ref main in MODE, its
# checkout co and co's manifest and stat list. Made once per run of this
# file and shared by the cases that compare mounts and images with the
# checkout (they write only the repository's image cache).
fixture() {
  FX=$_tap_tmproot/fx-$1-$2
  [ -d "$FX" ] && return 0
  mkdir -p "$FX.tmp"
  (
    cd "$FX.tmp"
    make_varied_tree src
    chown 1234:5678 src/hello.txt
    setfattr -n trusted.overlay.opaque -v y src/a 2>/dev/null || true
    if [ "$2" = cairn ]; then
      $CAIRN --repo=r init --mode="$1" >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
    else
      ostree --repo=r init --mode="$1"; ostree --repo=r commit -b main src >/dev/null
    fi
    rm -rf src
    $CAIRN --repo=r checkout main co
    $MANIFEST co > co.manifest; stat_list co > co.stat
  )
  mv "$FX.tmp" "$FX"
}
makers() {
  [ "${CAIRN_TESTS_MUST_RUN:-0}" = 1 ] && ! have ostree && skip "needs ostree"
  if have ostree; then echo "cairn ostree"; else echo cairn; fi
}

# check_equal FIXTURE|CHECKOUT MOUNT WHAT: MOUNT shows what the checkout does
check_equal() {
  local co=$1/co want=$1/co.manifest wstat=$1/co.stat
  if [ ! -f "$want" ]; then
    co=$1 want=want.manifest wstat=want.stat
    $MANIFEST "$co" > "$want"; stat_list "$co" > "$wstat"
  fi
  $MANIFEST "$2" > got
  diff -u "$want" got || { echo "manifest differs: $3"; exit 1; }
  diff -r --no-dereference "$co" "$2" || { echo "diff -r: $3"; exit 1; }
  stat_list "$2" > got
  diff -u "$wstat" got || { echo "stat fields differ: $3"; exit 1; }
}

t_equals_checkout() {
  require_kmount
  local makers m maker r; makers=$(makers)
  for m in bare bare-user bare-user-only; do
    for maker in $makers; do
      fixture $m $maker; r=$FX/r
      mount_k "$r" main mnt
      check_equal "$FX" mnt "mode $m, commit by $maker"
      if [ $m != bare-user-only ]; then
        assert_streq "$(getfattr --only-values -n user.alpha mnt/withxattr)" a
      fi
      if [ $m = bare ]; then # an overlay xattr of the commit is shown, not obeyed
        assert_streq "$(getfattr --only-values -n trusted.overlay.opaque mnt/a)" y
      fi
      # one object, one inode: a file at two paths is one inode of 2 links
      assert_streq "$(stat -c %i mnt/hello.txt)" "$(stat -c %i mnt/a/hardlink.txt)"
      assert_streq "$(stat -c %h mnt/hello.txt)" 2
      # the two empty files are one object too
      assert_streq "$(stat -c %h:%s mnt/a/b/empty)" 2:0
      fsck.erofs "$(img_of "$r" "$($CAIRN --repo="$r" rev-parse main)")" > fsck.out 2>&1 || { cat fsck.out; exit 1; }
      # read-only, and no process serves it
      assert_fails touch mnt/new; assert_file_has_content "$T/err" 'Read-only file system'
      $CAIRN umount mnt
      if kmounted mnt; then echo "still mounted"; exit 1; fi
      $CAIRN --repo="$r" fsck >/dev/null
      if have ostree; then ostree fsck --repo="$r" >/dev/null; fi
    done
  done
}

t_archive_and_fallback() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=archive >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mkdir mnt
  assert_exit 1 $CAIRN --repo=r mount --kernel main mnt
  assert_file_has_content "$T/err" 'archive repository: its objects are compressed'
  assert_exit 2 $CAIRN --repo=r mount --kernel --fuse main mnt
  if kmounted mnt; then echo "mounted anyway"; exit 1; fi
  [ ! -e r/extensions/cairn/erofs ] || [ -z "$(ls -A r/extensions/cairn/erofs)" ]
}

t_image_cache() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local c img; c=$($CAIRN --repo=r rev-parse main); img=$(img_of r "$c")
  mkdir mnt
  $CAIRN -v --repo=r mount main mnt 2> err1
  assert_file_has_content err1 'image built'
  assert_has_file "$img"; assert_has_file "$img.sha256"
  assert_streq "$(head -c 64 "$img.sha256")" "$(sha256sum < "$img" | cut -c1-64)"
  local sum1; sum1=$(sha256sum < "$img")
  $CAIRN umount mnt
  # the build recorded the image's stamp: a cached mount does not hash it
  $CAIRN -v --repo=r mount main mnt 2> err2
  assert_file_has_content err2 'image cached, unchanged since its checksum was verified'
  $CAIRN umount mnt
  # a file changed since (here only its times) is hashed again, then trusted
  touch "$img"
  $CAIRN -v --repo=r mount main mnt 2> err2
  assert_file_has_content err2 'image cached, its checksum verified'
  $CAIRN umount mnt
  $CAIRN -v --repo=r mount main mnt 2> err2
  assert_file_has_content err2 'image cached, unchanged since'
  $CAIRN umount mnt
  # deterministic: a rebuild gives the same bytes
  rm "$img" "$img.sha256"
  $CAIRN --repo=r mount main mnt; $CAIRN umount mnt
  assert_streq "$(sha256sum < "$img")" "$sum1"
  # a corrupt cached image is detected, rebuilt, and the mount is right;
  # also when the writer restored its mtime (its ctime still changed)
  local mt; mt=$(stat -c %.9Y "$img")
  printf '\xff\xff\xff\xff' | dd of="$img" bs=1 seek=2000 conv=notrunc 2>/dev/null
  touch -m -d "@$mt" "$img"
  assert_streq "$(stat -c %.9Y "$img")" "$mt"
  $CAIRN --repo=r mount main mnt 2> err3
  assert_file_has_content err3 "cached image of $c does not match its checksum: rebuilding it"
  assert_streq "$(sha256sum < "$img")" "$sum1"
  $CAIRN --repo=r checkout main co
  check_equal co mnt "after rebuild"
  $CAIRN umount mnt
  # a truncated one, and a missing checksum file, too
  truncate -s 2048 "$img"
  $CAIRN --repo=r mount main mnt 2> err4; $CAIRN umount mnt
  assert_file_has_content err4 'rebuilding it'
  rm "$img.sha256"
  $CAIRN --repo=r mount main mnt 2> err5; $CAIRN umount mnt
  assert_file_has_content err5 'rebuilding it'
  assert_streq "$(sha256sum < "$img")" "$sum1"
}

t_missing_object() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local obj; obj=$($CAIRN --repo=r ls main /a/run.sh | awk '{print $5}')
  [ ${#obj} = 64 ] || { echo "no checksum from ls -C: $obj"; exit 1; }
  rm "r/objects/${obj:0:2}/${obj:2}.file"
  mkdir mnt
  $CAIRN --repo=r mount main mnt 2> err
  assert_file_has_content err "object $obj.file"
  assert_file_has_content err 'is missing'
  assert_fails stat mnt/a/run.sh; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails cat mnt/a/run.sh; assert_file_has_content "$T/err" 'Input/output error'
  # the rest reads
  assert_streq "$(cat mnt/hello.txt)" hello
  ls mnt/a > /dev/null
  # an image with a missing object is not cached: the object may come back
  [ -z "$(ls -A r/extensions/cairn/erofs)" ] || { ls -la r/extensions/cairn/erofs; exit 1; }
  $CAIRN umount mnt
}

# Hostile dirtrees, stored under their true checksums in a commit of their
# own (tests/dirtree-forge.py): the image build reads the lists' bytes
# itself, and refuses each with an error naming the dirtree; nothing is
# mounted or cached.
t_hostile_dirtree() {
  require_kmount
  $PY -c 'import gi' 2>/dev/null || skip "needs python3-gi (tests/dirtree-forge.py)"
  mkdir -p src/d1 src/d2 mnt; echo a > src/a; echo b > src/b; echo c > src/d1/c
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local cs tree want
  for cs in unsorted twice badname shortsum framing; do
    case $cs in
      unsorted) want="dirtree not sorted at 'a'" ;;
      twice) want="dirtree names 'd1' twice" ;;
      badname) want="invalid file name 'a/b'" ;;
      shortsum) want="entry 'a' has a bad checksum" ;;
      framing) want="dirtree: dirtree entry is malformed" ;;
    esac
    tree=$($PY "$CAIRN_TOP_SRCDIR/tests/dirtree-forge.py" r main $cs)
    assert_exit 1 $CAIRN --repo=r mount --kernel forged mnt
    assert_file_has_content "$T/err" "EROFS image of $($CAIRN --repo=r rev-parse forged): $tree"
    assert_file_has_content "$T/err" "$want"
    if kmounted mnt; then echo "mounted anyway: $cs"; exit 1; fi
    [ -z "$(ls -A r/extensions/cairn/erofs 2>/dev/null)" ] || { ls -la r/extensions/cairn/erofs; exit 1; }
  done
  # the genuine commit still mounts
  mount_k r main mnt
  assert_streq "$(cat mnt/d1/c)" c
  $CAIRN umount mnt
}

t_bad_input() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mkdir full; : > full/x
  assert_exit 1 $CAIRN --repo=r mount main full
  assert_file_has_content "$T/err" 'mount point full is not empty'
  mkdir mnt
  assert_exit 1 $CAIRN --repo=r mount no/such/ref mnt
  assert_file_has_content "$T/err" 'no/such/ref'
  : > afile
  assert_exit 1 $CAIRN --repo=r mount main afile
  assert_file_has_content "$T/err" 'not a directory'
  if kmounted mnt || kmounted full; then echo "mounted anyway"; exit 1; fi
  # umount refuses what is not a cairn mount
  mkdir t; mount -t tmpfs none t
  assert_exit 1 $CAIRN umount t
  assert_file_has_content "$T/err" 'is not a cairn mount'
  umount t
}

# The image cache on a full file system: a clear error naming the commit,
# nothing mounted, no partial file; with space again the mount works.
t_full_disk() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local c; c=$($CAIRN --repo=r rev-parse main)
  mkdir -p mnt r/extensions/cairn/erofs
  mount -t tmpfs -o size=4k none r/extensions/cairn/erofs
  head -c 4096 /dev/zero > r/extensions/cairn/erofs/fill 2>/dev/null || :
  assert_exit 1 $CAIRN --repo=r mount --kernel main mnt
  assert_file_has_content "$T/err" "EROFS image of $c: writing the image: No space left on device"
  if kmounted mnt; then echo "mounted anyway"; exit 1; fi
  assert_streq "$(ls -A r/extensions/cairn/erofs)" fill
  umount r/extensions/cairn/erofs
  mount_k r main mnt
  assert_streq "$(cat mnt/hello.txt)" hello
  $CAIRN umount mnt
}

# A repository on tmpfs: file-backed EROFS refuses shmem files (ENOTBLK),
# so the image is mounted from a loop device that detaches itself with the
# unmount. The mount equals the checkout all the same.
t_tmpfs_repo() {
  require_kmount
  [ -e /dev/loop-control ] || modprobe loop 2>/dev/null || :
  [ -e /dev/loop-control ] || skip "needs loop devices (CONFIG_BLK_DEV_LOOP)"
  mkdir tm; mount -t tmpfs none tm
  make_varied_tree tm/src
  $CAIRN --repo=tm/r init --mode=bare-user >/dev/null; $CAIRN --repo=tm/r commit -b main tm/src >/dev/null
  $CAIRN --repo=tm/r checkout main co
  mount_k tm/r main mnt
  check_equal co mnt "repository on tmpfs"
  losetup -a | grep -F "$T/tm/r/extensions/cairn/erofs/" > loops || { losetup -a; exit 1; }
  assert_streq "$(wc -l < loops)" 1
  $CAIRN umount mnt
  local i
  for i in $(seq 1 50); do losetup -a | grep -qF "$T/tm/" || break; sleep 0.1; done
  if losetup -a | grep -F "$T/tm/"; then echo "a loop device is left"; exit 1; fi
  umount tm
}

# A cached mount repeated by the static front end from cairn-core's record
# (cli/run-record.h), with no cairn-core to fall back to (CAIRN_CORE points
# nowhere: a fallback exits 125); any changed input sends it to cairn-core.
t_front_end_mount() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  $CAIRN --repo=r checkout main co
  local c img nocore="env CAIRN_CORE=/nonexistent CAIRN_FULL=/nonexistent"
  c=$($CAIRN --repo=r rev-parse main); img=$(img_of r "$c")
  # the record is of this very command line (no --kernel, unlike mount_k)
  mkdir mnt; $CAIRN --repo=r mount main mnt; kmounted mnt; $CAIRN umount mnt
  ls "$CAIRN_RUN_RECORDS"/*.mnt > /dev/null
  $nocore $CAIRN --repo=r mount main mnt
  kmounted mnt
  check_equal co mnt "mount repeated by the front end"
  $CAIRN umount mnt
  # the image changed since it was hashed: cairn-core decides
  touch "$img"
  assert_exit 125 $nocore $CAIRN --repo=r mount main mnt
  if kmounted mnt; then echo "mounted by the front end anyway"; exit 1; fi
  $CAIRN --repo=r mount main mnt; $CAIRN umount mnt # hashed again, a new record
  $nocore $CAIRN --repo=r mount main mnt; $CAIRN umount mnt
  # a mount point that is not empty, -v, a record others may write
  : > mnt/x
  assert_exit 125 $nocore $CAIRN --repo=r mount main mnt
  rm mnt/x
  assert_exit 125 $nocore $CAIRN -v --repo=r mount main mnt
  chmod g+w "$CAIRN_RUN_RECORDS"/*.mnt
  assert_exit 125 $nocore $CAIRN --repo=r mount main mnt
  chmod g-w "$CAIRN_RUN_RECORDS"/*.mnt
  $nocore $CAIRN --repo=r mount main mnt; $CAIRN umount mnt
  # the ref moved
  echo more > src/more; $CAIRN --repo=r commit -b main src >/dev/null
  assert_exit 125 $nocore $CAIRN --repo=r mount main mnt
  if kmounted mnt; then echo "mounted by the front end anyway"; exit 1; fi
  $CAIRN --repo=r mount main mnt
  assert_streq "$(cat mnt/more)" more
  $CAIRN umount mnt
  $nocore $CAIRN --repo=r mount main mnt; $CAIRN umount mnt
  assert_exit 125 $nocore CAIRN_NO_FAST_MOUNT=1 $CAIRN --repo=r mount main mnt
}

t_umount_busy() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mount_k r main mnt
  local n0; n0=$(wc -l < /proc/self/mountinfo)
  exec 7< mnt/a/big.bin
  $CAIRN umount mnt 2> err
  assert_file_has_content err 'detached'
  if kmounted mnt; then echo "still mounted"; exit 1; fi
  # the open file keeps reading after the lazy unmount
  head -c 1000 <&7 > /dev/null
  exec 7<&-
  [ "$(wc -l < /proc/self/mountinfo)" -lt "$n0" ]
  rmdir mnt
}

# The process is stopped at a step (CAIRN_TEST_KMOUNT_STOP) and killed there.
# wait_stopped PID: PID stops itself (CAIRN_TEST_KMOUNT_STOP raises SIGSTOP
# at the step it names) within 10 s.
wait_stopped() {
  local i state=
  for i in $(seq 1 200); do
    state=$(awk '{print $3}' /proc/$1/stat 2>/dev/null || :)
    [ "$state" = T ] && break
    sleep 0.05
  done
  assert_streq "$state" T
}

t_kill_halfway() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local c; c=$($CAIRN --repo=r rev-parse main)
  local before; before=$(grep -c . /proc/self/mountinfo)
  for step in image erofs overlay; do
    rm -rf mnt r/extensions/cairn/erofs; mkdir mnt
    CAIRN_TEST_KMOUNT_STOP=$step $CAIRN --repo=r mount --kernel main mnt & local pid=$!
    wait_stopped $pid
    kill -9 $pid; wait $pid 2>/dev/null || :
    if kmounted mnt; then echo "mounted after a kill at $step"; exit 1; fi
    assert_streq "$(grep -c . /proc/self/mountinfo)" "$before"
    grep -q erofs /proc/self/mountinfo && { echo "an erofs mount is left after $step"; exit 1; }
    # no partial image, no stray file: the cache is empty (the image was
    # never linked) or holds a complete, valid image
    local left; left=$(ls -A r/extensions/cairn/erofs 2>/dev/null | grep -v -e '\.img$' -e '\.img\.sha256$' || :)
    [ -z "$left" ] || { echo "left behind at $step: $left"; exit 1; }
    if [ -e "$(img_of r "$c")" ]; then
      assert_streq "$(head -c 64 "$(img_of r "$c").sha256")" "$(sha256sum < "$(img_of r "$c")" | cut -c1-64)"
    fi
    [ -z "$(ls -A mnt)" ]
  done
  mount_k r main mnt
  fsck.erofs "$(img_of r "$c")" > /dev/null
  $CAIRN umount mnt
  $CAIRN --repo=r fsck > /dev/null
  # a squashfs export killed with its mount made: no file, nothing mounted
  if have mksquashfs; then
    mkdir out
    CAIRN_TEST_KMOUNT_STOP=overlay $CAIRN --repo=r export main --format=squashfs out/img.sqfs & pid=$!
    wait_stopped $pid
    kill -9 $pid; wait $pid 2>/dev/null || :
    assert_streq "$(grep -c . /proc/self/mountinfo)" "$before"
    [ -z "$(ls -A out)" ] || { ls -la out; exit 1; }
  fi
}

t_prune() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null
  $CAIRN --repo=r commit -b keep src >/dev/null
  echo other > src/other; $CAIRN --repo=r commit -b gone src >/dev/null
  local ck cg; ck=$($CAIRN --repo=r rev-parse keep); cg=$($CAIRN --repo=r rev-parse gone)
  mount_k r keep m1; mount_k r gone m2
  exec 7< m2/other
  $CAIRN --repo=r refs --delete gone
  $CAIRN --repo=r prune --refs-only > out
  assert_file_has_content out 'Removed 1 cached EROFS images'
  assert_not_has_file "$(img_of r "$cg")"; assert_not_has_file "$(img_of r "$cg").sha256"
  assert_has_file "$(img_of r "$ck")"
  # the mounted image stays readable (the mount holds it), metadata too
  ls -l m2 > /dev/null
  assert_streq "$(cat <&7)" other
  exec 7<&-
  $CAIRN umount m2; $CAIRN umount m1
  $CAIRN --repo=r fsck > /dev/null
}

obj_of() { # REPO REF PATH: the object file of PATH
  local c; c=$($CAIRN --repo=$1 ls "$2" "$3" | awk '{print $5}')
  echo "$1/objects/${c:0:2}/${c:2}.file"
}

# fs-verity as far as the kernel allows: where the kernel and the file system
# have it, the whole path (enable, mount, an object replaced behind the
# store's back fails to read); where not (this reference VM: CONFIG_FS_VERITY
# is off), `fsck --verity` fails clearly and changes nothing, and digests
# computed in user space (CAIRN_TEST_VERITY_COMPUTE=1) show that the image
# records the right ones (fsverity-utils as the oracle) and that overlayfs
# enforces them: no object has fs-verity, so every file with content fails.
t_verity() {
  require_kmount
  require_cmd fsverity getfattr
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  local c; c=$($CAIRN --repo=r rev-parse main)
  head -c 5000 /dev/urandom > r/probe
  if fsverity enable r/probe 2>/dev/null; then
    info "fs-verity available: the whole path"
    $CAIRN --repo=r fsck --verity > out
    assert_file_has_content out 'fs-verity enabled on'
    grep -q '^verity=true' r/config
    mount_k r main mnt
    assert_streq "$(cat mnt/hello.txt)" hello
    local o; o=$(obj_of r main /a/run.sh)
    rm -f "$o"; printf '#!/bin/sh\necho ho\n' > "$o"
    assert_fails cat mnt/a/run.sh; assert_file_has_content "$T/err" 'Input/output error'
    $CAIRN umount mnt
    return 0
  fi
  info "no fs-verity here ($(uname -r)): the refusal, the digests and their enforcement"
  assert_exit 1 $CAIRN --repo=r fsck --verity
  assert_file_has_content "$T/err" 'fs-verity for r: enabling fs-verity on object'
  assert_file_has_content "$T/err" 'CONFIG_FS_VERITY'
  assert_not_file_has_content r/config 'verity'
  printf '[cairn]\nverity=true\n' >> r/config
  mkdir mnt
  CAIRN_TEST_VERITY_COMPUTE=1 $CAIRN --repo=r mount --kernel main mnt
  grep -q " $(realpath mnt) .* - overlay cairn:$c .*verity=on" /proc/self/mountinfo
  local img=r/extensions/cairn/erofs/$c.verity.img
  assert_has_file "$img"; fsck.erofs "$img" > /dev/null
  mkdir em; mount_erofs_file "$img" em
  local f want got
  for f in hello.txt a/big.bin a/run.sh withxattr; do
    want=$(fsverity digest --compact "$(obj_of r main /$f)")
    got=$(getfattr -e hex -n trusted.overlay.metacopy "em/$f" | sed -n 's/^trusted.overlay.metacopy=0x00240001//p')
    assert_streq "$got" "$want"
  done
  umount em
  assert_fails cat mnt/hello.txt; assert_file_has_content "$T/err" 'Input/output error'
  assert_fails cat mnt/a/big.bin; assert_file_has_content "$T/err" 'Input/output error'
  # no content, nothing to check: empty files and symlinks still read
  [ -z "$(cat mnt/a/b/empty)" ]; assert_symlink_has_content mnt/link hello.txt
  $CAIRN umount mnt
}

# The kernel mount runs in cairn-core (no libfuse to load); the FUSE view is
# cairn-full's, from the front end or handed over by cairn-core.
t_core_routing() {
  require_kmount
  make_varied_tree src
  $CAIRN --repo=r init --mode=bare >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  $CAIRN --repo=ra init --mode=archive >/dev/null; $CAIRN --repo=ra commit -b main src >/dev/null
  mkdir mnt
  CAIRN_FULL=/nonexistent $CAIRN --repo=r mount main mnt
  kmounted mnt
  CAIRN_FULL=/nonexistent $CAIRN umount mnt
  if kmounted mnt; then echo "still mounted"; exit 1; fi
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN --repo=r mount --fuse main mnt
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN --repo=r mount -f main mnt
  # cairn-core finds an archive repository and hands the mount to cairn-full
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN --repo=ra mount main mnt
  assert_file_has_content "$T/err" 'executing /nonexistent'
  [ -z "$(ls -A mnt)" ]
  # the fallback to FUSE, forced: root gets a FUSE view
  if fuse_here; then
    CAIRN_NO_KMOUNT=1 $CAIRN --repo=r mount main mnt
    grep -q " $(realpath mnt) .* - fuse.cairn " /proc/self/mountinfo
    assert_streq "$(cat mnt/hello.txt)" hello
    $CAIRN umount mnt
  fi
}

t_run_mount() {
  require_kmount
  [ -x "$CAIRN_LAUNCH" ] || skip "needs cairn-launch"
  make_busybox_tree bb
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b bb bb >/dev/null
  local c; c=$($CAIRN --repo=r rev-parse bb)
  $CAIRN --repo=r run --mount bb -- /bin/sh -c 'cat /etc/motd; grep " / " /proc/self/mountinfo' > out 2> err || { cat err; exit 1; }
  assert_file_has_content out 'from the mount'
  assert_file_has_content out " / .* - overlay cairn:$c"
  assert_exit 7 $CAIRN --repo=r run --mount=kernel bb -- /bin/sh -c 'exit 7'
  # no checkout was made
  [ ! -d r/extensions/cairn/checkouts ] || [ -z "$(ls -A r/extensions/cairn/checkouts | grep -v lock)" ]
  # two containers of one commit share one mount, which the last one removes
  $CAIRN --repo=r run --mount bb -- /bin/sh -c 'touch /tmp/x 2>/dev/null; sleep 3' & local p1=$!
  $CAIRN --repo=r run --mount bb -- /bin/sleep 3 & local p2=$!
  local i n=0
  for i in $(seq 1 50); do
    n=$(grep -c " - overlay cairn:$c" /proc/self/mountinfo || :)
    [ "$n" -ge 1 ] && [ -n "$(pgrep -P $p1)" ] && [ -n "$(pgrep -P $p2)" ] && break
    sleep 0.1
  done
  assert_streq "$n" 1
  wait $p1; wait $p2
  assert_streq "$(grep -c " - overlay cairn:$c" /proc/self/mountinfo || :)" 0
  [ -z "$(ls -A r/extensions/cairn/mounts | grep -v -e '\.lock$' -e '\.users$')" ]
  # a mapped, unprivileged container user reads world-readable files only
  $CAIRN --repo=r run --mount --user=1000:1000 bb -- /bin/sh -c 'cat /etc/motd; cat /etc/secret || echo denied' > out
  assert_file_has_content out 'from the mount'
  assert_file_has_content out 'denied'
  # --mount=fuse still serves a FUSE view
  if fuse_here; then
    $CAIRN --repo=r run --mount=fuse bb -- /bin/sh -c 'grep " / " /proc/self/mountinfo' > out
    assert_file_has_content out 'fuse.cairn'
    # and so does --mount where the kernel mount cannot serve (forced)
    CAIRN_NO_KMOUNT=1 $CAIRN --repo=r run --mount bb -- /bin/sh -c 'grep " / " /proc/self/mountinfo' > out
    assert_file_has_content out 'fuse.cairn'
  fi
  assert_exit 1 env CAIRN_NO_KMOUNT=1 $CAIRN --repo=r run --mount=kernel bb -- /bin/true
  assert_file_has_content "$T/err" 'CAIRN_NO_KMOUNT'
  assert_exit 2 $CAIRN --repo=r run --mount=nfs bb -- /bin/true
}

# A `cairn run --mount` killed with SIGKILL leaves the shared mount; the
# next run of the commit reuses it and, being the last user, removes it.
t_run_mount_killed() {
  require_kmount
  [ -x "$CAIRN_LAUNCH" ] || skip "needs cairn-launch"
  make_busybox_tree bb
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b bb bb >/dev/null
  local c; c=$($CAIRN --repo=r rev-parse bb)
  $CAIRN --repo=r run --mount bb -- /bin/sleep 60 & local pid=$!
  local i kids=
  for i in $(seq 1 100); do
    kids=$(pgrep -P $pid || :)
    [ -n "$kids" ] && grep -q " - overlay cairn:$c" /proc/self/mountinfo && break
    sleep 0.1
  done
  [ -n "$kids" ] || { echo "the container did not start"; exit 1; }
  kill -9 $pid; wait $pid 2>/dev/null || :
  kill -9 $kids 2>/dev/null || : # the launcher, by its pid
  for i in $(seq 1 50); do kill -0 $kids 2>/dev/null || break; sleep 0.1; done
  assert_streq "$(grep -c " - overlay cairn:$c" /proc/self/mountinfo || :)" 1
  $CAIRN -v --repo=r run --mount bb -- /bin/cat /etc/motd > out
  assert_file_has_content out 'from the mount'
  assert_streq "$(grep -c " - overlay cairn:$c" /proc/self/mountinfo || :)" 0
  [ ! -e "r/extensions/cairn/mounts/$c" ] || { ls -la r/extensions/cairn/mounts; exit 1; }
}

t_export_images() {
  require_kmount
  require_cmd mksquashfs unsquashfs
  local makers m maker r; makers=$(makers)
  mkdir m1 m2
  for m in bare bare-user archive; do
    for maker in $makers; do
      fixture $m $maker; r=$FX/r
      rm -f img.erofs img.sqfs
      $CAIRN --repo="$r" export main --format=erofs img.erofs
      fsck.erofs img.erofs > fsck.out 2>&1 || { cat fsck.out; exit 1; }
      mount_erofs_file img.erofs m1
      check_equal "$FX" m1 "erofs export, mode $m, by $maker"
      umount m1
      $CAIRN --repo="$r" export main --format=squashfs img.sqfs
      unsquashfs -l img.sqfs > list
      assert_file_has_content list 'squashfs-root/a/big.bin'
      mount_squashfs img.sqfs m2
      check_equal "$FX" m2 "squashfs export, mode $m, by $maker"
      assert_streq "$(stat -c %i m2/hello.txt)" "$(stat -c %i m2/a/hardlink.txt)"
      umount m2
    done
  done
  # every mtime is the commit's timestamp, in both images
  local ts; ts=$($CAIRN --repo="$r" show --json main | $PY -c 'import json,sys; print(json.load(sys.stdin)["timestamp"])')
  mount_erofs_file img.erofs m1; mount_squashfs img.sqfs m2
  assert_streq "$(find m1 -printf '%T@\n' | sed 's/\..*//' | sort -u)" "$ts"
  assert_streq "$(find m2 -printf '%T@\n' | sed 's/\..*//' | sort -u)" "$ts"
  umount m1; umount m2
  # no temporary file is left behind; a failed export names its file
  [ -z "$(ls -A | grep -e tmp)" ] || { ls -A; exit 1; }
  assert_exit 1 $CAIRN --repo="$r" export main --format=squashfs nodir/img.sqfs
  assert_file_has_content "$T/err" 'nodir/img.sqfs'
  assert_exit 2 $CAIRN --repo="$r" export main --format=iso9660 x.iso
  assert_exit 2 $CAIRN --repo="$r" export main --format=erofs
}

run_test "kernel mount equals cairn checkout, bare modes, cairn and ostree commits; fsck.erofs accepts" t_equals_checkout
run_test "archive repos: --kernel is a clear error, nothing mounted or cached" t_archive_and_fallback
run_test "image cache: checksum beside it, deterministic, corrupt/truncated image rebuilt" t_image_cache
run_test "missing object: a log line naming it, EIO on its entry, image not cached" t_missing_object
run_test "bad input: non-empty dir, unknown ref, not a dir, non-cairn umount" t_bad_input
run_test "hostile dirtrees (unsorted, a name twice, bad name, short checksum, bad framing) are refused" t_hostile_dirtree
run_test "the kernel mount runs in cairn-core; the FUSE view is handed to cairn-full" t_core_routing
run_test "full disk under the image cache: a clear error, nothing mounted or left" t_full_disk
run_test "repository on tmpfs: the image goes through a loop device, gone with the unmount" t_tmpfs_repo
run_test "a cached mount is repeated by the front end while its inputs hold" t_front_end_mount
run_test "umount with an open file: detached lazily, the file keeps reading" t_umount_busy
run_test "mounting (and exporting) process killed half-way: nothing mounted, no partial image or file" t_kill_halfway
run_test "fs-verity: fsck --verity, digests recorded and enforced (as far as the kernel allows)" t_verity
run_test "prune removes a pruned commit's image; its mount keeps working" t_prune
run_test "cairn run --mount: one kernel mount shared by the containers of a commit" t_run_mount
run_test "cairn run --mount killed: the next run reuses the mount and removes it" t_run_mount_killed
run_test "export --format=erofs|squashfs: fsck.erofs/unsquashfs accept, mounts equal checkout" t_export_images
tests_done
