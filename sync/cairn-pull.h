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
  /* Read refs from refs/heads/ even when the source has a summary (a
   * push: the pusher's refs are what counts, not what it last published). */
  gboolean ignore_summary;
  /* Require a good signature on every commit, from the repo-wide keyrings
   * when no remote or keyring applies (a push received: the receiving
   * repository's [receive] gpg-verify). */
  gboolean require_signatures;
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

/* The far side of a push (`cairn serve --stdio --receive`): pull @refs
 * from the pushing client, which serves its repository on @in_fd/@out_fd
 * (docs/sync-protocol.md, "Push"), into refs/heads/ of @repo, with every
 * check a pull makes and the receiving repository's signature policy
 * ([receive] gpg-verify). */
gboolean cairn_repo_receive (CairnRepo *repo, int in_fd, int out_fd, const char *const *refs,
                             const CairnPullOptions *opts, CairnPullStats *out_stats,
                             GError **error);

/* The receiving repository's policy: [receive] gpg-verify (default false). */
gboolean cairn_repo_receive_requires_signatures (CairnRepo *repo);

typedef struct
{
  guint64 objects_sent; /* pack records (ssh) or objects the far side stored (path) */
  guint64 bytes_sent;   /* protocol bytes written (ssh) or content bytes stored (path) */
  guint n_refs_updated; /* path pushes only (the far side moves them over ssh) */
  gint64 elapsed_us;
} CairnPushStats;

typedef struct
{
  int depth;                /* parents to push too: 0 none, -1 all */
  const char *ssh_command;  /* default $CAIRN_SSH, the remote's cairn-ssh-command, "ssh" */
  const char *remote_cairn; /* default $CAIRN_SSH_REMOTE_CAIRN, cairn-remote-path, "cairn" */
} CairnPushOptions;

/* `cairn push REMOTE [REF...]`: make @dest (a configured remote, a path,
 * file:// or ssh:// URL) have @refs (NULL or empty: every local ref) and
 * every object they need, sending only what it lacks. The far side checks
 * everything as a pull does and moves each ref last. */
gboolean cairn_repo_push (CairnRepo *repo, const char *dest, const char *const *refs,
                          const CairnPushOptions *opts, CairnPushStats *out_stats, GError **error);

/* Make http:// and https:// sources available to cairn_repo_pull (the HTTP
 * transport lives in libcairn-store-io, with libcurl). Without this call
 * they are refused with G_IO_ERROR_NOT_SUPPORTED. */
void cairn_pull_enable_http (void);

/* The far side of the ssh transport: speak docs/sync-protocol.md on
 * @in_fd/@out_fd until the client says goodbye or closes. */
gboolean cairn_repo_serve (CairnRepo *repo, int in_fd, int out_fd, GError **error);

/* The pushing side: serve @repo to the receiver, which pulls @refs (only
 * those refs are served by name). An ERROR frame from the receiver (its
 * pull failed) is the error. Counts what was sent into @out_stats. */
gboolean cairn_repo_serve_push (CairnRepo *repo, int in_fd, int out_fd, const char *const *refs,
                                CairnPushStats *out_stats, GError **error);

G_END_DECLS
