/* cairn verify [--keyring=FILE | --remote=NAME] [--json] REF|COMMIT
 * Lists every signature of a commit; exit 0 only when at least one is good
 * and made by a key of the keyring set the trust policy selects
 * (sync/cairn-remote.h, docs/cairn-sign.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-remote.h"
#include <stdio.h>
#include <string.h>

/* "REMOTE:REF" names content from REMOTE: its keyring applies. */
static char *
remote_of_rev (const char *rev)
{
  const char *colon = strchr (rev, ':');
  return colon ? g_strndup (rev, colon - rev) : NULL;
}

static void
print_json (const char *commit, const char *source, const CairnVerifyResult *result)
{
  g_autofree char *rjson = cairn_verify_result_to_json (result);
  GString *s = g_string_new ("{\"commit\":");
  cairn_json_append_string (s, commit);
  g_string_append (s, ",\"keyring\":");
  cairn_json_append_string (s, source);
  g_string_append_printf (s, ",\"verified\":%s,",
                          cairn_verify_result_any_good (result) ? "true" : "false");
  g_string_append (s, rjson + 1); /* the result's members */
  printf ("%s\n", s->str);
  g_string_free (s, TRUE);
}

int
cairn_cmd_verify (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *keyring = NULL, *remote = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "keyring", 0, 0, G_OPTION_ARG_FILENAME, &keyring,
            "Trust only the keys in this keyring file", "FILE" },
          { "remote", 0, 0, G_OPTION_ARG_STRING, &remote, "Trust the keyring of this remote",
            "NAME" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the result as JSON", NULL },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT",
                        "Verify the GPG signatures of a commit. Keys: --keyring, else the remote's "
                        "keyring (--remote, or REMOTE:REF), else the repository's trusted.gpg.d/.",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "exactly one REF or COMMIT expected"), 2;
  if (keyring && remote)
    return cairn_cli_usage_error (error, "--keyring and --remote exclude each other"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!commit)
    return 1;
  if (!keyring && !remote)
    remote = remote_of_rev (argv[1]);
  g_autofree char *source = NULL;
  g_autoptr (CairnKeyringSet) probe
      = cairn_repo_get_keyring_set (repo, remote, keyring, &source, error);
  if (!probe)
    return 1;
  g_autoptr (CairnVerifyResult) result = NULL;
  if (!cairn_repo_verify_commit (repo, commit, remote, keyring, &result, error))
    return 1;
  if (json)
    print_json (commit, source, result);
  else
    {
      g_autofree char *text = cairn_verify_result_to_text (result);
      printf ("commit %s\ntrusted keys: %s\n%s", commit, source, text);
    }
  if (cairn_verify_result_any_good (result))
    return 0;
  g_autofree char *why = cairn_verify_result_describe_failure (result);
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "commit %s: %s", commit, why), 1;
}
