/* bench_boundary.c - timing of the distance transform and the boundary
 * metrics on generated organ-like label maps: a 512x512x200 pair (spacing
 * 0.78125 x 0.78125 x 2.5 mm, liver, spleen and kidney shapes) and a
 * 256^3 pair, with 1 and 2 threads, median of several runs.  The volumes
 * go through the real NIfTI decoder (uncompressed, in memory).  With
 * --write DIR it also writes the pairs as DIR/{pred,ref}_{512,256}.nii for
 * timing the CLI; with --edt only the distance transform runs.
 * SPDX-License-Identifier: MIT */
#include <math.h>
#include <nifti1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/src/internal.h"

#define RUNS 5

typedef struct {
  double c[3]; /* centre, mm */
  double a[3]; /* semi-axes, mm */
  int label;
} organ;

/* Organ-like blobs: ellipsoids whose radius is modulated by a smooth
 * bump field, the prediction's with its own phase and a small shift, so
 * the surfaces differ by a few mm in a realistic pattern. */
static void
paint(uint8_t *v, int64_t nx, int64_t ny, int64_t nz, const double sp[3],
      const organ *o, int no, double shift, double phase)
{
  memset(v, 0, (size_t)(nx * ny * nz));
  for (int k = 0; k < no; k++) {
    int64_t lo[3], hi[3];
    const int64_t n[3] = { nx, ny, nz };
    for (int a = 0; a < 3; a++) {
      lo[a] = (int64_t)((o[k].c[a] - 1.3 * o[k].a[a]) / sp[a]);
      hi[a] = (int64_t)((o[k].c[a] + 1.3 * o[k].a[a]) / sp[a]) + 1;
      lo[a] = lo[a] < 0 ? 0 : lo[a];
      hi[a] = hi[a] > n[a] ? n[a] : hi[a];
    }
    for (int64_t z = lo[2]; z < hi[2]; z++)
      for (int64_t y = lo[1]; y < hi[1]; y++)
        for (int64_t x = lo[0]; x < hi[0]; x++) {
          const double px = x * sp[0], py = y * sp[1], pz = z * sp[2];
          const double dx = (px - o[k].c[0] - shift) / o[k].a[0];
          const double dy = (py - o[k].c[1] + 0.5 * shift) / o[k].a[1];
          const double dz = (pz - o[k].c[2]) / o[k].a[2];
          const double bump = 0.12 * sin(px * 0.045 + phase)
                              * sin(py * 0.06 + 2 * phase) * cos(pz * 0.05);
          if (dx * dx + dy * dy + dz * dz <= 1 + bump)
            v[(z * ny + y) * nx + x] = (uint8_t)o[k].label;
        }
  }
}

/* An uncompressed NIfTI-1 image of V in memory (uint8, diagonal affine). */
static uint8_t *
nifti_bytes(const uint8_t *v, int64_t nx, int64_t ny, int64_t nz,
            const double sp[3], size_t *len)
{
  nifti_1_header h;
  memset(&h, 0, sizeof h);
  h.sizeof_hdr = 348;
  h.dim[0] = 3;
  h.dim[1] = (short)nx;
  h.dim[2] = (short)ny;
  h.dim[3] = (short)nz;
  h.dim[4] = h.dim[5] = h.dim[6] = h.dim[7] = 1;
  h.datatype = DT_UINT8;
  h.bitpix = 8;
  h.pixdim[0] = 1;
  for (int a = 0; a < 3; a++)
    h.pixdim[a + 1] = (float)sp[a];
  h.vox_offset = 352;
  h.scl_slope = 0;
  h.xyzt_units = NIFTI_UNITS_MM;
  h.sform_code = 1;
  h.srow_x[0] = (float)sp[0];
  h.srow_y[1] = (float)sp[1];
  h.srow_z[2] = (float)sp[2];
  memcpy(h.magic, "n+1", 4);
  const size_t n = (size_t)(nx * ny * nz);
  *len = 352 + n;
  uint8_t *b = calloc(*len, 1);
  if (b == NULL)
    return NULL;
  memcpy(b, &h, sizeof h);
  memcpy(b + 352, v, n);
  return b;
}

static int
cmp_d(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts T: afterwards t[0] is the minimum. */
static double
median(double *t, int n)
{
  qsort(t, (size_t)n, sizeof *t, cmp_d);
  return t[n / 2];
}

static int
write_file(const char *dir, const char *name, const uint8_t *b, size_t len)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(b, 1, len, f) != len) {
    fprintf(stderr, "cannot write %s\n", path);
    if (f)
      fclose(f);
    return -1;
  }
  return fclose(f);
}

/* EDT alone on a grid the size of CROP (features: a sparse shell). */
static void
bench_edt(int64_t nx, int64_t ny, int64_t nz, const double sp[3])
{
  const int64_t n = nx * ny * nz;
  uint8_t *f = calloc((size_t)n, 1);
  double *d = malloc((size_t)n * sizeof *d);
  if (f == NULL || d == NULL)
    exit(1);
  for (int64_t z = 0; z < nz; z++) /* an ellipsoidal shell */
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        const double u = (2.0 * x - nx) / nx, v = (2.0 * y - ny) / ny,
                     w = (2.0 * z - nz) / nz;
        const double q = u * u + v * v + w * w;
        f[(z * ny + y) * nx + x] = q > 0.8 && q < 0.85;
      }
  for (int th = 1; th <= 2; th++) {
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
      ss_error err = { 0 };
      const double t0 = ss__now_ms();
      if (ss__edt_sq(f, nx, ny, nz, sp, d, th, &err) != SS_OK)
        exit(1);
      t[r] = ss__now_ms() - t0;
    }
    const double m = median(t, RUNS);
    printf("edt %lldx%lldx%lld  threads %d  median %8.2f ms (min %8.2f)  "
           "%6.2f ns/voxel\n",
           (long long)nx, (long long)ny, (long long)nz, th, m, t[0],
           m * 1e6 / (double)n);
  }
  free(f);
  free(d);
}

static void
bench_pair(const char *tag, int64_t nx, int64_t ny, int64_t nz,
           const double sp[3], const organ *o, int no, const char *dir)
{
  const int64_t n = nx * ny * nz;
  uint8_t *v = malloc((size_t)n);
  size_t lp, lr;
  if (v == NULL)
    exit(1);
  paint(v, nx, ny, nz, sp, o, no, 0, 0);
  uint8_t *br = nifti_bytes(v, nx, ny, nz, sp, &lr);
  paint(v, nx, ny, nz, sp, o, no, 1.6, 0.7);
  uint8_t *bp = nifti_bytes(v, nx, ny, nz, sp, &lp);
  free(v);
  if (bp == NULL || br == NULL)
    exit(1);
  if (dir != NULL) {
    char name[64];
    snprintf(name, sizeof name, "pred_%s.nii", tag);
    write_file(dir, name, bp, lp);
    snprintf(name, sizeof name, "ref_%s.nii", tag);
    write_file(dir, name, br, lr);
  }
  ss_volume *p = NULL, *r = NULL;
  ss_error err = { 0 };
  if (ss_volume_read_mem(bp, lp, NULL, &p, &err) != SS_OK
      || ss_volume_read_mem(br, lr, NULL, &r, &err) != SS_OK) {
    fprintf(stderr, "decode: %s\n", err.detail);
    exit(1);
  }
  free(bp);
  free(br);
  for (int th = 1; th <= 2; th++) {
    double tt[RUNS], tb[RUNS], to[RUNS];
    ss_plan plan;
    ss_plan_init(&plan);
    plan.threads = th;
    ss_report *rep = NULL;
    for (int k = 0; k < RUNS; k++) {
      const double t0 = ss__now_ms();
      if (ss_score(p, r, &plan, &rep, &err) != SS_OK) {
        fprintf(stderr, "score: %s\n", err.detail);
        exit(1);
      }
      tt[k] = ss__now_ms() - t0;
      tb[k] = rep->timing.boundary_ms;
      to[k] = rep->timing.overlap_ms;
      if (k == RUNS - 1 && th == 1)
        for (int c = 0; c < rep->nclasses; c++)
          printf("  class %s: hd %.3f hd95 %.3f assd %.4f nsd(1) %.4f\n",
                 rep->classes[c].name, rep->classes[c].boundary.hd.value,
                 rep->classes[c].boundary.hdp[0].value,
                 rep->classes[c].boundary.assd.value,
                 rep->classes[c].boundary.nsd[0].value);
      ss_report_free(rep);
    }
    const double mt = median(tt, RUNS), mb = median(tb, RUNS);
    printf("score %s (%lld voxels) threads %d: total median %7.1f ms "
           "(min %7.1f; overlap %6.1f, boundary %6.1f, min %6.1f)  "
           "%5.2f ns/voxel\n",
           tag, (long long)n, th, mt, tt[0], median(to, RUNS), mb, tb[0],
           mt * 1e6 / (double)n);
  }
  ss_volume_free(p);
  ss_volume_free(r);
}

int
main(int argc, char **argv)
{
  const char *dir
      = argc == 3 && strcmp(argv[1], "--write") == 0 ? argv[2] : NULL;
  const bool edt_only = argc == 2 && strcmp(argv[1], "--edt") == 0;
  const double sp512[3] = { 0.78125, 0.78125, 2.5 };
  /* 400 x 400 x 500 mm field of view: liver, spleen, right kidney. */
  const organ big[3] = {
    { { 150, 190, 260 }, { 95, 75, 80 }, 1 },
    { { 290, 210, 270 }, { 55, 38, 55 }, 2 },
    { { 160, 250, 190 }, { 30, 28, 55 }, 3 },
  };
  const double sp256[3] = { 1, 1, 1 };
  const organ small[3] = {
    { { 100, 120, 130 }, { 70, 55, 60 }, 1 },
    { { 190, 130, 130 }, { 40, 28, 40 }, 2 },
    { { 110, 170, 80 }, { 22, 20, 40 }, 3 },
  };
  bench_edt(256, 200, 70, sp512); /* about the liver's dual crop */
  if (edt_only)
    return 0;
  bench_pair("512", 512, 512, 200, sp512, big, 3, dir);
  bench_pair("256", 256, 256, 256, sp256, small, 3, dir);
  return 0;
}
