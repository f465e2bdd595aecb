/* Raw file system images of a commit: `cairn export --format=erofs|squashfs`
 * (docs/import-export.md, "Raw images").
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * EROFS is written by erofs.c with the contents included. squashfs is
 * written by mksquashfs (squashfs-tools) from the kernel mount of the
 * commit, which shows exactly the metadata a checkout does (owners, modes,
 * xattrs, one inode per object so hardlinks survive) without copying a
 * byte: the mount is made in a child process's own mount namespace, so it
 * vanishes with the child whatever happens. Both images get every mtime set
 * to the commit's timestamp (as the tar export does) and reach FILE by a
 * rename once complete.
 */
#include "config.h"
#include "checkout/cairn-erofs.h"
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* Open the directory of @path; *out_base is the name in it. */
static int
open_parent (const char *path, char **out_base, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return cairn_throw_errno (error, "%s", dir), -1;
  *out_base = g_path_get_basename (path);
  return dfd;
}

gboolean
cairn_export_erofs (CairnRepo *repo, const char *commit, const char *path,
                    CairnErofsStats *out_stats, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  g_autofree char *base = NULL;
  cairn_autofd dfd = open_parent (path, &base, error);
  g_auto (CairnTmpfile) tmp = { 0 };
  if (dfd < 0 || !cairn_tmpfile_open (dfd, 0644, &tmp, error))
    return FALSE;
  CairnErofsOptions o = { .with_data = TRUE, .mtime = c.timestamp };
  if (!cairn_erofs_write (repo, commit, tmp.fd, &o, out_stats, error))
    return FALSE;
  return cairn_tmpfile_link_at (&tmp, CAIRN_LINK_REPLACE, dfd, base, CAIRN_FSYNC_FILE, error)
         || cairn_prefix_error (error, "%s", path);
}

/* The child: a private mount namespace, the commit mounted at @dir, then
 * mksquashfs. Failures before the exec go to @errfd as text. */
static void G_GNUC_NORETURN
squashfs_child (CairnRepo *repo, const char *commit, const char *dir, const char *out,
                guint64 timestamp, int errfd)
{
  g_autoptr (GError) error = NULL;
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    cairn_throw_errno (&error, "a private mount namespace");
  else
    {
      CairnKmountOptions ko = { .suid = TRUE };
      if (cairn_kmount (repo, commit, dir, &ko, NULL, &error))
        {
          g_autofree char *ts = g_strdup_printf ("%" G_GUINT64_FORMAT, timestamp);
          const char *argv[]
              = { "mksquashfs", dir, out,          "-noappend", "-quiet", "-no-progress",
                  "-all-time",  ts,  "-mkfs-time", ts,          NULL };
          dup2 (errfd, 1); /* mksquashfs reports errors on stdout too */
          execvp (argv[0], (char **)argv);
          cairn_throw_errno (&error, "running mksquashfs (squashfs-tools)");
        }
    }
  /* Name no temporary path: the mount point is ours, not the user's. */
  g_auto (GStrv) parts = g_strsplit (error->message, dir, -1);
  g_autofree char *msg = g_strjoinv ("the commit's mount", parts);
  (void)!write (errfd, msg, strlen (msg));
  _exit (125);
}

static gboolean
run_squashfs (CairnRepo *repo, const char *commit, const char *dir, const char *out,
              guint64 timestamp, GError **error)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return cairn_throw_errno (error, "pipe");
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    return cairn_throw_errno (error, "fork");
  if (pid == 0)
    {
      close (pfd[0]);
      fcntl (pfd[1], F_SETFD, 0);
      squashfs_child (repo, commit, dir, out, timestamp, pfd[1]);
    }
  close (pfd[1]);
  GString *msg = g_string_new (NULL);
  char buf[512];
  ssize_t n;
  while ((n = read (pfd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (msg, buf, n);
  close (pfd[0]);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_autofree char *text = g_strstrip (g_string_free (msg, FALSE));
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return TRUE;
  return cairn_throw (error, "%s", *text ? text : "mksquashfs failed");
}

gboolean
cairn_export_squashfs (CairnRepo *repo, const char *commit, const char *path, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  if (!cairn_kmount_supported (repo, error))
    return cairn_prefix_error (error, "squashfs is made from the kernel mount of the commit");
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *tmpout = g_strdup_printf ("%s.cairn-tmp-%d", abs, (int)getpid ());
  g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "cairn-squashfs-XXXXXX", NULL);
  if (!g_mkdtemp_full (tmpl, 0700))
    return cairn_throw_errno (error, "creating a mount point");
  gboolean ok = run_squashfs (repo, commit, tmpl, tmpout, c.timestamp, error);
  (void)rmdir (tmpl);
  if (ok && rename (tmpout, abs) < 0)
    ok = cairn_throw_errno (error, "%s", path);
  if (!ok)
    (void)unlink (tmpout);
  return ok;
}
