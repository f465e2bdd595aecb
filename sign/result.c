/* cairn — rendering a verification result as JSON or text (cairn verify).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sign/sign-private.h"

/* RFC 8259 string; invalid UTF-8 from a hostile user id is replaced. */
static void
json_string (GString *out, const char *s)
{
  g_autofree char *valid = NULL;

  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  valid = g_utf8_make_valid (s, -1);
  g_string_append_c (out, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar)*p;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char)c);
    }
  g_string_append_c (out, '"');
}

static void
json_member_str (GString *out, const char *name, const char *value, gboolean last)
{
  g_string_append_printf (out, "\"%s\":", name);
  json_string (out, value);
  if (!last)
    g_string_append_c (out, ',');
}

static void
json_member_int (GString *out, const char *name, gint64 value)
{
  g_string_append_printf (out, "\"%s\":%" G_GINT64_FORMAT ",", name, value);
}

char *
cairn_verify_result_to_json (const CairnVerifyResult *result)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "{\"n-signatures\":%u,\"n-good\":%u,\"signatures\":[",
                          result->signatures->len, result->n_good);
  for (guint i = 0; i < result->signatures->len; i++)
    {
      const CairnSignatureInfo *info = result->signatures->pdata[i];

      g_string_append (out, i > 0 ? ",{" : "{");
      json_member_str (out, "status", cairn_sig_status_to_string (info->status), FALSE);
      json_member_str (out, "key-id", info->key_id, FALSE);
      json_member_str (out, "fingerprint", info->fingerprint, FALSE);
      json_member_str (out, "primary-fingerprint", info->primary_fingerprint, FALSE);
      json_member_str (out, "user-id", info->user_id, FALSE);
      json_member_int (out, "timestamp", info->timestamp);
      json_member_int (out, "signature-expires", info->sig_expires);
      json_member_int (out, "key-expires", info->key_expires);
      json_member_str (out, "reason", info->reason, TRUE);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

static char *
text_time (gint64 t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (t);

  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
}

char *
cairn_verify_result_to_text (const CairnVerifyResult *result)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < result->signatures->len; i++)
    {
      const CairnSignatureInfo *info = result->signatures->pdata[i];
      g_autofree char *made = info->timestamp ? text_time (info->timestamp) : g_strdup ("?");
      g_autofree char *reason = g_utf8_make_valid (info->reason ? info->reason : "", -1);

      g_string_append_printf (out, "Signature made %s using key ID %s\n", made,
                              info->key_id ? info->key_id : "?");
      g_string_append_printf (out, "%s [%s]\n", reason, cairn_sig_status_to_string (info->status));
      if (info->primary_fingerprint != NULL)
        g_string_append_printf (out, "Primary key fingerprint: %s\n", info->primary_fingerprint);
      if (info->fingerprint != NULL && info->primary_fingerprint != NULL
          && strcmp (info->fingerprint, info->primary_fingerprint) != 0)
        g_string_append_printf (out, "Subkey fingerprint: %s\n", info->fingerprint);
      if (info->key_expires != 0)
        {
          g_autofree char *t = text_time (info->key_expires);
          g_string_append_printf (out, "Key expires %s\n", t);
        }
    }
  g_string_append_printf (out, "%u signature%s, %u good\n", result->signatures->len,
                          result->signatures->len == 1 ? "" : "s", result->n_good);
  return g_string_free (out, FALSE);
}
