/* Resolving paths inside a commit's tree.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <string.h>

void
cairn_path_entry_clear (CairnPathEntry *e)
{
  g_clear_pointer (&e->dirtree, g_free);
  g_clear_pointer (&e->dirmeta, g_free);
  g_clear_pointer (&e->file, g_free);
}

gboolean
cairn_dirtree_find (GVariant *tree, int kind, const char *name, guint8 out_a[32], guint8 out_b[32])
{
  g_autoptr (GVariant) list = g_variant_get_child_value (tree, kind);
  gsize lo = 0, hi = g_variant_n_children (list);
  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;
      g_autoptr (GVariant) ent = g_variant_get_child_value (list, mid);
      const char *n;
      g_variant_get_child (ent, 0, "&s", &n);
      int c = strcmp (name, n);
      if (c < 0)
        hi = mid;
      else if (c > 0)
        lo = mid + 1;
      else
        {
          for (int i = 1; i <= (kind == 1 ? 2 : 1); i++)
            {
              g_autoptr (GVariant) cs = g_variant_get_child_value (ent, i);
              if (g_variant_get_size (cs) != 32)
                return FALSE;
              memcpy (i == 1 ? out_a : out_b, g_variant_get_data (cs), 32);
            }
          return TRUE;
        }
    }
  return FALSE;
}

/* Find @name among a dirtree's files, then its directories. */
static gboolean
find_in_tree (GVariant *tree, const char *name, CairnPathEntry *e)
{
  guint8 a[32], b[32];
  char hex[65];
  if (cairn_dirtree_find (tree, 0, name, a, b))
    {
      e->is_dir = FALSE;
      cairn_checksum_to_hex (a, hex);
      e->file = g_strdup (hex);
      return TRUE;
    }
  if (!cairn_dirtree_find (tree, 1, name, a, b))
    return FALSE;
  e->is_dir = TRUE;
  cairn_checksum_to_hex (a, hex);
  e->dirtree = g_strdup (hex);
  cairn_checksum_to_hex (b, hex);
  e->dirmeta = g_strdup (hex);
  return TRUE;
}

gboolean
cairn_repo_lookup_path (CairnRepo *repo, const char *commit, const char *path, CairnPathEntry *out,
                        GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  g_auto (CairnPathEntry) e
      = { .is_dir = TRUE, .dirtree = g_strdup (c.root_tree), .dirmeta = g_strdup (c.root_meta) };
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  for (char **p = parts; *p; p++)
    {
      if (**p == '\0' || strcmp (*p, ".") == 0)
        continue;
      if (!e.is_dir)
        return cairn_throw_code (error, G_IO_ERROR_NOT_DIRECTORY, "%s: Not a directory", path);
      g_autoptr (GVariant) tree
          = cairn_repo_load_variant (repo, CAIRN_OBJECT_DIR_TREE, e.dirtree, error);
      if (!tree)
        return FALSE;
      cairn_path_entry_clear (&e);
      if (!find_in_tree (tree, *p, &e))
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                                 "%s: No such file or directory in commit %s", path, commit);
    }
  *out = e;
  memset (&e, 0, sizeof e);
  return TRUE;
}
