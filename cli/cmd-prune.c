/* cairn prune [--dry-run] [--refs-only] [--keep-younger-than=DATE] [--depth=N]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-checkout.h"
#include "checkout/cairn-erofs.h"
#include <stdio.h>

int
cairn_cmd_prune (CairnCli *cli, int argc, char **argv, GError **error)
{
  CairnPruneOptions o = { .depth = -1 };
  g_autofree char *younger = NULL;
  gint depth = -1;
  GOptionEntry entries[] = { { "dry-run", 0, 0, G_OPTION_ARG_NONE, &o.dry_run,
                               "Only report what would be deleted", NULL },
                             { "no-prune", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &o.dry_run,
                               "Same as --dry-run", NULL },
                             { "refs-only", 0, 0, G_OPTION_ARG_NONE, &o.refs_only,
                               "Keep only what refs reach (delete unreferenced commits)", NULL },
                             { "keep-younger-than", 0, 0, G_OPTION_ARG_STRING, &younger,
                               "Also keep commits newer than DATE (implies --refs-only)", "DATE" },
                             { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
                               "Parents to keep per ref (-1: all, the default)", "N" },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, NULL,
                        "Delete unreachable objects (exclusive repository lock).", &argc, &argv,
                        error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  o.depth = depth;
  if (younger)
    {
      if (!cairn_cli_parse_timestamp (younger, &o.keep_younger_than, error))
        return 2;
      o.has_keep_younger = TRUE;
    }
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  CairnPruneStats st;
  if (!cairn_repo_prune (repo, &o, &st, error))
    return 1;
  /* Cached checkouts of `cairn run`: those no ref points to and no running
   * container holds. */
  guint removed = 0, images = 0;
  if (!o.dry_run)
    {
      g_autoptr (GHashTable) refs = cairn_repo_list_refs (repo, NULL, TRUE, error);
      if (!refs)
        return 1;
      g_autoptr (GHashTable) keep = g_hash_table_new (g_str_hash, g_str_equal);
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, refs);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_add (keep, v);
      if (!cairn_checkout_cache_prune (repo, keep, &removed, error))
        return 1;
      /* EROFS images of the kernel mount: those of pruned commits. */
      if (!cairn_erofs_cache_prune (repo, &images, error))
        return 1;
    }
  printf ("Total objects: %u\n", st.n_total);
  if (st.n_deleted == 0)
    printf ("No unreachable objects\n");
  else
    printf ("%s %u objects, %" G_GUINT64_FORMAT " bytes %s\n",
            o.dry_run ? "Would delete" : "Deleted", st.n_deleted, st.bytes_freed,
            o.dry_run ? "would be freed" : "freed");
  if (removed)
    printf ("Removed %u cached checkouts\n", removed);
  if (images)
    printf ("Removed %u cached EROFS images\n", images);
  if (st.n_stale_staging)
    printf ("Removed %u staging directories of interrupted transactions\n", st.n_stale_staging);
  return 0;
}
