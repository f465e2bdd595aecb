/* cairn-launch: the mount namespace of an OCI container (runs in the child).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Order, as runc and crun do it (docs/runtime-anchors.md §1.2 steps 9-15):
 * "/" gets linux.rootfsPropagation (default rprivate: nothing propagates to
 * the host), the rootfs is bind-mounted onto itself, config.json's mounts in
 * their order, the device nodes (the six defaults and linux.devices), the
 * /dev symlinks, sysctls, the createContainer hooks, masked and read-only
 * paths, pivot_root (or MS_MOVE + chroot with --no-pivot), the root's
 * propagation again and, with root.readonly, the root remounted read-only.
 *
 * Every destination inside the rootfs is resolved with resolve_in_root()
 * (openat2 RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N; a missing
 * destination is created below a parent that was itself resolved in the
 * root, so a symlink planted in the image cannot send a mount or a mkdir to
 * the host.  /proc and /sys targets must be real directories.  Flags of a
 * bind mount are applied by a remount of the new mount, reached again
 * through the root.
 *
 * No allocation: everything comes from the spec and the plan.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "runtime/oci.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define MNT_SAFE (MS_NOSUID | MS_NODEV | MS_NOEXEC)

struct mnt_attr
{
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* Resolve PATH in the root, creating what is missing: directories, and the
 * last component as a directory (DIR) or an empty file. */
static int
ensure_in_root (struct oci_plan *plan, int root_fd, const char *path, bool dir, int res_flags)
{
  int fd = resolve_in_root (root_fd, path, res_flags, false);
  if (fd != -ENOENT)
    return fd;
  char buf[PATH_MAX];
  if (str_lcpy (buf, path, sizeof buf) >= sizeof buf)
    return -ENAMETOOLONG;
  size_t len = strlen (buf);
  while (len > 1 && buf[len - 1] == '/')
    buf[--len] = '\0';
  char *slash = strrchr (buf, '/');
  if (!slash || !slash[1] || !strcmp (slash + 1, "..") || !strcmp (slash + 1, "."))
    return -EINVAL;
  *slash = '\0';
  int pfd = ensure_in_root (plan, root_fd, buf[0] ? buf : "/", true, RES_DIRECTORY);
  if (pfd < 0)
    return pfd;
  const char *name = slash + 1;
  int r = dir ? mkdirat (pfd, name, 0755)
              : openat (pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (r < 0 && errno != EEXIST)
    {
      r = -errno;
      close (pfd);
      return r;
    }
  if (!dir && r >= 0)
    close (r);
  close (pfd);
  return resolve_in_root (root_fd, path, res_flags, false);
}

static int
reopen_top (int root_fd, const char *dst)
{
  int fd = resolve_in_root (root_fd, dst, 0, false);
  if (fd < 0)
    return launch_fail (-fd, "reopening a mount", dst);
  return fd;
}

static int
apply_after (const struct oci_mount *m, int root_fd, bool remount_flags)
{
  int r = 0;
  _cleanup_close_ int top = -1;
  if (remount_flags || m->prop || m->rec_attr_set || m->rec_attr_clr)
    if ((top = reopen_top (root_fd, m->dst)) < 0)
      return top;
  if (remount_flags)
    r = remount_fd (top,
                    m->flags
                        & (MS_RDONLY | MNT_SAFE | MS_NOATIME | MS_NODIRATIME | MS_RELATIME
                           | MS_STRICTATIME | MS_NOSYMFOLLOW),
                    m->dst);
  if (r == 0 && (m->rec_attr_set || m->rec_attr_clr))
    {
      struct mnt_attr a = { m->rec_attr_set, m->rec_attr_clr, 0, 0 };
      if (syscall (SYS_mount_setattr, top, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
        r = launch_fail (errno, "mount_setattr (recursive mount options)", m->dst);
    }
  if (r == 0 && m->prop)
    {
      char p[32];
      fmt_fd_path (p, top);
      if (mount (NULL, p, NULL, m->prop, NULL) < 0)
        r = launch_fail (errno, "setting the propagation of a mount", m->dst);
    }
  return r;
}

static int
do_bind (struct oci_plan *plan, int root_fd, const struct oci_mount *m)
{
  _cleanup_close_ int src = open (m->src, O_PATH | O_CLOEXEC);
  if (src < 0)
    return launch_fail (errno, "opening a bind source", m->src);
  _cleanup_close_ int dst = ensure_in_root (plan, root_fd, m->dst, m->src_is_dir, 0);
  if (dst < 0)
    return launch_fail (-dst, "cannot create the mount destination in the rootfs", m->dst);
  struct stat ss, ds;
  if (fstat (src, &ss) < 0 || fstat (dst, &ds) < 0)
    return launch_fail (errno, "stat", m->dst);
  if (S_ISDIR (ss.st_mode) != S_ISDIR (ds.st_mode))
    return launch_fail (ENOTDIR, "bind source and destination differ in type", m->dst);
  int r = 0;
  if (m->idmap_fd >= 0)
    {
      /* the id-mapped tree the parent made (oci-create.c send_idmapped) */
      if (move_mount (m->idmap_fd, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          < 0)
        r = launch_fail (errno, "attaching an id-mapped mount", m->dst);
    }
  else
    r = bind_fd_on_fd (src, dst, m->rec ? MS_REC : 0, m->dst);
  bool need = (m->flags
               & (MS_RDONLY | MNT_SAFE | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME
                  | MS_NOSYMFOLLOW))
              != 0;
  return r < 0 ? r : apply_after (m, root_fd, need);
}

/* With a cgroup namespace, the hierarchy (rooted at the container's cgroup
 * by the namespace); without one, a bind of the container's own cgroup
 * directory, as runc does, so that the container sees its own cgroup and
 * nothing above it.  Read-only unless the mount asks otherwise. */
static int
mount_hierarchy (struct oci_plan *plan, int top, int h, size_t i, unsigned long fl)
{
  const char *name = plan->cg->ctrl[i];
  if (plan->spec->ns_new & CLONE_NEWCGROUP)
    return mount_on_fd ("cgroup", h, "cgroup", fl, name, name);
  _cleanup_close_ int src = open (plan->cg->dir[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (src < 0)
    return launch_fail (errno, "opening the container's cgroup", plan->cg->dir[i]);
  int r = bind_fd_on_fd (src, h, 0, name);
  _cleanup_close_ int t
      = r < 0 ? -1 : openat (top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (r == 0 && t < 0)
    r = launch_fail (errno, "reopening the cgroup mount", name);
  return r < 0 ? r : remount_fd (t, fl, name);
}

/* v1: a tmpfs holding one cgroup mount per hierarchy the container is in
 * (rooted at its cgroup by the cgroup namespace); v2: the cgroup2 fs. */
static int
do_cgroup_mount (struct oci_plan *plan, int root_fd, const struct oci_mount *m, int dst)
{
  unsigned long fl = (m->flags & (MS_RDONLY | MNT_SAFE)) | MNT_SAFE;
  int mode = plan->cg && plan->cg->mode ? plan->cg->mode : 0;
  struct statfs sf;
  if (!mode)
    mode = statfs ("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC ? 2 : 1;
  if (mode == 2 && (!(plan->spec->ns_new & CLONE_NEWCGROUP) && plan->cg && plan->cg->n))
    {
      _cleanup_close_ int src = open (plan->cg->dir[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
      int r = src < 0 ? launch_fail (errno, "opening the container's cgroup", plan->cg->dir[0])
                      : bind_fd_on_fd (src, dst, 0, m->dst);
      _cleanup_close_ int t = r < 0 ? -1 : reopen_top (root_fd, m->dst);
      return r < 0 ? r : t < 0 ? t : remount_fd (t, fl, m->dst);
    }
  if (mode == 2)
    {
      /* a user namespace may not mount it (no cgroup namespace of its
       * own): sysfs's empty directory stays */
      int r = mount_on_fd ("cgroup2", dst, "cgroup2", fl, NULL, m->dst);
      return r < 0 && plan->unpriv ? 0 : r;
    }
  int r = mount_on_fd ("tmpfs", dst, "tmpfs", MNT_SAFE, "mode=0755,size=64k", m->dst);
  _cleanup_close_ int top = r < 0 ? -1 : reopen_top (root_fd, m->dst);
  if (r < 0 || top < 0)
    return r < 0 ? r : top;
  for (size_t i = 0; plan->cg && i < plan->cg->n; i++)
    {
      const char *name = plan->cg->ctrl[i];
      if (mkdirat (top, name, 0755) < 0)
        return launch_fail (errno, "mkdir in the cgroup mount", name);
      _cleanup_close_ int h = openat (top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = h < 0 ? launch_fail (errno, "opening", name) : mount_hierarchy (plan, top, h, i, fl);
      if (r < 0 && !(plan->unpriv && (r == -EPERM || r == -EACCES)))
        return r;
      /* "cpu,cpuacct" is also reachable as "cpu" and "cpuacct" */
      for (const char *p = name; strchr (name, ',') && *p;)
        {
          char one[32];
          size_t n = strcspn (p, ",");
          if (n < sizeof one)
            {
              memcpy (one, p, n);
              one[n] = '\0';
              (void)!symlinkat (name, top, one);
            }
          p += n + (p[n] == ',');
        }
    }
  return (m->flags & MS_RDONLY) ? remount_fd (top, MS_RDONLY | MNT_SAFE, m->dst) : 0;
}

/* Mounts a user namespace may not make are replaced by binds of the host's
 * (sysfs without its own netns, mqueue without its ipc ns), as runc does. */
static int
fs_fallback (const struct oci_mount *m, int dst, int err)
{
  const char *host = !strcmp (m->type, "sysfs")    ? "/sys"
                     : !strcmp (m->type, "mqueue") ? "/dev/mqueue"
                                                   : NULL;
  if (!host || (err != -EPERM && err != -EACCES))
    return err;
  _cleanup_close_ int src = open (host, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (src < 0)
    return launch_fail (-err,
                        "mount refused in this user namespace (its network or ipc namespace "
                        "belongs to another), and the host has no such mount to bind",
                        m->dst);
  return bind_fd_on_fd (src, dst, MS_REC, m->dst);
}

/* ---- tmpcopyup: the image's files under a tmpfs mount point are copied
 * into the new tmpfs (crun's and podman's extension).  getdents64 into a
 * stack buffer: no allocation in the child. */
struct linux_dirent64
{
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int copy_dir (int src, int dst, int depth);

static int
copy_file (int src, int dst, const char *name, const struct stat *st)
{
  _cleanup_close_ int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  _cleanup_close_ int out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                    st->st_mode & 07777);
  if (in < 0 || out < 0)
    return launch_fail (errno, "tmpcopyup: copying a file", name);
  char buf[16384];
  ssize_t n;
  while ((n = read (in, buf, sizeof buf)) > 0)
    if (write (out, buf, (size_t)n) != n)
      return launch_fail (errno, "tmpcopyup: writing a file", name);
  if (n < 0)
    return launch_fail (errno, "tmpcopyup: reading a file", name);
  return 0;
}

static int
copy_entry (int src, int dst, const char *name, int depth)
{
  struct stat st;
  if (fstatat (src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return launch_fail (errno, "tmpcopyup: stat", name);
  int r = 0;
  if (S_ISDIR (st.st_mode))
    {
      if (mkdirat (dst, name, st.st_mode & 07777) < 0)
        return launch_fail (errno, "tmpcopyup: mkdir", name);
      _cleanup_close_ int s2 = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      _cleanup_close_ int d2 = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = s2 < 0 || d2 < 0 ? launch_fail (errno, "tmpcopyup: opening", name)
                           : copy_dir (s2, d2, depth + 1);
    }
  else if (S_ISREG (st.st_mode))
    r = copy_file (src, dst, name, &st);
  else if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (src, name, target, sizeof target - 1);
      if (n < 0)
        return launch_fail (errno, "tmpcopyup: readlink", name);
      target[n] = '\0';
      if (symlinkat (target, dst, name) < 0)
        r = launch_fail (errno, "tmpcopyup: symlink", name);
    }
  else if (mknodat (dst, name, st.st_mode, st.st_rdev) < 0)
    r = launch_fail (errno, "tmpcopyup: mknod", name);
  if (r == 0 && fchownat (dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0
      && errno != EINVAL)
    r = launch_fail (errno, "tmpcopyup: chown", name);
  return r;
}

static int
copy_dir (int src, int dst, int depth)
{
  if (depth > 64)
    return launch_fail (ELOOP, "tmpcopyup: the tree is too deep", NULL);
  char buf[8192] __attribute__ ((aligned (8)));
  for (;;)
    {
      long n = syscall (SYS_getdents64, src, buf, sizeof buf);
      if (n < 0)
        return launch_fail (errno, "tmpcopyup: reading a directory", NULL);
      if (n == 0)
        return 0;
      for (long off = 0; off < n;)
        {
          struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
          off += d->d_reclen;
          if (!strcmp (d->d_name, ".") || !strcmp (d->d_name, ".."))
            continue;
          int r = copy_entry (src, dst, d->d_name, depth);
          if (r < 0)
            return r;
        }
    }
}

static int
tmpcopyup (int root_fd, const struct oci_mount *m, int under)
{
  _cleanup_close_ int src = openat (under, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  _cleanup_close_ int top = reopen_top (root_fd, m->dst);
  if (top < 0)
    return top;
  _cleanup_close_ int dst = openat (top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (src < 0 || dst < 0 || fstat (src, &st) < 0)
    return launch_fail (errno, "tmpcopyup: opening", m->dst);
  if (fchmod (dst, st.st_mode & 07777) < 0 || fchown (dst, st.st_uid, st.st_gid) < 0)
    return launch_fail (errno, "tmpcopyup: the mount point's owner and mode", m->dst);
  return copy_dir (src, dst, 0);
}

static int
do_fs (struct oci_plan *plan, int root_fd, const struct oci_mount *m)
{
  bool special = !strcmp (m->type, "proc") || !strcmp (m->type, "sysfs");
  _cleanup_close_ int dst = ensure_in_root (plan, root_fd, m->dst, true,
                                            RES_DIRECTORY | (special ? RES_NO_SYMLINKS : 0));
  if (dst < 0)
    return launch_fail (-dst,
                        special ? "the rootfs needs a real directory here (missing, or a symlink)"
                                : "cannot create the mount destination in the rootfs",
                        m->dst);
  if (m->cgroup)
    return do_cgroup_mount (plan, root_fd, m, dst);
  unsigned long fl = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  /* a read-only /dev is made so after its nodes exist (as crun defers it) */
  if ((fl & MS_RDONLY) && strcmp (m->dst, "/dev") == 0)
    {
      fl &= ~MS_RDONLY;
      plan->dev_ro = true;
    }
  int r = mount_on_fd (m->src, dst, m->type, fl, m->data, m->dst);
  if (r < 0 && !strcmp (m->type, "devpts") && m->data && strstr (m->data, "gid=") && plan->unpriv)
    {
      /* gid 5 (tty) may be unmapped in a user namespace: runc retries without */
      char data[256];
      size_t o = 0;
      for (const char *p = m->data; *p && o < sizeof data - 1;)
        {
          size_t n = strcspn (p, ",");
          if (strncmp (p, "gid=", 4) != 0 && o + n + 2 < sizeof data)
            {
              if (o)
                data[o++] = ',';
              memcpy (data + o, p, n);
              o += n;
            }
          p += n + (p[n] == ',');
        }
      data[o] = '\0';
      r = mount_on_fd (m->src, dst, m->type, fl, data, m->dst);
    }
  if (r < 0 && plan->unpriv)
    r = fs_fallback (m, dst, r);
  if (r == 0 && m->tmpcopyup)
    r = tmpcopyup (root_fd, m, dst);
  if (r < 0)
    return r;
  return apply_after (m, root_fd, false);
}

/* ---- devices ------------------------------------------------------------------------ */
static const unsigned dflt_major[6] = { 1, 1, 1, 1, 1, 5 };
static const unsigned dflt_minor[6] = { 3, 5, 7, 8, 9, 0 };

/* DEV_FD: the container's /dev when PATH is directly in it (-1: resolved
 * here).  The child's umask is 0 (oci-child.c): mknod gives the node its
 * permissions, a chmod is needed for the set-id and sticky bits only; an
 * existing entry is replaced. */
static int
make_node (struct oci_plan *plan, int root_fd, int dev_fd, const char *path, char type,
           unsigned maj, unsigned min, mode_t perm, int host_fd, bool chown_it, uid_t uid,
           gid_t gid)
{
  char parent[PATH_MAX];
  str_lcpy (parent, path, sizeof parent);
  char *slash = strrchr (parent, '/');
  *slash = '\0';
  _cleanup_close_ int own = -1;
  int pfd = dev_fd;
  if (pfd < 0 || strcmp (parent, "/dev") != 0)
    {
      pfd = own = ensure_in_root (plan, root_fd, parent[0] ? parent : "/", true, RES_DIRECTORY);
      if (pfd < 0)
        return launch_fail (-pfd, "creating the parent of a device node", path);
    }
  const char *name = slash + 1;
  mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  if (!plan->unpriv || type == 'p')
    {
      int r = mknodat (pfd, name, fmt | perm, makedev (maj, min));
      if (r < 0 && errno == EEXIST && unlinkat (pfd, name, 0) == 0)
        r = mknodat (pfd, name, fmt | perm, makedev (maj, min));
      if (r < 0)
        return launch_fail (errno, "mknod", path);
      if ((perm & 07000) && fchmodat (pfd, name, perm, 0) < 0)
        return launch_fail (errno, "chmod of a device node", path);
      if (chown_it && fchownat (pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return launch_fail (errno, "chown of a device node", path);
      return 0;
    }
  /* mknod is refused in a user namespace: bind the host's node */
  int c = openat (pfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (c < 0)
    return launch_fail (errno, "creating a device node", path);
  close (c);
  _cleanup_close_ int src = host_fd >= 0 ? dup (host_fd) : open (path, O_PATH | O_CLOEXEC);
  _cleanup_close_ int t = openat (pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (src < 0 || t < 0)
    return launch_fail (errno, "opening a device node", path);
  return bind_fd_on_fd (src, t, 0, path);
}

static int
setup_devices (struct oci_plan *plan, int root_fd)
{
  const struct oci_spec *s = plan->spec;
  _cleanup_close_ int dev_fd = ensure_in_root (plan, root_fd, "/dev", true, RES_DIRECTORY);
  if (dev_fd < 0)
    return launch_fail (-dev_fd, "creating the parent of a device node", "/dev");
  for (int i = 0; i < 6; i++)
    {
      char p[32] = "/dev/";
      str_lcpy (p + 5, launch_dev_nodes[i], sizeof p - 5);
      bool listed = false;
      for (size_t k = 0; k < s->n_devices; k++)
        listed |= strcmp (s->devices[k].path, p) == 0;
      if (listed)
        continue;
      int r = make_node (plan, root_fd, dev_fd, p, 'c', dflt_major[i], dflt_minor[i], 0666,
                         plan->host_dev_fds[i], false, 0, 0);
      if (r < 0)
        return r;
    }
  for (size_t k = 0; k < s->n_devices; k++)
    {
      const struct oci_device *d = &s->devices[k];
      int r
          = make_node (plan, root_fd, dev_fd, d->path, d->type == 'u' ? 'c' : d->type, d->major,
                       d->minor, d->has_mode ? d->mode & 07777 : 0666, -1, d->has_uid || d->has_gid,
                       d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0);
      if (r < 0)
        return r;
    }
  return 0;
}

static int
dev_links (struct oci_plan *plan, int root_fd, int *out_master, int *out_slave)
{
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" },
    { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" },
    { "/proc/self/fd/2", "stderr" },
  };
  _cleanup_close_ int dfd = resolve_in_root (root_fd, "/dev", RES_DIRECTORY, false);
  if (dfd < 0)
    return launch_fail (-dfd, "the rootfs has no /dev", "/dev");
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat (links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST)
      return launch_fail (errno, "creating a /dev symlink", links[i][1]);
  struct stat st;
  if (fstatat (dfd, "pts/ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* /dev/ptmx must be the container's devpts instance */
      unlinkat (dfd, "ptmx", 0);
      if (symlinkat ("pts/ptmx", dfd, "ptmx") < 0)
        return launch_fail (errno, "creating /dev/ptmx", NULL);
    }
  if (stat ("/proc/kcore", &st) == 0)
    (void)!symlinkat ("/proc/kcore", dfd, "core");
  if (!plan->want_pty)
    return 0;
  /* a pty of the container's own devpts; the slave is also /dev/console */
  return dev_pty_console (dfd, "opening /dev/pts/ptmx (process.terminal needs a devpts mount)",
                          O_NOFOLLOW, out_master, out_slave);
}

/* ---- sysctl, masked and read-only paths ------------------------------------------------ */
static int
write_sysctls (struct oci_plan *plan, int root_fd)
{
  const struct oci_spec *s = plan->spec;
  if (!s->n_sysctl)
    return 0;
  _cleanup_close_ int pfd
      = resolve_in_root (root_fd, "/proc", RES_NO_SYMLINKS | RES_DIRECTORY, false);
  struct statfs sf;
  if (pfd < 0 || fstatfs (pfd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return launch_fail (EINVAL, "linux.sysctl needs /proc mounted in the container", NULL);
  for (size_t i = 0; i < s->n_sysctl; i++)
    {
      char rel[256] = "sys/";
      size_t o = 4;
      for (const char *k = s->sysctl[i].key; *k && o < sizeof rel - 1; k++)
        rel[o++] = *k == '.' ? '/' : *k;
      rel[o] = '\0';
      _cleanup_close_ int fd = openat (pfd, rel, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return launch_fail (errno, "linux.sysctl: cannot open", s->sysctl[i].key);
      size_t len = strlen (s->sysctl[i].value);
      if (write (fd, s->sysctl[i].value, len) != (ssize_t)len)
        return launch_fail (errno, "linux.sysctl: cannot write", s->sysctl[i].key);
    }
  return 0;
}

static int
mask_one (struct oci_plan *plan, int root_fd, const char *path)
{
  _cleanup_close_ int fd = resolve_in_root (root_fd, path, 0, false);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return launch_fail (-fd, "linux.maskedPaths: cannot resolve", path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return launch_fail (errno, "stat", path);
  if (S_ISDIR (st.st_mode))
    return mount_on_fd ("tmpfs", fd, "tmpfs", MS_RDONLY | MNT_SAFE, "mode=0555,size=0k", path);
  int r = bind_fd_on_fd (plan->host_null_fd, fd, 0, path);
  _cleanup_close_ int top = r < 0 ? -1 : reopen_top (root_fd, path);
  if (r < 0 || top < 0)
    return r < 0 ? r : top;
  return remount_fd (top, MS_RDONLY | MNT_SAFE, path);
}

static int
readonly_one (int root_fd, const char *path)
{
  _cleanup_close_ int fd = resolve_in_root (root_fd, path, 0, false);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return launch_fail (-fd, "linux.readonlyPaths: cannot resolve", path);
  int r = bind_fd_on_fd (fd, fd, MS_REC, path);
  _cleanup_close_ int top = r < 0 ? -1 : reopen_top (root_fd, path);
  if (r < 0 || top < 0)
    return r < 0 ? r : top;
  return remount_fd (top, MS_RDONLY | MNT_SAFE, path);
}

/* ---- the sequence ---------------------------------------------------------------------- */
static int
open_host_nodes (struct oci_plan *plan)
{
  plan->host_null_fd = open ("/dev/null", O_PATH | O_CLOEXEC);
  struct stat st;
  if (plan->host_null_fd < 0 || fstat (plan->host_null_fd, &st) < 0 || !S_ISCHR (st.st_mode)
      || st.st_rdev != makedev (1, 3))
    return launch_fail (errno ? errno : EINVAL, "the host's /dev/null is not the null device",
                        NULL);
  for (int i = 0; i < 6; i++)
    {
      plan->host_dev_fds[i] = -1;
      if (!plan->unpriv)
        continue;
      char p[32] = "/dev/";
      str_lcpy (p + 5, launch_dev_nodes[i], sizeof p - 5);
      plan->host_dev_fds[i] = open (p, O_PATH | O_CLOEXEC);
      if (plan->host_dev_fds[i] < 0)
        return launch_fail (errno, "opening a host device node", p);
    }
  return 0;
}

/* pivot_root refuses a shared current root or a shared parent of the new
 * root (pivot_root(2), EINVAL): with a shared rootfsPropagation, the mount
 * holding the rootfs and "/" become private again (only those two: the rest
 * keeps the asked propagation), as runc and crun do. */
static int
parent_private (const char *root)
{
  char buf[PATH_MAX];
  str_lcpy (buf, root, sizeof buf);
  for (;;)
    {
      if (mount (NULL, buf[0] ? buf : "/", NULL, MS_PRIVATE, NULL) == 0)
        break;
      if (errno != EINVAL)
        return launch_fail (errno, "making the rootfs's parent mount private", buf);
      char *slash = strrchr (buf, '/');
      if (!slash || !buf[0])
        break;
      *slash = '\0';
    }
  if (mount (NULL, "/", NULL, MS_PRIVATE, NULL) < 0)
    return launch_fail (errno, "making / private", NULL);
  return 0;
}

/* A missing process.cwd is created, as runc does; on a read-only root the
 * chdir reports it later.  (Under the overlay annotation it is made in the
 * upper layer.) */
static int
make_cwd (struct oci_plan *plan, int root_fd)
{
  const char *cwd = plan->spec->proc.cwd;
  if (!cwd || cwd[0] != '/' || !cwd[1])
    return 0;
  int fd = ensure_in_root (plan, root_fd, cwd, true, RES_DIRECTORY);
  if (fd >= 0)
    close (fd);
  return 0;
}

/* No mount namespace of the container's own (linux.namespaces has no
 * "mount": it inherits the runtime's, runtime-spec config-linux.md,
 * "Namespaces"): the mounts are made there, below the rootfs, and the
 * container is chrooted, as crun does.  "/" keeps its propagation, nothing
 * is pivoted; delete unmounts what is left below the rootfs
 * (oci_unmount_shared). */
static int
setup_root_shared (struct oci_plan *plan, int *out_root_fd)
{
  const struct oci_spec *s = plan->spec;
  /* root.readonly: a bind of the rootfs onto itself, made read-only once
   * the mounts below it are in place */
  if (s->root_ro && mount (s->root, s->root, NULL, MS_BIND | MS_REC, NULL) < 0)
    return launch_fail (errno, "bind-mounting the rootfs", s->root);
  str_lcpy (plan->root_path, s->root, sizeof plan->root_path);
  *out_root_fd = open (s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*out_root_fd < 0)
    return launch_fail (errno, "opening the rootfs", s->root);
  return 0;
}

static int
setup_root (struct oci_plan *plan, int *out_root_fd)
{
  const struct oci_spec *s = plan->spec;
  if (!plan->own_mnt)
    return setup_root_shared (plan, out_root_fd);
  unsigned long prop = s->rootfs_prop ? s->rootfs_prop : MS_PRIVATE | MS_REC;
  /* (r)unbindable: private for now, since the rootfs and the bind mounts
   * of config.json must still be bound; an unbindable mount is private as
   * well (mount_namespaces(7)), so nothing propagates meanwhile.  The
   * container's "/" gets it after pivot_root (oci_finish_rootfs). */
  if (prop & MS_UNBINDABLE)
    prop = MS_PRIVATE;
  if (mount (NULL, "/", NULL, prop | MS_REC, NULL) < 0)
    return launch_fail (errno, "setting the propagation of /", NULL);
  if ((prop & MS_SHARED) && parent_private (s->root) < 0)
    return -EINVAL;
  if (mount (s->root, s->root, NULL, MS_BIND | MS_REC, NULL) < 0)
    return launch_fail (errno, "bind-mounting the rootfs", s->root);
  if (s->root_overlay)
    {
      /* over the bind, at the same place: everything below sees the overlay */
      char opts[3 * PATH_MAX + 64];
      int n
          = snprintf (opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work%s", s->root,
                      s->root_overlay, s->root_overlay, plan->unpriv ? ",userxattr" : "");
      if (n < 0 || (size_t)n >= sizeof opts)
        return launch_fail (ENAMETOOLONG, "the root overlay's options", s->root_overlay);
      if (mount ("overlay", s->root, "overlay", 0, opts) < 0)
        return launch_fail (errno, "mounting the root overlay (" OCI_OVERLAY_ANNOTATION ")",
                            s->root_overlay);
    }
  str_lcpy (plan->root_path, s->root, sizeof plan->root_path);
  *out_root_fd = open (s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*out_root_fd < 0)
    return launch_fail (errno, "opening the rootfs", s->root);
  return 0;
}

/* Whether one of the paths A and B is the other or lies under it. */
static bool
paths_nest (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  while (la > 1 && a[la - 1] == '/')
    la--;
  while (lb > 1 && b[lb - 1] == '/')
    lb--;
  size_t n = la < lb ? la : lb;
  if (strncmp (a, b, n) != 0)
    return false;
  const char *longer = la < lb ? b : a;
  return la == lb || n == 1 || longer[n] == '/';
}

static int
mount_one (struct oci_plan *plan, int root_fd, const struct oci_mount *m)
{
  return m->kind == OM_BIND ? do_bind (plan, root_fd, m) : do_fs (plan, root_fd, m);
}

/* The deferred cgroup mounts (indices in D), now: they need the container
 * in its cgroups and its cgroup namespace ('c', oci_child_cgroups). */
static int
flush_cgroup_mounts (struct oci_plan *plan, int root_fd, size_t *d, size_t *nd)
{
  const struct oci_spec *s = plan->spec;
  int r = *nd ? oci_child_cgroups (plan) : 0;
  for (size_t k = 0; r == 0 && k < *nd; k++)
    r = mount_one (plan, root_fd, &s->mounts[d[k]]);
  *nd = 0;
  return r;
}

static bool
nests_in_deferred (const struct oci_spec *s, const char *path, const size_t *d, size_t nd)
{
  for (size_t k = 0; k < nd; k++)
    if (paths_nest (path, s->mounts[d[k]].dst))
      return true;
  return false;
}

/* The mounts in the config's order, but for the cgroup mounts: they wait
 * for the parent's cgroups, which it makes meanwhile (oci-create.c), so
 * they are made after the others, unless a later mount or the working
 * directory is at, above or below one of them (then the order is the
 * config's from there). The result is the same tree. */
int
oci_setup_rootfs (struct oci_plan *plan, int *out_root_fd, int *out_master, int *out_slave,
                  bool unused)
{
  (void)unused;
  const struct oci_spec *s = plan->spec;
  size_t *deferred = xrealloc (NULL, (s->n_mounts + 1) * sizeof *deferred), nd = 0;
  int r = open_host_nodes (plan);
  if (r == 0)
    r = setup_root (plan, out_root_fd);
  for (size_t i = 0; r == 0 && i < s->n_mounts; i++)
    {
      const struct oci_mount *m = &s->mounts[i];
      if (m->cgroup)
        {
          deferred[nd++] = i;
          continue;
        }
      if (nests_in_deferred (s, m->dst, deferred, nd))
        r = flush_cgroup_mounts (plan, *out_root_fd, deferred, &nd);
      if (r == 0)
        r = mount_one (plan, *out_root_fd, m);
    }
  if (r == 0 && s->proc.cwd && nests_in_deferred (s, s->proc.cwd, deferred, nd))
    r = flush_cgroup_mounts (plan, *out_root_fd, deferred, &nd);
  if (r == 0)
    r = make_cwd (plan, *out_root_fd);
  if (r == 0)
    r = setup_devices (plan, *out_root_fd);
  if (r == 0)
    r = dev_links (plan, *out_root_fd, out_master, out_slave);
  if (r == 0 && plan->dev_ro)
    {
      _cleanup_close_ int dfd = reopen_top (*out_root_fd, "/dev");
      r = dfd < 0 ? dfd : remount_fd (dfd, MS_RDONLY, "/dev");
    }
  if (r == 0)
    r = write_sysctls (plan, *out_root_fd);
  if (r == 0)
    r = flush_cgroup_mounts (plan, *out_root_fd, deferred, &nd);
  free (deferred);
  return r;
}

static int
enter_chroot (int root_fd)
{
  if (fchdir (root_fd) < 0 || chroot (".") < 0 || chdir ("/") < 0)
    return launch_fail (errno, "chroot into the rootfs (no mount namespace of its own)", NULL);
  return 0;
}

static int
no_pivot (int root_fd)
{
  if (fchdir (root_fd) < 0)
    return launch_fail (errno, "chdir to the new root", NULL);
  if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
    return launch_fail (errno, "moving the rootfs onto / (--no-pivot)", NULL);
  if (chroot (".") < 0 || chdir ("/") < 0)
    return launch_fail (errno, "chroot (--no-pivot)", NULL);
  return 0;
}

/* After the createContainer hooks: masks, pivot, root flags. */
int
oci_finish_rootfs (struct oci_plan *plan, int root_fd)
{
  const struct oci_spec *s = plan->spec;
  int r = 0;
  for (size_t i = 0; r == 0 && i < s->n_readonly; i++)
    r = readonly_one (root_fd, s->readonly[i]);
  for (size_t i = 0; r == 0 && i < s->n_masked; i++)
    r = mask_one (plan, root_fd, s->masked[i]);
  if (r == 0 && !plan->own_mnt)
    r = enter_chroot (root_fd);
  else if (r == 0)
    r = plan->no_pivot ? no_pivot (root_fd) : do_pivot (root_fd);
  if (r == 0 && plan->own_mnt && s->rootfs_prop
      && mount (NULL, "/", NULL, s->rootfs_prop, NULL) < 0)
    r = launch_fail (errno, "setting the propagation of the container's /", NULL);
  if (r == 0 && s->root_ro)
    {
      _cleanup_close_ int top = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      r = top < 0 ? launch_fail (errno, "opening /", NULL)
                  : remount_fd (top, MS_RDONLY, "root.readonly");
    }
  return r;
}
