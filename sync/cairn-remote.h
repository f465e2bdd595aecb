/* sync/: commit signatures, the summary file, remotes and the signature
 * trust policy (docs/format.md §8, §10, §12.1).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * store/ owns the repository layout (the detached metadata object itself is
 * read and written by store/commitmeta.c) and knows nothing of signatures;
 * sign/ only sees bytes. Everything here reads files from the repo through
 * store/, hands bytes to sign/ and writes back what sign/ returns.
 *
 * Trust policy (docs/cairn-sign.md): a signature counts only when it is good
 * (valid, key neither expired nor revoked, signature not expired) and made
 * by a key of the keyring set that applies:
 *   1. an explicit keyring file (--keyring) when given: only that file;
 *   2. else, for content from remote NAME: <repo>/NAME.trustedkeys.gpg plus
 *      the files/directories of the remote's `gpgkeypath` option; when the
 *      remote has neither, the repo-wide directory (3) — as ostree falls
 *      back to its global trusted.gpg.d (docs/format.md §8.5);
 *   3. else the repo-wide directory <repo>/trusted.gpg.d/ (every *.gpg file
 *      directly inside it).
 * The user's personal GnuPG keyring never counts.
 */
#pragma once
#include "store/cairn-store.h"
#include "sign/cairn-sign.h"

G_BEGIN_DECLS

/* The repo-wide keyring directory, relative to the repository. */
#define CAIRN_REPO_TRUSTED_GPG_DIR "trusted.gpg.d"

/* ---- commit signatures (commit-sign.c) -------------------------------------- */

/* The "ostree.gpgsigs" aay of @commit; *out_sigs NULL when there is none. */
gboolean cairn_repo_get_commit_signatures (CairnRepo *repo, const char *commit, GVariant **out_sigs,
                                           GError **error);

/* Sign @commit with each of @key_ids (secret keys of the GnuPG home
 * @homedir, NULL = default) and append the signatures to its detached
 * metadata. Like `ostree gpg-sign`, a key that already signed the commit is
 * refused (G_IO_ERROR_EXISTS); this is checked for every key before any
 * signature is made, so on failure nothing is written. */
gboolean cairn_repo_sign_commit (CairnRepo *repo, const char *commit, const char *const *key_ids,
                                 const char *homedir, GError **error);

/* Append a detached signature made elsewhere (one binary OpenPGP signature
 * packet over the commit bytes, e.g. from an offline machine). It is not
 * verified here; a signature by an issuer that already signed is refused
 * (G_IO_ERROR_EXISTS). */
gboolean cairn_repo_append_commit_signature (CairnRepo *repo, const char *commit, GBytes *signature,
                                             GError **error);

/* Remove the signatures of @key_id (see cairn_sign_sigs_delete_key).
 * *out_n_deleted may be 0; the caller decides whether that is an error. */
gboolean cairn_repo_delete_commit_signatures (CairnRepo *repo, const char *commit,
                                              const char *key_id, const char *homedir,
                                              guint *out_n_deleted, GError **error);

/* ---- summary (summary.c) ----------------------------------------------------- */

/* Regenerate <repo>/summary exactly as `ostree summary -u` (docs/format.md §10.1):
 * local refs sorted, commit sizes, refmeta, repository metadata. @extra
 * (a{sv} or NULL) is merged into the repository metadata first, like
 * `ostree summary -u --add-metadata`. With @key_ids (NULL-terminated, may
 * be NULL/empty) summary.sig is written too (docs/format.md §8.3: both written in a
 * temporary directory, equal times, summary renamed into place first);
 * without keys any old summary.sig is deleted. Also sets
 * core.indexed-deltas=true in the config as ostree does. */
gboolean cairn_repo_regenerate_summary (CairnRepo *repo, GVariant *extra,
                                        const char *const *key_ids, const char *homedir,
                                        GError **error);

/* One ref of a parsed summary. */
typedef struct
{
  char *ref;
  char *commit;        /* 64 hex */
  guint64 commit_size; /* size of the .commit object (0 = unknown) */
  guint64 timestamp;   /* ostree.commit.timestamp, 0 if absent */
  char *version;       /* ostree.commit.version, may be NULL */
} CairnSummaryRef;

typedef struct
{
  GVariant *variant;     /* the whole summary */
  GPtrArray *refs;       /* CairnSummaryRef*, sorted by name */
  GVariant *metadata;    /* a{sv} */
  guint64 last_modified; /* 0 if absent */
  guint64 expires;       /* 0 if absent */
  char *mode;            /* ostree.summary.mode, may be NULL */
  char *collection_id;   /* may be NULL */
  gboolean tombstone_commits;
  gboolean indexed_deltas;
} CairnSummary;

void cairn_summary_free (CairnSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnSummary, cairn_summary_free)

/* Parse summary bytes (from this repo or a remote: hostile until checked):
 * type and normal form, valid ref names in strictly increasing order, 32-byte
 * checksums. G_IO_ERROR_INVALID_DATA on anything else. */
CairnSummary *cairn_summary_parse (GBytes *data, GError **error);

/* Binary search of the ref map; NULL when absent. */
const CairnSummaryRef *cairn_summary_lookup_ref (const CairnSummary *summary, const char *ref);

/* ---- remotes (remotes.c) ------------------------------------------------------- */

typedef struct
{
  char *name;
  char *url;
  gboolean gpg_verify;         /* default TRUE */
  gboolean gpg_verify_summary; /* default FALSE */
  char **branches;             /* may be NULL */
  char *collection_id;         /* may be NULL */
  char *keyring;               /* "NAME.trustedkeys.gpg" */
  GVariant *options;           /* every key of the group, a{ss}, in file order */
} CairnRemote;

void cairn_remote_free (CairnRemote *remote);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnRemote, cairn_remote_free)

/* Check a remote URL: an absolute file:// URL, http(s)://HOST[/PATH],
 * ssh://[USER@]HOST[:PORT]/PATH, or "mirrorlist=" + an http(s) URL. No
 * control characters. */
gboolean cairn_remote_validate_url (const char *url, GError **error);

/* Add [remote "NAME"] to the config, as `ostree remote add` writes it: url
 * first, then branches (";"-separated), then @options ("KEY=VALUE" strings,
 * written as given, in order), then gpg-verify=false if !@gpg_verify.
 * An existing remote is G_IO_ERROR_EXISTS unless @if_not_exists. */
gboolean cairn_repo_remote_add (CairnRepo *repo, const char *name, const char *url,
                                const char *const *branches, const char *const *options,
                                gboolean gpg_verify, gboolean if_not_exists, GError **error);

/* Remove the group, the remote's keyring file and its remote-tracking refs
 * (refs/remotes/NAME). Missing: G_IO_ERROR_NOT_FOUND unless @if_exists. */
gboolean cairn_repo_remote_delete (CairnRepo *repo, const char *name, gboolean if_exists,
                                   GError **error);

/* Names of the configured remotes, sorted (NULL-terminated). */
char **cairn_repo_remote_list (CairnRepo *repo);

/* Whether @source names a configured remote rather than a path or URL:
 * a valid remote name (no '/' or ':') with a [remote "NAME"] group. */
gboolean cairn_repo_is_remote_name (CairnRepo *repo, const char *source);

/* The string value of @key in @remote's group; NULL when @remote is NULL or
 * has no such key. Points into @remote. */
const char *cairn_remote_get_option (CairnRemote *remote, const char *key);

/* One remote's configuration; G_IO_ERROR_NOT_FOUND when not configured. */
CairnRemote *cairn_repo_remote_get (CairnRepo *repo, const char *name, GError **error);

/* Merge @key_data (binary or armored public keys) into NAME.trustedkeys.gpg
 * (created when missing), written atomically. */
gboolean cairn_repo_remote_gpg_import (CairnRepo *repo, const char *name, GBytes *key_data,
                                       guint *out_n_imported, GError **error);

/* Keys of the remote's keyring file (empty array when it has none). */
GPtrArray *cairn_repo_remote_list_keys (CairnRepo *repo, const char *name, GError **error);

/* ---- trust policy (remotes.c) ---------------------------------------------------- */

/* The keyring set that applies (see the policy at the top of this file).
 * @keyring_file: path (absolute or relative to the cwd) or NULL; @remote:
 * a configured remote or NULL. *out_description (may be NULL) names the
 * source for messages, e.g. "remote 'origin' keyring". */
CairnKeyringSet *cairn_repo_get_keyring_set (CairnRepo *repo, const char *remote,
                                             const char *keyring_file, char **out_description,
                                             GError **error);

/* Verify the signatures of commit bytes @commit_data whose detached
 * metadata is @detached (a{sv}; may be NULL) — the form pull needs before it
 * stores a commit. TRUE with *out_result when signatures were examined
 * (whether or not one is good: decide with cairn_verify_result_any_good()
 * or use cairn_repo_require_* below). No "ostree.gpgsigs": G_IO_ERROR_NOT_FOUND. */
gboolean cairn_repo_verify_commit_data (CairnRepo *repo, GBytes *commit_data, GVariant *detached,
                                        const char *remote, const char *keyring_file,
                                        CairnVerifyResult **out_result, GError **error);

/* Same for a stored commit (its bytes must hash to @commit). */
gboolean cairn_repo_verify_commit (CairnRepo *repo, const char *commit, const char *remote,
                                   const char *keyring_file, CairnVerifyResult **out_result,
                                   GError **error);

/* Verify summary bytes against summary.sig bytes (a{sv}). With both NULL,
 * the repository's own summary and summary.sig are read. A missing
 * summary.sig or one without signatures is G_IO_ERROR_NOT_FOUND. */
gboolean cairn_repo_verify_summary (CairnRepo *repo, GBytes *summary, GBytes *summary_sig,
                                    const char *remote, const char *keyring_file,
                                    CairnVerifyResult **out_result, GError **error);

/* The policy decision for run and pull: TRUE only when the stored commit
 * has at least one good signature from a trusted key. Otherwise
 * G_IO_ERROR_PERMISSION_DENIED with a message saying, per signature, which
 * key and why it does not count (or that there are no signatures). */
gboolean cairn_repo_require_signed_commit (CairnRepo *repo, const char *commit, const char *remote,
                                           const char *keyring_file, GError **error);

/* Build that refusal message from a result ("no good signature from a
 * trusted key: key …: expired key; …"). */
char *cairn_verify_result_describe_failure (const CairnVerifyResult *result);

G_END_DECLS
