/* The far side of the ssh transport (docs/sync-protocol.md): answers GET
 * of the few files a pull reads by name, lists refs, and for a negotiation
 * walks the wanted trees, subtracts what the client's complete commits
 * reach, lets the client strike what it already has, and streams one
 * deflate-compressed pack of exactly the rest. Read-only: it never writes
 * to the repository, and it only serves paths it validated itself.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>
#include <zlib.h>

#define PACK_CHUNK (256u << 10)

typedef struct
{
  CairnRepo *repo;
  int in_fd;
  int out_fd;
  /* push: only these refs are served by name, no summary; the counters
   * say what was sent */
  const char *const *push_refs;
  guint64 records_sent;
  guint64 pack_bytes;
} Server;

/* ---- requests by name --------------------------------------------------------------- */

static gboolean
is_hex (const char *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

/* A name of modified base64 characters (docs/format.md §2), with at most
 * one '-' (FROM-TO delta directories). */
static gboolean
is_mb64_name (const char *s, gsize len)
{
  int dashes = 0;
  for (gsize i = 0; i < len; i++)
    if (s[i] == '-')
      dashes++;
    else if (!g_ascii_isalnum (s[i]) && s[i] != '+' && s[i] != '_')
      return FALSE;
  return len > 0 && dashes <= 1;
}

/* The files of static deltas (docs/format.md §11.1), read by a pull with
 * --require-static-deltas: deltas/XX/NAME/superblock or a numbered part,
 * delta-indexes/XX/NAME.index. */
static gboolean
delta_path_allowed (const char *p)
{
  g_auto (GStrv) c = g_strsplit (p, "/", -1);
  guint n = g_strv_length (c);
  if (n == 3 && strcmp (c[0], "delta-indexes") == 0 && strlen (c[1]) == 2 && is_mb64_name (c[1], 2)
      && g_str_has_suffix (c[2], ".index"))
    return is_mb64_name (c[2], strlen (c[2]) - strlen (".index"));
  if (n != 4 || strcmp (c[0], "deltas") != 0 || strlen (c[1]) != 2 || !is_mb64_name (c[1], 2)
      || !is_mb64_name (c[2], strlen (c[2])))
    return FALSE;
  if (strcmp (c[3], "superblock") == 0)
    return TRUE;
  guint64 part;
  return g_ascii_string_to_unsigned (c[3], 10, 0, G_MAXUINT32, &part, NULL);
}

/* Only what a pull reads by name: the summary, the config, a ref, a commit
 * or its detached metadata, the files of static deltas and (archive form)
 * their fallback objects. Everything else is refused. */
static gboolean
path_allowed (Server *sv, const char *p)
{
  if (strcmp (p, "summary") == 0 || strcmp (p, "summary.sig") == 0 || strcmp (p, "config") == 0)
    return !sv->push_refs || strcmp (p, "config") == 0;
  /* a push shows the receiver only the pushed refs' objects: no deltas */
  if (g_str_has_prefix (p, "deltas/") || g_str_has_prefix (p, "delta-indexes/"))
    return !sv->push_refs && delta_path_allowed (p);
  if (g_str_has_prefix (p, "refs/heads/"))
    return cairn_validate_ref_name (p + strlen ("refs/heads/"), NULL)
           && (!sv->push_refs || g_strv_contains (sv->push_refs, p + strlen ("refs/heads/")));
  if (!g_str_has_prefix (p, "objects/") || strlen (p) < 8 + 2 + 1 + 62 + 1)
    return FALSE;
  const char *o = p + strlen ("objects/");
  if (!is_hex (o, 2) || o[2] != '/' || !is_hex (o + 3, 62) || o[65] != '.')
    return FALSE;
  /* .filez: the fallbacks of a static delta, fetched by name. */
  return strcmp (o + 66, "commit") == 0 || strcmp (o + 66, "commitmeta") == 0
         || strcmp (o + 66, "filez") == 0;
}

static gboolean
send_data (Server *sv, GBytes *b, GError **error)
{
  gsize len = b ? g_bytes_get_size (b) : 0;
  g_autofree guint8 *buf = g_malloc (len + 1);
  buf[0] = b != NULL;
  if (len)
    memcpy (buf + 1, g_bytes_get_data (b, NULL), len);
  return _cairn_sync_write_frame (sv->out_fd, CAIRN_SYNC_DATA, buf, len + 1, error);
}

static gboolean
handle_get (Server *sv, GBytes *payload, GError **error)
{
  g_autofree char *path = g_strndup (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
  if (strlen (path) != g_bytes_get_size (payload) || !path_allowed (sv, path))
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "serve: refusing to send '%s'",
                             path);
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) b
      = cairn_file_get_contents_at (sv->repo->repo_dfd, path, CAIRN_MAX_METADATA_SIZE, &local);
  if (!b && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return send_data (sv, b, error);
}

static gboolean
handle_list_refs (Server *sv, GError **error)
{
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (sv->repo, NULL, FALSE, error);
  if (!refs)
    return FALSE;
  g_autoptr (GString) s = g_string_new (NULL);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_string_append_printf (s, "%s %s\n", (char *)v, (char *)k);
  g_autoptr (GBytes) b = g_string_free_to_bytes (g_steal_pointer (&s));
  return send_data (sv, b, error);
}

/* ---- negotiation ------------------------------------------------------------------------ */

typedef struct
{
  guint8 type;
  guint8 csum[32];
} Candidate;

typedef struct
{
  CairnRepo *repo;
  GHashTable *seen; /* names already listed */
  GArray *meta;     /* Candidate: metadata first... */
  GArray *files;    /* ...then content */
} Walk;

static void
add_candidate (Walk *w, CairnObjectType type, const char *hex)
{
  g_autofree char *name = cairn_object_name (hex, type);
  if (g_hash_table_contains (w->seen, name))
    return;
  Candidate c = { .type = type };
  cairn_checksum_from_hex (hex, c.csum);
  g_array_append_val (type == CAIRN_OBJECT_FILE ? w->files : w->meta, c);
  g_hash_table_add (w->seen, g_steal_pointer (&name));
}

/* Walk a wanted dirtree beside the same directory in the client's complete
 * commits (@haves: dirtree variants, possibly empty). A subdirectory whose
 * dirtree equals one of theirs is skipped whole (a complete commit's
 * subtree is all there); a file equal to theirs at the same path is not
 * listed. Anything else is a candidate (the client strikes what it has
 * elsewhere in its LACK answer). */
static gboolean
walk_tree (Walk *w, const char *tree, const char *meta, GPtrArray *haves, GError **error)
{
  add_candidate (w, CAIRN_OBJECT_DIR_META, meta);
  g_autofree char *name = cairn_object_name (tree, CAIRN_OBJECT_DIR_TREE);
  if (g_hash_table_contains (w->seen, name))
    return TRUE;
  add_candidate (w, CAIRN_OBJECT_DIR_TREE, tree);
  g_autoptr (GVariant) v = cairn_repo_load_variant (w->repo, CAIRN_OBJECT_DIR_TREE, tree, error);
  if (!v)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  char h1[65], h2[65];
  guint8 a[32], b[32];
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      g_autoptr (GVariant) c = NULL;
      const char *fname;
      g_variant_get_child (files, i, "(&s@ay)", &fname, &c);
      gboolean same = FALSE;
      for (guint k = 0; !same && k < haves->len; k++)
        same = cairn_dirtree_find (haves->pdata[k], 0, fname, a, b)
               && memcmp (a, g_variant_get_data (c), 32) == 0;
      if (same)
        continue;
      cairn_checksum_to_hex (g_variant_get_data (c), h1);
      add_candidate (w, CAIRN_OBJECT_FILE, h1);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      g_autoptr (GVariant) t = NULL, m = NULL;
      const char *dname;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &dname, &t, &m);
      g_autoptr (GPtrArray) sub = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
      gboolean same = FALSE;
      for (guint k = 0; !same && k < haves->len; k++)
        {
          if (!cairn_dirtree_find (haves->pdata[k], 1, dname, a, b))
            continue;
          same = memcmp (a, g_variant_get_data (t), 32) == 0
                 && memcmp (b, g_variant_get_data (m), 32) == 0;
          cairn_checksum_to_hex (a, h1);
          GVariant *hv = NULL;
          if (!same
              && cairn_repo_load_variant_if_exists (w->repo, CAIRN_OBJECT_DIR_TREE, h1, &hv, NULL)
              && hv)
            g_ptr_array_add (sub, hv);
        }
      if (same)
        continue;
      cairn_checksum_to_hex (g_variant_get_data (t), h1);
      cairn_checksum_to_hex (g_variant_get_data (m), h2);
      if (!walk_tree (w, h1, h2, sub, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_commits (const guint8 **p, const guint8 *end, GPtrArray *out, GError **error)
{
  guint32 n;
  if (end - *p < 4)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: short negotiation");
  memcpy (&n, *p, 4);
  n = GUINT32_FROM_BE (n);
  *p += 4;
  if ((gsize)(end - *p) < (gsize)n * 32)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: short negotiation");
  for (guint32 i = 0; i < n; i++, *p += 32)
    {
      char hex[65];
      cairn_checksum_to_hex (*p, hex);
      g_ptr_array_add (out, g_strdup (hex));
    }
  return TRUE;
}

/* Root dirtrees of the client's complete commits that we have too (a
 * commit we do not know gives no help). */
static GPtrArray *
have_roots (CairnRepo *repo, GPtrArray *haves)
{
  GPtrArray *roots = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  for (guint i = 0; i < haves->len; i++)
    {
      g_auto (CairnCommit) c = { 0 };
      GVariant *v = NULL;
      if (cairn_repo_load_commit (repo, haves->pdata[i], &c, NULL)
          && cairn_repo_load_variant_if_exists (repo, CAIRN_OBJECT_DIR_TREE, c.root_tree, &v, NULL)
          && v)
        g_ptr_array_add (roots, v);
    }
  return roots;
}

static GArray *
compute_candidates (Server *sv, GBytes *payload, GError **error)
{
  const guint8 *p = g_bytes_get_data (payload, NULL);
  const guint8 *end = p + g_bytes_get_size (payload);
  g_autoptr (GPtrArray) wants = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) haves = g_ptr_array_new_with_free_func (g_free);
  if (end - p < 4)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: short negotiation");
      return NULL;
    }
  p += 4; /* depth: reserved, the client asks for each commit it needs */
  if (!read_commits (&p, end, wants, error) || !read_commits (&p, end, haves, error))
    return NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) roots = have_roots (sv->repo, haves);
  g_autoptr (GArray) meta = g_array_new (FALSE, FALSE, sizeof (Candidate));
  g_autoptr (GArray) files = g_array_new (FALSE, FALSE, sizeof (Candidate));
  Walk w = { sv->repo, seen, meta, files };
  for (guint i = 0; i < wants->len; i++)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (sv->repo, wants->pdata[i], &c, error)
          || !walk_tree (&w, c.root_tree, c.root_meta, roots, error))
        return NULL;
    }
  g_array_append_vals (meta, files->data, files->len);
  return g_steal_pointer (&meta);
}

static gboolean
send_candidates (Server *sv, GArray *cands, GError **error)
{
  gsize len = 4 + (gsize)cands->len * 33;
  g_autofree guint8 *buf = g_malloc (len);
  guint32 n = GUINT32_TO_BE (cands->len);
  memcpy (buf, &n, 4);
  for (guint i = 0; i < cands->len; i++)
    {
      Candidate *c = &g_array_index (cands, Candidate, i);
      buf[4 + i * 33] = c->type;
      memcpy (buf + 4 + i * 33 + 1, c->csum, 32);
    }
  return _cairn_sync_write_frame (sv->out_fd, CAIRN_SYNC_CANDIDATES, buf, len, error);
}

/* ---- the pack -------------------------------------------------------------------------- */

typedef struct
{
  int fd;
  z_stream zs;
  guint8 *out;
  guint64 *bytes; /* counter of the bytes sent */
} PackWriter;

static gboolean
pack_flush (PackWriter *pw, int flush, GError **error)
{
  do
    {
      pw->zs.next_out = pw->out;
      pw->zs.avail_out = PACK_CHUNK;
      int r = deflate (&pw->zs, flush);
      if (r == Z_STREAM_ERROR)
        return cairn_throw (error, "deflate failed");
      gsize have = PACK_CHUNK - pw->zs.avail_out;
      if (have && !_cairn_sync_write_frame (pw->fd, CAIRN_SYNC_PACK, pw->out, have, error))
        return FALSE;
      *pw->bytes += have;
    }
  while (pw->zs.avail_out == 0);
  return TRUE;
}

static gboolean
pack_write (PackWriter *pw, const void *data, gsize len, GError **error)
{
  pw->zs.next_in = (guint8 *)data;
  pw->zs.avail_in = len;
  while (pw->zs.avail_in > 0)
    {
      pw->zs.next_out = pw->out;
      pw->zs.avail_out = PACK_CHUNK;
      if (deflate (&pw->zs, Z_NO_FLUSH) == Z_STREAM_ERROR)
        return cairn_throw (error, "deflate failed");
      gsize have = PACK_CHUNK - pw->zs.avail_out;
      if (have && !_cairn_sync_write_frame (pw->fd, CAIRN_SYNC_PACK, pw->out, have, error))
        return FALSE;
      *pw->bytes += have;
    }
  return TRUE;
}

static gboolean
pack_u32 (PackWriter *pw, guint32 v, GError **error)
{
  v = GUINT32_TO_BE (v);
  return pack_write (pw, &v, 4, error);
}

static gboolean
pack_u64 (PackWriter *pw, guint64 v, GError **error)
{
  v = GUINT64_TO_BE (v);
  return pack_write (pw, &v, 8, error);
}

static gboolean
pack_metadata (Server *sv, PackWriter *pw, const Candidate *c, const char *hex, GError **error)
{
  g_autofree char *rel = cairn_object_relpath (hex, c->type, sv->repo->mode);
  g_autoptr (GBytes) b
      = cairn_file_get_contents_at (sv->repo->objects_dfd, rel, CAIRN_MAX_METADATA_SIZE, error);
  if (!b)
    return FALSE;
  return pack_u32 (pw, g_bytes_get_size (b), error)
         && pack_write (pw, g_bytes_get_data (b, NULL), g_bytes_get_size (b), error);
}

static gboolean
pack_content (Server *sv, PackWriter *pw, const char *hex, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  cairn_autofd fd = -1;
  if (!cairn_repo_load_file (sv->repo, hex, &fd, &fi, error))
    return FALSE;
  g_autoptr (GVariant) built = cairn_file_header_new (&fi);
  g_autoptr (GVariant) header = g_variant_get_normal_form (built);
  gsize hlen = g_variant_get_size (header);
  guint64 size = S_ISREG (fi.mode) ? fi.size : 0;
  if (!pack_u32 (pw, hlen, error) || !pack_write (pw, g_variant_get_data (header), hlen, error)
      || !pack_u64 (pw, size, error))
    return FALSE;
  g_autofree guint8 *buf = g_malloc (PACK_CHUNK);
  guint64 sent = 0;
  while (sent < size)
    {
      ssize_t n = read (fd, buf, MIN (PACK_CHUNK, size - sent));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? cairn_throw_errno (error, "reading object %s", hex)
                     : cairn_throw (error, "object %s is shorter than its size", hex);
      if (!pack_write (pw, buf, n, error))
        return FALSE;
      sent += n;
    }
  return TRUE;
}

static int
zlib_level (void)
{
  const char *s = g_getenv ("CAIRN_SERVE_ZLIB_LEVEL");
  return s ? CLAMP (atoi (s), 0, 9) : 5;
}

static gboolean
send_pack (Server *sv, GArray *cands, GBytes *lack, GError **error)
{
  const guint8 *bits = g_bytes_get_data (lack, NULL);
  if (g_bytes_get_size (lack) != (cands->len + 7) / 8)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: bad LACK message");
  PackWriter pw = { .fd = sv->out_fd, .bytes = &sv->pack_bytes };
  if (deflateInit2 (&pw.zs, zlib_level (), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return cairn_throw (error, "deflateInit failed");
  pw.out = g_malloc (PACK_CHUNK);
  gboolean ok = TRUE;
  guint64 n = 0;
  for (guint i = 0; ok && i < cands->len; i++)
    {
      if (!(bits[i / 8] & (1u << (i % 8))))
        continue;
      Candidate *c = &g_array_index (cands, Candidate, i);
      char hex[65];
      cairn_checksum_to_hex (c->csum, hex);
      ok = pack_write (&pw, c, 33, error)
           && (c->type == CAIRN_OBJECT_FILE ? pack_content (sv, &pw, hex, error)
                                            : pack_metadata (sv, &pw, c, hex, error));
      n++;
    }
  guint8 end = 0;
  ok = ok && pack_write (&pw, &end, 1, error) && pack_flush (&pw, Z_FINISH, error);
  deflateEnd (&pw.zs);
  g_free (pw.out);
  guint64 be = GUINT64_TO_BE (n);
  sv->records_sent += n;
  return ok && _cairn_sync_write_frame (sv->out_fd, CAIRN_SYNC_PACK_END, &be, 8, error);
}

static gboolean
handle_negotiate (Server *sv, GBytes *payload, GError **error)
{
  g_autoptr (GArray) cands = compute_candidates (sv, payload, error);
  if (!cands || !send_candidates (sv, cands, error))
    return FALSE;
  guint8 type;
  g_autoptr (GBytes) lack = NULL;
  if (!_cairn_sync_read_frame (sv->in_fd, &type, &lack, error))
    return FALSE;
  if (type != CAIRN_SYNC_LACK)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: expected LACK, got '%c'",
                             type);
  return send_pack (sv, cands, lack, error);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static gboolean
handshake (Server *sv, GError **error)
{
  guint8 type;
  g_autoptr (GBytes) hello = NULL;
  if (!_cairn_sync_read_frame (sv->in_fd, &type, &hello, error))
    return FALSE;
  g_autofree char *want = g_strdup_printf ("cairn-sync %d", CAIRN_SYNC_PROTOCOL_VERSION);
  g_autofree char *got = g_strndup (g_bytes_get_data (hello, NULL), g_bytes_get_size (hello));
  if (type != CAIRN_SYNC_HELLO || !g_str_has_prefix (got, "cairn-sync "))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: not a cairn sync client");
  if (strcmp (got, want) != 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "serve: client speaks '%s', this server '%s'", got, want);
  g_autofree char *reply
      = g_strdup_printf ("%s mode=%s", want, cairn_repo_mode_to_string (sv->repo->mode));
  return _cairn_sync_write_frame (sv->out_fd, CAIRN_SYNC_HELLO, reply, strlen (reply), error);
}

static gboolean
serve_one (Server *sv, guint8 type, GBytes *payload, gboolean *out_bye, GError **error)
{
  *out_bye = FALSE;
  switch (type)
    {
    case CAIRN_SYNC_GET:
      return handle_get (sv, payload, error);
    case CAIRN_SYNC_LIST_REFS:
      return handle_list_refs (sv, error);
    case CAIRN_SYNC_NEGOTIATE:
      return handle_negotiate (sv, payload, error);
    case CAIRN_SYNC_BYE:
      *out_bye = TRUE;
      return TRUE;
    case CAIRN_SYNC_ERROR:
      if (sv->push_refs)
        {
          /* the receiver's pull failed: its reason is ours */
          g_autofree char *msg
              = g_strndup (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
          g_autofree char *esc = cairn_escape_name (msg, -1);
          *out_bye = TRUE;
          return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "the far side: %s", esc);
        }
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: unknown message '%c'", type);
    default:
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "serve: unknown message '%c'", type);
    }
}

static gboolean
serve_loop (Server *sv, GError **error)
{
  gboolean ok = handshake (sv, error);
  while (ok)
    {
      guint8 type;
      g_autoptr (GBytes) payload = NULL;
      g_autoptr (GError) local = NULL;
      gboolean bye = FALSE;
      if (!_cairn_sync_read_frame (sv->in_fd, &type, &payload, &local))
        {
          if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) && !sv->push_refs)
            return TRUE; /* the client went away between requests */
          if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
            return cairn_throw_code (error, G_IO_ERROR_CONNECTION_CLOSED,
                                     "the far side closed the connection before it was done");
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      ok = serve_one (sv, type, payload, &bye, error);
      if (bye)
        return ok;
    }
  /* Tell the client why (best effort), then fail. */
  if (error && *error)
    (void)_cairn_sync_write_frame (sv->out_fd, CAIRN_SYNC_ERROR, (*error)->message,
                                   strlen ((*error)->message), NULL);
  return FALSE;
}

gboolean
cairn_repo_serve (CairnRepo *repo, int in_fd, int out_fd, GError **error)
{
  Server sv = { .repo = repo, .in_fd = in_fd, .out_fd = out_fd };
  return serve_loop (&sv, error);
}

gboolean
cairn_repo_serve_push (CairnRepo *repo, int in_fd, int out_fd, const char *const *refs,
                       CairnPushStats *out_stats, GError **error)
{
  Server sv = { .repo = repo, .in_fd = in_fd, .out_fd = out_fd, .push_refs = refs };
  gboolean ok = serve_loop (&sv, error);
  if (out_stats)
    {
      out_stats->objects_sent = sv.records_sent;
      out_stats->bytes_sent = sv.pack_bytes;
    }
  return ok;
}
