/* cairn exec [-i] [-t] [-d] [-e NAME=VALUE] [-w DIR] [-u UID[:GID]] NAME CMD...:
 * a process in a running container, by the OCI runtime's exec (the
 * container's environment, namespaces, cgroups, capabilities and seccomp
 * policy). Exit status: the process's. As podman exec.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>
#include <string.h>

int
cairn_cmd_exec (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean tty = FALSE, interactive = FALSE, detach = FALSE;
  g_auto (GStrv) env = NULL;
  g_autofree char *workdir = NULL, *user = NULL;
  GOptionEntry entries[]
      = { { "interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive, "Keep standard input open",
            NULL },
          { "tty", 't', 0, G_OPTION_ARG_NONE, &tty, "Give the process a terminal", NULL },
          { "detach", 'd', 0, G_OPTION_ARG_NONE, &detach, "Do not wait for the process", NULL },
          { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, "Set NAME to VALUE (repeatable)",
            "NAME=VALUE" },
          { "workdir", 'w', 0, G_OPTION_ARG_STRING, &workdir, "Working directory", "DIR" },
          { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User and group, by number", "UID[:GID]" },
          { NULL } };
  if (!cairn_cli_parse_full (cli, entries, NULL, TRUE, "NAME CMD [ARG...]",
                             "Run a command in a running container.", &argc, &argv, error))
    return 2;
  if (argc < 3)
    return cairn_cli_usage_error (error, "need a container NAME and a command"), 2;
  const char *name = argv[1];
  int cmd = argc > 3 && !strcmp (argv[2], "--") ? 3 : 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  g_autofree char *state = g_build_filename (dir, "runtime", name, NULL);
  if (!cairn_validate_filename (name, -1, NULL) || !g_file_test (state, G_FILE_TEST_IS_DIR))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no such container: %s", name), 1;
  g_autofree char *launcher = cairn_launcher_path ();
  g_autofree char *root = g_build_filename (dir, "runtime", NULL);
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  const char *fixed[] = { launcher, "--root", root, "exec" };
  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (v, g_strdup (fixed[i]));
  if (tty)
    g_ptr_array_add (v, g_strdup ("--tty"));
  if (detach)
    g_ptr_array_add (v, g_strdup ("--detach"));
  for (char **e = env; e && *e; e++)
    g_ptr_array_add (v, g_strdup_printf ("--env=%s", *e));
  if (workdir)
    g_ptr_array_add (v, g_strdup_printf ("--cwd=%s", workdir));
  if (user)
    g_ptr_array_add (v, g_strdup_printf ("--user=%s", user));
  g_ptr_array_add (v, g_strdup (name));
  for (int i = cmd; i < argc; i++)
    g_ptr_array_add (v, g_strdup (argv[i]));
  g_ptr_array_add (v, NULL);
  if (!interactive)
    {
      int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null >= 0)
        dup2 (null, STDIN_FILENO);
    }
  fflush (NULL);
  execv (launcher, (char **)v->pdata);
  cairn_throw_errno (error, "executing %s", launcher);
  return 125;
}
