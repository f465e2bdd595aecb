/* Helpers shared by the store fuzz targets (tests/fuzz/fuzz-*.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/store-private.h"
#include "sync/sync-private.h"
#include <stddef.h>
#include <stdint.h>

/* GLib criticals and warnings abort (a g_return_if_fail reached by input
 * is a bug the fuzzer should report); called from LLVMFuzzerInitialize. */
void fuzz_init (void);

/* A fresh directory under /dev/shm (else $TMPDIR), removed at exit. */
const char *fuzz_tmpdir (void);

/* Create and open the repository @name in fuzz_tmpdir() with
 * core.fsync=false (objects go straight to objects/). */
CairnRepo *fuzz_repo_new (const char *name, CairnRepoMode mode);
/* Remove it (close first). */
void fuzz_repo_remove (const char *name);

/* A deterministic source repository: commit @out_c1 (files, a symlink, an
 * xattr, a subdirectory) and @out_c2 (its child, one file changed, one
 * added), both on ref "main"; c2 is the ref. Checksums are fixed. */
void fuzz_fixture (CairnRepo *repo, char **out_c1, char **out_c2);

/* A memfd holding @data, positioned at 0. */
int fuzz_memfd (const uint8_t *data, size_t size);

/* Write @len bytes to DIR/NAME (seed generation). */
void fuzz_write_seed (const char *dir, const char *name, const void *data, size_t len);

/* The file a metadata object of @repo is stored in, read whole. */
GBytes *fuzz_load_object (CairnRepo *repo, CairnObjectType type, const char *checksum);
