#!/bin/bash
# Signatures on commits and on the summary, remotes, the trust policy, and
# interop both ways with the real ostree. Real keys made at test
# time (tests/gpg-test-keys.sh), no mocks.
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
SECOND=${CAIRN_GPG_KEY_SECOND:-}
UNTRUSTED=${CAIRN_GPG_KEY_UNTRUSTED:-}
EXPIRED=${CAIRN_GPG_KEY_EXPIRED:-}
REVOKED=${CAIRN_GPG_KEY_REVOKED:-}

need_keys() { [ "$FIXTURE_OK" = 1 ] || skip "needs gpg and gpgconf to make test keys"; }
need_ostree() { need_keys; require_cmd ostree; }
g() { gpg --homedir "$H" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }

# make_repo MODE: $T/repo with branch "app" (fixed timestamp, version 1.0).
make_repo() {
  $CAIRN --repo="$T/repo" init --mode="$1" >/dev/null
  mkdir -p "$T/tree/sub"
  echo content > "$T/tree/file"; echo more > "$T/tree/sub/f"
  $CAIRN --repo="$T/repo" commit -b app --timestamp=@1577836800 \
    --add-metadata-string=version=1.0 "$T/tree" >/dev/null
}
commit_of() { $CAIRN --repo="${2:-$T/repo}" rev-parse "$1"; }
commit_file() { local c; c=$(commit_of "$1" "${2:-}"); echo "${2:-$T/repo}/objects/${c:0:2}/${c:2}.commit"; }
# flip_byte FILE OFFSET: xor one byte with 0x01, in place.
flip_byte() { python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$1" "$2"; }
# Offset of a byte inside the hashed subpacket area of the first signature
# packet in an a{sv} {"ostree.gpgsigs": aay} file (element 0 starts at 16).
hashed_offset() { python3 -c 'import sys
b = open(sys.argv[1], "rb").read(); o = 16
t = b[o]
if t & 0x40: hl = 2 if b[o + 1] < 192 else 3
else: hl = {0: 2, 1: 3, 2: 5}[t & 3]
print(o + hl + 6 + 3)' "$1"; }

t_sign_verify_good() {
  need_keys; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app > out
  assert_file_has_content out "signed with key $GOOD"
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app > out
  assert_file_has_content out 'Good signature from "cairn test good'
  assert_file_has_content out '1 signature, 1 good'
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" --json app > out.json
  python3 -c 'import json,sys; j = json.load(open("out.json")); s = j["signatures"][0]
assert j["verified"] and j["n-good"] == 1 and s["status"] == "good", j
assert s["fingerprint"] and s["user-id"].startswith("cairn test good") and s["timestamp"] > 0 and s["key-id"]'
  # A second signature by the same key is refused, as ostree gpg-sign does.
  assert_exit 1 $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app
  assert_file_has_content "$T/err" 'already signed with GPG key'
  # The .commitmeta has exactly the ostree shape: {ostree.gpgsigs: aay}.
  c=$(commit_of app); assert_has_file "repo/objects/${c:0:2}/${c:2}.commitmeta"
  $CAIRN --repo=repo sign --delete="$GOOD" app > out
  assert_file_has_content out 'Signatures deleted: 1'
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  assert_file_has_content "$T/err" 'no GPG signatures'
  assert_exit 1 $CAIRN --repo=repo sign --delete="$GOOD" app
  assert_exit 2 $CAIRN --repo=repo sign app
  # commit --gpg-sign signs while committing.
  $CAIRN --repo=repo commit -b app2 --gpg-sign="$GOOD" --gpg-homedir="$H" tree >/dev/null
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app2 >/dev/null
}

t_second_trusted_key_repo_dir() {
  need_keys; make_repo bare-user-only
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$SECOND" app >/dev/null
  # Repo-wide keyring directory: empty at first, so nothing is trusted.
  assert_exit 1 $CAIRN --repo=repo verify app
  assert_file_has_content "$T/out" 'unknown-key'
  mkdir repo/trusted.gpg.d && cp "$FX/trusted.d/second.gpg" repo/trusted.gpg.d/
  $CAIRN --repo=repo verify app > out
  assert_file_has_content out 'trusted keys: repository keyring directory trusted.gpg.d/'
  assert_file_has_content out '1 good'
  # An explicit --keyring replaces the directory: second is not in it.
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  # Two trusted keys: a second signature by good; both are good then.
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  cp "$FX/good.gpg" repo/trusted.gpg.d/
  $CAIRN --repo=repo verify app > out
  assert_file_has_content out '2 signatures, 2 good'
}

t_untrusted_key_and_personal_keyring() {
  need_keys; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$UNTRUSTED" app >/dev/null
  # The signer's own home holds the untrusted public key: it must not count.
  GNUPGHOME=$H assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  assert_file_has_content "$T/out" 'unknown-key'
  assert_file_has_content "$T/err" 'no good signature from a trusted key'
  assert_file_has_content "$T/err" 'not in the trusted keyrings'
  GNUPGHOME=$H assert_exit 1 $CAIRN --repo=repo verify app
  # One good signature is enough; the unknown one is still listed.
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" --json app > out.json
  python3 -c 'import json; j = json.load(open("out.json"))
assert j["verified"] and j["n-signatures"] == 2 and sorted(s["status"] for s in j["signatures"]) == ["good", "unknown-key"], j'
}

t_expired_key_and_signature() {
  need_keys; make_repo archive
  now=$(date +%s)
  # Signed by "expired" eighteen months ago, while the key was valid.
  g --faked-system-time="$((now - 540 * 86400))!" --local-user "$EXPIRED" --detach-sign \
    -o expired.sig "$(commit_file app)" 2>/dev/null
  $CAIRN --repo=repo sign --signature-file=expired.sig app >/dev/null
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  assert_file_has_content "$T/out" 'expired-key'
  assert_file_has_content "$T/err" 'expired'
  # A signature that itself expired (by the good key).
  $CAIRN --repo=repo commit -b app2 tree >/dev/null
  g --faked-system-time="$((now - 10 * 86400))!" --default-sig-expire 1d --local-user "$GOOD" \
    --detach-sign -o expsig.sig "$(commit_file app2)" 2>/dev/null
  $CAIRN --repo=repo sign --signature-file=expsig.sig app2 >/dev/null
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" --json app2
  assert_file_has_content "$T/out" '"status":"expired-signature"'
  # Garbage is not a signature.
  echo nonsense > junk.sig
  assert_exit 1 $CAIRN --repo=repo sign --signature-file=junk.sig app2
}

t_revoked_key() {
  need_keys; make_repo archive
  # The publisher's home still has the key unrevoked; the verifier's keyring
  # carries the revocation.
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$REVOKED" app >/dev/null
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  assert_file_has_content "$T/out" 'revoked-key'
  assert_file_has_content "$T/err" 'revoked'
}

t_tamper_commit_and_signature() {
  need_keys; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  c=$(commit_of app); meta=repo/objects/${c:0:2}/${c:2}.commitmeta
  cp "$meta" meta.orig
  # One byte of the signature, inside its hashed (signed) part.
  flip_byte "$meta" "$(hashed_offset "$meta")"
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" --json app
  assert_not_file_has_content "$T/out" '"status":"good"'
  cp meta.orig "$meta"
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app >/dev/null
  # One byte of the commit object.
  f=$(commit_file app); chmod u+w "$f"; flip_byte "$f" 20
  assert_exit 1 $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app
  assert_file_has_content "$T/err" 'corrupt'
}

t_summary_sign_view_verify_tamper() {
  need_keys; make_repo archive
  $CAIRN --repo=repo summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  assert_has_file repo/summary; assert_has_file repo/summary.sig
  [ "$(stat -c %Y repo/summary)" = "$(stat -c %Y repo/summary.sig)" ] || { echo "times differ"; exit 1; }
  grep -q '^indexed-deltas=true' repo/config
  $CAIRN --repo=repo summary --view > out
  assert_file_has_content out '^\* app'
  assert_file_has_content out 'Version (ostree.commit.version): 1.0'
  assert_file_has_content out 'archive-z2'
  $CAIRN --repo=repo summary --view --json > out.json
  python3 -c 'import json; j = json.load(open("out.json")); r = j["refs"][0]
assert r["name"] == "app" and r["timestamp"] == 1577836800 and r["version"] == "1.0" and j["n-signatures"] == 1, j'
  $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg" > out
  assert_file_has_content out '1 good'
  assert_exit 1 $CAIRN --repo=repo summary --verify
  cp repo/summary summary.orig; cp repo/summary.sig sig.orig
  flip_byte repo/summary 40
  assert_exit 1 $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg"
  cp summary.orig repo/summary
  flip_byte repo/summary.sig "$(hashed_offset repo/summary.sig)"
  assert_exit 1 $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg"
  cp sig.orig repo/summary.sig
  $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg" >/dev/null
  # Regenerating without a key removes the now-stale signature.
  $CAIRN --repo=repo summary -u
  assert_not_has_file repo/summary.sig
  assert_exit 1 $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg"
  assert_file_has_content "$T/err" 'not signed'
  assert_exit 2 $CAIRN --repo=repo summary --view -u
}

# Compare two summaries with the value of ostree.summary.last-modified masked.
same_summary() { python3 -c 'import sys
def norm(p):
    b = bytearray(open(p, "rb").read()); k = b"ostree.summary.last-modified\0"
    i = b.find(k); assert i >= 0; v = (i + len(k) + 7) // 8 * 8
    b[v:v + 8] = bytes(8); return bytes(b)
a, b = norm(sys.argv[1]), norm(sys.argv[2])
sys.exit(0 if a == b else 1)' "$1" "$2"; }

t_summary_identical_to_ostree() {
  need_ostree
  for mode in archive bare-user-only; do
    rm -rf "$T/repo" "$T/ref"; make_repo $mode
    $CAIRN --repo=repo commit -b other/branch --timestamp=@1577836801 tree >/dev/null
    $CAIRN --repo=repo commit -b zz --timestamp=@1577836802 tree >/dev/null
    cp -a repo ref
    ostree --repo=ref summary -u
    $CAIRN --repo=repo summary -u
    same_summary repo/summary ref/summary || { echo "summary differs from ostree's ($mode)"; xxd repo/summary; xxd ref/summary; exit 1; }
    # ostree reads ours.
    ostree --repo=repo summary --view > out
    assert_file_has_content out 'other/branch'
  done
}

t_ostree_show_accepts_cairn_signatures() {
  need_ostree; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  # A remote made by ostree, and one made by cairn: ostree uses either keyring.
  ostree --repo=repo remote add --no-gpg-verify viaostree file:///nonexistent
  ostree --repo=repo remote gpg-import --keyring="$FX/good.gpg" viaostree
  ostree --repo=repo show --gpg-verify-remote=viaostree app > out
  assert_file_has_content out 'Good signature from "cairn test good'
  $CAIRN --repo=repo remote add --gpg-import="$FX/good.asc" viacairn http://127.0.0.1:9/repo >/dev/null
  ostree --repo=repo show --gpg-verify-remote=viacairn app > out
  assert_file_has_content out 'Good signature from "cairn test good'
  # cairn reads the keyring ostree wrote.
  $CAIRN --repo=repo verify --remote=viaostree app >/dev/null
  # An ostree remote without the key: ostree does not accept it either.
  ostree --repo=repo remote add --no-gpg-verify nokeys file:///nonexistent
  ostree --repo=repo remote gpg-import --keyring="$FX/second.gpg" nokeys
  ostree --repo=repo show --gpg-verify-remote=nokeys app > out 2>&1 || true
  assert_not_file_has_content out 'Good signature'
}

t_cairn_accepts_ostree_signatures() {
  need_ostree; make_repo archive
  ostree --repo=repo gpg-sign --gpg-homedir="$H" app "$GOOD"
  $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app > out
  assert_file_has_content out '1 good'
  # ostree's duplicate is refused by cairn too.
  assert_exit 1 $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app
  ostree --repo=repo summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  $CAIRN --repo=repo summary --verify --keyring="$FX/trusted.gpg" > out
  assert_file_has_content out '1 good'
  # A commit made and signed by ostree in an ostree repo.
  ostree --repo=orepo init --mode=archive
  ostree --repo=orepo commit -b x --gpg-sign="$GOOD" --gpg-homedir="$H" --tree=dir=tree >/dev/null
  $CAIRN --repo=orepo verify --keyring="$FX/trusted.gpg" x >/dev/null
  assert_exit 1 $CAIRN --repo=orepo verify --keyring="$FX/trusted.d/second.gpg" x
}

t_ostree_accepts_cairn_summary_sig() {
  need_ostree; make_repo archive
  $CAIRN --repo=repo summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  ostree --repo=repo summary --view > out
  assert_file_has_content out '\* app'
  ostree --repo=client init --mode=archive
  ostree --repo=client remote add --set=gpg-verify-summary=true origin "file://$T/repo"
  ostree --repo=client remote gpg-import --keyring="$FX/good.gpg" origin
  ostree --repo=client remote summary origin > out
  assert_file_has_content out 'Good signature from "cairn test good'
  # Tampered summary (a byte of app's commit checksum), seen by a client
  # without a cached copy: ostree reports the signature as bad.
  flip_byte repo/summary 40
  ostree --repo=client2 init --mode=archive
  ostree --repo=client2 remote add --set=gpg-verify-summary=true origin "file://$T/repo"
  ostree --repo=client2 remote gpg-import --keyring="$FX/good.gpg" origin
  ostree --repo=client2 remote summary origin > out 2>&1 || true
  assert_file_has_content out 'BAD signature'
  assert_not_file_has_content out 'Good signature'
}

# Serve $T/repo over HTTP on a free loopback port; sets PORT and HTTPD_PID.
start_httpd() {
  python3 -u -m http.server --bind 127.0.0.1 --directory "$T/repo" 0 > httpd.log 2>&1 &
  HTTPD_PID=$!
  add_cleanup "kill $HTTPD_PID"
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' httpd.log | head -n1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "http server did not start"; cat httpd.log; exit 1
}

t_ostree_pull_over_http() {
  need_ostree; require_cmd python3; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  $CAIRN --repo=repo commit -b evil tree --timestamp=@1577836900 >/dev/null
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$UNTRUSTED" evil >/dev/null
  $CAIRN --repo=repo summary -u --gpg-sign="$GOOD" --gpg-homedir="$H"
  start_httpd
  ostree --repo=client init --mode=archive
  ostree --repo=client remote add --set=gpg-verify=true --set=gpg-verify-summary=true \
    origin "http://127.0.0.1:$PORT/"
  ostree --repo=client remote gpg-import --keyring="$FX/good.gpg" origin
  ostree --repo=client pull origin app
  assert_streq "$(ostree --repo=client rev-parse origin:app)" "$(commit_of app)"
  ostree --repo=client fsck >/dev/null
  # A commit signed by a key the client does not trust is refused.
  assert_fails ostree --repo=client pull origin evil
  # A tampered summary is refused by a fresh client (gpg-verify-summary).
  flip_byte "$T/repo/summary" 40
  ostree --repo=client2 init --mode=archive
  ostree --repo=client2 remote add --set=gpg-verify-summary=true origin "http://127.0.0.1:$PORT/"
  ostree --repo=client2 remote gpg-import --keyring="$FX/good.gpg" origin
  assert_fails ostree --repo=client2 pull origin app
  kill "$HTTPD_PID"; wait "$HTTPD_PID" 2>/dev/null || true
}

t_remote_config_like_ostree() {
  need_keys
  $CAIRN --repo=repo init --mode=archive >/dev/null
  $CAIRN --repo=repo remote add --set=gpg-verify-summary=true --no-gpg-verify origin \
    https://example.org/repo stable/x86_64 beta
  if have ostree; then
    ostree --repo=oref init --mode=archive
    ostree --repo=oref remote add --set=gpg-verify-summary=true --no-gpg-verify origin \
      https://example.org/repo stable/x86_64 beta
    sed -n '/^\[remote/,$p' repo/config > a; sed -n '/^\[remote/,$p' oref/config > b
    cmp a b || { echo "config differs:"; diff -u b a; exit 1; }
    ostree --repo=repo remote list | grep -qx origin
  fi
  assert_exit 1 $CAIRN --repo=repo remote add origin https://example.org/other
  assert_file_has_content "$T/err" 'already exists'
  $CAIRN --repo=repo remote add --if-not-exists origin https://example.org/other
  $CAIRN --repo=repo remote add s1 ssh://user@host.example:2222/srv/repo
  $CAIRN --repo=repo remote add s2 ssh://host.example/srv/repo
  mkdir local; $CAIRN --repo=repo remote add p1 local
  assert_file_has_content repo/config "^url=file://$T/local\$"
  for bad in ssh://host.example ftp://x/y http:///nohost 'file://host/x' ''; do
    assert_exit 1 $CAIRN --repo=repo remote add bad "$bad"
  done
  for badname in ../x .hidden 'a/b' ''; do
    assert_exit 1 $CAIRN --repo=repo remote add "$badname" https://example.org/
  done
  assert_exit 1 $CAIRN --repo=repo remote add --set=gpg-verify=maybe b2 https://example.org/
  $CAIRN --repo=repo remote gpg-import origin "$FX/good.asc" "$FX/second.gpg" > out
  assert_file_has_content out 'Imported 2 GPG keys'
  $CAIRN --repo=repo remote list > out
  assert_streq "$(tr '\n' ' ' < out)" "origin p1 s1 s2 "
  $CAIRN --repo=repo remote show --json origin > out.json
  python3 -c 'import json; j = json.load(open("out.json"))
assert j["gpg-verify"] is False and j["gpg-verify-summary"] is True and len(j["keys"]) == 2, j
assert j["options"]["branches"] == "stable/x86_64;beta;", j'
  $CAIRN --repo=repo remote delete origin
  assert_not_has_file repo/origin.trustedkeys.gpg
  assert_not_file_has_content repo/config 'remote "origin"'
  assert_exit 1 $CAIRN --repo=repo remote delete origin
  $CAIRN --repo=repo remote delete --if-exists origin
  assert_exit 2 $CAIRN --repo=repo remote frobnicate
}

t_remote_keyring_policy() {
  need_keys; make_repo archive
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$SECOND" app >/dev/null
  $CAIRN --repo=repo remote add --gpg-import="$FX/good.gpg" origin https://example.org/ >/dev/null
  # origin's keyring has only good: second does not count for origin content,
  # even when the repo-wide directory trusts it.
  mkdir repo/trusted.gpg.d; cp "$FX/second.gpg" repo/trusted.gpg.d/
  assert_exit 1 $CAIRN --repo=repo verify --remote=origin app
  $CAIRN --repo=repo verify app >/dev/null
  # REMOTE:REF selects the remote's keyring.
  $CAIRN --repo=repo refs --create=origin:app "$(commit_of app)" >/dev/null 2>&1 \
    || { mkdir -p repo/refs/remotes/origin; commit_of app > repo/refs/remotes/origin/app; }
  assert_exit 1 $CAIRN --repo=repo verify origin:app
  assert_file_has_content "$T/out" "keyring of remote 'origin'"
  # A remote without a keyring falls back to the repo-wide directory.
  $CAIRN --repo=repo remote add nokeys https://example.org/ >/dev/null
  $CAIRN --repo=repo verify --remote=nokeys app > out
  assert_file_has_content out "remote 'nokeys' has no keyring"
  assert_exit 1 $CAIRN --repo=repo verify --remote=missing app
  assert_exit 2 $CAIRN --repo=repo verify --remote=origin --keyring="$FX/trusted.gpg" app
}

t_no_agent_left_behind() {
  need_keys; make_repo archive
  mkdir "$T/tmp"
  $CAIRN --repo=repo sign --gpg-homedir="$H" --key-id="$GOOD" app >/dev/null
  TMPDIR=$T/tmp $CAIRN --repo=repo verify --keyring="$FX/trusted.gpg" app >/dev/null
  TMPDIR=$T/tmp $CAIRN --repo=repo remote add --gpg-import="$FX/good.asc" o https://example.org/ >/dev/null
  TMPDIR=$T/tmp $CAIRN --repo=repo remote show o >/dev/null
  [ -z "$(ls -A "$T/tmp")" ] || { echo "temporary GnuPG homes left:"; ls -la "$T/tmp"; exit 1; }
  [ -z "$(cairn_gpg_stray_daemons "$T/tmp")" ] || { echo "stray gpg daemons"; exit 1; }
}

run_test "sign, verify good, duplicate refused, delete, commit --gpg-sign" t_sign_verify_good
run_test "second trusted key via <repo>/trusted.gpg.d" t_second_trusted_key_repo_dir
run_test "unknown key and the personal keyring never count" t_untrusted_key_and_personal_keyring
run_test "expired key and expired signature are refused" t_expired_key_and_signature
run_test "revoked key is refused" t_revoked_key
run_test "tampered signature or commit fails verification" t_tamper_commit_and_signature
run_test "summary: signed, viewed, verified, tampered, unsigned" t_summary_sign_view_verify_tamper
run_test "summary byte-identical to ostree summary -u" t_summary_identical_to_ostree
run_test "ostree show accepts cairn's signatures" t_ostree_show_accepts_cairn_signatures
run_test "cairn verify accepts ostree's signatures" t_cairn_accepts_ostree_signatures
run_test "ostree accepts cairn's summary.sig" t_ostree_accepts_cairn_summary_sig
run_test "ostree pull over HTTP with gpg-verify and gpg-verify-summary" t_ostree_pull_over_http
run_test "remotes stored as ostree stores them; URL and name validation" t_remote_config_like_ostree
run_test "trust policy: remote keyring, REMOTE:REF, fallback" t_remote_keyring_policy
run_test "no temporary GnuPG home or agent left behind" t_no_agent_left_behind

t_fixture_cleanup() {
  need_keys
  cairn_gpg_cleanup_fixture "$FX"
  strays=$(cairn_gpg_stray_daemons "$_tap_tmproot")
  [ -z "$strays" ] || { echo "stray gpg daemons: $strays"; ps -o pid,args -p $strays; exit 1; }
}
run_test "fixture cleanup leaves no gpg agent running" t_fixture_cleanup
tests_done
