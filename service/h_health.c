/* h_health.c - GET /healthz (liveness: the I/O loop answers) and GET
 * /readyz (readiness: 503 while draining or while every job slot is
 * taken).  Both are cheap, unauthenticated and logged only on failure.
 * SPDX-License-Identifier: MIT */
#include "svc.h"

enum MHD_Result
h_healthz(svc_conn *c)
{
  static const char ok[] = "{\"status\":\"ok\"}";
  return svc_reply_text(c, MHD_HTTP_OK, "application/json", ok, sizeof ok - 1,
                        false);
}

enum MHD_Result
h_readyz(svc_conn *c)
{
  if (atomic_load(&svc.draining))
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting-down",
                             "the server is draining before shutdown");
  int admitted = atomic_load(&svc.admitted);
  if (admitted >= svc_capacity())
    return svc_reply_problem(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                             "all %d job slots are taken", svc_capacity());
  return svc_reply_json(c, MHD_HTTP_OK,
                        json_pack("{s:s, s:i, s:i, s:i, s:i}", "status",
                                  "ready", "queued", svc_pool_queued(),
                                  "running", svc_pool_running(), "admitted",
                                  admitted, "capacity", svc_capacity()),
                        NULL);
}
