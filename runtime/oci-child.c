/* cairn-launch: the init of an OCI container, from clone() to execve().
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The process the runtime spec calls the container process: it becomes the
 * user's command (pid 1 of the pid namespace, no reaper, as with runc and
 * crun), so its exit status is the container's and the engine that reaps it
 * (conmon, containerd-shim: subreapers) gets it directly.
 *
 * Order (docs/runtime-anchors.md §1.2 and §1.3):
 *   wait 'g' (id maps written) -> uid/gid 0 in a new user namespace, not
 *   dumpable -> join the namespaces given by path, unshare the network
 *   namespace -> wait 'c' (cgroups exist with their limits; v1: move
 *   ourselves in) -> cgroup namespace -> rootfs (oci-mounts.c) -> prestart
 *   and createRuntime hooks (run by the parent, 'H'/'h') -> createContainer
 *   hooks -> masked/read-only paths, pivot_root -> hostname, domainname ->
 *   setsid, the terminal -> the command looked up -> rlimits, oom_score_adj,
 *   personality -> 'R' -> block on the exec fifo until start -> startContainer
 *   hooks -> groups, uid/gid, capabilities (five sets), no_new_privs,
 *   AppArmor, umask, cwd (checked to be inside the root, CVE-2024-21626),
 *   seccomp last (before the capabilities when noNewPrivileges is false,
 *   since loading a filter then needs CAP_SYS_ADMIN), every fd above
 *   2 + --preserve-fds closed, execve.
 *
 * No allocation: everything was prepared by the parent (oci-create.c).
 * When process.args is this binary's own init (--init: OCI_INIT_PATH
 * --container-init CMD), the last step runs that init in process instead
 * of exec'ing it (builtin_init).
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "runtime/oci.h"

static void __attribute__ ((noreturn)) die (struct oci_plan *plan, int r, int code)
{
  child_report (plan->sync_fd, -r, code, launch_errmsg (), launch_errctx ());
  if (plan->fifo_wr >= 0)
    {
      /* after start: the error goes to start through the fifo */
      char buf[600];
      size_t n = str_lcpy (buf, "E", sizeof buf);
      n += str_lcpy (buf + n, launch_errmsg (), sizeof buf - n);
      if (launch_errctx () && n < sizeof buf - 4)
        {
          n += str_lcpy (buf + n, " (", sizeof buf - n);
          n += str_lcpy (buf + n, launch_errctx (), sizeof buf - n);
          n += str_lcpy (buf + n, ")", sizeof buf - n);
        }
      if (n >= sizeof buf)
        n = sizeof buf - 1;
      (void)!write (plan->fifo_wr, buf, n);
    }
  _exit (code);
}

static void
send_kind (struct oci_plan *plan, int kind)
{
  struct launch_msg m;
  memset (&m, 0, sizeof m);
  m.kind = kind;
  (void)!send (plan->sync_fd, &m, sizeof m, MSG_NOSIGNAL);
}

/* ---- namespaces ------------------------------------------------------------------ */
static int
join_namespaces (struct oci_plan *plan, bool user)
{
  static const int order[]
      = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS };
  struct oci_spec *s = plan->spec;
  for (size_t o = 0; o < (user ? 1 : sizeof order / sizeof order[0]); o++)
    for (size_t i = 0; i < s->n_ns; i++)
      {
        int t = user ? CLONE_NEWUSER : order[o];
        if (s->ns[i].type != t || s->ns[i].fd < 0)
          continue;
        if (setns (s->ns[i].fd, t) < 0)
          return launch_fail (errno, "joining a namespace", s->ns[i].path);
        close (s->ns[i].fd);
        s->ns[i].fd = -1;
      }
  return 0;
}

static int
enter_cgroups (struct oci_plan *plan)
{
  for (size_t i = 0; plan->cg_tasks && plan->cg_tasks[i]; i++)
    {
      int fd = open (plan->cg_tasks[i], O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return launch_fail (errno, "opening the container cgroup's tasks", plan->cg_tasks[i]);
      if (write (fd, "0", 1) != 1)
        {
          int e = errno;
          close (fd);
          return launch_fail (e, "entering the container cgroup", plan->cg_tasks[i]);
        }
      close (fd);
    }
  return 0;
}

/* ---- hooks in the container ---------------------------------------------------------- */
int
oci_run_hooks_child (struct oci_plan *plan, enum oci_hook_kind kind)
{
  const struct oci_spec *s = plan->spec;
  for (size_t i = 0; i < s->n_hooks[kind]; i++)
    {
      int r = oci_hook_run (&s->hooks[kind][i], plan->state, true);
      if (r < 0)
        return r;
    }
  return 0;
}

/* The parent runs prestart and createRuntime (runtime namespace) and sends
 * back 'h' followed by the state JSON the container's own hooks get. */
static int
parent_hooks (struct oci_plan *plan)
{
  send_kind (plan, OMSG_HOOKS);
  ssize_t n;
  do
    n = recv (plan->sync_fd, plan->state, sizeof plan->state - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 1 || plan->state[0] != 'h')
    _exit (EXIT_LAUNCH_ERROR);
  memmove (plan->state, plan->state + 1, (size_t)n - 1);
  plan->state[n - 1] = '\0';
  if (!plan->spec->seccomp_listener)
    return 0;
  do
    n = recv (plan->sync_fd, plan->listener_msg, sizeof plan->listener_msg - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 1 || plan->listener_msg[0] != 'l')
    _exit (EXIT_LAUNCH_ERROR);
  memmove (plan->listener_msg, plan->listener_msg + 1, (size_t)n - 1);
  plan->listener_msg[n - 1] = '\0';
  return 0;
}

/* ---- the command ------------------------------------------------------------------------ */
static bool
is_exec (const char *p)
{
  struct stat st;
  return stat (p, &st) == 0 && S_ISREG (st.st_mode) && access (p, X_OK) == 0;
}

static int
find_command (struct oci_plan *plan)
{
  const char *cmd = plan->spec->proc.args[0];
  if (strchr (cmd, '/'))
    {
      if (str_lcpy (plan->exe, cmd, sizeof plan->exe) >= sizeof plan->exe)
        return launch_fail (ENAMETOOLONG, "the command's path is too long", cmd);
      struct stat st;
      if (stat (cmd, &st) < 0)
        return launch_fail (errno, "the container's command was not found", cmd);
      return 0;
    }
  size_t nlen = strlen (cmd);
  for (const char *p = plan->spec->proc.path_env; p && *p;)
    {
      size_t len = strcspn (p, ":");
      if (len && len + 1 + nlen + 1 <= sizeof plan->exe)
        {
          memcpy (plan->exe, p, len);
          plan->exe[len] = '/';
          memcpy (plan->exe + len + 1, cmd, nlen + 1);
          if (is_exec (plan->exe))
            return 0;
        }
      p += len + (p[len] == ':');
    }
  return launch_fail (ENOENT, "executable file not found in $PATH", cmd);
}

static int
process_limits (struct oci_plan *plan)
{
  const struct oci_process *p = &plan->spec->proc;
  for (size_t i = 0; i < p->n_rlimits; i++)
    if (setrlimit (p->rlimits[i].resource, &p->rlimits[i].lim) < 0)
      return launch_fail (errno,
                          errno == EPERM ? "process.rlimits: raising a hard limit needs "
                                           "CAP_SYS_RESOURCE, which this runtime does not have"
                                         : "process.rlimits: setrlimit failed",
                          p->rlimits[i].name);
  if (p->oom_set)
    {
      char buf[16];
      int v = p->oom_score_adj, n = 0;
      if (v < 0)
        buf[n++] = '-';
      fmt_uint (buf + n, (unsigned long long)(v < 0 ? -v : v));
      int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, buf, strlen (buf)) < 0)
        return launch_fail (errno, "process.oomScoreAdj: cannot write oom_score_adj", NULL);
      close (fd);
    }
  /* ioprio_set (IOPRIO_WHO_PROCESS, 0 = ourselves) */
  if (p->ioprio_set && syscall (SYS_ioprio_set, 1, 0, p->ioprio) < 0)
    return launch_fail (errno, "process.ioPriority: ioprio_set", NULL);
  if (plan->spec->personality.set && personality (plan->spec->personality.domain) < 0)
    return launch_fail (errno, "linux.personality", NULL);
  return 0;
}

static int
setup_terminal (struct oci_plan *plan, int master, int slave)
{
  if (setsid () < 0)
    return launch_fail (errno, "setsid", NULL);
  if (slave < 0)
    return 0;
  const struct oci_process *p = &plan->spec->proc;
  if (p->cons_h || p->cons_w)
    {
      struct winsize ws = { p->cons_h, p->cons_w, 0, 0 };
      ioctl (slave, TIOCSWINSZ, &ws);
    }
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return launch_fail (errno, "setting the controlling terminal", NULL);
  for (int i = 0; i < 3; i++)
    if (dup2 (slave, i) < 0)
      return launch_fail (errno, "dup2 of the terminal", NULL);
  close (slave);
  child_send_fd (plan->sync_fd, master);
  close (master);
  return 0;
}

/* ---- identity and privileges --------------------------------------------------------------- */
static int
capset_raw (const struct oci_caps *c)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset (d, 0, sizeof d);
  d[0].effective = (uint32_t)c->effective;
  d[1].effective = (uint32_t)(c->effective >> 32);
  d[0].permitted = (uint32_t)c->permitted;
  d[1].permitted = (uint32_t)(c->permitted >> 32);
  d[0].inheritable = (uint32_t)c->inheritable;
  d[1].inheritable = (uint32_t)(c->inheritable >> 32);
  return (int)syscall (SYS_capset, &h, d);
}

/* As crun's set_required_caps: bounding set, KEEPCAPS, groups and ids,
 * capset, ambient, no_new_privs. */
static int
apply_identity (struct oci_plan *plan)
{
  const struct oci_process *p = &plan->spec->proc;
  struct oci_caps c = p->caps;
  if (!p->caps_set)
    memset (&c, 0, sizeof c);
  for (int i = 0; i <= plan->last_cap; i++)
    if (!(c.bounding & (1ULL << i)) && prctl (PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
      return launch_fail (errno, "dropping a capability from the bounding set", caps_name (i));
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return launch_fail (errno, "PR_SET_KEEPCAPS", NULL);
  if (plan->setgroups_ok && setgroups (p->user.n_gids, p->user.gids) < 0)
    return launch_fail (errno, "setgroups (process.user.additionalGids)", NULL);
  if (!plan->setgroups_ok && p->user.n_gids)
    return launch_fail (EPERM,
                        "process.user.additionalGids: setgroups is denied in this user "
                        "namespace (a rootless single-id mapping)",
                        NULL);
  if (setresgid (p->user.gid, p->user.gid, p->user.gid) < 0)
    return launch_fail (errno, "setresgid (process.user.gid: is it mapped?)", NULL);
  if (setresuid (p->user.uid, p->user.uid, p->user.uid) < 0)
    return launch_fail (errno, "setresuid (process.user.uid: is it mapped?)", NULL);
  if (capset_raw (&c) < 0)
    return launch_fail (errno, "capset (process.capabilities)", NULL);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return launch_fail (errno, "PR_SET_KEEPCAPS", NULL);
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return launch_fail (errno, "clearing ambient capabilities", NULL);
  for (int i = 0; i <= plan->last_cap; i++)
    if ((c.ambient & (1ULL << i)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
      return launch_fail (errno,
                          "raising an ambient capability (it must be permitted and "
                          "inheritable)",
                          caps_name (i));
  if (p->nnp && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return launch_fail (errno, "setting no_new_privs", NULL);
  return 0;
}

/* The LSM label of the command (AppArmor's "exec PROFILE", or the SELinux
 * context) goes to attr/exec of the host's procfs, opened before
 * pivot_root: a /proc mount of the image's choosing could otherwise take
 * the write (CVE-2019-16884). */
static int
open_lsm_attr (struct oci_plan *plan)
{
  const struct oci_process *p = &plan->spec->proc;
  plan->lsm_fd = -1;
  if (p->apparmor && *p->apparmor)
    {
      plan->lsm_fd = open ("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
      if (plan->lsm_fd < 0)
        plan->lsm_fd = open ("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
    }
  else if (p->selinux && *p->selinux)
    plan->lsm_fd = open ("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
  else
    return 0;
  if (plan->lsm_fd < 0)
    return launch_fail (errno, "opening the LSM's attr/exec", NULL);
  return 0;
}

static int
lsm_exec (struct oci_plan *plan)
{
  const struct oci_process *p = &plan->spec->proc;
  if (plan->lsm_fd < 0)
    return 0;
  char buf[1024];
  size_t n = 0;
  if (p->apparmor && *p->apparmor)
    n = str_lcpy (buf, "exec ", sizeof buf);
  const char *label = p->apparmor && *p->apparmor ? p->apparmor : p->selinux;
  if (str_lcpy (buf + n, label, sizeof buf - n) >= sizeof buf - n)
    return launch_fail (ENAMETOOLONG, "the LSM label is too long", NULL);
  if (write (plan->lsm_fd, buf, strlen (buf)) < 0)
    return launch_fail (errno,
                        p->apparmor && *p->apparmor ? "applying process.apparmorProfile"
                                                    : "applying process.selinuxLabel",
                        label);
  close (plan->lsm_fd);
  plan->lsm_fd = -1;
  return 0;
}

static int
enter_cwd (const char *dir)
{
  return child_enter_cwd (dir, "process.cwd: cannot change to the directory",
                          "process.cwd is outside the container");
}

/* linux.seccomp.listenerPath: the listener fd and the containerProcessState
 * (runtime-spec, "seccomp": prepared by the parent) over the socket
 * connected before pivot_root. */
static int
send_listener (struct oci_plan *plan, int fd)
{
  ssize_t n
      = send_with_fd (plan->listener_sock, plan->listener_msg, strlen (plan->listener_msg), fd);
  int e = errno;
  close (fd);
  close (plan->listener_sock);
  plan->listener_sock = -1;
  return n < 0 ? launch_fail (e, "sending the seccomp listener (linux.seccomp.listenerPath)",
                              plan->spec->seccomp_listener)
               : 0;
}

static int
load_seccomp (struct oci_plan *plan)
{
  if (!plan->bpf.len)
    return 0;
  struct sock_fprog
  {
    unsigned short len;
    void *filter;
  } prog = { plan->bpf.len, plan->bpf.insns };
  unsigned flags = plan->spec->seccomp_flags;
  if (plan->listener_sock >= 0)
    flags |= 8; /* SECCOMP_FILTER_FLAG_NEW_LISTENER */
  long r = syscall (SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog);
  if (r < 0)
    return launch_fail (errno, "loading the seccomp filter (linux.seccomp)", NULL);
  return plan->listener_sock >= 0 ? send_listener (plan, (int)r) : 0;
}

/* SIG_DFL for S through the system call itself: the C library's sigaction()
 * refuses the two real-time signals it keeps for itself (32, 33), which a
 * caller may still have left ignored. */
static void
sig_default (int s)
{
  struct
  {
    void *handler; /* SIG_DFL */
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } k = { 0 };
  syscall (SYS_rt_sigaction, s, &k, NULL, sizeof k.mask);
}

/* Every signal back to its default disposition and unblocked, as runc
 * leaves them for the command.  Only the signals the kernel lists as
 * ignored or caught (SigIgn, SigCgt in /proc/self/status) are not at the
 * default already: three calls and those, rather than one call per signal
 * (62, each a few microseconds on a virtual machine); every signal when
 * that cannot be read (no /proc in the container, a profile that forbids
 * it). */
static void
reset_signals (void)
{
  uint64_t which = ~0ULL;
  char buf[4096];
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (fd >= 0)
    close (fd);
  if (n > 0)
    {
      buf[n] = '\0';
      const char *ign = strstr (buf, "\nSigIgn:\t"), *cgt = strstr (buf, "\nSigCgt:\t");
      if (ign && cgt)
        which = strtoull (ign + 9, NULL, 16) | strtoull (cgt + 9, NULL, 16);
    }
  sigset_t all;
  for (int s = 1; s < _NSIG && s <= 64; s++)
    if (s != SIGKILL && s != SIGSTOP && (which >> (s - 1) & 1))
      sig_default (s);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
}

/* The runtime's own init (oci-create.c builtin_init_ok): what the exec of
 * OCI_INIT_PATH would run, with the process's environment and name as that
 * exec would give them. */
/* The process's cmdline and environ become what the exec of the init
 * would have given it, and the strings that this binary was started with
 * (the launcher's command line, the caller's environment) are wiped, so
 * that nothing of the host's shows in /proc/1/cmdline or /proc/1/environ
 * (nor in its memory): the init's strings are written over them, as far as
 * they fit, the rest zeroed, then (with CAP_SYS_RESOURCE) the kernel is
 * pointed at the init's strings exactly. */
static void
builtin_init_strings (struct oci_plan *plan)
{
  extern char **environ;
  environ = plan->spec->proc.env;
  static const int opts[2][2]
      = { { PR_SET_MM_ARG_START, PR_SET_MM_ARG_END }, { PR_SET_MM_ENV_START, PR_SET_MM_ENV_END } };
  for (int k = 0; k < 2; k++)
    {
      char *area = launch_exec_strings[k], *want = plan->init_strings[k];
      size_t len = launch_exec_strings_len[k], n = plan->init_strings_len[k];
      if (area && len)
        {
          memset (area, 0, len);
          memcpy (area, want, n < len ? n : len - 1);
        }
      if (prctl (PR_SET_MM, opts[k][0], (unsigned long)want, 0, 0) == 0)
        (void)prctl (PR_SET_MM, opts[k][1], (unsigned long)(want + n), 0, 0);
    }
}

static void __attribute__ ((noreturn)) builtin_init (struct oci_plan *plan)
{
  extern char **environ;
  environ = plan->spec->proc.env;
  prctl (PR_SET_NAME, "init", 0, 0, 0);
  init_container_main (plan->spec->proc.args + 2);
}

static void __attribute__ ((noreturn)) final_exec (struct oci_plan *plan)
{
  const struct oci_process *p = &plan->spec->proc;
  int r = 0;
  /* chdir first as the old identity (root may enter where the user may
   * not), then again after the switch when that failed */
  bool cwd_done = enter_cwd (p->cwd) == 0;
  if (plan->builtin_init)
    builtin_init_strings (plan);
  if (!p->nnp)
    r = load_seccomp (plan);
  if (r == 0)
    r = apply_identity (plan);
  if (r == 0)
    r = lsm_exec (plan);
  if (r == 0 && !cwd_done)
    r = enter_cwd (p->cwd);
  if (r < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  umask (p->user.umask_set ? p->user.umask : 022);
  reset_signals ();
  /* --preserve-fds: 3..3+N-1 are the caller's and stay open across exec;
   * everything above is closed by exec (the sync socket and the fifo too,
   * which tells the parent and start that the exec happened) */
  for (int fd = 3; fd < 3 + plan->preserve_fds; fd++)
    fcntl (fd, F_SETFD, 0);
  if (syscall (SYS_close_range, 3 + plan->preserve_fds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
    for (int fd = 3 + plan->preserve_fds; fd < 65536; fd++)
      fcntl (fd, F_SETFD, FD_CLOEXEC);
  if (p->nnp && (r = load_seccomp (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (plan->builtin_init)
    builtin_init (plan);
  execve (plan->exe, p->args, p->env);
  int e = errno;
  launch_fail (e, e == ENOENT ? "command not found" : "cannot execute the command", plan->exe);
  die (plan, -e, e == ENOENT || e == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* ---- the exec fifo ----------------------------------------------------------------------- */
/* A created container is pid 1 of its namespace, which the kernel protects
 * from every signal it has no handler for (pid_namespaces(7)): kill TERM of
 * a created container would do nothing.  Until start, such signals end it
 * (status 128+N), as they end runc's init; the command gets the default
 * dispositions back before exec (reset_signals). */
static void
created_signal (int sig)
{
  _exit (128 + sig);
}

static void
created_handlers (void)
{
  static const int sigs[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,  SIGUSR2,
                              SIGALRM, SIGPIPE, SIGXCPU, SIGXFSZ, SIGVTALRM };
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = created_signal;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction (sigs[i], &sa, NULL);
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
}

static void
wait_fifo (struct oci_plan *plan)
{
  char name[16];
  created_handlers ();
  fmt_uint (name, (unsigned)plan->fifo_fd);
  int fd;
  do
    fd = openat (plan->proc_fd_dir, name, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    _exit (EXIT_LAUNCH_ERROR);
  int high = fcntl (fd, F_DUPFD_CLOEXEC, 3 + plan->preserve_fds);
  if (high >= 0)
    {
      close (fd);
      fd = high;
    }
  close (plan->fifo_fd);
  close (plan->proc_fd_dir);
  plan->fifo_fd = plan->proc_fd_dir = -1;
  if (write (fd, "0", 1) != 1)
    _exit (EXIT_LAUNCH_ERROR);
  plan->fifo_wr = fd;
}

/* ---- main ------------------------------------------------------------------------------- */
/* One byte from the parent and the fd it carries (-1: none). */
static ssize_t
recv_byte_fd (int sock, char *b, int *fd)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { b, 1 };
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  *fd = -1;
  do
    n = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR (&mh) : NULL;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy (fd, CMSG_DATA (c), sizeof (int));
  return n;
}

/* 'i' with an fd, for each id-mapped mount in mount order (oci-create.c
 * send_idmapped), then 'g' (or 'G': setgroups is denied): the id maps are
 * written. */
static void
wait_maps (struct oci_plan *plan)
{
  if (plan->no_maps)
    return; /* nothing is sent: the setgroups answer is the one inherited */
  char g = 0;
  ssize_t n;
  size_t next = 0;
  int fd;
  while ((n = recv_byte_fd (plan->sync_fd, &g, &fd)) == 1 && g == 'i' && fd >= 0)
    {
      while (next < plan->spec->n_mounts && !plan->spec->mounts[next].idmap)
        next++;
      if (next == plan->spec->n_mounts)
        _exit (EXIT_LAUNCH_ERROR);
      plan->spec->mounts[next++].idmap_fd = fd;
    }
  if (n != 1 || (g != 'g' && g != 'G'))
    _exit (EXIT_LAUNCH_ERROR);
  plan->setgroups_ok = g == 'g';
  if (plan->userns)
    {
      /* Rootless, the one who could look into this process is the user who
       * owns its namespace anyway; the createRuntime hooks, as that user,
       * must open its /proc/PID/ns (pasta joins its user namespace, as
       * pasta(1) explains for a PID target). As root, nobody. */
      if (!oci_g.is_rootless)
        prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
      /* become the namespace's root (when mapped) before anything is created */
      if (setresgid (0, 0, 0) == 0)
        (void)!setresuid (0, 0, 0);
    }
}

/* Namespaces joined by path with a new user namespace (runc's order): the
 * first child, born in no new namespace, joins them while it still has the
 * host's capabilities, then unshares the user namespace (the parent writes
 * its maps) and the other new ones, and clones the container's init with
 * CLONE_PARENT, so that the pid namespace is new and owned by the new user
 * namespace and the init is the runtime's child; it reports the init's pid
 * ('P') and exits. */
static int
two_step (struct oci_plan *plan)
{
  struct oci_spec *s = plan->spec;
  int r = join_namespaces (plan, false);
  if (r < 0)
    return r;
  if (unshare (CLONE_NEWUSER) < 0)
    return launch_fail (errno, "unsharing the user namespace", NULL);
  send_kind (plan, OMSG_USERNS);
  wait_maps (plan);
  int rest = s->ns_new & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID);
  if (rest && unshare (rest) < 0)
    return launch_fail (errno, "unsharing the container's namespaces", NULL);
  pid_t init = (pid_t)syscall (SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (init < 0)
    return launch_fail (errno, "clone of the container's init", NULL);
  if (init == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* not inherited */
      return 0;
    }
  struct launch_msg m;
  memset (&m, 0, sizeof m);
  m.kind = OMSG_PID;
  m.err = (int32_t)init;
  (void)!send (plan->sync_fd, &m, sizeof m, MSG_NOSIGNAL);
  _exit (0);
}

static int
early_steps (struct oci_plan *plan)
{
  struct oci_spec *s = plan->spec;
  int r;
  if (plan->two_step)
    r = two_step (plan);
  else
    {
      r = join_namespaces (plan, true);
      if (r == 0)
        wait_maps (plan);
      if (r == 0)
        r = join_namespaces (plan, false);
    }
  if (r < 0)
    return r;
  if ((s->ns_new & CLONE_NEWNET) && plan->netns_fd >= 0)
    {
      /* made beside by the parent, lo up (oci-create.c early_net) */
      if (setns (plan->netns_fd, CLONE_NEWNET) < 0)
        return launch_fail (errno, "joining the new network namespace", NULL);
      close (plan->netns_fd);
      plan->netns_fd = -1;
      return 0;
    }
  if ((s->ns_new & CLONE_NEWNET) && unshare (CLONE_NEWNET) < 0)
    return launch_fail (errno, "unsharing the network namespace", NULL);
  if ((s->ns_new & CLONE_NEWNET) && (r = child_net_lo_up ()) < 0)
    return r;
  return 0;
}

/* 'c': the cgroups exist with their limits; 'C': there are none (rootless
 * without delegation and without limits).  Called from the mount set-up
 * when it reaches the first cgroup mount (or after the mounts), so that the
 * parent's cgroup work overlaps with ours; nothing of the container runs
 * before it. */
int
oci_child_cgroups (struct oci_plan *plan)
{
  struct oci_spec *s = plan->spec;
  char g = 0;
  ssize_t n;
  int r;
  if (plan->cg_ready)
    return 0;
  plan->cg_ready = true;
  do
    n = read (plan->sync_fd, &g, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || (g != 'c' && g != 'C'))
    _exit (EXIT_LAUNCH_ERROR);
  if (g == 'C')
    {
      plan->self_attach = false;
      plan->cg = NULL;
    }
  if (plan->self_attach && (r = enter_cgroups (plan)) < 0)
    return r;
  if ((s->ns_new & CLONE_NEWCGROUP) && unshare (CLONE_NEWCGROUP) < 0)
    return launch_fail (errno, "unsharing the cgroup namespace", NULL);
  return 0;
}

static int
uts_names (const struct oci_spec *s)
{
  if (s->hostname && *s->hostname && sethostname (s->hostname, strlen (s->hostname)) < 0)
    return launch_fail (errno, "sethostname (hostname)", NULL);
  if (s->domainname && *s->domainname && setdomainname (s->domainname, strlen (s->domainname)) < 0)
    return launch_fail (errno, "setdomainname (domainname)", NULL);
  return 0;
}

static int
connect_listener (struct oci_plan *plan)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  const char *path = plan->spec->seccomp_listener;
  if (str_lcpy (sa.sun_path, path, sizeof sa.sun_path) >= sizeof sa.sun_path)
    return launch_fail (ENAMETOOLONG, "linux.seccomp.listenerPath is too long", path);
  plan->listener_sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (plan->listener_sock < 0
      || connect (plan->listener_sock, (struct sockaddr *)&sa, sizeof sa) < 0)
    return launch_fail (errno, "connecting to linux.seccomp.listenerPath", path);
  return 0;
}

void
oci_child_main (struct oci_plan *plan)
{
  int master = -1, slave = -1, root_fd = -1, r;
  plan->fifo_wr = -1;
  plan->listener_sock = -1;
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* born on the CPU the parent handed over, with only that one
   * (oci-create.c hand_cpu): the parent's set back, before anything of
   * the container can inherit it */
  if (plan->affinity_set && sched_setaffinity (0, sizeof plan->affinity, &plan->affinity) < 0)
    die (plan, launch_fail (errno, "restoring the CPU affinity", NULL), EXIT_LAUNCH_ERROR);
  for (int i = 0; i < 4; i++)
    if (plan->parent_fds[i] >= 0)
      close (plan->parent_fds[i]);
  if ((r = early_steps (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  umask (0);
  if ((r = oci_setup_rootfs (plan, &root_fd, &master, &slave, false)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if ((r = oci_child_cgroups (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (plan->has_hooks_parent || plan->spec->n_hooks[HOOK_CREATE_CONTAINER]
      || plan->spec->n_hooks[HOOK_START_CONTAINER] || plan->spec->seccomp_listener)
    parent_hooks (plan);
  if (plan->spec->seccomp_listener && (r = connect_listener (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if ((r = oci_run_hooks_child (plan, HOOK_CREATE_CONTAINER)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  plan->proc_fd_dir = open ("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (plan->proc_fd_dir < 0)
    die (plan, launch_fail (errno, "opening /proc/self/fd", NULL), EXIT_LAUNCH_ERROR);
  if ((r = open_lsm_attr (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if ((r = oci_finish_rootfs (plan, root_fd)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (root_fd >= 0)
    close (root_fd);
  if ((plan->spec->ns_new & CLONE_NEWUTS) || plan->spec->hostname)
    if ((r = uts_names (plan->spec)) < 0)
      die (plan, r, EXIT_LAUNCH_ERROR);
  if ((r = setup_terminal (plan, master, slave)) < 0 || (r = find_command (plan)) < 0
      || (r = process_limits (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  send_kind (plan, OMSG_READY);
  wait_fifo (plan);
  if ((r = oci_run_hooks_child (plan, HOOK_START_CONTAINER)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  final_exec (plan);
}

/* exec: a process entering a running container (oci-exec.c has already put
 * it in the container's cgroups and namespaces, and its root).  The same
 * steps as the container's own init after its fifo. */
void
oci_exec_child (struct oci_plan *plan)
{
  int master = -1, slave = -1, r = 0;
  plan->fifo_wr = -1;
  /* the LSM's attr/exec from the host's procfs, then the container's mount
   * namespace (which also makes its root ours) */
  if ((r = open_lsm_attr (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  if (plan->exec_mnt_fd >= 0 && setns (plan->exec_mnt_fd, CLONE_NEWNS) < 0)
    die (plan, launch_fail (errno, "joining the container's mount namespace", NULL),
         EXIT_LAUNCH_ERROR);
  if (plan->exec_mnt_fd >= 0)
    close (plan->exec_mnt_fd);
  else if (plan->exec_root_fd >= 0
           && (fchdir (plan->exec_root_fd) < 0 || chroot (".") < 0 || chdir ("/") < 0))
    die (plan, launch_fail (errno, "entering the container's root", NULL), EXIT_LAUNCH_ERROR);
  if (plan->exec_root_fd >= 0)
    close (plan->exec_root_fd);
  if (plan->want_pty)
    {
      int unlock = 0;
      master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (master < 0 || ioctl (master, TIOCSPTLCK, &unlock) < 0
          || (slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        die (plan, launch_fail (errno, "opening a pty in the container", "/dev/ptmx"),
             EXIT_LAUNCH_ERROR);
    }
  if ((r = setup_terminal (plan, master, slave)) < 0 || (r = find_command (plan)) < 0
      || (r = process_limits (plan)) < 0)
    die (plan, r, EXIT_LAUNCH_ERROR);
  final_exec (plan);
}
