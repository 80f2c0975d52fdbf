/* internal.h - library-internal types and helpers (ss__ prefix).
 * Never installed, never included by service/.  SPDX-License-Identifier: MIT
 */
#ifndef SS_INTERNAL_H
#define SS_INTERNAL_H

#include "segscore.h"

#include <stdarg.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many voxels a kernel runs serially (thread start-up costs
 * more than the work). */
#define SS_PAR_MIN_VOXELS 65536

/* A decoded volume.  Label maps hold a dense index per voxel into the
 * ascending table labels[] (uint8 when nlabels <= 256, else uint16), so a
 * 512x512x200 uint8 map costs 52 MB whatever its label values are.
 * Float data hold channels * nvox float32 values, channel-major. */
struct ss_volume {
  ss_volume_info info;
  int64_t nvox;          /* spatial voxels nx*ny*nz */
  int idx_width;         /* 0 = no label map, 1 = uint8, 2 = uint16 */
  void *idx;
  int64_t *labels;       /* ascending distinct values */
  int nlabels;
  float *data;           /* NULL unless float data */
};

/* A binary mask seen through a label map: voxel i is in the mask when
 * member[idx[i]] is non-zero.  member has one entry per label index. */
typedef struct {
  const void *idx;
  int width;             /* 1 or 2 */
  const uint8_t *member;
} ss__mask;

static inline int
ss__mask_at(const ss__mask *m, int64_t i)
{
  unsigned k = m->width == 1 ? ((const uint8_t *)m->idx)[i]
                             : ((const uint16_t *)m->idx)[i];
  return m->member[k] != 0;
}

/* The voxel grid shared by prediction and reference. */
typedef struct {
  int64_t nx, ny, nz;
  double sp[3];          /* spacing in mm along x, y, z */
} ss__grid;

/* Set ERR (may be NULL) and return CODE.  The detail must never carry
 * patient data. */
ss_status ss__fail(ss_error *err, ss_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Checked size arithmetic: return false on overflow. */
static inline bool
ss__mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
  return !__builtin_mul_overflow(a, b, out);
}

/* Milliseconds from a monotonic clock. */
double ss__now_ms(void);

/* OpenMP team size for a plan (>= 1). */
int ss__threads(const ss_plan *plan);

#endif /* SS_INTERNAL_H */
