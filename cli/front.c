/* cairn — the front-end binary.
 *
 * The commands are implemented by cairn-core (GLib, gpgme, libcrypto) and
 * cairn-full (the same plus libarchive, libcurl and libfuse3: ~55 shared
 * libraries, several ms more to start). This small plain-C program execs the
 * one a command needs — except for the one path where start-up time is the
 * product: `cairn run` of a commit whose checkout is already cached and for
 * which no signature check applies. That path reads the ref file, takes the
 * checkout's shared lock and execs cairn-launch directly, with the image
 * defaults that cairn-full recorded beside the checkout
 * (checkouts/<commit>.launch). Whenever anything is not plainly so (an
 * option it does not know, a remote ref, a signature requirement anywhere in
 * the config, no cached checkout), it hands over to cairn-full, which applies
 * the whole policy.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 4096

static const char *const value_opts[]
    = { "hostname", "net",  "user", "env",        "workdir", "bind",    "tmpfs",    "overlay-upper",
        "memory",   "pids", "cpus", "cpu-weight", "seccomp", "cap-add", "cap-drop", NULL };
static const char *const flag_opts[]
    = { "clear-env", "tty", "init", "no-init", "writable", "rootless", NULL };

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
      = { "init",   "commit",  "checkout", "run",   "refs", "rev-parse", "log",
          "show",   "ls",      "cat",      "diff",  "fsck", "prune",     "sign",
          "verify", "summary", "remote",   "serve", NULL };
  if (i < argc && strcmp (argv[i], "pull") == 0)
    return pull_needs_full (repo_arg, argc, argv, i);
  if (i >= argc || !in_list (core, argv[i], strlen (argv[i])))
    return 1;
  for (int j = i + 1; j < argc && strcmp (argv[j], "--") != 0; j++)
    {
      if (strcmp (argv[i], "commit") == 0
          && (strncmp (argv[j], "--tree=tar=", 11) == 0
              || (strcmp (argv[j], "--tree") == 0 && j + 1 < argc
                  && strncmp (argv[j + 1], "tar=", 4) == 0)))
        return 1;
      if (strcmp (argv[i], "run") == 0 && strcmp (argv[j], "--mount") == 0)
        return 1;
    }
  return 0;
}

static int
is_hex64 (const char *s)
{
  size_t i;
  for (i = 0; s[i]; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return i == 64;
}

/* A plain local ref name: [A-Za-z0-9_][A-Za-z0-9._-]* fragments. Anything
 * else (remote refs, ^, prefixes) is cairn-full's business. */
static int
plain_ref (const char *s)
{
  int start = 1;
  if (!*s)
    return 0;
  for (; *s; s++)
    {
      char c = *s;
      int word
          = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (c == '/')
        {
          if (start)
            return 0;
          start = 1;
          continue;
        }
      if (!word && !(!start && (c == '-' || c == '.')))
        return 0;
      start = 0;
    }
  return !start;
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

typedef struct
{
  const char *ref;
  char *opts[MAX_ARGS];
  int n_opts;
  char **cmd;
  int n_cmd;
  int have_user, have_workdir;
} Run;

/* Recognise exactly what cairn-full's run accepts; 0 = hand over. */
static int
parse_run (int argc, char **argv, int i, Run *r)
{
  for (i++; i < argc; i++)
    {
      const char *a = argv[i];
      if (strncmp (a, "--", 2) != 0 || a[2] == '\0')
        break;
      const char *eq = strchr (a, '=');
      size_t n = eq ? (size_t)(eq - a - 2) : strlen (a + 2);
      if (r->n_opts >= MAX_ARGS - 1)
        return 0;
      if (in_list (value_opts, a + 2, n))
        {
          const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
          if (!val)
            return 0;
          char *o = malloc (n + strlen (val) + 4);
          if (!o)
            return 0;
          sprintf (o, "--%.*s=%s", (int)n, a + 2, val);
          r->opts[r->n_opts++] = o;
          r->have_user |= n == 4 && strncmp (a + 2, "user", 4) == 0;
          r->have_workdir |= n == 7 && strncmp (a + 2, "workdir", 7) == 0;
        }
      else if (!eq && in_list (flag_opts, a + 2, n))
        r->opts[r->n_opts++] = (char *)a;
      else
        return 0; /* --require-signed, --keyring, --mount, --help, unknown */
    }
  if (i >= argc || argv[i][0] == '-')
    return 0;
  r->ref = argv[i++];
  if (i < argc && strcmp (argv[i], "--") == 0)
    i++;
  r->cmd = argv + i;
  r->n_cmd = argc - i;
  return 1;
}

static int
resolve_commit (int repo_dfd, const char *ref, char out[65])
{
  if (is_hex64 (ref))
    {
      memcpy (out, ref, 65);
      return 1;
    }
  if (!plain_ref (ref) || strlen (ref) > 1024)
    return 0;
  char path[1100], buf[80];
  snprintf (path, sizeof path, "refs/heads/%s", ref);
  ssize_t n = read_small (repo_dfd, path, buf, sizeof buf);
  if (n != 65 || buf[64] != '\n')
    return 0;
  buf[64] = '\0';
  if (!is_hex64 (buf))
    return 0;
  memcpy (out, buf, 65);
  return 1;
}

/* Shared lock on an existing checkouts/<commit>.lock that is still linked. */
static int
lock_checkout (int cdfd, const char *commit)
{
  char name[80];
  snprintf (name, sizeof name, "%s.lock", commit);
  int fd = openat (cdfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  struct stat a, b;
  if (fd < 0)
    return -1;
  if (flock (fd, LOCK_SH) < 0 || fstat (fd, &a) < 0
      || fstatat (cdfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino
      || a.st_dev != b.st_dev || fstatat (cdfd, commit, &b, AT_SYMLINK_NOFOLLOW) < 0
      || !S_ISDIR (b.st_mode))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Append the launch arguments: recorded image defaults (pairs of NUL-
 * terminated key and value in <commit>.launch), then the user's options,
 * the root, and the command. Returns the argc, 0 when declined. */
static int
build_argv (Run *r, const char *defaults, ssize_t dlen, const char *root, char **out, int n)
{
  char *entry[MAX_ARGS / 4], *defcmd[MAX_ARGS / 4];
  int ne = 0, nc = 0;
  for (const char *p = defaults; p < defaults + dlen;)
    {
      const char *key = p, *val = p + strlen (p) + 1;
      if (val >= defaults + dlen || ne >= MAX_ARGS / 4 - 1 || nc >= MAX_ARGS / 4 - 1
          || n >= MAX_ARGS / 2)
        return 0;
      p = val + strlen (val) + 1;
      char *opt = malloc (strlen (val) + 16);
      if (!opt)
        return 0;
      if (strcmp (key, "env") == 0)
        sprintf (opt, "--env=%s", val), out[n++] = opt;
      else if (strcmp (key, "workdir") == 0 && !r->have_workdir)
        sprintf (opt, "--workdir=%s", val), out[n++] = opt;
      else if (strcmp (key, "user") == 0 && !r->have_user)
        sprintf (opt, "--user=%s", val), out[n++] = opt;
      else if (strcmp (key, "entry") == 0)
        entry[ne++] = (char *)val, free (opt);
      else if (strcmp (key, "cmd") == 0)
        defcmd[nc++] = (char *)val, free (opt);
      else
        free (opt);
    }
  if (n + r->n_opts + ne + r->n_cmd + nc + 4 >= MAX_ARGS)
    return 0;
  for (int i = 0; i < r->n_opts; i++)
    out[n++] = r->opts[i];
  out[n++] = (char *)root;
  out[n++] = (char *)"--";
  int before = n;
  for (int i = 0; i < ne; i++)
    out[n++] = entry[i];
  for (int i = 0; i < (r->n_cmd ? r->n_cmd : nc); i++)
    out[n++] = r->n_cmd ? r->cmd[i] : defcmd[i];
  out[n] = NULL;
  return n > before ? n : 0;
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
 * local and ssh transports need no libcurl); http(s) by cairn-full. A
 * remote name is looked up in the repo's config; whatever is unclear (no
 * source, an unknown remote) goes to cairn-full, which handles every form. */
static int
pull_needs_full (const char *repo_arg, int argc, char **argv, int i)
{
  static char config[64 * 1024];
  const char *src = NULL;
  for (int j = i + 1; j < argc && !src; j++)
    {
      if (strcmp (argv[j], "--") == 0)
        src = j + 1 < argc ? argv[j + 1] : NULL;
      else if (argv[j][0] != '-')
        src = argv[j];
      else if (strcmp (argv[j], "--depth") == 0 || strcmp (argv[j], "--keyring") == 0)
        j++;
      else if (strcmp (argv[j], "-h") == 0 || strcmp (argv[j], "--help") == 0)
        return 1;
    }
  if (!src || strncmp (src, "http://", 7) == 0 || strncmp (src, "https://", 8) == 0)
    return 1;
  if (strncmp (src, "file://", 7) == 0 || strncmp (src, "ssh://", 6) == 0 || strchr (src, '/'))
    return 0;
  char repo[PATH_MAX], url[4096];
  repo_path (repo_arg, repo, sizeof repo);
  int rfd = open (repo, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    return 1;
  ssize_t clen = read_small (rfd, "config", config, sizeof config - 1);
  close (rfd);
  if (clen < 0)
    return 1;
  config[clen] = '\0';
  if (!config_remote_url (config, src, url, sizeof url))
    {
      /* Not a remote: a relative path to a repository is a local pull. */
      char probe[PATH_MAX];
      if ((size_t)snprintf (probe, sizeof probe, "%s/config", src) >= sizeof probe)
        return 1;
      return access (probe, R_OK) != 0;
    }
  return !(strncmp (url, "file://", 7) == 0 || strncmp (url, "ssh://", 6) == 0 || url[0] == '/');
}

/* The fast path of `cairn run`; returns only when it declines. */
static void
fast_run (const char *repo_arg, int argc, char **argv, int cmd_index)
{
  static Run r;
  static char defaults[256 * 1024], config[64 * 1024];
  static char *out[MAX_ARGS + 8];
  char repo[PATH_MAX], commit[65], name[80], root[PATH_MAX + 128], cache[PATH_MAX + 64];
  char launcher[PATH_MAX];
  if (!parse_run (argc, argv, cmd_index, &r))
    return;
  repo_path (repo_arg, repo, sizeof repo);
  int rfd = open (repo, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    return;
  /* Any signature requirement in the config: the full policy applies. */
  ssize_t clen = read_small (rfd, "config", config, sizeof config - 1);
  if (clen < 0)
    return;
  config[clen] = '\0';
  if (strstr (config, "require-signatures") || !resolve_commit (rfd, r.ref, commit))
    return;
  int cdfd
      = openat (rfd, "extensions/cairn/checkouts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int lock = cdfd < 0 ? -1 : lock_checkout (cdfd, commit);
  snprintf (name, sizeof name, "%s.launch", commit);
  ssize_t dlen = lock < 0 ? -1 : read_small (cdfd, name, defaults, sizeof defaults);
  if (dlen < 0)
    {
      if (lock >= 0)
        close (lock);
      return;
    }
  snprintf (root, sizeof root, "%s/extensions/cairn/checkouts/%s", repo, commit);
  snprintf (cache, sizeof cache, "--seccomp-cache=%s/extensions/cairn/seccomp", repo);
  const char *env = getenv ("CAIRN_LAUNCH");
  if (env && *env)
    snprintf (launcher, sizeof launcher, "%s", env);
  else
    sibling ("cairn-launch", BINDIR, launcher, sizeof launcher);
  out[0] = launcher;
  out[1] = cache;
  if (build_argv (&r, defaults, dlen, root, out, 2) == 0)
    {
      close (lock);
      return;
    }
  /* The shared lock stays held by cairn-launch for the container's life. */
  fcntl (lock, F_SETFD, 0);
  execv (launcher, out);
  close (lock);
}

int
main (int argc, char **argv)
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
    fast_run (repo, argc, argv, i);
  exec_impl (argv, needs_full (repo, argc, argv, i));
  return 125;
}
