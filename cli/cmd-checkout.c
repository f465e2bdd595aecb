/* cairn checkout [-U] [--copy] [--require-hardlinks] [--union|--union-add|--union-identical]
 *                [--whiteouts] [--subpath=PATH] [--force-copy-zerosized]
 *                [--progress=auto|bar|json|none] REF|COMMIT DEST
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "checkout/cairn-checkout.h"
#include <stdio.h>

static void
progress (guint64 files, guint64 bytes, gpointer data)
{
  cairn_cli_progress_counts (files, bytes);
}

int
cairn_cmd_checkout (CairnCli *cli, int argc, char **argv, GError **error)
{
  CairnCheckoutOptions o = { 0 };
  gboolean u = FALSE, ua = FALSE, ui = FALSE, zerosized = FALSE;
  g_autofree char *subpath = NULL;
  GOptionEntry entries[] = {
    { "user-mode", 'U', 0, G_OPTION_ARG_NONE, &o.user_mode,
      "Do not change owners or set xattrs; strip setuid/setgid on copies", NULL },
    { "copy", 'C', 0, G_OPTION_ARG_NONE, &o.force_copy, "Copy files instead of hardlinking", NULL },
    { "force-copy", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &o.force_copy, "Same as --copy",
      NULL },
    { "require-hardlinks", 'H', 0, G_OPTION_ARG_NONE, &o.require_hardlinks,
      "Fail instead of copying", NULL },
    { "union", 0, 0, G_OPTION_ARG_NONE, &u, "Check out into an existing DEST, replacing files",
      NULL },
    { "union-add", 0, 0, G_OPTION_ARG_NONE, &ua,
      "Check out into an existing DEST, keeping existing files", NULL },
    { "union-identical", 0, 0, G_OPTION_ARG_NONE, &ui,
      "Check out into an existing DEST; existing files must be identical", NULL },
    { "whiteouts", 0, 0, G_OPTION_ARG_NONE, &o.whiteouts,
      "Apply OCI/overlay whiteouts (.wh.NAME, .wh..wh..opq)", NULL },
    { "subpath", 0, 0, G_OPTION_ARG_STRING, &subpath, "Check out only PATH of the commit", "PATH" },
    { "force-copy-zerosized", 'z', 0, G_OPTION_ARG_NONE, &zerosized,
      "Copy zero-sized files (always done; for ostree compatibility)", NULL },
    { "verify", 0, 0, G_OPTION_ARG_NONE, &o.verify,
      "Hash every file object first; refuse one whose content is not its name", NULL },
    { "no-devino-cache", 0, 0, G_OPTION_ARG_NONE, &o.no_devino_cache,
      "Do not record the checkout for fast re-commits", NULL },
    { NULL }
  };
  if (!cairn_cli_parse (
          cli, entries, "REF|COMMIT DEST",
          "Check out a commit as a hardlink farm (bare, or bare-user with -U) or a copy.\n"
          "Do not modify hardlinked files in place: that changes the stored object.",
          &argc, &argv, error))
    return 2;
  if (argc != 3)
    return cairn_cli_usage_error (error, "need REF and DEST"), 2;
  if (u + ua + ui > 1)
    return cairn_cli_usage_error (error,
                                  "--union, --union-add and --union-identical exclude each other"),
           2;
  o.overwrite = u    ? CAIRN_CHECKOUT_UNION_FILES
                : ua ? CAIRN_CHECKOUT_UNION_ADD
                : ui ? CAIRN_CHECKOUT_UNION_IDENTICAL
                     : CAIRN_CHECKOUT_OVERWRITE_NONE;
  if (o.whiteouts && o.overwrite == CAIRN_CHECKOUT_OVERWRITE_NONE)
    o.overwrite = CAIRN_CHECKOUT_UNION_FILES;
  o.subpath = subpath;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  if (repo->mode == CAIRN_REPO_MODE_BARE_USER_ONLY)
    o.user_mode = TRUE; /* as ostree: nothing to chown or label */
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!commit)
    return 1;
  CairnCheckoutStats st = { 0 };
  if (cairn_cli_progress_enabled ())
    o.progress = progress;
  gboolean ok = cairn_checkout (repo, commit, AT_FDCWD, argv[2], &o, &st, error);
  cairn_cli_progress_end ();
  if (!ok)
    return 1;
  if (cli->verbose)
    fprintf (stderr,
             "cairn: checked out %s: %" G_GUINT64_FORMAT " hardlinked, %" G_GUINT64_FORMAT
             " copied (%" G_GUINT64_FORMAT " bytes), %" G_GUINT64_FORMAT
             " symlinks, %" G_GUINT64_FORMAT " dirs\n",
             commit, st.files_linked, st.files_copied, st.bytes_copied, st.symlinks, st.dirs);
  return 0;
}
