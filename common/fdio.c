/* fd-relative file operations. Open a directory once, then work *at() it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>

gboolean
cairn_opendirat (int dfd, const char *path, gboolean follow, int *out_fd, GError **error)
{
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | (follow ? 0 : O_NOFOLLOW);
  int fd;
  do
    fd = openat (dfd, path, flags);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return cairn_throw_errno (error, "opendir(%s)", path);
  *out_fd = fd;
  return TRUE;
}

gboolean
cairn_openat_rdonly (int dfd, const char *path, gboolean follow, int *out_fd, GError **error)
{
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (follow ? 0 : O_NOFOLLOW);
  int fd;
  do
    fd = openat (dfd, path, flags);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return cairn_throw_errno (error, "open(%s)", path);
  *out_fd = fd;
  return TRUE;
}

gboolean
cairn_mkdirat (int dfd, const char *name, mode_t mode, gboolean allow_exist, GError **error)
{
  if (mkdirat (dfd, name, mode) == 0)
    return TRUE;
  if (errno == EEXIST && allow_exist)
    {
      struct stat st;
      if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
        return TRUE;
      errno = EEXIST;
    }
  return cairn_throw_errno (error, "mkdir(%s)", name);
}

gboolean
cairn_mkdirat_p (int dfd, const char *path, mode_t mode, GError **error)
{
  g_autofree char *buf = g_strdup (path);
  char *p = buf;
  while (*p == '/')
    p++;
  if (*p == '\0')
    return TRUE;
  for (;;)
    {
      char *slash = strchr (p, '/');
      if (slash)
        *slash = '\0';
      if (!cairn_mkdirat (dfd, buf, mode, TRUE, error))
        return FALSE;
      if (!slash)
        break;
      *slash = '/';
      p = slash + 1;
      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
    }
  return TRUE;
}

gboolean
cairn_fstatat_nofollow (int dfd, const char *name, struct stat *out_st, gboolean allow_noent,
                        gboolean *out_exists, GError **error)
{
  if (fstatat (dfd, name, out_st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (out_exists)
        *out_exists = TRUE;
      return TRUE;
    }
  if (errno == ENOENT && allow_noent)
    {
      if (out_exists)
        *out_exists = FALSE;
      return TRUE;
    }
  return cairn_throw_errno (error, "stat(%s)", name);
}

char *
cairn_readlinkat (int dfd, const char *name, GError **error)
{
  gsize size = 256;
  for (;;)
    {
      g_autofree char *buf = g_malloc (size);
      ssize_t n = readlinkat (dfd, name, buf, size);
      if (n < 0)
        {
          cairn_throw_errno (error, "readlink(%s)", name);
          return NULL;
        }
      if ((gsize)n < size)
        {
          buf[n] = '\0';
          return g_steal_pointer (&buf);
        }
      size *= 2;
    }
}

gboolean
cairn_linkat (int src_dfd, const char *src, int dst_dfd, const char *dst, gboolean allow_exist,
              GError **error)
{
  if (linkat (src_dfd, src, dst_dfd, dst, 0) == 0)
    return TRUE;
  if (errno == EEXIST && allow_exist)
    return TRUE;
  return cairn_throw_errno (error, "link(%s -> %s)", src, dst);
}

gboolean
cairn_renameat (int src_dfd, const char *src, int dst_dfd, const char *dst, gboolean noreplace,
                GError **error)
{
  if (!noreplace)
    {
      if (renameat (src_dfd, src, dst_dfd, dst) < 0)
        return cairn_throw_errno (error, "rename(%s -> %s)", src, dst);
      return TRUE;
    }
  if (renameat2 (src_dfd, src, dst_dfd, dst, RENAME_NOREPLACE) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOSYS)
    return cairn_throw_errno (error, "rename(%s -> %s)", src, dst);
  /* No RENAME_NOREPLACE here: link (fails on EEXIST) then unlink. */
  if (linkat (src_dfd, src, dst_dfd, dst, 0) < 0)
    return cairn_throw_errno (error, "rename(%s -> %s)", src, dst);
  (void)unlinkat (src_dfd, src, 0);
  return TRUE;
}

gboolean
cairn_unlinkat (int dfd, const char *name, int flags, gboolean allow_noent, GError **error)
{
  if (unlinkat (dfd, name, flags) == 0)
    return TRUE;
  if (errno == ENOENT && allow_noent)
    return TRUE;
  return cairn_throw_errno (error, "unlink(%s)", name);
}

GPtrArray *
cairn_dir_list_names (int dfd, GError **error)
{
  int dup = fcntl (dfd, F_DUPFD_CLOEXEC, 3);
  DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
  if (!d)
    {
      cairn_throw_errno (error, "reading a directory");
      if (dup >= 0)
        close (dup);
      return NULL;
    }
  rewinddir (d); /* the duplicate shares the position of @dfd */
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (d);
  return names;
}

static gboolean
rm_rf_children (int dfd, GError **error)
{
  int dup = fcntl (dfd, F_DUPFD_CLOEXEC, 3);
  if (dup < 0)
    return cairn_throw_errno (error, "dup");
  DIR *d = fdopendir (dup);
  if (d == NULL)
    {
      close (dup);
      return cairn_throw_errno (error, "fdopendir");
    }
  struct dirent *de;
  gboolean ok = TRUE;
  while (ok && (de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ok = cairn_rm_rf_at (dirfd (d), de->d_name, error);
    }
  closedir (d);
  return ok;
}

gboolean
cairn_rm_rf_at (int dfd, const char *name, GError **error)
{
  if (unlinkat (dfd, name, 0) == 0 || errno == ENOENT)
    return TRUE;
  if (errno != EISDIR && errno != EPERM)
    return cairn_throw_errno (error, "unlink(%s)", name);
  cairn_autofd child = -1;
  child = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (child < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return cairn_throw_errno (error, "opendir(%s)", name);
    }
  /* Make sure we can remove entries of a 0500 directory we own. */
  (void)fchmod (child, 0700);
  if (!rm_rf_children (child, error))
    return cairn_prefix_error (error, "removing %s", name);
  if (unlinkat (dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return cairn_throw_errno (error, "rmdir(%s)", name);
  return TRUE;
}

/* write() (@offset < 0) or pwrite() at @offset until @len bytes are out. */
static gboolean
write_all_at (int fd, const void *buf, gsize len, gint64 offset, GError **error)
{
  const guint8 *p = buf;
  while (len > 0)
    {
      ssize_t n = offset < 0 ? write (fd, p, len) : pwrite (fd, p, len, (off_t)offset);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return cairn_throw_errno (error, "write");
        }
      if (n == 0)
        return cairn_throw_errno_value (error, ENOSPC, "write");
      p += n;
      len -= n;
      if (offset >= 0)
        offset += n;
    }
  return TRUE;
}

gboolean
cairn_write_all (int fd, const void *buf, gsize len, GError **error)
{
  return write_all_at (fd, buf, len, -1, error);
}

gboolean
cairn_pwrite_all (int fd, const void *buf, gsize len, guint64 offset, GError **error)
{
  return write_all_at (fd, buf, len, (gint64)offset, error);
}

/* The read loop of cairn_fd_read_all and cairn_fd_read_sized: @size is the
 * file's size when @regular (then a short read that reaches it is the end). */
static GBytes *
read_all (int fd, gboolean regular, gsize size, gsize max_size, GError **error)
{
  gsize alloc = 16384;
  if (regular && size > 0)
    alloc = size + 1;
  if (max_size > 0 && alloc > max_size + 1)
    alloc = max_size + 1;
  guint8 *buf = g_malloc (alloc);
  gsize len = 0;
  for (;;)
    {
      if (len == alloc)
        {
          alloc *= 2;
          buf = g_realloc (buf, alloc);
        }
      ssize_t n = read (fd, buf + len, alloc - len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          int errsv = errno;
          g_free (buf);
          cairn_throw_errno_value (error, errsv, "read");
          return NULL;
        }
      if (n == 0)
        break;
      len += n;
      /* A short read that reaches a regular file's size is its end: no
       * extra read for EOF. (Not for files that report size 0, as those of
       * /proc do: they may return less than asked before their end.) */
      gboolean short_read = regular && size > 0 && len < alloc && len >= size;
      if (max_size > 0 && len > max_size)
        {
          g_free (buf);
          cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                            "file larger than %" G_GSIZE_FORMAT " bytes", max_size);
          return NULL;
        }
      if (short_read)
        break;
    }
  return g_bytes_new_take (buf, len);
}

GBytes *
cairn_fd_read_all (int fd, gsize max_size, GError **error)
{
  struct stat st;
  gboolean regular = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
  return read_all (fd, regular, regular ? (gsize)st.st_size : 0, max_size, error);
}

GBytes *
cairn_fd_read_sized (int fd, gsize size, GError **error)
{
  g_autoptr (GError) local = NULL;
  GBytes *b = read_all (fd, TRUE, size, size, &local);
  if (!b && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (b && g_bytes_get_size (b) == size)
    return b;
  gsize got = b ? g_bytes_get_size (b) : 0;
  g_clear_pointer (&b, g_bytes_unref);
  cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                    "file size changed while reading (%s%" G_GSIZE_FORMAT
                    " bytes, expected %" G_GSIZE_FORMAT ")",
                    local ? "more than " : "", local ? size : got, size);
  return NULL;
}

GBytes *
cairn_file_get_contents_at (int dfd, const char *name, gsize max_size, GError **error)
{
  cairn_autofd fd = -1;
  if (!cairn_openat_rdonly (dfd, name, FALSE, &fd, error))
    return NULL;
  GBytes *b = cairn_fd_read_all (fd, max_size, error);
  if (b == NULL)
    cairn_prefix_error (error, "reading %s", name);
  return b;
}

gboolean
cairn_copy_fd_data (int src_fd, int dst_fd, GError **error)
{
  gboolean try_cfr = TRUE, try_sendfile = TRUE;
  for (;;)
    {
      ssize_t n = -1;
      if (try_cfr)
        {
          n = copy_file_range (src_fd, NULL, dst_fd, NULL, 1 << 30, 0);
          if (n < 0
              && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP
                  || errno == EBADF))
            {
              try_cfr = FALSE;
              continue;
            }
        }
      else if (try_sendfile)
        {
          n = sendfile (dst_fd, src_fd, NULL, 1 << 30);
          if (n < 0 && (errno == EINVAL || errno == ENOSYS))
            {
              try_sendfile = FALSE;
              continue;
            }
        }
      else
        {
          char buf[65536];
          n = read (src_fd, buf, sizeof buf);
          if (n > 0 && !cairn_write_all (dst_fd, buf, n, error))
            return FALSE;
        }
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return cairn_throw_errno (error, "copying data");
        }
      if (n == 0)
        return TRUE;
    }
}

/* Grow this process's descriptor table to FD_TABLE_RESERVE slots now,
 * while it has one thread. The kernel grows the table by doubling, and a
 * process whose table is shared by several threads waits for an RCU grace
 * period at every doubling (several milliseconds each on a VM). A store
 * operation keeps hundreds of descriptors open across its worker threads
 * (the objects/XX directories of two repositories alone are 512), so a
 * process started with the smallest table (64, what a shell's fork gives)
 * waited four times: a local pull was ~30 ms slower run from `sh -c` than
 * from a parent whose table was already 256 wide. Tables never shrink. */
#define FD_TABLE_RESERVE 1024

void
cairn_reserve_fd_table (void)
{
  struct rlimit rl;
  long want = FD_TABLE_RESERVE;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
      && (rlim_t)want > rl.rlim_cur)
    want = (long)rl.rlim_cur;
  int base = open ("/", O_PATH | O_CLOEXEC);
  if (base < 0)
    return;
  int high = want > 1 ? fcntl (base, F_DUPFD_CLOEXEC, (int)want - 1) : -1;
  if (high >= 0)
    close (high);
  close (base);
}

void
cairn_raise_fd_limit (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      (void)setrlimit (RLIMIT_NOFILE, &rl);
    }
}
