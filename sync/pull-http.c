/* HTTP(S) transport: an archive-mode repository served by any web server
 * (docs/format.md §12): summary(.sig), refs/heads/REF, and objects
 * one by one — .commitmeta, .commit, .dirtree, .dirmeta, .filez.
 *
 * libcurl multi, many requests in flight (HTTP/2 multiplexed on one
 * connection where the server offers it, several HTTP/1.1 connections
 * otherwise). Metadata requests go first (they reveal the rest of the
 * tree); .filez bodies are verified and written by the sink's workers while
 * this thread keeps the transfers going. Transient failures (connection
 * errors, timeouts, 408/429/5xx) are retried with exponential backoff; a 404
 * means "absent" for optional files and is an error naming the URL for
 * objects. A stalled transfer (below 1000 B/s for the low-speed time,
 * CAIRN_PULL_HTTP_TIMEOUT seconds, default 30) fails instead of hanging;
 * it is retried once only (a server that accepts and never answers is not
 * going to answer the fifth time), so a stalled remote fails within about
 * twice the timeout with an error naming the remote and the URL.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "sync/sync-private.h"
#include <curl/curl.h>
#include <string.h>

#define MAX_IN_FLIGHT 32
#define MAX_HOST_CONNECTIONS 16
#define DEFAULT_RETRIES 5

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

typedef struct Http Http;

typedef struct
{
  Http *h;
  char *url;
  CURL *easy;
  GByteArray *body;
  gsize max_size;
  gboolean too_big;
  guint attempt;
  gint64 not_before;
  gboolean is_object;
  CairnObjectType type;
  char checksum[65];
  /* synchronous fetch_file */
  gboolean done;
  gboolean absent;
  GBytes *result;
} Request;

struct Http
{
  CairnPullTransport base;
  char *base_url; /* ends with '/' */
  CairnRemote *remote;
  CURLM *multi;
  GQueue waiting;     /* Request* not started (new, or retrying later) */
  GHashTable *active; /* Request* in flight */
  guint in_flight;
  guint retries;
  long timeout;
  gboolean http2;
  CairnPullSession *s;   /* during fetch_trees */
  GHashTable *requested; /* object names asked for */
  GHashTable *scanned;   /* dirtrees scanned */
  GError *error;         /* first fatal error of the object phase */
};

static void
request_free (Request *r)
{
  if (r->easy)
    {
      if (g_hash_table_remove (r->h->active, r))
        {
          curl_multi_remove_handle (r->h->multi, r->easy);
          r->h->in_flight--;
        }
      curl_easy_cleanup (r->easy);
    }
  if (r->body)
    g_byte_array_unref (r->body);
  g_clear_pointer (&r->result, g_bytes_unref);
  g_free (r->url);
  g_free (r);
}

static size_t
on_write (char *ptr, size_t size, size_t nmemb, void *data)
{
  Request *r = data;
  gsize n = size * nmemb;
  if (r->body->len + n > r->max_size)
    {
      r->too_big = TRUE;
      return 0;
    }
  if (r->body->len == 0)
    {
      /* Reserve the announced length once: growing by doubling would hold
       * up to three times a large object's size during the copies. */
      curl_off_t cl = -1;
      if (curl_easy_getinfo (r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK
          && cl > (curl_off_t)n && (guint64)cl <= r->max_size)
        {
          g_byte_array_set_size (r->body, (guint)cl);
          g_byte_array_set_size (r->body, 0);
        }
    }
  g_byte_array_append (r->body, (const guint8 *)ptr, n);
  return n;
}

static const char *
remote_option (Http *h, const char *key)
{
  const char *v = NULL;
  if (h->remote && h->remote->options)
    g_variant_lookup (h->remote->options, key, "&s", &v);
  return v;
}

static void
setup_tls (Http *h, CURL *e)
{
  const char *v;
  if ((v = remote_option (h, "tls-permissive")) && g_ascii_strcasecmp (v, "true") == 0)
    {
      curl_easy_setopt (e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  if ((v = remote_option (h, "tls-ca-path")))
    curl_easy_setopt (e, CURLOPT_CAINFO, v);
  if ((v = remote_option (h, "tls-client-cert-path")))
    curl_easy_setopt (e, CURLOPT_SSLCERT, v);
  if ((v = remote_option (h, "tls-client-key-path")))
    curl_easy_setopt (e, CURLOPT_SSLKEY, v);
  if ((v = remote_option (h, "proxy")))
    curl_easy_setopt (e, CURLOPT_PROXY, v);
}

static void
request_start (Request *r)
{
  Http *h = r->h;
  if (r->body)
    g_byte_array_set_size (r->body, 0);
  else
    r->body = g_byte_array_new ();
  r->too_big = FALSE;
  if (!r->easy)
    {
      CURL *e = r->easy = curl_easy_init ();
      curl_easy_setopt (e, CURLOPT_URL, r->url);
      curl_easy_setopt (e, CURLOPT_PRIVATE, r);
      curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_write);
      curl_easy_setopt (e, CURLOPT_WRITEDATA, r);
      curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt (e, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
      curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt (e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
      curl_easy_setopt (e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
      curl_easy_setopt (e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
      curl_easy_setopt (e, CURLOPT_USERAGENT, "cairn/" PACKAGE_VERSION);
      curl_easy_setopt (e, CURLOPT_HTTP_VERSION,
                        h->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
      curl_easy_setopt (e, CURLOPT_PIPEWAIT, 1L);
      curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT, h->timeout);
      curl_easy_setopt (e, CURLOPT_LOW_SPEED_LIMIT, 1000L);
      curl_easy_setopt (e, CURLOPT_LOW_SPEED_TIME, h->timeout);
      setup_tls (h, e);
    }
  curl_multi_add_handle (h->multi, r->easy);
  g_hash_table_add (h->active, r);
  h->in_flight++;
}

static Request *
request_new (Http *h, const char *relpath, gsize max_size)
{
  Request *r = g_new0 (Request, 1);
  r->h = h;
  r->url = g_strconcat (h->base_url, relpath, NULL);
  r->max_size = max_size;
  return r;
}

static gboolean
is_transient (CURLcode code, long status)
{
  if (code == CURLE_OK)
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503
           || status == 504;
  switch (code)
    {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return TRUE;
    default:
      return FALSE;
    }
}

static void
schedule_retry (Request *r)
{
  gint64 backoff = (gint64)200000 << MIN (r->attempt, 6);
  r->attempt++;
  r->not_before = g_get_monotonic_time () + backoff + g_random_int_range (0, 100000);
  g_queue_push_tail (&r->h->waiting, r);
}

static gboolean
describe_failure (Request *r, CURLcode code, long status, GError **error)
{
  if (r->too_big)
    return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "GET %s: larger than %" G_GSIZE_FORMAT " bytes", r->url, r->max_size);
  g_autofree char *who = r->h->remote && r->h->remote->name
                             ? g_strdup_printf ("remote '%s': ", r->h->remote->name)
                             : g_strdup ("");
  if (code == CURLE_OPERATION_TIMEDOUT)
    return cairn_throw_code (
        error, G_IO_ERROR_TIMED_OUT,
        "%sGET %s: timed out: the server sent less than 1000 bytes/s for %ld s "
        "(%u attempts; CAIRN_PULL_HTTP_TIMEOUT)",
        who, r->url, r->h->timeout, r->attempt + 1);
  if (code != CURLE_OK)
    return cairn_throw_code (error, G_IO_ERROR_FAILED, "%sGET %s: %s%s", who, r->url,
                             curl_easy_strerror (code), r->attempt ? " (after retries)" : "");
  return cairn_throw_code (
      error, status == 404 || status == 410 ? G_IO_ERROR_NOT_FOUND : G_IO_ERROR_FAILED,
      "GET %s: HTTP status %ld", r->url, status);
}

/* ---- the object phase ------------------------------------------------------------------ */

static void
want_object (gpointer data, CairnObjectType type, const char *checksum)
{
  Http *h = data;
  g_autofree char *name = cairn_object_name (checksum, type);
  if (g_hash_table_contains (h->requested, name))
    return;
  g_autofree char *rel = cairn_object_relpath (checksum, type, CAIRN_REPO_MODE_ARCHIVE);
  g_autofree char *path = g_strconcat ("objects/", rel, NULL);
  Request *r
      = request_new (h, path, type == CAIRN_OBJECT_FILE ? G_MAXSIZE : CAIRN_MAX_METADATA_SIZE);
  r->is_object = TRUE;
  r->type = type;
  memcpy (r->checksum, checksum, 65);
  g_hash_table_add (h->requested, g_steal_pointer (&name));
  /* Metadata first: it reveals the rest of the tree. */
  if (type == CAIRN_OBJECT_FILE)
    g_queue_push_tail (&h->waiting, r);
  else
    g_queue_push_head (&h->waiting, r);
}

static gboolean
object_arrived (Http *h, Request *r, GError **error)
{
  CairnPullSession *s = h->s;
  GBytes *b = g_byte_array_free_to_bytes (g_steal_pointer (&r->body));
  g_autoptr (GBytes) body = b;
  _cairn_pull_sink_add_bytes (s->sink, g_bytes_get_size (body));
  if (r->type == CAIRN_OBJECT_FILE)
    {
      _cairn_pull_sink_queue_filez (s->sink, r->checksum, body, r->url);
      return TRUE;
    }
  if (!_cairn_pull_sink_write_metadata (s->sink, r->type, r->checksum, body, error))
    return cairn_prefix_error (error, "GET %s", r->url);
  if (r->type == CAIRN_OBJECT_DIR_TREE)
    return _cairn_pull_scan_dirtree (s, h->scanned, r->checksum, want_object, h, error);
  return TRUE;
}

/* A finished transfer: success, absent (404), retry, or a fatal error. */
static void
transfer_done (Http *h, CURL *e, CURLcode code)
{
  Request *r = NULL;
  long status = 0;
  curl_easy_getinfo (e, CURLINFO_PRIVATE, (char **)&r);
  curl_easy_getinfo (e, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle (h->multi, e);
  g_hash_table_remove (h->active, r);
  h->in_flight--;
  g_autoptr (GError) local = NULL;
  if (code == CURLE_OK && status == 200)
    {
      if (!r->is_object)
        {
          r->result = g_byte_array_free_to_bytes (g_steal_pointer (&r->body));
          r->done = TRUE;
          return;
        }
      if (!h->error && !object_arrived (h, r, &local))
        h->error = g_steal_pointer (&local);
      request_free (r);
      return;
    }
  if (!r->too_big && is_transient (code, status) && r->attempt < h->retries
      && !(code == CURLE_OPERATION_TIMEDOUT && r->attempt >= 1))
    {
      schedule_retry (r);
      return;
    }
  if (!r->is_object && code == CURLE_OK && (status == 404 || status == 410))
    {
      r->absent = r->done = TRUE;
      return;
    }
  describe_failure (r, code, status, &local);
  if (r->is_object)
    {
      if (!h->error)
        h->error = g_steal_pointer (&local);
      request_free (r);
      return;
    }
  r->done = TRUE;
  h->error = g_steal_pointer (&local);
}

static void
start_waiting (Http *h)
{
  gint64 now = g_get_monotonic_time ();
  guint n = g_queue_get_length (&h->waiting);
  gboolean backlog = h->s && _cairn_pull_sink_backlogged (h->s->sink);
  for (guint i = 0; i < n && h->in_flight < MAX_IN_FLIGHT; i++)
    {
      Request *r = g_queue_pop_head (&h->waiting);
      if (r->not_before > now || (backlog && r->is_object && r->type == CAIRN_OBJECT_FILE))
        g_queue_push_tail (&h->waiting, r);
      else
        request_start (r);
    }
}

/* Drive transfers until @until is done (sync fetch) or, with @until NULL,
 * until nothing is waiting or in flight. */
static gboolean
run (Http *h, Request *until, GError **error)
{
  while (!h->error && !(until && until->done))
    {
      if (h->s && _cairn_pull_sink_failed (h->s->sink))
        break;
      start_waiting (h);
      if (!until && h->in_flight == 0 && g_queue_is_empty (&h->waiting))
        break;
      int running = 0;
      curl_multi_perform (h->multi, &running);
      CURLMsg *m;
      int left;
      while ((m = curl_multi_info_read (h->multi, &left)))
        if (m->msg == CURLMSG_DONE)
          transfer_done (h, m->easy_handle, m->data.result);
      if (h->s)
        {
          _cairn_pull_sink_progress (h->s->sink, "objects");
          if (!h->error && !_cairn_pull_sink_maybe_checkpoint (h->s->sink, &h->error))
            break;
        }
      if (h->error || (until && until->done))
        break;
      curl_multi_poll (h->multi, NULL, 0, h->in_flight ? 100 : 10, NULL);
    }
  if (h->error)
    {
      g_propagate_error (error, g_steal_pointer (&h->error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
http_fetch_file (CairnPullTransport *t, const char *relpath, gsize max_size, GBytes **out_data,
                 GError **error)
{
  Http *h = (Http *)t;
  Request *r = request_new (h, relpath, max_size);
  g_queue_push_head (&h->waiting, r);
  gboolean ok = run (h, r, error);
  if (ok)
    *out_data = r->absent ? NULL : g_steal_pointer (&r->result);
  if (!r->done)
    g_queue_remove (&h->waiting, r);
  request_free (r);
  return ok;
}

static void
abandon_all (Http *h)
{
  Request *r;
  while ((r = g_queue_pop_head (&h->waiting)))
    request_free (r);
  GList *active = g_hash_table_get_keys (h->active);
  for (GList *l = active; l; l = l->next)
    request_free (l->data);
  g_list_free (active);
}

static gboolean
http_fetch_trees (CairnPullTransport *t, CairnPullSession *s, GError **error)
{
  Http *h = (Http *)t;
  h->s = s;
  h->requested = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  h->scanned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < s->commits->len; i++)
    ok = _cairn_pull_scan_commit (s, h->scanned, s->commits->pdata[i], want_object, h, error);
  ok = ok && run (h, NULL, error);
  if (!ok)
    abandon_all (h);
  g_autoptr (GError) job_error = NULL;
  gboolean jobs_ok = _cairn_pull_sink_drain (s->sink, ok ? error : &job_error);
  g_clear_pointer (&h->requested, g_hash_table_unref);
  g_clear_pointer (&h->scanned, g_hash_table_unref);
  h->s = NULL;
  /* The scan met every object of the trees: each was present, or was
   * requested, fetched and verified (a fetched dirtree is scanned in turn). */
  s->trees_complete = ok && jobs_ok;
  return ok && jobs_ok;
}

static void
http_free (CairnPullTransport *t)
{
  Http *h = (Http *)t;
  abandon_all (h);
  curl_multi_cleanup (h->multi);
  g_hash_table_unref (h->active);
  g_clear_error (&h->error);
  g_free (h->base_url);
  g_free (h);
}

CairnPullTransport *
_cairn_pull_transport_http_new (const char *url, CairnRemote *remote, GError **error)
{
  static gsize curl_inited;
  if (g_once_init_enter (&curl_inited))
    {
      curl_global_init (CURL_GLOBAL_DEFAULT);
      g_once_init_leave (&curl_inited, 1);
    }
  Http *h = g_new0 (Http, 1);
  h->base.name = "http";
  h->base.fetch_file = http_fetch_file;
  h->base.list_refs = NULL;
  h->base.fetch_trees = http_fetch_trees;
  h->base.free = http_free;
  h->base.deltas_by_default = TRUE;
  h->base_url = g_str_has_suffix (url, "/") ? g_strdup (url) : g_strconcat (url, "/", NULL);
  h->remote = remote;
  g_queue_init (&h->waiting);
  h->active = g_hash_table_new (NULL, NULL);
  const char *v = g_getenv ("CAIRN_PULL_HTTP_TIMEOUT");
  h->timeout = v ? MAX (atol (v), 1) : 30;
  v = g_getenv ("CAIRN_PULL_HTTP_RETRIES");
  h->retries = v ? (guint)atoi (v) : DEFAULT_RETRIES;
  const char *h2 = remote_option (h, "http2");
  h->http2 = !(h2 && g_ascii_strcasecmp (h2, "false") == 0);
  h->multi = curl_multi_init ();
  if (!h->multi)
    {
      g_free (h->base_url);
      g_free (h);
      cairn_throw (error, "curl_multi_init failed");
      return NULL;
    }
  curl_multi_setopt (h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt (h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_HOST_CONNECTIONS);
  return &h->base;
}

void
cairn_pull_enable_http (void)
{
  _cairn_pull_http_new = _cairn_pull_transport_http_new;
}
