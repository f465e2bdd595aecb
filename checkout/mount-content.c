/* The FUSE view's file content (checkout/mount.c describes the whole): the
 * cache of decompressed archive objects, bare objects opened for reading or
 * handed to the kernel by FUSE passthrough, and the open, read, release and
 * access requests.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "checkout/mount-fs.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- file content ---------------------------------------------------------------- */

void
mount_cache_entry_unref (CacheEntry *ce)
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
      mount_cache_entry_unref (old);
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
      mount_cache_entry_unref (ce);
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
      mount_cache_entry_unref (ce);
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
int
mount_backing_acquire (CairnMount *m, Node *n, GError **error)
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
    mount_cache_entry_unref (h->ce);
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
  mount_report (m, name, error);
}

void
mount_op_open (Req *r, Node *n)
{
  CairnMount *m = r->m;
  const struct fuse_open_in *in = mount_req_arg (r, sizeof *in);
  if (!in)
    {
      mount_reply_err (r, EINVAL);
      return;
    }
  if ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC))
    {
      mount_reply_err (r, EROFS);
      return;
    }
  if (!mount_node_ensure (m, n))
    {
      mount_reply_err (r, EIO);
      return;
    }
  if (!S_ISREG (n->st.st_mode))
    {
      mount_reply_err (r, n->is_dir ? EISDIR : ELOOP);
      return;
    }
  g_autoptr (GError) local = NULL;
  struct cairn_fuse_open_out out = { .open_flags = FOPEN_NOFLUSH };
  if (m->repo->mode != CAIRN_REPO_MODE_ARCHIVE)
    {
      int id = mount_backing_acquire (m, n, &local);
      if (id < 0)
        {
          report_open (m, n, local);
          mount_reply_err (r, EIO);
          return;
        }
      if (id > 0)
        {
          /* fh 0: mount_op_release tells the two kinds of open apart by it */
          out.open_flags |= CAIRN_FOPEN_PASSTHROUGH;
          out.backing_id = id;
          r->detail = "passthrough";
          if (mount_reply_buf (r, &out, sizeof out) == -ENOENT)
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
      mount_reply_err (r, EIO);
      return;
    }
  out.fh = (guint64)(uintptr_t)h;
  out.open_flags |= FOPEN_KEEP_CACHE;
  r->detail = "read by cairn";
  if (mount_reply_buf (r, &out, sizeof out) == -ENOENT)
    handle_free (h); /* interrupted: release never comes for this handle */
}

/* Without passthrough: the data goes through this process. */
void
mount_op_read (Req *r, guint8 *buf)
{
  const struct fuse_read_in *in = mount_req_arg (r, sizeof *in);
  Handle *h = in ? (Handle *)(uintptr_t)in->fh : NULL;
  if (!h)
    {
      mount_reply_err (r, EBADF);
      return;
    }
  ssize_t n = pread (h->fd, buf, MIN (in->size, (guint32)MAX_READ), in->offset);
  if (n < 0)
    mount_reply_err (r, errno);
  else
    mount_reply_buf (r, buf, n);
}

void
mount_op_release (Req *r, Node *n)
{
  const struct fuse_release_in *in = mount_req_arg (r, sizeof *in);
  if (in && in->fh)
    handle_free ((Handle *)(uintptr_t)in->fh);
  else if (in)
    backing_release (r->m, n);
  mount_reply_err (r, 0);
}

void
mount_op_access (Req *r)
{
  const struct fuse_access_in *in = mount_req_arg (r, sizeof *in);
  /* Permission bits are checked by the kernel (default_permissions). */
  mount_reply_err (r, in && (in->mask & W_OK) ? EROFS : 0);
}
