/* losses_ssim.c - 3-D structural similarity for the hybrid BCE + IoU +
 * SSIM loss (Qin et al., BASNet, CVPR 2019; SSIM: Wang et al., IEEE TIP
 * 2004, with a Gaussian window as in their paper and MONAI's SSIMLoss).
 *
 * Local means come from a normalised convolution: every field is
 * multiplied by the validity mask m (0 outside the volume and on ignored
 * voxels) and divided by the filtered mask, so windows are truncated at
 * the borders and renormalised instead of padded.  The separable Gaussian
 * runs along x and y per slice into a ring of 2R+1 slices, then along z,
 * so memory is O(nx ny R) whatever nz is.  Rows of a slice run in
 * parallel; each output slice's sum is the serial sum of its row sums, and
 * slices are added in order: identical results for any thread count.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "losses_internal.h"

#include <math.h>
#include <stdlib.h>

#define NF 5            /* m, m p, m p^2, m g, m p g */
#define SSIM_C1 (0.01 * 0.01)
#define SSIM_C2 (0.03 * 0.03)

ss_status
ss__ssim3d(const double *p, const uint8_t *g, const uint8_t *valid,
           int64_t nx, int64_t ny, int64_t nz, double sigma, int threads,
           double *out, ss_error *err)
{
  int R = (int)ceil(3.0 * sigma);
  if (R < 1)
    R = 1;
  const int W = 2 * R + 1;
  double w[64 + 1];
  if (W > 64)
    return ss__fail(err, SS_ERANGE, "SSIM window too large");
  for (int d = -R; d <= R; d++)
    w[d + R] = exp(-(double)d * d / (2.0 * sigma * sigma));
  const size_t plane = (size_t)nx * (size_t)ny;
  double *ring = malloc((size_t)W * NF * plane * sizeof *ring);
  double *tmp = malloc((size_t)NF * plane * sizeof *tmp);
  double *rows = malloc((size_t)ny * sizeof *rows);
  int64_t *rown = malloc((size_t)ny * sizeof *rown);
  double *fbuf = malloc((size_t)threads * NF * (size_t)nx * sizeof *fbuf);
  if (!ring || !tmp || !rows || !rown || !fbuf) {
    free(ring);
    free(tmp);
    free(rows);
    free(rown);
    free(fbuf);
    return ss__fail(err, SS_ENOMEM, "out of memory for SSIM");
  }
  double total = 0.0;
  int64_t nvalid = 0;
  bool par = (int64_t)plane * nz >= SS_PAR_MIN_VOXELS;

#pragma omp parallel num_threads(threads) if (par)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    double *fb = fbuf + (size_t)tid * NF * (size_t)nx;
    for (int64_t zin = 0; zin < nz + R; zin++) {
      if (zin < nz) {
        double *slot = ring + (size_t)(zin % W) * NF * plane;
        /* x pass, row by row, from the raw fields */
#pragma omp for schedule(static)
        for (int64_t y = 0; y < ny; y++) {
          size_t base = (size_t)zin * plane + (size_t)y * (size_t)nx;
          for (int64_t x = 0; x < nx; x++) {
            size_t i = base + (size_t)x;
            double m = valid == NULL || valid[i] ? 1.0 : 0.0;
            double pv = m * p[i], gv = g[i] ? m : 0.0;
            fb[0 * nx + x] = m;
            fb[1 * nx + x] = pv;
            fb[2 * nx + x] = pv * p[i];
            fb[3 * nx + x] = gv;
            fb[4 * nx + x] = gv * p[i];
          }
          for (int f = 0; f < NF; f++) {
            const double *src = fb + (size_t)f * nx;
            double *dst = tmp + (size_t)f * plane + (size_t)y * nx;
            for (int64_t x = 0; x < nx; x++) {
              int64_t lo = x - R < 0 ? -x : -R;
              int64_t hi = x + R >= nx ? nx - 1 - x : R;
              double s = 0.0;
              for (int64_t d = lo; d <= hi; d++)
                s += w[d + R] * src[x + d];
              dst[x] = s;
            }
          }
        }
        /* y pass into the ring slot */
#pragma omp for schedule(static)
        for (int64_t y = 0; y < ny; y++) {
          int64_t lo = y - R < 0 ? -y : -R;
          int64_t hi = y + R >= ny ? ny - 1 - y : R;
          for (int f = 0; f < NF; f++) {
            const double *src = tmp + (size_t)f * plane;
            double *dst = slot + (size_t)f * plane + (size_t)y * nx;
            for (int64_t x = 0; x < nx; x++)
              dst[x] = 0.0;
            for (int64_t d = lo; d <= hi; d++) {
              const double *sr = src + (size_t)(y + d) * nx;
              double wd = w[d + R];
              for (int64_t x = 0; x < nx; x++)
                dst[x] += wd * sr[x];
            }
          }
        }
      }
      int64_t z = zin - R;
      if (z < 0)
        continue;
      /* z pass and SSIM of output slice z */
      int64_t lo = z - R < 0 ? -z : -R;
      int64_t hi = z + R >= nz ? nz - 1 - z : R;
#pragma omp for schedule(static)
      for (int64_t y = 0; y < ny; y++) {
        double rs = 0.0;
        int64_t rn = 0;
        for (int64_t x = 0; x < nx; x++) {
          size_t i = (size_t)z * plane + (size_t)y * nx + (size_t)x;
          if (valid != NULL && !valid[i])
            continue;
          double F[NF] = { 0, 0, 0, 0, 0 };
          size_t off = (size_t)y * nx + (size_t)x;
          for (int64_t d = lo; d <= hi; d++) {
            const double *sl = ring + (size_t)((z + d) % W) * NF * plane;
            double wd = w[d + R];
            for (int f = 0; f < NF; f++)
              F[f] += wd * sl[(size_t)f * plane + off];
          }
          double mp = F[1] / F[0], mg = F[3] / F[0];
          double vp = F[2] / F[0] - mp * mp, vg = mg - mg * mg;
          double cv = F[4] / F[0] - mp * mg;
          rs += ((2.0 * mp * mg + SSIM_C1) * (2.0 * cv + SSIM_C2)) /
                ((mp * mp + mg * mg + SSIM_C1) * (vp + vg + SSIM_C2));
          rn++;
        }
        rows[y] = rs;
        rown[y] = rn;
      }
#pragma omp single
      {
        double s = 0.0;
        for (int64_t y = 0; y < ny; y++) {
          s += rows[y];
          nvalid += rown[y];
        }
        total += s;
      }
    }
  }
  *out = nvalid > 0 ? total / (double)nvalid : 1.0;
  free(ring);
  free(tmp);
  free(rows);
  free(rown);
  free(fbuf);
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
      double *pv = scratch + (size_t)tid * c->K;
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
        ss__lprobs(c, i, pv);
        double ps = 0.0;
        for (int m = c->moff[s]; m < c->moff[s + 1]; m++)
          ps += pv[c->mem[m]];
        p[i] = ps;
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
