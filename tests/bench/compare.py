#!/usr/bin/env python3
# cairn benchmark driver: runs commands alternately (cairn, anchor, cairn, ...)
# after a warm-up, measures wall time and peak RSS of each run (wait4 rusage of
# the whole process tree's largest child), prints medians, min/max and ratios.
#
# Usage: compare.py --label L --runs N --warmup W [--prepare CMD]
#                   NAME=CMD [NAME=CMD ...]
# The first NAME=CMD is the subject (cairn); ratios are subject/other.
# --prepare runs (untimed, via sh -c) before *every* timed run of every command,
# with $BENCH_WHICH set to the NAME about to run.
# Prints one block of text and, with --json FILE, appends a JSON line.
import argparse, json, os, resource, statistics, subprocess, sys, time

def run_once(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write("bench: command failed (exit %d): %s\n" % (p.returncode, cmd))
        sys.exit(1)
    return dt, ru.ru_maxrss  # KiB (largest single process in the tree that was waited)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--prepare", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--target", action="append", default=[],
                    help="NAME<=RATIO: goal for subject/NAME, reported as met/missed")
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    cmds = []
    for c in a.cmds:
        name, _, cmd = c.partition("=")
        cmds.append((name, cmd))
    times = {n: [] for n, _ in cmds}
    rss = {n: 0 for n, _ in cmds}
    env = dict(os.environ)

    def one(name, cmd, record):
        if a.prepare:
            e = dict(env, BENCH_WHICH=name)
            subprocess.run(["sh", "-c", a.prepare], check=True, env=e, stdout=subprocess.DEVNULL)
        # Peak RSS of descendants: RUSAGE_CHILDREN maxrss is a high-water mark
        # over all waited children, so measure via the wait4 of this run only.
        dt, r = run_once(cmd, dict(env, BENCH_WHICH=name))
        if record:
            times[name].append(dt)
            rss[name] = max(rss[name], r)

    for _ in range(a.warmup):
        for n, c in cmds:
            one(n, c, False)
    for i in range(a.runs):
        order = cmds if i % 2 == 0 else list(reversed(cmds))
        for n, c in order:
            one(n, c, True)

    # Peak RSS: one extra (untimed) run per command under /usr/bin/time, whose
    # own small process forks it: measuring through wait4 from python would
    # count the python image the child had between fork and exec.
    if os.path.exists("/usr/bin/time"):
        for n, c in cmds:
            if a.prepare:
                subprocess.run(["sh", "-c", a.prepare], check=True, stdout=subprocess.DEVNULL,
                               env=dict(env, BENCH_WHICH=n))
            out = "/tmp/.cairn-bench-rss"
            r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out, "sh", "-c", c],
                               stdout=subprocess.DEVNULL, env=dict(env, BENCH_WHICH=n))
            if r.returncode == 0:
                with open(out) as f:
                    rss[n] = int(f.read().split()[-1])

    subj = cmds[0][0]
    med = {n: statistics.median(v) for n, v in times.items()}
    print("== %s (%d runs, %d warm-up; medians, alternating order)" % (a.label, a.runs, a.warmup))
    print("   %-28s %10s %10s %10s %10s %9s" % ("command", "median ms", "min ms", "max ms", "peak RSS", "ratio"))
    for n, _ in cmds:
        ratio = med[subj] / med[n] if med[n] > 0 else float("nan")
        print("   %-28s %10.2f %10.2f %10.2f %8d K %8.2fx" % (
            n, med[n] * 1e3, min(times[n]) * 1e3, max(times[n]) * 1e3, rss[n],
            1.0 if n == subj else ratio))
    results = {"label": a.label, "runs": a.runs,
               "median_ms": {n: med[n] * 1e3 for n in med},
               "min_ms": {n: min(v) * 1e3 for n, v in times.items()},
               "max_ms": {n: max(v) * 1e3 for n, v in times.items()},
               "peak_rss_kib": rss, "targets": []}
    for t in a.target:
        name, _, lim = t.partition("<=")
        ratio = med[subj] / med[name]
        ok = ratio <= float(lim)
        results["targets"].append({"vs": name, "ratio": ratio, "goal": float(lim), "met": ok})
        print("   goal %s/%s <= %.2fx: %.2fx %s" % (subj, name, float(lim), ratio, "MET" if ok else "MISSED"))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(results) + "\n")

if __name__ == "__main__":
    main()
