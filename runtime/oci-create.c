/* cairn-launch: create, start and run (the runtime side of the container's
 * birth).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * create: config.json is read and checked, the state directory made (and
 * locked), the config copied into it, the exec fifo made, the seccomp BPF
 * compiled (or taken from the cache), the cgroups planned; then one clone()
 * with the new namespaces (the network and cgroup ones are unshared by the
 * child, the network one while the parent works on the cgroups).  The
 * parent writes the id maps ('g'), creates the cgroups and writes the
 * limits ('c'), runs prestart and createRuntime when the child asks ('H'),
 * hands the terminal to --console-socket, and once the child reports it is
 * ready ('R') records the state and exits.  The child then waits, blocked
 * opening the exec fifo, as the runtime spec's "created" container.  It has
 * no parent death signal by then: it survives create's exit and is
 * reparented to the caller's subreaper (conmon, containerd-shim) or init.
 *
 * start: opens the fifo for reading, which lets the child go on; reads its
 * '0', removes the fifo, then reads until end of file: the child's end of
 * the fifo is close-on-exec, so end of file means the command was exec'd
 * (or an 'E' message says why not).  Then the poststart hooks.
 *
 * run: create and start in one process, which stays as the container's
 * parent: it forwards signals, relays the terminal when there is no
 * --console-socket, and deletes the container when it exits; --detach
 * returns after start instead.  The new child runs on its parent's CPU
 * once the parent blocks (measured on a 2-CPU VM: the idle CPU is not
 * used for it), so run does its own work before the clone (the cgroups,
 * the fifo's reading end) or while the child waits on nothing: the state
 * and pid file are written once the command has been exec'd, under the
 * state directory's lock that every reader takes (nobody sees the
 * container "created").
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"
#include "runtime/seccomp-policy.h"

struct create_opts
{
  const char *id, *bundle, *pid_file, *console_socket;
  bool no_pivot, detach, run, keep;
  int preserve_fds;
};

struct ctx
{
  struct create_opts *o;
  struct oci_spec spec;
  struct oci_plan plan;
  struct oci_state st;
  int rootfd, dirfd, sync_fd;
  pid_t child;
  int master;  /* run without --console-socket: the pty to relay */
  int fifo_rd; /* run: the exec fifo's reading end, open before the child is ready */
};

/* ---- the network namespace, made beside -------------------------------------------- */
/* A new network namespace is the longest single step of a container's
 * start (~0.9 ms on a VM: every per-namespace subsystem set up, the
 * loopback device registered with its sysctl tables), and it needs nothing
 * of the container. When the container gets a new one and no user
 * namespace (so that the host's user namespace owns it either way), a
 * thread of ours makes it, with lo up, while we write and read the config
 * and prepare the rest, and the child joins it (setns) instead of
 * unsharing: on a machine with a second CPU the step leaves the start's
 * critical path. cairn's front end starts the thread before it checks a
 * warm run's record, cairn run's client before it writes config.json
 * (oci_netns_prepare, launch_prepare_netns), the runtime otherwise once it
 * has read the config; the runtime drops a namespace the config does not
 * use. The thread is joined before the clone (which copies no lock it
 * might hold). If it fails, the child unshares as before and reports its
 * own error. */
static struct
{
  pthread_t thread;
  bool started;
  int fd;
} early_net = { .fd = -1 };

/* System calls only: no allocation, no error state shared with the main
 * thread. */
static void *
early_net_main (void *arg)
{
  (void)arg;
  const char *what;
  if (unshare (CLONE_NEWNET) == 0 && net_lo_up_raw (&what) == 0)
    early_net.fd = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  return NULL;
}

/* The CPU we run on (-1 when we may run on no other: nothing to overlap),
 * and in *SET the CPUs we may run on. */
static int
cpu_with_others (cpu_set_t *set)
{
  int here = sched_getcpu ();
  if (here < 0 || sched_getaffinity (0, sizeof *set, set) < 0 || !CPU_ISSET (here, set)
      || CPU_COUNT (set) < 2)
    return -1;
  return here;
}

void
oci_netns_prepare (void)
{
  /* on another CPU than ours: left to itself the scheduler often put it
   * on this one, where it ran before us or waited until we blocked (a VM's
   * idle CPU is slow to wake, and a new task's first choice is its
   * parent's); measured 0.4-0.9 ms per warm start better pinned. With one
   * CPU there is nothing to overlap: no thread, the child unshares. */
  cpu_set_t set;
  int here = cpu_with_others (&set);
  pthread_attr_t a;
  if (early_net.started || here < 0 || pthread_attr_init (&a) != 0)
    return;
  CPU_CLR (here, &set);
  pthread_attr_setstacksize (&a, 64 << 10);
  pthread_attr_setaffinity_np (&a, sizeof set, &set);
  early_net.started = pthread_create (&early_net.thread, &a, early_net_main, NULL) == 0;
  pthread_attr_destroy (&a);
}

void
launch_prepare_netns (void)
{
  oci_netns_prepare ();
}

/* The namespace the thread made (ours to close), or -1. */
static int
early_net_take (void)
{
  if (!early_net.started)
    return -1;
  pthread_join (early_net.thread, NULL);
  early_net.started = false;
  int fd = early_net.fd;
  early_net.fd = -1;
  return fd;
}

/* A new network namespace that the host's user namespace owns: none of the
 * container's own, none joined by path. */
static bool
wants_early_net (const struct oci_spec *s)
{
  if (!(s->ns_new & CLONE_NEWNET))
    return false;
  for (size_t i = 0; i < s->n_ns; i++)
    if (s->ns[i].type == CLONE_NEWUSER)
      return false;
  return true;
}

/* ---- small pieces ------------------------------------------------------------------ */
int
oci_write_pid_file (const char *path, pid_t pid)
{
  if (!path)
    return 0;
  _cleanup_free_ char *tmp = xasprintf ("%s.%ld.tmp", path, (long)getpid ());
  char buf[24];
  snprintf (buf, sizeof buf, "%ld", (long)pid);
  _cleanup_close_ int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write (fd, buf, strlen (buf)) != (ssize_t)strlen (buf))
    return launch_failf (errno ? errno : EIO, "writing the pid file %s", path);
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return launch_failf (e, "writing the pid file %s", path);
    }
  return 0;
}

/* runc's protocol: the pty master as SCM_RIGHTS over a unix stream socket. */
int
oci_send_console (const char *sock_path, int master)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (str_lcpy (sa.sun_path, sock_path, sizeof sa.sun_path) >= sizeof sa.sun_path)
    return launch_failf (ENAMETOOLONG, "--console-socket path too long: %s", sock_path);
  _cleanup_close_ int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect (s, (struct sockaddr *)&sa, sizeof sa) < 0)
    return launch_failf (errno, "connecting to the console socket %s", sock_path);
  char name[] = "/dev/ptmx";
  if (send_with_fd (s, name, sizeof name - 1, master) < 0)
    return launch_failf (errno, "sending the terminal to the console socket %s", sock_path);
  return 0;
}

static int
copy_config (int bundlefd, int dirfd)
{
  /* cairn run's bundle is its own and never changes after create: a link
   * is the copy, without a new file's data written (a copy if they are on
   * two file systems) */
  if (oci_g.cairn_run && linkat (bundlefd, "config.json", dirfd, "config.json", 0) == 0)
    return 0;
  _cleanup_close_ int in = openat (bundlefd, "config.json", O_RDONLY | O_CLOEXEC);
  _cleanup_close_ int out
      = openat (dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (in < 0 || out < 0)
    return launch_failf (errno, "copying config.json into the state directory");
  char buf[65536];
  ssize_t n;
  while ((n = read (in, buf, sizeof buf)) > 0)
    if (write (out, buf, (size_t)n) != n)
      return launch_failf (errno, "copying config.json into the state directory");
  return n < 0 ? launch_failf (errno, "reading config.json") : 0;
}

static int
move_high (int *fd, int min)
{
  if (*fd >= min)
    return 0;
  int n = fcntl (*fd, F_DUPFD_CLOEXEC, min);
  if (n < 0)
    return launch_failf (errno, "fcntl");
  close (*fd);
  *fd = n;
  return 0;
}

/* ---- checks that need more than config.json's own grammar ------------------------------- */
/* The container has its own namespace of TYPE: a new one, or one given by a
 * path that is not the runtime's own (runc's rule for sysctls). */
static bool
own_ns (const struct oci_spec *s, int type, const char *self)
{
  for (size_t i = 0; i < s->n_ns; i++)
    {
      if (s->ns[i].type != type)
        continue;
      if (!s->ns[i].path)
        return true;
      struct stat a, b;
      return stat (s->ns[i].path, &a) == 0 && stat (self, &b) == 0
             && (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
    }
  return false;
}

static bool
sysctl_ok (const struct oci_spec *s, const char *k)
{
  bool ipc = own_ns (s, CLONE_NEWIPC, "/proc/self/ns/ipc");
  bool net = own_ns (s, CLONE_NEWNET, "/proc/self/ns/net");
  bool uts = own_ns (s, CLONE_NEWUTS, "/proc/self/ns/uts");
  if (ipc
      && (!strcmp (k, "kernel.msgmax") || !strcmp (k, "kernel.msgmnb")
          || !strcmp (k, "kernel.msgmni") || !strcmp (k, "kernel.sem")
          || !strcmp (k, "kernel.shmall") || !strcmp (k, "kernel.shmmax")
          || !strcmp (k, "kernel.shmmni") || !strcmp (k, "kernel.shm_rmid_forced")
          || !strncmp (k, "fs.mqueue.", 10)))
    return true;
  if (uts && (!strcmp (k, "kernel.hostname") || !strcmp (k, "kernel.domainname")))
    return true;
  return net && !strncmp (k, "net.", 4);
}

static int
check_spec (struct oci_spec *s, bool rootless)
{
  int r = oci_spec_check_host (s, rootless);
  if (r < 0)
    return r;
  for (size_t i = 0; i < s->n_sysctl; i++)
    if (!sysctl_ok (s, s->sysctl[i].key) || strstr (s->sysctl[i].key, "..")
        || strchr (s->sysctl[i].key, '/'))
      return launch_failf (EINVAL,
                           "config: linux.sysctl: %s is not namespaced in this container (it "
                           "would change the host)",
                           s->sysctl[i].key);
  /* a uts namespace joined by path is the container's own: the names are
   * set there, as runc and crun do; never in the runtime's own */
  if ((s->hostname || s->domainname) && !own_ns (s, CLONE_NEWUTS, "/proc/self/ns/uts"))
    return launch_failf (EINVAL,
                         "config: hostname/domainname need a uts namespace of the container's "
                         "own (new, or joined by a path that is not the runtime's)");
  /* not root: only a new user namespace gives the capabilities to make the
   * others; root of a user namespace (podman's rootless mode runs the
   * runtime in its own) has them already */
  if (rootless && geteuid () != 0 && !(s->ns_new & CLONE_NEWUSER))
    return launch_failf (EINVAL, "config: rootless containers need a new user namespace "
                                 "(linux.namespaces: user)");
  for (size_t i = 0; i < s->n_ns; i++)
    {
      if (s->ns[i].type == CLONE_NEWUSER && s->ns[i].path)
        return launch_failf (ENOTSUP,
                             "config: linux.namespaces: joining a user namespace by path is not "
                             "supported by cairn-launch");
      /* they are joined before the new user namespace is made (two steps,
       * oci-child.c); a pid namespace entered so would belong to another
       * user namespace, where the container's root could not mount /proc */
      if (s->ns[i].path && s->ns[i].type == CLONE_NEWPID && (s->ns_new & CLONE_NEWUSER))
        return launch_failf (
            ENOTSUP,
            "config: linux.namespaces: joining a pid namespace by path (%s) together "
            "with a new user namespace is not supported by cairn-launch",
            s->ns[i].path);
    }
  /* id-mapped mounts: the parent makes them (mount_setattr(2) wants
   * CAP_SYS_ADMIN in the user namespace that owns the source's file
   * system: the host's) with the container's new user namespace */
  for (size_t i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].idmap
        && (rootless || (!s->mounts[i].n_uidmap && !(s->ns_new & CLONE_NEWUSER))))
      return launch_failf (ENOTSUP,
                           "config: mounts: %s: an id-mapped mount (idmap, ridmap) needs its own "
                           "uidMappings/gidMappings or a new user namespace (linux.namespaces: "
                           "user), and a runtime running as root (not rootless)",
                           s->mounts[i].dst);
  /* without a mount namespace of its own the container's "/" is the
   * runtime's: its propagation is not the container's to set */
  if (s->rootfs_prop && !own_ns (s, CLONE_NEWNS, "/proc/self/ns/mnt"))
    return launch_failf (EINVAL,
                         "config: linux.rootfsPropagation needs a mount namespace of the "
                         "container's own (new, or joined by a path that is not the runtime's)");
  return 0;
}

/* ---- preparing ----------------------------------------------------------------------- */
static int
open_ns_paths (struct oci_spec *s)
{
  for (size_t i = 0; i < s->n_ns; i++)
    {
      if (!s->ns[i].path)
        continue;
      s->ns[i].fd = open (s->ns[i].path, O_RDONLY | O_CLOEXEC);
      if (s->ns[i].fd < 0)
        return launch_failf (errno, "linux.namespaces: cannot open %s", s->ns[i].path);
      if (s->ns[i].type == CLONE_NEWPID)
        {
          /* a pid namespace is entered by the next child: join it here */
          if (setns (s->ns[i].fd, CLONE_NEWPID) < 0)
            return launch_failf (errno, "linux.namespaces: joining the pid namespace %s",
                                 s->ns[i].path);
          close (s->ns[i].fd);
          s->ns[i].fd = -1;
        }
    }
  return 0;
}

/* process.args is "OCI_INIT_PATH --container-init CMD..." and OCI_INIT_PATH
 * a bind of this very binary (what --print-oci-config writes for --init):
 * the container's process then runs that init's code (init.c) in process
 * rather than exec'ing it.  What the container gets is the same: the init
 * is confined as the exec'd one would be (identity, capabilities, seccomp,
 * no_new_privs, all applied before), non-dumpable, its /proc/1/exe the
 * launcher binary, which stays busy while it runs, its cmdline and environ
 * the exec's (oci-child.c builtin_init_strings); the exec of a 2 MB
 * static binary was a third of a warm `cairn run`'s start. */
/* @v's strings one after the other, each with its NUL (as exec lays out
 * the arguments and the environment of a process). */
static char *
join_strings (char **v, size_t *out_len)
{
  size_t n = 0;
  for (char **x = v; x && *x; x++)
    n += strlen (*x) + 1;
  char *buf = xrealloc (NULL, n ? n : 1), *p = buf;
  for (char **x = v; x && *x; x++)
    p = stpcpy (p, *x) + 1;
  if (!n)
    buf[0] = '\0';
  *out_len = n ? n : 1;
  return buf;
}

static bool
builtin_init_ok (const struct oci_spec *s)
{
  char **a = s->proc.args;
  if (!a || !a[0] || strcmp (a[0], OCI_INIT_PATH) != 0 || !a[1]
      || strcmp (a[1], "--container-init") != 0 || !a[2])
    return false;
  const struct oci_mount *m = NULL;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp (s->mounts[i].dst, OCI_INIT_PATH) == 0)
      m = &s->mounts[i]; /* the last mount there is what the container sees */
  struct stat self, src;
  return m && m->kind == OM_BIND && m->src && stat ("/proc/self/exe", &self) == 0
         && stat (m->src, &src) == 0 && self.st_dev == src.st_dev && self.st_ino == src.st_ino;
}

static int
prepare_plan (struct ctx *c)
{
  struct oci_plan *p = &c->plan;
  struct oci_spec *s = &c->spec;
  p->spec = s;
  p->cg = &c->st.cg;
  p->last_cap = caps_last_cap ();
  p->preserve_fds = c->o->preserve_fds;
  p->userns = s->ns_new & CLONE_NEWUSER;
  for (size_t i = 0; p->userns && i < s->n_ns; i++)
    p->two_step |= s->ns[i].path != NULL;
  p->rootless = oci_g.is_rootless;
  p->unpriv = p->userns || p->rootless;
  p->no_pivot = c->o->no_pivot;
  p->own_mnt = own_ns (s, CLONE_NEWNS, "/proc/self/ns/mnt");
  if (!p->own_mnt)
    {
      /* the mounts go to the runtime's own namespace: delete takes them
       * away again (oci_unmount_shared) */
      struct stat ns;
      c->st.shared_root = xstrdup (s->root);
      c->st.shared_mntns = stat ("/proc/self/ns/mnt", &ns) == 0 ? (unsigned long long)ns.st_ino : 0;
    }
  p->want_pty = s->proc.terminal;
  p->has_hooks_parent = s->n_hooks[HOOK_PRESTART] || s->n_hooks[HOOK_CREATE_RUNTIME];
  /* not in a user namespace: there the exec also gives the init's memory
   * to that namespace, whose owner's exec (and hooks) must open its
   * /proc/PID/ns; without the exec it would stay the host's */
  p->builtin_init = !p->unpriv && builtin_init_ok (s);
  if (p->builtin_init)
    {
      p->init_strings[0] = join_strings (s->proc.args, &p->init_strings_len[0]);
      p->init_strings[1] = join_strings (s->proc.env, &p->init_strings_len[1]);
    }
  /* in a user namespace whose setgroups is denied (unshare -r, podman's
   * single mapping) the groups cannot be changed: only additionalGids is
   * then an error */
  char sg[16] = "";
  int sgfd = open ("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (sgfd >= 0)
    {
      (void)!read (sgfd, sg, sizeof sg - 1);
      close (sgfd);
    }
  p->setgroups_ok = strncmp (sg, "deny", 4) != 0;
  p->no_maps = !p->userns;
  for (size_t i = 0; i < s->n_mounts; i++)
    p->no_maps &= !s->mounts[i].idmap;
  int r = 0;
  if (s->seccomp)
    r = seccomp_compile_policy (s->seccomp, oci_g.seccomp_cache, &p->bpf);
  if (r < 0)
    return r;
  /* In a new user namespace the child is no longer allowed to write the
   * host's cgroup files: the parent moves it then. */
  if (c->st.cg.mode == 1 && !p->userns)
    {
      p->self_attach = true;
      p->cg_tasks = xrealloc (NULL, (c->st.cg.n + 2) * sizeof (char *));
      size_t k = 0;
      for (size_t i = 0; i < c->st.cg.n; i++)
        p->cg_tasks[k++] = xasprintf ("%s/tasks", c->st.cg.dir[i]);
      if (c->st.cg.unified_dir)
        p->cg_tasks[k++] = xasprintf ("%s/cgroup.procs", c->st.cg.unified_dir);
      p->cg_tasks[k] = NULL;
    }
  return open_ns_paths (s);
}

static int
make_fifo (struct ctx *c)
{
  /* writable by the init even when it is another uid (a user namespace
   * with mappings), whatever our umask */
  if (mkfifoat (c->dirfd, "exec.fifo", 0622) < 0 || fchmodat (c->dirfd, "exec.fifo", 0622, 0) < 0)
    return launch_failf (errno, "creating the exec fifo of %s", c->o->id);
  c->plan.fifo_fd = openat (c->dirfd, "exec.fifo", O_PATH | O_CLOEXEC);
  if (c->plan.fifo_fd < 0)
    return launch_failf (errno, "opening the exec fifo of %s", c->o->id);
  return 0;
}

/* ---- id maps ------------------------------------------------------------------------- */
static int
write_map_file (pid_t pid, const char *name, const char *content)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%ld/%s", (long)pid, name);
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (write (fd, content, strlen (content)) < 0)
    return -errno;
  return 0;
}

static char *
map_text (const struct oci_idmap *m, size_t n, unsigned long self)
{
  struct jbuf b = { 0 };
  if (n == 0)
    jb_printf (&b, "0 %lu 1\n", self);
  for (size_t i = 0; i < n; i++)
    jb_printf (&b, "%u %u %u\n", m[i].inside, m[i].outside, m[i].size);
  return b.p;
}

/* newuidmap/newgidmap (shadow's setuid helpers) for ranges an unprivileged
 * user may not write itself. */
static int
map_helper (const char *helper, pid_t pid, const struct oci_idmap *m, size_t n)
{
  char *argv[3 + 3 * 340 + 1];
  char bufs[3 * 340][12];
  char pidbuf[24];
  size_t a = 0;
  snprintf (pidbuf, sizeof pidbuf, "%ld", (long)pid);
  argv[a++] = (char *)helper;
  argv[a++] = pidbuf;
  for (size_t i = 0; i < n; i++)
    {
      snprintf (bufs[3 * i], 12, "%u", m[i].inside);
      snprintf (bufs[3 * i + 1], 12, "%u", m[i].outside);
      snprintf (bufs[3 * i + 2], 12, "%u", m[i].size);
      argv[a++] = bufs[3 * i];
      argv[a++] = bufs[3 * i + 1];
      argv[a++] = bufs[3 * i + 2];
    }
  argv[a] = NULL;
  pid_t h = fork ();
  if (h == 0)
    {
      char *envp[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL };
      execvpe (helper, argv, envp);
      _exit (127);
    }
  int st;
  if (h < 0 || waitpid (h, &st, 0) < 0 || !WIFEXITED (st) || WEXITSTATUS (st) != 0)
    return -EPERM;
  return 0;
}

static int
write_id_maps (struct ctx *c)
{
  const struct oci_spec *s = &c->spec;
  _cleanup_free_ char *um = map_text (s->uidmap, s->n_uidmap, (unsigned long)geteuid ());
  _cleanup_free_ char *gm = map_text (s->gidmap, s->n_gidmap, (unsigned long)getegid ());
  int r = write_map_file (c->child, "uid_map", um);
  if (r == -EPERM && s->n_uidmap)
    r = map_helper ("newuidmap", c->child, s->uidmap, s->n_uidmap);
  if (r < 0)
    return launch_failf (-r, "writing the uid map of the container (linux.uidMappings%s)",
                         oci_g.is_rootless ? "; rootless: only your own uid, unless newuidmap and "
                                             "/etc/subuid allow more"
                                           : "");
  int g = write_map_file (c->child, "gid_map", gm);
  if (g == -EPERM)
    {
      /* an unprivileged single mapping needs setgroups denied first */
      if (write_map_file (c->child, "setgroups", "deny") == 0)
        {
          c->plan.setgroups_ok = false;
          g = write_map_file (c->child, "gid_map", gm);
        }
      if (g < 0 && s->n_gidmap)
        g = map_helper ("newgidmap", c->child, s->gidmap, s->n_gidmap);
    }
  if (g < 0)
    return launch_failf (-g, "writing the gid map of the container (linux.gidMappings)");
  return 0;
}

/* ---- talking to the child -------------------------------------------------------------- */
/* A user namespace with M's own mappings, for its id-mapped mount: a child
 * made in a new one (it waits on a pipe), its maps written, its namespace
 * opened, the child ended.  The fd, or -errno. */
static int
mount_userns (const struct oci_mount *m)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return launch_failf (errno, "pipe");
  pid_t pid = (pid_t)syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0)
    {
      char b;
      close (p[1]);
      (void)!read (p[0], &b, 1);
      _exit (0);
    }
  close (p[0]);
  int r = pid < 0 ? launch_failf (errno, "creating a user namespace for the mount %s", m->dst) : 0;
  _cleanup_free_ char *um = r == 0 ? map_text (m->uidmap, m->n_uidmap, 0) : NULL;
  _cleanup_free_ char *gm = r == 0 ? map_text (m->gidmap, m->n_gidmap, 0) : NULL;
  if (r == 0
      && ((r = write_map_file (pid, "uid_map", um)) < 0
          || (r = write_map_file (pid, "gid_map", gm)) < 0))
    r = launch_failf (-r, "config: mounts: %s: writing its uidMappings/gidMappings", m->dst);
  int fd = -1;
  if (r == 0)
    {
      char path[64];
      snprintf (path, sizeof path, "/proc/%ld/ns/user", (long)pid);
      if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
        r = launch_failf (errno, "opening the user namespace of the mount %s", m->dst);
    }
  close (p[1]);
  if (pid > 0)
    while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
      ;
  return r < 0 ? r : fd;
}

/* The id-mapped binds, in mount order: each source cloned as a detached
 * tree (open_tree(2), recursive for rbind), mapped with the container's
 * user namespace (mount_setattr(2) MOUNT_ATTR_IDMAP; every mount of the
 * tree for ridmap) and sent to the child, which attaches it in its own
 * mount namespace (move_mount(2), oci-mounts.c). */
static int
send_idmapped (struct ctx *c)
{
  const struct oci_spec *s = &c->spec;
  _cleanup_close_ int userns = -1;
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const struct oci_mount *m = &s->mounts[i];
      if (!m->idmap)
        continue;
      _cleanup_close_ int own = -1;
      if (m->n_uidmap && (own = mount_userns (m)) < 0)
        return own;
      if (own < 0 && userns < 0)
        {
          char path[64];
          snprintf (path, sizeof path, "/proc/%ld/ns/user", (long)c->child);
          if ((userns = open (path, O_RDONLY | O_CLOEXEC)) < 0)
            return launch_failf (errno, "opening the container's user namespace");
        }
      _cleanup_close_ int t = open_tree (
          AT_FDCWD, m->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m->rec ? AT_RECURSIVE : 0));
      if (t < 0)
        return launch_failf (errno, "config: mounts: %s: cloning %s for an id-mapped mount", m->dst,
                             m->src);
      struct mount_attr a
          = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)(own >= 0 ? own : userns) };
      if (mount_setattr (t, "", AT_EMPTY_PATH | (m->idmap_rec ? AT_RECURSIVE : 0), &a, sizeof a)
          < 0)
        return launch_failf (errno,
                             "config: mounts: %s: id-mapping %s (does its file system support "
                             "id-mapped mounts?)",
                             m->dst, m->src);
      if (send_with_fd (c->sync_fd, "i", 1, t) < 0)
        return launch_failf (errno, "sending an id-mapped mount to the container");
    }
  return 0;
}

static int
send_byte (struct ctx *c, char b)
{
  if (send (c->sync_fd, &b, 1, MSG_NOSIGNAL) != 1 && errno != EPIPE)
    return launch_failf (errno, "waking the container's init");
  return 0;
}

static int
send_failed (int err)
{
  if (err == EPIPE || err == ECONNRESET)
    return launch_failf (EPIPE, "the container's init exited during its setup");
  return launch_failf (err, "sending the state to the container's init");
}

/* The container's pid as the container sees it: the last NSpid field of
 * /proc/PID/status (1 in a new pid namespace). */
static pid_t
pid_inside (pid_t pid)
{
  char path[64], buf[2048];
  snprintf (path, sizeof path, "/proc/%ld/status", (long)pid);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return pid;
  buf[n] = '\0';
  char *line = strstr (buf, "\nNSpid:");
  if (!line)
    return pid;
  char *end = strchr (line + 1, '\n');
  if (end)
    *end = '\0';
  char *last = strrchr (line, '\t');
  long v = last ? strtol (last + 1, NULL, 10) : 0;
  return v > 0 ? (pid_t)v : pid;
}

/* prestart, createRuntime (in the runtime's namespaces) and then
 * createContainer and startContainer (in the container's, sent to the
 * init).  They run after the environment is created, step 2 of the runtime
 * spec's lifecycle, so the status they get is "created" (runtime-spec
 * runtime.md, "State"); the pid is the one the hook's namespace sees
 * ("pid" in the same section). */
static int
parent_hooks (struct ctx *c)
{
  struct jbuf b = { 0 }, in = { 0 };
  if (!c->st.start_time)
    oci_proc_start_time (c->child, &c->st.start_time);
  oci_state_json (&c->st, ST_CREATED, &b, false);
  int r = oci_hooks_run (&c->spec, HOOK_PRESTART, b.p);
  if (r == 0)
    r = oci_hooks_run (&c->spec, HOOK_CREATE_RUNTIME, b.p);
  struct oci_state inside = c->st;
  inside.pid = pid_inside (c->child);
  jb_raw (&in, "h");
  oci_state_json (&inside, ST_CREATED, &in, false);
  if (r == 0 && in.len >= OCI_STATE_MAX)
    r = launch_failf (E2BIG, "the container's state is too large for its hooks");
  if (r == 0 && send (c->sync_fd, in.p, in.len, MSG_NOSIGNAL) < 0)
    r = send_failed (errno);
  jb_free (&in);
  if (r == 0 && c->spec.seccomp_listener)
    {
      /* the runtime-spec's containerProcessState, for the listener */
      struct jbuf l = { 0 };
      jb_printf (&l, "l{\"ociVersion\":\"1.1.0\",\"fds\":[\"seccompFd\"],\"pid\":%ld,",
                 (long)c->child);
      jb_raw (&l, "\"metadata\":");
      jb_str (&l, c->spec.seccomp_listener_meta ? c->spec.seccomp_listener_meta : "");
      /* the process is not started yet: the listener sees "creating", as
         under runc, while the hooks above see "created" */
      jb_raw (&l, ",\"state\":");
      oci_state_json (&c->st, ST_CREATING, &l, false);
      jb_raw (&l, "}");
      if (l.len >= OCI_STATE_MAX)
        r = launch_failf (E2BIG, "the containerProcessState is too large");
      else if (send (c->sync_fd, l.p, l.len, MSG_NOSIGNAL) < 0)
        r = send_failed (errno);
      jb_free (&l);
    }
  jb_free (&b);
  return r;
}

static int
on_pty (struct ctx *c, int master)
{
  if (c->o->console_socket)
    {
      int r = oci_send_console (c->o->console_socket, master);
      close (master);
      return r;
    }
  if (c->o->run && !c->o->detach)
    {
      c->master = master;
      return 0;
    }
  close (master);
  return launch_failf (EINVAL, "process.terminal is true: --console-socket is needed");
}

/* Until the child is ready ('R').  Errors from the child are reported as
 * its message. */
static int
converse (struct ctx *c)
{
  for (;;)
    {
      struct launch_msg m;
      int fd = -1;
      int got = launch_recv_msg (c->sync_fd, &m, &fd);
      if (got <= 0)
        return launch_failf (EPIPE, "the container's init exited during its setup");
      int r = 0;
      if (m.kind == MSG_ERROR)
        {
          m.text[sizeof m.text - 1] = '\0';
          return launch_failf (m.err ? m.err : EINVAL, "%s", m.text);
        }
      if (m.kind == MSG_PTY && fd >= 0)
        r = on_pty (c, fd);
      else if (m.kind == OMSG_HOOKS)
        r = parent_hooks (c);
      else if (m.kind == OMSG_READY)
        return 0;
      if (r < 0)
        return r;
    }
}

/* ---- clone and the parent's side ----------------------------------------------------- */
static int
clone_flags (const struct oci_spec *s)
{
  return (s->ns_new & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUSER))
         | SIGCHLD;
}

/* Limits other than device rules: a user without a delegated cgroup has
 * no device controller either, and its devices are bind mounts of the
 * host's, which it may open or not as itself (runc ignores them rootless). */
static bool
limits_besides_devices (const struct oci_spec *s)
{
  struct oci_resources r = s->res;
  r.n_dev = 0;
  return s->has_resources && oci_resources_any (&r);
}

/* The cgroups and their limits, made after the clone, on another CPU than
 * the child's (hand_cpu): the child makes its namespaces and mounts
 * meanwhile and waits for them ('c') only when it reaches its cgroup mounts,
 * which it makes last (oci-mounts.c). Made before the clone, they were
 * measured 0.2-0.6 ms slower per warm start on a two-CPU VM
 * (docs/performance.md). Putting the child in is its own work (self_attach)
 * or enter_cgroups(). */
static int
create_cgroups (struct ctx *c)
{
  if (!c->st.cg.mode)
    return 0;
  int r = oci_cgroups_create (&c->spec, &c->st.cg, oci_g.is_rootless);
  if (r < 0 && oci_g.is_rootless && !limits_besides_devices (&c->spec))
    {
      /* rootless without limits: no cgroups rather than no container (crun) */
      oci_log_warn ("%s: running without cgroups", launch_errmsg ());
      oci_cgroups_destroy (&c->st.cg);
      oci_cgroups_clear (&c->st.cg);
      c->plan.self_attach = false;
      if (c->plan.cg_tasks)
        c->plan.cg_tasks[0] = NULL;
      return 0;
    }
  return r;
}

static int
enter_cgroups (struct ctx *c)
{
  return !c->plan.self_attach && c->st.cg.mode ? oci_cgroups_enter (&c->st.cg, c->child) : 0;
}

static int
expect (struct ctx *c, int kind, struct launch_msg *m)
{
  int fd = -1;
  if (launch_recv_msg (c->sync_fd, m, &fd) <= 0)
    return launch_failf (EPIPE, "the container's init exited during its setup");
  if (fd >= 0)
    close (fd);
  if (m->kind == MSG_ERROR)
    {
      m->text[sizeof m->text - 1] = '\0';
      return launch_failf (m->err ? m->err : EINVAL, "%s", m->text);
    }
  return m->kind == kind ? 0
                         : launch_failf (EPROTO, "unexpected message from the container's init");
}

/* The two-step start (oci-child.c two_step): maps for the first child,
 * then the init's pid; the first child exits. */
static int
first_step (struct ctx *c)
{
  struct launch_msg m;
  int r = expect (c, OMSG_USERNS, &m);
  if (r == 0)
    r = write_id_maps (c);
  if (r == 0)
    r = send_idmapped (c);
  if (r == 0)
    r = send_byte (c, c->plan.setgroups_ok ? 'g' : 'G');
  if (r == 0)
    r = expect (c, OMSG_PID, &m);
  while (waitpid (c->child, NULL, 0) < 0 && errno == EINTR)
    ;
  if (r < 0)
    {
      c->child = -1;
      return r;
    }
  c->child = (pid_t)m.err;
  c->st.pid = c->child;
  return 0;
}

/* The state directory's config.json and state.json, written while the
 * child makes its namespaces and mounts (it reads neither), and before any
 * cgroup is made; until they are there the directory is locked by us, and
 * what a create killed before leaves (its exec fifo, no process, no
 * cgroup) delete --force removes (oci-state.c oci_state_remove_unborn). */
static int
record_created (struct ctx *c)
{
  _cleanup_close_ int bfd = open (c->spec.bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = bfd < 0 ? launch_failf (errno, "bundle %s", c->spec.bundle) : copy_config (bfd, c->dirfd);
  return r < 0 ? r : oci_state_write (c->dirfd, &c->st);
}

/* The CPU we run on goes to the child, and we to another, for what we do
 * while it makes its namespaces and mounts (the state, the cgroups): a new
 * process is put on its parent's CPU, where it waited until we blocked,
 * or on an idle one, which a VM is slow to wake. Before the clone our
 * affinity is narrowed to this CPU, so that the child is born here (it
 * widens its own again first thing: oci-child.c), after it to the others
 * (leave_cpu); ours is given back once the cgroups are made. Measured
 * ~0.2 ms per warm start on two CPUs (docs/performance.md). */
static void
hand_cpu (struct oci_plan *p)
{
  p->affinity_set = false;
  int here = cpu_with_others (&p->affinity);
  if (here < 0)
    return;
  cpu_set_t one;
  CPU_ZERO (&one);
  CPU_SET (here, &one);
  p->affinity_set = sched_setaffinity (0, sizeof one, &one) == 0;
}

static void
leave_cpu (const struct oci_plan *p)
{
  cpu_set_t others = p->affinity;
  int here = sched_getcpu ();
  if (here >= 0)
    CPU_CLR (here, &others);
  if (CPU_COUNT (&others) > 0)
    sched_setaffinity (0, sizeof others, &others);
}

static int
spawn (struct ctx *c)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return launch_failf (errno, "socketpair");
  int min = 3 + c->o->preserve_fds + 16;
  if (move_high (&sv[0], min) < 0 || move_high (&sv[1], min) < 0
      || move_high (&c->plan.fifo_fd, min) < 0)
    return -EBADF;
  c->plan.sync_fd = sv[1];
  c->sync_fd = sv[0];
  /* run starts the container as soon as it is ready: with the fifo's
   * reading end open already, the child's open for writing does not wait
   * for us (we record the state meanwhile); nobody sees the container
   * "created", since we hold its state directory's lock until it runs.
   * Opened before the clone, closed by the child with our other fds. */
  if (c->o->run)
    c->fifo_rd = openat (c->dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int pfds[4] = { c->dirfd, c->rootfd, sv[0], c->fifo_rd };
  memcpy (c->plan.parent_fds, pfds, sizeof pfds);
  fflush (NULL);
  hand_cpu (&c->plan);
  int flags = c->plan.two_step ? SIGCHLD : clone_flags (&c->spec);
  pid_t child = (pid_t)syscall (SYS_clone, flags, 0, 0, 0, 0);
  if (child < 0 && c->plan.affinity_set)
    sched_setaffinity (0, sizeof c->plan.affinity, &c->plan.affinity);
  if (child < 0)
    return launch_failf (errno, "clone (%s)",
                         errno == EINVAL || errno == EPERM ? "are user namespaces allowed?"
                                                           : "creating the namespaces");
  if (child == 0)
    {
      oci_child_main (&c->plan);
    }
  close (sv[1]);
  c->child = child;
  c->st.pid = child;
  if (c->plan.affinity_set)
    leave_cpu (&c->plan);
  /* its id maps first, if it has any to wait for ('g', before anything
   * else: no_maps), then the state and the cgroups while it makes its
   * namespaces and mounts; the start time and the rest of our bookkeeping
   * wait until it is ready (converse) */
  int r = c->plan.two_step ? first_step (c) : 0;
  if (r == 0 && !c->plan.two_step && c->plan.userns)
    r = write_id_maps (c);
  if (r == 0 && !c->plan.two_step && !c->plan.no_maps)
    r = send_idmapped (c);
  if (r == 0 && !c->plan.two_step && !c->plan.no_maps)
    r = send_byte (c, c->plan.setgroups_ok ? 'g' : 'G');
  if (r == 0)
    r = record_created (c);
  if (r == 0)
    r = create_cgroups (c);
  if (r == 0)
    r = enter_cgroups (c);
  if (r == 0)
    r = send_byte (c, c->st.cg.mode ? 'c' : 'C');
  if (c->plan.affinity_set)
    sched_setaffinity (0, sizeof c->plan.affinity, &c->plan.affinity);
  if (r == 0)
    r = converse (c);
  if (!c->st.start_time)
    oci_proc_start_time (c->child, &c->st.start_time);
  return r;
}

static void
init_state (struct ctx *c)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  c->st.id = xstrdup (c->o->id);
  c->st.bundle = xstrdup (c->spec.bundle);
  c->st.oci_version = xstrdup (c->spec.oci_version);
  c->st.created_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  c->st.rootless = oci_g.is_rootless;
  c->st.owner = geteuid ();
  /* start and delete read the config again only for hooks it has */
  for (int k = 0; k < HOOK_KINDS; k++)
    if (c->spec.n_hooks[k])
      c->st.hooks |= 1 << k;
  if (c->spec.annotations)
    {
      struct jbuf b = { 0 };
      jb_value (&b, c->spec.annotations);
      c->st.annotations_json = b.p;
    }
}

/* Undo a create that failed half-way: nothing of it may be left. */
static void
abort_create (struct ctx *c)
{
  if (c->child > 0)
    {
      kill (c->child, SIGKILL);
      while (waitpid (c->child, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  oci_cgroups_destroy (&c->st.cg);
  oci_unmount_shared (&c->st);
  if (c->dirfd >= 0)
    oci_state_remove_dir (c->rootfd, c->o->id, c->dirfd);
}

static int
do_create (struct ctx *c)
{
  c->rootfd = c->dirfd = c->sync_fd = -1;
  c->master = -1;
  c->fifo_rd = -1;
  c->plan.fifo_fd = -1;
  c->plan.netns_fd = -1;
  int r = oci_spec_load (c->o->bundle, &c->spec);
  if (r == 0)
    r = check_spec (&c->spec, oci_g.is_rootless);
  bool early = r == 0 && wants_early_net (&c->spec);
  if (early)
    oci_netns_prepare ();
  else
    {
      int fd = early_net_take (); /* one the client started for nothing */
      if (fd >= 0)
        close (fd);
    }
  if (r == 0 && (c->rootfd = oci_root_open (true)) < 0)
    r = c->rootfd;
  if (r == 0)
    r = oci_state_create_dir (c->rootfd, c->o->id, &c->dirfd);
  if (r < 0)
    {
      int fd = early_net_take ();
      if (fd >= 0)
        close (fd);
      return r;
    }
  init_state (c);
  r = make_fifo (c);
  if (r == 0)
    r = oci_cgroups_plan (&c->spec, c->o->id, oci_g.is_rootless, &c->st.cg);
  if (r == 0)
    r = prepare_plan (c);
  if (early)
    c->plan.netns_fd = early_net_take ();
  if (r == 0)
    r = spawn (c);
  if (c->plan.netns_fd >= 0)
    close (c->plan.netns_fd);
  c->plan.netns_fd = -1;
  /* run records the container once it is started (run_start) */
  if (r == 0 && !c->o->run)
    {
      c->st.created_done = true;
      r = oci_state_write (c->dirfd, &c->st);
    }
  if (r == 0 && !c->o->run)
    r = oci_write_pid_file (c->o->pid_file, c->child);
  if (r < 0)
    {
      int saved = r;
      const char *msg = launch_errmsg ();
      char keep[512];
      str_lcpy (keep, msg, sizeof keep);
      abort_create (c);
      return launch_failf (-saved, "%s", keep);
    }
  return 0;
}

/* ---- start ------------------------------------------------------------------------------- */
/* FIFO_RD: the fifo's reading end if the caller opened it (run), or -1 */
static int
release (int dirfd, const char *id, pid_t pid, unsigned long long start_time, int fifo_rd)
{
  _cleanup_close_ int fd
      = fifo_rd >= 0 ? fifo_rd : openat (dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return launch_failf (errno, "opening the exec fifo of %s", id);
  char c = 0;
  for (int spins = 0;; spins++)
    {
      ssize_t n = read (fd, &c, 1);
      if (n == 1)
        break;
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return launch_failf (errno, "reading the exec fifo of %s", id);
      if (!oci_pid_alive (pid, start_time))
        return launch_failf (ESRCH, "container %s is not running: its init exited before start",
                             id);
      struct pollfd p = { fd, POLLIN, 0 };
      if (poll (&p, 1, spins < 1000 ? 1 : 50) > 0 && !(p.revents & POLLIN))
        {
          struct timespec ts = { 0, 200000 };
          nanosleep (&ts, NULL);
        }
    }
  unlinkat (dirfd, "exec.fifo", 0);
  /* until the exec closes the child's end: EOF, or 'E' and why it failed */
  fcntl (fd, F_SETFL, 0);
  char msg[600];
  ssize_t n, got = 0;
  while ((n = read (fd, msg + got, sizeof msg - 1 - (size_t)got)) > 0)
    got += n;
  if (got > 0 && msg[0] == 'E')
    {
      msg[got] = '\0';
      return launch_failf (ENOEXEC, "container %s: %s", id, msg + 1);
    }
  return 0;
}

static void
run_poststart (int dirfd, const struct oci_state *st)
{
  struct oci_spec s;
  if (st->hooks >= 0 && !(st->hooks & (1 << HOOK_POSTSTART)))
    return;
  if (oci_spec_load_hooks (dirfd, &s) == 0 && s.n_hooks[HOOK_POSTSTART])
    {
      struct jbuf b = { 0 };
      oci_state_json (st, ST_RUNNING, &b, false);
      oci_hooks_run_warn (&s, HOOK_POSTSTART, b.p, "poststart");
      jb_free (&b);
    }
  oci_spec_free (&s);
}

static int
start_locked (int dirfd, const char *id, struct oci_state *st)
{
  enum oci_status s = oci_state_status (dirfd, st);
  if (s != ST_CREATED)
    return launch_failf (EINVAL, "cannot start container %s: it is %s, not created", id,
                         oci_status_name (s));
  int r = release (dirfd, id, st->pid, st->start_time, -1);
  if (r == 0)
    {
      /* kill holds a signal for a program that has just started
       * (oci_cmd_kill): it needs to know when */
      struct timespec ts;
      clock_gettime (CLOCK_MONOTONIC, &ts);
      st->started_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
      if (oci_state_write (dirfd, st) < 0)
        oci_log_warn ("%s", launch_errmsg ());
      run_poststart (dirfd, st);
    }
  return r;
}

/* run: the container this process has just made, and holds locked, is
 * started at once (its child runs on our CPU while we wait for its exec:
 * recording it first would only delay it), then recorded as created and
 * started in one write, its pid file written, the poststart hooks run. */
static int
run_start (struct ctx *c)
{
  int r = release (c->dirfd, c->o->id, c->st.pid, c->st.start_time, c->fifo_rd);
  c->fifo_rd = -1;
  if (r < 0)
    return r;
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  c->st.started_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  c->st.created_done = true;
  r = oci_state_write (c->dirfd, &c->st);
  if (r == 0)
    r = oci_write_pid_file (c->o->pid_file, c->child);
  if (r == 0)
    run_poststart (c->dirfd, &c->st);
  return r;
}

/* ---- command lines ------------------------------------------------------------------------- */
static int
parse_create (int argc, char **argv, struct create_opts *o, const char *verb)
{
  static const struct option opts[] = { { "bundle", required_argument, NULL, 'b' },
                                        { "pid-file", required_argument, NULL, 'p' },
                                        { "console-socket", required_argument, NULL, 'c' },
                                        { "no-pivot", no_argument, NULL, 'P' },
                                        { "no-new-keyring", no_argument, NULL, 'K' },
                                        { "preserve-fds", required_argument, NULL, 'f' },
                                        { "detach", no_argument, NULL, 'd' },
                                        { "keep", no_argument, NULL, 'k' },
                                        { "no-subreaper", no_argument, NULL, 'S' },
                                        { NULL, 0, NULL, 0 } };
  int opt;
  memset (o, 0, sizeof *o);
  o->bundle = ".";
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long (argc, argv, "+b:d", opts, NULL)) != -1)
    {
      char *end;
      switch (opt)
        {
        case 'b':
          o->bundle = optarg;
          break;
        case 'p':
          o->pid_file = optarg;
          break;
        case 'c':
          o->console_socket = optarg;
          break;
        case 'P':
          o->no_pivot = true;
          break;
        case 'd':
          o->detach = true;
          break;
        case 'k':
          o->keep = true;
          break;
        case 'K':
        case 'S':
          break; /* no session keyring is made; no subreaper is used */
        case 'f':
          o->preserve_fds = (int)strtol (optarg, &end, 10);
          if (*end || o->preserve_fds < 0 || o->preserve_fds > 1024)
            return oci_usage_err (verb, "--preserve-fds needs a number");
          break;
        default:
          return oci_usage_err (verb, "unknown option or missing argument");
        }
    }
  if (optind != argc - 1)
    return oci_usage_err (verb, "exactly one container id is needed");
  o->id = argv[optind];
  return 0;
}

int
oci_cmd_create (int argc, char **argv)
{
  struct create_opts o;
  struct ctx c;
  memset (&c, 0, sizeof c);
  int r = parse_create (argc, argv, &o, "create");
  if (r)
    return r;
  c.o = &o;
  r = do_create (&c);
  return r < 0 ? oci_report (r) : 0;
}

int
oci_cmd_start (int argc, char **argv)
{
  if (argc != 2)
    return oci_usage_err ("start", "exactly one container id is needed");
  _cleanup_close_ int rootfd = oci_root_open (false);
  _cleanup_close_ int dfd = oci_state_lock (rootfd, argv[1], LOCK_EX);
  if (dfd < 0)
    return oci_report (dfd);
  struct oci_state st;
  int r = oci_state_read (dfd, argv[1], &st);
  if (r == 0)
    r = start_locked (dfd, argv[1], &st);
  oci_state_clear (&st);
  return r < 0 ? oci_report (r) : 0;
}

/* A container of cairn run kept after its exit (no --rm) keeps its bundle
 * and its status until cairn rm; its cgroups are of no more use once
 * nothing is left in them, and one that nobody removes would keep them for
 * good (empty cgroups pile up under cairn's parent, and a new cpuset one
 * walks all its siblings).  Only when empty: a process left behind (in
 * the host's pid namespace) keeps them, for delete to kill it as before. */
static void
release_cgroups (struct ctx *c)
{
  flock (c->dirfd, LOCK_EX);
  struct stat sb;
  pid_t *pids = NULL;
  size_t n = 0;
  if (fstat (c->dirfd, &sb) == 0 && sb.st_nlink > 0 && c->st.cg.n + !!c->st.cg.unified_dir > 0
      && oci_cgroups_pids (&c->st.cg, &pids, &n) == 0 && n == 0
      && oci_cgroups_destroy (&c->st.cg) == 0)
    {
      int mode = c->st.cg.mode;
      oci_cgroups_clear (&c->st.cg);
      c->st.cg.mode = mode;
      if (oci_state_write (c->dirfd, &c->st) < 0)
        oci_log_warn ("%s", launch_errmsg ());
    }
  free (pids);
  flock (c->dirfd, LOCK_UN);
}

int
oci_cmd_run (int argc, char **argv)
{
  struct create_opts o;
  struct ctx c;
  memset (&c, 0, sizeof c);
  int r = parse_create (argc, argv, &o, "run");
  if (r)
    return r;
  o.run = true;
  c.o = &o;
  /* the container's exit must reach us even when we are not its parent's
   * subreaper target: we are its parent */
  sigset_t chld;
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_BLOCK, &chld, NULL);
  if ((r = do_create (&c)) < 0)
    return oci_report (r);
  r = run_start (&c);
  if (r < 0)
    {
      oci_report (r);
      oci_delete_container (c.rootfd, o.id, c.dirfd, &c.st, true);
      return EXIT_LAUNCH_ERROR;
    }
  if (o.detach)
    return 0;
  /* the state directory stays locked by us only while we set up */
  flock (c.dirfd, LOCK_UN);
  int code = oci_foreground (c.child, c.master);
  if (!o.keep)
    {
      flock (c.dirfd, LOCK_EX);
      struct stat sb;
      if (fstat (c.dirfd, &sb) == 0 && sb.st_nlink > 0)
        oci_delete_container (c.rootfd, o.id, c.dirfd, &c.st, true);
    }
  else if (oci_g.cairn_run)
    release_cgroups (&c);
  return code;
}
