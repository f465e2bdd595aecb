/* Temporary files and atomic writes.
 *
 * A file becomes visible under its final name only when complete: it is
 * written to an anonymous O_TMPFILE (or, where the filesystem lacks it, a
 * uniquely named ".tmp-*" file), fsynced per the caller's CairnFsyncPolicy,
 * then linked (content-addressed objects: "no replace", an existing target is
 * success) or renamed (refs, config: atomic replace) into place.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <stdio.h>
#include <string.h>

static int disable_o_tmpfile = -1;

void
cairn_tmpfile_set_disable_o_tmpfile (gboolean disable)
{
  disable_o_tmpfile = disable ? 1 : 0;
}

gboolean
cairn_tmpfile_o_tmpfile_disabled (void)
{
  if (disable_o_tmpfile < 0)
    {
      const char *e = g_getenv ("CAIRN_DISABLE_O_TMPFILE");
      disable_o_tmpfile = (e && *e && strcmp (e, "0") != 0) ? 1 : 0;
    }
  return disable_o_tmpfile == 1;
}

static char *
random_name (const char *prefix)
{
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  char suffix[13];
  for (gsize i = 0; i < sizeof suffix - 1; i++)
    suffix[i] = chars[g_random_int_range (0, sizeof chars - 1)];
  suffix[sizeof suffix - 1] = '\0';
  return g_strconcat (prefix, suffix, NULL);
}

gboolean
cairn_tmpfile_open (int dfd, mode_t mode, CairnTmpfile *out_tmpf, GError **error)
{
  memset (out_tmpf, 0, sizeof *out_tmpf);
  out_tmpf->fd = -1;
  if (!cairn_tmpfile_o_tmpfile_disabled ())
    {
      int fd = openat (dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
      if (fd >= 0)
        {
          out_tmpf->initialized = TRUE;
          out_tmpf->anonymous = TRUE;
          out_tmpf->src_dfd = dfd;
          out_tmpf->fd = fd;
          return TRUE;
        }
      if (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT && errno != EINVAL)
        return cairn_throw_errno (error, "open(O_TMPFILE)");
    }
  for (int tries = 0; tries < 100; tries++)
    {
      g_autofree char *name = random_name (".tmp-");
      int fd = openat (dfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, mode);
      if (fd < 0 && errno == EEXIST)
        continue;
      if (fd < 0)
        return cairn_throw_errno (error, "creating temporary file");
      out_tmpf->initialized = TRUE;
      out_tmpf->anonymous = FALSE;
      out_tmpf->src_dfd = dfd;
      out_tmpf->fd = fd;
      out_tmpf->path = g_steal_pointer (&name);
      return TRUE;
    }
  return cairn_throw_errno_value (error, EEXIST, "creating temporary file");
}

/* Give an O_TMPFILE a name: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, the
 * /proc/self/fd path works for everyone with /proc mounted. */
static int
link_anonymous (int fd, int dfd, const char *name)
{
  if (linkat (fd, "", dfd, name, AT_EMPTY_PATH) == 0)
    return 0;
  if (errno != ENOENT && errno != EPERM)
    return -1;
  char proc[64];
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat (AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW);
}

static gboolean
link_noreplace (CairnTmpfile *tmpf, int target_dfd, const char *target, gboolean ignore_exist,
                GError **error)
{
  int r;
  if (tmpf->anonymous)
    r = link_anonymous (tmpf->fd, target_dfd, target);
  else
    {
      r = renameat2 (tmpf->src_dfd, tmpf->path, target_dfd, target, RENAME_NOREPLACE);
      if (r < 0 && (errno == EINVAL || errno == ENOSYS))
        {
          r = linkat (tmpf->src_dfd, tmpf->path, target_dfd, target, 0);
          if (r == 0)
            (void)unlinkat (tmpf->src_dfd, tmpf->path, 0);
        }
      if (r == 0)
        g_clear_pointer (&tmpf->path, g_free);
    }
  if (r == 0)
    return TRUE;
  if (errno == EEXIST && ignore_exist)
    return TRUE;
  return cairn_throw_errno (error, "linking into place as %s", target);
}

static gboolean
link_replace (CairnTmpfile *tmpf, int target_dfd, const char *target, GError **error)
{
  if (tmpf->anonymous)
    {
      /* Link under a temporary name next to the target, then rename over. */
      for (int tries = 0; tries < 100; tries++)
        {
          g_autofree char *tmpname = random_name (".tmp-link-");
          if (link_anonymous (tmpf->fd, target_dfd, tmpname) < 0)
            {
              if (errno == EEXIST)
                continue;
              return cairn_throw_errno (error, "linking into place as %s", target);
            }
          if (renameat (target_dfd, tmpname, target_dfd, target) < 0)
            {
              int errsv = errno;
              (void)unlinkat (target_dfd, tmpname, 0);
              return cairn_throw_errno_value (error, errsv, "renaming into place as %s", target);
            }
          return TRUE;
        }
      return cairn_throw_errno_value (error, EEXIST, "linking into place as %s", target);
    }
  if (renameat (tmpf->src_dfd, tmpf->path, target_dfd, target) < 0)
    return cairn_throw_errno (error, "renaming into place as %s", target);
  g_clear_pointer (&tmpf->path, g_free);
  return TRUE;
}

gboolean
cairn_tmpfile_link_at (CairnTmpfile *tmpf, CairnLinkMode mode, int target_dfd, const char *target,
                       CairnFsyncPolicy fsync_policy, GError **error)
{
  g_return_val_if_fail (tmpf->initialized, FALSE);
  if (fsync_policy >= CAIRN_FSYNC_FILE && fdatasync (tmpf->fd) < 0)
    return cairn_throw_errno (error, "fsync(%s)", target);
  gboolean ok;
  if (mode == CAIRN_LINK_REPLACE)
    ok = link_replace (tmpf, target_dfd, target, error);
  else
    ok = link_noreplace (tmpf, target_dfd, target, mode == CAIRN_LINK_NOREPLACE_IGNORE, error);
  if (!ok)
    return FALSE;
  if (fsync_policy >= CAIRN_FSYNC_FULL && fsync (target_dfd) < 0)
    return cairn_throw_errno (error, "fsync(directory of %s)", target);
  return TRUE;
}

void
cairn_tmpfile_clear (CairnTmpfile *tmpf)
{
  if (!tmpf->initialized)
    return;
  int errsv = errno;
  if (tmpf->path)
    (void)unlinkat (tmpf->src_dfd, tmpf->path, 0);
  g_clear_pointer (&tmpf->path, g_free);
  cairn_close_fdp (&tmpf->fd);
  tmpf->initialized = FALSE;
  errno = errsv;
}

gboolean
cairn_file_replace_contents_at (int dfd, const char *name, const void *buf, gsize len, mode_t mode,
                                CairnFsyncPolicy fsync_policy, GError **error)
{
  g_auto (CairnTmpfile) tmpf = { 0 };
  if (!cairn_tmpfile_open (dfd, mode, &tmpf, error))
    return cairn_prefix_error (error, "writing %s", name);
  if (!cairn_write_all (tmpf.fd, buf, len, error))
    return cairn_prefix_error (error, "writing %s", name);
  /* O_TMPFILE honours umask at creation; set the exact mode asked for. */
  if (fchmod (tmpf.fd, mode) < 0)
    return cairn_throw_errno (error, "chmod(%s)", name);
  if (!cairn_tmpfile_link_at (&tmpf, CAIRN_LINK_REPLACE, dfd, name, fsync_policy, error))
    return cairn_prefix_error (error, "writing %s", name);
  return TRUE;
}
