/* cairn — remote keyrings: merging imported keys, listing keys.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * NAME.trustedkeys.gpg is whatever GnuPG writes as a legacy pubring.gpg
 * (docs/format.md §8.5). `ostree remote gpg-import` produces it by
 * letting gpg import into a temporary home whose pubring.gpg is a copy of
 * the old keyring, then moving that pubring.gpg into the repo. We do the
 * same, so both tools produce and read the same format (including GnuPG's
 * trust packets, which gpg skips on import).
 */
#include "config.h"

#include "sign/sign-private.h"

#define MAX_KEYRING_SIZE (64u * 1024 * 1024)

static GBytes *
merge_in_home (CairnGpgHome *home, GBytes *existing, GBytes *key_data, guint *out_n_imported,
               GError **error)
{
  g_auto (gpgme_ctx_t) ctx = NULL;
  gpgme_import_result_t res = NULL;
  g_autoptr (GBytes) merged = NULL;

  if (existing != NULL
      && !cairn_file_replace_contents_at (
          home->dfd, "pubring.gpg", g_bytes_get_data (existing, NULL), g_bytes_get_size (existing),
          0600, CAIRN_FSYNC_NONE, error))
    return NULL;
  if (!cairn_gpg_ctx_new (home->path, &ctx, error)
      || !cairn_gpg_import (ctx, key_data, "key data", &res, error))
    return NULL;
  if (res == NULL || res->considered == 0 || res->considered == res->not_imported)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "no OpenPGP public key in key data");
      return NULL;
    }
  merged = cairn_file_get_contents_at (home->dfd, "pubring.gpg", MAX_KEYRING_SIZE, error);
  if (merged == NULL)
    return NULL;
  if (out_n_imported != NULL)
    *out_n_imported = res->imported;
  return g_steal_pointer (&merged);
}

GBytes *
cairn_sign_keyring_merge (GBytes *existing, GBytes *key_data, guint *out_n_imported, GError **error)
{
  g_autoptr (CairnGpgHome) home = NULL;
  GBytes *merged = NULL;

  g_return_val_if_fail (key_data != NULL, NULL);

  home = cairn_gpg_home_new (error);
  if (home != NULL)
    merged = merge_in_home (home, existing, key_data, out_n_imported, error);
  if (merged == NULL)
    cairn_prefix_error (error, "importing GPG keys");
  return merged;
}

void
cairn_key_info_free (CairnKeyInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->key_id);
  g_free (info->fingerprint);
  g_free (info->user_id);
  g_free (info);
}

static CairnKeyInfo *
key_info_new (gpgme_key_t key)
{
  CairnKeyInfo *info = g_new0 (CairnKeyInfo, 1);
  gpgme_subkey_t primary = key->subkeys;

  if (primary != NULL)
    {
      info->key_id = primary->keyid ? g_ascii_strup (primary->keyid, -1) : NULL;
      info->fingerprint = primary->fpr ? g_ascii_strup (primary->fpr, -1) : NULL;
      info->created = primary->timestamp > 0 ? primary->timestamp : 0;
      info->expires = primary->expires;
    }
  if (key->uids != NULL && key->uids->uid != NULL)
    info->user_id = g_utf8_make_valid (key->uids->uid, -1);
  info->expired = key->expired;
  info->revoked = key->revoked;
  return info;
}

static GPtrArray *
list_keys (gpgme_ctx_t ctx, GError **error)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_key_info_free);
  gpgme_error_t err = gpgme_op_keylist_start (ctx, NULL, 0);

  while (err == 0)
    {
      g_auto (gpgme_key_t) key = NULL;

      err = gpgme_op_keylist_next (ctx, &key);
      if (err == 0)
        g_ptr_array_add (keys, key_info_new (key));
    }
  if (gpgme_err_code (err) != GPG_ERR_EOF)
    {
      cairn_gpg_throw (error, err, "listing keys");
      return NULL;
    }
  return g_steal_pointer (&keys);
}

GPtrArray *
cairn_sign_keyring_list (GBytes *keyring, GError **error)
{
  g_autoptr (CairnGpgHome) home = NULL;
  g_auto (gpgme_ctx_t) ctx = NULL;
  gpgme_import_result_t res = NULL;
  GPtrArray *keys = NULL;

  g_return_val_if_fail (keyring != NULL, NULL);

  home = cairn_gpg_home_new (error);
  if (home != NULL && cairn_gpg_ctx_new (home->path, &ctx, error)
      && (g_bytes_get_size (keyring) == 0
          || cairn_gpg_import (ctx, keyring, "keyring", &res, error)))
    keys = list_keys (ctx, error);
  if (keys == NULL)
    cairn_prefix_error (error, "listing keyring");
  return keys;
}
