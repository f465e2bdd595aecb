/* cairn completion bash|zsh: the shell completion script, generated from
 * the same option tables that --help prints: each command is asked for
 * its table through cairn_cli_option_dump (cli/common.c) and the dispatch
 * table gives the commands. `make install` installs both scripts.
 *
 * What is completed: the commands; each command's options (and remote's
 * and static-delta's verbs and theirs); after an option that takes a value, file names; the
 * container names for the commands on containers, the refs for those that
 * take a REF (from `cairn ps -a` and `cairn refs`, quietly).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include <stdio.h>
#include <string.h>

typedef struct
{
  char *name;   /* "run", or "remote add" */
  char *params; /* "NAME...", "REF|COMMIT PATH" */
  const char *summary;
  GPtrArray *options; /* of CairnCliOption */
} Cmd;

static void
option_free (CairnCliOption *o)
{
  g_free (o->long_name);
  g_free (o->arg_description);
  g_free (o->description);
  g_free (o);
}

static void
cmd_free (Cmd *c)
{
  g_free (c->name);
  g_free (c->params);
  g_ptr_array_unref (c->options);
  g_free (c);
}

/* Ask @fn for its options: it calls cairn_cli_parse(), which records them. */
static Cmd *
dump (const CairnCommand *command, const char *verb)
{
  CairnCliOptionDump d = { g_ptr_array_new_with_free_func ((GDestroyNotify)option_free), NULL };
  CairnCli cli = { .name = command->name };
  char *argv[] = { (char *)command->name, (char *)verb, (char *)"--help", NULL };
  g_autoptr (GError) error = NULL;
  cairn_cli_option_dump = &d;
  command->fn (&cli, verb ? 3 : 2, verb ? argv : (char *[]){ argv[0], argv[2], NULL }, &error);
  cairn_cli_option_dump = NULL;
  Cmd *c = g_new0 (Cmd, 1);
  c->name = verb ? g_strdup_printf ("%s %s", command->name, verb) : g_strdup (command->name);
  c->params = d.params ? d.params : g_strdup ("");
  c->summary = command->summary;
  c->options = d.options;
  return c;
}

/* The commands whose first argument is a verb with options of its own. */
static const struct
{
  const char *name;
  const char *(*verb) (guint i);
} verb_commands[] = {
  { "remote", cairn_cmd_remote_verb },
  { "static-delta", cairn_cmd_static_delta_verb },
};

static const char *(*verbs_of (const char *name)) (guint)
{
  for (gsize i = 0; i < G_N_ELEMENTS (verb_commands); i++)
    if (!strcmp (verb_commands[i].name, name))
      return verb_commands[i].verb;
  return NULL;
}

static GPtrArray *
collect (void)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify)cmd_free);
  for (const CairnCommand *c = cairn_cli_commands (); c->name; c++)
    {
      const char *(*verb) (guint) = verbs_of (c->name);
      if (verb)
        {
          Cmd *r = g_new0 (Cmd, 1);
          r->name = g_strdup (c->name);
          r->params = g_strdup ("VERB");
          r->summary = c->summary;
          r->options = g_ptr_array_new ();
          g_ptr_array_add (all, r);
          for (guint i = 0; verb (i); i++)
            g_ptr_array_add (all, dump (c, verb (i)));
          continue;
        }
      g_ptr_array_add (all, dump (c, NULL));
    }
  return all;
}

/* ---- bash ---------------------------------------------------------------------------- */
static void
words (GString *s, const Cmd *c, gboolean values)
{
  for (guint i = 0; i < c->options->len; i++)
    {
      const CairnCliOption *o = c->options->pdata[i];
      if (values && !o->takes_value)
        continue;
      g_string_append_printf (s, " --%s", o->long_name);
      if (o->short_name)
        g_string_append_printf (s, " -%c", o->short_name);
    }
}

static void
bash (GPtrArray *all)
{
  g_autoptr (GString) cmds = g_string_new (NULL), cases = g_string_new (NULL);
  for (guint i = 0; i < all->len; i++)
    {
      const Cmd *c = all->pdata[i];
      if (!strchr (c->name, ' '))
        g_string_append_printf (cmds, " %s", c->name);
      g_autoptr (GString) opts = g_string_new (NULL), vals = g_string_new (NULL);
      words (opts, c, FALSE);
      words (vals, c, TRUE);
      const char *kind = g_str_has_prefix (c->params, "NAME") ? "names"
                         : strstr (c->params, "REF")          ? "refs"
                                                              : "files";
      g_string_append_printf (cases, "    \"%s\") opts=\"--help%s\"; vals=\"%s \"; what=%s ;;\n",
                              c->name, opts->str, vals->str, kind);
    }
  /* "remote) w=\"add list...\" ;;" for each command with verbs */
  g_autoptr (GString) verbs = g_string_new (NULL), verb_cmds = g_string_new (NULL);
  for (gsize v = 0; v < G_N_ELEMENTS (verb_commands); v++)
    {
      g_string_append_printf (verb_cmds, " %s", verb_commands[v].name);
      g_string_append_printf (verbs, "      %s) w=\"", verb_commands[v].name);
      for (guint i = 0; verb_commands[v].verb (i); i++)
        g_string_append_printf (verbs, " %s", verb_commands[v].verb (i));
      g_string_append (verbs, "\" ;;\n");
    }
  printf ("# bash completion for cairn(1), generated by `cairn completion bash` from the\n"
          "# option tables that --help prints.\n"
          "_cairn_words () {\n"
          "  case $1 in\n"
          "    names) \"${COMP_WORDS[0]}\" ps -a 2>/dev/null | awk 'NR > 1 {print $1}' ;;\n"
          "    refs) \"${COMP_WORDS[0]}\" refs 2>/dev/null ;;\n"
          "  esac\n"
          "}\n"
          "_cairn () {\n"
          "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "  local i cmd= sub= opts= vals= what=files w= verbcmds=\"%s \"\n"
          "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "    case ${COMP_WORDS[i]} in\n"
          "      --repo) ((i++)) ;;\n"
          "      -*) ;;\n"
          "      *) if [ -z \"$cmd\" ]; then cmd=${COMP_WORDS[i]}\n"
          "         elif [[ -z $sub && $verbcmds == *\" $cmd \"* ]]; then sub=${COMP_WORDS[i]}\n"
          "         else break; fi ;;\n"
          "    esac\n"
          "  done\n"
          "  if [ -z \"$cmd\" ]; then\n"
          "    case $prev in --repo) COMPREPLY=($(compgen -d -- \"$cur\")); return ;; esac\n"
          "    COMPREPLY=($(compgen -W \"--repo --verbose -v --version --help help%s\" -- "
          "\"$cur\"))\n"
          "    return\n"
          "  fi\n"
          "  if [[ -z $sub && $verbcmds == *\" $cmd \"* ]]; then\n"
          "    case $cmd in\n%s    esac\n"
          "    COMPREPLY=($(compgen -W \"--help $w\" -- \"$cur\")); return\n"
          "  fi\n"
          "  if [ \"$cmd\" = help ]; then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; "
          "fi\n"
          "  case \"$cmd${sub:+ $sub}\" in\n%s"
          "    *) opts=--help ;;\n"
          "  esac\n"
          "  if [[ \" $vals \" == *\" $prev \"* && $cur != -* ]]; then\n"
          "    COMPREPLY=($(compgen -f -- \"$cur\")); return\n"
          "  fi\n"
          "  if [[ $cur == -* ]]; then\n"
          "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "  elif [ \"$what\" = files ]; then\n"
          "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "  else\n"
          "    COMPREPLY=($(compgen -W \"$(_cairn_words $what)\" -- \"$cur\"))\n"
          "  fi\n"
          "}\n"
          "complete -F _cairn cairn\n",
          verb_cmds->str, cmds->str, verbs->str, cmds->str, cases->str);
}

/* ---- zsh ------------------------------------------------------------------------------- */
/* A description inside _arguments' [...] or _describe's NAME:DESC. */
static char *
zsh_escape (const char *s)
{
  GString *o = g_string_new (NULL);
  for (; s && *s; s++)
    {
      if (*s == '\'')
        g_string_append (o, "'\\''"); /* out of the single quotes and back */
      else if (strchr ("[]:\\", *s))
        g_string_append_c (o, '\\');
      if (*s != '\'')
        g_string_append_c (o, *s);
    }
  return g_string_free (o, FALSE);
}

static void
zsh_options (const Cmd *c)
{
  for (guint i = 0; i < c->options->len; i++)
    {
      const CairnCliOption *o = c->options->pdata[i];
      g_autofree char *desc = zsh_escape (o->description);
      g_autofree char *arg = zsh_escape (o->arg_description ? o->arg_description : "VALUE");
      const char *value = o->takes_value ? "=" : "";
      if (o->short_name)
        printf ("      '(-%c --%s)'{-%c%s,--%s%s}'[%s]%s%s%s' \\\n", o->short_name, o->long_name,
                o->short_name, o->takes_value ? "+" : "", o->long_name, value, desc,
                o->takes_value ? ":" : "", o->takes_value ? arg : "",
                o->takes_value ? ":_files" : "");
      else
        printf ("      '--%s%s[%s]%s%s%s' \\\n", o->long_name, value, desc,
                o->takes_value ? ":" : "", o->takes_value ? arg : "",
                o->takes_value ? ":_files" : "");
    }
}

static void
zsh (GPtrArray *all)
{
  printf ("#compdef cairn\n"
          "# zsh completion for cairn(1), generated by `cairn completion zsh` from the\n"
          "# option tables that --help prints.\n"
          "_cairn () {\n"
          "  local -a commands\n"
          "  commands=(\n");
  for (guint i = 0; i < all->len; i++)
    {
      const Cmd *c = all->pdata[i];
      g_autofree char *desc = zsh_escape (c->summary);
      if (!strchr (c->name, ' '))
        printf ("    '%s:%s'\n", c->name, desc);
    }
  printf ("  )\n"
          "  local i=2\n"
          "  while [[ ${words[i]} == -* ]]; do [[ ${words[i]} == --repo ]] && ((i++)); ((i++)); "
          "done\n"
          "  if (( CURRENT <= i )); then _describe command commands; return; fi\n"
          "  local cmd=${words[i]}\n"
          "  [[ \" ");
  for (gsize v = 0; v < G_N_ELEMENTS (verb_commands); v++)
    printf ("%s ", verb_commands[v].name);
  printf ("\" == *\" $cmd \"* ]] && (( CURRENT > i + 1 )) && cmd=\"$cmd ${words[i+1]}\"\n"
          "  case $cmd in\n");
  for (guint i = 0; i < all->len; i++)
    {
      const Cmd *c = all->pdata[i];
      printf ("    '%s')\n      _arguments -s \\\n", c->name);
      zsh_options (c);
      printf ("      '*:argument:_files' ;;\n");
    }
  printf ("  esac\n}\n_cairn \"$@\"\n");
}

int
cairn_cmd_completion (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (!cairn_cli_parse (cli, NULL, "bash|zsh",
                        "Print the shell completion script (installed by make install).", &argc,
                        &argv, error))
    return 2;
  if (argc != 2 || (strcmp (argv[1], "bash") && strcmp (argv[1], "zsh")))
    return cairn_cli_usage_error (error, "name the shell: bash or zsh"), 2;
  g_autoptr (GPtrArray) all = collect ();
  if (!strcmp (argv[1], "bash"))
    bash (all);
  else
    zsh (all);
  return fflush (stdout) == 0 ? 0 : 1;
}
