/* cairn — GPG signing and verification (sign/).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * sign/ works on bytes only: callers (store/, cli/) read commit objects,
 * summary files, .commitmeta and keyrings, hand the bytes in, and store what
 * comes back. Nothing here knows the repository layout (DESIGN.md).
 *
 * Formats (docs/format.md §8):
 *  - a signature is one binary (non-armored) OpenPGP detached signature
 *    packet over the exact bytes of the .commit object or the summary file;
 *  - signatures are kept as a GVariant "aay" under the detached-metadata key
 *    "ostree.gpgsigs" (§8.2, §8.3, §17.5); concatenating all elements gives
 *    one packet stream;
 *  - remote keyrings (<repo>/NAME.trustedkeys.gpg) are GnuPG legacy
 *    "pubring.gpg" keyrings (§8.5), written by GnuPG itself exactly as
 *    `ostree remote gpg-import` does, so either tool reads the other's file.
 *
 * Trust policy: a signature counts ("good") only when it is
 * cryptographically valid, made by a key from the CairnKeyringSet passed to
 * the verify call, and neither the key nor the signature is expired or
 * revoked. Owner trust is not consulted: being in the keyring set is the
 * trust decision (ostree's rule: GPGME summary VALID/GREEN, or 0 without
 * error). The user's own GnuPG keyring is never consulted: every verification
 * runs in a private temporary GNUPGHOME holding only the set's keys.
 *
 * Temporary GnuPG homes: created with mode 0700 under $TMPDIR (read at each
 * call; "/tmp" when unset or empty), configured with no-autostart and
 * no-auto-key-retrieve (no agent, no dirmngr, no network), and always
 * removed before the function returns, after `gpgconf --homedir H --kill all`
 * has stopped any daemon that might have been started for them.
 *
 * Errors: functions return gboolean or a new pointer and take GError **error
 * last; on failure nothing is written to out_* parameters. Nothing prints.
 * Error domain is G_IO_ERROR unless stated.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The detached-metadata key holding GPG signatures (type "aay"). */
#define CAIRN_SIGN_GPGSIGS_KEY "ostree.gpgsigs"

/* ---- signing ------------------------------------------------------------ */

/* Create a detached, binary OpenPGP signature over @data with the secret key
 * @key_id (key id, fingerprint or anything `gpg --local-user` accepts that
 * names exactly one secret key) from the GnuPG home @homedir (NULL: the
 * default home, i.e. $GNUPGHOME or ~/.gnupg).
 *
 * Uses the home's gpg-agent (started on demand, as gpg does; may ask for a
 * passphrase through pinentry). That agent belongs to the caller's home and
 * is NOT stopped here.
 *
 * Returns the signature packet (one element of "ostree.gpgsigs"), or NULL:
 * G_IO_ERROR_NOT_FOUND when no usable secret key matches @key_id,
 * G_IO_ERROR_FAILED for other gpg failures. */
GBytes *cairn_sign_create_detached (GBytes *data, const char *key_id, const char *homedir,
                                    GError **error);

/* ---- keyring sets ------------------------------------------------------- */

/* The keys a verification may trust: keyring files and keyring directories,
 * read into memory when added (later changes on disk are not seen). */
typedef struct CairnKeyringSet CairnKeyringSet;

CairnKeyringSet *cairn_keyring_set_new (void);
void cairn_keyring_set_free (CairnKeyringSet *set);

/* Add a keyring file: a legacy binary keyring (NAME.trustedkeys.gpg,
 * `gpg --export` output) or an ASCII-armored public key file. @dfd/@path as
 * for openat (AT_FDCWD + absolute path at the CLI boundary; the repo dirfd +
 * "NAME.trustedkeys.gpg" in store/). A final symlink is followed, like ostree
 * does for keyring paths. A missing file is G_IO_ERROR_NOT_FOUND. */
gboolean cairn_keyring_set_add_file_at (CairnKeyringSet *set, int dfd, const char *path,
                                        GError **error);

/* Add every regular file whose name ends in ".gpg" directly inside the
 * directory (not recursive; like ostree's trusted.gpg.d), in name order.
 * When @allow_noent is TRUE a missing directory adds nothing and succeeds. */
gboolean cairn_keyring_set_add_dir_at (CairnKeyringSet *set, int dfd, const char *path,
                                       gboolean allow_noent, GError **error);

/* Add key material already in memory; @name only labels error messages. */
void cairn_keyring_set_add_bytes (CairnKeyringSet *set, const char *name, GBytes *keys);

/* Number of keyring blobs added so far (not keys). */
guint cairn_keyring_set_get_n_keyrings (CairnKeyringSet *set);

/* ---- verification ------------------------------------------------------- */

typedef enum
{
  CAIRN_SIG_STATUS_GOOD = 0,
  CAIRN_SIG_STATUS_BAD,         /* data or signature modified */
  CAIRN_SIG_STATUS_EXPIRED_KEY, /* signing key has expired */
  CAIRN_SIG_STATUS_REVOKED_KEY, /* signing key has been revoked */
  CAIRN_SIG_STATUS_UNKNOWN_KEY, /* key not in the keyring set */
  CAIRN_SIG_STATUS_EXPIRED_SIG, /* the signature itself has expired */
  CAIRN_SIG_STATUS_ERROR,       /* anything else (unsupported algorithm, ...) */
} CairnSigStatus;

/* Stable lowercase name for JSON and scripts: "good", "bad", "expired-key",
 * "revoked-key", "unknown-key", "expired-signature", "error". */
const char *cairn_sig_status_to_string (CairnSigStatus status);

/* One signature of a verification result. Strings are uppercase hex where
 * they are ids; any of them may be NULL when gpg could not tell (an unknown
 * key has no user id, and possibly only a key id). Times are seconds since
 * the epoch, 0 = unknown / never. */
typedef struct
{
  CairnSigStatus status;
  char *key_id;              /* 16 hex digits of the signing (sub)key */
  char *fingerprint;         /* fingerprint of the signing (sub)key */
  char *primary_fingerprint; /* fingerprint of its primary key */
  char *user_id;             /* primary user id of the key */
  gint64 timestamp;          /* when the signature was made */
  gint64 sig_expires;        /* signature expiry, 0 = never */
  gint64 key_expires;        /* signing key expiry, 0 = never */
  char *reason;              /* one human sentence on why it is (not) good */
} CairnSignatureInfo;

/* Result of one verification: signatures in packet order. Fields are public
 * and read-only for callers. */
typedef struct
{
  GPtrArray *signatures; /* element-type CairnSignatureInfo* */
  guint n_good;
} CairnVerifyResult;

void cairn_verify_result_free (CairnVerifyResult *result);

/* TRUE if at least one signature is CAIRN_SIG_STATUS_GOOD: the acceptance
 * rule for commits and summaries (docs/format.md §8.2). */
gboolean cairn_verify_result_any_good (const CairnVerifyResult *result);

/* JSON object (UTF-8, no trailing newline):
 *   {"n-signatures":N,"n-good":N,"signatures":[{"status":"good",
 *    "key-id":"…","fingerprint":"…","primary-fingerprint":"…","user-id":"…",
 *    "timestamp":T,"signature-expires":T,"key-expires":T,"reason":"…"},…]}
 * Missing strings are null. Built with GLib only. */
char *cairn_verify_result_to_json (const CairnVerifyResult *result);

/* Human-readable report, a few lines per signature, each line ending in
 * '\n', followed by a summary line ("2 signatures, 1 good"). */
char *cairn_verify_result_to_text (const CairnVerifyResult *result);

/* Verify the detached signatures @sigs_aay (GVariant "aay", e.g. the value
 * of "ostree.gpgsigs") over @data, trusting only the keys of @keys.
 *
 * A returned result is an answer even when nothing is good: callers decide
 * with cairn_verify_result_any_good(). NULL with an error means no answer:
 * G_IO_ERROR_INVALID_ARGUMENT when @sigs_aay is not "aay",
 * G_IO_ERROR_NOT_FOUND when it holds no signature,
 * G_IO_ERROR_INVALID_DATA when it holds no readable signature packet at all
 * (malformed data), G_IO_ERROR_FAILED when a keyring of the set cannot be
 * imported or gpg cannot run. Never uses the network, an agent or the
 * user's keyring. */
CairnVerifyResult *cairn_sign_verify_detached (GBytes *data, GVariant *sigs_aay,
                                               CairnKeyringSet *keys, GError **error);

/* ---- keyrings for remotes ----------------------------------------------- */

/* Merge @key_data (binary or ASCII-armored public keys, possibly several;
 * e.g. the KEYFILE of `remote gpg-import`) into @existing (a legacy
 * keyring, NULL or empty for a new one) and return the new keyring, in the
 * format ostree writes to NAME.trustedkeys.gpg: GnuPG's own legacy
 * pubring.gpg (public key packets plus GnuPG trust packets; never secret
 * key material). The caller writes it atomically.
 *
 * @out_n_imported: keys that were not in @existing (updates of known keys,
 * e.g. a new revocation, are merged but not counted). Fails with
 * G_IO_ERROR_INVALID_DATA when @key_data contains no public key. */
GBytes *cairn_sign_keyring_merge (GBytes *existing, GBytes *key_data, guint *out_n_imported,
                                  GError **error);

/* One key of a keyring, for `cairn remote show`. */
typedef struct
{
  char *key_id;      /* 16 hex digits of the primary key */
  char *fingerprint; /* primary key fingerprint */
  char *user_id;     /* primary user id, may be NULL */
  gint64 created;
  gint64 expires; /* 0 = never */
  gboolean expired;
  gboolean revoked;
} CairnKeyInfo;

void cairn_key_info_free (CairnKeyInfo *info);

/* List the public keys in @keyring (any format cairn_keyring_set_add_bytes
 * accepts). Returns a GPtrArray of CairnKeyInfo* (free function set), in
 * keyring order; an empty keyring gives an empty array. */
GPtrArray *cairn_sign_keyring_list (GBytes *keyring, GError **error);

/* ---- editing the "ostree.gpgsigs" array ---------------------------------- */

/* Read the issuer of one signature packet without any keyring: the 16-hex
 * issuer key id and, when the packet carries it, the issuer fingerprint
 * (NULL otherwise). G_IO_ERROR_INVALID_DATA for anything but a single
 * well-formed OpenPGP signature packet. */
gboolean cairn_sign_signature_get_issuer (GBytes *signature, char **out_key_id,
                                          char **out_fingerprint, GError **error);

/* A new "aay" (non-floating reference): @sigs_aay (may be NULL = empty)
 * with @signature appended. */
GVariant *cairn_sign_sigs_append (GVariant *sigs_aay, GBytes *signature);

/* Whether some signature of @sigs_aay (NULL = none) was made by the key
 * @key_id (key id of 8 or 16 hex digits, or a fingerprint; optional "0x";
 * case-insensitive). When @key_id names exactly one key in the GnuPG home
 * @homedir (NULL = default home; only the public keyring is read), every
 * subkey of that key matches, so a primary key id finds a signature made by
 * its signing subkey; otherwise the issuer ids in the packets are compared
 * literally. Used to refuse a second signature by the same key, like
 * `ostree gpg-sign`. G_IO_ERROR_INVALID_ARGUMENT for a malformed @key_id. */
gboolean cairn_sign_sigs_has_key (GVariant *sigs_aay, const char *key_id, const char *homedir,
                                  gboolean *out_found, GError **error);

/* A new "aay" (non-floating) holding the elements of @sigs_aay not made by
 * @key_id (matched as in cairn_sign_sigs_has_key()); *out_n_deleted (may be
 * NULL) says how many were removed — 0 is not an error, the caller decides.
 * Elements that are not parseable signature packets are kept. */
GVariant *cairn_sign_sigs_delete_key (GVariant *sigs_aay, const char *key_id, const char *homedir,
                                      guint *out_n_deleted, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnKeyringSet, cairn_keyring_set_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnVerifyResult, cairn_verify_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnKeyInfo, cairn_key_info_free)

G_END_DECLS
