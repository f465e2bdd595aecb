/* cairn pull [--depth=N] [--mirror] [--commit-metadata-only] [--disable-static-deltas]
 *            [--require-static-deltas] [--json] REMOTE [REF...]
 * cairn pull PATH|URL REF...
 * cairn pull docker://[HOST[:PORT]/]NAME[:TAG|@DIGEST] [-b REF] [--platform=OS/ARCH]
 *   [--creds=USER:PASS] [--authfile=FILE] [--tls-verify=false] [--cert-dir=DIR]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-pull.h"
#ifndef CAIRN_CORE
#include "image/cairn-registry.h"
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Options of the docker:// form (ignored by the others). */
typedef struct
{
  char *branch, *platform, *creds, *authfile, *cert_dir;
  gboolean tls_verify;
  int jobs;
} DockerArgs;

static gboolean
parse_tls_verify (const char *name, const char *value, gpointer data, GError **error)
{
  DockerArgs *d = data;
  if (!value || strcmp (value, "true") == 0)
    d->tls_verify = TRUE;
  else if (strcmp (value, "false") == 0)
    d->tls_verify = FALSE;
  else
    return cairn_cli_usage_error (error, "--tls-verify wants true or false, not '%s'", value);
  return TRUE;
}

#ifndef CAIRN_CORE
static void
docker_progress (const char *phase, guint64 done, guint64 total, gpointer data)
{
  if (total)
    cairn_cli_progress ("pull: %s: %.1f of %.1f MiB", phase, done / 1048576.0, total / 1048576.0);
  else
    cairn_cli_progress ("pull: %s", phase);
}

static int
pull_docker (CairnCli *cli, const char *reference, DockerArgs *d, gboolean json, GError **error)
{
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, TRUE, error);
  if (!repo)
    return 1;
  CairnRegistryPullOptions opts;
  cairn_registry_pull_options_init (&opts);
  opts.branch = d->branch;
  opts.platform = d->platform;
  opts.reg.creds = d->creds;
  opts.reg.authfile = d->authfile;
  opts.reg.tls_verify = d->tls_verify;
  opts.reg.cert_dir = d->cert_dir;
  opts.jobs = d->jobs > 0 ? (guint)d->jobs : 0;
  if (cairn_cli_progress_enabled ())
    opts.progress = docker_progress;
  CairnRegistryStats st = { 0 };
  g_autofree char *commit = NULL;
  gboolean ok = cairn_registry_pull (repo, reference, &opts, &commit, &st, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (json)
    printf ("{\"commit\":\"%s\",\"up_to_date\":%s,\"layers\":%u,\"layers_cached\":%u,"
            "\"bytes_fetched\":%" G_GUINT64_FORMAT ",\"seconds\":%.3f}\n",
            commit, st.up_to_date ? "true" : "false", st.n_layers, st.n_layers_cached,
            st.bytes_fetched, st.elapsed_us / 1e6);
  else if (cairn_cli_progress_enabled () || cli->verbose)
    {
      g_autofree char *bytes = g_format_size (st.bytes_fetched);
      if (st.up_to_date)
        fprintf (stderr, "%s: up to date (%s)\n", reference, commit);
      else
        fprintf (stderr, "%s: %u layers (%u cached), %s fetched in %.2fs: %s\n", reference,
                 st.n_layers, st.n_layers_cached, bytes, st.elapsed_us / 1e6, commit);
    }
  return 0;
}
#endif

static void
format_bytes (guint64 n, char out[32])
{
  g_autofree char *s = g_format_size (n);
  g_strlcpy (out, s, 32);
}

static void
show_progress (const CairnPullStats *st, gpointer data)
{
  (void)data;
  char bytes[32], rate[32];
  double secs = st->elapsed_us / 1e6;
  format_bytes (st->bytes_fetched, bytes);
  format_bytes (secs > 0 ? (guint64)(st->bytes_fetched / secs) : 0, rate);
  cairn_cli_progress (
      "pull: %s: %" G_GUINT64_FORMAT " objects fetched, %" G_GUINT64_FORMAT " present, %s (%s/s)",
      st->phase ? st->phase : "", st->objects_fetched, st->objects_present, bytes, rate);
}

static void
print_json (const CairnPullStats *st)
{
  printf ("{\"objects_fetched\":%" G_GUINT64_FORMAT ",\"objects_present\":%" G_GUINT64_FORMAT
          ",\"bytes_fetched\":%" G_GUINT64_FORMAT ",\"content_bytes\":%" G_GUINT64_FORMAT
          ",\"commits\":%u,\"refs_updated\":%u,\"deltas\":%u,\"delta_parts\":%u,"
          "\"seconds\":%.3f}\n",
          st->objects_fetched, st->objects_present, st->bytes_fetched, st->content_bytes,
          st->n_commits, st->n_refs_updated, st->n_deltas, st->n_delta_parts, st->elapsed_us / 1e6);
}

int
cairn_cmd_pull (CairnCli *cli, int argc, char **argv, GError **error)
{
  int depth = 0;
  gboolean mirror = FALSE, meta_only = FALSE, json = FALSE, no_deltas = FALSE, need_deltas = FALSE;
  g_autofree char *keyring = NULL;
  DockerArgs d = { .tls_verify = TRUE };
  GOptionEntry entries[]
      = { { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "Also pull N parents (-1: all history)", "N" },
          { "branch", 'b', 0, G_OPTION_ARG_STRING, &d.branch,
            "docker://: the branch to commit the image to (default NAME/TAG)", "REF" },
          { "platform", 0, 0, G_OPTION_ARG_STRING, &d.platform,
            "docker://: the platform to pick from an image index (default linux/<host arch>)",
            "OS/ARCH[/VARIANT]" },
          { "creds", 0, 0, G_OPTION_ARG_STRING, &d.creds,
            "docker://: credentials for the registry (default: the auth files)",
            "USER[:PASSWORD]" },
          { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &d.authfile,
            "docker://: the auth.json to read credentials from", "FILE" },
          { "tls-verify", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_tls_verify,
            "docker://: false: do not verify certificates, and allow plain http", "true|false" },
          { "cert-dir", 0, 0, G_OPTION_ARG_FILENAME, &d.cert_dir,
            "docker://: CA certificates (*.crt) and a client certificate (*.cert, *.key)", "DIR" },
          { "jobs", 0, 0, G_OPTION_ARG_INT, &d.jobs,
            "docker://: layers fetched at once (default 4)", "N" },
          { "mirror", 0, 0, G_OPTION_ARG_NONE, &mirror,
            "Write refs as local heads; copy the summary when pulling all refs", NULL },
          { "commit-metadata-only", 0, 0, G_OPTION_ARG_NONE, &meta_only,
            "Fetch commit objects only", NULL },
          { "disable-static-deltas", 0, 0, G_OPTION_ARG_NONE, &no_deltas,
            "Do not use static deltas", NULL },
          { "require-static-deltas", 0, 0, G_OPTION_ARG_NONE, &need_deltas,
            "Fail unless a static delta makes each commit (any transport)", NULL },
          { "keyring", 0, 0, G_OPTION_ARG_FILENAME, &keyring,
            "For a URL without a configured remote: require signatures from this keyring", "FILE" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON summary on stdout", NULL },
          { NULL } };
  if (!cairn_cli_parse_with_data (cli, entries, &d, "REMOTE|PATH|URL [REF...] | docker://IMAGE",
                                  "Fetch refs and every object they need that this repository "
                                  "lacks, or an image from an OCI registry.\n"
                                  "Objects are verified before they are stored; refs move only "
                                  "when a commit is complete.",
                                  &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "pull needs a REMOTE, PATH, URL or docker:// image"), 2;
  if (no_deltas && need_deltas)
    return cairn_cli_usage_error (error,
                                  "--disable-static-deltas and --require-static-deltas conflict"),
           2;
  gboolean docker = g_str_has_prefix (argv[1], "docker://");
  if (!docker && (d.branch || d.platform || d.creds || d.authfile || d.cert_dir || !d.tls_verify))
    return cairn_cli_usage_error (error, "-b, --platform, --creds, --authfile, --tls-verify and "
                                         "--cert-dir are for docker:// images"),
           2;
  if (docker)
    {
      if (argc != 2)
        return cairn_cli_usage_error (error, "pull docker://IMAGE takes no REF (use -b REF)"), 2;
#ifdef CAIRN_CORE
      return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                               "pull docker:// is implemented by cairn-full; run it through "
                               "`cairn`"),
             1;
#else
      int rc = pull_docker (cli, argv[1], &d, json, error);
      g_free (d.branch);
      g_free (d.platform);
      g_free (d.creds);
      g_free (d.authfile);
      g_free (d.cert_dir);
      return rc;
#endif
    }
  if (depth < -1)
    return cairn_cli_usage_error (error, "--depth must be -1 or more"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, TRUE, error);
  if (!repo)
    return 1;
  /* A transport peer that dies (ssh) must give an error, not kill us. */
  signal (SIGPIPE, SIG_IGN);
  CairnPullOptions opts;
  cairn_pull_options_init (&opts);
  opts.depth = depth;
  opts.mirror = mirror;
  opts.commit_metadata_only = meta_only;
  opts.disable_static_deltas = no_deltas;
  opts.require_static_deltas = need_deltas;
  opts.keyring = keyring;
  if (cairn_cli_progress_enabled ())
    opts.progress = show_progress;
  CairnPullStats st = { 0 };
#ifndef CAIRN_CORE
  cairn_pull_enable_http (); /* cli/front.c sends http(s) sources here */
#endif
  gboolean ok = cairn_repo_pull (repo, argv[1], (const char *const *)argv + 2, &opts, &st, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (json)
    print_json (&st);
  else if (cairn_cli_progress_enabled () || cli->verbose)
    {
      char bytes[32];
      format_bytes (st.bytes_fetched, bytes);
      fprintf (stderr,
               "%" G_GUINT64_FORMAT " objects fetched (%s) in %.2fs; %u commits, %u refs updated\n",
               st.objects_fetched, bytes, st.elapsed_us / 1e6, st.n_commits, st.n_refs_updated);
    }
  return 0;
}
