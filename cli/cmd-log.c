/* cairn log [--json] REV
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-commit-print.h"
#include <stdio.h>

int
cairn_cmd_log (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON", NULL }, { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT", "Show the history of a ref, newest first.",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need exactly one REF or COMMIT"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *cur = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!cur)
    return 1;
  g_autoptr (GString) s = g_string_new (json ? "[" : NULL);
  gboolean first = TRUE;
  while (cur)
    {
      g_autoptr (GVariant) v = NULL;
      if (!cairn_repo_load_variant_if_exists (repo, CAIRN_OBJECT_COMMIT, cur, &v, error))
        return 1;
      if (!v)
        {
          if (first)
            return cairn_throw (error, "commit %s is missing", cur), 1;
          if (!json)
            printf ("<< History beyond this commit not fetched >>\n");
          break;
        }
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_commit_parse (v, &c, error))
        return 1;
      gboolean partial = cairn_repo_commit_is_partial (repo, cur);
      if (json)
        {
          if (!first)
            g_string_append_c (s, ',');
          cairn_cli_commit_append_json (s, cur, &c, partial, -1);
        }
      else
        cairn_cli_commit_print_text (cur, &c, partial, -1);
      first = FALSE;
      g_free (cur);
      cur = g_strdup (c.parent);
    }
  if (json)
    printf ("%s]\n", s->str);
  return 0;
}
