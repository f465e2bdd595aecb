#!/bin/bash
# Import: tarballs (GNU tar fixtures, hostile tarballs from tests/evil-tar.py),
# OCI layouts built with umoci, docker-archives made by skopeo.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/fixtures-import-oci.sh"

root_tree() { "$CAIRN" --repo "$1" show --json "$2" | sed 's/.*"root_tree":"\([0-9a-f]*\)".*/\1/'; }
# A failed import: no ref, and both fscks are clean.
assert_repo_clean() {
  ! "$CAIRN" --repo "$1" rev-parse "$2" >/dev/null 2>&1 || { echo "ref $2 moved"; exit 1; }
  "$CAIRN" --repo "$1" fsck >/dev/null
  if have ostree; then ostree --repo="$1" fsck >/dev/null; fi
}
init_repo() { "$CAIRN" --repo "$1" init --mode="$2" >/dev/null; }

# A realistic GNU tar fixture: a few thousand files, every compression.
make_rootfs() {
  make_varied_tree "$1"
  python3 - "$1" <<'PY'
import os, sys
r = sys.argv[1]
for i in range(3000):
    d = os.path.join(r, "usr/share/d%02d" % (i % 40))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d" % i), "w") as f:
        f.write("content %d\n" % (i % 700) * (1 + i % 5))
PY
}

t_tar_modes() {
  make_rootfs src
  tar --numeric-owner --xattrs -C src -cf rootfs.tar .
  for mode in $CAIRN_MODES; do
    mode_possible $mode || continue
    [ $mode = bare-user ] && ! have_user_xattrs . && continue
    init_repo r-$mode $mode
    opts=""; [ $mode = bare-user-only ] && opts=--canonical-permissions
    "$CAIRN" --repo r-$mode commit -b dir $opts src >/dev/null
    for z in none gzip xz zstd bzip2; do
      case $z in none) f=rootfs.tar;; gzip) gzip -c rootfs.tar > r.tgz; f=r.tgz;;
        xz) xz -T1 -c rootfs.tar > r.txz; f=r.txz;; zstd) zstd -q -c rootfs.tar > r.tzst; f=r.tzst;;
        bzip2) bzip2 -c rootfs.tar > r.tbz; f=r.tbz;; esac
      "$CAIRN" --repo r-$mode commit -b tar-$z $opts --tree=tar=$f >/dev/null
      assert_streq "$(root_tree r-$mode tar-$z)" "$(root_tree r-$mode dir)"
    done
    "$CAIRN" --repo r-$mode commit -b stdin $opts --tree=tar=- < rootfs.tar >/dev/null
    assert_streq "$(root_tree r-$mode stdin)" "$(root_tree r-$mode dir)"
    "$CAIRN" --repo r-$mode fsck >/dev/null
    ostree --repo=r-$mode fsck >/dev/null
  done
}

# An uncompressed tarball in a file is read straight from the file by the
# workers (pread at each entry's offset); every other source through
# libarchive. Both must give the same tree for every kind of entry.
t_tar_direct_same() {
  make_varied_tree src
  long=$(printf 'l%.0s' $(seq 1 150))
  mkdir -p "src/$long/$long"; echo deep > "src/$long/$long/$long"
  for n in 262144 262145 1048576 1048577 3000000; do head -c $n /dev/urandom > src/size-$n; done
  truncate -s 5M src/sparse; printf data | dd of=src/sparse bs=1 seek=3000000 conv=notrunc 2>/dev/null
  ln src/size-262145 src/hardlink
  tar --numeric-owner --format=gnu --sparse -C src -cf gnu.tar .
  tar --numeric-owner --format=pax --xattrs -C src -cf pax.tar .
  for mode in bare-user archive; do
    [ $mode = bare-user ] && ! have_user_xattrs . && continue
    init_repo r-$mode $mode
    "$CAIRN" --repo r-$mode commit -b dir src >/dev/null
    for f in gnu pax; do
      "$CAIRN" --repo r-$mode commit -b $f-direct --tree=tar=$f.tar >/dev/null
      CAIRN_TAR_NO_DIRECT=1 "$CAIRN" --repo r-$mode commit -b $f-stream --tree=tar=$f.tar >/dev/null
      assert_streq "$(root_tree r-$mode $f-direct)" "$(root_tree r-$mode $f-stream)"
    done
    # pax keeps every attribute the directory commit records
    assert_streq "$(root_tree r-$mode pax-direct)" "$(root_tree r-$mode dir)"
    "$CAIRN" --repo r-$mode cat pax-direct /sparse | cmp - src/sparse
    # Cut inside the data of the large file: refused either way, nothing moved.
    off=$(python3 -c 'import tarfile,sys
t = tarfile.open(sys.argv[1])
m = [x for x in t.getmembers() if x.name.endswith("size-3000000")][0]
print(m.offset_data + 1000)' pax.tar)
    head -c $off pax.tar > cut.tar
    assert_exit 1 "$CAIRN" --repo r-$mode commit -b cut --tree=tar=cut.tar
    assert_repo_clean r-$mode cut
    CAIRN_TAR_NO_DIRECT=1 assert_exit 1 "$CAIRN" --repo r-$mode commit -b cut --tree=tar=cut.tar
    assert_repo_clean r-$mode cut
  done
}

# Progress goes to stderr only when it is a terminal (a pty made by script(1)).
t_progress_on_terminal() {
  require_cmd script
  make_rootfs src
  tar --numeric-owner -C src -cf rootfs.tar .
  init_repo r bare-user
  script -q -e -c "$CAIRN --repo r commit -b tty --tree=tar=rootfs.tar" /dev/null > tty.out
  assert_file_has_content tty.out 'commit: [0-9]* files, [0-9.]* MiB'
  "$CAIRN" --repo r commit -b notty --tree=tar=rootfs.tar > out 2> err
  [ ! -s err ] || { echo "progress without a terminal:"; cat err; exit 1; }
  assert_streq "$(root_tree r tty)" "$(root_tree r notty)"
}

t_tar_ostree_same() {
  require_cmd ostree
  make_rootfs src
  tar --numeric-owner -C src -cf rootfs.tar .
  init_repo r archive
  ostree --repo=o init --mode=archive
  "$CAIRN" --repo r commit -b t --no-xattrs --tree=tar=rootfs.tar >/dev/null
  ostree --repo=o commit -b t --no-xattrs --tree=tar=rootfs.tar >/dev/null
  assert_streq "$(root_tree r t)" "$(ostree --repo=o ls -C t / | head -1 | awk '{print $5}')"
}

t_evil() {
  python3 "$CAIRN_TOP_SRCDIR/tests/evil-tar.py" evil
  for mode in bare-user-only archive; do
    init_repo r-$mode $mode
    r=r-$mode
    while read -r f want; do
      assert_fails "$CAIRN" --repo $r commit -b evil --tree=tar=evil/$f
      assert_file_has_content "$T/err" "$want"
      assert_repo_clean $r evil
    done <<'LIST'
dotdot.tar entry 'ok/../../escape': '..' component
absolute.tar entry '/etc/evil-abs': absolute path
hardlink-outside.tar entry 'h': hardlink target '../../etc/passwd'
hardlink-unseen.tar entry 'h': hardlink to 'later', which is not a file seen earlier
symlink-through.tar entry 'link/evil-through': parent 'link' is a file or symlink
bad-utf8.tar entry 'bad-\\xff-utf8': name is not valid UTF-8
truncated.tar.gz truncated
corrupt.tar.gz corrupt gzip data
long-name.tar entry 'ok/nnnnnnnnnn.*': name of 300 bytes is longer than 255
long-dir.tar entry 'dddddddddd.*/f': name of 300 bytes is longer than 255
long-target.tar entry 'l': symlink target of 4200 bytes is longer than 4095
LIST
    # Contained: the later duplicate wins; devices skipped and counted.
    "$CAIRN" --repo $r commit -b dup --tree=tar=evil/duplicate.tar >/dev/null
    assert_streq "$("$CAIRN" --repo $r cat dup dir/f)" second
    "$CAIRN" --repo $r commit -b dev --tree=tar=evil/devices.tar >/dev/null 2>err
    assert_file_has_content err "skipped 3 device nodes, fifos or sockets (first: dev/null)"
    "$CAIRN" --repo $r ls -R dev / > ls
    assert_file_has_content ls /regular
    assert_not_file_has_content ls /dev/null
    # A NUL in a pax path: libarchive truncates at the NUL; the entry stays inside.
    "$CAIRN" --repo $r commit -b nul --tree=tar=evil/nul-name.tar >/dev/null
    "$CAIRN" --repo $r ls -R nul / > ls
    assert_file_has_content ls ' /evil$'
    "$CAIRN" --repo $r fsck >/dev/null
    ostree --repo=$r fsck >/dev/null
  done
  # Nothing was written outside the repository.
  [ ! -e /etc/evil-abs ] && [ ! -e "$T/../escape" ] && [ ! -e /etc/evil-through ]
}

# A tarball cut at every kind of boundary. Cut inside a header, inside an
# entry's data or inside its padding: refused by commit (read straight from
# the file and streamed) exactly as ostree refuses it, and no ref moves.
# Only the end-of-archive blocks missing (cut right after the last entry's
# padding, or after one of the two zero blocks): accepted, as by ostree
# commit --tree=tar= and GNU tar, since every entry is complete.
t_tar_truncated() {
  mkdir src && printf abcdef > src/six && head -c 3000 /dev/urandom > src/big
  tar --numeric-owner --format=gnu -C src -cf whole.tar ./six ./big
  # six: header 0, data 512-517, padding to 1024; big: header 1024,
  # data 1536-4535, padding to 4608; end-of-archive from 4608.
  init_repo r bare-user-only
  for cut in 300 1200 515 2000 700 4600; do
    head -c $cut whole.tar > cut.tar
    for stream in "" 1; do
      env ${stream:+CAIRN_TAR_NO_DIRECT=1} \
        "$CAIRN" --repo r commit -b t --canonical-permissions --tree=tar=cut.tar 2>err >out && {
        echo "cut at $cut (streamed: ${stream:-no}) committed: $(cat out)"; exit 1; }
      assert_file_has_content err "cut.tar: .*[Tt]runcated\|cut.tar: .*[Uu]nrecognized"
      [ ! -s out ] || { echo "printed a checksum for a cut tarball"; exit 1; }
      assert_repo_clean r t
    done
    if have ostree; then
      rm -rf o; ostree --repo=o init --mode=bare-user-only
      ! ostree --repo=o commit -b t --tree=tar=cut.tar >/dev/null 2>&1 || { echo "ostree took cut at $cut"; exit 1; }
    fi
  done
  for cut in 4608 5120; do
    head -c $cut whole.tar > cut.tar
    "$CAIRN" --repo r commit -b t$cut --canonical-permissions --tree=tar=cut.tar >/dev/null
    assert_streq "$("$CAIRN" --repo r cat t$cut six)" abcdef
    "$CAIRN" --repo r cat t$cut big | cmp - src/big
  done
}

t_oci() {
  require_cmd umoci
  make_oci_image img t >/dev/null
  umoci unpack --image img:t ref >/dev/null
  for mode in bare-user-only archive; do
    init_repo r-$mode $mode
    r=r-$mode; opts=""; [ $mode = bare-user-only ] && opts=--canonical-permissions
    "$CAIRN" --repo $r commit -b ref $opts ref/rootfs >/dev/null
    "$CAIRN" --repo $r import oci img:t -b img $opts >/dev/null
    "$CAIRN" --repo $r import oci img -b img-notag $opts >/dev/null
    assert_streq "$(root_tree $r img)" "$(root_tree $r ref)"
    assert_streq "$(root_tree $r img-notag)" "$(root_tree $r ref)"
    "$CAIRN" --repo $r show img > show
    assert_file_has_content show "cairn.oci.entrypoint: \['/bin/sh'\]"
    assert_file_has_content show "cairn.oci.cmd: \['-c', 'echo hi'\]"
    assert_file_has_content show "cairn.oci.env: \['FOO=bar', 'PATH=/usr/bin:/bin'\]"
    assert_file_has_content show "cairn.oci.workdir: /keep"
    assert_file_has_content show "cairn.oci.user: 1000:1000"
    ostree --repo=$r fsck >/dev/null
  done
}

t_oci_select_and_digest() {
  require_cmd umoci
  make_oci_image img t >/dev/null
  umoci tag --image img:t other
  init_repo r archive
  assert_fails "$CAIRN" --repo r import oci img -b x
  assert_file_has_content "$T/err" "2 manifests and none chosen.*available: t, other"
  assert_fails "$CAIRN" --repo r import oci img:nope -b x
  assert_file_has_content "$T/err" "no manifest tagged 'nope'"
  "$CAIRN" --repo r import oci img:other -b x >/dev/null
  # Flip a byte in the largest layer: digest mismatch, nothing committed.
  blob=$(ls -S img/blobs/sha256/* | head -1)
  chmod u+w "$blob"; printf '\x00' | dd of="$blob" bs=1 seek=20 conv=notrunc 2>/dev/null
  assert_fails "$CAIRN" --repo r import oci img:t -b bad
  assert_file_has_content "$T/err" "digest mismatch\|sha256:"
  assert_repo_clean r bad
}

t_oci_multiplatform() {
  require_cmd umoci
  make_oci_image img t >/dev/null
  m=$(python3 -c 'import json;print(json.load(open("img/index.json"))["manifests"][0]["digest"])')
  size=$(python3 -c 'import json;print(json.load(open("img/index.json"))["manifests"][0]["size"])')
  # An image index of two platforms (arm64 points at a missing blob: never read).
  python3 - "$m" "$size" <<'PY'
import json, hashlib, sys
m, size = sys.argv[1], int(sys.argv[2])
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64, "size": 1,
   "platform": {"os": "linux", "architecture": "arm64"}},
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": size,
   "platform": {"os": "linux", "architecture": "amd64"}}]}
b = json.dumps(idx).encode()
h = hashlib.sha256(b).hexdigest()
open("img/blobs/sha256/" + h, "wb").write(b)
top = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
       "digest": "sha256:" + h, "size": len(b), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}
json.dump(top, open("img/index.json", "w"))
PY
  [ "$(uname -m)" = x86_64 ] || skip "the fixture's amd64 manifest needs an x86_64 host"
  init_repo r archive
  "$CAIRN" --repo r import oci img:multi -b m >/dev/null
  "$CAIRN" --repo r show m | grep -q 'cairn.oci.architecture: amd64'
}

t_docker_archive() {
  require_cmd umoci skopeo
  make_oci_image img t >/dev/null
  skopeo copy -q oci:img:t docker-archive:img.tar:test/img:t
  init_repo r archive
  "$CAIRN" --repo r import oci img:t -b oci >/dev/null
  "$CAIRN" --repo r import docker-archive img.tar -b dock >/dev/null
  "$CAIRN" --repo r import docker-archive img.tar:t -b dock2 >/dev/null
  # skopeo's own form FILE:NAME:TAG (it once opened "img.tar:test/img")
  "$CAIRN" --repo r import docker-archive img.tar:test/img:t -b dock3 >/dev/null
  assert_streq "$(root_tree r dock)" "$(root_tree r oci)"
  assert_streq "$(root_tree r dock2)" "$(root_tree r oci)"
  assert_streq "$(root_tree r dock3)" "$(root_tree r oci)"
  assert_fails "$CAIRN" --repo r import docker-archive img.tar:other/img:t -b dock4
  assert_file_has_content "$T/err" "no image tagged 'other/img:t' (available: docker.io/test/img:t)"
  # the registry's full form names the same image
  "$CAIRN" --repo r import docker-archive img.tar:docker.io/test/img:t -b dock5 >/dev/null
  assert_fails "$CAIRN" --repo r import docker-archive nothere.tar:test/img:t -b dock4
  assert_file_has_content "$T/err" "nothere.tar"
  assert_not_file_has_content "$T/err" "nothere.tar:test"
  "$CAIRN" --repo r show dock | grep -q "cairn.oci.cmd: \['-c', 'echo hi'\]"
  # A layer that does not match the config's diff_ids.
  mkdir x && tar -C x -xf img.tar
  layer=$(cd x && ls -S *.tar | head -1)
  printf 'junk' >> "x/$layer"
  (cd x && tar -cf ../bad.tar *)
  assert_fails "$CAIRN" --repo r import docker-archive bad.tar -b bad
  assert_file_has_content "$T/err" "digest mismatch"
  assert_repo_clean r bad
}

# A tarball of a few KiB that claims a 10 GiB file (PAX GNU.sparse 1.0, a
# sparse map of one 4-byte block) takes about its data on disk, not 10 GiB;
# a directory's sparse file likewise; the size limits refuse such claims
# before any data is read, naming the entry.
t_sparse_and_limits() {
  mkdir s
  truncate -s 10G s/huge
  printf data | dd of=s/huge bs=1 seek=5000000000 conv=notrunc 2>/dev/null
  tar --format=posix --sparse --sparse-version=1.0 -C s -cf claim.tar huge
  [ "$(stat -c %s claim.tar)" -lt 65536 ]
  tar -tvf claim.tar | grep -q ' 10737418240 '
  init_repo r bare-user
  "$CAIRN" --repo r commit -b claim --tree=tar=claim.tar >/dev/null
  local kb; kb=$(du -sk r | cut -f1)
  [ "$kb" -lt 4096 ] || { echo "assert: repo uses ${kb} KiB for a 10 GiB claim"; exit 1; }
  "$CAIRN" --repo r checkout -U claim co
  assert_streq "$(stat -c %s co/huge)" 10737418240
  assert_streq "$(dd if=co/huge bs=1 skip=5000000000 count=4 2>/dev/null)" data
  [ "$(stat -c %b co/huge)" -lt 8192 ] # hardlinked to the sparse object
  # the same object as a commit of the sparse file itself (read by
  # SEEK_DATA), and fsck reads it back: shown on a 1 GiB claim, since each
  # pass over 10 GiB of zeros costs its hashing time
  mkdir s1
  truncate -s 1G s1/big
  printf data | dd of=s1/big bs=1 seek=500000000 conv=notrunc 2>/dev/null
  tar --format=posix --sparse --sparse-version=1.0 -C s1 -cf claim1.tar big
  init_repo r1 bare-user
  "$CAIRN" --repo r1 commit -b claim --tree=tar=claim1.tar >/dev/null
  "$CAIRN" --repo r1 commit -b dir s1 >/dev/null
  assert_streq "$(ostree --repo=r1 ls -C dir /big | awk '{print $5}')" \
    "$(ostree --repo=r1 ls -C claim /big | awk '{print $5}')"
  kb=$(du -sk r1 | cut -f1); [ "$kb" -lt 4096 ]
  "$CAIRN" --repo r1 fsck >/dev/null
  # limits: refused before the data is read, the entry named, nothing left
  assert_fails "$CAIRN" --repo r commit -b lim --max-object-size=1G --tree=tar=claim.tar
  assert_file_has_content "$T/err" "entry 'huge': file of 10737418240 bytes is above --max-object-size (1073741824)"
  assert_fails "$CAIRN" --repo r commit -b lim --max-tree-size=2G --tree=tar=claim.tar
  assert_file_has_content "$T/err" "entry 'huge': files add up to 10737418240 bytes, above --max-tree-size"
  assert_exit 2 "$CAIRN" --repo r commit -b lim --max-tree-size=lots --tree=tar=claim.tar
  assert_repo_clean r lim
  [ -z "$(ls r/tmp | grep -v '^cache$')" ] || { echo "left in tmp/: $(ls r/tmp)"; exit 1; }
  # images take the same limits
  require_cmd umoci
  make_oci_image img t >/dev/null
  assert_fails "$CAIRN" --repo r import oci img:t -b lim --max-tree-size=4
  assert_file_has_content "$T/err" "above --max-tree-size (4)"
  assert_repo_clean r lim
}

# A full disk while an image is imported: one line naming the layer and the
# entry, no ref, no staging left, both fscks clean.
t_enospc_import() {
  require_root
  require_cmd umoci
  skip_unless "mount namespaces" unshare -m true
  umoci init --layout img >/dev/null; umoci new --image img:t >/dev/null
  umoci unpack --image img:t b >/dev/null
  python3 -c "
import os
for i in range(300):
    open('b/rootfs/f%03d' % i, 'wb').write(os.urandom(20000))"
  umoci repack --image img:t b >/dev/null
  mkdir mnt
  cat > run.sh <<EOF
set -e
mount -t tmpfs -o size=3m none $T/mnt
$CAIRN --repo=$T/mnt/r init --mode=bare-user >/dev/null
rc=0; $CAIRN --repo=$T/mnt/r import oci $T/img:t -b img 2>err || rc=\$?
cat err
test \$rc = 1
test \$(wc -l < err) = 1
grep -q "^cairn: import: .*sha256:[0-9a-f]*: entry 'f[0-9]*': .*No space left on device" err
! grep -qi 'staging\|(null)' err
! $CAIRN --repo=$T/mnt/r rev-parse img >/dev/null 2>&1
test -z "\$(ls $T/mnt/r/tmp | grep staging || true)"
$CAIRN --repo=$T/mnt/r fsck >/dev/null
ostree --repo=$T/mnt/r fsck >/dev/null
EOF
  unshare -m bash run.sh
}

run_test "tar import in every mode and compression equals commit of the dir" t_tar_modes
run_test "tar read straight from the file equals the streamed read (gnu, pax, sparse, long names, cut)" t_tar_direct_same
run_test "progress on stderr only when it is a terminal" t_progress_on_terminal
run_test "tar import gives ostree's tree checksum" t_tar_ostree_same
run_test "hostile tarballs are refused or contained" t_evil
run_test "tar cut in a header, data or padding is refused; only end-of-archive missing is accepted" t_tar_truncated
run_test "OCI import (umoci, 3 layers, whiteouts, opaque) equals umoci unpack" t_oci
run_test "OCI manifest selection and digest verification" t_oci_select_and_digest
run_test "OCI multi-platform index picks linux/amd64" t_oci_multiplatform
run_test "docker-archive import (skopeo)" t_docker_archive
run_test "import onto a full disk: one line naming layer and entry, nothing left" t_enospc_import
run_test "a 10 GiB sparse claim takes its data on disk; --max-object-size, --max-tree-size" t_sparse_and_limits
tests_done
