/* lesions.h - service side of issue 6: lesion options and report sections
 * (options_lesions.c, report_lesions.c), several references (raters.c)
 * and dataset evaluation (evaluate.c, aggregate.c).
 * SPDX-License-Identifier: MIT */
#ifndef SVC_LESIONS_H
#define SVC_LESIONS_H

#include "options.h"
#include "report_json.h"

/* The "lesions" option object (options_lesions.c). */
extern const svc_option svc_lesion_options[1];

/* classes[i].lesions, summary.lesions and conventions.lesions
 * (report_lesions.c); each does nothing unless lesions were scored. */
void svc_report_lesions_class(json_t *cls, json_t *undef, const ss_report *r,
                              int i, const ss_plan *plan);
void svc_report_lesions_summary(json_t *sum, const ss_report *r,
                                const ss_plan *plan);
void svc_report_lesions_root(json_t *root, const ss_report *r,
                             const ss_plan *plan);

/* Score against several references (raters.c): decodes IN's references,
 * builds the majority-vote consensus and fills *REPORT (the consensus
 * report plus "consensus", "raters" and "inter_rater").  PRED is
 * borrowed; PLAN may gain an explicit label list.  Returns 0, or -1 with
 * ERR set. */
int svc_score_multi(const svc_score_input *in, ss_volume *pred, ss_plan *plan,
                    const ss_limits *lim, double decode_ms, json_t **report,
                    ss_error *err);

#endif
