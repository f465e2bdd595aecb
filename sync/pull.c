/* The pull engine (docs/format.md §12.3): resolve the source and its
 * refs, verify the summary and each commit (signatures before the commit is
 * stored), mark commits partial, let the transport fetch the missing tree
 * objects into the sink, check that every commit is complete, then — and
 * only then — drop the partial markers and move the refs.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>

#define MAX_REF_FILE 1024

void
cairn_pull_options_init (CairnPullOptions *opts)
{
  memset (opts, 0, sizeof *opts);
}

typedef struct
{
  char *ref; /* NULL when pulling a bare checksum */
  char *commit;
  guint64 max_size;
} Target;

static void
target_free (Target *t)
{
  g_free (t->ref);
  g_free (t->commit);
  g_free (t);
}

typedef struct
{
  CairnRepo *repo;
  const CairnPullOptions *opts;
  CairnRemote *remote; /* NULL for a URL or path */
  char *url;
  char *source_desc; /* for messages: "remote 'origin'" or the URL */
  gboolean gpg_verify;
  CairnPullTransport *transport;
  GBytes *summary_bytes;
  GBytes *summary_sig;
  CairnSummary *summary;
  GPtrArray *targets;   /* Target* */
  GHashTable *detached; /* commit -> a{sv} to store once the commit is published */
  GHashTable *pulled;   /* commits handled */
  CairnPullSession session;
  CairnPullStats stats;
  int peer_fd; /* receive: the pushing side, told why a pull failed (-1: none) */
} Pull;

static void
pull_clear (Pull *p)
{
  if (p->transport)
    p->transport->free (p->transport);
  g_clear_pointer (&p->remote, cairn_remote_free);
  g_free (p->url);
  g_free (p->source_desc);
  g_clear_pointer (&p->summary_bytes, g_bytes_unref);
  g_clear_pointer (&p->summary_sig, g_bytes_unref);
  g_clear_pointer (&p->summary, cairn_summary_free);
  g_clear_pointer (&p->targets, g_ptr_array_unref);
  g_clear_pointer (&p->detached, g_hash_table_unref);
  g_clear_pointer (&p->pulled, g_hash_table_unref);
  g_clear_pointer (&p->session.commits, g_ptr_array_unref);
  g_clear_pointer (&p->session.sink, _cairn_pull_sink_free);
}

/* ---- source ------------------------------------------------------------------- */

static gboolean
is_remote_name (CairnRepo *repo, const char *source)
{
  if (strchr (source, '/') || strchr (source, ':') || !cairn_validate_remote_name (source, NULL))
    return FALSE;
  g_autofree char *group = g_strdup_printf ("remote \"%s\"", source);
  return g_key_file_has_group (repo->config, group);
}

static const char *
remote_option (CairnRemote *remote, const char *key)
{
  const char *v = NULL;
  if (remote && remote->options)
    g_variant_lookup (remote->options, key, "&s", &v);
  return v;
}

CairnPullTransport *(*_cairn_pull_http_new) (const char *url, CairnRemote *remote, GError **error);

static gboolean
resolve_source (Pull *p, const char *source, GError **error)
{
  if (is_remote_name (p->repo, source))
    {
      p->remote = cairn_repo_remote_get (p->repo, source, error);
      if (!p->remote)
        return FALSE;
      p->url = g_strdup (p->remote->url);
      p->source_desc = g_strdup_printf ("remote '%s' (%s)", source, p->url);
      p->gpg_verify = p->remote->gpg_verify;
      p->session.remote = p->remote->name;
      const char *unconf = remote_option (p->remote, "unconfigured-state");
      if (unconf)
        return cairn_throw (error, "remote '%s': %s", source, unconf);
    }
  else
    {
      if (strstr (source, "://"))
        p->url = g_strdup (source);
      else
        {
          g_autofree char *abs = g_canonicalize_filename (source, NULL);
          p->url = g_strconcat ("file://", abs, NULL);
        }
      if (!cairn_remote_validate_url (p->url, error))
        return FALSE;
      p->source_desc = g_strdup (p->url);
      p->gpg_verify = p->opts->keyring != NULL;
    }
  if (g_str_has_prefix (p->url, "file://"))
    p->transport = _cairn_pull_transport_local_new (p->url + strlen ("file://"), error);
  else if (g_str_has_prefix (p->url, "http://") || g_str_has_prefix (p->url, "https://"))
    {
      if (!_cairn_pull_http_new)
        return cairn_throw_code (
            error, G_IO_ERROR_NOT_SUPPORTED,
            "%s: HTTP pulls are implemented by cairn-full; run them through `cairn`", p->url);
      p->transport = _cairn_pull_http_new (p->url, p->remote, error);
    }
  else if (g_str_has_prefix (p->url, "ssh://"))
    p->transport = _cairn_pull_transport_ssh_new (p->url, p->remote, p->opts, error);
  else
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "%s: unsupported URL", p->url);
  return p->transport != NULL;
}

/* ---- summary -------------------------------------------------------------------- */

static gboolean
verify_summary (Pull *p, GError **error)
{
  if (!p->summary_bytes || !p->summary_sig)
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "%s: gpg-verify-summary is set but the %s is missing", p->source_desc,
                             p->summary_bytes ? "summary.sig" : "summary");
  g_autoptr (CairnVerifyResult) result = NULL;
  if (!cairn_repo_verify_summary (p->repo, p->summary_bytes, p->summary_sig,
                                  p->remote ? p->remote->name : NULL, p->opts->keyring, &result,
                                  error))
    return cairn_prefix_error (error, "%s", p->source_desc);
  if (cairn_verify_result_any_good (result))
    return TRUE;
  g_autofree char *why = cairn_verify_result_describe_failure (result);
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "%s: summary: %s", p->source_desc,
                           why);
}

static gboolean
load_summary (Pull *p, GError **error)
{
  CairnPullTransport *t = p->transport;
  if (p->opts->ignore_summary)
    return TRUE;
  if (!t->fetch_file (t, "summary.sig", CAIRN_MAX_METADATA_SIZE, &p->summary_sig, error)
      || !t->fetch_file (t, "summary", CAIRN_MAX_METADATA_SIZE, &p->summary_bytes, error))
    return FALSE;
  if (p->remote && p->remote->gpg_verify_summary && !verify_summary (p, error))
    return FALSE;
  if (!p->summary_bytes)
    return TRUE;
  p->summary = cairn_summary_parse (p->summary_bytes, error);
  if (!p->summary)
    return cairn_prefix_error (error, "%s: invalid summary", p->source_desc);
  return TRUE;
}

/* ---- refs ------------------------------------------------------------------------- */

static gboolean
fetch_ref_file (Pull *p, const char *ref, char **out_commit, GError **error)
{
  g_autofree char *rel = g_strconcat ("refs/heads/", ref, NULL);
  g_autoptr (GBytes) b = NULL;
  if (!p->transport->fetch_file (p->transport, rel, MAX_REF_FILE, &b, error))
    return FALSE;
  if (!b)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s has no ref '%s'", p->source_desc,
                             ref);
  gsize len;
  const char *d = g_bytes_get_data (b, &len);
  g_autofree char *s = g_strstrip (g_strndup (d, len));
  if (!cairn_is_checksum_string (s))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: ref '%s' is not a checksum",
                             p->source_desc, ref);
  *out_commit = g_steal_pointer (&s);
  return TRUE;
}

static gboolean
add_target (Pull *p, const char *ref, GError **error)
{
  Target *t = g_new0 (Target, 1);
  g_ptr_array_add (p->targets, t);
  if (cairn_is_checksum_string (ref))
    {
      t->commit = g_strdup (ref);
      return TRUE;
    }
  if (!cairn_validate_ref_name (ref, error))
    return FALSE;
  t->ref = g_strdup (ref);
  if (p->summary)
    {
      const CairnSummaryRef *r = cairn_summary_lookup_ref (p->summary, ref);
      if (!r)
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s has no ref '%s' in its summary",
                                 p->source_desc, ref);
      t->commit = g_strdup (r->commit);
      t->max_size = r->commit_size;
      return TRUE;
    }
  return fetch_ref_file (p, ref, &t->commit, error);
}

static gboolean
all_refs (Pull *p, GPtrArray *out, GError **error)
{
  if (p->summary)
    {
      for (guint i = 0; i < p->summary->refs->len; i++)
        g_ptr_array_add (out, g_strdup (((CairnSummaryRef *)p->summary->refs->pdata[i])->ref));
      return TRUE;
    }
  if (!p->transport->list_refs)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "%s has no summary: name the refs to pull", p->source_desc);
  g_autoptr (GHashTable) refs = p->transport->list_refs (p->transport, error);
  if (!refs)
    return FALSE;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (out, g_strdup (k));
  g_ptr_array_sort (out, (GCompareFunc)g_strcmp0);
  return TRUE;
}

static gboolean
resolve_targets (Pull *p, const char *const *refs, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (refs && refs[0])
    for (const char *const *r = refs; *r; r++)
      g_ptr_array_add (names, g_strdup (*r));
  else if (p->remote && p->remote->branches && p->remote->branches[0])
    for (char **r = p->remote->branches; *r; r++)
      g_ptr_array_add (names, g_strdup (*r));
  else if (!all_refs (p, names, error))
    return FALSE;
  if (names->len == 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s has no refs", p->source_desc);
  for (guint i = 0; i < names->len; i++)
    if (!add_target (p, names->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* ---- commits ------------------------------------------------------------------------ */

static gboolean
fetch_detached (Pull *p, const char *commit, GVariant **out, GError **error)
{
  g_autofree char *rel
      = cairn_object_relpath (commit, CAIRN_OBJECT_COMMIT_META, CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *path = g_strconcat ("objects/", rel, NULL);
  g_autoptr (GBytes) b = NULL;
  if (!p->transport->fetch_file (p->transport, path, CAIRN_MAX_METADATA_SIZE, &b, error))
    return FALSE;
  *out = NULL;
  if (!b)
    return TRUE;
  _cairn_pull_sink_add_bytes (p->session.sink, g_bytes_get_size (b));
  GVariant *v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, b, FALSE));
  if (!g_variant_is_normal_form (v))
    {
      g_variant_unref (v);
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                               "%s: detached metadata of commit %s is not in normal form",
                               p->source_desc, commit);
    }
  *out = v;
  return TRUE;
}

static GBytes *
fetch_commit_bytes (Pull *p, const char *commit, guint64 max_size, gboolean *out_present,
                    GError **error)
{
  *out_present = cairn_repo_object_exists (p->repo, CAIRN_OBJECT_COMMIT, commit);
  if (*out_present)
    return cairn_repo_load_commit_bytes (p->repo, commit, error);
  g_autofree char *rel
      = cairn_object_relpath (commit, CAIRN_OBJECT_COMMIT, CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *path = g_strconcat ("objects/", rel, NULL);
  GBytes *b = NULL;
  gsize max = max_size ? max_size : CAIRN_MAX_METADATA_SIZE;
  if (!p->transport->fetch_file (p->transport, path, max, &b, error))
    return NULL;
  if (!b)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: commit %s not found", p->source_desc,
                 commit);
  else
    _cairn_pull_sink_add_bytes (p->session.sink, g_bytes_get_size (b));
  return b;
}

static gboolean
check_signature (Pull *p, const char *commit, GBytes *data, GVariant *detached, GError **error)
{
  g_autoptr (CairnVerifyResult) result = NULL;
  g_autoptr (GError) local = NULL;
  if (!cairn_repo_verify_commit_data (p->repo, data, detached, p->remote ? p->remote->name : NULL,
                                      p->opts->keyring, &result, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return cairn_throw_code (
            error, G_IO_ERROR_PERMISSION_DENIED,
            "commit %s from %s: GPG verification enabled, but no signatures found", commit,
            p->source_desc);
      g_propagate_error (error, g_steal_pointer (&local));
      return cairn_prefix_error (error, "commit %s", commit);
    }
  if (cairn_verify_result_any_good (result))
    return TRUE;
  g_autofree char *why = cairn_verify_result_describe_failure (result);
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED, "commit %s from %s: %s", commit,
                           p->source_desc, why);
}

/* A commit bound to refs (ostree.ref-binding) may only be pulled as one of
 * them: a summary cannot redirect a ref to another branch's commit. */
static gboolean
check_ref_binding (Pull *p, const char *ref, const char *commit, GVariant *metadata, GError **error)
{
  g_autofree const char **bound = NULL;
  if (!ref || !g_variant_lookup (metadata, "ostree.ref-binding", "^a&s", &bound))
    return TRUE;
  if (g_strv_contains (bound, ref))
    return TRUE;
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                           "commit %s from %s is bound to other refs than '%s'", commit,
                           p->source_desc, ref);
}

/* Verify commit @data (its checksum, form, signatures against @detached,
 * ref binding) and stage it, marked partial, unless @present.
 * *out_needs_trees: the commit's tree is still to be fetched. */
static gboolean
store_commit (Pull *p, const char *ref, const char *commit, GBytes *data, GVariant *detached,
              gboolean present, gboolean *out_needs_trees, char **out_parent, GError **error)
{
  g_autofree char *actual
      = cairn_checksum_bytes (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  if (strcmp (actual, commit) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted commit object %s from %s: its content hashes to %s", commit,
                             p->source_desc, actual);
  g_autoptr (GVariant) v
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_COMMIT_GVARIANT_FORMAT, data, FALSE));
  g_auto (CairnCommit) c = { 0 };
  if (!g_variant_is_normal_form (v) || !cairn_commit_parse (v, &c, error))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid commit %s from %s", commit,
                             p->source_desc);
  if (p->gpg_verify && !check_signature (p, commit, data, detached, error))
    return FALSE;
  if (!check_ref_binding (p, ref, commit, c.metadata, error))
    return FALSE;
  if (!present)
    {
      if (!cairn_repo_mark_commit_partial (p->repo, commit, TRUE, NULL, error)
          || !_cairn_pull_sink_write_metadata (p->session.sink, CAIRN_OBJECT_COMMIT, commit, data,
                                               error))
        return FALSE;
    }
  else
    _cairn_pull_sink_count_present (p->session.sink, 1);
  if (detached)
    g_hash_table_insert (p->detached, g_strdup (commit), g_variant_ref (detached));
  *out_needs_trees = !present || cairn_repo_commit_is_partial (p->repo, commit);
  *out_parent = g_strdup (c.parent);
  return TRUE;
}

/* Fetch, verify and stage one commit; *out_parent is its parent. */
static gboolean
pull_commit (Pull *p, const char *ref, const char *commit, guint64 max_size, char **out_parent,
             GError **error)
{
  g_autoptr (GVariant) detached = NULL;
  gboolean present = FALSE, needs_trees = FALSE;
  if (!fetch_detached (p, commit, &detached, error))
    return FALSE;
  g_autoptr (GBytes) data = fetch_commit_bytes (p, commit, max_size, &present, error);
  if (!data
      || !store_commit (p, ref, commit, data, detached, present, &needs_trees, out_parent, error))
    return FALSE;
  if (needs_trees)
    g_ptr_array_add (p->session.commits, g_strdup (commit));
  return TRUE;
}

/* ---- static deltas ------------------------------------------------------------------ */

static gboolean usable_base (Pull *p, const char *base, const char *commit);

static gboolean
want_delta (Pull *p, const Target *t)
{
  if (p->opts->disable_static_deltas || p->opts->commit_metadata_only)
    return FALSE;
  if (!p->opts->require_static_deltas && !p->transport->deltas_by_default)
    return FALSE;
  return !cairn_repo_object_exists (p->repo, CAIRN_OBJECT_COMMIT, t->commit)
         || cairn_repo_commit_is_partial (p->repo, t->commit);
}

/* The commit the target's ref points at here, when it is complete. */
static char *
have_commit (Pull *p, const Target *t)
{
  if (!t->ref)
    return NULL;
  const char *remote = p->opts->mirror || !p->remote ? NULL : p->remote->name;
  g_autofree char *old = cairn_repo_read_ref (p->repo, remote, t->ref, TRUE, NULL);
  return usable_base (p, old, t->commit) ? g_steal_pointer (&old) : NULL;
}

/* After a delta: complete (marked so now), or left to the transport's walk
 * for what the delta did not carry (its fallbacks). Against the delta's
 * complete FROM commit only the subtrees that differ are walked. */
static gboolean
finish_delta (Pull *p, const char *commit, const CairnDelta *d, GError **error)
{
  g_autoptr (GHashTable) missing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!cairn_repo_find_missing (p->repo, commit, d->from, missing, error))
    return FALSE;
  if (g_hash_table_size (missing) > 0)
    {
      g_ptr_array_add (p->session.commits, g_strdup (commit));
      return TRUE;
    }
  if (!cairn_repo_mark_commit_partial (p->repo, commit, FALSE, NULL, error))
    return FALSE;
  p->stats.n_commits++;
  return TRUE;
}

/* The ed25519 keys a remote with sign-verify trusts (ostree's
 * verification-ed25519-key and -file, docs/format.md §8.4); NULL with no
 * error when the remote does not ask for ed25519 verification. */
static char **
delta_sign_keys (Pull *p, GError **error)
{
  const char *sv = remote_option (p->remote, "sign-verify");
  if (!sv || g_ascii_strcasecmp (sv, "false") == 0 || strcmp (sv, "0") == 0)
    return NULL;
  gboolean all = g_ascii_strcasecmp (sv, "true") == 0 || strcmp (sv, "1") == 0;
  g_auto (GStrv) names = g_strsplit_set (sv, ",;", -1);
  if (!all && !g_strv_contains ((const char *const *)names, "ed25519"))
    return NULL;
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  const char *k = remote_option (p->remote, "verification-ed25519-key");
  if (k)
    g_ptr_array_add (keys, g_strdup (k));
  const char *f = remote_option (p->remote, "verification-ed25519-file");
  if (f)
    {
      g_autofree char *text = NULL;
      if (!g_file_get_contents (f, &text, NULL, error))
        return cairn_prefix_error (error, "remote '%s': verification-ed25519-file",
                                   p->remote->name),
               NULL;
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
      for (char **l = lines; *l; l++)
        if (*g_strstrip (*l))
          g_ptr_array_add (keys, g_strdup (*l));
    }
  if (keys->len == 0)
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "remote '%s': sign-verify is set but no ed25519 key is configured "
                             "(verification-ed25519-key or verification-ed25519-file)",
                             p->remote->name),
           NULL;
  g_ptr_array_add (keys, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&keys), FALSE);
}

/* Pull target @t's commit through a static delta when one fits:
 * *out_applied then, with its parent in *out_parent. */
static gboolean
pull_by_delta (Pull *p, const Target *t, gboolean *out_applied, char **out_parent, GError **error)
{
  *out_applied = FALSE;
  g_autofree char *have = have_commit (p, t);
  g_autoptr (CairnDelta) d = NULL;
  if (!_cairn_pull_delta_find (&p->session, p->transport, p->summary, p->source_desc, have,
                               t->commit, &d, error))
    return FALSE;
  if (!d)
    {
      if (p->opts->require_static_deltas)
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                                 "%s: static deltas required, but none found for %s (%s)",
                                 p->source_desc, t->ref ? t->ref : t->commit, t->commit);
      return TRUE;
    }
  /* A remote that asks for ostree.sign verification takes only deltas
   * whose superblock one of its keys signed (docs/format.md §11.7). */
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) keys = delta_sign_keys (p, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (keys && !cairn_delta_verify_signature (d, (const char *const *)keys, error))
    return cairn_prefix_error (error, "%s", p->source_desc);
  g_autoptr (GVariant) detached = NULL;
  if (!fetch_detached (p, t->commit, &detached, error))
    return FALSE;
  if (!detached)
    detached = cairn_delta_commitmeta (d);
  gboolean present = cairn_repo_object_exists (p->repo, CAIRN_OBJECT_COMMIT, t->commit);
  gboolean needs_trees = FALSE;
  if (!store_commit (p, t->ref, t->commit, d->commit, detached, present, &needs_trees, out_parent,
                     error))
    return FALSE;
  p->stats.n_deltas++;
  /* The commit is published (partial) before any object of its tree. */
  if (!_cairn_pull_sink_checkpoint (p->session.sink, error)
      || !_cairn_pull_delta_apply (&p->session, p->transport, p->source_desc, d, error)
      || !_cairn_pull_sink_checkpoint (p->session.sink, error)
      || !finish_delta (p, t->commit, d, error))
    return FALSE;
  *out_applied = TRUE;
  return TRUE;
}

/* The target commit and its parents up to --depth; a missing parent ends
 * the chain (the source may have partial history). */
static gboolean
pull_commit_chain (Pull *p, const Target *t, GError **error)
{
  int depth = p->opts->depth;
  g_autofree char *cur = g_strdup (t->commit);
  gboolean first = TRUE;
  while (cur)
    {
      if (g_hash_table_contains (p->pulled, cur))
        return TRUE;
      g_autofree char *parent = NULL;
      g_autoptr (GError) local = NULL;
      gboolean by_delta = FALSE;
      if (first && want_delta (p, t) && !pull_by_delta (p, t, &by_delta, &parent, error))
        return FALSE;
      if (!by_delta
          && !pull_commit (p, first ? t->ref : NULL, cur, first ? t->max_size : 0, &parent, &local))
        {
          if (!first && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_hash_table_add (p->pulled, g_strdup (cur));
      g_free (cur);
      cur = NULL;
      if (depth != 0 && parent)
        {
          cur = g_steal_pointer (&parent);
          depth = depth > 0 ? depth - 1 : depth;
        }
      first = FALSE;
    }
  return TRUE;
}

static gboolean
store_detached (Pull *p, GError **error)
{
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, p->detached);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!cairn_repo_write_commit_detached_metadata (p->repo, k, v, error))
      return FALSE;
  return TRUE;
}

/* ---- scanning (dumb transports) ------------------------------------------------------ */

static void
want_if_missing (CairnPullSession *s, CairnObjectType type, const char *csum,
                 CairnPullWantFunc want, gpointer data)
{
  if (cairn_repo_object_exists (s->repo, type, csum))
    _cairn_pull_sink_count_present (s->sink, 1);
  else
    want (data, type, csum);
}

gboolean
_cairn_pull_scan_dirtree (CairnPullSession *s, GHashTable *scanned, const char *checksum,
                          CairnPullWantFunc want, gpointer data, GError **error)
{
  if (g_hash_table_contains (scanned, checksum))
    return TRUE;
  g_hash_table_add (scanned, g_strdup (checksum));
  g_autoptr (GVariant) v
      = cairn_repo_load_variant (s->repo, CAIRN_OBJECT_DIR_TREE, checksum, error);
  if (!v)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  char hex[65];
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", NULL, &c);
      cairn_checksum_to_hex (g_variant_get_data (c), hex);
      want_if_missing (s, CAIRN_OBJECT_FILE, hex, want, data);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      g_autoptr (GVariant) t = NULL, m = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", NULL, &t, &m);
      cairn_checksum_to_hex (g_variant_get_data (m), hex);
      want_if_missing (s, CAIRN_OBJECT_DIR_META, hex, want, data);
      cairn_checksum_to_hex (g_variant_get_data (t), hex);
      if (!cairn_repo_object_exists (s->repo, CAIRN_OBJECT_DIR_TREE, hex))
        want (data, CAIRN_OBJECT_DIR_TREE, hex);
      else if (!_cairn_pull_scan_dirtree (s, scanned, hex, want, data, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
_cairn_pull_scan_commit (CairnPullSession *s, GHashTable *scanned, const char *commit,
                         CairnPullWantFunc want, gpointer data, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (s->repo, commit, &c, error))
    return FALSE;
  want_if_missing (s, CAIRN_OBJECT_DIR_META, c.root_meta, want, data);
  if (!cairn_repo_object_exists (s->repo, CAIRN_OBJECT_DIR_TREE, c.root_tree))
    {
      want (data, CAIRN_OBJECT_DIR_TREE, c.root_tree);
      return TRUE;
    }
  return _cairn_pull_scan_dirtree (s, scanned, c.root_tree, want, data, error);
}

/* ---- completion ------------------------------------------------------------------------ */

/* A complete commit in the store to compare @commit's tree with: its
 * parent, else the old value of a ref it is pulled for. NULL if none. */
static gboolean
usable_base (Pull *p, const char *base, const char *commit)
{
  return base && strcmp (base, commit) != 0 && !cairn_repo_commit_is_partial (p->repo, base)
         && cairn_repo_object_exists (p->repo, CAIRN_OBJECT_COMMIT, base);
}

static char *
complete_base (Pull *p, const char *commit)
{
  g_auto (CairnCommit) c = { 0 };
  if (cairn_repo_load_commit (p->repo, commit, &c, NULL) && usable_base (p, c.parent, commit))
    return g_strdup (c.parent);
  const char *remote = p->opts->mirror || !p->remote ? NULL : p->remote->name;
  for (guint i = 0; i < p->targets->len; i++)
    {
      Target *t = p->targets->pdata[i];
      if (!t->ref || g_strcmp0 (t->commit, commit) != 0)
        continue;
      g_autofree char *old = cairn_repo_read_ref (p->repo, remote, t->ref, TRUE, NULL);
      if (usable_base (p, old, commit))
        return g_steal_pointer (&old);
    }
  return NULL;
}

/* Every object of @commit's tree is present. Against a complete base
 * commit only the subtrees that differ from it are walked (an update pull
 * of a few files checks a few directories, not the whole tree). */
static gboolean
check_complete (Pull *p, const char *commit, GError **error)
{
  g_autoptr (GHashTable) missing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *base = complete_base (p, commit);
  if (!cairn_repo_find_missing (p->repo, commit, base, missing, error))
    return FALSE;
  if (g_hash_table_size (missing) == 0)
    return TRUE;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, missing);
  g_hash_table_iter_next (&it, &k, NULL);
  return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT,
                           "%s did not provide %u objects of commit %s (e.g. %s)", p->source_desc,
                           g_hash_table_size (missing), commit, (char *)k);
}

static gboolean
finish_commits (Pull *p, GError **error)
{
  if (p->opts->commit_metadata_only)
    return TRUE;
  for (guint i = 0; i < p->session.commits->len; i++)
    {
      const char *c = p->session.commits->pdata[i];
      if ((!p->session.trees_complete && !check_complete (p, c, error))
          || !cairn_repo_mark_commit_partial (p->repo, c, FALSE, NULL, error))
        return FALSE;
      p->stats.n_commits++;
    }
  return TRUE;
}

static gboolean
write_refs (Pull *p, gboolean all, GError **error)
{
  const char *remote = p->opts->mirror || !p->remote ? NULL : p->remote->name;
  for (guint i = 0; i < p->targets->len; i++)
    {
      Target *t = p->targets->pdata[i];
      if (!t->ref
          || (p->opts->commit_metadata_only && cairn_repo_commit_is_partial (p->repo, t->commit)))
        continue;
      g_autofree char *old = cairn_repo_read_ref (p->repo, remote, t->ref, TRUE, NULL);
      if (g_strcmp0 (old, t->commit) == 0)
        continue;
      if (!cairn_repo_write_ref (p->repo, remote, t->ref, t->commit, error))
        return FALSE;
      p->stats.n_refs_updated++;
    }
  if (p->opts->mirror && all && p->summary_bytes)
    {
      CairnFsyncPolicy fs = cairn_repo_fsync_policy (p->repo);
      gsize len;
      const void *d = g_bytes_get_data (p->summary_bytes, &len);
      if (p->summary_sig)
        {
          gsize slen;
          const void *sd = g_bytes_get_data (p->summary_sig, &slen);
          if (!cairn_file_replace_contents_at (p->repo->repo_dfd, "summary.sig", sd, slen, 0644, fs,
                                               error))
            return FALSE;
        }
      if (!cairn_file_replace_contents_at (p->repo->repo_dfd, "summary", d, len, 0644, fs, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
pull_run (Pull *p, const char *const *refs, GError **error)
{
  if (!load_summary (p, error) || !resolve_targets (p, refs, error))
    return FALSE;
  _cairn_pull_sink_progress (p->session.sink, "commits");
  for (guint i = 0; i < p->targets->len; i++)
    if (!pull_commit_chain (p, p->targets->pdata[i], error))
      return FALSE;
  /* Publish the commits (still marked partial), then their signatures. */
  if (!_cairn_pull_sink_checkpoint (p->session.sink, error) || !store_detached (p, error))
    return FALSE;
  if (!p->opts->commit_metadata_only && p->session.commits->len > 0)
    {
      if (!p->transport->fetch_trees (p->transport, &p->session, error))
        return FALSE;
      if (!_cairn_pull_sink_checkpoint (p->session.sink, error))
        return FALSE;
    }
  return finish_commits (p, error) && write_refs (p, !(refs && refs[0]), error);
}

/* Set up @p; @source may be NULL when the caller sets the transport. */
static void
pull_init (Pull *p, CairnRepo *repo, const CairnPullOptions *opts)
{
  memset (p, 0, sizeof *p);
  p->peer_fd = -1;
  p->repo = repo;
  p->opts = opts;
  p->targets = g_ptr_array_new_with_free_func ((GDestroyNotify)target_free);
  p->detached
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  p->pulled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->session.repo = repo;
  p->session.opts = opts;
  p->session.stats = &p->stats;
  p->session.commits = g_ptr_array_new_with_free_func (g_free);
}

/* Run a pull whose transport is set up. */
static gboolean
pull_with_transport (Pull *p, const char *const *refs, gint64 start, CairnPullStats *out_stats,
                     GError **error)
{
  if (p->opts->require_signatures)
    p->gpg_verify = TRUE;
  p->session.sink = _cairn_pull_sink_new (p->repo, &p->stats, p->opts, error);
  gboolean ok = p->session.sink != NULL && pull_run (p, refs, error);
  if (p->session.sink)
    {
      /* Publish whatever was verified, also on failure (resume). */
      g_autoptr (GError) local = NULL;
      gboolean cp = _cairn_pull_sink_checkpoint (p->session.sink, ok ? error : &local);
      ok = ok && cp;
    }
  p->stats.elapsed_us = g_get_monotonic_time () - start;
  if (ok && out_stats)
    *out_stats = p->stats;
  if (!ok && p->peer_fd >= 0 && error && *error)
    (void)_cairn_sync_write_frame (p->peer_fd, CAIRN_SYNC_ERROR, (*error)->message,
                                   strlen ((*error)->message), NULL);
  pull_clear (p);
  return ok;
}

gboolean
cairn_repo_pull (CairnRepo *repo, const char *source, const char *const *refs,
                 const CairnPullOptions *opts, CairnPullStats *out_stats, GError **error)
{
  CairnPullOptions dflt;
  if (!opts)
    {
      cairn_pull_options_init (&dflt);
      opts = &dflt;
    }
  gint64 start = g_get_monotonic_time ();
  Pull p;
  pull_init (&p, repo, opts);
  if (!resolve_source (&p, source, error))
    {
      pull_clear (&p);
      return FALSE;
    }
  return pull_with_transport (&p, refs, start, out_stats, error);
}

gboolean
cairn_repo_receive_requires_signatures (CairnRepo *repo)
{
  return g_key_file_get_boolean (repo->config, "receive", "gpg-verify", NULL);
}

gboolean
cairn_repo_receive (CairnRepo *repo, int in_fd, int out_fd, const char *const *refs,
                    const CairnPullOptions *opts, CairnPullStats *out_stats, GError **error)
{
  if (!refs || !refs[0])
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "receive: no refs to receive");
  CairnPullOptions o = *opts;
  o.mirror = TRUE;
  o.ignore_summary = TRUE;
  o.require_signatures = o.require_signatures || cairn_repo_receive_requires_signatures (repo);
  gint64 start = g_get_monotonic_time ();
  Pull p;
  pull_init (&p, repo, &o);
  p.source_desc = g_strdup ("the pushing side");
  p.url = g_strdup ("push");
  p.transport = _cairn_pull_transport_ssh_new_fds (p.source_desc, out_fd, in_fd, error);
  if (!p.transport)
    {
      pull_clear (&p);
      return FALSE;
    }
  p.peer_fd = out_fd;
  return pull_with_transport (&p, refs, start, out_stats, error);
}
