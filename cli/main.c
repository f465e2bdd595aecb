/* cairn — content-addressed rootfs store with a bundled container launcher.
 * Entry point: global options, the dispatch table, error printing, exit codes
 * (0 ok, 1 operation failed, 2 usage error; run: the container's status).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-cli.h"
#include "cli/cairn-commands.h"
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const CairnCommand commands[] = {
#define CAIRN_COMMAND(name, fn, summary) { name, fn, summary },
#ifdef CAIRN_CORE
#define CAIRN_COMMAND_IO(name, fn, summary)
#else
#define CAIRN_COMMAND_IO CAIRN_COMMAND
#endif
#include "cli/cairn-commands.def"
#undef CAIRN_COMMAND_IO
#undef CAIRN_COMMAND
  { NULL, NULL, NULL }
};

const CairnCommand *
cairn_cli_commands (void)
{
  return commands;
}

static const CairnCommand *
find_command (const char *name)
{
  for (const CairnCommand *c = commands; c->name; c++)
    if (strcmp (c->name, name) == 0)
      return c;
  return NULL;
}

/* Edit distance between two short words (for "did you mean"). */
static size_t
distance (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  if (la > 31 || lb > 31)
    return SIZE_MAX;
  size_t d[32][32];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++)
      {
        size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
        size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
        d[i][j] = MIN (sub, MIN (del, ins));
      }
  return d[la][lb];
}

/* One line and a hint, with the nearest command when one is close. */
static int
unknown_command (const char *name)
{
  const char *best = NULL;
  size_t best_d = 3; /* at most two edits away */
  for (const CairnCommand *c = commands; c->name; c++)
    {
      size_t d = distance (name, c->name);
      if (d < best_d)
        best = c->name, best_d = d;
    }
  fprintf (stderr, "cairn: unknown command '%s'\n", name);
  if (best)
    fprintf (stderr, "Did you mean 'cairn %s'? ", best);
  fprintf (stderr, "Try 'cairn --help' for the list of commands.\n");
  return 2;
}

static void
print_usage (FILE *f)
{
  fprintf (f, "Usage: cairn [--repo=PATH] [-v] COMMAND [OPTIONS...]\n\n"
              "Content-addressed store for container root filesystems (OSTree-compatible),\n"
              "with a bundled container launcher (cairn-launch).\n\nCommands:\n");
  for (const CairnCommand *c = commands; c->name; c++)
    fprintf (f, "  %-12s %s\n", c->name, c->summary);
  fprintf (
      f,
      "\nGlobal options:\n"
      "  --repo=PATH  repository (default: $CAIRN_REPO, /var/lib/cairn/repo as root,\n"
      "               $XDG_DATA_HOME/cairn/repo otherwise)\n"
      "  -v           verbose\n"
      "  --version    print the version\n"
      "  -h, --help   this help; 'cairn help COMMAND' or 'cairn COMMAND --help' for a command\n");
}

/* Messages start lower-case, as the rest of the line they end ("cairn: cmd:
 * ..."); libraries (GLib, libarchive, gpgme) capitalise theirs. A leading
 * word that is an acronym ("GPG", "OCI") keeps its case. */
static void
lower_first (char *msg)
{
  if (g_ascii_isupper (msg[0]) && g_ascii_islower (msg[1]))
    msg[0] = g_ascii_tolower (msg[0]);
}

static int
report (const CairnCli *cli, GError *error)
{
  gboolean usage = error->domain == G_OPTION_ERROR;
  lower_first (error->message);
  if (cli->name)
    fprintf (stderr, "cairn: %s: %s\n", cli->name, error->message);
  else
    fprintf (stderr, "cairn: %s\n", error->message);
  if (usage)
    fprintf (stderr, "Try 'cairn %s%s--help' for more information.\n", cli->name ? cli->name : "",
             cli->name ? " " : "");
  return usage ? 2 : 1;
}

/* Global options come before the command name. Returns the index of the
 * command in argv, or -1 after printing (exit status in *out_status). */
static int
parse_globals (CairnCli *cli, int argc, char **argv, int *out_status)
{
  int i;
  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (g_str_has_prefix (a, "--repo="))
        cli->repo_path = g_strdup (a + 7), cli->repo_explicit = TRUE;
      else if (strcmp (a, "--repo") == 0 && i + 1 < argc)
        cli->repo_path = g_strdup (argv[++i]), cli->repo_explicit = TRUE;
      else if (strcmp (a, "-v") == 0 || strcmp (a, "--verbose") == 0)
        cli->verbose = TRUE;
      else if (strcmp (a, "--version") == 0)
        {
          printf ("cairn %s\n", PACKAGE_VERSION);
          *out_status = 0;
          return -1;
        }
      else if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
        {
          print_usage (stdout);
          *out_status = 0;
          return -1;
        }
      else if (a[0] == '-')
        {
          fprintf (stderr, "cairn: unknown option '%s'\nTry 'cairn --help' for more information.\n",
                   a);
          *out_status = 2;
          return -1;
        }
      else
        return i;
    }
  print_usage (stderr);
  *out_status = 2;
  return -1;
}

int
main (int argc, char **argv)
{
  CairnCli cli = { 0 };
  int status = 0;
  cairn_reserve_fd_table (); /* before any thread exists */
  setlocale (LC_ALL, "");
  g_set_prgname ("cairn");
  int idx = parse_globals (&cli, argc, argv, &status);
  if (idx < 0)
    return status;
  const char *name = argv[idx];
  g_autofree char *help_argv1 = NULL;
  if (strcmp (name, "help") == 0)
    {
      if (idx + 1 >= argc)
        {
          print_usage (stdout);
          return 0;
        }
      name = argv[idx + 1];
      idx++;
      /* "cairn help X" behaves as "cairn X --help". */
      const CairnCommand *c = find_command (name);
      if (c == NULL)
        return unknown_command (name);
      char *hargv[] = { (char *)name, (char *)"--help", NULL };
      cli.name = c->name;
      g_autoptr (GError) error = NULL;
      int r = c->fn (&cli, 2, hargv, &error);
      return error ? report (&cli, error) : r;
    }
  const CairnCommand *cmd = find_command (name);
  if (cmd == NULL)
    return unknown_command (name);
  cli.name = cmd->name;
  cli.argc_all = argc;
  cli.argv_all = argv;
  g_autoptr (GError) error = NULL;
  int r = cmd->fn (&cli, argc - idx, argv + idx, &error);
  g_free (cli.repo_path);
  if (error)
    {
      int code = report (&cli, error);
      return r >= 125 ? r : code; /* run: 125 when the launcher cannot start */
    }
  return r;
}
