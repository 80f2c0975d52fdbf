/* score.c - the scoring pipeline: check the pair, resolve the prediction
 * kind and the classes, count, and fill the report.  Conventions:
 * ../shared/DESIGN.md section 3, docs/metrics.md.
 * SPDX-License-Identifier: MIT
 */
#include "score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static ss_status
check_shapes(const ss_volume *p, const ss_volume *r, ss_error *err)
{
  const ss_volume_info *a = &p->info, *b = &r->info;
  if (a->nx != b->nx || a->ny != b->ny || a->nz != b->nz)
    return ss__fail(err, SS_ESHAPE, "prediction grid is %lldx%lldx%lld but "
                    "the reference grid is %lldx%lldx%lld; resample the "
                    "prediction onto the reference grid",
                    (long long)a->nx, (long long)a->ny, (long long)a->nz,
                    (long long)b->nx, (long long)b->ny, (long long)b->nz);
  return SS_OK;
}

/* World position (mm) of voxel (i, j, k) under affine A. */
static void
world(const double a[4][4], double i, double j, double k, double out[3])
{
  for (int r = 0; r < 3; r++)
    out[r] = a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3];
}

/* Affines agree when the eight corner voxels of the grid land within TOL
 * mm of each other: a distance in mm, whatever the grid size. */
static ss_status
check_geometry(const ss_volume *p, const ss_volume *r, double tol,
               ss_error *err)
{
  const ss_volume_info *a = &p->info, *b = &r->info;
  double worst = 0.0;
  for (int c = 0; c < 8; c++) {
    double i = (c & 1) ? (double)(a->nx - 1) : 0.0;
    double j = (c & 2) ? (double)(a->ny - 1) : 0.0;
    double k = (c & 4) ? (double)(a->nz - 1) : 0.0;
    double wa[3], wb[3];
    world(a->affine, i, j, k, wa);
    world(b->affine, i, j, k, wb);
    double d = sqrt((wa[0] - wb[0]) * (wa[0] - wb[0]) +
                    (wa[1] - wb[1]) * (wa[1] - wb[1]) +
                    (wa[2] - wb[2]) * (wa[2] - wb[2]));
    if (d > worst)
      worst = d;
  }
  if (worst > tol)
    return ss__fail(err, SS_EGEOMETRY, "prediction and reference affines "
                    "place a grid corner %.6g mm apart (tolerance %g mm; "
                    "prediction %s, reference %s); fix the header or set "
                    "check_geometry to false", worst, tol,
                    a->affine_source, b->affine_source);
  return SS_OK;
}

static ss_pred_kind
resolve_kind(const ss_volume *p, ss_pred_kind asked)
{
  if (asked != SS_KIND_AUTO)
    return asked;
  return p->idx != NULL ? SS_KIND_LABELS : SS_KIND_PROBABILITIES;
}

/* A label map from float channels: argmax over channels (the lowest
 * channel wins ties), or for one channel p >= threshold (probabilities) /
 * sigmoid(x) >= threshold (logits). */
static ss_status
binarise(const ss_volume *p, ss_pred_kind kind, double threshold,
         int threads, ss_volume **out, ss_error *err)
{
  *out = NULL;
  const int64_t n = p->nvox, nc = p->info.channels;
  if (p->data == NULL)
    return ss__fail(err, SS_EPROB, "prediction_kind %s needs float "
                    "(probability or logit) data", kind == SS_KIND_LOGITS
                    ? "logits" : "probabilities");
  if (nc > 256)
    return ss__fail(err, SS_ECLASSES, "prediction has %lld channels (at "
                    "most 256)", (long long)nc);
  ss_volume *v = calloc(1, sizeof *v);
  if (v == NULL)
    return ss__fail(err, SS_ENOMEM, "out of memory");
  v->info = p->info;
  v->nvox = n;
  v->nlabels = nc > 1 ? (int)nc : 2;
  v->labels = malloc((size_t)v->nlabels * sizeof *v->labels);
  v->idx = ss__big_alloc((size_t)n + 1);
  v->idx_width = 1;
  if (v->labels == NULL || v->idx == NULL) {
    ss_volume_free(v);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  for (int c = 0; c < v->nlabels; c++)
    v->labels[c] = c;
  uint8_t *o = v->idx;
  const float *d = p->data;
  const int nt = n >= SS_PAR_MIN_VOXELS ? threads : 1;
  if (nc == 1) {
    /* sigmoid(x) >= t  <=>  x >= log(t / (1 - t)) */
    const double t = kind == SS_KIND_LOGITS
                         ? log(threshold / (1.0 - threshold))
                         : threshold;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < n; i++)
      o[i] = d[i] >= t;
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < n; i++) {
      int best = 0;
      float bv = d[i];
      for (int64_t c = 1; c < nc; c++) {
        float x = d[c * n + i];
        if (x > bv) {
          bv = x;
          best = (int)c;
        }
      }
      o[i] = (uint8_t)best;
    }
  }
  v->info.channels = 1;
  v->info.integral = true;
  v->info.nlabels = v->nlabels;
  v->info.labels = v->labels;
  *out = v;
  return SS_OK;
}

static int
label_index(const ss_volume *v, int64_t label)
{
  int lo = 0, hi = v->nlabels - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (v->labels[mid] < label)
      lo = mid + 1;
    else if (v->labels[mid] > label)
      hi = mid - 1;
    else
      return mid;
  }
  return -1;
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The labels to score: the plan's list, or the union of the labels in
 * either volume minus background (unless asked) and the ignore label. */
static ss_status
class_labels(const ss_volume *p, const ss_volume *r, const ss_plan *plan,
             int64_t **out, int *nout, ss_error *err)
{
  int n = plan->labels != NULL ? plan->nlabels : p->nlabels + r->nlabels;
  int64_t *l = malloc((size_t)(n > 0 ? n : 1) * sizeof *l);
  if (l == NULL)
    return ss__fail(err, SS_ENOMEM, "out of memory");
  int k = 0;
  if (plan->labels != NULL) {
    memcpy(l, plan->labels, (size_t)n * sizeof *l);
    k = n;
  } else {
    for (int s = 0; s < 2; s++) {
      const ss_volume *v = s == 0 ? p : r;
      for (int i = 0; i < v->nlabels; i++) {
        int64_t x = v->labels[i];
        if (x == 0 && !plan->include_background)
          continue;
        if (plan->has_ignore && x == plan->ignore_label)
          continue;
        l[k++] = x;
      }
    }
    qsort(l, (size_t)k, sizeof *l, cmp_i64);
    int u = 0;
    for (int i = 0; i < k; i++)
      if (u == 0 || l[u - 1] != l[i])
        l[u++] = l[i];
    k = u;
  }
  *out = l;
  *nout = k;
  return SS_OK;
}

/* Membership tables of one class over the two label tables. */
static void
members(const ss_volume *p, const ss_volume *r, const int64_t *labels,
        int nlabels, uint8_t *pm, uint8_t *rm)
{
  memset(pm, 0, (size_t)p->nlabels + 1);
  memset(rm, 0, (size_t)r->nlabels + 1);
  for (int i = 0; i < nlabels; i++) {
    int a = label_index(p, labels[i]), b = label_index(r, labels[i]);
    if (a >= 0)
      pm[a] = 1;
    if (b >= 0)
      rm[b] = 1;
  }
}

static void
fill_overlap(ss_class_report *c, const ss_plan *plan, double voxel_mm3)
{
  const ss_confusion *k = &c->counts;
  c->pred_volume_mm3 = (double)c->pred_voxels * voxel_mm3;
  c->ref_volume_mm3 = (double)c->ref_voxels * voxel_mm3;
  if (c->pred_voxels == 0 && c->ref_voxels == 0)
    c->status = SS_CLASS_BOTH_EMPTY;
  else if (c->pred_voxels == 0)
    c->status = SS_CLASS_PRED_EMPTY;
  else if (c->ref_voxels == 0)
    c->status = SS_CLASS_REF_EMPTY;
  else
    c->status = SS_CLASS_OK;
  ss_overlap *o = &c->overlap;
  o->dice = ss_dice(k);
  o->jaccard = ss_jaccard(k);
  o->voe = ss_voe(k);
  if (c->status == SS_CLASS_BOTH_EMPTY && plan->has_both_empty_dice) {
    o->dice = (ss_metric){ plan->both_empty_dice, SS_DEFINED };
    o->jaccard = o->dice;
    o->voe = (ss_metric){ 1.0 - plan->both_empty_dice, SS_DEFINED };
  }
  o->precision = ss_precision(k);
  o->recall = ss_recall(k);
  o->specificity = ss_specificity(k);
  for (int b = 0; b < plan->nbetas; b++)
    o->fbeta[b] = ss_fbeta(k, plan->betas[b]);
  o->rvd = ss_rvd(k);
  o->volume_similarity = ss_volume_similarity(k);
}

/* Build the class list (labels, then regions) with membership tables. */
static ss_status
setup_classes(ss_report *rep, const ss_volume *p, const ss_volume *r,
              const ss_plan *plan, uint8_t **pm_out, uint8_t **rm_out,
              ss_error *err)
{
  int64_t *labels = NULL;
  int nl = 0;
  ss_status st = class_labels(p, r, plan, &labels, &nl, err);
  if (st != SS_OK)
    return st;
  const int nc = nl + plan->nregions;
  const size_t sp = (size_t)p->nlabels + 1, sr = (size_t)r->nlabels + 1;
  rep->classes = calloc((size_t)(nc > 0 ? nc : 1), sizeof *rep->classes);
  uint8_t *pm = malloc(sp * (size_t)(nc > 0 ? nc : 1));
  uint8_t *rm = malloc(sr * (size_t)(nc > 0 ? nc : 1));
  if (rep->classes == NULL || pm == NULL || rm == NULL) {
    free(labels);
    free(pm);
    free(rm);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  rep->nclasses = nc;
  for (int i = 0; i < nc; i++) {
    ss_class_report *c = &rep->classes[i];
    if (i < nl) {
      c->label = labels[i];
      snprintf(c->name, sizeof c->name, "%lld", (long long)labels[i]);
      members(p, r, &labels[i], 1, pm + sp * (size_t)i, rm + sr * (size_t)i);
    } else {
      const ss_region *g = &plan->regions[i - nl];
      c->label = -1;
      c->is_region = true;
      snprintf(c->name, sizeof c->name, "%s", g->name);
      members(p, r, g->labels, g->nlabels, pm + sp * (size_t)i,
              rm + sr * (size_t)i);
    }
  }
  free(labels);
  *pm_out = pm;
  *rm_out = rm;
  return SS_OK;
}

static ss_status
run_overlap(ss_report *rep, const ss_volume *p, const ss_volume *r,
            const ss_plan *plan, const uint8_t *pm, const uint8_t *rm,
            int ignore_r, int threads, ss_error *err)
{
  const size_t sp = (size_t)p->nlabels + 1, sr = (size_t)r->nlabels + 1;
  const double vmm3 = r->info.spacing_mm[0] * r->info.spacing_mm[1] *
                      r->info.spacing_mm[2];
  int64_t *h = NULL;
  ss_status st = ss__joint_histogram(p, r, threads, &h, err);
  if (st != SS_OK && st != SS_ECLASSES)
    return st;
  for (int i = 0; i < rep->nclasses; i++) {
    ss_class_report *c = &rep->classes[i];
    if (h != NULL)
      ss__counts_from_joint(h, p->nlabels, r->nlabels, pm + sp * (size_t)i,
                            rm + sr * (size_t)i, ignore_r, &c->counts,
                            &c->pred_voxels, &c->ref_voxels);
    else
      (void)ss__counts_by_pass(p, r, pm + sp * (size_t)i,
                               rm + sr * (size_t)i, ignore_r, threads,
                               &c->counts, &c->pred_voxels, &c->ref_voxels);
    fill_overlap(c, plan, vmm3);
  }
  free(h);
  return SS_OK;
}

/* Surface distances of every class (boundary.c), one class at a time so
 * only one class's crop and distance maps are alive. */
static ss_status
run_boundary(ss_report *rep, const ss_volume *p, const ss_volume *r,
             const ss_plan *plan, const uint8_t *pm, const uint8_t *rm,
             int ignore_r, ss_error *err)
{
  const size_t sp = (size_t)p->nlabels + 1, sr = (size_t)r->nlabels + 1;
  const ss__grid g = { r->info.nx, r->info.ny, r->info.nz,
                       { r->info.spacing_mm[0], r->info.spacing_mm[1],
                         r->info.spacing_mm[2] } };
  /* One pass per volume finds every label's box; a class is then
   * scanned only inside the union of its labels' boxes. */
  ss__box *bp = NULL, *br = NULL;
  ss_status st = ss__label_boxes(p, ss__threads(plan), &bp, err);
  if (st == SS_OK)
    st = ss__label_boxes(r, ss__threads(plan), &br, err);
  uint8_t *im = ignore_r >= 0 ? calloc(sr, 1) : NULL;
  if (st == SS_OK && ignore_r >= 0 && im == NULL)
    st = ss__fail(err, SS_ENOMEM, "out of memory");
  if (im != NULL)
    im[ignore_r] = 1;
  const ss__mask ig = { r->idx, r->idx_width, im };
  for (int i = 0; i < rep->nclasses && st == SS_OK; i++) {
    ss_class_report *c = &rep->classes[i];
    const ss__mask mp = { p->idx, p->idx_width, pm + sp * (size_t)i };
    const ss__mask mr = { r->idx, r->idx_width, rm + sr * (size_t)i };
    ss__box hint = { { INT64_MAX, INT64_MAX, INT64_MAX },
                     { INT64_MIN, INT64_MIN, INT64_MIN } };
    ss__box_union(&hint, bp, mp.member, p->nlabels);
    ss__box_union(&hint, br, mr.member, r->nlabels);
    st = ss__boundary_class_in(&g, &mp, &mr, im != NULL ? &ig : NULL, &hint,
                               plan, &c->boundary, err);
    c->has_boundary = st == SS_OK;
  }
  free(im);
  free(bp);
  free(br);
  return st;
}

static ss_status
check_plan(const ss_plan *plan, ss_error *err)
{
  if (plan->nbetas < 0 || plan->nbetas > SS_MAX_BETAS ||
      plan->npercentiles < 0 || plan->npercentiles > SS_MAX_PERCENTILES ||
      plan->ntolerances < 0 || plan->ntolerances > SS_MAX_TOLERANCES ||
      plan->nregions < 0 || plan->nlabels < 0)
    return ss__fail(err, SS_EINVAL, "plan list sizes out of range");
  if (plan->nregions > 0 && plan->regions == NULL)
    return ss__fail(err, SS_EINVAL, "plan has regions but no region list");
  return SS_OK;
}

ss_status
ss_score(const ss_volume *pred, const ss_volume *ref, const ss_plan *plan_in,
         ss_report **out, ss_error *err)
{
  *out = NULL;
  const double t0 = ss__now_ms();
  ss_plan defaults;
  ss_plan_init(&defaults);
  const ss_plan *plan = plan_in != NULL ? plan_in : &defaults;
  ss_status st = check_plan(plan, err);
  if (st != SS_OK)
    return st;
  if (pred == NULL || ref == NULL)
    return ss__fail(err, SS_EINVAL, "missing prediction or reference");
  if (ref->idx == NULL)
    return ss__fail(err, SS_ELABELS, "the reference is not a label map: %s",
                    ref->nolabel_reason != NULL ? ref->nolabel_reason
                                                : "no integer labels");
  if ((st = check_shapes(pred, ref, err)) != SS_OK)
    return st;
  if (plan->check_geometry &&
      (st = check_geometry(pred, ref, plan->geometry_tol_mm, err)) != SS_OK)
    return st;

  const int threads = ss__threads(plan);
  const ss_pred_kind kind = resolve_kind(pred, plan->kind);
  const ss_volume *lp = pred;
  ss_volume *bin = NULL;
  if (kind == SS_KIND_LABELS) {
    if (pred->idx == NULL)
      return ss__fail(err, SS_ELABELS, "the prediction is not a label map: "
                      "%s; set prediction_kind to probabilities or logits",
                      pred->nolabel_reason != NULL ? pred->nolabel_reason
                                                   : "no integer labels");
  } else {
    st = binarise(pred, kind, plan->threshold, threads, &bin, err);
    if (st != SS_OK)
      return st;
    lp = bin;
  }

  ss_report *rep = calloc(1, sizeof *rep);
  uint8_t *pm = NULL, *rm = NULL;
  if (rep == NULL) {
    ss_volume_free(bin);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  rep->metrics = plan->metrics_set ? plan->metrics
                                   : SS_METRIC_OVERLAP | SS_METRIC_BOUNDARY;
  /* losses.c: trade-offs are a default family for float predictions */
  if (!plan->metrics_set && kind != SS_KIND_LABELS)
    rep->metrics |= SS_METRIC_TRADEOFFS;
  rep->input.kind = kind;
  rep->input.channels = pred->info.channels;
  rep->input.shape[0] = ref->info.nx;
  rep->input.shape[1] = ref->info.ny;
  rep->input.shape[2] = ref->info.nz;
  memcpy(rep->input.spacing_mm, ref->info.spacing_mm,
         sizeof rep->input.spacing_mm);
  rep->input.nifti_version[0] = pred->info.nifti_version;
  rep->input.nifti_version[1] = ref->info.nifti_version;

  st = setup_classes(rep, lp, ref, plan, &pm, &rm, err);
  const int ignore_r = plan->has_ignore ? label_index(ref, plan->ignore_label)
                                        : -1;
  if (st == SS_OK) {
    const double t1 = ss__now_ms();
    /* Counts are needed by every family (status, volumes). */
    st = run_overlap(rep, lp, ref, plan, pm, rm, ignore_r, threads, err);
    rep->timing.overlap_ms = ss__now_ms() - t1;
  }
  if (st == SS_OK && (rep->metrics & SS_METRIC_BOUNDARY)) {
    const double t2 = ss__now_ms();
    st = run_boundary(rep, lp, ref, plan, pm, rm, ignore_r, err);
    rep->timing.boundary_ms = ss__now_ms() - t2;
  }
  /* Losses and trade-offs on the original prediction (losses.c). */
  if (st == SS_OK && ss__losses_wanted(plan, kind)) {
    const double t2 = ss__now_ms();
    st = ss__losses_score(pred, ref, plan, rep, err);
    rep->timing.losses_ms = ss__now_ms() - t2;
  }
  if (st == SS_OK && (rep->metrics & SS_METRIC_LESIONS))
    st = ss__lesions_run(rep, lp, ref, plan, pm, rm, ignore_r, err);
  free(pm);
  free(rm);
  ss_volume_free(bin);
  if (st != SS_OK) {
    ss_report_free(rep);
    return st;
  }
  rep->timing.total_ms = ss__now_ms() - t0;
  *out = rep;
  return SS_OK;
}

void
ss_report_free(ss_report *r)
{
  if (r == NULL)
    return;
  ss__losses_release(r);
  for (int i = 0; r->classes != NULL && i < r->nclasses; i++)
    ss_lesion_report_free(r->classes[i].lesions);
  free(r->classes);
  free(r);
}
