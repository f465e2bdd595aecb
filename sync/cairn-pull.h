/* sync/: pulling commits between repositories, and the far side of the
 * ssh transport (docs/format.md §7.8, §9, §10, §12;
 * docs/sync-protocol.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Guarantees of every pull, whatever the transport:
 *  - every object is verified against its name (SHA-256 of its canonical
 *    form) before it enters the store; a commit's GPG signatures are checked
 *    (when the remote asks for it) before the commit is stored;
 *  - objects are published in batches (one transaction each): a commit is
 *    marked state/<commit>.commitpartial before it is published, and the
 *    marker is removed and the ref moved only once the whole commit is
 *    present, so a killed pull leaves an fsck-clean repository and the next
 *    pull fetches only what is missing;
 *  - on failure, the objects already verified are kept (published) and no
 *    ref moves.
 */
#pragma once
#include "store/cairn-store.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 objects_fetched; /* objects received and stored (or linked) */
  guint64 objects_present; /* needed objects that were already in the repo */
  guint64 bytes_fetched;   /* bytes received from the transport (wire bytes) */
  guint64 content_bytes;   /* uncompressed content bytes stored */
  guint n_commits;         /* commits now complete */
  guint n_refs_updated;
  guint n_deltas;      /* static deltas used */
  guint n_delta_parts; /* delta parts fetched (inline ones included) */
  gint64 elapsed_us;
  const char *phase; /* what is being done now (progress only) */
} CairnPullStats;

typedef void (*CairnPullProgressFunc) (const CairnPullStats *stats, gpointer user_data);

typedef struct
{
  int depth;                     /* parents to pull too: 0 none, -1 all */
  gboolean mirror;               /* refs land in refs/heads, summary copied */
  gboolean commit_metadata_only; /* commit objects (and .commitmeta) only */
  /* Static deltas (docs/format.md §11): used by default over HTTP(S) where
   * the remote lists one that fits; never with @disable_static_deltas; with
   * @require_static_deltas over any transport, and a commit no delta makes
   * is an error. */
  gboolean disable_static_deltas;
  gboolean require_static_deltas;
  /* For URLs without a configured remote: require a good signature from
   * this keyring file (NULL = no signature check, as ostree pull-local). */
  const char *keyring;
  /* ssh transport: the ssh command (default $CAIRN_SSH, remote option
   * cairn-ssh-command, else "ssh") and the cairn binary on the far side
   * ($CAIRN_SSH_REMOTE_CAIRN, remote option cairn-remote-path, else "cairn"). */
  const char *ssh_command;
  const char *remote_cairn;
  CairnPullProgressFunc progress;
  gpointer progress_data;
} CairnPullOptions;

void cairn_pull_options_init (CairnPullOptions *opts);

/* Pull @refs (NULL or empty: every ref of the remote's summary or ref
 * list) from @source: a configured remote name, or a path / file:// /
 * http(s):// / ssh:// URL. Refs of a configured remote land in
 * refs/remotes/REMOTE/, of a URL (and with @mirror) in refs/heads/.
 * A ref may also be given as a 64-hex commit checksum (pulled, no ref set). */
gboolean cairn_repo_pull (CairnRepo *repo, const char *source, const char *const *refs,
                          const CairnPullOptions *opts, CairnPullStats *out_stats, GError **error);

/* Make http:// and https:// sources available to cairn_repo_pull (the HTTP
 * transport lives in libcairn-store-io, with libcurl). Without this call
 * they are refused with G_IO_ERROR_NOT_SUPPORTED. */
void cairn_pull_enable_http (void);

/* The far side of the ssh transport: speak docs/sync-protocol.md on
 * @in_fd/@out_fd until the client says goodbye or closes. */
gboolean cairn_repo_serve (CairnRepo *repo, int in_fd, int out_fd, GError **error);

G_END_DECLS
