/* report_extra.c - where the report sections of the topics beyond
 * overlap and boundary are called from.  Each topic adds one call.
 * SPDX-License-Identifier: MIT */
#include "report_json.h"
#include "report_losses.h"
#include "lesions.h"

void
svc_report_extra_class(json_t *cls, json_t *undef, const ss_report *r, int i,
                       const ss_plan *plan)
{
  svc_report_losses_class(cls, undef, r, i, plan);
  svc_report_lesions_class(cls, undef, r, i, plan);
}

void
svc_report_extra_summary(json_t *sum, const ss_report *r, const ss_plan *plan)
{
  svc_report_losses_summary(sum, r, plan);
  svc_report_lesions_summary(sum, r, plan);
}

void
svc_report_extra_root(json_t *root, const ss_report *r, const ss_plan *plan)
{
  svc_report_losses_root(root, r, plan);
  svc_report_lesions_root(root, r, plan);
}
