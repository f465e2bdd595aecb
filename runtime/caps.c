/* cairn-launch: capability names, the default set, and dropping them.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The default set is Docker's default set minus CAP_MKNOD: cairn has no
 * device cgroup / eBPF device filter, so a container root able to mknod
 * could create a raw disk node on a writable mount.  Every writable mount
 * is nodev as well (defence in depth); --cap-add=MKNOD restores it.
 * The inheritable and ambient sets are always empty (CVE-2022-29162).
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "runtime/launch.h"

static const char *const cap_names[] = {
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
};
#define N_CAP_NAMES ((int)(sizeof cap_names / sizeof cap_names[0]))

#define B(c) (1ULL << (c))

uint64_t
caps_default_set (void)
{
  return B (CAP_CHOWN) | B (CAP_DAC_OVERRIDE) | B (CAP_FSETID) | B (CAP_FOWNER) | B (CAP_NET_RAW)
         | B (CAP_SETGID) | B (CAP_SETUID) | B (CAP_SETFCAP) | B (CAP_SETPCAP)
         | B (CAP_NET_BIND_SERVICE) | B (CAP_SYS_CHROOT) | B (CAP_KILL) | B (CAP_AUDIT_WRITE);
}

const char *
caps_name (int cap)
{
  return cap >= 0 && cap < N_CAP_NAMES ? cap_names[cap] : "?";
}

int
caps_parse (const char *name, int *out_cap)
{
  if (strncasecmp (name, "CAP_", 4) == 0)
    name += 4;
  for (int i = 0; i < N_CAP_NAMES; i++)
    if (strcasecmp (name, cap_names[i]) == 0)
      {
        *out_cap = i;
        return 0;
      }
  return -EINVAL;
}

int
caps_last_cap (void)
{
  /* the kernel's, read once (a container start asked five times) */
  static int last;
  if (last)
    return last;
  _cleanup_close_ int fd = open ("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = { 0 };
  if (fd < 0 || read (fd, buf, sizeof buf - 1) <= 0)
    return CAP_LAST_CAP;
  int v = atoi (buf);
  last = v > 0 && v < 64 ? v : CAP_LAST_CAP;
  return last;
}

/* The caps this process could hand on: its bounding set, and (without a
 * new user namespace) its permitted set.  --cap-add=ALL means these. */
uint64_t
caps_available (bool userns, int last_cap)
{
  uint64_t avail = 0;
  for (int c = 0; c <= last_cap; c++)
    if (prctl (PR_CAPBSET_READ, c, 0, 0, 0) == 1)
      avail |= B (c);
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (!userns && syscall (SYS_capget, &h, d) == 0)
    avail &= (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
  return avail;
}

static int
capset_raw (uint64_t eff, uint64_t prm)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset (d, 0, sizeof d);
  d[0].effective = (uint32_t)eff;
  d[1].effective = (uint32_t)(eff >> 32);
  d[0].permitted = (uint32_t)prm;
  d[1].permitted = (uint32_t)(prm >> 32);
  /* inheritable stays 0 */
  return (int)syscall (SYS_capset, &h, d);
}

static int
drop_bounding (uint64_t keep, int last_cap)
{
  for (int c = 0; c <= last_cap; c++)
    if (!(keep & B (c)) && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return launch_fail (errno, "dropping a capability from the bounding set", caps_name (c));
  return 0;
}

/* Child side, in this order (as crun's set_required_caps): bounding set,
 * groups and ids, capset (inheritable 0), ambient cleared, no_new_privs. */
int
caps_apply (uint64_t set, bool set_ids, uid_t uid, gid_t gid, bool may_setgroups, int last_cap)
{
  int r = drop_bounding (set, last_cap);
  if (r < 0)
    return r;
  if (set_ids)
    {
      if (may_setgroups && setgroups (1, &gid) < 0)
        return launch_fail (errno, "setgroups", NULL);
      if (setresgid (gid, gid, gid) < 0)
        return launch_fail (errno, "setresgid", NULL);
      if (setresuid (uid, uid, uid) < 0)
        return launch_fail (errno, "setresuid", NULL);
    }
  /* A non-root uid keeps no effective caps (like Docker): they stay only in
   * the bounding set, so a setuid/file-cap binary could regain them, which
   * no_new_privs then prevents. */
  uint64_t eff = (set_ids && uid != 0) ? 0 : set;
  if (capset_raw (eff, eff) < 0)
    return launch_fail (errno, "capset", NULL);
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return launch_fail (errno, "clearing ambient capabilities", NULL);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return launch_fail (errno, "setting no_new_privs", NULL);
  return 0;
}
