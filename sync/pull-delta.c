/* Static deltas on pull (docs/format.md §11.5): which delta fits, fetching
 * its superblock and parts, and running the parts into the pull's sink.
 *
 * Which delta: the remote lists its deltas by name (FROM-TO or TO) with the
 * SHA-256 of each superblock, in delta-indexes/ (one file per target, when
 * the summary says ostree.summary.indexed-deltas) or in the summary's own
 * ostree.static-deltas; without a summary the superblock of the one delta
 * that would fit is asked for directly. A delta from a commit we hold
 * completely is taken (the one the ref points at first, else the newest);
 * a from-scratch delta only when we hold nothing for the ref, as ostree
 * does: a client a few commits behind pulls fewer bytes loose than from
 * scratch.
 *
 * Every part is checked against the checksum its header gives before it is
 * decompressed; each object a part makes is verified against its name
 * before it is written, like any pulled object. Parts whose objects are all
 * present already are not fetched, so a pull killed in the middle of a
 * delta fetches only what it lacks when re-run. Parts are decompressed and
 * run by the sink's workers while the next part downloads (xz decompression
 * is most of the work of a delta: several parts run at once on several
 * CPUs).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <openssl/evp.h>
#include <string.h>

#define MAX_INDEX_SIZE (16u << 20)
/* Parts fetched ahead of the workers: their compressed bytes are held in
 * memory until a worker takes them (a runtime's delta is gigabytes). */
#define MAX_PARTS_AHEAD 4

/* ---- which delta ----------------------------------------------------------------- */

/* name -> 32-byte digest of the deltas the remote lists for @to, or NULL
 * when it lists none (or has no summary: *out_probe). */
static GVariant *
delta_map (CairnPullSession *s, CairnPullTransport *t, const CairnSummary *summary, const char *to,
           gboolean *out_probe, GError **error)
{
  *out_probe = summary == NULL;
  if (!summary)
    return NULL;
  if (summary->indexed_deltas)
    {
      g_autofree char *rel = cairn_delta_index_relpath (to);
      g_autoptr (GBytes) b = NULL;
      if (!t->fetch_file (t, rel, MAX_INDEX_SIZE, &b, error))
        return NULL;
      if (b)
        {
          _cairn_pull_sink_add_bytes (s->sink, g_bytes_get_size (b));
          g_autoptr (GVariant) idx
              = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, b, FALSE));
          if (!g_variant_is_normal_form (idx))
            return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: not in normal form", rel),
                   NULL;
          GVariant *m
              = g_variant_lookup_value (idx, "ostree.static-deltas", G_VARIANT_TYPE_VARDICT);
          if (m)
            return m;
        }
    }
  return g_variant_lookup_value (summary->metadata, "ostree.static-deltas", G_VARIANT_TYPE_VARDICT);
}

static gboolean
complete_locally (CairnRepo *repo, const char *commit)
{
  return cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, commit)
         && !cairn_repo_commit_is_partial (repo, commit);
}

static guint64
commit_time (CairnRepo *repo, const char *commit)
{
  g_auto (CairnCommit) c = { 0 };
  return cairn_repo_load_commit (repo, commit, &c, NULL) ? c.timestamp : 0;
}

/* The delta of @map to use for @to; *out_digest its superblock digest. */
static char *
choose (CairnRepo *repo, GVariant *map, const char *have, const char *to, guint8 out_digest[32])
{
  g_autofree char *best = NULL;
  guint64 best_time = 0;
  gboolean best_is_have = FALSE, scratch = FALSE;
  GVariantIter it;
  const char *name;
  GVariant *v;
  g_variant_iter_init (&it, map);
  while (g_variant_iter_next (&it, "{&sv}", &name, &v))
    {
      g_autoptr (GVariant) val = v;
      g_autofree char *from = NULL, *t = NULL;
      if (!cairn_delta_name_parse (name, &from, &t, NULL) || strcmp (t, to) != 0)
        continue;
      if (!from)
        {
          scratch = TRUE;
          continue;
        }
      if (best_is_have || !complete_locally (repo, from))
        continue;
      guint64 ts = commit_time (repo, from);
      if (g_strcmp0 (from, have) == 0 || !best || ts > best_time)
        {
          g_free (best);
          best = g_strdup (from);
          best_time = ts;
          best_is_have = g_strcmp0 (from, have) == 0;
        }
    }
  if (!best && !(scratch && !have))
    return NULL;
  g_autofree char *chosen = cairn_delta_name (best, to);
  g_autoptr (GVariant) d = g_variant_lookup_value (map, chosen, NULL);
  if (d && g_variant_is_of_type (d, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (d);
      g_clear_pointer (&d, g_variant_unref);
      d = g_steal_pointer (&inner);
    }
  if (!d || !g_variant_is_of_type (d, G_VARIANT_TYPE_BYTESTRING) || g_variant_get_size (d) != 32)
    memset (out_digest, 0, 32);
  else
    memcpy (out_digest, g_variant_get_data (d), 32);
  return g_steal_pointer (&chosen);
}

static gboolean
fetch_superblock (CairnPullSession *s, CairnPullTransport *t, const char *source_desc,
                  const char *name, const guint8 *digest, CairnDelta **out, GError **error)
{
  g_autofree char *from = NULL, *to = NULL;
  if (!cairn_delta_name_parse (name, &from, &to, error))
    return FALSE;
  g_autofree char *rel = cairn_delta_relpath (from, to, "superblock");
  g_autoptr (GBytes) b = NULL;
  if (!t->fetch_file (t, rel, CAIRN_DELTA_MAX_SUPERBLOCK_SIZE, &b, error))
    return FALSE;
  *out = NULL;
  if (!b)
    return TRUE; /* listed but absent: loose objects, as ostree */
  _cairn_pull_sink_add_bytes (s->sink, g_bytes_get_size (b));
  static const guint8 zero[32];
  if (digest && memcmp (digest, zero, 32) != 0)
    {
      guint8 actual[32];
      EVP_Digest (g_bytes_get_data (b, NULL), g_bytes_get_size (b), actual, NULL, cairn_sha256 (),
                  NULL);
      if (memcmp (actual, digest, 32) != 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: invalid checksum for static delta %s (its superblock does "
                                 "not hash to what the remote lists)",
                                 source_desc, name);
    }
  g_autofree char *what = g_strdup_printf ("%s: static delta %s", source_desc, name);
  g_autoptr (CairnDelta) d = cairn_delta_parse (b, what, error);
  if (!d)
    return FALSE;
  if (g_strcmp0 (d->from, from) != 0 || strcmp (d->to, to) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: its superblock is for the delta %s", what, d->name);
  *out = g_steal_pointer (&d);
  return TRUE;
}

gboolean
_cairn_pull_delta_find (CairnPullSession *s, CairnPullTransport *t, const CairnSummary *summary,
                        const char *source_desc, const char *have, const char *to,
                        CairnDelta **out_delta, GError **error)
{
  gboolean probe = FALSE;
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) map = delta_map (s, t, summary, to, &probe, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  *out_delta = NULL;
  if (probe)
    {
      /* No summary to list deltas: ask for the one that would fit. */
      g_autofree char *name = cairn_delta_name (have, to);
      return fetch_superblock (s, t, source_desc, name, NULL, out_delta, error);
    }
  if (!map)
    return TRUE;
  guint8 digest[32];
  g_autofree char *name = choose (s->repo, map, have, to, digest);
  if (!name)
    return TRUE;
  return fetch_superblock (s, t, source_desc, name, digest, out_delta, error);
}

/* ---- applying -------------------------------------------------------------------- */

typedef struct
{
  CairnPullSink *sink;
  CairnRepo *repo;
  GBytes *file;
  CairnDeltaPart header; /* objects referenced */
  char *what;
} PartJob;

static void
part_job_free (gpointer data)
{
  PartJob *j = data;
  g_bytes_unref (j->file);
  g_variant_unref (j->header.objects);
  g_free (j->what);
  g_free (j);
}

static gboolean
sink_metadata (gpointer data, CairnObjectType type, const char *checksum, GBytes *bytes,
               GError **error)
{
  PartJob *j = data;
  /* A part makes tree objects; a commit in one would be stored outside the
   * pull's partial-commit bookkeeping (the target rides in the superblock). */
  if (type != CAIRN_OBJECT_DIR_TREE && type != CAIRN_OBJECT_DIR_META)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: makes a %s object (%s)", j->what,
                             cairn_object_type_to_string (type), checksum);
  if (cairn_repo_object_exists (j->repo, type, checksum))
    {
      _cairn_pull_sink_count_present (j->sink, 1);
      return TRUE;
    }
  if (!_cairn_pull_sink_write_metadata (j->sink, type, checksum, bytes, error))
    return cairn_prefix_error (error, "%s", j->what);
  return TRUE;
}

static gboolean
sink_content (gpointer data, const char *checksum, CairnFileInfo *fi, GBytes *content,
              GError **error)
{
  PartJob *j = data;
  if (cairn_repo_object_exists (j->repo, CAIRN_OBJECT_FILE, checksum))
    {
      _cairn_pull_sink_count_present (j->sink, 1);
      return TRUE;
    }
  gsize len;
  const void *p = g_bytes_get_data (content, &len);
  g_autofree char *out = NULL;
  if (!cairn_txn_write_content_bytes (_cairn_pull_sink_txn (j->sink), fi, p ? p : "", len, checksum,
                                      &out, error))
    return cairn_prefix_error (error, "%s: object %s.file", j->what, checksum);
  _cairn_pull_sink_count_fetched (j->sink, len);
  return TRUE;
}

static GBytes *
sink_source (gpointer data, const char *checksum, GError **error)
{
  PartJob *j = data;
  cairn_autofd fd = -1;
  g_auto (CairnFileInfo) fi = { 0 };
  if (!cairn_repo_load_file (j->repo, checksum, &fd, &fi, error))
    return NULL;
  if (fd < 0)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "not a regular file");
      return NULL;
    }
  return cairn_fd_read_all (fd, CAIRN_DELTA_PART_MAX_USIZE, error);
}

static gboolean
part_job_run (CairnPullSink *sink, gpointer data, GError **error)
{
  PartJob *j = data;
  g_autoptr (GVariant) payload = _cairn_delta_part_open (j->file, &j->header, j->what, error);
  if (!payload)
    return FALSE;
  g_clear_pointer (&j->file, g_bytes_unref);
  j->file = g_bytes_new (NULL, 0);
  CairnDeltaSink ds = { sink_metadata, sink_content, sink_source, j };
  return _cairn_delta_part_execute (payload, &j->header, &ds, j->what, error);
}

static gboolean
fetch_part (CairnPullSession *s, CairnPullTransport *t, const char *source_desc,
            const CairnDelta *d, guint i, GBytes **out, GError **error)
{
  const CairnDeltaPart *h = &g_array_index (d->parts, CairnDeltaPart, i);
  *out = cairn_delta_inline_part (d, i);
  if (*out)
    {
      s->stats->n_delta_parts++;
      return TRUE;
    }
  g_autofree char *num = g_strdup_printf ("%u", i);
  g_autofree char *rel = cairn_delta_relpath (d->from, d->to, num);
  if (h->size > CAIRN_DELTA_PART_MAX_USIZE)
    return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "%s: %s: its header says %" G_GUINT64_FORMAT " bytes", source_desc,
                             rel, h->size);
  if (!t->fetch_file (t, rel, MAX (h->size, 1), out, error))
    return FALSE;
  if (!*out)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s: static delta %s: part %s is missing",
                             source_desc, d->name, rel);
  _cairn_pull_sink_add_bytes (s->sink, g_bytes_get_size (*out));
  s->stats->n_delta_parts++;
  return TRUE;
}

/* The content objects the delta leaves to loose fetches, fetched while the
 * parts run (ostree queues them as soon as it reads the superblock). One the
 * server lacks in archive form is left to the tree walk that follows. */
static gboolean
fetch_fallbacks (CairnPullSession *s, CairnPullTransport *t, const CairnDelta *d, GError **error)
{
  for (guint i = 0; i < d->fallbacks->len; i++)
    {
      const CairnDeltaFallback *f = &g_array_index (d->fallbacks, CairnDeltaFallback, i);
      if (f->type != CAIRN_OBJECT_FILE
          || cairn_repo_object_exists (s->repo, CAIRN_OBJECT_FILE, f->checksum))
        continue;
      g_autofree char *rel
          = cairn_object_relpath (f->checksum, CAIRN_OBJECT_FILE, CAIRN_REPO_MODE_ARCHIVE);
      g_autofree char *path = g_strconcat ("objects/", rel, NULL);
      g_autoptr (GBytes) b = NULL;
      if (!t->fetch_file (t, path, (gsize)1 << 40, &b, error))
        return FALSE;
      if (!b)
        continue;
      _cairn_pull_sink_add_bytes (s->sink, g_bytes_get_size (b));
      _cairn_pull_sink_queue_filez (s->sink, f->checksum, b, path);
      if (_cairn_pull_sink_failed (s->sink))
        break;
    }
  return TRUE;
}

gboolean
_cairn_pull_delta_apply (CairnPullSession *s, CairnPullTransport *t, const char *source_desc,
                         const CairnDelta *d, GError **error)
{
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < d->parts->len; i++)
    {
      const CairnDeltaPart *h = &g_array_index (d->parts, CairnDeltaPart, i);
      if (_cairn_delta_part_have_all (s->repo, h))
        {
          _cairn_pull_sink_count_present (s->sink, h->n_objects);
          continue;
        }
      _cairn_pull_sink_wait_pending_below (s->sink, MAX_PARTS_AHEAD);
      g_autoptr (GBytes) file = NULL;
      if (!fetch_part (s, t, source_desc, d, i, &file, error))
        {
          ok = FALSE;
          break;
        }
      PartJob *j = g_new0 (PartJob, 1);
      j->sink = s->sink;
      j->repo = s->repo;
      j->file = g_steal_pointer (&file);
      j->header = *h;
      j->header.objects = g_variant_ref (h->objects);
      j->what = g_strdup_printf ("%s: static delta %s part %u", source_desc, d->name, i);
      _cairn_pull_sink_queue_job (s->sink, part_job_run, j, part_job_free);
      _cairn_pull_sink_progress (s->sink, "delta");
      if (_cairn_pull_sink_failed (s->sink))
        break; /* the drain below reports the job's error */
      /* Publish what the finished parts made (a killed pull keeps it), but
       * only while no part runs: a checkpoint waits for every job, and
       * parts decompressing side by side are what makes a delta fast. */
      if (_cairn_pull_sink_pending (s->sink) == 0)
        ok = _cairn_pull_sink_maybe_checkpoint (s->sink, error);
    }
  if (ok && !_cairn_pull_sink_failed (s->sink))
    ok = fetch_fallbacks (s, t, d, error);
  g_autoptr (GError) job_error = NULL;
  gboolean jobs_ok = _cairn_pull_sink_drain (s->sink, ok ? error : &job_error);
  return ok && jobs_ok;
}
