/* check_lesions.c - lesion-wise metrics (lib/src/lesions.c): hand-built
 * lesion layouts with the expected matches under each rule, connectivity,
 * dilation, minimum size and ignore; empty cases; thread independence.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/src/internal.h"

/* A small scene: binary prediction, reference and ignore maps on a grid,
 * seen through ss__mask with the member table {0, 1}. */
typedef struct {
  int64_t nx, ny, nz;
  uint8_t *p, *r, *ig;
  ss_plan plan;
  double sp[3];
} scene;

static const uint8_t member01[2] = { 0, 1 };

static scene
scene_new(int64_t nx, int64_t ny, int64_t nz)
{
  scene s = { nx, ny, nz, calloc((size_t)(nx * ny * nz), 1),
              calloc((size_t)(nx * ny * nz), 1),
              calloc((size_t)(nx * ny * nz), 1), { 0 }, { 1.0, 1.0, 1.0 } };
  ss_plan_init(&s.plan);
  s.plan.threads = 1;
  return s;
}

static void
scene_free(scene *s)
{
  free(s->p);
  free(s->r);
  free(s->ig);
  ss_plan_clear(&s->plan);
}

/* Set the box [x0,x1]x[y0,y1]x[z0,z1] (inclusive) in map M. */
static void
box(scene *s, uint8_t *m, int x0, int x1, int y0, int y1, int z0, int z1)
{
  for (int z = z0; z <= z1; z++)
    for (int y = y0; y <= y1; y++)
      for (int x = x0; x <= x1; x++)
        m[x + s->nx * (y + s->ny * z)] = 1;
}

static ss_lesion_report *
run(scene *s, bool with_ignore)
{
  ss__grid g = { s->nx, s->ny, s->nz, { s->sp[0], s->sp[1], s->sp[2] } };
  ss__mask pm = { s->p, 1, member01 }, rm = { s->r, 1, member01 };
  ss__mask im = { s->ig, 1, member01 };
  ss_lesion_report *rep = NULL;
  ss_error err = { 0 };
  ss_status st = ss__lesions_class(&g, &pm, &rm, with_ignore ? &im : NULL,
                                   NULL, &s->plan, &rep, &err);
  ck_assert_msg(st == SS_OK, "status %d: %s", st, err.detail);
  ck_assert_ptr_nonnull(rep);
  return rep;
}

#define ck_counts(rep, TP, FP, FN, TPP)                                     \
  do {                                                                      \
    ck_assert_int_eq((rep)->tp, TP);                                        \
    ck_assert_int_eq((rep)->fp, FP);                                        \
    ck_assert_int_eq((rep)->fn, FN);                                        \
    ck_assert_int_eq((rep)->tp_pred, TPP);                                  \
  } while (0)

#define ck_metric(m, v) \
  do { ck_assert_int_eq((m).why, SS_DEFINED); \
       ck_assert_double_eq_tol((m).value, v, 1e-12); } while (0)

/*---- many-to-one and one-to-many ----------------------------------------*/

/* Reference lesions A = x 1..2 and B = x 6..7 (2x2x2 cubes, 8 voxels
 * each); one prediction P = x 1..7 over the same y, z (28 voxels) covers
 * both and the gap between. */
static scene
two_refs_one_pred(void)
{
  scene s = scene_new(10, 4, 4);
  box(&s, s.r, 1, 2, 1, 2, 1, 2);
  box(&s, s.r, 6, 7, 1, 2, 1, 2);
  box(&s, s.p, 1, 7, 1, 2, 1, 2);
  return s;
}

START_TEST(test_lesions_any_overlap_many_to_one_matches_both)
{
  /* Both reference lesions are detected by the one prediction:
   * tp = 2, fn = 0, fp = 0, tp_pred = 1; P = R = F1 = 1.  Each lesion's
   * Dice is against the whole prediction: 2*8 / (8 + 28) = 4/9. */
  scene s = two_refs_one_pred();
  ss_lesion_report *rep = run(&s, false);
  ck_assert_int_eq(rep->nref, 2);
  ck_assert_int_eq(rep->npred, 1);
  ck_counts(rep, 2, 0, 0, 1);
  ck_metric(rep->precision, 1.0);
  ck_metric(rep->recall, 1.0);
  ck_metric(rep->f1, 1.0);
  ck_metric(rep->ref[0].dice, 4.0 / 9.0);
  ck_metric(rep->ref[1].dice, 4.0 / 9.0);
  ck_metric(rep->lesion_dice, 4.0 / 9.0);
  ck_assert_int_eq(rep->ref[0].nmatched, 1);
  ck_assert_int_eq(rep->ref[0].matched[0], 1);
  ck_assert_int_eq(rep->pred[0].nmatched, 2);
  ck_assert_int_eq(rep->pred[0].matched[0], 1);
  ck_assert_int_eq(rep->pred[0].matched[1], 2);
  ck_assert_double_eq_tol(rep->ref[1].volume_mm3, 8.0, 1e-12);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_iou_half_rejects_partial_cover)
{
  /* IoU(A, P) = 8 / 28 < 0.5: nothing matches; tp = 0, fn = 2, fp = 1;
   * lesion Dice = 0 / (2 + 1) = 0. */
  scene s = two_refs_one_pred();
  s.plan.lesion.match = SS_LESION_MATCH_IOU;
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 1, 2, 0);
  ck_metric(rep->precision, 0.0);
  ck_metric(rep->recall, 0.0);
  ck_metric(rep->f1, 0.0);
  ck_metric(rep->lesion_dice, 0.0);
  ck_assert_int_eq(rep->ref[0].hd95.why, SS_PRED_EMPTY);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_iou_greedy_tie_goes_to_first_reference)
{
  /* IoU threshold 0.25: both pairs have IoU 8/28 = 0.2857; the greedy
   * one-to-one pass takes the tie in reference-id order: P -> A.  tp = 1,
   * fn = 1, fp = 0; P = 1, R = 0.5, F1 = 2/3; lesion Dice = (4/9 + 0)/2. */
  scene s = two_refs_one_pred();
  s.plan.lesion.match = SS_LESION_MATCH_IOU;
  s.plan.lesion.iou_threshold = 0.25;
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 1, 0, 1, 1);
  ck_assert_int_eq(rep->ref[0].nmatched, 1);
  ck_assert_int_eq(rep->ref[1].nmatched, 0);
  ck_metric(rep->f1, 2.0 / 3.0);
  ck_metric(rep->lesion_dice, 2.0 / 9.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_one_to_many_split_prediction)
{
  /* Reference R = x 1..6 (2x2 section, 24 voxels); predictions P1 = x 1..2
   * and P2 = x 5..6 (8 voxels each).  any_overlap: tp = 1, tp_pred = 2;
   * Dice(R, P1 u P2) = 2*16 / (24 + 16) = 0.8.  iou 0.3: IoU = 8/24, both
   * tie, P1 (lower id) wins; Dice = 2*8/(24+8) = 0.5 and P2 is a false
   * positive. */
  scene s = scene_new(10, 4, 4);
  box(&s, s.r, 1, 6, 1, 2, 1, 2);
  box(&s, s.p, 1, 2, 1, 2, 1, 2);
  box(&s, s.p, 5, 6, 1, 2, 1, 2);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 1, 0, 0, 2);
  ck_metric(rep->ref[0].dice, 0.8);
  ck_metric(rep->lesion_dice, 0.8);
  ss_lesion_report_free(rep);
  s.plan.lesion.match = SS_LESION_MATCH_IOU;
  s.plan.lesion.iou_threshold = 0.3;
  rep = run(&s, false);
  ck_counts(rep, 1, 1, 0, 1);
  ck_assert_int_eq(rep->ref[0].matched[0], 1);
  ck_metric(rep->ref[0].dice, 0.5);
  ck_metric(rep->precision, 0.5);
  ck_metric(rep->lesion_dice, 0.5 / 2.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

/*---- connectivity --------------------------------------------------------*/

START_TEST(test_lesions_corner_touching_reference_by_connectivity)
{
  /* Reference voxels (1,1,1) and (2,2,2) touch at a corner; the
   * prediction covers (1,1,1) only.  26: one lesion, detected, Dice
   * 2/(2+1).  6 and 18: two lesions, one missed: tp 1, fn 1. */
  scene s = scene_new(5, 5, 5);
  s.r[1 + 5 * (1 + 5 * 1)] = s.r[2 + 5 * (2 + 5 * 2)] = 1;
  s.p[1 + 5 * (1 + 5 * 1)] = 1;
  ss_lesion_report *rep = run(&s, false);
  ck_assert_int_eq(rep->nref, 1);
  ck_counts(rep, 1, 0, 0, 1);
  ck_metric(rep->ref[0].dice, 2.0 / 3.0);
  ss_lesion_report_free(rep);
  for (int c = 6; c <= 18; c += 12) {
    s.plan.lesion.connectivity = c;
    rep = run(&s, false);
    ck_assert_int_eq(rep->nref, 2);
    ck_counts(rep, 1, 0, 1, 1);
    ck_metric(rep->recall, 0.5);
    ss_lesion_report_free(rep);
  }
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_ids_in_raster_order)
{
  /* Reference lesion starting at z=0 is 1 even though it lies at high x;
   * the one at z=3 is 2. */
  scene s = scene_new(8, 4, 5);
  box(&s, s.r, 6, 7, 0, 0, 0, 0);
  box(&s, s.r, 0, 0, 0, 0, 3, 4);
  ss_lesion_report *rep = run(&s, false);
  ck_assert_int_eq(rep->nref, 2);
  ck_assert_int_eq(rep->ref[0].voxels, 2);
  ck_assert_int_eq(rep->ref[0].id, 1);
  ck_assert_int_eq(rep->ref[1].id, 2);
  ck_counts(rep, 0, 0, 2, 0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

/*---- dilation and minimum size ------------------------------------------*/

START_TEST(test_lesions_dilation_matches_adjacent_prediction)
{
  /* Reference at x = 2, prediction at x = 3 (face-adjacent, no shared
   * voxel).  No dilation: fn 1, fp 1.  One dilation: tp 1, fp 0, Dice 0
   * (no shared voxel). */
  scene s = scene_new(8, 5, 5);
  box(&s, s.r, 2, 2, 2, 2, 2, 2);
  box(&s, s.p, 3, 3, 2, 2, 2, 2);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 1, 1, 0);
  ss_lesion_report_free(rep);
  s.plan.lesion.dilation_voxels = 1;
  rep = run(&s, false);
  ck_counts(rep, 1, 0, 0, 1);
  ck_metric(rep->ref[0].dice, 0.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_dilation_merges_close_references)
{
  /* Reference voxels at x = 1 and x = 3 (gap of one voxel) are two lesions
   * without dilation and one merged lesion of 2 voxels with one dilation
   * (BraTS 2023 "combined by dilation"); the dilated voxel x = 2 itself
   * is not part of the lesion. */
  scene s = scene_new(6, 3, 3);
  box(&s, s.r, 1, 1, 1, 1, 1, 1);
  box(&s, s.r, 3, 3, 1, 1, 1, 1);
  box(&s, s.p, 3, 3, 1, 1, 1, 1);
  ss_lesion_report *rep = run(&s, false);
  ck_assert_int_eq(rep->nref, 2);
  ck_counts(rep, 1, 0, 1, 1);
  ss_lesion_report_free(rep);
  s.plan.lesion.dilation_voxels = 1;
  rep = run(&s, false);
  ck_assert_int_eq(rep->nref, 1);
  ck_assert_int_eq(rep->ref[0].voxels, 2);
  ck_counts(rep, 1, 0, 0, 1);
  ck_metric(rep->ref[0].dice, 2.0 * 1 / (2 + 1));
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_dilation_with_iou_is_erange)
{
  scene s = scene_new(4, 4, 4);
  s.plan.lesion.dilation_voxels = 1;
  s.plan.lesion.match = SS_LESION_MATCH_IOU;
  ss__grid g = { 4, 4, 4, { 1, 1, 1 } };
  ss__mask pm = { s.p, 1, member01 }, rm = { s.r, 1, member01 };
  ss_lesion_report *rep = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(
      ss__lesions_class(&g, &pm, &rm, NULL, NULL, &s.plan, &rep, &err),
      SS_ERANGE);
  ck_assert_ptr_null(rep);
  scene_free(&s);
}
END_TEST

/* Reference: a 1-voxel lesion at x=1 (covered by a 1-voxel prediction)
 * and an 8-voxel lesion at x 4..5 (missed); an isolated 1-voxel
 * prediction at x = 8. */
static scene
small_lesions(void)
{
  scene s = scene_new(10, 4, 4);
  box(&s, s.r, 1, 1, 1, 1, 1, 1);
  box(&s, s.p, 1, 1, 1, 1, 1, 1);
  box(&s, s.r, 4, 5, 1, 2, 1, 2);
  box(&s, s.p, 8, 8, 1, 1, 1, 1);
  return s;
}

START_TEST(test_lesions_min_size_both_drops_small_lesions)
{
  /* min 2 voxels on both sides: only the 8-voxel reference counts; the two
   * 1-voxel predictions are left out: tp 0, fn 1, fp 0, precision
   * undefined (no counted prediction), F1 0. */
  scene s = small_lesions();
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 1, 1, 1, 1);
  ss_lesion_report_free(rep);
  s.plan.lesion.min_voxels = 2;
  rep = run(&s, false);
  ck_counts(rep, 0, 0, 1, 0);
  ck_assert_int_eq(rep->n_ref, 1);
  ck_assert_int_eq(rep->n_pred, 0);
  ck_assert(!rep->ref[0].counted);
  ck_assert(rep->ref[1].counted);
  ck_assert_int_eq(rep->precision.why, SS_PRED_EMPTY);
  ck_metric(rep->f1, 0.0);
  ck_metric(rep->lesion_dice, 0.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_min_size_reference_only_like_brats)
{
  /* min 2 mm3 on the reference only: the small reference lesion leaves
   * the counts but still absorbs its prediction (not a false positive);
   * the isolated 1-voxel prediction is a false positive whatever its size.
   * tp 0, fn 1, fp 1, tp_pred 1; lesion Dice = 0 / (1 + 1). */
  scene s = small_lesions();
  s.plan.lesion.min_volume_mm3 = 2.0;
  s.plan.lesion.min_side = SS_LESION_MIN_REFERENCE;
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 1, 1, 1);
  ck_metric(rep->precision, 0.5);
  ck_metric(rep->recall, 0.0);
  ck_metric(rep->lesion_dice, 0.0);
  ck_metric(rep->ref[0].dice, 1.0); /* listed, not counted */
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

/*---- empty masks and ignore ---------------------------------------------*/

START_TEST(test_lesions_both_empty_is_undefined)
{
  scene s = scene_new(4, 4, 4);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 0, 0, 0);
  ck_assert_int_eq(rep->precision.why, SS_PRED_EMPTY);
  ck_assert_int_eq(rep->recall.why, SS_REF_EMPTY);
  ck_assert_int_eq(rep->f1.why, SS_BOTH_EMPTY);
  ck_assert_int_eq(rep->lesion_dice.why, SS_BOTH_EMPTY);
  ck_assert_int_eq(rep->lesion_hd95.why, SS_BOTH_EMPTY);
  ss_lesion_report_free(rep);
  s.plan.has_both_empty_dice = true;
  s.plan.both_empty_dice = 1.0;
  rep = run(&s, false);
  ck_metric(rep->lesion_dice, 1.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_pred_empty_scores_zero)
{
  /* One reference lesion, empty prediction: recall 0, precision
   * undefined, F1 0, lesion Dice 0; HD95 of the lesion pred_empty, and
   * the lesion-wise HD95 is not finite unless worst_distance_mm is set. */
  scene s = scene_new(6, 6, 6);
  box(&s, s.r, 1, 3, 1, 3, 1, 3);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 0, 1, 0);
  ck_metric(rep->recall, 0.0);
  ck_assert_int_eq(rep->precision.why, SS_PRED_EMPTY);
  ck_metric(rep->f1, 0.0);
  ck_metric(rep->lesion_dice, 0.0);
  ck_assert_int_eq(rep->ref[0].hd95.why, SS_PRED_EMPTY);
  ck_assert_int_eq(rep->lesion_hd95.why, SS_NOT_FINITE);
  ss_lesion_report_free(rep);
  s.plan.has_worst_distance = true;
  s.plan.worst_distance_mm = 374.0;
  rep = run(&s, false);
  ck_metric(rep->lesion_hd95, 374.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_ref_empty_all_false_positives)
{
  /* Two prediction lesions, empty reference: fp 2, precision 0, recall
   * undefined, F1 0, lesion Dice 0 / (0 + 2) = 0. */
  scene s = scene_new(8, 4, 4);
  box(&s, s.p, 1, 1, 1, 1, 1, 1);
  box(&s, s.p, 5, 6, 1, 1, 1, 1);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 0, 2, 0, 0);
  ck_metric(rep->precision, 0.0);
  ck_assert_int_eq(rep->recall.why, SS_REF_EMPTY);
  ck_metric(rep->f1, 0.0);
  ck_metric(rep->lesion_dice, 0.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_ignore_removes_prediction_voxels)
{
  /* A prediction lesion entirely inside the ignore region is not a false
   * positive; another that bridges two reference lesions only through
   * ignored voxels splits into two. */
  scene s = scene_new(12, 4, 4);
  box(&s, s.p, 1, 1, 1, 1, 1, 1);
  box(&s, s.ig, 0, 2, 0, 2, 0, 2);
  box(&s, s.r, 5, 5, 1, 1, 1, 1);
  box(&s, s.r, 9, 9, 1, 1, 1, 1);
  box(&s, s.p, 5, 9, 1, 1, 1, 1);
  box(&s, s.ig, 7, 7, 0, 3, 0, 3);
  ss_lesion_report *rep = run(&s, false);
  ck_assert_int_eq(rep->npred, 2);
  ck_counts(rep, 2, 1, 0, 1);
  ss_lesion_report_free(rep);
  rep = run(&s, true);
  ck_assert_int_eq(rep->npred, 2);
  ck_assert_int_eq(rep->pred[0].voxels, 2);
  ck_counts(rep, 2, 0, 0, 2);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

/*---- per-lesion HD95 ------------------------------------------------------*/

/* HD95 of the whole masks of S by the boundary kernel on the full grid:
 * an independent path (no crop, no lesion bookkeeping). */
static ss_metric
class_hd95(scene *s)
{
  ss__grid g = { s->nx, s->ny, s->nz, { s->sp[0], s->sp[1], s->sp[2] } };
  ss__mask pm = { s->p, 1, member01 }, rm = { s->r, 1, member01 };
  ss_plan plan = s->plan;
  plan.npercentiles = 1;
  plan.percentiles[0] = 95.0;
  ss_boundary bd;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__boundary_class(&g, &pm, &rm, NULL, &plan, &bd, &err),
                   SS_OK);
  return bd.hdp[0];
}

START_TEST(test_lesions_hd95_identical_lesion_is_zero)
{
  scene s = scene_new(8, 8, 8);
  box(&s, s.r, 2, 5, 2, 4, 1, 3);
  box(&s, s.p, 2, 5, 2, 4, 1, 3);
  ss_lesion_report *rep = run(&s, false);
  ck_metric(rep->ref[0].hd95, 0.0);
  ck_metric(rep->lesion_hd95, 0.0);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_hd95_single_pair_equals_class_hd95)
{
  /* One reference and one shifted, resized prediction lesion with
   * anisotropic spacing (0.8, 1.2, 2.5 mm), surfel and voxel surfaces:
   * the lesion's HD95 (computed on its crop) equals the class HD95 of the
   * same masks on the whole grid. */
  scene s = scene_new(24, 20, 12);
  s.sp[0] = 0.8;
  s.sp[1] = 1.2;
  s.sp[2] = 2.5;
  box(&s, s.r, 4, 12, 5, 11, 3, 7);
  box(&s, s.p, 6, 15, 4, 10, 4, 8);
  for (int mode = 0; mode < 2; mode++) {
    s.plan.surface = mode ? SS_SURFACE_VOXEL : SS_SURFACE_SURFEL;
    ss_metric want = class_hd95(&s);
    ck_assert_int_eq(want.why, SS_DEFINED);
    ck_assert_double_gt(want.value, 0.0);
    ss_lesion_report *rep = run(&s, false);
    ck_metric(rep->ref[0].hd95, want.value);
    ss_lesion_report_free(rep);
  }
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_hd95_uses_only_matched_predictions)
{
  /* Two reference lesions, each with its own prediction: each lesion's
   * HD95 equals the class HD95 of a scene holding only that lesion and its
   * prediction.  Ids go by raster order (z slowest): the lesion starting
   * at z = 1 (B) is 1.  The BraTS-style lesion-wise HD95 is the mean of the two
   * (no misses, no false positives). */
  scene s = scene_new(30, 12, 10);
  box(&s, s.r, 2, 7, 2, 8, 2, 6);
  box(&s, s.p, 3, 9, 2, 7, 2, 7);
  box(&s, s.r, 18, 25, 3, 9, 1, 5);
  box(&s, s.p, 17, 24, 3, 8, 1, 5);
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 2, 0, 0, 2);
  scene a = scene_new(30, 12, 10), b = scene_new(30, 12, 10);
  box(&a, a.r, 2, 7, 2, 8, 2, 6);
  box(&a, a.p, 3, 9, 2, 7, 2, 7);
  box(&b, b.r, 18, 25, 3, 9, 1, 5);
  box(&b, b.p, 17, 24, 3, 8, 1, 5);
  double ha = class_hd95(&a).value, hb = class_hd95(&b).value;
  ck_assert_double_ne(ha, hb);
  ck_metric(rep->ref[0].hd95, hb);
  ck_metric(rep->ref[1].hd95, ha);
  ck_metric(rep->lesion_hd95, (ha + hb) / 2.0);
  ss_lesion_report_free(rep);
  scene_free(&a);
  scene_free(&b);
  scene_free(&s);
}
END_TEST

START_TEST(test_lesions_hd95_false_positive_counts_worst)
{
  /* One matched pair with HD95 h plus one false positive, worst 100 mm:
   * lesion-wise HD95 = (h + 100) / 2. */
  scene s = scene_new(20, 10, 10);
  box(&s, s.r, 2, 6, 2, 6, 2, 6);
  box(&s, s.p, 2, 6, 2, 6, 2, 6);
  box(&s, s.p, 14, 15, 2, 3, 2, 3);
  s.plan.has_worst_distance = true;
  s.plan.worst_distance_mm = 100.0;
  ss_lesion_report *rep = run(&s, false);
  ck_counts(rep, 1, 1, 0, 1);
  ck_metric(rep->lesion_hd95, (0.0 + 100.0) / 2.0);
  ck_metric(rep->lesion_dice, 0.5);
  ss_lesion_report_free(rep);
  scene_free(&s);
}
END_TEST

/*---- thread independence -------------------------------------------------*/

static void
random_blobs(scene *s, uint64_t seed, int count)
{
  for (int k = 0; k < count; k++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t v = (uint32_t)(seed >> 33);
    int x = (int)(v % (uint32_t)(s->nx - 4));
    int y = (int)((v >> 8) % (uint32_t)(s->ny - 4));
    int z = (int)((v >> 16) % (uint32_t)(s->nz - 4));
    int w = 1 + (int)((v >> 24) % 3);
    box(s, (v >> 30) & 1 ? s->p : s->r, x, x + w, y, y + w, z, z + 1);
    if ((v >> 29) & 1)
      box(s, s->p, x + 1, x + w, y, y + 1, z, z + w);
  }
}

START_TEST(test_lesions_same_report_for_any_thread_count)
{
  /* 64*48*32 = 98304 voxels: the parallel paths run. */
  scene s = scene_new(64, 48, 32);
  random_blobs(&s, 7, 300);
  s.plan.lesion.dilation_voxels = _i;
  ss_lesion_report *a = run(&s, false);
  ck_assert_int_gt(a->nref, 5);
  for (int t = 2; t <= 4; t++) {
    s.plan.threads = t;
    ss_lesion_report *b = run(&s, false);
    ck_assert_int_eq(a->nref, b->nref);
    ck_assert_int_eq(a->npred, b->npred);
    ck_counts(b, a->tp, a->fp, a->fn, a->tp_pred);
    ck_assert(memcmp(&a->lesion_dice, &b->lesion_dice, sizeof a->lesion_dice)
              == 0);
    for (int32_t k = 0; k < a->nref; k++) {
      ck_assert_int_eq(a->ref[k].voxels, b->ref[k].voxels);
      ck_assert_int_eq(a->ref[k].nmatched, b->ref[k].nmatched);
      ck_assert(a->ref[k].dice.value == b->ref[k].dice.value);
      ck_assert(a->ref[k].hd95.value == b->ref[k].hd95.value);
    }
    ss_lesion_report_free(b);
  }
  ss_lesion_report_free(a);
  scene_free(&s);
}
END_TEST

static Suite *
lesions_suite(void)
{
  Suite *s = suite_create("lesions");
  TCase *tc = tcase_create("matching");
  tcase_add_test(tc, test_lesions_any_overlap_many_to_one_matches_both);
  tcase_add_test(tc, test_lesions_iou_half_rejects_partial_cover);
  tcase_add_test(tc, test_lesions_iou_greedy_tie_goes_to_first_reference);
  tcase_add_test(tc, test_lesions_one_to_many_split_prediction);
  tcase_add_test(tc, test_lesions_corner_touching_reference_by_connectivity);
  tcase_add_test(tc, test_lesions_ids_in_raster_order);
  suite_add_tcase(s, tc);
  tc = tcase_create("options");
  tcase_add_test(tc, test_lesions_dilation_matches_adjacent_prediction);
  tcase_add_test(tc, test_lesions_dilation_merges_close_references);
  tcase_add_test(tc, test_lesions_dilation_with_iou_is_erange);
  tcase_add_test(tc, test_lesions_min_size_both_drops_small_lesions);
  tcase_add_test(tc, test_lesions_min_size_reference_only_like_brats);
  suite_add_tcase(s, tc);
  tc = tcase_create("edges");
  tcase_add_test(tc, test_lesions_both_empty_is_undefined);
  tcase_add_test(tc, test_lesions_pred_empty_scores_zero);
  tcase_add_test(tc, test_lesions_ref_empty_all_false_positives);
  tcase_add_test(tc, test_lesions_ignore_removes_prediction_voxels);
  tcase_add_loop_test(tc, test_lesions_same_report_for_any_thread_count, 0,
                      3);
  suite_add_tcase(s, tc);
  tc = tcase_create("hd95");
  tcase_add_test(tc, test_lesions_hd95_identical_lesion_is_zero);
  tcase_add_test(tc, test_lesions_hd95_single_pair_equals_class_hd95);
  tcase_add_test(tc, test_lesions_hd95_uses_only_matched_predictions);
  tcase_add_test(tc, test_lesions_hd95_false_positive_counts_worst);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(lesions_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
