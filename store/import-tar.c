/* Tar import — being implemented (issue 6).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"

gboolean
cairn_repo_commit_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                       char **out_checksum, CairnTxnStats *out_stats, GError **error)
{
  return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "tar import is not implemented yet");
}
