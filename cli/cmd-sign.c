/* cairn sign [--gpg-homedir=DIR] --key-id=ID... REF|COMMIT [KEY-ID...]
 * cairn sign --delete=KEYID REF|COMMIT
 * cairn sign --signature-file=FILE REF|COMMIT
 * Detached GPG signatures on commits (ostree.gpgsigs, docs/format.md §8.2).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-remote.h"
#include <stdio.h>

static int
delete_sigs (CairnRepo *repo, const char *commit, const char *key, const char *homedir,
             GError **error)
{
  guint n = 0;
  if (!cairn_repo_delete_commit_signatures (repo, commit, key, homedir, &n, error))
    return 1;
  if (n == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "commit %s has no signature by key %s",
                             commit, key),
           1;
  printf ("Signatures deleted: %u\n", n);
  return 0;
}

static int
append_file (CairnRepo *repo, const char *commit, const char *file, GError **error)
{
  g_autoptr (GBytes) sig = cairn_file_get_contents_at (AT_FDCWD, file, 1 << 20, error);
  if (!sig)
    return cairn_prefix_error (error, "reading %s", file), 1;
  if (!cairn_repo_append_commit_signature (repo, commit, sig, error))
    return 1;
  printf ("commit %s: appended the signature from %s\n", commit, file);
  return 0;
}

int
cairn_cmd_sign (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_auto (GStrv) key_ids = NULL;
  g_autofree char *homedir = NULL, *delete_key = NULL, *sig_file = NULL;
  GOptionEntry entries[]
      = { { "key-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &key_ids,
            "Sign with this secret key (repeatable)", "ID" },
          { "gpg-homedir", 0, 0, G_OPTION_ARG_FILENAME, &homedir,
            "GnuPG home holding the secret keys (default: $GNUPGHOME, ~/.gnupg)", "DIR" },
          { "delete", 'd', 0, G_OPTION_ARG_STRING, &delete_key,
            "Remove the signatures made by this key", "KEYID" },
          { "signature-file", 0, 0, G_OPTION_ARG_FILENAME, &sig_file,
            "Append a binary detached signature made elsewhere", "FILE" },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, "REF|COMMIT [KEY-ID...]",
                        "Add (or delete) detached GPG signatures on a commit. A key that already "
                        "signed the commit is refused.",
                        &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "REF or COMMIT required"), 2;
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  for (char **k = key_ids; k && *k; k++)
    g_ptr_array_add (keys, *k);
  for (int i = 2; i < argc; i++)
    g_ptr_array_add (keys, argv[i]);
  int modes = (keys->len > 0) + (delete_key != NULL) + (sig_file != NULL);
  if (modes == 0)
    return cairn_cli_usage_error (
               error, "no key given: --key-id=ID, --delete=KEYID or --signature-file=FILE"),
           2;
  if (modes > 1)
    return cairn_cli_usage_error (error,
                                  "--key-id, --delete and --signature-file exclude each other"),
           2;
  g_ptr_array_add (keys, NULL);
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!commit)
    return 1;
  if (delete_key)
    return delete_sigs (repo, commit, delete_key, homedir, error);
  if (sig_file)
    return append_file (repo, commit, sig_file, error);
  if (!cairn_repo_sign_commit (repo, commit, (const char *const *)keys->pdata, homedir, error))
    return 1;
  for (guint i = 0; keys->pdata[i]; i++)
    printf ("commit %s: signed with key %s\n", commit, (const char *)keys->pdata[i]);
  return 0;
}
