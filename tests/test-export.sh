#!/bin/bash
# Export: round trips through tar, ostree interop, subpath, compression;
# images (--format=oci, docker-archive) read by umoci, skopeo and podman.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/fixtures-import-oci.sh"

root_tree() { "$CAIRN" --repo "$1" show --json "$2" | sed 's/.*"root_tree":"\([0-9a-f]*\)".*/\1/'; }

t_roundtrip() {
  make_varied_tree src
  for mode in $CAIRN_MODES; do
    mode_possible $mode || continue
    [ $mode = bare-user ] && ! have_user_xattrs . && continue
    "$CAIRN" --repo r-$mode init --mode=$mode >/dev/null
    r=r-$mode; opts=""; [ $mode = bare-user-only ] && opts=--canonical-permissions
    "$CAIRN" --repo $r commit -b dir $opts src >/dev/null
    "$CAIRN" --repo $r export dir -o out.tar
    "$CAIRN" --repo $r export dir > out2.tar
    cmp out.tar out2.tar                       # stable output
    "$CAIRN" --repo $r commit -b back $opts --tree=tar=out.tar >/dev/null
    assert_streq "$(root_tree $r back)" "$(root_tree $r dir)"
    for z in gzip zstd; do
      "$CAIRN" --repo $r export --compress=$z dir -o out.$z
      "$CAIRN" --repo $r commit -b back-$z $opts --tree=tar=out.$z >/dev/null
      assert_streq "$(root_tree $r back-$z)" "$(root_tree $r dir)"
    done
  done
  # Hardlinks for repeated objects, symlinks, modes, xattrs (pax).
  tar -tvf out.tar > list
  assert_file_has_content list '^hrw-r--r-- .* ./a/hardlink.txt link to ./hello.txt$'
  assert_file_has_content list '^lrwxrwxrwx .* ./link -> hello.txt$'
  assert_file_has_content list '^-rwsr-xr-x 0/0 .* ./suid$'
  assert_file_has_content list '^drwx------ .* ./private/$'
  if have_user_xattrs .; then
    "$CAIRN" --repo r-archive export dir | tar --xattrs -tvvf - --xattrs-include='*' ./withxattr > x 2>&1 || true
    python3 -c "import tarfile,sys; t=tarfile.open('out.tar'); m=t.getmember('./withxattr'); sys.exit(0 if m.pax_headers.get('SCHILY.xattr.user.alpha')=='a' else 1)"
  fi
}

t_ostree_interop() {
  require_cmd ostree
  make_varied_tree src
  "$CAIRN" --repo r init --mode=archive >/dev/null
  ostree --repo=o init --mode=archive
  "$CAIRN" --repo r commit -b dir --owner-uid=0 --owner-gid=0 src >/dev/null
  "$CAIRN" --repo r export dir -o out.tar
  ostree --repo=o commit -b t --owner-uid=0 --owner-gid=0 --tree=tar=out.tar >/dev/null
  assert_streq "$(ostree --repo=o ls -C t / | head -1 | awk '{print $5}')" "$(root_tree r dir)"
  # And ostree's own export (which drops xattrs) re-imports to the same tree.
  "$CAIRN" --repo r commit -b noxattrs --no-xattrs src >/dev/null
  ostree --repo=r export noxattrs > ost.tar
  "$CAIRN" --repo r commit -b back --tree=tar=ost.tar >/dev/null
  assert_streq "$(root_tree r back)" "$(root_tree r noxattrs)"
}

t_subpath_errors() {
  make_varied_tree src
  "$CAIRN" --repo r init --mode=bare-user-only >/dev/null
  "$CAIRN" --repo r commit -b dir --canonical-permissions src >/dev/null
  "$CAIRN" --repo r export --subpath=/a/b dir -o sub.tar
  tar -tf sub.tar > list
  assert_streq "$(cat list | tr '\n' ' ')" "./ ./empty ./rel-link ./c/ ./c/also-empty "
  "$CAIRN" --repo r export --subpath=hello.txt dir | tar -xOf - ./hello.txt > h
  assert_streq "$(cat h)" hello
  assert_exit 1 "$CAIRN" --repo r export --subpath=/nope dir -o x.tar
  assert_not_has_file x.tar
  assert_exit 2 "$CAIRN" --repo r export --compress=lzma dir -o x.tar
  assert_exit 1 "$CAIRN" --repo r export no-such-ref -o x.tar
}

# A full disk under the output: one line naming the output file and the
# cause (not libarchive's bare "Write error"); a partial -o file is removed.
t_enospc() {
  require_root
  skip_unless "mount namespaces" unshare -m true
  mkdir src mnt
  for i in $(seq 1 20); do head -c 1000000 /dev/urandom > src/f$i; done
  "$CAIRN" --repo r init --mode=archive >/dev/null
  "$CAIRN" --repo r commit -b t src >/dev/null
  cat > run.sh <<EOF
set -e
mount -t tmpfs -o size=8m none $T/mnt
for z in none gzip zstd; do
  rc=0; $CAIRN --repo r export t --compress=\$z -o $T/mnt/out.tar 2>err || rc=\$?
  cat err
  test \$rc = 1
  test \$(wc -l < err) = 1
  grep -q "^cairn: export: $T/mnt/out.tar: .*No space left on device" err
  ! grep -q 'Write error' err
  test ! -e $T/mnt/out.tar
done
rc=0; $CAIRN --repo r export t > $T/mnt/stdout.tar 2>err || rc=\$?
cat err; test \$rc = 1
grep -q '^cairn: export: standard output: .*No space left on device' err
EOF
  unshare -m bash run.sh
}

# ---- images: --format=oci and docker-archive ----------------------------------

# podman with its own storage under the test's directory.
pm() { podman --root "$T/pm/root" --runroot "$T/pm/run" --storage-driver vfs "$@"; }

t_export_oci() {
  require_cmd umoci skopeo podman
  make_oci_image img t >/dev/null
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  "$CAIRN" --repo r import oci img:t -b app >/dev/null
  "$CAIRN" --repo r checkout app co >/dev/null
  rm -rf co/opq co/etc/stay; mkdir co/etc/stay; echo x > co/etc/stay/now-a-dir; echo y > co/new
  "$CAIRN" --repo r commit -b app co >/dev/null
  d1=$("$CAIRN" --repo r export app --format=oci lay:single)
  d2=$("$CAIRN" --repo r export app --format=oci --layers=parents lay:parents)
  d3=$("$CAIRN" --repo r export app --format=oci --compress=zstd lay:zstd)
  d4=$("$CAIRN" --repo r export app --format=oci --compress=none lay:plain)
  # one layout with every tag; reproducible digests
  assert_streq "$("$CAIRN" --repo r export app --format=oci again:x)" "$d1"
  python3 -c 'import json; print(sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open("lay/index.json"))["manifests"]))' > tags
  assert_streq "$(cat tags)" "['parents', 'plain', 'single', 'zstd']"
  # umoci unpacks what cairn committed (gzip and plain layers, one or two)
  for tag in single parents plain; do
    umoci unpack --image lay:$tag u-$tag >/dev/null
    "$CAIRN" --repo r commit -b u-$tag u-$tag/rootfs >/dev/null
    assert_streq "$(root_tree r u-$tag)" "$(root_tree r app)"
  done
  skopeo inspect oci:lay:parents > inspect
  python3 -c 'import json,sys; sys.exit(0 if len(json.load(open("inspect"))["Layers"]) == 2 else 1)'
  skopeo inspect --config oci:lay:single > config
  assert_file_has_content config '"Entrypoint": \[\s*$'
  assert_file_has_content config '"WorkingDir": "/keep"'
  # skopeo and podman take it (podman with its own storage)
  skopeo copy -q oci:lay:single docker-archive:via-skopeo.tar:test/app:v1
  pm load -i via-skopeo.tar > load.out 2>&1
  assert_file_has_content load.out 'Loaded image: docker.io/test/app:v1'
  pm image inspect docker.io/test/app:v1 --format '{{.Config.Cmd}} {{.Config.WorkingDir}}' > pinspect
  assert_file_has_content pinspect '\[-c echo hi\] /keep'
  # zstd layers: cairn reads them back
  "$CAIRN" --repo r import oci lay:zstd -b back-zstd >/dev/null
  assert_streq "$(root_tree r back-zstd)" "$(root_tree r app)"
  # xz is not an OCI layer compression; a directory that is not a layout is refused
  assert_exit 1 "$CAIRN" --repo r export app --format=oci --compress=xz lay:xz
  assert_file_has_content "$T/err" "not xz"
  mkdir notlayout; echo x > notlayout/file
  assert_exit 1 "$CAIRN" --repo r export app --format=oci notlayout:x
  assert_file_has_content "$T/err" "notlayout exists and is not an OCI image layout"
  assert_exit 2 "$CAIRN" --repo r export app --format=oci
  # the built-layer cache: at most 4 layers kept; a cached blob changed on
  # disk is not used (the layer is built again, to the same digest)
  ls r/extensions/cairn/oci-built/*.desc | wc -l > n
  [ "$(cat n)" -le 4 ] || { echo "assert: $(cat n) layers cached"; exit 1; }
  for b in r/extensions/cairn/oci-built/*.blob; do chmod u+w "$b"; printf 'X' | dd of="$b" bs=1 seek=100 conv=notrunc 2>/dev/null; done
  rm -rf lay2
  assert_streq "$("$CAIRN" --repo r export app --format=oci --compress=none lay2:plain)" "$d4"
  for f in lay2/blobs/sha256/*; do
    assert_streq "$(sha256sum "$f" | cut -d' ' -f1)" "$(basename "$f")"
  done
}

t_export_docker_archive() {
  require_cmd umoci skopeo podman
  make_oci_image img t >/dev/null
  "$CAIRN" --repo r init --mode=archive >/dev/null
  "$CAIRN" --repo r import oci img:t -b app >/dev/null
  for z in none gzip zstd xz; do
    "$CAIRN" --repo r export app --format=docker-archive --compress=$z da-$z.tar:test/app:$z
    skopeo inspect docker-archive:da-$z.tar > inspect-$z
    assert_file_has_content inspect-$z '"FOO=bar"'
    "$CAIRN" --repo r import docker-archive da-$z.tar -b back-$z >/dev/null
    assert_streq "$(root_tree r back-$z)" "$(root_tree r app)"
  done
  pm load -i da-none.tar > load.out 2>&1
  assert_file_has_content load.out "Loaded image: localhost/test/app:none"
  pm load -i da-gzip.tar > load.out 2>&1
  pm image inspect localhost/test/app:gzip --format '{{.Config.Entrypoint}} {{.Config.User}}' > pinspect
  assert_file_has_content pinspect '\[/bin/sh\] 1000:1000'
  # reproducible; a name without a tag is :latest
  "$CAIRN" --repo r export app --format=docker-archive again.tar:test/app:none
  cmp da-none.tar again.tar
  "$CAIRN" --repo r export app --format=docker-archive latest.tar:test/app
  assert_file_has_content latest.tar 'test/app:latest'
  # a layer member of a docker-archive that lies about its diff_id is refused
  mkdir x && tar -C x -xf da-gzip.tar
  layer=$(cd x && ls *.tar); : > x/new; (cd x && tar -rf "$layer" new 2>/dev/null || true)
  python3 - x/"$layer" <<'PY'
import gzip, sys
p = sys.argv[1]; data = gzip.decompress(open(p, "rb").read())
open(p, "wb").write(gzip.compress(data[:-1024] + b"\0" * 1024 + b"extra"))
PY
  (cd x && tar -cf ../bad.tar *)
  assert_exit 1 "$CAIRN" --repo r import docker-archive bad.tar -b bad
  assert_file_has_content "$T/err" "digest mismatch"
}

run_test "export -> commit --tree=tar= round trip in every mode" t_roundtrip
run_test "ostree commit of cairn's export gives the same tree; ostree export re-imports" t_ostree_interop
run_test "export --subpath, errors" t_subpath_errors
run_test "export to a full disk names the output and the cause" t_enospc
run_test "export --format=oci: umoci, skopeo and podman take it; layers, compressions, tags" t_export_oci
run_test "export --format=docker-archive: skopeo, podman load, cairn import; compressed layers" t_export_docker_archive
tests_done
