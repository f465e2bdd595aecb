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
 * passthrough where it allows that (mount_backing_acquire); otherwise, and
 * for archive repos, READ requests are answered here.
 *
 * The files of the view: this one holds the session (INIT, the dispatch of
 * requests, the session loop), the life cycle of a mount and unmounting;
 * mount-tree.c the nodes and the loading of metadata objects;
 * mount-ops.c the replies and the metadata requests (lookup, getattr,
 * readdir with its read-ahead, xattrs); mount-content.c the content cache,
 * passthrough and the file requests (open, read, release); mount-attach.c
 * the mount through libfuse. Their shared types are in mount-fs.h.
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
 * checks as the read path (open_bare in mount-content.c: a regular file,
 * opened O_NOFOLLOW, of the size its metadata records). Requests from the
 * kernel are checked for their size before their arguments are used.
 */
#include "config.h"
#include "checkout/mount-fs.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* ---- the session ------------------------------------------------------------------- */

/* Passthrough is an optimisation with preconditions: root (the kernel also
 * wants CAP_SYS_ADMIN in the initial user namespace: refused otherwise, see
 * mount_backing_acquire), a bare mode (archive content is decompressed into memory
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
      mount_reply_err (r, EPROTO); /* every Linux since 4.2 speaks 7.23 or later */
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
  mount_reply_buf (r, &out, sizeof out);
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
  Node *n = mount_id_node (m, r.in->nodeid);
  if (r.in->opcode != FUSE_INIT && !g_atomic_int_get (&m->initialised))
    {
      mount_reply_err (&r, EIO);
      return;
    }
  switch (r.in->opcode)
    {
    case FUSE_INIT:
      op_init (&r);
      g_atomic_int_set (&m->initialised, 1);
      break;
    case FUSE_LOOKUP:
      mount_op_lookup (&r, n);
      break;
    case FUSE_GETATTR:
      mount_op_getattr (&r, n);
      break;
    case FUSE_READLINK:
      mount_op_readlink (&r, n);
      break;
    case FUSE_OPENDIR:
      mount_op_opendir (&r, n);
      break;
    case FUSE_READDIR:
      mount_op_readdir (&r, n, FALSE);
      break;
    case FUSE_READDIRPLUS:
      mount_op_readdir (&r, n, TRUE);
      break;
    case FUSE_RELEASEDIR:
      mount_reply_err (&r, 0);
      break;
    case FUSE_STATFS:
      mount_op_statfs (&r);
      break;
    case FUSE_GETXATTR:
      mount_op_getxattr (&r, n);
      break;
    case FUSE_LISTXATTR:
      mount_op_listxattr (&r, n);
      break;
    case FUSE_OPEN:
      mount_op_open (&r, n);
      break;
    case FUSE_READ:
      mount_op_read (&r, readbuf);
      break;
    case FUSE_RELEASE:
      mount_op_release (&r, n);
      break;
    case FUSE_ACCESS:
      mount_op_access (&r);
      break;
    case FUSE_DESTROY:
      mount_reply_err (&r, 0);
      break;
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      break; /* no reply; nodes live as long as the mount, requests are short */
    default:
      mount_reply_err (&r, ENOSYS);
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
 * Loading metadata is kept off this path by mount_read_ahead_thread, long requests
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
  m->files = g_hash_table_new_full (mount_csum_hash, mount_csum_equal, NULL, node_free);
  m->dirmetas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, mount_dirmeta_free);
  m->logged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->dir_nodes = g_ptr_array_new_with_free_func (node_free);
  m->cache = g_hash_table_new (mount_csum_hash, mount_csum_equal); /* refs dropped in _free */
  g_queue_init (&m->lru);
  m->ahead = g_ptr_array_new ();
  g_mutex_init (&m->ahead_lock);
  g_cond_init (&m->ahead_cond);
  m->root = mount_node_new_dir (NULL, tree, meta, mount_dir_ino (0, "", tree, meta));
  g_ptr_array_add (m->dir_nodes, m->root);
  /* The root is loaded now: a commit whose root is broken is not mounted. */
  if (!mount_load_dir (m, m->root, error))
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
  m->ahead_thread = g_thread_new ("cairn-ahead", mount_read_ahead_thread, m);
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
    mount_cache_entry_unref (l->data);
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
      if (n < 5 || !sep || sep + 2 >= n)
        continue;
      g_autofree char *mp = unescape_mountinfo (f[4]);
      /* The last one is on top. A kernel mount (checkout/kmount.c) is an
       * overlay whose source names the commit. */
      if (strcmp (mp, real) == 0)
        is_cairn
            = strcmp (f[sep + 1], "fuse.cairn") == 0
              || (strcmp (f[sep + 1], "overlay") == 0 && g_str_has_prefix (f[sep + 2], "cairn:"));
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
