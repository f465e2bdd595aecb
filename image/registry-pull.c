/* `cairn pull docker://…`: an image from a registry into the store.
 *
 * 1. The manifest is fetched by tag or digest (at most 4 MiB, its digest
 *    checked); an image index or manifest list is resolved to the
 *    platform asked for (linux/<host arch> by default) and that manifest
 *    fetched by digest. When the branch's commit records the same source
 *    and manifest digest, the pull ends here: nothing changed.
 * 2. The config blob is fetched and checked against its descriptor.
 * 3. Each layer not in the layer cache (image/layer.c) is downloaded and
 *    imported at the same time, several layers in parallel, all into one
 *    transaction: a download thread appends the blob to
 *    extensions/cairn/oci-partial/HEX (hashing every byte) while the
 *    import thread reads the same file behind it through libarchive and the
 *    tar importer. A layer's commit object is written only after the
 *    blob's size and SHA-256 matched the descriptor. A download cut by a
 *    dropped connection resumes with an HTTP Range request (a few times);
 *    a killed pull leaves the partial files, and the next pull re-reads
 *    them (locally) and asks the registry only for the rest. Layers
 *    already cached are neither fetched nor imported again.
 * 4. The layers are merged into the image's tree, the commit written with
 *    the config, the source and the manifest digest in its metadata, and the
 *    transaction committed: everything durable (one syncfs pair), then the
 *    layer refs and the branch move; then the partial files go.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/registry-private.h"
#include <openssl/evp.h>
#include <string.h>
#include <sys/file.h>

#define READ_BUF (1u << 20)
#define ATTEMPTS 4
/* After a failed import the download still runs to its end (to report a
 * digest mismatch, the likelier cause, rather than the garbage it made)
 * when no more than this is left; beyond, it is cancelled. */
#define FINISH_AFTER_FAILURE (64u << 20)
#define PARTIAL_DIR "oci-partial"
/* far more than any runtime stacks (overlayfs stops near 128) */
#define MAX_LAYERS 1024

void
cairn_registry_pull_options_init (CairnRegistryPullOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  cairn_registry_options_init (&opts->reg);
}

/* ---- one blob: the download thread and the reader behind it ------------------------- */

typedef struct
{
  CairnRegistry *reg;
  const char *digest;
  guint64 size;
  int fd;
  EVP_MD_CTX *md;
  CairnRegistryRequest *req; /* the one in flight */
  gboolean answer_started;
  guint64 skip; /* bytes of a full (200) answer that the file has already */
  GMutex lock;
  GCond cond;
  guint64 written;
  gboolean done;
  GError *error;
  gint cancel;
} Download;

static size_t
dl_write (const void *buf, size_t len, void *data)
{
  Download *d = data;
  const guint8 *p = buf;
  gsize n = len;
  if (!d->answer_started)
    {
      d->answer_started = TRUE;
      d->skip = d->req->status == 206 ? 0 : d->written;
    }
  gsize drop = MIN (n, d->skip);
  d->skip -= drop;
  p += drop;
  n -= drop;
  if (n == 0)
    return len;
  if (d->written + n > d->size)
    {
      g_mutex_lock (&d->lock);
      if (!d->error)
        d->error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                "%s: blob %s is larger than its descriptor's %" G_GUINT64_FORMAT
                                " bytes",
                                _cairn_registry_describe (d->reg), d->digest, d->size);
      g_mutex_unlock (&d->lock);
      return 0;
    }
  for (gsize off = 0; off < n;)
    {
      ssize_t w = pwrite (d->fd, p + off, n - off, (off_t)(d->written + off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          g_mutex_lock (&d->lock);
          if (!d->error)
            cairn_throw_errno (&d->error, "storing blob %s", d->digest);
          g_mutex_unlock (&d->lock);
          return 0;
        }
      off += w;
    }
  EVP_DigestUpdate (d->md, p, n);
  g_mutex_lock (&d->lock);
  d->written += n;
  g_cond_broadcast (&d->cond);
  g_mutex_unlock (&d->lock);
  return len;
}

/* A 206 must start where the file ends. */
static gboolean
range_ok (Download *d, CairnRegistryRequest *req, guint64 offset, GError **error)
{
  const char *cr = _cairn_registry_response_header (req, "content-range");
  guint64 start = 0;
  if (req->status != 206)
    return TRUE;
  if (cr && sscanf (cr, "bytes %" G_GUINT64_FORMAT "-", &start) == 1 && start == offset)
    return TRUE;
  return cairn_throw_code (
      error, G_IO_ERROR_INVALID_DATA,
      "%s: blob %s: a range answer that does not start at byte %" G_GUINT64_FORMAT,
      _cairn_registry_describe (d->reg), d->digest, offset);
}

/* One GET of what the file lacks. TRUE when the blob is complete; FALSE
 * with *out_retry when another attempt may finish it. */
static gboolean
dl_attempt (Download *d, gboolean *out_retry, GError **error)
{
  guint64 offset = d->written;
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (
      &req, "GET", g_strdup_printf ("/v2/%s/blobs/%s", _cairn_registry_name (d->reg), d->digest));
  if (offset > 0)
    _cairn_registry_request_add_header (&req, "Range: bytes=%" G_GUINT64_FORMAT "-", offset);
  req.write_fn = dl_write;
  req.write_data = d;
  req.cancel = &d->cancel;
  d->req = &req;
  d->answer_started = FALSE;
  d->skip = 0;
  *out_retry = FALSE;
  g_autoptr (GError) local = NULL;
  gboolean ok = _cairn_registry_perform (d->reg, &req, &local);
  d->req = NULL;
  if (d->error || g_atomic_int_get (&d->cancel))
    return FALSE;
  if (!ok)
    {
      *out_retry = !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
    }
  if (req.status != 200 && req.status != 206)
    {
      *out_retry = req.status >= 500 || req.status == 408 || req.status == 429;
      g_autofree char *what = g_strdup_printf ("blob %s", d->digest);
      return _cairn_registry_throw_status (d->reg, &req, what, error);
    }
  if (!range_ok (d, &req, offset, error))
    return FALSE;
  if (d->written == d->size)
    return TRUE;
  *out_retry = TRUE;
  return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT,
                           "%s: blob %s: the connection closed after %" G_GUINT64_FORMAT
                           " of %" G_GUINT64_FORMAT " bytes",
                           _cairn_registry_describe (d->reg), d->digest, d->written, d->size);
}

static gboolean
dl_verify (Download *d, GError **error)
{
  guint8 raw[32];
  char hex[65];
  EVP_DigestFinal_ex (d->md, raw, NULL);
  cairn_checksum_to_hex (raw, hex);
  if (strcmp (hex, _cairn_digest_hex (d->digest, NULL)) == 0)
    return TRUE;
  return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                           "%s: blob %s: digest mismatch (content hashes to sha256:%s)",
                           _cairn_registry_describe (d->reg), d->digest, hex);
}

static gpointer
dl_thread (gpointer data)
{
  Download *d = data;
  GError *error = NULL;
  gboolean ok = d->written == d->size;
  for (guint attempt = 0; !ok && attempt < ATTEMPTS; attempt++)
    {
      gboolean retry = FALSE;
      guint64 before = d->written;
      g_clear_error (&error);
      ok = dl_attempt (d, &retry, &error);
      /* a stall is retried once only: a registry that accepts and never
       * answers is not going to answer the fourth time */
      if (!ok
          && (!retry
              || (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && d->written == before
                  && attempt > 0)))
        break;
    }
  if (ok)
    ok = dl_verify (d, &error);
  g_mutex_lock (&d->lock);
  if (!ok && !d->error)
    d->error = error ? error
                     : g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "download of %s cancelled",
                                    d->digest);
  else
    g_clear_error (&error);
  d->done = TRUE;
  g_cond_broadcast (&d->cond);
  g_mutex_unlock (&d->lock);
  return NULL;
}

typedef struct
{
  Download *d;
  guint64 off;
  guint8 *buf;
} Reader;

static la_ssize_t
reader_read (struct archive *a, void *data, const void **out_buf)
{
  Reader *rd = data;
  Download *d = rd->d;
  g_mutex_lock (&d->lock);
  while (rd->off >= d->written && !d->done)
    g_cond_wait (&d->cond, &d->lock);
  guint64 avail = d->written - rd->off;
  gboolean failed = d->error != NULL;
  g_mutex_unlock (&d->lock);
  if (avail == 0)
    {
      if (!failed)
        return 0;
      archive_set_error (a, EIO, "the download failed");
      return ARCHIVE_FATAL;
    }
  ssize_t r;
  do
    r = pread (d->fd, rd->buf, MIN (avail, READ_BUF), (off_t)rd->off);
  while (r < 0 && errno == EINTR);
  if (r <= 0)
    {
      archive_set_error (a, r < 0 ? errno : EIO, "reading the downloaded blob");
      return ARCHIVE_FATAL;
    }
  rd->off += r;
  *out_buf = rd->buf;
  return r;
}

/* ---- the partial file ------------------------------------------------------------- */

/* Open and lock extensions/cairn/oci-partial/HEX. Another pull of the same
 * layer holds the lock until it is done; the file it unlinked is not ours. */
static gboolean
partial_open (CairnRepo *repo, const char *hex, int *out_dfd, int *out_fd, GError **error)
{
  int ext = cairn_repo_extensions_dfd (repo, error);
  if (ext < 0 || !cairn_mkdirat (ext, PARTIAL_DIR, 0700, TRUE, error))
    return FALSE;
  cairn_autofd dfd = -1;
  if (!cairn_opendirat (ext, PARTIAL_DIR, FALSE, &dfd, error))
    return FALSE;
  for (;;)
    {
      cairn_autofd fd = openat (dfd, hex, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        return cairn_throw_errno (error, "%s/%s", PARTIAL_DIR, hex);
      if (flock (fd, LOCK_EX) < 0)
        return cairn_throw_errno (error, "locking %s/%s", PARTIAL_DIR, hex);
      struct stat a, b;
      if (fstat (fd, &a) == 0 && fstatat (dfd, hex, &b, AT_SYMLINK_NOFOLLOW) == 0
          && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        {
          *out_fd = cairn_steal_fd (&fd);
          *out_dfd = cairn_steal_fd (&dfd);
          return TRUE;
        }
    }
}

/* Hash what the file has (a previous pull's bytes), dropping anything past
 * the blob's size. */
static gboolean
partial_resume (Download *d, GError **error)
{
  struct stat st;
  if (fstat (d->fd, &st) < 0)
    return cairn_throw_errno (error, "stat");
  guint64 have = (guint64)st.st_size;
  if (have > d->size)
    {
      if (ftruncate (d->fd, 0) < 0)
        return cairn_throw_errno (error, "truncate");
      have = 0;
    }
  g_autofree guint8 *buf = g_malloc (READ_BUF);
  for (guint64 off = 0; off < have;)
    {
      ssize_t r = pread (d->fd, buf, MIN (READ_BUF, have - off), (off_t)off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return cairn_throw_errno (error, "reading the partial blob");
      EVP_DigestUpdate (d->md, buf, r);
      off += r;
    }
  d->written = have;
  return TRUE;
}

/* ---- one layer job ---------------------------------------------------------------- */

typedef struct Pull Pull;

typedef struct
{
  Pull *p;
  guint index;
  char *digest;
  char *diff_id; /* from the config, may be NULL */
  guint64 size;
  char *commit;
  gboolean cached;
  GError *error;
  /* the downloaded blob, deleted once the pull's transaction is committed */
  int partial_dfd, partial_fd;
} LayerJob;

struct Pull
{
  CairnRepo *repo;
  CairnTxn *txn; /* every layer and the image commit */
  const CairnRegistryPullOptions *opts;
  CairnRegistry *reg;
  CairnRegistryRef ref;
  GPtrArray *jobs; /* LayerJob* */
  GMutex lock;
  GCond cond;
  guint n_done;
  guint64 resumed_bytes; /* read from partial files instead of the network */
};

static void
job_free (LayerJob *j)
{
  cairn_close_fdp (&j->partial_fd);
  cairn_close_fdp (&j->partial_dfd);
  g_free (j->digest);
  g_free (j->diff_id);
  g_free (j->commit);
  g_clear_error (&j->error);
  g_free (j);
}

typedef struct
{
  Download *d;
  const char *diff_id;
} Verify;

static gboolean
verify_layer (gpointer data, char **out_diff_id, GError **error)
{
  Verify *v = data;
  Download *d = v->d;
  g_mutex_lock (&d->lock);
  while (!d->done)
    g_cond_wait (&d->cond, &d->lock);
  g_mutex_unlock (&d->lock);
  if (d->error)
    return g_propagate_error (error, g_error_copy (d->error)), FALSE;
  *out_diff_id = g_strdup (v->diff_id);
  return TRUE;
}

/* After a failed import: the download's own error is the cause when there
 * is one (a digest mismatch makes garbage, a failed download a truncated
 * stream); TRUE when it replaced @error. */
static gboolean
root_cause (Download *d, GError **error)
{
  gboolean replaced = FALSE;
  g_mutex_lock (&d->lock);
  if (!d->done && d->size - d->written > FINISH_AFTER_FAILURE)
    g_atomic_int_set (&d->cancel, 1);
  while (!d->done)
    g_cond_wait (&d->cond, &d->lock);
  if (d->error && !g_error_matches (d->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (error);
      g_propagate_error (error, g_error_copy (d->error));
      replaced = TRUE;
    }
  g_mutex_unlock (&d->lock);
  return replaced;
}

static gboolean
fetch_and_import (LayerJob *j, int fd, char **out_commit, GError **error)
{
  Pull *p = j->p;
  Download d = { .reg = p->reg, .digest = j->digest, .size = j->size, .fd = fd };
  g_mutex_init (&d.lock);
  g_cond_init (&d.cond);
  d.md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (d.md, cairn_sha256 (), NULL);
  gboolean ok = partial_resume (&d, error);
  if (ok)
    {
      __atomic_add_fetch (&p->resumed_bytes, d.written, __ATOMIC_RELAXED);
      GThread *t = g_thread_new ("cairn-blob", dl_thread, &d);
      Reader rd = { .d = &d, .buf = g_malloc (READ_BUF) };
      Verify v = { .d = &d, .diff_id = j->diff_id };
      g_autoptr (CairnArchive) a = cairn_tar_reader_new ();
      ok = archive_read_open (a, &rd, NULL, reader_read, NULL) == ARCHIVE_OK;
      if (!ok)
        cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "layer %s: %s", j->digest,
                          archive_error_string (a));
      ok = ok
           && _cairn_layer_import (p->txn, a, j->digest, verify_layer, &v, 0, out_commit, NULL,
                                   error);
      if (!ok && !root_cause (&d, error))
        cairn_prefix_error (error, "%s", _cairn_registry_describe (p->reg));
      g_thread_join (t);
      g_free (rd.buf);
    }
  EVP_MD_CTX_free (d.md);
  g_clear_error (&d.error);
  g_mutex_clear (&d.lock);
  g_cond_clear (&d.cond);
  return ok;
}

/* Delete a partial file if its name is still that file (another pull may
 * have replaced it since). */
static void
partial_remove (int dfd, const char *hex, int fd)
{
  struct stat a, b;
  if (fstat (fd, &a) == 0 && fstatat (dfd, hex, &b, AT_SYMLINK_NOFOLLOW) == 0
      && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    (void)unlinkat (dfd, hex, 0);
}

static gboolean
layer_run (LayerJob *j, GError **error)
{
  Pull *p = j->p;
  if ((j->commit = _cairn_layer_cache_lookup (p->repo, j->digest)))
    return j->cached = TRUE;
  const char *hex = _cairn_digest_hex (j->digest, error);
  cairn_autofd dfd = -1, fd = -1;
  if (!hex || !partial_open (p->repo, hex, &dfd, &fd, error))
    return FALSE;
  if ((j->commit = _cairn_layer_cache_lookup (p->repo, j->digest)))
    return j->cached = TRUE; /* another pull finished it meanwhile */
  g_autoptr (GError) local = NULL;
  gboolean ok = fetch_and_import (j, fd, &j->commit, &local);
  /* The lock is not held until the transaction commits: two pulls that
   * share layers would wait for each other. Another pull that takes the
   * file meanwhile reads it whole (no download) and imports it again. */
  (void)flock (fd, LOCK_UN);
  if (ok)
    {
      /* kept until the layer is durable: a pull killed before that reads
       * the blob from here again instead of downloading it */
      j->partial_dfd = cairn_steal_fd (&dfd);
      j->partial_fd = cairn_steal_fd (&fd);
      return TRUE;
    }
  /* Keep the bytes of a download to resume, not wrong bytes or a layer that
   * cannot be imported. */
  gboolean resumable = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT)
                       || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                       || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_FAILED)
                       || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (!resumable)
    partial_remove (dfd, hex, fd);
  return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
}

static void
layer_job (gpointer data, gpointer user_data)
{
  LayerJob *j = data;
  Pull *p = j->p;
  GError *error = NULL;
  if (!layer_run (j, &error))
    j->error = error;
  g_mutex_lock (&p->lock);
  p->n_done++;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

/* ---- manifests -------------------------------------------------------------------- */

static gboolean
is_index (const char *media_type, GVariant *doc)
{
  if (media_type
      && (strcmp (media_type, CAIRN_OCI_INDEX_TYPE) == 0
          || strcmp (media_type, CAIRN_DOCKER_LIST_TYPE) == 0))
    return TRUE;
  g_autoptr (GVariant) m = cairn_json_get (doc, "manifests", G_VARIANT_TYPE ("av"));
  g_autoptr (GVariant) l = cairn_json_get (doc, "layers", G_VARIANT_TYPE ("av"));
  return m && !l;
}

/* The image manifest for the platform asked for, with its digest. */
static GVariant *
resolve_manifest (Pull *p, char **out_digest, GError **error)
{
  g_autofree char *want = g_strdup (p->ref.digest ? p->ref.digest : p->ref.tag);
  for (int depth = 0; depth < 3; depth++)
    {
      g_autoptr (GBytes) data = NULL;
      g_autofree char *mt = NULL, *digest = NULL;
      if (!_cairn_registry_get_manifest (p->reg, want, &data, &mt, &digest, error))
        return NULL;
      g_autoptr (GVariant) doc = cairn_json_parse (data, "manifest", error);
      if (!doc)
        return cairn_prefix_error (error, "%s", _cairn_registry_describe (p->reg)), NULL;
      guint64 schema = 0;
      if (!cairn_json_get_uint (doc, "schemaVersion", &schema) || schema != 2)
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "%s: manifest %s: schema version %" G_GUINT64_FORMAT
                                 " is not supported (only OCI and Docker schema 2)",
                                 _cairn_registry_describe (p->reg), want, schema),
               NULL;
      if (!is_index (mt, doc))
        {
          *out_digest = g_steal_pointer (&digest);
          return g_steal_pointer (&doc);
        }
      g_autoptr (GVariant) desc
          = _cairn_oci_select_descriptor (doc, NULL, p->opts->platform, error);
      g_autofree char *next = desc ? cairn_json_dup_string (desc, "digest") : NULL;
      if (!desc)
        return cairn_prefix_error (error, "%s", _cairn_registry_describe (p->reg)), NULL;
      if (!_cairn_digest_hex (next, error))
        return NULL;
      g_free (want);
      want = g_steal_pointer (&next);
    }
  return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: image indexes nested too deeply",
                           _cairn_registry_describe (p->reg)),
         NULL;
}

static gboolean
layer_type_ok (const char *mt)
{
  static const char *const ok[] = { CAIRN_OCI_LAYER_TYPE, CAIRN_OCI_LAYER_TYPE "+gzip",
                                    CAIRN_OCI_LAYER_TYPE "+zstd", CAIRN_DOCKER_LAYER_TYPE, NULL };
  return !mt || g_strv_contains (ok, mt);
}

/* Layer jobs from the manifest, with the config's diff_ids. */
static gboolean
plan_layers (Pull *p, GVariant *manifest, GVariant *config, GError **error)
{
  g_autoptr (GVariant) arr = cairn_json_get (manifest, "layers", G_VARIANT_TYPE ("av"));
  g_autoptr (GPtrArray) layers = cairn_json_objects (arr);
  g_autoptr (GVariant) rootfs = cairn_json_get (config, "rootfs", G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) diff_ids = cairn_json_strv (rootfs, "diff_ids");
  if (layers->len == 0 || layers->len > MAX_LAYERS)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: the manifest has %u layers",
                             _cairn_registry_describe (p->reg), layers->len);
  if (diff_ids && g_variant_n_children (diff_ids) != layers->len)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: the config lists %" G_GSIZE_FORMAT " diff_ids for %u layers",
                             _cairn_registry_describe (p->reg), g_variant_n_children (diff_ids),
                             layers->len);
  for (guint i = 0; i < layers->len; i++)
    {
      LayerJob *j = g_new0 (LayerJob, 1);
      j->p = p;
      j->partial_dfd = j->partial_fd = -1;
      j->index = i;
      g_ptr_array_add (p->jobs, j);
      j->digest = cairn_json_dup_string (layers->pdata[i], "digest");
      g_autofree char *mt = cairn_json_dup_string (layers->pdata[i], "mediaType");
      if (!_cairn_digest_hex (j->digest, error)
          || !cairn_json_get_uint (layers->pdata[i], "size", &j->size))
        return cairn_prefix_error (error, "%s: layer %u", _cairn_registry_describe (p->reg), i + 1);
      if (!layer_type_ok (mt))
        return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                                 "%s: layer %s has media type %s (not a tar layer cairn reads)",
                                 _cairn_registry_describe (p->reg), j->digest, mt);
      if (diff_ids)
        g_variant_get_child (diff_ids, i, "s", &j->diff_id);
    }
  return TRUE;
}

static GVariant *
fetch_config (Pull *p, GVariant *manifest, char **out_digest, GError **error)
{
  g_autoptr (GVariant) desc = cairn_json_get (manifest, "config", G_VARIANT_TYPE_VARDICT);
  g_autofree char *digest = cairn_json_dup_string (desc, "digest");
  guint64 size = 0;
  if (!_cairn_digest_hex (digest, error) || !cairn_json_get_uint (desc, "size", &size))
    return cairn_prefix_error (error, "%s: config", _cairn_registry_describe (p->reg)), NULL;
  g_autoptr (GBytes) bytes
      = _cairn_registry_get_small_blob (p->reg, digest, size, CAIRN_REGISTRY_CONFIG_MAX, error);
  if (!bytes)
    return NULL;
  g_autoptr (GVariant) config = cairn_json_parse (bytes, "image config", error);
  if (!config || !g_variant_is_of_type (config, G_VARIANT_TYPE_VARDICT))
    return cairn_prefix_error (error, "%s", _cairn_registry_describe (p->reg)), NULL;
  *out_digest = g_steal_pointer (&digest);
  return g_steal_pointer (&config);
}

/* ---- running the layers ---------------------------------------------------------- */

static gboolean
run_layers (Pull *p, GError **error)
{
  guint n = p->opts->jobs ? p->opts->jobs : 4;
  GThreadPool *pool = g_thread_pool_new (layer_job, p, MIN (n, p->jobs->len), FALSE, NULL);
  guint64 total = 0;
  for (guint i = 0; i < p->jobs->len; i++)
    {
      total += ((LayerJob *)p->jobs->pdata[i])->size;
      g_thread_pool_push (pool, p->jobs->pdata[i], NULL);
    }
  g_mutex_lock (&p->lock);
  while (p->n_done < p->jobs->len)
    {
      gint64 until = g_get_monotonic_time () + G_TIME_SPAN_SECOND / 4;
      g_cond_wait_until (&p->cond, &p->lock, until);
      if (p->opts->progress)
        {
          g_mutex_unlock (&p->lock);
          p->opts->progress ("layers", _cairn_registry_bytes_in (p->reg) + p->resumed_bytes, total,
                             p->opts->progress_data);
          g_mutex_lock (&p->lock);
        }
    }
  g_mutex_unlock (&p->lock);
  g_thread_pool_free (pool, FALSE, TRUE);
  for (guint i = 0; i < p->jobs->len; i++)
    {
      LayerJob *j = p->jobs->pdata[i];
      if (j->error)
        {
          g_propagate_error (error, g_steal_pointer (&j->error));
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- the image commit -------------------------------------------------------------- */

static GVariant *
source_metadata (Pull *p)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_autofree char *src = cairn_registry_ref_to_string (&p->ref);
  g_variant_builder_add (&b, "{sv}", CAIRN_META_OCI_SOURCE, g_variant_new_string (src));
  g_autoptr (GPtrArray) digests = g_ptr_array_new ();
  for (guint i = 0; i < p->jobs->len; i++)
    g_ptr_array_add (digests, ((LayerJob *)p->jobs->pdata[i])->digest);
  g_variant_builder_add (
      &b, "{sv}", CAIRN_META_OCI_LAYERS,
      g_variant_new_strv ((const char *const *)digests->pdata, (gssize)digests->len));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static gboolean
commit_image (Pull *p, const char *branch, GVariant *config, const char *manifest_digest,
              const char *config_digest, char **out_commit, GError **error)
{
  CairnCommitOptions o;
  if (p->opts->commit)
    o = *p->opts->commit;
  else
    cairn_commit_options_init (&o);
  o.branch = branch;
  g_autofree char *src = cairn_registry_ref_to_string (&p->ref);
  if (!o.subject)
    o.subject = src;
  g_autofree char *parent = NULL;
  if (!cairn_commit_options_resolve_parent (p->repo, &o, &parent, error))
    return FALSE;
  g_autoptr (GVariant) extra = source_metadata (p);
  g_autoptr (GVariant) meta
      = _cairn_oci_config_metadata (&o, config, manifest_digest, config_digest, extra);
  o.extra_metadata = meta;
  g_autoptr (GPtrArray) commits = g_ptr_array_new ();
  for (guint i = 0; i < p->jobs->len; i++)
    g_ptr_array_add (commits, ((LayerJob *)p->jobs->pdata[i])->commit);
  g_autofree char *tree = NULL, *dirmeta = NULL, *commit = NULL;
  if (!_cairn_layers_merge (p->txn, commits, &tree, &dirmeta, error)
      || !cairn_txn_write_commit (p->txn, &o, parent, tree, dirmeta, &commit, error))
    return FALSE;
  /* the layer cache refs and the branch move together, once everything is
   * durable (one syncfs pair for the whole pull) */
  for (guint i = 0; i < p->jobs->len; i++)
    {
      LayerJob *j = p->jobs->pdata[i];
      g_autofree char *ref = _cairn_layer_ref (j->digest);
      if (!j->cached)
        cairn_txn_set_ref (p->txn, NULL, ref, j->commit);
    }
  cairn_txn_set_ref (p->txn, NULL, branch, commit);
  if (!cairn_txn_commit (p->txn, error))
    return FALSE;
  for (guint i = 0; i < p->jobs->len; i++)
    {
      LayerJob *j = p->jobs->pdata[i];
      if (j->partial_fd >= 0)
        partial_remove (j->partial_dfd, _cairn_digest_hex (j->digest, NULL), j->partial_fd);
    }
  *out_commit = g_steal_pointer (&commit);
  return TRUE;
}

/* The branch's commit came from this source and manifest already. */
static char *
up_to_date (Pull *p, const char *branch, const char *manifest_digest)
{
  g_autofree char *old = cairn_repo_read_ref (p->repo, NULL, branch, TRUE, NULL);
  g_auto (CairnCommit) c = { 0 };
  if (!old || !cairn_repo_load_commit (p->repo, old, &c, NULL))
    return NULL;
  const char *src = NULL, *md = NULL;
  g_autofree char *want = cairn_registry_ref_to_string (&p->ref);
  if (g_variant_lookup (c.metadata, CAIRN_META_OCI_SOURCE, "&s", &src)
      && g_variant_lookup (c.metadata, CAIRN_META_OCI_MANIFEST, "&s", &md)
      && strcmp (src, want) == 0 && strcmp (md, manifest_digest) == 0)
    return g_steal_pointer (&old);
  return NULL;
}

static gboolean
pull_run (Pull *p, const char *branch, char **out_commit, CairnRegistryStats *st, GError **error)
{
  p->reg = _cairn_registry_open (&p->ref, &p->opts->reg, "pull", error);
  if (!p->reg)
    return FALSE;
  g_autofree char *manifest_digest = NULL, *config_digest = NULL;
  g_autoptr (GVariant) manifest = resolve_manifest (p, &manifest_digest, error);
  if (!manifest)
    return FALSE;
  g_autofree char *same = up_to_date (p, branch, manifest_digest);
  if (same)
    {
      st->up_to_date = TRUE;
      *out_commit = g_steal_pointer (&same);
      return TRUE;
    }
  g_autoptr (GVariant) config = fetch_config (p, manifest, &config_digest, error);
  if (!config || !plan_layers (p, manifest, config, error))
    return FALSE;
  p->txn = cairn_txn_begin (p->repo, error);
  if (!p->txn || !run_layers (p, error))
    return FALSE;
  st->n_layers = p->jobs->len;
  for (guint i = 0; i < p->jobs->len; i++)
    st->n_layers_cached += ((LayerJob *)p->jobs->pdata[i])->cached;
  if (p->opts->progress)
    p->opts->progress ("commit", 0, 0, p->opts->progress_data);
  return commit_image (p, branch, config, manifest_digest, config_digest, out_commit, error);
}

gboolean
cairn_registry_pull (CairnRepo *repo, const char *reference, const CairnRegistryPullOptions *opts,
                     char **out_commit, CairnRegistryStats *out_stats, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  Pull p = { .repo = repo, .opts = opts };
  if (!cairn_registry_ref_parse (reference, &p.ref, error))
    return FALSE;
  g_autofree char *branch
      = opts->branch ? g_strdup (opts->branch) : cairn_registry_ref_default_branch (&p.ref);
  if (!cairn_validate_ref_name (branch, error))
    {
      cairn_registry_ref_clear (&p.ref);
      return cairn_prefix_error (error, "branch for %s (choose one with -b)", reference);
    }
  p.jobs = g_ptr_array_new_with_free_func ((GDestroyNotify)job_free);
  g_mutex_init (&p.lock);
  g_cond_init (&p.cond);
  CairnRegistryStats st = { 0 };
  g_autofree char *commit = NULL;
  gboolean ok = pull_run (&p, branch, &commit, &st, error);
  if (p.reg)
    st.bytes_fetched = _cairn_registry_bytes_in (p.reg);
  st.elapsed_us = g_get_monotonic_time () - start;
  g_clear_pointer (&p.reg, _cairn_registry_free);
  g_clear_pointer (&p.txn, cairn_txn_free);
  g_ptr_array_unref (p.jobs);
  g_mutex_clear (&p.lock);
  g_cond_clear (&p.cond);
  cairn_registry_ref_clear (&p.ref);
  if (!ok)
    return FALSE;
  if (out_stats)
    *out_stats = st;
  if (out_commit)
    *out_commit = g_steal_pointer (&commit);
  return TRUE;
}
