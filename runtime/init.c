/* cairn-launch: the minimal init (pid 1 of the container).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With --init (the default unless the command looks like an init itself) pid 1
 * is this reaper: it forks the command, keeps no capability beyond the
 * command's, closes every fd (stdio becomes /dev/null), confines itself with
 * a seccomp allow-list of the 8 syscalls its loop needs (reaper_filter; the
 * OCI form's init before it handles its first event: reap_until),
 * forwards the signals the monitor forwards to it, reaps
 * every orphan that the kernel reparents to it, and exits with the command's
 * status (128+N when the command was killed by signal N).  When pid 1 exits
 * the kernel kills whatever is left in the pid namespace.
 *
 * CVE-2019-5736: the reaper is the only process in the container whose
 * /proc/<pid>/exe is the launcher binary.  It stays non-dumpable (set before
 * clone and never reset, since it never execs) and its mm belongs to the
 * host's user namespace, so a container process without CAP_SYS_PTRACE there
 * cannot open /proc/1/exe, /proc/1/mem or /proc/1/fd at all.  The binary is
 * also busy (ETXTBSY) for as long as any process of the container can exist:
 * the monitor outlives pid 1, whose death kills the namespace.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/launch.h"

const int launch_forward_signals[]
    = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM };
const size_t launch_n_forward_signals
    = sizeof launch_forward_signals / sizeof launch_forward_signals[0];

static void
noop_handler (int sig)
{
  (void)sig;
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_I386
#endif

#define ALLOW_NR(nr)                                                                               \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* In the ASan build only (tests/run-sanitizers.sh), sigaltstack: its
 * runtime asks for the alternate signal stack before each call that does
 * not return (_exit), which would otherwise kill the reaper with SIGSYS.
 * Elsewhere the entry repeats close. */
#if defined(__SANITIZE_ADDRESS__)
#define NR_FOR_ASAN __NR_sigaltstack
#else
#define NR_FOR_ASAN __NR_close
#endif

/* The reaper's own filter: an allow-list of exactly what its loop calls;
 * anything else, another architecture or an x32 number kills it.  Stricter
 * than the container's policy and some 20 instructions instead of hundreds to
 * check and JIT. */
static int
reaper_filter (void)
{
#ifdef NATIVE_AUDIT_ARCH
  struct sock_filter f[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    ALLOW_NR (__NR_rt_sigtimedwait),
    ALLOW_NR (__NR_wait4),
    ALLOW_NR (__NR_kill),
    ALLOW_NR (__NR_exit_group),
    ALLOW_NR (__NR_exit),
    ALLOW_NR (__NR_rt_sigreturn),
    ALLOW_NR (__NR_restart_syscall),
    ALLOW_NR (__NR_close),
    ALLOW_NR (NR_FOR_ASAN),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return launch_fail (errno, "loading the init's seccomp filter", NULL);
#endif
  return 0;
}

static int
wait_status_code (int st)
{
  if (WIFEXITED (st))
    return WEXITSTATUS (st);
  if (WIFSIGNALED (st))
    return 128 + WTERMSIG (st);
  return 255;
}

static void
reaper_detach_stdio (void)
{
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; null >= 0 && i < 3; i++)
    dup2 (null, i);
  if (null > 2)
    close (null);
}

/* pid 1's loop: forward every signal but SIGCHLD to @cmd, reap every child,
 * and exit with @cmd's status when it ends.  CONFINED false: reaper_filter
 * is loaded before the first event is handled, unless that event is the
 * command's end (its status read, then exit): until then this process runs
 * no code but the wait, and the command, forked on this CPU, starts without
 * waiting for the filter's load (~0.2 ms on a VM). */
static void __attribute__ ((noreturn)) reap_until (pid_t cmd, const sigset_t *set, bool confined)
{
  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo (set, &si);
      if (sig < 0)
        continue;
      if (!confined)
        {
          int st;
          if (sig == SIGCHLD && waitpid (cmd, &st, WNOHANG) == cmd
              && (WIFEXITED (st) || WIFSIGNALED (st)))
            _exit (wait_status_code (st));
          if (reaper_filter () < 0)
            {
              kill (cmd, SIGKILL);
              _exit (EXIT_LAUNCH_ERROR);
            }
          confined = true;
        }
      if (sig != SIGCHLD)
        {
          kill (cmd, sig);
          continue;
        }
      int st;
      pid_t p;
      while ((p = waitpid (-1, &st, WNOHANG)) > 0)
        if (p == cmd && (WIFEXITED (st) || WIFSIGNALED (st)))
          _exit (wait_status_code (st));
    }
}

/* Signals stay blocked and are taken with sigwaitinfo(); the handlers only
 * make sure nothing is discarded as "default action for an init". */
static void
reaper_signals (sigset_t *set)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = noop_handler;
  sigemptyset (set);
  sigaddset (set, SIGCHLD);
  sigaction (SIGCHLD, &sa, NULL);
  for (size_t i = 0; i < launch_n_forward_signals; i++)
    {
      sigaddset (set, launch_forward_signals[i]);
      sigaction (launch_forward_signals[i], &sa, NULL);
    }
  sigprocmask (SIG_BLOCK, set, NULL);
}

void
init_run_reaper (struct launch_plan *plan, int pty_slave)
{
  sigset_t set;
  reaper_signals (&set);
  if (setsid () < 0)
    _exit (EXIT_LAUNCH_ERROR);
  pid_t cmd = (pid_t)syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (cmd == 0)
    child_exec_command (plan, pty_slave);
  if (cmd < 0)
    {
      child_report (plan->sync_fd, errno, EXIT_LAUNCH_ERROR, "fork of the command failed", NULL);
      _exit (EXIT_LAUNCH_ERROR);
    }
  int keep[1] = { plan->sync_fd };
  close_fds_except (keep, 1);
  reaper_detach_stdio ();
  /* The reaper keeps the command's capability set (not more): PTRACE_TRACEME
   * by the command requires its caps to be a subset of its parent's. */
  int r = caps_apply (plan->cfg->caps, false, 0, 0, false, plan->last_cap);
  if (r == 0)
    r = reaper_filter ();
  if (r < 0)
    {
      kill (cmd, SIGKILL);
      child_report (plan->sync_fd, -r, EXIT_LAUNCH_ERROR, launch_errmsg (), launch_errctx ());
      _exit (EXIT_LAUNCH_ERROR);
    }
  close (plan->sync_fd);
  reap_until (cmd, &set, true);
}

/* --container-init CMD [ARG...]: pid 1 of an OCI container started with
 * --init (oci-print.c binds this binary read-only at /dev/init).  The same
 * loop as the reaper above, for a process that the runtime has already
 * confined (identity, capabilities, seccomp, no_new_privs): it only forks
 * the command, forwards signals, reaps orphans and exits with the command's
 * status.  Non-dumpable first, so that no container process can open
 * /proc/1/mem or /proc/1/exe for writing (CVE-2019-5736); the binary itself
 * is a read-only bind, busy while this runs. */
void
init_container_main (char **argv)
{
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  sigset_t set;
  reaper_signals (&set);
  /* vfork: the command borrows this process's memory until its exec, so
   * that nothing of it is copied (the page tables of the runtime's heap
   * that this process still holds) nor faulted in again page by page
   * between the fork and the exec. Until the exec the child writes only
   * its stack, its own signal state (its dispositions are its own copy:
   * no CLONE_SIGHAND) and errno; execvp searches PATH on the stack. A
   * policy that forbids vfork but allows fork gets the fork. */
  pid_t cmd = vfork ();
  if (cmd < 0 && (errno == EPERM || errno == ENOSYS))
    cmd = fork ();
  if (cmd == 0)
    {
      sigset_t none;
      sigemptyset (&none);
      signal (SIGCHLD, SIG_DFL);
      for (size_t i = 0; i < launch_n_forward_signals; i++)
        signal (launch_forward_signals[i], SIG_DFL);
      sigprocmask (SIG_SETMASK, &none, NULL);
      /* its own process group, in the foreground of the terminal if there
       * is one, so that it gets the terminal's signals and may read it */
      setpgid (0, 0);
      signal (SIGTTOU, SIG_IGN);
      if (isatty (STDIN_FILENO))
        (void)!tcsetpgrp (STDIN_FILENO, getpid ());
      signal (SIGTTOU, SIG_DFL);
      execvp (argv[0], argv);
      int e = errno;
      /* dprintf: its stream is on this stack, not the parent's stderr;
       * strerrordesc_np never allocates */
      const char *why = strerrordesc_np (e);
      dprintf (STDERR_FILENO, "cairn-launch: init: cannot execute %s: %s\n", argv[0],
               why ? why : "unknown error");
      _exit (e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
    }
  if (cmd < 0)
    {
      fprintf (stderr, "cairn-launch: init: fork: %s\n", strerror (errno));
      _exit (EXIT_LAUNCH_ERROR);
    }
  close_fds_except (NULL, 0);
  reaper_detach_stdio ();
  reap_until (cmd, &set, false);
}
