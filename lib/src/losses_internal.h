/* losses_internal.h - shared between losses.c, losses_ssim.c and
 * losses_dist.c only.  SPDX-License-Identifier: MIT */
#ifndef SS_LOSSES_INTERNAL_H
#define SS_LOSSES_INTERNAL_H

#include "internal.h"

#define SS__EPS 1e-7          /* log clamp, DESIGN.md section 3 */
#define SS__PROB_TOL 1e-3     /* |sum_c p_c - 1|, and p_c <= 1 + tol */

/* Per-class (item) slots of a block's floating accumulators ... */
enum { SS__A_P = 0, SS__A_P2, SS__A_TP, SS__A_BCE, SS__A_BRIER, SS__A_ECE };
/* ... and of its integer ones (ECE: E counts, then E positives). */
/* (TOUCH: voxels a label-map prediction's item was updated at; the others
 * add a known constant to its BCE.) */
enum { SS__Q_G = 0, SS__Q_HTP, SS__Q_HP, SS__Q_TOUCH, SS__Q_ECEN };

typedef struct {
  int cek, fok, fdk, thr, dist, item, dstride, nd;  /* doubles */
  int nk, nthr, nvox, nband, qitem, qstride, nq;    /* int64 */
} ss__lacc;

/* Everything the loss kernels know about one scoring call. */
typedef struct {
  int64_t nx, ny, nz, nvox;
  ss_pred_kind kind;
  bool hard, logits;
  const float *data;           /* float channel data, channel-major */
  int C;                       /* data channels (hard: K) */
  int K;                       /* loss channels; C == 1 gives K == 2 */
  size_t sstride;              /* per-thread scratch row, whole cache lines */
  int64_t *ch_label;           /* label value of each channel */
  const void *pidx;            /* hard: prediction label indices */
  int pw;
  int16_t *plut;               /* prediction label index -> channel */
  const void *ridx;
  int rw;
  int16_t *rlut;               /* reference label index -> channel, -1 */
  double threshold;
  /* Scored items (report classes): member channels. */
  int S;
  int *moff, *mem;
  uint8_t *member;             /* S x K */
  int *ioff, *ilist;           /* items containing each channel (CSR) */
  /* What to compute. */
  uint32_t want;
  bool need_focal, need_fdk, need_thr, need_topk, need_p2, need_bce,
      need_prob, need_dist, need_hard;
  double gamma_f, gamma_df, thr_t, topk_k;
  /* dpce / boundary_aware in the fused pass (losses_dist.c computes
   * DSELF first): distance to another reference class, its maximum over
   * the scored voxels, the band width. */
  const double *dself;
  double dmax, band_mm;
  /* Hard prediction channel per voxel (argmax / threshold), filled by the
   * fused pass when need_hard, for the lesion and Hausdorff masks. */
  int16_t *hardch;
  /* Soft sums per item from the fused pass (sum p, TP, sum g). */
  double *item_p, *item_tp, *item_g;
  int B, E;
  int nt;
  ss__lacc acc;
  int64_t nscored;             /* voxels not ignored */
} ss__lctx;

/* Channel of the reference at voxel I, or -1 for an ignored voxel. */
static inline int
ss__lref(const ss__lctx *c, int64_t i)
{
  unsigned k = c->rw == 1 ? ((const uint8_t *)c->ridx)[i]
                          : ((const uint16_t *)c->ridx)[i];
  return c->rlut[k];
}

/* Probabilities of every channel at voxel I into PV (K doubles); input
 * already validated by the fused pass.  Defined in losses.c. */
void ss__lprobs(const ss__lctx *c, int64_t i, double *pv);

/* Probability of scored item S at voxel I: a direct read for one channel
 * of probability data, else all channels through ss__lprobs (PV has K
 * doubles).  The same value as the fused pass computes. */
static inline double
ss__litem(const ss__lctx *c, int s, int64_t i, double *pv)
{
  if (!c->hard && !c->logits && c->moff[s + 1] - c->moff[s] == 1) {
    int ch = c->mem[c->moff[s]];
    if (c->C == 1) {
      double v = c->data[i];
      return ch == 1 ? v : 1.0 - v;
    }
    return c->data[(int64_t)ch * c->nvox + i];
  }
  ss__lprobs(c, i, pv);
  double ps = 0.0;
  for (int m = c->moff[s]; m < c->moff[s + 1]; m++)
    ps += pv[c->mem[m]];
  return ps;
}

/* SSIM of every item (losses_ssim.c); SCRATCH has nt x K doubles. */
SS_NODISCARD ss_status ss__losses_ssim(const ss__lctx *c, double sigma,
                                       double *scratch, double *out,
                                       ss_error *err);

/* DSELF for dpce and boundary_aware (losses_dist.c): for every scored
 * voxel the distance in mm to the nearest voxel of another reference
 * class (HUGE_VAL when there is none); *DMAX its largest finite value.
 * *OUT is a new nvox array. */
SS_NODISCARD ss_status ss__losses_selfdist(const ss__lctx *c,
                                           const ss_volume *ref,
                                           double **out, double *dmax,
                                           ss_error *err);

/* Distance- and lesion-based losses (losses_dist.c): dpce,
 * boundary_aware, boundary_kervadec, hausdorff_dt, lesion_compound. */
SS_NODISCARD ss_status ss__losses_distance(const ss__lctx *c,
                                           const ss_volume *pred,
                                           const ss_volume *ref,
                                           const ss_plan *plan,
                                           ss_report *r, double *scratch,
                                           ss_error *err);

/* Case value of a per-class loss: the mean over the classes that have a
 * defined value, undefined (with the last reason) when none has. */
void ss__losses_case_mean(ss_report *r, ss_loss_id id);

#endif /* SS_LOSSES_INTERNAL_H */
