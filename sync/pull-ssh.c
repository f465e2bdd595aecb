/* ssh transport, client side (docs/sync-protocol.md): runs
 *   ssh [-p PORT] [USER@]HOST cairn serve --stdio PATH
 * and speaks the sync protocol on its stdin/stdout. The tree phase is one
 * negotiation — the commits we need, the complete commits we have; the
 * server's candidate list; our bitmap of what we lack — then one pack. Every
 * record of the pack is checked against the list we asked for and verified
 * against its name by the sink before it is stored.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

#define MAX_HAVES 256
#define MAX_BACKLOG 256

typedef struct
{
  CairnPullTransport base;
  char *desc; /* ssh://… for messages */
  GPid pid;
  int to_fd;   /* ssh's stdin */
  int from_fd; /* ssh's stdout */
} Ssh;

/* ---- process --------------------------------------------------------------------------- */

static const char *
pick (const char *a, const char *env, const char *b, const char *dflt)
{
  const char *e = g_getenv (env);
  return a ? a : e && *e ? e : b ? b : dflt;
}

GPtrArray *
_cairn_ssh_argv (const char *url, CairnRemote *remote, const char *ssh_command,
                 const char *remote_cairn, const char *serve_options, const char *const *refs,
                 GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, error);
  if (!uri)
    return NULL;
  const char *ssh = pick (ssh_command, "CAIRN_SSH",
                          cairn_remote_get_option (remote, "cairn-ssh-command"), "ssh");
  const char *cairn = pick (remote_cairn, "CAIRN_SSH_REMOTE_CAIRN",
                            cairn_remote_get_option (remote, "cairn-remote-path"), "cairn");
  const char *host = g_uri_get_host (uri), *user = g_uri_get_user (uri);
  /* An option smuggled in as a host or user name ("-oProxyCommand=…"). */
  if (!host || !*host || host[0] == '-' || (user && user[0] == '-'))
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid ssh host in %s", url);
      return NULL;
    }
  g_auto (GStrv) sshv = NULL;
  if (!g_shell_parse_argv (ssh, NULL, &sshv, error))
    return NULL;
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  for (char **a = sshv; *a; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  if (g_uri_get_port (uri) > 0)
    {
      g_ptr_array_add (argv, g_strdup ("-p"));
      g_ptr_array_add (argv, g_strdup_printf ("%d", g_uri_get_port (uri)));
    }
  g_ptr_array_add (argv, user ? g_strdup_printf ("%s@%s", user, host) : g_strdup (host));
  /* ssh hands the far side one command line for its shell: quote what
   * comes from the user (the path, the refs). */
  g_autoptr (GString) cmd = g_string_new (cairn);
  g_autofree char *qpath = g_shell_quote (g_uri_get_path (uri));
  g_string_append_printf (cmd, " serve --stdio%s%s %s", serve_options ? " " : "",
                          serve_options ? serve_options : "", qpath);
  for (const char *const *r = refs; r && *r; r++)
    {
      g_autofree char *q = g_shell_quote (*r);
      g_string_append_printf (cmd, " %s", q);
    }
  g_ptr_array_add (argv, g_string_free (g_steal_pointer (&cmd), FALSE));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static gboolean ssh_request (Ssh *s, guint8 type, const void *data, gsize len, guint8 want,
                             GBytes **out, GError **error);

static gboolean
handshake (Ssh *s, GError **error)
{
  g_autofree char *hello = g_strdup_printf ("cairn-sync %d", CAIRN_SYNC_PROTOCOL_VERSION);
  g_autoptr (GBytes) reply = NULL;
  if (!ssh_request (s, CAIRN_SYNC_HELLO, hello, strlen (hello), CAIRN_SYNC_HELLO, &reply, error))
    return FALSE;
  g_autofree char *r = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  if (!g_str_has_prefix (r, hello) || (r[strlen (hello)] != ' ' && r[strlen (hello)] != '\0'))
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "%s: server speaks '%s'", s->desc, r);
  return TRUE;
}

/* Read one frame; an ERROR frame from the server becomes our error. */
static gboolean
read_frame (Ssh *s, guint8 *out_type, GBytes **out, GError **error)
{
  if (!_cairn_sync_read_frame (s->from_fd, out_type, out, error))
    return cairn_prefix_error (error, "%s", s->desc);
  if (*out_type == CAIRN_SYNC_ERROR)
    {
      g_autofree char *msg = g_strndup (g_bytes_get_data (*out, NULL), g_bytes_get_size (*out));
      g_clear_pointer (out, g_bytes_unref);
      return cairn_throw (error, "%s: server: %s", s->desc, msg);
    }
  return TRUE;
}

static gboolean
ssh_request (Ssh *s, guint8 type, const void *data, gsize len, guint8 want, GBytes **out,
             GError **error)
{
  guint8 got;
  if (!_cairn_sync_write_frame (s->to_fd, type, data, len, error))
    return cairn_prefix_error (error, "%s", s->desc);
  if (!read_frame (s, &got, out, error))
    return FALSE;
  if (got != want)
    {
      g_clear_pointer (out, g_bytes_unref);
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                               "%s: protocol error: expected '%c', got '%c'", s->desc, want, got);
    }
  return TRUE;
}

/* ---- files and refs by name -------------------------------------------------------------- */

static gboolean
ssh_fetch_file (CairnPullTransport *t, const char *relpath, gsize max_size, GBytes **out_data,
                GError **error)
{
  Ssh *s = (Ssh *)t;
  g_autoptr (GBytes) reply = NULL;
  if (!ssh_request (s, CAIRN_SYNC_GET, relpath, strlen (relpath), CAIRN_SYNC_DATA, &reply, error))
    return FALSE;
  gsize len = g_bytes_get_size (reply);
  const guint8 *p = g_bytes_get_data (reply, NULL);
  if (len < 1)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: empty reply", s->desc);
  if (len - 1 > max_size)
    return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "%s: %s larger than %" G_GSIZE_FORMAT " bytes", s->desc, relpath,
                             max_size);
  *out_data = p[0] ? g_bytes_new_from_bytes (reply, 1, len - 1) : NULL;
  return TRUE;
}

static GHashTable *
ssh_list_refs (CairnPullTransport *t, GError **error)
{
  Ssh *s = (Ssh *)t;
  g_autoptr (GBytes) reply = NULL;
  if (!ssh_request (s, CAIRN_SYNC_LIST_REFS, NULL, 0, CAIRN_SYNC_DATA, &reply, error))
    return NULL;
  gsize len = g_bytes_get_size (reply);
  if (len < 1)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: empty reply", s->desc);
      return NULL;
    }
  g_autofree char *text = g_strndup ((const char *)g_bytes_get_data (reply, NULL) + 1, len - 1);
  g_autoptr (GHashTable) refs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      if (!**l)
        continue;
      if (strlen (*l) < 66 || (*l)[64] != ' ' || !cairn_validate_ref_name (*l + 65, NULL))
        {
          cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: invalid ref list", s->desc);
          return NULL;
        }
      g_hash_table_insert (refs, g_strdup (*l + 65), g_strndup (*l, 64));
    }
  return g_steal_pointer (&refs);
}

/* ---- negotiation -------------------------------------------------------------------------- */

/* Complete commits we have: the server needs nothing below them. */
static GPtrArray *
local_haves (CairnRepo *repo)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer v;
  if (!refs)
    return out;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, NULL, &v) && out->len < MAX_HAVES)
    {
      if (g_hash_table_contains (seen, v) || cairn_repo_commit_is_partial (repo, v)
          || !cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, v))
        continue;
      g_hash_table_add (seen, v);
      g_ptr_array_add (out, g_strdup (v));
    }
  return out;
}

static void
append_commits (GByteArray *b, GPtrArray *commits)
{
  guint32 n = GUINT32_TO_BE (commits->len);
  g_byte_array_append (b, (guint8 *)&n, 4);
  for (guint i = 0; i < commits->len; i++)
    {
      guint8 raw[32];
      cairn_checksum_from_hex (commits->pdata[i], raw);
      g_byte_array_append (b, raw, 32);
    }
}

/* Send the negotiation, read the candidates, answer with what we lack.
 * *out_lacked gets the names we asked for. */
static gboolean
negotiate (Ssh *s, CairnPullSession *ps, GHashTable *lacked, GError **error)
{
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  guint32 depth = 0;
  g_byte_array_append (msg, (guint8 *)&depth, 4);
  append_commits (msg, ps->commits);
  g_autoptr (GPtrArray) haves = local_haves (ps->repo);
  append_commits (msg, haves);
  g_autoptr (GBytes) cands = NULL;
  if (!ssh_request (s, CAIRN_SYNC_NEGOTIATE, msg->data, msg->len, CAIRN_SYNC_CANDIDATES, &cands,
                    error))
    return FALSE;
  gsize len = g_bytes_get_size (cands);
  const guint8 *p = g_bytes_get_data (cands, NULL);
  guint32 n;
  if (len < 4 || (memcpy (&n, p, 4), n = GUINT32_FROM_BE (n), len != 4 + (gsize)n * 33))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: bad candidate list", s->desc);
  g_autofree guint8 *bits = g_malloc0 ((n + 7) / 8 + 1);
  guint present = 0;
  for (guint32 i = 0; i < n; i++)
    {
      const guint8 *e = p + 4 + (gsize)i * 33;
      char hex[65];
      cairn_checksum_to_hex (e + 1, hex);
      if (!CAIRN_OBJECT_IS_META (e[0]) && e[0] != CAIRN_OBJECT_FILE)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: bad candidate type", s->desc);
      if (cairn_repo_object_exists (ps->repo, e[0], hex))
        {
          present++;
          continue;
        }
      bits[i / 8] |= 1u << (i % 8);
      g_hash_table_add (lacked, cairn_object_name (hex, e[0]));
    }
  _cairn_pull_sink_count_present (ps->sink, present);
  return _cairn_sync_write_frame (s->to_fd, CAIRN_SYNC_LACK, bits, (n + 7) / 8, error)
         || cairn_prefix_error (error, "%s", s->desc);
}

/* ---- the pack ------------------------------------------------------------------------------- */

typedef struct
{
  Ssh *s;
  CairnPullSession *ps;
  z_stream zs;
  GBytes *frame; /* compressed input being consumed */
  gboolean frames_done;
  gboolean stream_end;
  guint64 records_end; /* from PACK_END */
} PackReader;

static gboolean
next_frame (PackReader *r, GError **error)
{
  guint8 type;
  g_clear_pointer (&r->frame, g_bytes_unref);
  if (!read_frame (r->s, &type, &r->frame, error))
    return FALSE;
  _cairn_pull_sink_add_bytes (r->ps->sink, g_bytes_get_size (r->frame) + 5);
  if (type == CAIRN_SYNC_PACK_END)
    {
      guint64 be = 0;
      if (g_bytes_get_size (r->frame) == 8)
        memcpy (&be, g_bytes_get_data (r->frame, NULL), 8);
      r->records_end = GUINT64_FROM_BE (be);
      r->frames_done = TRUE;
      g_clear_pointer (&r->frame, g_bytes_unref);
      return TRUE;
    }
  if (type != CAIRN_SYNC_PACK)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: protocol error in pack ('%c')",
                             r->s->desc, type);
  r->zs.next_in = (guint8 *)g_bytes_get_data (r->frame, NULL);
  r->zs.avail_in = g_bytes_get_size (r->frame);
  return TRUE;
}

/* Exactly @len bytes of the uncompressed pack stream. zlib may hold output
 * back after consuming all its input, so inflate is always given the chance
 * to drain before the next frame is read or the stream declared truncated. */
static gboolean
pack_read (PackReader *r, void *buf, gsize len, GError **error)
{
  r->zs.next_out = buf;
  r->zs.avail_out = len;
  while (r->zs.avail_out > 0)
    {
      uInt before = r->zs.avail_out;
      int z = r->stream_end ? Z_STREAM_END : inflate (&r->zs, Z_NO_FLUSH);
      if (z == Z_STREAM_END)
        r->stream_end = TRUE;
      else if (z != Z_OK && z != Z_BUF_ERROR)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: corrupt pack stream (zlib %d)", r->s->desc, z);
      if (r->zs.avail_out == 0)
        break;
      if (r->stream_end)
        return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT, "%s: truncated pack", r->s->desc);
      if (r->zs.avail_out == before && r->zs.avail_in == 0)
        {
          /* No progress and no input left: the next frame is needed. */
          if (r->frames_done)
            return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT, "%s: truncated pack",
                                     r->s->desc);
          if (!next_frame (r, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
pack_read_u32 (PackReader *r, guint32 *out, GError **error)
{
  guint32 v;
  if (!pack_read (r, &v, 4, error))
    return FALSE;
  *out = GUINT32_FROM_BE (v);
  return TRUE;
}

static gboolean
parse_file_header (GBytes *hb, CairnFileInfo *fi, GError **error)
{
  g_autoptr (GVariant) h
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_FILEHEADER_GVARIANT_FORMAT, hb, FALSE));
  if (!g_variant_is_normal_form (h))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "file header not in normal form");
  guint32 uid, gid, mode, rdev;
  const char *target;
  g_variant_get (h, "(uuuu&s@a(ayay))", &uid, &gid, &mode, &rdev, &target, &fi->xattrs);
  fi->uid = GUINT32_FROM_BE (uid);
  fi->gid = GUINT32_FROM_BE (gid);
  fi->mode = GUINT32_FROM_BE (mode);
  if (rdev != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "file header with rdev");
  if (S_ISLNK (fi->mode))
    fi->symlink_target = g_strdup (target);
  return TRUE;
}

static gboolean
read_record (PackReader *r, guint8 type, const char *hex, GError **error)
{
  CairnPullSink *sink = r->ps->sink;
  guint32 len;
  if (!pack_read_u32 (r, &len, error))
    return FALSE;
  if (type != CAIRN_OBJECT_FILE)
    {
      if (len > CAIRN_MAX_METADATA_SIZE)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "object %s too large", hex);
      g_autofree guint8 *buf = g_malloc (len ? len : 1);
      if (!pack_read (r, buf, len, error))
        return FALSE;
      g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&buf), len);
      return _cairn_pull_sink_write_metadata (sink, type, hex, b, error);
    }
  if (len > 1 << 20)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "object %s: header too large", hex);
  g_autofree guint8 *hbuf = g_malloc (len ? len : 1);
  guint64 size;
  if (!pack_read (r, hbuf, len, error) || !pack_read (r, &size, 8, error))
    return FALSE;
  size = GUINT64_FROM_BE (size);
  g_autoptr (GBytes) hb = g_bytes_new_take (g_steal_pointer (&hbuf), len);
  g_auto (CairnFileInfo) fi = { 0 };
  if (!parse_file_header (hb, &fi, error))
    return cairn_prefix_error (error, "object %s", hex);
  if (size > G_MAXSIZE / 2)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "object %s: bad size", hex);
  fi.size = size;
  /* The size is the server's word: the buffer grows with the bytes that
   * actually arrive, so a claimed size alone allocates nothing. */
  gsize cap = MIN (size, (gsize)1 << 20), got = 0;
  g_autofree guint8 *cbuf = g_try_malloc (cap ? cap : 1);
  while (cbuf && got < size)
    {
      if (got == cap)
        {
          cap = MIN (size, cap * 2);
          guint8 *bigger = g_try_realloc (cbuf, cap);
          if (!bigger)
            break;
          cbuf = bigger;
        }
      if (!pack_read (r, cbuf + got, cap - got, error))
        return FALSE;
      got = cap;
    }
  if (!cbuf || got < size)
    return cairn_throw_code (error, G_IO_ERROR_NO_SPACE, "object %s: out of memory", hex);
  g_autoptr (GBytes) content = g_bytes_new_take (g_steal_pointer (&cbuf), size);
  g_autofree char *what = g_strdup_printf ("%s: object %s", r->s->desc, hex);
  _cairn_pull_sink_queue_content (sink, hex, &fi, content, what);
  return TRUE;
}

static gboolean
read_pack (PackReader *r, GHashTable *lacked, GError **error)
{
  guint64 n = 0;
  for (;;)
    {
      guint8 head[33];
      if (!pack_read (r, head, 1, error))
        return FALSE;
      if (head[0] == 0)
        break;
      if (!pack_read (r, head + 1, 32, error))
        return FALSE;
      char hex[65];
      cairn_checksum_to_hex (head + 1, hex);
      g_autofree char *name = cairn_object_name (hex, head[0]);
      if (!g_hash_table_remove (lacked, name))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: sent %s, which was not asked for", r->s->desc, name);
      if (!read_record (r, head[0], hex, error))
        return FALSE;
      n++;
      if (_cairn_pull_sink_pending (r->ps->sink) > MAX_BACKLOG
          && !_cairn_pull_sink_drain (r->ps->sink, error))
        return FALSE;
      if (!_cairn_pull_sink_maybe_checkpoint (r->ps->sink, error))
        return FALSE;
      _cairn_pull_sink_progress (r->ps->sink, "pack");
    }
  while (!r->frames_done)
    if (!next_frame (r, error))
      return FALSE;
  if (r->records_end != n)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: pack has %" G_GUINT64_FORMAT
                             " records, server says %" G_GUINT64_FORMAT,
                             r->s->desc, n, r->records_end);
  return TRUE;
}

static gboolean
ssh_fetch_trees (CairnPullTransport *t, CairnPullSession *ps, GError **error)
{
  Ssh *s = (Ssh *)t;
  g_autoptr (GHashTable) lacked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!negotiate (s, ps, lacked, error))
    return FALSE;
  PackReader r = { .s = s, .ps = ps };
  if (inflateInit2 (&r.zs, -15) != Z_OK)
    return cairn_throw (error, "inflateInit failed");
  gboolean ok = read_pack (&r, lacked, error);
  inflateEnd (&r.zs);
  g_clear_pointer (&r.frame, g_bytes_unref);
  g_autoptr (GError) job_error = NULL;
  gboolean jobs_ok = _cairn_pull_sink_drain (ps->sink, ok ? error : &job_error);
  return ok && jobs_ok;
}

static void
ssh_free (CairnPullTransport *t)
{
  Ssh *s = (Ssh *)t;
  if (s->to_fd >= 0)
    {
      (void)_cairn_sync_write_frame (s->to_fd, CAIRN_SYNC_BYE, NULL, 0, NULL);
      close (s->to_fd);
    }
  if (s->from_fd >= 0)
    close (s->from_fd);
  if (s->pid > 0)
    {
      int status;
      while (waitpid (s->pid, &status, 0) < 0 && errno == EINTR)
        ;
      g_spawn_close_pid (s->pid);
    }
  g_free (s->desc);
  g_free (s);
}

static Ssh *
ssh_alloc (const char *desc, int to_fd, int from_fd)
{
  Ssh *s = g_new0 (Ssh, 1);
  s->base.name = "ssh";
  s->base.fetch_file = ssh_fetch_file;
  s->base.list_refs = ssh_list_refs;
  s->base.fetch_trees = ssh_fetch_trees;
  s->base.free = ssh_free;
  s->desc = g_strdup (desc);
  s->to_fd = to_fd;
  s->from_fd = from_fd;
  return s;
}

CairnPullTransport *
_cairn_pull_transport_ssh_new (const char *url, CairnRemote *remote, const CairnPullOptions *opts,
                               GError **error)
{
  g_autoptr (GPtrArray) argv
      = _cairn_ssh_argv (url, remote, opts->ssh_command, opts->remote_cairn, NULL, NULL, error);
  if (!argv)
    return NULL;
  Ssh *s = ssh_alloc (url, -1, -1);
  if (!g_spawn_async_with_pipes (NULL, (char **)argv->pdata, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &s->pid, &s->to_fd, &s->from_fd, NULL, error)
      || !handshake (s, error))
    {
      cairn_prefix_error (error, "%s: running %s", url, (char *)argv->pdata[0]);
      ssh_free (&s->base);
      return NULL;
    }
  return &s->base;
}

/* The transport over descriptors that are already open (no ssh process):
 * the fuzz targets of tests/fuzz/ feed it a recorded server stream. */
CairnPullTransport *
_cairn_pull_transport_ssh_new_fds (const char *desc, int to_fd, int from_fd, GError **error)
{
  Ssh *s = ssh_alloc (desc, to_fd, from_fd);
  if (!handshake (s, error))
    {
      ssh_free (&s->base);
      return NULL;
    }
  return &s->base;
}
