/* The checkout cache shared by `cairn run` (see cairn-checkout.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "checkout/cairn-checkout.h"
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define CACHE_DIR "checkouts"

int
cairn_checkout_state_dir_open (CairnRepo *repo, const char *name, GError **error)
{
  cairn_autofd ext = cairn_repo_extensions_dfd (repo, error);
  int fd = -1;
  if (ext < 0 || !cairn_mkdirat (ext, name, 0700, TRUE, error)
      || !cairn_opendirat (ext, name, FALSE, &fd, error))
    return -1;
  return fd;
}

static int
open_cache_dir (CairnRepo *repo, GError **error)
{
  return cairn_checkout_state_dir_open (repo, CACHE_DIR, error);
}

/* ---- mount points ------------------------------------------------------------
 * What `cairn run` mounts on by default (cairn_run_mount_points, read by
 * cli/run-config.c too), made in the cached checkout where the tree lacks
 * them: a tree that has them all runs on its read-only checkout as it is,
 * one that lacks one needs an overlay to make it, which costs a container
 * start more than a third of its time.  They are empty and only in this
 * checkout, which is cairn's own (never the store, never a user's
 * checkout); what the container sees there is the mount.  Best effort:
 * a path whose parent is not a directory of the tree itself (a symlink,
 * say) or that cannot be made is left alone, and the container gets the
 * overlay as before. */
const CairnRunMountPoint cairn_run_mount_points[] = {
  { "/proc", S_IFDIR | 0555, CAIRN_RUN_MP_KERNEL },
  { "/dev", S_IFDIR | 0755, CAIRN_RUN_MP_KERNEL },
  { "/sys", S_IFDIR | 0555, CAIRN_RUN_MP_KERNEL },
  { "/tmp", S_IFDIR | 01777, CAIRN_RUN_MP_TMPFS },
  { "/run", S_IFDIR | 0755, CAIRN_RUN_MP_TMPFS },
  { "/var", S_IFDIR | 0755, CAIRN_RUN_MP_PARENT },
  { "/var/tmp", S_IFDIR | 01777, CAIRN_RUN_MP_TMPFS },
  { "/etc", S_IFDIR | 0755, CAIRN_RUN_MP_PARENT },
  { "/etc/resolv.conf", S_IFREG | 0644, CAIRN_RUN_MP_ETC },
  { "/etc/hosts", S_IFREG | 0644, CAIRN_RUN_MP_ETC },
  { "/etc/hostname", S_IFREG | 0644, CAIRN_RUN_MP_ETC },
};
const gsize cairn_run_n_mount_points = G_N_ELEMENTS (cairn_run_mount_points);

/* Make @name in @dfd when nothing is there (never through a symlink). */
static void
make_mount_point (int dfd, const char *name, mode_t mode)
{
  struct stat st;
  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
    return;
  if (S_ISDIR (mode))
    {
      if (mkdirat (dfd, name, 0700) == 0)
        (void)fchmodat (dfd, name, mode & 07777, 0);
      return;
    }
  int fd = openat (dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      (void)fchmod (fd, mode & 07777);
      close (fd);
    }
}

static gboolean
add_mount_points (int root_dfd, gpointer data, GError **error)
{
  (void)data;
  (void)error;
  for (gsize i = 0; i < cairn_run_n_mount_points; i++)
    {
      const char *path = cairn_run_mount_points[i].path + 1, *slash = strchr (path, '/');
      cairn_autofd parent = -1;
      if (slash)
        {
          g_autofree char *dir = g_strndup (path, (gsize)(slash - path));
          parent = openat (root_dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (parent < 0)
            continue;
        }
      make_mount_point (slash ? parent : root_dfd, slash ? slash + 1 : path,
                        cairn_run_mount_points[i].mode);
    }
  return TRUE;
}

/* Lock <commit>.lock shared; retry when prune unlinked the file meanwhile. */
static int
lock_shared (int dfd, const char *commit, GError **error)
{
  g_autofree char *name = g_strconcat (commit, ".lock", NULL);
  for (int tries = 0; tries < 100; tries++)
    {
      cairn_autofd fd = openat (dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        {
          cairn_throw_errno (error, "opening checkout lock %s", name);
          return -1;
        }
      if (flock (fd, LOCK_SH) < 0)
        {
          cairn_throw_errno (error, "locking checkout %s", commit);
          return -1;
        }
      struct stat a, b;
      if (fstat (fd, &a) == 0 && fstatat (dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0
          && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        return cairn_steal_fd (&fd);
    }
  cairn_throw (error, "could not lock the cached checkout of %s", commit);
  return -1;
}

gboolean
cairn_checkout_cache_acquire (CairnRepo *repo, const char *commit, char **out_path,
                              int *out_lock_fd, gboolean *out_created, GError **error)
{
  if (!cairn_validate_checksum_string (commit, error))
    return FALSE;
  cairn_autofd dfd = open_cache_dir (repo, error);
  if (dfd < 0)
    return cairn_prefix_error (error, "checkout cache");
  cairn_autofd lock = lock_shared (dfd, commit, error);
  if (lock < 0)
    return FALSE;
  gboolean created = FALSE;
  struct stat st;
  if (fstatat (dfd, commit, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
    {
      CairnCheckoutOptions o = { .finish = add_mount_points };
      /* Real owners only where the repo has them and we may set them. */
      o.user_mode = !(repo->mode == CAIRN_REPO_MODE_BARE
                      || (repo->mode == CAIRN_REPO_MODE_ARCHIVE && getuid () == 0));
      g_autoptr (GError) local = NULL;
      if (!cairn_checkout (repo, commit, dfd, commit, &o, NULL, &local))
        {
          /* Lost a race with another first run: theirs is as good as ours. */
          if (!(fstatat (dfd, commit, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode)))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return cairn_prefix_error (error, "checking out %s", commit);
            }
        }
      else
        created = TRUE;
    }
  *out_path = g_build_filename (repo->path, "extensions", "cairn", CACHE_DIR, commit, NULL);
  *out_lock_fd = cairn_steal_fd (&lock);
  if (out_created)
    *out_created = created;
  return TRUE;
}

static gboolean
remove_if_unused (int dfd, const char *commit, GError **error, gboolean *out_removed)
{
  g_autofree char *lockname = g_strconcat (commit, ".lock", NULL);
  *out_removed = FALSE;
  cairn_autofd fd = openat (dfd, lockname, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return cairn_throw_errno (error, "opening %s", lockname);
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    return errno == EWOULDBLOCK ? TRUE : cairn_throw_errno (error, "locking %s", lockname);
  /* image defaults file of earlier versions (now cli/run-record.h) */
  g_autofree char *launch = g_strconcat (commit, ".launch", NULL);
  (void)unlinkat (dfd, launch, 0);
  if (!cairn_rm_rf_at (dfd, commit, error))
    return FALSE;
  (void)unlinkat (dfd, lockname, 0);
  *out_removed = TRUE;
  return TRUE;
}

gboolean
cairn_checkout_cache_prune (CairnRepo *repo, GHashTable *keep, guint *out_removed, GError **error)
{
  *out_removed = 0;
  cairn_autofd dfd = open_cache_dir (repo, error);
  if (dfd < 0)
    return FALSE;
  g_autoptr (GPtrArray) names = cairn_dir_list_names (dfd, error);
  if (!names)
    return cairn_prefix_error (error, "checkout cache");
  time_t now = time (NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      struct stat st;
      if ((n[0] == '.' && !g_str_has_prefix (n, ".cairn-checkout-"))
          || fstatat (dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
        continue;
      if (n[0] == '.')
        {
          /* A temporary build a crashed run left (live ones are seconds old). */
          if (now - st.st_mtime > 3600 && cairn_rm_rf_at (dfd, n, NULL))
            (*out_removed)++;
          continue;
        }
      if (!cairn_is_checksum_string (n) || g_hash_table_contains (keep, n))
        continue;
      gboolean removed = FALSE;
      if (!remove_if_unused (dfd, n, error, &removed))
        return FALSE;
      if (removed)
        (*out_removed)++;
    }
  return TRUE;
}
