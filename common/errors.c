/* Error helpers: errno captured at the failure site, context added once.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <string.h>

static gboolean
throw_errno_va (GError **error, int errsv, const char *fmt, va_list ap)
{
  if (error == NULL)
    return FALSE;
  g_autofree char *prefix = g_strdup_vprintf (fmt, ap);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", prefix,
               g_strerror (errsv));
  return FALSE;
}

gboolean
cairn_throw_errno (GError **error, const char *fmt, ...)
{
  int errsv = errno;
  va_list ap;
  va_start (ap, fmt);
  throw_errno_va (error, errsv, fmt, ap);
  va_end (ap);
  errno = errsv;
  return FALSE;
}

gboolean
cairn_throw_errno_value (GError **error, int errsv, const char *fmt, ...)
{
  va_list ap;
  if (errsv < 0)
    errsv = -errsv;
  va_start (ap, fmt);
  throw_errno_va (error, errsv, fmt, ap);
  va_end (ap);
  return FALSE;
}

static void
set_error_va (GError **error, GIOErrorEnum code, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  g_set_error_literal (error, G_IO_ERROR, code, msg);
}

gboolean
cairn_throw (GError **error, const char *fmt, ...)
{
  va_list ap;
  if (error == NULL)
    return FALSE;
  va_start (ap, fmt);
  set_error_va (error, G_IO_ERROR_FAILED, fmt, ap);
  va_end (ap);
  return FALSE;
}

gboolean
cairn_throw_code (GError **error, GIOErrorEnum code, const char *fmt, ...)
{
  va_list ap;
  if (error == NULL)
    return FALSE;
  va_start (ap, fmt);
  set_error_va (error, code, fmt, ap);
  va_end (ap);
  return FALSE;
}

gboolean
cairn_prefix_error (GError **error, const char *fmt, ...)
{
  va_list ap;
  if (error == NULL || *error == NULL)
    return FALSE;
  va_start (ap, fmt);
  g_autofree char *prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_prefix_error (error, "%s: ", prefix);
  return FALSE;
}

void
cairn_close_fdp (int *fdp)
{
  int errsv = errno;
  if (fdp && *fdp >= 0)
    {
      (void)close (*fdp);
      *fdp = -1;
    }
  errno = errsv;
}

void
cairn_first_error_init (CairnFirstError *fe)
{
  g_mutex_init (&fe->lock);
  fe->error = NULL;
  fe->failed = 0;
}

void
cairn_first_error_clear (CairnFirstError *fe)
{
  g_clear_error (&fe->error);
  g_mutex_clear (&fe->lock);
}

void
cairn_first_error_set (CairnFirstError *fe, GError *error)
{
  g_mutex_lock (&fe->lock);
  if (fe->error == NULL)
    fe->error = error;
  else if (error)
    g_error_free (error);
  g_atomic_int_set (&fe->failed, 1);
  g_mutex_unlock (&fe->lock);
}

gboolean
cairn_first_error_failed (CairnFirstError *fe)
{
  return g_atomic_int_get (&fe->failed) != 0;
}

gboolean
cairn_first_error_propagate (CairnFirstError *fe, GError **error)
{
  g_mutex_lock (&fe->lock);
  GError *e = g_steal_pointer (&fe->error);
  g_mutex_unlock (&fe->lock);
  if (!e)
    return TRUE;
  g_propagate_error (error, e);
  return FALSE;
}
