/* Printing commits as text (ostree show/log style) and JSON.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commit-print.h"
#include <openssl/evp.h>
#include <stdio.h>

char *
cairn_cli_content_checksum (const CairnCommit *c)
{
  guint8 raw[64];
  cairn_checksum_from_hex (c->root_tree, raw);
  cairn_checksum_from_hex (c->root_meta, raw + 32);
  return cairn_checksum_bytes (raw, 64);
}

void
cairn_cli_commit_print_text (const char *checksum, const CairnCommit *c, gboolean partial,
                             gint64 content_size)
{
  g_autofree char *date = cairn_cli_format_time (c->timestamp);
  g_autofree char *content = cairn_cli_content_checksum (c);
  printf ("commit %s%s\n", checksum, partial ? " (partial)" : "");
  if (c->parent)
    printf ("Parent:  %s\n", c->parent);
  printf ("ContentChecksum:  %s\n", content);
  printf ("Tree:  %s\nMeta:  %s\n", c->root_tree, c->root_meta);
  printf ("Date:  %s\n", date);
  if (content_size >= 0)
    printf ("Size:  %" G_GINT64_FORMAT " bytes\n", content_size);
  if (g_variant_n_children (c->metadata) > 0)
    {
      printf ("Metadata:\n");
      cairn_cli_print_metadata (c->metadata, "    ");
    }
  printf ("\n");
  if (c->subject && *c->subject)
    printf ("    %s\n\n", c->subject);
  if (c->body && *c->body)
    {
      g_auto (GStrv) lines = g_strsplit (c->body, "\n", -1);
      for (char **l = lines; *l; l++)
        printf ("    %s\n", *l);
      printf ("\n");
    }
}

void
cairn_cli_commit_append_json (GString *s, const char *checksum, const CairnCommit *c,
                              gboolean partial, gint64 content_size)
{
  g_autofree char *content = cairn_cli_content_checksum (c);
  g_autofree char *date = cairn_cli_format_time (c->timestamp);
  g_string_append (s, "{\"commit\":");
  cairn_json_append_string (s, checksum);
  g_string_append (s, ",\"parent\":");
  if (c->parent)
    cairn_json_append_string (s, c->parent);
  else
    g_string_append (s, "null");
  g_string_append (s, ",\"subject\":");
  cairn_json_append_string (s, c->subject);
  g_string_append (s, ",\"body\":");
  cairn_json_append_string (s, c->body);
  g_string_append_printf (s, ",\"timestamp\":%" G_GUINT64_FORMAT ",\"date\":", c->timestamp);
  cairn_json_append_string (s, date);
  g_string_append (s, ",\"root_tree\":");
  cairn_json_append_string (s, c->root_tree);
  g_string_append (s, ",\"root_meta\":");
  cairn_json_append_string (s, c->root_meta);
  g_string_append (s, ",\"content_checksum\":");
  cairn_json_append_string (s, content);
  g_string_append_printf (s, ",\"partial\":%s", partial ? "true" : "false");
  if (content_size >= 0)
    g_string_append_printf (s, ",\"size\":%" G_GINT64_FORMAT, content_size);
  g_string_append (s, ",\"metadata\":");
  cairn_json_append_variant (s, c->metadata);
  g_string_append_c (s, '}');
}
