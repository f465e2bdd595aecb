/* libFuzzer target: tar import (image/import-tar.c).
 *
 * The input is a tar stream (any compression libarchive detects). It is
 * imported twice into a temporary archive-mode repository:
 *  1. through libarchive's memory reader into cairn_tar_importer_apply, as
 *     two layers (plain, then with OCI whiteouts, as `cairn import oci`
 *     applies layers), then the mutable tree's dirtrees are written and
 *     the transaction is dropped;
 *  2. as a file, by cairn_repo_import_tar (the direct-offset path for
 *     uncompressed input, the gzip CRC check, the commit).
 * The repository is recreated every 256 inputs so that it stays small.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/cairn-image.h"
#include "tests/fuzz/fuzz-store.h"
#include <stdio.h>

static CairnRepo *repo;
static unsigned count;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  g_unsetenv ("CAIRN_TAR_NO_DIRECT");
  return 0;
}

static void
import_layers (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  opts.n_threads = 1;
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, &error);
  if (!txn)
    g_error ("%s", error->message);
  g_autoptr (CairnMTree) tree = cairn_mtree_new ();
  g_autoptr (CairnTarImporter) imp = cairn_tar_importer_new (repo, txn, &opts, tree);
  gboolean ok = TRUE;
  for (int layer = 0; ok && layer < 2; layer++)
    {
      g_autoptr (CairnArchive) a = cairn_tar_reader_new ();
      if (archive_read_open_memory (a, data, size) != ARCHIVE_OK)
        return;
      ok = cairn_tar_importer_apply (imp, a, layer == 1, "fuzz", &error);
    }
  if (ok && cairn_tar_importer_finish (imp, &error))
    {
      g_autofree char *root = NULL;
      (void)cairn_txn_write_mtree (txn, tree, &root, NULL);
      CairnImportStats st = { 0 };
      cairn_tar_importer_get_stats (imp, &st);
      cairn_import_stats_clear (&st);
    }
}

static void
import_file (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  int fd = fuzz_memfd (data, size);
  g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", fd);
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  opts.n_threads = 1;
  opts.parent = "none";
  opts.has_timestamp = TRUE;
  g_autofree char *commit = NULL;
  (void)cairn_repo_import_tar (repo, path, &opts, &commit, NULL, NULL, &error);
  close (fd);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 20))
    return 0;
  if (!repo || ++count % 256 == 0)
    {
      g_clear_pointer (&repo, cairn_repo_free);
      fuzz_repo_remove ("tar");
      repo = fuzz_repo_new ("tar", CAIRN_REPO_MODE_ARCHIVE);
    }
  import_layers (data, size);
  import_file (data, size);
  return 0;
}
