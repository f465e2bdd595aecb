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

/* Find @name in a dirtree (binary search: entries are strcmp-sorted). */
static gboolean
find_in_tree (GVariant *tree, const char *name, CairnPathEntry *e)
{
  for (int member = 0; member < 2; member++)
    {
      g_autoptr (GVariant) list = g_variant_get_child_value (tree, member);
      gsize lo = 0, hi = g_variant_n_children (list);
      while (lo < hi)
        {
          gsize mid = (lo + hi) / 2;
          g_autoptr (GVariant) ent = g_variant_get_child_value (list, mid);
          const char *n;
          g_variant_get_child (ent, 0, "&s", &n);
          int c = strcmp (name, n);
          if (c == 0)
            {
              g_autoptr (GVariant) c1 = g_variant_get_child_value (ent, 1);
              if (member == 0)
                {
                  e->is_dir = FALSE;
                  e->file = cairn_checksum_from_variant (c1);
                  return e->file != NULL;
                }
              g_autoptr (GVariant) c2 = g_variant_get_child_value (ent, 2);
              e->is_dir = TRUE;
              e->dirtree = cairn_checksum_from_variant (c1);
              e->dirmeta = cairn_checksum_from_variant (c2);
              return e->dirtree && e->dirmeta;
            }
          if (c < 0)
            hi = mid;
          else
            lo = mid + 1;
        }
    }
  return FALSE;
}

gboolean
cairn_repo_lookup_path (CairnRepo *repo, const char *commit, const char *path, CairnPathEntry *out,
                        GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  g_auto (CairnPathEntry) e = { .is_dir = TRUE, .dirtree = g_strdup (c.root_tree),
                                .dirmeta = g_strdup (c.root_meta) };
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  for (char **p = parts; *p; p++)
    {
      if (**p == '\0' || strcmp (*p, ".") == 0)
        continue;
      if (!e.is_dir)
        return cairn_throw_code (error, G_IO_ERROR_NOT_DIRECTORY, "%s: Not a directory", path);
      g_autoptr (GVariant) tree = cairn_repo_load_variant (repo, CAIRN_OBJECT_DIR_TREE, e.dirtree, error);
      if (!tree)
        return FALSE;
      cairn_path_entry_clear (&e);
      if (!find_in_tree (tree, *p, &e))
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s: No such file or directory in commit %s", path, commit);
    }
  *out = e;
  memset (&e, 0, sizeof e);
  return TRUE;
}
