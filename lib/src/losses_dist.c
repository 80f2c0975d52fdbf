/* losses_dist.c - the distance- and lesion-based losses:
 *   dpce               Caliva et al., MIDL 2019
 *   boundary_aware     Kim et al. (band around the reference boundary)
 *   boundary_kervadec  Kervadec et al., MIDL 2019
 *   hausdorff_dt       Karimi and Salcudean, IEEE TMI 2020
 *   lesion_compound    Zhu et al. 2022 (lesion-level + pixel-level)
 * Exact definitions, and how they differ from SegLoss and MONAI, are in
 * docs/losses.md.  Distances are in mm between voxel centres, from the
 * shared exact EDT (ss__edt_sq, anisotropic spacing).  A distance "inside"
 * a mask only needs the mask's bounding box plus one voxel (the nearest
 * outside voxel is a face neighbour of the mask), so inside fields are
 * computed on that box.  Floating sums are per fixed block of voxels,
 * combined in block order; lesion sums run serially in voxel order: the
 * results do not depend on the thread count.
 * SPDX-License-Identifier: MIT */
#include "internal.h"
#include "losses_internal.h"

#include <math.h>
#include <stdlib.h>

#define DBLOCK 65536

typedef struct {
  int64_t x0, y0, z0, x1, y1, z1;   /* inclusive; x0 > x1 when empty */
} box;

typedef struct {
  const ss__lctx *c;
  double sp[3];
  uint8_t *feat;       /* nvox scratch */
  double *edt;         /* nvox scratch */
  int nt;
} dctx;

static box
mask_box(const ss__lctx *c, const uint8_t *m)
{
  box b = { c->nx, c->ny, c->nz, -1, -1, -1 };
  for (int64_t z = 0; z < c->nz; z++)
    for (int64_t y = 0; y < c->ny; y++) {
      const uint8_t *row = m + (z * c->ny + y) * c->nx;
      int64_t lo = -1, hi = -1;
      for (int64_t x = 0; x < c->nx; x++)
        if (row[x]) {
          if (lo < 0)
            lo = x;
          hi = x;
        }
      if (lo < 0)
        continue;
      if (lo < b.x0) b.x0 = lo;
      if (hi > b.x1) b.x1 = hi;
      if (y < b.y0) b.y0 = y;
      if (y > b.y1) b.y1 = y;
      if (z < b.z0) b.z0 = z;
      if (z > b.z1) b.z1 = z;
    }
  return b;
}

/* Distances (mm) from the voxels of M (INSIDE) to the nearest voxel not in
 * M, or from the voxels not in M (!INSIDE) to the nearest voxel of M, into
 * DST at those voxels (other voxels untouched).  HUGE_VAL when there is no
 * such voxel.  *ANY is set when the field has a finite value somewhere. */
static ss_status
dist_field(dctx *d, const uint8_t *m, bool inside, double *dst, ss_error *err)
{
  const ss__lctx *c = d->c;
  box b;
  if (inside) {
    b = mask_box(c, m);
    if (b.x0 > b.x1)
      return SS_OK;                 /* empty mask: nothing inside */
    b.x0 = b.x0 > 0 ? b.x0 - 1 : 0;
    b.y0 = b.y0 > 0 ? b.y0 - 1 : 0;
    b.z0 = b.z0 > 0 ? b.z0 - 1 : 0;
    b.x1 = b.x1 + 1 < c->nx ? b.x1 + 1 : c->nx - 1;
    b.y1 = b.y1 + 1 < c->ny ? b.y1 + 1 : c->ny - 1;
    b.z1 = b.z1 + 1 < c->nz ? b.z1 + 1 : c->nz - 1;
  } else {
    b = (box){ 0, 0, 0, c->nx - 1, c->ny - 1, c->nz - 1 };
  }
  const int64_t bx = b.x1 - b.x0 + 1, by = b.y1 - b.y0 + 1,
                bz = b.z1 - b.z0 + 1;
  const int64_t nb = bx * by * bz;
  int nt = nb >= SS_PAR_MIN_VOXELS ? d->nt : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t z = 0; z < bz; z++)
    for (int64_t y = 0; y < by; y++) {
      const uint8_t *src = m + ((z + b.z0) * c->ny + (y + b.y0)) * c->nx + b.x0;
      uint8_t *f = d->feat + (z * by + y) * bx;
      for (int64_t x = 0; x < bx; x++)
        f[x] = inside ? !src[x] : src[x] != 0;
    }
  ss_status st = ss__edt_sq(d->feat, bx, by, bz, d->sp, d->edt, d->nt, err);
  if (st != SS_OK)
    return st;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t z = 0; z < bz; z++)
    for (int64_t y = 0; y < by; y++) {
      int64_t base = ((z + b.z0) * c->ny + (y + b.y0)) * c->nx + b.x0;
      const double *e = d->edt + (z * by + y) * bx;
      for (int64_t x = 0; x < bx; x++)
        if ((m[base + x] != 0) == inside)
          dst[base + x] = e[x] == HUGE_VAL ? HUGE_VAL : sqrt(e[x]);
    }
  return SS_OK;
}

static inline ss_metric
defm(double v)
{
  return (ss_metric){ v, SS_DEFINED };
}

static void
set_cls(ss_class_report *cr, ss_loss_id id, ss_metric m)
{
  cr->losses.have |= 1u << id;
  cr->losses.loss[id] = m;
}

static inline double
clampp(double p)
{
  return p < SS__EPS ? SS__EPS : p > 1.0 - SS__EPS ? 1.0 - SS__EPS : p;
}

/* dpce and boundary_aware: DSELF(i) = distance from voxel i to the nearest
 * voxel of another reference class (ignored voxels count as another
 * class); one inside field per channel present. */
static ss_status
self_distance(dctx *d, uint8_t *mask, double *dself, ss_error *err)
{
  const ss__lctx *c = d->c;
  const int64_t n = c->nvox;
  for (int64_t i = 0; i < n; i++)
    dself[i] = HUGE_VAL;
  for (int k = 0; k < c->K; k++) {
    int64_t cnt = 0;
#pragma omp parallel for num_threads(d->nt) schedule(static) reduction(+ : cnt)
    for (int64_t i = 0; i < n; i++) {
      mask[i] = ss__lref(c, i) == k;
      cnt += mask[i];
    }
    if (cnt == 0)
      continue;
    ss_status st = dist_field(d, mask, true, dself, err);
    if (st != SS_OK)
      return st;
  }
  return SS_OK;
}

ss_status
ss__losses_selfdist(const ss__lctx *c, const ss_volume *ref, double **out,
                    double *dmax, ss_error *err)
{
  const int64_t n = c->nvox;
  dctx d = { .c = c, .nt = c->nt };
  for (int a = 0; a < 3; a++)
    d.sp[a] = ref->info.spacing_mm[a] > 0 ? ref->info.spacing_mm[a] : 1.0;
  d.feat = malloc((size_t)n + 1);
  d.edt = malloc((size_t)n * sizeof *d.edt + 1);
  uint8_t *mask = malloc((size_t)n + 1);
  double *dself = malloc((size_t)n * sizeof *dself + 1);
  ss_status st = SS_OK;
  if (!d.feat || !d.edt || !mask || !dself)
    st = ss__fail(err, SS_ENOMEM, "out of memory for distance maps");
  else
    st = self_distance(&d, mask, dself, err);
  free(d.feat);
  free(d.edt);
  free(mask);
  if (st != SS_OK) {
    free(dself);
    *out = NULL;
    return st;
  }
  double m = 0.0;
  for (int64_t i = 0; i < n; i++)
    if (ss__lref(c, i) >= 0 && dself[i] != HUGE_VAL && dself[i] > m)
      m = dself[i];
  *dmax = m;
  *out = dself;
  return SS_OK;
}

/* Signed distance of mask M (negative inside, positive outside); an empty
 * or full mask gives a zero field (SegLoss compute_sdf, MONAI
 * HausdorffDTLoss). */
static ss_status
signed_field(dctx *d, const uint8_t *m, const double *din_given, double *phi,
             ss_error *err)
{
  const ss__lctx *c = d->c;
  const int64_t n = c->nvox;
  int64_t cnt = 0;
#pragma omp parallel for num_threads(d->nt) schedule(static) reduction(+ : cnt)
  for (int64_t i = 0; i < n; i++) {
    phi[i] = 0.0;
    cnt += m[i] != 0;
  }
  if (cnt == 0 || cnt == n)
    return SS_OK;
  ss_status st = dist_field(d, m, false, phi, err);
  if (st == SS_OK && din_given == NULL)
    st = dist_field(d, m, true, phi, err);
  if (st != SS_OK)
    return st;
#pragma omp parallel for num_threads(d->nt) schedule(static)
  for (int64_t i = 0; i < n; i++)
    if (m[i]) {
      double v = din_given != NULL ? din_given[i] : phi[i];
      phi[i] = v == HUGE_VAL ? 0.0 : -v;
    } else if (phi[i] == HUGE_VAL) {
      phi[i] = 0.0;
    }
  return SS_OK;
}

/* Per item: Kervadec's boundary loss and the Hausdorff DT loss. */
static ss_status
kervadec_hd(dctx *d, const ss_plan *plan, uint8_t *gm,
            uint8_t *pm, double *phig, double *phip, ss_report *r,
            double *scratch, ss_error *err)
{
  const ss__lctx *c = d->c;
  const int64_t n = c->nvox, nb = (n + DBLOCK - 1) / DBLOCK;
  const bool want_kv = c->want >> SS_LOSS_BOUNDARY_KERVADEC & 1u;
  const bool want_hd = c->want >> SS_LOSS_HAUSDORFF_DT & 1u;
  const double alpha = plan->loss.params[SS_LOSS_HAUSDORFF_DT][0];
  const double N = (double)c->nscored;
  double *acc = calloc((size_t)nb * 2, sizeof *acc);
  if (acc == NULL)
    return ss__fail(err, SS_ENOMEM, "out of memory for boundary losses");
  ss_status st = SS_OK;
  for (int s = 0; s < c->S && st == SS_OK; s++) {
    const uint8_t *mem = c->member + (size_t)s * c->K;
    bool single = c->moff[s + 1] - c->moff[s] == 1;
#pragma omp parallel for num_threads(c->nt) schedule(static) \
    if (n >= SS_PAR_MIN_VOXELS)
    for (int64_t i = 0; i < n; i++) {
      int t = ss__lref(c, i);
      gm[i] = t >= 0 && mem[t];
      if (want_hd)
        pm[i] = mem[c->hardch[i]];
    }
    /* a single-channel item's inside distances are DSELF at its voxels */
    st = signed_field(d, gm, single ? c->dself : NULL, phig, err);
    if (st == SS_OK && want_hd)
      st = signed_field(d, pm, NULL, phip, err);
    if (st != SS_OK)
      break;
#pragma omp parallel num_threads(c->nt) if (n >= SS_PAR_MIN_VOXELS)
    {
      int tid = 0;
#ifdef _OPENMP
      tid = omp_get_thread_num();
#endif
      double *pv = scratch + (size_t)tid * c->sstride;
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < nb; b++) {
        double kv = 0.0, hd = 0.0;
        int64_t i1 = (b + 1) * DBLOCK < n ? (b + 1) * DBLOCK : n;
        for (int64_t i = b * DBLOCK; i < i1; i++) {
          int t = ss__lref(c, i);
          if (t < 0)
            continue;
          double ps = ss__litem(c, s, i, pv);
          kv += phig[i] * ps;
          if (want_hd) {
            double e = ps - (double)gm[i];
            double dg = fabs(phig[i]), dp = fabs(phip[i]);
            double f = alpha == 2.0 ? dg * dg + dp * dp
                                    : pow(dg, alpha) + pow(dp, alpha);
            hd += e * e * f;
          }
        }
        acc[(size_t)b * 2] = kv;
        acc[(size_t)b * 2 + 1] = hd;
      }
    }
    double kv = 0.0, hd = 0.0;
    for (int64_t b = 0; b < nb; b++) {
      kv += acc[(size_t)b * 2];
      hd += acc[(size_t)b * 2 + 1];
    }
    ss_metric z = { 0.0, SS_ZERO_DENOMINATOR };
    if (want_kv)
      set_cls(&r->classes[s], SS_LOSS_BOUNDARY_KERVADEC,
              N > 0 ? defm(kv / N) : z);
    if (want_hd)
      set_cls(&r->classes[s], SS_LOSS_HAUSDORFF_DT, N > 0 ? defm(hd / N) : z);
  }
  free(acc);
  if (st == SS_OK && want_kv)
    ss__losses_case_mean(r, SS_LOSS_BOUNDARY_KERVADEC);
  if (st == SS_OK && want_hd)
    ss__losses_case_mean(r, SS_LOSS_HAUSDORFF_DT);
  return st;
}

static int
cmp_pair(const void *a, const void *b)
{
  const int32_t *x = a, *y = b;
  if (x[0] != y[0])
    return (x[0] > y[0]) - (x[0] < y[0]);
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Lesion + pixel compound: L = L_dice + lambda * L_lesion (docs). */
static ss_status
lesion_compound(dctx *d, const ss_plan *plan, uint8_t *gm, uint8_t *pm,
                int32_t *lr, int32_t *lpc, ss_report *r, double *scratch,
                ss_error *err)
{
  const ss__lctx *c = d->c;
  const int64_t n = c->nvox;
  const double lam = plan->loss.params[SS_LOSS_LESION_COMPOUND][0];
  const double snr = plan->smooth_nr, sdr = plan->smooth_dr;
  ss_status st = SS_OK;
  for (int s = 0; s < c->S && st == SS_OK; s++) {
    const uint8_t *mem = c->member + (size_t)s * c->K;
#pragma omp parallel for num_threads(c->nt) schedule(static) \
    if (n >= SS_PAR_MIN_VOXELS)
    for (int64_t i = 0; i < n; i++) {
      int t = ss__lref(c, i);
      gm[i] = t >= 0 && mem[t];
      /* predicted components on scored voxels only */
      pm[i] = t >= 0 && mem[c->hardch[i]];
    }
    int32_t nr = 0, np = 0;
    st = ss__components(gm, c->nx, c->ny, c->nz, 26, lr, &nr, d->nt, err);
    if (st == SS_OK)
      st = ss__components(pm, c->nx, c->ny, c->nz, 26, lpc, &np, d->nt, err);
    if (st != SS_OK)
      break;
    double *sumr = calloc((size_t)nr + 1, sizeof *sumr);
    double *cntr = calloc((size_t)nr + 1, sizeof *cntr);
    double *sumo = calloc((size_t)np + 1, sizeof *sumo);
    double *extra = calloc((size_t)nr + 1, sizeof *extra);
    uint8_t *touch = calloc((size_t)np + 1, 1);
    size_t npairs = 0, cap = 1024;
    int32_t (*pairs)[2] = malloc(cap * sizeof *pairs);
    /* the pixel-level Dice uses the fused pass's soft sums */
    const double P = c->item_p[s], TP = c->item_tp[s], G = c->item_g[s];
    if (!sumr || !cntr || !sumo || !extra || !touch || !pairs) {
      st = ss__fail(err, SS_ENOMEM, "out of memory for lesions");
    } else {
      double *pv = scratch;
      for (int64_t i = 0; i < n && st == SS_OK; i++) {
        if (lr[i] == 0 && lpc[i] == 0)
          continue;   /* both masks hold scored voxels only */
        double ps = ss__litem(c, s, i, pv);
        if (lr[i] > 0) {
          sumr[lr[i]] += ps;
          cntr[lr[i]] += 1.0;
          if (lpc[i] > 0 &&
              (npairs == 0 || pairs[npairs - 1][0] != lpc[i] ||
               pairs[npairs - 1][1] != lr[i])) {
            if (npairs == cap) {
              void *q = realloc(pairs, 2 * cap * sizeof *pairs);
              if (q == NULL) {
                st = ss__fail(err, SS_ENOMEM, "out of memory for lesions");
                break;
              }
              pairs = q;
              cap *= 2;
            }
            pairs[npairs][0] = lpc[i];
            pairs[npairs][1] = lr[i];
            npairs++;
          }
        } else if (lpc[i] > 0) {
          sumo[lpc[i]] += ps;
        }
      }
    }
    if (st == SS_OK) {
      qsort(pairs, npairs, sizeof *pairs, cmp_pair);
      size_t u = 0;
      for (size_t k = 0; k < npairs; k++)
        if (u == 0 || cmp_pair(pairs[u - 1], pairs[k]) != 0) {
          pairs[u][0] = pairs[k][0];
          pairs[u][1] = pairs[k][1];
          u++;
        }
      /* in (component, lesion) order: deterministic */
      for (size_t k = 0; k < u; k++) {
        extra[pairs[k][1]] += sumo[pairs[k][0]];
        touch[pairs[k][0]] = 1;
      }
      double sd = 0.0;
      for (int32_t j = 1; j <= nr; j++)
        sd += (2.0 * sumr[j] + snr) / (sumr[j] + cntr[j] + extra[j] + sdr);
      int32_t nfp = 0;
      for (int32_t k = 1; k <= np; k++)
        nfp += !touch[k];
      double llesion = nr + nfp > 0 ? 1.0 - sd / (double)(nr + nfp) : 0.0;
      double den = P + G + sdr;
      ss_metric v = den > 0 ? defm(1.0 - (2.0 * TP + snr) / den +
                                   lam * llesion)
                            : (ss_metric){ 0.0, SS_BOTH_EMPTY };
      set_cls(&r->classes[s], SS_LOSS_LESION_COMPOUND, v);
    }
    free(sumr);
    free(cntr);
    free(sumo);
    free(extra);
    free(touch);
    free(pairs);
  }
  if (st == SS_OK)
    ss__losses_case_mean(r, SS_LOSS_LESION_COMPOUND);
  return st;
}

ss_status
ss__losses_distance(const ss__lctx *c, const ss_volume *pred,
                    const ss_volume *ref, const ss_plan *plan, ss_report *r,
                    double *scratch, ss_error *err)
{
  (void)pred;
  /* dpce and boundary_aware were summed in the fused pass. */
  const bool kvhd = (c->want >> SS_LOSS_BOUNDARY_KERVADEC & 1u) ||
                    (c->want >> SS_LOSS_HAUSDORFF_DT & 1u);
  const bool lesions = c->want >> SS_LOSS_LESION_COMPOUND & 1u;
  if (!kvhd && !lesions)
    return SS_OK;
  const int64_t n = c->nvox;
  dctx d = { .c = c, .nt = c->nt };
  for (int a = 0; a < 3; a++)
    d.sp[a] = ref->info.spacing_mm[a] > 0 ? ref->info.spacing_mm[a] : 1.0;
  d.feat = malloc((size_t)n + 1);
  d.edt = malloc((size_t)n * sizeof *d.edt + 1);
  uint8_t *gm = malloc((size_t)n + 1), *pm = malloc((size_t)n + 1);
  double *phig = NULL, *phip = NULL;
  int32_t *lr = NULL, *lpc = NULL;
  ss_status st = SS_OK;
  if (!d.feat || !d.edt || !gm || !pm) {
    st = ss__fail(err, SS_ENOMEM, "out of memory for distance losses");
    goto done;
  }
  if (kvhd) {
    phig = malloc((size_t)n * sizeof *phig + 1);
    if ((c->want >> SS_LOSS_HAUSDORFF_DT) & 1u)
      phip = malloc((size_t)n * sizeof *phip + 1);
    if (!phig || ((c->want >> SS_LOSS_HAUSDORFF_DT & 1u) && !phip)) {
      st = ss__fail(err, SS_ENOMEM, "out of memory for distance losses");
      goto done;
    }
    st = kervadec_hd(&d, plan, gm, pm, phig, phip, r, scratch, err);
    free(phig);
    free(phip);
    phig = phip = NULL;
    if (st != SS_OK)
      goto done;
  }
  if (lesions) {
    lr = malloc((size_t)n * sizeof *lr + 1);
    lpc = malloc((size_t)n * sizeof *lpc + 1);
    if (!lr || !lpc) {
      st = ss__fail(err, SS_ENOMEM, "out of memory for lesions");
      goto done;
    }
    st = lesion_compound(&d, plan, gm, pm, lr, lpc, r, scratch, err);
  }
done:
  free(d.feat);
  free(d.edt);
  free(gm);
  free(pm);
  free(phig);
  free(phip);
  free(lr);
  free(lpc);
  return st;
}
