/* cairn mount [--fuse|--kernel] [-f] [--allow-other] [--verify] [--cache-size=BYTES]
 *             REF|COMMIT MOUNTPOINT
 * cairn umount MOUNTPOINT
 *
 * A read-only view of a commit (docs/cairn-mount.md). As root the kernel
 * serves it: an EROFS metadata image under overlayfs with the objects as a
 * data-only layer (checkout/kmount.c), no process left running. Otherwise,
 * for archive repositories and with --fuse, a FUSE view served by this
 * process: without -f the command returns once the tree is mounted and
 * listable; the server goes on in the background (log lines to syslog)
 * until `cairn umount`.
 *
 * Built into cairn-core (the kernel mount only needs libcairn-checkout, and
 * a mount's latency is mostly the start of the binary) and into cairn-full;
 * cairn-core hands the FUSE view to cairn-full by exec.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-erofs.h"
#include "checkout/cairn-mount.h"
#include "cli/run-record.h"
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#ifndef CAIRN_CORE
static void
log_stderr (const char *msg, gpointer data)
{
  (void)data;
  fprintf (stderr, "cairn: mount: %s\n", msg);
}

static void
log_syslog (const char *msg, gpointer data)
{
  (void)data;
  syslog (LOG_ERR, "%s", msg);
}

/* Fork; the parent exits 0 once the child has detached (the kernel mount
 * already exists, so the tree is listable when `cairn mount` returns). */
static gboolean
daemonize (GError **error)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return cairn_throw_errno (error, "pipe");
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    return cairn_throw_errno (error, "fork");
  if (pid > 0)
    {
      char c = 0;
      close (pfd[1]);
      ssize_t n;
      do
        n = read (pfd[0], &c, 1);
      while (n < 0 && errno == EINTR);
      _exit (n == 1 ? 0 : 1);
    }
  close (pfd[0]);
  if (setsid () < 0 || chdir ("/") < 0)
    return cairn_throw_errno (error, "detaching");
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return cairn_throw_errno (error, "/dev/null");
  dup2 (null, 0);
  dup2 (null, 1);
  dup2 (null, 2);
  close (null);
  openlog ("cairn-mount", LOG_PID, LOG_DAEMON);
  (void)!write (pfd[1], "1", 1);
  close (pfd[1]);
  return TRUE;
}

#else
/* cairn-core has no libfuse: the FUSE view is cairn-full's. */
static int
exec_full (CairnCli *cli, GError **error)
{
  const char *env = g_getenv ("CAIRN_FULL");
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir
      = self ? g_path_get_dirname (self) : g_build_filename (LIBEXECDIR, "cairn", NULL);
  g_autofree char *path = env && *env ? g_strdup (env) : g_build_filename (dir, "cairn-full", NULL);
  fflush (NULL);
  execv (path, cli->argv_all);
  return cairn_throw_errno (error, "executing %s", path), 125;
}
#endif

/* A mount hides what is in the directory: refuse one that is not empty. */
static gboolean
check_mountpoint (const char *path, GError **error)
{
  DIR *d = opendir (path);
  if (!d)
    return cairn_throw_errno (error, "mount point %s", path);
  struct dirent *de;
  gboolean empty = TRUE;
  while (empty && (de = readdir (d)))
    empty = strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0;
  closedir (d);
  if (!empty)
    return cairn_throw_code (error, G_IO_ERROR_NOT_EMPTY, "mount point %s is not empty", path);
  return TRUE;
}

/* Whether to use the kernel mount: --kernel insists (and fails clearly
 * where it cannot work), --fuse refuses it, otherwise where it works. */
static gboolean
want_kernel (CairnCli *cli, CairnRepo *repo, gboolean fuse, gboolean kernel, gboolean fuse_opts,
             GError **error)
{
  if (fuse)
    return FALSE;
  g_autoptr (GError) why = NULL;
  gboolean ok = cairn_kmount_supported (repo, &why);
  if (kernel && !ok)
    return g_propagate_error (error, g_steal_pointer (&why)), FALSE;
  if (kernel && fuse_opts)
    return cairn_cli_usage_error (error, "-f, -d, --verify, --cache-size and --threads are FUSE "
                                         "options (use --fuse)");
  if (ok && fuse_opts)
    return FALSE;
  if (!ok && cli->verbose)
    fprintf (stderr, "cairn: mount: FUSE view: %s\n", why->message);
  return ok;
}

static void
log_kernel (const char *msg, gpointer data)
{
  (void)data;
  fprintf (stderr, "cairn: mount: %s\n", msg);
}

/* Record a kernel mount of a cached image for the front end to repeat
 * while its inputs hold (cli/run-record.h): only when REF is a commit
 * checksum or a local ref file (whose content is then an input), the
 * repository config and the image's checksum file being the others.
 * Everything else always comes back here. */
static void
record_mount (CairnCli *cli, char **all, CairnRepo *repo, const char *rev, const char *commit,
              const char *mountpoint)
{
  if (cli->verbose || !all || cli->argc_all < 3 || strcmp (all[cli->argc_all - 1], mountpoint) != 0
      || g_getenv ("CAIRN_NO_KMOUNT") || g_getenv ("CAIRN_TEST_KMOUNT_STOP")
      || g_getenv ("CAIRN_TEST_VERITY_COMPUTE"))
    return;
  g_autofree char *image = NULL, *sum = NULL, *objects = NULL, *source = NULL;
  gboolean verity = FALSE;
  g_autofree char *repo_abs = realpath (repo->path, NULL);
  if (!repo_abs || !cairn_kmount_describe (repo, commit, &image, &sum, &objects, &source, &verity))
    return;
  g_autofree char *config = g_build_filename (repo_abs, "config", NULL);
  g_autofree char *ref_file = NULL;
  if (!cairn_is_checksum_string (rev))
    {
      struct stat st;
      if (!cairn_validate_ref_name (rev, NULL))
        return;
      ref_file = g_build_filename (repo_abs, "refs", "heads", rev, NULL);
      if (lstat (ref_file, &st) < 0 || !S_ISREG (st.st_mode))
        return;
    }
  const char *files[] = { config, ref_file, NULL };
  cairn_mount_record_write (cli->argc_all, all, files, image, sum, objects, source, verity, FALSE,
                            mountpoint);
}

/* @all: the whole command line as given (option parsing reorders
 * cli->argv_all in place), for the record. */
static int
mount_kernel (CairnCli *cli, char **all, CairnRepo *repo, const char *rev, const char *commit,
              const char *mountpoint, GError **error)
{
  CairnKmountOptions ko = { .log = log_kernel };
  CairnKmountStats st = { 0 };
  if (!cairn_kmount (repo, commit, mountpoint, &ko, &st, error))
    return 1;
  if (st.image_cached && !st.n_missing)
    record_mount (cli, all, repo, rev, commit, mountpoint);
  if (cli->verbose)
    fprintf (stderr, "cairn: mounted %s at %s (kernel: EROFS + overlayfs, image %s)\n", commit,
             mountpoint,
             st.image_built    ? "built"
             : st.image_hashed ? "cached, its checksum verified"
                               : "cached, unchanged since its checksum was verified");
  if (st.n_missing)
    fprintf (stderr, "cairn: mount: %u object%s missing: %s read%s as EIO\n", st.n_missing,
             st.n_missing == 1 ? " is" : "s are", st.n_missing == 1 ? "its entry" : "their entries",
             st.n_missing == 1 ? "s" : "");
  return 0;
}

int
cairn_cmd_mount (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean foreground = FALSE, debug = FALSE, fuse = FALSE, kernel = FALSE;
  CairnMountOptions o = { 0 };
  gint64 cache_mib = 0;
  int threads = 0;
  /* before option parsing reorders it */
  g_auto (GStrv) all = cli->argv_all ? g_strdupv (cli->argv_all) : NULL;
  GOptionEntry entries[]
      = { { "fuse", 0, 0, G_OPTION_ARG_NONE, &fuse,
            "Serve the view with FUSE from this process (default for non-root users)", NULL },
          { "kernel", 0, 0, G_OPTION_ARG_NONE, &kernel,
            "Use the kernel mount (EROFS + overlayfs, root) or fail", NULL },
          { "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
            "Stay in the foreground (log to stderr)", NULL },
          { "allow-other", 0, 0, G_OPTION_ARG_NONE, &o.allow_other,
            "Let other users access the mount", NULL },
          { "verify", 0, 0, G_OPTION_ARG_NONE, &o.verify,
            "Re-hash each file on its first open (bare repos; archive always)", NULL },
          { "cache-size", 0, 0, G_OPTION_ARG_INT64, &cache_mib,
            "Decompressed content kept for archive repos (default 256)", "MIB" },
          { "threads", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &threads,
            "Threads for slow opens (archive, --verify)", "N" },
          { "debug", 'd', 0, G_OPTION_ARG_NONE, &debug,
            "Log which path serves file data and every request (implies -f)", NULL },
          { NULL } };
  if (!cairn_cli_parse (
          cli, entries, "REF|COMMIT MOUNTPOINT",
          "Mount a read-only view of a commit, served from the store. Files show the\n"
          "metadata the commit records; a missing or corrupt object reads as EIO.\n"
          "As root the kernel serves it (EROFS metadata image + overlayfs); otherwise,\n"
          "and with --fuse, FUSE. Unmount with `cairn umount MOUNTPOINT`.",
          &argc, &argv, error))
    return 2;
  if (argc != 3)
    return cairn_cli_usage_error (error, "need REF|COMMIT and MOUNTPOINT"), 2;
  if (fuse && kernel)
    return cairn_cli_usage_error (error, "--fuse and --kernel exclude each other"), 2;
  if (cache_mib < 0 || threads < 0)
    return cairn_cli_usage_error (error, "--cache-size and --threads must be positive"), 2;
  o.cache_bytes = (guint64)cache_mib << 20;
  o.debug = debug;
  o.verbose = cli->verbose;
  o.max_threads = threads;
  foreground |= debug;
#ifndef CAIRN_CORE
  o.log = foreground ? log_stderr : log_syslog;
#endif
  if (!g_file_test (argv[2], G_FILE_TEST_IS_DIR))
    return cairn_throw (error, "mount point %s is not a directory", argv[2]), 1;
  if (!check_mountpoint (argv[2], error))
    return 1;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!commit)
    return 1;
  gboolean fuse_opts = foreground || debug || o.verify || cache_mib || threads;
  gboolean use_kernel = want_kernel (cli, repo, fuse, kernel, fuse_opts, error);
  if (error && *error)
    return (*error)->domain == G_OPTION_ERROR ? 2 : 1;
  if (use_kernel)
    {
      g_autoptr (GError) local = NULL;
      if (mount_kernel (cli, all, repo, argv[1], commit, argv[2], &local) == 0)
        return 0;
      if (kernel || !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        return g_propagate_error (error, g_steal_pointer (&local)), 1;
      /* An older kernel, say: the FUSE view works everywhere. */
      fprintf (stderr, "cairn: mount: %s; serving it with FUSE instead\n", local->message);
      g_setenv ("CAIRN_NO_KMOUNT", "1", TRUE);
    }
#ifdef CAIRN_CORE
  return exec_full (cli, error);
#else
  g_autoptr (CairnMount) m = cairn_mount_new (repo, commit, &o, error);
  if (!m || !cairn_mount_attach (m, argv[2], error))
    return 1;
  if (cli->verbose)
    fprintf (stderr, "cairn: mounted %s at %s\n", commit, argv[2]);
  if (!foreground && !daemonize (error))
    return 1;
  if (!cairn_mount_serve (m, error))
    return 1;
  return 0;
#endif
}

int
cairn_cmd_umount (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (!cairn_cli_parse (cli, NULL, "MOUNTPOINT",
                        "Unmount a cairn mount. With files still open it is detached lazily:\n"
                        "it leaves the tree at once and the server exits when they are closed.",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need MOUNTPOINT"), 2;
  gboolean lazy = FALSE;
  g_autofree char *commit = cairn_kmount_commit_at (argv[1]);
  if (commit)
    {
      if (!cairn_kmount_umount (argv[1], &lazy, error))
        return 1;
    }
  else
    {
#ifdef CAIRN_CORE
      return exec_full (cli, error);
#else
      if (!cairn_umount (argv[1], &lazy, error))
        return 1;
#endif
    }
  if (lazy)
    fprintf (stderr, "cairn: umount: %s was busy; detached, it goes when the last file is closed\n",
             argv[1]);
  return 0;
}
