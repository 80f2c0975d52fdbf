/* aggregate.h - dataset summaries from per-case reports (aggregate.c),
 * shared by `segscore evaluate` and a later shard merge.  The summary is a
 * pure function of the set of (case name, case report) pairs: cases are
 * taken in byte order of their names whatever order they were added in,
 * and the values are read from the report JSON, whose reals round-trip
 * exactly (17 significant digits).  So summaries recomputed from written
 * evaluate outputs are bit-identical to the original.
 * SPDX-License-Identifier: MIT */
#ifndef SVC_AGGREGATE_H
#define SVC_AGGREGATE_H

#include <stdio.h>

#include "score.h"

typedef struct svc_agg svc_agg;

/* A new, empty aggregate (NULL when out of memory). */
svc_agg *svc_agg_new(void);
void svc_agg_free(svc_agg *a);

/* Add one case: NAME and its report object (svc_score's output, or
 * cases[i].report of an evaluate output).  The values are copied; REPORT
 * is borrowed.  Returns 0, or -1 when out of memory. */
int svc_agg_add(svc_agg *a, const char *name, const json_t *report);

/* The summary object: per class and metric mean, median, std
 * (population), min, max, n_valid, n_undefined, n_substituted, n_absent,
 * and the foreground mean of each metric over the non-background class
 * means.  With HAS_WORST, distance metrics undefined because one side is
 * empty count as WORST (n_substituted).  NULL when out of memory. */
json_t *svc_agg_summary(const svc_agg *a, bool has_worst, double worst);

/* One CSV row per case and class (cases in name order): case, class,
 * status, then every metric path; empty cells for undefined values.
 * Returns 0, or -1 on a write error. */
int svc_agg_csv(const svc_agg *a, FILE *f);

#endif
