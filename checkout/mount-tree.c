/* The FUSE view's tree (checkout/mount.c describes the whole): nodes for
 * directories and file objects, loaded from dirtree, dirmeta and file
 * objects that are re-hashed and validated first, and their inode numbers.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "checkout/mount-fs.h"
#include <fcntl.h>
#include <string.h>

/* ---- small helpers --------------------------------------------------------------- */

guint
mount_csum_hash (gconstpointer p)
{
  guint h;
  memcpy (&h, p, sizeof h);
  return h;
}

gboolean
mount_csum_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 32) == 0;
}

guint64
mount_file_ino (const guint8 *csum)
{
  guint64 v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | csum[i];
  return v | FILE_INO_BIT;
}

static guint64
fnv1a (guint64 h, const void *data, gsize len)
{
  const guint8 *p = data;
  for (gsize i = 0; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

guint64
mount_dir_ino (guint64 parent_ino, const char *name, const guint8 *tree, const guint8 *meta)
{
  guint64 h = 0xcbf29ce484222325ull;
  h = fnv1a (h, &parent_ino, sizeof parent_ino);
  h = fnv1a (h, name, strlen (name) + 1);
  h = fnv1a (h, tree, 32);
  h = fnv1a (h, meta, 32);
  h &= ~FILE_INO_BIT;
  return h < 2 ? h + 2 : h;
}

/* One line per broken object and mount: a damaged tree read by `tar` must
 * not flood the log. */
void
mount_report (CairnMount *m, const char *object, const GError *error)
{
  if (!m->opts.log)
    return;
  g_mutex_lock (&m->lock);
  gboolean first = g_hash_table_add (m->logged, g_strdup (object));
  g_mutex_unlock (&m->lock);
  if (!first)
    return;
  g_autofree char *msg = g_strdup_printf ("%s: object %s: %s", m->commit, object,
                                          error ? error->message : "unknown error");
  m->opts.log (msg, m->opts.log_data);
}

static gboolean
check_hash (const char *hex, const void *data, gsize len, const char *what, GError **error)
{
  g_autofree char *got = cairn_checksum_bytes (data, len);
  if (strcmp (got, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted %s object %s (checksum %s)",
                             what, hex, got);
  return TRUE;
}

static GVariant *
load_meta_object (CairnMount *m, CairnObjectType type, const char *hex, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (m->repo, type, hex, error);
  if (!v
      || !check_hash (hex, g_variant_get_data (v), g_variant_get_size (v),
                      cairn_object_type_to_string (type), error))
    return NULL;
  return g_steal_pointer (&v);
}

/* ---- directories ----------------------------------------------------------------- */

void
mount_dirmeta_free (gpointer p)
{
  DirMeta *d = p;
  g_clear_pointer (&d->xattrs, g_variant_unref);
  g_free (d);
}

/* Parsed dirmetas are shared: most trees use a handful. */
static DirMeta *
get_dirmeta (CairnMount *m, const char *hex, GError **error)
{
  g_mutex_lock (&m->lock);
  DirMeta *d = g_hash_table_lookup (m->dirmetas, hex);
  g_mutex_unlock (&m->lock);
  if (d)
    return d;
  g_autoptr (GVariant) v = load_meta_object (m, CAIRN_OBJECT_DIR_META, hex, error);
  DirMeta tmp = { 0 };
  if (!v || !cairn_dirmeta_parse (v, &tmp.uid, &tmp.gid, &tmp.mode, &tmp.xattrs, error))
    return NULL;
  if (!tmp.xattrs)
    tmp.xattrs = cairn_xattrs_empty ();
  /* As `cairn checkout` (docs/format.md §13.2): no world-write or setuid dirs from a
   * bare-user-only repository. */
  if (m->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    tmp.mode &= ~(guint32)07002;
  g_mutex_lock (&m->lock);
  d = g_hash_table_lookup (m->dirmetas, hex);
  if (!d)
    {
      d = g_memdup2 (&tmp, sizeof tmp);
      g_hash_table_insert (m->dirmetas, g_strdup (hex), d);
    }
  else
    g_variant_unref (tmp.xattrs);
  g_mutex_unlock (&m->lock);
  return d;
}

static gboolean
add_entries (GVariant *list, gboolean dirs, GArray *out, GError **error)
{
  gsize n = g_variant_n_children (list);
  for (gsize i = 0; i < n; i++)
    {
      Entry e = { 0 };
      g_autoptr (GVariant) c = NULL, t = NULL;
      if (dirs)
        g_variant_get_child (list, i, "(&s@ay@ay)", &e.name, &c, &t);
      else
        g_variant_get_child (list, i, "(&s@ay)", &e.name, &c);
      gsize cl = 0, tl = 0;
      /* The children share the dirtree's buffer: the pointers stay valid
       * while the Node holds the dirtree. */
      e.csum = g_variant_get_fixed_array (c, &cl, 1);
      if (t)
        e.meta = g_variant_get_fixed_array (t, &tl, 1);
      if (!cairn_validate_filename (e.name, -1, error))
        return cairn_prefix_error (error, "dirtree entry");
      if (cl != 32 || (dirs && tl != 32))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "entry '%s' has a bad checksum",
                                 e.name);
      g_array_append_val (out, e);
    }
  return TRUE;
}

static int
entry_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Entry *)a)->name, ((const Entry *)b)->name);
}

/* Parse a dirtree into one sorted Entry array. Each list must already be
 * sorted (docs/format.md §7.2); merged, no name may repeat. */
static gboolean
parse_dirtree (GVariant *tree, guint64 self_ino, Entry **out, guint *out_n, GError **error)
{
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  g_autoptr (GArray) a = g_array_new (FALSE, TRUE, sizeof (Entry));
  if (!add_entries (files, FALSE, a, error))
    return FALSE;
  guint nf = a->len;
  if (!add_entries (dirs, TRUE, a, error))
    return FALSE;
  for (guint i = 1; i < a->len; i++)
    if (i != nf && entry_cmp (&g_array_index (a, Entry, i - 1), &g_array_index (a, Entry, i)) >= 0)
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree not sorted at '%s'",
                               g_array_index (a, Entry, i).name);
  g_array_sort (a, entry_cmp);
  for (guint i = 0; i < a->len; i++)
    {
      Entry *e = &g_array_index (a, Entry, i);
      if (i > 0 && entry_cmp (e - 1, e) == 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree names '%s' twice",
                                 e->name);
      if (e->meta)
        e->ino = mount_dir_ino (self_ino, e->name, e->csum, e->meta);
    }
  *out_n = a->len;
  *out = (Entry *)g_array_free (g_steal_pointer (&a), FALSE);
  return TRUE;
}

gboolean
mount_load_dir (CairnMount *m, Node *n, GError **error)
{
  char tree_hex[65], meta_hex[65];
  cairn_checksum_to_hex (n->csum, tree_hex);
  cairn_checksum_to_hex (n->meta, meta_hex);
  DirMeta *dm = get_dirmeta (m, meta_hex, error);
  if (!dm)
    return cairn_prefix_error (error, "%s.dirmeta", meta_hex);
  g_autoptr (GVariant) tree = load_meta_object (m, CAIRN_OBJECT_DIR_TREE, tree_hex, error);
  Entry *entries = NULL;
  guint n_entries = 0;
  if (!tree || !parse_dirtree (tree, n->ino, &entries, &n_entries, error))
    return cairn_prefix_error (error, "%s.dirtree", tree_hex);
  guint n_subdirs = 0;
  for (guint i = 0; i < n_entries; i++)
    n_subdirs += entries[i].meta != NULL;
  g_mutex_lock (&m->lock);
  if (!g_atomic_int_get (&n->loaded))
    {
      n->st.st_mode = S_IFDIR | (dm->mode & 07777);
      n->st.st_uid = dm->uid;
      n->st.st_gid = dm->gid;
      n->st.st_nlink = 2 + n_subdirs;
      n->st.st_size = 4096;
      n->xattrs = g_variant_ref (dm->xattrs);
      n->dirtree = g_steal_pointer (&tree);
      n->entries = g_steal_pointer (&entries);
      n->n_entries = n_entries;
      g_atomic_int_set (&n->loaded, 1);
    }
  g_mutex_unlock (&m->lock);
  g_free (entries);
  return TRUE;
}

/* ---- files ----------------------------------------------------------------------- */

/* bare: the object carries real xattrs; most have none, which one
 * listxattrat tells without opening it. */
static GVariant *
bare_xattrs (CairnMount *m, int dfd, const char *leaf, GError **error)
{
  if (m->repo->disable_xattrs)
    return cairn_xattrs_empty ();
  /* Without opening it (an open/close pair costs 5x a listxattrat on ext4). */
  ssize_t r = cairn_listxattrat (dfd, leaf, NULL, 0);
  if (r == 0 || (r < 0 && errno == EOPNOTSUPP))
    return cairn_xattrs_empty ();
  return cairn_xattrs_read_at (dfd, leaf, error);
}

/* Metadata without opening the object where the repo mode allows it; FALSE
 * with *out_done unset means "use cairn_repo_load_file". */
static gboolean
load_file_fast (CairnMount *m, const char *hex, CairnFileInfo *fi, gboolean *out_done,
                GError **error)
{
  CairnRepoMode mode = m->repo->mode;
  if (mode == CAIRN_REPO_MODE_ARCHIVE)
    return TRUE;
  int dfd = cairn_repo_objdir_fd (m->repo, hex, FALSE, NULL);
  g_autofree char *leaf = cairn_object_leaf (hex, CAIRN_OBJECT_FILE, mode);
  struct stat st;
  if (dfd < 0 || fstatat (dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.file is missing", hex);
  if (!S_ISREG (st.st_mode) && !(S_ISLNK (st.st_mode) && mode != CAIRN_REPO_MODE_BARE_USER))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.file: not a "
                             "regular file%s",
                             hex, mode != CAIRN_REPO_MODE_BARE_USER ? " or symlink" : "");
  if (mode == CAIRN_REPO_MODE_BARE_USER)
    {
      guint8 buf[4096];
      ssize_t n = cairn_getxattrat (dfd, leaf, "user.ostreemeta", buf, sizeof buf);
      if (n < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
        return cairn_throw_errno (error, "corrupted object %s.file: reading user.ostreemeta", hex);
      if (n < 0)
        return TRUE; /* no getxattrat, or a large value */
      if (!cairn_parse_ostreemeta (buf, n, fi, error))
        return cairn_prefix_error (error, "corrupted object %s.file", hex);
      if (S_ISLNK (fi->mode))
        {
          g_clear_pointer (&fi->xattrs, g_variant_unref);
          return TRUE; /* the target is the content: read by load_file */
        }
      fi->size = st.st_size;
      *out_done = TRUE;
      return TRUE;
    }
  fi->mode = st.st_mode;
  fi->size = S_ISREG (st.st_mode) ? st.st_size : 0;
  if (S_ISLNK (st.st_mode) && !(fi->symlink_target = cairn_readlinkat (dfd, leaf, error)))
    return FALSE;
  if (mode == CAIRN_REPO_MODE_BARE)
    {
      fi->uid = st.st_uid;
      fi->gid = st.st_gid;
      if (!(fi->xattrs = bare_xattrs (m, dfd, leaf, error)))
        return cairn_prefix_error (error, "object %s.file", hex);
    }
  else
    fi->xattrs = cairn_xattrs_empty ();
  *out_done = TRUE;
  return TRUE;
}

static gboolean
load_file (CairnMount *m, Node *n, GError **error)
{
  char hex[65];
  cairn_checksum_to_hex (n->csum, hex);
  g_auto (CairnFileInfo) fi = { 0 };
  gboolean done = FALSE;
  if (!load_file_fast (m, hex, &fi, &done, error))
    return FALSE;
  if (!done)
    {
      cairn_file_info_clear (&fi);
      memset (&fi, 0, sizeof fi);
      if (!cairn_repo_load_file (m->repo, hex, NULL, &fi, error))
        return FALSE;
    }
  if (!(S_ISREG (fi.mode) || S_ISLNK (fi.mode)) || (fi.mode & ~(S_IFMT | 07777))
      || (S_ISLNK (fi.mode) && !fi.symlink_target))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted object %s.file: mode 0%o",
                             hex, fi.mode);
  if (!fi.xattrs)
    fi.xattrs = cairn_xattrs_empty ();
  g_mutex_lock (&m->lock);
  if (!g_atomic_int_get (&n->loaded))
    {
      n->st.st_mode = fi.mode;
      n->st.st_uid = fi.uid;
      n->st.st_gid = fi.gid;
      n->st.st_nlink = 1;
      n->target = g_steal_pointer (&fi.symlink_target);
      n->st.st_size = n->target ? strlen (n->target) : fi.size;
      n->st.st_blocks = (n->st.st_size + 511) / 512;
      n->xattrs = g_steal_pointer (&fi.xattrs);
      g_atomic_int_set (&n->loaded, 1);
    }
  g_mutex_unlock (&m->lock);
  return TRUE;
}

/* The node's metadata, loading it on first use. FALSE (reported) on a
 * missing or corrupt object. */
gboolean
mount_node_ensure (CairnMount *m, Node *n)
{
  if (g_atomic_int_get (&n->loaded))
    return TRUE;
  g_autoptr (GError) local = NULL;
  gboolean ok = n->is_dir ? mount_load_dir (m, n, &local) : load_file (m, n, &local);
  if (!ok)
    {
      char hex[65];
      cairn_checksum_to_hex (n->csum, hex);
      g_autofree char *name = g_strdup_printf ("%s.%s", hex, n->is_dir ? "dirtree" : "file");
      mount_report (m, name, local);
    }
  return ok;
}

Node *
mount_node_new_dir (Node *parent, const guint8 *tree, const guint8 *meta, guint64 ino)
{
  Node *n = g_new0 (Node, 1);
  n->is_dir = TRUE;
  memcpy (n->csum, tree, 32);
  memcpy (n->meta, meta, 32);
  n->ino = ino;
  n->st.st_ino = ino;
  n->st.st_blksize = 4096;
  n->parent = parent ? parent : n;
  return n;
}

/* The Node of a directory entry (created on first use). */
Node *
mount_entry_node (CairnMount *m, Node *dir, Entry *e)
{
  g_mutex_lock (&m->lock);
  if (!e->node && e->meta)
    {
      e->node = mount_node_new_dir (dir, e->csum, e->meta, e->ino);
      g_ptr_array_add (m->dir_nodes, e->node);
    }
  else if (!e->node)
    {
      Node *f = g_hash_table_lookup (m->files, e->csum);
      if (!f)
        {
          f = g_new0 (Node, 1);
          memcpy (f->csum, e->csum, 32);
          f->ino = f->st.st_ino = mount_file_ino (e->csum);
          f->st.st_blksize = 4096;
          g_hash_table_insert (m->files, f->csum, f);
        }
      e->node = f;
    }
  Node *n = e->node;
  g_mutex_unlock (&m->lock);
  return n;
}

guint64
mount_node_id (CairnMount *m, Node *n)
{
  return n == m->root ? FUSE_ROOT_ID : (guint64)(uintptr_t)n;
}

/* Node ids come from the kernel, which only sends ids we gave it. */
Node *
mount_id_node (CairnMount *m, guint64 id)
{
  return id == FUSE_ROOT_ID ? m->root : (Node *)(uintptr_t)id;
}

Entry *
mount_find_entry (Node *dir, const char *name)
{
  guint lo = 0, hi = dir->n_entries;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int c = strcmp (name, dir->entries[mid].name);
      if (c == 0)
        return &dir->entries[mid];
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}
