/* Shared printing of commits for show and log.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "cli/cairn-cli.h"

char *cairn_cli_content_checksum (const CairnCommit *c);
/* content_size < 0: not shown. */
void cairn_cli_commit_print_text (const char *checksum, const CairnCommit *c, gboolean partial,
                                  gint64 content_size);
void cairn_cli_commit_append_json (GString *s, const char *checksum, const CairnCommit *c,
                                   gboolean partial, gint64 content_size);
