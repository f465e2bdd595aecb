/* cairn-launch: the monitor (the launcher process, outside the container).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It reads the sync socket until EOF (the command was exec'd) or an error
 * message, then waits for the container's pid 1 while forwarding SIGTERM,
 * SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT and SIGALRM to it, and,
 * with --tty, relays bytes between its own stdio and the pty master (window
 * size changes are copied to the pty).  Returns the exit status to use.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>

#include "runtime/launch.h"

struct relay
{
  int master;
  bool in_open;
  bool raw;
  struct termios saved;
};

static int
status_code (int st)
{
  if (WIFEXITED (st))
    return WEXITSTATUS (st);
  if (WIFSIGNALED (st))
    return 128 + WTERMSIG (st);
  return 255;
}

int
launch_recv_msg (int fd, struct launch_msg *m, int *out_fd)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { m, sizeof *m };
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  /* ECONNRESET: the child exited with our 'c' still unread; its error
   * message is still queued behind that error, so read on. */
  do
    n = recvmsg (fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && (errno == EINTR || errno == ECONNRESET));
  if (n <= 0)
    return 0;
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy (out_fd, CMSG_DATA (c), sizeof (int));
  return (size_t)n == sizeof *m ? 1 : -1;
}

/* Phase 1: until the command is exec'd.  Returns 0, or the launcher's exit
 * code after reporting the child's error. */
static int
await_exec (pid_t child, int sync_fd, int *out_master)
{
  struct launch_msg m;
  int fd = -1;
  while (launch_recv_msg (sync_fd, &m, &fd) > 0)
    {
      if (m.kind == MSG_PTY && fd >= 0)
        *out_master = steal_fd (&fd);
      if (m.kind != MSG_ERROR)
        continue;
      m.text[sizeof m.text - 1] = '\0';
      fprintf (stderr, "cairn-launch: %s: %s\n", m.text, strerror (m.err));
      kill (child, SIGKILL);
      while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
        ;
      return m.exit_code ? m.exit_code : EXIT_LAUNCH_ERROR;
    }
  return 0;
}

static void
copy_winsize (int master)
{
  struct winsize ws;
  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
}

static void
relay_start (struct relay *r)
{
  r->in_open = true;
  if (r->master < 0 || !isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &r->saved) < 0)
    return;
  struct termios t = r->saved;
  cfmakeraw (&t);
  r->raw = tcsetattr (STDIN_FILENO, TCSANOW, &t) == 0;
  copy_winsize (r->master);
}

static void
relay_stop (struct relay *r)
{
  if (r->raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &r->saved);
  if (r->master >= 0)
    close (r->master);
}

static bool
pump (int from, int to)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);
  if (n <= 0)
    return n < 0 && (errno == EINTR || errno == EAGAIN);
  for (ssize_t off = 0; off < n;)
    {
      ssize_t w = write (to, buf + off, (size_t)(n - off));
      if (w < 0 && errno != EINTR)
        return true; /* the reader went away: drop the output, keep going */
      off += w > 0 ? w : 0;
    }
  return true;
}

static void
drain (struct relay *r)
{
  if (r->master < 0)
    return;
  fcntl (r->master, F_SETFL, O_NONBLOCK);
  while (pump (r->master, STDOUT_FILENO))
    {
      struct pollfd p = { r->master, POLLIN, 0 };
      if (poll (&p, 1, 0) <= 0)
        break;
    }
}

/* Returns true when the child has exited (*out_code set). */
static bool
on_signal (int sfd, pid_t child, struct relay *r, int *out_code)
{
  struct signalfd_siginfo si;
  if (read (sfd, &si, sizeof si) != sizeof si)
    return false;
  int sig = (int)si.ssi_signo;
  if (sig == SIGWINCH)
    {
      if (r->master >= 0)
        copy_winsize (r->master);
      return false;
    }
  if (sig != SIGCHLD)
    {
      kill (child, sig);
      return false;
    }
  int st;
  /* ptrace stops (the command may PTRACE_TRACEME) are not an exit */
  if (waitpid (child, &st, WNOHANG) != child || !(WIFEXITED (st) || WIFSIGNALED (st)))
    return false;
  *out_code = status_code (st);
  return true;
}

static int
wait_loop (pid_t child, int sfd, struct relay *r)
{
  int code = 0;
  for (;;)
    {
      struct pollfd p[3] = { { sfd, POLLIN, 0 },
                             { r->in_open && r->master >= 0 ? STDIN_FILENO : -1, POLLIN, 0 },
                             { r->master, POLLIN, 0 } };
      if (poll (p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[0].revents && on_signal (sfd, child, r, &code))
        break;
      if (p[1].revents && !pump (STDIN_FILENO, r->master))
        r->in_open = false;
      if (p[2].revents && !pump (r->master, STDOUT_FILENO))
        {
          close (r->master);
          r->master = -1;
        }
    }
  drain (r);
  return code;
}

int
monitor_run (struct launch_plan *plan, pid_t child, int sync_fd)
{
  struct relay r = { .master = -1 };
  int code = await_exec (child, sync_fd, &r.master);
  if (code)
    return code;
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigaddset (&set, SIGWINCH);
  for (size_t i = 0; i < launch_n_forward_signals; i++)
    sigaddset (&set, launch_forward_signals[i]);
  _cleanup_close_ int sfd = signalfd (-1, &set, SFD_CLOEXEC);
  if (sfd < 0)
    {
      int st;
      fprintf (stderr, "cairn-launch: signalfd: %s\n", strerror (errno));
      while (waitpid (child, &st, 0) < 0 && errno == EINTR)
        ;
      return status_code (st);
    }
  (void)plan;
  relay_start (&r);
  code = wait_loop (child, sfd, &r);
  relay_stop (&r);
  return code;
}
