/* cairn-launch: linux.resources.devices on cgroup v2, as an eBPF program.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * cgroup v2 has no devices.allow/deny files: access to device nodes is
 * decided by a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
 * (docs/runtime-anchors.md §3, the devices row).  The program built here
 * checks the rules from the last to the first, as the v1 files would have
 * applied them in order, and the first that matches decides:
 *
 *   an allow rule matches a request whose type, major and minor it covers
 *   ('a' and -1 are wildcards) and whose every access bit it grants;
 *   a deny rule matches a request with any access bit it names.
 *
 * A request no rule matches is allowed (a cgroup without a program allows
 * everything; a bundle denies by starting with {"allow": false}).  The
 * default nodes of every container are appended as allow rules, as on v1.
 *
 * The context (struct bpf_cgroup_dev_ctx): access_type = access << 16 |
 * type (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2; access MKNOD 1, READ 2,
 * WRITE 4), major, minor.  The program is attached with BPF_F_ALLOW_MULTI
 * and stays with the cgroup when our fd is closed.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#include "runtime/oci.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ (c), (d), (s), (o), (i) })

struct prog
{
  struct bpf_insn *v;
  size_t n, cap;
};

static void
emit (struct prog *p, struct bpf_insn in)
{
  if (p->n == p->cap)
    p->v = xrealloc (p->v, (p->cap = p->cap ? p->cap * 2 : 64) * sizeof *p->v);
  p->v[p->n++] = in;
}

static unsigned
access_bits (const char *a)
{
  unsigned b = 0;
  for (; *a; a++)
    b |= *a == 'm' ? BPF_DEVCG_ACC_MKNOD : *a == 'r' ? BPF_DEVCG_ACC_READ : BPF_DEVCG_ACC_WRITE;
  return b;
}

/* One rule: each test jumps to the next rule when it does not match; the
 * offsets are filled once the rule's length is known. */
static void
emit_rule (struct prog *p, const struct oci_devrule *d)
{
  size_t start = p->n;
  size_t fix[8], nf = 0;
  if (d->type != 'a')
    {
      fix[nf++] = p->n;
      emit (p, INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, 0,
                     d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    }
  if (d->major >= 0)
    {
      fix[nf++] = p->n;
      emit (p, INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)d->major));
    }
  if (d->minor >= 0)
    {
      fix[nf++] = p->n;
      emit (p, INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_6, 0, 0, (int32_t)d->minor));
    }
  unsigned acc = access_bits (d->access);
  emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_4, 0, 0));
  emit (p, INSN (BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_7, 0, 0,
                 (int32_t)(d->allow ? (~acc & 7u) : acc)));
  fix[nf++] = p->n;
  emit (p, INSN (BPF_JMP | (d->allow ? BPF_JNE : BPF_JEQ) | BPF_K, BPF_REG_7, 0, 0, 0));
  emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, d->allow ? 1 : 0));
  emit (p, INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  for (size_t i = 0; i < nf; i++)
    p->v[fix[i]].off = (int16_t)(p->n - fix[i] - 1);
  (void)start;
}

static void
build (struct prog *p, const struct oci_devrule *rules, size_t n)
{
  /* r2 = access_type, r3 = type, r4 = access, r5 = major, r6 = minor */
  emit (p, INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));
  emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
  emit (p, INSN (BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff));
  emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0));
  emit (p, INSN (BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_4, 0, 0, 16));
  emit (p, INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 4, 0));
  emit (p, INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_6, BPF_REG_1, 8, 0));
  for (size_t i = n; i-- > 0;)
    emit_rule (p, &rules[i]);
  emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
  emit (p, INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

static int
bpf (int cmd, union bpf_attr *a)
{
  return (int)syscall (SYS_bpf, cmd, a, sizeof *a);
}

static int
load (const struct prog *p, char *log, size_t log_size)
{
  union bpf_attr a;
  memset (&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)p->v;
  a.insn_cnt = (uint32_t)p->n;
  a.license = (uint64_t)(uintptr_t) "GPL";
  if (log)
    {
      a.log_buf = (uint64_t)(uintptr_t)log;
      a.log_size = (uint32_t)log_size;
      a.log_level = 1;
    }
  return bpf (BPF_PROG_LOAD, &a);
}

/* The verifier's complaint is the line before its statistics. */
static const char *
verifier_says (char *log)
{
  char *stats = strstr (log, "processed ");
  if (stats)
    *stats = '\0';
  size_t len = strlen (log);
  while (len && log[len - 1] == '\n')
    log[--len] = '\0';
  char *last = strrchr (log, '\n');
  return last ? last + 1 : log;
}

int
oci_devices_bpf_attach (const char *cgroup_dir, const struct oci_devrule *rules, size_t n)
{
  struct prog p = { 0 };
  build (&p, rules, n);
  int prog = load (&p, NULL, 0);
  if (prog < 0)
    {
      int e = errno;
      /* the verifier's log on the heap, only when a load failed: not a
       * static buffer in the launcher's image */
      enum
      {
        LOG_SIZE = 65536
      };
      static char msg[700];
      char *log = xrealloc (NULL, LOG_SIZE);
      log[0] = '\0';
      if (load (&p, log, LOG_SIZE) >= 0)
        log[0] = '\0';
      snprintf (msg, sizeof msg, "linux.resources.devices: loading the device eBPF program%s%s",
                log[0] ? ": " : "", verifier_says (log));
      free (log);
      free (p.v);
      return launch_fail (e, msg, NULL);
    }
  free (p.v);
  union bpf_attr a;
  _cleanup_close_ int cg = open (cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  memset (&a, 0, sizeof a);
  a.target_fd = (uint32_t)cg;
  a.attach_bpf_fd = (uint32_t)prog;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  int r = cg < 0 || bpf (BPF_PROG_ATTACH, &a) < 0 ? -errno : 0;
  close (prog);
  if (r < 0)
    return launch_fail (-r, "linux.resources.devices: attaching the device eBPF program",
                        cgroup_dir);
  return 0;
}
