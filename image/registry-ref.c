/* docker:// references, as docker, podman and skopeo read them:
 * [HOST[:PORT]/]NAME[:TAG][@DIGEST]. The first component is a host when it
 * has a '.' or a ':' or is "localhost"; otherwise the image is on Docker
 * Hub (docker.io, served by registry-1.docker.io), where a one-component
 * name lives under library/. NAME is lower-case alphanumerics with '.',
 * '_', '-' between them; TAG is at most 128 of [A-Za-z0-9_.-], not starting
 * with '.' or '-'.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/registry-private.h"
#include <string.h>

void
cairn_registry_ref_clear (CairnRegistryRef *ref)
{
  g_clear_pointer (&ref->host, g_free);
  g_clear_pointer (&ref->endpoint, g_free);
  g_clear_pointer (&ref->name, g_free);
  g_clear_pointer (&ref->short_name, g_free);
  g_clear_pointer (&ref->tag, g_free);
  g_clear_pointer (&ref->digest, g_free);
}

static gboolean
name_component_ok (const char *c, gsize n)
{
  if (n == 0 || !g_ascii_isalnum (c[0]) || !g_ascii_isalnum (c[n - 1]))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      char ch = c[i];
      if (g_ascii_isupper (ch))
        return FALSE;
      if (!g_ascii_isalnum (ch) && ch != '.' && ch != '_' && ch != '-')
        return FALSE;
      /* separators: '.', '_', '__' or any run of '-' */
      if ((ch == '.' || ch == '_') && i + 1 < n && (c[i + 1] == '.' || c[i + 1] == '-'))
        return FALSE;
    }
  return TRUE;
}

static gboolean
name_ok (const char *name)
{
  if (strlen (name) > 255)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (name, "/", -1);
  for (char **p = parts; *p; p++)
    if (!name_component_ok (*p, strlen (*p)))
      return FALSE;
  return TRUE;
}

static gboolean
tag_ok (const char *tag)
{
  gsize n = strlen (tag);
  if (n == 0 || n > 128 || tag[0] == '.' || tag[0] == '-')
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
host_ok (const char *host)
{
  if (!*host || host[0] == '-' || strlen (host) > 255)
    return FALSE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr (".-:[]", *p))
      return FALSE;
  return TRUE;
}

static gboolean
bad_ref (const char *s, const char *why, GError **error)
{
  g_autofree char *esc = cairn_escape_name (s, -1);
  return cairn_throw_code (error, G_IO_ERROR_INVALID_ARGUMENT, "invalid image reference '%s': %s",
                           esc, why);
}

gboolean
cairn_registry_ref_parse (const char *s, CairnRegistryRef *out, GError **error)
{
  const char *p = g_str_has_prefix (s, "docker://") ? s + strlen ("docker://") : s;
  g_auto (CairnRegistryRef) r = { 0 };
  g_autofree char *rest = g_strdup (p);
  char *at = strchr (rest, '@');
  if (at)
    {
      *at = '\0';
      if (!_cairn_digest_hex (at + 1, NULL))
        return bad_ref (s, "the digest must be sha256: and 64 lower-case hex digits", error);
      r.digest = g_strdup (at + 1);
    }
  char *slash = strchr (rest, '/');
  char *name = rest;
  if (slash)
    {
      g_autofree char *first = g_strndup (rest, slash - rest);
      if (strchr (first, '.') || strchr (first, ':') || strcmp (first, "localhost") == 0)
        {
          if (!host_ok (first))
            return bad_ref (s, "invalid registry host", error);
          r.host = g_steal_pointer (&first);
          name = slash + 1;
        }
    }
  char *last_slash = strrchr (name, '/');
  char *colon = strrchr (last_slash ? last_slash : name, ':');
  if (colon)
    {
      *colon = '\0';
      if (!tag_ok (colon + 1))
        return bad_ref (s, "invalid tag", error);
      r.tag = g_strdup (colon + 1);
    }
  if (!name_ok (name))
    return bad_ref (s,
                    "the name must be lower-case letters, digits and '.', '_', '-' "
                    "between them, in '/'-separated parts",
                    error);
  r.short_name = g_strdup (name);
  if (!r.host || strcmp (r.host, "index.docker.io") == 0 || strcmp (r.host, "docker.io") == 0)
    {
      g_free (r.host);
      r.host = g_strdup ("docker.io");
      r.endpoint = g_strdup ("registry-1.docker.io");
      r.name = strchr (name, '/') ? g_strdup (name) : g_strconcat ("library/", name, NULL);
    }
  else
    {
      r.endpoint = g_strdup (r.host);
      r.name = g_strdup (name);
    }
  if (!r.tag && !r.digest)
    r.tag = g_strdup ("latest");
  *out = r;
  memset (&r, 0, sizeof r);
  return TRUE;
}

char *
cairn_registry_ref_to_string (const CairnRegistryRef *ref)
{
  if (ref->digest)
    return g_strdup_printf ("docker://%s/%s@%s", ref->host, ref->name, ref->digest);
  return g_strdup_printf ("docker://%s/%s:%s", ref->host, ref->name, ref->tag);
}

char *
cairn_registry_ref_default_branch (const CairnRegistryRef *ref)
{
  if (ref->tag)
    return g_strconcat (ref->short_name, "/", ref->tag, NULL);
  return g_strconcat (ref->short_name, "/sha256_", ref->digest + strlen ("sha256:"), NULL);
}
