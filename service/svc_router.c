/* svc_router.c - the route table and the one access handler: every
 * request gets a context and a request id, then the generic checks (route,
 * method, auth, content type, size, admission) run before any handler.
 * The completion callback logs, counts and frees.
 * SPDX-License-Identifier: MIT */
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* Routes are data (Redis's command table). */
const svc_route svc_routes[] = {
  { "POST", "/v1/score", "/v1/score", h_score, SVC_R_AUTH | SVC_R_UPLOAD },
  { "GET", "/v1/catalog", "/v1/catalog", h_catalog, SVC_R_AUTH },
  { "GET", "/v1/openapi.yaml", "/v1/openapi.yaml", h_openapi, 0 },
  { "GET", "/healthz", "/healthz", h_healthz, SVC_R_QUIET },
  { "GET", "/readyz", "/readyz", h_readyz, SVC_R_QUIET },
  { "GET", "/metrics", "/metrics", h_metrics, SVC_R_QUIET },
  /* The web page (h_ui.c): files embedded from web/ by scripts/embed-ui. */
  { "GET", "/", "/", h_ui, SVC_R_QUIET },
  { "GET", "/ui/", "/ui/", h_ui, SVC_R_QUIET | SVC_R_PREFIX },
};
const int svc_nroutes = sizeof svc_routes / sizeof *svc_routes;

/* An incoming X-Request-ID is echoed only if it is short and plain, so
 * logs and headers never carry arbitrary client text. */
static bool
request_id_ok(const char *s)
{
  size_t n = 0;
  for (; s[n] != '\0'; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
              || ch == '.';
    if (!ok || n >= SVC_RID_MAX - 1)
      return false;
  }
  return n > 0;
}

static void
request_id_set(svc_conn *c)
{
  const char *in
      = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "X-Request-ID");
  if (in != NULL && request_id_ok(in)) {
    snprintf(c->request_id, sizeof c->request_id, "%s", in);
    return;
  }
  unsigned char r[16] = { 0 };
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    static atomic_uint_fast64_t seq;
    uint64_t s = atomic_fetch_add(&seq, 1) ^ (uint64_t)svc_now_ms();
    memcpy(r, &s, sizeof s);
  }
  for (size_t i = 0; i < sizeof r; i++)
    snprintf(c->request_id + 2 * i, 3, "%02x", r[i]);
}

/* Constant time in the token's content: every configured token is
 * compared over the whole presented length. */
static bool
token_ok(const char *tok, size_t len)
{
  unsigned match = 0;
  for (int t = 0; t < svc.ntokens; t++) {
    const char *want = svc.tokens[t];
    size_t wlen = svc.token_lens[t];
    unsigned diff = (unsigned)(len != wlen);
    for (size_t i = 0; i < len; i++)
      diff |= (unsigned char)tok[i] ^ (unsigned char)want[i % wlen];
    match |= (unsigned)(diff == 0);
  }
  return match != 0;
}

static bool
authorized(svc_conn *c)
{
  if (svc.ntokens == 0)
    return true;
  const char *h
      = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "Authorization");
  if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
    return false;
  h += 7;
  while (*h == ' ')
    h++;
  size_t n = strlen(h);
  while (n > 0 && h[n - 1] == ' ')
    n--;
  return n > 0 && token_ok(h, n);
}

static bool
is_multipart(svc_conn *c)
{
  const char *ct = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_TYPE);
  return ct != NULL
         && strncasecmp(ct, "multipart/form-data",
                        strlen("multipart/form-data"))
                == 0;
}

/* -1 when the request has no valid Content-Length (chunked). */
static int64_t
content_length(svc_conn *c)
{
  const char *cl = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl == NULL || *cl < '0' || *cl > '9')
    return -1;
  char *end;
  unsigned long long v = strtoull(cl, &end, 10);
  return *end == '\0' && v <= INT64_MAX ? (int64_t)v : -1;
}

/* The generic checks of an upload route, on the headers alone. */
static enum MHD_Result
upload_checks(svc_conn *c)
{
  if (atomic_load(&svc.draining)) {
    svc_metrics_rejected("draining");
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting-down",
                             "the server is draining before shutdown; "
                             "retry on another instance");
  }
  if (!is_multipart(c))
    return svc_reply_problem(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                             "unsupported-media-type",
                             "send multipart/form-data with parts "
                             "'prediction' and 'reference' (curl -F)");
  int64_t len = content_length(c);
  uint64_t cap = svc.cfg.max_upload_bytes;
  if (len >= 0 && (uint64_t)len > cap)
    return svc_reply_problem(c, MHD_HTTP_CONTENT_TOO_LARGE, "upload-too-large",
                             "request body of %lld bytes exceeds the limit of "
                             "%llu bytes (--max-upload-mb)",
                             (long long)len, (unsigned long long)cap);
  if (svc_admit_saturated()) {
    svc_metrics_rejected("queue_full");
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                             "all %d job slots are taken; retry later",
                             svc_capacity());
  }
  if (len > 0 && !svc_admit_memory(c, (uint64_t)len)) {
    svc_metrics_rejected("memory");
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                             "the memory budget is taken by other requests; "
                             "retry later");
  }
  svc_admit_upload(c); /* the job slot is taken once the body is in */
  if (!svc_upload_begin(c))
    return svc_reply_problem(c, c->pend_status, c->pend_slug, "%s",
                             c->pend_detail);
  return MHD_YES;
}

static bool
route_matches(const svc_route *r, const char *url)
{
  if (r->flags & SVC_R_PREFIX)
    return strncmp(r->path, url, strlen(r->path)) == 0;
  return strcmp(r->path, url) == 0;
}

/* First call: headers only.  Non-upload routes answer here. */
static enum MHD_Result
first_call(svc_conn *c, const char *url)
{
  const svc_route *path_match = NULL;
  for (int i = 0; i < svc_nroutes; i++) {
    if (!route_matches(&svc_routes[i], url))
      continue;
    path_match = &svc_routes[i];
    if (strcmp(svc_routes[i].method, c->method) == 0
        || (strcmp(c->method, "HEAD") == 0
            && strcmp(svc_routes[i].method, "GET") == 0)) {
      c->route = &svc_routes[i];
      break;
    }
  }
  if (c->route == NULL && path_match != NULL) {
    c->route = path_match; /* for the Allow header and the metrics label */
    return svc_reply_problem(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                             "method-not-allowed", "use %s %s",
                             path_match->method, path_match->path);
  }
  if (c->route == NULL)
    return svc_reply_problem(c, MHD_HTTP_NOT_FOUND, "not-found",
                             "no endpoint at this path; see "
                             "/v1/openapi.yaml");
  if ((c->route->flags & SVC_R_AUTH) && !authorized(c))
    return svc_reply_problem(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                             "send 'Authorization: Bearer <token>'");
  if (c->route->flags & SVC_R_UPLOAD)
    return upload_checks(c);
  return MHD_YES; /* answered on the final call, keeping the connection */
}

enum MHD_Result
svc_dispatch(void *cls, struct MHD_Connection *conn, const char *url,
             const char *method, const char *version, const char *upload_data,
             size_t *upload_data_size, void **con_cls)
{
  (void)cls;
  (void)version;
  svc_conn *c = *con_cls;
  if (c == NULL) {
    c = calloc(1, sizeof *c);
    if (c == NULL)
      return MHD_NO;
    c->mhd = conn;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->url = url;
    c->t0_ms = svc_now_ms();
    request_id_set(c);
    *con_cls = c;
    return first_call(c, url);
  }
  c->url = url;
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (svc.cfg.deadline_s > 0
        && svc_now_ms() - c->t0_ms > 1000.0 * svc.cfg.deadline_s) {
      c->status = MHD_HTTP_REQUEST_TIMEOUT; /* logged; connection dropped */
      return MHD_NO;
    }
    if (c->route->flags & SVC_R_UPLOAD)
      svc_upload_feed(c, upload_data, n);
    else
      c->bytes_in += n; /* a body nobody asked for: dropped */
    return MHD_YES;
  }
  if ((c->route->flags & SVC_R_UPLOAD)
      && atomic_load(&c->job) == SVC_JOB_NONE) {
    svc_upload_end(c);
    if (c->pend_status != 0)
      return svc_reply_problem(c, c->pend_status, c->pend_slug, "%s",
                               c->pend_detail);
  }
  return c->route->fn(c);
}

void
svc_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)conn;
  svc_conn *c = *con_cls;
  if (c == NULL)
    return;
  *con_cls = NULL;
  double ms = svc_now_ms() - c->t0_ms;
  c->aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
  if (c->status == 0)
    c->status = 499; /* closed before any response was queued */
  svc_metrics_request(c, ms / 1000.0);
  if (!(c->route && (c->route->flags & SVC_R_QUIET)) || c->status != 200)
    svc_log_request(c, ms);
  svc_admit_release(c);
  svc_upload_free(c);
  json_decref(c->result);
  free(c);
}
