/* cairn rev-parse REV
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>

int
cairn_cmd_rev_parse (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (!cairn_cli_parse (
          cli, NULL, "REV",
          "Print the commit checksum a ref, REMOTE:REF, checksum prefix or REV^ names.", &argc,
          &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need exactly one REV"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *c = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!c)
    return 1;
  printf ("%s\n", c);
  return 0;
}
