/* The FUSE view's requests on metadata (checkout/mount.c describes the
 * whole): the reply helpers of the protocol, lookup, getattr, readlink,
 * readdir(plus) with its read-ahead, statfs and the xattr requests.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "checkout/mount-fs.h"
#include <string.h>
#include <sys/uio.h>

/* ---- the FUSE protocol ------------------------------------------------------------- */

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

int
mount_reply_err (Req *r, int error)
{
  struct iovec iov[1];
  return reply_iov (r, error, iov, 1);
}

int
mount_reply_buf (Req *r, const void *data, gsize len)
{
  struct iovec iov[2] = { { 0 }, { (void *)data, len } };
  return reply_iov (r, 0, iov, len ? 2 : 1);
}

/* The arguments of @r as a @size-byte struct: NULL if the kernel sent less. */
const void *
mount_req_arg (Req *r, gsize size)
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
  e->nodeid = mount_node_id (m, n);
  e->entry_valid = e->attr_valid = CACHE_TIMEOUT_SECS;
  fill_attr (&e->attr, &n->st);
}

/* ---- FUSE operations: metadata ----------------------------------------------------- */

void
mount_op_lookup (Req *r, Node *dir)
{
  CairnMount *m = r->m;
  const char *name = r->arg;
  if (r->arglen == 0 || name[r->arglen - 1] != '\0')
    {
      mount_reply_err (r, EINVAL);
      return;
    }
  if (!dir->is_dir)
    {
      mount_reply_err (r, ENOTDIR);
      return;
    }
  if (!mount_node_ensure (m, dir))
    {
      mount_reply_err (r, EIO);
      return;
    }
  struct fuse_entry_out e = { 0 };
  Entry *ent = mount_find_entry (dir, name);
  if (!ent)
    {
      /* nodeid 0 with a timeout: a cached negative entry */
      e.entry_valid = CACHE_TIMEOUT_SECS;
      mount_reply_buf (r, &e, sizeof e);
      return;
    }
  Node *n = mount_entry_node (m, dir, ent);
  if (!mount_node_ensure (m, n))
    {
      mount_reply_err (r, EIO);
      return;
    }
  fill_entry (m, n, &e);
  mount_reply_buf (r, &e, sizeof e);
}

void
mount_op_getattr (Req *r, Node *n)
{
  if (!mount_node_ensure (r->m, n))
    {
      mount_reply_err (r, EIO);
      return;
    }
  struct fuse_attr_out out = { .attr_valid = CACHE_TIMEOUT_SECS };
  fill_attr (&out.attr, &n->st);
  mount_reply_buf (r, &out, sizeof out);
}

void
mount_op_readlink (Req *r, Node *n)
{
  if (!mount_node_ensure (r->m, n))
    mount_reply_err (r, EIO);
  else if (!S_ISLNK (n->st.st_mode) || !n->target)
    mount_reply_err (r, EINVAL);
  else
    mount_reply_buf (r, n->target, strlen (n->target));
}

/* Directories need no handle: ENOSYS tells the kernel (NO_OPENDIR_SUPPORT)
 * to stop sending opendir/releasedir and to cache listings (FOPEN_CACHE_DIR
 * and KEEP_CACHE are its defaults then) — two round trips less per
 * directory. Kernels without that capability get a plain open. */
void
mount_op_opendir (Req *r, Node *n)
{
  if (!n->is_dir)
    mount_reply_err (r, ENOTDIR);
  else if (!mount_node_ensure (r->m, n))
    mount_reply_err (r, EIO);
  else if (r->m->no_opendir)
    mount_reply_err (r, ENOSYS);
  else
    {
      struct fuse_open_out out = { .open_flags = FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE };
      mount_reply_buf (r, &out, sizeof out);
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
      ino = ent->meta ? ent->ino : mount_file_ino (ent->csum);
      type = entry_type (ent);
      /* A broken object gets no attributes (nodeid 0): the kernel then
       * looks it up, and that lookup fails with EIO. */
      if (plus)
        {
          Node *n = mount_entry_node (m, dir, ent);
          if (mount_node_ensure (m, n))
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
      Node *child = mount_entry_node (m, dir, e);
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

gpointer
mount_read_ahead_thread (gpointer data)
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
          gboolean ok = mount_node_ensure (m, next);
          g_mutex_lock (&m->ahead_lock);
          d = ok ? next : NULL;
          pos = 0;
          continue;
        }
      if (pos < d->n_entries)
        {
          Entry *e = &d->entries[pos++];
          g_mutex_unlock (&m->ahead_lock);
          mount_node_ensure (m, mount_entry_node (m, d, e));
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
void
mount_op_readdir (Req *r, Node *n, gboolean plus)
{
  CairnMount *m = r->m;
  const struct fuse_read_in *in = mount_req_arg (r, sizeof *in);
  if (!in)
    {
      mount_reply_err (r, EINVAL);
      return;
    }
  if (!n->is_dir)
    {
      mount_reply_err (r, ENOTDIR);
      return;
    }
  if (!mount_node_ensure (m, n))
    {
      mount_reply_err (r, EIO);
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
  mount_reply_buf (r, buf, pos);
  if (in->offset == 0)
    read_ahead_push (m, n);
}

void
mount_op_statfs (Req *r)
{
  struct fuse_statfs_out out = { 0 };
  out.st.bsize = out.st.frsize = 4096;
  out.st.namelen = 255;
  mount_reply_buf (r, &out, sizeof out);
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
      mount_reply_buf (r, &out, sizeof out);
    }
  else if (size < len)
    mount_reply_err (r, ERANGE);
  else
    mount_reply_buf (r, data, len);
}

void
mount_op_getxattr (Req *r, Node *n)
{
  const struct fuse_getxattr_in *in = mount_req_arg (r, sizeof *in);
  const char *name = (const char *)r->arg + sizeof *in;
  if (!in || r->arglen == sizeof *in || name[r->arglen - sizeof *in - 1] != '\0')
    {
      mount_reply_err (r, EINVAL);
      return;
    }
  if (!mount_node_ensure (r->m, n))
    {
      mount_reply_err (r, EIO);
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
  mount_reply_err (r, ENODATA);
}

void
mount_op_listxattr (Req *r, Node *n)
{
  const struct fuse_getxattr_in *in = mount_req_arg (r, sizeof *in);
  if (!in)
    {
      mount_reply_err (r, EINVAL);
      return;
    }
  if (!mount_node_ensure (r->m, n))
    {
      mount_reply_err (r, EIO);
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
