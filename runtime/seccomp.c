/* cairn-launch: the default seccomp policy, compilation, BPF cache, loading.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Policy: an allow-list in the spirit of Docker's profile
 * (docs/runtime-anchors.md §2): default EPERM; the calls of ordinary
 * programs allowed (allow_list); clone/unshare without namespace flags,
 * socket but AF_VSOCK/AF_ALG, ioctl but TIOCSTI/TIOCLINUX (low 32 bits,
 * CVE-2019-10063) and Docker's five personality values allowed by argument;
 * calls tied to a capability allowed only when it is granted (gated_list);
 * keyring, userfaultfd, io_uring and obsolete calls never (deny_list);
 * ENOSYS for clone3 so that libc falls back to clone, whose flags can be
 * inspected. Unlisted calls newer than this libseccomp and x32 calls get
 * ENOSYS (add_enosys_stub, the bad-architecture action): a newer libc then
 * falls back instead of failing. The rules cover the x86_64 and i386 entry
 * points on x86_64 (and arm on aarch64).
 *
 * Compilation with libseccomp costs ~14 ms (measured, §7.3), so the BPF is
 * compiled once and cached in DIR/<fnv64>.bpf.  The file holds the full key
 * (format version, libseccomp version, kernel release/version/machine and the
 * policy's rules) and is used only if the key matches byte for byte,
 * it is owned by the caller and not writable by others.  The child loads it
 * with the raw seccomp(2) syscall as its last step before execve.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>

#include "runtime/json.h"
#include "runtime/launch.h"
#include "runtime/seccomp-policy.h"

#define BPF_MAGIC "CAIRNBPF1\n"
#define BPF_MAX_INSNS BPF_MAXINSNS

/* ---- policy container -------------------------------------------------------- */
void
sc_policy_clear (struct sc_policy *p)
{
  for (size_t i = 0; i < p->n; i++)
    {
      free (p->rules[i].name);
      free (p->rules[i].args);
    }
  free (p->rules);
  memset (p, 0, sizeof *p);
}

struct sc_rule *
sc_policy_add (struct sc_policy *p, const char *name, uint32_t action)
{
  if (p->n == p->cap)
    {
      p->cap = p->cap ? p->cap * 2 : 64;
      p->rules = xrealloc (p->rules, p->cap * sizeof *p->rules);
    }
  struct sc_rule *r = &p->rules[p->n++];
  memset (r, 0, sizeof *r);
  r->name = xstrdup (name);
  r->action = action;
  return r;
}

struct sc_arg *
sc_rule_add_arg (struct sc_rule *r)
{
  if (!r->args)
    r->args = xrealloc (NULL, 6 * sizeof *r->args);
  struct sc_arg *a = &r->args[r->nargs++];
  memset (a, 0, sizeof *a); /* compared and hashed whole */
  return a;
}

static void
rule_arg (struct sc_rule *r, unsigned idx, enum scmp_compare op, uint64_t a, uint64_t b)
{
  struct sc_arg *x = sc_rule_add_arg (r);
  x->index = idx;
  x->op = op;
  x->value = a;
  x->value_two = b;
}

/* ---- the default policy ------------------------------------------------------ */

/* Allowed to every container: the system calls of ordinary programs. A
 * name that an architecture lacks (the i386-only ones below, say) is
 * skipped for it, and a name this libseccomp does not know is skipped
 * altogether: such a call is newer than its table and gets ENOSYS from the
 * check in front of the filter (add_enosys_stub). */
static const char *const allow_list[] = {
  /* files and descriptors */
  "read",
  "write",
  "open",
  "openat",
  "openat2",
  "close",
  "close_range",
  "creat",
  "lseek",
  "pread64",
  "pwrite64",
  "readv",
  "writev",
  "preadv",
  "pwritev",
  "preadv2",
  "pwritev2",
  "sendfile",
  "splice",
  "tee",
  "vmsplice",
  "copy_file_range",
  "dup",
  "dup2",
  "dup3",
  "fcntl",
  "flock",
  "fsync",
  "fdatasync",
  "syncfs",
  "sync",
  "sync_file_range",
  "fallocate",
  "fadvise64",
  "readahead",
  "truncate",
  "ftruncate",
  "stat",
  "fstat",
  "lstat",
  "newfstatat",
  "statx",
  "statfs",
  "fstatfs",
  "ustat",
  "sysfs",
  "access",
  "faccessat",
  "faccessat2",
  "getdents",
  "getdents64",
  "getcwd",
  "chdir",
  "fchdir",
  "rename",
  "renameat",
  "renameat2",
  "mkdir",
  "mkdirat",
  "rmdir",
  "link",
  "linkat",
  "unlink",
  "unlinkat",
  "symlink",
  "symlinkat",
  "readlink",
  "readlinkat",
  "chmod",
  "fchmod",
  "fchmodat",
  "fchmodat2",
  "chown",
  "fchown",
  "lchown",
  "fchownat",
  "umask",
  "mknod",
  "mknodat",
  "utime",
  "utimes",
  "futimesat",
  "utimensat",
  "name_to_handle_at",
  "setxattr",
  "lsetxattr",
  "fsetxattr",
  "getxattr",
  "lgetxattr",
  "fgetxattr",
  "listxattr",
  "llistxattr",
  "flistxattr",
  "removexattr",
  "lremovexattr",
  "fremovexattr",
  "pipe",
  "pipe2",
  "memfd_create",
  "memfd_secret",
  "cachestat",
  /* waiting and events */
  "poll",
  "ppoll",
  "select",
  "pselect6",
  "epoll_create",
  "epoll_create1",
  "epoll_ctl",
  "epoll_wait",
  "epoll_pwait",
  "epoll_pwait2",
  "eventfd",
  "eventfd2",
  "signalfd",
  "signalfd4",
  "timerfd_create",
  "timerfd_settime",
  "timerfd_gettime",
  "inotify_init",
  "inotify_init1",
  "inotify_add_watch",
  "inotify_rm_watch",
  "fanotify_mark",
  "io_setup",
  "io_destroy",
  "io_getevents",
  "io_pgetevents",
  "io_submit",
  "io_cancel",
  "futex",
  "futex_waitv",
  "futex_wake",
  "futex_wait",
  "futex_requeue",
  "set_robust_list",
  "get_robust_list",
  /* memory */
  "brk",
  "mmap",
  "munmap",
  "mremap",
  "mprotect",
  "msync",
  "mincore",
  "madvise",
  "remap_file_pages",
  "mlock",
  "mlock2",
  "munlock",
  "mlockall",
  "munlockall",
  "membarrier",
  "pkey_mprotect",
  "pkey_alloc",
  "pkey_free",
  "map_shadow_stack",
  /* processes, threads, signals */
  "fork",
  "vfork",
  "execve",
  "execveat",
  "exit",
  "exit_group",
  "wait4",
  "waitid",
  "kill",
  "tkill",
  "tgkill",
  "rt_sigaction",
  "rt_sigprocmask",
  "rt_sigreturn",
  "rt_sigpending",
  "rt_sigtimedwait",
  "rt_sigqueueinfo",
  "rt_tgsigqueueinfo",
  "rt_sigsuspend",
  "sigaltstack",
  "pause",
  "restart_syscall",
  "set_tid_address",
  "gettid",
  "getpid",
  "getppid",
  "getpgid",
  "setpgid",
  "getpgrp",
  "getsid",
  "setsid",
  "prctl",
  "arch_prctl",
  "set_thread_area",
  "get_thread_area",
  "modify_ldt",
  "rseq",
  "seccomp",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "pidfd_open",
  "pidfd_send_signal",
  "process_mrelease",
  "capget",
  "capset",
  "landlock_create_ruleset",
  "landlock_add_rule",
  "landlock_restrict_self",
  /* credentials and limits */
  "getuid",
  "geteuid",
  "getgid",
  "getegid",
  "setuid",
  "setgid",
  "setreuid",
  "setregid",
  "setresuid",
  "getresuid",
  "setresgid",
  "getresgid",
  "setfsuid",
  "setfsgid",
  "getgroups",
  "setgroups",
  "getrlimit",
  "setrlimit",
  "prlimit64",
  "getrusage",
  "getpriority",
  "setpriority",
  "ioprio_get",
  "ioprio_set",
  /* scheduling */
  "sched_yield",
  "sched_setparam",
  "sched_getparam",
  "sched_setscheduler",
  "sched_getscheduler",
  "sched_get_priority_max",
  "sched_get_priority_min",
  "sched_rr_get_interval",
  "sched_setaffinity",
  "sched_getaffinity",
  "sched_setattr",
  "sched_getattr",
  "getcpu",
  /* time */
  "time",
  "gettimeofday",
  "clock_gettime",
  "clock_getres",
  "clock_nanosleep",
  "nanosleep",
  "adjtimex",
  "times",
  "alarm",
  "getitimer",
  "setitimer",
  "timer_create",
  "timer_settime",
  "timer_gettime",
  "timer_getoverrun",
  "timer_delete",
  /* system information */
  "uname",
  "sysinfo",
  "getrandom",
  /* sockets (socket itself is conditional: below) */
  "socketpair",
  "connect",
  "accept",
  "accept4",
  "bind",
  "listen",
  "shutdown",
  "getsockname",
  "getpeername",
  "setsockopt",
  "getsockopt",
  "sendto",
  "recvfrom",
  "sendmsg",
  "recvmsg",
  "sendmmsg",
  "recvmmsg",
  /* System V and POSIX IPC (the container has its own IPC namespace) */
  "shmget",
  "shmat",
  "shmdt",
  "shmctl",
  "semget",
  "semop",
  "semtimedop",
  "semctl",
  "msgget",
  "msgsnd",
  "msgrcv",
  "msgctl",
  "mq_open",
  "mq_unlink",
  "mq_timedsend",
  "mq_timedreceive",
  "mq_notify",
  "mq_getsetattr",
  /* the i386 entry points' own names (32-bit programs on x86_64) */
  "_llseek",
  "_newselect",
  "mmap2",
  "fcntl64",
  "stat64",
  "lstat64",
  "fstat64",
  "fstatat64",
  "statfs64",
  "fstatfs64",
  "truncate64",
  "ftruncate64",
  "fadvise64_64",
  "sendfile64",
  "chown32",
  "fchown32",
  "lchown32",
  "getuid32",
  "geteuid32",
  "getgid32",
  "getegid32",
  "setuid32",
  "setgid32",
  "setreuid32",
  "setregid32",
  "setresuid32",
  "getresuid32",
  "setresgid32",
  "getresgid32",
  "setfsuid32",
  "setfsgid32",
  "getgroups32",
  "setgroups32",
  "ugetrlimit",
  "ipc",
  "nice",
  "waitpid",
  "signal",
  "sigaction",
  "sigprocmask",
  "sigpending",
  "sigsuspend",
  "sigreturn",
  "clock_gettime64",
  "clock_getres_time64",
  "clock_nanosleep_time64",
  "timer_gettime64",
  "timer_settime64",
  "timerfd_gettime64",
  "timerfd_settime64",
  "utimensat_time64",
  "pselect6_time64",
  "ppoll_time64",
  "io_pgetevents_time64",
  "recvmmsg_time64",
  "mq_timedsend_time64",
  "mq_timedreceive_time64",
  "semtimedop_time64",
  "rt_sigtimedwait_time64",
  "futex_time64",
  "sched_rr_get_interval_time64",
};

/* Allowed only with a capability (as in Docker's profile, --cap-add grants
 * the call too), EPERM otherwise. */
struct gated_entry
{
  const char *name;
  int cap;
};

static const struct gated_entry gated_list[] = {
  { "kexec_load", CAP_SYS_BOOT },
  { "kexec_file_load", CAP_SYS_BOOT },
  { "reboot", CAP_SYS_BOOT },
  { "init_module", CAP_SYS_MODULE },
  { "finit_module", CAP_SYS_MODULE },
  { "delete_module", CAP_SYS_MODULE },
  { "bpf", CAP_SYS_ADMIN },
  { "perf_event_open", CAP_SYS_ADMIN },
  { "open_by_handle_at", CAP_DAC_READ_SEARCH },
  { "mount", CAP_SYS_ADMIN },
  { "umount", CAP_SYS_ADMIN },
  { "umount2", CAP_SYS_ADMIN },
  { "pivot_root", CAP_SYS_ADMIN },
  { "setns", CAP_SYS_ADMIN },
  { "fsopen", CAP_SYS_ADMIN },
  { "fsconfig", CAP_SYS_ADMIN },
  { "fsmount", CAP_SYS_ADMIN },
  { "fspick", CAP_SYS_ADMIN },
  { "move_mount", CAP_SYS_ADMIN },
  { "open_tree", CAP_SYS_ADMIN },
  { "mount_setattr", CAP_SYS_ADMIN },
  { "quotactl", CAP_SYS_ADMIN },
  { "quotactl_fd", CAP_SYS_ADMIN },
  { "lookup_dcookie", CAP_SYS_ADMIN },
  { "swapon", CAP_SYS_ADMIN },
  { "swapoff", CAP_SYS_ADMIN },
  { "fanotify_init", CAP_SYS_ADMIN },
  { "sethostname", CAP_SYS_ADMIN },
  { "setdomainname", CAP_SYS_ADMIN },
  { "acct", CAP_SYS_PACCT },
  { "syslog", CAP_SYSLOG },
  { "chroot", CAP_SYS_CHROOT },
  { "settimeofday", CAP_SYS_TIME },
  { "stime", CAP_SYS_TIME },
  { "clock_settime", CAP_SYS_TIME },
  { "clock_settime64", CAP_SYS_TIME },
  { "clock_adjtime", CAP_SYS_TIME },
  { "clock_adjtime64", CAP_SYS_TIME },
  { "iopl", CAP_SYS_RAWIO },
  { "ioperm", CAP_SYS_RAWIO },
  { "vhangup", CAP_SYS_TTY_CONFIG },
  { "kcmp", CAP_SYS_PTRACE },
  { "pidfd_getfd", CAP_SYS_PTRACE },
  { "process_madvise", CAP_SYS_PTRACE },
  { "mbind", CAP_SYS_NICE },
  { "set_mempolicy", CAP_SYS_NICE },
  { "get_mempolicy", CAP_SYS_NICE },
  { "migrate_pages", CAP_SYS_NICE },
  { "move_pages", CAP_SYS_NICE },
  { "set_mempolicy_home_node", CAP_SYS_NICE },
};

/* EPERM whatever the capabilities: the kernel keyring is not namespaced,
 * userfaultfd and io_uring are kernel attack surface, the rest obsolete.
 * Listed although EPERM is the default: the printed profile names them, and
 * libseccomp drops a rule whose action is the default's (no BPF for them).
 * socketcall is listed for the profile's reader, but libseccomp makes rules
 * of its own for it from the allowed socket calls (see
 * add_socketcall_guard). */
static const char *const deny_list[] = {
  "keyctl",         "add_key",        "request_key",       "userfaultfd",
  "io_uring_setup", "io_uring_enter", "io_uring_register", "nfsservctl",
  "uselib",         "vm86",           "vm86old",           "socketcall",
};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's mask) */
#define NS_FLAGS 0x7E020000ULL
#define CLONE_NEWTIME_FLAG 0x80ULL

static bool
has_cap (uint64_t caps, int cap)
{
  return cap >= 0 && (caps & (1ULL << cap));
}

/* clone and unshare are allowed without namespace flags (Docker's rule);
 * with one they get the default, EPERM. clone3 hides its flags in memory:
 * ENOSYS, so that libc falls back to clone. */
static void
add_ns_rules (struct sc_policy *p)
{
  rule_arg (sc_policy_add (p, "clone", SCMP_ACT_ALLOW), 0, SCMP_CMP_MASKED_EQ, NS_FLAGS, 0);
  rule_arg (sc_policy_add (p, "unshare", SCMP_ACT_ALLOW), 0, SCMP_CMP_MASKED_EQ,
            NS_FLAGS | CLONE_NEWTIME_FLAG, 0);
}

/* Allow @name unless the low 32 bits of argument @idx are one of @vals,
 * which get EPERM. The complement is a union of MASKED_EQ rules (libseccomp
 * takes one comparison per argument per rule): one per bit on which all of
 * @vals agree (the argument differs there), then each pattern of the other
 * bits that is none of @vals (when they differ in 7 bits at most; beyond,
 * those patterns are left to the default action). */
static void
add_allow_except32 (struct sc_policy *p, const char *name, unsigned idx, const uint32_t *vals,
                    size_t n)
{
  uint32_t differ = 0;
  for (size_t i = 1; i < n; i++)
    differ |= vals[i] ^ vals[0];
  uint32_t common = ~differ;
  for (unsigned j = 0; j < 32; j++)
    if (common & (1u << j))
      rule_arg (sc_policy_add (p, name, SCMP_ACT_ALLOW), idx, SCMP_CMP_MASKED_EQ, 1ULL << j,
                (~vals[0]) & (1u << j));
  unsigned dbits[32], nd = 0;
  for (unsigned j = 0; j < 32; j++)
    if (differ & (1u << j))
      dbits[nd++] = j;
  for (uint32_t combo = 0; combo < (1u << nd) && nd < 8; combo++)
    {
      uint32_t v = vals[0] & common;
      for (unsigned k = 0; k < nd; k++)
        if (combo & (1u << k))
          v |= 1u << dbits[k];
      bool listed = false;
      for (size_t i = 0; i < n; i++)
        listed |= vals[i] == v;
      if (!listed)
        rule_arg (sc_policy_add (p, name, SCMP_ACT_ALLOW), idx, SCMP_CMP_MASKED_EQ, 0xffffffffULL,
                  v);
    }
  for (size_t i = 0; i < n; i++)
    rule_arg (sc_policy_add (p, name, SCMP_ACT_ERRNO (EPERM)), idx, SCMP_CMP_MASKED_EQ,
              0xffffffffULL, vals[i]);
}

/* personality: only 0, 8 (PER_LINUX32), 0x20000 (UNAME26), 0x20008 and
 * 0xffffffff (query), like Docker, compared on the low 32 bits (the kernel
 * truncates the argument); any other value gets the default, EPERM. */
static void
add_personality_rules (struct sc_policy *p)
{
  static const uint32_t allowed[] = { 0, 8, 0x20000, 0x20008, 0xffffffff };
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    rule_arg (sc_policy_add (p, "personality", SCMP_ACT_ALLOW), 0, SCMP_CMP_MASKED_EQ,
              0xffffffffULL, allowed[i]);
}

/* The native ABI and the 32-bit one beside it. x32 (x86_64 calls with the
 * 0x40000000 bit) is left out: every x32 call gets the filter's answer for
 * an architecture it does not list, ENOSYS (compile()), as on a kernel
 * built without x32 (this one, and Debian's default). Listing it would
 * repeat the whole allow-list a third time in the filter, which the kernel
 * converts and compiles at every start. */
static void
default_arches (struct sc_policy *p)
{
  uint32_t native = seccomp_arch_native ();
  p->arches[p->n_arches++] = native;
  if (native == SCMP_ARCH_X86_64)
    p->arches[p->n_arches++] = SCMP_ARCH_X86;
  else if (native == SCMP_ARCH_AARCH64)
    p->arches[p->n_arches++] = SCMP_ARCH_ARM;
}

static void
build_default (uint64_t caps, struct sc_policy *p)
{
  memset (p, 0, sizeof *p);
  p->default_action = SCMP_ACT_ERRNO (EPERM);
  p->enosys_beyond_known = true;
  default_arches (p);
  for (size_t i = 0; i < sizeof allow_list / sizeof allow_list[0]; i++)
    sc_policy_add (p, allow_list[i], SCMP_ACT_ALLOW);
  for (size_t i = 0; i < sizeof gated_list / sizeof gated_list[0]; i++)
    sc_policy_add (p, gated_list[i].name,
                   has_cap (caps, gated_list[i].cap) ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO (EPERM));
  for (size_t i = 0; i < sizeof deny_list / sizeof deny_list[0]; i++)
    sc_policy_add (p, deny_list[i], SCMP_ACT_ERRNO (EPERM));
  if (has_cap (caps, CAP_SYS_ADMIN))
    {
      sc_policy_add (p, "clone", SCMP_ACT_ALLOW);
      sc_policy_add (p, "unshare", SCMP_ACT_ALLOW);
    }
  else
    add_ns_rules (p);
  sc_policy_add (p, "clone3", SCMP_ACT_ERRNO (ENOSYS));
  /* socket: every family but AF_ALG (38) and AF_VSOCK (40), compared on the
   * low 32 bits: the kernel reads the family as an int, so a 64-bit
   * comparison (family < 38, == 39, > 40, as in Docker's profile) let
   * 0x100000028 through, and the kernel made an AF_VSOCK socket of it */
  static const uint32_t families[] = { 38, 40 };
  add_allow_except32 (p, "socket", 0, families, 2);
  /* ioctl: every request but TIOCSTI and TIOCLINUX, compared on the low 32
   * bits as the kernel reads them (CVE-2019-10063) */
  static const uint32_t tty_injection[] = { TIOCSTI, TIOCLINUX };
  add_allow_except32 (p, "ioctl", 1, tty_injection, 2);
  add_personality_rules (p);
}

/* Rules in a canonical order, for comparing two policies. */
static int
rule_cmp (const void *a, const void *b)
{
  const struct sc_rule *x = *(const struct sc_rule *const *)a,
                       *y = *(const struct sc_rule *const *)b;
  int c = strcmp (x->name, y->name);
  if (c)
    return c;
  if (x->action != y->action)
    return x->action < y->action ? -1 : 1;
  if (x->nargs != y->nargs)
    return x->nargs < y->nargs ? -1 : 1;
  return x->nargs ? memcmp (x->args, y->args, x->nargs * sizeof x->args[0]) : 0;
}

static const struct sc_rule **
sorted_rules (const struct sc_policy *p)
{
  const struct sc_rule **v = xrealloc (NULL, (p->n + 1) * sizeof *v);
  for (size_t i = 0; i < p->n; i++)
    v[i] = &p->rules[i];
  qsort (v, p->n, sizeof *v, rule_cmp);
  return v;
}

static bool
same_arches (const struct sc_policy *a, const struct sc_policy *b)
{
  if (a->n_arches != b->n_arches)
    return false;
  for (size_t i = 0; i < a->n_arches; i++)
    {
      size_t j = 0;
      while (j < b->n_arches && b->arches[j] != a->arches[i])
        j++;
      if (j == b->n_arches)
        return false;
    }
  return true;
}

/* The default policy for CAPS, built once per process: `cairn run` renders
 * it into config.json and the runtime, in the same process, then checks the
 * policy it parsed from there against it (every new page a start touches
 * costs on a virtual machine). */
const struct sc_policy *
seccomp_default_policy (uint64_t caps)
{
  /* the one for another set is a new one: a spec may hold the previous
   * (oci-spec.c, the handoff), which is never freed */
  static struct sc_policy *memo;
  static uint64_t memo_caps;
  if (!memo || memo_caps != caps)
    {
      memo = xrealloc (NULL, sizeof *memo);
      build_default (caps, memo);
      memo_caps = caps;
    }
  return memo;
}

bool
seccomp_policy_is_default (const struct sc_policy *p, uint64_t caps)
{
  if (p->default_action != SCMP_ACT_ERRNO (EPERM))
    return false;
  const struct sc_policy *d = seccomp_default_policy (caps);
  if (d->n != p->n || !same_arches (d, p))
    return false;
  /* a profile printed from the default has its rules in the same order */
  size_t i = 0;
  for (const struct sc_rule *x = d->rules, *y = p->rules; i < d->n; i++, x++, y++)
    if (rule_cmp (&x, &y) != 0)
      break;
  if (i == d->n)
    return true;
  _cleanup_free_ const struct sc_rule **x = sorted_rules (d), **y = sorted_rules (p);
  bool same = true;
  for (i = 0; same && i < d->n; i++)
    same = rule_cmp (&x[i], &y[i]) == 0;
  return same;
}

static int
load_policy (const struct launch_config *cfg, struct sc_policy *p)
{
  if (strcmp (cfg->seccomp, "default") == 0)
    {
      build_default (cfg->caps, p);
      return 0;
    }
  return sc_policy_load_json (cfg->seccomp, p);
}

int
seccomp_print_profile_buf (const struct launch_config *cfg, struct jbuf *b)
{
  struct sc_policy p;
  if (strcmp (cfg->seccomp, "unconfined") == 0)
    return launch_fail (EINVAL, "there is no profile to print with --seccomp=unconfined", NULL);
  if (strcmp (cfg->seccomp, "default") == 0)
    {
      sc_policy_write_jbuf (seccomp_default_policy (cfg->caps), b);
      return 0;
    }
  int r = load_policy (cfg, &p);
  if (r < 0)
    return r;
  sc_policy_write_jbuf (&p, b);
  sc_policy_clear (&p);
  return 0;
}

int
seccomp_print_profile (const struct launch_config *cfg, FILE *f)
{
  struct jbuf b = { 0 };
  int r = seccomp_print_profile_buf (cfg, &b);
  size_t len = b.len;
  if (r == 0 && len && fwrite (b.p, 1, len, f) != len)
    r = launch_fail (EIO, "writing the seccomp profile", NULL);
  jb_free (&b);
  return r;
}

/* ---- compilation ---------------------------------------------------------------- */
static void
release_ctx (scmp_filter_ctx *c)
{
  if (*c)
    seccomp_release (*c);
}

static int
add_rules (scmp_filter_ctx ctx, const struct sc_policy *p)
{
  for (size_t i = 0; i < p->n; i++)
    {
      const struct sc_rule *r = &p->rules[i];
      int nr = seccomp_syscall_resolve_name (r->name);
      if (nr == __NR_SCMP_ERROR)
        continue; /* unknown on every architecture of this libseccomp */
      struct scmp_arg_cmp cmp[6];
      for (unsigned j = 0; j < r->nargs; j++)
        cmp[j] = (struct scmp_arg_cmp){ r->args[j].index, r->args[j].op, r->args[j].value,
                                        r->args[j].value_two };
      int rc = seccomp_rule_add_array (ctx, r->action, nr, r->nargs, cmp);
      if (rc == -EACCES)
        continue; /* same action as the default: nothing to add */
      if (rc < 0)
        return launch_fail (-rc, "libseccomp refused a rule", r->name);
    }
  return 0;
}

static int
export_bpf (scmp_filter_ctx ctx, struct launch_bpf *out)
{
  _cleanup_close_ int fd = memfd_create ("cairn-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return launch_fail (errno, "memfd_create", NULL);
  int rc = seccomp_export_bpf (ctx, fd);
  if (rc < 0)
    return launch_fail (-rc, "exporting the seccomp filter", NULL);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return launch_fail (errno, "fstat", NULL);
  size_t n = (size_t)st.st_size / sizeof (struct sock_filter);
  if (n == 0 || n > BPF_MAX_INSNS || (size_t)st.st_size % sizeof (struct sock_filter))
    return launch_fail (E2BIG, "the seccomp filter is too large or empty", NULL);
  out->insns = xrealloc (NULL, (size_t)st.st_size);
  if (pread (fd, out->insns, (size_t)st.st_size, 0) != st.st_size)
    return launch_fail (EIO, "reading the compiled filter", NULL);
  out->len = (unsigned short)n;
  return 0;
}

/* Put the @n instructions of @head in front of @bpf. Each head block ends by
 * falling through to what follows it, which loads what it needs itself:
 * classic BPF jumps only forward and relatively, so the filter after it is
 * unchanged. */
static int
prepend (struct launch_bpf *bpf, const struct sock_filter *head, size_t n)
{
  if ((size_t)bpf->len + n > BPF_MAX_INSNS)
    return launch_fail (E2BIG, "the seccomp filter is too large", NULL);
  struct sock_filter *all = xrealloc (NULL, ((size_t)bpf->len + n) * sizeof *all);
  memcpy (all, head, n * sizeof *all);
  memcpy (all + n, bpf->insns, bpf->len * sizeof *all);
  free (bpf->insns);
  bpf->insns = all;
  bpf->len = (unsigned short)(bpf->len + n);
  return 0;
}

/* The highest system call number libseccomp knows on @arch (0 if none). */
static unsigned
newest_known_syscall (uint32_t arch)
{
  for (int nr = 1023; nr > 0; nr--)
    {
      char *name = seccomp_syscall_resolve_num_arch (arch, nr);
      if (name)
        {
          free (name);
          return (unsigned)nr;
        }
    }
  return 0;
}

/* Put in front of @bpf a check that answers ENOSYS to a system call whose
 * number is above the newest this libseccomp knows on its architecture.
 * Such a call cannot be on the allow-list (libseccomp could not name it),
 * and ENOSYS rather than EPERM lets a C library newer than the policy fall
 * back to an older call, as it does on an older kernel. x32 calls (the
 * 0x40000000 bit) and unknown architectures go straight to the filter.
 * Classic BPF jumps only forward and relatively, so the filter after the
 * check is unchanged; it starts by loading the architecture itself. */
static int
add_enosys_stub (const struct sc_policy *p, struct launch_bpf *bpf)
{
  struct sock_filter stub[64];
  unsigned n = 0, to_patch[16], np = 0;
  if (bpf->len == 0 || bpf->insns[0].code != (BPF_LD | BPF_W | BPF_ABS))
    return 0; /* not the shape libseccomp exports: leave the filter alone */
  stub[n++] = (struct sock_filter)BPF_STMT (BPF_LD | BPF_W | BPF_ABS,
                                            offsetof (struct seccomp_data, arch));
  /* each architecture adds at most 4 instructions and 2 jumps to patch */
  for (size_t i = 0; i < p->n_arches && np + 2 <= 16 && n + 4 + 2 <= 64; i++)
    {
      uint32_t arch = p->arches[i];
      if (arch == SCMP_ARCH_X32)
        continue;
      unsigned max = newest_known_syscall (arch);
      if (max == 0)
        continue;
      bool x86_64 = arch == SCMP_ARCH_X86_64;
      /* not this arch: to the next block (x86_64: 4 instructions, else 3) */
      stub[n++] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, arch, 0, x86_64 ? 3 : 2);
      stub[n++] = (struct sock_filter)BPF_STMT (BPF_LD | BPF_W | BPF_ABS,
                                                offsetof (struct seccomp_data, nr));
      if (x86_64)
        {
          to_patch[np++] = n; /* jt: to the filter */
          stub[n++] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 0);
        }
      to_patch[np++] = n; /* jt: to ENOSYS, jf: to the filter */
      stub[n++] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JGT | BPF_K, max, 0, 0);
    }
  if (np == 0)
    return 0;
  unsigned enosys = n + 1, filter = n + 2;
  stub[n++] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JA, 1, 0, 0); /* other arch */
  stub[n++] = (struct sock_filter)BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  for (unsigned k = 0; k < np; k++)
    {
      struct sock_filter *j = &stub[to_patch[k]];
      unsigned from = to_patch[k] + 1;
      if ((j->code & 0xf0) == BPF_JGE)
        j->jt = (uint8_t)(filter - from);
      else
        {
          j->jt = (uint8_t)(enosys - from);
          j->jf = (uint8_t)(filter - from);
        }
    }
  return prepend (bpf, stub, n);
}

/* Whether @p restricts socket's arguments and lists the i386 ABI. */
static bool
socket_args_on_i386 (const struct sc_policy *p)
{
  bool i386 = false, args = false;
  for (size_t i = 0; i < p->n_arches; i++)
    i386 |= p->arches[i] == SCMP_ARCH_X86;
  for (size_t i = 0; i < p->n; i++)
    args |= p->rules[i].nargs > 0 && strcmp (p->rules[i].name, "socket") == 0;
  return i386 && args;
}

/* On i386 a socket can also be made through the socketcall multiplexer
 * (nr 102, first argument SYS_SOCKET = 1), which passes the real arguments
 * in memory, out of the filter's reach. libseccomp 2.5 turns a rule on
 * socket into one on the direct call (nr 359) with its argument checks and
 * one on socketcall(SYS_SOCKET) WITHOUT them, so a policy that allows socket
 * for every family but AF_VSOCK and AF_ALG allowed those too through
 * socketcall. The only sound answer is to refuse socketcall(SYS_SOCKET)
 * whenever socket's arguments are restricted; 32-bit programs then need a C
 * library that makes the direct call (glibc does when built for Linux >=
 * 4.3). The other sub-calls stay as the policy says: they act on sockets
 * that exist, and socketpair makes only families that have no AF_VSOCK or
 * AF_ALG form. tests/seccomp-sim.py checks the exported filter. */
static int
add_socketcall_guard (struct launch_bpf *bpf)
{
  enum
  {
    I386_SOCKETCALL = 102,
    SYS_SOCKET_CALL = 1,
  };
  struct sock_filter g[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SCMP_ARCH_X86, 0, 5),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, I386_SOCKETCALL, 0, 3),
    /* the low half of args[0] (i386 is little-endian, its arguments 32-bit) */
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[0])),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_SOCKET_CALL, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
  };
  return prepend (bpf, g, sizeof g / sizeof g[0]);
}

static int
compile (const struct sc_policy *p, struct launch_bpf *out)
{
  _cleanup_ (release_ctx) scmp_filter_ctx ctx = seccomp_init (p->default_action);
  if (!ctx)
    return launch_fail (EINVAL, "seccomp_init failed (bad default action?)", NULL);
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  /* A binary tree over syscall numbers rather than a list: shorter paths
   * for every syscall the container makes, and for the kernel, which runs
   * the filter once per syscall number and architecture when it is loaded
   * (to find the always-allowed ones). Best effort: older libseccomp. */
  (void)seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  /* A call through an ABI the profile does not list (x32 with the default
   * policy) fails with ENOSYS instead of killing the process. */
  if (seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO (ENOSYS)) < 0)
    return launch_fail (EINVAL, "libseccomp refused the bad-architecture action", NULL);
  for (size_t i = 0; i < p->n_arches; i++)
    {
      int rc = seccomp_arch_add (ctx, p->arches[i]);
      if (rc < 0 && rc != -EEXIST)
        return launch_fail (-rc, "adding an architecture to the seccomp filter", NULL);
    }
  int r = add_rules (ctx, p);
  if (r == 0)
    r = export_bpf (ctx, out);
  if (r == 0 && p->enosys_beyond_known)
    r = add_enosys_stub (p, out);
  if (r == 0 && socket_args_on_i386 (p))
    r = add_socketcall_guard (out);
  return r;
}

/* ---- the cache ---------------------------------------------------------------- */

struct keybuf
{
  char *p;
  size_t len, cap;
};

static void
key_put (struct keybuf *k, const void *data, size_t n)
{
  if (k->len + n > k->cap)
    {
      k->cap = (k->len + n) * 2 + 4096;
      k->p = xrealloc (k->p, k->cap);
    }
  memcpy (k->p + k->len, data, n);
  k->len += n;
}

/* The cache key: a text header (format, libseccomp version, kernel) and the
 * policy in a compact binary form (names and numbers, in order). Building
 * it is part of every start; the JSON form took ~0.1 ms for the default
 * policy's 500 rules. */
static char *
cache_key (const struct sc_policy *p, size_t *out_len)
{
  struct keybuf k = { 0 };
  const struct scmp_version *v = seccomp_version ();
  struct utsname u;
  uname (&u);
  char head[512];
  int n = snprintf (head, sizeof head,
                    "cairn-launch bpf 4 (tree, enosys stub, badarch enosys, socketcall guard)\n"
                    "libseccomp %u.%u.%u\n"
                    "kernel %s %s %s\n",
                    v->major, v->minor, v->micro, u.release, u.version, u.machine);
  if (n < 0 || (size_t)n >= sizeof head)
    return NULL;
  key_put (&k, head, (size_t)n);
  uint32_t w[4]
      = { p->default_action, (uint32_t)p->n_arches, p->enosys_beyond_known, (uint32_t)p->n };
  key_put (&k, w, sizeof w);
  key_put (&k, p->arches, p->n_arches * sizeof p->arches[0]);
  for (size_t i = 0; i < p->n; i++)
    {
      const struct sc_rule *r = &p->rules[i];
      key_put (&k, r->name, strlen (r->name) + 1);
      uint32_t h[2] = { r->action, r->nargs };
      key_put (&k, h, sizeof h);
      for (unsigned j = 0; j < r->nargs; j++)
        {
          uint64_t a[4] = { r->args[j].index, (uint64_t)r->args[j].op, r->args[j].value,
                            r->args[j].value_two };
          key_put (&k, a, sizeof a);
        }
    }
  *out_len = k.len;
  return k.p;
}

static char *
default_cache_dir (void)
{
  if (geteuid () == 0)
    return xstrdup ("/var/cache/cairn/seccomp");
  const char *x = getenv ("XDG_CACHE_HOME");
  if (x && *x == '/')
    return xasprintf ("%s/cairn/seccomp", x);
  const char *h = getenv ("HOME");
  return h && *h == '/' ? xasprintf ("%s/.cache/cairn/seccomp", h) : NULL;
}

static bool
read_all (int fd, void *buf, size_t n)
{
  return read (fd, buf, n) == (ssize_t)n;
}

static int
cache_load (const char *path, const char *key, size_t keylen, struct launch_bpf *out)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ()
      || (st.st_mode & 022))
    return -ENOENT;
  char magic[sizeof BPF_MAGIC - 1];
  uint32_t klen, n;
  if (!read_all (fd, magic, sizeof magic) || memcmp (magic, BPF_MAGIC, sizeof magic)
      || !read_all (fd, &klen, sizeof klen) || klen != keylen)
    return -ENOENT;
  _cleanup_free_ char *k = xrealloc (NULL, klen);
  if (!read_all (fd, k, klen) || memcmp (k, key, klen) || !read_all (fd, &n, sizeof n) || n == 0
      || n > BPF_MAX_INSNS)
    return -ENOENT;
  out->insns = xrealloc (NULL, n * sizeof (struct sock_filter));
  if (!read_all (fd, out->insns, n * sizeof (struct sock_filter)))
    {
      free (steal_ptr (&out->insns));
      return -ENOENT;
    }
  out->len = (unsigned short)n;
  return 0;
}

/* Best effort: a failure to store only costs the next start a compilation. */
static void
cache_store (const char *dir, const char *path, const char *key, size_t keylen,
             const struct launch_bpf *bpf)
{
  if (mkdir_p (dir, 0700) < 0)
    return;
  _cleanup_free_ char *tmp = xasprintf ("%s.%ld.tmp", path, (long)getpid ());
  _cleanup_close_ int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  uint32_t klen = (uint32_t)keylen, n = bpf->len;
  bool ok = write (fd, BPF_MAGIC, sizeof BPF_MAGIC - 1) == sizeof BPF_MAGIC - 1
            && write (fd, &klen, sizeof klen) == sizeof klen
            && write (fd, key, keylen) == (ssize_t)keylen && write (fd, &n, sizeof n) == sizeof n
            && write (fd, bpf->insns, n * sizeof (struct sock_filter))
                   == (ssize_t)(n * sizeof (struct sock_filter));
  if (!ok || rename (tmp, path) < 0)
    unlink (tmp);
}

static int
compile_cached (const struct sc_policy *p, const char *cache_opt, struct launch_bpf *out)
{
  _cleanup_free_ char *dir = NULL;
  if (!cache_opt || strcmp (cache_opt, "none") != 0)
    dir = cache_opt ? xstrdup (cache_opt) : default_cache_dir ();
  size_t keylen = 0;
  _cleanup_free_ char *key = dir ? cache_key (p, &keylen) : NULL;
  _cleanup_free_ char *path = NULL;
  if (key)
    {
      path = xasprintf ("%s/%016llx.bpf", dir,
                        (unsigned long long)fnv1a64 (key, keylen, 0xcbf29ce484222325ULL));
      if (cache_load (path, key, keylen, out) == 0)
        return 0;
    }
  int r = compile (p, out);
  if (r == 0 && key)
    cache_store (dir, path, key, keylen, out);
  return r;
}

int
seccomp_prepare (const struct launch_config *cfg, struct launch_bpf *out)
{
  memset (out, 0, sizeof *out);
  if (strcmp (cfg->seccomp, "unconfined") == 0)
    return 0;
  struct sc_policy p;
  int r = load_policy (cfg, &p);
  if (r < 0)
    return r;
  r = compile_cached (&p, cfg->seccomp_cache, out);
  sc_policy_clear (&p);
  return r;
}

/* Child side: the raw syscall (no libseccomp, no allocation). */
int
seccomp_apply_raw (const struct launch_bpf *bpf)
{
  if (!bpf->len)
    return 0;
  struct sock_fprog prog = { bpf->len, bpf->insns };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return launch_fail (errno, "loading the seccomp filter", NULL);
  return 0;
}

/* The OCI runtime's entry: a profile that came from a bundle's config.json
 * (oci-spec.c), compiled and cached like the launcher's own. */
int
seccomp_compile_policy (const struct sc_policy *p, const char *cache_dir, struct launch_bpf *out)
{
  memset (out, 0, sizeof *out);
  return compile_cached (p, cache_dir, out);
}
