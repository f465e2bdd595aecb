/* libFuzzer target: the server side of the ssh sync protocol
 * (docs/sync-protocol.md; sync/serve.c, sync/proto.c).
 *
 * The input is what a client sends: frames (BE32 length, type, payload)
 * read by cairn_repo_serve from a memfd, answered into /dev/null, against
 * a fixed repository with two commits (tests/fuzz/fuzz-store.c). Seeds:
 * CAIRN_FUZZ_GEN_SEEDS=DIR writes a few well-formed sessions (HELLO, GETs
 * of every allowed kind, LIST-REFS, NEGOTIATE with and without haves and
 * the matching LACK, BYE).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "tests/fuzz/fuzz-store.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

static CairnRepo *repo;
static int null_fd = -1;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
frame (GByteArray *out, guint8 type, const void *data, gsize len)
{
  guint32 be = GUINT32_TO_BE ((guint32)(len + 1));
  g_byte_array_append (out, (const guint8 *)&be, 4);
  g_byte_array_append (out, &type, 1);
  if (len)
    g_byte_array_append (out, data, len);
}

static void
frame_str (GByteArray *out, guint8 type, const char *s)
{
  frame (out, type, s, strlen (s));
}

static void
negotiate (GByteArray *out, const char *const *wants, const char *const *haves)
{
  g_autoptr (GByteArray) m = g_byte_array_new ();
  g_byte_array_append (m, (const guint8 *)"\0\0\0\0", 4);
  for (int k = 0; k < 2; k++)
    {
      const char *const *list = k ? haves : wants;
      guint32 n = list ? g_strv_length ((char **)list) : 0;
      guint32 be = GUINT32_TO_BE (n);
      g_byte_array_append (m, (const guint8 *)&be, 4);
      for (guint32 i = 0; i < n; i++)
        {
          guint8 raw[32];
          cairn_checksum_from_hex (list[i], raw);
          g_byte_array_append (m, raw, 32);
        }
    }
  frame (out, CAIRN_SYNC_NEGOTIATE, m->data, m->len);
}

/* How many candidates the server lists for a negotiation (to size LACK). */
static guint32
count_candidates (GByteArray *session)
{
  int in = fuzz_memfd (session->data, session->len);
  int out = memfd_create ("serve-out", MFD_CLOEXEC);
  (void)cairn_repo_serve (repo, in, out, NULL);
  g_autoptr (GBytes) b = (lseek (out, 0, SEEK_SET), cairn_fd_read_all (out, 1 << 24, NULL));
  close (in);
  close (out);
  const guint8 *p = g_bytes_get_data (b, NULL);
  gsize len = g_bytes_get_size (b), off = 0;
  while (off + 5 <= len)
    {
      guint32 flen;
      memcpy (&flen, p + off, 4);
      flen = GUINT32_FROM_BE (flen);
      if (p[off + 4] == CAIRN_SYNC_CANDIDATES && flen >= 5)
        {
          guint32 n;
          memcpy (&n, p + off + 5, 4);
          return GUINT32_FROM_BE (n);
        }
      off += 4 + flen;
    }
  abort ();
}

static void
session_negotiate (const char *dir, const char *name, const char *const *wants,
                   const char *const *haves, guint8 fill)
{
  g_autoptr (GByteArray) s = g_byte_array_new ();
  frame_str (s, CAIRN_SYNC_HELLO, "cairn-sync 1");
  negotiate (s, wants, haves);
  guint32 n = count_candidates (s);
  g_autofree guint8 *bits = g_malloc0 ((n + 7) / 8 + 1);
  memset (bits, fill, (n + 7) / 8);
  frame (s, CAIRN_SYNC_LACK, bits, (n + 7) / 8);
  frame (s, CAIRN_SYNC_BYE, NULL, 0);
  fuzz_write_seed (dir, name, s->data, s->len);
}

static void
gen_seeds (const char *dir, const char *c1, const char *c2)
{
  g_autoptr (GByteArray) s = g_byte_array_new ();
  frame_str (s, CAIRN_SYNC_HELLO, "cairn-sync 1");
  frame_str (s, CAIRN_SYNC_GET, "summary");
  frame_str (s, CAIRN_SYNC_GET, "summary.sig");
  frame_str (s, CAIRN_SYNC_GET, "config");
  frame_str (s, CAIRN_SYNC_GET, "refs/heads/main");
  g_autofree char *commit = g_strdup_printf ("objects/%.2s/%s.commit", c2, c2 + 2);
  g_autofree char *meta = g_strdup_printf ("objects/%.2s/%s.commitmeta", c1, c1 + 2);
  frame_str (s, CAIRN_SYNC_GET, commit);
  frame_str (s, CAIRN_SYNC_GET, meta);
  frame (s, CAIRN_SYNC_LIST_REFS, NULL, 0);
  frame (s, CAIRN_SYNC_BYE, NULL, 0);
  fuzz_write_seed (dir, "gets", s->data, s->len);
  g_byte_array_set_size (s, 0);
  frame_str (s, CAIRN_SYNC_HELLO, "cairn-sync 1");
  frame_str (s, CAIRN_SYNC_GET, "../config");
  fuzz_write_seed (dir, "refused", s->data, s->len);
  const char *w2[] = { c2, NULL }, *h1[] = { c1, NULL }, *both[] = { c1, c2, NULL };
  session_negotiate (dir, "negotiate-all", w2, NULL, 0xff);
  session_negotiate (dir, "negotiate-have", w2, h1, 0xff);
  session_negotiate (dir, "negotiate-none", both, NULL, 0x00);
  session_negotiate (dir, "negotiate-some", both, h1, 0x55);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  repo = fuzz_repo_new ("serve", CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *c1 = NULL, *c2 = NULL;
  fuzz_fixture (repo, &c1, &c2);
  null_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    abort ();
  const char *gen = g_getenv ("CAIRN_FUZZ_GEN_SEEDS");
  if (gen)
    {
      gen_seeds (gen, c1, c2);
      exit (0);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > (1 << 20))
    return 0;
  int in = fuzz_memfd (data, size);
  (void)cairn_repo_serve (repo, in, null_fd, NULL);
  close (in);
  return 0;
}
