/* Unit tests: validation of hostile names and ref names.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <string.h>

static void
test_filenames (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (cairn_validate_filename ("hello.txt", -1, &error));
  g_assert_true (cairn_validate_filename ("日本語", -1, &error));
  g_assert_true (cairn_validate_filename ("...", -1, &error));
  g_assert_true (cairn_validate_filename (".hidden", -1, &error));
  const struct
  {
    const char *s;
    gssize len;
    const char *msg;
  } bad[] = {
    { "", -1, "empty" },
    { ".", -1, "invalid file name" },
    { "..", -1, "invalid file name" },
    { "a/b", -1, "contains '/'" },
    { "/", -1, "contains '/'" },
    { "a\0b", 3, "contains NUL" },
    { "\xff\xfe", -1, "not valid UTF-8" },
    { "ok\xc3", -1, "not valid UTF-8" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_false (cairn_validate_filename (bad[i].s, bad[i].len, &error));
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, bad[i].msg));
    }
  g_clear_error (&error);
  g_assert_false (cairn_validate_filename (NULL, 0, &error));
}

static void
test_relpath (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (cairn_validate_relpath ("usr/bin/sh", &error));
  g_assert_true (cairn_validate_relpath ("usr//bin/", &error));
  g_assert_false (cairn_validate_relpath ("/etc/passwd", &error));
  g_clear_error (&error);
  g_assert_false (cairn_validate_relpath ("usr/../../etc", &error));
  g_assert_nonnull (strstr (error->message, "usr/../../etc"));
  g_clear_error (&error);
  g_assert_false (cairn_validate_relpath ("..", &error));
  g_clear_error (&error);
  g_assert_false (cairn_validate_relpath ("", &error));
}

static void
test_refs (void)
{
  g_autoptr (GError) error = NULL;
  const char *good[] = { "main", "app/stable", "x86_64/v1.0", "a-b.c_d", "_x", "0abc", "ü/ß" };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_assert_true (cairn_validate_ref_name (good[i], &error));
      g_assert_no_error (error);
    }
  const char *bad[] = { "",
                        "/main",
                        "main/",
                        "a//b",
                        ".hidden",
                        "-dash",
                        "a/.b",
                        "sp ace",
                        "a:b",
                        "a\xff",
                        "a/../b",
                        "a*",
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_false (cairn_validate_ref_name (bad[i], &error));
      g_assert_nonnull (error);
    }
  g_clear_error (&error);
  g_assert_false (cairn_validate_ref_name (
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &error));
  g_assert_nonnull (strstr (error->message, "checksum"));
}

static void
test_remote_and_checksum (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (cairn_validate_remote_name ("origin", &error));
  g_assert_false (cairn_validate_remote_name ("a/b", &error));
  g_clear_error (&error);
  g_assert_false (cairn_validate_remote_name ("", &error));
  g_clear_error (&error);
  g_assert_true (cairn_is_checksum_string (
      "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"));
  g_assert_false (cairn_is_checksum_string (
      "446A0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"));
  g_assert_false (cairn_is_checksum_string ("446a0e"));
  g_assert_false (cairn_validate_checksum_string ("xyz", &error));
}

static void
test_escape (void)
{
  g_autofree char *a = cairn_escape_name ("a\nb\xff", -1);
  g_assert_cmpstr (a, ==, "a\\x0ab\\xff");
  g_autofree char *b = cairn_escape_name ("plain", -1);
  g_assert_cmpstr (b, ==, "plain");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/filenames", test_filenames);
  g_test_add_func ("/validate/relpath", test_relpath);
  g_test_add_func ("/validate/refs", test_refs);
  g_test_add_func ("/validate/remote-checksum", test_remote_and_checksum);
  g_test_add_func ("/validate/escape", test_escape);
  return g_test_run ();
}
