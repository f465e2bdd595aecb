/* cairn run [OPTIONS] REF|COMMIT [--] [CMD [ARG...]]
 *
 * Resolve the ref once, apply the signature policy to that commit checksum,
 * take a shared lock on its cached checkout (creating it if needed), decide
 * the container from the options and the image's defaults
 * (cli/run-config.c) and exec `cairn-launch --oci-run` with it: the
 * launcher writes that as the container's config.json and runs it through
 * its OCI runtime (runtime/client.c), so what the container gets is
 * decided here, once, and carried out by one code path. The checkout is
 * mounted read-only (or under an overlay whose upper layer is the
 * container's), so the store's hardlinked objects are never writable from a
 * container. Exit status: the container's (with -d: 0 once it runs).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-checkout.h"
#include "cli/cairn-containers.h"
#include "cli/cairn-run.h"
#include "cli/cairn-run-mount.h"
#include "cli/run-record.h"
#include "image/cairn-image.h"
#include "sync/cairn-remote.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The remote a ref came from ("REMOTE:REF" or a refs/remotes fallback). */
static char *
remote_of (CairnRepo *repo, const char *ref)
{
  const char *colon = strchr (ref, ':');
  if (colon)
    return g_strndup (ref, colon - ref);
  if (cairn_is_checksum_string (ref) || !cairn_validate_ref_name (ref, NULL))
    return NULL;
  g_autofree char *local = cairn_repo_read_ref (repo, NULL, ref, TRUE, NULL);
  if (local)
    return NULL;
  g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, NULL);
  GHashTableIter it;
  gpointer k;
  if (refs)
    {
      g_hash_table_iter_init (&it, refs);
      while (g_hash_table_iter_next (&it, &k, NULL))
        {
          const char *c = strchr (k, ':');
          if (c && strcmp (c + 1, ref) == 0)
            return g_strndup (k, c - (const char *)k);
        }
    }
  return NULL;
}

static gboolean
check_signature_policy (CairnRepo *repo, const CairnRunArgs *a, const char *commit,
                        gboolean *out_checked, GError **error)
{
  g_autofree char *remote = remote_of (repo, a->ref);
  gboolean remote_verify = FALSE;
  if (remote)
    {
      g_autoptr (CairnRemote) r = cairn_repo_remote_get (repo, remote, NULL);
      remote_verify = r && r->gpg_verify;
    }
  gboolean config_verify = g_key_file_get_boolean (repo->config, "run", "require-signatures", NULL);
  if (!a->require_signed && !remote_verify && !config_verify && !a->keyring)
    return TRUE;
  *out_checked = TRUE;
  if (!cairn_repo_require_signed_commit (repo, commit, remote_verify ? remote : NULL, a->keyring,
                                         error))
    return cairn_prefix_error (error, "refusing to run %s", commit);
  return TRUE;
}

static char **
meta_strv (GVariant *meta, const char *key)
{
  g_autoptr (GVariant) v = g_variant_lookup_value (meta, key, G_VARIANT_TYPE_STRING_ARRAY);
  return v ? g_variant_dup_strv (v, NULL) : NULL;
}

static char *
meta_str (GVariant *meta, const char *key)
{
  g_autoptr (GVariant) v = g_variant_lookup_value (meta, key, G_VARIANT_TYPE_STRING);
  return v && *g_variant_get_string (v, NULL) ? g_variant_dup_string (v, NULL) : NULL;
}

/* The image's defaults stored by `cairn import` (docs/import-export.md). */
static gboolean
load_image_defaults (CairnRepo *repo, const char *commit, CairnImageDefaults *d, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  d->entrypoint = meta_strv (c.metadata, CAIRN_META_OCI_ENTRYPOINT);
  d->cmd = meta_strv (c.metadata, CAIRN_META_OCI_CMD);
  d->env = meta_strv (c.metadata, CAIRN_META_OCI_ENV);
  d->workdir = meta_str (c.metadata, CAIRN_META_OCI_WORKDIR);
  d->user = meta_str (c.metadata, CAIRN_META_OCI_USER);
  return TRUE;
}

/* The launcher's command line: --oci-run and where, what cmd-run decided,
 * ROOTFS, "--", the command. */
static GPtrArray *
launcher_argv (const CairnRunArgs *a, const char *containers, const char *bpf, const char *root,
               CairnRunConfig *cfg)
{
  GPtrArray *v = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (v, cairn_launcher_path ());
  g_ptr_array_add (v, g_strdup ("--oci-run"));
  g_ptr_array_add (v, g_strdup_printf ("--containers=%s", containers));
  if (a->name)
    g_ptr_array_add (v, g_strdup_printf ("--name=%s", a->name));
  if (a->detach)
    g_ptr_array_add (v, g_strdup ("--detach"));
  if (a->rm)
    g_ptr_array_add (v, g_strdup ("--rm"));
  if (!a->interactive)
    g_ptr_array_add (v, g_strdup ("--no-stdin"));
  g_ptr_array_add (v, g_strdup_printf ("--seccomp-cache=%s", bpf));
  for (guint i = 0; i < cfg->launch->len; i++)
    g_ptr_array_add (v, g_strdup (cfg->launch->pdata[i]));
  g_ptr_array_add (v, g_strdup (root));
  g_ptr_array_add (v, g_strdup ("--"));
  return v;
}

/* Record the launch just approved, for the front end to replay while its
 * inputs hold (cli/run-record.h). Only the plainest decisions are recorded:
 * no signature check applied, the rev is a commit checksum or a local ref
 * file, the root is a cached checkout, and the user's command (if any)
 * follows the first "--" of the command line or there is no "--" at all.
 * Everything else always comes back here. */
static void
record_approval (CairnCli *cli, CairnRepo *repo, const CairnRunArgs *a, const char *root,
                 GPtrArray *fixed, const CairnRunConfig *cfg, gboolean signature_checked)
{
  if (a->mount || cli->verbose || signature_checked || !cli->argv_all || !cfg->replayable)
    return;
  g_autofree char *repo_abs = realpath (repo->path, NULL);
  g_autofree char *root_abs = realpath (root, NULL);
  if (!repo_abs || !root_abs)
    return;
  g_autofree char *ref_file = NULL;
  if (!cairn_is_checksum_string (a->ref))
    {
      struct stat st;
      if (!cairn_validate_ref_name (a->ref, NULL))
        return;
      ref_file = g_build_filename (repo_abs, "refs", "heads", a->ref, NULL);
      if (lstat (ref_file, &st) < 0 || !S_ISREG (st.st_mode))
        return;
    }
  int split = cairn_run_record_split (cli->argc_all, cli->argv_all);
  gboolean tail = split < cli->argc_all;
  /* the command after "--" must be what the user gave after REF */
  if (tail && (!a->cmd_after_dd || (int)a->cmd->len != cli->argc_all - split - 1))
    return;
  for (guint i = 0; tail && i < a->cmd->len; i++)
    if (strcmp (a->cmd->pdata[i], cli->argv_all[split + 1 + i]))
      return;
  CairnRunRecord *r = cairn_run_record_new (cli->argc_all, cli->argv_all, split);
  g_autofree char *config = g_build_filename (repo_abs, "config", NULL);
  g_autofree char *lock = g_strconcat (root_abs, ".lock", NULL);
  if (ref_file)
    cairn_run_record_add_file (r, ref_file);
  cairn_run_record_add_file (r, config);
  for (guint i = 0; i < cfg->inputs->len; i++)
    cairn_run_record_add_file (r, cfg->inputs->pdata[i]);
  for (guint i = 0; i < cfg->programs->len; i++)
    cairn_run_record_add_program (r, cfg->programs->pdata[i]);
  cairn_run_record_set_lock (r, lock, root_abs);
  /* replayed: the fixed part and the entrypoint; the rest is the user's
   * command (after "--") or, without one, the image's */
  g_autoptr (GPtrArray) exec = g_ptr_array_new ();
  for (guint i = 0; i < fixed->len; i++)
    g_ptr_array_add (exec, fixed->pdata[i]);
  guint upto = tail ? cfg->n_entrypoint : cfg->command->len;
  for (guint i = 0; i < upto; i++)
    g_ptr_array_add (exec, cfg->command->pdata[i]);
  g_ptr_array_add (exec, NULL);
  g_autoptr (GPtrArray) dflt = g_ptr_array_new ();
  for (guint i = cfg->n_entrypoint; tail && i < cfg->command->len && !a->cmd->len; i++)
    g_ptr_array_add (dflt, cfg->command->pdata[i]);
  g_ptr_array_add (dflt, NULL);
  cairn_run_record_set_exec (r, (char **)exec->pdata, tail ? (char **)dflt->pdata : NULL, tail,
                             (int)fixed->len + 1);
  cairn_run_record_commit (r);
}

typedef struct
{
  CairnRepo *repo;
  char *commit, *root, *containers;
  int lock_fd;
  CairnRunMount *rm;
  gboolean signature_checked;
} RunState;

static void
run_state_clear (RunState *s)
{
  /* the mount first: its release reads the repository */
  if (s->rm)
    cairn_run_mount_free (s->rm);
  g_clear_pointer (&s->repo, cairn_repo_free);
  g_free (s->commit);
  g_free (s->root);
  g_free (s->containers);
  if (s->lock_fd >= 0)
    close (s->lock_fd);
}

/* The commit, the policy, the root to run on. */
static gboolean
prepare (CairnCli *cli, const CairnRunArgs *a, RunState *s, GError **error)
{
  s->repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!s->repo || !(s->commit = cairn_repo_resolve_rev (s->repo, a->ref, FALSE, error)))
    return FALSE;
  /* From here on only the checksum is used: verified is what runs. */
  if (!check_signature_policy (s->repo, a, s->commit, &s->signature_checked, error))
    return FALSE;
  if (!(s->containers = cairn_containers_dir (error)))
    return FALSE;
  if (a->mount)
    {
      if (!(s->rm = cairn_run_mount_begin (s->repo, s->commit, a->mount_kind, error)))
        return FALSE;
      s->root = g_strdup (cairn_run_mount_root (s->rm));
      return TRUE;
    }
  return cairn_checkout_cache_acquire (s->repo, s->commit, &s->root, &s->lock_fd, NULL, error);
}

static int
launch (CairnCli *cli, RunState *s, GPtrArray *argv, GError **error)
{
  g_autofree char *launcher = g_strdup (argv->pdata[0]);
  g_ptr_array_add (argv, NULL);
  if (s->rm)
    {
      /* This process serves the mount: the launcher runs as a child. */
      int status = cairn_run_mount_exec (s->rm, launcher, (char **)argv->pdata, error);
      return status < 0 ? 125 : status;
    }
  /* Keep the shared lock across exec: cairn-launch (or the detached
   * container's monitor) holds it until the container is gone, so prune
   * cannot remove the checkout under it. */
  fcntl (s->lock_fd, F_SETFD, 0);
  if (cli->verbose)
    {
      g_autofree char *joined = g_strjoinv (" ", (char **)argv->pdata);
      fprintf (stderr, "cairn: run: %s\n", joined);
    }
  fflush (NULL);
  execv (launcher, (char **)argv->pdata);
  cairn_throw_errno (error, "executing %s", launcher);
  return 125;
}

static int
run (CairnCli *cli, CairnRunArgs *a, RunState *s, GError **error)
{
  g_auto (CairnImageDefaults) img = { 0 };
  g_auto (CairnRunConfig) cfg = { 0 };
  if (!prepare (cli, a, s, error) || !load_image_defaults (s->repo, s->commit, &img, error))
    return 1;
  if (!cairn_run_config_build (a, &img, s->root, s->commit, s->containers, &cfg, error))
    return (*error)->domain == G_OPTION_ERROR ? 2 : 1;
  g_autofree char *bpf = g_build_filename (s->repo->path, "extensions", "cairn", "seccomp", NULL);
  g_autoptr (GPtrArray) launch_argv = launcher_argv (a, s->containers, bpf, s->root, &cfg);
  record_approval (cli, s->repo, a, s->root, launch_argv, &cfg, s->signature_checked);
  for (guint i = 0; i < cfg.command->len; i++)
    g_ptr_array_add (launch_argv, g_strdup (cfg.command->pdata[i]));
  return launch (cli, s, launch_argv, error);
}

int
cairn_cmd_run (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_auto (CairnRunArgs) a;
  cairn_run_args_init (&a);
  if (!cairn_run_parse (cli, argc, argv, &a, error))
    return 2;
  RunState s = { .lock_fd = -1 };
  int status = run (cli, &a, &s, error);
  run_state_clear (&s);
  return status;
}
