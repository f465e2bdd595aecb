/* checkout/: EROFS images of a commit (erofs.c) and the kernel mount built on
 * them (kmount.c); docs/cairn-mount.md.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One writer serves two purposes:
 *  - a metadata image for `cairn mount`: every regular file is an empty
 *    (sparse) inode of the right size whose overlayfs xattrs point at its
 *    object, so that overlayfs with the objects directory as a data-only
 *    lower layer serves the contents (Documentation/filesystems/overlayfs.rst
 *    in the kernel, "Data-only lower layers");
 *  - a standalone image with the contents included, for `cairn export
 *    --format=erofs`.
 * Both hold exactly the metadata a checkout shows: modes, owners, xattrs,
 * symlinks, empty files, and one inode per content object (a file that
 * appears at several paths is hardlinked, its link count the number of
 * paths).
 */
#pragma once

#include "store/cairn-store.h"

G_BEGIN_DECLS

/* Called for each problem that does not stop the build (a missing object). */
typedef void (*CairnErofsLogFunc) (const char *message, gpointer user_data);

typedef struct
{
  gboolean with_data;    /* contents included (export); else overlay metadata */
  guint64 mtime;         /* every inode's mtime (the mount: 0, as a checkout) */
  gboolean verity;       /* metadata: record each object's fs-verity digest */
  CairnErofsLogFunc log; /* may be NULL */
  gpointer log_data;
} CairnErofsOptions;

typedef struct
{
  guint64 inodes;
  guint64 dirs;
  guint64 files; /* distinct regular-file inodes */
  guint64 symlinks;
  guint64 bytes;   /* size of the image */
  guint n_missing; /* objects missing from the store (metadata images) */
  guint n_digests; /* fs-verity digests recorded */
  char sha256[65]; /* metadata images: SHA-256 of the whole image */
} CairnErofsStats;

/* Write an EROFS image of @commit to @out_fd (a new, empty regular file;
 * written from offset 0). Metadata images: an object missing from the
 * store does not fail the build; its entries fail with EIO in the mount
 * (the overlay refuses their metadata) and @opts->log names the object. A
 * corrupt metadata object, a name that is not valid, an xattr EROFS cannot
 * store or an archive repository (metadata images: the data layer must be
 * the object files themselves) fail the build. */
gboolean cairn_erofs_write (CairnRepo *repo, const char *commit, int out_fd,
                            const CairnErofsOptions *opts, CairnErofsStats *out_stats,
                            GError **error);

/* ---- raw images for `cairn export` (export-image.c) ------------------------ */

/* A standalone EROFS image of @commit with the contents, every mtime the
 * commit's timestamp, written beside @path and renamed over it complete. */
gboolean cairn_export_erofs (CairnRepo *repo, const char *commit, const char *path,
                             CairnErofsStats *out_stats, GError **error);

/* A squashfs image of @commit made by mksquashfs from the kernel mount of
 * the commit (root; the mount lives in a child's private mount namespace),
 * every mtime the commit's timestamp; renamed to @path complete. */
gboolean cairn_export_squashfs (CairnRepo *repo, const char *commit, const char *path,
                                GError **error);

/* ---- the kernel mount (kmount.c) ------------------------------------------ */

typedef struct
{
  gboolean suid;         /* honour setuid bits; default nosuid,nodev */
  CairnErofsLogFunc log; /* missing objects, a rebuilt image; may be NULL */
  gpointer log_data;
} CairnKmountOptions;

typedef struct
{
  gboolean image_built;   /* no valid cached image: built now */
  gboolean image_corrupt; /* a cached image failed its checksum and was rebuilt */
  gboolean image_cached;  /* the image is in the cache (not when objects were missing) */
  guint n_missing;
} CairnKmountStats;

/* Whether the kernel path can serve @repo here: root, a bare, bare-user or
 * bare-user-only repository, a kernel with EROFS and overlayfs, and not
 * CAIRN_NO_KMOUNT=1 in the environment (forces the fallback). FALSE with
 * @error saying why (callers fall back to FUSE). */
gboolean cairn_kmount_supported (CairnRepo *repo, GError **error);

/* Open the cached metadata image of @commit, building it when missing or
 * corrupt (its SHA-256 is recorded beside it and checked on every use).
 * Returns a read-only fd; images of commits with missing objects are not
 * cached (the fd is of an unnamed file). */
int cairn_kmount_image_open (CairnRepo *repo, const char *commit, const CairnKmountOptions *opts,
                             CairnKmountStats *out_stats, GError **error);

/* Mount @commit read-only at @mountpoint (an empty directory): its EROFS
 * metadata image, mounted from the file (never attached anywhere but
 * inside the overlay), as the overlay's lower layer and the objects
 * directory as its data-only layer. No process serves it. Nothing is
 * left mounted if this fails or the process dies half-way. When the kernel
 * refuses one of the mounts the error is G_IO_ERROR_NOT_SUPPORTED. */
gboolean cairn_kmount (CairnRepo *repo, const char *commit, const char *mountpoint,
                       const CairnKmountOptions *opts, CairnKmountStats *out_stats, GError **error);

/* The commit checksum of the cairn kernel mount at @path, or NULL when
 * @path is not the root of one (per /proc/self/mountinfo). */
char *cairn_kmount_commit_at (const char *path);

/* Unmount the cairn kernel mount at @mountpoint (refusing anything else);
 * lazily, *out_lazy TRUE, when files are open. */
gboolean cairn_kmount_umount (const char *mountpoint, gboolean *out_lazy, GError **error);

/* `cairn run --mount`: one mount per commit under
 * extensions/cairn/mounts/<commit>, shared by every container of that
 * commit. Each user holds <commit>.users shared (*out_users_fd); mounting
 * and unmounting happen under <commit>.lock. The first user mounts. */
gboolean cairn_kmount_shared_acquire (CairnRepo *repo, const char *commit,
                                      const CairnKmountOptions *opts, char **out_path,
                                      int *out_users_fd, CairnKmountStats *out_stats,
                                      GError **error);

/* Drop a user (closes @users_fd); the last one unmounts and removes the
 * mount point. A mount left by a user that died is reused by the next and
 * removed by the last. */
void cairn_kmount_shared_release (CairnRepo *repo, const char *commit, int users_fd);

/* Remove the cached images of commits that are no longer in the store
 * (call after pruning objects), and temporary files of builds that died. */
gboolean cairn_erofs_cache_prune (CairnRepo *repo, guint *out_removed, GError **error);

G_END_DECLS
