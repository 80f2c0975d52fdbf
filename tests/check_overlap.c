/* check_overlap.c - confusion counts and overlap metrics: hand-derived
 * values, every empty-mask case, regions, ignore label, sparse and wide
 * label tables, kinds, shape/geometry errors and thread invariance.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/src/score.h"

#define EPS 1e-12

static void
assert_val(ss_metric m, double v)
{
  ck_assert_int_eq(m.why, SS_DEFINED);
  ck_assert_double_eq_tol(m.value, v, EPS);
}

static void
assert_undef(ss_metric m, ss_undef why)
{
  ck_assert_int_eq(m.why, why);
}

START_TEST(test_metrics_half_overlap_by_hand)
{
  /* pred {1,1,0,0...}, ref {0,1,1,0...}: tp=1 fp=1 fn=1 tn=7
   * dice = 2/(2+1+1) = 0.5; jaccard = 1/3; precision = recall = 0.5;
   * specificity = 7/8; F2 = 5*1/(5*1 + 4*1 + 1) = 0.5;
   * F0.5 = 1.25/(1.25 + 0.25 + 1) = 0.5; voe = 2/3; rvd = 0; vs = 0. */
  ss_confusion c = { .tp = 1, .fp = 1, .fn = 1, .tn = 7 };
  assert_val(ss_dice(&c), 0.5);
  assert_val(ss_jaccard(&c), 1.0 / 3.0);
  assert_val(ss_precision(&c), 0.5);
  assert_val(ss_recall(&c), 0.5);
  assert_val(ss_specificity(&c), 7.0 / 8.0);
  assert_val(ss_fbeta(&c, 2.0), 0.5);
  assert_val(ss_fbeta(&c, 0.5), 0.5);
  assert_val(ss_voe(&c), 2.0 / 3.0);
  assert_val(ss_rvd(&c), 0.0);
  assert_val(ss_volume_similarity(&c), 0.0);
}
END_TEST

START_TEST(test_metrics_asymmetric_by_hand)
{
  /* tp=6 fp=2 fn=4 tn=8: |P|=8 |G|=10
   * dice = 12/18 = 2/3; jaccard = 6/12 = 0.5; precision = 0.75;
   * recall = 0.6; specificity = 8/10; F2 = 5*6/(30 + 16 + 2) = 30/48;
   * F0.5 = 1.25*6/(7.5 + 0.25*4 + 2) = 7.5/10.5; rvd = -2/10;
   * vs = 2*(8-10)/18 = -2/9. */
  ss_confusion c = { .tp = 6, .fp = 2, .fn = 4, .tn = 8 };
  assert_val(ss_dice(&c), 2.0 / 3.0);
  assert_val(ss_jaccard(&c), 0.5);
  assert_val(ss_precision(&c), 0.75);
  assert_val(ss_recall(&c), 0.6);
  assert_val(ss_specificity(&c), 0.8);
  assert_val(ss_fbeta(&c, 2.0), 30.0 / 48.0);
  assert_val(ss_fbeta(&c, 0.5), 7.5 / 10.5);
  assert_val(ss_rvd(&c), -0.2);
  assert_val(ss_volume_similarity(&c), -2.0 / 9.0);
  assert_val(ss_voe(&c), 0.5);
}
END_TEST

START_TEST(test_metrics_both_empty_are_undefined)
{
  ss_confusion c = { .tn = 10 };
  assert_undef(ss_dice(&c), SS_BOTH_EMPTY);
  assert_undef(ss_jaccard(&c), SS_BOTH_EMPTY);
  assert_undef(ss_precision(&c), SS_BOTH_EMPTY);
  assert_undef(ss_recall(&c), SS_BOTH_EMPTY);
  assert_undef(ss_fbeta(&c, 2.0), SS_BOTH_EMPTY);
  assert_undef(ss_voe(&c), SS_BOTH_EMPTY);
  assert_undef(ss_rvd(&c), SS_BOTH_EMPTY);
  assert_undef(ss_volume_similarity(&c), SS_BOTH_EMPTY);
  assert_val(ss_specificity(&c), 1.0);
}
END_TEST

START_TEST(test_metrics_pred_empty)
{
  /* |P| = 0, |G| = 3: dice 0, precision undefined, recall 0, rvd -1,
   * vs = 2(0-3)/3 = -2. */
  ss_confusion c = { .fn = 3, .tn = 7 };
  assert_val(ss_dice(&c), 0.0);
  assert_val(ss_jaccard(&c), 0.0);
  assert_undef(ss_precision(&c), SS_PRED_EMPTY);
  assert_val(ss_recall(&c), 0.0);
  assert_val(ss_fbeta(&c, 0.5), 0.0);
  assert_val(ss_rvd(&c), -1.0);
  assert_val(ss_volume_similarity(&c), -2.0);
  assert_val(ss_voe(&c), 1.0);
}
END_TEST

START_TEST(test_metrics_ref_empty)
{
  ss_confusion c = { .fp = 3, .tn = 7 };
  assert_val(ss_dice(&c), 0.0);
  assert_val(ss_precision(&c), 0.0);
  assert_undef(ss_recall(&c), SS_REF_EMPTY);
  assert_val(ss_fbeta(&c, 2.0), 0.0);
  assert_undef(ss_rvd(&c), SS_REF_EMPTY);
  assert_val(ss_volume_similarity(&c), 2.0);
  assert_val(ss_specificity(&c), 0.7);
}
END_TEST

START_TEST(test_metrics_specificity_without_negatives_is_undefined)
{
  ss_confusion c = { .tp = 4 };
  assert_undef(ss_specificity(&c), SS_ZERO_DENOMINATOR);
}
END_TEST

/* A 4x3x2 pair with sparse labels 1, 2, 50, 255 (x fastest):
 *   z=0  pred            ref
 *        1  1  2  0      1  1  1  0
 *        50 50 0  0      50 0  0  0
 *        0  0  0  255    0  0  0  255
 *   z=1  pred            ref
 *        0  0  0  0      2  0  0  0
 *        1  0  0  0      1  0  0  0
 *        0  0  0  0      0  0  0  0
 * label 1:  pred at (0,0,0),(1,0,0),(0,1,1); ref at (0,0,0),(1,0,0),(2,0,0),
 *           (0,1,1) -> tp 3, fp 0, fn 1, tn 20
 * label 2:  pred (2,0,0); ref (0,0,1) -> tp 0, fp 1, fn 1, tn 22
 * label 50: pred (0,1,0),(1,1,0); ref (0,1,0) -> tp 1, fp 1, fn 0, tn 22
 * label 255: pred = ref = (3,2,0) -> tp 1, tn 23 */
static const int32_t P[24] = { 1, 1, 2, 0, 50, 50, 0, 0, 0, 0, 0, 255,
                               0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
static const int32_t R[24] = { 1, 1, 1, 0, 50, 0, 0, 0, 0, 0, 0, 255,
                               2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };

static ss_report *
score_arrays(const int32_t *p, const int32_t *r, int64_t nx, int64_t ny,
             int64_t nz, const ss_plan *plan, ss_status want)
{
  ss_volume *vp = NULL, *vr = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_labels(p, nx, ny, nz, NULL, &vp, &err),
                   SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(r, nx, ny, nz, NULL, &vr, &err),
                   SS_OK);
  ss_report *rep = NULL;
  ss_status st = ss_score(vp, vr, plan, &rep, &err);
  ck_assert_msg(st == want, "got %s: %s", ss_status_name(st), err.detail);
  ss_volume_free(vp);
  ss_volume_free(vr);
  return rep;
}

static void
assert_counts(const ss_class_report *c, int64_t tp, int64_t fp, int64_t fn,
              int64_t tn)
{
  ck_assert_int_eq(c->counts.tp, tp);
  ck_assert_int_eq(c->counts.fp, fp);
  ck_assert_int_eq(c->counts.fn, fn);
  ck_assert_int_eq(c->counts.tn, tn);
}

START_TEST(test_score_sparse_labels_by_hand)
{
  ss_report *r = score_arrays(P, R, 4, 3, 2, NULL, SS_OK);
  ck_assert_int_eq(r->nclasses, 4);
  ck_assert_int_eq(r->classes[0].label, 1);
  ck_assert_int_eq(r->classes[3].label, 255);
  assert_counts(&r->classes[0], 3, 0, 1, 20);
  assert_counts(&r->classes[1], 0, 1, 1, 22);
  assert_counts(&r->classes[2], 1, 1, 0, 22);
  assert_counts(&r->classes[3], 1, 0, 0, 23);
  assert_val(r->classes[0].overlap.dice, 6.0 / 7.0);
  assert_val(r->classes[1].overlap.dice, 0.0);
  assert_val(r->classes[2].overlap.dice, 2.0 / 3.0);
  assert_val(r->classes[3].overlap.dice, 1.0);
  ck_assert_int_eq(r->classes[0].status, SS_CLASS_OK);
  ss_report_free(r);
}
END_TEST

START_TEST(test_score_regions_ignore_and_background)
{
  ss_plan plan;
  ss_plan_init(&plan);
  plan.has_ignore = true;
  plan.ignore_label = 2; /* removes ref voxel (0,0,1): pred 0 there */
  plan.include_background = true;
  plan.regions = calloc(1, sizeof *plan.regions);
  plan.nregions = 1;
  snprintf(plan.regions[0].name, SS_NAME_MAX, "fg");
  plan.regions[0].nlabels = 2;
  plan.regions[0].labels[0] = 1;
  plan.regions[0].labels[1] = 2;
  ss_report *r = score_arrays(P, R, 4, 3, 2, &plan, SS_OK);
  /* classes: 0, 1, 50, 255 (2 is the ignore label), then region fg.
   * 23 voxels remain.  label 0: pred zeros except at ignored (0,0,1):
   * pred 0-voxels = 24 - 7 = 17, minus the ignored one = 16; ref zeros =
   * 24 - 7 - ... ref nonzero = 7 (incl. the ignored 2) -> ref 0 = 17.
   * tp(0) = voxels 0 in both, not ignored: positions where both 0:
   * z0: (3,0),(2,1),(3,1),(0,2),(1,2),(2,2) -> 6; z1: all but (0,0),(0,1)
   * -> 10; total 16 -> tp 16, fp 0, fn 1 ((1,1,0): ref 0, pred 50), tn 6.
   * region fg = {1,2}: pred {1,2} voxels = 4, ref {1,2} minus ignored = 4
   * ((0,0,0),(1,0,0),(2,0,0),(0,1,1)); both: (0,0,0),(1,0,0),(2,0,0)
   * [pred 2 at (2,0,0) counts for fg], (0,1,1) -> tp 4, fp 0, fn 0. */
  ck_assert_int_eq(r->nclasses, 5);
  ck_assert_int_eq(r->classes[0].label, 0);
  assert_counts(&r->classes[0], 16, 0, 1, 6);
  ck_assert(r->classes[4].is_region);
  ck_assert_str_eq(r->classes[4].name, "fg");
  assert_counts(&r->classes[4], 4, 0, 0, 19);
  assert_val(r->classes[4].overlap.dice, 1.0);
  ss_report_free(r);
  ss_plan_clear(&plan);
}
END_TEST

START_TEST(test_score_absent_label_is_both_empty_and_optionally_one)
{
  ss_plan plan;
  ss_plan_init(&plan);
  plan.nlabels = 2;
  plan.labels = malloc(2 * sizeof *plan.labels);
  plan.labels[0] = 1;
  plan.labels[1] = 7;
  ss_report *r = score_arrays(P, R, 4, 3, 2, &plan, SS_OK);
  ck_assert_int_eq(r->nclasses, 2);
  ck_assert_int_eq(r->classes[1].status, SS_CLASS_BOTH_EMPTY);
  assert_undef(r->classes[1].overlap.dice, SS_BOTH_EMPTY);
  assert_undef(r->classes[1].overlap.precision, SS_BOTH_EMPTY);
  ss_report_free(r);
  plan.has_both_empty_dice = true;
  plan.both_empty_dice = 1.0;
  r = score_arrays(P, R, 4, 3, 2, &plan, SS_OK);
  assert_val(r->classes[1].overlap.dice, 1.0);
  assert_val(r->classes[1].overlap.jaccard, 1.0);
  assert_val(r->classes[1].overlap.voe, 0.0);
  ss_report_free(r);
  ss_plan_clear(&plan);
}
END_TEST

START_TEST(test_score_pred_empty_and_ref_empty_status)
{
  /* pred has only 1; ref has only 2. */
  const int32_t p[4] = { 1, 0, 0, 0 }, q[4] = { 0, 2, 0, 0 };
  ss_report *r = score_arrays(p, q, 4, 1, 1, NULL, SS_OK);
  ck_assert_int_eq(r->nclasses, 2);
  ck_assert_int_eq(r->classes[0].status, SS_CLASS_REF_EMPTY);
  ck_assert_int_eq(r->classes[1].status, SS_CLASS_PRED_EMPTY);
  assert_undef(r->classes[0].overlap.recall, SS_REF_EMPTY);
  assert_undef(r->classes[1].overlap.precision, SS_PRED_EMPTY);
  ss_report_free(r);
}
END_TEST

START_TEST(test_score_volumes_use_spacing)
{
  ss_volume *vp = NULL, *vr = NULL;
  ss_error err = { 0 };
  const double sp[3] = { 0.5, 2.0, 3.0 }; /* 3 mm^3 per voxel */
  ck_assert_int_eq(ss_volume_from_labels(P, 4, 3, 2, sp, &vp, &err), SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(R, 4, 3, 2, sp, &vr, &err), SS_OK);
  ss_report *r = NULL;
  ck_assert_int_eq(ss_score(vp, vr, NULL, &r, &err), SS_OK);
  ck_assert_double_eq_tol(r->classes[0].pred_volume_mm3, 9.0, EPS);
  ck_assert_double_eq_tol(r->classes[0].ref_volume_mm3, 12.0, EPS);
  ss_report_free(r);
  ss_volume_free(vp);
  ss_volume_free(vr);
}
END_TEST

START_TEST(test_score_shape_and_geometry_errors)
{
  ss_volume *a = NULL, *b = NULL, *c = NULL;
  ss_error err = { 0 };
  const double sp1[3] = { 1, 1, 1 }, sp2[3] = { 1, 1, 1.01 };
  ck_assert_int_eq(ss_volume_from_labels(P, 4, 3, 2, sp1, &a, &err), SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(P, 4, 6, 1, sp1, &b, &err), SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(P, 4, 3, 2, sp2, &c, &err), SS_OK);
  ss_report *r = NULL;
  ck_assert_int_eq(ss_score(a, b, NULL, &r, &err), SS_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.detail, "4x3x2"));
  /* z spacing 1 vs 1.01 mm: corner (3,2,1) moves 0.01 mm > 1e-3 mm */
  ck_assert_int_eq(ss_score(a, c, NULL, &r, &err), SS_EGEOMETRY);
  ck_assert_ptr_null(r);
  ss_plan plan;
  ss_plan_init(&plan);
  plan.check_geometry = false;
  ck_assert_int_eq(ss_score(a, c, &plan, &r, &err), SS_OK);
  ss_report_free(r);
  ss_volume_free(a);
  ss_volume_free(b);
  ss_volume_free(c);
}
END_TEST

START_TEST(test_score_probabilities_argmax_and_threshold)
{
  /* Two channels over 4 voxels: argmax -> {0, 1, 1, 0} (tie at voxel 3
   * goes to channel 0).  ref {0, 1, 0, 1}: label 1 tp 1, fp 1, fn 1. */
  const float d[8] = { 0.9f, 0.2f, 0.4f, 0.5f, 0.1f, 0.8f, 0.6f, 0.5f };
  const int32_t ref[4] = { 0, 1, 0, 1 };
  ss_volume *p = NULL, *r = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_floats(d, 4, 1, 1, 2, NULL, &p, &err),
                   SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(ref, 4, 1, 1, NULL, &r, &err),
                   SS_OK);
  ss_report *rep = NULL;
  ck_assert_int_eq(ss_score(p, r, NULL, &rep, &err), SS_OK);
  ck_assert_int_eq(rep->input.kind, SS_KIND_PROBABILITIES);
  ck_assert_int_eq(rep->nclasses, 1);
  assert_counts(&rep->classes[0], 1, 1, 1, 1);
  ss_report_free(rep);
  ss_volume_free(p);
  /* One channel {0.9, 0.5, 0.4, 0.2}, threshold 0.5 -> {1, 1, 0, 0}
   * (p >= t); with threshold 0.6 -> {1, 0, 0, 0}. */
  const float one[4] = { 0.9f, 0.5f, 0.4f, 0.2f };
  ck_assert_int_eq(ss_volume_from_floats(one, 4, 1, 1, 1, NULL, &p, &err),
                   SS_OK);
  ck_assert_int_eq(ss_score(p, r, NULL, &rep, &err), SS_OK);
  assert_counts(&rep->classes[0], 1, 1, 1, 1);
  ss_report_free(rep);
  ss_plan plan;
  ss_plan_init(&plan);
  plan.threshold = 0.6;
  ck_assert_int_eq(ss_score(p, r, &plan, &rep, &err), SS_OK);
  assert_counts(&rep->classes[0], 0, 1, 2, 1);
  ss_report_free(rep);
  /* A float prediction scored as labels: refused with a hint. */
  plan.kind = SS_KIND_LABELS;
  ck_assert_int_eq(ss_score(p, r, &plan, &rep, &err), SS_ELABELS);
  ck_assert_ptr_nonnull(strstr(err.detail, "prediction_kind"));
  ss_volume_free(p);
  ss_volume_free(r);
}
END_TEST

static uint64_t rng_state = 88172645463325252ull;
static uint64_t
rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Brute-force counts of label L straight from the arrays. */
static void
brute(const int32_t *p, const int32_t *r, int64_t n, int32_t l,
      ss_confusion *c)
{
  memset(c, 0, sizeof *c);
  for (int64_t i = 0; i < n; i++) {
    int a = p[i] == l, b = r[i] == l;
    c->tp += a && b;
    c->fp += a && !b;
    c->fn += !a && b;
    c->tn += !a && !b;
  }
}

START_TEST(test_score_wide_labels_match_brute_force)
{
  /* 300 distinct labels -> 16-bit index maps; values up to 100000. */
  const int64_t nx = 40, ny = 30, nz = 20, n = nx * ny * nz;
  int32_t *p = malloc((size_t)n * sizeof *p), *r = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    r[i] = (int32_t)((rnd() % 300) * 333);
    p[i] = rnd() % 4 == 0 ? (int32_t)((rnd() % 300) * 333) : r[i];
  }
  ss_report *rep = score_arrays(p, r, nx, ny, nz, NULL, SS_OK);
  ck_assert_int_ge(rep->nclasses, 299);
  for (int i = 0; i < rep->nclasses; i++) {
    ss_confusion c;
    brute(p, r, n, (int32_t)rep->classes[i].label, &c);
    ck_assert_int_eq(rep->classes[i].counts.tp, c.tp);
    ck_assert_int_eq(rep->classes[i].counts.fp, c.fp);
    ck_assert_int_eq(rep->classes[i].counts.fn, c.fn);
    ck_assert_int_eq(rep->classes[i].counts.tn, c.tn);
  }
  ss_report_free(rep);
  free(p);
  free(r);
}
END_TEST

START_TEST(test_score_same_report_for_one_and_two_threads)
{
  const int64_t nx = 96, ny = 80, nz = 24, n = nx * ny * nz;
  int32_t *p = malloc((size_t)n * sizeof *p), *r = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    r[i] = (int32_t)(rnd() % 5);
    p[i] = rnd() % 3 == 0 ? (int32_t)(rnd() % 5) : r[i];
  }
  ss_plan plan;
  ss_plan_init(&plan);
  plan.threads = 1;
  ss_report *a = score_arrays(p, r, nx, ny, nz, &plan, SS_OK);
  plan.threads = 2;
  ss_report *b = score_arrays(p, r, nx, ny, nz, &plan, SS_OK);
  ck_assert_int_eq(a->nclasses, b->nclasses);
  for (int i = 0; i < a->nclasses; i++) {
    ck_assert_mem_eq(&a->classes[i].counts, &b->classes[i].counts,
                     sizeof(ss_confusion));
    ck_assert_mem_eq(&a->classes[i].overlap, &b->classes[i].overlap,
                     sizeof(ss_overlap));
    ss_confusion c;
    brute(p, r, n, (int32_t)a->classes[i].label, &c);
    ck_assert_int_eq(a->classes[i].counts.tp, c.tp);
    ck_assert_int_eq(a->classes[i].counts.tn, c.tn);
  }
  ss_report_free(a);
  ss_report_free(b);
  free(p);
  free(r);
}
END_TEST

START_TEST(test_counts_joint_and_pass_agree)
{
  const int64_t n = 70000;
  int32_t *p = malloc((size_t)n * sizeof *p), *r = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    r[i] = (int32_t)(rnd() % 6);
    p[i] = (int32_t)(rnd() % 6);
  }
  ss_volume *vp = NULL, *vr = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_labels(p, n, 1, 1, NULL, &vp, &err), SS_OK);
  ck_assert_int_eq(ss_volume_from_labels(r, n, 1, 1, NULL, &vr, &err), SS_OK);
  int64_t *h = NULL;
  ck_assert_int_eq(ss__joint_histogram(vp, vr, 2, &h, &err), SS_OK);
  uint8_t pm[7] = { 0, 1, 0, 1, 0, 0, 0 }, rm[7] = { 0, 1, 1, 0, 0, 0, 0 };
  for (int ig = -1; ig < 6; ig++) {
    ss_confusion a, b;
    int64_t pa, ra, pb, rb;
    ss__counts_from_joint(h, 6, 6, pm, rm, ig, &a, &pa, &ra);
    ck_assert_int_eq(ss__counts_by_pass(vp, vr, pm, rm, ig, 2, &b, &pb, &rb),
                     SS_OK);
    ck_assert_mem_eq(&a, &b, sizeof a);
    ck_assert_int_eq(pa, pb);
    ck_assert_int_eq(ra, rb);
  }
  free(h);
  ss_volume_free(vp);
  ss_volume_free(vr);
  free(p);
  free(r);
}
END_TEST

START_TEST(test_summary_skips_and_counts_nulls)
{
  ss_metric v[4] = { { 0.5, SS_DEFINED }, { 0, SS_PRED_EMPTY },
                     { 1.5, SS_DEFINED }, { 0, SS_BOTH_EMPTY } };
  ss_summary_value s = ss_summarize(v, 4, false, false, 0);
  assert_val(s.mean, 1.0);
  ck_assert_int_eq(s.n_valid, 2);
  ck_assert_int_eq(s.n_undefined, 2);
  /* distances with worst = 10: pred_empty -> 10, both_empty stays out:
   * (0.5 + 10 + 1.5) / 3 = 4 */
  s = ss_summarize(v, 4, true, true, 10.0);
  assert_val(s.mean, 4.0);
  ck_assert_int_eq(s.n_valid, 3);
  ck_assert_int_eq(s.n_undefined, 1);
  s = ss_summarize(v + 1, 1, false, false, 0);
  assert_undef(s.mean, SS_NO_VALID_VALUES);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("overlap");
  TCase *m = tcase_create("metrics");
  tcase_add_test(m, test_metrics_half_overlap_by_hand);
  tcase_add_test(m, test_metrics_asymmetric_by_hand);
  tcase_add_test(m, test_metrics_both_empty_are_undefined);
  tcase_add_test(m, test_metrics_pred_empty);
  tcase_add_test(m, test_metrics_ref_empty);
  tcase_add_test(m, test_metrics_specificity_without_negatives_is_undefined);
  tcase_add_test(m, test_summary_skips_and_counts_nulls);
  suite_add_tcase(s, m);
  TCase *sc = tcase_create("score");
  tcase_add_test(sc, test_score_sparse_labels_by_hand);
  tcase_add_test(sc, test_score_regions_ignore_and_background);
  tcase_add_test(sc, test_score_absent_label_is_both_empty_and_optionally_one);
  tcase_add_test(sc, test_score_pred_empty_and_ref_empty_status);
  tcase_add_test(sc, test_score_volumes_use_spacing);
  tcase_add_test(sc, test_score_shape_and_geometry_errors);
  tcase_add_test(sc, test_score_probabilities_argmax_and_threshold);
  tcase_add_test(sc, test_score_wide_labels_match_brute_force);
  tcase_add_test(sc, test_score_same_report_for_one_and_two_threads);
  tcase_add_test(sc, test_counts_joint_and_pass_agree);
  suite_add_tcase(s, sc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
