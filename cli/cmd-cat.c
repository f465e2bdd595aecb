/* cairn cat REV PATH
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <unistd.h>

int
cairn_cmd_cat (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (!cairn_cli_parse (cli, NULL, "REF|COMMIT PATH",
                        "Write the content of a file in a commit to stdout.", &argc, &argv, error))
    return 2;
  if (argc != 3)
    return cairn_cli_usage_error (error, "need REF and PATH"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  g_auto (CairnPathEntry) e = { 0 };
  if (!commit || !cairn_repo_lookup_path (repo, commit, argv[2], &e, error))
    return 1;
  if (e.is_dir)
    return cairn_throw (error, "%s: Is a directory", argv[2]), 1;
  g_auto (CairnFileInfo) fi = { 0 };
  cairn_autofd fd = -1;
  if (!cairn_repo_load_file (repo, e.file, &fd, &fi, error))
    return 1;
  if (S_ISLNK (fi.mode))
    return cairn_throw (error, "%s: is a symbolic link to '%s'", argv[2], fi.symlink_target), 1;
  fflush (stdout);
  if (!cairn_copy_fd_data (fd, STDOUT_FILENO, error))
    return 1;
  return 0;
}
