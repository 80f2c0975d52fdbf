/* check_consensus.c - majority-vote consensus of several references
 * (lib/src/consensus.c): votes, ties to the smallest label, shape checks.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>

#include "../lib/src/internal.h"

static ss_volume *
vol(const int32_t *l, int64_t n)
{
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_labels(l, n, 1, 1, NULL, &v, &err), SS_OK);
  return v;
}

static int64_t
label_at(const ss_volume *v, int64_t i)
{
  unsigned k = v->idx_width == 1 ? ((const uint8_t *)v->idx)[i]
                                 : ((const uint16_t *)v->idx)[i];
  return v->labels[k];
}

START_TEST(test_consensus_three_raters_majority_and_ties)
{
  /* voxel: r1 r2 r3 -> vote
   *   0:    0  0  0 -> 0
   *   1:    1  1  0 -> 1 (2 of 3)
   *   2:    1  2  3 -> 1 (three-way tie, smallest label)
   *   3:    5  5  5 -> 5
   *   4:    2  0  2 -> 2
   *   5:    0  3  7 -> 0 (tie: background wins)  => 2 tied voxels */
  static const int32_t a[6] = { 0, 1, 1, 5, 2, 0 };
  static const int32_t b[6] = { 0, 1, 2, 5, 0, 3 };
  static const int32_t c[6] = { 0, 0, 3, 5, 2, 7 };
  static const int64_t want[6] = { 0, 1, 1, 5, 2, 0 };
  ss_volume *r[3] = { vol(a, 6), vol(b, 6), vol(c, 6) }, *out = NULL;
  int64_t tied = -1;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_consensus((const ss_volume *const *)r, 3, 1,
                                       &out, &tied, &err), SS_OK);
  ck_assert_int_eq(tied, 2);
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq(label_at(out, i), want[i]);
  /* The table lists only labels that won: 0, 1, 2, 5. */
  ck_assert_int_eq(out->nlabels, 4);
  ck_assert_int_eq(out->labels[3], 5);
  ss_volume_free(out);
  for (int k = 0; k < 3; k++)
    ss_volume_free(r[k]);
}
END_TEST

START_TEST(test_consensus_two_raters_disagreement_goes_to_background)
{
  static const int32_t a[4] = { 1, 1, 0, 0 }, b[4] = { 1, 0, 1, 0 };
  ss_volume *r[2] = { vol(a, 4), vol(b, 4) }, *out = NULL;
  int64_t tied = 0;
  ck_assert_int_eq(ss_volume_consensus((const ss_volume *const *)r, 2, 1,
                                       &out, &tied, NULL), SS_OK);
  ck_assert_int_eq(tied, 2);
  ck_assert_int_eq(label_at(out, 0), 1);
  ck_assert_int_eq(label_at(out, 1), 0);
  ck_assert_int_eq(label_at(out, 2), 0);
  ss_volume_free(out);
  ss_volume_free(r[0]);
  ss_volume_free(r[1]);
}
END_TEST

START_TEST(test_consensus_shape_mismatch_is_eshape)
{
  static const int32_t a[4] = { 1 }, b[3] = { 1 };
  ss_volume *r[2] = { vol(a, 4), vol(b, 3) }, *out = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_consensus((const ss_volume *const *)r, 2, 1,
                                       &out, NULL, &err), SS_ESHAPE);
  ck_assert_ptr_null(out);
  ss_volume_free(r[0]);
  ss_volume_free(r[1]);
}
END_TEST

START_TEST(test_consensus_large_is_thread_independent)
{
  /* 3 raters with noise on 100000 voxels: same volume for 1 and 3
   * threads. */
  const int64_t n = 100000;
  int32_t *l[3];
  uint64_t s = 5;
  for (int k = 0; k < 3; k++) {
    l[k] = malloc(sizeof *l[k] * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      l[k][i] = (int32_t)((s >> 33) % 4);
    }
  }
  ss_volume *r[3] = { vol(l[0], n), vol(l[1], n), vol(l[2], n) };
  ss_volume *o1 = NULL, *o3 = NULL;
  int64_t t1 = 0, t3 = 0;
  ck_assert_int_eq(ss_volume_consensus((const ss_volume *const *)r, 3, 1,
                                       &o1, &t1, NULL), SS_OK);
  ck_assert_int_eq(ss_volume_consensus((const ss_volume *const *)r, 3, 3,
                                       &o3, &t3, NULL), SS_OK);
  ck_assert_int_eq(t1, t3);
  ck_assert_int_gt(t1, 0);
  for (int64_t i = 0; i < n; i++)
    ck_assert_int_eq(label_at(o1, i), label_at(o3, i));
  ss_volume_free(o1);
  ss_volume_free(o3);
  for (int k = 0; k < 3; k++) {
    ss_volume_free(r[k]);
    free(l[k]);
  }
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("consensus");
  TCase *tc = tcase_create("vote");
  tcase_add_test(tc, test_consensus_three_raters_majority_and_ties);
  tcase_add_test(tc, test_consensus_two_raters_disagreement_goes_to_background);
  tcase_add_test(tc, test_consensus_shape_mismatch_is_eshape);
  tcase_add_test(tc, test_consensus_large_is_thread_independent);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
