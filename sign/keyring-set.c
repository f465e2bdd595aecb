/* cairn — the set of keys a verification may trust.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>

#include "sign/sign-private.h"

/* Keyrings are small; this only stops a hostile file from exhausting
 * memory. */
#define MAX_KEYRING_SIZE (64u * 1024 * 1024)

struct CairnKeyringSet
{
  GPtrArray *names; /* char* labels, for error messages */
  GPtrArray *blobs; /* GBytes* */
};

CairnKeyringSet *
cairn_keyring_set_new (void)
{
  CairnKeyringSet *set = g_new0 (CairnKeyringSet, 1);

  set->names = g_ptr_array_new_with_free_func (g_free);
  set->blobs = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  return set;
}

void
cairn_keyring_set_free (CairnKeyringSet *set)
{
  if (set == NULL)
    return;
  g_ptr_array_unref (set->names);
  g_ptr_array_unref (set->blobs);
  g_free (set);
}

void
cairn_keyring_set_add_bytes (CairnKeyringSet *set, const char *name, GBytes *keys)
{
  g_return_if_fail (set != NULL && name != NULL && keys != NULL);
  g_ptr_array_add (set->names, g_strdup (name));
  g_ptr_array_add (set->blobs, g_bytes_ref (keys));
}

guint
cairn_keyring_set_get_n_keyrings (CairnKeyringSet *set)
{
  return set->blobs->len;
}

gboolean
cairn_keyring_set_add_file_at (CairnKeyringSet *set, int dfd, const char *path, GError **error)
{
  cairn_autofd fd = -1;
  g_autoptr (GBytes) bytes = NULL;

  if (!cairn_openat_rdonly (dfd, path, TRUE, &fd, error))
    return cairn_prefix_error (error, "keyring");
  bytes = cairn_fd_read_all (fd, MAX_KEYRING_SIZE, error);
  if (bytes == NULL)
    return cairn_prefix_error (error, "reading keyring %s", path);
  cairn_keyring_set_add_bytes (set, path, bytes);
  return TRUE;
}

static int
cmp_strv (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Names of the regular files "*.gpg" directly in @dir_fd, sorted so that
 * error messages and import order do not depend on readdir order. */
static GPtrArray *
list_gpg_files (int dir_fd, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int fd2 = fcntl (dir_fd, F_DUPFD_CLOEXEC, 3);
  DIR *d = fd2 >= 0 ? fdopendir (fd2) : NULL;
  struct dirent *de;

  if (d == NULL)
    {
      cairn_throw_errno (error, "opendir");
      if (fd2 >= 0)
        close (fd2);
      return NULL;
    }
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;

      if (!g_str_has_suffix (de->d_name, ".gpg") || de->d_name[0] == '.')
        continue;
      if (fstatat (dir_fd, de->d_name, &st, 0) != 0 || !S_ISREG (st.st_mode))
        continue;
      g_ptr_array_add (names, g_strdup (de->d_name));
    }
  closedir (d);
  g_ptr_array_sort (names, cmp_strv);
  return g_steal_pointer (&names);
}

gboolean
cairn_keyring_set_add_dir_at (CairnKeyringSet *set, int dfd, const char *path, gboolean allow_noent,
                              GError **error)
{
  cairn_autofd dir_fd = -1;
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!cairn_opendirat (dfd, path, TRUE, &dir_fd, &local_error))
    {
      if (allow_noent && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return cairn_prefix_error (error, "keyring directory");
    }
  names = list_gpg_files (dir_fd, error);
  if (names == NULL)
    return cairn_prefix_error (error, "keyring directory %s", path);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *label = g_build_filename (path, names->pdata[i], NULL);
      cairn_autofd fd = -1;
      g_autoptr (GBytes) bytes = NULL;

      if (!cairn_openat_rdonly (dir_fd, names->pdata[i], TRUE, &fd, error))
        return cairn_prefix_error (error, "keyring %s", label);
      bytes = cairn_fd_read_all (fd, MAX_KEYRING_SIZE, error);
      if (bytes == NULL)
        return cairn_prefix_error (error, "reading keyring %s", label);
      cairn_keyring_set_add_bytes (set, label, bytes);
    }
  return TRUE;
}

/* Import every keyring of @set into the home of @ctx. A non-empty keyring
 * without a single key is an error rather than silently trusting nothing
 * from it: a truncated or wrong-format file should be noticed. */
gboolean
cairn_keyring_set_import_into (CairnKeyringSet *set, gpgme_ctx_t ctx, GError **error)
{
  for (guint i = 0; i < set->blobs->len; i++)
    {
      GBytes *blob = set->blobs->pdata[i];
      const char *name = set->names->pdata[i];
      gpgme_import_result_t res = NULL;

      if (g_bytes_get_size (blob) == 0)
        continue;
      if (!cairn_gpg_import (ctx, blob, name, &res, error))
        return FALSE;
      if (res == NULL || res->considered == 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "keyring %s contains no OpenPGP public key", name);
    }
  return TRUE;
}
