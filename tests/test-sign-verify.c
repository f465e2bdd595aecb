/* cairn — unit tests for sign/: signing, verification, keyrings, editing.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real keys only: tests/gpg-test-keys.sh generates them into a temporary
 * fixture at start (see that file for the keys and their roles). Without
 * gpg the whole program skips, unless CAIRN_TESTS_MUST_RUN=1.
 */
#include "config.h"

#include <dirent.h>
#include <sys/wait.h>
#include <string.h>

#include "common/cairn-common.h"
#include "sign/cairn-sign.h"

static char *fixture;  /* generated keys, see gpg-test-keys.sh */
static char *lib_tmp;  /* $TMPDIR for the library: must stay empty */
static char *work_dir; /* scratch space of the tests */

static char *
fx_path (const char *name)
{
  return g_build_filename (fixture, name, NULL);
}

static char *
fx_fpr (const char *key)
{
  g_autofree char *name = g_strdup_printf ("%s.fpr", key);
  g_autofree char *path = fx_path (name);
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return g_strstrip (contents);
}

static GBytes *
fx_bytes (const char *name)
{
  g_autofree char *path = fx_path (name);
  g_autoptr (GError) error = NULL;
  GBytes *b = cairn_file_get_contents_at (AT_FDCWD, path, 0, &error);

  g_assert_no_error (error);
  return b;
}

static const char *
signer_home (void)
{
  static char *home;

  if (home == NULL)
    home = fx_path ("home");
  return home;
}

static GBytes *
sign_with (const char *key, GBytes *data)
{
  g_autofree char *fpr = fx_fpr (key);
  g_autoptr (GError) error = NULL;
  GBytes *sig = cairn_sign_create_detached (data, fpr, signer_home (), &error);

  g_assert_no_error (error);
  g_assert_nonnull (sig);
  return sig;
}

static GVariant *
aay_of (GBytes *first, ...)
{
  va_list ap;
  GVariant *aay = cairn_sign_sigs_append (NULL, first);

  va_start (ap, first);
  for (GBytes *b = va_arg (ap, GBytes *); b != NULL; b = va_arg (ap, GBytes *))
    {
      GVariant *next = cairn_sign_sigs_append (aay, b);
      g_variant_unref (aay);
      aay = next;
    }
  va_end (ap);
  return aay;
}

/* The verifier's default trust: trusted.gpg (good, expired, revoked). */
static CairnKeyringSet *
trusted_set (void)
{
  g_autoptr (CairnKeyringSet) set = cairn_keyring_set_new ();
  g_autofree char *path = fx_path ("trusted.gpg");
  g_autoptr (GError) error = NULL;

  g_assert_true (cairn_keyring_set_add_file_at (set, AT_FDCWD, path, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&set);
}

/* Every temporary GnuPG home the library made must be gone. */
static void
assert_lib_tmp_empty (void)
{
  g_autoptr (GDir) d = g_dir_open (lib_tmp, 0, NULL);

  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d));
}

static CairnVerifyResult *
verify (GBytes *data, GVariant *aay, CairnKeyringSet *set)
{
  g_autoptr (GError) error = NULL;
  CairnVerifyResult *r = cairn_sign_verify_detached (data, aay, set, &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  assert_lib_tmp_empty ();
  return r;
}

static const CairnSignatureInfo *
sig_at (CairnVerifyResult *r, guint i)
{
  g_assert_cmpuint (i, <, r->signatures->len);
  return r->signatures->pdata[i];
}

static GBytes *
test_data (void)
{
  return g_bytes_new_static ("commit object bytes\0\1\2\3", 24);
}

static GBytes *
flip_byte (GBytes *b, gsize off)
{
  gsize len = 0;
  guint8 *copy = g_memdup2 (g_bytes_get_data (b, &len), g_bytes_get_size (b));

  g_assert_cmpuint (off, <, len);
  copy[off] ^= 0x01;
  return g_bytes_new_take (copy, len);
}

static void
test_good (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("good", data);
  g_autoptr (GVariant) aay = aay_of (sig, NULL);
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (CairnVerifyResult) r = verify (data, aay, set);
  g_autofree char *fpr = fx_fpr ("good");
  const CairnSignatureInfo *s;

  /* Binary, not armored. */
  g_assert_cmpint (((const guint8 *)g_bytes_get_data (sig, NULL))[0] & 0x80, !=, 0);
  g_assert_cmpuint (r->signatures->len, ==, 1);
  g_assert_cmpuint (r->n_good, ==, 1);
  g_assert_true (cairn_verify_result_any_good (r));
  s = sig_at (r, 0);
  g_assert_cmpint (s->status, ==, CAIRN_SIG_STATUS_GOOD);
  g_assert_cmpstr (s->fingerprint, ==, fpr);
  g_assert_cmpstr (s->primary_fingerprint, ==, fpr);
  g_assert_cmpstr (s->key_id, ==, fpr + 24);
  g_assert_cmpstr (s->user_id, ==, "cairn test good <good@example.org>");
  g_assert_cmpint (ABS (s->timestamp - g_get_real_time () / G_USEC_PER_SEC), <, 600);
  g_assert_cmpint (s->key_expires, >, s->timestamp);
  g_assert_nonnull (strstr (s->reason, "Good signature"));
}

static void
assert_single_status (GBytes *data, GBytes *sig, CairnKeyringSet *set, CairnSigStatus want)
{
  g_autoptr (GVariant) aay = aay_of (sig, NULL);
  g_autoptr (CairnVerifyResult) r = verify (data, aay, set);

  g_assert_cmpuint (r->signatures->len, ==, 1);
  g_assert_cmpstr (cairn_sig_status_to_string (sig_at (r, 0)->status), ==,
                   cairn_sig_status_to_string (want));
  g_assert_cmpuint (r->n_good, ==, want == CAIRN_SIG_STATUS_GOOD ? 1 : 0);
  g_assert_cmpint (cairn_verify_result_any_good (r), ==, want == CAIRN_SIG_STATUS_GOOD);
  g_assert_nonnull (sig_at (r, 0)->reason);
}

static void
test_bad_data (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("good", data);
  g_autoptr (CairnKeyringSet) set = trusted_set ();

  for (gsize off = 0; off < g_bytes_get_size (data); off += 7)
    {
      g_autoptr (GBytes) bad = flip_byte (data, off);
      assert_single_status (bad, sig, set, CAIRN_SIG_STATUS_BAD);
    }
}

/* Whether byte @off of a v4 signature packet is one the signature does
 * not authenticate (RFC 4880 §5.2.3, §3.2): the unhashed subpacket area,
 * the 16-bit digest prefix, and the bit counts of the MPIs (gpg accepts a
 * wrong count for EdDSA values). */
static gboolean
is_unauthenticated (GBytes *sig, gsize off)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (sig, &len);
  gsize body = (p[0] & 0x40) ? 2 : 1 + (1u << (p[0] & 3));
  gsize hashed = (p[body + 4] << 8) | p[body + 5];
  gsize u_start = body + 6 + hashed;
  gsize unhashed = (p[u_start] << 8) | p[u_start + 1];
  gsize mpi = u_start + 2 + unhashed + 2;

  g_assert_cmpint (p[body], ==, 4);
  /* The packet's own framing (tag and length): gpg may still read a packet
   * whose length byte was changed (seen intermittently, depending on the
   * signature's bytes); what it authenticates is unchanged. */
  if (off < body)
    return TRUE;
  if (off >= u_start && off < mpi)
    return TRUE;
  while (mpi + 2 <= len)
    {
      gsize bits = (p[mpi] << 8) | p[mpi + 1];
      if (off == mpi || off == mpi + 1)
        return TRUE;
      mpi += 2 + (bits + 7) / 8;
    }
  return FALSE;
}

/* A flipped bit in what the signature authenticates (version, types, hashed
 * area, signature value) never leaves a good signature: it gives BAD or no
 * readable signature at all. OpenPGP leaves a few fields unauthenticated;
 * gpg (and so ostree and cairn) still call such a signature good, since the
 * signed data and the signer are unchanged — checked here too. */
static void
test_bad_signature (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("good", data);
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autofree char *fpr = fx_fpr ("good");
  gsize len = g_bytes_get_size (sig);
  guint n_bad = 0;

  /* The last byte is inside the signature value: a plain BAD. */
  {
    g_autoptr (GBytes) bad = flip_byte (sig, len - 1);
    assert_single_status (data, bad, set, CAIRN_SIG_STATUS_BAD);
  }
  for (gsize off = 0; off < len; off++)
    {
      g_autoptr (GBytes) bad = flip_byte (sig, off);
      g_autoptr (GVariant) aay = aay_of (bad, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (CairnVerifyResult) r = cairn_sign_verify_detached (data, aay, set, &error);

      assert_lib_tmp_empty ();
      if (r == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          continue;
        }
      if (cairn_verify_result_any_good (r))
        {
          if (!is_unauthenticated (sig, off))
            g_error ("flipping byte %zu of %zu left a good signature", off, len);
          g_assert_cmpstr (sig_at (r, 0)->fingerprint, ==, fpr);
        }
      else
        n_bad++;
    }
  g_assert_cmpuint (n_bad, >, len / 2);
}

static void
test_expired_key (void)
{
  g_autoptr (GBytes) data = fx_bytes ("expired-data");
  g_autoptr (GBytes) sig = fx_bytes ("expired-data.sig");
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (GVariant) aay = aay_of (sig, NULL);
  g_autoptr (CairnVerifyResult) r = verify (data, aay, set);
  g_autofree char *fpr = fx_fpr ("expired");

  g_assert_cmpint (sig_at (r, 0)->status, ==, CAIRN_SIG_STATUS_EXPIRED_KEY);
  g_assert_cmpstr (sig_at (r, 0)->fingerprint, ==, fpr);
  g_assert_cmpint (sig_at (r, 0)->key_expires, >, 0);
  g_assert_false (cairn_verify_result_any_good (r));
  /* Signing with it now is refused. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) none = cairn_sign_create_detached (data, fpr, signer_home (), &error);
    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  }
}

static void
test_expired_signature (void)
{
  g_autoptr (GBytes) data = fx_bytes ("expsig-data");
  g_autoptr (GBytes) sig = fx_bytes ("expsig-data.sig");
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (GVariant) aay = aay_of (sig, NULL);
  g_autoptr (CairnVerifyResult) r = verify (data, aay, set);

  g_assert_cmpint (sig_at (r, 0)->status, ==, CAIRN_SIG_STATUS_EXPIRED_SIG);
  g_assert_cmpint (sig_at (r, 0)->sig_expires, >, 0);
  g_assert_cmpint (sig_at (r, 0)->sig_expires, <, g_get_real_time () / G_USEC_PER_SEC);
}

/* Signed while the signer still considered the key valid; the verifier's
 * keyring carries the revocation. */
static void
test_revoked_key (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("revoked", data);
  g_autoptr (CairnKeyringSet) set = trusted_set ();

  assert_single_status (data, sig, set, CAIRN_SIG_STATUS_REVOKED_KEY);
}

/* "untrusted" is in the signer's personal keyring — which we even make the
 * default home of the process — but not in the keyring set. */
static void
test_unknown_key (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("untrusted", data);
  g_autoptr (GBytes) good_sig = sign_with ("good", data);
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (CairnKeyringSet) only_second = cairn_keyring_set_new ();
  g_autofree char *fpr = fx_fpr ("untrusted");
  g_autofree char *old_home = g_strdup (g_getenv ("GNUPGHOME"));
  g_autofree char *dir = fx_path ("trusted.d");
  g_autoptr (GError) error = NULL;

  g_setenv ("GNUPGHOME", signer_home (), TRUE);
  {
    g_autoptr (GVariant) aay = aay_of (sig, NULL);
    g_autoptr (CairnVerifyResult) r = verify (data, aay, set);

    g_assert_cmpint (sig_at (r, 0)->status, ==, CAIRN_SIG_STATUS_UNKNOWN_KEY);
    g_assert_cmpstr (sig_at (r, 0)->key_id, ==, fpr + 24);
    g_assert_null (sig_at (r, 0)->user_id);
    g_assert_false (cairn_verify_result_any_good (r));
  }
  /* A good key is unknown to a set that does not hold it. */
  g_assert_true (cairn_keyring_set_add_dir_at (only_second, AT_FDCWD, dir, FALSE, &error));
  g_assert_no_error (error);
  assert_single_status (data, good_sig, only_second, CAIRN_SIG_STATUS_UNKNOWN_KEY);
  /* And an empty set trusts nothing. */
  {
    g_autoptr (CairnKeyringSet) empty = cairn_keyring_set_new ();
    assert_single_status (data, good_sig, empty, CAIRN_SIG_STATUS_UNKNOWN_KEY);
  }
  if (old_home != NULL)
    g_setenv ("GNUPGHOME", old_home, TRUE);
  else
    g_unsetenv ("GNUPGHOME");
}

/* One signature from a key outside the set, one from the second trusted key
 * (keyring directory + armored file): good overall, each reported. */
static void
test_two_signatures (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) s_untrusted = sign_with ("untrusted", data);
  g_autoptr (GBytes) s_second = sign_with ("second", data);
  g_autoptr (GVariant) aay = aay_of (s_untrusted, s_second, NULL);
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autofree char *dir = fx_path ("trusted.d");
  g_autofree char *missing = fx_path ("no-such.d");
  g_autoptr (GError) error = NULL;

  g_assert_true (cairn_keyring_set_add_dir_at (set, AT_FDCWD, dir, FALSE, &error));
  g_assert_true (cairn_keyring_set_add_dir_at (set, AT_FDCWD, missing, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cairn_keyring_set_get_n_keyrings (set), ==, 2);
  {
    g_autoptr (CairnVerifyResult) r = verify (data, aay, set);
    g_assert_cmpuint (r->signatures->len, ==, 2);
    g_assert_cmpint (sig_at (r, 0)->status, ==, CAIRN_SIG_STATUS_UNKNOWN_KEY);
    g_assert_cmpint (sig_at (r, 1)->status, ==, CAIRN_SIG_STATUS_GOOD);
    g_assert_cmpuint (r->n_good, ==, 1);
    g_assert_true (cairn_verify_result_any_good (r));
  }
  /* The same with the second key given as an ASCII-armored file. */
  {
    g_autoptr (CairnKeyringSet) armored = cairn_keyring_set_new ();
    g_autofree char *asc = fx_path ("second.asc");
    g_autoptr (CairnVerifyResult) r = NULL;

    g_assert_true (cairn_keyring_set_add_file_at (armored, AT_FDCWD, asc, &error));
    g_assert_no_error (error);
    r = verify (data, aay, armored);
    g_assert_cmpuint (r->n_good, ==, 1);
  }
  /* Missing keyring file and directory are errors unless allowed. */
  g_assert_false (cairn_keyring_set_add_dir_at (set, AT_FDCWD, missing, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cairn_keyring_set_add_file_at (set, AT_FDCWD, missing, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_invalid_input (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (GVariant) empty
      = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_BYTESTRING, NULL, 0));
  g_autoptr (GVariant) wrong = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autoptr (GBytes) junk = g_bytes_new_static ("this is no signature", 20);
  g_autoptr (GVariant) junk_aay = aay_of (junk, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_null (cairn_sign_verify_detached (data, empty, set, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (cairn_sign_verify_detached (data, wrong, set, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (cairn_sign_verify_detached (data, junk_aay, set, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  assert_lib_tmp_empty ();
  /* A keyring that holds no key is an error, not an empty trust set. */
  {
    g_autoptr (CairnKeyringSet) bogus = cairn_keyring_set_new ();
    g_autoptr (GBytes) sig = sign_with ("good", data);
    g_autoptr (GVariant) aay = aay_of (sig, NULL);

    cairn_keyring_set_add_bytes (bogus, "bogus.gpg", junk);
    g_assert_null (cairn_sign_verify_detached (data, aay, bogus, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, "bogus.gpg"));
    assert_lib_tmp_empty ();
  }
  g_clear_error (&error);
  g_assert_null (cairn_sign_create_detached (data, "0000000000000000", signer_home (), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_render (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) s1 = sign_with ("good", data);
  g_autoptr (GBytes) s2 = sign_with ("untrusted", data);
  g_autoptr (GVariant) aay = aay_of (s1, s2, NULL);
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (CairnVerifyResult) r = verify (data, aay, set);
  g_autofree char *json = cairn_verify_result_to_json (r);
  g_autofree char *text = cairn_verify_result_to_text (r);
  g_autofree char *fpr = fx_fpr ("good");
  g_autofree char *want_fpr = g_strdup_printf ("\"fingerprint\":\"%s\"", fpr);
  CairnSignatureInfo *s = r->signatures->pdata[1];

  g_assert_true (g_str_has_prefix (json, "{\"n-signatures\":2,\"n-good\":1,\"signatures\":[{"));
  g_assert_nonnull (strstr (json, "\"status\":\"good\""));
  g_assert_nonnull (strstr (json, "\"status\":\"unknown-key\""));
  g_assert_nonnull (strstr (json, want_fpr));
  g_assert_nonnull (strstr (json, "\"user-id\":null"));
  g_assert_true (g_str_has_suffix (json, "}]}"));
  g_assert_nonnull (strstr (text, "Good signature from \"cairn test good <good@example.org>\""));
  g_assert_nonnull (strstr (text, "2 signatures, 1 good\n"));

  /* Hostile user ids are escaped. */
  g_free (s->user_id);
  s->user_id = g_strdup ("a\"b\\c\nd");
  g_clear_pointer (&json, g_free);
  json = cairn_verify_result_to_json (r);
  g_assert_nonnull (strstr (json, "\"user-id\":\"a\\\"b\\\\c\\u000ad\""));
}

static void
test_keyring_merge_list (void)
{
  g_autoptr (GBytes) good_asc = fx_bytes ("good.asc");
  g_autoptr (GBytes) second_bin = fx_bytes ("second.gpg");
  g_autoptr (GBytes) k1 = NULL, k2 = NULL, k3 = NULL;
  g_autoptr (GPtrArray) keys = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *good = fx_fpr ("good");
  g_autofree char *second = fx_fpr ("second");
  guint n = 99;

  k1 = cairn_sign_keyring_merge (NULL, good_asc, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  /* Legacy binary keyring: starts with a public-key packet (tag 6), as
   * `ostree remote gpg-import` writes it. */
  {
    guint8 ctb = ((const guint8 *)g_bytes_get_data (k1, NULL))[0];
    g_assert_cmpint (ctb & 0x80, !=, 0);
    g_assert_cmpint ((ctb & 0x40) ? (ctb & 0x3f) : ((ctb >> 2) & 0xf), ==, 6);
  }
  k2 = cairn_sign_keyring_merge (k1, second_bin, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  k3 = cairn_sign_keyring_merge (k2, good_asc, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 0);
  assert_lib_tmp_empty ();

  keys = cairn_sign_keyring_list (k3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (keys->len, ==, 2);
  g_assert_cmpstr (((CairnKeyInfo *)keys->pdata[0])->fingerprint, ==, good);
  g_assert_cmpstr (((CairnKeyInfo *)keys->pdata[1])->fingerprint, ==, second);
  g_assert_cmpstr (((CairnKeyInfo *)keys->pdata[1])->user_id, ==,
                   "cairn test second <second@example.org>");
  g_assert_cmpstr (((CairnKeyInfo *)keys->pdata[1])->key_id, ==, second + 24);

  /* The merged keyring verifies. */
  {
    g_autoptr (GBytes) data = test_data ();
    g_autoptr (GBytes) sig = sign_with ("second", data);
    g_autoptr (CairnKeyringSet) set = cairn_keyring_set_new ();

    cairn_keyring_set_add_bytes (set, "merged", k3);
    assert_single_status (data, sig, set, CAIRN_SIG_STATUS_GOOD);
  }
  /* Junk is not a key. */
  {
    g_autoptr (GBytes) junk = g_bytes_new_static ("junk", 4);
    g_assert_null (cairn_sign_keyring_merge (k3, junk, &n, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    assert_lib_tmp_empty ();
  }
}

static void
test_keyring_list_flags (void)
{
  g_autoptr (GBytes) trusted = fx_bytes ("trusted.gpg");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) keys = cairn_sign_keyring_list (trusted, &error);
  g_autoptr (GBytes) nothing = g_bytes_new_static ("", 0);
  g_autoptr (GPtrArray) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (keys->len, ==, 3);
  for (guint i = 0; i < keys->len; i++)
    {
      CairnKeyInfo *k = keys->pdata[i];
      gboolean is_expired = strstr (k->user_id, "expired@") != NULL;
      gboolean is_revoked = strstr (k->user_id, "revoked@") != NULL;

      g_assert_cmpint (k->expired, ==, is_expired);
      g_assert_cmpint (k->revoked, ==, is_revoked);
      g_assert_cmpint (k->created, >, 0);
    }
  none = cairn_sign_keyring_list (nothing, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  assert_lib_tmp_empty ();
}

static void
test_issuer_and_delete (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sg = sign_with ("good", data);
  g_autoptr (GBytes) su = sign_with ("untrusted", data);
  g_autoptr (GBytes) ss = sign_with ("second", data);
  g_autoptr (GVariant) aay = aay_of (sg, su, ss, NULL);
  g_autoptr (GVariant) rest = NULL;
  g_autoptr (GVariant) rest2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *good = fx_fpr ("good");
  g_autofree char *untrusted = fx_fpr ("untrusted");
  g_autofree char *keyid = NULL, *fpr = NULL;
  g_autofree char *lower_id = NULL;
  gboolean found = FALSE;
  guint n = 99;

  g_assert_true (cairn_sign_signature_get_issuer (sg, &keyid, &fpr, &error));
  g_assert_cmpstr (fpr, ==, good);
  g_assert_cmpstr (keyid, ==, good + 24);

  /* Full fingerprint, resolved through the signer's home. */
  rest = cairn_sign_sigs_delete_key (aay, good, signer_home (), &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (g_variant_n_children (rest), ==, 2);
  g_assert_true (cairn_sign_sigs_has_key (rest, untrusted, signer_home (), &found, &error));
  g_assert_true (found);
  g_assert_true (cairn_sign_sigs_has_key (rest, good, signer_home (), &found, &error));
  g_assert_false (found);

  /* "0x" + lowercase long key id, literal match (no key in the home). */
  lower_id = g_strdup_printf ("0x%s", untrusted + 24);
  for (char *c = lower_id + 2; *c; c++)
    *c = g_ascii_tolower (*c);
  rest2 = cairn_sign_sigs_delete_key (rest, lower_id, fixture /* not a GnuPG home */, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (g_variant_n_children (rest2), ==, 1);
  {
    g_autoptr (GVariant) only = g_variant_get_child_value (rest2, 0);
    g_autoptr (GBytes) b = g_variant_get_data_as_bytes (only);
    g_assert_true (g_bytes_equal (b, ss));
  }
  /* Deleting a key that did not sign changes nothing. */
  {
    g_autoptr (GVariant) same = cairn_sign_sigs_delete_key (rest2, good, NULL, &n, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (n, ==, 0);
    g_assert_true (g_variant_equal (same, rest2));
  }
  g_assert_false (cairn_sign_sigs_has_key (aay, "xyz", NULL, &found, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (cairn_sign_sigs_has_key (NULL, good, NULL, &found, &error));
  g_assert_false (found);
}

static gboolean
run (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  int status = -1;
  g_autofree char *err_out = NULL;
  g_autofree char *cmd = g_strjoinv (" ", (char **)argv);

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err_out, &status, &error))
    g_error ("%s: %s", cmd, error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("%s failed: %s", cmd, err_out);
      return FALSE;
    }
  return TRUE;
}

static char *
write_work (const char *name, GBytes *b)
{
  char *path = g_build_filename (work_dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (
      g_file_set_contents (path, g_bytes_get_data (b, NULL), g_bytes_get_size (b), &error));
  return path;
}

/* Our signatures verify with gpgv against the exported keyring; gpg's
 * detached signatures verify with our code. */
static void
test_gpg_interop (void)
{
  g_autoptr (GBytes) data = test_data ();
  g_autoptr (GBytes) sig = sign_with ("good", data);
  g_autofree char *data_path = write_work ("data", data);
  g_autofree char *sig_path = write_work ("data.sig", sig);
  g_autofree char *keyring = fx_path ("trusted.gpg");
  g_autofree char *gsig_path = g_build_filename (work_dir, "gpg.sig", NULL);
  g_autofree char *good = fx_fpr ("good");
  g_autofree char *untrusted = fx_fpr ("untrusted");
  g_autoptr (GBytes) gsig = NULL;
  g_autoptr (CairnKeyringSet) set = trusted_set ();
  g_autoptr (GError) error = NULL;

  {
    const char *argv[] = { "gpgv", "--keyring", keyring, sig_path, data_path, NULL };
    g_assert_true (run (argv));
  }
  {
    g_autofree char *bad_data = g_strconcat (data_path, ".bad", NULL);
    g_autoptr (GBytes) flipped = flip_byte (data, 3);
    g_autofree char *p = write_work ("data.bad", flipped);
    const char *argv[] = { "gpgv", "--keyring", keyring, sig_path, bad_data, NULL };
    g_assert_false (run (argv));
  }
  {
    const char *argv[]
        = { "gpg", "--homedir",     signer_home (), "--batch", "--no-tty", "--local-user",
            good,  "--detach-sign", "--output",     gsig_path, data_path,  NULL };
    g_assert_true (run (argv));
  }
  gsig = cairn_file_get_contents_at (AT_FDCWD, gsig_path, 0, &error);
  g_assert_no_error (error);
  assert_single_status (data, gsig, set, CAIRN_SIG_STATUS_GOOD);
  /* A signature by a key outside the keyring fails gpgv as well. */
  {
    const char *argv[] = {
      "gpg",     "--homedir",     signer_home (), "--batch", "--no-tty", "--yes", "--local-user",
      untrusted, "--detach-sign", "--output",     gsig_path, data_path,  NULL
    };
    const char *argv2[] = { "gpgv", "--keyring", keyring, gsig_path, data_path, NULL };
    g_assert_true (run (argv));
    g_assert_false (run (argv2));
  }
}

/* Pids of GnuPG daemons whose command line mentions @path. */
static GString *
stray_daemons (const char *path)
{
  GString *found = g_string_new (NULL);
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *f = NULL;
      g_autofree char *cmd = NULL;
      gsize len = 0;

      if (!g_ascii_isdigit (name[0]))
        continue;
      f = g_build_filename ("/proc", name, "cmdline", NULL);
      if (!g_file_get_contents (f, &cmd, &len, NULL))
        continue;
      for (gsize i = 0; i < len; i++)
        if (cmd[i] == '\0')
          cmd[i] = ' ';
      if ((strstr (cmd, "gpg-agent") || strstr (cmd, "dirmngr") || strstr (cmd, "keyboxd")
           || strstr (cmd, "scdaemon"))
          && strstr (cmd, path))
        g_string_append_printf (found, "%s: %s\n", name, cmd);
    }
  return found;
}

static void
test_no_stray_daemons (void)
{
  g_autoptr (GString) lib = stray_daemons (lib_tmp);

  assert_lib_tmp_empty ();
  g_assert_cmpstr (lib->str, ==, "");
}

static void
skip_all (void)
{
  g_test_skip ("gpg not available");
}

static int
shell (const char *fmt, const char *arg)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "gpg-test-keys.sh", NULL);
  g_autofree char *q_script = g_shell_quote (script);
  g_autofree char *q_arg = g_shell_quote (arg);
  g_autofree char *cmd = g_strdup_printf (". %s && %s %s", q_script, fmt, q_arg);
  const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
  int status = -1;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                     NULL))
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int
main (int argc, char **argv)
{
  g_autofree char *top = NULL;
  gboolean must_run = g_strcmp0 (g_getenv ("CAIRN_TESTS_MUST_RUN"), "1") == 0;
  int ret, rc;

  g_test_init (&argc, &argv, NULL);
  top = g_dir_make_tmp ("cairn-test-sign-XXXXXX", NULL);
  g_assert_nonnull (top);
  fixture = g_build_filename (top, "keys", NULL);
  lib_tmp = g_build_filename (top, "lib-tmp", NULL);
  work_dir = g_build_filename (top, "work", NULL);
  g_assert_cmpint (mkdir (lib_tmp, 0700), ==, 0);
  g_assert_cmpint (mkdir (work_dir, 0700), ==, 0);
  /* The library's temporary homes go here, so we can check for leftovers. */
  g_setenv ("TMPDIR", lib_tmp, TRUE);

  rc = shell ("cairn_gpg_make_fixture", fixture);
  if (rc != 0)
    {
      shell ("cairn_gpg_cleanup_fixture", fixture);
      if (rc == 77 && !must_run)
        {
          g_test_add_func ("/sign/skipped", skip_all);
          return g_test_run ();
        }
      g_error ("cannot generate test keys (exit %d)", rc);
    }

  g_test_add_func ("/sign/good", test_good);
  g_test_add_func ("/sign/bad-data", test_bad_data);
  g_test_add_func ("/sign/bad-signature", test_bad_signature);
  g_test_add_func ("/sign/expired-key", test_expired_key);
  g_test_add_func ("/sign/expired-signature", test_expired_signature);
  g_test_add_func ("/sign/revoked-key", test_revoked_key);
  g_test_add_func ("/sign/unknown-key", test_unknown_key);
  g_test_add_func ("/sign/two-signatures", test_two_signatures);
  g_test_add_func ("/sign/invalid-input", test_invalid_input);
  g_test_add_func ("/sign/render", test_render);
  g_test_add_func ("/sign/keyring-merge", test_keyring_merge_list);
  g_test_add_func ("/sign/keyring-list", test_keyring_list_flags);
  g_test_add_func ("/sign/delete-by-key", test_issuer_and_delete);
  g_test_add_func ("/sign/gpg-interop", test_gpg_interop);
  g_test_add_func ("/sign/no-stray-daemons", test_no_stray_daemons);
  ret = g_test_run ();

  /* The signer's home ran a gpg-agent; the fixture cleanup must stop it. */
  shell ("cairn_gpg_cleanup_fixture", fixture);
  {
    g_autoptr (GString) left = stray_daemons (top);
    g_autoptr (GError) error = NULL;

    if (left->len > 0)
      g_error ("stray GnuPG daemons after cleanup:\n%s", left->str);
    if (!cairn_rm_rf_at (AT_FDCWD, top, &error))
      g_error ("%s", error->message);
  }
  return ret;
}
