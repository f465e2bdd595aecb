/* cairn-launch: the container's mount namespace (runs in the child).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Order: "/" made rprivate (container mounts never propagate to the host);
 * the root (a read-only self-bind of ROOTFS, or an overlay whose upper layer
 * is on tmpfs); /proc with read-only and masked paths; /dev; /sys and
 * /sys/fs/cgroup; user binds and tmpfs; pivot_root.  Every target inside the
 * rootfs is resolved with resolve_in_root() and mounted through
 * /proc/self/fd/N.  Flags are changed only on mounts reached through a trusted
 * path (the host path given by the caller, or a fresh procfs/devtmpfs we just
 * mounted), never by resolving an image path a second time.
 *
 * No allocation here: everything comes from the plan built by the parent.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "runtime/launch.h"

#define MNT_SAFE (MS_NOSUID | MS_NODEV | MS_NOEXEC)

const char *const launch_dev_nodes[6] = { "null", "zero", "full", "random", "urandom", "tty" };
static const unsigned dev_minor[6] = { 3, 5, 7, 8, 9, 0 };
static const unsigned dev_major[6] = { 1, 1, 1, 1, 1, 5 };

int
mount_on_fd (const char *src, int dst_fd, const char *type, unsigned long flags, const char *data,
             const char *what)
{
  char p[32];
  fmt_fd_path (p, dst_fd);
  if (mount (src, p, type, flags, data) < 0)
    return launch_fail (errno, "mount failed", what);
  return 0;
}

int
bind_fd_on_fd (int src_fd, int dst_fd, unsigned long extra, const char *what)
{
  char s[32];
  fmt_fd_path (s, src_fd);
  return mount_on_fd (s, dst_fd, NULL, MS_BIND | extra, NULL, what);
}

/* Change the per-mount flags of the mount whose root FD designates.  Flags
 * the kernel locked (inherited by a user namespace) are kept. */
int
remount_fd (int fd, unsigned long flags, const char *what)
{
  char p[32];
  struct statvfs sv;
  fmt_fd_path (p, fd);
  if (fstatvfs (fd, &sv) == 0)
    {
      if (sv.f_flag & ST_NOSUID)
        flags |= MS_NOSUID;
      if (sv.f_flag & ST_NODEV)
        flags |= MS_NODEV;
      if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
      if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
      if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
      if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    }
  if (mount (NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
    return launch_fail (errno, "remount failed", what);
  return 0;
}

static int
remount_path (const char *path, unsigned long flags)
{
  _cleanup_close_ int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return launch_fail (errno, "opening a mount", path);
  return remount_fd (fd, flags, path);
}

/* Whether @fd is the host's device node @i of launch_dev_nodes (a character
 * device with the kernel's fixed numbers): a /dev/null that has been
 * replaced by a file or a link to another device would otherwise be mounted
 * over the container's masked paths, or bound into its /dev. */
static int
check_dev_node (int fd, int i, const char *path)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return launch_fail (errno, "stat of a host device node", path);
  if (!S_ISCHR (st.st_mode) || major (st.st_rdev) != dev_major[i]
      || minor (st.st_rdev) != dev_minor[i])
    return launch_fail (ENODEV,
                        "the host's device node is not the character device it must be "
                        "(replaced or bind-mounted over?); refusing to use it",
                        path);
  return 0;
}

/* Trusted fds on host objects.  Opened here, in the child's mount namespace:
 * a bind source must be a mount of the caller's namespace, so fds opened by
 * the parent (another namespace) would be refused with EINVAL. */
static int
open_host_fds (struct launch_plan *plan)
{
  plan->host_null_fd = open ("/dev/null", O_PATH | O_CLOEXEC);
  if (plan->host_null_fd < 0)
    return launch_fail (errno, "opening the host's /dev/null", NULL);
  int r = check_dev_node (plan->host_null_fd, 0, "/dev/null");
  if (r < 0)
    return r;
  for (int i = 0; i < 6; i++)
    plan->host_dev_fds[i] = -1;
  plan->host_sys_fd = -1;
  for (int i = 0; plan->userns && i < 6; i++)
    {
      char p[32] = "/dev/";
      str_lcpy (p + 5, launch_dev_nodes[i], sizeof p - 5);
      plan->host_dev_fds[i] = open (p, O_PATH | O_CLOEXEC);
      if (plan->host_dev_fds[i] < 0)
        return launch_fail (errno, "opening a host device node", launch_dev_nodes[i]);
      r = check_dev_node (plan->host_dev_fds[i], i, p);
      if (r < 0)
        return r;
    }
  if (plan->userns && plan->cfg->net_host)
    plan->host_sys_fd = open ("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return 0;
}

/* ---- the root -------------------------------------------------------------------- */
static int
setup_overlay (struct launch_plan *plan)
{
  const struct launch_config *cfg = plan->cfg;
  if (mount ("tmpfs", plan->staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
    return launch_fail (errno, "mounting the staging tmpfs", plan->staging);
  if (!cfg->overlay_upper
      && ((mkdir (plan->ovl_upper, 0755) < 0) || mkdir (plan->ovl_work, 0700) < 0))
    return launch_fail (errno, "creating the overlay's upper layer", plan->ovl_upper);
  if (mkdir (plan->ovl_root, 0755) < 0)
    return launch_fail (errno, "creating the overlay mount point", plan->ovl_root);
  if (mount ("overlay", plan->ovl_root, "overlay", MS_NODEV, plan->overlay_opts) < 0)
    return launch_fail (errno, "mounting the overlay (--writable)", plan->overlay_opts);
  str_lcpy (plan->root_path, plan->ovl_root, sizeof plan->root_path);
  return 0;
}

static int
setup_root (struct launch_plan *plan, int *out_root_fd)
{
  const struct launch_config *cfg = plan->cfg;
  /* EINVAL: "/" is not a mount point (a plain chroot). Bind-mounting it
   * onto itself here could propagate to the host's peer group, so refuse
   * and say how to fix the environment instead. */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return launch_fail (errno,
                        errno == EINVAL
                            ? "making / private (/ is not a mount point: inside a chroot, "
                              "bind-mount the chroot directory onto itself first)"
                            : "making / private",
                        NULL);
  int r = 0;
  if (cfg->writable)
    r = setup_overlay (plan);
  else
    {
      str_lcpy (plan->root_path, cfg->rootfs, sizeof plan->root_path);
      if (mount (cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return launch_fail (errno, "bind-mounting the rootfs", cfg->rootfs);
      r = remount_path (cfg->rootfs, MS_RDONLY | MS_NODEV);
    }
  if (r < 0)
    return r;
  *out_root_fd = open (plan->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*out_root_fd < 0)
    return launch_fail (errno, "opening the new root", plan->root_path);
  return 0;
}

/* A directory of the image that must be a real directory (no symlink at all):
 * /proc, /dev, /sys (CVE-2019-16884, CVE-2019-19921, CVE-2026-47766). */
static int
image_dir (struct launch_plan *plan, int root_fd, const char *name)
{
  int fd = resolve_in_root (root_fd, name, RES_NO_SYMLINKS | RES_DIRECTORY, plan->cfg->no_openat2);
  if (fd < 0)
    return launch_fail (-fd, "the rootfs needs a real directory here (missing, or a symlink)",
                        name);
  return fd;
}

/* ---- /proc ----------------------------------------------------------------------- */
static const char *const proc_ro[] = { "sys", "sysrq-trigger", "irq", "bus", "fs" };
static const char *const proc_masked[]
    = { "kcore",       "keys", "timer_list", "sched_debug", "latency_stats",
        "timer_stats", "acpi", "scsi",       "asound",      "key-users" };

static int
proc_make_ro (int pfd, const char *name)
{
  _cleanup_close_ int fd = openat (pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : launch_fail (errno, "opening a /proc path", name);
  int r = bind_fd_on_fd (fd, fd, MS_REC, name);
  if (r < 0)
    return r;
  _cleanup_close_ int top = openat (pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0)
    return launch_fail (errno, "reopening a /proc path", name);
  return remount_fd (top, MS_RDONLY | MNT_SAFE, name);
}

/* Files get the host's /dev/null (a trusted fd, CVE-2025-31133) mounted
 * nodev+ro, so reads and writes fail with EACCES; directories an empty
 * read-only tmpfs. */
static int
mask_path (struct launch_plan *plan, int dirfd, const char *name)
{
  _cleanup_close_ int fd = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : launch_fail (errno, "opening a masked path", name);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return launch_fail (errno, "stat", name);
  if (S_ISDIR (st.st_mode))
    return mount_on_fd ("tmpfs", fd, "tmpfs", MS_RDONLY | MNT_SAFE, "mode=0555,size=0k", name);
  int r = bind_fd_on_fd (plan->host_null_fd, fd, 0, name);
  if (r < 0)
    return r;
  _cleanup_close_ int top = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0)
    return launch_fail (errno, "reopening a masked path", name);
  return remount_fd (top, MS_RDONLY | MNT_SAFE, name);
}

static int
setup_proc (struct launch_plan *plan, int root_fd)
{
  _cleanup_close_ int fd = image_dir (plan, root_fd, "proc");
  if (fd < 0)
    return fd;
  int r = mount_on_fd ("proc", fd, "proc", MNT_SAFE, NULL, "/proc");
  if (r < 0)
    return r;
  _cleanup_close_ int pfd = image_dir (plan, root_fd, "proc");
  struct statfs sf;
  if (pfd < 0)
    return pfd;
  if (fstatfs (pfd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return launch_fail (EXDEV, "/proc is not the procfs just mounted", "/proc");
  for (size_t i = 0; i < sizeof proc_ro / sizeof proc_ro[0]; i++)
    if ((r = proc_make_ro (pfd, proc_ro[i])) < 0)
      return r;
  for (size_t i = 0; i < sizeof proc_masked / sizeof proc_masked[0]; i++)
    if ((r = mask_path (plan, pfd, proc_masked[i])) < 0)
      return r;
  return 0;
}

/* ---- /dev ------------------------------------------------------------------------ */
static int
dev_nodes (struct launch_plan *plan, int dfd)
{
  for (int i = 0; i < 6; i++)
    {
      const char *n = launch_dev_nodes[i];
      if (!plan->userns)
        {
          if (mknodat (dfd, n, S_IFCHR | 0666, makedev (dev_major[i], dev_minor[i])) < 0)
            return launch_fail (errno, "mknod in /dev", n);
          continue;
        }
      /* In a user namespace mknod is refused: bind the host's node. */
      int c = openat (dfd, n, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
      if (c < 0)
        return launch_fail (errno, "creating a /dev node", n);
      close (c);
      _cleanup_close_ int t = openat (dfd, n, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      int r = t < 0 ? launch_fail (errno, "opening a /dev node", n)
                    : bind_fd_on_fd (plan->host_dev_fds[i], t, 0, n);
      if (r < 0)
        return r;
    }
  return 0;
}

static int
dev_links_and_dirs (int dfd)
{
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
    { "pts/ptmx", "ptmx" },          { "/proc/kcore", "core" },
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat (links[i][0], dfd, links[i][1]) < 0)
      return launch_fail (errno, "creating a /dev symlink", links[i][1]);
  if (mkdirat (dfd, "pts", 0755) < 0 || mkdirat (dfd, "shm", 01777) < 0
      || mkdirat (dfd, "mqueue", 0755) < 0)
    return launch_fail (errno, "creating /dev directories", NULL);
  return 0;
}

static int
mount_in_dev (int dfd, const char *name, const char *type, unsigned long flags, const char *data)
{
  _cleanup_close_ int fd = openat (dfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return launch_fail (errno, "opening a /dev directory", name);
  return mount_on_fd (type, fd, type, flags, data, name);
}

/* A new pty from the container's own devpts (DFD: its /dev): the slave
 * becomes the command's controlling terminal and /dev/console; the master
 * goes to the monitor.  PTMX_ERR: the message when there is no pts/ptmx;
 * CONSOLE_FLAGS: how /dev/console is created (O_EXCL on the launcher's
 * fresh /dev, O_NOFOLLOW on an OCI image's, which may have one). */
int
dev_pty_console (int dfd, const char *ptmx_err, int console_flags, int *out_master, int *out_slave)
{
  int unlock = 0;
  int m = openat (dfd, "pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return launch_fail (errno, ptmx_err, NULL);
  *out_master = m;
  if (ioctl (m, TIOCSPTLCK, &unlock) < 0)
    return launch_fail (errno, "unlocking the pty", NULL);
  int s = ioctl (m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0)
    return launch_fail (errno, "opening the pty slave", NULL);
  *out_slave = s;
  int c = openat (dfd, "console", O_CREAT | O_WRONLY | O_CLOEXEC | console_flags, 0600);
  if (c < 0)
    return launch_fail (errno, "creating /dev/console", NULL);
  close (c);
  _cleanup_close_ int t = openat (dfd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (t < 0)
    return launch_fail (errno, "opening /dev/console", NULL);
  return bind_fd_on_fd (s, t, 0, "/dev/console");
}

static int
setup_dev (struct launch_plan *plan, int root_fd, int *out_master, int *out_slave)
{
  _cleanup_close_ int fd = image_dir (plan, root_fd, "dev");
  if (fd < 0)
    return fd;
  int r = mount_on_fd ("tmpfs", fd, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
                       "mode=0755,size=64k", "/dev");
  _cleanup_close_ int dfd = r < 0 ? -1 : image_dir (plan, root_fd, "dev");
  struct statfs sf;
  if (r < 0 || dfd < 0)
    return r < 0 ? r : dfd;
  if (fstatfs (dfd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
    return launch_fail (EXDEV, "/dev is not the tmpfs just mounted", "/dev");
  if ((r = dev_nodes (plan, dfd)) < 0 || (r = dev_links_and_dirs (dfd)) < 0)
    return r;
  r = mount_in_dev (dfd, "pts", "devpts", MS_NOSUID | MS_NOEXEC,
                    plan->userns ? "newinstance,ptmxmode=0666,mode=0620"
                                 : "newinstance,ptmxmode=0666,mode=0620,gid=5");
  if (r == 0)
    r = mount_in_dev (dfd, "shm", "tmpfs", MNT_SAFE, "mode=1777,size=65536k");
  if (r == 0)
    r = mount_in_dev (dfd, "mqueue", "mqueue", MNT_SAFE, NULL);
  if (r == 0 && plan->cfg->tty)
    r = dev_pty_console (dfd, "opening /dev/pts/ptmx", O_EXCL, out_master, out_slave);
  /* No node can be added later (CAP_MKNOD is not in the default set anyway). */
  return r < 0 ? r : remount_fd (dfd, MS_RDONLY | MS_NOSUID | MS_NOEXEC, "/dev");
}

/* ---- /sys ------------------------------------------------------------------------ */
static int
sys_cgroup_v1 (struct launch_plan *plan, int cfd)
{
  const char *ctrls[4];
  size_t n = cgroups_v1_controllers (plan->cg, ctrls, 4);
  int r = mount_on_fd ("tmpfs", cfd, "tmpfs", MNT_SAFE, "mode=0755,size=64k", "/sys/fs/cgroup");
  _cleanup_close_ int top = -1;
  if (r < 0)
    return r;
  /* cfd designates the underlying directory; reach the tmpfs through
   * its parent (sysfs, trusted) */
  _cleanup_close_ int parent = openat (cfd, "..", O_PATH | O_CLOEXEC);
  top = parent < 0 ? -1 : openat (parent, "cgroup", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0)
    return launch_fail (errno, "reopening /sys/fs/cgroup", NULL);
  for (size_t i = 0; i < n; i++)
    {
      if (mkdirat (top, ctrls[i], 0755) < 0)
        return launch_fail (errno, "mkdir in /sys/fs/cgroup", ctrls[i]);
      _cleanup_close_ int h = openat (top, ctrls[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = h < 0 ? launch_fail (errno, "opening", ctrls[i])
                : mount_on_fd ("cgroup", h, "cgroup", MS_RDONLY | MNT_SAFE, ctrls[i], ctrls[i]);
      if (r < 0 && !(plan->userns && (r == -EPERM || r == -EACCES)))
        return r;
    }
  return remount_fd (top, MS_RDONLY | MNT_SAFE, "/sys/fs/cgroup");
}

static int
sys_cgroup (struct launch_plan *plan, int sfd)
{
  _cleanup_close_ int cfd
      = openat (sfd, "fs/cgroup", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (cfd < 0)
    return 0;
  if (plan->cg_host_mode == 2)
    {
      int r = mount_on_fd ("cgroup2", cfd, "cgroup2", MS_RDONLY | MNT_SAFE, NULL, "/sys/fs/cgroup");
      return r < 0 && plan->userns ? 0 : r;
    }
  if (cgroups_mode (plan->cg) == 1)
    return sys_cgroup_v1 (plan, cfd);
  return 0; /* v1 without limits: sysfs's empty directory, nothing exposed */
}

static int
setup_sys (struct launch_plan *plan, int root_fd)
{
  _cleanup_close_ int fd = image_dir (plan, root_fd, "sys");
  if (fd < 0)
    return fd;
  int r = mount_on_fd ("sysfs", fd, "sysfs", MS_RDONLY | MNT_SAFE, NULL, "/sys");
  if (r < 0 && plan->userns && plan->host_sys_fd >= 0)
    {
      /* sysfs needs a netns owned by our userns (not so with --net=host) */
      r = bind_fd_on_fd (plan->host_sys_fd, fd, MS_REC, "/sys");
      _cleanup_close_ int top = r < 0 ? -1 : image_dir (plan, root_fd, "sys");
      if (r == 0)
        r = top < 0 ? top : remount_fd (top, MS_RDONLY | MNT_SAFE, "/sys");
      return r;
    }
  _cleanup_close_ int sfd = r < 0 ? -1 : image_dir (plan, root_fd, "sys");
  if (r < 0 || sfd < 0)
    return r < 0 ? r : sfd;
  return mask_path (plan, sfd, "firmware");
}

/* ---- user mounts ----------------------------------------------------------------- */
static int
setup_bind (struct launch_plan *plan, int root_fd, const struct launch_bind *b)
{
  /* Host side first: a self-bind of SRC in our private namespace, made
   * nosuid,nodev(,ro) through the caller's own path; then bound into place. */
  int r = 0;
  if (mount (b->src, b->src, NULL, MS_BIND | MS_REC, NULL) < 0)
    return launch_fail (errno, "bind-mounting a bind source", b->src);
  if (r == 0)
    r = remount_path (b->src, MS_NOSUID | MS_NODEV | (b->ro ? MS_RDONLY : 0));
  if (r < 0)
    return r;
  _cleanup_close_ int src = open (b->src, O_PATH | O_CLOEXEC);
  _cleanup_close_ int dst = resolve_in_root (root_fd, b->dst, 0, plan->cfg->no_openat2);
  struct stat ss, ds;
  if (src < 0)
    return launch_fail (errno, "reopening a bind source", b->src);
  if (dst < 0)
    return launch_fail (-dst, "bind destination missing in the rootfs", b->dst);
  if (fstat (src, &ss) < 0 || fstat (dst, &ds) < 0)
    return launch_fail (errno, "stat", b->dst);
  if (S_ISDIR (ss.st_mode) != S_ISDIR (ds.st_mode))
    return launch_fail (ENOTDIR, "bind source and destination differ in type", b->dst);
  return bind_fd_on_fd (src, dst, MS_REC, b->dst);
}

static int
setup_user_mounts (struct launch_plan *plan, int root_fd)
{
  const struct launch_config *cfg = plan->cfg;
  for (size_t i = 0; i < cfg->n_binds; i++)
    {
      int r = setup_bind (plan, root_fd, &cfg->binds[i]);
      if (r < 0)
        return r;
    }
  for (size_t i = 0; i < cfg->n_tmpfs; i++)
    {
      _cleanup_close_ int fd
          = resolve_in_root (root_fd, cfg->tmpfs[i], RES_DIRECTORY, cfg->no_openat2);
      if (fd < 0)
        return launch_fail (-fd, "tmpfs destination missing in the rootfs", cfg->tmpfs[i]);
      int r = mount_on_fd ("tmpfs", fd, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", cfg->tmpfs[i]);
      if (r < 0)
        return r;
    }
  return 0;
}

int
do_pivot (int root_fd)
{
  if (fchdir (root_fd) < 0)
    return launch_fail (errno, "chdir to the new root", NULL);
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return launch_fail (errno, "pivot_root", NULL);
  if (umount2 (".", MNT_DETACH) < 0)
    return launch_fail (errno, "detaching the old root", NULL);
  if (chdir ("/") < 0)
    return launch_fail (errno, "chdir /", NULL);
  return 0;
}

/* Phase 1, while the parent is still moving us into our cgroups (a v1
 * migration waits for an RCU grace period: milliseconds).  Returns the new
 * root's fd for phase 2. */
int
child_setup_mounts (struct launch_plan *plan, int *out_root_fd, int *out_pty_master,
                    int *out_pty_slave)
{
  int r = open_host_fds (plan);
  if (r == 0)
    r = setup_root (plan, out_root_fd);
  if (r == 0)
    r = setup_proc (plan, *out_root_fd);
  if (r == 0)
    r = setup_dev (plan, *out_root_fd, out_pty_master, out_pty_slave);
  if (r == 0)
    r = setup_sys (plan, *out_root_fd);
  if (r == 0)
    r = setup_user_mounts (plan, *out_root_fd);
  return r;
}

/* Phase 2, inside the container's cgroups and cgroup namespace. */
int
child_finish_mounts (struct launch_plan *plan, int root_fd)
{
  _cleanup_close_ int sfd = image_dir (plan, root_fd, "sys");
  int r = sfd < 0 ? sfd : sys_cgroup (plan, sfd);
  return r < 0 ? r : do_pivot (root_fd);
}

int
net_lo_up_raw (const char **what)
{
  _cleanup_close_ int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  *what = "socket";
  if (s < 0)
    return -errno;
  memset (&ifr, 0, sizeof ifr);
  str_lcpy (ifr.ifr_name, "lo", sizeof ifr.ifr_name);
  *what = "reading lo's flags";
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return -errno;
  ifr.ifr_flags |= IFF_UP;
  *what = "bringing lo up";
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    return -errno;
  return 0;
}

int
child_net_lo_up (void)
{
  const char *what;
  int r = net_lo_up_raw (&what);
  return r < 0 ? launch_fail (-r, what, NULL) : 0;
}
