/* Tar import: archive entries stream into content objects and an in-memory
 * CairnMTree; nothing is extracted onto disk.
 *
 * Regular files up to SMALL_MAX are read into memory and handed to a thread
 * pool that hashes (and in archive repos, deflates) them; larger files are
 * streamed through a pipe into a writer thread, so memory stays bounded by
 * INFLIGHT_MAX plus the tree. Workers never touch the tree: each file gets a
 * result slot owned by the importer, the tree holds a placeholder naming
 * that slot, and the placeholders are replaced once every job finished. This
 * keeps "later entry wins", whiteouts and hardlinks to files still being
 * hashed simple and race-free.
 *
 * Names from the archive are hostile (STYLE.md rule 4): every component goes
 * through cairn_validate_filename; absolute paths and ".." are refused rather
 * than normalised; walking into a parent that is a file or symlink is an
 * error (the "symlink, then an entry through it" attack); hardlinks must
 * name a file already imported.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/cairn-store-lowlevel.h"
#include <limits.h>
#include "image/image-private.h"
#include <string.h>
#include <sys/xattr.h>
#include <zlib.h>

#define SMALL_MAX (256u << 10)  /* read into memory, hashed in the pool */
#define INFLIGHT_MAX (8u << 20) /* bytes queued in the pool at most */
#define STREAM_BUF (1u << 20)
#define PLACEHOLDER '@' /* slot text "@<index>": result pending */

typedef struct
{
  char csum[65];
} Result;

struct CairnTarImporter
{
  CairnRepo *repo;
  CairnTxn *txn;
  const CairnCommitOptions *opts;
  CairnMTree *root;
  gboolean root_meta_set;
  GThreadPool *pool;
  GPtrArray *results;   /* Result*, index = placeholder number */
  GHashTable *dirmetas; /* serialized dirmeta (GBytes) -> checksum */
  GHashTable *touched;  /* paths added by the current layer (OCI) */
  /* Layer mode (image/layer.c): whiteouts are kept as empty marker files
   * named as in the layer, and the directories no entry named are listed. */
  gboolean layer_mode;
  GHashTable *implicit; /* paths of directories created for their children */
  char *marker;         /* content checksum of a whiteout marker */
  GMutex lock;
  GCond cond;
  guint64 inflight; /* bytes queued */
  GError *error;    /* first worker error */
  gint failed;
  CairnImportStats stats;
  guint64 done_files, done_bytes;
  /* An uncompressed tarball in a regular file: the workers read each
   * regular file's data straight from it (pread at the entry's offset), the
   * reader only parses headers and seeks over the data. -1: no. */
  int direct_fd;
  guint64 direct_size;
};

typedef struct
{
  CairnFileInfo fi;
  guint8 *data;
  gsize len;         /* bytes held in data (counted against INFLIGHT_MAX) */
  gint64 direct_off; /* >= 0: fi.size bytes at this offset of direct_fd */
  Result *result;
  char *path;
} Job;

void
cairn_import_stats_clear (CairnImportStats *s)
{
  g_clear_pointer (&s->first_skipped, g_free);
}

struct archive *
cairn_tar_reader_new (void)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  return a;
}

static void
importer_fail (CairnTarImporter *imp, GError *error)
{
  g_mutex_lock (&imp->lock);
  if (imp->error == NULL)
    imp->error = error;
  else
    g_error_free (error);
  g_atomic_int_set (&imp->failed, 1);
  g_mutex_unlock (&imp->lock);
}

static Job *
job_new (void)
{
  Job *job = g_new0 (Job, 1);
  job->direct_off = -1;
  return job;
}

static void
job_free (Job *job)
{
  cairn_file_info_clear (&job->fi);
  g_free (job->data);
  g_free (job->path);
  g_free (job);
}

static void
job_run (gpointer data, gpointer user_data)
{
  Job *job = data;
  CairnTarImporter *imp = user_data;
  GError *error = NULL;
  g_autofree char *csum = NULL;
  if (!g_atomic_int_get (&imp->failed))
    {
      gboolean ok = job->direct_off >= 0
                        ? cairn_txn_write_content_range (imp->txn, &job->fi, imp->direct_fd,
                                                         job->direct_off, NULL, &csum, &error)
                        : cairn_txn_write_content_bytes (imp->txn, &job->fi, job->data, job->len,
                                                         NULL, &csum, &error);
      if (ok)
        memcpy (job->result->csum, csum, 65);
      else
        {
          g_prefix_error (&error, "entry '%s': ", job->path);
          importer_fail (imp, error);
        }
    }
  __atomic_add_fetch (&imp->done_files, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&imp->done_bytes, job->direct_off >= 0 ? job->fi.size : job->len,
                      __ATOMIC_RELAXED);
  g_mutex_lock (&imp->lock);
  imp->inflight -= job->len;
  g_cond_signal (&imp->cond);
  g_mutex_unlock (&imp->lock);
  job_free (job);
}

CairnTarImporter *
cairn_tar_importer_new (CairnRepo *repo, CairnTxn *txn, const CairnCommitOptions *opts,
                        CairnMTree *root)
{
  CairnTarImporter *imp = g_new0 (CairnTarImporter, 1);
  imp->repo = repo;
  imp->txn = txn;
  imp->opts = opts;
  imp->root = root;
  imp->direct_fd = -1;
  imp->results = g_ptr_array_new_with_free_func (g_free);
  imp->dirmetas
      = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, g_free);
  g_mutex_init (&imp->lock);
  g_cond_init (&imp->cond);
  guint n = opts->n_threads ? opts->n_threads : MAX (g_get_num_processors (), 1);
  imp->pool = g_thread_pool_new (job_run, imp, n, FALSE, NULL);
  return imp;
}

static void
drain_pool (CairnTarImporter *imp)
{
  if (imp->pool)
    g_thread_pool_free (imp->pool, FALSE, TRUE);
  imp->pool = NULL;
}

void
cairn_tar_importer_free (CairnTarImporter *imp)
{
  if (!imp)
    return;
  drain_pool (imp);
  g_ptr_array_unref (imp->results);
  g_hash_table_unref (imp->dirmetas);
  g_clear_pointer (&imp->touched, g_hash_table_unref);
  g_clear_pointer (&imp->implicit, g_hash_table_unref);
  g_free (imp->marker);
  g_clear_error (&imp->error);
  cairn_import_stats_clear (&imp->stats);
  g_mutex_clear (&imp->lock);
  g_cond_clear (&imp->cond);
  g_free (imp);
}

static int cmp_names (gconstpointer a, gconstpointer b);

void
_cairn_tar_importer_set_layer_mode (CairnTarImporter *imp)
{
  imp->layer_mode = TRUE;
  if (!imp->implicit)
    imp->implicit = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

GVariant *
_cairn_tar_importer_implicit_dirs (CairnTarImporter *imp)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  if (imp->implicit)
    {
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, imp->implicit);
      while (g_hash_table_iter_next (&it, &k, NULL))
        g_ptr_array_add (paths, k);
    }
  if (!imp->root_meta_set)
    g_ptr_array_add (paths, (char *)"");
  g_ptr_array_sort (paths, cmp_names);
  return g_variant_ref_sink (
      g_variant_new_strv ((const char *const *)paths->pdata, (gssize)paths->len));
}

void
cairn_tar_importer_get_stats (CairnTarImporter *imp, CairnImportStats *out)
{
  *out = imp->stats;
  out->first_skipped = g_strdup (imp->stats.first_skipped);
}

/* ---- names ------------------------------------------------------------------ */

/* Split an archive path into validated components. "./a//b/" -> [a, b];
 * "." or "./" -> [] (the root). Absolute paths and ".." are refused. */
static gboolean
split_path (const char *path, GPtrArray **out_parts, GError **error)
{
  if (!g_utf8_validate (path, -1, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "name is not valid UTF-8");
  if (path[0] == '/')
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "absolute path (refusing to import outside the tree)");
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) comps = g_strsplit (path, "/", -1);
  for (char **c = comps; *c; c++)
    {
      if (**c == '\0' || strcmp (*c, ".") == 0)
        continue;
      if (strcmp (*c, "..") == 0)
        return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                                 "'..' component (refusing to escape the tree)");
      if (!cairn_validate_filename (*c, -1, error) || !cairn_check_name_length (*c, error))
        return FALSE;
      g_ptr_array_add (parts, g_strdup (*c));
    }
  *out_parts = g_steal_pointer (&parts);
  return TRUE;
}

static char *
join_parts (GPtrArray *parts, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, '/');
      g_string_append (s, parts->pdata[i]);
    }
  return g_string_free (s, FALSE);
}

static void
touch (CairnTarImporter *imp, GPtrArray *parts, guint n)
{
  if (imp->touched)
    g_hash_table_add (imp->touched, join_parts (parts, n));
}

/* ---- metadata ---------------------------------------------------------------- */

static gboolean
skip_xattrs (CairnTarImporter *imp, gboolean filtered)
{
  return filtered || imp->repo->disable_xattrs || imp->opts->no_xattrs;
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* The entry's xattrs (pax SCHILY.xattr / LIBARCHIVE.xattr) in canonical
 * form: sorted by name, empty values skipped (docs/format.md §5.3). */
static GVariant *
entry_xattrs (struct archive_entry *e)
{
  if (archive_entry_xattr_reset (e) == 0)
    return cairn_xattrs_empty ();
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTable *vals
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_bytes_unref);
  const char *name;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK)
    {
      if (!name || !*name || size == 0 || g_hash_table_contains (vals, name))
        continue;
      g_ptr_array_add (names, (char *)name);
      g_hash_table_insert (vals, (char *)name, g_bytes_new (value, size));
    }
  g_ptr_array_sort (names, cmp_names);
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayay)"));
  for (guint i = 0; i < names->len; i++)
    {
      GBytes *v = g_hash_table_lookup (vals, names->pdata[i]);
      g_variant_builder_add (&b, "(@ay@ay)", g_variant_new_bytestring (names->pdata[i]),
                             g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, v, TRUE));
    }
  g_hash_table_unref (vals);
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* uid/gid/mode/xattrs of an entry after the commit filter (docs/format.md §7.6). */
static void
entry_info (CairnTarImporter *imp, struct archive_entry *e, CairnFileInfo *fi)
{
  gboolean skip = FALSE;
  fi->uid = (guint32)archive_entry_uid (e);
  fi->gid = (guint32)archive_entry_gid (e);
  fi->mode = archive_entry_mode (e);
  cairn_commit_options_filter (imp->opts, imp->repo->mode, &fi->uid, &fi->gid, &fi->mode, &skip);
  fi->xattrs = skip_xattrs (imp, skip) ? cairn_xattrs_empty () : entry_xattrs (e);
}

static gboolean
write_dirmeta (CairnTarImporter *imp, guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs,
               CairnMTree *dir, GError **error)
{
  g_autoptr (GVariant) meta = cairn_dirmeta_new (uid, gid, mode, xattrs);
  g_autoptr (GBytes) key = g_variant_get_data_as_bytes (meta);
  const char *known = g_hash_table_lookup (imp->dirmetas, key);
  if (known)
    {
      cairn_mtree_set_metadata_checksum (dir, known);
      return TRUE;
    }
  g_autofree char *csum = NULL;
  if (!cairn_txn_write_metadata (imp->txn, CAIRN_OBJECT_DIR_META, meta, &csum, error))
    return FALSE;
  cairn_mtree_set_metadata_checksum (dir, csum);
  g_hash_table_insert (imp->dirmetas, g_bytes_ref (key), g_steal_pointer (&csum));
  return TRUE;
}

/* Directories the archive does not list: root-owned 0755 (as ostree's
 * --tar-autocreate-parents), after the commit filter. */
static gboolean
set_default_dirmeta (CairnTarImporter *imp, CairnMTree *dir, GError **error)
{
  guint32 uid = 0, gid = 0, mode = S_IFDIR | 0755;
  gboolean skip = FALSE;
  cairn_commit_options_filter (imp->opts, imp->repo->mode, &uid, &gid, &mode, &skip);
  g_autoptr (GVariant) none = cairn_xattrs_empty ();
  return write_dirmeta (imp, uid, gid, mode, none, dir, error);
}

/* Walk to the directory holding component @n of @parts, creating missing
 * directories. A file or symlink in the way is an error: following it is
 * exactly what a hostile archive wants. */
static CairnMTree *
walk (CairnTarImporter *imp, GPtrArray *parts, guint n, gboolean create, GError **error)
{
  CairnMTree *cur = imp->root;
  for (guint i = 0; i < n; i++)
    {
      const char *c = parts->pdata[i];
      CairnMTree *sub = cairn_mtree_lookup_dir (cur, c);
      if (!sub)
        {
          g_autofree char *p = join_parts (parts, i + 1);
          if (cairn_mtree_lookup_file (cur, c))
            {
              cairn_throw_code (error, G_IO_ERROR_NOT_DIRECTORY,
                                "parent '%s' is a file or symlink, not a directory "
                                "(refusing to write through it)",
                                p);
              return NULL;
            }
          if (!create)
            {
              cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "'%s' does not exist", p);
              return NULL;
            }
          sub = cairn_mtree_ensure_dir (cur, c);
          if (!set_default_dirmeta (imp, sub, error))
            return NULL;
          touch (imp, parts, i + 1);
          if (imp->implicit)
            g_hash_table_add (imp->implicit, join_parts (parts, i + 1));
        }
      cur = sub;
    }
  return cur;
}

/* ---- entries ------------------------------------------------------------------ */

static char *
new_slot (CairnTarImporter *imp, CairnMTree *dir, const char *name, Result **out_result)
{
  Result *r = g_new0 (Result, 1);
  guint idx = imp->results->len;
  g_ptr_array_add (imp->results, r);
  char *slot = cairn_mtree_reserve_file (dir, name);
  g_snprintf (slot, 65, "%c%u", PLACEHOLDER, idx);
  if (out_result)
    *out_result = r;
  return slot;
}

static void
queue_job (CairnTarImporter *imp, Job *job)
{
  g_mutex_lock (&imp->lock);
  while (imp->inflight > 0 && imp->inflight + job->len > INFLIGHT_MAX)
    g_cond_wait (&imp->cond, &imp->lock);
  imp->inflight += job->len;
  g_mutex_unlock (&imp->lock);
  g_thread_pool_push (imp->pool, job, NULL);
}

static gboolean
read_data (struct archive *a, guint8 *buf, gsize len, GError **error)
{
  gsize got = 0;
  while (got < len)
    {
      la_ssize_t r = archive_read_data (a, buf + got, len - got);
      if (r < 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s", archive_error_string (a));
      if (r == 0)
        return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT, "truncated entry data");
      got += r;
    }
  return TRUE;
}

typedef struct
{
  CairnTxn *txn;
  CairnFileInfo *fi;
  int rfd;
  char *csum;
  GError *error;
} Stream;

static gpointer
stream_thread (gpointer data)
{
  Stream *s = data;
  if (!cairn_txn_write_content (s->txn, s->fi, s->rfd, NULL, &s->csum, &s->error))
    {
      /* Drain so that the feeder never blocks on a full pipe. */
      char buf[65536];
      while (read (s->rfd, buf, sizeof buf) > 0 || errno == EINTR)
        ;
    }
  cairn_close_fdp (&s->rfd);
  return NULL;
}

/* Large files: the archive data is piped into a writer thread, so neither
 * the file nor a temporary copy is ever held whole. */
static gboolean
stream_large (CairnTarImporter *imp, struct archive *a, CairnFileInfo *fi, char **out_csum,
              GError **error)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return cairn_throw_errno (error, "pipe");
  (void)fcntl (p[1], F_SETPIPE_SZ, STREAM_BUF);
  cairn_autofd wfd = p[1];
  Stream s = { .txn = imp->txn, .fi = fi, .rfd = p[0] };
  GThread *t = g_thread_new ("cairn-tar-stream", stream_thread, &s);
  g_autofree guint8 *buf = g_malloc (STREAM_BUF);
  GError *feed_error = NULL;
  for (;;)
    {
      la_ssize_t r = archive_read_data (a, buf, STREAM_BUF);
      if (r < 0)
        {
          cairn_throw_code (&feed_error, G_IO_ERROR_INVALID_DATA, "%s", archive_error_string (a));
          break;
        }
      if (r == 0 || !cairn_write_all (wfd, buf, r, &feed_error))
        break;
    }
  cairn_close_fdp (&wfd);
  g_thread_join (t);
  if (feed_error)
    {
      g_clear_error (&s.error);
      g_free (s.csum);
      g_propagate_error (error, feed_error);
      return FALSE;
    }
  if (s.error)
    {
      g_propagate_error (error, s.error);
      return FALSE;
    }
  *out_csum = s.csum;
  return TRUE;
}

/* A sparse entry (GNU or PAX sparse maps): its data blocks are written at
 * their offsets into a staging file that keeps the holes, which the store
 * then takes as a sparse source (store/write.c). A tarball of a few KiB
 * that claims a 10 GiB file of holes thus never fills the disk, and never
 * makes libarchive expand the holes into zeros. */
static gboolean
stream_sparse (CairnTarImporter *imp, struct archive *a, CairnFileInfo *fi, char **out_csum,
               GError **error)
{
  g_auto (CairnTmpfile) tmp = { 0 };
  if (!cairn_tmpfile_open (cairn_txn_get_staging_dfd (imp->txn), 0600, &tmp, error))
    return FALSE;
  for (;;)
    {
      const void *buf;
      size_t n;
      la_int64_t off;
      int r = archive_read_data_block (a, &buf, &n, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s", archive_error_string (a));
      if (off < 0 || (guint64)off > fi->size || n > fi->size - (guint64)off)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "sparse data outside the file's size (%" G_GUINT64_FORMAT ")",
                                 fi->size);
      if (n > 0 && !cairn_pwrite_all (tmp.fd, buf, n, (guint64)off, error))
        return FALSE;
    }
  if (ftruncate (tmp.fd, (off_t)fi->size) < 0 || lseek (tmp.fd, 0, SEEK_SET) < 0)
    return cairn_throw_errno (error, "staging a sparse file");
  return cairn_txn_write_content (imp->txn, fi, tmp.fd, NULL, out_csum, error);
}

/* The limits for untrusted input (CairnCommitOptions.max_*_size). */
static gboolean
check_limits (CairnTarImporter *imp, guint64 size, GError **error)
{
  guint64 max_obj = imp->opts->max_object_size, max_tree = imp->opts->max_tree_size;
  if (max_obj && size > max_obj)
    return cairn_throw_code (error, G_IO_ERROR_NO_SPACE,
                             "file of %" G_GUINT64_FORMAT " bytes is above --max-object-size "
                             "(%" G_GUINT64_FORMAT ")",
                             size, max_obj);
  if (max_tree && imp->stats.bytes > max_tree)
    return cairn_throw_code (error, G_IO_ERROR_NO_SPACE,
                             "files add up to %" G_GUINT64_FORMAT " bytes, above --max-tree-size "
                             "(%" G_GUINT64_FORMAT ")",
                             imp->stats.bytes, max_tree);
  return TRUE;
}

/* Where this entry's data starts in direct_fd, or -1 when it must be read
 * through libarchive: not a direct source, a compression filter (its
 * offsets are not the file's), a sparse entry, or data past the end of the
 * file (truncated: the ordinary path reports it). After the header has been
 * read, the format has consumed exactly the header blocks, so the count of
 * bytes consumed is the data's offset. */
static gint64
direct_offset (CairnTarImporter *imp, struct archive *a, struct archive_entry *e, guint64 size)
{
  if (imp->direct_fd < 0 || archive_filter_count (a) != 1
      || archive_filter_code (a, 0) != ARCHIVE_FILTER_NONE || archive_entry_sparse_count (e) > 0)
    return -1;
  la_int64_t off = archive_filter_bytes (a, 0);
  if (off < 0 || (guint64)off > imp->direct_size || size > imp->direct_size - (guint64)off)
    return -1;
  return off;
}

static gboolean
add_regular (CairnTarImporter *imp, struct archive *a, struct archive_entry *e, CairnMTree *dir,
             const char *name, const char *path, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  entry_info (imp, e, &fi);
  la_int64_t size = archive_entry_size (e);
  if (size < 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "negative size");
  fi.size = size;
  imp->stats.files++;
  imp->stats.bytes += size;
  if (!check_limits (imp, fi.size, error))
    return FALSE;
  if (archive_entry_sparse_count (e) > 0 && fi.size > SMALL_MAX)
    {
      g_autofree char *csum = NULL;
      if (!stream_sparse (imp, a, &fi, &csum, error))
        return FALSE;
      cairn_mtree_replace_file (dir, name, csum);
      imp->done_files++;
      imp->done_bytes += fi.size;
      return TRUE;
    }
  gint64 off = direct_offset (imp, a, e, size);
  if (off >= 0)
    {
      Job *job = job_new ();
      job->direct_off = off;
      job->fi = fi;
      memset (&fi, 0, sizeof fi);
      job->path = g_strdup (path);
      new_slot (imp, dir, name, &job->result);
      queue_job (imp, job);
      return TRUE; /* the reader seeks over the data at the next header */
    }
  if (fi.size > SMALL_MAX)
    {
      g_autofree char *csum = NULL;
      if (!stream_large (imp, a, &fi, &csum, error))
        return FALSE;
      cairn_mtree_replace_file (dir, name, csum);
      imp->done_files++;
      imp->done_bytes += fi.size;
      return TRUE;
    }
  Job *job = job_new ();
  job->len = fi.size;
  job->data = g_malloc (MAX (job->len, 1));
  if (!read_data (a, job->data, job->len, error))
    {
      job_free (job);
      return FALSE;
    }
  job->fi = fi;
  memset (&fi, 0, sizeof fi);
  job->path = g_strdup (path);
  new_slot (imp, dir, name, &job->result);
  queue_job (imp, job);
  return TRUE;
}

static gboolean
add_symlink (CairnTarImporter *imp, struct archive_entry *e, CairnMTree *dir, const char *name,
             const char *path, GError **error)
{
  const char *target = archive_entry_symlink_utf8 (e);
  if (!target)
    target = archive_entry_symlink (e);
  if (!target || !*target)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "symlink with an empty target");
  if (!g_utf8_validate (target, -1, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "symlink target is not valid UTF-8");
  if (strlen (target) >= PATH_MAX)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "symlink target of %" G_GSIZE_FORMAT " bytes is longer than %d "
                             "(no checkout could create it)",
                             strlen (target), PATH_MAX - 1);
  Job *job = job_new ();
  entry_info (imp, e, &job->fi);
  job->fi.mode = (job->fi.mode & 07777) | S_IFLNK;
  job->fi.symlink_target = g_strdup (target);
  job->path = g_strdup (path);
  new_slot (imp, dir, name, &job->result);
  imp->stats.files++;
  queue_job (imp, job);
  return TRUE;
}

/* A hardlink names an entry already in the tree (this or an earlier layer);
 * it gets the same content object. */
static gboolean
add_hardlink (CairnTarImporter *imp, const char *target, CairnMTree *dir, const char *name,
              GError **error)
{
  g_autoptr (GPtrArray) tparts = NULL;
  g_autofree char *esc = cairn_escape_name (target, -1);
  if (!split_path (target, &tparts, error))
    return cairn_prefix_error (error, "hardlink target '%s'", esc);
  if (tparts->len == 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "hardlink to the root directory");
  CairnMTree *tdir = walk (imp, tparts, tparts->len - 1, FALSE, error);
  const char *slot = tdir ? cairn_mtree_lookup_file (tdir, tparts->pdata[tparts->len - 1]) : NULL;
  if (!slot)
    {
      g_clear_error (error);
      return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                               "hardlink to '%s', which is not a file seen earlier in the archive",
                               esc);
    }
  g_autofree char *copy = g_strdup (slot); /* the slot may be the one replaced below */
  char *mine = cairn_mtree_reserve_file (dir, name);
  memcpy (mine, copy, strlen (copy) + 1);
  imp->stats.hardlinks++;
  return TRUE;
}

/* Remove @dir's children not added by the current layer (OCI opaque dir). */
static void
hide_lower (CairnTarImporter *imp, CairnMTree *dir, const char *path)
{
  g_autoptr (GPtrArray) files = cairn_mtree_file_names (dir);
  g_autoptr (GPtrArray) dirs = cairn_mtree_dir_names (dir);
  g_autoptr (GPtrArray) doomed = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < files->len + dirs->len; i++)
    {
      const char *n = i < files->len ? files->pdata[i] : dirs->pdata[i - files->len];
      g_autofree char *p = path[0] ? g_strconcat (path, "/", n, NULL) : g_strdup (n);
      if (!g_hash_table_contains (imp->touched, p))
        g_ptr_array_add (doomed, g_strdup (n));
      else if (i >= files->len)
        hide_lower (imp, cairn_mtree_lookup_dir (dir, n), p);
    }
  for (guint i = 0; i < doomed->len; i++)
    cairn_mtree_remove (dir, doomed->pdata[i]);
}

/* Layer mode: the whiteout stays in the layer's tree as an empty file
 * (root-owned, 0644, whatever the entry was) for image/layer.c to apply
 * when layers are merged. */
static gboolean
keep_whiteout (CairnTarImporter *imp, CairnMTree *dir, const char *base, GError **error)
{
  if (!imp->marker)
    {
      g_auto (CairnFileInfo) fi = { .mode = S_IFREG | 0644 };
      gboolean skip = FALSE;
      cairn_commit_options_filter (imp->opts, imp->repo->mode, &fi.uid, &fi.gid, &fi.mode, &skip);
      fi.xattrs = cairn_xattrs_empty ();
      if (!cairn_txn_write_content_bytes (imp->txn, &fi, "", 0, NULL, &imp->marker, error))
        return FALSE;
    }
  cairn_mtree_replace_file (dir, base, imp->marker);
  return TRUE;
}

static gboolean
apply_whiteout (CairnTarImporter *imp, GPtrArray *parts, const char *base, GError **error)
{
  CairnMTree *dir = walk (imp, parts, parts->len - 1, TRUE, error);
  if (!dir)
    return FALSE;
  if (imp->layer_mode)
    {
      imp->stats.whiteouts++;
      if (strcmp (base, ".wh..wh..opq") != 0
          && !cairn_validate_filename (base + strlen (".wh."), -1, error))
        return FALSE;
      return keep_whiteout (imp, dir, base, error);
    }
  g_autofree char *dpath = join_parts (parts, parts->len - 1);
  imp->stats.whiteouts++;
  if (strcmp (base, ".wh..wh..opq") == 0)
    {
      hide_lower (imp, dir, dpath);
      return TRUE;
    }
  const char *victim = base + strlen (".wh.");
  if (!cairn_validate_filename (victim, -1, error))
    return FALSE;
  g_autofree char *vpath = dpath[0] ? g_strconcat (dpath, "/", victim, NULL) : g_strdup (victim);
  /* A whiteout hides earlier layers only: what this layer already put
   * there stays (a directory keeps just this layer's children). */
  if (!g_hash_table_contains (imp->touched, vpath))
    cairn_mtree_remove (dir, victim);
  else if (cairn_mtree_lookup_dir (dir, victim))
    hide_lower (imp, cairn_mtree_lookup_dir (dir, victim), vpath);
  return TRUE;
}

static gboolean
add_directory (CairnTarImporter *imp, struct archive_entry *e, GPtrArray *parts, GError **error)
{
  CairnMTree *dir = imp->root;
  if (parts->len > 0)
    {
      CairnMTree *parent = walk (imp, parts, parts->len - 1, TRUE, error);
      if (!parent)
        return FALSE;
      dir = cairn_mtree_ensure_dir (parent, parts->pdata[parts->len - 1]);
      if (imp->implicit)
        {
          g_autofree char *p = join_parts (parts, parts->len);
          g_hash_table_remove (imp->implicit, p);
        }
    }
  else
    imp->root_meta_set = TRUE;
  g_auto (CairnFileInfo) fi = { 0 };
  entry_info (imp, e, &fi);
  return write_dirmeta (imp, fi.uid, fi.gid, (fi.mode & 07777) | S_IFDIR, fi.xattrs, dir, error);
}

static void
count_special (CairnTarImporter *imp, const char *path)
{
  if (imp->stats.n_skipped_special++ == 0)
    imp->stats.first_skipped = g_strdup (path);
}

static gboolean
apply_entry (CairnTarImporter *imp, struct archive *a, struct archive_entry *e, const char *path,
             gboolean oci, GError **error)
{
  g_autoptr (GPtrArray) parts = NULL;
  if (!split_path (path, &parts, error))
    return FALSE;
  mode_t type = archive_entry_filetype (e);
  const char *hardlink = archive_entry_hardlink_utf8 (e);
  if (!hardlink)
    hardlink = archive_entry_hardlink (e);
  if (parts->len == 0)
    {
      if (hardlink || type != AE_IFDIR)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "the root must be a directory");
      return add_directory (imp, e, parts, error);
    }
  const char *base = parts->pdata[parts->len - 1];
  if (oci && g_str_has_prefix (base, ".wh."))
    return apply_whiteout (imp, parts, base, error);
  if (!hardlink && type == AE_IFDIR)
    {
      touch (imp, parts, parts->len);
      return add_directory (imp, e, parts, error);
    }
  if (!hardlink && type != AE_IFREG && type != AE_IFLNK)
    {
      count_special (imp, path);
      return TRUE;
    }
  CairnMTree *dir = walk (imp, parts, parts->len - 1, TRUE, error);
  if (!dir)
    return FALSE;
  touch (imp, parts, parts->len);
  if (hardlink)
    return add_hardlink (imp, hardlink, dir, base, error);
  if (type == AE_IFLNK)
    return add_symlink (imp, e, dir, base, path, error);
  return add_regular (imp, a, e, dir, base, path, error);
}

gboolean
cairn_tar_importer_apply (CairnTarImporter *imp, struct archive *a, gboolean oci_whiteouts,
                          const char *label, GError **error)
{
  g_clear_pointer (&imp->touched, g_hash_table_unref);
  if (oci_whiteouts)
    imp->touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *last = NULL;
  imp->stats.n_layers++;
  for (guint64 n = 0;; n++)
    {
      struct archive_entry *e;
      int r = archive_read_next_header (a, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        {
          const char *msg = archive_error_string (a);
          return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s%s%s%s", label,
                                   msg ? msg : "corrupt archive", last ? " (after entry '" : "",
                                   last ? last : "", last ? "')" : "");
        }
      const char *path = archive_entry_pathname_utf8 (e);
      if (!path)
        path = archive_entry_pathname (e);
      g_free (last);
      last = cairn_escape_name (path ? path : "", -1);
      imp->stats.entries++;
      if (!path || !apply_entry (imp, a, e, path, oci_whiteouts, error))
        {
          if (!path)
            cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "entry without a name");
          return cairn_prefix_error (error, "%s: entry '%s'", label, last);
        }
      if (g_atomic_int_get (&imp->failed))
        break;
      if (imp->opts->progress && (n & 255) == 0)
        imp->opts->progress (imp->done_files, imp->done_bytes, imp->opts->progress_data);
    }
  if (g_atomic_int_get (&imp->failed))
    {
      drain_pool (imp);
      g_propagate_error (error, g_steal_pointer (&imp->error));
      return cairn_prefix_error (error, "%s", label);
    }
  return TRUE;
}

/* Replace every placeholder by its job's checksum. */
static gboolean
fill_tree (CairnTarImporter *imp, CairnMTree *t, GError **error)
{
  g_autoptr (GPtrArray) files = cairn_mtree_file_names (t);
  for (guint i = 0; i < files->len; i++)
    {
      char *slot = (char *)cairn_mtree_lookup_file (t, files->pdata[i]);
      if (slot[0] != PLACEHOLDER)
        continue;
      guint64 idx = g_ascii_strtoull (slot + 1, NULL, 10);
      Result *r = idx < imp->results->len ? imp->results->pdata[idx] : NULL;
      if (!r || r->csum[0] == '\0')
        return cairn_throw (error, "internal error: no object for '%s'", (char *)files->pdata[i]);
      memcpy (slot, r->csum, 65);
    }
  g_autoptr (GPtrArray) dirs = cairn_mtree_dir_names (t);
  for (guint i = 0; i < dirs->len; i++)
    if (!fill_tree (imp, cairn_mtree_lookup_dir (t, dirs->pdata[i]), error))
      return FALSE;
  return TRUE;
}

gboolean
cairn_tar_importer_finish (CairnTarImporter *imp, GError **error)
{
  drain_pool (imp);
  if (imp->error)
    {
      g_propagate_error (error, g_steal_pointer (&imp->error));
      return FALSE;
    }
  if (!imp->root_meta_set && !cairn_mtree_get_metadata_checksum (imp->root)
      && !set_default_dirmeta (imp, imp->root, error))
    return FALSE;
  if (imp->opts->progress)
    imp->opts->progress (imp->done_files, imp->done_bytes, imp->opts->progress_data);
  return fill_tree (imp, imp->root, error);
}

/* ---- committing ---------------------------------------------------------------- */

/* The tar file is read through this callback: libarchive does not check
 * the gzip CRC-32 (a corrupted stored block decodes "fine"), so gzip input
 * is also inflated here, only to let zlib verify every member's trailer. */
typedef struct
{
  int fd;
  guint8 *buf, *scratch;
  gboolean sniffed, gzip, member_done, bad, ignore_rest;
  gboolean seekable; /* a regular file */
  z_stream zs;
} TarSource;

/* libarchive skips entry data it does not read (the direct path's, the
 * data of entries it discards): seek over it in an uncompressed regular
 * file; anything else (gzip: its CRC needs every byte) is read through. */
static la_int64_t
tar_source_skip (struct archive *a, void *data, la_int64_t request)
{
  TarSource *s = data;
  if (!s->seekable || !s->sniffed || s->gzip || request <= 0)
    return 0;
  /* Never past the end: lseek would succeed there, and a tarball cut inside
   * an entry's data or padding would then read as a clean end of archive.
   * A short skip makes libarchive read the rest, and see the truncation. */
  struct stat st;
  off_t pos = lseek (s->fd, 0, SEEK_CUR);
  if (pos < 0 || fstat (s->fd, &st) < 0 || st.st_size <= pos)
    return 0;
  la_int64_t n = MIN (request, (la_int64_t)(st.st_size - pos));
  if (lseek (s->fd, n, SEEK_CUR) < 0)
    return 0;
  return n;
}

static void
gzip_check (TarSource *s, const guint8 *p, gsize n)
{
  s->zs.next_in = (guint8 *)p;
  s->zs.avail_in = n;
  while (s->zs.avail_in > 0 && !s->bad && !s->ignore_rest)
    {
      if (s->member_done)
        {
          if (s->zs.avail_in >= 2 && (s->zs.next_in[0] != 0x1f || s->zs.next_in[1] != 0x8b))
            {
              s->ignore_rest = TRUE; /* trailing padding after the last member */
              break;
            }
          inflateReset (&s->zs);
          s->member_done = FALSE;
        }
      s->zs.next_out = s->scratch;
      s->zs.avail_out = 65536;
      int r = inflate (&s->zs, Z_NO_FLUSH);
      if (r == Z_STREAM_END)
        s->member_done = TRUE;
      else if (r != Z_OK && r != Z_BUF_ERROR)
        s->bad = TRUE;
      else if (r == Z_BUF_ERROR)
        break;
    }
}

static la_ssize_t
tar_source_read (struct archive *a, void *data, const void **out_buf)
{
  TarSource *s = data;
  la_ssize_t r;
  do
    r = read (s->fd, s->buf, 1 << 20);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    {
      archive_set_error (a, errno, "read failed");
      return ARCHIVE_FATAL;
    }
  if (!s->sniffed && r > 0)
    {
      s->sniffed = TRUE;
      s->gzip = r >= 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b;
      if (s->gzip)
        {
          s->scratch = g_malloc (65536);
          if (inflateInit2 (&s->zs, 15 + 16) != Z_OK)
            s->bad = TRUE;
        }
    }
  if (s->gzip && r > 0)
    gzip_check (s, s->buf, r);
  *out_buf = s->buf;
  return r;
}

/* After the archive's end: read the rest, then the gzip verdict. */
static gboolean
tar_source_finish (TarSource *s, const char *file, GError **error)
{
  const void *b;
  struct archive *dummy = archive_read_new ();
  la_ssize_t r;
  while ((r = tar_source_read (dummy, s, &b)) > 0)
    ;
  archive_read_free (dummy);
  if (r < 0)
    return cairn_throw_errno (error, "%s: read", file);
  if (s->gzip && (s->bad || !s->member_done))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: corrupt gzip data (bad CRC or truncated stream)", file);
  return TRUE;
}

static void
tar_source_clear (TarSource *s)
{
  if (s->gzip)
    inflateEnd (&s->zs);
  g_free (s->buf);
  g_free (s->scratch);
  cairn_close_fdp (&s->fd);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TarSource, tar_source_clear)

static gboolean
open_source (const char *file, int *out_fd, GError **error)
{
  if (strcmp (file, "-") == 0)
    {
      *out_fd = dup (STDIN_FILENO);
      return *out_fd >= 0 || cairn_throw_errno (error, "stdin");
    }
  return cairn_openat_rdonly (AT_FDCWD, file, TRUE, out_fd, error);
}

gboolean
cairn_repo_import_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                       char **out_checksum, CairnTxnStats *out_txn_stats,
                       CairnImportStats *out_stats, GError **error)
{
  if (opts->branch && !cairn_validate_ref_name (opts->branch, error))
    return FALSE;
  g_autofree char *parent = NULL;
  if (!cairn_commit_options_resolve_parent (repo, opts, &parent, error))
    return FALSE;
  g_auto (TarSource) src = { .fd = -1 };
  if (!open_source (file, &src.fd, error))
    return FALSE;
  src.buf = g_malloc (1 << 20);
  struct stat st;
  src.seekable = fstat (src.fd, &st) == 0 && S_ISREG (st.st_mode)
                 && g_getenv ("CAIRN_TAR_NO_DIRECT") == NULL;
  g_autoptr (CairnArchive) a = cairn_tar_reader_new ();
  if (archive_read_open2 (a, &src, NULL, tar_source_read, tar_source_skip, NULL) != ARCHIVE_OK)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", file,
                             archive_error_string (a));
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, error);
  if (!txn)
    return FALSE;
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  g_autoptr (CairnTarImporter) imp = cairn_tar_importer_new (repo, txn, opts, tree);
  if (src.seekable)
    {
      /* Read only by pread (no position): shared with the reader. */
      imp->direct_fd = src.fd;
      imp->direct_size = st.st_size;
    }
  const char *label = strcmp (file, "-") == 0 ? "stdin" : file;
  gboolean ok = cairn_tar_importer_apply (imp, a, FALSE, label, error);
  /* A worker's failure (it names the entry) surfaces here: name the tarball. */
  if (ok && !cairn_tar_importer_finish (imp, error))
    ok = cairn_prefix_error (error, "%s", label);
  if (!ok)
    {
      /* Garbage entries are often the symptom of a corrupt gzip stream:
       * when the stream is corrupt, say so (the root cause) whatever entry
       * the garbage happened to produce first. */
      g_autoptr (GError) gz = NULL;
      if (src.gzip && !tar_source_finish (&src, file, &gz)
          && g_error_matches (gz, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
        {
          g_clear_error (error);
          g_propagate_error (error, g_steal_pointer (&gz));
        }
      return FALSE;
    }
  if (!tar_source_finish (&src, file, error))
    return FALSE;
  if (archive_read_close (a) != ARCHIVE_OK)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", file,
                             archive_error_string (a));
  g_autofree char *commit = NULL;
  if (!cairn_txn_finish_commit (txn, opts, parent, tree, &commit, error))
    return FALSE;
  if (out_txn_stats)
    cairn_txn_get_stats (txn, out_txn_stats);
  if (out_stats)
    cairn_tar_importer_get_stats (imp, out_stats);
  *out_checksum = g_steal_pointer (&commit);
  return TRUE;
}

gboolean
cairn_repo_commit_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                       char **out_checksum, CairnTxnStats *out_stats, GError **error)
{
  return cairn_repo_import_tar (repo, file, opts, out_checksum, out_stats, NULL, error);
}
