#!/bin/bash
# Checkout: identical to ostree checkout for commits by ostree and by cairn in
# every mode; every option; hostile destinations; corrupt/missing objects.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
MANIFEST="python3 $CAIRN_TOP_SRCDIR/tests/tree-manifest.py"

# checkout flags per repo mode, as a user of ostree would use them
flags_for() { case $1 in bare) echo "";; bare-user|bare-user-only) echo "-U";; archive) echo "";; esac; }

t_same_as_ostree() {
  require_cmd ostree; require_root
  make_varied_tree src
  chown 1234:5678 src/hello.txt
  for m in $CAIRN_MODES; do
    for maker in cairn ostree; do
      rm -rf r co-c co-o
      if [ $maker = cairn ]; then
        $CAIRN --repo=r init --mode=$m >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
      else
        ostree --repo=r init --mode=$m; ostree --repo=r commit -b main src >/dev/null
      fi
      f=$(flags_for $m)
      $CAIRN --repo=r checkout $f main co-c
      ostree --repo=r checkout $f main co-o
      $MANIFEST co-o --hardlinks > want; $MANIFEST co-c --hardlinks > got
      diff -u want got || { echo "differs: mode $m, commit by $maker, flags '$f'"; exit 1; }
      # bare-user metadata is read with getxattrat where the kernel has it;
      # the path that opens each object gives the same tree
      rm -rf co-c; CAIRN_NO_XATTRAT=1 $CAIRN --repo=r checkout $f main co-c
      $MANIFEST co-c --hardlinks > got
      diff -u want got || { echo "differs (CAIRN_NO_XATTRAT): mode $m, by $maker"; exit 1; }
      # non-user checkouts of the user modes copy with full metadata (as root)
      if [ $m = bare-user ] || [ $m = archive ]; then
        rm -rf co-c co-o
        $CAIRN --repo=r checkout main co-c; ostree --repo=r checkout main co-o
        $MANIFEST co-o --hardlinks > want; $MANIFEST co-c --hardlinks > got
        diff -u want got || { echo "differs (non-user): mode $m, by $maker"; exit 1; }
      fi
      $CAIRN --repo=r fsck >/dev/null
    done
  done
}

t_hardlinks_and_empty() {
  mkdir -p src/d; echo data > src/a; echo data2 > src/d/b; : > src/empty1; : > src/d/empty2
  ln -s a src/l
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  $CAIRN --repo=r checkout -U --require-hardlinks main co
  [ "$(stat -c %h co/a)" -ge 2 ] && [ "$(stat -c %h co/d/b)" -ge 2 ]
  obj=$(find r/objects -name '*.file' -newer r/config -size -7c -size +1c | head -1)
  [ "$(stat -c %h co/empty1)" = 1 ] && [ "$(stat -c %h co/d/empty2)" = 1 ]   # zero-sized: copied
  assert_symlink_has_content co/l a
  # -U is required to hardlink from bare-user
  assert_fails $CAIRN --repo=r checkout --require-hardlinks main co2
  assert_file_has_content "$T/err" 'requires user checkout mode'
  assert_not_has_file co2
  # --copy never links
  $CAIRN --repo=r checkout -U --copy main co3
  [ "$(stat -c %h co3/a)" = 1 ]
  assert_fails $CAIRN --repo=r checkout -U --copy --require-hardlinks main co4
  # archive: copies; -H refuses
  $CAIRN --repo=a init --mode=archive >/dev/null; $CAIRN --repo=a commit -b main src >/dev/null
  $CAIRN --repo=a checkout -U main coa; assert_streq "$(cat coa/d/b)" data2; [ "$(stat -c %h coa/a)" = 1 ]
  assert_fails $CAIRN --repo=a checkout -U -H main coh
}

t_dest_exists_and_subpath() {
  mkdir -p src/sub/deep; echo x > src/sub/deep/f; echo top > src/top
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mkdir dest
  assert_fails $CAIRN --repo=r checkout -U main dest
  assert_file_has_content "$T/err" 'exists'
  [ -z "$(ls -A dest)" ]
  $CAIRN --repo=r checkout -U --subpath=/sub main sub
  assert_streq "$(cat sub/deep/f)" x; assert_not_has_file sub/top
  $CAIRN --repo=r checkout -U --subpath=top main onefile
  assert_streq "$(cat onefile)" top
  assert_fails $CAIRN --repo=r checkout -U --subpath=/nope main nope
  assert_file_has_content "$T/err" 'No such file'
  [ -z "$(ls -A . | grep cairn-checkout)" ]
}

t_union_modes() {
  mkdir -p v1/d v2/d; echo one > v1/d/f; echo keep > v1/only1; echo two > v2/d/f; echo new > v2/only2
  $CAIRN --repo=r init --mode=bare-user >/dev/null
  $CAIRN --repo=r commit -b v1 v1 >/dev/null; $CAIRN --repo=r commit -b v2 v2 >/dev/null
  $CAIRN --repo=r checkout -U v1 dest
  $CAIRN --repo=r checkout -U --union v2 dest
  assert_streq "$(cat dest/d/f)" two; assert_streq "$(cat dest/only1)" keep; assert_streq "$(cat dest/only2)" new
  $CAIRN --repo=r checkout -U v1 dest2
  $CAIRN --repo=r checkout -U --union-add v2 dest2
  assert_streq "$(cat dest2/d/f)" one; assert_streq "$(cat dest2/only2)" new
  $CAIRN --repo=r checkout -U v1 dest3
  $CAIRN --repo=r checkout -U --union-identical v1 dest3
  assert_fails $CAIRN --repo=r checkout -U --union-identical v2 dest3
  assert_file_has_content "$T/err" 'd/f.*differs'
}

# A destination where an attacker replaced a directory with a symlink to a
# directory outside: nothing is written outside DEST.
t_hostile_destination() {
  mkdir -p src/etc src/usr/bin; echo pwned > src/etc/passwd; echo bin > src/usr/bin/tool
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  mkdir outside dest; echo original > outside/passwd
  ln -s "$T/outside" dest/etc
  ln -s "$T/outside" dest/usr
  $CAIRN --repo=r checkout -U --union main dest || true
  assert_streq "$(cat outside/passwd)" original
  assert_not_has_file outside/bin
  [ ! -L dest/etc ] && assert_streq "$(cat dest/etc/passwd)" pwned
  # union-add and union-identical refuse instead of following
  mkdir dest2; ln -s "$T/outside" dest2/etc
  assert_fails $CAIRN --repo=r checkout -U --union-add main dest2
  assert_streq "$(cat outside/passwd)" original
  [ "$(ls outside)" = passwd ]
  # a file symlink in DEST pointing outside is replaced, not written through
  mkdir -p dest3/etc; ln -s "$T/outside/passwd" dest3/etc/passwd
  $CAIRN --repo=r checkout -U --union main dest3
  assert_streq "$(cat outside/passwd)" original; [ ! -L dest3/etc/passwd ]
}

t_whiteouts() {
  mkdir -p lower/dir/sub lower/opq upper/opq
  echo a > lower/keep; echo b > lower/gone; echo c > lower/dir/sub/x; echo d > lower/opq/old
  : > upper/.wh.gone; : > upper/.wh.dir; : > upper/opq/.wh..wh..opq; echo new > upper/opq/new
  $CAIRN --repo=r init --mode=bare-user >/dev/null
  $CAIRN --repo=r commit -b lower lower >/dev/null; $CAIRN --repo=r commit -b upper upper >/dev/null
  $CAIRN --repo=r checkout -U lower root
  $CAIRN --repo=r checkout -U --union --whiteouts upper root
  assert_has_file root/keep; assert_not_has_file root/gone; assert_not_has_file root/dir
  assert_not_has_file root/opq/old; assert_has_file root/opq/new
  assert_not_has_file root/.wh.gone; assert_not_has_file root/opq/.wh..wh..opq
  # same result as ostree
  require_cmd ostree
  ostree --repo=r checkout -U lower oroot; ostree --repo=r checkout -U --union --whiteouts upper oroot
  diff <($MANIFEST root --no-owner) <($MANIFEST oroot --no-owner)
}

t_corrupt_and_missing() {
  mkdir -p src/d; echo hello > src/d/f; echo other > src/g
  for m in bare-user archive; do
    $CAIRN --repo=r-$m init --mode=$m >/dev/null; $CAIRN --repo=r-$m commit -b main src >/dev/null
    f=$($CAIRN --repo=r-$m ls main /d/f | awk '{print $5}')
    rm r-$m/objects/${f:0:2}/${f:2}.file*
    assert_fails $CAIRN --repo=r-$m checkout -U main co
    assert_file_has_content "$T/err" "/d/f"
    assert_file_has_content "$T/err" "$f"
    assert_not_has_file co
    [ -z "$(ls -A . | grep cairn-checkout)" ]
  done
  # a missing dirtree
  $CAIRN --repo=q init --mode=bare-user >/dev/null; $CAIRN --repo=q commit -b main src >/dev/null
  rm q/objects/*/*.dirtree
  assert_fails $CAIRN --repo=q checkout -U main co
  assert_file_has_content "$T/err" 'dirtree is missing'
  assert_not_has_file co
}

t_devino_recorded() {
  mkdir src; for i in $(seq 1 50); do echo $i > src/f$i; done
  $CAIRN --repo=r init --mode=bare-user >/dev/null; $CAIRN --repo=r commit -b main src >/dev/null
  $CAIRN --repo=r checkout -U main co
  [ "$(stat -c %s r/extensions/cairn/devino-cache)" -ge $((8 + 50 * 48)) ]
}

# A full disk under DEST: one line naming the file and the cause, no
# partial DEST left, the repository untouched.
t_enospc() {
  require_root
  skip_unless "mount namespaces" unshare -m true
  mkdir -p src/a/b mnt
  for i in $(seq 1 20); do head -c 1000000 /dev/urandom > src/a/b/f$i; done
  "$CAIRN" --repo r init --mode=bare-user >/dev/null
  "$CAIRN" --repo r commit -b t src >/dev/null
  cat > run.sh <<EOF
set -e
mount -t tmpfs -o size=8m none $T/mnt
for m in "" "-U"; do
  rc=0; $CAIRN --repo r checkout \$m t $T/mnt/co 2>err || rc=\$?
  cat err
  test \$rc = 1
  test \$(wc -l < err) = 1
  grep -q '^cairn: checkout: .*a/b/f[0-9]*.*No space left on device' err
  test ! -e $T/mnt/co
done
EOF
  unshare -m bash run.sh
  "$CAIRN" --repo r fsck >/dev/null
  if have ostree; then ostree --repo=r fsck >/dev/null; fi
}

run_test "same as ostree checkout, every mode, commits by both" t_same_as_ostree
run_test "hardlinks, empty files, --copy, --require-hardlinks" t_hardlinks_and_empty
run_test "DEST must not exist; --subpath" t_dest_exists_and_subpath
run_test "--union, --union-add, --union-identical" t_union_modes
run_test "hostile destination symlinks are never followed" t_hostile_destination
run_test "--whiteouts" t_whiteouts
run_test "corrupt or missing objects fail, no DEST left" t_corrupt_and_missing
run_test "devino cache recorded" t_devino_recorded
run_test "checkout to a full disk: one clear line, no DEST left" t_enospc
tests_done
