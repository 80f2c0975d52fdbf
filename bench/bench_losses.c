/* bench_losses.c - every loss on generated 4-class float32 probability
 * volumes (256^3 and 512x512x200): median time per loss family over a few
 * runs, with 1 and 2 threads, and the peak RSS.  Short runs only:
 *   build/bench/bench_losses [runs] [which: 0 both, 1 = 256^3, 2 = 512^2x200]
 * SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../lib/src/internal.h"

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static inline uint32_t
rnd(void)
{
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (uint32_t)(rs >> 32);
}

/* Four nested "organs" (ellipsoids) on background, and a prediction that
 * is a noisy softmax leaning to the truth with boundary errors. */
static void
generate(int64_t nx, int64_t ny, int64_t nz, ss_volume *pred,
         ss_volume *ref)
{
  int64_t n = nx * ny * nz;
  const int C = 4;
  float *p = malloc((size_t)n * C * sizeof *p);
  uint8_t *idx = malloc((size_t)n);
  if (p == NULL || idx == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
#pragma omp parallel for schedule(static)
  for (int64_t z = 0; z < nz; z++) {
    uint64_t st = 0x1234567ull + (uint64_t)z * 0x9E3779B97F4A7C15ull;
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        int64_t i = (z * ny + y) * nx + x;
        double u = (double)x / nx - 0.5, v = (double)y / ny - 0.5,
               w = (double)z / nz - 0.5;
        double r2 = u * u + v * v + w * w;
        int t = r2 < 0.02 ? 3 : r2 < 0.06 ? 2 : r2 < 0.12 ? 1 : 0;
        idx[i] = (uint8_t)t;
        double e[4], s = 0;
        for (int k = 0; k < C; k++) {
          st ^= st << 13;
          st ^= st >> 7;
          st ^= st << 17;
          double noise = (double)(st >> 40) / 16777216.0;
          e[k] = 2.0 * noise + (k == t ? 3.0 : 0.0);
          s += exp(e[k]);
        }
        for (int k = 0; k < C; k++)
          p[(int64_t)k * n + i] = (float)(exp(e[k]) / s);
      }
  }
  memset(pred, 0, sizeof *pred);
  memset(ref, 0, sizeof *ref);
  pred->data = p;
  pred->nvox = ref->nvox = n;
  pred->info.nx = ref->info.nx = nx;
  pred->info.ny = ref->info.ny = ny;
  pred->info.nz = ref->info.nz = nz;
  pred->info.channels = C;
  ref->info.channels = 1;
  for (int a = 0; a < 3; a++)
    pred->info.spacing_mm[a] = ref->info.spacing_mm[a] = 1.0;
  ref->idx = idx;
  ref->idx_width = 1;
  ref->nlabels = 4;
  ref->labels = malloc(4 * sizeof *ref->labels);
  for (int k = 0; k < 4; k++)
    ref->labels[k] = k;
}

static int
cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const char *name;
  uint32_t set;
  bool tradeoffs;
} family;

#define B(x) (1u << SS_LOSS_##x)

static double
cpu_ms(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Median wall time; *CPU gets the median CPU time (user + system of all
 * threads), which other processes on a shared machine do not inflate. */
static double
run(ss_volume *pred, ss_volume *ref, const family *f, int threads, int runs,
    double *cpu)
{
  double t[16], cp[16];
  for (int k = 0; k < runs; k++) {
    ss_plan plan;
    ss_plan_init(&plan);
    plan.threads = threads;
    plan.loss.set = f->set;
    plan.loss.set_given = true;
    plan.metrics_set = true;
    plan.metrics = f->tradeoffs ? SS_METRIC_TRADEOFFS : 0;
    ss_report r;
    memset(&r, 0, sizeof r);
    int64_t lab[] = { 1, 2, 3 };
    ss_class_report cls[3];
    memset(cls, 0, sizeof cls);
    for (int c = 0; c < 3; c++)
      cls[c].label = lab[c];
    r.classes = cls;
    r.nclasses = 3;
    ss_error err = { 0 };
    double t0 = ss__now_ms(), c0 = cpu_ms();
    ss_status st = ss__losses_score(pred, ref, &plan, &r, &err);
    t[k] = ss__now_ms() - t0;
    cp[k] = cpu_ms() - c0;
    if (st != SS_OK) {
      fprintf(stderr, "%s: %s\n", f->name, err.detail);
      exit(1);
    }
    ss__losses_release(&r);
    ss_plan_clear(&plan);
  }
  qsort(t, (size_t)runs, sizeof *t, cmpd);
  qsort(cp, (size_t)runs, sizeof *cp, cmpd);
  *cpu = cp[runs / 2];
  return t[runs / 2];
}

int
main(int argc, char **argv)
{
  int runs = argc > 1 ? atoi(argv[1]) : 3;
  int which = argc > 2 ? atoi(argv[2]) : 0;
  int only = argc > 3 ? atoi(argv[3]) : -1;
  if (runs < 1 || runs > 16)
    runs = 3;
  const family fams[] = {
    { "ce+wce+focal+topk_threshold",
      B(CE) | B(WCE) | B(FOCAL) | B(TOPK_THRESHOLD), false },
    { "topk", B(TOPK), false },
    { "region (dice..pgdl)",
      B(DICE) | B(DICE_SQUARED) | B(GDL) | B(JACCARD) | B(TVERSKY) |
          B(FOCAL_TVERSKY) | B(FOCAL_DICE) | B(DICE_FOCAL) | B(ASYM) |
          B(PGDL),
      false },
    { "dice_bce", B(DICE_BCE), false },
    { "hybrid_bce_iou_ssim", B(HYBRID), false },
    { "distance (dpce, boundary_aware, kerv., hd_dt)",
      B(DPCE) | B(BOUNDARY_AWARE) | B(BOUNDARY_KERVADEC) | B(HAUSDORFF_DT),
      false },
    { "lesion_compound", B(LESION_COMPOUND), false },
    { "tradeoffs only", 0, true },
    { "all losses (no trade-offs)", SS_LOSS_ALL, false },
    { "survey losses (all but kervadec, hd_dt)", SS_LOSS_ALL & ~B(BOUNDARY_KERVADEC) & ~B(HAUSDORFF_DT), false },
    { "everything (all losses + trade-offs)", SS_LOSS_ALL, true },
  };
  const int64_t shapes[2][3] = { { 256, 256, 256 }, { 512, 512, 200 } };
  for (int s = 0; s < 2; s++) {
    if (which != 0 && which != s + 1)
      continue;
    ss_volume pred, ref;
    generate(shapes[s][0], shapes[s][1], shapes[s][2], &pred, &ref);
    printf("== %lldx%lldx%lld x 4 channels float32, median of %d runs (ms)\n",
           (long long)shapes[s][0], (long long)shapes[s][1],
           (long long)shapes[s][2], runs);
    printf("%-46s %9s %9s %9s %9s\n", "family", "1 thread", "cpu", "2 threads",
           "cpu");
    for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
      if (only >= 0 && (size_t)only != f)
        continue;
      double c1, c2;
      double t1 = run(&pred, &ref, &fams[f], 1, runs, &c1);
      double t2 = run(&pred, &ref, &fams[f], 2, runs, &c2);
      printf("%-46s %9.1f %9.1f %9.1f %9.1f\n", fams[f].name, t1, c1, t2, c2);
      fflush(stdout);
    }
    free(pred.data);
    free(ref.idx);
    free(ref.labels);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS so far: %.0f MB\n", ru.ru_maxrss / 1024.0);
  }
  return 0;
}
