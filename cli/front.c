/* cairn — the front-end binary.
 *
 * The commands are implemented by cairn-core (GLib, gpgme, libcrypto) and
 * cairn-full (the same plus libarchive, libcurl and libfuse3: ~55 shared
 * libraries, several ms more to start). This small plain-C program execs the
 * one a command needs — except for the two paths where start-up time is
 * the product: `cairn run` of an invocation that cairn-core approved
 * before, and a kernel `cairn mount` of a cached image that cairn-core
 * made before, while every input of that decision is unchanged
 * (cli/run-record.h): the record names the files the decision read and
 * the launcher command it executed or the mount it made, and this program
 * checks and replays it without deciding anything itself. Anything else
 * goes to cairn-core or cairn-full, which apply the whole policy.
 *
 * It is linked into the launcher's static binary, and `cairn` is a second
 * name of cairn-launch (main() at the end tells them apart): a replayed
 * run goes on into the launcher in this very process, one exec fewer on
 * the path a warm start takes. Nothing of the launcher runs before the
 * record is found valid, and the launcher's code is the same either way.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run-record.h"
#include "runtime/launch.h"

#define MAX_ARGS 4096

static int
in_list (const char *const *list, const char *s, size_t n)
{
  for (; *list; list++)
    if (strlen (*list) == n && strncmp (*list, s, n) == 0)
      return 1;
  return 0;
}

/* Path of a program beside this executable, else the installed one. */
static void
sibling (const char *name, const char *fallback_dir, char *out, size_t size)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        {
          *slash = '\0';
          int len = snprintf (out, size, "%s/%s", self, name);
          if (len > 0 && (size_t)len < size && access (out, X_OK) == 0)
            return;
        }
    }
  snprintf (out, size, "%s/%s", fallback_dir, name);
}

/* Exec cairn-full (CAIRN_FULL) or cairn-core (CAIRN_CORE). */
static void
exec_impl (char **argv, int full)
{
  char path[PATH_MAX];
  const char *env = getenv (full ? "CAIRN_FULL" : "CAIRN_CORE");
  if (env && *env)
    snprintf (path, sizeof path, "%s", env);
  else
    sibling (full ? "cairn-full" : "cairn-core", PKGLIBEXECDIR, path, sizeof path);
  execv (path, argv);
  fprintf (stderr, "cairn: cannot execute %s: %s\n", path, strerror (errno));
  exit (125);
}

/* Commands (or forms of them) that need libarchive, libcurl or libfuse3;
 * keep in step with CAIRN_COMMAND_IO in cli/cairn-commands.def. Anything
 * unknown (help, --version, typos) also goes to cairn-full, which lists and
 * explains every command. */
static int pull_needs_full (const char *repo_arg, int argc, char **argv, int i);

static int
needs_full (const char *repo_arg, int argc, char **argv, int i)
{
  static const char *const core[]
      = { "init",  "commit", "checkout",     "run",     "refs",   "rev-parse",
          "log",   "show",   "ls",           "cat",     "diff",   "fsck",
          "prune", "sign",   "verify",       "summary", "remote", "serve",
          "mount", "umount", "static-delta", "ps",      "exec",   "logs",
          "stop",  "kill",   "rm",           "stats",   NULL };
  if (i < argc && strcmp (argv[i], "pull") == 0)
    return pull_needs_full (repo_arg, argc, argv, i);
  if (i >= argc || !in_list (core, argv[i], strlen (argv[i])))
    return 1;
  /* Non-root users always get the FUSE view. */
  if ((strcmp (argv[i], "mount") == 0 || strcmp (argv[i], "umount") == 0) && geteuid () != 0)
    return 1;
  for (int j = i + 1; j < argc && strcmp (argv[j], "--") != 0; j++)
    {
      if (strcmp (argv[i], "commit") == 0
          && (strncmp (argv[j], "--tree=tar=", 11) == 0
              || (strcmp (argv[j], "--tree") == 0 && j + 1 < argc
                  && strncmp (argv[j + 1], "tar=", 4) == 0)))
        return 1;
      if (strcmp (argv[i], "run") == 0
          && (strcmp (argv[j], "--mount") == 0 || strncmp (argv[j], "--mount=", 8) == 0))
        return 1;
      /* The FUSE view (options only it takes) is cairn-full's; cairn-core
       * also hands it over when it finds the kernel mount cannot serve. */
      if (strcmp (argv[i], "mount") == 0 && argv[j][0] == '-' && argv[j][1] != '-'
          && strpbrk (argv[j], "fd"))
        return 1;
      if (strcmp (argv[i], "mount") == 0
          && (strcmp (argv[j], "--fuse") == 0 || strcmp (argv[j], "--foreground") == 0
              || strcmp (argv[j], "--debug") == 0 || strcmp (argv[j], "--verify") == 0
              || strncmp (argv[j], "--cache-size", 12) == 0
              || strncmp (argv[j], "--threads", 9) == 0))
        return 1;
    }
  return 0;
}

static ssize_t
read_small (int dfd, const char *name, char *buf, size_t size)
{
  int fd = openat (dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  size_t len = 0;
  ssize_t n;
  while (len < size && (n = read (fd, buf + len, size - len)) > 0)
    len += n;
  close (fd);
  return len < size ? (ssize_t)len : -1;
}

static void
repo_path (const char *given, char *out, size_t size)
{
  const char *env = getenv ("CAIRN_REPO");
  if (given)
    snprintf (out, size, "%s", given);
  else if (env && *env)
    snprintf (out, size, "%s", env);
  else if (getuid () == 0)
    snprintf (out, size, "/var/lib/cairn/repo");
  else
    {
      const char *xdg = getenv ("XDG_DATA_HOME"), *home = getenv ("HOME");
      if (xdg && *xdg)
        snprintf (out, size, "%s/cairn/repo", xdg);
      else
        snprintf (out, size, "%s/.local/share/cairn/repo", home ? home : "/");
    }
}

/* The url= of [remote "NAME"] in a repo config; 0 when absent. */
static int
config_remote_url (const char *config, const char *name, char *out, size_t size)
{
  char header[128];
  if (snprintf (header, sizeof header, "[remote \"%s\"]", name) >= (int)sizeof header)
    return 0;
  const char *sec = strstr (config, header);
  while (sec && sec != config && sec[-1] != '\n')
    sec = strstr (sec + 1, header);
  if (!sec)
    return 0;
  for (const char *l = strchr (sec, '\n'); l && l[1] && l[1] != '['; l = strchr (l + 1, '\n'))
    {
      const char *k = l + 1;
      while (*k == ' ' || *k == '\t')
        k++;
      if (strncmp (k, "url", 3) != 0)
        continue;
      k += 3;
      while (*k == ' ' || *k == '\t')
        k++;
      if (*k != '=')
        continue;
      k++;
      while (*k == ' ' || *k == '\t')
        k++;
      size_t n = strcspn (k, "\r\n");
      if (n == 0 || n >= size)
        return 0;
      memcpy (out, k, n);
      out[n] = '\0';
      return 1;
    }
  return 0;
}

/* pull: a path, file:// or ssh:// source is handled by cairn-core (the
 * local and ssh transports need no libcurl); http(s) and docker:// (the
 * registry client) by cairn-full. A
 * remote name is looked up in the repo's config; whatever is unclear (no
 * source, an unknown remote) goes to cairn-full, which handles every form. */
static int
pull_needs_full (const char *repo_arg, int argc, char **argv, int i)
{
  enum
  {
    CONFIG_MAX = 64 * 1024
  };
  /* options that take the next argument as their value */
  static const char *const value_opts[]
      = { "--depth", "--keyring",  "-b",         "--branch", "--platform",
          "--creds", "--authfile", "--cert-dir", "--jobs",   NULL };
  const char *src = NULL;
  for (int j = i + 1; j < argc && !src; j++)
    {
      if (strcmp (argv[j], "--") == 0)
        src = j + 1 < argc ? argv[j + 1] : NULL;
      else if (argv[j][0] != '-')
        src = argv[j];
      else if (in_list (value_opts, argv[j], strlen (argv[j])))
        j++;
      else if (strcmp (argv[j], "-h") == 0 || strcmp (argv[j], "--help") == 0)
        return 1;
    }
  if (!src || strncmp (src, "http://", 7) == 0 || strncmp (src, "https://", 8) == 0
      || strncmp (src, "docker://", 9) == 0)
    return 1;
  if (strncmp (src, "file://", 7) == 0 || strncmp (src, "ssh://", 6) == 0 || strchr (src, '/'))
    return 0;
  char repo[PATH_MAX], url[4096];
  repo_path (repo_arg, repo, sizeof repo);
  int rfd = open (repo, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    return 1;
  /* on the heap, only for this path: this binary is also the launcher */
  char *config = malloc (CONFIG_MAX);
  ssize_t clen = config ? read_small (rfd, "config", config, CONFIG_MAX - 1) : -1;
  close (rfd);
  if (clen < 0)
    {
      free (config);
      return 1;
    }
  config[clen] = '\0';
  int is_remote = config_remote_url (config, src, url, sizeof url);
  free (config);
  if (!is_remote)
    {
      /* Not a remote: a relative path to a repository is a local pull. */
      char probe[PATH_MAX];
      if ((size_t)snprintf (probe, sizeof probe, "%s/config", src) >= sizeof probe)
        return 1;
      return access (probe, R_OK) != 0;
    }
  return !(strncmp (url, "file://", 7) == 0 || strncmp (url, "ssh://", 6) == 0 || url[0] == '/');
}

/* A run whose network is its own (not the host's, not one joined): its
 * namespace can be started beside while the record is checked and the
 * config written (runtime/oci-create.c early_net). A guess from the
 * command line only: a replay the runtime finds without such a namespace
 * drops it, and an exec of cairn-core ends the thread. */
static bool
own_network (int argc, char **argv, int i)
{
  if (geteuid () != 0)
    return false; /* rootless: a user namespace owns the container's */
  for (int j = i + 1; j < argc && strcmp (argv[j], "--") != 0; j++)
    {
      const char *a = argv[j], *v = NULL;
      if (strncmp (a, "--net=", 6) == 0)
        v = a + 6;
      else if (strncmp (a, "--network=", 10) == 0)
        v = a + 10;
      else if ((strcmp (a, "--net") == 0 || strcmp (a, "--network") == 0) && j + 1 < argc)
        v = argv[j + 1];
      if (v && (strcmp (v, "host") == 0 || strncmp (v, "ns:", 3) == 0))
        return false;
    }
  return true;
}

static int
front_main (int argc, char **argv)
{
  const char *repo = NULL;
  int i, verbose = 0;
  for (i = 1; i < argc; i++)
    {
      if (strncmp (argv[i], "--repo=", 7) == 0)
        repo = argv[i] + 7;
      else if (strcmp (argv[i], "--repo") == 0 && i + 1 < argc)
        repo = argv[++i];
      else if (strcmp (argv[i], "-v") == 0 || strcmp (argv[i], "--verbose") == 0)
        verbose = 1; /* -v run prints the launcher command: cairn-core does */
      else
        break;
    }
  if (i < argc && strcmp (argv[i], "run") == 0 && !verbose && !getenv ("CAIRN_NO_FAST_RUN"))
    {
      if (own_network (argc, argv, i))
        launch_prepare_netns ();
      cairn_run_record_replay (argc, argv, launch_main);
    }
  /* a kernel mount of a cached image that cairn-core made before */
  if (i < argc && strcmp (argv[i], "mount") == 0 && !verbose && geteuid () == 0
      && !getenv ("CAIRN_NO_FAST_MOUNT"))
    cairn_mount_record_replay (argc, argv);
  exec_impl (argv, needs_full (repo, argc, argv, i));
  return 125;
}

/* The binary's entry point: `cairn` and `cairn-launch` are two names of one
 * executable (Makefile-runtime.am), told apart by the name it was run by,
 * so that a warm `cairn run` goes on into the launcher in this process
 * (cli/run-record.c) instead of exec()ing it. Any other name (an engine's
 * runtime path, /dev/init in a container) is the launcher's. */
int
main (int argc, char **argv)
{
  launch_note_exec_strings (argv);
  const char *base = argc > 0 && argv[0] ? strrchr (argv[0], '/') : NULL;
  base = base ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
  if (strcmp (base, "cairn") == 0)
    return front_main (argc, argv);
  return launch_main (argc, argv);
}
