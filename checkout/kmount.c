/* The kernel mount of a commit: its EROFS metadata image (erofs.c) mounted
 * from the file as overlayfs's lower layer, the repository's objects
 * directory as the overlay's data-only layer (docs/cairn-mount.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Images are cached under extensions/cairn/erofs/<commit>.img with their
 * SHA-256 in <commit>.img.sha256, checked on every use (by hashing the
 * image, or by the file's stamp while it is unchanged since it was hashed):
 * a torn or altered image is rebuilt, which is also why the cache needs no
 * fsync. An image
 * is written to an unnamed temporary file and linked into place complete;
 * its checksum file is replaced before the link, so a reader sees either
 * no image, or an image and the checksum of a complete one.
 *
 * The mount uses the new mount API (fsopen/fsconfig/fsmount/move_mount,
 * Linux 5.2; overlayfs "lowerdir+"/"datadir+" 6.8; detached mounts as
 * overlay layers 6.15; file-backed EROFS 6.12): the EROFS mount is never
 * attached anywhere, the overlay holds it, and the overlay is attached at
 * the mount point by one move_mount at the very end. A process that dies
 * before that leaves nothing mounted (its mount fds close with it) and no
 * half-written image (the unnamed file goes too); after it, the mount is
 * complete. Unmounting the overlay releases the EROFS mount.
 */
#include "config.h"
#include "checkout/cairn-erofs.h"
#include "checkout/cairn-checkout.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/loop.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CACHE_DIR "erofs"
#define SOURCE_PREFIX "cairn:"

/* Tests stop the process at a named step (then kill it) to show that no
 * step leaves a mount or a partial image behind. */
static void
test_stop_at (const char *step)
{
  const char *s = g_getenv ("CAIRN_TEST_KMOUNT_STOP");
  if (s && strcmp (s, step) == 0)
    raise (SIGSTOP);
}

static void klog (const CairnKmountOptions *o, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static void
klog (const CairnKmountOptions *o, const char *fmt, ...)
{
  if (!o || !o->log)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  o->log (msg, o->log_data);
}

gboolean
cairn_kmount_supported (CairnRepo *repo, GError **error)
{
  if (g_strcmp0 (g_getenv ("CAIRN_NO_KMOUNT"), "1") == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "disabled by CAIRN_NO_KMOUNT=1");
  if (geteuid () != 0)
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "the kernel mount needs root (mounting EROFS and overlayfs)");
  if (repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "archive repository: its objects are compressed and overlayfs "
                             "cannot serve them as file data (use --fuse, which decompresses)");
  static const char *const types[] = { "erofs", "overlay" };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      cairn_autofd fs = fsopen (types[i], FSOPEN_CLOEXEC);
      if (fs < 0)
        return cairn_throw_errno (error, "the kernel cannot mount %s", types[i]);
    }
  return TRUE;
}

/* ---- the image cache ------------------------------------------------------------ */

static int
open_cache_dir (CairnRepo *repo, GError **error)
{
  return cairn_checkout_state_dir_open (repo, CACHE_DIR, error);
}

static gboolean
repo_verity (CairnRepo *repo)
{
  return g_key_file_get_boolean (repo->config, "cairn", "verity", NULL);
}

/* <commit>.img, or <commit>.verity.img when the image records fs-verity
 * digests (`cairn fsck --verity`): an image built before is not reused. */
static char *
image_name (CairnRepo *repo, const char *commit, const char *suffix)
{
  return g_strconcat (commit, repo_verity (repo) ? ".verity" : "", ".img", suffix, NULL);
}

/* SHA-256 of the whole file, read through a mapping (no copy, no buffer:
 * this runs on every mount). */
static char *
hash_fd (int fd, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cairn_throw_errno (error, "image"), NULL;
  if (st.st_size == 0)
    return cairn_checksum_bytes ("", 0);
  void *p = mmap (NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED)
    return cairn_throw_errno (error, "reading the image"), NULL;
  char *sum = cairn_checksum_bytes (p, st.st_size);
  munmap (p, st.st_size);
  return sum;
}

/* The image file's identity when its checksum was last verified: device,
 * inode, size, modification and status change times. Every change to the
 * file's content (write, truncate, a write through a mapping) sets its
 * ctime to the current time, which no system call sets back (inode(7),
 * "Last status change timestamp"); a new file at the name has another
 * inode. So while the identity is the one recorded, the bytes are the ones
 * that were hashed, and a mount need not hash the image again (about 5 ms
 * of a cached mount's ~10 ms budget: OpenSSL's set-up and 1 MB of
 * SHA-256). What it does not see is damage below the file system, which
 * no check at mount time would see in the objects either. */
static char *
image_stamp (const struct stat *st)
{
  /* FNV-1a of the fields: a line of fixed length, so that the checksum file
   * stays within the 128 bytes that earlier cairn versions read (they
   * compare only its first 64). */
  const guint64 f[]
      = { st->st_dev,          st->st_ino,         (guint64)st->st_size, st->st_mtim.tv_sec,
          st->st_mtim.tv_nsec, st->st_ctim.tv_sec, st->st_ctim.tv_nsec };
  guint64 h = 0xcbf29ce484222325ull;
  const guint8 *b = (const guint8 *)f;
  for (gsize i = 0; i < sizeof f; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return g_strdup_printf ("stamp %016" G_GINT64_MODIFIER "x\n", h);
}

/* <commit>.img.sha256: the image's SHA-256 and a newline, then the stamp
 * of the file whose bytes had it (absent until a mount or the build that
 * linked the image recorded it). Replaced atomically; best effort: without
 * a stamp the next mount hashes the image again. */
static void
record_stamp (int dfd, const char *sumname, const char *sum, int img_fd)
{
  struct stat st;
  if (fstat (img_fd, &st) < 0)
    return;
  g_autofree char *stamp = image_stamp (&st);
  g_autofree char *content = g_strdup_printf ("%.64s\n%s", sum, stamp);
  (void)cairn_file_replace_contents_at (dfd, sumname, content, strlen (content), 0644,
                                        CAIRN_FSYNC_NONE, NULL);
}

/* The cached image if it is there and matches its recorded checksum: by
 * its stamp when the file is unchanged since the checksum was verified,
 * else by hashing it (then the stamp is recorded for the next mount). */
static int
open_cached (CairnRepo *repo, int dfd, const char *commit, gboolean *out_corrupt,
             gboolean *out_hashed)
{
  g_autofree char *name = image_name (repo, commit, "");
  g_autofree char *sumname = image_name (repo, commit, ".sha256");
  *out_corrupt = FALSE;
  *out_hashed = FALSE;
  cairn_autofd fd = openat (dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  g_autoptr (GBytes) sum = cairn_file_get_contents_at (dfd, sumname, 512, NULL);
  gsize len = 0;
  const char *recorded = sum ? g_bytes_get_data (sum, &len) : NULL;
  struct stat st;
  if (!recorded || len < 65 || recorded[64] != '\n' || fstat (fd, &st) < 0)
    {
      *out_corrupt = TRUE;
      return -1;
    }
  g_autofree char *stamp = image_stamp (&st);
  if (len - 65 == strlen (stamp) && memcmp (recorded + 65, stamp, len - 65) == 0)
    return cairn_steal_fd (&fd);
  g_autofree char *actual = hash_fd (fd, NULL);
  *out_hashed = TRUE;
  if (!actual || memcmp (recorded, actual, 64) != 0)
    {
      *out_corrupt = TRUE;
      return -1;
    }
  record_stamp (dfd, sumname, actual, fd);
  return cairn_steal_fd (&fd);
}

static void
log_missing (const char *msg, gpointer data)
{
  const CairnKmountOptions *o = data;
  if (o && o->log)
    o->log (msg, o->log_data);
}

static int
build_image (CairnRepo *repo, int dfd, const char *commit, const CairnKmountOptions *opts,
             CairnKmountStats *stats, GError **error)
{
  g_auto (CairnTmpfile) tmp = { 0 };
  if (!cairn_tmpfile_open (dfd, 0644, &tmp, error))
    return -1;
  CairnErofsOptions eo
      = { .verity = repo_verity (repo), .log = log_missing, .log_data = (gpointer)opts };
  CairnErofsStats es = { 0 };
  if (!cairn_erofs_write (repo, commit, tmp.fd, &eo, &es, error))
    return -1;
  stats->image_built = TRUE;
  stats->n_missing = es.n_missing;
  test_stop_at ("image");
  int fd = fcntl (tmp.fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return cairn_throw_errno (error, "image"), -1;
  cairn_autofd owned = fd;
  /* An image with missing objects is used once, never cached: the objects
   * may come back (a pull) and the next mount should show them. */
  if (es.n_missing)
    return cairn_steal_fd (&owned);
  g_autofree char *sum = g_strdup (es.sha256);
  g_autofree char *name = image_name (repo, commit, "");
  g_autofree char *sumname = image_name (repo, commit, ".sha256");
  g_autofree char *line = g_strconcat (sum ? sum : "", "\n", NULL);
  if (!sum
      || !cairn_file_replace_contents_at (dfd, sumname, line, strlen (line), 0644, CAIRN_FSYNC_NONE,
                                          error)
      || !cairn_tmpfile_link_at (&tmp, CAIRN_LINK_REPLACE, dfd, name, CAIRN_FSYNC_NONE, error))
    return cairn_prefix_error (error, "caching the image of %s", commit), -1;
  /* After the link, which changed the file's ctime: the first mount of the
   * cached image need not hash it. */
  record_stamp (dfd, sumname, sum, owned);
  stats->image_cached = TRUE;
  return cairn_steal_fd (&owned);
}

int
cairn_kmount_image_open (CairnRepo *repo, const char *commit, const CairnKmountOptions *opts,
                         CairnKmountStats *out_stats, GError **error)
{
  CairnKmountStats stats = { 0 };
  if (!cairn_validate_checksum_string (commit, error))
    return -1;
  cairn_autofd dfd = open_cache_dir (repo, error);
  if (dfd < 0)
    return cairn_prefix_error (error, "image cache"), -1;
  gboolean corrupt = FALSE, hashed = FALSE;
  cairn_autofd fd = open_cached (repo, dfd, commit, &corrupt, &hashed);
  stats.image_hashed = hashed;
  if (fd >= 0)
    stats.image_cached = TRUE;
  else
    {
      if (corrupt)
        {
          stats.image_corrupt = TRUE;
          klog (opts, "cached image of %s does not match its checksum: rebuilding it", commit);
        }
      fd = build_image (repo, dfd, commit, opts, &stats, error);
      if (fd < 0)
        return -1;
    }
  if (out_stats)
    *out_stats = stats;
  return cairn_steal_fd (&fd);
}

gboolean
cairn_kmount_describe (CairnRepo *repo, const char *commit, char **out_image, char **out_sum,
                       char **out_objects, char **out_source, gboolean *out_verity)
{
  g_autofree char *repo_abs = realpath (repo->path, NULL);
  if (!repo_abs || !cairn_is_checksum_string (commit))
    return FALSE;
  g_autofree char *name = image_name (repo, commit, "");
  g_autofree char *sumname = image_name (repo, commit, ".sha256");
  *out_image = g_build_filename (repo_abs, "extensions", "cairn", CACHE_DIR, name, NULL);
  *out_sum = g_build_filename (repo_abs, "extensions", "cairn", CACHE_DIR, sumname, NULL);
  *out_objects = g_build_filename (repo_abs, "objects", NULL);
  *out_source = g_strconcat (SOURCE_PREFIX, commit, NULL);
  *out_verity = repo_verity (repo);
  return TRUE;
}

/* ---- mounting ----------------------------------------------------------------------- */

/* The kernel's messages for a failed fsconfig/fsmount, read from the fs
 * context fd ("e overlay: ..."). */
static char *
fs_messages (int fs)
{
  GString *s = g_string_new (NULL);
  char buf[512];
  ssize_t n;
  while ((n = read (fs, buf, sizeof buf - 1)) > 0)
    {
      buf[n] = 0;
      g_strchomp (buf);
      g_string_append_printf (s, "%s%s", s->len ? "; " : "",
                              buf[0] && buf[1] == ' ' ? buf + 2 : buf);
    }
  return g_string_free (s, FALSE);
}

static gboolean
fs_fail (int fs, GError **error, const char *what)
{
  int e = errno;
  g_autofree char *msgs = fs_messages (fs);
  return cairn_throw_errno_value (error, e, "%s%s%s%s", what, *msgs ? " (" : "", msgs,
                                  *msgs ? ")" : "");
}

static gboolean
set_str (int fs, const char *key, const char *value, GError **error)
{
  if (fsconfig (fs, FSCONFIG_SET_STRING, key, value, 0) < 0)
    return fs_fail (fs, error, key);
  return TRUE;
}

/* A loop device reading @img_fd, for an image on a file system whose files
 * file-backed EROFS does not take (tmpfs: the kernel refuses with ENOTBLK,
 * shmem files have no read_folio). LO_FLAGS_AUTOCLEAR: the device detaches
 * itself when its last user goes (our fd, then the mount), so a process
 * killed at any point leaves no device bound (loop(4), LOOP_CONFIGURE). */
static int
attach_loop (int img_fd, char **out_dev, GError **error)
{
  cairn_autofd ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0)
    return cairn_throw_errno (error, "/dev/loop-control"), -1;
  for (int tries = 0; tries < 32; tries++)
    {
      int n = ioctl (ctl, LOOP_CTL_GET_FREE);
      if (n < 0)
        return cairn_throw_errno (error, "finding a free loop device"), -1;
      g_autofree char *dev = g_strdup_printf ("/dev/loop%d", n);
      cairn_autofd fd = open (dev, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return cairn_throw_errno (error, "%s", dev), -1;
      struct loop_config cfg = { .fd = img_fd };
      cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
      if (ioctl (fd, LOOP_CONFIGURE, &cfg) == 0)
        {
          *out_dev = g_steal_pointer (&dev);
          return cairn_steal_fd (&fd);
        }
      if (errno != EBUSY) /* EBUSY: another process took it meanwhile */
        return cairn_throw_errno (error, "attaching the image to %s", dev), -1;
    }
  return cairn_throw (error, "no free loop device"), -1;
}

/* *out_errno: why the kernel refused the image (ENOTBLK: not a file it
 * mounts directly). */
static int
mount_erofs_from (const char *source, int *out_errno, GError **error)
{
  cairn_autofd fs = fsopen ("erofs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return cairn_throw_errno (error, "erofs"), -1;
  if (!set_str (fs, "source", source, error))
    return -1;
  /* A read-only superblock: a block device (the loop device, read-only)
   * is then opened for reading only. */
  if (fsconfig (fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
    return fs_fail (fs, error, "ro"), -1;
  if (fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    {
      *out_errno = errno;
      return fs_fail (fs, error, "mounting the EROFS image"), -1;
    }
  int mnt = fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV);
  if (mnt < 0)
    return fs_fail (fs, error, "mounting the EROFS image"), -1;
  return mnt;
}

int
cairn_erofs_mount_image (int img_fd, GError **error)
{
  g_autofree char *src = g_strdup_printf ("/proc/self/fd/%d", img_fd);
  g_autoptr (GError) local = NULL;
  int why = 0;
  int mnt = mount_erofs_from (src, &why, &local);
  if (mnt >= 0 || why != ENOTBLK)
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return mnt;
    }
  g_autofree char *dev = NULL;
  cairn_autofd loop = attach_loop (img_fd, &dev, error);
  if (loop < 0)
    return cairn_prefix_error (error, "%s; on a loop device", local->message), -1;
  return mount_erofs_from (dev, &why, error);
}

static int
mount_overlay (CairnRepo *repo, const char *commit, int lower_mnt, const CairnKmountOptions *opts,
               GError **error)
{
  cairn_autofd fs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return cairn_throw_errno (error, "overlay"), -1;
  g_autofree char *source = g_strconcat (SOURCE_PREFIX, commit, NULL);
  g_autofree char *lower = g_strdup_printf ("/proc/self/fd/%d", lower_mnt);
  /* By path, not through repo->objects_dfd: the caller may have entered a
   * new mount namespace since the repository was opened, and overlayfs
   * takes no layer from another namespace. */
  g_autofree char *repo_abs = realpath (repo->path, NULL);
  if (!repo_abs)
    return cairn_throw_errno (error, "%s", repo->path), -1;
  g_autofree char *data = g_build_filename (repo_abs, "objects", NULL);
  gboolean verity = repo_verity (repo);
  /* metacopy: file data comes from the redirect target; redirect_dir=follow:
   * follow redirects without ever creating any (the overlay has no upper
   * layer). verity=on: a digest in the metadata must match the object. */
  if (!set_str (fs, "source", source, error) || !set_str (fs, "lowerdir+", lower, error)
      || !set_str (fs, "datadir+", data, error) || !set_str (fs, "metacopy", "on", error)
      || !set_str (fs, "redirect_dir", "follow", error)
      || (verity && !set_str (fs, "verity", "on", error)))
    return -1;
  if (fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return fs_fail (fs, error, "creating the overlay"), -1;
  guint attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | (opts && opts->suid ? 0 : MOUNT_ATTR_NOSUID);
  int mnt = fsmount (fs, FSMOUNT_CLOEXEC, attrs);
  if (mnt < 0)
    return fs_fail (fs, error, "mounting the overlay"), -1;
  return mnt;
}

/* The kernel refused a mount (an older kernel, a file system overlayfs
 * does not take as a layer): G_IO_ERROR_NOT_SUPPORTED, nothing is mounted,
 * the caller may serve the view another way. */
static gboolean
kernel_refused (GError **error, const char *what)
{
  cairn_prefix_error (error, "%s", what);
  if (error && *error)
    {
      (*error)->domain = G_IO_ERROR;
      (*error)->code = G_IO_ERROR_NOT_SUPPORTED;
    }
  return FALSE;
}

int
cairn_kmount_detached (CairnRepo *repo, const char *commit, const char *what,
                       const CairnKmountOptions *opts, CairnKmountStats *out_stats, GError **error)
{
  cairn_autofd img = cairn_kmount_image_open (repo, commit, opts, out_stats, error);
  if (img < 0)
    return -1;
  cairn_autofd erofs = cairn_erofs_mount_image (img, error);
  if (erofs < 0)
    return kernel_refused (error, what), -1;
  test_stop_at ("erofs");
  cairn_autofd ovl = mount_overlay (repo, commit, erofs, opts, error);
  if (ovl < 0)
    return kernel_refused (error, what), -1;
  test_stop_at ("overlay");
  return cairn_steal_fd (&ovl);
}

gboolean
cairn_kmount (CairnRepo *repo, const char *commit, const char *mountpoint,
              const CairnKmountOptions *opts, CairnKmountStats *out_stats, GError **error)
{
  cairn_autofd target = open (mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (target < 0)
    return cairn_throw_errno (error, "mount point %s", mountpoint);
  g_autofree char *what = g_strdup_printf ("mount %s", mountpoint);
  cairn_autofd ovl = cairn_kmount_detached (repo, commit, what, opts, out_stats, error);
  if (ovl < 0)
    return FALSE;
  if (move_mount (ovl, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return cairn_throw_errno (error, "mount %s", mountpoint);
  return TRUE;
}

/* ---- finding our mounts ------------------------------------------------------------ */

static char *
unescape (const char *s)
{
  GString *out = g_string_new (NULL);
  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          g_string_append_c (out, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
          s += 3;
        }
      else
        g_string_append_c (out, *s);
    }
  return g_string_free (out, FALSE);
}

gboolean
cairn_mount_top_at (const char *path, char **out_fstype, char **out_source)
{
  g_autofree char *real = realpath (path, NULL);
  g_autofree char *info = NULL;
  if (!real || !g_file_get_contents ("/proc/self/mountinfo", &info, NULL, NULL))
    return FALSE;
  g_autofree char *fstype = NULL, *source = NULL;
  g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
       * (proc_pid_mountinfo(5)) */
      g_auto (GStrv) f = g_strsplit (*l, " ", -1);
      guint n = g_strv_length (f), sep = 0;
      for (guint i = 6; i < n && !sep; i++)
        if (strcmp (f[i], "-") == 0)
          sep = i;
      if (n < 5 || !sep || sep + 2 >= n)
        continue;
      g_autofree char *mp = unescape (f[4]);
      if (strcmp (mp, real) != 0)
        continue;
      /* the last one is on top */
      g_free (fstype);
      g_free (source);
      fstype = g_strdup (f[sep + 1]);
      source = unescape (f[sep + 2]);
    }
  if (!fstype)
    return FALSE;
  *out_fstype = g_steal_pointer (&fstype);
  *out_source = g_steal_pointer (&source);
  return TRUE;
}

char *
cairn_kmount_commit_at (const char *path)
{
  g_autofree char *fstype = NULL, *source = NULL;
  if (!cairn_mount_top_at (path, &fstype, &source) || strcmp (fstype, "overlay") != 0
      || !g_str_has_prefix (source, SOURCE_PREFIX)
      || !cairn_is_checksum_string (source + strlen (SOURCE_PREFIX)))
    return NULL;
  return g_strdup (source + strlen (SOURCE_PREFIX));
}

gboolean
cairn_kmount_umount (const char *mountpoint, gboolean *out_lazy, GError **error)
{
  g_autofree char *commit = cairn_kmount_commit_at (mountpoint);
  if (!commit)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "%s is not a cairn mount",
                             mountpoint);
  gboolean lazy = FALSE;
  /* Unmounting the overlay releases the EROFS mount it holds. */
  if (umount2 (mountpoint, UMOUNT_NOFOLLOW) < 0)
    {
      if (errno != EBUSY || umount2 (mountpoint, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
        return cairn_throw_errno (error, "umount %s", mountpoint);
      lazy = TRUE;
    }
  if (out_lazy)
    *out_lazy = lazy;
  return TRUE;
}

/* ---- prune ------------------------------------------------------------------------ */

gboolean
cairn_erofs_cache_prune (CairnRepo *repo, guint *out_removed, GError **error)
{
  *out_removed = 0;
  cairn_autofd dfd = open_cache_dir (repo, error);
  if (dfd < 0)
    return FALSE;
  g_autoptr (GPtrArray) names = cairn_dir_list_names (dfd, error);
  if (!names)
    return cairn_prefix_error (error, "image cache");
  g_autoptr (GPtrArray) remove = g_ptr_array_new ();
  time_t now = time (NULL);
  for (guint i = 0; i < names->len; i++)
    {
      char *name = names->pdata[i];
      const char *dot = strchr (name, '.');
      struct stat st;
      /* A named temporary file (no O_TMPFILE) a killed build left. */
      if (g_str_has_prefix (name, ".tmp-"))
        {
          if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > 3600)
            g_ptr_array_add (remove, name);
          continue;
        }
      if (!dot || !(g_str_has_suffix (dot, ".img") || g_str_has_suffix (dot, ".img.sha256")))
        continue;
      g_autofree char *commit = g_strndup (name, dot - name);
      gboolean have = FALSE;
      if (!cairn_is_checksum_string (commit)
          || (cairn_repo_has_object (repo, CAIRN_OBJECT_COMMIT, commit, &have, NULL) && !have))
        g_ptr_array_add (remove, name);
    }
  for (guint i = 0; i < remove->len; i++)
    {
      /* A mounted image stays readable: the mount holds the file open. */
      if (!cairn_unlinkat (dfd, remove->pdata[i], 0, TRUE, error))
        return FALSE;
      if (g_str_has_suffix (remove->pdata[i], ".img"))
        (*out_removed)++;
    }
  return TRUE;
}

/* ---- the mount shared by `cairn run --mount` ------------------------------------ */

#define MOUNTS_DIR "mounts"

static int
open_mounts_dir (CairnRepo *repo, GError **error)
{
  return cairn_checkout_state_dir_open (repo, MOUNTS_DIR, error);
}

static int
lock_file (int dfd, const char *commit, const char *suffix, int how, GError **error)
{
  g_autofree char *name = g_strconcat (commit, suffix, NULL);
  cairn_autofd fd = openat (dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return cairn_throw_errno (error, "opening %s", name), -1;
  while (flock (fd, how) < 0)
    if (errno != EINTR)
      return cairn_throw_errno (error, "locking %s", name), -1;
  return cairn_steal_fd (&fd);
}

gboolean
cairn_kmount_shared_acquire (CairnRepo *repo, const char *commit, const CairnKmountOptions *opts,
                             char **out_path, int *out_users_fd, CairnKmountStats *out_stats,
                             GError **error)
{
  if (!cairn_validate_checksum_string (commit, error))
    return FALSE;
  cairn_autofd dfd = open_mounts_dir (repo, error);
  if (dfd < 0)
    return FALSE;
  cairn_autofd mutex = lock_file (dfd, commit, ".lock", LOCK_EX, error);
  cairn_autofd users = mutex < 0 ? -1 : lock_file (dfd, commit, ".users", LOCK_SH, error);
  if (users < 0 || !cairn_mkdirat (dfd, commit, 0755, TRUE, error))
    return FALSE;
  g_autofree char *base
      = g_build_filename (repo->path, "extensions", "cairn", MOUNTS_DIR, commit, NULL);
  g_autofree char *path = g_canonicalize_filename (base, NULL);
  g_autofree char *mounted = cairn_kmount_commit_at (path);
  if (g_strcmp0 (mounted, commit) != 0
      && !cairn_kmount (repo, commit, path, opts, out_stats, error))
    return FALSE;
  *out_path = g_steal_pointer (&path);
  *out_users_fd = cairn_steal_fd (&users);
  return TRUE;
}

void
cairn_kmount_shared_release (CairnRepo *repo, const char *commit, int users_fd)
{
  cairn_autofd dfd = open_mounts_dir (repo, NULL);
  cairn_autofd mutex = dfd < 0 ? -1 : lock_file (dfd, commit, ".lock", LOCK_EX, NULL);
  close (users_fd);
  if (mutex < 0)
    return;
  cairn_autofd users = lock_file (dfd, commit, ".users", LOCK_EX | LOCK_NB, NULL);
  if (users < 0)
    return; /* another container still uses it */
  g_autofree char *base
      = g_build_filename (repo->path, "extensions", "cairn", MOUNTS_DIR, commit, NULL);
  g_autofree char *path = g_canonicalize_filename (base, NULL);
  g_autofree char *mounted = cairn_kmount_commit_at (path);
  if (g_strcmp0 (mounted, commit) == 0 && umount2 (path, UMOUNT_NOFOLLOW) < 0 && errno == EBUSY)
    (void)umount2 (path, UMOUNT_NOFOLLOW | MNT_DETACH);
  (void)unlinkat (dfd, commit, AT_REMOVEDIR);
}
