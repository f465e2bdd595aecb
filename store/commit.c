/* Committing a directory tree: a dirfd walk feeds a thread pool that hashes
 * and writes content objects; directories become dirmeta/dirtree objects
 * once all their files are known (docs/format.md §5.4, §7.6, §13.5).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_QUEUED 1024
#define DENTS_BUF (32u << 10)

/* A directory fd shared by the walker and the jobs of its files. */
typedef struct
{
  gint refs;
  int fd;
  char *path; /* relative path, for messages */
} DirRef;

static DirRef *
dirref_new (int fd, const char *path)
{
  DirRef *d = g_new0 (DirRef, 1);
  d->refs = 1;
  d->fd = fd;
  d->path = g_strdup (path);
  return d;
}

static DirRef *
dirref_ref (DirRef *d)
{
  g_atomic_int_inc (&d->refs);
  return d;
}

static void
dirref_unref (DirRef *d)
{
  if (g_atomic_int_dec_and_test (&d->refs))
    {
      cairn_close_fdp (&d->fd);
      g_free (d->path);
      g_free (d);
    }
}

typedef struct
{
  CairnRepo *repo;
  CairnTxn *txn;
  const CairnCommitOptions *opts;
  CairnDevino *devino;
  GThreadPool *pool;
  GMutex lock;
  GCond drained; /* signalled when queued jobs drop below the bound */
  guint queued;  /* jobs pushed and not finished (under lock) */
  CairnFirstError fe;
  guint64 files_done;
  guint64 bytes_done;
  guint64 devino_hits;
  char *dents; /* walk_dir's getdents64 buffer (DENTS_BUF) */
} Ctx;

typedef struct
{
  DirRef *dir;
  char *name;
  char *slot; /* the mtree's checksum buffer (65 bytes) to fill */
  struct stat st;
} Job;

static char *
join (const char *dir, const char *name)
{
  return dir[0] ? g_strconcat (dir, "/", name, NULL) : g_strdup (name);
}

/* Metadata for an entry after the commit filter; xattrs read unless skipped. */
static gboolean
entry_info (Ctx *ctx, int fd, int dfd, const char *name, const struct stat *st, CairnFileInfo *fi,
            GError **error)
{
  gboolean skip_xattrs = FALSE;
  fi->uid = st->st_uid;
  fi->gid = st->st_gid;
  fi->mode = st->st_mode;
  fi->size = S_ISREG (st->st_mode) ? (guint64)st->st_size : 0;
  cairn_commit_options_filter (ctx->opts, ctx->repo->mode, &fi->uid, &fi->gid, &fi->mode,
                               &skip_xattrs);
  if (skip_xattrs || ctx->repo->disable_xattrs)
    fi->xattrs = cairn_xattrs_empty ();
  else if (fd >= 0)
    fi->xattrs = cairn_xattrs_read_fd (fd, error);
  else
    fi->xattrs = cairn_xattrs_read_at (dfd, name, error);
  return fi->xattrs != NULL;
}

/* Files up to this size are read here, in one read() of a buffer sized from
 * the walk's stat (cairn_fd_read_sized), and stored from memory
 * (store/write.c takes the same size in memory): no fstat() per file. */
#define READ_WHOLE_MAX (256u << 10)

static void
job_run (gpointer data, gpointer user_data)
{
  Job *job = data;
  Ctx *ctx = user_data;
  GError *error = NULL;
  g_auto (CairnFileInfo) fi = { 0 };
  g_autofree char *csum = NULL;
  cairn_autofd fd = -1;
  if (cairn_first_error_failed (&ctx->fe))
    goto done;
  fd = openat (job->dir->fd, job->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    cairn_throw_errno (&error, "open");
  else if (entry_info (ctx, fd, -1, NULL, &job->st, &fi, &error))
    {
      if (fi.size <= READ_WHOLE_MAX)
        {
          g_autoptr (GBytes) b = cairn_fd_read_sized (fd, fi.size, &error);
          if (b)
            cairn_txn_write_content_bytes (ctx->txn, &fi, g_bytes_get_data (b, NULL), fi.size, NULL,
                                           &csum, &error);
        }
      else
        cairn_txn_write_content (ctx->txn, &fi, fd, NULL, &csum, &error);
    }
  if (error)
    {
      g_autofree char *path = join (job->dir->path, job->name);
      g_prefix_error (&error, "%s: ", path);
      cairn_first_error_set (&ctx->fe, error);
      goto done;
    }
  memcpy (job->slot, csum, 65);
  __atomic_add_fetch (&ctx->files_done, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&ctx->bytes_done, fi.size, __ATOMIC_RELAXED);
done:
  dirref_unref (job->dir);
  g_free (job->name);
  g_free (job);
  g_mutex_lock (&ctx->lock);
  if (--ctx->queued == MAX_QUEUED / 2)
    g_cond_signal (&ctx->drained);
  g_mutex_unlock (&ctx->lock);
}

/* A devino hit is usable when the object still is that inode, unmodified
 * (bare modes write objects with mtime 0) and the commit filter would not
 * change the metadata the object records. */
static const char *
devino_hit (Ctx *ctx, const struct stat *st)
{
  if (!ctx->devino || ctx->repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    return NULL;
  const char *csum = cairn_devino_lookup (ctx->devino, st->st_dev, st->st_ino);
  if (!csum || st->st_mtime != 0)
    return NULL;
  int sub = cairn_repo_objdir_fd (ctx->repo, csum, FALSE, NULL);
  if (sub < 0)
    return NULL;
  g_autofree char *leaf = cairn_object_leaf (csum, CAIRN_OBJECT_FILE, ctx->repo->mode);
  struct stat ost;
  if (fstatat (sub, leaf, &ost, AT_SYMLINK_NOFOLLOW) < 0 || ost.st_ino != st->st_ino
      || ost.st_dev != st->st_dev)
    return NULL;
  const CairnCommitOptions *o = ctx->opts;
  if (o->owner_uid >= 0 || o->owner_gid >= 0 || o->canonical_permissions || o->no_xattrs
      || ctx->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    {
      g_auto (CairnFileInfo) fi = { 0 };
      if (!cairn_repo_load_file (ctx->repo, csum, NULL, &fi, NULL))
        return NULL;
      guint32 uid = fi.uid, gid = fi.gid, mode = fi.mode;
      gboolean skip = FALSE;
      cairn_commit_options_filter (o, ctx->repo->mode, &uid, &gid, &mode, &skip);
      if (uid != fi.uid || gid != fi.gid || mode != fi.mode
          || (skip && g_variant_n_children (fi.xattrs) > 0))
        return NULL;
    }
  return csum;
}

static gboolean walk_dir (Ctx *ctx, DirRef *dir, CairnMTree *tree, GError **error);

static gboolean
add_dirmeta (Ctx *ctx, int fd, const struct stat *st, CairnMTree *tree, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  if (!entry_info (ctx, fd, -1, NULL, st, &fi, error))
    return FALSE;
  g_autoptr (GVariant) meta = cairn_dirmeta_new (fi.uid, fi.gid, fi.mode, fi.xattrs);
  g_autofree char *csum = NULL;
  if (!cairn_txn_write_metadata (ctx->txn, CAIRN_OBJECT_DIR_META, meta, &csum, error))
    return FALSE;
  cairn_mtree_set_metadata_checksum (tree, csum);
  return TRUE;
}

static gboolean
add_subdir (Ctx *ctx, DirRef *dir, const char *name, const struct stat *st, CairnMTree *tree,
            GError **error)
{
  int fd = openat (dir->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return cairn_throw_errno (error, "opendir");
  g_autofree char *path = join (dir->path, name);
  DirRef *sub = dirref_new (fd, path);
  CairnMTree *subtree = cairn_mtree_ensure_dir (tree, name);
  gboolean ok = add_dirmeta (ctx, fd, st, subtree, error) && walk_dir (ctx, sub, subtree, error);
  dirref_unref (sub);
  return ok;
}

static gboolean
add_symlink (Ctx *ctx, DirRef *dir, const char *name, const struct stat *st, CairnMTree *tree,
             GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  fi.symlink_target = cairn_readlinkat (dir->fd, name, error);
  if (!fi.symlink_target || !entry_info (ctx, -1, dir->fd, name, st, &fi, error))
    return FALSE;
  fi.size = 0;
  g_autofree char *csum = NULL;
  if (!cairn_txn_write_content (ctx->txn, &fi, -1, NULL, &csum, error))
    return FALSE;
  cairn_mtree_replace_file (tree, name, csum);
  return TRUE;
}

gboolean
cairn_check_name_length (const char *name, GError **error)
{
  gsize len = strlen (name);
  if (len > NAME_MAX)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME,
                             "name of %" G_GSIZE_FORMAT " bytes is longer than %d "
                             "(no checkout could create it)",
                             len, NAME_MAX);
  return TRUE;
}

static gboolean
add_entry (Ctx *ctx, DirRef *dir, const char *name, CairnMTree *tree, GError **error)
{
  struct stat st;
  /* No Linux filesystem returns such a name from readdir, but a FUSE or
   * network one might. */
  if (!cairn_validate_filename (name, -1, error) || !cairn_check_name_length (name, error))
    return FALSE;
  if (fstatat (dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_errno (error, "stat");
  if (S_ISDIR (st.st_mode))
    return add_subdir (ctx, dir, name, &st, tree, error);
  if (S_ISLNK (st.st_mode))
    return add_symlink (ctx, dir, name, &st, tree, error);
  if (!S_ISREG (st.st_mode))
    return cairn_throw_code (error, G_IO_ERROR_NOT_REGULAR_FILE,
                             "not a regular file or symlink (special files such as devices, "
                             "fifos and sockets cannot be committed)");
  const char *hit = devino_hit (ctx, &st);
  if (hit)
    {
      cairn_mtree_replace_file (tree, name, hit);
      ctx->devino_hits++;
      __atomic_add_fetch (&ctx->files_done, 1, __ATOMIC_RELAXED);
      return TRUE;
    }
  /* Reserve the slot now (single-threaded); the job fills it in. */
  Job *job = g_new0 (Job, 1);
  job->dir = dirref_ref (dir);
  job->name = g_strdup (name);
  job->slot = cairn_mtree_reserve_file (tree, name);
  job->st = st;
  /* Bound the queue: the walk is much faster than hashing, and a queued job
   * holds its name, stat and an open directory. */
  g_mutex_lock (&ctx->lock);
  while (ctx->queued >= MAX_QUEUED)
    g_cond_wait (&ctx->drained, &ctx->lock);
  ctx->queued++;
  g_mutex_unlock (&ctx->lock);
  g_thread_pool_push (ctx->pool, job, NULL);
  return TRUE;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static gboolean
walk_dir (Ctx *ctx, DirRef *dir, CairnMTree *tree, GError **error)
{
  /* The entries are read with getdents64 on the walk's own descriptor
   * (read once, from its start): readdir would need a dup and fdopendir, five
   * more system calls per directory. The buffer is the walk's (names are
   * copied out before any recursion). */
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (!ctx->dents)
    ctx->dents = g_malloc (DENTS_BUF);
  for (;;)
    {
      ssize_t n = getdents64 (dir->fd, ctx->dents, DENTS_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return cairn_throw_errno (error, "%s: readdir", dir->path[0] ? dir->path : ".");
      if (n == 0)
        break;
      for (ssize_t off = 0; off < n;)
        {
          const struct dirent64 *de = (const struct dirent64 *)(ctx->dents + off);
          off += de->d_reclen;
          if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
            g_ptr_array_add (names, g_strdup (de->d_name));
        }
    }
  /* Sorted, so that errors and job order are deterministic. */
  g_ptr_array_sort (names, cmp_str);
  for (guint i = 0; i < names->len; i++)
    {
      if (cairn_first_error_failed (&ctx->fe))
        return FALSE;
      if (!add_entry (ctx, dir, names->pdata[i], tree, error))
        {
          /* No error of its own: the walk below stopped because a worker
           * failed; that error (naming its file) is the one reported. */
          if (*error == NULL)
            return FALSE;
          g_autofree char *path = join (dir->path, names->pdata[i]);
          if (!g_str_has_prefix ((*error)->message, path))
            g_prefix_error (error, "%s: ", path);
          return FALSE;
        }
      if (ctx->opts->progress && (i & 255) == 0)
        ctx->opts->progress (ctx->files_done, ctx->bytes_done, ctx->opts->progress_data);
    }
  return TRUE;
}

/* Walk and hash everything into @tree; returns when all jobs finished. */
static gboolean
build_tree (Ctx *ctx, int root_fd, CairnMTree *tree, GError **error)
{
  struct stat st;
  if (fstat (root_fd, &st) < 0)
    return cairn_throw_errno (error, "stat");
  /* Two workers per CPU: a worker waits for its file's data when the tree
   * is not in the page cache (the first commit of a just-unpacked tree on a
   * fresh machine), and two per CPU keep the disk busy meanwhile (measured
   * on the Debian minbase tree, 2 CPUs, cache dropped: 2.8 s with 2
   * workers, 1.7 s with 4, 1.6 s with 8; the same with a warm cache). */
  guint n = ctx->opts->n_threads ? ctx->opts->n_threads : 2 * MAX (g_get_num_processors (), 1);
  ctx->pool = g_thread_pool_new (job_run, ctx, n, FALSE, NULL);
  int dupfd = fcntl (root_fd, F_DUPFD_CLOEXEC, 3);
  DirRef *root = dirref_new (dupfd, "");
  GError *walk_error = NULL;
  gboolean ok = add_dirmeta (ctx, root_fd, &st, tree, &walk_error)
                && walk_dir (ctx, root, tree, &walk_error);
  dirref_unref (root);
  g_thread_pool_free (ctx->pool, FALSE, TRUE); /* waits for queued jobs */
  ctx->pool = NULL;
  if (!ok && walk_error)
    cairn_first_error_set (&ctx->fe, walk_error);
  if (!cairn_first_error_propagate (&ctx->fe, error))
    return FALSE;
  /* Every failure sets an error; never report a stopped walk as success. */
  if (!ok || cairn_first_error_failed (&ctx->fe))
    return cairn_throw (error, "the tree walk stopped without an error");
  /* the totals, once every worker is done */
  if (ctx->opts->progress)
    ctx->opts->progress (ctx->files_done, ctx->bytes_done, ctx->opts->progress_data);
  return TRUE;
}

/* Below this much file data, the early flush is not worth its thread and
 * its journal commit. */
#define EARLY_SYNCFS_MIN_BYTES (16u << 20)

static gpointer
early_syncfs (gpointer data)
{
  (void)syncfs (GPOINTER_TO_INT (data));
  return NULL;
}

gboolean
cairn_repo_commit_dir (CairnRepo *repo, int src_dfd, const char *src_path,
                       const CairnCommitOptions *opts, char **out_checksum,
                       CairnTxnStats *out_stats, GError **error)
{
  if (opts->branch && !cairn_validate_ref_name (opts->branch, error))
    return FALSE;
  g_autofree char *parent = NULL;
  if (!cairn_commit_options_resolve_parent (repo, opts, &parent, error))
    return FALSE;
  cairn_autofd root = -1;
  if (!cairn_opendirat (src_dfd, src_path, TRUE, &root, error))
    return FALSE;
  cairn_raise_fd_limit ();
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, error);
  if (!txn)
    return FALSE;
  Ctx ctx = { .repo = repo, .txn = txn, .opts = opts };
  g_mutex_init (&ctx.lock);
  g_cond_init (&ctx.drained);
  cairn_first_error_init (&ctx.fe);
  g_autoptr (CairnDevino) devino = opts->use_devino_cache ? cairn_devino_load (repo, NULL) : NULL;
  ctx.devino = devino;
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  gboolean ok = build_tree (&ctx, root, tree, error);
  g_free (ctx.dents);
  g_mutex_clear (&ctx.lock);
  g_cond_clear (&ctx.drained);
  cairn_first_error_clear (&ctx.fe);
  if (!ok)
    return cairn_prefix_error (error, "committing %s", src_path);
  /* Every file object is staged: their flush starts now, on a thread of its
   * own, while this one stages the dirtrees and the commit. This syncfs()
   * promises nothing; the transaction's own, which starts after the last
   * object is staged, alone makes them durable (store/txn.c), and finds
   * less left to write. */
  GThread *flusher = NULL;
  if (repo->fsync && ctx.bytes_done >= EARLY_SYNCFS_MIN_BYTES)
    flusher = g_thread_try_new ("cairn-flush", early_syncfs,
                                GINT_TO_POINTER (cairn_txn_get_staging_dfd (txn)), NULL);
  g_autofree char *commit = NULL;
  ok = cairn_txn_finish_commit (txn, opts, parent, tree, &commit, error);
  if (flusher)
    g_thread_join (flusher);
  if (!ok)
    return FALSE;
  if (out_stats)
    {
      cairn_txn_get_stats (txn, out_stats);
      out_stats->devino_hits = ctx.devino_hits;
    }
  *out_checksum = g_steal_pointer (&commit);
  return TRUE;
}
