/* cairn-launch: OCI seccomp profiles in JSON (print and parse).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The profile is the "linux.seccomp" object of an OCI runtime config:
 * defaultAction, defaultErrnoRet, architectures, syscalls[] with names,
 * action, errnoRet and args[] {index, value, valueTwo, op}.  For
 * SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the expected result,
 * as in runc and crun.  Unknown keys are ignored here (as crun does); the
 * OCI runtime checks the keys of linux.seccomp itself (oci-spec.c) and
 * refuses unknown ones.  The JSON reader is runtime/json.c; profiles are
 * trusted input from the caller, but it still bounds depth and sizes.
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/json.h"
#include "runtime/launch.h"
#include "runtime/seccomp-policy.h"

static const struct
{
  const char *name;
  uint32_t token;
} arch_names[] = {
  { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },   { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
  { "SCMP_ARCH_X32", SCMP_ARCH_X32 },         { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
  { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },         { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
  { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },     { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
  { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};
static const char *const op_names[]
    = { NULL,          "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
        "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };

static const char *
arch_name (uint32_t token)
{
  for (size_t i = 0; i < sizeof arch_names / sizeof arch_names[0]; i++)
    if (arch_names[i].token == token)
      return arch_names[i].name;
  return "SCMP_ARCH_NATIVE";
}

static void
write_action (struct jbuf *b, const char *key, uint32_t action)
{
  uint32_t kind = action & 0xffff0000U;
  const char *n = "SCMP_ACT_KILL_PROCESS";
  if (action == SCMP_ACT_ALLOW)
    n = "SCMP_ACT_ALLOW";
  else if (kind == SCMP_ACT_ERRNO (0))
    n = "SCMP_ACT_ERRNO";
  else if (kind == SCMP_ACT_TRACE (0))
    n = "SCMP_ACT_TRACE";
  else if (action == SCMP_ACT_TRAP)
    n = "SCMP_ACT_TRAP";
  else if (action == SCMP_ACT_LOG)
    n = "SCMP_ACT_LOG";
  else if (action == SCMP_ACT_KILL_THREAD)
    n = "SCMP_ACT_KILL";
  jb_printf (b, "\"%s\": \"%s\"", key, n);
  if (kind == SCMP_ACT_ERRNO (0))
    jb_printf (b, ", \"%s\": %u", strcmp (key, "action") ? "defaultErrnoRet" : "errnoRet",
               action & 0xffffU);
}

/* Rules [i, end) share their action and have no argument filter: one
 * entry with all their names, as Docker's profile is written.  The policy
 * is the same (a reader gives each name the entry's action); the profile
 * in every OCI container's config.json, which the runtime parses at each
 * start, is a third of the size and of the nodes. */
static size_t
group_end (const struct sc_policy *p, size_t i)
{
  size_t end = i + 1;
  if (p->rules[i].nargs)
    return end;
  while (end < p->n && !p->rules[end].nargs && p->rules[end].action == p->rules[i].action)
    end++;
  return end;
}

/* The names are the policy's own (syscall names: no character that JSON
 * escapes), copied as they are. */
static void
write_rule (struct jbuf *b, const struct sc_policy *p, size_t i, size_t end)
{
  const struct sc_rule *r = &p->rules[i];
  jb_raw (b, "    { \"names\": [");
  for (size_t k = i; k < end; k++)
    {
      jb_raw (b, k > i ? ", \"" : "\"");
      jb_raw (b, p->rules[k].name);
      jb_mem (b, "\"", 1);
    }
  jb_raw (b, "], ");
  write_action (b, "action", r->action);
  if (r->nargs)
    {
      jb_raw (b, ", \"args\": [");
      for (unsigned j = 0; j < r->nargs; j++)
        jb_printf (b, "%s{ \"index\": %u, \"value\": %llu, \"valueTwo\": %llu, \"op\": \"%s\" }",
                   j ? ", " : "", r->args[j].index, (unsigned long long)r->args[j].value,
                   (unsigned long long)r->args[j].value_two, op_names[r->args[j].op]);
      jb_mem (b, "]", 1);
    }
  jb_raw (b, end == p->n ? " }\n" : " },\n");
}

/* Into a growing buffer, not through stdio: the default profile is some
 * 17 kB of names printed at each container's start (the stdio calls, one
 * per name, were measured at ~0.2 ms of it). */
void
sc_policy_write_jbuf (const struct sc_policy *p, struct jbuf *b)
{
  jb_raw (b, "{\n  ");
  write_action (b, "defaultAction", p->default_action);
  jb_raw (b, ",\n  \"architectures\": [");
  for (size_t i = 0; i < p->n_arches; i++)
    {
      jb_raw (b, i ? ", \"" : "\"");
      jb_raw (b, arch_name (p->arches[i]));
      jb_mem (b, "\"", 1);
    }
  jb_raw (b, "],\n  \"syscalls\": [\n");
  for (size_t i = 0, end; i < p->n; i = end)
    {
      end = group_end (p, i);
      write_rule (b, p, i, end);
    }
  jb_raw (b, "  ]\n}\n");
}

int
sc_policy_write_json (const struct sc_policy *p, FILE *f)
{
  struct jbuf b = { 0 };
  sc_policy_write_jbuf (p, &b);
  size_t len = b.len, n = len ? fwrite (b.p, 1, len, f) : 0;
  jb_free (&b);
  return n != len || ferror (f) ? launch_fail (EIO, "writing the seccomp profile", NULL) : 0;
}

/* ---- OCI profile -> sc_policy ------------------------------------------------------ */
/* SCMP_ACT_NOTIFY only where a listener receives the notifications (the OCI
 * runtime with linux.seccomp.listenerPath); the launcher's --seccomp=FILE
 * has none. */
static bool notify_ok;

void
sc_policy_allow_notify (bool ok)
{
  notify_ok = ok;
}

static int
parse_action (const struct json *v, const struct json *errno_ret, uint32_t *out)
{
  uint64_t e = EPERM;
  if (!v || v->t != JSON_STR)
    return launch_fail (EINVAL, "seccomp profile: missing or invalid action", NULL);
  if (errno_ret && json_u64 (errno_ret, &e) < 0)
    return launch_fail (EINVAL, "seccomp profile: invalid errnoRet", NULL);
  const char *s = v->s;
  if (!strcmp (s, "SCMP_ACT_ALLOW"))
    *out = SCMP_ACT_ALLOW;
  else if (!strcmp (s, "SCMP_ACT_ERRNO"))
    *out = SCMP_ACT_ERRNO ((uint16_t)e);
  else if (!strcmp (s, "SCMP_ACT_KILL") || !strcmp (s, "SCMP_ACT_KILL_THREAD"))
    *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp (s, "SCMP_ACT_KILL_PROCESS"))
    *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp (s, "SCMP_ACT_TRAP"))
    *out = SCMP_ACT_TRAP;
  else if (!strcmp (s, "SCMP_ACT_LOG"))
    *out = SCMP_ACT_LOG;
  else if (!strcmp (s, "SCMP_ACT_TRACE"))
    *out = SCMP_ACT_TRACE ((uint16_t)e);
  else if (!strcmp (s, "SCMP_ACT_NOTIFY") && notify_ok)
    *out = SCMP_ACT_NOTIFY;
  else
    return launch_fail (EINVAL, "seccomp profile: unsupported action", s);
  return 0;
}

static int
parse_arg (const struct json *a, struct sc_arg *out)
{
  uint64_t idx;
  const struct json *op = json_get (a, "op");
  if (json_u64 (json_get (a, "index"), &idx) < 0 || idx > 5
      || json_u64 (json_get (a, "value"), &out->value) < 0)
    return launch_fail (EINVAL, "seccomp profile: invalid argument filter", NULL);
  out->value_two = 0;
  if (json_get (a, "valueTwo") && json_u64 (json_get (a, "valueTwo"), &out->value_two) < 0)
    return launch_fail (EINVAL, "seccomp profile: invalid valueTwo", NULL);
  out->index = (unsigned)idx;
  for (int i = 1; i < 8; i++)
    if (op && op->t == JSON_STR && strcmp (op->s, op_names[i]) == 0)
      {
        out->op = (enum scmp_compare)i;
        return 0;
      }
  return launch_fail (EINVAL, "seccomp profile: invalid op", op && op->s ? op->s : NULL);
}

static int
parse_syscall (const struct json *s, struct sc_policy *p)
{
  uint32_t action;
  int r = parse_action (json_get (s, "action"), json_get (s, "errnoRet"), &action);
  const struct json *names = json_get (s, "names"), *args = json_get (s, "args");
  if (r < 0)
    return r;
  if (!names || names->t != JSON_ARR || (args && args->t != JSON_ARR && args->t != JSON_NULL)
      || (args && args->n > 6))
    return launch_fail (EINVAL, "seccomp profile: invalid syscalls entry", NULL);
  for (size_t i = 0; i < names->n; i++)
    {
      if (names->kids[i]->t != JSON_STR)
        return launch_fail (EINVAL, "seccomp profile: syscall names must be strings", NULL);
      struct sc_rule *rule = sc_policy_add (p, names->kids[i]->s, action);
      for (size_t k = 0; args && args->t == JSON_ARR && k < args->n; k++)
        {
          if ((r = parse_arg (args->kids[k], sc_rule_add_arg (rule))) < 0)
            return r;
        }
    }
  return 0;
}

static int
parse_profile (const struct json *root, struct sc_policy *p)
{
  if (!root || root->t != JSON_OBJ)
    return launch_fail (EINVAL, "seccomp profile: not a JSON object", NULL);
  int r = parse_action (json_get (root, "defaultAction"), json_get (root, "defaultErrnoRet"),
                        &p->default_action);
  const struct json *arches = json_get (root, "architectures"), *sys = json_get (root, "syscalls");
  for (size_t i = 0; r == 0 && arches && arches->t == JSON_ARR && i < arches->n; i++)
    {
      const struct json *a = arches->kids[i];
      size_t k = 0;
      while (k < sizeof arch_names / sizeof arch_names[0]
             && !(a->t == JSON_STR && strcmp (a->s, arch_names[k].name) == 0))
        k++;
      if (k == sizeof arch_names / sizeof arch_names[0] || p->n_arches >= 16)
        return launch_fail (EINVAL, "seccomp profile: unknown architecture", a->s);
      p->arches[p->n_arches++] = arch_names[k].token;
    }
  for (size_t i = 0; r == 0 && sys && sys->t == JSON_ARR && i < sys->n; i++)
    r = parse_syscall (sys->kids[i], p);
  return r;
}

int
sc_policy_from_json (const struct json *root, struct sc_policy *out)
{
  memset (out, 0, sizeof *out);
  int r = parse_profile (root, out);
  if (r < 0)
    sc_policy_clear (out);
  return r;
}

int
sc_policy_load_json (const char *path, struct sc_policy *out)
{
  memset (out, 0, sizeof *out);
  struct json *root = json_parse_file (AT_FDCWD, path, 16 << 20);
  if (!root)
    {
      /* keep what json_parse_file found, said of the profile */
      static char msg[200];
      int err = errno ? errno : EINVAL;
      snprintf (msg, sizeof msg, "seccomp profile: %s", launch_errmsg ());
      return launch_fail (err, msg, path);
    }
  int r = sc_policy_from_json (root, out);
  json_free (root);
  return r;
}
