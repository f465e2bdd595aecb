/* fs-verity on content objects (`cairn fsck --verity`; docs/cairn-mount.md,
 * "fs-verity").
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With fs-verity enabled on an object (Linux Documentation/filesystems/
 * fsverity.rst, FS_IOC_ENABLE_VERITY), the kernel checks every read of it
 * against a Merkle tree and the file can no longer be written. The kernel
 * mount records each object's fs-verity digest in its EROFS image, and
 * overlayfs (verity=on) refuses a file whose object does not have that
 * digest: an object changed or replaced behind the store's back fails to
 * read. This needs a kernel built with CONFIG_FS_VERITY and a file system
 * with the feature on (ext4 -O verity, btrfs, f2fs).
 */
#include "config.h"
#include "store/store-private.h"
#include <linux/fsverity.h>
#include <string.h>
#include <sys/ioctl.h>

/* Enable fs-verity on one object; an object that has it already is fine. */
static gboolean
enable_one (CairnRepo *repo, const char *checksum, GError **error)
{
  int dfd = cairn_repo_objdir_fd (repo, checksum, FALSE, error);
  g_autofree char *leaf = cairn_object_leaf (checksum, CAIRN_OBJECT_FILE, repo->mode);
  struct stat st;
  if (dfd < 0 || fstatat (dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_errno (error, "object %s.file", checksum);
  if (!S_ISREG (st.st_mode))
    return TRUE; /* symlinks carry no data to protect */
  cairn_autofd fd = openat (dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return cairn_throw_errno (error, "object %s.file", checksum);
  struct fsverity_enable_arg arg
      = { .version = 1, .hash_algorithm = FS_VERITY_HASH_ALG_SHA256, .block_size = 4096 };
  if (ioctl (fd, FS_IOC_ENABLE_VERITY, &arg) < 0 && errno != EEXIST)
    return cairn_throw_errno (error, "enabling fs-verity on object %s.file", checksum);
  return TRUE;
}

gboolean
cairn_repo_enable_verity (CairnRepo *repo, guint *out_enabled, GError **error)
{
  if (repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "fs-verity protects object files that are served as they are: "
                             "not in an archive repository");
  g_autoptr (GHashTable) objects = cairn_repo_list_objects (repo, error);
  if (!objects)
    return FALSE;
  guint n = 0;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, objects);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      g_autofree char *csum = NULL;
      CairnObjectType type;
      if (!cairn_object_name_parse (k, &csum, &type) || type != CAIRN_OBJECT_FILE)
        continue;
      g_autoptr (GError) local = NULL;
      if (!enable_one (repo, csum, &local))
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "fs-verity for %s: %s (it needs a kernel with CONFIG_FS_VERITY "
                                 "and a file system with the verity feature)",
                                 repo->path, local->message);
      n++;
    }
  g_key_file_set_boolean (repo->config, "cairn", "verity", TRUE);
  if (!cairn_repo_write_config (repo, error))
    return FALSE;
  *out_enabled = n;
  return TRUE;
}
