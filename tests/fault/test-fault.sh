#!/bin/bash
# Fault injection: kill -9 at random moments of a commit, an HTTP pull and a
# local pull, and flipped bytes in stored objects.
#
# After each kill: `cairn fsck` and `ostree fsck` (the oracle) are clean,
# the ref is the old or the new commit (never a half-written one), and
# running the same command again succeeds. The guarantees under test are
# those of store/txn.c (objects are published before any ref moves) and
# docs/format.md §7.8 (a commit being pulled is marked commitpartial until
# its tree is complete) and §12 (pull).
#
# FAULT_KILLS=N kills per scenario (default 10: the bounded run of the test
# suite, well under a minute); `make fault` runs the long form (default 100
# per scenario). Either prints one figures line:
#   N killed, N consistent, N lost
# "killed": kills that hit a running command (a command that finished before
# its kill is not counted); "consistent": kills after which both fscks were
# clean and the ref was the old or the new commit; "lost": kills after which
# that was not so, or the re-run failed.
#
# Flipped bytes: one byte changed in N random objects; `cairn fsck` names
# exactly those, `ostree fsck` fails, an HTTP and a local pull refuse them
# naming one of them, and nothing is left marked complete.
#
# Servers listen on 127.0.0.1 only.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# The repositories live on a tmpfs when there is one (FAULT_TMPDIR to
# choose): a kill -9 is a process crash, not a power cut, so the page cache
# is the truth here, and hundreds of repositories made and removed cost
# seconds instead of minutes of discards on a disk.
: "${CAIRN_TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
if [ -z "${FAULT_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then FAULT_TMPDIR=/dev/shm; fi
[ -n "${FAULT_TMPDIR:-}" ] && export TMPDIR=$FAULT_TMPDIR
. "$CAIRN_TOP_SRCDIR/tests/libtest.sh"

export CAIRN_NO_PROGRESS=1
KILLS=${FAULT_KILLS:-10}
FIG=$_tap_tmproot/figures
: > "$FIG"

need_ostree() { require_cmd ostree python3; }

_BG_PIDS=""
kill_on_exit() { _BG_PIDS="$_BG_PIDS $1"; trap 'kill $_BG_PIDS 2>/dev/null; wait 2>/dev/null' EXIT; }

start_httpd() {
  python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0 > "$T/httpd.log" 2>&1 &
  kill_on_exit $!
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$T/httpd.log" | head -n1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "http server did not start"; cat "$T/httpd.log"; exit 1
}

# A tree of $1 directories of 100 small files each, contents salted by $2.
make_tree() {
  rm -rf "$T/tree"; mkdir -p "$T/tree"
  for d in $(seq 1 "$1"); do
    mkdir "$T/tree/d$d"
    for f in $(seq 1 100); do echo "$2 $d/$f" > "$T/tree/d$d/f$f"; done
  done
}

now_ms() { date +%s%3N; }
# Sleep a random time in [0, $1] milliseconds.
random_sleep() {
  local ms=$(( (RANDOM * 32768 + RANDOM) % ($1 + 1) ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# fsck_both REPO: both fscks clean (output in $T/fsck.log).
fsck_both() {
  $CAIRN --repo="$1" fsck > "$T/fsck.log" 2>&1 || return 1
  ostree --repo="$1" fsck >> "$T/fsck.log" 2>&1 || return 1
}

# record KILLED CONSISTENT LOST (one line per kill, summed at the end)
record() { echo "$1 $2 $3" >> "$FIG"; }

# kill_loop NAME SETUP RUN CHECK [AFTER]: KILLS times: SETUP; RUN in the
# background, killed -9 at a random moment of its measured duration; CHECK
# (after the kill, exit status = consistent); AFTER (the state after the
# kill becomes the old one); RUN again (must succeed); CHECK again.
kill_loop() {
  local name=$1 setup=$2 runf=$3 check=$4 after_kill=${5:-true} i pid t0 dur killed=0 ok=0 lost=0 missed=0
  $setup; t0=$(now_ms); $runf > /dev/null 2>&1; dur=$(( $(now_ms) - t0 ))
  info "$name: one uninterrupted run takes $dur ms"
  local started=$(now_ms)
  i=0
  while [ $i -lt "$KILLS" ]; do
    $setup
    # RUN_EXEC=exec: the background job becomes cairn itself, so that the
    # kill hits cairn, not a subshell that would leave it running
    RUN_EXEC=exec $runf > /dev/null 2>&1 &
    pid=$!
    random_sleep "$dur"
    if ! kill -9 $pid 2>/dev/null; then
      wait $pid 2>/dev/null || true
      missed=$((missed + 1))
      # Too many runs that finished first: the measured time was long.
      [ $missed -lt $((KILLS * 3 + 10)) ] || { echo "$name: could not hit a running command"; exit 1; }
      dur=$(( dur * 9 / 10 + 1 ))
      continue
    fi
    wait $pid 2>/dev/null || true
    i=$((i + 1)); killed=$((killed + 1))
    if ! $check; then
      lost=$((lost + 1)); info "$name: kill $i: inconsistent:"; sed 's/^/#   /' "$T/fsck.log" | head -20
      continue
    fi
    $after_kill
    if ! $runf > "$T/rerun.log" 2>&1 || ! $check; then
      lost=$((lost + 1)); info "$name: kill $i: the re-run failed:"; sed 's/^/#   /' "$T/rerun.log" "$T/fsck.log" | head -20
      continue
    fi
    ok=$((ok + 1))
  done
  record $killed $ok $lost
  info "$name: $killed killed, $ok consistent, $lost lost ($missed runs finished before their kill; $(( ($(now_ms) - started) / 1000 )) s)"
  [ $lost = 0 ]
}

# ---- commit ------------------------------------------------------------------

commit_setup() {
  if [ ! -d "$T/r" ]; then
    $CAIRN --repo="$T/r" init --mode=archive > /dev/null
    make_tree 8 base; $CAIRN --repo="$T/r" commit -b main "$T/tree" > /dev/null
  fi
  OLD=$(cat "$T/r/refs/heads/main")
  # New content in a quarter of the tree each time: new objects to write.
  local salt=$RANDOM$RANDOM d
  for d in 1 2; do for f in $(seq 1 100); do echo "$salt $d/$f" > "$T/tree/d$d/f$f"; done; done
}
commit_settle() { OLD=$(cat "$T/r/refs/heads/main"); }
commit_run() { ${RUN_EXEC:-} $CAIRN --repo="$T/r" commit -b main "$T/tree"; }
# The ref is the old commit, or a new one whose parent is the old one.
commit_check() {
  fsck_both "$T/r" || return 1
  local cur parent
  cur=$(cat "$T/r/refs/heads/main") || return 1
  [ "$cur" = "$OLD" ] && return 0
  parent=$(ostree --repo="$T/r" rev-parse "main^" 2>>"$T/fsck.log") || return 1
  [ "$parent" = "$OLD" ] || { echo "ref main is $cur, parent $parent, not a child of $OLD" >> "$T/fsck.log"; return 1; }
}
t_kill_commit() {
  need_ostree
  kill_loop commit commit_setup commit_run commit_check commit_settle
}

# ---- pulls -------------------------------------------------------------------

make_pull_src() {
  $CAIRN --repo="$T/src" init --mode=archive > /dev/null
  make_tree "$1" src; $CAIRN --repo="$T/src" commit -b app "$T/tree" > /dev/null
  NEW=$(cat "$T/src/refs/heads/app")
}
# A fresh destination for every kill: the pull has a whole tree to fetch.
pull_setup() {
  rm -rf "$T/dst"; $CAIRN --repo="$T/dst" init --mode="$DST_MODE" > /dev/null
}
# The ref is absent (the old state) or the pulled commit, and only then is
# the commit unmarked.
pull_check() {
  fsck_both "$T/dst" || return 1
  local ref=$T/dst/refs/heads/app
  if [ -e "$ref" ]; then
    [ "$(cat "$ref")" = "$NEW" ] || { echo "ref app is $(cat "$ref"), not $NEW" >> "$T/fsck.log"; return 1; }
    [ ! -e "$T/dst/state/$NEW.commitpartial" ] || { echo "ref moved to a partial commit" >> "$T/fsck.log"; return 1; }
  fi
}
http_run() { ${RUN_EXEC:-} $CAIRN --repo="$T/dst" pull "http://127.0.0.1:$PORT/" app; }
local_run() { ${RUN_EXEC:-} $CAIRN --repo="$T/dst" pull "$T/src" app; }

t_kill_http_pull() {
  need_ostree
  make_pull_src 12
  start_httpd "$T/src"
  DST_MODE=archive
  kill_loop http-pull pull_setup http_run pull_check
}

t_kill_local_pull() {
  need_ostree
  make_pull_src 20
  # archive -> bare-user converts every object (slower than hardlinks: a
  # kill lands in the middle); archive -> archive where xattrs are missing.
  DST_MODE=archive; have_user_xattrs && DST_MODE=bare-user
  kill_loop local-pull pull_setup local_run pull_check
}

# ---- flipped bytes -------------------------------------------------------------

# flip REPO N: flip one byte in N random .filez objects; their names in $T/flipped.
flip_objects() {
  python3 - "$1" "$2" > "$T/flipped" <<'PY'
import glob, os, random, sys
repo, n = sys.argv[1], int(sys.argv[2])
# Only objects of random bytes (deflate keeps them as stored blocks) and
# only the middle of them: a flipped bit there always changes the content
# (one in the last bits of a small compressed object may be padding).
objs = sorted(p for p in glob.glob(os.path.join(repo, "objects", "*", "*.filez"))
              if os.path.getsize(p) > 10000)
for p in random.sample(objs, n):
    b = bytearray(open(p, "rb").read())
    i = random.randrange(len(b) // 4, 3 * len(b) // 4)
    b[i] ^= 1 << random.randrange(8)
    open(p, "wb").write(b)
    print(os.path.basename(os.path.dirname(p)) + os.path.basename(p)[:-len(".filez")])
PY
  sort -o "$T/flipped" "$T/flipped"
}

# The object named in $T/err must be one of the flipped ones.
names_a_flipped() {
  local hit
  hit=$(grep -o '[0-9a-f]\{64\}' "$T/err" | sort -u | comm -12 - "$T/flipped")
  [ -n "$hit" ] || { echo "error names none of the flipped objects:"; cat "$T/err"; cat "$T/flipped"; exit 1; }
}

t_flipped_bytes() {
  need_ostree
  local n=${FAULT_FLIPS:-5}
  $CAIRN --repo=src init --mode=archive > /dev/null
  make_tree 2 flip
  # large enough files that the flipped byte is well inside the stream
  for f in $(seq 1 40); do head -c 20000 /dev/urandom > "$T/tree/r$f"; done
  $CAIRN --repo=src commit -b app "$T/tree" > /dev/null
  c=$(cat src/refs/heads/app)
  flip_objects src "$n"
  info "flipped: $(tr '\n' ' ' < "$T/flipped")"
  # fsck names exactly those.
  assert_fails $CAIRN --repo=src fsck
  sed -n 's/^cairn: fsck: corrupt \([0-9a-f]\{64\}\)\.filez\{0,1\}: .*/\1/p' "$T/err" | sort -u > named
  cmp named "$T/flipped" || { echo "fsck named:"; cat named; echo "flipped:"; cat "$T/flipped"; cat "$T/err"; exit 1; }
  # The oracle agrees that the repository is corrupt, naming one of them.
  ostree --repo=src fsck > ofsck.log 2>&1 && { echo "ostree fsck passed"; exit 1; }
  cp ofsck.log "$T/err"; names_a_flipped
  # Pulls refuse them, naming one; the commit stays partial, no ref moves,
  # and what was kept is clean.
  start_httpd "$T/src"
  for how in "http://127.0.0.1:$PORT/" "$T/src"; do
    rm -rf dst; $CAIRN --repo=dst init --mode=archive > /dev/null
    assert_fails $CAIRN --repo=dst pull "$how" app
    names_a_flipped
    assert_has_file "dst/state/$c.commitpartial"
    assert_not_has_file dst/refs/heads/app
    $CAIRN --repo=dst fsck > /dev/null
    ostree --repo=dst fsck > /dev/null 2>&1 || { ostree --repo=dst fsck; exit 1; }
    while read -r o; do assert_not_has_file "dst/objects/${o:0:2}/${o:2}.filez"; done < "$T/flipped"
  done
}

# Checkout of a corrupt object. An archive repo's objects are inflated on
# the way out and hashed in the same pass: the checkout refuses a flipped
# byte, naming the object, and leaves no DEST. A bare or bare-user repo's
# objects are hardlinked without being read (as ostree does); --verify
# hashes each first and refuses the same way.
flip_bare_objects() {
  python3 - "$1" "$2" > "$T/flipped" <<'PY'
import glob, os, random, sys
repo, n = sys.argv[1], int(sys.argv[2])
objs = sorted(p for p in glob.glob(os.path.join(repo, "objects", "*", "*.file"))
              if os.path.getsize(p) > 10000)
for p in random.sample(objs, n):
    os.chmod(p, 0o644)
    b = bytearray(open(p, "rb").read())
    b[len(b) // 2] ^= 0x40
    open(p, "wb").write(b)
    d, f = os.path.split(p)
    print(os.path.basename(d) + f.split(".")[0])
PY
  sort -o "$T/flipped" "$T/flipped"
}
t_flipped_checkout() {
  need_ostree
  $CAIRN --repo=src init --mode=archive > /dev/null
  mkdir tree; for f in $(seq 1 20); do head -c 20000 /dev/urandom > tree/r$f; done
  $CAIRN --repo=src commit -b app tree > /dev/null
  flip_objects src 3
  assert_fails $CAIRN --repo=src checkout -U app co
  names_a_flipped
  assert_file_has_content "$T/err" "its content hashes to"
  assert_not_has_file co
  [ -z "$(ls -a | grep cairn-checkout)" ]
  $CAIRN --repo=bu init --mode=bare-user > /dev/null
  $CAIRN --repo=bu commit -b app tree > /dev/null
  flip_bare_objects bu 3
  assert_fails $CAIRN --repo=bu checkout -U --verify app co2
  names_a_flipped
  assert_not_has_file co2
  $CAIRN --repo=bu checkout -U app co3 # unverified, as ostree: links them
}

run_test "kill -9 at random moments of a commit ($KILLS kills)" t_kill_commit
run_test "kill -9 at random moments of an HTTP pull ($KILLS kills)" t_kill_http_pull
run_test "kill -9 at random moments of a local pull ($KILLS kills)" t_kill_local_pull
run_test "flipped bytes: fsck names exactly those; pulls refuse them" t_flipped_bytes
run_test "flipped bytes: checkout refuses them (archive always, bare modes with --verify)" t_flipped_checkout
awk '{ k += $1; c += $2; l += $3 } END { printf "%d killed, %d consistent, %d lost\n", k, c, l }' "$FIG"
tests_done
