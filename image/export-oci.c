/* Writing built images (build.c) out: into an OCI image layout
 * (image-spec image-layout.md: oci-layout, index.json, blobs/sha256/), and
 * as a docker-archive (the `docker save` format: manifest.json, the config
 * as HEX.json, each layer as HEX.tar, HEX being its diff_id; plain tars
 * unless asked otherwise).
 *
 * An existing layout is added to: index.json keeps its other manifests and
 * loses only the one with the same tag (org.opencontainers.image.ref.name),
 * blobs already there are kept (they are named by their content). Layer
 * blobs come from the built-layer cache (build.c) and are hardlinked into
 * blobs/sha256/ when the layout is on the same filesystem.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <string.h>

#define REF_NAME "org.opencontainers.image.ref.name"
#define INDEX_MAX (16u << 20)
#define COPY_BUF (1u << 20)

static gboolean
open_layout (const char *dir, int *out_dfd, int *out_blobs_dfd, GError **error)
{
  if (!cairn_mkdirat_p (AT_FDCWD, dir, 0755, error))
    return FALSE;
  cairn_autofd dfd = -1;
  if (!cairn_opendirat (AT_FDCWD, dir, TRUE, &dfd, error))
    return FALSE;
  struct stat st;
  gboolean has_layout = FALSE;
  if (!cairn_fstatat_nofollow (dfd, "oci-layout", &st, TRUE, &has_layout, error))
    return FALSE;
  if (!has_layout)
    {
      g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
      if (d && g_dir_read_name (d))
        return cairn_throw_code (error, G_IO_ERROR_EXISTS,
                                 "%s exists and is not an OCI image layout (no oci-layout file)",
                                 dir);
      static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
      if (!cairn_file_replace_contents_at (dfd, "oci-layout", layout, strlen (layout), 0644,
                                           CAIRN_FSYNC_NONE, error))
        return FALSE;
    }
  if (!cairn_mkdirat_p (dfd, "blobs/sha256", 0755, error))
    return FALSE;
  if (!cairn_opendirat (dfd, "blobs/sha256", FALSE, out_blobs_dfd, error))
    return FALSE;
  *out_dfd = cairn_steal_fd (&dfd);
  return TRUE;
}

/* A layer from the built-layer cache into blobs/sha256/: a hardlink when
 * both are on one filesystem, else a copy from the open file (also when
 * another export evicted the cache's name meanwhile: ENOENT). */
static gboolean
store_layer (CairnImage *img, CairnImageBlob *b, int blobs_dfd, GError **error)
{
  const char *hex = _cairn_digest_hex (b->digest, NULL);
  if (linkat (img->blob_dfd, b->file, blobs_dfd, hex, 0) == 0 || errno == EEXIST)
    return TRUE;
  if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOENT)
    return cairn_throw_errno (error, "blob %s", b->digest);
  g_auto (CairnTmpfile) tmp = { 0 };
  if (lseek (b->fd, 0, SEEK_SET) < 0 || !cairn_tmpfile_open (blobs_dfd, 0644, &tmp, error)
      || !cairn_copy_fd_data (b->fd, tmp.fd, error)
      || !cairn_tmpfile_link_at (&tmp, CAIRN_LINK_NOREPLACE_IGNORE, blobs_dfd, hex,
                                 CAIRN_FSYNC_NONE, error))
    return cairn_prefix_error (error, "blob %s", b->digest);
  return TRUE;
}

static gboolean
store_blobs (CairnImage *img, int blobs_dfd, GError **error)
{
  for (guint i = 0; i < img->layers->len; i++)
    if (!store_layer (img, img->layers->pdata[i], blobs_dfd, error))
      return FALSE;
  CairnImageBlob *small[] = { img->config, img->manifest };
  for (guint i = 0; i < G_N_ELEMENTS (small); i++)
    {
      gsize len;
      const void *p = g_bytes_get_data (small[i]->data, &len);
      if (!cairn_file_replace_contents_at (blobs_dfd, _cairn_digest_hex (small[i]->digest, NULL), p,
                                           len, 0644, CAIRN_FSYNC_NONE, error))
        return FALSE;
    }
  return TRUE;
}

/* The manifests of an existing index.json that stay. */
static gboolean
kept_manifests (int dfd, const char *tag, const char *digest, GPtrArray **out, GError **error)
{
  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) bytes = cairn_file_get_contents_at (dfd, "index.json", INDEX_MAX, &local);
  if (!bytes && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
  g_autoptr (GVariant) index = bytes ? cairn_json_parse (bytes, "index.json", error) : NULL;
  if (bytes && !index)
    return FALSE;
  g_autoptr (GVariant) arr = cairn_json_get (index, "manifests", G_VARIANT_TYPE ("av"));
  g_autoptr (GPtrArray) all = cairn_json_objects (arr);
  for (guint i = 0; i < all->len; i++)
    {
      g_autoptr (GVariant) ann
          = cairn_json_get (all->pdata[i], "annotations", G_VARIANT_TYPE_VARDICT);
      g_autofree char *name = cairn_json_dup_string (ann, REF_NAME);
      g_autofree char *d = cairn_json_dup_string (all->pdata[i], "digest");
      if (tag ? g_strcmp0 (name, tag) == 0 : (!name && g_strcmp0 (d, digest) == 0))
        continue;
      g_ptr_array_add (kept, g_variant_ref (all->pdata[i]));
    }
  *out = g_steal_pointer (&kept);
  return TRUE;
}

static gboolean
write_index (int dfd, CairnImage *img, const char *tag, GError **error)
{
  g_autoptr (GPtrArray) kept = NULL;
  if (!kept_manifests (dfd, tag, img->manifest->digest, &kept, error))
    return FALSE;
  CairnJsonWriter w;
  cairn_jw_init (&w);
  cairn_jw_begin_object (&w);
  cairn_jw_member_int (&w, "schemaVersion", 2);
  cairn_jw_member_string (&w, "mediaType", CAIRN_OCI_INDEX_TYPE);
  cairn_jw_key (&w, "manifests");
  cairn_jw_begin_array (&w);
  for (guint i = 0; i < kept->len; i++)
    cairn_jw_variant (&w, kept->pdata[i]);
  cairn_jw_begin_object (&w);
  cairn_jw_member_string (&w, "mediaType", img->manifest->media_type);
  cairn_jw_member_string (&w, "digest", img->manifest->digest);
  cairn_jw_member_int (&w, "size", (gint64)img->manifest->size);
  if (tag)
    {
      cairn_jw_key (&w, "annotations");
      cairn_jw_begin_object (&w);
      cairn_jw_member_string (&w, REF_NAME, tag);
      cairn_jw_end_object (&w);
    }
  cairn_jw_end_object (&w);
  cairn_jw_end_array (&w);
  cairn_jw_end_object (&w);
  g_autoptr (GBytes) b = cairn_jw_finish (&w);
  gsize len;
  const void *p = g_bytes_get_data (b, &len);
  return cairn_file_replace_contents_at (dfd, "index.json", p, len, 0644, CAIRN_FSYNC_NONE, error);
}

gboolean
cairn_repo_export_oci (CairnRepo *repo, const char *rev, const char *dir, const char *tag,
                       const CairnImageBuildOptions *opts, char **out_manifest_digest,
                       GError **error)
{
  if (tag && (!*tag || !g_utf8_validate (tag, -1, NULL) || strchr (tag, '/')))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid tag '%s'", tag);
  cairn_autofd dfd = -1, blobs_dfd = -1;
  if (!open_layout (dir, &dfd, &blobs_dfd, error))
    return FALSE;
  g_autoptr (CairnImage) img = cairn_image_build (repo, rev, opts, error);
  if (!img || !store_blobs (img, blobs_dfd, error) || !write_index (dfd, img, tag, error))
    return cairn_prefix_error (error, "%s", dir);
  if (out_manifest_digest)
    *out_manifest_digest = g_strdup (img->manifest->digest);
  return TRUE;
}

/* ---- docker-archive ---------------------------------------------------------------- */

static gboolean
add_member (struct archive *a, const char *name, guint64 size, guint64 mtime, int fd, GBytes *data,
            GError **error)
{
  g_autoptr (CairnArchiveEntry) e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, (la_int64_t)size);
  archive_entry_set_mtime (e, (time_t)mtime, 0);
  if (archive_write_header (a, e) < ARCHIVE_WARN)
    return _cairn_archive_write_error (a, error);
  if (data)
    {
      gsize len;
      const void *p = g_bytes_get_data (data, &len);
      if (len && archive_write_data (a, p, len) < 0)
        return _cairn_archive_write_error (a, error);
      return TRUE;
    }
  g_autofree guint8 *buf = g_malloc (COPY_BUF);
  for (guint64 off = 0; off < size;)
    {
      ssize_t r = pread (fd, buf, MIN (COPY_BUF, size - off), (off_t)off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return r < 0 ? cairn_throw_errno (error, "reading layer %s", name)
                     : cairn_throw (error, "layer %s: short read", name);
      if (archive_write_data (a, buf, r) < 0)
        return _cairn_archive_write_error (a, error);
      off += r;
    }
  return TRUE;
}

static GBytes *
docker_manifest (CairnImage *img, const char *name_tag)
{
  CairnJsonWriter w;
  cairn_jw_init (&w);
  cairn_jw_begin_array (&w);
  cairn_jw_begin_object (&w);
  g_autofree char *config
      = g_strconcat (_cairn_digest_hex (img->config->digest, NULL), ".json", NULL);
  cairn_jw_member_string (&w, "Config", config);
  cairn_jw_key (&w, "RepoTags");
  cairn_jw_begin_array (&w);
  if (name_tag)
    cairn_jw_string (&w, name_tag);
  cairn_jw_end_array (&w);
  cairn_jw_key (&w, "Layers");
  cairn_jw_begin_array (&w);
  for (guint i = 0; i < img->layers->len; i++)
    {
      CairnImageBlob *b = img->layers->pdata[i];
      g_autofree char *n = g_strconcat (_cairn_digest_hex (b->diff_id, NULL), ".tar", NULL);
      cairn_jw_string (&w, n);
    }
  cairn_jw_end_array (&w);
  cairn_jw_end_object (&w);
  cairn_jw_end_array (&w);
  return cairn_jw_finish (&w);
}

static gboolean
docker_writer (struct archive *a, int fd, GError **error)
{
  int r = archive_write_set_format_pax_restricted (a);
  if (r == ARCHIVE_OK)
    r = archive_write_set_bytes_in_last_block (a, 1);
  if (r == ARCHIVE_OK)
    r = archive_write_open_fd (a, fd);
  return r == ARCHIVE_OK || _cairn_archive_write_error (a, error);
}

gboolean
cairn_repo_export_docker_archive (CairnRepo *repo, const char *rev, int fd, const char *name_tag,
                                  gboolean layers_parents, CairnExportCompress compress,
                                  GError **error)
{
  CairnImageBuildOptions opts
      = { .compress = compress, .layers_parents = layers_parents, .any_compression = TRUE };
  g_autoptr (CairnImage) img = cairn_image_build (repo, rev, &opts, error);
  if (!img)
    return FALSE;
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, img->commit, &c, error))
    return FALSE;
  g_autoptr (CairnArchive) a = archive_write_new ();
  if (!docker_writer (a, fd, error))
    return FALSE;
  g_autoptr (GHashTable) written = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < img->layers->len; i++)
    {
      CairnImageBlob *b = img->layers->pdata[i];
      if (!g_hash_table_add (written, b->diff_id))
        continue;
      g_autofree char *n = g_strconcat (_cairn_digest_hex (b->diff_id, NULL), ".tar", NULL);
      if (!add_member (a, n, b->size, c.timestamp, b->fd, NULL, error))
        return FALSE;
    }
  g_autofree char *cname
      = g_strconcat (_cairn_digest_hex (img->config->digest, NULL), ".json", NULL);
  g_autoptr (GBytes) manifest = docker_manifest (img, name_tag);
  if (!add_member (a, cname, img->config->size, c.timestamp, -1, img->config->data, error)
      || !add_member (a, "manifest.json", g_bytes_get_size (manifest), c.timestamp, -1, manifest,
                      error))
    return FALSE;
  if (archive_write_close (a) != ARCHIVE_OK)
    return _cairn_archive_write_error (a, error);
  return TRUE;
}
