/* cairn export — being implemented.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"

int
cairn_cmd_export (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (!cairn_cli_parse (cli, NULL, NULL, NULL, &argc, &argv, error))
    return 2;
  return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "not implemented yet"), 1;
}
