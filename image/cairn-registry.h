/* image/: the OCI registry client (distribution API v2 over libcurl), in
 * its own library (libcairn-image-registry) linked only into cairn-full.
 *
 * `cairn pull docker://…` fetches a manifest (resolving an image index or a
 * manifest list to one platform), the config and the layers — in parallel,
 * each verified by digest while it streams and imported into the layer
 * cache (image/layer.c) — then merges the layers into the image's tree and
 * commits it with the config and the source recorded in the commit
 * metadata. `cairn push REF docker://…` builds an image from a commit
 * (image/build.c) and uploads it. docs/import-export.md describes both.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "image/cairn-image.h"

G_BEGIN_DECLS

/* A parsed docker:// reference. */
typedef struct
{
  char *host;       /* "127.0.0.1:5000", "docker.io" */
  char *endpoint;   /* the host to talk to ("registry-1.docker.io" for docker.io) */
  char *name;       /* repository, "library/debian" */
  char *short_name; /* as written, without host ("debian") */
  char *tag;        /* NULL when only a digest was given */
  char *digest;     /* "sha256:…" or NULL */
} CairnRegistryRef;

void cairn_registry_ref_clear (CairnRegistryRef *ref);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnRegistryRef, cairn_registry_ref_clear)

/* Parse "docker://[HOST[:PORT]/]NAME[:TAG][@DIGEST]" (the "docker://"
 * prefix is optional). Without a host the image is on docker.io (one-part
 * names under library/); without a tag or digest the tag is "latest". */
gboolean cairn_registry_ref_parse (const char *s, CairnRegistryRef *out, GError **error);
/* "docker://HOST/NAME:TAG" or "…@DIGEST". */
char *cairn_registry_ref_to_string (const CairnRegistryRef *ref);
/* The default branch for a pulled image: NAME/TAG as written
 * ("debian/12", "test/img/latest"), or NAME/sha256_HEX for a digest. */
char *cairn_registry_ref_default_branch (const CairnRegistryRef *ref);

/* How to reach a registry. */
typedef struct
{
  const char *creds;    /* "USER[:PASSWORD]" or NULL (then the auth files) */
  const char *authfile; /* an auth.json to use instead of the default ones */
  gboolean tls_verify;  /* FALSE: no certificate check, and plain http allowed */
  const char *cert_dir; /* *.crt CAs, NAME.cert + NAME.key client certificate */
  long timeout_secs;    /* a transfer stalled this long fails (0: 30 or $CAIRN_REGISTRY_TIMEOUT) */
} CairnRegistryOptions;

void cairn_registry_options_init (CairnRegistryOptions *opts);

typedef struct
{
  guint64 bytes_fetched; /* HTTP body bytes received (manifests, configs, blobs) */
  guint64 bytes_sent;    /* HTTP body bytes sent (push) */
  guint n_layers;
  guint n_layers_cached;  /* already in the layer cache: neither fetched nor imported */
  guint n_blobs_present;  /* push: blobs the registry had */
  guint n_blobs_mounted;  /* push: blobs mounted from another repository */
  guint n_blobs_uploaded; /* push */
  gboolean up_to_date;    /* pull: the ref already had this manifest */
  gint64 elapsed_us;
} CairnRegistryStats;

typedef void (*CairnRegistryProgressFunc) (const char *phase, guint64 done, guint64 total,
                                           gpointer data);

typedef struct
{
  CairnRegistryOptions reg;
  const char *branch;               /* NULL: cairn_registry_ref_default_branch */
  const char *platform;             /* "os/arch[/variant]"; NULL: linux/<host arch> */
  guint jobs;                       /* layers fetched at once (0: 4) */
  const CairnCommitOptions *commit; /* subject, body, timestamp, parent (may be NULL) */
  CairnRegistryProgressFunc progress;
  gpointer progress_data;
} CairnRegistryPullOptions;

void cairn_registry_pull_options_init (CairnRegistryPullOptions *opts);

/* Pull @reference into @repo and move the branch to the image's commit
 * (last, once everything is stored). When the branch's commit came from
 * the same manifest, nothing is fetched but the manifest. */
gboolean cairn_registry_pull (CairnRepo *repo, const char *reference,
                              const CairnRegistryPullOptions *opts, char **out_commit,
                              CairnRegistryStats *out_stats, GError **error);

typedef struct
{
  CairnRegistryOptions reg;
  CairnImageBuildOptions build;
  guint64 chunk_size; /* blobs larger than this go up in chunks of this size (0: 64 MiB) */
  CairnRegistryProgressFunc progress;
  gpointer progress_data;
} CairnRegistryPushOptions;

void cairn_registry_push_options_init (CairnRegistryPushOptions *opts);

/* Build the image of @rev and push it to @reference (which must name a
 * tag or repository; an existing blob is not sent again, one the registry
 * has in another repository this store pushed it to is mounted). Returns
 * the manifest digest. */
gboolean cairn_registry_push (CairnRepo *repo, const char *rev, const char *reference,
                              const CairnRegistryPushOptions *opts, char **out_digest,
                              CairnRegistryStats *out_stats, GError **error);

G_END_DECLS
