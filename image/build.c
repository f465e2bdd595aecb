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
 * Built layers are kept in extensions/cairn/oci-built/ (the CACHE_KEEP most
 * recently used), keyed by what their bytes depend on: pushing the same
 * commit to another registry, or exporting it after a push, compresses
 * nothing again. A cached blob is re-hashed before it is used.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <dirent.h>
#include <openssl/evp.h>
#include <string.h>

/* overlayfs and the registries' layer limits stop near 128 layers */
#define MAX_LAYERS 127
/* The built-layer cache: KEY.blob and KEY.desc ("DIGEST DIFF_ID SIZE"),
 * the newest CACHE_KEEP kept. KEY names what the tar depends on. */
#define CACHE_DIR "oci-built"
#define CACHE_KEEP 4
#define CACHE_FORMAT "cairn-layer-1"

static void
blob_free (CairnImageBlob *b)
{
  if (!b)
    return;
  g_free (b->media_type);
  g_free (b->digest);
  g_free (b->diff_id);
  g_free (b->file);
  cairn_close_fdp (&b->fd);
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
  cairn_close_fdp (&img->blob_dfd);
  g_free (img);
}

static CairnImageBlob *
bytes_blob (const char *media_type, GBytes *data)
{
  CairnImageBlob *b = g_new0 (CairnImageBlob, 1);
  b->fd = -1;
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

/* ---- the built-layer cache ------------------------------------------------------- */

/* What a layer's bytes depend on: its tree, its base's tree, the commit's
 * timestamp (the entries' mtime), the compression and the tar format. */
static char *
cache_key (CairnRepo *repo, const char *commit, const char *base, CairnExportCompress compress,
           GError **error)
{
  g_auto (CairnCommit) c = { 0 }, bc = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error)
      || (base && !cairn_repo_load_commit (repo, base, &bc, error)))
    return NULL;
  g_autofree char *s = g_strdup_printf (CACHE_FORMAT "\n%s %s\n%s %s\n%" G_GUINT64_FORMAT "\n%d\n",
                                        c.root_tree, c.root_meta, base ? bc.root_tree : "-",
                                        base ? bc.root_meta : "-", c.timestamp, (int)compress);
  return cairn_checksum_bytes (s, strlen (s));
}

/* The file's SHA-256 is its digest (a cached blob changed on disk is not
 * used: it would go out under a name it does not have). */
static gboolean
digest_matches (int fd, const char *digest)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (md, cairn_sha256 (), NULL);
  g_autofree guint8 *buf = g_malloc (1 << 20);
  gboolean ok = TRUE;
  for (off_t off = 0;;)
    {
      ssize_t r = pread (fd, buf, 1 << 20, off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          ok = r == 0;
          break;
        }
      EVP_DigestUpdate (md, buf, r);
      off += r;
    }
  guint8 raw[32];
  char hex[65];
  EVP_DigestFinal_ex (md, raw, NULL);
  EVP_MD_CTX_free (md);
  cairn_checksum_to_hex (raw, hex);
  return ok && strcmp (hex, digest + strlen ("sha256:")) == 0;
}

static CairnImageBlob *
cache_lookup (int dfd, const char *key)
{
  g_autofree char *desc = g_strconcat (key, ".desc", NULL);
  g_autofree char *file = g_strconcat (key, ".blob", NULL);
  g_autoptr (GBytes) d = cairn_file_get_contents_at (dfd, desc, 4096, NULL);
  if (!d)
    return NULL;
  g_autofree char *text = g_strndup (g_bytes_get_data (d, NULL), g_bytes_get_size (d));
  g_auto (GStrv) f = g_strsplit (g_strstrip (text), " ", 3);
  cairn_autofd fd = -1;
  struct stat st;
  if (g_strv_length (f) != 3 || !_cairn_digest_hex (f[0], NULL) || !_cairn_digest_hex (f[1], NULL)
      || !cairn_openat_rdonly (dfd, file, FALSE, &fd, NULL) || fstat (fd, &st) < 0
      || (guint64)st.st_size != g_ascii_strtoull (f[2], NULL, 10) || !digest_matches (fd, f[0]))
    return NULL;
  /* newest use last to be evicted */
  (void)utimensat (dfd, desc, NULL, AT_SYMLINK_NOFOLLOW);
  CairnImageBlob *b = g_new0 (CairnImageBlob, 1);
  b->digest = g_strdup (f[0]);
  b->diff_id = g_strdup (f[1]);
  b->size = st.st_size;
  b->fd = cairn_steal_fd (&fd);
  b->file = g_steal_pointer (&file);
  return b;
}

static int
cmp_mtime_desc (gconstpointer a, gconstpointer b)
{
  const struct stat *x = *(const struct stat *const *)a, *y = *(const struct stat *const *)b;
  if (x->st_mtim.tv_sec != y->st_mtim.tv_sec)
    return x->st_mtim.tv_sec < y->st_mtim.tv_sec ? 1 : -1;
  return x->st_mtim.tv_nsec < y->st_mtim.tv_nsec ? 1 : (x->st_mtim.tv_nsec > y->st_mtim.tv_nsec);
}

/* Keep the CACHE_KEEP most recently used layers (best effort: a reader
 * that opened a file keeps it), and always @keep, the one just built:
 * timestamps of the same clock tick sort in any order. */
static void
cache_evict (int dfd, const char *keep)
{
  g_autoptr (GPtrArray) stats = g_ptr_array_new_with_free_func (g_free);
  cairn_autofd it_fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = it_fd >= 0 ? fdopendir (cairn_steal_fd (&it_fd)) : NULL;
  for (struct dirent *e; dir && (e = readdir (dir));)
    {
      if (!g_str_has_suffix (e->d_name, ".desc") || strlen (e->d_name) != 64 + 5)
        continue;
      /* a stat followed by the name (kept together for the sort) */
      struct stat *st = g_malloc0 (sizeof (struct stat) + 70);
      if (fstatat (dfd, e->d_name, st, AT_SYMLINK_NOFOLLOW) == 0)
        {
          memcpy ((char *)(st + 1), e->d_name, 64);
          g_ptr_array_add (stats, st);
        }
      else
        g_free (st);
    }
  if (dir)
    closedir (dir);
  g_ptr_array_sort (stats, cmp_mtime_desc);
  guint kept = 1; /* @keep */
  for (guint i = 0; i < stats->len; i++)
    {
      const char *key = (const char *)((struct stat *)stats->pdata[i] + 1);
      if (strcmp (key, keep) == 0)
        continue;
      if (kept < CACHE_KEEP)
        {
          kept++;
          continue;
        }
      g_autofree char *desc = g_strconcat (key, ".desc", NULL);
      g_autofree char *file = g_strconcat (key, ".blob", NULL);
      (void)unlinkat (dfd, desc, 0);
      (void)unlinkat (dfd, file, 0);
    }
}

static CairnImageBlob *
build_layer (CairnRepo *repo, int dfd, const char *commit, const char *base,
             CairnExportCompress compress, GError **error)
{
  g_autofree char *key = cache_key (repo, commit, base, compress, error);
  if (!key)
    return NULL;
  const char *mt = _cairn_compress_layer_media_type (compress);
  CairnImageBlob *b = cache_lookup (dfd, key);
  if (b)
    {
      b->media_type = g_strdup (mt ? mt : CAIRN_OCI_LAYER_TYPE "+xz");
      return b;
    }
  b = g_new0 (CairnImageBlob, 1);
  b->fd = -1;
  b->media_type = g_strdup (mt ? mt : CAIRN_OCI_LAYER_TYPE "+xz");
  g_auto (CairnTmpfile) tmp = { 0 };
  if (!cairn_tmpfile_open (dfd, 0644, &tmp, error))
    return blob_free (b), NULL;
  g_autoptr (CairnCompressor) z = _cairn_compressor_new (compress, tmp.fd);
  b->file = g_strconcat (key, ".blob", NULL);
  g_autofree char *desc = g_strconcat (key, ".desc", NULL);
  if (!_cairn_export_layer (repo, commit, base, z, error)
      || !_cairn_compressor_finish (z, &b->diff_id, &b->digest, &b->size, error)
      || !cairn_tmpfile_link_at (&tmp, CAIRN_LINK_REPLACE, dfd, b->file, CAIRN_FSYNC_NONE, error))
    return blob_free (b), NULL;
  b->fd = cairn_steal_fd (&tmp.fd);
  g_autofree char *line
      = g_strdup_printf ("%s %s %" G_GUINT64_FORMAT "\n", b->digest, b->diff_id, b->size);
  if (!cairn_file_replace_contents_at (dfd, desc, line, strlen (line), 0644, CAIRN_FSYNC_NONE,
                                       error))
    return blob_free (b), NULL;
  cache_evict (dfd, key);
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
  cairn_jw_key (w, json);
  cairn_jw_begin_array (w);
  for (const char **p = v; *p; p++)
    cairn_jw_string (w, *p);
  cairn_jw_end_array (w);
}

static void
write_str_member (CairnJsonWriter *w, GVariant *meta, const char *key, const char *json)
{
  const char *v = NULL;
  if (g_variant_lookup (meta, key, "&s", &v))
    cairn_jw_member_string (w, json, v);
}

/* The runtime part of the config: what `cairn import` and `cairn pull`
 * recorded (Labels sorted, as the metadata keeps them). */
static void
write_run_config (CairnJsonWriter *w, GVariant *meta)
{
  cairn_jw_key (w, "config");
  cairn_jw_begin_object (w);
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
      cairn_jw_key (w, "Labels");
      cairn_jw_begin_object (w);
      for (guint i = 0; i < keys->len; i++)
        {
          const char *v = NULL;
          g_variant_lookup (labels, keys->pdata[i], "&s", &v);
          cairn_jw_member_string (w, keys->pdata[i], v);
        }
      cairn_jw_end_object (w);
    }
  cairn_jw_end_object (w);
}

static gboolean
write_history (CairnJsonWriter *w, CairnRepo *repo, GPtrArray *commits, GError **error)
{
  cairn_jw_key (w, "history");
  cairn_jw_begin_array (w);
  for (guint i = 0; i < commits->len; i++)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (repo, commits->pdata[i], &c, error))
        return FALSE;
      g_autofree char *created = rfc3339 (c.timestamp);
      g_autofree char *by = g_strconcat ("cairn commit ", (char *)commits->pdata[i], NULL);
      cairn_jw_begin_object (w);
      cairn_jw_member_string (w, "created", created);
      cairn_jw_member_string (w, "created_by", by);
      if (c.subject && *c.subject)
        cairn_jw_member_string (w, "comment", c.subject);
      cairn_jw_end_object (w);
    }
  cairn_jw_end_array (w);
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
  cairn_jw_init (&w);
  g_autofree char *created = rfc3339 (top->timestamp);
  g_autoptr (GVariant) meta = image_metadata (repo, top);
  const char *arch = NULL;
  if (!g_variant_lookup (meta, CAIRN_META_OCI_ARCH, "&s", &arch))
    arch = _cairn_oci_host_arch ();
  cairn_jw_begin_object (&w);
  cairn_jw_member_string (&w, "created", created);
  cairn_jw_member_string (&w, "architecture", arch);
  cairn_jw_member_string (&w, "os", "linux");
  write_run_config (&w, meta);
  cairn_jw_key (&w, "rootfs");
  cairn_jw_begin_object (&w);
  cairn_jw_member_string (&w, "type", "layers");
  cairn_jw_key (&w, "diff_ids");
  cairn_jw_begin_array (&w);
  for (guint i = 0; i < layers->len; i++)
    cairn_jw_string (&w, ((CairnImageBlob *)layers->pdata[i])->diff_id);
  cairn_jw_end_array (&w);
  cairn_jw_end_object (&w);
  gboolean ok = write_history (&w, repo, commits, error);
  cairn_jw_end_object (&w);
  g_autoptr (GBytes) b = cairn_jw_finish (&w);
  return ok ? g_steal_pointer (&b) : NULL;
}

static void
write_descriptor (CairnJsonWriter *w, const CairnImageBlob *b)
{
  cairn_jw_begin_object (w);
  cairn_jw_member_string (w, "mediaType", b->media_type);
  cairn_jw_member_string (w, "digest", b->digest);
  cairn_jw_member_int (w, "size", (gint64)b->size);
  cairn_jw_end_object (w);
}

static GBytes *
manifest_json (const CairnImage *img)
{
  CairnJsonWriter w;
  cairn_jw_init (&w);
  cairn_jw_begin_object (&w);
  cairn_jw_member_int (&w, "schemaVersion", 2);
  cairn_jw_member_string (&w, "mediaType", CAIRN_OCI_MANIFEST_TYPE);
  cairn_jw_key (&w, "config");
  write_descriptor (&w, img->config);
  cairn_jw_key (&w, "layers");
  cairn_jw_begin_array (&w);
  for (guint i = 0; i < img->layers->len; i++)
    write_descriptor (&w, img->layers->pdata[i]);
  cairn_jw_end_array (&w);
  cairn_jw_end_object (&w);
  return cairn_jw_finish (&w);
}

static int
open_cache (CairnRepo *repo, GError **error)
{
  int ext = cairn_repo_extensions_dfd (repo, error);
  int fd = -1;
  if (ext < 0 || !cairn_mkdirat (ext, CACHE_DIR, 0700, TRUE, error)
      || !cairn_opendirat (ext, CACHE_DIR, FALSE, &fd, error))
    return -1;
  return fd;
}

CairnImage *
cairn_image_build (CairnRepo *repo, const char *rev, const CairnImageBuildOptions *opts,
                   GError **error)
{
  if (!_cairn_compress_layer_media_type (opts->compress) && !opts->any_compression)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "OCI image layers are compressed with gzip, zstd or none, not xz"),
           NULL;
  g_autoptr (CairnImage) img = g_new0 (CairnImage, 1);
  img->blob_dfd = -1;
  img->commit = cairn_repo_resolve_rev (repo, rev, FALSE, error);
  if (!img->commit || (img->blob_dfd = open_cache (repo, error)) < 0)
    return NULL;
  img->layers = g_ptr_array_new_with_free_func ((GDestroyNotify)blob_free);
  g_autoptr (GPtrArray) commits = g_ptr_array_new_with_free_func (g_free);
  g_auto (CairnCommit) top = { 0 };
  if (!cairn_repo_load_commit (repo, img->commit, &top, error)
      || !layer_commits (repo, img->commit, opts->layers_parents, commits, error))
    return NULL;
  for (guint i = 0; i < commits->len; i++)
    {
      CairnImageBlob *b = build_layer (repo, img->blob_dfd, commits->pdata[i],
                                       i ? commits->pdata[i - 1] : NULL, opts->compress, error);
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
