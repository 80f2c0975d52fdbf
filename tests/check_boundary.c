/* check_boundary.c - surface-distance metrics (boundary.c): hand-derived
 * cases in both surface modes, an independent brute-force O(n*m)
 * implementation on random masks, axis permutation with spacing, empty
 * and ignore rules, thread-count invariance.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "../lib/src/internal.h"

/*---- Test volumes ------------------------------------------------------*/

/* Pred and ref as uint8 index maps: pred 0/1; ref 0/1 and 2 = the ignore
 * label.  Member tables turn them into ss__mask views. */
static const uint8_t member_fg[3] = { 0, 1, 0 };
static const uint8_t member_ig[3] = { 0, 0, 1 };

typedef struct {
  int64_t nx, ny, nz;
  double sp[3];
  uint8_t *p, *r;
} tvol;

static tvol
tvol_new(int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz)
{
  tvol v = { nx, ny, nz, { sx, sy, sz }, NULL, NULL };
  v.p = calloc((size_t)(nx * ny * nz), 1);
  v.r = calloc((size_t)(nx * ny * nz), 1);
  ck_assert_ptr_nonnull(v.p);
  ck_assert_ptr_nonnull(v.r);
  return v;
}

static void
tvol_free(tvol *v)
{
  free(v->p);
  free(v->r);
}

static int64_t
at(const tvol *v, int64_t x, int64_t y, int64_t z)
{
  return (z * v->ny + y) * v->nx + x;
}

/* Set the box [x0,x1) x [y0,y1) x [z0,z1) of M to VAL. */
static void
box(const tvol *v, uint8_t *m, int64_t x0, int64_t x1, int64_t y0, int64_t y1,
    int64_t z0, int64_t z1, uint8_t val)
{
  for (int64_t z = z0; z < z1; z++)
    for (int64_t y = y0; y < y1; y++)
      for (int64_t x = x0; x < x1; x++)
        m[at(v, x, y, z)] = val;
}

/* When set, run() hands the kernel uint16 index maps (label tables of
 * more than 256 entries) instead of uint8 ones. */
static bool wide_maps;

static ss_status
run(const tvol *v, const ss_plan *plan, bool with_ignore, ss_boundary *b)
{
  ss__grid g = { v->nx, v->ny, v->nz, { v->sp[0], v->sp[1], v->sp[2] } };
  const int64_t n = v->nx * v->ny * v->nz;
  uint16_t *wp = NULL, *wr = NULL;
  const void *ip = v->p, *ir = v->r;
  if (wide_maps) {
    wp = malloc((size_t)n * sizeof *wp);
    wr = malloc((size_t)n * sizeof *wr);
    ck_assert_ptr_nonnull(wp);
    ck_assert_ptr_nonnull(wr);
    for (int64_t i = 0; i < n; i++) {
      wp[i] = v->p[i];
      wr[i] = v->r[i];
    }
    ip = wp;
    ir = wr;
  }
  const int w = wide_maps ? 2 : 1;
  ss__mask mp = { ip, w, member_fg }, mr = { ir, w, member_fg };
  ss__mask mi = { ir, w, member_ig };
  ss_error err = { 0 };
  ss_status st = ss__boundary_class(&g, &mp, &mr, with_ignore ? &mi : NULL,
                                    plan, b, &err);
  free(wp);
  free(wr);
  return st;
}

static void
plan_with(ss_plan *plan, ss_surface_mode mode, int np, const double *pct,
          int nt, const double *tol)
{
  ss_plan_init(plan);
  plan->threads = 1;
  plan->surface = mode;
  plan->npercentiles = np;
  for (int k = 0; k < np; k++)
    plan->percentiles[k] = pct[k];
  plan->ntolerances = nt;
  for (int t = 0; t < nt; t++)
    plan->nsd_tolerances_mm[t] = tol[t];
}

#define ck_metric(m, v)                                                        \
  do {                                                                         \
    ck_assert_int_eq((m).why, SS_DEFINED);                                     \
    ck_assert_double_eq_tol((m).value, (v), 1e-9);                             \
  } while (0)

/*---- Brute force (independent of boundary.c but for the area table) ----*/

typedef struct {
  double x, y, z, w;
} bf_el;

typedef struct {
  double d, w;
} bf_dw;

/* Surface elements of M by definition, on the whole volume: voxel mode,
 * voxels with a 6- (4- in 2-D) neighbour outside M or outside the volume;
 * surfel mode, dual vertices (i, j, k) in [0, n] whose 2x2(x2) voxels
 * (i-1..i, ...) are neither all in nor all out of M.  Elements touching an
 * ignored voxel are dropped. */
static int64_t
bf_surface(const tvol *v, const uint8_t *m, bool surfel, bool ignore,
           bf_el *out)
{
  const bool two_d = v->nz == 1;
  int64_t n = 0;
#define IN(x, y, z)                                                            \
  ((x) >= 0 && (y) >= 0 && (z) >= 0 && (x) < v->nx && (y) < v->ny              \
   && (z) < v->nz && m[at(v, x, y, z)] == 1)
#define IGN(x, y, z)                                                           \
  (ignore && (x) >= 0 && (y) >= 0 && (z) >= 0 && (x) < v->nx && (y) < v->ny    \
   && (z) < v->nz && v->r[at(v, x, y, z)] == 2)
  if (!surfel) {
    for (int64_t z = 0; z < v->nz; z++)
      for (int64_t y = 0; y < v->ny; y++)
        for (int64_t x = 0; x < v->nx; x++) {
          if (!IN(x, y, z) || IGN(x, y, z))
            continue;
          bool edge = !IN(x - 1, y, z) || !IN(x + 1, y, z) || !IN(x, y - 1, z)
                      || !IN(x, y + 1, z);
          if (!two_d)
            edge = edge || !IN(x, y, z - 1) || !IN(x, y, z + 1);
          if (edge)
            out[n++] = (bf_el){ x * v->sp[0], y * v->sp[1], z * v->sp[2], 1 };
        }
    return n;
  }
  const int64_t kz = two_d ? 1 : v->nz + 1;
  const int ncorner = two_d ? 4 : 8;
  for (int64_t k = 0; k < kz; k++)
    for (int64_t j = 0; j <= v->ny; j++)
      for (int64_t i = 0; i <= v->nx; i++) {
        int code = 0, ign = 0;
        for (int c = 0; c < ncorner; c++) {
          const int64_t x = i - 1 + (c & 1), y = j - 1 + ((c >> 1) & 1),
                        z = two_d ? 0 : k - 1 + ((c >> 2) & 1);
          code |= IN(x, y, z) << c;
          ign |= IGN(x, y, z);
        }
        if (code == 0 || code == (1 << ncorner) - 1 || ign)
          continue;
        out[n++] = (bf_el){ i * v->sp[0], j * v->sp[1], k * v->sp[2],
                            ss__surfel_weight(code, v->sp, two_d) };
      }
#undef IN
#undef IGN
  return n;
}

static int
cmp_dw(const void *a, const void *b)
{
  const double x = ((const bf_dw *)a)->d, y = ((const bf_dw *)b)->d;
  return (x > y) - (x < y);
}

typedef struct {
  double max, mean, sum_wd, sum_w, pct[SS_MAX_PERCENTILES],
      within[SS_MAX_TOLERANCES];
} bf_dir;

/* Directed distances A -> B by exhaustive search, then a full sort:
 * weighted percentile = first sorted distance whose cumulative weight
 * reaches p/100 of the total (DeepMind); unweighted = numpy "linear". */
static void
bf_directed(const bf_el *a, int64_t na, const bf_el *b, int64_t nb,
            const ss_plan *plan, bool surfel, bf_dir *o)
{
  bf_dw *d = malloc((size_t)na * sizeof *d);
  memset(o, 0, sizeof *o);
  for (int64_t i = 0; i < na; i++) {
    double best = HUGE_VAL;
    for (int64_t j = 0; j < nb; j++) {
      const double dx = a[i].x - b[j].x, dy = a[i].y - b[j].y,
                   dz = a[i].z - b[j].z;
      const double s = dx * dx + dy * dy + dz * dz;
      best = s < best ? s : best;
    }
    d[i] = (bf_dw){ sqrt(best), a[i].w };
    o->sum_wd += d[i].w * d[i].d;
    o->sum_w += d[i].w;
    for (int t = 0; t < plan->ntolerances; t++)
      if (d[i].d <= plan->nsd_tolerances_mm[t])
        o->within[t] += d[i].w;
  }
  qsort(d, (size_t)na, sizeof *d, cmp_dw);
  o->max = d[na - 1].d;
  o->mean = o->sum_wd / o->sum_w;
  for (int k = 0; k < plan->npercentiles; k++) {
    const double p = plan->percentiles[k];
    if (surfel) {
      double cum = 0;
      int64_t i = 0;
      for (; i < na; i++) {
        cum += d[i].w; /* same 1e-11 relative slack as boundary.c */
        if (cum >= p / 100.0 * o->sum_w - 1e-11 * o->sum_w)
          break;
      }
      o->pct[k] = d[i < na ? i : na - 1].d;
    } else {
      const double pos = (double)(na - 1) * (p / 100.0);
      const int64_t lo = (int64_t)floor(pos);
      const int64_t hi = lo + 1 < na ? lo + 1 : lo;
      o->pct[k] = d[lo].d + (d[hi].d - d[lo].d) * (pos - (double)lo);
    }
  }
  free(d);
}

/* Compare the fast path with the brute force on V; both surfaces must be
 * non-empty. */
static void
check_brute(const tvol *v, const ss_plan *plan, bool ignore)
{
  const bool surfel = plan->surface == SS_SURFACE_SURFEL;
  const int64_t cap = (v->nx + 1) * (v->ny + 1) * (v->nz + 1);
  bf_el *ep = malloc((size_t)cap * sizeof *ep),
        *er = malloc((size_t)cap * sizeof *er);
  const int64_t np = bf_surface(v, v->p, surfel, ignore, ep);
  const int64_t nr = bf_surface(v, v->r, surfel, ignore, er);
  ss_boundary b;
  ck_assert_int_eq(run(v, plan, ignore, &b), SS_OK);
  if (np == 0 || nr == 0) {
    ck_assert_int_ne(b.hd.why, SS_DEFINED);
    free(ep);
    free(er);
    return;
  }
  bf_dir pr, rp;
  bf_directed(ep, np, er, nr, plan, surfel, &pr);
  bf_directed(er, nr, ep, np, plan, surfel, &rp);
  ck_metric(b.hd_pred_to_ref, pr.max);
  ck_metric(b.hd_ref_to_pred, rp.max);
  ck_metric(b.hd, fmax(pr.max, rp.max));
  for (int k = 0; k < plan->npercentiles; k++) {
    ck_metric(b.hdp_pred_to_ref[k], pr.pct[k]);
    ck_metric(b.hdp_ref_to_pred[k], rp.pct[k]);
    ck_metric(b.hdp[k], fmax(pr.pct[k], rp.pct[k]));
  }
  ck_metric(b.asd_pred_to_ref, pr.mean);
  ck_metric(b.asd_ref_to_pred, rp.mean);
  ck_metric(b.masd, 0.5 * (pr.mean + rp.mean));
  ck_metric(b.assd, (pr.sum_wd + rp.sum_wd) / (pr.sum_w + rp.sum_w));
  for (int t = 0; t < plan->ntolerances; t++)
    ck_metric(b.nsd[t], (pr.within[t] + rp.within[t]) / (pr.sum_w + rp.sum_w));
  free(ep);
  free(er);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static double
rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Random blobs: a few balls plus salt noise, so every neighbourhood code
 * (ambiguous faces included) occurs. */
static void
random_mask(const tvol *v, uint8_t *m, double noise)
{
  double c[3][4];
  for (int b = 0; b < 3; b++) {
    c[b][0] = rnd() * (double)v->nx;
    c[b][1] = rnd() * (double)v->ny;
    c[b][2] = rnd() * (double)v->nz;
    c[b][3] = 1 + rnd() * 3;
  }
  for (int64_t z = 0; z < v->nz; z++)
    for (int64_t y = 0; y < v->ny; y++)
      for (int64_t x = 0; x < v->nx; x++) {
        int in = rnd() < noise;
        for (int b = 0; b < 3; b++) {
          const double dx = x - c[b][0], dy = y - c[b][1], dz = z - c[b][2];
          in |= dx * dx + dy * dy + dz * dz <= c[b][3] * c[b][3];
        }
        if (in)
          m[at(v, x, y, z)] = 1;
      }
}

/*---- Surfel weights ----------------------------------------------------*/

START_TEST(test_surfel_weight_hand_values)
{
  /* Spacing (sx, sy, sz) = (0.5, 1.25, 2).  Single corner 0: triangle
   * (sx/2,0,0), (0,sy/2,0), (0,0,sz/2); area = |u x v|/2 with u, v two
   * sides = (1/8) sqrt(sy^2 sz^2 + sx^2 sz^2 + sx^2 sy^2)
   * = (1/8) sqrt(6.25 + 1 + 0.390625) = 0.345520...  */
  const double sp[3] = { 0.5, 1.25, 2.0 };
  const double tri = sqrt(6.25 + 1.0 + 0.390625) / 8;
  for (int c = 0; c < 8; c++) /* every single corner: same triangle */
    ck_assert_double_eq_tol(ss__surfel_weight(1 << c, sp, false), tri, 1e-12);
  /* Corners 0 and 1 (along x): rectangle sx by the distance between the
   * y- and z-edge midpoints, |(0, sy/2, -sz/2)| = sqrt(0.390625 + 1). */
  ck_assert_double_eq_tol(ss__surfel_weight(0x03, sp, false),
                          0.5 * sqrt(0.390625 + 1.0), 1e-12);
  /* The lower face z = 0 (corners 0-3): a flat sx * sy square. */
  ck_assert_double_eq_tol(ss__surfel_weight(0x0f, sp, false), 0.625, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0xf0, sp, false), 0.625, 1e-12);
  /* Corners 0 and 7 (body diagonal): two separate triangles. */
  ck_assert_double_eq_tol(ss__surfel_weight(0x81, sp, false), 2 * tri, 1e-12);
  ck_assert_double_eq(ss__surfel_weight(0, sp, false), 0.0);
  ck_assert_double_eq(ss__surfel_weight(255, sp, false), 0.0);
  /* 2-D: a corner cuts (sx/2, 0)-(0, sy/2): sqrt(0.0625 + 0.390625); two
   * adjacent corners along x give a straight segment of length sx; the
   * diagonal codes 6 and 9 cut off both inside corners. */
  const double cut = sqrt(0.0625 + 0.390625);
  ck_assert_double_eq_tol(ss__surfel_weight(1, sp, true), cut, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(3, sp, true), 0.5, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(5, sp, true), 1.25, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(6, sp, true), 2 * cut, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(9, sp, true), 2 * cut, 1e-12);
  ck_assert_double_eq(ss__surfel_weight(15, sp, true), 0.0);
}
END_TEST

START_TEST(test_surfel_weight_marching_cubes_cases)
{
  /* The non-planar and complement cases of the marching-cubes table, by
   * hand.  Spacing (sx, sy, sz) = (0.5, 1.25, 2); T = the single-corner
   * triangle = (1/8) sqrt(sy^2 sz^2 + sx^2 sz^2 + sx^2 sy^2) (above).
   * A flat polygon's area is half the norm of the cross product of its
   * diagonals (quads) or of two sides (triangles), scaled coordinates. */
  const double sp[3] = { 0.5, 1.25, 2.0 };
  const double tri = sqrt(6.25 + 1.0 + 0.390625) / 8;
  /* Case 5, corners 0, 1, 2 (the face z = 0 less corner 3): the pentagon
   * through the edge midpoints 04 (0,0,sz/2), 15 (sx,0,sz/2), 26
   * (0,sy,sz/2), 13 (sx,sy/2,0), 23 (sx/2,sy,0) is split into the
   * triangle 04-15-26 in the plane z = sz/2, legs sx and sy: sx sy / 2 =
   * 0.3125; and the flat quad 15-13-23-26, diagonals 15->23 = (-sx/2, sy,
   * -sz/2) and 13->26 = (-sx, sy/2, sz/2): cross = (3/4)(sy sz, sx sz,
   * sx sy), so the quad is 3 T.  At 1 mm: 0.5 + 3 sqrt(3)/8 = 1.1495. */
  const double pent = 0.3125 + 3 * tri;
  ck_assert_double_eq_tol(ss__surfel_weight(0x07, sp, false), pent, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0xf8, sp, false), pent, 1e-12);
  const double one[3] = { 1, 1, 1 };
  ck_assert_double_eq_tol(ss__surfel_weight(0x07, one, false),
                          0.5 + 3 * sqrt(3.0) / 8, 1e-12);
  /* Case 9, corner 0 with its neighbours 1, 2, 4: a flat hexagon, the
   * corner triangle cut at 3/2 of each edge (legs 3x those of T: 9 T)
   * less the three T-sized triangles beyond corners 1, 2, 4: 6 T. */
  ck_assert_double_eq_tol(ss__surfel_weight(0x17, sp, false), 6 * tri, 1e-12);
  /* Case 11, the path 0-x-1-y-3-z-7: a skew hexagon 02, 04, 15, 57, 67,
   * 23, split into the triangle 02-15-67 of every other vertex and three
   * ears.  02 = (0,sy/2,0), 15 = (sx,0,sz/2), 67 = (sx/2,sy,sz): sides
   * (sx,-sy/2,sz/2), (sx/2,sy/2,sz), cross = (3/4)(-sy sz, -sx sz, sx sy):
   * 3 T.  Ear 02-04-15: sides (0,-sy/2,sz/2), (sx,-sy/2,sz/2), cross =
   * (0, sx sz/2, sx sy/2): (sx/4) sqrt(sy^2 + sz^2).  Ear 15-57-67: T.
   * Ear 67-23-02: sides (0,0,-sz), (-sx/2,-sy/2,-sz), cross = (-sy sz/2,
   * sx sz/2, 0): (sz/4) sqrt(sx^2 + sy^2).  At 1 mm: 1.5731. */
  const double skew
      = 4 * tri + 0.125 * sqrt(1.5625 + 4.0) + 0.5 * sqrt(0.25 + 1.5625);
  ck_assert_double_eq_tol(ss__surfel_weight(0x8b, sp, false), skew, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0x74, sp, false), skew, 1e-12);
  /* Diagonal cases.  Corners 0 and 3 (face diagonal) and their
   * complement 0xf6: the two minority corners are cut off separately,
   * whichever side is inside, 2 T.  Case 7 (corners 1, 2, 4): 3 T; case
   * 13 (0, 3, 5, 6): 4 T.  Case 10, the x-edges 0-1 and 6-7: two
   * rectangles sx by |(0, sy/2, sz/2)|, sx sqrt(sy^2 + sz^2); the
   * complement (x-edges 2-3 and 4-5) is the same shape. */
  ck_assert_double_eq_tol(ss__surfel_weight(0x09, sp, false), 2 * tri, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0xf6, sp, false), 2 * tri, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0x16, sp, false), 3 * tri, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0x69, sp, false), 4 * tri, 1e-12);
  const double bars = 0.5 * sqrt(1.5625 + 4.0);
  ck_assert_double_eq_tol(ss__surfel_weight(0xc3, sp, false), bars, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0x3c, sp, false), bars, 1e-12);
  /* Case 6, the x-edge 0-1 and corner 7: its rectangle (above) + T;
   * case 12, case 5 and corner 7: pentagon + T. */
  ck_assert_double_eq_tol(ss__surfel_weight(0x83, sp, false),
                          0.5 * sqrt(0.390625 + 1.0) + tri, 1e-12);
  ck_assert_double_eq_tol(ss__surfel_weight(0x87, sp, false), pent + tri,
                          1e-12);
}
END_TEST

/* Image of CODE under the cube symmetry that sends axis a to axis
 * perm[a] and then reflects the axes in FLIP. */
static int
code_image(int code, const int perm[3], int flip)
{
  int out = 0;
  for (int b = 0; b < 8; b++)
    if (code >> b & 1) {
      int nb = 0;
      for (int a = 0; a < 3; a++)
        nb |= (((b >> a) & 1) ^ ((flip >> perm[a]) & 1)) << perm[a];
      out |= 1 << nb;
    }
  return out;
}

START_TEST(test_surfel_weight_symmetries)
{
  /* Relabelling the cube axes together with the spacing, or reflecting
   * them, maps each code to a code of the same area (all 48 symmetries);
   * the complement of a code has the same surface. */
  const double sp[3] = { 0.6, 1.1, 2.7 };
  static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                   { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
  for (int q = 0; q < 6; q++) {
    double sq[3];
    for (int a = 0; a < 3; a++)
      sq[perms[q][a]] = sp[a];
    for (int flip = 0; flip < 8; flip++)
      for (int c = 1; c < 255; c++) {
        const double w = ss__surfel_weight(c, sp, false);
        const int c2 = code_image(c, perms[q], flip);
        ck_assert_double_eq_tol(ss__surfel_weight(c2, sq, false), w, 1e-12 * w);
      }
  }
  for (int c = 1; c < 255; c++) {
    const double w = ss__surfel_weight(c, sp, false);
    ck_assert_double_gt(w, 0);
    ck_assert_double_eq_tol(ss__surfel_weight(c ^ 255, sp, false), w,
                            1e-12 * w);
  }
  for (int c = 1; c < 15; c++)
    ck_assert_double_eq_tol(ss__surfel_weight(c ^ 15, sp, true),
                            ss__surfel_weight(c, sp, true), 1e-12);
}
END_TEST

START_TEST(test_surfel_weights_table_is_bit_identical)
{
  /* The per-class table and the per-code function give the same bits. */
  const double sp[2][3] = { { 0.6, 1.1, 2.7 }, { 3.0, 0.4, 0.9 } };
  for (int i = 0; i < 2; i++)
    for (int two_d = 0; two_d < 2; two_d++) {
      double wt[256];
      ss__surfel_weights(sp[i], two_d, wt);
      for (int c = 0; c < 256; c++)
        ck_assert(wt[c] == ss__surfel_weight(c, sp[i], two_d));
    }
}
END_TEST

/*---- Hand-derived cases ------------------------------------------------*/

START_TEST(test_single_voxels_anisotropic_voxel_mode)
{
  /* Pred voxel (2,2,2), ref voxel (5,2,2), spacing (0.5, 1, 2): each
   * surface is its one voxel, 3 voxels apart in x: 1.5 mm everywhere.
   * NSD(1 mm) = 0, NSD(1.5 mm) = 1 (d <= tau counts). */
  tvol v = tvol_new(8, 5, 5, 0.5, 1, 2);
  v.p[at(&v, 2, 2, 2)] = 1;
  v.r[at(&v, 5, 2, 2)] = 1;
  ss_plan plan;
  const double pct[2] = { 95, 10 }, tol[2] = { 1, 1.5 };
  plan_with(&plan, SS_SURFACE_VOXEL, 2, pct, 2, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 1.5);
  ck_metric(b.hd_pred_to_ref, 1.5);
  ck_metric(b.hdp[0], 1.5);
  ck_metric(b.hdp[1], 1.5);
  ck_metric(b.assd, 1.5);
  ck_metric(b.masd, 1.5);
  ck_metric(b.nsd[0], 0.0);
  ck_metric(b.nsd[1], 1.0);
  tvol_free(&v);
}
END_TEST

START_TEST(test_single_voxels_anisotropic_surfel_mode)
{
  /* Same voxels.  Each single voxel has 8 surfels, at the dual vertices
   * x in {2,3} (pred) and {5,6} (ref), all single-corner codes of one
   * area.  Pred vertex x=3 is 2 voxels = 1.0 mm from ref vertex x=5,
   * x=2 is 1.5 mm (same y, z).  Directed: half the area at 1.0, half at
   * 1.5: HD = 1.5, ASD = 1.25, HD95 = 1.5, HD40 = 1.0 (cumulative 0.5 >=
   * 0.4); NSD(1) = 0.5, NSD(1.5) = 1.  Symmetric for ref -> pred. */
  tvol v = tvol_new(8, 5, 5, 0.5, 1, 2);
  v.p[at(&v, 2, 2, 2)] = 1;
  v.r[at(&v, 5, 2, 2)] = 1;
  ss_plan plan;
  const double pct[2] = { 95, 40 }, tol[2] = { 1, 1.5 };
  plan_with(&plan, SS_SURFACE_SURFEL, 2, pct, 2, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 1.5);
  ck_metric(b.hd_ref_to_pred, 1.5);
  ck_metric(b.hdp[0], 1.5);
  ck_metric(b.hdp[1], 1.0);
  ck_metric(b.hdp_pred_to_ref[1], 1.0);
  ck_metric(b.asd_pred_to_ref, 1.25);
  ck_metric(b.asd_ref_to_pred, 1.25);
  ck_metric(b.assd, 1.25);
  ck_metric(b.nsd[0], 0.5);
  ck_metric(b.nsd[1], 1.0);
  tvol_free(&v);
}
END_TEST

START_TEST(test_parallel_plates_both_modes)
{
  /* One-voxel plates z = 2 (pred) and z = 5 (ref), full 8x8 in x, y,
   * spacing (0.7, 0.9, 1.5).  Voxel mode: every plate voxel is boundary;
   * each is 3 * 1.5 = 4.5 mm from the voxel above.  Surfel mode: the
   * plate's surfels sit at dual z = 2 and 3 (pred), 5 and 6 (ref), the two
   * layers mirror images with equal areas; nearest ref vertex straight up:
   * z=3 -> 5 is 3.0 mm, z=2 -> 5 is 4.5 mm.  So HD = 4.5, ASD = 3.75,
   * NSD(3) = 0.5, HD95 = 4.5, HD40 = 3.0. */
  tvol v = tvol_new(8, 8, 9, 0.7, 0.9, 1.5);
  box(&v, v.p, 0, 8, 0, 8, 2, 3, 1);
  box(&v, v.r, 0, 8, 0, 8, 5, 6, 1);
  ss_plan plan;
  const double pct[2] = { 95, 40 }, tol[2] = { 3, 4.5 };
  ss_boundary b;
  plan_with(&plan, SS_SURFACE_VOXEL, 2, pct, 2, tol);
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 4.5);
  ck_metric(b.hdp[1], 4.5);
  ck_metric(b.assd, 4.5);
  ck_metric(b.nsd[0], 0.0);
  ck_metric(b.nsd[1], 1.0);
  plan_with(&plan, SS_SURFACE_SURFEL, 2, pct, 2, tol);
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 4.5);
  ck_metric(b.hdp[0], 4.5);
  ck_metric(b.hdp[1], 3.0);
  ck_metric(b.asd_pred_to_ref, 3.75);
  ck_metric(b.assd, 3.75);
  ck_metric(b.masd, 3.75);
  ck_metric(b.nsd[0], 0.5);
  ck_metric(b.nsd[1], 1.0);
  tvol_free(&v);
}
END_TEST

START_TEST(test_shifted_cubes_voxel_mode)
{
  /* Pred cube [2,6)^3, ref the same shifted +2 voxels in x, spacing
   * (0.5, 1, 1).  Pred boundary voxels (56), distance to the ref surface:
   * x=2 face: 16 at (4-2)*0.5 = 1.0; x=3 ring: 12 at 0.5; x=4 ring: 12 on
   * the ref x=4 face, 0; x=5 face: 12 on ref y/z faces (0) and 4 inside
   * ref 0.5 from its x=4 face.  Sorted: 24 x 0, 16 x 0.5, 16 x 1.0; the
   * same for ref -> pred by symmetry.
   * ASD = (16*0.5 + 16*1)/56 = 3/7.  HD = 1.  Linear percentiles:
   * p=95: pos 52.25 -> 1.0; p=42: pos 23.1 -> 0 + 0.5*0.1 = 0.05;
   * p=50: pos 27.5 -> 0.5.  NSD(0.4) = 24/56, NSD(0.5) = 40/56. */
  tvol v = tvol_new(10, 8, 8, 0.5, 1, 1);
  box(&v, v.p, 2, 6, 2, 6, 2, 6, 1);
  box(&v, v.r, 4, 8, 2, 6, 2, 6, 1);
  ss_plan plan;
  const double pct[3] = { 95, 42, 50 }, tol[2] = { 0.4, 0.5 };
  plan_with(&plan, SS_SURFACE_VOXEL, 3, pct, 2, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 1.0);
  ck_metric(b.hdp[0], 1.0);
  ck_metric(b.hdp[1], 0.05);
  ck_metric(b.hdp[2], 0.5);
  ck_metric(b.asd_pred_to_ref, 3.0 / 7);
  ck_metric(b.assd, 3.0 / 7);
  ck_metric(b.masd, 3.0 / 7);
  ck_metric(b.nsd[0], 24.0 / 56);
  ck_metric(b.nsd[1], 40.0 / 56);
  tvol_free(&v);
}
END_TEST

START_TEST(test_shifted_cubes_surfel_mode)
{
  /* Pred cube [2,6)^3, ref shifted +2 in x, 1 mm isotropic.  The pred
   * surfels are the 98 dual vertices on the faces of the vertex box
   * [2,6]^3: 54 face-type (area f = 1), 36 edge-type (two corners, area
   * e = sqrt(2)/2), 8 corner-type (c = sqrt(3)/8).  Nearest ref surfel
   * (the box [4,8]x[2,6]^2):
   *   x=2 face (9f + 12e + 4c): 2;  x=3 ring (12f + 4e): 1;
   *   x=4, x=5 rings (12f + 4e each): 0;
   *   x=6 face: ring (12e + 4c) 0, interior 3x3: centre 2, the other 8: 1.
   * W = 54 + 36e + 8c; sum a*d = 2(9+12e+4c) + (12+4e) + 2 + 8
   *   = 40 + 28e + 8c; ASD = that / W, the same both ways.  HD = 2.
   * Weight at d = 2: 10 + 12e + 4c, so the CDF before 2 is
   * (44 + 24e + 4c)/W = 0.762 < 0.95: HD95 = 2; NSD(1) = 0.762.
   * Weight at d = 0: 24 + 8e (0.365 of W): HD30 = 0, HD50 = 1. */
  tvol v = tvol_new(10, 8, 8, 1, 1, 1);
  box(&v, v.p, 2, 6, 2, 6, 2, 6, 1);
  box(&v, v.r, 4, 8, 2, 6, 2, 6, 1);
  ss_plan plan;
  const double pct[3] = { 95, 30, 50 }, tol[1] = { 1 };
  plan_with(&plan, SS_SURFACE_SURFEL, 3, pct, 1, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  const double e = sqrt(2) / 2, c = sqrt(3) / 8, w = 54 + 36 * e + 8 * c;
  ck_metric(b.hd, 2.0);
  ck_metric(b.hdp[0], 2.0);
  ck_metric(b.hdp[1], 0.0);
  ck_metric(b.hdp[2], 1.0);
  ck_metric(b.asd_pred_to_ref, (40 + 28 * e + 8 * c) / w);
  ck_metric(b.asd_ref_to_pred, (40 + 28 * e + 8 * c) / w);
  ck_metric(b.assd, (40 + 28 * e + 8 * c) / w);
  ck_metric(b.nsd[0], (44 + 24 * e + 4 * c) / w);
  tvol_free(&v);
}
END_TEST

/* Balls of radius R1 and R2 mm around the same centre on an anisotropic
 * grid: every distance is R2 - R1 up to the sampling, so HD, HD95 and
 * ASSD lie within one largest spacing (+ half a diagonal for surfels). */
static void
balls(ss_surface_mode mode)
{
  tvol v = tvol_new(48, 24, 12, 0.5, 1.0, 2.0);
  const double r1 = 6, r2 = 9, cx = 12, cy = 12, cz = 12;
  for (int64_t z = 0; z < v.nz; z++)
    for (int64_t y = 0; y < v.ny; y++)
      for (int64_t x = 0; x < v.nx; x++) {
        const double dx = (x + 0.5) * 0.5 - cx, dy = (y + 0.5) - cy,
                     dz = (z + 0.5) * 2 - cz;
        const double d = sqrt(dx * dx + dy * dy + dz * dz);
        v.p[at(&v, x, y, z)] = d <= r1;
        v.r[at(&v, x, y, z)] = d <= r2;
      }
  ss_plan plan;
  const double pct[1] = { 95 }, tol[2] = { 1, 5 };
  plan_with(&plan, mode, 1, pct, 2, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  const double slack = 2.0 + (mode == SS_SURFACE_SURFEL ? 1.2 : 0);
  ck_assert_double_le(fabs(b.hd.value - 3), slack);
  ck_assert_double_le(fabs(b.hdp[0].value - 3), slack);
  ck_assert_double_le(fabs(b.assd.value - 3), 1.0);
  ck_assert_double_le(b.nsd[0].value, 0.5);  /* 3 mm apart: few within 1 */
  ck_assert_double_ge(b.nsd[1].value, 0.99); /* all within 5 */
  tvol_free(&v);
}

START_TEST(test_balls_voxel_mode_within_sampling)
{
  balls(SS_SURFACE_VOXEL);
}
END_TEST

START_TEST(test_balls_surfel_mode_within_sampling)
{
  balls(SS_SURFACE_SURFEL);
}
END_TEST

START_TEST(test_two_d_contours)
{
  /* nz = 1: squares [1,4)^2 (pred) and [1,5)x[1,4) (ref), spacing
   * (0.5, 2).  Voxel mode (4-neighbour erosion): pred boundary = the 8
   * ring voxels; ref ring = 10 voxels.  pred -> ref: pred column x=3 is 1
   * voxel (0.5 mm) from ref column x=4 where not on ref's y-rows: (3,2)
   * -> 0.5; the others lie on the ref ring: 0.  So 7 x 0 and 1 x 0.5.
   * ref -> pred: ref column x=4 (3 voxels): (4,1),(4,3) -> 0.5 to (3,1),
   * (3,3); (4,2) -> 0.5 to (3,2); (3,2) is not on the ref ring; all other
   * ref ring voxels lie on the pred ring: 7 x 0, 3 x 0.5.
   * HD = 0.5; ASSD = (0.5 + 1.5)/18 = 1/9; MASD = (0.5/8 + 1.5/10)/2. */
  tvol v = tvol_new(7, 6, 1, 0.5, 2, 3);
  box(&v, v.p, 1, 4, 1, 4, 0, 1, 1);
  box(&v, v.r, 1, 5, 1, 4, 0, 1, 1);
  ss_plan plan;
  const double pct[1] = { 95 }, tol[1] = { 0.25 };
  plan_with(&plan, SS_SURFACE_VOXEL, 1, pct, 1, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 0.5);
  ck_metric(b.assd, 1.0 / 9);
  ck_metric(b.masd, 0.5 * (0.5 / 8 + 1.5 / 10));
  ck_metric(b.nsd[0], 14.0 / 18);
  /* Surfel mode: contours on the dual grid, x in [1,4] (pred), [1,5]
   * (ref), y in [1,4].  Pred contour vertices off the ref contour: the
   * x=4 column (4,2),(4,3) -> 1 vertex = 0.5 mm to (5,y); corners
   * (4,1),(4,4) lie on the ref's y-sides.  HD = 0.5. */
  plan_with(&plan, SS_SURFACE_SURFEL, 1, pct, 1, tol);
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd, 0.5);
  ck_metric(b.hd_pred_to_ref, 0.5);
  tvol_free(&v);
}
END_TEST

/*---- Empty masks and ignore ----------------------------------------------*/

START_TEST(test_empty_masks_follow_design)
{
  tvol v = tvol_new(5, 5, 5, 1, 1, 1);
  ss_plan plan;
  const double pct[1] = { 95 }, tol[1] = { 1 };
  ss_boundary b;
  for (int mode = 0; mode < 2; mode++) {
    plan_with(&plan, (ss_surface_mode)mode, 1, pct, 1, tol);
    memset(v.p, 0, 125);
    memset(v.r, 0, 125);
    ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
    ck_assert_int_eq(b.hd.why, SS_BOTH_EMPTY);
    ck_assert_int_eq(b.hdp[0].why, SS_BOTH_EMPTY);
    ck_assert_int_eq(b.assd.why, SS_BOTH_EMPTY);
    ck_assert_int_eq(b.nsd[0].why, SS_BOTH_EMPTY);
    ck_assert_double_eq(b.nsd[0].value, 0.0);
    v.r[at(&v, 2, 2, 2)] = 1; /* pred empty */
    ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
    ck_assert_int_eq(b.hd.why, SS_PRED_EMPTY);
    ck_assert_int_eq(b.hd_pred_to_ref.why, SS_PRED_EMPTY);
    ck_assert_int_eq(b.hd_ref_to_pred.why, SS_PRED_EMPTY);
    ck_assert_int_eq(b.hdp_ref_to_pred[0].why, SS_PRED_EMPTY);
    ck_assert_int_eq(b.masd.why, SS_PRED_EMPTY);
    ck_assert_int_eq(b.asd_ref_to_pred.why, SS_PRED_EMPTY);
    ck_metric(b.nsd[0], 0.0);
    memcpy(v.p, v.r, 125); /* ref empty */
    memset(v.r, 0, 125);
    ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
    ck_assert_int_eq(b.hdp[0].why, SS_REF_EMPTY);
    ck_assert_int_eq(b.assd.why, SS_REF_EMPTY);
    ck_metric(b.nsd[0], 0.0);
    memcpy(v.r, v.p, 125); /* identical: all 0 */
    ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
    ck_metric(b.hd, 0.0);
    ck_metric(b.assd, 0.0);
    ck_metric(b.nsd[0], 1.0);
  }
  tvol_free(&v);
}
END_TEST

START_TEST(test_ignore_drops_elements)
{
  /* Pred: a row of voxels (0..6, 2, 2); ref: voxel (1, 2, 2); voxel
   * (6, 2, 2) of the reference carries the ignore label.  Voxel mode:
   * the pred voxel (6,2,2) is dropped, so HD pred -> ref is 4 voxels
   * (5 -> 1) = 4 mm instead of 5. */
  tvol v = tvol_new(8, 5, 5, 1, 1, 1);
  box(&v, v.p, 0, 7, 2, 3, 2, 3, 1);
  v.r[at(&v, 1, 2, 2)] = 1;
  v.r[at(&v, 6, 2, 2)] = 2;
  ss_plan plan;
  const double pct[1] = { 95 }, tol[1] = { 1 };
  plan_with(&plan, SS_SURFACE_VOXEL, 1, pct, 1, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_OK);
  ck_metric(b.hd_pred_to_ref, 5.0);
  ck_assert_int_eq(run(&v, &plan, true, &b), SS_OK);
  ck_metric(b.hd_pred_to_ref, 4.0);
  /* Surfel mode: dual vertices x = 6, 7 touch voxel 6 and are dropped;
   * the farthest remaining pred vertex x = 5 is 3 from ref vertex x = 2. */
  plan_with(&plan, SS_SURFACE_SURFEL, 1, pct, 1, tol);
  ck_assert_int_eq(run(&v, &plan, true, &b), SS_OK);
  ck_metric(b.hd_pred_to_ref, 3.0);
  /* Ignore every voxel around the ref voxel: all its surfels touch the
   * ignore region, so the reference surface is empty (pred surfels at
   * x >= 4 remain). */
  memset(v.r, 0, 200);
  box(&v, v.r, 0, 3, 0, 5, 0, 5, 2);
  v.r[at(&v, 1, 2, 2)] = 1;
  ck_assert_int_eq(run(&v, &plan, true, &b), SS_OK);
  ck_assert_int_eq(b.hd.why, SS_REF_EMPTY);
  tvol_free(&v);
}
END_TEST

/*---- Brute force on random masks -----------------------------------------*/

static void
random_cases(ss_surface_mode mode, bool two_d, bool ignore)
{
  const double pct[4] = { 95, 63, 0, 100 }, tol[2] = { 1, 2.2 };
  for (int it = 0; it < 12; it++) {
    tvol v = tvol_new(7 + it % 4, 6 + it % 3, two_d ? 1 : 5 + it % 3,
                      0.6 + 0.1 * (it % 3), 1.3, 2.1);
    random_mask(&v, v.p, it % 2 ? 0.15 : 0.0);
    random_mask(&v, v.r, it % 3 ? 0.1 : 0.0);
    if (ignore) {
      const int64_t n = v.nx * v.ny * v.nz;
      for (int64_t i = 0; i < n; i++)
        if (!v.r[i] && rnd() < 0.08)
          v.r[i] = 2;
    }
    ss_plan plan;
    plan_with(&plan, mode, 4, pct, 2, tol);
    check_brute(&v, &plan, ignore);
    tvol_free(&v);
  }
}

START_TEST(test_random_surfel_3d_matches_brute_force)
{
  random_cases(SS_SURFACE_SURFEL, false, false);
}
END_TEST

START_TEST(test_random_voxel_3d_matches_brute_force)
{
  random_cases(SS_SURFACE_VOXEL, false, false);
}
END_TEST

START_TEST(test_random_2d_matches_brute_force)
{
  random_cases(SS_SURFACE_SURFEL, true, false);
  random_cases(SS_SURFACE_VOXEL, true, false);
}
END_TEST

START_TEST(test_random_with_ignore_matches_brute_force)
{
  random_cases(SS_SURFACE_SURFEL, false, true);
  random_cases(SS_SURFACE_VOXEL, false, true);
  random_cases(SS_SURFACE_SURFEL, true, true);
  random_cases(SS_SURFACE_VOXEL, true, true);
}
END_TEST

START_TEST(test_degenerate_shapes_match_brute_force)
{
  /* Grids one voxel thick along some axis, a prediction filling the whole
   * grid (surfaces on the volume border only), thin lines; strong
   * anisotropy. */
  static const int64_t dims[][3] = { { 1, 7, 6 }, { 7, 1, 6 }, { 1, 1, 9 },
                                     { 5, 4, 1 }, { 9, 1, 1 }, { 6, 6, 2 } };
  const double pct[3] = { 95, 50, 5 }, tol[2] = { 0.5, 3 };
  for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
    for (int mode = 0; mode < 2; mode++)
      for (int fill = 0; fill < 2; fill++) {
        tvol v = tvol_new(dims[d][0], dims[d][1], dims[d][2], 0.3, 4.0, 1.7);
        const int64_t n = v.nx * v.ny * v.nz;
        for (int64_t i = 0; i < n; i++) {
          v.p[i] = fill ? 1 : rnd() < 0.5;
          v.r[i] = rnd() < 0.4;
        }
        v.r[0] = 1; /* never empty */
        v.p[n - 1] = 1;
        ss_plan plan;
        plan_with(&plan, (ss_surface_mode)mode, 3, pct, 2, tol);
        check_brute(&v, &plan, false);
        tvol_free(&v);
      }
}
END_TEST

START_TEST(test_random_uint16_maps_match_brute_force)
{
  wide_maps = true;
  random_cases(SS_SURFACE_SURFEL, false, true);
  random_cases(SS_SURFACE_VOXEL, false, false);
  random_cases(SS_SURFACE_SURFEL, true, false);
  wide_maps = false;
}
END_TEST

/*---- Axis permutation and threads ----------------------------------------*/

/* Permute axes (new axis a = old axis P[a]) with the spacing: every
 * distance and area is the same. */
static void
permuted(const tvol *v, const int p[3], tvol *o)
{
  const int64_t n[3] = { v->nx, v->ny, v->nz };
  *o = tvol_new(n[p[0]], n[p[1]], n[p[2]], v->sp[p[0]], v->sp[p[1]],
                v->sp[p[2]]);
  for (int64_t z = 0; z < v->nz; z++)
    for (int64_t y = 0; y < v->ny; y++)
      for (int64_t x = 0; x < v->nx; x++) {
        const int64_t c[3] = { x, y, z };
        const int64_t i = at(o, c[p[0]], c[p[1]], c[p[2]]);
        o->p[i] = v->p[at(v, x, y, z)];
        o->r[i] = v->r[at(v, x, y, z)];
      }
}

static void
same(const ss_boundary *a, const ss_boundary *b, const ss_plan *plan)
{
  ck_metric(b->hd, a->hd.value);
  ck_metric(b->hd_pred_to_ref, a->hd_pred_to_ref.value);
  ck_metric(b->hd_ref_to_pred, a->hd_ref_to_pred.value);
  for (int k = 0; k < plan->npercentiles; k++)
    ck_metric(b->hdp[k], a->hdp[k].value);
  ck_metric(b->assd, a->assd.value);
  ck_metric(b->masd, a->masd.value);
  for (int t = 0; t < plan->ntolerances; t++)
    ck_metric(b->nsd[t], a->nsd[t].value);
}

START_TEST(test_axis_permutation_with_spacing_is_invariant)
{
  static const int perms[3][3] = { { 1, 0, 2 }, { 2, 1, 0 }, { 1, 2, 0 } };
  const double pct[2] = { 95, 50 }, tol[1] = { 1.5 };
  for (int mode = 0; mode < 2; mode++)
    for (int k = 0; k < 3; k++) {
      tvol v = tvol_new(14, 11, 9, 0.4, 1.1, 3.0), w;
      random_mask(&v, v.p, 0.02);
      random_mask(&v, v.r, 0.02);
      permuted(&v, perms[k], &w);
      ss_plan plan;
      plan_with(&plan, (ss_surface_mode)mode, 2, pct, 1, tol);
      ss_boundary a, b;
      ck_assert_int_eq(run(&v, &plan, false, &a), SS_OK);
      ck_assert_int_eq(run(&w, &plan, false, &b), SS_OK);
      same(&a, &b, &plan);
      tvol_free(&v);
      tvol_free(&w);
    }
}
END_TEST

START_TEST(test_threads_1_and_2_bit_identical)
{
  /* Big enough (crop > SS_PAR_MIN_VOXELS) for every parallel loop. */
  const double pct[2] = { 95, 50 }, tol[1] = { 1 };
  for (int mode = 0; mode < 2; mode++) {
    tvol v = tvol_new(64, 60, 40, 0.78125, 0.78125, 2.5);
    for (int b = 0; b < 6; b++)
      random_mask(&v, v.p, 0.0), random_mask(&v, v.r, 0.0);
    box(&v, v.p, 10, 50, 10, 50, 5, 35, 1);
    box(&v, v.r, 12, 52, 9, 49, 6, 36, 1);
    ss_plan plan;
    plan_with(&plan, (ss_surface_mode)mode, 2, pct, 1, tol);
    ss_boundary a, c;
    ck_assert_int_eq(run(&v, &plan, false, &a), SS_OK);
    plan.threads = 2;
    ck_assert_int_eq(run(&v, &plan, false, &c), SS_OK);
    ck_assert_int_eq(memcmp(&a, &c, sizeof a), 0);
    tvol_free(&v);
  }
}
END_TEST

/* Every label's box from ss__label_boxes against a brute-force bounding
 * box (label 0: the whole grid). */
static void
check_boxes(const int32_t *lab, int64_t nx, int64_t ny, int64_t nz,
            int want_width)
{
  const int64_t n = nx * ny * nz;
  const double sp[3] = { 1, 1, 1 };
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_labels(lab, nx, ny, nz, sp, &v, &err), SS_OK);
  ck_assert_int_eq(v->idx_width, want_width);
  ss__box *bx = NULL;
  ck_assert_int_eq(ss__label_boxes(v, 2, &bx, &err), SS_OK);
  for (int k = 0; k < v->nlabels; k++) {
    ss__box want = { { INT64_MAX, INT64_MAX, INT64_MAX },
                     { INT64_MIN, INT64_MIN, INT64_MIN } };
    for (int64_t i = 0; i < n; i++)
      if (lab[i] == v->labels[k]) {
        const int64_t c[3] = { i % nx, (i / nx) % ny, i / (nx * ny) };
        for (int a = 0; a < 3; a++) {
          want.lo[a] = c[a] < want.lo[a] ? c[a] : want.lo[a];
          want.hi[a] = c[a] + 1 > want.hi[a] ? c[a] + 1 : want.hi[a];
        }
      }
    if (v->labels[k] == 0)
      want = (ss__box){ { 0, 0, 0 }, { nx, ny, nz } };
    for (int a = 0; a < 3; a++) {
      ck_assert_int_eq(bx[k].lo[a], want.lo[a]);
      ck_assert_int_eq(bx[k].hi[a], want.hi[a]);
    }
  }
  free(bx);
  ss_volume_free(v);
}

START_TEST(test_label_boxes_uint16_match_brute_force)
{
  /* 300 labels: a uint16 index map; sparse labels in a mostly-0 grid. */
  const int64_t nx = 37, ny = 20, nz = 9, n = nx * ny * nz;
  int32_t *lab = calloc((size_t)n, sizeof *lab);
  for (int64_t i = 0; i < 300; i++)
    lab[(i * 7919) % n] = (int32_t)(i + 1);
  for (int64_t i = 0; i < n; i++)
    if (rnd() < 0.05)
      lab[i] = 1 + (int32_t)(rnd() * 299);
  check_boxes(lab, nx, ny, nz, 2);
  free(lab);
}
END_TEST

START_TEST(test_label_boxes_and_hint_match_full_scan)
{
  /* Labels {0, 3, 7, 9} at random in a 40x30x20 map (9 absent): each
   * box equals the brute-force bounding box; label 0's is the grid; the
   * hinted boundary kernel gives the same bits as the full scan. */
  const int64_t nx = 40, ny = 30, nz = 20, n = nx * ny * nz;
  int32_t *lab = calloc((size_t)n, sizeof *lab);
  for (int64_t z = 3; z < 15; z++)
    for (int64_t y = 5; y < 22; y++)
      for (int64_t x = 2; x < 33; x++) {
        const double u = rnd();
        lab[(z * ny + y) * nx + x] = u < 0.01 ? 7 : u < 0.3 ? 3 : 0;
      }
  const double sp[3] = { 0.8, 0.9, 2.0 };
  ss_volume *v = NULL;
  ss_error err = { 0 };
  ck_assert_int_eq(ss_volume_from_labels(lab, nx, ny, nz, sp, &v, &err), SS_OK);
  check_boxes(lab, nx, ny, nz, 1);
  ss__box *bx = NULL;
  ck_assert_int_eq(ss__label_boxes(v, 2, &bx, &err), SS_OK);
  /* class "3" against class "7" as pred/ref, with and without the hint */
  uint8_t m3[8] = { 0 }, m7[8] = { 0 };
  for (int k = 0; k < v->nlabels; k++) {
    m3[k] = v->labels[k] == 3;
    m7[k] = v->labels[k] == 7;
  }
  ss__grid g = { nx, ny, nz, { sp[0], sp[1], sp[2] } };
  ss__mask mp = { v->idx, v->idx_width, m7 }, mr = { v->idx, v->idx_width, m3 };
  ss__box hint = { { INT64_MAX, INT64_MAX, INT64_MAX },
                   { INT64_MIN, INT64_MIN, INT64_MIN } };
  ss__box_union(&hint, bx, m7, v->nlabels);
  ss__box_union(&hint, bx, m3, v->nlabels);
  ss_plan plan;
  const double pct[1] = { 95 }, tol[1] = { 1 };
  for (int mode = 0; mode < 2; mode++) {
    plan_with(&plan, (ss_surface_mode)mode, 1, pct, 1, tol);
    ss_boundary a, b;
    ck_assert_int_eq(ss__boundary_class(&g, &mp, &mr, NULL, &plan, &a, &err),
                     SS_OK);
    ck_assert_int_eq(
        ss__boundary_class_in(&g, &mp, &mr, NULL, &hint, &plan, &b, &err),
        SS_OK);
    ck_assert_int_eq(a.hd.why, SS_DEFINED);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
  }
  free(bx);
  free(lab);
  ss_volume_free(v);
}
END_TEST

START_TEST(test_bad_percentile_is_einval)
{
  tvol v = tvol_new(3, 3, 3, 1, 1, 1);
  v.p[0] = v.r[0] = 1;
  ss_plan plan;
  const double pct[1] = { 101 }, tol[1] = { 1 };
  plan_with(&plan, SS_SURFACE_SURFEL, 1, pct, 1, tol);
  ss_boundary b;
  ck_assert_int_eq(run(&v, &plan, false, &b), SS_EINVAL);
  tvol_free(&v);
}
END_TEST

static Suite *
boundary_suite(void)
{
  Suite *s = suite_create("boundary");
  TCase *tw = tcase_create("ss__surfel_weight");
  tcase_add_test(tw, test_surfel_weight_hand_values);
  tcase_add_test(tw, test_surfel_weight_marching_cubes_cases);
  tcase_add_test(tw, test_surfel_weight_symmetries);
  tcase_add_test(tw, test_surfel_weights_table_is_bit_identical);
  suite_add_tcase(s, tw);
  TCase *tc = tcase_create("ss__boundary_class");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_single_voxels_anisotropic_voxel_mode);
  tcase_add_test(tc, test_single_voxels_anisotropic_surfel_mode);
  tcase_add_test(tc, test_parallel_plates_both_modes);
  tcase_add_test(tc, test_shifted_cubes_voxel_mode);
  tcase_add_test(tc, test_shifted_cubes_surfel_mode);
  tcase_add_test(tc, test_balls_voxel_mode_within_sampling);
  tcase_add_test(tc, test_balls_surfel_mode_within_sampling);
  tcase_add_test(tc, test_two_d_contours);
  tcase_add_test(tc, test_empty_masks_follow_design);
  tcase_add_test(tc, test_ignore_drops_elements);
  tcase_add_test(tc, test_random_surfel_3d_matches_brute_force);
  tcase_add_test(tc, test_random_voxel_3d_matches_brute_force);
  tcase_add_test(tc, test_random_2d_matches_brute_force);
  tcase_add_test(tc, test_random_with_ignore_matches_brute_force);
  tcase_add_test(tc, test_random_uint16_maps_match_brute_force);
  tcase_add_test(tc, test_degenerate_shapes_match_brute_force);
  tcase_add_test(tc, test_axis_permutation_with_spacing_is_invariant);
  tcase_add_test(tc, test_threads_1_and_2_bit_identical);
  tcase_add_test(tc, test_label_boxes_and_hint_match_full_scan);
  tcase_add_test(tc, test_label_boxes_uint16_match_brute_force);
  tcase_add_test(tc, test_bad_percentile_is_einval);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(boundary_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
