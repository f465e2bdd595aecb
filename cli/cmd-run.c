/* cairn run [LAUNCH OPTIONS] [--require-signed] [--keyring=FILE] REF|COMMIT [-- CMD [ARG...]]
 *
 * Resolve the ref once, apply the signature policy to that commit checksum,
 * take a shared lock on its cached checkout (creating it if needed), and
 * exec cairn-launch on it. The launcher mounts the checkout read-only
 * (--writable: an overlay on tmpfs), so the store's hardlinked objects are
 * never writable from a container. Exit status: the container's.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-checkout.h"
#include "cli/cairn-run-mount.h"
#include "cli/run-record.h"
#include "image/cairn-image.h"
#include "sync/cairn-remote.h"
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Image defaults stored by `cairn import` (docs/import-export.md). */
#define META_ENTRYPOINT CAIRN_META_OCI_ENTRYPOINT
#define META_CMD CAIRN_META_OCI_CMD
#define META_ENV CAIRN_META_OCI_ENV
#define META_WORKDIR CAIRN_META_OCI_WORKDIR
#define META_USER CAIRN_META_OCI_USER

static const char *const value_opts[]
    = { "hostname", "net",  "user", "env",        "workdir", "bind",    "tmpfs",    "overlay-upper",
        "memory",   "pids", "cpus", "cpu-weight", "seccomp", "cap-add", "cap-drop", NULL };
static const char *const flag_opts[]
    = { "clear-env", "tty", "init", "no-init", "writable", "rootless", NULL };

typedef struct
{
  GPtrArray *launch; /* pass-through options, "--name=value" */
  gboolean require_signed;
  char *keyring;
  char *ref;
  GPtrArray *cmd; /* user command (may be empty) */
  gboolean have_user, have_workdir;
  gboolean mount; /* --mount: root on a mount of the commit, not a checkout */
  CairnRunMountKind mount_kind;
  int cmd_start; /* index in run's argv where the user command starts */
  gboolean signature_checked;
} RunArgs;

static gboolean
in_list (const char *const *list, const char *name)
{
  for (; *list; list++)
    if (strcmp (*list, name) == 0)
      return TRUE;
  return FALSE;
}

static void
print_help (void)
{
  printf (
      "Usage:\n  cairn run [LAUNCH OPTIONS] [--require-signed] [--keyring=FILE] REF|COMMIT [-- CMD "
      "[ARG...]]\n\n"
      "Start a confined container on a stored commit (see cairn-launch(1) for LAUNCH OPTIONS:\n"
      "--memory --pids --cpus --cpu-weight --net --bind --tmpfs --env --clear-env --user "
      "--workdir\n"
      "--hostname --tty --init --no-init --writable --overlay-upper --seccomp --cap-add "
      "--cap-drop).\n\n"
      "  --require-signed   the commit must carry a good signature from a trusted key\n"
      "  --keyring=FILE     trust only the keys in FILE\n"
      "  --mount[=kernel|fuse]  run on a read-only mount of the commit (cairn mount), no\n"
      "                     checkout: the kernel mount shared by every container of the\n"
      "                     commit as root, else a FUSE view\n\n"
      "Signatures are also required when the ref belongs to a remote with gpg-verify=true, or\n"
      "when the repository config sets run.require-signatures=true. CMD defaults to the image's\n"
      "Entrypoint + Cmd recorded by `cairn import`. Exit status: the container's.\n");
}

static gboolean
parse_args (int argc, char **argv, RunArgs *a, GError **error)
{
  int i;
  for (i = 1; i < argc && !a->ref; i++)
    {
      const char *arg = argv[i];
      if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
        {
          print_help ();
          exit (0);
        }
      if (arg[0] != '-')
        {
          a->ref = g_strdup (arg);
          break;
        }
      if (arg[1] != '-')
        return cairn_cli_usage_error (error, "unknown option '%s'", arg);
      const char *eq = strchr (arg, '=');
      g_autofree char *name = g_strndup (arg + 2, eq ? (gsize)(eq - arg - 2) : strlen (arg + 2));
      if (strcmp (name, "require-signed") == 0 && !eq)
        a->require_signed = TRUE;
      else if (strcmp (name, "mount") == 0)
        {
          a->mount = TRUE;
          if (!eq)
            a->mount_kind = CAIRN_RUN_MOUNT_AUTO;
          else if (strcmp (eq + 1, "kernel") == 0)
            a->mount_kind = CAIRN_RUN_MOUNT_KERNEL;
          else if (strcmp (eq + 1, "fuse") == 0)
            a->mount_kind = CAIRN_RUN_MOUNT_FUSE;
          else
            return cairn_cli_usage_error (error, "--mount takes kernel or fuse, not '%s'", eq + 1);
        }
      else if (strcmp (name, "keyring") == 0 || in_list (value_opts, name))
        {
          const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
          if (!val)
            return cairn_cli_usage_error (error, "option --%s needs a value", name);
          if (strcmp (name, "keyring") == 0)
            a->keyring = g_strdup (val);
          else
            g_ptr_array_add (a->launch, g_strdup_printf ("--%s=%s", name, val));
          a->have_user |= strcmp (name, "user") == 0;
          a->have_workdir |= strcmp (name, "workdir") == 0;
        }
      else if (in_list (flag_opts, name) && !eq)
        g_ptr_array_add (a->launch, g_strdup (arg));
      else
        return cairn_cli_usage_error (error, "unknown option '%s'", arg);
    }
  if (!a->ref)
    return cairn_cli_usage_error (error, "need a REF or COMMIT to run");
  i++;
  if (i < argc && strcmp (argv[i], "--") == 0)
    i++;
  a->cmd_start = i;
  for (; i < argc; i++)
    g_ptr_array_add (a->cmd, g_strdup (argv[i]));
  return TRUE;
}

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
check_signature_policy (CairnRepo *repo, RunArgs *a, const char *commit, GError **error)
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
  a->signature_checked = TRUE;
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

/* Read a file of the rootfs without following symlinks out of it. */
static char *
read_in_root (const char *root, const char *path)
{
  cairn_autofd rfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct open_how how
      = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  cairn_autofd fd = rfd < 0 ? -1 : (int)syscall (SYS_openat2, rfd, path, &how, sizeof how);
  if (fd < 0)
    return NULL;
  g_autoptr (GBytes) b = cairn_fd_read_all (fd, 1 << 20, NULL);
  return b ? g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b)) : NULL;
}

/* "name", "uid", "name:group", "uid:gid" -> "UID[:GID]" via /etc/passwd, /etc/group. */
static char *
resolve_user (const char *root, const char *spec, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 2);
  const char *files[] = { "/etc/passwd", "/etc/group" };
  char *ids[2] = { NULL, NULL };
  char *gid_from_passwd = NULL;
  for (int k = 0; k < 2 && parts[k]; k++)
    {
      if (g_ascii_isdigit (parts[k][0]))
        {
          ids[k] = g_strdup (parts[k]);
          continue;
        }
      g_autofree char *db = read_in_root (root, files[k]);
      g_auto (GStrv) lines = g_strsplit (db ? db : "", "\n", -1);
      for (char **l = lines; *l && !ids[k]; l++)
        {
          g_auto (GStrv) f = g_strsplit (*l, ":", 5);
          if (g_strv_length (f) >= 4 && strcmp (f[0], parts[k]) == 0)
            {
              ids[k] = g_strdup (f[2]);
              if (k == 0)
                gid_from_passwd = g_strdup (f[3]);
            }
        }
      if (!ids[k])
        {
          g_free (ids[0]);
          g_free (gid_from_passwd);
          cairn_throw (error, "image user '%s' not found in the image's %s", parts[k], files[k]);
          return NULL;
        }
    }
  if (!ids[1] && gid_from_passwd)
    ids[1] = gid_from_passwd;
  else
    g_free (gid_from_passwd);
  char *r = ids[1] ? g_strdup_printf ("%s:%s", ids[0], ids[1]) : g_strdup (ids[0]);
  g_free (ids[0]);
  g_free (ids[1]);
  return r;
}

/* Image defaults: env first (user --env given later wins), workdir, user, command. */
static gboolean
apply_image_defaults (CairnRepo *repo, const char *commit, const char *root, RunArgs *a,
                      GPtrArray *argv, guint *out_fixed, GStrv *out_image_cmd, GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  g_auto (GStrv) env = meta_strv (c.metadata, META_ENV);
  for (char **e = env; e && *e; e++)
    g_ptr_array_add (argv, g_strdup_printf ("--env=%s", *e));
  g_autofree char *wd = meta_str (c.metadata, META_WORKDIR);
  if (wd && !a->have_workdir)
    g_ptr_array_add (argv, g_strdup_printf ("--workdir=%s", wd));
  g_autofree char *user = meta_str (c.metadata, META_USER);
  if (user && !a->have_user)
    {
      g_autofree char *ids = resolve_user (root, user, error);
      if (!ids)
        return FALSE;
      g_ptr_array_add (argv, g_strdup_printf ("--user=%s", ids));
    }
  for (guint i = 0; i < a->launch->len; i++)
    g_ptr_array_add (argv, g_strdup (a->launch->pdata[i]));
  g_ptr_array_add (argv, g_strdup (root));
  g_ptr_array_add (argv, g_strdup ("--"));
  g_auto (GStrv) entry = meta_strv (c.metadata, META_ENTRYPOINT);
  g_auto (GStrv) cmd = meta_strv (c.metadata, META_CMD);
  guint before = argv->len;
  for (char **e = entry; e && *e; e++)
    g_ptr_array_add (argv, g_strdup (*e));
  *out_fixed = argv->len;
  if (a->cmd->len)
    for (guint i = 0; i < a->cmd->len; i++)
      g_ptr_array_add (argv, g_strdup (a->cmd->pdata[i]));
  else
    for (char **e = cmd; e && *e; e++)
      g_ptr_array_add (argv, g_strdup (*e));
  if (argv->len == before)
    return cairn_cli_usage_error (error,
                                  "no command given and commit %s records no image "
                                  "Entrypoint or Cmd",
                                  commit);
  *out_image_cmd = g_steal_pointer (&cmd);
  return TRUE;
}

/* Record the launch just approved, for the front end to replay while its
 * inputs hold (cli/run-record.h). Only the plainest decisions are recorded:
 * no signature check applied, the rev is a commit checksum or a local ref
 * file, the root is a cached checkout, and the user's command (if any)
 * follows the first "--" of the command line or there is no "--" at all.
 * Everything else always comes back here. */
static void
record_approval (CairnCli *cli, int argc, CairnRepo *repo, RunArgs *a, const char *root,
                 GPtrArray *launch_argv, guint fixed, char **image_cmd)
{
  if (a->mount || cli->verbose || a->signature_checked || !cli->argv_all)
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
  int idx = cli->argc_all - argc; /* where "run" is */
  int split = cairn_run_record_split (cli->argc_all, cli->argv_all);
  gboolean tail = split < cli->argc_all;
  if (tail && idx + a->cmd_start != split + 1)
    return;
  CairnRunRecord *r = cairn_run_record_new (cli->argc_all, cli->argv_all, split);
  g_autofree char *config = g_build_filename (repo_abs, "config", NULL);
  g_autofree char *lock = g_strconcat (root_abs, ".lock", NULL);
  if (ref_file)
    cairn_run_record_add_file (r, ref_file);
  cairn_run_record_add_file (r, config);
  cairn_run_record_set_lock (r, lock, root_abs);
  g_autoptr (GPtrArray) fixed_argv = g_ptr_array_new ();
  int need = 0;
  for (guint i = 0; i < (tail ? fixed : launch_argv->len); i++)
    if (launch_argv->pdata[i])
      {
        if (!need && strcmp (launch_argv->pdata[i], "--") == 0)
          need = (int)i + 2; /* the launcher's "--" and at least one word */
        g_ptr_array_add (fixed_argv, launch_argv->pdata[i]);
      }
  g_ptr_array_add (fixed_argv, NULL);
  cairn_run_record_set_exec (r, (char **)fixed_argv->pdata, tail ? image_cmd : NULL, tail, need);
  cairn_run_record_commit (r);
}

static char *
launcher_path (void)
{
  const char *env = g_getenv ("CAIRN_LAUNCH");
  if (env && *env)
    return g_strdup (env);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  if (self)
    {
      g_autofree char *dir = g_path_get_dirname (self);
      char *beside = g_build_filename (dir, "cairn-launch", NULL);
      if (g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE))
        return beside;
      g_free (beside);
    }
  return g_build_filename (BINDIR, "cairn-launch", NULL);
}

int
cairn_cmd_run (CairnCli *cli, int argc, char **argv, GError **error)
{
  RunArgs a = { .launch = g_ptr_array_new_with_free_func (g_free),
                .cmd = g_ptr_array_new_with_free_func (g_free) };
  g_autoptr (GPtrArray) launch_argv = g_ptr_array_new_with_free_func (g_free);
  int status = 1;
  g_autoptr (CairnRepo) repo = NULL;
  g_autofree char *commit = NULL, *root = NULL, *launcher = NULL, *bpf = NULL;
  int lock_fd = -1;
  g_autoptr (CairnRunMount) rm = NULL;
  guint fixed = 0;
  g_auto (GStrv) image_cmd = NULL;
  if (!parse_args (argc, argv, &a, error))
    {
      status = 2;
      goto out;
    }
  repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo || !(commit = cairn_repo_resolve_rev (repo, a.ref, FALSE, error)))
    goto out;
  /* From here on only the checksum is used: verified is what runs. */
  if (!check_signature_policy (repo, &a, commit, error))
    goto out;
  if (a.mount)
    {
      if (!(rm = cairn_run_mount_begin (repo, commit, a.mount_kind, error)))
        goto out;
      root = g_strdup (cairn_run_mount_root (rm));
    }
  else if (!cairn_checkout_cache_acquire (repo, commit, &root, &lock_fd, NULL, error))
    goto out;
  launcher = launcher_path ();
  g_ptr_array_add (launch_argv, g_strdup (launcher));
  bpf = g_build_filename (repo->path, "extensions", "cairn", "seccomp", NULL);
  g_ptr_array_add (launch_argv, g_strdup_printf ("--seccomp-cache=%s", bpf));
  if (!apply_image_defaults (repo, commit, root, &a, launch_argv, &fixed, &image_cmd, error))
    {
      status = (*error)->domain == G_OPTION_ERROR ? 2 : 1;
      goto out;
    }
  g_ptr_array_add (launch_argv, NULL);
  record_approval (cli, argc, repo, &a, root, launch_argv, fixed, image_cmd);
  if (rm)
    {
      /* This process serves the mount: the launcher runs as a child. */
      status = cairn_run_mount_exec (rm, launcher, (char **)launch_argv->pdata, error);
      status = status < 0 ? 125 : status;
      goto out;
    }
  /* Keep the shared lock across exec: cairn-launch holds it until the
   * container is gone, so prune cannot remove the checkout under it. */
  fcntl (lock_fd, F_SETFD, 0);
  if (cli->verbose)
    {
      g_autofree char *joined = g_strjoinv (" ", (char **)launch_argv->pdata);
      fprintf (stderr, "cairn: run: %s\n", joined);
    }
  fflush (NULL);
  execv (launcher, (char **)launch_argv->pdata);
  cairn_throw_errno (error, "executing %s", launcher);
  status = 125;
out:
  g_ptr_array_unref (a.launch);
  g_ptr_array_unref (a.cmd);
  g_free (a.keyring);
  g_free (a.ref);
  return status;
}
