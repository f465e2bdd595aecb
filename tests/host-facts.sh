#!/bin/bash
# tests/host-facts.sh: print the kernel facts the suite depends on, one per
# line, so that a log from another machine says what that machine could do.
#   kernel, i386 syscall entry (tried in a child: a paravirtualised guest may
#   kill any `int 0x80` although CONFIG_IA32_EMULATION=y), x32, cgroup
#   layout, overlay / erofs / fuse in /proc/filesystems, fs-verity, user
#   namespaces.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "host: kernel $(uname -r) $(uname -m)"
cfg=""
if [ -r /proc/config.gz ]; then cfg=$(zcat /proc/config.gz)
elif [ -r "/boot/config-$(uname -r)" ]; then cfg=$(cat "/boot/config-$(uname -r)"); fi
kopt() { if [ -z "$cfg" ]; then echo unknown; else
  v=$(grep -E "^$1=" <<<"$cfg" | cut -d= -f2); echo "${v:-n}"; fi; }

# The i386 entry: `int 0x80` with eax=20 (getpid on i386) in a child.
cat >"$tmp/i386.c" <<'C'
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main (void)
{
  pid_t p = fork ();
  if (p == 0)
    {
      long r;
      __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
      _exit (r > 0 ? 0 : 3);
    }
  int st = 0;
  if (p < 0 || waitpid (p, &st, 0) < 0)
    return 2;
  if (WIFSIGNALED (st))
    printf ("absent (int 0x80 killed by signal %d)\n", WTERMSIG (st));
  else
    printf ("%s\n", WEXITSTATUS (st) == 0 ? "present" : "answers without getpid");
  return 0;
}
C
if [ "$(uname -m)" = x86_64 ] && cc -O0 -o "$tmp/i386" "$tmp/i386.c" 2>/dev/null; then
  echo "host: i386 syscall entry: $("$tmp/i386") (CONFIG_IA32_EMULATION=$(kopt CONFIG_IA32_EMULATION))"
else
  echo "host: i386 syscall entry: not tried (no x86_64 or no compiler)"
fi
# Debian's kernels build x32 in but leave it off unless booted with syscall.x32=y
echo "host: x32 ABI: CONFIG_X86_X32_ABI=$(kopt CONFIG_X86_X32_ABI) CONFIG_X86_X32_DISABLED=$(kopt CONFIG_X86_X32_DISABLED)"

if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
  layout="unified (cgroup2 at /sys/fs/cgroup)"
else
  v1=$(awk '$3 == "cgroup" {print $2}' /proc/mounts | wc -l)
  v2=$(awk '$3 == "cgroup2" {print $2}' /proc/mounts | head -1)
  layout="hybrid/legacy ($v1 v1 hierarchies${v2:+, cgroup2 at $v2})"
fi
echo "host: cgroup layout: $layout"
for fs in overlay erofs fuse; do
  # a modular kernel lists a filesystem only once its module is loaded (the
  # first mount loads it)
  if grep -qw "$fs" /proc/filesystems; then s=yes
  elif grep -q "/$fs\.ko" "/lib/modules/$(uname -r)/modules.dep" 2>/dev/null; then s="module, not loaded yet"
  else s=no; fi
  echo "host: filesystem $fs: $s"
done
echo "host: fs-verity: CONFIG_FS_VERITY=$(kopt CONFIG_FS_VERITY)"
echo "host: unprivileged user namespaces: $(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 'no switch (allowed)'), max $(cat /proc/sys/user/max_user_namespaces)"
