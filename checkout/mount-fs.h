/* checkout/: internals of the FUSE view (checkout/mount*.c), shared between
 * its files only: the protocol additions, the tree's nodes, the content
 * cache, the mount itself. How they fit together is described at the top of
 * checkout/mount.c. Not an API.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once
#include "checkout/cairn-mount.h"
#include "checkout/mount-private.h"
#include <linux/fuse.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

G_BEGIN_DECLS

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
  GThread *ahead_thread;   /* read-ahead (mount_read_ahead_thread) */
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

/* A request as read from /dev/fuse: the header, then the opcode's argument. */
typedef struct
{
  CairnMount *m;
  const struct fuse_in_header *in;
  const void *arg;
  gsize arglen;
  const char *detail; /* opts.debug: said with the reply */
} Req;

/* mount-tree.c */
guint mount_csum_hash (gconstpointer p);
gboolean mount_csum_equal (gconstpointer a, gconstpointer b);
guint64 mount_file_ino (const guint8 *csum);
guint64 mount_dir_ino (guint64 parent_ino, const char *name, const guint8 *tree,
                       const guint8 *meta);
void mount_report (CairnMount *m, const char *object, const GError *error);
void mount_dirmeta_free (gpointer p);
gboolean mount_load_dir (CairnMount *m, Node *n, GError **error);
gboolean mount_node_ensure (CairnMount *m, Node *n);
Node *mount_node_new_dir (Node *parent, const guint8 *tree, const guint8 *meta, guint64 ino);
Node *mount_entry_node (CairnMount *m, Node *dir, Entry *e);
guint64 mount_node_id (CairnMount *m, Node *n);
Node *mount_id_node (CairnMount *m, guint64 id);
Entry *mount_find_entry (Node *dir, const char *name);

/* mount-ops.c */
int mount_reply_err (Req *r, int error);
int mount_reply_buf (Req *r, const void *data, gsize len);
const void *mount_req_arg (Req *r, gsize size);
void mount_op_lookup (Req *r, Node *dir);
void mount_op_getattr (Req *r, Node *n);
void mount_op_readlink (Req *r, Node *n);
void mount_op_opendir (Req *r, Node *n);
gpointer mount_read_ahead_thread (gpointer data);
void mount_op_readdir (Req *r, Node *n, gboolean plus);
void mount_op_statfs (Req *r);
void mount_op_getxattr (Req *r, Node *n);
void mount_op_listxattr (Req *r, Node *n);

/* mount-content.c */
void mount_cache_entry_unref (CacheEntry *ce);
int mount_backing_acquire (CairnMount *m, Node *n, GError **error);
void mount_op_open (Req *r, Node *n);
void mount_op_read (Req *r, guint8 *buf);
void mount_op_release (Req *r, Node *n);
void mount_op_access (Req *r);

G_END_DECLS
