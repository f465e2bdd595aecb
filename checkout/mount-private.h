/* checkout/: the mount through libfuse (mount-attach.c), as the rest of the
 * FUSE view (checkout/mount*.c) uses it (not installed, not an API).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "common/cairn-common.h"

G_BEGIN_DECLS

typedef struct CairnFuseAttach CairnFuseAttach;

/* Mount a FUSE file system at @mountpoint (absolute) with the mount options
 * @options (libfuse syntax); *out_fd is the /dev/fuse descriptor to serve,
 * owned by the returned handle. */
CairnFuseAttach *cairn_fuse_attach (const char *mountpoint, const char *options, int *out_fd,
                                    GError **error);

/* Unmount (lazily: the connection ends when the last open file is closed). */
void cairn_fuse_detach (CairnFuseAttach *a);

/* Close the descriptor and free @a (unmount first). */
void cairn_fuse_attach_free (CairnFuseAttach *a);

G_END_DECLS
