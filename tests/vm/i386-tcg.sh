#!/bin/bash
# tests/vm/i386-tcg.sh: run the launcher's tests (tests/test-launch.sh,
# tests/test-launch-errors.sh) inside a Debian 12 VM whose kernel answers
# 32-bit system calls, so that the i386 half of the seccomp policy
# (check_i386 in tests/test-launch.sh) is proven live, not only by
# simulating the exported filter (tests/seccomp-sim.py).
#
# Why a VM: some machines (paravirtualised guests) kill any `int 0x80`, and
# no /dev/kvm may be there. QEMU's TCG emulates a whole x86-64 CPU in
# software, and Debian's own kernel (linux-image-amd64, 6.1,
# CONFIG_IA32_EMULATION=y) runs i386 code on it. Slow (TCG is 10-50x),
# so it is not part of `make check` or CI: see docs/CONTRIBUTING.md.
#
# Usage (root, on Debian 12; the host needs qemu-system-x86 and e2fsprogs,
# dev.sh's VM_DEPS):
#   tests/vm/i386-tcg.sh
# Environment:
#   CAIRN_VM_WORK=DIR     work directory (default /var/tmp/cairn-i386-vm);
#                         its base root (packages installed) is reused
#                         while the package list below is unchanged
#   CAIRN_VM_ROOT=DIR     the Debian 12 minbase to start from, copied, never
#                         modified (default CAIRN_CLEAN_ROOT, else the base of
#                         tests/ci/clean-root.sh: /work/cleanroot where it
#                         has /bin/sh, else /var/tmp/cairn-clean-root, which
#                         `debootstrap --variant=minbase bookworm` makes once)
#   CAIRN_VM_PATCH=FILE   a patch applied to the clone before the build (to
#                         see a test fail with a feature broken)
#   CAIRN_VM_TIMEOUT=SEC  the whole VM run (default 5400)
#   CAIRN_VM_FILTER=REGEX passed as CAIRN_TEST_FILTER to the tests
#   CAIRN_VM_KEEP=1       keep the run's root and disk image (removed by
#                         default: only the base and the console log stay)
# The source is a `git clone` of this checkout's HEAD (commit first). Exit
# status 0 only when the VM ran every test, none failed, and the i386 entry
# was present inside it.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${CAIRN_VM_WORK:-/var/tmp/cairn-i386-vm}
clean=${CAIRN_VM_ROOT:-}
timeout_s=${CAIRN_VM_TIMEOUT:-5400}

say() { printf 'i386-tcg: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (chroot, mounts, mkfs)"
for c in qemu-system-x86_64 mkfs.ext4 debugfs unshare chroot git; do
  command -v "$c" >/dev/null || die "$c not found (apt-get install qemu-system-x86 e2fsprogs)"
done
mkdir -p "$work"
# the default base is tests/ci/clean-root.sh's, made by it when missing
if [ -z "$clean" ]; then
  clean=$("$top/tests/ci/clean-root.sh" --make-base) || die "no minbase root (set CAIRN_VM_ROOT)"
fi
[ -x "$clean/bin/sh" ] || die "$clean is not a Debian root (set CAIRN_VM_ROOT or CAIRN_CLEAN_ROOT)"

# What the launcher's build and tests need inside the VM: the build
# dependencies (configure checks them all), the kernel, and the tests'
# commands (busybox for the test rootfs, python3 for seccomp-sim.py and the
# profile checks, procps for pgrep, util-linux for script/setpriv/dmesg,
# passwd for useradd, kmod for the kernel's module loads).
sed_deps() { sed -n "/^$1=\"/,/\"/p" "$top/dev.sh" | tr -d '"' | sed "s/^$1=//" | tr '\n' ' '; }
build_deps=$(sed_deps BUILD_DEPS)
vm_pkgs="linux-image-amd64 busybox-static python3 procps util-linux passwd kmod perl-base bsdutils"
stamp="$build_deps $vm_pkgs"

base="$work/base"

# chroot_run DIR CMD: CMD under bash in DIR, with /proc /sys /dev mounted in
# a mount namespace of our own (nothing leaks to the host's mount table).
chroot_run() {
  local dir=$1; shift
  unshare -m --propagation private -- bash -euc '
    d=$1; shift
    mount -t proc proc "$d/proc"
    mount --rbind /sys "$d/sys"
    mount --rbind /dev "$d/dev"
    exec chroot "$d" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 bash -euc "$*"' _ "$dir" "$@"
}

# 1. the base root: minbase + packages (cached by package list)
if [ ! -f "$base/.cairn-vm-base" ] || [ "$(cat "$base/.cairn-vm-base")" != "$stamp" ]; then
  say "making the base root in $base (apt-get install; a few minutes)"
  rm -rf "$base"
  cp -a "$clean" "$base"
  cp /etc/resolv.conf "$base/etc/resolv.conf"
  chroot_run "$base" "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    $build_deps $vm_pkgs >/dev/null && apt-get clean"
  ls "$base"/boot/vmlinuz-* >/dev/null && ls "$base"/boot/initrd.img-* >/dev/null ||
    die "no kernel or initrd in $base/boot"
  printf '%s' "$stamp" > "$base/.cairn-vm-base"
fi

# 2. this run's root: the base, a clean clone of HEAD, built in the chroot.
# The machine is shared: check the space first (the root and its image hold
# about twice the base for a minute), and keep only the image once it is made.
root="$work/root"
rm -rf "$root" "$work/disk.img"
need_mb=$((2 * $(du -sm "$base" | cut -f1) + 1024))
avail_mb=$(df --output=avail -BM "$work" | tail -n 1 | tr -dc 0-9)
[ "$avail_mb" -ge "$need_mb" ] || die "$work: ${avail_mb} MB free, need ${need_mb} MB"
[ "${CAIRN_VM_KEEP:-0}" = 1 ] || trap 'rm -rf "$root" "$work/disk.img"' EXIT
cp -a "$base" "$root"
git clone -q --no-local "$top" "$root/src"
say "source: $(git -C "$root/src" log -1 --format='%h %s')"
if [ -n "${CAIRN_VM_PATCH:-}" ]; then
  git -C "$root/src" apply "$(realpath "$CAIRN_VM_PATCH")"
  say "applied $CAIRN_VM_PATCH"
fi
say "building cairn-launch and tests/launch-probe in the chroot"
chroot_run "$root" "cd /src && ./autogen.sh >/dev/null && mkdir -p _build && cd _build &&
  ../configure -q && make -s -j2 cairn-launch tests/launch-probe >/dev/null"
[ -x "$root/src/_build/cairn-launch" ] && [ -x "$root/src/_build/tests/launch-probe" ] ||
  die "the build made no cairn-launch or launch-probe"

# The VM's init: the mounts a booted system has (cgroup2 only, as Debian 12
# with systemd), the host facts, the two launcher test files with the
# environment Makefile.am's AM_TESTS_ENVIRONMENT sets, a summary, power off.
cat > "$root/ci-vm.sh" <<'EOF'
#!/bin/bash
# the initramfs has moved its /proc, /sys and /dev here already
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname cairn-vm
ip link set lo up 2>/dev/null || true
echo "CAIRN-VM: start $(date -u +%FT%TZ)"
bash /src/tests/host-facts.sh | sed 's/^/CAIRN-VM: /'
b=/src/_build
export G_TEST_SRCDIR=/src/tests G_TEST_BUILDDIR=$b/tests CAIRN_TOP_SRCDIR=/src \
  CAIRN_TOP_BUILDDIR=$b PATH="$b:$PATH" G_DEBUG=fatal-warnings \
  LSAN_OPTIONS="suppressions=/src/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" CAIRN_TESTS_MUST_RUN=1
[ -z "@FILTER@" ] || export CAIRN_TEST_FILTER="@FILTER@"
pass=0 fail=0
for t in test-launch.sh test-launch-errors.sh; do
  s=$SECONDS
  bash /src/tests/$t 2>&1 | tee /run/$t.log | sed -u "s/^/CAIRN-VM: $t: /"
  rc=${PIPESTATUS[0]}
  p=$(grep -c '^ok ' /run/$t.log) f=$(grep -c '^not ok ' /run/$t.log)
  [ $rc = 0 ] || [ "$f" -gt 0 ] || f=$((f + 1)) # a script that died outside a case
  pass=$((pass + p)) fail=$((fail + f))
  echo "CAIRN-VM: $t: rc $rc, $p passed, $f failed, $((SECONDS - s)) s"
done
echo "CAIRN-VM-RESULT: $pass passed, $fail failed"
sync
echo o > /proc/sysrq-trigger
sleep 10
poweroff -f
EOF
sed -i "s|@FILTER@|${CAIRN_VM_FILTER:-}|g" "$root/ci-vm.sh"
chmod 0755 "$root/ci-vm.sh"

# 3. an ext4 image of the root, booted with the root's own kernel under TCG
cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)" "$work/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)" "$work/initrd.img"
kernel="$work/vmlinuz" initrd="$work/initrd.img"
size_mb=$(($(du -sm "$root" | cut -f1) + 1024))
mkfs.ext4 -q -F -L cairn-vm -d "$root" "$work/disk.img" "${size_mb}M"
[ "${CAIRN_VM_KEEP:-0}" = 1 ] || rm -rf "$root"
log="$work/console.log"
say "booting $(basename "$(ls "$base"/boot/vmlinuz-* | sort -V | tail -n 1)") under TCG (2 vCPUs, 2 GiB); console in $log"
t0=$SECONDS
rc=0
timeout --foreground "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp 2 \
  -nographic -no-reboot -kernel "$kernel" -initrd "$initrd" \
  -append "root=/dev/vda rw console=ttyS0 loglevel=4 panic=-1 init=/ci-vm.sh" \
  -drive file="$work/disk.img",if=virtio,format=raw < /dev/null > "$log" 2>&1 || rc=$?
tr -d '\r' < "$log" > "$log.txt"
say "the VM ran $((SECONDS - t0)) s (qemu exit $rc)"
grep -a '^CAIRN-VM: host:' "$log.txt" >&2 || true
grep -a -e '^CAIRN-VM: [^:]*: not ok' -e '^CAIRN-VM: [^:]*: #   ' "$log.txt" >&2 || true
grep -a -e '^CAIRN-VM: test-[^:]*: rc ' "$log.txt" >&2 || true
[ $rc = 0 ] || die "qemu exited $rc (124: timeout after $timeout_s s); see $log.txt"
res=$(grep -a '^CAIRN-VM-RESULT: ' "$log.txt" | tail -n 1)
[ -n "$res" ] || die "no result line; see $log.txt"
say "${res#CAIRN-VM-RESULT: }"
grep -aq '^CAIRN-VM: host: i386 syscall entry: present' "$log.txt" ||
  die "the i386 entry was not present in the VM: the i386 policy was not proven live"
case $res in *" 0 failed") ;; *) die "tests failed; see $log.txt" ;; esac
[ "$(grep -a -c '^CAIRN-VM: [^:]*: ok ' "$log.txt")" -gt 0 ] || die "no test ran"
say "ok"
