/* h_openapi.c - GET /v1/openapi.yaml: the contract in api/openapi.yaml,
 * embedded at build time (the Makefile generates openapi_yaml.c from it).
 * SPDX-License-Identifier: MIT */
#include "svc.h"

extern const unsigned char svc_openapi_yaml[];
extern const size_t svc_openapi_yaml_len;

enum MHD_Result
h_openapi(svc_conn *c)
{
  return svc_reply_text(c, MHD_HTTP_OK, "application/yaml; charset=utf-8",
                        (const char *)svc_openapi_yaml, svc_openapi_yaml_len,
                        false);
}
