/* edt.c - exact squared Euclidean distance transform with anisotropic
 * spacing: one 1-D pass per axis (x by two scans, y and z by the lower
 * envelope of parabolas of Felzenszwalb & Huttenlocher, "Distance
 * Transforms of Sampled Functions", Theory of Computing 8, 2012).
 * Definitions in docs/boundary.md.  SPDX-License-Identifier: MIT
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* Per-thread scratch of the 1-D transform along a line of N samples. */
typedef struct {
  double *f;   /* input line (gathered) */
  double *d;   /* output line */
  double *z;   /* envelope boundaries, n + 1 */
  int64_t *v;  /* envelope parabola apexes */
} edt_scratch;

/* 1-D squared distance of a sampled function with sample spacing^2 S2:
 * d[q] = min_p f[p] + S2 (q - p)^2, where f may hold HUGE_VAL ("no
 * feature").  Lower envelope of parabolas, Felzenszwalb & Huttenlocher
 * 2012, section 3; infinite samples never enter the envelope, so a line
 * without any finite sample stays HUGE_VAL. */
static void
edt_line(const double *f, double *d, int64_t n, double s2, double *z,
         int64_t *v)
{
  int64_t k = -1;
  for (int64_t q = 0; q < n; q++) {
    if (f[q] == HUGE_VAL)
      continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -HUGE_VAL;
      z[1] = HUGE_VAL;
      continue;
    }
    double s;
    for (;;) {
      const int64_t p = v[k];
      /* abscissa where the parabolas from p and q meet, in index units */
      s = ((f[q] - f[p]) / s2 + (double)(q * q - p * p))
          / (double)(2 * (q - p));
      if (s > z[k])
        break;
      k--;                     /* z[0] = -inf, so k stays >= 0 */
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = HUGE_VAL;
  }
  if (k < 0) {
    for (int64_t q = 0; q < n; q++)
      d[q] = HUGE_VAL;
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; q++) {
    while (z[k + 1] < (double)q)
      k++;
    const double t = (double)(q - v[k]);
    d[q] = s2 * (t * t) + f[v[k]];
  }
}

/* Pass 1 along x: the distance to the nearest feature of the same row is
 * an integer number of samples, found by a forward and a backward scan. */
static void
edt_pass_x(const uint8_t *feature, int64_t nx, int64_t nrows, double s2,
           double *out, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) \
        if (nx * nrows >= SS_PAR_MIN_VOXELS)
  for (int64_t r = 0; r < nrows; r++) {
    const uint8_t *fr = feature + r * nx;
    double *o = out + r * nx;
    int64_t last = -1;
    for (int64_t x = 0; x < nx; x++) {
      if (fr[x])
        last = x;
      o[x] = last < 0 ? HUGE_VAL : (double)(x - last);
    }
    last = -1;
    for (int64_t x = nx - 1; x >= 0; x--) {
      if (fr[x])
        last = x;
      if (last >= 0 && (double)(last - x) < o[x])
        o[x] = (double)(last - x);
    }
    for (int64_t x = 0; x < nx; x++)
      if (o[x] != HUGE_VAL)
        o[x] = s2 * (o[x] * o[x]);
  }
}

/* Passes 2 and 3: lines of N samples, STRIDE apart in OUT, starting at
 * base(line) for NLINES lines.  Lines are spread over threads; each line
 * is computed by the same serial code whatever the team, so the result
 * does not depend on the thread count. */
static void
edt_pass_strided(double *out, int64_t n, int64_t stride, int64_t nlines,
                 int64_t inner, int64_t outer_step, double s2,
                 edt_scratch *scr, int threads)
{
  /* line l: base = (l / inner) * outer_step + (l % inner) */
#pragma omp parallel num_threads(threads) \
        if (n * nlines >= SS_PAR_MIN_VOXELS)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    edt_scratch *s = &scr[t];
#pragma omp for schedule(static)
    for (int64_t l = 0; l < nlines; l++) {
      double *base = out + (l / inner) * outer_step + (l % inner);
      bool any = false;
      for (int64_t q = 0; q < n; q++) {
        s->f[q] = base[q * stride];
        any |= s->f[q] != HUGE_VAL;
      }
      if (!any)
        continue;
      edt_line(s->f, s->d, n, s2, s->z, s->v);
      for (int64_t q = 0; q < n; q++)
        base[q * stride] = s->d[q];
    }
  }
}

ss_status
ss__edt_sq(const uint8_t *feature, int64_t nx, int64_t ny, int64_t nz,
           const double sp[3], double *out, int threads, ss_error *err)
{
  if (feature == NULL || out == NULL || sp == NULL || nx <= 0 || ny <= 0
      || nz <= 0)
    return ss__fail(err, SS_EINVAL, "distance transform: empty grid");
  for (int a = 0; a < 3; a++)
    if (!(sp[a] > 0) || !isfinite(sp[a]))
      return ss__fail(err, SS_EINVAL,
                      "distance transform: spacing must be positive");
  if (threads < 1)
    threads = 1;

  int64_t nmax = ny > nz ? ny : nz;
  uint64_t per = 0, total = 0;
  /* f, d: n; z: n + 1; v: n  (all 8-byte) */
  if (!ss__mul_ok((uint64_t)nmax + 1, 4 * sizeof(double), &per)
      || !ss__mul_ok(per, (uint64_t)threads, &total) || total > SIZE_MAX)
    return ss__fail(err, SS_ETOOBIG, "distance transform: grid too large");
  edt_scratch *scr = calloc((size_t)threads, sizeof *scr);
  double *pool = malloc((size_t)total);
  if (scr == NULL || pool == NULL) {
    free(scr);
    free(pool);
    return ss__fail(err, SS_ENOMEM, "distance transform: out of memory");
  }
  for (int t = 0; t < threads; t++) {
    double *b = pool + (size_t)t * (size_t)(nmax + 1) * 4;
    scr[t].f = b;
    scr[t].d = b + (nmax + 1);
    scr[t].z = b + 2 * (nmax + 1);
    scr[t].v = (int64_t *)(b + 3 * (nmax + 1));
  }

  edt_pass_x(feature, nx, ny * nz, sp[0] * sp[0], out, threads);
  if (ny > 1)    /* lines along y: one per (x, z) */
    edt_pass_strided(out, ny, nx, nx * nz, nx, nx * ny, sp[1] * sp[1], scr,
                     threads);
  if (nz > 1)    /* lines along z: one per (x, y) */
    edt_pass_strided(out, nz, nx * ny, nx * ny, nx * ny, 0, sp[2] * sp[2],
                     scr, threads);
  free(pool);
  free(scr);
  return SS_OK;
}
