/* checkout/: materialising trees from the store (docs/format.md §13).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A checkout of a bare or bare-user repository is a farm of hardlinks to the
 * object files: no data is copied. Writing into such a file in place modifies
 * the stored object (cairn fsck reports it); cairn run never exposes a
 * checkout writable.
 */
#pragma once

#include "store/cairn-store.h"

G_BEGIN_DECLS

typedef enum
{
  CAIRN_CHECKOUT_OVERWRITE_NONE,  /* DEST must not exist */
  CAIRN_CHECKOUT_UNION_FILES,     /* --union: replace existing files */
  CAIRN_CHECKOUT_UNION_ADD,       /* --union-add: keep existing files */
  CAIRN_CHECKOUT_UNION_IDENTICAL, /* --union-identical: existing must equal */
} CairnCheckoutOverwrite;

typedef struct
{
  gboolean user_mode;         /* -U: no chown, no xattrs, setuid/setgid stripped on copies */
  gboolean force_copy;        /* --copy: never hardlink */
  gboolean require_hardlinks; /* fail instead of copying */
  CairnCheckoutOverwrite overwrite;
  gboolean whiteouts;       /* OCI/overlay .wh.NAME and .wh..wh..opq */
  const char *subpath;      /* check out only this path of the commit */
  guint n_threads;          /* 0 = number of CPUs */
  gboolean no_devino_cache; /* do not record (dev, ino) -> checksum */
  /* hash every file object before it is linked or copied and refuse one
   * whose content is not its name (archive repos always do it for the
   * objects they inflate) */
  gboolean verify;
  /* called on the complete tree (@root_dfd: its top directory) before it
   * is renamed into place; its failure fails the checkout */
  gboolean (*finish) (int root_dfd, gpointer finish_data, GError **error);
  gpointer finish_data;
  /* called from the calling thread about ten times a second while the tree
   * is checked out, and once at the end: files (regular files and
   * symlinks) and bytes (of regular files) checked out so far */
  void (*progress) (guint64 files_done, guint64 bytes_done, gpointer progress_data);
  gpointer progress_data;
} CairnCheckoutOptions;

typedef struct
{
  guint64 files_linked;
  guint64 files_copied;
  guint64 symlinks;
  guint64 dirs;
  guint64 bytes_copied;
  guint64 whiteouts_applied;
  guint64 bytes; /* of every regular file checked out, hardlinked or copied */
} CairnCheckoutStats;

/* Check out @commit into @dest_name relative to @dest_dfd. Without a union
 * mode DEST must not exist: the tree is built under a temporary name beside
 * it and renamed into place only when complete. Every name from a dirtree is
 * validated; nothing is written through a symlink that exists in DEST. */
gboolean cairn_checkout (CairnRepo *repo, const char *commit, int dest_dfd, const char *dest_name,
                         const CairnCheckoutOptions *opts, CairnCheckoutStats *out_stats,
                         GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* ---- the checkout cache used by `cairn run` (cache.c) --------------------
 * One checkout per commit under <repo>/extensions/cairn/checkouts/<commit>,
 * created atomically (built under a temporary name, renamed into place) and
 * shared by every container of that commit. A container in use holds a
 * shared flock on checkouts/<commit>.lock; prune removes a cached checkout
 * only under an exclusive (non-blocking) flock on it. The checkout also
 * gets the mount points `cairn run` mounts on by default where the tree
 * lacks them (empty directories /proc, /dev, /sys, /tmp, /run, /var/tmp;
 * empty files /etc/resolv.conf, /etc/hosts, /etc/hostname), so that a
 * container of it needs no overlay to make them. */

/* The mount points of `cairn run`'s default container, the one list both
 * its users read: cli/run-config.c mounts on them (the kernel file systems,
 * the default tmpfs, the /etc files it binds) and cache.c makes them in a
 * cached checkout that lacks them.  A target run mounts on that the cache
 * did not make costs every run of such a tree an overlay root; with one
 * list they cannot drift apart (tests/test-run.sh checks the root is no
 * overlay).  Paths are absolute; a PARENT entry is only a directory the
 * others live in and is listed before them. */
typedef enum
{
  CAIRN_RUN_MP_KERNEL, /* /proc, /dev, /sys: always mounted */
  CAIRN_RUN_MP_TMPFS,  /* a default tmpfs (not with --read-only) */
  CAIRN_RUN_MP_ETC,    /* a file of /etc run binds read-only */
  CAIRN_RUN_MP_PARENT, /* no mount: the directory of later entries */
} CairnRunMountPointKind;

typedef struct
{
  const char *path;
  mode_t mode; /* S_IFDIR or S_IFREG with permissions */
  CairnRunMountPointKind kind;
} CairnRunMountPoint;

extern const CairnRunMountPoint cairn_run_mount_points[];
extern const gsize cairn_run_n_mount_points;

/* Open cairn's state directory extensions/cairn/@name of @repo (the
 * checkout cache, the EROFS image cache, the shared mounts), creating it
 * 0700 when missing. Returns an O_CLOEXEC directory fd. */
int cairn_checkout_state_dir_open (CairnRepo *repo, const char *name, GError **error);

/* Take a shared lock on @commit's cached checkout, creating the checkout
 * when missing (two racing callers produce one checkout; both succeed).
 * *out_lock_fd is O_CLOEXEC; clear the flag to keep the lock across exec. */
gboolean cairn_checkout_cache_acquire (CairnRepo *repo, const char *commit, char **out_path,
                                       int *out_lock_fd, gboolean *out_created, GError **error);

/* Remove cached checkouts whose commit is not in @keep (set of checksums)
 * and that no running container uses; also stale temporary builds. */
gboolean cairn_checkout_cache_prune (CairnRepo *repo, GHashTable *keep, guint *out_removed,
                                     GError **error);
G_END_DECLS
