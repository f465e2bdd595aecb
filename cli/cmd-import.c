/* cairn import oci DIR[:TAG] -b REF | cairn import docker-archive FILE[:TAG] -b REF
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "image/cairn-image.h"
#include <stdio.h>
#include <string.h>

static void
progress (guint64 files, guint64 bytes, gpointer data)
{
  cairn_cli_progress_counts (files, bytes);
}

/* "PATH[:REFERENCE]", as skopeo writes its oci: and docker-archive:
 * transports: the reference is a tag ("latest") or a name and tag
 * ("busybox:latest"), so it may hold a ':' itself. PATH is the shortest
 * prefix before a ':' that exists; a path that itself contains ':' works
 * when it exists whole. When nothing exists, the part before the first ':'
 * is named in the error. */
static void
split_tag (const char *arg, char **out_path, char **out_tag)
{
  const char *first = arg[0] ? strchr (arg + 1, ':') : NULL;
  *out_tag = NULL;
  if (!first || access (arg, F_OK) == 0)
    {
      *out_path = g_strdup (arg);
      return;
    }
  for (const char *c = first; c; c = strchr (c + 1, ':'))
    {
      g_autofree char *prefix = g_strndup (arg, c - arg);
      if (access (prefix, F_OK) == 0)
        {
          *out_path = g_steal_pointer (&prefix);
          *out_tag = g_strdup (c + 1);
          return;
        }
    }
  *out_path = g_strndup (arg, first - arg);
  *out_tag = g_strdup (first + 1);
}

int
cairn_cmd_import (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *branch = NULL, *subject = NULL, *body = NULL, *parent = NULL, *timestamp = NULL;
  g_autofree char *max_object = NULL, *max_tree = NULL;
  gint64 owner_uid = -1, owner_gid = -1;
  gboolean canonical = FALSE, no_xattrs = FALSE, no_bindings = FALSE, orphan = FALSE;
  GOptionEntry entries[] = {
    { "branch", 'b', 0, G_OPTION_ARG_STRING, &branch, "Branch (ref) to commit to", "REF" },
    { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, "One-line subject", "SUBJECT" },
    { "body", 'm', 0, G_OPTION_ARG_STRING, &body, "Full description", "BODY" },
    { "parent", 0, 0, G_OPTION_ARG_STRING, &parent, "Parent commit, or 'none'", "COMMIT" },
    { "owner-uid", 0, 0, G_OPTION_ARG_INT64, &owner_uid, "Set uid of every entry", "UID" },
    { "owner-gid", 0, 0, G_OPTION_ARG_INT64, &owner_gid, "Set gid of every entry", "GID" },
    { "canonical-permissions", 0, 0, G_OPTION_ARG_NONE, &canonical,
      "uid/gid 0, modes & 0755, no xattrs", NULL },
    { "no-xattrs", 0, 0, G_OPTION_ARG_NONE, &no_xattrs, "Do not record extended attributes", NULL },
    { "timestamp", 0, 0, G_OPTION_ARG_STRING, &timestamp, "Commit time: @EPOCH or ISO 8601",
      "TIME" },
    { "no-bindings", 0, 0, G_OPTION_ARG_NONE, &no_bindings, "Do not add ostree.ref-binding", NULL },
    { "max-object-size", 0, 0, G_OPTION_ARG_STRING, &max_object,
      "Refuse a file larger than SIZE (untrusted tarballs and images)", "SIZE" },
    { "max-tree-size", 0, 0, G_OPTION_ARG_STRING, &max_tree,
      "Refuse files adding up to more than SIZE", "SIZE" },
    { "orphan", 0, 0, G_OPTION_ARG_NONE, &orphan, "Commit without a branch", NULL },
    { NULL }
  };
  if (!cairn_cli_parse (cli, entries, "oci DIR[:TAG] | docker-archive FILE[:TAG]",
                        "Import a container image (OCI image layout, or `docker save` archive) "
                        "as a commit; the image config goes into the commit metadata.",
                        &argc, &argv, error))
    return 2;
  if (argc != 3)
    return cairn_cli_usage_error (error, "need a format (oci, docker-archive) and a source"), 2;
  gboolean oci = strcmp (argv[1], "oci") == 0;
  if (!oci && strcmp (argv[1], "docker-archive") != 0)
    return cairn_cli_usage_error (error, "unknown format '%s' (oci or docker-archive)", argv[1]), 2;
  if (!branch && !orphan)
    return cairn_cli_usage_error (error, "a branch is required (-b REF), or --orphan"), 2;
  if (branch && !cairn_validate_ref_name (branch, error))
    return 1;
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
  opts.progress = progress;
  if (timestamp && !cairn_cli_parse_timestamp (timestamp, &opts.timestamp, error))
    return 2;
  opts.has_timestamp = timestamp != NULL;
  if (!cairn_cli_parse_limits (max_object, max_tree, &opts, error))
    return 2;
  g_autofree char *path = NULL, *tag = NULL;
  split_tag (argv[2], &path, &tag);
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, TRUE, error);
  if (!repo)
    return 1;
  g_autofree char *checksum = NULL;
  g_auto (CairnImportStats) stats = { 0 };
  gboolean ok
      = oci ? cairn_repo_import_oci (repo, path, tag, &opts, &checksum, &stats, error)
            : cairn_repo_import_docker_archive (repo, path, tag, &opts, &checksum, &stats, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (stats.n_skipped_special)
    fprintf (stderr,
             "cairn: import: warning: skipped %u device nodes, fifos or sockets (first: %s)\n",
             stats.n_skipped_special, stats.first_skipped);
  if (cli->verbose)
    fprintf (stderr,
             "cairn: %u layers, %" G_GUINT64_FORMAT " entries, %" G_GUINT64_FORMAT
             " whiteouts, %" G_GUINT64_FORMAT " hardlinks\n",
             stats.n_layers, stats.entries, stats.whiteouts, stats.hardlinks);
  printf ("%s\n", checksum);
  return 0;
}
