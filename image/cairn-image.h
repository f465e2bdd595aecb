/* image/: tar and OCI/docker-archive import, tar export.
 *
 * Archives never touch the disk outside the repository: entries stream into
 * content objects (through the transaction's staging area) and an in-memory
 * CairnMTree; only the final commit becomes visible, and a failed import
 * moves no ref (the transaction's staging directory is discarded).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store.h"
#include <archive.h>
#include <archive_entry.h>

G_BEGIN_DECLS

typedef struct archive CairnArchive;
static inline void
cairn_archive_free (CairnArchive *a)
{
  /* archive_free() dispatches to the read or write handle's free. */
  (void)archive_free (a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnArchive, cairn_archive_free)
typedef struct archive_entry CairnArchiveEntry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnArchiveEntry, archive_entry_free)

/* What an import saw (besides the transaction's object counts). */
typedef struct
{
  guint64 entries;         /* archive entries read (all layers) */
  guint64 files;           /* regular files and symlinks imported */
  guint64 bytes;           /* bytes of regular file content */
  guint64 hardlinks;       /* hardlink entries resolved */
  guint64 whiteouts;       /* OCI whiteouts applied */
  guint n_skipped_special; /* device nodes, fifos, sockets: skipped */
  char *first_skipped;     /* path of the first one (for the warning) */
  guint n_layers;
} CairnImportStats;
void cairn_import_stats_clear (CairnImportStats *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnImportStats, cairn_import_stats_clear)

/* ---- the tar entry applier (import-tar.c), shared by OCI/docker import ---- */

/* Applies tar streams onto @root (in order, later entries win), writing
 * content objects through @txn with a thread pool. Hostile input is refused
 * with the entry named: absolute paths, "..", invalid UTF-8, a parent that
 * is not a directory (an entry "through" a symlink), hardlinks outside the
 * tree or to an entry not yet seen. Device nodes, fifos and sockets are
 * skipped and counted. */
typedef struct CairnTarImporter CairnTarImporter;
CairnTarImporter *cairn_tar_importer_new (CairnRepo *repo, CairnTxn *txn,
                                          const CairnCommitOptions *opts, CairnMTree *root);
void cairn_tar_importer_free (CairnTarImporter *imp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTarImporter, cairn_tar_importer_free)
/* Apply all entries of an opened archive. With @oci_whiteouts, ".wh.NAME"
 * deletes NAME from earlier layers and ".wh..wh..opq" hides a directory's
 * earlier contents (OCI image-spec layer.md). @label names the stream in
 * errors (a file name or layer digest). */
gboolean cairn_tar_importer_apply (CairnTarImporter *imp, struct archive *a, gboolean oci_whiteouts,
                                   const char *label, GError **error);
/* Wait for the content jobs and fill in the tree (root metadata defaults to
 * uid 0, gid 0, 0755 when no entry named it). */
gboolean cairn_tar_importer_finish (CairnTarImporter *imp, GError **error);
/* Counters; strings are copied. */
void cairn_tar_importer_get_stats (CairnTarImporter *imp, CairnImportStats *out);

/* A libarchive reader for tar streams with every compression filter. */
struct archive *cairn_tar_reader_new (void);

/* (Parent resolution and the final commit step are the store's:
 * cairn_commit_options_resolve_parent, cairn_txn_finish_commit.) */

/* ---- importers ------------------------------------------------------------ */

/* `cairn commit --tree=tar=FILE|-`: like cairn_repo_commit_tar, with stats. */
gboolean cairn_repo_import_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                                char **out_checksum, CairnTxnStats *out_txn_stats,
                                CairnImportStats *out_stats, GError **error);

/* `cairn import oci DIR[:TAG]`: pick a manifest from DIR/index.json (by the
 * org.opencontainers.image.ref.name annotation @tag, or the only one; an
 * index of several platforms gives linux/<host arch>), verify every blob's
 * sha256, apply the layers with whiteouts, record the image config in the
 * commit metadata (keys in docs/import-export.md). */
gboolean cairn_repo_import_oci (CairnRepo *repo, const char *dir, const char *tag,
                                const CairnCommitOptions *opts, char **out_checksum,
                                CairnImportStats *out_stats, GError **error);

/* `cairn import docker-archive FILE`: the `docker save` format (manifest.json,
 * config, layer tars). @tag picks among several images (RepoTags). */
gboolean cairn_repo_import_docker_archive (CairnRepo *repo, const char *file, const char *tag,
                                           const CairnCommitOptions *opts, char **out_checksum,
                                           CairnImportStats *out_stats, GError **error);

/* Commit metadata keys holding the image config (as in docs/import-export.md). */
#define CAIRN_META_OCI_ENTRYPOINT "cairn.oci.entrypoint"    /* as */
#define CAIRN_META_OCI_CMD "cairn.oci.cmd"                  /* as */
#define CAIRN_META_OCI_ENV "cairn.oci.env"                  /* as, "K=V" */
#define CAIRN_META_OCI_WORKDIR "cairn.oci.workdir"          /* s */
#define CAIRN_META_OCI_USER "cairn.oci.user"                /* s */
#define CAIRN_META_OCI_MANIFEST "cairn.oci.manifest-digest" /* s, "sha256:…" */
#define CAIRN_META_OCI_CONFIG "cairn.oci.config-digest"     /* s, "sha256:…" */
#define CAIRN_META_OCI_ARCH "cairn.oci.architecture"        /* s */
#define CAIRN_META_OCI_LABELS "cairn.oci.labels"            /* a{ss} */
/* Written by `cairn pull docker://`: */
#define CAIRN_META_OCI_SOURCE "cairn.oci.source" /* s: "docker://HOST/NAME:TAG" */
#define CAIRN_META_OCI_LAYERS "cairn.oci.layers" /* as: layer digests, bottom first */

/* Commit a tarball (FILE or "-" for stdin; compression detected) to a branch
 * without extracting it: entries stream into objects and an in-memory tree
 * (import-tar.c). */
gboolean cairn_repo_commit_tar (CairnRepo *repo, const char *file, const CairnCommitOptions *opts,
                                char **out_checksum, CairnTxnStats *out_stats, GError **error);

/* ---- export (export.c) ---------------------------------------------------- */

typedef enum
{
  CAIRN_EXPORT_COMPRESS_NONE,
  CAIRN_EXPORT_COMPRESS_GZIP,
  CAIRN_EXPORT_COMPRESS_ZSTD,
  CAIRN_EXPORT_COMPRESS_XZ,
} CairnExportCompress;

typedef struct
{
  const char *subpath; /* NULL or "/": the whole tree */
  CairnExportCompress compress;
  gboolean no_hardlinks; /* emit every file in full */
  void (*progress) (guint64 files_done, guint64 bytes_done, gpointer data);
  gpointer progress_data;
} CairnExportOptions;

/* Write the tree of @rev (a ref or commit) as a pax tar to @out_fd: owners
 * (numeric), modes, symlinks, xattrs (SCHILY.xattr), directories first,
 * entries in dirtree order. Regular files with the same content checksum
 * (hence identical content and metadata) after the first are written as
 * hardlinks to it. Re-importing the tar gives the same root tree. */
gboolean cairn_repo_export (CairnRepo *repo, const char *rev, int out_fd,
                            const CairnExportOptions *opts, GError **error);

/* ---- OCI images built from commits (build.c, export-oci.c) ------------------- */

typedef struct
{
  CairnExportCompress compress; /* of the layers: none, gzip or zstd */
  gboolean layers_parents;      /* one layer per commit of the history, else one */
  gboolean any_compression;     /* xz too (docker-archive: readers decompress any layer) */
} CairnImageBuildOptions;

/* One blob of a built image. */
typedef struct
{
  char *media_type;
  char *digest; /* "sha256:…" */
  guint64 size;
  char *diff_id; /* layers: digest of the uncompressed tar */
  int fd;        /* layers: the blob (read with pread), -1 otherwise */
  char *file;    /* layers: its name in the image's blob_dfd */
  GBytes *data;  /* config and manifest: the bytes */
} CairnImageBlob;

typedef struct
{
  char *commit;
  GPtrArray *layers; /* CairnImageBlob*, bottom first */
  CairnImageBlob *config;
  CairnImageBlob *manifest; /* an OCI image manifest */
  int blob_dfd;             /* where the layer files are (the built-layer cache) */
} CairnImage;

void cairn_image_free (CairnImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnImage, cairn_image_free)

/* Build the OCI image of @rev (docs/import-export.md, "Building images"):
 * the layer tar(s) from the tree (with --layers=parents one per commit,
 * oldest first, each holding what changed, with whiteouts), the config from
 * the commit's cairn.oci.* metadata, an OCI manifest. The same commit and
 * options always give the same digests. Layer blobs are kept in the
 * built-layer cache (extensions/cairn/oci-built/, the newest few), so that
 * building the same layer again costs nothing. */
CairnImage *cairn_image_build (CairnRepo *repo, const char *rev, const CairnImageBuildOptions *opts,
                               GError **error);

/* `cairn export --format=oci DIR[:TAG]`: add the image to the OCI layout
 * DIR (created when missing; an index.json entry with the same tag is
 * replaced, others are kept). @tag may be NULL. */
gboolean cairn_repo_export_oci (CairnRepo *repo, const char *rev, const char *dir, const char *tag,
                                const CairnImageBuildOptions *opts, char **out_manifest_digest,
                                GError **error);

/* `cairn export --format=docker-archive FILE[:NAME:TAG]`: the `docker save`
 * format (manifest.json, the config as HEX.json, each layer as DIFFID.tar)
 * written to @fd. Layers are plain tars as docker save writes them, or
 * compressed with @compress (docker load and containers/image decompress
 * them). @name_tag may be NULL. */
gboolean cairn_repo_export_docker_archive (CairnRepo *repo, const char *rev, int fd,
                                           const char *name_tag, gboolean layers_parents,
                                           CairnExportCompress compress, GError **error);

G_END_DECLS
