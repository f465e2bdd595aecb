/* cairn show [--json] REV
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-commit-print.h"
#include <stdio.h>

/* Sum of the content sizes of every distinct file object in the tree. */
static gboolean
content_size (CairnRepo *repo, const char *commit, gint64 *out, GError **error)
{
  g_autoptr (GHashTable) reach = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!cairn_repo_traverse_commit (repo, commit, 0, reach, error))
    return FALSE;
  gint64 total = 0;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, reach);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      g_autofree char *csum = NULL;
      CairnObjectType type;
      if (!cairn_object_name_parse (k, &csum, &type) || type != CAIRN_OBJECT_FILE)
        continue;
      g_auto (CairnFileInfo) fi = { 0 };
      if (!cairn_repo_load_file (repo, csum, NULL, &fi, error))
        return FALSE;
      total += fi.size;
    }
  *out = total;
  return TRUE;
}

int
cairn_cmd_show (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON", NULL }, { NULL } };
  if (!cairn_cli_parse (
          cli, entries, "REF|COMMIT",
          "Show a commit: subject, body, date, parent, metadata, root checksums, size.", &argc,
          &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need exactly one REF or COMMIT"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *csum = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  g_auto (CairnCommit) c = { 0 };
  if (!csum || !cairn_repo_load_commit (repo, csum, &c, error))
    return 1;
  gboolean partial = cairn_repo_commit_is_partial (repo, csum);
  gint64 size = -1;
  if (!partial && !content_size (repo, csum, &size, error))
    return 1;
  if (json)
    {
      g_autoptr (GString) s = g_string_new (NULL);
      cairn_cli_commit_append_json (s, csum, &c, partial, size);
      printf ("%s\n", s->str);
    }
  else
    cairn_cli_commit_print_text (csum, &c, partial, size);
  return 0;
}
