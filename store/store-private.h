/* Internal interfaces shared by store/ files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store-lowlevel.h"

struct CairnTxn
{
  CairnRepo *repo;
  char *staging_name; /* under tmp/ */
  int staging_dfd;    /* objects are written here; == objects_dfd when fsync is off */
  gboolean direct;    /* core.fsync=false: objects go straight into objects/ */
  int lock_fd;        /* staging-…-lock */
  gboolean committed;
  gboolean locked_repo;
  GMutex lock;          /* protects refs, stats */
  int sub_fds[256];     /* staging/XX dirfds (atomic: set once from -1) */
  GPtrArray *refs;      /* (remote, ref, checksum) triples as char*[3] */
  GPtrArray *deflaters; /* idle CairnDeflater (under lock), store/write.c */
  CairnTxnStats stats;
  /* What the write path knows without a failed system call (store/txn.c,
   * _cairn_txn_has_object): the objects this transaction staged (a set of
   * checksum prefixes, under lock; a hit is confirmed in staging) and the
   * objects/XX directories found absent (atomic flags, set once). Hints
   * only: a wrong "absent" costs a second copy in staging, which
   * publishing drops (no-replace). */
  GHashTable *staged;
  gint objdir_absent[256];
};

/* Whether @txn need not write this object: it staged it already, or
 * objects/ holds it. Never a staging lookup: see struct CairnTxn. */
gboolean _cairn_txn_has_object (CairnTxn *txn, CairnObjectType type, const char *checksum);
/* Record that @txn staged this object. */
void _cairn_txn_note_staged (CairnTxn *txn, CairnObjectType type, const char *checksum);

typedef struct CairnDeflater CairnDeflater;
void _cairn_deflater_free (gpointer d);

/* The descriptor of directory XX (@checksum's first two digits) in
 * @parent_dfd, cached in *@slot (-1: not yet; set once, atomically, so
 * threads need no lock), made with @mode first when @create. Errors name
 * it "@what/XX"; a missing one without @create is G_IO_ERROR_NOT_FOUND. */
int _cairn_cached_subdir_fd (int *slot, int parent_dfd, const char *checksum, mode_t mode,
                             gboolean create, const char *what, GError **error);

/* Remove tmp/staging-* directories whose transaction is gone (their lock is
 * not held); returns how many. */
guint _cairn_txn_cleanup_stale_staging (CairnRepo *repo);

/* Open an object file read-only from objects/ (or staging); -1 + ENOENT
 * error when missing. For bare symlinks this fails with ELOOP. */
int _cairn_repo_open_object (CairnRepo *repo, CairnObjectType type, const char *checksum,
                             GError **error);

/* The user.ostreemeta value (uuua(ayay)) of @fi; cairn_parse_ostreemeta
 * reads it back. */
GVariant *_cairn_ostreemeta_new (const CairnFileInfo *fi);

/* The same, reading the payload from @fd at its current offset. */
gboolean _cairn_inflate_fd_each (int fd, CairnDataFunc fn, void *data, GError **error);
/* Parse the .filez header at the start of @fd and leave the offset at the
 * payload. */
gboolean _cairn_read_zheader_fd (int fd, CairnFileInfo *fi, GError **error);
