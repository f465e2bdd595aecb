#!/bin/bash
# CLI conventions: help, version, exit codes, error format, default repo.
. "${CAIRN_TOP_SRCDIR:-$(dirname "$0")/..}/tests/libtest.sh"

t_version() { $CAIRN --version | grep -q '^cairn [0-9]'; }
t_help() {
  $CAIRN --help > out; assert_file_has_content out 'Usage: cairn'
  assert_file_has_content out 'init'
  $CAIRN help init > out2; assert_file_has_content out2 -- '--mode'
  $CAIRN init --help > out3; assert_file_has_content out3 -- '--mode'
}
t_usage_errors() {
  assert_exit 2 $CAIRN
  assert_exit 2 $CAIRN no-such-command
  assert_file_has_content "$T/err" "cairn: unknown command 'no-such-command'"
  # one line and a hint, not the whole help
  assert_streq "$(wc -l < "$T/err")" 2
  assert_file_has_content "$T/err" "Try 'cairn --help'"
  assert_exit 2 $CAIRN chekout
  assert_file_has_content "$T/err" "Did you mean 'cairn checkout'?"
  assert_exit 2 $CAIRN --no-such-global
  assert_streq "$(wc -l < "$T/err")" 2
  # run: options it does not know are usage errors, never a ref (-e, -v, -p,
  # -t, -d are podman's, tests/test-run-like.sh)
  $CAIRN --repo=$T/r init >/dev/null
  for o in -Z -q --frobnicate; do
    assert_exit 2 $CAIRN --repo=$T/r run $o X=1 main
    assert_file_has_content "$T/err" "unknown option '$o'"
    assert_file_has_content "$T/err" "Try 'cairn run --help' for more information"
  done
  assert_exit 2 $CAIRN init --no-such-flag
  assert_file_has_content "$T/err" '^cairn: init: '
  assert_exit 2 $CAIRN --repo=r init --mode=nonsense
  assert_file_has_content "$T/err" "invalid repository mode 'nonsense'"
}
t_init_default_repo() {
  # $CAIRN_REPO, then /var/lib/cairn/repo (root) or $XDG_DATA_HOME/cairn/repo.
  CAIRN_REPO=$T/envrepo $CAIRN init --mode=archive > out
  assert_file_has_content out "archive-z2 repository in $T/envrepo"
  assert_file_has_content envrepo/config 'mode=archive-z2'
  for d in objects refs/heads refs/remotes refs/mirrors state tmp extensions; do assert_has_dir envrepo/$d; done
  # idempotent; a different mode is refused
  CAIRN_REPO=$T/envrepo $CAIRN init --mode=archive
  assert_exit 1 env CAIRN_REPO=$T/envrepo $CAIRN init --mode=bare-user
  assert_file_has_content "$T/err" 'already exists with mode archive-z2'
  if [ "$(id -u)" = 0 ]; then
    unshare -m sh -c "mount -t tmpfs none /var/lib && $CAIRN init >/dev/null && test -d /var/lib/cairn/repo/objects && grep -q mode=bare /var/lib/cairn/repo/config"
  fi
  env -u CAIRN_REPO XDG_DATA_HOME=$T/xdg HOME=$T setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null || true
}
# Errors are one line: "cairn: COMMAND: message", the message lower-case
# first, never a temporary or staging path.
t_error_form() {
  $CAIRN --repo=$T/r init >/dev/null
  mkdir -p tree/sub; echo a > tree/f; echo b > tree/sub/g
  c=$($CAIRN --repo=$T/r commit -b main tree)
  $CAIRN --repo=$T/r commit -b dir/a tree >/dev/null
  # a directory of refs is not a ref
  assert_exit 1 $CAIRN --repo=$T/r rev-parse dir
  assert_file_has_content "$T/err" "^cairn: rev-parse: ref 'dir' not found"
  assert_not_file_has_content "$T/err" "Is a directory"
  # checkout into an existing DEST is refused before any work: even with an
  # object missing, the answer is about DEST, and nothing is left beside it
  mkdir dest
  rm "$(find r/objects -name '*.file' | head -1)"
  assert_exit 1 $CAIRN --repo=$T/r checkout main dest
  assert_file_has_content "$T/err" "^cairn: checkout: destination dest exists"
  [ -z "$(ls -A dest)" ] && [ -z "$(ls -a | grep cairn-checkout)" ]
  for cmd in "rev-parse nosuchref" "checkout nosuchref x" "log nosuchref" "show 0000" \
    "init --mode=nonsense" "cat main /nonexistent" "commit -b main /nonexistent-dir"; do
    assert_fails $CAIRN --repo=$T/r $cmd
    grep -qE '^cairn: [a-z-]+: [a-z0-9(/"'"'"'`-]' "$T/err" ||
      { echo "assert: not lower-case or not prefixed: $cmd: $(cat "$T/err")"; exit 1; }
    assert_not_file_has_content "$T/err" 'staging\|/tmp/\|\.cairn-checkout'
  done
}

# Listing the refs of a user's default repository that does not exist yet
# prints none (it once failed with opendir); a read command names the
# repository it did not find.
t_refs_fresh_default_repo() {
  require_root
  local u="cairnclt$$"
  useradd -M -d /nonexistent -s /bin/false "$u"
  add_cleanup "userdel $u"
  mkdir -p home; chmod 0777 home
  run_as() { setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups \
    env -u CAIRN_REPO HOME="$T/home" XDG_DATA_HOME="$T/home/data" "$@"; }
  run_as $CAIRN refs > out 2> err
  [ ! -s out ] && [ ! -s err ]
  run_as $CAIRN refs --json > out
  assert_streq "$(cat out)" "[]"
  assert_not_has_file home/data/cairn/repo
  rc=0; run_as $CAIRN log main 2> err || rc=$?
  assert_streq $rc 1
  assert_file_has_content err "no repository at $T/home/data/cairn/repo"
}

t_repo_flag() {
  $CAIRN --repo=$T/r init --mode=bare-user-only > out
  assert_file_has_content r/config 'mode=bare-user-only'
  assert_exit 1 $CAIRN --repo=$T/missing fsck
}

t_fd_table_reserved() {
  # A process started by a shell has the kernel's smallest descriptor table
  # (64); cairn widens it before any thread starts (common/fdio.c), so that
  # no later growth waits for an RCU grace period in a threaded process.
  $CAIRN --repo=$T/r init --mode=archive >/dev/null
  local want=1024 soft; soft=$(ulimit -n)
  [ "$soft" != unlimited ] && [ "$soft" -lt $want ] && want=$soft
  mkfifo in
  $CAIRN --repo=$T/r serve --stdio $T/r < in > /dev/null &
  local pid=$! size=0 i
  exec 7> in # the server now waits for a request
  for i in $(seq 1 100); do
    size=$(awk '/^FDSize:/ {print $2}' /proc/$pid/status 2>/dev/null)
    [ "${size:-0}" -ge $want ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" != cairn ] && break
    sleep 0.05
  done
  exec 7>&-
  wait $pid || true
  [ "${size:-0}" -ge $want ] || { echo "FDSize of cairn serve: ${size:-none}, want >= $want"; return 1; }
}

# --progress=auto|bar|json|none (checkout, commit, import, pull, push): JSON events one
# object a line, the bar with totals and rate on a terminal, nothing else.
t_progress() {
  require_cmd python3 script
  export CAIRN_REPO=$T/repo
  $CAIRN init >/dev/null
  mkdir tree; for i in $(seq 1 300); do echo $i > tree/f$i; done
  $CAIRN commit --progress=json -b a tree 2>err >/dev/null
  python3 - err <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev and all(e["command"] == "commit" for e in ev), ev
last = ev[-1]
assert last.get("done") is True and last["files"] == 300 and last["bytes"] > 0, last
assert all(a["elapsed"] <= b["elapsed"] for a, b in zip(ev, ev[1:])), ev
PY
  tar -C tree -cf t.tar .
  $CAIRN commit --progress=json -b t --tree=tar=t.tar 2>err >/dev/null
  tail -1 err | grep -q '"files":30[01],.*"done":true'
  # checkout: files and bytes checked out, the same events
  $CAIRN checkout --progress=json a co 2>err
  python3 - err <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev and all(e["command"] == "checkout" for e in ev), ev
last = ev[-1]
assert last.get("done") is True and last["files"] == 300 and last["bytes"] == 1092, last
PY
  script -qec "$CAIRN checkout a $T/co-tty" /dev/null > out
  grep -q 'checkout: 300 files, .* MiB/s' out
  $CAIRN checkout a co-quiet 2>err
  [ ! -s err ] || { cat err; exit 1; }
  # pull: its messages as events
  CAIRN_REPO=$T/r2 $CAIRN init >/dev/null
  CAIRN_REPO=$T/r2 $CAIRN pull --progress=json $T/repo a 2>err >/dev/null
  grep -q '^{"command":"pull",.*"message":"pull: ' err
  grep -q '^{"command":"pull",.*"done":true}$' err
  # bar: totals and rate, on request or on a terminal (auto)
  echo x >> tree/f1
  $CAIRN commit --progress=bar -b a tree 2>err >/dev/null
  grep -q 'commit: 300 files, .* MiB/s' err
  echo y >> tree/f1
  out=$(script -qec "$CAIRN commit -b a $T/tree" /dev/null)
  echo "$out" | grep -q 'commit: 300 files, .* MiB/s'
  # auto without a terminal, and none: nothing on stderr
  echo z >> tree/f1
  $CAIRN commit -b a tree 2>err >/dev/null
  [ ! -s err ] || { cat err; exit 1; }
  echo w >> tree/f1
  script -qec "$CAIRN commit --progress=none -b a $T/tree" /dev/null > out
  assert_not_file_has_content out 'MiB/s'
  assert_exit 2 $CAIRN commit --progress=loud -b a tree
  assert_file_has_content "$T/err" "auto, bar, json or none, not 'loud'"
}

run_test "version" t_version
run_test "help" t_help
run_test "usage errors exit 2" t_usage_errors
run_test "init and default repository" t_init_default_repo
run_test "--repo" t_repo_flag
run_test "error messages: one line, lower-case, no temporary path; checkout refuses DEST first" t_error_form
run_test "refs of a fresh default repository (unprivileged user)" t_refs_fresh_default_repo
run_test "descriptor table reserved before threads start" t_fd_table_reserved
run_test "--progress: json events, the bar with totals and rate, none" t_progress
tests_done
