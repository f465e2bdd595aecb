/* Mounting and unmounting a FUSE file system through libfuse
 * (docs/cairn-mount.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libfuse is used only for what it does well and what differs between root
 * and other users: mount(2) or fusermount3, and the matching unmount. The
 * requests themselves are read and answered by checkout/mount*.c on the
 * session's /dev/fuse descriptor (libfuse 3.14 cannot negotiate FUSE
 * passthrough), so libfuse never sees INIT and its session loop never runs.
 */
#include "config.h"
#define FUSE_USE_VERSION 312
#include "checkout/mount-private.h"
#include <fuse_lowlevel.h>

struct CairnFuseAttach
{
  struct fuse_session *se;
};

CairnFuseAttach *
cairn_fuse_attach (const char *mountpoint, const char *options, int *out_fd, GError **error)
{
  char *argv[] = { (char *)"cairn", (char *)"-o", (char *)options, NULL };
  struct fuse_args args = FUSE_ARGS_INIT (3, argv);
  /* No operations: this session only mounts. */
  static const struct fuse_lowlevel_ops no_ops = { 0 };
  struct fuse_session *se = fuse_session_new (&args, &no_ops, sizeof no_ops, NULL);
  fuse_opt_free_args (&args);
  if (!se)
    return cairn_throw (error, "mount %s: cannot create a FUSE session (options: %s)", mountpoint,
                        options),
           NULL;
  if (fuse_session_mount (se, mountpoint) != 0)
    {
      fuse_session_destroy (se);
      return cairn_throw (error,
                          "mount %s: FUSE mount failed (is /dev/fuse available, and "
                          "fusermount3 installed for non-root users?)",
                          mountpoint),
             NULL;
    }
  CairnFuseAttach *a = g_new0 (CairnFuseAttach, 1);
  a->se = se;
  *out_fd = fuse_session_fd (se);
  return a;
}

void
cairn_fuse_detach (CairnFuseAttach *a)
{
  fuse_session_unmount (a->se);
}

void
cairn_fuse_attach_free (CairnFuseAttach *a)
{
  if (!a)
    return;
  fuse_session_destroy (a->se); /* closes the /dev/fuse descriptor */
  g_free (a);
}
