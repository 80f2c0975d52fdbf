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
  void *block;           /* decompressed file; idx or data may live in it */
  bool idx_in_block, data_in_block;
  const char *nolabel_reason; /* why there is no label map (static text) */
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
#ifdef __clang_analyzer__
/* The analyzer cannot see into status.c: tell it the code passed in is
 * the code returned, so "set on SS_OK" out-pointers are not taken for
 * NULL dereferences (make lint). */
#define ss__fail(err, code, ...) (ss__fail((err), (code), __VA_ARGS__), (code))
#endif

/* Checked size arithmetic: return false on overflow. */
static inline bool
ss__mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
  return !__builtin_mul_overflow(a, b, out);
}

/* A buffer for volume data (mem.c): huge-page friendly when large.
 * Release with free(). */
void *ss__big_alloc(size_t size);

/* Milliseconds from a monotonic clock. */
double ss__now_ms(void);

/* OpenMP team size for a plan (>= 1). */
int ss__threads(const ss_plan *plan);

/*---- Kernels shared between topics (one implementation each) ----------*/

/* Exact squared Euclidean distance transform with anisotropic spacing
 * (edt.c).  For every voxel of the nx*ny*nz grid (x fastest), OUT gets
 * the squared distance in mm^2 to the nearest voxel whose FEATURE byte is
 * non-zero, or HUGE_VAL when there is none.  SP is the spacing in mm.
 * Separable and linear time; parallel over lines with THREADS threads;
 * identical results for any thread count. */
SS_NODISCARD ss_status ss__edt_sq(const uint8_t *feature, int64_t nx,
                                  int64_t ny, int64_t nz, const double sp[3],
                                  double *out, int threads, ss_error *err);

/* ss__edt_sq where only the voxels whose QUERY byte is non-zero are
 * needed: OUT holds the same values there and is unspecified elsewhere
 * (the last 1-D pass skips lines without a query and evaluates only at
 * queries).  Used for surface distances. */
SS_NODISCARD ss_status ss__edt_sq_at(const uint8_t *feature,
                                     const uint8_t *query, int64_t nx,
                                     int64_t ny, int64_t nz,
                                     const double sp[3], double *out,
                                     int threads, ss_error *err);

/* One class's boundary metrics (boundary.c): crops to the union bounding
 * box of PRED and REF plus a margin, extracts surfaces per plan->surface,
 * and fills OUT (percentiles, tolerances from the plan).  IGNORE, when
 * not NULL, marks reference voxels whose value is the ignore label. */
SS_NODISCARD ss_status ss__boundary_class(const ss__grid *g,
                                          const ss__mask *pred,
                                          const ss__mask *ref,
                                          const ss__mask *ignore,
                                          const ss_plan *plan,
                                          ss_boundary *out, ss_error *err);

/* A voxel box [lo, hi) per axis (x, y, z); empty when hi <= lo. */
typedef struct {
  int64_t lo[3], hi[3];
} ss__box;

/* Bounding box of every label index of the label map V (boundary.c), in
 * one pass: *OUT gets v->nlabels boxes (free with free()).  The box of
 * label value 0 is the whole grid (background is skipped, not tracked);
 * a label without voxels gets an empty box. */
SS_NODISCARD ss_status ss__label_boxes(const ss_volume *v, int threads,
                                       ss__box **out, ss_error *err);

/* Grow ACC by the boxes of the N label indices whose MEMBER byte is set. */
void ss__box_union(ss__box *acc, const ss__box *boxes, const uint8_t *member,
                   int n);

/* ss__boundary_class with HINT, a box known to contain every voxel of PRED
 * and REF (e.g. from ss__label_boxes), so only it is scanned; NULL scans
 * the whole grid.  Same results. */
SS_NODISCARD ss_status ss__boundary_class_in(const ss__grid *g,
                                             const ss__mask *pred,
                                             const ss__mask *ref,
                                             const ss__mask *ignore,
                                             const ss__box *hint,
                                             const ss_plan *plan,
                                             ss_boundary *out,
                                             ss_error *err);

/* Weight of one surface element of neighbourhood CODE (boundary.c): the
 * area in mm^2 of the surfel of a 2x2x2 code (0..255), or with TWO_D the
 * length in mm of the contour of a 2x2 code (0..15), under spacing SP.
 * 0 for "no surfel" codes.  Derivation in docs/boundary.md. */
double ss__surfel_weight(int code, const double sp[3], bool two_d);

/* ss__surfel_weight of every code 0..255 into WT (0 past 15 in 2-D), bit
 * for bit the same values, in one pass: what a class computes first. */
void ss__surfel_weights(const double sp[3], bool two_d, double wt[256]);

/* Connected components of MASK (non-zero bytes) with connectivity 6, 18
 * or 26 (components.c).  LABELS_OUT (nvox int32) gets 0 for background
 * and 1..*NCOMP for components, numbered in raster order of their first
 * voxel, so the result does not depend on the thread count. */
SS_NODISCARD ss_status ss__components(const uint8_t *mask, int64_t nx,
                                      int64_t ny, int64_t nz,
                                      int connectivity, int32_t *labels_out,
                                      int32_t *ncomp, int threads,
                                      ss_error *err);

/*---- Losses and trade-offs (losses.c, loss_catalog.c, losses_ssim.c) ----*/

/* Fill the loss and trade-off parts of R: classes[i].losses,
 * classes[i].tradeoffs and r->losses, for the classes already listed in
 * R (label or region, as resolved by score.c).  PRED is a label map or
 * float channel data, REF a label map on the same grid (shapes checked by
 * the caller).  Channel c is label value c for float data; a label-map
 * prediction is one-hot over the union of labels (hard losses).  Errors:
 * SS_EPROB (bad probability, first bad voxel named), SS_ELABELS (a label
 * without a channel), SS_ERANGE (a per-channel list of the wrong length),
 * SS_ENOMEM.  Allocations it makes are released by ss__losses_release. */
SS_NODISCARD ss_status ss__losses_score(const ss_volume *pred,
                                        const ss_volume *ref,
                                        const ss_plan *plan, ss_report *r,
                                        ss_error *err);

/* Whether a plan asks for any loss or for trade-offs, for a prediction of
 * the resolved KIND (losses default to all for float predictions and none
 * for label maps; trade-offs are a default family for float predictions). */
bool ss__losses_wanted(const ss_plan *plan, ss_pred_kind kind);

/* Free what ss__losses_score allocated in R (ss_report_free calls it). */
void ss__losses_release(ss_report *r);

/* Mean 3-D structural similarity of a probability field against a binary
 * reference over the voxels where VALID is non-zero (losses_ssim.c).
 * P(i) is given by the callback-free form: P and G are nvox arrays, VALID
 * may be NULL.  Gaussian window of standard deviation SIGMA voxels,
 * truncated at radius ceil(3 sigma) and at the volume and VALID borders
 * (normalised convolution).  C1 = (0.01)^2, C2 = (0.03)^2, data range 1. */
SS_NODISCARD ss_status ss__ssim3d(const double *p, const uint8_t *g,
                                  const uint8_t *valid, int64_t nx,
                                  int64_t ny, int64_t nz, double sigma,
                                  int threads, double *out, ss_error *err);
/* Lesion-wise metrics of one class (lesions.c): components of PRED and
 * REF (minus IGNORE when not NULL) under plan->lesion, matching, counts
 * and per-lesion Dice and HD95.  BOX, when not NULL, is a voxel box
 * {x0, y0, z0, x1, y1, z1} (inclusive; x1 < x0 when empty) known to hold
 * every voxel of PRED and REF, which saves a pass over the grid.  On
 * SS_OK *OUT owns a new report (free with ss_lesion_report_free). */
SS_NODISCARD ss_status ss__lesions_class(const ss__grid *g,
                                         const ss__mask *pred,
                                         const ss__mask *ref,
                                         const ss__mask *ignore,
                                         const int64_t *box,
                                         const ss_plan *plan,
                                         ss_lesion_report **out,
                                         ss_error *err);

/* Lesion sections of every class of REP (lesions.c), called by ss_score
 * when SS_METRIC_LESIONS is asked: PM/RM are the per-class membership
 * tables over the label indices of P and R (stride nlabels + 1), IGNORE_R
 * the reference index of the ignore label or -1.  Fills
 * rep->classes[i].lesions. */
SS_NODISCARD ss_status ss__lesions_run(ss_report *rep, const ss_volume *p,
                                       const ss_volume *r,
                                       const ss_plan *plan,
                                       const uint8_t *pm, const uint8_t *rm,
                                       int ignore_r, ss_error *err);

#endif /* SS_INTERNAL_H */
