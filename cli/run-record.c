/* Approved launches of `cairn run` and kernel mounts (see cli/run-record.h).
 *
 * A record is a sequence of NUL-terminated fields; byte strings that may
 * hold anything (the key, file contents) are a decimal length field
 * followed by the bytes:
 *
 *   "cairn-run-record 2"
 *   KEYLEN KEY
 *   ("file" PATH LEN BYTES | "prog" PATH)*   (a program that must stay executable)
 *   "lock" LOCKPATH DIRPATH
 *   "exec" N ARG*N
 *   "tail" ALLOWED N ARG*N
 *   "need" N            (the launcher command needs at least N arguments)
 *   "end"
 *
 * Records are trusted only in a directory owned by the user (or root) that
 * nobody else can write, as files owned by the user and writable by nobody
 * else: whoever can write one chooses what runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/run-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "cairn-run-record 3"
#define MAX_RECORD (1024 * 1024)
#define MAX_ARGS 4096
#define KEEP_RECORDS 256

/* Environment variables that change what a run means: which repository,
 * which launcher, which records, where containers live, which programs
 * (pasta) are found. (Which binary decided does not.) */
static const char *const key_env[] = { "CAIRN_REPO",
                                       "CAIRN_LAUNCH",
                                       "HOME",
                                       "XDG_DATA_HOME",
                                       "XDG_RUNTIME_DIR",
                                       "CAIRN_RUN_RECORDS",
                                       "CAIRN_CONTAINERS",
                                       "PATH",
                                       NULL };

int
cairn_run_record_split (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--") == 0)
      return i;
  return argc;
}

int
cairn_run_record_dir (char *out, size_t size)
{
  const char *env = getenv ("CAIRN_RUN_RECORDS");
  const char *xdg = getenv ("XDG_RUNTIME_DIR");
  int n;
  if (env && *env)
    n = snprintf (out, size, "%s", env);
  else if (geteuid () == 0)
    n = snprintf (out, size, "/run/cairn/run-records");
  else if (xdg && xdg[0] == '/')
    n = snprintf (out, size, "%s/cairn/run-records", xdg);
  else
    return 0;
  return n > 0 && (size_t)n < size;
}

/* ---- a growing buffer ------------------------------------------------------ */
typedef struct
{
  char *p;
  size_t len, cap;
  int failed;
} Buf;

static void
buf_add (Buf *b, const void *data, size_t n)
{
  if (b->failed)
    return;
  if (b->len + n > b->cap)
    {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n)
        cap *= 2;
      char *p = realloc (b->p, cap);
      if (!p)
        {
          b->failed = 1;
          return;
        }
      b->p = p, b->cap = cap;
    }
  memcpy (b->p + b->len, data, n);
  b->len += n;
}

static void
buf_str (Buf *b, const char *s)
{
  buf_add (b, s, strlen (s) + 1);
}

static void
buf_num (Buf *b, size_t v)
{
  char num[32];
  snprintf (num, sizeof num, "%zu", v);
  buf_str (b, num);
}

static void
buf_bytes (Buf *b, const void *data, size_t n)
{
  buf_num (b, n);
  buf_add (b, data, n);
}

int
cairn_run_record_key (int argc, char **argv, int split, char **out_key, size_t *out_len,
                      char name[32])
{
  Buf b = { 0 };
  char line[PATH_MAX + 64], cwd[PATH_MAX];
  if (!getcwd (cwd, sizeof cwd))
    return 0;
  snprintf (line, sizeof line, "uid=%u gid=%u", (unsigned)geteuid (), (unsigned)getegid ());
  buf_str (&b, line);
  buf_str (&b, cwd);
  for (const char *const *e = key_env; *e; e++)
    {
      const char *v = getenv (*e);
      buf_str (&b, *e);
      buf_str (&b, v ? "=" : "-");
      buf_str (&b, v ? v : "");
    }
  for (int i = 1; i < split && i < argc; i++)
    buf_str (&b, argv[i]);
  buf_str (&b, split < argc ? "--" : ""); /* "run app" is not "run app -- CMD" */
  if (b.failed)
    {
      free (b.p);
      return 0;
    }
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (size_t i = 0; i < b.len; i++)
    h = (h ^ (unsigned char)b.p[i]) * 0x100000001b3ULL;
  snprintf (name, 32, "%016llx.rec", (unsigned long long)h);
  *out_key = b.p;
  *out_len = b.len;
  return 1;
}

/* ---- reading ---------------------------------------------------------------- */
typedef struct
{
  const char *p, *end;
} Cur;

static const char *
next_str (Cur *c)
{
  const char *s = c->p;
  const char *nul = c->p < c->end ? memchr (c->p, '\0', (size_t)(c->end - c->p)) : NULL;
  if (!nul)
    return NULL;
  c->p = nul + 1;
  return s;
}

static int
next_num (Cur *c, size_t max, size_t *out)
{
  const char *s = next_str (c);
  char *e;
  if (!s || !*s)
    return 0;
  errno = 0;
  unsigned long long v = strtoull (s, &e, 10);
  if (errno || *e || v > max)
    return 0;
  *out = (size_t)v;
  return 1;
}

static const char *
next_bytes (Cur *c, size_t *out_len)
{
  size_t n;
  if (!next_num (c, MAX_RECORD, &n) || (size_t)(c->end - c->p) < n)
    return NULL;
  const char *s = c->p;
  c->p += n;
  *out_len = n;
  return s;
}

/* Nobody but the user (or root) may have written @st. */
static int
trusted (const struct stat *st, int dir)
{
  if (st->st_uid != geteuid () && st->st_uid != 0)
    return 0;
  if (dir)
    return S_ISDIR (st->st_mode) && !(st->st_mode & 022);
  return S_ISREG (st->st_mode) && st->st_uid == geteuid () && !(st->st_mode & 022);
}

static int
open_record_dir (const char *dir)
{
  char parent[PATH_MAX];
  struct stat st;
  snprintf (parent, sizeof parent, "%s/..", dir);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0 || !trusted (&st, 1) || stat (parent, &st) < 0
      || !(trusted (&st, 1) || (st.st_mode & S_ISVTX)))
    {
      close (fd);
      return -1;
    }
  return fd;
}

#define MAX_INPUT_FILE 65536

/* Read the file at @path into @buf (symlinks followed: /etc/resolv.conf
 * often is one, and its content is what counts); its length,
 * MAX_INPUT_FILE when it is that long or longer, -1 when it cannot be
 * opened. */
static ssize_t
read_input (const char *path, char buf[MAX_INPUT_FILE])
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = 0;
  ssize_t r;
  while (len < MAX_INPUT_FILE && (r = read (fd, buf + len, MAX_INPUT_FILE - len)) > 0)
    len += (size_t)r;
  close (fd);
  return (ssize_t)len;
}

/* Whether the whole content of @path is @want (@n bytes). */
static int
same_content (const char *path, const char *want, size_t n)
{
  char buf[MAX_INPUT_FILE];
  ssize_t len = read_input (path, buf);
  return len >= 0 && (size_t)len == n && n < MAX_INPUT_FILE && memcmp (buf, want, n) == 0;
}

/* A shared lock on @lock, which must still be linked at its path, and @dir
 * must be a directory. Returns the fd or -1. */
static int
hold_lock (const char *lock, const char *dir)
{
  struct stat a, b;
  int fd = open (lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (flock (fd, LOCK_SH) < 0 || fstat (fd, &a) < 0 || lstat (lock, &b) < 0 || a.st_ino != b.st_ino
      || a.st_dev != b.st_dev || lstat (dir, &b) < 0 || !S_ISDIR (b.st_mode))
    {
      close (fd);
      return -1;
    }
  return fd;
}

static int
read_args (Cur *c, char **out, int *n)
{
  size_t count;
  if (!next_num (c, MAX_ARGS, &count) || *n + (int)count >= MAX_ARGS)
    return 0;
  for (size_t i = 0; i < count; i++)
    {
      const char *s = next_str (c);
      if (!s)
        return 0;
      out[(*n)++] = (char *)s;
    }
  return 1;
}

/* Check @rec (the record's bytes) against this invocation; on success fills
 * @out (NULL-terminated) and returns the lock fd. */
static int
check_record (Cur *c, const char *key, size_t keylen, int argc, char **argv, int split, char **out)
{
  size_t n;
  const char *s = next_str (c);
  const char *k = next_bytes (c, &n);
  if (!s || strcmp (s, MAGIC) != 0 || !k || n != keylen || memcmp (k, key, n) != 0)
    return -1;
  const char *lock = NULL, *dir = NULL;
  while ((s = next_str (c)) && (strcmp (s, "file") == 0 || strcmp (s, "prog") == 0))
    {
      if (strcmp (s, "prog") == 0)
        {
          const char *path = next_str (c);
          if (!path || access (path, X_OK) != 0)
            return -1;
          continue;
        }
      const char *path = next_str (c), *data = next_bytes (c, &n);
      if (!path || !data || !same_content (path, data, n))
        return -1;
    }
  if (!s || strcmp (s, "lock") != 0 || !(lock = next_str (c)) || !(dir = next_str (c)))
    return -1;
  int nargs = 0;
  if (!(s = next_str (c)) || strcmp (s, "exec") != 0 || !read_args (c, out, &nargs))
    return -1;
  int fixed = nargs;
  size_t allowed;
  size_t need;
  if (!(s = next_str (c)) || strcmp (s, "tail") != 0 || !next_num (c, 1, &allowed)
      || !read_args (c, out, &nargs) || !(s = next_str (c)) || strcmp (s, "need") != 0
      || !next_num (c, MAX_ARGS, &need) || !(s = next_str (c)) || strcmp (s, "end") != 0)
    return -1;
  int user_tail = argc - (split + 1);
  if (user_tail > 0)
    {
      if (!allowed || fixed + user_tail >= MAX_ARGS)
        return -1;
      for (int i = 0; i < user_tail; i++)
        out[fixed + i] = argv[split + 1 + i];
      nargs = fixed + user_tail;
    }
  if (nargs == 0 || (size_t)nargs < need)
    return -1;
  out[nargs] = NULL;
  return hold_lock (lock, dir);
}

/* The record NAME of DFD, read whole into a buffer of its size (malloc'd,
 * NULL on failure; no static megabyte in the image of the launcher that a
 * replayed run goes on into in this process, cli/front.c) when this
 * user may trust it (owned, not writable by others: trusted()) and it fits;
 * *OUT_LEN its length.  *OUT_FD is its descriptor (or -1), left open for
 * futimens. */
static char *
read_record (int dfd, const char *name, size_t *out_len, int *out_fd)
{
  int fd = dfd < 0 ? -1 : openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  size_t len = 0, size = 0;
  ssize_t r = -1;
  char *rec = NULL;
  if (fd >= 0 && fstat (fd, &st) == 0 && trusted (&st, 0) && st.st_size < MAX_RECORD
      && (rec = malloc ((size = (size_t)st.st_size + 1))))
    while (len < size && (r = read (fd, rec + len, size - len)) > 0)
      len += (size_t)r;
  *out_fd = fd;
  *out_len = len;
  if (r != 0 || len == 0)
    {
      free (rec);
      return NULL;
    }
  return rec;
}

/* A and B name the same file (B may be a magic link of /proc). */
static int
same_file (const char *a, const char *b)
{
  struct stat sa, sb;
  return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

void
cairn_run_record_replay (int argc, char **argv, int (*in_process) (int, char **))
{
  /* mapped, not static: only the pages the command line needs are ever
   * touched (this binary is also the launcher, whose clones copy what is
   * present) */
  char **out = mmap (NULL, (MAX_ARGS + 1) * sizeof (char *), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char dir[PATH_MAX], name[32];
  if (out == MAP_FAILED)
    return;
  char *key = NULL;
  size_t keylen;
  int split = cairn_run_record_split (argc, argv);
  if (!cairn_run_record_dir (dir, sizeof dir)
      || !cairn_run_record_key (argc, argv, split, &key, &keylen, name))
    return;
  int dfd = open_record_dir (dir), fd;
  size_t len;
  char *rec = read_record (dfd, name, &len, &fd);
  Cur c = { rec, rec ? rec + len : NULL };
  int lock = rec ? check_record (&c, key, keylen, argc, argv, split, out) : -1;
  free (key);
  if (lock >= 0)
    {
      /* recently used records survive the writer's trimming */
      (void)futimens (fd, NULL);
      if (fd >= 0)
        close (fd);
      if (dfd >= 0)
        close (dfd);
      /* The shared lock stays held by cairn-launch for the container's
       * life, so that prune cannot remove the checkout under it. */
      fcntl (lock, F_SETFD, 0);
      if (in_process && same_file (out[0], "/proc/self/exe"))
        {
          int n = 0;
          while (out[n])
            n++;
          exit (in_process (n, out));
        }
      execv (out[0], out);
      close (lock);
      free (rec);
      return;
    }
  free (rec);
  if (fd >= 0)
    close (fd);
  if (dfd >= 0)
    close (dfd);
}

/* ---- writing ----------------------------------------------------------------- */
struct CairnRunRecord
{
  Buf body;
  char *key;
  size_t keylen;
  char name[32];
  char *lock, *dir;
  Buf exec;
};

CairnRunRecord *
cairn_run_record_new (int argc, char **argv, int split)
{
  CairnRunRecord *r = calloc (1, sizeof *r);
  if (!r)
    return NULL;
  if (!cairn_run_record_key (argc, argv, split, &r->key, &r->keylen, r->name))
    {
      free (r);
      return NULL;
    }
  return r;
}

int
cairn_run_record_add_file (CairnRunRecord *r, const char *path)
{
  char buf[MAX_INPUT_FILE];
  if (!r || path[0] != '/')
    return 0;
  ssize_t len = read_input (path, buf);
  if (len < 0)
    {
      r->body.failed = 1; /* the decision read its absence: no record */
      return 0;
    }
  if (len >= MAX_INPUT_FILE)
    {
      r->body.failed = 1; /* too big to compare: no record */
      return 0;
    }
  buf_str (&r->body, "file");
  buf_str (&r->body, path);
  buf_bytes (&r->body, buf, (size_t)len);
  return 1;
}

int
cairn_run_record_add_program (CairnRunRecord *r, const char *path)
{
  if (!r || path[0] != '/')
    return 0;
  buf_str (&r->body, "prog");
  buf_str (&r->body, path);
  return 1;
}

void
cairn_run_record_set_lock (CairnRunRecord *r, const char *lock, const char *dir)
{
  if (!r)
    return;
  free (r->lock);
  free (r->dir);
  r->lock = strdup (lock);
  r->dir = strdup (dir);
}

static void
add_args (Buf *b, char **args)
{
  size_t n = 0;
  while (args && args[n])
    n++;
  buf_num (b, n);
  for (size_t i = 0; i < n; i++)
    buf_str (b, args[i]);
}

void
cairn_run_record_set_exec (CairnRunRecord *r, char **fixed, char **default_tail, int tail_allowed,
                           int need)
{
  if (!r)
    return;
  r->exec.len = 0;
  buf_str (&r->exec, "exec");
  add_args (&r->exec, fixed);
  buf_str (&r->exec, "tail");
  buf_str (&r->exec, tail_allowed ? "1" : "0");
  add_args (&r->exec, default_tail);
  buf_str (&r->exec, "need");
  buf_num (&r->exec, need > 0 ? (size_t)need : 0);
}

/* Keep the newest KEEP_RECORDS records (by modification time: a replay
 * touches its record). */
static void
trim (int dfd)
{
  DIR *d = fdopendir (dup (dfd));
  struct dirent *e;
  struct
  {
    char name[32];
    struct timespec t;
  } *all = NULL;
  size_t n = 0, cap = 0;
  if (!d)
    return;
  while ((e = readdir (d)))
    {
      struct stat st;
      size_t l = strlen (e->d_name);
      if (l != 20 || (strcmp (e->d_name + 16, ".rec") != 0 && strcmp (e->d_name + 16, ".mnt") != 0)
          || fstatat (dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (n == cap)
        {
          cap = cap ? cap * 2 : 512;
          void *p = realloc (all, cap * sizeof *all);
          if (!p)
            break;
          all = p;
        }
      memcpy (all[n].name, e->d_name, l + 1);
      all[n++].t = st.st_mtim;
    }
  closedir (d);
  while (n > KEEP_RECORDS)
    {
      size_t oldest = 0;
      for (size_t i = 1; i < n; i++)
        if (all[i].t.tv_sec < all[oldest].t.tv_sec
            || (all[i].t.tv_sec == all[oldest].t.tv_sec
                && all[i].t.tv_nsec < all[oldest].t.tv_nsec))
          oldest = i;
      (void)unlinkat (dfd, all[oldest].name, 0);
      all[oldest] = all[--n];
    }
  free (all);
}

static int
mkdir_p (char *path)
{
  for (char *s = path + 1; *s; s++)
    if (*s == '/')
      {
        *s = '\0';
        int r = mkdir (path, 0700);
        *s = '/';
        if (r < 0 && errno != EEXIST)
          return -1;
      }
  return mkdir (path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

void
cairn_run_record_commit (CairnRunRecord *r)
{
  char dir[PATH_MAX], tmp[64];
  if (!r || !r->lock || !r->exec.len || r->body.failed || r->exec.failed
      || !cairn_run_record_dir (dir, sizeof dir) || mkdir_p (dir) < 0)
    goto out;
  int dfd = open_record_dir (dir);
  if (dfd < 0)
    goto out;
  Buf all = { 0 };
  buf_str (&all, MAGIC);
  buf_bytes (&all, r->key, r->keylen);
  buf_add (&all, r->body.p, r->body.len);
  buf_str (&all, "lock");
  buf_str (&all, r->lock);
  buf_str (&all, r->dir);
  buf_add (&all, r->exec.p, r->exec.len);
  buf_str (&all, "end");
  snprintf (tmp, sizeof tmp, ".%s.%ld", r->name, (long)getpid ());
  int fd = all.failed ? -1 : openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      int ok = write (fd, all.p, all.len) == (ssize_t)all.len;
      ok &= close (fd) == 0;
      if (!ok || renameat (dfd, tmp, dfd, r->name) < 0)
        (void)unlinkat (dfd, tmp, 0);
      else
        trim (dfd);
    }
  free (all.p);
  close (dfd);
out:
  cairn_run_record_free (r);
}

void
cairn_run_record_free (CairnRunRecord *r)
{
  if (!r)
    return;
  free (r->body.p);
  free (r->exec.p);
  free (r->key);
  free (r->lock);
  free (r->dir);
  free (r);
}

/* ---- kernel mounts (see cli/run-record.h) -------------------------------------
 *
 *   "cairn-mount-record 1"
 *   KEYLEN KEY
 *   ("file" PATH LEN BYTES)*
 *   "mount" IMAGE SUMFILE OBJECTS SOURCE VERITY SUID MOUNTPOINT
 *   "end"
 */
#define MOUNT_MAGIC "cairn-mount-record 1"

/* The stamp checkout/kmount.c records for an image file (image_stamp
 * there: FNV-1a of device, inode, size, mtime and ctime). */
static void
image_stamp (const struct stat *st, char out[32])
{
  const uint64_t f[]
      = { st->st_dev,          st->st_ino,         (uint64_t)st->st_size, st->st_mtim.tv_sec,
          st->st_mtim.tv_nsec, st->st_ctim.tv_sec, st->st_ctim.tv_nsec };
  uint64_t h = 0xcbf29ce484222325ULL;
  const unsigned char *b = (const unsigned char *)f;
  for (size_t i = 0; i < sizeof f; i++)
    h = (h ^ b[i]) * 0x100000001b3ULL;
  snprintf (out, 32, "stamp %016llx\n", (unsigned long long)h);
}

/* A mount hides what is in the directory: only an empty one is taken
 * (cairn-core refuses the others with a message). */
static int
empty_dir (const char *path)
{
  DIR *d = opendir (path);
  struct dirent *e;
  int empty = 1;
  if (!d)
    return 0;
  while (empty && (e = readdir (d)))
    empty = strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0;
  closedir (d);
  return empty;
}

static int
set_str (int fs, const char *key, const char *value)
{
  return fsconfig (fs, FSCONFIG_SET_STRING, key, value, 0) == 0;
}

/* The mount cairn_kmount() makes (checkout/kmount.c), from the recorded
 * values; 1 when it is attached at @dir. */
static int
replay_mount (const char *image, const char *sum, size_t sum_len, const char *objects,
              const char *source, int verity, int suid, const char *dir)
{
  int ok = 0, img = -1, efs = -1, emnt = -1, ofs = -1, omnt = -1, target = -1;
  char stamp[32], path[64];
  struct stat st;
  img = open (image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (img < 0 || fstat (img, &st) < 0)
    goto out;
  image_stamp (&st, stamp);
  /* the checksum file: 64 hex digits, a newline, the stamp */
  if (sum_len != 65 + strlen (stamp) || memcmp (sum + 65, stamp, strlen (stamp)) != 0)
    goto out;
  target = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (target < 0 || !empty_dir (dir))
    goto out;
  snprintf (path, sizeof path, "/proc/self/fd/%d", img);
  efs = fsopen ("erofs", FSOPEN_CLOEXEC);
  if (efs < 0 || !set_str (efs, "source", path)
      || fsconfig (efs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0
      || fsconfig (efs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    goto out;
  emnt = fsmount (efs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV);
  if (emnt < 0)
    goto out;
  snprintf (path, sizeof path, "/proc/self/fd/%d", emnt);
  ofs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (ofs < 0 || !set_str (ofs, "source", source) || !set_str (ofs, "lowerdir+", path)
      || !set_str (ofs, "datadir+", objects) || !set_str (ofs, "metacopy", "on")
      || !set_str (ofs, "redirect_dir", "follow") || (verity && !set_str (ofs, "verity", "on"))
      || fsconfig (ofs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    goto out;
  omnt = fsmount (ofs, FSMOUNT_CLOEXEC,
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | (suid ? 0 : MOUNT_ATTR_NOSUID));
  if (omnt < 0)
    goto out;
  ok = move_mount (omnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
out:
  for (int *fd = (int[]){ img, efs, emnt, ofs, omnt, target, -2 }; *fd != -2; fd++)
    if (*fd >= 0)
      close (*fd);
  return ok;
}

void
cairn_mount_record_replay (int argc, char **argv)
{
  char dir[PATH_MAX], name[32];
  char *key = NULL;
  size_t keylen, n;
  /* tests force other paths with these; the record knows nothing of them */
  if (getenv ("CAIRN_NO_KMOUNT") || getenv ("CAIRN_TEST_KMOUNT_STOP")
      || getenv ("CAIRN_TEST_VERITY_COMPUTE") || argc < 3 || argv[argc - 1][0] == '-'
      || !cairn_run_record_dir (dir, sizeof dir)
      || !cairn_run_record_key (argc, argv, argc, &key, &keylen, name))
    {
      free (key);
      return;
    }
  name[16] = '\0';
  strcat (name, ".mnt");
  int dfd = open_record_dir (dir), fd;
  size_t len;
  char *rec = read_record (dfd, name, &len, &fd);
  Cur c = { rec, rec ? rec + len : NULL };
  const char *s = rec ? next_str (&c) : NULL, *k = s ? next_bytes (&c, &n) : NULL;
  int ok = s && strcmp (s, MOUNT_MAGIC) == 0 && k && n == keylen && memcmp (k, key, n) == 0;
  free (key);
  const char *sum_file = NULL, *sum = NULL;
  size_t sum_len = 0;
  while (ok && (s = next_str (&c)) && strcmp (s, "file") == 0)
    {
      const char *path = next_str (&c), *data = next_bytes (&c, &n);
      ok = path && data && same_content (path, data, n);
      if (ok)
        sum_file = path, sum = data, sum_len = n; /* the last file is the checksum file */
    }
  const char *image = NULL, *sumpath = NULL, *objects = NULL, *source = NULL, *mp = NULL;
  size_t verity = 0, suid = 0;
  ok = ok && s && strcmp (s, "mount") == 0 && (image = next_str (&c)) && (sumpath = next_str (&c))
       && (objects = next_str (&c)) && (source = next_str (&c)) && next_num (&c, 1, &verity)
       && next_num (&c, 1, &suid) && (mp = next_str (&c)) && (s = next_str (&c))
       && strcmp (s, "end") == 0 && sum_file && strcmp (sum_file, sumpath) == 0
       && strcmp (mp, argv[argc - 1]) == 0;
  ok = ok
       && replay_mount (image, sum, sum_len, objects, source, (int)verity, (int)suid,
                        argv[argc - 1]);
  if (ok)
    (void)futimens (fd, NULL); /* recently used records survive the trimming */
  if (fd >= 0)
    close (fd);
  if (dfd >= 0)
    close (dfd);
  free (rec);
  if (ok)
    exit (0);
}

void
cairn_mount_record_write (int argc, char **argv, const char *const *files, const char *image,
                          const char *sum_file, const char *objects, const char *source, int verity,
                          int suid, const char *mountpoint)
{
  char dir[PATH_MAX], name[32], tmp[64], buf[MAX_INPUT_FILE];
  char *key = NULL;
  size_t keylen;
  if (!cairn_run_record_dir (dir, sizeof dir) || mkdir_p (dir) < 0
      || !cairn_run_record_key (argc, argv, argc, &key, &keylen, name))
    return;
  name[16] = '\0';
  strcat (name, ".mnt");
  Buf b = { 0 };
  buf_str (&b, MOUNT_MAGIC);
  buf_bytes (&b, key, keylen);
  free (key);
  for (int i = 0; files[i] || sum_file; i++)
    {
      const char *path = files[i] ? files[i] : sum_file;
      ssize_t len = path[0] == '/' ? read_input (path, buf) : -1;
      if (len < 0 || len >= MAX_INPUT_FILE)
        b.failed = 1;
      buf_str (&b, "file");
      buf_str (&b, path);
      buf_bytes (&b, buf, len > 0 ? (size_t)len : 0);
      if (!files[i])
        break;
    }
  buf_str (&b, "mount");
  buf_str (&b, image);
  buf_str (&b, sum_file);
  buf_str (&b, objects);
  buf_str (&b, source);
  buf_str (&b, verity ? "1" : "0");
  buf_str (&b, suid ? "1" : "0");
  buf_str (&b, mountpoint);
  buf_str (&b, "end");
  int dfd = b.failed ? -1 : open_record_dir (dir);
  snprintf (tmp, sizeof tmp, ".%s.%ld", name, (long)getpid ());
  int fd = dfd < 0 ? -1 : openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      int ok = write (fd, b.p, b.len) == (ssize_t)b.len;
      ok &= close (fd) == 0;
      if (!ok || renameat (dfd, tmp, dfd, name) < 0)
        (void)unlinkat (dfd, tmp, 0);
      else
        trim (dfd);
    }
  if (dfd >= 0)
    close (dfd);
  free (b.p);
}
