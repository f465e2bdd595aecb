/* Image layers as trees of their own, and their merge into an image's tree.
 *
 * A layer pulled from a registry is imported on its own, exactly as its tar
 * says, into a commit of its own (the layer cache): whiteouts are kept as
 * empty files under their ".wh." names, and the directories that appear
 * only as parents of entries are listed in the commit metadata. The ref
 * refs/heads/cairn/oci/layers/sha256/HEX points at it, which keeps it from
 * prune and lets every later image that has the same layer skip both the
 * download and the import (docs/import-export.md, "The layer cache").
 * Layers being independent, they are imported in parallel, into one
 * transaction: the image's commit and its layers become durable together,
 * with one pair of syncfs() for the whole pull.
 *
 * The image's tree is then the merge of its layers in order, as OCI
 * image-spec layer.md defines it: ".wh.NAME" removes NAME as the lower
 * layers left it, ".wh..wh..opq" removes all of a directory's lower
 * contents, and everything the layer itself holds stays whatever its order
 * in the tar. A directory the layer names only as a parent keeps the lower
 * layer's metadata. A layer that puts entries below a lower layer's file or
 * symlink is refused, as the tar importer refuses writing through a symlink.
 * The merge works on stored dirtrees: a subtree only one layer has (and
 * that holds no whiteout) is reused by checksum, never read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <string.h>

#define OPAQUE ".wh..wh..opq"
#define WH_PREFIX ".wh."

char *
_cairn_layer_cache_lookup (CairnRepo *repo, const char *digest)
{
  g_autofree char *ref = _cairn_layer_ref (digest);
  if (!ref)
    return NULL;
  g_autofree char *commit = cairn_repo_read_ref (repo, NULL, ref, TRUE, NULL);
  if (!commit || cairn_repo_commit_is_partial (repo, commit)
      || !cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, commit))
    return NULL;
  return g_steal_pointer (&commit);
}

static GVariant *
layer_metadata (CairnTarImporter *imp, const char *digest, const char *diff_id)
{
  CairnImportStats st = { 0 };
  cairn_tar_importer_get_stats (imp, &st);
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", CAIRN_META_LAYER_DIGEST, g_variant_new_string (digest));
  if (diff_id)
    g_variant_builder_add (&b, "{sv}", CAIRN_META_LAYER_DIFF_ID, g_variant_new_string (diff_id));
  g_variant_builder_add (&b, "{sv}", CAIRN_META_LAYER_IMPLICIT,
                         _cairn_tar_importer_implicit_dirs (imp));
  g_variant_builder_add (&b, "{sv}", "cairn.oci.layer.whiteouts",
                         g_variant_new_uint64 (st.whiteouts));
  cairn_import_stats_clear (&st);
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

char *
_cairn_layer_ref (const char *digest)
{
  const char *hex = _cairn_digest_hex (digest, NULL);
  return hex ? g_strconcat (CAIRN_LAYER_REF_PREFIX, hex, NULL) : NULL;
}

gboolean
_cairn_layer_import (CairnTxn *txn, struct archive *a, const char *digest,
                     CairnLayerVerifyFunc verify, gpointer verify_data, guint n_threads,
                     char **out_commit, CairnImportStats *out_stats, GError **error)
{
  if (!_cairn_digest_hex (digest, error))
    return FALSE;
  g_autofree char *subject = g_strconcat ("OCI layer ", digest, NULL);
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  opts.subject = subject;
  opts.no_bindings = TRUE;
  /* The same blob gives the same commit on every machine. */
  opts.has_timestamp = TRUE;
  opts.timestamp = 0;
  opts.n_threads = n_threads;
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  g_autoptr (CairnTarImporter) imp
      = cairn_tar_importer_new (cairn_txn_get_repo (txn), txn, &opts, tree);
  _cairn_tar_importer_set_layer_mode (imp);
  g_autofree char *diff_id = NULL;
  g_autofree char *label = g_strconcat ("layer ", digest, NULL);
  if (!cairn_tar_importer_apply (imp, a, TRUE, label, error)
      || !verify (verify_data, &diff_id, error) || !cairn_tar_importer_finish (imp, error))
    return FALSE;
  g_autoptr (GVariant) meta = layer_metadata (imp, digest, diff_id);
  opts.extra_metadata = meta;
  g_autofree char *root = NULL, *commit = NULL;
  if (!cairn_txn_write_mtree (txn, tree, &root, error)
      || !cairn_txn_write_commit (txn, &opts, NULL, root, cairn_mtree_get_metadata_checksum (tree),
                                  &commit, error))
    return FALSE;
  if (out_stats)
    cairn_tar_importer_get_stats (imp, out_stats);
  *out_commit = g_steal_pointer (&commit);
  return TRUE;
}

/* ---- merge ------------------------------------------------------------------------ */

typedef struct
{
  char *tree, *meta;
} DirRef;

typedef struct
{
  GHashTable *implicit;  /* paths of the layer's implied directories */
  gboolean no_whiteouts; /* the layer holds none: its subtrees are reused as they are */
  GHashTable *wh_memo;   /* dirtree -> GINT_TO_POINTER(1 + has whiteouts) */
} Layer;

typedef struct
{
  CairnTxn *txn;
  CairnRepo *repo;
  Layer *layer;
} Merge;

/* One directory level being built: name -> file checksum / DirRef. */
typedef struct
{
  GHashTable *files;
  GHashTable *dirs;
} Level;

static void
dirref_free (DirRef *d)
{
  g_free (d->tree);
  g_free (d->meta);
  g_free (d);
}

static DirRef *
dirref_new (const char *tree, const char *meta)
{
  DirRef *d = g_new0 (DirRef, 1);
  d->tree = g_strdup (tree);
  d->meta = g_strdup (meta);
  return d;
}

static void
level_init (Level *l)
{
  l->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  l->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)dirref_free);
}

static void
level_clear (Level *l)
{
  g_clear_pointer (&l->files, g_hash_table_unref);
  g_clear_pointer (&l->dirs, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Level, level_clear)

static void
level_remove (Level *l, const char *name)
{
  g_hash_table_remove (l->files, name);
  g_hash_table_remove (l->dirs, name);
}

/* Read a dirtree's entries into @l (later entries replace). */
static gboolean
level_load (Merge *m, Level *l, const char *tree, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (m->repo, CAIRN_OBJECT_DIR_TREE, tree, error);
  if (!v)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c);
      char *hex = cairn_checksum_from_variant (c);
      if (!hex)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      level_remove (l, name);
      g_hash_table_insert (l->files, g_strdup (name), hex);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) t = NULL, mm = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &t, &mm);
      g_autofree char *th = cairn_checksum_from_variant (t);
      g_autofree char *mh = cairn_checksum_from_variant (mm);
      if (!th || !mh)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      level_remove (l, name);
      g_hash_table_insert (l->dirs, g_strdup (name), dirref_new (th, mh));
    }
  return TRUE;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *
sorted_keys (GHashTable *h)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, h);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (keys, k);
  g_ptr_array_sort (keys, cmp_str);
  return keys;
}

static gboolean
level_write (Merge *m, Level *l, char **out_tree, GError **error)
{
  GVariantBuilder fb, db;
  g_variant_builder_init (&fb, G_VARIANT_TYPE ("a(say)"));
  g_variant_builder_init (&db, G_VARIANT_TYPE ("a(sayay)"));
  g_autoptr (GPtrArray) files = sorted_keys (l->files);
  g_autoptr (GPtrArray) dirs = sorted_keys (l->dirs);
  for (guint i = 0; i < files->len; i++)
    g_variant_builder_add (
        &fb, "(s@ay)", (char *)files->pdata[i],
        cairn_checksum_to_variant (g_hash_table_lookup (l->files, files->pdata[i])));
  for (guint i = 0; i < dirs->len; i++)
    {
      DirRef *d = g_hash_table_lookup (l->dirs, dirs->pdata[i]);
      g_variant_builder_add (&db, "(s@ay@ay)", (char *)dirs->pdata[i],
                             cairn_checksum_to_variant (d->tree),
                             cairn_checksum_to_variant (d->meta));
    }
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new (
      "(@a(say)@a(sayay))", g_variant_builder_end (&fb), g_variant_builder_end (&db)));
  return cairn_txn_write_metadata (m->txn, CAIRN_OBJECT_DIR_TREE, v, out_tree, error);
}

/* Does the layer's subtree @tree hold a whiteout anywhere? */
static gboolean
has_whiteouts (Merge *m, const char *tree, gboolean *out, GError **error)
{
  if (m->layer->no_whiteouts)
    return *out = FALSE, TRUE;
  gpointer memo = g_hash_table_lookup (m->layer->wh_memo, tree);
  if (memo)
    return *out = GPOINTER_TO_INT (memo) - 1, TRUE;
  g_auto (Level) l = { 0 };
  level_init (&l);
  if (!level_load (m, &l, tree, error))
    return FALSE;
  gboolean found = FALSE;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, l.files);
  while (!found && g_hash_table_iter_next (&it, &k, NULL))
    found = g_str_has_prefix (k, WH_PREFIX);
  g_hash_table_iter_init (&it, l.dirs);
  while (!found && g_hash_table_iter_next (&it, &k, &v))
    if (!has_whiteouts (m, ((DirRef *)v)->tree, &found, error))
      return FALSE;
  g_hash_table_insert (m->layer->wh_memo, g_strdup (tree), GINT_TO_POINTER (1 + found));
  *out = found;
  return TRUE;
}

static gboolean merge_dir (Merge *m, const DirRef *lower, const DirRef *upper, const char *path,
                           DirRef **out, GError **error);

static char *
child_path (const char *path, const char *name)
{
  return path[0] ? g_strconcat (path, "/", name, NULL) : g_strdup (name);
}

/* The lower contents that survive this layer's whiteouts, into @res. */
static gboolean
apply_whiteouts (Merge *m, Level *res, Level *up, const DirRef *lower, GError **error)
{
  if (lower && !g_hash_table_contains (up->files, OPAQUE)
      && !level_load (m, res, lower->tree, error))
    return FALSE;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, up->files);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_prefix (k, WH_PREFIX) && strcmp (k, OPAQUE) != 0)
      level_remove (res, (const char *)k + strlen (WH_PREFIX));
  return TRUE;
}

static gboolean
merge_subdirs (Merge *m, Level *res, Level *up, const char *path, GError **error)
{
  g_autoptr (GPtrArray) names = sorted_keys (up->dirs);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      DirRef *u = g_hash_table_lookup (up->dirs, name);
      g_autofree char *p = child_path (path, name);
      if (g_hash_table_contains (res->files, name))
        {
          if (g_hash_table_contains (m->layer->implicit, p))
            {
              g_autofree char *esc = cairn_escape_name (p, -1);
              return cairn_throw_code (error, G_IO_ERROR_NOT_DIRECTORY,
                                       "entries below '%s', which a lower layer made a file or "
                                       "symlink (refusing to write through it)",
                                       esc);
            }
          g_hash_table_remove (res->files, name);
        }
      DirRef *low = g_hash_table_lookup (res->dirs, name);
      DirRef *merged = NULL;
      if (!merge_dir (m, low, u, p, &merged, error))
        return FALSE;
      g_hash_table_replace (res->dirs, g_strdup (name), merged);
    }
  return TRUE;
}

/* Merge the layer's directory @upper onto @lower (NULL: nothing below). */
static gboolean
merge_dir (Merge *m, const DirRef *lower, const DirRef *upper, const char *path, DirRef **out,
           GError **error)
{
  gboolean implicit = g_hash_table_contains (m->layer->implicit, path);
  const char *meta = implicit && lower ? lower->meta : upper->meta;
  gboolean wh = FALSE;
  if (!lower && !has_whiteouts (m, upper->tree, &wh, error))
    return FALSE;
  if (!lower && !wh)
    {
      *out = dirref_new (upper->tree, meta);
      return TRUE;
    }
  g_auto (Level) up = { 0 }, res = { 0 };
  level_init (&up);
  level_init (&res);
  if (!level_load (m, &up, upper->tree, error) || !apply_whiteouts (m, &res, &up, lower, error))
    return FALSE;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, up.files);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!g_str_has_prefix (k, WH_PREFIX))
      {
        level_remove (&res, k);
        g_hash_table_insert (res.files, g_strdup (k), g_strdup (v));
      }
  if (!merge_subdirs (m, &res, &up, path, error))
    return FALSE;
  g_autofree char *tree = NULL;
  if (!level_write (m, &res, &tree, error))
    return FALSE;
  *out = dirref_new (tree, meta);
  return TRUE;
}

static gboolean
load_layer (CairnRepo *repo, const char *commit, Layer *l, DirRef **out_root, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  l->implicit = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  l->wh_memo = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree const char **implicit = NULL;
  if (g_variant_lookup (c.metadata, CAIRN_META_LAYER_IMPLICIT, "^a&s", &implicit))
    for (const char **p = implicit; *p; p++)
      g_hash_table_add (l->implicit, g_strdup (*p));
  guint64 whiteouts = 1;
  g_variant_lookup (c.metadata, "cairn.oci.layer.whiteouts", "t", &whiteouts);
  l->no_whiteouts = whiteouts == 0;
  *out_root = dirref_new (c.root_tree, c.root_meta);
  return TRUE;
}

static void
layer_clear (Layer *l)
{
  g_clear_pointer (&l->implicit, g_hash_table_unref);
  g_clear_pointer (&l->wh_memo, g_hash_table_unref);
}

gboolean
_cairn_layers_merge (CairnTxn *txn, GPtrArray *layer_commits, char **out_tree, char **out_meta,
                     GError **error)
{
  CairnRepo *repo = cairn_txn_get_repo (txn);
  DirRef *cur = NULL;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < layer_commits->len; i++)
    {
      Layer l = { 0 };
      DirRef *root = NULL, *next = NULL;
      Merge m = { .txn = txn, .repo = repo, .layer = &l };
      ok = load_layer (repo, layer_commits->pdata[i], &l, &root, error)
           && merge_dir (&m, cur, root, "", &next, error);
      if (!ok)
        cairn_prefix_error (error, "layer %u of %u", i + 1, layer_commits->len);
      g_clear_pointer (&root, dirref_free);
      layer_clear (&l);
      if (ok)
        {
          g_clear_pointer (&cur, dirref_free);
          cur = next;
        }
    }
  if (ok && !cur)
    ok = cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "an image without layers");
  if (ok)
    {
      *out_tree = g_steal_pointer (&cur->tree);
      *out_meta = g_steal_pointer (&cur->meta);
    }
  g_clear_pointer (&cur, dirref_free);
  return ok;
}
