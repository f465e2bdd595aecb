/* cairn-launch --oci-run: the launcher's options, run through the OCI
 * runtime.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   cairn-launch --oci-run --containers=DIR [--name=ID] [--detach] [--rm]
 *                [--no-stdin] [--log-size=SIZE] [LAUNCH OPTIONS] ROOTFS [--] CMD...
 *
 * This is how `cairn run` starts a container (cli/cmd-run.c decides the
 * options; the front end replays them, cli/run-record.h): the options mean
 * the config.json that --print-oci-config prints (oci-print.c, the one
 * mapping), which is written into the container's bundle DIR/bundles/ID/,
 * and the container is then run by this process through the runc command
 * line, in process: "--root DIR/runtime run --bundle DIR/bundles/ID ID".
 * There is no second way of starting a container here; the named
 * containers' verbs (cairn ps, exec, stop, logs, rm, stats) are the same
 * runtime's list, exec, kill, delete, events on DIR/runtime.
 *
 * ID is --name, or 12 random hex digits; the bundle directory is made
 * exclusively, so a name is used by one container at a time.  In the
 * foreground this process stays the container's parent (the runtime's run:
 * signals forwarded, the terminal relayed) and returns its status; without
 * --rm the container stays, stopped, with its status in BUNDLE/exit.
 *
 * --detach: a monitor process (as conmon is podman's) is forked off in a
 * session of its own and made a child subreaper; its child runs the
 * runtime's "run --detach", so that once that returns the container's init
 * is reparented to the monitor, which waits for it.  The container's
 * standard output and error go through a pipe (or with --tty a terminal
 * given on a console socket) into BUNDLE/ctr.log, which is renamed to
 * ctr.log.1 when it would grow past SIZE (default 1M): a detached
 * container's log never takes more than twice SIZE.  The caller gets the
 * container's id on stdout once it runs, or the runtime's error and status.
 *
 * Exit status as the launcher's: the command's, 125 when the container
 * could not be made, 126/127 when its command cannot be executed / is not
 * found.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

#define DEFAULT_LOG_SIZE (1LL << 20)

struct client
{
  const char *containers, *id;
  bool detach, rm, no_stdin;
  long long log_size;
  struct launch_config cfg;
  char *runtime, *bundle, *pidfile, *sock;
  int bundle_fd;
};

/* ---- options ---------------------------------------------------------------------- */
static int
client_opt (struct client *c, const char *a)
{
  long long v;
  if (!strncmp (a, "--containers=", 13))
    c->containers = a + 13;
  else if (!strncmp (a, "--name=", 7))
    c->id = a + 7;
  else if (!strcmp (a, "--detach"))
    c->detach = true;
  else if (!strcmp (a, "--rm"))
    c->rm = true;
  else if (!strcmp (a, "--no-stdin"))
    c->no_stdin = true;
  else if (!strncmp (a, "--log-size=", 11) && parse_size (a + 11, &v) == 0 && v >= 4096)
    c->log_size = v;
  else
    return 0;
  return 1;
}

static int
parse (int argc, char **argv, struct client *c)
{
  c->log_size = DEFAULT_LOG_SIZE;
  int i = 1;
  while (i < argc && client_opt (c, argv[i]))
    i++;
  if (!c->containers || c->containers[0] != '/')
    return launch_fail (EINVAL, "--oci-run needs --containers=/ABSOLUTE/DIR first", NULL);
  argv[i - 1] = argv[0];
  /* 1: --help or --version was answered; -1: the error is printed */
  int r = launch_parse_options (argc - i + 1, argv + i - 1, &c->cfg);
  return r > 0 ? 1 : r < 0 ? -1 : 0;
}

/* ---- the bundle ------------------------------------------------------------------------ */
static void
random_id (char out[13])
{
  unsigned char b[6] = { 0 };
  if (getrandom (b, sizeof b, 0) != (ssize_t)sizeof b)
    {
      uint64_t h = fnv1a64 (&b, sizeof b, (uint64_t)getpid () ^ (uint64_t)time (NULL));
      memcpy (b, &h, sizeof b);
    }
  for (int i = 0; i < 6; i++)
    snprintf (out + 2 * i, 3, "%02x", b[i]);
}

static int
make_bundle (struct client *c)
{
  static char gen[13];
  _cleanup_free_ char *bundles = xasprintf ("%s/bundles", c->containers);
  c->runtime = xasprintf ("%s/runtime", c->containers);
  int r = mkdir_p (bundles, 0700);
  if (r < 0)
    return r;
  for (int tries = 0;; tries++)
    {
      if (!c->id)
        random_id (gen);
      const char *id = c->id ? c->id : gen;
      if ((r = oci_validate_id (id)) < 0)
        return r;
      free (c->bundle);
      c->bundle = xasprintf ("%s/%s", bundles, id);
      if (mkdir (c->bundle, 0700) == 0)
        {
          c->id = id;
          break;
        }
      if (errno != EEXIST)
        return launch_fail (errno, "creating the container's directory", c->bundle);
      if (c->id)
        return launch_fail (EEXIST, "the name is in use by another container (cairn rm NAME)",
                            c->id);
      if (tries > 8)
        return launch_fail (EEXIST, "no free container id", NULL);
    }
  c->bundle_fd = open (c->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
  c->pidfile = xasprintf ("%s/pid", c->bundle);
  return c->bundle_fd < 0 ? launch_fail (errno, "opening", c->bundle) : 0;
}

static int
write_at (int dirfd, const char *name, const char *buf, size_t len)
{
  char tmp[64];
  snprintf (tmp, sizeof tmp, "%s.tmp", name);
  _cleanup_close_ int fd
      = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, buf, len) != (ssize_t)len || renameat (dirfd, tmp, dirfd, name) < 0)
    return launch_fail (errno ? errno : EIO, "writing the container's file", name);
  return 0;
}

/* A file of the bundle, which this process made exclusively (make_bundle):
 * nobody reads it before it is complete, no temporary name is needed. */
static int
write_new_at (int dirfd, const char *name, const char *buf, size_t len)
{
  _cleanup_close_ int fd
      = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, buf, len) != (ssize_t)len)
    return launch_fail (errno ? errno : EIO, "writing the container's file", name);
  return 0;
}

static int
write_config (struct client *c)
{
  _cleanup_free_ char *overlay = NULL;
  if ((c->cfg.writable || c->cfg.overlay_ro) && !c->cfg.overlay_upper)
    {
      overlay = xasprintf ("%s/overlay", c->bundle);
      if (mkdirat (c->bundle_fd, "overlay", 0700) < 0)
        return launch_fail (errno, "creating the overlay's directory", overlay);
    }
  const char *dir = c->cfg.overlay_upper ? c->cfg.overlay_upper : overlay;
  if (dir)
    {
      _cleanup_free_ char *up = xasprintf ("%s/upper", dir);
      _cleanup_free_ char *work = xasprintf ("%s/work", dir);
      int r = mkdir_p (up, 0755);
      if (r == 0)
        r = mkdir_p (work, 0700);
      if (r < 0)
        return r;
    }
  /* room for a config with the default seccomp profile (~22 kB): no
   * regrowth copies */
  struct jbuf b = { .p = xrealloc (NULL, 32 << 10), .cap = 32 << 10 };
  int r = oci_config_generate (&c->cfg, overlay, &b);
  if (r == 0)
    r = write_new_at (c->bundle_fd, "config.json", b.p, b.len);
  if (r == 0 && oci_handoff.sc_len)
    {
      /* kept for the runtime in this process (oci_spec_load) */
      oci_handoff.text = b.p;
      oci_handoff.len = b.len;
      return 0;
    }
  jb_free (&b);
  return r;
}

/* Remove DIR's tree (the overlay's work directory is made mode 000 by
 * overlayfs: opened again after a chmod). */
static void
rm_tree_at (int dfd, const char *name, int depth)
{
  if (unlinkat (dfd, name, 0) == 0 || errno == ENOENT || depth > 256)
    return;
  int fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat (dfd, name, 0700, 0) == 0)
    fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  fchmod (fd, 0700);
  DIR *d = fdopendir (fd);
  if (!d)
    {
      close (fd);
      return;
    }
  for (struct dirent *e; (e = readdir (d));)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      rm_tree_at (dirfd (d), e->d_name, depth + 1);
  closedir (d);
  unlinkat (dfd, name, AT_REMOVEDIR);
}

static void
remove_bundle (struct client *c)
{
  if (c->cfg.net_pasta)
    oci_pasta_stop (c->bundle);
  /* what a container without an overlay leaves: its files, then the
   * directory; anything else (the overlay's layers, a log) the walk */
  static const char *const files[] = { "config.json", "pid", "exit", "ctr.log", "ctr.log.1" };
  for (size_t i = 0; c->bundle_fd >= 0 && i < sizeof files / sizeof files[0]; i++)
    (void)unlinkat (c->bundle_fd, files[i], 0);
  if (rmdir (c->bundle) < 0)
    rm_tree_at (AT_FDCWD, c->bundle, 0);
}

static void
write_exit (struct client *c, int code)
{
  char buf[16];
  int n = snprintf (buf, sizeof buf, "%d\n", code);
  write_at (c->bundle_fd, "exit", buf, (size_t)n);
}

/* ---- running it through the runtime -------------------------------------------------- */
static int
runtime_verb (struct client *c, const char *const *verb)
{
  const char *argv[24];
  int n = 0;
  argv[n++] = "cairn-launch";
  argv[n++] = "--root";
  argv[n++] = c->runtime;
  if (c->cfg.seccomp_cache)
    {
      argv[n++] = "--seccomp-cache";
      argv[n++] = c->cfg.seccomp_cache;
    }
  for (; *verb && n < 23; verb++)
    argv[n++] = *verb;
  argv[n] = NULL;
  optind = 0;
  return oci_main (n, (char **)argv);
}

/* The runtime said why it failed (launch_errmsg); the launcher's status for
 * that: a command that is not there or cannot be executed, as the launcher's
 * own form and podman report it. */
static int
failure_code (void)
{
  const char *m = launch_errmsg ();
  if (m
      && (strstr (m, "command was not found") || strstr (m, "executable file not found")
          || strstr (m, ": command not found")))
    return EXIT_NOT_FOUND;
  if (m && strstr (m, "cannot execute the command"))
    return EXIT_CANNOT_EXEC;
  return EXIT_LAUNCH_ERROR;
}

static bool
started (struct client *c)
{
  return faccessat (c->bundle_fd, "pid", F_OK, 0) == 0;
}

static int
foreground (struct client *c)
{
  const char *verb[] = { "run",
                         "--bundle",
                         c->bundle,
                         "--pid-file",
                         c->pidfile,
                         c->rm ? c->id : "--keep",
                         c->rm ? NULL : c->id,
                         NULL };
  launch_fail (0, NULL, NULL);
  int code = runtime_verb (c, verb);
  bool ok = started (c);
  if (!ok || (code == EXIT_LAUNCH_ERROR && launch_errmsg ()))
    code = failure_code ();
  if (c->cfg.net_pasta)
    oci_pasta_stop (c->bundle);
  if (c->rm || !ok)
    remove_bundle (c);
  else
    write_exit (c, code);
  return code;
}

/* ---- the detached container's monitor ---------------------------------------------------- */
struct mon
{
  struct client *c;
  int log_fd, out_fd, master, sfd, report_fd;
  long long log_len;
  pid_t runner, init;
  char early[2048]; /* what the runtime said before the container ran */
  size_t early_len;
};

static void
log_open (struct mon *m)
{
  m->log_fd = openat (m->c->bundle_fd, "ctr.log",
                      O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st;
  m->log_len = m->log_fd >= 0 && fstat (m->log_fd, &st) == 0 ? st.st_size : 0;
}

static void
log_write (struct mon *m, const char *p, size_t n)
{
  if (m->runner > 0 && m->early_len < sizeof m->early)
    {
      size_t k = n < sizeof m->early - m->early_len ? n : sizeof m->early - m->early_len;
      memcpy (m->early + m->early_len, p, k);
      m->early_len += k;
    }
  if (m->log_len + (long long)n > m->c->log_size && m->log_len > 0)
    {
      close (m->log_fd);
      renameat (m->c->bundle_fd, "ctr.log", m->c->bundle_fd, "ctr.log.1");
      log_open (m);
    }
  if (m->log_fd >= 0 && write (m->log_fd, p, n) == (ssize_t)n)
    m->log_len += (long long)n;
}

static bool
pump_log (struct mon *m, int fd)
{
  char buf[16384];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n > 0)
    log_write (m, buf, (size_t)n);
  return n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN));
}

static int
console_listen (struct client *c)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  c->sock = xasprintf ("%s/console.sock", c->bundle);
  if (str_lcpy (sa.sun_path, c->sock, sizeof sa.sun_path) >= sizeof sa.sun_path)
    return launch_fail (ENAMETOOLONG, "the console socket's path is too long", c->sock);
  int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || bind (s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen (s, 1) < 0)
    return launch_fail (errno, "the console socket", c->sock);
  return s;
}

/* The terminal's master end, sent by the runtime during create. */
static int
console_accept (int s)
{
  _cleanup_close_ int conn = accept4 (s, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0)
    return -1;
  char data[64];
  struct iovec iov = { data, sizeof data };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  if (recvmsg (conn, &mh, MSG_CMSG_CLOEXEC) < 0)
    return -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  int fd = -1;
  if (cm && cm->cmsg_type == SCM_RIGHTS)
    memcpy (&fd, CMSG_DATA (cm), sizeof fd);
  return fd;
}

static void
report (struct mon *m, int code, const char *text, size_t len)
{
  char head[16];
  int n = snprintf (head, sizeof head, "%d\n", code);
  (void)!write (m->report_fd, head, (size_t)n);
  if (len)
    (void)!write (m->report_fd, text, len);
  close (m->report_fd);
  m->report_fd = -1;
}

static pid_t
read_pid (struct client *c)
{
  char buf[32];
  _cleanup_close_ int fd = openat (c->bundle_fd, "pid", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return (pid_t)strtol (buf, NULL, 10);
}

/* The runtime's "run --detach", in a child whose standard output and error
 * are the log (the container's init inherits them). */
static pid_t
spawn_runner (struct mon *m, int out_wr)
{
  struct client *c = m->c;
  pid_t p = fork ();
  if (p != 0)
    return p;
  close (m->report_fd);
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  dup2 (null, STDIN_FILENO);
  dup2 (out_wr, STDOUT_FILENO);
  dup2 (out_wr, STDERR_FILENO);
  const char *verb[] = { "run",
                         "--detach",
                         "--bundle",
                         c->bundle,
                         "--pid-file",
                         c->pidfile,
                         c->sock ? "--console-socket" : c->id,
                         c->sock,
                         c->id,
                         NULL };
  if (!c->sock)
    verb[7] = NULL;
  launch_fail (0, NULL, NULL);
  int code = runtime_verb (c, verb);
  _exit (code == 0 && started (c) ? 0 : failure_code ());
}

/* Until the runner is done: the container runs (0) or the runtime failed. */
static int
await_runner (struct mon *m, int sock)
{
  for (;;)
    {
      struct pollfd p[2] = { { m->out_fd, POLLIN, 0 }, { m->sfd, POLLIN, 0 } };
      if (poll (p, 2, -1) < 0 && errno != EINTR)
        return EXIT_LAUNCH_ERROR;
      if (p[0].revents && !pump_log (m, m->out_fd))
        p[0].revents = 0;
      struct signalfd_siginfo si;
      if ((p[1].revents & POLLIN) && read (m->sfd, &si, sizeof si) < 0)
        continue;
      int st;
      if (waitpid (m->runner, &st, WNOHANG) != m->runner)
        continue;
      m->runner = -1;
      int code = WIFEXITED (st) ? WEXITSTATUS (st) : EXIT_LAUNCH_ERROR;
      if (code == 0 && sock >= 0 && (m->master = console_accept (sock)) < 0)
        code = EXIT_LAUNCH_ERROR;
      return code;
    }
}

static int
await_container (struct mon *m)
{
  int status = -1;
  bool out_open = m->out_fd >= 0, master_open = m->master >= 0;
  int drain_ms = -1;
  bool reap = true; /* the init may be gone already, its SIGCHLD read by await_runner */
  while (status < 0 || out_open || master_open)
    {
      int st;
      pid_t w;
      while (reap && (w = waitpid (-1, &st, WNOHANG)) > 0)
        if (w == m->init)
          {
            status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
            drain_ms = 200;
          }
      reap = false;
      if (status >= 0 && !out_open && !master_open)
        break;
      struct pollfd p[3] = { { out_open ? m->out_fd : -1, POLLIN, 0 },
                             { master_open ? m->master : -1, POLLIN, 0 },
                             { m->sfd, POLLIN, 0 } };
      int n = poll (p, 3, drain_ms);
      if (n == 0)
        break; /* the container is gone; what still holds the pipe is not */
      if (p[0].revents && !pump_log (m, m->out_fd))
        out_open = false;
      if (p[1].revents && !pump_log (m, m->master))
        master_open = false;
      struct signalfd_siginfo si;
      reap = (p[2].revents & POLLIN) && read (m->sfd, &si, sizeof si) > 0;
      /* the monitor asked to end: the container is, so that the exit
       * status, the log and the pasta are seen to as usual */
      if (reap && si.ssi_signo != SIGCHLD && status < 0 && m->init > 0)
        kill (m->init, (int)si.ssi_signo);
    }
  return status < 0 ? EXIT_LAUNCH_ERROR : status;
}

static void __attribute__ ((noreturn)) monitor (struct client *c, int report_fd)
{
  struct mon m = { .c = c, .master = -1, .report_fd = report_fd };
  setsid ();
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++)
    dup2 (null, i);
  signal (SIGHUP, SIG_IGN);
  signal (SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigprocmask (SIG_BLOCK, &set, NULL);
  m.sfd = signalfd (-1, &set, SFD_CLOEXEC);
  int pipefd[2];
  if (pipe2 (pipefd, O_CLOEXEC) < 0 || m.sfd < 0)
    {
      report (&m, EXIT_LAUNCH_ERROR, "cairn-launch: monitor: pipe\n", 28);
      _exit (EXIT_LAUNCH_ERROR);
    }
  m.out_fd = pipefd[0];
  int sock = c->cfg.tty ? console_listen (c) : -1;
  log_open (&m);
  if (sock < -1)
    {
      const char *ctx = launch_errctx ();
      m.early_len = (size_t)snprintf (m.early, sizeof m.early, "cairn-launch: %s (%s): %s\n",
                                      launch_errmsg (), ctx ? ctx : "", strerror (-sock));
      m.early_len = m.early_len < sizeof m.early ? m.early_len : sizeof m.early - 1;
    }
  m.runner = sock < -1 ? -1 : spawn_runner (&m, pipefd[1]);
  close (pipefd[1]);
  int code = m.runner < 0 ? EXIT_LAUNCH_ERROR : await_runner (&m, sock);
  if (sock >= 0)
    {
      close (sock);
      unlink (c->sock);
    }
  if (code != 0 || (m.init = read_pid (c)) <= 0)
    {
      report (&m, code ? code : EXIT_LAUNCH_ERROR, m.early, m.early_len);
      remove_bundle (c);
      _exit (code ? code : EXIT_LAUNCH_ERROR);
    }
  report (&m, 0, NULL, 0);
  code = await_container (&m);
  if (c->cfg.net_pasta)
    oci_pasta_stop (c->bundle);
  if (c->rm)
    {
      const char *del[] = { "delete", "--force", c->id, NULL };
      runtime_verb (c, del);
      remove_bundle (c);
    }
  else
    write_exit (c, code);
  _exit (0);
}

static int
detached (struct client *c)
{
  int rp[2];
  fflush (NULL);
  pid_t p = pipe2 (rp, O_CLOEXEC) < 0 ? -1 : fork ();
  if (p < 0)
    {
      oci_report (launch_fail (errno, "starting the container's monitor", NULL));
      remove_bundle (c);
      return EXIT_LAUNCH_ERROR;
    }
  if (p == 0)
    {
      close (rp[0]);
      monitor (c, rp[1]);
    }
  close (rp[1]);
  char buf[4096];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read (rp[0], buf + len, sizeof buf - 1 - len)) != 0)
    if (n > 0)
      len += (size_t)n;
    else if (errno != EINTR)
      break;
  close (rp[0]);
  buf[len] = '\0';
  waitpid (p, NULL, WNOHANG);
  char *text = strchr (buf, '\n');
  int code = len ? atoi (buf) : EXIT_LAUNCH_ERROR;
  if (code == 0)
    {
      printf ("%s\n", c->id);
      return fflush (stdout) == 0 ? 0 : EXIT_LAUNCH_ERROR;
    }
  fputs (text && text[1] ? text + 1 : "cairn-launch: the container's monitor failed\n", stderr);
  return code;
}

/* The C library's thresholds set once, high enough that the config's
 * and the policies' buffers come from the heap, not from an mmap and
 * munmap each, and the heap is not given back between them. The pages
 * themselves are left to fault in as they are touched: making the whole
 * heap, data and stack present up front (MADV_POPULATE_WRITE) cost more
 * than the faults it saved (0.25-0.34 ms slower per warm run,
 * docs/performance.md), and a larger process is also slower to clone and
 * to end. */
static void
tune_malloc (void)
{
  enum
  {
    HEAP = 192 << 10 /* a cairn run used 145 kB of heap in all */
  };
  mallopt (M_MMAP_THRESHOLD, 2 * HEAP);
  mallopt (M_TRIM_THRESHOLD, 4 * HEAP);
}

int
oci_client_run (int argc, char **argv)
{
  struct client c;
  memset (&c, 0, sizeof c);
  c.bundle_fd = -1;
  tune_malloc ();
  int r = parse (argc, argv, &c);
  if (r != 0)
    return r > 0 ? 0 : EXIT_LAUNCH_ERROR;
  /* A stop asked for while the container is being made (its bundle, its
   * network) stays pending until the runtime's run forwards it to the
   * container: dying here would leave the pasta and its namespace behind. */
  sigset_t stop;
  sigemptyset (&stop);
  sigaddset (&stop, SIGINT);
  sigaddset (&stop, SIGTERM);
  sigaddset (&stop, SIGHUP);
  sigaddset (&stop, SIGQUIT);
  if (!c.detach)
    sigprocmask (SIG_BLOCK, &stop, NULL);
  /* the container's new network namespace, made by a thread while the
   * config is written and read (oci-create.c early_net); a detached run
   * forks first, and its runtime starts the thread itself */
  if (!c.detach && !c.cfg.net_host && !c.cfg.net_ns_path && !c.cfg.rootless)
    oci_netns_prepare ();
  r = make_bundle (&c);
  if (r == 0 && (r = write_config (&c)) < 0)
    remove_bundle (&c);
  if (r < 0)
    {
      oci_report (r);
      return EXIT_LAUNCH_ERROR;
    }
  if (c.no_stdin || c.detach)
    {
      int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null >= 0)
        dup2 (null, STDIN_FILENO);
    }
  oci_g.cairn_run = true;
  return c.detach ? detached (&c) : foreground (&c);
}
