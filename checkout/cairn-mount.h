/* checkout/: a read-only FUSE view of a commit, served from the store
 * (docs/cairn-mount.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every file shows its logical metadata as the store records it (bare-user
 * and archive: the header, not the object file's physical owner and mode).
 * Directories are served from parsed dirtrees, file data straight from the
 * object file (bare modes; as root the kernel reads it itself through FUSE
 * passthrough) or from a bounded cache of decompressed content (archive).
 * Nothing is ever written: the mount is read-only. A corrupt or
 * missing object makes that one file or directory fail with EIO and is
 * reported through the log callback, naming the object.
 */
#pragma once

#include "store/cairn-store.h"

G_BEGIN_DECLS

/* Called from the server's threads (serialised by the caller's own means). */
typedef void (*CairnMountLogFunc) (const char *message, gpointer user_data);

typedef struct
{
  gboolean allow_other;  /* other users may access the mount (needs root or user_allow_other) */
  gboolean suid;         /* honour setuid/setgid bits; default is nosuid,nodev */
  gboolean verify;       /* bare modes: re-hash each object on its first open (archive always) */
  guint64 cache_bytes;   /* archive: decompressed content kept; 0 = 256 MiB */
  guint max_threads;     /* threads for slow opens (archive, verify); 0 = default */
  gboolean debug;        /* through @log: which path serves file data, one line per request */
  gboolean verbose;      /* through @log: which path serves file data */
  CairnMountLogFunc log; /* may be NULL */
  gpointer log_data;
} CairnMountOptions;

typedef struct CairnMount CairnMount;

/* Prepare the view of @commit: loads and checks the commit and its root
 * directory. @repo must outlive the mount. */
CairnMount *cairn_mount_new (CairnRepo *repo, const char *commit, const CairnMountOptions *opts,
                             GError **error);

/* Mount at @mountpoint (an existing directory). When this returns TRUE the
 * kernel mount exists; requests queue until cairn_mount_serve/_start. */
gboolean cairn_mount_attach (CairnMount *m, const char *mountpoint, GError **error);

/* Serve requests in this thread (a pool of workers) until the file system
 * is unmounted or SIGINT/SIGTERM/SIGHUP arrives; then unmount. */
gboolean cairn_mount_serve (CairnMount *m, GError **error);

/* Serve requests from a background thread; cairn_mount_stop ends it. */
gboolean cairn_mount_start (CairnMount *m, GError **error);

/* Detach the mount (lazily: open files keep working) and wait up to
 * @timeout_ms for the workers to end. FALSE if they did not (the mount is
 * then still in use: do not free @m). */
gboolean cairn_mount_stop (CairnMount *m, guint timeout_ms);

/* Free a mount that is not serving (never attached, or stopped). */
void cairn_mount_free (CairnMount *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnMount, cairn_mount_free)

/* Unmount a cairn mount (FUSE or kernel) at @mountpoint. Refuses anything that is not a
 * cairn mount. When files are still open the mount is detached lazily
 * (*out_lazy TRUE): it disappears from the tree now and the server exits
 * when the last file is closed. */
gboolean cairn_umount (const char *mountpoint, gboolean *out_lazy, GError **error);

/* Whether @path is the root of a cairn mount, FUSE or kernel (per
 * /proc/self/mountinfo). */
gboolean cairn_mount_is_cairn (const char *path);

G_END_DECLS
