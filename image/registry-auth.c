/* Registry credentials and authentication challenges.
 *
 * Credentials come from --creds, else from the auth files podman and
 * docker write (`podman login`, `docker login`): {"auths": {KEY: {"auth":
 * base64("USER:PASSWORD")}}}, KEY being a host ("127.0.0.1:5000"), a host
 * and namespace ("quay.io/team"), or a URL ("https://index.docker.io/v1/").
 * The most specific key that matches the image wins, and the first file
 * that has one (the order of containers-auth.json(5): $REGISTRY_AUTH_FILE,
 * then $XDG_RUNTIME_DIR/containers/auth.json, then docker's
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json). Credential helpers
 * (credHelpers, credsStore) are not run.
 *
 * Challenges are RFC 7235 WWW-Authenticate values: a scheme, then
 * name=value or name="quoted value" parameters separated by commas.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/registry-private.h"
#include <string.h>

#define AUTHFILE_MAX (4u << 20)

static char *
normalize_key (const char *key)
{
  const char *k = key;
  if (g_str_has_prefix (k, "https://"))
    k += strlen ("https://");
  else if (g_str_has_prefix (k, "http://"))
    k += strlen ("http://");
  g_autofree char *s = g_strdup (k);
  gsize n = strlen (s);
  while (n > 0 && s[n - 1] == '/')
    s[--n] = '\0';
  /* docker's own key for Docker Hub: https://index.docker.io/v1/ */
  if (g_str_has_suffix (s, "/v1") || g_str_has_suffix (s, "/v2"))
    s[n - 3] = '\0';
  if (strcmp (s, "index.docker.io") == 0 || strcmp (s, "registry-1.docker.io") == 0)
    return g_strdup ("docker.io");
  return g_steal_pointer (&s);
}

static gboolean
decode_entry (GVariant *entry, const char *file, const char *key, char **out_user, char **out_pass,
              GError **error)
{
  g_autofree char *auth = cairn_json_dup_string (entry, "auth");
  if (auth && *auth)
    {
      gsize len = 0;
      g_autofree guchar *raw = g_base64_decode (auth, &len);
      g_autofree char *s = raw ? g_strndup ((char *)raw, len) : NULL;
      char *colon = s ? strchr (s, ':') : NULL;
      if (!colon || !g_utf8_validate (s, -1, NULL))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: the \"auth\" of '%s' is not base64 of USER:PASSWORD", file,
                                 key);
      *out_user = g_strndup (s, colon - s);
      *out_pass = g_strdup (colon + 1);
      return TRUE;
    }
  g_autofree char *user = cairn_json_dup_string (entry, "username");
  g_autofree char *pass = cairn_json_dup_string (entry, "password");
  if (user && pass)
    {
      *out_user = g_steal_pointer (&user);
      *out_pass = g_steal_pointer (&pass);
    }
  return TRUE;
}

/* Look @host/@name up in one auth file; a missing file has nothing. */
static gboolean
lookup_file (const char *file, const char *host, const char *name, char **out_user, char **out_pass,
             GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) bytes = cairn_file_get_contents_at (AT_FDCWD, file, AUTHFILE_MAX, &local);
  if (!bytes)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_autoptr (GVariant) doc = cairn_json_parse (bytes, file, error);
  if (!doc)
    return FALSE;
  g_autoptr (GVariant) auths = cairn_json_get (doc, "auths", G_VARIANT_TYPE_VARDICT);
  if (!auths)
    return TRUE;
  g_autofree char *want = g_strconcat (host, "/", name, NULL);
  /* the longest key that is the image's host/name or a '/'-prefix of it */
  GVariant *best = NULL;
  gsize best_len = 0;
  g_autofree char *best_key = NULL;
  GVariantIter it;
  const char *key;
  GVariant *v;
  g_variant_iter_init (&it, auths);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &v))
    {
      g_autofree char *k = normalize_key (key);
      gsize n = strlen (k);
      gboolean match
          = strcmp (k, want) == 0 || (g_str_has_prefix (want, k) && want[n] == '/' && n > 0);
      if (match && n > best_len && g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
        {
          g_clear_pointer (&best, g_variant_unref);
          best = g_variant_ref (v);
          best_len = n;
          g_free (best_key);
          best_key = g_strdup (key);
        }
    }
  if (!best)
    return TRUE;
  gboolean ok = decode_entry (best, file, best_key, out_user, out_pass, error);
  g_variant_unref (best);
  return ok;
}

gboolean
_cairn_registry_find_creds (const char *host, const char *name, const char *creds,
                            const char *authfile, char **out_user, char **out_pass, GError **error)
{
  *out_user = *out_pass = NULL;
  if (creds)
    {
      const char *colon = strchr (creds, ':');
      *out_user = colon ? g_strndup (creds, colon - creds) : g_strdup (creds);
      *out_pass = g_strdup (colon ? colon + 1 : "");
      return TRUE;
    }
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  if (authfile)
    g_ptr_array_add (files, g_strdup (authfile));
  else
    {
      const char *env = g_getenv ("REGISTRY_AUTH_FILE");
      const char *run = g_getenv ("XDG_RUNTIME_DIR");
      const char *docker = g_getenv ("DOCKER_CONFIG");
      if (env && *env)
        g_ptr_array_add (files, g_strdup (env));
      if (run && *run)
        g_ptr_array_add (files, g_build_filename (run, "containers", "auth.json", NULL));
      if (docker && *docker)
        g_ptr_array_add (files, g_build_filename (docker, "config.json", NULL));
      else
        g_ptr_array_add (files,
                         g_build_filename (g_get_home_dir (), ".docker", "config.json", NULL));
    }
  for (guint i = 0; i < files->len && !*out_user; i++)
    if (!lookup_file (files->pdata[i], host, name, out_user, out_pass, error))
      return FALSE;
  return TRUE;
}

/* ---- WWW-Authenticate ------------------------------------------------------------ */

void
_cairn_auth_challenge_free (CairnAuthChallenge *c)
{
  if (!c)
    return;
  g_free (c->scheme);
  g_clear_pointer (&c->params, g_hash_table_unref);
  g_free (c);
}

static const char *
skip_ws (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static char *
parse_value (const char **pp)
{
  const char *p = *pp;
  GString *v = g_string_new (NULL);
  if (*p == '"')
    {
      for (p++; *p && *p != '"'; p++)
        {
          if (*p == '\\' && p[1])
            p++;
          g_string_append_c (v, *p);
        }
      if (*p == '"')
        p++;
    }
  else
    for (; *p && *p != ',' && *p != ' ' && *p != '\t'; p++)
      g_string_append_c (v, *p);
  *pp = p;
  return g_string_free (v, FALSE);
}

CairnAuthChallenge *
_cairn_auth_challenge_parse (const char *header)
{
  if (!header)
    return NULL;
  const char *p = skip_ws (header);
  const char *end = p;
  while (*end && *end != ' ' && *end != '\t')
    end++;
  if (end == p)
    return NULL;
  g_autoptr (CairnAuthChallenge) c = g_new0 (CairnAuthChallenge, 1);
  c->scheme = g_ascii_strdown (p, end - p);
  c->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p = end;
  while (*(p = skip_ws (p)))
    {
      const char *eq = p;
      while (*eq && *eq != '=' && *eq != ',' && *eq != ' ')
        eq++;
      if (*eq != '=')
        break; /* another challenge, or garbage: keep what we have */
      char *key = g_ascii_strdown (p, eq - p);
      p = eq + 1;
      g_hash_table_replace (c->params, key, parse_value (&p));
      p = skip_ws (p);
      if (*p == ',')
        p++;
    }
  return g_steal_pointer (&c);
}
