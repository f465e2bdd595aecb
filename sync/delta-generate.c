/* Writing static deltas (`cairn static-delta generate`, docs/format.md §11).
 *
 * The objects of TO that FROM lacks (all of TO's from scratch) go into
 * parts in the order ostree uses and its clients expect nothing of: tree
 * metadata first (a client can check what is present while the rest
 * arrives), then content. Content is laid out in the order of a walk of
 * TO's tree, so that files of one directory (often similar: locales,
 * modules of one package) sit next to each other for the compressor. A
 * regular file that replaces a file at the same path in FROM is sent as a
 * bsdiff patch against it where the patch carries clearly fewer literal
 * bytes than the file (the zeros of an unchanged region compress to
 * nothing); larger content than --min-fallback-size is left to loose
 * fetches (a fallback entry), as ostree does so that one huge file does
 * not make one huge part.
 *
 * Parts are xz-compressed (ostree's 'x'; stored uncompressed when that is
 * smaller), written beside the superblock or inline in it, each to a
 * temporary file linked into place; the superblock last, so a reader that
 * finds it finds every part.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <lzma.h>
#include <openssl/evp.h>
#include <string.h>

#define OBJ_RECORD 33
#define DEFAULT_MIN_FALLBACK (4 * 1000 * 1000)
#define DEFAULT_MAX_CHUNK (32 * 1000 * 1000)
#define DEFAULT_MAX_BSDIFF (128 * 1000 * 1000)
#define XZ_PRESET 6

void
cairn_delta_generate_options_init (CairnDeltaGenerateOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->min_fallback_size = DEFAULT_MIN_FALLBACK;
  opts->max_chunk_size = DEFAULT_MAX_CHUNK;
  opts->max_bsdiff_size = DEFAULT_MAX_BSDIFF;
}

/* ---- what goes in ----------------------------------------------------------------- */

typedef struct
{
  char checksum[65];
  char *from; /* a file at the same path in FROM (bsdiff candidate), or NULL */
} ContentItem;

typedef struct
{
  CairnRepo *repo;
  const CairnDeltaGenerateOptions *opts;
  GHashTable *from_objects; /* "csum.type" reachable from FROM */
  GHashTable *from_paths;   /* path -> content checksum of FROM's regular files */
  GHashTable *seen;         /* objects already placed */
  GPtrArray *metadata;      /* "csum.type" */
  GArray *content;          /* ContentItem */
} Plan;

static gboolean walk_tree (Plan *p, const char *tree, const char *prefix, gboolean is_from,
                           GError **error);

static gboolean
walk_file (Plan *p, const char *path, const char *csum, gboolean is_from)
{
  if (is_from)
    {
      g_hash_table_insert (p->from_paths, g_strdup (path), g_strdup (csum));
      return TRUE;
    }
  g_autofree char *name = cairn_object_name (csum, CAIRN_OBJECT_FILE);
  if (g_hash_table_contains (p->seen, name)
      || (p->from_objects && g_hash_table_contains (p->from_objects, name)))
    return TRUE;
  g_hash_table_add (p->seen, g_steal_pointer (&name));
  ContentItem it = { 0 };
  memcpy (it.checksum, csum, 65);
  const char *old = p->from_paths ? g_hash_table_lookup (p->from_paths, path) : NULL;
  it.from = old ? g_strdup (old) : NULL;
  g_array_append_val (p->content, it);
  return TRUE;
}

static void
want_meta (Plan *p, const char *csum, CairnObjectType type)
{
  g_autofree char *name = cairn_object_name (csum, type);
  if (g_hash_table_contains (p->seen, name)
      || (p->from_objects && g_hash_table_contains (p->from_objects, name)))
    return;
  g_hash_table_add (p->seen, g_strdup (name));
  g_ptr_array_add (p->metadata, g_steal_pointer (&name));
}

static gboolean
walk_tree (Plan *p, const char *tree, const char *prefix, gboolean is_from, GError **error)
{
  if (!is_from)
    want_meta (p, tree, CAIRN_OBJECT_DIR_TREE);
  g_autoptr (GVariant) v = cairn_repo_load_variant (p->repo, CAIRN_OBJECT_DIR_TREE, tree, error);
  if (!v)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  char hex[65], mhex[65];
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c);
      cairn_checksum_to_hex (g_variant_get_data (c), hex);
      g_autofree char *path = g_strconcat (prefix, name, NULL);
      walk_file (p, path, hex, is_from);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) t = NULL, m = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &t, &m);
      cairn_checksum_to_hex (g_variant_get_data (t), hex);
      cairn_checksum_to_hex (g_variant_get_data (m), mhex);
      if (!is_from)
        want_meta (p, mhex, CAIRN_OBJECT_DIR_META);
      g_autofree char *sub = g_strconcat (prefix, name, "/", NULL);
      if (!walk_tree (p, hex, sub, is_from, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
plan_delta (Plan *p, const char *from, const char *to, GError **error)
{
  if (from)
    {
      g_auto (CairnCommit) fc = { 0 };
      p->from_objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      p->from_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      if (!cairn_repo_traverse_commit (p->repo, from, 0, p->from_objects, error)
          || !cairn_repo_load_commit (p->repo, from, &fc, error)
          || !walk_tree (p, fc.root_tree, "/", TRUE, error))
        return cairn_prefix_error (error, "delta source %s", from);
    }
  g_auto (CairnCommit) tc = { 0 };
  if (!cairn_repo_load_commit (p->repo, to, &tc, error))
    return FALSE;
  want_meta (p, tc.root_meta, CAIRN_OBJECT_DIR_META);
  return walk_tree (p, tc.root_tree, "/", FALSE, error);
}

/* ---- parts ---------------------------------------------------------------------- */

typedef struct
{
  GByteArray *payload, *ops, *objects;
  GHashTable *mode_index;  /* "uid:gid:mode" -> index + 1 */
  GPtrArray *modes;        /* (uuu) */
  GHashTable *xattr_index; /* GBytes of a(ayay) -> index + 1 */
  GPtrArray *xattrs;
  guint64 usize;
} PartBuilder;

static PartBuilder *
part_new (void)
{
  PartBuilder *b = g_new0 (PartBuilder, 1);
  b->payload = g_byte_array_new ();
  b->ops = g_byte_array_new ();
  b->objects = g_byte_array_new ();
  b->mode_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->modes = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  b->xattr_index
      = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
  b->xattrs = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  return b;
}

static void
part_free (PartBuilder *b)
{
  g_byte_array_unref (b->payload);
  g_byte_array_unref (b->ops);
  g_byte_array_unref (b->objects);
  g_hash_table_unref (b->mode_index);
  g_ptr_array_unref (b->modes);
  g_hash_table_unref (b->xattr_index);
  g_ptr_array_unref (b->xattrs);
  g_free (b);
}

static void
put_op (PartBuilder *b, guint8 op)
{
  g_byte_array_append (b->ops, &op, 1);
}

static void
put_varint (PartBuilder *b, guint64 v)
{
  do
    {
      guint8 c = v & 0x7f;
      v >>= 7;
      if (v)
        c |= 0x80;
      g_byte_array_append (b->ops, &c, 1);
    }
  while (v);
}

static guint64
put_payload (PartBuilder *b, const void *data, gsize len)
{
  guint64 off = b->payload->len;
  g_byte_array_append (b->payload, data, len);
  return off;
}

static void
put_object (PartBuilder *b, CairnObjectType type, const char *checksum)
{
  guint8 rec[OBJ_RECORD] = { type };
  cairn_checksum_from_hex (checksum, rec + 1);
  g_byte_array_append (b->objects, rec, OBJ_RECORD);
}

/* Indexes of @fi's (uid, gid, mode) and xattrs in the part's tables. */
static void
put_file_info (PartBuilder *b, const CairnFileInfo *fi)
{
  g_autofree char *mkey = g_strdup_printf ("%u:%u:%u", fi->uid, fi->gid, fi->mode);
  guint mi = GPOINTER_TO_UINT (g_hash_table_lookup (b->mode_index, mkey));
  if (!mi)
    {
      g_ptr_array_add (b->modes, g_variant_ref_sink (g_variant_new (
                                     "(uuu)", GUINT32_TO_BE (fi->uid), GUINT32_TO_BE (fi->gid),
                                     GUINT32_TO_BE (fi->mode))));
      mi = b->modes->len;
      g_hash_table_insert (b->mode_index, g_steal_pointer (&mkey), GUINT_TO_POINTER (mi));
    }
  GVariant *x = fi->xattrs ? fi->xattrs : cairn_xattrs_empty ();
  g_autoptr (GBytes) xkey = g_variant_get_data_as_bytes (x);
  guint xi = GPOINTER_TO_UINT (g_hash_table_lookup (b->xattr_index, xkey));
  if (!xi)
    {
      g_ptr_array_add (b->xattrs, g_variant_ref (x));
      xi = b->xattrs->len;
      g_hash_table_insert (b->xattr_index, g_bytes_ref (xkey), GUINT_TO_POINTER (xi));
    }
  if (!fi->xattrs)
    g_variant_unref (x);
  put_varint (b, mi - 1);
  put_varint (b, xi - 1);
}

typedef struct
{
  CairnRepo *repo;
  const CairnDeltaGenerateOptions *opts;
  GPtrArray *parts;  /* PartBuilder */
  GArray *fallbacks; /* CairnDeltaFallback */
  CairnDeltaGenerateStats stats;
} Builder;

/* The part to add @size more payload bytes to. */
static PartBuilder *
current_part (Builder *g, guint64 size)
{
  PartBuilder *b = g->parts->len ? g->parts->pdata[g->parts->len - 1] : NULL;
  if (!b || (b->objects->len > 0 && b->payload->len + size > g->opts->max_chunk_size))
    {
      b = part_new ();
      g_ptr_array_add (g->parts, b);
    }
  return b;
}

static gboolean
add_metadata (Builder *g, const char *name, GError **error)
{
  g_autofree char *csum = NULL;
  CairnObjectType type;
  cairn_object_name_parse (name, &csum, &type);
  g_autoptr (GVariant) v = cairn_repo_load_variant (g->repo, type, csum, error);
  if (!v)
    return FALSE;
  gsize len = g_variant_get_size (v);
  PartBuilder *b = current_part (g, len);
  guint64 off = put_payload (b, g_variant_get_data (v), len);
  put_object (b, type, csum);
  put_op (b, 'S');
  put_varint (b, len);
  put_varint (b, off);
  b->usize += len;
  g->stats.n_objects++;
  return TRUE;
}

static GBytes *
load_content (CairnRepo *repo, const char *csum, CairnFileInfo *fi, GError **error)
{
  cairn_autofd fd = -1;
  if (!cairn_repo_load_file (repo, csum, &fd, fi, error))
    return NULL;
  if (fd < 0)
    return g_bytes_new (NULL, 0);
  return cairn_fd_read_all (fd, 0, error);
}

/* The patch when it pays: its literal bytes (non-zero diff bytes and extra
 * bytes) are under 3/4 of the file's. NULL otherwise. */
static GBytes *
try_bsdiff (Builder *g, GBytes *old, GBytes *nw)
{
  gsize on, nn;
  const guint8 *o = g_bytes_get_data (old, &on), *n = g_bytes_get_data (nw, &nn);
  if (g->opts->disable_bsdiff || on + nn > g->opts->max_bsdiff_size || nn < 64 || on == 0)
    return NULL;
  g_autoptr (GBytes) patch = _cairn_bsdiff (o ? o : (const guint8 *)"", on, n, nn);
  gsize pl, literal = 0;
  const guint8 *p = g_bytes_get_data (patch, &pl);
  for (gsize i = 0; i < pl; i++)
    literal += p[i] != 0;
  return literal < nn * 3 / 4 ? g_steal_pointer (&patch) : NULL;
}

static void
add_bspatch (Builder *g, const char *csum, const char *from, const CairnFileInfo *fi, GBytes *patch,
             gsize size)
{
  guint8 src[32];
  cairn_checksum_from_hex (from, src);
  gsize plen = g_bytes_get_size (patch);
  PartBuilder *b = current_part (g, plen + 32);
  put_object (b, CAIRN_OBJECT_FILE, csum);
  put_op (b, 'r');
  put_varint (b, put_payload (b, src, 32));
  put_op (b, 'o');
  put_file_info (b, fi);
  put_varint (b, size);
  put_op (b, 'B');
  put_varint (b, put_payload (b, g_bytes_get_data (patch, NULL), plen));
  put_varint (b, plen);
  put_op (b, 'c');
  put_op (b, 'R');
  b->usize += size;
  g->stats.n_bsdiff++;
  g->stats.n_objects++;
}

static gboolean
add_fallback (Builder *g, const char *csum, guint64 usize, GError **error)
{
  struct stat st;
  CairnDeltaFallback f = { .type = CAIRN_OBJECT_FILE, .usize = usize };
  memcpy (f.checksum, csum, 65);
  f.size = cairn_repo_stat_object (g->repo, CAIRN_OBJECT_FILE, csum, &st) ? (guint64)st.st_size
                                                                          : usize;
  g_array_append_val (g->fallbacks, f);
  g->stats.n_fallback++;
  return TRUE;
}

static gboolean
add_content (Builder *g, const ContentItem *it, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  g_autoptr (GBytes) data = load_content (g->repo, it->checksum, &fi, error);
  if (!data)
    return cairn_prefix_error (error, "object %s.file", it->checksum);
  gsize len = g_bytes_get_size (data);
  if (S_ISREG (fi.mode) && g->opts->min_fallback_size > 0 && len > g->opts->min_fallback_size)
    return add_fallback (g, it->checksum, len, error);
  if (S_ISREG (fi.mode) && it->from)
    {
      g_auto (CairnFileInfo) ofi = { 0 };
      g_autoptr (GBytes) old = load_content (g->repo, it->from, &ofi, NULL);
      g_autoptr (GBytes) patch = old && S_ISREG (ofi.mode) ? try_bsdiff (g, old, data) : NULL;
      if (patch)
        {
          add_bspatch (g, it->checksum, it->from, &fi, patch, len);
          return TRUE;
        }
    }
  const void *p = S_ISLNK (fi.mode) ? fi.symlink_target : g_bytes_get_data (data, NULL);
  gsize plen = S_ISLNK (fi.mode) ? strlen (fi.symlink_target) : len;
  PartBuilder *b = current_part (g, plen);
  guint64 off = put_payload (b, p, plen);
  put_object (b, CAIRN_OBJECT_FILE, it->checksum);
  put_op (b, 'S');
  put_file_info (b, &fi);
  put_varint (b, plen);
  put_varint (b, off);
  b->usize += plen;
  g->stats.n_objects++;
  return TRUE;
}

/* ---- output ------------------------------------------------------------------------ */

static GVariant *
bytes_variant (const void *data, gsize len)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1);
}

/* The part file: (y compression, ay payload) serialized. */
static GBytes *
part_file (PartBuilder *b, gboolean compress, GError **error)
{
  g_auto (GVariantBuilder) mb, xb;
  g_variant_builder_init (&mb, G_VARIANT_TYPE ("a(uuu)"));
  g_variant_builder_init (&xb, G_VARIANT_TYPE ("aa(ayay)"));
  for (guint i = 0; i < b->modes->len; i++)
    g_variant_builder_add_value (&mb, b->modes->pdata[i]);
  for (guint i = 0; i < b->xattrs->len; i++)
    g_variant_builder_add_value (&xb, b->xattrs->pdata[i]);
  g_autoptr (GVariant) payload = g_variant_ref_sink (
      g_variant_new ("(@a(uuu)@aa(ayay)@ay@ay)", g_variant_builder_end (&mb),
                     g_variant_builder_end (&xb), bytes_variant (b->payload->data, b->payload->len),
                     bytes_variant (b->ops->data, b->ops->len)));
  gsize plen = g_variant_get_size (payload);
  const guint8 *pd = g_variant_get_data (payload);
  GByteArray *out = g_byte_array_sized_new (plen + 1);
  if (compress)
    {
      gsize bound = lzma_stream_buffer_bound (plen), pos = 1;
      g_byte_array_set_size (out, bound + 1);
      out->data[0] = 'x';
      lzma_ret r = lzma_easy_buffer_encode (XZ_PRESET, LZMA_CHECK_CRC64, NULL, pd, plen, out->data,
                                            &pos, bound + 1);
      if (r != LZMA_OK)
        {
          g_byte_array_unref (out);
          cairn_throw (error, "xz compression failed (liblzma error %d)", r);
          return NULL;
        }
      if (pos < plen + 1)
        {
          g_byte_array_set_size (out, pos);
          return g_byte_array_free_to_bytes (out);
        }
    }
  /* Incompressible (or compression off): stored as it is. */
  guint8 none = 0;
  g_byte_array_set_size (out, 0);
  g_byte_array_append (out, &none, 1);
  g_byte_array_append (out, pd, plen);
  return g_byte_array_free_to_bytes (out);
}

static gboolean
write_file_at (int dfd, const char *name, GBytes *b, CairnFsyncPolicy fs, GError **error)
{
  g_auto (CairnTmpfile) tmpf = { 0 };
  if (!cairn_tmpfile_open (dfd, 0644, &tmpf, error)
      || !cairn_write_all (tmpf.fd, g_bytes_get_data (b, NULL), g_bytes_get_size (b), error))
    return FALSE;
  if (fchmod (tmpf.fd, 0644) < 0)
    return cairn_throw_errno (error, "fchmod");
  return cairn_tmpfile_link_at (&tmpf, CAIRN_LINK_REPLACE, dfd, name, fs, error);
}

typedef struct
{
  GVariantBuilder metadata;
  GVariantBuilder headers;
} Superblock;

static gboolean
emit_parts (Builder *g, int dir_dfd, const char *relpath, Superblock *sb, GError **error)
{
  CairnFsyncPolicy fs = cairn_repo_fsync_policy (g->repo);
  for (guint i = 0; i < g->parts->len; i++)
    {
      PartBuilder *b = g->parts->pdata[i];
      g_autoptr (GBytes) file = part_file (b, !g->opts->disable_compression, error);
      if (!file)
        return FALSE;
      guint8 csum[32];
      EVP_Digest (g_bytes_get_data (file, NULL), g_bytes_get_size (file), csum, NULL,
                  cairn_sha256 (), NULL);
      g_autofree char *num = g_strdup_printf ("%u", i);
      if (g->opts->inline_parts)
        {
          g_autofree char *key = g_strdup_printf ("%s/%u", relpath, i);
          g_autoptr (GVariant) v = g_variant_ref_sink (
              g_variant_new_from_bytes (G_VARIANT_TYPE ("(yay)"), file, TRUE));
          g_variant_builder_add (&sb->metadata, "{sv}", key, v);
        }
      else if (!write_file_at (dir_dfd, num, file, fs, error))
        return cairn_prefix_error (error, "writing %s/%u", relpath, i);
      gboolean be = g->opts->set_endianness ? g->opts->big_endian : G_BYTE_ORDER == G_BIG_ENDIAN;
      guint64 size = g_bytes_get_size (file);
      g_variant_builder_add (&sb->headers, "(u@aytt@ay)", be ? GUINT32_TO_BE (0) : 0,
                             bytes_variant (csum, 32),
                             be ? GUINT64_TO_BE (size) : GUINT64_TO_LE (size),
                             be ? GUINT64_TO_BE (b->usize) : GUINT64_TO_LE (b->usize),
                             bytes_variant (b->objects->data, b->objects->len));
      g->stats.n_parts++;
      g->stats.total_size += size;
      g->stats.total_usize += b->usize;
    }
  return TRUE;
}

static GVariant *
fallback_headers (Builder *g)
{
  gboolean be = g->opts->set_endianness ? g->opts->big_endian : G_BYTE_ORDER == G_BIG_ENDIAN;
  g_auto (GVariantBuilder) fb;
  g_variant_builder_init (&fb, G_VARIANT_TYPE ("a(yaytt)"));
  for (guint i = 0; i < g->fallbacks->len; i++)
    {
      CairnDeltaFallback *f = &g_array_index (g->fallbacks, CairnDeltaFallback, i);
      guint8 raw[32];
      cairn_checksum_from_hex (f->checksum, raw);
      g_variant_builder_add (&fb, "(y@aytt)", (guint8)f->type, bytes_variant (raw, 32),
                             be ? GUINT64_TO_BE (f->size) : GUINT64_TO_LE (f->size),
                             be ? GUINT64_TO_BE (f->usize) : GUINT64_TO_LE (f->usize));
    }
  return g_variant_builder_end (&fb);
}

static GBytes *
superblock_bytes (Builder *g, Superblock *sb, const char *from, const char *to, GError **error)
{
  g_autoptr (GBytes) commit = cairn_repo_load_commit_bytes (g->repo, to, error);
  if (!commit)
    return NULL;
  guint8 fromraw[32], toraw[32];
  if (from)
    cairn_checksum_from_hex (from, fromraw);
  cairn_checksum_from_hex (to, toraw);
  g_autoptr (GVariant) cv
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_COMMIT_GVARIANT_FORMAT, commit, TRUE));
  guint64 now = (guint64)(g_get_real_time () / G_USEC_PER_SEC);
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new (
      "(@a{sv}t@ay@ay@(a{sv}aya(say)sstayay)@ay@a(uayttay)@a(yaytt))",
      g_variant_builder_end (&sb->metadata), GUINT64_TO_BE (now),
      bytes_variant (fromraw, from ? 32 : 0), bytes_variant (toraw, 32), cv,
      bytes_variant (NULL, 0), g_variant_builder_end (&sb->headers), fallback_headers (g)));
  return g_variant_get_data_as_bytes (v);
}

static void
start_metadata (Builder *g, Superblock *sb)
{
  g_variant_builder_init (&sb->metadata, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_init (&sb->headers, G_VARIANT_TYPE ("a(uayttay)"));
  /* User keys first: clients (Flatpak) sniff them at the start of the file. */
  if (g->opts->metadata)
    {
      GVariantIter it;
      GVariant *item;
      g_variant_iter_init (&it, g->opts->metadata);
      while ((item = g_variant_iter_next_value (&it)))
        {
          g_variant_builder_add_value (&sb->metadata, item);
          g_variant_unref (item);
        }
    }
  gboolean be = g->opts->set_endianness ? g->opts->big_endian : G_BYTE_ORDER == G_BIG_ENDIAN;
  g_variant_builder_add (&sb->metadata, "{sv}", "ostree.endianness",
                         g_variant_new_byte (be ? 'B' : 'l'));
}

static gboolean
add_commitmeta (Builder *g, Superblock *sb, const char *to, const char *relpath, GError **error)
{
  g_autoptr (GVariant) detached = NULL;
  if (!cairn_repo_read_commit_detached_metadata (g->repo, to, &detached, error))
    return FALSE;
  if (detached)
    {
      g_autofree char *key = g_strconcat (relpath, "/commitmeta", NULL);
      g_variant_builder_add (&sb->metadata, "{sv}", key, detached);
    }
  return TRUE;
}

static gboolean
build_parts (Builder *g, Plan *plan, GError **error)
{
  for (guint i = 0; i < plan->metadata->len; i++)
    if (!add_metadata (g, plan->metadata->pdata[i], error))
      return FALSE;
  for (guint i = 0; i < plan->content->len; i++)
    if (!add_content (g, &g_array_index (plan->content, ContentItem, i), error))
      return FALSE;
  return TRUE;
}

static void
plan_clear (Plan *p)
{
  g_clear_pointer (&p->from_objects, g_hash_table_unref);
  g_clear_pointer (&p->from_paths, g_hash_table_unref);
  g_clear_pointer (&p->seen, g_hash_table_unref);
  g_clear_pointer (&p->metadata, g_ptr_array_unref);
  if (p->content)
    {
      for (guint i = 0; i < p->content->len; i++)
        g_free (g_array_index (p->content, ContentItem, i).from);
      g_clear_pointer (&p->content, g_array_unref);
    }
}

static gboolean
write_delta (Builder *g, Plan *plan, const char *from, const char *to, GError **error)
{
  g_autofree char *relpath = cairn_delta_relpath (from, to, NULL);
  int rdfd = g->repo->repo_dfd;
  if (!cairn_rm_rf_at (rdfd, relpath, error) || !cairn_mkdirat_p (rdfd, relpath, 0755, error))
    return FALSE;
  cairn_autofd dfd = -1;
  if (!cairn_opendirat (rdfd, relpath, FALSE, &dfd, error))
    return FALSE;
  Superblock sb;
  start_metadata (g, &sb);
  if (!build_parts (g, plan, error) || !emit_parts (g, dfd, relpath, &sb, error)
      || !add_commitmeta (g, &sb, to, relpath, error))
    {
      g_variant_builder_clear (&sb.metadata);
      g_variant_builder_clear (&sb.headers);
      return FALSE;
    }
  g_autoptr (GBytes) block = superblock_bytes (g, &sb, from, to, error);
  if (!block)
    return FALSE;
  if (g->opts->sign_keys && g->opts->sign_keys[0])
    {
      GBytes *signed_block = _cairn_delta_sign (block, g->opts->sign_keys, error);
      if (!signed_block)
        return FALSE;
      g_bytes_unref (block);
      block = signed_block;
    }
  return write_file_at (dfd, "superblock", block, cairn_repo_fsync_policy (g->repo), error)
         || cairn_prefix_error (error, "writing %s/superblock", relpath);
}

gboolean
cairn_repo_static_delta_generate (CairnRepo *repo, const char *from, const char *to,
                                  const CairnDeltaGenerateOptions *opts,
                                  CairnDeltaGenerateStats *out_stats, GError **error)
{
  CairnDeltaGenerateOptions dflt;
  if (!opts)
    {
      cairn_delta_generate_options_init (&dflt);
      opts = &dflt;
    }
  if (from && cairn_repo_commit_is_partial (repo, from))
    return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT,
                             "commit %s is partial: a delta from it needs all its objects", from);
  if (cairn_repo_commit_is_partial (repo, to))
    return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT,
                             "commit %s is partial: a delta to it needs all its objects", to);
  Plan plan = { repo, opts };
  plan.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  plan.metadata = g_ptr_array_new_with_free_func (g_free);
  plan.content = g_array_new (FALSE, TRUE, sizeof (ContentItem));
  Builder g = { repo, opts };
  g.parts = g_ptr_array_new_with_free_func ((GDestroyNotify)part_free);
  g.fallbacks = g_array_new (FALSE, TRUE, sizeof (CairnDeltaFallback));
  gboolean ok = plan_delta (&plan, from, to, error) && write_delta (&g, &plan, from, to, error);
  if (ok && out_stats)
    *out_stats = g.stats;
  plan_clear (&plan);
  g_ptr_array_unref (g.parts);
  g_array_unref (g.fallbacks);
  if (!ok)
    {
      g_autofree char *name = cairn_delta_name (from, to);
      return cairn_prefix_error (error, "static delta %s", name);
    }
  return TRUE;
}
