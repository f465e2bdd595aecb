/* A strict JSON reader into GVariants, and a writer with fixed formatting,
 * for image/ (manifests, configs, indexes) and cli/ (the OCI runtime's
 * state and statistics).
 *
 * The reader takes hostile input (image manifests, configs and indexes from
 * archives and registries): UTF-8 only, bounded nesting, no trailing data;
 * objects become a{sv}, arrays av, strings s, numbers d, booleans b, null an
 * empty maybe. The writer emits no whitespace and members in the order they
 * are written, so that a manifest or config built twice from the same
 * commit is the same bytes (the same digest).
 *
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

/* Typed lookups in a JSON object (NULL when absent or of another type). */
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

/* A JSON array of strings as "as" (NULL if absent/null; non-strings fail). */
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

/* The objects of a JSON array (av of a{sv}), as a GPtrArray of GVariant*. */
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

gboolean
cairn_json_get_uint (GVariant *obj, const char *key, guint64 *out)
{
  g_autoptr (GVariant) v = cairn_json_get (obj, key, G_VARIANT_TYPE_DOUBLE);
  if (!v)
    return FALSE;
  double d = g_variant_get_double (v);
  /* 2^53: beyond it a double no longer holds every integer */
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(guint64)d)
    return FALSE;
  *out = (guint64)d;
  return TRUE;
}

/* ---- writer ---------------------------------------------------------------------- */

void
cairn_jw_init (CairnJsonWriter *w)
{
  w->s = g_string_new (NULL);
  w->depth = 0;
  w->need_comma = 0;
}

static void
separate (CairnJsonWriter *w)
{
  guint64 bit = G_GUINT64_CONSTANT (1) << w->depth;
  if (w->need_comma & bit)
    g_string_append_c (w->s, ',');
  w->need_comma |= bit;
}

static void
open_container (CairnJsonWriter *w, char c)
{
  separate (w);
  g_string_append_c (w->s, c);
  g_assert (w->depth < 63);
  w->depth++;
  w->need_comma &= ~(G_GUINT64_CONSTANT (1) << w->depth);
}

static void
close_container (CairnJsonWriter *w, char c)
{
  g_assert (w->depth > 0);
  w->depth--;
  g_string_append_c (w->s, c);
}

void
cairn_jw_begin_object (CairnJsonWriter *w)
{
  open_container (w, '{');
}

void
cairn_jw_end_object (CairnJsonWriter *w)
{
  close_container (w, '}');
}

void
cairn_jw_begin_array (CairnJsonWriter *w)
{
  open_container (w, '[');
}

void
cairn_jw_end_array (CairnJsonWriter *w)
{
  close_container (w, ']');
}

static void
append_quoted (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const guchar *p = (const guchar *)str; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        {
          g_string_append_c (s, '\\');
          g_string_append_c (s, *p);
        }
      else if (*p < 0x20)
        g_string_append_printf (s, "\\u%04x", *p);
      else
        g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

void
cairn_jw_key (CairnJsonWriter *w, const char *key)
{
  separate (w);
  append_quoted (w->s, key);
  g_string_append_c (w->s, ':');
  /* the value that follows takes no comma of its own */
  w->need_comma &= ~(G_GUINT64_CONSTANT (1) << w->depth);
}

void
cairn_jw_string (CairnJsonWriter *w, const char *value)
{
  separate (w);
  append_quoted (w->s, value);
}

void
cairn_jw_int (CairnJsonWriter *w, gint64 value)
{
  separate (w);
  g_string_append_printf (w->s, "%" G_GINT64_FORMAT, value);
}

void
cairn_jw_bool (CairnJsonWriter *w, gboolean value)
{
  separate (w);
  g_string_append (w->s, value ? "true" : "false");
}

void
cairn_jw_member_string (CairnJsonWriter *w, const char *key, const char *value)
{
  cairn_jw_key (w, key);
  cairn_jw_string (w, value);
}

void
cairn_jw_member_int (CairnJsonWriter *w, const char *key, gint64 value)
{
  cairn_jw_key (w, key);
  cairn_jw_int (w, value);
}

GBytes *
cairn_jw_finish (CairnJsonWriter *w)
{
  g_assert (w->depth == 0);
  GBytes *b = g_string_free_to_bytes (w->s);
  w->s = NULL;
  return b;
}

void
cairn_jw_variant (CairnJsonWriter *w, GVariant *v)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (v);
      cairn_jw_variant (w, inner);
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
    {
      cairn_jw_begin_object (w);
      GVariantIter it;
      const char *k;
      GVariant *val;
      g_variant_iter_init (&it, v);
      while (g_variant_iter_loop (&it, "{&sv}", &k, &val))
        {
          cairn_jw_key (w, k);
          cairn_jw_variant (w, val);
        }
      cairn_jw_end_object (w);
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE ("av")))
    {
      cairn_jw_begin_array (w);
      for (gsize i = 0; i < g_variant_n_children (v); i++)
        {
          g_autoptr (GVariant) c = g_variant_get_child_value (v, i);
          cairn_jw_variant (w, c);
        }
      cairn_jw_end_array (w);
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    cairn_jw_string (w, g_variant_get_string (v, NULL));
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    cairn_jw_bool (w, g_variant_get_boolean (v));
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    {
      double d = g_variant_get_double (v);
      separate (w);
      if (d == (double)(gint64)d && d > -9007199254740992.0 && d < 9007199254740992.0)
        g_string_append_printf (w->s, "%" G_GINT64_FORMAT, (gint64)d);
      else
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append (w->s, g_ascii_dtostr (buf, sizeof buf, d));
        }
    }
  else
    {
      separate (w);
      g_string_append (w->s, "null");
    }
}
