#!/bin/bash
# tests/bench/trace-start.sh [-n RUNS] CMD [ARG...]: where the time of a
# short command goes, process by process, from the kernel's own tracepoints
# (tracefs: raw_syscalls, sched_process_{fork,exec,exit}), with little of the
# distortion strace's stops add. Root only; not part of the suite.
#
# For each of RUNS traced runs (after two untraced ones) it prints the time
# between the tracked process events (exec, fork, exit) and, per process,
# its system call count, the time spent in them and the time between them
# (its own code and page faults); then the medians. How docs/performance.md's
# "Warm start of cairn run" section took the OCI path apart, e.g.:
#   tests/bench/trace-start.sh -n 8 _build/cairn run --rm --net=none REF /bin/true
#   tests/bench/trace-start.sh -n 8 _build/cairn-launch CHECKOUT -- /bin/true
set -euo pipefail
runs=5
if [ "${1:-}" = -n ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-n RUNS] CMD [ARG...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "trace-start: root only (tracefs)" >&2; exit 2; }
T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T"
events="raw_syscalls/sys_enter raw_syscalls/sys_exit sched/sched_process_exec sched/sched_process_fork sched/sched_process_exit"
py=$(command -v /usr/bin/python3 || command -v python3)
out=$(mktemp -d /tmp/trace-start.XXXXXX)
off() {
  echo 0 > "$T/tracing_on"
  for e in $events; do echo 0 > "$T/events/$e/enable"; done
  echo > "$T/set_event_pid"
  echo 0 > "$T/options/event-fork"
}
trap 'off; rm -rf "$out"' EXIT
"$@" >/dev/null 2>&1 || true
"$@" >/dev/null 2>&1 || true
for i in $(seq "$runs"); do
  echo 0 > "$T/tracing_on"
  echo > "$T/trace"
  echo 16384 > "$T/buffer_size_kb"
  for e in $events; do echo 1 > "$T/events/$e/enable"; done
  echo 1 > "$T/options/event-fork"
  # a shell that traces itself from its own pid on, then becomes CMD
  sh -c 'echo $$ > '"$T"'/set_event_pid; echo 1 > '"$T"'/tracing_on; exec "$@"' sh "$@" \
    >/dev/null 2>&1 || true
  off
  cp "$T/trace" "$out/$i"
done
"$py" - "$out" "$runs" <<'PY'
import re, statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
rx = re.compile(r'^\s*\S+-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+): (.*)$')
phases, per = [], []
for i in range(1, runs + 1):
    ev, enter, last, procs = [], {}, {}, {}
    for line in open("%s/%d" % (d, i)):
        m = rx.match(line)
        if not m:
            continue
        pid, t, kind, rest = m.group(1), float(m.group(2)) * 1e3, m.group(3), m.group(4)
        p = procs.setdefault(pid, [0, 0.0, 0.0])
        if kind == "sys_enter":
            if pid in last:
                p[2] += t - last[pid]
            enter[pid] = t
        elif kind == "sys_exit" and pid in enter:
            p[0] += 1
            p[1] += t - enter.pop(pid)
            last[pid] = t
        elif kind.startswith("sched_process_"):
            what = kind[len("sched_process_"):]
            name = re.search(r"filename=(\S+)", rest) if what == "exec" else None
            ev.append((t, pid, what, name.group(1).rsplit("/", 1)[-1] if name else ""))
            last[pid] = t
    ev = [e for e in ev if not (e[2] == "exec" and e[3] == "sh")]
    steps = ["%s %s %s" % (e[2], e[1], e[3]) for e in ev]
    phases.append([(steps[k] + " -> " + steps[k + 1], ev[k + 1][0] - ev[k][0])
                   for k in range(len(ev) - 1)] + [("total", ev[-1][0] - ev[0][0])])
    order = {}
    for e in ev:
        order.setdefault(e[1], len(order))
    per.append({order[p]: v for p, v in procs.items() if p in order})
print("phases of run %d (ms):" % runs)
for name, ms in phases[-1]:
    print("  %8.3f  %s" % (ms, name))
totals = [p[-1][1] for p in phases]
print("total: median %.3f ms, min %.3f, max %.3f over %d runs"
      % (statistics.median(totals), min(totals), max(totals), runs))
print("per process (in order of appearance), medians: calls, ms in calls, ms between")
for k in sorted(set().union(*per)):
    rows = [r[k] for r in per if k in r]
    print("  #%d: %5d %8.3f %8.3f" % (k, statistics.median(r[0] for r in rows),
                                      statistics.median(r[1] for r in rows),
                                      statistics.median(r[2] for r in rows)))
PY
