/* bench_components.c - connected components (ss__components) on two
 * generated 512x512x200 masks: "organs" (three large ellipsoids, dense)
 * and "lesions" (two organs plus 400 small blobs and 200000 noise voxels);
 * 6/18/26 connectivity at 1 and 2 threads, best of N runs.
 * Usage: bench_components [RUNS].  SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/src/internal.h"

static uint64_t rng_state = 2026;

static uint32_t
rng(void)
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

static void
ellipsoid(uint8_t *m, int64_t nx, int64_t ny, int64_t nz, double cx,
          double cy, double cz, double rx, double ry, double rz)
{
  for (int64_t z = (int64_t)(cz - rz); z <= (int64_t)(cz + rz); z++)
    for (int64_t y = (int64_t)(cy - ry); y <= (int64_t)(cy + ry); y++)
      for (int64_t x = (int64_t)(cx - rx); x <= (int64_t)(cx + rx); x++) {
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz)
          continue;
        double u = (x - cx) / rx, v = (y - cy) / ry, w = (z - cz) / rz;
        if (u * u + v * v + w * w <= 1.0)
          m[x + nx * (y + ny * z)] = 1;
      }
}

static void
run(const char *name, const uint8_t *m, int32_t *lab, int64_t nx, int64_t ny,
    int64_t nz, int reps)
{
  const int64_t n = nx * ny * nz;
  int64_t fg = 0;
  for (int64_t i = 0; i < n; i++)
    fg += m[i];
  printf("components %s: %lldx%lldx%lld, %.2f%% foreground\n", name,
         (long long)nx, (long long)ny, (long long)nz,
         100.0 * (double)fg / (double)n);
  static const int conns[3] = { 6, 18, 26 };
  for (int c = 0; c < 3; c++)
    for (int t = 1; t <= 2; t++) {
      double best = 1e30;
      int32_t ncomp = 0;
      for (int r = 0; r < reps; r++) {
        double t0 = ss__now_ms();
        if (ss__components(m, nx, ny, nz, conns[c], lab, &ncomp, t, NULL)
            != SS_OK)
          exit(1);
        double dt = ss__now_ms() - t0;
        best = dt < best ? dt : best;
      }
      printf("components %s conn=%d threads=%d: %7.1f ms %6.1f Mvox/s "
             "(%d components)\n", name, conns[c], t, best,
             (double)n / best / 1e3, ncomp);
    }
}

int
main(int argc, char **argv)
{
  const int64_t nx = 512, ny = 512, nz = 200, n = nx * ny * nz;
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  uint8_t *m = calloc((size_t)n, 1);
  int32_t *lab = malloc(sizeof *lab * (size_t)n);
  if (m == NULL || lab == NULL)
    return 1;
  ellipsoid(m, nx, ny, nz, 180, 250, 100, 110, 90, 60);  /* liver-like */
  ellipsoid(m, nx, ny, nz, 360, 300, 90, 40, 35, 30);    /* kidney-like */
  ellipsoid(m, nx, ny, nz, 330, 170, 110, 55, 45, 35);   /* spleen-like */
  run("organs", m, lab, nx, ny, nz, reps);
  memset(m, 0, (size_t)n);
  ellipsoid(m, nx, ny, nz, 180, 250, 100, 90, 70, 60);
  ellipsoid(m, nx, ny, nz, 350, 230, 90, 40, 50, 45);
  for (int k = 0; k < 400; k++)
    ellipsoid(m, nx, ny, nz, rng() % nx, rng() % ny, rng() % nz,
              1 + rng() % 6, 1 + rng() % 6, 1 + rng() % 4);
  for (int k = 0; k < 200000; k++)
    m[rng() % (uint32_t)n] = 1;
  run("lesions", m, lab, nx, ny, nz, reps);
  free(m);
  free(lab);
  return 0;
}
