/* cli/: the `cairn` command — the only code that prints or exits.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *repo_path;        /* --repo, or NULL for the default */
  gboolean verbose;       /* -v */
  gboolean repo_explicit; /* --repo given */
  const char *name;       /* the subcommand's name */
  int argc_all;           /* the whole command line, global options included */
  char **argv_all;
} CairnCli;

/* A subcommand: parses its own options, does the work, returns the exit
 * status (0, or a container's status for run). On failure it returns 1 with
 * @error set; usage errors use G_OPTION_ERROR and exit 2. */
typedef int (*CairnCmdFunc) (CairnCli *cli, int argc, char **argv, GError **error);

typedef struct
{
  const char *name;
  CairnCmdFunc fn;
  const char *summary;
} CairnCommand;

/* The dispatch table (cli/main.c), ended by a NULL name. */
const CairnCommand *cairn_cli_commands (void);

/* Parse @entries for subcommand @cli->name with @param_string ("REF PATH").
 * --help prints and exits 0. Returns FALSE with a G_OPTION_ERROR on bad usage. */
gboolean cairn_cli_parse (CairnCli *cli, GOptionEntry *entries, const char *param_string,
                          const char *description, int *argc, char ***argv, GError **error);

/* The same with @user_data for G_OPTION_ARG_CALLBACK entries and, with
 * @stop_at_first_argument, options only before the first argument (the
 * rest, options included, is left in argv: run's container command). */
gboolean cairn_cli_parse_full (CairnCli *cli, GOptionEntry *entries, gpointer user_data,
                               gboolean stop_at_first_argument, const char *param_string,
                               const char *description, int *argc, char ***argv, GError **error);

/* Shell completion (cli/cmd-completion.c) asks each command for its option
 * table: while cairn_cli_option_dump is set, cairn_cli_parse() records the
 * entries it was given (the ones --help prints) instead of parsing, and
 * fails with G_IO_ERROR_CANCELLED. */
typedef struct
{
  char *long_name;
  char short_name;
  gboolean takes_value;
  char *arg_description, *description;
} CairnCliOption;

typedef struct
{
  GPtrArray *options; /* of CairnCliOption */
  char *params;
} CairnCliOptionDump;

extern CairnCliOptionDump *cairn_cli_option_dump;

/* The same, with @data handed to G_OPTION_ARG_CALLBACK entries. */
gboolean cairn_cli_parse_with_data (CairnCli *cli, GOptionEntry *entries, gpointer data,
                                    const char *param_string, const char *description, int *argc,
                                    char ***argv, GError **error);

/* Set a usage error (exit status 2). Returns FALSE. */
gboolean cairn_cli_usage_error (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* The default repository: $CAIRN_REPO, /var/lib/cairn/repo for root,
 * $XDG_DATA_HOME/cairn/repo (~/.local/share/cairn/repo) otherwise. */
char *cairn_cli_default_repo_path (void);

/* The repository path this invocation works on (--repo or the default). */
const char *cairn_cli_repo_path (CairnCli *cli);

/* Whether progress is shown: --progress=bar|json, or with auto (the
 * default) when stderr is a terminal. checkout, commit, import, pull and push take
 * --progress (cli/common.c adds it to their option tables). */
gboolean cairn_cli_progress_enabled (void);

/* Print a progress line on stderr (\r-terminated) when enabled. */
void cairn_cli_progress (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Files and bytes so far: the bar shows them with the rate; json an event
 * {"command","elapsed","files","bytes","bytes_per_second"}. */
void cairn_cli_progress_counts (guint64 files, guint64 bytes);
/* Clear the bar; json: a last event with "done":true. */
void cairn_cli_progress_end (void);

/* Append a JSON string literal (quoted, escaped) to @s. */
void cairn_json_append_string (GString *s, const char *str);

G_END_DECLS

#include "store/cairn-store.h"
G_BEGIN_DECLS
/* Open the repository. Writing commands pass @create_default: the default
 * repository (not one named by --repo) is created on first use, bare for
 * root and bare-user otherwise. */
CairnRepo *cairn_cli_open_repo (CairnCli *cli, gboolean create_default, GError **error);
/* TRUE when no --repo was given and the default repository does not exist yet. */
gboolean cairn_cli_default_repo_missing (CairnCli *cli);
/* Print a GVariant a{sv} as "key: value" lines, or into JSON. */
void cairn_cli_print_metadata (GVariant *dict, const char *indent);
void cairn_json_append_variant (GString *s, GVariant *v);
/* Parse --timestamp=@EPOCH|ISO8601. */
gboolean cairn_cli_parse_timestamp (const char *s, guint64 *out, GError **error);
/* "N", "NK", "NM", "NG", "NT" (also with "B"/"iB"): bytes. Usage error
 * naming @opt otherwise. */
gboolean cairn_cli_parse_size (const char *opt, const char *s, guint64 *out, GError **error);
/* --max-object-size / --max-tree-size into @opts (either may be NULL). */
gboolean cairn_cli_parse_limits (const char *max_object, const char *max_tree,
                                 CairnCommitOptions *opts, GError **error);
char *cairn_cli_format_time (guint64 ts);
G_END_DECLS
