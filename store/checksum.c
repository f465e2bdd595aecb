/* Checksums, file headers, xattrs and dirmeta (docs/format.md §2, §5, §7.1).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/xattr.h>

static const char hexchars[] = "0123456789abcdef";

void
cairn_checksum_to_hex (const guint8 csum[32], char out_hex[65])
{
  for (int i = 0; i < 32; i++)
    {
      out_hex[2 * i] = hexchars[csum[i] >> 4];
      out_hex[2 * i + 1] = hexchars[csum[i] & 0xf];
    }
  out_hex[64] = '\0';
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

gboolean
cairn_checksum_from_hex (const char *hex, guint8 out_csum[32])
{
  if (!cairn_is_checksum_string (hex))
    return FALSE;
  for (int i = 0; i < 32; i++)
    out_csum[i] = (hexval (hex[2 * i]) << 4) | hexval (hex[2 * i + 1]);
  return TRUE;
}

GVariant *
cairn_checksum_to_variant (const char *hex)
{
  guint8 csum[32];
  if (!cairn_checksum_from_hex (hex, csum))
    return NULL;
  return g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, csum, 32, 1));
}

char *
cairn_checksum_from_variant (GVariant *ay)
{
  gsize n = 0;
  const guint8 *data = g_variant_get_fixed_array (ay, &n, 1);
  if (n != 32)
    return NULL;
  char hex[65];
  cairn_checksum_to_hex (data, hex);
  return g_strdup (hex);
}

/* SHA-256, fetched from the provider once: EVP_sha256() makes every
 * EVP_DigestInit_ex() look the algorithm up again (measurable when a pull
 * or commit hashes thousands of small objects). */
const EVP_MD *
cairn_sha256 (void)
{
  static gsize once;
  static EVP_MD *md;
  if (g_once_init_enter (&once))
    {
      /* No OPENSSL_cleanup() at exit: it frees the thread-local state of a
       * worker thread that may still be exiting and freeing it too (a
       * double free ASan caught in `cairn fsck`); the process's end frees
       * everything anyway. Without effect if OpenSSL is already set up. */
      OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
      md = EVP_MD_fetch (NULL, "SHA256", NULL);
      g_once_init_leave (&once, 1);
    }
  return md ? md : EVP_sha256 ();
}

char *
cairn_checksum_bytes (const void *data, gsize len)
{
  guint8 md[32];
  char hex[65];
  EVP_Digest (data, len, md, NULL, cairn_sha256 (), NULL);
  cairn_checksum_to_hex (md, hex);
  return g_strdup (hex);
}

void
cairn_file_info_clear (CairnFileInfo *fi)
{
  g_clear_pointer (&fi->symlink_target, g_free);
  g_clear_pointer (&fi->xattrs, g_variant_unref);
}

GVariant *
cairn_xattrs_empty (void)
{
  static GVariant *empty;
  if (g_once_init_enter (&empty))
    {
      GVariant *v = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("(ayay)"), NULL, 0));
      g_once_init_leave (&empty, v);
    }
  return g_variant_ref (empty);
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* Build the canonical a(ayay) from a NUL-separated name list and a getter. */
static GVariant *
xattrs_from_list (char *names, gssize nlen, int fd, int dfd, const char *path, GError **error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  for (char *p = names; p < names + nlen; p += strlen (p) + 1)
    if (*p)
      g_ptr_array_add (sorted, p);
  g_ptr_array_sort (sorted, cmp_str);
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayay)"));
  g_autofree char *procpath = fd < 0 ? g_strdup_printf ("/proc/self/fd/%d/%s", dfd, path) : NULL;
  for (guint i = 0; i < sorted->len; i++)
    {
      const char *name = sorted->pdata[i];
      ssize_t vlen = fd >= 0 ? fgetxattr (fd, name, NULL, 0) : lgetxattr (procpath, name, NULL, 0);
      if (vlen < 0)
        {
          if (errno == ENODATA)
            continue;
          g_variant_builder_clear (&b);
          cairn_throw_errno (error, "getxattr(%s)", name);
          return NULL;
        }
      if (vlen == 0)
        continue; /* docs/format.md §5.3: zero-length values are not recorded */
      g_autofree guint8 *val = g_malloc (vlen);
      vlen = fd >= 0 ? fgetxattr (fd, name, val, vlen) : lgetxattr (procpath, name, val, vlen);
      if (vlen < 0)
        {
          g_variant_builder_clear (&b);
          cairn_throw_errno (error, "getxattr(%s)", name);
          return NULL;
        }
      if (vlen == 0)
        continue;
      g_variant_builder_add (&b, "(@ay@ay)", g_variant_new_bytestring (name),
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, val, vlen, 1));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static GVariant *
xattrs_read (int fd, int dfd, const char *name, GError **error)
{
  g_autofree char *procpath = fd < 0 ? g_strdup_printf ("/proc/self/fd/%d/%s", dfd, name) : NULL;
  for (;;)
    {
      ssize_t n = fd >= 0 ? flistxattr (fd, NULL, 0) : llistxattr (procpath, NULL, 0);
      if (n < 0)
        {
          if (errno == ENOTSUP)
            return cairn_xattrs_empty ();
          cairn_throw_errno (error, "listxattr");
          return NULL;
        }
      if (n == 0)
        return cairn_xattrs_empty ();
      g_autofree char *names = g_malloc (n + 1);
      ssize_t m = fd >= 0 ? flistxattr (fd, names, n) : llistxattr (procpath, names, n);
      if (m < 0 && errno == ERANGE)
        continue;
      if (m < 0)
        {
          cairn_throw_errno (error, "listxattr");
          return NULL;
        }
      names[m] = '\0';
      return xattrs_from_list (names, m, fd, dfd, name, error);
    }
}

GVariant *
cairn_xattrs_read_fd (int fd, GError **error)
{
  return xattrs_read (fd, -1, NULL, error);
}

GVariant *
cairn_xattrs_read_at (int dfd, const char *name, GError **error)
{
  return xattrs_read (-1, dfd, name, error);
}

GVariant *
cairn_file_header_new (const CairnFileInfo *fi)
{
  g_autoptr (GVariant) xa = fi->xattrs ? g_variant_ref (fi->xattrs) : cairn_xattrs_empty ();
  return g_variant_ref_sink (g_variant_new ("(uuuus@a(ayay))", GUINT32_TO_BE (fi->uid),
                                            GUINT32_TO_BE (fi->gid), GUINT32_TO_BE (fi->mode), 0,
                                            fi->symlink_target ? fi->symlink_target : "", xa));
}

GVariant *
cairn_zfile_header_new (const CairnFileInfo *fi)
{
  g_autoptr (GVariant) xa = fi->xattrs ? g_variant_ref (fi->xattrs) : cairn_xattrs_empty ();
  guint64 size = S_ISREG (fi->mode) ? fi->size : 0;
  return g_variant_ref_sink (g_variant_new (
      "(tuuuus@a(ayay))", GUINT64_TO_BE (size), GUINT32_TO_BE (fi->uid), GUINT32_TO_BE (fi->gid),
      GUINT32_TO_BE (fi->mode), 0, fi->symlink_target ? fi->symlink_target : "", xa));
}

GBytes *
cairn_file_header_prefixed_for (const CairnFileInfo *fi)
{
  if ((!fi->symlink_target || !fi->symlink_target[0])
      && (!fi->xattrs || g_variant_n_children (fi->xattrs) == 0))
    {
      /* The common case, serialised by hand (GVariant's type lookups take a
       * global lock that hashing threads contend on): (uuuusa(ayay)) with
       * an empty string and no xattrs is four big-endian words, the
       * string's NUL, and one framing byte (the string's end, 17).
       * Any difference would change every checksum: test-store compares
       * them with ostree and the spec vectors. */
      guint8 *buf = g_malloc0 (8 + 18);
      guint32 w[5] = { GUINT32_TO_BE (18), 0, GUINT32_TO_BE (fi->uid), GUINT32_TO_BE (fi->gid),
                       GUINT32_TO_BE (fi->mode) };
      memcpy (buf, w, sizeof w); /* rdev (0), the NUL: already zero */
      buf[8 + 17] = 17;
      return g_bytes_new_take (buf, 8 + 18);
    }
  g_autoptr (GVariant) header = cairn_file_header_new (fi);
  return cairn_file_header_prefixed (header);
}

GBytes *
cairn_file_header_prefixed (GVariant *header)
{
  gsize hlen = g_variant_get_size (header);
  guint8 *buf = g_malloc (8 + hlen);
  guint32 be = GUINT32_TO_BE ((guint32)hlen);
  memcpy (buf, &be, 4);
  memset (buf + 4, 0, 4);
  g_variant_store (header, buf + 8);
  return g_bytes_new_take (buf, 8 + hlen);
}

GVariant *
cairn_dirmeta_new (guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs)
{
  g_autoptr (GVariant) xa = xattrs ? g_variant_ref (xattrs) : cairn_xattrs_empty ();
  return g_variant_ref_sink (g_variant_new ("(uuu@a(ayay))", GUINT32_TO_BE (uid),
                                            GUINT32_TO_BE (gid), GUINT32_TO_BE (mode), xa));
}

gboolean
cairn_dirmeta_parse (GVariant *dirmeta, guint32 *out_uid, guint32 *out_gid, guint32 *out_mode,
                     GVariant **out_xattrs, GError **error)
{
  guint32 uid, gid, mode;
  g_autoptr (GVariant) xa = NULL;
  if (!g_variant_is_of_type (dirmeta, CAIRN_DIRMETA_GVARIANT_FORMAT))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirmeta has the wrong type");
  g_variant_get (dirmeta, "(uuu@a(ayay))", &uid, &gid, &mode, &xa);
  uid = GUINT32_FROM_BE (uid);
  gid = GUINT32_FROM_BE (gid);
  mode = GUINT32_FROM_BE (mode);
  if (!S_ISDIR (mode) || (mode & ~(S_IFMT | 07777)) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirmeta has invalid mode 0%o", mode);
  if (out_uid)
    *out_uid = uid;
  if (out_gid)
    *out_gid = gid;
  if (out_mode)
    *out_mode = mode;
  if (out_xattrs)
    *out_xattrs = g_steal_pointer (&xa);
  return TRUE;
}
