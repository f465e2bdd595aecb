#!/bin/bash
# Static deltas (docs/format.md §11): ostree-made deltas pulled by cairn over
# HTTP in every repo mode (the server's log shows the delta, not the
# objects), cairn-made deltas pulled by `ostree pull` and checked by
# `ostree fsck`, a Flatpak repository made by `flatpak build-export` with
# deltas from `flatpak build-update-repo`, the static-delta command and the
# summary, ed25519-signed superblocks, hostile deltas refused with nothing
# moved, and a delta pull cut in the middle then resumed.
# Servers listen on 127.0.0.1 only, on ports the kernel picks.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"
export CAIRN_NO_PROGRESS=1
# Debian's python3: GLib's introspection (python3-gi) for
# tests/delta-forge.py, and a fast start for the many small helpers.
PYGI=/usr/bin/python3
[ -x "$PYGI" ] || PYGI=python3
FORGE="$CAIRN_TOP_SRCDIR/tests/delta-forge.py"

json_field() { $PYGI -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
both_fsck() {
  $CAIRN --repo="$1" fsck >/dev/null || { $CAIRN --repo="$1" fsck; exit 1; }
  ostree --repo="$1" fsck >/dev/null 2>&1 || { ostree --repo="$1" fsck; exit 1; }
}
no_ref() { [ ! -e "$1/refs/remotes/origin/$2" ] && [ ! -e "$1/refs/heads/$2" ] || { echo "assert: ref $2 moved"; exit 1; }; }
flip_byte() { $PYGI -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o % len(b)] ^= 1; open(p, "wb").write(b)' "$1" "$2"; }
need_tools() { require_cmd ostree; $PYGI -c 'import gi' 2>/dev/null || skip "needs python3-gi"; }
can_mode() { mode_possible "$1" && { [ "$1" != bare-user ] || have_user_xattrs; }; }

_BG_PIDS=""
kill_on_exit() { _BG_PIDS="$_BG_PIDS $1"; trap 'kill $_BG_PIDS 2>/dev/null; wait 2>/dev/null' EXIT; }
# Serve DIR over HTTP on a free loopback port; sets PORT, requests in $T/httpd.log.
start_httpd() {
  $PYGI -u -m http.server --bind 127.0.0.1 --directory "$1" 0 > "$T/httpd.log" 2>&1 &
  kill_on_exit $!
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$T/httpd.log" | head -n1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "http server did not start"; cat "$T/httpd.log"; exit 1
}
# The requests made since the last mark (paths only).
mark_log() { MARK=$(wc -l < "$T/httpd.log"); }
requests() { tail -n +$((MARK + 1)) "$T/httpd.log" | grep -ao '"GET [^ ]*' | sed 's/"GET \///'; }
count_req() { requests | grep -c -e "$1" || true; }

# The trees: v1, and v2 = v1 with a text file edited in the middle (a
# bsdiff/rollsum candidate), a file added, a file removed, a symlink
# retargeted; a 5 MB file over ostree's default fallback size (4 MB).
make_trees() {
  mkdir -p v1/usr/lib v1/etc v1/big
  for i in $(seq 1 12); do seq $((i * 1000)) $((i * 1000 + 6000)) > v1/usr/lib/mod$i.txt; done
  printf 'hello\n' > v1/etc/hello; printf 'gone\n' > v1/etc/gone
  ln -s hello v1/etc/link; : > v1/etc/empty
  head -c 5000000 /dev/urandom > v1/big/blob
  head -c 200000 /dev/urandom > v1/usr/lib/random.bin
  cp -a v1 v2
  sed -i 's/^3500$/three thousand five hundred/' v2/usr/lib/mod3.txt
  printf 'XY' | dd of=v2/usr/lib/random.bin bs=1 seek=100000 conv=notrunc 2>/dev/null
  printf 'new\n' > v2/etc/new; rm v2/etc/gone; ln -sfn new v2/etc/link
}

# An ostree archive repo "src" with app at v1 (C1) then v2 (C2), and
# deltas: --empty to each, C1 -> C2 (extra ostree static-delta options in
# $@). The ref is left at C1. Without options the repo is made once per run
# of this file and copied.
build_ostree_src() {
  make_trees
  ostree --repo=src init --mode=archive
  ostree --repo=src commit -b app --tree=dir=v1 -s one >/dev/null
  C1=$(ostree --repo=src rev-parse app)
  ostree --repo=src commit -b app --tree=dir=v2 -s two >/dev/null
  C2=$(ostree --repo=src rev-parse app)
  ostree --repo=src static-delta generate --empty --to="$C1" "$@" >/dev/null
  ostree --repo=src static-delta generate --empty --to="$C2" "$@" >/dev/null
  ostree --repo=src static-delta generate --from="$C1" --to="$C2" "$@" >/dev/null
  ostree --repo=src reset app "$C1"
  ostree --repo=src summary -u
}
make_ostree_src() {
  if [ $# -gt 0 ]; then build_ostree_src "$@"; return; fi
  local fx=$_tap_tmproot/fixture-ostree
  if [ ! -d "$fx/src" ]; then
    mkdir -p "$fx.tmp" && (cd "$fx.tmp" && build_ostree_src && echo "$C1 $C2" > commits)
    mv "$fx.tmp" "$fx"
  fi
  cp -a "$fx/src" "$fx/v1" "$fx/v2" .
  read -r C1 C2 < "$fx/commits"
}
publish() { ostree --repo=src reset app "$1" 2>/dev/null || ostree --repo=src refs --create=app "$1"; ostree --repo=src summary -u; }
client() { # NAME MODE: a repo with remote origin at the server
  $CAIRN --repo="$1" init --mode="$2" >/dev/null
  $CAIRN --repo="$1" remote add --no-gpg-verify origin "http://127.0.0.1:$PORT/" >/dev/null
}
same_as_src() { # REPO REV: the tree equals src's at the same commit
  $CAIRN --repo=src ls -R "$2" > ls-src; $CAIRN --repo="$1" ls -R "$2" > ls-dst
  cmp ls-src ls-dst || { diff -u ls-src ls-dst | head; exit 1; }
}
n_fallbacks() { ostree --repo=src static-delta show "$1" | sed -n 's/^Number of fallback entries: //p'; }

# ---- ostree-made deltas, pulled by cairn ----------------------------------

ostree_deltas_into() {
  local mode=$1
  can_mode "$mode" || skip "mode $mode is not possible here"
  need_tools
  make_ostree_src
  start_httpd src
  client c "$mode"
  # First pull: the from-scratch delta to C1; objects only for its fallbacks.
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  requests > req1
  assert_streq "$(json_field out.json deltas)" 1
  assert_file_has_content req1 "^deltas/.*/superblock$"
  assert_file_has_content req1 "^deltas/.*/0$"
  assert_streq "$(grep -c -e '\.dirtree$' -e '\.dirmeta$' -e '\.commit$' req1 || true)" 0
  assert_streq "$(grep -c '\.filez$' req1 || true)" "$(n_fallbacks "$C1")"
  info "first pull ($mode): $(wc -l < req1) requests: $(grep -c '^deltas/' req1) delta files, $(grep -c '\.filez$' req1 || true) fallback objects"
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C1"
  assert_not_has_file "c/state/$C1.commitpartial"
  same_as_src c "$C1"
  both_fsck c
  # Update: the C1 -> C2 delta (not the from-scratch one to C2).
  publish "$C2"
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  requests > req2
  assert_streq "$(json_field out.json deltas)" 1
  a=$($PYGI -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("=").replace("/","_"))' "$C1")
  assert_file_has_content req2 "^deltas/${a:0:2}/${a:2}-.*/superblock$"
  assert_streq "$(grep -c -e '\.dirtree$' -e '\.dirmeta$' -e '\.filez$' req2 || true)" "$(n_fallbacks "$C1-$C2")"
  info "update ($mode): $(wc -l < req2) requests, $(json_field out.json bytes_fetched) bytes"
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C2"
  same_as_src c "$C2"
  both_fsck c
  # Nothing to do: no delta requested.
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json deltas)" 0
  assert_streq "$(count_req '^deltas/')" 0
}
t_ostree_deltas_bare() { ostree_deltas_into bare; }
t_ostree_deltas_bare_user() { ostree_deltas_into bare-user; }
t_ostree_deltas_bare_user_only() { ostree_deltas_into bare-user-only; }
t_ostree_deltas_archive() { ostree_deltas_into archive; }

# Inline parts, big-endian part headers, several parts, everything above
# 1 MB as fallbacks, and a server without a summary (the superblock is asked
# for directly).
t_ostree_delta_variants() {
  need_tools; have_user_xattrs || skip "needs user xattrs"
  make_ostree_src --inline --set-endianness=B
  start_httpd src
  client c bare-user
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json deltas)" 1
  assert_streq "$(count_req '^deltas/.*/[0-9]$')" 0 # inline: the superblock only
  same_as_src c "$C1"; both_fsck c
  # Several parts and fallbacks.
  rm -rf src/deltas src/delta-indexes
  ostree --repo=src static-delta generate --from="$C1" --to="$C2" --max-chunk-size=1 \
    --min-fallback-size=1 >/dev/null
  publish "$C2"
  nparts=$(ostree --repo=src static-delta show "$C1-$C2" | sed -n 's/^Number of parts: //p')
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json delta_parts)" "$nparts"
  assert_streq "$(count_req '\.filez$')" "$(n_fallbacks "$C1-$C2")"
  info "$nparts parts, $(n_fallbacks "$C1-$C2") fallbacks"
  same_as_src c "$C2"; both_fsck c
  # No summary: the delta is found by asking for its superblock.
  client d bare-user
  rm src/summary
  ostree --repo=src static-delta generate --empty --to="$C2" >/dev/null
  mark_log
  $CAIRN --repo=d pull --json origin app > out.json
  assert_streq "$(json_field out.json deltas)" 1
  assert_file_has_content "$T/httpd.log" "GET /refs/heads/app"
  same_as_src d "$C2"; both_fsck d
}

t_delta_flags() {
  need_tools; have_user_xattrs || skip "needs user xattrs"
  make_ostree_src
  start_httpd src
  # --disable-static-deltas: objects one by one, no deltas/ request.
  client c bare-user
  mark_log
  $CAIRN --repo=c pull --json --disable-static-deltas origin app > out.json
  assert_streq "$(json_field out.json deltas)" 0
  assert_streq "$(count_req '^deltas/')" 0
  assert_not_streq "$(count_req '\.dirtree$')" 0
  # --require-static-deltas against a remote without a delta to the commit.
  rm -rf src/deltas src/delta-indexes; ostree --repo=src summary -u
  client d bare-user
  assert_exit 1 $CAIRN --repo=d pull --require-static-deltas origin app
  assert_file_has_content "$T/err" "static deltas required, but none found for app"
  no_ref d app; both_fsck d
  assert_exit 2 $CAIRN --repo=d pull --require-static-deltas --disable-static-deltas origin app
  # A local pull uses deltas only when required.
  ostree --repo=src static-delta generate --empty --to="$C1" >/dev/null
  ostree --repo=src summary -u
  $CAIRN --repo=e init --mode=bare-user >/dev/null
  $CAIRN --repo=e pull --json "$T/src" app > out.json
  assert_streq "$(json_field out.json deltas)" 0
  $CAIRN --repo=f init --mode=bare-user >/dev/null
  $CAIRN --repo=f pull --json --require-static-deltas "$T/src" app > out.json
  assert_streq "$(json_field out.json deltas)" 1
  assert_streq "$(cat f/refs/heads/app)" "$C1"
  both_fsck f
  # Over ssh (cairn serve, through an "ssh" that runs the command here):
  # the smart protocol by default, the delta's files when required.
  printf '#!/bin/sh\nfor a; do last=$a; done\nexec sh -c "$last"\n' > fake-ssh; chmod +x fake-ssh
  export CAIRN_SSH=$T/fake-ssh CAIRN_SSH_REMOTE_CAIRN=$CAIRN
  $CAIRN --repo=s1 init --mode=bare-user >/dev/null
  $CAIRN --repo=s1 pull --json "ssh://localhost$T/src" app > out.json
  assert_streq "$(json_field out.json deltas)" 0
  $CAIRN --repo=s2 init --mode=bare-user >/dev/null
  $CAIRN --repo=s2 pull --json --require-static-deltas "ssh://localhost$T/src" app > out.json
  assert_streq "$(json_field out.json deltas)" 1
  assert_streq "$(cat s2/refs/heads/app)" "$C1"
  both_fsck s2
}

# ---- cairn-made deltas ------------------------------------------------------

# A cairn archive repo "src" with app at C1 then C2 and cairn's deltas.
make_cairn_src() {
  make_trees
  $CAIRN --repo=src init --mode=archive >/dev/null
  $CAIRN --repo=src commit -b app -s one v1 >/dev/null
  C1=$($CAIRN --repo=src rev-parse app)
  $CAIRN --repo=src commit -b app -s two v2 >/dev/null
  C2=$($CAIRN --repo=src rev-parse app)
  $CAIRN --repo=src static-delta generate --empty --to="$C1" "$@"
  $CAIRN --repo=src static-delta generate --empty --to="$C2" "$@"
  $CAIRN --repo=src static-delta generate --from="$C1" --to="$C2" "$@"
  ostree --repo=src reset app "$C1"
  $CAIRN --repo=src summary -u
}

ostree_pulls_cairn() { # MODE [generate options]
  local mode=$1; shift
  make_cairn_src "$@"
  # ostree reads every part, and counts the bsdiff cairn chose for the edit
  # (ostree 2022.7's show cannot read inline parts, even its own).
  if [ "$*" != --inline ]; then
    ostree --repo=src static-delta show "$C1-$C2" > show
    assert_file_has_content show "bspatch=[1-9]"
  fi
  start_httpd src
  ostree --repo=o init --mode="$mode"
  ostree --repo=o remote add --no-gpg-verify origin "http://127.0.0.1:$PORT/"
  mark_log
  ostree --repo=o pull origin app > pull.out
  info "ostree ($mode): $(tail -n1 pull.out)"
  # (ostree 2022.7 may also fetch some objects loose: it scans the commit
  # while the part is still running, with its own deltas as well.)
  requests > req
  assert_file_has_content req "^deltas/.*/superblock$"
  [ "$*" = --inline ] || assert_file_has_content req "^deltas/.*/0$"
  ostree --repo=o fsck > fsck.out 2>&1 || { cat fsck.out; exit 1; }
  assert_streq "$(ostree --repo=o rev-parse origin:app)" "$C1"
  $CAIRN --repo=src summary -u
  publish "$C2"
  $CAIRN --repo=src summary -u
  mark_log
  ostree --repo=o pull origin app > pull.out
  requests > req
  assert_file_has_content req "^deltas/.*-.*/superblock$"
  ostree --repo=o fsck > fsck.out 2>&1 || { cat fsck.out; exit 1; }
  assert_streq "$(ostree --repo=o rev-parse origin:app)" "$C2"
  ostree --repo=o checkout -U origin:app co
  $CAIRN --repo=src checkout -U app co-src
  diff -r co co-src
  [ "$(readlink co/etc/link)" = new ]
}
t_ostree_pulls_cairn_bare_user() { need_tools; have_user_xattrs || skip "needs user xattrs"; ostree_pulls_cairn bare-user; }
t_ostree_pulls_cairn_bare() { need_tools; require_root; ostree_pulls_cairn bare --inline; }

t_static_delta_command() {
  need_tools
  make_cairn_src
  $CAIRN --repo=src static-delta list > list
  assert_streq "$(wc -l < list)" 3
  assert_file_has_content list "^$C1-$C2$"
  $CAIRN --repo=src static-delta show --json "$C1-$C2" > show.json
  $PYGI - show.json "$C1" "$C2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["from"] == sys.argv[2] and d["to"] == sys.argv[3] and not d["signed"], d
assert len(d["parts"]) == 1 and d["parts"][0]["objects"] > 0, d
PY
  # cairn's show and ostree's agree on the numbers.
  $CAIRN --repo=src static-delta show "$C2" | grep -E '^(Number of parts|PartMeta0)' | sed 's/ inline$//' > a
  ostree --repo=src static-delta show "$C2" | grep -E '^(Number of parts|PartMeta0)' > b
  diff a b
  # summary -u: byte for byte what ostree writes (the timestamp aside), and
  # the same delta-indexes/.
  cp -a src src2
  rm -rf src/delta-indexes src2/delta-indexes
  $CAIRN --repo=src summary -u; ostree --repo=src2 summary -u
  ostree --repo=src summary --view --raw | sed 's/uint64 [0-9]*/T/g' > s1
  ostree --repo=src2 summary --view --raw | sed 's/uint64 [0-9]*/T/g' > s2
  diff s1 s2
  assert_file_has_content s1 "ostree.static-deltas"
  (cd src && find delta-indexes -type f | sort | xargs sha256sum) > i1
  (cd src2 && find delta-indexes -type f | sort | xargs sha256sum) > i2
  diff i1 i2
  # delete: the delta and its index entry go.
  $CAIRN --repo=src static-delta delete "$C1-$C2"
  assert_streq "$($CAIRN --repo=src static-delta list | wc -l)" 2
  assert_exit 1 $CAIRN --repo=src static-delta show "$C1-$C2"
  assert_file_has_content "$T/err" "no static delta $C1-$C2"
  $CAIRN --repo=src static-delta delete "$C2"
  assert_exit 1 $CAIRN --repo=src static-delta delete "$C2"
  assert_not_has_file "src/$(cd src && find delta-indexes -name '*.index' -newer list | head -n1)x"
  ostree --repo=src static-delta indexes > idx
  assert_streq "$(cat idx)" "$C1"
  # Usage errors.
  assert_exit 2 $CAIRN --repo=src static-delta generate --empty
  assert_exit 2 $CAIRN --repo=src static-delta generate --empty --from=app --to=app
  assert_exit 1 $CAIRN --repo=src static-delta generate --to="$C1"
  assert_file_has_content "$T/err" "has no parent: give --from=REV or --empty"
  assert_exit 2 $CAIRN --repo=src static-delta frobnicate
}

# ed25519-signed superblocks: cairn signs and verifies; the signature is
# the one libcrypto (openssl pkeyutl) verifies over the superblock bytes;
# a remote with sign-verify takes only deltas its keys signed.
t_signed_superblock() {
  need_tools; have_user_xattrs || skip "needs user xattrs"; require_cmd openssl
  openssl genpkey -algorithm ed25519 -out k.pem 2>/dev/null
  openssl pkey -in k.pem -pubout -outform DER 2>/dev/null | tail -c 32 > pk.raw
  openssl pkey -in k.pem -outform DER 2>/dev/null | tail -c 32 > seed.raw
  SK=$(cat seed.raw pk.raw | base64 -w0); PK=$(base64 -w0 < pk.raw)
  openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout -outform DER 2>/dev/null \
    | tail -c 32 > other.raw
  OTHER=$(base64 -w0 < other.raw)
  make_cairn_src --sign="$SK"
  $CAIRN --repo=src static-delta show "$C1-$C2" > show
  assert_file_has_content show "^Signed: yes"
  ostree --repo=src static-delta show "$C1-$C2" | grep -q "^Signed: yes"
  $CAIRN --repo=src static-delta verify "$C1-$C2" "$PK" > out
  assert_exit 1 $CAIRN --repo=src static-delta verify "$C1-$C2" "$OTHER"
  assert_file_has_content "$T/err" "no signature verifies with the trusted ed25519 keys"
  # The same check by openssl on the bytes of the container.
  $PYGI - src "$C1" "$C2" <<'PY'
import base64, glob, os, sys
from gi.repository import GLib
a = lambda h: base64.b64encode(bytes.fromhex(h)).decode().rstrip("=").replace("/", "_")
f, t = a(sys.argv[2]), a(sys.argv[3])
raw = open(os.path.join(sys.argv[1], "deltas", f[:2], f[2:] + "-" + t, "superblock"), "rb").read()
v = GLib.Variant.new_from_bytes(GLib.VariantType.new("(taya{sv})"), GLib.Bytes.new(raw), False)
assert v.get_child_value(0).get_uint64() == 0x4F535453474E4454 or \
    int.from_bytes(raw[:8], "big") == 0x4F535453474E4454
open("sb.bin", "wb").write(v.get_child_value(1).get_data_as_bytes().get_data())
sigs = v.get_child_value(2).lookup_value("ostree.sign.ed25519", GLib.VariantType.new("aay"))
open("sig.bin", "wb").write(bytes(sigs.unpack()[0]))
PY
  openssl pkey -in k.pem -pubout -out pub.pem 2>/dev/null
  openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in sb.bin -sigfile sig.bin > ov
  assert_file_has_content ov "Signature Verified Successfully"
  # Pull with sign-verify: the signed delta is taken...
  start_httpd src
  client c bare-user
  $CAIRN --repo=c remote delete origin >/dev/null
  $CAIRN --repo=c remote add --no-gpg-verify --set=sign-verify=ed25519 \
    --set=verification-ed25519-key="$PK" origin "http://127.0.0.1:$PORT/" >/dev/null
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json deltas)" 1
  # ...one signed by another key is refused, nothing moves.
  client d bare-user
  $CAIRN --repo=d remote delete origin >/dev/null
  $CAIRN --repo=d remote add --no-gpg-verify --set=sign-verify=ed25519 \
    --set=verification-ed25519-key="$OTHER" origin "http://127.0.0.1:$PORT/" >/dev/null
  assert_exit 1 $CAIRN --repo=d pull origin app
  assert_file_has_content "$T/err" "no signature verifies with the trusted ed25519 keys"
  no_ref d app; both_fsck d
  # Without sign-verify the signature is not needed; an unsigned delta (the
  # from-scratch one, rewritten unsigned) is refused where it is.
  client e bare-user
  $CAIRN --repo=e pull origin app
  $CAIRN --repo=src static-delta generate --empty --to="$C1"
  $CAIRN --repo=src summary -u
  client f bare-user
  $CAIRN --repo=f remote delete origin >/dev/null
  $CAIRN --repo=f remote add --no-gpg-verify --set=sign-verify=true \
    --set=verification-ed25519-key="$PK" origin "http://127.0.0.1:$PORT/" >/dev/null
  assert_exit 1 $CAIRN --repo=f pull origin app
  assert_file_has_content "$T/err" "no ed25519 signature"
  no_ref f app
}

# ---- hostile deltas ----------------------------------------------------------

# Each hostile delta: the pull fails naming the problem, no ref moves, the
# objects verified before are kept and both fscks are clean.
refuse_forged() { # CASE PATTERN
  need_tools; have_user_xattrs || skip "needs user xattrs"
  make_ostree_src
  publish "$C2"
  c1file=$(ostree --repo=src ls -C "$C1" /usr/lib/mod1.txt | awk '{print $5}')
  FORGE_SOURCE=$c1file $PYGI "$FORGE" src "$C1-$C2" "$1"
  ostree --repo=src summary -u
  start_httpd src
  client c bare-user
  # The client holds C1 (pulled without deltas).
  $CAIRN --repo=c pull --disable-static-deltas origin "$C1" >/dev/null
  mkdir -p c/refs/remotes/origin; echo "$C1" > c/refs/remotes/origin/app
  assert_exit 1 $CAIRN --repo=c pull origin app
  assert_file_has_content "$T/err" "$2"
  assert_file_has_content "$T/err" "static delta $C1-$C2 part 0"
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C1"
  both_fsck c
  # The same delta over a cairn pull with deltas disabled: fine.
  $CAIRN --repo=c pull --disable-static-deltas origin app
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C2"
  both_fsck c
}
t_forged_extra_object() { refuse_forged extra-object "lists [0-9]* objects but its operations make"; }
t_forged_out_of_bounds() { refuse_forged out-of-bounds "offset 1000 length 10 is outside the 5-byte payload"; }
t_forged_bspatch_overrun() { refuse_forged bspatch-overrun "bspatch: a record writes past the end of the 4-byte result"; }
t_forged_wrong_content() { refuse_forged wrong-content "corrupted\|hashes to\|checksum"; }
t_forged_commit_in_part() { refuse_forged metadata-commit "makes a commit object"; }

t_corrupt_part_and_superblock() {
  need_tools; have_user_xattrs || skip "needs user xattrs"
  make_ostree_src
  start_httpd src
  # A flipped byte in a part: its checksum is wrong.
  a=$($PYGI -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("=").replace("/","_"))' "$C1")
  part="src/deltas/${a:0:2}/${a:2}/0"
  cp "$part" part.orig
  flip_byte "$part" 500
  client c bare-user
  assert_exit 1 $CAIRN --repo=c pull origin app
  assert_file_has_content "$T/err" "static delta $C1 part 0: corrupted: its content hashes to"
  no_ref c app; both_fsck c
  cp part.orig "$part"
  # A flipped byte in the superblock: not what the summary lists.
  sb="src/deltas/${a:0:2}/${a:2}/superblock"
  flip_byte "$sb" 40
  assert_exit 1 $CAIRN --repo=c pull origin app
  assert_file_has_content "$T/err" "invalid checksum for static delta $C1"
  no_ref c app; both_fsck c
  # Fixed on the server: the pull completes.
  flip_byte "$sb" 40
  $CAIRN --repo=c pull origin app
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C1"
  both_fsck c
}

# ---- interruption -------------------------------------------------------------

# A delta of several parts, the last one failing on the server: the parts
# before it are kept, and the next pull fetches only the rest. Then kill -9
# at a random moment of a fresh delta pull: the re-run completes.
t_delta_resume() {
  need_tools; have_user_xattrs || skip "needs user xattrs"
  mkdir -p tree
  for i in $(seq 1 6); do head -c 400000 /dev/urandom > tree/f$i; done
  ostree --repo=src init --mode=archive
  ostree --repo=src commit -b app --tree=dir=tree >/dev/null
  C=$(ostree --repo=src rev-parse app)
  ostree --repo=src static-delta generate --empty --to="$C" --max-chunk-size=1 >/dev/null
  ostree --repo=src summary -u
  n=$(ostree --repo=src static-delta show "$C" | sed -n 's/^Number of parts: //p')
  [ "$n" -ge 3 ] || { echo "want several parts, got $n"; exit 1; }
  a=$($PYGI -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("=").replace("/","_"))' "$C")
  last="src/deltas/${a:0:2}/${a:2}/$((n - 1))"
  mv "$last" last.part
  start_httpd src
  client c bare-user
  assert_exit 1 env CAIRN_PULL_HTTP_RETRIES=0 $CAIRN --repo=c pull origin app
  assert_file_has_content "$T/err" "part .*/$((n - 1)) is missing"
  no_ref c app; both_fsck c
  kept=$(find c/objects -name '*.file' | wc -l)
  info "$kept content objects kept from $((n - 1)) of $n parts"
  [ "$kept" -ge 1 ] || { echo "nothing was kept"; exit 1; }
  mv last.part "$last"
  mark_log
  $CAIRN --repo=c pull --json origin app > out.json
  assert_streq "$(json_field out.json delta_parts)" 1
  assert_streq "$(count_req "^deltas/.*/[0-9]*$")" 1
  assert_streq "$(cat c/refs/remotes/origin/app)" "$C"
  both_fsck c
  # kill -9 somewhere in a delta pull, then pull again.
  for k in 1 2 3; do
    rm -rf d; client d bare-user
    $CAIRN --repo=d pull origin app & pid=$!
    sleep 0.0$((RANDOM % 9 + 1)); kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
    [ ! -e d/refs/remotes/origin/app ] || [ "$(cat d/refs/remotes/origin/app)" = "$C" ]
    both_fsck d
    $CAIRN --repo=d pull origin app
    assert_streq "$(cat d/refs/remotes/origin/app)" "$C"
    both_fsck d
  done
}

# ---- Flatpak ----------------------------------------------------------------

# A trivial app exported by Debian's flatpak (no runtime needed to export),
# twice, deltas by build-update-repo; cairn pulls both commits through them
# and checks the app out.
t_flatpak_repo() {
  need_tools; require_cmd flatpak; have_user_xattrs || skip "needs user xattrs"
  mkdir -p app/files/bin app/export
  printf '[Application]\nname=org.test.Hello\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\ncommand=hello\n' > app/metadata
  printf '#!/bin/sh\necho hello\n' > app/files/bin/hello; chmod 0755 app/files/bin/hello
  seq 1 30000 > app/files/data.txt
  flatpak build-export --arch=x86_64 repo app >/dev/null
  flatpak build-update-repo --generate-static-deltas repo >/dev/null
  ref=app/org.test.Hello/x86_64/master
  C1=$(ostree --repo=repo rev-parse $ref)
  start_httpd repo
  client c bare-user
  mark_log
  $CAIRN --repo=c pull --json origin $ref > out.json
  assert_streq "$(json_field out.json deltas)" 1
  assert_streq "$(count_req '\.filez$')" 0
  # A second build, and the update through the from-previous delta.
  printf '#!/bin/sh\necho hello again\n' > app/files/bin/hello
  sed -i 's/^15000$/fifteen thousand/' app/files/data.txt
  flatpak build-export --arch=x86_64 repo app >/dev/null
  flatpak build-update-repo --generate-static-deltas repo >/dev/null
  C2=$(ostree --repo=repo rev-parse $ref)
  ostree --repo=repo static-delta list | grep -q "^$C1-$C2$"
  mark_log
  $CAIRN --repo=c pull --json origin $ref > out.json
  assert_streq "$(json_field out.json deltas)" 1
  requests > req
  assert_file_has_content req "^deltas/.*-.*/superblock$"
  assert_streq "$(grep -c -e '\.filez$' -e '\.dirtree$' req || true)" 0
  assert_streq "$(cat c/refs/remotes/origin/$ref)" "$C2"
  both_fsck c
  $CAIRN --repo=c checkout origin:$ref co
  assert_file_has_content co/files/bin/hello "hello again"
  assert_file_has_content co/files/data.txt "fifteen thousand"
  assert_file_has_content co/metadata "name=org.test.Hello"
  ostree --repo=repo checkout -U $ref co-ostree
  diff -r co co-ostree
}

run_test "http: ostree-made deltas into bare (scratch, then from the parent)" t_ostree_deltas_bare
run_test "http: ostree-made deltas into bare-user" t_ostree_deltas_bare_user
run_test "http: ostree-made deltas into bare-user-only" t_ostree_deltas_bare_user_only
run_test "http: ostree-made deltas into archive" t_ostree_deltas_archive
run_test "http: inline, big-endian, several parts, fallbacks, no summary" t_ostree_delta_variants
run_test "--disable-static-deltas, --require-static-deltas, local and ssh pulls" t_delta_flags
run_test "ostree pull of cairn-made deltas into bare-user; ostree fsck" t_ostree_pulls_cairn_bare_user
run_test "ostree pull of cairn-made inline deltas into bare; ostree fsck" t_ostree_pulls_cairn_bare
run_test "static-delta list/show/delete; summary -u and delta-indexes as ostree's" t_static_delta_command
run_test "ed25519-signed superblocks: verify, openssl agrees, sign-verify on pull" t_signed_superblock
run_test "hostile delta: a part lists an object it does not make" t_forged_extra_object
run_test "hostile delta: an operation out of bounds" t_forged_out_of_bounds
run_test "hostile delta: a bspatch that overruns its object" t_forged_bspatch_overrun
run_test "hostile delta: content that does not match its name" t_forged_wrong_content
run_test "hostile delta: a part that makes a commit" t_forged_commit_in_part
run_test "hostile delta: a corrupt part, a superblock not matching the summary" t_corrupt_part_and_superblock
run_test "a delta pull cut at a missing part, resumed; kill -9, resumed" t_delta_resume
run_test "flatpak build-export + build-update-repo deltas, pulled and checked out" t_flatpak_repo
tests_done
