/* overlap.c - overlap metrics from exact confusion counts.  Formulas,
 * citations and empty-mask rules: docs/metrics.md.  SPDX-License-Identifier: MIT */
#include "internal.h"

static ss_metric
def(double v)
{
  return (ss_metric){ v, SS_DEFINED };
}

static ss_metric
undef(ss_undef why)
{
  return (ss_metric){ 0.0, why };
}

/* The reason when both, or one, of the masks is empty. */
static ss_undef
empty_why(const ss_confusion *c)
{
  const int64_t p = c->tp + c->fp, g = c->tp + c->fn;
  if (p == 0 && g == 0)
    return SS_BOTH_EMPTY;
  return p == 0 ? SS_PRED_EMPTY : SS_REF_EMPTY;
}

/* Dice (Dice 1945; Sorensen 1948): 2TP / (2TP + FP + FN). */
ss_metric
ss_dice(const ss_confusion *c)
{
  const int64_t d = 2 * c->tp + c->fp + c->fn;
  return d == 0 ? undef(SS_BOTH_EMPTY) : def(2.0 * (double)c->tp / (double)d);
}

/* Jaccard (Jaccard 1912): TP / (TP + FP + FN). */
ss_metric
ss_jaccard(const ss_confusion *c)
{
  const int64_t d = c->tp + c->fp + c->fn;
  return d == 0 ? undef(SS_BOTH_EMPTY) : def((double)c->tp / (double)d);
}

/* Precision (positive predictive value): TP / (TP + FP). */
ss_metric
ss_precision(const ss_confusion *c)
{
  const int64_t d = c->tp + c->fp;
  return d == 0 ? undef(empty_why(c)) : def((double)c->tp / (double)d);
}

/* Recall (sensitivity): TP / (TP + FN). */
ss_metric
ss_recall(const ss_confusion *c)
{
  const int64_t d = c->tp + c->fn;
  return d == 0 ? undef(empty_why(c)) : def((double)c->tp / (double)d);
}

/* Specificity: TN / (TN + FP); undefined when no voxel is outside the
 * reference class. */
ss_metric
ss_specificity(const ss_confusion *c)
{
  const int64_t d = c->tn + c->fp;
  return d == 0 ? undef(SS_ZERO_DENOMINATOR)
                : def((double)c->tn / (double)d);
}

/* F-beta (van Rijsbergen 1979) in count form:
 * (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP); equal to the precision /
 * recall form wherever that is defined, and 0 when one mask is empty. */
ss_metric
ss_fbeta(const ss_confusion *c, double beta)
{
  const double b2 = beta * beta;
  const double num = (1.0 + b2) * (double)c->tp;
  const double den = num + b2 * (double)c->fn + (double)c->fp;
  if (c->tp + c->fp + c->fn == 0)
    return undef(SS_BOTH_EMPTY);
  return def(num / den);
}

/* Volumetric overlap error: 1 - Jaccard. */
ss_metric
ss_voe(const ss_confusion *c)
{
  ss_metric j = ss_jaccard(c);
  return j.why == SS_DEFINED ? def(1.0 - j.value) : j;
}

/* Relative volume difference: (|P| - |G|) / |G|. */
ss_metric
ss_rvd(const ss_confusion *c)
{
  const int64_t p = c->tp + c->fp, g = c->tp + c->fn;
  return g == 0 ? undef(empty_why(c))
                : def((double)(p - g) / (double)g);
}

/* Volume similarity as ITK's LabelOverlapMeasures defines it (signed):
 * 2 (|P| - |G|) / (|P| + |G|). */
ss_metric
ss_volume_similarity(const ss_confusion *c)
{
  const int64_t p = c->tp + c->fp, g = c->tp + c->fn;
  return p + g == 0 ? undef(SS_BOTH_EMPTY)
                    : def(2.0 * (double)(p - g) / (double)(p + g));
}
