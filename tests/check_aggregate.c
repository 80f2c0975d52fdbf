/* check_aggregate.c - dataset summaries (service/aggregate.c): statistics
 * by hand, nulls counted, worst-distance substitution, absent classes,
 * foreground mean, and the property a shard merge relies on: the summary
 * does not depend on the order cases are added in, nor on a JSON text
 * round trip of the reports.  SPDX-License-Identifier: MIT */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../service/aggregate.h"

/* A case report with label 1 (dice D1, hd95 H1 or null with WHY) and,
 * when HAS2, label 2 (dice D2). */
static json_t *
report(double d1, double h1, const char *why, bool has2, double d2)
{
  json_t *undef = json_object();
  json_t *bd = json_object();
  if (why == NULL) {
    json_object_set_new(bd, "hd95", json_real(h1));
  } else {
    json_object_set_new(bd, "hd95", json_null());
    json_object_set_new(undef, "hd95", json_string(why));
  }
  json_object_set_new(bd, "nsd", json_pack("{s:f}", "1", 0.5));
  json_t *c1 = json_pack("{s:i,s:s,s:{s:f},s:o,s:o}", "label", 1, "status",
                         "ok", "overlap", "dice", d1, "boundary", bd,
                         "undefined", undef);
  json_t *classes = json_pack("[o]", c1);
  if (has2)
    json_array_append_new(classes,
                          json_pack("{s:i,s:s,s:{s:f},s:{}}", "label", 2,
                                    "status", "ok", "overlap", "dice", d2,
                                    "undefined"));
  return json_pack("{s:o}", "classes", classes);
}

static const json_t *
cell(const json_t *sum, int ci, const char *path)
{
  const json_t *c = json_array_get(json_object_get(sum, "classes"),
                                   (size_t)ci);
  return json_object_get(json_object_get(c, "metrics"), path);
}

static double
num(const json_t *cellj, const char *key)
{
  const json_t *v = json_object_get(cellj, key);
  ck_assert_msg(json_is_number(v), "%s is not a number", key);
  return json_number_value(v);
}

/* Cases: a (0.5, 2 mm), b (0.7, pred_empty), c (0.9, 4 mm), d (0.6,
 * both_empty) and only a, c carry label 2 (0.2, 0.4). */
static svc_agg *
four_cases(const int *order)
{
  static const char *const names[4] = { "a", "b", "c", "d" };
  json_t *r[4] = { report(0.5, 2.0, NULL, true, 0.2),
                   report(0.7, 0.0, "pred_empty", false, 0),
                   report(0.9, 4.0, NULL, true, 0.4),
                   report(0.6, 0.0, "both_empty", false, 0) };
  svc_agg *a = svc_agg_new();
  for (int k = 0; k < 4; k++)
    ck_assert_int_eq(svc_agg_add(a, names[order[k]], r[order[k]]), 0);
  for (int k = 0; k < 4; k++)
    json_decref(r[k]);
  return a;
}

START_TEST(test_aggregate_statistics_by_hand)
{
  static const int order[4] = { 0, 1, 2, 3 };
  svc_agg *a = four_cases(order);
  json_t *s = svc_agg_summary(a, false, 0.0);
  /* dice of label 1: {0.5, 0.7, 0.9, 0.6}: mean 0.675, median 0.65,
   * population std sqrt(((-.175)^2 + .025^2 + .225^2 + (-.075)^2)/4). */
  const json_t *d = cell(s, 0, "overlap.dice");
  ck_assert_double_eq_tol(num(d, "mean"), 0.675, 1e-15);
  ck_assert_double_eq_tol(num(d, "median"), 0.65, 1e-15);
  ck_assert_double_eq_tol(num(d, "std"),
                          sqrt((0.030625 + 0.000625 + 0.050625 + 0.005625) /
                               4),
                          1e-15);
  ck_assert_double_eq(num(d, "min"), 0.5);
  ck_assert_double_eq(num(d, "max"), 0.9);
  ck_assert_int_eq(num(d, "n_valid"), 4);
  /* hd95: valid {2, 4}; two nulls undefined, none substituted. */
  const json_t *h = cell(s, 0, "boundary.hd95");
  ck_assert_double_eq(num(h, "mean"), 3.0);
  ck_assert_int_eq(num(h, "n_valid"), 2);
  ck_assert_int_eq(num(h, "n_undefined"), 2);
  ck_assert_int_eq(num(h, "n_substituted"), 0);
  /* label 2 is absent from b and d. */
  const json_t *d2 = cell(s, 1, "overlap.dice");
  ck_assert_int_eq(num(d2, "n_absent"), 2);
  ck_assert_double_eq_tol(num(d2, "mean"), 0.3, 1e-15);
  /* foreground mean of dice: (0.675 + 0.3) / 2. */
  const json_t *fg = json_object_get(
      json_object_get(s, "foreground_mean"), "overlap.dice");
  ck_assert_double_eq_tol(num(fg, "mean"), 0.4875, 1e-15);
  ck_assert_int_eq(num(fg, "n_classes"), 2);
  json_decref(s);
  svc_agg_free(a);
}
END_TEST

START_TEST(test_aggregate_worst_replaces_only_one_side_empty)
{
  /* worst 100: b's pred_empty becomes 100, d's both_empty stays
   * undefined; mean (2 + 100 + 4) / 3.  NSD is not a distance. */
  static const int order[4] = { 0, 1, 2, 3 };
  svc_agg *a = four_cases(order);
  json_t *s = svc_agg_summary(a, true, 100.0);
  const json_t *h = cell(s, 0, "boundary.hd95");
  ck_assert_double_eq_tol(num(h, "mean"), 106.0 / 3.0, 1e-13);
  ck_assert_int_eq(num(h, "n_valid"), 3);
  ck_assert_int_eq(num(h, "n_substituted"), 1);
  ck_assert_int_eq(num(h, "n_undefined"), 1);
  ck_assert_double_eq(num(h, "max"), 100.0);
  ck_assert_int_eq(num(cell(s, 0, "boundary.nsd.1"), "n_valid"), 4);
  json_decref(s);
  svc_agg_free(a);
}
END_TEST

START_TEST(test_aggregate_order_and_round_trip_do_not_matter)
{
  /* What a shard merge does: the same cases, added in another order,
   * after their reports went through JSON text, give the same bytes. */
  static const int fwd[4] = { 0, 1, 2, 3 }, rev[4] = { 3, 1, 0, 2 };
  svc_agg *a = four_cases(fwd), *b = four_cases(rev);
  json_t *sa = svc_agg_summary(a, true, 50.0);
  json_t *sb = svc_agg_summary(b, true, 50.0);
  char *ta = svc_json_dump(sa, 0), *tb = svc_json_dump(sb, 0);
  ck_assert_str_eq(ta, tb);

  json_t *r = report(0.1 + 0.2, 1.0 / 3.0, NULL, true, 2.0 / 7.0);
  char *text = svc_json_dump(r, 0);
  json_t *back = json_loads(text, 0, NULL);
  svc_agg *c = svc_agg_new(), *d = svc_agg_new();
  ck_assert_int_eq(svc_agg_add(c, "x", r), 0);
  ck_assert_int_eq(svc_agg_add(d, "x", back), 0);
  json_t *sc = svc_agg_summary(c, false, 0), *sd = svc_agg_summary(d, false, 0);
  char *tc = svc_json_dump(sc, 0), *td = svc_json_dump(sd, 0);
  ck_assert_str_eq(tc, td);
  free(ta);
  free(tb);
  free(tc);
  free(td);
  free(text);
  json_decref(sa);
  json_decref(sb);
  json_decref(sc);
  json_decref(sd);
  json_decref(r);
  json_decref(back);
  svc_agg_free(a);
  svc_agg_free(b);
  svc_agg_free(c);
  svc_agg_free(d);
}
END_TEST

START_TEST(test_aggregate_empty_has_no_classes)
{
  svc_agg *a = svc_agg_new();
  json_t *s = svc_agg_summary(a, false, 0.0);
  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(json_integer_value(json_object_get(s, "n_cases")), 0);
  ck_assert_int_eq(json_array_size(json_object_get(s, "classes")), 0);
  json_decref(s);
  svc_agg_free(a);
}
END_TEST

int
main(void)
{
  json_object_seed(1);
  Suite *s = suite_create("aggregate");
  TCase *tc = tcase_create("summary");
  tcase_add_test(tc, test_aggregate_statistics_by_hand);
  tcase_add_test(tc, test_aggregate_worst_replaces_only_one_side_empty);
  tcase_add_test(tc, test_aggregate_order_and_round_trip_do_not_matter);
  tcase_add_test(tc, test_aggregate_empty_has_no_classes);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
