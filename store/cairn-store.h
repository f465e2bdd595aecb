/* store/: the OSTree-compatible repository (docs/format.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A CairnRepo is opened once into dirfds; everything after is *at().
 * Objects are named by SHA-256 (hex, 64 chars). Metadata objects are GVariant
 * normal form with big-endian integers (docs/format.md §1, §7); content objects are
 * stored per repo mode (docs/format.md §4–§6).
 */
#pragma once

#include "common/cairn-common.h"
#include <sys/stat.h>

G_BEGIN_DECLS

typedef enum
{
  CAIRN_OBJECT_FILE = 1,
  CAIRN_OBJECT_DIR_TREE = 2,
  CAIRN_OBJECT_DIR_META = 3,
  CAIRN_OBJECT_COMMIT = 4,
  CAIRN_OBJECT_TOMBSTONE_COMMIT = 5,
  CAIRN_OBJECT_COMMIT_META = 6,
} CairnObjectType;

#define CAIRN_OBJECT_IS_META(t) ((t) >= 2 && (t) <= 6)

typedef enum
{
  CAIRN_REPO_MODE_BARE,
  CAIRN_REPO_MODE_BARE_USER,
  CAIRN_REPO_MODE_BARE_USER_ONLY,
  CAIRN_REPO_MODE_ARCHIVE,
} CairnRepoMode;

/* GVariant types (docs/format.md §3.3). */
#define CAIRN_DIRTREE_GVARIANT_FORMAT G_VARIANT_TYPE ("(a(say)a(sayay))")
#define CAIRN_DIRMETA_GVARIANT_FORMAT G_VARIANT_TYPE ("(uuua(ayay))")
#define CAIRN_COMMIT_GVARIANT_FORMAT G_VARIANT_TYPE ("(a{sv}aya(say)sstayay)")
#define CAIRN_FILEHEADER_GVARIANT_FORMAT G_VARIANT_TYPE ("(uuuusa(ayay))")
#define CAIRN_ZFILEHEADER_GVARIANT_FORMAT G_VARIANT_TYPE ("(tuuuusa(ayay))")
#define CAIRN_SUMMARY_GVARIANT_FORMAT G_VARIANT_TYPE ("(a(s(taya{sv}))a{sv})")

#define CAIRN_EMPTY_DIRTREE_CHECKSUM                                                               \
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define CAIRN_MAX_METADATA_SIZE (128 * 1024 * 1024)

/* ---- checksums (checksum.c) ------------------------------------------- */

/* Hex <-> 32 raw bytes. */
void cairn_checksum_to_hex (const guint8 csum[32], char out_hex[65]);
gboolean cairn_checksum_from_hex (const char *hex, guint8 out_csum[32]);
/* A GVariant "ay" of 32 bytes from hex / to hex (NULL if not 32 bytes). */
GVariant *cairn_checksum_to_variant (const char *hex);
char *cairn_checksum_from_variant (GVariant *ay);
/* SHA-256 of a buffer, hex. */
char *cairn_checksum_bytes (const void *data, gsize len);

/* ---- file metadata ---------------------------------------------------- */

/* Logical metadata of a content object (what the header records). */
typedef struct
{
  guint32 uid;
  guint32 gid;
  guint32 mode;         /* full st_mode: S_IFREG or S_IFLNK + permission bits */
  char *symlink_target; /* NULL for regular files */
  guint64 size;         /* content size (regular files) */
  GVariant *xattrs;     /* a(ayay), sorted; never NULL once loaded */
} CairnFileInfo;

void cairn_file_info_clear (CairnFileInfo *fi);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnFileInfo, cairn_file_info_clear)

/* The a(ayay) with no entries (a floating-free, referenced variant). */
GVariant *cairn_xattrs_empty (void);

/* Read a file's xattrs (fd, or dfd+name for symlinks) into a sorted a(ayay)
 * in canonical form (docs/format.md §5.3: sorted by name, zero-length values skipped). */
GVariant *cairn_xattrs_read_fd (int fd, GError **error);
GVariant *cairn_xattrs_read_at (int dfd, const char *name, GError **error);

/* Build the checksum-form header (uuuusa(ayay)) and the archive header
 * (tuuuusa(ayay)) from @fi. */
GVariant *cairn_file_header_new (const CairnFileInfo *fi);
GVariant *cairn_zfile_header_new (const CairnFileInfo *fi);
/* The 8-byte length prefix + header bytes that start a file checksum (§5.2). */
/* cairn_file_header_prefixed (cairn_file_header_new (fi)), faster. */
/* A bare-user object's user.ostreemeta xattr (uuua(ayay)): uid, gid, mode
 * and xattrs into @fi; a mode that is not a regular file or symlink with
 * permission bits only, or a value not in normal form, is an error. */
gboolean cairn_parse_ostreemeta (const void *data, gsize len, CairnFileInfo *fi, GError **error);
GBytes *cairn_file_header_prefixed_for (const CairnFileInfo *fi);
GBytes *cairn_file_header_prefixed (GVariant *header);

/* dirmeta (uuua(ayay)) from uid/gid/mode/xattrs (integers are byte-swapped
 * here). */
GVariant *cairn_dirmeta_new (guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs);
/* Parse a dirmeta; validates the mode. */
gboolean cairn_dirmeta_parse (GVariant *dirmeta, guint32 *out_uid, guint32 *out_gid,
                              guint32 *out_mode, GVariant **out_xattrs, GError **error);

/* ---- the repository (repo.c) ------------------------------------------ */

typedef struct CairnRepo CairnRepo;

struct CairnRepo
{
  char *path;
  int repo_dfd;
  int objects_dfd;
  int tmp_dfd;
  CairnRepoMode mode;
  GKeyFile *config;
  gboolean fsync;          /* core.fsync */
  gboolean disable_xattrs; /* core.disable-xattrs */
  int zlib_level;          /* [archive] zlib-level */
  int lock_fd;             /* .lock, -1 until first locked */
  int lock_depth_shared;
  int lock_depth_exclusive;
  int lock_timeout_secs;
  dev_t dev;
  /* Staging dir of the transaction in progress (-1 if none): objects
   * written in it are visible to readers of this handle. */
  int staging_dfd;
  /* Cache of existing objects/XX dirfds (index by first byte; atomic:
   * set once from -1, see cairn_repo_objdir_fd). */
  int objdir_fds[256];
};

const char *cairn_repo_mode_to_string (CairnRepoMode mode);
gboolean cairn_repo_mode_from_string (const char *s, CairnRepoMode *out_mode, GError **error);

/* Create a repository at @path (idempotent when one already exists with the
 * same mode). Layout as `ostree init` (docs/format.md §3.1, §3.2). */
gboolean cairn_repo_create (const char *path, CairnRepoMode mode, GError **error);

/* Open an existing repository. */
CairnRepo *cairn_repo_open (const char *path, GError **error);
void cairn_repo_free (CairnRepo *repo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnRepo, cairn_repo_free)

/* Write the config key file back atomically. */
gboolean cairn_repo_write_config (CairnRepo *repo, GError **error);

/* The fsync policy objects/refs get in this repo. */
CairnFsyncPolicy cairn_repo_fsync_policy (CairnRepo *repo);

/* Repo lock: OFD locks on <repo>/.lock as OSTree (docs/format.md §9): shared for
 * writers, exclusive for prune. Recursive per repo handle. */
typedef enum
{
  CAIRN_REPO_LOCK_SHARED,
  CAIRN_REPO_LOCK_EXCLUSIVE
} CairnRepoLockType;
gboolean cairn_repo_lock_push (CairnRepo *repo, CairnRepoLockType type, GError **error);
void cairn_repo_lock_pop (CairnRepo *repo, CairnRepoLockType type);

/* The dirfd of objects/XX for a checksum (created on demand with @create). */
int cairn_repo_objdir_fd (CairnRepo *repo, const char *checksum, gboolean create, GError **error);

/* "XX/YYYY….ext" relative to objects/, and the leaf "YYYY….ext". */
char *cairn_object_relpath (const char *checksum, CairnObjectType type, CairnRepoMode mode);
char *cairn_object_leaf (const char *checksum, CairnObjectType type, CairnRepoMode mode);
const char *cairn_object_type_to_string (CairnObjectType type);

/* <repo>/extensions/cairn (created on demand). */
int cairn_repo_extensions_dfd (CairnRepo *repo, GError **error);

/* ---- reading objects (objects.c) -------------------------------------- */

gboolean cairn_repo_has_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                gboolean *out_have, GError **error);

/* Load a metadata object, checking that it is in normal form and of the
 * right type (it is NOT re-hashed: use cairn_repo_fsck_object for that).
 * Missing: G_IO_ERROR_NOT_FOUND naming the object. */
GVariant *cairn_repo_load_variant (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                   GError **error);
/* Same, FALSE with *out_variant NULL when missing. */
gboolean cairn_repo_load_variant_if_exists (CairnRepo *repo, CairnObjectType type,
                                            const char *checksum, GVariant **out_variant,
                                            GError **error);
/* The bytes of a metadata object, neither parsed nor re-hashed (for a
 * reader that checks them itself). Missing: G_IO_ERROR_NOT_FOUND naming
 * the object. */
GBytes *cairn_repo_load_metadata_bytes (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                        GError **error);

/* Open a content object: its logical metadata and, for regular files, an fd
 * positioned at the content (archive: an fd to decompressed content, via a
 * memfd/tmpfile). @out_fd may be NULL. */
/* getxattrat(2) / listxattrat(2) of @name in @dfd, not following a symlink
 * (Linux >= 6.13): -1 with errno ENOSYS on older kernels and when
 * CAIRN_NO_XATTRAT=1 (tests use it to force the open-and-read paths). */
ssize_t cairn_getxattrat (int dfd, const char *name, const char *attr, void *buf, gsize size);
ssize_t cairn_listxattrat (int dfd, const char *name, char *buf, gsize size);

/* An object's stat and info (no content fd). Bare-user regular files are
 * read without opening the object where the kernel allows (getxattrat);
 * CAIRN_NO_XATTRAT=1 forces the opening path. */
gboolean cairn_repo_load_file_info (CairnRepo *repo, const char *checksum, struct stat *out_st,
                                    CairnFileInfo *out_info, GError **error);
gboolean cairn_repo_load_file (CairnRepo *repo, const char *checksum, int *out_fd,
                               CairnFileInfo *out_info, GError **error);

/* Write the content of a regular-file object to @dst_fd (at its offset):
 * bare modes copy in the kernel, archive inflates straight into @dst_fd. */
gboolean cairn_repo_copy_file_content (CairnRepo *repo, const char *checksum, int dst_fd,
                                       GError **error);

/* Path of an object relative to objects_dfd if it exists in objects/ (not
 * staging); FALSE if missing. Fills @out_st (lstat of the object file). */
gboolean cairn_repo_stat_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                 struct stat *out_st);

/* ---- writing objects (objects.c, txn.c) -------------------------------- */

/* A transaction stages objects under tmp/staging-<boot>-XXXXXX/ and makes
 * them visible in one step (docs/format.md §9). Refs are written only after commit. */
typedef struct CairnTxn CairnTxn;
CairnTxn *cairn_txn_begin (CairnRepo *repo, GError **error);
/* syncfs once, rename staged objects into objects/, fsync object dirs. */
gboolean cairn_txn_commit (CairnTxn *txn, GError **error);
/* Queue a ref update applied after the objects are durable. NULL checksum
 * deletes. @remote may be NULL. */
void cairn_txn_set_ref (CairnTxn *txn, const char *remote, const char *ref, const char *checksum);
void cairn_txn_free (CairnTxn *txn); /* aborts (removes staging) if not committed */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTxn, cairn_txn_free)

typedef struct
{
  guint64 metadata_written;
  guint64 content_written;
  guint64 content_bytes_written;
  guint64 devino_hits;
} CairnTxnStats;
void cairn_txn_get_stats (CairnTxn *txn, CairnTxnStats *out_stats);

/* Write a metadata object; *out_checksum (hex) is its SHA-256. Thread-safe. */
gboolean cairn_txn_write_metadata (CairnTxn *txn, CairnObjectType type, GVariant *variant,
                                   char **out_checksum, GError **error);
/* Store a metadata object whose checksum the caller already knows (pull);
 * the bytes are verified against it. */
gboolean cairn_txn_write_metadata_trusted_name (CairnTxn *txn, CairnObjectType type,
                                                const char *expected_checksum, GBytes *data,
                                                GError **error);

/* Write a content object. For regular files @content_fd is read from its
 * current offset to EOF (must match fi->size). If @expected_checksum is
 * given, the computed checksum must match (else G_IO_ERROR_INVALID_DATA).
 * Thread-safe. */
gboolean cairn_txn_write_content (CairnTxn *txn, const CairnFileInfo *fi, int content_fd,
                                  const char *expected_checksum, char **out_checksum,
                                  GError **error);
/* Same from a buffer. */
/* Regular-file content read from @fd at @offset, exactly fi->size bytes
 * (pread: @fd's position is unused, so one fd serves several threads). */
gboolean cairn_txn_write_content_range (CairnTxn *txn, const CairnFileInfo *fi, int fd,
                                        guint64 offset, const char *expected_checksum,
                                        char **out_checksum, GError **error);
gboolean cairn_txn_write_content_bytes (CairnTxn *txn, const CairnFileInfo *fi, const void *data,
                                        gsize len, const char *expected_checksum,
                                        char **out_checksum, GError **error);

/* Compute the content checksum of (fi, data) without writing. */
char *cairn_content_checksum (const CairnFileInfo *fi, const void *data, gsize len);

/* ---- refs (refs.c) ------------------------------------------------------ */

/* Resolve a rev: a full checksum, a unique checksum prefix (>= 4 hex chars),
 * a ref in refs/heads, REMOTE:REF, a same-named ref of one remote as fallback, with "^"
 * suffixes for parents. */
char *cairn_repo_resolve_rev (CairnRepo *repo, const char *rev, gboolean allow_noent,
                              GError **error);
/* Read one ref (remote may be NULL); NULL + no error when missing and allow_noent. */
char *cairn_repo_read_ref (CairnRepo *repo, const char *remote, const char *ref,
                           gboolean allow_noent, GError **error);
/* Write (or delete with NULL checksum) a ref atomically; bumps the repo mtime. */
gboolean cairn_repo_write_ref (CairnRepo *repo, const char *remote, const char *ref,
                               const char *checksum, GError **error);
/* All refs: name -> checksum. Local refs as "REF", remote refs as "REMOTE:REF"
 * (when @include_remotes). @prefix filters (may be NULL). */
GHashTable *cairn_repo_list_refs (CairnRepo *repo, const char *prefix, gboolean include_remotes,
                                  GError **error);

/* ---- commits (commit.c, commitobj.c) ------------------------------------ */

/* Parsed view of a commit object. */
typedef struct
{
  GVariant *variant;  /* the whole commit */
  GVariant *metadata; /* a{sv} */
  char *parent;       /* hex or NULL */
  char *subject;
  char *body;
  guint64 timestamp;
  char *root_tree; /* hex */
  char *root_meta; /* hex */
} CairnCommit;
void cairn_commit_clear (CairnCommit *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnCommit, cairn_commit_clear)
/* Parse and validate a commit variant (docs/format.md §7.3). */
gboolean cairn_commit_parse (GVariant *commit, CairnCommit *out, GError **error);
gboolean cairn_repo_load_commit (CairnRepo *repo, const char *checksum, CairnCommit *out,
                                 GError **error);
/* Detached commit metadata (commitmeta.c): the mutable a{sv} object beside a
 * commit, where signatures live (docs/format.md §8.1). store/ reads and writes
 * it as a whole; what the keys mean is for the modules above. */

/* Read objects/XX/YYY.commitmeta (a{sv}, normal form checked). Missing file:
 * TRUE with *out_metadata = NULL. */
gboolean cairn_repo_read_commit_detached_metadata (CairnRepo *repo, const char *commit,
                                                   GVariant **out_metadata, GError **error);

/* Replace the .commitmeta of @commit atomically (the commit must exist). It
 * is mutable and not covered by any checksum (docs/format.md §8.1). @metadata must be
 * an a{sv}; it is written in normal form. NULL deletes the file. */
gboolean cairn_repo_write_commit_detached_metadata (CairnRepo *repo, const char *commit,
                                                    GVariant *metadata, GError **error);

/* The exact bytes of a stored commit object, after checking that their
 * SHA-256 is @commit (a mismatch is G_IO_ERROR_INVALID_DATA). */
GBytes *cairn_repo_load_commit_bytes (CairnRepo *repo, const char *commit, GError **error);

/* Is there a state/<commit>.commitpartial marker? */
gboolean cairn_repo_commit_is_partial (CairnRepo *repo, const char *checksum);
gboolean cairn_repo_mark_commit_partial (CairnRepo *repo, const char *checksum, gboolean partial,
                                         const char *reason, GError **error);

/* Options of a commit (ostree commit's flags). */
typedef struct
{
  const char *branch; /* -b; may be NULL for an orphan commit */
  const char *subject;
  const char *body;
  const char *parent; /* NULL: the branch's current commit; "none": no parent */
  gint64 owner_uid;   /* -1 = as on disk */
  gint64 owner_gid;
  gboolean canonical_permissions;
  gboolean no_xattrs;
  gboolean has_timestamp;
  guint64 timestamp;
  GVariant *extra_metadata;  /* a{sv} entries added first (may be NULL) */
  gboolean no_bindings;      /* don't add ostree.ref-binding */
  gboolean use_devino_cache; /* default TRUE */
  guint n_threads;           /* 0: a directory commit runs two per CPU, a tar import one */
  /* Limits for untrusted input (tarballs, images); 0 = none. A file whose
   * (apparent) size is above max_object_size, or files adding up to more
   * than max_tree_size, are refused before their data is read. */
  guint64 max_object_size;
  guint64 max_tree_size;
  void (*progress) (guint64 files_done, guint64 bytes_done, gpointer data);
  gpointer progress_data;
} CairnCommitOptions;

void cairn_commit_options_init (CairnCommitOptions *opts);

/* A mutable tree built in memory (commit from dir, tar import, OCI layers). */
typedef struct CairnMTree CairnMTree;
CairnMTree *cairn_mtree_new (void);
void cairn_mtree_free (CairnMTree *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnMTree, cairn_mtree_free)
/* Directory metadata of this tree level (checksum of a written dirmeta). */
void cairn_mtree_set_metadata_checksum (CairnMTree *t, const char *dirmeta_checksum);
const char *cairn_mtree_get_metadata_checksum (CairnMTree *t);
/* Set a file entry (replacing any file or dir of that name). */
void cairn_mtree_replace_file (CairnMTree *t, const char *name, const char *checksum);
/* Get or create a subdirectory (replacing a file of that name). */
CairnMTree *cairn_mtree_ensure_dir (CairnMTree *t, const char *name);
CairnMTree *cairn_mtree_lookup_dir (CairnMTree *t, const char *name);
const char *cairn_mtree_lookup_file (CairnMTree *t, const char *name);
/* Remove an entry (file or dir) by name; TRUE if something was removed. */
gboolean cairn_mtree_remove (CairnMTree *t, const char *name);
/* Remove every entry (OCI opaque whiteout). */
void cairn_mtree_clear (CairnMTree *t);
/* Iterate names (sorted). */
GPtrArray *cairn_mtree_file_names (CairnMTree *t);
GPtrArray *cairn_mtree_dir_names (CairnMTree *t);
/* Fill @t from a stored dirtree (lazily not supported: loads recursively). */
gboolean cairn_mtree_load (CairnMTree *t, CairnRepo *repo, const char *dirtree, const char *dirmeta,
                           GError **error);
/* Write all dirtree objects bottom-up; returns the root dirtree checksum.
 * Every directory must have a metadata checksum. */
gboolean cairn_txn_write_mtree (CairnTxn *txn, CairnMTree *t, char **out_tree_checksum,
                                GError **error);

/* Write the commit object for a root tree; returns its checksum. Does not
 * touch refs (queue with cairn_txn_set_ref). */
gboolean cairn_txn_write_commit (CairnTxn *txn, const CairnCommitOptions *opts, const char *parent,
                                 const char *root_tree, const char *root_meta, char **out_checksum,
                                 GError **error);

/* Add the caller's extra metadata entries (opts->extra_metadata, in
 * order) to an a{sv} builder: they come first in every commit. */
void cairn_commit_options_add_metadata (const CairnCommitOptions *opts, GVariantBuilder *builder);

/* The parent a commit with @opts gets: opts->parent resolved ("none": no
 * parent), else the branch's current commit, else none. */
gboolean cairn_commit_options_resolve_parent (CairnRepo *repo, const CairnCommitOptions *opts,
                                              char **out_parent, GError **error);

/* Write @tree's dirtrees and the commit object, queue the branch ref and
 * commit the transaction (objects durable, then the ref). */
gboolean cairn_txn_finish_commit (CairnTxn *txn, const CairnCommitOptions *opts, const char *parent,
                                  CairnMTree *tree, char **out_checksum, GError **error);

/* Commit a directory tree at @src_dfd/@src_path into @repo (one whole
 * transaction including the branch ref). */
gboolean cairn_repo_commit_dir (CairnRepo *repo, int src_dfd, const char *src_path,
                                const CairnCommitOptions *opts, char **out_checksum,
                                CairnTxnStats *out_stats, GError **error);

/* Apply commit options (owner overrides, canonical permissions) to metadata. */
void cairn_commit_options_filter (const CairnCommitOptions *opts, CairnRepoMode mode, guint32 *uid,
                                  guint32 *gid, guint32 *st_mode, gboolean *skip_xattrs);

/* ---- devino cache (devino.c) -------------------------------------------- */

/* (st_dev, st_ino) -> content checksum of hardlinked checkouts, kept in
 * extensions/cairn/devino-cache. A hit is trusted only if the object file
 * still has that dev/ino and an mtime of 0 (bare modes write objects with
 * mtime 0; an in-place edit changes it). */
typedef struct CairnDevino CairnDevino;
CairnDevino *cairn_devino_load (CairnRepo *repo, GError **error);
void cairn_devino_free (CairnDevino *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnDevino, cairn_devino_free)
void cairn_devino_add (CairnDevino *d, dev_t dev, ino_t ino, const char *checksum);
const char *cairn_devino_lookup (CairnDevino *d, dev_t dev, ino_t ino);
gboolean cairn_devino_save (CairnDevino *d, CairnRepo *repo, GError **error);

/* ---- traversal, fsck, prune (traverse.c, fsck.c, prune.c) --------------- */

/* Objects reachable from a commit: keys are "checksum.type" strings
 * (cairn_object_name), values unused. @depth parents (-1 all, 0 none). */
char *cairn_object_name (const char *checksum, CairnObjectType type);
gboolean cairn_object_name_parse (const char *name, char **out_checksum, CairnObjectType *out_type);
gboolean cairn_repo_traverse_commit (CairnRepo *repo, const char *commit, int depth,
                                     GHashTable *reachable, GError **error);
/* Like traverse, but missing objects are collected into @missing instead of failing. */
gboolean cairn_repo_traverse_commit_collect (CairnRepo *repo, const char *commit, int depth,
                                             GHashTable *reachable, GHashTable *missing,
                                             GError **error);

/* Enable fs-verity on every regular-file object (verity.c), then record
 * `[cairn] verity=true` in the config: the kernel mount then records the
 * objects' digests and overlayfs checks them. Fails, changing nothing in the
 * config, where the kernel or the file system has no fs-verity. */
gboolean cairn_repo_enable_verity (CairnRepo *repo, guint *out_enabled, GError **error);

/* Every object in objects/: name -> GUINT_TO_POINTER(1). */
GHashTable *cairn_repo_list_objects (CairnRepo *repo, GError **error);

/* Re-hash one stored object and validate its structure. */
gboolean cairn_repo_fsck_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                 GError **error);

/* Delete one object file (prune, fsck --delete). */
gboolean cairn_repo_delete_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                   guint64 *out_size, GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* ---- paths inside commits (path.c) ---------------------------------------- */

/* Look up @path ("/" or "a/b", leading "/" optional) in the tree of @commit.
 * A directory gives its dirtree+dirmeta checksums, a file its content
 * checksum. Missing: G_IO_ERROR_NOT_FOUND naming the path. */
typedef struct
{
  gboolean is_dir;
  char *dirtree;
  char *dirmeta;
  char *file;
} CairnPathEntry;
void cairn_path_entry_clear (CairnPathEntry *e);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnPathEntry, cairn_path_entry_clear)
gboolean cairn_repo_lookup_path (CairnRepo *repo, const char *commit, const char *path,
                                 CairnPathEntry *out, GError **error);
G_END_DECLS

G_BEGIN_DECLS
/* ---- fsck and prune (fsck.c) ---------------------------------------------- */

typedef struct
{
  char *object;  /* "checksum.type" */
  char *message; /* why */
  gboolean missing;
  GPtrArray *commits; /* commits whose tree contains it (char*) */
  GPtrArray *refs;    /* refs pointing at those commits (char*) */
} CairnFsckProblem;

typedef struct
{
  guint n_objects; /* objects re-hashed */
  guint n_commits; /* commits verified */
  guint n_partial; /* partial commits skipped */
  guint n_refs;
  GPtrArray *problems; /* CairnFsckProblem* */
  guint n_deleted;
} CairnFsckReport;
void cairn_fsck_report_clear (CairnFsckReport *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnFsckReport, cairn_fsck_report_clear)

/* Re-hash every object; check every object reachable from a ref or a
 * (non-partial) commit is present and valid. With @delete_corrupt, corrupt
 * objects are removed and the commits that reach them marked partial.
 * Returns FALSE only if fsck itself could not run; problems are in @out. */
gboolean cairn_repo_fsck (CairnRepo *repo, gboolean delete_corrupt, guint n_threads,
                          CairnFsckReport *out, GError **error);

typedef struct
{
  gboolean dry_run;
  gboolean refs_only;
  int depth; /* -1 = all parents */
  gboolean has_keep_younger;
  guint64 keep_younger_than; /* unix time */
} CairnPruneOptions;

typedef struct
{
  guint n_total;
  guint n_deleted;
  guint64 bytes_freed;
  guint n_stale_staging; /* staging dirs of dead transactions removed */
} CairnPruneStats;

/* Delete unreachable objects under the exclusive repo lock (docs/format.md §15). */
gboolean cairn_repo_prune (CairnRepo *repo, const CairnPruneOptions *opts, CairnPruneStats *out,
                           GError **error);
G_END_DECLS
