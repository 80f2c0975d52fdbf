/* report_json.c - ss_report -> JSON with the exact keys of DESIGN.md
 * section 2.  The CLI and the daemon both call svc_report_to_json, so
 * their reports are byte-identical apart from timing_ms.  Undefined
 * values are null with the reason under the class's "undefined" object
 * (flat keys, "fbeta.0.5"); jansson never sees a NaN.
 * SPDX-License-Identifier: MIT */
#include "report_json.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
svc_json_number_key(double v, char *buf, size_t size)
{
  /* The shortest decimal that reads back as V: 1 -> "1", 0.5 -> "0.5",
   * 50 -> "50" (not "5e+01", which %.1g gives); exponent notation only
   * when no plain form up to 17 digits reads back (1e-07). */
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strchr(buf, 'e') == NULL && strtod(buf, NULL) == v)
      return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

json_t *
svc_json_real(double v)
{
  return isfinite(v) ? json_real(v) : json_null();
}

void
svc_json_set_metric(json_t *obj, const char *key, ss_metric m, json_t *undef,
                    const char *path)
{
  if (m.why == SS_DEFINED && isfinite(m.value)) {
    json_object_set_new(obj, key, json_real(m.value));
    return;
  }
  json_object_set_new(obj, key, json_null());
  if (undef != NULL)
    json_object_set_new(undef, path != NULL ? path : key,
                        json_string(ss_undef_name(m.why == SS_DEFINED
                                                      ? SS_NOT_FINITE
                                                      : m.why)));
}

/* A keyed family ("fbeta": {"0.5": v}) with flat reasons "fbeta.0.5". */
static void
set_family(json_t *obj, const char *name, const double *keys,
           const ss_metric *vals, int n, json_t *undef)
{
  json_t *fam = json_object();
  for (int i = 0; i < n; i++) {
    char k[40], path[80];
    svc_json_number_key(keys[i], k, sizeof k);
    snprintf(path, sizeof path, "%s.%s", name, k);
    svc_json_set_metric(fam, k, vals[i], undef, path);
  }
  json_object_set_new(obj, name, fam);
}

typedef struct {
  const char *key;
  size_t off;
} field;

#define OVF(name) { #name, offsetof(ss_overlap, name) }
static const field overlap_fields[] = {
  OVF(dice), OVF(jaccard), OVF(precision), OVF(recall), OVF(specificity),
  OVF(voe), OVF(rvd), OVF(volume_similarity),
};

#define BDF(name) { #name, offsetof(ss_boundary, name) }
static const field boundary_fields[] = {
  BDF(hd), BDF(hd_pred_to_ref), BDF(hd_ref_to_pred), BDF(assd), BDF(masd),
  BDF(asd_pred_to_ref), BDF(asd_ref_to_pred),
};

static ss_metric
at(const void *base, size_t off)
{
  ss_metric m;
  memcpy(&m, (const char *)base + off, sizeof m);
  return m;
}

/* "hd95", "hd99.5": the percentile key of DESIGN.md. */
static void
hdp_key(double p, const char *suffix, char *buf, size_t size)
{
  char k[24];
  svc_json_number_key(p, k, sizeof k);
  snprintf(buf, size, "hd%s%s", k, suffix);
}

static json_t *
overlap_json(const ss_overlap *o, const ss_plan *plan, json_t *undef)
{
  json_t *j = json_object();
  for (size_t i = 0; i < sizeof overlap_fields / sizeof *overlap_fields; i++)
    svc_json_set_metric(j, overlap_fields[i].key,
                        at(o, overlap_fields[i].off), undef, NULL);
  set_family(j, "fbeta", plan->betas, o->fbeta, plan->nbetas, undef);
  return j;
}

static json_t *
boundary_json(const ss_boundary *b, const ss_plan *plan, json_t *undef)
{
  json_t *j = json_object();
  for (size_t i = 0; i < 3; i++)
    svc_json_set_metric(j, boundary_fields[i].key,
                        at(b, boundary_fields[i].off), undef, NULL);
  for (int p = 0; p < plan->npercentiles; p++) {
    char k[64];
    hdp_key(plan->percentiles[p], "", k, sizeof k);
    svc_json_set_metric(j, k, b->hdp[p], undef, NULL);
    hdp_key(plan->percentiles[p], "_pred_to_ref", k, sizeof k);
    svc_json_set_metric(j, k, b->hdp_pred_to_ref[p], undef, NULL);
    hdp_key(plan->percentiles[p], "_ref_to_pred", k, sizeof k);
    svc_json_set_metric(j, k, b->hdp_ref_to_pred[p], undef, NULL);
  }
  for (size_t i = 3; i < sizeof boundary_fields / sizeof *boundary_fields;
       i++)
    svc_json_set_metric(j, boundary_fields[i].key,
                        at(b, boundary_fields[i].off), undef, NULL);
  set_family(j, "nsd", plan->nsd_tolerances_mm, b->nsd, plan->ntolerances,
             undef);
  return j;
}

static json_t *
counts_json(const ss_class_report *c)
{
  json_t *j = json_object();
  json_object_set_new(j, "tp", json_integer(c->counts.tp));
  json_object_set_new(j, "fp", json_integer(c->counts.fp));
  json_object_set_new(j, "fn", json_integer(c->counts.fn));
  json_object_set_new(j, "tn", json_integer(c->counts.tn));
  json_object_set_new(j, "pred_voxels", json_integer(c->pred_voxels));
  json_object_set_new(j, "ref_voxels", json_integer(c->ref_voxels));
  json_object_set_new(j, "pred_volume_mm3", svc_json_real(c->pred_volume_mm3));
  json_object_set_new(j, "ref_volume_mm3", svc_json_real(c->ref_volume_mm3));
  return j;
}

static json_t *
class_json(const ss_report *r, int i, const ss_plan *plan)
{
  const ss_class_report *c = &r->classes[i];
  json_t *j = json_object();
  json_t *undef = json_object();
  if (c->is_region) {
    json_object_set_new(j, "region", json_string(c->name));
  } else {
    json_object_set_new(j, "label", json_integer(c->label));
  }
  json_object_set_new(j, "status",
                      json_string(ss_class_status_name(c->status)));
  json_object_set_new(j, "counts", counts_json(c));
  if (r->metrics & SS_METRIC_OVERLAP)
    json_object_set_new(j, "overlap", overlap_json(&c->overlap, plan, undef));
  if (c->has_boundary)
    json_object_set_new(j, "boundary",
                        boundary_json(&c->boundary, plan, undef));
  svc_report_extra_class(j, undef, r, i, plan);
  json_object_set_new(j, "undefined", undef);
  return j;
}

/* Summary of one metric over the classes into mean / n_valid / n_undefined
 * objects (under PATH: "dice", or a family member "fbeta" + "0.5"). */
static void
summarise(json_t *sum, const char *family, const char *key,
          const ss_metric *vals, int n, bool is_distance,
          const ss_plan *plan)
{
  ss_summary_value s = ss_summarize(vals, n, is_distance,
                                    plan->has_worst_distance,
                                    plan->worst_distance_mm);
  static const char *const parts[] = { "mean", "n_valid", "n_undefined" };
  for (int p = 0; p < 3; p++) {
    json_t *dst = json_object_get(sum, parts[p]);
    if (family != NULL) {
      json_t *f = json_object_get(dst, family);
      if (f == NULL) {
        f = json_object();
        json_object_set_new(dst, family, f);
      }
      dst = f;
    }
    json_t *v = p == 0 ? (s.mean.why == SS_DEFINED ? svc_json_real(s.mean.value)
                                                   : json_null())
                       : json_integer(p == 1 ? s.n_valid : s.n_undefined);
    json_object_set_new(dst, key, v);
  }
}

static void
summary_boundary(json_t *sum, const ss_report *r, const ss_plan *plan,
                 ss_metric *vals)
{
  int n = 0;
  for (int i = 0; i < r->nclasses; i++)
    n += r->classes[i].has_boundary;
  if (n == 0)
    return;
  for (size_t f = 0; f < sizeof boundary_fields / sizeof *boundary_fields;
       f++) {
    int k = 0;
    for (int i = 0; i < r->nclasses; i++)
      if (r->classes[i].has_boundary)
        vals[k++] = at(&r->classes[i].boundary, boundary_fields[f].off);
    summarise(sum, NULL, boundary_fields[f].key, vals, k, true, plan);
  }
  for (int p = 0; p < plan->npercentiles; p++) {
    char key[64];
    hdp_key(plan->percentiles[p], "", key, sizeof key);
    int k = 0;
    for (int i = 0; i < r->nclasses; i++)
      if (r->classes[i].has_boundary)
        vals[k++] = r->classes[i].boundary.hdp[p];
    summarise(sum, NULL, key, vals, k, true, plan);
  }
  for (int t = 0; t < plan->ntolerances; t++) {
    char key[40];
    svc_json_number_key(plan->nsd_tolerances_mm[t], key, sizeof key);
    int k = 0;
    for (int i = 0; i < r->nclasses; i++)
      if (r->classes[i].has_boundary)
        vals[k++] = r->classes[i].boundary.nsd[t];
    summarise(sum, "nsd", key, vals, k, false, plan);
  }
}

static json_t *
summary_json(const ss_report *r, const ss_plan *plan)
{
  json_t *sum = json_object();
  json_object_set_new(sum, "mean", json_object());
  json_object_set_new(sum, "n_valid", json_object());
  json_object_set_new(sum, "n_undefined", json_object());
  json_object_set_new(sum, "n_classes", json_integer(r->nclasses));
  ss_metric *vals = malloc((size_t)(r->nclasses > 0 ? r->nclasses : 1) *
                           sizeof *vals);
  if (vals == NULL) {
    json_decref(sum);
    return NULL;
  }
  if (r->metrics & SS_METRIC_OVERLAP) {
    for (size_t f = 0; f < sizeof overlap_fields / sizeof *overlap_fields;
         f++) {
      for (int i = 0; i < r->nclasses; i++)
        vals[i] = at(&r->classes[i].overlap, overlap_fields[f].off);
      summarise(sum, NULL, overlap_fields[f].key, vals, r->nclasses, false,
                plan);
    }
    for (int b = 0; b < plan->nbetas; b++) {
      char key[40];
      svc_json_number_key(plan->betas[b], key, sizeof key);
      for (int i = 0; i < r->nclasses; i++)
        vals[i] = r->classes[i].overlap.fbeta[b];
      summarise(sum, "fbeta", key, vals, r->nclasses, false, plan);
    }
  }
  summary_boundary(sum, r, plan, vals);
  free(vals);
  svc_report_extra_summary(sum, r, plan);
  return sum;
}

static const char *
kind_name(ss_pred_kind k)
{
  switch (k) {
  case SS_KIND_LABELS: return "labels";
  case SS_KIND_PROBABILITIES: return "probabilities";
  case SS_KIND_LOGITS: return "logits";
  default: return "auto";
  }
}

static json_t *
list_json(const double *v, int n)
{
  json_t *a = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(a, svc_json_real(v[i]));
  return a;
}

static json_t *
input_json(const ss_report *r)
{
  const ss_input_info *in = &r->input;
  json_t *j = json_object();
  json_object_set_new(j, "shape", json_pack("[I,I,I]", (json_int_t)in->shape[0],
                                            (json_int_t)in->shape[1],
                                            (json_int_t)in->shape[2]));
  json_object_set_new(j, "spacing_mm", list_json(in->spacing_mm, 3));
  json_object_set_new(j, "prediction_kind", json_string(kind_name(in->kind)));
  json_object_set_new(j, "channels", json_integer(in->channels));
  json_object_set_new(j, "nifti_version",
                      json_pack("[i,i]", in->nifti_version[0],
                                in->nifti_version[1]));
  return j;
}

static json_t *
conventions_json(const ss_report *r, const ss_plan *plan)
{
  json_t *j = json_object();
  const bool surfel = plan->surface == SS_SURFACE_SURFEL;
  json_object_set_new(j, "surface", json_string(surfel ? "surfel" : "voxel"));
  json_object_set_new(j, "percentile_method",
                      json_string(surfel ? "area_weighted_first_reaching"
                                         : "linear_interpolation"));
  json_object_set_new(j, "percentiles",
                      list_json(plan->percentiles, plan->npercentiles));
  json_object_set_new(j, "nsd_tolerances_mm",
                      list_json(plan->nsd_tolerances_mm, plan->ntolerances));
  json_object_set_new(j, "fbeta_betas", list_json(plan->betas, plan->nbetas));
  json_object_set_new(j, "include_background",
                      json_boolean(plan->include_background));
  json_object_set_new(j, "ignore_label",
                      plan->has_ignore ? json_integer(plan->ignore_label)
                                       : json_null());
  json_object_set_new(j, "both_empty_dice",
                      plan->has_both_empty_dice
                          ? svc_json_real(plan->both_empty_dice)
                          : json_null());
  json_object_set_new(j, "worst_distance_mm",
                      plan->has_worst_distance
                          ? svc_json_real(plan->worst_distance_mm)
                          : json_null());
  json_object_set_new(j, "threshold", svc_json_real(plan->threshold));
  json_object_set_new(j, "check_geometry",
                      json_boolean(plan->check_geometry));
  json_object_set_new(j, "smooth", json_pack("{s:f,s:f}", "nr",
                                             plan->smooth_nr, "dr",
                                             plan->smooth_dr));
  json_t *m = json_array();
  static const char *const fam[] = { "overlap", "boundary", "tradeoffs",
                                     "lesions" };
  for (int i = 0; i < 4; i++)
    if (r->metrics & (1u << i))
      json_array_append_new(m, json_string(fam[i]));
  json_object_set_new(j, "metrics", m);
  return j;
}

json_t *
svc_report_timing_json(const ss_timing *t)
{
  return json_pack("{s:f,s:f,s:f,s:f,s:f}", "decode", t->decode_ms,
                   "overlap", t->overlap_ms, "boundary", t->boundary_ms,
                   "losses", t->losses_ms, "total", t->total_ms);
}

json_t *
svc_report_to_json(const ss_report *r, const ss_plan *plan)
{
  json_t *root = json_object();
  if (root == NULL)
    return NULL;
  json_object_set_new(root, "segscore",
                      json_pack("{s:s}", "version", SS_VERSION));
  json_object_set_new(root, "input", input_json(r));
  json_object_set_new(root, "conventions", conventions_json(r, plan));
  json_t *classes = json_array();
  for (int i = 0; i < r->nclasses; i++)
    json_array_append_new(classes, class_json(r, i, plan));
  json_object_set_new(root, "classes", classes);
  json_object_set_new(root, "summary", summary_json(r, plan));
  svc_report_extra_root(root, r, plan);
  json_object_set_new(root, "timing_ms", svc_report_timing_json(&r->timing));
  /* Any NULL from a constructor above left a key out: fail as a whole. */
  if (json_object_size(root) < 6 || json_object_get(root, "summary") == NULL) {
    json_decref(root);
    return NULL;
  }
  return root;
}
