/* report_losses.h - JSON of the losses and trade-offs: report sections
 * (report_losses.c) and the catalog (catalog_json.c), shared by the CLI and
 * the daemon.  SPDX-License-Identifier: MIT */
#ifndef SVC_REPORT_LOSSES_H
#define SVC_REPORT_LOSSES_H

#include "report_json.h"

/* classes[i].losses, classes[i].loss_scores, classes[i].tradeoffs. */
void svc_report_losses_class(json_t *cls, json_t *undef, const ss_report *r,
                             int i, const ss_plan *plan);
/* summary.losses, summary.loss_scores, summary.losses_undefined. */
void svc_report_losses_summary(json_t *sum, const ss_report *r,
                               const ss_plan *plan);
/* conventions.losses (hard or soft, eps, weights, parameters, bins). */
void svc_report_losses_root(json_t *root, const ss_report *r,
                            const ss_plan *plan);

/* The catalog's "losses" list (one object per loss, catalog order) and
 * "tradeoffs" object, from ss_loss_catalog. */
json_t *svc_catalog_losses_json(void);
json_t *svc_catalog_tradeoffs_json(void);
/* The whole catalog {"version", "metrics", "parameters", "losses",
 * "tradeoffs"}: GET /v1/catalog and `segscore catalog`. */
json_t *svc_catalog_json(void);

#endif
