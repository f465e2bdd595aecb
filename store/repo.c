/* Opening, creating and locking repositories (docs/format.md §3, §9).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/cairn-store.h"
#include "store/store-private.h"
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <time.h>

static const char *const mode_names[] = { "bare", "bare-user", "bare-user-only", "archive-z2" };

const char *
cairn_repo_mode_to_string (CairnRepoMode mode)
{
  return mode_names[mode];
}

gboolean
cairn_repo_mode_from_string (const char *s, CairnRepoMode *out_mode, GError **error)
{
  if (g_strcmp0 (s, "archive") == 0 || g_strcmp0 (s, "archive-z2") == 0)
    *out_mode = CAIRN_REPO_MODE_ARCHIVE;
  else if (g_strcmp0 (s, "bare") == 0)
    *out_mode = CAIRN_REPO_MODE_BARE;
  else if (g_strcmp0 (s, "bare-user") == 0)
    *out_mode = CAIRN_REPO_MODE_BARE_USER;
  else if (g_strcmp0 (s, "bare-user-only") == 0)
    *out_mode = CAIRN_REPO_MODE_BARE_USER_ONLY;
  else
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "invalid repository mode '%s' (bare, bare-user, bare-user-only, "
                             "archive)",
                             s ? s : "");
  return TRUE;
}

/* bare-user keeps metadata in user.ostreemeta: probe before promising it. */
static gboolean
probe_user_xattrs (int dfd, GError **error)
{
  g_auto (CairnTmpfile) t = { 0 };
  if (!cairn_tmpfile_open (dfd, 0600, &t, error))
    return FALSE;
  if (fsetxattr (t.fd, "user.cairn-probe", "1", 1, 0) < 0)
    return cairn_throw_errno (error, "bare-user mode needs user xattrs on this filesystem");
  return TRUE;
}

gboolean
cairn_repo_create (const char *path, CairnRepoMode mode, GError **error)
{
  static const char *const dirs[] = { "extensions",   "refs",  "refs/heads", "refs/mirrors",
                                      "refs/remotes", "state", "tmp",        "tmp/cache" };
  if (!cairn_mkdirat_p (AT_FDCWD, path, 0775, error))
    return cairn_prefix_error (error, "creating repository %s", path);
  cairn_autofd dfd = -1;
  if (!cairn_opendirat (AT_FDCWD, path, TRUE, &dfd, error))
    return cairn_prefix_error (error, "creating repository %s", path);
  struct stat st;
  if (fstatat (dfd, "objects", &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* Idempotent: an existing repo of the same mode is fine. */
      g_autoptr (CairnRepo) repo = cairn_repo_open (path, error);
      if (!repo)
        return FALSE;
      if (repo->mode != mode)
        return cairn_throw (error, "repository %s already exists with mode %s", path,
                            cairn_repo_mode_to_string (repo->mode));
      return TRUE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    if (!cairn_mkdirat (dfd, dirs[i], 0775, TRUE, error))
      return cairn_prefix_error (error, "creating repository %s", path);
  if (mode == CAIRN_REPO_MODE_BARE_USER)
    {
      cairn_autofd tmpfd = -1;
      if (!cairn_opendirat (dfd, "tmp", FALSE, &tmpfd, error) || !probe_user_xattrs (tmpfd, error))
        return cairn_prefix_error (error, "creating repository %s", path);
    }
  g_autofree char *config
      = g_strdup_printf ("[core]\nrepo_version=1\nmode=%s\n", cairn_repo_mode_to_string (mode));
  if (!cairn_file_replace_contents_at (dfd, "config", config, strlen (config), 0644,
                                       CAIRN_FSYNC_FULL, error))
    return cairn_prefix_error (error, "creating repository %s", path);
  /* objects/ last: its presence is what "a repository exists" means. */
  if (!cairn_mkdirat (dfd, "objects", 0775, TRUE, error))
    return cairn_prefix_error (error, "creating repository %s", path);
  return TRUE;
}

static gboolean
load_config (CairnRepo *repo, GError **error)
{
  g_autoptr (GBytes) data = cairn_file_get_contents_at (repo->repo_dfd, "config", 1 << 20, error);
  if (!data)
    return FALSE;
  repo->config = g_key_file_new ();
  gsize len;
  const char *s = g_bytes_get_data (data, &len);
  if (!g_key_file_load_from_data (repo->config, s, len, G_KEY_FILE_KEEP_COMMENTS, error))
    return cairn_prefix_error (error, "parsing config");
  g_autofree char *version = g_key_file_get_string (repo->config, "core", "repo_version", NULL);
  if (g_strcmp0 (version, "1") != 0)
    return cairn_throw (error, "unsupported repo_version '%s'", version ? version : "");
  g_autofree char *mode = g_key_file_get_string (repo->config, "core", "mode", NULL);
  if (!cairn_repo_mode_from_string (mode ? mode : "bare", &repo->mode, error))
    return FALSE;
  GError *tmp = NULL;
  repo->fsync = g_key_file_get_boolean (repo->config, "core", "fsync", &tmp);
  if (tmp)
    {
      repo->fsync = TRUE;
      g_clear_error (&tmp);
    }
  repo->disable_xattrs = g_key_file_get_boolean (repo->config, "core", "disable-xattrs", NULL);
  repo->zlib_level = g_key_file_get_integer (repo->config, "archive", "zlib-level", &tmp);
  if (tmp || repo->zlib_level < 1 || repo->zlib_level > 9)
    {
      /* Level 1: the compressed bytes are not part of any checksum (docs/format.md §6),
       * and it is several times faster than ostree's default of 6. */
      repo->zlib_level = 1;
      g_clear_error (&tmp);
    }
  repo->lock_timeout_secs
      = g_key_file_get_integer (repo->config, "core", "lock-timeout-secs", &tmp);
  if (tmp)
    {
      repo->lock_timeout_secs = 300;
      g_clear_error (&tmp);
    }
  return TRUE;
}

CairnRepo *
cairn_repo_open (const char *path, GError **error)
{
  g_autoptr (CairnRepo) repo = g_new0 (CairnRepo, 1);
  repo->path = g_strdup (path);
  repo->repo_dfd = repo->objects_dfd = repo->tmp_dfd = repo->lock_fd = repo->staging_dfd = -1;
  for (int i = 0; i < 256; i++)
    repo->objdir_fds[i] = -1;
  if (!cairn_opendirat (AT_FDCWD, path, TRUE, &repo->repo_dfd, error)
      || !cairn_opendirat (repo->repo_dfd, "objects", FALSE, &repo->objects_dfd, error))
    {
      cairn_prefix_error (error, "opening repository %s", path);
      return NULL;
    }
  if (!cairn_mkdirat (repo->repo_dfd, "tmp", 0775, TRUE, error)
      || !cairn_opendirat (repo->repo_dfd, "tmp", FALSE, &repo->tmp_dfd, error)
      || !load_config (repo, error))
    {
      cairn_prefix_error (error, "opening repository %s", path);
      return NULL;
    }
  struct stat st;
  if (fstat (repo->repo_dfd, &st) == 0)
    repo->dev = st.st_dev;
  return g_steal_pointer (&repo);
}

void
cairn_repo_free (CairnRepo *repo)
{
  if (!repo)
    return;
  for (int i = 0; i < 256; i++)
    cairn_close_fdp (&repo->objdir_fds[i]);
  cairn_close_fdp (&repo->repo_dfd);
  cairn_close_fdp (&repo->objects_dfd);
  cairn_close_fdp (&repo->tmp_dfd);
  cairn_close_fdp (&repo->lock_fd);
  g_clear_pointer (&repo->config, g_key_file_unref);
  g_free (repo->path);
  g_free (repo);
}

gboolean
cairn_repo_write_config (CairnRepo *repo, GError **error)
{
  gsize len;
  g_autofree char *data = g_key_file_to_data (repo->config, &len, NULL);
  if (!cairn_file_replace_contents_at (repo->repo_dfd, "config", data, len, 0644,
                                       cairn_repo_fsync_policy (repo), error))
    return cairn_prefix_error (error, "writing config");
  return TRUE;
}

CairnFsyncPolicy
cairn_repo_fsync_policy (CairnRepo *repo)
{
  return repo->fsync ? CAIRN_FSYNC_FULL : CAIRN_FSYNC_NONE;
}

/* OFD locks (not flock): ostree uses them and they do not see flock locks,
 * so only OFD locks interoperate (docs/format.md §9). */
static int
ofd_lock (int fd, short type, gboolean wait)
{
  struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
  int r = fcntl (fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  if (r < 0 && errno == EINVAL)
    r = flock (fd, (type == F_WRLCK   ? LOCK_EX
                    : type == F_RDLCK ? LOCK_SH
                                      : LOCK_UN)
                       | (wait ? 0 : LOCK_NB));
  return r;
}

static gboolean
lock_with_timeout (CairnRepo *repo, short type, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)repo->lock_timeout_secs * G_USEC_PER_SEC;
  if (repo->lock_timeout_secs < 0)
    return ofd_lock (repo->lock_fd, type, TRUE) == 0
               ? TRUE
               : cairn_throw_errno (error, "locking repository");
  for (;;)
    {
      if (ofd_lock (repo->lock_fd, type, FALSE) == 0)
        return TRUE;
      if (errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK)
        return cairn_throw_errno (error, "locking repository");
      if (g_get_monotonic_time () > deadline)
        return cairn_throw_errno_value (error, EAGAIN,
                                        "repository is locked by another process (waited %d s)",
                                        repo->lock_timeout_secs);
      g_usleep (20 * 1000);
    }
}

gboolean
cairn_repo_lock_push (CairnRepo *repo, CairnRepoLockType type, GError **error)
{
  if (repo->lock_fd < 0)
    {
      repo->lock_fd = openat (repo->repo_dfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0660);
      if (repo->lock_fd < 0)
        return cairn_throw_errno (error, "opening repository lock");
    }
  if (type == CAIRN_REPO_LOCK_EXCLUSIVE)
    {
      if (repo->lock_depth_exclusive == 0 && !lock_with_timeout (repo, F_WRLCK, error))
        return FALSE;
      repo->lock_depth_exclusive++;
    }
  else
    {
      if (repo->lock_depth_exclusive == 0 && repo->lock_depth_shared == 0
          && !lock_with_timeout (repo, F_RDLCK, error))
        return FALSE;
      repo->lock_depth_shared++;
    }
  return TRUE;
}

void
cairn_repo_lock_pop (CairnRepo *repo, CairnRepoLockType type)
{
  if (type == CAIRN_REPO_LOCK_EXCLUSIVE)
    repo->lock_depth_exclusive--;
  else
    repo->lock_depth_shared--;
  if (repo->lock_depth_exclusive == 0 && repo->lock_depth_shared > 0
      && type == CAIRN_REPO_LOCK_EXCLUSIVE)
    (void)ofd_lock (repo->lock_fd, F_RDLCK, TRUE);
  else if (repo->lock_depth_exclusive == 0 && repo->lock_depth_shared == 0)
    (void)ofd_lock (repo->lock_fd, F_UNLCK, FALSE);
}

int
_cairn_cached_subdir_fd (int *slot, int parent_dfd, const char *checksum, mode_t mode,
                         gboolean create, const char *what, GError **error)
{
  int fd = g_atomic_int_get (slot);
  if (fd >= 0)
    return fd;
  /* Made and opened without a lock: mkdirat takes tens of microseconds, and
   * workers filling 256 new directories must not queue behind each other.
   * The first descriptor stored wins; a loser closes its own. */
  char sub[3] = { checksum[0], checksum[1], 0 };
  if (create && mkdirat (parent_dfd, sub, mode) < 0 && errno != EEXIST)
    {
      cairn_throw_errno (error, "creating %s/%s", what, sub);
      return -1;
    }
  fd = openat (parent_dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT && !create)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s/%s: No such directory", what,
                     sub);
      else
        cairn_throw_errno (error, "opening %s/%s", what, sub);
      return -1;
    }
  if (!g_atomic_int_compare_and_exchange (slot, -1, fd))
    {
      close (fd);
      fd = g_atomic_int_get (slot);
    }
  return fd;
}

int
cairn_repo_objdir_fd (CairnRepo *repo, const char *checksum, gboolean create, GError **error)
{
  int idx = (g_ascii_xdigit_value (checksum[0]) << 4) | g_ascii_xdigit_value (checksum[1]);
  return _cairn_cached_subdir_fd (&repo->objdir_fds[idx], repo->objects_dfd, checksum, 0777, create,
                                  "objects", error);
}

const char *
cairn_object_type_to_string (CairnObjectType type)
{
  switch (type)
    {
    case CAIRN_OBJECT_FILE:
      return "file";
    case CAIRN_OBJECT_DIR_TREE:
      return "dirtree";
    case CAIRN_OBJECT_DIR_META:
      return "dirmeta";
    case CAIRN_OBJECT_COMMIT:
      return "commit";
    case CAIRN_OBJECT_TOMBSTONE_COMMIT:
      return "tombstone-commit";
    case CAIRN_OBJECT_COMMIT_META:
      return "commitmeta";
    }
  return "unknown";
}

char *
cairn_object_leaf (const char *checksum, CairnObjectType type, CairnRepoMode mode)
{
  const char *ext = cairn_object_type_to_string (type);
  if (type == CAIRN_OBJECT_FILE && mode == CAIRN_REPO_MODE_ARCHIVE)
    ext = "filez";
  return g_strconcat (checksum + 2, ".", ext, NULL);
}

char *
cairn_object_relpath (const char *checksum, CairnObjectType type, CairnRepoMode mode)
{
  g_autofree char *leaf = cairn_object_leaf (checksum, type, mode);
  return g_strdup_printf ("%c%c/%s", checksum[0], checksum[1], leaf);
}

int
cairn_repo_extensions_dfd (CairnRepo *repo, GError **error)
{
  if (!cairn_mkdirat_p (repo->repo_dfd, "extensions/cairn", 0775, error))
    return -1;
  int fd = -1;
  if (!cairn_opendirat (repo->repo_dfd, "extensions/cairn", FALSE, &fd, error))
    return -1;
  return fd;
}
