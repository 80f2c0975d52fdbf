/* loss_catalog.c - the one table of losses (names, parameters, defaults,
 * ranges, units, citations, formula references) and the loss part of the
 * plan.  The catalog JSON (service/catalog_json.c), the options parser and
 * docs/losses.md all follow this table.  SPDX-License-Identifier: MIT */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SURVEY "Ma et al., Loss odyssey in medical image segmentation, " \
               "Medical Image Analysis 71:102035, 2021"

#define P(n, d, lo, hi, lopen, hopen, u, m)                                  \
  { .name = (n), .def = (d), .min = (lo), .max = (hi), .min_open = (lopen), \
    .max_open = (hopen), .units = (u), .meaning = (m) }
#define W_MAX 1e6

static const ss_loss_info catalog[SS_LOSS_COUNT] = {
  [SS_LOSS_CE] = {
    SS_LOSS_CE, "ce", "Cross-entropy", "distribution",
    "-(1/N) sum_i log p_i,y_i", "docs/losses.md#ce",
    SURVEY "", false, false, 0, { { 0 } } },
  [SS_LOSS_WCE] = {
    SS_LOSS_WCE, "wce", "Weighted cross-entropy", "distribution",
    "-sum_i w_y_i log p_i,y_i / sum_i w_y_i (w from class_weights)",
    "docs/losses.md#wce",
    "Ronneberger et al., U-Net, MICCAI 2015; " SURVEY "; median "
    "frequency: Eigen and Fergus, ICCV 2015",
    false, false, 0, { { 0 } } },
  [SS_LOSS_DICE] = {
    SS_LOSS_DICE, "dice", "Dice loss", "region",
    "1 - (2 TP_c + s_nr) / (sum p_c + sum g_c + s_dr)", "docs/losses.md#dice",
    "Milletari et al., V-Net, 3DV 2016; " SURVEY "",
    true, true, 0, { { 0 } } },
  [SS_LOSS_DICE_SQUARED] = {
    SS_LOSS_DICE_SQUARED, "dice_squared", "Dice loss, squared denominator",
    "region", "1 - (2 TP_c + s_nr) / (sum p_c^2 + sum g_c^2 + s_dr)",
    "docs/losses.md#dice_squared",
    "Milletari et al., V-Net, 3DV 2016; " SURVEY,
    true, true, 0, { { 0 } } },
  [SS_LOSS_GDL] = {
    SS_LOSS_GDL, "gdl", "Generalized Dice loss", "region",
    "1 - (2 sum_c w_c TP_c + s_nr) / (sum_c w_c (sum p_c + sum g_c) + s_dr), "
    "w_c = 1/(sum g_c)^2, absent classes take the largest finite weight",
    "docs/losses.md#gdl",
    "Sudre et al., DLMIA 2017; " SURVEY "",
    false, true, 0, { { 0 } } },
  [SS_LOSS_JACCARD] = {
    SS_LOSS_JACCARD, "jaccard", "Jaccard (IoU) loss", "region",
    "1 - (TP_c + s_nr) / (sum p_c + sum g_c - TP_c + s_dr)",
    "docs/losses.md#jaccard",
    "Cai et al., MICCAI 2017 (as cited in " SURVEY "); Rahman and "
    "Wang, ISVC 2016", true, true, 0, { { 0 } } },
  [SS_LOSS_DICE_BCE] = {
    SS_LOSS_DICE_BCE, "dice_bce", "Dice + binary cross-entropy", "compound",
    "gamma * BCE_c + (1 - gamma) * L_dice,c, BCE_c one-vs-rest over voxels",
    "docs/losses.md#dice_bce", "Su et al. (Dice + BCE); " SURVEY
    " (compound losses)", true, false, 1,
    { P("gamma", 0.5, 0, 1, false, false, "1",
        "weight of the BCE term; the Dice term gets 1 - gamma") } },
  [SS_LOSS_HYBRID] = {
    SS_LOSS_HYBRID, "hybrid_bce_iou_ssim", "Hybrid BCE + IoU + SSIM",
    "compound",
    "w1 BCE_c + w2 (1 - SSIM_c) + w3 L_jaccard,c; SSIM with a 3-D Gaussian "
    "window (sigma voxels, radius ceil(3 sigma)), C1 = 0.01^2, C2 = 0.03^2",
    "docs/losses.md#hybrid_bce_iou_ssim",
    "Qin et al., BASNet, CVPR 2019; Wang et al., SSIM, IEEE TIP 2004",
    true, false, 4,
    { P("w1", 1, 0, W_MAX, false, false, "1", "weight of BCE"),
      P("w2", 1, 0, W_MAX, false, false, "1", "weight of 1 - SSIM"),
      P("w3", 1, 0, W_MAX, false, false, "1", "weight of the IoU loss"),
      P("sigma", 1.5, 0, 10, true, false, "voxels",
        "standard deviation of the Gaussian window") } },
  [SS_LOSS_TOPK] = {
    SS_LOSS_TOPK, "topk", "TopK cross-entropy", "distribution",
    "mean of the floor(N k / 100) largest voxel CE values",
    "docs/losses.md#topk",
    "Wu et al., arXiv:1605.06885, 2016; " SURVEY "",
    false, false, 1,
    { P("k", 10, 0, 100, true, false, "percent",
        "share of the voxels kept, the hardest by CE") } },
  [SS_LOSS_TOPK_THRESHOLD] = {
    SS_LOSS_TOPK_THRESHOLD, "topk_threshold", "TopK cross-entropy, threshold "
    "variant", "distribution",
    "mean CE over the voxels with p_i,y_i < t (null when there is none)",
    "docs/losses.md#topk_threshold",
    "Wu et al., arXiv:1605.06885, 2016 (bootstrapping); " SURVEY,
    false, false, 1,
    { P("t", 0.5, 0, 1, true, false, "1",
        "voxels whose true-class probability is below t are kept") } },
  [SS_LOSS_FOCAL] = {
    SS_LOSS_FOCAL, "focal", "Focal loss", "distribution",
    "-(1/N) sum_i alpha_y_i (1 - p_i,y_i)^gamma log p_i,y_i",
    "docs/losses.md#focal",
    "Lin et al., ICCV 2017; " SURVEY "", false, false, 2,
    { P("gamma", 2, 0, 10, false, false, "1", "focusing exponent"),
      { .name = "alpha", .def = 1, .min = 0, .max = W_MAX, .per_class = true,
        .units = "1", .meaning = "per-class weight, one per channel" } } },
  [SS_LOSS_TVERSKY] = {
    SS_LOSS_TVERSKY, "tversky", "Tversky loss", "region",
    "1 - (TP_c + s_nr) / (TP_c + alpha FP_c + beta FN_c + s_dr)",
    "docs/losses.md#tversky",
    "Salehi et al., MLMI 2017; " SURVEY "", true, true, 2,
    { P("alpha", 0.3, 0, 10, false, false, "1", "weight of false positives"),
      P("beta", 0.7, 0, 10, false, false, "1",
        "weight of false negatives") } },
  [SS_LOSS_FOCAL_TVERSKY] = {
    SS_LOSS_FOCAL_TVERSKY, "focal_tversky", "Focal Tversky loss", "region",
    "(1 - TI_c)^(1/gamma) per class, then the mean over classes",
    "docs/losses.md#focal_tversky",
    "Abraham and Khan, ISBI 2019; " SURVEY "", true, true, 3,
    { P("alpha", 0.3, 0, 10, false, false, "1", "weight of false positives"),
      P("beta", 0.7, 0, 10, false, false, "1", "weight of false negatives"),
      P("gamma", 4.0 / 3.0, 0, 10, true, false, "1",
        "focal parameter; the exponent is 1/gamma") } },
  [SS_LOSS_FOCAL_DICE] = {
    SS_LOSS_FOCAL_DICE, "focal_dice", "Focal Dice loss", "region",
    "sum_c w_c (1 - D_c^(1/beta)) / sum_c w_c, w from class_weights",
    "docs/losses.md#focal_dice",
    "Wang and Chung, Focal Dice loss, DLMIA 2018", true, true, 1,
    { P("beta", 2, 0, 10, true, false, "1",
        "the Dice score is raised to 1/beta") } },
  [SS_LOSS_DICE_FOCAL] = {
    SS_LOSS_DICE_FOCAL, "dice_focal", "Dice + Focal loss", "compound",
    "mean_c L_dice,c + lambda * focal(gamma), focal with alpha = 1",
    "docs/losses.md#dice_focal",
    "Zhu et al., AnatomyNet, Medical Physics 2019; " SURVEY
    " (compound losses)", false, false, 2,
    { P("lambda", 0.5, 0, W_MAX, false, false, "1",
        "weight of the focal term"),
      P("gamma", 2, 0, 10, false, false, "1",
        "focusing exponent of the focal term") } },
  [SS_LOSS_ASYM] = {
    SS_LOSS_ASYM, "asym", "Asymmetric similarity loss", "region",
    "1 - (TP_c + s_nr) / (TP_c + w FN_c + (1 - w) FP_c + s_dr), "
    "w = beta^2 / (1 + beta^2)", "docs/losses.md#asym",
    "Hashemi et al., IEEE Access 2018; " SURVEY "", true, true, 1,
    { P("beta", 1.5, 0, 10, false, false, "1",
        "F-beta: recall weighted beta times as much as precision") } },
  [SS_LOSS_PGDL] = {
    SS_LOSS_PGDL, "pgdl", "Penalty generalized Dice loss", "region",
    "1 - GD / (1 + k (1 - GD)), GD the generalized Dice score",
    "docs/losses.md#pgdl",
    "Yang et al., MIDL 2019; " SURVEY "", false, true, 1,
    { P("k", 2.5, 0, 100, false, false, "1", "penalty factor") } },
  [SS_LOSS_LESION_COMPOUND] = {
    SS_LOSS_LESION_COMPOUND, "lesion_compound",
    "Lesion-level + pixel-level compound loss", "compound",
    "L_dice,c + lambda * L_lesion,c; L_lesion,c = mean over reference "
    "lesions (26-connected) of 1 - soft Dice inside the lesion's region, "
    "predicted components touching no lesion counted as lesions with "
    "score 0", "docs/losses.md#lesion_compound",
    "Zhu et al., 2022 (lesion-level + pixel-level loss); " SURVEY,
    true, false, 1,
    { P("lambda", 1, 0, W_MAX, false, false, "1",
        "weight of the lesion-level term") } },
  [SS_LOSS_DPCE] = {
    SS_LOSS_DPCE, "dpce", "Distance-map penalised cross-entropy",
    "distribution",
    "-sum_i (1 + D_i) log p_i,y_i / N, D_i the distance in mm from voxel i "
    "to the nearest voxel of another reference class",
    "docs/losses.md#dpce",
    "Caliva et al., MIDL 2019; " SURVEY "", false, false, 0,
    { { 0 } } },
  [SS_LOSS_BOUNDARY_AWARE] = {
    SS_LOSS_BOUNDARY_AWARE, "boundary_aware", "Boundary-aware loss",
    "boundary",
    "p1 * mean CE over the band (distance to the reference boundary <= "
    "width_mm) + p2 * mean CE over the other voxels",
    "docs/losses.md#boundary_aware", "Kim et al. (boundary-aware loss); "
    SURVEY, false, false, 3,
    { P("width_mm", 2, 0, 1000, true, false, "mm",
        "half-width of the band around the reference boundary"),
      P("p1", 0.7, 0, W_MAX, false, false, "1", "weight of the band"),
      P("p2", 0.3, 0, W_MAX, false, false, "1",
        "weight of the rest") } },
  [SS_LOSS_BOUNDARY_KERVADEC] = {
    SS_LOSS_BOUNDARY_KERVADEC, "boundary_kervadec", "Boundary loss",
    "boundary",
    "(1/N) sum_i phi_c(i) p_i,c, phi_c the signed distance (mm) to the "
    "reference boundary of class c, negative inside",
    "docs/losses.md#boundary_kervadec",
    "Kervadec et al., MIDL 2019 / Medical Image Analysis 2021; " SURVEY
    "", true, false, 0, { { 0 } } },
  [SS_LOSS_HAUSDORFF_DT] = {
    SS_LOSS_HAUSDORFF_DT, "hausdorff_dt", "Hausdorff distance-transform "
    "loss", "boundary",
    "(1/N) sum_i (p_i,c - g_i,c)^2 (d_p(i)^alpha + d_g(i)^alpha), d the "
    "distance (mm) to the boundary of the thresholded prediction / reference",
    "docs/losses.md#hausdorff_dt",
    "Karimi and Salcudean, IEEE TMI 2020; " SURVEY "", true, false,
    1, { P("alpha", 2, 0, 10, true, false, "1", "distance exponent") } },
};

const ss_loss_info *
ss_loss_catalog(int *n)
{
  if (n != NULL)
    *n = SS_LOSS_COUNT;
  return catalog;
}

int
ss_loss_find(const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < SS_LOSS_COUNT; i++)
    if (strcmp(catalog[i].name, name) == 0)
      return i;
  return -1;
}

void
ss_loss_plan_init(ss_loss_plan *lp)
{
  memset(lp, 0, sizeof *lp);
  for (int l = 0; l < SS_LOSS_COUNT; l++)
    for (int j = 0; j < catalog[l].nparams; j++)
      lp->params[l][j] = catalog[l].params[j].def;
  lp->weighting = SS_WEIGHTS_UNIFORM;
  /* A symmetric grid from recall-heavy to precision-heavy; (0.5, 0.5) is
   * Dice, (1, 1) Jaccard. */
  static const double grid[][2] = { { 0.1, 0.9 }, { 0.3, 0.7 }, { 0.5, 0.5 },
                                    { 0.7, 0.3 }, { 0.9, 0.1 }, { 1, 1 } };
  lp->ntversky = (int)(sizeof grid / sizeof *grid);
  memcpy(lp->tversky_grid, grid, sizeof grid);
  static const double betas[] = { 0.25, 0.5, 1, 2, 4 };
  lp->nfbeta = (int)(sizeof betas / sizeof *betas);
  memcpy(lp->fbeta_betas, betas, sizeof betas);
  lp->pr_bins = 1000;
  lp->ece_bins = 15;
}

void
ss_loss_plan_clear(ss_loss_plan *lp)
{
  if (lp == NULL)
    return;
  free(lp->focal_alpha);
  free(lp->weights);
  lp->focal_alpha = lp->weights = NULL;
  lp->nfocal_alpha = lp->nweights = 0;
}

static int
param_index(ss_loss_id loss, const char *param)
{
  for (int j = 0; j < catalog[loss].nparams; j++)
    if (strcmp(catalog[loss].params[j].name, param) == 0)
      return j;
  return -1;
}

static bool
in_range(const ss_loss_param_info *pi, double v)
{
  if (!isfinite(v))
    return false;
  if (pi->min_open ? !(v > pi->min) : !(v >= pi->min))
    return false;
  if (pi->max_open ? !(v < pi->max) : !(v <= pi->max))
    return false;
  return true;
}

static ss_status
range_fail(ss_error *err, ss_loss_id loss, const ss_loss_param_info *pi)
{
  ss_status st = ss__fail(err, SS_ERANGE, "%s.%s must be in %c%g, %g%c",
                          catalog[loss].name, pi->name,
                          pi->min_open ? '(' : '[', pi->min, pi->max,
                          pi->max_open ? ')' : ']');
  if (err != NULL)
    snprintf(err->field, sizeof err->field, "loss_params.%s.%s",
             catalog[loss].name, pi->name);
  return st;
}

static ss_status
lookup(ss_loss_id loss, const char *param, bool list, int *j, ss_error *err)
{
  if ((unsigned)loss >= SS_LOSS_COUNT)
    return ss__fail(err, SS_EOPTION, "unknown loss");
  *j = param_index(loss, param);
  if (*j < 0 || catalog[loss].params[*j].per_class != list) {
    ss_status st = ss__fail(
        err, *j < 0 ? SS_EOPTION : SS_ETYPE,
        *j < 0 ? "%s has no parameter '%.40s'"
               : list ? "%s.%.40s takes one number"
                      : "%s.%.40s takes a list with one value per channel",
        catalog[loss].name, param);
    if (err != NULL)
      snprintf(err->field, sizeof err->field, "loss_params.%s.%.40s",
               catalog[loss].name, param);
    return st;
  }
  return SS_OK;
}

ss_status
ss_loss_param_set(ss_loss_plan *lp, ss_loss_id loss, const char *param,
                  double value, ss_error *err)
{
  int j;
  ss_status st = lookup(loss, param, false, &j, err);
  if (st != SS_OK)
    return st;
  if (!in_range(&catalog[loss].params[j], value))
    return range_fail(err, loss, &catalog[loss].params[j]);
  lp->params[loss][j] = value;
  return SS_OK;
}

ss_status
ss_loss_param_set_list(ss_loss_plan *lp, ss_loss_id loss, const char *param,
                       const double *values, int n, ss_error *err)
{
  int j;
  ss_status st = lookup(loss, param, true, &j, err);
  if (st != SS_OK)
    return st;
  if (n < 1 || n > SS_DEFAULT_MAX_LABELS)
    return range_fail(err, loss, &catalog[loss].params[j]);
  for (int i = 0; i < n; i++)
    if (!in_range(&catalog[loss].params[j], values[i]))
      return range_fail(err, loss, &catalog[loss].params[j]);
  /* Only focal has a per-class parameter. */
  double *a = malloc((size_t)n * sizeof *a);
  if (a == NULL)
    return ss__fail(err, SS_ENOMEM, NULL);
  memcpy(a, values, (size_t)n * sizeof *a);
  free(lp->focal_alpha);
  lp->focal_alpha = a;
  lp->nfocal_alpha = n;
  return SS_OK;
}

ss_status
ss_loss_plan_set_weights(ss_loss_plan *lp, const double *w, int n,
                         ss_error *err)
{
  ss_status st = SS_OK;
  if (n < 1 || n > SS_DEFAULT_MAX_LABELS)
    st = ss__fail(err, SS_ERANGE,
                  "class_weights needs 1 to %d values, one per channel",
                  SS_DEFAULT_MAX_LABELS);
  for (int i = 0; st == SS_OK && i < n; i++)
    if (!isfinite(w[i]) || w[i] < 0 || w[i] > W_MAX)
      st = ss__fail(err, SS_ERANGE,
                    "class_weights[%d] must be finite, in [0, %g]", i, W_MAX);
  if (st != SS_OK) {
    if (err != NULL)
      snprintf(err->field, sizeof err->field, "class_weights");
    return st;
  }
  double *a = malloc((size_t)n * sizeof *a);
  if (a == NULL)
    return ss__fail(err, SS_ENOMEM, NULL);
  memcpy(a, w, (size_t)n * sizeof *a);
  free(lp->weights);
  lp->weights = a;
  lp->nweights = n;
  lp->weighting = SS_WEIGHTS_LIST;
  return SS_OK;
}
