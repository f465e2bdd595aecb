/* cairn — creating detached signatures (docs/format.md §8.2, §8.3).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sign/sign-private.h"

static gboolean
add_signer (gpgme_ctx_t ctx, const char *key_id, GError **error)
{
  g_auto (gpgme_key_t) key = NULL;
  gpgme_error_t err = gpgme_get_key (ctx, key_id, &key, 1 /* secret */);

  if (gpgme_err_code (err) == GPG_ERR_EOF)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no secret key '%s'", key_id);
  if (err != 0)
    return cairn_gpg_throw (error, err, "looking up secret key '%s'", key_id);
  if (!key->can_sign || key->revoked || key->expired || key->disabled || key->invalid)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "secret key '%s' cannot sign (expired, revoked or not a signing key)",
                             key_id);
  err = gpgme_signers_add (ctx, key);
  if (err != 0)
    return cairn_gpg_throw (error, err, "using key '%s' for signing", key_id);
  return TRUE;
}

static gboolean
check_sign_result (gpgme_ctx_t ctx, GError **error)
{
  gpgme_sign_result_t res = gpgme_op_sign_result (ctx);

  if (res == NULL || res->signatures == NULL)
    return cairn_throw (error, "gpg created no signature");
  if (res->invalid_signers != NULL)
    return cairn_gpg_throw (error, res->invalid_signers->reason, "invalid signer %s",
                            res->invalid_signers->fpr ? res->invalid_signers->fpr : "?");
  if (res->signatures->next != NULL || res->signatures->type != GPGME_SIG_MODE_DETACH)
    return cairn_throw (error, "gpg created an unexpected kind of signature");
  return TRUE;
}

static GBytes *
sign_detached (GBytes *data, const char *key_id, const char *homedir, GError **error)
{
  g_auto (gpgme_ctx_t) ctx = NULL;
  g_auto (gpgme_data_t) plain = NULL;
  g_auto (gpgme_data_t) sig = NULL;
  gpgme_error_t err;

  if (!cairn_gpg_ctx_new (homedir, &ctx, error) || !add_signer (ctx, key_id, error)
      || !cairn_gpg_data_from_bytes (data, &plain, error))
    return NULL;
  err = gpgme_data_new (&sig);
  if (err == 0)
    err = gpgme_op_sign (ctx, plain, sig, GPGME_SIG_MODE_DETACH);
  if (err != 0)
    {
      cairn_gpg_throw (error, err, "gpg");
      return NULL;
    }
  if (!check_sign_result (ctx, error))
    return NULL;
  return cairn_gpg_data_steal_bytes (g_steal_pointer (&sig));
}

GBytes *
cairn_sign_create_detached (GBytes *data, const char *key_id, const char *homedir, GError **error)
{
  GBytes *sig;

  g_return_val_if_fail (data != NULL && key_id != NULL, NULL);

  sig = sign_detached (data, key_id, homedir, error);
  if (sig == NULL)
    cairn_prefix_error (error, "signing with key '%s'", key_id);
  return sig;
}
