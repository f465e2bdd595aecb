/* Commit objects, mutable trees and commitpartial markers (docs/format.md §7).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <string.h>

void
cairn_commit_clear (CairnCommit *c)
{
  g_clear_pointer (&c->variant, g_variant_unref);
  g_clear_pointer (&c->metadata, g_variant_unref);
  g_clear_pointer (&c->parent, g_free);
  g_clear_pointer (&c->subject, g_free);
  g_clear_pointer (&c->body, g_free);
  g_clear_pointer (&c->root_tree, g_free);
  g_clear_pointer (&c->root_meta, g_free);
}

gboolean
cairn_commit_parse (GVariant *commit, CairnCommit *out, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!g_variant_is_of_type (commit, CAIRN_COMMIT_GVARIANT_FORMAT))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "commit has the wrong type");
  g_autoptr (GVariant) parent = NULL, related = NULL, tree = NULL, meta = NULL;
  guint64 ts;
  g_variant_get (commit, "(@a{sv}@ay@a(say)sst@ay@ay)", &c.metadata, &parent, &related, &c.subject,
                 &c.body, &ts, &tree, &meta);
  c.timestamp = GUINT64_FROM_BE (ts);
  if (g_variant_n_children (parent) != 0)
    {
      c.parent = cairn_checksum_from_variant (parent);
      if (!c.parent)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "commit has an invalid parent checksum");
    }
  c.root_tree = cairn_checksum_from_variant (tree);
  c.root_meta = cairn_checksum_from_variant (meta);
  if (!c.root_tree || !c.root_meta)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "commit has an invalid root checksum");
  c.variant = g_variant_ref (commit);
  *out = c;
  memset (&c, 0, sizeof c);
  return TRUE;
}

gboolean
cairn_repo_load_commit (CairnRepo *repo, const char *checksum, CairnCommit *out, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (repo, CAIRN_OBJECT_COMMIT, checksum, error);
  if (!v)
    return FALSE;
  if (!cairn_commit_parse (v, out, error))
    return cairn_prefix_error (error, "corrupted commit %s", checksum);
  return TRUE;
}

gboolean
cairn_repo_commit_is_partial (CairnRepo *repo, const char *checksum)
{
  g_autofree char *rel = g_strdup_printf ("state/%s.commitpartial", checksum);
  struct stat st;
  return fstatat (repo->repo_dfd, rel, &st, 0) == 0;
}

gboolean
cairn_repo_mark_commit_partial (CairnRepo *repo, const char *checksum, gboolean partial,
                                const char *reason, GError **error)
{
  if (!cairn_mkdirat (repo->repo_dfd, "state", 0775, TRUE, error))
    return FALSE;
  g_autofree char *rel = g_strdup_printf ("state/%s.commitpartial", checksum);
  if (!partial)
    return cairn_unlinkat (repo->repo_dfd, rel, 0, TRUE, error);
  const char *data = reason ? reason : "";
  cairn_autofd state = -1;
  if (!cairn_opendirat (repo->repo_dfd, "state", FALSE, &state, error))
    return FALSE;
  g_autofree char *leaf = g_strdup_printf ("%s.commitpartial", checksum);
  return cairn_file_replace_contents_at (state, leaf, data, strlen (data), 0644,
                                         cairn_repo_fsync_policy (repo), error);
}

/* ---- mutable trees ---------------------------------------------------------- */

struct CairnMTree
{
  GHashTable *files; /* name -> char[65] checksum (owned) */
  GHashTable *dirs;  /* name -> CairnMTree* */
  char *meta;        /* dirmeta checksum */
};

CairnMTree *
cairn_mtree_new (void)
{
  CairnMTree *t = g_new0 (CairnMTree, 1);
  t->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  t->dirs
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)cairn_mtree_free);
  return t;
}

void
cairn_mtree_free (CairnMTree *t)
{
  if (!t)
    return;
  g_hash_table_unref (t->files);
  g_hash_table_unref (t->dirs);
  g_free (t->meta);
  g_free (t);
}

void
cairn_mtree_set_metadata_checksum (CairnMTree *t, const char *dirmeta_checksum)
{
  g_free (t->meta);
  t->meta = g_strdup (dirmeta_checksum);
}

const char *
cairn_mtree_get_metadata_checksum (CairnMTree *t)
{
  return t->meta;
}

void
cairn_mtree_replace_file (CairnMTree *t, const char *name, const char *checksum)
{
  g_hash_table_remove (t->dirs, name);
  g_hash_table_replace (t->files, g_strdup (name), g_strdup (checksum));
}

char *
cairn_mtree_reserve_file (CairnMTree *t, const char *name)
{
  char *slot = g_malloc0 (65);
  g_hash_table_remove (t->dirs, name);
  g_hash_table_replace (t->files, g_strdup (name), slot);
  return slot;
}

CairnMTree *
cairn_mtree_ensure_dir (CairnMTree *t, const char *name)
{
  CairnMTree *sub = g_hash_table_lookup (t->dirs, name);
  if (sub)
    return sub;
  g_hash_table_remove (t->files, name);
  sub = cairn_mtree_new ();
  g_hash_table_insert (t->dirs, g_strdup (name), sub);
  return sub;
}

CairnMTree *
cairn_mtree_lookup_dir (CairnMTree *t, const char *name)
{
  return g_hash_table_lookup (t->dirs, name);
}

const char *
cairn_mtree_lookup_file (CairnMTree *t, const char *name)
{
  return g_hash_table_lookup (t->files, name);
}

gboolean
cairn_mtree_remove (CairnMTree *t, const char *name)
{
  gboolean a = g_hash_table_remove (t->files, name);
  gboolean b = g_hash_table_remove (t->dirs, name);
  return a || b;
}

void
cairn_mtree_clear (CairnMTree *t)
{
  g_hash_table_remove_all (t->files);
  g_hash_table_remove_all (t->dirs);
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *
sorted_keys (GHashTable *h)
{
  GPtrArray *a = g_ptr_array_sized_new (g_hash_table_size (h));
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, h);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (a, k);
  g_ptr_array_sort (a, cmp_names);
  return a;
}

GPtrArray *
cairn_mtree_file_names (CairnMTree *t)
{
  return sorted_keys (t->files);
}

GPtrArray *
cairn_mtree_dir_names (CairnMTree *t)
{
  return sorted_keys (t->dirs);
}

gboolean
cairn_mtree_load (CairnMTree *t, CairnRepo *repo, const char *dirtree, const char *dirmeta,
                  GError **error)
{
  g_autoptr (GVariant) tree = cairn_repo_load_variant (repo, CAIRN_OBJECT_DIR_TREE, dirtree, error);
  if (!tree)
    return FALSE;
  cairn_mtree_set_metadata_checksum (t, dirmeta);
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) csum = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &csum);
      g_autofree char *hex = cairn_checksum_from_variant (csum);
      if (!hex || !cairn_validate_filename (name, -1, error))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      cairn_mtree_replace_file (t, name, hex);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *h1 = cairn_checksum_from_variant (c1);
      g_autofree char *h2 = cairn_checksum_from_variant (c2);
      if (!h1 || !h2 || !cairn_validate_filename (name, -1, NULL))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", dirtree);
      if (!cairn_mtree_load (cairn_mtree_ensure_dir (t, name), repo, h1, h2, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
cairn_txn_write_mtree (CairnTxn *txn, CairnMTree *t, char **out_tree_checksum, GError **error)
{
  GVariantBuilder fb, db;
  g_variant_builder_init (&fb, G_VARIANT_TYPE ("a(say)"));
  g_variant_builder_init (&db, G_VARIANT_TYPE ("a(sayay)"));
  g_autoptr (GPtrArray) fnames = sorted_keys (t->files);
  for (guint i = 0; i < fnames->len; i++)
    {
      const char *hex = g_hash_table_lookup (t->files, fnames->pdata[i]);
      guint8 raw[32];
      if (!cairn_checksum_from_hex (hex, raw))
        {
          g_variant_builder_clear (&fb);
          g_variant_builder_clear (&db);
          return cairn_throw (error, "internal error: file '%s' has no checksum",
                              (char *)fnames->pdata[i]);
        }
      g_variant_builder_add (&fb, "(s@ay)", fnames->pdata[i],
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, raw, 32, 1));
    }
  g_autoptr (GPtrArray) dnames = sorted_keys (t->dirs);
  for (guint i = 0; i < dnames->len; i++)
    {
      CairnMTree *sub = g_hash_table_lookup (t->dirs, dnames->pdata[i]);
      g_autofree char *subtree = NULL;
      guint8 r1[32], r2[32];
      if (!cairn_txn_write_mtree (txn, sub, &subtree, error)
          || !cairn_checksum_from_hex (subtree, r1) || !sub->meta
          || !cairn_checksum_from_hex (sub->meta, r2))
        {
          g_variant_builder_clear (&fb);
          g_variant_builder_clear (&db);
          if (error && !*error)
            cairn_throw (error, "internal error: directory '%s' has no metadata",
                         (char *)dnames->pdata[i]);
          return FALSE;
        }
      g_variant_builder_add (&db, "(s@ay@ay)", dnames->pdata[i],
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, r1, 32, 1),
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, r2, 32, 1));
    }
  g_autoptr (GVariant) tree = g_variant_ref_sink (g_variant_new (
      "(@a(say)@a(sayay))", g_variant_builder_end (&fb), g_variant_builder_end (&db)));
  return cairn_txn_write_metadata (txn, CAIRN_OBJECT_DIR_TREE, tree, out_tree_checksum, error);
}

/* ---- commit objects ------------------------------------------------------------ */

void
cairn_commit_options_init (CairnCommitOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->owner_uid = -1;
  opts->owner_gid = -1;
  opts->use_devino_cache = TRUE;
}

void
cairn_commit_options_filter (const CairnCommitOptions *opts, CairnRepoMode mode, guint32 *uid,
                             guint32 *gid, guint32 *st_mode, gboolean *skip_xattrs)
{
  if (opts->owner_uid >= 0)
    *uid = opts->owner_uid;
  if (opts->owner_gid >= 0)
    *gid = opts->owner_gid;
  gboolean canonical = opts->canonical_permissions || mode == CAIRN_REPO_MODE_BARE_USER_ONLY;
  if (canonical)
    {
      if (S_ISREG (*st_mode))
        *st_mode &= (S_IFREG | 0755);
      else if (S_ISDIR (*st_mode))
        *st_mode &= (S_IFDIR | 0755);
      *uid = 0;
      *gid = 0;
    }
  *skip_xattrs = canonical || opts->no_xattrs;
}

static guint64
commit_timestamp (const CairnCommitOptions *opts)
{
  if (opts->has_timestamp)
    return opts->timestamp;
  const char *sde = g_getenv ("SOURCE_DATE_EPOCH");
  if (sde && *sde)
    return g_ascii_strtoull (sde, NULL, 10);
  return g_get_real_time () / G_USEC_PER_SEC;
}

void
cairn_commit_options_add_metadata (const CairnCommitOptions *opts, GVariantBuilder *builder)
{
  if (!opts->extra_metadata)
    return;
  GVariantIter it;
  const char *k;
  GVariant *v;
  g_variant_iter_init (&it, opts->extra_metadata);
  while (g_variant_iter_loop (&it, "{&sv}", &k, &v))
    g_variant_builder_add (builder, "{sv}", k, v);
}

gboolean
cairn_txn_write_commit (CairnTxn *txn, const CairnCommitOptions *opts, const char *parent,
                        const char *root_tree, const char *root_meta, char **out_checksum,
                        GError **error)
{
  GVariantBuilder mb;
  g_variant_builder_init (&mb, G_VARIANT_TYPE_VARDICT);
  cairn_commit_options_add_metadata (opts, &mb);
  if (opts->branch && !opts->no_bindings)
    {
      const char *refs[] = { opts->branch, NULL };
      g_variant_builder_add (&mb, "{sv}", "ostree.ref-binding", g_variant_new_strv (refs, 1));
    }
  g_autoptr (GVariant) parent_v
      = parent ? cairn_checksum_to_variant (parent)
               : g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1));
  g_autoptr (GVariant) tree_v = cairn_checksum_to_variant (root_tree);
  g_autoptr (GVariant) meta_v = cairn_checksum_to_variant (root_meta);
  if (!parent_v || !tree_v || !meta_v)
    {
      g_variant_builder_clear (&mb);
      return cairn_throw (error, "invalid checksum for commit");
    }
  g_autoptr (GVariant) commit = g_variant_ref_sink (g_variant_new (
      "(@a{sv}@ay@a(say)sst@ay@ay)", g_variant_builder_end (&mb), parent_v,
      g_variant_new_array (G_VARIANT_TYPE ("(say)"), NULL, 0), opts->subject ? opts->subject : "",
      opts->body ? opts->body : "", GUINT64_TO_BE (commit_timestamp (opts)), tree_v, meta_v));
  return cairn_txn_write_metadata (txn, CAIRN_OBJECT_COMMIT, commit, out_checksum, error);
}

gboolean
cairn_commit_options_resolve_parent (CairnRepo *repo, const CairnCommitOptions *opts,
                                     char **out_parent, GError **error)
{
  char *parent = NULL;
  if (opts->parent && strcmp (opts->parent, "none") == 0)
    ;
  else if (opts->parent)
    {
      parent = cairn_repo_resolve_rev (repo, opts->parent, FALSE, error);
      if (!parent)
        return FALSE;
    }
  else if (opts->branch)
    {
      GError *local = NULL;
      parent = cairn_repo_read_ref (repo, NULL, opts->branch, TRUE, &local);
      if (local)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
    }
  *out_parent = parent;
  return TRUE;
}

gboolean
cairn_txn_finish_commit (CairnTxn *txn, const CairnCommitOptions *opts, const char *parent,
                         CairnMTree *tree, char **out_checksum, GError **error)
{
  g_autofree char *root_tree = NULL, *commit = NULL;
  if (!cairn_txn_write_mtree (txn, tree, &root_tree, error)
      || !cairn_txn_write_commit (txn, opts, parent, root_tree,
                                  cairn_mtree_get_metadata_checksum (tree), &commit, error))
    return FALSE;
  if (opts->branch)
    cairn_txn_set_ref (txn, NULL, opts->branch, commit);
  if (!cairn_txn_commit (txn, error))
    return FALSE;
  *out_checksum = g_steal_pointer (&commit);
  return TRUE;
}
