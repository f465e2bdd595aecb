/* cairn-launch: in-memory seccomp policy (internal to seccomp*.c).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>

#include "runtime/launch.h"

struct sc_arg
{
  unsigned index;
  enum scmp_compare op;
  uint64_t value;     /* MASKED_EQ: the mask */
  uint64_t value_two; /* MASKED_EQ: the value compared with (arg & mask) */
};

struct sc_rule
{
  char *name;
  uint32_t action; /* libseccomp action, e.g. SCMP_ACT_ERRNO(EPERM) */
  unsigned nargs;
  /* nargs of them (at most 6, one per argument), or NULL: most rules have
   * none, and a policy of 424 rules with the six inline took 17 pages to
   * fault in, three policies a container start */
  struct sc_arg *args;
};

struct sc_policy
{
  uint32_t default_action;
  /* System calls newer than this libseccomp knows get ENOSYS rather than the
   * default action (the built-in policy; see enosys_stub in seccomp.c). */
  bool enosys_beyond_known;
  uint32_t arches[16];
  size_t n_arches;
  struct sc_rule *rules;
  size_t n, cap;
};

void sc_policy_clear (struct sc_policy *p);
struct sc_rule *sc_policy_add (struct sc_policy *p, const char *name, uint32_t action);
/* The next argument filter of @r (the caller checks there are fewer than 6). */
struct sc_arg *sc_rule_add_arg (struct sc_rule *r);

/* seccomp-json.c */
int sc_policy_write_json (const struct sc_policy *p, FILE *f);
struct jbuf;
void sc_policy_write_jbuf (const struct sc_policy *p, struct jbuf *b);
int sc_policy_load_json (const char *path, struct sc_policy *out);
struct json;
/* Build a policy from a parsed linux.seccomp object (unknown keys ignored). */
int sc_policy_from_json (const struct json *root, struct sc_policy *out);
void sc_policy_allow_notify (bool ok);
/* seccomp.c: is P the default policy for the capabilities CAPS (the same
 * rules, architectures and default action, in any order)? */
bool seccomp_policy_is_default (const struct sc_policy *p, uint64_t caps);
/* seccomp.c: the default policy for CAPS, built once per process and set
 * (owned by seccomp.c, never freed or changed) */
const struct sc_policy *seccomp_default_policy (uint64_t caps);
/* seccomp.c: compile P (through the BPF cache in CACHE_DIR, "none" for no
 * cache, NULL for the default directory). */
int seccomp_compile_policy (const struct sc_policy *p, const char *cache_dir,
                            struct launch_bpf *out);
