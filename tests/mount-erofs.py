#!/usr/bin/env python3
# Mount an EROFS image FILE read-only at DIR straight from the file (the
# new mount API with source=FILE: file-backed EROFS, Linux 6.12+), with no
# loop device: util-linux 2.38's mount(8) always attaches a regular file to
# a loop device first, and a CI machine or a container may have none. The
# kernel mount (checkout/kmount.c) mounts its images the same way.
#
#   python3 tests/mount-erofs.py FILE DIR      (root; undo with umount DIR)
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import ctypes
import os
import sys

# The same numbers on every architecture (the syscall table was unified
# before these were added).
SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 429, 430, 431, 432
FSOPEN_CLOEXEC = FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NODEV = 0x1, 0x4
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100

libc = ctypes.CDLL(None, use_errno=True)


def check(ret, what, fs=None):
    if ret >= 0:
        return ret
    err = ctypes.get_errno()
    msg = ""
    if fs is not None:  # the kernel's own words, from the fs context
        try:
            msg = " (" + os.read(fs, 4096).decode(errors="replace").strip() + ")"
        except OSError:
            pass
    sys.exit(f"mount-erofs: {what}: {os.strerror(err)}{msg}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mount-erofs.py FILE DIR")
    image, target = os.path.abspath(sys.argv[1]), sys.argv[2]
    fs = check(libc.syscall(SYS_FSOPEN, b"erofs", FSOPEN_CLOEXEC), "fsopen erofs")
    check(libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_STRING, b"source",
                       image.encode(), 0), f"source {image}", fs)
    check(libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0),
          f"mounting {image}", fs)
    mnt = check(libc.syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC,
                             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV), "fsmount", fs)
    check(libc.syscall(SYS_MOVE_MOUNT, mnt, b"", AT_FDCWD, target.encode(),
                       MOVE_MOUNT_F_EMPTY_PATH), f"attaching at {target}")


if __name__ == "__main__":
    main()
