/* edt.c - exact squared Euclidean distance transform with anisotropic
 * spacing: one 1-D pass per axis (x by two scans, y and z by the lower
 * envelope of parabolas of Felzenszwalb & Huttenlocher, "Distance
 * Transforms of Sampled Functions", Theory of Computing 8, 2012).
 * Definitions in docs/boundary.md.  SPDX-License-Identifier: MIT
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* Lines along y and z are strided in memory; they are processed in tiles
 * of EDT_TILE neighbouring lines, gathered row by row (contiguous reads)
 * into a per-thread buffer, transformed, and scattered back. */
#define EDT_TILE 64

/* Per-thread scratch for lines of up to N samples. */
typedef struct {
  double *tile; /* EDT_TILE lines of n, line-major */
  double *d;    /* output line */
  double *z;    /* envelope boundaries, n + 1 */
  int64_t *v;   /* envelope parabola apexes */
  double *g;    /* their offsets f / s2 + p^2 */
} edt_scratch;

/* The lower envelope of the parabolas q -> f[p] + S2 (q - p)^2 of the
 * finite samples of F (Felzenszwalb & Huttenlocher 2012, section 3), in
 * units of S2: g = f / S2 + p^2 is each parabola's offset, so an
 * intersection costs one division.  Fills V (apexes), G and Z (Z[k] is
 * where parabola k starts to be lowest; Z needs n + 1 entries) and
 * returns the index of the last parabola, or -1 when F has no finite
 * sample ("no feature": HUGE_VAL everywhere). */
static int64_t
edt_envelope(const double *f, int64_t n, double s2, double *z, int64_t *v,
             double *g)
{
  const double inv = 1.0 / s2;
  int64_t k = -1;
  for (int64_t q = 0; q < n; q++) {
    if (f[q] == HUGE_VAL)
      continue;
    const double gq = f[q] * inv + (double)(q * q);
    if (k < 0) {
      k = 0;
      v[0] = q;
      g[0] = gq;
      z[0] = -HUGE_VAL;
      z[1] = HUGE_VAL;
      continue;
    }
    double s;
    for (;;) {
      /* abscissa where the parabolas from v[k] and q meet */
      s = (gq - g[k]) / (double)(2 * (q - v[k]));
      if (s > z[k])
        break;
      k--; /* z[0] = -inf, so k stays >= 0 */
    }
    k++;
    v[k] = q;
    g[k] = gq;
    z[k] = s;
    z[k + 1] = HUGE_VAL;
  }
  return k;
}

/* 1-D squared distance d[q] = min_p f[p] + S2 (q - p)^2 of every sample. */
static void
edt_line(const double *f, double *d, int64_t n, double s2, double *z,
         int64_t *v, double *g)
{
  if (edt_envelope(f, n, s2, z, v, g) < 0) {
    for (int64_t q = 0; q < n; q++)
      d[q] = HUGE_VAL;
    return;
  }
  int64_t k = 0;
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
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (nx * nrows >= SS_PAR_MIN_VOXELS)
  for (int64_t r = 0; r < nrows; r++) {
    const uint8_t *fr = feature + r * nx;
    double *o = out + r * nx;
    /* forward: distance in samples to the nearest feature on the left;
     * backward: take the right one when nearer, then square in mm^2 */
    int64_t last = -1;
    for (int64_t x = 0; x < nx; x++) {
      if (fr[x])
        last = x;
      o[x] = last < 0 ? HUGE_VAL : (double)(x - last);
    }
    if (last < 0) /* no feature in the row: all HUGE_VAL already */
      continue;
    last = -1;
    for (int64_t x = nx - 1; x >= 0; x--) {
      if (fr[x])
        last = x;
      double d = o[x];
      if (last >= 0 && (double)(last - x) < d)
        d = (double)(last - x);
      o[x] = d == HUGE_VAL ? HUGE_VAL : s2 * (d * d);
    }
  }
}

/* The last pass with QUERY: a line without a query sample is skipped, and
 * a line with some is evaluated at its query samples only (same values as
 * edt_line there).  QB is the query byte of the tile's first sample. */
static void
edt_tile_at(double *base, const uint8_t *qb, int64_t n, int64_t stride, int w,
            double s2, edt_scratch *s)
{
  bool need[EDT_TILE] = { false }, some = false;
  for (int64_t q = 0; q < n; q++) {
    const uint8_t *qr = qb + q * stride;
    for (int b = 0; b < w; b++)
      need[b] |= qr[b] != 0;
  }
  for (int b = 0; b < w; b++)
    some |= need[b];
  if (!some)
    return;
  for (int64_t q = 0; q < n; q++) {
    const double *row = base + q * stride;
    for (int b = 0; b < w; b++)
      s->tile[b * n + q] = row[b];
  }
  for (int b = 0; b < w; b++) {
    if (!need[b])
      continue;
    const double *f = s->tile + b * n;
    const bool none = edt_envelope(f, n, s2, s->z, s->v, s->g) < 0;
    int64_t k = 0;
    for (int64_t q = 0; q < n; q++) {
      if (!qb[q * stride + b])
        continue;
      if (none) {
        base[q * stride + b] = HUGE_VAL;
        continue;
      }
      while (s->z[k + 1] < (double)q)
        k++;
      const double t = (double)(q - s->v[k]);
      base[q * stride + b] = s2 * (t * t) + f[s->v[k]];
    }
  }
}

/* Passes 2 and 3: lines of N samples, STRIDE apart; line i of block o
 * (i < INNER, o < NOUTER) starts at o * OUTER_STEP + i.  Tiles are spread
 * over threads; each line is computed by the same serial code whatever
 * the team, so the result does not depend on the thread count.  With
 * QUERY (same layout as OUT, or NULL) only query samples get values. */
static void
edt_pass_tiled(double *out, const uint8_t *query, int64_t n, int64_t stride,
               int64_t nouter, int64_t inner, int64_t outer_step, double s2,
               edt_scratch *scr, int threads)
{
  const int64_t per = (inner + EDT_TILE - 1) / EDT_TILE;
  const int64_t ntiles = nouter * per;
#pragma omp parallel num_threads(threads) if (n * nouter * inner               \
                                              >= SS_PAR_MIN_VOXELS)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    edt_scratch *s = &scr[t];
#pragma omp for schedule(static)
    for (int64_t k = 0; k < ntiles; k++) {
      const int64_t o = k / per, i0 = (k % per) * EDT_TILE;
      const int w = (int)(inner - i0 < EDT_TILE ? inner - i0 : EDT_TILE);
      const int64_t at = o * outer_step + i0;
      if (query != NULL) {
        edt_tile_at(out + at, query + at, n, stride, w, s2, s);
        continue;
      }
      double *base = out + at;
      bool any[EDT_TILE] = { false }, some = false;
      for (int64_t q = 0; q < n; q++) {
        const double *row = base + q * stride;
        for (int b = 0; b < w; b++) {
          s->tile[b * n + q] = row[b];
          any[b] |= row[b] != HUGE_VAL;
        }
      }
      for (int b = 0; b < w; b++) {
        if (!any[b])
          continue;
        some = true;
        edt_line(s->tile + b * n, s->d, n, s2, s->z, s->v, s->g);
        memcpy(s->tile + b * n, s->d, (size_t)n * sizeof *s->d);
      }
      if (!some)
        continue;
      for (int64_t q = 0; q < n; q++) {
        double *row = base + q * stride;
        for (int b = 0; b < w; b++)
          row[b] = s->tile[b * n + q];
      }
    }
  }
}

/* ss__edt_sq and ss__edt_sq_at: QUERY NULL computes every voxel. */
static ss_status
edt_run(const uint8_t *feature, const uint8_t *query, int64_t nx, int64_t ny,
        int64_t nz, const double sp[3], double *out, int threads, ss_error *err)
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
  /* tile: EDT_TILE * m; d, z, v, g: m each (8-byte), m = nmax + 1 */
  if (!ss__mul_ok((uint64_t)nmax + 1, (EDT_TILE + 4) * sizeof(double), &per)
      || !ss__mul_ok(per, (uint64_t)threads, &total) || total > SIZE_MAX)
    return ss__fail(err, SS_ETOOBIG, "distance transform: grid too large");
  edt_scratch *scr = calloc((size_t)threads, sizeof *scr);
  double *pool = malloc((size_t)total);
  if (scr == NULL || pool == NULL) {
    free(scr);
    free(pool);
    return ss__fail(err, SS_ENOMEM, "distance transform: out of memory");
  }
  const size_t m = (size_t)nmax + 1;
  for (int t = 0; t < threads; t++) {
    double *b = pool + (size_t)t * m * (EDT_TILE + 4);
    scr[t].tile = b;
    scr[t].d = b + EDT_TILE * m;
    scr[t].z = b + (EDT_TILE + 1) * m;
    scr[t].v = (int64_t *)(b + (EDT_TILE + 2) * m);
    scr[t].g = b + (EDT_TILE + 3) * m;
  }

  /* The query restriction applies to the last pass only. */
  edt_pass_x(feature, nx, ny * nz, sp[0] * sp[0], out, threads);
  if (ny > 1) /* lines along y: nx per z-slice */
    edt_pass_tiled(out, nz > 1 ? NULL : query, ny, nx, nz, nx, nx * ny,
                   sp[1] * sp[1], scr, threads);
  if (nz > 1) /* lines along z: one per (x, y), contiguous bases */
    edt_pass_tiled(out, query, nz, nx * ny, 1, nx * ny, 0, sp[2] * sp[2], scr,
                   threads);
  free(pool);
  free(scr);
  return SS_OK;
}

ss_status
ss__edt_sq(const uint8_t *feature, int64_t nx, int64_t ny, int64_t nz,
           const double sp[3], double *out, int threads, ss_error *err)
{
  return edt_run(feature, NULL, nx, ny, nz, sp, out, threads, err);
}

ss_status
ss__edt_sq_at(const uint8_t *feature, const uint8_t *query, int64_t nx,
              int64_t ny, int64_t nz, const double sp[3], double *out,
              int threads, ss_error *err)
{
  if (query == NULL)
    return ss__fail(err, SS_EINVAL, "distance transform: no query mask");
  return edt_run(feature, query, nx, ny, nz, sp, out, threads, err);
}
