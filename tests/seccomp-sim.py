#!/usr/bin/env python3
"""Run a classic-BPF seccomp filter on system calls, without the kernel.

    seccomp-sim.py FILTER.bpf ARCH NR [ARG...]     one call, prints its action
    seccomp-sim.py FILTER.bpf --batch < QUERIES     one call per line:
        ARCH NR [ARG...] [= EXPECTED]
    (lines starting with # are ignored; with "= EXPECTED" the line is checked
    and the script exits 1 if any answer differs, naming each)

FILTER.bpf is an array of struct sock_filter as the kernel takes it
(`cairn-launch --print-seccomp-bpf`). ARCH is x86_64, i386, x32 (x86_64
numbers with bit 30 set are x32 calls) or a number; NR and ARGs are
integers (0x... accepted; an ARG is 64 bits). The answer is ALLOW, KILL,
KILL_PROCESS, TRAP, LOG, TRACE, USER_NOTIF or ERRNO(N) with N the errno
number (EPERM=1, ENOSYS=38).

This lets the suite check what the filter answers for an architecture the
host cannot run (a VM without the i386 entry point), and for argument
values a live probe cannot safely try.
"""
import struct
import sys

ARCHES = {"x86_64": 0xC000003E, "i386": 0x40000003, "x32": 0xC000003E,
          "aarch64": 0xC00000B7, "arm": 0x40000028}

ACTIONS = [(0x80000000, "KILL_PROCESS"), (0x00000000, "KILL"), (0x00030000, "TRAP"),
           (0x00050000, "ERRNO"), (0x7FC00000, "USER_NOTIF"), (0x7FF00000, "TRACE"),
           (0x7FFC0000, "LOG"), (0x7FFF0000, "ALLOW")]

M32 = 0xFFFFFFFF


def load(path):
    data = open(path, "rb").read()
    if not data or len(data) % 8:
        sys.exit(f"seccomp-sim: {path}: not an array of struct sock_filter ({len(data)} bytes)")
    return [struct.unpack_from("<HBBI", data, i) for i in range(0, len(data), 8)]


def seccomp_data(arch, nr, args):
    args = (list(args) + [0] * 6)[:6]
    return struct.pack("<iIQ6Q", nr, arch, 0, *[a & 0xFFFFFFFFFFFFFFFF for a in args])


def run(prog, data):
    a = x = 0
    mem = [0] * 16
    pc = 0
    steps = 0
    while True:
        if pc >= len(prog):
            raise ValueError(f"fell off the end of the filter at {pc}")
        steps += 1
        if steps > 1 << 20:
            raise ValueError("filter does not terminate")
        code, jt, jf, k = prog[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00 or cls == 0x01:  # LD / LDX
            mode, size = code & 0xE0, code & 0x18
            if mode == 0x00:
                v = k
            elif mode == 0x20:
                if size != 0x00 or k % 4 or k + 4 > len(data):
                    raise ValueError(f"bad load at {pc - 1}: size {size:#x}, offset {k}")
                v = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x60:
                v = mem[k]
            elif mode == 0x80:
                v = len(data)
            else:
                raise ValueError(f"unsupported load mode {mode:#x} at {pc - 1}")
            if cls == 0x00:
                a = v
            else:
                x = v
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:  # ALU
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                a = (a + src) & M32
            elif op == 0x10:
                a = (a - src) & M32
            elif op == 0x20:
                a = (a * src) & M32
            elif op == 0x30:
                if src == 0:
                    return 0  # division by zero kills, as in the kernel
                a = a // src
            elif op == 0x40:
                a |= src
            elif op == 0x50:
                a &= src
            elif op == 0x60:
                a = (a << src) & M32 if src < 32 else 0
            elif op == 0x70:
                a = a >> src if src < 32 else 0
            elif op == 0x80:
                a = (-a) & M32
            elif op == 0x90:
                if src == 0:
                    return 0
                a %= src
            elif op == 0xA0:
                a ^= src
            else:
                raise ValueError(f"unsupported ALU op {op:#x} at {pc - 1}")
        elif cls == 0x05:  # JMP
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            if op == 0x10:
                c = a == src
            elif op == 0x20:
                c = a > src
            elif op == 0x30:
                c = a >= src
            elif op == 0x40:
                c = (a & src) != 0
            else:
                raise ValueError(f"unsupported jump {op:#x} at {pc - 1}")
            pc += jt if c else jf
        elif cls == 0x06:  # RET
            return a if (code & 0x18) == 0x10 else k
        elif cls == 0x07:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise ValueError(f"unknown instruction {code:#x} at {pc - 1}")


def name(ret):
    full = ret & 0xFFFF0000
    for val, nm in ACTIONS:
        if full == val:
            return f"ERRNO({ret & 0xFFFF})" if nm == "ERRNO" else nm
    return f"UNKNOWN({ret:#x})"


def query(prog, words):
    arch_s, nr_s, *args = words
    arch = ARCHES[arch_s] if arch_s in ARCHES else int(arch_s, 0)
    nr = int(nr_s, 0)
    if arch_s == "x32":
        nr |= 0x40000000
    return name(run(prog, seccomp_data(arch, nr, [int(v, 0) for v in args])))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    prog = load(sys.argv[1])
    if sys.argv[2] != "--batch":
        print(query(prog, sys.argv[2:]))
        return 0
    bad = 0
    for line in sys.stdin:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        call, _, want = line.partition("=")
        got = query(prog, call.split())
        want = want.strip()
        if want and got != want:
            print(f"{call.strip()}: {got}, want {want}")
            bad += 1
        elif not want:
            print(f"{call.strip()}: {got}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
