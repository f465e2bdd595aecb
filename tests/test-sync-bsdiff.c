/* bsdiff/bspatch (sync/bsdiff.c) and the static delta part machine
 * (sync/delta.c) on data made here: round trips, and each refusal of a
 * hostile patch or operation stream.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>

static GBytes *
random_bytes (GRand *r, gsize n, guint alphabet)
{
  guint8 *b = g_malloc (MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    b[i] = alphabet ? 'a' + g_rand_int_range (r, 0, alphabet) : g_rand_int_range (r, 0, 256);
  return g_bytes_new_take (b, n);
}

/* @old with a few edits: bytes changed, a block inserted, a block removed. */
static GBytes *
mutate (GRand *r, GBytes *old)
{
  gsize n;
  const guint8 *o = g_bytes_get_data (old, &n);
  GByteArray *a = g_byte_array_new ();
  g_byte_array_append (a, o, n);
  for (int i = 0; i < 20 && a->len > 0; i++)
    a->data[g_rand_int_range (r, 0, a->len)] ^= 0x5a;
  if (a->len > 100)
    {
      g_byte_array_remove_range (a, a->len / 3, 50);
      guint8 ins[77];
      for (gsize i = 0; i < sizeof ins; i++)
        ins[i] = g_rand_int_range (r, 0, 256);
      g_byte_array_prepend (a, ins, 13);
      g_byte_array_append (a, ins, sizeof ins);
    }
  return g_byte_array_free_to_bytes (a);
}

static void
roundtrip (GBytes *old, GBytes *nw)
{
  gsize on, nn;
  const guint8 *o = g_bytes_get_data (old, &on), *n = g_bytes_get_data (nw, &nn);
  g_autoptr (GBytes) patch = _cairn_bsdiff (o, on, n, nn);
  gsize pl;
  const guint8 *p = g_bytes_get_data (patch, &pl);
  g_autofree guint8 *out = g_malloc (MAX (nn, 1));
  g_autoptr (GError) error = NULL;
  g_assert_true (_cairn_bspatch (o, on, out, nn, p, pl, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, nn, n, nn);
}

static void
test_roundtrip (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (42);
  gsize sizes[] = { 0, 1, 7, 100, 4096, 100000 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (guint alpha = 0; alpha <= 4; alpha += 4)
      {
        g_autoptr (GBytes) old = random_bytes (r, sizes[i], alpha);
        g_autoptr (GBytes) nw = mutate (r, old);
        roundtrip (old, nw);
        roundtrip (nw, old);
        g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
        roundtrip (empty, nw);
        roundtrip (old, empty);
      }
}

/* A small edit of a large file makes a patch that is almost all zeros (the
 * diff bytes of the unchanged parts), which the part's compression
 * removes. */
static void
test_pays (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  g_autoptr (GBytes) old = random_bytes (r, 200000, 0);
  gsize n;
  const guint8 *o = g_bytes_get_data (old, &n);
  g_autofree guint8 *nw = g_memdup2 (o, n);
  memcpy (nw + 1000, "a change in the middle", 22);
  g_autoptr (GBytes) patch = _cairn_bsdiff (o, n, nw, n);
  gsize pl, nonzero = 0;
  const guint8 *p = g_bytes_get_data (patch, &pl);
  for (gsize i = 0; i < pl; i++)
    nonzero += p[i] != 0;
  g_assert_cmpuint (nonzero, <, 200);
}

static void
put64 (guint8 *b, gint64 x)
{
  guint64 y = x < 0 ? -x : x;
  for (int i = 0; i < 8; i++, y >>= 8)
    b[i] = y & 0xff;
  if (x < 0)
    b[7] |= 0x80;
}

static void
expect_refused (const guint8 *patch, gsize len, gsize newsize, const char *msg)
{
  guint8 old[16] = "0123456789abcdef", out[64];
  g_autoptr (GError) error = NULL;
  g_assert_false (_cairn_bspatch (old, sizeof old, out, newsize, patch, len, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (!strstr (error->message, msg))
    g_error ("'%s' does not say '%s'", error->message, msg);
}

static void
test_bspatch_refusals (void)
{
  guint8 p[24 + 64] = { 0 };
  /* Truncated control record. */
  expect_refused (p, 10, 4, "ends inside a control record");
  /* A record that writes past the result. */
  put64 (p, 8);
  put64 (p + 8, 0);
  put64 (p + 16, 0);
  expect_refused (p, 24 + 8, 4, "writes past the end");
  /* A record that reads past the patch. */
  put64 (p, 4);
  expect_refused (p, 24 + 2, 4, "reads past the end");
  /* Negative lengths. */
  put64 (p, -1);
  expect_refused (p, 24 + 8, 4, "invalid control record");
  /* A seek far outside any file. */
  put64 (p, 0);
  put64 (p + 8, 1);
  put64 (p + 16, (gint64)1 << 50);
  expect_refused (p, 24 + 1, 2, "invalid control record");
}

/* ---- the part machine ------------------------------------------------------------ */

typedef struct
{
  GPtrArray *made; /* "type:checksum" */
  GBytes *source;
} Collect;

static gboolean
c_meta (gpointer data, CairnObjectType type, const char *checksum, GBytes *b, GError **error)
{
  Collect *c = data;
  if (!_cairn_pull_verify_metadata (type, checksum, b, error))
    return FALSE;
  g_ptr_array_add (c->made, g_strdup_printf ("%d:%s", type, checksum));
  return TRUE;
}

static gboolean
c_content (gpointer data, const char *checksum, CairnFileInfo *fi, GBytes *b, GError **error)
{
  Collect *c = data;
  gsize len;
  const void *p = g_bytes_get_data (b, &len);
  g_autofree char *actual = cairn_content_checksum (fi, p ? p : "", len);
  if (strcmp (actual, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "content hashes to %s", actual);
  g_ptr_array_add (c->made, g_strdup_printf ("1:%s", checksum));
  return TRUE;
}

static GBytes *
c_source (gpointer data, const char *checksum, GError **error)
{
  Collect *c = data;
  if (!c->source)
    {
      cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no such object");
      return NULL;
    }
  return g_bytes_ref (c->source);
}

static void
varint (GString *s, guint64 v)
{
  do
    {
      guint8 b = v & 0x7f;
      v >>= 7;
      g_string_append_c (s, b | (v ? 0x80 : 0));
    }
  while (v);
}

static GVariant *
payload (GString *blob, GString *ops, guint32 mode)
{
  GVariant *modes = g_variant_new_parsed ("[(@u 0, @u 0, %u)]", GUINT32_TO_BE (mode));
  return g_variant_ref_sink (
      g_variant_new ("(@a(uuu)@aa(ayay)@ay@ay)", modes, g_variant_new_parsed ("[@a(ayay) []]"),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob->str, blob->len, 1),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, ops->str, ops->len, 1)));
}

static char *
file_checksum (const char *content, gsize len)
{
  CairnFileInfo fi = { .mode = S_IFREG | 0644, .size = len, .xattrs = cairn_xattrs_empty () };
  char *c = cairn_content_checksum (&fi, content, len);
  cairn_file_info_clear (&fi);
  return c;
}

static CairnDeltaPart
header_for (const char *const *checksums)
{
  CairnDeltaPart h = { 0 };
  GByteArray *a = g_byte_array_new ();
  for (const char *const *c = checksums; *c; c++)
    {
      guint8 rec[33] = { CAIRN_OBJECT_FILE };
      cairn_checksum_from_hex (*c, rec + 1);
      g_byte_array_append (a, rec, 33);
      h.n_objects++;
    }
  g_autoptr (GBytes) b = g_byte_array_free_to_bytes (a);
  h.objects = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, b, TRUE));
  return h;
}

static gboolean
run_part_mode (GString *blob, GString *ops, const char *const *objs, GBytes *source, guint32 mode,
               GError **error)
{
  Collect c = { g_ptr_array_new_with_free_func (g_free), source };
  CairnDeltaSink sink = { c_meta, c_content, c_source, &c };
  g_autoptr (GVariant) p = payload (blob, ops, mode);
  CairnDeltaPart h = header_for (objs);
  gboolean ok = _cairn_delta_part_execute (p, &h, &sink, "part 0", error);
  if (ok)
    g_assert_cmpuint (c.made->len, ==, h.n_objects);
  g_variant_unref (h.objects);
  g_ptr_array_unref (c.made);
  return ok;
}

static gboolean
run_part (GString *blob, GString *ops, const char *const *objs, GBytes *source, GError **error)
{
  return run_part_mode (blob, ops, objs, source, S_IFREG | 0644, error);
}

/* Every opcode: S (splice), o/w/c from the payload, r/w/R from a source,
 * r/o/B/c/R (bspatch), and each refusal. */
static void
test_machine (void)
{
  const char *a = "hello", *old = "the quick brown fox", *nw = "the quick red fox!";
  g_autofree char *ca = file_checksum (a, 5);
  g_autofree char *cn = file_checksum (nw, strlen (nw));
  g_autoptr (GBytes) src = g_bytes_new_static (old, strlen (old));
  g_autoptr (GError) error = NULL;
  guint8 srcsum[32] = { 1 };

  /* S */
  g_autoptr (GString) blob = g_string_new (a), ops = g_string_new ("S");
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  const char *one[] = { ca, NULL };
  g_assert_true (run_part (blob, ops, one, NULL, &error));
  g_assert_no_error (error);

  /* o w c, from the payload in two writes */
  g_string_assign (ops, "o");
  varint (ops, 0), varint (ops, 0), varint (ops, 5);
  g_string_append_c (ops, 'w'), varint (ops, 2), varint (ops, 0);
  g_string_append_c (ops, 'w'), varint (ops, 3), varint (ops, 2);
  g_string_append_c (ops, 'c');
  g_assert_true (run_part (blob, ops, one, NULL, &error));

  /* r o w(source) w(payload) R c */
  g_autoptr (GString) blob2 = g_string_new_len ((const char *)srcsum, 32);
  g_string_append (blob2, "red fox!");
  g_string_assign (ops, "r");
  varint (ops, 0);
  g_string_append_c (ops, 'o'), varint (ops, 0), varint (ops, 0), varint (ops, strlen (nw));
  g_string_append_c (ops, 'w'), varint (ops, 10), varint (ops, 0); /* "the quick " */
  g_string_append_c (ops, 'R');
  g_string_append_c (ops, 'w'), varint (ops, 8), varint (ops, 32); /* "red fox!" */
  g_string_append_c (ops, 'c');
  const char *two[] = { cn, NULL };
  g_assert_true (run_part (blob2, ops, two, src, &error));
  g_assert_no_error (error);

  /* r o B c R */
  g_autoptr (GBytes) patch
      = _cairn_bsdiff ((const guint8 *)old, strlen (old), (const guint8 *)nw, strlen (nw));
  g_autoptr (GString) blob3 = g_string_new_len ((const char *)srcsum, 32);
  g_string_append_len (blob3, g_bytes_get_data (patch, NULL), g_bytes_get_size (patch));
  g_string_assign (ops, "r");
  varint (ops, 0);
  g_string_append_c (ops, 'o'), varint (ops, 0), varint (ops, 0), varint (ops, strlen (nw));
  g_string_append_c (ops, 'B'), varint (ops, 32), varint (ops, g_bytes_get_size (patch));
  g_string_append (ops, "cR");
  g_assert_true (run_part (blob3, ops, two, src, &error));
  g_assert_no_error (error);

  /* A bspatch whose declared length overruns the payload. */
  g_string_assign (ops, "r");
  varint (ops, 0);
  g_string_append_c (ops, 'o'), varint (ops, 0), varint (ops, 0), varint (ops, strlen (nw));
  g_string_append_c (ops, 'B'), varint (ops, 32), varint (ops, blob3->len);
  g_string_append (ops, "cR");
  g_assert_false (run_part (blob3, ops, two, src, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "outside the"));
  g_clear_error (&error);

  /* Wrong content for the name: the sink refuses it. */
  const char *wrong[] = { cn, NULL };
  g_string_assign (ops, "S");
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  g_assert_false (run_part (blob, ops, wrong, NULL, &error));
  g_assert_nonnull (strstr (error->message, "content hashes to"));
  g_clear_error (&error);

  /* An offset outside the payload. */
  g_string_assign (ops, "S");
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 1);
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "is outside the 5-byte payload"));
  g_clear_error (&error);

  /* A mode index outside the table. */
  g_string_assign (ops, "S");
  varint (ops, 3), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "not in the part's tables"));
  g_clear_error (&error);

  /* More objects made than listed, and fewer. */
  g_string_assign (ops, "S");
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  g_string_append_c (ops, 'S');
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "opens object 2 but the part lists only 1"));
  g_clear_error (&error);
  const char *twice[] = { ca, ca, NULL };
  g_string_assign (ops, "S");
  varint (ops, 0), varint (ops, 0), varint (ops, 5), varint (ops, 0);
  g_assert_false (run_part (blob, ops, twice, NULL, &error));
  g_assert_nonnull (strstr (error->message, "lists 2 objects but its operations make 1"));
  g_clear_error (&error);

  /* A write that overruns the object, a truncated number, an unknown opcode. */
  g_string_assign (ops, "o");
  varint (ops, 0), varint (ops, 0), varint (ops, 2);
  g_string_append_c (ops, 'w'), varint (ops, 3), varint (ops, 0);
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "overruns the object"));
  g_clear_error (&error);
  g_string_assign (ops, "S\x80");
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "end inside a number"));
  g_clear_error (&error);
  g_string_assign (ops, "Z");
  g_assert_false (run_part (blob, ops, one, NULL, &error));
  g_assert_nonnull (strstr (error->message, "unknown opcode 0x5a"));
  g_clear_error (&error);

  /* A symlink target that is not UTF-8 (it could not go in a header). */
  g_autoptr (GString) bad = g_string_new ("ab\xff");
  g_string_assign (ops, "S");
  varint (ops, 0), varint (ops, 0), varint (ops, 3), varint (ops, 0);
  g_assert_false (run_part_mode (bad, ops, one, NULL, S_IFLNK | 0777, &error));
  g_assert_nonnull (strstr (error->message, "invalid symlink target"));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sync/bsdiff/roundtrip", test_roundtrip);
  g_test_add_func ("/sync/bsdiff/pays", test_pays);
  g_test_add_func ("/sync/bsdiff/bspatch-refusals", test_bspatch_refusals);
  g_test_add_func ("/sync/delta/machine", test_machine);
  return g_test_run ();
}
