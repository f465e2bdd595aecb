/* cairn stop [-t SECS] NAME...: SIGTERM, then after SECS (default 10)
 * SIGKILL to every process of the container, through the OCI runtime's
 * kill; returns once the runtime says it is stopped. As podman stop.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>

static gboolean
stop_one (const char *dir, const char *name, int secs, GError **error)
{
  g_autoptr (CairnContainer) c = cairn_containers_get (dir, name, error);
  if (!c)
    return FALSE;
  if (cairn_container_is_running (c))
    {
      /* pid 1 ignores TERM unless it handles it: the KILL below ends it */
      g_autoptr (GError) term = NULL; /* it may have stopped meanwhile */
      (void)cairn_containers_signal (dir, name, "TERM", FALSE, &term);
      if (!cairn_containers_wait_stopped (dir, name, secs * 1000))
        {
          g_autoptr (GError) local = NULL;
          if (!cairn_containers_signal (dir, name, "KILL", TRUE, &local)
              && !cairn_containers_wait_stopped (dir, name, 0))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return cairn_prefix_error (error, "stopping %s", name);
            }
          if (!cairn_containers_wait_stopped (dir, name, 10000))
            return cairn_throw (error, "container %s did not stop after SIGKILL", name);
        }
    }
  printf ("%s\n", name);
  return TRUE;
}

int
cairn_cmd_stop (CairnCli *cli, int argc, char **argv, GError **error)
{
  int secs = 10;
  GOptionEntry entries[]
      = { { "time", 't', 0, G_OPTION_ARG_INT, &secs,
            "Seconds to wait after SIGTERM before SIGKILL (default 10)", "SECS" },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "NAME...",
                        "Stop running containers: SIGTERM, then SIGKILL after SECS.", &argc, &argv,
                        error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "name a container to stop"), 2;
  if (secs < 0)
    return cairn_cli_usage_error (error, "-t must not be negative"), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  for (int i = 1; i < argc; i++)
    if (!stop_one (dir, argv[i], secs, error))
      return 1;
  return fflush (stdout) == 0 ? 0 : 1;
}
