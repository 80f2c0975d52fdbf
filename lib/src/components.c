/* components.c - connected-component labelling of a 3-D binary mask
 * (ss__components, declared in internal.h).  Used by the lesion-wise
 * metrics (lesions.c) and the lesion + pixel compound loss.
 * SPDX-License-Identifier: MIT
 *
 * Method: union-find over voxel indices stored in the output array itself
 * (no extra per-voxel memory), run per slab of z-planes in parallel, then
 * the slab boundaries are merged serially.  Every union links the larger
 * root under the smaller one, so a component's root is its first voxel in
 * raster order; numbering the roots in raster order gives labels that do
 * not depend on the slab split or the thread count.  Scan-plus-union-find
 * labelling: Wu, Otoo & Suzuki, "Optimizing two-pass connected-component
 * labeling algorithms", Pattern Anal. Appl. 12 (2009); slab-parallel
 * merging as in Gupta et al., "Parallel connected component labeling"
 * (the block-then-boundary scheme).
 *
 * During the work labels[i] holds parent(i) + 1 (0 = background), so
 * voxel indices must fit in int32_t; afterwards it holds component ids.
 */
#include "internal.h"

#include <stdlib.h>

/* A backward neighbour: an offset to a voxel that precedes the current one
 * in raster order (x fastest, then y, then z). */
typedef struct {
  int dx, dy, dz;
} nb_offset;

/* Fill OFF with the backward half of the 6/18/26 neighbourhood; returns
 * the count (3, 9 or 13). */
static int
backward_offsets(int connectivity, nb_offset off[13])
{
  int n = 0;
  for (int dz = -1; dz <= 0; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        if (dz == 0 && (dy > 0 || (dy == 0 && dx >= 0)))
          continue;
        int order = abs(dx) + abs(dy) + abs(dz);
        if ((connectivity == 6 && order > 1) ||
            (connectivity == 18 && order > 2))
          continue;
        off[n++] = (nb_offset){ dx, dy, dz };
      }
  return n;
}

/* Root of X without writing anything (phase 2 must not create new
 * cross-slab pointers from non-root voxels). */
static int32_t
walk_root(const int32_t *lab, int32_t x)
{
  int32_t p;
  while ((p = lab[x] - 1) != x)
    x = p;
  return x;
}

/* Root of X with path halving; only for voxels of the caller's own slab. */
static int32_t
find_halving(int32_t *lab, int32_t x)
{
  int32_t p;
  while ((p = lab[x] - 1) != x) {
    int32_t gp = lab[p] - 1;
    lab[x] = gp + 1;
    x = gp;
  }
  return x;
}

/* The offsets still worth visiting when the left neighbour (-1,0,0) is in
 * the mask: O is skipped when O + (1,0,0) is itself a backward offset,
 * because that voxel is then a backward neighbour of the left voxel and
 * already joined to it (same bounds, same slab).  26: 4 of 12 remain; 18:
 * 4 of 8; 6: 2 of 2.  The left offset itself is not listed. */
static int
after_left_offsets(const nb_offset *off, int noff, nb_offset *out)
{
  int n = 0;
  for (int k = 0; k < noff; k++) {
    if (off[k].dx == -1 && off[k].dy == 0 && off[k].dz == 0)
      continue;
    bool covered = false;
    for (int q = 0; q < noff; q++)
      covered |= off[q].dx == off[k].dx + 1 && off[q].dy == off[k].dy &&
                 off[q].dz == off[k].dz;
    if (!covered)
      out[n++] = off[k];
  }
  return n;
}

/* Join voxel I (root RI) with the set of J; returns I's root.  The smaller
 * root wins, so a root stays the first voxel of its set in raster order. */
static inline int32_t
join(int32_t *lab, int32_t ri, int64_t j)
{
  if (lab[j] - 1 == ri)
    return ri;
  int32_t rj = find_halving(lab, (int32_t)j);
  if (rj < ri) {
    lab[ri] = rj + 1;
    return rj;
  }
  if (rj > ri)
    lab[rj] = ri + 1;
  return ri;
}

/* Phase 1: label the planes [z0, z1) looking only at neighbours inside the
 * slab.  RI is kept as the root of the current voxel, so a neighbour that
 * already points at it (the common case inside an object) costs one load.
 * When the left voxel is in the mask only the offsets of AFTER are left to
 * visit (after_left_offsets). */
static void
label_slab(const uint8_t *mask, int32_t *lab, int64_t nx, int64_t ny,
           int64_t z0, int64_t z1, const nb_offset *all, int nall,
           const nb_offset *after, int nafter)
{
  const int64_t plane = nx * ny;
  for (int64_t z = z0; z < z1; z++)
    for (int64_t y = 0; y < ny; y++) {
      int64_t row = z * plane + y * nx;
      for (int64_t x = 0; x < nx; x++) {
        int64_t i = row + x;
        if (!mask[i]) {
          lab[i] = 0;
          continue;
        }
        int32_t ri = (int32_t)i;
        lab[i] = ri + 1;
        const nb_offset *off = all;
        int noff = nall;
        if (x > 0 && mask[i - 1]) {
          ri = find_halving(lab, (int32_t)(i - 1));
          lab[i] = ri + 1;
          off = after;
          noff = nafter;
        }
        for (int k = 0; k < noff; k++) {
          int64_t xx = x + off[k].dx, yy = y + off[k].dy, zz = z + off[k].dz;
          if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < z0)
            continue;
          int64_t j = i + off[k].dx + off[k].dy * nx + off[k].dz * plane;
          if (mask[j])
            ri = join(lab, ri, j);
        }
      }
    }
}

/* Phase 2 (serial): join the sets across the boundary below plane Z.
 * Links only roots and records each linked root in LINKED. */
static void
merge_boundary(const uint8_t *mask, int32_t *lab, int64_t nx, int64_t ny,
               int64_t z, const nb_offset *off, int noff, int32_t *linked,
               int64_t *nlinked)
{
  const int64_t plane = nx * ny;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      int64_t i = z * plane + y * nx + x;
      if (!mask[i])
        continue;
      for (int k = 0; k < noff; k++) {
        if (off[k].dz != -1)
          continue;
        int64_t xx = x + off[k].dx, yy = y + off[k].dy;
        if (xx < 0 || xx >= nx || yy < 0 || yy >= ny)
          continue;
        int64_t j = i + off[k].dx + off[k].dy * nx - plane;
        if (!mask[j])
          continue;
        int32_t ra = walk_root(lab, (int32_t)i);
        int32_t rb = walk_root(lab, (int32_t)j);
        if (ra == rb)
          continue;
        int32_t lo = ra < rb ? ra : rb, hi = ra < rb ? rb : ra;
        lab[hi] = lo + 1;
        linked[(*nlinked)++] = hi;
      }
    }
}

/* Phase 3: point every voxel of [lo, hi) straight at its global root and
 * return how many roots the slab holds.  After the serial fix-up only
 * linked roots point out of their slab, and always at a global root, so a
 * walk stops as soon as it leaves the slab. */
static int64_t
flatten_slab(int32_t *lab, int64_t lo, int64_t hi)
{
  int64_t roots = 0;
  for (int64_t i = lo; i < hi; i++) {
    if (lab[i] == 0)
      continue;
    int64_t x = i, p;
    for (;;) {
      p = lab[x] - 1;
      if (p == x || p < lo || p >= hi)
        break;
      x = p;
    }
    lab[i] = (int32_t)p + 1;
    roots += p == i;
  }
  return roots;
}

ss_status
ss__components(const uint8_t *mask, int64_t nx, int64_t ny, int64_t nz,
               int connectivity, int32_t *labels_out, int32_t *ncomp,
               int threads, ss_error *err)
{
  if (mask == NULL || labels_out == NULL || ncomp == NULL)
    return ss__fail(err, SS_EINVAL, "components: NULL argument");
  if (connectivity != 6 && connectivity != 18 && connectivity != 26)
    return ss__fail(err, SS_EINVAL,
                    "components: connectivity must be 6, 18 or 26, not %d",
                    connectivity);
  if (nx < 1 || ny < 1 || nz < 1)
    return ss__fail(err, SS_EINVAL, "components: empty grid");
  uint64_t plane_u, nvox_u;
  if (!ss__mul_ok((uint64_t)nx, (uint64_t)ny, &plane_u) ||
      !ss__mul_ok(plane_u, (uint64_t)nz, &nvox_u) || nvox_u >= INT32_MAX)
    return ss__fail(err, SS_ETOOBIG,
                    "components: more than 2^31 - 2 voxels");
  const int64_t plane = (int64_t)plane_u, nvox = (int64_t)nvox_u;

  nb_offset off[13], after[13];
  const int noff = backward_offsets(connectivity, off);
  const int nafter = after_left_offsets(off, noff, after);

  int nslab = nvox >= SS_PAR_MIN_VOXELS ? threads : 1;
  if (nslab < 1)
    nslab = 1;
  if (nslab > nz)
    nslab = (int)nz;

  /* Slab s holds the planes [zs[s], zs[s + 1]). */
  int64_t *zs = malloc(sizeof *zs * (size_t)(2 * nslab + 1));
  int32_t *linked = NULL;
  if (zs == NULL)
    return ss__fail(err, SS_ENOMEM, "components: out of memory");
  int64_t *roots = zs + nslab + 1;
  for (int s = 0; s <= nslab; s++)
    zs[s] = nz * s / nslab;
  if (nslab > 1) {
    /* Each link merges two sets that own a voxel of a boundary plane. */
    linked = malloc(sizeof *linked * (size_t)(2 * plane * (nslab - 1)));
    if (linked == NULL) {
      free(zs);
      return ss__fail(err, SS_ENOMEM, "components: out of memory");
    }
  }

#pragma omp parallel for num_threads(nslab) schedule(static, 1) \
        if(nslab > 1)
  for (int s = 0; s < nslab; s++)
    label_slab(mask, labels_out, nx, ny, zs[s], zs[s + 1], off, noff, after,
               nafter);

  int64_t nlinked = 0;
  for (int s = 1; s < nslab; s++)
    merge_boundary(mask, labels_out, nx, ny, zs[s], off, noff, linked,
                   &nlinked);
  for (int64_t k = 0; k < nlinked; k++) {
    int32_t r = linked[k];
    labels_out[r] = walk_root(labels_out, r) + 1;
  }

#pragma omp parallel for num_threads(nslab) schedule(static, 1) \
        if(nslab > 1)
  for (int s = 0; s < nslab; s++)
    roots[s] = flatten_slab(labels_out, zs[s] * plane, zs[s + 1] * plane);

  /* Roots are first voxels, so numbering them slab by slab in raster
   * order numbers the components in raster order of their first voxel. */
  int64_t total = 0;
  for (int s = 0; s < nslab; s++) {
    int64_t n = roots[s];
    roots[s] = total;
    total += n;
  }

  /* Roots get -id; then every other voxel copies its root's id; then the
   * roots flip sign.  Three loops, so no slab reads what another writes. */
#pragma omp parallel for num_threads(nslab) schedule(static, 1) \
        if(nslab > 1)
  for (int s = 0; s < nslab; s++) {
    int32_t id = (int32_t)roots[s];
    for (int64_t i = zs[s] * plane; i < zs[s + 1] * plane; i++)
      if (labels_out[i] == i + 1)
        labels_out[i] = -(++id);
  }
#pragma omp parallel for num_threads(nslab) schedule(static, 1) \
        if(nslab > 1)
  for (int s = 0; s < nslab; s++)
    for (int64_t i = zs[s] * plane; i < zs[s + 1] * plane; i++)
      if (labels_out[i] > 0)
        labels_out[i] = -labels_out[labels_out[i] - 1];
#pragma omp parallel for num_threads(nslab) schedule(static, 1) \
        if(nslab > 1)
  for (int s = 0; s < nslab; s++)
    for (int64_t i = zs[s] * plane; i < zs[s + 1] * plane; i++)
      if (labels_out[i] < 0)
        labels_out[i] = -labels_out[i];

  free(linked);
  free(zs);
  *ncomp = (int32_t)total;
  return SS_OK;
}
