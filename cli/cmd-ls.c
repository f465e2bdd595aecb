/* cairn ls [-R] [--json] REV [PATH]
 * Output per entry: TYPE+MODE UID GID SIZE CHECKSUM PATH [-> TARGET]
 * (d = directory, - = file, l = symlink; a directory shows its dirmeta).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <string.h>

typedef struct
{
  CairnRepo *repo;
  gboolean recursive;
  gboolean json;
  GString *out;
  gboolean first;
} Ls;

static void
emit (Ls *ls, char type, guint32 mode, guint32 uid, guint32 gid, guint64 size, const char *csum,
      const char *path, const char *target)
{
  if (ls->json)
    {
      g_string_append (ls->out, ls->first ? "{" : ",{");
      ls->first = FALSE;
      g_string_append_printf (
          ls->out,
          "\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":%" G_GUINT64_FORMAT
          ",\"checksum\":",
          type == 'd'   ? "dir"
          : type == 'l' ? "symlink"
                        : "file",
          mode & 07777, uid, gid, size);
      cairn_json_append_string (ls->out, csum);
      g_string_append (ls->out, ",\"path\":");
      cairn_json_append_string (ls->out, path);
      if (target)
        {
          g_string_append (ls->out, ",\"target\":");
          cairn_json_append_string (ls->out, target);
        }
      g_string_append_c (ls->out, '}');
      return;
    }
  g_string_append_printf (ls->out, "%c%05o %u %u %" G_GUINT64_FORMAT " %s %s", type, mode & 07777,
                          uid, gid, size, csum, path);
  if (target)
    g_string_append_printf (ls->out, " -> %s", target);
  g_string_append_c (ls->out, '\n');
}

static gboolean
emit_dir (Ls *ls, const char *dirmeta, const char *path, GError **error)
{
  g_autoptr (GVariant) meta
      = cairn_repo_load_variant (ls->repo, CAIRN_OBJECT_DIR_META, dirmeta, error);
  guint32 uid, gid, mode;
  if (!meta || !cairn_dirmeta_parse (meta, &uid, &gid, &mode, NULL, error))
    return FALSE;
  emit (ls, 'd', mode, uid, gid, 0, dirmeta, path, NULL);
  return TRUE;
}

static gboolean
emit_file (Ls *ls, const char *csum, const char *path, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  if (!cairn_repo_load_file (ls->repo, csum, NULL, &fi, error))
    return cairn_prefix_error (error, "%s", path);
  emit (ls, S_ISLNK (fi.mode) ? 'l' : '-', fi.mode, fi.uid, fi.gid, fi.size, csum, path,
        fi.symlink_target);
  return TRUE;
}

static gboolean
list_dir (Ls *ls, const char *dirtree, const char *path, gboolean descend, GError **error)
{
  g_autoptr (GVariant) tree
      = cairn_repo_load_variant (ls->repo, CAIRN_OBJECT_DIR_TREE, dirtree, error);
  if (!tree)
    return FALSE;
  g_autoptr (GVariant) files = g_variant_get_child_value (tree, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (tree, 1);
  const char *sep = strcmp (path, "/") == 0 ? "" : "/";
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *sub = g_strconcat (path, sep, name, NULL);
      g_autofree char *t = cairn_checksum_from_variant (c1), *m = cairn_checksum_from_variant (c2);
      if (!emit_dir (ls, m, sub, error)
          || (descend && ls->recursive && !list_dir (ls, t, sub, TRUE, error)))
        return FALSE;
    }
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c);
      g_autofree char *sub = g_strconcat (path, sep, name, NULL);
      g_autofree char *h = cairn_checksum_from_variant (c);
      if (!emit_file (ls, h, sub, error))
        return FALSE;
    }
  return TRUE;
}

int
cairn_cmd_ls (CairnCli *cli, int argc, char **argv, GError **error)
{
  Ls ls = { .first = TRUE };
  GOptionEntry entries[]
      = { { "recursive", 'R', 0, G_OPTION_ARG_NONE, &ls.recursive, "List recursively", NULL },
          { "json", 0, 0, G_OPTION_ARG_NONE, &ls.json, "Output JSON", NULL },
          { NULL } };
  if (!cairn_cli_parse (
          cli, entries, "REF|COMMIT [PATH]",
          "List a directory of a commit: mode, uid, gid, size, checksum, path, symlink target.",
          &argc, &argv, error))
    return 2;
  if (argc < 2 || argc > 3)
    return cairn_cli_usage_error (error, "need REF [PATH]"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  ls.repo = repo;
  g_autofree char *commit = cairn_repo_resolve_rev (repo, argv[1], FALSE, error);
  if (!commit)
    return 1;
  const char *arg = argc > 2 ? argv[2] : "/";
  g_autofree char *path = arg[0] == '/' ? g_strdup (arg) : g_strconcat ("/", arg, NULL);
  while (strlen (path) > 1 && g_str_has_suffix (path, "/"))
    path[strlen (path) - 1] = '\0';
  g_auto (CairnPathEntry) e = { 0 };
  if (!cairn_repo_lookup_path (repo, commit, path, &e, error))
    return 1;
  ls.out = g_string_new (ls.json ? "[" : NULL);
  gboolean ok = e.is_dir ? (emit_dir (&ls, e.dirmeta, path, error)
                            && list_dir (&ls, e.dirtree, path, TRUE, error))
                         : emit_file (&ls, e.file, path, error);
  if (ok)
    {
      if (ls.json)
        g_string_append (ls.out, "]\n");
      fputs (ls.out->str, stdout);
    }
  g_string_free (ls.out, TRUE);
  return ok ? 0 : 1;
}
