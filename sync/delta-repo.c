/* The static deltas a repository publishes: listing, loading, deleting,
 * the per-target index files (delta-indexes/) and the digests the summary
 * lists (docs/format.md §11.1, §11.4), and ed25519 signatures of
 * superblocks (§11.7).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <dirent.h>
#include <openssl/evp.h>
#include <string.h>

#define KEY_STATIC_DELTAS "ostree.static-deltas"

/* Modified base64 (docs/format.md §2) back to hex; FALSE unless it is
 * exactly 43 characters holding 32 bytes. */
static gboolean
mb64_to_hex (const char *s, gsize len, char out[65])
{
  if (len != 43)
    return FALSE;
  char buf[45];
  for (gsize i = 0; i < len; i++)
    {
      char c = s[i];
      if (!g_ascii_isalnum (c) && c != '+' && c != '_')
        return FALSE;
      buf[i] = c == '_' ? '/' : c;
    }
  buf[43] = '=';
  buf[44] = '\0';
  gsize n = 0;
  g_autofree guint8 *raw = g_base64_decode (buf, &n);
  if (n != 32)
    return FALSE;
  cairn_checksum_to_hex (raw, out);
  return TRUE;
}

/* "<2 chars>" + "<41 chars>[-<43 chars>]" back to a delta name. */
static char *
name_from_dirs (const char *prefix, const char *rest)
{
  g_autofree char *first = g_strconcat (prefix, rest, NULL);
  char a[65], b[65];
  const char *dash = strchr (first, '-');
  if (!dash)
    return mb64_to_hex (first, strlen (first), a) ? g_strdup (a) : NULL;
  if (!mb64_to_hex (first, dash - first, a) || !mb64_to_hex (dash + 1, strlen (dash + 1), b))
    return NULL;
  return g_strconcat (a, "-", b, NULL);
}

static gboolean
list_dir (int dfd, const char *sub, GPtrArray *out, GError **error)
{
  cairn_autofd fd = -1;
  if (!cairn_opendirat (dfd, sub, FALSE, &fd, error))
    return FALSE;
  DIR *d = fdopendir (fd);
  if (!d)
    return cairn_throw_errno (error, "opendir %s", sub);
  fd = -1;
  struct dirent *e;
  while ((e = readdir (d)))
    {
      if (e->d_name[0] == '.')
        continue;
      g_autofree char *sb = g_strconcat (e->d_name, "/superblock", NULL);
      struct stat st;
      char *name = name_from_dirs (sub, e->d_name);
      if (name && fstatat (dirfd (d), sb, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode))
        g_ptr_array_add (out, name);
      else
        g_free (name);
    }
  closedir (d);
  return TRUE;
}

/* Names in the order the directories are read (the summary's map is built
 * in this order, as ostree builds it). */
static GPtrArray *
list_unsorted (CairnRepo *repo, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  cairn_autofd fd = -1;
  g_autoptr (GError) local = NULL;
  if (!cairn_opendirat (repo->repo_dfd, "deltas", FALSE, &fd, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return g_steal_pointer (&out);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  DIR *d = fdopendir (fd);
  if (!d)
    return cairn_throw_errno (error, "opendir deltas"), NULL;
  int dfd = dirfd (d);
  fd = -1;
  struct dirent *e;
  gboolean ok = TRUE;
  while (ok && (e = readdir (d)))
    if (e->d_name[0] != '.' && strlen (e->d_name) == 2)
      ok = list_dir (dfd, e->d_name, out, error);
  closedir (d);
  return ok ? g_steal_pointer (&out) : NULL;
}

GPtrArray *
cairn_repo_list_static_deltas (CairnRepo *repo, GError **error)
{
  GPtrArray *out = list_unsorted (repo, error);
  if (out)
    g_ptr_array_sort (out, (GCompareFunc)g_strcmp0);
  return out;
}

static GBytes *
load_superblock (CairnRepo *repo, const char *name, GError **error)
{
  g_autofree char *from = NULL, *to = NULL;
  if (!cairn_delta_name_parse (name, &from, &to, error))
    return NULL;
  g_autofree char *rel = cairn_delta_relpath (from, to, "superblock");
  g_autoptr (GError) local = NULL;
  GBytes *b
      = cairn_file_get_contents_at (repo->repo_dfd, rel, CAIRN_DELTA_MAX_SUPERBLOCK_SIZE, &local);
  if (!b && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no static delta %s", name), NULL;
  if (!b)
    g_propagate_error (error, g_steal_pointer (&local));
  return b;
}

CairnDelta *
cairn_repo_load_static_delta (CairnRepo *repo, const char *name, GError **error)
{
  g_autoptr (GBytes) b = load_superblock (repo, name, error);
  if (!b)
    return NULL;
  g_autofree char *what = g_strdup_printf ("static delta %s", name);
  return cairn_delta_parse (b, what, error);
}

gboolean
cairn_repo_delete_static_delta (CairnRepo *repo, const char *name, GError **error)
{
  g_autofree char *from = NULL, *to = NULL;
  if (!cairn_delta_name_parse (name, &from, &to, error))
    return FALSE;
  g_autofree char *rel = cairn_delta_relpath (from, to, NULL);
  struct stat st;
  if (fstatat (repo->repo_dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no static delta %s", name);
  /* The superblock goes first: a reader never sees a delta without parts. */
  g_autofree char *sb = g_strconcat (rel, "/superblock", NULL);
  if (!cairn_unlinkat (repo->repo_dfd, sb, 0, TRUE, error)
      || !cairn_rm_rf_at (repo->repo_dfd, rel, error))
    return FALSE;
  return cairn_repo_static_delta_reindex (repo, error);
}

/* name -> ay digest of the superblock file, for every delta of @names
 * (all of them when @to is NULL, else those to @to), inserted in the order
 * of @names. */
static GVariant *
digest_map (CairnRepo *repo, GPtrArray *names, const char *to, GError **error)
{
  g_auto (GVariantDict) dict;
  g_variant_dict_init (&dict, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      const char *dash = strchr (name, '-');
      if (to && strcmp (dash ? dash + 1 : name, to) != 0)
        continue;
      g_autoptr (GBytes) b = load_superblock (repo, name, error);
      if (!b)
        return NULL;
      guint8 d[32];
      EVP_Digest (g_bytes_get_data (b, NULL), g_bytes_get_size (b), d, NULL, cairn_sha256 (), NULL);
      g_variant_dict_insert_value (&dict, name,
                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, d, 32, 1));
    }
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

GVariant *
cairn_repo_static_delta_digests (CairnRepo *repo, GError **error)
{
  g_autoptr (GPtrArray) names = list_unsorted (repo, error);
  if (!names)
    return NULL;
  if (names->len == 0)
    return NULL;
  return digest_map (repo, names, NULL, error);
}

static gboolean
write_index (CairnRepo *repo, GPtrArray *names, const char *to, GError **error)
{
  g_autoptr (GVariant) map = digest_map (repo, names, to, error);
  if (!map)
    return FALSE;
  g_auto (GVariantDict) idx;
  g_variant_dict_init (&idx, NULL);
  g_variant_dict_insert_value (&idx, KEY_STATIC_DELTAS, map);
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_dict_end (&idx));
  g_autofree char *rel = cairn_delta_index_relpath (to);
  g_autofree char *dir = g_path_get_dirname (rel);
  g_autofree char *base = g_path_get_basename (rel);
  cairn_autofd dfd = -1;
  if (!cairn_mkdirat_p (repo->repo_dfd, dir, 0755, error)
      || !cairn_opendirat (repo->repo_dfd, dir, FALSE, &dfd, error))
    return FALSE;
  return cairn_file_replace_contents_at (dfd, base, g_variant_get_data (v), g_variant_get_size (v),
                                         0644, cairn_repo_fsync_policy (repo), error);
}

/* Remove index files of targets that have no delta any more. */
static gboolean
prune_indexes (CairnRepo *repo, GHashTable *targets, GError **error)
{
  cairn_autofd fd = -1;
  g_autoptr (GError) local = NULL;
  if (!cairn_opendirat (repo->repo_dfd, "delta-indexes", FALSE, &fd, &local))
    return g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
           || (g_propagate_error (error, g_steal_pointer (&local)), FALSE);
  DIR *d = fdopendir (fd);
  if (!d)
    return cairn_throw_errno (error, "opendir delta-indexes");
  fd = -1;
  g_autoptr (GPtrArray) stale = g_ptr_array_new_with_free_func (g_free);
  struct dirent *e;
  while ((e = readdir (d)))
    {
      if (strlen (e->d_name) != 2)
        continue;
      cairn_autofd sfd = -1;
      if (!cairn_opendirat (dirfd (d), e->d_name, FALSE, &sfd, NULL))
        continue;
      DIR *sd = fdopendir (sfd);
      if (!sd)
        continue;
      sfd = -1;
      struct dirent *f;
      while ((f = readdir (sd)))
        {
          if (!g_str_has_suffix (f->d_name, ".index"))
            continue;
          g_autofree char *mb = g_strconcat (e->d_name, f->d_name, NULL);
          mb[strlen (mb) - strlen (".index")] = '\0';
          char hex[65];
          if (mb64_to_hex (mb, strlen (mb), hex) && !g_hash_table_contains (targets, hex))
            g_ptr_array_add (stale, g_strdup_printf ("delta-indexes/%s/%s", e->d_name, f->d_name));
        }
      closedir (sd);
    }
  closedir (d);
  for (guint i = 0; i < stale->len; i++)
    if (!cairn_unlinkat (repo->repo_dfd, stale->pdata[i], 0, TRUE, error))
      return FALSE;
  return TRUE;
}

gboolean
cairn_repo_static_delta_reindex (CairnRepo *repo, GError **error)
{
  g_autoptr (GPtrArray) names = list_unsorted (repo, error);
  if (!names)
    return FALSE;
  g_autoptr (GHashTable) targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i], *dash = strchr (name, '-');
      const char *to = dash ? dash + 1 : name;
      if (g_hash_table_contains (targets, to))
        continue;
      g_hash_table_add (targets, g_strdup (to));
      if (!write_index (repo, names, to, error))
        return cairn_prefix_error (error, "indexing the deltas to %s", to);
    }
  return prune_indexes (repo, targets, error);
}

/* ---- ed25519 signatures of superblocks ---------------------------------------------- */

#define SIGN_KEY_ED25519 "ostree.sign.ed25519"
#define SIGNED_MAGIC G_GUINT64_CONSTANT (0x4F535453474E4454)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)

/* ostree's secret key: base64 of the 32-byte seed and the 32-byte public
 * key (libsodium's layout); a bare 32-byte seed is accepted too. */
static EVP_PKEY *
secret_key (const char *b64, GError **error)
{
  gsize n = 0;
  g_autofree guint8 *raw = g_base64_decode (b64, &n);
  if (n != 64 && n != 32)
    return cairn_throw_code (
               error, G_IO_ERROR_INVALID_ARGUMENT,
               "an ed25519 secret key is 64 bytes in base64 (got %" G_GSIZE_FORMAT ")", n),
           NULL;
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, raw, 32);
  if (!k)
    cairn_throw (error, "invalid ed25519 secret key");
  return k;
}

static GBytes *
sign_one (EVP_PKEY *k, GBytes *data, GError **error)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  guint8 sig[64];
  size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit (ctx, NULL, NULL, NULL, k) != 1
      || EVP_DigestSign (ctx, sig, &len, g_bytes_get_data (data, NULL), g_bytes_get_size (data))
             != 1)
    return cairn_throw (error, "ed25519 signing failed"), NULL;
  return g_bytes_new (sig, len);
}

GBytes *
_cairn_delta_sign (GBytes *superblock, const char *const *secret_keys, GError **error)
{
  g_auto (GVariantBuilder) sigs;
  g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
  for (const char *const *s = secret_keys; *s; s++)
    {
      g_autoptr (EVP_PKEY) k = secret_key (*s, error);
      if (!k)
        return NULL;
      g_autoptr (GBytes) sig = sign_one (k, superblock, error);
      if (!sig)
        return NULL;
      g_variant_builder_add_value (&sigs,
                                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, sig, TRUE));
    }
  g_auto (GVariantBuilder) dict;
  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", SIGN_KEY_ED25519, g_variant_builder_end (&sigs));
  g_autoptr (GVariant) v = g_variant_ref_sink (
      g_variant_new ("(t@ay@a{sv})", GUINT64_TO_BE (SIGNED_MAGIC),
                     g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, superblock, TRUE),
                     g_variant_builder_end (&dict)));
  return g_variant_get_data_as_bytes (v);
}

static gboolean
verify_one (const guint8 pk[32], GBytes *data, GVariant *sig)
{
  g_autoptr (EVP_PKEY) k = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pk, 32);
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  return k && ctx && EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, k) == 1
         && EVP_DigestVerify (ctx, g_variant_get_data (sig), g_variant_get_size (sig),
                              g_bytes_get_data (data, NULL), g_bytes_get_size (data))
                == 1;
}

gboolean
cairn_delta_verify_signature (const CairnDelta *delta, const char *const *public_keys,
                              GError **error)
{
  g_autoptr (GVariant) sigs
      = delta->signatures
            ? g_variant_lookup_value (delta->signatures, SIGN_KEY_ED25519, G_VARIANT_TYPE ("aay"))
            : NULL;
  if (!sigs || g_variant_n_children (sigs) == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "static delta %s: no ed25519 signature",
                             delta->name);
  g_autoptr (GBytes) data = g_variant_get_data_as_bytes (delta->variant);
  for (const char *const *k = public_keys; k && *k; k++)
    {
      gsize n = 0;
      g_autofree guint8 *pk = g_base64_decode (*k, &n);
      if (n != 32)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                                 "an ed25519 public key is 32 bytes in base64");
      for (gsize i = 0; i < g_variant_n_children (sigs); i++)
        {
          g_autoptr (GVariant) s = g_variant_get_child_value (sigs, i);
          if (verify_one (pk, data, s))
            return TRUE;
        }
    }
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                           "static delta %s: no signature verifies with the trusted ed25519 keys",
                           delta->name);
}
