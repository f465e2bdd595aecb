/* Remotes as OSTree configures them ([remote "NAME"] in <repo>/config,
 * keyrings in <repo>/NAME.trustedkeys.gpg; docs/format.md §12.1,
 * §8.5) and the signature trust policy that pull and run apply
 * (sync/cairn-remote.h, docs/cairn-sign.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "sync/cairn-remote.h"
#include "store/cairn-store-lowlevel.h"
#include <dirent.h>
#include <string.h>

static char *
group_name (const char *name)
{
  return g_strdup_printf ("remote \"%s\"", name);
}

static gint
cmp_strp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static char *
keyring_name (const char *name)
{
  return g_strconcat (name, ".trustedkeys.gpg", NULL);
}

/* ---- URLs --------------------------------------------------------------------- */

static gboolean
has_control_chars (const char *s)
{
  for (const guchar *p = (const guchar *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static gboolean
check_uri (const char *url, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local);
  if (!uri)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL '%s': %s", url,
                             local->message);
  const char *scheme = g_uri_get_scheme (uri);
  const char *host = g_uri_get_host (uri);
  const char *path = g_uri_get_path (uri);
  if (g_ascii_strcasecmp (scheme, "file") == 0)
    {
      if (path[0] != '/' || (host && *host))
        return cairn_throw_code (
            error, G_IO_ERROR_INVALID_ARGUMENT,
            "invalid URL '%s': a file:// URL needs an absolute path and no host", url);
      return TRUE;
    }
  gboolean ssh = g_ascii_strcasecmp (scheme, "ssh") == 0;
  if (!ssh && g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "unsupported URL '%s': use a path, file://, http://, https:// or "
                             "ssh://[USER@]HOST[:PORT]/PATH",
                             url);
  if (!host || !*host)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL '%s': no host", url);
  if (ssh && path[0] != '/')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "invalid URL '%s': an ssh:// URL needs a repository path", url);
  return TRUE;
}

gboolean
cairn_remote_validate_url (const char *url, GError **error)
{
  if (url == NULL || *url == '\0')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "empty URL");
  if (has_control_chars (url) || !g_utf8_validate (url, -1, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "invalid URL: control characters or invalid UTF-8");
  if (g_str_has_prefix (url, "mirrorlist="))
    {
      const char *list = url + strlen ("mirrorlist=");
      if (!g_str_has_prefix (list, "http://") && !g_str_has_prefix (list, "https://"))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                                 "invalid URL '%s': a mirrorlist must be http(s)", url);
      return check_uri (list, error);
    }
  return check_uri (url, error);
}

/* ---- config -------------------------------------------------------------------- */

static gboolean
validate_option (const char *opt, char **out_key, const char **out_value, GError **error)
{
  const char *eq = strchr (opt, '=');
  if (!eq || eq == opt)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "option '%s' is not KEY=VALUE",
                             opt);
  g_autofree char *key = g_strndup (opt, eq - opt);
  for (const char *p = key; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid option name '%s'", key);
  if (has_control_chars (eq + 1))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "option %s: control characters in the value", key);
  static const char *const bools[]
      = { "gpg-verify", "gpg-verify-summary", "tls-permissive", "http2", NULL };
  if (g_strv_contains (bools, key) && strcmp (eq + 1, "true") != 0 && strcmp (eq + 1, "false") != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "option %s wants true or false, not '%s'", key, eq + 1);
  if (strcmp (key, "url") == 0 && !cairn_remote_validate_url (eq + 1, error))
    return FALSE;
  *out_key = g_steal_pointer (&key);
  *out_value = eq + 1;
  return TRUE;
}

gboolean
cairn_repo_remote_add (CairnRepo *repo, const char *name, const char *url,
                       const char *const *branches, const char *const *options, gboolean gpg_verify,
                       gboolean if_not_exists, GError **error)
{
  if (!cairn_validate_remote_name (name, error) || !cairn_remote_validate_url (url, error))
    return cairn_prefix_error (error, "adding remote");
  for (const char *const *b = branches; b && *b; b++)
    if (!cairn_validate_ref_name (*b, error))
      return cairn_prefix_error (error, "adding remote %s", name);
  g_autofree char *group = group_name (name);
  if (g_key_file_has_group (repo->config, group))
    {
      if (if_not_exists)
        return TRUE;
      return cairn_throw_code (error, G_IO_ERROR_EXISTS, "remote '%s' already exists", name);
    }
  /* Validate everything before touching the config. */
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) values = g_ptr_array_new ();
  for (const char *const *o = options; o && *o; o++)
    {
      char *k = NULL;
      const char *v = NULL;
      if (!validate_option (*o, &k, &v, error))
        return cairn_prefix_error (error, "adding remote %s", name);
      g_ptr_array_add (keys, k);
      g_ptr_array_add (values, (gpointer)v);
    }
  /* Same keys in the same order as `ostree remote add`. */
  g_key_file_set_string (repo->config, group, "url", url);
  if (branches && branches[0])
    g_key_file_set_string_list (repo->config, group, "branches", branches,
                                g_strv_length ((char **)branches));
  for (guint i = 0; i < keys->len; i++)
    g_key_file_set_string (repo->config, group, keys->pdata[i], values->pdata[i]);
  if (!gpg_verify)
    g_key_file_set_boolean (repo->config, group, "gpg-verify", FALSE);
  if (!cairn_repo_write_config (repo, error))
    {
      g_key_file_remove_group (repo->config, group, NULL);
      return cairn_prefix_error (error, "adding remote %s", name);
    }
  return TRUE;
}

gboolean
cairn_repo_remote_delete (CairnRepo *repo, const char *name, gboolean if_exists, GError **error)
{
  if (!cairn_validate_remote_name (name, error))
    return FALSE;
  g_autofree char *group = group_name (name);
  if (!g_key_file_has_group (repo->config, group))
    {
      if (if_exists)
        return TRUE;
      return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "remote '%s' is not configured", name);
    }
  g_key_file_remove_group (repo->config, group, NULL);
  g_autofree char *keyring = keyring_name (name);
  g_autofree char *refdir = g_strconcat ("refs/remotes/", name, NULL);
  if (!cairn_repo_write_config (repo, error)
      || !cairn_unlinkat (repo->repo_dfd, keyring, 0, TRUE, error)
      || !cairn_rm_rf_at (repo->repo_dfd, refdir, error))
    return cairn_prefix_error (error, "deleting remote %s", name);
  (void)futimens (repo->repo_dfd, NULL);
  return TRUE;
}

char **
cairn_repo_remote_list (CairnRepo *repo)
{
  g_auto (GStrv) groups = g_key_file_get_groups (repo->config, NULL);
  GPtrArray *out = g_ptr_array_new ();
  for (char **g = groups; *g; g++)
    {
      gsize len = strlen (*g);
      if (g_str_has_prefix (*g, "remote \"") && len > 9 && (*g)[len - 1] == '"')
        g_ptr_array_add (out, g_strndup (*g + 8, len - 9));
    }
  g_ptr_array_sort (out, cmp_strp);
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

gboolean
cairn_repo_is_remote_name (CairnRepo *repo, const char *source)
{
  if (strchr (source, '/') || strchr (source, ':') || !cairn_validate_remote_name (source, NULL))
    return FALSE;
  g_autofree char *group = g_strdup_printf ("remote \"%s\"", source);
  return g_key_file_has_group (repo->config, group);
}

const char *
cairn_remote_get_option (CairnRemote *remote, const char *key)
{
  const char *v = NULL;
  if (remote && remote->options)
    g_variant_lookup (remote->options, key, "&s", &v);
  return v;
}

void
cairn_remote_free (CairnRemote *r)
{
  if (!r)
    return;
  g_free (r->name);
  g_free (r->url);
  g_strfreev (r->branches);
  g_free (r->collection_id);
  g_free (r->keyring);
  g_clear_pointer (&r->options, g_variant_unref);
  g_free (r);
}

static gboolean
get_bool (GKeyFile *kf, const char *group, const char *key, gboolean dflt, gboolean *out,
          GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!g_key_file_has_key (kf, group, key, NULL))
    {
      *out = dflt;
      return TRUE;
    }
  *out = g_key_file_get_boolean (kf, group, key, &local);
  if (local)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "[%s] %s: %s", group, key,
                             local->message);
  return TRUE;
}

CairnRemote *
cairn_repo_remote_get (CairnRepo *repo, const char *name, GError **error)
{
  if (!cairn_validate_remote_name (name, error))
    return NULL;
  g_autofree char *group = group_name (name);
  if (!g_key_file_has_group (repo->config, group))
    {
      cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "remote '%s' is not configured", name);
      return NULL;
    }
  g_autoptr (CairnRemote) r = g_new0 (CairnRemote, 1);
  r->name = g_strdup (name);
  r->keyring = keyring_name (name);
  r->url = g_key_file_get_string (repo->config, group, "url", NULL);
  if (!r->url)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "remote '%s' has no url", name);
      return NULL;
    }
  if (!get_bool (repo->config, group, "gpg-verify", TRUE, &r->gpg_verify, error)
      || !get_bool (repo->config, group, "gpg-verify-summary", FALSE, &r->gpg_verify_summary,
                    error))
    return NULL;
  r->branches = g_key_file_get_string_list (repo->config, group, "branches", NULL, NULL);
  r->collection_id = g_key_file_get_string (repo->config, group, "collection-id", NULL);
  g_auto (GStrv) keys = g_key_file_get_keys (repo->config, group, NULL, NULL);
  g_auto (GVariantBuilder) b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{ss}"));
  for (char **k = keys; k && *k; k++)
    {
      g_autofree char *v = g_key_file_get_value (repo->config, group, *k, NULL);
      g_variant_builder_add (&b, "{ss}", *k, v ? v : "");
    }
  r->options = g_variant_ref_sink (g_variant_builder_end (&b));
  return g_steal_pointer (&r);
}

/* ---- keyrings ------------------------------------------------------------------- */

static GBytes *
read_keyring_if_exists (CairnRepo *repo, const char *file, GError **error)
{
  g_autoptr (GError) local = NULL;
  GBytes *b = cairn_file_get_contents_at (repo->repo_dfd, file, 64 << 20, &local);
  if (!b && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_bytes_new (NULL, 0);
  if (!b)
    g_propagate_error (error, g_steal_pointer (&local));
  return b;
}

gboolean
cairn_repo_remote_gpg_import (CairnRepo *repo, const char *name, GBytes *key_data,
                              guint *out_n_imported, GError **error)
{
  g_autoptr (CairnRemote) r = cairn_repo_remote_get (repo, name, error);
  if (!r)
    return FALSE;
  g_autoptr (GBytes) old = read_keyring_if_exists (repo, r->keyring, error);
  if (!old)
    return cairn_prefix_error (error, "reading %s", r->keyring);
  guint n = 0;
  g_autoptr (GBytes) merged = cairn_sign_keyring_merge (old, key_data, &n, error);
  if (!merged)
    return cairn_prefix_error (error, "importing keys for remote %s", name);
  if (!cairn_file_replace_contents_at (repo->repo_dfd, r->keyring, g_bytes_get_data (merged, NULL),
                                       g_bytes_get_size (merged), 0644,
                                       cairn_repo_fsync_policy (repo), error))
    return cairn_prefix_error (error, "writing %s", r->keyring);
  if (out_n_imported)
    *out_n_imported = n;
  return TRUE;
}

GPtrArray *
cairn_repo_remote_list_keys (CairnRepo *repo, const char *name, GError **error)
{
  g_autoptr (CairnRemote) r = cairn_repo_remote_get (repo, name, error);
  if (!r)
    return NULL;
  g_autoptr (GBytes) data = read_keyring_if_exists (repo, r->keyring, error);
  if (!data)
    return NULL;
  if (g_bytes_get_size (data) == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_key_info_free);
  return cairn_sign_keyring_list (data, error);
}

/* ---- trust policy ------------------------------------------------------------------ */

/* gpgkeypath: files are keyrings/armored keys; a directory contributes every
 * regular file directly inside it (docs/format.md §8.5). */
static gboolean
add_gpgkeypath (CairnKeyringSet *set, const char *value, gboolean *out_added, GError **error)
{
  g_auto (GStrv) parts = g_strsplit_set (value, ";,", -1);
  for (char **p = parts; *p; p++)
    {
      g_strstrip (*p);
      if (**p == '\0')
        continue;
      struct stat st;
      if (stat (*p, &st) < 0)
        return cairn_throw_errno (error, "gpgkeypath %s", *p);
      if (!S_ISDIR (st.st_mode))
        {
          if (!cairn_keyring_set_add_file_at (set, AT_FDCWD, *p, error))
            return FALSE;
          *out_added = TRUE;
          continue;
        }
      g_autoptr (GDir) dir = g_dir_open (*p, 0, error);
      if (!dir)
        return FALSE;
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      for (const char *n; (n = g_dir_read_name (dir)) != NULL;)
        g_ptr_array_add (names, g_build_filename (*p, n, NULL));
      g_ptr_array_sort (names, cmp_strp);
      for (guint i = 0; i < names->len; i++)
        if (g_file_test (names->pdata[i], G_FILE_TEST_IS_REGULAR))
          {
            if (!cairn_keyring_set_add_file_at (set, AT_FDCWD, names->pdata[i], error))
              return FALSE;
            *out_added = TRUE;
          }
    }
  return TRUE;
}

/* The remote's own keys; *out_found FALSE when it has none configured. */
static gboolean
add_remote_keys (CairnRepo *repo, CairnKeyringSet *set, const char *remote, gboolean *out_found,
                 GError **error)
{
  g_autoptr (CairnRemote) r = cairn_repo_remote_get (repo, remote, error);
  if (!r)
    return FALSE;
  gboolean found = FALSE, exists = FALSE;
  struct stat st;
  if (!cairn_fstatat_nofollow (repo->repo_dfd, r->keyring, &st, TRUE, &exists, error))
    return FALSE;
  if (exists)
    {
      if (!cairn_keyring_set_add_file_at (set, repo->repo_dfd, r->keyring, error))
        return FALSE;
      found = TRUE;
    }
  g_autofree char *group = group_name (remote);
  g_autofree char *keypath = g_key_file_get_string (repo->config, group, "gpgkeypath", NULL);
  if (keypath && !add_gpgkeypath (set, keypath, &found, error))
    return cairn_prefix_error (error, "remote %s", remote);
  *out_found = found;
  return TRUE;
}

CairnKeyringSet *
cairn_repo_get_keyring_set (CairnRepo *repo, const char *remote, const char *keyring_file,
                            char **out_description, GError **error)
{
  g_autoptr (CairnKeyringSet) set = cairn_keyring_set_new ();
  g_autofree char *desc = NULL;
  gboolean found = FALSE;
  if (keyring_file)
    {
      if (!cairn_keyring_set_add_file_at (set, AT_FDCWD, keyring_file, error))
        {
          cairn_prefix_error (error, "keyring %s", keyring_file);
          return NULL;
        }
      desc = g_strdup_printf ("keyring %s", keyring_file);
      found = TRUE;
    }
  else if (remote)
    {
      if (!add_remote_keys (repo, set, remote, &found, error))
        return NULL;
      if (found)
        desc = g_strdup_printf ("keyring of remote '%s'", remote);
    }
  if (!found)
    {
      if (!cairn_keyring_set_add_dir_at (set, repo->repo_dfd, CAIRN_REPO_TRUSTED_GPG_DIR, TRUE,
                                         error))
        return NULL;
      desc = g_strdup_printf ("%s%s%s%s", remote ? "remote '" : "", remote ? remote : "",
                              remote ? "' has no keyring; " : "",
                              "repository keyring directory " CAIRN_REPO_TRUSTED_GPG_DIR "/");
    }
  if (out_description)
    *out_description = g_steal_pointer (&desc);
  return g_steal_pointer (&set);
}

static gboolean
verify_with_policy (CairnRepo *repo, GBytes *data, GVariant *sigs, const char *remote,
                    const char *keyring_file, CairnVerifyResult **out_result, GError **error)
{
  g_autoptr (CairnKeyringSet) keys
      = cairn_repo_get_keyring_set (repo, remote, keyring_file, NULL, error);
  if (!keys)
    return FALSE;
  CairnVerifyResult *result = cairn_sign_verify_detached (data, sigs, keys, error);
  if (!result)
    return FALSE;
  *out_result = result;
  return TRUE;
}

gboolean
cairn_repo_verify_commit_data (CairnRepo *repo, GBytes *commit_data, GVariant *detached,
                               const char *remote, const char *keyring_file,
                               CairnVerifyResult **out_result, GError **error)
{
  g_autoptr (GVariant) sigs = NULL;
  if (detached && g_variant_is_of_type (detached, G_VARIANT_TYPE_VARDICT))
    sigs = g_variant_lookup_value (detached, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay"));
  if (!sigs || g_variant_n_children (sigs) == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no GPG signatures found");
  return verify_with_policy (repo, commit_data, sigs, remote, keyring_file, out_result, error);
}

gboolean
cairn_repo_verify_commit (CairnRepo *repo, const char *commit, const char *remote,
                          const char *keyring_file, CairnVerifyResult **out_result, GError **error)
{
  g_autoptr (GBytes) data = cairn_repo_load_commit_bytes (repo, commit, error);
  g_autoptr (GVariant) meta = NULL;
  if (!data || !cairn_repo_read_commit_detached_metadata (repo, commit, &meta, error)
      || !cairn_repo_verify_commit_data (repo, data, meta, remote, keyring_file, out_result, error))
    return cairn_prefix_error (error, "commit %s", commit);
  return TRUE;
}

static gboolean
load_own_summary (CairnRepo *repo, GBytes **out_summary, GBytes **out_sig, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) summary
      = cairn_file_get_contents_at (repo->repo_dfd, "summary", CAIRN_MAX_METADATA_SIZE, error);
  if (!summary)
    return FALSE;
  GBytes *sig
      = cairn_file_get_contents_at (repo->repo_dfd, "summary.sig", CAIRN_MAX_METADATA_SIZE, &local);
  if (!sig)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                                 "the summary is not signed (no summary.sig)");
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  *out_summary = g_steal_pointer (&summary);
  *out_sig = sig;
  return TRUE;
}

gboolean
cairn_repo_verify_summary (CairnRepo *repo, GBytes *summary, GBytes *summary_sig,
                           const char *remote, const char *keyring_file,
                           CairnVerifyResult **out_result, GError **error)
{
  g_autoptr (GBytes) own_summary = NULL, own_sig = NULL;
  if (summary == NULL && summary_sig == NULL)
    {
      if (!load_own_summary (repo, &own_summary, &own_sig, error))
        return cairn_prefix_error (error, "verifying the summary");
      summary = own_summary;
      summary_sig = own_sig;
    }
  if (!summary || !summary_sig)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "verifying the summary: summary or summary.sig missing");
  g_autoptr (GVariant) sigdict
      = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, summary_sig, FALSE));
  if (!g_variant_is_normal_form (sigdict))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "verifying the summary: summary.sig is not in normal form");
  g_autoptr (GVariant) sigs
      = g_variant_lookup_value (sigdict, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay"));
  if (!sigs || g_variant_n_children (sigs) == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "verifying the summary: summary.sig holds no GPG signatures");
  if (!verify_with_policy (repo, summary, sigs, remote, keyring_file, out_result, error))
    return cairn_prefix_error (error, "verifying the summary");
  return TRUE;
}

char *
cairn_verify_result_describe_failure (const CairnVerifyResult *result)
{
  GString *s = g_string_new ("no good signature from a trusted key");
  for (guint i = 0; i < result->signatures->len; i++)
    {
      const CairnSignatureInfo *info = result->signatures->pdata[i];
      g_string_append_printf (
          s, "%s key %s%s%s%s: %s", i ? ";" : ":", info->key_id ? info->key_id : "(unknown)",
          info->user_id ? " (" : "", info->user_id ? info->user_id : "", info->user_id ? ")" : "",
          info->reason ? info->reason : cairn_sig_status_to_string (info->status));
    }
  return g_string_free (s, FALSE);
}

gboolean
cairn_repo_require_signed_commit (CairnRepo *repo, const char *commit, const char *remote,
                                  const char *keyring_file, GError **error)
{
  g_autoptr (CairnVerifyResult) result = NULL;
  g_autoptr (GError) local = NULL;
  if (!cairn_validate_checksum_string (commit, error))
    return FALSE;
  if (!cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, commit))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "commit %s is not in the repository",
                             commit);
  if (!cairn_repo_verify_commit (repo, commit, remote, keyring_file, &result, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "%s", local->message);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (cairn_verify_result_any_good (result))
    return TRUE;
  g_autofree char *why = cairn_verify_result_describe_failure (result);
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "commit %s: %s", commit, why);
}
