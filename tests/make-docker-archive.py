#!/usr/bin/env python3
# tests/make-docker-archive.py ROOTFS NAME:TAG OUT.tar — a one-layer image in
# the `docker save` format (what `podman load` and `ctr image import` read):
#   manifest.json   [{"Config": "<sha256>.json", "RepoTags": [NAME:TAG],
#                     "Layers": ["<sha256>/layer.tar"]}]
#   <sha256>.json   the image config: architecture, os, config.Cmd/Env,
#                   rootfs.diff_ids = [sha256 of layer.tar]
#   <sha256>/layer.tar  ROOTFS as an uncompressed tar, owned by 0:0
# so that the engine tests need no registry and no network.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import hashlib
import io
import json
import os
import sys
import tarfile

rootfs, ref, out = sys.argv[1:4]


def root_owned(ti):
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = 0
    return ti


layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in sorted(os.listdir(rootfs)):
        t.add(os.path.join(rootfs, name), arcname=name, filter=root_owned)
layer_bytes = layer.getvalue()
diff_id = hashlib.sha256(layer_bytes).hexdigest()

config = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2026-01-01T00:00:00Z",
    "config": {
        "Cmd": ["/bin/sh"],
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "WorkingDir": "/",
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "tests/make-docker-archive.py"}],
}
config_bytes = json.dumps(config, sort_keys=True).encode()
config_id = hashlib.sha256(config_bytes).hexdigest()
manifest = [{"Config": config_id + ".json", "RepoTags": [ref], "Layers": [diff_id + "/layer.tar"]}]


def add(t, name, data):
    ti = root_owned(tarfile.TarInfo(name))
    ti.size = len(data)
    ti.mode = 0o644
    t.addfile(ti, io.BytesIO(data))


with tarfile.open(out, "w") as t:
    add(t, config_id + ".json", config_bytes)
    d = root_owned(tarfile.TarInfo(diff_id))
    d.type = tarfile.DIRTYPE
    d.mode = 0o755
    t.addfile(d)
    add(t, diff_id + "/layer.tar", layer_bytes)
    add(t, "manifest.json", json.dumps(manifest).encode())
    add(t, "repositories", json.dumps({ref.rsplit(":", 1)[0]: {ref.rsplit(":", 1)[1]: diff_id}}).encode())
