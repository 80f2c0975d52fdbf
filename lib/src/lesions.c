/* lesions.c - lesion-wise detection metrics of one class
 * (ss__lesions_class, internal.h; report types in segscore.h).  The
 * definitions, matching rules and their sources are in docs/lesions.md.
 * SPDX-License-Identifier: MIT
 *
 * Pipeline: crop to the union bounding box (plus dilation and a margin),
 * label both sides with ss__components, one serial pass for lesion sizes,
 * boxes and the (reference, prediction) overlap table, match, then Dice
 * from the table and HD95 per reference lesion on a small crop with
 * ss__boundary_class.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

void
ss_lesion_options_init(ss_lesion_options *o)
{
  memset(o, 0, sizeof *o);
  o->connectivity = 26;
  o->match = SS_LESION_MATCH_ANY_OVERLAP;
  o->iou_threshold = 0.5;
  o->min_side = SS_LESION_MIN_BOTH;
  o->list_lesions = true;
}

void
ss_lesion_report_free(ss_lesion_report *r)
{
  if (r == NULL)
    return;
  free(r->ref);
  free(r->pred);
  free(r->pool);
  free(r);
}

/*---- crop ------------------------------------------------------------------*/

typedef struct {
  int64_t lo[3], hi[3]; /* inclusive voxel bounds */
} box3;

/* Per-component facts gathered in the stats pass. */
typedef struct {
  int64_t voxels;
  box3 b;
} comp_stat;

/* The class crop: masks and labels on the sub-grid [org, org + n). */
typedef struct {
  int64_t org[3], n[3], nvox;
  uint8_t *rm;           /* reference voxels (ignore removed) */
  uint8_t *ign;          /* ignore voxels, or NULL */
  int32_t *pl, *ml;      /* prediction labels; match labels (reference,
                            or the dilated reference) */
  int32_t npl, nml;
} crop;

static void
crop_free(crop *c)
{
  free(c->rm);
  free(c->ign);
  free(c->pl);
  free(c->ml);
}

/* Bounding box of the voxels in PRED or REF and not in IGNORE; false when
 * there are none. */
static bool
union_box(const ss__grid *g, const ss__mask *pred, const ss__mask *ref,
          const ss__mask *ignore, int threads, box3 *out)
{
  const int64_t nx = g->nx, ny = g->ny, nz = g->nz;
  int64_t x0 = INT64_MAX, y0 = INT64_MAX, z0 = INT64_MAX;
  int64_t x1 = -1, y1 = -1, z1 = -1;
#pragma omp parallel for num_threads(threads) schedule(static) \
        reduction(min:x0, y0, z0) reduction(max:x1, y1, z1) \
        if(nx * ny * nz >= SS_PAR_MIN_VOXELS)
  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        int64_t i = x + nx * (y + ny * z);
        if (!(ss__mask_at(pred, i) || ss__mask_at(ref, i)) ||
            (ignore != NULL && ss__mask_at(ignore, i)))
          continue;
        x0 = x < x0 ? x : x0;
        x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0;
        y1 = y > y1 ? y : y1;
        z0 = z < z0 ? z : z0;
        z1 = z > z1 ? z : z1;
      }
  if (x1 < 0)
    return false;
  *out = (box3){ { x0, y0, z0 }, { x1, y1, z1 } };
  return true;
}

/* Copy the masks into the crop; PM gets the prediction. */
static void
crop_fill(const ss__grid *g, const ss__mask *pred, const ss__mask *ref,
          const ss__mask *ignore, crop *c, uint8_t *pm, int threads)
{
  const int64_t cx = c->n[0], cy = c->n[1], cz = c->n[2];
#pragma omp parallel for num_threads(threads) schedule(static) \
        if(c->nvox >= SS_PAR_MIN_VOXELS)
  for (int64_t z = 0; z < cz; z++)
    for (int64_t y = 0; y < cy; y++)
      for (int64_t x = 0; x < cx; x++) {
        int64_t i = x + cx * (y + cy * z);
        int64_t v = (c->org[0] + x) +
                    g->nx * ((c->org[1] + y) + g->ny * (c->org[2] + z));
        int ig = ignore != NULL && ss__mask_at(ignore, v);
        pm[i] = !ig && ss__mask_at(pred, v);
        c->rm[i] = !ig && ss__mask_at(ref, v);
        if (c->ign != NULL)
          c->ign[i] = (uint8_t)ig;
      }
}

/* ITER iterations of a dilation by the 18-neighbourhood (the 3x3x3 cube
 * without its corners, scipy's generate_binary_structure(3, 2), as the
 * BraTS 2023 evaluation uses).  SRC is overwritten; the result is in
 * *RESULT (SRC or TMP). */
static void
dilate18(uint8_t *src, uint8_t *tmp, const int64_t n[3], int iter,
         int threads, uint8_t **result)
{
  const int64_t nx = n[0], ny = n[1], nz = n[2];
  uint8_t *a = src, *b = tmp;
  for (int it = 0; it < iter; it++) {
#pragma omp parallel for num_threads(threads) schedule(static) \
        if(nx * ny * nz >= SS_PAR_MIN_VOXELS)
    for (int64_t z = 0; z < nz; z++)
      for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) {
          int64_t i = x + nx * (y + ny * z);
          uint8_t on = a[i];
          for (int dz = -1; dz <= 1 && !on; dz++)
            for (int dy = -1; dy <= 1 && !on; dy++)
              for (int dx = -1; dx <= 1 && !on; dx++) {
                if (abs(dx) + abs(dy) + abs(dz) == 3)
                  continue;
                int64_t xx = x + dx, yy = y + dy, zz = z + dz;
                if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny ||
                    zz >= nz)
                  continue;
                on = a[xx + nx * (yy + ny * zz)];
              }
          b[i] = on;
        }
    uint8_t *t = a;
    a = b;
    b = t;
  }
  *result = a;
}

/*---- overlap table ---------------------------------------------------------*/

/* (match label, prediction label) -> voxel counts: TOUCH counts shared
 * voxels of the match region (the dilated reference when dilating),
 * INTER shared voxels of the reference itself.  Open addressing. */
typedef struct {
  uint64_t key; /* m << 32 | p; 0 = empty (labels start at 1) */
  int64_t touch, inter;
} pair_slot;

typedef struct {
  pair_slot *slot;
  size_t cap, n;
} pair_map;

static size_t
pair_hash(uint64_t key, size_t cap)
{
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}

static bool
pair_grow(pair_map *pm)
{
  size_t cap = pm->cap ? pm->cap * 2 : 1024;
  pair_slot *s = calloc(cap, sizeof *s);
  if (s == NULL)
    return false;
  for (size_t k = 0; k < pm->cap; k++) {
    if (pm->slot[k].key == 0)
      continue;
    size_t h = pair_hash(pm->slot[k].key, cap);
    while (s[h].key != 0)
      h = (h + 1) & (cap - 1);
    s[h] = pm->slot[k];
  }
  free(pm->slot);
  pm->slot = s;
  pm->cap = cap;
  return true;
}

static bool
pair_add(pair_map *pm, int32_t m, int32_t p, int inter)
{
  if (2 * (pm->n + 1) > pm->cap && !pair_grow(pm))
    return false;
  uint64_t key = (uint64_t)(uint32_t)m << 32 | (uint32_t)p;
  size_t h = pair_hash(key, pm->cap);
  while (pm->slot[h].key != 0 && pm->slot[h].key != key)
    h = (h + 1) & (pm->cap - 1);
  if (pm->slot[h].key == 0) {
    pm->slot[h].key = key;
    pm->n++;
  }
  pm->slot[h].touch++;
  pm->slot[h].inter += inter;
  return true;
}

/*---- stats pass ------------------------------------------------------------*/

static void
box_add(box3 *b, int64_t voxels_before, int64_t x, int64_t y, int64_t z)
{
  if (voxels_before == 0) {
    *b = (box3){ { x, y, z }, { x, y, z } };
    return;
  }
  int64_t v[3] = { x, y, z };
  for (int k = 0; k < 3; k++) {
    b->lo[k] = v[k] < b->lo[k] ? v[k] : b->lo[k];
    b->hi[k] = v[k] > b->hi[k] ? v[k] : b->hi[k];
  }
}

/* One serial raster pass: sizes and boxes of prediction components (PS)
 * and of the reference voxels of each match component (RS), and the
 * overlap table. */
static bool
stats_pass(const crop *c, comp_stat *ps, comp_stat *rs, pair_map *pairs)
{
  const int64_t cx = c->n[0], cy = c->n[1], cz = c->n[2];
  int64_t i = 0;
  for (int64_t z = 0; z < cz; z++)
    for (int64_t y = 0; y < cy; y++)
      for (int64_t x = 0; x < cx; x++, i++) {
        int32_t p = c->pl[i], m = c->ml[i];
        if (p == 0 && m == 0)
          continue;
        if (p != 0) {
          box_add(&ps[p].b, ps[p].voxels, x, y, z);
          ps[p].voxels++;
        }
        if (m != 0 && c->rm[i]) {
          box_add(&rs[m].b, rs[m].voxels, x, y, z);
          rs[m].voxels++;
        }
        if (p != 0 && m != 0 && !pair_add(pairs, m, p, c->rm[i]))
          return false;
      }
  return true;
}

/*---- matching --------------------------------------------------------------*/

/* An accepted or candidate match between reference lesion R and
 * prediction lesion P (report ids). */
typedef struct {
  int32_t r, p;
  int64_t inter;
  double iou;
} match;

static int
cmp_by_ref(const void *a, const void *b)
{
  const match *x = a, *y = b;
  if (x->r != y->r)
    return x->r < y->r ? -1 : 1;
  return (x->p > y->p) - (x->p < y->p);
}

static int
cmp_by_pred(const void *a, const void *b)
{
  const match *x = a, *y = b;
  if (x->p != y->p)
    return x->p < y->p ? -1 : 1;
  return (x->r > y->r) - (x->r < y->r);
}

/* Greedy one-to-one order: IoU descending, then reference id, then
 * prediction id, so ties resolve the same way every time. */
static int
cmp_by_iou(const void *a, const void *b)
{
  const match *x = a, *y = b;
  if (x->iou != y->iou)
    return x->iou > y->iou ? -1 : 1;
  return cmp_by_ref(a, b);
}

/* Keep the candidates that match under the plan's rule; returns the new
 * count.  any_overlap keeps every pair; iou keeps pairs with IoU >= t,
 * then drops, in cmp_by_iou order, any whose lesion is already taken. */
static int64_t
select_matches(match *cand, int64_t n, const ss_lesion_report *rep,
               const ss_lesion_options *o, uint8_t *taken_r,
               uint8_t *taken_p)
{
  if (o->match == SS_LESION_MATCH_ANY_OVERLAP)
    return n;
  int64_t k = 0;
  for (int64_t j = 0; j < n; j++) {
    double uni = (double)(rep->ref[cand[j].r - 1].voxels +
                          rep->pred[cand[j].p - 1].voxels - cand[j].inter);
    cand[j].iou = (double)cand[j].inter / uni;
    if (cand[j].inter > 0 && cand[j].iou >= o->iou_threshold)
      cand[k++] = cand[j];
  }
  qsort(cand, (size_t)k, sizeof *cand, cmp_by_iou);
  int64_t kept = 0;
  for (int64_t j = 0; j < k; j++) {
    if (taken_r[cand[j].r] || taken_p[cand[j].p])
      continue;
    taken_r[cand[j].r] = taken_p[cand[j].p] = 1;
    cand[kept++] = cand[j];
  }
  return kept;
}

/* Point each lesion's matched list into POOL: the accepted matches sorted
 * by reference, then by prediction. */
static void
link_matches(ss_lesion_report *rep, match *acc, int64_t n)
{
  int32_t *pool = rep->pool;
  qsort(acc, (size_t)n, sizeof *acc, cmp_by_ref);
  for (int64_t j = 0; j < n; j++) {
    ss_lesion *l = &rep->ref[acc[j].r - 1];
    if (l->nmatched++ == 0)
      l->matched = pool;
    *pool++ = acc[j].p;
  }
  qsort(acc, (size_t)n, sizeof *acc, cmp_by_pred);
  for (int64_t j = 0; j < n; j++) {
    ss_lesion *l = &rep->pred[acc[j].p - 1];
    if (l->nmatched++ == 0)
      l->matched = pool;
    *pool++ = acc[j].r;
  }
}

/*---- per-lesion Dice and HD95 ----------------------------------------------*/

static ss_metric
defined(double v)
{
  return (ss_metric){ v, SS_DEFINED };
}

static ss_metric
undefined(ss_undef why)
{
  return (ss_metric){ 0.0, why };
}

/* HD95 between reference lesion L (match label M in the crop) and the
 * union of its matched predictions, on the union of their boxes plus a
 * one-voxel margin.  MARK[p] == L->id flags the matched predictions. */
static ss_status
lesion_hd95(const ss__grid *g, const crop *c, const ss_lesion *l, int32_t m,
            const comp_stat *ps, const comp_stat *rs, const int32_t *mark,
            const ss_plan *bplan, ss_metric *out, ss_error *err)
{
  box3 b = rs[m].b;
  for (int32_t k = 0; k < l->nmatched; k++) {
    const box3 *pb = &ps[l->matched[k]].b;
    for (int a = 0; a < 3; a++) {
      b.lo[a] = pb->lo[a] < b.lo[a] ? pb->lo[a] : b.lo[a];
      b.hi[a] = pb->hi[a] > b.hi[a] ? pb->hi[a] : b.hi[a];
    }
  }
  int64_t n[3];
  for (int a = 0; a < 3; a++) {
    b.lo[a] = b.lo[a] > 0 ? b.lo[a] - 1 : 0;
    b.hi[a] = b.hi[a] + 1 < c->n[a] ? b.hi[a] + 1 : c->n[a] - 1;
    n[a] = b.hi[a] - b.lo[a] + 1;
  }
  uint8_t *code = malloc((size_t)(n[0] * n[1] * n[2]));
  if (code == NULL)
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");
  int64_t j = 0;
  for (int64_t z = b.lo[2]; z <= b.hi[2]; z++)
    for (int64_t y = b.lo[1]; y <= b.hi[1]; y++)
      for (int64_t x = b.lo[0]; x <= b.hi[0]; x++, j++) {
        int64_t i = x + c->n[0] * (y + c->n[1] * z);
        int32_t p = c->pl[i];
        code[j] = (uint8_t)((c->ml[i] == m && c->rm[i]) |
                            (p != 0 && mark[p] == l->id) << 1 |
                            (c->ign != NULL && c->ign[i]) << 2);
      }
  /* Code bit 0: reference lesion, bit 1: matched prediction, bit 2:
   * ignore; the member tables pick one bit each. */
  static const uint8_t is_ref[8] = { 0, 1, 0, 1, 0, 1, 0, 1 };
  static const uint8_t is_pred[8] = { 0, 0, 1, 1, 0, 0, 1, 1 };
  static const uint8_t is_ign[8] = { 0, 0, 0, 0, 1, 1, 1, 1 };
  ss__mask pmask = { code, 1, is_pred }, rmask = { code, 1, is_ref };
  ss__mask imask = { code, 1, is_ign };
  ss__grid sub = { n[0], n[1], n[2], { g->sp[0], g->sp[1], g->sp[2] } };
  ss_boundary bd;
  ss_status st = ss__boundary_class(&sub, &pmask, &rmask,
                                    c->ign != NULL ? &imask : NULL, bplan,
                                    &bd, err);
  free(code);
  if (st == SS_OK)
    *out = bd.hdp[0];
  return st;
}

/*---- summary numbers -------------------------------------------------------*/

static void
summarise(ss_lesion_report *rep, const ss_plan *plan)
{
  int64_t fn_or_fp = rep->fn + rep->fp;
  rep->precision = rep->n_pred > 0
                       ? defined((double)rep->tp_pred / (double)rep->n_pred)
                       : undefined(SS_PRED_EMPTY);
  rep->recall = rep->n_ref > 0 ? defined((double)rep->tp / (double)rep->n_ref)
                               : undefined(SS_REF_EMPTY);
  if (rep->precision.why == SS_DEFINED && rep->recall.why == SS_DEFINED) {
    double p = rep->precision.value, r = rep->recall.value;
    rep->f1 = defined(p + r > 0 ? 2 * p * r / (p + r) : 0.0);
  } else if (fn_or_fp > 0) {
    rep->f1 = defined(0.0);
  } else {
    rep->f1 = undefined(rep->n_ref == 0 && rep->n_pred == 0
                            ? SS_BOTH_EMPTY
                            : SS_ZERO_DENOMINATOR);
  }

  /* BraTS 2023: mean over counted reference lesions and false-positive
   * predictions, a miss or a false positive scoring Dice 0. */
  int64_t den = rep->n_ref + rep->fp;
  double dice_sum = 0.0, hd_sum = 0.0;
  bool hd_ok = true;
  for (int32_t k = 0; k < rep->nref; k++) {
    const ss_lesion *l = &rep->ref[k];
    if (!l->counted)
      continue;
    dice_sum += l->dice.value;
    if (l->hd95.why == SS_DEFINED)
      hd_sum += l->hd95.value;
    else if (l->nmatched == 0 && plan->has_worst_distance)
      hd_sum += plan->worst_distance_mm;
    else
      hd_ok = false;
  }
  if (den == 0) {
    rep->lesion_dice = plan->has_both_empty_dice
                           ? defined(plan->both_empty_dice)
                           : undefined(SS_BOTH_EMPTY);
    rep->lesion_hd95 = undefined(SS_BOTH_EMPTY);
    return;
  }
  rep->lesion_dice = defined(dice_sum / (double)den);
  if (rep->fp > 0 && !plan->has_worst_distance)
    hd_ok = false;
  hd_sum += (double)rep->fp * plan->worst_distance_mm;
  rep->lesion_hd95 = hd_ok ? defined(hd_sum / (double)den)
                           : undefined(SS_NOT_FINITE);
}

/*---- the class -------------------------------------------------------------*/

static ss_status
check_options(const ss_lesion_options *o, ss_error *err)
{
  if (o->connectivity != 6 && o->connectivity != 18 && o->connectivity != 26)
    return ss__fail(err, SS_ERANGE,
                    "lesions.connectivity must be 6, 18 or 26");
  if (o->match == SS_LESION_MATCH_IOU &&
      !(o->iou_threshold > 0.0 && o->iou_threshold <= 1.0))
    return ss__fail(err, SS_ERANGE, "lesions.iou_threshold must be in (0, 1]");
  if (o->dilation_voxels < 0 || o->dilation_voxels > SS_LESION_MAX_DILATION)
    return ss__fail(err, SS_ERANGE, "lesions.dilation_voxels must be 0..%d",
                    SS_LESION_MAX_DILATION);
  if (o->dilation_voxels > 0 && o->match != SS_LESION_MATCH_ANY_OVERLAP)
    return ss__fail(err, SS_ERANGE,
                    "lesions.dilation_voxels needs match \"any_overlap\"");
  if (o->min_voxels < 0 || !(o->min_volume_mm3 >= 0.0) ||
      !isfinite(o->min_volume_mm3))
    return ss__fail(err, SS_ERANGE, "lesions minimum size must be >= 0");
  return SS_OK;
}

/* Crop, copy and label both sides. */
static ss_status
build_crop(const ss__grid *g, const ss__mask *pred, const ss__mask *ref,
           const ss__mask *ignore, const ss_lesion_options *o, int threads,
           const box3 *ub, crop *c, ss_error *err)
{
  const int64_t grid[3] = { g->nx, g->ny, g->nz };
  const int64_t margin = o->dilation_voxels + 1;
  c->nvox = 1;
  for (int a = 0; a < 3; a++) {
    int64_t lo = ub->lo[a] - margin, hi = ub->hi[a] + margin;
    c->org[a] = lo > 0 ? lo : 0;
    c->n[a] = (hi < grid[a] - 1 ? hi : grid[a] - 1) - c->org[a] + 1;
    c->nvox *= c->n[a];
  }
  size_t nv = (size_t)c->nvox;
  uint8_t *pm = malloc(nv), *tmp = NULL, *mm;
  c->rm = malloc(nv);
  c->pl = malloc(nv * sizeof *c->pl);
  c->ml = malloc(nv * sizeof *c->ml);
  if (ignore != NULL)
    c->ign = malloc(nv);
  ss_status st = SS_ENOMEM;
  if (pm == NULL || c->rm == NULL || c->pl == NULL || c->ml == NULL ||
      (ignore != NULL && c->ign == NULL))
    goto fail;
  crop_fill(g, pred, ref, ignore, c, pm, threads);
  st = ss__components(pm, c->n[0], c->n[1], c->n[2], o->connectivity, c->pl,
                      &c->npl, threads, err);
  if (st != SS_OK)
    goto done;
  mm = c->rm;
  if (o->dilation_voxels > 0) {
    /* The prediction copy is done with; it becomes the dilation buffer. */
    memcpy(pm, c->rm, nv);
    tmp = malloc(nv);
    if (tmp == NULL) {
      st = SS_ENOMEM;
      goto fail;
    }
    dilate18(pm, tmp, c->n, o->dilation_voxels, threads, &mm);
  }
  st = ss__components(mm, c->n[0], c->n[1], c->n[2], o->connectivity, c->ml,
                      &c->nml, threads, err);
  goto done;
fail:
  ss__fail(err, st, "lesions: out of memory");
done:
  free(pm);
  free(tmp);
  return st;
}

/* Lesion lists, sizes and counted flags from the stats.  With dilation,
 * match components are renumbered by their first reference voxel. */
static ss_status
build_lesions(const ss__grid *g, const crop *c, const comp_stat *ps,
              const comp_stat *rs, const ss_lesion_options *o,
              ss_lesion_report *rep, int32_t *rid, ss_error *err)
{
  const double vvol = g->sp[0] * g->sp[1] * g->sp[2];
  rep->nref = c->nml;
  rep->npred = c->npl;
  rep->ref = calloc((size_t)c->nml + 1, sizeof *rep->ref);
  rep->pred = calloc((size_t)c->npl + 1, sizeof *rep->pred);
  if (rep->ref == NULL || rep->pred == NULL)
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");
  /* rid[m] = reference id of match component m, in the order of their
   * first reference voxel (the identity without dilation). */
  int32_t next = 0;
  for (int64_t i = 0; i < c->nvox && next < c->nml; i++) {
    int32_t m = c->ml[i];
    if (o->dilation_voxels == 0)
      break;
    if (m != 0 && c->rm[i] && rid[m] == 0)
      rid[m] = ++next;
  }
  for (int32_t m = 1; o->dilation_voxels == 0 && m <= c->nml; m++)
    rid[m] = m;
  for (int32_t m = 1; m <= c->nml; m++) {
    ss_lesion *l = &rep->ref[rid[m] - 1];
    l->id = rid[m];
    l->voxels = rs[m].voxels;
  }
  for (int32_t p = 1; p <= c->npl; p++) {
    rep->pred[p - 1].id = p;
    rep->pred[p - 1].voxels = ps[p].voxels;
  }
  for (int side = 0; side < 2; side++) {
    ss_lesion *ls = side ? rep->pred : rep->ref;
    int32_t n = side ? rep->npred : rep->nref;
    bool applies = side == 0 || o->min_side == SS_LESION_MIN_BOTH;
    for (int32_t k = 0; k < n; k++) {
      ls[k].volume_mm3 = (double)ls[k].voxels * vvol;
      ls[k].counted = !applies || (ls[k].voxels >= o->min_voxels &&
                                   ls[k].volume_mm3 >= o->min_volume_mm3);
      ls[k].dice = ls[k].hd95 = undefined(SS_ZERO_DENOMINATOR);
    }
  }
  return SS_OK;
}

/* Candidates from the overlap table (lesions that may match under the
 * size rule), then the plan's selection; links the lists. */
static ss_status
match_lesions(const pair_map *pairs, const int32_t *rid,
              const ss_lesion_options *o, ss_lesion_report *rep,
              match **acc_out, int64_t *nacc_out, ss_error *err)
{
  match *cand = malloc(sizeof *cand * (pairs->n + 1));
  uint8_t *taken = calloc((size_t)rep->nref + (size_t)rep->npred + 2, 1);
  if (cand == NULL || taken == NULL) {
    free(cand);
    free(taken);
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");
  }
  int64_t n = 0;
  for (size_t k = 0; k < pairs->cap; k++) {
    const pair_slot *s = &pairs->slot[k];
    if (s->key == 0)
      continue;
    match mt = { rid[s->key >> 32], (int32_t)(s->key & 0xffffffffu),
                 s->inter, 0.0 };
    /* With the minimum on both sides, small lesions do not take part;
     * with it on the reference only, small reference lesions still
     * absorb the predictions that touch them (BraTS 2023). */
    if (!rep->pred[mt.p - 1].counted ||
        (o->min_side == SS_LESION_MIN_BOTH && !rep->ref[mt.r - 1].counted))
      continue;
    cand[n++] = mt;
  }
  n = select_matches(cand, n, rep, o, taken, taken + rep->nref + 1);
  free(taken);
  rep->pool = malloc(sizeof *rep->pool * (size_t)(2 * n + 1));
  if (rep->pool == NULL) {
    free(cand);
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");
  }
  link_matches(rep, cand, n);
  *acc_out = cand;
  *nacc_out = n;
  return SS_OK;
}

/* Counts, then Dice (from the accepted matches, sorted by prediction) and
 * HD95 of every reference lesion. */
static ss_status
score_lesions(const ss__grid *g, const crop *c, const comp_stat *ps,
              const comp_stat *rs, const int32_t *rid, match *acc,
              int64_t nacc, const ss_plan *plan, ss_lesion_report *rep,
              ss_error *err)
{
  for (int32_t k = 0; k < rep->nref; k++) {
    const ss_lesion *l = &rep->ref[k];
    if (!l->counted)
      continue;
    rep->n_ref++;
    rep->tp += l->nmatched > 0;
  }
  rep->fn = rep->n_ref - rep->tp;
  for (int32_t k = 0; k < rep->npred; k++) {
    const ss_lesion *l = &rep->pred[k];
    if (!l->counted)
      continue;
    rep->n_pred++;
    rep->tp_pred += l->nmatched > 0;
  }
  rep->fp = rep->n_pred - rep->tp_pred;

  int64_t *inter = calloc((size_t)rep->nref + 1, sizeof *inter);
  int64_t *pvox = calloc((size_t)rep->nref + 1, sizeof *pvox);
  int32_t *mark = calloc((size_t)rep->npred + 1, sizeof *mark);
  int32_t *mof = malloc(sizeof *mof * ((size_t)rep->nref + 1));
  ss_status st = SS_OK;
  if (inter == NULL || pvox == NULL || mark == NULL || mof == NULL) {
    st = ss__fail(err, SS_ENOMEM, "lesions: out of memory");
    goto done;
  }
  for (int64_t j = 0; j < nacc; j++) {
    inter[acc[j].r] += acc[j].inter;
    pvox[acc[j].r] += rep->pred[acc[j].p - 1].voxels;
  }
  for (int32_t m = 1; m <= c->nml; m++)
    mof[rid[m]] = m;
  ss_plan bplan = *plan;
  bplan.npercentiles = 1;
  bplan.percentiles[0] = 95.0;
  for (int32_t k = 0; k < rep->nref && st == SS_OK; k++) {
    ss_lesion *l = &rep->ref[k];
    l->dice = defined(2.0 * (double)inter[l->id] /
                      (double)(l->voxels + pvox[l->id]));
    if (l->nmatched == 0) {
      l->hd95 = undefined(SS_PRED_EMPTY);
      continue;
    }
    for (int32_t q = 0; q < l->nmatched; q++)
      mark[l->matched[q]] = l->id;
    st = lesion_hd95(g, c, l, mof[l->id], ps, rs, mark, &bplan, &l->hd95,
                     err);
  }
  if (st == SS_OK)
    summarise(rep, plan);
done:
  free(inter);
  free(pvox);
  free(mark);
  free(mof);
  return st;
}

ss_status
ss__lesions_class(const ss__grid *g, const ss__mask *pred,
                  const ss__mask *ref, const ss__mask *ignore,
                  const int64_t *box, const ss_plan *plan,
                  ss_lesion_report **out, ss_error *err)
{
  *out = NULL;
  ss_lesion_options o;
  if (plan != NULL)
    o = plan->lesion;
  else
    ss_lesion_options_init(&o);
  ss_plan dflt;
  if (plan == NULL) {
    ss_plan_init(&dflt);
    plan = &dflt;
  }
  ss_status st = check_options(&o, err);
  if (st != SS_OK)
    return st;
  const int threads = ss__threads(plan);
  ss_lesion_report *rep = calloc(1, sizeof *rep);
  if (rep == NULL)
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");

  box3 ub = { { 0, 0, 0 }, { -1, -1, -1 } };
  if (box != NULL) {
    if (box[3] >= box[0])
      ub = (box3){ { box[0], box[1], box[2] }, { box[3], box[4], box[5] } };
  }
  if (box != NULL ? ub.hi[0] < ub.lo[0]
                  : !union_box(g, pred, ref, ignore, threads, &ub)) {
    summarise(rep, plan);
    *out = rep;
    return SS_OK;
  }

  crop c = { 0 };
  comp_stat *ps = NULL, *rs = NULL;
  int32_t *rid = NULL;
  pair_map pairs = { 0 };
  match *acc = NULL;
  int64_t nacc = 0;
  st = build_crop(g, pred, ref, ignore, &o, threads, &ub, &c, err);
  if (st != SS_OK)
    goto done;
  ps = calloc((size_t)c.npl + 1, sizeof *ps);
  rs = calloc((size_t)c.nml + 1, sizeof *rs);
  rid = calloc((size_t)c.nml + 1, sizeof *rid);
  if (ps == NULL || rs == NULL || rid == NULL || !pair_grow(&pairs) ||
      !stats_pass(&c, ps, rs, &pairs)) {
    st = ss__fail(err, SS_ENOMEM, "lesions: out of memory");
    goto done;
  }
  st = build_lesions(g, &c, ps, rs, &o, rep, rid, err);
  if (st == SS_OK)
    st = match_lesions(&pairs, rid, &o, rep, &acc, &nacc, err);
  if (st == SS_OK)
    st = score_lesions(g, &c, ps, rs, rid, acc, nacc, plan, rep, err);
done:
  crop_free(&c);
  free(ps);
  free(rs);
  free(rid);
  free(pairs.slot);
  free(acc);
  if (st != SS_OK) {
    ss_lesion_report_free(rep);
    return st;
  }
  *out = rep;
  return SS_OK;
}

/* Bounding box of every label index of V in one pass (BOXES[k], lo > hi
 * when absent).  Runs of one label along x update a box once.  Threads
 * keep their own boxes, merged afterwards: min and max do not depend on
 * the order. */
static ss_status
label_boxes(const ss_volume *v, int threads, box3 **out, ss_error *err)
{
  const int64_t nx = v->info.nx, ny = v->info.ny, nz = v->info.nz;
  const int nl = v->nlabels > 0 ? v->nlabels : 1;
  const int nt = v->nvox >= SS_PAR_MIN_VOXELS ? threads : 1;
  box3 *all = malloc(sizeof *all * (size_t)nl * (size_t)(nt + 1));
  if (all == NULL)
    return ss__fail(err, SS_ENOMEM, "lesions: out of memory");
  for (size_t k = 0; k < (size_t)nl * (size_t)(nt + 1); k++)
    all[k] = (box3){ { INT64_MAX, INT64_MAX, INT64_MAX }, { -1, -1, -1 } };
#pragma omp parallel num_threads(nt) if(nt > 1)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    box3 *b = all + (size_t)nl * (size_t)(t + 1);
#pragma omp for schedule(static)
    for (int64_t z = 0; z < nz; z++)
      for (int64_t y = 0; y < ny; y++) {
        const int64_t row = nx * (y + ny * z);
        for (int64_t x = 0; x < nx;) {
          unsigned k = v->idx_width == 1
                           ? ((const uint8_t *)v->idx)[row + x]
                           : ((const uint16_t *)v->idx)[row + x];
          int64_t x1 = x;
          while (x1 + 1 < nx &&
                 (v->idx_width == 1
                      ? ((const uint8_t *)v->idx)[row + x1 + 1]
                      : ((const uint16_t *)v->idx)[row + x1 + 1]) == k)
            x1++;
          box3 *q = &b[k];
          q->lo[0] = x < q->lo[0] ? x : q->lo[0];
          q->hi[0] = x1 > q->hi[0] ? x1 : q->hi[0];
          q->lo[1] = y < q->lo[1] ? y : q->lo[1];
          q->hi[1] = y > q->hi[1] ? y : q->hi[1];
          q->lo[2] = z < q->lo[2] ? z : q->lo[2];
          q->hi[2] = z > q->hi[2] ? z : q->hi[2];
          x = x1 + 1;
        }
      }
  }
  for (int t = 1; t <= nt; t++)
    for (int k = 0; k < nl; k++)
      for (int a = 0; a < 3; a++) {
        const box3 *q = &all[(size_t)nl * (size_t)t + (size_t)k];
        box3 *d = &all[k];
        d->lo[a] = q->lo[a] < d->lo[a] ? q->lo[a] : d->lo[a];
        d->hi[a] = q->hi[a] > d->hi[a] ? q->hi[a] : d->hi[a];
      }
  *out = all;
  return SS_OK;
}

/* The class box from the label boxes of its members (x1 < x0: empty). */
static void
class_box(const box3 *pb, const uint8_t *pm, int np, const box3 *rb,
          const uint8_t *rm, int nr, int64_t out[6])
{
  box3 c = { { INT64_MAX, INT64_MAX, INT64_MAX }, { -1, -1, -1 } };
  for (int side = 0; side < 2; side++) {
    const box3 *b = side ? rb : pb;
    const uint8_t *m = side ? rm : pm;
    for (int k = 0; k < (side ? nr : np); k++) {
      if (!m[k] || b[k].hi[0] < 0)
        continue;
      for (int a = 0; a < 3; a++) {
        c.lo[a] = b[k].lo[a] < c.lo[a] ? b[k].lo[a] : c.lo[a];
        c.hi[a] = b[k].hi[a] > c.hi[a] ? b[k].hi[a] : c.hi[a];
      }
    }
  }
  for (int a = 0; a < 3; a++) {
    out[a] = c.hi[0] < 0 ? 0 : c.lo[a];
    out[3 + a] = c.hi[a];
  }
}

ss_status
ss__lesions_run(ss_report *rep, const ss_volume *p, const ss_volume *r,
                const ss_plan *plan, const uint8_t *pm, const uint8_t *rm,
                int ignore_r, ss_error *err)
{
  const size_t sp = (size_t)p->nlabels + 1, sr = (size_t)r->nlabels + 1;
  const int threads = ss__threads(plan);
  uint8_t *ig = NULL;
  box3 *pbox = NULL, *rbox = NULL;
  ss_status st = label_boxes(p, threads, &pbox, err);
  if (st == SS_OK)
    st = label_boxes(r, threads, &rbox, err);
  if (st == SS_OK && ignore_r >= 0) {
    if ((ig = calloc(sr, 1)) == NULL)
      st = ss__fail(err, SS_ENOMEM, "lesions: out of memory");
    else
      ig[ignore_r] = 1;
  }
  const ss__grid g = { r->info.nx, r->info.ny, r->info.nz,
                       { r->info.spacing_mm[0], r->info.spacing_mm[1],
                         r->info.spacing_mm[2] } };
  const ss__mask im = { r->idx, r->idx_width, ig };
  for (int i = 0; i < rep->nclasses && st == SS_OK; i++) {
    const ss__mask pmask = { p->idx, p->idx_width, pm + sp * (size_t)i };
    const ss__mask rmask = { r->idx, r->idx_width, rm + sr * (size_t)i };
    int64_t box[6];
    class_box(pbox, pmask.member, p->nlabels, rbox, rmask.member,
              r->nlabels, box);
    st = ss__lesions_class(&g, &pmask, &rmask, ig != NULL ? &im : NULL, box,
                           plan, &rep->classes[i].lesions, err);
  }
  free(ig);
  free(pbox);
  free(rbox);
  return st;
}
