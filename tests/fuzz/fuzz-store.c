/* Helpers shared by the store fuzz targets.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "tests/fuzz/fuzz-store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static char *tmpdir;

static void
remove_tmpdir (void)
{
  if (tmpdir)
    (void)cairn_rm_rf_at (AT_FDCWD, tmpdir, NULL);
}

void
fuzz_init (void)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("SOURCE_DATE_EPOCH", "1700000000", TRUE);
}

const char *
fuzz_tmpdir (void)
{
  if (!tmpdir)
    {
      const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
      tmpdir = g_build_filename (base, "cairn-fuzz-XXXXXX", NULL);
      if (!g_mkdtemp (tmpdir))
        abort ();
      atexit (remove_tmpdir);
    }
  return tmpdir;
}

CairnRepo *
fuzz_repo_new (const char *name, CairnRepoMode mode)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fuzz_tmpdir (), name, NULL);
  if (!cairn_repo_create (path, mode, &error))
    g_error ("%s", error->message);
  CairnRepo *repo = cairn_repo_open (path, &error);
  if (!repo)
    g_error ("%s", error->message);
  g_key_file_set_boolean (repo->config, "core", "fsync", FALSE);
  repo->fsync = FALSE;
  if (!cairn_repo_write_config (repo, &error))
    g_error ("%s", error->message);
  return repo;
}

void
fuzz_repo_remove (const char *name)
{
  g_autofree char *path = g_build_filename (fuzz_tmpdir (), name, NULL);
  (void)cairn_rm_rf_at (AT_FDCWD, path, NULL);
}

static char *
put_file (CairnTxn *txn, guint32 mode, const char *content, const char *target, gboolean xattr)
{
  g_autoptr (GError) error = NULL;
  CairnFileInfo fi = { 0 };
  fi.uid = 0;
  fi.gid = 0;
  fi.mode = mode;
  fi.symlink_target = target ? g_strdup (target) : NULL;
  fi.size = content ? strlen (content) : 0;
  if (xattr)
    {
      GVariantBuilder b;
      g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayay)"));
      g_variant_builder_add (&b, "(@ay@ay)", g_variant_new_bytestring ("user.fuzz"),
                             g_variant_new_bytestring ("1"));
      fi.xattrs = g_variant_ref_sink (g_variant_builder_end (&b));
    }
  else
    fi.xattrs = cairn_xattrs_empty ();
  char *csum = NULL;
  if (!cairn_txn_write_content_bytes (txn, &fi, content ? content : "", fi.size, NULL, &csum,
                                      &error))
    g_error ("%s", error->message);
  cairn_file_info_clear (&fi);
  return csum;
}

static char *
put_dirmeta (CairnTxn *txn, guint32 mode)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) m = cairn_dirmeta_new (0, 0, S_IFDIR | mode, NULL);
  char *csum = NULL;
  if (!cairn_txn_write_metadata (txn, CAIRN_OBJECT_DIR_META, m, &csum, &error))
    g_error ("%s", error->message);
  return csum;
}

static char *
fixture_commit (CairnRepo *repo, const char *parent, gboolean second)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, &error);
  if (!txn)
    g_error ("%s", error->message);
  g_autoptr (CairnMTree) root = cairn_mtree_new ();
  g_autofree char *m755 = put_dirmeta (txn, 0755), *m700 = put_dirmeta (txn, 0700);
  cairn_mtree_set_metadata_checksum (root, m755);
  g_autofree char *f1
      = put_file (txn, S_IFREG | 0644, second ? "hello, world 2\n" : "hello, world\n", NULL, FALSE);
  g_autofree char *f2 = put_file (txn, S_IFREG | 0755, "#!/bin/sh\necho hi\n", NULL, TRUE);
  g_autofree char *f3 = put_file (txn, S_IFLNK | 0777, NULL, "bin/run", FALSE);
  g_autofree char *f4 = put_file (txn, S_IFREG | 0600, "", NULL, FALSE);
  cairn_mtree_replace_file (root, "README", f1);
  cairn_mtree_replace_file (root, "link", f3);
  CairnMTree *bin = cairn_mtree_ensure_dir (root, "bin");
  cairn_mtree_set_metadata_checksum (bin, m755);
  cairn_mtree_replace_file (bin, "run", f2);
  CairnMTree *etc = cairn_mtree_ensure_dir (root, "etc");
  cairn_mtree_set_metadata_checksum (etc, m700);
  cairn_mtree_replace_file (etc, "empty", f4);
  if (second)
    {
      g_autofree char *f5 = put_file (txn, S_IFREG | 0644, "new file\n", NULL, FALSE);
      cairn_mtree_replace_file (etc, "added", f5);
    }
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  opts.branch = "main";
  opts.subject = second ? "second" : "first";
  opts.has_timestamp = TRUE;
  opts.timestamp = second ? 1700000100 : 1700000000;
  GVariantBuilder mb;
  g_variant_builder_init (&mb, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&mb, "{sv}", "version", g_variant_new_string (second ? "2" : "1"));
  opts.extra_metadata = g_variant_ref_sink (g_variant_builder_end (&mb));
  char *commit = NULL;
  if (!cairn_txn_finish_commit (txn, &opts, parent, root, &commit, &error))
    g_error ("%s", error->message);
  g_variant_unref (opts.extra_metadata);
  return commit;
}

void
fuzz_fixture (CairnRepo *repo, char **out_c1, char **out_c2)
{
  g_autoptr (GError) error = NULL;
  *out_c1 = fixture_commit (repo, NULL, FALSE);
  *out_c2 = fixture_commit (repo, *out_c1, TRUE);
  if (!cairn_repo_regenerate_summary (repo, NULL, NULL, NULL, &error))
    g_error ("%s", error->message);
}

int
fuzz_memfd (const uint8_t *data, size_t size)
{
  int fd = memfd_create ("fuzz-input", MFD_CLOEXEC);
  if (fd < 0)
    abort ();
  size_t off = 0;
  while (off < size)
    {
      ssize_t n = write (fd, data + off, size - off);
      if (n <= 0)
        abort ();
      off += n;
    }
  lseek (fd, 0, SEEK_SET);
  return fd;
}

void
fuzz_write_seed (const char *dir, const char *name, const void *data, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_mkdir_with_parents (dir, 0755);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  if (!g_file_set_contents (path, data, len, &error))
    g_error ("%s", error->message);
}

GBytes *
fuzz_load_object (CairnRepo *repo, CairnObjectType type, const char *checksum)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *rel = cairn_object_relpath (checksum, type, repo->mode);
  GBytes *b = cairn_file_get_contents_at (repo->objects_dfd, rel, CAIRN_MAX_METADATA_SIZE, &error);
  if (!b)
    g_error ("%s", error->message);
  return b;
}
