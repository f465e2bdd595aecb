/* A read-only FUSE view of a commit (docs/cairn-mount.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Low-level libfuse API. A FUSE node id is the address of a Node that lives
 * as long as the mount (forget is ignored: memory is bounded by the part of
 * the tree that was looked at, one small Node per directory and per distinct
 * file object). Directories are per path (the kernel must never see a
 * directory under two names); files are per content object, so a file that
 * appears at several paths is one inode, as in a hardlinked checkout.
 *
 * Inode numbers are stable across mounts of the same commit: a file's is the
 * first 64 bits of its object checksum with the top bit set, a directory's a
 * 63-bit hash of its parent's inode, its name, dirtree and dirmeta.
 *
 * What is trusted: nothing read from the store. Metadata objects (dirtree,
 * dirmeta) are re-hashed when loaded, every name is validated, each dirtree
 * must be strictly sorted without a name in both lists (lookups are binary
 * searches). Content is re-hashed for archive repos (as it is decompressed)
 * and, with opts->verify, for bare modes on a file's first open. A failure
 * is EIO for that file or directory and one log line naming the object.
 */
#include "config.h"
#define FUSE_USE_VERSION 312
#include "checkout/cairn-mount.h"
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Content never changes under a commit: the kernel may cache for long. */
#define CACHE_TIMEOUT (86400.0 * 365)
#define DEFAULT_CACHE_BYTES (256ull << 20)
#define FILE_INO_BIT (1ull << 63)

typedef struct Node Node;

typedef struct {
  const char *name;    /* points into the dirtree's serialised data */
  const guint8 *csum;  /* file: content; directory: dirtree */
  const guint8 *meta;  /* directory: dirmeta; NULL for a file */
  guint64 ino;         /* directories only (files: from csum) */
  Node *node;          /* created on first lookup, under CairnMount.lock */
} Entry;

struct Node {
  gboolean is_dir;
  guint8 csum[32];     /* file: content object; directory: dirtree */
  guint8 meta[32];     /* directory: dirmeta */
  guint64 ino;
  Node *parent;        /* directories; the root is its own parent */
  int loaded;          /* atomic: the fields below are valid */
  int verified;        /* atomic: content re-hashed (opts->verify) */
  int prefetched;      /* atomic: queued for read-ahead */
  struct stat st;
  GVariant *xattrs;    /* a(ayay) */
  char *target;        /* symlinks */
  GVariant *dirtree;   /* directories: keeps Entry names alive */
  Entry *entries;      /* sorted by name (files and dirs merged) */
  guint n_entries;
};

typedef struct {
  guint8 csum[32];
  GMutex lock;         /* held while decompressing */
  int state;           /* 0 empty, 1 ready, -1 failed */
  int fd;              /* memfd with the content */
  guint64 size;
  gint refs;
  GList link;          /* in CairnMount.lru when cached */
} CacheEntry;

typedef struct {
  int fd;
  CacheEntry *ce;
} Handle;

struct CairnMount {
  CairnRepo *repo;
  CairnMountOptions opts;
  char commit[65];
  GMutex lock;              /* entry->node, files, dirmetas, logged */
  Node *root;
  GHashTable *files;        /* csum (32 bytes) -> Node* */
  GHashTable *dirmetas;     /* hex -> DirMeta* */
  GHashTable *logged;       /* object names already reported */
  GPtrArray *dir_nodes;     /* every directory Node (for freeing) */
  GMutex cache_lock;        /* cache, lru, cache_used */
  GHashTable *cache;        /* csum -> CacheEntry* */
  GQueue lru;
  guint64 cache_used;
  struct fuse_session *se;
  gboolean no_opendir;       /* the kernel takes ENOSYS from opendir */
  GThreadPool *prefetch;     /* directory read-ahead (prefetch_dir) */
  int stopping;              /* atomic: read-ahead should stop */
  char *mountpoint;
  GThread *thread;
  GMutex done_lock;
  GCond done_cond;
  gboolean done;
  int loop_status;
};

typedef struct {
  guint32 uid, gid, mode;
  GVariant *xattrs;
} DirMeta;

/* ---- small helpers --------------------------------------------------------------- */

static guint
csum_hash (gconstpointer p)
{
  guint h;
  memcpy (&h, p, sizeof h);
  return h;
}

static gboolean
csum_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 32) == 0;
}

static guint64
file_ino (const guint8 *csum)
{
  guint64 v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | csum[i];
  return v | FILE_INO_BIT;
}

static guint64
fnv1a (guint64 h, const void *data, gsize len)
{
  const guint8 *p = data;
  for (gsize i = 0; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static guint64
dir_ino (guint64 parent_ino, const char *name, const guint8 *tree, const guint8 *meta)
{
  guint64 h = 0xcbf29ce484222325ull;
  h = fnv1a (h, &parent_ino, sizeof parent_ino);
  h = fnv1a (h, name, strlen (name) + 1);
  h = fnv1a (h, tree, 32);
  h = fnv1a (h, meta, 32);
  h &= ~FILE_INO_BIT;
  return h < 2 ? h + 2 : h;
}

/* One line per broken object and mount: a damaged tree read by `tar` must
 * not flood the log. */
static void
report (CairnMount *m, const char *object, const GError *error)
{
  if (!m->opts.log)
    return;
  g_mutex_lock (&m->lock);
  gboolean first = g_hash_table_add (m->logged, g_strdup (object));
  g_mutex_unlock (&m->lock);
  if (!first)
    return;
  g_autofree char *msg = g_strdup_printf ("%s: object %s: %s", m->commit, object,
                                          error ? error->message : "unknown error");
  m->opts.log (msg, m->opts.log_data);
}

static gboolean
check_hash (const char *hex, const void *data, gsize len, const char *what, GError **error)
{
  g_autofree char *got = cairn_checksum_bytes (data, len);
  if (strcmp (got, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "Corrupted %s object %s (checksum %s)",
                             what, hex, got);
  return TRUE;
}

static GVariant *
load_meta_object (CairnMount *m, CairnObjectType type, const char *hex, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (m->repo, type, hex, error);
  if (!v || !check_hash (hex, g_variant_get_data (v), g_variant_get_size (v),
                         cairn_object_type_to_string (type), error))
    return NULL;
  return g_steal_pointer (&v);
}

/* ---- directories ----------------------------------------------------------------- */

static void
dirmeta_free (gpointer p)
{
  DirMeta *d = p;
  g_clear_pointer (&d->xattrs, g_variant_unref);
  g_free (d);
}

/* Parsed dirmetas are shared: most trees use a handful. */
static DirMeta *
get_dirmeta (CairnMount *m, const char *hex, GError **error)
{
  g_mutex_lock (&m->lock);
  DirMeta *d = g_hash_table_lookup (m->dirmetas, hex);
  g_mutex_unlock (&m->lock);
  if (d)
    return d;
  g_autoptr (GVariant) v = load_meta_object (m, CAIRN_OBJECT_DIR_META, hex, error);
  DirMeta tmp = { 0 };
  if (!v || !cairn_dirmeta_parse (v, &tmp.uid, &tmp.gid, &tmp.mode, &tmp.xattrs, error))
    return NULL;
  if (!tmp.xattrs)
    tmp.xattrs = cairn_xattrs_empty ();
  /* As `cairn checkout` (spec §13.2): no world-write or setuid dirs from a
   * bare-user-only repository. */
  if (m->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    tmp.mode &= ~(guint32) 07002;
  g_mutex_lock (&m->lock);
  d = g_hash_table_lookup (m->dirmetas, hex);
  if (!d)
    {
      d = g_memdup2 (&tmp, sizeof tmp);
      g_hash_table_insert (m->dirmetas, g_strdup (hex), d);
    }
  else
    g_variant_unref (tmp.xattrs);
  g_mutex_unlock (&m->lock);
  return d;
}

static gboolean
add_entries (GVariant *list, gboolean dirs, GArray *out, GError **error)
{
  gsize n = g_variant_n_children (list);
  for (gsize i = 0; i < n; i++)
    {
      Entry e = { 0 };
      g_autoptr (GVariant) c = NULL, t = NULL;
      if (dirs)
        g_variant_get_child (list, i, "(&s@ay@ay)", &e.name, &c, &t);
      else
        g_variant_get_child (list, i, "(&s@ay)", &e.name, &c);
      gsize cl = 0, tl = 0;
      /* The children share the dirtree's buffer: the pointers stay valid
       * while the Node holds the dirtree. */
      e.csum = g_variant_get_fixed_array (c, &cl, 1);
      if (t)
        e.meta = g_variant_get_fixed_array (t, &tl, 1);
      if (!cairn_validate_filename (e.name, -1, error))
        return cairn_prefix_error (error, "dirtree entry");
      if (cl != 32 || (dirs && tl != 32))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "entry '%s' has a bad checksum", e.name);
      g_array_append_val (out, e);
    }
  return TRUE;
}

static int
entry_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Entry *) a)->name, ((const Entry *) b)->name);
}

/* Parse a dirtree into one sorted Entry array. Each list must already be
 * sorted (spec §7.2); merged, no name may repeat. */
static gboolean
parse_dirtree (GVariant *tree, guint64 self_ino, Entry **out, guint *out_n, GError **error)
{
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  g_autoptr (GArray) a = g_array_new (FALSE, TRUE, sizeof (Entry));
  if (!add_entries (files, FALSE, a, error))
    return FALSE;
  guint nf = a->len;
  if (!add_entries (dirs, TRUE, a, error))
    return FALSE;
  for (guint i = 1; i < a->len; i++)
    if (i != nf && entry_cmp (&g_array_index (a, Entry, i - 1), &g_array_index (a, Entry, i)) >= 0)
      return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree not sorted at '%s'",
                               g_array_index (a, Entry, i).name);
  g_array_sort (a, entry_cmp);
  for (guint i = 0; i < a->len; i++)
    {
      Entry *e = &g_array_index (a, Entry, i);
      if (i > 0 && entry_cmp (e - 1, e) == 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree names '%s' twice", e->name);
      if (e->meta)
        e->ino = dir_ino (self_ino, e->name, e->csum, e->meta);
    }
  *out_n = a->len;
  *out = (Entry *) g_array_free (g_steal_pointer (&a), FALSE);
  return TRUE;
}

static gboolean
load_dir (CairnMount *m, Node *n, GError **error)
{
  char tree_hex[65], meta_hex[65];
  cairn_checksum_to_hex (n->csum, tree_hex);
  cairn_checksum_to_hex (n->meta, meta_hex);
  DirMeta *dm = get_dirmeta (m, meta_hex, error);
  if (!dm)
    return cairn_prefix_error (error, "%s.dirmeta", meta_hex);
  g_autoptr (GVariant) tree = load_meta_object (m, CAIRN_OBJECT_DIR_TREE, tree_hex, error);
  Entry *entries = NULL;
  guint n_entries = 0;
  if (!tree || !parse_dirtree (tree, n->ino, &entries, &n_entries, error))
    return cairn_prefix_error (error, "%s.dirtree", tree_hex);
  guint n_subdirs = 0;
  for (guint i = 0; i < n_entries; i++)
    n_subdirs += entries[i].meta != NULL;
  g_mutex_lock (&m->lock);
  if (!g_atomic_int_get (&n->loaded))
    {
      n->st.st_mode = S_IFDIR | (dm->mode & 07777);
      n->st.st_uid = dm->uid;
      n->st.st_gid = dm->gid;
      n->st.st_nlink = 2 + n_subdirs;
      n->st.st_size = 4096;
      n->xattrs = g_variant_ref (dm->xattrs);
      n->dirtree = g_steal_pointer (&tree);
      n->entries = g_steal_pointer (&entries);
      n->n_entries = n_entries;
      g_atomic_int_set (&n->loaded, 1);
    }
  g_mutex_unlock (&m->lock);
  g_free (entries);
  return TRUE;
}

/* ---- files ----------------------------------------------------------------------- */

/* Linux >= 6.13: xattrs by dirfd + name, without opening the object (an
 * open/close pair costs 5x a getxattrat on ext4; one per file of a tree). The
 * numbers are the same on every architecture. */
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif
struct cairn_xattr_args {
  guint64 value;
  guint32 size;
  guint32 flags;
};

/* Set when the kernel lacks the *xattrat calls, or forced for tests with
 * CAIRN_MOUNT_NO_XATTRAT=1: every object is then opened to read metadata. */
static int no_xattrat = -1;

static gboolean
xattrat_available (void)
{
  if (g_atomic_int_get (&no_xattrat) < 0)
    g_atomic_int_set (&no_xattrat, g_strcmp0 (g_getenv ("CAIRN_MOUNT_NO_XATTRAT"), "1") == 0);
  return !g_atomic_int_get (&no_xattrat);
}

static ssize_t
getxattrat (int dfd, const char *leaf, const char *name, void *buf, gsize size)
{
  struct cairn_xattr_args a = { .value = (guint64) (uintptr_t) buf, .size = size };
  ssize_t r = syscall (__NR_getxattrat, dfd, leaf, AT_SYMLINK_NOFOLLOW, name, &a, sizeof a);
  if (r < 0 && errno == ENOSYS)
    g_atomic_int_set (&no_xattrat, 1);
  return r;
}

/* bare: the object carries real xattrs; most have none, which one
 * listxattrat tells without opening it. */
static GVariant *
bare_xattrs (CairnMount *m, int dfd, const char *leaf, GError **error)
{
  if (m->repo->disable_xattrs)
    return cairn_xattrs_empty ();
  if (xattrat_available ())
    {
      ssize_t r = syscall (__NR_listxattrat, dfd, leaf, AT_SYMLINK_NOFOLLOW, NULL, 0);
      if (r == 0 || (r < 0 && errno == EOPNOTSUPP))
        return cairn_xattrs_empty ();
      if (r < 0 && errno == ENOSYS)
        g_atomic_int_set (&no_xattrat, 1);
    }
  return cairn_xattrs_read_at (dfd, leaf, error);
}

/* bare-user: logical uid, gid, mode and xattrs in user.ostreemeta (spec §4.1). */
static gboolean
parse_ostreemeta (const void *data, gsize len, CairnFileInfo *fi, GError **error)
{
  if (len == 12)
    {
      /* No xattrs (the usual case): three BE32 and an empty array. */
      guint32 w[3];
      memcpy (w, data, sizeof w);
      fi->uid = GUINT32_FROM_BE (w[0]);
      fi->gid = GUINT32_FROM_BE (w[1]);
      fi->mode = GUINT32_FROM_BE (w[2]);
      fi->xattrs = cairn_xattrs_empty ();
      return TRUE;
    }
  g_autoptr (GVariant) v = g_variant_ref_sink (
      g_variant_new_from_data (G_VARIANT_TYPE ("(uuua(ayay))"), g_memdup2 (data, len), len, FALSE,
                               g_free, NULL));
  if (!g_variant_is_normal_form (v))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "user.ostreemeta not in normal form");
  guint32 uid, gid, mode;
  g_variant_get (v, "(uuu@a(ayay))", &uid, &gid, &mode, &fi->xattrs);
  fi->uid = GUINT32_FROM_BE (uid);
  fi->gid = GUINT32_FROM_BE (gid);
  fi->mode = GUINT32_FROM_BE (mode);
  return TRUE;
}

/* Metadata without opening the object where the repo mode allows it; FALSE
 * with *out_done unset means "use cairn_repo_load_file". */
static gboolean
load_file_fast (CairnMount *m, const char *hex, CairnFileInfo *fi, gboolean *out_done,
                GError **error)
{
  CairnRepoMode mode = m->repo->mode;
  if (mode == CAIRN_REPO_MODE_ARCHIVE)
    return TRUE;
  int dfd = cairn_repo_objdir_fd (m->repo, hex, FALSE, NULL);
  g_autofree char *leaf = cairn_object_leaf (hex, CAIRN_OBJECT_FILE, mode);
  struct stat st;
  if (dfd < 0 || fstatat (dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "Object %s.file is missing", hex);
  if (!S_ISREG (st.st_mode) && !(S_ISLNK (st.st_mode) && mode != CAIRN_REPO_MODE_BARE_USER))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "Corrupted object %s.file: not a "
                             "regular file%s", hex, mode != CAIRN_REPO_MODE_BARE_USER ? " or symlink" : "");
  if (mode == CAIRN_REPO_MODE_BARE_USER)
    {
      guint8 buf[4096];
      ssize_t n = xattrat_available () ? getxattrat (dfd, leaf, "user.ostreemeta", buf, sizeof buf) : -1;
      if (n < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
        return cairn_throw_errno (error, "Corrupted object %s.file: reading user.ostreemeta", hex);
      if (n < 0)
        return TRUE; /* no getxattrat, or a large value */
      if (!parse_ostreemeta (buf, n, fi, error))
        return cairn_prefix_error (error, "Corrupted object %s.file", hex);
      if (S_ISLNK (fi->mode))
        {
          g_clear_pointer (&fi->xattrs, g_variant_unref);
          return TRUE; /* the target is the content: read by load_file */
        }
      fi->size = st.st_size;
      *out_done = TRUE;
      return TRUE;
    }
  fi->mode = st.st_mode;
  fi->size = S_ISREG (st.st_mode) ? st.st_size : 0;
  if (S_ISLNK (st.st_mode) && !(fi->symlink_target = cairn_readlinkat (dfd, leaf, error)))
    return FALSE;
  if (mode == CAIRN_REPO_MODE_BARE)
    {
      fi->uid = st.st_uid;
      fi->gid = st.st_gid;
      if (!(fi->xattrs = bare_xattrs (m, dfd, leaf, error)))
        return cairn_prefix_error (error, "object %s.file", hex);
    }
  else
    fi->xattrs = cairn_xattrs_empty ();
  *out_done = TRUE;
  return TRUE;
}

static gboolean
load_file (CairnMount *m, Node *n, GError **error)
{
  char hex[65];
  cairn_checksum_to_hex (n->csum, hex);
  g_auto (CairnFileInfo) fi = { 0 };
  gboolean done = FALSE;
  if (!load_file_fast (m, hex, &fi, &done, error))
    return FALSE;
  if (!done)
    {
      cairn_file_info_clear (&fi);
      memset (&fi, 0, sizeof fi);
      if (!cairn_repo_load_file (m->repo, hex, NULL, &fi, error))
        return FALSE;
    }
  if (!(S_ISREG (fi.mode) || S_ISLNK (fi.mode)) || (fi.mode & ~(S_IFMT | 07777))
      || (S_ISLNK (fi.mode) && !fi.symlink_target))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "Corrupted object %s.file: mode 0%o",
                             hex, fi.mode);
  if (!fi.xattrs)
    fi.xattrs = cairn_xattrs_empty ();
  g_mutex_lock (&m->lock);
  if (!g_atomic_int_get (&n->loaded))
    {
      n->st.st_mode = fi.mode;
      n->st.st_uid = fi.uid;
      n->st.st_gid = fi.gid;
      n->st.st_nlink = 1;
      n->target = g_steal_pointer (&fi.symlink_target);
      n->st.st_size = n->target ? strlen (n->target) : fi.size;
      n->st.st_blocks = (n->st.st_size + 511) / 512;
      n->xattrs = g_steal_pointer (&fi.xattrs);
      g_atomic_int_set (&n->loaded, 1);
    }
  g_mutex_unlock (&m->lock);
  return TRUE;
}

/* The node's metadata, loading it on first use. FALSE (reported) on a
 * missing or corrupt object. */
static gboolean
node_ensure (CairnMount *m, Node *n)
{
  if (g_atomic_int_get (&n->loaded))
    return TRUE;
  g_autoptr (GError) local = NULL;
  gboolean ok = n->is_dir ? load_dir (m, n, &local) : load_file (m, n, &local);
  if (!ok)
    {
      char hex[65];
      cairn_checksum_to_hex (n->csum, hex);
      g_autofree char *name = g_strdup_printf ("%s.%s", hex, n->is_dir ? "dirtree" : "file");
      report (m, name, local);
    }
  return ok;
}

static Node *
node_new_dir (Node *parent, const guint8 *tree, const guint8 *meta, guint64 ino)
{
  Node *n = g_new0 (Node, 1);
  n->is_dir = TRUE;
  memcpy (n->csum, tree, 32);
  memcpy (n->meta, meta, 32);
  n->ino = ino;
  n->st.st_ino = ino;
  n->st.st_blksize = 4096;
  n->parent = parent ? parent : n;
  return n;
}

/* The Node of a directory entry (created on first use). */
static Node *
entry_node (CairnMount *m, Node *dir, Entry *e)
{
  g_mutex_lock (&m->lock);
  if (!e->node && e->meta)
    {
      e->node = node_new_dir (dir, e->csum, e->meta, e->ino);
      g_ptr_array_add (m->dir_nodes, e->node);
    }
  else if (!e->node)
    {
      Node *f = g_hash_table_lookup (m->files, e->csum);
      if (!f)
        {
          f = g_new0 (Node, 1);
          memcpy (f->csum, e->csum, 32);
          f->ino = f->st.st_ino = file_ino (e->csum);
          f->st.st_blksize = 4096;
          g_hash_table_insert (m->files, f->csum, f);
        }
      e->node = f;
    }
  Node *n = e->node;
  g_mutex_unlock (&m->lock);
  return n;
}

static Node *
get_node (CairnMount *m, fuse_ino_t ino)
{
  return ino == FUSE_ROOT_ID ? m->root : (Node *) (uintptr_t) ino;
}

static fuse_ino_t
node_id (CairnMount *m, Node *n)
{
  return n == m->root ? FUSE_ROOT_ID : (fuse_ino_t) (uintptr_t) n;
}

static Entry *
find_entry (Node *dir, const char *name)
{
  guint lo = 0, hi = dir->n_entries;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int c = strcmp (name, dir->entries[mid].name);
      if (c == 0)
        return &dir->entries[mid];
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}

/* ---- FUSE operations: metadata ----------------------------------------------------- */

static void prefetch_dir (gpointer data, gpointer user_data);

static void
op_init (void *userdata, struct fuse_conn_info *conn)
{
  CairnMount *m = userdata;
  unsigned want = FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_SPLICE_WRITE
                  | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_READDIRPLUS | FUSE_CAP_NO_OPENDIR_SUPPORT;
  conn->want |= conn->capable & want;
  /* Never invalidate cached pages on getattr: content cannot change. */
  conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_READDIRPLUS_AUTO);
  m->no_opendir = (conn->want & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0;
  /* Created here, in the process that serves (cairn mount forks after
   * attaching): threads do not survive a fork. */
  m->prefetch = g_thread_pool_new (prefetch_dir, m, MAX (2, g_get_num_processors ()), FALSE, NULL);
}

static void
op_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *dir = get_node (m, parent);
  if (!dir->is_dir)
    {
      fuse_reply_err (req, ENOTDIR);
      return;
    }
  if (!node_ensure (m, dir))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  struct fuse_entry_param e = { 0 };
  e.attr_timeout = e.entry_timeout = CACHE_TIMEOUT;
  Entry *ent = find_entry (dir, name);
  if (!ent)
    {
      fuse_reply_entry (req, &e); /* ino 0: a cached negative entry */
      return;
    }
  Node *n = entry_node (m, dir, ent);
  if (!node_ensure (m, n))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  e.ino = node_id (m, n);
  e.attr = n->st;
  fuse_reply_entry (req, &e);
}

static void
op_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  (void) fi;
  if (!node_ensure (m, n))
    fuse_reply_err (req, EIO);
  else
    fuse_reply_attr (req, &n->st, CACHE_TIMEOUT);
}

static void
op_readlink (fuse_req_t req, fuse_ino_t ino)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if (!node_ensure (m, n))
    fuse_reply_err (req, EIO);
  else if (!S_ISLNK (n->st.st_mode) || !n->target)
    fuse_reply_err (req, EINVAL);
  else
    fuse_reply_readlink (req, n->target);
}

/* Directories need no handle: ENOSYS tells the kernel (NO_OPENDIR_SUPPORT)
 * to stop sending opendir/releasedir and to cache listings (FOPEN_CACHE_DIR
 * and KEEP_CACHE are its defaults then) — two round trips less per
 * directory. Kernels without that capability get a plain open. */
static void
op_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if (!n->is_dir)
    fuse_reply_err (req, ENOTDIR);
  else if (!node_ensure (m, n))
    fuse_reply_err (req, EIO);
  else if (m->no_opendir)
    fuse_reply_err (req, ENOSYS);
  else
    {
      fi->cache_readdir = 1;
      fi->keep_cache = 1;
      fuse_reply_open (req, fi);
    }
}

/* The d_type of a file is known only once its object was read; plain
 * readdir does not read objects, so it may be DT_UNKNOWN. */
static mode_t
entry_type (Entry *e)
{
  if (e->meta)
    return S_IFDIR;
  Node *n = e->node;
  return n && g_atomic_int_get (&n->loaded) ? (n->st.st_mode & S_IFMT) : 0;
}

/* One directory entry into @buf; returns its size (> @avail: did not fit). */
static size_t
add_entry (fuse_req_t req, CairnMount *m, Node *dir, off_t i, gboolean plus, char *buf,
           size_t avail)
{
  struct fuse_entry_param e = { 0 };
  const char *name;
  if (i < 2)
    {
      name = i == 0 ? "." : "..";
      e.attr.st_ino = i == 0 ? dir->ino : dir->parent->ino;
      e.attr.st_mode = S_IFDIR;
    }
  else
    {
      Entry *ent = &dir->entries[i - 2];
      name = ent->name;
      if (plus)
        {
          /* A broken object gets no attributes (ino 0): the kernel then
           * looks it up, and that lookup fails with EIO. */
          Node *n = entry_node (m, dir, ent);
          if (node_ensure (m, n))
            {
              e.ino = node_id (m, n);
              e.attr = n->st;
              e.attr_timeout = e.entry_timeout = CACHE_TIMEOUT;
            }
        }
      if (!e.ino)
        {
          e.attr.st_ino = ent->meta ? ent->ino : file_ino (ent->csum);
          e.attr.st_mode = entry_type (ent);
        }
    }
  if (plus)
    return fuse_add_direntry_plus (req, buf, avail, name, &e, i + 1);
  return fuse_add_direntry (req, buf, avail, name, &e.attr, i + 1);
}

/* Read-ahead for tree walks: once a directory is listed, its subdirectories
 * are likely next. Worker threads load their dirtrees and the metadata of
 * their entries while the client is still busy with this listing, so that
 * the next READDIRPLUS is answered from memory. One level at a time: a
 * mount that is only looked into does not load the whole tree. */
static void
prefetch_dir (gpointer data, gpointer user_data)
{
  CairnMount *m = user_data;
  Node *dir = data;
  if (g_atomic_int_get (&m->stopping) || !node_ensure (m, dir))
    return;
  for (guint i = 0; i < dir->n_entries && !g_atomic_int_get (&m->stopping); i++)
    node_ensure (m, entry_node (m, dir, &dir->entries[i]));
}

static void
prefetch_subdirs (CairnMount *m, Node *dir)
{
  if (!m->prefetch)
    return;
  for (guint i = 0; i < dir->n_entries; i++)
    {
      Entry *e = &dir->entries[i];
      if (!e->meta)
        continue;
      Node *child = entry_node (m, dir, e);
      if (g_atomic_int_compare_and_exchange (&child->prefetched, 0, 1))
        g_thread_pool_push (m->prefetch, child, NULL);
    }
}

static void
do_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, gboolean plus)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if (!n->is_dir)
    {
      fuse_reply_err (req, ENOTDIR);
      return;
    }
  if (!node_ensure (m, n))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  g_autofree char *buf = g_malloc (size);
  size_t pos = 0;
  for (off_t i = MAX (off, 0); i < (off_t) n->n_entries + 2; i++)
    {
      size_t len = add_entry (req, m, n, i, plus, buf + pos, size - pos);
      if (len > size - pos)
        break;
      pos += len;
    }
  fuse_reply_buf (req, buf, pos);
  if (off == 0)
    prefetch_subdirs (m, n);
}

static void
op_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  (void) fi;
  do_readdir (req, ino, size, off, FALSE);
}

/* Always used when the kernel can (READDIRPLUS without AUTO): a tree walk
 * (tar, find, ls -l) then needs no lookup per entry, one request per
 * directory instead. */
static void
op_readdirplus (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  (void) fi;
  do_readdir (req, ino, size, off, TRUE);
}

static void
op_statfs (fuse_req_t req, fuse_ino_t ino)
{
  struct statvfs sv = { 0 };
  (void) ino;
  sv.f_bsize = sv.f_frsize = 4096;
  sv.f_namemax = 255;
  sv.f_flag = ST_RDONLY;
  fuse_reply_statfs (req, &sv);
}

/* ---- xattrs ------------------------------------------------------------------------ */

static void
op_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if (!node_ensure (m, n))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  gsize count = g_variant_n_children (n->xattrs);
  for (gsize i = 0; i < count; i++)
    {
      g_autoptr (GVariant) k = NULL, v = NULL;
      g_variant_get_child (n->xattrs, i, "(@ay@ay)", &k, &v);
      gsize kl, vl;
      const char *kn = g_variant_get_fixed_array (k, &kl, 1);
      if (kl == 0 || strnlen (kn, kl) != kl - 1 || strcmp (kn, name) != 0)
        continue;
      const void *val = g_variant_get_fixed_array (v, &vl, 1);
      if (size == 0)
        fuse_reply_xattr (req, vl);
      else if (size < vl)
        fuse_reply_err (req, ERANGE);
      else
        fuse_reply_buf (req, val, vl);
      return;
    }
  fuse_reply_err (req, ENODATA);
}

static void
op_listxattr (fuse_req_t req, fuse_ino_t ino, size_t size)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if (!node_ensure (m, n))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  g_autoptr (GString) names = g_string_new (NULL);
  gsize count = g_variant_n_children (n->xattrs);
  for (gsize i = 0; i < count; i++)
    {
      g_autoptr (GVariant) k = NULL;
      g_variant_get_child (n->xattrs, i, "(@ay@ay)", &k, NULL);
      gsize kl;
      const char *kn = g_variant_get_fixed_array (k, &kl, 1);
      if (kl > 1 && strnlen (kn, kl) == kl - 1)
        g_string_append_len (names, kn, kl);
    }
  if (size == 0)
    fuse_reply_xattr (req, names->len);
  else if (size < names->len)
    fuse_reply_err (req, ERANGE);
  else
    fuse_reply_buf (req, names->str, names->len);
}

/* ---- file content ---------------------------------------------------------------- */

static void
cache_entry_unref (CacheEntry *ce)
{
  if (!g_atomic_int_dec_and_test (&ce->refs))
    return;
  if (ce->fd >= 0)
    close (ce->fd);
  g_mutex_clear (&ce->lock);
  g_free (ce);
}

/* Re-hash a regular file's content against its object name (spec §5.2). */
static gboolean
verify_content (Node *n, int fd, const char *hex, GError **error)
{
  gsize len = n->st.st_size;
  void *map = len ? mmap (NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  if (map == MAP_FAILED)
    return cairn_throw_errno (error, "mmap");
  CairnFileInfo fi = { .uid = n->st.st_uid, .gid = n->st.st_gid, .mode = n->st.st_mode,
                       .size = len, .xattrs = n->xattrs };
  g_autofree char *got = cairn_content_checksum (&fi, map, len);
  if (map)
    munmap (map, len);
  if (strcmp (got, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "Corrupted object %s.file: content hashes to %s", hex, got);
  return TRUE;
}

static gboolean
fill_cache_entry (CairnMount *m, Node *n, CacheEntry *ce, GError **error)
{
  char hex[65];
  cairn_checksum_to_hex (n->csum, hex);
  g_auto (CairnFileInfo) fi = { 0 };
  cairn_autofd fd = -1;
  if (!cairn_repo_load_file (m->repo, hex, &fd, &fi, error))
    return FALSE;
  if (fd < 0 || fi.size != (guint64) n->st.st_size)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "Corrupted object %s.filez: content size differs from its header", hex);
  if (!verify_content (n, fd, hex, error))
    return FALSE;
  ce->fd = cairn_steal_fd (&fd);
  ce->size = fi.size;
  return TRUE;
}

/* Keep at most opts.cache_bytes of decompressed content; entries still open
 * stay alive through their handles' references. */
static void
cache_account (CairnMount *m, CacheEntry *ce)
{
  g_mutex_lock (&m->cache_lock);
  if (g_hash_table_lookup (m->cache, ce->csum) == ce)
    m->cache_used += ce->size;
  while (m->cache_used > m->opts.cache_bytes && m->lru.tail && m->lru.tail->data != ce)
    {
      CacheEntry *old = m->lru.tail->data;
      g_queue_unlink (&m->lru, &old->link);
      g_hash_table_remove (m->cache, old->csum);
      m->cache_used -= old->state == 1 ? old->size : 0;
      cache_entry_unref (old);
    }
  g_mutex_unlock (&m->cache_lock);
}

static void
cache_drop (CairnMount *m, CacheEntry *ce)
{
  g_mutex_lock (&m->cache_lock);
  if (g_hash_table_lookup (m->cache, ce->csum) == ce)
    {
      g_queue_unlink (&m->lru, &ce->link);
      g_hash_table_remove (m->cache, ce->csum);
      cache_entry_unref (ce);
    }
  g_mutex_unlock (&m->cache_lock);
}

/* The decompressed content of an archive object, shared by every open. */
static CacheEntry *
cache_acquire (CairnMount *m, Node *n, GError **error)
{
  g_mutex_lock (&m->cache_lock);
  CacheEntry *ce = g_hash_table_lookup (m->cache, n->csum);
  if (!ce)
    {
      ce = g_new0 (CacheEntry, 1);
      memcpy (ce->csum, n->csum, 32);
      ce->fd = -1;
      ce->refs = 1; /* the cache's */
      ce->link.data = ce;
      g_mutex_init (&ce->lock);
      g_hash_table_insert (m->cache, ce->csum, ce);
      g_queue_push_head_link (&m->lru, &ce->link);
    }
  else
    {
      g_queue_unlink (&m->lru, &ce->link);
      g_queue_push_head_link (&m->lru, &ce->link);
    }
  g_atomic_int_inc (&ce->refs);
  g_mutex_unlock (&m->cache_lock);

  g_mutex_lock (&ce->lock);
  gboolean fresh = ce->state == 0;
  if (fresh)
    ce->state = fill_cache_entry (m, n, ce, error) ? 1 : -1;
  else if (ce->state < 0)
    cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "could not be decompressed");
  int state = ce->state;
  g_mutex_unlock (&ce->lock);
  if (state < 0)
    {
      cache_drop (m, ce);
      cache_entry_unref (ce);
      return NULL;
    }
  if (fresh)
    cache_account (m, ce);
  return ce;
}

static int
open_bare (CairnMount *m, Node *n, GError **error)
{
  char hex[65];
  cairn_checksum_to_hex (n->csum, hex);
  int dfd = cairn_repo_objdir_fd (m->repo, hex, FALSE, error);
  if (dfd < 0)
    return -1;
  g_autofree char *leaf = cairn_object_leaf (hex, CAIRN_OBJECT_FILE, m->repo->mode);
  cairn_autofd fd = openat (dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      cairn_throw_errno (error, "opening object %s.file", hex);
      return -1;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size != n->st.st_size)
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "Corrupted object %s.file: not a regular "
                        "file of %" G_GINT64_FORMAT " bytes", hex, (gint64) n->st.st_size);
      return -1;
    }
  if (m->opts.verify && !g_atomic_int_get (&n->verified))
    {
      if (!verify_content (n, fd, hex, error))
        return -1;
      g_atomic_int_set (&n->verified, 1);
    }
  return cairn_steal_fd (&fd);
}

static void
op_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  CairnMount *m = fuse_req_userdata (req);
  Node *n = get_node (m, ino);
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    {
      fuse_reply_err (req, EROFS);
      return;
    }
  if (!node_ensure (m, n))
    {
      fuse_reply_err (req, EIO);
      return;
    }
  if (!S_ISREG (n->st.st_mode))
    {
      fuse_reply_err (req, n->is_dir ? EISDIR : ELOOP);
      return;
    }
  g_autoptr (GError) local = NULL;
  Handle *h = g_new0 (Handle, 1);
  if (m->repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    {
      h->ce = cache_acquire (m, n, &local);
      h->fd = h->ce ? h->ce->fd : -1;
    }
  else
    h->fd = open_bare (m, n, &local);
  if (h->fd < 0)
    {
      char hex[65];
      cairn_checksum_to_hex (n->csum, hex);
      g_autofree char *name = g_strdup_printf ("%s.file", hex);
      report (m, name, local);
      g_free (h);
      fuse_reply_err (req, EIO);
      return;
    }
  fi->fh = (uint64_t) (uintptr_t) h;
  fi->keep_cache = 1;
  fi->noflush = 1;
  if (fuse_reply_open (req, fi) == -ENOENT)
    {
      /* Interrupted: release is never called for this handle. */
      if (h->ce)
        cache_entry_unref (h->ce);
      else
        close (h->fd);
      g_free (h);
    }
}

static void
op_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  Handle *h = (Handle *) (uintptr_t) fi->fh;
  (void) ino;
  struct fuse_bufvec bv = FUSE_BUFVEC_INIT (size);
  bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  bv.buf[0].fd = h->fd;
  bv.buf[0].pos = off;
  fuse_reply_data (req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void
op_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  Handle *h = (Handle *) (uintptr_t) fi->fh;
  (void) ino;
  if (h->ce)
    cache_entry_unref (h->ce);
  else
    close (h->fd);
  g_free (h);
  fuse_reply_err (req, 0);
}

static void
op_access (fuse_req_t req, fuse_ino_t ino, int mask)
{
  (void) ino;
  /* Permission bits are checked by the kernel (default_permissions). */
  fuse_reply_err (req, (mask & W_OK) ? EROFS : 0);
}

static const struct fuse_lowlevel_ops cairn_mount_ops = {
  .init = op_init,
  .lookup = op_lookup,
  .getattr = op_getattr,
  .readlink = op_readlink,
  .opendir = op_opendir,
  .readdir = op_readdir,
  .readdirplus = op_readdirplus,
  .statfs = op_statfs,
  .getxattr = op_getxattr,
  .listxattr = op_listxattr,
  .open = op_open,
  .read = op_read,
  .release = op_release,
  .access = op_access,
};

/* ---- lifecycle ------------------------------------------------------------------- */

static void
node_free (gpointer p)
{
  Node *n = p;
  g_clear_pointer (&n->xattrs, g_variant_unref);
  g_clear_pointer (&n->dirtree, g_variant_unref);
  g_free (n->target);
  g_free (n->entries);
  g_free (n);
}

CairnMount *
cairn_mount_new (CairnRepo *repo, const char *commit, const CairnMountOptions *opts,
                 GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_validate_checksum_string (commit, error) || !cairn_repo_load_commit (repo, commit, &c, error))
    return NULL;
  guint8 tree[32], meta[32];
  if (!cairn_checksum_from_hex (c.root_tree, tree) || !cairn_checksum_from_hex (c.root_meta, meta))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "commit %s: bad root checksums", commit), NULL;
  g_autoptr (CairnMount) m = g_new0 (CairnMount, 1);
  m->repo = repo;
  if (opts)
    m->opts = *opts;
  if (m->opts.cache_bytes == 0)
    m->opts.cache_bytes = DEFAULT_CACHE_BYTES;
  g_strlcpy (m->commit, commit, sizeof m->commit);
  g_mutex_init (&m->lock);
  g_mutex_init (&m->cache_lock);
  g_mutex_init (&m->done_lock);
  g_cond_init (&m->done_cond);
  m->files = g_hash_table_new_full (csum_hash, csum_equal, NULL, node_free);
  m->dirmetas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, dirmeta_free);
  m->logged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->dir_nodes = g_ptr_array_new_with_free_func (node_free);
  m->cache = g_hash_table_new (csum_hash, csum_equal); /* refs dropped in _free */
  g_queue_init (&m->lru);
  m->root = node_new_dir (NULL, tree, meta, dir_ino (0, "", tree, meta));
  g_ptr_array_add (m->dir_nodes, m->root);
  /* The root is loaded now: a commit whose root is broken is not mounted. */
  if (!load_dir (m, m->root, error))
    return cairn_prefix_error (error, "commit %s: root directory", commit), NULL;
  return g_steal_pointer (&m);
}

gboolean
cairn_mount_attach (CairnMount *m, const char *mountpoint, GError **error)
{
  g_autofree char *o = g_strdup_printf ("ro,default_permissions,fsname=cairn:%.12s,subtype=cairn%s%s",
                                        m->commit, m->opts.allow_other ? ",allow_other" : "",
                                        m->opts.suid ? ",suid" : ",nosuid,nodev");
  char *argv[] = { (char *) "cairn", (char *) "-o", o, m->opts.debug ? (char *) "-d" : NULL, NULL };
  struct fuse_args args = FUSE_ARGS_INIT (m->opts.debug ? 4 : 3, argv);
  g_return_val_if_fail (m->se == NULL, FALSE);
  /* Absolute: a daemonised server changes to / and unmounts by this path. */
  g_autofree char *abs = realpath (mountpoint, NULL);
  if (!abs)
    return cairn_throw_errno (error, "mount point %s", mountpoint);
  m->se = fuse_session_new (&args, &cairn_mount_ops, sizeof cairn_mount_ops, m);
  fuse_opt_free_args (&args);
  if (!m->se)
    return cairn_throw (error, "mount %s: cannot create a FUSE session (options: %s)", mountpoint, o);
  if (fuse_session_mount (m->se, abs) != 0)
    {
      g_clear_pointer (&m->se, fuse_session_destroy);
      return cairn_throw (error, "mount %s: FUSE mount failed (is /dev/fuse available, and "
                          "fusermount3 installed for non-root users?)", mountpoint);
    }
  m->mountpoint = g_steal_pointer (&abs);
  return TRUE;
}

static int
run_loop (CairnMount *m)
{
  struct fuse_loop_config *cfg = fuse_loop_cfg_create ();
  guint threads = m->opts.max_threads ? m->opts.max_threads : MAX (8, 2 * g_get_num_processors ());
  fuse_loop_cfg_set_max_threads (cfg, threads);
  fuse_loop_cfg_set_clone_fd (cfg, 0);
  int r = fuse_session_loop_mt (m->se, cfg);
  fuse_loop_cfg_destroy (cfg);
  return r;
}

gboolean
cairn_mount_serve (CairnMount *m, GError **error)
{
  g_return_val_if_fail (m->se != NULL, FALSE);
  if (fuse_set_signal_handlers (m->se) != 0)
    return cairn_throw (error, "mount %s: cannot install signal handlers", m->mountpoint);
  int r = run_loop (m);
  fuse_remove_signal_handlers (m->se);
  fuse_session_unmount (m->se);
  if (r < 0)
    return cairn_throw_errno_value (error, -r, "mount %s: serving requests", m->mountpoint);
  return TRUE;
}

static gpointer
loop_thread (gpointer data)
{
  CairnMount *m = data;
  int r = run_loop (m);
  g_mutex_lock (&m->done_lock);
  m->loop_status = r;
  m->done = TRUE;
  g_cond_broadcast (&m->done_cond);
  g_mutex_unlock (&m->done_lock);
  return NULL;
}

gboolean
cairn_mount_start (CairnMount *m, GError **error)
{
  g_return_val_if_fail (m->se != NULL && m->thread == NULL, FALSE);
  m->thread = g_thread_try_new ("cairn-mount", loop_thread, m, error);
  return m->thread != NULL;
}

gboolean
cairn_mount_stop (CairnMount *m, guint timeout_ms)
{
  if (!m->se)
    return TRUE;
  fuse_session_exit (m->se);
  /* Detach: the kernel ends the connection once the last user is gone,
   * which wakes the workers blocked on /dev/fuse. */
  fuse_session_unmount (m->se);
  if (m->thread)
    {
      gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
      g_mutex_lock (&m->done_lock);
      while (!m->done)
        if (!g_cond_wait_until (&m->done_cond, &m->done_lock, deadline))
          break;
      gboolean done = m->done;
      g_mutex_unlock (&m->done_lock);
      if (!done)
        return FALSE;
      g_thread_join (g_steal_pointer (&m->thread));
    }
  g_clear_pointer (&m->se, fuse_session_destroy);
  return TRUE;
}

void
cairn_mount_free (CairnMount *m)
{
  if (!m)
    return;
  if (m->se && !cairn_mount_stop (m, 5000))
    return; /* still serving: leak rather than free under the workers */
  g_atomic_int_set (&m->stopping, 1);
  if (m->prefetch)
    g_thread_pool_free (g_steal_pointer (&m->prefetch), TRUE, TRUE);
  GList *l;
  while ((l = g_queue_pop_head_link (&m->lru)))
    cache_entry_unref (l->data);
  g_hash_table_unref (m->cache);
  g_ptr_array_unref (m->dir_nodes);
  g_hash_table_unref (m->files);
  g_hash_table_unref (m->dirmetas);
  g_hash_table_unref (m->logged);
  g_mutex_clear (&m->lock);
  g_mutex_clear (&m->cache_lock);
  g_mutex_clear (&m->done_lock);
  g_cond_clear (&m->done_cond);
  g_free (m->mountpoint);
  g_free (m);
}

/* ---- unmounting -------------------------------------------------------------------- */

/* Undo mountinfo's octal escapes (\040 for space, ...). */
static char *
unescape_mountinfo (const char *s)
{
  GString *out = g_string_new (NULL);
  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          g_string_append_c (out, (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
          s += 3;
        }
      else
        g_string_append_c (out, *s);
    }
  return g_string_free (out, FALSE);
}

gboolean
cairn_mount_is_cairn (const char *path)
{
  g_autofree char *real = realpath (path, NULL);
  g_autofree char *info = NULL;
  if (!real || !g_file_get_contents ("/proc/self/mountinfo", &info, NULL, NULL))
    return FALSE;
  gboolean is_cairn = FALSE;
  g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", -1);
      guint n = g_strv_length (f), sep = 0;
      for (guint i = 6; i < n && !sep; i++)
        if (strcmp (f[i], "-") == 0)
          sep = i;
      if (n < 5 || !sep || sep + 1 >= n)
        continue;
      g_autofree char *mp = unescape_mountinfo (f[4]);
      if (strcmp (mp, real) == 0)
        is_cairn = strcmp (f[sep + 1], "fuse.cairn") == 0; /* the last one is on top */
    }
  return is_cairn;
}

static gboolean
fusermount (const char *mountpoint, gboolean lazy, GError **error)
{
  const char *argv[] = { "fusermount3", "-u", lazy ? "-z" : "-q", mountpoint, NULL };
  g_autofree char *err = NULL;
  int status = 0;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_strchomp (err);
      return cairn_throw (error, "fusermount3 -u %s: %s", mountpoint, err);
    }
  return TRUE;
}

gboolean
cairn_umount (const char *mountpoint, gboolean *out_lazy, GError **error)
{
  if (!cairn_mount_is_cairn (mountpoint))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "%s is not a cairn mount", mountpoint);
  gboolean lazy = FALSE;
  if (geteuid () == 0)
    {
      if (umount2 (mountpoint, UMOUNT_NOFOLLOW) < 0)
        {
          if (errno != EBUSY)
            return cairn_throw_errno (error, "umount %s", mountpoint);
          if (umount2 (mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            return cairn_throw_errno (error, "umount %s", mountpoint);
          lazy = TRUE;
        }
    }
  else if (!fusermount (mountpoint, FALSE, NULL))
    {
      if (!fusermount (mountpoint, TRUE, error))
        return FALSE;
      lazy = TRUE;
    }
  if (out_lazy)
    *out_lazy = lazy;
  return TRUE;
}
