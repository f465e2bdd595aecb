/* OCI images built from commits, for `cairn push docker://` and
 * `cairn export --format=oci|docker-archive` (docs/import-export.md,
 * "Building images").
 *
 * Layers: one tar of the whole tree, or with layers_parents one per commit
 * of the ref's history that is in the store, oldest first: the first holds
 * its whole tree, each next one what changed since its parent (changed
 * directories, new and changed files, whiteouts for what is gone). Commits
 * whose tree equals their parent's add no layer. The tars are export.c's
 * (stable order, numeric owners, mtime = that commit's timestamp), the
 * compressors (compress.c) deterministic; the config and manifest are
 * written by the fixed-format JSON writer. So the same commit and options
 * give the same digests, on any machine with the same libraries.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <string.h>

/* overlayfs and the registries' layer limits stop near 128 layers */
#define MAX_LAYERS 127

static void
blob_free (CairnImageBlob *b)
{
  if (!b)
    return;
  g_free (b->media_type);
  g_free (b->digest);
  g_free (b->diff_id);
  cairn_tmpfile_clear (&b->tmp);
  g_clear_pointer (&b->data, g_bytes_unref);
  g_free (b);
}

void
cairn_image_free (CairnImage *img)
{
  if (!img)
    return;
  g_free (img->commit);
  g_clear_pointer (&img->layers, g_ptr_array_unref);
  blob_free (img->config);
  blob_free (img->manifest);
  g_free (img);
}

static CairnImageBlob *
bytes_blob (const char *media_type, GBytes *data)
{
  CairnImageBlob *b = g_new0 (CairnImageBlob, 1);
  b->media_type = g_strdup (media_type);
  b->data = g_bytes_ref (data);
  b->size = g_bytes_get_size (data);
  g_autofree char *hex = cairn_checksum_bytes (g_bytes_get_data (data, NULL), b->size);
  b->digest = g_strconcat ("sha256:", hex, NULL);
  return b;
}

/* The commits that become layers, oldest first. */
static gboolean
layer_commits (CairnRepo *repo, const char *commit, gboolean parents, GPtrArray *out,
               GError **error)
{
  g_autoptr (GPtrArray) chain = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cur = g_strdup (commit);
  char *prev_tree = NULL;
  while (cur && chain->len < MAX_LAYERS)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (repo, cur, &c, error))
        return FALSE;
      g_ptr_array_add (chain, g_steal_pointer (&cur));
      if (!parents || !c.parent || cairn_repo_commit_is_partial (repo, c.parent)
          || !cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT, c.parent))
        break;
      cur = g_strdup (c.parent);
    }
  for (guint i = chain->len; i > 0; i--)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (repo, chain->pdata[i - 1], &c, error))
        return FALSE;
      g_autofree char *tree = g_strconcat (c.root_tree, c.root_meta, NULL);
      if (prev_tree && strcmp (prev_tree, tree) == 0)
        continue;
      g_free (prev_tree);
      prev_tree = g_steal_pointer (&tree);
      g_ptr_array_add (out, g_strdup (chain->pdata[i - 1]));
    }
  g_free (prev_tree);
  return TRUE;
}

static CairnImageBlob *
build_layer (CairnRepo *repo, const char *commit, const char *base, CairnExportCompress compress,
             int tmp_dfd, GError **error)
{
  CairnImageBlob *b = g_new0 (CairnImageBlob, 1);
  const char *mt = _cairn_compress_layer_media_type (compress);
  b->media_type = g_strdup (mt ? mt : CAIRN_OCI_LAYER_TYPE "+xz");
  if (!cairn_tmpfile_open (tmp_dfd, 0644, &b->tmp, error))
    return blob_free (b), NULL;
  g_autoptr (CairnCompressor) z = _cairn_compressor_new (compress, b->tmp.fd);
  if (!_cairn_export_layer (repo, commit, base, z, error)
      || !_cairn_compressor_finish (z, &b->diff_id, &b->digest, &b->size, error))
    return blob_free (b), NULL;
  return b;
}

static char *
rfc3339 (guint64 ts)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc ((gint64)ts);
  return dt ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("1970-01-01T00:00:00Z");
}

static void
write_strv_member (CairnJsonWriter *w, GVariant *meta, const char *key, const char *json)
{
  g_autofree const char **v = NULL;
  if (!g_variant_lookup (meta, key, "^a&s", &v))
    return;
  _cairn_jw_key (w, json);
  _cairn_jw_begin_array (w);
  for (const char **p = v; *p; p++)
    _cairn_jw_string (w, *p);
  _cairn_jw_end_array (w);
}

static void
write_str_member (CairnJsonWriter *w, GVariant *meta, const char *key, const char *json)
{
  const char *v = NULL;
  if (g_variant_lookup (meta, key, "&s", &v))
    _cairn_jw_member_string (w, json, v);
}

/* The runtime part of the config: what `cairn import` and `cairn pull`
 * recorded (Labels sorted, as the metadata keeps them). */
static void
write_run_config (CairnJsonWriter *w, GVariant *meta)
{
  _cairn_jw_key (w, "config");
  _cairn_jw_begin_object (w);
  write_str_member (w, meta, CAIRN_META_OCI_USER, "User");
  write_strv_member (w, meta, CAIRN_META_OCI_ENV, "Env");
  write_strv_member (w, meta, CAIRN_META_OCI_ENTRYPOINT, "Entrypoint");
  write_strv_member (w, meta, CAIRN_META_OCI_CMD, "Cmd");
  write_str_member (w, meta, CAIRN_META_OCI_WORKDIR, "WorkingDir");
  g_autoptr (GVariant) labels
      = g_variant_lookup_value (meta, CAIRN_META_OCI_LABELS, G_VARIANT_TYPE ("a{ss}"));
  if (labels && g_variant_n_children (labels) > 0)
    {
      g_autoptr (GPtrArray) keys = g_ptr_array_new ();
      for (gsize i = 0; i < g_variant_n_children (labels); i++)
        {
          const char *k;
          g_variant_get_child (labels, i, "{&s&s}", &k, NULL);
          g_ptr_array_add (keys, (char *)k);
        }
      g_ptr_array_sort (keys, (GCompareFunc)g_strcmp0);
      _cairn_jw_key (w, "Labels");
      _cairn_jw_begin_object (w);
      for (guint i = 0; i < keys->len; i++)
        {
          const char *v = NULL;
          g_variant_lookup (labels, keys->pdata[i], "&s", &v);
          _cairn_jw_member_string (w, keys->pdata[i], v);
        }
      _cairn_jw_end_object (w);
    }
  _cairn_jw_end_object (w);
}

static gboolean
write_history (CairnJsonWriter *w, CairnRepo *repo, GPtrArray *commits, GError **error)
{
  _cairn_jw_key (w, "history");
  _cairn_jw_begin_array (w);
  for (guint i = 0; i < commits->len; i++)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (repo, commits->pdata[i], &c, error))
        return FALSE;
      g_autofree char *created = rfc3339 (c.timestamp);
      g_autofree char *by = g_strconcat ("cairn commit ", (char *)commits->pdata[i], NULL);
      _cairn_jw_begin_object (w);
      _cairn_jw_member_string (w, "created", created);
      _cairn_jw_member_string (w, "created_by", by);
      if (c.subject && *c.subject)
        _cairn_jw_member_string (w, "comment", c.subject);
      _cairn_jw_end_object (w);
    }
  _cairn_jw_end_array (w);
  return TRUE;
}

static gboolean
has_image_metadata (GVariant *meta)
{
  GVariantIter it;
  const char *k;
  g_variant_iter_init (&it, meta);
  while (g_variant_iter_next (&it, "{&sv}", &k, NULL))
    if (g_str_has_prefix (k, "cairn.oci.") && strcmp (k, CAIRN_META_OCI_SOURCE) != 0
        && strcmp (k, CAIRN_META_OCI_LAYERS) != 0)
      return TRUE;
  return FALSE;
}

/* The image metadata of @commit, or of its nearest ancestor in the store
 * that has some: a commit made on top of an imported or pulled image (a
 * checkout changed and committed) keeps the image's config, as a
 * Dockerfile's FROM does. */
static GVariant *
image_metadata (CairnRepo *repo, const CairnCommit *top)
{
  if (has_image_metadata (top->metadata))
    return g_variant_ref (top->metadata);
  g_autofree char *cur = g_strdup (top->parent);
  for (int depth = 0; cur && depth < 1024; depth++)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (repo, cur, &c, NULL))
        break;
      if (has_image_metadata (c.metadata))
        return g_variant_ref (c.metadata);
      g_free (cur);
      cur = g_strdup (c.parent);
    }
  return g_variant_ref (top->metadata);
}

static GBytes *
config_json (CairnRepo *repo, const CairnCommit *top, GPtrArray *commits, GPtrArray *layers,
             GError **error)
{
  CairnJsonWriter w;
  _cairn_jw_init (&w);
  g_autofree char *created = rfc3339 (top->timestamp);
  g_autoptr (GVariant) meta = image_metadata (repo, top);
  const char *arch = NULL;
  if (!g_variant_lookup (meta, CAIRN_META_OCI_ARCH, "&s", &arch))
    arch = _cairn_oci_host_arch ();
  _cairn_jw_begin_object (&w);
  _cairn_jw_member_string (&w, "created", created);
  _cairn_jw_member_string (&w, "architecture", arch);
  _cairn_jw_member_string (&w, "os", "linux");
  write_run_config (&w, meta);
  _cairn_jw_key (&w, "rootfs");
  _cairn_jw_begin_object (&w);
  _cairn_jw_member_string (&w, "type", "layers");
  _cairn_jw_key (&w, "diff_ids");
  _cairn_jw_begin_array (&w);
  for (guint i = 0; i < layers->len; i++)
    _cairn_jw_string (&w, ((CairnImageBlob *)layers->pdata[i])->diff_id);
  _cairn_jw_end_array (&w);
  _cairn_jw_end_object (&w);
  gboolean ok = write_history (&w, repo, commits, error);
  _cairn_jw_end_object (&w);
  g_autoptr (GBytes) b = _cairn_jw_finish (&w);
  return ok ? g_steal_pointer (&b) : NULL;
}

static void
write_descriptor (CairnJsonWriter *w, const CairnImageBlob *b)
{
  _cairn_jw_begin_object (w);
  _cairn_jw_member_string (w, "mediaType", b->media_type);
  _cairn_jw_member_string (w, "digest", b->digest);
  _cairn_jw_member_int (w, "size", (gint64)b->size);
  _cairn_jw_end_object (w);
}

static GBytes *
manifest_json (const CairnImage *img)
{
  CairnJsonWriter w;
  _cairn_jw_init (&w);
  _cairn_jw_begin_object (&w);
  _cairn_jw_member_int (&w, "schemaVersion", 2);
  _cairn_jw_member_string (&w, "mediaType", CAIRN_OCI_MANIFEST_TYPE);
  _cairn_jw_key (&w, "config");
  write_descriptor (&w, img->config);
  _cairn_jw_key (&w, "layers");
  _cairn_jw_begin_array (&w);
  for (guint i = 0; i < img->layers->len; i++)
    write_descriptor (&w, img->layers->pdata[i]);
  _cairn_jw_end_array (&w);
  _cairn_jw_end_object (&w);
  return _cairn_jw_finish (&w);
}

CairnImage *
cairn_image_build (CairnRepo *repo, const char *rev, const CairnImageBuildOptions *opts,
                   int tmp_dfd, GError **error)
{
  if (!_cairn_compress_layer_media_type (opts->compress) && !opts->any_compression)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "OCI image layers are compressed with gzip, zstd or none, not xz"),
           NULL;
  g_autoptr (CairnImage) img = g_new0 (CairnImage, 1);
  img->commit = cairn_repo_resolve_rev (repo, rev, FALSE, error);
  if (!img->commit)
    return NULL;
  img->layers = g_ptr_array_new_with_free_func ((GDestroyNotify)blob_free);
  g_autoptr (GPtrArray) commits = g_ptr_array_new_with_free_func (g_free);
  g_auto (CairnCommit) top = { 0 };
  if (!cairn_repo_load_commit (repo, img->commit, &top, error)
      || !layer_commits (repo, img->commit, opts->layers_parents, commits, error))
    return NULL;
  for (guint i = 0; i < commits->len; i++)
    {
      CairnImageBlob *b = build_layer (repo, commits->pdata[i], i ? commits->pdata[i - 1] : NULL,
                                       opts->compress, tmp_dfd, error);
      if (!b)
        return NULL;
      g_ptr_array_add (img->layers, b);
    }
  g_autoptr (GBytes) config = config_json (repo, &top, commits, img->layers, error);
  if (!config)
    return NULL;
  img->config = bytes_blob (CAIRN_OCI_CONFIG_TYPE, config);
  g_autoptr (GBytes) manifest = manifest_json (img);
  img->manifest = bytes_blob (CAIRN_OCI_MANIFEST_TYPE, manifest);
  return g_steal_pointer (&img);
}
