/* Compression of built layers, with the two digests an OCI image needs:
 * the diff_id (SHA-256 of the tar) and the blob digest (SHA-256 of what is
 * written).
 *
 * gzip is written as a series of gzip members, one per MiB of input,
 * compressed by libdeflate on a small thread pool and written in order.
 * A gzip file of several members is one stream to every reader (RFC 1952
 * §2.2; Go's compress/gzip, zlib's gunzip and libarchive read all members),
 * the output does not depend on the number of threads, and libdeflate
 * writes no timestamp (MTIME 0): the same tar always gives the same blob.
 * zstd (level 3) and xz (preset 6) are single-threaded, so that their
 * output is deterministic too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <libdeflate.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <string.h>
#include <zstd.h>

#define BLOCK (1u << 20)
#define GZIP_LEVEL 6
#define ZSTD_LEVEL 3
#define XZ_PRESET 6

typedef struct
{
  guint8 *in;
  gsize in_len;
  guint8 *out;
  gsize out_len;
  gboolean done;
} Block;

struct CairnCompressor
{
  CairnExportCompress method;
  int fd;
  EVP_MD_CTX *tar_md, *blob_md;
  guint64 size; /* compressed bytes written */
  /* gzip */
  GThreadPool *pool;
  GQueue pending; /* Block*, in output order */
  guint max_pending;
  GMutex lock;
  GCond cond;
  Block *cur;
  /* zstd / xz */
  ZSTD_CCtx *zstd;
  lzma_stream xz;
  gboolean xz_init;
  guint8 *buf;
};

static GPrivate compressor_key = G_PRIVATE_INIT ((GDestroyNotify)libdeflate_free_compressor);

static void
compress_block (gpointer data, gpointer user_data)
{
  Block *b = data;
  CairnCompressor *c = user_data;
  struct libdeflate_compressor *z = g_private_get (&compressor_key);
  if (!z)
    {
      z = libdeflate_alloc_compressor (GZIP_LEVEL);
      g_private_set (&compressor_key, z);
    }
  gsize bound = z ? libdeflate_gzip_compress_bound (z, b->in_len) : 0;
  guint8 *out = z ? g_malloc (bound) : NULL;
  gsize n = z ? libdeflate_gzip_compress (z, b->in, b->in_len, out, bound) : 0;
  g_mutex_lock (&c->lock);
  b->out = out;
  b->out_len = n; /* 0: failed (allocation); reported by the writer */
  b->done = TRUE;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

static void
block_free (Block *b)
{
  g_free (b->in);
  g_free (b->out);
  g_free (b);
}

CairnCompressor *
_cairn_compressor_new (CairnExportCompress method, int fd)
{
  CairnCompressor *c = g_new0 (CairnCompressor, 1);
  c->method = method;
  c->fd = fd;
  c->tar_md = EVP_MD_CTX_new ();
  c->blob_md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (c->tar_md, cairn_sha256 (), NULL);
  EVP_DigestInit_ex (c->blob_md, cairn_sha256 (), NULL);
  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  g_queue_init (&c->pending);
  if (method == CAIRN_EXPORT_COMPRESS_GZIP)
    {
      guint n = MAX (g_get_num_processors (), 1);
      c->pool = g_thread_pool_new (compress_block, c, n, FALSE, NULL);
      c->max_pending = 2 * n + 1;
    }
  else if (method == CAIRN_EXPORT_COMPRESS_ZSTD)
    {
      c->zstd = ZSTD_createCCtx ();
      ZSTD_CCtx_setParameter (c->zstd, ZSTD_c_compressionLevel, ZSTD_LEVEL);
      ZSTD_CCtx_setParameter (c->zstd, ZSTD_c_checksumFlag, 1);
      c->buf = g_malloc (ZSTD_CStreamOutSize ());
    }
  else if (method == CAIRN_EXPORT_COMPRESS_XZ)
    {
      lzma_stream init = LZMA_STREAM_INIT;
      c->xz = init;
      c->xz_init = lzma_easy_encoder (&c->xz, XZ_PRESET, LZMA_CHECK_CRC64) == LZMA_OK;
      c->buf = g_malloc (BLOCK);
    }
  return c;
}

void
_cairn_compressor_free (CairnCompressor *c)
{
  if (!c)
    return;
  if (c->pool)
    g_thread_pool_free (c->pool, FALSE, TRUE);
  g_queue_clear_full (&c->pending, (GDestroyNotify)block_free);
  if (c->cur)
    block_free (c->cur);
  if (c->zstd)
    ZSTD_freeCCtx (c->zstd);
  if (c->xz_init)
    lzma_end (&c->xz);
  g_free (c->buf);
  EVP_MD_CTX_free (c->tar_md);
  EVP_MD_CTX_free (c->blob_md);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

static gboolean
emit (CairnCompressor *c, const void *buf, gsize len, GError **error)
{
  if (len == 0)
    return TRUE;
  EVP_DigestUpdate (c->blob_md, buf, len);
  c->size += len;
  return cairn_write_all (c->fd, buf, len, error);
}

/* Write the oldest block once it is compressed. */
static gboolean
gzip_write_oldest (CairnCompressor *c, GError **error)
{
  Block *b = g_queue_peek_head (&c->pending);
  g_mutex_lock (&c->lock);
  while (!b->done)
    g_cond_wait (&c->cond, &c->lock);
  g_mutex_unlock (&c->lock);
  g_queue_pop_head (&c->pending);
  gboolean ok = b->out_len > 0 || cairn_throw (error, "gzip compression failed");
  ok = ok && emit (c, b->out, b->out_len, error);
  block_free (b);
  return ok;
}

static gboolean
gzip_submit (CairnCompressor *c, GError **error)
{
  Block *b = g_steal_pointer (&c->cur);
  g_queue_push_tail (&c->pending, b);
  g_thread_pool_push (c->pool, b, NULL);
  while (g_queue_get_length (&c->pending) >= c->max_pending)
    if (!gzip_write_oldest (c, error))
      return FALSE;
  return TRUE;
}

static gboolean
gzip_write (CairnCompressor *c, const guint8 *p, gsize len, GError **error)
{
  while (len > 0)
    {
      if (!c->cur)
        {
          c->cur = g_new0 (Block, 1);
          c->cur->in = g_malloc (BLOCK);
        }
      gsize n = MIN (len, BLOCK - c->cur->in_len);
      memcpy (c->cur->in + c->cur->in_len, p, n);
      c->cur->in_len += n;
      p += n;
      len -= n;
      if (c->cur->in_len == BLOCK && !gzip_submit (c, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
zstd_run (CairnCompressor *c, const void *p, gsize len, ZSTD_EndDirective mode, GError **error)
{
  ZSTD_inBuffer in = { p, len, 0 };
  gsize left;
  do
    {
      ZSTD_outBuffer out = { c->buf, ZSTD_CStreamOutSize (), 0 };
      left = ZSTD_compressStream2 (c->zstd, &out, &in, mode);
      if (ZSTD_isError (left))
        return cairn_throw (error, "zstd: %s", ZSTD_getErrorName (left));
      if (!emit (c, c->buf, out.pos, error))
        return FALSE;
    }
  while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  return TRUE;
}

static gboolean
xz_run (CairnCompressor *c, const void *p, gsize len, lzma_action action, GError **error)
{
  if (!c->xz_init)
    return cairn_throw (error, "xz: cannot initialise the encoder");
  c->xz.next_in = p;
  c->xz.avail_in = len;
  for (;;)
    {
      c->xz.next_out = c->buf;
      c->xz.avail_out = BLOCK;
      lzma_ret r = lzma_code (&c->xz, action);
      if (r != LZMA_OK && r != LZMA_STREAM_END)
        return cairn_throw (error, "xz: compression failed (%d)", (int)r);
      if (!emit (c, c->buf, BLOCK - c->xz.avail_out, error))
        return FALSE;
      if (action == LZMA_RUN ? c->xz.avail_in == 0 : r == LZMA_STREAM_END)
        return TRUE;
    }
}

gboolean
_cairn_compressor_write (CairnCompressor *c, const void *buf, gsize len, GError **error)
{
  EVP_DigestUpdate (c->tar_md, buf, len);
  switch (c->method)
    {
    case CAIRN_EXPORT_COMPRESS_GZIP:
      return gzip_write (c, buf, len, error);
    case CAIRN_EXPORT_COMPRESS_ZSTD:
      return zstd_run (c, buf, len, ZSTD_e_continue, error);
    case CAIRN_EXPORT_COMPRESS_XZ:
      return xz_run (c, buf, len, LZMA_RUN, error);
    case CAIRN_EXPORT_COMPRESS_NONE:
    default:
      return emit (c, buf, len, error);
    }
}

static char *
digest_of (EVP_MD_CTX *md)
{
  guint8 raw[32];
  char hex[65];
  EVP_DigestFinal_ex (md, raw, NULL);
  cairn_checksum_to_hex (raw, hex);
  return g_strconcat ("sha256:", hex, NULL);
}

gboolean
_cairn_compressor_finish (CairnCompressor *c, char **out_diff_id, char **out_digest,
                          guint64 *out_size, GError **error)
{
  gboolean ok = TRUE;
  if (c->method == CAIRN_EXPORT_COMPRESS_GZIP)
    {
      if (c->cur && c->cur->in_len > 0)
        ok = gzip_submit (c, error);
      while (ok && !g_queue_is_empty (&c->pending))
        ok = gzip_write_oldest (c, error);
      if (ok && c->size == 0)
        {
          /* An empty input is still one (empty) gzip member. */
          c->cur = g_new0 (Block, 1);
          c->cur->in = g_malloc (1);
          ok = gzip_submit (c, error) && gzip_write_oldest (c, error);
        }
    }
  else if (c->method == CAIRN_EXPORT_COMPRESS_ZSTD)
    ok = zstd_run (c, NULL, 0, ZSTD_e_end, error);
  else if (c->method == CAIRN_EXPORT_COMPRESS_XZ)
    ok = xz_run (c, NULL, 0, LZMA_FINISH, error);
  if (!ok)
    return FALSE;
  g_autofree char *diff_id = digest_of (c->tar_md);
  g_autofree char *digest = digest_of (c->blob_md);
  if (out_diff_id)
    *out_diff_id = g_steal_pointer (&diff_id);
  if (out_digest)
    *out_digest = g_steal_pointer (&digest);
  if (out_size)
    *out_size = c->size;
  return TRUE;
}

const char *
_cairn_compress_layer_media_type (CairnExportCompress method)
{
  switch (method)
    {
    case CAIRN_EXPORT_COMPRESS_GZIP:
      return CAIRN_OCI_LAYER_TYPE "+gzip";
    case CAIRN_EXPORT_COMPRESS_ZSTD:
      return CAIRN_OCI_LAYER_TYPE "+zstd";
    case CAIRN_EXPORT_COMPRESS_NONE:
      return CAIRN_OCI_LAYER_TYPE;
    case CAIRN_EXPORT_COMPRESS_XZ:
    default:
      return NULL; /* no OCI media type */
    }
}
