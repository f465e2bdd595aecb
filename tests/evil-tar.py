#!/usr/bin/env python3
"""tests/evil-tar.py OUTDIR — write hostile tarballs for the import tests.

Each file exercises one attack on the tar import; the test expects cairn to
refuse it (naming the entry) or to contain it (duplicates: the later entry
wins; device nodes/fifos: skipped with a counted warning).
"""
import gzip, io, os, sys, tarfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def member(name, data=b"x", **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if ti.type == tarfile.REGTYPE:
        ti.size = len(data)
        return ti, io.BytesIO(data)
    return ti, None


def write(fname, members, fmt=tarfile.GNU_FORMAT, mode="w"):
    with tarfile.open(os.path.join(out, fname), mode, format=fmt) as t:
        for ti, f in members:
            t.addfile(ti, f)


d = dict(type=tarfile.DIRTYPE, mode=0o755)
write("dotdot.tar", [member("ok", **d), member("ok/../../escape", b"evil")])
write("absolute.tar", [member("/etc/evil-abs", b"evil")])
write("hardlink-outside.tar", [member("a", b"a"), member("h", type=tarfile.LNKTYPE, linkname="../../etc/passwd")])
write("hardlink-unseen.tar", [member("h", type=tarfile.LNKTYPE, linkname="later"), member("later", b"l")])
write("symlink-through.tar", [member("link", type=tarfile.SYMTYPE, linkname="/etc"),
                              member("link/evil-through", b"evil")])
write("duplicate.tar", [member("dir", **d), member("dir/f", b"first\n"), member("dir/f", b"second\n")])
write("devices.tar", [member("dev", **d),
                      member("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3),
                      member("dev/fifo", type=tarfile.FIFOTYPE),
                      member("dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0),
                      member("regular", b"r\n")])
# Raw bytes in a GNU header: not UTF-8.
ti = tarfile.TarInfo("bad-\udcff-utf8")
ti.size = 1
with tarfile.open(os.path.join(out, "bad-utf8.tar"), "w", format=tarfile.GNU_FORMAT,
                  encoding="utf-8", errors="surrogateescape") as t:
    t.addfile(ti, io.BytesIO(b"x"))
# A NUL inside a pax path record (the ustar name field cannot hold one).
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("nulname")
    ti.pax_headers = {"path": "evil\x00name"}
    ti.size = 1
    t.addfile(ti, io.BytesIO(b"x"))
open(os.path.join(out, "nul-name.tar"), "wb").write(raw.getvalue())
# Compression damage: truncated and corrupted gzip of a valid tar.
plain = io.BytesIO()
with tarfile.open(fileobj=plain, mode="w") as t:
    for i in range(50):
        ti, f = member("file%03d" % i, os.urandom(4096))
        t.addfile(ti, f)
gz = gzip.compress(plain.getvalue())
open(os.path.join(out, "truncated.tar.gz"), "wb").write(gz[: len(gz) // 2])
bad = bytearray(gz)
for i in range(len(bad) // 3, len(bad) // 3 + 64):
    bad[i] ^= 0x5A
open(os.path.join(out, "corrupt.tar.gz"), "wb").write(bytes(bad))
# Names no checkout can create: a 300-byte component (a file; a directory
# in the middle of a path) and a symlink target longer than PATH_MAX.
write("long-name.tar", [member("ok", **d), member("ok/" + "n" * 300, b"long")])
write("long-dir.tar", [member("d" * 300 + "/f", b"x")], fmt=tarfile.PAX_FORMAT)
write("long-target.tar", [member("l", type=tarfile.SYMTYPE, linkname="t/" * 2100)], fmt=tarfile.PAX_FORMAT)
