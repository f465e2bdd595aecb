/* cairn-launch: container state under --root.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * <root>/<id>/            one directory per container (mode 0711)
 *   state.json            what the verbs need: pid and its start time, bundle,
 *                         cgroups, annotations; first written to a temporary
 *                         name and renamed, then rewritten in place in one
 *                         write under the exclusive lock (oci_state_write),
 *                         so a reader sees the old or the new state, never a
 *                         torn one
 *   config.json           the bundle's config as create read it (exec uses
 *                         it; editing the bundle afterwards changes nothing)
 *   exec.fifo             exists between create and start (runc's design):
 *                         the container's init blocks opening it for writing
 *                         until start opens it for reading
 *
 * Locking: every verb takes an flock on the directory itself, exclusive for
 * those that change the container (create, start, delete, pause, resume,
 * update), shared for kill, state, ps and events.  delete removes the
 * directory while holding the lock; a verb that was waiting for it then sees
 * a directory with no link count and reports that the container does not
 * exist, so two deletes, or a kill racing a delete, are safe.
 *
 * The status is not stored, it is observed: a pid whose /proc start time no
 * longer matches, or a zombie, is "stopped"; the fifo still present means
 * "created"; a frozen cgroup "paused"; else "running".
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

const char *
oci_status_name (enum oci_status s)
{
  static const char *const n[] = { "creating", "created", "running", "paused", "stopped" };
  return n[s];
}

int
oci_validate_id (const char *id)
{
  size_t n = strlen (id);
  if (n == 0 || n > 1024 || strcmp (id, ".") == 0 || strcmp (id, "..") == 0
      || strspn (id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") != n)
    return launch_failf (EINVAL, "invalid container id '%s' (letters, digits, _ + - . only)", id);
  return 0;
}

int
oci_root_open (bool create)
{
  if (create && mkdir_p (oci_g.root, 0711) < 0)
    return launch_failf (errno, "cannot create the state directory %s", oci_g.root);
  int fd = open (oci_g.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return launch_failf (errno, "cannot open the state directory %s", oci_g.root);
  return fd < 0 ? -ENOENT : fd;
}

static int
not_found (const char *id)
{
  return launch_failf (ENOENT, "container %s does not exist", id);
}

int
oci_state_lock (int rootfd, const char *id, int how)
{
  int r = oci_validate_id (id);
  if (r < 0)
    return r;
  if (rootfd < 0)
    return not_found (id);
  int fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? not_found (id) : launch_failf (errno, "opening the state of %s", id);
  while (flock (fd, how) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return launch_failf (e, "locking the state of %s", id);
      }
  struct stat st;
  if (fstat (fd, &st) < 0 || st.st_nlink == 0)
    {
      close (fd);
      return not_found (id);
    }
  return fd;
}

int
oci_state_create_dir (int rootfd, const char *id, int *out_dirfd)
{
  int r = oci_validate_id (id);
  if (r < 0)
    return r;
  if (mkdirat (rootfd, id, 0711) < 0)
    return errno == EEXIST ? launch_failf (EEXIST, "container %s already exists", id)
                           : launch_failf (errno, "creating the state directory of %s", id);
  int fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      unlinkat (rootfd, id, AT_REMOVEDIR);
      return launch_failf (e, "opening the state directory of %s", id);
    }
  *out_dirfd = fd;
  return 0;
}

static void
rfc3339 (long long ns, char *buf, size_t n)
{
  time_t t = (time_t)(ns / 1000000000LL);
  struct tm tm;
  gmtime_r (&t, &tm);
  size_t k = strftime (buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + k, n - k, ".%09lldZ", ns % 1000000000LL);
}

int
oci_state_write (int dirfd, const struct oci_state *st)
{
  struct jbuf b = { 0 };
  char created[64];
  rfc3339 (st->created_ns, created, sizeof created);
  jb_raw (&b, "{\"ociVersion\":");
  jb_str (&b, st->oci_version ? st->oci_version : "1.1.0");
  jb_raw (&b, ",\"id\":");
  jb_str (&b, st->id);
  jb_printf (&b, ",\"pid\":%ld,\"startTime\":%llu,\"createdNs\":%lld,\"created\":\"%s\"",
             (long)st->pid, st->start_time, st->created_ns, created);
  jb_printf (&b, ",\"rootless\":%s,\"createdDone\":%s,\"owner\":%lu,\"startedNs\":%lld",
             st->rootless ? "true" : "false", st->created_done ? "true" : "false",
             (unsigned long)st->owner, st->started_ns);
  if (st->hooks >= 0)
    jb_printf (&b, ",\"hooks\":%d", st->hooks);
  jb_raw (&b, ",\"bundle\":");
  jb_str (&b, st->bundle);
  jb_raw (&b, ",\"annotations\":");
  jb_raw (&b, st->annotations_json ? st->annotations_json : "{}");
  jb_raw (&b, ",\"cgroups\":");
  oci_cgroups_to_json (&st->cg, &b);
  if (st->shared_root)
    {
      jb_raw (&b, ",\"sharedRoot\":");
      jb_str (&b, st->shared_root);
      jb_printf (&b, ",\"sharedMntns\":%llu", st->shared_mntns);
    }
  jb_raw (&b, "}\n");
  /* A state already there is rewritten in place, in one write: every verb
   * reads it under the directory's flock, which its writers hold
   * exclusive, so no reader sees it half-written; a shorter state is
   * padded with spaces (JSON's whitespace) rather than truncated, so the
   * file is whole after the one write.  Replacing it by a rename freed the
   * old file's block every time, and on a file system mounted with discard
   * each freed block is a discard the deleting process waits for: some
   * milliseconds of a container's start on this project's VM, where /run
   * is on disk.  No fsync (nor before): after a crash the container's
   * processes are gone, which its state says by itself (a pid whose start
   * time does not match is stopped). */
  _cleanup_close_ int cur = openat (dirfd, "state.json", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;
  if (cur >= 0 && fstat (cur, &sb) == 0 && S_ISREG (sb.st_mode))
    {
      while (b.len < (size_t)sb.st_size)
        jb_raw (&b, " ");
      int w = pwrite (cur, b.p, b.len, 0) == (ssize_t)b.len
                  ? 0
                  : launch_failf (errno ? errno : EIO, "writing the state of %s", st->id);
      jb_free (&b);
      return w;
    }
  int r = 0;
  _cleanup_close_ int fd
      = openat (dirfd, "state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write (fd, b.p, b.len) != (ssize_t)b.len)
    r = launch_failf (errno ? errno : EIO, "writing the state of %s", st->id);
  if (r == 0 && renameat (dirfd, "state.json.tmp", dirfd, "state.json") < 0)
    r = launch_failf (errno, "writing the state of %s", st->id);
  jb_free (&b);
  return r;
}

static int
str_field (const struct json *d, const char *k, char **out)
{
  const struct json *v = json_get (d, k);
  if (!json_is (v, JSON_STR))
    return -EINVAL;
  *out = xstrdup (v->s);
  return 0;
}

int
oci_state_read (int dirfd, const char *id, struct oci_state *st)
{
  memset (st, 0, sizeof *st);
  struct json *d = json_parse_file (dirfd, "state.json", 1 << 20);
  if (!d)
    return errno == ENOENT ? not_found (id)
                           : launch_failf (EINVAL, "the state of %s is unreadable", id);
  int64_t pid = 0, cns = 0;
  uint64_t stt = 0, owner = 0;
  int r = str_field (d, "id", &st->id);
  if (r == 0)
    r = str_field (d, "bundle", &st->bundle);
  if (r == 0)
    r = str_field (d, "ociVersion", &st->oci_version);
  if (r == 0)
    r = json_i64 (json_get (d, "pid"), &pid);
  if (r == 0)
    r = json_u64 (json_get (d, "startTime"), &stt);
  if (r == 0)
    r = json_i64 (json_get (d, "createdNs"), &cns);
  if (r == 0)
    r = json_u64 (json_get (d, "owner"), &owner);
  if (r == 0)
    r = oci_cgroups_from_json (json_get (d, "cgroups"), &st->cg);
  const struct json *a = json_get (d, "annotations");
  if (r == 0 && json_is (a, JSON_OBJ))
    {
      struct jbuf b = { 0 };
      jb_value (&b, a);
      st->annotations_json = b.p;
    }
  st->pid = (pid_t)pid;
  st->start_time = stt;
  st->created_ns = cns;
  st->owner = (uid_t)owner;
  const struct json *sr = json_get (d, "sharedRoot");
  uint64_t mntns = 0;
  if (r == 0 && json_is (sr, JSON_STR) && json_u64 (json_get (d, "sharedMntns"), &mntns) == 0)
    {
      st->shared_root = xstrdup (sr->s);
      st->shared_mntns = mntns;
    }
  st->rootless = json_true (json_get (d, "rootless"));
  st->created_done = json_true (json_get (d, "createdDone"));
  int64_t started = 0;
  if (json_i64 (json_get (d, "startedNs"), &started) == 0)
    st->started_ns = started;
  int64_t hooks = -1;
  st->hooks = json_i64 (json_get (d, "hooks"), &hooks) == 0 && hooks >= 0 && hooks < (1 << 16)
                  ? (int)hooks
                  : -1;
  json_free (d);
  if (r < 0)
    {
      oci_state_clear (st);
      return launch_failf (EINVAL, "the state of %s is invalid", id);
    }
  return 0;
}

void
oci_state_clear (struct oci_state *st)
{
  free (st->id);
  free (st->bundle);
  free (st->oci_version);
  free (st->annotations_json);
  free (st->shared_root);
  oci_cgroups_clear (&st->cg);
  memset (st, 0, sizeof *st);
}

/* /proc/PID/stat: the state letter and field 22, the start time. */
static int
proc_stat (pid_t pid, char *state, unsigned long long *start)
{
  char path[64], buf[1024];
  snprintf (path, sizeof path, "/proc/%ld/stat", (long)pid);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return -EIO;
  buf[n] = '\0';
  char *p = strrchr (buf, ')');
  if (!p || p[1] != ' ')
    return -EIO;
  p += 2;
  *state = *p;
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  if (!p)
    return -EIO;
  *start = strtoull (p, NULL, 10);
  return 0;
}

int
oci_proc_start_time (pid_t pid, unsigned long long *out)
{
  char s;
  return proc_stat (pid, &s, out);
}

bool
oci_pid_alive (pid_t pid, unsigned long long start_time)
{
  char s;
  unsigned long long t;
  if (pid <= 0 || proc_stat (pid, &s, &t) < 0)
    return false;
  return t == start_time && s != 'Z' && s != 'X';
}

enum oci_status
oci_state_status (int dirfd, const struct oci_state *st)
{
  bool alive = oci_pid_alive (st->pid, st->start_time);
  if (!st->created_done)
    return alive ? ST_CREATING : ST_STOPPED;
  if (!alive)
    return ST_STOPPED;
  struct stat sb;
  if (fstatat (dirfd, "exec.fifo", &sb, AT_SYMLINK_NOFOLLOW) == 0)
    return ST_CREATED;
  if (oci_cgroups_frozen (&st->cg) == 1)
    return ST_PAUSED;
  return ST_RUNNING;
}

void
oci_state_json (const struct oci_state *st, enum oci_status s, struct jbuf *b, bool pretty)
{
  const char *nl = pretty ? "\n  " : "";
  jb_printf (b, "{%s\"ociVersion\": ", nl);
  jb_str (b, st->oci_version ? st->oci_version : "1.1.0");
  jb_printf (b, ",%s\"id\": ", nl);
  jb_str (b, st->id);
  jb_printf (b, ",%s\"status\": \"%s\"", nl, oci_status_name (s));
  if (s != ST_STOPPED)
    jb_printf (b, ",%s\"pid\": %ld", nl, (long)st->pid);
  else
    jb_printf (b, ",%s\"pid\": 0", nl);
  jb_printf (b, ",%s\"bundle\": ", nl);
  jb_str (b, st->bundle);
  jb_printf (b, ",%s\"rootfs\": ", nl);
  _cleanup_free_ char *rootfs = xasprintf ("%s/rootfs", st->bundle);
  jb_str (b, rootfs);
  char created[64];
  rfc3339 (st->created_ns, created, sizeof created);
  jb_printf (b, ",%s\"created\": \"%s\",%s\"owner\": \"\"", nl, created, nl);
  jb_printf (b, ",%s\"annotations\": %s%s}", nl, st->annotations_json ? st->annotations_json : "{}",
             pretty ? "\n" : "");
}

static void
rm_files (int dirfd)
{
  static const char *const files[] = { "state.json", "state.json.tmp", "config.json", "exec.fifo" };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    unlinkat (dirfd, files[i], 0);
}

/* Remove the directory of ID while its lock (on DIRFD) is held. */
int
oci_state_remove_dir (int rootfd, const char *id, int dirfd)
{
  rm_files (dirfd);
  if (unlinkat (rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return launch_failf (errno, "removing the state directory of %s", id);
  return 0;
}

int
oci_state_remove_unborn (int rootfd, const char *id)
{
  if (rootfd < 0 || oci_validate_id (id) < 0)
    return 0;
  _cleanup_close_ int fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    return 0; /* gone, or its creator is alive */
  struct stat st;
  if (fstat (fd, &st) < 0 || st.st_nlink == 0
      || faccessat (fd, "state.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
    return 0;
  return oci_state_remove_dir (rootfd, id, fd) == 0;
}

/* A mountinfo field with the kernel's octal escapes (\040 for a space)
 * decoded in place. */
static void
unescape (char *f)
{
  char *w = f;
  for (char *p = f; *p; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0'
          && p[3] <= '7')
        {
          *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
          p += 3;
        }
      else
        *w++ = *p;
    }
  *w = '\0';
}

/* The mount at ROOT/REL, reached from ROOT without following any symlink:
 * the container had the rootfs to itself and may have replaced a directory
 * on the way with a link to a host path; such a path is left alone. */
static int
unmount_below (const char *root, const char *rel)
{
  _cleanup_close_ int rfd = open (root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (rfd < 0)
    return -errno;
  _cleanup_close_ int fd = *rel ? resolve_in_root (rfd, rel, RES_NO_SYMLINKS, false) : -1;
  if (*rel && fd < 0)
    return fd;
  char p[32];
  fmt_fd_path (p, *rel ? fd : rfd);
  if (umount2 (p, MNT_DETACH) < 0 && errno != EINVAL)
    return -errno;
  return 0;
}

void
oci_unmount_shared (const struct oci_state *st)
{
  if (!st->shared_root)
    return;
  struct stat ns;
  if (stat ("/proc/self/ns/mnt", &ns) < 0 || (unsigned long long)ns.st_ino != st->shared_mntns)
    {
      oci_log_warn ("container %s had no mount namespace of its own: its mounts below %s are in "
                    "another mount namespace than this one and stay",
                    st->id, st->shared_root);
      return;
    }
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (!f)
    return;
  size_t rlen = strlen (st->shared_root), n = 0;
  char **points = NULL;
  char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      /* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... (proc_pid_mountinfo(5)) */
      char *save = NULL, *mp = strtok_r (line, " ", &save);
      for (int i = 0; mp && i < 4; i++)
        mp = strtok_r (NULL, " ", &save);
      if (!mp)
        continue;
      unescape (mp);
      if (strncmp (mp, st->shared_root, rlen) == 0 && (mp[rlen] == '\0' || mp[rlen] == '/'))
        {
          points = xrealloc (points, (n + 1) * sizeof *points);
          points[n++] = xstrdup (mp);
        }
    }
  free (line);
  fclose (f);
  /* the last mounted first: children before their parents */
  while (n > 0)
    {
      n--;
      int r = unmount_below (st->shared_root, points[n] + rlen);
      if (r < 0)
        oci_log_warn ("container %s: unmounting %s: %s", st->id, points[n], strerror (-r));
      free (points[n]);
    }
  free (points);
}

int
oci_state_open (int rootfd, const char *id, int how, struct oci_state *st)
{
  int dfd = oci_state_lock (rootfd, id, how);
  if (dfd < 0)
    return dfd;
  int r = oci_state_read (dfd, id, st);
  if (r < 0)
    {
      close (dfd);
      return r;
    }
  return dfd;
}
