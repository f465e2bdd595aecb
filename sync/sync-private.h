/* Internal interfaces of the pull engine (sync/pull*.c, sync/serve.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "sync/cairn-pull.h"
#include "sync/cairn-remote.h"
#include "sync/cairn-delta.h"
#include "store/cairn-store-lowlevel.h"

G_BEGIN_DECLS

/* ---- the sink: verified objects into batched transactions (pull-sink.c) ---- */

/* Stores objects that arrive from any transport. Each write verifies the
 * object against its name. Content writes may run on a worker pool; the
 * transaction is committed (published) every 500 objects or one second
 * (whichever comes first), after the pool has drained, so that an interrupted pull keeps
 * what it verified. */
typedef struct CairnPullSink CairnPullSink;

CairnPullSink *_cairn_pull_sink_new (CairnRepo *repo, CairnPullStats *stats,
                                     const CairnPullOptions *opts, GError **error);
/* Drain the pool and publish what was stored (also used on failure:
 * verified objects are kept). */
gboolean _cairn_pull_sink_checkpoint (CairnPullSink *sink, GError **error);
/* Checkpoint when the batch is big or old enough. */
gboolean _cairn_pull_sink_maybe_checkpoint (CairnPullSink *sink, GError **error);
/* Wait for the pool; the first error of a job, if any. */
gboolean _cairn_pull_sink_drain (CairnPullSink *sink, GError **error);
/* Free; an uncommitted batch is published first (best effort). */
void _cairn_pull_sink_free (CairnPullSink *sink);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnPullSink, _cairn_pull_sink_free)

CairnTxn *_cairn_pull_sink_txn (CairnPullSink *sink);
CairnRepo *_cairn_pull_sink_repo (CairnPullSink *sink);
/* A job failed already (stop issuing work). */
gboolean _cairn_pull_sink_failed (CairnPullSink *sink);
/* Jobs queued but not finished (for back-pressure). */
guint _cairn_pull_sink_pending (CairnPullSink *sink);
/* Wait until fewer than @n jobs are queued or running (or one failed). */
void _cairn_pull_sink_wait_pending_below (CairnPullSink *sink, guint n);

/* Account wire bytes / fetched objects / already present objects. */
/* TRUE when queued content holds too many jobs or bytes: fetch no more
 * content until it drains. */
gboolean _cairn_pull_sink_backlogged (CairnPullSink *sink);
void _cairn_pull_sink_add_bytes (CairnPullSink *sink, guint64 n);
void _cairn_pull_sink_count_present (CairnPullSink *sink, guint n);
void _cairn_pull_sink_count_fetched (CairnPullSink *sink, guint64 content_bytes);
/* Call the progress callback (rate-limited). Main thread only. */
void _cairn_pull_sink_progress (CairnPullSink *sink, const char *phase);

/* Checksum and structure of a metadata object's bytes (no store access). */
gboolean _cairn_pull_verify_metadata (CairnObjectType type, const char *checksum, GBytes *data,
                                      GError **error);
/* Count a metadata object that entered the store other than by write_metadata. */
void _cairn_pull_sink_count_metadata (CairnPullSink *sink);
/* Store a metadata object (synchronously: callers need dirtrees at once).
 * Dirtrees and dirmetas are validated structurally too. */
gboolean _cairn_pull_sink_write_metadata (CairnPullSink *sink, CairnObjectType type,
                                          const char *checksum, GBytes *data, GError **error);
/* Queue a .filez (archive-form bytes, as served over HTTP) for verification
 * and storage; @what names the source in errors (a URL). */
void _cairn_pull_sink_queue_filez (CairnPullSink *sink, const char *checksum, GBytes *filez,
                                   const char *what);
/* Queue content in checksum form (header info + raw bytes). Takes @fi. */
void _cairn_pull_sink_queue_content (CairnPullSink *sink, const char *checksum, CairnFileInfo *fi,
                                     GBytes *content, const char *what);
/* Queue any job on the pool: @fn returns FALSE with an error to fail the pull. */
typedef gboolean (*CairnPullJobFunc) (CairnPullSink *sink, gpointer data, GError **error);
void _cairn_pull_sink_queue_job (CairnPullSink *sink, CairnPullJobFunc fn, gpointer data,
                                 GDestroyNotify free_data);

/* Verify a .filez buffer and store it; shared by HTTP and local archive
 * sources. Stored verbatim when the destination is archive and the bytes
 * are canonical, else converted. */
gboolean _cairn_pull_store_filez (CairnTxn *txn, const char *checksum, GBytes *filez,
                                  guint64 *out_content_bytes, GError **error);

/* Validate a dirtree's entries (names, 32-byte checksums) — hostile data. */
gboolean _cairn_pull_validate_dirtree (GVariant *tree, const char *checksum, GError **error);

/* ---- transports ------------------------------------------------------------- */

typedef struct CairnPullTransport CairnPullTransport;

/* One pull in progress: what the engine knows, shared with the transport. */
typedef struct
{
  CairnRepo *repo;
  const CairnPullOptions *opts;
  const char *remote; /* configured remote name or NULL */
  CairnPullStats *stats;
  CairnPullSink *sink;
  GPtrArray *commits; /* commits whose trees are to be fetched (char*) */
  /* Set by a transport whose walk found every object reachable from
   * s->commits present or stored: the final completeness walk is skipped. */
  gboolean trees_complete;
} CairnPullSession;

struct CairnPullTransport
{
  const char *name;
  /* A file relative to the source repository (summary, summary.sig,
   * refs/heads/REF, objects/XX/Y.commit|.commitmeta). Absent: TRUE with
   * *out_data NULL. */
  gboolean (*fetch_file) (CairnPullTransport *t, const char *relpath, gsize max_size,
                          GBytes **out_data, GError **error);
  /* The source's refs/heads when it has no summary (NULL: unsupported). */
  GHashTable *(*list_refs) (CairnPullTransport *t, GError **error);
  /* Fetch every missing object of the trees of s->commits. */
  gboolean (*fetch_trees) (CairnPullTransport *t, CairnPullSession *s, GError **error);
  void (*free) (CairnPullTransport *t);
  /* Static deltas are worth it here without --require-static-deltas (a
   * dumb server: one request for a packed delta instead of thousands). */
  gboolean deltas_by_default;
};

CairnPullTransport *_cairn_pull_transport_local_new (const char *path, GError **error);
CairnPullTransport *_cairn_pull_transport_http_new (const char *url, CairnRemote *remote,
                                                    GError **error);
/* pull.c's HTTP constructor: NULL until cairn_pull_enable_http() (pull-http.c). */
extern CairnPullTransport *(*_cairn_pull_http_new) (const char *url, CairnRemote *remote,
                                                    GError **error);
CairnPullTransport *_cairn_pull_transport_ssh_new (const char *url, CairnRemote *remote,
                                                   const CairnPullOptions *opts, GError **error);
/* The same over open descriptors (takes them; sends HELLO first). */
CairnPullTransport *_cairn_pull_transport_ssh_new_fds (const char *desc, int to_fd, int from_fd,
                                                       GError **error);

/* A dumb scanner shared by HTTP: a dirtree was stored; queue (via @want)
 * every child object missing locally, descending into dirtrees already
 * present (a previous pull may have left their children missing). */
typedef void (*CairnPullWantFunc) (gpointer data, CairnObjectType type, const char *checksum);
gboolean _cairn_pull_scan_dirtree (CairnPullSession *s, GHashTable *scanned, const char *checksum,
                                   CairnPullWantFunc want, gpointer data, GError **error);
/* Queue what is missing below a commit (root dirtree and dirmeta). */
gboolean _cairn_pull_scan_commit (CairnPullSession *s, GHashTable *scanned, const char *commit,
                                  CairnPullWantFunc want, gpointer data, GError **error);

/* ---- static deltas (delta.c, bsdiff.c, pull-delta.c; docs/format.md §11) ------- */

/* Where a part's objects go. Each callback returns FALSE with an error to
 * stop the part; an object must be verified against @checksum by it. */
typedef struct
{
  gboolean (*metadata) (gpointer data, CairnObjectType type, const char *checksum, GBytes *bytes,
                        GError **error);
  /* A content object; @fi is taken (cleared) by the callee when it keeps it. */
  gboolean (*content) (gpointer data, const char *checksum, CairnFileInfo *fi, GBytes *content,
                       GError **error);
  /* The whole (uncompressed) content of an object the delta reads from. */
  GBytes *(*source) (gpointer data, const char *checksum, GError **error);
  gpointer data;
} CairnDeltaSink;

/* Check a part file against its header's checksum, decompress it (type 0
 * or 'x'), parse the payload (a(uuu)aa(ayay)ayay) in normal form. @what
 * names the part in errors. */
GVariant *_cairn_delta_part_open (GBytes *part_file, const CairnDeltaPart *header, const char *what,
                                  GError **error);
/* Run the operations of @payload, making the objects @header lists, in
 * order, into @sink. Any operation out of bounds, any object the list does
 * not name or that the operations do not make is an error naming it. */
gboolean _cairn_delta_part_execute (GVariant *payload, const CairnDeltaPart *header,
                                    const CairnDeltaSink *sink, const char *what, GError **error);
/* Every object of the part is in @repo already. */
gboolean _cairn_delta_part_have_all (CairnRepo *repo, const CairnDeltaPart *header);

/* The delta to pull @to with (pull-delta.c), when the remote lists one that
 * fits: from @have (the commit the ref points at here, complete; may be
 * NULL) or another complete local commit, or from scratch when @have is
 * NULL. *out_delta NULL: none (loose objects then). The superblock is
 * checked against the digest the remote lists and parsed. */
gboolean _cairn_pull_delta_find (CairnPullSession *s, CairnPullTransport *t,
                                 const CairnSummary *summary, const char *source_desc,
                                 const char *have, const char *to, CairnDelta **out_delta,
                                 GError **error);
/* Fetch the parts of @d that make something missing here and run them into
 * the session's sink; returns once every part ran (drained). */
gboolean _cairn_pull_delta_apply (CairnPullSession *s, CairnPullTransport *t,
                                  const char *source_desc, const CairnDelta *d, GError **error);

/* The signed superblock container (docs/format.md §11.7) of @superblock,
 * signed with each ed25519 secret key (base64) of @secret_keys. */
GBytes *_cairn_delta_sign (GBytes *superblock, const char *const *secret_keys, GError **error);

/* Percival's bspatch, stream form (bsdiff.c): make exactly @newsize bytes
 * at @out from @old and @patch. */
gboolean _cairn_bspatch (const guint8 *old, gsize oldsize, guint8 *out, gsize newsize,
                         const guint8 *patch, gsize patchlen, GError **error);
/* The patch that makes @nw from @old (sizes below 2 GiB). */
GBytes *_cairn_bsdiff (const guint8 *old, gsize oldsize, const guint8 *nw, gsize newsize);

/* ---- the ssh protocol framing (proto.c) --------------------------------------- */

#define CAIRN_SYNC_PROTOCOL_VERSION 1
#define CAIRN_SYNC_MAX_FRAME (64u << 20)

typedef enum
{
  CAIRN_SYNC_HELLO = 'H',
  CAIRN_SYNC_GET = 'G',        /* c->s: relpath;  s->c: DATA */
  CAIRN_SYNC_DATA = 'D',       /* u8 present, bytes */
  CAIRN_SYNC_LIST_REFS = 'L',  /* c->s; s->c: DATA with "CHECKSUM REF\n" lines */
  CAIRN_SYNC_NEGOTIATE = 'N',  /* c->s: i32 depth, u32 nwant, wants, u32 nhave, haves */
  CAIRN_SYNC_CANDIDATES = 'C', /* s->c: u32 n, n x (u8 type, 32 csum) */
  CAIRN_SYNC_LACK = 'K',       /* c->s: bitmap of candidates the client lacks */
  CAIRN_SYNC_PACK = 'P',       /* s->c: a chunk of the deflate stream */
  CAIRN_SYNC_PACK_END = 'E',   /* s->c: u64 records */
  CAIRN_SYNC_ERROR = '!',      /* either side: message */
  CAIRN_SYNC_BYE = 'B',
} CairnSyncMsg;

gboolean _cairn_sync_write_frame (int fd, guint8 type, const void *data, gsize len, GError **error);
/* Read one frame; *out_data has the payload. EOF: G_IO_ERROR_CONNECTION_CLOSED. */
gboolean _cairn_sync_read_frame (int fd, guint8 *out_type, GBytes **out_data, GError **error);

G_END_DECLS
