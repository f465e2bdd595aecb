/* The pull sink: every object that arrives is verified against its name and
 * written into a transaction; the transaction is published in batches.
 *
 * Why batches (docs/format.md §9, §7.8): a transaction's objects live in a staging
 * directory that a killed process loses. Publishing every 500 objects or
 * every second (CAIRN_PULL_BATCH_OBJECTS, CAIRN_PULL_BATCH_SECONDS) bounds what a kill -9 costs,
 * and is safe because the commit being pulled stays marked partial (state/<commit>.commitpartial)
 * and no ref moves until the whole tree is present. Content is verified and
 * written by a small worker pool (inflate + SHA-256 + write is CPU-bound);
 * before a batch is published the pool is drained, so no worker ever writes
 * into a transaction being committed.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <openssl/evp.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

/* Small enough that a kill -9 costs at most a second or a few hundred
 * objects of work (a 2,286-object pull killed at 1,691 kept nothing with
 * the former 20,000 / 10 s); each batch costs two syncfs() (store/txn.c),
 * a few milliseconds on an idle filesystem. */
#define DEFAULT_BATCH_OBJECTS 500
#define DEFAULT_BATCH_SECONDS 1
#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 5)
/* Beyond these a transport should stop fetching content until the workers
 * catch up: they bound the memory of a fast network and slow disk. */
#define SINK_MAX_PENDING_JOBS 512
/* Larger .filez objects are inflated in a streaming way (store_large_filez). */
#define INFLATE_IN_MEMORY_MAX (8u << 20)
#define SINK_MAX_PENDING_BYTES (8u << 20)

struct CairnPullSink
{
  CairnRepo *repo;
  CairnTxn *txn;
  CairnPullStats *stats;
  const CairnPullOptions *opts;
  GThreadPool *pool;
  GMutex mu;
  GCond cond;
  guint pending;
  guint64 pending_bytes; /* object data held by queued content jobs */
  GError *job_error;
  guint batch_objects;
  gint64 batch_us;
  guint since_checkpoint;
  gint64 checkpoint_time;
  gint64 start_time;
  gint64 last_progress;
};

typedef struct
{
  CairnPullJobFunc fn;
  gpointer data;
  GDestroyNotify free_data;
} Job;

static guint
env_uint (const char *name, guint dflt)
{
  const char *s = g_getenv (name);
  guint64 v;
  if (s && g_ascii_string_to_unsigned (s, 10, 1, G_MAXUINT, &v, NULL))
    return (guint)v;
  return dflt;
}

static void
run_job (gpointer data, gpointer user_data)
{
  Job *job = data;
  CairnPullSink *sink = user_data;
  g_autoptr (GError) local = NULL;
  gboolean skip;
  g_mutex_lock (&sink->mu);
  skip = sink->job_error != NULL;
  g_mutex_unlock (&sink->mu);
  gboolean ok = skip || job->fn (sink, job->data, &local);
  if (job->free_data)
    job->free_data (job->data);
  g_free (job);
  g_mutex_lock (&sink->mu);
  if (!ok && !sink->job_error)
    sink->job_error = g_steal_pointer (&local);
  sink->pending--;
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->mu);
}

CairnPullSink *
_cairn_pull_sink_new (CairnRepo *repo, CairnPullStats *stats, const CairnPullOptions *opts,
                      GError **error)
{
  g_autoptr (CairnPullSink) sink = g_new0 (CairnPullSink, 1);
  sink->repo = repo;
  sink->stats = stats;
  sink->opts = opts;
  g_mutex_init (&sink->mu);
  g_cond_init (&sink->cond);
  sink->batch_objects = env_uint ("CAIRN_PULL_BATCH_OBJECTS", DEFAULT_BATCH_OBJECTS);
  sink->batch_us
      = (gint64)env_uint ("CAIRN_PULL_BATCH_SECONDS", DEFAULT_BATCH_SECONDS) * G_USEC_PER_SEC;
  sink->start_time = sink->checkpoint_time = g_get_monotonic_time ();
  /* One worker more than CPUs: a worker waiting in the kernel (a directory
   * or journal lock while linking, a page being read) leaves its CPU to the
   * extra one (a local pull of a minimal Debian on 2 CPUs: 3 workers
   * 0.24-0.26 s against 0.25-0.28 s with 2). */
  guint n = env_uint ("CAIRN_PULL_THREADS", CLAMP (g_get_num_processors () + 1, 2, 9));
  sink->pool = g_thread_pool_new (run_job, sink, n, FALSE, error);
  if (!sink->pool)
    return NULL;
  sink->txn = cairn_txn_begin (repo, error);
  if (!sink->txn)
    return NULL;
  return g_steal_pointer (&sink);
}

void
_cairn_pull_sink_queue_job (CairnPullSink *sink, CairnPullJobFunc fn, gpointer data,
                            GDestroyNotify free_data)
{
  Job *job = g_new0 (Job, 1);
  job->fn = fn;
  job->data = data;
  job->free_data = free_data;
  g_mutex_lock (&sink->mu);
  sink->pending++;
  sink->since_checkpoint++;
  g_mutex_unlock (&sink->mu);
  g_thread_pool_push (sink->pool, job, NULL);
}

gboolean
_cairn_pull_sink_drain (CairnPullSink *sink, GError **error)
{
  g_mutex_lock (&sink->mu);
  while (sink->pending > 0)
    g_cond_wait (&sink->cond, &sink->mu);
  GError *e = sink->job_error ? g_error_copy (sink->job_error) : NULL;
  g_mutex_unlock (&sink->mu);
  if (e)
    {
      g_propagate_error (error, e);
      return FALSE;
    }
  return TRUE;
}

void
_cairn_pull_sink_wait_pending_below (CairnPullSink *sink, guint n)
{
  g_mutex_lock (&sink->mu);
  while (sink->pending >= n && !sink->job_error)
    g_cond_wait (&sink->cond, &sink->mu);
  g_mutex_unlock (&sink->mu);
}

gboolean
_cairn_pull_sink_failed (CairnPullSink *sink)
{
  g_mutex_lock (&sink->mu);
  gboolean failed = sink->job_error != NULL;
  g_mutex_unlock (&sink->mu);
  return failed;
}

guint
_cairn_pull_sink_pending (CairnPullSink *sink)
{
  g_mutex_lock (&sink->mu);
  guint n = sink->pending;
  g_mutex_unlock (&sink->mu);
  return n;
}

gboolean
_cairn_pull_sink_backlogged (CairnPullSink *sink)
{
  g_mutex_lock (&sink->mu);
  gboolean full
      = sink->pending > SINK_MAX_PENDING_JOBS || sink->pending_bytes > SINK_MAX_PENDING_BYTES;
  g_mutex_unlock (&sink->mu);
  return full;
}

/* Publish the current batch and start a new one. Objects that failed
 * verification were never written, so whatever is staged is good even when
 * a job failed: it is published either way, then the job's error returned. */
gboolean
_cairn_pull_sink_checkpoint (CairnPullSink *sink, GError **error)
{
  g_autoptr (GError) job_error = NULL;
  gboolean jobs_ok = _cairn_pull_sink_drain (sink, &job_error);
  if (sink->txn && sink->since_checkpoint == 0 && jobs_ok)
    return TRUE; /* nothing staged: no syncfs, keep the transaction */
  if (sink->txn)
    {
      gboolean ok = cairn_txn_commit (sink->txn, error);
      g_clear_pointer (&sink->txn, cairn_txn_free);
      if (!ok)
        return cairn_prefix_error (error, "publishing pulled objects");
    }
  sink->since_checkpoint = 0;
  sink->checkpoint_time = g_get_monotonic_time ();
  if (!jobs_ok)
    {
      g_propagate_error (error, g_steal_pointer (&job_error));
      return FALSE;
    }
  sink->txn = cairn_txn_begin (sink->repo, error);
  return sink->txn != NULL;
}

gboolean
_cairn_pull_sink_maybe_checkpoint (CairnPullSink *sink, GError **error)
{
  if (sink->since_checkpoint < sink->batch_objects
      && g_get_monotonic_time () - sink->checkpoint_time < sink->batch_us)
    return TRUE;
  return _cairn_pull_sink_checkpoint (sink, error);
}

void
_cairn_pull_sink_free (CairnPullSink *sink)
{
  if (!sink)
    return;
  if (sink->pool)
    g_thread_pool_free (sink->pool, FALSE, TRUE);
  if (sink->txn)
    {
      /* Keep what was verified: the next pull then fetches only the rest. */
      (void)cairn_txn_commit (sink->txn, NULL);
      cairn_txn_free (sink->txn);
    }
  g_clear_error (&sink->job_error);
  g_mutex_clear (&sink->mu);
  g_cond_clear (&sink->cond);
  g_free (sink);
}

CairnTxn *
_cairn_pull_sink_txn (CairnPullSink *sink)
{
  return sink->txn;
}

CairnRepo *
_cairn_pull_sink_repo (CairnPullSink *sink)
{
  return sink->repo;
}

void
_cairn_pull_sink_add_bytes (CairnPullSink *sink, guint64 n)
{
  g_mutex_lock (&sink->mu);
  sink->stats->bytes_fetched += n;
  g_mutex_unlock (&sink->mu);
}

void
_cairn_pull_sink_count_present (CairnPullSink *sink, guint n)
{
  g_mutex_lock (&sink->mu);
  sink->stats->objects_present += n;
  g_mutex_unlock (&sink->mu);
}

void
_cairn_pull_sink_count_fetched (CairnPullSink *sink, guint64 content_bytes)
{
  g_mutex_lock (&sink->mu);
  sink->stats->objects_fetched++;
  sink->stats->content_bytes += content_bytes;
  g_mutex_unlock (&sink->mu);
}

void
_cairn_pull_sink_progress (CairnPullSink *sink, const char *phase)
{
  gint64 now = g_get_monotonic_time ();
  if (!sink->opts->progress || now - sink->last_progress < PROGRESS_INTERVAL_US)
    return;
  sink->last_progress = now;
  g_mutex_lock (&sink->mu);
  CairnPullStats copy = *sink->stats;
  g_mutex_unlock (&sink->mu);
  copy.elapsed_us = now - sink->start_time;
  copy.phase = phase;
  sink->opts->progress (&copy, sink->opts->progress_data);
}

/* ---- metadata ------------------------------------------------------------------ */

gboolean
_cairn_pull_validate_dirtree (GVariant *tree, const char *checksum, GError **error)
{
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  gsize nf = g_variant_n_children (files), nd = g_variant_n_children (dirs);
  for (gsize i = 0; i < nf + nd; i++)
    {
      g_autoptr (GVariant) e
          = g_variant_get_child_value (i < nf ? files : dirs, i < nf ? i : i - nf);
      const char *name;
      g_variant_get_child (e, 0, "&s", &name);
      if (!cairn_validate_filename (name, -1, error))
        return cairn_prefix_error (error, "dirtree %s", checksum);
      for (gsize k = 1; k < g_variant_n_children (e); k++)
        {
          g_autoptr (GVariant) c = g_variant_get_child_value (e, k);
          if (g_variant_get_size (c) != 32)
            return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                     "dirtree %s: entry '%s' has a bad checksum", checksum, name);
        }
    }
  return TRUE;
}

static gboolean
validate_metadata (CairnObjectType type, const char *checksum, GBytes *data, GError **error)
{
  const GVariantType *vt = type == CAIRN_OBJECT_DIR_TREE   ? CAIRN_DIRTREE_GVARIANT_FORMAT
                           : type == CAIRN_OBJECT_DIR_META ? CAIRN_DIRMETA_GVARIANT_FORMAT
                           : type == CAIRN_OBJECT_COMMIT   ? CAIRN_COMMIT_GVARIANT_FORMAT
                                                           : G_VARIANT_TYPE_VARDICT;
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (vt, data, FALSE));
  if (!g_variant_is_normal_form (v))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s object %s is not in normal form",
                             cairn_object_type_to_string (type), checksum);
  if (type == CAIRN_OBJECT_DIR_TREE)
    return _cairn_pull_validate_dirtree (v, checksum, error);
  if (type == CAIRN_OBJECT_DIR_META)
    return cairn_dirmeta_parse (v, NULL, NULL, NULL, NULL, error)
           || cairn_prefix_error (error, "dirmeta %s", checksum);
  if (type == CAIRN_OBJECT_COMMIT)
    {
      g_auto (CairnCommit) c = { 0 };
      return cairn_commit_parse (v, &c, error) || cairn_prefix_error (error, "commit %s", checksum);
    }
  return TRUE;
}

gboolean
_cairn_pull_verify_metadata (CairnObjectType type, const char *checksum, GBytes *data,
                             GError **error)
{
  gsize len;
  const void *p = g_bytes_get_data (data, &len);
  g_autofree char *actual = cairn_checksum_bytes (p ? p : "", len);
  if (strcmp (actual, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted %s object %s: its content hashes to %s",
                             cairn_object_type_to_string (type), checksum, actual);
  return validate_metadata (type, checksum, data, error);
}

void
_cairn_pull_sink_count_metadata (CairnPullSink *sink)
{
  g_mutex_lock (&sink->mu);
  sink->since_checkpoint++;
  g_mutex_unlock (&sink->mu);
  _cairn_pull_sink_count_fetched (sink, 0);
}

gboolean
_cairn_pull_sink_write_metadata (CairnPullSink *sink, CairnObjectType type, const char *checksum,
                                 GBytes *data, GError **error)
{
  if (!_cairn_pull_verify_metadata (type, checksum, data, error)
      || !cairn_txn_write_metadata_trusted_name (sink->txn, type, checksum, data, error))
    return FALSE;
  g_mutex_lock (&sink->mu);
  sink->since_checkpoint++;
  g_mutex_unlock (&sink->mu);
  _cairn_pull_sink_count_fetched (sink, 0);
  return TRUE;
}

/* ---- content ----------------------------------------------------------------------- */

/* libdeflate inflates in one call into a buffer of the size the header
 * announces (about twice as fast as zlib). NULL when that is not exactly
 * what the stream holds: the caller then uses zlib, whose errors are the
 * ones reported. */
static GBytes *
inflate_exact_size (const guint8 *in, gsize len, guint64 size)
{
  guint8 *out = g_malloc (MAX (size, 1));
  if (!cairn_inflate_exact (in, len, out, size))
    {
      g_free (out);
      return NULL;
    }
  return g_bytes_new_take (out, size);
}

/* Inflate a raw deflate payload; *out_exact is TRUE when the stream ends
 * exactly at the end of the input. */
static GBytes *
inflate_payload (const guint8 *in, gsize len, guint64 size_hint, gboolean *out_exact,
                 GError **error)
{
  GBytes *fast
      = size_hint <= INFLATE_IN_MEMORY_MAX ? inflate_exact_size (in, len, size_hint) : NULL;
  if (fast)
    {
      *out_exact = TRUE;
      return fast;
    }
  z_stream zs = { 0 };
  if (inflateInit2 (&zs, -15) != Z_OK)
    {
      cairn_throw (error, "inflateInit failed");
      return NULL;
    }
  gsize cap = MAX (MIN (size_hint, (guint64)64 << 20), 64) + 1;
  GByteArray *out = g_byte_array_sized_new (cap);
  g_byte_array_set_size (out, cap);
  zs.next_in = (guint8 *)in;
  zs.avail_in = len;
  gsize have = 0;
  int r;
  do
    {
      if (have == out->len)
        g_byte_array_set_size (out, out->len * 2);
      zs.next_out = out->data + have;
      zs.avail_out = out->len - have;
      r = inflate (&zs, Z_NO_FLUSH);
      have = out->len - zs.avail_out;
      if ((r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
          || (r != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out > 0))
        {
          inflateEnd (&zs);
          g_byte_array_unref (out);
          cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupt or truncated compressed data");
          return NULL;
        }
    }
  while (r != Z_STREAM_END);
  *out_exact = zs.avail_in == 0;
  inflateEnd (&zs);
  g_byte_array_set_size (out, have);
  return g_byte_array_free_to_bytes (out);
}

/* Archive destination, canonical .filez: link the verified bytes in as they
 * are (re-compressing would only burn CPU). */
static gboolean
store_filez_verbatim (CairnTxn *txn, const char *checksum, GBytes *filez, GError **error)
{
  if (cairn_repo_object_exists (cairn_txn_get_repo (txn), CAIRN_OBJECT_FILE, checksum))
    return TRUE;
  gsize len;
  const void *p = g_bytes_get_data (filez, &len);
  g_auto (CairnTmpfile) tmpf = { 0 };
  int sub = cairn_txn_subdir_fd (txn, checksum, error);
  if (sub < 0 || !cairn_tmpfile_open (cairn_txn_get_staging_dfd (txn), 0644, &tmpf, error)
      || !cairn_write_all (tmpf.fd, p, len, error))
    return FALSE;
  if (fchmod (tmpf.fd, 0644) < 0)
    return cairn_throw_errno (error, "fchmod");
  g_autofree char *leaf
      = cairn_object_leaf (checksum, CAIRN_OBJECT_FILE, cairn_txn_get_repo (txn)->mode);
  if (!cairn_tmpfile_link_at (&tmpf, CAIRN_LINK_NOREPLACE_IGNORE, sub, leaf, CAIRN_FSYNC_NONE,
                              error))
    return FALSE;
  cairn_txn_count_content_written (txn);
  return TRUE;
}

typedef struct
{
  EVP_MD_CTX *md;
  int fd; /* -1: hash only */
  guint64 total;
} LargeSink;

static int
large_sink_chunk (void *data, const void *buf, size_t len)
{
  LargeSink *ls = data;
  EVP_DigestUpdate (ls->md, buf, len);
  ls->total += len;
  return ls->fd < 0 || cairn_write_all (ls->fd, buf, len, NULL) ? 1 : 0;
}

/* A large .filez: inflated in chunks, hashed as it goes (the checksum form:
 * header, then content) and, unless the destination is an archive repo that
 * keeps the .filez as it is, written to an unlinked temporary file that the
 * ordinary verified write then stores. Memory stays bounded whatever the
 * object's size (a 50 MB apt list is common in a rootfs). */
static gboolean
store_large_filez (CairnTxn *txn, const char *checksum, GBytes *filez, const CairnFileInfo *fi,
                   const guint8 *payload, gsize plen, guint64 *out_content_bytes, GError **error)
{
  gboolean archive = cairn_txn_get_repo (txn)->mode == CAIRN_REPO_MODE_ARCHIVE;
  cairn_autofd tmp = -1;
  if (!archive)
    {
      tmp = openat (cairn_txn_get_repo (txn)->tmp_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (tmp < 0)
        tmp = memfd_create ("cairn-inflate", MFD_CLOEXEC);
      if (tmp < 0)
        return cairn_throw_errno (error, "creating a temporary file for object %s", checksum);
    }
  g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
  LargeSink ls = { EVP_MD_CTX_new (), tmp, 0 };
  EVP_DigestInit_ex (ls.md, cairn_sha256 (), NULL);
  EVP_DigestUpdate (ls.md, g_bytes_get_data (prefixed, NULL), g_bytes_get_size (prefixed));
  gboolean exact = FALSE;
  gboolean ok = cairn_inflate_each (payload, plen, large_sink_chunk, &ls, &exact, error);
  guint64 total = ls.total;
  guint8 raw[32];
  EVP_DigestFinal_ex (ls.md, raw, NULL);
  EVP_MD_CTX_free (ls.md);
  if (!ok)
    return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  char actual[65];
  cairn_checksum_to_hex (raw, actual);
  if (strcmp (actual, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted file object %s: its content hashes to %s", checksum,
                             actual);
  if (!exact || total != fi->size)
    return cairn_throw_code (
        error, G_IO_ERROR_INVALID_DATA,
        "corrupted object %s.filez: size or trailing data does not match its header", checksum);
  *out_content_bytes = total;
  if (archive)
    return store_filez_verbatim (txn, checksum, filez, error);
  if (lseek (tmp, 0, SEEK_SET) < 0)
    return cairn_throw_errno (error, "seek");
  g_autofree char *out = NULL;
  return cairn_txn_write_content (txn, fi, tmp, checksum, &out, error);
}

gboolean
_cairn_pull_store_filez (CairnTxn *txn, const char *checksum, GBytes *filez,
                         guint64 *out_content_bytes, GError **error)
{
  gsize len, off = 0;
  const guint8 *p = g_bytes_get_data (filez, &len);
  g_auto (CairnFileInfo) fi = { 0 };
  if (!cairn_parse_zheader (p, len, &fi, &off, error))
    return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  g_autofree char *out = NULL;
  if (S_ISLNK (fi.mode))
    {
      if (off != len)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "corrupted object %s.filez: data after a symlink header",
                                 checksum);
      *out_content_bytes = 0;
      return cairn_txn_write_content_bytes (txn, &fi, NULL, 0, checksum, &out, error);
    }
  if (fi.size > INFLATE_IN_MEMORY_MAX)
    return store_large_filez (txn, checksum, filez, &fi, p + off, len - off, out_content_bytes,
                              error);
  gboolean exact = FALSE;
  g_autoptr (GBytes) content = inflate_payload (p + off, len - off, fi.size, &exact, error);
  if (!content)
    return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  gsize clen;
  const void *cp = g_bytes_get_data (content, &clen);
  *out_content_bytes = clen;
  if (cairn_txn_get_repo (txn)->mode == CAIRN_REPO_MODE_ARCHIVE && exact && clen == fi.size)
    {
      g_autofree char *actual = cairn_content_checksum (&fi, cp, clen);
      if (strcmp (actual, checksum) != 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "corrupted file object %s: its content hashes to %s", checksum,
                                 actual);
      return store_filez_verbatim (txn, checksum, filez, error);
    }
  return cairn_txn_write_content_bytes (txn, &fi, cp ? cp : "", clen, checksum, &out, error);
}

typedef struct
{
  CairnPullSink *sink;
  char checksum[65];
  GBytes *bytes;
  CairnFileInfo fi;
  gboolean is_filez;
  char *what;
} ContentJob;

static ContentJob *
content_job_new (CairnPullSink *sink, const char *checksum, GBytes *bytes)
{
  ContentJob *j = g_new0 (ContentJob, 1);
  j->sink = sink;
  memcpy (j->checksum, checksum, 65);
  j->bytes = g_bytes_ref (bytes);
  g_mutex_lock (&sink->mu);
  sink->pending_bytes += g_bytes_get_size (bytes);
  g_mutex_unlock (&sink->mu);
  return j;
}

static void
content_job_free (gpointer data)
{
  ContentJob *j = data;
  g_mutex_lock (&j->sink->mu);
  j->sink->pending_bytes -= g_bytes_get_size (j->bytes);
  g_mutex_unlock (&j->sink->mu);
  g_bytes_unref (j->bytes);
  cairn_file_info_clear (&j->fi);
  g_free (j->what);
  g_free (j);
}

static gboolean
content_job_run (CairnPullSink *sink, gpointer data, GError **error)
{
  ContentJob *j = data;
  guint64 n = 0;
  gboolean ok;
  if (j->is_filez)
    ok = _cairn_pull_store_filez (sink->txn, j->checksum, j->bytes, &n, error);
  else
    {
      g_autofree char *out = NULL;
      gsize len;
      const void *p = g_bytes_get_data (j->bytes, &len);
      n = len;
      ok = cairn_txn_write_content_bytes (sink->txn, &j->fi, p ? p : "", len, j->checksum, &out,
                                          error);
    }
  if (!ok)
    return cairn_prefix_error (error, "%s", j->what);
  _cairn_pull_sink_count_fetched (sink, n);
  return TRUE;
}

void
_cairn_pull_sink_queue_filez (CairnPullSink *sink, const char *checksum, GBytes *filez,
                              const char *what)
{
  ContentJob *j = content_job_new (sink, checksum, filez);
  j->is_filez = TRUE;
  j->what = g_strdup (what);
  _cairn_pull_sink_queue_job (sink, content_job_run, j, content_job_free);
}

void
_cairn_pull_sink_queue_content (CairnPullSink *sink, const char *checksum, CairnFileInfo *fi,
                                GBytes *content, const char *what)
{
  ContentJob *j = content_job_new (sink, checksum, content);
  j->fi = *fi;
  memset (fi, 0, sizeof *fi);
  j->what = g_strdup (what);
  _cairn_pull_sink_queue_job (sink, content_job_run, j, content_job_free);
}
