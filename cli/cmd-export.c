/* cairn export REF|COMMIT [-o FILE] [--subpath=PATH] [--compress=METHOD]
 * cairn export REF --format=oci DIR[:TAG] [--layers=parents] [--compress=gzip|zstd|none]
 * cairn export REF --format=docker-archive FILE[:NAME:TAG] [--compress=…]
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
parse_compress (const char *s, CairnExportCompress dflt, CairnExportCompress *out, GError **error)
{
  if (!s)
    *out = dflt;
  else if (strcmp (s, "none") == 0)
    *out = CAIRN_EXPORT_COMPRESS_NONE;
  else if (strcmp (s, "gzip") == 0)
    *out = CAIRN_EXPORT_COMPRESS_GZIP;
  else if (strcmp (s, "zstd") == 0)
    *out = CAIRN_EXPORT_COMPRESS_ZSTD;
  else if (strcmp (s, "xz") == 0)
    *out = CAIRN_EXPORT_COMPRESS_XZ;
  else
    return cairn_cli_usage_error (error, "--compress wants none, gzip, zstd or xz, not '%s'", s);
  return TRUE;
}

static int
export_tar (CairnCli *cli, const char *rev, const char *output, CairnExportOptions *opts,
            GError **error)
{
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
  gboolean ok = cairn_repo_export (repo, rev, fd >= 0 ? fd : STDOUT_FILENO, opts, error);
  cairn_cli_progress_end ();
  if (!ok)
    g_prefix_error (error, "%s: ", fd >= 0 ? output : "standard output");
  if (!ok && fd >= 0)
    (void)unlink (output);
  return ok ? 0 : 1;
}

static int
export_oci (CairnCli *cli, const char *rev, const char *dest, const CairnImageBuildOptions *opts,
            GError **error)
{
  const char *colon = strchr (dest, ':');
  g_autofree char *dir = colon ? g_strndup (dest, colon - dest) : g_strdup (dest);
  const char *tag = colon ? colon + 1 : NULL;
  if (!*dir)
    return cairn_cli_usage_error (error, "--format=oci needs a directory"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *digest = NULL;
  if (!cairn_repo_export_oci (repo, rev, dir, tag, opts, &digest, error))
    return 1;
  printf ("%s\n", digest);
  return 0;
}

/* FILE[:NAME:TAG] ("-" is standard output); a NAME without a tag gets
 * ":latest", as `docker save` names images. */
static int
export_docker (CairnCli *cli, const char *rev, const char *dest, gboolean parents,
               CairnExportCompress compress, GError **error)
{
  const char *colon = strchr (dest, ':');
  g_autofree char *file = colon ? g_strndup (dest, colon - dest) : g_strdup (dest);
  g_autofree char *name = NULL;
  if (colon && colon[1])
    {
      const char *last = strrchr (colon + 1, '/');
      name = strchr (last ? last : colon + 1, ':') ? g_strdup (colon + 1)
                                                   : g_strconcat (colon + 1, ":latest", NULL);
    }
  gboolean to_stdout = strcmp (file, "-") == 0;
  if (!*file || (to_stdout && isatty (STDOUT_FILENO)))
    return cairn_cli_usage_error (error, "--format=docker-archive needs a FILE"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  cairn_autofd fd = -1;
  if (!to_stdout)
    {
      fd = open (file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd < 0)
        return cairn_throw_errno (error, "%s", file), 1;
    }
  fflush (stdout);
  gboolean ok = cairn_repo_export_docker_archive (repo, rev, to_stdout ? STDOUT_FILENO : fd, name,
                                                  parents, compress, error);
  if (!ok)
    g_prefix_error (error, "%s: ", to_stdout ? "standard output" : file);
  if (!ok && !to_stdout)
    (void)unlink (file);
  return ok ? 0 : 1;
}

static gboolean
parse_layers (const char *s, gboolean *out_parents, GError **error)
{
  *out_parents = s && strcmp (s, "parents") == 0;
  if (s && !*out_parents && strcmp (s, "single") != 0)
    return cairn_cli_usage_error (error, "--layers wants single or parents, not '%s'", s);
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
  g_autofree char *layers = NULL;
  gboolean no_hardlinks = FALSE;
  GOptionEntry entries[]
      = { { "format", 0, 0, G_OPTION_ARG_STRING, &format,
            "tar (default), oci (an OCI image layout), docker-archive, or a raw image: erofs, "
            "squashfs (needs FILE)",
            "FORMAT" },
          { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
            "tar: write to FILE (default: stdout)", "FILE" },
          { "subpath", 0, 0, G_OPTION_ARG_STRING, &subpath,
            "tar: export only this directory (or file) of the tree", "PATH" },
          { "compress", 0, 0, G_OPTION_ARG_STRING, &compress,
            "none, gzip, zstd or xz: the tar, or the image's layers (oci: not xz); "
            "default none, gzip for oci",
            "METHOD" },
          { "layers", 0, 0, G_OPTION_ARG_STRING, &layers,
            "oci, docker-archive: single (default) or parents (one layer per commit)", "HOW" },
          { "no-hardlinks", 0, 0, G_OPTION_ARG_NONE, &no_hardlinks,
            "tar: write identical files in full, not as hardlinks", NULL },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT [FILE | DIR[:TAG] | FILE[:NAME:TAG]]",
                        "Write the tree of a commit as a tar archive (owners, modes, symlinks, "
                        "xattrs and hardlinks preserved; stable entry order), or as a container "
                        "image: an OCI image layout or a docker-archive that skopeo, podman and "
                        "umoci read, or a file system image that a kernel mounts (erofs; squashfs: "
                        "root, made by mksquashfs).",
                        &argc, &argv, error))
    return 2;
  gboolean oci = g_strcmp0 (format, "oci") == 0;
  gboolean docker = g_strcmp0 (format, "docker-archive") == 0;
  gboolean raw = g_strcmp0 (format, "erofs") == 0 || g_strcmp0 (format, "squashfs") == 0;
  if (format && !oci && !docker && !raw && strcmp (format, "tar") != 0)
    return cairn_cli_usage_error (error,
                                  "--format wants tar, oci, docker-archive, erofs or squashfs, "
                                  "not '%s'",
                                  format),
           2;
  if (raw)
    {
      const char *file = argc == 3 ? argv[2] : output;
      if (argc < 2 || argc > 3 || !file || (argc == 3 && output) || subpath || compress
          || no_hardlinks || layers)
        return cairn_cli_usage_error (error,
                                      "--format=%s needs REF|COMMIT and FILE (no --subpath, "
                                      "--compress, --layers, --no-hardlinks)",
                                      format),
               2;
      return export_image (cli, format, argv[1], file, error);
    }
  gboolean parents = FALSE;
  if (!parse_layers (layers, &parents, error))
    return 2;
  CairnExportCompress method = CAIRN_EXPORT_COMPRESS_NONE;
  if (!parse_compress (compress, oci ? CAIRN_EXPORT_COMPRESS_GZIP : CAIRN_EXPORT_COMPRESS_NONE,
                       &method, error))
    return 2;
  if (oci || docker)
    {
      if (argc != 3 || output || subpath || no_hardlinks)
        return cairn_cli_usage_error (error,
                                      argc != 3 ? "--format=%s needs REF and a destination"
                                                : "-o, --subpath and --no-hardlinks are "
                                                  "for tar exports",
                                      format),
               2;
      if (oci)
        {
          CairnImageBuildOptions bo = { .compress = method, .layers_parents = parents };
          return export_oci (cli, argv[1], argv[2], &bo, error);
        }
      return export_docker (cli, argv[1], argv[2], parents, method, error);
    }
  if (argc == 3 && !output)
    output = g_strdup (argv[2]), argc = 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, argc < 2 ? "need REF or COMMIT" : "too many arguments"), 2;
  if (layers)
    return cairn_cli_usage_error (error, "--layers is for --format=oci or docker-archive"), 2;
  CairnExportOptions opts
      = { .subpath = subpath, .no_hardlinks = no_hardlinks, .compress = method };
  opts.progress = progress;
  return export_tar (cli, argv[1], output, &opts, error);
}
