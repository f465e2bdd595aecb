/* sync/: static deltas, OSTree's packed form of "the objects of commit TO
 * that a holder of commit FROM (or of nothing) lacks" (docs/format.md §11).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A delta is a superblock (the target commit, part headers, fallbacks)
 * plus parts, each a compressed payload and a small bytecode that makes
 * objects from it. Pull uses them over HTTP (sync/pull-delta.c); this
 * header is what `cairn static-delta` needs: parse, list, show, delete,
 * generate, and the index the summary publishes.
 */
#pragma once
#include "store/cairn-store.h"

G_BEGIN_DECLS

/* Generous bounds on what one delta may make us hold in memory. */
#define CAIRN_DELTA_MAX_SUPERBLOCK_SIZE ((gsize)1 << 30)
#define CAIRN_DELTA_PART_MAX_USIZE ((gsize)512 << 20)

typedef struct CairnDeltaPart
{
  guint32 version;     /* 0 */
  guint8 checksum[32]; /* SHA-256 of the part file (compression byte + payload) */
  guint64 size;        /* bytes of the part file */
  guint64 usize;       /* bytes of the objects it makes (as the generator counted) */
  GVariant *objects;   /* ay: n x (objtype byte, 32-byte checksum) */
  guint n_objects;
} CairnDeltaPart;

typedef struct
{
  CairnObjectType type;
  char checksum[65];
  guint64 size;  /* as stored on the server */
  guint64 usize; /* uncompressed */
} CairnDeltaFallback;

typedef struct
{
  char *name;           /* "FROM-TO", or "TO" from scratch (hex) */
  char *from;           /* NULL from scratch */
  char *to;             /* hex */
  char *relpath;        /* "deltas/Xx/…": the directory of the delta in a repository */
  GBytes *file;         /* the superblock file as stored (signed or not) */
  GVariant *variant;    /* the superblock itself (unwrapped when signed) */
  GVariant *signatures; /* a{sv} of a signed superblock ("ostree.sign.*" -> aay), else NULL */
  GVariant *metadata;   /* a{sv} */
  guint64 timestamp;    /* seconds (generation time) */
  gboolean big_endian;  /* byte order of part header and fallback integers */
  GBytes *commit;       /* the serialized target commit */
  GArray *parts;        /* CairnDeltaPart */
  GArray *fallbacks;    /* CairnDeltaFallback */
} CairnDelta;

void cairn_delta_free (CairnDelta *delta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnDelta, cairn_delta_free)

/* "FROM-TO" or "TO" into its checksums (*out_from NULL from scratch). */
gboolean cairn_delta_name_parse (const char *name, char **out_from, char **out_to, GError **error);
/* The name of the delta FROM (NULL: scratch) -> TO. */
char *cairn_delta_name (const char *from, const char *to);
/* "deltas/<mb64(FROM)[0:2]>/<mb64(FROM)[2:]>-<mb64(TO)>" or, from scratch,
 * "deltas/<mb64(TO)[0:2]>/<mb64(TO)[2:]>" (docs/format.md §11.1), with
 * "/@file" appended when @file is not NULL. */
char *cairn_delta_relpath (const char *from, const char *to, const char *file);
/* "delta-indexes/<mb64(TO)[0:2]>/<mb64(TO)[2:]>.index". */
char *cairn_delta_index_relpath (const char *to);

/* Parse a superblock file (hostile: from a server or a repository): the
 * signed container is unwrapped; its checksums must be 32 bytes, its part
 * headers version 0 with whole object records of valid types, the commit it
 * carries must hash to its TO, and it must not ask for recursive deltas.
 * (Normal form is not required: the accessors are safe on any bytes and
 * every object taken from a delta is checked by checksum.) @what names the
 * delta in errors. */
CairnDelta *cairn_delta_parse (GBytes *file, const char *what, GError **error);

/* The bytes of part @i of @delta when it is inline (carried in the
 * superblock's metadata), else NULL. */
GBytes *cairn_delta_inline_part (const CairnDelta *delta, guint i);

/* Detached metadata of the target commit carried by the superblock, or NULL. */
GVariant *cairn_delta_commitmeta (const CairnDelta *delta);

/* ---- the deltas of a repository ---------------------------------------------- */

/* Names of the deltas under <repo>/deltas/, sorted. */
GPtrArray *cairn_repo_list_static_deltas (CairnRepo *repo, GError **error);

/* Load and parse one of them; G_IO_ERROR_NOT_FOUND if absent. */
CairnDelta *cairn_repo_load_static_delta (CairnRepo *repo, const char *name, GError **error);

/* Remove one (its directory); G_IO_ERROR_NOT_FOUND if absent. The index is
 * updated. */
gboolean cairn_repo_delete_static_delta (CairnRepo *repo, const char *name, GError **error);

/* Rewrite delta-indexes/ from the deltas present, as `ostree static-delta
 * reindex` does (one .index per target commit; indexes of targets without
 * deltas removed). */
gboolean cairn_repo_static_delta_reindex (CairnRepo *repo, GError **error);

/* The a{sv} "delta name" -> ay (SHA-256 of the superblock file) of every
 * delta, built as ostree builds it for the summary; NULL with no error when
 * there are none. */
GVariant *cairn_repo_static_delta_digests (CairnRepo *repo, GError **error);

/* ---- generation ---------------------------------------------------------------- */

typedef struct
{
  gboolean inline_parts;        /* parts inside the superblock: one file */
  gboolean disable_bsdiff;      /* never bsdiff modified files */
  gboolean disable_compression; /* parts stored uncompressed (type 0) */
  guint64 min_fallback_size;    /* content above this is left to loose fetches; 0: never */
  guint64 max_chunk_size;       /* payload bytes per part before a new part starts */
  guint64 max_bsdiff_size;      /* old + new above this are not bsdiffed */
  gboolean big_endian;          /* byte order of part header integers (default: host) */
  gboolean set_endianness;
  GVariant *metadata; /* a{sv} or NULL: user keys, written first */
  /* Ed25519 secret keys (base64, ostree's 64-byte form) to sign the
   * superblock with (NULL: unsigned). */
  const char *const *sign_keys;
} CairnDeltaGenerateOptions;

void cairn_delta_generate_options_init (CairnDeltaGenerateOptions *opts);

typedef struct
{
  guint n_parts;
  guint n_objects; /* objects in parts */
  guint n_bsdiff;  /* of which made by bspatch */
  guint n_fallback;
  guint64 total_size;  /* bytes of the part files */
  guint64 total_usize; /* bytes of the objects they make */
} CairnDeltaGenerateStats;

/* Write the delta @from (a complete commit; NULL from scratch) -> @to into
 * <repo>/deltas/ (parts first, superblock last, each atomically), replacing
 * an older delta of the same name. The index is not touched (as ostree:
 * `summary -u` and reindex update it). */
gboolean cairn_repo_static_delta_generate (CairnRepo *repo, const char *from, const char *to,
                                           const CairnDeltaGenerateOptions *opts,
                                           CairnDeltaGenerateStats *out_stats, GError **error);

/* Verify the ed25519 signatures of a signed superblock with @public_keys
 * (base64 32-byte keys): TRUE when one of them verifies; a superblock
 * without signatures is G_IO_ERROR_NOT_FOUND, one whose signatures none of
 * the keys verifies G_IO_ERROR_PERMISSION_DENIED. */
gboolean cairn_delta_verify_signature (const CairnDelta *delta, const char *const *public_keys,
                                       GError **error);

G_END_DECLS
