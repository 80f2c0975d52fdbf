/* check_losses.c - every loss and trade-off: values derived by hand on
 * tiny volumes, parameter effects, empty classes, invalid input, and an
 * independent straightforward double-precision reference (written here,
 * separately from lib/src/losses.c) that the fused kernel must match to
 * 1e-9 on random volumes, for any thread count.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/src/internal.h"

/*---- Test volumes (built directly, independent of the decoder) ----------*/

static int
cmp64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static ss_volume *
mk_labels(const int32_t *v, int64_t nx, int64_t ny, int64_t nz)
{
  int64_t n = nx * ny * nz;
  ss_volume *vol = calloc(1, sizeof *vol);
  int64_t *tab = malloc((size_t)n * sizeof *tab);
  for (int64_t i = 0; i < n; i++)
    tab[i] = v[i];
  qsort(tab, (size_t)n, sizeof *tab, cmp64);
  int nl = 0;
  for (int64_t i = 0; i < n; i++)
    if (nl == 0 || tab[nl - 1] != tab[i])
      tab[nl++] = tab[i];
  vol->labels = tab;
  vol->nlabels = nl;
  vol->idx_width = 1;
  uint8_t *idx = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++) {
    int j = 0;
    while (tab[j] != v[i])
      j++;
    idx[i] = (uint8_t)j;
  }
  vol->idx = idx;
  vol->nvox = n;
  vol->info.nx = nx;
  vol->info.ny = ny;
  vol->info.nz = nz;
  vol->info.channels = 1;
  for (int a = 0; a < 3; a++)
    vol->info.spacing_mm[a] = 1.0;
  return vol;
}

static ss_volume *
mk_floats(const float *d, int64_t nx, int64_t ny, int64_t nz, int C)
{
  int64_t n = nx * ny * nz;
  ss_volume *vol = calloc(1, sizeof *vol);
  vol->data = malloc((size_t)(n * C) * sizeof(float));
  memcpy(vol->data, d, (size_t)(n * C) * sizeof(float));
  vol->nvox = n;
  vol->info.nx = nx;
  vol->info.ny = ny;
  vol->info.nz = nz;
  vol->info.channels = C;
  for (int a = 0; a < 3; a++)
    vol->info.spacing_mm[a] = 1.0;
  return vol;
}

static void
vfree(ss_volume *v)
{
  if (v == NULL)
    return;
  free(v->idx);
  free(v->labels);
  free(v->data);
  free(v);
}

static ss_report *
mk_report(const int64_t *labels, int n)
{
  ss_report *r = calloc(1, sizeof *r);
  r->nclasses = n;
  r->classes = calloc((size_t)n + 1, sizeof *r->classes);
  for (int i = 0; i < n; i++) {
    r->classes[i].label = labels[i];
    snprintf(r->classes[i].name, sizeof r->classes[i].name, "%lld",
             (long long)labels[i]);
  }
  return r;
}

static void
rfree(ss_report *r)
{
  ss__losses_release(r);
  free(r->classes);
  free(r);
}

static ss_report *
score(ss_volume *pred, ss_volume *ref, ss_plan *plan, const int64_t *labels,
      int n, ss_status want)
{
  ss_report *r = mk_report(labels, n);
  ss_error err = { 0 };
  ss_status st = ss__losses_score(pred, ref, plan, r, &err);
  ck_assert_msg(st == want, "status %s (%s), wanted %s", ss_status_name(st),
                err.detail, ss_status_name(want));
  return r;
}

#define CASE(r, id) ((r)->losses.loss[SS_LOSS_##id])
#define CLS(r, i, id) ((r)->classes[i].losses.loss[SS_LOSS_##id])

static void
near(ss_metric m, double want, double tol, const char *what)
{
  ck_assert_msg(m.why == SS_DEFINED, "%s undefined (%s)", what,
                ss_undef_name(m.why));
  ck_assert_msg(fabs(m.value - want) <= tol * fmax(1.0, fabs(want)),
                "%s = %.17g, wanted %.17g", what, m.value, want);
}

/*---- Hand-derived values ------------------------------------------------*/

/* Two voxels, two channels:  voxel 0: reference 1, p = (0.25, 0.75);
 * voxel 1: reference 0, p = (0.625, 0.375).  Class 1 soft counts:
 * TP = 0.75, sum p = 1.125, sum g = 1, FP = 0.375, FN = 0.25,
 * sum p^2 = 0.703125.  Smoothing 0 unless said. */
static const float hand_p[] = { 0.25f, 0.625f, 0.75f, 0.375f };
static const int32_t hand_ref[] = { 1, 0 };

static ss_report *
hand(ss_plan *plan)
{
  ss_volume *pred = mk_floats(hand_p, 2, 1, 1, 2);
  ss_volume *ref = mk_labels(hand_ref, 2, 1, 1);
  const int64_t lab[] = { 1 };
  ss_report *r = score(pred, ref, plan, lab, 1, SS_OK);
  vfree(pred);
  vfree(ref);
  return r;
}

START_TEST(test_hand_values)
{
  ss_plan plan;
  ss_plan_init(&plan);
  plan.smooth_nr = plan.smooth_dr = 0.0;
  ss_report *r = hand(&plan);
  double ce = -(log(0.75) + log(0.625)) / 2;
  near(CASE(r, CE), ce, 1e-15, "ce");
  near(CASE(r, WCE), ce, 1e-15, "wce (uniform)");
  near(CLS(r, 0, DICE), 1 - 1.5 / 2.125, 1e-15, "dice");
  near(r->classes[0].losses.score[SS_LOSS_DICE], 1.5 / 2.125, 1e-15,
       "dice score");
  near(CASE(r, DICE), 1 - 1.5 / 2.125, 1e-15, "dice case");
  near(CLS(r, 0, DICE_SQUARED), 1 - 1.5 / (0.703125 + 1), 1e-15,
       "dice_squared");
  near(CLS(r, 0, JACCARD), 1 - 0.75 / 1.375, 1e-15, "jaccard");
  near(CASE(r, GDL), 1 - 1.5 / 2.125, 1e-15, "gdl (one class = dice)");
  double ti = 0.75 / (0.75 + 0.3 * 0.375 + 0.7 * 0.25);
  near(CLS(r, 0, TVERSKY), 1 - ti, 1e-15, "tversky");
  near(CLS(r, 0, FOCAL_TVERSKY), pow(1 - ti, 0.75), 1e-15, "focal_tversky");
  near(CLS(r, 0, FOCAL_DICE), 1 - sqrt(1.5 / 2.125), 1e-15, "focal_dice");
  double w = 2.25 / 3.25;
  near(CLS(r, 0, ASYM), 1 - 0.75 / (0.75 + w * 0.25 + (1 - w) * 0.375),
       1e-15, "asym");
  double gd = 1.5 / 2.125;
  near(CASE(r, PGDL), 1 - gd / (1 + 2.5 * (1 - gd)), 1e-15, "pgdl");
  near(CASE(r, FOCAL),
       -(0.25 * 0.25 * log(0.75) + 0.375 * 0.375 * log(0.625)) / 2, 1e-15,
       "focal");
  /* k = 10 % of 2 voxels keeps none: undefined. */
  ck_assert_int_eq(CASE(r, TOPK).why, SS_ZERO_DENOMINATOR);
  /* t = 0.5: only voxel 1 (p_true 0.625)?  No: 0.625 >= 0.5; none kept. */
  ck_assert_int_eq(CASE(r, TOPK_THRESHOLD).why, SS_ZERO_DENOMINATOR);
  /* BCE of class 1 equals CE here (two channels). */
  near(CLS(r, 0, DICE_BCE), 0.5 * ce + 0.5 * (1 - 1.5 / 2.125), 1e-15,
       "dice_bce");
  near(CASE(r, DICE_FOCAL),
       (1 - 1.5 / 2.125) + 0.5 * -(0.25 * 0.25 * log(0.75) +
                                   0.375 * 0.375 * log(0.625)) / 2,
       1e-15, "dice_focal");
  /* Trade-offs (argmax: voxel 0 -> 1, voxel 1 -> 0: perfect). */
  const ss_class_tradeoffs *to = &r->classes[0].tradeoffs;
  ck_assert(to->have && to->have_prob);
  for (int j = 0; j < to->ntversky; j++)
    near(to->tversky[j], 1.0, 0, "tversky grid");
  ck_assert_int_eq(to->npr, 1001);
  near(to->pr_precision[0], 0.5, 0, "precision at 0");
  near(to->pr_recall[0], 1.0, 0, "recall at 0");
  near(to->pr_precision[375], 0.5, 0, "precision at 0.375");
  near(to->pr_precision[376], 1.0, 0, "precision at 0.376");
  near(to->pr_precision[750], 1.0, 0, "precision at 0.75");
  ck_assert_int_eq(to->pr_precision[751].why, SS_PRED_EMPTY);
  near(to->pr_recall[751], 0.0, 0, "recall at 0.751");
  near(to->average_precision, 1.0, 1e-15, "AP");
  near(to->best_threshold, 0.376, 1e-15, "best threshold");
  near(to->best_dice, 1.0, 0, "best dice");
  near(to->brier, (0.0625 + 0.140625) / 2, 1e-15, "brier");
  near(to->ece, (0.25 + 0.375) / 2, 1e-15, "ece");
  rfree(r);

  /* Default smoothing 1e-5 on both sides. */
  ss_plan_init(&plan);
  r = hand(&plan);
  near(CLS(r, 0, DICE), 1 - (1.5 + 1e-5) / (2.125 + 1e-5), 1e-15,
       "dice smoothed");
  rfree(r);

  /* TopK k = 50: the hardest voxel (voxel 1); threshold t = 0.7 keeps
   * voxel 1 (0.625 < 0.7) only. */
  ss_plan_init(&plan);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_TOPK, "k", 50, NULL),
                   SS_OK);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_TOPK_THRESHOLD, "t",
                                     0.7, NULL), SS_OK);
  r = hand(&plan);
  near(CASE(r, TOPK), -log(0.625), 1e-15, "topk 50");
  near(CASE(r, TOPK_THRESHOLD), -log(0.625), 1e-15, "topk_threshold 0.7");
  rfree(r);
  ss_plan_clear(&plan);
}
END_TEST

/* Parameters move the values the way the formulas say. */
START_TEST(test_param_effects)
{
  ss_plan plan;
  ss_plan_init(&plan);
  ss_loss_plan *lp = &plan.loss;
  plan.smooth_nr = plan.smooth_dr = 0;
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_TVERSKY, "alpha", 0.5, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_TVERSKY, "beta", 0.5, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_FOCAL, "gamma", 0, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_TOPK, "k", 100, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_FOCAL_TVERSKY, "gamma", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_FOCAL_TVERSKY, "alpha", 0.5, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_FOCAL_TVERSKY, "beta", 0.5, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_FOCAL_DICE, "beta", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_ASYM, "beta", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_PGDL, "k", 0, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_DICE_BCE, "gamma", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_DICE_FOCAL, "lambda", 0, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_HYBRID, "w2", 0, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(lp, SS_LOSS_HYBRID, "w3", 0, NULL), 0);
  ss_report *r = hand(&plan);
  near(CLS(r, 0, TVERSKY), CLS(r, 0, DICE).value, 1e-15, "tversky(.5,.5)=dice");
  near(CASE(r, FOCAL), CASE(r, CE).value, 1e-15, "focal(0)=ce");
  near(CASE(r, TOPK), CASE(r, CE).value, 1e-15, "topk(100)=ce");
  near(CLS(r, 0, FOCAL_TVERSKY), CLS(r, 0, DICE).value, 1e-15,
       "focal_tversky(gamma 1, .5, .5) = dice");
  near(CLS(r, 0, FOCAL_DICE), CLS(r, 0, DICE).value, 1e-15, "focal_dice(1)");
  near(CLS(r, 0, ASYM), CLS(r, 0, DICE).value, 1e-15, "asym(1)=dice");
  near(CASE(r, PGDL), CASE(r, GDL).value, 1e-15, "pgdl(0)=gdl");
  near(CLS(r, 0, DICE_BCE), CASE(r, CE).value, 1e-15, "dice_bce(1)=bce");
  near(CASE(r, DICE_FOCAL), CASE(r, DICE).value, 1e-15, "dice_focal(0)=dice");
  near(CLS(r, 0, HYBRID), CASE(r, CE).value, 1e-15, "hybrid(1,0,0)=bce");
  rfree(r);
  /* Larger beta (FN weight) raises the Tversky loss here (FN < FP, so
   * rather: the loss moves); larger gamma lowers focal. */
  ss_plan_clear(&plan);
  ss_plan_init(&plan);
  ss_report *a = hand(&plan);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_TVERSKY, "alpha", 0.9, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_TVERSKY, "beta", 0.1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_FOCAL, "gamma", 5, NULL), 0);
  ss_report *b = hand(&plan);
  /* FP (0.375) > FN (0.25): weighting FP more raises the loss. */
  ck_assert(CLS(b, 0, TVERSKY).value > CLS(a, 0, TVERSKY).value);
  ck_assert(CASE(b, FOCAL).value < CASE(a, FOCAL).value);
  rfree(a);
  rfree(b);
  ss_plan_clear(&plan);
}
END_TEST

/* Catalog and parameter checking. */
START_TEST(test_catalog_params)
{
  int n = 0;
  const ss_loss_info *cat = ss_loss_catalog(&n);
  ck_assert_int_eq(n, SS_LOSS_COUNT);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(cat[i].id, i);
    ck_assert_int_eq(ss_loss_find(cat[i].name), i);
    ck_assert_ptr_nonnull(cat[i].citation);
    ck_assert_ptr_nonnull(cat[i].formula);
  }
  ck_assert_int_eq(ss_loss_find("nope"), -1);
  ss_loss_plan lp;
  ss_loss_plan_init(&lp);
  ss_error err = { 0 };
  ck_assert_int_eq(ss_loss_param_set(&lp, SS_LOSS_TVERSKY, "gamma", 1, &err),
                   SS_EOPTION);
  ck_assert_str_eq(err.field, "loss_params.tversky.gamma");
  ck_assert_int_eq(ss_loss_param_set(&lp, SS_LOSS_TVERSKY, "alpha", -1, &err),
                   SS_ERANGE);
  ck_assert_int_eq(ss_loss_param_set(&lp, SS_LOSS_TOPK, "k", 0, &err),
                   SS_ERANGE);
  ck_assert_int_eq(ss_loss_param_set(&lp, SS_LOSS_TOPK, "k", NAN, &err),
                   SS_ERANGE);
  ck_assert_int_eq(ss_loss_param_set(&lp, SS_LOSS_FOCAL, "alpha", 1, &err),
                   SS_ETYPE);
  double al[] = { 1, 2 };
  ck_assert_int_eq(ss_loss_param_set_list(&lp, SS_LOSS_FOCAL, "alpha", al, 2,
                                          &err), SS_OK);
  ck_assert_int_eq(lp.nfocal_alpha, 2);
  double bad[] = { 1, -2 };
  ck_assert_int_eq(ss_loss_plan_set_weights(&lp, bad, 2, &err), SS_ERANGE);
  ss_loss_plan_clear(&lp);
}
END_TEST

/* Focal's per-class alpha and the class weightings, by hand. */
START_TEST(test_weights)
{
  /* Three voxels: refs 1, 0, 0 with p_true 0.75, 0.625, 0.5. */
  const float p[] = { 0.25f, 0.625f, 0.5f, 0.75f, 0.375f, 0.5f };
  const int32_t rv[] = { 1, 0, 0 };
  ss_volume *pred = mk_floats(p, 3, 1, 1, 2);
  ss_volume *ref = mk_labels(rv, 3, 1, 1);
  const int64_t lab[] = { 1 };
  ss_plan plan;
  ss_plan_init(&plan);
  double al[] = { 0.25, 0.75 };
  ck_assert_int_eq(ss_loss_param_set_list(&plan.loss, SS_LOSS_FOCAL, "alpha",
                                          al, 2, NULL), 0);
  plan.loss.weighting = SS_WEIGHTS_INVERSE_FREQUENCY;
  ss_report *r = score(pred, ref, &plan, lab, 1, SS_OK);
  double c0 = -log(0.625), c1 = -log(0.75), c2 = -log(0.5);
  near(CASE(r, FOCAL),
       (0.75 * 0.0625 * c1 + 0.25 * (0.140625 * c0 + 0.25 * c2)) / 3, 1e-15,
       "focal alpha");
  /* inverse frequency: w0 = 3/(2*2), w1 = 3/(2*1) */
  double w0 = 0.75, w1 = 1.5;
  near(CASE(r, WCE), (w1 * c1 + w0 * (c0 + c2)) / (w1 + 2 * w0), 1e-15,
       "wce inverse");
  near(CASE(r, CE), (c0 + c1 + c2) / 3, 1e-15, "ce");
  rfree(r);
  /* median frequency of {2/3, 1/3} is 1/2: w0 = 0.75, w1 = 1.5 as well */
  plan.loss.weighting = SS_WEIGHTS_MEDIAN_FREQUENCY;
  r = score(pred, ref, &plan, lab, 1, SS_OK);
  near(CASE(r, WCE), (w1 * c1 + w0 * (c0 + c2)) / (w1 + 2 * w0), 1e-15,
       "wce median");
  rfree(r);
  double wl[] = { 0.2, 0.8 };
  ck_assert_int_eq(ss_loss_plan_set_weights(&plan.loss, wl, 2, NULL), 0);
  r = score(pred, ref, &plan, lab, 1, SS_OK);
  near(CASE(r, WCE), (0.8 * c1 + 0.2 * (c0 + c2)) / (0.8 + 0.4), 1e-15,
       "wce list");
  rfree(r);
  double wl3[] = { 1, 1, 1 };
  ck_assert_int_eq(ss_loss_plan_set_weights(&plan.loss, wl3, 3, NULL), 0);
  rfree(score(pred, ref, &plan, lab, 1, SS_ERANGE));
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
}
END_TEST

/* Empty classes: class 2 absent from the reference; with zero smoothing
 * and a channel that is exactly 0, both empty -> undefined. */
START_TEST(test_empty_class)
{
  const float p[] = { 0.25f, 0.5f, 0.75f, 0.5f, 0.0f, 0.0f };
  const int32_t rv[] = { 1, 0 };
  ss_volume *pred = mk_floats(p, 2, 1, 1, 3);
  ss_volume *ref = mk_labels(rv, 2, 1, 1);
  const int64_t lab[] = { 1, 2 };
  ss_plan plan;
  ss_plan_init(&plan);
  ss_report *r = score(pred, ref, &plan, lab, 2, SS_OK);
  /* smoothed: (0 + s)/(0 + s) = 1 -> loss 0 */
  near(CLS(r, 1, DICE), 0.0, 1e-12, "dice both empty, smoothed");
  near(CLS(r, 1, TVERSKY), 0.0, 1e-12, "tversky both empty, smoothed");
  ck_assert_int_eq(r->classes[1].tradeoffs.tversky[0].why, SS_BOTH_EMPTY);
  ck_assert_int_eq(r->classes[1].tradeoffs.average_precision.why,
                   SS_REF_EMPTY);
  ck_assert_int_eq(r->classes[1].tradeoffs.best_threshold.why, SS_REF_EMPTY);
  rfree(r);
  plan.smooth_nr = plan.smooth_dr = 0;
  r = score(pred, ref, &plan, lab, 2, SS_OK);
  ck_assert_int_eq(CLS(r, 1, DICE).why, SS_BOTH_EMPTY);
  ck_assert_int_eq(CLS(r, 1, JACCARD).why, SS_BOTH_EMPTY);
  ck_assert_int_eq(CLS(r, 1, FOCAL_TVERSKY).why, SS_BOTH_EMPTY);
  ck_assert_int_eq(r->classes[1].losses.score[SS_LOSS_DICE].why,
                   SS_BOTH_EMPTY);
  /* the case value skips the undefined class */
  near(CASE(r, DICE), CLS(r, 0, DICE).value, 0, "case skips both-empty");
  /* GDL: class 2 absent takes the largest finite weight (1/1) but adds 0 */
  near(CASE(r, GDL), 1 - 1.5 / 2.25, 1e-15, "gdl with absent class");
  rfree(r);
  /* Reference empty, prediction not: Dice 0 -> loss 1. */
  const float p2[] = { 0.5f, 0.5f, 0.0f, 0.0f, 0.5f, 0.5f };
  ss_volume *pred2 = mk_floats(p2, 2, 1, 1, 3);
  r = score(pred2, ref, &plan, lab, 2, SS_OK);
  near(CLS(r, 1, DICE), 1.0, 0, "dice ref empty");
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(pred2);
  vfree(ref);
}
END_TEST

START_TEST(test_invalid_probabilities)
{
  float p[2 * 8];
  int32_t rv[8] = { 0 };
  for (int i = 0; i < 8; i++) {
    p[i] = 0.5f;
    p[8 + i] = 0.5f;
  }
  ss_volume *ref = mk_labels(rv, 2, 2, 2);
  const int64_t lab[] = { 1 };
  ss_plan plan;
  ss_plan_init(&plan);
  struct { int at; float v; const char *want; } cases[] = {
    { 8 + 5, NAN, "voxel (1,0,1) channel 1 is NaN" },
    { 3, -0.25f, "voxel (1,1,0) channel 0 is negative" },
    { 6, INFINITY, "voxel (0,1,1) channel 0 is infinite" },
    { 2, 0.75f, "at voxel (0,1,0) the channels do not sum to 1" },
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    float q[16];
    memcpy(q, p, sizeof q);
    q[cases[k].at] = cases[k].v;
    ss_volume *pred = mk_floats(q, 2, 2, 2, 2);
    ss_report *r = mk_report(lab, 1);
    ss_error err = { 0 };
    ck_assert_int_eq(ss__losses_score(pred, ref, &plan, r, &err), SS_EPROB);
    ck_assert_msg(strstr(err.detail, cases[k].want) != NULL, "%s",
                  err.detail);
    rfree(r);
    vfree(pred);
  }
  /* A reference label without a channel. */
  int32_t rv3[8] = { 0, 0, 3, 0, 0, 0, 0, 0 };
  ss_volume *ref3 = mk_labels(rv3, 2, 2, 2);
  ss_volume *pred = mk_floats(p, 2, 2, 2, 2);
  rfree(score(pred, ref3, &plan, lab, 1, SS_ELABELS));
  /* ... unless it is the ignore label. */
  plan.has_ignore = true;
  plan.ignore_label = 3;
  rfree(score(pred, ref3, &plan, lab, 1, SS_OK));
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
  vfree(ref3);
}
END_TEST

/*---- The independent reference ------------------------------------------*/

typedef struct {
  int64_t n;
  int K;                 /* channels */
  double *p;             /* K x n */
  int *t;                /* channel or -1 */
  int S;
  int nmem[8];
  int mem[8][8];
  int hard;
} refcase;

static double
rclamp(double p)
{
  return fmin(fmax(p, 1e-7), 1 - 1e-7);
}

static double
rps(const refcase *rc, int s, int64_t i)
{
  double v = 0;
  for (int m = 0; m < rc->nmem[s]; m++)
    v += rc->p[(int64_t)rc->mem[s][m] * rc->n + i];
  return v;
}

static int
rgs(const refcase *rc, int s, int64_t i)
{
  for (int m = 0; m < rc->nmem[s]; m++)
    if (rc->t[i] == rc->mem[s][m])
      return 1;
  return 0;
}

static int
cmpd_desc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Brute-force SSIM: normalised Gaussian window sums per voxel. */
static double
ref_ssim(const refcase *rc, int s, int64_t nx, int64_t ny, int64_t nz,
         double sigma)
{
  int R = (int)ceil(3 * sigma);
  double tot = 0;
  int64_t cnt = 0;
  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        int64_t i = (z * ny + y) * nx + x;
        if (rc->t[i] < 0)
          continue;
        double F[5] = { 0 };
        for (int dz = -R; dz <= R; dz++)
          for (int dy = -R; dy <= R; dy++)
            for (int dx = -R; dx <= R; dx++) {
              int64_t X = x + dx, Y = y + dy, Z = z + dz;
              if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= nz)
                continue;
              int64_t j = (Z * ny + Y) * nx + X;
              if (rc->t[j] < 0)
                continue;
              double w = exp(-(dx * dx + dy * dy + dz * dz) /
                             (2 * sigma * sigma));
              double pv = rps(rc, s, j), gv = rgs(rc, s, j);
              F[0] += w;
              F[1] += w * pv;
              F[2] += w * pv * pv;
              F[3] += w * gv;
              F[4] += w * pv * gv;
            }
        double mp = F[1] / F[0], mg = F[3] / F[0];
        double vp = F[2] / F[0] - mp * mp, vg = F[3] / F[0] - mg * mg;
        double cv = F[4] / F[0] - mp * mg;
        double c1 = 1e-4, c2 = 9e-4;
        tot += (2 * mp * mg + c1) * (2 * cv + c2) /
               ((mp * mp + mg * mg + c1) * (vp + vg + c2));
        cnt++;
      }
  return tot / cnt;
}

/* Compare every computed value with the reference. */
static void
check_against_reference(const refcase *rc, const ss_report *r,
                        const ss_plan *plan, int64_t nx, int64_t ny,
                        int64_t nz, int with_ssim)
{
  const ss_loss_plan *lp = &plan->loss;
  const double tol = 1e-9, snr = plan->smooth_nr, sdr = plan->smooth_dr;
  int64_t N = 0;
  double ce = 0, foc = 0, fdf = 0, thr = 0;
  int64_t nthr = 0;
  double *ces = malloc((size_t)rc->n * sizeof *ces);
  int64_t nk[16] = { 0 };
  double cek[16] = { 0 };
  double gf = lp->params[SS_LOSS_FOCAL][0];
  double gdf = lp->params[SS_LOSS_DICE_FOCAL][1];
  for (int64_t i = 0; i < rc->n; i++) {
    int t = rc->t[i];
    if (t < 0)
      continue;
    double pt = rc->p[(int64_t)t * rc->n + i];
    double c = -log(rclamp(pt));
    ces[N++] = c;
    ce += c;
    nk[t]++;
    cek[t] += c;
    double a = lp->nfocal_alpha ? lp->focal_alpha[t] : 1;
    foc += a * pow(1 - rclamp(pt), gf) * c;
    fdf += pow(1 - rclamp(pt), gdf) * c;
    if (pt < lp->params[SS_LOSS_TOPK_THRESHOLD][0]) {
      thr += c;
      nthr++;
    }
  }
  near(r->losses.loss[SS_LOSS_CE], ce / N, tol, "ref ce");
  near(r->losses.loss[SS_LOSS_FOCAL], foc / N, tol, "ref focal");
  near(r->losses.loss[SS_LOSS_TOPK_THRESHOLD], thr / nthr, tol, "ref thr");
  qsort(ces, (size_t)N, sizeof *ces, cmpd_desc);
  int64_t m = (int64_t)floor(N * lp->params[SS_LOSS_TOPK][0] / 100.0);
  double tk = 0;
  for (int64_t j = 0; j < m; j++)
    tk += ces[j];
  near(r->losses.loss[SS_LOSS_TOPK], tk / m, tol, "ref topk");
  free(ces);
  /* wce with inverse-frequency weights */
  int kp = 0;
  for (int k = 0; k < rc->K; k++)
    kp += nk[k] > 0;
  double wn = 0, wd = 0;
  for (int k = 0; k < rc->K; k++)
    if (nk[k] > 0) {
      double w = (double)N / (kp * (double)nk[k]);
      wn += w * cek[k];
      wd += w * nk[k];
    }
  if (lp->weighting == SS_WEIGHTS_INVERSE_FREQUENCY)
    near(r->losses.loss[SS_LOSS_WCE], wn / wd, tol, "ref wce");

  double sdice = 0, gnum = 0, gden = 0, wmax = 0;
  for (int s = 0; s < rc->S; s++) {
    double G = 0;
    for (int64_t i = 0; i < rc->n; i++)
      if (rc->t[i] >= 0)
        G += rgs(rc, s, i);
    if (G > 0 && 1 / (G * G) > wmax)
      wmax = 1 / (G * G);
  }
  for (int s = 0; s < rc->S; s++) {
    double TP = 0, P = 0, G = 0, P2 = 0, bce = 0, brier = 0;
    for (int64_t i = 0; i < rc->n; i++) {
      if (rc->t[i] < 0)
        continue;
      double ps = rps(rc, s, i);
      int gs = rgs(rc, s, i);
      TP += ps * gs;
      P += ps;
      P2 += ps * ps;
      G += gs;
      bce -= gs ? log(rclamp(ps)) : log(rclamp(1 - ps));
      brier += (ps - gs) * (ps - gs);
    }
    double FP = P - TP, FN = G - TP;
    double dice = (2 * TP + snr) / (P + G + sdr);
    double jac = (TP + snr) / (TP + FP + FN + sdr);
    const ss_class_losses *cl = &r->classes[s].losses;
    near(cl->loss[SS_LOSS_DICE], 1 - dice, tol, "ref dice");
    near(cl->loss[SS_LOSS_DICE_SQUARED],
         1 - (2 * TP + snr) / (P2 + G + sdr), tol, "ref dice_squared");
    near(cl->loss[SS_LOSS_JACCARD], 1 - jac, tol, "ref jaccard");
    double a = lp->params[SS_LOSS_TVERSKY][0], b = lp->params[SS_LOSS_TVERSKY][1];
    near(cl->loss[SS_LOSS_TVERSKY],
         1 - (TP + snr) / (TP + a * FP + b * FN + sdr), tol, "ref tversky");
    a = lp->params[SS_LOSS_FOCAL_TVERSKY][0];
    b = lp->params[SS_LOSS_FOCAL_TVERSKY][1];
    double g = lp->params[SS_LOSS_FOCAL_TVERSKY][2];
    near(cl->loss[SS_LOSS_FOCAL_TVERSKY],
         pow(1 - (TP + snr) / (TP + a * FP + b * FN + sdr), 1 / g), tol,
         "ref focal_tversky");
    near(cl->loss[SS_LOSS_FOCAL_DICE],
         1 - pow(dice, 1 / lp->params[SS_LOSS_FOCAL_DICE][0]), tol,
         "ref focal_dice");
    double be = lp->params[SS_LOSS_ASYM][0];
    double wa = be * be / (1 + be * be);
    near(cl->loss[SS_LOSS_ASYM],
         1 - (TP + snr) / (TP + wa * FN + (1 - wa) * FP + sdr), tol,
         "ref asym");
    double gm = lp->params[SS_LOSS_DICE_BCE][0];
    near(cl->loss[SS_LOSS_DICE_BCE], gm * bce / N + (1 - gm) * (1 - dice),
         tol, "ref dice_bce");
    if (with_ssim) {
      double ss = ref_ssim(rc, s, nx, ny, nz, lp->params[SS_LOSS_HYBRID][3]);
      const double *w = lp->params[SS_LOSS_HYBRID];
      near(cl->loss[SS_LOSS_HYBRID],
           w[0] * bce / N + w[1] * (1 - ss) + w[2] * (1 - jac), tol,
           "ref hybrid");
    }
    sdice += 1 - dice;
    double wgt = G > 0 ? 1 / (G * G) : wmax;
    gnum += wgt * TP;
    gden += wgt * (P + G);
    /* trade-offs */
    const ss_class_tradeoffs *to = &r->classes[s].tradeoffs;
    if (!to->have_prob)
      continue;
    near(to->brier, brier / N, tol, "ref brier");
    int B = lp->pr_bins;
    double ap = 0, rprev = 0, best = -1, bt = 0;
    /* sort (p, g) by p descending and sweep the thresholds downwards */
    int64_t nv = 0;
    double (*pg)[2] = malloc((size_t)rc->n * sizeof *pg);
    for (int64_t i = 0; i < rc->n; i++)
      if (rc->t[i] >= 0) {
        pg[nv][0] = rps(rc, s, i);
        pg[nv][1] = rgs(rc, s, i);
        nv++;
      }
    qsort(pg, (size_t)nv, sizeof *pg, cmpd_desc);
    int64_t at = 0;
    double tp = 0, fp = 0;
    for (int j = B; j >= 0; j--) {
      while (at < nv && pg[at][0] * B >= j) {   /* p >= j/B */
        if (pg[at][1] > 0)
          tp++;
        else
          fp++;
        at++;
      }
      if (tp + fp > 0)
        near(to->pr_precision[j], tp / (tp + fp), tol, "ref precision");
      if (G > 0) {
        double rcl = tp / G;
        near(to->pr_recall[j], rcl, tol, "ref recall");
        if (rcl > rprev)
          ap += (rcl - rprev) * tp / (tp + fp);
        rprev = rcl;
        double d = 2 * tp / (2 * tp + fp + G - tp);
        if (d >= best) {
          best = d;
          bt = (double)j / B;
        }
      }
    }
    free(pg);
    if (G > 0) {
      near(to->average_precision, ap, tol, "ref AP");
      near(to->best_threshold, bt, tol, "ref best threshold");
      near(to->best_dice, best, tol, "ref best dice");
    }
    int E = lp->ece_bins;
    double ece = 0;
    for (int e = 0; e < E; e++) {
      double sp = 0, pos = 0;
      for (int64_t i = 0; i < rc->n; i++) {
        if (rc->t[i] < 0)
          continue;
        double ps = fmin(fmax(rps(rc, s, i), 0), 1);
        int eb = (int)(ps * E);
        if (eb >= E)
          eb = E - 1;
        if (eb == e) {
          sp += rps(rc, s, i);
          pos += rgs(rc, s, i);
        }
      }
      ece += fabs(sp - pos);
    }
    near(to->ece, ece / N, tol, "ref ece");
  }
  near(r->losses.loss[SS_LOSS_DICE], sdice / rc->S, tol, "ref dice case");
  double gd = (2 * gnum + snr) / (gden + sdr);
  near(r->losses.loss[SS_LOSS_GDL], 1 - gd, tol, "ref gdl");
  double k = lp->params[SS_LOSS_PGDL][0];
  near(r->losses.loss[SS_LOSS_PGDL], 1 - gd / (1 + k * (1 - gd)), tol,
       "ref pgdl");
  near(r->losses.loss[SS_LOSS_DICE_FOCAL],
       sdice / rc->S + lp->params[SS_LOSS_DICE_FOCAL][0] * fdf / N, tol,
       "ref dice_focal");
}

static uint64_t rng_state = 88172645463325252ull;
static double
urand(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A random case: blobs of classes 0..3 in the reference, a noisy
 * prediction leaning to the truth, ignore label 9 in a slab. */
static void
random_case(int64_t nx, int64_t ny, int64_t nz, int C, int logits,
            float **pdata, int32_t **rdata)
{
  int64_t n = nx * ny * nz;
  float *p = malloc((size_t)(n * C) * sizeof *p);
  int32_t *rv = malloc((size_t)n * sizeof *rv);
  int K = C == 1 ? 2 : C;
  for (int64_t i = 0; i < n; i++) {
    int64_t x = i % nx, y = i / nx % ny, z = i / (nx * ny);
    int t = (int)((x * 3 / nx + y * 2 / ny + z / (nz / 2 + 1)) % K);
    if (urand() < 0.05)
      t = (int)(urand() * K) % K;
    rv[i] = t;
    if (x == 1 && y < ny / 3)
      rv[i] = 9;
    double e[8], s = 0;
    for (int k = 0; k < K; k++) {
      e[k] = urand() * 2 + (k == t ? 2.5 * urand() : 0);
      if (urand() < 0.01)
        e[k] += 6;     /* a few confident mistakes */
      s += exp(e[k]);
    }
    if (C == 1) {
      double z1 = e[1] - e[0];
      p[i] = logits ? (float)z1 : (float)(1 / (1 + exp(-z1)));
    } else {
      for (int k = 0; k < C; k++)
        p[(int64_t)k * n + i] = logits ? (float)e[k] : (float)(exp(e[k]) / s);
    }
  }
  *pdata = p;
  *rdata = rv;
}

static void
fill_ref(refcase *rc, const float *p, const int32_t *rv, int64_t n, int C,
         int logits)
{
  rc->n = n;
  rc->K = C == 1 ? 2 : C;
  rc->p = malloc((size_t)(rc->K * n) * sizeof *rc->p);
  rc->t = malloc((size_t)n * sizeof *rc->t);
  for (int64_t i = 0; i < n; i++) {
    rc->t[i] = rv[i] == 9 ? -1 : rv[i];
    if (C == 1) {
      double v = p[i];
      double p1 = logits ? 1 / (1 + exp(-v)) : v;
      double p0 = logits ? 1 / (1 + exp(v)) : 1 - v;
      rc->p[i] = p0;
      rc->p[n + i] = p1;
    } else {
      double m = -INFINITY, s = 0;
      for (int k = 0; k < C; k++)
        m = fmax(m, p[(int64_t)k * n + i]);
      for (int k = 0; k < C; k++) {
        double v = p[(int64_t)k * n + i];
        rc->p[(int64_t)k * n + i] = logits ? exp(v - m) : v;
        s += rc->p[(int64_t)k * n + i];
      }
      if (logits)
        for (int k = 0; k < C; k++)
          rc->p[(int64_t)k * n + i] /= s;
    }
  }
}

/* Bit-identical values (not memcmp: struct padding is unspecified). */
static int
same(ss_metric a, ss_metric b)
{
  return a.why == b.why && memcmp(&a.value, &b.value, sizeof a.value) == 0;
}

static void
run_random(int64_t nx, int64_t ny, int64_t nz, int C, int logits,
           int with_ssim)
{
  float *p;
  int32_t *rv;
  random_case(nx, ny, nz, C, logits, &p, &rv);
  int64_t n = nx * ny * nz;
  ss_volume *pred = mk_floats(p, nx, ny, nz, C);
  ss_volume *ref = mk_labels(rv, nx, ny, nz);
  refcase rc = { 0 };
  fill_ref(&rc, p, rv, n, C, logits);
  int K = rc.K;
  /* classes 1..K-1, plus a region {1,2} when there are 3+ channels */
  int64_t lab[8];
  int S = 0;
  for (int k = 1; k < K; k++) {
    lab[S] = k;
    rc.nmem[S] = 1;
    rc.mem[S][0] = k;
    S++;
  }
  ss_plan plan;
  ss_plan_init(&plan);
  plan.kind = logits ? SS_KIND_LOGITS : SS_KIND_PROBABILITIES;
  plan.has_ignore = true;
  plan.ignore_label = 9;
  plan.loss.weighting = SS_WEIGHTS_INVERSE_FREQUENCY;
  if (!with_ssim) {
    ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_HYBRID, "sigma",
                                       0.5, NULL), 0);
  }
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_FOCAL, "gamma",
                                     1.7, NULL), 0);
  ss_report *r = mk_report(lab, S);
  if (K >= 3) {
    plan.nregions = 1;
    plan.regions = calloc(1, sizeof *plan.regions);
    strcpy(plan.regions[0].name, "r12");
    plan.regions[0].nlabels = 2;
    plan.regions[0].labels[0] = 1;
    plan.regions[0].labels[1] = 2;
    r->nclasses = S + 1;
    r->classes = realloc(r->classes, (size_t)(S + 1) * sizeof *r->classes);
    memset(&r->classes[S], 0, sizeof r->classes[S]);
    r->classes[S].is_region = true;
    r->classes[S].label = -1;
    strcpy(r->classes[S].name, "r12");
    rc.nmem[S] = 2;
    rc.mem[S][0] = 1;
    rc.mem[S][1] = 2;
    S++;
  }
  rc.S = S;
  ss_error err = { 0 };
  plan.threads = 1;
  ck_assert_int_eq(ss__losses_score(pred, ref, &plan, r, &err), SS_OK);
  check_against_reference(&rc, r, &plan, nx, ny, nz, with_ssim);
  /* Two threads: bit-identical. */
  ss_report *r2 = mk_report(lab, 1);
  r2->nclasses = r->nclasses;
  r2->classes = realloc(r2->classes, (size_t)r->nclasses * sizeof *r2->classes);
  for (int s = 0; s < r->nclasses; s++) {
    memset(&r2->classes[s], 0, sizeof r2->classes[s]);
    r2->classes[s].label = r->classes[s].label;
    r2->classes[s].is_region = r->classes[s].is_region;
    strcpy(r2->classes[s].name, r->classes[s].name);
  }
  plan.threads = 2;
  ck_assert_int_eq(ss__losses_score(pred, ref, &plan, r2, &err), SS_OK);
  for (int id = 0; id < SS_LOSS_COUNT; id++) {
    ck_assert_msg(same(r->losses.loss[id], r2->losses.loss[id]),
                  "thread count changed %s", ss_loss_catalog(NULL)[id].name);
    for (int s = 0; s < r->nclasses; s++)
      ck_assert_msg(same(r->classes[s].losses.loss[id],
                         r2->classes[s].losses.loss[id]),
                    "thread count changed %s of class %d",
                    ss_loss_catalog(NULL)[id].name, s);
  }
  for (int s = 0; s < r->nclasses; s++) {
    const ss_class_tradeoffs *a = &r->classes[s].tradeoffs,
                             *b = &r2->classes[s].tradeoffs;
    ck_assert(same(a->ece, b->ece) && same(a->brier, b->brier) &&
              same(a->average_precision, b->average_precision) &&
              same(a->best_threshold, b->best_threshold));
  }
  rfree(r);
  rfree(r2);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
  free(p);
  free(rv);
  free(rc.p);
  free(rc.t);
}

START_TEST(test_reference_probs)
{
  /* > 2 blocks of 65536 voxels, 4 channels, ignore label, a region */
  run_random(70, 50, 40, 4, 0, 0);
}
END_TEST

START_TEST(test_reference_logits)
{
  run_random(61, 45, 33, 3, 1, 0);
}
END_TEST

START_TEST(test_reference_binary)
{
  run_random(40, 40, 45, 1, 0, 0);
  run_random(30, 20, 10, 1, 1, 0);
}
END_TEST

START_TEST(test_reference_ssim)
{
  run_random(17, 14, 12, 3, 0, 1);
}
END_TEST

/* Label-map predictions against the same reference, one-hot: the O(1)
 * per-voxel hard path must give the reference's values. */
START_TEST(test_reference_hard)
{
  const int64_t nx = 70, ny = 50, nz = 40, n = nx * ny * nz;
  float *p;
  int32_t *rv;
  random_case(nx, ny, nz, 4, 0, &p, &rv);
  int32_t *pl = malloc((size_t)n * sizeof *pl);
  for (int64_t i = 0; i < n; i++) {
    int a = 0;
    for (int k = 1; k < 4; k++)
      if (p[(int64_t)k * n + i] > p[(int64_t)a * n + i])
        a = k;
    pl[i] = a;
  }
  ss_volume *pred = mk_labels(pl, nx, ny, nz);
  ss_volume *ref = mk_labels(rv, nx, ny, nz);
  /* channels: the union {0, 1, 2, 3, 9}; 9 is channel 4 */
  refcase rc = { 0 };
  rc.n = n;
  rc.K = 5;
  rc.p = calloc((size_t)(5 * n), sizeof *rc.p);
  rc.t = malloc((size_t)n * sizeof *rc.t);
  for (int64_t i = 0; i < n; i++) {
    rc.p[(int64_t)pl[i] * n + i] = 1.0;
    rc.t[i] = rv[i] == 9 ? -1 : rv[i];
  }
  int64_t lab[4] = { 1, 2, 3 };
  int S = 3;
  for (int s = 0; s < 3; s++) {
    rc.nmem[s] = 1;
    rc.mem[s][0] = s + 1;
  }
  ss_plan plan;
  ss_plan_init(&plan);
  plan.has_ignore = true;
  plan.ignore_label = 9;
  plan.loss.set = SS_LOSS_ALL & ~(1u << SS_LOSS_HYBRID);
  plan.loss.set_given = true;
  plan.loss.weighting = SS_WEIGHTS_INVERSE_FREQUENCY;
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_TOPK, "k", 30,
                                     NULL), 0);
  plan.nregions = 1;
  plan.regions = calloc(1, sizeof *plan.regions);
  strcpy(plan.regions[0].name, "r12");
  plan.regions[0].nlabels = 2;
  plan.regions[0].labels[0] = 1;
  plan.regions[0].labels[1] = 2;
  ss_report *r = mk_report(lab, S);
  r->nclasses = S + 1;
  r->classes = realloc(r->classes, (size_t)(S + 1) * sizeof *r->classes);
  memset(&r->classes[S], 0, sizeof r->classes[S]);
  r->classes[S].is_region = true;
  strcpy(r->classes[S].name, "r12");
  rc.nmem[S] = 2;
  rc.mem[S][0] = 1;
  rc.mem[S][1] = 2;
  rc.S = S + 1;
  ss_error err = { 0 };
  ck_assert_int_eq(ss__losses_score(pred, ref, &plan, r, &err), SS_OK);
  ck_assert(r->losses.hard);
  check_against_reference(&rc, r, &plan, nx, ny, nz, 0);
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
  free(p);
  free(rv);
  free(pl);
  free(rc.p);
  free(rc.t);
}
END_TEST

/* Label-map predictions are one-hot: the "hard" losses. */
START_TEST(test_hard_labels)
{
  const int32_t pv[] = { 1, 1, 0, 2 };
  const int32_t rv[] = { 1, 0, 0, 2 };
  ss_volume *pred = mk_labels(pv, 4, 1, 1);
  ss_volume *ref = mk_labels(rv, 4, 1, 1);
  const int64_t lab[] = { 1, 2 };
  ss_plan plan;
  ss_plan_init(&plan);
  plan.loss.set = SS_LOSS_ALL;
  plan.loss.set_given = true;
  plan.smooth_nr = plan.smooth_dr = 0;
  ss_report *r = score(pred, ref, &plan, lab, 2, SS_OK);
  ck_assert(r->losses.hard);
  /* one wrong voxel of four; p is clamped to [1e-7, 1 - 1e-7] */
  near(CASE(r, CE), (-log(1e-7) - 3 * log(1 - 1e-7)) / 4, 1e-15, "hard ce");
  near(CLS(r, 0, DICE), 1 - 2.0 / 3.0, 1e-15, "hard dice class 1");
  near(CLS(r, 1, DICE), 0.0, 0, "hard dice class 2");
  ck_assert(!r->classes[0].tradeoffs.have_prob);
  rfree(r);
  /* default for labels: no losses */
  ss_plan_init(&plan);
  r = score(pred, ref, &plan, lab, 2, SS_OK);
  ck_assert_uint_eq(r->losses.have, 0);
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
}
END_TEST

START_TEST(test_compound)
{
  ss_plan plan;
  ss_plan_init(&plan);
  plan.loss.set = 1u << SS_LOSS_CE;
  plan.loss.set_given = true;
  plan.loss.ncompound = 2;
  plan.loss.compound[0] = (ss_compound_term){ SS_LOSS_DICE, 1.0 };
  plan.loss.compound[1] = (ss_compound_term){ SS_LOSS_FOCAL, 0.5 };
  ss_report *r = hand(&plan);
  ck_assert(r->losses.has_compound);
  near(r->losses.compound, CASE(r, DICE).value + 0.5 * CASE(r, FOCAL).value,
       1e-15, "compound");
  rfree(r);
  plan.loss.compound[1] = (ss_compound_term){ SS_LOSS_TOPK, 0.5 };
  r = hand(&plan);   /* topk undefined on two voxels */
  ck_assert_int_eq(r->losses.compound.why, SS_ZERO_DENOMINATOR);
  rfree(r);
  ss_plan_clear(&plan);
}
END_TEST


/*---- Distance- and lesion-based losses ----------------------------------*/

/* 6 x 1 x 1, spacing 2 mm, reference 0 0 1 1 1 0, p1 = .25 .5 .75 1 .5 0:
 * every value below is worked out in the comments. */
START_TEST(test_distance_hand)
{
  const float p[] = { 0.75f, 0.5f, 0.25f, 0.0f, 0.5f, 1.0f,
                      0.25f, 0.5f, 0.75f, 1.0f, 0.5f, 0.0f };
  const int32_t rv[] = { 0, 0, 1, 1, 1, 0 };
  ss_volume *pred = mk_floats(p, 6, 1, 1, 2);
  ss_volume *ref = mk_labels(rv, 6, 1, 1);
  for (int a = 0; a < 3; a++)
    ref->info.spacing_mm[a] = 2.0;
  const int64_t lab[] = { 1 };
  ss_plan plan;
  ss_plan_init(&plan);
  plan.smooth_nr = plan.smooth_dr = 0;
  ss_report *r = score(pred, ref, &plan, lab, 1, SS_OK);
  /* distance to another class: 4 2 2 4 2 2 mm; max 4; w = 2 - d/4 */
  double ce[6] = { -log(0.75), -log(0.5), -log(0.75), -log(1 - 1e-7),
                   -log(0.5), -log(1 - 1e-7) };
  double w[6] = { 1, 1.5, 1.5, 1, 1.5, 1.5 };
  double dp = 0;
  for (int i = 0; i < 6; i++)
    dp += w[i] * ce[i];
  near(CASE(r, DPCE), dp / 6, 1e-15, "dpce");
  /* band: d <= 2 mm -> voxels 1 2 4 5 */
  near(CASE(r, BOUNDARY_AWARE),
       (0.7 * (ce[1] + ce[2] + ce[4] + ce[5]) + 0.3 * (ce[0] + ce[3])) /
           (0.7 * 4 + 0.3 * 2),
       1e-15, "boundary_aware");
  /* phi = 4 2 -2 -4 -2 2 */
  near(CLS(r, 0, BOUNDARY_KERVADEC), -4.5 / 6, 1e-15, "kervadec");
  /* argmax mask {2, 3} (ties go to channel 0): d_p = 4 2 2 2 2 4 */
  near(CLS(r, 0, HAUSDORFF_DT), 6.5 / 6, 1e-15, "hausdorff_dt");
  /* one lesion {2,3,4}, one predicted component inside it */
  near(CLS(r, 0, LESION_COMPOUND), (1 - 4.5 / 6) + (1 - 4.5 / 5.25), 1e-15,
       "lesion_compound");
  rfree(r);
  /* alpha and width move the values */
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_HAUSDORFF_DT,
                                     "alpha", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_BOUNDARY_AWARE,
                                     "width_mm", 1, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_LESION_COMPOUND,
                                     "lambda", 0, NULL), 0);
  r = score(pred, ref, &plan, lab, 1, SS_OK);
  /* alpha 1: f = dg + dp = 8 4 4 6 4 6 */
  near(CLS(r, 0, HAUSDORFF_DT), (0.0625 * 8 + 0.25 * 4 + 0.0625 * 4 +
                                 0.25 * 4) / 6, 1e-15, "hausdorff_dt alpha 1");
  /* width 1 mm < spacing: empty band -> plain CE */
  near(CASE(r, BOUNDARY_AWARE), CASE(r, CE).value, 1e-15, "empty band");
  near(CLS(r, 0, LESION_COMPOUND), CLS(r, 0, DICE).value, 1e-15,
       "lesion lambda 0 = dice");
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
}
END_TEST

/* Empty reference class: zero distance field (SegLoss, MONAI), so the
 * boundary loss is 0 and the HD loss only sees the prediction's field. */
START_TEST(test_distance_empty)
{
  const float p[] = { 0.75f, 0.5f, 0.25f, 0.5f, 0.0f, 0.0f,
                      0.25f, 0.5f, 0.75f, 0.5f, 1.0f, 1.0f };
  const int32_t rv[] = { 0, 0, 0, 0, 0, 0 };
  ss_volume *pred = mk_floats(p, 6, 1, 1, 2);
  ss_volume *ref = mk_labels(rv, 6, 1, 1);
  const int64_t lab[] = { 1 };
  ss_plan plan;
  ss_plan_init(&plan);
  ss_report *r = score(pred, ref, &plan, lab, 1, SS_OK);
  near(CLS(r, 0, BOUNDARY_KERVADEC), 0.0, 0, "kervadec empty ref");
  /* only one class present: no boundary, dpce = ce */
  near(CASE(r, DPCE), CASE(r, CE).value, 1e-15, "dpce one class");
  /* pred mask {2, 4, 5}: d_p = 2 1 1 1 1 2 (1 mm) */
  double e[6] = { 0.0625, 0.25, 0.5625, 0.25, 1, 1 };
  double dp[6] = { 2, 1, 1, 1, 1, 2 };
  double hd = 0;
  for (int i = 0; i < 6; i++)
    hd += e[i] * dp[i] * dp[i];
  near(CLS(r, 0, HAUSDORFF_DT), hd / 6, 1e-15, "hausdorff_dt empty ref");
  /* no lesion, two false components {2} and {4,5}: lesion term 1 */
  double dice = 1 - (0 + 1e-5) / (4.0 + 0 + 1e-5);   /* sum p = 4 */
  near(CLS(r, 0, LESION_COMPOUND), dice + 1.0, 1e-12, "lesion empty ref");
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
}
END_TEST

/* Brute-force reference for the distance losses on a small anisotropic
 * random case: O(n^2) distances, flood-fill components. */
static double
bf_dist(int64_t i, int64_t j, int64_t nx, int64_t ny, const double sp[3])
{
  double dx = (double)(i % nx - j % nx) * sp[0];
  double dy = (double)(i / nx % ny - j / nx % ny) * sp[1];
  double dz = (double)(i / (nx * ny) - j / (nx * ny)) * sp[2];
  return sqrt(dx * dx + dy * dy + dz * dz);
}

static void
bf_phi(const uint8_t *m, int64_t n, int64_t nx, int64_t ny, const double sp[3],
       double *phi)
{
  int64_t cnt = 0;
  for (int64_t i = 0; i < n; i++)
    cnt += m[i];
  for (int64_t i = 0; i < n; i++) {
    phi[i] = 0;
    if (cnt == 0 || cnt == n)
      continue;
    double best = INFINITY;
    for (int64_t j = 0; j < n; j++)
      if (m[j] != m[i])
        best = fmin(best, bf_dist(i, j, nx, ny, sp));
    phi[i] = m[i] ? -best : best;
  }
}

static int32_t
bf_components(const uint8_t *m, int64_t nx, int64_t ny, int64_t nz,
              int32_t *lab)
{
  int64_t n = nx * ny * nz;
  int64_t *stack = malloc((size_t)n * sizeof *stack);
  int32_t nc = 0;
  for (int64_t i = 0; i < n; i++)
    lab[i] = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!m[i] || lab[i])
      continue;
    lab[i] = ++nc;
    int64_t sp = 0;
    stack[sp++] = i;
    while (sp > 0) {
      int64_t v = stack[--sp];
      int64_t x = v % nx, y = v / nx % ny, z = v / (nx * ny);
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int64_t X = x + dx, Y = y + dy, Z = z + dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= nz)
              continue;
            int64_t u = (Z * ny + Y) * nx + X;
            if (m[u] && !lab[u]) {
              lab[u] = nc;
              stack[sp++] = u;
            }
          }
    }
  }
  free(stack);
  return nc;
}

START_TEST(test_distance_reference)
{
  const int64_t nx = 13, ny = 11, nz = 7, n = nx * ny * nz;
  const double sp[3] = { 0.7, 1.3, 2.1 };
  float *p;
  int32_t *rv;
  random_case(nx, ny, nz, 3, 0, &p, &rv);
  ss_volume *pred = mk_floats(p, nx, ny, nz, 3);
  ss_volume *ref = mk_labels(rv, nx, ny, nz);
  for (int a = 0; a < 3; a++)
    ref->info.spacing_mm[a] = sp[a];
  refcase rc = { 0 };
  fill_ref(&rc, p, rv, n, 3, 0);
  const int64_t lab[] = { 1, 2 };
  ss_plan plan;
  ss_plan_init(&plan);
  plan.has_ignore = true;
  plan.ignore_label = 9;
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_HAUSDORFF_DT,
                                     "alpha", 1.5, NULL), 0);
  ck_assert_int_eq(ss_loss_param_set(&plan.loss, SS_LOSS_BOUNDARY_AWARE,
                                     "width_mm", 2.5, NULL), 0);
  ss_report *r = score(pred, ref, &plan, lab, 2, SS_OK);
  /* dpce and boundary_aware */
  double *dself = malloc((size_t)n * sizeof *dself);
  double dmax = 0;
  for (int64_t i = 0; i < n; i++) {
    dself[i] = INFINITY;
    if (rc.t[i] < 0)
      continue;
    for (int64_t j = 0; j < n; j++)
      if (rc.t[j] != rc.t[i])
        dself[i] = fmin(dself[i], bf_dist(i, j, nx, ny, sp));
    dmax = fmax(dmax, dself[i]);
  }
  double dp = 0, b1 = 0, b2 = 0, n1 = 0, n2 = 0, N = 0;
  for (int64_t i = 0; i < n; i++) {
    if (rc.t[i] < 0)
      continue;
    double ce = -log(rclamp(rc.p[(int64_t)rc.t[i] * n + i]));
    dp += (1 + (1 - dself[i] / dmax)) * ce;
    if (dself[i] <= 2.5) {
      b1 += ce;
      n1++;
    } else {
      b2 += ce;
      n2++;
    }
    N++;
  }
  near(CASE(r, DPCE), dp / N, 1e-9, "ref dpce");
  near(CASE(r, BOUNDARY_AWARE), (0.7 * b1 + 0.3 * b2) / (0.7 * n1 + 0.3 * n2),
       1e-9, "ref boundary_aware");
  /* per class: kervadec, hausdorff_dt, lesion_compound */
  uint8_t *gm = malloc((size_t)n), *pm = malloc((size_t)n),
          *pms = malloc((size_t)n);
  double *phig = malloc((size_t)n * sizeof *phig),
         *phip = malloc((size_t)n * sizeof *phip);
  int32_t *lr = malloc((size_t)n * sizeof *lr), *lp = malloc((size_t)n * sizeof *lp);
  for (int s = 0; s < 2; s++) {
    int k = s + 1;
    for (int64_t i = 0; i < n; i++) {
      gm[i] = rc.t[i] == k;
      int a = 0;
      for (int q = 1; q < 3; q++)
        if (rc.p[(int64_t)q * n + i] > rc.p[(int64_t)a * n + i])
          a = q;
      pm[i] = a == k;
      pms[i] = a == k && rc.t[i] >= 0;
    }
    bf_phi(gm, n, nx, ny, sp, phig);
    bf_phi(pm, n, nx, ny, sp, phip);
    double kv = 0, hd = 0, TP = 0, P = 0, G = 0;
    for (int64_t i = 0; i < n; i++) {
      if (rc.t[i] < 0)
        continue;
      double ps = rc.p[(int64_t)k * n + i];
      kv += phig[i] * ps;
      hd += (ps - gm[i]) * (ps - gm[i]) *
            (pow(fabs(phig[i]), 1.5) + pow(fabs(phip[i]), 1.5));
      TP += ps * gm[i];
      P += ps;
      G += gm[i];
    }
    near(CLS(r, s, BOUNDARY_KERVADEC), kv / N, 1e-9, "ref kervadec");
    near(CLS(r, s, HAUSDORFF_DT), hd / N, 1e-9, "ref hausdorff_dt");
    int32_t nr = bf_components(gm, nx, ny, nz, lr);
    int32_t np = bf_components(pms, nx, ny, nz, lp);
    double sdsum = 0;
    int nfp = 0;
    for (int32_t j = 1; j <= nr; j++) {
      double sr = 0, cr = 0, ex = 0;
      for (int64_t i = 0; i < n; i++)
        if (lr[i] == j) {
          sr += rc.p[(int64_t)k * n + i];
          cr++;
        }
      for (int32_t q = 1; q <= np; q++) {
        int touches = 0;
        for (int64_t i = 0; i < n && !touches; i++)
          touches = lp[i] == q && lr[i] == j;
        if (!touches)
          continue;
        for (int64_t i = 0; i < n; i++)
          if (lp[i] == q && !gm[i])
            ex += rc.p[(int64_t)k * n + i];
      }
      sdsum += (2 * sr + 1e-5) / (sr + cr + ex + 1e-5);
    }
    for (int32_t q = 1; q <= np; q++) {
      int touches = 0;
      for (int64_t i = 0; i < n && !touches; i++)
        touches = lp[i] == q && gm[i];
      nfp += !touches;
    }
    double ll = nr + nfp > 0 ? 1 - sdsum / (nr + nfp) : 0;
    near(CLS(r, s, LESION_COMPOUND),
         1 - (2 * TP + 1e-5) / (P + G + 1e-5) + ll, 1e-9, "ref lesion");
  }
  rfree(r);
  ss_plan_clear(&plan);
  vfree(pred);
  vfree(ref);
  free(p);
  free(rv);
  free(rc.p);
  free(rc.t);
  free(dself);
  free(gm);
  free(pm);
  free(pms);
  free(phig);
  free(phip);
  free(lr);
  free(lp);
}
END_TEST

static Suite *
suite(void)
{
  Suite *s = suite_create("losses");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_hand_values);
  tcase_add_test(tc, test_param_effects);
  tcase_add_test(tc, test_catalog_params);
  tcase_add_test(tc, test_weights);
  tcase_add_test(tc, test_empty_class);
  tcase_add_test(tc, test_invalid_probabilities);
  tcase_add_test(tc, test_reference_probs);
  tcase_add_test(tc, test_reference_logits);
  tcase_add_test(tc, test_reference_binary);
  tcase_add_test(tc, test_reference_ssim);
  tcase_add_test(tc, test_hard_labels);
  tcase_add_test(tc, test_reference_hard);
  tcase_add_test(tc, test_compound);
  tcase_add_test(tc, test_distance_hand);
  tcase_add_test(tc, test_distance_empty);
  tcase_add_test(tc, test_distance_reference);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
