/* boundary.c - surface-distance metrics of one class: HD, HDp, ASSD, MASD,
 * the directed means and NSD, on surfel (dual-grid, area-weighted) or
 * voxel (inner boundary, unit weight) surfaces.  Definitions, the surfel
 * area derivation, the empty-mask and ignore rules: docs/boundary.md.
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/*---- Surfel area table -------------------------------------------------*/

/* The surfel of a dual-grid vertex is the marching-cubes surface (Lorensen
 * & Cline 1987) inside the cube whose 8 corners are the centres of the
 * voxels around the vertex; corner b sits at (b&1, b>>1&1, b>>2&1).  Its
 * triangles join midpoints of cut edges (one corner in, one out).  Every
 * configuration is a rotation or reflection of one of the base cases below,
 * or the complement of one (the same triangles), so the triangles of any
 * code are those of its base case with the corners mapped.  Its area is the
 * sum of the triangle areas after scaling each axis by its spacing: the
 * construction behind DeepMind's surface-distance table (Nikolov et al.
 * 2021).  Derivation and hand-checked cases: docs/boundary.md. */

/* An edge as two corners, one hex digit each: 0x15 joins corners 1 and 5. */
typedef struct {
  uint8_t in;        /* inside corners of the base configuration */
  uint8_t ntri;      /* triangles */
  uint8_t tri[4][3]; /* their vertices: midpoints of these edges */
} mc_case;

/* Lorensen & Cline's cases 1-14 with at most 4 corners inside (case 0 has
 * no surface; 11 and 14 are mirror images, so one entry serves both).
 * Planar polygons may be split any way; the two non-planar ones are split
 * as in the classic table: case 5's pentagon into the triangle of the
 * three edges normal to its face plus a flat quad, case 11's hexagon into
 * the triangle of every other vertex plus three ears. */
static const mc_case mc_cases[] = {
  /* 1: one corner */
  { 0x01, 1, { { 0x01, 0x02, 0x04 } } },
  /* 2: two corners on an edge, a flat rectangle */
  { 0x03, 2, { { 0x02, 0x13, 0x15 }, { 0x02, 0x15, 0x04 } } },
  /* 3: two corners diagonal on a face, 4: on a body diagonal */
  { 0x09, 2, { { 0x01, 0x02, 0x04 }, { 0x13, 0x23, 0x37 } } },
  { 0x81, 2, { { 0x01, 0x02, 0x04 }, { 0x37, 0x57, 0x67 } } },
  /* 5: three corners of a face, a pentagon */
  { 0x07,
    3,
    { { 0x04, 0x15, 0x26 }, { 0x15, 0x13, 0x23 }, { 0x15, 0x23, 0x26 } } },
  /* 6: an edge and the far corner */
  { 0x83,
    3,
    { { 0x02, 0x13, 0x15 }, { 0x02, 0x15, 0x04 }, { 0x37, 0x57, 0x67 } } },
  /* 7: three corners, pairwise face-diagonal */
  { 0x16,
    3,
    { { 0x01, 0x13, 0x15 }, { 0x02, 0x23, 0x26 }, { 0x04, 0x45, 0x46 } } },
  /* 8: a face, a flat square */
  { 0x0f, 2, { { 0x04, 0x15, 0x37 }, { 0x04, 0x37, 0x26 } } },
  /* 9: a corner and its 3 neighbours, a flat hexagon */
  { 0x17,
    4,
    { { 0x13, 0x23, 0x26 },
      { 0x13, 0x26, 0x46 },
      { 0x13, 0x46, 0x45 },
      { 0x13, 0x45, 0x15 } } },
  /* 10: two opposite edges, two rectangles */
  { 0xc3,
    4,
    { { 0x02, 0x13, 0x15 },
      { 0x02, 0x15, 0x04 },
      { 0x46, 0x57, 0x37 },
      { 0x46, 0x37, 0x26 } } },
  /* 11 (14 is its mirror image): the path 0-1-3-7, a skew hexagon */
  { 0x8b,
    4,
    { { 0x02, 0x15, 0x67 },
      { 0x02, 0x04, 0x15 },
      { 0x15, 0x57, 0x67 },
      { 0x67, 0x23, 0x02 } } },
  /* 12: case 5 and the far corner */
  { 0x87,
    4,
    { { 0x04, 0x15, 0x26 },
      { 0x15, 0x13, 0x23 },
      { 0x15, 0x23, 0x26 },
      { 0x37, 0x57, 0x67 } } },
  /* 13: four corners, pairwise face-diagonal */
  { 0x69,
    4,
    { { 0x01, 0x02, 0x04 },
      { 0x13, 0x23, 0x37 },
      { 0x15, 0x45, 0x57 },
      { 0x26, 0x46, 0x67 } } },
};
#define MC_NCASES ((int)(sizeof mc_cases / sizeof mc_cases[0]))

/* Symmetry S (0..47) of the cube: corner map, permuting axes then
 * reflecting some; new axis a reads old axis perm[a]. */
static void
cube_symmetry(int s, int map[8])
{
  static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                   { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
  const int *p = perms[s >> 3], flip = s & 7;
  for (int b = 0; b < 8; b++) {
    map[b] = 0;
    for (int a = 0; a < 3; a++)
      map[b] |= (((b >> p[a]) & 1) ^ ((flip >> a) & 1)) << a;
  }
}

static int
map_corners(int set, const int map[8])
{
  int out = 0;
  for (int b = 0; b < 8; b++)
    if (set >> b & 1)
      out |= 1 << map[b];
  return out;
}

/* Area in mm^2 of base case K with its corners mapped by MAP. */
static double
mc_area(const mc_case *k, const int map[8], const double sp[3])
{
  double area = 0;
  for (int t = 0; t < k->ntri; t++) {
    double v[3][3];
    for (int i = 0; i < 3; i++) {
      const int c0 = map[k->tri[t][i] >> 4], c1 = map[k->tri[t][i] & 15];
      for (int a = 0; a < 3; a++)
        v[i][a] = 0.5 * (((c0 >> a) & 1) + ((c1 >> a) & 1)) * sp[a];
    }
    double u[3], w[3];
    for (int a = 0; a < 3; a++) {
      u[a] = v[1][a] - v[0][a];
      w[a] = v[2][a] - v[0][a];
    }
    const double x = u[1] * w[2] - u[2] * w[1], y = u[2] * w[0] - u[0] * w[2],
                 z = u[0] * w[1] - u[1] * w[0];
    area += 0.5 * sqrt(x * x + y * y + z * z);
  }
  return area;
}

static int
corner_count(int code)
{
  int n = 0;
  for (int b = 0; b < 8; b++)
    n += (code >> b) & 1;
  return n;
}

/* Area of CODE (1..254): its side with at most 4 corners (the complement
 * has the same triangles) matched to a base case by the first symmetry
 * that maps one onto it. */
static double
surfel_area_3d(int code, const double sp[3])
{
  const int m = corner_count(code) > 4 ? code ^ 255 : code;
  for (int s = 0; s < 48; s++) {
    int map[8];
    cube_symmetry(s, map);
    for (int k = 0; k < MC_NCASES; k++)
      if (map_corners(mc_cases[k].in, map) == m)
        return mc_area(&mc_cases[k], map, sp);
  }
  return 0; /* not reached: the cases cover every code */
}

/* Length in mm of the contour of CODE (2-D, corners bit b at (b&1, b>>1)):
 * marching squares, segments between cut-edge midpoints; the diagonal
 * codes 6 and 9 get two segments, each cutting off one corner, whichever
 * pair of corners is taken to be separate (both give the same length). */
static double
surfel_length_2d(int code, const double sp[3])
{
  static const int f[4] = { 0, 1, 3, 2 }; /* cyclic order of corners */
  int in[4], cut[4], ncut = 0;
  double mid[4][2];
  for (int i = 0; i < 4; i++)
    in[i] = (code >> f[i]) & 1;
  for (int i = 0; i < 4; i++) {
    const int a = f[i], b = f[(i + 1) & 3];
    cut[i] = in[i] != in[(i + 1) & 3];
    ncut += cut[i];
    mid[i][0] = 0.5 * ((a & 1) + (b & 1)) * sp[0];
    mid[i][1] = 0.5 * (((a >> 1) & 1) + ((b >> 1) & 1)) * sp[1];
  }
  double len = 0;
  if (ncut == 2) {
    int k[2] = { 0, 0 }, m = 0; /* ncut == 2 fills both */
    for (int i = 0; i < 4; i++)
      if (cut[i])
        k[m++] = i;
    len = hypot(mid[k[0]][0] - mid[k[1]][0], mid[k[0]][1] - mid[k[1]][1]);
  } else if (ncut == 4) {
    for (int i = 0; i < 4; i++)
      if (in[i]) {
        const int a = (i + 3) & 3;
        len += hypot(mid[a][0] - mid[i][0], mid[a][1] - mid[i][1]);
      }
  }
  return len;
}

double
ss__surfel_weight(int code, const double sp[3], bool two_d)
{
  const int full = two_d ? 15 : 255;
  if (code <= 0 || code >= full)
    return 0;
  return two_d ? surfel_length_2d(code, sp) : surfel_area_3d(code, sp);
}

/* The same for every code in one sweep over symmetries and cases, in the
 * order of surfel_area_3d's search, so each value is the same bits. */
void
ss__surfel_weights(const double sp[3], bool two_d, double wt[256])
{
  for (int c = 0; c < 256; c++)
    wt[c] = 0;
  if (two_d) {
    for (int c = 1; c < 15; c++)
      wt[c] = surfel_length_2d(c, sp);
    return;
  }
  bool done[256] = { false };
  for (int s = 0; s < 48; s++) {
    int map[8];
    cube_symmetry(s, map);
    for (int k = 0; k < MC_NCASES; k++) {
      const int m = map_corners(mc_cases[k].in, map);
      if (!done[m]) {
        done[m] = true;
        wt[m] = mc_area(&mc_cases[k], map, sp);
      }
    }
  }
  for (int c = 1; c < 255; c++)
    if (corner_count(c) > 4)
      wt[c] = wt[c ^ 255];
}

/*---- Crops and surfaces ------------------------------------------------*/

typedef struct {
  int64_t x0, y0, z0; /* first voxel of the union bounding box */
  int64_t bx, by, bz; /* its size */
  bool any_pred, any_ref;
} bbox;

/* Union bounding box of PRED and REF inside the region R (a superset of
 * both masks); min/max reductions, so exact for any thread count. */
static void
box_scan(const ss__grid *g, const ss__mask *pred, const ss__mask *ref,
         const ss__box *reg, int threads, bbox *b)
{
  const int64_t nx = g->nx, ny = g->ny;
  const int64_t x0 = reg->lo[0], x1 = reg->hi[0], y0 = reg->lo[1],
                y1 = reg->hi[1];
  int64_t xmin = INT64_MAX, ymin = INT64_MAX, zmin = INT64_MAX;
  int64_t xmax = -1, ymax = -1, zmax = -1;
  int anyp = 0, anyr = 0;
  const bool par = (x1 - x0) * (y1 - y0) * (reg->hi[2] - reg->lo[2])
                   >= SS_PAR_MIN_VOXELS;
  // clang-format off
#pragma omp parallel for num_threads(threads) schedule(static) if (par) \
        reduction(min:xmin, ymin, zmin) reduction(max:xmax, ymax, zmax) \
        reduction(|:anyp, anyr)
  // clang-format on
  for (int64_t z = reg->lo[2]; z < reg->hi[2]; z++)
    for (int64_t y = y0; y < y1; y++) {
      const int64_t off = (z * ny + y) * nx;
      int64_t first = -1, last = -1;
      int rp = 0, rr = 0;
      if (pred->width == 1 && ref->width == 1) { /* the common case */
        const uint8_t *ip = pred->idx, *ir = ref->idx;
        for (int64_t x = x0; x < x1; x++) {
          const int p = pred->member[ip[off + x]] != 0;
          const int r = ref->member[ir[off + x]] != 0;
          rp |= p;
          rr |= r;
          if (p | r) {
            if (first < 0)
              first = x;
            last = x;
          }
        }
      } else {
        for (int64_t x = x0; x < x1; x++) {
          const int p = ss__mask_at(pred, off + x);
          const int r = ss__mask_at(ref, off + x);
          rp |= p;
          rr |= r;
          if (p | r) {
            if (first < 0)
              first = x;
            last = x;
          }
        }
      }
      if (first >= 0) {
        anyp |= rp;
        anyr |= rr;
        xmin = first < xmin ? first : xmin;
        xmax = last > xmax ? last : xmax;
        ymin = y < ymin ? y : ymin;
        ymax = y > ymax ? y : ymax;
        zmin = z < zmin ? z : zmin;
        zmax = z > zmax ? z : zmax;
      }
    }
  b->any_pred = anyp;
  b->any_ref = anyr;
  if (!anyp && !anyr) {
    b->x0 = b->y0 = b->z0 = 0;
    b->bx = b->by = b->bz = 0;
    return;
  }
  b->x0 = xmin;
  b->y0 = ymin;
  b->z0 = zmin;
  b->bx = xmax - xmin + 1;
  b->by = ymax - ymin + 1;
  b->bz = zmax - zmin + 1;
}

/* Grow box B by voxels [x0, x1] of row (y, z). */
static inline void
box_add(ss__box *b, int64_t x0, int64_t x1, int64_t y, int64_t z)
{
  if (x0 < b->lo[0])
    b->lo[0] = x0;
  if (x1 + 1 > b->hi[0])
    b->hi[0] = x1 + 1;
  if (y < b->lo[1])
    b->lo[1] = y;
  if (y + 1 > b->hi[1])
    b->hi[1] = y + 1;
  if (z < b->lo[2])
    b->lo[2] = z;
  if (z + 1 > b->hi[2])
    b->hi[2] = z + 1;
}

/* First and last x of ROW (N uint8) that differ from BG, skipping 8 bytes
 * at a time; false when the whole row is BG. */
static bool
row_span8(const uint8_t *row, int64_t n, uint8_t bg, int64_t *first,
          int64_t *last)
{
  const uint64_t pat = 0x0101010101010101u * bg;
  int64_t a = 0, b = n;
  for (; a + 8 <= n; a += 8) {
    uint64_t w;
    memcpy(&w, row + a, 8);
    if (w != pat)
      break;
  }
  while (a < n && row[a] == bg)
    a++;
  if (a == n)
    return false;
  for (; b - 8 > a; b -= 8) {
    uint64_t w;
    memcpy(&w, row + b - 8, 8);
    if (w != pat)
      break;
  }
  while (row[b - 1] == bg)
    b--;
  *first = a;
  *last = b - 1;
  return true;
}

/* The same for a uint16 row, 4 values at a time. */
static bool
row_span16(const uint16_t *row, int64_t n, uint16_t bg, int64_t *first,
           int64_t *last)
{
  const uint64_t pat = 0x0001000100010001u * bg;
  int64_t a = 0, b = n;
  for (; a + 4 <= n; a += 4) {
    uint64_t w;
    memcpy(&w, row + a, 8);
    if (w != pat)
      break;
  }
  while (a < n && row[a] == bg)
    a++;
  if (a == n)
    return false;
  for (; b - 4 > a; b -= 4) {
    uint64_t w;
    memcpy(&w, row + b - 4, 8);
    if (w != pat)
      break;
  }
  while (row[b - 1] == bg)
    b--;
  *first = a;
  *last = b - 1;
  return true;
}

ss_status
ss__label_boxes(const ss_volume *v, int threads, ss__box **out, ss_error *err)
{
  *out = NULL;
  if (v == NULL || v->idx == NULL || v->nlabels <= 0)
    return ss__fail(err, SS_EINVAL, "label boxes: not a label map");
  const int64_t nx = v->info.nx, ny = v->info.ny, nz = v->info.nz;
  const int nl = v->nlabels;
  int bg = -1; /* the index of label 0, if any */
  for (int k = 0; k < nl; k++)
    if (v->labels[k] == 0)
      bg = k;
  if (threads < 1)
    threads = 1;
  ss__box *all = malloc((size_t)(threads + 1) * (size_t)nl * sizeof *all);
  if (all == NULL)
    return ss__fail(err, SS_ENOMEM, "label boxes: out of memory");
  for (int64_t k = 0; k < (int64_t)(threads + 1) * nl; k++)
    for (int a = 0; a < 3; a++) {
      all[k].lo[a] = INT64_MAX;
      all[k].hi[a] = INT64_MIN;
    }
#pragma omp parallel num_threads(threads)                                      \
    if (nx * ny * nz >= SS_PAR_MIN_VOXELS)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    ss__box *bx = all + (size_t)(t + 1) * (size_t)nl;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < ny * nz; r++) {
      const int64_t y = r % ny, z = r / ny;
      int64_t a = 0, b = nx - 1;
      if (v->idx_width == 1) {
        const uint8_t *row = (const uint8_t *)v->idx + r * nx;
        if (bg >= 0 && !row_span8(row, nx, (uint8_t)bg, &a, &b))
          continue;
        for (int64_t x = a; x <= b;) { /* runs of one label */
          const uint8_t k = row[x];
          int64_t e = x;
          while (e + 1 <= b && row[e + 1] == k)
            e++;
          if (k != bg)
            box_add(&bx[k], x, e, y, z);
          x = e + 1;
        }
      } else {
        const uint16_t *row = (const uint16_t *)v->idx + r * nx;
        if (bg >= 0 && !row_span16(row, nx, (uint16_t)bg, &a, &b))
          continue;
        for (int64_t x = a; x <= b;) {
          const uint16_t k = row[x];
          int64_t e = x;
          while (e + 1 <= b && row[e + 1] == k)
            e++;
          if ((int)k != bg)
            box_add(&bx[k], x, e, y, z);
          x = e + 1;
        }
      }
    }
  }
  for (int k = 0; k < nl; k++) { /* merge in thread order */
    for (int t = 1; t <= threads; t++) {
      const ss__box *s = &all[(size_t)t * (size_t)nl + (size_t)k];
      for (int a = 0; a < 3; a++) {
        if (s->lo[a] < all[k].lo[a])
          all[k].lo[a] = s->lo[a];
        if (s->hi[a] > all[k].hi[a])
          all[k].hi[a] = s->hi[a];
      }
    }
    if (k == bg) { /* not tracked: everything */
      all[k].lo[0] = all[k].lo[1] = all[k].lo[2] = 0;
      all[k].hi[0] = nx;
      all[k].hi[1] = ny;
      all[k].hi[2] = nz;
    }
  }
  ss__box *res = realloc(all, (size_t)nl * sizeof *all);
  *out = res != NULL ? res : all;
  return SS_OK;
}

void
ss__box_union(ss__box *acc, const ss__box *boxes, const uint8_t *member, int n)
{
  for (int k = 0; k < n; k++)
    if (member[k])
      for (int a = 0; a < 3; a++) {
        if (boxes[k].lo[a] < acc->lo[a])
          acc->lo[a] = boxes[k].lo[a];
        if (boxes[k].hi[a] > acc->hi[a])
          acc->hi[a] = boxes[k].hi[a];
      }
}

/* A crop with a one-voxel frame: pad dims px, py, pz (pz = 1 in 2-D). */
typedef struct {
  int64_t px, py, pz;
  int pad_z; /* 1 in 3-D, 0 in 2-D */
} frame;

/* Copy a mask (or, for IGNORE, any voxel of the real volume) into the
 * framed crop.  Voxels outside the volume are outside every mask. */
static void
crop_fill(const ss__grid *g, const bbox *b, const frame *fr, const ss__mask *m,
          uint8_t *dst, int threads)
{
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (fr->px * fr->py * fr->pz >= SS_PAR_MIN_VOXELS)
  for (int64_t k = 0; k < fr->pz; k++)
    for (int64_t j = 0; j < fr->py; j++) {
      const int64_t z = b->z0 + k - fr->pad_z, y = b->y0 + j - 1;
      uint8_t *o = dst + (k * fr->py + j) * fr->px;
      if (z < 0 || z >= g->nz || y < 0 || y >= g->ny) {
        memset(o, 0, (size_t)fr->px);
        continue;
      }
      const int64_t off = (z * g->ny + y) * g->nx;
      /* the frame columns may fall outside the volume; the rest is a
       * plain table lookup per voxel */
      const int64_t i0 = b->x0 == 0 ? 1 : 0;
      const int64_t i1 = b->x0 + fr->px - 1 > g->nx ? fr->px - 1 : fr->px;
      o[0] = 0;
      o[fr->px - 1] = 0;
      const int64_t at = off + b->x0 - 1; /* voxel of column 0 */
      if (m->width == 1) {
        const uint8_t *src = m->idx;
        for (int64_t i = i0; i < i1; i++)
          o[i] = m->member[src[at + i]] != 0;
      } else {
        const uint16_t *src = m->idx;
        for (int64_t i = i0; i < i1; i++)
          o[i] = m->member[src[at + i]] != 0;
      }
    }
}

/* Surfel codes on the dual grid (ex, ey, ez) = (px-1, py-1, pz-1 or 1):
 * vertex (i, j, k) sees framed voxels (i..i+1, j..j+1, k..k+1).  Codes 0
 * and full are "no surfel"; so is a surfel with an ignored corner.  The
 * element map gets the code or 0. */
static void
surfel_codes(const uint8_t *m, const uint8_t *ig, const frame *fr, bool two_d,
             uint8_t *el, int threads)
{
  const int64_t px = fr->px, py = fr->py;
  const int64_t ex = px - 1, ey = py - 1, ez = two_d ? 1 : fr->pz - 1;
  const int full = two_d ? 15 : 255;
  const int64_t sz = two_d ? 0 : px * py;
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (ex * ey * ez >= SS_PAR_MIN_VOXELS)
  for (int64_t k = 0; k < ez; k++)
    for (int64_t j = 0; j < ey; j++) {
      const uint8_t *a = m + (k * py + j) * px; /* (x, j, k) */
      const uint8_t *bq = a + px, *c = a + sz, *d = a + sz + px;
      const uint8_t *ia = ig ? ig + (k * py + j) * px : NULL;
      uint8_t *o = el + (k * ey + j) * ex;
      /* codes first (a branch-free loop the compiler can vectorise), then
       * the ignore rule on the few non-zero ones */
      if (two_d) {
#pragma omp simd
        for (int64_t i = 0; i < ex; i++) {
          const uint8_t code
              = (uint8_t)(a[i] | a[i + 1] << 1 | bq[i] << 2 | bq[i + 1] << 3);
          o[i] = code == full ? 0 : code;
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < ex; i++) {
          const uint8_t code
              = (uint8_t)(a[i] | a[i + 1] << 1 | bq[i] << 2 | bq[i + 1] << 3
                          | c[i] << 4 | c[i + 1] << 5 | d[i] << 6
                          | d[i + 1] << 7);
          o[i] = code == full ? 0 : code;
        }
      }
      if (ia == NULL)
        continue;
      const uint8_t *ib = ia + px, *ic = ia + sz, *id = ia + sz + px;
      for (int64_t i = 0; i < ex; i++) {
        if (!o[i])
          continue;
        int hit = ia[i] | ia[i + 1] | ib[i] | ib[i + 1];
        if (!two_d)
          hit |= ic[i] | ic[i + 1] | id[i] | id[i + 1];
        if (hit)
          o[i] = 0;
      }
    }
}

/* Inner boundary voxels (mask minus its face-connected erosion; outside
 * the volume is background) on the unframed crop (px-2, py-2, pz-2 or 1);
 * ignored voxels are dropped.  The element map gets 1 or 0. */
static void
voxel_border(const uint8_t *m, const uint8_t *ig, const frame *fr, bool two_d,
             uint8_t *el, int threads)
{
  const int64_t px = fr->px, py = fr->py;
  const int64_t ex = px - 2, ey = py - 2, ez = two_d ? 1 : fr->pz - 2;
  const int64_t sz = px * py;
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (ex * ey * ez >= SS_PAR_MIN_VOXELS)
  for (int64_t k = 0; k < ez; k++)
    for (int64_t j = 0; j < ey; j++) {
      const int64_t row = ((k + fr->pad_z) * py + j + 1) * px + 1;
      const uint8_t *c = m + row;
      uint8_t *o = el + (k * ey + j) * ex;
      for (int64_t i = 0; i < ex; i++) {
        int inner = c[i - 1] & c[i + 1] & c[i - px] & c[i + px];
        if (!two_d)
          inner &= c[i - sz] & c[i + sz];
        o[i] = (uint8_t)(c[i] && !inner && !(ig && ig[row + i]));
      }
    }
}

/*---- Distances and summaries -------------------------------------------*/

typedef struct {
  double d, w; /* distance in mm, weight (area or 1) */
} dist_w;

/* The elements of EL (non-zero) in raster order with their distance
 * sqrt(DIST2) and weight WT[code].  Per-slice counts and offsets keep the
 * raster order for any thread count. */
static ss_status
gather(const uint8_t *el, const double *dist2, int64_t ex, int64_t ey,
       int64_t ez, const double wt[256], int threads, dist_w **out, int64_t *n,
       ss_error *err)
{
  const int64_t slice = ex * ey;
  int64_t *off = calloc((size_t)ez + 1, sizeof *off);
  if (off == NULL)
    return ss__fail(err, SS_ENOMEM, "boundary: out of memory");
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (slice * ez >= SS_PAR_MIN_VOXELS)
  for (int64_t k = 0; k < ez; k++) {
    int64_t c = 0;
    for (int64_t i = 0; i < slice; i++)
      c += el[k * slice + i] != 0;
    off[k + 1] = c;
  }
  for (int64_t k = 0; k < ez; k++)
    off[k + 1] += off[k];
  *n = off[ez];
  *out = malloc((size_t)(*n > 0 ? *n : 1) * sizeof **out);
  if (*out == NULL) {
    free(off);
    return ss__fail(err, SS_ENOMEM, "boundary: out of memory");
  }
  dist_w *o = *out;
#pragma omp parallel for num_threads(threads)                                  \
    schedule(static) if (slice * ez >= SS_PAR_MIN_VOXELS)
  for (int64_t k = 0; k < ez; k++) {
    int64_t at = off[k];
    for (int64_t i = k * slice; i < (k + 1) * slice; i++)
      if (el[i]) {
        o[at].d = sqrt(dist2[i]);
        o[at].w = wt[el[i]];
        at++;
      }
  }
  free(off);
  return SS_OK;
}

/* Three-way partition of A[lo, hi) around PIVOT: on return [lo, *lt) <
 * pivot, [*lt, *gt) == pivot, [*gt, hi) > pivot; *WL, *WE get the weights
 * of the first two parts. */
static void
partition3(dist_w *a, int64_t lo, int64_t hi, double pivot, int64_t *lt,
           int64_t *gt, double *wl, double *we)
{
  int64_t l = lo, i = lo, g = hi;
  double sl = 0, se = 0;
  while (i < g) {
    if (a[i].d < pivot) {
      dist_w t = a[l];
      a[l++] = a[i];
      a[i++] = t;
      sl += a[l - 1].w;
    } else if (a[i].d > pivot) {
      dist_w t = a[--g];
      a[g] = a[i];
      a[i] = t;
    } else {
      se += a[i].w;
      i++;
    }
  }
  *lt = l;
  *gt = g;
  *wl = sl;
  *we = se;
}

/* Deterministic pivot index (xorshift with a fixed seed). */
static int64_t
pick(uint64_t *s, int64_t lo, int64_t hi)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return lo + (int64_t)(*s % (uint64_t)(hi - lo));
}

/* Relative slack of the weighted percentile: the cumulative weight
 * "reaches" the target when it is within SS_PCT_SLACK * total of it, so a
 * cumulative weight equal to the target in exact arithmetic counts
 * whatever the rounding of the sums (e.g. p = 50 on a symmetric shape). */
#define SS_PCT_SLACK 1e-11

/* Weighted selection: the smallest distance whose cumulative weight (over
 * the elements sorted by distance) reaches T - SLACK.  Quickselect with
 * three-way partitions, expected linear time; the input order is
 * permuted. */
static double
select_weighted(dist_w *a, int64_t n, double t, double slack)
{
  uint64_t seed = 0x9e3779b97f4a7c15u;
  int64_t lo = 0, hi = n;
  double below = 0; /* weight of the elements left of lo */
  for (;;) {
    if (hi - lo == 1)
      return a[lo].d;
    const double p = a[pick(&seed, lo, hi)].d;
    int64_t lt, gt;
    double wl, we;
    partition3(a, lo, hi, p, &lt, &gt, &wl, &we);
    if (lt > lo && below + wl >= t - slack)
      hi = lt;
    else if (below + wl + we >= t - slack || gt == hi)
      return p; /* gt == hi: nothing larger is left */
    else {
      below += wl + we;
      lo = gt;
    }
  }
}

/* The K-th smallest distance (0-based); afterwards every element past K
 * is >= it. */
static double
select_kth(dist_w *a, int64_t n, int64_t k)
{
  uint64_t seed = 0x9e3779b97f4a7c15u;
  int64_t lo = 0, hi = n;
  for (;;) {
    if (hi - lo == 1)
      return a[lo].d;
    const double p = a[pick(&seed, lo, hi)].d;
    int64_t lt, gt;
    double wl, we;
    partition3(a, lo, hi, p, &lt, &gt, &wl, &we);
    if (k < lt)
      hi = lt;
    else if (k < gt)
      return p;
    else
      lo = gt;
  }
}

/* numpy's default percentile ("linear", Hyndman & Fan type 7): position
 * (n-1) p/100, interpolated as numpy's _lerp does. */
static double
percentile_linear(dist_w *a, int64_t n, double p)
{
  const double pos = (double)(n - 1) * (p / 100.0);
  int64_t k = (int64_t)floor(pos);
  if (k < 0)
    k = 0;
  if (k > n - 1)
    k = n - 1;
  const double t = pos - (double)k;
  const double lo = select_kth(a, n, k);
  if (!(t > 0) || k + 1 >= n)
    return lo;
  double hi = a[k + 1].d;
  for (int64_t i = k + 2; i < n; i++)
    hi = a[i].d < hi ? a[i].d : hi;
  const double diff = hi - lo;
  return t >= 0.5 ? hi - diff * (1.0 - t) : lo + diff * t;
}

/* Summary of one direction: distances of every element of one surface to
 * the other surface. */
typedef struct {
  double max, sum_wd, sum_w;
  double within[SS_MAX_TOLERANCES]; /* weight with d <= tau */
  double pct[SS_MAX_PERCENTILES];
} directed;

static void
summarise(dist_w *a, int64_t n, const ss_plan *plan, bool weighted, directed *s)
{
  memset(s, 0, sizeof *s);
  for (int64_t i = 0; i < n; i++) { /* raster order: deterministic */
    s->max = a[i].d > s->max ? a[i].d : s->max;
    s->sum_wd += a[i].w * a[i].d;
    s->sum_w += a[i].w;
    for (int t = 0; t < plan->ntolerances; t++)
      if (a[i].d <= plan->nsd_tolerances_mm[t])
        s->within[t] += a[i].w;
  }
  for (int k = 0; k < plan->npercentiles; k++) {
    const double p = plan->percentiles[k];
    if (p >= 100)
      s->pct[k] = s->max;
    else if (weighted)
      s->pct[k] = select_weighted(a, n, p / 100.0 * s->sum_w,
                                  SS_PCT_SLACK * s->sum_w);
    else
      s->pct[k] = percentile_linear(a, n, p);
  }
}

/*---- Results -----------------------------------------------------------*/

static ss_metric
metric_of(double v)
{
  return (ss_metric){ isfinite(v) ? v : 0,
                      isfinite(v) ? SS_DEFINED : SS_NOT_FINITE };
}

/* Fill OUT for empty surfaces: WHY for every distance, NSD 0 unless both
 * are empty. */
static void
fill_empty(const ss_plan *plan, ss_undef why, ss_boundary *out)
{
  const ss_metric u = { 0, why };
  out->hd = out->hd_pred_to_ref = out->hd_ref_to_pred = u;
  for (int k = 0; k < SS_MAX_PERCENTILES; k++)
    out->hdp[k] = out->hdp_pred_to_ref[k] = out->hdp_ref_to_pred[k] = u;
  out->assd = out->masd = out->asd_pred_to_ref = out->asd_ref_to_pred = u;
  for (int t = 0; t < SS_MAX_TOLERANCES; t++)
    out->nsd[t] = why == SS_BOTH_EMPTY || t >= plan->ntolerances
                      ? u
                      : (ss_metric){ 0, SS_DEFINED };
}

static void
fill(const ss_plan *plan, const directed *p, const directed *r,
     ss_boundary *out)
{
  const double ap = p->sum_wd / p->sum_w, ar = r->sum_wd / r->sum_w;
  const double wsum = p->sum_w + r->sum_w;
  out->hd_pred_to_ref = metric_of(p->max);
  out->hd_ref_to_pred = metric_of(r->max);
  out->hd = metric_of(p->max > r->max ? p->max : r->max);
  for (int k = 0; k < plan->npercentiles; k++) {
    out->hdp_pred_to_ref[k] = metric_of(p->pct[k]);
    out->hdp_ref_to_pred[k] = metric_of(r->pct[k]);
    out->hdp[k] = metric_of(p->pct[k] > r->pct[k] ? p->pct[k] : r->pct[k]);
  }
  out->asd_pred_to_ref = metric_of(ap);
  out->asd_ref_to_pred = metric_of(ar);
  out->masd = metric_of(0.5 * (ap + ar));
  out->assd = metric_of((p->sum_wd + r->sum_wd) / wsum);
  for (int t = 0; t < plan->ntolerances; t++)
    out->nsd[t] = metric_of((p->within[t] + r->within[t]) / wsum);
}

/*---- The class ---------------------------------------------------------*/

static ss_status
check_plan(const ss_plan *plan, ss_error *err)
{
  if (plan->npercentiles < 0 || plan->npercentiles > SS_MAX_PERCENTILES
      || plan->ntolerances < 0 || plan->ntolerances > SS_MAX_TOLERANCES)
    return ss__fail(err, SS_EINVAL,
                    "boundary: too many percentiles or "
                    "tolerances");
  for (int k = 0; k < plan->npercentiles; k++)
    if (!(plan->percentiles[k] >= 0 && plan->percentiles[k] <= 100))
      return ss__fail(err, SS_EINVAL,
                      "boundary: percentile must be in [0, 100]");
  for (int t = 0; t < plan->ntolerances; t++)
    if (!(plan->nsd_tolerances_mm[t] >= 0)
        || !isfinite(plan->nsd_tolerances_mm[t]))
      return ss__fail(err, SS_EINVAL,
                      "boundary: NSD tolerance must be finite and >= 0");
  return SS_OK;
}

/* Work buffers of one class, released together. */
typedef struct {
  uint8_t *mp, *mr, *ig; /* framed crops */
  uint8_t *ep, *er;      /* element maps */
  double *dist2;
  dist_w *dp, *dr; /* pred -> ref, ref -> pred */
} work;

static void
work_free(work *w)
{
  free(w->mp);
  free(w->mr);
  free(w->ig);
  free(w->ep);
  free(w->er);
  free(w->dist2);
  free(w->dp);
  free(w->dr);
}

ss_status
ss__boundary_class(const ss__grid *g, const ss__mask *pred, const ss__mask *ref,
                   const ss__mask *ignore, const ss_plan *plan,
                   ss_boundary *out, ss_error *err)
{
  return ss__boundary_class_in(g, pred, ref, ignore, NULL, plan, out, err);
}

ss_status
ss__boundary_class_in(const ss__grid *g, const ss__mask *pred,
                      const ss__mask *ref, const ss__mask *ignore,
                      const ss__box *hint, const ss_plan *plan,
                      ss_boundary *out, ss_error *err)
{
  ss_plan defaults;
  if (plan == NULL) {
    ss_plan_init(&defaults);
    plan = &defaults;
  }
  if (g == NULL || pred == NULL || ref == NULL || out == NULL || g->nx <= 0
      || g->ny <= 0 || g->nz <= 0)
    return ss__fail(err, SS_EINVAL, "boundary: missing argument");
  ss_status st = check_plan(plan, err);
  if (st != SS_OK)
    return st;
  memset(out, 0, sizeof *out);
  const int threads = ss__threads(plan);
  const bool two_d = g->nz == 1, surfel = plan->surface == SS_SURFACE_SURFEL;
  const double sp[3] = { g->sp[0], g->sp[1], two_d ? 1.0 : g->sp[2] };

  ss__box reg = { { 0, 0, 0 }, { g->nx, g->ny, g->nz } };
  if (hint != NULL)
    for (int a = 0; a < 3; a++) {
      reg.lo[a] = hint->lo[a] > 0 ? hint->lo[a] : 0;
      reg.hi[a] = hint->hi[a] < reg.hi[a] ? hint->hi[a] : reg.hi[a];
      if (reg.hi[a] < reg.lo[a])
        reg.hi[a] = reg.lo[a]; /* empty hint: nothing inside */
    }
  bbox b;
  box_scan(g, pred, ref, &reg, threads, &b);
  if (!b.any_pred || !b.any_ref) {
    fill_empty(plan,
               !b.any_pred && !b.any_ref ? SS_BOTH_EMPTY
               : !b.any_pred             ? SS_PRED_EMPTY
                                         : SS_REF_EMPTY,
               out);
    return SS_OK;
  }

  frame fr = { b.bx + 2, b.by + 2, two_d ? 1 : b.bz + 2, two_d ? 0 : 1 };
  const int64_t ex = surfel ? fr.px - 1 : fr.px - 2;
  const int64_t ey = surfel ? fr.py - 1 : fr.py - 2;
  const int64_t ez = two_d ? 1 : surfel ? fr.pz - 1 : fr.pz - 2;
  uint64_t nf, ne, nd;
  if (!ss__mul_ok((uint64_t)fr.px * (uint64_t)fr.py, (uint64_t)fr.pz, &nf)
      || !ss__mul_ok((uint64_t)ex * (uint64_t)ey, (uint64_t)ez, &ne)
      || !ss__mul_ok(ne, sizeof(double), &nd) || nd > SIZE_MAX)
    return ss__fail(err, SS_ETOOBIG, "boundary: crop too large");

  work w = { 0 };
  w.mp = ss__big_alloc((size_t)nf);
  w.mr = ss__big_alloc((size_t)nf);
  w.ig = ignore ? ss__big_alloc((size_t)nf) : NULL;
  w.ep = ss__big_alloc((size_t)ne);
  w.er = ss__big_alloc((size_t)ne);
  w.dist2 = ss__big_alloc((size_t)nd);
  if (!w.mp || !w.mr || (ignore && !w.ig) || !w.ep || !w.er || !w.dist2) {
    st = ss__fail(err, SS_ENOMEM, "boundary: out of memory");
    goto fail;
  }
  crop_fill(g, &b, &fr, pred, w.mp, threads);
  crop_fill(g, &b, &fr, ref, w.mr, threads);
  if (ignore)
    crop_fill(g, &b, &fr, ignore, w.ig, threads);

  double wt[256];
  if (surfel)
    ss__surfel_weights(sp, two_d, wt);
  else
    for (int c = 0; c < 256; c++)
      wt[c] = c ? 1.0 : 0.0;
  if (surfel) {
    surfel_codes(w.mp, w.ig, &fr, two_d, w.ep, threads);
    surfel_codes(w.mr, w.ig, &fr, two_d, w.er, threads);
  } else {
    voxel_border(w.mp, w.ig, &fr, two_d, w.ep, threads);
    voxel_border(w.mr, w.ig, &fr, two_d, w.er, threads);
  }
  free(w.mp);
  free(w.mr);
  free(w.ig);
  w.mp = w.mr = w.ig = NULL;

  /* pred -> ref: distance map of the reference surface read at the
   * prediction's elements; then the other way round. */
  int64_t np = 0, nr = 0;
  st = ss__edt_sq_at(w.er, w.ep, ex, ey, ez, sp, w.dist2, threads, err);
  if (st == SS_OK)
    st = gather(w.ep, w.dist2, ex, ey, ez, wt, threads, &w.dp, &np, err);
  if (st == SS_OK)
    st = ss__edt_sq_at(w.ep, w.er, ex, ey, ez, sp, w.dist2, threads, err);
  if (st == SS_OK)
    st = gather(w.er, w.dist2, ex, ey, ez, wt, threads, &w.dr, &nr, err);
  if (st != SS_OK)
    goto fail;

  if (np == 0 || nr == 0) { /* every element fell in the ignore region */
    fill_empty(plan,
               np == 0 && nr == 0 ? SS_BOTH_EMPTY
               : np == 0          ? SS_PRED_EMPTY
                                  : SS_REF_EMPTY,
               out);
  } else {
    directed dpr, drp;
    summarise(w.dp, np, plan, surfel, &dpr);
    summarise(w.dr, nr, plan, surfel, &drp);
    fill(plan, &dpr, &drp, out);
  }
  work_free(&w);
  return SS_OK;

fail:
  work_free(&w);
  return st;
}
