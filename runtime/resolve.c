/* cairn-launch: resolve a path inside the container root.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every mount target inside the rootfs is found with this function and then
 * mounted through /proc/self/fd/N, so that a symlink planted in the image
 * (/proc -> /tmp/x, /dev -> /host/path, /mnt/a -> ../../../host) cannot make
 * the launcher touch the host (CVE-2019-18837, CVE-2021-30465 class).
 *
 * The kernel does the work with openat2(RESOLVE_IN_ROOT) (Linux >= 5.6).  On
 * older kernels, or when CAIRN_LAUNCH_NO_OPENAT2=1 forces it (the test suite
 * does), a userspace walk does the same one component at a time with
 * O_PATH|O_NOFOLLOW, clamping ".." at the root and restarting absolute
 * symlinks at the root.  The fallback is not atomic against a concurrent
 * rename that moves a directory out of the root mid-walk; openat2 is.
 * Both run in the child: no allocation, stack buffers only.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "runtime/launch.h"

#define MAX_SYMLINKS 40

static int
try_openat2 (int root_fd, const char *path, int flags)
{
  struct open_how how;
  memset (&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC | ((flags & RES_DIRECTORY) ? O_DIRECTORY : 0);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (flags & RES_NO_SYMLINKS)
    how.resolve |= RESOLVE_NO_SYMLINKS;
  while (*path == '/')
    path++;
  if (!*path)
    path = ".";
  int fd = (int)syscall (SYS_openat2, root_fd, path, &how, sizeof how);
  return fd < 0 ? -errno : fd;
}

static bool
same_inode (int a, int b)
{
  struct stat sa, sb;
  return fstat (a, &sa) == 0 && fstat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

/* Replace the walk's remaining path REST (inside BUF) with TARGET + "/" + REST. */
static int
splice_link (char *buf, size_t bufsz, const char *target, size_t tlen, const char *rest)
{
  size_t rlen = strlen (rest);
  if (tlen + 1 + rlen + 1 > bufsz)
    return -ENAMETOOLONG;
  memmove (buf + tlen + 1, rest, rlen + 1);
  memcpy (buf, target, tlen);
  buf[tlen] = '/';
  return 0;
}

static int
step (int root_fd, int *cur, const char *comp, bool last, int flags, char *buf, size_t bufsz,
      char **rest, int *nlinks)
{
  if (strcmp (comp, "..") == 0)
    {
      if (same_inode (*cur, root_fd))
        return 0;
      int up = openat (*cur, "..", O_PATH | O_CLOEXEC);
      if (up < 0)
        return -errno;
      close (*cur);
      *cur = up;
      return 0;
    }
  int fd = openat (*cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISLNK (st.st_mode))
    {
      close (*cur);
      *cur = fd;
      return 0;
    }
  char target[PATH_MAX];
  ssize_t n = readlinkat (fd, "", target, sizeof target - 1);
  close (fd);
  if (n < 0)
    return -errno;
  if ((flags & RES_NO_SYMLINKS) || ++*nlinks > MAX_SYMLINKS)
    return -ELOOP;
  int r = splice_link (buf, bufsz, target, (size_t)n, last ? "" : *rest);
  if (r < 0)
    return r;
  *rest = buf;
  if (target[0] == '/')
    {
      int rfd = openat (root_fd, ".", O_PATH | O_CLOEXEC);
      if (rfd < 0)
        return -errno;
      close (*cur);
      *cur = rfd;
    }
  return 0;
}

static int
walk_in_root (int root_fd, const char *path, int flags)
{
  char buf[PATH_MAX * 2];
  if (str_lcpy (buf, path, sizeof buf) >= sizeof buf)
    return -ENAMETOOLONG;
  int cur = openat (root_fd, ".", O_PATH | O_CLOEXEC);
  if (cur < 0)
    return -errno;
  int nlinks = 0;
  char *rest = buf;
  for (;;)
    {
      while (*rest == '/')
        rest++;
      if (!*rest)
        break;
      char comp[NAME_MAX + 1];
      size_t len = strcspn (rest, "/");
      if (len > NAME_MAX)
        {
          close (cur);
          return -ENAMETOOLONG;
        }
      memcpy (comp, rest, len);
      comp[len] = '\0';
      rest += len;
      bool last = rest[strspn (rest, "/")] == '\0';
      if (strcmp (comp, ".") == 0)
        continue;
      int r = step (root_fd, &cur, comp, last, flags, buf, sizeof buf, &rest, &nlinks);
      if (r < 0)
        {
          close (cur);
          return r;
        }
    }
  return cur;
}

int
resolve_in_root (int root_fd, const char *path, int flags, bool no_openat2)
{
  int fd = -ENOSYS;
  if (!no_openat2)
    fd = try_openat2 (root_fd, path, flags);
  if (fd == -ENOSYS || fd == -E2BIG)
    {
      fd = walk_in_root (root_fd, path, flags);
      if (fd >= 0 && (flags & RES_DIRECTORY))
        {
          struct stat st;
          if (fstat (fd, &st) < 0 || !S_ISDIR (st.st_mode))
            {
              close (fd);
              return -ENOTDIR;
            }
        }
    }
  return fd;
}
