/* cairn export REF|COMMIT [-o FILE] [--subpath=PATH] [--compress=none|gzip|zstd]
 * cairn export REF|COMMIT --format=erofs|squashfs FILE
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-erofs.h"
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

/* --format=erofs|squashfs: a raw image of the whole tree (checkout/export-image.c). */
static int
export_image (CairnCli *cli, const char *format, const char *rev, const char *file, GError **error)
{
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, rev, FALSE, error);
  if (!commit)
    return 1;
  CairnErofsStats st = { 0 };
  gboolean ok = strcmp (format, "erofs") == 0 ? cairn_export_erofs (repo, commit, file, &st, error)
                                              : cairn_export_squashfs (repo, commit, file, error);
  if (!ok)
    return cairn_prefix_error (error, "export %s to %s", rev, file), 1;
  if (cli->verbose && st.inodes)
    fprintf (stderr,
             "cairn: export: %s: %" G_GUINT64_FORMAT " inodes, %" G_GUINT64_FORMAT " bytes\n", file,
             st.inodes, st.bytes);
  return 0;
}

int
cairn_cmd_export (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *output = NULL, *subpath = NULL, *compress = NULL, *format = NULL;
  gboolean no_hardlinks = FALSE;
  GOptionEntry entries[]
      = { { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
            "Write the tar to FILE (default: stdout)", "FILE" },
          { "subpath", 0, 0, G_OPTION_ARG_STRING, &subpath,
            "Export only this directory (or file) of the tree", "PATH" },
          { "compress", 0, 0, G_OPTION_ARG_STRING, &compress, "none (default), gzip or zstd",
            "METHOD" },
          { "no-hardlinks", 0, 0, G_OPTION_ARG_NONE, &no_hardlinks,
            "Write identical files in full, not as hardlinks", NULL },
          { "format", 0, 0, G_OPTION_ARG_STRING, &format,
            "tar (default), or a raw image: erofs, squashfs (needs FILE)", "FORMAT" },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT [FILE]",
                        "Write the tree of a commit as a tar archive (owners, modes, symlinks, "
                        "xattrs and hardlinks preserved; stable entry order), or with\n"
                        "--format=erofs|squashfs as a file system image that a kernel mounts "
                        "(squashfs: root, made by mksquashfs).",
                        &argc, &argv, error))
    return 2;
  if (format && strcmp (format, "tar") != 0)
    {
      if (strcmp (format, "erofs") != 0 && strcmp (format, "squashfs") != 0)
        return cairn_cli_usage_error (error, "--format wants tar, erofs or squashfs, not '%s'",
                                      format),
               2;
      const char *file = argc == 3 ? argv[2] : output;
      if (argc < 2 || argc > 3 || !file || (argc == 3 && output) || subpath || compress
          || no_hardlinks)
        return cairn_cli_usage_error (error,
                                      "--format=%s needs REF|COMMIT and FILE (no "
                                      "--subpath, --compress, --no-hardlinks)",
                                      format),
               2;
      return export_image (cli, format, argv[1], file, error);
    }
  if (argc == 3 && !output)
    output = g_strdup (argv[2]), argc = 2;
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
