/* bench_overlap.c - decode and overlap-pass timings on a file pair.
 * Usage: bench_overlap PRED REF [RUNS].  Prints medians in ms for 1 and 2
 * threads.  SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segscore.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static double
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *
slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n);
  if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int
main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: bench_overlap PRED REF [RUNS]\n");
    return 2;
  }
  int runs = argc > 3 ? atoi(argv[3]) : 7;
  if (runs < 1 || runs > 100)
    runs = 7;
  size_t lp, lr;
  char *bp = slurp(argv[1], &lp), *br = slurp(argv[2], &lr);
  if (bp == NULL || br == NULL) {
    fprintf(stderr, "cannot read inputs\n");
    return 1;
  }
  double dec[100], ov[100];
  for (int t = 1; t <= 2; t++) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    for (int r = 0; r < runs; r++) {
      ss_volume *p = NULL, *q = NULL;
      ss_error err = { 0 };
      double t0 = now_ms();
      if (ss_volume_read_mem(bp, lp, NULL, &p, &err) != SS_OK ||
          ss_volume_read_mem(br, lr, NULL, &q, &err) != SS_OK) {
        fprintf(stderr, "decode: %s\n", err.detail);
        return 1;
      }
      double t1 = now_ms();
      ss_plan plan;
      ss_plan_init(&plan);
      plan.metrics = SS_METRIC_OVERLAP;
      plan.metrics_set = true;
      plan.threads = t;
      ss_report *rep = NULL;
      if (ss_score(p, q, &plan, &rep, &err) != SS_OK) {
        fprintf(stderr, "score: %s\n", err.detail);
        return 1;
      }
      double t2 = now_ms();
      dec[r] = t1 - t0;
      ov[r] = t2 - t1;
      ss_report_free(rep);
      ss_volume_free(p);
      ss_volume_free(q);
    }
    printf("threads=%d decode_pair_ms=%.2f overlap_ms=%.2f (median of %d)\n",
           t, median(dec, runs), median(ov, runs), runs);
  }
  free(bp);
  free(br);
  return 0;
}
