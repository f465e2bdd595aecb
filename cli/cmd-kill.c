/* cairn kill [-s SIGNAL] NAME...: a signal (default KILL) to the
 * container's process, through the OCI runtime's kill. As podman kill.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>

int
cairn_cmd_kill (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *sig = NULL;
  GOptionEntry entries[] = { { "signal", 's', 0, G_OPTION_ARG_STRING, &sig,
                               "The signal, by name or number (default KILL)", "SIGNAL" },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, "NAME...", "Send a signal to running containers.", &argc,
                        &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "name a container to signal"), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  for (int i = 1; i < argc; i++)
    {
      if (!cairn_containers_check_running (dir, argv[i], error))
        return 1;
      if (!cairn_containers_signal (dir, argv[i], sig ? sig : "KILL", FALSE, error))
        return 1;
      printf ("%s\n", argv[i]);
    }
  return fflush (stdout) == 0 ? 0 : 1;
}
