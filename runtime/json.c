/* cairn-launch: a small strict JSON reader and a writer (see json.h).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Used by the seccomp profile loader and the OCI runtime (config.json,
 * process.json, the state files).  Recursive descent, depth bounded to 64.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/json.h"
#include "runtime/launch.h"

#define MAX_DEPTH 64

/* A parsed document lives in an arena (its nodes, strings and arrays) that
 * json_free releases at once: a config.json with the default seccomp
 * profile is some 9000 small allocations otherwise, which cost more than
 * the parse itself. */
struct json_arena
{
  struct json_arena *next;
  size_t used, cap;
  max_align_t data[];
};

struct parser
{
  const char *p, *start, *end;
  int depth;
  const char *err;
  struct json_arena *arena;
  size_t chunk; /* size of the next chunk */
};

static void *
arena_alloc (struct parser *j, size_t n)
{
  n = (n + sizeof (max_align_t) - 1) & ~(sizeof (max_align_t) - 1);
  struct json_arena *a = j->arena;
  if (!a || a->cap - a->used < n)
    {
      size_t cap = n > j->chunk ? n : j->chunk;
      a = xrealloc (NULL, sizeof *a + cap);
      a->next = j->arena;
      a->used = 0;
      a->cap = cap;
      j->arena = a;
      j->chunk *= 2;
    }
  void *p = (char *)a->data + a->used;
  a->used += n;
  return p;
}

static char *
arena_strndup (struct parser *j, const char *s, size_t n)
{
  char *d = arena_alloc (j, n + 1);
  memcpy (d, s, n);
  d[n] = '\0';
  return d;
}

static void
arena_free (struct json_arena *a)
{
  while (a)
    {
      struct json_arena *next = a->next;
      free (a);
      a = next;
    }
}

void
json_free (struct json *v)
{
  if (v)
    arena_free (v->arena);
}

static void
skip_ws (struct parser *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static void *
fail (struct parser *j, const char *msg)
{
  if (!j->err)
    j->err = msg;
  return NULL;
}

static int
hex4 (struct parser *j, unsigned *out)
{
  unsigned v = 0;
  if (j->end - j->p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      char c = *j->p++;
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= (unsigned)(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= (unsigned)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= (unsigned)(c - 'A' + 10);
      else
        return -1;
    }
  *out = v;
  return 0;
}

struct sbuf
{
  char *s;
  size_t n, cap;
};

static void
sb_put (struct sbuf *b, char c)
{
  if (b->n + 2 > b->cap)
    b->s = xrealloc (b->s, b->cap = b->cap ? b->cap * 2 : 32);
  b->s[b->n++] = c;
}

static void
sb_utf8 (struct sbuf *b, unsigned cp)
{
  if (cp < 0x80)
    sb_put (b, (char)cp);
  else if (cp < 0x800)
    {
      sb_put (b, (char)(0xc0 | (cp >> 6)));
      sb_put (b, (char)(0x80 | (cp & 0x3f)));
    }
  else if (cp < 0x10000)
    {
      sb_put (b, (char)(0xe0 | (cp >> 12)));
      sb_put (b, (char)(0x80 | ((cp >> 6) & 0x3f)));
      sb_put (b, (char)(0x80 | (cp & 0x3f)));
    }
  else
    {
      sb_put (b, (char)(0xf0 | (cp >> 18)));
      sb_put (b, (char)(0x80 | ((cp >> 12) & 0x3f)));
      sb_put (b, (char)(0x80 | ((cp >> 6) & 0x3f)));
      sb_put (b, (char)(0x80 | (cp & 0x3f)));
    }
}

static int
escape (struct parser *j, struct sbuf *b)
{
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  if (j->p >= j->end)
    return -1;
  char e = *j->p++;
  const char *k = e ? strchr (from, e) : NULL;
  if (k)
    {
      sb_put (b, to[k - from]);
      return 0;
    }
  unsigned cp, lo;
  if (e != 'u' || hex4 (j, &cp) < 0)
    return -1;
  if (cp >= 0xd800 && cp < 0xdc00)
    {
      if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
        return -1;
      j->p += 2;
      if (hex4 (j, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
        return -1;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
  else if (cp >= 0xdc00 && cp < 0xe000)
    return -1;
  if (cp == 0)
    return -1; /* no NUL inside C strings */
  sb_utf8 (b, cp);
  return 0;
}

static char *
parse_string (struct parser *j)
{
  if (j->p >= j->end || *j->p != '"')
    return fail (j, "a string was expected");
  j->p++;
  /* most strings have no escape: one allocation of the right size */
  const char *q = j->p;
  while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
    q++;
  if (q < j->end && *q == '"')
    {
      char *s = arena_strndup (j, j->p, (size_t)(q - j->p));
      j->p = q + 1;
      return s;
    }
  struct sbuf b = { 0 };
  sb_put (&b, '\0');
  b.n = 0;
  while (j->p < j->end && *j->p != '"')
    {
      unsigned char c = (unsigned char)*j->p++;
      if (c < 0x20)
        {
          free (b.s);
          return fail (j, "control character in a string");
        }
      if (c == '\\')
        {
          if (escape (j, &b) < 0)
            {
              free (b.s);
              return fail (j, "invalid escape in a string");
            }
          continue;
        }
      sb_put (&b, (char)c);
    }
  if (j->p >= j->end)
    {
      free (b.s);
      return fail (j, "unterminated string");
    }
  j->p++;
  char *s = arena_strndup (j, b.s, b.n);
  free (b.s);
  return s;
}

static struct json *parse_value (struct parser *j);

static bool
push (struct parser *j, struct json *v, struct json *kid, char *key)
{
  if (!kid)
    return false;
  if ((v->n & (v->n - 1)) == 0)
    {
      size_t cap = v->n ? v->n * 2 : 4;
      struct json **kids = arena_alloc (j, cap * sizeof *kids);
      if (v->n)
        memcpy (kids, v->kids, v->n * sizeof *kids);
      v->kids = kids;
      if (v->t == JSON_OBJ)
        {
          char **keys = arena_alloc (j, cap * sizeof *keys);
          if (v->n)
            memcpy (keys, v->keys, v->n * sizeof *keys);
          v->keys = keys;
        }
    }
  if (v->t == JSON_OBJ)
    v->keys[v->n] = key;
  v->kids[v->n++] = kid;
  return true;
}

static bool
parse_member (struct parser *j, struct json *v)
{
  char *key = NULL;
  skip_ws (j);
  if (v->t == JSON_OBJ)
    {
      if (!(key = parse_string (j)))
        return false;
      for (size_t i = 0; i < v->n; i++)
        if (strcmp (v->keys[i], key) == 0)
          return fail (j, "duplicate key in an object");
      skip_ws (j);
      if (j->p >= j->end || *j->p != ':')
        return fail (j, "':' expected after a key");
      j->p++;
    }
  return push (j, v, parse_value (j), key);
}

static struct json *
parse_container (struct parser *j, struct json *v, char close)
{
  j->p++;
  skip_ws (j);
  if (j->p < j->end && *j->p == close)
    {
      j->p++;
      return v;
    }
  for (;;)
    {
      if (!parse_member (j, v))
        break;
      skip_ws (j);
      if (j->p < j->end && *j->p == ',')
        {
          j->p++;
          continue;
        }
      if (j->p < j->end && *j->p == close)
        {
          j->p++;
          return v;
        }
      fail (j, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
      break;
    }
  return NULL;
}

static bool
parse_number (struct parser *j, struct json *v)
{
  const char *s = j->p;
  if (j->p < j->end && *j->p == '-')
    j->p++;
  if (j->p >= j->end || *j->p < '0' || *j->p > '9')
    return false;
  if (*j->p == '0')
    j->p++;
  else
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
      j->p++;
  if (j->p < j->end && *j->p == '.')
    {
      j->p++;
      if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
      while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E'))
    {
      j->p++;
      if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
        j->p++;
      if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
      while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    }
  v->t = JSON_NUM;
  v->s = arena_strndup (j, s, (size_t)(j->p - s));
  return true;
}

static bool
parse_literal (struct parser *j, struct json *v)
{
  static const char *const lits[] = { "true", "false", "null" };
  for (int i = 0; i < 3; i++)
    {
      size_t n = strlen (lits[i]);
      if ((size_t)(j->end - j->p) >= n && memcmp (j->p, lits[i], n) == 0)
        {
          j->p += n;
          v->t = i == 2 ? JSON_NULL : JSON_BOOL;
          v->s = (char *)lits[i]; /* never written nor freed */
          return true;
        }
    }
  return false;
}

static struct json *
parse_value (struct parser *j)
{
  skip_ws (j);
  if (j->p >= j->end)
    return fail (j, "unexpected end of input");
  if (j->depth >= MAX_DEPTH)
    return fail (j, "nested too deeply");
  struct json *v = arena_alloc (j, sizeof *v);
  memset (v, 0, sizeof *v);
  char c = *j->p;
  struct json *r = v;
  j->depth++;
  if (c == '{' || c == '[')
    {
      v->t = c == '{' ? JSON_OBJ : JSON_ARR;
      r = parse_container (j, v, c == '{' ? '}' : ']');
    }
  else if (c == '"')
    {
      v->t = JSON_STR;
      if (!(v->s = parse_string (j)))
        r = NULL;
    }
  else if (!(c == '-' || (c >= '0' && c <= '9') ? parse_number (j, v) : parse_literal (j, v)))
    r = fail (j, "invalid value");
  j->depth--;
  return r;
}

struct json *
json_parse (const char *buf, size_t len, const char **out_err, size_t *out_offset)
{
  /* about what a config.json's nodes and strings take, in one chunk */
  struct parser j = { buf, buf, buf + len, 0, NULL, NULL, 4 * len + 1024 };
  struct json *v = parse_value (&j);
  if (v)
    {
      skip_ws (&j);
      if (j.p != j.end)
        v = fail (&j, "trailing data after the JSON value");
    }
  if (v)
    v->arena = j.arena;
  else
    {
      arena_free (j.arena);
      *out_err = j.err ? j.err : "invalid JSON";
      *out_offset = (size_t)(j.p - j.start);
    }
  return v;
}

struct json *
json_parse_file (int dirfd, const char *path, size_t max)
{
  _cleanup_close_ int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      errno = -launch_fail (errno, "cannot open", path);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      errno = -launch_fail (EINVAL, "not a regular file", path);
      return NULL;
    }
  if ((size_t)st.st_size > max)
    {
      errno = -launch_fail (EFBIG, "file too large", path);
      return NULL;
    }
  _cleanup_free_ char *buf = xrealloc (NULL, (size_t)st.st_size + 1);
  size_t got = 0;
  while (got < (size_t)st.st_size)
    {
      ssize_t n = read (fd, buf + got, (size_t)st.st_size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          errno = -launch_fail (n < 0 ? errno : EIO, "cannot read", path);
          return NULL;
        }
      got += (size_t)n;
    }
  const char *err;
  size_t off;
  struct json *v = json_parse (buf, got, &err, &off);
  if (!v)
    {
      static char msg[160];
      snprintf (msg, sizeof msg, "invalid JSON (%s at byte %zu)", err, off);
      errno = -launch_fail (EINVAL, msg, path);
    }
  return v;
}

const struct json *
json_get (const struct json *o, const char *key)
{
  for (size_t i = 0; o && o->t == JSON_OBJ && i < o->n; i++)
    if (strcmp (o->keys[i], key) == 0)
      return o->kids[i];
  return NULL;
}

const struct json *
json_field (const struct json *o, const char *key)
{
  const struct json *v = json_get (o, key);
  return v && v->t == JSON_NULL ? NULL : v;
}

bool
json_is (const struct json *v, enum json_type t)
{
  return v && v->t == t;
}

const char *
json_type_name (enum json_type t)
{
  static const char *const names[]
      = { "null", "a boolean", "a number", "a string", "an array", "an object" };
  return names[t];
}

bool
json_true (const struct json *v)
{
  return v && v->t == JSON_BOOL && v->s[0] == 't';
}

int
json_u64 (const struct json *v, uint64_t *out)
{
  if (!json_is (v, JSON_NUM) || v->s[0] == '-' || strpbrk (v->s, ".eE"))
    return -EINVAL;
  char *end;
  errno = 0;
  unsigned long long x = strtoull (v->s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *out = x;
  return 0;
}

int
json_i64 (const struct json *v, int64_t *out)
{
  if (!json_is (v, JSON_NUM) || strpbrk (v->s, ".eE"))
    return -EINVAL;
  char *end;
  errno = 0;
  long long x = strtoll (v->s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *out = x;
  return 0;
}

int
json_double (const struct json *v, double *out)
{
  if (!json_is (v, JSON_NUM))
    return -EINVAL;
  char *end;
  errno = 0;
  double x = strtod (v->s, &end);
  if (errno || *end || !isfinite (x))
    return -EINVAL;
  *out = x;
  return 0;
}

/* ---- writer ------------------------------------------------------------------ */
void
jb_mem (struct jbuf *b, const void *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      b->cap = (b->len + n + 1) * 2 + 256;
      b->p = xrealloc (b->p, b->cap);
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void
jb_raw (struct jbuf *b, const char *s)
{
  jb_mem (b, s, strlen (s));
}

void
jb_printf (struct jbuf *b, const char *fmt, ...)
{
  char small[256];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (small, sizeof small, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small)
    {
      jb_mem (b, small, (size_t)n);
      return;
    }
  _cleanup_free_ char *big = xrealloc (NULL, (size_t)n + 1);
  va_start (ap, fmt);
  vsnprintf (big, (size_t)n + 1, fmt, ap);
  va_end (ap);
  jb_mem (b, big, (size_t)n);
}

void
jb_str (struct jbuf *b, const char *s)
{
  jb_raw (b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
    {
      const char *run = (const char *)p;
      size_t n = 0;
      while (p[n] && p[n] >= 0x20 && p[n] != '"' && p[n] != '\\')
        n++;
      if (n)
        {
          jb_mem (b, run, n);
          p += n - 1;
          continue;
        }
      switch (*p)
        {
        case '"':
          jb_raw (b, "\\\"");
          break;
        case '\\':
          jb_raw (b, "\\\\");
          break;
        case '\n':
          jb_raw (b, "\\n");
          break;
        case '\t':
          jb_raw (b, "\\t");
          break;
        case '\r':
          jb_raw (b, "\\r");
          break;
        default:
          jb_printf (b, "\\u%04x", *p);
        }
    }
  jb_raw (b, "\"");
}

void
jb_key (struct jbuf *b, const char *key, bool first)
{
  if (!first)
    jb_raw (b, ",");
  jb_str (b, key);
  jb_raw (b, ":");
}

void
jb_value (struct jbuf *b, const struct json *v)
{
  switch (v->t)
    {
    case JSON_STR:
      jb_str (b, v->s);
      return;
    case JSON_ARR:
    case JSON_OBJ:
      jb_raw (b, v->t == JSON_ARR ? "[" : "{");
      for (size_t i = 0; i < v->n; i++)
        {
          if (v->t == JSON_OBJ)
            jb_key (b, v->keys[i], i == 0);
          else if (i)
            jb_raw (b, ",");
          jb_value (b, v->kids[i]);
        }
      jb_raw (b, v->t == JSON_ARR ? "]" : "}");
      return;
    default:
      jb_raw (b, v->s);
    }
}

void
jb_free (struct jbuf *b)
{
  free (b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
