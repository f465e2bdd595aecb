/* Reading and writing objects in every repo mode (docs/format.md §4–§7).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <libdeflate.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/xattr.h>
#include <zlib.h>

#define SMALL_FILE_MAX (4u << 20)
#define OSTREEMETA "user.ostreemeta"

/* ---- existence and opening ----------------------------------------------- */

gboolean
cairn_repo_object_exists (CairnRepo *repo, CairnObjectType type, const char *checksum)
{
  g_autofree char *rel = cairn_object_relpath (checksum, type, repo->mode);
  struct stat st;
  int sub = cairn_repo_objdir_fd (repo, checksum, FALSE, NULL);
  if (sub >= 0 && fstatat (sub, rel + 3, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return TRUE;
  if (repo->staging_dfd >= 0 && repo->staging_dfd != repo->objects_dfd
      && fstatat (repo->staging_dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return TRUE;
  return FALSE;
}

gboolean
cairn_repo_has_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                       gboolean *out_have, GError **error)
{
  if (!cairn_validate_checksum_string (checksum, error))
    return FALSE;
  *out_have = cairn_repo_object_exists (repo, type, checksum);
  return TRUE;
}

int
_cairn_repo_open_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                         GError **error)
{
  g_autofree char *rel = cairn_object_relpath (checksum, type, repo->mode);
  /* Through the cached objects/XX fd: one path component less to resolve
   * per object (pulls and checkouts open thousands). */
  int sub = cairn_repo_objdir_fd (repo, checksum, FALSE, NULL);
  int fd = sub >= 0 ? openat (sub, rel + 3, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
                    : openat (repo->objects_dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 && errno == ENOENT && repo->staging_dfd >= 0)
    fd = openat (repo->staging_dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      if (errno == ENOENT)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "object %s.%s is missing", checksum,
                     cairn_object_type_to_string (type));
      else
        cairn_throw_errno (error, "opening object %s.%s", checksum,
                           cairn_object_type_to_string (type));
    }
  return fd;
}

/* ---- metadata objects ------------------------------------------------------ */

static const GVariantType *
type_for (CairnObjectType type)
{
  switch (type)
    {
    case CAIRN_OBJECT_DIR_TREE:
      return CAIRN_DIRTREE_GVARIANT_FORMAT;
    case CAIRN_OBJECT_DIR_META:
      return CAIRN_DIRMETA_GVARIANT_FORMAT;
    case CAIRN_OBJECT_COMMIT:
      return CAIRN_COMMIT_GVARIANT_FORMAT;
    case CAIRN_OBJECT_TOMBSTONE_COMMIT:
    case CAIRN_OBJECT_COMMIT_META:
      return G_VARIANT_TYPE_VARDICT;
    default:
      return NULL;
    }
}

gboolean
cairn_repo_load_variant_if_exists (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                   GVariant **out_variant, GError **error)
{
  g_autoptr (GError) local = NULL;
  cairn_autofd fd = _cairn_repo_open_object (repo, type, checksum, &local);
  if (fd < 0)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          *out_variant = NULL;
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_autoptr (GBytes) data = cairn_fd_read_all (fd, CAIRN_MAX_METADATA_SIZE, error);
  if (!data)
    return cairn_prefix_error (error, "reading %s.%s", checksum,
                               cairn_object_type_to_string (type));
  g_autoptr (GVariant) v
      = g_variant_ref_sink (g_variant_new_from_bytes (type_for (type), data, FALSE));
  if (!g_variant_is_normal_form (v))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted %s object %s: not in normal form",
                             cairn_object_type_to_string (type), checksum);
  *out_variant = g_steal_pointer (&v);
  return TRUE;
}

GBytes *
cairn_repo_load_metadata_bytes (CairnRepo *repo, CairnObjectType type, const char *checksum,
                                GError **error)
{
  cairn_autofd fd = _cairn_repo_open_object (repo, type, checksum, error);
  if (fd < 0)
    return NULL;
  GBytes *data = cairn_fd_read_all (fd, CAIRN_MAX_METADATA_SIZE, error);
  if (!data)
    return cairn_prefix_error (error, "reading %s.%s", checksum,
                               cairn_object_type_to_string (type)),
           NULL;
  return data;
}

GVariant *
cairn_repo_load_variant (CairnRepo *repo, CairnObjectType type, const char *checksum,
                         GError **error)
{
  GVariant *v = NULL;
  if (!cairn_repo_load_variant_if_exists (repo, type, checksum, &v, error))
    return NULL;
  if (v == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "object %s.%s is missing", checksum,
                 cairn_object_type_to_string (type));
  return v;
}

/* ---- file object metadata encodings --------------------------------------- */

GVariant *
_cairn_ostreemeta_new (const CairnFileInfo *fi)
{
  return cairn_dirmeta_new (fi->uid, fi->gid, fi->mode, fi->xattrs);
}

gboolean
cairn_parse_ostreemeta (const void *data, gsize len, CairnFileInfo *fi, GError **error)
{
  if (len == 12)
    {
      /* (uuua(ayay)) with no xattrs, by far the most common value: three
       * big-endian words and an empty array, which serialises to nothing.
       * Parsed by hand: GVariant's type lookups take a global lock that
       * checkout threads contend on. */
      guint32 w[3];
      memcpy (w, data, sizeof w);
      fi->uid = GUINT32_FROM_BE (w[0]);
      fi->gid = GUINT32_FROM_BE (w[1]);
      fi->mode = GUINT32_FROM_BE (w[2]);
      g_clear_pointer (&fi->xattrs, g_variant_unref);
      fi->xattrs = cairn_xattrs_empty ();
      if (!(S_ISREG (fi->mode) || S_ISLNK (fi->mode)) || (fi->mode & ~(S_IFMT | 07777)))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid mode 0%o in " OSTREEMETA,
                                 fi->mode);
      return TRUE;
    }
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (GVariant) v
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_DIRMETA_GVARIANT_FORMAT, b, FALSE));
  if (!g_variant_is_normal_form (v))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, OSTREEMETA " is not in normal form");
  guint32 uid, gid, mode;
  g_autoptr (GVariant) xa = NULL;
  g_variant_get (v, "(uuu@a(ayay))", &uid, &gid, &mode, &xa);
  fi->uid = GUINT32_FROM_BE (uid);
  fi->gid = GUINT32_FROM_BE (gid);
  fi->mode = GUINT32_FROM_BE (mode);
  g_clear_pointer (&fi->xattrs, g_variant_unref);
  fi->xattrs = g_steal_pointer (&xa);
  if (!(S_ISREG (fi->mode) || S_ISLNK (fi->mode)) || (fi->mode & ~(S_IFMT | 07777)))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid mode 0%o in " OSTREEMETA,
                             fi->mode);
  return TRUE;
}

gboolean
cairn_parse_zheader (const guint8 *data, gsize len, CairnFileInfo *fi, gsize *out_payload_offset,
                     GError **error)
{
  if (len < 8)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "truncated archive header");
  guint32 hlen;
  memcpy (&hlen, data, 4);
  hlen = GUINT32_FROM_BE (hlen);
  if (hlen == 0 || hlen > len - 8)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid archive header length %u",
                             hlen);
  g_autoptr (GBytes) b = g_bytes_new (data + 8, hlen);
  g_autoptr (GVariant) h
      = g_variant_ref_sink (g_variant_new_from_bytes (CAIRN_ZFILEHEADER_GVARIANT_FORMAT, b, FALSE));
  if (!g_variant_is_normal_form (h))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "archive header not in normal form");
  guint64 size;
  guint32 uid, gid, mode, rdev;
  const char *target;
  g_autoptr (GVariant) xa = NULL;
  g_variant_get (h, "(tuuuu&s@a(ayay))", &size, &uid, &gid, &mode, &rdev, &target, &xa);
  fi->size = GUINT64_FROM_BE (size);
  fi->uid = GUINT32_FROM_BE (uid);
  fi->gid = GUINT32_FROM_BE (gid);
  fi->mode = GUINT32_FROM_BE (mode);
  g_clear_pointer (&fi->symlink_target, g_free);
  g_clear_pointer (&fi->xattrs, g_variant_unref);
  fi->xattrs = g_steal_pointer (&xa);
  if (rdev != 0 || !(S_ISREG (fi->mode) || S_ISLNK (fi->mode)) || (fi->mode & ~(S_IFMT | 07777)))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid mode 0%o in archive header",
                             fi->mode);
  if (S_ISLNK (fi->mode))
    {
      fi->symlink_target = g_strdup (target);
      fi->size = 0;
    }
  *out_payload_offset = 8 + hlen;
  return TRUE;
}

/* ---- loading content objects ------------------------------------------------ */

static gboolean
load_bare_symlink (CairnRepo *repo, const char *checksum, CairnFileInfo *fi, GError **error)
{
  g_autofree char *rel = cairn_object_relpath (checksum, CAIRN_OBJECT_FILE, repo->mode);
  int dfd = repo->objects_dfd;
  struct stat st;
  if (fstatat (dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 && repo->staging_dfd >= 0)
    dfd = repo->staging_dfd;
  if (fstatat (dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_errno (error, "stat object %s.file", checksum);
  fi->symlink_target = cairn_readlinkat (dfd, rel, error);
  if (!fi->symlink_target)
    return FALSE;
  fi->mode = st.st_mode;
  fi->size = 0;
  if (repo->mode == CAIRN_REPO_MODE_BARE)
    {
      fi->uid = st.st_uid;
      fi->gid = st.st_gid;
      fi->xattrs
          = repo->disable_xattrs ? cairn_xattrs_empty () : cairn_xattrs_read_at (dfd, rel, error);
      return fi->xattrs != NULL;
    }
  fi->uid = fi->gid = 0;
  fi->xattrs = cairn_xattrs_empty ();
  return TRUE;
}

static gboolean
load_bare_user (int fd, const char *checksum, CairnFileInfo *fi, GError **error)
{
  guint8 buf[4096];
  ssize_t n = fgetxattr (fd, OSTREEMETA, buf, sizeof buf);
  g_autofree guint8 *big = NULL;
  if (n < 0 && errno == ERANGE)
    {
      n = fgetxattr (fd, OSTREEMETA, NULL, 0);
      big = g_malloc (MAX (n, 1));
      n = n >= 0 ? fgetxattr (fd, OSTREEMETA, big, n) : -1;
    }
  if (n < 0)
    return cairn_throw_errno (error, "corrupted object %s.file: reading " OSTREEMETA, checksum);
  if (!cairn_parse_ostreemeta (big ? big : buf, n, fi, error))
    return cairn_prefix_error (error, "corrupted object %s.file", checksum);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cairn_throw_errno (error, "stat object %s", checksum);
  if (S_ISLNK (fi->mode))
    {
      g_autoptr (GBytes) b = cairn_fd_read_all (fd, 65536, error);
      if (!b)
        return FALSE;
      gsize len;
      const char *s = g_bytes_get_data (b, &len);
      fi->symlink_target = g_strndup (s, len);
      fi->size = 0;
      return TRUE;
    }
  fi->size = st.st_size;
  return TRUE;
}

static gboolean inflate_to_fd (const guint8 *payload, gsize len, int dst_fd, GError **error);

/* Inflate a raw-deflate payload into a memfd (content is needed as an fd). */
static int
inflate_to_memfd (const guint8 *payload, gsize len, guint64 *out_size, GError **error)
{
  cairn_autofd mfd = memfd_create ("cairn-filez", MFD_CLOEXEC);
  struct stat st;
  if (mfd < 0)
    {
      cairn_throw_errno (error, "memfd_create");
      return -1;
    }
  if (!inflate_to_fd (payload, len, mfd, error))
    return -1;
  if (fstat (mfd, &st) < 0 || lseek (mfd, 0, SEEK_SET) < 0)
    {
      cairn_throw_errno (error, "memfd");
      return -1;
    }
  *out_size = st.st_size;
  return cairn_steal_fd (&mfd);
}

static gboolean
load_archive (int fd, const char *checksum, CairnFileInfo *fi, int *out_fd, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cairn_throw_errno (error, "stat object %s", checksum);
  gsize len = st.st_size;
  void *map = len > 0 ? mmap (NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  if (len > 0 && map == MAP_FAILED)
    return cairn_throw_errno (error, "mmap object %s", checksum);
  gsize off = 0;
  gboolean ok = cairn_parse_zheader (map, len, fi, &off, error);
  if (ok && S_ISREG (fi->mode) && out_fd)
    {
      guint64 size = 0;
      *out_fd = inflate_to_memfd ((guint8 *)map + off, len - off, &size, error);
      ok = *out_fd >= 0;
      if (ok)
        fi->size = size;
    }
  if (map)
    munmap (map, len);
  if (!ok)
    return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  return TRUE;
}

/* Linux >= 6.13 reads and lists xattrs by directory fd and name, without
 * opening the file (an open/fgetxattr/close costs several times one call).
 * The numbers are the same on every architecture. */
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif
struct cairn_xattr_args
{
  guint64 value;
  guint32 size;
  guint32 flags;
};
/* -1 unknown, 1 when the kernel lacks the calls or CAIRN_NO_XATTRAT=1. */
static gint no_xattrat = -1;

static gboolean
xattrat_usable (void)
{
  if (g_atomic_int_get (&no_xattrat) < 0)
    g_atomic_int_set (&no_xattrat, g_strcmp0 (g_getenv ("CAIRN_NO_XATTRAT"), "1") == 0);
  return !g_atomic_int_get (&no_xattrat);
}

ssize_t
cairn_getxattrat (int dfd, const char *name, const char *attr, void *buf, gsize size)
{
  if (!xattrat_usable ())
    return errno = ENOSYS, -1;
  struct cairn_xattr_args a = { .value = (guint64)(uintptr_t)buf, .size = size };
  ssize_t n = syscall (__NR_getxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, attr, &a, sizeof a);
  if (n < 0 && errno == ENOSYS)
    g_atomic_int_set (&no_xattrat, 1);
  return n;
}

ssize_t
cairn_listxattrat (int dfd, const char *name, char *buf, gsize size)
{
  if (!xattrat_usable ())
    return errno = ENOSYS, -1;
  ssize_t n = syscall (__NR_listxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, buf, size);
  if (n < 0 && errno == ENOSYS)
    g_atomic_int_set (&no_xattrat, 1);
  return n;
}

gboolean
cairn_repo_load_file_info (CairnRepo *repo, const char *checksum, struct stat *out_st,
                           CairnFileInfo *out_info, GError **error)
{
  int sub = cairn_repo_objdir_fd (repo, checksum, FALSE, NULL);
  g_autofree char *leaf = cairn_object_leaf (checksum, CAIRN_OBJECT_FILE, repo->mode);
  if (sub < 0 || fstatat (sub, leaf, out_st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.file is missing", checksum);
  if (repo->mode == CAIRN_REPO_MODE_BARE_USER && S_ISREG (out_st->st_mode))
    {
      guint8 buf[4096];
      ssize_t n = cairn_getxattrat (sub, leaf, OSTREEMETA, buf, sizeof buf);
      if (n < 0 && errno != ENOSYS && errno != EINVAL && errno != ERANGE)
        return cairn_throw_errno (error, "corrupted object %s.file: reading " OSTREEMETA, checksum);
      if (n >= 0)
        {
          if (!cairn_parse_ostreemeta (buf, n, out_info, error))
            return cairn_prefix_error (error, "corrupted object %s.file", checksum);
          if (!S_ISLNK (out_info->mode))
            {
              out_info->size = out_st->st_size;
              return TRUE;
            }
          cairn_file_info_clear (out_info);
          memset (out_info, 0, sizeof *out_info);
        }
    }
  /* Symlinks (their target is content), other modes, old kernels. */
  return cairn_repo_load_file (repo, checksum, NULL, out_info, error);
}

int
cairn_repo_open_bare_user_file (CairnRepo *repo, const char *checksum, CairnFileInfo *out_info,
                                GError **error)
{
  g_return_val_if_fail (repo->mode == CAIRN_REPO_MODE_BARE_USER, -1);
  cairn_autofd fd = _cairn_repo_open_object (repo, CAIRN_OBJECT_FILE, checksum, error);
  if (fd < 0 || !load_bare_user (fd, checksum, out_info, error))
    return -1;
  return cairn_steal_fd (&fd);
}

gboolean
cairn_repo_load_file (CairnRepo *repo, const char *checksum, int *out_fd, CairnFileInfo *out_info,
                      GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  int content_fd = -1;
  g_autoptr (GError) local = NULL;
  cairn_autofd fd = _cairn_repo_open_object (repo, CAIRN_OBJECT_FILE, checksum, &local);
  if (fd < 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS)
      && repo->mode != CAIRN_REPO_MODE_ARCHIVE && repo->mode != CAIRN_REPO_MODE_BARE_USER)
    {
      if (!load_bare_symlink (repo, checksum, &fi, error))
        return FALSE;
      *out_info = fi;
      memset (&fi, 0, sizeof fi);
      if (out_fd)
        *out_fd = -1;
      return TRUE;
    }
  if (fd < 0)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    {
      if (!load_archive (fd, checksum, &fi, out_fd ? &content_fd : NULL, error))
        return FALSE;
    }
  else if (repo->mode == CAIRN_REPO_MODE_BARE_USER)
    {
      if (!load_bare_user (fd, checksum, &fi, error))
        return FALSE;
      if (out_fd && S_ISREG (fi.mode))
        content_fd = cairn_steal_fd (&fd);
    }
  else
    {
      struct stat st;
      if (fstat (fd, &st) < 0)
        return cairn_throw_errno (error, "stat object %s", checksum);
      if (!S_ISREG (st.st_mode))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "corrupted object %s.file: not a regular file", checksum);
      fi.mode = st.st_mode;
      fi.size = st.st_size;
      if (repo->mode == CAIRN_REPO_MODE_BARE)
        {
          fi.uid = st.st_uid;
          fi.gid = st.st_gid;
          fi.xattrs
              = repo->disable_xattrs ? cairn_xattrs_empty () : cairn_xattrs_read_fd (fd, error);
          if (!fi.xattrs)
            return cairn_prefix_error (error, "object %s", checksum);
        }
      else
        fi.xattrs = cairn_xattrs_empty ();
      if (out_fd)
        content_fd = cairn_steal_fd (&fd);
    }
  if (!fi.xattrs)
    fi.xattrs = cairn_xattrs_empty ();
  if (out_fd)
    *out_fd = content_fd;
  else
    cairn_close_fdp (&content_fd);
  *out_info = fi;
  memset (&fi, 0, sizeof fi);
  return TRUE;
}

gboolean
cairn_repo_stat_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                        struct stat *out_st)
{
  int sub = cairn_repo_objdir_fd (repo, checksum, FALSE, NULL);
  if (sub < 0)
    return FALSE;
  g_autofree char *leaf = cairn_object_leaf (checksum, type, repo->mode);
  return fstatat (sub, leaf, out_st, AT_SYMLINK_NOFOLLOW) == 0;
}

gboolean
cairn_inflate_each (const guint8 *payload, gsize len, CairnDataFunc fn, void *data,
                    gboolean *out_exact, GError **error)
{
  z_stream zs = { 0 };
  if (inflateInit2 (&zs, -15) != Z_OK)
    return cairn_throw (error, "inflateInit failed");
  zs.next_in = (guint8 *)payload;
  zs.avail_in = len;
  g_autofree guint8 *out = g_malloc (1 << 16);
  int r;
  do
    {
      zs.next_out = out;
      zs.avail_out = 1 << 16;
      r = inflate (&zs, Z_NO_FLUSH);
      gsize got = (1 << 16) - zs.avail_out;
      if ((r != Z_OK && r != Z_STREAM_END) || (r == Z_OK && got == 0 && zs.avail_in == 0))
        {
          inflateEnd (&zs);
          return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                   "corrupt or truncated compressed data");
        }
      if (got && fn (data, out, got) <= 0)
        {
          inflateEnd (&zs);
          return cairn_throw_errno (error, "writing inflated data");
        }
    }
  while (r != Z_STREAM_END);
  if (out_exact)
    *out_exact = zs.avail_in == 0;
  inflateEnd (&zs);
  return TRUE;
}

gboolean
_cairn_inflate_fd_each (int fd, CairnDataFunc fn, void *data, GError **error)
{
  z_stream zs = { 0 };
  if (inflateInit2 (&zs, -15) != Z_OK)
    return cairn_throw (error, "inflateInit failed");
  g_autofree guint8 *in = g_malloc (1 << 16);
  g_autofree guint8 *out = g_malloc (1 << 16);
  gboolean ok = TRUE, eof = FALSE;
  int r = Z_OK;
  while (ok && r != Z_STREAM_END)
    {
      if (zs.avail_in == 0 && !eof)
        {
          ssize_t n = read (fd, in, 1 << 16);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            {
              ok = cairn_throw_errno (error, "read");
              break;
            }
          eof = n == 0;
          zs.next_in = in;
          zs.avail_in = n;
        }
      zs.next_out = out;
      zs.avail_out = 1 << 16;
      r = inflate (&zs, Z_NO_FLUSH);
      gsize got = (1 << 16) - zs.avail_out;
      if ((r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
          || (r != Z_STREAM_END && eof && got == 0))
        ok = cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                               "corrupt or truncated compressed data");
      else if (got && fn (data, out, got) <= 0)
        ok = cairn_throw_errno (error, "writing inflated data");
    }
  inflateEnd (&zs);
  return ok;
}

gboolean
_cairn_read_zheader_fd (int fd, CairnFileInfo *fi, GError **error)
{
  guint8 pre[8];
  if (pread (fd, pre, 8, 0) != 8)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "truncated archive header");
  guint32 hlen;
  memcpy (&hlen, pre, 4);
  hlen = GUINT32_FROM_BE (hlen);
  if (hlen == 0 || hlen > CAIRN_MAX_METADATA_SIZE)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid archive header length %u",
                             hlen);
  g_autofree guint8 *buf = g_malloc (8 + hlen);
  if (pread (fd, buf, 8 + hlen, 0) != (ssize_t)(8 + hlen))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "truncated archive header");
  gsize off;
  if (!cairn_parse_zheader (buf, 8 + hlen, fi, &off, error))
    return FALSE;
  if (lseek (fd, off, SEEK_SET) < 0)
    return cairn_throw_errno (error, "lseek");
  return TRUE;
}

static int
write_fd_func (void *data, const void *buf, size_t len)
{
  return cairn_write_all (GPOINTER_TO_INT (data), buf, len, NULL) ? 1 : 0;
}

static gboolean
inflate_to_fd (const guint8 *payload, gsize len, int dst_fd, GError **error)
{
  return cairn_inflate_each (payload, len, write_fd_func, GINT_TO_POINTER (dst_fd), NULL, error);
}

static GPrivate decompressor_key = G_PRIVATE_INIT ((GDestroyNotify)libdeflate_free_decompressor);

gboolean
cairn_inflate_exact (const guint8 *in, gsize len, guint8 *out, gsize size)
{
  struct libdeflate_decompressor *d = g_private_get (&decompressor_key);
  if (!d)
    {
      d = libdeflate_alloc_decompressor ();
      if (!d)
        return FALSE;
      g_private_set (&decompressor_key, d);
    }
  size_t in_used = 0, out_len = 0;
  return libdeflate_deflate_decompress_ex (d, in, len, out, size, &in_used, &out_len)
             == LIBDEFLATE_SUCCESS
         && out_len == size && in_used == len;
}

/* Archive objects of files up to this size are inflated in one call. */
#define COPY_ONESHOT_MAX (1u << 20)

/* Inflated archive content is written and hashed in one pass, so that a
 * checkout never writes a corrupt object's bytes without saying so (the
 * data passes through memory anyway; hashing adds a fraction of inflating). */
typedef struct
{
  int fd;
  EVP_MD_CTX *md;
} WriteHash;

static int
write_hash_func (void *data, const void *buf, size_t len)
{
  WriteHash *w = data;
  EVP_DigestUpdate (w->md, buf, len);
  return cairn_write_all (w->fd, buf, len, NULL) ? 1 : 0;
}

static gboolean
check_hash (EVP_MD_CTX *md, const char *checksum, GError **error)
{
  guint8 raw[32];
  char hex[65];
  EVP_DigestFinal_ex (md, raw, NULL);
  cairn_checksum_to_hex (raw, hex);
  if (strcmp (hex, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted file object %s: its content hashes to %s", checksum, hex);
  return TRUE;
}

static EVP_MD_CTX *
content_hasher_new (const CairnFileInfo *fi)
{
  g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  gsize hlen;
  const void *hp = g_bytes_get_data (prefixed, &hlen);
  EVP_DigestInit_ex (md, cairn_sha256 (), NULL);
  EVP_DigestUpdate (md, hp, hlen);
  return md;
}

gboolean
cairn_repo_copy_file_content (CairnRepo *repo, const char *checksum, int dst_fd, GError **error)
{
  cairn_autofd fd = _cairn_repo_open_object (repo, CAIRN_OBJECT_FILE, checksum, error);
  if (fd < 0)
    return FALSE;
  if (repo->mode != CAIRN_REPO_MODE_ARCHIVE)
    return cairn_copy_fd_data (fd, dst_fd, error)
           || cairn_prefix_error (error, "copying object %s", checksum);
  /* Streamed from the file: memory stays small whatever the object's size. */
  g_auto (CairnFileInfo) fi = { 0 };
  if (!_cairn_read_zheader_fd (fd, &fi, error))
    return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  if (fi.size > 0 && fi.size <= COPY_ONESHOT_MAX)
    {
      /* Small enough to hold: libdeflate in one call (about twice zlib's
       * speed) when the stream holds exactly the announced size; anything
       * else is left to the streamed path below, which reports it. */
      off_t pos = lseek (fd, 0, SEEK_CUR);
      g_autoptr (GBytes) z
          = pos >= 0 ? cairn_fd_read_all (fd, COPY_ONESHOT_MAX + 4096, NULL) : NULL;
      g_autofree guint8 *out = z ? g_malloc (fi.size) : NULL;
      gsize zlen = 0;
      const guint8 *zp = z ? g_bytes_get_data (z, &zlen) : NULL;
      if (zp && cairn_inflate_exact (zp, zlen, out, fi.size))
        {
          g_autofree char *hex = cairn_content_checksum (&fi, out, fi.size);
          if (strcmp (hex, checksum) != 0)
            return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                     "corrupted file object %s: its content hashes to %s", checksum,
                                     hex);
          return cairn_write_all (dst_fd, out, fi.size, error)
                 || cairn_prefix_error (error, "copying object %s", checksum);
        }
      if (pos < 0 || lseek (fd, pos, SEEK_SET) < 0)
        return cairn_throw_errno (error, "lseek");
    }
  WriteHash w = { dst_fd, content_hasher_new (&fi) };
  gboolean ok = _cairn_inflate_fd_each (fd, write_hash_func, &w, error);
  ok = ok ? check_hash (w.md, checksum, error)
          : cairn_prefix_error (error, "corrupted object %s.filez", checksum);
  EVP_MD_CTX_free (w.md);
  return ok;
}
