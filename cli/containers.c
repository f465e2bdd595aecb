/* The containers of `cairn run`: the OCI runtime's state and the bundles
 * (see cli/cairn-containers.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-containers.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ANNOT_REF "org.cairn.ref"
#define ANNOT_COMMIT "org.cairn.commit"

char *
cairn_containers_dir (GError **error)
{
  const char *env = g_getenv ("CAIRN_CONTAINERS");
  const char *xdg = g_getenv ("XDG_RUNTIME_DIR");
  if (env && *env)
    return g_canonicalize_filename (env, NULL);
  if (geteuid () == 0)
    return g_strdup ("/run/cairn/containers");
  if (xdg && xdg[0] == '/')
    return g_build_filename (xdg, "cairn", "containers", NULL);
  cairn_throw (error, "no directory for containers: set XDG_RUNTIME_DIR (or CAIRN_CONTAINERS)");
  return NULL;
}

char *
cairn_launcher_path (void)
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

gboolean
cairn_containers_runtime (const char *dir, const char *const *args, char **out_stdout,
                          GError **error)
{
  g_autofree char *launcher = cairn_launcher_path ();
  g_autofree char *root = g_build_filename (dir, "runtime", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, launcher);
  g_ptr_array_add (argv, (char *)"--root");
  g_ptr_array_add (argv, root);
  for (; *args; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);
  int wait_status = 0;
  g_autofree char *out = NULL, *err = NULL;
  if (!g_spawn_sync (NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &wait_status, error))
    return cairn_prefix_error (error, "running %s", launcher);
  if (!WIFEXITED (wait_status) || WEXITSTATUS (wait_status) != 0)
    {
      /* the runtime's last line says why ("cairn-launch: MESSAGE") */
      g_strchomp (err);
      const char *nl = strrchr (err, '\n');
      const char *msg = nl ? nl + 1 : err;
      if (g_str_has_prefix (msg, "cairn-launch: "))
        msg += 14;
      return cairn_throw (error, "%s", *msg ? msg : "the OCI runtime failed");
    }
  if (out_stdout)
    *out_stdout = g_steal_pointer (&out);
  return TRUE;
}

void
cairn_container_free (CairnContainer *c)
{
  if (!c)
    return;
  g_free (c->id);
  g_free (c->status);
  g_free (c->bundle);
  g_clear_pointer (&c->created, g_date_time_unref);
  g_clear_pointer (&c->finished, g_date_time_unref);
  g_free (c->image);
  g_free (c->commit);
  g_strfreev (c->command);
  g_free (c);
}

gboolean
cairn_container_is_running (const CairnContainer *c)
{
  return g_strcmp0 (c->status, "stopped") != 0;
}

char *
cairn_containers_bundle (const char *dir, const char *name)
{
  return g_build_filename (dir, "bundles", name, NULL);
}

/* process.args of the bundle's config.json, without the /dev/init that
 * --init puts in front (runtime/oci-print.c). */
static char **
bundle_command (const char *bundle)
{
  g_autofree char *path = g_build_filename (bundle, "config.json", NULL);
  g_autofree char *text = NULL;
  gsize len;
  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&text), len);
  g_autoptr (GVariant) cfg = cairn_json_parse (b, path, NULL);
  g_autoptr (GVariant) proc = cfg ? cairn_json_get (cfg, "process", G_VARIANT_TYPE_VARDICT) : NULL;
  g_autoptr (GVariant) args = proc ? cairn_json_strv (proc, "args") : NULL;
  if (!args)
    return NULL;
  gsize n;
  g_autofree const char **v = g_variant_get_strv (args, &n);
  gsize skip = n >= 2 && !strcmp (v[0], "/dev/init") && !strcmp (v[1], "--container-init") ? 2 : 0;
  char **out = g_new0 (char *, n - skip + 1);
  for (gsize i = skip; i < n; i++)
    out[i - skip] = g_strdup (v[i]);
  return out;
}

/* BUNDLE/exit: the status the launcher or the monitor wrote (runtime/client.c). */
static void
bundle_exit (CairnContainer *c)
{
  g_autofree char *path = g_build_filename (c->bundle, "exit", NULL);
  g_autofree char *text = NULL;
  struct stat st;
  c->exit_code = -1;
  if (!g_file_get_contents (path, &text, NULL, NULL) || stat (path, &st) < 0)
    return;
  c->exit_code = atoi (text);
  c->finished = g_date_time_new_from_unix_local (st.st_mtime);
}

static CairnContainer *
container_from_state (GVariant *st)
{
  g_autoptr (CairnContainer) c = g_new0 (CairnContainer, 1);
  c->id = cairn_json_dup_string (st, "id");
  c->status = cairn_json_dup_string (st, "status");
  c->bundle = cairn_json_dup_string (st, "bundle");
  if (!c->id || !c->status || !c->bundle)
    return NULL;
  g_autoptr (GVariant) pid = cairn_json_get (st, "pid", G_VARIANT_TYPE_DOUBLE);
  c->pid = pid ? (gint64)g_variant_get_double (pid) : 0;
  g_autofree char *created = cairn_json_dup_string (st, "created");
  c->created = created ? g_date_time_new_from_iso8601 (created, NULL) : NULL;
  g_autoptr (GVariant) ann = cairn_json_get (st, "annotations", G_VARIANT_TYPE_VARDICT);
  c->image = ann ? cairn_json_dup_string (ann, ANNOT_REF) : NULL;
  c->commit = ann ? cairn_json_dup_string (ann, ANNOT_COMMIT) : NULL;
  c->command = bundle_command (c->bundle);
  bundle_exit (c);
  g_autofree char *log = g_build_filename (c->bundle, "ctr.log", NULL);
  c->has_log = g_file_test (log, G_FILE_TEST_EXISTS);
  return g_steal_pointer (&c);
}

static gint
by_created (gconstpointer a, gconstpointer b)
{
  const CairnContainer *x = *(CairnContainer **)a, *y = *(CairnContainer **)b;
  if (x->created && y->created)
    return g_date_time_compare (x->created, y->created);
  return g_strcmp0 (x->id, y->id);
}

GPtrArray *
cairn_containers_list (const char *dir, GError **error)
{
  const char *args[] = { "list", "--format", "json", NULL };
  g_autofree char *out = NULL;
  if (!cairn_containers_runtime (dir, args, &out, error))
    return cairn_prefix_error (error, "listing the containers of %s", dir), NULL;
  g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&out), strlen (out ? out : ""));
  g_autoptr (GVariant) arr = cairn_json_parse (b, "the runtime's list", error);
  if (!arr)
    return NULL;
  g_autoptr (GPtrArray) states = cairn_json_objects (arr);
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_container_free);
  for (guint i = 0; i < states->len; i++)
    {
      CairnContainer *c = container_from_state (states->pdata[i]);
      if (c)
        g_ptr_array_add (list, c);
    }
  g_ptr_array_sort (list, by_created);
  return list;
}

CairnContainer *
cairn_containers_get (const char *dir, const char *name, GError **error)
{
  const char *args[] = { "state", name, NULL };
  g_autofree char *out = NULL;
  if (!cairn_validate_filename (name, -1, NULL))
    return cairn_throw (error, "invalid container name '%s'", name), NULL;
  g_autofree char *bundle = cairn_containers_bundle (dir, name);
  g_autofree char *root = g_build_filename (dir, "runtime", name, NULL);
  if (!g_file_test (root, G_FILE_TEST_IS_DIR))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no such container: %s", name), NULL;
  g_autoptr (GError) local = NULL;
  if (!cairn_containers_runtime (dir, args, &out, &local))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no such container: %s", name), NULL;
  g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&out), strlen (out ? out : ""));
  g_autoptr (GVariant) st = cairn_json_parse (b, "the runtime's state", error);
  CairnContainer *c = st ? container_from_state (st) : NULL;
  if (st && !c)
    cairn_throw (error, "the runtime's state of %s is incomplete", name);
  return c;
}

gboolean
cairn_containers_check_running (const char *dir, const char *name, GError **error)
{
  g_autoptr (CairnContainer) c = cairn_containers_get (dir, name, error);
  if (!c)
    return FALSE;
  if (!cairn_container_is_running (c))
    return cairn_throw (error, "container %s is not running", name);
  return TRUE;
}

gboolean
cairn_containers_remove_bundle (const char *dir, const char *name, GError **error)
{
  g_autofree char *bundles = g_build_filename (dir, "bundles", NULL);
  g_autofree char *work = g_build_filename (bundles, name, "overlay", "work", "work", NULL);
  /* overlayfs makes its work directory mode 000 */
  (void)chmod (work, 0700);
  cairn_autofd dfd = open (bundles, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? TRUE : cairn_throw_errno (error, "opening %s", bundles);
  if (!cairn_rm_rf_at (dfd, name, error))
    return cairn_prefix_error (error, "removing the container %s", name);
  return TRUE;
}

gboolean
cairn_containers_signal (const char *dir, const char *name, const char *signal, gboolean all,
                         GError **error)
{
  const char *args[]
      = { "kill", all ? "--all" : name, all ? name : signal, all ? signal : NULL, NULL };
  return cairn_containers_runtime (dir, args, NULL, error);
}

/* Until the runtime says the container is stopped (or gone), at most
 * @timeout_ms. TRUE when it is. */
gboolean
cairn_containers_wait_stopped (const char *dir, const char *name, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (CairnContainer) c = cairn_containers_get (dir, name, &local);
      if (!c || !cairn_container_is_running (c))
        return TRUE;
      if (g_get_monotonic_time () >= end)
        return FALSE;
      g_usleep (20000);
    }
}
