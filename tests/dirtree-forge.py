#!/usr/bin/python3
"""tests/dirtree-forge.py REPO REF CASE: write a commit whose root dirtree
is hostile (docs/format.md §1.2, §7.2) and point ref `forged` at it. The
new dirtree and commit objects are stored under the checksums of their
bytes, so only their content is wrong: a reader must refuse the tree
itself. The root must have at least two files and one directory.

CASE:
  unsorted   the first two file entries swapped
  twice      a file entry with the name of the first directory
  badname    a file named "a/b"
  shortsum   a file entry whose checksum is 31 bytes
  framing    the first file entry's framing offset (the end of its name)
             points past the entry: not in normal form, no valid parse
Prints the forged dirtree's checksum. Needs GLib's introspection (python3-gi).
"""
import hashlib
import os
import sys

import gi

gi.require_version("GLib", "2.0")
from gi.repository import GLib  # noqa: E402

TREE = "(a(say)a(sayay))"
COMMIT = "(a{sv}aya(say)sstayay)"


def obj_path(repo, hexsum, kind):
    return os.path.join(repo, "objects", hexsum[:2], f"{hexsum[2:]}.{kind}")


def read_obj(repo, hexsum, kind, vtype):
    with open(obj_path(repo, hexsum, kind), "rb") as f:
        data = f.read()
    return GLib.Variant.new_from_bytes(GLib.VariantType(vtype), GLib.Bytes.new(data), False)


def write_obj(repo, data, kind):
    hexsum = hashlib.sha256(data).hexdigest()
    path = obj_path(repo, hexsum, kind)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return hexsum


def width(size):
    return 0 if size == 0 else 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4


def forge_framing(data, files_size):
    """Make the first entry of the files list (the tree's first member, at
    offset 0) say that its name ends past the entry."""
    b = bytearray(data)
    w = width(files_size)
    table = int.from_bytes(b[files_size - w:files_size], "little")  # end of the last entry
    first_end = int.from_bytes(b[table:table + w], "little")  # end of the first entry
    we = width(first_end)  # the entry's own framing offset: its last bytes
    b[first_end - we:first_end] = b"\xff" * we
    return bytes(b)


def main():
    repo, ref, case = sys.argv[1:4]
    with open(os.path.join(repo, "refs", "heads", ref)) as f:
        commit_hex = f.read().strip()
    commit = read_obj(repo, commit_hex, "commit", COMMIT)
    root_hex = bytes(commit.get_child_value(6).unpack()).hex()
    files, dirs = read_obj(repo, root_hex, "dirtree", TREE).unpack()
    files = [(n, bytes(c)) for n, c in files]
    dirs = [(n, bytes(c), bytes(m)) for n, c, m in dirs]
    if case == "unsorted":
        files[0], files[1] = files[1], files[0]
    elif case == "twice":
        files = sorted(files + [(dirs[0][0], files[0][1])])
    elif case == "badname":
        files = sorted(files + [("a/b", files[0][1])])
    elif case == "shortsum":
        files[0] = (files[0][0], files[0][1][:31])
    elif case != "framing":
        sys.exit(f"unknown case {case}")
    tree = GLib.Variant(TREE, (files, dirs))
    data = bytes(tree.get_data_as_bytes().get_data())
    if case == "framing":
        files_size = tree.get_child_value(0).get_size()
        data = forge_framing(data, files_size)
    tree_hex = write_obj(repo, data, "dirtree")
    c = [commit.get_child_value(i) for i in range(commit.n_children())]
    c[6] = GLib.Variant("ay", bytes.fromhex(tree_hex))
    forged = GLib.Variant.new_tuple(*c)
    forged_hex = write_obj(repo, bytes(forged.get_data_as_bytes().get_data()), "commit")
    with open(os.path.join(repo, "refs", "heads", "forged"), "w") as f:
        f.write(forged_hex + "\n")
    print(tree_hex)


if __name__ == "__main__":
    main()
