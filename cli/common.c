/* Option parsing, repository resolution, progress and JSON helpers.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-cli.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gboolean
cairn_cli_usage_error (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, msg);
  return FALSE;
}

/* --progress=auto|bar|json|none, for the commands whose work can be long.
 * auto: the bar when stderr is a terminal, nothing otherwise (scripts that
 * read stderr get what they had; they ask for json). */
typedef enum
{
  PROGRESS_AUTO,
  PROGRESS_BAR,
  PROGRESS_JSON,
  PROGRESS_NONE,
} ProgressMode;

static ProgressMode progress_mode;
static const char *progress_command;
static gint64 progress_start;
static gboolean progress_shown, progress_have_counts;
static guint64 progress_items, progress_bytes;

static const char *const progress_commands[]
    = { "checkout", "commit", "import", "pull", "push", NULL };

static gboolean
on_progress (const char *name, const char *value, gpointer data, GError **error)
{
  static const char *const modes[] = { "auto", "bar", "json", "none", NULL };
  for (int i = 0; modes[i]; i++)
    if (!strcmp (value, modes[i]))
      {
        progress_mode = (ProgressMode)i;
        return TRUE;
      }
  return cairn_cli_usage_error (error, "--progress takes auto, bar, json or none, not '%s'", value);
}

static const GOptionEntry progress_entry
    = { "progress",
        0,
        0,
        G_OPTION_ARG_CALLBACK,
        (gpointer)on_progress,
        "Progress on stderr: a bar with totals and rate, JSON events (one object a line) or none "
        "(auto: the bar on a terminal)",
        "auto|bar|json|none" };

/* @entries with --progress added for the commands that report it. */
static GOptionEntry *
with_progress (CairnCli *cli, const GOptionEntry *entries)
{
  if (!cli->name || !g_strv_contains (progress_commands, cli->name))
    return NULL;
  progress_command = cli->name;
  gsize n = 0;
  while (entries && entries[n].long_name)
    n++;
  GOptionEntry *all = g_new0 (GOptionEntry, n + 2);
  if (n)
    memcpy (all, entries, n * sizeof *all);
  all[n] = progress_entry;
  return all;
}

CairnCliOptionDump *cairn_cli_option_dump;

static void
dump_entries (CairnCliOptionDump *d, const GOptionEntry *entries, const char *params)
{
  g_free (d->params);
  d->params = g_strdup (params ? params : "");
  for (const GOptionEntry *e = entries; e && e->long_name; e++)
    {
      if (e->flags & G_OPTION_FLAG_HIDDEN)
        continue;
      CairnCliOption *o = g_new0 (CairnCliOption, 1);
      o->long_name = g_strdup (e->long_name);
      o->short_name = e->short_name;
      o->takes_value = e->arg != G_OPTION_ARG_NONE && !(e->flags & G_OPTION_FLAG_NO_ARG);
      o->arg_description = g_strdup (e->arg_description);
      o->description = g_strdup (e->description);
      g_ptr_array_add (d->options, o);
    }
}

gboolean
cairn_cli_parse_full (CairnCli *cli, GOptionEntry *entries, gpointer user_data,
                      gboolean stop_at_first_argument, const char *param_string,
                      const char *description, int *argc, char ***argv, GError **error)
{
  g_autofree GOptionEntry *all = with_progress (cli, entries);
  if (all)
    entries = all;
  if (cairn_cli_option_dump)
    {
      dump_entries (cairn_cli_option_dump, entries, param_string);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "options dumped");
      return FALSE;
    }
  g_autofree char *params = g_strdup_printf ("%s%s%s", cli->name, param_string ? " " : "",
                                             param_string ? param_string : "");
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  if (entries)
    {
      GOptionGroup *g = g_option_group_new (NULL, NULL, NULL, user_data, NULL);
      g_option_group_add_entries (g, entries);
      g_option_context_set_main_group (ctx, g);
    }
  if (description)
    g_option_context_set_summary (ctx, description);
  g_option_context_set_help_enabled (ctx, TRUE);
  /* run: options end at REF, whatever follows is the container's command */
  g_option_context_set_strict_posix (ctx, stop_at_first_argument);
  /* Shift so that argv[0] is "cairn COMMAND" in --help output. */
  g_set_prgname ("cairn");
  return g_option_context_parse (ctx, argc, argv, error);
}

gboolean
cairn_cli_parse_with_data (CairnCli *cli, GOptionEntry *entries, gpointer data,
                           const char *param_string, const char *description, int *argc,
                           char ***argv, GError **error)
{
  return cairn_cli_parse_full (cli, entries, data, FALSE, param_string, description, argc, argv,
                               error);
}

gboolean
cairn_cli_parse (CairnCli *cli, GOptionEntry *entries, const char *param_string,
                 const char *description, int *argc, char ***argv, GError **error)
{
  return cairn_cli_parse_with_data (cli, entries, NULL, param_string, description, argc, argv,
                                    error);
}

char *
cairn_cli_default_repo_path (void)
{
  const char *env = g_getenv ("CAIRN_REPO");
  if (env && *env)
    return g_strdup (env);
  if (getuid () == 0)
    return g_strdup ("/var/lib/cairn/repo");
  return g_build_filename (g_get_user_data_dir (), "cairn", "repo", NULL);
}

const char *
cairn_cli_repo_path (CairnCli *cli)
{
  if (cli->repo_path == NULL)
    cli->repo_path = cairn_cli_default_repo_path ();
  return cli->repo_path;
}

gboolean
cairn_cli_progress_enabled (void)
{
  /* Asked once per directory by a commit's walk: the answer cannot change
   * during a run, so the terminal is probed once (an ioctl each time). */
  static int auto_enabled = -1;
  if (progress_mode == PROGRESS_AUTO)
    {
      if (auto_enabled < 0)
        auto_enabled = isatty (STDERR_FILENO) && g_getenv ("CAIRN_NO_PROGRESS") == NULL;
      return auto_enabled;
    }
  return progress_mode != PROGRESS_NONE;
}

static double
progress_elapsed (void)
{
  if (!progress_start)
    progress_start = g_get_monotonic_time ();
  return (double)(g_get_monotonic_time () - progress_start) / G_USEC_PER_SEC;
}

static void
progress_json (const char *fields)
{
  g_autoptr (GString) s = g_string_new ("{\"command\":");
  cairn_json_append_string (s, progress_command ? progress_command : "cairn");
  g_string_append_printf (s, ",\"elapsed\":%.3f%s}\n", progress_elapsed (), fields);
  fputs (s->str, stderr);
  fflush (stderr);
}

void
cairn_cli_progress (const char *fmt, ...)
{
  if (!cairn_cli_progress_enabled ())
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  progress_shown = TRUE;
  if (progress_mode == PROGRESS_JSON)
    {
      g_autoptr (GString) f = g_string_new (",\"message\":");
      cairn_json_append_string (f, msg);
      progress_json (f->str);
      return;
    }
  fprintf (stderr, "\r\033[K%s", msg);
  fflush (stderr);
}

static char *
counts_fields (void)
{
  double t = progress_elapsed ();
  return g_strdup_printf (",\"files\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
                          ",\"bytes_per_second\":%.0f",
                          progress_items, progress_bytes, t > 0 ? progress_bytes / t : 0.0);
}

void
cairn_cli_progress_counts (guint64 files, guint64 bytes)
{
  if (!cairn_cli_progress_enabled ())
    return;
  progress_items = files;
  progress_bytes = bytes;
  progress_have_counts = TRUE;
  progress_shown = TRUE;
  if (progress_mode == PROGRESS_JSON)
    {
      g_autofree char *f = counts_fields ();
      progress_json (f);
      return;
    }
  double t = progress_elapsed ();
  fprintf (stderr, "\r\033[K%s: %" G_GUINT64_FORMAT " files, %.1f MiB, %.1f MiB/s",
           progress_command ? progress_command : "cairn", files, bytes / 1048576.0,
           t > 0 ? bytes / 1048576.0 / t : 0.0);
  fflush (stderr);
}

void
cairn_cli_progress_end (void)
{
  if (!progress_shown)
    return;
  progress_shown = FALSE;
  if (progress_mode == PROGRESS_JSON)
    {
      g_autofree char *f = progress_have_counts ? counts_fields () : g_strdup ("");
      g_autofree char *done = g_strconcat (f, ",\"done\":true", NULL);
      progress_json (done);
      return;
    }
  fprintf (stderr, "\r\033[K");
  fflush (stderr);
}

void
cairn_json_append_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const guchar *p = (const guchar *)(str ? str : ""); *p; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (s, "\\\"");
          break;
        case '\\':
          g_string_append (s, "\\\\");
          break;
        case '\n':
          g_string_append (s, "\\n");
          break;
        case '\t':
          g_string_append (s, "\\t");
          break;
        case '\r':
          g_string_append (s, "\\r");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (s, "\\u%04x", *p);
          else
            g_string_append_c (s, *p);
        }
    }
  g_string_append_c (s, '"');
}

CairnRepo *
cairn_cli_open_repo (CairnCli *cli, gboolean create_default, GError **error)
{
  const char *path = cairn_cli_repo_path (cli);
  if (create_default && !cli->repo_explicit)
    {
      g_autofree char *objects = g_build_filename (path, "objects", NULL);
      CairnRepoMode mode = getuid () == 0 ? CAIRN_REPO_MODE_BARE : CAIRN_REPO_MODE_BARE_USER;
      if (!g_file_test (objects, G_FILE_TEST_IS_DIR) && !cairn_repo_create (path, mode, error))
        return NULL;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no repository at %s (`cairn init` makes one; %s)", path,
                   cli->repo_explicit ? "or give another --repo"
                                      : "commands that write make the default one");
      return NULL;
    }
  return cairn_repo_open (path, error);
}

gboolean
cairn_cli_default_repo_missing (CairnCli *cli)
{
  if (cli->repo_explicit)
    return FALSE;
  g_autofree char *objects = g_build_filename (cairn_cli_repo_path (cli), "objects", NULL);
  return !g_file_test (objects, G_FILE_TEST_IS_DIR);
}

static void
print_value (GString *s, GVariant *v)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    g_string_append (s, g_variant_get_string (v, NULL));
  else
    {
      g_autofree char *t = g_variant_print (v, TRUE);
      g_string_append (s, t);
    }
}

void
cairn_cli_print_metadata (GVariant *dict, const char *indent)
{
  GVariantIter it;
  const char *k;
  GVariant *v;
  g_variant_iter_init (&it, dict);
  while (g_variant_iter_loop (&it, "{&sv}", &k, &v))
    {
      g_autoptr (GString) s = g_string_new (NULL);
      print_value (s, v);
      printf ("%s%s: %s\n", indent, k, s->str);
    }
}

void
cairn_json_append_variant (GString *s, GVariant *v)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (v);
      cairn_json_append_variant (s, inner);
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    cairn_json_append_string (s, g_variant_get_string (v, NULL));
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    g_string_append (s, g_variant_get_boolean (v) ? "true" : "false");
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
    {
      gsize n;
      g_autofree const char **strv = g_variant_get_strv (v, &n);
      g_string_append_c (s, '[');
      for (gsize i = 0; i < n; i++)
        {
          if (i)
            g_string_append_c (s, ',');
          cairn_json_append_string (s, strv[i]);
        }
      g_string_append_c (s, ']');
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
    {
      GVariantIter it;
      const char *k;
      GVariant *val;
      gboolean first = TRUE;
      g_string_append_c (s, '{');
      g_variant_iter_init (&it, v);
      while (g_variant_iter_loop (&it, "{&sv}", &k, &val))
        {
          if (!first)
            g_string_append_c (s, ',');
          first = FALSE;
          cairn_json_append_string (s, k);
          g_string_append_c (s, ':');
          cairn_json_append_variant (s, val);
        }
      g_string_append_c (s, '}');
    }
  else
    {
      g_autofree char *t = g_variant_print (v, TRUE);
      cairn_json_append_string (s, t);
    }
}

gboolean
cairn_cli_parse_size (const char *opt, const char *s, guint64 *out, GError **error)
{
  char *end = NULL;
  if (!s || !g_ascii_isdigit (s[0]))
    return cairn_cli_usage_error (error, "invalid %s '%s' (a size like 512M)", opt, s ? s : "");
  guint64 v = g_ascii_strtoull (s, &end, 10);
  guint shift = 0;
  switch (g_ascii_toupper (*end))
    {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    case 'T':
      shift = 40;
      break;
    case '\0':
      break;
    default:
      return cairn_cli_usage_error (error, "invalid %s '%s' (a size like 512M)", opt, s);
    }
  if (shift && (end[1] != '\0' && g_ascii_strcasecmp (end + 1, "iB") != 0 && end[1] != 'B'))
    return cairn_cli_usage_error (error, "invalid %s '%s' (a size like 512M)", opt, s);
  if (v > (G_MAXUINT64 >> shift))
    return cairn_cli_usage_error (error, "%s '%s' is too large", opt, s);
  *out = v << shift;
  return TRUE;
}

gboolean
cairn_cli_parse_limits (const char *max_object, const char *max_tree, CairnCommitOptions *opts,
                        GError **error)
{
  return (!max_object
          || cairn_cli_parse_size ("--max-object-size", max_object, &opts->max_object_size, error))
         && (!max_tree
             || cairn_cli_parse_size ("--max-tree-size", max_tree, &opts->max_tree_size, error));
}

gboolean
cairn_cli_parse_timestamp (const char *s, guint64 *out, GError **error)
{
  if (s[0] == '@')
    {
      char *end = NULL;
      guint64 v = g_ascii_strtoull (s + 1, &end, 10);
      if (!end || *end || end == s + 1)
        return cairn_cli_usage_error (error, "invalid timestamp '%s'", s);
      *out = v;
      return TRUE;
    }
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (s, utc);
  if (!dt)
    {
      /* Plain "YYYY-MM-DD" */
      g_autofree char *full = g_strconcat (s, "T00:00:00Z", NULL);
      dt = g_date_time_new_from_iso8601 (full, utc);
    }
  if (!dt)
    return cairn_cli_usage_error (error, "invalid timestamp '%s' (want @EPOCH or ISO 8601)", s);
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

char *
cairn_cli_format_time (guint64 ts)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (ts);
  if (!dt)
    return g_strdup_printf ("@%" G_GUINT64_FORMAT, ts);
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S +0000");
}
