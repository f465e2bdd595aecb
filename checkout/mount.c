/* A read-only FUSE view of a commit (docs/cairn-mount.md).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The FUSE protocol (include/uapi/linux/fuse.h) is spoken here, on the
 * /dev/fuse descriptor that mount-attach.c mounted with libfuse: libfuse
 * 3.14 cannot negotiate passthrough, and one session thread answering a
 * walk's synchronous round trips beats its pool of workers (session_loop).
 * File data of bare repos is read by the kernel itself through FUSE
 * passthrough where it allows that (backing_acquire); otherwise, and for
 * archive repos, READ requests are answered here.
 *
 * A FUSE node id is the address of a Node that lives
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
 * An object is handed to the kernel for passthrough only after the same
 * checks as the read path (open_bare: a regular file, opened O_NOFOLLOW,
 * of the size its metadata records). Requests from the kernel are checked
 * for their size before their arguments are used.
 */
#include "config.h"
#include "checkout/cairn-mount.h"
#include "checkout/mount-private.h"
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Content never changes under a commit: the kernel may cache for long. */
#define CACHE_TIMEOUT_SECS (86400ull * 365)
/* Largest READ and READDIR reply (FUSE_MAX_PAGES). */
#define MAX_READ (256u << 10)

/* FUSE protocol 7.40 (Linux 6.9) as far as passthrough needs it. Debian 12's
 * <linux/fuse.h> stops at 7.38, so the additions are spelled out here with
 * the kernel's values (include/uapi/linux/fuse.h). */
#define CAIRN_FUSE_MINOR 40
#define CAIRN_FUSE_PASSTHROUGH (1ull << 37) /* init flag, in flags2 */
#define CAIRN_FOPEN_PASSTHROUGH (1u << 7)   /* open reply flag */
struct cairn_fuse_backing_map
{
  gint32 fd;
  guint32 flags;
  guint64 padding;
};
#define CAIRN_FUSE_DEV_IOC_BACKING_OPEN _IOW (229, 1, struct cairn_fuse_backing_map)
#define CAIRN_FUSE_DEV_IOC_BACKING_CLOSE _IOW (229, 2, guint32)
/* fuse_open_out: 7.40 named the padding backing_id. */
struct cairn_fuse_open_out
{
  guint64 fh;
  guint32 open_flags;
  gint32 backing_id;
};
/* fuse_init_out: 7.40 took the first unused word for max_stack_depth. */
struct cairn_fuse_init_out
{
  guint32 major, minor, max_readahead, flags;
  guint16 max_background, congestion_threshold;
  guint32 max_write, time_gran;
  guint16 max_pages, map_alignment;
  guint32 flags2, max_stack_depth;
  guint32 unused[6];
};
G_STATIC_ASSERT (sizeof (struct cairn_fuse_init_out) == sizeof (struct fuse_init_out));
G_STATIC_ASSERT (sizeof (struct cairn_fuse_open_out) == sizeof (struct fuse_open_out));
#define DEFAULT_CACHE_BYTES (256ull << 20)
#define FILE_INO_BIT (1ull << 63)

typedef struct Node Node;

typedef struct
{
  const char *name;   /* points into the dirtree's serialised data */
  const guint8 *csum; /* file: content; directory: dirtree */
  const guint8 *meta; /* directory: dirmeta; NULL for a file */
  guint64 ino;        /* directories only (files: from csum) */
  Node *node;         /* created on first lookup, under CairnMount.lock */
} Entry;

struct Node
{
  gboolean is_dir;
  guint8 csum[32]; /* file: content object; directory: dirtree */
  guint8 meta[32]; /* directory: dirmeta */
  guint64 ino;
  Node *parent;        /* directories; the root is its own parent */
  int loaded;          /* atomic: the fields below are valid */
  int verified;        /* atomic: content re-hashed (opts->verify) */
  int ahead_levels;    /* read-ahead depth it was queued with (ahead_lock) */
  int backing_id;      /* passthrough backing file or 0 (CairnMount.lock) */
  guint backing_opens; /* open files using it (CairnMount.lock) */
  struct stat st;
  GVariant *xattrs;  /* a(ayay) */
  char *target;      /* symlinks */
  GVariant *dirtree; /* directories: keeps Entry names alive */
  Entry *entries;    /* sorted by name (files and dirs merged) */
  guint n_entries;
};

typedef struct
{
  guint8 csum[32];
  GMutex lock; /* held while decompressing */
  int state;   /* 0 empty, 1 ready, -1 failed */
  int fd;      /* memfd with the content */
  guint64 size;
  gint refs;
  GList link; /* in CairnMount.lru when cached */
} CacheEntry;

typedef struct
{
  int fd;
  CacheEntry *ce;
} Handle;

struct CairnMount
{
  CairnRepo *repo;
  CairnMountOptions opts;
  char commit[65];
  GMutex lock; /* entry->node, files, dirmetas, logged */
  Node *root;
  GHashTable *files;    /* csum (32 bytes) -> Node* */
  GHashTable *dirmetas; /* hex -> DirMeta* */
  GHashTable *logged;   /* object names already reported */
  GPtrArray *dir_nodes; /* every directory Node (for freeing) */
  GMutex cache_lock;    /* cache, lru, cache_used */
  GHashTable *cache;    /* csum -> CacheEntry* */
  GQueue lru;
  guint64 cache_used;
  CairnFuseAttach *attach; /* the mount (libfuse) */
  int fuse_fd;             /* its /dev/fuse descriptor */
  int initialised;         /* atomic: INIT answered */
  int passthrough;         /* atomic: open bare objects by passthrough */
  GThreadPool *slow;       /* requests that may take long (is_slow) */
  gboolean no_opendir;     /* the kernel takes ENOSYS from opendir */
  GThread *ahead_thread;   /* read-ahead (read_ahead_thread) */
  GMutex ahead_lock;       /* ahead, Node.ahead_levels, stopping */
  GCond ahead_cond;
  GPtrArray *ahead;  /* directories to load, the next on top */
  gboolean stopping; /* read-ahead should stop */
  char *mountpoint;
  GThread *thread;
  GMutex done_lock;
  GCond done_cond;
  gboolean done;
  int loop_status;
};

typedef struct
{
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
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted %s object %s (checksum %s)",
                             what, hex, got);
  return TRUE;
}

static GVariant *
load_meta_object (CairnMount *m, CairnObjectType type, const char *hex, GError **error)
{
  g_autoptr (GVariant) v = cairn_repo_load_variant (m->repo, type, hex, error);
  if (!v
      || !check_hash (hex, g_variant_get_data (v), g_variant_get_size (v),
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
  /* As `cairn checkout` (docs/format.md §13.2): no world-write or setuid dirs from a
   * bare-user-only repository. */
  if (m->repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    tmp.mode &= ~(guint32)07002;
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
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "entry '%s' has a bad checksum",
                                 e.name);
      g_array_append_val (out, e);
    }
  return TRUE;
}

static int
entry_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Entry *)a)->name, ((const Entry *)b)->name);
}

/* Parse a dirtree into one sorted Entry array. Each list must already be
 * sorted (docs/format.md §7.2); merged, no name may repeat. */
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
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "dirtree names '%s' twice",
                                 e->name);
      if (e->meta)
        e->ino = dir_ino (self_ino, e->name, e->csum, e->meta);
    }
  *out_n = a->len;
  *out = (Entry *)g_array_free (g_steal_pointer (&a), FALSE);
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

/* bare: the object carries real xattrs; most have none, which one
 * listxattrat tells without opening it. */
static GVariant *
bare_xattrs (CairnMount *m, int dfd, const char *leaf, GError **error)
{
  if (m->repo->disable_xattrs)
    return cairn_xattrs_empty ();
  /* Without opening it (an open/close pair costs 5x a listxattrat on ext4). */
  ssize_t r = cairn_listxattrat (dfd, leaf, NULL, 0);
  if (r == 0 || (r < 0 && errno == EOPNOTSUPP))
    return cairn_xattrs_empty ();
  return cairn_xattrs_read_at (dfd, leaf, error);
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
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.file is missing", hex);
  if (!S_ISREG (st.st_mode) && !(S_ISLNK (st.st_mode) && mode != CAIRN_REPO_MODE_BARE_USER))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.file: not a "
                             "regular file%s",
                             hex, mode != CAIRN_REPO_MODE_BARE_USER ? " or symlink" : "");
  if (mode == CAIRN_REPO_MODE_BARE_USER)
    {
      guint8 buf[4096];
      ssize_t n = cairn_getxattrat (dfd, leaf, "user.ostreemeta", buf, sizeof buf);
      if (n < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
        return cairn_throw_errno (error, "corrupted object %s.file: reading user.ostreemeta", hex);
      if (n < 0)
        return TRUE; /* no getxattrat, or a large value */
      if (!cairn_parse_ostreemeta (buf, n, fi, error))
        return cairn_prefix_error (error, "corrupted object %s.file", hex);
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
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted object %s.file: mode 0%o",
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

static guint64
node_id (CairnMount *m, Node *n)
{
  return n == m->root ? FUSE_ROOT_ID : (guint64)(uintptr_t)n;
}

/* Node ids come from the kernel, which only sends ids we gave it. */
static Node *
id_node (CairnMount *m, guint64 id)
{
  return id == FUSE_ROOT_ID ? m->root : (Node *)(uintptr_t)id;
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

/* ---- the FUSE protocol ------------------------------------------------------------- */

/* A request as read from /dev/fuse: the header, then the opcode's argument. */
typedef struct
{
  CairnMount *m;
  const struct fuse_in_header *in;
  const void *arg;
  gsize arglen;
  const char *detail; /* opts.debug: said with the reply */
} Req;

static const char *
opcode_name (guint32 op)
{
  switch (op)
    {
    case FUSE_LOOKUP:
      return "LOOKUP";
    case FUSE_GETATTR:
      return "GETATTR";
    case FUSE_READLINK:
      return "READLINK";
    case FUSE_OPEN:
      return "OPEN";
    case FUSE_READ:
      return "READ";
    case FUSE_RELEASE:
      return "RELEASE";
    case FUSE_OPENDIR:
      return "OPENDIR";
    case FUSE_READDIR:
      return "READDIR";
    case FUSE_READDIRPLUS:
      return "READDIRPLUS";
    case FUSE_RELEASEDIR:
      return "RELEASEDIR";
    case FUSE_GETXATTR:
      return "GETXATTR";
    case FUSE_LISTXATTR:
      return "LISTXATTR";
    case FUSE_STATFS:
      return "STATFS";
    case FUSE_ACCESS:
      return "ACCESS";
    case FUSE_INIT:
      return "INIT";
    default:
      return "OTHER";
    }
}

/* opts.debug: one line per request through the log callback. */
static void
debug_req (Req *r, int error, const char *detail)
{
  if (!r->m->opts.debug || !r->m->opts.log)
    return;
  g_autofree char *msg = g_strdup_printf ("fuse: %s %u node %" G_GUINT64_FORMAT ": %s%s%s",
                                          opcode_name (r->in->opcode), r->in->opcode,
                                          (guint64)r->in->nodeid, error ? g_strerror (error) : "ok",
                                          detail ? ", " : "", detail ? detail : "");
  r->m->opts.log (msg, r->m->opts.log_data);
}

/* Answer @r: @iov[0] is reserved for the header, @error is a positive errno
 * or 0. Returns 0, or -errno when the kernel refused the reply (ENOENT: the
 * request was interrupted meanwhile and its reply dropped). */
static int
reply_iov (Req *r, int error, struct iovec *iov, int n)
{
  struct fuse_out_header out = { .error = -error, .unique = r->in->unique };
  gsize len = sizeof out;
  for (int i = 1; i < n; i++)
    len += iov[i].iov_len;
  out.len = len;
  iov[0].iov_base = &out;
  iov[0].iov_len = sizeof out;
  debug_req (r, error, r->detail);
  if (writev (r->m->fuse_fd, iov, n) < 0)
    return -errno;
  return 0;
}

static int
reply_err (Req *r, int error)
{
  struct iovec iov[1];
  return reply_iov (r, error, iov, 1);
}

static int
reply_buf (Req *r, const void *data, gsize len)
{
  struct iovec iov[2] = { { 0 }, { (void *)data, len } };
  return reply_iov (r, 0, iov, len ? 2 : 1);
}

/* The arguments of @r as a @size-byte struct: NULL if the kernel sent less. */
static const void *
req_arg (Req *r, gsize size)
{
  return r->arglen >= size ? r->arg : NULL;
}

static void
fill_attr (struct fuse_attr *a, const struct stat *st)
{
  memset (a, 0, sizeof *a);
  a->ino = st->st_ino;
  a->size = st->st_size;
  a->blocks = st->st_blocks;
  a->mode = st->st_mode;
  a->nlink = st->st_nlink;
  a->uid = st->st_uid;
  a->gid = st->st_gid;
  a->blksize = st->st_blksize;
}

static void
fill_entry (CairnMount *m, Node *n, struct fuse_entry_out *e)
{
  memset (e, 0, sizeof *e);
  e->nodeid = node_id (m, n);
  e->entry_valid = e->attr_valid = CACHE_TIMEOUT_SECS;
  fill_attr (&e->attr, &n->st);
}

/* ---- FUSE operations: metadata ----------------------------------------------------- */

static void
op_lookup (Req *r, Node *dir)
{
  CairnMount *m = r->m;
  const char *name = r->arg;
  if (r->arglen == 0 || name[r->arglen - 1] != '\0')
    {
      reply_err (r, EINVAL);
      return;
    }
  if (!dir->is_dir)
    {
      reply_err (r, ENOTDIR);
      return;
    }
  if (!node_ensure (m, dir))
    {
      reply_err (r, EIO);
      return;
    }
  struct fuse_entry_out e = { 0 };
  Entry *ent = find_entry (dir, name);
  if (!ent)
    {
      /* nodeid 0 with a timeout: a cached negative entry */
      e.entry_valid = CACHE_TIMEOUT_SECS;
      reply_buf (r, &e, sizeof e);
      return;
    }
  Node *n = entry_node (m, dir, ent);
  if (!node_ensure (m, n))
    {
      reply_err (r, EIO);
      return;
    }
  fill_entry (m, n, &e);
  reply_buf (r, &e, sizeof e);
}

static void
op_getattr (Req *r, Node *n)
{
  if (!node_ensure (r->m, n))
    {
      reply_err (r, EIO);
      return;
    }
  struct fuse_attr_out out = { .attr_valid = CACHE_TIMEOUT_SECS };
  fill_attr (&out.attr, &n->st);
  reply_buf (r, &out, sizeof out);
}

static void
op_readlink (Req *r, Node *n)
{
  if (!node_ensure (r->m, n))
    reply_err (r, EIO);
  else if (!S_ISLNK (n->st.st_mode) || !n->target)
    reply_err (r, EINVAL);
  else
    reply_buf (r, n->target, strlen (n->target));
}

/* Directories need no handle: ENOSYS tells the kernel (NO_OPENDIR_SUPPORT)
 * to stop sending opendir/releasedir and to cache listings (FOPEN_CACHE_DIR
 * and KEEP_CACHE are its defaults then) — two round trips less per
 * directory. Kernels without that capability get a plain open. */
static void
op_opendir (Req *r, Node *n)
{
  if (!n->is_dir)
    reply_err (r, ENOTDIR);
  else if (!node_ensure (r->m, n))
    reply_err (r, EIO);
  else if (r->m->no_opendir)
    reply_err (r, ENOSYS);
  else
    {
      struct fuse_open_out out = { .open_flags = FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE };
      reply_buf (r, &out, sizeof out);
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

/* One fuse_dirent (or fuse_direntplus with @eo) into @buf; returns its size
 * (> @avail: it did not fit and nothing was written). */
static gsize
put_dirent (char *buf, gsize avail, const char *name, guint64 ino, mode_t type, guint64 off,
            const struct fuse_entry_out *eo)
{
  gsize namelen = strlen (name);
  gsize len = FUSE_DIRENT_ALIGN ((eo ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) + namelen);
  if (len > avail)
    return len;
  memset (buf, 0, len);
  struct fuse_dirent *d = (struct fuse_dirent *)buf;
  if (eo)
    {
      struct fuse_direntplus *dp = (struct fuse_direntplus *)buf;
      dp->entry_out = *eo;
      d = &dp->dirent;
    }
  d->ino = ino;
  d->off = off;
  d->namelen = namelen;
  d->type = (type & S_IFMT) >> 12;
  memcpy (d->name, name, namelen);
  return len;
}

/* Directory entry @i (0 ".", 1 "..", then the dirtree's) into @buf. */
static gsize
add_entry (CairnMount *m, Node *dir, guint64 i, gboolean plus, char *buf, gsize avail)
{
  struct fuse_entry_out e = { 0 };
  const char *name;
  guint64 ino;
  mode_t type;
  if (i < 2)
    {
      name = i == 0 ? "." : "..";
      ino = i == 0 ? dir->ino : dir->parent->ino;
      type = S_IFDIR;
    }
  else
    {
      Entry *ent = &dir->entries[i - 2];
      name = ent->name;
      ino = ent->meta ? ent->ino : file_ino (ent->csum);
      type = entry_type (ent);
      /* A broken object gets no attributes (nodeid 0): the kernel then
       * looks it up, and that lookup fails with EIO. */
      if (plus)
        {
          Node *n = entry_node (m, dir, ent);
          if (node_ensure (m, n))
            {
              fill_entry (m, n, &e);
              type = n->st.st_mode;
            }
        }
    }
  return put_dirent (buf, avail, name, ino, type, i + 1, plus ? &e : NULL);
}

/* Read-ahead for tree walks. Listing a directory puts its subdirectories on
 * a stack (the first on top); a background thread loads them, the metadata
 * of their entries, and then their own subdirectories, depth first — the
 * order in which tar, find or cp walk a tree — so that the walk's next
 * READDIRPLUS is answered from memory while the client is still busy with
 * this one. AHEAD_LEVELS below the listed directory at most: a mount that is
 * only looked into does not load the whole tree. */
#define AHEAD_LEVELS 3

/* With ahead_lock held. */
static void
ahead_push_locked (CairnMount *m, Node *dir, int levels)
{
  for (guint i = dir->n_entries; i-- > 0;)
    {
      Entry *e = &dir->entries[i];
      if (!e->meta)
        continue;
      Node *child = entry_node (m, dir, e);
      if (child->ahead_levels < levels)
        {
          child->ahead_levels = levels;
          g_ptr_array_add (m->ahead, child);
        }
    }
}

static void
read_ahead_push (CairnMount *m, Node *dir)
{
  if (!m->ahead_thread)
    return;
  g_mutex_lock (&m->ahead_lock);
  ahead_push_locked (m, dir, AHEAD_LEVELS);
  g_cond_signal (&m->ahead_cond);
  g_mutex_unlock (&m->ahead_lock);
}

static gpointer
read_ahead_thread (gpointer data)
{
  CairnMount *m = data;
  Node *d = NULL;
  guint pos = 0;
  g_mutex_lock (&m->ahead_lock);
  while (!m->stopping)
    {
      if (!d && m->ahead->len == 0)
        {
          g_cond_wait (&m->ahead_cond, &m->ahead_lock);
          continue;
        }
      if (!d)
        {
          Node *next = g_ptr_array_steal_index (m->ahead, m->ahead->len - 1);
          g_mutex_unlock (&m->ahead_lock);
          gboolean ok = node_ensure (m, next);
          g_mutex_lock (&m->ahead_lock);
          d = ok ? next : NULL;
          pos = 0;
          continue;
        }
      if (pos < d->n_entries)
        {
          Entry *e = &d->entries[pos++];
          g_mutex_unlock (&m->ahead_lock);
          node_ensure (m, entry_node (m, d, e));
          g_mutex_lock (&m->ahead_lock);
          continue;
        }
      if (d->ahead_levels > 1)
        ahead_push_locked (m, d, d->ahead_levels - 1);
      d = NULL;
    }
  g_mutex_unlock (&m->ahead_lock);
  return NULL;
}

/* READDIRPLUS is always used when the kernel can (without AUTO): a tree walk
 * (tar, find, ls -l) then needs no lookup per entry, one request per
 * directory instead. */
static void
op_readdir (Req *r, Node *n, gboolean plus)
{
  CairnMount *m = r->m;
  const struct fuse_read_in *in = req_arg (r, sizeof *in);
  if (!in)
    {
      reply_err (r, EINVAL);
      return;
    }
  if (!n->is_dir)
    {
      reply_err (r, ENOTDIR);
      return;
    }
  if (!node_ensure (m, n))
    {
      reply_err (r, EIO);
      return;
    }
  gsize size = MIN (in->size, (gsize)MAX_READ);
  g_autofree char *buf = g_malloc (size);
  gsize pos = 0;
  for (guint64 i = in->offset; i < (guint64)n->n_entries + 2; i++)
    {
      gsize len = add_entry (m, n, i, plus, buf + pos, size - pos);
      if (len > size - pos)
        break;
      pos += len;
    }
  reply_buf (r, buf, pos);
  if (in->offset == 0)
    read_ahead_push (m, n);
}

static void
op_statfs (Req *r)
{
  struct fuse_statfs_out out = { 0 };
  out.st.bsize = out.st.frsize = 4096;
  out.st.namelen = 255;
  reply_buf (r, &out, sizeof out);
}

/* ---- xattrs ------------------------------------------------------------------------ */

/* Reply to GETXATTR/LISTXATTR: the size alone when the caller asked for it
 * (@size 0), ERANGE when its buffer is too small. */
static void
reply_xattr (Req *r, guint32 size, const void *data, gsize len)
{
  if (size == 0)
    {
      struct fuse_getxattr_out out = { .size = len };
      reply_buf (r, &out, sizeof out);
    }
  else if (size < len)
    reply_err (r, ERANGE);
  else
    reply_buf (r, data, len);
}

static void
op_getxattr (Req *r, Node *n)
{
  const struct fuse_getxattr_in *in = req_arg (r, sizeof *in);
  const char *name = (const char *)r->arg + sizeof *in;
  if (!in || r->arglen == sizeof *in || name[r->arglen - sizeof *in - 1] != '\0')
    {
      reply_err (r, EINVAL);
      return;
    }
  if (!node_ensure (r->m, n))
    {
      reply_err (r, EIO);
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
      reply_xattr (r, in->size, val, vl);
      return;
    }
  reply_err (r, ENODATA);
}

static void
op_listxattr (Req *r, Node *n)
{
  const struct fuse_getxattr_in *in = req_arg (r, sizeof *in);
  if (!in)
    {
      reply_err (r, EINVAL);
      return;
    }
  if (!node_ensure (r->m, n))
    {
      reply_err (r, EIO);
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
  reply_xattr (r, in->size, names->str, names->len);
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

/* Re-hash a regular file's content against its object name (docs/format.md §5.2). */
static gboolean
verify_content (Node *n, int fd, const char *hex, GError **error)
{
  gsize len = n->st.st_size;
  void *map = len ? mmap (NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  if (map == MAP_FAILED)
    return cairn_throw_errno (error, "mmap");
  CairnFileInfo fi = { .uid = n->st.st_uid,
                       .gid = n->st.st_gid,
                       .mode = n->st.st_mode,
                       .size = len,
                       .xattrs = n->xattrs };
  g_autofree char *got = cairn_content_checksum (&fi, map, len);
  if (map)
    munmap (map, len);
  if (strcmp (got, hex) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.file: content hashes to %s", hex, got);
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
  if (fd < 0 || fi.size != (guint64)n->st.st_size)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted object %s.filez: content size differs from its header",
                             hex);
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
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                        "corrupted object %s.file: not a regular "
                        "file of %" G_GINT64_FORMAT " bytes",
                        hex, (gint64)n->st.st_size);
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
/* ---- FUSE passthrough ------------------------------------------------------------ */

/* The kernel reads a bare object itself: the open reply names a backing file
 * registered on /dev/fuse, and READ (and mmap) never reach this process. A
 * node has one backing file while it is open, registered by its first open
 * and closed by its last release (each open file holds its own reference in
 * the kernel; an idle mount pins no object). Registering needs
 * CAP_SYS_ADMIN in the initial user namespace; when the kernel refuses,
 * passthrough is off for the rest of the mount and opens take the read path.
 * A node already open by passthrough keeps it (the kernel does not let one
 * inode be open both ways). Returns the backing id, 0 for "use the read
 * path", -1 when the object is broken. */
static int
backing_acquire (CairnMount *m, Node *n, GError **error)
{
  g_mutex_lock (&m->lock);
  int id = n->backing_id;
  if (id > 0)
    n->backing_opens++;
  g_mutex_unlock (&m->lock);
  if (id > 0 || !g_atomic_int_get (&m->passthrough))
    return id;
  cairn_autofd fd = open_bare (m, n, error);
  if (fd < 0)
    return -1;
  struct cairn_fuse_backing_map map = { .fd = fd };
  id = ioctl (m->fuse_fd, CAIRN_FUSE_DEV_IOC_BACKING_OPEN, &map);
  if (id <= 0)
    {
      int e = errno;
      if (g_atomic_int_compare_and_exchange (&m->passthrough, 1, 0) && m->opts.log && m->opts.debug)
        {
          g_autofree char *msg = g_strdup_printf ("fuse: passthrough refused by the kernel (%s): "
                                                  "file data is read by cairn",
                                                  g_strerror (e));
          m->opts.log (msg, m->opts.log_data);
        }
      return 0;
    }
  g_mutex_lock (&m->lock);
  guint32 extra = 0;
  if (n->backing_id > 0)
    {
      extra = id; /* another open registered it meanwhile */
      id = n->backing_id;
    }
  n->backing_id = id;
  n->backing_opens++;
  g_mutex_unlock (&m->lock);
  if (extra)
    (void)ioctl (m->fuse_fd, CAIRN_FUSE_DEV_IOC_BACKING_CLOSE, &extra);
  return id;
}

static void
backing_release (CairnMount *m, Node *n)
{
  guint32 id = 0;
  g_mutex_lock (&m->lock);
  if (n->backing_opens > 0 && --n->backing_opens == 0)
    {
      id = n->backing_id;
      n->backing_id = 0;
    }
  g_mutex_unlock (&m->lock);
  if (id)
    (void)ioctl (m->fuse_fd, CAIRN_FUSE_DEV_IOC_BACKING_CLOSE, &id);
}

/* ---- FUSE operations: file content ------------------------------------------------- */

static void
handle_free (Handle *h)
{
  if (h->ce)
    cache_entry_unref (h->ce);
  else
    close (h->fd);
  g_free (h);
}

static void
report_open (CairnMount *m, Node *n, const GError *error)
{
  char hex[65];
  cairn_checksum_to_hex (n->csum, hex);
  g_autofree char *name = g_strdup_printf ("%s.file", hex);
  report (m, name, error);
}

static void
op_open (Req *r, Node *n)
{
  CairnMount *m = r->m;
  const struct fuse_open_in *in = req_arg (r, sizeof *in);
  if (!in)
    {
      reply_err (r, EINVAL);
      return;
    }
  if ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC))
    {
      reply_err (r, EROFS);
      return;
    }
  if (!node_ensure (m, n))
    {
      reply_err (r, EIO);
      return;
    }
  if (!S_ISREG (n->st.st_mode))
    {
      reply_err (r, n->is_dir ? EISDIR : ELOOP);
      return;
    }
  g_autoptr (GError) local = NULL;
  struct cairn_fuse_open_out out = { .open_flags = FOPEN_NOFLUSH };
  if (m->repo->mode != CAIRN_REPO_MODE_ARCHIVE)
    {
      int id = backing_acquire (m, n, &local);
      if (id < 0)
        {
          report_open (m, n, local);
          reply_err (r, EIO);
          return;
        }
      if (id > 0)
        {
          /* fh 0: op_release tells the two kinds of open apart by it */
          out.open_flags |= CAIRN_FOPEN_PASSTHROUGH;
          out.backing_id = id;
          r->detail = "passthrough";
          if (reply_buf (r, &out, sizeof out) == -ENOENT)
            backing_release (m, n); /* interrupted: no release comes */
          return;
        }
    }
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
      report_open (m, n, local);
      g_free (h);
      reply_err (r, EIO);
      return;
    }
  out.fh = (guint64)(uintptr_t)h;
  out.open_flags |= FOPEN_KEEP_CACHE;
  r->detail = "read by cairn";
  if (reply_buf (r, &out, sizeof out) == -ENOENT)
    handle_free (h); /* interrupted: release never comes for this handle */
}

/* Without passthrough: the data goes through this process. */
static void
op_read (Req *r, guint8 *buf)
{
  const struct fuse_read_in *in = req_arg (r, sizeof *in);
  Handle *h = in ? (Handle *)(uintptr_t)in->fh : NULL;
  if (!h)
    {
      reply_err (r, EBADF);
      return;
    }
  ssize_t n = pread (h->fd, buf, MIN (in->size, (guint32)MAX_READ), in->offset);
  if (n < 0)
    reply_err (r, errno);
  else
    reply_buf (r, buf, n);
}

static void
op_release (Req *r, Node *n)
{
  const struct fuse_release_in *in = req_arg (r, sizeof *in);
  if (in && in->fh)
    handle_free ((Handle *)(uintptr_t)in->fh);
  else if (in)
    backing_release (r->m, n);
  reply_err (r, 0);
}

static void
op_access (Req *r)
{
  const struct fuse_access_in *in = req_arg (r, sizeof *in);
  /* Permission bits are checked by the kernel (default_permissions). */
  reply_err (r, in && (in->mask & W_OK) ? EROFS : 0);
}

/* ---- the session ------------------------------------------------------------------- */

/* Passthrough is an optimisation with preconditions: root (the kernel also
 * wants CAP_SYS_ADMIN in the initial user namespace: refused otherwise, see
 * backing_acquire), a bare mode (archive content is decompressed into memory
 * we bound ourselves), no --verify (content is hashed on first open by the
 * read path), and not disabled with CAIRN_MOUNT_NO_PASSTHROUGH=1. */
static const char *
passthrough_blocker (CairnMount *m)
{
  if (g_strcmp0 (g_getenv ("CAIRN_MOUNT_NO_PASSTHROUGH"), "1") == 0)
    return "CAIRN_MOUNT_NO_PASSTHROUGH=1";
  if (m->repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    return "archive repository";
  if (m->opts.verify)
    return "--verify";
  if (geteuid () != 0)
    return "not root";
  return NULL;
}

static void
op_init (Req *r)
{
  CairnMount *m = r->m;
  struct fuse_init_in in = { 0 };
  memcpy (&in, r->arg, MIN (r->arglen, sizeof in));
  struct cairn_fuse_init_out out = { .major = FUSE_KERNEL_VERSION };
  if (in.major != FUSE_KERNEL_VERSION || in.minor < 23)
    {
      reply_err (r, EPROTO); /* every Linux since 4.2 speaks 7.23 or later */
      return;
    }
  guint64 flags = in.flags;
  if (flags & FUSE_INIT_EXT)
    flags |= (guint64)in.flags2 << 32;
  guint64 want = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_PARALLEL_DIROPS | FUSE_CACHE_SYMLINKS
                 | FUSE_NO_OPENDIR_SUPPORT | FUSE_MAX_PAGES | FUSE_INIT_EXT;
  const char *blocker = passthrough_blocker (m);
  if (!blocker)
    want |= CAIRN_FUSE_PASSTHROUGH;
  else if (!(flags & CAIRN_FUSE_PASSTHROUGH))
    blocker = "the kernel cannot";
  guint64 got = flags & want;
  m->no_opendir = (got & FUSE_NO_OPENDIR_SUPPORT) != 0;
  g_atomic_int_set (&m->passthrough, (got & CAIRN_FUSE_PASSTHROUGH) != 0);
  out.minor = MIN (in.minor, CAIRN_FUSE_MINOR);
  out.max_readahead = in.max_readahead;
  out.flags = (guint32)got;
  out.flags2 = (guint32)(got >> 32);
  out.max_background = 16;
  out.congestion_threshold = 12;
  out.max_write = 4096; /* nothing is ever written */
  out.time_gran = 1;
  out.max_pages = MAX_READ / 4096;
  /* Our backing files are on a plain file system (depth 0): the mount sits
   * one level above it, leaving room for an overlay on top. */
  out.max_stack_depth = (got & CAIRN_FUSE_PASSTHROUGH) ? 1 : 0;
  reply_buf (r, &out, sizeof out);
  if ((m->opts.debug || m->opts.verbose) && m->opts.log)
    {
      g_autofree char *msg = g_strdup_printf (
          "fuse: protocol 7.%u, file data: %s%s%s", out.minor,
          g_atomic_int_get (&m->passthrough) ? "kernel passthrough" : "read by cairn",
          blocker ? " — passthrough off: " : "", blocker ? blocker : "");
      m->opts.log (msg, m->opts.log_data);
    }
}

/* Requests that may take long (decompressing or hashing a whole file) run
 * in a pool so that the session loop keeps answering everything else. */
static gboolean
is_slow (CairnMount *m, const struct fuse_in_header *in)
{
  return in->opcode == FUSE_OPEN && (m->repo->mode == CAIRN_REPO_MODE_ARCHIVE || m->opts.verify);
}

static void
dispatch (CairnMount *m, const guint8 *data, gsize len, guint8 *readbuf)
{
  Req r = { .m = m,
            .in = (const struct fuse_in_header *)data,
            .arg = data + sizeof *r.in,
            .arglen = len - sizeof *r.in };
  Node *n = id_node (m, r.in->nodeid);
  if (r.in->opcode != FUSE_INIT && !g_atomic_int_get (&m->initialised))
    {
      reply_err (&r, EIO);
      return;
    }
  switch (r.in->opcode)
    {
    case FUSE_INIT:
      op_init (&r);
      g_atomic_int_set (&m->initialised, 1);
      break;
    case FUSE_LOOKUP:
      op_lookup (&r, n);
      break;
    case FUSE_GETATTR:
      op_getattr (&r, n);
      break;
    case FUSE_READLINK:
      op_readlink (&r, n);
      break;
    case FUSE_OPENDIR:
      op_opendir (&r, n);
      break;
    case FUSE_READDIR:
      op_readdir (&r, n, FALSE);
      break;
    case FUSE_READDIRPLUS:
      op_readdir (&r, n, TRUE);
      break;
    case FUSE_RELEASEDIR:
      reply_err (&r, 0);
      break;
    case FUSE_STATFS:
      op_statfs (&r);
      break;
    case FUSE_GETXATTR:
      op_getxattr (&r, n);
      break;
    case FUSE_LISTXATTR:
      op_listxattr (&r, n);
      break;
    case FUSE_OPEN:
      op_open (&r, n);
      break;
    case FUSE_READ:
      op_read (&r, readbuf);
      break;
    case FUSE_RELEASE:
      op_release (&r, n);
      break;
    case FUSE_ACCESS:
      op_access (&r);
      break;
    case FUSE_DESTROY:
      reply_err (&r, 0);
      break;
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      break; /* no reply; nodes live as long as the mount, requests are short */
    default:
      reply_err (&r, ENOSYS);
      break;
    }
}

static void
slow_request (gpointer data, gpointer user_data)
{
  GBytes *req = data;
  gsize len;
  const guint8 *p = g_bytes_get_data (req, &len);
  dispatch (user_data, p, len, NULL);
  g_bytes_unref (req);
}

/* Set by the signal handler of cairn_mount_serve. */
static volatile sig_atomic_t exit_signal;

/* The session loop: one thread reads and answers every request. A tree walk
 * is a chain of synchronous round trips; handing each request to another
 * thread added a wake-up per round trip (libfuse's worker pool), and
 * polling for the next request instead of sleeping measured slower on a
 * 2-CPU VM (the poller competes with the client and the read-ahead thread).
 * Loading metadata is kept off this path by read_ahead_thread, long requests
 * go to the slow pool (is_slow). Returns 0 when the file system is gone
 * (unmounted, connection aborted), 1 on a signal, -errno on failure. */
static int
session_loop (CairnMount *m, gboolean signals)
{
  gsize bufsize = sizeof (struct fuse_in_header) + sizeof (struct fuse_write_in) + 65536 + 4096;
  g_autofree guint8 *buf = g_malloc (bufsize);
  g_autofree guint8 *readbuf = g_malloc (MAX_READ);
  for (;;)
    {
      if (signals && exit_signal)
        return 1;
      ssize_t n = read (m->fuse_fd, buf, bufsize);
      if (n < 0)
        {
          int e = errno;
          if (e == EINTR || e == ENOENT) /* ENOENT: the request was interrupted */
            continue;
          if (e == ENODEV) /* unmounted, or the connection was aborted */
            return 0;
          return -e;
        }
      if ((gsize)n < sizeof (struct fuse_in_header))
        continue;
      const struct fuse_in_header *in = (const struct fuse_in_header *)buf;
      if (in->len != (gsize)n)
        continue;
      if (is_slow (m, in))
        g_thread_pool_push (m->slow, g_bytes_new (buf, n), NULL);
      else
        dispatch (m, buf, n, readbuf);
    }
}

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
cairn_mount_new (CairnRepo *repo, const char *commit, const CairnMountOptions *opts, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_validate_checksum_string (commit, error)
      || !cairn_repo_load_commit (repo, commit, &c, error))
    return NULL;
  guint8 tree[32], meta[32];
  if (!cairn_checksum_from_hex (c.root_tree, tree) || !cairn_checksum_from_hex (c.root_meta, meta))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "commit %s: bad root checksums",
                             commit),
           NULL;
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
  m->ahead = g_ptr_array_new ();
  g_mutex_init (&m->ahead_lock);
  g_cond_init (&m->ahead_cond);
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
  g_autofree char *o = g_strdup_printf (
      "ro,default_permissions,fsname=cairn:%.12s,subtype=cairn%s%s", m->commit,
      m->opts.allow_other ? ",allow_other" : "", m->opts.suid ? ",suid" : ",nosuid,nodev");
  g_return_val_if_fail (m->attach == NULL, FALSE);
  /* Absolute: a daemonised server changes to / and unmounts by this path. */
  g_autofree char *abs = realpath (mountpoint, NULL);
  if (!abs)
    return cairn_throw_errno (error, "mount point %s", mountpoint);
  int fd = -1;
  m->attach = cairn_fuse_attach (abs, o, &fd, error);
  if (!m->attach)
    return FALSE;
  m->fuse_fd = fd;
  m->mountpoint = g_steal_pointer (&abs);
  return TRUE;
}

static void
start_threads (CairnMount *m)
{
  /* Started here, in the process that serves (cairn mount forks after
   * attaching): threads do not survive a fork. They block every signal
   * (inherited): a signal for the server interrupts the session loop. */
  sigset_t all, saved;
  /* The process may have just forked, which sizes the descriptor table to
   * the descriptors open; the objects/XX directories cached while serving
   * (up to 256) would grow it again with threads running, each doubling
   * waiting for an RCU grace period, in the middle of a request. */
  cairn_reserve_fd_table ();
  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &saved);
  m->ahead_thread = g_thread_new ("cairn-ahead", read_ahead_thread, m);
  m->slow = g_thread_pool_new (slow_request, m, m->opts.max_threads ? m->opts.max_threads : 4,
                               FALSE, NULL);
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
}

/* No SA_RESTART: the session loop's read() returns EINTR and sees the flag. */
static void
on_exit_signal (int sig)
{
  (void)sig;
  exit_signal = 1;
}

gboolean
cairn_mount_serve (CairnMount *m, GError **error)
{
  g_return_val_if_fail (m->attach != NULL, FALSE);
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa = { .sa_handler = on_exit_signal }, old[G_N_ELEMENTS (sigs)];
  sigset_t set, saved;
  exit_signal = 0;
  sigemptyset (&sa.sa_mask);
  sigemptyset (&set);
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++)
    {
      sigaction (sigs[i], &sa, &old[i]);
      sigaddset (&set, sigs[i]);
    }
  start_threads (m);
  pthread_sigmask (SIG_UNBLOCK, &set, &saved);
  int r = session_loop (m, TRUE);
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++)
    sigaction (sigs[i], &old[i], NULL);
  cairn_fuse_detach (m->attach);
  if (r < 0)
    return cairn_throw_errno_value (error, -r, "mount %s: serving requests", m->mountpoint);
  return TRUE;
}

static gpointer
loop_thread (gpointer data)
{
  CairnMount *m = data;
  int r = session_loop (m, FALSE);
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
  g_return_val_if_fail (m->attach != NULL && m->thread == NULL, FALSE);
  start_threads (m);
  /* Signals are the caller's business (cli/run-mount.c forwards them): the
   * threads started here block them all. */
  sigset_t all, saved;
  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &saved);
  m->thread = g_thread_try_new ("cairn-mount", loop_thread, m, error);
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  return m->thread != NULL;
}

gboolean
cairn_mount_stop (CairnMount *m, guint timeout_ms)
{
  if (!m->attach)
    return TRUE;
  /* Detach: the kernel ends the connection once the last user is gone,
   * which ends the session loop (ENODEV). */
  cairn_fuse_detach (m->attach);
  if (m->thread)
    {
      gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
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
  /* Slow requests still running reply on the descriptor: finish them first. */
  if (m->slow)
    g_thread_pool_free (g_steal_pointer (&m->slow), FALSE, TRUE);
  g_clear_pointer (&m->attach, cairn_fuse_attach_free);
  return TRUE;
}

void
cairn_mount_free (CairnMount *m)
{
  if (!m)
    return;
  if (m->attach && !cairn_mount_stop (m, 5000))
    return; /* still serving: leak rather than free under the workers */
  if (m->ahead_thread)
    {
      g_mutex_lock (&m->ahead_lock);
      m->stopping = TRUE;
      g_cond_signal (&m->ahead_cond);
      g_mutex_unlock (&m->ahead_lock);
      g_thread_join (g_steal_pointer (&m->ahead_thread));
    }
  g_clear_pointer (&m->ahead, g_ptr_array_unref);
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
  g_mutex_clear (&m->ahead_lock);
  g_cond_clear (&m->ahead_cond);
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
          g_string_append_c (out, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
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
  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
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
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "%s is not a cairn mount",
                             mountpoint);
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
