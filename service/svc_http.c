/* svc_http.c - every response segscored sends: JSON, text and RFC 9457
 * problem+json, each with X-Request-ID.  Service-level problem types are
 * in the table below; library statuses go through reply.c's
 * svc_problem_json.  SPDX-License-Identifier: MIT */
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Problems that are the service's own (the library's have ss_status
 * slugs).  The slug is the stable part of "type"; api/openapi.yaml lists
 * the same set. */
static const struct {
  const char *slug, *title;
} problems[] = {
  { "not-found", "No such endpoint" },
  { "method-not-allowed", "Method not allowed on this endpoint" },
  { "unauthorized", "Missing or invalid bearer token" },
  { "unsupported-media-type", "Request body must be multipart/form-data" },
  { "invalid-multipart", "Malformed multipart/form-data body" },
  { "missing-part", "A required form part is missing" },
  { "unknown-part", "Unknown form part" },
  { "duplicate-part", "A form part was given more than once" },
  { "upload-too-large", "Request body exceeds the upload limit" },
  { "busy", "Server is at capacity; retry later" },
  { "shutting-down", "Server is shutting down" },
  { "deadline-exceeded", "Request exceeded the server's time limit" },
  { "internal-error", "Internal error" },
};

static const char *
problem_title(const char *slug)
{
  for (size_t i = 0; i < sizeof problems / sizeof *problems; i++)
    if (strcmp(problems[i].slug, slug) == 0)
      return problems[i].title;
  return "Error";
}

json_t *
svc_problem_new(int status, const char *slug, const char *detail,
                const char *request_id)
{
  char type[160];
  snprintf(type, sizeof type, "%s%s", SVC_PROBLEM_BASE, slug);
  json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
                        problem_title(slug), "status", status, "detail",
                        detail ? detail : problem_title(slug));
  if (p != NULL && request_id != NULL && request_id[0] != '\0')
    json_object_set_new(p, "request_id", json_string(request_id));
  return p;
}

static void
add_common_headers(svc_conn *c, struct MHD_Response *r, int status)
{
  MHD_add_response_header(r, "X-Request-ID", c->request_id);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer realm=\"segscore\"");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED && c->route != NULL)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, c->route->method);
  if (atomic_load(&svc.draining))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

enum MHD_Result
svc_reply_text(svc_conn *c, int status, const char *ctype, const char *text,
               size_t len, bool owned)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)text,
      owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (r == NULL) {
    if (owned)
      free((void *)text);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  add_common_headers(c, r, status);
  enum MHD_Result ret = MHD_queue_response(c->mhd, (unsigned)status, r);
  MHD_destroy_response(r);
  if (ret == MHD_YES) {
    c->status = status;
    c->bytes_out = len;
  }
  return ret;
}

enum MHD_Result
svc_reply_json(svc_conn *c, int status, json_t *body, const char *ctype)
{
  char *text = body ? svc_json_dump(body, 0) : NULL;
  json_decref(body);
  if (text == NULL) {
    static const char oom[]
        = "{\"type\":\"" SVC_PROBLEM_BASE "internal-error\",\"title\":"
          "\"Internal error\",\"status\":500,\"detail\":\"out of memory\"}";
    return svc_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "application/problem+json", oom, sizeof oom - 1,
                          false);
  }
  return svc_reply_text(c, status, ctype ? ctype : "application/json", text,
                        strlen(text), true);
}

enum MHD_Result
svc_reply_problem(svc_conn *c, int status, const char *slug, const char *fmt,
                  ...)
{
  char detail[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return svc_reply_json(c, status,
                        svc_problem_new(status, slug, detail, c->request_id),
                        "application/problem+json");
}

enum MHD_Result
svc_reply_error(svc_conn *c, const ss_error *err)
{
  int status = svc_http_status(err->code);
  return svc_reply_json(c, status, svc_problem_json(err, status, c->request_id),
                        "application/problem+json");
}

void
svc_pend_problem(svc_conn *c, int status, const char *slug, const char *fmt,
                 ...)
{
  if (c->pend_status != 0)
    return;
  c->pend_status = status;
  c->pend_slug = slug;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->pend_detail, sizeof c->pend_detail, fmt, ap);
  va_end(ap);
}
