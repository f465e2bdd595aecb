/* libFuzzer target: static deltas (docs/format.md §11): the superblock
 * parser, part files (checksum, xz, payload) and the operation machine,
 * bspatch included.
 *
 * Each input is used twice:
 *  - as a superblock file, parsed by cairn_delta_parse (the signed
 *    container too); each inline part is opened against its header and its
 *    operations run;
 *  - as "n, n object types, part file": a part whose header lists n objects
 *    of those types (checksums from the fixture, none matching: the sink
 *    here takes every object it is given, so that the machine runs as far
 *    as the operations go) and whose checksum is the part file's own.
 * The sink keeps nothing; a read source is the content of a fixture file.
 * Seeds (CAIRN_FUZZ_GEN_SEEDS=DIR) are deltas cairn generates between the
 * fixture's two commits, bsdiff included, inline and as parts.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/cairn-delta.h"
#include "tests/fuzz/fuzz-store.h"
#include <openssl/evp.h>
#include <string.h>

static CairnRepo *repo;
static GBytes *source;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
take_meta (gpointer data, CairnObjectType type, const char *checksum, GBytes *b, GError **error)
{
  /* What the pull's sink does first (no store write here). */
  (void)_cairn_pull_verify_metadata (type, checksum, b, NULL);
  return TRUE;
}

static gboolean
take_content (gpointer data, const char *checksum, CairnFileInfo *fi, GBytes *b, GError **error)
{
  gsize len;
  const void *p = g_bytes_get_data (b, &len);
  g_autofree char *c = cairn_content_checksum (fi, p ? p : "", len);
  return c != NULL;
}

static GBytes *
give_source (gpointer data, const char *checksum, GError **error)
{
  return g_bytes_ref (source);
}

static const CairnDeltaSink sink = { take_meta, take_content, give_source, NULL };

static void
write_delta_seeds (const char *dir, const char *from, const char *to, const char *tag)
{
  g_autoptr (GError) error = NULL;
  CairnDeltaGenerateOptions o;
  cairn_delta_generate_options_init (&o);
  for (int inl = 0; inl <= 1; inl++)
    {
      o.inline_parts = inl;
      if (!cairn_repo_static_delta_generate (repo, from, to, &o, NULL, &error))
        g_error ("%s", error->message);
      g_autofree char *name = cairn_delta_name (from, to);
      g_autoptr (CairnDelta) d = cairn_repo_load_static_delta (repo, name, &error);
      if (!d)
        g_error ("%s", error->message);
      g_autofree char *seed = g_strdup_printf ("superblock-%s%s", tag, inl ? "-inline" : "");
      fuzz_write_seed (dir, seed, g_bytes_get_data (d->file, NULL), g_bytes_get_size (d->file));
      if (inl)
        continue;
      /* The part as the second form: n, types, part file. */
      CairnDeltaPart *p = &g_array_index (d->parts, CairnDeltaPart, 0);
      g_autofree char *rel = cairn_delta_relpath (from, to, "0");
      g_autoptr (GBytes) pf = cairn_file_get_contents_at (repo->repo_dfd, rel, 0, &error);
      if (!pf)
        g_error ("%s", error->message);
      GByteArray *a = g_byte_array_new ();
      guint8 n = MIN (p->n_objects, 255);
      g_byte_array_append (a, &n, 1);
      const guint8 *objs = g_variant_get_data (p->objects);
      for (guint i = 0; i < n; i++)
        g_byte_array_append (a, objs + i * 33, 1);
      g_byte_array_append (a, g_bytes_get_data (pf, NULL), g_bytes_get_size (pf));
      g_autofree char *pseed = g_strdup_printf ("part-%s", tag);
      fuzz_write_seed (dir, pseed, a->data, a->len);
      g_byte_array_unref (a);
    }
}

static void
put_varint (GByteArray *ops, guint64 v)
{
  do
    {
      guint8 b = v & 0x7f;
      v >>= 7;
      b |= v ? 0x80 : 0;
      g_byte_array_append (ops, &b, 1);
    }
  while (v);
}

/* A part using every opcode, uncompressed: S (a file), o w w c (from the
 * blob), r o w R w c (from a read source), r o B c R (bspatch). */
static void
write_opcode_seed (const char *dir)
{
  const char *old = "the quick brown fox jumps over the lazy dog\n";
  const char *nw = "the quick red fox jumps over the lazy cat\n";
  g_autoptr (GBytes) patch
      = _cairn_bsdiff ((const guint8 *)old, strlen (old), (const guint8 *)nw, strlen (nw));
  g_autoptr (GByteArray) blob = g_byte_array_new ();
  g_autoptr (GByteArray) ops = g_byte_array_new ();
  guint8 src[32] = { 0 };
  g_byte_array_append (blob, src, 32);                    /* 0: a source checksum */
  g_byte_array_append (blob, (const guint8 *)"hello", 5); /* 32 */
  g_byte_array_append (blob, g_bytes_get_data (patch, NULL), g_bytes_get_size (patch)); /* 37 */
  const char *prog[]
      = { "S", "o", "w", "w", "c", "r", "o", "w", "R", "w", "c", "r", "o", "B", "c", "R" };
  const guint64 args[][4] = { { 0, 0, 5, 32 },
                              { 0, 0, 5 },
                              { 2, 32 },
                              { 3, 34 },
                              { 0 },
                              { 0 },
                              { 0, 0, 9 },
                              { 4, 0 },
                              { 0 },
                              { 5, 32 },
                              { 0 },
                              { 0 },
                              { 0, 0, strlen (nw) },
                              { 37, g_bytes_get_size (patch) },
                              { 0 },
                              { 0 } };
  const int nargs[] = { 4, 3, 2, 2, 0, 1, 3, 2, 0, 2, 0, 1, 3, 2, 0, 0 };
  for (guint i = 0; i < G_N_ELEMENTS (prog); i++)
    {
      g_byte_array_append (ops, (const guint8 *)prog[i], 1);
      for (int k = 0; k < nargs[i]; k++)
        put_varint (ops, args[i][k]);
    }
  g_autoptr (GVariant) payload = g_variant_ref_sink (
      g_variant_new ("(@a(uuu)@aa(ayay)@ay@ay)",
                     g_variant_new_parsed ("[(@u 0, @u 0, %u)]", GUINT32_TO_BE (S_IFREG | 0644)),
                     g_variant_new_parsed ("[@a(ayay) []]"),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob->data, blob->len, 1),
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, ops->data, ops->len, 1)));
  g_autoptr (GByteArray) seed = g_byte_array_new ();
  guint8 head[]
      = { 4, CAIRN_OBJECT_FILE, CAIRN_OBJECT_FILE, CAIRN_OBJECT_FILE, CAIRN_OBJECT_FILE, 0 };
  g_byte_array_append (seed, head, sizeof head);
  g_byte_array_append (seed, g_variant_get_data (payload), g_variant_get_size (payload));
  fuzz_write_seed (dir, "part-opcodes", seed->data, seed->len);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  repo = fuzz_repo_new ("delta", CAIRN_REPO_MODE_BARE_USER_ONLY);
  g_autofree char *c1 = NULL, *c2 = NULL;
  fuzz_fixture (repo, &c1, &c2);
  source = g_bytes_new_static ("the quick brown fox jumps over the lazy dog\n", 44);
  const char *gen = g_getenv ("CAIRN_FUZZ_GEN_SEEDS");
  if (gen)
    {
      write_delta_seeds (gen, NULL, c2, "scratch");
      write_delta_seeds (gen, c1, c2, "update");
      write_opcode_seed (gen);
      exit (0);
    }
  return 0;
}

static void
run_part (GBytes *file, CairnDeltaPart *h, const char *what)
{
  g_autoptr (GVariant) payload = _cairn_delta_part_open (file, h, what, NULL);
  if (payload)
    (void)_cairn_delta_part_execute (payload, h, &sink, what, NULL);
}

static void
as_superblock (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) b = g_bytes_new (data, size);
  g_autoptr (CairnDelta) d = cairn_delta_parse (b, "fuzz", NULL);
  if (!d)
    return;
  g_autoptr (GVariant) cm = cairn_delta_commitmeta (d);
  if (cm && !g_variant_is_of_type (cm, G_VARIANT_TYPE_VARDICT))
    abort ();
  static const char *const keys[] = { "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", NULL };
  (void)cairn_delta_verify_signature (d, keys, NULL);
  for (guint i = 0; i < d->parts->len; i++)
    {
      g_autoptr (GBytes) inl = cairn_delta_inline_part (d, i);
      if (inl)
        run_part (inl, &g_array_index (d->parts, CairnDeltaPart, i), "fuzz part");
    }
}

static void
as_part (const uint8_t *data, size_t size)
{
  if (size < 1 || size < 1u + data[0])
    return;
  guint n = data[0];
  const guint8 *types = data + 1;
  g_autoptr (GBytes) file = g_bytes_new (data + 1 + n, size - 1 - n);
  CairnDeltaPart h = { 0 };
  GByteArray *objs = g_byte_array_new ();
  for (guint i = 0; i < n; i++)
    {
      guint8 rec[33] = { types[i] };
      rec[1] = i;
      g_byte_array_append (objs, rec, 33);
    }
  for (guint i = 0; i < n; i++)
    if (types[i] < CAIRN_OBJECT_FILE || types[i] > CAIRN_OBJECT_COMMIT_META)
      {
        g_byte_array_unref (objs);
        return;
      }
  g_autoptr (GBytes) ob = g_byte_array_free_to_bytes (objs);
  h.objects = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, ob, TRUE));
  h.n_objects = n;
  h.usize = g_bytes_get_size (file) * 4;
  EVP_Digest (g_bytes_get_data (file, NULL), g_bytes_get_size (file), h.checksum, NULL,
              cairn_sha256 (), NULL);
  if (n > 0)
    run_part (file, &h, "fuzz part");
  g_variant_unref (h.objects);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  as_superblock (data, size);
  as_part (data, size);
  return 0;
}
