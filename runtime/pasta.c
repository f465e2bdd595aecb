/* cairn-launch: pasta(1) on a container's network namespace.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * --net=pasta (oci-print.c) makes this binary a createRuntime hook of the
 * container:
 *
 *   cairn-launch --pasta-hook PASTA ARG...        (createRuntime)
 *   cairn-launch --pasta-hook --stop              (poststop)
 *
 * The hook reads the state (pid, bundle) on stdin, as every OCI hook does,
 * and execs "PASTA ARG... -P BUNDLE/pasta.pid TARGET": pasta configures the
 * namespace (--config-net), forks into the background and its first
 * process exits, which is when the hook is done and the container's set-up
 * goes on.  TARGET depends on who owns the namespace (pasta(1), OPTIONS):
 *
 *   - the container has a user namespace of its own (rootless): its PID;
 *     pasta joins that user namespace, where it may configure the network;
 *   - it shares ours (root): pasta, as root, drops to "nobody" unless told
 *     --runas 0 and cannot then open /proc/PID/ns/net from its sandbox, so
 *     the namespace is bound on BUNDLE/netns (as ip-netns(8) binds them in
 *     /run/netns) and given as --netns BUNDLE/netns.
 *
 * pasta outlives the container's processes (it holds the namespace), so
 * oci_pasta_stop() ends it by its pid file and removes the binding, when
 * the container exits (client.c) and again as the poststop hook, for a
 * container deleted by another path.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

static int
read_state (long *out_pid, char *bundle, size_t size)
{
  char buf[OCI_STATE_MAX];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf && (n = read (STDIN_FILENO, buf + len, sizeof buf - len)) > 0)
    len += (size_t)n;
  const char *err = NULL;
  size_t off;
  struct json *st = json_parse (buf, len, &err, &off);
  const struct json *pid = st ? json_get (st, "pid") : NULL;
  const struct json *b = st ? json_get (st, "bundle") : NULL;
  int64_t v = 0;
  int r = 0;
  if (!pid || json_i64 (pid, &v) < 0 || !b || !json_is (b, JSON_STR)
      || str_lcpy (bundle, b->s, size) >= size)
    r = launch_fail (EINVAL, "--pasta-hook: no pid and bundle in the state on stdin", NULL);
  *out_pid = (long)v;
  json_free (st);
  return r;
}

static bool
same_ns (long pid, const char *ns)
{
  char p[64];
  struct stat a, b;
  snprintf (p, sizeof p, "/proc/%ld/ns/%s", pid, ns);
  if (stat (p, &a) < 0)
    return false;
  snprintf (p, sizeof p, "/proc/self/ns/%s", ns);
  return stat (p, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* BUNDLE/netns: the container's network namespace bound on a file. */
static int
bind_netns (long pid, const char *path)
{
  char src[64];
  snprintf (src, sizeof src, "/proc/%ld/ns/net", pid);
  int fd = open (path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0)
    return launch_fail (errno, "creating the network namespace's file", path);
  close (fd);
  if (mount (src, path, NULL, MS_BIND, NULL) < 0)
    return launch_fail (errno, "binding the container's network namespace", path);
  return 0;
}

static int
start (int argc, char **argv)
{
  long pid;
  char bundle[PATH_MAX];
  int r = read_state (&pid, bundle, sizeof bundle);
  if (r < 0)
    return r;
  /* pasta opens the device in this mount namespace, as this user (it joins
   * the container's user and network namespaces only): a node kept to root
   * is named here rather than in pasta's "Failed to open tun socket" */
  _cleanup_close_ int tun = open ("/dev/net/tun", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tun < 0)
    return launch_fail (errno, "--net=pasta: pasta cannot open the tun device as this user",
                        "/dev/net/tun");
  _cleanup_free_ char *pidfile = xasprintf ("%s/pasta.pid", bundle);
  _cleanup_free_ char *nsfile = xasprintf ("%s/netns", bundle);
  _cleanup_free_ char *pidstr = xasprintf ("%ld", pid);
  char **args = xrealloc (NULL, (size_t)(argc + 8) * sizeof (char *));
  int n = 0;
  for (int i = 0; i < argc; i++)
    args[n++] = argv[i];
  args[n++] = (char *)"-P";
  args[n++] = pidfile;
  if (!same_ns (pid, "user"))
    args[n++] = pidstr;
  else
    {
      if ((r = bind_netns (pid, nsfile)) < 0)
        return r;
      if (geteuid () == 0)
        {
          args[n++] = (char *)"--runas";
          args[n++] = (char *)"0";
        }
      args[n++] = (char *)"--netns";
      args[n++] = nsfile;
    }
  args[n] = NULL;
  /* pasta refuses to start with SIGPIPE ignored ("Couldn't install signal
   * handlers"), as a detached container's monitor has it: defaults, all */
  sigset_t none;
  sigemptyset (&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execv (args[0], args);
  return launch_fail (errno, "executing pasta", args[0]);
}

void
oci_pasta_stop (const char *bundle)
{
  char buf[32];
  _cleanup_free_ char *pidfile = xasprintf ("%s/pasta.pid", bundle);
  _cleanup_free_ char *nsfile = xasprintf ("%s/netns", bundle);
  _cleanup_close_ int fd = open (pidfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  long pid = 0;
  if (n > 0)
    {
      buf[n] = '\0';
      pid = strtol (buf, NULL, 10);
    }
  /* only a pasta: the pid may have been reused since */
  char comm[64] = "", p[64];
  snprintf (p, sizeof p, "/proc/%ld/comm", pid);
  _cleanup_close_ int cfd = pid > 1 ? open (p, O_RDONLY | O_CLOEXEC) : -1;
  ssize_t cn = cfd < 0 ? -1 : read (cfd, comm, sizeof comm - 1);
  if (cn > 0
      && (comm[cn] = '\0', strncmp (comm, "pasta", 5) == 0 || strncmp (comm, "passt", 5) == 0))
    kill ((pid_t)pid, SIGTERM);
  unlink (pidfile);
  if (umount2 (nsfile, MNT_DETACH) == 0 || errno != ENOENT)
    unlink (nsfile);
}

int
oci_pasta_hook (int argc, char **argv)
{
  if (argc == 1 && strcmp (argv[0], "--stop") == 0)
    {
      long pid;
      char bundle[PATH_MAX];
      int r = read_state (&pid, bundle, sizeof bundle);
      if (r == 0)
        oci_pasta_stop (bundle);
      return r < 0 ? oci_report (r) : 0;
    }
  if (argc < 1 || argv[0][0] != '/')
    return oci_report (launch_fail (EINVAL, "usage: --pasta-hook /PATH/TO/pasta [ARG...]", NULL));
  return oci_report (start (argc, argv));
}
