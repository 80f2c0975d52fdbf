/* score.h - internals shared by the scoring pipeline (score.c) and its
 * kernels (confusion.c).  SPDX-License-Identifier: MIT */
#ifndef SS_SCORE_H
#define SS_SCORE_H

#include "internal.h"

/* Joint histograms up to this many cells (pred labels x ref labels);
 * beyond it, counts take one pass per class. */
#define SS_JOINT_MAX_CELLS ((size_t)1 << 18)

/* Joint histogram H[p * kr + r] over all voxels (confusion.c); returns
 * SS_ECLASSES, without setting ERR, when it would be too large. */
ss_status ss__joint_histogram(const ss_volume *pred, const ss_volume *ref,
                              int threads, int64_t **out, ss_error *err);

/* Counts of one class from the joint histogram: PM/RM are membership
 * tables over the pred/ref label indices; reference index IGNORE_R (or -1)
 * is left out of everything. */
void ss__counts_from_joint(const int64_t *h, int kp, int kr,
                           const uint8_t *pm, const uint8_t *rm, int ignore_r,
                           ss_confusion *c, int64_t *pred_voxels,
                           int64_t *ref_voxels);

/* The same counts by a pass over the voxels. */
ss_status ss__counts_by_pass(const ss_volume *pred, const ss_volume *ref,
                             const uint8_t *pm, const uint8_t *rm,
                             int ignore_r, int threads, ss_confusion *c,
                             int64_t *pred_voxels, int64_t *ref_voxels);

#endif
