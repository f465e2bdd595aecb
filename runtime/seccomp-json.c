/* cairn-launch: OCI seccomp profiles in JSON (print and parse).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The profile is the "linux.seccomp" object of an OCI runtime config:
 * defaultAction, defaultErrnoRet, architectures, syscalls[] with names,
 * action, errnoRet and args[] {index, value, valueTwo, op}.  For
 * SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the expected result,
 * as in runc and crun.  Unknown keys are ignored (as crun does).  The parser
 * is a small recursive-descent one: profiles are trusted input from the
 * caller, but it still bounds depth and sizes.
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

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
write_action (FILE *f, const char *key, uint32_t action)
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
  fprintf (f, "\"%s\": \"%s\"", key, n);
  if (kind == SCMP_ACT_ERRNO (0))
    fprintf (f, ", \"%s\": %u", strcmp (key, "action") ? "defaultErrnoRet" : "errnoRet",
             action & 0xffffU);
}

static void
write_rule (FILE *f, const struct sc_rule *r, bool last)
{
  fprintf (f, "    { \"names\": [\"%s\"], ", r->name);
  write_action (f, "action", r->action);
  if (r->nargs)
    {
      fputs (", \"args\": [", f);
      for (unsigned j = 0; j < r->nargs; j++)
        fprintf (f, "%s{ \"index\": %u, \"value\": %llu, \"valueTwo\": %llu, \"op\": \"%s\" }",
                 j ? ", " : "", r->args[j].index, (unsigned long long)r->args[j].value,
                 (unsigned long long)r->args[j].value_two, op_names[r->args[j].op]);
      fputc (']', f);
    }
  fprintf (f, " }%s\n", last ? "" : ",");
}

int
sc_policy_write_json (const struct sc_policy *p, FILE *f)
{
  fputs ("{\n  ", f);
  write_action (f, "defaultAction", p->default_action);
  fputs (",\n  \"architectures\": [", f);
  for (size_t i = 0; i < p->n_arches; i++)
    fprintf (f, "%s\"%s\"", i ? ", " : "", arch_name (p->arches[i]));
  fputs ("],\n  \"syscalls\": [\n", f);
  for (size_t i = 0; i < p->n; i++)
    write_rule (f, &p->rules[i], i + 1 == p->n);
  fputs ("  ]\n}\n", f);
  return ferror (f) ? launch_fail (EIO, "writing the seccomp profile", NULL) : 0;
}

/* ---- a minimal JSON DOM ---------------------------------------------------------- */
enum jtype
{
  J_NULL,
  J_BOOL,
  J_NUM,
  J_STR,
  J_ARR,
  J_OBJ
};
struct jv
{
  enum jtype t;
  char *s;          /* string value or number text */
  struct jv **kids; /* array items or object values */
  char **keys;      /* object keys */
  size_t n;
};

struct jparser
{
  const char *p, *end;
  int depth;
};

static void
jv_free (struct jv *v)
{
  if (!v)
    return;
  for (size_t i = 0; i < v->n; i++)
    {
      jv_free (v->kids[i]);
      if (v->keys)
        free (v->keys[i]);
    }
  free (v->kids);
  free (v->keys);
  free (v->s);
  free (v);
}

static void
ws (struct jparser *j)
{
  while (j->p < j->end && isspace ((unsigned char)*j->p))
    j->p++;
}

static struct jv *parse_value (struct jparser *j);

static char *
parse_string (struct jparser *j)
{
  if (j->p >= j->end || *j->p != '"')
    return NULL;
  j->p++;
  size_t cap = 16, n = 0;
  char *s = xrealloc (NULL, cap);
  while (j->p < j->end && *j->p != '"')
    {
      char c = *j->p++;
      if (c == '\\' && j->p < j->end)
        {
          char e = *j->p++;
          c = e == 'n'   ? '\n'
              : e == 't' ? '\t'
              : e == 'r' ? '\r'
              : e == 'b' ? '\b'
              : e == 'f' ? '\f'
                         : e;
          if (e == 'u')
            {
              free (s); /* names and ops are ASCII; \u escapes are not needed */
              return NULL;
            }
        }
      if (n + 2 > cap)
        s = xrealloc (s, cap *= 2);
      s[n++] = c;
    }
  if (j->p >= j->end)
    {
      free (s);
      return NULL;
    }
  j->p++;
  s[n] = '\0';
  return s;
}

static bool
push (struct jv *v, struct jv *kid, char *key)
{
  if (!kid)
    {
      free (key);
      return false;
    }
  v->kids = xrealloc (v->kids, (v->n + 1) * sizeof *v->kids);
  if (v->t == J_OBJ)
    v->keys = xrealloc (v->keys, (v->n + 1) * sizeof *v->keys), v->keys[v->n] = key;
  v->kids[v->n++] = kid;
  return true;
}

static struct jv *
parse_container (struct jparser *j, struct jv *v, char close)
{
  j->p++;
  ws (j);
  if (j->p < j->end && *j->p == close)
    {
      j->p++;
      return v;
    }
  for (;;)
    {
      char *key = NULL;
      ws (j);
      if (v->t == J_OBJ)
        {
          if (!(key = parse_string (j)))
            break;
          ws (j);
          if (j->p >= j->end || *j->p++ != ':')
            {
              free (key);
              break;
            }
        }
      if (!push (v, parse_value (j), key))
        break;
      ws (j);
      if (j->p < j->end && *j->p == ',')
        {
          j->p++;
          continue;
        }
      if (j->p < j->end && *j->p == close)
        {
          j->p++;
          return v;
        }
      break;
    }
  jv_free (v);
  return NULL;
}

static struct jv *
parse_value (struct jparser *j)
{
  ws (j);
  if (j->p >= j->end || ++j->depth > 32)
    return NULL;
  struct jv *v = calloc (1, sizeof *v);
  if (!v)
    return NULL;
  char c = *j->p;
  struct jv *r = v;
  if (c == '{' || c == '[')
    {
      v->t = c == '{' ? J_OBJ : J_ARR;
      r = parse_container (j, v, c == '{' ? '}' : ']');
    }
  else if (c == '"')
    {
      v->t = J_STR;
      if (!(v->s = parse_string (j)))
        r = NULL;
    }
  else
    {
      size_t len = strspn (j->p, "-+.0123456789eEtruefalsn");
      v->t = isdigit ((unsigned char)c) || c == '-' ? J_NUM : c == 'n' ? J_NULL : J_BOOL;
      v->s = strndup (j->p, len);
      j->p += len;
      if (!len || !v->s)
        r = NULL;
    }
  if (!r && v && (c != '{' && c != '['))
    jv_free (v);
  j->depth--;
  return r;
}

static const struct jv *
jget (const struct jv *o, const char *key)
{
  for (size_t i = 0; o && o->t == J_OBJ && i < o->n; i++)
    if (strcmp (o->keys[i], key) == 0)
      return o->kids[i];
  return NULL;
}

/* ---- OCI profile -> sc_policy ------------------------------------------------------ */
static int
parse_u64 (const struct jv *v, uint64_t *out)
{
  if (!v || v->t != J_NUM || v->s[0] == '-')
    return -EINVAL;
  char *end;
  errno = 0;
  *out = strtoull (v->s, &end, 10);
  return errno || *end ? -EINVAL : 0;
}

static int
parse_action (const struct jv *v, const struct jv *errno_ret, uint32_t *out)
{
  uint64_t e = EPERM;
  if (!v || v->t != J_STR)
    return launch_fail (EINVAL, "seccomp profile: missing or invalid action", NULL);
  if (errno_ret && parse_u64 (errno_ret, &e) < 0)
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
  else
    return launch_fail (EINVAL, "seccomp profile: unsupported action", s);
  return 0;
}

static int
parse_arg (const struct jv *a, struct sc_arg *out)
{
  uint64_t idx;
  const struct jv *op = jget (a, "op");
  if (parse_u64 (jget (a, "index"), &idx) < 0 || idx > 5
      || parse_u64 (jget (a, "value"), &out->value) < 0)
    return launch_fail (EINVAL, "seccomp profile: invalid argument filter", NULL);
  out->value_two = 0;
  if (jget (a, "valueTwo") && parse_u64 (jget (a, "valueTwo"), &out->value_two) < 0)
    return launch_fail (EINVAL, "seccomp profile: invalid valueTwo", NULL);
  out->index = (unsigned)idx;
  for (int i = 1; i < 8; i++)
    if (op && op->t == J_STR && strcmp (op->s, op_names[i]) == 0)
      {
        out->op = (enum scmp_compare)i;
        return 0;
      }
  return launch_fail (EINVAL, "seccomp profile: invalid op", op && op->s ? op->s : NULL);
}

static int
parse_syscall (const struct jv *s, struct sc_policy *p)
{
  uint32_t action;
  int r = parse_action (jget (s, "action"), jget (s, "errnoRet"), &action);
  const struct jv *names = jget (s, "names"), *args = jget (s, "args");
  if (r < 0)
    return r;
  if (!names || names->t != J_ARR || (args && args->t != J_ARR && args->t != J_NULL)
      || (args && args->n > 6))
    return launch_fail (EINVAL, "seccomp profile: invalid syscalls entry", NULL);
  for (size_t i = 0; i < names->n; i++)
    {
      if (names->kids[i]->t != J_STR)
        return launch_fail (EINVAL, "seccomp profile: syscall names must be strings", NULL);
      struct sc_rule *rule = sc_policy_add (p, names->kids[i]->s, action);
      for (size_t k = 0; args && args->t == J_ARR && k < args->n; k++)
        {
          if ((r = parse_arg (args->kids[k], &rule->args[rule->nargs++])) < 0)
            return r;
        }
    }
  return 0;
}

static int
parse_profile (const struct jv *root, struct sc_policy *p)
{
  if (!root || root->t != J_OBJ)
    return launch_fail (EINVAL, "seccomp profile: not a JSON object", NULL);
  int r = parse_action (jget (root, "defaultAction"), jget (root, "defaultErrnoRet"),
                        &p->default_action);
  const struct jv *arches = jget (root, "architectures"), *sys = jget (root, "syscalls");
  for (size_t i = 0; r == 0 && arches && arches->t == J_ARR && i < arches->n; i++)
    {
      const struct jv *a = arches->kids[i];
      size_t k = 0;
      while (k < sizeof arch_names / sizeof arch_names[0]
             && !(a->t == J_STR && strcmp (a->s, arch_names[k].name) == 0))
        k++;
      if (k == sizeof arch_names / sizeof arch_names[0] || p->n_arches >= 16)
        return launch_fail (EINVAL, "seccomp profile: unknown architecture", a->s);
      p->arches[p->n_arches++] = arch_names[k].token;
    }
  for (size_t i = 0; r == 0 && sys && sys->t == J_ARR && i < sys->n; i++)
    r = parse_syscall (sys->kids[i], p);
  return r;
}

int
sc_policy_load_json (const char *path, struct sc_policy *out)
{
  memset (out, 0, sizeof *out);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    return launch_fail (errno, "opening the seccomp profile", path);
  if (st.st_size > 16 << 20)
    return launch_fail (EFBIG, "seccomp profile too large", path);
  _cleanup_free_ char *buf = xrealloc (NULL, (size_t)st.st_size + 1);
  if (read (fd, buf, (size_t)st.st_size) != st.st_size)
    return launch_fail (EIO, "reading the seccomp profile", path);
  buf[st.st_size] = '\0';
  struct jparser j = { buf, buf + st.st_size, 0 };
  struct jv *root = parse_value (&j);
  if (!root)
    return launch_fail (EINVAL, "seccomp profile: invalid JSON", path);
  int r = parse_profile (root, out);
  jv_free (root);
  if (r < 0)
    sc_policy_clear (out);
  return r;
}
