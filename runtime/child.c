/* cairn-launch: the container child, from clone() to execve().
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs in the new namespaces.  No allocation, no stdio: everything was
 * prepared by the parent (struct launch_plan).  Failures are sent to the
 * monitor over the sync socket as errno + message and the child exits 125
 * (setup), 126 (the command cannot be executed) or 127 (not found).
 *
 * Order, for the command process:
 *   setsid (CVE-2017-5226), controlling pty (--tty), every fd > 2 closed but
 *   the CLOEXEC sync socket (CVE-2024-21626), bounding set / ids / caps /
 *   ambient / no_new_privs, chdir to the workdir and check that it is inside
 *   the root, signal dispositions reset, seccomp (raw syscall), execve.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "runtime/launch.h"

static size_t
cat (char *dst, size_t off, size_t cap, const char *s)
{
  while (s && *s && off + 1 < cap)
    dst[off++] = *s++;
  dst[off] = '\0';
  return off;
}

void
child_report (int sync_fd, int err, int exit_code, const char *msg, const char *ctx)
{
  struct launch_msg m;
  memset (&m, 0, sizeof m);
  m.kind = MSG_ERROR;
  m.err = err;
  m.exit_code = exit_code;
  size_t n = cat (m.text, 0, sizeof m.text, msg);
  if (ctx)
    {
      n = cat (m.text, n, sizeof m.text, " (");
      n = cat (m.text, n, sizeof m.text, ctx);
      cat (m.text, n, sizeof m.text, ")");
    }
  (void)!send (sync_fd, &m, sizeof m, MSG_NOSIGNAL);
}

void
child_send_fd (int sync_fd, int fd)
{
  struct launch_msg m;
  memset (&m, 0, sizeof m);
  m.kind = MSG_PTY;
  (void)!send_with_fd (sync_fd, &m, sizeof m, fd);
}

static void __attribute__ ((noreturn)) die (struct launch_plan *plan, int r, int code)
{
  child_report (plan->sync_fd, -r, code, launch_errmsg (), launch_errctx ());
  _exit (code);
}

/* CVE-2024-21626: the cwd must be inside the container root: a directory
 * fd leaked from outside would make getcwd(3) answer "(unreachable)...".
 * E_CHDIR and E_OUTSIDE are the two messages (static strings), so that
 * both command lines name the setting as their user knows it. */
int
child_enter_cwd (const char *dir, const char *e_chdir, const char *e_outside)
{
  char buf[PATH_MAX];
  if (chdir (dir) < 0)
    return launch_fail (errno, e_chdir, dir);
  if (!getcwd (buf, sizeof buf) || buf[0] != '/')
    return launch_fail (EXDEV, e_outside, dir);
  return 0;
}

static void
reset_signals (void)
{
  sigset_t all;
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      sigaction (s, &sa, NULL);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
}

static int
exec_path (char *const argv[], char *const envp[], const char *path_env)
{
  if (strchr (argv[0], '/'))
    {
      execve (argv[0], argv, envp);
      return -errno;
    }
  char buf[PATH_MAX];
  int best = -ENOENT;
  size_t nlen = strlen (argv[0]);
  for (const char *p = path_env; p && *p;)
    {
      size_t len = strcspn (p, ":");
      if (len + 1 + nlen + 1 <= sizeof buf)
        {
          memcpy (buf, len ? p : ".", len ? len : 1);
          size_t off = len ? len : 1;
          buf[off++] = '/';
          memcpy (buf + off, argv[0], nlen + 1);
          execve (buf, argv, envp);
          if (errno != ENOENT && errno != ENOTDIR)
            best = -errno; /* found but not executable: remember (126) */
        }
      p += len;
      if (*p == ':')
        p++;
    }
  return best;
}

void
child_exec_command (struct launch_plan *plan, int pty_slave)
{
  const struct launch_config *cfg = plan->cfg;
  int r;
  if (setsid () < 0)
    die (plan, launch_fail (errno, "setsid", NULL), EXIT_LAUNCH_ERROR);
  if (pty_slave >= 0)
    {
      if (ioctl (pty_slave, TIOCSCTTY, 0) < 0)
        die (plan, launch_fail (errno, "setting the controlling terminal", NULL),
             EXIT_LAUNCH_ERROR);
      for (int i = 0; i < 3; i++)
        dup2 (pty_slave, i);
    }
  int keep[1] = { plan->sync_fd };
  if (close_fds_except (keep, 1) < 0)
    die (plan, launch_fail (errno, "closing inherited fds", NULL), EXIT_LAUNCH_ERROR);
  r = caps_apply (cfg->caps, cfg->user_set, cfg->uid, cfg->gid, plan->setgroups_ok, plan->last_cap);
  if (r == 0)
    r = child_enter_cwd (cfg->workdir, "cannot change to the working directory",
                         "the working directory is outside the container");
  if (r < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  umask (022);
  reset_signals ();
  /* Last step before exec: nothing after this may need a filtered syscall. */
  if ((r = seccomp_apply_raw (&plan->bpf)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  r = exec_path (cfg->argv, plan->envp, plan->path_env);
  launch_fail (-r,
               r == -ENOENT || r == -ENOTDIR ? "command not found" : "cannot execute the command",
               cfg->argv[0]);
  die (plan, r, r == -ENOENT || r == -ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

static void
wait_for_parent (struct launch_plan *plan, char want)
{
  char c = 0;
  if (read (plan->sync_fd, &c, 1) != 1 || c != want)
    _exit (EXIT_LAUNCH_ERROR); /* the parent died or gave up (and reports) */
}

void
child_main (struct launch_plan *plan)
{
  int master = -1, slave = -1, root_fd = -1, r;
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* 'g': the id maps are written.  The parent now creates the cgroups
   * while we make our network namespace and prepare the mounts; 'c' says
   * they exist (v2: with us inside; v1: we move ourselves in at once).
   * Nothing of the container runs before 'c'. */
  wait_for_parent (plan, 'g');
  if (plan->userns)
    prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (!plan->cfg->net_host && unshare (CLONE_NEWNET) < 0)
    die (plan, launch_fail (errno, "unsharing the network namespace", NULL), EXIT_LAUNCH_ERROR);
  umask (0);
  if ((r = child_setup_mounts (plan, &root_fd, &master, &slave)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (!plan->cfg->net_host && (r = child_net_lo_up ()) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (plan->cfg->hostname && sethostname (plan->cfg->hostname, strlen (plan->cfg->hostname)) < 0)
    die (plan, launch_fail (errno, "sethostname", NULL), EXIT_LAUNCH_ERROR);
  wait_for_parent (plan, 'c');
  if (cgroups_self_attach (plan->cg) && (r = cgroups_enter_self (plan->cg)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (cgroups_active (plan->cg) && unshare (CLONE_NEWCGROUP) < 0)
    die (plan, launch_fail (errno, "unsharing the cgroup namespace", NULL), EXIT_LAUNCH_ERROR);
  if ((r = child_finish_mounts (plan, root_fd)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  close (root_fd);
  if (master >= 0)
    {
      child_send_fd (plan->sync_fd, master);
      close (master);
    }
  if (plan->use_init)
    init_run_reaper (plan, slave);
  child_exec_command (plan, slave);
}
