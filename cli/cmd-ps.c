/* cairn ps [--all] [--json]: the containers of cairn run, from the OCI
 * runtime's list (cli/cairn-containers.h). Without --all, only those that
 * are running (or paused, or created and not started).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>
#include <string.h>

static char *
ago (GDateTime *t)
{
  if (!t)
    return g_strdup ("?");
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  gint64 s = g_date_time_difference (now, t) / G_TIME_SPAN_SECOND;
  if (s < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " seconds", MAX (s, 0));
  if (s < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " minutes", s / 60);
  if (s < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT " hours", s / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT " days", s / 86400);
}

/* podman's words: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
static char *
status_text (const CairnContainer *c)
{
  if (!strcmp (c->status, "running"))
    {
      g_autofree char *up = ago (c->created);
      return g_strdup_printf ("Up %s", up);
    }
  if (!strcmp (c->status, "stopped"))
    {
      if (c->exit_code < 0)
        return g_strdup ("Exited");
      g_autofree char *when = ago (c->finished);
      return g_strdup_printf ("Exited (%d) %s ago", c->exit_code, when);
    }
  if (!strcmp (c->status, "paused"))
    return g_strdup ("Paused");
  return g_strdup ("Created");
}

static void
append_time (GString *s, const char *key, GDateTime *t)
{
  g_string_append_printf (s, ",\"%s\":", key);
  if (!t)
    {
      g_string_append (s, "null");
      return;
    }
  g_autofree char *iso = g_date_time_format_iso8601 (t);
  cairn_json_append_string (s, iso);
}

static void
append_json (GString *s, const CairnContainer *c)
{
  g_string_append (s, "{\"name\":");
  cairn_json_append_string (s, c->id);
  g_string_append (s, ",\"image\":");
  cairn_json_append_string (s, c->image ? c->image : "");
  g_string_append (s, ",\"commit\":");
  cairn_json_append_string (s, c->commit ? c->commit : "");
  g_string_append (s, ",\"command\":[");
  for (char **a = c->command; a && *a; a++)
    {
      if (a != c->command)
        g_string_append_c (s, ',');
      cairn_json_append_string (s, *a);
    }
  g_string_append (s, "],\"status\":");
  cairn_json_append_string (s, !strcmp (c->status, "stopped") ? "exited" : c->status);
  g_string_append_printf (s, ",\"pid\":%" G_GINT64_FORMAT, c->pid);
  if (c->exit_code >= 0)
    g_string_append_printf (s, ",\"exit_code\":%d", c->exit_code);
  else
    g_string_append (s, ",\"exit_code\":null");
  append_time (s, "created", c->created);
  append_time (s, "finished", c->finished);
  g_string_append_printf (s, ",\"log\":%s}", c->has_log ? "true" : "false");
}

static void
print_row (const CairnContainer *c)
{
  g_autofree char *cmd = c->command ? g_strjoinv (" ", c->command) : g_strdup ("");
  g_autofree char *created = ago (c->created);
  g_autofree char *status = status_text (c);
  if (strlen (cmd) > 30)
    strcpy (cmd + 27, "...");
  printf ("%-20s %-20s %-30s %-14s %s\n", c->id, c->image ? c->image : "", cmd, created, status);
}

int
cairn_cmd_ps (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean all = FALSE, json = FALSE;
  GOptionEntry entries[]
      = { { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Also the containers that exited", NULL },
          { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array", NULL },
          { NULL } };
  if (!cairn_cli_parse (cli, entries, NULL, "List the containers of cairn run.", &argc, &argv,
                        error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  g_autoptr (GPtrArray) list = dir ? cairn_containers_list (dir, error) : NULL;
  if (!list)
    return 1;
  g_autoptr (GString) s = g_string_new (json ? "[" : NULL);
  if (!json)
    printf ("%-20s %-20s %-30s %-14s %s\n", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS");
  gboolean first = TRUE;
  for (guint i = 0; i < list->len; i++)
    {
      const CairnContainer *c = list->pdata[i];
      if (!all && !cairn_container_is_running (c))
        continue;
      if (json)
        {
          if (!first)
            g_string_append_c (s, ',');
          append_json (s, c);
        }
      else
        print_row (c);
      first = FALSE;
    }
  if (json)
    printf ("%s]\n", s->str);
  return fflush (stdout) == 0 ? 0 : 1;
}
