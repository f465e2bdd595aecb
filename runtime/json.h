/* cairn-launch: a small JSON reader and writer (no GLib).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The reader builds a tree of struct json; it is strict (RFC 8259: one
 * value, whitespace around it, no trailing commas, \u escapes with surrogate
 * pairs decoded to UTF-8, no NUL in strings) and bounds depth and size,
 * because a bundle's config.json comes from whoever wrote the bundle.
 * Numbers are kept as their text and converted on access, so a 64-bit value
 * is never rounded through a double.
 *
 * The writer appends to a growing buffer (struct jbuf); strings are escaped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type
{
  JSON_NULL,
  JSON_BOOL,
  JSON_NUM,
  JSON_STR,
  JSON_ARR,
  JSON_OBJ
};

struct json
{
  enum json_type t;
  char *s;            /* string value, number text, "true"/"false"/"null" */
  struct json **kids; /* array items or object values */
  char **keys;        /* object keys (NULL for arrays) */
  size_t n;
  struct json_arena *arena; /* the root of a parsed document: where all of it lives */
};

/* Parse LEN bytes.  On error returns NULL and sets *OUT_ERR to a static
 * message and *OUT_OFFSET to the byte where it was noticed. */
struct json *json_parse (const char *buf, size_t len, const char **out_err, size_t *out_offset);
/* Read and parse a whole file (at most MAX bytes).  Returns NULL with
 * launch_fail() recorded (context: PATH) and errno set. */
struct json *json_parse_file (int dirfd, const char *path, size_t max);
void json_free (struct json *v);

const struct json *json_get (const struct json *o, const char *key);
/* json_get, but a member whose value is null counts as absent (as for
 * runc, whose Go decoder leaves a field unset for null). */
const struct json *json_field (const struct json *o, const char *key);
bool json_is (const struct json *v, enum json_type t);
const char *json_type_name (enum json_type t);
/* Conversions; return -EINVAL when V is not a number of that range. */
int json_u64 (const struct json *v, uint64_t *out);
int json_i64 (const struct json *v, int64_t *out);
int json_double (const struct json *v, double *out);
bool json_true (const struct json *v);

/* ---- writer ------------------------------------------------------------------ */
struct jbuf
{
  char *p;
  size_t len, cap;
};
void jb_raw (struct jbuf *b, const char *s);
void jb_mem (struct jbuf *b, const void *s, size_t n);
void jb_printf (struct jbuf *b, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* A JSON string literal (quotes included), escaped. */
void jb_str (struct jbuf *b, const char *s);
/* "KEY": (with a leading comma unless FIRST). */
void jb_key (struct jbuf *b, const char *key, bool first);
/* Re-serialize a parsed value compactly. */
void jb_value (struct jbuf *b, const struct json *v);
void jb_free (struct jbuf *b);
