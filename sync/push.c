/* `cairn push REMOTE [REF...]`: the sync protocol in the other direction.
 *
 * Nothing new is trusted to the pushing side: the receiving repository
 * runs the pull engine against it. Over ssh the pusher runs
 *   ssh [-p PORT] [USER@]HOST cairn serve --stdio --receive [--depth=N] PATH REF...
 * and serves its own repository on the pipes (cairn_repo_serve_push: only
 * the pushed refs by name, no summary), while the far side pulls those refs
 * exactly as `cairn pull` would (docs/sync-protocol.md, "Push"): one
 * negotiation against the commits it has, one pack of what it lacks, every
 * object verified against its name, the commit's signatures checked when
 * its [receive] gpg-verify says so, the commit marked partial until its
 * tree is complete, and each ref moved last. To a path (or file://) the
 * destination repository is opened here and pulls from this one through
 * the local transport, under the same policy.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>
#include <sys/wait.h>

static gboolean
collect_refs (CairnRepo *repo, const char *const *refs, GPtrArray *out, GError **error)
{
  if (refs && refs[0])
    {
      for (const char *const *r = refs; *r; r++)
        {
          if (!cairn_validate_ref_name (*r, error))
            return FALSE;
          g_autofree char *c = cairn_repo_read_ref (repo, NULL, *r, TRUE, error);
          if (!c)
            return error && *error ? FALSE
                                   : cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                                                       "no local ref '%s' to push", *r);
          g_ptr_array_add (out, g_strdup (*r));
        }
    }
  else
    {
      g_autoptr (GHashTable) all = cairn_repo_list_refs (repo, NULL, FALSE, error);
      if (!all)
        return FALSE;
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, all);
      while (g_hash_table_iter_next (&it, &k, NULL))
        g_ptr_array_add (out, g_strdup (k));
      g_ptr_array_sort (out, (GCompareFunc)g_strcmp0);
      if (out->len == 0)
        return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no local refs to push");
    }
  g_ptr_array_add (out, NULL);
  return TRUE;
}

/* ---- to a repository on this machine ------------------------------------------------ */

static gboolean
push_local (CairnRepo *repo, const char *path, const char *const *refs,
            const CairnPushOptions *opts, CairnPushStats *st, GError **error)
{
  g_autoptr (CairnRepo) dest = cairn_repo_open (path, error);
  if (!dest)
    return FALSE;
  CairnPullOptions po;
  cairn_pull_options_init (&po);
  po.depth = opts->depth;
  po.mirror = TRUE;
  po.ignore_summary = TRUE;
  po.require_signatures = cairn_repo_receive_requires_signatures (dest);
  g_autofree char *abs = g_canonicalize_filename (repo->path, NULL);
  g_autofree char *src = g_strconcat ("file://", abs, NULL);
  CairnPullStats ps = { 0 };
  if (!cairn_repo_pull (dest, src, refs, &po, &ps, error))
    return cairn_prefix_error (error, "push to %s", path);
  st->objects_sent = ps.objects_fetched;
  st->bytes_sent = ps.content_bytes;
  st->n_refs_updated = ps.n_refs_updated;
  return TRUE;
}

/* ---- over ssh ------------------------------------------------------------------------ */

static const char *
pick (const char *a, const char *env, const char *b, const char *dflt)
{
  const char *e = g_getenv (env);
  return a ? a : e && *e ? e : b ? b : dflt;
}

static GPtrArray *
ssh_argv (const char *url, CairnRemote *remote, const char *const *refs,
          const CairnPushOptions *opts, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, error);
  if (!uri)
    return NULL;
  const char *ropt_ssh = NULL, *ropt_cairn = NULL;
  if (remote && remote->options)
    {
      g_variant_lookup (remote->options, "cairn-ssh-command", "&s", &ropt_ssh);
      g_variant_lookup (remote->options, "cairn-remote-path", "&s", &ropt_cairn);
    }
  const char *ssh = pick (opts->ssh_command, "CAIRN_SSH", ropt_ssh, "ssh");
  const char *cairn = pick (opts->remote_cairn, "CAIRN_SSH_REMOTE_CAIRN", ropt_cairn, "cairn");
  const char *host = g_uri_get_host (uri), *user = g_uri_get_user (uri);
  /* an option smuggled in as a host or user name ("-oProxyCommand=…") */
  if (!host || !*host || host[0] == '-' || (user && user[0] == '-'))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid ssh host in %s", url),
           NULL;
  g_auto (GStrv) sshv = NULL;
  if (!g_shell_parse_argv (ssh, NULL, &sshv, error))
    return NULL;
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  for (char **a = sshv; *a; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  if (g_uri_get_port (uri) > 0)
    {
      g_ptr_array_add (argv, g_strdup ("-p"));
      g_ptr_array_add (argv, g_strdup_printf ("%d", g_uri_get_port (uri)));
    }
  g_ptr_array_add (argv, user ? g_strdup_printf ("%s@%s", user, host) : g_strdup (host));
  g_autoptr (GString) cmd = g_string_new (cairn);
  g_autofree char *qpath = g_shell_quote (g_uri_get_path (uri));
  g_string_append_printf (cmd, " serve --stdio --receive --depth=%d %s", opts->depth, qpath);
  for (const char *const *r = refs; *r; r++)
    {
      g_autofree char *q = g_shell_quote (*r);
      g_string_append_printf (cmd, " %s", q);
    }
  g_ptr_array_add (argv, g_string_free (g_steal_pointer (&cmd), FALSE));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static gboolean
push_ssh (CairnRepo *repo, const char *url, CairnRemote *remote, const char *const *refs,
          const CairnPushOptions *opts, CairnPushStats *st, GError **error)
{
  g_autoptr (GPtrArray) argv = ssh_argv (url, remote, refs, opts, error);
  if (!argv)
    return FALSE;
  GPid pid = 0;
  int to_fd = -1, from_fd = -1;
  if (!g_spawn_async_with_pipes (NULL, (char **)argv->pdata, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                 &to_fd, &from_fd, NULL, error))
    return cairn_prefix_error (error, "%s: running %s", url, (char *)argv->pdata[0]);
  gboolean ok = cairn_repo_serve_push (repo, from_fd, to_fd, refs, st, error);
  close (to_fd);
  close (from_fd);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (pid);
  if (!ok)
    return cairn_prefix_error (error, "push to %s", url);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return cairn_throw (error, "push to %s: the far side failed (%s %d)", url,
                        WIFEXITED (status) ? "exit status" : "signal",
                        WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
  return TRUE;
}

gboolean
cairn_repo_push (CairnRepo *repo, const char *dest, const char *const *refs,
                 const CairnPushOptions *opts, CairnPushStats *out_stats, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (!collect_refs (repo, refs, names, error))
    return FALSE;
  const char *const *r = (const char *const *)names->pdata;
  g_autoptr (CairnRemote) remote = NULL;
  g_autofree char *url = NULL;
  g_autofree char *group = g_strdup_printf ("remote \"%s\"", dest);
  if (!strchr (dest, '/') && !strchr (dest, ':') && g_key_file_has_group (repo->config, group))
    {
      remote = cairn_repo_remote_get (repo, dest, error);
      if (!remote)
        return FALSE;
      url = g_strdup (remote->url);
    }
  else
    url = g_strdup (dest);
  CairnPushStats st = { 0 };
  gboolean ok;
  if (g_str_has_prefix (url, "ssh://"))
    ok = push_ssh (repo, url, remote, r, opts, &st, error);
  else if (g_str_has_prefix (url, "file://"))
    ok = push_local (repo, url + strlen ("file://"), r, opts, &st, error);
  else if (!strstr (url, "://"))
    ok = push_local (repo, url, r, opts, &st, error);
  else
    ok = cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED,
                           "%s: push goes to a path, file:// or ssh:// (an http(s) remote is "
                           "read-only)",
                           url);
  st.elapsed_us = g_get_monotonic_time () - start;
  if (ok && out_stats)
    *out_stats = st;
  return ok;
}
