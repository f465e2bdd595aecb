/* Commit signatures: the "ostree.gpgsigs" entry of a commit's detached
 * metadata (docs/format.md §8.2), made, appended and removed through sign/.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The glue between store/ (which reads and writes the .commitmeta object as
 * a whole, store/commitmeta.c) and sign/ (which only sees bytes): it lives
 * here so that store/ never depends on sign/.
 */
#include "config.h"
#include "sync/cairn-remote.h"

gboolean
cairn_repo_get_commit_signatures (CairnRepo *repo, const char *commit, GVariant **out_sigs,
                                  GError **error)
{
  g_autoptr (GVariant) meta = NULL;
  if (!cairn_repo_read_commit_detached_metadata (repo, commit, &meta, error))
    return FALSE;
  GVariant *sigs = NULL;
  if (meta)
    sigs = g_variant_lookup_value (meta, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay"));
  *out_sigs = sigs;
  return TRUE;
}

/* The detached metadata with "ostree.gpgsigs" set to @sigs (other keys kept,
 * like ostree's GVariantDict update). */
static GVariant *
metadata_with_sigs (GVariant *old_meta, GVariant *sigs)
{
  g_auto (GVariantDict) dict;
  g_variant_dict_init (&dict, old_meta);
  if (sigs && g_variant_n_children (sigs) > 0)
    g_variant_dict_insert_value (&dict, CAIRN_SIGN_GPGSIGS_KEY, sigs);
  else
    g_variant_dict_remove (&dict, CAIRN_SIGN_GPGSIGS_KEY);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static gboolean
store_sigs (CairnRepo *repo, const char *commit, GVariant *old_meta, GVariant *sigs, GError **error)
{
  g_autoptr (GVariant) meta = metadata_with_sigs (old_meta, sigs);
  return cairn_repo_write_commit_detached_metadata (repo, commit, meta, error);
}

static gboolean
load_meta_and_sigs (CairnRepo *repo, const char *commit, GVariant **out_meta, GVariant **out_sigs,
                    GError **error)
{
  g_autoptr (GVariant) meta = NULL;
  if (!cairn_repo_read_commit_detached_metadata (repo, commit, &meta, error))
    return FALSE;
  *out_sigs
      = meta ? g_variant_lookup_value (meta, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay")) : NULL;
  *out_meta = g_steal_pointer (&meta);
  return TRUE;
}

gboolean
cairn_repo_sign_commit (CairnRepo *repo, const char *commit, const char *const *key_ids,
                        const char *homedir, GError **error)
{
  g_autoptr (GBytes) data = cairn_repo_load_commit_bytes (repo, commit, error);
  g_autoptr (GVariant) meta = NULL, sigs = NULL;
  if (!data || !load_meta_and_sigs (repo, commit, &meta, &sigs, error))
    return FALSE;
  if (key_ids == NULL || key_ids[0] == NULL)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "no signing key given");
  for (const char *const *k = key_ids; k && *k; k++)
    {
      gboolean found = FALSE;
      if (**k == '\0')
        return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "empty GPG key id");
      if (!cairn_sign_sigs_has_key (sigs, *k, homedir, &found, error))
        return FALSE;
      if (found)
        return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                                 "commit %s is already signed with GPG key %s", commit, *k);
    }
  for (const char *const *k = key_ids; k && *k; k++)
    {
      g_autoptr (GBytes) sig = cairn_sign_create_detached (data, *k, homedir, error);
      if (!sig)
        return cairn_prefix_error (error, "signing commit %s with key %s", commit, *k);
      GVariant *next = cairn_sign_sigs_append (sigs, sig);
      g_clear_pointer (&sigs, g_variant_unref);
      sigs = next;
    }
  return store_sigs (repo, commit, meta, sigs, error);
}

gboolean
cairn_repo_append_commit_signature (CairnRepo *repo, const char *commit, GBytes *signature,
                                    GError **error)
{
  g_autofree char *key_id = NULL, *fpr = NULL;
  if (!cairn_sign_signature_get_issuer (signature, &key_id, &fpr, error))
    return cairn_prefix_error (error, "not a detached OpenPGP signature");
  g_autoptr (GBytes) data = cairn_repo_load_commit_bytes (repo, commit, error);
  g_autoptr (GVariant) meta = NULL, sigs = NULL;
  if (!data || !load_meta_and_sigs (repo, commit, &meta, &sigs, error))
    return FALSE;
  gboolean found = FALSE;
  if (!cairn_sign_sigs_has_key (sigs, fpr ? fpr : key_id, NULL, &found, error))
    return FALSE;
  if (found)
    return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                             "commit %s is already signed with GPG key %s", commit,
                             fpr ? fpr : key_id);
  g_autoptr (GVariant) next = cairn_sign_sigs_append (sigs, signature);
  return store_sigs (repo, commit, meta, next, error);
}

gboolean
cairn_repo_delete_commit_signatures (CairnRepo *repo, const char *commit, const char *key_id,
                                     const char *homedir, guint *out_n_deleted, GError **error)
{
  g_autoptr (GVariant) meta = NULL, sigs = NULL;
  if (!load_meta_and_sigs (repo, commit, &meta, &sigs, error))
    return FALSE;
  guint n = 0;
  if (sigs == NULL)
    {
      if (out_n_deleted)
        *out_n_deleted = 0;
      return TRUE;
    }
  g_autoptr (GVariant) rest = cairn_sign_sigs_delete_key (sigs, key_id, homedir, &n, error);
  if (!rest)
    return FALSE;
  if (n > 0 && !store_sigs (repo, commit, meta, rest, error))
    return FALSE;
  if (out_n_deleted)
    *out_n_deleted = n;
  return TRUE;
}
