/* h_catalog.c - GET /v1/catalog: every metric and every loss with its
 * formula reference, parameters, units and citation.  The body is built
 * by svc_catalog_json (catalog_json.c), which `segscore catalog` prints
 * too, so the two are the same JSON.
 * SPDX-License-Identifier: MIT */
#include "report_losses.h"
#include "svc.h"

enum MHD_Result
h_catalog(svc_conn *c)
{
  return svc_reply_json(c, MHD_HTTP_OK, svc_catalog_json(), NULL);
}
