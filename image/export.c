/* Export a commit's tree as a tar stream.
 *
 * Entries come out in a stable order: a directory, then its files in
 * dirtree order (sorted by name), then its subdirectories, depth first; the
 * root is "./" and every other path is "./a/b" (what `tar -C dir -c .`
 * writes). Owners are numeric, every entry's mtime is the commit timestamp,
 * xattrs go into pax SCHILY.xattr records. A regular file whose content
 * checksum was already written (same content *and* uid/gid/mode/xattrs,
 * since the checksum covers them) is written as a hardlink to the first
 * path: re-importing gives the same tree, and the tar is smaller.
 *
 * Contents are loaded by a small pool of threads ahead of the writer (in
 * archive repos loading means inflating), in a bounded window, while the
 * main thread writes entries strictly in order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/cairn-store-lowlevel.h"
#include "image/image-private.h"
#include <string.h>

#define WINDOW 256             /* entries loaded ahead at most */
#define PRELOAD_MAX (1u << 20) /* files larger than this are streamed */
#define COPY_BUF (256u << 10)

typedef struct
{
  char *path;     /* "./a/b" */
  char *checksum; /* content or dirmeta checksum */
  gboolean is_dir;
  gboolean is_whiteout; /* an OCI whiteout (image layers): an empty file */
  const char *link_to;  /* hardlink target path (borrowed from an earlier item) */
  /* Filled by a loader: */
  CairnFileInfo fi;
  GBytes *data; /* preloaded content (small files) */
  int fd;       /* large files: content fd */
  GError *error;
  gboolean ready;
} Item;

typedef struct
{
  CairnRepo *repo;
  GPtrArray *items; /* Item* in output order */
  GMutex lock;
  GCond cond;
  guint64 timestamp;
} Export;

static void
item_free (Item *it)
{
  g_free (it->path);
  g_free (it->checksum);
  cairn_file_info_clear (&it->fi);
  g_clear_pointer (&it->data, g_bytes_unref);
  cairn_close_fdp (&it->fd);
  g_clear_error (&it->error);
  g_free (it);
}

static Item *
item_new (const char *path, const char *checksum, gboolean is_dir)
{
  Item *it = g_new0 (Item, 1);
  it->path = g_strdup (path);
  it->checksum = g_strdup (checksum);
  it->is_dir = is_dir;
  it->fd = -1;
  return it;
}

/* Flatten the tree into items in output order. */
static gboolean
collect (Export *ex, const char *path, const char *dirtree, const char *dirmeta,
         GHashTable *first_paths, GError **error)
{
  g_autoptr (GVariant) tree
      = cairn_repo_load_variant (ex->repo, CAIRN_OBJECT_DIR_TREE, dirtree, error);
  if (!tree)
    return FALSE;
  g_ptr_array_add (ex->items, item_new (path, dirmeta, TRUE));
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c);
      g_autofree char *hex = cairn_checksum_from_variant (c);
      if (!hex || !cairn_validate_filename (name, -1, error))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      g_autofree char *p = g_strconcat (path, strcmp (path, "./") == 0 ? "" : "/", name, NULL);
      Item *it = item_new (p, hex, FALSE);
      if (first_paths)
        {
          const char *first = g_hash_table_lookup (first_paths, hex);
          if (first)
            it->link_to = first;
          else
            g_hash_table_insert (first_paths, it->checksum, it->path);
        }
      g_ptr_array_add (ex->items, it);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *h1 = cairn_checksum_from_variant (c1);
      g_autofree char *h2 = cairn_checksum_from_variant (c2);
      if (!h1 || !h2 || !cairn_validate_filename (name, -1, error))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      g_autofree char *p = g_strconcat (path, strcmp (path, "./") == 0 ? "" : "/", name, NULL);
      if (!collect (ex, p, h1, h2, first_paths, error))
        return FALSE;
    }
  return TRUE;
}

/* Load one item's metadata (and small content). Runs in the pool. */
static void
load_item (gpointer data, gpointer user_data)
{
  Item *it = data;
  Export *ex = user_data;
  GError *error = NULL;
  if (it->is_whiteout)
    {
      it->fi.mode = S_IFREG | 0644;
      it->data = g_bytes_new_static ("", 0);
    }
  else if (it->is_dir)
    {
      g_autoptr (GVariant) meta
          = cairn_repo_load_variant (ex->repo, CAIRN_OBJECT_DIR_META, it->checksum, &error);
      if (meta)
        cairn_dirmeta_parse (meta, &it->fi.uid, &it->fi.gid, &it->fi.mode, &it->fi.xattrs, &error);
    }
  else if (it->link_to)
    cairn_repo_load_file (ex->repo, it->checksum, NULL, &it->fi, &error);
  else
    {
      cairn_autofd fd = -1;
      if (cairn_repo_load_file (ex->repo, it->checksum, &fd, &it->fi, &error)
          && S_ISREG (it->fi.mode))
        {
          if (it->fi.size <= PRELOAD_MAX)
            it->data = cairn_fd_read_all (fd, PRELOAD_MAX + 1, &error);
          else
            it->fd = cairn_steal_fd (&fd);
        }
    }
  g_mutex_lock (&ex->lock);
  it->error = error;
  it->ready = TRUE;
  g_cond_broadcast (&ex->cond);
  g_mutex_unlock (&ex->lock);
}

static void
add_xattrs (struct archive_entry *e, GVariant *xattrs)
{
  if (!xattrs)
    return;
  GVariantIter iter;
  g_autoptr (GVariant) name = NULL, value = NULL;
  g_variant_iter_init (&iter, xattrs);
  while (g_variant_iter_loop (&iter, "(@ay@ay)", &name, &value))
    {
      gsize len;
      const void *v = g_variant_get_fixed_array (value, &len, 1);
      archive_entry_xattr_add_entry (e, g_variant_get_bytestring (name), v, len);
    }
}

/* libarchive reports a failed write(2) as just "Write error", with the
 * errno in archive_errno(): say what failed ("no space left", ...). */
static gboolean
throw_archive (struct archive *a, GError **error)
{
  const char *msg = archive_error_string (a);
  int e = archive_errno (a);
  if (e > 0 && (!msg || strcmp (msg, "Write error") == 0))
    return cairn_throw_errno_value (error, e, "write");
  return cairn_throw (error, "%s", msg ? msg : "archive error");
}

static gboolean
write_data (struct archive *a, Item *it, GError **error)
{
  if (it->data)
    {
      gsize len;
      const void *p = g_bytes_get_data (it->data, &len);
      if (len && archive_write_data (a, p, len) < 0)
        return throw_archive (a, error);
      return TRUE;
    }
  g_autofree guint8 *buf = g_malloc (COPY_BUF);
  guint64 left = it->fi.size;
  while (left > 0)
    {
      ssize_t r = read (it->fd, buf, MIN (left, COPY_BUF));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return cairn_throw_errno (error, "read");
      if (r == 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "object %s is truncated",
                                 it->checksum);
      if (archive_write_data (a, buf, r) < 0)
        return throw_archive (a, error);
      left -= r;
    }
  return TRUE;
}

static gboolean
write_item (Export *ex, struct archive *a, struct archive_entry *e, Item *it, GError **error)
{
  archive_entry_clear (e);
  archive_entry_set_pathname_utf8 (e, it->path);
  archive_entry_set_mtime (e, ex->timestamp, 0);
  archive_entry_set_uid (e, it->fi.uid);
  archive_entry_set_gid (e, it->fi.gid);
  archive_entry_set_mode (e, it->fi.mode);
  if (it->link_to)
    {
      archive_entry_set_hardlink_utf8 (e, it->link_to);
      archive_entry_set_size (e, 0);
    }
  else
    {
      add_xattrs (e, it->fi.xattrs);
      if (S_ISLNK (it->fi.mode))
        archive_entry_set_symlink_utf8 (e, it->fi.symlink_target);
      archive_entry_set_size (e, S_ISREG (it->fi.mode) ? (la_int64_t)it->fi.size : 0);
    }
  if (archive_write_header (a, e) < ARCHIVE_WARN)
    return throw_archive (a, error);
  if (!it->is_dir && !it->link_to && S_ISREG (it->fi.mode) && !write_data (a, it, error))
    return FALSE;
  return TRUE;
}

/* Where the tar goes when it is an image layer: through a compressor that
 * also computes the digests. */
typedef struct
{
  CairnCompressor *out;
  GError *error;
} LayerSink;

static la_ssize_t
layer_sink_write (struct archive *a, void *data, const void *buf, size_t len)
{
  LayerSink *ls = data;
  if (ls->error)
    return -1;
  if (!_cairn_compressor_write (ls->out, buf, len, &ls->error))
    {
      archive_set_error (a, EIO, "%s", ls->error->message);
      return -1;
    }
  return len;
}

static gboolean
setup_writer (struct archive *a, const CairnExportOptions *opts, int fd, LayerSink *ls,
              GError **error)
{
  int r = archive_write_set_format_pax_restricted (a);
  if (r == ARCHIVE_OK)
    {
      if (opts->compress == CAIRN_EXPORT_COMPRESS_GZIP)
        r = archive_write_add_filter_gzip (a);
      else if (opts->compress == CAIRN_EXPORT_COMPRESS_ZSTD)
        r = archive_write_add_filter_zstd (a);
      else if (opts->compress == CAIRN_EXPORT_COMPRESS_XZ)
        r = archive_write_add_filter_xz (a);
    }
  /* One xattr record kind only (GNU tar's): with both SCHILY and LIBARCHIVE
   * records, libarchive-based readers (ostree) see every xattr twice. */
  if (r == ARCHIVE_OK)
    r = archive_write_set_option (a, "pax", "xattrheader", "SCHILY");
  if (r == ARCHIVE_OK)
    r = archive_write_set_bytes_per_block (a, 64 * 1024);
  if (r == ARCHIVE_OK)
    r = archive_write_set_bytes_in_last_block (a, 1);
  if (r == ARCHIVE_OK)
    r = ls ? archive_write_open2 (a, ls, NULL, layer_sink_write, NULL, NULL)
           : archive_write_open_fd (a, fd);
  if (r != ARCHIVE_OK)
    return throw_archive (a, error);
  return TRUE;
}

/* Write the items in order while the pool loads ahead. */
static gboolean
write_all (Export *ex, struct archive *a, const CairnExportOptions *opts, GError **error)
{
  guint n = MAX (g_get_num_processors (), 2);
  GThreadPool *pool = g_thread_pool_new (load_item, ex, n, FALSE, NULL);
  guint pushed = 0;
  gboolean ok = TRUE;
  struct archive_entry *e = archive_entry_new ();
  guint64 bytes = 0;
  for (guint i = 0; ok && i < ex->items->len; i++)
    {
      for (; pushed < ex->items->len && pushed < i + WINDOW; pushed++)
        g_thread_pool_push (pool, ex->items->pdata[pushed], NULL);
      Item *it = ex->items->pdata[i];
      g_mutex_lock (&ex->lock);
      while (!it->ready)
        g_cond_wait (&ex->cond, &ex->lock);
      g_mutex_unlock (&ex->lock);
      if (it->error)
        {
          g_propagate_error (error, g_steal_pointer (&it->error));
          ok = cairn_prefix_error (error, "%s", it->path);
          break;
        }
      ok = write_item (ex, a, e, it, error);
      if (!ok)
        cairn_prefix_error (error, "writing '%s'", it->path);
      bytes += it->fi.size;
      /* Free as we go: memory stays bounded by the window. */
      cairn_file_info_clear (&it->fi);
      g_clear_pointer (&it->data, g_bytes_unref);
      cairn_close_fdp (&it->fd);
      if (opts->progress && (i & 255) == 0)
        opts->progress (i, bytes, opts->progress_data);
    }
  archive_entry_free (e);
  g_thread_pool_free (pool, !ok, TRUE);
  return ok;
}

static gboolean
export_root (CairnRepo *repo, const CairnCommit *c, const char *subpath, const char *commit,
             Export *ex, GHashTable *first_paths, GError **error)
{
  if (!subpath || strcmp (subpath, "/") == 0 || !*subpath)
    return collect (ex, "./", c->root_tree, c->root_meta, first_paths, error);
  g_auto (CairnPathEntry) pe = { 0 };
  if (!cairn_repo_lookup_path (repo, commit, subpath, &pe, error))
    return FALSE;
  if (pe.is_dir)
    return collect (ex, "./", pe.dirtree, pe.dirmeta, first_paths, error);
  g_autofree char *base = g_path_get_basename (subpath);
  g_autofree char *p = g_strconcat ("./", base, NULL);
  g_ptr_array_add (ex->items, item_new (p, pe.file, FALSE));
  return TRUE;
}

gboolean
cairn_repo_export (CairnRepo *repo, const char *rev, int out_fd, const CairnExportOptions *opts,
                   GError **error)
{
  g_autofree char *commit = cairn_repo_resolve_rev (repo, rev, FALSE, error);
  if (!commit)
    return FALSE;
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  Export ex = { .repo = repo, .timestamp = c.timestamp };
  ex.items = g_ptr_array_new_with_free_func ((GDestroyNotify)item_free);
  g_mutex_init (&ex.lock);
  g_cond_init (&ex.cond);
  g_autoptr (GHashTable) first_paths
      = opts->no_hardlinks ? NULL : g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (CairnArchive) a = archive_write_new ();
  gboolean ok = export_root (repo, &c, opts->subpath, commit, &ex, first_paths, error)
                && setup_writer (a, opts, out_fd, NULL, error) && write_all (&ex, a, opts, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = throw_archive (a, error);
  g_ptr_array_unref (ex.items);
  g_mutex_clear (&ex.lock);
  g_cond_clear (&ex.cond);
  if (!ok)
    return cairn_prefix_error (error, "exporting %s", rev);
  return TRUE;
}

/* ---- image layers ------------------------------------------------------------------ */

static char *
join_path (const char *path, const char *name)
{
  return g_strconcat (path, strcmp (path, "./") == 0 ? "" : "/", name, NULL);
}

/* A dirtree's entries: name -> checksum (files) and name -> "tree meta" (dirs). */
static gboolean
tree_entries (CairnRepo *repo, const char *dirtree, GHashTable **out_files, GHashTable **out_dirs,
              GError **error)
{
  g_autoptr (GVariant) tree = cairn_repo_load_variant (repo, CAIRN_OBJECT_DIR_TREE, dirtree, error);
  if (!tree)
    return FALSE;
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GVariant) fv = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dv = g_variant_get_child_value (tree, 1);
  for (gsize i = 0; i < g_variant_n_children (fv); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (fv, i, "(&s@ay)", &name, &c);
      char *hex = cairn_checksum_from_variant (c);
      if (!hex)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      g_hash_table_insert (files, g_strdup (name), hex);
    }
  for (gsize i = 0; i < g_variant_n_children (dv); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dv, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *h1 = cairn_checksum_from_variant (c1);
      g_autofree char *h2 = cairn_checksum_from_variant (c2);
      if (!h1 || !h2)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      g_hash_table_insert (dirs, g_strdup (name), g_strconcat (h1, " ", h2, NULL));
    }
  *out_files = g_steal_pointer (&files);
  *out_dirs = g_steal_pointer (&dirs);
  return TRUE;
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *
sorted_names (GHashTable *h)
{
  GPtrArray *a = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, h);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (a, k);
  g_ptr_array_sort (a, cmp_names);
  return a;
}

/* The whiteouts of a directory that changed: every name of the base that
 * is gone or changed between file and directory. They come right after
 * the directory's own entry and before anything of the same name, so that
 * a reader applying entries in order (not only OCI's "whiteouts hide the
 * lower layers" rule) ends with the new entry. */
static void
add_whiteouts (Export *ex, const char *path, GHashTable *bf, GHashTable *bd, GHashTable *nf,
               GHashTable *nd)
{
  g_autoptr (GHashTable) gone = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, bf);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (nf, k))
      g_hash_table_add (gone, k);
  g_hash_table_iter_init (&it, bd);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (nd, k))
      g_hash_table_add (gone, k);
  g_autoptr (GPtrArray) names = sorted_names (gone);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *wh = g_strconcat (".wh.", (char *)names->pdata[i], NULL);
      g_autofree char *p = join_path (path, wh);
      Item *item = item_new (p, NULL, FALSE);
      item->is_whiteout = TRUE;
      g_ptr_array_add (ex->items, item);
    }
}

/* The entries that take @base's directory to @dirtree's: the directory
 * itself, whiteouts, new or changed files, and the subdirectories that
 * differ (walked the same way, or whole when they are new). */
static gboolean
collect_diff (Export *ex, const char *path, const char *base_tree, const char *dirtree,
              const char *dirmeta, GHashTable *first_paths, GError **error)
{
  g_autoptr (GHashTable) bf = NULL, bd = NULL, nf = NULL, nd = NULL;
  if (!tree_entries (ex->repo, base_tree, &bf, &bd, error)
      || !tree_entries (ex->repo, dirtree, &nf, &nd, error))
    return FALSE;
  g_ptr_array_add (ex->items, item_new (path, dirmeta, TRUE));
  add_whiteouts (ex, path, bf, bd, nf, nd);
  g_autoptr (GPtrArray) files = sorted_names (nf);
  for (guint i = 0; i < files->len; i++)
    {
      const char *name = files->pdata[i];
      const char *csum = g_hash_table_lookup (nf, name);
      if (g_strcmp0 (g_hash_table_lookup (bf, name), csum) == 0)
        continue;
      g_autofree char *p = join_path (path, name);
      Item *it = item_new (p, csum, FALSE);
      const char *first = first_paths ? g_hash_table_lookup (first_paths, csum) : NULL;
      if (first)
        it->link_to = first;
      else if (first_paths)
        g_hash_table_insert (first_paths, it->checksum, it->path);
      g_ptr_array_add (ex->items, it);
    }
  g_autoptr (GPtrArray) dirs = sorted_names (nd);
  for (guint i = 0; i < dirs->len; i++)
    {
      const char *name = dirs->pdata[i];
      const char *now = g_hash_table_lookup (nd, name), *before = g_hash_table_lookup (bd, name);
      if (g_strcmp0 (now, before) == 0)
        continue;
      g_autofree char *p = join_path (path, name);
      g_auto (GStrv) n = g_strsplit (now, " ", 2);
      g_auto (GStrv) b = before ? g_strsplit (before, " ", 2) : NULL;
      if (!(b ? collect_diff (ex, p, b[0], n[0], n[1], first_paths, error)
              : collect (ex, p, n[0], n[1], first_paths, error)))
        return FALSE;
    }
  return TRUE;
}

gboolean
_cairn_export_layer (CairnRepo *repo, const char *commit, const char *base, CairnCompressor *out,
                     GError **error)
{
  g_auto (CairnCommit) c = { 0 }, bc = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error)
      || (base && !cairn_repo_load_commit (repo, base, &bc, error)))
    return FALSE;
  Export ex = { .repo = repo, .timestamp = c.timestamp };
  ex.items = g_ptr_array_new_with_free_func ((GDestroyNotify)item_free);
  g_mutex_init (&ex.lock);
  g_cond_init (&ex.cond);
  g_autoptr (GHashTable) first_paths = g_hash_table_new (g_str_hash, g_str_equal);
  CairnExportOptions opts = { .compress = CAIRN_EXPORT_COMPRESS_NONE };
  LayerSink ls = { .out = out };
  g_autoptr (CairnArchive) a = archive_write_new ();
  gboolean ok
      = base ? collect_diff (&ex, "./", bc.root_tree, c.root_tree, c.root_meta, first_paths, error)
             : collect (&ex, "./", c.root_tree, c.root_meta, first_paths, error);
  ok = ok && setup_writer (a, &opts, -1, &ls, error) && write_all (&ex, a, &opts, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = throw_archive (a, error);
  if (!ok && ls.error && error && *error)
    {
      /* the compressor's own error says more than libarchive's copy */
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&ls.error));
    }
  g_clear_error (&ls.error);
  g_ptr_array_unref (ex.items);
  g_mutex_clear (&ex.lock);
  g_cond_clear (&ex.cond);
  if (!ok)
    return cairn_prefix_error (error, "layer of commit %s", commit);
  return TRUE;
}
