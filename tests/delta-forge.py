#!/usr/bin/python3
"""tests/delta-forge.py REPO DELTA-NAME CASE: rewrite a static delta of REPO
(docs/format.md §11) into a hostile one that a pull must refuse. The
superblock keeps its commit; its parts are replaced by one forged part
(written as part 0, with the checksum its header needs), so only the
operations are wrong. Run `summary -u` afterwards so that the digests the
remote lists match the forged superblock.

CASE:
  extra-object   part 0 as it was, but its header lists one object more
                 than its operations make
  out-of-bounds  a splice whose offset lies past the end of the payload
  bspatch-overrun a bspatch whose control record writes past the object
  wrong-content  a content object whose bytes do not hash to its name
  metadata-commit a part that makes a commit object (parts make trees only)
Needs GLib's introspection (python3-gi).
"""
import base64
import hashlib
import lzma
import os
import struct
import sys

import gi

gi.require_version("GLib", "2.0")
from gi.repository import GLib  # noqa: E402

SB_TYPE = "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"


def mb64(hexsum):
    return base64.b64encode(bytes.fromhex(hexsum)).decode().rstrip("=").replace("/", "_")


def delta_dir(repo, name):
    if "-" in name:
        f, t = name.split("-")
        a = mb64(f)
        return os.path.join(repo, "deltas", a[:2], a[2:] + "-" + mb64(t))
    a = mb64(name)
    return os.path.join(repo, "deltas", a[:2], a[2:])


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def part_file(ops, blob, mode=0o100644):
    modes = [(0, 0, struct.unpack("<I", struct.pack(">I", mode))[0])]
    payload = GLib.Variant("(a(uuu)aa(ayay)ayay)", (modes, [[]], blob, ops))
    data = payload.get_data_as_bytes().get_data()
    return b"x" + lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)


def part_header(csum_file, objects, usize, size):
    # (u version, ay checksum, t size, t usize, ay objects), little-endian host
    return (0, hashlib.sha256(csum_file).digest(), size, usize, objects)


def main():
    repo, name, case = sys.argv[1:4]
    d = delta_dir(repo, name)
    with open(os.path.join(d, "superblock"), "rb") as f:
        raw = f.read()
    sb = GLib.Variant.new_from_bytes(GLib.VariantType.new(SB_TYPE), GLib.Bytes.new(raw), False)
    parts = sb.get_child_value(6).unpack()
    objs0 = bytes(parts[0][4])
    first_file = next(objs0[i:i + 33] for i in range(0, len(objs0), 33) if objs0[i] == 1)
    if case == "extra-object":
        v, csum, size, usize, objs = parts[0]
        new_parts = [(v, bytes(csum), size, usize, bytes(objs) + b"\x01" + b"\xab" * 32)]
    else:
        if case == "out-of-bounds":
            blob = b"hello"
            ops = b"S" + varint(0) + varint(0) + varint(10) + varint(1000)
            objects = first_file
        elif case == "bspatch-overrun":
            # The read source is named by FORGE_SOURCE: an object the client
            # holds (the patch must fail in bspatch, not on a missing source).
            src = bytes.fromhex(os.environ["FORGE_SOURCE"])
            ctrl = struct.pack("<qqq", 100, 0, 0)  # 100 diff bytes into a 4-byte object
            blob = src + ctrl + b"\0" * 100
            ops = (b"r" + varint(0) + b"o" + varint(0) + varint(0) + varint(4) + b"B"
                   + varint(32) + varint(len(ctrl) + 100) + b"cR")
            objects = first_file
        elif case == "wrong-content":
            blob = b"not what the name says"
            ops = b"S" + varint(0) + varint(0) + varint(len(blob)) + varint(0)
            objects = first_file
        elif case == "metadata-commit":
            # A commit the client lacks: the target with another subject.
            c = sb.get_child_value(4)
            kids = [c.get_child_value(i) for i in range(c.n_children())]
            kids[3] = GLib.Variant("s", "forged")
            cbytes = GLib.Variant.new_tuple(*kids).get_data_as_bytes().get_data()
            blob = cbytes
            ops = b"S" + varint(len(blob)) + varint(0)
            objects = b"\x04" + hashlib.sha256(cbytes).digest()
        else:
            sys.exit("unknown case " + case)
        pf = part_file(ops, blob)
        new_parts = [part_header(pf, objects, 4, len(pf))]
        for i in range(1, len(parts) + 1):
            try:
                os.unlink(os.path.join(d, str(i)))
            except FileNotFoundError:
                pass
        with open(os.path.join(d, "0"), "wb") as f:
            f.write(pf)
    # Parts inline in the metadata would shadow the files: drop them.
    builder = GLib.VariantBuilder.new(GLib.VariantType.new("a{sv}"))
    for i in range(sb.get_child_value(0).n_children()):
        e = sb.get_child_value(0).get_child_value(i)
        k = e.get_child_value(0).get_string()
        if k.startswith("deltas/") and not k.endswith("/commitmeta"):
            continue
        builder.add_value(e)
    metav = builder.end()
    out = GLib.Variant.new_tuple(
        metav, sb.get_child_value(1), sb.get_child_value(2), sb.get_child_value(3),
        sb.get_child_value(4), sb.get_child_value(5),
        GLib.Variant("a(uayttay)", new_parts), sb.get_child_value(7))
    with open(os.path.join(d, "superblock"), "wb") as f:
        f.write(out.get_data_as_bytes().get_data())


if __name__ == "__main__":
    main()
