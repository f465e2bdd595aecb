#!/usr/bin/env python3
# tests/oci-validation/classify.py TAPFILE EXIT-STATUS — the verdict on one
# runtime-tools validation program's output, printed as
#   pass|fail|skip OK TOTAL WHY
# classify.py --dir DIR NAME... — the same for each program NAME whose
# output is DIR/NAME.tap and exit status in DIR/NAME.rc (one interpreter
# for a whole run), printed as "NAME pass|fail|skip OK TOTAL WHY" lines.
# A program may print several TAP streams (one "TAP version 13" header and
# plan each: linux_cgroups_cpus runs two groups), and some programs (the
# hook tests) print no test point at all and report a failure only as a
# YAML block with an "error" key before a "1..0" plan. So a program passes
# when it exited 0, printed no "not ok" (TODO points excepted), every
# stream's plan matches its points, and no stream without points carries a
# YAML block; it is skipped when all its points are "# SKIP".
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import re
import sys

def classify(path, rc):
    streams = []  # [points_ok, points_bad, skips, plan, yaml_blocks]
    try:
        text = open(path, errors="replace").read().splitlines()
    except FileNotFoundError:
        text = []
    for line in text:
        line = line.rstrip("\n")
        if line == "TAP version 13" or not streams:
            streams.append([0, 0, 0, None, 0])
            if line == "TAP version 13":
                continue
        s = streams[-1]
        if re.match(r"^ok \d+", line):
            s[0] += 1
            if "# SKIP" in line:
                s[2] += 1
        elif re.match(r"^not ok \d+", line) and "# TODO" not in line:
            s[1] += 1
        elif re.match(r"^1\.\.\d+$", line):
            s[3] = int(line[3:])
        elif line == "  ---":
            s[4] += 1

    ok = sum(s[0] for s in streams)
    bad = sum(s[1] for s in streams)
    skips = sum(s[2] for s in streams)
    why = []
    if rc == 124:
        why.append("timeout")
    elif rc != 0:
        why.append("exit %d" % rc)
    if bad:
        why.append("%d not ok" % bad)
    for i, s in enumerate(streams):
        n = s[0] + s[1]
        if s[3] is None:
            why.append("stream %d: no plan" % (i + 1))
        elif s[3] != n:
            why.append("stream %d: plan %d for %d points" % (i + 1, s[3], n))
        if n == 0 and s[4]:
            why.append("stream %d: error reported without a test point" % (i + 1))
    if not streams:
        why.append("no output")
    if why:
        verdict = "fail"
    elif ok and skips == ok:
        verdict = "skip"
    else:
        verdict = "pass"
    return verdict, ok, ok + bad, "; ".join(why) or "-"


if sys.argv[1] == "--dir":
    d = sys.argv[2]
    for name in sys.argv[3:]:
        try:
            rc = int(open("%s/%s.rc" % (d, name)).read().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            print(name, "fail", 0, 0, "not run (its sandbox failed)")
            continue
        print(name, *classify("%s/%s.tap" % (d, name), rc))
else:
    print(*classify(sys.argv[1], int(sys.argv[2])))
