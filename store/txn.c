/* Transactions (docs/format.md §9).
 *
 * Durability policy, in one place:
 *  - core.fsync=true (default): objects are written, unsynced, into a
 *    staging directory tmp/staging-<boot_id>-XXXXXX/XX/; at commit, ONE
 *    syncfs() makes them all durable, then each is renamed (no-replace) into
 *    objects/XX/ (several threads), a second syncfs() makes the new names
 *    durable, and only then are refs written (each ref: tmpfile, fsync,
 *    rename, fsync of refs dir). A kill -9 at any point leaves either an
 *    unreferenced staging dir (removed by the next transaction) or objects
 *    that are complete; a ref never points at a commit whose objects are not
 *    durable. The writers start the writeback of each object of 64 KiB or
 *    more as they stage it (sync_file_range(SYNC_FILE_RANGE_WRITE),
 *    store/write.c): that only starts I/O, so the final syncfs() has less
 *    left to write; it promises nothing (sync_file_range(2): no metadata,
 *    no disk cache flush). Durability still comes from the syncfs() calls
 *    above alone, which wait for every dirty page and inode of the
 *    filesystem and commit its journal: after cairn_txn_commit() returns,
 *    a power cut loses nothing it committed.
 *  - core.fsync=false: objects go straight into objects/ and nothing is
 *    fsynced (throwaway builders). Still atomic per object (link into place).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define PUBLISH_THREADS 4

static char *
read_boot_id (void)
{
  g_autofree char *s = NULL;
  if (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &s, NULL, NULL))
    return g_strdup (g_strstrip (s));
  return g_strdup ("noboot");
}

static gboolean
try_ofd_lock (int fd, gboolean wait)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
  return fcntl (fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0;
}

/* Remove staging dirs whose owner is gone: its lock file is not held (an
 * OFD lock dies with the process, kill -9 included) or was never created
 * (create_staging makes and locks it before the directory), and lock files
 * left alone by an owner killed before it made its directory. A lock held
 * by a live transaction, in this process or another, keeps its directory.
 * Returns how many were removed. */
guint
_cairn_txn_cleanup_stale_staging (CairnRepo *repo)
{
  guint removed = 0;
  int dup = fcntl (repo->tmp_dfd, F_DUPFD_CLOEXEC, 3);
  DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
  if (!d)
    {
      cairn_close_fdp (&dup);
      return 0;
    }
  struct dirent *de;
  g_autoptr (GPtrArray) stale = g_ptr_array_new_with_free_func (g_free);
  while ((de = readdir (d)) != NULL)
    {
      if (!g_str_has_prefix (de->d_name, "staging-"))
        continue;
      if (g_str_has_suffix (de->d_name, "-lock"))
        {
          /* a lock without its directory: the owner was killed between
           * the two steps of create_staging, or is in between now.  It is
           * unlinked while this holds its lock: an owner that locks it
           * first keeps it; one whose lock fails, or that locks it once
           * unlinked (it checks the link count), takes another name. */
          g_autofree char *dirname = g_strndup (de->d_name, strlen (de->d_name) - 5);
          struct stat st;
          if (fstatat (repo->tmp_dfd, dirname, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            {
              cairn_autofd lfd
                  = openat (repo->tmp_dfd, de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
              if (lfd >= 0 && try_ofd_lock (lfd, FALSE))
                (void)unlinkat (repo->tmp_dfd, de->d_name, 0);
            }
          continue;
        }
      g_autofree char *lockname = g_strconcat (de->d_name, "-lock", NULL);
      cairn_autofd lfd = openat (repo->tmp_dfd, lockname, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (lfd < 0 && errno != ENOENT)
        continue; /* cannot tell: keep it */
      if (lfd >= 0 && !try_ofd_lock (lfd, FALSE))
        continue; /* in use */
      g_ptr_array_add (stale, g_strdup (de->d_name));
    }
  closedir (d);
  for (guint i = 0; i < stale->len; i++)
    {
      const char *name = stale->pdata[i];
      g_autofree char *lockname = g_strconcat (name, "-lock", NULL);
      if (cairn_rm_rf_at (repo->tmp_dfd, name, NULL))
        removed++;
      (void)unlinkat (repo->tmp_dfd, lockname, 0);
    }
  return removed;
}

static gboolean
create_staging (CairnTxn *txn, GError **error)
{
  CairnRepo *repo = txn->repo;
  g_autofree char *boot = read_boot_id ();
  for (int tries = 0; tries < 100; tries++)
    {
      g_autofree char *name = g_strdup_printf ("staging-%s-%08x", boot, g_random_int ());
      g_autofree char *lockname = g_strconcat (name, "-lock", NULL);
      /* Lock first, then the directory: a cleaner never sees an unlocked
       * directory that is still being set up. */
      int lfd = openat (repo->tmp_dfd, lockname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (lfd < 0 && errno == EEXIST)
        continue;
      if (lfd < 0)
        return cairn_throw_errno (error, "creating staging lock");
      /* a cleaner that found the lock without its directory may hold it,
       * or have unlinked it already (_cairn_txn_cleanup_stale_staging):
       * then another name */
      if (!try_ofd_lock (lfd, FALSE))
        {
          int e = errno;
          close (lfd);
          if (e == EAGAIN || e == EACCES)
            continue;
          errno = e;
          return cairn_throw_errno (error, "locking staging directory");
        }
      struct stat lst;
      if (fstat (lfd, &lst) < 0 || lst.st_nlink == 0)
        {
          close (lfd);
          continue;
        }
      txn->lock_fd = lfd;
      if (mkdirat (repo->tmp_dfd, name, 0755) < 0)
        return cairn_throw_errno (error, "creating staging directory");
      if (!cairn_opendirat (repo->tmp_dfd, name, FALSE, &txn->staging_dfd, error))
        return FALSE;
      txn->staging_name = g_steal_pointer (&name);
      return TRUE;
    }
  return cairn_throw (error, "could not create a staging directory");
}

CairnTxn *
cairn_txn_begin (CairnRepo *repo, GError **error)
{
  g_autoptr (CairnTxn) txn = g_new0 (CairnTxn, 1);
  txn->repo = repo;
  txn->staging_dfd = txn->lock_fd = -1;
  for (int i = 0; i < 256; i++)
    txn->sub_fds[i] = -1;
  g_mutex_init (&txn->lock);
  txn->refs = g_ptr_array_new_with_free_func ((GDestroyNotify)g_strfreev);
  txn->deflaters = g_ptr_array_new_with_free_func (_cairn_deflater_free);
  txn->staged = g_hash_table_new (g_direct_hash, g_direct_equal);
  if (repo->staging_dfd >= 0)
    {
      cairn_throw (error, "a transaction is already in progress on this repository handle");
      return NULL;
    }
  if (!cairn_repo_lock_push (repo, CAIRN_REPO_LOCK_SHARED, error))
    return NULL;
  txn->locked_repo = TRUE;
  (void)_cairn_txn_cleanup_stale_staging (repo);
  if (!repo->fsync)
    {
      txn->direct = TRUE;
      txn->staging_dfd = repo->objects_dfd;
    }
  else if (!create_staging (txn, error))
    return NULL;
  repo->staging_dfd = txn->staging_dfd;
  return g_steal_pointer (&txn);
}

/* The set holds the first 64 bits of each staged checksum (mixed with the
 * type), not the whole name: 16 bytes an entry or so instead of ~110, for
 * commits of a million files. A hit is confirmed by looking at the staged
 * name, so that two objects sharing those bits cost a lookup, never a
 * missing object. */
static gpointer
staged_key (CairnObjectType type, const char *checksum)
{
  guint64 k = 0;
  for (int i = 0; i < 16; i++)
    k = (k << 4) | (guint64)g_ascii_xdigit_value (checksum[i]);
  return GSIZE_TO_POINTER ((gsize)(k ^ (guint64)type));
}

void
_cairn_txn_note_staged (CairnTxn *txn, CairnObjectType type, const char *checksum)
{
  g_mutex_lock (&txn->lock);
  g_hash_table_add (txn->staged, staged_key (type, checksum));
  g_mutex_unlock (&txn->lock);
}

/* The write path asks this for every object, so it answers from memory
 * where it can: a fresh repository has no objects/XX directories at all,
 * and looking for each object there and in staging cost two failed
 * lookups per object, twice per file (about 24,000 on the Debian minbase
 * tree). Only hints are kept: an objects/XX that another process creates
 * after it was found absent, or an object that bulk writers (sync/,
 * image/) put into staging directly, is written a second time, and the
 * no-replace link (staging) and rename (publishing) keep one copy: one
 * object per content still holds in objects/. */
gboolean
_cairn_txn_has_object (CairnTxn *txn, CairnObjectType type, const char *checksum)
{
  g_mutex_lock (&txn->lock);
  gboolean maybe_staged = g_hash_table_contains (txn->staged, staged_key (type, checksum));
  g_mutex_unlock (&txn->lock);
  if (txn->direct)
    return cairn_repo_object_exists (txn->repo, type, checksum);
  g_autofree char *leaf = cairn_object_leaf (checksum, type, txn->repo->mode);
  struct stat st;
  int idx = (g_ascii_xdigit_value (checksum[0]) << 4) | g_ascii_xdigit_value (checksum[1]);
  if (maybe_staged)
    {
      int staged_sub = g_atomic_int_get (&txn->sub_fds[idx]);
      if (staged_sub >= 0 && fstatat (staged_sub, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return TRUE;
    }
  if (g_atomic_int_get (&txn->objdir_absent[idx]))
    return FALSE;
  g_autoptr (GError) local = NULL;
  int sub = cairn_repo_objdir_fd (txn->repo, checksum, FALSE, &local);
  if (sub < 0)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_atomic_int_set (&txn->objdir_absent[idx], 1);
      return FALSE;
    }
  return fstatat (sub, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int
cairn_txn_subdir_fd (CairnTxn *txn, const char *checksum, GError **error)
{
  if (txn->direct)
    return cairn_repo_objdir_fd (txn->repo, checksum, TRUE, error);
  int idx = (g_ascii_xdigit_value (checksum[0]) << 4) | g_ascii_xdigit_value (checksum[1]);
  return _cairn_cached_subdir_fd (&txn->sub_fds[idx], txn->staging_dfd, checksum, 0755, TRUE,
                                  "staging", error);
}

/* Move every staged object of one XX dir into objects/XX. */
static gboolean
publish_subdir (CairnTxn *txn, int idx, GError **error)
{
  char sub[3];
  snprintf (sub, sizeof sub, "%02x", idx);
  /* objects/XX absent (a fresh repository): the whole staged directory
   * becomes it, one rename instead of one per object. */
  if (renameat2 (txn->staging_dfd, sub, txn->repo->objects_dfd, sub, RENAME_NOREPLACE) == 0)
    return TRUE;
  if (errno != EEXIST && errno != ENOTEMPTY && errno != EINVAL && errno != ENOSYS)
    return cairn_throw_errno (error, "moving staged objects %s into place", sub);
  int dstfd = cairn_repo_objdir_fd (txn->repo, sub, TRUE, error);
  if (dstfd < 0)
    return FALSE;
  int dup = fcntl (txn->sub_fds[idx], F_DUPFD_CLOEXEC, 3);
  DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
  if (!d)
    {
      cairn_close_fdp (&dup);
      return cairn_throw_errno (error, "reading staging %s", sub);
    }
  struct dirent *de;
  gboolean ok = TRUE;
  while (ok && (de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      if (renameat2 (txn->sub_fds[idx], de->d_name, dstfd, de->d_name, RENAME_NOREPLACE) == 0)
        continue;
      if (errno == EEXIST)
        (void)unlinkat (txn->sub_fds[idx], de->d_name, 0);
      else if (errno == EINVAL || errno == ENOSYS)
        {
          /* No RENAME_NOREPLACE: link (EEXIST is fine), then drop the staged name. */
          if (linkat (txn->sub_fds[idx], de->d_name, dstfd, de->d_name, 0) < 0 && errno != EEXIST)
            ok = cairn_throw_errno (error, "moving object %s%s into place", sub, de->d_name);
          (void)unlinkat (txn->sub_fds[idx], de->d_name, 0);
        }
      else
        ok = cairn_throw_errno (error, "moving object %s%s into place", sub, de->d_name);
    }
  closedir (d);
  return ok;
}

typedef struct
{
  CairnTxn *txn;
  gint next; /* atomic: the next objects/XX index to publish */
  GMutex lock;
  GError *error; /* first failure */
} Publish;

static gpointer
publish_worker (gpointer data)
{
  Publish *pub = data;
  for (;;)
    {
      int i = g_atomic_int_add (&pub->next, 1);
      if (i >= 256)
        break;
      g_autoptr (GError) local = NULL;
      if (pub->txn->sub_fds[i] >= 0 && !publish_subdir (pub->txn, i, &local))
        {
          g_mutex_lock (&pub->lock);
          if (!pub->error)
            pub->error = g_steal_pointer (&local);
          g_mutex_unlock (&pub->lock);
          break;
        }
    }
  return NULL;
}

/* Rename every staged object into objects/, on up to PUBLISH_THREADS
 * threads (each objects/XX directory has its own lock in the kernel). */
static gboolean
publish_all (CairnTxn *txn, GError **error)
{
  Publish pub = { txn, 0, { 0 }, NULL };
  g_mutex_init (&pub.lock);
  guint n = CLAMP (g_get_num_processors (), 1, PUBLISH_THREADS);
  GThread *threads[PUBLISH_THREADS] = { NULL };
  for (guint i = 1; i < n; i++)
    threads[i] = g_thread_try_new ("cairn-publish", publish_worker, &pub, NULL);
  publish_worker (&pub);
  for (guint i = 1; i < n; i++)
    if (threads[i])
      g_thread_join (threads[i]);
  g_mutex_clear (&pub.lock);
  if (pub.error)
    {
      g_propagate_error (error, pub.error);
      return FALSE;
    }
  return TRUE;
}

/* Commit objects are published last: the objects/XX directories move in
 * any order (and in parallel), and a commit that reached objects/ before its
 * dirtree would be a broken commit after a kill between the two renames.
 * The staged commits wait in staging/commits-last/ as XXrest.commit. */
static gboolean
hold_back_commits (CairnTxn *txn, GPtrArray *held, GError **error)
{
  for (int idx = 0; idx < 256; idx++)
    {
      if (txn->sub_fds[idx] < 0)
        continue;
      /* a description of its own: a dup would share the directory offset,
       * and publish_subdir would then read from the end */
      int dup = openat (txn->sub_fds[idx], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
      if (!d)
        {
          cairn_close_fdp (&dup);
          return cairn_throw_errno (error, "reading staging %02x", idx);
        }
      struct dirent *de;
      gboolean ok = TRUE;
      while (ok && (de = readdir (d)) != NULL)
        {
          if (de->d_name[0] == '.' || !g_str_has_suffix (de->d_name, ".commit"))
            continue;
          if (held->len == 0 && mkdirat (txn->staging_dfd, "commits-last", 0755) < 0
              && errno != EEXIST)
            ok = cairn_throw_errno (error, "creating staging commits-last");
          g_autofree char *name = g_strdup_printf ("%02x%s", idx, de->d_name);
          g_autofree char *dst = g_strconcat ("commits-last/", name, NULL);
          if (ok && renameat (txn->sub_fds[idx], de->d_name, txn->staging_dfd, dst) < 0)
            ok = cairn_throw_errno (error, "holding back commit object %s", name);
          if (ok)
            g_ptr_array_add (held, g_steal_pointer (&name));
        }
      closedir (d);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
publish_commits (CairnTxn *txn, GPtrArray *held, GError **error)
{
  for (guint i = 0; i < held->len; i++)
    {
      const char *name = held->pdata[i];
      char sub[3] = { name[0], name[1], 0 };
      g_autofree char *src = g_strconcat ("commits-last/", name, NULL);
      int dstfd = cairn_repo_objdir_fd (txn->repo, sub, TRUE, error);
      if (dstfd < 0)
        return FALSE;
      if (renameat2 (txn->staging_dfd, src, dstfd, name + 2, RENAME_NOREPLACE) == 0)
        continue;
      if (errno == EEXIST)
        (void)unlinkat (txn->staging_dfd, src, 0);
      else if (errno == EINVAL || errno == ENOSYS)
        {
          if (linkat (txn->staging_dfd, src, dstfd, name + 2, 0) < 0 && errno != EEXIST)
            return cairn_throw_errno (error, "moving commit object %s into place", name);
          (void)unlinkat (txn->staging_dfd, src, 0);
        }
      else
        return cairn_throw_errno (error, "moving commit object %s into place", name);
    }
  return TRUE;
}

gboolean
cairn_txn_commit (CairnTxn *txn, GError **error)
{
  CairnRepo *repo = txn->repo;
  if (!txn->direct)
    {
      g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_free);
      if (!hold_back_commits (txn, held, error))
        return FALSE;
      if (repo->fsync && syncfs (txn->staging_dfd) < 0)
        return cairn_throw_errno (error, "syncfs");
      if (!publish_all (txn, error))
        return FALSE;
      /* One more syncfs makes every new name (and objects/XX directory)
       * durable: one journal commit instead of one fsync per directory. */
      if (repo->fsync && syncfs (repo->objects_dfd) < 0)
        return cairn_throw_errno (error, "syncfs after publishing objects");
      if (held->len > 0)
        {
          if (!publish_commits (txn, held, error))
            return FALSE;
          if (repo->fsync && syncfs (repo->objects_dfd) < 0)
            return cairn_throw_errno (error, "syncfs after publishing commits");
        }
    }
  repo->staging_dfd = -1;
  txn->committed = TRUE;
  for (guint i = 0; i < txn->refs->len; i++)
    {
      char **r = txn->refs->pdata[i];
      if (!cairn_repo_write_ref (repo, r[0][0] ? r[0] : NULL, r[1], r[2][0] ? r[2] : NULL, error))
        return FALSE;
    }
  return TRUE;
}

void
cairn_txn_set_ref (CairnTxn *txn, const char *remote, const char *ref, const char *checksum)
{
  char **r = g_new0 (char *, 4);
  r[0] = g_strdup (remote ? remote : "");
  r[1] = g_strdup (ref);
  r[2] = g_strdup (checksum ? checksum : "");
  g_mutex_lock (&txn->lock);
  g_ptr_array_add (txn->refs, r);
  g_mutex_unlock (&txn->lock);
}

void
cairn_txn_get_stats (CairnTxn *txn, CairnTxnStats *out_stats)
{
  g_mutex_lock (&txn->lock);
  *out_stats = txn->stats;
  g_mutex_unlock (&txn->lock);
}

CairnRepo *
cairn_txn_get_repo (CairnTxn *txn)
{
  return txn->repo;
}

int
cairn_txn_get_staging_dfd (CairnTxn *txn)
{
  return txn->staging_dfd;
}

void
cairn_txn_count_content_written (CairnTxn *txn)
{
  g_mutex_lock (&txn->lock);
  txn->stats.content_written++;
  g_mutex_unlock (&txn->lock);
}

void
cairn_txn_free (CairnTxn *txn)
{
  if (!txn)
    return;
  CairnRepo *repo = txn->repo;
  if (repo->staging_dfd == txn->staging_dfd)
    repo->staging_dfd = -1;
  for (int i = 0; i < 256; i++)
    cairn_close_fdp (&txn->sub_fds[i]);
  if (!txn->direct)
    {
      if (txn->staging_name)
        {
          (void)cairn_rm_rf_at (repo->tmp_dfd, txn->staging_name, NULL);
          g_autofree char *lockname = g_strconcat (txn->staging_name, "-lock", NULL);
          (void)unlinkat (repo->tmp_dfd, lockname, 0);
        }
      cairn_close_fdp (&txn->staging_dfd);
    }
  cairn_close_fdp (&txn->lock_fd);
  if (txn->locked_repo)
    cairn_repo_lock_pop (repo, CAIRN_REPO_LOCK_SHARED);
  g_ptr_array_unref (txn->refs);
  g_ptr_array_unref (txn->deflaters);
  g_hash_table_unref (txn->staged);
  g_mutex_clear (&txn->lock);
  g_free (txn->staging_name);
  g_free (txn);
}
