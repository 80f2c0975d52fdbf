/* h_ui.c - GET / and GET /ui/<file>: the web page (web/) that scores two
 * files through POST /v1/score from the browser.  The files are embedded
 * at build time (scripts/embed-ui -> ui_assets.c); docs/web.md says why.
 * SPDX-License-Identifier: MIT */
#include "svc.h"
#include "ui_assets.h"

#include <string.h>

/* Everything the page needs is on this origin: no remote script, style,
 * font or connection, no inline script or style, no framing. */
#define UI_CSP                                                                 \
  "default-src 'none'; script-src 'self'; style-src 'self'; "                  \
  "img-src 'self' data: blob:; connect-src 'self'; form-action 'none'; "       \
  "frame-ancestors 'none'; base-uri 'none'"

static const svc_ui_asset *
asset_find(const char *path)
{
  for (int i = 0; i < svc_ui_nassets; i++)
    if (strcmp(svc_ui_assets[i].path, path) == 0)
      return &svc_ui_assets[i];
  return NULL;
}

/* If-None-Match holds our ETag (or "*"): the browser's copy is current. */
static bool
not_modified(svc_conn *c, const svc_ui_asset *a)
{
  const char *inm = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_IF_NONE_MATCH);
  return inm != NULL && (strstr(inm, a->etag) != NULL || strcmp(inm, "*") == 0);
}

/* The page's own headers; svc_reply_text's "no-store" would defeat the
 * ETag revalidation, so the response is built here. */
static enum MHD_Result
reply_asset(svc_conn *c, const svc_ui_asset *a)
{
  bool fresh = not_modified(c, a);
  int status = fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
  size_t len = fresh ? 0 : a->len;
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
  MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
  /* Revalidate every time: a new daemon never pairs old and new files. */
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
  MHD_add_response_header(r, "X-Request-ID", c->request_id);
  if (atomic_load(&svc.draining))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(c->mhd, (unsigned)status, r);
  MHD_destroy_response(r);
  if (ret == MHD_YES) {
    c->status = status;
    c->bytes_out = len;
  }
  return ret;
}

enum MHD_Result
h_ui(svc_conn *c)
{
  const svc_ui_asset *a = asset_find(c->url);
  if (a == NULL)
    return svc_reply_problem(c, MHD_HTTP_NOT_FOUND, "not-found",
                             "the web page has no file at this path");
  return reply_asset(c, a);
}
