/* libFuzzer target: the summary file and summary.sig (docs/format.md §10,
 * §8.3).
 *
 * The input is parsed both ways:
 *  - as summary bytes by cairn_summary_parse (type, normal form, ref names
 *    sorted and valid, 32-byte checksums, the metadata keys), then every
 *    ref is looked up again by cairn_summary_lookup_ref;
 *  - as summary.sig bytes (a{sv}) by cairn_repo_verify_summary up to the
 *    keyring (a keyring file that does not exist: gpg is never run), and
 *    every element of its "ostree.gpgsigs" by the OpenPGP packet reader
 *    (cairn_sign_signature_get_issuer), as is the whole input.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/cairn-remote.h"
#include "tests/fuzz/fuzz-store.h"
#include <string.h>

static CairnRepo *repo;
static char *no_keyring;
static GBytes *fixture_summary;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  repo = fuzz_repo_new ("summary", CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *c1 = NULL, *c2 = NULL;
  fuzz_fixture (repo, &c1, &c2);
  fixture_summary = cairn_file_get_contents_at (repo->repo_dfd, "summary", 1 << 20, NULL);
  if (!fixture_summary)
    abort ();
  no_keyring = g_build_filename (fuzz_tmpdir (), "no-such-keyring.gpg", NULL);
  const char *gen = g_getenv ("CAIRN_FUZZ_GEN_SEEDS");
  if (gen)
    {
      fuzz_write_seed (gen, "summary", g_bytes_get_data (fixture_summary, NULL),
                       g_bytes_get_size (fixture_summary));
      /* A v4 signature packet with issuer-fingerprint, creation time and
       * issuer subpackets (no real signature: only the issuer is read). */
      GByteArray *pk = g_byte_array_new ();
      static const guint8 head[] = { 0x04, 0x00, 0x01, 0x08, 0x00, 23 + 6 };
      static const guint8 hashed[] = { 22, 33, 4,  1,  2,  3,  4,  5,  6, 7, 8,    9, 10, 11, 12,
                                       13, 14, 15, 16, 17, 18, 19, 20, 5, 2, 0x65, 0, 0,  0 };
      static const guint8 unhashed[] = { 0x00, 10, 9, 16, 13, 14, 15, 16, 17, 18, 19, 20 };
      static const guint8 tail[] = { 0xab, 0xcd, 0x00, 0x01, 0x01 };
      g_byte_array_append (pk, head, sizeof head);
      g_byte_array_append (pk, hashed, sizeof hashed);
      g_byte_array_append (pk, unhashed, sizeof unhashed);
      g_byte_array_append (pk, tail, sizeof tail);
      guint8 hdr[2] = { 0xc2, (guint8)pk->len };
      g_byte_array_prepend (pk, hdr, 2);
      const guint8 *sig = pk->data;
      gsize sig_len = pk->len;
      GVariantBuilder sigs, b;
      g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
      g_variant_builder_add_value (
          &sigs, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, sig, sig_len, 1));
      g_variant_builder_add_value (
          &sigs,
          g_variant_new_fixed_array (
              G_VARIANT_TYPE_BYTE,
              "\x88\x0f\x03\x05\x00\x01\x02\x03\x04\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8", 17, 1));
      g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "ostree.gpgsigs", g_variant_builder_end (&sigs));
      g_autoptr (GVariant) d = g_variant_ref_sink (g_variant_builder_end (&b));
      fuzz_write_seed (gen, "summary.sig", g_variant_get_data (d), g_variant_get_size (d));
      fuzz_write_seed (gen, "sigpacket", sig, sig_len);
      exit (0);
    }
  return 0;
}

static void
issuer (GBytes *b)
{
  g_autofree char *kid = NULL, *fpr = NULL;
  if (cairn_sign_signature_get_issuer (b, &kid, &fpr, NULL) && (!kid || strlen (kid) != 16))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 20))
    return 0;
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (CairnSummary) s = cairn_summary_parse (bytes, NULL);
  if (s)
    for (guint i = 0; i < s->refs->len; i++)
      {
        const CairnSummaryRef *r = s->refs->pdata[i];
        if (cairn_summary_lookup_ref (s, r->ref) != r)
          abort ();
      }
  g_autoptr (CairnVerifyResult) result = NULL;
  (void)cairn_repo_verify_summary (repo, fixture_summary, bytes, NULL, no_keyring, &result, NULL);
  g_autoptr (GVariant) d
      = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  if (g_variant_is_normal_form (d))
    {
      g_autoptr (GVariant) sigs
          = g_variant_lookup_value (d, CAIRN_SIGN_GPGSIGS_KEY, G_VARIANT_TYPE ("aay"));
      for (gsize i = 0; sigs && i < g_variant_n_children (sigs); i++)
        {
          g_autoptr (GVariant) e = g_variant_get_child_value (sigs, i);
          g_autoptr (GBytes) sb = g_variant_get_data_as_bytes (e);
          issuer (sb);
        }
    }
  issuer (bytes);
  return 0;
}
