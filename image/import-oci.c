/* OCI image layout and docker-archive import.
 *
 * OCI (image-spec v1.1, image-layout.md): index.json lists manifests; one is
 * picked by the org.opencontainers.image.ref.name annotation or because it
 * is the only one; an index of several platforms gives linux/<host arch>.
 * Every blob is read through SHA-256 and must match its descriptor's digest
 * (layers are hashed while they stream; a mismatch fails the whole import,
 * before anything is committed). Layers are applied in order with whiteouts
 * (layer.md: ".wh.NAME", ".wh..wh..opq").
 *
 * docker-archive (`docker save`): manifest.json + config + layer tars inside
 * one tar. Layers are read straight out of the outer tar (one pass over it
 * per layer; nothing is unpacked) and checked against the config's
 * rootfs.diff_ids.
 *
 * JSON is parsed by a small strict parser into GVariants (objects a{sv},
 * arrays av, strings s, numbers d, booleans b, null as an empty maybe).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/cairn-store-lowlevel.h"
#include "image/image-private.h"
#include <openssl/evp.h>
#include <string.h>

#define JSON_MAX (16u << 20)
#define READ_BUF (1u << 20)

/* ---- digests ------------------------------------------------------------------- */

typedef struct
{
  EVP_MD_CTX *md;
  guint64 size;
} Hash;

static void
hash_init (Hash *h)
{
  h->md = EVP_MD_CTX_new ();
  h->size = 0;
  EVP_DigestInit_ex (h->md, cairn_sha256 (), NULL);
}

static void
hash_end (Hash *h, char out_hex[65])
{
  guint8 md[32];
  EVP_DigestFinal_ex (h->md, md, NULL);
  EVP_MD_CTX_free (h->md);
  h->md = NULL;
  cairn_checksum_to_hex (md, out_hex);
}

/* ---- streaming sources ----------------------------------------------------------- */

/* Bytes fed to libarchive pass through a SHA-256; afterwards the rest of the
 * source is drained through it too, so the digest covers the whole blob. */
typedef struct
{
  Hash hash;
  int fd;                /* a blob file, or -1 */
  struct archive *outer; /* or the current member of an outer tar */
  guint8 *buf;
  gboolean io_error;
  /* docker-archive: the layer was compressed, so its diff_id (the digest of
   * the tar) must be checked on the decompressed bytes (second pass) */
  gboolean check_decompressed;
} Source;

static la_ssize_t
source_read (struct archive *a, void *data, const void **out_buf)
{
  Source *s = data;
  la_ssize_t r;
  if (s->fd >= 0)
    {
      do
        r = read (s->fd, s->buf, READ_BUF);
      while (r < 0 && errno == EINTR);
      if (r < 0)
        archive_set_error (a, errno, "read failed");
    }
  else
    {
      r = archive_read_data (s->outer, s->buf, READ_BUF);
      if (r < 0)
        archive_set_error (a, EIO, "%s", archive_error_string (s->outer));
    }
  if (r < 0)
    {
      s->io_error = TRUE;
      return ARCHIVE_FATAL;
    }
  if (r > 0)
    {
      EVP_DigestUpdate (s->hash.md, s->buf, r);
      s->hash.size += r;
    }
  *out_buf = s->buf;
  return r;
}

static gboolean
source_drain (Source *s, GError **error)
{
  struct archive *dummy = archive_read_new ();
  const void *b;
  la_ssize_t r;
  while ((r = source_read (dummy, s, &b)) > 0)
    ;
  if (r < 0)
    cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s", archive_error_string (dummy));
  archive_read_free (dummy);
  return r == 0;
}

/* Apply one layer stream and check its digest (@want_hex, or any of @alt). */
static gboolean
apply_layer (CairnTarImporter *imp, Source *src, const char *label, const char *want_hex,
             const char *alt_hex, GError **error)
{
  hash_init (&src->hash);
  src->buf = g_malloc (READ_BUF);
  g_autoptr (CairnArchive) a = cairn_tar_reader_new ();
  gboolean ok = archive_read_open (a, src, NULL, source_read, NULL) == ARCHIVE_OK;
  if (!ok)
    cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", label, archive_error_string (a));
  ok = ok && cairn_tar_importer_apply (imp, a, TRUE, label, error) && source_drain (src, error);
  char hex[65];
  hash_end (&src->hash, hex);
  g_clear_pointer (&src->buf, g_free);
  if (!ok)
    return FALSE;
  gboolean compressed = archive_filter_count (a) > 1 || archive_filter_code (a, 0) != 0;
  if (src->outer && compressed && strcmp (hex, want_hex) != 0)
    {
      src->check_decompressed = TRUE;
      return TRUE;
    }
  if (strcmp (hex, want_hex) != 0 && (!alt_hex || strcmp (hex, alt_hex) != 0))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "layer %s: digest mismatch (content hashes to sha256:%s)", label, hex);
  return TRUE;
}

/* ---- image config -> commit metadata ------------------------------------------------ */

/* Shared tail: finish the tree, commit with the config metadata. */
static gboolean
commit_image (CairnRepo *repo, CairnTxn *txn, CairnTarImporter *imp, CairnMTree *tree,
              const CairnCommitOptions *opts, const char *parent, GVariant *config,
              const char *manifest_digest, const char *config_digest, char **out_checksum,
              CairnImportStats *out_stats, GError **error)
{
  if (!cairn_tar_importer_finish (imp, error))
    return FALSE;
  g_autoptr (GVariant) meta
      = _cairn_oci_config_metadata (opts, config, manifest_digest, config_digest, NULL);
  CairnCommitOptions o = *opts;
  o.extra_metadata = meta;
  if (!cairn_txn_finish_commit (txn, &o, parent, tree, out_checksum, error))
    return FALSE;
  if (out_stats)
    cairn_tar_importer_get_stats (imp, out_stats);
  return TRUE;
}

/* ---- OCI layout ----------------------------------------------------------------------- */

static GBytes *
read_blob (int dfd, const char *digest, GError **error)
{
  const char *hex = _cairn_digest_hex (digest, error);
  if (!hex)
    return NULL;
  g_autofree char *path = g_strconcat ("blobs/sha256/", hex, NULL);
  g_autoptr (GBytes) b = cairn_file_get_contents_at (dfd, path, JSON_MAX, error);
  if (!b)
    return cairn_prefix_error (error, "blob %s", digest), NULL;
  gsize len;
  const void *p = g_bytes_get_data (b, &len);
  g_autofree char *got = cairn_checksum_bytes (p, len);
  if (strcmp (got, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "blob %s: digest mismatch (content hashes to sha256:%s)", digest, got),
           NULL;
  return g_steal_pointer (&b);
}

/* Follow nested indexes down to an image manifest; returns it and its digest. */
static GVariant *
resolve_manifest (int dfd, GVariant *index, const char *tag, char **out_digest, GError **error)
{
  g_autoptr (GVariant) desc = _cairn_oci_select_descriptor (index, tag, NULL, error);
  for (int depth = 0; desc && depth < 4; depth++)
    {
      g_autofree char *digest = cairn_json_dup_string (desc, "digest");
      g_autoptr (GBytes) blob = read_blob (dfd, digest, error);
      if (!blob)
        return NULL;
      g_autoptr (GVariant) obj = cairn_json_parse (blob, digest, error);
      if (!obj)
        return NULL;
      g_autofree char *mt = cairn_json_dup_string (obj, "mediaType");
      g_autoptr (GVariant) manifests = cairn_json_get (obj, "manifests", G_VARIANT_TYPE ("av"));
      if (!manifests || g_strcmp0 (mt, "application/vnd.oci.image.manifest.v1+json") == 0)
        {
          *out_digest = g_steal_pointer (&digest);
          return g_steal_pointer (&obj);
        }
      g_clear_pointer (&desc, g_variant_unref);
      desc = _cairn_oci_select_descriptor (obj, NULL, NULL, error);
    }
  if (desc)
    cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "image indexes nested too deeply");
  return NULL;
}

static gboolean
apply_oci_layers (CairnTarImporter *imp, int dfd, GVariant *manifest, GError **error)
{
  g_autoptr (GVariant) arr = cairn_json_get (manifest, "layers", G_VARIANT_TYPE ("av"));
  g_autoptr (GPtrArray) layers = cairn_json_objects (arr);
  for (guint i = 0; i < layers->len; i++)
    {
      g_autofree char *digest = cairn_json_dup_string (layers->pdata[i], "digest");
      const char *hex = _cairn_digest_hex (digest, error);
      if (!hex)
        return FALSE;
      g_autofree char *path = g_strconcat ("blobs/sha256/", hex, NULL);
      Source src = { .fd = -1 };
      if (!cairn_openat_rdonly (dfd, path, FALSE, &src.fd, error))
        return cairn_prefix_error (error, "layer %s", digest);
      gboolean ok = apply_layer (imp, &src, digest, hex, NULL, error);
      cairn_close_fdp (&src.fd);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

gboolean
cairn_repo_import_oci (CairnRepo *repo, const char *dir, const char *tag,
                       const CairnCommitOptions *opts, char **out_checksum,
                       CairnImportStats *out_stats, GError **error)
{
  g_autofree char *parent = NULL;
  if (!_cairn_import_resolve_parent (repo, opts, &parent, error))
    return FALSE;
  cairn_autofd dfd = -1;
  if (!cairn_opendirat (AT_FDCWD, dir, TRUE, &dfd, error))
    return FALSE;
  g_autoptr (GBytes) index_bytes = cairn_file_get_contents_at (dfd, "index.json", JSON_MAX, error);
  if (!index_bytes)
    return cairn_prefix_error (error, "%s: not an OCI image layout", dir);
  g_autoptr (GVariant) index = cairn_json_parse (index_bytes, "index.json", error);
  g_autofree char *manifest_digest = NULL;
  g_autoptr (GVariant) manifest
      = index ? resolve_manifest (dfd, index, tag, &manifest_digest, error) : NULL;
  if (!manifest)
    return cairn_prefix_error (error, "%s", dir);
  g_autoptr (GVariant) cdesc = cairn_json_get (manifest, "config", G_VARIANT_TYPE_VARDICT);
  g_autofree char *config_digest = cairn_json_dup_string (cdesc, "digest");
  g_autoptr (GBytes) config_bytes = read_blob (dfd, config_digest, error);
  g_autoptr (GVariant) config
      = config_bytes ? cairn_json_parse (config_bytes, "image config", error) : NULL;
  if (!config)
    return cairn_prefix_error (error, "%s: config", dir);
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, error);
  if (!txn)
    return FALSE;
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  g_autoptr (CairnTarImporter) imp = cairn_tar_importer_new (repo, txn, opts, tree);
  if (!apply_oci_layers (imp, dfd, manifest, error))
    return cairn_prefix_error (error, "%s", dir);
  return commit_image (repo, txn, imp, tree, opts, parent, config, manifest_digest, config_digest,
                       out_checksum, out_stats, error);
}

/* ---- docker-archive ---------------------------------------------------------------------- */

/* Resolve a member symlink's target relative to the member's directory
 * (skopeo writes ID/layer.tar -> ../HEX.tar). Only used to match member
 * names, never as a filesystem path. */
static char *
member_link_target (const char *member, const char *target)
{
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_auto (GStrv) a = g_strsplit (member, "/", -1);
  g_auto (GStrv) b = g_strsplit (target, "/", -1);
  guint na = g_strv_length (a);
  for (guint i = 0; target[0] != '/' && i + 1 < na; i++)
    g_ptr_array_add (parts, a[i]);
  for (char **c = b; *c; c++)
    {
      if (**c == '\0' || strcmp (*c, ".") == 0)
        continue;
      if (strcmp (*c, "..") == 0)
        {
          if (parts->len)
            g_ptr_array_remove_index (parts, parts->len - 1);
          continue;
        }
      g_ptr_array_add (parts, *c);
    }
  g_ptr_array_add (parts, NULL);
  return g_strjoinv ("/", (char **)parts->pdata);
}

static struct archive *outer_open_1 (int fd, const char *file, const char *name, GHashTable *jsons,
                                     char **out_link, GError **error);

/* Open the outer tar and stop at member @name, following member symlinks
 * (NULL: read through, keeping small .json members in @jsons). */
static struct archive *
outer_open (int fd, const char *file, const char *name, GHashTable *jsons, GError **error)
{
  g_autofree char *cur = g_strdup (name);
  for (int hops = 0; hops < 8; hops++)
    {
      g_autofree char *link = NULL;
      struct archive *a = outer_open_1 (fd, file, cur, jsons, &link, error);
      if (a || !link)
        return a;
      g_free (cur);
      cur = member_link_target (cur, link);
    }
  return cairn_throw_code (error, G_IO_ERROR_TOO_MANY_LINKS, "%s: too many member symlinks", file),
         NULL;
}

static struct archive *
outer_open_1 (int fd, const char *file, const char *name, GHashTable *jsons, char **out_link,
              GError **error)
{
  if (lseek (fd, 0, SEEK_SET) < 0)
    return cairn_throw_errno (error, "%s: seek (a docker-archive must be a regular file)", file),
           NULL;
  g_autoptr (CairnArchive) a = cairn_tar_reader_new ();
  if (archive_read_open_fd (a, fd, READ_BUF) != ARCHIVE_OK)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", file,
                             archive_error_string (a)),
           NULL;
  struct archive_entry *e;
  int r;
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      const char *p = archive_entry_pathname (e);
      if (p && name && strcmp (p, name) == 0 && archive_entry_filetype (e) == AE_IFLNK)
        {
          *out_link = g_strdup (archive_entry_symlink (e));
          return NULL;
        }
      if (!p || archive_entry_filetype (e) != AE_IFREG)
        continue;
      if (name && strcmp (p, name) == 0)
        return g_steal_pointer (&a);
      if (jsons && g_str_has_suffix (p, ".json") && archive_entry_size (e) <= JSON_MAX)
        {
          gsize len = archive_entry_size (e);
          g_autofree guint8 *buf = g_malloc (MAX (len, 1));
          if (archive_read_data (a, buf, len) != (la_ssize_t)len)
            break;
          g_hash_table_replace (jsons, g_strdup (p),
                                g_bytes_new_take (g_steal_pointer (&buf), len));
        }
    }
  if (r != ARCHIVE_EOF)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", file,
                             archive_error_string (a)),
           NULL;
  if (name)
    {
      g_autofree char *esc = cairn_escape_name (name, -1);
      return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s: no member '%s'", file, esc), NULL;
    }
  return g_steal_pointer (&a);
}

/* A docker reference in its full form, as docker and skopeo write RepoTags:
 * a name without a registry domain is on docker.io, a one-component name
 * there is under library/, a name without a tag or digest is :latest. (A
 * bare tag such as "t" reads as the name "t"; the caller also compares the
 * reference as a tag.) */
static char *
normalize_reference (const char *ref)
{
  const char *slash = strchr (ref, '/');
  const char *domain_end = slash ? slash : NULL;
  gboolean has_domain = FALSE;
  if (domain_end)
    {
      g_autofree char *first = g_strndup (ref, domain_end - ref);
      has_domain = strchr (first, '.') || strchr (first, ':') || strcmp (first, "localhost") == 0;
    }
  const char *last = strrchr (ref, '/');
  const char *name_part = last ? last + 1 : ref;
  gboolean tagged = strchr (name_part, ':') || strchr (name_part, '@');
  const char *prefix = has_domain ? "" : (slash ? "docker.io/" : "docker.io/library/");
  return g_strconcat (prefix, ref, tagged ? "" : ":latest", NULL);
}

static GVariant *
select_docker_image (GVariant *manifest, const char *tag, GError **error)
{
  g_autoptr (GPtrArray) imgs = g_variant_is_of_type (manifest, G_VARIANT_TYPE ("av"))
                                   ? cairn_json_objects (manifest)
                                   : NULL;
  if (!imgs || imgs->len == 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "manifest.json lists no images"), NULL;
  GString *names = g_string_new (NULL);
  GVariant *found = NULL;
  g_autofree char *want = tag ? normalize_reference (tag) : NULL;
  for (guint i = 0; i < imgs->len && !found; i++)
    {
      g_autoptr (GVariant) tags = cairn_json_strv (imgs->pdata[i], "RepoTags");
      for (gsize k = 0; tags && k < g_variant_n_children (tags); k++)
        {
          const char *t;
          g_variant_get_child (tags, k, "&s", &t);
          const char *colon = strrchr (t, ':');
          g_string_append_printf (names, "%s%s", names->len ? ", " : "", t);
          g_autofree char *full = normalize_reference (t);
          if (tag
              && (strcmp (t, tag) == 0 || (colon && strcmp (colon + 1, tag) == 0)
                  || strcmp (full, want) == 0))
            found = imgs->pdata[i];
        }
    }
  if (!tag && imgs->len == 1)
    found = imgs->pdata[0];
  if (!found)
    {
      if (tag)
        cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no image tagged '%s' (available: %s)", tag,
                          names->str);
      else
        cairn_throw_code (error, G_IO_ERROR_FAILED,
                          "%u images and none chosen; name one as FILE:TAG (available: %s)",
                          imgs->len, names->str);
      g_string_free (names, TRUE);
      return NULL;
    }
  g_string_free (names, TRUE);
  return g_variant_ref (found);
}

/* The sha256 hex a member name carries ("blobs/sha256/HEX", "HEX.json",
 * "HEX/layer.tar"), or NULL. */
static char *
name_hex (const char *name)
{
  g_autofree char *base = g_path_get_basename (name);
  if (cairn_is_checksum_string (base))
    return g_steal_pointer (&base);
  if (g_str_has_suffix (base, ".json") && strlen (base) == 69)
    return g_strndup (base, 64);
  return NULL;
}

/* The SHA-256 of a compressed layer member once decompressed (libarchive's
 * "raw" format reads the filtered stream as one entry). */
static gboolean
decompressed_digest (int fd, const char *file, const char *name, char out_hex[65], GError **error)
{
  g_autoptr (CairnArchive) outer = outer_open (fd, file, name, NULL, error);
  if (!outer)
    return FALSE;
  Source src = { .fd = -1, .outer = outer };
  src.buf = g_malloc (READ_BUF);
  hash_init (&src.hash);
  g_autoptr (CairnArchive) raw = archive_read_new ();
  archive_read_support_filter_all (raw);
  archive_read_support_format_raw (raw);
  struct archive_entry *e;
  gboolean ok = archive_read_open (raw, &src, NULL, source_read, NULL) == ARCHIVE_OK
                && archive_read_next_header (raw, &e) == ARCHIVE_OK;
  Hash plain;
  hash_init (&plain);
  g_autofree guint8 *buf = g_malloc (READ_BUF);
  la_ssize_t r = 0;
  while (ok && (r = archive_read_data (raw, buf, READ_BUF)) > 0)
    EVP_DigestUpdate (plain.md, buf, r);
  hash_end (&plain, out_hex);
  char ignored[65];
  hash_end (&src.hash, ignored);
  g_free (src.buf);
  if (!ok || r < 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: %s", name,
                             archive_error_string (raw));
  return TRUE;
}

static gboolean
apply_docker_layers (CairnTarImporter *imp, int fd, const char *file, GVariant *image,
                     GVariant *config, GError **error)
{
  g_autoptr (GVariant) layers = cairn_json_strv (image, "Layers");
  g_autoptr (GVariant) rootfs = cairn_json_get (config, "rootfs", G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) diff_ids = cairn_json_strv (rootfs, "diff_ids");
  gsize n = layers ? g_variant_n_children (layers) : 0;
  if (!diff_ids || g_variant_n_children (diff_ids) != n)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "config rootfs.diff_ids does not match the %" G_GSIZE_FORMAT " layers",
                             n);
  for (gsize i = 0; i < n; i++)
    {
      const char *name, *diff_id;
      g_variant_get_child (layers, i, "&s", &name);
      g_variant_get_child (diff_ids, i, "&s", &diff_id);
      const char *want = _cairn_digest_hex (diff_id, error);
      if (!want)
        return FALSE;
      g_autoptr (CairnArchive) outer = outer_open (fd, file, name, NULL, error);
      if (!outer)
        return FALSE;
      Source src = { .fd = -1, .outer = outer };
      g_autofree char *alt = name_hex (name);
      g_autofree char *label = cairn_escape_name (name, -1);
      if (!apply_layer (imp, &src, label, want, alt, error))
        return FALSE;
      char hex[65];
      if (src.check_decompressed
          && (!decompressed_digest (fd, file, name, hex, error) || strcmp (hex, want) != 0))
        {
          if (error && *error)
            return FALSE;
          return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                   "layer %s: digest mismatch (decompressed content hashes to "
                                   "sha256:%s, rootfs.diff_ids says sha256:%s)",
                                   label, hex, want);
        }
    }
  return TRUE;
}

gboolean
cairn_repo_import_docker_archive (CairnRepo *repo, const char *file, const char *tag,
                                  const CairnCommitOptions *opts, char **out_checksum,
                                  CairnImportStats *out_stats, GError **error)
{
  g_autofree char *parent = NULL;
  if (!_cairn_import_resolve_parent (repo, opts, &parent, error))
    return FALSE;
  cairn_autofd fd = -1;
  if (!cairn_openat_rdonly (AT_FDCWD, file, TRUE, &fd, error))
    return FALSE;
  g_autoptr (GHashTable) jsons
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  g_autoptr (CairnArchive) scan = outer_open_1 (fd, file, NULL, jsons, NULL, error);
  if (!scan)
    return FALSE;
  GBytes *mbytes = g_hash_table_lookup (jsons, "manifest.json");
  if (!mbytes)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: no manifest.json (not a docker-archive)", file);
  g_autoptr (GVariant) manifest = cairn_json_parse (mbytes, "manifest.json", error);
  g_autoptr (GVariant) image = manifest ? select_docker_image (manifest, tag, error) : NULL;
  if (!image)
    return cairn_prefix_error (error, "%s", file);
  g_autofree char *config_name = cairn_json_dup_string (image, "Config");
  GBytes *cbytes = config_name ? g_hash_table_lookup (jsons, config_name) : NULL;
  if (!cbytes)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: image config missing", file);
  g_autofree char *chex = name_hex (config_name);
  gsize clen;
  const void *cdata = g_bytes_get_data (cbytes, &clen);
  g_autofree char *cgot = cairn_checksum_bytes (cdata, clen);
  if (chex && strcmp (chex, cgot) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: config %s: digest mismatch (content hashes to sha256:%s)", file,
                             config_name, cgot);
  g_autoptr (GVariant) config = cairn_json_parse (cbytes, config_name, error);
  if (!config)
    return cairn_prefix_error (error, "%s", file);
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, error);
  if (!txn)
    return FALSE;
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  g_autoptr (CairnTarImporter) imp = cairn_tar_importer_new (repo, txn, opts, tree);
  if (!apply_docker_layers (imp, fd, file, image, config, error))
    return cairn_prefix_error (error, "%s", file);
  g_autofree char *config_digest = g_strconcat ("sha256:", cgot, NULL);
  return commit_image (repo, txn, imp, tree, opts, parent, config, NULL, config_digest,
                       out_checksum, out_stats, error);
}
