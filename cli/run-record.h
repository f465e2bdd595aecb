/* Approved launches of `cairn run` and kernel mounts of `cairn mount`,
 * replayed by the front end (the mounts: at the end of this file).
 *
 * The full `cairn run` (cli/cmd-run.c) decides everything: which commit a
 * ref names, whether a signature policy applies, the image's defaults, the
 * launcher's command line. When a run needed no signature check, it writes
 * what it approved as a record: the exact invocation it answered, the
 * files its answer depended on (the ref, the repository config, with their
 * whole contents), the checkout to lock, and the launcher command it
 * executed. The static front end (cli/front.c) replays a record only while
 * every one of those inputs is byte for byte what it was; otherwise it
 * hands the run to cairn-core, which decides again. The front end takes no
 * decision of its own: it knows neither the ref grammar nor the options of
 * run nor the policy, only how to check a record.
 *
 * Plain C (the front end is static and links no GLib); docs/ARCHITECTURE.md
 * §"cairn run" describes the path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* The invocation is split at its first "--": what comes before is the key
 * (with the user, the working directory and the environment variables that
 * can change the answer), what comes after is the container command, which
 * a record may let the user vary. */
int cairn_run_record_split (int argc, char **argv);

/* The directory of records: $CAIRN_RUN_RECORDS, else /run/cairn/run-records
 * for root, else $XDG_RUNTIME_DIR/cairn/run-records; 0 when there is none. */
int cairn_run_record_dir (char *out, size_t size);

/* The key of argv[1..split) as bytes (*out_key, malloc'd) and the record's
 * file name (16 hex digits of its FNV-1a hash + ".rec"). 0 on failure. */
int cairn_run_record_key (int argc, char **argv, int split, char **out_key, size_t *out_len,
                          char name[32]);

/* Front end: replay the record for this invocation if it still holds, and
 * never return then: when the recorded launcher is this very executable
 * (the same inode as /proc/self/exe: `cairn` is a second name of
 * cairn-launch) and IN_PROCESS is given, by exiting with IN_PROCESS (n,
 * the recorded command line), which saves a second exec; otherwise by
 * exec()ing it.  Returns when the record is absent, untrusted or stale. */
void cairn_run_record_replay (int argc, char **argv, int (*in_process) (int, char **));

/* cairn run: a record being written. */
typedef struct CairnRunRecord CairnRunRecord;
CairnRunRecord *cairn_run_record_new (int argc, char **argv, int split);
/* The whole content of @path is an input of the decision. */
int cairn_run_record_add_file (CairnRunRecord *r, const char *path);
/* @path is a program the launch runs (pasta): it must stay executable. */
int cairn_run_record_add_program (CairnRunRecord *r, const char *path);
/* The checkout to hold a shared lock on (@lock), which must still be
 * linked, and the directory that must exist. */
void cairn_run_record_set_lock (CairnRunRecord *r, const char *lock, const char *dir);
/* The launcher's argv up to the container command, and the command used
 * when the user gives none after "--". With @tail_allowed false the record
 * applies only when there is no "--" (the command is in @fixed). The
 * record never runs a launcher command of fewer than @need arguments (one
 * without a container command). */
void cairn_run_record_set_exec (CairnRunRecord *r, char **fixed, char **default_tail,
                                int tail_allowed, int need);
/* Write it (atomically, mode 0600) and free it; best effort. */
void cairn_run_record_commit (CairnRunRecord *r);
void cairn_run_record_free (CairnRunRecord *r);

/* ---- kernel mounts of a cached image (`cairn mount REF DIR` as root) ------
 * cairn-core records a mount it made from a cached image: the invocation's
 * key (as above), the files its answer read (the ref, the repository
 * config, the image's checksum file) with their whole contents, and what it
 * mounted (the image, the objects directory, the overlay's source and
 * options). The front end repeats that mount only while every input is
 * byte for byte the same and the image file's stamp is the one its
 * checksum file records (checkout/kmount.c); anything else, or any failure
 * before the final move_mount, goes to cairn-core (nothing is left
 * mounted: the detached mounts close with the front end's fds on exec). */

/* Front end: do the recorded mount at argv's MOUNTPOINT if the record
 * holds; exits 0 then; returns otherwise. */
void cairn_mount_record_replay (int argc, char **argv);

/* cairn-core: record the mount just made (best effort). @files: absolute
 * paths whose contents were inputs, NULL-terminated; @image: the image
 * file; @sum_file: its checksum file (also an input); @objects: the
 * objects directory; @source: the overlay's source; @mountpoint: the
 * command line's last argument, where it was mounted. */
void cairn_mount_record_write (int argc, char **argv, const char *const *files, const char *image,
                               const char *sum_file, const char *objects, const char *source,
                               int verity, int suid, const char *mountpoint);
