/* `cairn push REF docker://HOST/NAME:TAG`: build the commit's image
 * (image/build.c) and upload it with the distribution API's blob protocol.
 *
 * For each blob (layers, then the config): HEAD tells whether the
 * repository has it already; if another repository of the same registry
 * got it from this store before (extensions/cairn/oci-blob-locations, one
 * "DIGEST HOST/NAME" line per blob pushed), a cross-repository mount
 * (POST …/blobs/uploads/?mount=DIGEST&from=OTHER) makes the registry link
 * it without a byte sent; otherwise an upload session is opened and the
 * blob sent in one PUT (monolithic) or, when larger than the chunk size, in
 * PATCH requests of that size each (chunked) closed by a PUT with the
 * digest. The manifest goes last, so the tag appears only once everything
 * it names is there; the registry's Docker-Content-Digest must be ours.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/registry-private.h"
#include <string.h>

#define DEFAULT_CHUNK (64u << 20)
#define LOCATIONS "oci-blob-locations"
#define LOCATIONS_MAX (4u << 20)

void
cairn_registry_push_options_init (CairnRegistryPushOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  cairn_registry_options_init (&opts->reg);
  opts->build.compress = CAIRN_EXPORT_COMPRESS_GZIP;
}

typedef struct
{
  CairnRepo *repo;
  const CairnRegistryPushOptions *opts;
  CairnRegistry *reg;
  CairnRegistryRef ref;
  GHashTable *locations; /* digest -> GPtrArray of "HOST/NAME" */
  CairnRegistryStats *st;
} Push;

/* ---- where blobs were pushed before ------------------------------------------------- */

static void
load_locations (Push *p)
{
  p->locations
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  int ext = cairn_repo_extensions_dfd (p->repo, NULL);
  g_autoptr (GBytes) b
      = ext >= 0 ? cairn_file_get_contents_at (ext, LOCATIONS, LOCATIONS_MAX, NULL) : NULL;
  if (!b)
    return;
  g_autofree char *text = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 2);
      if (!f[0] || !f[1] || !_cairn_digest_hex (f[0], NULL))
        continue;
      GPtrArray *where = g_hash_table_lookup (p->locations, f[0]);
      if (!where)
        {
          where = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (p->locations, g_strdup (f[0]), where);
        }
      g_ptr_array_add (where, g_strdup (f[1]));
    }
}

/* Remember that HOST/NAME has these blobs (best effort: only mounts
 * depend on it, and a wrong entry costs one refused mount). */
static void
save_locations (Push *p, CairnImage *img)
{
  int ext = cairn_repo_extensions_dfd (p->repo, NULL);
  if (ext < 0)
    return;
  struct stat st;
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
  if (fstatat (ext, LOCATIONS, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size > LOCATIONS_MAX)
    flags |= O_TRUNC;
  cairn_autofd fd = openat (ext, LOCATIONS, flags, 0644);
  if (fd < 0)
    return;
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < img->layers->len; i++)
    g_string_append_printf (s, "%s %s/%s\n", ((CairnImageBlob *)img->layers->pdata[i])->digest,
                            p->ref.host, p->ref.name);
  g_string_append_printf (s, "%s %s/%s\n", img->config->digest, p->ref.host, p->ref.name);
  (void)cairn_write_all (fd, s->str, s->len, NULL);
}

/* Another repository of this registry that got @digest from us. */
static const char *
mount_source (Push *p, const char *digest)
{
  GPtrArray *where = g_hash_table_lookup (p->locations, digest);
  gsize hl = strlen (p->ref.host);
  for (guint i = 0; where && i < where->len; i++)
    {
      const char *w = where->pdata[i];
      if (strncmp (w, p->ref.host, hl) == 0 && w[hl] == '/'
          && strcmp (w + hl + 1, p->ref.name) != 0)
        return w + hl + 1;
    }
  return NULL;
}

/* ---- blobs --------------------------------------------------------------------------- */

static gboolean
blob_present (Push *p, const CairnImageBlob *b, gboolean *out, GError **error)
{
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "HEAD",
                                g_strdup_printf ("/v2/%s/blobs/%s", p->ref.name, b->digest));
  if (!_cairn_registry_perform (p->reg, &req, error))
    return FALSE;
  if (req.status != 200 && req.status != 404)
    {
      g_autofree char *what = g_strdup_printf ("HEAD blob %s", b->digest);
      return _cairn_registry_throw_status (p->reg, &req, what, error);
    }
  *out = req.status == 200;
  return TRUE;
}

static char *
location (Push *p, CairnRegistryRequest *req, const char *what, GError **error)
{
  const char *loc = _cairn_registry_response_header (req, "location");
  if (!loc || !*loc)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s: no Location in the answer",
                             _cairn_registry_describe (p->reg), what),
           NULL;
  return g_strdup (loc);
}

/* Open an upload session (or mount the blob: then *out_url is NULL). */
static gboolean
start_upload (Push *p, const CairnImageBlob *b, char **out_url, GError **error)
{
  const char *from = mount_source (p, b->digest);
  g_autofree char *url = NULL;
  if (from)
    {
      g_autofree char *scope = g_strdup_printf ("repository:%s:pull", from);
      _cairn_registry_add_scope (p->reg, scope);
      url = g_strdup_printf ("/v2/%s/blobs/uploads/?mount=%s&from=%s", p->ref.name, b->digest,
                             from);
    }
  else
    url = g_strdup_printf ("/v2/%s/blobs/uploads/", p->ref.name);
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "POST", g_steal_pointer (&url));
  req.max_body = 64 << 10;
  if (!_cairn_registry_perform (p->reg, &req, error))
    return FALSE;
  g_autofree char *what = g_strdup_printf ("upload of blob %s", b->digest);
  if (from && req.status == 201)
    {
      p->st->n_blobs_mounted++;
      *out_url = NULL;
      return TRUE;
    }
  if (req.status != 202)
    return _cairn_registry_throw_status (p->reg, &req, what, error);
  *out_url = location (p, &req, what, error);
  return *out_url != NULL;
}

static char *
with_digest (const char *url, const char *digest)
{
  char *esc = curl_easy_escape (NULL, digest, 0);
  char *u = g_strdup_printf ("%s%cdigest=%s", url, strchr (url, '?') ? '&' : '?', esc);
  curl_free (esc);
  return u;
}

static void
set_body (CairnRegistryRequest *req, const CairnImageBlob *b, guint64 off, guint64 len)
{
  if (b->data)
    {
      req->body = (const guint8 *)g_bytes_get_data (b->data, NULL) + off;
      req->body_len = len;
    }
  else
    {
      req->body_fd = b->fd;
      req->body_off = off;
      req->body_size = len;
    }
  _cairn_registry_request_add_header (req, "Content-Type: application/octet-stream");
}

static gboolean
send_chunks (Push *p, const CairnImageBlob *b, guint64 chunk, char **url, GError **error)
{
  for (guint64 off = 0; off < b->size; off += chunk)
    {
      guint64 n = MIN (chunk, b->size - off);
      g_auto (CairnRegistryRequest) req = { 0 };
      _cairn_registry_request_init (&req, "PATCH", g_strdup (*url));
      req.max_body = 64 << 10;
      set_body (&req, b, off, n);
      _cairn_registry_request_add_header (
          &req, "Content-Range: %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, off, off + n - 1);
      if (!_cairn_registry_perform (p->reg, &req, error))
        return FALSE;
      g_autofree char *what
          = g_strdup_printf ("chunk at %" G_GUINT64_FORMAT " of blob %s", off, b->digest);
      if (req.status != 202)
        return _cairn_registry_throw_status (p->reg, &req, what, error);
      char *next = location (p, &req, what, error);
      if (!next)
        return FALSE;
      g_free (*url);
      *url = next;
    }
  return TRUE;
}

static gboolean
upload_blob (Push *p, const CairnImageBlob *b, GError **error)
{
  g_autofree char *url = NULL;
  if (!start_upload (p, b, &url, error))
    return FALSE;
  if (!url)
    return TRUE; /* mounted */
  guint64 chunk = p->opts->chunk_size ? p->opts->chunk_size : DEFAULT_CHUNK;
  gboolean chunked = b->size > chunk;
  if (chunked && !send_chunks (p, b, chunk, &url, error))
    return FALSE;
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "PUT", with_digest (url, b->digest));
  req.max_body = 64 << 10;
  if (!chunked)
    set_body (&req, b, 0, b->size);
  if (!_cairn_registry_perform (p->reg, &req, error))
    return FALSE;
  if (req.status != 201)
    {
      g_autofree char *what = g_strdup_printf ("upload of blob %s", b->digest);
      return _cairn_registry_throw_status (p->reg, &req, what, error);
    }
  p->st->n_blobs_uploaded++;
  return TRUE;
}

static gboolean
push_blob (Push *p, const CairnImageBlob *b, GError **error)
{
  gboolean present = FALSE;
  if (!blob_present (p, b, &present, error))
    return FALSE;
  if (present)
    {
      p->st->n_blobs_present++;
      return TRUE;
    }
  return upload_blob (p, b, error);
}

static gboolean
put_manifest (Push *p, CairnImage *img, GError **error)
{
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "PUT",
                                g_strdup_printf ("/v2/%s/manifests/%s", p->ref.name, p->ref.tag));
  req.max_body = 64 << 10;
  req.body = g_bytes_get_data (img->manifest->data, &req.body_len);
  _cairn_registry_request_add_header (&req, "Content-Type: %s", img->manifest->media_type);
  if (!_cairn_registry_perform (p->reg, &req, error))
    return FALSE;
  if (req.status != 201)
    return _cairn_registry_throw_status (p->reg, &req, "manifest", error);
  const char *d = _cairn_registry_response_header (&req, "docker-content-digest");
  if (d && strcmp (d, img->manifest->digest) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: the registry stored the manifest as %s, not %s",
                             _cairn_registry_describe (p->reg), d, img->manifest->digest);
  return TRUE;
}

static gboolean
push_run (Push *p, const char *rev, char **out_digest, GError **error)
{
  p->reg = _cairn_registry_open (&p->ref, &p->opts->reg, "pull,push", error);
  if (!p->reg)
    return FALSE;
  if (p->opts->progress)
    p->opts->progress ("building", 0, 0, p->opts->progress_data);
  g_autoptr (CairnImage) img = cairn_image_build (p->repo, rev, &p->opts->build, error);
  if (!img)
    return FALSE;
  load_locations (p);
  guint n = img->layers->len + 1;
  for (guint i = 0; i < n; i++)
    {
      const CairnImageBlob *b = i < img->layers->len ? img->layers->pdata[i] : img->config;
      if (p->opts->progress)
        p->opts->progress ("blobs", i, n, p->opts->progress_data);
      if (!push_blob (p, b, error))
        return FALSE;
    }
  if (!put_manifest (p, img, error))
    return FALSE;
  save_locations (p, img);
  *out_digest = g_strdup (img->manifest->digest);
  return TRUE;
}

gboolean
cairn_registry_push (CairnRepo *repo, const char *rev, const char *reference,
                     const CairnRegistryPushOptions *opts, char **out_digest,
                     CairnRegistryStats *out_stats, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  CairnRegistryStats st = { 0 };
  Push p = { .repo = repo, .opts = opts, .st = &st };
  if (!cairn_registry_ref_parse (reference, &p.ref, error))
    return FALSE;
  g_autofree char *digest = NULL;
  gboolean ok = TRUE;
  if (p.ref.digest)
    ok = cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                           "%s: push to a tag (NAME:TAG), not to a digest", reference);
  ok = ok && push_run (&p, rev, &digest, error);
  if (p.reg)
    {
      st.bytes_fetched = _cairn_registry_bytes_in (p.reg);
      st.bytes_sent = _cairn_registry_bytes_out (p.reg);
    }
  g_clear_pointer (&p.reg, _cairn_registry_free);
  g_clear_pointer (&p.locations, g_hash_table_unref);
  cairn_registry_ref_clear (&p.ref);
  st.elapsed_us = g_get_monotonic_time () - start;
  if (!ok)
    return FALSE;
  if (out_stats)
    *out_stats = st;
  if (out_digest)
    *out_digest = g_steal_pointer (&digest);
  return TRUE;
}
