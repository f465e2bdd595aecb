/* Unit tests: fd-relative operations, tmpfiles (O_TMPFILE and the forced
 * named-file fallback), atomic replace, errno capture.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "common/cairn-common.h"
#include <fcntl.h>
#include <string.h>
#include <dirent.h>

typedef struct
{
  char *path;
  int dfd;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->path = g_dir_make_tmp ("cairn-test-XXXXXX", NULL);
  g_assert_nonnull (f->path);
  g_assert_true (cairn_opendirat (AT_FDCWD, f->path, TRUE, &f->dfd, NULL));
  cairn_tmpfile_set_disable_o_tmpfile (GPOINTER_TO_INT (data));
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_assert_true (cairn_rm_rf_at (AT_FDCWD, f->path, NULL));
  close (f->dfd);
  g_free (f->path);
  cairn_tmpfile_set_disable_o_tmpfile (FALSE);
}

static int
count_entries (int dfd)
{
  int n = 0;
  DIR *d = fdopendir (fcntl (dfd, F_DUPFD_CLOEXEC, 3));
  struct dirent *de;
  rewinddir (d);
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      n++;
  closedir (d);
  return n;
}

static void
test_tmpfile_link (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_auto (CairnTmpfile) t = { 0 };
  g_assert_true (cairn_tmpfile_open (f->dfd, 0644, &t, &error));
  g_assert_no_error (error);
  g_assert_cmpint (t.anonymous, ==, !GPOINTER_TO_INT (data));
  if (GPOINTER_TO_INT (data))
    g_assert_cmpint (count_entries (f->dfd), ==, 1); /* the named fallback is visible */
  g_assert_true (cairn_write_all (t.fd, "abc", 3, &error));
  g_assert_true (
      cairn_tmpfile_link_at (&t, CAIRN_LINK_NOREPLACE, f->dfd, "obj", CAIRN_FSYNC_FULL, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) b = cairn_file_get_contents_at (f->dfd, "obj", 0, &error);
  g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), "abc", 3);
  cairn_tmpfile_clear (&t);
  g_assert_cmpint (count_entries (f->dfd), ==, 1); /* no stray temp names */

  /* NOREPLACE on an existing name fails; NOREPLACE_IGNORE succeeds, keeps old. */
  g_auto (CairnTmpfile) t2 = { 0 };
  g_assert_true (cairn_tmpfile_open (f->dfd, 0644, &t2, &error));
  g_assert_true (cairn_write_all (t2.fd, "xyz", 3, &error));
  g_assert_false (
      cairn_tmpfile_link_at (&t2, CAIRN_LINK_NOREPLACE, f->dfd, "obj", CAIRN_FSYNC_NONE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "obj"));
  g_clear_error (&error);
  g_assert_true (cairn_tmpfile_link_at (&t2, CAIRN_LINK_NOREPLACE_IGNORE, f->dfd, "obj",
                                        CAIRN_FSYNC_NONE, &error));
  g_bytes_unref (b);
  b = cairn_file_get_contents_at (f->dfd, "obj", 0, &error);
  g_assert_cmpmem (g_bytes_get_data (b, NULL), 3, "abc", 3);
  cairn_tmpfile_clear (&t2);
  g_assert_cmpint (count_entries (f->dfd), ==, 1);
}

static void
test_replace_contents (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (
      cairn_file_replace_contents_at (f->dfd, "ref", "one\n", 4, 0644, CAIRN_FSYNC_FULL, &error));
  g_assert_true (
      cairn_file_replace_contents_at (f->dfd, "ref", "two\n", 4, 0600, CAIRN_FSYNC_NONE, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) b = cairn_file_get_contents_at (f->dfd, "ref", 0, &error);
  g_assert_cmpmem (g_bytes_get_data (b, NULL), 4, "two\n", 4);
  struct stat st;
  g_assert_cmpint (fstatat (f->dfd, "ref", &st, 0), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (count_entries (f->dfd), ==, 1);
}

static void
test_fdio (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (cairn_mkdirat_p (f->dfd, "a/b/c", 0755, &error));
  g_assert_true (cairn_mkdirat (f->dfd, "a", 0755, TRUE, &error));
  g_assert_false (cairn_mkdirat (f->dfd, "a", 0755, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "mkdir(a)"));
  g_clear_error (&error);
  /* A symlink is not a directory for opendirat(follow=FALSE) nor mkdirat(allow_exist). */
  g_assert_cmpint (symlinkat ("/", f->dfd, "evil"), ==, 0);
  int fd = -1;
  g_assert_false (cairn_opendirat (f->dfd, "evil", FALSE, &fd, &error));
  g_clear_error (&error);
  g_assert_false (cairn_mkdirat (f->dfd, "evil", 0755, TRUE, &error));
  g_clear_error (&error);
  g_assert_false (cairn_openat_rdonly (f->dfd, "evil", FALSE, &fd, &error));
  g_clear_error (&error);
  g_autofree char *target = cairn_readlinkat (f->dfd, "evil", &error);
  g_assert_cmpstr (target, ==, "/");
  struct stat st;
  gboolean exists = TRUE;
  g_assert_true (cairn_fstatat_nofollow (f->dfd, "missing", &st, TRUE, &exists, &error));
  g_assert_false (exists);
  g_assert_false (cairn_fstatat_nofollow (f->dfd, "missing", &st, FALSE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (cairn_fstatat_nofollow (f->dfd, "evil", &st, FALSE, NULL, &error));
  g_assert_true (S_ISLNK (st.st_mode));
  /* rm -rf never follows the symlink (/ survives), removes the tree. */
  g_assert_true (
      cairn_file_replace_contents_at (f->dfd, "a/b/c/f", "x", 1, 0400, CAIRN_FSYNC_NONE, &error));
  g_assert_true (cairn_rm_rf_at (f->dfd, "evil", &error));
  g_assert_true (cairn_rm_rf_at (f->dfd, "a", &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_entries (f->dfd), ==, 0);
  g_assert_true (g_file_test ("/etc", G_FILE_TEST_IS_DIR));
  /* link / rename */
  g_assert_true (
      cairn_file_replace_contents_at (f->dfd, "x", "1", 1, 0644, CAIRN_FSYNC_NONE, &error));
  g_assert_true (cairn_linkat (f->dfd, "x", f->dfd, "y", FALSE, &error));
  g_assert_true (cairn_linkat (f->dfd, "x", f->dfd, "y", TRUE, &error));
  g_assert_false (cairn_renameat (f->dfd, "x", f->dfd, "y", TRUE, &error));
  g_clear_error (&error);
  g_assert_true (cairn_renameat (f->dfd, "x", f->dfd, "z", TRUE, &error));
  g_assert_true (cairn_unlinkat (f->dfd, "x", 0, TRUE, &error));
  g_assert_false (cairn_unlinkat (f->dfd, "x", 0, FALSE, &error));
  g_clear_error (&error);
}

static void
test_errno_capture (void)
{
  g_autoptr (GError) error = NULL;
  errno = ENOSPC;
  g_assert_false (cairn_throw_errno (&error, "writing %s", "obj"));
  g_assert_cmpint (errno, ==, ENOSPC);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpstr (error->message, ==, "writing obj: No space left on device");
  cairn_prefix_error (&error, "commit '%s'", "app");
  g_assert_cmpstr (error->message, ==, "commit 'app': writing obj: No space left on device");
  g_clear_error (&error);
  g_assert_false (cairn_throw_errno_value (&error, -EEXIST, "x"));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

static void
test_first_error (void)
{
  CairnFirstError fe;
  g_autoptr (GError) error = NULL;
  cairn_first_error_init (&fe);
  g_assert_false (cairn_first_error_failed (&fe));
  g_assert_true (cairn_first_error_propagate (&fe, &error));
  cairn_first_error_set (&fe, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "first"));
  cairn_first_error_set (&fe, NULL); /* a thread that stopped because of it */
  cairn_first_error_set (&fe, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "second"));
  g_assert_true (cairn_first_error_failed (&fe));
  g_assert_false (cairn_first_error_propagate (&fe, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  cairn_first_error_clear (&fe);
}

static void
test_read_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  char buf[1000];
  memset (buf, 'x', sizeof buf);
  g_assert_true (cairn_file_replace_contents_at (f->dfd, "big", buf, sizeof buf, 0644,
                                                 CAIRN_FSYNC_NONE, &error));
  g_autoptr (GBytes) b = cairn_file_get_contents_at (f->dfd, "big", 100, &error);
  g_assert_null (b);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  b = cairn_file_get_contents_at (f->dfd, "nope", 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  /* copy */
  int src = -1;
  g_assert_true (cairn_openat_rdonly (f->dfd, "big", FALSE, &src, NULL));
  g_auto (CairnTmpfile) t = { 0 };
  g_assert_true (cairn_tmpfile_open (f->dfd, 0644, &t, NULL));
  g_assert_true (cairn_copy_fd_data (src, t.fd, NULL));
  g_assert_cmpint (lseek (t.fd, 0, SEEK_CUR), ==, 1000);
  close (src);
}

/* cairn_fd_read_all: a regular file ends where its size says (a short read
 * there is its end), but a file that reports size 0 and reads in short
 * pieces (those of /proc) is read to its real end. */
static void
test_read_all (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize n = 40000;
  g_autofree char *want = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    want[i] = (char)(i * 7);
  g_assert_true (
      cairn_file_replace_contents_at (f->dfd, "f", want, n, 0644, CAIRN_FSYNC_NONE, &error));
  int fd = -1;
  g_assert_true (cairn_openat_rdonly (f->dfd, "f", FALSE, &fd, NULL));
  g_autoptr (GBytes) b = cairn_fd_read_all (fd, n, &error); /* exactly the limit */
  g_assert_no_error (error);
  gsize len = 0;
  const char *got = g_bytes_get_data (b, &len);
  g_assert_cmpuint (len, ==, n);
  g_assert_true (memcmp (got, want, n) == 0);
  close (fd);
  /* /proc/kallsyms: size 0, read a page at a time, many pages */
  g_autofree char *whole = NULL;
  gsize whole_len = 0;
  if (!g_file_get_contents ("/proc/kallsyms", &whole, &whole_len, NULL) || whole_len < 4 * 4096)
    {
      g_test_skip ("/proc/kallsyms is not readable or small here");
      return;
    }
  fd = open ("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr (GBytes) k = cairn_fd_read_all (fd, 0, &error);
  g_assert_no_error (error);
  /* symbols may come and go between the two reads; a read that stopped at
   * the first short piece would hold one page */
  g_assert_cmpuint (g_bytes_get_size (k), >, whole_len / 2);
  close (fd);
}

/* cairn_fd_read_sized: the size a stat gave, exactly; a file that grew or
 * shrank since is an error that says so (a commit reads its small files so). */
static void
test_read_sized (Fixture *f, gconstpointer data)
{
  char want[100];
  for (gsize i = 0; i < sizeof want; i++)
    want[i] = (char)(i * 3);
  g_assert_true (cairn_file_replace_contents_at (f->dfd, "f", want, sizeof want, 0644,
                                                 CAIRN_FSYNC_NONE, NULL));
  struct
  {
    gsize size;
    const char *msg; /* NULL: read whole */
  } cases[] = { { 100, NULL },
                { 50, "file size changed while reading (more than 50 bytes, expected 50)" },
                { 0, "file size changed while reading (100 bytes, expected 0)" },
                { 200, "file size changed while reading (100 bytes, expected 200)" } };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      int fd = -1;
      g_assert_true (cairn_openat_rdonly (f->dfd, "f", FALSE, &fd, NULL));
      g_autoptr (GBytes) b = cairn_fd_read_sized (fd, cases[i].size, &error);
      close (fd);
      if (!cases[i].msg)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (g_bytes_get_size (b), ==, sizeof want);
          g_assert_true (memcmp (g_bytes_get_data (b, NULL), want, sizeof want) == 0);
        }
      else
        {
          g_assert_null (b);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_assert_cmpstr (error->message, ==, cases[i].msg);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (int forced = 0; forced <= 1; forced++)
    {
      const char *sfx = forced ? "no-o-tmpfile" : "o-tmpfile";
      g_autofree char *a = g_strdup_printf ("/fdio/tmpfile-link/%s", sfx);
      g_autofree char *b = g_strdup_printf ("/fdio/replace-contents/%s", sfx);
      g_autofree char *c = g_strdup_printf ("/fdio/read-limits/%s", sfx);
      g_test_add (a, Fixture, GINT_TO_POINTER (forced), setup, test_tmpfile_link, teardown);
      g_test_add (b, Fixture, GINT_TO_POINTER (forced), setup, test_replace_contents, teardown);
      g_test_add (c, Fixture, GINT_TO_POINTER (forced), setup, test_read_limits, teardown);
    }
  g_test_add ("/fdio/ops", Fixture, GINT_TO_POINTER (0), setup, test_fdio, teardown);
  g_test_add ("/fdio/read-all", Fixture, GINT_TO_POINTER (0), setup, test_read_all, teardown);
  g_test_add ("/fdio/read-sized", Fixture, GINT_TO_POINTER (0), setup, test_read_sized, teardown);
  g_test_add_func ("/errors/errno-capture", test_errno_capture);
  g_test_add_func ("/errors/first-error", test_first_error);
  return g_test_run ();
}
