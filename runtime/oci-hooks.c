/* cairn-launch: running OCI hooks, by the runtime itself (prestart,
 * createRuntime, poststart, poststop) and by the container's init
 * (createContainer and startContainer, inside the container: oci-child.c).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each hook gets the container's state JSON on stdin, its own args and env
 * (never the runtime's environment), and is killed when its timeout passes.
 * The caller decides what a failure means (the runtime spec: an error for
 * prestart, createRuntime, createContainer and startContainer; a warning for
 * poststart and poststop).
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

static int
wait_hook (pid_t pid, int timeout, const char *path)
{
  int st = 0;
  struct timespec start, now;
  clock_gettime (CLOCK_MONOTONIC, &start);
  for (;;)
    {
      pid_t w = waitpid (pid, &st, timeout ? WNOHANG : 0);
      if (w == pid)
        break;
      if (w < 0 && errno != EINTR)
        return launch_fail (errno, "waiting for a hook", path);
      clock_gettime (CLOCK_MONOTONIC, &now);
      if (timeout && now.tv_sec - start.tv_sec >= timeout)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return launch_failf (ETIMEDOUT, "hook %s timed out after %d s", path, timeout);
        }
      if (timeout)
        poll (NULL, 0, 2);
    }
  if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return 0;
  if (WIFEXITED (st))
    return launch_failf (ECANCELED, "hook %s failed with exit status %d", path, WEXITSTATUS (st));
  return launch_failf (ECANCELED, "hook %s was killed by signal %d", path,
                       WIFSIGNALED (st) ? WTERMSIG (st) : 0);
}

int
oci_hook_run (const struct oci_hook *h, const char *state, bool raw_clone)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return launch_fail (errno, "pipe for a hook", h->path);
  pid_t pid = raw_clone ? (pid_t)syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0) : fork ();
  if (pid < 0)
    return launch_fail (errno, "fork of a hook", h->path);
  if (pid == 0)
    {
      /* a hook starts with no signal blocked, whatever the runtime holds
       * back for itself (a pasta must die of the TERM that stops it) */
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      dup2 (p[0], 0);
      /* and with stdin, stdout and stderr only, as runc's and crun's hooks:
       * what the runtime's caller left open (cairn run's lock on its
       * checkout, checkout/cache.c) must not live on in a hook that stays,
       * as pasta does (pasta.c) */
      close_fds_except (NULL, 0);
      execve (h->path, h->args, h->env);
      _exit (127);
    }
  close (p[0]);
  signal (SIGPIPE, SIG_IGN);
  size_t len = strlen (state);
  (void)!write (p[1], state, len);
  close (p[1]);
  return wait_hook (pid, h->timeout, h->path);
}

int
oci_hooks_run (const struct oci_spec *s, enum oci_hook_kind kind, const char *state_json)
{
  for (size_t i = 0; i < s->n_hooks[kind]; i++)
    {
      int r = oci_hook_run (&s->hooks[kind][i], state_json, false);
      if (r < 0)
        return r;
    }
  return 0;
}

/* poststart and poststop: a failure is a warning and the remaining hooks
 * still run, "as if the hook had succeeded" (runtime-spec runtime.md,
 * "Lifecycle", steps 9 and 12). */
void
oci_hooks_run_warn (const struct oci_spec *s, enum oci_hook_kind kind, const char *state_json,
                    const char *what)
{
  for (size_t i = 0; i < s->n_hooks[kind]; i++)
    if (oci_hook_run (&s->hooks[kind][i], state_json, false) < 0)
      oci_log_warn ("%s: %s", what, launch_errmsg ());
}
