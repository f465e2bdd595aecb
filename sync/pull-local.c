/* Local transport: a repository on this machine (a path or file:// URL).
 *
 * The source's dirtrees are walked in this thread; missing content objects
 * are imported by the sink's workers. Every object is verified against its
 * name first. When both repositories have the same bare-family mode and sit
 * on one filesystem, a verified content object is hardlinked — through the
 * very fd that was hashed (/proc/self/fd), so a name swapped after the
 * check cannot slip in — else it is copied or converted (archive <-> bare
 * modes) by the ordinary verified write.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <openssl/evp.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define HASH_MMAP_MIN (128u << 10)
#define HASH_MMAP_WINDOW (4u << 20) /* a multiple of the page size */

typedef struct
{
  CairnPullTransport base;
  CairnRepo *src;
  gboolean can_link; /* decided per pull: same mode, same device */
} Local;

static gboolean
local_fetch_file (CairnPullTransport *t, const char *relpath, gsize max_size, GBytes **out_data,
                  GError **error)
{
  Local *l = (Local *)t;
  g_autoptr (GError) local = NULL;
  GBytes *b = cairn_file_get_contents_at (l->src->repo_dfd, relpath, max_size, &local);
  if (!b && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return cairn_prefix_error (error, "%s/%s", l->src->path, relpath);
    }
  *out_data = b;
  return TRUE;
}

static GHashTable *
local_list_refs (CairnPullTransport *t, GError **error)
{
  Local *l = (Local *)t;
  return cairn_repo_list_refs (l->src, NULL, FALSE, error);
}

/* ---- content import (worker threads) ----------------------------------------------- */

/* Content objects are handed to the workers in batches (one wake-up per
 * batch instead of per object: thousands fewer context switches). */
#define IMPORT_BATCH 32

typedef struct
{
  Local *l;
  guint n;
  char checksums[IMPORT_BATCH][65];
} ImportJob;

/* Hashing from a mapping: a file truncated meanwhile (an object hardlinked
 * into a checkout and edited in place) would raise SIGBUS. The handler
 * jumps back into the hashing thread, which reports the object as changed;
 * a SIGBUS anywhere else keeps its default action. */
static __thread sigjmp_buf hash_jmp;
static __thread volatile sig_atomic_t hash_guarded;
static struct sigaction sigbus_previous;

static void
on_sigbus (int sig, siginfo_t *si, void *ctx)
{
  if (hash_guarded)
    siglongjmp (hash_jmp, 1);
  sigaction (SIGBUS, &sigbus_previous, NULL);
  raise (sig);
}

static gboolean
sigbus_guard_ready (void)
{
  static gsize once;
  static gboolean ok;
  if (g_once_init_enter (&once))
    {
      struct sigaction sa = { 0 };
      sa.sa_sigaction = on_sigbus;
      sa.sa_flags = SA_SIGINFO | SA_NODEFER;
      sigemptyset (&sa.sa_mask);
      ok = sigaction (SIGBUS, &sa, &sigbus_previous) == 0;
      g_once_init_leave (&once, 1);
    }
  return ok;
}

/* FALSE if a SIGBUS interrupted the hashing (@md is then unusable). */
static gboolean
hash_mapped (EVP_MD_CTX *md, const void *p, gsize n)
{
  if (sigsetjmp (hash_jmp, 0) != 0)
    {
      hash_guarded = FALSE;
      return FALSE;
    }
  hash_guarded = TRUE;
  EVP_DigestUpdate (md, p, n);
  hash_guarded = FALSE;
  return TRUE;
}

/* SHA-256 of the §5.2 checksum form: header of @fi, then @fd's bytes from 0. */
static gboolean
hash_content_fd (const CairnFileInfo *fi, int fd, char out_hex[65], guint64 *out_size,
                 GError **error)
{
  g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (md, cairn_sha256 (), NULL);
  EVP_DigestUpdate (md, g_bytes_get_data (prefixed, NULL), g_bytes_get_size (prefixed));
  static GPrivate buf_key = G_PRIVATE_INIT (g_free); /* one buffer per worker */
  guint8 *buf = g_private_get (&buf_key);
  if (!buf)
    g_private_set (&buf_key, buf = g_malloc (1 << 18));
  guint64 off = 0;
  /* Larger objects are hashed from a mapping of the page cache (no copy
   * into a buffer); EOF is still confirmed by the read loop below. */
  while (S_ISREG (fi->mode) && fi->size >= HASH_MMAP_MIN && off < fi->size && sigbus_guard_ready ())
    {
      /* in windows: the mapped pages count as our memory while mapped */
      gsize n = MIN (fi->size - off, HASH_MMAP_WINDOW);
      void *p = mmap (NULL, n, PROT_READ, MAP_SHARED, fd, off);
      if (p == MAP_FAILED)
        break; /* the read loop takes over from off */
      (void)madvise (p, n, MADV_SEQUENTIAL);
      gboolean cut = !hash_mapped (md, p, n); /* the file shrank under the mapping */
      munmap (p, n);
      if (cut)
        {
          EVP_MD_CTX_free (md);
          return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                   "the object changed while it was read");
        }
      off += n;
    }
  /* A bare-user symlink's object file holds the target, which the header
   * already carries: the checksum form has no content after it. */
  while (S_ISREG (fi->mode))
    {
      /* Asking for one byte more than the expected rest: a shorter read
       * of a regular file is its end, so no extra read confirms EOF. */
      gsize want = 1 << 18;
      if (fi->size >= off && fi->size - off < want)
        want = fi->size - off + 1;
      ssize_t n = pread (fd, buf, want, off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          EVP_MD_CTX_free (md);
          return cairn_throw_errno (error, "reading");
        }
      if (n == 0)
        break;
      EVP_DigestUpdate (md, buf, n);
      off += n;
      if ((gsize)n < want)
        break;
    }
  guint8 raw[32];
  EVP_DigestFinal_ex (md, raw, NULL);
  EVP_MD_CTX_free (md);
  cairn_checksum_to_hex (raw, out_hex);
  *out_size = off;
  return TRUE;
}

/* Link the inode behind @fd into objects/ as @checksum of @type.
 *
 * Straight into objects/XX, not the transaction's staging directory: the
 * inode is the source's, complete and already on disk, and its content has
 * just been verified, so the name may appear at once. The transaction's
 * syncfs() before any ref is written makes the new names durable; a crash
 * before that loses only names, never leaves a wrong object. This saves one
 * rename per object at commit time.
 * FALSE with *out_linked FALSE (no error) when the kernel refuses the link
 * (cross-device, protected_hardlinks): the caller copies instead. */
static gboolean
link_verified_fd (CairnTxn *txn, int fd, CairnObjectType type, const char *checksum,
                  gboolean *out_linked, GError **error)
{
  *out_linked = FALSE;
  int sub = cairn_repo_objdir_fd (cairn_txn_get_repo (txn), checksum, TRUE, error);
  if (sub < 0)
    return FALSE;
  g_autofree char *leaf = cairn_object_leaf (checksum, type, cairn_txn_get_repo (txn)->mode);
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH and spares the /proc lookup;
   * without it the kernel says ENOENT and /proc/self/fd is used. */
  static gint empty_path_ok = 1;
  int r = -1;
  if (g_atomic_int_get (&empty_path_ok))
    {
      r = linkat (fd, "", sub, leaf, AT_EMPTY_PATH);
      if (r < 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL))
        g_atomic_int_set (&empty_path_ok, 0);
    }
  if (r < 0 && !g_atomic_int_get (&empty_path_ok))
    {
      char proc[40];
      g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
      r = linkat (AT_FDCWD, proc, sub, leaf, AT_SYMLINK_FOLLOW);
    }
  if (r < 0)
    {
      if (errno == EEXIST)
        *out_linked = TRUE;
      else if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOENT)
        return cairn_throw_errno (error, "linking object %s.%s", checksum,
                                  cairn_object_type_to_string (type));
      return TRUE;
    }
  *out_linked = TRUE;
  if (type == CAIRN_OBJECT_FILE)
    {
      cairn_txn_count_content_written (txn);
    }
  return TRUE;
}

static gboolean
import_one (CairnPullSink *sink, ImportJob *j, const char *checksum, GError **error)
{
  CairnTxn *txn = _cairn_pull_sink_txn (sink);
  g_auto (CairnFileInfo) fi = { 0 };
  cairn_autofd fd = -1;
  /* Bare-user objects of symlinks are regular files too: linkable. */
  gboolean ok;
  if (j->l->can_link && j->l->src->mode == CAIRN_REPO_MODE_BARE_USER)
    ok = (fd = cairn_repo_open_bare_user_file (j->l->src, checksum, &fi, error)) >= 0;
  else
    ok = cairn_repo_load_file (j->l->src, checksum, &fd, &fi, error);
  if (!ok)
    return cairn_prefix_error (error, "%s", j->l->src->path);
  char hex[65];
  guint64 size = 0;
  if (j->l->can_link && fd >= 0 && (S_ISREG (fi.mode) || S_ISLNK (fi.mode)))
    {
      gboolean linked = FALSE;
      if (!hash_content_fd (&fi, fd, hex, &size, error))
        return cairn_prefix_error (error, "object %s", checksum);
      if (strcmp (hex, checksum) != 0)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: Corrupted file object %s: its content hashes to %s",
                                 j->l->src->path, checksum, hex);
      if (!link_verified_fd (txn, fd, CAIRN_OBJECT_FILE, checksum, &linked, error))
        return FALSE;
      if (linked)
        {
          _cairn_pull_sink_count_fetched (sink, size);
          return TRUE;
        }
      if (S_ISLNK (fi.mode))
        cairn_close_fdp (&fd); /* written from fi alone */
    }
  g_autofree char *out = NULL;
  if (!cairn_txn_write_content (txn, &fi, fd, checksum, &out, error))
    return cairn_prefix_error (error, "%s: object %s", j->l->src->path, checksum);
  _cairn_pull_sink_count_fetched (sink, fi.size);
  return TRUE;
}

static gboolean
import_content (CairnPullSink *sink, gpointer data, GError **error)
{
  ImportJob *j = data;
  for (guint i = 0; i < j->n; i++)
    if (!import_one (sink, j, j->checksums[i], error))
      return FALSE;
  return TRUE;
}

/* ---- the walk (this thread) ---------------------------------------------------------- */

typedef struct
{
  Local *l;
  CairnPullSession *s;
  GHashTable *queued;  /* content objects handed to the pool */
  GHashTable *scanned; /* dirtrees walked */
  GHashTable *metas;   /* dirmeta objects handled */
  /* objects/XX directories the destination lacked when the walk began: a
   * content object under one cannot have been present, so its check is
   * skipped (one whose name appears meanwhile is met by the link's EEXIST). */
  guint8 absent_dirs[32];
  ImportJob *batch; /* being filled */
} Walk;

static void
note_absent_dirs (Walk *w)
{
  CairnRepo *dst = w->s->repo;
  for (int i = 0; i < 256; i++)
    {
      char sub[3];
      struct stat st;
      g_snprintf (sub, sizeof sub, "%02x", i);
      if (fstatat (dst->objects_dfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT
          && (dst->staging_dfd < 0 || dst->staging_dfd == dst->objects_dfd
              || (fstatat (dst->staging_dfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0
                  && errno == ENOENT)))
        w->absent_dirs[i / 8] |= 1u << (i % 8);
    }
}

static gboolean
in_absent_dir (Walk *w, const char *checksum)
{
  int i = (g_ascii_xdigit_value (checksum[0]) << 4) | g_ascii_xdigit_value (checksum[1]);
  return (w->absent_dirs[i / 8] & (1u << (i % 8))) != 0;
}

static gboolean
content_present (Walk *w, const char *checksum)
{
  if (in_absent_dir (w, checksum))
    return FALSE;
  return cairn_repo_object_exists (w->s->repo, CAIRN_OBJECT_FILE, checksum);
}

/* Copy metadata object @checksum of @type unless the store has it. Verified
 * first; hardlinked when the transport may link. For a dirtree the verified
 * bytes are returned in *out_data (NULL when the store already had it). */
static gboolean
copy_metadata (Walk *w, CairnObjectType type, const char *checksum, GBytes **out_data,
               GError **error)
{
  if (out_data)
    *out_data = NULL;
  /* Each dirtree and dirmeta is met here once per walk (the callers keep
   * sets), so one under an objects/XX directory that was absent when the
   * walk began cannot be present: no lookup in the store. */
  if (!in_absent_dir (w, checksum) && cairn_repo_object_exists (w->s->repo, type, checksum))
    return TRUE;
  g_autofree char *rel = cairn_object_relpath (checksum, type, w->l->src->mode);
  cairn_autofd fd
      = openat (w->l->src->objects_dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return cairn_throw_errno (error, "%s: opening object %s.%s", w->l->src->path, checksum,
                              cairn_object_type_to_string (type));
  g_autoptr (GBytes) b = cairn_fd_read_all (fd, CAIRN_MAX_METADATA_SIZE, error);
  if (!b)
    return cairn_prefix_error (error, "%s: object %s.%s", w->l->src->path, checksum,
                               cairn_object_type_to_string (type));
  _cairn_pull_sink_add_bytes (w->s->sink, g_bytes_get_size (b));
  gboolean linked = FALSE;
  if (w->l->can_link)
    {
      CairnTxn *txn = _cairn_pull_sink_txn (w->s->sink);
      if (!_cairn_pull_verify_metadata (type, checksum, b, error))
        return cairn_prefix_error (error, "%s", w->l->src->path);
      if (!link_verified_fd (txn, fd, type, checksum, &linked, error))
        return FALSE;
      if (linked)
        _cairn_pull_sink_count_metadata (w->s->sink);
    }
  if (!linked && !_cairn_pull_sink_write_metadata (w->s->sink, type, checksum, b, error))
    return cairn_prefix_error (error, "%s", w->l->src->path);
  if (out_data)
    *out_data = g_steal_pointer (&b);
  return TRUE;
}

static void
flush_batch (Walk *w)
{
  if (w->batch)
    _cairn_pull_sink_queue_job (w->s->sink, import_content, g_steal_pointer (&w->batch), g_free);
}

static void
queue_content (Walk *w, const char *checksum)
{
  if (g_hash_table_contains (w->queued, checksum))
    return;
  if (content_present (w, checksum))
    {
      _cairn_pull_sink_count_present (w->s->sink, 1);
      return;
    }
  g_hash_table_add (w->queued, g_strdup (checksum));
  if (!w->batch)
    {
      w->batch = g_new (ImportJob, 1);
      w->batch->l = w->l;
      w->batch->n = 0;
    }
  memcpy (w->batch->checksums[w->batch->n++], checksum, 65);
  if (w->batch->n == IMPORT_BATCH)
    flush_batch (w);
}

static gboolean
walk_tree (Walk *w, const char *tree, const char *meta, GError **error)
{
  if (!g_hash_table_contains (w->metas, meta))
    {
      if (!copy_metadata (w, CAIRN_OBJECT_DIR_META, meta, NULL, error))
        return FALSE;
      g_hash_table_add (w->metas, g_strdup (meta));
    }
  if (g_hash_table_contains (w->scanned, tree))
    return TRUE;
  g_hash_table_add (w->scanned, g_strdup (tree));
  g_autoptr (GBytes) copied = NULL;
  if (!copy_metadata (w, CAIRN_OBJECT_DIR_TREE, tree, &copied, error))
    return FALSE;
  /* Bytes just verified need not be read back from the store. */
  g_autoptr (GVariant) v
      = copied ? g_variant_ref_sink (
            g_variant_new_from_bytes (CAIRN_DIRTREE_GVARIANT_FORMAT, copied, FALSE))
               : cairn_repo_load_variant (w->s->repo, CAIRN_OBJECT_DIR_TREE, tree, error);
  if (!v || !_cairn_pull_sink_maybe_checkpoint (w->s->sink, error))
    return FALSE;
  _cairn_pull_sink_progress (w->s->sink, "objects");
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  char h1[65], h2[65];
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", NULL, &c);
      cairn_checksum_to_hex (g_variant_get_data (c), h1);
      queue_content (w, h1);
    }
  flush_batch (w);
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      g_autoptr (GVariant) t = NULL, m = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", NULL, &t, &m);
      cairn_checksum_to_hex (g_variant_get_data (t), h1);
      cairn_checksum_to_hex (g_variant_get_data (m), h2);
      if (!walk_tree (w, h1, h2, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
local_fetch_trees (CairnPullTransport *t, CairnPullSession *s, GError **error)
{
  Local *l = (Local *)t;
  CairnRepo *dst = s->repo;
  l->can_link = l->src->mode == dst->mode && l->src->dev == dst->dev
                && dst->mode != CAIRN_REPO_MODE_ARCHIVE && g_getenv ("CAIRN_PULL_NO_LINK") == NULL;
  g_autoptr (GHashTable) queued = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) scanned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) metas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Walk w = { l, s, queued, scanned, metas, { 0 }, NULL };
  note_absent_dirs (&w);
  for (guint i = 0; i < s->commits->len; i++)
    {
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_repo_load_commit (dst, s->commits->pdata[i], &c, error)
          || !walk_tree (&w, c.root_tree, c.root_meta, error))
        {
          g_autoptr (GError) ignored = NULL;
          (void)_cairn_pull_sink_drain (s->sink, &ignored);
          return FALSE;
        }
    }
  if (!_cairn_pull_sink_drain (s->sink, error))
    return FALSE;
  /* Every reachable object was found present or stored (a failed job
   * fails the drain). */
  s->trees_complete = TRUE;
  return TRUE;
}

static void
local_free (CairnPullTransport *t)
{
  Local *l = (Local *)t;
  cairn_repo_free (l->src);
  g_free (l);
}

CairnPullTransport *
_cairn_pull_transport_local_new (const char *path, GError **error)
{
  g_autofree char *unescaped = g_uri_unescape_string (path, NULL);
  CairnRepo *src = cairn_repo_open (unescaped ? unescaped : path, error);
  if (!src)
    return NULL;
  Local *l = g_new0 (Local, 1);
  l->base.name = "local";
  l->base.fetch_file = local_fetch_file;
  l->base.list_refs = local_list_refs;
  l->base.fetch_trees = local_fetch_trees;
  l->base.free = local_free;
  l->src = src;
  return &l->base;
}
