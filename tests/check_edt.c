/* check_edt.c - the exact anisotropic squared distance transform (edt.c)
 * against hand-derived values and a brute-force search.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "../lib/src/internal.h"

/* Brute force: min over every feature voxel of the squared distance. */
static double
brute_sq(const uint8_t *f, int64_t nx, int64_t ny, int64_t nz,
         const double sp[3], int64_t x, int64_t y, int64_t z)
{
  double best = HUGE_VAL;
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++)
        if (f[(k * ny + j) * nx + i]) {
          const double dx = (double)(i - x) * sp[0],
                       dy = (double)(j - y) * sp[1],
                       dz = (double)(k - z) * sp[2];
          const double d = dx * dx + dy * dy + dz * dz;
          best = d < best ? d : best;
        }
  return best;
}

static uint64_t rng_state = 88172645463325252u;
static double
rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void
check_against_brute(int64_t nx, int64_t ny, int64_t nz, const double sp[3],
                    double density, int threads)
{
  const int64_t n = nx * ny * nz;
  uint8_t *f = malloc((size_t)n);
  double *d = malloc((size_t)n * sizeof *d);
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(d);
  for (int64_t i = 0; i < n; i++)
    f[i] = rnd() < density;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, nx, ny, nz, sp, d, threads, &err), SS_OK);
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++) {
        const double b = brute_sq(f, nx, ny, nz, sp, i, j, k);
        const double got = d[(k * ny + j) * nx + i];
        if (b == HUGE_VAL)
          ck_assert(got == HUGE_VAL);
        else
          ck_assert_double_eq_tol(got, b, 1e-9 * (1 + b));
      }
  free(f);
  free(d);
}

START_TEST(test_edt_single_feature_anisotropic_is_exact)
{
  /* One feature at (1, 2, 3) in a 5x6x7 grid, spacing (0.5, 1.25, 2):
   * voxel (4, 0, 0) is at offsets (3, -2, -3) voxels, so
   * d^2 = (1.5)^2 + (2.5)^2 + (6)^2 = 2.25 + 6.25 + 36 = 44.5 mm^2. */
  const double sp[3] = { 0.5, 1.25, 2.0 };
  uint8_t f[5 * 6 * 7] = { 0 };
  double d[5 * 6 * 7];
  f[(3 * 6 + 2) * 5 + 1] = 1;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, 5, 6, 7, sp, d, 1, &err), SS_OK);
  ck_assert_double_eq_tol(d[4], 44.5, 1e-12);
  ck_assert_double_eq(d[(3 * 6 + 2) * 5 + 1], 0.0);
}
END_TEST

START_TEST(test_edt_no_feature_is_huge_val)
{
  const double sp[3] = { 1, 1, 1 };
  uint8_t f[4 * 3 * 2] = { 0 };
  double d[4 * 3 * 2];
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, 4, 3, 2, sp, d, 1, &err), SS_OK);
  for (int i = 0; i < 24; i++)
    ck_assert(d[i] == HUGE_VAL);
}
END_TEST

START_TEST(test_edt_bad_spacing_is_einval)
{
  const double sp[3] = { 1, 0, 1 };
  uint8_t f[1] = { 1 };
  double d[1];
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, 1, 1, 1, sp, d, 1, &err), SS_EINVAL);
}
END_TEST

START_TEST(test_edt_random_3d_matches_brute_force)
{
  const double sp[3] = { 0.7, 1.3, 2.9 };
  check_against_brute(11, 9, 8, sp, 0.05, 1);
  check_against_brute(11, 9, 8, sp, 0.003, 2); /* mostly one or no feature */
  check_against_brute(1, 1, 17, sp, 0.1, 1);   /* lines only */
}
END_TEST

START_TEST(test_edt_random_2d_matches_brute_force)
{
  const double sp[3] = { 0.78125, 2.5, 1 };
  check_against_brute(23, 19, 1, sp, 0.02, 1);
}
END_TEST

START_TEST(test_edt_threads_1_and_2_identical)
{
  /* 48x40x36 = 69120 voxels >= SS_PAR_MIN_VOXELS, so 2 threads run. */
  const int64_t nx = 48, ny = 40, nz = 36, n = nx * ny * nz;
  const double sp[3] = { 0.78125, 0.78125, 2.5 };
  uint8_t *f = malloc((size_t)n);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  for (int64_t i = 0; i < n; i++)
    f[i] = rnd() < 0.001;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, nx, ny, nz, sp, a, 1, &err), SS_OK);
  ck_assert_int_eq(ss__edt_sq(f, nx, ny, nz, sp, b, 2, &err), SS_OK);
  ck_assert_int_eq(memcmp(a, b, (size_t)n * sizeof *a), 0);
  free(f);
  free(a);
  free(b);
}
END_TEST

/* The query-restricted transform equals the full one, bit for bit, at
 * every query voxel. */
static void
check_at(int64_t nx, int64_t ny, int64_t nz, int threads)
{
  const int64_t n = nx * ny * nz;
  const double sp[3] = { 0.78125, 1.1, 2.5 };
  uint8_t *f = malloc((size_t)n), *q = malloc((size_t)n);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  for (int64_t i = 0; i < n; i++) {
    f[i] = rnd() < 0.01;
    q[i] = rnd() < 0.02;
  }
  ss_error err = { 0 };
  ck_assert_int_eq(ss__edt_sq(f, nx, ny, nz, sp, a, threads, &err), SS_OK);
  ck_assert_int_eq(ss__edt_sq_at(f, q, nx, ny, nz, sp, b, threads, &err),
                   SS_OK);
  for (int64_t i = 0; i < n; i++)
    if (q[i])
      ck_assert(memcmp(&a[i], &b[i], sizeof a[i]) == 0);
  free(f);
  free(q);
  free(a);
  free(b);
}

START_TEST(test_edt_at_queries_equals_full_transform)
{
  check_at(48, 40, 36, 1);
  check_at(48, 40, 36, 2);  /* parallel path */
  check_at(300, 250, 1, 2); /* 2-D: the y pass is the last */
  check_at(9, 1, 1, 1);     /* 1-D: no restricted pass */
}
END_TEST

static Suite *
edt_suite(void)
{
  Suite *s = suite_create("edt");
  TCase *tc = tcase_create("ss__edt_sq");
  tcase_add_test(tc, test_edt_single_feature_anisotropic_is_exact);
  tcase_add_test(tc, test_edt_no_feature_is_huge_val);
  tcase_add_test(tc, test_edt_bad_spacing_is_einval);
  tcase_add_test(tc, test_edt_random_3d_matches_brute_force);
  tcase_add_test(tc, test_edt_random_2d_matches_brute_force);
  tcase_add_test(tc, test_edt_threads_1_and_2_identical);
  tcase_add_test(tc, test_edt_at_queries_equals_full_transform);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(edt_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
