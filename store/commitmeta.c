/* Detached commit metadata: objects/XX/YYY.commitmeta (docs/format.md §8.1),
 * read and written as a whole. Its "ostree.gpgsigs" signatures are sync/'s
 * business (sync/commit-sign.c): store/ does not depend on sign/.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unlike every other object, .commitmeta is mutable: it is rewritten
 * whenever a signature is added or removed, so it is replaced atomically
 * (temp file + rename) instead of being linked in with "no replace".
 */
#include "config.h"
#include "store/store-private.h"
#include <string.h>

gboolean
cairn_repo_read_commit_detached_metadata (CairnRepo *repo, const char *commit,
                                          GVariant **out_metadata, GError **error)
{
  if (!cairn_validate_checksum_string (commit, error))
    return FALSE;
  if (!cairn_repo_load_variant_if_exists (repo, CAIRN_OBJECT_COMMIT_META, commit, out_metadata,
                                          error))
    return cairn_prefix_error (error, "reading detached metadata of commit %s", commit);
  return TRUE;
}

gboolean
cairn_repo_write_commit_detached_metadata (CairnRepo *repo, const char *commit, GVariant *metadata,
                                           GError **error)
{
  if (!cairn_validate_checksum_string (commit, error))
    return FALSE;
  if (metadata && !g_variant_is_of_type (metadata, G_VARIANT_TYPE_VARDICT))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "detached metadata must be a{sv}, not %s",
                             g_variant_get_type_string (metadata));
  if (!cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, commit))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "writing detached metadata: commit %s is not in the repository",
                             commit);
  if (!cairn_repo_lock_push (repo, CAIRN_REPO_LOCK_SHARED, error))
    return FALSE;
  gboolean ok = FALSE;
  int dfd = cairn_repo_objdir_fd (repo, commit, TRUE, error);
  g_autofree char *leaf = cairn_object_leaf (commit, CAIRN_OBJECT_COMMIT_META, repo->mode);
  if (dfd < 0)
    ;
  else if (metadata == NULL)
    ok = cairn_unlinkat (dfd, leaf, 0, TRUE, error);
  else
    {
      g_autoptr (GVariant) normal = g_variant_get_normal_form (metadata);
      ok = cairn_file_replace_contents_at (dfd, leaf, g_variant_get_data (normal),
                                           g_variant_get_size (normal), 0644,
                                           cairn_repo_fsync_policy (repo), error);
    }
  cairn_repo_lock_pop (repo, CAIRN_REPO_LOCK_SHARED);
  if (!ok)
    return cairn_prefix_error (error, "writing detached metadata of commit %s", commit);
  return TRUE;
}

GBytes *
cairn_repo_load_commit_bytes (CairnRepo *repo, const char *commit, GError **error)
{
  if (!cairn_validate_checksum_string (commit, error))
    return NULL;
  cairn_autofd fd = _cairn_repo_open_object (repo, CAIRN_OBJECT_COMMIT, commit, error);
  if (fd < 0)
    return NULL;
  g_autoptr (GBytes) data = cairn_fd_read_all (fd, CAIRN_MAX_METADATA_SIZE, error);
  if (!data)
    {
      cairn_prefix_error (error, "reading commit %s", commit);
      return NULL;
    }
  gsize len;
  const void *p = g_bytes_get_data (data, &len);
  g_autofree char *actual = cairn_checksum_bytes (p, len);
  if (strcmp (actual, commit) != 0)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                        "commit object %s is corrupt: its content hashes to %s", commit, actual);
      return NULL;
    }
  return g_steal_pointer (&data);
}
