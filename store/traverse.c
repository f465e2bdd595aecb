/* Reachability, object listing, fsck of single objects, deletion.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <dirent.h>
#include <openssl/evp.h>
#include <string.h>

char *
cairn_object_name (const char *checksum, CairnObjectType type)
{
  return g_strdup_printf ("%s.%s", checksum, cairn_object_type_to_string (type));
}

gboolean
cairn_object_name_parse (const char *name, char **out_checksum, CairnObjectType *out_type)
{
  const char *dot = strchr (name, '.');
  if (!dot || dot - name != 64)
    return FALSE;
  static const CairnObjectType types[]
      = { CAIRN_OBJECT_FILE,   CAIRN_OBJECT_DIR_TREE,         CAIRN_OBJECT_DIR_META,
          CAIRN_OBJECT_COMMIT, CAIRN_OBJECT_TOMBSTONE_COMMIT, CAIRN_OBJECT_COMMIT_META };
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (strcmp (dot + 1, cairn_object_type_to_string (types[i])) == 0)
      {
        if (out_checksum)
          *out_checksum = g_strndup (name, 64);
        if (out_type)
          *out_type = types[i];
        return TRUE;
      }
  return FALSE;
}

static void
add (GHashTable *set, const char *csum, CairnObjectType type)
{
  g_hash_table_add (set, cairn_object_name (csum, type));
}

static gboolean
traverse_tree (CairnRepo *repo, const char *tree, const char *meta, GHashTable *reachable,
               GHashTable *missing, GError **error)
{
  g_autofree char *tname = cairn_object_name (tree, CAIRN_OBJECT_DIR_TREE);
  if (g_hash_table_contains (reachable, tname))
    return TRUE;
  add (reachable, meta, CAIRN_OBJECT_DIR_META);
  if (missing && !cairn_repo_object_exists (repo, CAIRN_OBJECT_DIR_META, meta))
    add (missing, meta, CAIRN_OBJECT_DIR_META);
  g_autoptr (GVariant) v = NULL;
  if (!cairn_repo_load_variant_if_exists (repo, CAIRN_OBJECT_DIR_TREE, tree, &v, error))
    return FALSE;
  g_hash_table_add (reachable, g_steal_pointer (&tname));
  if (!v)
    {
      if (missing)
        {
          add (missing, tree, CAIRN_OBJECT_DIR_TREE);
          return TRUE;
        }
      return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s.dirtree is missing", tree);
    }
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      g_autoptr (GVariant) c = NULL;
      g_variant_get_child (files, i, "(&s@ay)", NULL, &c);
      g_autofree char *hex = cairn_checksum_from_variant (c);
      if (!hex)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      add (reachable, hex, CAIRN_OBJECT_FILE);
      if (missing && !cairn_repo_object_exists (repo, CAIRN_OBJECT_FILE, hex))
        add (missing, hex, CAIRN_OBJECT_FILE);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      g_autoptr (GVariant) c1 = NULL, c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", NULL, &c1, &c2);
      g_autofree char *h1 = cairn_checksum_from_variant (c1);
      g_autofree char *h2 = cairn_checksum_from_variant (c2);
      if (!h1 || !h2)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      if (!traverse_tree (repo, h1, h2, reachable, missing, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
cairn_repo_traverse_commit_collect (CairnRepo *repo, const char *commit, int depth,
                                    GHashTable *reachable, GHashTable *missing, GError **error)
{
  g_autofree char *cur = g_strdup (commit);
  while (cur)
    {
      g_autofree char *name = cairn_object_name (cur, CAIRN_OBJECT_COMMIT);
      if (g_hash_table_contains (reachable, name))
        return TRUE;
      g_autoptr (GVariant) v = NULL;
      if (!cairn_repo_load_variant_if_exists (repo, CAIRN_OBJECT_COMMIT, cur, &v, error))
        return FALSE;
      if (!v)
        {
          if (missing && strcmp (cur, commit) == 0)
            {
              add (missing, cur, CAIRN_OBJECT_COMMIT);
              return TRUE;
            }
          if (strcmp (cur, commit) == 0)
            return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "commit %s is missing", cur);
          return TRUE; /* a missing parent is normal (partial history) */
        }
      g_auto (CairnCommit) c = { 0 };
      if (!cairn_commit_parse (v, &c, error))
        return cairn_prefix_error (error, "corrupted commit %s", cur);
      g_hash_table_add (reachable, g_steal_pointer (&name));
      if (cairn_repo_object_exists (repo, CAIRN_OBJECT_COMMIT_META, cur))
        add (reachable, cur, CAIRN_OBJECT_COMMIT_META);
      if (!traverse_tree (repo, c.root_tree, c.root_meta, reachable, missing, error))
        return FALSE;
      g_free (cur);
      cur = NULL;
      if (depth != 0 && c.parent)
        {
          cur = g_strdup (c.parent);
          if (depth > 0)
            depth--;
        }
    }
  return TRUE;
}

/* ---- what a commit lacks, given a complete one ------------------------------------------ */

typedef struct
{
  CairnRepo *repo;
  GHashTable *missing; /* object names */
  GHashTable *walked;  /* dirtrees checked without a base */
  GHashTable *metas;   /* dirmeta checked */
} MissingWalk;

static void
note_if_absent (MissingWalk *w, CairnObjectType type, const guint8 *raw)
{
  char hex[65];
  cairn_checksum_to_hex (raw, hex);
  if (type == CAIRN_OBJECT_DIR_META)
    {
      if (g_hash_table_contains (w->metas, hex))
        return;
      g_hash_table_add (w->metas, g_strdup (hex));
    }
  if (!cairn_repo_object_exists (w->repo, type, hex))
    add (w->missing, hex, type);
}

/* The raw 32-byte checksum in child @field of entry @i of @list, or NULL. */
static const guint8 *
entry_raw (GVariant *list, gsize i, gsize field, const char **out_name)
{
  g_autoptr (GVariant) e = g_variant_get_child_value (list, i);
  g_autoptr (GVariant) n = g_variant_get_child_value (e, 0);
  g_autoptr (GVariant) c = g_variant_get_child_value (e, field);
  *out_name = g_variant_get_string (n, NULL); /* points into @list's data */
  return g_variant_get_size (c) == 32 ? g_variant_get_data (c) : NULL;
}

static gboolean
missing_below (MissingWalk *w, const char *tree, const char *base, GError **error)
{
  if (base && strcmp (tree, base) == 0)
    return TRUE; /* the same tree as a complete commit's: present */
  if (!base)
    {
      if (g_hash_table_contains (w->walked, tree))
        return TRUE;
      g_hash_table_add (w->walked, g_strdup (tree));
    }
  g_autoptr (GVariant) v = NULL;
  if (!cairn_repo_load_variant_if_exists (w->repo, CAIRN_OBJECT_DIR_TREE, tree, &v, error))
    return FALSE;
  if (!v)
    {
      add (w->missing, tree, CAIRN_OBJECT_DIR_TREE);
      return TRUE;
    }
  g_autoptr (GVariant) b = NULL;
  if (base && !cairn_repo_load_variant_if_exists (w->repo, CAIRN_OBJECT_DIR_TREE, base, &b, NULL))
    b = NULL; /* an unreadable base only means more checks */
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  guint8 ba[32], bb[32];
  for (gsize i = 0; i < g_variant_n_children (files); i++)
    {
      const char *name;
      const guint8 *raw = entry_raw (files, i, 1, &name);
      if (!raw)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      if (b && cairn_dirtree_find (b, 0, name, ba, NULL) && memcmp (raw, ba, 32) == 0)
        continue;
      note_if_absent (w, CAIRN_OBJECT_FILE, raw);
    }
  for (gsize i = 0; i < g_variant_n_children (dirs); i++)
    {
      const char *name;
      const guint8 *traw = entry_raw (dirs, i, 1, &name), *mraw = entry_raw (dirs, i, 2, &name);
      if (!traw || !mraw)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA, "corrupted dirtree %s", tree);
      gboolean matched = b && cairn_dirtree_find (b, 1, name, ba, bb);
      if (!matched || memcmp (mraw, bb, 32) != 0)
        note_if_absent (w, CAIRN_OBJECT_DIR_META, mraw);
      char sub[65], bsub[65];
      cairn_checksum_to_hex (traw, sub);
      if (matched)
        cairn_checksum_to_hex (ba, bsub);
      if (!missing_below (w, sub, matched ? bsub : NULL, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
cairn_repo_find_missing (CairnRepo *repo, const char *commit, const char *base, GHashTable *missing,
                         GError **error)
{
  g_auto (CairnCommit) c = { 0 };
  g_auto (CairnCommit) bc = { 0 };
  if (!cairn_repo_load_commit (repo, commit, &c, error))
    return FALSE;
  if (base && !cairn_repo_load_commit (repo, base, &bc, NULL))
    base = NULL;
  g_autoptr (GHashTable) walked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) metas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  MissingWalk w = { repo, missing, walked, metas };
  if (!base || strcmp (c.root_meta, bc.root_meta) != 0)
    {
      guint8 raw[32];
      cairn_checksum_from_hex (c.root_meta, raw);
      note_if_absent (&w, CAIRN_OBJECT_DIR_META, raw);
    }
  return missing_below (&w, c.root_tree, base ? bc.root_tree : NULL, error);
}

gboolean
cairn_repo_traverse_commit (CairnRepo *repo, const char *commit, int depth, GHashTable *reachable,
                            GError **error)
{
  return cairn_repo_traverse_commit_collect (repo, commit, depth, reachable, NULL, error);
}

GHashTable *
cairn_repo_list_objects (CairnRepo *repo, GError **error)
{
  g_autoptr (GHashTable) all = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < 256; i++)
    {
      char sub[3];
      g_snprintf (sub, sizeof sub, "%02x", i);
      int dfd = openat (repo->objects_dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dfd < 0)
        {
          if (errno == ENOENT)
            continue;
          cairn_throw_errno (error, "opening objects/%s", sub);
          return NULL;
        }
      DIR *d = fdopendir (dfd);
      struct dirent *de;
      while ((de = readdir (d)) != NULL)
        {
          if (de->d_name[0] == '.')
            continue;
          const char *ext = strchr (de->d_name, '.');
          if (!ext || ext - de->d_name != 62)
            continue;
          g_autofree char *name = g_strconcat (sub, de->d_name, NULL);
          /* Normalise .filez to .file so names match traversal output. */
          if (g_str_has_suffix (name, ".filez"))
            name[strlen (name) - 1] = '\0';
          if (cairn_object_name_parse (name, NULL, NULL))
            g_hash_table_add (all, g_steal_pointer (&name));
        }
      closedir (d);
    }
  return g_steal_pointer (&all);
}

static int
read_into_digest (int fd, EVP_MD_CTX *md)
{
  guint8 buf[65536];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n == 0;
      EVP_DigestUpdate (md, buf, n);
    }
}

/* Hash header + content (read from @fd, inflated when @deflated) and compare
 * with the object's name. Never holds the content in memory. */
static gboolean
check_content_checksum (const CairnFileInfo *fi, int fd, gboolean deflated, const char *checksum,
                        GError **error)
{
  g_autoptr (GBytes) prefixed = cairn_file_header_prefixed_for (fi);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  gsize hlen;
  const void *hp = g_bytes_get_data (prefixed, &hlen);
  EVP_DigestInit_ex (md, cairn_sha256 (), NULL);
  EVP_DigestUpdate (md, hp, hlen);
  gboolean ok = TRUE;
  if (S_ISREG (fi->mode) && deflated)
    ok = _cairn_inflate_fd_each (fd, (CairnDataFunc)EVP_DigestUpdate, md, error);
  else if (S_ISREG (fi->mode) && !read_into_digest (fd, md))
    ok = cairn_throw_errno (error, "reading object %s", checksum);
  guint8 raw[32];
  char hex[65];
  EVP_DigestFinal_ex (md, raw, NULL);
  EVP_MD_CTX_free (md);
  cairn_checksum_to_hex (raw, hex);
  if (!ok)
    return cairn_prefix_error (error, "corrupted object %s", checksum);
  if (strcmp (hex, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted file object %s: its content hashes to %s", checksum, hex);
  return TRUE;
}

static gboolean
fsck_content (CairnRepo *repo, const char *checksum, GError **error)
{
  g_auto (CairnFileInfo) fi = { 0 };
  cairn_autofd fd = -1;
  if (repo->mode == CAIRN_REPO_MODE_ARCHIVE)
    {
      /* Parse the header here and inflate while hashing (cairn_repo_load_file
       * would inflate the whole content into memory first). */
      fd = _cairn_repo_open_object (repo, CAIRN_OBJECT_FILE, checksum, error);
      if (fd < 0)
        return FALSE;
      if (!_cairn_read_zheader_fd (fd, &fi, error))
        return cairn_prefix_error (error, "corrupted object %s.filez", checksum);
      return check_content_checksum (&fi, fd, TRUE, checksum, error);
    }
  if (!cairn_repo_load_file (repo, checksum, &fd, &fi, error))
    return FALSE;
  return check_content_checksum (&fi, fd, FALSE, checksum, error);
}

static gboolean
fsck_dirtree (GVariant *v, const char *checksum, GError **error)
{
  g_autoptr (GVariant) files = g_variant_get_child_value (v, 0);
  g_autoptr (GVariant) dirs = g_variant_get_child_value (v, 1);
  for (gsize i = 0; i < g_variant_n_children (files) + g_variant_n_children (dirs); i++)
    {
      gboolean isfile = i < g_variant_n_children (files);
      g_autoptr (GVariant) e = g_variant_get_child_value (
          isfile ? files : dirs, isfile ? i : i - g_variant_n_children (files));
      const char *name;
      g_variant_get_child (e, 0, "&s", &name);
      g_autoptr (GVariant) c = g_variant_get_child_value (e, 1);
      if (g_variant_get_size (c) != 32)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "corrupted dirtree %s: bad checksum length", checksum);
      if (!cairn_validate_filename (name, -1, error))
        return cairn_prefix_error (error, "corrupted dirtree %s", checksum);
    }
  return TRUE;
}

gboolean
cairn_repo_fsck_object (CairnRepo *repo, CairnObjectType type, const char *checksum, GError **error)
{
  if (type == CAIRN_OBJECT_FILE)
    return fsck_content (repo, checksum, error);
  cairn_autofd fd = _cairn_repo_open_object (repo, type, checksum, error);
  if (fd < 0)
    return FALSE;
  g_autoptr (GBytes) data = cairn_fd_read_all (fd, CAIRN_MAX_METADATA_SIZE, error);
  if (!data)
    return FALSE;
  if (type == CAIRN_OBJECT_COMMIT_META)
    return TRUE; /* mutable, not named by its content */
  gsize len;
  const void *p = g_bytes_get_data (data, &len);
  g_autofree char *hex = cairn_checksum_bytes (p ? p : "", len);
  if (type != CAIRN_OBJECT_TOMBSTONE_COMMIT && strcmp (hex, checksum) != 0)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "corrupted %s object %s: its content hashes to %s",
                             cairn_object_type_to_string (type), checksum, hex);
  g_autoptr (GVariant) v = NULL;
  if (!cairn_repo_load_variant_if_exists (repo, type, checksum, &v, error))
    return FALSE;
  if (!v)
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "object %s is missing", checksum);
  if (type == CAIRN_OBJECT_DIR_META)
    return cairn_dirmeta_parse (v, NULL, NULL, NULL, NULL, error)
           || cairn_prefix_error (error, "corrupted dirmeta %s", checksum);
  if (type == CAIRN_OBJECT_DIR_TREE)
    return fsck_dirtree (v, checksum, error);
  if (type == CAIRN_OBJECT_COMMIT)
    {
      g_auto (CairnCommit) c = { 0 };
      return cairn_commit_parse (v, &c, error)
             || cairn_prefix_error (error, "corrupted commit %s", checksum);
    }
  return TRUE;
}

gboolean
cairn_repo_delete_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                          guint64 *out_size, GError **error)
{
  g_autofree char *rel = cairn_object_relpath (checksum, type, repo->mode);
  struct stat st;
  guint64 size = 0;
  if (fstatat (repo->objects_dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
    size = st.st_blocks * 512;
  if (!cairn_unlinkat (repo->objects_dfd, rel, 0, TRUE, error))
    return FALSE;
  if (type == CAIRN_OBJECT_COMMIT)
    {
      g_autofree char *meta = cairn_object_relpath (checksum, CAIRN_OBJECT_COMMIT_META, repo->mode);
      (void)unlinkat (repo->objects_dfd, meta, 0);
      (void)cairn_repo_mark_commit_partial (repo, checksum, FALSE, NULL, NULL);
    }
  if (out_size)
    *out_size = size;
  return TRUE;
}
