/* cairn diff [--json] A B — A(dded), M(odified), D(eleted) per path, as
 * `ostree diff`: a whole added or deleted directory is one entry.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <string.h>

typedef struct
{
  CairnRepo *repo;
  gboolean json;
  GString *out;
  guint n;
} Diff;

static void
emit (Diff *d, char op, const char *path)
{
  if (d->json)
    {
      g_string_append_printf (d->out, "%s{\"op\":\"%c\",\"path\":", d->n ? "," : "", op);
      cairn_json_append_string (d->out, path);
      g_string_append_c (d->out, '}');
    }
  else
    g_string_append_printf (d->out, "%c    %s\n", op, path);
  d->n++;
}

/* name -> (checksum, [dirmeta]) of one dirtree level, files and dirs apart. */
static gboolean
load_level (CairnRepo *repo, const char *dirtree, GHashTable *files, GHashTable *dirs,
            GError **error)
{
  g_autoptr (GVariant) tree = cairn_repo_load_variant (repo, CAIRN_OBJECT_DIR_TREE, dirtree, error);
  if (!tree)
    return FALSE;
  g_autoptr (GVariant) f = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dd = g_variant_get_child_value (tree, 1);
  for (gsize i = 0; i < g_variant_n_children (f); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (f, i, "(&s@ay)", &name, &c);
      g_hash_table_insert (files, g_strdup (name), cairn_checksum_from_variant (c));
    }
  for (gsize i = 0; i < g_variant_n_children (dd); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dd, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *t = cairn_checksum_from_variant (c1), *m = cairn_checksum_from_variant (c2);
      g_hash_table_insert (dirs, g_strdup (name), g_strconcat (t, m, NULL));
    }
  return TRUE;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static gboolean diff_dirs (Diff *d, const char *a, const char *b, const char *path, GError **error);

static gboolean
diff_name (Diff *d, const char *name, const char *path, GHashTable *af, GHashTable *ad,
           GHashTable *bf, GHashTable *bd, GError **error)
{
  g_autofree char *p = g_strconcat (path, strcmp (path, "/") ? "/" : "", name, NULL);
  const char *fa = g_hash_table_lookup (af, name), *fb = g_hash_table_lookup (bf, name);
  const char *da = g_hash_table_lookup (ad, name), *db = g_hash_table_lookup (bd, name);
  if (fa && fb)
    {
      if (strcmp (fa, fb) != 0)
        emit (d, 'M', p);
    }
  else if (da && db)
    {
      if (strcmp (da + 64, db + 64) != 0)
        emit (d, 'M', p);
      if (strncmp (da, db, 64) != 0)
        {
          g_autofree char *ta = g_strndup (da, 64), *tb = g_strndup (db, 64);
          return diff_dirs (d, ta, tb, p, error);
        }
    }
  else
    {
      if (fa || da)
        emit (d, 'D', p);
      if (fb || db)
        emit (d, 'A', p);
    }
  return TRUE;
}

static gboolean
diff_dirs (Diff *d, const char *a, const char *b, const char *path, GError **error)
{
  g_autoptr (GHashTable) af = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) ad = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) bf = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) bd = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!load_level (d->repo, a, af, ad, error) || !load_level (d->repo, b, bf, bd, error))
    return FALSE;
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTable *all[] = { af, ad, bf, bd };
  for (int i = 0; i < 4; i++)
    {
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, all[i]);
      while (g_hash_table_iter_next (&it, &k, NULL))
        g_hash_table_add (names, k);
    }
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, names);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (sorted, k);
  g_ptr_array_sort (sorted, cmp_str);
  for (guint i = 0; i < sorted->len; i++)
    if (!diff_name (d, sorted->pdata[i], path, af, ad, bf, bd, error))
      return FALSE;
  return TRUE;
}

int
cairn_cmd_diff (CairnCli *cli, int argc, char **argv, GError **error)
{
  Diff d = { 0 };
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &d.json, "Output JSON", NULL }, { NULL } };
  if (!cairn_cli_parse (cli, entries, "A B",
                        "Compare two commits: A(dded), M(odified), D(eleted) paths.", &argc, &argv,
                        error))
    return 2;
  if (argc != 3)
    return cairn_cli_usage_error (error, "need two commits"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  d.repo = repo;
  g_autofree char *a = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  g_autofree char *b = a ? cairn_repo_resolve_rev (repo, argv[2], FALSE, error) : NULL;
  g_auto (CairnCommit) ca = { 0 };
  g_auto (CairnCommit) cb = { 0 };
  if (!b || !cairn_repo_load_commit (repo, a, &ca, error)
      || !cairn_repo_load_commit (repo, b, &cb, error))
    return 1;
  d.out = g_string_new (d.json ? "[" : NULL);
  if (strcmp (ca.root_meta, cb.root_meta) != 0)
    emit (&d, 'M', "/");
  gboolean ok = diff_dirs (&d, ca.root_tree, cb.root_tree, "/", error);
  if (ok)
    {
      if (d.json)
        g_string_append (d.out, "]\n");
      fputs (d.out->str, stdout);
    }
  g_string_free (d.out, TRUE);
  return ok ? 0 : 1;
}
