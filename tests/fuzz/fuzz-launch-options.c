/* libFuzzer target: cairn-launch's command line (runtime/options.c and
 * the parsers it calls: sizes, ids, capabilities).
 *
 * The input is the argument vector, NUL-separated (argv[0] is supplied).
 * When the options parse and ask for the built-in profile with
 * --print-seccomp-profile, it is built for the resulting capability set
 * and printed into /dev/null.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/launch.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  if (!devnull && !(devnull = fopen ("/dev/null", "w")))
    abort ();
  char *buf = malloc (size + 1);
  memcpy (buf, data, size);
  buf[size] = '\0';
  size_t n = 1;
  for (size_t i = 0; i < size; i++)
    n += buf[i] == '\0';
  char **argv = calloc (n + 2, sizeof *argv);
  int argc = 0;
  argv[argc++] = "cairn-launch";
  for (char *p = buf; p <= buf + size; p += strlen (p) + 1)
    argv[argc++] = p;
  argv[argc] = NULL;
  optind = 0; /* getopt_long: start over */
  struct launch_config cfg;
  int r = launch_parse_options (argc, argv, &cfg);
  if (r == 0 && cfg.print_profile && strcmp (cfg.seccomp, "default") == 0)
    (void)seccomp_print_profile (&cfg, devnull);
  for (size_t i = 0; i < cfg.n_binds; i++)
    free ((char *)cfg.binds[i].src);
  free (cfg.env_add);
  free (argv);
  free (buf);
  return 0;
}
