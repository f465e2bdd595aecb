/* OCI helpers shared by the layout importer, the registry client and the
 * image builder: digests, platform selection in an image index, and the
 * image config as commit metadata (docs/import-export.md, "Commit metadata
 * written by image imports").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/image-private.h"
#include <string.h>
#include <sys/utsname.h>

const char *
_cairn_digest_hex (const char *digest, GError **error)
{
  if (!digest || !g_str_has_prefix (digest, "sha256:") || !cairn_is_checksum_string (digest + 7))
    {
      g_autofree char *esc = cairn_escape_name (digest ? digest : "(none)", -1);
      cairn_throw_code (error, G_IO_ERROR_NOT_SUPPORTED, "unsupported or malformed digest '%s'",
                        esc);
      return NULL;
    }
  return digest + 7;
}

const char *
_cairn_oci_host_arch (void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#else
  static struct utsname u;
  uname (&u);
  return u.machine;
#endif
}

static char *
describe (GVariant *d)
{
  g_autoptr (GVariant) ann = cairn_json_get (d, "annotations", G_VARIANT_TYPE_VARDICT);
  g_autofree char *name = cairn_json_dup_string (ann, "org.opencontainers.image.ref.name");
  g_autofree char *digest = cairn_json_dup_string (d, "digest");
  g_autoptr (GVariant) plat = cairn_json_get (d, "platform", G_VARIANT_TYPE_VARDICT);
  g_autofree char *os = cairn_json_dup_string (plat, "os"),
                  *arch = cairn_json_dup_string (plat, "architecture");
  g_autofree char *variant = cairn_json_dup_string (plat, "variant");
  g_autofree char *raw
      = g_strdup_printf ("%s%s%s%s%s%s%s%s", name ? name : (digest ? digest : "?"),
                         plat ? " (" : "", os ? os : "", plat ? "/" : "", arch ? arch : "",
                         variant ? "/" : "", variant ? variant : "", plat ? ")" : "");
  g_autofree char *esc = cairn_escape_name (raw, -1);
  return g_steal_pointer (&esc);
}

/* "os/arch[/variant]"; a descriptor without a variant matches any variant
 * asked for only when it is the only one of that os/arch (checked by the
 * caller's count). */
static gboolean
platform_matches (GVariant *d, const char *platform)
{
  g_autoptr (GVariant) plat = cairn_json_get (d, "platform", G_VARIANT_TYPE_VARDICT);
  g_autofree char *os = cairn_json_dup_string (plat, "os"),
                  *arch = cairn_json_dup_string (plat, "architecture");
  g_autofree char *variant = cairn_json_dup_string (plat, "variant");
  g_auto (GStrv) want = platform ? g_strsplit (platform, "/", 3) : NULL;
  const char *want_os = want ? want[0] : "linux";
  const char *want_arch = want && want[1] ? want[1] : _cairn_oci_host_arch ();
  const char *want_variant = want && want[1] ? want[2] : NULL;
  if (!os || !arch || strcmp (os, want_os) != 0 || strcmp (arch, want_arch) != 0)
    return FALSE;
  return !want_variant || !variant || strcmp (variant, want_variant) == 0;
}

/* Several descriptors of one os/arch (linux/amd64 and linux/amd64/v3, as
 * some images publish): the one of the variant asked for, else the one that
 * names no variant, which every runtime of that architecture runs (as
 * containerd's default matcher prefers); NULL when that does not decide. */
static GVariant *
pick_variant (GPtrArray *plat, const char *platform)
{
  g_auto (GStrv) want = platform ? g_strsplit (platform, "/", 3) : NULL;
  const char *want_variant = want && want[1] ? want[2] : NULL;
  GVariant *found = NULL;
  for (guint i = 0; i < plat->len; i++)
    {
      g_autoptr (GVariant) p = cairn_json_get (plat->pdata[i], "platform", G_VARIANT_TYPE_VARDICT);
      g_autofree char *variant = cairn_json_dup_string (p, "variant");
      if (g_strcmp0 (variant, want_variant) != 0)
        continue;
      if (found)
        return NULL;
      found = plat->pdata[i];
    }
  return found;
}

static GVariant *
no_choice (GPtrArray *all, GPtrArray *cand, const char *tag, const char *platform, GError **error)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < all->len; i++)
    {
      g_autofree char *d = describe (all->pdata[i]);
      g_string_append_printf (s, "%s%s", i ? ", " : "", d);
    }
  if (all->len == 0)
    cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "the index lists no manifests");
  else if (cand->len == 0 && tag)
    cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no manifest tagged '%s' (available: %s)", tag,
                      s->str);
  else if (platform)
    cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no manifest for platform %s (available: %s)",
                      platform, s->str);
  else
    cairn_throw_code (error, G_IO_ERROR_FAILED,
                      "%u manifests and none chosen; name one as DIR:TAG or choose a platform "
                      "(available: %s)",
                      cand->len, s->str);
  return NULL;
}

GVariant *
_cairn_oci_select_descriptor (GVariant *index, const char *tag, const char *platform,
                              GError **error)
{
  g_autoptr (GVariant) arr = cairn_json_get (index, "manifests", G_VARIANT_TYPE ("av"));
  g_autoptr (GPtrArray) all = cairn_json_objects (arr);
  g_autoptr (GPtrArray) cand = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++)
    {
      g_autoptr (GVariant) ann
          = cairn_json_get (all->pdata[i], "annotations", G_VARIANT_TYPE_VARDICT);
      g_autofree char *name = cairn_json_dup_string (ann, "org.opencontainers.image.ref.name");
      if (!tag || g_strcmp0 (name, tag) == 0)
        g_ptr_array_add (cand, all->pdata[i]);
    }
  if (cand->len > 1 || (platform && cand->len == 1))
    {
      g_autoptr (GPtrArray) plat = g_ptr_array_new ();
      for (guint i = 0; i < cand->len; i++)
        if (platform_matches (cand->pdata[i], platform))
          g_ptr_array_add (plat, cand->pdata[i]);
      GVariant *one = plat->len == 1 ? plat->pdata[0] : pick_variant (plat, platform);
      if (one)
        return g_variant_ref (one);
      if (platform || plat->len > 1)
        return no_choice (all, plat, tag, platform, error);
    }
  if (cand->len == 1)
    return g_variant_ref (cand->pdata[0]);
  return no_choice (all, cand, tag, NULL, error);
}

static void
add_labels (GVariantBuilder *b, GVariant *c)
{
  g_autoptr (GVariant) labels = cairn_json_get (c, "Labels", G_VARIANT_TYPE_VARDICT);
  if (!labels)
    return;
  GVariantBuilder lb;
  g_variant_builder_init (&lb, G_VARIANT_TYPE ("a{ss}"));
  GVariantIter it;
  const char *k;
  GVariant *v;
  g_variant_iter_init (&it, labels);
  while (g_variant_iter_loop (&it, "{&sv}", &k, &v))
    if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
      g_variant_builder_add (&lb, "{ss}", k, g_variant_get_string (v, NULL));
  g_variant_builder_add (b, "{sv}", CAIRN_META_OCI_LABELS, g_variant_builder_end (&lb));
}

GVariant *
_cairn_oci_config_metadata (const CairnCommitOptions *opts, GVariant *config,
                            const char *manifest_digest, const char *config_digest, GVariant *extra)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  cairn_commit_options_add_metadata (opts, &b);
  g_autoptr (GVariant) c = cairn_json_get (config, "config", G_VARIANT_TYPE_VARDICT);
  static const struct
  {
    const char *json, *key;
  } lists[] = {
    { "Entrypoint", CAIRN_META_OCI_ENTRYPOINT },
    { "Cmd", CAIRN_META_OCI_CMD },
    { "Env", CAIRN_META_OCI_ENV },
  };
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autoptr (GVariant) v = cairn_json_strv (c, lists[i].json);
      if (v)
        g_variant_builder_add (&b, "{sv}", lists[i].key, v);
    }
  static const struct
  {
    const char *json, *key;
  } strs[] = {
    { "WorkingDir", CAIRN_META_OCI_WORKDIR },
    { "User", CAIRN_META_OCI_USER },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strs); i++)
    {
      g_autofree char *v = cairn_json_dup_string (c, strs[i].json);
      if (v && *v)
        g_variant_builder_add (&b, "{sv}", strs[i].key, g_variant_new_string (v));
    }
  add_labels (&b, c);
  g_autofree char *arch = cairn_json_dup_string (config, "architecture");
  if (arch)
    g_variant_builder_add (&b, "{sv}", CAIRN_META_OCI_ARCH, g_variant_new_string (arch));
  if (manifest_digest)
    g_variant_builder_add (&b, "{sv}", CAIRN_META_OCI_MANIFEST,
                           g_variant_new_string (manifest_digest));
  if (config_digest)
    g_variant_builder_add (&b, "{sv}", CAIRN_META_OCI_CONFIG, g_variant_new_string (config_digest));
  if (extra)
    {
      GVariantIter it;
      const char *k;
      GVariant *v;
      g_variant_iter_init (&it, extra);
      while (g_variant_iter_loop (&it, "{&sv}", &k, &v))
        g_variant_builder_add (&b, "{sv}", k, v);
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}
