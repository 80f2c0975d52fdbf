/* losses.c - the survey's losses and the precision/recall trade-offs.
 *
 * One fused pass over the prediction computes, per fixed block of voxels
 * (BLOCK voxels, so the partition does not depend on the thread count),
 * every sum the CE family, the region losses and the trade-offs need:
 * per channel the CE and focal sums, per scored class the soft counts
 * (sum p, sum p^2, soft TP), BCE, Brier and calibration sums, and exact
 * integer histograms for the precision-recall curve and TopK.  Block sums
 * are combined serially in block order, integer histograms per thread, so
 * results are identical for any thread count.  Distance-based losses are
 * in losses_dist.c, SSIM in losses_ssim.c.  Definitions: docs/losses.md.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "losses_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK 65536        /* voxels per accumulation block */
#define TOPK_BINS 32768    /* float bit pattern >> 16 of a value >= 0 */

enum { BAD_NONE = 0, BAD_NAN, BAD_INF, BAD_NEG, BAD_GT1, BAD_SUM };

static const char *const bad_what[] = {
  "", "is NaN", "is infinite", "is negative", "is greater than 1",
  "channels do not sum to 1 (tolerance 1e-3)"
};

typedef struct {
  int64_t i;               /* first bad voxel of the block, -1 = none */
  int channel;
  int what;
} bad_voxel;

/*---- Per-voxel probabilities -------------------------------------------*/

/* Fill PV[0..K-1] with the probabilities of voxel I.  Returns BAD_* and
 * sets *BADC for invalid input (probabilities and logits only). */
static inline int
load_probs(const ss__lctx *c, int64_t i, double *restrict pv, int *badc)
{
  const int64_t n = c->nvox;
  if (c->hard) {
    unsigned k = c->pw == 1 ? ((const uint8_t *)c->pidx)[i]
                            : ((const uint16_t *)c->pidx)[i];
    int a = c->plut[k];
    for (int ch = 0; ch < c->K; ch++)
      pv[ch] = 0.0;
    pv[a] = 1.0;
    return BAD_NONE;
  }
  if (c->C == 1) {
    float v = c->data[i];
    *badc = 0;
    if (isnan(v))
      return BAD_NAN;
    if (isinf(v))
      return BAD_INF;
    if (c->logits) {
      /* sigmoid, each side from its own exponential (no cancellation) */
      pv[1] = 1.0 / (1.0 + exp(-(double)v));
      pv[0] = 1.0 / (1.0 + exp((double)v));
      return BAD_NONE;
    }
    if (v < 0.0f)
      return BAD_NEG;
    if (v > 1.0f)
      return BAD_GT1;
    pv[1] = v;
    pv[0] = 1.0 - (double)v;
    return BAD_NONE;
  }
  if (c->logits) {
    double m = -HUGE_VAL;
    for (int ch = 0; ch < c->C; ch++) {
      float v = c->data[(int64_t)ch * n + i];
      if (!isfinite(v)) {
        *badc = ch;
        return isnan(v) ? BAD_NAN : BAD_INF;
      }
      pv[ch] = v;
      if (v > m)
        m = v;
    }
    double s = 0.0;
    for (int ch = 0; ch < c->C; ch++) {
      pv[ch] = exp(pv[ch] - m);
      s += pv[ch];
    }
    double inv = 1.0 / s;
    for (int ch = 0; ch < c->C; ch++)
      pv[ch] *= inv;
    return BAD_NONE;
  }
  double s = 0.0;
  for (int ch = 0; ch < c->C; ch++) {
    float v = c->data[(int64_t)ch * n + i];
    if (!(v >= 0.0f && v <= 1.0f + (float)SS__PROB_TOL)) {
      *badc = ch;
      return isnan(v) ? BAD_NAN : isinf(v) ? BAD_INF : v < 0 ? BAD_NEG
                                                              : BAD_GT1;
    }
    pv[ch] = v;
    s += v;
  }
  if (fabs(s - 1.0) > SS__PROB_TOL) {
    *badc = -1;
    return BAD_SUM;
  }
  return BAD_NONE;
}

#define ref_channel ss__lref

void
ss__lprobs(const ss__lctx *c, int64_t i, double *pv)
{
  int badc;
  (void)load_probs(c, i, pv, &badc);
}

static inline double
clampp(double p)
{
  return p < SS__EPS ? SS__EPS : p > 1.0 - SS__EPS ? 1.0 - SS__EPS : p;
}

/* In-place natural logarithm of N values (N a multiple of 4).  On x86-64
 * with glibc and AVX2 the values go four at a time through libmvec's
 * _ZGVdN4v_log (glibc's vector log, a few ulp, like libm's to 1e-15
 * relative); elsewhere through log().  The choice depends on the machine
 * only, and every value is taken the same way wherever it sits in the
 * buffer, so sums stay identical for any thread count. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && \
    !defined(__clang__)
#include <immintrin.h>
__m256d _ZGVdN4v_log(__m256d x);

__attribute__((target("avx2"))) static void
vlog_avx2(double *x, size_t n)
{
  for (size_t i = 0; i < n; i += 4)
    _mm256_storeu_pd(x + i, _ZGVdN4v_log(_mm256_loadu_pd(x + i)));
}

static void
vlog(double *x, size_t n)
{
  if (__builtin_cpu_supports("avx2")) {   /* the same answer every call */
    vlog_avx2(x, n);
    return;
  }
  for (size_t i = 0; i < n; i++)
    x[i] = log(x[i]);
}
#else
static void
vlog(double *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = log(x[i]);
}
#endif

/* (1 - p)^gamma with the common integer exponents done by multiplication
 * (bit-identical to the reference's pow for 0, 1, 2 up to rounding of one
 * product; the test reference uses the same rule). */
static inline double
focal_factor(double q, double gamma)
{
  if (gamma == 2.0)
    return q * q;
  if (gamma == 1.0)
    return q;
  if (gamma == 0.0)
    return 1.0;
  return pow(q, gamma);
}

static inline unsigned
topk_key(double p)
{
  float f = (float)p;
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u >> 16;           /* p >= 0: monotone in p */
}

static inline int
argmax_of(const ss__lctx *c, const double *pv)
{
  if (c->C == 1 && !c->hard)
    return pv[1] >= c->threshold ? 1 : 0;
  int a = 0;
  for (int ch = 1; ch < c->K; ch++)
    if (pv[ch] > pv[a])
      a = ch;
  return a;
}

/*---- The fused pass ----------------------------------------------------*/

/* Distance-weighted CE terms of voxel I: dpce weight 1 + (1 - d/dmax),
 * and the boundary_aware split at the band d <= width. */
static inline void
add_dist_terms(const ss__lctx *c, const ss__lacc *L, int64_t i, double ce,
               double *restrict d, int64_t *restrict q)
{
  const double di = c->dself[i];
  d[L->dist] += (di == HUGE_VAL || c->dmax == 0.0 ? 1.0
                                                   : 2.0 - di / c->dmax) *
                ce;
  if (di <= c->band_mm) {
    d[L->dist + 1] += ce;
    q[L->nband]++;
  } else {
    d[L->dist + 2] += ce;
  }
}

static void
block_pass(const ss__lctx *c, int64_t b, double *restrict d,
           int64_t *restrict q, double *restrict pv, int64_t *restrict hpr,
           int64_t *restrict htk, double *restrict lbuf, bad_voxel *bad)
{
  const int K = c->K, S = c->S, E = c->E, B = c->B;
  size_t nl = 0;   /* BCE log arguments, [scored voxel][item] */
  const int64_t i0 = b * BLOCK;
  const int64_t i1 = i0 + BLOCK < c->nvox ? i0 + BLOCK : c->nvox;
  const ss__lacc *L = &c->acc;
  bad->i = -1;
  for (int64_t i = i0; i < i1; i++) {
    /* every voxel is validated, ignored ones too: bad input is an error
     * wherever it is */
    int badc = 0;
    int w = load_probs(c, i, pv, &badc);
    if (w != BAD_NONE) {
      bad->i = i;
      bad->channel = badc;
      bad->what = w;
      return;
    }
    int a = argmax_of(c, pv);
    if (c->need_hard)
      c->hardch[i] = (int16_t)a;   /* ignored voxels too (distance maps) */
    int t = ref_channel(c, i);
    if (t < 0)
      continue;
    q[L->nk + t]++;
    q[L->nvox]++;
    double pt = pv[t];
    double ptc = clampp(pt);
    double ce = -log(ptc);
    d[L->cek + t] += ce;
    if (c->need_focal)
      d[L->fok + t] += focal_factor(1.0 - ptc, c->gamma_f) * ce;
    if (c->need_fdk)
      d[L->fdk + t] += focal_factor(1.0 - ptc, c->gamma_df) * ce;
    if (c->need_thr && pt < c->thr_t) {
      d[L->thr] += ce;
      q[L->nthr]++;
    }
    if (c->need_topk)
      htk[topk_key(pt)]++;
    if (c->need_dist)
      add_dist_terms(c, L, i, ce, d, q);
    for (int s = 0; s < S; s++) {
      double ps;
      int gs, hs;
      if (c->moff[s + 1] - c->moff[s] == 1) {
        int ch = c->mem[c->moff[s]];
        ps = pv[ch];
        gs = t == ch;
        hs = a == ch;
      } else {
        ps = 0.0;
        for (int m = c->moff[s]; m < c->moff[s + 1]; m++)
          ps += pv[c->mem[m]];
        gs = c->member[(size_t)s * K + t];
        hs = c->member[(size_t)s * K + a];
      }
      double *ds = d + L->item + (size_t)s * L->dstride;
      int64_t *qs = q + L->qitem + (size_t)s * L->qstride;
      ds[SS__A_P] += ps;
      if (gs) {
        ds[SS__A_TP] += ps;
        qs[SS__Q_G]++;
        qs[SS__Q_HTP] += hs;
      }
      qs[SS__Q_HP] += hs;
      if (c->need_p2)
        ds[SS__A_P2] += ps * ps;
      if (c->need_bce)   /* logs taken in a batch after the block */
        lbuf[nl++] = clampp(gs ? ps : 1.0 - ps);
      if (c->need_prob) {
        double e = ps - gs;
        ds[SS__A_BRIER] += e * e;
        double x = ps < 0.0 ? 0.0 : ps > 1.0 ? 1.0 : ps;
        int hb = (int)(x * B);                /* exact: x float, B int */
        hpr[((size_t)s * 2 + (size_t)gs) * (size_t)(B + 1) + (size_t)hb]++;
        int eb = (int)(x * E);
        if (eb >= E)
          eb = E - 1;
        ds[SS__A_ECE + eb] += ps;
        qs[SS__Q_ECEN + eb]++;
        qs[SS__Q_ECEN + E + eb] += gs;
      }
    }
  }
  if (c->need_bce && nl > 0) {
    /* BCE: per item, the logs in voxel order, as inline sums would be */
    const size_t nreal = nl;
    while (nl % 4 != 0)
      lbuf[nl++] = 1.0;
    vlog(lbuf, nl);
    for (size_t j = 0; j < nreal; j += (size_t)S)
      for (int s = 0; s < S; s++)
        d[L->item + (size_t)s * L->dstride + SS__A_BCE] -= lbuf[j + (size_t)s];
  }
}

/* The fused pass for a label-map prediction (one-hot): p is 0 or 1, so
 * per voxel only the items holding the predicted or the reference channel
 * change; every other item adds -log(1 - eps) to its BCE, added from the
 * counts afterwards.  Same sums as block_pass, O(1) work per voxel. */
static void
block_pass_hard(const ss__lctx *c, int64_t b, double *restrict d,
                int64_t *restrict q, int64_t *restrict htk)
{
  const int K = c->K;
  const int64_t i0 = b * BLOCK;
  const int64_t i1 = i0 + BLOCK < c->nvox ? i0 + BLOCK : c->nvox;
  const ss__lacc *L = &c->acc;
  const double ce_ok = -log(clampp(1.0)), ce_bad = -log(clampp(0.0));
  const double ff_ok = focal_factor(1.0 - clampp(1.0), c->gamma_f);
  const double ff_bad = focal_factor(1.0 - clampp(0.0), c->gamma_f);
  const double fd_ok = focal_factor(1.0 - clampp(1.0), c->gamma_df);
  const double fd_bad = focal_factor(1.0 - clampp(0.0), c->gamma_df);
  for (int64_t i = i0; i < i1; i++) {
    unsigned k = c->pw == 1 ? ((const uint8_t *)c->pidx)[i]
                            : ((const uint16_t *)c->pidx)[i];
    int a = c->plut[k];
    if (c->need_hard)
      c->hardch[i] = (int16_t)a;
    int t = ref_channel(c, i);
    if (t < 0)
      continue;
    q[L->nk + t]++;
    q[L->nvox]++;
    bool ok = a == t;
    double pt = ok ? 1.0 : 0.0, ce = ok ? ce_ok : ce_bad;
    d[L->cek + t] += ce;
    if (c->need_focal)
      d[L->fok + t] += (ok ? ff_ok : ff_bad) * ce;
    if (c->need_fdk)
      d[L->fdk + t] += (ok ? fd_ok : fd_bad) * ce;
    if (c->need_thr && pt < c->thr_t) {
      d[L->thr] += ce;
      q[L->nthr]++;
    }
    if (c->need_topk)
      htk[topk_key(pt)]++;
    if (c->need_dist)
      add_dist_terms(c, L, i, ce, d, q);
    /* items holding t, then those holding a but not t */
    for (int pass = 0; pass < 2; pass++) {
      int ch = pass == 0 ? t : a;
      if (pass == 1 && ok)
        break;
      for (int j = c->ioff[ch]; j < c->ioff[ch + 1]; j++) {
        int s = c->ilist[j];
        int gs = c->member[(size_t)s * K + t];
        int hs = c->member[(size_t)s * K + a];
        if (pass == 1 && gs)
          continue;   /* already done in pass 0 */
        double ps = hs;
        double *ds = d + L->item + (size_t)s * L->dstride;
        int64_t *qs = q + L->qitem + (size_t)s * L->qstride;
        ds[SS__A_P] += ps;
        ds[SS__A_P2] += ps;
        if (gs) {
          ds[SS__A_TP] += ps;
          qs[SS__Q_G]++;
          qs[SS__Q_HTP] += hs;
        }
        qs[SS__Q_HP] += hs;
        qs[SS__Q_TOUCH]++;
        if (c->need_bce)
          ds[SS__A_BCE] -= log(clampp(gs ? ps : 1.0 - ps));
      }
    }
  }
}

/* TopK, second pass: voxels whose key is below the cut bin are all kept;
 * the cut bin's values are collected, sorted and the smallest taken. */
typedef struct {
  double *coll;
  int64_t ncoll;
} topk_coll;

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static ss_status
topk_pass(const ss__lctx *c, const int64_t *hist, int64_t nscored,
          double *pv_all, ss_metric *out, ss_error *err)
{
  double kpc = c->topk_k;
  int64_t m = (int64_t)floor((double)nscored * kpc / 100.0);
  if (m <= 0) {
    *out = (ss_metric){ 0.0, SS_ZERO_DENOMINATOR };
    return SS_OK;
  }
  unsigned cut = 0;
  int64_t below = 0;
  for (cut = 0; cut < TOPK_BINS; cut++) {
    if (below + hist[cut] >= m)
      break;
    below += hist[cut];
  }
  int64_t nb = (c->nvox + BLOCK - 1) / BLOCK;
  double *bsum = calloc((size_t)nb, sizeof *bsum);
  double *coll = malloc((size_t)(hist[cut] > 0 ? hist[cut] : 1) * sizeof *coll);
  if (bsum == NULL || coll == NULL) {
    free(bsum);
    free(coll);
    return ss__fail(err, SS_ENOMEM, "out of memory in topk");
  }
  int64_t ncoll = 0;
  const int K = c->K;
#pragma omp parallel num_threads(c->nt) if (c->nvox >= SS_PAR_MIN_VOXELS)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    double *pv = pv_all + (size_t)tid * K;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < nb; b++) {
      int64_t i0 = b * BLOCK;
      int64_t i1 = i0 + BLOCK < c->nvox ? i0 + BLOCK : c->nvox;
      double s = 0.0;
      for (int64_t i = i0; i < i1; i++) {
        int t = ref_channel(c, i);
        if (t < 0)
          continue;
        double pt;
        if (c->hard) {
          unsigned k = c->pw == 1 ? ((const uint8_t *)c->pidx)[i]
                                  : ((const uint16_t *)c->pidx)[i];
          pt = c->plut[k] == t ? 1.0 : 0.0;
        } else if (!c->logits && c->C > 1) {
          pt = c->data[(int64_t)t * c->nvox + i];   /* one channel read */
        } else {
          int badc;
          (void)load_probs(c, i, pv, &badc);   /* validated in pass 1 */
          pt = pv[t];
        }
        unsigned key = topk_key(pt);
        if (key < cut) {
          s -= log(clampp(pt));
        } else if (key == cut) {
          int64_t at;
#pragma omp atomic capture
          at = ncoll++;
          coll[at] = pt;
        }
      }
      bsum[b] = s;
    }
  }
  double total = 0.0;
  for (int64_t b = 0; b < nb; b++)
    total += bsum[b];
  qsort(coll, (size_t)ncoll, sizeof *coll, cmp_double);
  for (int64_t j = 0; j < m - below && j < ncoll; j++)
    total -= log(clampp(coll[j]));
  free(bsum);
  free(coll);
  *out = (ss_metric){ total / (double)m, SS_DEFINED };
  return SS_OK;
}

/*---- Setup -------------------------------------------------------------*/

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t
vol_label_count(const ss_volume *v)
{
  return v->nlabels;
}

static int
find_channel(const ss__lctx *c, int64_t label)
{
  for (int k = 0; k < c->K; k++)
    if (c->ch_label[k] == label)
      return k;
  return -1;
}

static ss_status
fail_label(ss_error *err, int64_t label, const ss__lctx *c, const char *who)
{
  return ss__fail(err, SS_ELABELS,
                  "%s label %lld has no channel in the %d-channel "
                  "prediction (channel c is label c)",
                  who, (long long)label, c->C);
}

/* Channels, reference and prediction lookup tables, scored items. */
static ss_status
setup(ss__lctx *c, const ss_volume *pred, const ss_volume *ref,
      const ss_plan *plan, const ss_report *r, ss_error *err)
{
  memset(c, 0, sizeof *c);
  c->nx = ref->info.nx;
  c->ny = ref->info.ny;
  c->nz = ref->info.nz;
  c->nvox = ref->nvox;
  if (ref->idx_width == 0 || ref->idx == NULL)
    return ss__fail(err, SS_ELABELS, "the reference must be a label map");
  if (pred->nvox != ref->nvox)
    return ss__fail(err, SS_ESHAPE, "prediction and reference grids differ");
  ss_pred_kind kind = plan->kind;
  if (kind == SS_KIND_AUTO)
    kind = pred->idx_width > 0 ? SS_KIND_LABELS : SS_KIND_PROBABILITIES;
  if (kind == SS_KIND_LABELS && pred->idx_width == 0)
    return ss__fail(err, SS_ELABELS,
                    "prediction_kind \"labels\" needs an integer label map");
  if (kind != SS_KIND_LABELS && pred->data == NULL)
    return ss__fail(err, SS_EPROB,
                    "prediction_kind \"%s\" needs float channel data",
                    kind == SS_KIND_LOGITS ? "logits" : "probabilities");
  c->kind = kind;
  c->hard = kind == SS_KIND_LABELS;
  c->logits = kind == SS_KIND_LOGITS;
  c->threshold = plan->threshold;
  c->nt = ss__threads(plan);

  bool ign = plan->has_ignore;
  if (c->hard) {
    /* One-hot over the union of both label tables and 0, ascending.  An
     * ignore value the prediction uses keeps its channel (only reference
     * voxels are ignored). */
    int np = pred->nlabels, nr = ref->nlabels, K = 0;
    c->ch_label = malloc((size_t)(np + nr + 1) * sizeof *c->ch_label);
    if (c->ch_label == NULL)
      return ss__fail(err, SS_ENOMEM, NULL);
    memcpy(c->ch_label, pred->labels, (size_t)np * sizeof *c->ch_label);
    memcpy(c->ch_label + np, ref->labels, (size_t)nr * sizeof *c->ch_label);
    c->ch_label[np + nr] = 0;
    qsort(c->ch_label, (size_t)np + (size_t)nr + 1, sizeof *c->ch_label, cmp_i64);
    for (int j = 0; j < np + nr + 1; j++)
      if (K == 0 || c->ch_label[K - 1] != c->ch_label[j])
        c->ch_label[K++] = c->ch_label[j];
    if (K > 32767)
      return ss__fail(err, SS_ECLASSES, "%d labels in the two maps", K);
    c->K = K;
    c->C = K;
  } else {
    int64_t C = pred->info.channels;
    if (C < 1 || C > 32767)
      return ss__fail(err, SS_ECLASSES, "prediction has %lld channels",
                      (long long)C);
    c->C = (int)C;
    c->K = C == 1 ? 2 : (int)C;
    c->data = pred->data;
    c->ch_label = malloc((size_t)c->K * sizeof *c->ch_label);
    if (c->ch_label == NULL)
      return ss__fail(err, SS_ENOMEM, NULL);
    for (int k = 0; k < c->K; k++)
      c->ch_label[k] = k;
  }
  c->rlut = malloc((size_t)(vol_label_count(ref) + 1) * sizeof *c->rlut);
  if (c->hard)
    c->plut = malloc((size_t)(pred->nlabels + 1) * sizeof *c->plut);
  if (c->rlut == NULL || (c->hard && c->plut == NULL))
    return ss__fail(err, SS_ENOMEM, NULL);
  c->ridx = ref->idx;
  c->rw = ref->idx_width;
  for (int j = 0; j < ref->nlabels; j++) {
    int64_t v = ref->labels[j];
    if (ign && v == plan->ignore_label) {
      c->rlut[j] = -1;
      continue;
    }
    int k = find_channel(c, v);
    if (k < 0)
      return fail_label(err, v, c, "reference");
    c->rlut[j] = (int16_t)k;
  }
  if (c->hard) {
    c->pidx = pred->idx;
    c->pw = pred->idx_width;
    for (int j = 0; j < pred->nlabels; j++)
      c->plut[j] = (int16_t)find_channel(c, pred->labels[j]);
  }

  /* Scored items: the report's classes (labels or regions). */
  int S = r->nclasses;
  c->S = S;
  int nmem = 0;
  for (int s = 0; s < S; s++) {
    const ss_class_report *cr = &r->classes[s];
    if (!cr->is_region) {
      nmem++;
      continue;
    }
    for (int g = 0; g < plan->nregions; g++)
      if (strcmp(plan->regions[g].name, cr->name) == 0)
        nmem += plan->regions[g].nlabels;
  }
  c->moff = malloc((size_t)(S + 1) * sizeof *c->moff);
  c->mem = malloc((size_t)(nmem + 1) * sizeof *c->mem);
  c->member = calloc((size_t)(S > 0 ? S : 1) * (size_t)c->K, 1);
  if (c->moff == NULL || c->mem == NULL || c->member == NULL)
    return ss__fail(err, SS_ENOMEM, NULL);
  int at = 0;
  for (int s = 0; s < S; s++) {
    const ss_class_report *cr = &r->classes[s];
    c->moff[s] = at;
    if (!cr->is_region) {
      int k = find_channel(c, cr->label);
      if (k < 0)
        return fail_label(err, cr->label, c, "class");
      c->mem[at++] = k;
      c->member[(size_t)s * c->K + k] = 1;
      continue;
    }
    for (int g = 0; g < plan->nregions; g++) {
      if (strcmp(plan->regions[g].name, cr->name) != 0)
        continue;
      for (int j = 0; j < plan->regions[g].nlabels; j++) {
        int k = find_channel(c, plan->regions[g].labels[j]);
        if (k < 0) {
          if (c->hard)
            continue; /* a label in neither volume: no voxel has it */
          return fail_label(err, plan->regions[g].labels[j], c, "region");
        }
        if (!c->member[(size_t)s * c->K + k]) {
          c->mem[at++] = k;
          c->member[(size_t)s * c->K + k] = 1;
        }
      }
    }
  }
  c->moff[S] = at;
  /* items holding each channel */
  c->ioff = calloc((size_t)c->K + 1, sizeof *c->ioff);
  c->ilist = malloc((size_t)(at + 1) * sizeof *c->ilist);
  if (c->ioff == NULL || c->ilist == NULL)
    return ss__fail(err, SS_ENOMEM, NULL);
  for (int m = 0; m < at; m++)
    c->ioff[c->mem[m] + 1]++;
  for (int k = 0; k < c->K; k++)
    c->ioff[k + 1] += c->ioff[k];
  int *fill = calloc((size_t)c->K + 1, sizeof *fill);
  if (fill == NULL)
    return ss__fail(err, SS_ENOMEM, NULL);
  for (int s = 0; s < S; s++)
    for (int m = c->moff[s]; m < c->moff[s + 1]; m++) {
      int k = c->mem[m];
      c->ilist[c->ioff[k] + fill[k]++] = s;
    }
  free(fill);
  return SS_OK;
}

static void
teardown(ss__lctx *c)
{
  free(c->ch_label);
  free(c->rlut);
  free(c->plut);
  free(c->moff);
  free(c->mem);
  free(c->member);
  free(c->ioff);
  free(c->ilist);
}

/*---- Results -----------------------------------------------------------*/

static inline ss_metric
def(double v)
{
  return (ss_metric){ v, SS_DEFINED };
}

static inline ss_metric
undef(ss_undef why)
{
  return (ss_metric){ 0.0, why };
}

/* Per-channel class weights for wce and focal_dice (docs/losses.md#wce). */
static ss_status
class_weights(const ss__lctx *c, const ss_plan *plan, const int64_t *nk,
              int64_t n, double *w, ss_error *err)
{
  const ss_loss_plan *lp = &plan->loss;
  int K = c->K;
  switch (lp->weighting) {
  case SS_WEIGHTS_UNIFORM:
    for (int k = 0; k < K; k++)
      w[k] = 1.0;
    return SS_OK;
  case SS_WEIGHTS_LIST:
    if (lp->nweights != c->C && !(c->C == 1 && lp->nweights == 2)) {
      ss_status st = ss__fail(err, SS_ERANGE,
                              "class_weights has %d values but the "
                              "prediction has %d channels",
                              lp->nweights, c->C == 1 ? 2 : c->C);
      if (err != NULL)
        snprintf(err->field, sizeof err->field, "class_weights");
      return st;
    }
    for (int k = 0; k < K; k++)
      w[k] = lp->weights[k];
    return SS_OK;
  case SS_WEIGHTS_INVERSE_FREQUENCY: {
    /* w_k = N / (K_present n_k): the "balanced" weights; mean 1 over
     * voxels.  Absent classes get 0 (they have no voxel to weight). */
    int kp = 0;
    for (int k = 0; k < K; k++)
      kp += nk[k] > 0;
    for (int k = 0; k < K; k++)
      w[k] = nk[k] > 0 ? (double)n / ((double)kp * (double)nk[k]) : 0.0;
    return SS_OK;
  }
  case SS_WEIGHTS_MEDIAN_FREQUENCY: {
    /* Eigen and Fergus 2015: w_k = median_j(f_j) / f_k over the classes
     * present, f = n_k / N; an even count takes the mean of the middle
     * two. */
    double *f = malloc((size_t)K * sizeof *f);
    if (f == NULL)
      return ss__fail(err, SS_ENOMEM, NULL);
    int kp = 0;
    for (int k = 0; k < K; k++)
      if (nk[k] > 0)
        f[kp++] = (double)nk[k] / (double)n;
    qsort(f, (size_t)kp, sizeof *f, cmp_double);
    double med = kp == 0 ? 0.0
                 : kp % 2 ? f[kp / 2]
                          : 0.5 * (f[kp / 2 - 1] + f[kp / 2]);
    free(f);
    for (int k = 0; k < K; k++)
      w[k] = nk[k] > 0 ? med / ((double)nk[k] / (double)n) : 0.0;
    return SS_OK;
  }
  }
  return ss__fail(err, SS_EINTERNAL, "unknown class weighting");
}

/* Per-item region values from the soft counts. */
typedef struct {
  double P, P2, TP, G, BCE;
  int64_t g;
} item_sums;

static ss_metric
ratio(double num, double den, ss_undef why)
{
  if (!(den > 0.0))
    return undef(why);
  return def(num / den);
}

static void
set_class_loss(ss_class_report *cr, ss_loss_id id, ss_metric loss,
               bool score)
{
  cr->losses.have |= 1u << id;
  cr->losses.loss[id] = loss;
  if (score)
    cr->losses.score[id] = loss.why == SS_DEFINED ? def(1.0 - loss.value)
                                                  : loss;
}

static void
set_case_loss(ss_case_losses *cl, ss_loss_id id, ss_metric loss)
{
  const ss_loss_info *cat = ss_loss_catalog(NULL);
  cl->have |= 1u << id;
  cl->loss[id] = loss;
  if (cat[id].has_score)
    cl->score[id] = loss.why == SS_DEFINED ? def(1.0 - loss.value) : loss;
}

/* Case value of a per-class loss: mean over the classes that have one
 * (undefined ones skipped); undefined when none has. */
void
ss__losses_case_mean(ss_report *r, ss_loss_id id)
{
  double s = 0.0;
  int n = 0;
  ss_undef why = SS_ZERO_DENOMINATOR;
  for (int i = 0; i < r->nclasses; i++) {
    ss_metric m = r->classes[i].losses.loss[id];
    if (!(r->classes[i].losses.have >> id & 1u))
      continue;
    if (m.why == SS_DEFINED) {
      s += m.value;
      n++;
    } else {
      why = m.why;
    }
  }
  set_case_loss(&r->losses, id, n > 0 ? def(s / n) : undef(why));
}

static ss_undef
empty_why(double G, double P)
{
  return G == 0.0 && P == 0.0 ? SS_BOTH_EMPTY
         : G == 0.0           ? SS_REF_EMPTY
                              : SS_PRED_EMPTY;
}

static void
region_losses(const ss__lctx *c, const ss_plan *plan, ss_report *r,
              const item_sums *it, const double *ssim, const double *wcls)
{
  const ss_loss_plan *lp = &plan->loss;
  const double snr = plan->smooth_nr, sdr = plan->smooth_dr;
  const double N = (double)c->nscored;
  uint32_t want = c->want;
  for (int s = 0; s < c->S; s++) {
    ss_class_report *cr = &r->classes[s];
    const item_sums *x = &it[s];
    double FP = x->P - x->TP, FN = x->G - x->TP;
    ss_undef ew = empty_why(x->G, x->P);
    ss_metric dice = ratio(2.0 * x->TP + snr, x->P + x->G + sdr, ew);
    ss_metric dl = dice.why == SS_DEFINED ? def(1.0 - dice.value) : dice;
    ss_metric jac = ratio(x->TP + snr, x->P + x->G - x->TP + sdr, ew);
    ss_metric jl = jac.why == SS_DEFINED ? def(1.0 - jac.value) : jac;
    if (want >> SS_LOSS_DICE & 1u)
      set_class_loss(cr, SS_LOSS_DICE, dl, true);
    if (want >> SS_LOSS_DICE_SQUARED & 1u) {
      ss_metric d2 = ratio(2.0 * x->TP + snr, x->P2 + x->G + sdr, ew);
      set_class_loss(cr, SS_LOSS_DICE_SQUARED,
                     d2.why == SS_DEFINED ? def(1.0 - d2.value) : d2, true);
    }
    if (want >> SS_LOSS_JACCARD & 1u)
      set_class_loss(cr, SS_LOSS_JACCARD, jl, true);
    if (want >> SS_LOSS_TVERSKY & 1u) {
      double a = lp->params[SS_LOSS_TVERSKY][0];
      double b = lp->params[SS_LOSS_TVERSKY][1];
      ss_metric ti = ratio(x->TP + snr, x->TP + a * FP + b * FN + sdr, ew);
      set_class_loss(cr, SS_LOSS_TVERSKY,
                     ti.why == SS_DEFINED ? def(1.0 - ti.value) : ti, true);
    }
    if (want >> SS_LOSS_FOCAL_TVERSKY & 1u) {
      double a = lp->params[SS_LOSS_FOCAL_TVERSKY][0];
      double b = lp->params[SS_LOSS_FOCAL_TVERSKY][1];
      double g = lp->params[SS_LOSS_FOCAL_TVERSKY][2];
      ss_metric ti = ratio(x->TP + snr, x->TP + a * FP + b * FN + sdr, ew);
      double base = 1.0 - ti.value;
      if (base < 0.0)
        base = 0.0;   /* TI can exceed 1 by rounding only */
      set_class_loss(cr, SS_LOSS_FOCAL_TVERSKY,
                     ti.why == SS_DEFINED ? def(pow(base, 1.0 / g)) : ti,
                     true);
    }
    if (want >> SS_LOSS_FOCAL_DICE & 1u) {
      double be = lp->params[SS_LOSS_FOCAL_DICE][0];
      double dv = dice.value < 0.0 ? 0.0 : dice.value;
      set_class_loss(cr, SS_LOSS_FOCAL_DICE,
                     dice.why == SS_DEFINED ? def(1.0 - pow(dv, 1.0 / be))
                                            : dice,
                     true);
    }
    if (want >> SS_LOSS_ASYM & 1u) {
      double be = lp->params[SS_LOSS_ASYM][0];
      double w = be * be / (1.0 + be * be);
      ss_metric f = ratio(x->TP + snr, x->TP + w * FN + (1.0 - w) * FP + sdr,
                          ew);
      set_class_loss(cr, SS_LOSS_ASYM,
                     f.why == SS_DEFINED ? def(1.0 - f.value) : f, true);
    }
    if (want >> SS_LOSS_DICE_BCE & 1u) {
      double g = lp->params[SS_LOSS_DICE_BCE][0];
      ss_metric v = N > 0 && dl.why == SS_DEFINED
                        ? def(g * x->BCE / N + (1.0 - g) * dl.value)
                        : undef(N > 0 ? dl.why : SS_ZERO_DENOMINATOR);
      set_class_loss(cr, SS_LOSS_DICE_BCE, v, false);
    }
    if ((want >> SS_LOSS_HYBRID & 1u) && ssim != NULL) {
      const double *pw = lp->params[SS_LOSS_HYBRID];
      ss_metric v = N > 0 && jl.why == SS_DEFINED
                        ? def(pw[0] * x->BCE / N + pw[1] * (1.0 - ssim[s]) +
                              pw[2] * jl.value)
                        : undef(N > 0 ? jl.why : SS_ZERO_DENOMINATOR);
      set_class_loss(cr, SS_LOSS_HYBRID, v, false);
    }
  }
  for (int id = 0; id < SS_LOSS_COUNT; id++) {
    if (!(want >> id & 1u) || !ss_loss_catalog(NULL)[id].per_class)
      continue;
    if (id == SS_LOSS_FOCAL_DICE) {
      /* weighted by the class weights of each class's channel (a region
       * takes the mean of its members' weights) */
      double sw = 0.0, s = 0.0;
      ss_undef why = SS_ZERO_DENOMINATOR;
      for (int j = 0; j < c->S; j++) {
        ss_metric m = r->classes[j].losses.loss[id];
        if (m.why != SS_DEFINED) {
          why = m.why;
          continue;
        }
        sw += wcls[j];
        s += wcls[j] * m.value;
      }
      set_case_loss(&r->losses, (ss_loss_id)id,
                    sw > 0.0 ? def(s / sw) : undef(why));
    } else if (id == SS_LOSS_DICE || id == SS_LOSS_DICE_SQUARED ||
               id == SS_LOSS_JACCARD || id == SS_LOSS_TVERSKY ||
               id == SS_LOSS_FOCAL_TVERSKY || id == SS_LOSS_ASYM ||
               id == SS_LOSS_DICE_BCE ||
               (id == SS_LOSS_HYBRID && ssim != NULL)) {
      ss__losses_case_mean(r, (ss_loss_id)id);
    }
  }
  /* Generalized Dice and its penalty form (case only). */
  if (want & (1u << SS_LOSS_GDL | 1u << SS_LOSS_PGDL)) {
    double wmax = 0.0;
    bool anyfinite = false;
    for (int s = 0; s < c->S; s++)
      if (it[s].G > 0) {
        double w = 1.0 / (it[s].G * it[s].G);
        if (!anyfinite || w > wmax)
          wmax = w;
        anyfinite = true;
      }
    double num = 0.0, den = 0.0;
    for (int s = 0; s < c->S; s++) {
      double w = it[s].G > 0 ? 1.0 / (it[s].G * it[s].G)
                             : anyfinite ? wmax : 1.0;
      num += w * it[s].TP;
      den += w * (it[s].P + it[s].G);
    }
    ss_metric gd = c->S > 0 ? ratio(2.0 * num + snr, den + sdr, SS_BOTH_EMPTY)
                            : undef(SS_ZERO_DENOMINATOR);
    if (want >> SS_LOSS_GDL & 1u)
      set_case_loss(&r->losses, SS_LOSS_GDL,
                    gd.why == SS_DEFINED ? def(1.0 - gd.value) : gd);
    if (want >> SS_LOSS_PGDL & 1u) {
      double k = lp->params[SS_LOSS_PGDL][0];
      set_case_loss(&r->losses, SS_LOSS_PGDL,
                    gd.why == SS_DEFINED
                        ? def(1.0 - gd.value / (1.0 + k * (1.0 - gd.value)))
                        : gd);
    }
  }
}

static void
tradeoffs(const ss__lctx *c, const ss_plan *plan, ss_report *r,
          const int64_t *qt, const double *dt, const int64_t *hpr,
          ss_status *st, ss_error *err)
{
  const ss_loss_plan *lp = &plan->loss;
  const ss__lacc *L = &c->acc;
  const int B = c->B, E = c->E;
  const double N = (double)c->nscored;
  for (int s = 0; s < c->S && *st == SS_OK; s++) {
    ss_class_tradeoffs *to = &r->classes[s].tradeoffs;
    const int64_t *qs = qt + L->qitem + (size_t)s * L->qstride;
    const double *ds = dt + L->item + (size_t)s * L->dstride;
    double tp = (double)qs[SS__Q_HTP], fp = (double)(qs[SS__Q_HP] - qs[SS__Q_HTP]);
    double fn = (double)(qs[SS__Q_G] - qs[SS__Q_HTP]);
    ss_undef ew = empty_why(fn + tp, fp + tp);
    to->have = true;
    to->ntversky = lp->ntversky;
    for (int j = 0; j < lp->ntversky; j++) {
      double a = lp->tversky_grid[j][0], b = lp->tversky_grid[j][1];
      to->tversky_alpha[j] = a;
      to->tversky_beta[j] = b;
      to->tversky[j] = ratio(tp, tp + a * fp + b * fn, ew);
    }
    to->nfbeta = lp->nfbeta;
    for (int j = 0; j < lp->nfbeta; j++) {
      double b2 = lp->fbeta_betas[j] * lp->fbeta_betas[j];
      to->fbeta_beta[j] = lp->fbeta_betas[j];
      to->fbeta[j] = ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, ew);
    }
    if (!c->need_prob)
      continue;
    to->have_prob = true;
    to->npr = B + 1;
    to->ece_bins = E;
    to->pr_threshold = malloc((size_t)(B + 1) * sizeof *to->pr_threshold);
    to->pr_precision = malloc((size_t)(B + 1) * sizeof *to->pr_precision);
    to->pr_recall = malloc((size_t)(B + 1) * sizeof *to->pr_recall);
    if (to->pr_threshold == NULL || to->pr_precision == NULL ||
        to->pr_recall == NULL) {
      *st = ss__fail(err, SS_ENOMEM, NULL);
      return;
    }
    const int64_t *h0 = hpr + (size_t)s * 2 * (size_t)(B + 1);
    const int64_t *h1 = h0 + (B + 1);
    int64_t G = qs[SS__Q_G];
    int64_t TP = 0, FP = 0;
    double ap = 0.0, rprev = 0.0, best = -1.0;
    int bestj = -1;
    /* From the highest threshold down: predicted positive iff
     * floor(p B) >= j, i.e. p >= j / B, exactly. */
    for (int j = B; j >= 0; j--) {
      TP += h1[j];
      FP += h0[j];
      to->pr_threshold[j] = (double)j / B;
      to->pr_precision[j] = ratio((double)TP, (double)(TP + FP),
                                  SS_PRED_EMPTY);
      to->pr_recall[j] = ratio((double)TP, (double)G, SS_REF_EMPTY);
      if (G > 0) {
        double rc = (double)TP / (double)G;
        if (rc > rprev)
          ap += (rc - rprev) * ((double)TP / (double)(TP + FP));
        rprev = rc;
      }
      double den = (double)(2 * TP + FP + (G - TP));
      if (den > 0) {
        double dj = 2.0 * (double)TP / den;
        if (dj >= best) {     /* ties: the lowest threshold wins */
          best = dj;
          bestj = j;
        }
      }
    }
    to->average_precision = G > 0 ? def(ap) : undef(SS_REF_EMPTY);
    if (G > 0 && bestj >= 0) {
      to->best_threshold = def((double)bestj / B);
      to->best_dice = def(best);
    } else {
      to->best_threshold = to->best_dice = undef(SS_REF_EMPTY);
    }
    to->brier = ratio(ds[SS__A_BRIER], N, SS_ZERO_DENOMINATOR);
    double ece = 0.0;
    for (int e = 0; e < E; e++)
      ece += fabs(ds[SS__A_ECE + e] - (double)qs[SS__Q_ECEN + E + e]);
    to->ece = ratio(ece, N, SS_ZERO_DENOMINATOR);
  }
}

/*---- Entry point ---------------------------------------------------------*/

static uint32_t
wanted_losses(const ss_loss_plan *lp, bool hard)
{
  uint32_t want = lp->set_given ? lp->set : hard ? 0u : SS_LOSS_ALL;
  for (int j = 0; j < lp->ncompound; j++)
    want |= 1u << lp->compound[j].loss;
  return want;
}

static bool
tradeoffs_on(const ss_plan *plan, bool hard)
{
  return plan->metrics_set ? (plan->metrics & SS_METRIC_TRADEOFFS) != 0
                           : !hard;
}

bool
ss__losses_wanted(const ss_plan *plan, ss_pred_kind kind)
{
  bool hard = kind == SS_KIND_LABELS;
  return wanted_losses(&plan->loss, hard) != 0 || tradeoffs_on(plan, hard);
}

void
ss__losses_release(ss_report *r)
{
  if (r == NULL)
    return;
  for (int i = 0; r->classes != NULL && i < r->nclasses; i++) {
    ss_class_tradeoffs *to = &r->classes[i].tradeoffs;
    free(to->pr_threshold);
    free(to->pr_precision);
    free(to->pr_recall);
    to->pr_threshold = NULL;
    to->pr_precision = to->pr_recall = NULL;
    to->npr = 0;
  }
  free(r->losses.weights);
  free(r->losses.channel_labels);
  r->losses.weights = NULL;
  r->losses.channel_labels = NULL;
  r->losses.nweights = 0;
}

ss_status
ss__losses_score(const ss_volume *pred, const ss_volume *ref,
                 const ss_plan *plan, ss_report *r, ss_error *err)
{
  ss_plan defplan;
  if (plan == NULL) {
    ss_plan_init(&defplan);
    plan = &defplan;
  }
  const ss_loss_plan *lp = &plan->loss;
  ss__lctx c;
  double *dacc = NULL, *scratch = NULL, *dtot = NULL, *wch = NULL;
  int64_t *qacc = NULL, *hpr = NULL, *htk = NULL, *qtot = NULL;
  bad_voxel *bad = NULL;
  item_sums *it = NULL;
  double *ssim = NULL, *wcls = NULL, *priv_d = NULL, *dself = NULL;
  double *lbufs = NULL;
  int64_t *priv_q = NULL;
  ss_status st = setup(&c, pred, ref, plan, r, err);
  if (st != SS_OK)
    goto fail;

  /* What to compute. */
  uint32_t want = wanted_losses(lp, c.hard);
  c.want = want;
  bool to_on = tradeoffs_on(plan, c.hard);
  c.need_focal = want >> SS_LOSS_FOCAL & 1u;
  c.need_fdk = want >> SS_LOSS_DICE_FOCAL & 1u;
  c.need_thr = want >> SS_LOSS_TOPK_THRESHOLD & 1u;
  c.need_topk = want >> SS_LOSS_TOPK & 1u;
  c.need_p2 = want >> SS_LOSS_DICE_SQUARED & 1u;
  c.need_bce = (want >> SS_LOSS_DICE_BCE & 1u) || (want >> SS_LOSS_HYBRID & 1u);
  c.need_prob = to_on && !c.hard;
  c.need_dist = (want >> SS_LOSS_DPCE & 1u) ||
                (want >> SS_LOSS_BOUNDARY_AWARE & 1u);
  c.need_hard = (want >> SS_LOSS_LESION_COMPOUND & 1u) ||
                (want >> SS_LOSS_HAUSDORFF_DT & 1u);
  c.band_mm = lp->params[SS_LOSS_BOUNDARY_AWARE][0];
  c.gamma_f = lp->params[SS_LOSS_FOCAL][0];
  c.gamma_df = lp->params[SS_LOSS_DICE_FOCAL][1];
  c.thr_t = lp->params[SS_LOSS_TOPK_THRESHOLD][0];
  c.topk_k = lp->params[SS_LOSS_TOPK][0];
  c.B = lp->pr_bins >= SS_MIN_PR_BINS ? lp->pr_bins : SS_MIN_PR_BINS;
  c.E = lp->ece_bins > 0 ? lp->ece_bins : 15;
  if (lp->nfocal_alpha > 0 && c.need_focal &&
      lp->nfocal_alpha != (c.C == 1 ? 2 : c.C)) {
    st = ss__fail(err, SS_ERANGE,
                  "focal.alpha has %d values but the prediction has %d "
                  "channels", lp->nfocal_alpha, c.C == 1 ? 2 : c.C);
    if (err != NULL)
      snprintf(err->field, sizeof err->field, "loss_params.focal.alpha");
    goto fail;
  }

  /* Accumulator layout (losses_internal.h). */
  const int K = c.K, S = c.S, E = c.E;
  ss__lacc *L = &c.acc;
  L->cek = 0;
  L->fok = K;
  L->fdk = 2 * K;
  L->thr = 3 * K;
  L->dist = 3 * K + 1;
  L->item = 3 * K + 4;
  L->dstride = SS__A_ECE + E;
  L->nd = L->item + S * L->dstride;
  L->nk = 0;
  L->nthr = K;
  L->nvox = K + 1;
  L->nband = K + 2;
  L->qitem = K + 3;
  L->qstride = SS__Q_ECEN + 2 * E;
  L->nq = L->qitem + S * L->qstride;

  int64_t nb = (c.nvox + BLOCK - 1) / BLOCK;
  int nt = c.nt;
  size_t hstride = c.need_prob ? (size_t)S * 2 * (size_t)(c.B + 1) : 0;
  dacc = calloc((size_t)nb * (size_t)L->nd + 1, sizeof *dacc);
  qacc = calloc((size_t)nb * (size_t)L->nq + 1, sizeof *qacc);
  bad = calloc((size_t)nb + 1, sizeof *bad);
  /* Per-thread scratch rows padded to whole cache lines: adjacent rows
   * of K doubles shared a line and the threads wrote them every voxel. */
  size_t sc_stride = ((size_t)K + 15) / 8 * 8;
  c.sstride = sc_stride;
  scratch = aligned_alloc(64, (size_t)nt * sc_stride * sizeof *scratch);
  hpr = calloc((size_t)nt * hstride + 1, sizeof *hpr);
  htk = calloc(c.need_topk ? (size_t)nt * TOPK_BINS : 1, sizeof *htk);
  dtot = calloc((size_t)L->nd + 1, sizeof *dtot);
  qtot = calloc((size_t)L->nq + 1, sizeof *qtot);
  wch = calloc((size_t)K, sizeof *wch);
  it = calloc((size_t)S + 1, sizeof *it);
  wcls = calloc((size_t)S + 1, sizeof *wcls);
  /* per-thread batch of BCE log arguments: one block's worth */
  size_t lstride = c.need_bce && !c.hard ? (size_t)BLOCK * (size_t)S + 4 : 0;
  lbufs = malloc((size_t)nt * lstride * sizeof *lbufs + 8);
  /* per-thread rows padded to whole cache lines, plus one line apart */
  size_t pd_stride = ((size_t)L->nd + 15) / 8 * 8;
  size_t pq_stride = ((size_t)L->nq + 15) / 8 * 8;
  priv_d = aligned_alloc(64, (size_t)nt * pd_stride * sizeof *priv_d);
  priv_q = aligned_alloc(64, (size_t)nt * pq_stride * sizeof *priv_q);
  if (!dacc || !qacc || !bad || !scratch || !hpr || !htk || !dtot || !qtot ||
      !wch || !it || !wcls || !priv_d || !priv_q || !lbufs) {
    st = ss__fail(err, SS_ENOMEM, "out of memory for loss accumulators");
    goto fail;
  }

  if (c.need_dist) {
    st = ss__losses_selfdist(&c, ref, &dself, &c.dmax, err);
    if (st != SS_OK)
      goto fail;
    c.dself = dself;
  }
  if (c.need_hard) {
    c.hardch = malloc((size_t)c.nvox * sizeof *c.hardch + 1);
    if (c.hardch == NULL) {
      st = ss__fail(err, SS_ENOMEM, "out of memory for the hard prediction");
      goto fail;
    }
  }

#pragma omp parallel num_threads(nt) if (c.nvox >= SS_PAR_MIN_VOXELS)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    /* Private accumulators (no false sharing between threads), copied to
     * the block's row when the block is done. */
    double *pd = priv_d + (size_t)tid * pd_stride;
    int64_t *pq = priv_q + (size_t)tid * pq_stride;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < nb; b++) {
      memset(pd, 0, (size_t)L->nd * sizeof *pd);
      memset(pq, 0, (size_t)L->nq * sizeof *pq);
      if (c.hard)
        block_pass_hard(&c, b, pd, pq,
                        htk + (c.need_topk ? (size_t)tid * TOPK_BINS : 0));
      else
        block_pass(&c, b, pd, pq, scratch + (size_t)tid * sc_stride,
                   hpr + (size_t)tid * hstride,
                   htk + (c.need_topk ? (size_t)tid * TOPK_BINS : 0),
                   lbufs + (size_t)tid * lstride, &bad[b]);
      memcpy(dacc + (size_t)b * L->nd, pd, (size_t)L->nd * sizeof *pd);
      memcpy(qacc + (size_t)b * L->nq, pq, (size_t)L->nq * sizeof *pq);
    }
  }
  for (int64_t b = 0; b < nb && !c.hard; b++) {
    if (bad[b].i < 0)
      continue;
    int64_t i = bad[b].i;
    int64_t x = i % c.nx, y = i / c.nx % c.ny, z = i / (c.nx * c.ny);
    if (bad[b].channel >= 0)
      st = ss__fail(err, SS_EPROB,
                    "%s at voxel (%lld,%lld,%lld) channel %d %s",
                    c.logits ? "logit" : "probability", (long long)x,
                    (long long)y, (long long)z, bad[b].channel,
                    bad_what[bad[b].what]);
    else
      st = ss__fail(err, SS_EPROB, "at voxel (%lld,%lld,%lld) the %s",
                    (long long)x, (long long)y, (long long)z,
                    bad_what[bad[b].what]);
    goto fail;
  }
  /* Combine: blocks in order (floating), threads (integer). */
  for (int64_t b = 0; b < nb; b++) {
    const double *d = dacc + (size_t)b * L->nd;
    const int64_t *q = qacc + (size_t)b * L->nq;
    for (int f = 0; f < L->nd; f++)
      dtot[f] += d[f];
    for (int f = 0; f < L->nq; f++)
      qtot[f] += q[f];
  }
  for (int t = 1; t < nt; t++) {
    for (size_t h = 0; h < hstride; h++)
      hpr[h] += hpr[(size_t)t * hstride + h];
    if (c.need_topk)
      for (size_t h = 0; h < TOPK_BINS; h++)
        htk[h] += htk[(size_t)t * TOPK_BINS + h];
  }
  c.nscored = qtot[L->nvox];
  const double N = (double)c.nscored;

  /* Report bookkeeping. */
  ss_case_losses *cl = &r->losses;
  cl->computed = true;
  cl->hard = c.hard;
  cl->weights = malloc((size_t)K * sizeof *cl->weights);
  cl->channel_labels = malloc((size_t)K * sizeof *cl->channel_labels);
  if (cl->weights == NULL || cl->channel_labels == NULL) {
    st = ss__fail(err, SS_ENOMEM, NULL);
    goto fail;
  }
  cl->nweights = K;
  memcpy(cl->channel_labels, c.ch_label, (size_t)K * sizeof *c.ch_label);
  st = class_weights(&c, plan, qtot + L->nk, c.nscored, wch, err);
  if (st != SS_OK)
    goto fail;
  memcpy(cl->weights, wch, (size_t)K * sizeof *wch);

  /* CE family. */
  double ce = 0.0, wnum = 0.0, wden = 0.0, foc = 0.0, fdk = 0.0;
  for (int k = 0; k < K; k++) {
    double nk = (double)qtot[L->nk + k];
    ce += dtot[L->cek + k];
    wnum += wch[k] * dtot[L->cek + k];
    wden += wch[k] * nk;
    double a = lp->nfocal_alpha > 0 ? lp->focal_alpha[k] : 1.0;
    foc += a * dtot[L->fok + k];
    fdk += dtot[L->fdk + k];
  }
  if (want >> SS_LOSS_CE & 1u)
    set_case_loss(cl, SS_LOSS_CE, ratio(ce, N, SS_ZERO_DENOMINATOR));
  if (want >> SS_LOSS_WCE & 1u)
    set_case_loss(cl, SS_LOSS_WCE, ratio(wnum, wden, SS_ZERO_DENOMINATOR));
  if (want >> SS_LOSS_FOCAL & 1u)
    set_case_loss(cl, SS_LOSS_FOCAL, ratio(foc, N, SS_ZERO_DENOMINATOR));
  if (want >> SS_LOSS_TOPK_THRESHOLD & 1u)
    set_case_loss(cl, SS_LOSS_TOPK_THRESHOLD,
                  ratio(dtot[L->thr], (double)qtot[L->nthr],
                        SS_ZERO_DENOMINATOR));
  if (want >> SS_LOSS_DPCE & 1u)
    set_case_loss(cl, SS_LOSS_DPCE,
                  ratio(dtot[L->dist], N, SS_ZERO_DENOMINATOR));
  if (want >> SS_LOSS_BOUNDARY_AWARE & 1u) {
    /* weighted mean of the band's and the rest's CE (docs/losses.md) */
    double p1 = lp->params[SS_LOSS_BOUNDARY_AWARE][1];
    double p2 = lp->params[SS_LOSS_BOUNDARY_AWARE][2];
    double nband = (double)qtot[L->nband];
    set_case_loss(cl, SS_LOSS_BOUNDARY_AWARE,
                  ratio(p1 * dtot[L->dist + 1] + p2 * dtot[L->dist + 2],
                        p1 * nband + p2 * (N - nband), SS_ZERO_DENOMINATOR));
  }
  if (want >> SS_LOSS_TOPK & 1u) {
    ss_metric tk = { 0.0, SS_ZERO_DENOMINATOR };
    st = topk_pass(&c, htk, c.nscored, scratch, &tk, err);
    if (st != SS_OK)
      goto fail;
    set_case_loss(cl, SS_LOSS_TOPK, tk);
  }

  /* Region family. */
  for (int s = 0; s < S; s++) {
    const double *ds = dtot + L->item + (size_t)s * L->dstride;
    const int64_t *qs = qtot + L->qitem + (size_t)s * L->qstride;
    it[s] = (item_sums){ .P = ds[SS__A_P], .P2 = ds[SS__A_P2],
                         .TP = ds[SS__A_TP], .G = (double)qs[SS__Q_G],
                         .BCE = ds[SS__A_BCE], .g = qs[SS__Q_G] };
    if (c.hard)   /* voxels where the item was neither predicted nor true */
      it[s].BCE += (double)(c.nscored - qs[SS__Q_TOUCH]) *
                   -log(clampp(1.0));
    double w = 0.0;
    for (int m = c.moff[s]; m < c.moff[s + 1]; m++)
      w += wch[c.mem[m]];
    wcls[s] = c.moff[s + 1] > c.moff[s] ? w / (c.moff[s + 1] - c.moff[s])
                                        : 0.0;
  }
  if (want >> SS_LOSS_HYBRID & 1u) {
    ssim = calloc((size_t)S + 1, sizeof *ssim);
    if (ssim == NULL) {
      st = ss__fail(err, SS_ENOMEM, NULL);
      goto fail;
    }
    st = ss__losses_ssim(&c, lp->params[SS_LOSS_HYBRID][3], scratch, ssim,
                         err);
    if (st != SS_OK)
      goto fail;
  }
  region_losses(&c, plan, r, it, ssim, wcls);
  if (want >> SS_LOSS_DICE_FOCAL & 1u) {
    /* mean Dice loss over the classes + lambda * focal (alpha = 1) */
    double lam = lp->params[SS_LOSS_DICE_FOCAL][0];
    double sd = 0.0;
    int nd = 0;
    const double snr = plan->smooth_nr, sdr = plan->smooth_dr;
    for (int s = 0; s < S; s++) {
      ss_metric d = ratio(2.0 * it[s].TP + snr, it[s].P + it[s].G + sdr,
                          SS_BOTH_EMPTY);
      if (d.why == SS_DEFINED) {
        sd += 1.0 - d.value;
        nd++;
      }
    }
    set_case_loss(cl, SS_LOSS_DICE_FOCAL,
                  nd > 0 && N > 0 ? def(sd / nd + lam * fdk / N)
                                  : undef(SS_ZERO_DENOMINATOR));
  }
  c.item_p = malloc((size_t)(S + 1) * 3 * sizeof *c.item_p);
  if (c.item_p == NULL) {
    st = ss__fail(err, SS_ENOMEM, NULL);
    goto fail;
  }
  c.item_tp = c.item_p + S + 1;
  c.item_g = c.item_tp + S + 1;
  for (int s = 0; s < S; s++) {
    c.item_p[s] = it[s].P;
    c.item_tp[s] = it[s].TP;
    c.item_g[s] = it[s].G;
  }
  st = ss__losses_distance(&c, pred, ref, plan, r, scratch, err);
  if (st != SS_OK)
    goto fail;

  if (to_on)
    tradeoffs(&c, plan, r, qtot, dtot, hpr, &st, err);
  if (st != SS_OK)
    goto fail;

  /* Compound: the weighted sum of case values; undefined if any is. */
  if (lp->ncompound > 0) {
    double v = 0.0;
    ss_undef why = SS_DEFINED;
    for (int j = 0; j < lp->ncompound; j++) {
      ss_metric m = cl->loss[lp->compound[j].loss];
      if (!(cl->have >> lp->compound[j].loss & 1u))
        m = undef(SS_ZERO_DENOMINATOR);
      if (m.why != SS_DEFINED && why == SS_DEFINED)
        why = m.why;
      v += lp->compound[j].weight * m.value;
    }
    cl->has_compound = true;
    cl->compound = why == SS_DEFINED ? def(v) : undef(why);
  }

fail:
  free(dacc);
  free(qacc);
  free(bad);
  free(scratch);
  free(hpr);
  free(htk);
  free(dtot);
  free(qtot);
  free(wch);
  free(it);
  free(ssim);
  free(wcls);
  free(priv_d);
  free(priv_q);
  free(lbufs);
  free(dself);
  free(c.hardch);
  free(c.item_p);
  teardown(&c);
  if (plan == &defplan)
    ss_plan_clear(&defplan);
  return st;
}
