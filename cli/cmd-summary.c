/* cairn summary -u [--gpg-sign=ID...] [--gpg-homedir=DIR] [-m KEY=VALUE...]
 * cairn summary --view [--json]
 * cairn summary --verify [--keyring=FILE | --remote=NAME] [--json]
 * The published ref list (docs/format.md §10) and its signature (§8.3).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-remote.h"
#include <stdio.h>
#include <string.h>

/* -m KEY=VALUE: VALUE in GVariant text format, stored as given (ostree). */
static gboolean
parse_extra (char **items, GVariant **out, GError **error)
{
  if (!items || !items[0])
    return TRUE;
  g_auto (GVariantBuilder) b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  for (char **it = items; *it; it++)
    {
      const char *eq = strchr (*it, '=');
      if (!eq || eq == *it)
        return cairn_cli_usage_error (error, "--add-metadata wants KEY=VALUE, not '%s'", *it);
      g_autofree char *key = g_strndup (*it, eq - *it);
      g_autoptr (GError) local = NULL;
      GVariant *v = g_variant_parse (NULL, eq + 1, NULL, NULL, &local);
      if (!v)
        return cairn_cli_usage_error (error, "--add-metadata %s: %s", key, local->message);
      g_variant_builder_add (&b, "{sv}", key, v);
    }
  *out = g_variant_ref_sink (g_variant_builder_end (&b));
  return TRUE;
}

static void
view_text (const CairnSummary *s, guint n_sigs)
{
  for (guint i = 0; i < s->refs->len; i++)
    {
      const CairnSummaryRef *r = s->refs->pdata[i];
      g_autofree char *ts = cairn_cli_format_time (r->timestamp);
      printf ("* %s\n    Latest Commit (%" G_GUINT64_FORMAT " bytes):\n      %s\n", r->ref,
              r->commit_size, r->commit);
      if (r->timestamp)
        printf ("    Timestamp (ostree.commit.timestamp): %s\n", ts);
      if (r->version)
        printf ("    Version (ostree.commit.version): %s\n", r->version);
      printf ("\n");
    }
  g_autofree char *lm = cairn_cli_format_time (s->last_modified);
  printf ("Repository Mode (ostree.summary.mode): %s\n", s->mode ? s->mode : "(unset)");
  printf ("Last-Modified (ostree.summary.last-modified): %s\n", lm);
  if (s->expires)
    {
      g_autofree char *ex = cairn_cli_format_time (s->expires);
      printf ("Expires (ostree.summary.expires): %s\n", ex);
    }
  if (s->collection_id)
    printf ("Collection ID (ostree.summary.collection-id): %s\n", s->collection_id);
  printf ("Has Tombstone Commits (ostree.summary.tombstone-commits): %s\n",
          s->tombstone_commits ? "Yes" : "No");
  printf ("Indexed Deltas (ostree.summary.indexed-deltas): %s\n", s->indexed_deltas ? "Yes" : "No");
  printf ("Signatures (summary.sig): %u\n", n_sigs);
}

static void
view_json (const CairnSummary *s, guint n_sigs)
{
  g_autoptr (GString) j = g_string_new ("{\"refs\":[");
  for (guint i = 0; i < s->refs->len; i++)
    {
      const CairnSummaryRef *r = s->refs->pdata[i];
      g_string_append (j, i ? ",{\"name\":" : "{\"name\":");
      cairn_json_append_string (j, r->ref);
      g_string_append (j, ",\"commit\":");
      cairn_json_append_string (j, r->commit);
      g_string_append_printf (j,
                              ",\"commit-size\":%" G_GUINT64_FORMAT
                              ",\"timestamp\":%" G_GUINT64_FORMAT ",\"version\":",
                              r->commit_size, r->timestamp);
      if (r->version)
        cairn_json_append_string (j, r->version);
      else
        g_string_append (j, "null");
      g_string_append_c (j, '}');
    }
  g_string_append_printf (j,
                          "],\"last-modified\":%" G_GUINT64_FORMAT ",\"mode\":", s->last_modified);
  if (s->mode)
    cairn_json_append_string (j, s->mode);
  else
    g_string_append (j, "null");
  g_string_append (j, ",\"collection-id\":");
  if (s->collection_id)
    cairn_json_append_string (j, s->collection_id);
  else
    g_string_append (j, "null");
  g_string_append_printf (j, ",\"tombstone-commits\":%s,\"indexed-deltas\":%s,\"n-signatures\":%u}",
                          s->tombstone_commits ? "true" : "false",
                          s->indexed_deltas ? "true" : "false", n_sigs);
  printf ("%s\n", j->str);
}

static guint
count_sigs (CairnRepo *repo)
{
  g_autoptr (GBytes) b
      = cairn_file_get_contents_at (repo->repo_dfd, "summary.sig", CAIRN_MAX_METADATA_SIZE, NULL);
  if (!b)
    return 0;
  g_autoptr (GVariant) d
      = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, b, FALSE));
  g_autoptr (GVariant) sigs
      = g_variant_lookup_value (d, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay"));
  return sigs ? g_variant_n_children (sigs) : 0;
}

static int
do_view (CairnRepo *repo, gboolean json, GError **error)
{
  g_autoptr (GBytes) data
      = cairn_file_get_contents_at (repo->repo_dfd, "summary", CAIRN_MAX_METADATA_SIZE, error);
  if (!data)
    return cairn_prefix_error (error, "no summary (run 'cairn summary -u')"), 1;
  g_autoptr (CairnSummary) s = cairn_summary_parse (data, error);
  if (!s)
    return 1;
  if (json)
    view_json (s, count_sigs (repo));
  else
    view_text (s, count_sigs (repo));
  return 0;
}

static int
do_verify (CairnRepo *repo, const char *remote, const char *keyring, gboolean json, GError **error)
{
  g_autofree char *source = NULL;
  g_autoptr (CairnKeyringSet) probe
      = cairn_repo_get_keyring_set (repo, remote, keyring, &source, error);
  g_autoptr (CairnVerifyResult) result = NULL;
  if (!probe || !cairn_repo_verify_summary (repo, NULL, NULL, remote, keyring, &result, error))
    return 1;
  if (json)
    {
      g_autofree char *r = cairn_verify_result_to_json (result);
      g_autoptr (GString) s = g_string_new ("{\"keyring\":");
      cairn_json_append_string (s, source);
      g_string_append_printf (s, ",\"verified\":%s,%s",
                              cairn_verify_result_any_good (result) ? "true" : "false", r + 1);
      printf ("%s\n", s->str);
    }
  else
    {
      g_autofree char *text = cairn_verify_result_to_text (result);
      printf ("summary\ntrusted keys: %s\n%s", source, text);
    }
  if (cairn_verify_result_any_good (result))
    return 0;
  g_autofree char *why = cairn_verify_result_describe_failure (result);
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "summary: %s", why), 1;
}

int
cairn_cmd_summary (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean update = FALSE, view = FALSE, verify = FALSE, json = FALSE;
  g_auto (GStrv) sign_keys = NULL, extra_items = NULL;
  g_autofree char *homedir = NULL, *keyring = NULL, *remote = NULL;
  GOptionEntry entries[]
      = { { "update", 'u', 0, G_OPTION_ARG_NONE, &update, "Regenerate the summary file", NULL },
          { "gpg-sign", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sign_keys,
            "With -u: sign it with this key (repeatable), writing summary.sig", "ID" },
          { "gpg-homedir", 0, 0, G_OPTION_ARG_FILENAME, &homedir,
            "GnuPG home holding the secret keys", "DIR" },
          { "add-metadata", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &extra_items,
            "With -u: add KEY=VALUE (GVariant text) to the metadata", "KEY=VALUE" },
          { "view", 0, 0, G_OPTION_ARG_NONE, &view, "Print the summary", NULL },
          { "verify", 0, 0, G_OPTION_ARG_NONE, &verify, "Verify summary.sig", NULL },
          { "keyring", 0, 0, G_OPTION_ARG_FILENAME, &keyring,
            "With --verify: trust only this keyring file", "FILE" },
          { "remote", 0, 0, G_OPTION_ARG_STRING, &remote,
            "With --verify: trust this remote's keyring", "NAME" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output (--view, --verify)", NULL },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, NULL,
                        "Write, print or verify the summary file (the signed list of refs a "
                        "repository publishes).",
                        &argc, &argv, error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  if (update + view + verify != 1)
    return cairn_cli_usage_error (error, "give exactly one of -u, --view, --verify"), 2;
  if ((sign_keys || extra_items) && !update)
    return cairn_cli_usage_error (error, "--gpg-sign and --add-metadata go with -u"), 2;
  if ((keyring || remote) && !verify)
    return cairn_cli_usage_error (error, "--keyring and --remote go with --verify"), 2;
  if (keyring && remote)
    return cairn_cli_usage_error (error, "--keyring and --remote exclude each other"), 2;
  g_autoptr (GVariant) extra = NULL;
  if (!parse_extra (extra_items, &extra, error))
    return 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  if (view)
    return do_view (repo, json, error);
  if (verify)
    return do_verify (repo, remote, keyring, json, error);
  if (!cairn_repo_regenerate_summary (repo, extra, (const char *const *)sign_keys, homedir, error))
    return 1;
  return 0;
}
