#!/usr/bin/env python3
"""tests/check-layering.py [TOPDIR]: the modules keep to their arrows.

Fails (exit 1, one line per offence naming the file and what it uses) when
  - a module includes a header of a module it may not depend on (the arrows
    of docs/ARCHITECTURE.md section 1, the table DEPS below), or the launcher
    includes GLib;
  - a file includes another module's *-private.h, or a module other than
    sync/ and image/ includes store/cairn-store-lowlevel.h;
  - a library's LIBADD (or a program's LDADD) names a project library of a
    module its module may not depend on, or a library's sources include a
    header of a module whose library its LIBADD does not name;
  - cairn-core's link (its LDADD and, through them, every LIBADD) reaches
    libarchive, libcurl or libfuse3 (docs/ARCHITECTURE.md, "Binaries");
  - the front end's files (FRONT_END: cli/ files linked into the launcher's
    static binary, of which `cairn` is a second name) include GLib or a
    project header other than each other's and runtime/launch.h, or a
    program is built from several modules otherwise.
The files are those git tracks (every file of the module directories when
TOPDIR is not a git checkout, as in `make distcheck`). Used by
tests/test-layering.sh, which also proves that it fails.
"""
import os
import re
import subprocess
import sys

# module -> the modules it may depend on (besides itself); None: any.
DEPS = {
    "common": set(),
    "store": {"common"},
    "sign": {"common"},
    "sync": {"store", "sign", "common"},
    "image": {"store", "common"},
    "checkout": {"store", "common"},
    "runtime": set(),
    "cli": None,
    "tests": None,
}
# Headers meant for some modules only (besides their own module and tests/).
RESTRICTED = {"store/cairn-store-lowlevel.h": {"sync", "image"}}
# cli/ files also linked into cairn-launch (docs/ARCHITECTURE.md, "Binaries"):
# plain C, their project headers only these.
FRONT_END = {"cli/front.c", "cli/run-record.c", "cli/run-record.h"}
FRONT_END_HEADERS = {"cli/run-record.h", "runtime/launch.h"}
# What cairn-core must never load (cli/front.c sends those commands to cairn-full).
CORE_FORBIDDEN = ("$(ARCHIVE_LIBS)", "$(CURL_LIBS)", "$(FUSE3_LIBS)")

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def module_of(path):
    top = path.split("/", 1)[0]
    return top if top in DEPS and "/" in path else None


def may_use(mod, other):
    allowed = DEPS[mod]
    return other == mod or allowed is None or other in allowed


def list_files(top):
    if os.path.isdir(os.path.join(top, ".git")) or os.path.isfile(os.path.join(top, ".git")):
        out = subprocess.run(["git", "-C", top, "ls-files"], check=True, capture_output=True,
                             text=True).stdout
        return out.splitlines()
    files = []
    for mod in DEPS:
        for dirpath, _, names in os.walk(os.path.join(top, mod)):
            for n in names:
                files.append(os.path.relpath(os.path.join(dirpath, n), top))
    files += [n for n in os.listdir(top) if n.startswith("Makefile") and n.endswith(".am")]
    return sorted(files)


def check_includes(top, files, offences):
    """Returns {file: set of modules whose headers it includes}."""
    used = {}
    for f in files:
        mod = module_of(f)
        if mod is None or not f.endswith((".c", ".h")):
            continue
        used[f] = set()
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                hdr = m.group(1)
                if mod == "runtime" and hdr.split("/")[0] in ("glib.h", "glib", "gio"):
                    offences.append(f"{f}:{n}: runtime/ includes GLib ({hdr})")
                if f in FRONT_END and (hdr.split("/")[0] in ("glib.h", "glib", "gio") or (
                        module_of(hdr) is not None and hdr not in FRONT_END_HEADERS)):
                    offences.append(f"{f}:{n}: the front end (linked into cairn-launch) "
                                    f"includes {hdr}")
                other = module_of(hdr)
                if other is None:
                    continue
                used[f].add(other)
                where = f"{f}:{n}: {mod}/ includes {hdr}"
                if not may_use(mod, other):
                    offences.append(f"{where}, but {mod}/ may not depend on {other}/")
                elif (other != mod and mod != "tests"
                      and os.path.basename(hdr).endswith("-private.h")):
                    offences.append(f"{where}, a header private to {other}/")
                elif hdr in RESTRICTED and mod not in RESTRICTED[hdr] | {other, "tests"}:
                    offences.append(f"{where}, which only "
                                    f"{', '.join(sorted(RESTRICTED[hdr]))} may use")
    return used


def parse_makefiles(top, files):
    """{canonical target name: {var suffix: [words]}} from Makefile*.am."""
    targets = {}
    for f in files:
        if not (os.path.basename(f).startswith("Makefile") and f.endswith(".am")):
            continue
        with open(os.path.join(top, f), encoding="utf-8") as fh:
            text = fh.read().replace("\\\n", " ")
        for line in text.splitlines():
            m = re.match(r"^([A-Za-z0-9_]+)_(SOURCES|LIBADD|LDADD)\s*\+?=(.*)$", line)
            if m:
                t = targets.setdefault(m.group(1), {"file": f})
                t.setdefault(m.group(2), []).extend(m.group(3).split())
    return targets


def canon(lib):
    return re.sub(r"[^A-Za-z0-9]", "_", lib)


def check_links(targets, used, offences):
    lib_module = {}
    for name, t in targets.items():
        mods = {module_of(s) for s in t.get("SOURCES", [])
                if s != "$(NULL)" and s not in FRONT_END}
        mods.discard(None)
        if len(mods) == 1:
            lib_module[name] = mods.pop()
        elif len(mods) > 1:
            offences.append(f"{t['file']}: {name} is built from several modules: "
                            f"{', '.join(sorted(mods))}")
    for name, t in targets.items():
        mod = lib_module.get(name)
        if mod is None:
            continue
        kind = "LIBADD" if "LIBADD" in t else "LDADD"
        linked = set()
        for word in t.get(kind, []):
            if not word.endswith(".la"):
                continue
            other = lib_module.get(canon(word))
            if other is None:
                offences.append(f"{t['file']}: {name}_{kind} names {word}, not a project library")
                continue
            linked.add(other)
            if not may_use(mod, other):
                offences.append(f"{t['file']}: {name}_{kind} links {word}, but {mod}/ may not "
                                f"depend on {other}/")
        if "LIBADD" not in t or not name.startswith("lib"):
            continue
        needed = set()
        for s in t.get("SOURCES", []):
            needed |= used.get(s, set())
        for other in sorted(needed - linked - {mod}):
            offences.append(f"{t['file']}: {name}_LIBADD lacks the library of {other}/, "
                            f"whose headers its sources include")
    core = targets.get("cairn_core")
    if core:
        seen, todo, reach = set(), list(core.get("LDADD", [])), []
        while todo:
            w = todo.pop()
            if w in seen:
                continue
            seen.add(w)
            reach.append(w)
            if w.endswith(".la") and canon(w) in targets:
                todo += targets[canon(w)].get("LIBADD", [])
        for w in sorted(set(reach) & set(CORE_FORBIDDEN)):
            offences.append(f"{core['file']}: cairn-core's link reaches {w}")


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    files = list_files(top)
    offences = []
    used = check_includes(top, files, offences)
    check_links(parse_makefiles(top, files), used, offences)
    for o in offences:
        print(o)
    return 1 if offences else 0


if __name__ == "__main__":
    sys.exit(main())
