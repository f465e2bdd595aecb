/* cairn-launch: exec, a new process in a running container.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The process is described by --process FILE (a runtime-spec process
 * object) or, as runc does, by the container's own process with the
 * command line's changes (ARGS, -e, --cwd, --user, --tty, --cap,
 * --no-new-privs).  The container's seccomp profile applies to it too.
 *
 * A helper forked from exec moves itself into the container's cgroups,
 * joins its namespaces through /proc/<init>/ns (the user namespace first,
 * the mount namespace last, which also makes the container's root its
 * root), and clones the process with CLONE_PARENT: the new process is in the
 * container's pid namespace and is exec's own child, so exec can wait for
 * it (or, with --detach, leave it to the caller's subreaper).  The process
 * then goes through the same steps as the container's init before execve
 * (oci_exec_child).
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "runtime/json.h"
#include "runtime/oci.h"
#include "runtime/seccomp-policy.h"

struct exec_opts
{
  const char *id, *process, *pid_file, *console_socket, *cwd, *user;
  char **args;
  char **env_add;
  size_t n_env_add;
  bool tty, tty_set, detach, nnp, ignore_paused;
  uint64_t cap_add;
  int preserve_fds;
};

static int
usage_err (const char *msg)
{
  oci_log_error ("exec: %s", msg);
  return 2;
}

static int
parse_exec (int argc, char **argv, struct exec_opts *o)
{
  static const struct option opts[] = {
    { "process", required_argument, NULL, 'p' },
    { "tty", no_argument, NULL, 't' },
    { "detach", no_argument, NULL, 'd' },
    { "pid-file", required_argument, NULL, 'P' },
    { "console-socket", required_argument, NULL, 'C' },
    { "env", required_argument, NULL, 'e' },
    { "cwd", required_argument, NULL, 'w' },
    { "user", required_argument, NULL, 'u' },
    { "cap", required_argument, NULL, 'c' },
    { "no-new-privs", no_argument, NULL, 'n' },
    { "preserve-fds", required_argument, NULL, 'f' },
    { "ignore-paused", no_argument, NULL, 'i' },
    { "apparmor", required_argument, NULL, 'A' },
    { "process-label", required_argument, NULL, 'L' },
    { "additional-gids", required_argument, NULL, 'g' },
    { "cgroup", required_argument, NULL, 'G' },
    { NULL, 0, NULL, 0 },
  };
  memset (o, 0, sizeof *o);
  optind = 1;
  opterr = 0;
  int opt, c;
  char *end;
  while ((opt = getopt_long (argc, argv, "+p:tde:u:", opts, NULL)) != -1)
    switch (opt)
      {
      case 'p':
        o->process = optarg;
        break;
      case 't':
        o->tty = o->tty_set = true;
        break;
      case 'd':
        o->detach = true;
        break;
      case 'P':
        o->pid_file = optarg;
        break;
      case 'C':
        o->console_socket = optarg;
        break;
      case 'w':
        o->cwd = optarg;
        break;
      case 'u':
        o->user = optarg;
        break;
      case 'n':
        o->nnp = true;
        break;
      case 'i':
        o->ignore_paused = true;
        break;
      case 'e':
        if (!strchr (optarg, '=') || optarg[0] == '=')
          return usage_err ("-e needs KEY=VALUE");
        o->env_add = xrealloc (o->env_add, (o->n_env_add + 1) * sizeof (char *));
        o->env_add[o->n_env_add++] = optarg;
        break;
      case 'c':
        if (caps_parse (optarg, &c) < 0)
          return usage_err ("--cap: unknown capability");
        o->cap_add |= 1ULL << c;
        break;
      case 'f':
        o->preserve_fds = (int)strtol (optarg, &end, 10);
        if (*end || o->preserve_fds < 0 || o->preserve_fds > 1024)
          return usage_err ("--preserve-fds needs a number");
        break;
      case 'A':
      case 'L':
      case 'g':
      case 'G':
        oci_log_error ("exec: --apparmor, --process-label, --additional-gids and --cgroup are "
                       "not supported by cairn-launch (use --process)");
        return 2;
      default:
        return usage_err ("unknown option or missing argument");
      }
  if (optind >= argc)
    return usage_err ("usage: exec [OPTIONS] ID [--process F | CMD ARGS...]");
  o->id = argv[optind++];
  o->args = argv + optind;
  if (!o->process && !o->args[0])
    return usage_err ("a command or --process is needed");
  return 0;
}

/* The container's process with the command line's changes. */
static int
build_process (struct oci_spec *s, const struct exec_opts *o, struct json **pdoc)
{
  struct oci_process *p = &s->proc;
  if (o->process)
    {
      *pdoc = json_parse_file (AT_FDCWD, o->process, 1 << 20);
      if (!*pdoc)
        return -EINVAL;
      free (p->args);
      free (p->env);
      free (p->rlimits);
      free (p->user.gids);
      int r = oci_process_parse (*pdoc, "process.json", p);
      if (r < 0)
        return r;
    }
  else
    {
      free (p->args);
      size_t n = 0;
      while (o->args[n])
        n++;
      p->args = xrealloc (NULL, (n + 1) * sizeof (char *));
      memcpy (p->args, o->args, (n + 1) * sizeof (char *));
      p->terminal = o->tty;
    }
  if (o->n_env_add)
    {
      p->env = xrealloc (p->env, (p->n_env + o->n_env_add + 1) * sizeof (char *));
      for (size_t i = 0; i < o->n_env_add; i++)
        {
          size_t kl = (size_t)(strchr (o->env_add[i], '=') - o->env_add[i]) + 1;
          size_t k = 0;
          while (k < p->n_env && strncmp (p->env[k], o->env_add[i], kl) != 0)
            k++;
          p->env[k] = o->env_add[i];
          if (k == p->n_env)
            p->n_env++;
        }
      p->env[p->n_env] = NULL;
    }
  if (o->tty_set)
    p->terminal = true;
  if (o->cwd)
    p->cwd = o->cwd;
  if (o->nnp)
    p->nnp = true;
  if (o->cap_add)
    {
      p->caps_set = true;
      p->caps.bounding |= o->cap_add;
      p->caps.effective |= o->cap_add;
      p->caps.permitted |= o->cap_add;
    }
  if (o->user)
    {
      unsigned long u, g;
      char *end;
      u = strtoul (o->user, &end, 10);
      g = *end == ':' ? strtoul (end + 1, &end, 10) : p->user.gid;
      if (*end || !*o->user || o->user[0] == '-')
        return launch_fail (EINVAL, "exec --user needs UID[:GID] (numbers)", o->user);
      p->user.uid = (uid_t)u;
      p->user.gid = (gid_t)g;
    }
  oci_process_finish_env (p);
  return 0;
}

/* ---- joining ------------------------------------------------------------------------- */
static const struct
{
  const char *name;
  int type;
} ns_order[] = {
  { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
  { "net", CLONE_NEWNET },   { "pid", CLONE_NEWPID }, { "cgroup", CLONE_NEWCGROUP },
  { "mnt", CLONE_NEWNS },
};

static bool
same_ns (pid_t pid, const char *name)
{
  char a[64], b[64];
  struct stat x, y;
  snprintf (a, sizeof a, "/proc/%ld/ns/%s", (long)pid, name);
  snprintf (b, sizeof b, "/proc/self/ns/%s", name);
  return stat (a, &x) == 0 && stat (b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

/* Open the namespaces of PID that differ from ours, before forking. */
static int
open_ns (pid_t pid, int fds[7])
{
  for (size_t i = 0; i < 7; i++)
    {
      fds[i] = -1;
      if (same_ns (pid, ns_order[i].name))
        continue;
      char p[64];
      snprintf (p, sizeof p, "/proc/%ld/ns/%s", (long)pid, ns_order[i].name);
      fds[i] = open (p, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        return launch_fail (errno, "opening a namespace of the container", p);
    }
  return 0;
}

static void
enter_cgroups (const struct oci_cgroups *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      char p[4096];
      snprintf (p, sizeof p, "%s/%s", cg->dir[i], cg->mode == 2 ? "cgroup.procs" : "tasks");
      int fd = open (p, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          (void)!write (fd, "0", 1);
          close (fd);
        }
    }
}

static void __attribute__ ((noreturn))
helper (struct oci_plan *plan, const struct oci_cgroups *cg, int fds[7], int pid_fd)
{
  enter_cgroups (cg);
  /* the mount namespace (last in ns_order) is joined by the process itself */
  plan->exec_mnt_fd = fds[6];
  fds[6] = -1;
  for (size_t i = 0; i < 7; i++)
    if (fds[i] >= 0 && setns (fds[i], ns_order[i].type) < 0)
      {
        child_report (plan->sync_fd, errno, EXIT_LAUNCH_ERROR,
                      "joining a namespace of the container", ns_order[i].name);
        _exit (EXIT_LAUNCH_ERROR);
      }
  if (fds[0] >= 0 && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    {
      child_report (plan->sync_fd, errno, EXIT_LAUNCH_ERROR,
                    "becoming root in the container's user namespace", NULL);
      _exit (EXIT_LAUNCH_ERROR);
    }
  pid_t p = (pid_t)syscall (SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (p == 0)
    {
      close (pid_fd);
      oci_exec_child (plan);
    }
  if (p < 0)
    {
      child_report (plan->sync_fd, errno, EXIT_LAUNCH_ERROR, "clone into the container", NULL);
      _exit (EXIT_LAUNCH_ERROR);
    }
  (void)!write (pid_fd, &p, sizeof p);
  _exit (0);
}

/* ---- waiting ---------------------------------------------------------------------------- */
static int
recv_msg (int fd, struct launch_msg *m, int *out_fd)
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
  do
    n = recvmsg (fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && (errno == EINTR || errno == ECONNRESET));
  if (n <= 0)
    return 0;
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy (out_fd, CMSG_DATA (c), sizeof (int));
  return 1;
}

static void
pump (int from, int to, bool *open_flag)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);
  if (n <= 0)
    {
      if (n == 0 || (errno != EINTR && errno != EAGAIN))
        *open_flag = false;
      return;
    }
  for (ssize_t off = 0; off < n;)
    {
      ssize_t w = write (to, buf + off, (size_t)(n - off));
      if (w < 0 && errno != EINTR)
        return;
      off += w > 0 ? w : 0;
    }
}

static int
wait_process (pid_t pid, int master, int sfd)
{
  bool in_open = master >= 0, out_open = master >= 0;
  for (;;)
    {
      struct pollfd p[3] = { { sfd, POLLIN, 0 },
                             { in_open ? STDIN_FILENO : -1, POLLIN, 0 },
                             { out_open ? master : -1, POLLIN, 0 } };
      if (poll (p, 3, -1) < 0 && errno != EINTR)
        return 255;
      if (p[1].revents)
        pump (STDIN_FILENO, master, &in_open);
      if (p[2].revents)
        pump (master, STDOUT_FILENO, &out_open);
      if (!(p[0].revents & POLLIN))
        continue;
      struct signalfd_siginfo si;
      if (read (sfd, &si, sizeof si) != sizeof si)
        continue;
      if (si.ssi_signo == SIGWINCH && master >= 0)
        {
          struct winsize ws;
          if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
            ioctl (master, TIOCSWINSZ, &ws);
        }
      else if (si.ssi_signo != SIGCHLD)
        kill (pid, (int)si.ssi_signo);
      int st;
      pid_t w;
      while ((w = waitpid (-1, &st, WNOHANG)) > 0)
        if (w == pid)
          {
            while (out_open && master >= 0)
              {
                struct pollfd q = { master, POLLIN, 0 };
                if (poll (&q, 1, 0) <= 0)
                  break;
                pump (master, STDOUT_FILENO, &out_open);
              }
            return WIFEXITED (st) ? WEXITSTATUS (st) : WIFSIGNALED (st) ? 128 + WTERMSIG (st) : 255;
          }
    }
}

static int
foreground (pid_t pid, int master)
{
  sigset_t set;
  sigfillset (&set);
  static const int keep[]
      = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
    sigdelset (&set, keep[i]);
  sigprocmask (SIG_BLOCK, &set, NULL);
  int sfd = signalfd (-1, &set, SFD_CLOEXEC);
  struct termios saved;
  bool raw = false;
  if (master >= 0 && isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0)
    {
      struct termios t = saved;
      cfmakeraw (&t);
      raw = tcsetattr (STDIN_FILENO, TCSANOW, &t) == 0;
      struct winsize ws;
      if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl (master, TIOCSWINSZ, &ws);
    }
  int code = sfd < 0 ? 255 : wait_process (pid, master, sfd);
  if (raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved);
  return code;
}

/* ---- the verb ----------------------------------------------------------------------------- */
static int
prepare (const struct exec_opts *o, struct oci_spec *s, struct oci_state *st, struct json **pdoc,
         int *out_dfd)
{
  _cleanup_close_ int rootfd = oci_root_open (false);
  int dfd = oci_state_lock (rootfd, o->id, LOCK_SH);
  if (dfd < 0)
    return dfd;
  *out_dfd = dfd;
  int r = oci_state_read (dfd, o->id, st);
  if (r < 0)
    return r;
  enum oci_status status = oci_state_status (dfd, st);
  if (status == ST_PAUSED && !o->ignore_paused)
    return launch_fail (EINVAL, "the container is paused (--ignore-paused to exec anyway)", o->id);
  if (status != ST_RUNNING && status != ST_CREATED && status != ST_PAUSED)
    return launch_fail (ESRCH, "cannot exec in a container that is not running", o->id);
  r = oci_spec_load_exec (dfd, s);
  if (r == 0 && s->seccomp_listener)
    r = launch_fail (ENOTSUP,
                     "exec: the container's seccomp profile notifies a listener; exec under it "
                     "is not supported by cairn-launch",
                     o->id);
  if (r == 0)
    r = build_process (s, o, pdoc);
  if (r == 0 && s->proc.terminal && o->detach && !o->console_socket)
    r = launch_fail (EINVAL, "exec --tty --detach needs --console-socket", o->id);
  return r;
}

static int
spawn_exec (const struct exec_opts *o, struct oci_plan *plan, struct oci_state *st, pid_t *out_pid,
            int *out_master)
{
  int fds[7], sv[2], pp[2];
  int r = open_ns (st->pid, fds);
  if (r < 0)
    return r;
  /* a container in the runtime's mount namespace is chrooted: its root is
   * entered by the process instead (oci_exec_child) */
  plan->exec_root_fd = -1;
  if (fds[6] < 0)
    {
      char p[64];
      snprintf (p, sizeof p, "/proc/%ld/root", (long)st->pid);
      plan->exec_root_fd = open (p, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (plan->exec_root_fd < 0)
        return launch_fail (errno, "opening the container's root", p);
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2 (pp, O_CLOEXEC) < 0)
    return launch_fail (errno, "socketpair", NULL);
  for (int *f = sv; f < sv + 2; f++)
    if (*f < 3 + o->preserve_fds + 16)
      {
        int n = fcntl (*f, F_DUPFD_CLOEXEC, 3 + o->preserve_fds + 16);
        close (*f);
        *f = n;
      }
  plan->sync_fd = sv[1];
  fflush (NULL);
  pid_t h = fork ();
  if (h < 0)
    return launch_fail (errno, "fork", NULL);
  if (h == 0)
    {
      close (sv[0]);
      close (pp[0]);
      helper (plan, &st->cg, fds, pp[1]);
    }
  close (sv[1]);
  close (pp[1]);
  for (int i = 0; i < 7; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  if (plan->exec_root_fd >= 0)
    close (plan->exec_root_fd);
  pid_t pid = -1;
  ssize_t n = read (pp[0], &pid, sizeof pid);
  close (pp[0]);
  waitpid (h, NULL, 0);
  struct launch_msg m;
  int fd = -1, got;
  *out_master = -1;
  while ((got = recv_msg (sv[0], &m, &fd)) > 0)
    {
      if (m.kind == MSG_PTY && fd >= 0)
        {
          if (o->console_socket)
            {
              r = oci_send_console (o->console_socket, fd);
              close (fd);
            }
          else
            *out_master = fd;
          fd = -1;
          if (r < 0)
            break;
          continue;
        }
      if (m.kind == MSG_ERROR)
        {
          m.text[sizeof m.text - 1] = '\0';
          static char msg[600];
          snprintf (msg, sizeof msg, "exec failed: %s", m.text);
          r = launch_fail (m.err ? m.err : EINVAL, msg, NULL);
          break;
        }
    }
  close (sv[0]);
  if (r == 0 && (n != sizeof pid || pid <= 0))
    r = launch_fail (EPIPE, "exec failed: the process did not start", NULL);
  if (r < 0 && pid > 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
    }
  *out_pid = pid;
  return r;
}

int
oci_cmd_exec (int argc, char **argv)
{
  struct exec_opts o;
  int r = parse_exec (argc, argv, &o);
  if (r)
    return r;
  struct oci_spec s;
  struct oci_state st;
  struct oci_plan *plan = calloc (1, sizeof *plan);
  struct json *pdoc = NULL;
  int dfd = -1;
  memset (&s, 0, sizeof s);
  memset (&st, 0, sizeof st);
  /* SIGCHLD of the process (our child by CLONE_PARENT) must not be lost */
  sigset_t chld;
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_BLOCK, &chld, NULL);
  r = plan ? prepare (&o, &s, &st, &pdoc, &dfd) : -ENOMEM;
  if (r == 0 && s.seccomp)
    r = seccomp_compile_policy (s.seccomp, oci_g.seccomp_cache, &plan->bpf);
  pid_t pid = -1;
  int master = -1;
  if (dfd >= 0)
    close (steal_fd (&dfd));
  if (r == 0)
    {
      plan->spec = &s;
      plan->last_cap = caps_last_cap ();
      plan->preserve_fds = o.preserve_fds;
      plan->want_pty = s.proc.terminal;
      /* the container's user namespace decides whether groups may change */
      char sgp[64], sg[16] = "";
      snprintf (sgp, sizeof sgp, "/proc/%ld/setgroups", (long)st.pid);
      int sgfd = open (sgp, O_RDONLY | O_CLOEXEC);
      if (sgfd >= 0)
        {
          (void)!read (sgfd, sg, sizeof sg - 1);
          close (sgfd);
        }
      plan->setgroups_ok = strncmp (sg, "deny", 4) != 0;
      plan->fifo_wr = -1;
      plan->listener_sock = -1;
      r = spawn_exec (&o, plan, &st, &pid, &master);
    }
  if (dfd >= 0)
    close (dfd);
  if (r == 0)
    r = oci_write_pid_file (o.pid_file, pid);
  int code = 0;
  if (r == 0 && !o.detach)
    code = foreground (pid, master);
  oci_state_clear (&st);
  json_free (pdoc);
  return r < 0 ? oci_report (r) : code;
}
