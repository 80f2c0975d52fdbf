/* reply.c - problem JSON (RFC 9457), the status -> HTTP table, and the
 * project's one JSON dump format.  Shared by the CLI and the daemon.
 * SPDX-License-Identifier: MIT */
#include "score.h"

#include <stdio.h>

/* HTTP status of each library status: malformed input is 400, a valid
 * file that cannot be scored as asked is 422, limits are 413, memory
 * pressure is 503 (retry later). */
int
svc_http_status(ss_status s)
{
  switch (s) {
  case SS_OK: return 200;
  case SS_ENOMEM: return 503;
  case SS_EINVAL: return 400;
  case SS_ENIFTI: return 400;
  case SS_ETRUNC: return 400;
  case SS_EGZIP: return 400;
  case SS_ETOOBIG: return 413;
  case SS_EDTYPE: return 422;
  case SS_ELABELS: return 422;
  case SS_EPROB: return 422;
  case SS_ESHAPE: return 422;
  case SS_EGEOMETRY: return 422;
  case SS_EOPTION: return 400;
  case SS_ETYPE: return 400;
  case SS_ERANGE: return 400;
  case SS_ECLASSES: return 422;
  case SS_EINTERNAL: return 500;
  case SS_STATUS_COUNT: break;
  }
  return 500;
}

json_t *
svc_problem_json(const ss_error *err, int http_status, const char *request_id)
{
  char type[96];
  snprintf(type, sizeof type, "/problems/%s", ss_status_name(err->code));
  json_t *p = json_object();
  if (p == NULL)
    return NULL;
  json_object_set_new(p, "type", json_string(type));
  json_object_set_new(p, "title", json_string(ss_strerror(err->code)));
  json_object_set_new(p, "status", json_integer(http_status));
  json_object_set_new(p, "detail",
                      json_string(err->detail[0] ? err->detail
                                                 : ss_strerror(err->code)));
  if (err->field[0])
    json_object_set_new(p, "field", json_string(err->field));
  if (request_id != NULL)
    json_object_set_new(p, "request_id", json_string(request_id));
  return p;
}

char *
svc_json_dump(const json_t *j, int pretty)
{
  size_t flags = JSON_REAL_PRECISION(17) |
                 (pretty ? JSON_INDENT(2) : JSON_COMPACT);
  return json_dumps(j, flags);
}
