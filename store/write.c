/* Writing objects into a transaction, per repo mode (docs/format.md §4, §5, §6).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <libdeflate.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <zlib.h>

#define SMALL_FILE_MAX (256u << 10)
/* Archive mode: files up to this size are compressed by libdeflate in one
 * call (input and output buffers per worker thread bound the memory). */
#define DEFLATE_ONESHOT_MAX (1u << 20)
/* Objects at least this large start their writeback when written (most of
 * the bytes). Smaller ones are left to the transaction's syncfs(), which
 * writes them in few large requests: starting each object of 4 KiB or more
 * (1,550 more calls on the Debian minbase tree) measured 11% slower on this
 * paravirtualised VM, where each request submitted costs an exit. */
#define EARLY_WRITEBACK_MIN (64u << 10)
#define CHUNK (64u << 10)

static void
count (CairnTxn *txn, gboolean meta, guint64 bytes)
{
  g_mutex_lock (&txn->lock);
  if (meta)
    txn->stats.metadata_written++;
  else
    {
      txn->stats.content_written++;
      txn->stats.content_bytes_written += bytes;
    }
  g_mutex_unlock (&txn->lock);
}

static gboolean
link_object (CairnTxn *txn, CairnTmpfile *tmpf, const char *checksum, CairnObjectType type,
             GError **error)
{
  int sub = cairn_txn_subdir_fd (txn, checksum, error);
  if (sub < 0)
    return FALSE;
  g_autofree char *leaf = cairn_object_leaf (checksum, type, txn->repo->mode);
  if (!cairn_tmpfile_link_at (tmpf, CAIRN_LINK_NOREPLACE_IGNORE, sub, leaf, CAIRN_FSYNC_NONE,
                              error))
    return FALSE;
  _cairn_txn_note_staged (txn, type, checksum);
  return TRUE;
}

static gboolean
write_metadata_bytes (CairnTxn *txn, CairnObjectType type, const char *checksum, const void *data,
                      gsize len, GError **error)
{
  if (_cairn_txn_has_object (txn, type, checksum))
    return TRUE;
  g_auto (CairnTmpfile) tmpf = { 0 };
  if (!cairn_tmpfile_open (txn->staging_dfd, 0644, &tmpf, error)
      || !cairn_write_all (tmpf.fd, data, len, error))
    return cairn_prefix_error (error, "writing %s object %s", cairn_object_type_to_string (type),
                               checksum);
  if (fchmod (tmpf.fd, 0644) < 0)
    return cairn_throw_errno (error, "chmod");
  if (!link_object (txn, &tmpf, checksum, type, error))
    return cairn_prefix_error (error, "writing %s object %s", cairn_object_type_to_string (type),
                               checksum);
  count (txn, TRUE, len);
  return TRUE;
}

gboolean
cairn_txn_write_metadata (CairnTxn *txn, CairnObjectType type, GVariant *variant,
                          char **out_checksum, GError **error)
{
  g_autoptr (GVariant) normal = g_variant_get_normal_form (variant);
  gsize len = g_variant_get_size (normal);
  const void *data = g_variant_get_data (normal);
  g_autofree char *csum = cairn_checksum_bytes (data ? data : "", len);
  if (!write_metadata_bytes (txn, type, csum, data ? data : "", len, error))
    return FALSE;
  if (out_checksum)
    *out_checksum = g_steal_pointer (&csum);
  return TRUE;
}

gboolean
cairn_txn_write_metadata_trusted_name (CairnTxn *txn, CairnObjectType type,
                                       const char *expected_checksum, GBytes *data, GError **error)
{
  gsize len;
  const void *p = g_bytes_get_data (data, &len);
  g_autofree char *csum = cairn_checksum_bytes (p ? p : "", len);
  if (strcmp (csum, expected_checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted %s object %s: its content hashes to %s",
                             cairn_object_type_to_string (type), expected_checksum, csum);
  g_autoptr (GVariant) v = g_variant_ref_sink (
      g_variant_new_from_bytes (type == CAIRN_OBJECT_DIR_TREE   ? CAIRN_DIRTREE_GVARIANT_FORMAT
                                : type == CAIRN_OBJECT_DIR_META ? CAIRN_DIRMETA_GVARIANT_FORMAT
                                : type == CAIRN_OBJECT_COMMIT   ? CAIRN_COMMIT_GVARIANT_FORMAT
                                                                : G_VARIANT_TYPE_VARDICT,
                                data, FALSE));
  if (!g_variant_is_normal_form (v))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s object %s is not in normal form",
                             cairn_object_type_to_string (type), expected_checksum);
  return write_metadata_bytes (txn, type, csum, p ? p : "", len, error);
}

/* ---- content ---------------------------------------------------------------- */

typedef struct
{
  EVP_MD_CTX *md;
  z_stream zs;
  gboolean deflating;
} Hasher;

static void
hasher_start (Hasher *h, GBytes *prefixed_header)
{
  h->md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (h->md, cairn_sha256 (), NULL);
  gsize len;
  const void *p = g_bytes_get_data (prefixed_header, &len);
  EVP_DigestUpdate (h->md, p, len);
}

static void
hasher_finish (Hasher *h, char out_hex[65])
{
  guint8 md[32];
  EVP_DigestFinal_ex (h->md, md, NULL);
  EVP_MD_CTX_free (h->md);
  h->md = NULL;
  cairn_checksum_to_hex (md, out_hex);
}

char *
cairn_content_checksum (const CairnFileInfo *fi, const void *data, gsize len)
{
  g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
  Hasher h = { 0 };
  char hex[65];
  hasher_start (&h, prefixed);
  if (len)
    EVP_DigestUpdate (h.md, data, len);
  hasher_finish (&h, hex);
  return g_strdup (hex);
}

static gboolean
check_expected (const char *expected, const char *actual, GError **error)
{
  if (expected && strcmp (expected, actual) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted file object %s: its content hashes to %s", expected,
                             actual);
  return TRUE;
}

static gboolean
set_mtime_zero (int fd)
{
  struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
  return futimens (fd, ts) == 0;
}

/* Apply the physical metadata a bare-family object needs, before it is named. */
static gboolean
finish_bare_regular (CairnTxn *txn, int fd, const CairnFileInfo *fi, GError **error)
{
  CairnRepoMode mode = txn->repo->mode;
  if (mode == CAIRN_REPO_MODE_BARE)
    {
      if (fchown (fd, fi->uid, fi->gid) < 0)
        return cairn_throw_errno (error, "fchown");
      if (!txn->repo->disable_xattrs && fi->xattrs)
        {
          GVariantIter it;
          g_autoptr (GVariant) name = NULL, value = NULL;
          g_variant_iter_init (&it, fi->xattrs);
          while (g_variant_iter_loop (&it, "(@ay@ay)", &name, &value))
            {
              gsize vlen;
              const void *v = g_variant_get_fixed_array (value, &vlen, 1);
              if (fsetxattr (fd, g_variant_get_bytestring (name), v, vlen, 0) < 0)
                return cairn_throw_errno (error, "fsetxattr(%s)", g_variant_get_bytestring (name));
            }
        }
      /* After fchown, which clears setuid: mode last. */
      if (fchmod (fd, fi->mode & 07777) < 0)
        return cairn_throw_errno (error, "fchmod");
    }
  else if (mode == CAIRN_REPO_MODE_BARE_USER)
    {
      g_autoptr (GVariant) meta = _cairn_ostreemeta_new (fi);
      if (fsetxattr (fd, "user.ostreemeta", g_variant_get_data (meta), g_variant_get_size (meta), 0)
          < 0)
        return cairn_throw_errno (error, "fsetxattr(user.ostreemeta)");
      if (fchmod (fd, (fi->mode & 0775) | S_IRUSR) < 0)
        return cairn_throw_errno (error, "fchmod");
    }
  else
    {
      if ((fi->mode & 07777 & ~0775) != 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                                 "invalid mode 0%o for a bare-user-only repository",
                                 fi->mode & 07777);
      if (fchmod (fd, fi->mode & 07777) < 0)
        return cairn_throw_errno (error, "fchmod");
    }
  if (!set_mtime_zero (fd))
    return cairn_throw_errno (error, "futimens");
  return TRUE;
}

static gboolean
write_zheader (int fd, const CairnFileInfo *fi, GError **error)
{
  g_autoptr (GVariant) zh = cairn_zfile_header_new (fi);
  g_autoptr (GBytes) pre = cairn_file_header_prefixed (zh);
  gsize len;
  const void *p = g_bytes_get_data (pre, &len);
  return cairn_write_all (fd, p, len, error);
}

/* Stream @len bytes of raw deflate to fd. */
static gboolean
deflate_chunk (z_stream *zs, const void *data, gsize len, gboolean finish, int fd, GError **error)
{
  guint8 out[CHUNK];
  zs->next_in = (guint8 *)data;
  zs->avail_in = len;
  do
    {
      zs->next_out = out;
      zs->avail_out = sizeof out;
      int r = deflate (zs, finish ? Z_FINISH : Z_NO_FLUSH);
      if (r == Z_STREAM_ERROR)
        return cairn_throw (error, "deflate failed");
      gsize have = sizeof out - zs->avail_out;
      if (have && !cairn_write_all (fd, out, have, error))
        return FALSE;
    }
  while (zs->avail_out == 0);
  return TRUE;
}

/* Archive objects of files held in memory are compressed in one call by
 * libdeflate: the same raw deflate format, measured 2.3x faster than zlib at
 * level 1 on the Debian minbase files, with slightly smaller output. Larger
 * files are streamed through zlib (libdeflate has no streaming API, and
 * buffering them would cost memory). The compressors are kept on the
 * transaction, one per writer at a time (taken and given back under its lock)
 * and freed with it: not per thread, so none outlives the transaction in a
 * thread pool's idle threads. */
struct CairnDeflater
{
  struct libdeflate_compressor *c;
  int level;
  guint8 *out;
  gsize out_cap;
};

void
_cairn_deflater_free (gpointer p)
{
  CairnDeflater *d = p;
  if (d->c)
    libdeflate_free_compressor (d->c);
  g_free (d->out);
  g_free (d);
}

static CairnDeflater *
deflater_take (CairnTxn *txn)
{
  CairnDeflater *d = NULL;
  g_mutex_lock (&txn->lock);
  if (txn->deflaters->len > 0)
    d = g_ptr_array_steal_index_fast (txn->deflaters, txn->deflaters->len - 1);
  g_mutex_unlock (&txn->lock);
  return d ? d : g_new0 (CairnDeflater, 1);
}

static void
deflater_give (CairnTxn *txn, CairnDeflater *d)
{
  g_mutex_lock (&txn->lock);
  g_ptr_array_add (txn->deflaters, d);
  g_mutex_unlock (&txn->lock);
}

/* Raw deflate of @data into @d's buffer; NULL if libdeflate cannot
 * (allocation failure): the caller streams through zlib instead. */
static const guint8 *
deflate_oneshot (CairnDeflater *d, int level, const void *data, gsize len, gsize *out_len)
{
  if (!d->c || d->level != level)
    {
      if (d->c)
        libdeflate_free_compressor (d->c);
      d->c = libdeflate_alloc_compressor (level);
      d->level = level;
      if (!d->c)
        return NULL;
    }
  gsize bound = libdeflate_deflate_compress_bound (d->c, len);
  if (bound > d->out_cap)
    {
      g_free (d->out);
      d->out_cap = MAX (bound, 64 * 1024);
      d->out = g_malloc (d->out_cap);
    }
  *out_len = libdeflate_deflate_compress (d->c, data, len, d->out, d->out_cap);
  return *out_len ? d->out : NULL;
}

/* Sparse files stay sparse in bare repos: runs of zeros are not written
 * (the staged file gets holes there), and a source file's holes are not
 * read at all (SEEK_DATA/SEEK_HOLE); the checksum covers the zeros all the
 * same. A tarball that claims a 10 GiB file of holes then costs disk space
 * for its data only. Archive repos compress zeros instead. */
#define HOLE_BLOCK 4096u
static const guint8 zeros[CHUNK];

static gboolean
all_zero (const guint8 *p, gsize n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* pwrite @n bytes of @p at @off, leaving out whole file blocks of zeros.
 * *out_skipped is set when something was left out (the file then needs
 * its final size set). */
static gboolean
pwrite_sparse (int fd, const guint8 *p, gsize n, guint64 off, gboolean *out_skipped, GError **error)
{
  gsize start = 0; /* first byte not yet written */
  gsize i = 0;
  while (i < n)
    {
      guint64 blk_end = (off + i) / HOLE_BLOCK * HOLE_BLOCK + HOLE_BLOCK;
      gsize len = (gsize)MIN ((guint64)(n - i), blk_end - (off + i));
      if (len == HOLE_BLOCK && all_zero (p + i, len))
        {
          if (i > start && !cairn_pwrite_all (fd, p + start, i - start, off + start, error))
            return FALSE;
          *out_skipped = TRUE;
          start = i + len;
        }
      i += len;
    }
  return n == start || cairn_pwrite_all (fd, p + start, n - start, off + start, error);
}

/* Whether @fd is a regular file with fewer blocks than its size needs. */
static gboolean
source_has_holes (int fd, guint64 *out_end)
{
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return FALSE;
  *out_end = (guint64)st.st_size;
  return (guint64)st.st_blocks * 512 < (guint64)st.st_size;
}

static void
hash_zeros (Hasher *h, guint64 n)
{
  while (h->md && n > 0)
    {
      gsize k = (gsize)MIN (n, (guint64)sizeof zeros);
      EVP_DigestUpdate (h->md, zeros, k);
      n -= k;
    }
}

/* Write the stored form of a regular file to tmpf, from a buffer or an fd.
 * The checksum is computed on the way (hex into out_hex). */
static gboolean
stage_regular (CairnTxn *txn, const CairnFileInfo *fi, const void *data, gsize len, int src_fd,
               gint64 src_off, const char *known_hex, CairnTmpfile *tmpf, char out_hex[65],
               guint64 *out_size, GError **error)
{
  gboolean archive = txn->repo->mode == CAIRN_REPO_MODE_ARCHIVE;
  Hasher h = { 0 };
  z_stream zs = { 0 };
  gboolean ok = TRUE;
  guint64 total = 0;
  if (known_hex)
    memcpy (out_hex, known_hex, 65); /* in-memory content, hashed by the caller */
  else
    {
      g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
      hasher_start (&h, prefixed);
    }
  if (!cairn_tmpfile_open (txn->staging_dfd, 0644, tmpf, error))
    ok = FALSE;
  if (ok && archive && src_fd < 0 && len <= DEFLATE_ONESHOT_MAX && txn->repo->zlib_level > 0)
    {
      gsize clen = 0;
      CairnDeflater *d = deflater_take (txn);
      const guint8 *c = deflate_oneshot (d, txn->repo->zlib_level, data, len, &clen);
      if (c)
        {
          if (h.md)
            {
              EVP_DigestUpdate (h.md, data, len);
              hasher_finish (&h, out_hex);
            }
          *out_size = len;
          gboolean r
              = write_zheader (tmpf->fd, fi, error) && cairn_write_all (tmpf->fd, c, clen, error);
          deflater_give (txn, d);
          return r;
        }
      deflater_give (txn, d);
    }
  if (ok && archive)
    {
      ok = write_zheader (tmpf->fd, fi, error);
      if (deflateInit2 (&zs, txn->repo->zlib_level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        ok = cairn_throw (error, "deflateInit failed");
    }
  g_autofree guint8 *buf = src_fd >= 0 ? g_malloc (CHUNK) : NULL;
  guint64 src_end = 0;
  gboolean src_holes
      = src_fd >= 0 && src_off < 0 && !archive && source_has_holes (src_fd, &src_end);
  gboolean skipped = FALSE;
  while (ok)
    {
      const void *p = data;
      gsize n = len;
      guint64 data_end = G_MAXUINT64;
      if (src_holes)
        {
          /* skip the source's holes: hash their zeros, write nothing */
          off_t d = lseek (src_fd, (off_t)total, SEEK_DATA);
          guint64 next = d >= 0 ? (guint64)d : (errno == ENXIO ? src_end : total);
          if (next > total)
            {
              hash_zeros (&h, next - total);
              total = next;
              skipped = TRUE;
              continue;
            }
          off_t e = lseek (src_fd, (off_t)total, SEEK_HOLE);
          data_end = e > (off_t)total ? (guint64)e : G_MAXUINT64;
        }
      if (src_fd >= 0)
        {
          /* From an offset: exactly fi->size bytes (a range of a tarball). */
          guint64 left = src_off >= 0 ? fi->size - total : MIN ((guint64)CHUNK, data_end - total);
          ssize_t r = left == 0      ? 0
                      : src_off >= 0 ? pread (src_fd, buf, MIN (left, CHUNK), src_off + total)
                      : src_holes    ? pread (src_fd, buf, left, (off_t)total)
                                     : read (src_fd, buf, CHUNK);
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            {
              ok = cairn_throw_errno (error, "read");
              break;
            }
          if (r == 0 && left > 0 && src_off >= 0)
            {
              ok = cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT, "truncated data");
              break;
            }
          p = buf;
          n = r;
        }
      if (n > 0 && h.md)
        EVP_DigestUpdate (h.md, p, n);
      gboolean last = src_fd < 0 || n == 0;
      if (archive)
        ok = deflate_chunk (&zs, p, n, last, tmpf->fd, error);
      else if (n > 0)
        ok = pwrite_sparse (tmpf->fd, p, n, total, &skipped, error);
      total += n;
      if (last)
        break;
    }
  if (archive)
    deflateEnd (&zs);
  else if (ok && skipped && ftruncate (tmpf->fd, (off_t)total) < 0)
    ok = cairn_throw_errno (error, "setting the size of a sparse file");
  if (h.md)
    hasher_finish (&h, out_hex);
  *out_size = total;
  return ok;
}

static gboolean
write_regular (CairnTxn *txn, const CairnFileInfo *fi, const void *data, gsize len, int src_fd,
               gint64 src_off, const char *expected, char **out_checksum, GError **error)
{
  g_auto (CairnTmpfile) tmpf = { 0 };
  char hex[65];
  guint64 size = 0;
  CairnFileInfo sized = *fi; /* shallow: the archive header records the real size */
  if (src_fd < 0)
    sized.size = len;
  fi = &sized;
  /* Small content known up front: hash first (once), skip the write when
   * present. */
  g_autofree char *known = NULL;
  if (src_fd < 0)
    {
      known = cairn_content_checksum (fi, data, len);
      if (!check_expected (expected, known, error))
        return FALSE;
      if (_cairn_txn_has_object (txn, CAIRN_OBJECT_FILE, known))
        {
          *out_checksum = g_steal_pointer (&known);
          return TRUE;
        }
    }
  if (!stage_regular (txn, fi, data, len, src_fd, src_off, known, &tmpf, hex, &size, error))
    return FALSE;
  if (!check_expected (expected, hex, error))
    return FALSE;
  if (size != fi->size && src_fd >= 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "file size changed while reading (%" G_GUINT64_FORMAT
                             " bytes, expected %" G_GUINT64_FORMAT ")",
                             size, fi->size);
  /* Content known up front was looked for above; streamed content only
   * now that its checksum is known. */
  if (known || !_cairn_txn_has_object (txn, CAIRN_OBJECT_FILE, hex))
    {
      if (txn->repo->mode == CAIRN_REPO_MODE_ARCHIVE)
        {
          if (fchmod (tmpf.fd, 0644) < 0)
            return cairn_throw_errno (error, "fchmod");
        }
      else if (!finish_bare_regular (txn, tmpf.fd, fi, error))
        return FALSE;
      /* Start writing the data back now, asynchronously: the commit's
       * syncfs() then finds most of it on disk instead of writing every
       * object at the end while the CPUs idle. Only for objects of some
       * size (most of the bytes; a small write each would cost more). */
      if (txn->repo->fsync && size >= EARLY_WRITEBACK_MIN)
        (void)sync_file_range (tmpf.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
      if (!link_object (txn, &tmpf, hex, CAIRN_OBJECT_FILE, error))
        return FALSE;
      count (txn, FALSE, size);
    }
  *out_checksum = g_strdup (hex);
  return TRUE;
}

/* bare / bare-user-only keep symlinks as real symlinks. */
static gboolean
stage_real_symlink (CairnTxn *txn, const CairnFileInfo *fi, const char *checksum, GError **error)
{
  int sub = cairn_txn_subdir_fd (txn, checksum, error);
  if (sub < 0)
    return FALSE;
  g_autofree char *leaf = cairn_object_leaf (checksum, CAIRN_OBJECT_FILE, txn->repo->mode);
  g_autofree char *tmpname
      = g_strdup_printf (".tmp-link-%08x%08x", g_random_int (), g_random_int ());
  if (symlinkat (fi->symlink_target, sub, tmpname) < 0)
    return cairn_throw_errno (error, "symlink");
  gboolean ok = TRUE;
  if (txn->repo->mode == CAIRN_REPO_MODE_BARE)
    {
      if (fchownat (sub, tmpname, fi->uid, fi->gid, AT_SYMLINK_NOFOLLOW) < 0)
        ok = cairn_throw_errno (error, "lchown");
      GVariantIter it;
      g_autoptr (GVariant) name = NULL, value = NULL;
      g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d/%s", sub, tmpname);
      g_variant_iter_init (&it, fi->xattrs ? fi->xattrs : cairn_xattrs_empty ());
      while (ok && !txn->repo->disable_xattrs
             && g_variant_iter_loop (&it, "(@ay@ay)", &name, &value))
        {
          gsize vlen;
          const void *v = g_variant_get_fixed_array (value, &vlen, 1);
          if (lsetxattr (proc, g_variant_get_bytestring (name), v, vlen, 0) < 0)
            ok = cairn_throw_errno (error, "lsetxattr");
        }
    }
  struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
  if (ok && utimensat (sub, tmpname, ts, AT_SYMLINK_NOFOLLOW) < 0)
    ok = cairn_throw_errno (error, "utimensat");
  if (ok && renameat2 (sub, tmpname, sub, leaf, RENAME_NOREPLACE) < 0 && errno != EEXIST)
    {
      if ((errno != EINVAL && errno != ENOSYS)
          || (linkat (sub, tmpname, sub, leaf, 0) < 0 && errno != EEXIST))
        ok = cairn_throw_errno (error, "naming symlink object %s", checksum);
    }
  (void)unlinkat (sub, tmpname, 0);
  return ok;
}

static gboolean
write_symlink (CairnTxn *txn, const CairnFileInfo *fi, const char *expected, char **out_checksum,
               GError **error)
{
  g_autofree char *csum = cairn_content_checksum (fi, NULL, 0);
  if (!check_expected (expected, csum, error))
    return FALSE;
  if (!_cairn_txn_has_object (txn, CAIRN_OBJECT_FILE, csum))
    {
      CairnRepoMode mode = txn->repo->mode;
      if (mode == CAIRN_REPO_MODE_BARE || mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
        {
          if (!stage_real_symlink (txn, fi, csum, error))
            return FALSE;
          _cairn_txn_note_staged (txn, CAIRN_OBJECT_FILE, csum);
        }
      else
        {
          g_auto (CairnTmpfile) tmpf = { 0 };
          if (!cairn_tmpfile_open (txn->staging_dfd, 0644, &tmpf, error))
            return FALSE;
          gboolean ok;
          if (mode == CAIRN_REPO_MODE_ARCHIVE)
            ok = write_zheader (tmpf.fd, fi, error);
          else
            {
              g_autoptr (GVariant) meta = _cairn_ostreemeta_new (fi);
              ok = cairn_write_all (tmpf.fd, fi->symlink_target, strlen (fi->symlink_target) + 1,
                                    error);
              if (ok
                  && fsetxattr (tmpf.fd, "user.ostreemeta", g_variant_get_data (meta),
                                g_variant_get_size (meta), 0)
                         < 0)
                ok = cairn_throw_errno (error, "fsetxattr(user.ostreemeta)");
              if (ok && !set_mtime_zero (tmpf.fd))
                ok = cairn_throw_errno (error, "futimens");
            }
          if (!ok || fchmod (tmpf.fd, 0644) < 0)
            return ok ? cairn_throw_errno (error, "fchmod") : FALSE;
          if (!link_object (txn, &tmpf, csum, CAIRN_OBJECT_FILE, error))
            return FALSE;
        }
      count (txn, FALSE, 0);
    }
  *out_checksum = g_steal_pointer (&csum);
  return TRUE;
}

static gboolean
validate_info (const CairnFileInfo *fi, GError **error)
{
  if (S_ISLNK (fi->mode))
    {
      if (!fi->symlink_target || !*fi->symlink_target)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "symlink with an empty target");
      return TRUE;
    }
  if (!S_ISREG (fi->mode))
    return cairn_throw_code (error, G_IO_ERROR_NOT_REGULAR_FILE,
                             "not a regular file or symlink (mode 0%o)", fi->mode);
  if ((fi->mode & ~(S_IFMT | 07777)) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid mode 0%o", fi->mode);
  return TRUE;
}

gboolean
cairn_txn_write_content (CairnTxn *txn, const CairnFileInfo *fi, int content_fd,
                         const char *expected_checksum, char **out_checksum, GError **error)
{
  if (!validate_info (fi, error))
    return FALSE;
  if (S_ISLNK (fi->mode))
    return write_symlink (txn, fi, expected_checksum, out_checksum, error);
  /* Archive repos take files up to DEFLATE_ONESHOT_MAX in memory (libdeflate). */
  gsize in_memory_max = txn->repo->mode == CAIRN_REPO_MODE_ARCHIVE && txn->repo->zlib_level > 0
                            ? MAX (SMALL_FILE_MAX, DEFLATE_ONESHOT_MAX)
                            : SMALL_FILE_MAX;
  if (fi->size <= in_memory_max)
    {
      g_autoptr (GBytes) b = cairn_fd_read_all (content_fd, in_memory_max * 2, error);
      if (!b)
        return FALSE;
      gsize len;
      const void *p = g_bytes_get_data (b, &len);
      if (len != fi->size)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "file size changed while reading (%" G_GSIZE_FORMAT
                                 " bytes, expected %" G_GUINT64_FORMAT ")",
                                 len, fi->size);
      return write_regular (txn, fi, p ? p : "", len, -1, -1, expected_checksum, out_checksum,
                            error);
    }
  return write_regular (txn, fi, NULL, 0, content_fd, -1, expected_checksum, out_checksum, error);
}

gboolean
cairn_txn_write_content_bytes (CairnTxn *txn, const CairnFileInfo *fi, const void *data, gsize len,
                               const char *expected_checksum, char **out_checksum, GError **error)
{
  if (!validate_info (fi, error))
    return FALSE;
  if (S_ISLNK (fi->mode))
    return write_symlink (txn, fi, expected_checksum, out_checksum, error);
  return write_regular (txn, fi, data ? data : "", len, -1, -1, expected_checksum, out_checksum,
                        error);
}

gboolean
cairn_txn_write_content_range (CairnTxn *txn, const CairnFileInfo *fi, int fd, guint64 offset,
                               const char *expected_checksum, char **out_checksum, GError **error)
{
  if (!validate_info (fi, error))
    return FALSE;
  if (!S_ISREG (fi->mode))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "not a regular file");
  if (offset > G_MAXINT64 - fi->size)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "range out of bounds");
  gsize in_memory_max = txn->repo->mode == CAIRN_REPO_MODE_ARCHIVE && txn->repo->zlib_level > 0
                            ? MAX (SMALL_FILE_MAX, DEFLATE_ONESHOT_MAX)
                            : SMALL_FILE_MAX;
  if (fi->size <= in_memory_max)
    {
      g_autofree guint8 *buf = g_malloc (MAX (fi->size, 1));
      gsize got = 0;
      while (got < fi->size)
        {
          ssize_t r = pread (fd, buf + got, fi->size - got, offset + got);
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            return cairn_throw_errno (error, "read");
          if (r == 0)
            return cairn_throw_code (error, G_IO_ERROR_PARTIAL_INPUT, "truncated data");
          got += r;
        }
      return write_regular (txn, fi, buf, fi->size, -1, -1, expected_checksum, out_checksum, error);
    }
  return write_regular (txn, fi, NULL, 0, fd, (gint64)offset, expected_checksum, out_checksum,
                        error);
}
