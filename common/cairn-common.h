/* cairn — small helpers shared by the library modules (common/).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Conventions (STYLE.md): functions return gboolean (or a pointer/fd) and take
 * GError **error last; errno is captured at the failure site; every fd is
 * O_CLOEXEC; output parameters are out_* and written only on success.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

G_BEGIN_DECLS

/* ---- errors ------------------------------------------------------------ */

/* Set @error from the current errno (captured before anything else runs) with
 * a printf-style prefix: "<prefix>: <strerror>". Always returns FALSE so it
 * can be used as `return cairn_throw_errno (error, "open %s", path);`.
 * errno is preserved across the call. */
gboolean cairn_throw_errno (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Same with an explicit errno value (for APIs that return -errno). */
gboolean cairn_throw_errno_value (GError **error, int errsv, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* Set a G_IO_ERROR_FAILED error with a formatted message; returns FALSE. */
gboolean cairn_throw (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Set an error of a given GIOErrorEnum code; returns FALSE. */
gboolean cairn_throw_code (GError **error, GIOErrorEnum code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* Add "<prefix>: " to an already-set error (no-op when error is NULL or
 * unset); returns FALSE. Use once per function for context. */
gboolean cairn_prefix_error (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* The first error reported by a set of worker threads (later ones are
 * dropped); workers poll cairn_first_error_failed() to stop early. */
typedef struct
{
  GMutex lock;
  GError *error;
  gint failed;
} CairnFirstError;

void cairn_first_error_init (CairnFirstError *fe);
void cairn_first_error_clear (CairnFirstError *fe);
/* Record @error (ownership taken; may be NULL when the caller stopped
 * because of another thread's error) unless an earlier one is recorded. */
void cairn_first_error_set (CairnFirstError *fe, GError *error);
gboolean cairn_first_error_failed (CairnFirstError *fe);
/* Move the recorded error into @error; returns FALSE when there was one. */
gboolean cairn_first_error_propagate (CairnFirstError *fe, GError **error);

/* ---- fds ---------------------------------------------------------------- */

/* Close an fd, preserving errno; sets *fdp = -1. Safe with -1. */
void cairn_close_fdp (int *fdp);
#define cairn_autofd __attribute__ ((cleanup (cairn_close_fdp))) int

/* Steal an fd from an autofd variable. */
static inline int
cairn_steal_fd (int *fdp)
{
  int fd = *fdp;
  *fdp = -1;
  return fd;
}

/* ---- fd-relative file operations (fdio.c) ------------------------------ */

/* Open a directory relative to @dfd (AT_FDCWD allowed). With @follow FALSE
 * the final component must not be a symlink (O_NOFOLLOW). */
gboolean cairn_opendirat (int dfd, const char *path, gboolean follow, int *out_fd, GError **error);

/* Open a regular file read-only, O_CLOEXEC|O_NOCTTY, O_NOFOLLOW unless @follow. */
gboolean cairn_openat_rdonly (int dfd, const char *path, gboolean follow, int *out_fd,
                              GError **error);

/* mkdirat; with @allow_exist an existing *directory* (not a symlink to one)
 * is success. */
gboolean cairn_mkdirat (int dfd, const char *name, mode_t mode, gboolean allow_exist,
                        GError **error);

/* mkdir -p relative to @dfd, never following symlinks in the created part. */
gboolean cairn_mkdirat_p (int dfd, const char *path, mode_t mode, GError **error);

/* fstatat with AT_SYMLINK_NOFOLLOW. With @allow_noent, a missing file gives
 * TRUE with *out_exists = FALSE. */
gboolean cairn_fstatat_nofollow (int dfd, const char *name, struct stat *out_st,
                                 gboolean allow_noent, gboolean *out_exists, GError **error);

/* readlinkat of any length; returns a newly allocated NUL-terminated string. */
char *cairn_readlinkat (int dfd, const char *name, GError **error);

/* linkat without following; EEXIST is an error unless @allow_exist. */
gboolean cairn_linkat (int src_dfd, const char *src, int dst_dfd, const char *dst,
                       gboolean allow_exist, GError **error);

/* renameat; with @noreplace uses RENAME_NOREPLACE (falls back to link+unlink
 * where the filesystem lacks it). */
gboolean cairn_renameat (int src_dfd, const char *src, int dst_dfd, const char *dst,
                         gboolean noreplace, GError **error);

/* unlinkat; a missing file is success when @allow_noent. */
gboolean cairn_unlinkat (int dfd, const char *name, int flags, gboolean allow_noent,
                         GError **error);

/* Remove a tree below @dfd without following symlinks. Missing is success. */
gboolean cairn_rm_rf_at (int dfd, const char *name, GError **error);

/* The names in directory @dfd (not "." and ".."), in readdir order; @dfd
 * is left open and its position untouched. NULL with @error on failure. */
GPtrArray *cairn_dir_list_names (int dfd, GError **error);

/* Read/write loops that retry EINTR and short transfers. */
gboolean cairn_write_all (int fd, const void *buf, gsize len, GError **error);
/* The same at @offset (pwrite), the file position untouched. */
gboolean cairn_pwrite_all (int fd, const void *buf, gsize len, guint64 offset, GError **error);
GBytes *cairn_fd_read_all (int fd, gsize max_size, GError **error);
/* The whole content of a regular file that a stat found @size bytes long,
 * in one read (no fstat); a file that changed size since is an error. */
GBytes *cairn_fd_read_sized (int fd, gsize size, GError **error);

/* Read a whole file relative to @dfd (never following a final symlink).
 * Fails with G_IO_ERROR_NOT_FOUND when missing. @max_size 0 = no limit. */
GBytes *cairn_file_get_contents_at (int dfd, const char *name, gsize max_size, GError **error);

/* Raise the soft RLIMIT_NOFILE to the hard limit (walks of large trees keep
 * one fd per directory with pending work). */
void cairn_raise_fd_limit (void);
/* Widen this process's descriptor table to 1024 slots (or the soft limit)
 * while it has one thread: growing a table shared by threads waits for an
 * RCU grace period at each doubling. Call before starting threads. */
void cairn_reserve_fd_table (void);

/* Copy all data from @src_fd (at its current offset) to @dst_fd, using
 * copy_file_range / sendfile where possible. */
gboolean cairn_copy_fd_data (int src_fd, int dst_fd, GError **error);

/* ---- tmpfiles and atomic writes (tmpfile.c) ----------------------------- */

/* Durability policy for a write that ends in link/rename into place:
 *  NONE: no fsync (throwaway builders, core.fsync=false);
 *  FILE: fsync the file data before it becomes visible;
 *  FULL: FILE plus fsync of the directory that received the name. */
typedef enum
{
  CAIRN_FSYNC_NONE = 0,
  CAIRN_FSYNC_FILE = 1,
  CAIRN_FSYNC_FULL = 2,
} CairnFsyncPolicy;

typedef enum
{
  CAIRN_LINK_NOREPLACE,        /* fail with EEXIST if the target exists */
  CAIRN_LINK_NOREPLACE_IGNORE, /* an existing target is success (content-addressed) */
  CAIRN_LINK_REPLACE,          /* atomically replace the target */
} CairnLinkMode;

/* An unnamed (O_TMPFILE) or named temporary file in a directory. */
typedef struct
{
  gboolean initialized;
  gboolean anonymous; /* opened with O_TMPFILE */
  int src_dfd;        /* borrowed */
  int fd;
  char *path; /* name inside src_dfd when !anonymous */
} CairnTmpfile;

/* Force the named-file fallback (as on filesystems without O_TMPFILE). Also
 * forced by the environment variable CAIRN_DISABLE_O_TMPFILE=1. For tests. */
void cairn_tmpfile_set_disable_o_tmpfile (gboolean disable);
gboolean cairn_tmpfile_o_tmpfile_disabled (void);

/* Open a temporary file for writing in directory @dfd (mode before umask).
 * Tries O_TMPFILE first, then a uniquely named ".tmp-XXXXXX" file. */
gboolean cairn_tmpfile_open (int dfd, mode_t mode, CairnTmpfile *out_tmpf, GError **error);

/* Give the temporary file the name @target in @target_dfd per @mode, after
 * fsyncing per @fsync. On success the tmpfile is consumed (name used);
 * it must still be cleared to close the fd. */
gboolean cairn_tmpfile_link_at (CairnTmpfile *tmpf, CairnLinkMode mode, int target_dfd,
                                const char *target, CairnFsyncPolicy fsync, GError **error);

/* Close the fd and unlink a named temp file that was not linked. */
void cairn_tmpfile_clear (CairnTmpfile *tmpf);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnTmpfile, cairn_tmpfile_clear)

/* Write @len bytes to @name in @dfd atomically (tmpfile + rename), @mode
 * permissions, durability per @fsync. */
gboolean cairn_file_replace_contents_at (int dfd, const char *name, const void *buf, gsize len,
                                         mode_t mode, CairnFsyncPolicy fsync, GError **error);

/* ---- validation of names from untrusted data (validate.c) --------------- */

/* A single path component from a tree, archive or network: non-empty, not
 * "." or "..", no '/', no NUL within @len bytes (len < 0: strlen), valid
 * UTF-8. The error names the (escaped) offending name. */
gboolean cairn_validate_filename (const char *name, gssize len, GError **error);

/* A relative path from untrusted data: components separated by '/', each
 * valid per cairn_validate_filename (empty components from "//" or a
 * trailing "/" are tolerated; leading "/" is not). */
gboolean cairn_validate_relpath (const char *path, GError **error);

/* Ref names per docs/format.md §3.4: '/'-separated fragments matching
 * [\w\d][-._\w\d]*, valid UTF-8, not a 64-hex checksum. */
gboolean cairn_validate_ref_name (const char *ref, GError **error);

/* Remote names: a single ref fragment. */
gboolean cairn_validate_remote_name (const char *name, GError **error);

/* Exactly 64 lowercase hex digits. */
gboolean cairn_validate_checksum_string (const char *sha, GError **error);
gboolean cairn_is_checksum_string (const char *sha);

/* A printable, escaped copy of possibly hostile bytes for error messages. */
char *cairn_escape_name (const char *name, gssize len);

/* ---- JSON (common/json.c) ---------------------------------------------------- */

/* Parse JSON into GVariants: objects a{sv}, arrays av, strings s, numbers
 * d, booleans b, null an empty maybe. Strict: UTF-8 only, no trailing
 * data, depth <= 64. @what names the document in errors. */
GVariant *cairn_json_parse (GBytes *bytes, const char *what, GError **error);
/* A member of a JSON object of @type (NULL when absent, of another type, or
 * @obj is not an object). */
GVariant *cairn_json_get (GVariant *obj, const char *key, const GVariantType *type);
/* A string member, copied (NULL when absent or not a string). */
char *cairn_json_dup_string (GVariant *obj, const char *key);
/* A number member as an integer; FALSE when absent, not a number, negative
 * or not integral. */
gboolean cairn_json_get_uint (GVariant *obj, const char *key, guint64 *out);
/* An array of strings as "as" (NULL when absent; non-strings dropped). */
GVariant *cairn_json_strv (GVariant *obj, const char *key);
/* The objects of a JSON array value (av), as GVariant* a{sv}. */
GPtrArray *cairn_json_objects (GVariant *arr);

/* A JSON writer with fixed formatting (no whitespace, members in the order
 * written): the same calls give the same bytes, which is what makes image
 * digests reproducible. */
typedef struct
{
  GString *s;
  guint depth;
  guint64 need_comma; /* bit per depth */
} CairnJsonWriter;
void cairn_jw_init (CairnJsonWriter *w);
void cairn_jw_begin_object (CairnJsonWriter *w);
void cairn_jw_end_object (CairnJsonWriter *w);
void cairn_jw_begin_array (CairnJsonWriter *w);
void cairn_jw_end_array (CairnJsonWriter *w);
void cairn_jw_key (CairnJsonWriter *w, const char *key);
void cairn_jw_string (CairnJsonWriter *w, const char *value);
void cairn_jw_int (CairnJsonWriter *w, gint64 value);
void cairn_jw_bool (CairnJsonWriter *w, gboolean value);
/* Key and value in one call. */
void cairn_jw_member_string (CairnJsonWriter *w, const char *key, const char *value);
void cairn_jw_member_int (CairnJsonWriter *w, const char *key, gint64 value);
/* A value parsed by cairn_json_parse, written back. */
void cairn_jw_variant (CairnJsonWriter *w, GVariant *v);
/* The document; the writer is reset. */
GBytes *cairn_jw_finish (CairnJsonWriter *w);

G_END_DECLS
