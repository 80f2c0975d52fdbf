/* h_metrics.c - GET /metrics: Prometheus text format 0.0.4 from
 * svc_metrics.c.  SPDX-License-Identifier: MIT */
#include "svc.h"

enum MHD_Result
h_metrics(svc_conn *c)
{
  size_t len = 0;
  char *text = svc_metrics_render(&len);
  if (text == NULL)
    return svc_reply_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "internal-error", "out of memory");
  return svc_reply_text(c, MHD_HTTP_OK,
                        "text/plain; version=0.0.4; "
                        "charset=utf-8",
                        text, len, true);
}
