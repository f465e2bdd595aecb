/* bsdiff and bspatch as static deltas carry them (docs/format.md §11.6).
 *
 * The algorithm is Colin Percival's (2003): sort the suffixes of the old
 * file; walk the new file, find for each position the longest match in
 * the old one by binary search in the suffix array, and extend matches
 * forwards and backwards into "approximate matches" whose bytewise
 * difference is mostly zeros. The patch is a sequence of records
 *
 *   control (3 x 8 bytes): diff length, extra length, seek in old file
 *   diff bytes:  new[i] - old[j] for the approximate match
 *   extra bytes: new bytes copied as they are
 *
 * with integers in Percival's sign-magnitude little-endian form. Static
 * deltas use the stream form without any file header or compression (the
 * part as a whole is compressed): the new size is the size the delta's
 * 'open' operation announced, and records follow until it is reached.
 *
 * bspatch runs on hostile input: every length is checked against what is
 * left of the patch and of the output before a byte is copied.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>

#define CTRL_LEN 24
/* Seeks beyond this are refused: no real file is near it, and it keeps
 * every position arithmetic far from overflow. */
#define MAX_POS ((gint64)1 << 48)

static gint64
offtin (const guint8 *b)
{
  guint64 y = 0;
  for (int i = 7; i >= 0; i--)
    y = (y << 8) | (i == 7 ? (b[i] & 0x7f) : b[i]);
  if (y > (guint64)MAX_POS)
    return G_MININT64; /* out of range whatever the sign */
  return (b[7] & 0x80) ? -(gint64)y : (gint64)y;
}

static void
offtout (gint64 x, guint8 *b)
{
  guint64 y = x < 0 ? (guint64)(-x) : (guint64)x;
  for (int i = 0; i < 8; i++, y >>= 8)
    b[i] = y & 0xff;
  if (x < 0)
    b[7] |= 0x80;
}

gboolean
_cairn_bspatch (const guint8 *old, gsize oldsize, guint8 *out, gsize newsize, const guint8 *patch,
                gsize patchlen, GError **error)
{
  gsize newpos = 0, p = 0;
  gint64 oldpos = 0;
  while (newpos < newsize)
    {
      if (patchlen - p < CTRL_LEN)
        return cairn_throw_code (
            error, G_IO_ERROR_INVALID_DATA,
            "bspatch: the patch ends inside a control record (at byte %" G_GSIZE_FORMAT
            " of %" G_GSIZE_FORMAT ")",
            p, patchlen);
      gint64 diff = offtin (patch + p), extra = offtin (patch + p + 8),
             seek = offtin (patch + p + 16);
      p += CTRL_LEN;
      if (diff < 0 || extra < 0 || seek == G_MININT64)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "bspatch: invalid control record at byte %" G_GSIZE_FORMAT,
                                 p - CTRL_LEN);
      if ((guint64)diff > newsize - newpos || (guint64)extra > newsize - newpos - (guint64)diff)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "bspatch: a record writes past the end of the %" G_GSIZE_FORMAT
                                 "-byte result",
                                 newsize);
      if ((guint64)diff + (guint64)extra > patchlen - p)
        return cairn_throw_code (
            error, G_IO_ERROR_INVALID_DATA,
            "bspatch: a record reads past the end of the %" G_GSIZE_FORMAT "-byte patch", patchlen);
      /* Diff bytes are added to the old bytes where the old position is
       * inside the old file (Percival's patch treats the rest as zeros). */
      memcpy (out + newpos, patch + p, diff);
      for (gint64 i = 0; i < diff; i++)
        if (oldpos + i >= 0 && oldpos + i < (gint64)oldsize)
          out[newpos + i] += old[oldpos + i];
      p += diff;
      newpos += diff;
      oldpos += diff;
      memcpy (out + newpos, patch + p, extra);
      p += extra;
      newpos += extra;
      oldpos += seek;
      if (oldpos > MAX_POS || oldpos < -MAX_POS)
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "bspatch: the old-file position leaves any possible file");
    }
  return TRUE;
}

/* ---- bsdiff -------------------------------------------------------------------------- */

/* Suffix array of @s by prefix doubling with counting sorts, O(n log n).
 * @sa gets n + 1 entries: sa[0] = n, the empty suffix, sorts first. */
static void
suffix_sort (const guint8 *s, gint32 n, gint32 *sa)
{
  gint32 *rank = g_new (gint32, n + 1), *tmp = g_new (gint32, n + 1);
  gint32 m = MAX (n, 256) + 1, *cnt = g_new0 (gint32, m);
  gint32 *order = sa + 1;
  for (gint32 i = 0; i < n; i++)
    cnt[s[i]]++;
  for (gint32 i = 1; i < 256; i++)
    cnt[i] += cnt[i - 1];
  for (gint32 i = n - 1; i >= 0; i--)
    order[--cnt[s[i]]] = i;
  gint32 classes = 0;
  for (gint32 i = 0; i < n; i++)
    {
      if (i > 0 && s[order[i]] != s[order[i - 1]])
        classes++;
      rank[order[i]] = classes;
    }
  classes = n > 0 ? classes + 1 : 0;
  for (gint32 k = 1; classes < n; k <<= 1)
    {
      /* Order by the second key (rank of i + k, -1 past the end)... */
      gint32 p = 0;
      for (gint32 i = n - k; i < n; i++)
        if (i >= 0)
          tmp[p++] = i;
      for (gint32 i = 0; i < n; i++)
        if (order[i] >= k)
          tmp[p++] = order[i] - k;
      /* ...then stably by the first. */
      memset (cnt, 0, sizeof (gint32) * (classes + 1));
      for (gint32 i = 0; i < n; i++)
        cnt[rank[i]]++;
      for (gint32 i = 1; i < classes; i++)
        cnt[i] += cnt[i - 1];
      for (gint32 i = n - 1; i >= 0; i--)
        order[--cnt[rank[tmp[i]]]] = tmp[i];
      tmp[order[0]] = 0;
      classes = 1;
      for (gint32 i = 1; i < n; i++)
        {
          gint32 a = order[i - 1], b = order[i];
          gint32 ra = a + k < n ? rank[a + k] : -1, rb = b + k < n ? rank[b + k] : -1;
          if (rank[a] != rank[b] || ra != rb)
            classes++;
          tmp[b] = classes - 1;
        }
      memcpy (rank, tmp, sizeof (gint32) * n);
    }
  sa[0] = n;
  g_free (rank);
  g_free (tmp);
  g_free (cnt);
}

static gint64
matchlen (const guint8 *a, gint64 alen, const guint8 *b, gint64 blen)
{
  gint64 i = 0;
  while (i < alen && i < blen && a[i] == b[i])
    i++;
  return i;
}

/* The longest match of @nw in @old among suffixes sa[st..en]. */
static gint64
search (const gint32 *sa, const guint8 *old, gint64 oldsize, const guint8 *nw, gint64 newsize,
        gint64 st, gint64 en, gint64 *pos)
{
  while (en - st >= 2)
    {
      gint64 x = st + (en - st) / 2;
      gint64 l = MIN (oldsize - sa[x], newsize);
      if (memcmp (old + sa[x], nw, l) < 0)
        st = x;
      else
        en = x;
    }
  gint64 x = matchlen (old + sa[st], oldsize - sa[st], nw, newsize);
  gint64 y = matchlen (old + sa[en], oldsize - sa[en], nw, newsize);
  *pos = x > y ? sa[st] : sa[en];
  return MAX (x, y);
}

typedef struct
{
  const guint8 *old, *nw;
  gint64 oldsize, newsize;
  GByteArray *out;
} Diff;

static void
emit (Diff *d, gint64 lastscan, gint64 lastpos, gint64 lenf, gint64 extra, gint64 seek)
{
  guint8 ctrl[CTRL_LEN];
  offtout (lenf, ctrl);
  offtout (extra, ctrl + 8);
  offtout (seek, ctrl + 16);
  g_byte_array_append (d->out, ctrl, CTRL_LEN);
  guint at = d->out->len;
  g_byte_array_set_size (d->out, at + lenf);
  for (gint64 i = 0; i < lenf; i++)
    d->out->data[at + i] = d->nw[lastscan + i] - d->old[lastpos + i];
  g_byte_array_append (d->out, d->nw + lastscan + lenf, extra);
}

/* How far the approximate match at the previous position extends forwards
 * (lenf) and the next exact match backwards (lenb), overlaps resolved. */
static void
extend (Diff *d, gint64 lastscan, gint64 lastpos, gint64 scan, gint64 pos, gint64 *out_lenf,
        gint64 *out_lenb)
{
  gint64 s = 0, sf = 0, lenf = 0, lenb = 0;
  for (gint64 i = 0; lastscan + i < scan && lastpos + i < d->oldsize;)
    {
      if (d->old[lastpos + i] == d->nw[lastscan + i])
        s++;
      i++;
      if (s * 2 - i > sf * 2 - lenf)
        {
          sf = s;
          lenf = i;
        }
    }
  if (scan < d->newsize)
    {
      gint64 sb = 0;
      s = 0;
      for (gint64 i = 1; scan >= lastscan + i && pos >= i; i++)
        {
          if (d->old[pos - i] == d->nw[scan - i])
            s++;
          if (s * 2 - i > sb * 2 - lenb)
            {
              sb = s;
              lenb = i;
            }
        }
    }
  if (lastscan + lenf > scan - lenb)
    {
      gint64 overlap = (lastscan + lenf) - (scan - lenb), ss = 0, lens = 0;
      s = 0;
      for (gint64 i = 0; i < overlap; i++)
        {
          if (d->nw[lastscan + lenf - overlap + i] == d->old[lastpos + lenf - overlap + i])
            s++;
          if (d->nw[scan - lenb + i] == d->old[pos - lenb + i])
            s--;
          if (s > ss)
            {
              ss = s;
              lens = i + 1;
            }
        }
      lenf += lens - overlap;
      lenb -= lens;
    }
  *out_lenf = lenf;
  *out_lenb = lenb;
}

GBytes *
_cairn_bsdiff (const guint8 *old, gsize oldsize, const guint8 *nw, gsize newsize)
{
  g_return_val_if_fail (oldsize < G_MAXINT32 && newsize < G_MAXINT32, NULL);
  g_autofree gint32 *sa = g_new (gint32, oldsize + 1);
  suffix_sort (old, (gint32)oldsize, sa);
  Diff d = { old, nw, (gint64)oldsize, (gint64)newsize, g_byte_array_new () };
  gint64 scan = 0, len = 0, pos = 0, lastscan = 0, lastpos = 0, lastoffset = 0;
  while (scan < d.newsize)
    {
      gint64 oldscore = 0;
      for (gint64 scsc = scan += len; scan < d.newsize; scan++)
        {
          len = search (sa, old, d.oldsize, nw + scan, d.newsize - scan, 0, d.oldsize, &pos);
          for (; scsc < scan + len; scsc++)
            if (scsc + lastoffset < d.oldsize && old[scsc + lastoffset] == nw[scsc])
              oldscore++;
          if ((len == oldscore && len != 0) || len > oldscore + 8)
            break;
          if (scan + lastoffset < d.oldsize && old[scan + lastoffset] == nw[scan])
            oldscore--;
        }
      if (len != oldscore || scan == d.newsize)
        {
          gint64 lenf, lenb;
          extend (&d, lastscan, lastpos, scan, pos, &lenf, &lenb);
          emit (&d, lastscan, lastpos, lenf, (scan - lenb) - (lastscan + lenf),
                (pos - lenb) - (lastpos + lenf));
          lastscan = scan - lenb;
          lastpos = pos - lenb;
          lastoffset = pos - scan;
        }
    }
  return g_byte_array_free_to_bytes (d.out);
}
