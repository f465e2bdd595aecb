/* cairn — verifying detached signatures against a keyring set.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every verification runs in a fresh private GnuPG home that holds only the
 * keys of the CairnKeyringSet, so no key of the user's own keyring can make
 * a signature count (the trust policy in sign/cairn-sign.h).
 */
#include "config.h"

#include "sign/sign-private.h"

static void
sig_info_free (CairnSignatureInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->key_id);
  g_free (info->fingerprint);
  g_free (info->primary_fingerprint);
  g_free (info->user_id);
  g_free (info->reason);
  g_free (info);
}

void
cairn_verify_result_free (CairnVerifyResult *result)
{
  if (result == NULL)
    return;
  g_ptr_array_unref (result->signatures);
  g_free (result);
}

gboolean
cairn_verify_result_any_good (const CairnVerifyResult *result)
{
  return result != NULL && result->n_good > 0;
}

const char *
cairn_sig_status_to_string (CairnSigStatus status)
{
  switch (status)
    {
    case CAIRN_SIG_STATUS_GOOD:
      return "good";
    case CAIRN_SIG_STATUS_BAD:
      return "bad";
    case CAIRN_SIG_STATUS_EXPIRED_KEY:
      return "expired-key";
    case CAIRN_SIG_STATUS_REVOKED_KEY:
      return "revoked-key";
    case CAIRN_SIG_STATUS_UNKNOWN_KEY:
      return "unknown-key";
    case CAIRN_SIG_STATUS_EXPIRED_SIG:
      return "expired-signature";
    case CAIRN_SIG_STATUS_ERROR:
    default:
      return "error";
    }
}

/* Map gpgme's per-signature status and summary to one CairnSigStatus.
 * Problems are checked before success so that no combination of flags can
 * turn a revoked/expired/bad signature into a good one. Good follows
 * ostree: summary VALID or GREEN, or summary 0 without error (a key from
 * the keyring set whose owner trust is unknown still counts). */
static CairnSigStatus
classify (gpgme_signature_t sig)
{
  gpgme_sigsum_t s = sig->summary;

  switch (gpgme_err_code (sig->status))
    {
    case GPG_ERR_NO_ERROR:
      break;
    case GPG_ERR_BAD_SIGNATURE:
      return CAIRN_SIG_STATUS_BAD;
    case GPG_ERR_NO_PUBKEY:
      return CAIRN_SIG_STATUS_UNKNOWN_KEY;
    case GPG_ERR_KEY_EXPIRED:
      return CAIRN_SIG_STATUS_EXPIRED_KEY;
    case GPG_ERR_SIG_EXPIRED:
      return CAIRN_SIG_STATUS_EXPIRED_SIG;
    case GPG_ERR_CERT_REVOKED:
      return CAIRN_SIG_STATUS_REVOKED_KEY;
    default:
      return CAIRN_SIG_STATUS_ERROR;
    }
  if (s & GPGME_SIGSUM_KEY_REVOKED)
    return CAIRN_SIG_STATUS_REVOKED_KEY;
  if (s & GPGME_SIGSUM_KEY_EXPIRED)
    return CAIRN_SIG_STATUS_EXPIRED_KEY;
  if (s & GPGME_SIGSUM_SIG_EXPIRED)
    return CAIRN_SIG_STATUS_EXPIRED_SIG;
  if (s & GPGME_SIGSUM_KEY_MISSING)
    return CAIRN_SIG_STATUS_UNKNOWN_KEY;
  if (s & GPGME_SIGSUM_RED)
    return CAIRN_SIG_STATUS_BAD;
  if (sig->wrong_key_usage)
    return CAIRN_SIG_STATUS_ERROR;
  if ((s & (GPGME_SIGSUM_VALID | GPGME_SIGSUM_GREEN)) != 0 || s == 0)
    return CAIRN_SIG_STATUS_GOOD;
  return CAIRN_SIG_STATUS_ERROR;
}

static char *
format_time (gint64 t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);

  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
}

static char *
describe (const CairnSignatureInfo *info, gpgme_signature_t sig)
{
  const char *who = info->user_id != NULL ? info->user_id : info->key_id;
  g_autofree char *when = NULL;

  switch (info->status)
    {
    case CAIRN_SIG_STATUS_GOOD:
      return g_strdup_printf ("Good signature from \"%s\"", who ? who : "?");
    case CAIRN_SIG_STATUS_BAD:
      return g_strdup_printf ("BAD signature from \"%s\": the signed data or the signature "
                              "has been modified",
                              who ? who : "?");
    case CAIRN_SIG_STATUS_EXPIRED_KEY:
      when = info->key_expires ? format_time (info->key_expires) : g_strdup ("?");
      return g_strdup_printf ("Key of \"%s\" expired on %s; its signatures do not count",
                              who ? who : "?", when);
    case CAIRN_SIG_STATUS_REVOKED_KEY:
      return g_strdup_printf ("Key of \"%s\" has been revoked; its signatures do not count",
                              who ? who : "?");
    case CAIRN_SIG_STATUS_UNKNOWN_KEY:
      return g_strdup_printf ("Can't check signature: key %s is not in the trusted keyrings",
                              info->key_id ? info->key_id : "(no issuer)");
    case CAIRN_SIG_STATUS_EXPIRED_SIG:
      when = info->sig_expires ? format_time (info->sig_expires) : g_strdup ("?");
      return g_strdup_printf ("Signature by \"%s\" expired on %s", who ? who : "?", when);
    case CAIRN_SIG_STATUS_ERROR:
    default:
      if (sig->wrong_key_usage)
        return g_strdup_printf ("Key of \"%s\" may not make signatures", who ? who : "?");
      return g_strdup_printf ("Can't check signature by %s: %s (gpgme summary 0x%x)",
                              who ? who : "?", gpgme_strerror (sig->status),
                              (unsigned)sig->summary);
    }
}

/* Fill key details from the key as imported into the private home. */
static void
add_key_details (gpgme_ctx_t ctx, CairnSignatureInfo *info)
{
  g_auto (gpgme_key_t) key = NULL;

  if (info->fingerprint == NULL && info->key_id == NULL)
    return;
  if (gpgme_get_key (ctx, info->fingerprint ? info->fingerprint : info->key_id, &key, 0) != 0)
    return;
  if (key->subkeys != NULL && key->subkeys->fpr != NULL)
    info->primary_fingerprint = g_ascii_strup (key->subkeys->fpr, -1);
  if (key->uids != NULL && key->uids->uid != NULL)
    info->user_id = g_utf8_make_valid (key->uids->uid, -1);
  for (gpgme_subkey_t sk = key->subkeys; sk != NULL; sk = sk->next)
    if (sk->fpr != NULL
        && (g_ascii_strcasecmp (sk->fpr, info->fingerprint ? info->fingerprint : "") == 0
            || (sk->keyid != NULL && g_ascii_strcasecmp (sk->keyid, info->key_id) == 0)))
      {
        info->key_expires = sk->expires;
        if (info->fingerprint == NULL)
          info->fingerprint = g_ascii_strup (sk->fpr, -1);
      }
}

static CairnSignatureInfo *
sig_info_new (gpgme_ctx_t ctx, gpgme_signature_t sig)
{
  CairnSignatureInfo *info = g_new0 (CairnSignatureInfo, 1);
  gsize fpr_len = sig->fpr != NULL ? strlen (sig->fpr) : 0;

  info->timestamp = sig->timestamp;
  info->sig_expires = sig->exp_timestamp;
  /* sig->fpr is the signing key's fingerprint, or only its key id when gpg
   * had nothing better (unknown key without an issuer-fingerprint). */
  if (fpr_len >= 40)
    info->fingerprint = g_ascii_strup (sig->fpr, -1);
  if (fpr_len >= 16)
    info->key_id = g_ascii_strup (sig->fpr + (fpr_len == 64 ? 0 : fpr_len - 16), 16);
  info->status = classify (sig);
  if (info->status != CAIRN_SIG_STATUS_UNKNOWN_KEY)
    add_key_details (ctx, info);
  info->reason = describe (info, sig);
  return info;
}

static gboolean
concat_sigs (GVariant *sigs_aay, GBytes **out_sigs, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  gsize n;

  if (sigs_aay == NULL || !g_variant_is_of_type (sigs_aay, G_VARIANT_TYPE ("aay")))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "signatures must be a GVariant of type aay");
  n = g_variant_n_children (sigs_aay);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (sigs_aay, i);
      gsize len = 0;
      const guint8 *p = g_variant_get_fixed_array (child, &len, 1);

      g_byte_array_append (buf, p, len);
    }
  if (buf->len == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no signatures");
  *out_sigs = g_byte_array_free_to_bytes (g_steal_pointer (&buf));
  return TRUE;
}

static CairnVerifyResult *
run_verify (gpgme_ctx_t ctx, GBytes *data, GBytes *sigs, GError **error)
{
  g_auto (gpgme_data_t) sig_data = NULL;
  g_auto (gpgme_data_t) plain = NULL;
  gpgme_verify_result_t vres;
  gpgme_error_t err;
  CairnVerifyResult *result;

  if (!cairn_gpg_data_from_bytes (sigs, &sig_data, error)
      || !cairn_gpg_data_from_bytes (data, &plain, error))
    return NULL;
  err = gpgme_op_verify (ctx, sig_data, plain, NULL);
  vres = gpgme_op_verify_result (ctx);
  /* A failed operation can still report the signatures it read (e.g. a
   * damaged packet after a good one); those are the answer. */
  if (vres == NULL || vres->signatures == NULL)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "no readable signature packet (%s)",
                        err != 0 ? gpgme_strerror (err) : "empty result");
      return NULL;
    }
  result = g_new0 (CairnVerifyResult, 1);
  result->signatures = g_ptr_array_new_with_free_func ((GDestroyNotify)sig_info_free);
  for (gpgme_signature_t s = vres->signatures; s != NULL; s = s->next)
    {
      CairnSignatureInfo *info = sig_info_new (ctx, s);

      if (info->status == CAIRN_SIG_STATUS_GOOD)
        result->n_good++;
      g_ptr_array_add (result->signatures, info);
    }
  return result;
}

CairnVerifyResult *
cairn_sign_verify_detached (GBytes *data, GVariant *sigs_aay, CairnKeyringSet *keys, GError **error)
{
  g_autoptr (GBytes) sigs = NULL;
  g_autoptr (CairnGpgHome) home = NULL;
  g_auto (gpgme_ctx_t) ctx = NULL;
  CairnVerifyResult *result;

  g_return_val_if_fail (data != NULL && keys != NULL, NULL);

  if (!concat_sigs (sigs_aay, &sigs, error))
    return NULL;
  home = cairn_gpg_home_new (error);
  if (home == NULL || !cairn_gpg_ctx_new (home->path, &ctx, error)
      || !cairn_keyring_set_import_into (keys, ctx, error))
    {
      cairn_prefix_error (error, "verifying signatures");
      return NULL;
    }
  result = run_verify (ctx, data, sigs, error);
  if (result == NULL)
    cairn_prefix_error (error, "verifying signatures");
  /* ctx must go before the home it points into. */
  g_clear_pointer (&ctx, gpgme_release);
  return result;
}
