/* cairn-launch: cgroups of OCI containers (cgroupsPath, resources, freezer,
 * kill --all, statistics).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * cgroupsPath as runc's cgroupfs driver reads it: an absolute path is taken
 * from the root of each hierarchy, a relative one from the cgroup the
 * runtime itself is in (/proc/self/cgroup); without one the container goes
 * to /cairn/<id>.  A systemd "slice:prefix:name" path is refused: there is
 * no systemd driver.
 *
 * v1 and hybrid hosts (docs/ARCHITECTURE.md §6): the container joins every
 * mounted v1 hierarchy among cpu/cpuacct, cpuset, memory, pids, freezer,
 * devices, blkio, hugetlb (net_cls/net_prio only when linux.resources.network
 * asks), so that pause, kill --all and the engines' statistics work; on a
 * hybrid host the cgroup2 mount is joined too, under the same path, only
 * when hugetlb limits or linux.resources.unified need it.  v2: one directory,
 * the controllers enabled from the root down to its parent.
 *
 * The files of each resource are those of docs/runtime-anchors.md §3.  A
 * resource this host cannot apply (kernel memory on a kernel without
 * memory.kmem, realtime cpu on v2, device rules on v2, rdma) is an error that
 * names the field.  Limits are written before the container's first process
 * is moved in (the parent writes them while the child waits for 'c').
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

#define CG_ROOT "/sys/fs/cgroup"

/* ---- linux.resources ----------------------------------------------------------- */
static int
num_i64 (const struct json *o, const char *key, const char *where, int64_t *out, bool *has)
{
  const struct json *v = json_field (o, key);
  if (!v)
    return 0;
  if (json_i64 (v, out) < 0)
    return launch_failf (EINVAL, "config: %s.%s must be an integer", where, key);
  *has = true;
  return 0;
}

static int
num_u64 (const struct json *o, const char *key, const char *where, uint64_t *out, bool *has)
{
  const struct json *v = json_field (o, key);
  if (!v)
    return 0;
  if (json_u64 (v, out) < 0)
    return launch_failf (EINVAL, "config: %s.%s must be a non-negative integer", where, key);
  if (has)
    *has = true;
  return 0;
}

static int
parse_memory (const struct json *m, struct oci_resources *r)
{
  static const char *const keys[] = { "limit",
                                      "reservation",
                                      "swap",
                                      "kernel",
                                      "kernelTCP",
                                      "swappiness",
                                      "disableOOMKiller",
                                      "useHierarchy",
                                      "checkBeforeUpdate",
                                      NULL };
  const char *w = "linux.resources.memory";
  int e = oci_check_keys (m, w, keys, NULL);
  if (e == 0)
    e = num_i64 (m, "limit", w, &r->mem_limit, &r->has_mem_limit);
  if (e == 0)
    e = num_i64 (m, "reservation", w, &r->mem_reservation, &r->has_mem_reservation);
  if (e == 0)
    e = num_i64 (m, "swap", w, &r->mem_swap, &r->has_mem_swap);
  if (e == 0)
    e = num_i64 (m, "kernel", w, &r->mem_kernel, &r->has_mem_kernel);
  if (e == 0)
    e = num_i64 (m, "kernelTCP", w, &r->mem_kernel_tcp, &r->has_mem_kernel_tcp);
  if (e == 0)
    e = num_u64 (m, "swappiness", w, &r->swappiness, &r->has_swappiness);
  if (e < 0)
    return e;
  if (r->has_swappiness && r->swappiness > 100)
    return launch_failf (EINVAL, "config: %s.swappiness must be in 0..100", w);
  const struct json *b = json_field (m, "disableOOMKiller"), *h = json_field (m, "useHierarchy");
  if ((b && b->t != JSON_BOOL) || (h && h->t != JSON_BOOL))
    return launch_failf (EINVAL, "config: %s: disableOOMKiller and useHierarchy are booleans", w);
  r->has_disable_oom = b != NULL;
  r->disable_oom = json_true (b);
  r->has_use_hierarchy = h != NULL;
  r->use_hierarchy = json_true (h);
  if (r->has_mem_limit && r->has_mem_swap && r->mem_swap != -1 && r->mem_limit != -1
      && r->mem_swap < r->mem_limit)
    return launch_failf (EINVAL, "config: %s.swap (memory+swap) must not be below memory.limit", w);
  return 0;
}

static int
parse_cpu (const struct json *c, struct oci_resources *r)
{
  static const char *const keys[]
      = { "shares",         "quota", "burst", "period", "realtimeRuntime",
          "realtimePeriod", "cpus",  "mems",  "idle",   NULL };
  const char *w = "linux.resources.cpu";
  int e = oci_check_keys (c, w, keys, NULL);
  if (e == 0)
    e = num_u64 (c, "shares", w, &r->shares, &r->has_shares);
  if (e == 0)
    e = num_i64 (c, "quota", w, &r->quota, &r->has_quota);
  if (e == 0)
    e = num_u64 (c, "burst", w, &r->burst, &r->has_burst);
  if (e == 0)
    e = num_u64 (c, "period", w, &r->period, &r->has_period);
  if (e == 0)
    e = num_i64 (c, "realtimeRuntime", w, &r->rt_runtime, &r->has_rt_runtime);
  if (e == 0)
    e = num_u64 (c, "realtimePeriod", w, &r->rt_period, &r->has_rt_period);
  if (e == 0)
    e = num_i64 (c, "idle", w, &r->idle, &r->has_idle);
  const struct json *cpus = json_field (c, "cpus"), *mems = json_field (c, "mems");
  if (e == 0 && ((cpus && cpus->t != JSON_STR) || (mems && mems->t != JSON_STR)))
    e = launch_failf (EINVAL, "config: %s.cpus and .mems are strings", w);
  r->cpus = cpus ? cpus->s : NULL;
  r->mems = mems ? mems->s : NULL;
  return e;
}

static int
parse_weight_devs (const struct json *a, struct oci_resources *r)
{
  static const char *const keys[] = { "major", "minor", "weight", "leafWeight", NULL };
  const char *w = "linux.resources.blockIO.weightDevice[]";
  r->weight_dev = xrealloc (NULL, (a->n + 1) * sizeof *r->weight_dev);
  for (size_t i = 0; i < a->n; i++)
    {
      struct oci_weight_dev *d = &r->weight_dev[i];
      uint64_t wt = 0, lw = 0;
      bool hw = false, hl = false;
      int e = oci_check_keys (a->kids[i], w, keys, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "major", w, &d->major, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "minor", w, &d->minor, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "weight", w, &wt, &hw);
      if (e == 0)
        e = num_u64 (a->kids[i], "leafWeight", w, &lw, &hl);
      if (e < 0)
        return e;
      if ((hw && (wt < 10 || wt > 1000)) || (hl && (lw < 10 || lw > 1000)))
        return launch_failf (EINVAL, "config: %s: weights are in 10..1000", w);
      d->weight = hw ? (int)wt : -1;
      d->leaf_weight = hl ? (int)lw : -1;
      r->n_weight_dev++;
    }
  return 0;
}

static const char *const throttle_keys[4] = { "throttleReadBpsDevice", "throttleWriteBpsDevice",
                                              "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };

static int
parse_throttle (const struct json *a, int k, struct oci_resources *r)
{
  static const char *const keys[] = { "major", "minor", "rate", NULL };
  r->throttle[k] = xrealloc (NULL, (a->n + 1) * sizeof (struct oci_throttle));
  for (size_t i = 0; i < a->n; i++)
    {
      struct oci_throttle *t = &r->throttle[k][i];
      int e = oci_check_keys (a->kids[i], throttle_keys[k], keys, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "major", throttle_keys[k], &t->major, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "minor", throttle_keys[k], &t->minor, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "rate", throttle_keys[k], &t->rate, NULL);
      if (e < 0)
        return e;
      r->n_throttle[k]++;
    }
  return 0;
}

static int
parse_blkio (const struct json *b, struct oci_resources *r)
{
  static const char *const keys[] = { "weight",
                                      "leafWeight",
                                      "weightDevice",
                                      "throttleReadBpsDevice",
                                      "throttleWriteBpsDevice",
                                      "throttleReadIOPSDevice",
                                      "throttleWriteIOPSDevice",
                                      NULL };
  const char *w = "linux.resources.blockIO";
  uint64_t wt = 0, lw = 0;
  int e = oci_check_keys (b, w, keys, NULL);
  if (e == 0)
    e = num_u64 (b, "weight", w, &wt, &r->has_blkio_weight);
  if (e == 0)
    e = num_u64 (b, "leafWeight", w, &lw, &r->has_blkio_leaf_weight);
  if (e < 0)
    return e;
  if ((r->has_blkio_weight && (wt < 10 || wt > 1000))
      || (r->has_blkio_leaf_weight && (lw < 10 || lw > 1000)))
    return launch_failf (EINVAL, "config: %s: weights are in 10..1000", w);
  r->blkio_weight = (uint16_t)wt;
  r->blkio_leaf_weight = (uint16_t)lw;
  const struct json *a = json_field (b, "weightDevice");
  if (a && (a->t != JSON_ARR || (e = parse_weight_devs (a, r)) < 0))
    return e < 0 ? e : launch_failf (EINVAL, "config: %s.weightDevice must be an array", w);
  for (int k = 0; k < 4; k++)
    if ((a = json_field (b, throttle_keys[k])))
      {
        if (a->t != JSON_ARR)
          return launch_failf (EINVAL, "config: %s.%s must be an array", w, throttle_keys[k]);
        if ((e = parse_throttle (a, k, r)) < 0)
          return e;
      }
  return 0;
}

static int
parse_hugepages (const struct json *a, struct oci_resources *r)
{
  static const char *const keys[] = { "pageSize", "limit", NULL };
  const char *w = "linux.resources.hugepageLimits[]";
  if (a->t != JSON_ARR)
    return launch_failf (EINVAL, "config: linux.resources.hugepageLimits must be an array");
  r->huge = xrealloc (NULL, (a->n + 1) * sizeof *r->huge);
  for (size_t i = 0; i < a->n; i++)
    {
      const struct json *p = json_field (a->kids[i], "pageSize");
      int e = oci_check_keys (a->kids[i], w, keys, NULL);
      if (e == 0)
        e = num_u64 (a->kids[i], "limit", w, &r->huge[i].limit, NULL);
      if (e < 0)
        return e;
      if (!json_is (p, JSON_STR) || !*p->s || strchr (p->s, '/') || strlen (p->s) > 16)
        return launch_failf (EINVAL, "config: %s.pageSize must be a size like 2MB", w);
      r->huge[i].size = p->s;
      r->n_huge++;
    }
  return 0;
}

static int
parse_devrules (const struct json *a, struct oci_resources *r)
{
  static const char *const keys[] = { "allow", "type", "major", "minor", "access", NULL };
  const char *w = "linux.resources.devices[]";
  if (a->t != JSON_ARR)
    return launch_failf (EINVAL, "config: linux.resources.devices must be an array");
  r->dev = xrealloc (NULL, (a->n + 1) * sizeof *r->dev);
  for (size_t i = 0; i < a->n; i++)
    {
      struct oci_devrule *d = &r->dev[i];
      const struct json *o = a->kids[i], *al = json_field (o, "allow"), *t = json_field (o, "type"),
                        *ac = json_field (o, "access");
      bool hm = false, hn = false;
      d->major = d->minor = -1;
      int e = oci_check_keys (o, w, keys, NULL);
      if (e == 0)
        e = num_i64 (o, "major", w, &d->major, &hm);
      if (e == 0)
        e = num_i64 (o, "minor", w, &d->minor, &hn);
      if (e < 0)
        return e;
      if (!json_is (al, JSON_BOOL))
        return launch_failf (EINVAL, "config: %s.allow must be a boolean", w);
      d->allow = json_true (al);
      d->type = t ? (json_is (t, JSON_STR) && strlen (t->s) == 1 ? t->s[0] : '?') : 'a';
      if (!strchr ("acb", d->type))
        return launch_failf (EINVAL, "config: %s.type must be a, c or b", w);
      if (ac
          && (!json_is (ac, JSON_STR) || !*ac->s || strlen (ac->s) > 3
              || strspn (ac->s, "rwm") != strlen (ac->s)))
        return launch_failf (EINVAL, "config: %s.access must be made of r, w and m", w);
      str_lcpy (d->access, ac ? ac->s : "rwm", sizeof d->access);
      r->n_dev++;
    }
  return 0;
}

bool
oci_resources_any (const struct oci_resources *r)
{
  bool any = r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_mem_kernel
             || r->has_mem_kernel_tcp || r->has_swappiness || r->has_disable_oom
             || r->has_use_hierarchy || r->has_shares || r->has_quota || r->has_period
             || r->has_rt_runtime || r->has_rt_period || r->has_burst || r->has_idle || r->cpus
             || r->mems || r->has_pids || r->has_blkio_weight || r->has_blkio_leaf_weight
             || r->n_weight_dev || r->n_huge || r->n_dev || r->n_unified;
  for (int k = 0; k < 4; k++)
    any |= r->n_throttle[k] > 0;
  return any;
}

int
oci_parse_resources (const struct json *res, struct oci_resources *r)
{
  static const char *const keys[] = { "devices",        "memory",  "cpu",  "pids",    "blockIO",
                                      "hugepageLimits", "network", "rdma", "unified", NULL };
  memset (r, 0, sizeof *r);
  int e = oci_check_keys (res, "linux.resources", keys, NULL);
  const struct json *v;
  if (e == 0 && json_field (res, "rdma"))
    return launch_failf (ENOTSUP, "config: linux.resources.rdma is not supported by cairn-launch");
  if (e == 0 && json_field (res, "network"))
    return launch_failf (ENOTSUP,
                         "config: linux.resources.network (net_cls/net_prio) is not supported "
                         "by cairn-launch");
  if (e == 0 && (v = json_field (res, "memory")))
    e = parse_memory (v, r);
  if (e == 0 && (v = json_field (res, "cpu")))
    e = parse_cpu (v, r);
  if (e == 0 && (v = json_field (res, "pids")))
    {
      static const char *const pk[] = { "limit", NULL };
      e = oci_check_keys (v, "linux.resources.pids", pk, NULL);
      if (e == 0)
        e = num_i64 (v, "limit", "linux.resources.pids", &r->pids, &r->has_pids);
    }
  if (e == 0 && (v = json_field (res, "blockIO")))
    e = parse_blkio (v, r);
  if (e == 0 && (v = json_field (res, "hugepageLimits")))
    e = parse_hugepages (v, r);
  if (e == 0 && (v = json_field (res, "devices")))
    e = parse_devrules (v, r);
  if (e == 0 && (v = json_field (res, "unified")))
    {
      if (v->t != JSON_OBJ)
        return launch_failf (EINVAL, "config: linux.resources.unified must be an object");
      r->unified = xrealloc (NULL, (v->n + 1) * sizeof *r->unified);
      for (size_t i = 0; i < v->n; i++)
        {
          const char *k = v->keys[i];
          if (v->kids[i]->t != JSON_STR || !*k || strchr (k, '/') || k[0] == '.'
              || !strchr (k, '.'))
            return launch_failf (EINVAL, "config: linux.resources.unified: invalid entry '%s'", k);
          r->unified[i] = (struct oci_kv){ k, v->kids[i]->s };
          r->n_unified++;
        }
    }
  return e;
}

/* ---- hierarchies and paths -------------------------------------------------------- */
static int
detect_mode (void)
{
  struct statfs sf;
  if (statfs (CG_ROOT, &sf) < 0)
    return launch_failf (errno, "cgroups are not mounted at " CG_ROOT);
  if (sf.f_type == CGROUP2_SUPER_MAGIC)
    return 2;
  if (sf.f_type == TMPFS_MAGIC)
    return 1;
  return launch_failf (ENOTSUP,
                       CG_ROOT " is neither a cgroup2 mount nor a tmpfs of v1 hierarchies");
}

/* The runtime's own cgroup in the hierarchy whose controllers are CTRLS
 * ("" for cgroup2), from /proc/self/cgroup. */
static char *
own_cgroup (const char *ctrls)
{
  FILE *f = fopen ("/proc/self/cgroup", "re");
  char line[4096];
  char *res = NULL;
  while (f && !res && fgets (line, sizeof line, f))
    {
      char *c1 = strchr (line, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (!c2)
        continue;
      *c2 = '\0';
      line[strcspn (line, "\n")] = '\0';
      c2[1 + strcspn (c2 + 1, "\n")] = '\0';
      const char *names = c1 + 1;
      bool match = strcmp (names, ctrls) == 0
                   || (strncmp (names, "name=", 5) == 0 && strcmp (names + 5, ctrls) == 0);
      if (match)
        res = xstrdup (c2 + 1);
    }
  if (f)
    fclose (f);
  return res ? res : xstrdup ("/");
}

/* The containers of cairn run (runtime/client.c runs this runtime in its
 * own process) get only the v1 hierarchies that what cairn does with them
 * reads: devices (the device rules: the container's isolation), freezer
 * (pause; the kill of every process), pids, memory and cpuacct (cairn
 * stats); cpu, cpuset, blkio and hugetlb only when a limit of theirs is
 * asked.  Each hierarchy costs a container's start a mkdir, a move of its
 * init (a cgroup v1 attach), a mount inside and an rmdir after, and a
 * cpuset the copy of its parent's masks, which walks every sibling.  The
 * container of an OCI engine gets them all, as runc makes them. */
static bool
lean_wants (const char *ctrl, size_t n, const struct oci_resources *r)
{
#define IS(name) (n == strlen (name) && strncmp (ctrl, name, n) == 0)
  bool blkio = r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_weight_dev;
  for (int k = 0; k < 4; k++)
    blkio |= r->n_throttle[k] > 0;
  if (IS ("devices") || IS ("freezer") || IS ("pids") || IS ("memory") || IS ("cpuacct"))
    return true;
  if (IS ("cpu"))
    return r->has_shares || r->has_quota || r->has_period || r->has_rt_runtime || r->has_rt_period
           || r->has_burst || r->has_idle;
  if (IS ("cpuset"))
    return r->cpus || r->mems;
  if (IS ("blkio"))
    return blkio;
  if (IS ("hugetlb"))
    return r->n_huge > 0;
  return false;
#undef IS
}

static bool
wanted_v1 (const char *name, const struct oci_resources *r)
{
  static const char *const base[]
      = { "cpu,cpuacct", "cpuacct,cpu", "cpu",     "cpuacct", "cpuset", "memory",
          "pids",        "freezer",     "devices", "blkio",   "hugetlb" };
  bool known = false;
  for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
    known |= strcmp (name, base[i]) == 0;
  if (!known || !oci_g.cairn_run)
    return known;
  /* a hierarchy of several controllers ("cpu,cpuacct") when one is wanted */
  for (const char *p = name; *p;)
    {
      size_t n = strcspn (p, ",");
      if (lean_wants (p, n, r))
        return true;
      p += n + (p[n] == ',');
    }
  return false;
}

static void
add_hier (struct oci_cgroups *cg, const char *ctrl, const char *mnt, const char *path)
{
  if (cg->n >= OCI_CG_MAX)
    return;
  cg->ctrl[cg->n] = xstrdup (ctrl);
  cg->dir[cg->n] = xasprintf ("%s%s%s", mnt, path[0] == '/' ? "" : "/", path);
  cg->n++;
}

/* PATH inside a hierarchy: absolute as given, relative below OWN. */
static char *
hier_path (const char *cgpath, const char *ctrls)
{
  if (cgpath[0] == '/')
    return xstrdup (cgpath);
  _cleanup_free_ char *own = own_cgroup (ctrls);
  return xasprintf ("%s/%s", strcmp (own, "/") == 0 ? "" : own, cgpath);
}

static int
plan_v1 (const struct oci_spec *s, const char *cgpath, struct oci_cgroups *cg)
{
  DIR *d = opendir (CG_ROOT);
  if (!d)
    return launch_failf (errno, "cannot list " CG_ROOT);
  struct dirent *e;
  while ((e = readdir (d)))
    {
      if (e->d_type != DT_DIR || e->d_name[0] == '.' || !wanted_v1 (e->d_name, &s->res))
        continue;
      _cleanup_free_ char *mnt = xasprintf (CG_ROOT "/%s", e->d_name);
      struct statfs sf;
      if (statfs (mnt, &sf) < 0 || sf.f_type != CGROUP_SUPER_MAGIC)
        continue;
      _cleanup_free_ char *p = hier_path (cgpath, e->d_name);
      add_hier (cg, e->d_name, mnt, p);
    }
  closedir (d);
  return 0;
}

static bool force_bpf (void);

/* Hybrid hosts: the cgroup2 mount is used only for what v1 lacks here. */
static bool
needs_unified (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  return r->n_unified > 0 || (r->n_huge > 0 && !oci_cgroups_has (cg, "hugetlb"))
         || (r->n_dev > 0 && force_bpf ());
}

int
oci_cgroups_plan (const struct oci_spec *s, const char *id, bool rootless, struct oci_cgroups *cg)
{
  memset (cg, 0, sizeof *cg);
  const char *p = s->cgroups_path;
  if (oci_g.systemd_cgroup)
    return launch_failf (
        ENOTSUP, "--systemd-cgroup: cairn-launch has no systemd cgroup driver; use the "
                 "cgroupfs manager (podman --cgroup-manager=cgroupfs, containerd SystemdCgroup = "
                 "false)");
  if (p && strchr (p, ':') && p[0] != '/')
    return launch_failf (ENOTSUP,
                         "linux.cgroupsPath '%s' is a systemd slice:prefix:name path; "
                         "cairn-launch has only the cgroupfs driver",
                         p);
  if (p
      && (strstr (p, "/../") || strncmp (p, "../", 3) == 0
          || (strlen (p) >= 3 && !strcmp (p + strlen (p) - 3, "/.."))))
    return launch_failf (EINVAL, "linux.cgroupsPath '%s' may not contain '..'", p);
  (void)rootless;
  int mode = detect_mode ();
  if (mode < 0)
    return mode;
  cg->mode = mode;
  _cleanup_free_ char *dflt = xasprintf ("/cairn/%s", id);
  const char *path = p && *p ? p : dflt;
  if (mode == 2)
    {
      _cleanup_free_ char *hp = hier_path (path, "");
      add_hier (cg, "", CG_ROOT, hp);
      return 0;
    }
  int r = plan_v1 (s, path, cg);
  struct statfs sf;
  if (r == 0 && needs_unified (&s->res, cg) && statfs (CG_ROOT "/unified", &sf) == 0
      && sf.f_type == CGROUP2_SUPER_MAGIC)
    {
      _cleanup_free_ char *hp = hier_path (path, "");
      cg->unified_dir = xasprintf (CG_ROOT "/unified%s", hp);
    }
  return r;
}

bool
oci_cgroups_has (const struct oci_cgroups *cg, const char *ctrl)
{
  return oci_cgroups_dir (cg, ctrl) != NULL;
}

/* The directory of the hierarchy that has controller CTRL (v2: the one). */
const char *
oci_cgroups_dir (const struct oci_cgroups *cg, const char *ctrl)
{
  if (cg->mode == 2)
    return cg->n ? cg->dir[0] : NULL;
  size_t len = strlen (ctrl);
  for (size_t i = 0; i < cg->n; i++)
    for (const char *p = cg->ctrl[i]; p && *p;)
      {
        size_t n = strcspn (p, ",");
        if (n == len && strncmp (p, ctrl, n) == 0)
          return cg->dir[i];
        p += n + (p[n] == ',');
      }
  return NULL;
}

/* ---- file helpers ------------------------------------------------------------------- */
static int
cg_write (const char *dir, const char *file, const char *val, const char *field_name)
{
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return launch_failf (errno, "%s: cannot open %s", field_name, path);
  ssize_t n = write (fd, val, strlen (val));
  if (n < 0)
    return launch_failf (errno, "%s: writing '%s' to %s", field_name, val, path);
  return 0;
}

static int
cg_read (const char *dir, const char *file, char *buf, size_t n)
{
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t got = read (fd, buf, n - 1);
  if (got < 0)
    return -errno;
  buf[got] = '\0';
  return (int)got;
}

static bool
cg_exists (const char *dir, const char *file)
{
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  return access (path, F_OK) == 0;
}

static void
fmt_i64 (char *buf, size_t n, int64_t v, const char *unlimited)
{
  if (v < 0 && unlimited)
    snprintf (buf, n, "%s", unlimited);
  else
    snprintf (buf, n, "%lld", (long long)v);
}

/* ---- creation ---------------------------------------------------------------------- */
/* Is @parent (of a cpuset being made) the runtime's own: its default
 * parent /cairn right below the hierarchy's mount point? */
static bool
own_default_parent (const char *parent)
{
  const char *mnt_end = strchr (parent + strlen (CG_ROOT) + 1, '/');
  return mnt_end && strcmp (mnt_end, "/cairn") == 0;
}

/* A fresh v1 cpuset is empty and cannot take tasks: copy the parent's.
 * Writing cpuset.cpus was measured at 0.8 ms (the kernel checks and
 * propagates the mask), more than the mkdir and rmdir of a container's
 * cgroups in all eight hierarchies together, while a cpuset made below a
 * parent whose cgroup.clone_children is set gets the parent's masks at
 * mkdir for nothing (the flag as the kernel's cgroup v1 documentation
 * describes it for cpuset).  The flag is set on the parents that are the
 * runtime's own (@own: a level it made itself; its default parent /cairn),
 * so only their first container pays for the copy; an engine's parents
 * are left as they are. */
static int
cpuset_init (const char *dir, bool own)
{
  _cleanup_free_ char *parent = xstrdup (dir);
  char *slash = strrchr (parent, '/');
  if (!slash)
    return 0;
  *slash = '\0';
  char buf[4096];
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  bool copied = false;
  for (int i = 0; i < 2; i++)
    {
      char cur[8];
      if (cg_read (dir, files[i], cur, sizeof cur) > 1)
        continue;
      if (cg_read (parent, files[i], buf, sizeof buf) < 0)
        return launch_failf (errno, "reading %s/%s", parent, files[i]);
      int r = cg_write (dir, files[i], buf, "cpuset");
      if (r < 0)
        return r;
      copied = true;
    }
  if (own)
    (void)cg_write (dir, "cgroup.clone_children", "1", "cpuset");
  if (copied && own_default_parent (parent))
    (void)cg_write (parent, "cgroup.clone_children", "1", "cpuset");
  return 0;
}

static int
mkdir_cg (const char *dir, bool cpuset, bool *created)
{
  char buf[PATH_MAX];
  if (str_lcpy (buf, dir, sizeof buf) >= sizeof buf || strlen (buf) <= strlen (CG_ROOT))
    return launch_failf (ENAMETOOLONG, "invalid cgroup path %s", dir);
  /* mostly the parent exists (one call for the container's cgroup), else
   * every level below /sys/fs/cgroup; the mount points exist (EEXIST) */
  if (mkdir (buf, 0755) == 0)
    {
      *created = true;
      return cpuset ? cpuset_init (buf, false) : 0;
    }
  if (errno == EEXIST)
    return cpuset ? cpuset_init (buf, false) : 0;
  if (errno != ENOENT)
    return launch_failf (errno, "creating the cgroup %s", buf);
  for (char *p = buf + strlen (CG_ROOT) + 1;; p++)
    {
      if (*p != '/' && *p)
        continue;
      char save = *p;
      *p = '\0';
      int r = 0;
      bool last = save == '\0';
      if (mkdir (buf, 0755) == 0)
        {
          if (last)
            *created = true;
          if (cpuset)
            r = cpuset_init (buf, !last);
        }
      else if (errno != EEXIST)
        r = launch_failf (errno, "creating the cgroup %s", buf);
      else if (last && cpuset)
        r = cpuset_init (buf, false);
      if (r < 0 || last)
        return r;
      *p = save;
    }
}

static int
enable_v2 (const char *mnt, const char *dir, const char *ctrls)
{
  char buf[PATH_MAX];
  str_lcpy (buf, dir, sizeof buf);
  size_t base = strlen (mnt);
  /* every ancestor from the root down to the parent */
  for (char *p = buf + base; p;)
    {
      char *next = strchr (p + 1, '/');
      char save = *p;
      *p = '\0';
      char avail[512];
      if (cg_read (buf[0] ? buf : mnt, "cgroup.controllers", avail, sizeof avail) > 0)
        {
          char want[256] = "";
          for (const char *c = ctrls; *c;)
            {
              size_t n = strcspn (c, " ");
              char name[32];
              snprintf (name, sizeof name, "%.*s", (int)n, c);
              if (strstr (avail, name))
                {
                  strcat (want, "+");
                  strcat (want, name);
                  strcat (want, " ");
                }
              c += n + (c[n] == ' ');
            }
          if (*want)
            {
              char path[PATH_MAX + 32];
              snprintf (path, sizeof path, "%s/cgroup.subtree_control", buf);
              _cleanup_close_ int fd = open (path, O_WRONLY | O_CLOEXEC);
              if (fd >= 0)
                (void)!write (fd, want, strlen (want));
            }
        }
      *p = save;
      p = next;
    }
  return 0;
}

int
oci_cgroups_create (const struct oci_spec *s, struct oci_cgroups *cg, bool rootless)
{
  int r = 0;
  for (size_t i = 0; r == 0 && i < cg->n; i++)
    {
      r = mkdir_cg (cg->dir[i], strstr (cg->ctrl[i], "cpuset") != NULL, &cg->created[i]);
      /* the controllers of every ancestor: the limit files appear in the
       * new directory once its parent enables them */
      if (r == 0 && cg->mode == 2)
        enable_v2 (CG_ROOT, cg->dir[i], "cpu cpuset io memory pids hugetlb");
    }
  if (r == 0 && cg->unified_dir)
    {
      bool c = false;
      r = mkdir_cg (cg->unified_dir, false, &c);
      if (r == 0)
        enable_v2 (CG_ROOT "/unified", cg->unified_dir, "hugetlb cpu io memory pids");
    }
  if (r < 0 && rootless)
    return launch_failf (-r, "%s (rootless: cgroups need a delegated cgroup)", launch_errmsg ());
  if (r == 0 && s->has_resources)
    r = oci_cgroups_apply (&s->res, cg);
  return r;
}

int
oci_cgroups_enter (const struct oci_cgroups *cg, pid_t pid)
{
  char buf[24];
  snprintf (buf, sizeof buf, "%ld", (long)pid);
  for (size_t i = 0; i < cg->n; i++)
    {
      int r = cg_write (cg->dir[i], "cgroup.procs", buf, "joining the cgroup");
      if (r < 0)
        return r;
    }
  if (cg->unified_dir)
    return cg_write (cg->unified_dir, "cgroup.procs", buf, "joining the cgroup");
  return 0;
}

/* ---- resources ------------------------------------------------------------------------ */
static int
apply_memory_v1 (const struct oci_resources *r, const char *d)
{
  char buf[32];
  int e = 0;
  const char *W = "linux.resources.memory";
  if (!d)
    return launch_failf (ENOTSUP, "%s: the memory controller is not mounted on this host", W);
  bool swap_first = r->has_mem_swap && r->has_mem_limit && r->mem_swap != -1;
  if (r->has_mem_swap && !cg_exists (d, "memory.memsw.limit_in_bytes"))
    return launch_failf (ENOTSUP, "%s.swap: this kernel has no swap accounting (memory.memsw)", W);
  /* memsw must stay >= limit at every step: when lowering, limit first */
  if (swap_first)
    {
      char cur[32];
      long long now = cg_read (d, "memory.limit_in_bytes", cur, sizeof cur) > 0 ? atoll (cur) : 0;
      swap_first = r->mem_limit > now;
    }
  if (e == 0 && swap_first)
    {
      fmt_i64 (buf, sizeof buf, r->mem_swap, "-1");
      e = cg_write (d, "memory.memsw.limit_in_bytes", buf, W);
    }
  if (e == 0 && r->has_mem_limit)
    {
      fmt_i64 (buf, sizeof buf, r->mem_limit, "-1");
      e = cg_write (d, "memory.limit_in_bytes", buf, W);
    }
  if (e == 0 && r->has_mem_swap && !swap_first)
    {
      fmt_i64 (buf, sizeof buf, r->mem_swap, "-1");
      e = cg_write (d, "memory.memsw.limit_in_bytes", buf, W);
    }
  if (e == 0 && r->has_mem_reservation)
    {
      fmt_i64 (buf, sizeof buf, r->mem_reservation, "-1");
      e = cg_write (d, "memory.soft_limit_in_bytes", buf, W);
    }
  if (e == 0 && (r->has_mem_kernel || r->has_mem_kernel_tcp))
    {
      const char *f
          = r->has_mem_kernel ? "memory.kmem.limit_in_bytes" : "memory.kmem.tcp.limit_in_bytes";
      if (!cg_exists (d, f))
        return launch_failf (ENOTSUP, "%s.kernel/kernelTCP: this kernel has no %s", W, f);
      fmt_i64 (buf, sizeof buf, r->has_mem_kernel ? r->mem_kernel : r->mem_kernel_tcp, "-1");
      e = cg_write (d, f, buf, W);
    }
  if (e == 0 && r->has_swappiness)
    {
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->swappiness);
      e = cg_write (d, "memory.swappiness", buf, W);
    }
  if (e == 0 && r->has_disable_oom)
    e = cg_write (d, "memory.oom_control", r->disable_oom ? "1" : "0", W);
  if (e == 0 && r->has_use_hierarchy && cg_exists (d, "memory.use_hierarchy"))
    e = cg_write (d, "memory.use_hierarchy", r->use_hierarchy ? "1" : "0", W);
  return e;
}

static int
apply_memory_v2 (const struct oci_resources *r, const char *d)
{
  char buf[32];
  int e = 0;
  const char *W = "linux.resources.memory";
  if (r->has_mem_kernel || r->has_mem_kernel_tcp || r->has_swappiness || r->has_disable_oom)
    return launch_failf (ENOTSUP,
                         "%s: kernel, kernelTCP, swappiness and disableOOMKiller have no "
                         "cgroup v2 equivalent",
                         W);
  if (r->has_mem_limit)
    {
      fmt_i64 (buf, sizeof buf, r->mem_limit, "max");
      e = cg_write (d, "memory.max", buf, W);
    }
  if (e == 0 && r->has_mem_reservation)
    {
      fmt_i64 (buf, sizeof buf, r->mem_reservation, "max");
      e = cg_write (d, "memory.low", buf, W);
    }
  if (e == 0 && r->has_mem_swap)
    {
      /* v1's memsw is memory+swap; v2's swap.max is swap alone */
      if (r->mem_swap == -1 || !r->has_mem_limit || r->mem_limit == -1)
        snprintf (buf, sizeof buf, "%s", r->mem_swap == -1 ? "max" : "0");
      else
        snprintf (buf, sizeof buf, "%lld", (long long)(r->mem_swap - r->mem_limit));
      if (!cg_exists (d, "memory.swap.max"))
        return launch_failf (ENOTSUP, "%s.swap: this kernel has no memory.swap.max", W);
      e = cg_write (d, "memory.swap.max", buf, W);
    }
  return e;
}

static int
apply_cpu (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  char buf[64];
  int e = 0;
  const char *W = "linux.resources.cpu";
  const char *d = oci_cgroups_dir (cg, "cpu");
  bool any = r->has_shares || r->has_quota || r->has_period || r->has_burst || r->has_idle
             || r->has_rt_period || r->has_rt_runtime;
  if (any && !d)
    return launch_failf (ENOTSUP, "%s: the cpu controller is not available", W);
  if (cg->mode == 2)
    {
      if (r->has_rt_period || r->has_rt_runtime)
        return launch_failf (ENOTSUP,
                             "%s.realtimeRuntime/realtimePeriod: not available on cgroup v2", W);
      if (r->has_shares && r->shares)
        {
          /* shares 2..262144 -> weight 1..10000, linear as crun 1.8 */
          uint64_t sh = r->shares < 2 ? 2 : r->shares > 262144 ? 262144 : r->shares;
          snprintf (buf, sizeof buf, "%llu", (unsigned long long)(1 + ((sh - 2) * 9999) / 262142));
          e = cg_write (d, "cpu.weight", buf, W);
        }
      if (e == 0 && (r->has_quota || r->has_period))
        {
          char q[24];
          fmt_i64 (q, sizeof q, r->has_quota ? r->quota : -1, "max");
          snprintf (buf, sizeof buf, "%s %llu", q,
                    (unsigned long long)(r->has_period && r->period ? r->period : 100000));
          e = cg_write (d, "cpu.max", buf, W);
        }
      if (e == 0 && r->has_burst)
        {
          snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->burst);
          e = cg_write (d, "cpu.max.burst", buf, W);
        }
      if (e == 0 && r->has_idle)
        {
          snprintf (buf, sizeof buf, "%lld", (long long)r->idle);
          e = cg_write (d, "cpu.idle", buf, W);
        }
      return e;
    }
  if (r->has_shares && r->shares)
    {
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->shares);
      e = cg_write (d, "cpu.shares", buf, W);
    }
  if (e == 0 && r->has_period && r->period)
    {
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->period);
      e = cg_write (d, "cpu.cfs_period_us", buf, W);
    }
  if (e == 0 && r->has_quota)
    {
      fmt_i64 (buf, sizeof buf, r->quota, "-1");
      e = cg_write (d, "cpu.cfs_quota_us", buf, W);
    }
  if (e == 0 && r->has_burst)
    {
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->burst);
      e = cg_write (d, "cpu.cfs_burst_us", buf, W);
    }
  if (e == 0 && r->has_rt_period)
    {
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->rt_period);
      e = cg_write (d, "cpu.rt_period_us", buf, W);
    }
  if (e == 0 && r->has_rt_runtime)
    {
      snprintf (buf, sizeof buf, "%lld", (long long)r->rt_runtime);
      e = cg_write (d, "cpu.rt_runtime_us", buf, W);
    }
  if (e == 0 && r->has_idle)
    {
      if (!cg_exists (d, "cpu.idle"))
        return launch_failf (ENOTSUP, "%s.idle: no cpu.idle on this host", W);
      snprintf (buf, sizeof buf, "%lld", (long long)r->idle);
      e = cg_write (d, "cpu.idle", buf, W);
    }
  return e;
}

static int
apply_cpuset (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  const char *d = oci_cgroups_dir (cg, "cpuset");
  if ((r->cpus || r->mems) && !d)
    return launch_failf (ENOTSUP,
                         "linux.resources.cpu.cpus/mems: the cpuset controller is not available");
  int e = 0;
  if (r->cpus && *r->cpus)
    e = cg_write (d, "cpuset.cpus", r->cpus, "linux.resources.cpu.cpus");
  if (e == 0 && r->mems && *r->mems)
    e = cg_write (d, "cpuset.mems", r->mems, "linux.resources.cpu.mems");
  return e;
}

static int
apply_pids (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  if (!r->has_pids)
    return 0;
  const char *d = oci_cgroups_dir (cg, "pids");
  if (!d)
    return launch_failf (ENOTSUP, "linux.resources.pids: the pids controller is not available");
  char buf[32];
  fmt_i64 (buf, sizeof buf, r->pids > 0 ? r->pids : -1, "max");
  return cg_write (d, "pids.max", buf, "linux.resources.pids.limit");
}

static int
apply_blkio (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  const char *W = "linux.resources.blockIO";
  bool any = r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_weight_dev;
  for (int k = 0; k < 4; k++)
    any |= r->n_throttle[k] > 0;
  if (!any)
    return 0;
  const char *d = oci_cgroups_dir (cg, cg->mode == 2 ? "io" : "blkio");
  if (!d)
    return launch_failf (ENOTSUP, "%s: the blkio/io controller is not available", W);
  char buf[96];
  int e = 0;
  bool v2 = cg->mode == 2;
  const char *wfile = v2 ? (cg_exists (d, "io.bfq.weight") ? "io.bfq.weight" : "io.weight")
                         : (cg_exists (d, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight");
  if (r->has_blkio_leaf_weight && (v2 || !cg_exists (d, "blkio.leaf_weight")))
    return launch_failf (ENOTSUP, "%s.leafWeight: not available on this kernel", W);
  if ((r->has_blkio_weight || r->n_weight_dev) && !cg_exists (d, wfile))
    return launch_failf (ENOTSUP, "%s.weight: no %s on this host (no BFQ/CFQ scheduler?)", W,
                         wfile);
  if (r->has_blkio_weight)
    {
      snprintf (buf, sizeof buf, v2 ? "default %u" : "%u", r->blkio_weight);
      e = cg_write (d, wfile, buf, W);
    }
  if (e == 0 && r->has_blkio_leaf_weight)
    {
      snprintf (buf, sizeof buf, "%u", r->blkio_leaf_weight);
      e = cg_write (d, "blkio.leaf_weight", buf, W);
    }
  _cleanup_free_ char *wdev = xasprintf ("%s_device", wfile);
  for (size_t i = 0; e == 0 && i < r->n_weight_dev; i++)
    {
      const struct oci_weight_dev *w = &r->weight_dev[i];
      if (w->leaf_weight >= 0)
        return launch_failf (ENOTSUP, "%s.weightDevice[].leafWeight: not available on this kernel",
                             W);
      if (w->weight < 0)
        continue;
      snprintf (buf, sizeof buf, "%llu:%llu %d", (unsigned long long)w->major,
                (unsigned long long)w->minor, w->weight);
      e = cg_write (d, v2 ? wfile : wdev, buf, W);
    }
  static const char *const v1f[4]
      = { "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
          "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device" };
  static const char *const v2k[4] = { "rbps", "wbps", "riops", "wiops" };
  for (int k = 0; e == 0 && k < 4; k++)
    for (size_t i = 0; e == 0 && i < r->n_throttle[k]; i++)
      {
        const struct oci_throttle *t = &r->throttle[k][i];
        if (v2)
          snprintf (buf, sizeof buf, "%llu:%llu %s=%llu", (unsigned long long)t->major,
                    (unsigned long long)t->minor, v2k[k], (unsigned long long)t->rate);
        else
          snprintf (buf, sizeof buf, "%llu:%llu %llu", (unsigned long long)t->major,
                    (unsigned long long)t->minor, (unsigned long long)t->rate);
        e = cg_write (d, v2 ? "io.max" : v1f[k], buf, W);
      }
  return e;
}

static int
apply_hugetlb (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  if (!r->n_huge)
    return 0;
  const char *d = cg->mode == 2 ? cg->dir[0] : oci_cgroups_dir (cg, "hugetlb");
  bool v2 = cg->mode == 2 || (!d && cg->unified_dir);
  if (!d)
    d = cg->unified_dir;
  if (!d)
    return launch_failf (ENOTSUP,
                         "linux.resources.hugepageLimits: the hugetlb controller is not available");
  for (size_t i = 0; i < r->n_huge; i++)
    {
      char file[64], buf[32];
      snprintf (file, sizeof file, v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes",
                r->huge[i].size);
      if (!cg_exists (d, file))
        return launch_failf (EINVAL,
                             "linux.resources.hugepageLimits: page size %s is not available here",
                             r->huge[i].size);
      snprintf (buf, sizeof buf, "%llu", (unsigned long long)r->huge[i].limit);
      int e = cg_write (d, file, buf, "linux.resources.hugepageLimits");
      if (e < 0)
        return e;
    }
  return 0;
}

static void
devrule_str (const struct oci_devrule *d, char *buf, size_t n)
{
  char maj[24], min[24];
  if (d->type == 'a')
    {
      snprintf (buf, n, "a");
      return;
    }
  fmt_i64 (maj, sizeof maj, d->major, "*");
  fmt_i64 (min, sizeof min, d->minor, "*");
  snprintf (buf, n, "%c %s:%s %s", d->type, maj, min, d->access);
}

/* The nodes every container gets (docs/runtime-anchors.md §3: crun's default
 * allow-list), after the config's own rules. */
static const struct oci_devrule default_dev_allow[] = {
  { true, 'c', -1, -1, "m" }, { true, 'b', -1, -1, "m" },    { true, 'c', 1, 3, "rwm" },
  { true, 'c', 1, 5, "rwm" }, { true, 'c', 1, 7, "rwm" },    { true, 'c', 1, 8, "rwm" },
  { true, 'c', 1, 9, "rwm" }, { true, 'c', 5, 0, "rwm" },    { true, 'c', 5, 1, "rwm" },
  { true, 'c', 5, 2, "rwm" }, { true, 'c', 136, -1, "rwm" }, { true, 'c', 10, 200, "rwm" },
};

/* CAIRN_LAUNCH_DEVICES_BPF=1 uses the eBPF program on a hybrid host too (in
 * its cgroup2 mount), so that the v2 path runs where the suite runs. */
static bool
force_bpf (void)
{
  const char *e = getenv ("CAIRN_LAUNCH_DEVICES_BPF");
  return e && *e == '1';
}

static int
apply_devices_bpf (const struct oci_resources *r, const char *dir)
{
  size_t nd = sizeof default_dev_allow / sizeof default_dev_allow[0];
  struct oci_devrule *all = xrealloc (NULL, (r->n_dev + nd) * sizeof *all);
  memcpy (all, r->dev, r->n_dev * sizeof *all);
  memcpy (all + r->n_dev, default_dev_allow, nd * sizeof *all);
  int e = oci_devices_bpf_attach (dir, all, r->n_dev + nd);
  free (all);
  return e;
}

static int
apply_devices (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  if (!r->n_dev)
    return 0;
  if (cg->mode == 2)
    return apply_devices_bpf (r, cg->dir[0]);
  if (force_bpf () && cg->unified_dir)
    return apply_devices_bpf (r, cg->unified_dir);
  const char *d = oci_cgroups_dir (cg, "devices");
  if (!d)
    return launch_failf (ENOTSUP, "linux.resources.devices: the devices controller is not mounted");
  /* one open of each file, one write a rule (the kernel takes one rule a
   * write), in order */
  char buf[64];
  _cleanup_close_ int deny_fd = -1;
  _cleanup_close_ int allow_fd = -1;
  int *fds[2] = { &deny_fd, &allow_fd };
  static const char *const files[2] = { "devices.deny", "devices.allow" };
  for (size_t i = 0; i < r->n_dev + sizeof default_dev_allow / sizeof default_dev_allow[0]; i++)
    {
      const struct oci_devrule *x = i < r->n_dev ? &r->dev[i] : &default_dev_allow[i - r->n_dev];
      devrule_str (x, buf, sizeof buf);
      int k = x->allow ? 1 : 0;
      char path[PATH_MAX];
      snprintf (path, sizeof path, "%s/%s", d, files[k]);
      if (*fds[k] < 0 && (*fds[k] = open (path, O_WRONLY | O_CLOEXEC)) < 0)
        return launch_failf (errno, "linux.resources.devices: cannot open %s", path);
      if (write (*fds[k], buf, strlen (buf)) < 0)
        return launch_failf (errno, "linux.resources.devices: writing '%s' to %s", buf, path);
    }
  return 0;
}

static int
apply_unified (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  if (!r->n_unified)
    return 0;
  const char *d = cg->mode == 2 ? cg->dir[0] : cg->unified_dir;
  if (!d)
    return launch_failf (ENOTSUP,
                         "linux.resources.unified needs cgroup v2 (or a hybrid host's cgroup2 "
                         "mount), not available here");
  for (size_t i = 0; i < r->n_unified; i++)
    {
      if (!cg_exists (d, r->unified[i].key))
        return launch_failf (ENOENT,
                             "linux.resources.unified: %s does not exist in the container's "
                             "cgroup (controller not enabled?)",
                             r->unified[i].key);
      int e = cg_write (d, r->unified[i].key, r->unified[i].value, "linux.resources.unified");
      if (e < 0)
        return e;
    }
  return 0;
}

int
oci_cgroups_apply (const struct oci_resources *r, const struct oci_cgroups *cg)
{
  if (cg->mode == 0 || cg->n == 0)
    return launch_failf (ENOTSUP, "linux.resources: the container has no cgroup");
  int e = 0;
  if (r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_mem_kernel
      || r->has_mem_kernel_tcp || r->has_swappiness || r->has_disable_oom || r->has_use_hierarchy)
    e = cg->mode == 2 ? apply_memory_v2 (r, cg->dir[0])
                      : apply_memory_v1 (r, oci_cgroups_dir (cg, "memory"));
  if (e == 0)
    e = apply_cpuset (r, cg);
  if (e == 0)
    e = apply_cpu (r, cg);
  if (e == 0)
    e = apply_pids (r, cg);
  if (e == 0)
    e = apply_blkio (r, cg);
  if (e == 0)
    e = apply_hugetlb (r, cg);
  if (e == 0)
    e = apply_devices (r, cg);
  if (e == 0)
    e = apply_unified (r, cg);
  return e;
}

/* ---- processes, freezer, removal ------------------------------------------------------- */
static const char *
procs_dir (const struct oci_cgroups *cg)
{
  if (cg->mode == 2)
    return cg->n ? cg->dir[0] : NULL;
  const char *d = oci_cgroups_dir (cg, "freezer");
  if (!d)
    d = oci_cgroups_dir (cg, "pids");
  return d ? d : (cg->n ? cg->dir[0] : NULL);
}

int
oci_cgroups_pids (const struct oci_cgroups *cg, pid_t **out, size_t *out_n)
{
  *out = NULL;
  *out_n = 0;
  const char *d = procs_dir (cg);
  if (!d)
    return 0;
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/cgroup.procs", d);
  FILE *f = fopen (path, "re");
  if (!f)
    return errno == ENOENT ? 0 : launch_failf (errno, "reading %s", path);
  long pid;
  while (fscanf (f, "%ld", &pid) == 1)
    {
      *out = xrealloc (*out, (*out_n + 1) * sizeof (pid_t));
      (*out)[(*out_n)++] = (pid_t)pid;
    }
  fclose (f);
  return 0;
}

static void
sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

int
oci_cgroups_frozen (const struct oci_cgroups *cg)
{
  char buf[256];
  if (cg->mode == 2)
    {
      if (!cg->n || cg_read (cg->dir[0], "cgroup.events", buf, sizeof buf) < 0)
        return 0;
      return strstr (buf, "frozen 1") != NULL;
    }
  const char *d = oci_cgroups_dir (cg, "freezer");
  if (!d || cg_read (d, "freezer.state", buf, sizeof buf) < 0)
    return 0;
  return strncmp (buf, "FROZEN", 6) == 0;
}

int
oci_cgroups_freeze (const struct oci_cgroups *cg, bool freeze)
{
  const char *d = cg->mode == 2 ? (cg->n ? cg->dir[0] : NULL) : oci_cgroups_dir (cg, "freezer");
  if (!d)
    return launch_failf (ENOTSUP, "the container has no freezer cgroup");
  int e = cg->mode == 2 ? cg_write (d, "cgroup.freeze", freeze ? "1" : "0", "freezing")
                        : cg_write (d, "freezer.state", freeze ? "FROZEN" : "THAWED", "freezing");
  if (e < 0)
    return e;
  /* FREEZING -> FROZEN is asynchronous; wait up to ~10 s */
  for (int i = 0; freeze && i < 2000; i++)
    {
      if (oci_cgroups_frozen (cg) == 1)
        return 0;
      if (cg->mode == 1 && i % 50 == 49)
        cg_write (d, "freezer.state", "FROZEN", "freezing");
      sleep_ms (i < 20 ? 1 : 5);
    }
  return freeze ? launch_failf (ETIMEDOUT, "the container's cgroup did not freeze in time") : 0;
}

int
oci_cgroups_kill_all (const struct oci_cgroups *cg, int sig)
{
  if (cg->mode == 2 && sig == SIGKILL && cg->n && cg_exists (cg->dir[0], "cgroup.kill"))
    return cg_write (cg->dir[0], "cgroup.kill", "1", "killing the container");
  /* frozen while signalled, so that nothing forks out from under us */
  bool froze = !oci_cgroups_frozen (cg) && oci_cgroups_freeze (cg, true) == 0;
  pid_t *pids;
  size_t n;
  int r = oci_cgroups_pids (cg, &pids, &n);
  for (size_t i = 0; r == 0 && i < n; i++)
    kill (pids[i], sig);
  free (pids);
  if (froze)
    oci_cgroups_freeze (cg, false);
  return r;
}

static int
rm_cg (const char *dir)
{
  for (int tries = 0;; tries++)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || tries >= 500)
        return launch_failf (errno, "removing the cgroup %s", dir);
      char path[PATH_MAX], buf[4096];
      snprintf (path, sizeof path, "%s/cgroup.procs", dir);
      _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
      ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
      for (char *p = buf; n > 0 && (buf[n] = '\0', *p);)
        {
          long pid = strtol (p, &p, 10);
          if (pid > 0)
            kill ((pid_t)pid, SIGKILL);
          while (*p == '\n')
            p++;
        }
      sleep_ms (tries < 10 ? 1 : 10);
    }
}

int
oci_cgroups_destroy (struct oci_cgroups *cg)
{
  int r = 0;
  if (oci_cgroups_frozen (cg) == 1)
    oci_cgroups_freeze (cg, false);
  for (size_t i = 0; i < cg->n; i++)
    {
      int e = rm_cg (cg->dir[i]);
      r = r ? r : e;
    }
  if (cg->unified_dir)
    {
      int e = rm_cg (cg->unified_dir);
      r = r ? r : e;
    }
  return r;
}

void
oci_cgroups_clear (struct oci_cgroups *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      free (cg->ctrl[i]);
      free (cg->dir[i]);
    }
  free (cg->unified_dir);
  memset (cg, 0, sizeof *cg);
}

/* ---- state.json form ---------------------------------------------------------------- */
void
oci_cgroups_to_json (const struct oci_cgroups *cg, struct jbuf *b)
{
  jb_printf (b, "{\"mode\":%d,\"dirs\":[", cg->mode);
  for (size_t i = 0; i < cg->n; i++)
    {
      jb_raw (b, i ? ",[" : "[");
      jb_str (b, cg->ctrl[i]);
      jb_raw (b, ",");
      jb_str (b, cg->dir[i]);
      jb_raw (b, "]");
    }
  jb_raw (b, "]");
  if (cg->unified_dir)
    {
      jb_raw (b, ",\"unified\":");
      jb_str (b, cg->unified_dir);
    }
  jb_raw (b, "}");
}

int
oci_cgroups_from_json (const struct json *v, struct oci_cgroups *cg)
{
  memset (cg, 0, sizeof *cg);
  const struct json *dirs = json_get (v, "dirs"), *u = json_get (v, "unified");
  int64_t mode;
  if (json_i64 (json_get (v, "mode"), &mode) < 0 || !json_is (dirs, JSON_ARR))
    return launch_failf (EINVAL, "state.json: invalid cgroups");
  cg->mode = (int)mode;
  for (size_t i = 0; i < dirs->n && cg->n < OCI_CG_MAX; i++)
    {
      const struct json *p = dirs->kids[i];
      if (!json_is (p, JSON_ARR) || p->n != 2 || p->kids[0]->t != JSON_STR
          || p->kids[1]->t != JSON_STR)
        return launch_failf (EINVAL, "state.json: invalid cgroups");
      cg->ctrl[cg->n] = xstrdup (p->kids[0]->s);
      cg->dir[cg->n] = xstrdup (p->kids[1]->s);
      cg->n++;
    }
  if (json_is (u, JSON_STR))
    cg->unified_dir = xstrdup (u->s);
  return 0;
}

/* ---- statistics (events --stats), in runc's JSON shape --------------------------------- */
static unsigned long long
read_u64 (const char *dir, const char *file)
{
  char buf[64];
  if (!dir || cg_read (dir, file, buf, sizeof buf) <= 0)
    return 0;
  if (strncmp (buf, "max", 3) == 0)
    return UINT64_MAX;
  return strtoull (buf, NULL, 10);
}

static unsigned long long
read_keyed (const char *dir, const char *file, const char *key)
{
  char buf[8192];
  if (!dir || cg_read (dir, file, buf, sizeof buf) <= 0)
    return 0;
  size_t kl = strlen (key);
  for (char *p = buf; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    if (strncmp (p, key, kl) == 0 && p[kl] == ' ')
      return strtoull (p + kl + 1, NULL, 10);
  return 0;
}

static void
stats_cpu (const struct oci_cgroups *cg, struct jbuf *b)
{
  if (cg->mode == 2)
    {
      const char *d = cg->dir[0];
      jb_printf (b,
                 "\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":%llu,\"user\":%llu},"
                 "\"throttling\":{\"periods\":%llu,\"throttledPeriods\":%llu,"
                 "\"throttledTime\":%llu}}",
                 read_keyed (d, "cpu.stat", "usage_usec") * 1000,
                 read_keyed (d, "cpu.stat", "system_usec") * 1000,
                 read_keyed (d, "cpu.stat", "user_usec") * 1000,
                 read_keyed (d, "cpu.stat", "nr_periods"),
                 read_keyed (d, "cpu.stat", "nr_throttled"),
                 read_keyed (d, "cpu.stat", "throttled_usec") * 1000);
      return;
    }
  const char *a = oci_cgroups_dir (cg, "cpuacct"), *c = oci_cgroups_dir (cg, "cpu");
  long hz = sysconf (_SC_CLK_TCK);
  unsigned long long ns_per_tick = hz > 0 ? 1000000000ULL / (unsigned long long)hz : 10000000ULL;
  jb_printf (b, "\"cpu\":{\"usage\":{\"total\":%llu,\"percpu\":[", read_u64 (a, "cpuacct.usage"));
  char buf[4096];
  if (a && cg_read (a, "cpuacct.usage_percpu", buf, sizeof buf) > 0)
    {
      char *p = buf, *end;
      for (int i = 0;; i++)
        {
          unsigned long long v = strtoull (p, &end, 10);
          if (end == p)
            break;
          jb_printf (b, "%s%llu", i ? "," : "", v);
          p = end;
        }
    }
  jb_printf (b,
             "],\"kernel\":%llu,\"user\":%llu},\"throttling\":{\"periods\":%llu,"
             "\"throttledPeriods\":%llu,\"throttledTime\":%llu}}",
             read_keyed (a, "cpuacct.stat", "system") * ns_per_tick,
             read_keyed (a, "cpuacct.stat", "user") * ns_per_tick,
             read_keyed (c, "cpu.stat", "nr_periods"), read_keyed (c, "cpu.stat", "nr_throttled"),
             read_keyed (c, "cpu.stat", "throttled_time"));
}

static void
stats_memory (const struct oci_cgroups *cg, struct jbuf *b)
{
  if (cg->mode == 2)
    {
      const char *d = cg->dir[0];
      jb_printf (b,
                 "\"memory\":{\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,"
                 "\"failcnt\":%llu},\"swap\":{\"limit\":%llu,\"usage\":%llu},"
                 "\"raw\":{\"anon\":%llu,\"file\":%llu}}",
                 read_u64 (d, "memory.max"), read_u64 (d, "memory.current"),
                 read_u64 (d, "memory.peak"), read_keyed (d, "memory.events", "oom"),
                 read_u64 (d, "memory.swap.max"), read_u64 (d, "memory.swap.current"),
                 read_keyed (d, "memory.stat", "anon"), read_keyed (d, "memory.stat", "file"));
      return;
    }
  const char *d = oci_cgroups_dir (cg, "memory");
  jb_printf (b,
             "\"memory\":{\"cache\":%llu,\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,"
             "\"failcnt\":%llu},\"swap\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu},"
             "\"raw\":{\"cache\":%llu,\"rss\":%llu,\"total_inactive_file\":%llu}}",
             read_keyed (d, "memory.stat", "cache"), read_u64 (d, "memory.limit_in_bytes"),
             read_u64 (d, "memory.usage_in_bytes"), read_u64 (d, "memory.max_usage_in_bytes"),
             read_u64 (d, "memory.failcnt"), read_u64 (d, "memory.memsw.limit_in_bytes"),
             read_u64 (d, "memory.memsw.usage_in_bytes"),
             read_u64 (d, "memory.memsw.max_usage_in_bytes"),
             read_keyed (d, "memory.stat", "cache"), read_keyed (d, "memory.stat", "rss"),
             read_keyed (d, "memory.stat", "total_inactive_file"));
}

void
oci_cgroups_stats (const struct oci_cgroups *cg, struct jbuf *b)
{
  jb_raw (b, "{");
  stats_cpu (cg, b);
  jb_raw (b, ",");
  stats_memory (cg, b);
  const char *p = oci_cgroups_dir (cg, "pids");
  unsigned long long lim = read_u64 (p, "pids.max");
  jb_printf (b, ",\"pids\":{\"current\":%llu,\"limit\":%llu}", read_u64 (p, "pids.current"),
             lim == UINT64_MAX ? 0 : lim);
  jb_raw (b, "}");
}
