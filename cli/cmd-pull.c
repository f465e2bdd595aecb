/* cairn pull [--depth=N] [--mirror] [--commit-metadata-only] [--disable-static-deltas]
 *            [--require-static-deltas] [--json] REMOTE [REF...]
 * cairn pull PATH|URL REF...
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-pull.h"
#include <signal.h>
#include <stdio.h>

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
  GOptionEntry entries[]
      = { { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "Also pull N parents (-1: all history)", "N" },
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
  if (!cairn_cli_parse (cli, entries, "REMOTE|PATH|URL [REF...]",
                        "Fetch refs and every object they need that this repository lacks.\n"
                        "Objects are verified before they are stored; refs move only when a "
                        "commit is complete.",
                        &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "pull needs a REMOTE, PATH or URL"), 2;
  if (no_deltas && need_deltas)
    return cairn_cli_usage_error (error,
                                  "--disable-static-deltas and --require-static-deltas conflict"),
           2;
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
