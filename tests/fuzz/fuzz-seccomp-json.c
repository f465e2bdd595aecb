/* libFuzzer target: cairn-launch's OCI seccomp profile parser
 * (runtime/seccomp-json.c) and what it feeds (runtime/seccomp.c).
 *
 * The input is a profile file. It goes through sc_policy_load_json (as
 * --seccomp=FILE), is printed back by seccomp_print_profile
 * (--print-seccomp-profile, into /dev/null), and compiled to BPF by
 * seccomp_prepare without the cache (libseccomp; never loaded).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/launch.h"
#include "runtime/seccomp-policy.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 16))
    return 0;
  if (!devnull && !(devnull = fopen ("/dev/null", "w")))
    abort ();
  int fd = memfd_create ("profile", MFD_CLOEXEC);
  if (fd < 0 || write (fd, data, size) != (ssize_t)size)
    abort ();
  char path[32];
  fmt_fd_path (path, fd);
  struct sc_policy p;
  if (sc_policy_load_json (path, &p) == 0)
    {
      struct launch_config cfg;
      memset (&cfg, 0, sizeof cfg);
      cfg.seccomp = path;
      cfg.seccomp_cache = "none";
      (void)seccomp_print_profile (&cfg, devnull);
      struct launch_bpf bpf = { 0 };
      if (p.n <= 64 && seccomp_prepare (&cfg, &bpf) == 0)
        free (bpf.insns);
      sc_policy_clear (&p);
    }
  close (fd);
  return 0;
}
