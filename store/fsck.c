/* fsck and prune (docs/format.md §14, §15).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <string.h>

static void
problem_free (CairnFsckProblem *p)
{
  g_free (p->object);
  g_free (p->message);
  g_ptr_array_unref (p->commits);
  g_ptr_array_unref (p->refs);
  g_free (p);
}

void
cairn_fsck_report_clear (CairnFsckReport *r)
{
  g_clear_pointer (&r->problems, g_ptr_array_unref);
}

static CairnFsckProblem *
problem_new (const char *object, const char *message, gboolean missing)
{
  CairnFsckProblem *p = g_new0 (CairnFsckProblem, 1);
  p->object = g_strdup (object);
  p->message = g_strdup (message);
  p->missing = missing;
  p->commits = g_ptr_array_new_with_free_func (g_free);
  p->refs = g_ptr_array_new_with_free_func (g_free);
  return p;
}

typedef struct
{
  CairnRepo *repo;
  GMutex lock;
  GHashTable *bad; /* object name -> message */
} HashCtx;

static void
hash_one (gpointer data, gpointer user_data)
{
  char *name = data;
  HashCtx *ctx = user_data;
  g_autofree char *csum = NULL;
  CairnObjectType type;
  g_autoptr (GError) error = NULL;
  if (cairn_object_name_parse (name, &csum, &type)
      && !cairn_repo_fsck_object (ctx->repo, type, csum, &error))
    {
      g_mutex_lock (&ctx->lock);
      g_hash_table_insert (ctx->bad, g_strdup (name), g_strdup (error->message));
      g_mutex_unlock (&ctx->lock);
    }
  g_free (name);
}

/* Re-hash every object in objects/ in parallel; returns name -> message. */
static GHashTable *
hash_all (CairnRepo *repo, GHashTable *objects, guint n_threads, GError **error)
{
  HashCtx ctx = { .repo = repo };
  g_mutex_init (&ctx.lock);
  ctx.bad = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GThreadPool *pool = g_thread_pool_new (
      hash_one, &ctx, n_threads ? n_threads : MAX (g_get_num_processors (), 1), FALSE, error);
  if (!pool)
    return NULL;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, objects);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_thread_pool_push (pool, g_strdup (k), NULL);
  g_thread_pool_free (pool, FALSE, TRUE);
  g_mutex_clear (&ctx.lock);
  return ctx.bad;
}

/* Fill in which commits and refs each problem breaks. */
static void
attribute_problems (CairnRepo *repo, GPtrArray *commits, GHashTable *refs, GPtrArray *problems)
{
  for (guint i = 0; i < commits->len; i++)
    {
      const char *c = commits->pdata[i];
      g_autoptr (GHashTable) reach = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr (GHashTable) missing
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      (void)cairn_repo_traverse_commit_collect (repo, c, 0, reach, missing, NULL);
      for (guint j = 0; j < problems->len; j++)
        {
          CairnFsckProblem *p = problems->pdata[j];
          if (!g_hash_table_contains (reach, p->object))
            continue;
          g_ptr_array_add (p->commits, g_strdup (c));
          GHashTableIter it;
          gpointer k, v;
          g_hash_table_iter_init (&it, refs);
          while (g_hash_table_iter_next (&it, &k, &v))
            if (strcmp (v, c) == 0)
              g_ptr_array_add (p->refs, g_strdup (k));
        }
    }
}

static void
add_problem (GPtrArray *problems, GHashTable *seen, const char *object, const char *msg,
             gboolean missing)
{
  if (g_hash_table_contains (seen, object))
    return;
  g_hash_table_add (seen, g_strdup (object));
  g_ptr_array_add (problems, problem_new (object, msg, missing));
}

gboolean
cairn_repo_fsck (CairnRepo *repo, gboolean delete_corrupt, guint n_threads, CairnFsckReport *out,
                 GError **error)
{
  memset (out, 0, sizeof *out);
  out->problems = g_ptr_array_new_with_free_func ((GDestroyNotify)problem_free);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, error);
  g_autoptr (GHashTable) objects = refs ? cairn_repo_list_objects (repo, error) : NULL;
  if (!objects)
    return FALSE;
  out->n_refs = g_hash_table_size (refs);
  g_autoptr (GHashTable) bad = hash_all (repo, objects, n_threads, error);
  if (!bad)
    return FALSE;
  out->n_objects = g_hash_table_size (objects);
  /* Roots: every ref's commit and every commit object. */
  g_autoptr (GPtrArray) commits = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) roots = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!g_hash_table_contains (roots, v))
      {
        g_hash_table_add (roots, v);
        g_ptr_array_add (commits, g_strdup (v));
      }
  g_hash_table_iter_init (&it, objects);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_suffix (k, ".commit") && !g_hash_table_contains (roots, k))
      {
        g_autofree char *c = g_strndup (k, 64);
        if (!g_hash_table_contains (refs, c))
          g_ptr_array_add (commits, g_steal_pointer (&c));
      }
  /* de-duplicate (refs and objects may name the same commit) */
  g_autoptr (GHashTable) uniq = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) verify = g_ptr_array_new ();
  for (guint i = 0; i < commits->len; i++)
    if (g_hash_table_add (uniq, commits->pdata[i]))
      g_ptr_array_add (verify, commits->pdata[i]);
  /* One reachability set for all commits: versions of a tree share most
   * subtrees, each walked once (a missing object is reported once whichever
   * commit meets it first; attribute_problems names every commit it breaks). */
  g_autoptr (GHashTable) reach = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < verify->len; i++)
    {
      const char *c = verify->pdata[i];
      if (cairn_repo_commit_is_partial (repo, c))
        {
          out->n_partial++;
          continue;
        }
      out->n_commits++;
      g_autoptr (GHashTable) missing
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr (GError) local = NULL;
      if (!cairn_repo_traverse_commit_collect (repo, c, 0, reach, missing, &local))
        {
          g_autofree char *name = cairn_object_name (c, CAIRN_OBJECT_COMMIT);
          add_problem (out->problems, seen, name, local->message, FALSE);
          continue;
        }
      g_hash_table_iter_init (&it, missing);
      while (g_hash_table_iter_next (&it, &k, NULL))
        add_problem (out->problems, seen, k, "object is missing", TRUE);
    }
  g_hash_table_iter_init (&it, bad);
  while (g_hash_table_iter_next (&it, &k, &v))
    add_problem (out->problems, seen, k, v, FALSE);
  if (out->problems->len > 0)
    attribute_problems (repo, verify->len ? (GPtrArray *)verify : commits, refs, out->problems);
  if (delete_corrupt)
    for (guint i = 0; i < out->problems->len; i++)
      {
        CairnFsckProblem *p = out->problems->pdata[i];
        g_autofree char *csum = NULL;
        CairnObjectType type;
        /* A commit is reported when its tree cannot be walked (a corrupt
         * dirtree below it): only a commit object that is itself corrupt is
         * deleted; the others are marked partial below, like every commit
         * a deleted object breaks. */
        if (!p->missing && cairn_object_name_parse (p->object, &csum, &type)
            && (type != CAIRN_OBJECT_COMMIT || g_hash_table_contains (bad, p->object))
            && cairn_repo_delete_object (repo, type, csum, NULL, NULL))
          out->n_deleted++;
        for (guint j = 0; j < p->commits->len; j++)
          if (!cairn_repo_mark_commit_partial (repo, p->commits->pdata[j], TRUE, "f", error))
            return FALSE;
      }
  return TRUE;
}

/* ---- prune --------------------------------------------------------------------- */

static gboolean
prune_roots (CairnRepo *repo, const CairnPruneOptions *opts, GHashTable *objects,
             GHashTable *reachable, GError **error)
{
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, error);
  if (!refs)
    return FALSE;
  gboolean refs_only = opts->refs_only || opts->has_keep_younger;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!cairn_repo_traverse_commit (repo, v, opts->depth, reachable, error))
      return cairn_prefix_error (error, "ref %s", (char *)k);
  g_hash_table_iter_init (&it, objects);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      if (!g_str_has_suffix (k, ".commit"))
        continue;
      g_autofree char *c = g_strndup (k, 64);
      gboolean keep = !refs_only;
      if (!keep && opts->has_keep_younger)
        {
          g_auto (CairnCommit) cm = { 0 };
          keep = cairn_repo_load_commit (repo, c, &cm, NULL)
                 && cm.timestamp >= opts->keep_younger_than;
        }
      if (keep && cairn_repo_commit_is_partial (repo, c))
        {
          /* Keep what a partial commit has; it may be completed later. */
          g_autoptr (GHashTable) missing
              = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          if (!cairn_repo_traverse_commit_collect (repo, c, 0, reachable, missing, error))
            return FALSE;
        }
      else if (keep
               && !cairn_repo_traverse_commit (repo, c, refs_only ? 0 : opts->depth, reachable,
                                               error))
        return FALSE;
    }
  return TRUE;
}

gboolean
cairn_repo_prune (CairnRepo *repo, const CairnPruneOptions *opts, CairnPruneStats *out,
                  GError **error)
{
  memset (out, 0, sizeof *out);
  if (!cairn_repo_lock_push (repo, CAIRN_REPO_LOCK_EXCLUSIVE, error))
    return cairn_prefix_error (error, "prune");
  gboolean ok = FALSE;
  /* Staged objects of a killed commit are not in objects/: the walk below
   * never sees them. Their transaction is dead when its lock is free. */
  if (!opts->dry_run)
    out->n_stale_staging = _cairn_txn_cleanup_stale_staging (repo);
  g_autoptr (GHashTable) objects = cairn_repo_list_objects (repo, error);
  g_autoptr (GHashTable) reachable = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (objects && prune_roots (repo, opts, objects, reachable, error))
    {
      ok = TRUE;
      out->n_total = g_hash_table_size (objects);
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, objects);
      while (ok && g_hash_table_iter_next (&it, &k, NULL))
        {
          if (g_hash_table_contains (reachable, k))
            continue;
          g_autofree char *csum = NULL;
          CairnObjectType type;
          if (!cairn_object_name_parse (k, &csum, &type))
            continue;
          if (type == CAIRN_OBJECT_COMMIT_META)
            {
              /* Detached metadata goes with its commit. */
              g_autofree char *cn = cairn_object_name (csum, CAIRN_OBJECT_COMMIT);
              if (g_hash_table_contains (reachable, cn) || g_hash_table_contains (objects, cn))
                continue;
            }
          guint64 size = 0;
          if (!opts->dry_run)
            ok = cairn_repo_delete_object (repo, type, csum, &size, error);
          else
            {
              g_autofree char *rel = cairn_object_relpath (csum, type, repo->mode);
              struct stat st;
              if (fstatat (repo->objects_dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
                size = st.st_blocks * 512;
            }
          out->n_deleted++;
          out->bytes_freed += size;
        }
    }
  cairn_repo_lock_pop (repo, CAIRN_REPO_LOCK_EXCLUSIVE);
  return ok;
}
