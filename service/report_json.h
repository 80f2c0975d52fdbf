/* report_json.h - JSON helpers shared by the report writers of each topic.
 * SPDX-License-Identifier: MIT */
#ifndef SVC_REPORT_JSON_H
#define SVC_REPORT_JSON_H

#include <string.h>

#include "score.h"

/* The shortest decimal that reads back as V ("1", "0.5", "2.5"). */
void svc_json_number_key(double v, char *buf, size_t size);

/* A finite real, or null. */
json_t *svc_json_real(double v);

/* OBJ[KEY] = the value, or null with UNDEF[PATH or KEY] = the reason. */
void svc_json_set_metric(json_t *obj, const char *key, ss_metric m,
                         json_t *undef, const char *path);

json_t *svc_report_timing_json(const ss_timing *t);

/* Hooks through which other topics (losses, trade-offs, lesions, raters)
 * add their sections (report_extra.c). */
void svc_report_extra_class(json_t *cls, json_t *undef, const ss_report *r,
                            int i, const ss_plan *plan);
void svc_report_extra_summary(json_t *sum, const ss_report *r,
                              const ss_plan *plan);
void svc_report_extra_root(json_t *root, const ss_report *r,
                           const ss_plan *plan);

#endif
