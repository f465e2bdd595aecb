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
 * byte. An archive repository's objects are compressed, which overlayfs
 * cannot serve: there mksquashfs reads the EROFS export instead (the same
 * metadata, contents included), written to an unnamed file beside FILE and
 * mounted from it. Either mount stays detached (an fsmount fd, attached
 * nowhere: mksquashfs reads it as /proc/self/fd/N), so it goes with the
 * last process holding it whatever happens. Both images
 * get every mtime set to the commit's timestamp (as the tar export does)
 * and reach FILE complete: written to an unnamed file in its directory, then
 * linked into place.
 */
#include "config.h"
#include "checkout/cairn-erofs.h"
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

/* The tree mksquashfs reads, as a detached mount (attached nowhere: gone
 * with the last fd, whatever happens to this process): the kernel mount,
 * or for an archive repository the EROFS export written to an unnamed file
 * in @out_dfd, the output's directory (its file system has room for the
 * contents; the mount holds the file, which goes with it). */
static int
mount_tree (CairnRepo *repo, const char *commit, int out_dfd, guint64 timestamp, GError **error)
{
  if (repo->mode != CAIRN_REPO_MODE_ARCHIVE)
    {
      CairnKmountOptions ko = { .suid = TRUE };
      return cairn_kmount_detached (repo, commit, "the commit's kernel mount", &ko, NULL, error);
    }
  g_auto (CairnTmpfile) tmp = { 0 };
  if (!cairn_tmpfile_open (out_dfd, 0600, &tmp, error))
    return -1;
  CairnErofsOptions o = { .with_data = TRUE, .mtime = timestamp };
  if (!cairn_erofs_write (repo, commit, tmp.fd, &o, NULL, error))
    return -1;
  return cairn_erofs_mount_image (tmp.fd, error);
}

/* mksquashfs reads the mount @tree_fd and writes @out_fd, both by their
 * /proc/self/fd names (it takes paths). Only async-signal-safe calls after
 * the fork: the argument strings are made before it. */
static gboolean
run_mksquashfs (int tree_fd, int out_fd, guint64 timestamp, GError **error)
{
  /* "/.": the directory itself, not the fd link (mksquashfs uses lstat) */
  g_autofree char *src = g_strdup_printf ("/proc/self/fd/%d/.", tree_fd);
  g_autofree char *out = g_strdup_printf ("/proc/self/fd/%d", out_fd);
  g_autofree char *ts = g_strdup_printf ("%" G_GUINT64_FORMAT, timestamp);
  const char *argv[] = { "mksquashfs", src, out,          "-noappend", "-quiet", "-no-progress",
                         "-all-time",  ts,  "-mkfs-time", ts,          NULL };
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return cairn_throw_errno (error, "pipe");
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    return cairn_throw_errno (error, "fork");
  if (pid == 0)
    {
      /* mksquashfs reports errors on stdout and stderr */
      if (fcntl (tree_fd, F_SETFD, 0) < 0 || fcntl (out_fd, F_SETFD, 0) < 0 || dup2 (pfd[1], 1) < 0
          || dup2 (pfd[1], 2) < 0)
        _exit (126);
      execvp (argv[0], (char **)argv);
      static const char msg[] = "running mksquashfs (squashfs-tools): not found";
      (void)!write (pfd[1], msg, sizeof msg - 1);
      _exit (127);
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
  /* An archive repository's tree is the mounted EROFS export: root only. */
  if (repo->mode == CAIRN_REPO_MODE_ARCHIVE && geteuid () != 0)
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "squashfs is made from a mount of the commit's EROFS image: "
                             "it needs root");
  if (repo->mode != CAIRN_REPO_MODE_ARCHIVE && !cairn_kmount_supported (repo, error))
    return cairn_prefix_error (error, "squashfs is made from the kernel mount of the commit");
  /* The image is an unnamed file until complete: a failed or killed export
   * leaves nothing beside FILE. */
  g_autofree char *base = NULL;
  cairn_autofd dfd = open_parent (path, &base, error);
  g_auto (CairnTmpfile) tmp = { 0 };
  if (dfd < 0 || !cairn_tmpfile_open (dfd, 0644, &tmp, error))
    return FALSE;
  cairn_autofd tree = mount_tree (repo, commit, dfd, c.timestamp, error);
  if (tree < 0 || !run_mksquashfs (tree, tmp.fd, c.timestamp, error))
    return FALSE;
  return cairn_tmpfile_link_at (&tmp, CAIRN_LINK_REPLACE, dfd, base, CAIRN_FSYNC_FILE, error)
         || cairn_prefix_error (error, "%s", path);
}
