/* cairn logs [-f] NAME: what a detached container wrote to its standard
 * output and error, kept by its monitor in a size-bounded log in its
 * bundle (ctr.log, and ctr.log.1 before it: runtime/client.c). -f follows
 * the log until the container stops.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>
#include <sys/stat.h>

/* Copy @fd from its offset to stdout; FALSE on a write error. */
static gboolean
copy_out (int fd)
{
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    if (fwrite (buf, 1, (size_t)n, stdout) != (size_t)n)
      return FALSE;
  return fflush (stdout) == 0;
}

static int
open_log (const char *bundle, const char *name)
{
  g_autofree char *p = g_build_filename (bundle, name, NULL);
  return open (p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* Follow ctr.log: new data, and a new file when the monitor rotated it. */
static gboolean
follow (const char *dir, const char *name, const char *bundle, int fd)
{
  gboolean last = FALSE;
  for (;;)
    {
      if (!copy_out (fd))
        return FALSE;
      struct stat a, b;
      cairn_autofd cur = open_log (bundle, "ctr.log");
      if (cur >= 0 && fstat (fd, &a) == 0 && fstat (cur, &b) == 0 && a.st_ino != b.st_ino)
        {
          /* rotated: the rest of the old file, then the new one */
          if (!copy_out (fd))
            return FALSE;
          close (fd);
          fd = cairn_steal_fd (&cur);
          continue;
        }
      if (last)
        break;
      /* one more pass after it stopped: the monitor drains the pipe last */
      last = cairn_containers_wait_stopped (dir, name, 200);
      if (last)
        g_usleep (50000);
    }
  close (fd);
  return TRUE;
}

int
cairn_cmd_logs (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean follow_opt = FALSE;
  GOptionEntry entries[] = { { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow_opt,
                               "Keep printing until the container stops", NULL },
                             { NULL } };
  if (!cairn_cli_parse (cli, entries, "NAME", "Print a detached container's output.", &argc, &argv,
                        error))
    return 2;
  if (argc != 2)
    return cairn_cli_usage_error (error, "name one container"), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  g_autofree char *bundle = cairn_containers_bundle (dir, argv[1]);
  if (!g_file_test (bundle, G_FILE_TEST_IS_DIR))
    return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "no such container: %s", argv[1]), 1;
  cairn_autofd old = open_log (bundle, "ctr.log.1");
  int fd = open_log (bundle, "ctr.log");
  if (fd < 0)
    return cairn_throw (error,
                        "container %s has no log: it ran in the foreground, its output went "
                        "to the terminal (cairn run -d keeps one)",
                        argv[1]),
           1;
  if ((old >= 0 && !copy_out (old)) || (!follow_opt && !copy_out (fd)))
    {
      close (fd);
      return cairn_throw_errno (error, "writing the log"), 1;
    }
  if (!follow_opt)
    {
      close (fd);
      return 0;
    }
  return follow (dir, argv[1], bundle, fd) ? 0 : (cairn_throw_errno (error, "writing the log"), 1);
}
