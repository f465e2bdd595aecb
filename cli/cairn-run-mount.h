/* `cairn run --mount`: the container's root is a mount of the commit
 * instead of a cached checkout (cli/run-mount.c): the kernel mount shared by
 * every container of the commit (as root), or a FUSE view of its own.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store.h"

G_BEGIN_DECLS

typedef struct CairnRunMount CairnRunMount;

typedef enum
{
  CAIRN_RUN_MOUNT_AUTO,   /* --mount: the kernel mount where it works, else FUSE */
  CAIRN_RUN_MOUNT_KERNEL, /* --mount=kernel */
  CAIRN_RUN_MOUNT_FUSE,   /* --mount=fuse */
} CairnRunMountKind;

/* Kernel: take a share of the commit's mount under
 * <repo>/extensions/cairn/mounts/<commit>, mounting it if no other
 * container has (checkout/kmount.c). FUSE: mount @commit at a new private
 * directory under <repo>/extensions/cairn/mounts/ and serve it from
 * background threads of this process, with allow_other (the container may
 * run as a mapped user) and default_permissions. Setuid bits are honoured
 * when running as root, as they are on a checkout. */
CairnRunMount *cairn_run_mount_begin (CairnRepo *repo, const char *commit, CairnRunMountKind kind,
                                      GError **error);

/* The mount point (absolute), to pass to cairn-launch as ROOTFS. */
const char *cairn_run_mount_root (CairnRunMount *rm);

/* Run @argv (argv[0] = @path) as a child with SIGINT/SIGTERM/SIGHUP
 * forwarded to it, wait for it, unmount. Returns its exit status (128+N when
 * killed by signal N), or -1 with @error set if it could not be started. */
int cairn_run_mount_exec (CairnRunMount *rm, const char *path, char **argv, GError **error);

/* FUSE: unmount, remove the mount point. Kernel: drop this container's
 * share; the last one unmounts. Then free. */
void cairn_run_mount_free (CairnRunMount *rm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnRunMount, cairn_run_mount_free)

G_END_DECLS
