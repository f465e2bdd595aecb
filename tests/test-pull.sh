#!/bin/bash
# cairn pull / cairn serve: local, HTTP (against the real ostree
# both ways) and ssh (a real sshd in a private network namespace) transports;
# signatures enforced; tampered, truncated, missing and hanging servers
# refused with nothing corrupt stored; kill -9 of the puller then resume.
# cairn push to a path and over ssh: only what is missing, the receiver's
# checks and signature policy.
# Servers listen on 127.0.0.1 only (or inside a network namespace made here).
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
. "$CAIRN_TOP_SRCDIR/tests/gpg-test-keys.sh"

FX=$_tap_tmproot/gpg
FIXTURE_OK=0
if have gpg && have gpgconf && cairn_gpg_make_fixture "$FX" >/dev/null 2>&1; then
  FIXTURE_OK=1
fi
add_cleanup "cairn_gpg_cleanup_fixture '$FX'"
H=${CAIRN_GPG_HOME:-}
GOOD=${CAIRN_GPG_KEY_GOOD:-}
UNTRUSTED=${CAIRN_GPG_KEY_UNTRUSTED:-}
export CAIRN_NO_PROGRESS=1

need_keys() { [ "$FIXTURE_OK" = 1 ] || skip "needs gpg and gpgconf to make test keys"; }
need_ostree() { require_cmd ostree python3; }
commit_of() { $CAIRN --repo="$1" rev-parse "$2"; }
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
flip_byte() { python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$1" "$2"; }
both_fsck() {
  $CAIRN --repo="$1" fsck >/dev/null
  if have ostree; then ostree --repo="$1" fsck >/dev/null 2>&1 || { ostree --repo="$1" fsck; exit 1; }; fi
}
no_ref() { [ ! -e "$1/refs/remotes/origin/$2" ] && [ ! -e "$1/refs/heads/$2" ] || { echo "ref $2 moved"; exit 1; }; }
same_tree() { # REPO_A REV_A REPO_B REV_B: identical content listing
  $CAIRN --repo="$1" ls -R "$2" > "$T/ls-a"; $CAIRN --repo="$3" ls -R "$4" > "$T/ls-b"
  cmp "$T/ls-a" "$T/ls-b" || { diff -u "$T/ls-a" "$T/ls-b" | head -20; exit 1; }
}

# src repo in MODE with branch app (the varied tree) at $T/src.
make_src() {
  $CAIRN --repo="$T/src" init --mode="$1" >/dev/null
  make_varied_tree "$T/tree"
  $CAIRN --repo="$T/src" commit -b app "$T/tree" >/dev/null
}

# Each case runs in a subshell: servers it starts are killed (by pid) when
# that subshell exits.
_BG_PIDS=""
kill_on_exit() { _BG_PIDS="$_BG_PIDS $1"; trap 'kill $_BG_PIDS 2>/dev/null; wait 2>/dev/null' EXIT; }

# Serve DIR over HTTP on a free loopback port; sets PORT.
start_httpd() {
  python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0 > "$T/httpd.log" 2>&1 &
  HTTPD_PID=$!
  kill_on_exit $HTTPD_PID
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$T/httpd.log" | head -n1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "http server did not start"; cat "$T/httpd.log"; exit 1
}

# ---- local -----------------------------------------------------------------

t_local_modes() {
  have_user_xattrs || skip "needs user xattrs"
  make_src bare-user
  for m in bare-user archive bare-user-only; do
    $CAIRN --repo=d-$m init --mode=$m >/dev/null
  done
  # Same mode, same filesystem: hardlinks into the source's objects.
  $CAIRN --repo=d-bare-user pull --json src app > out.json
  assert_streq "$(json_field out.json refs_updated)" 1
  c=$(commit_of src app)
  assert_streq "$(cat d-bare-user/refs/heads/app)" "$c"
  f=$(ls src/objects/*/*.file | head -n1); rel=${f#src/}
  assert_streq "$(stat -c %i "$f")" "$(stat -c %i "d-bare-user/$rel")"
  # Conversions: bare-user -> archive -> bare-user, verified, identical trees.
  $CAIRN --repo=d-archive pull file://$T/src app >/dev/null
  $CAIRN --repo=d-bu2 init --mode=bare-user >/dev/null
  # (a relative path to a repository runs in cairn-core: no libcurl needed;
  # an http URL needs cairn-full)
  CAIRN_FULL=/nonexistent $CAIRN --repo=d-bu2 pull d-archive app >/dev/null
  assert_exit 125 env CAIRN_FULL=/nonexistent $CAIRN --repo=d-bu2 pull http://127.0.0.1:9/ app
  for r in d-bare-user d-archive d-bu2; do both_fsck $r; same_tree src app $r app; done
  # bare-user-only refuses the setuid file of the tree, and says which.
  assert_exit 1 $CAIRN --repo=d-bare-user-only pull src app
  assert_file_has_content "$T/err" 'invalid mode'
  no_ref d-bare-user-only app
  $CAIRN --repo=d-bare-user-only fsck >/dev/null
  # Nothing to do the second time; all refs when none are named.
  $CAIRN --repo=d-bare-user pull --json src > out.json
  assert_streq "$(json_field out.json objects_fetched)" 0
}

# A source object cut short while a local pull hashes it (an object
# hardlinked into a checkout and edited in place): a clear error, never a
# crash (cairn hashes large objects from a mapping and must catch SIGBUS).
t_local_object_cut_while_hashed() {
  mkdir tree; truncate -s 256M tree/big; echo small > tree/small
  $CAIRN --repo=src init --mode=bare-user >/dev/null
  $CAIRN --repo=src commit -b app tree >/dev/null
  obj=$(ls -S src/objects/*/*.file | head -n1)
  cp --sparse=always "$obj" big.orig
  # the cut must land while the object is hashed: the delays are fractions
  # of an uncut pull's time here, so that a loaded machine moves them too
  local t0 ms d
  t0=$(date +%s%N)
  $CAIRN --repo=timed init --mode=bare-user >/dev/null
  $CAIRN --repo=timed pull "$T/src" app >/dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  cut_seen=0
  for i in 2 4 6 8 3 5 7 9 1 10 11 12; do
    rm -rf dst; $CAIRN --repo=dst init --mode=bare-user >/dev/null
    cp --sparse=always big.orig "$obj"
    rc=0
    d=$(( ms * i / 13 ))
    ( sleep "$(( d / 1000 )).$(printf %03d $(( d % 1000 )))"; truncate -s 4096 "$obj" ) & tp=$!
    $CAIRN --repo=dst pull "$T/src" app 2> err || rc=$?
    wait $tp
    case $rc in
      0) ;;
      1) grep -q -e 'changed while it was read' -e 'corrupted file object' -e 'hashes to' err \
           || { cat err; exit 1; }
         grep -q 'changed while it was read' err && cut_seen=1
         no_ref dst app ;;
      *) echo "pull exited $rc"; cat err; exit 1 ;;
    esac
    both_fsck dst
    [ $cut_seen = 1 ] && break
  done
  [ $cut_seen = 1 ] || { echo "never caught the object shrinking under the mapping (an uncut pull: $ms ms)"; exit 1; }
}

t_local_remote_depth_mirror() {
  make_src archive
  echo v2 > tree/v2; $CAIRN --repo=src commit -b app tree >/dev/null
  $CAIRN --repo=src commit -b other tree >/dev/null
  $CAIRN --repo=dst init --mode=archive >/dev/null
  $CAIRN --repo=dst remote add --no-gpg-verify origin "$T/src" >/dev/null
  $CAIRN --repo=dst pull --commit-metadata-only origin app >/dev/null
  c=$(commit_of src app)
  assert_has_file "dst/state/$c.commitpartial"
  no_ref dst app
  $CAIRN --repo=dst pull --depth=1 origin app >/dev/null
  assert_streq "$(cat dst/refs/remotes/origin/app)" "$c"
  assert_not_has_file "dst/state/$c.commitpartial"
  $CAIRN --repo=dst log origin:app | grep -c '^commit ' > n
  assert_streq "$(cat n)" 2
  $CAIRN --repo=src summary -u >/dev/null
  $CAIRN --repo=mir init --mode=archive >/dev/null
  $CAIRN --repo=mir pull --mirror "$T/src" >/dev/null
  assert_streq "$(cat mir/refs/heads/other)" "$(commit_of src other)"
  cmp mir/summary src/summary
  both_fsck dst; both_fsck mir
}

# ---- HTTP ------------------------------------------------------------------

# An archive repo made by the real ostree, commits signed by "good".
make_ostree_src() {
  ostree --repo=osrc init --mode=archive
  make_varied_tree tree
  ostree --repo=osrc commit -b app --gpg-sign="$GOOD" --gpg-homedir="$H" --tree=dir=tree >/dev/null
  ostree --repo=osrc commit -b unsigned --tree=dir=tree >/dev/null
  ostree --repo=osrc summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
}

add_origin() { # REPO [extra remote add args]
  local r=$1; shift
  $CAIRN --repo=$r init --mode=${MODE:-bare-user} >/dev/null 2>&1 || true
  $CAIRN --repo=$r remote add "$@" origin "http://127.0.0.1:$PORT/" >/dev/null
  $CAIRN --repo=$r remote gpg-import origin "$FX/good.gpg" >/dev/null
}

t_http_from_ostree_gpg() {
  need_keys; need_ostree; have_user_xattrs || skip "needs user xattrs"
  make_ostree_src; start_httpd osrc
  add_origin c --set=gpg-verify-summary=true
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(cat c/refs/remotes/origin/app)" "$(ostree --repo=osrc rev-parse app)"
  c=$(cat c/refs/remotes/origin/app)
  assert_has_file "c/objects/${c:0:2}/${c:2}.commitmeta"
  $CAIRN --repo=c verify --remote=origin origin:app >/dev/null
  both_fsck c
  # Resume semantics: nothing left to fetch.
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json objects_fetched)" 0
  # An unsigned commit under gpg-verify: refused, not stored, no ref.
  assert_exit 1 $CAIRN --repo=c pull origin unsigned
  assert_file_has_content "$T/err" 'no signatures found'
  u=$(ostree --repo=osrc rev-parse unsigned)
  assert_not_has_file "c/objects/${u:0:2}/${u:2}.commit"
  no_ref c unsigned
  # A key the remote does not trust.
  ostree --repo=osrc gpg-sign --gpg-homedir="$H" unsigned "$UNTRUSTED"
  assert_exit 1 $CAIRN --repo=c pull origin unsigned
  assert_file_has_content "$T/err" 'no good signature'
  no_ref c unsigned
  both_fsck c
}

t_ostree_pulls_from_cairn() {
  need_keys; need_ostree
  make_src archive
  $CAIRN --repo=src sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  $CAIRN --repo=src summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  start_httpd src
  ostree --repo=oc init --mode=bare-user
  ostree --repo=oc remote add --set=gpg-verify=true --set=gpg-verify-summary=true origin "http://127.0.0.1:$PORT/"
  ostree --repo=oc remote gpg-import --keyring="$FX/good.gpg" origin
  ostree --repo=oc pull origin app
  assert_streq "$(ostree --repo=oc rev-parse origin:app)" "$(commit_of src app)"
  ostree --repo=oc fsck >/dev/null
  # And cairn from the same server, into archive (stored verbatim).
  MODE=archive add_origin ca --set=gpg-verify-summary=true
  $CAIRN --repo=ca pull origin >/dev/null
  both_fsck ca
  cmp ca/refs/remotes/origin/app <(commit_of src app)
}

t_http_tampering() {
  need_keys; need_ostree
  make_src archive
  echo other > tree/only-in-other; $CAIRN --repo=src commit -b other tree >/dev/null
  for b in app other; do $CAIRN --repo=src sign --gpg-homedir="$H" --key-id="$GOOD" $b >/dev/null; done
  $CAIRN --repo=src summary -u
  start_httpd src
  MODE=archive add_origin c
  # One flipped byte in a served .filez (the 300 kB random file).
  big=$(ls -S src/objects/*/*.filez | head -n1)
  cp "$big" big.orig; flip_byte "$big" 5000
  assert_exit 1 $CAIRN --repo=c pull origin app
  obj=$(basename "$big" .filez); assert_file_has_content "$T/err" "${obj}"
  assert_file_has_content "$T/err" "http://127.0.0.1:$PORT/objects/"
  no_ref c app; both_fsck c
  rel=${big#src/}; assert_not_has_file "c/$rel"
  assert_has_file "c/state/$(commit_of src app).commitpartial"
  # Fixed on the server: the retry fetches only what is missing.
  cp big.orig "$big"
  $CAIRN --repo=c pull --json origin app > out.json
  # (requests in flight when the bad object failed the pull are redone)
  [ "$(json_field out.json objects_fetched)" -lt 20 ] || { cat out.json; exit 1; }
  both_fsck c
  # A summary pointing app at another branch's (well-signed) commit.
  cp src/refs/heads/app app.ref; cp src/refs/heads/other src/refs/heads/app
  $CAIRN --repo=src summary -u; cp app.ref src/refs/heads/app
  $CAIRN --repo=c2 init --mode=archive >/dev/null
  MODE=archive add_origin c2
  assert_exit 1 $CAIRN --repo=c2 pull origin app
  assert_file_has_content "$T/err" 'bound to other refs'
  no_ref c2 app
  # With gpg-verify-summary, a summary that is not the signed one is refused.
  $CAIRN --repo=src summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  cp src/summary.sig good.sig; cp src/refs/heads/other src/refs/heads/app
  $CAIRN --repo=src summary -u; cp good.sig src/summary.sig; cp app.ref src/refs/heads/app
  MODE=archive add_origin c3 --set=gpg-verify-summary=true
  assert_exit 1 $CAIRN --repo=c3 pull origin app
  assert_file_has_content "$T/err" 'summary'
  no_ref c3 app
  # A garbage summary.
  head -c 100 /dev/urandom > src/summary; rm -f src/summary.sig
  assert_exit 1 $CAIRN --repo=c2 pull origin app
  assert_file_has_content "$T/err" 'invalid summary'
  # A missing object (404).
  rm src/summary; rm "$big"
  assert_exit 1 $CAIRN --repo=c2 pull origin app
  assert_file_has_content "$T/err" "${obj}.filez: HTTP status 404"
  no_ref c2 app; both_fsck c2
}

# Objects above 8 MiB take the streaming inflate path (bounded memory).
t_http_large_object() {
  need_ostree
  mkdir -p big/d
  { head -c 3145728 /dev/urandom; yes cairn | head -c 9437184; } > big/d/large
  echo small > big/small
  $CAIRN --repo=src init --mode=archive >/dev/null
  $CAIRN --repo=src commit -b app big >/dev/null
  $CAIRN --repo=src summary -u
  start_httpd src
  for mode in bare-user archive; do
    MODE=$mode add_origin c-$mode --no-gpg-verify
    $CAIRN --repo=c-$mode pull origin app
    $CAIRN --repo=c-$mode cat origin:app /d/large | cmp - big/d/large
    both_fsck c-$mode
  done
  # A flipped byte inside the large object's compressed payload, and the
  # object cut short: refused, naming the object; no ref; fsck clean.
  f=$(ls -S src/objects/*/*.filez | head -n1)
  cp "$f" large.orig
  flip_byte "$f" 2000000
  MODE=bare-user add_origin c2 --no-gpg-verify
  assert_exit 1 $CAIRN --repo=c2 pull origin app
  assert_file_has_content "$T/err" "$(basename "$f" .filez)"
  no_ref c2 app; both_fsck c2
  head -c 1000000 large.orig > "$f"
  assert_exit 1 $CAIRN --repo=c2 pull origin app
  assert_file_has_content "$T/err" "$(basename "$f" .filez)"
  no_ref c2 app; both_fsck c2
  cp large.orig "$f"
  $CAIRN --repo=c2 pull origin app
  $CAIRN --repo=c2 cat origin:app /d/large | cmp - big/d/large
  both_fsck c2
}

t_http_hang() {
  require_cmd python3
  python3 -u -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print("port", s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' > hang.log 2>&1 &
  kill_on_exit $!
  for _ in $(seq 1 100); do PORT=$(sed -n 's/^port //p' hang.log); [ -n "$PORT" ] && break; sleep 0.05; done
  $CAIRN --repo=c init --mode=archive >/dev/null
  # Default retries: a stall is retried once, not five times.
  start=$(date +%s)
  CAIRN_PULL_HTTP_TIMEOUT=2 assert_exit 1 $CAIRN --repo=c pull "http://127.0.0.1:$PORT/" app
  took=$(( $(date +%s) - start )); info "stalled server refused in $took s"
  [ "$took" -lt 10 ] || { echo "took too long: $took s"; exit 1; }
  assert_file_has_content "$T/err" "http://127.0.0.1:$PORT/summary"
  assert_file_has_content "$T/err" 'timed out'
  # A configured remote is named.
  $CAIRN --repo=c remote add --no-gpg-verify stall "http://127.0.0.1:$PORT/" >/dev/null
  CAIRN_PULL_HTTP_TIMEOUT=1 assert_exit 1 $CAIRN --repo=c pull stall app
  assert_file_has_content "$T/err" "remote 'stall'"
  assert_file_has_content "$T/err" 'timed out'
  # A server that answers the metadata but stalls in the middle of an
  # object's body: the same, naming that object's URL; the commit stays
  # marked partial and no ref moves.
  make_src archive
  python3 -u - "$T/src" > slow.log 2>&1 <<'PY' &
import http.server, os, sys, time
root = sys.argv[1]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k): super().__init__(*a, directory=root, **k)
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.endswith(".filez"):
            self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
            self.wfile.write(b"x" * 10); self.wfile.flush(); time.sleep(3600); return
        super().do_GET()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port", s.server_address[1], flush=True); s.serve_forever()
PY
  kill_on_exit $!
  PORT=; for _ in $(seq 1 100); do PORT=$(sed -n 's/^port //p' slow.log); [ -n "$PORT" ] && break; sleep 0.05; done
  $CAIRN --repo=c2 init --mode=archive >/dev/null
  start=$(date +%s)
  CAIRN_PULL_HTTP_TIMEOUT=2 assert_exit 1 $CAIRN --repo=c2 pull "http://127.0.0.1:$PORT/" app
  [ $(( $(date +%s) - start )) -lt 10 ] || { echo "took too long"; exit 1; }
  assert_file_has_content "$T/err" "http://127.0.0.1:$PORT/objects/.*\.filez: timed out"
  c=$(commit_of src app)
  assert_has_file "c2/state/$c.commitpartial"
  no_ref c2 app; both_fsck c2
}

# kill -9 of the puller in the middle, then resume: fsck-clean (cairn and
# ostree), the ref untouched, the commit marked partial, and the second pull
# fetches only the rest — with the default batch size (what a user gets),
# counted both by the pull's statistics and by the server's access log.
t_kill9_then_resume() {
  need_ostree; have_user_xattrs || skip "needs user xattrs"
  $CAIRN --repo=src init --mode=archive >/dev/null
  mkdir -p tree; for d in $(seq 1 30); do mkdir tree/d$d; for f in $(seq 1 100); do echo "$d/$f" > tree/d$d/f$f; done; done
  $CAIRN --repo=src commit -b app tree >/dev/null
  c=$(commit_of src app)
  start_httpd src
  $CAIRN --repo=c init --mode=bare-user >/dev/null
  $CAIRN --repo=c pull "http://127.0.0.1:$PORT/" app &
  pid=$!
  for _ in $(seq 1 1000); do
    n=$(find c/objects -name '*.file' 2>/dev/null | wc -l); [ "$n" -ge 1000 ] && break; sleep 0.01
  done
  kill -9 $pid; wait $pid 2>/dev/null || true
  n=$(find c/objects -name '*.file' | wc -l)
  info "killed with $n of 3000 content objects published"
  [ "$n" -lt 3000 ] || skip "the pull finished before it could be killed"
  [ "$n" -gt 0 ] || { echo "nothing was kept"; exit 1; }
  no_ref c app
  assert_has_file "c/state/$c.commitpartial"
  both_fsck c
  before=$(grep -c '\.filez HTTP' "$T/httpd.log")
  $CAIRN --repo=c pull --json "http://127.0.0.1:$PORT/" app > out.json
  got=$(json_field out.json objects_fetched)
  wire=$(( $(grep -c '\.filez HTTP' "$T/httpd.log") - before ))
  info "re-pull: $got objects fetched, $wire .filez requested, for $((3000 - n)) missing"
  [ "$got" -le $((3000 + 40 - n)) ] || { echo "refetched: $got"; exit 1; }
  [ "$wire" -eq $((3000 - n)) ] || { echo "requested $wire .filez, $((3000 - n)) were missing"; exit 1; }
  assert_streq "$(cat c/refs/heads/app)" "$c"
  assert_not_has_file "c/state/$c.commitpartial"
  both_fsck c
}

# ---- push between stores -----------------------------------------------------

# A corrupted content object in a repository (the largest).
corrupt_one_file() {
  local f
  f=$(ls -S "$1"/objects/*/*.file | head -n1)
  chmod u+w "$f"; flip_byte "$f" 0
}

t_push_local() {
  need_ostree
  make_src bare-user
  $CAIRN --repo=dst init --mode=archive >/dev/null
  $CAIRN --repo=src push --json dst app > p1.json
  assert_streq "$(cat dst/refs/heads/app)" "$(commit_of src app)"
  same_tree src app dst app
  both_fsck dst
  # an update sends what changed, nothing else
  echo change > tree/a/new1
  $CAIRN --repo=src commit -b app tree >/dev/null
  $CAIRN --repo=src push --json dst app > p2.json
  n1=$(json_field p1.json objects_sent) n2=$(json_field p2.json objects_sent)
  info "first push $n1 objects, update $n2"
  [ "$n2" -le 4 ] && [ "$n1" -gt 10 ] || { echo "assert: update sent $n2 (first $n1)"; exit 1; }
  assert_streq "$(cat dst/refs/heads/app)" "$(commit_of src app)"
  # every local ref when none is named; a missing one is named
  $CAIRN --repo=src commit -b other tree >/dev/null
  $CAIRN --repo=src push dst
  assert_streq "$(cat dst/refs/heads/other)" "$(commit_of src other)"
  assert_exit 1 $CAIRN --repo=src push dst nope
  assert_file_has_content err "no local ref 'nope' to push"
  # a configured remote by name (file://), with the history
  $CAIRN --repo=src remote add --no-gpg-verify backup "file://$T/dst2" >/dev/null
  $CAIRN --repo=dst2 init --mode=bare-user >/dev/null
  $CAIRN --repo=src push --depth=-1 backup app
  $CAIRN --repo=dst2 log app | grep -c '^commit' > n
  assert_streq "$(cat n)" 2
  both_fsck dst2
  # an http remote is read-only
  assert_exit 1 $CAIRN --repo=src push http://127.0.0.1:1/repo app
  assert_file_has_content err "http(s) remote is read-only"
}

t_push_receiver_checks() {
  need_ostree; need_keys
  make_src bare-user
  $CAIRN --repo=dst init --mode=archive >/dev/null
  $CAIRN --repo=src push dst app
  # the receiving repository requires signatures: unsigned refused
  printf '\n[receive]\ngpg-verify=true\n' >> dst/config
  echo change > tree/a/new1
  $CAIRN --repo=src commit -b app tree >/dev/null
  old=$(cat dst/refs/heads/app)
  assert_exit 1 $CAIRN --repo=src push dst app
  assert_file_has_content err "GPG verification enabled, but no signatures found"
  assert_streq "$(cat dst/refs/heads/app)" "$old"
  both_fsck dst
  # signed by a key the receiver does not trust: refused; by one of its
  # trusted.gpg.d: accepted
  mkdir -p dst/trusted.gpg.d; cp "$FX/trusted.gpg" dst/trusted.gpg.d/keys.gpg
  $CAIRN --repo=src sign --gpg-homedir="$H" --key-id="$UNTRUSTED" app >/dev/null
  assert_exit 1 $CAIRN --repo=src push dst app
  assert_streq "$(cat dst/refs/heads/app)" "$old"
  $CAIRN --repo=src sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  $CAIRN --repo=src push dst app
  assert_streq "$(cat dst/refs/heads/app)" "$(commit_of src app)"
  # a corrupted object of the pushed commit: refused, nothing moves
  sed -i 's/gpg-verify=true/gpg-verify=false/' dst/config
  echo more > tree/a/new2; head -c 400000 /dev/urandom > tree/a/big2  # the largest object
  $CAIRN --repo=src commit -b app tree >/dev/null
  corrupt_one_file src
  old=$(cat dst/refs/heads/app)
  assert_exit 1 $CAIRN --repo=src push dst app
  assert_file_has_content err "corrupted\|hashes to\|checksum"
  assert_streq "$(cat dst/refs/heads/app)" "$old"
  both_fsck dst
}

# ---- ssh -------------------------------------------------------------------

# Run FUNC inside a private network namespace with a real sshd on
# 127.0.0.1:2222 that accepts $T/id (as root).
in_sshd_netns() {
  require_root; require_cmd unshare ip ssh ssh-keygen
  [ -x /usr/sbin/sshd ] || skip "needs openssh-server"
  unshare --net true 2>/dev/null || skip "cannot create a network namespace"
  ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$T/id"
  cp "$T/id.pub" "$T/authorized_keys"; chmod 600 "$T/authorized_keys"
  cat > "$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 2222
HostKey $T/hostkey
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
  mkdir -p /run/sshd
  export SSH_CMD="ssh -i $T/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
  unshare --net bash -c '
    set -e; ip link set lo up
    /usr/sbin/sshd -f "$0/sshd_config" -E "$0/sshd.log"
    for _ in $(seq 1 100); do [ -s "$0/sshd.pid" ] && break; sleep 0.05; done
    . "$CAIRN_TOP_SRCDIR/tests/libtest.sh" >/dev/null; T=$0; cd "$T"
    trap "kill \$(cat $0/sshd.pid); _tap_exit" EXIT
    . "$1"; shift; "$@"' "$T" "$T/funcs.sh" "$@"
}

ssh_bodies() {
  cat > "$T/funcs.sh" <<'EOF'
export CAIRN_NO_PROGRESS=1
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
ssh_pull_update_and_cut() {
  export CAIRN_SSH="$SSH_CMD" CAIRN_SSH_REMOTE_CAIRN="$CAIRN"
  $CAIRN --repo=c init --mode=bare-user >/dev/null
  $CAIRN --repo=c remote add --no-gpg-verify origin "ssh://root@127.0.0.1:2222$T/src" >/dev/null
  $CAIRN --repo=c pull --json origin app > out.json
  [ "$(cat c/refs/remotes/origin/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  $CAIRN --repo=c fsck >/dev/null; ostree --repo=c fsck >/dev/null
  # An update: only the changed objects travel.
  for i in 1 2 3; do echo "change $i" > tree/a/new$i; done
  $CAIRN --repo=src commit -b app tree >/dev/null
  $CAIRN --repo=c pull --json origin app > out.json
  n=$(json_field out.json objects_fetched); [ "$n" -le 10 ] || { echo "update fetched $n"; exit 1; }
  [ "$(cat c/refs/remotes/origin/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  # The server side cut mid-pack (its stdout dies after 100 kB), then resume.
  for i in $(seq 1 200); do head -c 2000 /dev/urandom > tree/a/rnd$i; done
  $CAIRN --repo=src commit -b app tree >/dev/null
  printf '#!/bin/sh\n"%s" "$@" | stdbuf -o0 head -c 100000\n' "$CAIRN" > cut-cairn; chmod +x cut-cairn
  if CAIRN_PULL_BATCH_OBJECTS=20 CAIRN_SSH_REMOTE_CAIRN=$T/cut-cairn $CAIRN --repo=c pull origin app 2> err; then
    echo "cut pull succeeded"; exit 1
  fi
  grep -q 'truncated pack\|connection closed' err || { cat err; exit 1; }
  [ "$(cat c/refs/remotes/origin/app)" != "$($CAIRN --repo=src rev-parse app)" ]
  $CAIRN --repo=c fsck >/dev/null; ostree --repo=c fsck >/dev/null
  $CAIRN --repo=c pull --json origin app > out.json
  n=$(json_field out.json objects_fetched)
  echo "# resumed: fetched $n of 202"
  [ "$n" -lt 190 ] || { echo "resume refetched $n"; exit 1; }
  [ "$(cat c/refs/remotes/origin/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  $CAIRN --repo=c fsck >/dev/null; ostree --repo=c fsck >/dev/null
  # A server that leaves out one object the client lacks (a relay on the
  # server side clears the last bit of the client's LACK answer): the
  # update is refused, naming what is missing; the ref does not move; the
  # next honest pull completes it.
  cat > omit-serve <<PY
#!/usr/bin/env python3
import struct, subprocess, sys
p = subprocess.Popen(["$CAIRN"] + sys.argv[1:], stdin=subprocess.PIPE)
inp = sys.stdin.buffer
def readn(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            return None
        b += c
    return b
while True:
    h = readn(4)
    body = readn(struct.unpack(">I", h)[0]) if h else None
    if body is None:
        break
    if body[:1] == b"K":
        bits = bytearray(body[1:])
        for i in reversed(range(len(bits))):
            if bits[i]:
                bits[i] &= ~(1 << (bits[i].bit_length() - 1)) & 0xff
                break
        body = b"K" + bytes(bits)
    p.stdin.write(h + body)
    p.stdin.flush()
p.stdin.close()
sys.exit(p.wait())
PY
  chmod +x omit-serve
  old=$(cat c/refs/remotes/origin/app)
  echo "one more change" >> tree/a/new1
  $CAIRN --repo=src commit -b app tree >/dev/null
  if CAIRN_SSH_REMOTE_CAIRN=$T/omit-serve $CAIRN --repo=c pull origin app 2> err; then
    echo "a pull with an object left out succeeded"; exit 1
  fi
  grep -q 'did not provide 1 objects' err || { cat err; exit 1; }
  [ "$(cat c/refs/remotes/origin/app)" = "$old" ]
  $CAIRN --repo=c fsck >/dev/null; ostree --repo=c fsck >/dev/null
  $CAIRN --repo=c pull --json origin app > out.json
  [ "$(json_field out.json objects_fetched)" -le 2 ]
  [ "$(cat c/refs/remotes/origin/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  # The same without a parent: the check compares with the ref's old value.
  old=$(cat c/refs/remotes/origin/app)
  echo "and one more" >> tree/a/new1
  $CAIRN --repo=src commit -b app --parent=none tree >/dev/null
  if CAIRN_SSH_REMOTE_CAIRN=$T/omit-serve $CAIRN --repo=c pull origin app 2> err; then
    echo "a pull with an object left out succeeded (no parent)"; exit 1
  fi
  grep -q 'did not provide 1 objects' err || { cat err; exit 1; }
  [ "$(cat c/refs/remotes/origin/app)" = "$old" ]
  $CAIRN --repo=c pull origin app >/dev/null
  [ "$(cat c/refs/remotes/origin/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  # URL form without a configured remote, all refs of the server.
  $CAIRN --repo=c2 init --mode=archive >/dev/null
  $CAIRN --repo=c2 pull "ssh://root@127.0.0.1:2222$T/src" >/dev/null
  [ "$(cat c2/refs/heads/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  # The server refuses paths outside what a pull reads.
  ! CAIRN_SSH_REMOTE_CAIRN=$CAIRN $CAIRN --repo=c2 pull "ssh://root@127.0.0.1:2222$T/nonexistent" app 2>err
}
EOF
}

ssh_push_bodies() {
  cat >> "$T/funcs.sh" <<'EOF'
ssh_push_update_and_refusal() {
  export CAIRN_SSH="$SSH_CMD" CAIRN_SSH_REMOTE_CAIRN="$CAIRN"
  $CAIRN --repo=dst init --mode=archive >/dev/null
  url="ssh://root@127.0.0.1:2222$T/dst"
  $CAIRN --repo=src push --json "$url" app > p1.json
  [ "$(cat dst/refs/heads/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  $CAIRN --repo=dst fsck >/dev/null; ostree --repo=dst fsck >/dev/null
  # an update: one negotiation, only the changed objects in the pack
  for i in 1 2 3; do echo "change $i" > tree/a/new$i; done
  $CAIRN --repo=src commit -b app tree >/dev/null
  $CAIRN --repo=src remote add --no-gpg-verify far "$url" >/dev/null
  $CAIRN --repo=src push --json far app > p2.json
  n1=$(json_field p1.json objects_sent) n2=$(json_field p2.json objects_sent)
  echo "# ssh push: first $n1 objects, update $n2"
  [ "$n2" -le 6 ] && [ "$n1" -gt 10 ] || { echo "update sent $n2 (first $n1)"; exit 1; }
  [ "$(cat dst/refs/heads/app)" = "$($CAIRN --repo=src rev-parse app)" ]
  $CAIRN --repo=dst fsck >/dev/null; ostree --repo=dst fsck >/dev/null
  # the receiver's policy, reported back through the protocol
  printf '\n[receive]\ngpg-verify=true\n' >> dst/config
  echo again > tree/a/new4
  $CAIRN --repo=src commit -b app tree >/dev/null
  old=$(cat dst/refs/heads/app)
  ! $CAIRN --repo=src push far app 2> err
  grep -q "push to $url: the far side: .*GPG verification enabled, but no signatures found" err || { cat err; exit 1; }
  [ "$(cat dst/refs/heads/app)" = "$old" ]
  $CAIRN --repo=dst fsck >/dev/null; ostree --repo=dst fsck >/dev/null
  # a repository that is not there
  ! $CAIRN --repo=src push "ssh://root@127.0.0.1:2222$T/nonexistent" app 2> err
  grep -q "nonexistent" err || { cat err; exit 1; }
}
EOF
}

t_ssh_push() {
  need_ostree
  make_src bare-user
  ssh_bodies
  ssh_push_bodies
  in_sshd_netns ssh_push_update_and_refusal
}

t_ssh_real_sshd() {
  need_ostree; have_user_xattrs || skip "needs user xattrs"
  make_src bare-user
  ssh_bodies
  in_sshd_netns ssh_pull_update_and_cut
}

t_serve_refuses_paths() {
  make_src archive
  python3 - "$CAIRN" src <<'PY'
import struct, subprocess, sys
p = subprocess.Popen([sys.argv[1], "serve", "--stdio", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def send(t, b): p.stdin.write(struct.pack(">I", len(b) + 1) + t + b); p.stdin.flush()
def recv():
    n = struct.unpack(">I", p.stdout.read(4))[0]; return p.stdout.read(n)
send(b"H", b"cairn-sync 1"); assert recv().startswith(b"Hcairn-sync 1")
send(b"G", b"config"); r = recv(); assert r[:2] == b"D\x01", r
send(b"G", b"../../etc/passwd"); r = recv(); assert r[:1] == b"!", r
assert p.wait() == 1
PY
}

# A full disk under the pulling repository, local and HTTP: one line naming
# the object and the cause; no ref; what was verified is kept, the commit
# marked partial; both fscks clean; with space again the pull completes.
t_enospc() {
  require_root
  skip_unless "mount namespaces" unshare -m true
  $CAIRN --repo="$T/src" init --mode=archive >/dev/null
  mkdir tree
  python3 -c "
import os
for i in range(300):
    open('tree/f%03d' % i, 'wb').write(os.urandom(20000))"
  $CAIRN --repo="$T/src" commit -b app tree >/dev/null
  start_httpd "$T/src"
  mkdir mnt
  cat > run.sh <<EOF
set -e
mount -t tmpfs -o size=3m none $T/mnt
for how in local http; do
  rm -rf $T/mnt/r; $CAIRN --repo=$T/mnt/r init --mode=bare-user >/dev/null
  case \$how in
    local) src=$T/src ;;
    http) src=http://127.0.0.1:$PORT ;;
  esac
  rc=0; $CAIRN --repo=$T/mnt/r pull \$src app 2>err || rc=\$?
  cat err
  test \$rc = 1
  test \$(wc -l < err) = 1
  grep -qE '^cairn: pull: .*(object [0-9a-f]{64}|objects/[0-9a-f]{2}/[0-9a-f]{62}\.filez).*No space left on device' err
  ! grep -qi 'staging' err
  ! $CAIRN --repo=$T/mnt/r rev-parse app >/dev/null 2>&1
  ls $T/mnt/r/state | grep -q commitpartial
  $CAIRN --repo=$T/mnt/r fsck >/dev/null
  ostree --repo=$T/mnt/r fsck >/dev/null
  test -z "\$(ls $T/mnt/r/tmp | grep staging || true)"
done
mount -o remount,size=64m $T/mnt
$CAIRN --repo=$T/mnt/r pull http://127.0.0.1:$PORT app >/dev/null
test -z "\$(ls $T/mnt/r/state)"
$CAIRN --repo=$T/mnt/r fsck >/dev/null
EOF
  unshare -m bash run.sh
}

run_test "local: hardlinks, conversions archive<->bare-user, refusals" t_local_modes
run_test "local: a source object cut while hashed: clear error, no crash" t_local_object_cut_while_hashed
run_test "local: configured remote, --commit-metadata-only, --depth, --mirror" t_local_remote_depth_mirror
run_test "http: pull from ostree's archive repo, gpg-verify(+summary) enforced" t_http_from_ostree_gpg
run_test "http: ostree pull from cairn's repo (signed summary); cairn too" t_ostree_pulls_from_cairn
run_test "http: flipped byte, redirected summary, unsigned summary, garbage, 404" t_http_tampering
run_test "http: an object above 8 MiB is inflated in a stream; corrupt or cut short: refused" t_http_large_object
run_test "http: a hanging server fails with a timeout naming the URL" t_http_hang
run_test "kill -9 of the puller, then resume fetches only the rest" t_kill9_then_resume
run_test "ssh: real sshd in a netns: pull, update, server cut mid-pack, resume" t_ssh_real_sshd
run_test "serve: refuses paths a pull never reads" t_serve_refuses_paths
run_test "a full disk under the puller (local, http): one line, partial kept, then completes" t_enospc
run_test "push to a path: only what is missing, every ref, a remote, --depth" t_push_local
run_test "push: the receiver's signature policy and object checks; nothing moves on refusal" t_push_receiver_checks
run_test "push over ssh (real sshd in a netns): update sends only the change; refusal reported" t_ssh_push
tests_done
