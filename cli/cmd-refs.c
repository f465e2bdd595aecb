/* cairn refs [--json] [PREFIX] | --delete REF | --create=REF COMMIT
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <string.h>

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

int
cairn_cmd_refs (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE, del = FALSE;
  g_autofree char *create = NULL;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON", NULL },
          { "delete", 0, 0, G_OPTION_ARG_NONE, &del, "Delete the named refs", NULL },
          { "create", 0, 0, G_OPTION_ARG_STRING, &create, "Create REF pointing at COMMIT", "REF" },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "[PREFIX|REF...]", "List, create or delete refs.", &argc,
                        &argv, error))
    return 2;
  /* listing the refs of a default repository not made yet: there are none */
  if (!del && !create && cairn_cli_default_repo_missing (cli))
    {
      if (json)
        printf ("[]\n");
      return 0;
    }
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, create != NULL, error);
  if (!repo)
    return 1;
  if (del)
    {
      if (argc < 2)
        return cairn_cli_usage_error (error, "--delete needs a REF"), 2;
      for (int i = 1; i < argc; i++)
        {
          const char *colon = strchr (argv[i], ':');
          g_autofree char *remote = colon ? g_strndup (argv[i], colon - argv[i]) : NULL;
          if (!cairn_repo_write_ref (repo, remote, colon ? colon + 1 : argv[i], NULL, error))
            return 1;
        }
      return 0;
    }
  if (create)
    {
      if (argc != 2)
        return cairn_cli_usage_error (error, "--create=REF needs exactly one COMMIT"), 2;
      g_autofree char *c = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
      gboolean have = FALSE;
      if (!c || !cairn_repo_has_object (repo, CAIRN_OBJECT_COMMIT, c, &have, error))
        return 1;
      if (!have)
        return cairn_throw (error, "commit %s is not in the repository", c), 1;
      return cairn_repo_write_ref (repo, NULL, create, c, error) ? 0 : 1;
    }
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, argc > 1 ? argv[1] : NULL, TRUE, error);
  if (!refs)
    return 1;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (names, k);
  g_ptr_array_sort (names, cmp_str);
  g_autoptr (GString) s = g_string_new (json ? "[" : "");
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      if (json)
        {
          g_string_append (s, i ? ",{\"ref\":" : "{\"ref\":");
          cairn_json_append_string (s, n);
          g_string_append (s, ",\"commit\":");
          cairn_json_append_string (s, g_hash_table_lookup (refs, n));
          g_string_append_c (s, '}');
        }
      else
        g_string_append_printf (s, "%s\n", n);
    }
  if (json)
    g_string_append (s, "]\n");
  fputs (s->str, stdout);
  return 0;
}
