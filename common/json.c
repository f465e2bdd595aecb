/* A small strict JSON reader into GVariants: objects become a{sv}, arrays
 * av, strings s, numbers d, booleans b, null an empty maybe (mv).  Used for
 * OCI image configs and manifests (image/) and for the OCI runtime's state
 * and statistics (cli/).  Bounded depth; the input must be UTF-8.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <string.h>

#define JSON_DEPTH 64

typedef struct
{
  const char *p, *end;
  int depth;
} Json;

static void
ws (Json *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static GVariant *json_value (Json *j, GError **error);

static int
hexval (char c)
{
  return g_ascii_xdigit_value (c);
}

static char *
json_string (Json *j, GError **error)
{
  GString *s = g_string_new (NULL);
  j->p++; /* opening quote */
  while (j->p < j->end && *j->p != '"')
    {
      char c = *j->p++;
      if ((guchar)c < 0x20)
        break;
      if (c != '\\')
        {
          g_string_append_c (s, c);
          continue;
        }
      if (j->p >= j->end)
        break;
      c = *j->p++;
      const char *simple = strchr ("\"\\/bfnrt", c);
      if (simple && c)
        {
          g_string_append_c (s, "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
          continue;
        }
      if (c != 'u' || j->end - j->p < 4)
        break;
      gunichar u = 0;
      for (int i = 0; i < 4; i++)
        u = u * 16 + MAX (hexval (j->p[i]), 0);
      j->p += 4;
      if (u >= 0xd800 && u < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u')
        {
          gunichar lo = 0;
          for (int i = 2; i < 6; i++)
            lo = lo * 16 + MAX (hexval (j->p[i]), 0);
          if (lo >= 0xdc00 && lo < 0xe000)
            {
              u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
              j->p += 6;
            }
        }
      if (u == 0 || !g_unichar_validate (u))
        break;
      g_string_append_unichar (s, u);
    }
  if (j->p >= j->end || *j->p != '"')
    {
      g_string_free (s, TRUE);
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid JSON string");
      return NULL;
    }
  j->p++;
  return g_string_free (s, FALSE);
}

static GVariant *
json_container (Json *j, gboolean object, GError **error)
{
  if (++j->depth > JSON_DEPTH)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "JSON nested too deeply"), NULL;
  GVariantBuilder b;
  g_variant_builder_init (&b, object ? G_VARIANT_TYPE_VARDICT : G_VARIANT_TYPE ("av"));
  j->p++;
  ws (j);
  gboolean first = TRUE;
  while (j->p < j->end && *j->p != (object ? '}' : ']'))
    {
      if (!first)
        {
          if (*j->p != ',')
            goto bad;
          j->p++;
          ws (j);
        }
      first = FALSE;
      g_autofree char *key = NULL;
      if (object)
        {
          if (j->p >= j->end || *j->p != '"' || !(key = json_string (j, error)))
            goto bad;
          ws (j);
          if (j->p >= j->end || *j->p++ != ':')
            goto bad;
        }
      GVariant *v = json_value (j, error);
      if (!v)
        goto bad;
      if (object)
        g_variant_builder_add (&b, "{sv}", key, v);
      else
        g_variant_builder_add (&b, "v", v);
      ws (j);
    }
  if (j->p >= j->end)
    goto bad;
  j->p++;
  j->depth--;
  return g_variant_builder_end (&b);
bad:
  g_variant_builder_clear (&b);
  if (error && !*error)
    cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid JSON");
  return NULL;
}

static GVariant *
json_value (Json *j, GError **error)
{
  ws (j);
  if (j->p >= j->end)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "truncated JSON"), NULL;
  char c = *j->p;
  if (c == '{' || c == '[')
    return json_container (j, c == '{', error);
  if (c == '"')
    {
      char *s = json_string (j, error);
      return s ? g_variant_new_take_string (s) : NULL;
    }
  static const char *const words[] = { "true", "false", "null" };
  for (int i = 0; i < 3; i++)
    if ((gsize)(j->end - j->p) >= strlen (words[i])
        && strncmp (j->p, words[i], strlen (words[i])) == 0)
      {
        j->p += strlen (words[i]);
        return i < 2 ? g_variant_new_boolean (i == 0)
                     : g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
      }
  char buf[64];
  gsize n = 0;
  while (j->p + n < j->end && n < sizeof buf - 1 && strchr ("+-0123456789.eE", j->p[n]))
    n++;
  memcpy (buf, j->p, n);
  buf[n] = '\0';
  char *endp;
  double d = g_ascii_strtod (buf, &endp);
  if (n == 0 || *endp)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "invalid JSON value"), NULL;
  j->p += n;
  return g_variant_new_double (d);
}

GVariant *
cairn_json_parse (GBytes *bytes, const char *what, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  if (!g_utf8_validate (data, len, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "%s: not UTF-8 JSON", what), NULL;
  Json j = { data, data + len, 0 };
  g_autoptr (GVariant) v = json_value (&j, error);
  if (v)
    g_variant_ref_sink (v);
  ws (&j);
  if (v && j.p != j.end)
    {
      g_clear_pointer (&v, g_variant_unref);
      cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "trailing data");
    }
  if (!v)
    return cairn_prefix_error (error, "%s", what), NULL;
  return g_steal_pointer (&v);
}

GVariant *
cairn_json_get (GVariant *obj, const char *key, const GVariantType *type)
{
  if (!obj || !g_variant_is_of_type (obj, G_VARIANT_TYPE_VARDICT))
    return NULL;
  /* For a{sv}, lookup_value gives the value already unboxed. */
  GVariant *v = g_variant_lookup_value (obj, key, NULL);
  if (v && !g_variant_is_of_type (v, type))
    g_clear_pointer (&v, g_variant_unref);
  return v;
}

char *
cairn_json_dup_string (GVariant *obj, const char *key)
{
  g_autoptr (GVariant) v = cairn_json_get (obj, key, G_VARIANT_TYPE_STRING);
  return v ? g_variant_dup_string (v, NULL) : NULL;
}

GVariant *
cairn_json_strv (GVariant *obj, const char *key)
{
  g_autoptr (GVariant) arr = cairn_json_get (obj, key, G_VARIANT_TYPE ("av"));
  if (!arr)
    return NULL;
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (gsize i = 0; i < g_variant_n_children (arr); i++)
    {
      g_autoptr (GVariant) box = g_variant_get_child_value (arr, i);
      g_autoptr (GVariant) s = g_variant_get_variant (box);
      if (g_variant_is_of_type (s, G_VARIANT_TYPE_STRING))
        g_variant_builder_add (&b, "s", g_variant_get_string (s, NULL));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

GPtrArray *
cairn_json_objects (GVariant *arr)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  for (gsize i = 0; arr && i < g_variant_n_children (arr); i++)
    {
      g_autoptr (GVariant) box = g_variant_get_child_value (arr, i);
      GVariant *o = g_variant_get_variant (box);
      if (g_variant_is_of_type (o, G_VARIANT_TYPE_VARDICT))
        g_ptr_array_add (out, o);
      else
        g_variant_unref (o);
    }
  return out;
}
