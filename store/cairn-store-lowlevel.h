/* store/: the low-level object interface that store exports to the modules
 * built directly on it (sync/ moves objects between repositories, image/
 * streams archives into objects), and to nothing else: checkout/ and cli/
 * use store/cairn-store.h only. It exposes staging-area and encoding details
 * that store/cairn-store.h deliberately hides; store's own files share more
 * through store/store-private.h, which no other module includes
 * (docs/ARCHITECTURE.md §1; tests/test-layering.sh checks both rules).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once
#include "store/cairn-store.h"
#include <openssl/types.h>

G_BEGIN_DECLS

/* ---- objects and their encodings ------------------------------------------ */

/* SHA-256 fetched once (checksum.c). */
const EVP_MD *cairn_sha256 (void);

/* Does the object exist in objects/ or in this handle's staging area? */
gboolean cairn_repo_object_exists (CairnRepo *repo, CairnObjectType type, const char *checksum);

/* A bare-user repo's object file and its info. Unlike cairn_repo_load_file,
 * a symlink's object is returned too (a regular file holding the target). */
int cairn_repo_open_bare_user_file (CairnRepo *repo, const char *checksum, CairnFileInfo *out_info,
                                    GError **error);

/* Parse a .filez header; *out_header_len is the offset of the payload. */
gboolean cairn_parse_zheader (const guint8 *data, gsize len, CairnFileInfo *fi,
                              gsize *out_payload_offset, GError **error);

/* Raw deflate @in inflated into exactly @size bytes at @out by libdeflate;
 * FALSE unless the stream holds exactly that (objects.c). */
gboolean cairn_inflate_exact (const guint8 *in, gsize len, guint8 *out, gsize size);

/* Inflate a raw-deflate payload, handing each chunk of output to @fn (which
 * may be EVP_DigestUpdate, a write loop...). Corrupt or truncated input:
 * G_IO_ERROR_INVALID_DATA. *out_exact (may be NULL): the stream ended
 * exactly at the end of @payload. */
typedef int (*CairnDataFunc) (void *data, const void *buf, size_t len);
gboolean cairn_inflate_each (const guint8 *payload, gsize len, CairnDataFunc fn, void *data,
                             gboolean *out_exact, GError **error);

/* The entry @name of a dirtree variant (binary search: entries are sorted):
 * a file (@kind 0) gives its checksum in @out_a, a directory (@kind 1) its
 * dirtree and dirmeta. FALSE if absent or malformed (path.c). */
gboolean cairn_dirtree_find (GVariant *tree, int kind, const char *name, guint8 out_a[32],
                             guint8 out_b[32]);

/* Insert a file entry whose 65-byte checksum buffer is filled in later (by a
 * worker thread); the pointer stays valid until the entry is replaced. */
char *cairn_mtree_reserve_file (CairnMTree *t, const char *name);

/* Refuse a name no checkout could create: a component longer than NAME_MAX
 * (255 bytes; checkout would fail "File name too long"). */
gboolean cairn_check_name_length (const char *name, GError **error);

/* Add to @missing (object names) what @commit's tree lacks in @repo. @base
 * (or NULL) is a complete commit: subtrees equal to its subtree at the same
 * path are present by that, and are not walked. */
gboolean cairn_repo_find_missing (CairnRepo *repo, const char *commit, const char *base,
                                  GHashTable *missing, GError **error);

/* ---- transactions ---------------------------------------------------------- */

/* The dirfd of XX/ in the transaction's staging area (created on demand). */
int cairn_txn_subdir_fd (CairnTxn *txn, const char *checksum, GError **error);

/* The repository of @txn. */
CairnRepo *cairn_txn_get_repo (CairnTxn *txn);

/* The staging directory objects are written to before the commit
 * (objects/ itself when core.fsync=false); owned by @txn. */
int cairn_txn_get_staging_dfd (CairnTxn *txn);

/* Count in the transaction's statistics a content object that the caller
 * linked into the repository itself (thread-safe). */
void cairn_txn_count_content_written (CairnTxn *txn);

G_END_DECLS
