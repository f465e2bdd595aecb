/* cairn rm [-f] [--all] NAME...: the OCI runtime's delete, and the bundle
 * (config, overlay layer, log, status). A running container needs -f,
 * which kills it. As podman rm.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>

static gboolean
rm_one (const char *dir, const char *name, gboolean force, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (CairnContainer) c = cairn_containers_get (dir, name, &local);
  g_autofree char *bundle = cairn_containers_bundle (dir, name);
  if (!c && !g_file_test (bundle, G_FILE_TEST_IS_DIR))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (c && cairn_container_is_running (c) && !force)
    return cairn_throw (error, "container %s is running: stop it first, or rm -f", name);
  if (c)
    {
      const char *args[] = { "delete", "--force", name, NULL };
      if (!cairn_containers_runtime (dir, args, NULL, error))
        return cairn_prefix_error (error, "removing %s", name);
    }
  if (!cairn_containers_remove_bundle (dir, name, error))
    return FALSE;
  printf ("%s\n", name);
  return TRUE;
}

int
cairn_cmd_rm (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean force = FALSE, all = FALSE;
  GOptionEntry entries[]
      = { { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Kill running containers first", NULL },
          { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Every container", NULL },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "NAME...", "Remove containers.", &argc, &argv, error))
    return 2;
  if (argc < 2 && !all)
    return cairn_cli_usage_error (error, "name a container to remove (or --all)"), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (names, g_strdup (argv[i]));
  if (all)
    {
      g_autoptr (GPtrArray) list = cairn_containers_list (dir, error);
      if (!list)
        return 1;
      for (guint i = 0; i < list->len; i++)
        g_ptr_array_add (names, g_strdup (((CairnContainer *)list->pdata[i])->id));
    }
  int status = 0;
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr (GError) local = NULL;
      if (!rm_one (dir, names->pdata[i], force, &local))
        {
          fprintf (stderr, "cairn: rm: %s\n", local->message);
          status = 1;
        }
    }
  return fflush (stdout) == 0 ? status : 1;
}
