/* cairn-launch: cgroup v1, v2 and hybrid hosts.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A container's cgroups are created only when a limit is requested, always
 * below one parent that cairn owns: <hierarchy>/cairn/<name> (v1: one per
 * controller used; v2: /sys/fs/cgroup/cairn/<name>).  Names and parents are
 * settled before clone(); the directories are created and the limits written
 * by the parent right after it, in parallel with the child's mount set-up,
 * and the child is moved in before the parent sends 'c', the step without
 * which nothing of the container runs, so the command never runs
 * unconstrained (docs/runtime-anchors.md §3 "Ordering relative to exec").
 *
 * Hybrid hosts (tmpfs at /sys/fs/cgroup, v1 controllers, plus a cgroup2 mount
 * at /sys/fs/cgroup/unified) are handled as v1: the v2 hierarchy is not used
 * at all, whatever controllers it lists (crun 1.8 refuses such hosts).
 *
 * Removal: after the container's pid 1 is gone the monitor removes the
 * directories.  In case the monitor itself is SIGKILLed, a small janitor
 * process (forked before the cgroups exist, in its own session, holding only
 * a pipe) notices EOF on that pipe, kills whatever is left in the cgroups and
 * removes them (a directory that was never created is skipped).
 *
 * Rootless: limits are possible only if the host delegates the cairn parent
 * (it exists and is writable by the caller); otherwise a requested limit is an
 * error that says so.  Never silently ignored.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/magic.h>

#include "runtime/launch.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG_MAX 4

struct launch_cgroups
{
  int mode;                 /* 0 none, 1 v1, 2 v2 */
  const char *ctrl[CG_MAX]; /* v1 controller per directory */
  char *dir[CG_MAX];        /* container cgroup directories */
  int procs_fd[CG_MAX];     /* v1: "tasks" (the child moves itself); v2: cgroup.procs */
  size_t n;
};

static int
detect_mode (void)
{
  struct statfs sf;
  if (statfs (CG_ROOT, &sf) < 0)
    return launch_fail (errno, "cgroups are not mounted", CG_ROOT);
  if (sf.f_type == CGROUP2_SUPER_MAGIC)
    return 2;
  if (sf.f_type == TMPFS_MAGIC)
    return 1; /* legacy or hybrid: both handled as v1 */
  return launch_fail (ENOTSUP, "unknown filesystem type", CG_ROOT);
}

static char *
container_name (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return xasprintf ("c%ld-%lx", (long)getpid (),
                    (unsigned long)(ts.tv_sec * 1000000000L + ts.tv_nsec));
}

/* Make PARENT (cairn's own directory in a hierarchy) exist and be usable. */
static int
ensure_parent (const char *parent, bool rootless)
{
  if (mkdir (parent, 0755) < 0 && errno != EEXIST)
    return launch_fail (errno,
                        rootless ? "cgroup limits need root or a delegated cgroup: cannot "
                                   "create cairn's cgroup parent (ask an admin to create "
                                   "and chown it)"
                                 : "creating cairn's cgroup parent",
                        parent);
  if (access (parent, W_OK) < 0)
    return launch_fail (errno,
                        "cgroup limits need root or a delegated cgroup: cairn's cgroup "
                        "parent is not writable by this user",
                        parent);
  return 0;
}

static int
add_dir (struct launch_cgroups *cg, const char *base, const char *ctrl, const char *name,
         bool rootless)
{
  _cleanup_free_ char *parent = xasprintf ("%s/cairn", base);
  struct statfs sf;
  if (statfs (base, &sf) < 0)
    return launch_fail (errno, "cgroup controller is not available (v1 hierarchy missing)",
                        ctrl ? ctrl : base);
  int r = ensure_parent (parent, rootless);
  if (r < 0)
    return r;
  cg->ctrl[cg->n] = ctrl;
  cg->dir[cg->n] = xasprintf ("%s/%s", parent, name);
  cg->procs_fd[cg->n] = -1;
  cg->n++;
  return 0;
}

static int
open_at_dir (const char *dir, const char *file)
{
  char p[PATH_MAX];
  if ((size_t)snprintf (p, sizeof p, "%s/%s", dir, file) >= sizeof p)
    {
      errno = ENAMETOOLONG;
      return -1;
    }
  return open (p, O_WRONLY | O_CLOEXEC);
}

static int
make_dir (const char *dir)
{
  if (mkdir (dir, 0755) < 0)
    return launch_fail (errno, "creating the container cgroup", dir);
  return 0;
}

static int
write_in (const char *dir, const char *file, const char *val)
{
  _cleanup_close_ int dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return launch_fail (errno, "opening the container cgroup", dir);
  return write_file_at (dfd, file, val);
}

static int
limits_v1 (const struct launch_config *cfg, const char *ctrl, const char *dir)
{
  char buf[64];
  int r = 0;
  if (strcmp (ctrl, "memory") == 0)
    {
      snprintf (buf, sizeof buf, "%lld", cfg->memory);
      r = write_in (dir, "memory.limit_in_bytes", buf);
      /* memsw (memory+swap) exists only with swap accounting; without it
       * the container could swap past its limit. */
      _cleanup_free_ char *sw = xasprintf ("%s/memory.memsw.limit_in_bytes", dir);
      if (r == 0 && access (sw, F_OK) == 0)
        r = write_in (dir, "memory.memsw.limit_in_bytes", buf);
    }
  else if (strcmp (ctrl, "pids") == 0)
    {
      snprintf (buf, sizeof buf, "%lld", cfg->pids);
      r = write_in (dir, "pids.max", buf);
    }
  else if (strcmp (ctrl, "cpu") == 0)
    {
      if (cfg->cpus > 0)
        {
          r = write_in (dir, "cpu.cfs_period_us", "100000");
          snprintf (buf, sizeof buf, "%lld", (long long)(cfg->cpus * 100000.0 + 0.5));
          if (r == 0)
            r = write_in (dir, "cpu.cfs_quota_us", buf);
        }
      if (r == 0 && cfg->cpu_weight)
        {
          /* weight 1..10000 -> shares 2..262144 (the inverse of crun 1.8's
           * linear shares -> weight conversion, so 100 maps to ~2622). */
          long shares = 2 + ((cfg->cpu_weight - 1) * 262142L) / 9999;
          snprintf (buf, sizeof buf, "%ld", shares);
          r = write_in (dir, "cpu.shares", buf);
        }
    }
  return r;
}

static int
limits_v2 (const struct launch_config *cfg, const char *dir)
{
  char buf[64];
  int r = 0;
  if (cfg->memory)
    {
      snprintf (buf, sizeof buf, "%lld", cfg->memory);
      r = write_in (dir, "memory.max", buf);
      if (r == 0)
        {
          _cleanup_free_ char *sw = xasprintf ("%s/memory.swap.max", dir);
          if (access (sw, F_OK) == 0)
            r = write_in (dir, "memory.swap.max", "0");
        }
    }
  if (r == 0 && cfg->pids)
    {
      snprintf (buf, sizeof buf, "%lld", cfg->pids);
      r = write_in (dir, "pids.max", buf);
    }
  if (r == 0 && cfg->cpus > 0)
    {
      snprintf (buf, sizeof buf, "%lld 100000", (long long)(cfg->cpus * 100000.0 + 0.5));
      r = write_in (dir, "cpu.max", buf);
    }
  if (r == 0 && cfg->cpu_weight)
    {
      snprintf (buf, sizeof buf, "%ld", cfg->cpu_weight);
      r = write_in (dir, "cpu.weight", buf);
    }
  return r;
}

static int
prepare_v1 (const struct launch_config *cfg, struct launch_cgroups *cg, const char *name)
{
  static const char *const all[] = { "memory", "pids", "cpu" };
  bool want[3] = { cfg->memory != 0, cfg->pids != 0, cfg->cpus > 0 || cfg->cpu_weight };
  for (size_t i = 0; i < 3; i++)
    {
      if (!want[i])
        continue;
      _cleanup_free_ char *base = xasprintf (CG_ROOT "/%s", all[i]);
      int r = add_dir (cg, base, all[i], name, cfg->rootless);
      if (r < 0)
        return r;
    }
  return 0;
}

static int
create_v1 (const struct launch_config *cfg, struct launch_cgroups *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      int r = make_dir (cg->dir[i]);
      if (r == 0)
        r = limits_v1 (cfg, cg->ctrl[i], cg->dir[i]);
      if (r < 0)
        return r;
    }
  return 0;
}

static int
enable_controllers_v2 (const struct launch_config *cfg, const char *dir)
{
  char buf[64] = "";
  if (cfg->memory)
    strcat (buf, "+memory ");
  if (cfg->pids)
    strcat (buf, "+pids ");
  if (cfg->cpus > 0 || cfg->cpu_weight)
    strcat (buf, "+cpu ");
  return write_in (dir, "cgroup.subtree_control", buf);
}

static int
prepare_v2 (const struct launch_config *cfg, struct launch_cgroups *cg, const char *name)
{
  int r = 0;
  if (!cfg->rootless)
    r = enable_controllers_v2 (cfg, CG_ROOT);
  if (r == 0)
    r = add_dir (cg, CG_ROOT, NULL, name, cfg->rootless);
  if (r < 0)
    return r;
  /* The controllers must be enabled in cairn's parent (root-owned, or done by
   * whoever delegated it) for the limit files to exist in the child. */
  r = enable_controllers_v2 (cfg, CG_ROOT "/cairn");
  if (r < 0)
    return launch_fail (-r,
                        "cannot enable the cgroup v2 controllers for the limits "
                        "(not delegated?)",
                        CG_ROOT "/cairn/cgroup.subtree_control");
  return 0;
}

static int
create_v2 (const struct launch_config *cfg, struct launch_cgroups *cg)
{
  int r = make_dir (cg->dir[0]);
  if (r == 0)
    r = limits_v2 (cfg, cg->dir[0]);
  if (r < 0)
    return r;
  cg->procs_fd[0] = open_at_dir (cg->dir[0], "cgroup.procs");
  if (cg->procs_fd[0] < 0)
    return launch_fail (errno, "opening cgroup.procs", cg->dir[0]);
  return 0;
}

int
cgroups_prepare (const struct launch_config *cfg, struct launch_cgroups **out)
{
  struct launch_cgroups *cg = calloc (1, sizeof *cg);
  if (!cg)
    return launch_fail (ENOMEM, "out of memory", NULL);
  *out = cg;
  if (!cfg->memory && !cfg->pids && !(cfg->cpus > 0) && !cfg->cpu_weight)
    return 0;
  int mode = detect_mode ();
  if (mode < 0)
    return mode;
  cg->mode = mode;
  _cleanup_free_ char *name = container_name ();
  return mode == 2 ? prepare_v2 (cfg, cg, name) : prepare_v1 (cfg, cg, name);
}

/* Parent, after clone(), while the child prepares its mounts: create the
 * directories and write the limits (the child waits for 'c' before anything
 * of the container runs, so it never runs unconstrained). */
int
cgroups_create (const struct launch_config *cfg, struct launch_cgroups *cg)
{
  if (!cgroups_active (cg))
    return 0;
  return cg->mode == 2 ? create_v2 (cfg, cg) : create_v1 (cfg, cg);
}

/* v1: the child moves itself by writing "0" to each hierarchy's "tasks".
 * Moving another process (cgroup.procs) takes the global threadgroup rwsem
 * for writing, which waits for an RCU grace period: measured 3-12 ms here,
 * more than the rest of a start.  A single-threaded task moving itself
 * through "tasks" skips that lock (kernel/cgroup/cgroup.c,
 * cgroup_procs_write_start).  v2 has no such path; the parent writes the
 * child's pid into cgroup.procs there. */
bool
cgroups_self_attach (const struct launch_cgroups *cg)
{
  return cg && cg->mode == 1;
}

/* Child side, after 'c' and before pivot_root (the host's cgroup paths are
 * still reachable).  No allocation. */
int
cgroups_enter_self (struct launch_cgroups *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      int fd = open_at_dir (cg->dir[i], "tasks");
      if (fd < 0)
        return launch_fail (errno, "opening the container cgroup's tasks", cg->dir[i]);
      if (write (fd, "0", 1) != 1)
        {
          int e = errno;
          close (fd);
          return launch_fail (e, "entering the container cgroup", cg->dir[i]);
        }
      close (fd);
    }
  return 0;
}

int
cgroups_attach (struct launch_cgroups *cg, pid_t pid)
{
  char buf[24];
  fmt_uint (buf, (unsigned long long)pid);
  for (size_t i = 0; i < cg->n; i++)
    {
      if (write (cg->procs_fd[i], buf, strlen (buf)) < 0)
        return launch_fail (errno, "moving the container into its cgroup", cg->dir[i]);
      close (cg->procs_fd[i]);
      cg->procs_fd[i] = -1;
    }
  return 0;
}

/* SIGKILL every process listed in DIR/cgroup.procs; returns how many. */
static int
kill_procs (const char *dir)
{
  char path[PATH_MAX], buf[4096];
  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  int count = 0;
  for (char *p = buf; *p;)
    {
      long pid = strtol (p, &p, 10);
      if (pid > 0 && kill ((pid_t)pid, SIGKILL) == 0)
        count++;
      while (*p == '\n')
        p++;
    }
  return count;
}

/* Remove the container cgroups, killing leftovers; retries EBUSY for up to
 * ~5 s (a dying task can keep a cgroup busy briefly). No allocation. */
int
cgroups_destroy (struct launch_cgroups *cg)
{
  int r = 0;
  for (size_t i = 0; cg && i < cg->n; i++)
    {
      if (!cg->dir[i])
        continue;
      for (int tries = 0;; tries++)
        {
          if (rmdir (cg->dir[i]) == 0 || errno == ENOENT)
            break;
          if (errno != EBUSY || tries >= 500)
            {
              r = launch_fail (errno, "removing the container cgroup", cg->dir[i]);
              break;
            }
          kill_procs (cg->dir[i]);
          struct timespec ts = { 0, tries < 10 ? 1000000 : 10000000 };
          nanosleep (&ts, NULL);
        }
    }
  return r;
}

void
cgroups_free (struct launch_cgroups *cg)
{
  if (!cg)
    return;
  for (size_t i = 0; i < cg->n; i++)
    {
      if (cg->procs_fd[i] >= 0)
        close (cg->procs_fd[i]);
      free (cg->dir[i]);
    }
  free (cg);
}

bool
cgroups_active (const struct launch_cgroups *cg)
{
  return cg && cg->n > 0;
}

int
cgroups_mode (const struct launch_cgroups *cg)
{
  return cg ? cg->mode : 0;
}

size_t
cgroups_v1_controllers (const struct launch_cgroups *cg, const char **out, size_t max)
{
  size_t n = 0;
  for (size_t i = 0; cg && cg->mode == 1 && i < cg->n && n < max; i++)
    out[n++] = cg->ctrl[i];
  return n;
}

static void __attribute__ ((noreturn)) janitor_main (struct launch_cgroups *cg, int rfd)
{
  setsid ();
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  int keep[1] = { rfd };
  close_fds_except (keep, 1);
  int null = open ("/dev/null", O_RDWR);
  for (int i = 0; null >= 0 && i < 3; i++)
    dup2 (null, i);
  char c = 0;
  ssize_t n;
  do
    n = read (rfd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n == 1 && c == 'd')
    _exit (0);
  /* The monitor died without cleaning up: its container's pid 1 got
   * PDEATHSIG; kill whatever remains and remove the directories. */
  for (size_t i = 0; i < cg->n; i++)
    kill_procs (cg->dir[i]);
  cgroups_destroy (cg);
  _exit (0);
}

/* Fork the janitor before the cgroups are created (it needs only their
 * paths).  *OUT_DONE_FD: write 'd' into it once the monitor has removed the
 * cgroups itself; EOF without 'd' means the monitor died. */
pid_t
cgroups_spawn_janitor (struct launch_cgroups *cg, int *out_done_fd)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return launch_fail (errno, "pipe", NULL);
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      return launch_fail (e, "fork", NULL);
    }
  if (pid == 0)
    {
      close (p[1]);
      janitor_main (cg, p[0]);
    }
  close (p[0]);
  *out_done_fd = p[1];
  return pid;
}
