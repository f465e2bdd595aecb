/* Static deltas: names and paths, the superblock, parts, and the machine
 * that runs a part's operations (docs/format.md §11).
 *
 * Everything here reads hostile bytes (a server's, or a repository's that
 * someone else wrote): each length and offset is checked against what it
 * points into before it is used, and every object an operation makes goes
 * to the caller's sink, which verifies it against its name like any pulled
 * object. Nothing here writes to a repository itself, so the parser and the
 * machine can be fuzzed without one (tests/fuzz/fuzz-delta.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <lzma.h>
#include <openssl/evp.h>
#include <string.h>

#define SUPERBLOCK_TYPE "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"
#define SIGNED_TYPE "(taya{sv})"
#define PAYLOAD_TYPE "(a(uuu)aa(ayay)ayay)"
/* "OSTSGNDT", big-endian: the first 8 bytes of a signed superblock. */
#define SIGNED_MAGIC G_GUINT64_CONSTANT (0x4F535453474E4454)
#define OBJ_RECORD 33

/* ---- names ------------------------------------------------------------------------ */

static char *
mb64 (const char *hex)
{
  guint8 raw[32];
  if (!cairn_checksum_from_hex (hex, raw))
    return NULL;
  char *s = g_base64_encode (raw, 32);
  char *eq = strchr (s, '=');
  if (eq)
    *eq = '\0';
  g_strdelimit (s, "/", '_');
  return s;
}

char *
cairn_delta_name (const char *from, const char *to)
{
  return from ? g_strconcat (from, "-", to, NULL) : g_strdup (to);
}

gboolean
cairn_delta_name_parse (const char *name, char **out_from, char **out_to, GError **error)
{
  const char *dash = strchr (name, '-');
  g_autofree char *from = dash ? g_strndup (name, dash - name) : NULL;
  const char *to = dash ? dash + 1 : name;
  if ((from && !cairn_is_checksum_string (from)) || !cairn_is_checksum_string (to))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "'%s' is not a delta name (TO or FROM-TO, 64-hex checksums)", name);
  *out_from = g_steal_pointer (&from);
  *out_to = g_strdup (to);
  return TRUE;
}

char *
cairn_delta_relpath (const char *from, const char *to, const char *file)
{
  g_autofree char *t = mb64 (to);
  g_autofree char *f = from ? mb64 (from) : NULL;
  const char *first = f ? f : t;
  g_autofree char *dir = f ? g_strdup_printf ("deltas/%.2s/%s-%s", first, first + 2, t)
                           : g_strdup_printf ("deltas/%.2s/%s", first, first + 2);
  return file ? g_strconcat (dir, "/", file, NULL) : g_steal_pointer (&dir);
}

char *
cairn_delta_index_relpath (const char *to)
{
  g_autofree char *t = mb64 (to);
  return g_strdup_printf ("delta-indexes/%.2s/%s.index", t, t + 2);
}

/* ---- superblock -------------------------------------------------------------------- */

void
cairn_delta_free (CairnDelta *delta)
{
  if (!delta)
    return;
  g_free (delta->name);
  g_free (delta->from);
  g_free (delta->to);
  g_free (delta->relpath);
  g_clear_pointer (&delta->file, g_bytes_unref);
  g_clear_pointer (&delta->variant, g_variant_unref);
  g_clear_pointer (&delta->signatures, g_variant_unref);
  g_clear_pointer (&delta->metadata, g_variant_unref);
  g_clear_pointer (&delta->commit, g_bytes_unref);
  if (delta->parts)
    {
      for (guint i = 0; i < delta->parts->len; i++)
        g_clear_pointer (&g_array_index (delta->parts, CairnDeltaPart, i).objects, g_variant_unref);
      g_array_unref (delta->parts);
    }
  if (delta->fallbacks)
    g_array_unref (delta->fallbacks);
  g_free (delta);
}

/* GVariant's accessors are safe on any bytes (a malformed container reads
 * as default values), and every object taken from a delta is checked
 * against its checksum, so the containers are not required to be in
 * normal form: checking it costs a walk over every byte of a part's
 * payload (measured: 15% of a first pull's CPU time). The small tables
 * whose bytes enter an object's checksum are checked where they are used. */
static GVariant *
variant_from_bytes (const char *type, GBytes *b)
{
  return g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), b, FALSE));
}

/* A signed superblock is (t magic, ay superblock, a{sv} signatures). */
static GBytes *
unwrap_signed (GBytes *file, GVariant **out_signatures)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (file, &len);
  guint64 magic = 0;
  if (len >= 8)
    memcpy (&magic, d, 8);
  *out_signatures = NULL;
  if (GUINT64_FROM_BE (magic) != SIGNED_MAGIC)
    return g_bytes_ref (file);
  g_autoptr (GVariant) v = variant_from_bytes (SIGNED_TYPE, file);
  g_autoptr (GVariant) inner = g_variant_get_child_value (v, 1);
  *out_signatures = g_variant_get_child_value (v, 2);
  return g_variant_get_data_as_bytes (inner);
}

static gboolean
checksum_child (GVariant *v, gsize i, gboolean allow_empty, char **out, const char *what,
                const char *field, GError **error)
{
  g_autoptr (GVariant) c = g_variant_get_child_value (v, i);
  if (allow_empty && g_variant_get_size (c) == 0)
    {
      *out = NULL;
      return TRUE;
    }
  *out = cairn_checksum_from_variant (c);
  if (!*out)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: the %s checksum is not 32 bytes",
                             what, field);
  return TRUE;
}

static gboolean
is_valid_objtype (guint8 t)
{
  return t >= CAIRN_OBJECT_FILE && t <= CAIRN_OBJECT_COMMIT_META;
}

/* ostree.endianness ('l' or 'B') says in which order the part headers'
 * integers were written; without it (deltas older than the key) ostree
 * guesses, and so do we: a byte order in which a part's sizes are
 * implausible is the wrong one. */
static gboolean
read_endianness (CairnDelta *delta, GVariant *parts, const char *what, GError **error)
{
  guint8 e = 0;
  if (g_variant_lookup (delta->metadata, "ostree.endianness", "y", &e))
    {
      if (e != 'l' && e != 'B')
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: unknown ostree.endianness '%c'", what, e);
      delta->big_endian = e == 'B';
      return TRUE;
    }
  delta->big_endian = G_BYTE_ORDER == G_BIG_ENDIAN;
  for (gsize i = 0; i < g_variant_n_children (parts); i++)
    {
      guint64 size = 0;
      g_variant_get_child (parts, i, "(u@ayt@t@ay)", NULL, NULL, &size, NULL, NULL);
      if (size > ((guint64)1 << 40) && GUINT64_SWAP_LE_BE (size) < ((guint64)1 << 40))
        delta->big_endian = !delta->big_endian;
      break;
    }
  return TRUE;
}

static guint64
host64 (const CairnDelta *d, guint64 v)
{
  return d->big_endian ? GUINT64_FROM_BE (v) : GUINT64_FROM_LE (v);
}

static gboolean
parse_parts (CairnDelta *delta, GVariant *parts, const char *what, GError **error)
{
  delta->parts = g_array_new (FALSE, TRUE, sizeof (CairnDeltaPart));
  for (gsize i = 0; i < g_variant_n_children (parts); i++)
    {
      CairnDeltaPart p = { 0 };
      g_autoptr (GVariant) csum = NULL;
      g_variant_get_child (parts, i, "(u@aytt@ay)", &p.version, &csum, &p.size, &p.usize,
                           &p.objects);
      g_array_append_val (delta->parts, p);
      CairnDeltaPart *q = &g_array_index (delta->parts, CairnDeltaPart, i);
      q->version = delta->big_endian ? GUINT32_FROM_BE (q->version) : GUINT32_FROM_LE (q->version);
      q->size = host64 (delta, q->size);
      q->usize = host64 (delta, q->usize);
      if (q->version != 0)
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "%s: part %" G_GSIZE_FORMAT " has unknown version %u", what, i,
                                 q->version);
      if (g_variant_get_size (csum) != 32)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: part %" G_GSIZE_FORMAT " has a bad checksum", what, i);
      memcpy (q->checksum, g_variant_get_data (csum), 32);
      gsize n = g_variant_get_size (q->objects);
      const guint8 *o = g_variant_get_data (q->objects);
      if (n == 0 || n % OBJ_RECORD != 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: part %" G_GSIZE_FORMAT " has a malformed object list", what,
                                 i);
      q->n_objects = n / OBJ_RECORD;
      for (guint k = 0; k < q->n_objects; k++)
        if (!is_valid_objtype (o[k * OBJ_RECORD]))
          return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                   "%s: part %" G_GSIZE_FORMAT " lists an object of type %u", what,
                                   i, o[k * OBJ_RECORD]);
    }
  return TRUE;
}

static gboolean
parse_fallbacks (CairnDelta *delta, GVariant *fallbacks, const char *what, GError **error)
{
  delta->fallbacks = g_array_new (FALSE, TRUE, sizeof (CairnDeltaFallback));
  for (gsize i = 0; i < g_variant_n_children (fallbacks); i++)
    {
      guint8 type;
      g_autoptr (GVariant) csum = NULL;
      CairnDeltaFallback f = { 0 };
      g_variant_get_child (fallbacks, i, "(y@aytt)", &type, &csum, &f.size, &f.usize);
      g_autofree char *hex = cairn_checksum_from_variant (csum);
      if (!is_valid_objtype (type) || !hex)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: fallback %" G_GSIZE_FORMAT " is malformed", what, i);
      f.type = type;
      memcpy (f.checksum, hex, 65);
      f.size = host64 (delta, f.size);
      f.usize = host64 (delta, f.usize);
      g_array_append_val (delta->fallbacks, f);
    }
  return TRUE;
}

CairnDelta *
cairn_delta_parse (GBytes *file, const char *what, GError **error)
{
  g_autoptr (CairnDelta) d = g_new0 (CairnDelta, 1);
  d->file = g_bytes_ref (file);
  g_autoptr (GBytes) sb = unwrap_signed (file, &d->signatures);
  g_autofree char *w = g_strdup_printf ("%s: superblock", what);
  d->variant = variant_from_bytes (SUPERBLOCK_TYPE, sb);
  g_autoptr (GVariant) commit = g_variant_get_child_value (d->variant, 4);
  g_autoptr (GVariant) recurse = g_variant_get_child_value (d->variant, 5);
  g_autoptr (GVariant) parts = g_variant_get_child_value (d->variant, 6);
  g_autoptr (GVariant) fallbacks = g_variant_get_child_value (d->variant, 7);
  d->metadata = g_variant_get_child_value (d->variant, 0);
  g_variant_get_child (d->variant, 1, "t", &d->timestamp);
  d->timestamp = GUINT64_FROM_BE (d->timestamp);
  if (!checksum_child (d->variant, 2, TRUE, &d->from, w, "from", error)
      || !checksum_child (d->variant, 3, FALSE, &d->to, w, "to", error))
    return NULL;
  if (g_variant_get_size (recurse) != 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "%s: recursive deltas are not supported", what),
           NULL;
  d->commit = g_variant_get_data_as_bytes (commit);
  g_autofree char *actual
      = cairn_checksum_bytes (g_bytes_get_data (d->commit, NULL), g_bytes_get_size (d->commit));
  if (strcmp (actual, d->to) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: the commit it carries hashes to %s, not to its target %s", what,
                             actual, d->to),
           NULL;
  if (!read_endianness (d, parts, what, error) || !parse_parts (d, parts, what, error)
      || !parse_fallbacks (d, fallbacks, what, error))
    return NULL;
  d->name = cairn_delta_name (d->from, d->to);
  d->relpath = cairn_delta_relpath (d->from, d->to, NULL);
  return g_steal_pointer (&d);
}

GBytes *
cairn_delta_inline_part (const CairnDelta *delta, guint i)
{
  g_autofree char *key = g_strdup_printf ("%s/%u", delta->relpath, i);
  g_autoptr (GVariant) v = g_variant_lookup_value (delta->metadata, key, G_VARIANT_TYPE ("(yay)"));
  return v ? g_variant_get_data_as_bytes (v) : NULL;
}

GVariant *
cairn_delta_commitmeta (const CairnDelta *delta)
{
  g_autofree char *key = g_strconcat (delta->relpath, "/commitmeta", NULL);
  return g_variant_lookup_value (delta->metadata, key, G_VARIANT_TYPE_VARDICT);
}

/* ---- parts ------------------------------------------------------------------------ */

static GBytes *
xz_decompress (const guint8 *in, gsize len, gsize limit, const char *what, GError **error)
{
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder (&s, UINT64_MAX, 0) != LZMA_OK)
    {
      cairn_throw (error, "%s: cannot initialise the xz decoder", what);
      return NULL;
    }
  GByteArray *out = g_byte_array_sized_new (MIN (MAX (len * 4, 4096), limit + 1));
  g_byte_array_set_size (out, out->len ? out->len : MIN (MAX (len * 4, 4096), limit + 1));
  gsize have = 0;
  s.next_in = in;
  s.avail_in = len;
  lzma_ret r;
  do
    {
      if (have == out->len)
        {
          if (out->len > limit)
            break;
          g_byte_array_set_size (out, MIN ((gsize)out->len * 2, limit + 1));
        }
      s.next_out = out->data + have;
      s.avail_out = out->len - have;
      r = lzma_code (&s, LZMA_FINISH);
      have = out->len - s.avail_out;
    }
  while (r == LZMA_OK);
  gboolean trailing = s.avail_in != 0;
  lzma_end (&s);
  if (have > limit)
    {
      g_byte_array_unref (out);
      cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                        "%s: decompresses to more than %" G_GSIZE_FORMAT " bytes", what, limit);
      return NULL;
    }
  if (r != LZMA_STREAM_END || trailing)
    {
      g_byte_array_unref (out);
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: corrupt xz data (%s)", what,
                        r == LZMA_STREAM_END ? "data after the stream" : "liblzma error");
      return NULL;
    }
  g_byte_array_set_size (out, have);
  return g_byte_array_free_to_bytes (out);
}

/* What a part's payload may decompress to: its objects' bytes (as the
 * generator declared them) with room for the tables and the bytecode, as
 * ostree bounds it, never more than CAIRN_DELTA_PART_MAX_USIZE. */
static gsize
payload_limit (const CairnDeltaPart *p)
{
  guint64 margin = 4096 + (guint64)p->n_objects * (256 + 65536) + p->usize / 32;
  guint64 lim = p->usize * 2 + margin;
  return lim < p->usize || lim > CAIRN_DELTA_PART_MAX_USIZE ? CAIRN_DELTA_PART_MAX_USIZE
                                                            : (gsize)lim;
}

GVariant *
_cairn_delta_part_open (GBytes *part_file, const CairnDeltaPart *header, const char *what,
                        GError **error)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (part_file, &len);
  guint8 actual[32];
  EVP_Digest (d ? d : (const guint8 *)"", len, actual, NULL, cairn_sha256 (), NULL);
  if (memcmp (actual, header->checksum, 32) != 0)
    {
      char want[65], got[65];
      cairn_checksum_to_hex (header->checksum, want);
      cairn_checksum_to_hex (actual, got);
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                        "%s: corrupted: its content hashes to %s, the superblock says %s", what,
                        got, want);
      return NULL;
    }
  if (len < 1)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: empty", what);
      return NULL;
    }
  g_autoptr (GBytes) payload = NULL;
  if (d[0] == 0)
    {
      if (len - 1 > CAIRN_DELTA_PART_MAX_USIZE)
        {
          cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE, "%s: too large", what);
          return NULL;
        }
      payload = g_bytes_new_from_bytes (part_file, 1, len - 1);
    }
  else if (d[0] == 'x')
    payload = xz_decompress (d + 1, len - 1, payload_limit (header), what, error);
  else
    {
      cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "%s: unknown compression type 0x%02x",
                        what, d[0]);
      return NULL;
    }
  if (!payload)
    return NULL;
  return variant_from_bytes (PAYLOAD_TYPE, payload);
}

/* ---- the operations ---------------------------------------------------------------- */

typedef struct
{
  const CairnDeltaSink *sink;
  const char *what;
  const guint8 *payload;
  gsize payload_len;
  GBytes *payload_bytes; /* for zero-copy slices */
  GVariant *modes;       /* a(uuu) */
  GVariant *xattrs;      /* aa(ayay) */
  gsize n_modes, n_xattrs;
  const guint8 *ops;
  gsize ops_len, pc;
  const guint8 *objects;
  guint n_objects, index;
  /* the object being written */
  gboolean open;
  CairnObjectType type;
  char checksum[65];
  CairnFileInfo fi;
  guint8 *buf; /* NULL until 'open'; grows as writes arrive */
  guint64 size, written, cap;
  /* the read source */
  GBytes *source;
  char source_checksum[65];
} Machine;

static gboolean fail (Machine *m, GError **error, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (Machine *m, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (m->open || m->index < m->n_objects)
    {
      g_autofree char *obj
          = cairn_object_name (m->open ? m->checksum : "?", m->open ? m->type : CAIRN_OBJECT_FILE);
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                               "%s: operation %" G_GSIZE_FORMAT " (object %s): %s", m->what, m->pc,
                               m->open ? obj : "none open", msg);
    }
  return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: operation %" G_GSIZE_FORMAT ": %s",
                           m->what, m->pc, msg);
}

/* ostree's varint: 7 bits per byte, least significant group first. */
static gboolean
read_varint (Machine *m, guint64 *out, GError **error)
{
  guint64 v = 0;
  for (int shift = 0; shift < 64; shift += 7)
    {
      if (m->pc >= m->ops_len)
        return fail (m, error, "the operations end inside a number");
      guint8 b = m->ops[m->pc++];
      if (shift == 63 && (b & 0x7e))
        return fail (m, error, "a number overflows 64 bits");
      v |= (guint64)(b & 0x7f) << shift;
      if (!(b & 0x80))
        {
          *out = v;
          return TRUE;
        }
    }
  return fail (m, error, "a number is longer than 10 bytes");
}

static gboolean
check_range (Machine *m, guint64 off, guint64 len, gsize limit, const char *of, GError **error)
{
  if (off > limit || len > limit - off)
    return fail (m, error,
                 "offset %" G_GUINT64_FORMAT " length %" G_GUINT64_FORMAT
                 " is outside the %" G_GSIZE_FORMAT "-byte %s",
                 off, len, limit, of);
  return TRUE;
}

static gboolean
open_target (Machine *m, GError **error)
{
  if (m->open)
    return fail (m, error, "an object is opened while another is open");
  if (m->index >= m->n_objects)
    return fail (m, error, "opens object %u but the part lists only %u", m->index + 1,
                 m->n_objects);
  const guint8 *rec = m->objects + (gsize)m->index * OBJ_RECORD;
  m->type = rec[0];
  cairn_checksum_to_hex (rec + 1, m->checksum);
  m->open = TRUE;
  m->size = m->written = 0;
  return TRUE;
}

/* Mode and xattrs of the content object being opened (indexes into the
 * part's tables). */
static gboolean
read_file_info (Machine *m, GError **error)
{
  guint64 mi, xi;
  if (m->type != CAIRN_OBJECT_FILE)
    return fail (m, error, "a content operation on a %s object",
                 cairn_object_type_to_string (m->type));
  if (!read_varint (m, &mi, error) || !read_varint (m, &xi, error))
    return FALSE;
  if (mi >= m->n_modes || xi >= m->n_xattrs)
    return fail (m, error,
                 "mode %" G_GUINT64_FORMAT " or xattrs %" G_GUINT64_FORMAT
                 " not in the part's tables (%" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT ")",
                 mi, xi, m->n_modes, m->n_xattrs);
  guint32 uid, gid, mode;
  g_variant_get_child (m->modes, mi, "(uuu)", &uid, &gid, &mode);
  cairn_file_info_clear (&m->fi);
  m->fi.uid = GUINT32_FROM_BE (uid);
  m->fi.gid = GUINT32_FROM_BE (gid);
  m->fi.mode = GUINT32_FROM_BE (mode);
  m->fi.xattrs = g_variant_get_child_value (m->xattrs, xi);
  if (!S_ISREG (m->fi.mode) && !S_ISLNK (m->fi.mode))
    return fail (m, error, "mode 0%o is neither a regular file nor a symlink", m->fi.mode);
  return TRUE;
}

static void
unset_source (Machine *m)
{
  g_clear_pointer (&m->source, g_bytes_unref);
}

static gboolean
close_object (Machine *m, GError **error)
{
  if (m->open && m->buf)
    {
      if (m->written != m->size)
        return fail (m, error,
                     "closed after %" G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT " bytes",
                     m->written, m->size);
      m->fi.size = m->size;
      GBytes *content = g_bytes_new_take (g_steal_pointer (&m->buf), m->size);
      if (!m->sink->content (m->sink->data, m->checksum, &m->fi, content, error))
        return FALSE;
    }
  g_clear_pointer (&m->buf, g_free);
  cairn_file_info_clear (&m->fi);
  if (m->open)
    m->index++;
  m->open = FALSE;
  unset_source (m);
  return TRUE;
}

static gboolean
op_splice (Machine *m, GError **error)
{
  guint64 size, off;
  if (!open_target (m, error))
    return FALSE;
  if (CAIRN_OBJECT_IS_META (m->type))
    {
      if (!read_varint (m, &size, error) || !read_varint (m, &off, error)
          || !check_range (m, off, size, m->payload_len, "payload", error))
        return FALSE;
      g_autoptr (GBytes) b = g_bytes_new_from_bytes (m->payload_bytes, off, size);
      if (!m->sink->metadata (m->sink->data, m->type, m->checksum, b, error))
        return FALSE;
      return close_object (m, error);
    }
  if (!read_file_info (m, error) || !read_varint (m, &size, error) || !read_varint (m, &off, error)
      || !check_range (m, off, size, m->payload_len, "payload", error))
    return FALSE;
  g_autoptr (GBytes) content = NULL;
  if (S_ISLNK (m->fi.mode))
    {
      /* The target is a string of the object's header (UTF-8, no NUL) that
       * a checkout must be able to create (symlink(2): under PATH_MAX). */
      if (size == 0 || size >= 4096 || memchr (m->payload + off, 0, size)
          || !g_utf8_validate ((const char *)m->payload + off, size, NULL))
        return fail (m, error, "invalid symlink target");
      m->fi.symlink_target = g_strndup ((const char *)m->payload + off, size);
      content = g_bytes_new (NULL, 0);
    }
  else
    {
      m->fi.size = size;
      content = g_bytes_new_from_bytes (m->payload_bytes, off, size);
    }
  if (!m->sink->content (m->sink->data, m->checksum, &m->fi, content, error))
    return FALSE;
  return close_object (m, error);
}

static gboolean
op_open (Machine *m, GError **error)
{
  if (!open_target (m, error) || !read_file_info (m, error) || !read_varint (m, &m->size, error))
    return FALSE;
  if (!S_ISREG (m->fi.mode))
    return fail (m, error, "'open' makes regular files only");
  if (m->size > CAIRN_DELTA_PART_MAX_USIZE)
    return fail (m, error, "%" G_GUINT64_FORMAT " bytes is more than a part may make", m->size);
  /* The announced size is hostile: memory grows with the bytes written. */
  m->cap = MIN (m->size, (guint64)1 << 20);
  m->buf = g_malloc (MAX (m->cap, 1));
  return TRUE;
}

static void
reserve (Machine *m, guint64 total)
{
  if (total <= m->cap)
    return;
  while (m->cap < total)
    m->cap = MIN (MAX (m->cap * 2, 4096), m->size);
  m->buf = g_realloc (m->buf, MAX (m->cap, 1));
}

static gboolean
need_open_regular (Machine *m, GError **error)
{
  if (!m->open || !m->buf)
    return fail (m, error, "a write with no object open by 'open'");
  return TRUE;
}

static gboolean
op_write (Machine *m, GError **error)
{
  guint64 size, off;
  if (!need_open_regular (m, error) || !read_varint (m, &size, error)
      || !read_varint (m, &off, error))
    return FALSE;
  if (size > m->size - m->written)
    return fail (m, error, "a write of %" G_GUINT64_FORMAT " bytes overruns the object", size);
  const guint8 *src;
  if (m->source)
    {
      gsize slen;
      src = g_bytes_get_data (m->source, &slen);
      if (!check_range (m, off, size, slen, "read source", error))
        return FALSE;
    }
  else
    {
      src = m->payload;
      if (!check_range (m, off, size, m->payload_len, "payload", error))
        return FALSE;
    }
  reserve (m, m->written + size);
  memcpy (m->buf + m->written, src + off, size);
  m->written += size;
  return TRUE;
}

static gboolean
op_set_source (Machine *m, GError **error)
{
  guint64 off;
  if (!read_varint (m, &off, error) || !check_range (m, off, 32, m->payload_len, "payload", error))
    return FALSE;
  unset_source (m);
  cairn_checksum_to_hex (m->payload + off, m->source_checksum);
  m->source = m->sink->source (m->sink->data, m->source_checksum, error);
  if (!m->source)
    return cairn_prefix_error (error, "%s: read source %s.file", m->what, m->source_checksum);
  return TRUE;
}

static gboolean
op_bspatch (Machine *m, GError **error)
{
  guint64 off, len;
  if (!need_open_regular (m, error) || !read_varint (m, &off, error)
      || !read_varint (m, &len, error)
      || !check_range (m, off, len, m->payload_len, "payload", error))
    return FALSE;
  if (!m->source)
    return fail (m, error, "bspatch without a read source");
  if (m->written != 0)
    return fail (m, error, "bspatch after a write");
  /* Every byte of the result comes from the patch (diff or extra bytes). */
  if (m->size > len)
    return fail (m, error,
                 "a %" G_GUINT64_FORMAT "-byte patch cannot make %" G_GUINT64_FORMAT " bytes", len,
                 m->size);
  reserve (m, m->size);
  gsize olen;
  const guint8 *old = g_bytes_get_data (m->source, &olen);
  g_autoptr (GError) local = NULL;
  if (!_cairn_bspatch (old, olen, m->buf, m->size, m->payload + off, len, &local))
    return fail (m, error, "%s", local->message);
  m->written = m->size;
  return TRUE;
}

static gboolean
step (Machine *m, GError **error)
{
  guint8 op = m->ops[m->pc++];
  switch (op)
    {
    case 'S':
      return op_splice (m, error);
    case 'o':
      return op_open (m, error);
    case 'w':
      return op_write (m, error);
    case 'r':
      return op_set_source (m, error);
    case 'R':
      unset_source (m);
      return TRUE;
    case 'c':
      if (!m->open)
        return fail (m, error, "'close' with no object open");
      return close_object (m, error);
    case 'B':
      return op_bspatch (m, error);
    default:
      m->pc--;
      return fail (m, error, "unknown opcode 0x%02x", op);
    }
}

gboolean
_cairn_delta_part_execute (GVariant *payload, const CairnDeltaPart *header,
                           const CairnDeltaSink *sink, const char *what, GError **error)
{
  Machine m = { .sink = sink, .what = what };
  g_autoptr (GVariant) blob = g_variant_get_child_value (payload, 2);
  g_autoptr (GVariant) ops = g_variant_get_child_value (payload, 3);
  m.modes = g_variant_get_child_value (payload, 0);
  m.xattrs = g_variant_get_child_value (payload, 1);
  m.n_modes = g_variant_n_children (m.modes);
  m.n_xattrs = g_variant_n_children (m.xattrs);
  m.payload_bytes = g_variant_get_data_as_bytes (blob);
  m.payload = g_bytes_get_data (m.payload_bytes, &m.payload_len);
  m.ops = g_variant_get_data (ops);
  m.ops_len = g_variant_get_size (ops);
  m.objects = g_variant_get_data (header->objects);
  m.n_objects = header->n_objects;
  gboolean ok = TRUE;
  while (ok && m.pc < m.ops_len)
    ok = step (&m, error);
  if (ok && m.open)
    ok = fail (&m, error, "the operations end with an object open");
  if (ok && m.index != m.n_objects)
    ok = cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                           "%s: the part lists %u objects but its operations make %u", what,
                           m.n_objects, m.index);
  g_free (m.buf);
  cairn_file_info_clear (&m.fi);
  unset_source (&m);
  g_variant_unref (m.modes);
  g_variant_unref (m.xattrs);
  g_bytes_unref (m.payload_bytes);
  return ok;
}

gboolean
_cairn_delta_part_have_all (CairnRepo *repo, const CairnDeltaPart *p)
{
  const guint8 *o = g_variant_get_data (p->objects);
  for (guint i = 0; i < p->n_objects; i++)
    {
      char hex[65];
      cairn_checksum_to_hex (o + (gsize)i * OBJ_RECORD + 1, hex);
      if (!cairn_repo_object_exists (repo, o[(gsize)i * OBJ_RECORD], hex))
        return FALSE;
    }
  return TRUE;
}
