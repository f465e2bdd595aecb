/* cairn push REF docker://HOST/NAME[:TAG] [--layers=parents] [--compress=gzip|zstd|none]
 *   [--creds=USER:PASS] [--authfile=FILE] [--tls-verify=false] [--cert-dir=DIR]
 *   [--chunk-size=BYTES] [--json]
 * cairn push REMOTE|PATH|ssh://HOST/PATH [REF...] [--depth=N] [--json]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "image/cairn-registry.h"
#include "sync/cairn-pull.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  gboolean tls_verify;
} PushArgs;

static gboolean
parse_tls_verify (const char *name, const char *value, gpointer data, GError **error)
{
  PushArgs *a = data;
  if (!value || strcmp (value, "true") == 0)
    a->tls_verify = TRUE;
  else if (strcmp (value, "false") == 0)
    a->tls_verify = FALSE;
  else
    return cairn_cli_usage_error (error, "--tls-verify wants true or false, not '%s'", value);
  return TRUE;
}

static void
progress (const char *phase, guint64 done, guint64 total, gpointer data)
{
  if (total)
    cairn_cli_progress ("push: %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, phase, done,
                        total);
  else
    cairn_cli_progress ("push: %s", phase);
}

static gboolean
parse_compress (const char *s, CairnExportCompress *out, GError **error)
{
  if (!s || strcmp (s, "gzip") == 0)
    *out = CAIRN_EXPORT_COMPRESS_GZIP;
  else if (strcmp (s, "zstd") == 0)
    *out = CAIRN_EXPORT_COMPRESS_ZSTD;
  else if (strcmp (s, "none") == 0)
    *out = CAIRN_EXPORT_COMPRESS_NONE;
  else
    return cairn_cli_usage_error (error, "--compress wants gzip, zstd or none, not '%s'", s);
  return TRUE;
}

static gboolean
parse_size (const char *s, guint64 *out, GError **error)
{
  char *end = NULL;
  guint64 v = s ? g_ascii_strtoull (s, &end, 10) : 0;
  if (!s)
    return *out = 0, TRUE;
  guint64 mult = 1;
  if (end && (*end == 'k' || *end == 'K'))
    mult = 1 << 10, end++;
  else if (end && (*end == 'm' || *end == 'M'))
    mult = 1 << 20, end++;
  if (end == s || *end || v == 0)
    return cairn_cli_usage_error (error,
                                  "--chunk-size wants a positive size (BYTES, or with K or "
                                  "M), not '%s'",
                                  s);
  *out = v * mult;
  return TRUE;
}

static int
push_docker (CairnCli *cli, const char *rev, const char *dest, CairnRegistryPushOptions *opts,
             gboolean json, GError **error)
{
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  if (cairn_cli_progress_enabled ())
    opts->progress = progress;
  CairnRegistryStats st = { 0 };
  g_autofree char *digest = NULL;
  gboolean ok = cairn_registry_push (repo, rev, dest, opts, &digest, &st, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (json)
    printf ("{\"digest\":\"%s\",\"blobs_uploaded\":%u,\"blobs_present\":%u,\"blobs_mounted\":%u,"
            "\"bytes_sent\":%" G_GUINT64_FORMAT ",\"seconds\":%.3f}\n",
            digest, st.n_blobs_uploaded, st.n_blobs_present, st.n_blobs_mounted, st.bytes_sent,
            st.elapsed_us / 1e6);
  else
    printf ("%s\n", digest);
  return 0;
}

static int
push_store (CairnCli *cli, const char *dest, const char *const *refs, int depth, gboolean json,
            GError **error)
{
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  /* A far side that dies (ssh) must give an error, not kill us. */
  signal (SIGPIPE, SIG_IGN);
  CairnPushOptions opts = { .depth = depth };
  CairnPushStats st = { 0 };
  if (!cairn_repo_push (repo, dest, refs, &opts, &st, error))
    return 1;
  if (json)
    printf ("{\"objects_sent\":%" G_GUINT64_FORMAT ",\"bytes_sent\":%" G_GUINT64_FORMAT
            ",\"seconds\":%.3f}\n",
            st.objects_sent, st.bytes_sent, st.elapsed_us / 1e6);
  else if (cli->verbose)
    fprintf (stderr, "%" G_GUINT64_FORMAT " objects sent in %.2fs\n", st.objects_sent,
             st.elapsed_us / 1e6);
  return 0;
}

int
cairn_cmd_push (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *layers = NULL, *compress = NULL, *creds = NULL, *authfile = NULL;
  g_autofree char *cert_dir = NULL, *chunk = NULL;
  gboolean json = FALSE;
  int depth = 0;
  PushArgs a = { .tls_verify = TRUE };
  GOptionEntry entries[]
      = { { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
            "to a store: also push N parents (-1: all history)", "N" },
          { "layers", 0, 0, G_OPTION_ARG_STRING, &layers,
            "docker://: single (default) or parents (one layer per commit)", "HOW" },
          { "compress", 0, 0, G_OPTION_ARG_STRING, &compress,
            "docker://: layer compression, gzip (default), zstd or none", "METHOD" },
          { "creds", 0, 0, G_OPTION_ARG_STRING, &creds,
            "docker://: credentials for the registry (default: the auth files)",
            "USER[:PASSWORD]" },
          { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &authfile,
            "docker://: the auth.json to read credentials from", "FILE" },
          { "tls-verify", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_tls_verify,
            "docker://: false: do not verify certificates, and allow plain http", "true|false" },
          { "cert-dir", 0, 0, G_OPTION_ARG_FILENAME, &cert_dir,
            "docker://: CA certificates (*.crt) and a client certificate (*.cert, *.key)", "DIR" },
          { "chunk-size", 0, 0, G_OPTION_ARG_STRING, &chunk,
            "docker://: send blobs larger than this in chunks of this size (default 64M)", "SIZE" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON summary on stdout", NULL },
          { NULL } };
  if (!cairn_cli_parse_with_data (cli, entries, &a,
                                  "REF docker://HOST/NAME[:TAG] | REMOTE|PATH|URL [REF...]",
                                  "Push a commit as an OCI image to a registry, or refs and the "
                                  "objects they need to another repository (only what it lacks).",
                                  &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "push needs REF docker://IMAGE, or a REMOTE"), 2;
  if (depth < -1)
    return cairn_cli_usage_error (error, "--depth must be -1 or more"), 2;
  if (argc != 3 || !g_str_has_prefix (argv[2], "docker://"))
    {
      for (int i = 1; i < argc; i++)
        if (g_str_has_prefix (argv[i], "docker://"))
          return cairn_cli_usage_error (error, "push docker:// takes exactly REF and the image"), 2;
      if (layers || compress || creds || authfile || cert_dir || chunk || !a.tls_verify)
        return cairn_cli_usage_error (error, "--layers, --compress, --creds, --authfile, "
                                             "--tls-verify, --cert-dir and --chunk-size are for "
                                             "docker:// images"),
               2;
      return push_store (cli, argv[1], (const char *const *)argv + 2, depth, json, error);
    }
  CairnRegistryPushOptions opts;
  cairn_registry_push_options_init (&opts);
  opts.reg.creds = creds;
  opts.reg.authfile = authfile;
  opts.reg.tls_verify = a.tls_verify;
  opts.reg.cert_dir = cert_dir;
  if (layers && strcmp (layers, "parents") != 0 && strcmp (layers, "single") != 0)
    return cairn_cli_usage_error (error, "--layers wants single or parents, not '%s'", layers), 2;
  opts.build.layers_parents = g_strcmp0 (layers, "parents") == 0;
  if (!parse_compress (compress, &opts.build.compress, error)
      || !parse_size (chunk, &opts.chunk_size, error))
    return 2;
  return push_docker (cli, argv[1], argv[2], &opts, json, error);
}
