/* confusion.c - exact confusion counts for every class in one pass: a
 * joint histogram of (prediction label index, reference label index)
 * pairs, from which the counts of any label or region are sums.  Integer
 * counts, so the result is identical for any thread count.
 * SPDX-License-Identifier: MIT */
#include "score.h"

#include <stdlib.h>
#include <string.h>

#define JOINT_LOOP(TP, TR)                                                  \
  do {                                                                      \
    const TP *p = pred->idx;                                                \
    const TR *r = ref->idx;                                                 \
    _Pragma("omp for schedule(static)")                                     \
    for (int64_t i = 0; i < n; i++)                                         \
      mine[(size_t)p[i] * (size_t)kr + r[i]]++;                             \
  } while (0)

/* 8-bit pairs, 8 voxels at a time: where both 8-byte words hold a single
 * value (the inside of an organ, the background) one add counts all 8;
 * elsewhere 2 interleaved sub-histograms break the store-to-load chain on
 * a repeated counter.  Runs inside the caller's parallel region. */
static void
joint_u8(const uint8_t *p, const uint8_t *r, int64_t n, int kr, int64_t *h)
{
  const uint64_t ones = 0x0101010101010101ull;
  const int64_t nw = n / 8;
#pragma omp for schedule(static)
  for (int64_t w = 0; w < nw; w++) {
    uint64_t a, b;
    memcpy(&a, p + 8 * w, 8);
    memcpy(&b, r + 8 * w, 8);
    const uint64_t a0 = a & 0xff, b0 = b & 0xff;
    if (a == a0 * ones && b == b0 * ones) {
      h[a0 * (uint64_t)kr + b0] += 8;
      continue;
    }
    for (int k = 0; k < 8; k++)
      h[((a >> (8 * k)) & 0xff) * (uint64_t)kr + ((b >> (8 * k)) & 0xff)]++;
  }
#pragma omp single
  for (int64_t i = nw * 8; i < n; i++)
    h[(size_t)p[i] * (size_t)kr + r[i]]++;
}

ss_status
ss__joint_histogram(const ss_volume *pred, const ss_volume *ref,
                    int threads, int64_t **out, ss_error *err)
{
  *out = NULL;
  const int kp = pred->nlabels, kr = ref->nlabels;
  const size_t cells = (size_t)kp * (size_t)kr;
  if (cells > SS_JOINT_MAX_CELLS)
    return SS_ECLASSES; /* caller falls back to one pass per class */
  const int64_t n = ref->nvox;
  int nt = n >= SS_PAR_MIN_VOXELS ? threads : 1;
  int64_t *all = calloc((size_t)nt * cells + 1, sizeof *all);
  if (all == NULL)
    return ss__fail(err, SS_ENOMEM, "cannot allocate the joint histogram");
  const int wp = pred->idx_width, wr = ref->idx_width;
#pragma omp parallel num_threads(nt)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    int64_t *mine = all + (size_t)t * cells;
    if (wp == 1 && wr == 1)
      joint_u8(pred->idx, ref->idx, n, kr, mine);
    else if (wp == 1)
      JOINT_LOOP(uint8_t, uint16_t);
    else if (wr == 1)
      JOINT_LOOP(uint16_t, uint8_t);
    else
      JOINT_LOOP(uint16_t, uint16_t);
  }
  for (int t = 1; t < nt; t++)
    for (size_t c = 0; c < cells; c++)
      all[c] += all[(size_t)t * cells + c];
  int64_t *h = realloc(all, cells * sizeof *h + 1);
  *out = h != NULL ? h : all;
  return SS_OK;
}

void
ss__counts_from_joint(const int64_t *h, int kp, int kr, const uint8_t *pm,
                      const uint8_t *rm, int ignore_r, ss_confusion *c,
                      int64_t *pred_voxels, int64_t *ref_voxels)
{
  int64_t tp = 0, pv = 0, rv = 0, total = 0;
  for (int p = 0; p < kp; p++) {
    for (int r = 0; r < kr; r++) {
      if (r == ignore_r)
        continue;
      const int64_t v = h[(size_t)p * (size_t)kr + r];
      total += v;
      if (pm[p])
        pv += v;
      if (rm[r])
        rv += v;
      if (pm[p] && rm[r])
        tp += v;
    }
  }
  c->tp = tp;
  c->fp = pv - tp;
  c->fn = rv - tp;
  c->tn = total - tp - c->fp - c->fn;
  *pred_voxels = pv;
  *ref_voxels = rv;
}

ss_status
ss__counts_by_pass(const ss_volume *pred, const ss_volume *ref,
                   const uint8_t *pm, const uint8_t *rm, int ignore_r,
                   int threads, ss_confusion *c, int64_t *pred_voxels,
                   int64_t *ref_voxels)
{
  const int64_t n = ref->nvox;
  const ss__mask mp = { pred->idx, pred->idx_width, pm };
  const ss__mask mr = { ref->idx, ref->idx_width, rm };
  int64_t tp = 0, pv = 0, rv = 0, ig = 0;
  const int nt = n >= SS_PAR_MIN_VOXELS ? threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) \
    reduction(+ : tp, pv, rv, ig)
  for (int64_t i = 0; i < n; i++) {
    const unsigned ri = ref->idx_width == 1
                            ? ((const uint8_t *)ref->idx)[i]
                            : ((const uint16_t *)ref->idx)[i];
    if ((int)ri == ignore_r) {
      ig++;
      continue;
    }
    const int a = ss__mask_at(&mp, i), b = ss__mask_at(&mr, i);
    tp += a && b;
    pv += a;
    rv += b;
  }
  c->tp = tp;
  c->fp = pv - tp;
  c->fn = rv - tp;
  c->tn = (n - ig) - tp - c->fp - c->fn;
  *pred_voxels = pv;
  *ref_voxels = rv;
  return SS_OK;
}
