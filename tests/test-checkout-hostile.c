/* Unit test: a commit whose dirtree carries hostile names ("..", "a/b",
 * empty, invalid UTF-8) is refused by checkout, naming the entry, and writes
 * nothing outside the destination.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "checkout/cairn-checkout.h"
#include <string.h>

static char *
write_hostile_commit (CairnRepo *repo, const char *bad_name, gboolean as_dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTxn) txn = cairn_txn_begin (repo, &error);
  g_assert_no_error (error);
  CairnFileInfo fi = { .uid = 0, .gid = 0, .mode = S_IFREG | 0644 };
  g_autofree char *file = NULL, *meta = NULL, *empty = NULL, *tree = NULL, *commit = NULL;
  g_assert_true (cairn_txn_write_content_bytes (txn, &fi, "evil\n", 5, NULL, &file, &error));
  g_autoptr (GVariant) dm = cairn_dirmeta_new (0, 0, S_IFDIR | 0755, NULL);
  g_assert_true (cairn_txn_write_metadata (txn, CAIRN_OBJECT_DIR_META, dm, &meta, &error));
  g_autoptr (CairnMTree) sub = cairn_mtree_new ();
  cairn_mtree_set_metadata_checksum (sub, meta);
  g_assert_true (cairn_txn_write_mtree (txn, sub, &empty, &error));
  g_autoptr (GVariant) fcs = cairn_checksum_to_variant (file);
  g_autoptr (GVariant) tcs = cairn_checksum_to_variant (empty);
  g_autoptr (GVariant) mcs = cairn_checksum_to_variant (meta);
  GVariantBuilder fb, db;
  g_variant_builder_init (&fb, G_VARIANT_TYPE ("a(say)"));
  g_variant_builder_init (&db, G_VARIANT_TYPE ("a(sayay)"));
  if (as_dir)
    g_variant_builder_add (&db, "(s@ay@ay)", bad_name, tcs, mcs);
  else
    g_variant_builder_add (&fb, "(s@ay)", bad_name, fcs);
  g_autoptr (GVariant) root = g_variant_ref_sink (g_variant_new (
      "(@a(say)@a(sayay))", g_variant_builder_end (&fb), g_variant_builder_end (&db)));
  g_assert_true (cairn_txn_write_metadata (txn, CAIRN_OBJECT_DIR_TREE, root, &tree, &error));
  CairnCommitOptions opts;
  cairn_commit_options_init (&opts);
  g_assert_true (cairn_txn_write_commit (txn, &opts, NULL, tree, meta, &commit, &error));
  g_assert_true (cairn_txn_commit (txn, &error));
  return g_steal_pointer (&commit);
}

static void
test_hostile_names (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("cairn-hostile-XXXXXX", NULL);
  g_autofree char *repo_path = g_build_filename (tmp, "repo", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (cairn_repo_create (repo_path, CAIRN_REPO_MODE_BARE_USER_ONLY, &error));
  g_autoptr (CairnRepo) repo = cairn_repo_open (repo_path, &error);
  g_assert_nonnull (repo);
  /* (Invalid UTF-8 cannot even be serialised: GVariant rejects such a dirtree
   * as not in normal form when it is loaded.) */
  const char *bad[] = { "..", ".", "a/b", "../../escape", "" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    for (int as_dir = 0; as_dir <= 1; as_dir++)
      {
        g_autofree char *commit = write_hostile_commit (repo, bad[i], as_dir);
        g_autofree char *dest = g_strdup_printf ("%s/co-%zu-%d", tmp, i, as_dir);
        CairnCheckoutOptions o = { .user_mode = TRUE };
        g_clear_error (&error);
        g_assert_false (cairn_checkout (repo, commit, AT_FDCWD, dest, &o, NULL, &error));
        g_assert_nonnull (error);
        g_assert_nonnull (strstr (error->message, "invalid file name"));
        g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
      }
  g_autofree char *escape = g_build_filename (tmp, "escape", NULL);
  g_assert_false (g_file_test (escape, G_FILE_TEST_EXISTS));
  g_assert_true (cairn_rm_rf_at (AT_FDCWD, tmp, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/checkout/hostile-dirtree-names", test_hostile_names);
  return g_test_run ();
}
