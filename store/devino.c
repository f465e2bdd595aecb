/* The devino cache: (st_dev, st_ino) of hardlinked checkout files -> content
 * checksum, so re-committing an unmodified checkout skips reading and hashing
 * (docs/format.md §13.5). Stored in extensions/cairn/devino-cache as fixed 48-byte
 * records (dev u64, ino u64, checksum[32]) after an 8-byte magic.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "store/store-private.h"
#include <string.h>

#define MAGIC "CAIRNDI1"
#define CACHE_NAME "devino-cache"
#define MAX_ENTRIES (16u << 20)

typedef struct
{
  guint64 dev;
  guint64 ino;
} Key;

struct CairnDevino
{
  GHashTable *map; /* Key* -> guint8[32] (one allocation: key followed by csum) */
  gboolean dirty;
};

static guint
key_hash (gconstpointer p)
{
  const Key *k = p;
  return (guint)(k->ino * 0x9e3779b97f4a7c15ull ^ k->dev);
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const Key *x = a, *y = b;
  return x->dev == y->dev && x->ino == y->ino;
}

static CairnDevino *
devino_new (void)
{
  CairnDevino *d = g_new0 (CairnDevino, 1);
  d->map = g_hash_table_new_full (key_hash, key_equal, g_free, NULL);
  return d;
}

static void
insert_raw (CairnDevino *d, guint64 dev, guint64 ino, const guint8 csum[32])
{
  guint8 *rec = g_malloc (sizeof (Key) + 32);
  Key *k = (Key *)rec;
  k->dev = dev;
  k->ino = ino;
  memcpy (rec + sizeof (Key), csum, 32);
  g_hash_table_replace (d->map, k, rec + sizeof (Key));
}

CairnDevino *
cairn_devino_load (CairnRepo *repo, GError **error)
{
  g_autoptr (CairnDevino) d = devino_new ();
  cairn_autofd ext = cairn_repo_extensions_dfd (repo, error);
  if (ext < 0)
    return NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) b = cairn_file_get_contents_at (ext, CACHE_NAME, 0, &local);
  if (!b)
    return g_steal_pointer (&d); /* no cache yet (or unreadable): empty */
  gsize len;
  const guint8 *p = g_bytes_get_data (b, &len);
  if (len < 8 || memcmp (p, MAGIC, 8) != 0 || (len - 8) % 48 != 0)
    return g_steal_pointer (&d); /* foreign or torn: ignore, it is only a cache */
  for (gsize off = 8; off < len; off += 48)
    {
      guint64 dev, ino;
      memcpy (&dev, p + off, 8);
      memcpy (&ino, p + off + 8, 8);
      insert_raw (d, dev, ino, p + off + 16);
    }
  return g_steal_pointer (&d);
}

void
cairn_devino_free (CairnDevino *d)
{
  if (!d)
    return;
  g_hash_table_unref (d->map);
  g_free (d);
}

void
cairn_devino_add (CairnDevino *d, dev_t dev, ino_t ino, const char *checksum)
{
  guint8 raw[32];
  if (!cairn_checksum_from_hex (checksum, raw))
    return;
  insert_raw (d, dev, ino, raw);
  d->dirty = TRUE;
}

const char *
cairn_devino_lookup (CairnDevino *d, dev_t dev, ino_t ino)
{
  Key k = { dev, ino };
  const guint8 *raw = g_hash_table_lookup (d->map, &k);
  if (!raw)
    return NULL;
  /* Callers get a pointer into a per-thread buffer. */
  static __thread char hex[65];
  cairn_checksum_to_hex (raw, hex);
  return hex;
}

gboolean
cairn_devino_save (CairnDevino *d, CairnRepo *repo, GError **error)
{
  if (!d->dirty)
    return TRUE;
  cairn_autofd ext = cairn_repo_extensions_dfd (repo, error);
  if (ext < 0)
    return FALSE;
  /* Merge with what others saved meanwhile (entries are facts, not state). */
  g_autoptr (CairnDevino) disk = cairn_devino_load (repo, NULL);
  if (disk)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, disk->map);
      while (g_hash_table_iter_next (&it, &k, &v))
        if (!g_hash_table_contains (d->map, k))
          insert_raw (d, ((Key *)k)->dev, ((Key *)k)->ino, v);
    }
  guint n = MIN (g_hash_table_size (d->map), MAX_ENTRIES);
  gsize len = 8 + (gsize)n * 48;
  g_autofree guint8 *buf = g_malloc (len);
  memcpy (buf, MAGIC, 8);
  gsize off = 8;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, d->map);
  while (off < len && g_hash_table_iter_next (&it, &k, &v))
    {
      memcpy (buf + off, &((Key *)k)->dev, 8);
      memcpy (buf + off + 8, &((Key *)k)->ino, 8);
      memcpy (buf + off + 16, v, 32);
      off += 48;
    }
  if (!cairn_file_replace_contents_at (ext, CACHE_NAME, buf, off, 0644, CAIRN_FSYNC_NONE, error))
    return cairn_prefix_error (error, "saving devino cache");
  d->dirty = FALSE;
  return TRUE;
}
