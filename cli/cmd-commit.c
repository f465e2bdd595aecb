/* cairn commit -b REF [options] [--tree=dir=PATH | --tree=tar=FILE | PATH]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-remote.h"
#include "image/cairn-image.h"
#include <stdio.h>
#include <string.h>

static void
progress (guint64 files, guint64 bytes, gpointer data)
{
  cairn_cli_progress_counts (files, bytes);
}

static gboolean
parse_metadata (char **strings, GVariant **out, GError **error)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  for (char **s = strings; s && *s; s++)
    {
      const char *eq = strchr (*s, '=');
      if (!eq || eq == *s)
        {
          g_variant_builder_clear (&b);
          return cairn_cli_usage_error (error, "--add-metadata-string wants KEY=VALUE, not '%s'",
                                        *s);
        }
      g_autofree char *k = g_strndup (*s, eq - *s);
      g_variant_builder_add (&b, "{sv}", k, g_variant_new_string (eq + 1));
    }
  *out = g_variant_ref_sink (g_variant_builder_end (&b));
  return TRUE;
}

int
cairn_cmd_commit (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *branch = NULL, *subject = NULL, *body = NULL, *parent = NULL, *tree = NULL;
  g_autofree char *max_object = NULL, *max_tree = NULL;
  g_autofree char *timestamp = NULL;
  g_auto (GStrv) meta_strings = NULL;
  g_auto (GStrv) gpg_sign = NULL;
  g_autofree char *gpg_homedir = NULL;
  gint64 owner_uid = -1, owner_gid = -1;
  gboolean canonical = FALSE, no_xattrs = FALSE, no_bindings = FALSE, orphan = FALSE;
  gboolean no_devino = FALSE;
  GOptionEntry entries[] = {
    { "branch", 'b', 0, G_OPTION_ARG_STRING, &branch, "Branch (ref) to commit to", "REF" },
    { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, "One-line subject", "SUBJECT" },
    { "body", 'm', 0, G_OPTION_ARG_STRING, &body, "Full description", "BODY" },
    { "parent", 0, 0, G_OPTION_ARG_STRING, &parent,
      "Parent commit, or 'none' (default: the branch's commit)", "COMMIT" },
    { "tree", 0, 0, G_OPTION_ARG_STRING, &tree, "dir=PATH or tar=FILE|- (instead of PATH)",
      "SOURCE" },
    { "owner-uid", 0, 0, G_OPTION_ARG_INT64, &owner_uid, "Set uid of every entry", "UID" },
    { "owner-gid", 0, 0, G_OPTION_ARG_INT64, &owner_gid, "Set gid of every entry", "GID" },
    { "canonical-permissions", 0, 0, G_OPTION_ARG_NONE, &canonical,
      "uid/gid 0, modes & 0755, no xattrs", NULL },
    { "no-xattrs", 0, 0, G_OPTION_ARG_NONE, &no_xattrs, "Do not record extended attributes", NULL },
    { "timestamp", 0, 0, G_OPTION_ARG_STRING, &timestamp, "Commit time: @EPOCH or ISO 8601",
      "TIME" },
    { "add-metadata-string", 0, 0, G_OPTION_ARG_STRING_ARRAY, &meta_strings,
      "Add KEY=VALUE metadata (repeatable)", "KEY=VALUE" },
    { "no-bindings", 0, 0, G_OPTION_ARG_NONE, &no_bindings, "Do not add ostree.ref-binding", NULL },
    { "max-object-size", 0, 0, G_OPTION_ARG_STRING, &max_object,
      "Refuse a file larger than SIZE (untrusted tarballs and images)", "SIZE" },
    { "max-tree-size", 0, 0, G_OPTION_ARG_STRING, &max_tree,
      "Refuse files adding up to more than SIZE", "SIZE" },
    { "orphan", 0, 0, G_OPTION_ARG_NONE, &orphan, "Commit without a branch", NULL },
    { "no-devino-cache", 0, 0, G_OPTION_ARG_NONE, &no_devino,
      "Re-hash every file even if a checkout is recognised", NULL },
    { "gpg-sign", 0, 0, G_OPTION_ARG_STRING_ARRAY, &gpg_sign,
      "Sign the commit with this GPG key (repeatable)", "KEY-ID" },
    { "gpg-homedir", 0, 0, G_OPTION_ARG_FILENAME, &gpg_homedir, "GnuPG home holding the secret key",
      "DIR" },
    { NULL }
  };
  if (!cairn_cli_parse (cli, entries, "[PATH]",
                        "Commit a directory tree (or a tarball) to a branch.", &argc, &argv, error))
    return 2;
  if (!branch && !orphan)
    return cairn_cli_usage_error (error, "a branch is required (-b REF), or --orphan"), 2;
  if (branch && !cairn_validate_ref_name (branch, error))
    return 1;
  const char *source = argc > 1 ? argv[1] : NULL;
  if (argc > 2)
    return cairn_cli_usage_error (error, "too many arguments"), 2;
  gboolean is_tar = FALSE;
  if (tree)
    {
      if (source)
        return cairn_cli_usage_error (error, "give either PATH or --tree, not both"), 2;
      if (g_str_has_prefix (tree, "dir="))
        source = tree + 4;
      else if (g_str_has_prefix (tree, "tar="))
        source = tree + 4, is_tar = TRUE;
      else
        return cairn_cli_usage_error (error, "--tree wants dir=PATH or tar=FILE, not '%s'", tree),
               2;
    }
  if (!source)
    return cairn_cli_usage_error (error, "nothing to commit: give PATH or --tree"), 2;
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  opts.branch = branch;
  opts.subject = subject;
  opts.body = body;
  opts.parent = parent;
  opts.owner_uid = owner_uid;
  opts.owner_gid = owner_gid;
  opts.canonical_permissions = canonical;
  opts.no_xattrs = no_xattrs;
  opts.no_bindings = no_bindings;
  opts.use_devino_cache = !no_devino;
  opts.progress = progress;
  if (timestamp && !cairn_cli_parse_timestamp (timestamp, &opts.timestamp, error))
    return 2;
  opts.has_timestamp = timestamp != NULL;
  if (!cairn_cli_parse_limits (max_object, max_tree, &opts, error))
    return 2;
  g_autoptr (GVariant) meta = NULL;
  if (!parse_metadata (meta_strings, &meta, error))
    return 2;
  opts.extra_metadata = meta;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, TRUE, error);
  if (!repo)
    return 1;
  g_autofree char *checksum = NULL;
  CairnTxnStats stats = { 0 };
  gboolean ok;
  if (is_tar)
    {
      g_auto (CairnImportStats) istats = { 0 };
      ok = cairn_repo_import_tar (repo, source, &opts, &checksum, &stats, &istats, error);
      cairn_cli_progress_end ();
      if (ok && istats.n_skipped_special)
        fprintf (stderr,
                 "cairn: commit: warning: skipped %u device nodes, fifos or sockets (first: %s)\n",
                 istats.n_skipped_special, istats.first_skipped);
    }
  else
    ok = cairn_repo_commit_dir (repo, AT_FDCWD, source, &opts, &checksum, &stats, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (gpg_sign
      && !cairn_repo_sign_commit (repo, checksum, (const char *const *)gpg_sign, gpg_homedir,
                                  error))
    return cairn_prefix_error (error, "commit %s was written, but signing it failed", checksum), 1;
  if (cli->verbose)
    fprintf (stderr,
             "cairn: wrote %" G_GUINT64_FORMAT " content objects (%" G_GUINT64_FORMAT
             " bytes), %" G_GUINT64_FORMAT " metadata objects; %" G_GUINT64_FORMAT " devino hits\n",
             stats.content_written, stats.content_bytes_written, stats.metadata_written,
             stats.devino_hits);
  printf ("%s\n", checksum);
  return 0;
}
