# tests/bench/lib.sh — helpers for benchmark scenarios (sourced by run.sh).
#
# A scenario is tests/bench/scenario-NAME.sh defining a function scenario_NAME.
# It prepares inputs under $BENCH_WORK (fresh per scenario) and calls
#   bench_compare LABEL [--runs N] [--warmup W] [--prepare CMD] [--target NAME<=R]... \
#       cairn='CMD' NAME='CMD' ...
# The first command is the subject; ratios are subject/anchor. Results are
# printed and appended as JSON lines to $BENCH_RESULTS.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CAIRN_TOP_SRCDIR:=$(cd "$BENCH_DIR/../.." && pwd)}"
: "${CAIRN_TOP_BUILDDIR:=$CAIRN_TOP_SRCDIR/_build}"
CAIRN=${CAIRN:-$CAIRN_TOP_BUILDDIR/cairn}
CAIRN_LAUNCH=${CAIRN_LAUNCH:-$CAIRN_TOP_BUILDDIR/cairn-launch}
export CAIRN CAIRN_LAUNCH
: "${BENCH_CACHE:=/var/tmp/cairn-bench}"
: "${BENCH_RUNS:=7}"
: "${BENCH_RESULTS:=$BENCH_CACHE/results-$(date +%Y%m%d-%H%M%S).jsonl}"
mkdir -p "$BENCH_CACHE"

bench_compare() {
  local label=$1; shift
  local args=(--label "$label" --runs "$BENCH_RUNS" --json "$BENCH_RESULTS")
  python3 "$BENCH_DIR/compare.py" "${args[@]}" "$@"
}

# bench_lean LABEL [--runs N] [--prepare CMD] [--goal-ms MS] NAME='CMD' ...
# The same comparison without compare.py's own process start: each command
# runs from this bash (eval: bash forks and execs its programs itself, no
# Python fork and no `sh -c`), timed by $EPOCHREALTIME around it, alternating
# order, one warm-up, CMD prepared (untimed, eval) before every run. For
# commands of a few ms, where compare.py's Python fork and shell (~6 ms on
# this VM) would be most of the figure. --goal-ms: an absolute goal for the
# first command's median.
bench_lean() {
  local label=$1 runs=$BENCH_RUNS prepare=: goal= i j n t0 t1; shift
  while :; do
    case $1 in
      --runs) runs=$2; shift 2 ;;
      --prepare) prepare=$2; shift 2 ;;
      --goal-ms) goal=$2; shift 2 ;;
      *) break ;;
    esac
  done
  local -a names=() cmds=() order
  local -A times=()
  for a in "$@"; do names+=("${a%%=*}"); cmds+=("${a#*=}"); done
  for ((i = -1; i < runs; i++)); do
    order=()
    for ((j = 0; j < ${#names[@]}; j++)); do
      order+=($(( i % 2 == 0 || i < 0 ? j : ${#names[@]} - 1 - j )))
    done
    for j in "${order[@]}"; do
      n=${names[j]}
      BENCH_WHICH=$n eval "$prepare" >/dev/null || return 1
      t0=$EPOCHREALTIME
      BENCH_WHICH=$n eval "${cmds[j]}" >/dev/null || { echo "bench: command failed: ${cmds[j]}" >&2; return 1; }
      t1=$EPOCHREALTIME
      ((i < 0)) || times[$n]+=" $(( ${t1/./} - ${t0/./} ))"
    done
  done
  for n in "${names[@]}"; do echo "$n${times[$n]}"; done \
    | python3 -c '
import json, statistics, sys
label, runs, goal, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [l.split() for l in sys.stdin if l.strip()]
med = {r[0]: statistics.median(int(x) / 1e3 for x in r[1:]) for r in rows}
lo = {r[0]: min(int(x) / 1e3 for x in r[1:]) for r in rows}
hi = {r[0]: max(int(x) / 1e3 for x in r[1:]) for r in rows}
subj = rows[0][0]
print("== %s (%d runs, 1 warm-up; medians, alternating order; bash $EPOCHREALTIME, no compare.py)" % (label, runs))
print("   %-28s %10s %10s %10s %9s" % ("command", "median ms", "min ms", "max ms", "ratio"))
for r in rows:
    n = r[0]
    print("   %-28s %10.2f %10.2f %10.2f %8.2fx" % (n, med[n], lo[n], hi[n], med[subj] / med[n]))
res = {"label": label, "runs": runs, "timer": "bash", "median_ms": med, "min_ms": lo,
       "max_ms": hi, "peak_rss_kib": {}, "targets": []}
if goal:
    ok = med[subj] <= float(goal)
    res["targets"].append({"vs": "ms", "value": med[subj], "goal": float(goal), "met": ok})
    print("   goal %s <= %s ms: %.2f ms %s" % (subj, goal, med[subj], "MET" if ok else "MISSED"))
with open(out, "a") as f:
    f.write(json.dumps(res) + "\n")
' "$label" "$runs" "$goal" "$BENCH_RESULTS"
}

# The conditions a figure depends on, printed with the figures: an idle
# machine, memory, dirty data still to be written back, the filesystem of the
# work directory, the commit's thread count. A fresh machine differs from a
# warm one mostly in these: a just-made debootstrap tree is dirty or not yet
# in the page cache, and ext4 has just-deleted inodes to skip.
bench_conditions() {
  local fs opts
  fs=$(stat -f -c %T /var/tmp 2>/dev/null)
  opts=$(findmnt -n -o OPTIONS --target /var/tmp 2>/dev/null)
  echo "conditions: $(nproc) cpus (cairn commit: two hashing threads per cpu), load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "MemAvailable $(awk '/^MemAvailable/ {print int($2/1024)}' /proc/meminfo) MiB," \
    "Dirty $(awk '/^Dirty:/ {print int($2/1024)}' /proc/meminfo) MiB, /var/tmp on $fs ($opts)"
}

# How much of a tree's file data is in the page cache ("R of S MiB of its
# data in the page cache", from fincore).
# A commit of a tree that is not cached (the first run on a fresh machine)
# reads it from disk; printed with the commit rows, so that a figure says
# which case it measured.
bench_tree_cached() {
  if ! command -v fincore >/dev/null; then echo "page cache unknown (no fincore)"; return; fi
  find "$1" -type f -print0 | xargs -0 -r fincore -b -n -o RES,SIZE 2>/dev/null \
    | awk '{r += ($1 < $2 ? $1 : $2); s += $2} END {printf "%d of %d MiB of its data in the page cache\n", r / 1048576, s / 1048576}'
}

# Drop the page cache (root only): with it, a run reads its input from disk as
# the first run on a fresh machine does.
bench_cold_prepare() {
  echo "sync && echo 3 > /proc/sys/vm/drop_caches"
}

# The Debian minbase rootfs, built once with debootstrap and cached; device
# nodes under /dev are removed (the launcher provides /dev; ostree refuses them).
bench_debian_rootfs() {
  local r=$BENCH_CACHE/debian-minbase
  if [ ! -f "$r.done" ]; then
    rm -rf "$r"
    echo "bench: building Debian minbase rootfs with debootstrap (once, cached in $r)" >&2
    debootstrap --variant=minbase bookworm "$r" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2 \
      || { echo "bench: debootstrap failed" >&2; return 1; }
    find "$r/dev" -mindepth 1 \( -type c -o -type b -o -type p -o -type s \) -delete
    find "$r" -xdev \( -type c -o -type b -o -type p -o -type s \) -delete
    touch "$r.done"
  fi
  echo "$r"
}

# A tarball of the Debian rootfs (numeric owners), cached.
bench_debian_tarball() {
  local r; r=$(bench_debian_rootfs) || return 1
  local t=$BENCH_CACHE/debian-minbase.tar
  [ -f "$t" ] || tar --numeric-owner --xattrs -C "$r" -cf "$t" . >&2
  echo "$t"
}

# A busybox rootfs (static busybox + applet links + empty mount points).
bench_busybox_rootfs() {
  local r=$BENCH_CACHE/busybox-rootfs
  if [ ! -f "$r/.done" ]; then
    rm -rf "$r"; mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/sys" "$r/tmp" "$r/etc"
    cp /bin/busybox "$r/bin/busybox"
    for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
    touch "$r/.done"
  fi
  echo "$r"
}

# Synthetic tree of N small files (for scaling runs), cached.
bench_synthetic_tree() {
  local n=$1 d=$BENCH_CACHE/synthetic-$1
  if [ ! -f "$d.done" ]; then
    rm -rf "$d"; mkdir -p "$d"
    python3 - "$d" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for i in range(n):
    sub = os.path.join(root, "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%06d" % i), "w") as f:
        f.write("file %d\n" % i)
PY
    touch "$d.done"
  fi
  echo "$d"
}

# Peak RSS (KiB) and wall seconds of one command: prints "SECONDS KIB".
bench_time_rss() {
  /usr/bin/time -f '%e %M' -o "$BENCH_CACHE/.time" sh -c "$*" >/dev/null 2>&1 || return 1
  cat "$BENCH_CACHE/.time"
}

# A --prepare command that creates a fresh cairn repo ($BENCH_WORK/cur/c) and
# ostree repo ($BENCH_WORK/cur/o) of MODE in a NEW directory before each run.
# Old runs are not deleted until the scenario ends: removing thousands of
# inodes just before a timed run makes ext4 scan past "recently deleted"
# inodes for every file created afterwards (measured: ~40% of a commit's
# time), an artefact of the harness that would otherwise be measured.
# It ends with `sync`: otherwise the previous run's dirty data (the other
# tool's, since runs alternate) is still being written back, and the next
# run's syncfs waits for it.
# A --prepare command that makes a NEW empty directory $BENCH_WORK/cur
# (for checkouts) before each run; same reasons as below.
bench_fresh_dir_prepare() {
  echo "n=\$(( \$(cat $BENCH_WORK/.n 2>/dev/null || echo 0) + 1 )); echo \$n > $BENCH_WORK/.n; mkdir -p $BENCH_WORK/run-\$n && ln -sfn run-\$n $BENCH_WORK/cur && sync"
}

bench_fresh_repos_prepare() {
  local mode=$1
  echo "n=\$(( \$(cat $BENCH_WORK/.n 2>/dev/null || echo 0) + 1 )); echo \$n > $BENCH_WORK/.n; d=$BENCH_WORK/run-\$n; mkdir -p \$d; $CAIRN --repo=\$d/c init --mode=$mode >/dev/null && ostree --repo=\$d/o init --mode=$mode && ln -sfn run-\$n $BENCH_WORK/cur && sync"
}
# The same, each repository with the remote origin at URL (no GPG).
bench_fresh_remotes_prepare() {
  local mode=$1 url=$2 w=$BENCH_WORK
  echo "$(bench_fresh_repos_prepare "$mode"); $CAIRN --repo=$w/cur/c remote add --no-gpg-verify origin $url; ostree --repo=$w/cur/o remote add --no-gpg-verify origin $url"
}

# bench_podman DIR: podman with its own storage and configuration under DIR
# (as tests/test-oci-engines.sh), no network unless asked; prints the
# command line to use (run it inside tests/oci-sandbox.sh).
bench_podman() {
  local P=$1 nproc
  nproc=$(ulimit -Hu); [ "$nproc" != unlimited ] && [ "$nproc" -le 32768 ] || nproc=32768
  mkdir -p "$P/tmp" "$P/home/.config/containers"
  printf '[containers]\nnetns = "none"\nlog_driver = "k8s-file"\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\n' \
    "$(ulimit -Hn)" "$(ulimit -Hn)" "$nproc" "$nproc" "$P" > "$P/containers.conf"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$P" "$P" > "$P/storage.conf"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$P/home/.config/containers/policy.json"
  echo "env HOME=$P/home CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf podman --root $P/storage --runroot $P/run --tmpdir $P/tmp --cgroup-manager=cgroupfs --events-backend=file"
}
