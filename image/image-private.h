/* What image/'s files share and no other module includes: the
 * OCI descriptor and digest helpers (the JSON reader and writer are
 * common/json.c), the image config -> commit metadata mapping and platform
 * selection (oci-meta.c), the per-layer import and the merge of layer trees
 * (layer.c), and the layer compressors (compress.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "image/cairn-image.h"
#include "store/cairn-store-lowlevel.h"

G_BEGIN_DECLS

/* The start of every import (import-tar.c): the branch name checked and the
 * parent commit resolved (opts->parent, else the branch's commit). */
gboolean _cairn_import_resolve_parent (CairnRepo *repo, const CairnCommitOptions *opts,
                                       char **out_parent, GError **error);

/* ---- OCI helpers (oci-meta.c) ----------------------------------------------- */

#define CAIRN_OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define CAIRN_OCI_INDEX_TYPE "application/vnd.oci.image.index.v1+json"
#define CAIRN_OCI_CONFIG_TYPE "application/vnd.oci.image.config.v1+json"
#define CAIRN_OCI_LAYER_TYPE "application/vnd.oci.image.layer.v1.tar"
#define CAIRN_DOCKER_MANIFEST_TYPE "application/vnd.docker.distribution.manifest.v2+json"
#define CAIRN_DOCKER_LIST_TYPE "application/vnd.docker.distribution.manifest.list.v2+json"
#define CAIRN_DOCKER_CONFIG_TYPE "application/vnd.docker.container.image.v1+json"
#define CAIRN_DOCKER_LAYER_TYPE "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* "sha256:<64 lowercase hex>" -> the hex (borrowed from @digest). Anything
 * else is refused: the hex becomes a file name or a ref component. */
const char *_cairn_digest_hex (const char *digest, GError **error);

/* The host's OCI architecture name (amd64, arm64, ...). */
const char *_cairn_oci_host_arch (void);

/* Pick one descriptor from an index's "manifests": by the
 * org.opencontainers.image.ref.name annotation @tag (NULL: any); among
 * several, the one whose platform is @platform ("os/arch[/variant]", NULL:
 * linux/<host arch>). The error lists what the index offers. */
GVariant *_cairn_oci_select_descriptor (GVariant *index, const char *tag, const char *platform,
                                        GError **error);

/* The commit metadata of an image: @opts' extra metadata first, then the
 * cairn.oci.* keys from the image config (docs/import-export.md), the
 * manifest and config digests when known. */
GVariant *_cairn_oci_config_metadata (const CairnCommitOptions *opts, GVariant *config,
                                      const char *manifest_digest, const char *config_digest,
                                      GVariant *extra);

/* ---- layers as their own trees (layer.c) ------------------------------------ */

/* Layer mode of the tar importer (import-tar.c): OCI whiteouts are not
 * applied but kept as empty files under their ".wh." names, and the
 * directories that only appear as parents of entries are recorded. */
void _cairn_tar_importer_set_layer_mode (CairnTarImporter *imp);
/* Those directories' paths ("a/b"; "" for the root), sorted, as "as". */
GVariant *_cairn_tar_importer_implicit_dirs (CairnTarImporter *imp);

/* The ref prefix of the layer cache: refs/heads/cairn/oci/layers/sha256/HEX
 * points at a commit whose tree is that layer as it is in the blob, its
 * whiteout entries kept as empty files (docs/import-export.md). */
#define CAIRN_LAYER_REF_PREFIX "cairn/oci/layers/sha256/"
/* Commit metadata of a layer commit. */
#define CAIRN_META_LAYER_DIGEST "cairn.oci.layer.digest"     /* s: blob digest */
#define CAIRN_META_LAYER_DIFF_ID "cairn.oci.layer.diff-id"   /* s: uncompressed digest */
#define CAIRN_META_LAYER_IMPLICIT "cairn.oci.layer.implicit" /* as: dirs no entry named */

/* The commit of a cached layer (NULL when not cached or incomplete). */
char *_cairn_layer_cache_lookup (CairnRepo *repo, const char *digest);
/* The cache ref of a layer digest (NULL for a malformed digest). */
char *_cairn_layer_ref (const char *digest);

/* Import one layer stream (an opened libarchive reader) as a layer commit
 * written in @txn (several layers may be imported into one transaction at
 * once, from several threads); the caller queues the cache ref. @verify,
 * called once the stream is consumed and before the commit object is
 * written, checks the blob's digest (it may fail the import). */
typedef gboolean (*CairnLayerVerifyFunc) (gpointer data, char **out_diff_id, GError **error);
gboolean _cairn_layer_import (CairnTxn *txn, struct archive *a, const char *digest,
                              CairnLayerVerifyFunc verify, gpointer verify_data, guint n_threads,
                              char **out_commit, CairnImportStats *out_stats, GError **error);

/* Apply layer commits in order (OCI layer.md: ".wh.NAME" hides NAME of the
 * lower layers, ".wh..wh..opq" all of a directory's lower contents; entries
 * of the same layer stay) and write the resulting tree; dirtrees shared
 * with a single layer are reused, not rewritten. */
gboolean _cairn_layers_merge (CairnTxn *txn, GPtrArray *layer_commits, char **out_tree,
                              char **out_meta, GError **error);

/* Each entry of the stored dirtree @dirtree, in its order (files, then
 * directories, each sorted): @fn gets the name and, for a file, its content
 * checksum and NULL, for a directory its dirtree and dirmeta checksums. The
 * names are validated; a malformed entry fails with "corrupted dirtree HEX".
 * @fn returning FALSE ends the walk with its error (layer.c). */
typedef gboolean (*CairnDirtreeFunc) (const char *name, const char *checksum, const char *meta,
                                      gpointer data, GError **error);
gboolean _cairn_dirtree_foreach (CairnRepo *repo, const char *dirtree, CairnDirtreeFunc fn,
                                 gpointer data, GError **error);
/* The keys of @h, sorted by strcmp (layer.c; they point into @h). */
GPtrArray *_cairn_sorted_keys (GHashTable *h);

/* ---- compression of built layers (compress.c) ------------------------------- */

/* A stream written through SHA-256 twice: the bytes given (the tar: its
 * digest is the layer's diff_id) and the compressed bytes that reach @fd
 * (the blob's digest). gzip is written as independent members of 1 MiB
 * input each, compressed by libdeflate on several threads: deterministic
 * (the member boundaries do not depend on the thread count) and fast. */
typedef struct CairnCompressor CairnCompressor;
CairnCompressor *_cairn_compressor_new (CairnExportCompress method, int fd);
gboolean _cairn_compressor_write (CairnCompressor *c, const void *buf, gsize len, GError **error);
/* Flush; the digests ("sha256:…") and the compressed size. */
gboolean _cairn_compressor_finish (CairnCompressor *c, char **out_diff_id, char **out_digest,
                                   guint64 *out_size, GError **error);
void _cairn_compressor_free (CairnCompressor *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnCompressor, _cairn_compressor_free)
/* The tar of @commit's tree (export.c's format and order), or with @base
 * the changes from @base's tree: directories that changed, new and changed
 * files, and a ".wh.NAME" empty file for each NAME that is gone or changed
 * between file and directory. Written through @out. */
gboolean _cairn_export_layer (CairnRepo *repo, const char *commit, const char *base,
                              CairnCompressor *out, GError **error);
/* FALSE with the error of a failed libarchive write: the errno when the
 * message is only "Write error" (export.c). */
gboolean _cairn_archive_write_error (struct archive *a, GError **error);
/* The layer media type for @method (OCI; docker-archive layers are plain). */
const char *_cairn_compress_layer_media_type (CairnExportCompress method);

G_END_DECLS
