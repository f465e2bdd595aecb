/* What the registry client's files (image/registry-*.c) share.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "image/cairn-registry.h"
#include "image/image-private.h"
#include <curl/curl.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

/* Manifests and indexes larger than this are refused (as containerd does). */
#define CAIRN_REGISTRY_MANIFEST_MAX (4u << 20)
/* Image configs larger than this are refused. */
#define CAIRN_REGISTRY_CONFIG_MAX (16u << 20)

/* ---- credentials (registry-auth.c) --------------------------------------------- */

/* The user and password for @host: @creds ("USER[:PASSWORD]") when given,
 * else the first auth file that has an entry for @host (or HOST/NAMESPACE
 * prefix of @name): @authfile when given, else $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json, $DOCKER_CONFIG/config.json,
 * ~/.docker/config.json. FALSE with *out_user NULL when there is none; an
 * unreadable or malformed file is an error naming it. */
gboolean _cairn_registry_find_creds (const char *host, const char *name, const char *creds,
                                     const char *authfile, char **out_user, char **out_pass,
                                     GError **error);

/* A WWW-Authenticate challenge: scheme ("bearer", "basic", lower case) and
 * its parameters (lower-case names). NULL when it cannot be parsed. */
typedef struct
{
  char *scheme;
  GHashTable *params;
} CairnAuthChallenge;
CairnAuthChallenge *_cairn_auth_challenge_parse (const char *header);
void _cairn_auth_challenge_free (CairnAuthChallenge *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnAuthChallenge, _cairn_auth_challenge_free)

/* ---- the HTTP client (registry-http.c) ----------------------------------------- */

typedef struct CairnRegistry CairnRegistry;

/* Connect to @ref's registry: the endpoint is pinged (GET /v2/) over
 * https, or over http when TLS verification is off and the server does not
 * speak TLS. @actions is what the tokens are asked for ("pull",
 * "pull,push"). */
CairnRegistry *_cairn_registry_open (const CairnRegistryRef *ref, const CairnRegistryOptions *opts,
                                     const char *actions, GError **error);
void _cairn_registry_free (CairnRegistry *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnRegistry, _cairn_registry_free)

/* "docker://HOST/NAME", for messages. */
const char *_cairn_registry_describe (CairnRegistry *r);
/* The repository name. */
const char *_cairn_registry_name (CairnRegistry *r);
/* Body bytes received and sent so far (all threads). */
guint64 _cairn_registry_bytes_in (CairnRegistry *r);
guint64 _cairn_registry_bytes_out (CairnRegistry *r);
/* Ask tokens for @scope too (cross-repository mounts read another repository). */
void _cairn_registry_add_scope (CairnRegistry *r, const char *scope);

typedef size_t (*CairnRegistryWriteFunc) (const void *buf, size_t len, void *data);

typedef struct
{
  const char *method; /* GET, HEAD, POST, PUT, PATCH */
  char *url;          /* "/v2/…" (on the registry) or absolute; owned */
  GPtrArray *headers; /* extra "Name: value" strings, owned; may be NULL */
  /* request body: memory, or a range of a file */
  const void *body;
  gsize body_len;
  int body_fd; /* -1: none */
  guint64 body_off, body_size;
  /* response body: kept up to max_body bytes (more: too_big), or handed to
   * write_fn for 2xx answers; other answers' bodies are kept (error text) */
  gsize max_body;
  CairnRegistryWriteFunc write_fn;
  gpointer write_data;
  const gint *cancel; /* set non-zero by another thread: abort */
  /* results */
  long status;
  GByteArray *resp;
  GHashTable *resp_headers; /* lower-case name -> value */
  gboolean too_big;
  CURLcode curl_result;
  char curl_error[CURL_ERROR_SIZE];
} CairnRegistryRequest;

void _cairn_registry_request_init (CairnRegistryRequest *req, const char *method, char *url);
void _cairn_registry_request_clear (CairnRegistryRequest *req);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnRegistryRequest, _cairn_registry_request_clear)
void _cairn_registry_request_add_header (CairnRegistryRequest *req, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);
const char *_cairn_registry_response_header (CairnRegistryRequest *req, const char *name);

/* Perform @req, authenticating as the registry asks (a 401 answer is
 * retried once with a bearer token or basic credentials). TRUE when an
 * HTTP answer came back (see req->status); FALSE on a transport error, a
 * stall (the timeout), an oversized body or an authentication failure,
 * with a message naming the registry. */
gboolean _cairn_registry_perform (CairnRegistry *r, CairnRegistryRequest *req, GError **error);

/* An error for an unexpected answer: the registry's error JSON
 * ({"errors":[{"code","message"}]}) or the status, prefixed by @what. */
gboolean _cairn_registry_throw_status (CairnRegistry *r, CairnRegistryRequest *req,
                                       const char *what, GError **error);

/* GET a manifest or index by tag or digest: the bytes (at most
 * CAIRN_REGISTRY_MANIFEST_MAX), their media type and digest. The digest is
 * checked against @reference when it is a digest, and against the
 * registry's Docker-Content-Digest header when it sends one. */
gboolean _cairn_registry_get_manifest (CairnRegistry *r, const char *reference, GBytes **out_data,
                                       char **out_media_type, char **out_digest, GError **error);

/* GET a small blob (a config), checking its size and digest. */
GBytes *_cairn_registry_get_small_blob (CairnRegistry *r, const char *digest, guint64 size,
                                        gsize max, GError **error);

G_END_DECLS
