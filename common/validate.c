/* Validation of names that come from untrusted data (trees, archives, the
 * network, the command line). See docs/format.md §3.4 and §5.4.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <string.h>

char *
cairn_escape_name (const char *name, gssize len)
{
  if (name == NULL)
    return g_strdup ("(null)");
  if (len < 0)
    len = strlen (name);
  GString *s = g_string_new (NULL);
  for (gssize i = 0; i < len && i < 512; i++)
    {
      guchar c = name[i];
      if (c < 0x20 || c == 0x7f || c == '\\' || c >= 0x80)
        g_string_append_printf (s, "\\x%02x", c);
      else
        g_string_append_c (s, c);
    }
  if (len > 512)
    g_string_append (s, "...");
  /* Keep valid UTF-8 readable: if the whole name is valid, show it as is. */
  if (g_utf8_validate (name, len, NULL) && memchr (name, 0, len) == NULL && len <= 512)
    {
      gboolean printable = TRUE;
      for (gssize i = 0; i < len; i++)
        if ((guchar)name[i] < 0x20 || name[i] == 0x7f)
          printable = FALSE;
      if (printable)
        {
          g_string_free (s, TRUE);
          return g_strndup (name, len);
        }
    }
  return g_string_free (s, FALSE);
}

gboolean
cairn_validate_filename (const char *name, gssize len, GError **error)
{
  if (len < 0)
    len = name ? (gssize)strlen (name) : 0;
  g_autofree char *shown = cairn_escape_name (name, len);
  if (name == NULL || len == 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME, "invalid file name: empty");
  if (memchr (name, '\0', len) != NULL)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME,
                             "invalid file name '%s': contains NUL", shown);
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME, "invalid file name '%s'", shown);
  if (memchr (name, '/', len) != NULL)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME,
                             "invalid file name '%s': contains '/'", shown);
  if (!g_utf8_validate (name, len, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME,
                             "invalid file name '%s': not valid UTF-8", shown);
  return TRUE;
}

gboolean
cairn_validate_relpath (const char *path, GError **error)
{
  if (path == NULL || *path == '\0')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME, "invalid path: empty");
  if (*path == '/')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_FILENAME, "invalid path '%s': absolute",
                             path);
  const char *p = path;
  while (*p)
    {
      const char *slash = strchr (p, '/');
      gsize n = slash ? (gsize)(slash - p) : strlen (p);
      if (n > 0 && !cairn_validate_filename (p, n, error))
        return cairn_prefix_error (error, "in path '%s'", path);
      p += n;
      while (*p == '/')
        p++;
    }
  return TRUE;
}

static gboolean
is_word_char (gunichar c)
{
  /* \w in GLib's PCRE with UTF-8: letters, digits, underscore (Unicode). */
  return c == '_' || g_unichar_isalnum (c) || g_unichar_ismark (c)
         || g_unichar_type (c) == G_UNICODE_CONNECT_PUNCTUATION;
}

static gboolean
fragment_ok (const char *s, gsize n)
{
  if (n == 0)
    return FALSE;
  const char *end = s + n;
  gboolean first = TRUE;
  for (const char *p = s; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (is_word_char (c))
        ;
      else if (!first && (c == '-' || c == '.'))
        ;
      else
        return FALSE;
      first = FALSE;
    }
  return TRUE;
}

gboolean
cairn_validate_ref_name (const char *ref, GError **error)
{
  if (ref == NULL || *ref == '\0')
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid ref name: empty");
  g_autofree char *shown = cairn_escape_name (ref, -1);
  if (!g_utf8_validate (ref, -1, NULL))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "invalid ref name '%s': not valid UTF-8", shown);
  if (cairn_is_checksum_string (ref))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                             "invalid ref name '%s': looks like a checksum", shown);
  const char *p = ref;
  for (;;)
    {
      const char *slash = strchr (p, '/');
      gsize n = slash ? (gsize)(slash - p) : strlen (p);
      if (!fragment_ok (p, n))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                                 "invalid ref name '%s': each '/'-separated part must start "
                                 "with a letter, digit or '_' and contain only those and '-._'",
                                 shown);
      if (!slash)
        break;
      p = slash + 1;
    }
  return TRUE;
}

gboolean
cairn_validate_remote_name (const char *name, GError **error)
{
  if (name == NULL || !g_utf8_validate (name, -1, NULL) || !fragment_ok (name, strlen (name)))
    {
      g_autofree char *shown = cairn_escape_name (name, -1);
      return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid remote name '%s'",
                               shown);
    }
  return TRUE;
}

gboolean
cairn_is_checksum_string (const char *sha)
{
  if (sha == NULL)
    return FALSE;
  gsize i;
  for (i = 0; sha[i]; i++)
    if (!((sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f')))
      return FALSE;
  return i == 64;
}

gboolean
cairn_validate_checksum_string (const char *sha, GError **error)
{
  if (!cairn_is_checksum_string (sha))
    {
      g_autofree char *shown = cairn_escape_name (sha, -1);
      return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT,
                               "invalid checksum '%s': want 64 lowercase hex digits", shown);
    }
  return TRUE;
}
