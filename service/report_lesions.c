/* report_lesions.c - the lesion sections of the report: classes[i].lesions,
 * summary.lesions and conventions.lesions (docs/lesions.md).  Called from
 * report_extra.c.  SPDX-License-Identifier: MIT */
#include "lesions.h"

#include <stdio.h>

static json_t *
ids_json(const int32_t *ids, int32_t n)
{
  json_t *a = json_array();
  for (int32_t k = 0; k < n; k++)
    json_array_append_new(a, json_integer(ids[k]));
  return a;
}

/* One lesion; reasons for undefined values go to the class's "undefined"
 * object as "lesions.reference_lesions.<id>.hd95". */
static json_t *
lesion_json(const ss_lesion *l, bool is_ref, json_t *undef)
{
  json_t *j = json_object();
  json_object_set_new(j, "id", json_integer(l->id));
  json_object_set_new(j, "voxels", json_integer(l->voxels));
  json_object_set_new(j, "volume_mm3", svc_json_real(l->volume_mm3));
  json_object_set_new(j, "counted", json_boolean(l->counted));
  json_object_set_new(j, "matched", ids_json(l->matched, l->nmatched));
  if (is_ref) {
    char path[96];
    snprintf(path, sizeof path, "lesions.reference_lesions.%d.dice",
             (int)l->id);
    svc_json_set_metric(j, "dice", l->dice, undef, path);
    snprintf(path, sizeof path, "lesions.reference_lesions.%d.hd95",
             (int)l->id);
    svc_json_set_metric(j, "hd95", l->hd95, undef, path);
  }
  return j;
}

typedef struct {
  const char *key;
  size_t off;
} metric_field;

#define LF(name) { #name, offsetof(ss_lesion_report, name) }
static const metric_field fields[] = {
  LF(precision), LF(recall), LF(f1), LF(lesion_dice), LF(lesion_hd95),
};

static ss_metric
field_at(const ss_lesion_report *lr, size_t off)
{
  ss_metric m;
  memcpy(&m, (const char *)lr + off, sizeof m);
  return m;
}

void
svc_report_lesions_class(json_t *cls, json_t *undef, const ss_report *r,
                         int i, const ss_plan *plan)
{
  const ss_lesion_report *lr = r->classes[i].lesions;
  if (lr == NULL)
    return;
  json_t *j = json_object();
  json_object_set_new(j, "tp", json_integer(lr->tp));
  json_object_set_new(j, "fp", json_integer(lr->fp));
  json_object_set_new(j, "fn", json_integer(lr->fn));
  json_object_set_new(j, "tp_pred", json_integer(lr->tp_pred));
  json_object_set_new(j, "n_reference", json_integer(lr->n_ref));
  json_object_set_new(j, "n_prediction", json_integer(lr->n_pred));
  for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
    char path[64];
    snprintf(path, sizeof path, "lesions.%s", fields[f].key);
    svc_json_set_metric(j, fields[f].key, field_at(lr, fields[f].off), undef,
                        path);
  }
  if (plan->lesion.list_lesions) {
    json_t *refs = json_array(), *preds = json_array();
    for (int32_t k = 0; k < lr->nref; k++)
      json_array_append_new(refs, lesion_json(&lr->ref[k], true, undef));
    for (int32_t k = 0; k < lr->npred; k++)
      json_array_append_new(preds, lesion_json(&lr->pred[k], false, undef));
    json_object_set_new(j, "reference_lesions", refs);
    json_object_set_new(j, "prediction_lesions", preds);
  }
  json_object_set_new(cls, "lesions", j);
}

/* summary.lesions: per metric the mean over classes (nulls skipped but
 * counted, as the other summaries), and the lesion counts summed. */
void
svc_report_lesions_summary(json_t *sum, const ss_report *r,
                           const ss_plan *plan)
{
  (void)plan;
  if (!(r->metrics & SS_METRIC_LESIONS))
    return;
  ss_metric *vals = malloc(sizeof *vals * (size_t)(r->nclasses + 1));
  if (vals == NULL)
    return;
  json_t *j = json_object(), *mean = json_object(), *nv = json_object(),
         *nu = json_object();
  for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
    int n = 0;
    for (int i = 0; i < r->nclasses; i++)
      if (r->classes[i].lesions != NULL)
        vals[n++] = field_at(r->classes[i].lesions, fields[f].off);
    ss_summary_value s = ss_summarize(vals, n, false, false, 0.0);
    json_object_set_new(mean, fields[f].key,
                        s.mean.why == SS_DEFINED ? svc_json_real(s.mean.value)
                                                 : json_null());
    json_object_set_new(nv, fields[f].key, json_integer(s.n_valid));
    json_object_set_new(nu, fields[f].key, json_integer(s.n_undefined));
  }
  free(vals);
  int64_t tp = 0, fp = 0, fn = 0;
  for (int i = 0; i < r->nclasses; i++)
    if (r->classes[i].lesions != NULL) {
      tp += r->classes[i].lesions->tp;
      fp += r->classes[i].lesions->fp;
      fn += r->classes[i].lesions->fn;
    }
  json_object_set_new(j, "mean", mean);
  json_object_set_new(j, "n_valid", nv);
  json_object_set_new(j, "n_undefined", nu);
  json_object_set_new(j, "tp", json_integer(tp));
  json_object_set_new(j, "fp", json_integer(fp));
  json_object_set_new(j, "fn", json_integer(fn));
  json_object_set_new(sum, "lesions", j);
}

void
svc_report_lesions_root(json_t *root, const ss_report *r, const ss_plan *plan)
{
  json_t *conv = json_object_get(root, "conventions");
  if (conv == NULL || !(r->metrics & SS_METRIC_LESIONS))
    return;
  const ss_lesion_options *o = &plan->lesion;
  const bool iou = o->match == SS_LESION_MATCH_IOU;
  json_t *j = json_object();
  json_object_set_new(j, "connectivity", json_integer(o->connectivity));
  json_object_set_new(j, "match", json_string(iou ? "iou" : "any_overlap"));
  json_object_set_new(j, "assignment",
                      json_string(iou ? "greedy_one_to_one"
                                      : "all_overlapping_pairs"));
  json_object_set_new(j, "iou_threshold",
                      iou ? svc_json_real(o->iou_threshold) : json_null());
  json_object_set_new(j, "min_voxels", json_integer(o->min_voxels));
  json_object_set_new(j, "min_volume_mm3", svc_json_real(o->min_volume_mm3));
  json_object_set_new(j, "min_size_applies_to",
                      json_string(o->min_side == SS_LESION_MIN_REFERENCE
                                      ? "reference"
                                      : "both"));
  json_object_set_new(j, "dilation_voxels", json_integer(o->dilation_voxels));
  json_object_set_new(j, "list", json_boolean(o->list_lesions));
  json_object_set_new(j, "hd95_surface",
                      json_string(plan->surface == SS_SURFACE_SURFEL
                                      ? "surfel"
                                      : "voxel"));
  json_object_set_new(conv, "lesions", j);
}
