/* The summary file: the published list of refs (docs/format.md §10),
 * its signature file summary.sig (§8.3), and a parser for pull.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Byte identity with `ostree summary -u`: both a{sv} dictionaries are built
 * with GVariantDict and the same insertions in the same order as ostree,
 * so GLib's hash iteration yields the same entry order (§17.4). Changing the
 * order of the inserts below changes the bytes of the file.
 */
#include "config.h"
#include "sync/cairn-remote.h"
#include "sync/cairn-delta.h"
#include "store/cairn-store-lowlevel.h"
#include <stdio.h>
#include <string.h>

#define KEY_LAST_MODIFIED "ostree.summary.last-modified"
#define KEY_EXPIRES "ostree.summary.expires"
#define KEY_MODE "ostree.summary.mode"
#define KEY_TOMBSTONES "ostree.summary.tombstone-commits"
#define KEY_INDEXED_DELTAS "ostree.summary.indexed-deltas"
#define KEY_STATIC_DELTAS "ostree.static-deltas"
#define KEY_COLLECTION_ID "ostree.summary.collection-id"
#define KEY_COMMIT_TIMESTAMP "ostree.commit.timestamp"
#define KEY_COMMIT_VERSION "ostree.commit.version"
/* Largest time GDateTime accepts (9999-12-31T23:59:59Z): ostree omits the
 * refmeta timestamp when g_date_time_new_from_unix_utc() refuses it. */
#define MAX_DATETIME_UNIX G_GUINT64_CONSTANT (253402300799)

/* (s(taya{sv})) for one ref, as ostree's summary_add_ref_entry(). */
static GVariant *
ref_entry (CairnRepo *repo, const char *ref, const char *commit, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return NULL;
  g_auto (GVariantDict) meta;
  g_variant_dict_init (&meta, NULL);
  if (c.timestamp <= MAX_DATETIME_UNIX)
    g_variant_dict_insert_value (&meta, KEY_COMMIT_TIMESTAMP,
                                 g_variant_new_uint64 (GUINT64_TO_BE (c.timestamp)));
  const char *version = NULL;
  if (g_variant_lookup (c.metadata, "version", "&s", &version))
    g_variant_dict_insert (&meta, KEY_COMMIT_VERSION, "s", version);
  /* The size is in host order, unlike every other integer (§10.1). */
  return g_variant_new ("(s(t@ay@a{sv}))", ref, (guint64)g_variant_get_size (c.variant),
                        cairn_checksum_to_variant (commit), g_variant_dict_end (&meta));
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static GVariant *
build_ref_map (CairnRepo *repo, GError **error)
{
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, FALSE, error);
  if (!refs)
    return NULL;
  g_autofree gpointer *names = g_hash_table_get_keys_as_array (refs, NULL);
  guint n = g_hash_table_size (refs);
  qsort (names, n, sizeof (gpointer), (int (*) (const void *, const void *))cmp_str);
  g_auto (GVariantBuilder) b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(s(taya{sv}))"));
  for (guint i = 0; i < n; i++)
    {
      GVariant *e = ref_entry (repo, names[i], g_hash_table_lookup (refs, names[i]), error);
      if (!e)
        return NULL;
      g_variant_builder_add_value (&b, e);
    }
  return g_variant_builder_end (&b);
}

static gboolean
config_bool (CairnRepo *repo, const char *key)
{
  return g_key_file_get_boolean (repo->config, "core", key, NULL);
}

static GVariant *
build_summary (CairnRepo *repo, GVariant *extra, GError **error)
{
  GVariant *refs = build_ref_map (repo, error);
  if (!refs)
    return NULL;
  g_auto (GVariantDict) md;
  g_variant_dict_init (&md, extra);
  /* The deltas first, as ostree inserts them (docs/format.md §11.4). */
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) deltas = cairn_repo_static_delta_digests (repo, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (deltas)
    g_variant_dict_insert_value (&md, KEY_STATIC_DELTAS, deltas);
  guint64 now = (guint64)(g_get_real_time () / G_USEC_PER_SEC);
  g_variant_dict_insert_value (&md, KEY_LAST_MODIFIED, g_variant_new_uint64 (GUINT64_TO_BE (now)));
  g_autofree char *mode = g_key_file_get_string (repo->config, "core", "mode", NULL);
  g_variant_dict_insert_value (&md, KEY_MODE, g_variant_new_string (mode ? mode : "bare"));
  g_variant_dict_insert_value (&md, KEY_TOMBSTONES,
                               g_variant_new_boolean (config_bool (repo, "tombstone-commits")));
  g_variant_dict_insert_value (&md, KEY_INDEXED_DELTAS, g_variant_new_boolean (TRUE));
  g_autofree char *collection = g_key_file_get_string (repo->config, "core", "collection-id", NULL);
  if (collection && *collection)
    g_variant_dict_insert_value (&md, KEY_COLLECTION_ID, g_variant_new_string (collection));
  GVariant *summary = g_variant_new ("(@a(s(taya{sv}))@a{sv})", refs, g_variant_dict_end (&md));
  return g_variant_ref_sink (summary);
}

/* summary.sig: {"ostree.gpgsigs": aay} over the exact summary bytes. */
static GVariant *
build_summary_sig (GBytes *summary, const char *const *key_ids, const char *homedir, GError **error)
{
  g_autoptr (GVariant) sigs = NULL;
  for (const char *const *k = key_ids; *k; k++)
    {
      if (**k == '\0')
        {
          cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "empty GPG key id");
          return NULL;
        }
      g_autoptr (GBytes) sig = cairn_sign_create_detached (summary, *k, homedir, error);
      if (!sig)
        {
          cairn_prefix_error (error, "signing the summary with key %s", *k);
          return NULL;
        }
      GVariant *next = cairn_sign_sigs_append (sigs, sig);
      g_clear_pointer (&sigs, g_variant_unref);
      sigs = next;
    }
  g_auto (GVariantDict) d;
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert_value (&d, CAIRN_SIGN_GPGSIGS_KEY, sigs);
  return g_variant_ref_sink (g_variant_dict_end (&d));
}

/* Write both files into a fresh directory under tmp/, give summary the
 * times of summary.sig, then rename summary and then summary.sig into place
 * (docs/format.md §8.3): a client that sees the new summary.sig finds the new summary. */
static gboolean
write_signed (CairnRepo *repo, GBytes *summary, GVariant *sig, GError **error)
{
  g_autofree char *dir = NULL;
  for (int tries = 0; tries < 100 && !dir; tries++)
    {
      g_autofree char *cand = g_strdup_printf ("summary-%06x", g_random_int () & 0xffffff);
      if (mkdirat (repo->tmp_dfd, cand, 0700) == 0)
        dir = g_steal_pointer (&cand);
      else if (errno != EEXIST)
        return cairn_throw_errno (error, "creating tmp/%s", cand);
    }
  if (!dir)
    return cairn_throw (error, "cannot create a temporary directory in tmp/");
  cairn_autofd dfd = -1;
  gboolean ok = cairn_opendirat (repo->tmp_dfd, dir, FALSE, &dfd, error);
  CairnFsyncPolicy fs = cairn_repo_fsync_policy (repo);
  ok = ok
       && cairn_file_replace_contents_at (dfd, "summary", g_bytes_get_data (summary, NULL),
                                          g_bytes_get_size (summary), 0644, fs, error)
       && cairn_file_replace_contents_at (dfd, "summary.sig", g_variant_get_data (sig),
                                          g_variant_get_size (sig), 0644, fs, error);
  struct stat st;
  if (ok && fstatat (dfd, "summary.sig", &st, AT_SYMLINK_NOFOLLOW) < 0)
    ok = cairn_throw_errno (error, "stat summary.sig");
  if (ok)
    {
      struct timespec times[2] = { st.st_atim, st.st_mtim };
      if (utimensat (dfd, "summary", times, AT_SYMLINK_NOFOLLOW) < 0)
        ok = cairn_throw_errno (error, "setting the times of summary");
    }
  ok = ok && cairn_renameat (dfd, "summary", repo->repo_dfd, "summary", FALSE, error)
       && cairn_renameat (dfd, "summary.sig", repo->repo_dfd, "summary.sig", FALSE, error);
  if (ok && fs == CAIRN_FSYNC_FULL && fsync (repo->repo_dfd) < 0)
    ok = cairn_throw_errno (error, "fsync of the repository directory");
  g_autoptr (GError) ignored = NULL;
  (void)cairn_rm_rf_at (repo->tmp_dfd, dir, &ignored);
  return ok;
}

static gboolean
write_unsigned (CairnRepo *repo, GBytes *summary, GError **error)
{
  if (!cairn_file_replace_contents_at (repo->repo_dfd, "summary", g_bytes_get_data (summary, NULL),
                                       g_bytes_get_size (summary), 0644,
                                       cairn_repo_fsync_policy (repo), error))
    return FALSE;
  /* A signature of the previous summary would now be a bad one. */
  return cairn_unlinkat (repo->repo_dfd, "summary.sig", 0, TRUE, error);
}

/* ostree's delta reindex, run by every summary update: delta-indexes/ is
 * rewritten from the deltas present and the config records that deltas are
 * indexed. */
static gboolean
ensure_indexed_deltas (CairnRepo *repo, GError **error)
{
  if (!cairn_repo_static_delta_reindex (repo, error))
    return FALSE;
  g_autofree char *v = g_key_file_get_value (repo->config, "core", "indexed-deltas", NULL);
  if (g_strcmp0 (v, "true") == 0)
    return TRUE;
  g_key_file_set_boolean (repo->config, "core", "indexed-deltas", TRUE);
  return cairn_repo_write_config (repo, error);
}

static gboolean
regenerate_locked (CairnRepo *repo, GVariant *extra, const char *const *key_ids,
                   const char *homedir, GError **error)
{
  if (!ensure_indexed_deltas (repo, error))
    return FALSE;
  g_autoptr (GVariant) summary = build_summary (repo, extra, error);
  if (!summary)
    return FALSE;
  g_autoptr (GVariant) normal = g_variant_get_normal_form (summary);
  g_autoptr (GBytes) bytes = g_variant_get_data_as_bytes (normal);
  if (key_ids == NULL || key_ids[0] == NULL)
    return write_unsigned (repo, bytes, error);
  g_autoptr (GVariant) sig = build_summary_sig (bytes, key_ids, homedir, error);
  return sig != NULL && write_signed (repo, bytes, sig, error);
}

gboolean
cairn_repo_regenerate_summary (CairnRepo *repo, GVariant *extra, const char *const *key_ids,
                               const char *homedir, GError **error)
{
  if (extra && !g_variant_is_of_type (extra, G_VARIANT_TYPE_VARDICT))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "summary metadata must be a{sv}");
  if (!cairn_repo_lock_push (repo, CAIRN_REPO_LOCK_SHARED, error))
    return cairn_prefix_error (error, "updating the summary");
  gboolean ok = regenerate_locked (repo, extra, key_ids, homedir, error);
  cairn_repo_lock_pop (repo, CAIRN_REPO_LOCK_SHARED);
  if (!ok)
    return cairn_prefix_error (error, "updating the summary");
  return TRUE;
}

/* ---- parsing ------------------------------------------------------------------ */

static void
summary_ref_free (gpointer p)
{
  CairnSummaryRef *r = p;
  g_free (r->ref);
  g_free (r->commit);
  g_free (r->version);
  g_free (r);
}

void
cairn_summary_free (CairnSummary *s)
{
  if (!s)
    return;
  g_clear_pointer (&s->variant, g_variant_unref);
  g_clear_pointer (&s->refs, g_ptr_array_unref);
  g_clear_pointer (&s->metadata, g_variant_unref);
  g_free (s->mode);
  g_free (s->collection_id);
  g_free (s);
}

static gboolean
parse_ref (GVariant *entry, const char *prev, CairnSummaryRef **out, GError **error)
{
  const char *name;
  guint64 size;
  g_autoptr (GVariant) csum = NULL, meta = NULL;
  g_variant_get (entry, "(&s(t@ay@a{sv}))", &name, &size, &csum, &meta);
  g_autoptr (GError) local = NULL;
  if (!cairn_validate_ref_name (name, &local))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid ref: %s", local->message);
  if (prev && strcmp (prev, name) >= 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "refs are not sorted ('%s' after '%s')", name, prev);
  g_autofree char *hex = cairn_checksum_from_variant (csum);
  if (!hex)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "ref '%s': checksum is not 32 bytes",
                             name);
  CairnSummaryRef *r = g_new0 (CairnSummaryRef, 1);
  r->ref = g_strdup (name);
  r->commit = g_steal_pointer (&hex);
  r->commit_size = size;
  guint64 ts;
  if (g_variant_lookup (meta, KEY_COMMIT_TIMESTAMP, "t", &ts))
    r->timestamp = GUINT64_FROM_BE (ts);
  const char *version;
  if (g_variant_lookup (meta, KEY_COMMIT_VERSION, "&s", &version))
    r->version = g_strdup (version);
  *out = r;
  return TRUE;
}

static void
parse_metadata (CairnSummary *s)
{
  guint64 t;
  const char *str;
  if (g_variant_lookup (s->metadata, KEY_LAST_MODIFIED, "t", &t))
    s->last_modified = GUINT64_FROM_BE (t);
  if (g_variant_lookup (s->metadata, KEY_EXPIRES, "t", &t))
    s->expires = GUINT64_FROM_BE (t);
  if (g_variant_lookup (s->metadata, KEY_MODE, "&s", &str))
    s->mode = g_strdup (str);
  if (g_variant_lookup (s->metadata, KEY_COLLECTION_ID, "&s", &str))
    s->collection_id = g_strdup (str);
  (void)g_variant_lookup (s->metadata, KEY_TOMBSTONES, "b", &s->tombstone_commits);
  (void)g_variant_lookup (s->metadata, KEY_INDEXED_DELTAS, "b", &s->indexed_deltas);
}

CairnSummary *
cairn_summary_parse (GBytes *data, GError **error)
{
  g_autoptr (CairnSummary) s = g_new0 (CairnSummary, 1);
  s->variant
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_SUMMARY_GVARIANT_FORMAT, data, FALSE));
  if (!g_variant_is_normal_form (s->variant))
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "summary is not in normal form");
      return NULL;
    }
  g_autoptr (GVariant) refs = g_variant_get_child_value (s->variant, 0);
  s->metadata = g_variant_get_child_value (s->variant, 1);
  s->refs = g_ptr_array_new_with_free_func (summary_ref_free);
  gsize n = g_variant_n_children (refs);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) e = g_variant_get_child_value (refs, i);
      CairnSummaryRef *r = NULL;
      const char *prev = i ? ((CairnSummaryRef *)s->refs->pdata[i - 1])->ref : NULL;
      if (!parse_ref (e, prev, &r, error))
        {
          cairn_prefix_error (error, "invalid summary");
          return NULL;
        }
      g_ptr_array_add (s->refs, r);
    }
  parse_metadata (s);
  return g_steal_pointer (&s);
}

const CairnSummaryRef *
cairn_summary_lookup_ref (const CairnSummary *summary, const char *ref)
{
  guint lo = 0, hi = summary->refs->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const CairnSummaryRef *r = summary->refs->pdata[mid];
      int c = strcmp (ref, r->ref);
      if (c == 0)
        return r;
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}
