/* HTTP transport (stub while being written).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/pull-private.h"

CairnPullTransport *
_cairn_pull_transport_http_new (const char *url, CairnRemote *remote, GError **error)
{
  cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "%s: not yet", url);
  return NULL;
}
