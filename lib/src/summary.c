/* summary.c - summaries over classes: nulls skipped but counted.
 * SPDX-License-Identifier: MIT */
#include "internal.h"

ss_summary_value
ss_summarize(const ss_metric *vals, int n, bool is_distance, bool has_worst,
             double worst)
{
  ss_summary_value s = { { 0.0, SS_DEFINED }, 0, 0 };
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    const ss_metric *m = &vals[i];
    if (m->why == SS_DEFINED) {
      sum += m->value;
      s.n_valid++;
    } else if (is_distance && has_worst &&
               (m->why == SS_PRED_EMPTY || m->why == SS_REF_EMPTY)) {
      sum += worst;
      s.n_valid++;
    } else {
      s.n_undefined++;
    }
  }
  if (s.n_valid == 0)
    s.mean = (ss_metric){ 0.0, SS_NO_VALID_VALUES };
  else
    s.mean.value = sum / s.n_valid;
  return s;
}
