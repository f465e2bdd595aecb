/* Declarations of every subcommand in cli/cairn-commands.def.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "cli/cairn-cli.h"

#define CAIRN_COMMAND(name, fn, summary)                                                           \
  int fn (CairnCli *cli, int argc, char **argv, GError **error);
#define CAIRN_COMMAND_IO CAIRN_COMMAND
#include "cli/cairn-commands.def"
#undef CAIRN_COMMAND_IO
#undef CAIRN_COMMAND

/* remote's verbs (add, gpg-import, ...), for the completion; NULL past the last. */
const char *cairn_cmd_remote_verb (guint i);
const char *cairn_cmd_static_delta_verb (guint i);
