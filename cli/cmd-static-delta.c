/* cairn static-delta generate [--from=REV|--empty] --to=REV [--inline] [--disable-bsdiff]
 *                            [--min-fallback-size=MB] [--max-chunk-size=MB]
 *                            [--max-bsdiff-size=MB] [--set-endianness=l|B] [--swap-endianness]
 *                            [--sign=SECRETKEY...] [--sign-type=ed25519] [-n]
 * cairn static-delta list | show [--json] NAME | delete NAME | reindex
 * cairn static-delta verify NAME KEY...
 * Static deltas as OSTree writes and reads them (docs/format.md §11).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "sync/cairn-delta.h"
#include <stdio.h>
#include <string.h>

static gboolean
parse_mb (const char *s, const char *opt, guint64 *out, GError **error)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32, &v, NULL))
    return cairn_cli_usage_error (error, "%s: '%s' is not a number of megabytes", opt, s);
  *out = v * 1000 * 1000; /* ostree's megabytes */
  return TRUE;
}

typedef struct
{
  char *from, *to, *endianness, *sign_type, *min_fallback, *max_chunk, *max_bsdiff;
  char **sign;
  gboolean empty, inline_parts, no_bsdiff, swap, if_not_exists;
} GenArgs;

static void
gen_args_clear (GenArgs *a)
{
  g_free (a->from);
  g_free (a->to);
  g_free (a->endianness);
  g_free (a->sign_type);
  g_free (a->min_fallback);
  g_free (a->max_chunk);
  g_free (a->max_bsdiff);
  g_strfreev (a->sign);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GenArgs, gen_args_clear)

static gboolean
gen_options (GenArgs *a, CairnDeltaGenerateOptions *o, GError **error)
{
  cairn_delta_generate_options_init (o);
  o->inline_parts = a->inline_parts;
  o->disable_bsdiff = a->no_bsdiff;
  if ((a->min_fallback
       && !parse_mb (a->min_fallback, "--min-fallback-size", &o->min_fallback_size, error))
      || (a->max_chunk && !parse_mb (a->max_chunk, "--max-chunk-size", &o->max_chunk_size, error))
      || (a->max_bsdiff
          && !parse_mb (a->max_bsdiff, "--max-bsdiff-size", &o->max_bsdiff_size, error)))
    return FALSE;
  if (o->max_chunk_size == 0)
    return cairn_cli_usage_error (error, "--max-chunk-size must be at least 1");
  if (a->endianness)
    {
      if (strcmp (a->endianness, "l") != 0 && strcmp (a->endianness, "B") != 0)
        return cairn_cli_usage_error (error, "--set-endianness takes 'l' or 'B'");
      o->set_endianness = TRUE;
      o->big_endian = a->endianness[0] == 'B';
    }
  else if (a->swap)
    {
      o->set_endianness = TRUE;
      o->big_endian = G_BYTE_ORDER != G_BIG_ENDIAN;
    }
  if (a->sign_type && strcmp (a->sign_type, "ed25519") != 0)
    return cairn_cli_usage_error (error, "--sign-type: only ed25519 is supported");
  o->sign_keys = (const char *const *)a->sign;
  return TRUE;
}

/* --from=REV, --empty, or (as ostree) the parent of TO. */
static char *
resolve_from (CairnRepo *repo, GenArgs *a, const char *to, GError **error)
{
  if (a->empty)
    return NULL;
  if (a->from)
    return cairn_repo_resolve_rev (repo, a->from, FALSE, error);
  g_auto (CairnCommit) c = { 0 };
  if (!cairn_repo_load_commit (repo, to, &c, error))
    return NULL;
  if (!c.parent)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND,
                             "commit %s has no parent: give --from=REV or --empty", to),
           NULL;
  return g_strdup (c.parent);
}

static int
cmd_generate (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_auto (GenArgs) a = { 0 };
  GOptionEntry entries[] = {
    { "from", 0, 0, G_OPTION_ARG_STRING, &a.from, "Delta from this commit (default: TO's parent)",
      "REV" },
    { "empty", 0, 0, G_OPTION_ARG_NONE, &a.empty, "Delta from nothing (a first pull)", NULL },
    { "to", 0, 0, G_OPTION_ARG_STRING, &a.to, "Delta to this commit", "REV" },
    { "inline", 0, 0, G_OPTION_ARG_NONE, &a.inline_parts, "Put the parts in the superblock", NULL },
    { "disable-bsdiff", 0, 0, G_OPTION_ARG_NONE, &a.no_bsdiff, "Never send bsdiff patches", NULL },
    { "min-fallback-size", 0, 0, G_OPTION_ARG_STRING, &a.min_fallback,
      "Leave files above MB megabytes to loose fetches (default 4; 0: never)", "MB" },
    { "max-chunk-size", 0, 0, G_OPTION_ARG_STRING, &a.max_chunk,
      "Start a new part after MB megabytes (default 32)", "MB" },
    { "max-bsdiff-size", 0, 0, G_OPTION_ARG_STRING, &a.max_bsdiff,
      "No bsdiff when old and new exceed MB megabytes (default 128)", "MB" },
    { "set-endianness", 0, 0, G_OPTION_ARG_STRING, &a.endianness,
      "Byte order of the part headers: l or B", "ENDIAN" },
    { "swap-endianness", 0, 0, G_OPTION_ARG_NONE, &a.swap, "The other byte order than this host's",
      NULL },
    { "sign", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a.sign,
      "Sign the superblock with this ed25519 secret key (base64; repeatable)", "KEY" },
    { "sign-type", 0, 0, G_OPTION_ARG_STRING, &a.sign_type, "Signature type (ed25519)", "NAME" },
    { "if-not-exists", 'n', 0, G_OPTION_ARG_NONE, &a.if_not_exists,
      "Do nothing if the delta exists", NULL },
    { NULL }
  };
  cli->name = "static-delta generate";
  if (!cairn_cli_parse (cli, entries, NULL,
                        "Write the static delta FROM -> TO into the repository's deltas/.", &argc,
                        &argv, error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  if (!a.to)
    return cairn_cli_usage_error (error, "--to=REV is required"), 2;
  if (a.empty && a.from)
    return cairn_cli_usage_error (error, "--from and --empty conflict"), 2;
  CairnDeltaGenerateOptions o;
  if (!gen_options (&a, &o, error))
    return 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autofree char *to = cairn_repo_resolve_rev (repo, a.to, FALSE, error);
  if (!to)
    return 1;
  g_autoptr (GError) local = NULL;
  g_autofree char *from = resolve_from (repo, &a, to, &local);
  if (local)
    return g_propagate_error (error, g_steal_pointer (&local)), 1;
  g_autofree char *name = cairn_delta_name (from, to);
  if (a.if_not_exists)
    {
      g_autoptr (CairnDelta) old = cairn_repo_load_static_delta (repo, name, NULL);
      if (old)
        return 0;
    }
  CairnDeltaGenerateStats st = { 0 };
  if (!cairn_repo_static_delta_generate (repo, from, to, &o, &st, error))
    return 1;
  if (cli->verbose)
    fprintf (stderr,
             "static delta %s: %u parts, %u objects (%u bsdiff), %u fallbacks, %" G_GUINT64_FORMAT
             " bytes for %" G_GUINT64_FORMAT "\n",
             name, st.n_parts, st.n_objects, st.n_bsdiff, st.n_fallback, st.total_size,
             st.total_usize);
  return 0;
}

static int
cmd_list (CairnCli *cli, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = { { NULL } };
  cli->name = "static-delta list";
  if (!cairn_cli_parse (cli, entries, NULL, "List the static deltas of the repository.", &argc,
                        &argv, error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autoptr (GPtrArray) names = cairn_repo_list_static_deltas (repo, error);
  if (!names)
    return 1;
  for (guint i = 0; i < names->len; i++)
    printf ("%s\n", (char *)names->pdata[i]);
  return 0;
}

static void
show_text (const CairnDelta *d)
{
  guint64 fsize = 0, fusize = 0, psize = 0, pusize = 0;
  printf ("Delta: %s\nSigned: %s\nFrom: %s\nTo: %s\nEndianness: %s\nTimestamp: %" G_GUINT64_FORMAT
          "\nNumber of parents: 0\nNumber of fallback entries: %u\n",
          d->name, d->signatures ? "yes" : "no", d->from ? d->from : "empty", d->to,
          d->big_endian ? "big" : "little", d->timestamp, d->fallbacks->len);
  for (guint i = 0; i < d->fallbacks->len; i++)
    {
      CairnDeltaFallback *f = &g_array_index (d->fallbacks, CairnDeltaFallback, i);
      fsize += f->size;
      fusize += f->usize;
    }
  printf ("Total Fallback Size: %" G_GUINT64_FORMAT
          "\nTotal Fallback Uncompressed Size: %" G_GUINT64_FORMAT "\nNumber of parts: %u\n",
          fsize, fusize, d->parts->len);
  for (guint i = 0; i < d->parts->len; i++)
    {
      CairnDeltaPart *p = &g_array_index (d->parts, CairnDeltaPart, i);
      g_autoptr (GBytes) inl = cairn_delta_inline_part (d, i);
      printf ("PartMeta%u: nobjects=%u size=%" G_GUINT64_FORMAT " usize=%" G_GUINT64_FORMAT "%s\n",
              i, p->n_objects, p->size, p->usize, inl ? " inline" : "");
      psize += p->size;
      pusize += p->usize;
    }
  printf ("Total Part Size: %" G_GUINT64_FORMAT "\nTotal Part Uncompressed Size: %" G_GUINT64_FORMAT
          "\nTotal Size: %" G_GUINT64_FORMAT "\nTotal Uncompressed Size: %" G_GUINT64_FORMAT "\n",
          psize, pusize, psize + fsize, pusize + fusize);
}

static void
show_json (const CairnDelta *d)
{
  g_autoptr (GString) s = g_string_new ("{\"name\":");
  cairn_json_append_string (s, d->name);
  g_string_append (s, ",\"from\":");
  if (d->from)
    cairn_json_append_string (s, d->from);
  else
    g_string_append (s, "null");
  g_string_append (s, ",\"to\":");
  cairn_json_append_string (s, d->to);
  g_string_append_printf (
      s, ",\"signed\":%s,\"endianness\":\"%s\",\"timestamp\":%" G_GUINT64_FORMAT ",\"parts\":[",
      d->signatures ? "true" : "false", d->big_endian ? "big" : "little", d->timestamp);
  for (guint i = 0; i < d->parts->len; i++)
    {
      CairnDeltaPart *p = &g_array_index (d->parts, CairnDeltaPart, i);
      g_autoptr (GBytes) inl = cairn_delta_inline_part (d, i);
      g_string_append_printf (s,
                              "%s{\"objects\":%u,\"size\":%" G_GUINT64_FORMAT
                              ",\"usize\":%" G_GUINT64_FORMAT ",\"inline\":%s}",
                              i ? "," : "", p->n_objects, p->size, p->usize,
                              inl ? "true" : "false");
    }
  g_string_append (s, "],\"fallbacks\":[");
  for (guint i = 0; i < d->fallbacks->len; i++)
    {
      CairnDeltaFallback *f = &g_array_index (d->fallbacks, CairnDeltaFallback, i);
      g_string_append_printf (
          s,
          "%s{\"object\":\"%s.%s\",\"size\":%" G_GUINT64_FORMAT ",\"usize\":%" G_GUINT64_FORMAT "}",
          i ? "," : "", f->checksum, cairn_object_type_to_string (f->type), f->size, f->usize);
    }
  g_string_append (s, "]}");
  printf ("%s\n", s->str);
}

static int
cmd_show (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON", NULL }, { NULL } };
  cli->name = "static-delta show";
  if (!cairn_cli_parse (cli, entries, "NAME", "Describe a static delta (NAME: TO or FROM-TO).",
                        &argc, &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need exactly one delta NAME"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autoptr (CairnDelta) d = cairn_repo_load_static_delta (repo, argv[1], error);
  if (!d)
    return 1;
  if (json)
    show_json (d);
  else
    show_text (d);
  return 0;
}

static int
cmd_delete (CairnCli *cli, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = { { NULL } };
  cli->name = "static-delta delete";
  if (!cairn_cli_parse (cli, entries, "NAME", "Remove a static delta and update the index.", &argc,
                        &argv, error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "need exactly one delta NAME"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo || !cairn_repo_delete_static_delta (repo, argv[1], error))
    return 1;
  return 0;
}

static int
cmd_reindex (CairnCli *cli, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = { { NULL } };
  cli->name = "static-delta reindex";
  if (!cairn_cli_parse (cli, entries, NULL,
                        "Rewrite delta-indexes/ from the deltas present (summary -u does too).",
                        &argc, &argv, error))
    return 2;
  if (argc > 1)
    return cairn_cli_usage_error (error, "unexpected argument '%s'", argv[1]), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo || !cairn_repo_static_delta_reindex (repo, error))
    return 1;
  return 0;
}

static int
cmd_verify (CairnCli *cli, int argc, char **argv, GError **error)
{
  g_autofree char *sign_type = NULL;
  GOptionEntry entries[] = { { "sign-type", 0, 0, G_OPTION_ARG_STRING, &sign_type,
                               "Signature type (ed25519)", "NAME" },
                             { NULL } };
  cli->name = "static-delta verify";
  if (!cairn_cli_parse (cli, entries, "NAME KEY...",
                        "Check that one of the ed25519 public KEYs (base64) signed the delta's "
                        "superblock.",
                        &argc, &argv, error))
    return 2;
  if (argc < 3)
    return cairn_cli_usage_error (error, "need a delta NAME and at least one KEY"), 2;
  if (sign_type && strcmp (sign_type, "ed25519") != 0)
    return cairn_cli_usage_error (error, "--sign-type: only ed25519 is supported"), 2;
  g_autoptr (CairnRepo) repo = cairn_cli_open_repo (cli, FALSE, error);
  if (!repo)
    return 1;
  g_autoptr (CairnDelta) d = cairn_repo_load_static_delta (repo, argv[1], error);
  if (!d || !cairn_delta_verify_signature (d, (const char *const *)argv + 2, error))
    return 1;
  printf ("static delta %s: signature verified\n", d->name);
  return 0;
}

static const struct
{
  const char *name;
  int (*fn) (CairnCli *, int, char **, GError **);
} verbs[] = {
  { "generate", cmd_generate }, { "list", cmd_list },       { "show", cmd_show },
  { "delete", cmd_delete },     { "reindex", cmd_reindex }, { "verify", cmd_verify },
};

const char *
cairn_cmd_static_delta_verb (guint i)
{
  return i < G_N_ELEMENTS (verbs) ? verbs[i].name : NULL;
}

int
cairn_cmd_static_delta (CairnCli *cli, int argc, char **argv, GError **error)
{
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      printf ("Usage: cairn static-delta generate|list|show|delete|reindex|verify [OPTIONS...]\n\n"
              "Static deltas: the packed objects of a commit a client lacks (docs: cairn(1)).\n"
              "'cairn static-delta VERB --help' for a verb.\n");
      return 0;
    }
  if (argc < 2)
    return cairn_cli_usage_error (
               error, "a verb is required: generate, list, show, delete, reindex, verify"),
           2;
  for (gsize i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (strcmp (argv[1], verbs[i].name) == 0)
      return verbs[i].fn (cli, argc - 1, argv + 1, error);
  return cairn_cli_usage_error (
             error, "unknown verb '%s' (generate, list, show, delete, reindex, verify)", argv[1]),
         2;
}
