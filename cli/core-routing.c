/* cairn-core only: the entry points of the libarchive/libfuse code that
 * cmd-commit.c and cmd-run.c reference. cli/front.c sends every invocation
 * that needs them (commit --tree=tar=, run --mount) to cairn-full, so these
 * are reached only if cairn-core is executed directly; they say so.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-run-mount.h"
#include "image/cairn-image.h"

static gboolean
needs_full (GError **error, const char *what)
{
  return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                           "%s is implemented by cairn-full; run it through `cairn`", what);
}

gboolean
cairn_repo_import_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                       char **out_checksum, CairnTxnStats *out_txn_stats,
                       CairnImportStats *out_stats, GError **error)
{
  return needs_full (error, "commit --tree=tar=");
}

void
cairn_import_stats_clear (CairnImportStats *stats)
{
}

CairnRunMount *
cairn_run_mount_begin (CairnRepo *repo, const char *commit, CairnRunMountKind kind, GError **error)
{
  needs_full (error, "run --mount");
  return NULL;
}

const char *
cairn_run_mount_root (CairnRunMount *rm)
{
  return NULL;
}

int
cairn_run_mount_exec (CairnRunMount *rm, const char *path, char **argv, GError **error)
{
  return -1;
}

void
cairn_run_mount_free (CairnRunMount *rm)
{
}
