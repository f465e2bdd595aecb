#!/usr/bin/env python3
# tests/oci-pty.py [--rows R --cols C] STEP... -- CMD [ARGS...] — run CMD on
# a new pseudo-terminal (window size R x C, default 24 x 80) and drive it:
#   send:TEXT       write TEXT to the terminal (\n, \r, \x03 are decoded)
#   expect:REGEX    wait (up to 20 s) until the output since the last
#                   expect matches REGEX
#   resize:R:C      change the window size (the engine sees SIGWINCH)
#   sleep:SECONDS   wait
#   exit:N          wait (up to 30 s) for CMD to exit and check its status
# On a failed step the transcript is printed and the exit status is 1.
# What the engine tests use to check `podman run -it` end to end: a shell on
# the container's pty, the window size as stty sees it inside, Ctrl-C
# reaching the foreground job, the exit status.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import codecs
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

args = sys.argv[1:]
rows, cols = 24, 80
while args and args[0] in ("--rows", "--cols"):
    if args[0] == "--rows":
        rows = int(args[1])
    else:
        cols = int(args[1])
    args = args[2:]
sep = args.index("--")
steps, cmd = args[:sep], args[sep + 1:]


def winsize(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))


pid, master = pty.fork()
if pid == 0:
    winsize(0, rows, cols)
    os.execvp(cmd[0], cmd)

transcript = b""
mark = 0  # output before mark was matched by a previous expect


def fail(msg):
    sys.stdout.write("oci-pty: %s\n---- transcript ----\n%s\n---- end ----\n"
                     % (msg, transcript.decode(errors="replace")))
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    sys.exit(1)


def read_some(timeout):
    global transcript
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(master, 65536)
    except OSError:
        return False
    if not data:
        return False
    transcript += data
    return True


status = None
for step in steps:
    kind, _, arg = step.partition(":")
    if kind == "send":
        os.write(master, codecs.decode(arg, "unicode_escape").encode())
    elif kind == "expect":
        rx = re.compile(arg.encode())
        deadline = time.time() + 20
        while True:
            m = rx.search(transcript, mark)
            if m:
                mark = m.end()
                break
            if time.time() > deadline or not read_some(0.2):
                fail("did not see /%s/" % arg)
    elif kind == "resize":
        r, c = arg.split(":")
        winsize(master, int(r), int(c))
    elif kind == "sleep":
        end = time.time() + float(arg)
        while time.time() < end:
            read_some(0.05)
    elif kind == "exit":
        deadline = time.time() + 30
        while True:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = os.waitstatus_to_exitcode(st)
                break
            if time.time() > deadline:
                fail("the command did not exit")
            read_some(0.1)
        if status != int(arg):
            fail("exit status %s, want %s" % (status, arg))
    else:
        fail("unknown step %r" % step)
if status is None:
    fail("no exit: step")
sys.stdout.write(transcript.decode(errors="replace"))
