/* Internal interfaces shared by store/ files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store.h"
#include <openssl/types.h>

/* Raw deflate @in inflated into exactly @size bytes at @out by libdeflate;
 * FALSE unless the stream holds exactly that (objects.c). */
gboolean _cairn_inflate_exact (const guint8 *in, gsize len, guint8 *out, gsize size);

/* The entry @name of a dirtree variant (binary search: entries are sorted):
 * a file (@kind 0) gives its checksum in @out_a, a directory (@kind 1) its
 * dirtree and dirmeta. FALSE if absent or malformed (path.c). */
gboolean _cairn_dirtree_find (GVariant *tree, int kind, const char *name, guint8 out_a[32],
                              guint8 out_b[32]);

/* SHA-256 fetched once (checksum.c). */
const EVP_MD *_cairn_sha256 (void);

struct CairnTxn
{
  CairnRepo *repo;
  char *staging_name; /* under tmp/ */
  int staging_dfd;    /* objects are written here; == objects_dfd when fsync is off */
  gboolean direct;    /* core.fsync=false: objects go straight into objects/ */
  int lock_fd;        /* staging-…-lock */
  gboolean committed;
  gboolean locked_repo;
  GMutex lock;      /* protects refs, stats */
  int sub_fds[256]; /* staging/XX dirfds (atomic: set once from -1) */
  GPtrArray *refs;  /* (remote, ref, checksum) triples as char*[3] */
  CairnTxnStats stats;
};

/* The descriptor of directory XX (@checksum's first two digits) in
 * @parent_dfd, cached in *@slot (-1: not yet; set once, atomically, so
 * threads need no lock), made with @mode first when @create. Errors name
 * it "@what/XX"; a missing one without @create is G_IO_ERROR_NOT_FOUND. */
int _cairn_cached_subdir_fd (int *slot, int parent_dfd, const char *checksum, mode_t mode,
                             gboolean create, const char *what, GError **error);

/* Refuse a name no checkout could create: a component longer than NAME_MAX
 * (255 bytes; checkout would fail "File name too long"). */
gboolean _cairn_check_name_length (const char *name, GError **error);

/* Remove tmp/staging-* directories whose transaction is gone (their lock is
 * not held); returns how many. */
guint _cairn_txn_cleanup_stale_staging (CairnRepo *repo);

/* The dirfd of XX/ in the transaction's staging area (created on demand). */
int _cairn_txn_subdir_fd (CairnTxn *txn, const char *checksum, GError **error);

/* Add to @missing (object names) what @commit's tree lacks in @repo. @base
 * (or NULL) is a complete commit: subtrees equal to its subtree at the same
 * path are present by that, and are not walked. */
gboolean _cairn_repo_find_missing (CairnRepo *repo, const char *commit, const char *base,
                                   GHashTable *missing, GError **error);

/* Does the object exist in objects/ or in this handle's staging area? */
gboolean _cairn_repo_object_exists (CairnRepo *repo, CairnObjectType type, const char *checksum);

/* Open an object file read-only from objects/ (or staging); -1 + ENOENT
 * error when missing. For bare symlinks this fails with ELOOP. */
/* A bare-user repo's object file and its info. Unlike cairn_repo_load_file,
 * a symlink's object is returned too (a regular file holding the target). */
int _cairn_repo_open_bare_user_file (CairnRepo *repo, const char *checksum, CairnFileInfo *out_info,
                                     GError **error);
int _cairn_repo_open_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                             GError **error);

/* The user.ostreemeta value (uuua(ayay)) of @fi; cairn_parse_ostreemeta
 * reads it back. */
GVariant *_cairn_ostreemeta_new (const CairnFileInfo *fi);

/* Parse a .filez header; *out_header_len is the offset of the payload. */
gboolean _cairn_parse_zheader (const guint8 *data, gsize len, CairnFileInfo *fi,
                               gsize *out_payload_offset, GError **error);

/* Insert a file entry whose 65-byte checksum buffer is filled in later (by a
 * worker thread); the pointer stays valid until the entry is replaced. */
char *_cairn_mtree_reserve_file (CairnMTree *t, const char *name);

/* Inflate a raw-deflate payload, handing each chunk of output to @fn (which
 * may be EVP_DigestUpdate, a write loop...). Corrupt or truncated input:
 * G_IO_ERROR_INVALID_DATA. *out_exact (may be NULL): the stream ended
 * exactly at the end of @payload. */
typedef int (*CairnDataFunc) (void *data, const void *buf, size_t len);
gboolean _cairn_inflate_each (const guint8 *payload, gsize len, CairnDataFunc fn, void *data,
                              gboolean *out_exact, GError **error);

/* The same, reading the payload from @fd at its current offset. */
gboolean _cairn_inflate_fd_each (int fd, CairnDataFunc fn, void *data, GError **error);
/* Parse the .filez header at the start of @fd and leave the offset at the
 * payload. */
gboolean _cairn_read_zheader_fd (int fd, CairnFileInfo *fi, GError **error);
