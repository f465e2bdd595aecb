/* cairn — gpgme plumbing: private GnuPG homes, contexts, data, import.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>

#include "sign/sign-private.h"

/* gpg.conf of every private home. no-autostart: verification, listing and
 * merging of public keys never need gpg-agent, keyboxd or dirmngr, so none
 * is started (which also keeps secret-key material out of merged keyrings).
 * no-auto-key-retrieve: an unknown signer must stay unknown rather than be
 * fetched from a keyserver or WKD — trust comes only from the keyring set,
 * and verification must work offline. */
static const char home_gpg_conf[] = "no-autostart\n"
                                    "no-auto-key-retrieve\n"
                                    "auto-key-locate local\n"
                                    "no-greeting\n";

static gboolean
gpgme_ready (GError **error)
{
  static gsize inited;
  static gpgme_error_t init_err;

  if (g_once_init_enter (&inited))
    {
      gpgme_check_version (NULL);
      gpgme_set_locale (NULL, LC_CTYPE, setlocale (LC_CTYPE, NULL));
      init_err = gpgme_engine_check_version (GPGME_PROTOCOL_OpenPGP);
      g_once_init_leave (&inited, 1);
    }
  if (init_err != 0)
    return cairn_gpg_throw (error, init_err, "gpg (OpenPGP engine) is not usable");
  return TRUE;
}

gboolean
cairn_gpg_throw (GError **error, gpgme_error_t err, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *prefix = NULL;
  GIOErrorEnum code = G_IO_ERROR_FAILED;

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (gpgme_err_code (err) == GPG_ERR_EOF || gpgme_err_code (err) == GPG_ERR_NO_SECKEY
      || gpgme_err_code (err) == GPG_ERR_UNUSABLE_SECKEY)
    code = G_IO_ERROR_NOT_FOUND;
  return cairn_throw_code (error, code, "%s: %s", prefix, gpgme_strerror (err));
}

static const char *
gpgconf_path (void)
{
  gpgme_engine_info_t info = NULL;

  if (gpgme_get_engine_info (&info) == 0)
    for (; info != NULL; info = info->next)
      if (info->protocol == GPGME_PROTOCOL_GPGCONF && info->file_name != NULL)
        return info->file_name;
  return "gpgconf";
}

/* Stop every daemon (gpg-agent, dirmngr, keyboxd, scdaemon) that may run
 * for @path. Best effort: nothing runs in the normal case (no-autostart),
 * and a failure here must not hide the caller's real result. A leaked agent
 * per verification is the classic flaw of temporary GnuPG homes (STYLE.md). */
static void
kill_daemons (const char *path)
{
  const char *gpgconf = gpgconf_path ();
  const char *argv[] = { gpgconf, "--homedir", path, "--kill", "all", NULL };
  GSpawnFlags flags = G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL;

  if (!g_path_is_absolute (gpgconf))
    flags |= G_SPAWN_SEARCH_PATH;
  (void)g_spawn_sync (NULL, (char **)argv, NULL, flags, NULL, NULL, NULL, NULL, NULL, NULL);
}

static char *
tmp_home_template (void)
{
  /* Read $TMPDIR on each call (g_get_tmp_dir() caches it), so that a test
   * can point us at a directory it then checks for leftovers. */
  const char *tmpdir = g_getenv ("TMPDIR");

  if (tmpdir == NULL || *tmpdir == '\0')
    tmpdir = "/tmp";
  return g_build_filename (tmpdir, "cairn-gpg-XXXXXX", NULL);
}

CairnGpgHome *
cairn_gpg_home_new (GError **error)
{
  g_autoptr (CairnGpgHome) home = g_new0 (CairnGpgHome, 1);

  home->dfd = -1;
  if (!gpgme_ready (error))
    return NULL;
  home->path = tmp_home_template ();
  if (g_mkdtemp_full (home->path, 0700) == NULL)
    {
      cairn_throw_errno (error, "creating temporary GnuPG home %s", home->path);
      g_clear_pointer (&home->path, g_free);
      return NULL;
    }
  if (!cairn_opendirat (AT_FDCWD, home->path, FALSE, &home->dfd, error))
    return NULL;
  /* An existing pubring.gpg makes GnuPG 2.1+ keep the legacy keyring format
   * instead of creating pubring.kbx — the format of NAME.trustedkeys.gpg. */
  if (!cairn_file_replace_contents_at (home->dfd, "gpg.conf", home_gpg_conf, strlen (home_gpg_conf),
                                       0600, CAIRN_FSYNC_NONE, error)
      || !cairn_file_replace_contents_at (home->dfd, "pubring.gpg", "", 0, 0600, CAIRN_FSYNC_NONE,
                                          error))
    return NULL;
  return g_steal_pointer (&home);
}

void
cairn_gpg_home_free (CairnGpgHome *home)
{
  if (home == NULL)
    return;
  if (home->path != NULL)
    {
      g_autoptr (GError) local_error = NULL;

      kill_daemons (home->path);
      /* Removal failure cannot be reported from a destructor; the directory
       * holds public keys only. */
      (void)cairn_rm_rf_at (AT_FDCWD, home->path, &local_error);
    }
  cairn_close_fdp (&home->dfd);
  g_free (home->path);
  g_free (home);
}

gboolean
cairn_gpg_ctx_new (const char *homedir, gpgme_ctx_t *out_ctx, GError **error)
{
  g_auto (gpgme_ctx_t) ctx = NULL;
  gpgme_error_t err;

  if (!gpgme_ready (error))
    return FALSE;
  err = gpgme_new (&ctx);
  if (err == 0)
    err = gpgme_set_protocol (ctx, GPGME_PROTOCOL_OpenPGP);
  if (err == 0 && homedir != NULL)
    err = gpgme_ctx_set_engine_info (ctx, GPGME_PROTOCOL_OpenPGP, NULL, homedir);
  if (err != 0)
    return cairn_gpg_throw (error, err, "creating gpgme context");
  gpgme_set_armor (ctx, 0);
  gpgme_set_textmode (ctx, 0);
  gpgme_set_offline (ctx, 1);
  *out_ctx = g_steal_pointer (&ctx);
  return TRUE;
}

gboolean
cairn_gpg_data_from_bytes (GBytes *bytes, gpgme_data_t *out_data, GError **error)
{
  gsize len = 0;
  const char *buf = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;
  gpgme_error_t err = gpgme_data_new_from_mem (out_data, buf != NULL ? buf : "", len, 0);

  if (err != 0)
    return cairn_gpg_throw (error, err, "wrapping data for gpgme");
  return TRUE;
}

GBytes *
cairn_gpg_data_steal_bytes (gpgme_data_t data)
{
  size_t len = 0;
  char *buf = gpgme_data_release_and_get_mem (data, &len);
  GBytes *ret = g_bytes_new (buf, buf != NULL ? len : 0);

  gpgme_free (buf);
  return ret;
}

gboolean
cairn_gpg_import (gpgme_ctx_t ctx, GBytes *keys, const char *label,
                  gpgme_import_result_t *out_result, GError **error)
{
  g_auto (gpgme_data_t) data = NULL;
  gpgme_error_t err;

  if (!cairn_gpg_data_from_bytes (keys, &data, error))
    return FALSE;
  err = gpgme_op_import (ctx, data);
  if (err != 0)
    return cairn_gpg_throw (error, err, "importing keys from %s", label);
  *out_result = gpgme_op_import_result (ctx);
  return TRUE;
}

char *
cairn_gpg_normalize_key_id (const char *key_id)
{
  g_autoptr (GString) s = g_string_new (NULL);
  const char *p = key_id;

  if (p == NULL)
    return NULL;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    p += 2;
  for (; *p != '\0'; p++)
    {
      if (*p == ' ')
        continue;
      if (!g_ascii_isxdigit (*p))
        return NULL;
      g_string_append_c (s, g_ascii_toupper (*p));
    }
  if (s->len != 8 && s->len != 16 && s->len != 40 && s->len != 64)
    return NULL;
  return g_string_free (g_steal_pointer (&s), FALSE);
}
