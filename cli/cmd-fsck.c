/* cairn fsck [--json] [--delete]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>

static void
append_strs (GString *s, GPtrArray *a)
{
  g_string_append_c (s, '[');
  for (guint i = 0; i < a->len; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      cairn_json_append_string (s, a->pdata[i]);
    }
  g_string_append_c (s, ']');
}

static void
print_json (const CairnFsckReport *r)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_string_append_printf (s,
                          "{\"objects\":%u,\"commits\":%u,\"partial_commits\":%u,\"refs\":%u,"
                          "\"deleted\":%u,\"ok\":%s,\"problems\":[",
                          r->n_objects, r->n_commits, r->n_partial, r->n_refs, r->n_deleted,
                          r->problems->len ? "false" : "true");
  for (guint i = 0; i < r->problems->len; i++)
    {
      CairnFsckProblem *p = r->problems->pdata[i];
      g_string_append (s, i ? ",{\"object\":" : "{\"object\":");
      cairn_json_append_string (s, p->object);
      g_string_append_printf (s,
                              ",\"kind\":\"%s\",\"message\":", p->missing ? "missing" : "corrupt");
      cairn_json_append_string (s, p->message);
      g_string_append (s, ",\"commits\":");
      append_strs (s, p->commits);
      g_string_append (s, ",\"refs\":");
      append_strs (s, p->refs);
      g_string_append_c (s, '}');
    }
  g_string_append (s, "]}\n");
  fputs (s->str, stdout);
}

int
cairn_cmd_fsck (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE, del = FALSE, verity = FALSE;
  GOptionEntry entries[] = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON", NULL },
                             { "delete", 0, 0, G_OPTION_ARG_NONE, &del,
                               "Delete corrupt objects and mark the commits that need them partial "
                               "(a later pull repairs them)",
                               NULL },
                             { "verity", 0, 0, G_OPTION_ARG_NONE, &verity,
                               "Then enable fs-verity on every file object, so that the kernel "
                               "mount refuses an object changed behind the store's back",
                               NULL },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, NULL,
                        "Re-hash every object and check every commit's tree is complete.", &argc,
                        &argv, error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_auto (CairnFsckReport) r = { 0 };
  if (!cairn_repo_fsck (repo, del, 0, &r, error))
    return 1;
  if (json)
    print_json (&r);
  else
    {
      for (guint i = 0; i < r.problems->len; i++)
        {
          CairnFsckProblem *p = r.problems->pdata[i];
          fprintf (stderr, "cairn: fsck: %s %s: %s\n", p->missing ? "missing" : "corrupt",
                   p->object, p->message);
          for (guint j = 0; j < p->commits->len; j++)
            fprintf (stderr, "  breaks commit %s\n", (char *)p->commits->pdata[j]);
          for (guint j = 0; j < p->refs->len; j++)
            fprintf (stderr, "  breaks ref %s\n", (char *)p->refs->pdata[j]);
        }
      if (r.n_partial)
        printf ("%u partial commits not verified\n", r.n_partial);
      if (r.n_deleted)
        printf ("Deleted %u corrupt objects; affected commits marked partial\n", r.n_deleted);
      if (r.problems->len == 0)
        printf ("fsck of %u objects and %u commits completed - no errors found.\n", r.n_objects,
                r.n_commits);
      else
        printf ("fsck found %u problems in %u objects and %u commits.\n", r.problems->len,
                r.n_objects, r.n_commits);
    }
  if (r.problems->len)
    return 1;
  if (verity)
    {
      guint n = 0;
      if (!cairn_repo_enable_verity (repo, &n, error))
        return 1;
      if (!json)
        printf ("fs-verity enabled on %u file objects\n", n);
    }
  return 0;
}
