/* Refs: refs/heads/REF, refs/remotes/REMOTE/REF (docs/format.md §3.4).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <dirent.h>
#include <string.h>

static char *
ref_relpath (const char *remote, const char *ref)
{
  if (remote)
    return g_strdup_printf ("refs/remotes/%s/%s", remote, ref);
  return g_strdup_printf ("refs/heads/%s", ref);
}

char *
cairn_repo_read_ref (CairnRepo *repo, const char *remote, const char *ref, gboolean allow_noent,
                     GError **error)
{
  if ((remote && !cairn_validate_remote_name (remote, error))
      || !cairn_validate_ref_name (ref, error))
    return NULL;
  g_autofree char *rel = ref_relpath (remote, ref);
  /* Aliases are relative symlinks to another ref: follow within refs/. */
  int fd = openat (repo->repo_dfd, rel, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      if ((errno == ENOENT || errno == ENOTDIR) && allow_noent)
        return NULL;
      if (errno == ENOENT || errno == ENOTDIR)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "ref '%s%s%s' not found",
                     remote ? remote : "", remote ? ":" : "", ref);
      else
        cairn_throw_errno (error, "reading ref %s", ref);
      return NULL;
    }
  /* refs/heads/a is a directory when refs a/b exist: a prefix, no ref */
  struct stat st;
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      close (fd);
      if (allow_noent)
        return NULL;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "ref '%s%s%s' not found (refs/%s is a directory of refs)", remote ? remote : "",
                   remote ? ":" : "", ref, rel + 5);
      return NULL;
    }
  g_autoptr (GBytes) b = cairn_fd_read_all (fd, 4096, error);
  close (fd);
  if (!b)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (b, &len);
  g_autofree char *s = g_strstrip (g_strndup (p ? p : "", len));
  if (!cairn_is_checksum_string (s))
    {
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "ref '%s' is corrupt: not a checksum", ref);
      return NULL;
    }
  return g_steal_pointer (&s);
}

gboolean
cairn_repo_write_ref (CairnRepo *repo, const char *remote, const char *ref, const char *checksum,
                      GError **error)
{
  if ((remote && !cairn_validate_remote_name (remote, error))
      || !cairn_validate_ref_name (ref, error))
    return FALSE;
  if (checksum && !cairn_validate_checksum_string (checksum, error))
    return FALSE;
  g_autofree char *rel = ref_relpath (remote, ref);
  g_autofree char *dir = g_path_get_dirname (rel);
  g_autofree char *base = g_path_get_basename (rel);
  if (checksum == NULL)
    {
      if (!cairn_unlinkat (repo->repo_dfd, rel, 0, FALSE, error))
        {
          if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
            {
              g_clear_error (error);
              return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "ref '%s' not found", ref);
            }
          return FALSE;
        }
    }
  else
    {
      if (!cairn_mkdirat_p (repo->repo_dfd, dir, 0775, error))
        return cairn_prefix_error (error, "writing ref %s", ref);
      cairn_autofd dfd = -1;
      if (!cairn_opendirat (repo->repo_dfd, dir, FALSE, &dfd, error))
        return cairn_prefix_error (error, "writing ref %s", ref);
      g_autofree char *line = g_strconcat (checksum, "\n", NULL);
      if (!cairn_file_replace_contents_at (dfd, base, line, 65, 0644,
                                           cairn_repo_fsync_policy (repo), error))
        return cairn_prefix_error (error, "writing ref %s", ref);
    }
  /* Clients watch the repo dir's mtime to notice ref changes. */
  (void)futimens (repo->repo_dfd, NULL);
  return TRUE;
}

static void
list_dir (CairnRepo *repo, int dfd, const char *prefix, const char *display_prefix, GHashTable *out)
{
  int dup = fcntl (dfd, F_DUPFD_CLOEXEC, 3);
  DIR *d = dup >= 0 ? fdopendir (dup) : NULL;
  if (!d)
    {
      cairn_close_fdp (&dup);
      return;
    }
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      g_autofree char *name
          = prefix[0] ? g_strconcat (prefix, "/", de->d_name, NULL) : g_strdup (de->d_name);
      struct stat st;
      if (fstatat (dfd, de->d_name, &st, 0) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          cairn_autofd sub
              = openat (dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0)
            list_dir (repo, sub, name, display_prefix, out);
          continue;
        }
      g_autoptr (GBytes) b = cairn_file_get_contents_at (dfd, de->d_name, 4096, NULL);
      if (!b)
        {
          /* An alias (symlink): read through it. */
          cairn_autofd fd = openat (dfd, de->d_name, O_RDONLY | O_CLOEXEC);
          if (fd >= 0)
            b = cairn_fd_read_all (fd, 4096, NULL);
        }
      if (!b)
        continue;
      gsize len;
      const char *p = g_bytes_get_data (b, &len);
      g_autofree char *s = g_strstrip (g_strndup (p ? p : "", len));
      if (cairn_is_checksum_string (s))
        g_hash_table_insert (out, g_strconcat (display_prefix, name, NULL), g_steal_pointer (&s));
    }
  closedir (d);
}

GHashTable *
cairn_repo_list_refs (CairnRepo *repo, const char *prefix, gboolean include_remotes, GError **error)
{
  g_autoptr (GHashTable) all = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  cairn_autofd heads = -1;
  if (!cairn_opendirat (repo->repo_dfd, "refs/heads", FALSE, &heads, error))
    return NULL;
  list_dir (repo, heads, "", "", all);
  if (include_remotes)
    {
      cairn_autofd remotes
          = openat (repo->repo_dfd, "refs/remotes", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (remotes >= 0)
        {
          g_autoptr (GHashTable) tmp
              = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          list_dir (repo, remotes, "", "", tmp);
          GHashTableIter it;
          gpointer k, v;
          g_hash_table_iter_init (&it, tmp);
          while (g_hash_table_iter_next (&it, &k, &v))
            {
              /* "REMOTE/REF" -> "REMOTE:REF" */
              char *slash = strchr (k, '/');
              if (!slash)
                continue;
              *slash = ':';
              g_hash_table_insert (all, g_strdup (k), g_strdup (v));
            }
        }
    }
  if (prefix && *prefix)
    {
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, all);
      while (g_hash_table_iter_next (&it, &k, NULL))
        if (!g_str_has_prefix (k, prefix))
          g_hash_table_iter_remove (&it);
    }
  return g_steal_pointer (&all);
}

/* A unique prefix of a commit checksum among objects/XX/….commit. */
static char *
resolve_prefix (CairnRepo *repo, const char *prefix, GError **error)
{
  if (strlen (prefix) < 4)
    return NULL;
  for (const char *p = prefix; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return NULL;
  char sub[3] = { prefix[0], prefix[1], 0 };
  cairn_autofd dfd = openat (repo->objects_dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return NULL;
  DIR *d = fdopendir (cairn_steal_fd (&dfd));
  if (!d)
    return NULL;
  struct dirent *de;
  char *found = NULL;
  gboolean ambiguous = FALSE;
  while ((de = readdir (d)) != NULL)
    {
      if (!g_str_has_suffix (de->d_name, ".commit") || strlen (de->d_name) != 62 + 7)
        continue;
      g_autofree char *full = g_strdup_printf ("%s%.*s", sub, 62, de->d_name);
      if (!g_str_has_prefix (full, prefix))
        continue;
      if (found)
        ambiguous = TRUE;
      else
        found = g_steal_pointer (&full);
    }
  closedir (d);
  if (ambiguous)
    {
      g_free (found);
      cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "checksum prefix '%s' is ambiguous",
                        prefix);
      return NULL;
    }
  return found;
}

static char *
resolve_one (CairnRepo *repo, const char *rev, gboolean allow_noent, GError **error)
{
  if (cairn_is_checksum_string (rev))
    return g_strdup (rev);
  const char *colon = strchr (rev, ':');
  if (colon)
    {
      g_autofree char *remote = g_strndup (rev, colon - rev);
      return cairn_repo_read_ref (repo, remote, colon + 1, allow_noent, error);
    }
  g_autoptr (GError) local = NULL;
  if (cairn_validate_ref_name (rev, NULL))
    {
      char *c = cairn_repo_read_ref (repo, NULL, rev, TRUE, &local);
      if (c || local)
        {
          if (local)
            g_propagate_error (error, g_steal_pointer (&local));
          return c;
        }
      /* Fallback: a remote-tracking ref of that name in exactly one remote. */
      g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, NULL);
      GHashTableIter it;
      gpointer k, v;
      char *hit = NULL;
      if (refs)
        {
          g_hash_table_iter_init (&it, refs);
          while (g_hash_table_iter_next (&it, &k, &v))
            {
              const char *c2 = strchr (k, ':');
              if (c2 && strcmp (c2 + 1, rev) == 0 && !hit)
                hit = g_strdup (v);
            }
        }
      if (hit)
        return hit;
    }
  g_autoptr (GError) perr = NULL;
  char *p = resolve_prefix (repo, rev, &perr);
  if (p || perr)
    {
      if (perr)
        g_propagate_error (error, g_steal_pointer (&perr));
      return p;
    }
  if (!allow_noent)
    {
      if (!cairn_validate_ref_name (rev, NULL))
        cairn_validate_ref_name (rev, error);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "ref '%s' not found", rev);
    }
  return NULL;
}

char *
cairn_repo_resolve_rev (CairnRepo *repo, const char *rev, gboolean allow_noent, GError **error)
{
  g_autofree char *base = g_strdup (rev);
  int parents = 0;
  gsize n = strlen (base);
  while (n > 0 && base[n - 1] == '^')
    {
      base[--n] = '\0';
      parents++;
    }
  g_autofree char *c = resolve_one (repo, base, allow_noent, error);
  for (int i = 0; c && i < parents; i++)
    {
      g_auto (CairnCommit) commit = { 0 };
      if (!cairn_repo_load_commit (repo, c, &commit, error))
        return NULL;
      if (!commit.parent)
        {
          cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "commit %s has no parent", c);
          return NULL;
        }
      g_free (c);
      c = g_strdup (commit.parent);
    }
  return g_steal_pointer (&c);
}
