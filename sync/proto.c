/* Framing of the ssh sync protocol (docs/sync-protocol.md): every message
 * is BE32 length (of type + payload), one type byte, then the payload.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <string.h>

gboolean
_cairn_sync_write_frame (int fd, guint8 type, const void *data, gsize len, GError **error)
{
  if (len + 1 > CAIRN_SYNC_MAX_FRAME)
    return cairn_throw (error, "sync protocol: message too large (%" G_GSIZE_FORMAT " bytes)", len);
  guint8 head[5];
  guint32 be = GUINT32_TO_BE ((guint32)(len + 1));
  memcpy (head, &be, 4);
  head[4] = type;
  if (len < 65536)
    {
      g_autofree guint8 *buf = g_malloc (5 + len);
      memcpy (buf, head, 5);
      if (len)
        memcpy (buf + 5, data, len);
      return cairn_write_all (fd, buf, 5 + len, error);
    }
  return cairn_write_all (fd, head, 5, error) && cairn_write_all (fd, data, len, error);
}

static gboolean
read_exact (int fd, void *buf, gsize len, gboolean *out_eof, GError **error)
{
  gsize got = 0;
  *out_eof = FALSE;
  while (got < len)
    {
      ssize_t n = read (fd, (guint8 *)buf + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return cairn_throw_errno (error, "sync protocol: read");
      if (n == 0)
        {
          *out_eof = TRUE;
          return cairn_throw_code (error, G_IO_ERROR_CONNECTION_CLOSED,
                                   "sync protocol: connection closed by the other side%s",
                                   got || len != 5 ? " in the middle of a message" : "");
        }
      got += n;
    }
  return TRUE;
}

gboolean
_cairn_sync_read_frame (int fd, guint8 *out_type, GBytes **out_data, GError **error)
{
  guint8 head[5];
  gboolean eof;
  if (!read_exact (fd, head, 5, &eof, error))
    return FALSE;
  guint32 be;
  memcpy (&be, head, 4);
  guint32 len = GUINT32_FROM_BE (be);
  if (len == 0 || len > CAIRN_SYNC_MAX_FRAME)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "sync protocol: invalid message length %u", len);
  g_autofree guint8 *buf = g_malloc (len - 1 ? len - 1 : 1);
  if (len > 1 && !read_exact (fd, buf, len - 1, &eof, error))
    return FALSE;
  *out_type = head[4];
  *out_data = g_bytes_new_take (g_steal_pointer (&buf), len - 1);
  return TRUE;
}
