/* cairn serve --stdio REPO — the far side of the ssh transport
 * (`ssh host cairn serve --stdio /path`; docs/sync-protocol.md).
 * cairn serve --stdio --receive [--depth=N] REPO REF... — the far side of a
 * push: pull REFs from the pushing client on stdin/stdout.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-pull.h"
#include <signal.h>
#include <unistd.h>

static int
receive (CairnRepo *repo, int out_fd, char **refs, int depth, GError **error)
{
  CairnPullOptions opts;
  cairn_pull_options_init (&opts);
  opts.depth = depth;
  int in_fd = dup (STDIN_FILENO);
  if (in_fd < 0)
    return cairn_throw_errno (error, "dup"), 1;
  /* the descriptors are the transport's from here on */
  return cairn_repo_receive (repo, in_fd, out_fd, (const char *const *)refs, &opts, NULL, error)
             ? 0
             : 1;
}

int
cairn_cmd_serve (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean use_stdio = FALSE, recv = FALSE;
  int depth = 0;
  GOptionEntry entries[]
      = { { "stdio", 0, 0, G_OPTION_ARG_NONE, &use_stdio, "Speak the sync protocol on stdin/stdout",
            NULL },
          { "receive", 0, 0, G_OPTION_ARG_NONE, &recv,
            "Receive a push: pull REF... from the client (into refs/heads/)", NULL },
          { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
            "--receive: also pull N parents (-1: all history)", "N" },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "[REPO] | --receive REPO REF...",
                        "Serve a repository (read-only) to one pulling client, or receive a push.",
                        &argc, &argv, error))
    return 2;
  if (!use_stdio)
    return cairn_cli_usage_error (error, "only --stdio is supported"), 2;
  if (!recv && argc > 2)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[2]), 2;
  if (recv && argc < 3)
    return cairn_cli_usage_error (error, "--receive needs REPO and at least one REF"), 2;
  if (depth < -1)
    return cairn_cli_usage_error (error, "--depth must be -1 or more"), 2;
  /* A client that goes away must not kill us with SIGPIPE mid-write. */
  signal (SIGPIPE, SIG_IGN);
  g_autoptr (CairnRepo) repo = NULL;
  if (argc >= 2)
    repo = cairn_repo_open (argv[1], error);
  else
    repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  /* stdout carries the protocol: nothing else may ever be printed on it. */
  int out_fd = dup (STDOUT_FILENO);
  if (out_fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    return g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "dup: %s", g_strerror (errno)), 1;
  if (recv)
    return receive (repo, out_fd, argv + 2, depth, error);
  gboolean ok = cairn_repo_serve (repo, STDIN_FILENO, out_fd, error);
  close (out_fd);
  return ok ? 0 : 1;
}
