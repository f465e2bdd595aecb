/* libFuzzer target: metadata objects (docs/format.md §3.3, §7).
 *
 * The first byte picks what the rest is:
 *   0 dirtree, 1 dirmeta, 2 commit, 3 detached commit metadata (a{sv}):
 *     the pull's check of hostile objects (_cairn_pull_verify_metadata,
 *     given the input's own SHA-256), the parsers behind it
 *     (cairn_commit_parse, cairn_dirmeta_parse, cairn_dirtree_find on
 *     every name), then the object is stored in a temporary repository and
 *     checked by fsck (cairn_repo_fsck_object: its own dirtree checks);
 *   4 a bare-user object's user.ostreemeta (cairn_parse_ostreemeta);
 *   5 an archive-mode .filez header (cairn_parse_zheader).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "tests/fuzz/fuzz-store.h"
#include <string.h>

static CairnRepo *repo;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  repo = fuzz_repo_new ("meta", CAIRN_REPO_MODE_ARCHIVE);
  /* Seeds from the fixture: CAIRN_FUZZ_GEN_SEEDS=DIR. */
  const char *gen = g_getenv ("CAIRN_FUZZ_GEN_SEEDS");
  if (gen)
    {
      g_autofree char *c1 = NULL, *c2 = NULL;
      CairnRepo *src = fuzz_repo_new ("meta-src", CAIRN_REPO_MODE_ARCHIVE);
      fuzz_fixture (src, &c1, &c2);
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (src, c2, &c, NULL))
        abort ();
      struct
      {
        guint8 kind;
        CairnObjectType type;
        const char *csum;
        const char *name;
      } objs[] = {
        { 0, CAIRN_OBJECT_DIR_TREE, c.root_tree, "dirtree" },
        { 1, CAIRN_OBJECT_DIR_META, c.root_meta, "dirmeta" },
        { 2, CAIRN_OBJECT_COMMIT, c2, "commit" },
      };
      for (guint i = 0; i < G_N_ELEMENTS (objs); i++)
        {
          g_autoptr (GBytes) b = fuzz_load_object (src, objs[i].type, objs[i].csum);
          g_autoptr (GByteArray) s = g_byte_array_new ();
          g_byte_array_append (s, &objs[i].kind, 1);
          g_byte_array_append (s, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
          fuzz_write_seed (gen, objs[i].name, s->data, s->len);
        }
      /* detached metadata with a signature-shaped aay */
      GVariantBuilder b, sigs;
      g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
      g_variant_builder_add_value (&sigs, g_variant_new_bytestring ("\x88\x01x"));
      g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "ostree.gpgsigs", g_variant_builder_end (&sigs));
      g_autoptr (GVariant) meta = g_variant_ref_sink (g_variant_builder_end (&b));
      g_autoptr (GByteArray) s = g_byte_array_new ();
      g_byte_array_append (s, (const guint8 *)"\x03", 1);
      g_byte_array_append (s, g_variant_get_data (meta), g_variant_get_size (meta));
      fuzz_write_seed (gen, "commitmeta", s->data, s->len);
      /* ostreemeta: (uuua(ayay)) with and without xattrs */
      CairnFileInfo fi = { .uid = 0, .gid = 0, .mode = S_IFREG | 0644 };
      fi.xattrs = cairn_xattrs_empty ();
      g_autoptr (GVariant) om = _cairn_ostreemeta_new (&fi);
      g_byte_array_set_size (s, 0);
      g_byte_array_append (s, (const guint8 *)"\x04", 1);
      g_byte_array_append (s, g_variant_get_data (om), g_variant_get_size (om));
      fuzz_write_seed (gen, "ostreemeta", s->data, s->len);
      /* .filez header of the fixture's symlink-free README */
      g_autoptr (GVariant) zh = cairn_zfile_header_new (&fi);
      g_autoptr (GVariant) zn = g_variant_get_normal_form (zh);
      guint32 hlen = GUINT32_TO_BE ((guint32)g_variant_get_size (zn));
      g_byte_array_set_size (s, 0);
      g_byte_array_append (s, (const guint8 *)"\x05", 1);
      g_byte_array_append (s, (const guint8 *)&hlen, 4);
      g_byte_array_append (s, (const guint8 *)"\0\0\0\0", 4);
      g_byte_array_append (s, g_variant_get_data (zn), g_variant_get_size (zn));
      g_byte_array_append (s, (const guint8 *)"\x03\x00", 2);
      fuzz_write_seed (gen, "zheader", s->data, s->len);
      cairn_file_info_clear (&fi);
      exit (0);
    }
  return 0;
}

static void
use_commit (GVariant *v)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_commit_parse (v, &c, NULL))
    return;
  const char *version = NULL;
  (void)g_variant_lookup (c.metadata, "version", "&s", &version);
  g_autofree const char **bindings = NULL;
  (void)g_variant_lookup (c.metadata, "ostree.ref-binding", "^a&s", &bindings);
}

static void
use_dirtree (GVariant *v)
{
  for (int kind = 0; kind < 2; kind++)
    {
      g_autoptr (GVariant) list = g_variant_get_child_value (v, kind);
      for (gsize i = 0; i < g_variant_n_children (list); i++)
        {
          g_autoptr (GVariant) e = g_variant_get_child_value (list, i);
          const char *name;
          guint8 a[32], b[32];
          g_variant_get_child (e, 0, "&s", &name);
          (void)cairn_dirtree_find (v, kind, name, a, b);
        }
    }
  guint8 a[32], b[32];
  (void)cairn_dirtree_find (v, 0, "etc", a, b);
  (void)cairn_dirtree_find (v, 1, "etc", a, b);
}

static void
metadata (CairnObjectType type, const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autofree char *csum = cairn_checksum_bytes (data, size);
  g_autoptr (GError) error = NULL;
  gboolean valid = _cairn_pull_verify_metadata (type, csum, bytes, &error);
  const GVariantType *vt = type == CAIRN_OBJECT_DIR_TREE   ? CAIRN_DIRTREE_GVARIANT_FORMAT
                           : type == CAIRN_OBJECT_DIR_META ? CAIRN_DIRMETA_GVARIANT_FORMAT
                           : type == CAIRN_OBJECT_COMMIT   ? CAIRN_COMMIT_GVARIANT_FORMAT
                                                           : G_VARIANT_TYPE_VARDICT;
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (vt, bytes, FALSE));
  if (valid)
    {
      if (type == CAIRN_OBJECT_COMMIT)
        use_commit (v);
      else if (type == CAIRN_OBJECT_DIR_TREE)
        use_dirtree (v);
      else if (type == CAIRN_OBJECT_DIR_META)
        {
          guint32 uid, gid, mode;
          g_autoptr (GVariant) xa = NULL;
          (void)cairn_dirmeta_parse (v, &uid, &gid, &mode, &xa, NULL);
        }
      else
        {
          g_autoptr (GVariant) sigs
              = g_variant_lookup_value (v, "ostree.gpgsigs", G_VARIANT_TYPE ("aay"));
          for (gsize i = 0; sigs && i < g_variant_n_children (sigs); i++)
            {
              g_autoptr (GVariant) e = g_variant_get_child_value (sigs, i);
              g_autoptr (GBytes) sb = g_variant_get_data_as_bytes (e);
              g_autofree char *kid = NULL, *fpr = NULL;
              if (cairn_sign_signature_get_issuer (sb, &kid, &fpr, NULL))
                ;
            }
        }
    }
  if (type == CAIRN_OBJECT_COMMIT_META || size > 65536)
    return;
  /* What a corrupt object in one's own repository gets from fsck. */
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, NULL);
  if (!txn)
    abort ();
  if (cairn_txn_write_metadata_trusted_name (txn, type, csum, bytes, NULL)
      && cairn_txn_commit (txn, NULL))
    {
      (void)cairn_repo_fsck_object (repo, type, csum, NULL);
      (void)cairn_repo_delete_object (repo, type, csum, NULL, NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1 || size > (1 << 20))
    return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  switch (data[0] % 6)
    {
    case 0:
      metadata (CAIRN_OBJECT_DIR_TREE, p, n);
      break;
    case 1:
      metadata (CAIRN_OBJECT_DIR_META, p, n);
      break;
    case 2:
      metadata (CAIRN_OBJECT_COMMIT, p, n);
      break;
    case 3:
      metadata (CAIRN_OBJECT_COMMIT_META, p, n);
      break;
    case 4:
      {
        CairnFileInfo fi = { 0 };
        (void)cairn_parse_ostreemeta (p, n, &fi, NULL);
        cairn_file_info_clear (&fi);
        break;
      }
    default:
      {
        CairnFileInfo fi = { 0 };
        gsize off = 0;
        if (cairn_parse_zheader (p, n, &fi, &off, NULL) && off > n)
          abort ();
        cairn_file_info_clear (&fi);
        break;
      }
    }
  return 0;
}
