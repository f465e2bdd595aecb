/* cairn-launch: entry point; prepares everything, clones, monitors.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything the child needs is prepared here, before clone(): options,
 * rootfs and bind-source fds, trusted host fds (/dev/null, device nodes),
 * the environment, the seccomp BPF (from the cache), the cgroups with their
 * limits.  The child then allocates nothing (see child.c).
 *
 * The launcher is non-dumpable from its first instruction when run as root.
 * Rootless, the parent must write /proc/<child>/{uid,gid}_map, which the
 * kernel allows only while the processes are dumpable; both become
 * non-dumpable right after the maps are written, before the child does any
 * setup (no container process exists until then).
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/magic.h>

#include "runtime/launch.h"
#include "runtime/oci.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int
report (int r)
{
  const char *ctx = launch_errctx ();
  fprintf (stderr, "cairn-launch: %s%s%s%s: %s\n", launch_errmsg (), ctx ? " (" : "",
           ctx ? ctx : "", ctx ? ")" : "", strerror (-r));
  return EXIT_LAUNCH_ERROR;
}

static void
env_set (char ***envp, size_t *n, char *kv)
{
  size_t klen = (size_t)(strchr (kv, '=') - kv) + 1;
  for (size_t i = 0; i < *n; i++)
    if (strncmp ((*envp)[i], kv, klen) == 0)
      {
        (*envp)[i] = kv;
        return;
      }
  *envp = xrealloc (*envp, (*n + 2) * sizeof (char *));
  (*envp)[(*n)++] = kv;
  (*envp)[*n] = NULL;
}

static void
build_env (struct launch_plan *plan)
{
  const struct launch_config *cfg = plan->cfg;
  char **envp = xrealloc (NULL, sizeof (char *));
  size_t n = 0;
  envp[0] = NULL;
  for (char **e = environ; !cfg->clear_env && e && *e; e++)
    if (strchr (*e, '='))
      env_set (&envp, &n, *e);
  for (size_t i = 0; i < cfg->n_env_add; i++)
    env_set (&envp, &n, cfg->env_add[i]);
  plan->envp = envp;
  plan->path_env = DEFAULT_PATH;
  for (size_t i = 0; i < n; i++)
    if (strncmp (envp[i], "PATH=", 5) == 0)
      plan->path_env = envp[i] + 5;
}

static bool
looks_like_init (const char *cmd)
{
  static const char *const inits[]
      = { "init",  "systemd",    "tini",        "dumb-init",   "catatonit", "s6-svscan",
          "runit", "runit-init", "openrc-init", "docker-init", "sinit" };
  const char *b = strrchr (cmd, '/');
  b = b ? b + 1 : cmd;
  for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++)
    if (strcmp (b, inits[i]) == 0)
      return true;
  return false;
}

static bool
is_ancestor (const char *dir, const char *path)
{
  size_t n = strlen (dir);
  return path && strncmp (dir, path, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Where the overlay's tmpfs is mounted (in our private mount namespace only):
 * the first candidate that hides neither the rootfs nor a bind source. */
static int
pick_staging (struct launch_plan *plan)
{
  static const char *const cands[] = { "/tmp", "/run", "/mnt", "/var/tmp", "/media" };
  const struct launch_config *cfg = plan->cfg;
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
    {
      struct stat st;
      bool ok = stat (cands[i], &st) == 0 && S_ISDIR (st.st_mode)
                && !is_ancestor (cands[i], cfg->rootfs)
                && !is_ancestor (cands[i], cfg->overlay_upper);
      for (size_t b = 0; ok && b < cfg->n_binds; b++)
        ok = !is_ancestor (cands[i], cfg->binds[b].src);
      if (ok)
        {
          plan->staging = cands[i];
          return 0;
        }
    }
  return launch_fail (ENOENT, "no directory available to stage the overlay", NULL);
}

static int
prepare_overlay (struct launch_plan *plan)
{
  const struct launch_config *cfg = plan->cfg;
  if (strpbrk (cfg->rootfs, ",:\\"))
    return launch_fail (EINVAL, "--writable: the rootfs path may not contain , : or \\",
                        cfg->rootfs);
  int r = pick_staging (plan);
  if (r < 0)
    return r;
  if (cfg->overlay_upper)
    {
      if (strpbrk (cfg->overlay_upper, ",:\\"))
        return launch_fail (EINVAL, "--overlay-upper may not contain , : or \\",
                            cfg->overlay_upper);
      plan->ovl_upper = xasprintf ("%s/upper", cfg->overlay_upper);
      plan->ovl_work = xasprintf ("%s/work", cfg->overlay_upper);
      if ((r = mkdir_p (plan->ovl_upper, 0755)) < 0 || (r = mkdir_p (plan->ovl_work, 0700)) < 0)
        return r;
    }
  else
    {
      plan->ovl_upper = xasprintf ("%s/upper", plan->staging);
      plan->ovl_work = xasprintf ("%s/work", plan->staging);
    }
  plan->ovl_root = xasprintf ("%s/root", plan->staging);
  plan->overlay_opts
      = xasprintf ("lowerdir=%s,upperdir=%s,workdir=%s%s", cfg->rootfs, plan->ovl_upper,
                   plan->ovl_work, plan->userns ? ",userxattr" : "");
  return 0;
}

static int
resolve_paths (struct launch_config *cfg)
{
  char *r = realpath (cfg->rootfs, NULL);
  struct stat st;
  if (!r || stat (r, &st) < 0 || !S_ISDIR (st.st_mode))
    return launch_fail (r ? ENOTDIR : errno, "ROOTFS is not a directory", cfg->rootfs);
  cfg->rootfs = r;
  if (cfg->overlay_upper)
    {
      if (mkdir_p (cfg->overlay_upper, 0755) < 0 || !(r = realpath (cfg->overlay_upper, NULL)))
        return launch_fail (errno, "--overlay-upper: cannot use the directory", cfg->overlay_upper);
      cfg->overlay_upper = r;
    }
  for (size_t i = 0; i < cfg->n_binds; i++)
    {
      struct launch_bind *b = &cfg->binds[i];
      if (!(r = realpath (b->src, NULL)))
        return launch_fail (errno, "bind source not found", b->src);
      b->src = r;
    }
  return 0;
}

static int
prepare (struct launch_config *cfg, struct launch_plan *plan)
{
  memset (plan, 0, sizeof *plan);
  plan->cfg = cfg;
  plan->janitor_fd = -1;
  plan->userns = cfg->rootless;
  plan->setgroups_ok = !plan->userns;
  plan->last_cap = caps_last_cap ();
  cfg->caps &= caps_available (plan->userns, plan->last_cap);
  plan->use_init = cfg->init == INIT_AUTO ? !looks_like_init (cfg->argv[0]) : cfg->init == INIT_YES;
  struct statfs sf;
  plan->cg_host_mode
      = statfs ("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC ? 2 : 1;
  int r = resolve_paths (cfg);
  if (r == 0 && cfg->writable)
    r = prepare_overlay (plan);
  if (r < 0)
    return r;
  build_env (plan);
  if ((r = seccomp_prepare (cfg, &plan->bpf)) < 0)
    return r;
  return cgroups_prepare (cfg, &plan->cg);
}

static int
write_proc_file (pid_t pid, const char *name, const char *content)
{
  char dir[64];
  snprintf (dir, sizeof dir, "/proc/%ld", (long)pid);
  _cleanup_close_ int dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return launch_fail (errno, "opening /proc of the child", NULL);
  return write_file_at (dfd, name, content);
}

/* A single mapping: the caller's uid/gid become UID/GID (default 0) inside. */
static int
write_id_maps (const struct launch_config *cfg, pid_t pid)
{
  char buf[64];
  snprintf (buf, sizeof buf, "%lu %lu 1\n", (unsigned long)(cfg->user_set ? cfg->uid : 0),
            (unsigned long)geteuid ());
  int r = write_proc_file (pid, "uid_map", buf);
  if (r == 0)
    r = write_proc_file (pid, "setgroups", "deny");
  snprintf (buf, sizeof buf, "%lu %lu 1\n", (unsigned long)(cfg->user_set ? cfg->gid : 0),
            (unsigned long)getegid ());
  if (r == 0)
    r = write_proc_file (pid, "gid_map", buf);
  return r;
}

/* The network namespace is not among them: the child unshares it after
 * 'g', in parallel with the parent's cgroup work (creating one costs about
 * as much as all the cgroups). */
static int
clone_flags (const struct launch_plan *plan)
{
  int f = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  if (plan->userns)
    f |= CLONE_NEWUSER;
  /* With cgroups the child unshares its cgroupns once it has been moved into
   * them, so that the namespace is rooted at the container's cgroup. */
  if (!cgroups_active (plan->cg))
    f |= CLONE_NEWCGROUP;
  return f;
}

/* Parent after clone: id maps, 'g'; then, while the child unshares its
 * network namespace and prepares its mounts: the cgroups and their limits, on v2 the move of the
 * child into them (on v1 it moves itself after 'c'); then 'c'. */
/* EPIPE means the child already failed: the monitor reads its message. */
static int
send_go (int sync_fd, const char *what)
{
  if (send (sync_fd, what, 1, MSG_NOSIGNAL) != 1 && errno != EPIPE)
    return launch_fail (errno, "waking the container", NULL);
  return 0;
}

static int
release_child (struct launch_plan *plan, pid_t child, int sync_fd)
{
  int r = 0;
  if (plan->userns)
    r = write_id_maps (plan->cfg, child);
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (r == 0)
    r = send_go (sync_fd, "g");
  if (r == 0)
    r = cgroups_create (plan->cfg, plan->cg);
  if (r == 0 && cgroups_active (plan->cg) && !cgroups_self_attach (plan->cg))
    r = cgroups_attach (plan->cg, child);
  if (r == 0)
    r = send_go (sync_fd, "c");
  return r;
}

static void
block_signals (void)
{
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigaddset (&set, SIGWINCH);
  for (size_t i = 0; i < launch_n_forward_signals; i++)
    sigaddset (&set, launch_forward_signals[i]);
  sigprocmask (SIG_BLOCK, &set, NULL);
}

static int
run (struct launch_plan *plan)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return report (launch_fail (errno, "socketpair", NULL));
  plan->sync_fd = sv[1];
  block_signals ();
  pid_t child = (pid_t)syscall (SYS_clone, clone_flags (plan) | SIGCHLD, 0, 0, 0, 0);
  if (child < 0)
    return report (launch_fail (errno, "clone (are user namespaces allowed?)", NULL));
  if (child == 0)
    {
      close (sv[0]);
      child_main (plan);
    }
  close (sv[1]);
  int r = release_child (plan, child, sv[0]);
  if (r < 0)
    {
      kill (child, SIGKILL);
      waitpid (child, NULL, 0);
      return report (r);
    }
  int code = monitor_run (plan, child, sv[0]);
  close (sv[0]);
  return code;
}

/* --print-seccomp-bpf: the filter exactly as the container would get it
 * (ENOSYS check included), for tests/seccomp-sim.py and for inspection. */
static int
print_bpf (const struct launch_config *cfg)
{
  struct launch_bpf bpf;
  int r = seccomp_prepare (cfg, &bpf);
  if (r < 0)
    return report (r);
  if (bpf.len == 0)
    return report (
        launch_fail (EINVAL, "there is no filter to print with --seccomp=unconfined", NULL));
  size_t n = bpf.len * sizeof bpf.insns[0];
  int ok = fwrite (bpf.insns, 1, n, stdout) == n && fflush (stdout) == 0;
  free (bpf.insns);
  return ok ? 0 : EXIT_LAUNCH_ERROR;
}

/* The strings of @v, which exec lays out one after the other. */
static void
note_strings (char **v, int k)
{
  char *start = v && v[0] ? v[0] : NULL, *end = start;
  for (char **x = v; x && *x; x++)
    if (*x >= start && *x + strlen (*x) + 1 > end)
      end = *x + strlen (*x) + 1;
  launch_exec_strings[k] = start;
  launch_exec_strings_len[k] = start ? (size_t)(end - start) : 0;
}

void
launch_note_exec_strings (char **argv)
{
  extern char **environ;
  note_strings (argv, 0);
  note_strings (environ, 1);
}

int
launch_main (int argc, char **argv)
{
  struct launch_config cfg;
  struct launch_plan plan;
  if (geteuid () == 0)
    prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (argc > 1 && strcmp (argv[1], "--print-oci-config") == 0)
    return oci_print_config (argc - 1, argv + 1);
  if (argc > 1 && strcmp (argv[1], "--oci-run") == 0)
    return oci_client_run (argc - 1, argv + 1);
  if (argc > 1 && strcmp (argv[1], "--pasta-hook") == 0)
    return oci_pasta_hook (argc - 2, argv + 2);
  if (argc > 2 && strcmp (argv[1], "--container-init") == 0)
    init_container_main (argv + 2);
  /* runc's command line (oci-main.c); -1: the launcher's own form */
  int r = oci_main (argc, argv);
  if (r >= 0)
    return r;
  r = launch_parse_options (argc, argv, &cfg);
  if (r != 0)
    return r > 0 ? 0 : EXIT_LAUNCH_ERROR;
  if (cfg.print_profile)
    {
      r = seccomp_print_profile (&cfg, stdout);
      return r < 0 ? report (r) : (fflush (stdout) == 0 ? 0 : EXIT_LAUNCH_ERROR);
    }
  if (cfg.print_bpf)
    return print_bpf (&cfg);
  if (cfg.net_pasta || cfg.net_ns_path || cfg.n_annotations || cfg.n_pasta_args || cfg.overlay_ro)
    return report (
        launch_fail (EINVAL,
                     "--net=pasta, --net=ns:, --pasta-arg, --annotation and --overlay-ro "
                     "exist only under the OCI path (--oci-run, --print-oci-config)",
                     NULL));
  fflush (NULL);
  r = prepare (&cfg, &plan);
  /* The janitor is forked before clone(): a fork while the child sets up
   * its namespaces was measured at up to 2 ms. */
  if (r == 0 && cgroups_active (plan.cg))
    {
      pid_t j = cgroups_spawn_janitor (plan.cg, &plan.janitor_fd);
      r = j < 0 ? (int)j : 0;
    }
  int code = r < 0 ? report (r) : run (&plan);
  if (cgroups_destroy (plan.cg) < 0)
    {
      report (-EBUSY);
      code = code ? code : EXIT_LAUNCH_ERROR;
    }
  if (plan.janitor_fd >= 0)
    (void)!write (plan.janitor_fd, "d", 1);
  return code;
}
