/* cairn — sign/ internals shared between its source files.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>
#include <gpgme.h>

#include "common/cairn-common.h"
#include "sign/cairn-sign.h"

G_BEGIN_DECLS

/* gpgme handles are pointer typedefs, hence g_auto(gpgme_ctx_t) x = NULL. */
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gpgme_ctx_t, gpgme_release, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gpgme_data_t, gpgme_data_release, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gpgme_key_t, gpgme_key_unref, NULL)

/* A private, throwaway GnuPG home (see cairn-sign.h, "Temporary GnuPG
 * homes"). Freeing it stops its daemons and removes the directory. */
typedef struct
{
  char *path;
  int dfd;
} CairnGpgHome;

CairnGpgHome *cairn_gpg_home_new (GError **error);
void cairn_gpg_home_free (CairnGpgHome *home);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnGpgHome, cairn_gpg_home_free)

/* A new OpenPGP context for @homedir (NULL = default), binary output. */
gboolean cairn_gpg_ctx_new (const char *homedir, gpgme_ctx_t *out_ctx, GError **error);

/* Wrap @bytes (which must outlive the data object) without copying. */
gboolean cairn_gpg_data_from_bytes (GBytes *bytes, gpgme_data_t *out_data, GError **error);

/* Copy a memory data object's contents into GBytes. */
GBytes *cairn_gpg_data_steal_bytes (gpgme_data_t data);

/* Import key material into @ctx's home; @label names it in errors. */
gboolean cairn_gpg_import (gpgme_ctx_t ctx, GBytes *keys, const char *label,
                           gpgme_import_result_t *out_result, GError **error);

/* Set @error from a gpgme error code with a printf prefix; returns FALSE. */
gboolean cairn_gpg_throw (GError **error, gpgme_error_t err, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* "0x1234abcd" / "1234 ABCD ..." -> "1234ABCD"; NULL if not 8/16/40/64 hex. */
char *cairn_gpg_normalize_key_id (const char *key_id);

G_END_DECLS

G_BEGIN_DECLS
/* Import all keyrings of @set into @ctx's (private) home. */
gboolean cairn_keyring_set_import_into (CairnKeyringSet *set, gpgme_ctx_t ctx, GError **error);
G_END_DECLS
