/* cairn remote add [--no-gpg-verify] [--gpg-import=KEYFILE] [--set=K=V...] [--if-not-exists] NAME
 * URL [BRANCH...] cairn remote gpg-import NAME KEYFILE...     (or --stdin) cairn remote list [-u] |
 * show NAME [--json] | delete [--if-exists] NAME Remotes stored exactly as OSTree stores them
 * (docs/format.md §12.1, §8.5). SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-remote.h"
#include <stdio.h>
#include <string.h>

/* A plain path becomes an absolute file:// URL, which ostree reads too. */
static char *
normalize_url (const char *arg, GError **error)
{
  if (*arg == '\0')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "empty URL"), NULL;
  if (strstr (arg, "://") || g_str_has_prefix (arg, "mirrorlist="))
    return g_strdup (arg);
  g_autofree char *abs = g_canonicalize_filename (arg, NULL);
  return g_filename_to_uri (abs, NULL, error);
}

static GBytes *
read_keys (char **files, gboolean from_stdin, GError **error)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  if (from_stdin)
    {
      g_autoptr (GBytes) b = cairn_fd_read_all (STDIN_FILENO, 64 << 20, error);
      if (!b)
        return NULL;
      g_byte_array_append (all, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    }
  for (char **f = files; f && *f; f++)
    {
      /* Final symlink followed, as for any file named on the command line. */
      g_autofree char *data = NULL;
      gsize len;
      if (!g_file_get_contents (*f, &data, &len, error))
        return NULL;
      g_byte_array_append (all, (const guint8 *)data, len);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

static int
cmd_add (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean no_gpg = FALSE, if_not_exists = FALSE;
  g_autofree char *import = NULL;
  g_auto (GStrv) sets = NULL;
  GOptionEntry entries[]
      = { { "no-gpg-verify", 0, 0, G_OPTION_ARG_NONE, &no_gpg,
            "Do not require signed commits from this remote (gpg-verify=false)", NULL },
          { "gpg-import", 0, 0, G_OPTION_ARG_FILENAME, &import,
            "Import public keys from this file into NAME.trustedkeys.gpg", "KEYFILE" },
          { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
            "Set a remote option, e.g. gpg-verify-summary=true (repeatable)", "KEY=VALUE" },
          { "if-not-exists", 0, 0, G_OPTION_ARG_NONE, &if_not_exists,
            "Succeed if the remote already exists", NULL },
          { NULL } };
  cli->name = "remote add";
  if (!cairn_cli_parse (cli, entries, "NAME URL [BRANCH...]",
                        "Add a remote. URL: a path, file://PATH, http(s)://HOST/PATH or "
                        "ssh://[USER@]HOST[:PORT]/PATH.",
                        &argc, &argv, error))
    return 2;
  if (argc < 3)
    return cairn_cli_usage_error (error, "NAME and URL required"), 2;
  g_autofree char *url = normalize_url (argv[2], error);
  if (!url)
    return 1;
  g_autoptr (GBytes) keys = NULL;
  char *files[] = { import, NULL };
  if (import && !(keys = read_keys (files, FALSE, error)))
    return 1;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, TRUE, error);
  if (!repo)
    return 1;
  g_autofree char *group = g_strdup_printf ("remote \"%s\"", argv[1]);
  gboolean existed = g_key_file_has_group (repo->config, group);
  if (!cairn_repo_remote_add (repo, argv[1], url, (const char *const *)argv + 3,
                              (const char *const *)sets, !no_gpg, if_not_exists, error))
    return 1;
  if (keys && !existed)
    {
      guint n = 0;
      if (!cairn_repo_remote_gpg_import (repo, argv[1], keys, &n, error))
        {
          /* Do not leave a remote behind that lacks the keys asked for. */
          (void)cairn_repo_remote_delete (repo, argv[1], TRUE, NULL);
          return 1;
        }
      printf ("Imported %u GPG key%s to remote \"%s\"\n", n, n == 1 ? "" : "s", argv[1]);
    }
  return 0;
}

static int
cmd_gpg_import (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean from_stdin = FALSE;
  g_auto (GStrv) keyrings = NULL;
  GOptionEntry entries[]
      = { { "keyring", 'k', 0, G_OPTION_ARG_FILENAME_ARRAY, &keyrings,
            "Import keys from this file (repeatable; same as a KEYFILE argument)", "FILE" },
          { "stdin", 0, 0, G_OPTION_ARG_NONE, &from_stdin, "Import keys from standard input",
            NULL },
          { NULL } };
  cli->name = "remote gpg-import";
  if (!cairn_cli_parse (cli, entries, "NAME [KEYFILE...]",
                        "Import public keys (binary or armored) into the remote's keyring "
                        "<repo>/NAME.trustedkeys.gpg.",
                        &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "NAME required"), 2;
  g_autoptr (GPtrArray) files = g_ptr_array_new ();
  for (char **k = keyrings; k && *k; k++)
    g_ptr_array_add (files, *k);
  for (int i = 2; i < argc; i++)
    g_ptr_array_add (files, argv[i]);
  if (files->len == 0 && !from_stdin)
    return cairn_cli_usage_error (error, "no keys: give KEYFILE, --keyring=FILE or --stdin"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  /* One merge per source: armored and binary key data cannot be
   * concatenated into one import. */
  guint n = 0;
  for (guint i = 0; i <= files->len; i++)
    {
      if (i == files->len && !from_stdin)
        break;
      char *one[] = { i < files->len ? files->pdata[i] : NULL, NULL };
      g_autoptr (GBytes) keys = read_keys (one, i == files->len, error);
      guint ni = 0;
      if (!keys || !cairn_repo_remote_gpg_import (repo, argv[1], keys, &ni, error))
        return 1;
      n += ni;
    }
  printf ("Imported %u GPG key%s to remote \"%s\"\n", n, n == 1 ? "" : "s", argv[1]);
  return 0;
}

static int
cmd_list (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean show_urls = FALSE;
  GOptionEntry entries[]
      = { { "show-urls", 'u', 0, G_OPTION_ARG_NONE, &show_urls, "Show the URLs too", NULL },
          { NULL } };
  cli->name = "remote list";
  if (!cairn_cli_parse (cli, entries, NULL, "List the configured remotes.", &argc, &argv, error))
    return 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_auto (GStrv) names = cairn_repo_remote_list (repo);
  for (char **n = names; *n; n++)
    {
      g_autoptr (CairnRemote) r = show_urls ? cairn_repo_remote_get (repo, *n, NULL) : NULL;
      if (r)
        printf ("%-20s %s\n", *n, r->url);
      else
        printf ("%s\n", *n);
    }
  return 0;
}

static void
show_text (const CairnRemote *r, GPtrArray *keys)
{
  printf ("Name: %s\nURL: %s\ngpg-verify: %s\ngpg-verify-summary: %s\n", r->name, r->url,
          r->gpg_verify ? "true" : "false", r->gpg_verify_summary ? "true" : "false");
  if (r->branches)
    {
      g_autofree char *b = g_strjoinv (" ", r->branches);
      printf ("Branches: %s\n", b);
    }
  GVariantIter it;
  const char *k, *v;
  g_variant_iter_init (&it, r->options);
  while (g_variant_iter_next (&it, "{&s&s}", &k, &v))
    if (strcmp (k, "url") != 0 && strcmp (k, "gpg-verify") != 0
        && strcmp (k, "gpg-verify-summary") != 0 && strcmp (k, "branches") != 0)
      printf ("%s: %s\n", k, v);
  printf ("Keyring: %s (%u key%s)\n", r->keyring, keys->len, keys->len == 1 ? "" : "s");
  for (guint i = 0; i < keys->len; i++)
    {
      const CairnKeyInfo *ki = keys->pdata[i];
      printf ("  %s %s%s%s\n", ki->fingerprint ? ki->fingerprint : ki->key_id,
              ki->user_id ? ki->user_id : "", ki->revoked ? " [revoked]" : "",
              ki->expired ? " [expired]" : "");
    }
}

static void
show_json (const CairnRemote *r, GPtrArray *keys)
{
  g_autoptr (GString) s = g_string_new ("{\"name\":");
  cairn_json_append_string (s, r->name);
  g_string_append (s, ",\"url\":");
  cairn_json_append_string (s, r->url);
  g_string_append_printf (s, ",\"gpg-verify\":%s,\"gpg-verify-summary\":%s,\"options\":{",
                          r->gpg_verify ? "true" : "false",
                          r->gpg_verify_summary ? "true" : "false");
  GVariantIter it;
  const char *k, *v;
  gboolean first = TRUE;
  g_variant_iter_init (&it, r->options);
  while (g_variant_iter_next (&it, "{&s&s}", &k, &v))
    {
      if (!first)
        g_string_append_c (s, ',');
      first = FALSE;
      cairn_json_append_string (s, k);
      g_string_append_c (s, ':');
      cairn_json_append_string (s, v);
    }
  g_string_append (s, "},\"keyring\":");
  cairn_json_append_string (s, r->keyring);
  g_string_append (s, ",\"keys\":[");
  for (guint i = 0; i < keys->len; i++)
    {
      const CairnKeyInfo *ki = keys->pdata[i];
      g_string_append (s, i ? ",{\"key-id\":" : "{\"key-id\":");
      cairn_json_append_string (s, ki->key_id);
      g_string_append (s, ",\"fingerprint\":");
      cairn_json_append_string (s, ki->fingerprint);
      g_string_append (s, ",\"user-id\":");
      if (ki->user_id)
        cairn_json_append_string (s, ki->user_id);
      else
        g_string_append (s, "null");
      g_string_append_printf (s,
                              ",\"created\":%" G_GINT64_FORMAT ",\"expires\":%" G_GINT64_FORMAT
                              ",\"expired\":%s,\"revoked\":%s}",
                              ki->created, ki->expires, ki->expired ? "true" : "false",
                              ki->revoked ? "true" : "false");
    }
  g_string_append (s, "]}");
  printf ("%s\n", s->str);
}

static int
cmd_show (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print as JSON", NULL }, { NULL } };
  cli->name = "remote show";
  if (!cairn_cli_parse (cli, entries, "NAME", "Show a remote's options and trusted keys.", &argc,
                        &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "exactly one NAME expected"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autoptr (CairnRemote) r = cairn_repo_remote_get (repo, argv[1], error);
  g_autoptr (GPtrArray) keys = r ? cairn_repo_remote_list_keys (repo, argv[1], error) : NULL;
  if (!keys)
    return 1;
  if (json)
    show_json (r, keys);
  else
    show_text (r, keys);
  return 0;
}

static int
cmd_delete (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean if_exists = FALSE;
  GOptionEntry entries[] = { { "if-exists", 0, 0, G_OPTION_ARG_NONE, &if_exists,
                               "Succeed if the remote does not exist", NULL },
                             { NULL } };
  cli->name = "remote delete";
  if (!cairn_cli_parse (cli, entries, "NAME",
                        "Delete a remote, its keyring and its remote-tracking refs (objects stay "
                        "until prune).",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "exactly one NAME expected"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo || !cairn_repo_remote_delete (repo, argv[1], if_exists, error))
    return 1;
  return 0;
}

static const struct
{
  const char *name;
  int (*fn) (CairnCli *, int, char **, GError **);
} verbs[] = {
  { "add", cmd_add },   { "gpg-import", cmd_gpg_import }, { "list", cmd_list },
  { "show", cmd_show }, { "delete", cmd_delete },
};

const char *
cairn_cmd_remote_verb (guint i)
{
  return i < G_N_ELEMENTS (verbs) ? verbs[i].name : NULL;
}

int
cairn_cmd_remote (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      printf ("Usage: cairn remote add|gpg-import|list|show|delete [OPTIONS...]\n\n"
              "Manage remotes ([remote \"NAME\"] in <repo>/config, keys in "
              "<repo>/NAME.trustedkeys.gpg).\n'cairn remote VERB --help' for a verb.\n");
      return 0;
    }
  if (argc < 2)
    return cairn_cli_usage_error (error, "a verb is required: add, gpg-import, list, show, delete"),
           2;
  for (gsize i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (strcmp (argv[1], verbs[i].name) == 0)
      return verbs[i].fn (cli, argc - 1, argv + 1, error);
  return cairn_cli_usage_error (error, "unknown verb '%s' (add, gpg-import, list, show, delete)",
                                argv[1]),
         2;
}
