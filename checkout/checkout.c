/* Checkout: dirtrees become directories, file objects become hardlinks (or
 * copies), processed in parallel one directory per job (docs/format.md §13).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "checkout/cairn-checkout.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/xattr.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

typedef struct
{
  guint64 dev, ino;
  guint8 csum[32];
} DevinoRec;

typedef struct
{
  CairnRepo *repo;
  const CairnCheckoutOptions *opts;
  gboolean hardlink_files;    /* regular files may be hardlinked */
  gboolean hardlink_symlinks; /* bare repo, non-user: symlink objects are real symlinks */
  GThreadPool *pool;
  GMutex lock;
  GCond cond;
  guint pending;
  CairnFirstError fe;
  CairnCheckoutStats stats;
  GArray *devino;       /* DevinoRec, under lock */
  GHashTable *dirmetas; /* checksum -> DirMeta*, under lock */
} Ctx;

/* A parsed dirmeta: a tree has few distinct ones (a minimal Debian: 10 for
 * 785 directories), each loaded and verified once per checkout. */
typedef struct
{
  guint32 uid, gid, mode;
  GVariant *xattrs;
} DirMeta;

static void
dirmeta_free (gpointer p)
{
  DirMeta *d = p;
  g_clear_pointer (&d->xattrs, g_variant_unref);
  g_free (d);
}

typedef struct
{
  int dfd;
  char *path;
  char *dirtree;
  char *dirmeta;
  gboolean existed; /* union: keep the existing directory's metadata */
} DirJob;

static void
dirjob_free (DirJob *j)
{
  cairn_close_fdp (&j->dfd);
  g_free (j->path);
  g_free (j->dirtree);
  g_free (j->dirmeta);
  g_free (j);
}

static void
add_stat (guint64 *field, guint64 n)
{
  __atomic_add_fetch (field, n, __ATOMIC_RELAXED);
}

static char *
join (const char *dir, const char *name)
{
  return g_strconcat (dir, strcmp (dir, "/") ? "/" : "", name, NULL);
}

/* ---- files ------------------------------------------------------------------ */

static gboolean
set_xattrs_fd (int fd, const char *procpath, GVariant *xattrs, GError **error)
{
  GVariantIter it;
  g_autoptr (GVariant) name = NULL, value = NULL;
  g_variant_iter_init (&it, xattrs);
  while (g_variant_iter_loop (&it, "(@ay@ay)", &name, &value))
    {
      gsize len;
      const void *v = g_variant_get_fixed_array (value, &len, 1);
      const char *n = g_variant_get_bytestring (name);
      int r = fd >= 0 ? fsetxattr (fd, n, v, len, 0) : lsetxattr (procpath, n, v, len, 0);
      if (r < 0)
        return cairn_throw_errno (error, "setting xattr %s", n);
    }
  return TRUE;
}

/* Create the file or symlink under @tmpname (caller renames it). */
static gboolean
make_copy (Ctx *ctx, int dfd, const char *name, const char *csum, const CairnFileInfo *fi,
           GError **error)
{
  gboolean user = ctx->opts->user_mode;
  if (S_ISLNK (fi->mode))
    {
      if (symlinkat (fi->symlink_target, dfd, name) < 0)
        return cairn_throw_errno (error, "symlink");
      if (!user)
        {
          if (fchownat (dfd, name, fi->uid, fi->gid, AT_SYMLINK_NOFOLLOW) < 0)
            return cairn_throw_errno (error, "lchown");
          g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d/%s", dfd, name);
          if (!set_xattrs_fd (-1, proc, fi->xattrs, error))
            return FALSE;
        }
      add_stat (&ctx->stats.symlinks, 1);
      return TRUE;
    }
  cairn_autofd fd = openat (dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return cairn_throw_errno (error, "create");
  if (fi->size > 0 && !cairn_repo_copy_file_content (ctx->repo, csum, fd, error))
    return FALSE;
  guint32 mode = fi->mode & 07777;
  if (user)
    mode &= ~(S_ISUID | S_ISGID);
  else
    {
      if (fchown (fd, fi->uid, fi->gid) < 0)
        return cairn_throw_errno (error, "fchown");
      if (!set_xattrs_fd (fd, NULL, fi->xattrs, error))
        return FALSE;
    }
  if (fchmod (fd, mode) < 0)
    return cairn_throw_errno (error, "fchmod");
  add_stat (&ctx->stats.files_copied, 1);
  add_stat (&ctx->stats.bytes_copied, fi->size);
  return TRUE;
}

static void
record_devino (Ctx *ctx, const struct stat *st, const char *csum)
{
  if (ctx->opts->no_devino_cache)
    return;
  DevinoRec r = { st->st_dev, st->st_ino, { 0 } };
  cairn_checksum_from_hex (csum, r.csum);
  g_mutex_lock (&ctx->lock);
  g_array_append_val (ctx->devino, r);
  g_mutex_unlock (&ctx->lock);
}

/* Try to hardlink the object as @name: TRUE with *out_done when linked. */
static gboolean
try_link (Ctx *ctx, int dfd, const char *name, const char *csum, gboolean *out_done, GError **error)
{
  *out_done = FALSE;
  int sub = cairn_repo_objdir_fd (ctx->repo, csum, FALSE, error);
  if (sub < 0)
    return FALSE;
  g_autofree char *leaf = cairn_object_leaf (csum, CAIRN_OBJECT_FILE, ctx->repo->mode);
  if (linkat (sub, leaf, dfd, name, 0) == 0)
    {
      *out_done = TRUE;
      return TRUE;
    }
  if ((errno == EMLINK || errno == EXDEV || errno == EPERM) && !ctx->opts->require_hardlinks)
    return TRUE; /* fall back to a copy */
  return cairn_throw_errno (error, "hardlink");
}

/* What the existing entry at @name means for a union checkout. Returns
 * FALSE on error; *out_skip when the existing entry is kept. */
static gboolean
check_existing (Ctx *ctx, int dfd, const char *name, const char *csum, const CairnFileInfo *fi,
                gboolean *out_exists, gboolean *out_skip, GError **error)
{
  struct stat st;
  *out_skip = FALSE;
  *out_exists = FALSE;
  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? TRUE : cairn_throw_errno (error, "stat");
  *out_exists = TRUE;
  CairnCheckoutOverwrite ow = ctx->opts->overwrite;
  if (S_ISDIR (st.st_mode))
    {
      if (ctx->opts->whiteouts && ow == CAIRN_CHECKOUT_UNION_FILES)
        return cairn_rm_rf_at (dfd, name, error) && ((*out_exists = FALSE), TRUE);
      return cairn_throw_code (error, G_IO_ERROR_IS_DIRECTORY,
                               "a directory exists where the commit has a file");
    }
  if (ow == CAIRN_CHECKOUT_UNION_ADD)
    *out_skip = TRUE;
  else if (ow == CAIRN_CHECKOUT_UNION_IDENTICAL)
    {
      struct stat ost;
      gboolean same = cairn_repo_stat_object (ctx->repo, CAIRN_OBJECT_FILE, csum, &ost)
                      && ost.st_dev == st.st_dev && ost.st_ino == st.st_ino;
      if (!same && S_ISLNK (st.st_mode) && S_ISLNK (fi->mode))
        {
          g_autofree char *t = cairn_readlinkat (dfd, name, NULL);
          same = t && strcmp (t, fi->symlink_target) == 0;
        }
      else if (!same && S_ISREG (st.st_mode) && S_ISREG (fi->mode)
               && (guint64)st.st_size == fi->size && (st.st_mode & 07777) == (fi->mode & 07777))
        {
          /* Same size and mode: compare the bytes. */
          cairn_autofd efd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          cairn_autofd ofd = -1;
          g_auto (CairnFileInfo) ofi = { 0 };
          if (efd >= 0 && cairn_repo_load_file (ctx->repo, csum, &ofd, &ofi, NULL) && ofd >= 0)
            {
              g_autoptr (GBytes) a = cairn_fd_read_all (efd, 0, NULL);
              g_autoptr (GBytes) b = cairn_fd_read_all (ofd, 0, NULL);
              same = a && b && g_bytes_equal (a, b);
            }
        }
      if (!same)
        return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                                 "an existing file differs from the commit (--union-identical)");
      *out_skip = TRUE;
    }
  else if (ow == CAIRN_CHECKOUT_OVERWRITE_NONE)
    return cairn_throw_errno_value (error, EEXIST, "create");
  return TRUE;
}

static gboolean
needs_info (Ctx *ctx)
{
  return ctx->repo->mode != CAIRN_REPO_MODE_BARE || !ctx->hardlink_files
         || ctx->opts->overwrite != CAIRN_CHECKOUT_OVERWRITE_NONE;
}

static gboolean
checkout_file (Ctx *ctx, int dfd, const char *name, const char *csum, GError **error)
{
  struct stat ost;
  g_auto (CairnFileInfo) fi = { 0 };
  if (ctx->repo->mode == CAIRN_REPO_MODE_BARE_USER)
    {
      /* stat and metadata in two system calls (no open) */
      if (!cairn_repo_load_file_info (ctx->repo, csum, &ost, &fi, error))
        return FALSE;
    }
  else if (!cairn_repo_stat_object (ctx->repo, CAIRN_OBJECT_FILE, csum, &ost))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.file is missing", csum);
  else if (needs_info (ctx) || S_ISLNK (ost.st_mode))
    {
      if (!cairn_repo_load_file (ctx->repo, csum, NULL, &fi, error))
        return FALSE;
    }
  else
    {
      fi.mode = ost.st_mode;
      fi.size = ost.st_size;
    }
  gboolean is_link = S_ISLNK (fi.mode);
  gboolean exists = FALSE, skip = FALSE;
  if (ctx->opts->verify && !cairn_repo_fsck_object (ctx->repo, CAIRN_OBJECT_FILE, csum, error))
    return FALSE;
  if (ctx->opts->overwrite != CAIRN_CHECKOUT_OVERWRITE_NONE
      && !check_existing (ctx, dfd, name, csum, &fi, &exists, &skip, error))
    return FALSE;
  if (skip)
    return TRUE;
  /* Into a temporary name when replacing, so the swap is one rename. */
  g_autofree char *tmpname
      = exists ? g_strdup_printf (".cairn-tmp-%08x%08x", g_random_int (), g_random_int ()) : NULL;
  const char *target = tmpname ? tmpname : name;
  gboolean done = FALSE;
  gboolean linkable = is_link ? ctx->hardlink_symlinks : (ctx->hardlink_files && fi.size > 0);
  if (linkable && !try_link (ctx, dfd, target, csum, &done, error))
    return FALSE;
  if (done)
    {
      if (is_link)
        add_stat (&ctx->stats.symlinks, 1);
      else
        {
          add_stat (&ctx->stats.files_linked, 1);
          record_devino (ctx, &ost, csum);
        }
    }
  else
    {
      if (ctx->opts->require_hardlinks && !is_link && fi.size > 0)
        return cairn_throw (error, "cannot hardlink object %s (--require-hardlinks)", csum);
      if (!fi.xattrs && !cairn_repo_load_file (ctx->repo, csum, NULL, &fi, error))
        return FALSE;
      if (!make_copy (ctx, dfd, target, csum, &fi, error))
        {
          if (tmpname)
            (void)unlinkat (dfd, tmpname, 0);
          return FALSE;
        }
    }
  if (tmpname && renameat (dfd, tmpname, dfd, name) < 0)
    {
      int errsv = errno;
      (void)unlinkat (dfd, tmpname, 0);
      return cairn_throw_errno_value (error, errsv, "replace");
    }
  if (!is_link)
    add_stat (&ctx->stats.bytes, fi.size);
  return TRUE;
}

/* ---- directories ---------------------------------------------------------------- */

static void push_job (Ctx *ctx, DirJob *job);

/* Open or create directory @name in @dfd, never through a symlink. */
static gboolean
ensure_dir (Ctx *ctx, int dfd, const char *name, int *out_fd, gboolean *out_existed, GError **error)
{
  *out_existed = FALSE;
  if (mkdirat (dfd, name, 0700) < 0)
    {
      if (errno != EEXIST || ctx->opts->overwrite == CAIRN_CHECKOUT_OVERWRITE_NONE)
        return cairn_throw_errno (error, "mkdir");
      struct stat st;
      if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return cairn_throw_errno (error, "stat");
      if (!S_ISDIR (st.st_mode))
        {
          /* A file or a symlink (perhaps planted to point outside): never
           * follow it. --union replaces it; the other modes refuse. */
          if (ctx->opts->overwrite != CAIRN_CHECKOUT_UNION_FILES)
            return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                                     "a non-directory exists where the commit has a directory");
          if (unlinkat (dfd, name, 0) < 0 || mkdirat (dfd, name, 0700) < 0)
            return cairn_throw_errno (error, "replacing non-directory");
        }
      else
        *out_existed = TRUE;
    }
  int fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return cairn_throw_errno (error, "opendir");
  *out_fd = fd;
  return TRUE;
}

static const DirMeta *
load_dirmeta (Ctx *ctx, const char *dirmeta, GError **error)
{
  g_mutex_lock (&ctx->lock);
  const DirMeta *cached = g_hash_table_lookup (ctx->dirmetas, dirmeta);
  g_mutex_unlock (&ctx->lock);
  if (cached)
    return cached;
  g_autoptr (GVariant) v
      = cairn_repo_load_variant (ctx->repo, CAIRN_OBJECT_DIR_META, dirmeta, error);
  DirMeta *d = g_new0 (DirMeta, 1);
  if (!v || !cairn_dirmeta_parse (v, &d->uid, &d->gid, &d->mode, &d->xattrs, error))
    {
      dirmeta_free (d);
      return NULL;
    }
  /* Two threads may load the same one: the first stored is kept. */
  g_mutex_lock (&ctx->lock);
  cached = g_hash_table_lookup (ctx->dirmetas, dirmeta);
  if (cached)
    dirmeta_free (d);
  else
    {
      g_hash_table_insert (ctx->dirmetas, g_strdup (dirmeta), d);
      cached = d;
    }
  g_mutex_unlock (&ctx->lock);
  return cached;
}

static gboolean
apply_dirmeta (Ctx *ctx, int fd, const char *dirmeta, GError **error)
{
  const DirMeta *d = load_dirmeta (ctx, dirmeta, error);
  if (!d)
    return FALSE;
  guint32 mode = d->mode;
  if (!ctx->opts->user_mode)
    {
      if (fchown (fd, d->uid, d->gid) < 0)
        return cairn_throw_errno (error, "fchown");
      if (!set_xattrs_fd (fd, NULL, d->xattrs, error))
        return FALSE;
    }
  if (ctx->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    mode &= ~(guint32)07002;
  if (fchmod (fd, mode & 07777) < 0)
    return cairn_throw_errno (error, "fchmod");
  return TRUE;
}

/* OCI whiteouts in this layer act on what is already in the destination. */
static gboolean
apply_whiteouts (Ctx *ctx, int dfd, GVariant *files, GError **error)
{
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_variant_get_child (files, i, "(&s@ay)", &name, NULL);
      if (strcmp (name, WH_OPAQUE) == 0)
        {
          int dup = fcntl (dfd, F_DUPFD_CLOEXEC, 3);
          DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
          if (!d)
            return cairn_throw_errno (error, "opendir");
          g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
          struct dirent *de;
          while ((de = readdir (d)))
            if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
              g_ptr_array_add (names, g_strdup (de->d_name));
          closedir (d);
          for (guint j = 0; j < names->len; j++)
            if (!cairn_rm_rf_at (dfd, names->pdata[j], error))
              return FALSE;
          add_stat (&ctx->stats.whiteouts_applied, 1);
        }
      else if (g_str_has_prefix (name, WH_PREFIX) && name[strlen (WH_PREFIX)] != '\0')
        {
          const char *victim = name + strlen (WH_PREFIX);
          if (!cairn_validate_filename (victim, -1, error) || !cairn_rm_rf_at (dfd, victim, error))
            return FALSE;
          add_stat (&ctx->stats.whiteouts_applied, 1);
        }
    }
  return TRUE;
}

static gboolean
checkout_files (Ctx *ctx, DirJob *job, GVariant *files, GError **error)
{
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c);
      if (!cairn_validate_filename (name, -1, error))
        return cairn_prefix_error (error, "corrupted dirtree %s", job->dirtree);
      if (ctx->opts->whiteouts && g_str_has_prefix (name, WH_PREFIX))
        continue;
      g_autofree char *csum = cairn_checksum_from_variant (c);
      if (!csum || !checkout_file (ctx, job->dfd, name, csum, error))
        {
          g_autofree char *path = join (job->path, name);
          if (!csum)
            return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: Corrupted dirtree %s",
                                     path, job->dirtree);
          return cairn_prefix_error (error, "%s", path);
        }
      if (cairn_first_error_failed (&ctx->fe))
        return TRUE;
    }
  return TRUE;
}

static gboolean
checkout_subdirs (Ctx *ctx, DirJob *job, GVariant *dirs, GError **error)
{
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *path = join (job->path, name);
      if (!cairn_validate_filename (name, -1, error))
        return cairn_prefix_error (error, "corrupted dirtree %s", job->dirtree);
      DirJob *sub = g_new0 (DirJob, 1);
      sub->dfd = -1;
      sub->path = g_steal_pointer (&path);
      sub->dirtree = cairn_checksum_from_variant (c1);
      sub->dirmeta = cairn_checksum_from_variant (c2);
      if (!sub->dirtree || !sub->dirmeta
          || !ensure_dir (ctx, job->dfd, name, &sub->dfd, &sub->existed, error))
        {
          if (!*error)
            cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", job->dirtree);
          cairn_prefix_error (error, "%s", sub->path);
          dirjob_free (sub);
          return FALSE;
        }
      add_stat (&ctx->stats.dirs, 1);
      push_job (ctx, sub);
    }
  return TRUE;
}

static gboolean
run_dir (Ctx *ctx, DirJob *job, GError **error)
{
  g_autoptr (GVariant) tree
      = cairn_repo_load_variant (ctx->repo, CAIRN_OBJECT_DIR_TREE, job->dirtree, error);
  if (!tree)
    return cairn_prefix_error (error, "%s", job->path);
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  if (ctx->opts->whiteouts && !apply_whiteouts (ctx, job->dfd, files, error))
    return cairn_prefix_error (error, "%s", job->path);
  if (!checkout_subdirs (ctx, job, dirs, error) || !checkout_files (ctx, job, files, error))
    return FALSE;
  /* Final mode only now that the directory's own entries exist. */
  if (!job->existed && !apply_dirmeta (ctx, job->dfd, job->dirmeta, error))
    return cairn_prefix_error (error, "%s", job->path);
  return TRUE;
}

static void
job_func (gpointer data, gpointer user_data)
{
  DirJob *job = data;
  Ctx *ctx = user_data;
  GError *error = NULL;
  if (!cairn_first_error_failed (&ctx->fe) && !run_dir (ctx, job, &error))
    cairn_first_error_set (&ctx->fe, error);
  dirjob_free (job);
  g_mutex_lock (&ctx->lock);
  if (--ctx->pending == 0)
    g_cond_broadcast (&ctx->cond);
  g_mutex_unlock (&ctx->lock);
}

static void
push_job (Ctx *ctx, DirJob *job)
{
  g_mutex_lock (&ctx->lock);
  ctx->pending++;
  g_mutex_unlock (&ctx->lock);
  g_thread_pool_push (ctx->pool, job, NULL);
}

static void
report_progress (Ctx *ctx)
{
  CairnCheckoutStats *st = &ctx->stats;
  guint64 files = __atomic_load_n (&st->files_linked, __ATOMIC_RELAXED)
                  + __atomic_load_n (&st->files_copied, __ATOMIC_RELAXED)
                  + __atomic_load_n (&st->symlinks, __ATOMIC_RELAXED);
  ctx->opts->progress (files, __atomic_load_n (&st->bytes, __ATOMIC_RELAXED),
                       ctx->opts->progress_data);
}

static gboolean
run_all (Ctx *ctx, DirJob *root, GError **error)
{
  const char *env = g_getenv ("CAIRN_CHECKOUT_THREADS");
  guint n = ctx->opts->n_threads    ? ctx->opts->n_threads
            : env && atoi (env) > 0 ? (guint)atoi (env)
                                    : MAX (g_get_num_processors (), 1);
  ctx->pool = g_thread_pool_new (job_func, ctx, n, FALSE, error);
  if (!ctx->pool)
    return FALSE;
  push_job (ctx, root);
  g_mutex_lock (&ctx->lock);
  while (ctx->pending > 0)
    {
      if (!ctx->opts->progress)
        {
          g_cond_wait (&ctx->cond, &ctx->lock);
          continue;
        }
      gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC / 10;
      if (!g_cond_wait_until (&ctx->cond, &ctx->lock, until) && ctx->pending > 0)
        {
          g_mutex_unlock (&ctx->lock);
          report_progress (ctx);
          g_mutex_lock (&ctx->lock);
        }
    }
  g_mutex_unlock (&ctx->lock);
  g_thread_pool_free (ctx->pool, FALSE, TRUE);
  return cairn_first_error_propagate (&ctx->fe, error);
}

/* ---- entry point ------------------------------------------------------------------ */

static gboolean
decide_linking (Ctx *ctx, GError **error)
{
  CairnRepoMode m = ctx->repo->mode;
  gboolean user = ctx->opts->user_mode;
  if (ctx->opts->force_copy && ctx->opts->require_hardlinks)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "--copy and --require-hardlinks exclude each other");
  if (ctx->opts->force_copy)
    return TRUE;
  if (m == CAIRN_REPO_MODE_BARE && !user)
    ctx->hardlink_files = ctx->hardlink_symlinks = TRUE;
  else if ((m == CAIRN_REPO_MODE_BARE_USER || m == CAIRN_REPO_MODE_BARE_USER_ONLY) && user)
    ctx->hardlink_files = TRUE;
  if (ctx->opts->require_hardlinks && !ctx->hardlink_files)
    {
      if (m == CAIRN_REPO_MODE_ARCHIVE)
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "an archive repository cannot be checked out with hardlinks");
      if (user)
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "a bare repository needs a non-user checkout to hardlink");
      return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                               "User repository mode requires user checkout mode (-U) to hardlink");
    }
  return TRUE;
}

static gboolean
save_devino (Ctx *ctx)
{
  if (ctx->devino->len == 0)
    return TRUE;
  g_autoptr (CairnDevino) d = cairn_devino_load (ctx->repo, NULL);
  if (!d)
    return FALSE;
  for (guint i = 0; i < ctx->devino->len; i++)
    {
      DevinoRec *r = &g_array_index (ctx->devino, DevinoRec, i);
      char hex[65];
      cairn_checksum_to_hex (r->csum, hex);
      cairn_devino_add (d, r->dev, r->ino, hex);
    }
  return cairn_devino_save (d, ctx->repo, NULL);
}

static gboolean
finish_tree (Ctx *ctx, int parent_dfd, const char *build, GError **error)
{
  if (!ctx->opts->finish)
    return TRUE;
  cairn_autofd fd = -1;
  if (!cairn_opendirat (parent_dfd, build, FALSE, &fd, error))
    return FALSE;
  return ctx->opts->finish (fd, ctx->opts->finish_data, error);
}

/* Check out a tree (root dirtree/dirmeta) at @name in @parent_dfd. */
static gboolean
checkout_dir_at (Ctx *ctx, CairnPathEntry *e, int parent_dfd, const char *name, GError **error)
{
  gboolean union_mode = ctx->opts->overwrite != CAIRN_CHECKOUT_OVERWRITE_NONE;
  g_autofree char *tmpname
      = union_mode ? NULL
                   : g_strdup_printf (".cairn-checkout-%08x%08x", g_random_int (), g_random_int ());
  const char *build = tmpname ? tmpname : name;
  /* Refuse an existing destination before any work (the final rename would
   * refuse it anyway, after the whole tree was written) */
  struct stat st;
  if (tmpname && fstatat (parent_dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                             "destination %s exists (--union or --union-identical check out "
                             "into an existing directory)",
                             name);
  DirJob *root = g_new0 (DirJob, 1);
  root->dfd = -1;
  root->path = g_strdup ("/");
  root->dirtree = g_strdup (e->dirtree);
  root->dirmeta = g_strdup (e->dirmeta);
  if (!ensure_dir (ctx, parent_dfd, build, &root->dfd, &root->existed, error))
    {
      dirjob_free (root);
      return cairn_prefix_error (error, "%s", name);
    }
  if (!run_all (ctx, root, error) || !finish_tree (ctx, parent_dfd, build, error))
    {
      if (tmpname)
        (void)cairn_rm_rf_at (parent_dfd, tmpname, NULL);
      return FALSE;
    }
  if (tmpname && !cairn_renameat (parent_dfd, tmpname, parent_dfd, name, TRUE, error))
    {
      (void)cairn_rm_rf_at (parent_dfd, tmpname, NULL);
      return cairn_prefix_error (error, "%s", name);
    }
  return TRUE;
}

static gboolean
open_parent (const char *dest, int dest_dfd, int *out_fd, char **out_base, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (dest);
  *out_base = g_path_get_basename (dest);
  if (!cairn_validate_filename (*out_base, -1, error))
    return cairn_prefix_error (error, "destination %s", dest);
  return cairn_opendirat (dest_dfd, dir, TRUE, out_fd, error);
}

gboolean
cairn_checkout (CairnRepo *repo, const char *commit, int dest_dfd, const char *dest_name,
                const CairnCheckoutOptions *opts, CairnCheckoutStats *out_stats, GError **error)
{
  Ctx ctx = { .repo = repo, .opts = opts };
  if (!decide_linking (&ctx, error))
    return FALSE;
  g_auto (CairnPathEntry) e = { 0 };
  if (!cairn_repo_lookup_path (repo, commit, opts->subpath ? opts->subpath : "/", &e, error))
    return FALSE;
  cairn_autofd parent = -1;
  g_autofree char *base = NULL;
  if (!open_parent (dest_name, dest_dfd, &parent, &base, error))
    return FALSE;
  cairn_raise_fd_limit ();
  g_mutex_init (&ctx.lock);
  g_cond_init (&ctx.cond);
  cairn_first_error_init (&ctx.fe);
  ctx.devino = g_array_new (FALSE, FALSE, sizeof (DevinoRec));
  ctx.dirmetas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, dirmeta_free);
  gboolean ok;
  if (e.is_dir)
    ok = checkout_dir_at (&ctx, &e, parent, base, error);
  else
    {
      ok = checkout_file (&ctx, parent, base, e.file, error);
      if (!ok)
        cairn_prefix_error (error, "%s", dest_name);
    }
  if (ok)
    (void)save_devino (&ctx);
  if (ok && opts->progress)
    report_progress (&ctx);
  g_array_unref (ctx.devino);
  g_hash_table_unref (ctx.dirmetas);
  g_mutex_clear (&ctx.lock);
  g_cond_clear (&ctx.cond);
  cairn_first_error_clear (&ctx.fe);
  if (ok && out_stats)
    *out_stats = ctx.stats;
  return ok;
}
