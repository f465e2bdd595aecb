/* cairn-launch: config.json (OCI runtime-spec 1.1, Linux) -> struct oci_spec.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every object's keys are checked against the fields this runtime applies:
 * an unknown or unsupported field is an error that names it
 * ("config.json: linux.intelRdt: not supported"), never silently ignored,
 * because a field the runtime skips is confinement the bundle's author
 * believes is there.  A JSON null counts as an absent json_field (Go's encoder
 * writes them).  Strings in the result point into the parsed document, kept
 * in spec->doc, so the whole spec is freed at once and nothing is allocated
 * after clone().
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>

#include "runtime/json.h"
#include "runtime/oci.h"
#include "runtime/seccomp-policy.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

int
oci_check_keys (const struct json *o, const char *where, const char *const *allowed,
                const char *const *refused)
{
  if (!json_is (o, JSON_OBJ))
    return launch_failf (EINVAL, "config: %s must be an object", where);
  for (size_t i = 0; i < o->n; i++)
    {
      if (o->kids[i]->t == JSON_NULL)
        continue;
      bool ok = false;
      for (size_t k = 0; allowed && allowed[k] && !ok; k++)
        ok = strcmp (o->keys[i], allowed[k]) == 0;
      if (ok)
        continue;
      for (size_t k = 0; refused && refused[k]; k++)
        if (strcmp (o->keys[i], refused[k]) == 0)
          return launch_failf (ENOTSUP, "config: %s%s%s is not supported by cairn-launch", where,
                               *where ? "." : "", o->keys[i]);
      return launch_failf (EINVAL, "config: unknown field %s%s%s", where, *where ? "." : "",
                           o->keys[i]);
    }
  return 0;
}

static int
want (const struct json *v, enum json_type t, const char *where)
{
  if (!json_is (v, t))
    return launch_failf (EINVAL, "config: %s must be %s", where, json_type_name (t));
  return 0;
}

static int
get_str (const struct json *o, const char *key, const char *where, const char **out)
{
  const struct json *v = json_field (o, key);
  if (!v)
    return 0;
  if (v->t != JSON_STR)
    return launch_failf (EINVAL, "config: %s.%s must be a string", where, key);
  *out = v->s;
  return 0;
}

static int
get_bool (const struct json *o, const char *key, const char *where, bool *out)
{
  const struct json *v = json_field (o, key);
  if (!v)
    return 0;
  if (v->t != JSON_BOOL)
    return launch_failf (EINVAL, "config: %s.%s must be a boolean", where, key);
  *out = json_true (v);
  return 0;
}

static int
get_u64 (const struct json *o, const char *key, const char *where, uint64_t max, uint64_t *out,
         bool *has)
{
  const struct json *v = json_field (o, key);
  uint64_t x;
  if (!v)
    return 0;
  if (json_u64 (v, &x) < 0 || x > max)
    return launch_failf (EINVAL, "config: %s.%s must be an integer in 0..%llu", where, key,
                         (unsigned long long)max);
  *out = x;
  if (has)
    *has = true;
  return 0;
}

static int
get_i64 (const struct json *o, const char *key, const char *where, int64_t *out, bool *has)
{
  const struct json *v = json_field (o, key);
  if (!v)
    return 0;
  if (json_i64 (v, out) < 0)
    return launch_failf (EINVAL, "config: %s.%s must be an integer", where, key);
  if (has)
    *has = true;
  return 0;
}

/* A NULL-terminated array of the strings of V (pointing into the doc). */
static int
str_array (const struct json *v, const char *where, char ***out, size_t *out_n)
{
  if (!v)
    {
      *out = xrealloc (NULL, sizeof (char *));
      (*out)[0] = NULL;
      if (out_n)
        *out_n = 0;
      return 0;
    }
  if (v->t != JSON_ARR)
    return launch_failf (EINVAL, "config: %s must be an array of strings", where);
  char **a = xrealloc (NULL, (v->n + 1) * sizeof (char *));
  for (size_t i = 0; i < v->n; i++)
    {
      if (v->kids[i]->t != JSON_STR)
        {
          free (a);
          return launch_failf (EINVAL, "config: %s[%zu] must be a string", where, i);
        }
      a[i] = v->kids[i]->s;
    }
  a[v->n] = NULL;
  *out = a;
  if (out_n)
    *out_n = v->n;
  return 0;
}

/* ---- process ----------------------------------------------------------------- */
static int
parse_cap_list (const struct json *v, const char *where, uint64_t *out)
{
  *out = 0;
  if (!v)
    return 0;
  if (v->t != JSON_ARR)
    return launch_failf (EINVAL, "config: %s must be an array", where);
  int last = caps_last_cap ();
  for (size_t i = 0; i < v->n; i++)
    {
      int c;
      const struct json *k = v->kids[i];
      if (k->t != JSON_STR || strncmp (k->s, "CAP_", 4) != 0 || caps_parse (k->s, &c) < 0)
        return launch_failf (EINVAL, "config: %s: unknown capability '%s'", where,
                             k->t == JSON_STR ? k->s : "(not a string)");
      if (c > last)
        {
          oci_log_warn ("%s: %s is not known to this kernel, not granted", where, k->s);
          continue;
        }
      *out |= 1ULL << c;
    }
  return 0;
}

static int
parse_caps (const struct json *c, struct oci_process *p)
{
  static const char *const keys[]
      = { "bounding", "effective", "inheritable", "permitted", "ambient", NULL };
  int r = oci_check_keys (c, "process.capabilities", keys, NULL);
  uint64_t *sets[] = { &p->caps.bounding, &p->caps.effective, &p->caps.inheritable,
                       &p->caps.permitted, &p->caps.ambient };
  char where[64];
  for (int i = 0; r == 0 && i < 5; i++)
    {
      snprintf (where, sizeof where, "process.capabilities.%s", keys[i]);
      r = parse_cap_list (json_field (c, keys[i]), where, sets[i]);
    }
  /* A capability is ambient only if it is permitted and inheritable too
   * (capabilities(7), "Ambient capability set"): the kernel refuses to raise
   * any other.  `runc spec` and `crun spec` list ambient capabilities with
   * no inheritable set, and both runtimes skip the ones that cannot be
   * raised; so does cairn-launch (cairn-launch(1), "OCI RUNTIME"). */
  uint64_t skipped = p->caps.ambient & ~(p->caps.permitted & p->caps.inheritable);
  if (r == 0 && skipped)
    {
      oci_log_debug ("process.capabilities.ambient: %d capabilities that are not both permitted "
                     "and inheritable are not raised",
                     __builtin_popcountll (skipped));
      p->caps.ambient &= ~skipped;
    }
  p->caps_set = true;
  return r;
}

int
oci_rlimit_resource (const char *name)
{
  static const struct
  {
    const char *n;
    int r;
  } t[] = {
    { "RLIMIT_AS", RLIMIT_AS },
    { "RLIMIT_CORE", RLIMIT_CORE },
    { "RLIMIT_CPU", RLIMIT_CPU },
    { "RLIMIT_DATA", RLIMIT_DATA },
    { "RLIMIT_FSIZE", RLIMIT_FSIZE },
    { "RLIMIT_LOCKS", RLIMIT_LOCKS },
    { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
    { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
    { "RLIMIT_NICE", RLIMIT_NICE },
    { "RLIMIT_NOFILE", RLIMIT_NOFILE },
    { "RLIMIT_NPROC", RLIMIT_NPROC },
    { "RLIMIT_RSS", RLIMIT_RSS },
    { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
    { "RLIMIT_RTTIME", RLIMIT_RTTIME },
    { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
    { "RLIMIT_STACK", RLIMIT_STACK },
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp (name, t[i].n) == 0)
      return t[i].r;
  return -1;
}

static int
parse_rlimits (const struct json *v, struct oci_process *p)
{
  static const char *const keys[] = { "type", "soft", "hard", NULL };
  if (want (v, JSON_ARR, "process.rlimits") < 0)
    return -EINVAL;
  p->rlimits = xrealloc (NULL, (v->n + 1) * sizeof *p->rlimits);
  for (size_t i = 0; i < v->n; i++)
    {
      const struct json *l = v->kids[i];
      const char *type = NULL;
      uint64_t soft = 0, hard = 0;
      int r = oci_check_keys (l, "process.rlimits[]", keys, NULL);
      if (r == 0)
        r = get_str (l, "type", "process.rlimits[]", &type);
      if (r == 0)
        r = get_u64 (l, "soft", "process.rlimits[]", UINT64_MAX, &soft, NULL);
      if (r == 0)
        r = get_u64 (l, "hard", "process.rlimits[]", UINT64_MAX, &hard, NULL);
      if (r < 0)
        return r;
      int res = type ? oci_rlimit_resource (type) : -1;
      if (res < 0)
        return launch_failf (EINVAL, "config: process.rlimits: unknown type '%s'",
                             type ? type : "");
      for (size_t k = 0; k < p->n_rlimits; k++)
        if (p->rlimits[k].resource == res)
          return launch_failf (EINVAL, "config: process.rlimits: '%s' is given twice", type);
      if (soft > hard)
        return launch_failf (EINVAL, "config: process.rlimits: %s: soft limit above the hard limit",
                             type);
      p->rlimits[p->n_rlimits].name = type;
      p->rlimits[p->n_rlimits].resource = res;
      p->rlimits[p->n_rlimits].lim.rlim_cur = soft;
      p->rlimits[p->n_rlimits].lim.rlim_max = hard;
      p->n_rlimits++;
    }
  return 0;
}

static int
parse_user (const struct json *u, const char *what, struct oci_process *p)
{
  static const char *const keys[] = { "uid", "gid", "umask", "additionalGids", NULL };
  static const char *const refused[] = { "username", NULL };
  char where[64];
  snprintf (where, sizeof where, "%s.user", what);
  uint64_t uid = 0, gid = 0, um = 0;
  int r = oci_check_keys (u, where, keys, refused);
  if (r == 0)
    r = get_u64 (u, "uid", where, UINT32_MAX - 1, &uid, NULL);
  if (r == 0)
    r = get_u64 (u, "gid", where, UINT32_MAX - 1, &gid, NULL);
  if (r == 0)
    r = get_u64 (u, "umask", where, 0777, &um, &p->user.umask_set);
  if (r < 0)
    return r;
  p->user.uid = (uid_t)uid;
  p->user.gid = (gid_t)gid;
  p->user.umask = (mode_t)um;
  const struct json *g = json_field (u, "additionalGids");
  if (!g)
    return 0;
  if (g->t != JSON_ARR || g->n > 65536)
    return launch_failf (EINVAL, "config: %s.additionalGids must be an array of gids", what);
  p->user.gids = xrealloc (NULL, (g->n + 1) * sizeof (gid_t));
  for (size_t i = 0; i < g->n; i++)
    {
      uint64_t x;
      if (json_u64 (g->kids[i], &x) < 0 || x >= UINT32_MAX)
        return launch_failf (EINVAL, "config: %s.additionalGids[%zu] is not a gid", what, i);
      p->user.gids[i] = (gid_t)x;
    }
  p->user.n_gids = g->n;
  return 0;
}

static int
parse_console (const struct json *c, struct oci_process *p)
{
  static const char *const keys[] = { "height", "width", NULL };
  uint64_t h = 0, w = 0;
  int r = oci_check_keys (c, "process.consoleSize", keys, NULL);
  if (r == 0)
    r = get_u64 (c, "height", "process.consoleSize", 65535, &h, NULL);
  if (r == 0)
    r = get_u64 (c, "width", "process.consoleSize", 65535, &w, NULL);
  p->cons_h = (unsigned short)h;
  p->cons_w = (unsigned short)w;
  return r;
}

/* process.ioPriority: ioprio_set(2)'s class and level. */
static int
parse_ioprio (const struct json *v, const char *what, struct oci_process *p)
{
  static const char *const keys[] = { "class", "priority", NULL };
  static const char *const classes[]
      = { "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE" };
  char where[64];
  snprintf (where, sizeof where, "%s.ioPriority", what);
  const char *cls = NULL;
  uint64_t prio = 0;
  int r = oci_check_keys (v, where, keys, NULL);
  if (r == 0)
    r = get_str (v, "class", where, &cls);
  if (r == 0)
    r = get_u64 (v, "priority", where, 7, &prio, NULL);
  if (r < 0)
    return r;
  for (int i = 0; cls && i < 3; i++)
    if (strcmp (cls, classes[i]) == 0)
      {
        p->ioprio = ((i + 1) << 13) | (int)prio;
        p->ioprio_set = true;
        return 0;
      }
  return launch_failf (EINVAL, "config: %s.class must be IOPRIO_CLASS_RT, _BE or _IDLE", where);
}

void
oci_process_finish_env (struct oci_process *p)
{
  p->path_env = NULL;
  for (size_t i = 0; p->env && p->env[i]; i++)
    if (strncmp (p->env[i], "PATH=", 5) == 0)
      p->path_env = p->env[i] + 5;
  if (!p->path_env)
    p->path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

static int
check_env (char **env, const char *what)
{
  for (size_t i = 0; env[i]; i++)
    if (!strchr (env[i], '=') || env[i][0] == '=')
      return launch_failf (EINVAL, "config: %s.env[%zu] is not KEY=VALUE: '%s'", what, i, env[i]);
  return 0;
}

static int
parse_process_fields (const struct json *p, const char *what, struct oci_process *out)
{
  char where[64];
  int r = 0;
  snprintf (where, sizeof where, "%s.args", what);
  if ((r = str_array (json_field (p, "args"), where, &out->args, NULL)) < 0)
    return r;
  snprintf (where, sizeof where, "%s.env", what);
  if ((r = str_array (json_field (p, "env"), where, &out->env, &out->n_env)) < 0
      || (r = check_env (out->env, what)) < 0)
    return r;
  if (!out->args[0] || !out->args[0][0])
    return launch_failf (EINVAL, "config: %s.args must name a command", what);
  if ((r = get_str (p, "cwd", what, &out->cwd)) < 0)
    return r;
  if (!out->cwd || out->cwd[0] != '/')
    return launch_failf (EINVAL, "config: %s.cwd must be an absolute path", what);
  if (json_field (p, "user") && (r = parse_user (json_field (p, "user"), what, out)) < 0)
    return r;
  if ((r = get_bool (p, "terminal", what, &out->terminal)) < 0
      || (r = get_bool (p, "noNewPrivileges", what, &out->nnp)) < 0)
    return r;
  int64_t oom = 0;
  if ((r = get_i64 (p, "oomScoreAdj", what, &oom, &out->oom_set)) < 0)
    return r;
  if (oom < -1000 || oom > 1000)
    return launch_failf (EINVAL, "config: %s.oomScoreAdj must be in -1000..1000", what);
  out->oom_score_adj = (int)oom;
  if ((r = get_str (p, "apparmorProfile", what, &out->apparmor)) < 0
      || (r = get_str (p, "selinuxLabel", what, &out->selinux)) < 0)
    return r;
  if (json_field (p, "consoleSize") && (r = parse_console (json_field (p, "consoleSize"), out)) < 0)
    return r;
  if (json_field (p, "capabilities") && (r = parse_caps (json_field (p, "capabilities"), out)) < 0)
    return r;
  if (json_field (p, "rlimits") && (r = parse_rlimits (json_field (p, "rlimits"), out)) < 0)
    return r;
  if (json_field (p, "ioPriority")
      && (r = parse_ioprio (json_field (p, "ioPriority"), what, out)) < 0)
    return r;
  oci_process_finish_env (out);
  return 0;
}

int
oci_process_parse (const struct json *p, const char *what, struct oci_process *out)
{
  static const char *const keys[] = { "terminal",
                                      "consoleSize",
                                      "user",
                                      "args",
                                      "env",
                                      "cwd",
                                      "capabilities",
                                      "rlimits",
                                      "noNewPrivileges",
                                      "apparmorProfile",
                                      "oomScoreAdj",
                                      "selinuxLabel",
                                      "ioPriority",
                                      NULL };
  static const char *const refused[] = { "commandLine", "scheduler", "execCPUAffinity", NULL };
  memset (out, 0, sizeof *out);
  int r = oci_check_keys (p, what, keys, refused);
  return r < 0 ? r : parse_process_fields (p, what, out);
}

/* ---- mounts ----------------------------------------------------------------------- */
struct mflag
{
  const char *name;
  unsigned long flag;
  bool clear;
};

static const struct mflag mount_flags[] = {
  { "defaults", 0, false },
  { "ro", MS_RDONLY, false },
  { "rw", MS_RDONLY, true },
  { "suid", MS_NOSUID, true },
  { "nosuid", MS_NOSUID, false },
  { "dev", MS_NODEV, true },
  { "nodev", MS_NODEV, false },
  { "exec", MS_NOEXEC, true },
  { "noexec", MS_NOEXEC, false },
  { "sync", MS_SYNCHRONOUS, false },
  { "async", MS_SYNCHRONOUS, true },
  { "dirsync", MS_DIRSYNC, false },
  { "remount", MS_REMOUNT, false },
  { "mand", MS_MANDLOCK, false },
  { "nomand", MS_MANDLOCK, true },
  { "atime", MS_NOATIME, true },
  { "noatime", MS_NOATIME, false },
  { "diratime", MS_NODIRATIME, true },
  { "nodiratime", MS_NODIRATIME, false },
  { "relatime", MS_RELATIME, false },
  { "norelatime", MS_RELATIME, true },
  { "strictatime", MS_STRICTATIME, false },
  { "nostrictatime", MS_STRICTATIME, true },
  { "iversion", MS_I_VERSION, false },
  { "noiversion", MS_I_VERSION, true },
  { "lazytime", MS_LAZYTIME, false },
  { "nolazytime", MS_LAZYTIME, true },
  { "silent", MS_SILENT, false },
  { "loud", MS_SILENT, true },
  { "nosymfollow", MS_NOSYMFOLLOW, false },
  { "symfollow", MS_NOSYMFOLLOW, true },
};

unsigned long
oci_mount_flag (const char *opt, bool *out_clear, bool *out_known)
{
  for (size_t i = 0; i < sizeof mount_flags / sizeof mount_flags[0]; i++)
    if (strcmp (opt, mount_flags[i].name) == 0)
      {
        *out_clear = mount_flags[i].clear;
        *out_known = true;
        return mount_flags[i].flag;
      }
  *out_known = false;
  return 0;
}

static const struct mflag prop_flags[] = {
  { "private", MS_PRIVATE, false },       { "rprivate", MS_PRIVATE | MS_REC, false },
  { "shared", MS_SHARED, false },         { "rshared", MS_SHARED | MS_REC, false },
  { "slave", MS_SLAVE, false },           { "rslave", MS_SLAVE | MS_REC, false },
  { "unbindable", MS_UNBINDABLE, false }, { "runbindable", MS_UNBINDABLE | MS_REC, false },
};

static unsigned long
prop_flag (const char *s)
{
  for (size_t i = 0; i < sizeof prop_flags / sizeof prop_flags[0]; i++)
    if (strcmp (s, prop_flags[i].name) == 0)
      return prop_flags[i].flag;
  return 0;
}

/* Recursive attributes (mount_setattr(AT_RECURSIVE), Linux >= 5.12). */
#define MNT_ATTR_RDONLY 0x1
#define MNT_ATTR_NOSUID 0x2
#define MNT_ATTR_NODEV 0x4
#define MNT_ATTR_NOEXEC 0x8
#define MNT_ATTR_NOATIME 0x10
#define MNT_ATTR_STRICTATIME 0x20
#define MNT_ATTR_NODIRATIME 0x80
#define MNT_ATTR_NOSYMFOLLOW 0x200000

static bool
rec_attr (const char *s, struct oci_mount *m)
{
  static const struct
  {
    const char *n;
    unsigned long a;
    bool clear;
  } t[] = {
    { "rro", MNT_ATTR_RDONLY, false },
    { "rrw", MNT_ATTR_RDONLY, true },
    { "rnosuid", MNT_ATTR_NOSUID, false },
    { "rsuid", MNT_ATTR_NOSUID, true },
    { "rnodev", MNT_ATTR_NODEV, false },
    { "rdev", MNT_ATTR_NODEV, true },
    { "rnoexec", MNT_ATTR_NOEXEC, false },
    { "rexec", MNT_ATTR_NOEXEC, true },
    { "rnodiratime", MNT_ATTR_NODIRATIME, false },
    { "rdiratime", MNT_ATTR_NODIRATIME, true },
    { "rnoatime", MNT_ATTR_NOATIME, false },
    { "rstrictatime", MNT_ATTR_STRICTATIME, false },
    { "rnosymfollow", MNT_ATTR_NOSYMFOLLOW, false },
    { "rsymfollow", MNT_ATTR_NOSYMFOLLOW, true },
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp (s, t[i].n) == 0)
      {
        if (t[i].clear)
          m->rec_attr_clr |= t[i].a;
        else
          m->rec_attr_set |= t[i].a;
        return true;
      }
  return false;
}

static void
add_data (struct oci_mount *m, const char *opt)
{
  if (!m->data)
    {
      m->data = xstrdup (opt);
      return;
    }
  char *d = xasprintf ("%s,%s", m->data, opt);
  free (m->data);
  m->data = d;
}

static int
mount_option (struct oci_mount *m, const char *o, const char *dst)
{
  bool clear, known;
  unsigned long f = oci_mount_flag (o, &clear, &known);
  if (known)
    {
      if (clear)
        m->flags &= ~f;
      else
        m->flags |= f;
      return 0;
    }
  if (strcmp (o, "bind") == 0 || strcmp (o, "rbind") == 0)
    {
      m->kind = OM_BIND;
      m->rec |= o[0] == 'r';
      return 0;
    }
  if ((f = prop_flag (o)))
    {
      m->prop = f;
      return 0;
    }
  if (rec_attr (o, m))
    return 0;
  if (strcmp (o, "tmpcopyup") == 0 || strcmp (o, "notmpcopyup") == 0)
    {
      m->tmpcopyup = o[0] == 't';
      if (m->tmpcopyup && m->type && strcmp (m->type, "tmpfs") != 0)
        return launch_failf (EINVAL, "config: mounts: %s: tmpcopyup needs a tmpfs", dst);
      return 0;
    }
  if (strcmp (o, "idmap") == 0 || strcmp (o, "ridmap") == 0)
    {
      m->idmap = true;
      m->idmap_rec = o[0] == 'r';
      return 0;
    }
  if (strchr (o, ','))
    return launch_failf (EINVAL, "config: mounts: %s: option '%s' contains a comma", dst, o);
  add_data (m, o);
  return 0;
}

static int
mount_source (struct oci_spec *s, struct oci_mount *m, const char *src)
{
  if (m->kind != OM_BIND)
    {
      m->src = src ? src : m->type;
      return 0;
    }
  if (!src || !*src)
    return launch_failf (EINVAL, "config: mounts: %s: a bind mount needs a source", m->dst);
  /* runc and crun take a relative bind source relative to the bundle. */
  char *abs = src[0] == '/' ? xstrdup (src) : xasprintf ("%s/%s", s->bundle, src);
  struct stat st;
  if (stat (abs, &st) < 0)
    {
      int e = errno;
      launch_failf (e, "config: mounts: %s: bind source %s", m->dst, abs);
      free (abs);
      return -e;
    }
  m->src_is_dir = S_ISDIR (st.st_mode);
  m->src = abs; /* freed with the spec */
  return 0;
}

/* File system options (key=value: "mode=755", "size=1k") on a bind mount:
 * the kernel ignores a bind's data (mount(2), MS_BIND), runc and crun pass
 * them on and so accept them; they are dropped here with a warning.  A bare
 * word that is no mount flag is still refused: it is more likely a
 * misspelt flag ("rdonly") than something meant for a file system. */
static int
bind_data (struct oci_mount *m)
{
  for (const char *p = m->data; *p;)
    {
      size_t len = strcspn (p, ",");
      const char *eq = memchr (p, '=', len);
      if (!eq || eq == p)
        return launch_failf (EINVAL, "config: mounts: %s: unknown option for a bind mount: '%.*s'",
                             m->dst, (int)len, p);
      p += len + (p[len] == ',');
    }
  oci_log_warn ("config: mounts: %s: file system options on a bind mount are ignored: '%s'", m->dst,
                m->data);
  free (m->data);
  m->data = NULL;
  return 0;
}

static int parse_idmaps (const struct json *v, const char *where, struct oci_idmap *out, size_t *n);

static int
parse_mount (struct oci_spec *s, const struct json *j, struct oci_mount *m)
{
  static const char *const keys[]
      = { "destination", "type", "source", "options", "uidMappings", "gidMappings", NULL };
  const char *src = NULL;
  memset (m, 0, sizeof *m);
  m->idmap_fd = -1;
  int r = oci_check_keys (j, "mounts[]", keys, NULL);
  if (r == 0)
    r = get_str (j, "destination", "mounts[]", &m->dst);
  if (r == 0)
    r = get_str (j, "type", "mounts[]", &m->type);
  if (r == 0)
    r = get_str (j, "source", "mounts[]", &src);
  if (r < 0)
    return r;
  if (!m->dst || m->dst[0] != '/')
    return launch_failf (EINVAL, "config: mounts: destination must be an absolute path: '%s'",
                         m->dst ? m->dst : "");
  if (m->type && strcmp (m->type, "bind") == 0)
    m->kind = OM_BIND;
  const struct json *opts = json_field (j, "options");
  if (opts && want (opts, JSON_ARR, "mounts[].options") < 0)
    return -EINVAL;
  for (size_t i = 0; opts && i < opts->n; i++)
    {
      if (opts->kids[i]->t != JSON_STR)
        return launch_failf (EINVAL, "config: mounts: %s: options must be strings", m->dst);
      if ((r = mount_option (m, opts->kids[i]->s, m->dst)) < 0)
        return r;
    }
  if (m->kind == OM_FS && !m->type)
    return launch_failf (EINVAL, "config: mounts: %s: a type is needed (or the bind option)",
                         m->dst);
  if (m->kind == OM_BIND && m->data && (r = bind_data (m)) < 0)
    return r;
  if (json_field (j, "uidMappings") || json_field (j, "gidMappings"))
    {
      /* the runtime spec: a mount's mappings go with idmap or ridmap */
      if (!m->idmap)
        return launch_failf (EINVAL,
                             "config: mounts: %s: uidMappings/gidMappings need the idmap or "
                             "ridmap option",
                             m->dst);
      if (!json_field (j, "uidMappings") || !json_field (j, "gidMappings"))
        return launch_failf (EINVAL,
                             "config: mounts: %s: an id-mapped mount needs both uidMappings "
                             "and gidMappings",
                             m->dst);
      m->uidmap = xrealloc (NULL, 340 * sizeof *m->uidmap);
      m->gidmap = xrealloc (NULL, 340 * sizeof *m->gidmap);
      if ((r = parse_idmaps (json_field (j, "uidMappings"), "mounts.uidMappings", m->uidmap,
                             &m->n_uidmap))
              < 0
          || (r = parse_idmaps (json_field (j, "gidMappings"), "mounts.gidMappings", m->gidmap,
                                &m->n_gidmap))
                 < 0)
        return r;
      if (!m->n_uidmap || !m->n_gidmap)
        return launch_failf (EINVAL, "config: mounts: %s: empty uidMappings or gidMappings",
                             m->dst);
    }
  if (m->idmap && m->kind != OM_BIND)
    return launch_failf (
        ENOTSUP, "config: mounts: %s: idmap/ridmap is supported on bind mounts only", m->dst);
  m->cgroup = m->kind == OM_FS && (!strcmp (m->type, "cgroup") || !strcmp (m->type, "cgroup2"));
  return mount_source (s, m, src);
}

static int
parse_mounts (struct oci_spec *s, const struct json *v)
{
  if (!v)
    return 0;
  if (want (v, JSON_ARR, "mounts") < 0)
    return -EINVAL;
  s->mounts = xrealloc (NULL, (v->n + 1) * sizeof *s->mounts);
  for (size_t i = 0; i < v->n; i++)
    {
      int r = parse_mount (s, v->kids[i], &s->mounts[i]);
      if (r < 0)
        return r;
      s->n_mounts++;
    }
  return 0;
}

/* ---- hooks ----------------------------------------------------------------------- */
static const char *const hook_names[HOOK_KINDS + 1] = {
  "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int
parse_hook (const struct json *j, const char *kind, struct oci_hook *h)
{
  static const char *const keys[] = { "path", "args", "env", "timeout", NULL };
  char where[64];
  snprintf (where, sizeof where, "hooks.%s[]", kind);
  memset (h, 0, sizeof *h);
  int64_t timeout = 0;
  int r = oci_check_keys (j, where, keys, NULL);
  if (r == 0)
    r = get_str (j, "path", where, &h->path);
  if (r == 0)
    r = get_i64 (j, "timeout", where, &timeout, NULL);
  if (r < 0)
    return r;
  if (!h->path || h->path[0] != '/')
    return launch_failf (EINVAL, "config: %s.path must be an absolute path", where);
  if (json_field (j, "timeout") && (timeout <= 0 || timeout > INT_MAX))
    return launch_failf (EINVAL, "config: %s.timeout must be a positive number of seconds", where);
  h->timeout = (int)timeout;
  if ((r = str_array (json_field (j, "args"), where, &h->args, NULL)) < 0
      || (r = str_array (json_field (j, "env"), where, &h->env, NULL)) < 0)
    return r;
  if (!h->args[0])
    {
      free (h->args);
      h->args = xrealloc (NULL, 2 * sizeof (char *));
      h->args[0] = (char *)h->path;
      h->args[1] = NULL;
    }
  return 0;
}

static int
parse_hooks (struct oci_spec *s, const struct json *v)
{
  if (!v)
    return 0;
  int r = oci_check_keys (v, "hooks", hook_names, NULL);
  for (int k = 0; r == 0 && k < HOOK_KINDS; k++)
    {
      const struct json *a = json_field (v, hook_names[k]);
      if (!a)
        continue;
      if (a->t != JSON_ARR)
        return launch_failf (EINVAL, "config: hooks.%s must be an array", hook_names[k]);
      s->hooks[k] = xrealloc (NULL, (a->n + 1) * sizeof (struct oci_hook));
      for (size_t i = 0; r == 0 && i < a->n; i++)
        if ((r = parse_hook (a->kids[i], hook_names[k], &s->hooks[k][i])) == 0)
          s->n_hooks[k]++;
    }
  return r;
}

/* ---- linux ----------------------------------------------------------------------- */
static int
ns_type (const char *t)
{
  static const struct
  {
    const char *n;
    int f;
  } m[] = {
    { "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
    { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },
    { "cgroup", CLONE_NEWCGROUP },
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    if (strcmp (t, m[i].n) == 0)
      return m[i].f;
  return strcmp (t, "time") == 0 ? -2 : -1;
}

static int
parse_namespaces (struct oci_spec *s, const struct json *v)
{
  static const char *const keys[] = { "type", "path", NULL };
  if (!v)
    return 0;
  if (want (v, JSON_ARR, "linux.namespaces") < 0)
    return -EINVAL;
  for (size_t i = 0; i < v->n; i++)
    {
      const char *type = NULL, *path = NULL;
      int r = oci_check_keys (v->kids[i], "linux.namespaces[]", keys, NULL);
      if (r == 0)
        r = get_str (v->kids[i], "type", "linux.namespaces[]", &type);
      if (r == 0)
        r = get_str (v->kids[i], "path", "linux.namespaces[]", &path);
      if (r < 0)
        return r;
      int t = type ? ns_type (type) : -1;
      if (t == -2)
        return launch_failf (ENOTSUP,
                             "config: linux.namespaces: the time namespace is not supported by "
                             "cairn-launch");
      if (t < 0)
        return launch_failf (EINVAL, "config: linux.namespaces: unknown type '%s'",
                             type ? type : "");
      for (size_t k = 0; k < s->n_ns; k++)
        if (s->ns[k].type == t)
          return launch_failf (EINVAL, "config: linux.namespaces: '%s' is listed twice", type);
      if (path && path[0] != '/')
        return launch_failf (EINVAL, "config: linux.namespaces: %s: path must be absolute", type);
      s->ns[s->n_ns].type = t;
      s->ns[s->n_ns].path = path && *path ? path : NULL;
      s->ns[s->n_ns].fd = -1;
      s->n_ns++;
      if (!path || !*path)
        s->ns_new |= t;
    }
  return 0;
}

static int
parse_idmaps (const struct json *v, const char *where, struct oci_idmap *out, size_t *n)
{
  static const char *const keys[] = { "containerID", "hostID", "size", NULL };
  if (!v)
    return 0;
  if (want (v, JSON_ARR, where) < 0)
    return -EINVAL;
  if (v->n > 340)
    return launch_failf (EINVAL, "config: %s: at most 340 ranges", where);
  for (size_t i = 0; i < v->n; i++)
    {
      uint64_t c = 0, h = 0, z = 0;
      int r = oci_check_keys (v->kids[i], where, keys, NULL);
      if (r == 0)
        r = get_u64 (v->kids[i], "containerID", where, UINT32_MAX - 1, &c, NULL);
      if (r == 0)
        r = get_u64 (v->kids[i], "hostID", where, UINT32_MAX - 1, &h, NULL);
      if (r == 0)
        r = get_u64 (v->kids[i], "size", where, UINT32_MAX, &z, NULL);
      if (r < 0)
        return r;
      if (z == 0)
        return launch_failf (EINVAL, "config: %s[%zu]: size must be positive", where, i);
      out[i] = (struct oci_idmap){ (uint32_t)c, (uint32_t)h, (uint32_t)z };
    }
  *n = v->n;
  return 0;
}

static int
parse_device (const struct json *j, struct oci_device *d)
{
  static const char *const keys[]
      = { "type", "path", "major", "minor", "fileMode", "uid", "gid", NULL };
  const char *type = NULL;
  uint64_t maj = 0, min = 0, mode = 0, uid = 0, gid = 0;
  bool has_maj = false, has_min = false;
  memset (d, 0, sizeof *d);
  int r = oci_check_keys (j, "linux.devices[]", keys, NULL);
  if (r == 0)
    r = get_str (j, "type", "linux.devices[]", &type);
  if (r == 0)
    r = get_str (j, "path", "linux.devices[]", &d->path);
  if (r == 0)
    r = get_u64 (j, "major", "linux.devices[]", 4095, &maj, &has_maj);
  if (r == 0)
    r = get_u64 (j, "minor", "linux.devices[]", 1048575, &min, &has_min);
  if (r == 0)
    r = get_u64 (j, "fileMode", "linux.devices[]", 07777, &mode, &d->has_mode);
  if (r == 0)
    r = get_u64 (j, "uid", "linux.devices[]", UINT32_MAX - 1, &uid, &d->has_uid);
  if (r == 0)
    r = get_u64 (j, "gid", "linux.devices[]", UINT32_MAX - 1, &gid, &d->has_gid);
  if (r < 0)
    return r;
  if (!d->path || d->path[0] != '/' || strncmp (d->path, "/dev/", 5) != 0)
    return launch_failf (EINVAL, "config: linux.devices: path must be under /dev: '%s'",
                         d->path ? d->path : "");
  if (!type || strlen (type) != 1 || !strchr ("cbup", type[0]))
    return launch_failf (EINVAL, "config: linux.devices: %s: type must be c, b, u or p", d->path);
  if (type[0] != 'p' && (!has_maj || !has_min))
    return launch_failf (EINVAL, "config: linux.devices: %s: major and minor are needed", d->path);
  d->type = type[0];
  d->major = (unsigned)maj;
  d->minor = (unsigned)min;
  d->mode = (mode_t)mode;
  d->uid = (uid_t)uid;
  d->gid = (gid_t)gid;
  return 0;
}

static int
parse_devices (struct oci_spec *s, const struct json *v)
{
  if (!v)
    return 0;
  if (want (v, JSON_ARR, "linux.devices") < 0)
    return -EINVAL;
  s->devices = xrealloc (NULL, (v->n + 1) * sizeof *s->devices);
  for (size_t i = 0; i < v->n; i++)
    {
      int r = parse_device (v->kids[i], &s->devices[i]);
      if (r < 0)
        return r;
      s->n_devices++;
    }
  return 0;
}

static int
parse_kv_object (const struct json *v, const char *where, struct oci_kv **out, size_t *n)
{
  if (!v)
    return 0;
  if (want (v, JSON_OBJ, where) < 0)
    return -EINVAL;
  *out = xrealloc (NULL, (v->n + 1) * sizeof **out);
  for (size_t i = 0; i < v->n; i++)
    {
      if (v->kids[i]->t != JSON_STR)
        return launch_failf (EINVAL, "config: %s.%s must be a string", where, v->keys[i]);
      (*out)[i].key = v->keys[i];
      (*out)[i].value = v->kids[i]->s;
    }
  *n = v->n;
  return 0;
}

static int
parse_paths (const struct json *v, const char *where, const char ***out, size_t *n)
{
  char **a;
  int r = str_array (v, where, &a, n);
  if (r < 0)
    return r;
  for (size_t i = 0; i < *n; i++)
    if (a[i][0] != '/')
      {
        int r2 = launch_failf (EINVAL, "config: %s: '%s' is not an absolute path", where, a[i]);
        free (a);
        return r2;
      }
  *out = (const char **)a;
  return 0;
}

struct oci_config_handoff oci_handoff;

/* The document being parsed is the handoff's text with its seccomp profile
 * left out ("{}" in its place): parse_seccomp takes the default policy. */
static bool handoff_parsing;
#define HANDOFF_MISMATCH (-100000)

static int
parse_seccomp (struct oci_spec *s, const struct json *v)
{
  static const char *const keys[]
      = { "defaultAction", "defaultErrnoRet", "architectures",    "flags",
          "syscalls",      "listenerPath",    "listenerMetadata", NULL };
  static const char *const sys_keys[] = { "names", "action", "errnoRet", "args", NULL };
  static const char *const arg_keys[] = { "index", "value", "valueTwo", "op", NULL };
  if (handoff_parsing)
    {
      /* the profile printed from seccomp_default_policy (caps): the policy
       * itself, for the same bounding set (anything else: parse it all) */
      if (!json_is (v, JSON_OBJ) || v->n || s->proc.caps.bounding != oci_handoff.caps)
        return HANDOFF_MISMATCH;
      s->seccomp = (struct sc_policy *)seccomp_default_policy (oci_handoff.caps);
      s->seccomp_shared = true;
      return 0;
    }
  if (!v)
    return 0;
  int r = oci_check_keys (v, "linux.seccomp", keys, NULL);
  const struct json *sys = json_field (v, "syscalls"), *flags = json_field (v, "flags");
  bool notify = false;
  if (r == 0)
    r = get_str (v, "listenerPath", "linux.seccomp", &s->seccomp_listener);
  if (r == 0)
    r = get_str (v, "listenerMetadata", "linux.seccomp", &s->seccomp_listener_meta);
  if (r == 0 && s->seccomp_listener && s->seccomp_listener[0] != '/')
    r = launch_failf (EINVAL, "config: linux.seccomp.listenerPath must be an absolute path");
  for (size_t i = 0; r == 0 && sys && sys->t == JSON_ARR && i < sys->n; i++)
    {
      const struct json *e = sys->kids[i], *args = json_field (e, "args");
      r = oci_check_keys (e, "linux.seccomp.syscalls[]", sys_keys, NULL);
      for (size_t k = 0; r == 0 && json_is (args, JSON_ARR) && k < args->n; k++)
        r = oci_check_keys (args->kids[k], "linux.seccomp.syscalls[].args[]", arg_keys, NULL);
      const struct json *a = json_field (e, "action");
      notify |= r == 0 && json_is (a, JSON_STR) && strcmp (a->s, "SCMP_ACT_NOTIFY") == 0;
    }
  if (r == 0 && notify != (s->seccomp_listener != NULL))
    return launch_failf (EINVAL,
                         notify ? "config: linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath"
                                : "config: linux.seccomp.listenerPath without any SCMP_ACT_NOTIFY");
  for (size_t i = 0; r == 0 && flags && i < flags->n; i++)
    {
      const struct json *f = flags->kids[i];
      if (!json_is (f, JSON_STR))
        return launch_failf (EINVAL, "config: linux.seccomp.flags must be strings");
      if (!strcmp (f->s, "SECCOMP_FILTER_FLAG_LOG"))
        s->seccomp_flags |= 2;
      else if (!strcmp (f->s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
        s->seccomp_flags |= 4;
      else if (!strcmp (f->s, "SECCOMP_FILTER_FLAG_TSYNC"))
        s->seccomp_flags |= 1;
      else
        return launch_failf (EINVAL, "config: linux.seccomp.flags: unknown flag '%s'", f->s);
    }
  if (r < 0)
    return r;
  s->seccomp = xrealloc (NULL, sizeof *s->seccomp);
  sc_policy_allow_notify (notify);
  r = sc_policy_from_json (v, s->seccomp);
  sc_policy_allow_notify (false);
  if (r < 0)
    {
      free (steal_ptr (&s->seccomp));
      return launch_failf (-r, "config: linux.seccomp: %s%s%s", launch_errmsg (),
                           launch_errctx () ? ": " : "", launch_errctx () ? launch_errctx () : "");
    }
  /* cairn-launch's own default policy for the container's bounding set (as
   * --print-seccomp-profile and --print-oci-config write it) keeps what its
   * JSON form cannot say: ENOSYS for system calls newer than libseccomp, so
   * that it acts as in the launcher's form (cairn-launch(1), SECCOMP POLICY) */
  s->seccomp->enosys_beyond_known = seccomp_policy_is_default (s->seccomp, s->proc.caps.bounding);
  return 0;
}

static int
parse_personality (struct oci_spec *s, const struct json *v)
{
  static const char *const keys[] = { "domain", "flags", NULL };
  const char *dom = NULL;
  if (!v)
    return 0;
  int r = oci_check_keys (v, "linux.personality", keys, NULL);
  if (r == 0)
    r = get_str (v, "domain", "linux.personality", &dom);
  if (r < 0)
    return r;
  const struct json *f = json_field (v, "flags");
  if (f && (f->t != JSON_ARR || f->n))
    return launch_failf (ENOTSUP, "config: linux.personality.flags: no flag is supported (the spec "
                                  "defines none)");
  if (dom && strcmp (dom, "LINUX") == 0)
    s->personality.domain = PER_LINUX;
  else if (dom && strcmp (dom, "LINUX32") == 0)
    s->personality.domain = PER_LINUX32;
  else
    return launch_failf (EINVAL, "config: linux.personality.domain must be LINUX or LINUX32");
  s->personality.set = true;
  return 0;
}

static int
parse_propagation (struct oci_spec *s, const char *p)
{
  if (!p)
    return 0;
  s->rootfs_prop = prop_flag (p);
  if (!s->rootfs_prop)
    return launch_failf (EINVAL, "config: linux.rootfsPropagation: unknown value '%s'", p);
  return 0;
}

static int
parse_linux_rest (struct oci_spec *s, const struct json *l)
{
  const char *prop = NULL;
  int r = parse_devices (s, json_field (l, "devices"));
  if (r == 0)
    r = get_str (l, "cgroupsPath", "linux", &s->cgroups_path);
  if (r == 0 && json_field (l, "resources"))
    {
      r = oci_parse_resources (json_field (l, "resources"), &s->res);
      /* engines write "resources": {} when they ask for nothing */
      s->has_resources = r == 0 && oci_resources_any (&s->res);
    }
  if (r == 0)
    r = parse_kv_object (json_field (l, "sysctl"), "linux.sysctl", &s->sysctl, &s->n_sysctl);
  if (r == 0)
    r = parse_seccomp (s, json_field (l, "seccomp"));
  if (r == 0)
    r = parse_paths (json_field (l, "maskedPaths"), "linux.maskedPaths", &s->masked, &s->n_masked);
  if (r == 0)
    r = parse_paths (json_field (l, "readonlyPaths"), "linux.readonlyPaths", &s->readonly,
                     &s->n_readonly);
  if (r == 0)
    r = get_str (l, "rootfsPropagation", "linux", &prop);
  if (r == 0)
    r = parse_propagation (s, prop);
  if (r == 0)
    r = get_str (l, "mountLabel", "linux", &s->mount_label);
  if (r == 0)
    r = parse_personality (s, json_field (l, "personality"));
  return r;
}

static int
parse_linux (struct oci_spec *s, const struct json *l)
{
  static const char *const keys[]
      = { "namespaces",        "uidMappings", "gidMappings",   "devices",
          "cgroupsPath",       "resources",   "sysctl",        "seccomp",
          "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel",
          "personality",       NULL };
  static const char *const refused[]
      = { "intelRdt", "timeOffsets", "memoryPolicy", "netDevices", NULL };
  if (!l)
    return 0;
  int r = oci_check_keys (l, "linux", keys, refused);
  if (r == 0)
    r = parse_namespaces (s, json_field (l, "namespaces"));
  if (r == 0)
    r = parse_idmaps (json_field (l, "uidMappings"), "linux.uidMappings", s->uidmap, &s->n_uidmap);
  if (r == 0)
    r = parse_idmaps (json_field (l, "gidMappings"), "linux.gidMappings", s->gidmap, &s->n_gidmap);
  return r < 0 ? r : parse_linux_rest (s, l);
}

/* ---- the document ------------------------------------------------------------------ */
static int
parse_root (struct oci_spec *s, const struct json *root)
{
  static const char *const keys[] = { "path", "readonly", NULL };
  const char *path = NULL;
  int r = root ? oci_check_keys (root, "root", keys, NULL)
               : launch_failf (EINVAL, "config: root is missing");
  if (r == 0)
    r = get_str (root, "path", "root", &path);
  if (r == 0)
    r = get_bool (root, "readonly", "root", &s->root_ro);
  if (r < 0)
    return r;
  if (!path || !*path)
    return launch_failf (EINVAL, "config: root.path is missing");
  _cleanup_free_ char *joined
      = path[0] == '/' ? xstrdup (path) : xasprintf ("%s/%s", s->bundle, path);
  s->root = canon_path (joined);
  struct stat st;
  if (!s->root || stat (s->root, &st) < 0 || !S_ISDIR (st.st_mode))
    return launch_failf (s->root ? ENOTDIR : errno, "config: root.path %s is not a directory",
                         joined);
  return 0;
}

static int
check_annotations (const struct json *a)
{
  if (!a)
    return 0;
  if (want (a, JSON_OBJ, "annotations") < 0)
    return -EINVAL;
  for (size_t i = 0; i < a->n; i++)
    if (a->kids[i]->t != JSON_STR)
      return launch_failf (EINVAL, "config: annotations.%s must be a string", a->keys[i]);
  return 0;
}

/* cairn's annotation org.cairn.rootfs.overlay = DIR: the root is an
 * overlay of root.path with its upper and work layers in DIR (oci-print.c),
 * so that what the set-up creates (missing mount points, process.cwd) goes
 * there and never into root.path.  Both paths go into the overlay's mount
 * options, whose separators they may not contain. */
static int
parse_root_overlay (struct oci_spec *s)
{
  const struct json *v = s->annotations ? json_get (s->annotations, OCI_OVERLAY_ANNOTATION) : NULL;
  if (!v)
    return 0;
  s->root_overlay = v->s;
  if (s->root_overlay[0] != '/' || strpbrk (s->root_overlay, ",:\\"))
    return launch_failf (EINVAL,
                         "config: annotations." OCI_OVERLAY_ANNOTATION
                         " must be an absolute path without , : or \\ (got '%s')",
                         s->root_overlay);
  if (strpbrk (s->root, ",:\\"))
    return launch_failf (
        EINVAL, "config: root.path may not contain , : or \\ under an overlay (%s)", s->root);
  return 0;
}

static int
parse_doc (struct oci_spec *s, const struct json *d)
{
  static const char *const keys[]
      = { "ociVersion", "process", "root",        "hostname", "domainname",
          "mounts",     "hooks",   "annotations", "linux",    NULL };
  static const char *const refused[] = { "solaris", "windows", "vm", "zos", NULL };
  int r = oci_check_keys (d, "", keys, refused);
  if (r == 0)
    r = get_str (d, "ociVersion", "config", &s->oci_version);
  if (r == 0 && (!s->oci_version || strncmp (s->oci_version, "1.", 2) != 0))
    r = launch_failf (EINVAL, "config: ociVersion must be 1.x (got '%s')",
                      s->oci_version ? s->oci_version : "");
  if (r == 0)
    r = parse_root (s, json_field (d, "root"));
  if (r == 0 && !json_field (d, "process"))
    r = launch_failf (EINVAL, "config: process is missing");
  if (r == 0)
    r = oci_process_parse (json_field (d, "process"), "process", &s->proc);
  if (r == 0)
    r = get_str (d, "hostname", "config", &s->hostname);
  if (r == 0)
    r = get_str (d, "domainname", "config", &s->domainname);
  if (r == 0)
    r = parse_mounts (s, json_field (d, "mounts"));
  if (r == 0)
    r = parse_hooks (s, json_field (d, "hooks"));
  if (r == 0 && (r = check_annotations (json_field (d, "annotations"))) == 0)
    s->annotations = json_field (d, "annotations");
  if (r == 0)
    r = parse_root_overlay (s);
  if (r == 0)
    r = parse_linux (s, json_field (d, "linux"));
  return r;
}

/* The bundle's config.json parsed through the handoff when it holds exactly
 * the handoff's text; HANDOFF_MISMATCH (and S as it was) otherwise. */
static int
load_handoff (int dfd, struct oci_spec *s)
{
  if (!oci_handoff.text || oci_handoff.sc_off + oci_handoff.sc_len > oci_handoff.len)
    return HANDOFF_MISMATCH;
  _cleanup_close_ int fd = openat (dfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)
      || (size_t)st.st_size != oci_handoff.len)
    return HANDOFF_MISMATCH;
  size_t n = oci_handoff.len, off = oci_handoff.sc_off, cut = oci_handoff.sc_len;
  _cleanup_free_ char *file = xrealloc (NULL, n + 1);
  size_t got = 0;
  ssize_t k;
  while (got < n && ((k = read (fd, file + got, n - got)) > 0 || (k < 0 && errno == EINTR)))
    got += k > 0 ? (size_t)k : 0;
  if (got != n || memcmp (file, oci_handoff.text, n) != 0)
    return HANDOFF_MISMATCH;
  /* the same bytes, with "{}" where the profile was */
  memcpy (file + off, "{}", 2);
  memmove (file + off + 2, file + off + cut, n - off - cut);
  const char *err;
  size_t at;
  struct json *doc = json_parse (file, n - cut + 2, &err, &at);
  if (!doc)
    return HANDOFF_MISMATCH;
  s->doc = doc;
  handoff_parsing = true;
  int r = parse_doc (s, s->doc);
  handoff_parsing = false;
  if (r != HANDOFF_MISMATCH)
    return r;
  /* start again from nothing: the full parse decides */
  char *bundle = steal_ptr (&s->bundle);
  oci_spec_free (s);
  memset (s, 0, sizeof *s);
  s->bundle = bundle;
  launch_fail (0, NULL, NULL);
  return HANDOFF_MISMATCH;
}

int
oci_spec_load (const char *bundle, struct oci_spec *s)
{
  memset (s, 0, sizeof *s);
  s->bundle = canon_path (bundle);
  if (!s->bundle)
    return launch_failf (errno, "bundle %s", bundle);
  _cleanup_close_ int dfd = open (s->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return launch_failf (errno, "bundle %s", bundle);
  int r = load_handoff (dfd, s);
  if (r != HANDOFF_MISMATCH)
    return r;
  s->doc = json_parse_file (dfd, "config.json", 4 << 20);
  if (!s->doc)
    return launch_failf (errno ? errno : EINVAL, "%s/config.json: %s", s->bundle, launch_errmsg ());
  return parse_doc (s, s->doc);
}

/* Checks that need the host: is the asked-for confinement possible here? */
int
oci_spec_check_host (struct oci_spec *s, bool rootless)
{
  struct stat st;
  bool apparmor = stat ("/sys/kernel/security/apparmor", &st) == 0;
  bool selinux = stat ("/sys/fs/selinux/enforce", &st) == 0;
  if (s->proc.apparmor && *s->proc.apparmor && !apparmor)
    return launch_failf (ENOTSUP,
                         "config: process.apparmorProfile '%s' is asked for but AppArmor is not "
                         "enabled on this host",
                         s->proc.apparmor);
  if (s->proc.selinux && *s->proc.selinux && !selinux)
    return launch_failf (ENOTSUP,
                         "config: process.selinuxLabel is asked for but SELinux is not enabled "
                         "on this host");
  /* linux.mountLabel: the context= option of the file systems that take
   * one (the bind mounts keep their own labels).  Without SELinux a file
   * label means nothing and the kernel would refuse the option: the label
   * is left out, as runc and crun do (an engine passes the same config on
   * every host).  A process label is refused above: it names a confinement
   * the process would not get. */
  for (size_t i = 0; selinux && s->mount_label && *s->mount_label && i < s->n_mounts; i++)
    {
      struct oci_mount *m = &s->mounts[i];
      if (m->kind != OM_FS
          || (strcmp (m->type, "tmpfs") && strcmp (m->type, "devpts")
              && strcmp (m->type, "mqueue")))
        continue;
      if (strchr (s->mount_label, '"') || strchr (s->mount_label, ','))
        return launch_failf (EINVAL, "config: linux.mountLabel: invalid label");
      _cleanup_free_ char *ctx = xasprintf ("context=\"%s\"", s->mount_label);
      add_data (m, ctx);
    }
  if (rootless && (s->ns_new & CLONE_NEWUSER) == 0 && s->n_uidmap)
    return launch_failf (EINVAL, "config: linux.uidMappings without a user namespace");
  if ((s->n_uidmap || s->n_gidmap) && !(s->ns_new & CLONE_NEWUSER))
    return launch_failf (EINVAL, "config: linux.uidMappings/gidMappings need a new user namespace");
  return 0;
}

void
oci_spec_free (struct oci_spec *s)
{
  free (s->proc.args);
  free (s->proc.env);
  free (s->proc.rlimits);
  free (s->proc.user.gids);
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      free (s->mounts[i].data);
      free (s->mounts[i].uidmap);
      free (s->mounts[i].gidmap);
      if (s->mounts[i].kind == OM_BIND)
        free ((char *)s->mounts[i].src);
    }
  free (s->mounts);
  for (int k = 0; k < HOOK_KINDS; k++)
    {
      for (size_t i = 0; i < s->n_hooks[k]; i++)
        {
          free (s->hooks[k][i].args);
          free (s->hooks[k][i].env);
        }
      free (s->hooks[k]);
    }
  for (size_t i = 0; i < s->n_ns; i++)
    if (s->ns[i].fd >= 0)
      close (s->ns[i].fd);
  free (s->devices);
  free (s->sysctl);
  free (s->masked);
  free (s->readonly);
  if (s->seccomp && !s->seccomp_shared)
    {
      sc_policy_clear (s->seccomp);
      free (s->seccomp);
    }
  free (s->root);
  free (s->bundle);
  json_free (s->doc);
  memset (s, 0, sizeof *s);
}

int
oci_parse_signal (const char *s, int *out)
{
  static const struct
  {
    const char *n;
    int sig;
  } t[] = {
    { "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
    { "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
    { "FPE", SIGFPE },       { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
    { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
    { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
    { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
    { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
    { "WINCH", SIGWINCH },   { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },
    { "SYS", SIGSYS },
  };
  char *end;
  long n = strtol (s, &end, 10);
  if (*s && !*end)
    {
      if (n <= 0 || n >= _NSIG)
        return -EINVAL;
      *out = (int)n;
      return 0;
    }
  if (strncasecmp (s, "SIG", 3) == 0)
    s += 3;
  if (strncasecmp (s, "RTMIN", 5) == 0 || strncasecmp (s, "RTMAX", 5) == 0)
    {
      long off = s[5] ? strtol (s + 5, &end, 10) : 0;
      if (s[5] && *end)
        return -EINVAL;
      int sig = toupper ((unsigned char)s[4]) == 'N' ? SIGRTMIN + (int)off : SIGRTMAX + (int)off;
      if (sig < SIGRTMIN || sig > SIGRTMAX)
        return -EINVAL;
      *out = sig;
      return 0;
    }
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcasecmp (s, t[i].n) == 0)
      {
        *out = t[i].sig;
        return 0;
      }
  return -EINVAL;
}

/* The copy of config.json in a container's state directory, for the verbs
 * that need only part of it (the bundle may be gone by then). */
static int
load_copy (int dirfd, struct oci_spec *s)
{
  memset (s, 0, sizeof *s);
  s->doc = json_parse_file (dirfd, "config.json", 4 << 20);
  if (!s->doc)
    return launch_failf (errno ? errno : EINVAL, "the container's config.json: %s",
                         launch_errmsg ());
  return 0;
}

int
oci_spec_load_hooks (int dirfd, struct oci_spec *s)
{
  int r = load_copy (dirfd, s);
  return r < 0 ? r : parse_hooks (s, json_field (s->doc, "hooks"));
}

/* exec: the container's process (the template of runc exec) and seccomp. */
int
oci_spec_load_exec (int dirfd, struct oci_spec *s)
{
  int r = load_copy (dirfd, s);
  const struct json *l = json_field (s->doc, "linux");
  if (r == 0)
    r = oci_process_parse (json_field (s->doc, "process"), "process", &s->proc);
  if (r == 0 && l)
    r = parse_seccomp (s, json_field (l, "seccomp"));
  if (r == 0 && l)
    r = parse_namespaces (s, json_field (l, "namespaces"));
  return r;
}
