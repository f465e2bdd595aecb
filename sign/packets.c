/* cairn — reading signature packets and editing the "ostree.gpgsigs" aay.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Only the issuer of a signature is parsed here (RFC 4880 §4.2, §5.2.3,
 * RFC 9580 §5.2.3.35 issuer fingerprint); cryptographic checks are gpg's.
 * Knowing the issuer without a keyring lets `cairn sign --delete` and the
 * duplicate-signer check work on signatures by keys nobody has.
 */
#include "config.h"

#include "sign/sign-private.h"

typedef struct
{
  const guint8 *p;
  gsize len;
} Span;

static gboolean
read_be (Span *s, guint n, guint32 *out)
{
  guint32 v = 0;

  if (s->len < n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    v = (v << 8) | s->p[i];
  s->p += n;
  s->len -= n;
  *out = v;
  return TRUE;
}

static gboolean
take (Span *s, gsize n, Span *out)
{
  if (s->len < n)
    return FALSE;
  out->p = s->p;
  out->len = n;
  s->p += n;
  s->len -= n;
  return TRUE;
}

/* One packet header; partial body lengths are invalid for signatures. */
static gboolean
read_packet (Span *s, guint *out_tag, Span *out_body)
{
  guint32 ctb, len, o1, o2;

  if (!read_be (s, 1, &ctb) || (ctb & 0x80) == 0)
    return FALSE;
  if (ctb & 0x40)
    {
      *out_tag = ctb & 0x3f;
      if (!read_be (s, 1, &o1))
        return FALSE;
      if (o1 < 192)
        len = o1;
      else if (o1 < 224)
        {
          if (!read_be (s, 1, &o2))
            return FALSE;
          len = ((o1 - 192) << 8) + o2 + 192;
        }
      else if (o1 == 255)
        {
          if (!read_be (s, 4, &len))
            return FALSE;
        }
      else
        return FALSE;
    }
  else
    {
      static const guint nlen[] = { 1, 2, 4 };
      *out_tag = (ctb >> 2) & 0xf;
      if ((ctb & 3) == 3)
        len = s->len;
      else if (!read_be (s, nlen[ctb & 3], &len))
        return FALSE;
    }
  return take (s, len, out_body);
}

static char *
hex (const guint8 *p, gsize n)
{
  GString *s = g_string_sized_new (n * 2);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%02X", p[i]);
  return g_string_free (s, FALSE);
}

/* Walk a subpacket area, recording issuer (16) and issuer fingerprint (33). */
static gboolean
scan_subpackets (Span area, char **keyid, char **fpr)
{
  while (area.len > 0)
    {
      guint32 o1, o2, len;
      Span sub;

      if (!read_be (&area, 1, &o1))
        return FALSE;
      if (o1 < 192)
        len = o1;
      else if (o1 < 255)
        {
          if (!read_be (&area, 1, &o2))
            return FALSE;
          len = ((o1 - 192) << 8) + o2 + 192;
        }
      else if (!read_be (&area, 4, &len))
        return FALSE;
      if (len == 0 || !take (&area, len, &sub))
        return FALSE;
      guint type = sub.p[0] & 0x7f;
      if (type == 16 && sub.len == 9 && *keyid == NULL)
        *keyid = hex (sub.p + 1, 8);
      else if (type == 33 && (sub.len == 22 || sub.len == 34) && *fpr == NULL)
        *fpr = hex (sub.p + 2, sub.len - 2);
    }
  return TRUE;
}

static gboolean
parse_signature_body (Span body, char **keyid, char **fpr)
{
  guint32 version, count;
  Span area;

  if (!read_be (&body, 1, &version))
    return FALSE;
  if (version == 3)
    {
      /* hashed length (5), class, time(4), then the 8-byte key id */
      if (body.len < 14 || body.p[0] != 5)
        return FALSE;
      *keyid = hex (body.p + 6, 8);
      return TRUE;
    }
  if (version < 4 || version > 6 || body.len < 3)
    return FALSE;
  body.p += 3, body.len -= 3; /* class, public-key algo, hash algo */
  for (int i = 0; i < 2; i++) /* hashed area, then unhashed area */
    if (!read_be (&body, version == 4 ? 2 : 4, &count) || !take (&body, count, &area)
        || !scan_subpackets (area, keyid, fpr))
      return FALSE;
  return TRUE;
}

static gboolean
issuer_of (const guint8 *p, gsize len, char **out_key_id, char **out_fpr)
{
  Span s = { p, len }, body;
  guint tag;
  g_autofree char *keyid = NULL;
  g_autofree char *fpr = NULL;

  if (!read_packet (&s, &tag, &body) || tag != 2 || s.len != 0
      || !parse_signature_body (body, &keyid, &fpr))
    return FALSE;
  /* v4 key id = low 64 bits of the fingerprint; v6 = high 64 bits. */
  if (keyid == NULL && fpr != NULL)
    keyid = strlen (fpr) == 40 ? g_strdup (fpr + 24) : g_strndup (fpr, 16);
  if (keyid == NULL)
    return FALSE;
  *out_key_id = g_steal_pointer (&keyid);
  *out_fpr = g_steal_pointer (&fpr);
  return TRUE;
}

gboolean
cairn_sign_signature_get_issuer (GBytes *signature, char **out_key_id, char **out_fingerprint,
                                 GError **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (signature, &len);
  char *keyid = NULL, *fpr = NULL;

  if (!issuer_of (p, len, &keyid, &fpr))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "not a single OpenPGP signature packet with an issuer");
  *out_key_id = keyid;
  if (out_fingerprint != NULL)
    *out_fingerprint = fpr;
  else
    g_free (fpr);
  return TRUE;
}

GVariant *
cairn_sign_sigs_append (GVariant *sigs_aay, GBytes *signature)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aay"));
  if (sigs_aay != NULL)
    for (gsize i = 0; i < g_variant_n_children (sigs_aay); i++)
      {
        g_autoptr (GVariant) elem = g_variant_get_child_value (sigs_aay, i);
        g_variant_builder_add_value (&b, elem);
      }
  g_variant_builder_add_value (
      &b, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, signature, TRUE));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* Fingerprints (uppercase) of all subkeys of the one key @norm names in
 * @homedir; NULL when it names none or several, or gpg cannot tell. */
static char **
resolve_key (const char *norm, const char *homedir)
{
  g_auto (gpgme_ctx_t) ctx = NULL;
  g_auto (gpgme_key_t) key = NULL;
  g_autoptr (GPtrArray) fprs = g_ptr_array_new ();

  if (!cairn_gpg_ctx_new (homedir, &ctx, NULL) || gpgme_get_key (ctx, norm, &key, 0) != 0)
    return NULL;
  for (gpgme_subkey_t sk = key->subkeys; sk != NULL; sk = sk->next)
    if (sk->fpr != NULL)
      g_ptr_array_add (fprs, g_ascii_strup (sk->fpr, -1));
  g_ptr_array_add (fprs, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&fprs), FALSE);
}

static gboolean
id_matches (const char *want, const char *keyid, const char *fpr)
{
  gsize n = strlen (want);

  if (fpr != NULL)
    return g_str_has_suffix (fpr, want)
           || (n == 16 && strlen (fpr) == 64 && strncmp (fpr, want, 16) == 0);
  /* No fingerprint in the packet: compare key ids only. */
  if (n == 40)
    return strcmp (keyid, want + 24) == 0;
  if (n == 64)
    return strncmp (want, keyid, 16) == 0;
  return g_str_has_suffix (keyid, want);
}

typedef struct
{
  char *norm;
  char **fprs; /* resolved subkeys, or NULL */
} Matcher;

static void
matcher_clear (Matcher *m)
{
  g_free (m->norm);
  g_strfreev (m->fprs);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Matcher, matcher_clear)

static gboolean
matcher_init (Matcher *m, const char *key_id, const char *homedir, GError **error)
{
  m->norm = cairn_gpg_normalize_key_id (key_id);
  if (m->norm == NULL)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "'%s' is not a key id or fingerprint (8, 16, 40 or 64 hex digits)",
                             key_id);
  m->fprs = resolve_key (m->norm, homedir);
  return TRUE;
}

static gboolean
matcher_match (const Matcher *m, GVariant *elem)
{
  gsize len = 0;
  const guint8 *p = g_variant_get_fixed_array (elem, &len, 1);
  g_autofree char *keyid = NULL;
  g_autofree char *fpr = NULL;

  if (!issuer_of (p, len, &keyid, &fpr))
    return FALSE;
  if (m->fprs == NULL)
    return id_matches (m->norm, keyid, fpr);
  for (char **f = m->fprs; *f != NULL; f++)
    if (id_matches (*f, keyid, fpr))
      return TRUE;
  return FALSE;
}

static gboolean
check_aay (GVariant *sigs_aay, GError **error)
{
  if (sigs_aay != NULL && !g_variant_is_of_type (sigs_aay, G_VARIANT_TYPE ("aay")))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "signatures must be a GVariant of type aay");
  return TRUE;
}

gboolean
cairn_sign_sigs_has_key (GVariant *sigs_aay, const char *key_id, const char *homedir,
                         gboolean *out_found, GError **error)
{
  g_auto (Matcher) m = { NULL, NULL };
  gboolean found = FALSE;

  if (!check_aay (sigs_aay, error) || !matcher_init (&m, key_id, homedir, error))
    return FALSE;
  for (gsize i = 0; sigs_aay != NULL && i < g_variant_n_children (sigs_aay) && !found; i++)
    {
      g_autoptr (GVariant) elem = g_variant_get_child_value (sigs_aay, i);
      found = matcher_match (&m, elem);
    }
  *out_found = found;
  return TRUE;
}

GVariant *
cairn_sign_sigs_delete_key (GVariant *sigs_aay, const char *key_id, const char *homedir,
                            guint *out_n_deleted, GError **error)
{
  g_auto (Matcher) m = { NULL, NULL };
  GVariantBuilder b;
  guint n_deleted = 0;

  if (!check_aay (sigs_aay, error) || !matcher_init (&m, key_id, homedir, error))
    return NULL;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aay"));
  for (gsize i = 0; sigs_aay != NULL && i < g_variant_n_children (sigs_aay); i++)
    {
      g_autoptr (GVariant) elem = g_variant_get_child_value (sigs_aay, i);

      if (matcher_match (&m, elem))
        n_deleted++;
      else
        g_variant_builder_add_value (&b, elem);
    }
  if (out_n_deleted != NULL)
    *out_n_deleted = n_deleted;
  return g_variant_ref_sink (g_variant_builder_end (&b));
}
