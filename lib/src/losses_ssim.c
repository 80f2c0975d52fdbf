/* losses_ssim.c - 3-D structural similarity for the hybrid BCE + IoU +
 * SSIM loss (Qin et al., BASNet, CVPR 2019; SSIM: Wang et al., IEEE TIP
 * 2004, with a Gaussian window as in their paper and MONAI's SSIMLoss).
 *
 * Local means come from a normalised convolution: every field is
 * multiplied by the validity mask m (0 outside the volume and on ignored
 * voxels) and divided by the filtered mask, so windows are truncated at
 * the borders and renormalised instead of padded.  The volume is cut into
 * tiles of rows (y) walked through the slices: per output slice the
 * separable Gaussian runs along z straight from the inputs (the 2R+1
 * slices of the tile stay in cache), then along y and x row by row in
 * thread-local buffers.  Tiles (and chunks of slices) run in parallel,
 * each by one thread in a fixed order; the sums per (tile, slice) are
 * added in a fixed order: identical results for any thread count.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "losses_internal.h"

#include <math.h>
#include <stdlib.h>

#define NF 5            /* m, m p, m p^2, m g, m p g */
#define SSIM_C1 (0.01 * 0.01)
#define SSIM_C2 (0.03 * 0.03)
#define RMAX 32

/* Row kernels: compiled for AVX2 and for the baseline, picked at load
 * time.  Without FP contraction (-std=c11) both give the same bits, as
 * every lane sums in the same order. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SS_CLONES
#endif

/* out[x] = w[0] a[0][x] + sum_{d=1..R} w[d] (a[-d][x] + a[d][x]) for
 * x < n; ROWS points at a[0] of an array of 2R+1 row pointers (absent
 * rows point at zeros, so windows are truncated exactly). */
SS_CLONES static void
sym_rows(double *restrict out, const double *const *rows, const double *w,
         int R, int64_t n)
{
  const double *restrict a0 = rows[0];
#pragma omp simd
  for (int64_t x = 0; x < n; x++)
    out[x] = w[0] * a0[x];
  for (int d = 1; d <= R; d++) {
    const double *restrict am = rows[-d], *restrict ap = rows[d];
    const double wd = w[d];
#pragma omp simd
    for (int64_t x = 0; x < n; x++)
      out[x] += wd * (am[x] + ap[x]);
  }
}

/* SSIM of one row from the filtered fields F (NF rows of n; F[0] may be
 * NULL with NORM giving the mask sums); returns the sum over voxels where
 * VALID (NULL = all) is set, *CNT the count. */
SS_CLONES static double
ssim_row(const double *const *F, const double *restrict norm,
         const uint8_t *restrict valid, int64_t n, int64_t *cnt,
         double *restrict tmp)
{
  const double *restrict f1 = F[1], *restrict f2 = F[2], *restrict f3 = F[3],
                         *restrict f4 = F[4];
#pragma omp simd
  for (int64_t x = 0; x < n; x++) {
    double inv = 1.0 / norm[x];
    double mp = f1[x] * inv, mg = f3[x] * inv;
    double vp = f2[x] * inv - mp * mp, vg = mg - mg * mg;
    double cv = f4[x] * inv - mp * mg;
    tmp[x] = ((2.0 * mp * mg + SSIM_C1) * (2.0 * cv + SSIM_C2)) /
             ((mp * mp + mg * mg + SSIM_C1) * (vp + vg + SSIM_C2));
  }
  double s = 0.0;
  int64_t c = 0;
  for (int64_t x = 0; x < n; x++)
    if (valid == NULL || valid[x]) {
      s += tmp[x];
      c++;
    }
  *cnt = c;
  return s;
}

/* z pass of one row, all fields at once: OUT + f * STRIDE gets
 * sum_d w[|d|] field_f(z+d, x) straight from the inputs, OFF[d + R] being
 * the row offset in slice z+d (or -1 outside the volume).  Fields: 0 =
 * valid (only when VALID is given), 1 = p, 2 = p^2, 3 = g, 4 = p g (p and
 * g are 0 where not valid). */
SS_CLONES static void
zrow(double *restrict out, size_t stride, const double *p, const uint8_t *g,
     const uint8_t *valid, const int64_t *off, const double *w, int R,
     int64_t nx)
{
  double *restrict o0 = out, *restrict o1 = out + stride,
                   *restrict o2 = out + 2 * stride,
                   *restrict o3 = out + 3 * stride,
                   *restrict o4 = out + 4 * stride;
#pragma omp simd
  for (int64_t x = 0; x < nx; x++) {
    o1[x] = 0.0;
    o2[x] = 0.0;
    o3[x] = 0.0;
    o4[x] = 0.0;
  }
  for (int d = -R; d <= R; d++) {
    if (off[d + R] < 0)
      continue;
    const double wd = w[d < 0 ? -d : d];
    const double *restrict pr = p + off[d + R];
    const uint8_t *restrict gr = g + off[d + R];
#pragma omp simd
    for (int64_t x = 0; x < nx; x++) {
      double pv = pr[x], gv = (double)gr[x];
      o1[x] += wd * pv;
      o2[x] += wd * (pv * pv);
      o3[x] += wd * gv;
      o4[x] += wd * (pv * gv);
    }
  }
  if (valid == NULL)
    return;
#pragma omp simd
  for (int64_t x = 0; x < nx; x++)
    o0[x] = 0.0;
  for (int d = -R; d <= R; d++) {
    if (off[d + R] < 0)
      continue;
    const double wd = w[d < 0 ? -d : d];
    const uint8_t *restrict vr = valid + off[d + R];
#pragma omp simd
    for (int64_t x = 0; x < nx; x++)
      o0[x] += wd * (double)vr[x];
  }
}

ss_status
ss__ssim3d(const double *p, const uint8_t *g, const uint8_t *valid,
           int64_t nx, int64_t ny, int64_t nz, double sigma, int threads,
           double *out, ss_error *err)
{
  int R = (int)ceil(3.0 * sigma);
  if (R < 1)
    R = 1;
  if (R > RMAX)
    return ss__fail(err, SS_ERANGE, "SSIM window too large");
  double w[RMAX + 1];
  for (int d = 0; d <= R; d++)
    w[d] = exp(-(double)d * d / (2.0 * sigma * sigma));
  /* Without a validity mask the filtered mask is separable: the product
   * of the three 1-D truncated window sums. */
  const int f0 = valid != NULL ? 0 : 1;   /* first field filtered */
  double *wsum[3] = { NULL, NULL, NULL };
  const int64_t dims[3] = { nx, ny, nz };
  const size_t plane = (size_t)nx * (size_t)ny;
  const size_t pad = (size_t)nx + 2 * (size_t)R;
  /* Work in tiles of TILE rows (y) through all slices, so the z window of
   * the inputs and the z-filtered fields of a tile stay in cache.  Per
   * thread: A (the z-filtered fields of the tile's rows plus an R-row halo
   * on each side), NF padded lines, NF filtered rows, norm, temp; per
   * (tile, slice): the sum and the count. */
  const int64_t TILE = 64;
  const int64_t ntiles = (ny + TILE - 1) / TILE;
  const size_t arows = (size_t)(TILE + 2 * R);
  const size_t aplane = arows * (size_t)nx;
  const size_t tstride = NF * aplane + NF * pad + (NF + 2) * (size_t)nx;
  double *tbuf = malloc((size_t)threads * tstride * sizeof *tbuf);
  double *zsum = malloc((size_t)(nz * ntiles) * sizeof *zsum);
  int64_t *zcnt = malloc((size_t)(nz * ntiles) * sizeof *zcnt);
  double *zero = calloc((size_t)nx + 1, sizeof *zero);
  bool ok = tbuf && zsum && zcnt && zero;
  for (int a = 0; a < 3 && ok; a++) {
    wsum[a] = malloc((size_t)dims[a] * sizeof *wsum[a]);
    ok = wsum[a] != NULL;
    for (int64_t x = 0; ok && x < dims[a]; x++) {
      double sum = 0.0;
      for (int d = -R; d <= R; d++)
        if (x + d >= 0 && x + d < dims[a])
          sum += w[d < 0 ? -d : d];
      wsum[a][x] = sum;
    }
  }
  if (!ok) {
    free(tbuf);
    free(zsum);
    free(zcnt);
    free(zero);
    for (int a = 0; a < 3; a++)
      free(wsum[a]);
    return ss__fail(err, SS_ENOMEM, "out of memory for SSIM");
  }
  bool par = (int64_t)plane * nz >= SS_PAR_MIN_VOXELS;
  /* Tiles x slices are the tasks; more tasks than tiles when there are few
   * tiles, by splitting the slices in chunks (each chunk starts its own
   * z window). */
  const int64_t zchunks = ntiles >= 2 * threads ? 1 : 2 * threads;
  const int64_t zlen = (nz + zchunks - 1) / zchunks;
  const int64_t ntasks = ntiles * zchunks;

#pragma omp parallel num_threads(threads) if (par)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    double *A = tbuf + (size_t)tid * tstride;
    double *lines = A + NF * aplane;
    double *acc = lines + NF * pad;
    double *norm = acc + NF * (size_t)nx;
    double *trow = norm + nx;
    const double *rp[2 * RMAX + 1];
    for (int f = 0; f < NF; f++)
      for (int d = 0; d < R; d++)
        lines[f * pad + (size_t)d] = lines[f * pad + pad - 1 - (size_t)d] = 0.0;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; task++) {
      const int64_t t = task / zchunks, zc = task % zchunks;
      const int64_t y0 = t * TILE, y1 = y0 + TILE < ny ? y0 + TILE : ny;
      const int64_t ha = y0 - R > 0 ? y0 - R : 0;
      const int64_t hb = y1 + R < ny ? y1 + R : ny;
      const int64_t za = zc * zlen, zb = za + zlen < nz ? za + zlen : nz;
      for (int64_t z = za; z < zb; z++) {
        /* z pass straight from the inputs, the tile's rows and halo */
        for (int64_t y = ha; y < hb; y++) {
          int64_t off[2 * RMAX + 1];
          for (int d = -R; d <= R; d++)
            off[d + R] =
                z + d >= 0 && z + d < nz
                    ? (int64_t)((size_t)(z + d) * plane + (size_t)y * nx)
                    : -1;
          zrow(A + (size_t)(y - ha) * nx, aplane, p, g, valid, off, w, R,
               nx);
        }
        /* y pass into a padded line, x pass, SSIM, row by row */
        double zs = 0.0;
        int64_t zn = 0;
        for (int64_t y = y0; y < y1; y++) {
          const double *F[NF] = { NULL };
          for (int f = f0; f < NF; f++) {
            const double *src = A + (size_t)f * aplane;
            for (int d = -R; d <= R; d++)
              rp[d + R] = y + d >= 0 && y + d < ny
                              ? src + (size_t)(y + d - ha) * nx
                              : zero;
            double *L = lines + (size_t)f * pad + R;
            sym_rows(L, rp + R, w, R, nx);
            for (int d = -R; d <= R; d++)
              rp[d + R] = L + d;
            sym_rows(acc + (size_t)f * nx, rp + R, w, R, nx);
            F[f] = acc + (size_t)f * nx;
          }
          if (f0 == 0) {
            for (int64_t x = 0; x < nx; x++)
              norm[x] = F[0][x];
          } else {
            double wyz = wsum[1][y] * wsum[2][z];
            for (int64_t x = 0; x < nx; x++)
              norm[x] = wsum[0][x] * wyz;
          }
          const uint8_t *vr =
              valid != NULL ? valid + (size_t)z * plane + (size_t)y * nx
                            : NULL;
          int64_t rc;
          zs += ssim_row(F, norm, vr, nx, &rc, trow);
          zn += rc;
        }
        zsum[z * ntiles + t] = zs;
        zcnt[z * ntiles + t] = zn;
      }
    }
  }
  double total = 0.0;
  int64_t nvalid = 0;
  for (int64_t k = 0; k < nz * ntiles; k++) {
    total += zsum[k];
    nvalid += zcnt[k];
  }
  *out = nvalid > 0 ? total / (double)nvalid : 1.0;
  free(tbuf);
  free(zsum);
  free(zcnt);
  free(zero);
  for (int a = 0; a < 3; a++)
    free(wsum[a]);
  return SS_OK;
}

ss_status
ss__losses_ssim(const ss__lctx *c, double sigma, double *scratch,
                double *out, ss_error *err)
{
  const int64_t n = c->nvox;
  double *p = malloc((size_t)n * sizeof *p);
  uint8_t *g = malloc((size_t)n);
  uint8_t *valid = malloc((size_t)n);
  if (p == NULL || g == NULL || valid == NULL) {
    free(p);
    free(g);
    free(valid);
    return ss__fail(err, SS_ENOMEM, "out of memory for SSIM fields");
  }
  ss_status st = SS_OK;
  for (int s = 0; s < c->S && st == SS_OK; s++) {
    int64_t nign = 0;
#pragma omp parallel num_threads(c->nt) if (n >= SS_PAR_MIN_VOXELS)
    {
      int tid = 0;
#ifdef _OPENMP
      tid = omp_get_thread_num();
#endif
      double *pv = scratch + (size_t)tid * c->sstride;
#pragma omp for schedule(static) reduction(+ : nign)
      for (int64_t i = 0; i < n; i++) {
        int t = ss__lref(c, i);
        valid[i] = t >= 0;
        nign += t < 0;
        g[i] = t >= 0 && c->member[(size_t)s * c->K + t];
        if (t < 0) {
          p[i] = 0.0;
          continue;
        }
        p[i] = ss__litem(c, s, i, pv);
      }
    }
    st = ss__ssim3d(p, g, nign > 0 ? valid : NULL, c->nx, c->ny, c->nz,
                    sigma, c->nt, &out[s], err);
  }
  free(p);
  free(g);
  free(valid);
  return st;
}
