/* raters.c - scoring against several references (docs/lesions.md,
 * "Several references"): the top-level report is against the
 * majority-vote consensus; "raters" holds the report against each
 * reference, "inter_rater" the pairwise Dice and HD95 between references
 * and where the prediction's Dice falls in that range.  Called by
 * svc_score when more than one reference is given.
 * SPDX-License-Identifier: MIT */
#include "lesions.h"

#include <stdio.h>
#include <stdlib.h>

static int
fail(ss_error *err, ss_status code, const char *field, const char *msg)
{
  err->code = code;
  snprintf(err->detail, sizeof err->detail, "%s", msg);
  snprintf(err->field, sizeof err->field, "%s", field);
  return -1;
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Labels a volume contributes to the default class list: its label table,
 * or the channel indices of a probability map (0/1 for one channel), as
 * ss_score binarises it. */
static int
volume_labels(const ss_volume *v, ss_pred_kind kind, int64_t *out, int max)
{
  ss_volume_info info;
  ss_volume_info_get(v, &info);
  bool labels = kind == SS_KIND_LABELS ||
                (kind == SS_KIND_AUTO && info.labels != NULL &&
                 info.nlabels > 0);
  int n = 0;
  if (labels) {
    for (int i = 0; i < info.nlabels && n < max; i++)
      out[n++] = info.labels[i];
  } else {
    int64_t c = info.channels > 1 ? info.channels : 2;
    for (int64_t i = 0; i < c && n < max; i++)
      out[n++] = i;
  }
  return n;
}

/* Fix the class list once for every report (prediction against each
 * reference and the consensus, references against each other), so their
 * classes line up: the union over all volumes, as ss_score's default. */
static int
fix_labels(ss_volume *pred, ss_volume **refs, int n, ss_plan *plan,
           ss_error *err)
{
  if (plan->labels != NULL)
    return 0;
  int cap = (n + 1) * (SS_DEFAULT_MAX_LABELS + 256);
  int64_t *l = malloc(sizeof *l * (size_t)cap);
  if (l == NULL)
    return fail(err, SS_ENOMEM, "reference", "out of memory");
  int k = volume_labels(pred, plan->kind, l, cap);
  for (int r = 0; r < n; r++)
    k += volume_labels(refs[r], SS_KIND_LABELS, l + k, cap - k);
  qsort(l, (size_t)k, sizeof *l, cmp_i64);
  int u = 0;
  for (int i = 0; i < k; i++) {
    if ((l[i] == 0 && !plan->include_background) ||
        (plan->has_ignore && l[i] == plan->ignore_label) ||
        (u > 0 && l[u - 1] == l[i]))
      continue;
    l[u++] = l[i];
  }
  plan->labels = l;
  plan->nlabels = u;
  return 0;
}

/* A class's identity key and value in a small JSON object. */
static void
set_class_id(json_t *j, const ss_class_report *c)
{
  if (c->is_region)
    json_object_set_new(j, "region", json_string(c->name));
  else
    json_object_set_new(j, "label", json_integer(c->label));
}

/* {"min","max","mean","n_valid","n_undefined"} of N values. */
static json_t *
range_json(const ss_metric *v, int n, double *lo, double *hi)
{
  ss_summary_value s = ss_summarize(v, n, false, false, 0.0);
  double mn = 0.0, mx = 0.0;
  bool any = false;
  for (int i = 0; i < n; i++)
    if (v[i].why == SS_DEFINED) {
      mn = !any || v[i].value < mn ? v[i].value : mn;
      mx = !any || v[i].value > mx ? v[i].value : mx;
      any = true;
    }
  if (lo != NULL)
    *lo = any ? mn : 0.0;
  if (hi != NULL)
    *hi = any ? mx : 0.0;
  json_t *j = json_object();
  json_object_set_new(j, "min", any ? svc_json_real(mn) : json_null());
  json_object_set_new(j, "max", any ? svc_json_real(mx) : json_null());
  json_object_set_new(j, "mean", s.mean.why == SS_DEFINED
                                     ? svc_json_real(s.mean.value)
                                     : json_null());
  json_object_set_new(j, "n_valid", json_integer(s.n_valid));
  json_object_set_new(j, "n_undefined", json_integer(s.n_undefined));
  return j;
}

/* Work state: the reports against each reference, and between each pair
 * of references (pair p = (a, b), a < b, in order). */
typedef struct {
  int n, npairs, nclasses;
  ss_report *vs_ref[SS_MAX_RATERS];
  ss_report **pairs;
  int (*pair_ids)[2];
} multi;

static void
multi_clear(multi *m)
{
  for (int k = 0; k < m->n; k++)
    ss_report_free(m->vs_ref[k]);
  for (int p = 0; p < m->npairs; p++)
    ss_report_free(m->pairs[p]);
  free(m->pairs);
  free(m->pair_ids);
}

/* Per class: the pairwise range of Dice and HD95 and where the
 * prediction's mean Dice over the references falls in the Dice range. */
static json_t *
inter_rater_class(const multi *m, int i, const ss_report *cons)
{
  ss_metric dice[SS_MAX_RATERS * SS_MAX_RATERS];
  ss_metric hd[SS_MAX_RATERS * SS_MAX_RATERS];
  ss_metric pd[SS_MAX_RATERS];
  int nhd = 0;
  for (int p = 0; p < m->npairs; p++) {
    const ss_class_report *c = &m->pairs[p]->classes[i];
    dice[p] = c->overlap.dice;
    if (c->has_boundary)
      hd[nhd++] = c->boundary.hdp[0];
  }
  for (int k = 0; k < m->n; k++)
    pd[k] = m->vs_ref[k]->classes[i].overlap.dice;
  json_t *j = json_object();
  set_class_id(j, &cons->classes[i]);
  double lo, hi;
  json_t *dr = range_json(dice, m->npairs, &lo, &hi);
  bool have_range = json_integer_value(json_object_get(dr, "n_valid")) > 0;
  json_object_set_new(j, "dice", dr);
  if (nhd > 0)
    json_object_set_new(j, "hd95", range_json(hd, nhd, NULL, NULL));

  json_t *pj = json_object(), *undef = json_object();
  ss_summary_value pm = ss_summarize(pd, m->n, false, false, 0.0);
  svc_json_set_metric(pj, "dice_mean_over_references", pm.mean, undef, NULL);
  svc_json_set_metric(pj, "dice_consensus", cons->classes[i].overlap.dice,
                      undef, NULL);
  const char *pos = NULL;
  ss_metric rel = { 0.0, SS_ZERO_DENOMINATOR };
  if (pm.mean.why == SS_DEFINED && have_range) {
    double d = pm.mean.value;
    pos = d < lo ? "below" : d > hi ? "above" : "within";
    if (hi > lo)
      rel = (ss_metric){ (d - lo) / (hi - lo), SS_DEFINED };
  } else {
    rel.why = SS_NO_VALID_VALUES;
  }
  json_object_set_new(pj, "position", pos ? json_string(pos) : json_null());
  svc_json_set_metric(pj, "relative_to_range", rel, undef, NULL);
  json_object_set_new(pj, "undefined", undef);
  json_object_set_new(j, "prediction", pj);
  return j;
}

static json_t *
inter_rater_json(const multi *m, const ss_report *cons)
{
  json_t *pairs = json_array();
  for (int p = 0; p < m->npairs; p++) {
    json_t *pj = json_object(), *cls = json_array();
    json_object_set_new(pj, "a", json_integer(m->pair_ids[p][0] + 1));
    json_object_set_new(pj, "b", json_integer(m->pair_ids[p][1] + 1));
    for (int i = 0; i < m->nclasses; i++) {
      const ss_class_report *c = &m->pairs[p]->classes[i];
      json_t *cj = json_object(), *undef = json_object();
      set_class_id(cj, c);
      json_object_set_new(cj, "status",
                          json_string(ss_class_status_name(c->status)));
      svc_json_set_metric(cj, "dice", c->overlap.dice, undef, NULL);
      if (c->has_boundary)
        svc_json_set_metric(cj, "hd95", c->boundary.hdp[0], undef, NULL);
      json_object_set_new(cj, "undefined", undef);
      json_array_append_new(cls, cj);
    }
    json_object_set_new(pj, "classes", cls);
    json_array_append_new(pairs, pj);
  }
  json_t *classes = json_array();
  for (int i = 0; i < m->nclasses; i++)
    json_array_append_new(classes, inter_rater_class(m, i, cons));
  return json_pack("{s:o,s:o}", "pairs", pairs, "classes", classes);
}

/* raters[k]: the classes and summary of the report against reference k. */
static json_t *
raters_json(const multi *m, const ss_plan *plan)
{
  json_t *a = json_array();
  for (int k = 0; k < m->n; k++) {
    json_t *full = svc_report_to_json(m->vs_ref[k], plan);
    if (full == NULL) {
      json_decref(a);
      return NULL;
    }
    json_t *j = json_object();
    json_object_set_new(j, "reference", json_integer(k + 1));
    json_object_set(j, "classes", json_object_get(full, "classes"));
    json_object_set(j, "summary", json_object_get(full, "summary"));
    json_decref(full);
    json_array_append_new(a, j);
  }
  return a;
}

/* Every ss_score call of a multi-reference request. */
static int
run_scores(multi *m, ss_volume *pred, ss_volume **refs, const ss_plan *plan,
           ss_error *err)
{
  for (int k = 0; k < m->n; k++)
    if (ss_score(pred, refs[k], plan, &m->vs_ref[k], err) != SS_OK) {
      snprintf(err->field, sizeof err->field, "reference[%d]", k);
      return -1;
    }
  /* References against each other: overlap and boundary, HD95 only. */
  ss_plan pp = *plan;
  pp.kind = SS_KIND_LABELS;
  pp.metrics = SS_METRIC_OVERLAP | SS_METRIC_BOUNDARY;
  pp.metrics_set = true;
  pp.npercentiles = 1;
  pp.percentiles[0] = 95.0;
  /* no losses between references (losses.c) */
  pp.loss.set = 0;
  pp.loss.set_given = true;
  pp.loss.ncompound = 0;
  m->npairs = m->n * (m->n - 1) / 2;
  m->pairs = calloc((size_t)m->npairs, sizeof *m->pairs);
  m->pair_ids = calloc((size_t)m->npairs, sizeof *m->pair_ids);
  if (m->pairs == NULL || m->pair_ids == NULL)
    return fail(err, SS_ENOMEM, "reference", "out of memory");
  int p = 0;
  for (int a = 0; a < m->n; a++)
    for (int b = a + 1; b < m->n; b++, p++) {
      m->pair_ids[p][0] = a;
      m->pair_ids[p][1] = b;
      if (ss_score(refs[a], refs[b], &pp, &m->pairs[p], err) != SS_OK) {
        snprintf(err->field, sizeof err->field, "reference[%d]", b);
        return -1;
      }
    }
  return 0;
}

int
svc_score_multi(const svc_score_input *in, ss_volume *pred, ss_plan *plan,
                const ss_limits *lim, double decode_ms, json_t **report,
                ss_error *err)
{
  ss_volume *refs[SS_MAX_RATERS] = { 0 }, *cons = NULL;
  ss_report *rep = NULL;
  multi m = { .n = in->nrefs };
  int rc = -1;
  *report = NULL;
  if (in->nrefs > SS_MAX_RATERS) {
    fail(err, SS_EINVAL, "reference", "too many references");
    goto done;
  }
  for (int k = 0; k < in->nrefs; k++)
    if (ss_volume_read_mem(in->refs[k], in->ref_lens[k], lim, &refs[k], err)
        != SS_OK) {
      snprintf(err->field, sizeof err->field, "reference[%d]", k);
      goto done;
    }
  int64_t tied = 0;
  if (fix_labels(pred, refs, in->nrefs, plan, err) != 0 ||
      ss_volume_consensus((const ss_volume *const *)refs, in->nrefs,
                          plan->threads, &cons, &tied, err) != SS_OK ||
      ss_score(pred, cons, plan, &rep, err) != SS_OK ||
      run_scores(&m, pred, refs, plan, err) != 0)
    goto done;
  m.nclasses = rep->nclasses;
  rep->timing.decode_ms = decode_ms;
  json_t *root = svc_report_to_json(rep, plan);
  json_t *raters = raters_json(&m, plan);
  json_t *inter = inter_rater_json(&m, rep);
  if (root == NULL || raters == NULL || inter == NULL) {
    json_decref(root);
    json_decref(raters);
    json_decref(inter);
    fail(err, SS_ENOMEM, "reference", "cannot build the report");
    goto done;
  }
  json_object_set_new(json_object_get(root, "input"), "references",
                      json_integer(in->nrefs));
  json_object_set_new(root, "consensus",
                      json_pack("{s:s,s:s,s:i,s:I}", "rule", "majority_vote",
                                "ties", "smallest_label", "references",
                                in->nrefs, "tied_voxels", (json_int_t)tied));
  json_object_set_new(root, "raters", raters);
  json_object_set_new(root, "inter_rater", inter);
  /* timing_ms stays the last key. */
  json_t *timing = json_incref(json_object_get(root, "timing_ms"));
  json_object_del(root, "timing_ms");
  json_object_set_new(root, "timing_ms", timing);
  *report = root;
  rc = 0;
done:
  if (rc != 0 && err->field[0] == '\0')
    snprintf(err->field, sizeof err->field, "reference");
  multi_clear(&m);
  ss_report_free(rep);
  ss_volume_free(cons);
  for (int k = 0; k < SS_MAX_RATERS; k++)
    ss_volume_free(refs[k]);
  return rc;
}
