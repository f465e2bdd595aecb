/* cairn-launch: small helpers (errors, formatting without allocation, files).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "runtime/launch.h"

static const char *err_msg = "unknown error";
static const char *err_ctx;
/* The context is copied: callers pass paths they free on the way out (a
 * cgroup directory built with xasprintf), and the message is printed only
 * after the error has unwound. Static storage, so the container child can
 * record an error without allocating. */
static char err_ctx_buf[PATH_MAX];

int
launch_fail (int err, const char *msg, const char *ctx)
{
  err_msg = msg;
  err_ctx = NULL;
  if (ctx)
    {
      size_t n = strnlen (ctx, sizeof err_ctx_buf - 1);
      memmove (err_ctx_buf, ctx, n); /* ctx may be launch_errctx () */
      err_ctx_buf[n] = '\0';
      err_ctx = err_ctx_buf;
    }
  return err > 0 ? -err : (err < 0 ? err : -EINVAL);
}

int
launch_failf (int err, const char *fmt, ...)
{
  /* formatted aside first: an argument may be launch_errmsg () itself */
  static char buf[1024];
  char tmp[sizeof buf];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (tmp, sizeof tmp, fmt, ap);
  va_end (ap);
  memcpy (buf, tmp, sizeof buf);
  return launch_fail (err, buf, NULL);
}

const char *
launch_errmsg (void)
{
  return err_msg;
}

const char *
launch_errctx (void)
{
  return err_ctx;
}

/* Async-signal-safe formatting (the child may not allocate). */
void
fmt_uint (char *buf, unsigned long long v)
{
  char tmp[24];
  size_t n = 0;
  do
    {
      tmp[n++] = (char)('0' + v % 10);
      v /= 10;
    }
  while (v);
  for (size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
}

void
fmt_fd_path (char buf[32], int fd)
{
  memcpy (buf, "/proc/self/fd/", 14);
  fmt_uint (buf + 14, (unsigned)fd);
}

size_t
str_lcpy (char *dst, const char *src, size_t n)
{
  size_t len = strlen (src);
  if (n)
    {
      size_t c = len < n - 1 ? len : n - 1;
      memcpy (dst, src, c);
      dst[c] = '\0';
    }
  return len;
}

int
write_file_at (int dirfd, const char *name, const char *buf)
{
  _cleanup_close_ int fd = openat (dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return launch_fail (errno, "opening a control file", name);
  size_t len = strlen (buf);
  ssize_t n = write (fd, buf, len);
  if (n < 0)
    return launch_fail (errno, "writing a control file", name);
  if ((size_t)n != len)
    return launch_fail (EIO, "short write to a control file", name);
  return 0;
}

int
mkdir_p (const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  if (str_lcpy (buf, path, sizeof buf) >= sizeof buf)
    return launch_fail (ENAMETOOLONG, "path too long", path);
  /* mostly the parents exist: one call then */
  if (mkdir (buf, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return launch_fail (errno, "creating a directory", path);
  for (char *p = buf + 1; *p; p++)
    {
      if (*p != '/')
        continue;
      *p = '\0';
      if (mkdir (buf, mode) < 0 && errno != EEXIST)
        return launch_fail (errno, "creating a directory", path);
      *p = '/';
    }
  if (mkdir (buf, mode) < 0 && errno != EEXIST)
    return launch_fail (errno, "creating a directory", path);
  return 0;
}

/* SIZE: a number with an optional k/m/g/t suffix (powers of 1024). */
int
parse_size (const char *s, long long *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno || end == s || *s == '-')
    return -EINVAL;
  unsigned shift = 0;
  switch (*end)
    {
    case 'k':
    case 'K':
      shift = 10;
      end++;
      break;
    case 'm':
    case 'M':
      shift = 20;
      end++;
      break;
    case 'g':
    case 'G':
      shift = 30;
      end++;
      break;
    case 't':
    case 'T':
      shift = 40;
      end++;
      break;
    default:
      break;
    }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end || v == 0 || v > (unsigned long long)(LLONG_MAX >> shift))
    return -EINVAL;
  *out = (long long)(v << shift);
  return 0;
}

static void __attribute__ ((noreturn)) oom (void)
{
  fputs ("cairn-launch: out of memory\n", stderr);
  _exit (EXIT_LAUNCH_ERROR);
}

void *
xrealloc (void *p, size_t n)
{
  void *r = realloc (p, n ? n : 1);
  if (!r)
    oom ();
  return r;
}

char *
xstrdup (const char *s)
{
  char *r = strdup (s);
  if (!r)
    oom ();
  return r;
}

char *
canon_path (const char *path)
{
  int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char link[32], buf[PATH_MAX];
  fmt_fd_path (link, fd);
  ssize_t n = readlink (link, buf, sizeof buf);
  close (fd);
  static const char deleted[] = " (deleted)";
  if (n <= 0 || (size_t)n >= sizeof buf || buf[0] != '/'
      || ((size_t)n >= sizeof deleted - 1
          && memcmp (buf + n - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0))
    return realpath (path, NULL);
  buf[n] = '\0';
  return xstrdup (buf);
}

char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *r;
  va_start (ap, fmt);
  int n = vasprintf (&r, fmt, ap);
  va_end (ap);
  if (n < 0)
    oom ();
  return r;
}

/* Close every fd >= 3 except KEEP (unsorted, n_keep small).  Uses
 * close_range() for the gaps; falls back to a close() loop.  No allocation. */
int
close_fds_except (const int *keep, size_t n_keep)
{
  int sorted[8];
  size_t n = 0;
  for (size_t i = 0; i < n_keep && n < 8; i++)
    if (keep[i] >= 3)
      {
        size_t j = n++;
        while (j > 0 && sorted[j - 1] > keep[i])
          {
            sorted[j] = sorted[j - 1];
            j--;
          }
        sorted[j] = keep[i];
      }
  unsigned lo = 3;
  for (size_t i = 0; i <= n; i++)
    {
      unsigned hi = i < n ? (unsigned)sorted[i] : ~0U;
      if (hi > lo && syscall (SYS_close_range, lo, hi - 1, 0) < 0)
        {
          if (errno != ENOSYS)
            return -errno;
          unsigned top = hi == ~0U ? 65536 : hi;
          for (unsigned fd = lo; fd < top; fd++)
            close ((int)fd);
        }
      if (i < n)
        lo = (unsigned)sorted[i] + 1;
    }
  return 0;
}

uint64_t
fnv1a64 (const void *data, size_t len, uint64_t h)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++)
    {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  return h;
}

ssize_t
send_with_fd (int sock, const void *data, size_t len, int fd)
{
  struct iovec iov = { (void *)data, len };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  memset (&u, 0, sizeof u);
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof fd);
  return sendmsg (sock, &mh, MSG_NOSIGNAL);
}

/* set by main.c (launch.h) */
char *launch_exec_strings[2];
size_t launch_exec_strings_len[2];
