/* serve (stub while being written).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/pull-private.h"

gboolean
cairn_repo_serve (CairnRepo *repo, int in_fd, int out_fd, GError **error)
{
  return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "not yet");
}
