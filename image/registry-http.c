/* The HTTP side of the registry client (OCI distribution spec v1.0 /
 * Docker registry API v2) over libcurl.
 *
 * One CairnRegistry per repository being pulled or pushed, shared by the
 * layer threads: each request gets its own easy handle, connections, DNS
 * and TLS sessions are shared through a CURLSH. Authentication follows the
 * registry's 401 answers: a Bearer challenge sends us to its token server
 * (GET realm?service=…&scope=repository:NAME:ACTIONS, with basic
 * credentials when there are some), a Basic challenge wants the
 * credentials on every request; either way the request is retried once.
 * Custom Authorization headers are never sent to another host on a
 * redirect (libcurl drops them since 7.58), so blob redirects to storage
 * servers do not leak the token.
 *
 * TLS: certificates are verified against the system's CAs plus the *.crt
 * files of --cert-dir (default /etc/containers/certs.d/HOST:PORT and
 * /etc/docker/certs.d/HOST:PORT, as podman and docker read them; a
 * NAME.cert + NAME.key pair there is the client certificate). With
 * --tls-verify=false nothing is verified and a registry that does not
 * speak TLS is reached over plain http. A transfer that moves no byte for
 * the timeout ($CAIRN_REGISTRY_TIMEOUT, default 30 s) fails.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "image/registry-private.h"
#include <stdarg.h>
#include <string.h>

#define ERROR_BODY_MAX (64u << 10)
#define TOKEN_MAX (1u << 20)

struct CairnRegistry
{
  char *host, *name, *desc;
  char *base; /* "https://ENDPOINT" or "http://ENDPOINT" */
  gboolean verify;
  GBytes *ca_blob;
  char *client_cert, *client_key;
  long timeout;
  char *user, *pass;
  CURLSH *share;
  GMutex share_locks[CURL_LOCK_DATA_LAST];
  GMutex lock; /* the fields below */
  char *token;
  gboolean use_basic;
  GPtrArray *scopes; /* repository:NAME:ACTIONS, and mount sources */
  gint64 bytes_in, bytes_out;
};

void
cairn_registry_options_init (CairnRegistryOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->tls_verify = TRUE;
}

const char *
_cairn_registry_describe (CairnRegistry *r)
{
  return r->desc;
}

const char *
_cairn_registry_name (CairnRegistry *r)
{
  return r->name;
}

guint64
_cairn_registry_bytes_in (CairnRegistry *r)
{
  return (guint64)__atomic_load_n (&r->bytes_in, __ATOMIC_RELAXED);
}

guint64
_cairn_registry_bytes_out (CairnRegistry *r)
{
  return (guint64)__atomic_load_n (&r->bytes_out, __ATOMIC_RELAXED);
}

void
_cairn_registry_add_scope (CairnRegistry *r, const char *scope)
{
  g_mutex_lock (&r->lock);
  gboolean have = FALSE;
  for (guint i = 0; i < r->scopes->len && !have; i++)
    have = strcmp (r->scopes->pdata[i], scope) == 0;
  if (!have)
    {
      g_ptr_array_add (r->scopes, g_strdup (scope));
      g_clear_pointer (&r->token, g_free); /* the next token covers it */
    }
  g_mutex_unlock (&r->lock);
}

/* ---- requests ------------------------------------------------------------------- */

void
_cairn_registry_request_init (CairnRegistryRequest *req, const char *method, char *url)
{
  memset (req, 0, sizeof *req);
  req->method = method;
  req->url = url;
  req->body_fd = -1;
  req->resp = g_byte_array_new ();
  req->resp_headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

void
_cairn_registry_request_clear (CairnRegistryRequest *req)
{
  g_clear_pointer (&req->url, g_free);
  g_clear_pointer (&req->headers, g_ptr_array_unref);
  g_clear_pointer (&req->resp, g_byte_array_unref);
  g_clear_pointer (&req->resp_headers, g_hash_table_unref);
}

void
_cairn_registry_request_add_header (CairnRegistryRequest *req, const char *fmt, ...)
{
  if (!req->headers)
    req->headers = g_ptr_array_new_with_free_func (g_free);
  va_list ap;
  va_start (ap, fmt);
  g_ptr_array_add (req->headers, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

const char *
_cairn_registry_response_header (CairnRegistryRequest *req, const char *name)
{
  return g_hash_table_lookup (req->resp_headers, name);
}

typedef struct
{
  CairnRegistry *r;
  CairnRegistryRequest *req;
  CURL *easy;
  guint64 sent;
  curl_off_t seen_down, seen_up; /* bytes moved at the last progress call */
  gint64 moved_at;               /* when bytes last moved (monotonic µs) */
  gboolean stalled;
} Transfer;

static size_t
on_header (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  gsize len = size * n;
  g_autofree char *line = g_strndup (buf, len);
  g_strchomp (line);
  if (g_str_has_prefix (line, "HTTP/"))
    g_hash_table_remove_all (t->req->resp_headers); /* a new answer (after a redirect) */
  char *colon = strchr (line, ':');
  if (colon)
    {
      char *name = g_ascii_strdown (line, colon - line);
      g_hash_table_replace (t->req->resp_headers, name, g_strdup (g_strstrip (colon + 1)));
    }
  return len;
}

static size_t
on_body (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  CairnRegistryRequest *req = t->req;
  gsize len = size * n;
  __atomic_add_fetch (&t->r->bytes_in, (gint64)len, __ATOMIC_RELAXED);
  long status = 0;
  curl_easy_getinfo (t->easy, CURLINFO_RESPONSE_CODE, &status);
  req->status = status; /* for write_fn: 200 and 206 differ */
  if (req->write_fn && status >= 200 && status < 300)
    return req->write_fn (buf, len, req->write_data);
  gsize max = status >= 200 && status < 300 ? req->max_body : ERROR_BODY_MAX;
  if (req->resp->len + len > max)
    {
      if (status >= 200 && status < 300)
        {
          req->too_big = TRUE;
          return 0;
        }
      len = max - MIN (max, req->resp->len); /* keep the start of an error page */
    }
  g_byte_array_append (req->resp, (const guint8 *)buf, len);
  return size * n;
}

static size_t
on_read (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  CairnRegistryRequest *req = t->req;
  guint64 total = req->body_fd >= 0 ? req->body_size : req->body_len;
  gsize want = MIN ((guint64)(size * n), total - t->sent);
  if (want == 0)
    return 0;
  if (req->body_fd >= 0)
    {
      ssize_t r;
      do
        r = pread (req->body_fd, buf, want, (off_t)(req->body_off + t->sent));
      while (r < 0 && errno == EINTR);
      if (r <= 0)
        return CURL_READFUNC_ABORT;
      want = r;
    }
  else
    memcpy (buf, (const guint8 *)req->body + t->sent, want);
  t->sent += want;
  __atomic_add_fetch (&t->r->bytes_out, (gint64)want, __ATOMIC_RELAXED);
  return want;
}

static int
on_progress (void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
  Transfer *t = data;
  if (t->req->cancel && g_atomic_int_get (t->req->cancel))
    return 1;
  /* The stall timer: libcurl's LOW_SPEED_TIME compares an average over a
   * window of several seconds, so a server that sends a burst and then
   * nothing was only noticed 6 s or more after the timeout. Here the
   * timeout runs from the last byte that moved either way (libcurl calls
   * this at least once a second while idle). */
  gint64 now = g_get_monotonic_time ();
  if (dn != t->seen_down || un != t->seen_up)
    {
      t->seen_down = dn;
      t->seen_up = un;
      t->moved_at = now;
    }
  else if (now - t->moved_at >= (gint64)t->r->timeout * G_USEC_PER_SEC)
    {
      t->stalled = TRUE;
      return 1;
    }
  return 0;
}

static void
setup_tls (CairnRegistry *r, CURL *e)
{
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYPEER, r->verify ? 1L : 0L);
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYHOST, r->verify ? 2L : 0L);
  if (r->ca_blob)
    {
      struct curl_blob blob = { (void *)g_bytes_get_data (r->ca_blob, NULL),
                                g_bytes_get_size (r->ca_blob), CURL_BLOB_COPY };
      curl_easy_setopt (e, CURLOPT_CAINFO_BLOB, &blob);
    }
  if (r->client_cert)
    {
      curl_easy_setopt (e, CURLOPT_SSLCERT, r->client_cert);
      curl_easy_setopt (e, CURLOPT_SSLKEY, r->client_key);
    }
}

static CURL *
new_easy (CairnRegistry *r, Transfer *t)
{
  CURL *e = curl_easy_init ();
  t->easy = e;
  t->moved_at = g_get_monotonic_time ();
  curl_easy_setopt (e, CURLOPT_SHARE, r->share);
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_USERAGENT, "cairn/" PACKAGE_VERSION);
  curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT, r->timeout);
  curl_easy_setopt (e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (e, CURLOPT_LOW_SPEED_TIME, r->timeout);
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt (e, CURLOPT_XFERINFODATA, t);
  setup_tls (r, e);
  return e;
}

static struct curl_slist *
request_headers (CairnRegistry *r, CairnRegistryRequest *req, CURL *e)
{
  struct curl_slist *h = NULL;
  for (guint i = 0; req->headers && i < req->headers->len; i++)
    h = curl_slist_append (h, req->headers->pdata[i]);
  h = curl_slist_append (h, "Expect:");
  g_mutex_lock (&r->lock);
  if (r->token)
    {
      g_autofree char *a = g_strconcat ("Authorization: Bearer ", r->token, NULL);
      h = curl_slist_append (h, a);
    }
  else if (r->use_basic && r->user)
    {
      curl_easy_setopt (e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
      curl_easy_setopt (e, CURLOPT_USERNAME, r->user);
      curl_easy_setopt (e, CURLOPT_PASSWORD, r->pass);
    }
  g_mutex_unlock (&r->lock);
  return h;
}

static void
setup_method (CairnRegistryRequest *req, CURL *e)
{
  gboolean has_body = req->body_fd >= 0 || req->body || strcmp (req->method, "GET") != 0;
  if (strcmp (req->method, "HEAD") == 0)
    curl_easy_setopt (e, CURLOPT_NOBODY, 1L);
  else if (strcmp (req->method, "GET") == 0)
    curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 1L);
  else if (has_body)
    {
      curl_easy_setopt (e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (e, CURLOPT_INFILESIZE_LARGE,
                        (curl_off_t)(req->body_fd >= 0 ? req->body_size : req->body_len));
      curl_easy_setopt (e, CURLOPT_CUSTOMREQUEST, req->method);
    }
}

/* One attempt. */
static gboolean
perform_once (CairnRegistry *r, CairnRegistryRequest *req, GError **error)
{
  Transfer t = { .r = r, .req = req };
  g_autoptr (CURL) e = new_easy (r, &t);
  g_autofree char *url
      = req->url[0] == '/' ? g_strconcat (r->base, req->url, NULL) : g_strdup (req->url);
  curl_easy_setopt (e, CURLOPT_URL, url);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, req->curl_error);
  curl_easy_setopt (e, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt (e, CURLOPT_READDATA, &t);
  setup_method (req, e);
  struct curl_slist *h = request_headers (r, req, e);
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, h);
  g_byte_array_set_size (req->resp, 0);
  g_hash_table_remove_all (req->resp_headers);
  req->curl_error[0] = '\0';
  req->too_big = FALSE;
  req->curl_result = curl_easy_perform (e);
  curl_slist_free_all (h);
  req->status = 0;
  curl_easy_getinfo (e, CURLINFO_RESPONSE_CODE, &req->status);
  if (req->too_big)
    return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "%s: the answer to %s is larger than %" G_GSIZE_FORMAT " bytes",
                             r->desc, req->url, req->max_body);
  if (req->curl_result == CURLE_OK)
    return TRUE;
  if (req->curl_result == CURLE_OPERATION_TIMEDOUT || t.stalled)
    return cairn_throw_code (error, G_IO_ERROR_TIMED_OUT,
                             "%s: %s stalled: no data for %ld s (CAIRN_REGISTRY_TIMEOUT)", r->desc,
                             url, r->timeout);
  return cairn_throw_code (error, G_IO_ERROR_FAILED, "%s: %s: %s", r->desc, url,
                           req->curl_error[0] ? req->curl_error
                                              : curl_easy_strerror (req->curl_result));
}

static char *
escape (const char *s)
{
  char *e = curl_easy_escape (NULL, s, 0);
  char *g = g_strdup (e);
  curl_free (e);
  return g;
}

static char *
token_url (CairnRegistry *r, CairnAuthChallenge *c)
{
  const char *realm = g_hash_table_lookup (c->params, "realm");
  const char *service = g_hash_table_lookup (c->params, "service");
  GString *u = g_string_new (realm);
  char sep = strchr (realm, '?') ? '&' : '?';
  if (service)
    {
      g_autofree char *s = escape (service);
      g_string_append_printf (u, "%cservice=%s", sep, s);
      sep = '&';
    }
  g_mutex_lock (&r->lock);
  for (guint i = 0; i < r->scopes->len; i++)
    {
      g_autofree char *s = escape (r->scopes->pdata[i]);
      g_string_append_printf (u, "%cscope=%s", sep, s);
      sep = '&';
    }
  g_mutex_unlock (&r->lock);
  return g_string_free (u, FALSE);
}

/* Ask the token server of a Bearer challenge for a token. */
static gboolean
fetch_token (CairnRegistry *r, CairnAuthChallenge *c, GError **error)
{
  const char *realm = g_hash_table_lookup (c->params, "realm");
  if (!realm || !(g_str_has_prefix (realm, "https://") || g_str_has_prefix (realm, "http://")))
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "%s: the registry's Bearer challenge has no usable realm", r->desc);
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "GET", token_url (r, c));
  req.max_body = TOKEN_MAX;
  Transfer t = { .r = r, .req = &req };
  g_autoptr (CURL) e = new_easy (r, &t);
  curl_easy_setopt (e, CURLOPT_URL, req.url);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, req.curl_error);
  curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 1L);
  if (r->user)
    {
      curl_easy_setopt (e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
      curl_easy_setopt (e, CURLOPT_USERNAME, r->user);
      curl_easy_setopt (e, CURLOPT_PASSWORD, r->pass);
    }
  CURLcode rc = curl_easy_perform (e);
  curl_easy_getinfo (e, CURLINFO_RESPONSE_CODE, &req.status);
  if (t.stalled)
    return cairn_throw_code (error, G_IO_ERROR_TIMED_OUT,
                             "%s: token server %s stalled: no data for %ld s "
                             "(CAIRN_REGISTRY_TIMEOUT)",
                             r->desc, realm, r->timeout);
  if (rc != CURLE_OK)
    return cairn_throw_code (error, G_IO_ERROR_FAILED, "%s: token server %s: %s", r->desc, realm,
                             req.curl_error[0] ? req.curl_error : curl_easy_strerror (rc));
  if (req.status == 401 || req.status == 403)
    return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                             "%s: the token server %s refused %s (%ld)%s", r->desc, realm,
                             r->user ? "the credentials" : "an anonymous request", req.status,
                             r->user ? "" : "; give credentials with --creds or an auth file");
  if (req.status != 200)
    return cairn_throw_code (error, G_IO_ERROR_FAILED, "%s: token server %s answered %ld", r->desc,
                             realm, req.status);
  g_autoptr (GBytes) body = g_bytes_new (req.resp->data, req.resp->len);
  g_autoptr (GVariant) doc = cairn_json_parse (body, "token server answer", error);
  if (!doc)
    return cairn_prefix_error (error, "%s", r->desc);
  g_autofree char *tok = cairn_json_dup_string (doc, "token");
  if (!tok || !*tok)
    {
      g_free (tok);
      tok = cairn_json_dup_string (doc, "access_token");
    }
  if (!tok || !*tok || strpbrk (tok, "\r\n"))
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: the token server %s sent no token", r->desc, realm);
  g_mutex_lock (&r->lock);
  g_free (r->token);
  r->token = g_steal_pointer (&tok);
  g_mutex_unlock (&r->lock);
  return TRUE;
}

static gboolean
need_creds (CairnRegistry *r, GError **error)
{
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                           "%s: authentication required (401) and no credentials for %s; give "
                           "--creds USER:PASSWORD or log in (auth.json)",
                           r->desc, r->host);
}

/* React to a 401: get a token or switch to basic credentials. */
static gboolean
authenticate (CairnRegistry *r, CairnRegistryRequest *req, GError **error)
{
  g_autoptr (CairnAuthChallenge) c
      = _cairn_auth_challenge_parse (_cairn_registry_response_header (req, "www-authenticate"));
  if (c && strcmp (c->scheme, "bearer") == 0)
    return fetch_token (r, c, error);
  if (c && strcmp (c->scheme, "basic") == 0)
    {
      if (!r->user)
        return need_creds (r, error);
      g_mutex_lock (&r->lock);
      gboolean had = r->use_basic;
      r->use_basic = TRUE;
      g_mutex_unlock (&r->lock);
      if (had)
        return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                                 "%s: the registry refused the credentials of '%s' (401)", r->desc,
                                 r->user);
      return TRUE;
    }
  return cairn_throw_code (error, G_IO_ERROR_PERMISSION_DENIED,
                           "%s: 401 Unauthorized without a usable WWW-Authenticate challenge",
                           r->desc);
}

gboolean
_cairn_registry_perform (CairnRegistry *r, CairnRegistryRequest *req, GError **error)
{
  for (int attempt = 0;; attempt++)
    {
      if (!perform_once (r, req, error))
        return FALSE;
      if (req->status != 401)
        return TRUE;
      if (attempt > 0)
        return _cairn_registry_throw_status (r, req, "access denied", error);
      if (!authenticate (r, req, error))
        return FALSE;
    }
}

gboolean
_cairn_registry_throw_status (CairnRegistry *r, CairnRegistryRequest *req, const char *what,
                              GError **error)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GBytes) body = g_bytes_new (req->resp->data, req->resp->len);
  g_autoptr (GVariant) doc = req->resp->len ? cairn_json_parse (body, "error", NULL) : NULL;
  g_autoptr (GVariant) errs = cairn_json_get (doc, "errors", G_VARIANT_TYPE ("av"));
  g_autoptr (GPtrArray) list = cairn_json_objects (errs);
  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *code = cairn_json_dup_string (list->pdata[i], "code");
      g_autofree char *msg = cairn_json_dup_string (list->pdata[i], "message");
      g_autofree char *esc = cairn_escape_name (msg ? msg : "", -1);
      g_string_append_printf (s, "%s%s%s%s%s", s->len ? "; " : "", esc, code ? " (" : "",
                              code ? code : "", code ? ")" : "");
    }
  GIOErrorEnum code = req->status == 404   ? G_IO_ERROR_NOT_FOUND
                      : req->status == 401 ? G_IO_ERROR_PERMISSION_DENIED
                      : req->status == 403 ? G_IO_ERROR_PERMISSION_DENIED
                                           : G_IO_ERROR_FAILED;
  return cairn_throw_code (error, code, "%s: %s: HTTP %ld%s%s", r->desc, what, req->status,
                           s->len ? ": " : "", s->str);
}

/* ---- connecting ------------------------------------------------------------------ */

static void
share_lock (CURL *h, curl_lock_data data, curl_lock_access access, void *p)
{
  CairnRegistry *r = p;
  g_mutex_lock (&r->share_locks[data]);
}

static void
share_unlock (CURL *h, curl_lock_data data, void *p)
{
  CairnRegistry *r = p;
  g_mutex_unlock (&r->share_locks[data]);
}

/* The system CAs plus every *.crt of @dir; the first NAME.cert with a
 * NAME.key is the client certificate. */
static gboolean
load_cert_dir (CairnRegistry *r, const char *dir, gboolean must_exist, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
  if (!d)
    {
      if (!must_exist)
        return TRUE;
      return cairn_throw_code (error, G_IO_ERROR_NOT_FOUND, "--cert-dir %s: %s", dir,
                               local->message);
    }
  g_autoptr (GByteArray) blob = g_byte_array_new ();
  const curl_version_info_data *v = curl_version_info (CURLVERSION_NOW);
  const char *system = v->cainfo ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
  g_autofree char *sys = NULL;
  gsize len = 0;
  if (g_file_get_contents (system, &sys, &len, NULL))
    g_byte_array_append (blob, (guint8 *)sys, len);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const char *n; (n = g_dir_read_name (d));)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, (GCompareFunc)g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      g_autofree char *path = g_build_filename (dir, n, NULL);
      if (g_str_has_suffix (n, ".crt"))
        {
          g_autofree char *pem = NULL;
          if (!g_file_get_contents (path, &pem, &len, &local))
            return cairn_throw_code (error, G_IO_ERROR_FAILED, "%s", local->message);
          g_byte_array_append (blob, (guint8 *)"\n", 1);
          g_byte_array_append (blob, (guint8 *)pem, len);
        }
      else if (g_str_has_suffix (n, ".cert") && !r->client_cert)
        {
          g_autofree char *base = g_strndup (path, strlen (path) - strlen (".cert"));
          g_autofree char *key = g_strconcat (base, ".key", NULL);
          if (g_file_test (key, G_FILE_TEST_EXISTS))
            {
              r->client_cert = g_strdup (path);
              r->client_key = g_steal_pointer (&key);
            }
        }
    }
  r->ca_blob = g_byte_array_free_to_bytes (g_steal_pointer (&blob));
  return TRUE;
}

void
_cairn_registry_free (CairnRegistry *r)
{
  if (!r)
    return;
  if (r->share)
    curl_share_cleanup (r->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    g_mutex_clear (&r->share_locks[i]);
  g_mutex_clear (&r->lock);
  g_free (r->host);
  g_free (r->name);
  g_free (r->desc);
  g_free (r->base);
  g_clear_pointer (&r->ca_blob, g_bytes_unref);
  g_free (r->client_cert);
  g_free (r->client_key);
  g_free (r->user);
  if (r->pass)
    memset (r->pass, 0, strlen (r->pass));
  g_free (r->pass);
  g_free (r->token);
  g_clear_pointer (&r->scopes, g_ptr_array_unref);
  g_free (r);
}

/* GET /v2/: which scheme, and whether it wants authentication (the 401 is
 * answered here already, so that later requests carry it from the start). */
static gboolean
ping (CairnRegistry *r, GError **error)
{
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "GET", g_strdup ("/v2/"));
  req.max_body = ERROR_BODY_MAX;
  g_autoptr (GError) local = NULL;
  if (!perform_once (r, &req, &local))
    {
      gboolean not_tls
          = req.curl_result == CURLE_SSL_CONNECT_ERROR || req.curl_result == CURLE_RECV_ERROR;
      if (r->verify || !not_tls || !g_str_has_prefix (r->base, "https://"))
        return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
      /* --tls-verify=false and no TLS there: plain http */
      g_autofree char *http = g_strconcat ("http://", r->base + strlen ("https://"), NULL);
      g_free (r->base);
      r->base = g_steal_pointer (&http);
      g_clear_error (&local);
      if (!perform_once (r, &req, error))
        return FALSE;
    }
  if (req.status == 401 && !authenticate (r, &req, error))
    return FALSE;
  if (req.status != 200 && req.status != 401)
    return _cairn_registry_throw_status (r, &req, "not a registry (GET /v2/)", error);
  return TRUE;
}

CairnRegistry *
_cairn_registry_open (const CairnRegistryRef *ref, const CairnRegistryOptions *opts,
                      const char *actions, GError **error)
{
  g_autoptr (CairnRegistry) r = g_new0 (CairnRegistry, 1);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    g_mutex_init (&r->share_locks[i]);
  g_mutex_init (&r->lock);
  r->host = g_strdup (ref->host);
  r->name = g_strdup (ref->name);
  r->desc = g_strdup_printf ("docker://%s/%s", ref->host, ref->name);
  r->base = g_strconcat ("https://", ref->endpoint, NULL);
  r->verify = opts->tls_verify;
  r->scopes = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (r->scopes, g_strdup_printf ("repository:%s:%s", ref->name, actions));
  const char *t = g_getenv ("CAIRN_REGISTRY_TIMEOUT");
  r->timeout = opts->timeout_secs > 0 ? opts->timeout_secs : (t ? atol (t) : 0);
  if (r->timeout <= 0)
    r->timeout = 30;
  r->share = curl_share_init ();
  curl_share_setopt (r->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (r->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (r->share, CURLSHOPT_USERDATA, r);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (opts->cert_dir)
    {
      if (!load_cert_dir (r, opts->cert_dir, TRUE, error))
        return NULL;
    }
  else
    {
      g_autofree char *c = g_build_filename ("/etc/containers/certs.d", ref->host, NULL);
      g_autofree char *d = g_build_filename ("/etc/docker/certs.d", ref->host, NULL);
      if (!load_cert_dir (r, g_file_test (c, G_FILE_TEST_IS_DIR) ? c : d, FALSE, error))
        return NULL;
    }
  if (!_cairn_registry_find_creds (ref->host, ref->name, opts->creds, opts->authfile, &r->user,
                                   &r->pass, error)
      || !ping (r, error))
    return NULL;
  return g_steal_pointer (&r);
}

/* ---- manifests and small blobs -------------------------------------------------- */

/* Small requests are retried after a transport error (a dropped
 * connection), three attempts in all; a stall only once more. */
static gboolean
perform_retrying (CairnRegistry *r, CairnRegistryRequest *req, GError **error)
{
  for (int attempt = 0;; attempt++)
    {
      g_autoptr (GError) local = NULL;
      if (_cairn_registry_perform (r, req, &local))
        return TRUE;
      gboolean transient
          = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_FAILED)
            || (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && attempt == 0);
      if (!transient || attempt >= 2)
        return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
      g_usleep ((attempt + 1) * G_USEC_PER_SEC / 4);
    }
}

#define MANIFEST_ACCEPT                                                                            \
  "Accept: " CAIRN_OCI_MANIFEST_TYPE ", " CAIRN_OCI_INDEX_TYPE ", " CAIRN_DOCKER_MANIFEST_TYPE     \
  ", " CAIRN_DOCKER_LIST_TYPE

static gboolean
check_digest (CairnRegistry *r, const char *what, GBytes *data, const char *want, GError **error)
{
  const char *hex = _cairn_digest_hex (want, NULL);
  g_autofree char *got
      = cairn_checksum_bytes (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  if (hex && strcmp (hex, got) == 0)
    return TRUE;
  return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                           "%s: %s: digest mismatch (content hashes to sha256:%s, expected %s)",
                           r->desc, what, got, want);
}

gboolean
_cairn_registry_get_manifest (CairnRegistry *r, const char *reference, GBytes **out_data,
                              char **out_media_type, char **out_digest, GError **error)
{
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "GET",
                                g_strdup_printf ("/v2/%s/manifests/%s", r->name, reference));
  req.max_body = CAIRN_REGISTRY_MANIFEST_MAX;
  _cairn_registry_request_add_header (&req, "%s", MANIFEST_ACCEPT);
  g_autofree char *what = g_strdup_printf ("manifest %s", reference);
  g_autoptr (GError) local = NULL;
  if (!perform_retrying (r, &req, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                 "%s: %s is too large (more than %u MiB)", r->desc, what,
                                 CAIRN_REGISTRY_MANIFEST_MAX >> 20);
      return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
    }
  if (req.status != 200)
    return _cairn_registry_throw_status (r, &req, what, error);
  g_autoptr (GBytes) data = g_bytes_new (req.resp->data, req.resp->len);
  const char *header_digest = _cairn_registry_response_header (&req, "docker-content-digest");
  if (g_str_has_prefix (reference, "sha256:"))
    {
      if (!check_digest (r, what, data, reference, error))
        return FALSE;
    }
  else if (header_digest && g_str_has_prefix (header_digest, "sha256:")
           && !check_digest (r, what, data, header_digest, error))
    return FALSE;
  const char *ct = _cairn_registry_response_header (&req, "content-type");
  g_autofree char *mt = ct ? g_strndup (ct, strcspn (ct, "; ")) : NULL;
  g_autofree char *hex
      = cairn_checksum_bytes (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  *out_data = g_steal_pointer (&data);
  *out_media_type = g_steal_pointer (&mt);
  *out_digest = g_strconcat ("sha256:", hex, NULL);
  return TRUE;
}

GBytes *
_cairn_registry_get_small_blob (CairnRegistry *r, const char *digest, guint64 size, gsize max,
                                GError **error)
{
  if (size > max)
    return cairn_throw_code (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                             "%s: blob %s: %" G_GUINT64_FORMAT " bytes is too large", r->desc,
                             digest, size),
           NULL;
  g_auto (CairnRegistryRequest) req = { 0 };
  _cairn_registry_request_init (&req, "GET", g_strdup_printf ("/v2/%s/blobs/%s", r->name, digest));
  req.max_body = size;
  g_autofree char *what = g_strdup_printf ("blob %s", digest);
  g_autoptr (GError) local = NULL;
  if (!perform_retrying (r, &req, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                                 "%s: %s is larger than its descriptor's %" G_GUINT64_FORMAT
                                 " bytes",
                                 r->desc, what, size),
               NULL;
      return g_propagate_error (error, g_steal_pointer (&local)), NULL;
    }
  if (req.status != 200)
    return _cairn_registry_throw_status (r, &req, what, error), NULL;
  g_autoptr (GBytes) data = g_bytes_new (req.resp->data, req.resp->len);
  if (g_bytes_get_size (data) != size)
    return cairn_throw_code (error, G_IO_ERROR_INVALID_DATA,
                             "%s: %s: %" G_GSIZE_FORMAT
                             " bytes, its descriptor says %" G_GUINT64_FORMAT,
                             r->desc, what, g_bytes_get_size (data), size),
           NULL;
  if (!check_digest (r, what, data, digest, error))
    return NULL;
  return g_steal_pointer (&data);
}
