/* An EROFS image of a commit, written directly from the store
 * (checkout/cairn-erofs.h, docs/cairn-mount.md "How the image is written").
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The on-disk format is the kernel's (Documentation/filesystems/erofs.rst
 * and fs/erofs/erofs_fs.h in Linux); only what erofs-utils 1.5 (Debian 12)
 * also reads is used, so that its fsck.erofs checks our images: 4 KiB
 * blocks, no compression, compact (32-byte) inodes unless a field does not
 * fit (then extended, 64 bytes), inline xattrs only, uncompressed flat
 * layouts and chunk-based files whose chunks are holes.
 *
 * Layout: block 0 holds the superblock (at 1024) and the first inodes; the
 * metadata area (meta_blkaddr 0, so a nid is a byte offset / 32) holds
 * every inode followed by its xattrs and its inline tail (the last partial
 * block of a directory, a symlink target, a chunk map); then come the full
 * data blocks (directories larger than a block, long symlink targets and,
 * with contents, every file). An inode whose inline part would cross a
 * block boundary starts at the next block, as the kernel requires of
 * inline data. Inodes are placed directory by directory (a directory's
 * entries' inodes follow one another), the root first: its nid must fit
 * the superblock's 16 bits.
 *
 * Metadata images (the kernel mount): a regular file of size > 0 is a
 * chunk-based inode whose single chunk is a hole, with
 * trusted.overlay.metacopy (empty, or an fs-verity digest) and
 * trusted.overlay.redirect ("/xx/rest.file", the object relative to the
 * objects directory, overlayfs's data-only layer). The commit's own
 * trusted.overlay.* xattrs are escaped as trusted.overlay.overlay.* so the
 * overlay shows them unchanged instead of obeying them. An entry whose
 * object is missing gets a one-byte trusted.overlay.metacopy, which
 * overlayfs refuses with EIO on lookup ("too small xattr"): the FUSE view
 * fails such an entry the same way.
 *
 * Nothing read from the store is trusted: dirtrees and dirmetas are
 * re-hashed, names validated, dirtrees must be sorted with no name twice.
 * The image is deterministic: the same commit and objects give the same
 * bytes (the uuid is derived from the commit).
 */
#include "config.h"
#include "checkout/cairn-erofs.h"
#include <linux/fsverity.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define BLKBITS 12
#define BLKSZ (1u << BLKBITS)
#define SB_OFFSET 1024
#define SB_SIZE 128
#define EROFS_MAGIC 0xE0F5E1E2u
#define INCOMPAT_CHUNKED_FILE 0x4u
#define LAYOUT_FLAT_PLAIN 0
#define LAYOUT_FLAT_INLINE 2
#define LAYOUT_CHUNK_BASED 4
#define FT_REG 1
#define FT_DIR 2
#define FT_SYMLINK 7
#define NULL_ADDR 0xffffffffu
#define XATTR_USER 1
#define XATTR_ACL_ACCESS 2
#define XATTR_ACL_DEFAULT 3
#define XATTR_TRUSTED 4
#define XATTR_SECURITY 6
#define DIRENT_SIZE 12

typedef struct Inode Inode;

typedef struct
{
  const char *name; /* into its dirtree (Writer.trees keeps them), or "." / ".." */
  Inode *inode;
} Dent;

/* One per inode, 5,500 of them for a minbase tree: kept small (the build's
 * page faults are mostly its allocations). */
struct Inode
{
  guint32 mode, uid, gid, nlink;
  guint64 size;
  guint64 ino;        /* 1-based, in creation order */
  GByteArray *xattrs; /* the inline xattr area, NULL when there is none; with
                       * overlay, only the commit's own after the header */
  guint8 *digest;     /* the object's fs-verity digest (32 bytes), or NULL */
  char *target;       /* symlinks */
  char *missing;      /* why the object could not be loaded (metadata images) */
  GArray *dents;      /* directories: Dent, sorted, with "." and ".." */
  guint8 raw[32];     /* regular files: the content object (the key of Writer.files) */
  /* layout */
  guint64 off;        /* byte offset of the inode (nid * 32) */
  guint64 nblocks;    /* full blocks in the data area */
  guint64 blkaddr;    /* first of them */
  guint32 xlen;       /* the whole xattr area's length (plan_inode) */
  guint32 chunkbits;  /* chunk-based files */
  guint32 tail;       /* bytes after the xattrs: inline data or chunk map */
  guint8 layout;      /* LAYOUT_* */
  guint8 extended;    /* a 64-byte inode */
  guint8 has_content; /* data blocks are a file's content (export) */
  guint8 overlay;     /* metacopy and redirect, made by overlay_xattrs() when written */
  guint8 in_slab;     /* in Writer.slabs, not freed alone */
};

typedef struct
{
  guint32 uid, gid, mode;
  GVariant *xattrs;
} DirMeta;

typedef struct
{
  CairnRepo *repo;
  const CairnErofsOptions *opts;
  GPtrArray *inodes;    /* Inode*, in placement order, root first */
  GHashTable *files;    /* content checksum (32 bytes) -> Inode* (the loader makes them) */
  GPtrArray *pending;   /* file Inodes, in placement order */
  GHashTable *trees;    /* dirtree checksum -> checked GVariant (the loader) */
  GHashTable *dirmetas; /* dirmeta checksum -> DirMeta* */
  GPtrArray *slabs;     /* mappings of SLAB_INODES file inodes (file_inode_new) */
  guint slab_used;      /* inodes taken from the last */
  CairnErofsStats stats;
} Writer;

static void
inode_free (gpointer p)
{
  Inode *n = p;
  if (n->xattrs)
    g_byte_array_unref (n->xattrs);
  if (n->dents)
    g_array_unref (n->dents);
  g_free (n->target);
  g_free (n->missing);
  g_free (n->digest);
  if (!n->in_slab)
    g_free (n);
}

/* The loader's threads make the file inodes (under its lock), and glibc
 * grows a thread's heap a page at a time, an mprotect and a page fault
 * each (strace, perf): they come from mappings of SLAB_INODES instead,
 * populated by the kernel in one call. */
#define SLAB_INODES 1024

static void
slab_unmap (gpointer p)
{
  munmap (p, SLAB_INODES * sizeof (Inode));
}

static Inode *
file_inode_new (Writer *w)
{
  if (w->slabs->len == 0 || w->slab_used == SLAB_INODES)
    {
      void *m = mmap (NULL, SLAB_INODES * sizeof (Inode), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
      if (m == MAP_FAILED)
        return g_new0 (Inode, 1);
      g_ptr_array_add (w->slabs, m);
      w->slab_used = 0;
    }
  Inode *n = (Inode *)w->slabs->pdata[w->slabs->len - 1] + w->slab_used++;
  n->in_slab = TRUE;
  return n;
}

static void
dirmeta_free (gpointer p)
{
  DirMeta *d = p;
  g_clear_pointer (&d->xattrs, g_variant_unref);
  g_free (d);
}

static void
variant_unref0 (gpointer p)
{
  if (p)
    g_variant_unref (p);
}

static Inode *
inode_new (Writer *w, guint32 mode)
{
  Inode *n = g_new0 (Inode, 1);
  n->mode = mode;
  n->ino = w->inodes->len + 1;
  g_ptr_array_add (w->inodes, n);
  return n;
}

/* ---- xattrs ----------------------------------------------------------------------- */

/* EROFS stores a name as a prefix index and the rest; names with another
 * prefix have no encoding in the format erofs-utils 1.5 reads. */
static gboolean
xattr_index (const char *name, guint8 *out_index, const char **out_suffix)
{
  static const struct
  {
    const char *prefix;
    guint8 index;
    gboolean exact;
  } map[] = { { "user.", XATTR_USER, FALSE },
              { "system.posix_acl_access", XATTR_ACL_ACCESS, TRUE },
              { "system.posix_acl_default", XATTR_ACL_DEFAULT, TRUE },
              { "trusted.", XATTR_TRUSTED, FALSE },
              { "security.", XATTR_SECURITY, FALSE } };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    {
      gsize l = strlen (map[i].prefix);
      if (map[i].exact ? strcmp (name, map[i].prefix) == 0
                       : strncmp (name, map[i].prefix, l) == 0 && name[l])
        {
          *out_index = map[i].index;
          *out_suffix = name + l;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
xattr_add (GByteArray *a, const char *name, const void *value, gsize vlen, GError **error)
{
  guint8 index;
  const char *suffix;
  if (!xattr_index (name, &index, &suffix))
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "extended attribute '%s' has no EROFS encoding", name);
  gsize nlen = strlen (suffix);
  if (nlen > 255 || vlen > 65535)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "extended attribute '%s' is too large for EROFS", name);
  if (a->len == 0)
    {
      static const guint8 header[12] = { 0 }; /* no name filter, no shared xattrs */
      g_byte_array_append (a, header, sizeof header);
    }
  guint8 e[4] = { (guint8)nlen, index, (guint8)(vlen & 0xff), (guint8)(vlen >> 8) };
  g_byte_array_append (a, e, 4);
  g_byte_array_append (a, (const guint8 *)suffix, nlen);
  if (vlen)
    g_byte_array_append (a, value, vlen);
  static const guint8 zero[4] = { 0 };
  gsize pad = (4 - (4 + nlen + vlen) % 4) % 4;
  g_byte_array_append (a, zero, pad);
  return TRUE;
}

/* The commit's xattrs (a(ayay)); in metadata images trusted.overlay.* are
 * escaped (overlayfs.rst, "Nesting overlayfs mounts"). */
static gboolean
xattrs_add_variant (Writer *w, GByteArray **a, GVariant *xattrs, GError **error)
{
  gsize n = xattrs ? g_variant_n_children (xattrs) : 0;
  if (n && !*a)
    *a = g_byte_array_new ();
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) name_v = NULL, value_v = NULL;
      g_variant_get_child (xattrs, i, "(@ay@ay)", &name_v, &value_v);
      const char *name = g_variant_get_bytestring (name_v);
      gsize vlen = 0;
      const guint8 *value = g_variant_get_fixed_array (value_v, &vlen, 1);
      g_autofree char *escaped = NULL;
      if (!w->opts->with_data && g_str_has_prefix (name, "trusted.overlay."))
        name = escaped = g_strconcat ("trusted.overlay.overlay.", name + 16, NULL);
      if (!xattr_add (*a, name, value, vlen, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- loading the tree ------------------------------------------------------------- */

static GVariant *
load_checked (Writer *w, CairnObjectType type, const char *hex, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (w->repo, type, hex, error);
  if (!v)
    return NULL;
  g_autofree char *actual = cairn_checksum_bytes (g_variant_get_data (v), g_variant_get_size (v));
  if (strcmp (actual, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.%s: content hashes to %s", hex,
                             cairn_object_type_to_string (type), actual),
           NULL;
  return g_steal_pointer (&v);
}

/* A dirtree, re-hashed, but not walked for GVariant's normal form as
 * cairn_repo_load_variant() does (a quarter of the image build's user-space
 * instructions, callgrind): its checksum is the one its parent names, and
 * its lists are read by list_open() and list_entry(), which check every
 * offset, name and checksum length themselves. */
static GVariant *
load_tree (Writer *w, const char *hex, GError **error)
{
  g_autoptr (GBytes) b
      = cairn_repo_load_metadata_bytes (w->repo, CAIRN_OBJECT_DIR_TREE, hex, error);
  if (!b)
    return NULL;
  gsize len = 0;
  const void *data = g_bytes_get_data (b, &len);
  g_autofree char *actual = cairn_checksum_bytes (data, len);
  if (strcmp (actual, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.dirtree: content hashes to %s", hex, actual),
           NULL;
  return g_variant_ref_sink (
      g_variant_new_from_bytes (G_VARIANT_TYPE ("(a(say)a(sayay))"), b, FALSE));
}

static DirMeta *
get_dirmeta (Writer *w, const char *hex, GError **error)
{
  DirMeta *d = g_hash_table_lookup (w->dirmetas, hex);
  if (d)
    return d;
  g_autoptr (GVariant) v = load_checked (w, CAIRN_OBJECT_DIR_META, hex, error);
  DirMeta tmp = { 0 };
  if (!v || !cairn_dirmeta_parse (v, &tmp.uid, &tmp.gid, &tmp.mode, &tmp.xattrs, error))
    return NULL;
  /* As `cairn checkout` (docs/format.md §13.2): no world-write or setuid
   * directories from a bare-user-only repository. */
  if (w->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    tmp.mode &= ~(guint32)07002;
  d = g_memdup2 (&tmp, sizeof tmp);
  g_hash_table_insert (w->dirmetas, g_strdup (hex), d);
  return d;
}

/* bare and bare-user-only: the object file's own stat (and, bare, xattrs)
 * without opening it; everything else through the store. */
static gboolean
load_file_info (Writer *w, const char *hex, CairnFileInfo *fi, GError **error)
{
  CairnRepoMode mode = w->repo->mode;
  if (mode != CAIRN_REPO_MODE_BARE && mode != CAIRN_REPO_MODE_BARE_USER_ONLY)
    {
      struct stat st;
      return cairn_repo_load_file_info (w->repo, hex, &st, fi, error);
    }
  int dfd = cairn_repo_objdir_fd (w->repo, hex, FALSE, NULL);
  char leaf[64 + sizeof ".file"]; /* no allocation: this runs once per object */
  g_snprintf (leaf, sizeof leaf, "%s.file", hex + 2);
  struct stat st;
  if (dfd < 0 || fstatat (dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.file is missing", hex);
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.file: not a regular file or symlink", hex);
  fi->mode = st.st_mode;
  fi->size = S_ISREG (st.st_mode) ? (guint64)st.st_size : 0;
  if (S_ISLNK (st.st_mode) && !(fi->symlink_target = cairn_readlinkat (dfd, leaf, error)))
    return FALSE;
  if (mode == CAIRN_REPO_MODE_BARE)
    {
      fi->uid = st.st_uid;
      fi->gid = st.st_gid;
      ssize_t r = w->repo->disable_xattrs ? 0 : cairn_listxattrat (dfd, leaf, NULL, 0);
      if (r == 0 || (r < 0 && errno == EOPNOTSUPP))
        fi->xattrs = NULL; /* none (xattrs_add_variant takes NULL) */
      else if (!(fi->xattrs = cairn_xattrs_read_at (dfd, leaf, error)))
        return cairn_prefix_error (error, "object %s.file", hex);
    }
  return TRUE;
}

static void
sha256 (const void *data, gsize len, guint8 out[32])
{
  g_autofree char *hex = cairn_checksum_bytes (data, len);
  cairn_checksum_from_hex (hex, out);
}

/* The fs-verity digest of @fd's content computed here, as the kernel would
 * (fsverity.rst, "File digest computation": SHA-256 Merkle tree of 4 KiB
 * blocks, no salt, then the hash of the fsverity_descriptor). Used only
 * under CAIRN_TEST_VERITY_COMPUTE=1, so that tests on a kernel without
 * fs-verity can still check the digests an image records and that
 * overlayfs enforces them (every such file then fails to read). */
static gboolean
compute_verity (int fd, guint8 out_digest[32])
{
  g_autoptr (GByteArray) level = g_byte_array_new ();
  guint8 block[BLKSZ], hash[32];
  guint64 size = 0;
  for (;;)
    {
      memset (block, 0, sizeof block);
      gsize got = 0;
      while (got < BLKSZ)
        {
          ssize_t n = pread (fd, block + got, BLKSZ - got, size + got);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            return FALSE;
          if (n == 0)
            break;
          got += n;
        }
      if (got == 0)
        break;
      sha256 (block, BLKSZ, hash);
      g_byte_array_append (level, hash, 32);
      size += got;
    }
  /* Each level's hashes, packed into zero-padded blocks, are hashed into
   * the next, until one hash is left: the root (that of the only data
   * block for a file of one block; zeros for an empty file). */
  guint8 root[64] = { 0 };
  while (level->len > 32)
    {
      gsize used = level->len, padded = (used + BLKSZ - 1) / BLKSZ * BLKSZ;
      g_byte_array_set_size (level, padded);
      memset (level->data + used, 0, padded - used);
      g_autoptr (GByteArray) next = g_byte_array_new ();
      for (gsize off = 0; off < padded; off += BLKSZ)
        {
          sha256 (level->data + off, BLKSZ, hash);
          g_byte_array_append (next, hash, 32);
        }
      g_byte_array_unref (level);
      level = g_steal_pointer (&next);
    }
  if (level->len == 32)
    memcpy (root, level->data, 32);
  guint8 desc[256] = { 1, 1, BLKBITS, 0 };
  for (int i = 0; i < 8; i++)
    desc[8 + i] = (size >> (8 * i)) & 0xff;
  memcpy (desc + 16, root, 64);
  sha256 (desc, sizeof desc, out_digest);
  return TRUE;
}

/* The fs-verity digest of an object that has fs-verity enabled
 * (Documentation/filesystems/fsverity.rst, FS_IOC_MEASURE_VERITY). */
static gboolean
measure_verity (Writer *w, const char *hex, guint8 out_digest[32])
{
  int dfd = cairn_repo_objdir_fd (w->repo, hex, FALSE, NULL);
  g_autofree char *leaf = cairn_object_leaf (hex, CAIRN_OBJECT_FILE, w->repo->mode);
  cairn_autofd fd = dfd < 0 ? -1 : openat (dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct
  {
    struct fsverity_digest d;
    guint8 buf[64];
  } m = { .d.digest_size = 64 };
  if (fd < 0)
    return FALSE;
  if (g_strcmp0 (g_getenv ("CAIRN_TEST_VERITY_COMPUTE"), "1") == 0)
    return compute_verity (fd, out_digest);
  if (ioctl (fd, FS_IOC_MEASURE_VERITY, &m) < 0 || m.d.digest_algorithm != FS_VERITY_HASH_ALG_SHA256
      || m.d.digest_size != 32)
    return FALSE;
  memcpy (out_digest, m.d.digest, 32);
  return TRUE;
}

/* One xattr entry as xattr_add() makes it, into @out; returns its length. */
static gsize
xattr_put (guint8 *out, guint8 index, const char *suffix, const void *value, gsize vlen)
{
  gsize nlen = strlen (suffix), len = 4 + nlen + vlen, pad = (4 - len % 4) % 4;
  out[0] = (guint8)nlen;
  out[1] = index;
  out[2] = (guint8)(vlen & 0xff);
  out[3] = (guint8)(vlen >> 8);
  memcpy (out + 4, suffix, nlen);
  memcpy (out + 4 + nlen, value, vlen);
  memset (out + len, 0, pad);
  return len + pad;
}

#define REDIRECT_LEN (1 + 2 + 1 + 62 + 5) /* "/xx/rest.file" */

static gsize
xattr_entry_len (gsize nlen, gsize vlen)
{
  return (4 + nlen + vlen + 3) & ~(gsize)3;
}

/* What overlay_xattrs() writes, without writing it (plan_inode). */
static gsize
overlay_xattrs_len (const Inode *n)
{
  return 12 + xattr_entry_len (16, n->digest ? 36 : 0) + xattr_entry_len (16, REDIRECT_LEN);
}

/* A file's trusted.overlay.metacopy and trusted.overlay.redirect, after
 * the area's header, into @out (overlay_xattrs_len() bytes); returns their
 * length. Made when the image is written rather than kept per object: a
 * buffer per object was a third of the build's page faults (perf). */
static gsize
overlay_xattrs (const Inode *n, guint8 *out)
{
  /* overlayfs's struct ovl_metacopy: version 0, length, flags 0, algorithm
   * (1 = SHA-256, as fs-verity numbers them), digest. */
  guint8 mc[4 + 32] = { 0, sizeof mc, 0, 1 };
  if (n->digest)
    memcpy (mc + 4, n->digest, 32);
  /* cairn_object_relpath() without allocating: "/xx/rest.file" (no
   * metadata image is made of an archive repository, whose are .filez). */
  char hex[65], redirect[4 + 62 + sizeof ".file"];
  cairn_checksum_to_hex (n->raw, hex);
  g_snprintf (redirect, sizeof redirect, "/%c%c/%s.file", hex[0], hex[1], hex + 2);
  memset (out, 0, 12); /* no name filter, no shared xattrs (xattr_add) */
  gsize len = 12;
  len += xattr_put (out + len, XATTR_TRUSTED, "overlay.metacopy", mc, n->digest ? sizeof mc : 0);
  len += xattr_put (out + len, XATTR_TRUSTED, "overlay.redirect", redirect, strlen (redirect));
  return len;
}

/* In the loader's threads: one file's metadata and xattr area. Writes only
 * the fields of @n that fill_dir() does not (it sets ino and nlink). */
static gboolean
load_inode (Writer *w, Inode *n, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  g_autoptr (GError) local = NULL;
  char csum[65];
  cairn_checksum_to_hex (n->raw, csum);
  if (!load_file_info (w, csum, &fi, &local))
    {
      if (w->opts->with_data || !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
      /* Shown as an entry that fails with EIO, as in the FUSE view. */
      static const guint8 bad = 0;
      n->mode = S_IFREG;
      n->missing = g_strdup (local->message);
      n->xattrs = g_byte_array_new ();
      return xattr_add (n->xattrs, "trusted.overlay.metacopy", &bad, 1, error);
    }
  if (!(S_ISREG (fi.mode) || S_ISLNK (fi.mode)) || (fi.mode & ~(S_IFMT | 07777))
      || (S_ISLNK (fi.mode) && !fi.symlink_target))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted object %s.file: mode 0%o",
                             csum, fi.mode);
  n->mode = fi.mode;
  n->uid = fi.uid;
  n->gid = fi.gid;
  n->target = g_steal_pointer (&fi.symlink_target);
  n->size = n->target ? strlen (n->target) : fi.size;
  if (S_ISREG (n->mode) && n->size > 0 && !w->opts->with_data)
    {
      n->overlay = TRUE;
      guint8 digest[32];
      if (w->opts->verity && measure_verity (w, csum, digest))
        n->digest = g_memdup2 (digest, sizeof digest);
    }
  if (!xattrs_add_variant (w, &n->xattrs, fi.xattrs, error))
    return cairn_prefix_error (error, "object %s.file", csum);
  return TRUE;
}

/* After the loader: the counts and the log, in tree order. */
static void
count_files (Writer *w)
{
  for (guint i = 0; i < w->pending->len; i++)
    {
      Inode *f = w->pending->pdata[i];
      if (f->missing)
        {
          w->stats.n_missing++;
          if (w->opts->log)
            {
              char csum[65];
              cairn_checksum_to_hex (f->raw, csum);
              g_autofree char *msg = g_strdup_printf ("object %s.file: %s", csum, f->missing);
              w->opts->log (msg, w->opts->log_data);
            }
        }
      else if (S_ISREG (f->mode))
        w->stats.files++;
      else
        w->stats.symlinks++;
      w->stats.n_digests += f->digest != NULL;
    }
}

/* Writer.files is keyed by the 32 bytes of a checksum: no hex string is
 * made for the ~7,000 entries of a tree that name ~5,500 objects. A
 * checksum's bytes are uniformly distributed: its first four are a hash. */
static guint
raw_hash (gconstpointer p)
{
  guint h;
  memcpy (&h, p, sizeof h);
  return h;
}

static gboolean
raw_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 32) == 0;
}

/* The inode of a content object, made by the loader when a dirtree first
 * named it (its metadata loaded by the loader's threads meanwhile); it is
 * numbered and placed on its first path here, as a directory is. */
static Inode *
file_inode (Writer *w, const guint8 raw[32], GError **error)
{
  Inode *n = g_hash_table_lookup (w->files, raw);
  if (!n)
    return cairn_throw_code (error, G_IO_ERROR_FAILED, "a file object was not loaded"), NULL;
  if (n->ino == 0)
    {
      n->ino = w->inodes->len + 1;
      g_ptr_array_add (w->inodes, n);
      g_ptr_array_add (w->pending, n);
    }
  return n;
}

static int
dent_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Dent *)a)->name, ((const Dent *)b)->name);
}

static void
dent_add (Inode *dir, const char *name, Inode *child)
{
  Dent d = { name, child };
  g_array_append_val (dir->dents, d);
}

static Inode *
dir_inode (Writer *w, Inode *parent, const char *meta_hex, GError **error)
{
  DirMeta *dm = get_dirmeta (w, meta_hex, error);
  if (!dm)
    return cairn_prefix_error (error, "%s.dirmeta", meta_hex), NULL;
  Inode *n = inode_new (w, S_IFDIR | (dm->mode & 07777));
  n->uid = dm->uid;
  n->gid = dm->gid;
  n->nlink = 2;
  n->dents = g_array_new (FALSE, FALSE, sizeof (Dent));
  dent_add (n, ".", n);
  dent_add (n, "..", parent ? parent : n);
  if (!xattrs_add_variant (w, &n->xattrs, dm->xattrs, error))
    return cairn_prefix_error (error, "%s.dirmeta", meta_hex), NULL;
  w->stats.dirs++;
  return n;
}

/* A dirtree list (a(say) or a(sayay)) read from its serialised bytes
 * (format.md §1.2, §7.2) rather than through GVariant's child accessors,
 * which allocate and look types up for each of the three or four values
 * of an entry: they were a third of the image build's user-space
 * instructions (callgrind). The tree's normal form is not checked
 * (load_tree()): every offset is bounds-checked here, every name must end
 * with its only NUL. */
typedef struct
{
  const guint8 *data;
  gsize end; /* where the elements end and their framing offsets begin */
  gsize n;
  guint w;
  gboolean dirs;
} List;

typedef struct
{
  const char *name; /* NUL-terminated, into the tree's data */
  const guint8 *csum, *meta;
  gsize csum_len, meta_len;
} Entry;

/* The width of a container's framing offsets, from its size (format.md
 * §1.2: a reader derives it so). */
static guint
offset_width (gsize size)
{
  return size == 0 ? 0 : size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffu ? 4 : 8;
}

static guint64
read_offset (const guint8 *p, guint w)
{
  guint64 v = 0;
  for (guint i = 0; i < w; i++)
    v |= (guint64)p[i] << (8 * i);
  return v;
}

static gboolean
list_open (GVariant *v, gboolean dirs, List *l, GError **error)
{
  gsize size = g_variant_get_size (v);
  *l = (List){ .data = g_variant_get_data (v), .w = offset_width (size), .dirs = dirs };
  if (size == 0)
    return TRUE;
  /* The last offset is the end of the last element: the offsets follow. */
  guint64 end = read_offset (l->data + size - l->w, l->w);
  if (end > size || (size - end) % l->w != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree list is malformed");
  l->end = end;
  l->n = (size - end) / l->w;
  return TRUE;
}

/* Entry @i: an element (say) or (sayay) whose framing offsets (the end of
 * the name, then of the first checksum) are its last bytes, in reverse
 * order; the last member ends where they begin. */
static gboolean
list_entry (const List *l, gsize i, Entry *e, GError **error)
{
  guint64 start = i == 0 ? 0 : read_offset (l->data + l->end + (i - 1) * l->w, l->w);
  guint64 stop = read_offset (l->data + l->end + i * l->w, l->w);
  if (start > stop || stop > l->end)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree entry is malformed");
  const guint8 *el = l->data + start;
  gsize size = stop - start;
  guint w = offset_width (size), nofs = l->dirs ? 2 : 1;
  if (size < nofs * w)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree entry is malformed");
  gsize body = size - nofs * w;
  guint64 name_end = read_offset (el + size - w, w);
  guint64 csum_end = l->dirs ? read_offset (el + size - 2 * w, w) : body;
  if (name_end == 0 || name_end > csum_end || csum_end > body || el[name_end - 1] != 0
      || memchr (el, 0, name_end - 1))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree entry is malformed");
  *e = (Entry){ .name = (const char *)el,
                .csum = el + name_end,
                .csum_len = csum_end - name_end,
                .meta = el + csum_end,
                .meta_len = l->dirs ? body - csum_end : 0 };
  return TRUE;
}

/* A dirtree list's entries: valid names, strictly sorted (format.md §7.2). */
static gboolean
check_list (GVariant *v, gboolean dirs, GError **error)
{
  const char *prev = NULL;
  List l;
  if (!list_open (v, dirs, &l, error))
    return FALSE;
  for (gsize i = 0; i < l.n; i++)
    {
      Entry e;
      if (!list_entry (&l, i, &e, error))
        return FALSE;
      if (!cairn_validate_filename (e.name, -1, error))
        return cairn_prefix_error (error, "dirtree entry");
      if (e.csum_len != 32 || (dirs && e.meta_len != 32))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "entry '%s' has a bad checksum",
                                 e.name);
      if (prev && strcmp (prev, e.name) >= 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree not sorted at '%s'",
                                 e.name);
      prev = e.name;
    }
  return TRUE;
}

/* Fill @dir from its dirtree: file entries, then subdirectories (their
 * inodes created here, so a directory's entries are placed together),
 * then each subdirectory's own tree. */
static gboolean
fill_dir (Writer *w, Inode *dir, const char *tree_hex, GError **error)
{
  GVariant *tree = g_hash_table_lookup (w->trees, tree_hex);
  if (!tree)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "%s.dirtree was not loaded", tree_hex);
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  /* check_list() ran on both lists: they parse, checksums are 32 bytes. */
  List lf, ld;
  Entry e;
  if (!list_open (files, FALSE, &lf, error) || !list_open (dirs, TRUE, &ld, error))
    return FALSE;
  for (gsize i = 0; i < lf.n; i++)
    {
      if (!list_entry (&lf, i, &e, error))
        return FALSE;
      Inode *f = file_inode (w, e.csum, error);
      if (!f)
        return FALSE;
      f->nlink++;
      dent_add (dir, e.name, f);
    }
  g_autoptr (GPtrArray) subtrees = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) subs = g_ptr_array_new ();
  for (gsize i = 0; i < ld.n; i++)
    {
      if (!list_entry (&ld, i, &e, error))
        return FALSE;
      char meta_hex[65], sub_hex[65];
      cairn_checksum_to_hex (e.meta, meta_hex);
      cairn_checksum_to_hex (e.csum, sub_hex);
      Inode *sub = dir_inode (w, dir, meta_hex, error);
      if (!sub)
        return FALSE;
      dir->nlink++;
      dent_add (dir, e.name, sub);
      g_ptr_array_add (subs, sub);
      g_ptr_array_add (subtrees, g_strdup (sub_hex));
    }
  g_array_sort (dir->dents, dent_cmp);
  for (guint i = 1; i < dir->dents->len; i++)
    if (dent_cmp (&g_array_index (dir->dents, Dent, i - 1), &g_array_index (dir->dents, Dent, i))
        == 0)
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s.dirtree names '%s' twice",
                               tree_hex, g_array_index (dir->dents, Dent, i).name);
  for (guint i = 0; i < subs->len; i++)
    if (!fill_dir (w, subs->pdata[i], subtrees->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* ---- the loader: dirtrees and file objects, in parallel --------------------------- */

/* Every dirtree of the commit is read and checked by a pool of one thread
 * per CPU, and each file object a dirtree names first is loaded (a stat,
 * for bare repos a listxattr: the build's largest cost) by the same pool
 * in batches. Dirtrees go first (the pool's queue is sorted), so that the
 * placement walk (fill_dir(), sequential and deterministic) starts as soon
 * as they are all in, while the pool is still loading file objects. */
#define FILE_BATCH 64

typedef struct
{
  char *tree; /* a dirtree to load, or NULL: a batch of file objects */
  guint n_files;
  Inode *files[FILE_BATCH];
} LoadJob;

typedef struct
{
  Writer *w;
  GThreadPool *pool;
  GMutex lock; /* the counts, Writer.trees and Writer.files while trees load */
  GCond cond;
  guint trees_pending, files_pending;
  gint cancel; /* the placement walk failed: load no more files */
  CairnFirstError fe_trees, fe_files;
} Loader;

static void loader_push_tree (Loader *p, char *hex);

static void
loader_push (Loader *p, LoadJob *job)
{
  if (!job->tree)
    {
      g_mutex_lock (&p->lock);
      p->files_pending++;
      g_mutex_unlock (&p->lock);
    }
  g_thread_pool_push (p->pool, job, NULL);
}

/* The file objects of a dirtree's list not met before get their (still
 * unnumbered) inode and are queued for loading. */
static void
loader_add_files (Loader *p, const List *l)
{
  LoadJob *job = NULL;
  Entry e;
  g_mutex_lock (&p->lock);
  for (gsize i = 0; i < l->n; i++)
    {
      /* check_list() ran on the list: it parses, checksums are 32 bytes. */
      if (!list_entry (l, i, &e, NULL) || g_hash_table_contains (p->w->files, e.csum))
        continue;
      Inode *n = file_inode_new (p->w);
      memcpy (n->raw, e.csum, 32);
      g_hash_table_insert (p->w->files, n->raw, n);
      if (!job)
        job = g_new0 (LoadJob, 1);
      job->files[job->n_files++] = n;
      if (job->n_files == FILE_BATCH)
        {
          p->files_pending++;
          g_thread_pool_push (p->pool, g_steal_pointer (&job), NULL);
        }
    }
  g_mutex_unlock (&p->lock);
  if (job)
    loader_push (p, job);
}

/* Load, re-hash and check one dirtree (valid names, sorted lists), then
 * queue its subdirectories' trees and its new file objects. */
static gboolean
loader_tree (Loader *p, const char *hex, GError **error)
{
  g_autoptr (GVariant) tree = load_tree (p->w, hex, error);
  if (!tree)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  if (!check_list (files, FALSE, error) || !check_list (dirs, TRUE, error))
    return cairn_prefix_error (error, "%s.dirtree", hex);
  List l;
  Entry e;
  if (!list_open (dirs, TRUE, &l, error))
    return FALSE;
  for (gsize i = 0; i < l.n; i++)
    {
      if (!list_entry (&l, i, &e, error))
        return FALSE;
      char *sub = g_malloc (65);
      cairn_checksum_to_hex (e.csum, sub);
      loader_push_tree (p, sub);
    }
  if (!list_open (files, FALSE, &l, error))
    return FALSE;
  loader_add_files (p, &l);
  g_mutex_lock (&p->lock);
  g_hash_table_insert (p->w->trees, g_strdup (hex), g_steal_pointer (&tree));
  g_mutex_unlock (&p->lock);
  return TRUE;
}

static void
loader_files (Loader *p, LoadJob *job)
{
  for (guint i = 0; i < job->n_files; i++)
    {
      GError *local = NULL;
      if (g_atomic_int_get (&p->cancel) || cairn_first_error_failed (&p->fe_files))
        break;
      if (!load_inode (p->w, job->files[i], &local))
        cairn_first_error_set (&p->fe_files, local);
    }
}

static void
loader_job (gpointer data, gpointer user_data)
{
  Loader *p = user_data;
  LoadJob *job = data;
  GError *local = NULL;
  if (!job->tree)
    loader_files (p, job);
  else if (!cairn_first_error_failed (&p->fe_trees) && !loader_tree (p, job->tree, &local))
    cairn_first_error_set (&p->fe_trees, local);
  g_mutex_lock (&p->lock);
  if (job->tree ? --p->trees_pending == 0 : --p->files_pending == 0)
    g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
  g_free (job->tree);
  g_free (job);
}

/* Dirtrees before file batches. */
static gint
loader_job_cmp (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return (((const LoadJob *)a)->tree == NULL) - (((const LoadJob *)b)->tree == NULL);
}

/* A tree met twice (identical subdirectories) is loaded once. */
static void
loader_push_tree (Loader *p, char *hex)
{
  g_mutex_lock (&p->lock);
  gboolean seen = g_hash_table_contains (p->w->trees, hex);
  if (!seen)
    {
      g_hash_table_insert (p->w->trees, g_strdup (hex), NULL);
      p->trees_pending++;
    }
  g_mutex_unlock (&p->lock);
  if (seen)
    {
      g_free (hex);
      return;
    }
  LoadJob *job = g_new0 (LoadJob, 1);
  job->tree = hex;
  g_thread_pool_push (p->pool, job, NULL);
}

static void
loader_wait (Loader *p, guint *count)
{
  g_mutex_lock (&p->lock);
  while (*count)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);
}

/* Load every dirtree and file object of the commit and fill @root's
 * directory tree. Errors come in the order of a sequential build: a
 * dirtree's, then the placement walk's, then a file object's. */
static gboolean
load_and_fill (Writer *w, Inode *root, const char *root_tree, GError **error)
{
  Loader p = { .w = w };
  g_mutex_init (&p.lock);
  g_cond_init (&p.cond);
  cairn_first_error_init (&p.fe_trees);
  cairn_first_error_init (&p.fe_files);
  p.pool
      = g_thread_pool_new (loader_job, &p, MIN (MAX (g_get_num_processors (), 1), 8), FALSE, NULL);
  g_thread_pool_set_sort_function (p.pool, loader_job_cmp, NULL);
  loader_push_tree (&p, g_strdup (root_tree));
  loader_wait (&p, &p.trees_pending);
  gboolean ok
      = cairn_first_error_propagate (&p.fe_trees, error) && fill_dir (w, root, root_tree, error);
  if (!ok)
    g_atomic_int_set (&p.cancel, 1);
  loader_wait (&p, &p.files_pending);
  g_thread_pool_free (p.pool, FALSE, TRUE);
  ok = ok && cairn_first_error_propagate (&p.fe_files, error);
  cairn_first_error_clear (&p.fe_trees);
  cairn_first_error_clear (&p.fe_files);
  g_mutex_clear (&p.lock);
  g_cond_clear (&p.cond);
  if (ok)
    count_files (w);
  return ok;
}

/* ---- layout ---------------------------------------------------------------------- */

/* A directory's bytes: blocks of dirents (12 bytes each) followed by their
 * names, no name crossing a block; the last name of a block ends at the
 * next dirent's name or at the block's (zero-padded) end. With @out NULL
 * only the size is computed. */
static guint64
dir_bytes (Inode *dir, guint8 *out)
{
  guint64 base = 0;
  guint i = 0, n = dir->dents->len;
  while (i < n)
    {
      guint j = i, used = 0;
      while (j < n)
        {
          guint need = DIRENT_SIZE + strlen (g_array_index (dir->dents, Dent, j).name);
          if (used + need > BLKSZ)
            break;
          used += need;
          j++;
        }
      if (out)
        {
          guint nameoff = (j - i) * DIRENT_SIZE;
          for (guint k = i; k < j; k++)
            {
              Dent *d = &g_array_index (dir->dents, Dent, k);
              guint8 *e = out + base + (k - i) * DIRENT_SIZE;
              guint64 nid = d->inode->off / 32;
              gsize len = strlen (d->name);
              guint8 ft = S_ISDIR (d->inode->mode)   ? FT_DIR
                          : S_ISLNK (d->inode->mode) ? FT_SYMLINK
                                                     : FT_REG;
              for (int b = 0; b < 8; b++)
                e[b] = (guint8)(nid >> (8 * b));
              e[8] = (guint8)(nameoff & 0xff);
              e[9] = (guint8)(nameoff >> 8);
              e[10] = ft;
              e[11] = 0;
              memcpy (out + base + nameoff, d->name, len);
              nameoff += len;
            }
        }
      base += j < n ? BLKSZ : used;
      i = j;
    }
  return base;
}

static guint32
ceil_log2 (guint64 v)
{
  guint32 b = 0;
  while (b < 63 && (1ull << b) < v)
    b++;
  return b;
}

/* Sizes and layout of one inode before it is placed. */
static void
plan_inode (Writer *w, Inode *n)
{
  if (S_ISDIR (n->mode))
    n->size = dir_bytes (n, NULL);
  n->xlen = n->xattrs ? n->xattrs->len : 0;
  if (n->overlay)
    n->xlen = overlay_xattrs_len (n) + (n->xattrs ? n->xattrs->len - 12 : 0);
  n->extended = n->uid > 0xffff || n->gid > 0xffff || n->nlink > 0xffff || n->size > 0xffffffffu;
  n->layout = LAYOUT_FLAT_PLAIN;
  n->tail = 0;
  n->nblocks = 0;
  if (S_ISREG (n->mode) && !w->opts->with_data)
    {
      if (n->size == 0)
        return;
      /* One hole chunk covers the file (at most 2^31 blocks a chunk). */
      n->layout = LAYOUT_CHUNK_BASED;
      n->chunkbits = MIN (MAX (ceil_log2 (n->size), BLKBITS), BLKBITS + 31);
      n->tail = 4 * (guint32)((n->size + (1ull << n->chunkbits) - 1) >> n->chunkbits);
      return;
    }
  if (S_ISREG (n->mode))
    {
      n->nblocks = (n->size + BLKSZ - 1) / BLKSZ;
      n->has_content = n->size > 0;
      return;
    }
  /* Directories and symlinks: the last partial block inline when it fits
   * in one block with the inode and its xattrs. */
  guint32 meta = (n->extended ? 64 : 32) + n->xlen;
  guint32 tail = n->size % BLKSZ;
  if (tail && meta + tail <= BLKSZ)
    {
      n->layout = LAYOUT_FLAT_INLINE;
      n->tail = tail;
      n->nblocks = n->size / BLKSZ;
    }
  else
    n->nblocks = (n->size + BLKSZ - 1) / BLKSZ;
}

/* Place every inode; returns the end of the metadata area. */
static guint64
place_inodes (Writer *w)
{
  guint64 cur = SB_OFFSET + SB_SIZE;
  for (guint i = 0; i < w->inodes->len; i++)
    {
      Inode *n = w->inodes->pdata[i];
      plan_inode (w, n);
      guint32 isize = n->extended ? 64 : 32;
      guint64 total = isize + n->xlen + n->tail;
      guint64 in_block = cur % BLKSZ;
      /* Inline data must not cross a block; nor may the inode itself. */
      if ((n->layout == LAYOUT_FLAT_INLINE && in_block + total > BLKSZ) || in_block + isize > BLKSZ)
        cur += BLKSZ - in_block;
      n->off = cur;
      cur += (total + 31) & ~31ull;
    }
  return cur;
}

/* ---- writing --------------------------------------------------------------------- */

static void
put16 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
}

static void
put32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static void
put64 (guint8 *p, guint64 v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static void
write_inode (Writer *w, Inode *n, guint8 *p)
{
  guint32 xlen = n->xlen;
  guint32 icount = xlen ? (xlen - 12) / 4 + 1 : 0;
  guint32 iu;
  if (n->layout == LAYOUT_CHUNK_BASED)
    iu = n->chunkbits - BLKBITS; /* chunk format: a 4-byte block map */
  else
    iu = n->nblocks ? (guint32)n->blkaddr : 0;
  put16 (p, (n->extended ? 1 : 0) | (n->layout << 1));
  put16 (p + 2, icount);
  put16 (p + 4, n->mode);
  if (n->extended)
    {
      put64 (p + 8, n->size);
      put32 (p + 16, iu);
      put32 (p + 20, (guint32)n->ino);
      put32 (p + 24, n->uid);
      put32 (p + 28, n->gid);
      put64 (p + 32, w->opts->mtime);
      put32 (p + 44, n->nlink);
    }
  else
    {
      put16 (p + 6, n->nlink);
      put32 (p + 8, (guint32)n->size);
      put32 (p + 16, iu);
      put32 (p + 20, (guint32)n->ino);
      put16 (p + 24, n->uid);
      put16 (p + 26, n->gid);
    }
  guint8 *q = p + (n->extended ? 64 : 32);
  if (n->overlay)
    {
      /* The commit's own follow, without their area's header. */
      gsize ovl = overlay_xattrs (n, q);
      g_assert (ovl == overlay_xattrs_len (n));
      if (n->xattrs)
        memcpy (q + ovl, n->xattrs->data + 12, n->xattrs->len - 12);
    }
  else if (xlen)
    memcpy (q, n->xattrs->data, xlen);
  q += xlen;
  if (n->layout == LAYOUT_CHUNK_BASED)
    memset (q, 0xff, n->tail); /* every chunk a hole (EROFS_NULL_ADDR) */
}

static void
write_superblock (Writer *w, const char *commit, guint8 *img, guint64 blocks, guint32 incompat)
{
  guint8 *sb = img + SB_OFFSET;
  Inode *root = w->inodes->pdata[0];
  put32 (sb, EROFS_MAGIC);
  sb[12] = BLKBITS;
  put16 (sb + 14, (guint32)(root->off / 32));
  put64 (sb + 16, w->inodes->len);
  put64 (sb + 24, w->opts->mtime);
  put32 (sb + 36, (guint32)blocks);
  /* meta_blkaddr and xattr_blkaddr: 0 */
  guint8 csum[32];
  cairn_checksum_from_hex (commit, csum);
  memcpy (sb + 48, csum, 16); /* uuid: from the commit, so images are reproducible */
  memcpy (sb + 64, "cairn", 5);
  put32 (sb + 80, incompat);
}

/* The bytes of a directory or symlink (data area blocks, then the tail). */
static guint8 *
inode_data (Inode *n)
{
  if (S_ISDIR (n->mode))
    {
      guint8 *b = g_malloc0 (((n->size + BLKSZ - 1) / BLKSZ) * BLKSZ);
      dir_bytes (n, b);
      return b;
    }
  guint8 *b = g_malloc0 (((n->size + BLKSZ - 1) / BLKSZ) * BLKSZ + 1);
  memcpy (b, n->target, n->size);
  return b;
}

static gboolean
write_contents (Writer *w, int fd, GError **error)
{
  for (guint i = 0; i < w->inodes->len; i++)
    {
      Inode *n = w->inodes->pdata[i];
      if (!n->has_content)
        continue;
      if (lseek (fd, (off_t)(n->blkaddr * BLKSZ), SEEK_SET) < 0)
        return cairn_throw_errno (error, "seeking in the image");
      char csum[65];
      cairn_checksum_to_hex (n->raw, csum);
      if (!cairn_repo_copy_file_content (w->repo, csum, fd, error))
        return FALSE;
      off_t end = lseek (fd, 0, SEEK_CUR);
      if (end != (off_t)(n->blkaddr * BLKSZ + n->size))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "object %s.file: content is not of its recorded size", csum);
    }
  return TRUE;
}

/* The superblock, every inode and the directory and symlink blocks, from
 * @img (zeroed, @len bytes) to @fd. */
static gboolean
emit_metadata (Writer *w, const char *commit, int fd, guint8 *img, gsize len, guint64 blocks,
               guint32 incompat, GError **error)
{
  write_superblock (w, commit, img, blocks, incompat);
  for (guint i = 0; i < w->inodes->len; i++)
    {
      Inode *n = w->inodes->pdata[i];
      write_inode (w, n, img + n->off);
      if (!S_ISDIR (n->mode) && !S_ISLNK (n->mode))
        continue;
      g_autofree guint8 *data = inode_data (n);
      if (n->nblocks)
        memcpy (img + n->blkaddr * BLKSZ, data, MIN (n->size, n->nblocks * BLKSZ));
      if (n->layout == LAYOUT_FLAT_INLINE)
        memcpy (img + n->off + (n->extended ? 64 : 32) + n->xlen, data + n->nblocks * BLKSZ,
                n->tail);
    }
  if (pwrite (fd, img, len, 0) != (ssize_t)len)
    return cairn_throw_errno (error, "writing the image");
  if (!w->opts->with_data)
    {
      g_autofree char *sum = cairn_checksum_bytes (img, len);
      g_strlcpy (w->stats.sha256, sum, sizeof w->stats.sha256);
    }
  return TRUE;
}

static gboolean
emit (Writer *w, const char *commit, int fd, GError **error)
{
  guint64 meta_end = place_inodes (w);
  guint64 blk = (meta_end + BLKSZ - 1) / BLKSZ, inmem_blocks;
  guint32 incompat = 0;
  /* Directory and symlink blocks first (built in memory), file contents after. */
  for (int pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < w->inodes->len; i++)
        {
          Inode *n = w->inodes->pdata[i];
          if (n->nblocks && n->has_content == (pass == 1))
            {
              n->blkaddr = blk;
              blk += n->nblocks;
            }
          if (pass == 0 && n->layout == LAYOUT_CHUNK_BASED)
            incompat |= INCOMPAT_CHUNKED_FILE;
        }
      if (pass == 0)
        inmem_blocks = blk;
    }
  if (blk > G_MAXUINT32)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "the image would exceed 16 TiB");
  gsize len = inmem_blocks * BLKSZ;
  /* Populated by the kernel in one call (MAP_POPULATE): filled page by
   * page, the buffer cost a page fault every 4 KiB (perf). */
  guint8 *img
      = mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (img == MAP_FAILED)
    return cairn_throw_code (error, G_IO_ERROR_NO_SPACE, "no memory for a %zu-byte image", len);
  gboolean ok = emit_metadata (w, commit, fd, img, len, blk, incompat, error);
  munmap (img, len);
  if (!ok)
    return FALSE;
  if (!write_contents (w, fd, error))
    return FALSE;
  if (ftruncate (fd, (off_t)(blk * BLKSZ)) < 0)
    return cairn_throw_errno (error, "writing the image");
  w->stats.inodes = w->inodes->len;
  w->stats.bytes = blk * BLKSZ;
  return TRUE;
}

gboolean
cairn_erofs_write (CairnRepo *repo, const char *commit, int out_fd, const CairnErofsOptions *opts,
                   CairnErofsStats *out_stats, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_validate_checksum_string (commit, error)
      || !cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  if (!opts->with_data && repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    return cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                             "an archive repository's objects are compressed: overlayfs cannot "
                             "serve them as file data");
  Writer w = { .repo = repo, .opts = opts };
  w.inodes = g_ptr_array_new_with_free_func (inode_free);
  w.files = g_hash_table_new (raw_hash, raw_equal);
  w.pending = g_ptr_array_new ();
  w.trees = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, variant_unref0);
  w.dirmetas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, dirmeta_free);
  w.slabs = g_ptr_array_new_with_free_func (slab_unmap);
  Inode *root = dir_inode (&w, NULL, c.root_meta, error);
  gboolean ok
      = root && load_and_fill (&w, root, c.root_tree, error) && emit (&w, commit, out_fd, error);
  if (ok && out_stats)
    *out_stats = w.stats;
  /* File inodes the walk never placed (it failed): w.inodes owns the rest. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, w.files);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (((Inode *)value)->ino == 0)
      inode_free (value);
  g_hash_table_unref (w.files);
  g_ptr_array_unref (w.pending);
  g_hash_table_unref (w.trees);
  g_hash_table_unref (w.dirmetas);
  g_ptr_array_unref (w.inodes);
  g_ptr_array_unref (w.slabs); /* after every inode */
  if (!ok)
    return cairn_prefix_error (error, "EROFS image of %s", commit);
  return TRUE;
}
