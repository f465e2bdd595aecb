/* cairn serve --stdio REPO — the far side of the ssh transport
 * (`ssh host cairn serve --stdio /path`; docs/sync-protocol.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-pull.h"
#include <signal.h>
#include <unistd.h>

int
cairn_cmd_serve (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean use_stdio = FALSE;
  GOptionEntry entries[] = { { "stdio", 0, 0, G_OPTION_ARG_NONE, &use_stdio,
                               "Speak the sync protocol on stdin/stdout", NULL },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, "[REPO]",
                        "Serve a repository (read-only) to one pulling client.", &argc, &argv,
                        error))
    return 2;
  if (!use_stdio)
    return cairn_cli_usage_error (error, "only --stdio is supported"), 2;
  if (argc > 2)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[2]), 2;
  /* A client that goes away must not kill us with SIGPIPE mid-write. */
  signal (SIGPIPE, SIG_IGN);
  g_autoptr (CairnRepo) repo = NULL;
  if (argc == 2)
    repo = cairn_repo_open (argv[1], error);
  else
    repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  /* stdout carries the protocol: nothing else may ever be printed on it. */
  int out_fd = dup (STDOUT_FILENO);
  if (out_fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    return g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "dup: %s", g_strerror (errno)), 1;
  gboolean ok = cairn_repo_serve (repo, STDIN_FILENO, out_fd, error);
  close (out_fd);
  return ok ? 0 : 1;
}
