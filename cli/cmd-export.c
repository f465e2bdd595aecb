/* cairn export REF|COMMIT [-o FILE] [--subpath=PATH] [--compress=none|gzip|zstd]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "image/cairn-image.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
progress (guint64 files, guint64 bytes, gpointer data)
{
  cairn_cli_progress ("export: %" G_GUINT64_FORMAT " entries, %.1f MiB", files, bytes / 1048576.0);
}

static gboolean
parse_compress (const char *s, CairnExportCompress *out, GError **error)
{
  if (!s || strcmp (s, "none") == 0)
    *out = CAIRN_EXPORT_COMPRESS_NONE;
  else if (strcmp (s, "gzip") == 0)
    *out = CAIRN_EXPORT_COMPRESS_GZIP;
  else if (strcmp (s, "zstd") == 0)
    *out = CAIRN_EXPORT_COMPRESS_ZSTD;
  else
    return cairn_cli_usage_error (error, "--compress wants none, gzip or zstd, not '%s'", s);
  return TRUE;
}

int
cairn_cmd_export (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *output = NULL, *subpath = NULL, *compress = NULL;
  gboolean no_hardlinks = FALSE;
  GOptionEntry entries[] = { { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
                               "Write the tar to FILE (default: stdout)", "FILE" },
                             { "subpath", 0, 0, G_OPTION_ARG_STRING, &subpath,
                               "Export only this directory (or file) of the tree", "PATH" },
                             { "compress", 0, 0, G_OPTION_ARG_STRING, &compress,
                               "none (default), gzip or zstd", "METHOD" },
                             { "no-hardlinks", 0, 0, G_OPTION_ARG_NONE, &no_hardlinks,
                               "Write identical files in full, not as hardlinks", NULL },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT",
                        "Write the tree of a commit as a tar archive (owners, modes, symlinks, "
                        "xattrs and hardlinks preserved; stable entry order).",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, argc < 2 ? "need REF or COMMIT" : "too many arguments"), 2;
  CairnExportOptions opts = { .subpath = subpath, .no_hardlinks = no_hardlinks };
  if (!parse_compress (compress, &opts.compress, error))
    return 2;
  opts.progress = progress;
  if (!output && isatty (STDOUT_FILENO))
    return cairn_cli_usage_error (error,
                                  "refusing to write a tar archive to a terminal (use -o FILE)"),
           2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  cairn_autofd fd = -1;
  if (output && strcmp (output, "-") != 0)
    {
      fd = open (output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd < 0)
        return cairn_throw_errno (error, "%s", output), 1;
    }
  fflush (stdout);
  gboolean ok = cairn_repo_export (repo, argv[1], fd >= 0 ? fd : STDOUT_FILENO, &opts, error);
  cairn_cli_progress_end ();
  if (!ok)
    g_prefix_error (error, "%s: ", fd >= 0 ? output : "standard output");
  if (!ok && fd >= 0)
    (void)unlink (output);
  return ok ? 0 : 1;
}
