/* libFuzzer target: cairn-launch's config.json reader (runtime/oci-spec.c,
 * with runtime/json.c, the resources of runtime/oci-cgroup.c and the
 * seccomp profile of runtime/seccomp-json.c).
 *
 * The input is a bundle's config.json.  It is written into a bundle made
 * once (with an empty rootfs/), read with oci_spec_load as `create` reads
 * it, checked against the host with oci_spec_check_host, and freed.  A
 * bundle's config is written by whoever made the bundle: the reader must
 * refuse anything, never crash.  Nothing is created or run.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/oci.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char bundle[64];

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 16))
    return 0;
  if (!bundle[0])
    {
      snprintf (bundle, sizeof bundle, "/tmp/cairn-fuzz-oci.XXXXXX");
      char rootfs[80];
      if (!mkdtemp (bundle)
          || (snprintf (rootfs, sizeof rootfs, "%s/rootfs", bundle), mkdir (rootfs, 0755) < 0))
        abort ();
      oci_g.root = bundle; /* never used: nothing is created */
    }
  char path[96];
  snprintf (path, sizeof path, "%s/config.json", bundle);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write (fd, data, size) != (ssize_t)size)
    abort ();
  close (fd);
  struct oci_spec s;
  if (oci_spec_load (bundle, &s) == 0)
    (void)oci_spec_check_host (&s, false);
  oci_spec_free (&s);
  return 0;
}
