/* cairn-launch: the default seccomp policy, compilation, BPF cache, loading.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Policy: a deny-list in the spirit of Docker's profile (spec/runtime-anchors.md
 * §2): default ALLOW; EPERM for the kernel-keyring, kexec, module, bpf,
 * perf, userfaultfd, open_by_handle_at ("shocker"), io_uring, mount-family,
 * namespace-creating clone/unshare, setns, AF_VSOCK/AF_ALG sockets, the i386
 * socketcall multiplexer (its arguments cannot be inspected), personality
 * values other than Docker's five, and TIOCSTI/TIOCLINUX ioctls compared on
 * the low 32 bits only (CVE-2019-10063); ENOSYS for clone3 so that libc falls
 * back to clone, whose flags can be inspected.  Entries gated on a capability
 * (as in Docker) are dropped when --cap-add grants it.  The rules cover the
 * x86_64, i386 and x32 entry points on x86_64 (and arm on aarch64); an
 * architecture absent from the filter is killed (libseccomp's default).
 *
 * Compilation with libseccomp costs ~14 ms (measured, §7.3), so the BPF is
 * compiled once and cached in DIR/<fnv64>.bpf.  The file holds the full key
 * (format version, libseccomp version, kernel release/version/machine and the
 * policy's canonical JSON) and is used only if the key matches byte for byte,
 * it is owned by the caller and not writable by others.  The child loads it
 * with the raw seccomp(2) syscall as its last step before execve.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>

#include "runtime/launch.h"
#include "runtime/seccomp-policy.h"

#define BPF_MAGIC "CAIRNBPF1\n"
#define BPF_MAX_INSNS BPF_MAXINSNS

/* ---- policy container -------------------------------------------------------- */
void
sc_policy_clear (struct sc_policy *p)
{
  for (size_t i = 0; i < p->n; i++)
    free (p->rules[i].name);
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

static void
rule_arg (struct sc_rule *r, unsigned idx, enum scmp_compare op, uint64_t a, uint64_t b)
{
  struct sc_arg *x = &r->args[r->nargs++];
  x->index = idx;
  x->op = op;
  x->value = a;
  x->value_two = b;
}

/* ---- the default policy ------------------------------------------------------ */
struct deny_entry
{
  const char *name;
  int unless_cap; /* -1: always denied */
};

static const struct deny_entry deny_list[] = {
  { "keyctl", -1 }, { "add_key", -1 }, { "request_key", -1 },
  { "kexec_load", CAP_SYS_BOOT }, { "kexec_file_load", CAP_SYS_BOOT }, { "reboot", CAP_SYS_BOOT },
  { "init_module", CAP_SYS_MODULE }, { "finit_module", CAP_SYS_MODULE },
  { "delete_module", CAP_SYS_MODULE },
  { "bpf", CAP_SYS_ADMIN }, { "perf_event_open", CAP_SYS_ADMIN }, { "userfaultfd", -1 },
  { "open_by_handle_at", CAP_DAC_READ_SEARCH },
  { "io_uring_setup", -1 }, { "io_uring_enter", -1 }, { "io_uring_register", -1 },
  { "mount", CAP_SYS_ADMIN }, { "umount", CAP_SYS_ADMIN }, { "umount2", CAP_SYS_ADMIN },
  { "pivot_root", CAP_SYS_ADMIN }, { "setns", CAP_SYS_ADMIN },
  { "fsopen", CAP_SYS_ADMIN }, { "fsconfig", CAP_SYS_ADMIN }, { "fsmount", CAP_SYS_ADMIN },
  { "fspick", CAP_SYS_ADMIN }, { "move_mount", CAP_SYS_ADMIN }, { "open_tree", CAP_SYS_ADMIN },
  { "mount_setattr", CAP_SYS_ADMIN }, { "quotactl", CAP_SYS_ADMIN },
  { "lookup_dcookie", CAP_SYS_ADMIN }, { "swapon", CAP_SYS_ADMIN }, { "swapoff", CAP_SYS_ADMIN },
  { "acct", CAP_SYS_PACCT }, { "syslog", CAP_SYSLOG }, { "nfsservctl", -1 }, { "uselib", -1 },
  { "vm86", -1 }, { "vm86old", -1 }, { "socketcall", -1 },
  { "settimeofday", CAP_SYS_TIME }, { "stime", CAP_SYS_TIME }, { "clock_settime", CAP_SYS_TIME },
  { "iopl", CAP_SYS_RAWIO }, { "ioperm", CAP_SYS_RAWIO }, { "vhangup", CAP_SYS_TTY_CONFIG },
  { "kcmp", CAP_SYS_PTRACE }, { "pidfd_getfd", CAP_SYS_PTRACE },
  { "process_madvise", CAP_SYS_PTRACE },
};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's
 * 0x7E020000), one rule per bit: a MASKED_EQ per bit is an OR of bits. */
static const uint64_t ns_flag_bits[] = { 0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                         0x10000000, 0x20000000, 0x40000000 };

static bool
has_cap (uint64_t caps, int cap)
{
  return cap >= 0 && (caps & (1ULL << cap));
}

static void
add_ns_rules (struct sc_policy *p)
{
  for (size_t i = 0; i < sizeof ns_flag_bits / sizeof ns_flag_bits[0]; i++)
    {
      uint64_t b = ns_flag_bits[i];
      rule_arg (sc_policy_add (p, "clone", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_MASKED_EQ, b, b);
      rule_arg (sc_policy_add (p, "unshare", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_MASKED_EQ, b, b);
    }
  /* CLONE_NEWTIME exists only for unshare (for clone it is CSIGNAL space). */
  rule_arg (sc_policy_add (p, "unshare", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_MASKED_EQ, 0x80,
            0x80);
  sc_policy_add (p, "clone3", SCMP_ACT_ERRNO (ENOSYS));
}

/* personality: allow only 0, 8 (PER_LINUX32), 0x20000 (UNAME26), 0x20008 and
 * 0xffffffff (query), like Docker.  libseccomp accepts one comparison per
 * argument per rule, so the complement is a union of single MASKED_EQ rules
 * on the low 32 bits (the kernel truncates the argument to 32 bits): for
 * each bit j, "bit j clear and bit s(j) set", where s(j) is the next bit
 * after j, cyclically, other than 3 and 17.  A disallowed value has a clear
 * bit and a set bit outside {3, 17}; walking from a clear bit to the first
 * such set bit finds a clear j with s(j) set.  The allowed values have no
 * set bit outside {3, 17}, or no clear bit.  32 rules (the minimum: each
 * "all ones but bit j" needs a rule whose only clear bit is j). */
static unsigned
next_free_bit (unsigned j)
{
  unsigned k = (j + 1) % 32;
  while (k == 3 || k == 17)
    k = (k + 1) % 32;
  return k;
}

static void
add_personality_rules (struct sc_policy *p)
{
  for (unsigned j = 0; j < 32; j++)
    {
      uint64_t set = 1ULL << next_free_bit (j);
      rule_arg (sc_policy_add (p, "personality", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_MASKED_EQ,
                set | (1ULL << j), set);
    }
}

static void
default_arches (struct sc_policy *p)
{
  uint32_t native = seccomp_arch_native ();
  p->arches[p->n_arches++] = native;
  if (native == SCMP_ARCH_X86_64)
    {
      p->arches[p->n_arches++] = SCMP_ARCH_X86;
      p->arches[p->n_arches++] = SCMP_ARCH_X32;
    }
  else if (native == SCMP_ARCH_AARCH64)
    p->arches[p->n_arches++] = SCMP_ARCH_ARM;
}

static void
build_default (uint64_t caps, struct sc_policy *p)
{
  memset (p, 0, sizeof *p);
  p->default_action = SCMP_ACT_ALLOW;
  default_arches (p);
  for (size_t i = 0; i < sizeof deny_list / sizeof deny_list[0]; i++)
    if (!has_cap (caps, deny_list[i].unless_cap))
      sc_policy_add (p, deny_list[i].name, SCMP_ACT_ERRNO (EPERM));
  if (!has_cap (caps, CAP_SYS_ADMIN))
    add_ns_rules (p);
  rule_arg (sc_policy_add (p, "socket", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_EQ, 40, 0);
  rule_arg (sc_policy_add (p, "socket", SCMP_ACT_ERRNO (EPERM)), 0, SCMP_CMP_EQ, 38, 0);
  rule_arg (sc_policy_add (p, "ioctl", SCMP_ACT_ERRNO (EPERM)), 1, SCMP_CMP_MASKED_EQ,
            0xffffffffULL, TIOCSTI);
  rule_arg (sc_policy_add (p, "ioctl", SCMP_ACT_ERRNO (EPERM)), 1, SCMP_CMP_MASKED_EQ,
            0xffffffffULL, TIOCLINUX);
  add_personality_rules (p);
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
seccomp_print_profile (const struct launch_config *cfg, FILE *f)
{
  struct sc_policy p;
  if (strcmp (cfg->seccomp, "unconfined") == 0)
    return launch_fail (EINVAL, "there is no profile to print with --seccomp=unconfined", NULL);
  int r = load_policy (cfg, &p);
  if (r < 0)
    return r;
  r = sc_policy_write_json (&p, f);
  sc_policy_clear (&p);
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
  size_t n = (size_t) st.st_size / sizeof (struct sock_filter);
  if (n == 0 || n > BPF_MAX_INSNS || (size_t) st.st_size % sizeof (struct sock_filter))
    return launch_fail (E2BIG, "the seccomp filter is too large or empty", NULL);
  out->insns = xrealloc (NULL, (size_t) st.st_size);
  if (pread (fd, out->insns, (size_t) st.st_size, 0) != st.st_size)
    return launch_fail (EIO, "reading the compiled filter", NULL);
  out->len = (unsigned short) n;
  return 0;
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
  (void) seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (size_t i = 0; i < p->n_arches; i++)
    {
      int rc = seccomp_arch_add (ctx, p->arches[i]);
      if (rc < 0 && rc != -EEXIST)
        return launch_fail (-rc, "adding an architecture to the seccomp filter", NULL);
    }
  int r = add_rules (ctx, p);
  return r < 0 ? r : export_bpf (ctx, out);
}

/* ---- the cache ---------------------------------------------------------------- */
static char *
cache_key (const struct sc_policy *p, size_t *out_len)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (!f)
    return NULL;
  const struct scmp_version *v = seccomp_version ();
  struct utsname u;
  uname (&u);
  fprintf (f, "cairn-launch bpf 2 (tree)\nlibseccomp %u.%u.%u\nkernel %s %s %s\n", v->major, v->minor,
           v->micro, u.release, u.version, u.machine);
  sc_policy_write_json (p, f);
  if (fclose (f) != 0)
    {
      free (buf);
      return NULL;
    }
  *out_len = len;
  return buf;
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
  return read (fd, buf, n) == (ssize_t) n;
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
  out->len = (unsigned short) n;
  return 0;
}

/* Best effort: a failure to store only costs the next start a compilation. */
static void
cache_store (const char *dir, const char *path, const char *key, size_t keylen,
             const struct launch_bpf *bpf)
{
  if (mkdir_p (dir, 0700) < 0)
    return;
  _cleanup_free_ char *tmp = xasprintf ("%s.%ld.tmp", path, (long) getpid ());
  _cleanup_close_ int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  uint32_t klen = (uint32_t) keylen, n = bpf->len;
  bool ok = write (fd, BPF_MAGIC, sizeof BPF_MAGIC - 1) == sizeof BPF_MAGIC - 1
            && write (fd, &klen, sizeof klen) == sizeof klen
            && write (fd, key, keylen) == (ssize_t) keylen && write (fd, &n, sizeof n) == sizeof n
            && write (fd, bpf->insns, n * sizeof (struct sock_filter))
                   == (ssize_t) (n * sizeof (struct sock_filter));
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
                        (unsigned long long) fnv1a64 (key, keylen, 0xcbf29ce484222325ULL));
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
