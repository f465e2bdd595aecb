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
 * commit's timestamp, written to an unnamed file beside @path and linked
 * over it complete. */
gboolean cairn_export_erofs (CairnRepo *repo, const char *commit, const char *path,
                             CairnErofsStats *out_stats, GError **error);

/* A squashfs image of @commit made by mksquashfs (root) from the kernel
 * mount of the commit or, for an archive repository (overlayfs cannot serve
 * compressed objects), from the mounted EROFS export of the commit, written
 * to an unnamed file beside @path; the mount is detached (attached
 * nowhere). Every mtime is the commit's timestamp; linked to @path
 * complete. */
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
  gboolean image_hashed;  /* the cached image was hashed: changed since its checksum was verified */
  guint n_missing;
} CairnKmountStats;

/* Mount the EROFS image @img_fd read-only (nodev) from the file itself
 * (file-backed EROFS, Linux 6.12+: no loop device). Returns the mount as a
 * detached mount fd (fsmount): attached nowhere until move_mount, gone
 * when the fd closes. */
int cairn_erofs_mount_image (int img_fd, GError **error);

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

/* What cairn_kmount() mounts for @commit (for the front end's record of
 * it, cli/run-record.h): the cached image's and its checksum file's
 * absolute paths, the objects directory as the overlay takes it, the
 * overlay's source and whether it is mounted with verity=on. */
gboolean cairn_kmount_describe (CairnRepo *repo, const char *commit, char **out_image,
                                char **out_sum, char **out_objects, char **out_source,
                                gboolean *out_verity);

/* Mount @commit read-only at @mountpoint (an empty directory): its EROFS
 * metadata image, mounted from the file (never attached anywhere but
 * inside the overlay), as the overlay's lower layer and the objects
 * directory as its data-only layer. No process serves it. Nothing is
 * left mounted if this fails or the process dies half-way. When the kernel
 * refuses one of the mounts the error is G_IO_ERROR_NOT_SUPPORTED. */
gboolean cairn_kmount (CairnRepo *repo, const char *commit, const char *mountpoint,
                       const CairnKmountOptions *opts, CairnKmountStats *out_stats, GError **error);

/* The kernel mount of @commit as cairn_kmount() makes it, but detached: an
 * fsmount fd attached nowhere (reachable as /proc/self/fd/N by this process
 * and by children that inherit it), gone when the last fd closes. @what
 * names the mount in errors. */
int cairn_kmount_detached (CairnRepo *repo, const char *commit, const char *what,
                           const CairnKmountOptions *opts, CairnKmountStats *out_stats,
                           GError **error);

/* The file system type and source of the mount on top at @path (as
 * /proc/self/mountinfo shows them, unescaped); FALSE when nothing is
 * mounted there. */
gboolean cairn_mount_top_at (const char *path, char **out_fstype, char **out_source);

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
