/* cairn init [--mode=bare|bare-user|bare-user-only|archive]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <unistd.h>

int
cairn_cmd_init (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *mode_str = NULL;
  GOptionEntry entries[] = { { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_str,
                               "Repository mode: bare (root default), bare-user (default "
                               "otherwise), bare-user-only, archive",
                               "MODE" },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, NULL, "Create a repository (idempotent).", &argc, &argv,
                        error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  CairnRepoMode mode = getuid () == 0 ? CAIRN_REPO_MODE_BARE : CAIRN_REPO_MODE_BARE_USER;
  if (mode_str && !cairn_repo_mode_from_string (mode_str, &mode, error))
    {
      g_autoptr (GError) e = g_steal_pointer (error);
      cairn_cli_usage_error (error, "%s", e->message);
      return 2;
    }
  const char *path = cairn_cli_repo_path (cli);
  if (!cairn_repo_create (path, mode, error))
    return 1;
  printf ("Initialized %s repository in %s\n", cairn_repo_mode_to_string (mode), path);
  return 0;
}
