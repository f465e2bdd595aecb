/* libFuzzer target: the client side of the ssh sync protocol
 * (docs/sync-protocol.md; sync/pull-ssh.c driven by sync/pull.c).
 *
 * The input is what a server sends. A whole pull of ref "main" (summary,
 * commits, negotiation, pack, verification, refs) runs into a fresh
 * archive-mode repository, its transport reading the input from a memfd
 * and writing to /dev/null (_cairn_pull_transport_ssh_new_fds, reached
 * through the HTTP constructor hook of sync/sync-private.h).
 * Seeds: CAIRN_FUZZ_GEN_SEEDS=DIR records what cairn_repo_serve answers to
 * real pulls of the fixture of tests/fuzz/fuzz-store.c (a first pull; a
 * pull with the first commit already present; a pull of both commits).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "tests/fuzz/fuzz-store.h"
#include <fcntl.h>
#include <string.h>

static int in_fd = -1;  /* the next transport's server stream */
static int out_fd = -1; /* and where it writes */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static CairnPullTransport *
fd_transport (const char *url, CairnRemote *remote, GError **error)
{
  int from = in_fd, to = out_fd;
  in_fd = out_fd = -1;
  return _cairn_pull_transport_ssh_new_fds (url, to, from, error);
}

static gboolean
pull (CairnRepo *dst, const char *ref, int depth, GError **error)
{
  CairnPullOptions opts;
  cairn_pull_options_init (&opts);
  opts.depth = depth;
  const char *refs[] = { ref, NULL };
  return cairn_repo_pull (dst, "http://fuzz.invalid/repo", refs, &opts, NULL, error);
}

/* ---- seeds ---------------------------------------------------------------------- */

typedef struct
{
  int from, to;
  GByteArray *log;
} Relay;

static gpointer
relay_thread (gpointer data)
{
  Relay *r = data;
  guint8 buf[65536];
  ssize_t n;
  while ((n = read (r->from, buf, sizeof buf)) > 0)
    {
      g_byte_array_append (r->log, buf, n);
      if (!cairn_write_all (r->to, buf, n, NULL))
        break;
    }
  close (r->to);
  return NULL;
}

typedef struct
{
  CairnRepo *repo;
  int in, out;
} Serve;

static gpointer
serve_thread (gpointer data)
{
  Serve *s = data;
  (void)cairn_repo_serve (s->repo, s->in, s->out, NULL);
  close (s->in);
  close (s->out);
  return NULL;
}

static void
record (CairnRepo *src, CairnRepo *dst, const char *ref, int depth, const char *dir,
        const char *name)
{
  int c2s[2], s2r[2], r2c[2];
  if (pipe2 (c2s, O_CLOEXEC) < 0 || pipe2 (s2r, O_CLOEXEC) < 0 || pipe2 (r2c, O_CLOEXEC) < 0)
    abort ();
  Serve sv = { src, c2s[0], s2r[1] };
  Relay rl = { s2r[0], r2c[1], g_byte_array_new () };
  GThread *ts = g_thread_new ("serve", serve_thread, &sv);
  GThread *tr = g_thread_new ("relay", relay_thread, &rl);
  in_fd = r2c[0];
  out_fd = c2s[1];
  g_autoptr (GError) error = NULL;
  if (!pull (dst, ref, depth, &error))
    g_error ("seed pull: %s", error->message);
  g_thread_join (ts);
  g_thread_join (tr);
  close (s2r[0]);
  if (dir)
    fuzz_write_seed (dir, name, rl.log->data, rl.log->len);
  g_byte_array_unref (rl.log);
}

static void
gen_seeds (const char *dir)
{
  CairnRepo *src = fuzz_repo_new ("pull-src", CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *c1 = NULL, *c2 = NULL;
  fuzz_fixture (src, &c1, &c2);
  CairnRepo *a = fuzz_repo_new ("pull-a", CAIRN_REPO_MODE_ARCHIVE);
  record (src, a, "main", 0, dir, "pull-first");
  CairnRepo *b = fuzz_repo_new ("pull-b", CAIRN_REPO_MODE_BARE_USER_ONLY);
  record (src, b, "main", -1, dir, "pull-depth");
  /* An update: the destination has c1 complete under the ref. */
  CairnRepo *c = fuzz_repo_new ("pull-c", CAIRN_REPO_MODE_ARCHIVE);
  record (src, c, c1, 0, NULL, NULL);
  if (!cairn_repo_write_ref (c, NULL, "main", c1, NULL))
    abort ();
  record (src, c, "main", 0, dir, "pull-update");
  /* A source without a summary: refs/heads/main, and LIST-REFS. */
  CairnRepo *bare = fuzz_repo_new ("pull-src2", CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *e1 = NULL, *e2 = NULL;
  fuzz_fixture (bare, &e1, &e2);
  if (unlinkat (bare->repo_dfd, "summary", 0) < 0)
    abort ();
  record (bare, fuzz_repo_new ("pull-d", CAIRN_REPO_MODE_ARCHIVE), "main", 0, dir,
          "pull-nosummary");
  record (bare, fuzz_repo_new ("pull-e", CAIRN_REPO_MODE_ARCHIVE), NULL, 0, dir,
          "pull-nosummary-all");
}

/* ---- the target ------------------------------------------------------------------ */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  _cairn_pull_http_new = fd_transport;
  const char *gen = g_getenv ("CAIRN_FUZZ_GEN_SEEDS");
  if (gen)
    {
      gen_seeds (gen);
      exit (0);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 20))
    return 0;
  /* Ref "main" (summary, else refs/heads/main), then every ref (the
   * summary's, else LIST-REFS), each into a fresh repository. */
  for (int all = 0; all < 2; all++)
    {
      CairnRepo *dst = fuzz_repo_new ("pull", CAIRN_REPO_MODE_ARCHIVE);
      in_fd = fuzz_memfd (data, size);
      out_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      g_autoptr (GError) error = NULL;
      if (!pull (dst, all ? NULL : "main", 0, &error) && g_getenv ("CAIRN_FUZZ_VERBOSE"))
        g_printerr ("pull: %s\n", error->message);
      if (in_fd >= 0)
        close (in_fd);
      if (out_fd >= 0)
        close (out_fd);
      in_fd = out_fd = -1;
      cairn_repo_free (dst);
      fuzz_repo_remove ("pull");
    }
  return 0;
}
