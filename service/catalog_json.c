/* catalog_json.c - the catalog served by GET /v1/catalog and printed by
 * `segscore catalog`: the metrics (table below) and the losses and
 * trade-offs, built from the library's one table (ss_loss_catalog), so
 * names, parameters, defaults and ranges cannot drift from what the
 * options parser accepts.  SPDX-License-Identifier: MIT */
#include "report_losses.h"

typedef struct {
  const char *name, *group, *units, *formula, *citation;
} metric_entry;

static const metric_entry metrics[] = {
  { "dice", "overlap", "ratio", "2TP / (2TP + FP + FN)", "Dice 1945" },
  { "jaccard", "overlap", "ratio", "TP / (TP + FP + FN)", "Jaccard 1912" },
  { "precision", "overlap", "ratio", "TP / (TP + FP)", NULL },
  { "recall", "overlap", "ratio", "TP / (TP + FN)", NULL },
  { "specificity", "overlap", "ratio", "TN / (TN + FP)", NULL },
  { "fbeta", "overlap", "ratio",
    "(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP), one key per beta", NULL },
  { "voe", "overlap", "ratio", "1 - jaccard", NULL },
  { "rvd", "overlap", "ratio", "(|P| - |R|) / |R|", NULL },
  { "volume_similarity", "overlap", "ratio", "1 - ||P| - |R|| / (|P| + |R|)",
    "Taha & Hanbury 2015" },
  { "hd", "boundary", "mm", "max of the two directed maximum distances",
    "Huttenlocher et al. 1993" },
  { "hd<p>", "boundary", "mm",
    "max of the two directed p-th percentile distances (hd95)", NULL },
  { "assd", "boundary", "mm", "mean distance pooled over both surfaces", NULL },
  { "masd", "boundary", "mm", "mean of the two directed mean distances", NULL },
  { "nsd", "boundary", "ratio",
    "surface Dice at tolerance tau: boundary fraction within tau mm",
    "Nikolov et al. 2021" },
  { "lesions.precision", "lesions", "ratio",
    "matched prediction lesions / prediction lesions (docs/lesions.md)",
    NULL },
  { "lesions.recall", "lesions", "ratio",
    "detected reference lesions / reference lesions", NULL },
  { "lesions.f1", "lesions", "ratio", "2 P R / (P + R) of the lesion counts",
    "Commowick et al. 2018" },
  { "lesions.lesion_dice", "lesions", "ratio",
    "sum of reference-lesion Dice / (reference lesions + false positives)",
    "BraTS 2023 lesion-wise Dice" },
  { "lesions.lesion_hd95", "lesions", "mm",
    "mean HD95 over reference lesions and false positives, misses and "
    "false positives at worst_distance_mm",
    "BraTS 2023 lesion-wise HD95" },
};

static json_t *
metric_json(const metric_entry *m)
{
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "group",
                        m->group, "units", m->units, "formula", m->formula);
  if (o != NULL && m->citation != NULL)
    json_object_set_new(o, "citation", json_string(m->citation));
  return o;
}


static json_t *
param_json(const ss_loss_param_info *p)
{
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(p->name));
  json_object_set_new(o, "default", svc_json_real(p->def));
  json_object_set_new(o, "min", svc_json_real(p->min));
  json_object_set_new(o, "max", svc_json_real(p->max));
  json_object_set_new(o, "min_exclusive", json_boolean(p->min_open));
  json_object_set_new(o, "max_exclusive", json_boolean(p->max_open));
  json_object_set_new(o, "per_class", json_boolean(p->per_class));
  json_object_set_new(o, "units", json_string(p->units));
  json_object_set_new(o, "meaning", json_string(p->meaning));
  return o;
}

json_t *
svc_catalog_losses_json(void)
{
  int n = 0;
  const ss_loss_info *cat = ss_loss_catalog(&n);
  json_t *a = json_array();
  for (int i = 0; i < n; i++) {
    const ss_loss_info *l = &cat[i];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(l->name));
    json_object_set_new(o, "title", json_string(l->title));
    json_object_set_new(o, "family", json_string(l->family));
    json_object_set_new(o, "formula", json_string(l->formula));
    json_object_set_new(o, "formula_ref", json_string(l->doc));
    json_object_set_new(o, "citation", json_string(l->citation));
    json_object_set_new(o, "per_class", json_boolean(l->per_class));
    json_object_set_new(o, "reported_as",
                        json_string(l->has_score ? "1 - score, score alongside"
                                                 : "loss value"));
    json_object_set_new(o, "units", json_string("1"));
    json_t *ps = json_array();
    for (int k = 0; k < l->nparams; k++)
      json_array_append_new(ps, param_json(&l->params[k]));
    json_object_set_new(o, "parameters", ps);
    json_array_append_new(a, o);
  }
  return a;
}

json_t *
svc_catalog_tradeoffs_json(void)
{
  ss_loss_plan lp;
  ss_loss_plan_init(&lp);
  json_t *grid = json_array();
  for (int k = 0; k < lp.ntversky; k++)
    json_array_append_new(grid, json_pack("[f,f]", lp.tversky_grid[k][0],
                                          lp.tversky_grid[k][1]));
  json_t *betas = json_array();
  for (int k = 0; k < lp.nfbeta; k++)
    json_array_append_new(betas, json_real(lp.fbeta_betas[k]));
  json_t *o = json_pack(
      "{s:s, s:{s:o, s:o, s:i, s:i}, s:[s,s,s,s,s,s,s]}", "formula_ref",
      "docs/losses.md#trade-offs", "defaults", "tversky", grid, "fbeta_betas",
      betas, "pr_bins", lp.pr_bins, "ece_bins", lp.ece_bins, "keys",
      "tversky", "fbeta", "pr_curve", "average_precision", "best_threshold",
      "brier", "ece");
  ss_loss_plan_clear(&lp);
  return o;
}

json_t *
svc_catalog_json(void)
{
  json_t *list = json_array();
  for (size_t i = 0; list && i < sizeof metrics / sizeof *metrics; i++)
    json_array_append_new(list, metric_json(&metrics[i]));
  json_t *params = json_pack(
      "{s:{s:[f,f], s:s}, s:{s:[f], s:s}, s:{s:[f], s:s}}", "fbeta_betas",
      "default", 0.5, 2.0, "units", "1", "percentiles", "default", 95.0,
      "units", "percent", "nsd_tolerances_mm", "default", 1.0, "units", "mm");
  if (params != NULL)
    json_object_set_new(
        params, "lesions",
        json_pack("{s:{s:i,s:[i,i,i]}, s:{s:s,s:[s,s]}, s:{s:f,s:[f,f]},"
                  " s:{s:i}, s:{s:f,s:s}, s:{s:s,s:[s,s]},"
                  " s:{s:i,s:[i,i]}, s:{s:b}}",
                  "connectivity", "default", 26, "values", 6, 18, 26,
                  "match", "default", "any_overlap", "values", "any_overlap",
                  "iou", "iou_threshold", "default", 0.5, "range", 0.0, 1.0,
                  "min_voxels", "default", 0, "min_volume_mm3", "default",
                  0.0, "units", "mm3", "min_size_applies_to", "default",
                  "both", "values", "both", "reference", "dilation_voxels",
                  "default", 0, "range", 0, 32, "list", "default", 1));
  return json_pack("{s:s, s:o, s:o, s:o, s:o}", "version", SS_VERSION,
                   "metrics", list, "parameters", params, "losses",
                   svc_catalog_losses_json(), "tradeoffs",
                   svc_catalog_tradeoffs_json());
}
