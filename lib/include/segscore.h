/* segscore.h - public API of the segscore scoring library.
 *
 * The library decodes NIfTI volumes from memory, runs overlap, surface,
 * loss and lesion kernels under a plan, and fills a plain C report.  It
 * knows nothing of HTTP or JSON text.  Definitions of every number are in
 * docs/metrics.md and docs/losses.md; conventions in ../shared/DESIGN.md.
 * SPDX-License-Identifier: MIT
 */
#ifndef SEGSCORE_H
#define SEGSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_VERSION "0.1.0"

#if defined(__GNUC__)
#define SS_NODISCARD __attribute__((warn_unused_result))
#else
#define SS_NODISCARD
#endif

/*---- Status codes ------------------------------------------------------*/

/* One list makes the enum, the names (stable problem-type slugs) and the
 * messages.  The service maps each code to an HTTP status in one table. */
#define SS_STATUS_MAP(X)                                                     \
  X(OK, "ok", "success")                                                     \
  X(ENOMEM, "out-of-memory", "out of memory")                                \
  X(EINVAL, "invalid-argument", "invalid argument")                          \
  X(ENIFTI, "invalid-nifti", "not a readable NIfTI-1/2 volume")              \
  X(ETRUNC, "truncated-nifti", "NIfTI data is truncated")                    \
  X(EGZIP, "invalid-gzip", "corrupt or truncated gzip stream")               \
  X(ETOOBIG, "too-large", "volume exceeds a configured limit")               \
  X(EDTYPE, "unsupported-datatype", "unsupported NIfTI datatype")            \
  X(ELABELS, "invalid-labels", "not a valid label map")                      \
  X(EPROB, "invalid-probabilities", "not a valid probability map")           \
  X(ESHAPE, "shape-mismatch", "prediction and reference grids differ")       \
  X(EGEOMETRY, "geometry-mismatch",                                          \
    "prediction and reference affines differ")                               \
  X(EOPTION, "unknown-option", "unknown option")                             \
  X(ETYPE, "invalid-option-type", "option has the wrong type")               \
  X(ERANGE, "option-out-of-range", "option value out of range")              \
  X(ECLASSES, "too-many-classes", "too many classes")                        \
  X(EINTERNAL, "internal-error", "internal error")

typedef enum {
#define X(name, slug, msg) SS_##name,
  SS_STATUS_MAP(X)
#undef X
  SS_STATUS_COUNT
} ss_status; /* SS_OK == 0 */

/* An error: the code, a detail a user can act on (never patient data:
 * no file names, no NIfTI description fields, no voxel values beyond
 * positions), and for option errors the offending field path. */
typedef struct {
  ss_status code;
  char detail[256];
  char field[96];
} ss_error;

/* Message for a status; never NULL. */
const char *ss_strerror(ss_status s);
/* Stable slug for a status ("shape-mismatch"); never NULL. */
const char *ss_status_name(ss_status s);

/*---- Limits ------------------------------------------------------------*/

/* Bounds applied while decoding untrusted bytes.  Zero fields take the
 * defaults below.  Every size is checked before anything is allocated. */
typedef struct {
  uint64_t max_voxels;     /* spatial voxels x channels */
  uint64_t max_bytes;      /* decompressed NIfTI bytes */
  int max_labels;          /* distinct label values in a label map */
} ss_limits;

#define SS_DEFAULT_MAX_VOXELS ((uint64_t)1 << 30)      /* 1 Gi voxels */
#define SS_DEFAULT_MAX_BYTES ((uint64_t)4 << 30)       /* 4 GiB */
#define SS_DEFAULT_MAX_LABELS 4096

/*---- Volumes -----------------------------------------------------------*/

typedef struct ss_volume ss_volume; /* opaque */

/* Header facts of a decoded volume (segscore inspect). */
typedef struct {
  int nifti_version;          /* 1 or 2 */
  int datatype;               /* NIfTI datatype code */
  const char *datatype_name;  /* "uint8", "float32", ... */
  bool swapped;               /* file was in the other byte order */
  bool gzip;                  /* input was gzip-compressed */
  int ndim;                   /* dim[0] from the header */
  int64_t dim[7];             /* dim[1..7] */
  int64_t nx, ny, nz;         /* spatial grid (ny, nz = 1 if absent) */
  int64_t channels;           /* product of dims 4 and 5 (1 for 3-D) */
  double spacing_mm[3];       /* |pixdim[1..3]| converted to mm */
  double affine[4][4];        /* voxel -> world (mm) */
  const char *affine_source;  /* "sform", "qform" or "pixdim" */
  int intent_code;
  double scl_slope, scl_inter; /* as in the header (0 slope = none) */
  bool scaled;                /* scaling was applied to the data */
  bool integral;              /* all values are integers: a label map */
  double min, max;            /* over all voxels, after scaling */
  int nlabels;                /* distinct values if integral, else 0 */
  const int64_t *labels;      /* ascending; borrowed from the volume */
} ss_volume_info;

/* Decode a NIfTI-1 or NIfTI-2 volume (.nii, or .nii.gz when the bytes
 * start with the gzip magic, multi-member streams included) from the
 * memory buffer BUF of LEN bytes.  Either byte order; every integer and
 * float datatype from int8/uint8 to int64/uint64, float32 and float64.
 * Integral unscaled data become a label map; float data (or scaled
 * integer data, scl_slope/scl_inter applied) are kept as float32 channel
 * data.  LIM may be NULL for defaults.  On SS_OK *OUT owns a new volume
 * (free with ss_volume_free); otherwise *OUT is NULL and ERR says why:
 * SS_ENIFTI, SS_ETRUNC, SS_EGZIP, SS_ETOOBIG, SS_EDTYPE, SS_ENOMEM.
 * Never prints anything; never keeps BUF. */
SS_NODISCARD ss_status ss_volume_read_mem(const void *buf, size_t len,
                                          const ss_limits *lim,
                                          ss_volume **out, ss_error *err);

/* Release a volume; NULL is allowed. */
void ss_volume_free(ss_volume *v);

/* Fill INFO with the header facts of V (pointers borrowed from V). */
void ss_volume_info_get(const ss_volume *v, ss_volume_info *info);

/* Build an in-memory volume from a label array (for tests and tools).
 * LABELS has nx*ny*nz values in NIfTI order (x fastest); SPACING_MM may
 * be NULL for 1 mm.  The affine is the diagonal of the spacing. */
SS_NODISCARD ss_status ss_volume_from_labels(const int32_t *labels,
                                             int64_t nx, int64_t ny,
                                             int64_t nz,
                                             const double *spacing_mm,
                                             ss_volume **out, ss_error *err);

/* Build a float volume with C channels (channel-major, x fastest). */
SS_NODISCARD ss_status ss_volume_from_floats(const float *data, int64_t nx,
                                             int64_t ny, int64_t nz,
                                             int64_t channels,
                                             const double *spacing_mm,
                                             ss_volume **out, ss_error *err);

/*---- Undefined values --------------------------------------------------*/

/* Why a value is missing.  Reported as JSON null plus this reason. */
#define SS_UNDEF_MAP(X)                                                      \
  X(DEFINED, "defined")                                                      \
  X(BOTH_EMPTY, "both_empty")                                                \
  X(PRED_EMPTY, "pred_empty")                                                \
  X(REF_EMPTY, "ref_empty")                                                  \
  X(ZERO_DENOMINATOR, "zero_denominator")                                    \
  X(NOT_FINITE, "not_finite")                                                \
  X(NO_VALID_VALUES, "no_valid_values")

typedef enum {
#define X(name, str) SS_##name,
  SS_UNDEF_MAP(X)
#undef X
} ss_undef;

/* A metric value, or why there is none.  value is 0 when undefined. */
typedef struct {
  double value;
  ss_undef why;
} ss_metric;

const char *ss_undef_name(ss_undef why); /* "pred_empty"; never NULL */

/*---- Plans (what to compute) -------------------------------------------*/

typedef enum {
  SS_KIND_AUTO = 0,
  SS_KIND_LABELS,
  SS_KIND_PROBABILITIES,
  SS_KIND_LOGITS
} ss_pred_kind;

typedef enum { SS_SURFACE_SURFEL = 0, SS_SURFACE_VOXEL } ss_surface_mode;

enum {
  SS_METRIC_OVERLAP = 1u << 0,
  SS_METRIC_BOUNDARY = 1u << 1,
  SS_METRIC_TRADEOFFS = 1u << 2,
  SS_METRIC_LESIONS = 1u << 3
};

#define SS_MAX_BETAS 8
#define SS_MAX_PERCENTILES 8
#define SS_MAX_TOLERANCES 8
#define SS_MAX_REGIONS 64
#define SS_MAX_REGION_LABELS 64
#define SS_NAME_MAX 64

/*---- Losses and trade-offs: plan part (losses.c, docs/losses.md) -------*/

/* Every loss, in catalog order: the enum, the names (catalog and report
 * keys) come from this one list. */
#define SS_LOSS_MAP(X)                                                       \
  X(CE, "ce")                                                                \
  X(WCE, "wce")                                                              \
  X(DICE, "dice")                                                            \
  X(DICE_SQUARED, "dice_squared")                                            \
  X(GDL, "gdl")                                                              \
  X(JACCARD, "jaccard")                                                      \
  X(DICE_BCE, "dice_bce")                                                    \
  X(HYBRID, "hybrid_bce_iou_ssim")                                           \
  X(TOPK, "topk")                                                            \
  X(TOPK_THRESHOLD, "topk_threshold")                                        \
  X(FOCAL, "focal")                                                          \
  X(TVERSKY, "tversky")                                                      \
  X(FOCAL_TVERSKY, "focal_tversky")                                          \
  X(FOCAL_DICE, "focal_dice")                                                \
  X(DICE_FOCAL, "dice_focal")                                                \
  X(ASYM, "asym")                                                            \
  X(PGDL, "pgdl")                                                            \
  X(LESION_COMPOUND, "lesion_compound")                                      \
  X(DPCE, "dpce")                                                            \
  X(BOUNDARY_AWARE, "boundary_aware")                                        \
  X(BOUNDARY_KERVADEC, "boundary_kervadec")                                  \
  X(HAUSDORFF_DT, "hausdorff_dt")

typedef enum {
#define X(id, name) SS_LOSS_##id,
  SS_LOSS_MAP(X)
#undef X
  SS_LOSS_COUNT
} ss_loss_id;

#define SS_LOSS_MAX_PARAMS 4
#define SS_MAX_COMPOUND 16
#define SS_MAX_TRADEOFF_PAIRS 16
#define SS_MIN_PR_BINS 1000
#define SS_MAX_PR_BINS 100000

/* One loss parameter as the catalog lists it.  A value v is in range when
 * min <= v <= max, with the ends excluded when min_open / max_open. */
typedef struct {
  const char *name;          /* key in loss_params */
  double def, min, max;
  bool min_open, max_open;
  bool per_class;            /* a list with one value per channel */
  const char *units;         /* "1", "percent", "mm", "voxels" */
  const char *meaning;
} ss_loss_param_info;

/* One catalog entry (names, parameters, citation, formula reference). */
typedef struct {
  ss_loss_id id;
  const char *name;          /* report key */
  const char *title;
  const char *family;        /* "distribution", "region", "compound",
                                "boundary" */
  const char *formula;       /* plain-text formula */
  const char *doc;           /* "docs/losses.md#<name>" */
  const char *citation;
  bool per_class;            /* has per-class values (classes[i].losses) */
  bool has_score;            /* loss = 1 - score, score reported */
  int nparams;
  ss_loss_param_info params[SS_LOSS_MAX_PARAMS];
} ss_loss_info;

/* The catalog: SS_LOSS_COUNT entries in enum order; *N (may be NULL) gets
 * the count.  Static storage, never NULL. */
const ss_loss_info *ss_loss_catalog(int *n);

/* Catalog index of a loss name, or -1 when unknown. */
int ss_loss_find(const char *name);

typedef enum {
  SS_WEIGHTS_UNIFORM = 0,
  SS_WEIGHTS_INVERSE_FREQUENCY,
  SS_WEIGHTS_MEDIAN_FREQUENCY,
  SS_WEIGHTS_LIST
} ss_class_weighting;

typedef struct {
  ss_loss_id loss;
  double weight;
} ss_compound_term;

/* What the loss kernels compute.  ss_plan_init fills the catalog defaults;
 * the two lists are owned by the plan (ss_plan_clear). */
typedef struct {
  uint32_t set;              /* bit (1u << ss_loss_id) per loss */
  bool set_given;            /* losses given explicitly (else: "all" for
                                probabilities/logits, none for labels) */
  double params[SS_LOSS_COUNT][SS_LOSS_MAX_PARAMS]; /* catalog order */
  double *focal_alpha;       /* per channel; NULL = 1 for every class */
  int nfocal_alpha;
  ss_class_weighting weighting;
  double *weights;           /* SS_WEIGHTS_LIST: one per channel */
  int nweights;
  int ncompound;             /* 0 = no compound */
  ss_compound_term compound[SS_MAX_COMPOUND];
  /* Trade-offs (metrics "tradeoffs"). */
  int ntversky;              /* (alpha, beta) pairs */
  double tversky_grid[SS_MAX_TRADEOFF_PAIRS][2];
  int nfbeta;
  double fbeta_betas[SS_MAX_BETAS];
  int pr_bins;               /* >= SS_MIN_PR_BINS; default 1000 */
  int ece_bins;              /* equal-width bins on [0, 1]; default 15 */
} ss_loss_plan;

#define SS_LOSS_ALL ((uint32_t)((1ull << SS_LOSS_COUNT) - 1))

/* Defaults of the catalog (called by ss_plan_init), and release. */
void ss_loss_plan_init(ss_loss_plan *lp);
void ss_loss_plan_clear(ss_loss_plan *lp);

/* Set parameter PARAM of LOSS: SS_EOPTION for a name the catalog does not
 * list for that loss (or a per-class parameter given a scalar), SS_ERANGE
 * for a value outside the catalog range. */
SS_NODISCARD ss_status ss_loss_param_set(ss_loss_plan *lp, ss_loss_id loss,
                                         const char *param, double value,
                                         ss_error *err);
/* Per-class list parameter (focal "alpha"): N values, each in range. */
SS_NODISCARD ss_status ss_loss_param_set_list(ss_loss_plan *lp,
                                              ss_loss_id loss,
                                              const char *param,
                                              const double *values, int n,
                                              ss_error *err);
/* Explicit class weights (one per channel, each >= 0, finite). */
SS_NODISCARD ss_status ss_loss_plan_set_weights(ss_loss_plan *lp,
                                                const double *w, int n,
                                                ss_error *err);

/* A region: a union of labels scored as one binary mask. */
typedef struct {
  char name[SS_NAME_MAX];
  int nlabels;
  int64_t labels[SS_MAX_REGION_LABELS];
} ss_region;

/*---- Lesion options (docs/lesions.md) ---------------------------------*/

/* How predicted lesions are matched to reference lesions. */
typedef enum {
  SS_LESION_MATCH_ANY_OVERLAP = 0, /* one shared voxel (BraTS 2023) */
  SS_LESION_MATCH_IOU              /* IoU >= iou_threshold, greedy 1:1 */
} ss_lesion_match;

/* Which side the minimum lesion size applies to. */
typedef enum {
  SS_LESION_MIN_BOTH = 0,      /* small lesions of either side are left out */
  SS_LESION_MIN_REFERENCE      /* only reference lesions (BraTS 2023) */
} ss_lesion_min_side;

/* Lesion-wise metric options; ss_plan_init sets the defaults noted. */
typedef struct {
  int connectivity;            /* 6, 18 or 26 (default 26) */
  ss_lesion_match match;       /* default any_overlap */
  double iou_threshold;        /* (0, 1], default 0.5; match = iou only */
  int64_t min_voxels;          /* keep lesions with >= this many voxels */
  double min_volume_mm3;       /* and >= this volume; 0 = no minimum */
  ss_lesion_min_side min_side; /* default both */
  int dilation_voxels;         /* 0..SS_LESION_MAX_DILATION iterations of
                                  an 18-neighbour dilation of the
                                  reference before matching (any_overlap
                                  only); default 0 */
  bool list_lesions;           /* report the per-lesion lists (default
                                  true; the counts are always there) */
} ss_lesion_options;

#define SS_LESION_MAX_DILATION 32

/* Set O to the defaults above. */
void ss_lesion_options_init(ss_lesion_options *o);

/* What to compute and under which conventions.  Initialise with
 * ss_plan_init (DESIGN.md defaults); the arrays are owned by the plan
 * and released by ss_plan_clear. */
typedef struct {
  ss_pred_kind kind;
  unsigned metrics;          /* SS_METRIC_* bits; 0 = defaults for kind */
  bool metrics_set;          /* metrics was given explicitly */
  int64_t *labels;           /* classes to score; NULL = auto */
  int nlabels;
  bool include_background;
  ss_region *regions;
  int nregions;
  bool has_ignore;
  int64_t ignore_label;
  int nbetas;
  double betas[SS_MAX_BETAS];           /* F-beta, default {0.5, 2} */
  ss_surface_mode surface;
  int npercentiles;
  double percentiles[SS_MAX_PERCENTILES]; /* default {95} */
  int ntolerances;
  double nsd_tolerances_mm[SS_MAX_TOLERANCES]; /* default {1.0} */
  double threshold;          /* single-channel binarisation, 0.5 */
  bool has_both_empty_dice;
  double both_empty_dice;    /* value for Dice/Jaccard when both empty */
  bool has_worst_distance;
  double worst_distance_mm;  /* substituted in summaries only */
  bool check_geometry;       /* default true */
  double geometry_tol_mm;    /* 1e-3 */
  double smooth_nr, smooth_dr; /* 1e-5, 1e-5 */
  int threads;               /* OpenMP team size; 0 = runtime default */
  ss_loss_plan loss;         /* losses and trade-offs (losses.c) */
  ss_lesion_options lesion;  /* SS_METRIC_LESIONS only */
} ss_plan;

void ss_plan_init(ss_plan *plan);
void ss_plan_clear(ss_plan *plan);

/*---- Confusion counts and overlap metrics ------------------------------*/

/* Exact voxel counts of one class.  Voxels whose reference value is the
 * ignore label are excluded from all four. */
typedef struct {
  int64_t tp, fp, fn, tn;
} ss_confusion;

/* Overlap metrics from counts (docs/metrics.md).  Empty-mask rules of
 * DESIGN.md section 3: Dice/Jaccard both empty -> BOTH_EMPTY (unless the
 * plan gives both_empty_dice); precision with an empty prediction and
 * recall with an empty reference -> undefined. */
ss_metric ss_dice(const ss_confusion *c);
ss_metric ss_jaccard(const ss_confusion *c);
ss_metric ss_precision(const ss_confusion *c);
ss_metric ss_recall(const ss_confusion *c);
ss_metric ss_specificity(const ss_confusion *c);
ss_metric ss_fbeta(const ss_confusion *c, double beta);
ss_metric ss_voe(const ss_confusion *c);
ss_metric ss_rvd(const ss_confusion *c);
ss_metric ss_volume_similarity(const ss_confusion *c);

/*---- Boundary metrics --------------------------------------------------*/

/* Surface-distance metrics of one class, in mm (docs/boundary.md).
 * "pred_to_ref": from each surface element of the prediction to the
 * nearest surface element of the reference. */
typedef struct {
  ss_metric hd, hd_pred_to_ref, hd_ref_to_pred;
  ss_metric hdp[SS_MAX_PERCENTILES];
  ss_metric hdp_pred_to_ref[SS_MAX_PERCENTILES];
  ss_metric hdp_ref_to_pred[SS_MAX_PERCENTILES];
  ss_metric assd, masd, asd_pred_to_ref, asd_ref_to_pred;
  ss_metric nsd[SS_MAX_TOLERANCES];
} ss_boundary;

/*---- Reports -----------------------------------------------------------*/

/*---- Losses and trade-offs: report part (losses.c) ---------------------*/

/* Per-class loss values.  Bit (1u << id) of HAVE says loss[id] (and
 * score[id] when the catalog has_score) is filled for this class. */
typedef struct {
  uint32_t have;
  ss_metric loss[SS_LOSS_COUNT];
  ss_metric score[SS_LOSS_COUNT];
} ss_class_losses;

/* Per-class trade-offs.  The PR curve arrays have npr entries each and
 * belong to the report (freed by ss_report_free). */
typedef struct {
  bool have;
  int ntversky;
  double tversky_alpha[SS_MAX_TRADEOFF_PAIRS];
  double tversky_beta[SS_MAX_TRADEOFF_PAIRS];
  ss_metric tversky[SS_MAX_TRADEOFF_PAIRS];
  int nfbeta;
  double fbeta_beta[SS_MAX_BETAS];
  ss_metric fbeta[SS_MAX_BETAS];
  bool have_prob;            /* the rest: probability / logit inputs only */
  int npr;
  double *pr_threshold;
  ss_metric *pr_precision, *pr_recall;
  ss_metric average_precision;
  ss_metric best_threshold, best_dice;
  ss_metric brier, ece;
  int ece_bins;
} ss_class_tradeoffs;

/* Case-level loss values (summary.losses). */
typedef struct {
  bool computed;
  bool hard;                 /* prediction was a label map: one-hot */
  uint32_t have;
  ss_metric loss[SS_LOSS_COUNT];
  ss_metric score[SS_LOSS_COUNT];
  bool has_compound;
  ss_metric compound;
  int nweights;              /* class weights used by wce / focal_dice */
  double *weights;           /* per channel; owned by the report */
  int64_t *channel_labels;   /* label value of each channel; owned */
} ss_case_losses;

typedef enum {
  SS_CLASS_OK = 0,
  SS_CLASS_PRED_EMPTY,
  SS_CLASS_REF_EMPTY,
  SS_CLASS_BOTH_EMPTY
} ss_class_status;

const char *ss_class_status_name(ss_class_status s); /* "ok", ... */

typedef struct {
  ss_metric dice, jaccard, precision, recall, specificity;
  ss_metric fbeta[SS_MAX_BETAS];
  ss_metric voe, rvd, volume_similarity;
} ss_overlap;

/*---- Lesion-wise report (docs/lesions.md) -----------------------------*/

/* One lesion: a connected component of one side.  Ids are 1-based in
 * raster order of the lesion's first voxel (x fastest), per side. */
typedef struct {
  int32_t id;
  int64_t voxels;
  double volume_mm3;
  bool counted;              /* false: below the minimum size */
  int32_t nmatched;
  const int32_t *matched;    /* ids of the other side, ascending; borrowed
                                from the report */
  ss_metric dice;            /* reference lesions: Dice against the union
                                of matched predictions (0 when none) */
  ss_metric hd95;            /* reference lesions: HD95 (mm) against the
                                same union; pred_empty when none */
} ss_lesion;

/* Lesion counts and scores of one class.  tp counts detected reference
 * lesions, fn missed ones, fp prediction lesions matching none; tp_pred
 * counts matched prediction lesions (tp_pred != tp when one prediction
 * covers several reference lesions, or the reverse).  Only counted
 * lesions enter the numbers. */
typedef struct {
  int64_t tp, fp, fn, tp_pred;
  int64_t n_ref, n_pred;     /* counted lesions per side */
  ss_metric precision;       /* tp_pred / n_pred */
  ss_metric recall;          /* tp / n_ref */
  ss_metric f1;              /* 2 P R / (P + R) */
  ss_metric lesion_dice;     /* sum of reference-lesion Dice / (n_ref + fp) */
  ss_metric lesion_hd95;     /* same mean of HD95, misses and false
                                positives at worst_distance_mm */
  int32_t nref, npred;       /* all lesions, counted or not */
  ss_lesion *ref, *pred;
  int32_t *pool;             /* storage of the matched id lists */
} ss_lesion_report;

/* Release a lesion report; NULL is allowed. */
void ss_lesion_report_free(ss_lesion_report *r);

/* Report of one scored class (a label, or a region). */
typedef struct {
  int64_t label;              /* label value; -1 for a region */
  char name[SS_NAME_MAX];     /* region name, or the label as text */
  bool is_region;
  ss_class_status status;
  ss_confusion counts;
  int64_t pred_voxels, ref_voxels;
  double pred_volume_mm3, ref_volume_mm3;
  ss_overlap overlap;
  bool has_boundary;
  ss_boundary boundary;
  ss_class_losses losses;     /* losses.c */
  ss_class_tradeoffs tradeoffs; /* losses.c */
  ss_lesion_report *lesions; /* owned; NULL unless SS_METRIC_LESIONS */
} ss_class_report;

/* Mean of one metric over the scored classes, nulls skipped but counted. */
typedef struct {
  ss_metric mean;
  int n_valid, n_undefined;
} ss_summary_value;

typedef struct {
  int64_t shape[3];
  double spacing_mm[3];
  ss_pred_kind kind;          /* resolved kind */
  int64_t channels;
  int nifti_version[2];       /* prediction, reference */
} ss_input_info;

typedef struct {
  double decode_ms, overlap_ms, boundary_ms, losses_ms, total_ms;
} ss_timing;

typedef struct {
  ss_input_info input;
  unsigned metrics;           /* resolved SS_METRIC_* bits */
  int nclasses;
  ss_class_report *classes;
  ss_timing timing;
  ss_case_losses losses;      /* losses.c */
} ss_report;

/* Summarise N per-class values of one metric: the mean of the defined
 * values, with n_valid and n_undefined.  When WORST is finite (and
 * IS_DISTANCE), values undefined because one side is empty (infinite
 * distances) are replaced by WORST and count as valid. */
ss_summary_value ss_summarize(const ss_metric *vals, int n, bool is_distance,
                              bool has_worst, double worst);

/*---- Several references (docs/lesions.md) -----------------------------*/

#define SS_MAX_RATERS 16

/* Majority-vote consensus of N (1..SS_MAX_RATERS) reference label maps
 * on one grid: each voxel takes the label value most references give it;
 * a tie goes to the smallest tied label value (so background wins a tie
 * with a foreground label).  *TIED (may be NULL) gets the number of tied
 * voxels.  The header facts (spacing, affine) are those of REFS[0].  Uses
 * at most THREADS OpenMP threads.  On SS_OK *OUT owns a new label volume;
 * SS_ESHAPE when the grids differ, SS_ELABELS when one is not a label
 * map, SS_ECLASSES past 65535 distinct labels. */
SS_NODISCARD ss_status ss_volume_consensus(const ss_volume *const *refs,
                                           int n, int threads,
                                           ss_volume **out, int64_t *tied,
                                           ss_error *err);

/* Score PRED against REF under PLAN (NULL for defaults) and return a new
 * report in *OUT (free with ss_report_free).  Checks shapes (SS_ESHAPE)
 * and, unless plan->check_geometry is false, affines (SS_EGEOMETRY).
 * Uses at most plan->threads OpenMP threads; results are identical for
 * any thread count. */
SS_NODISCARD ss_status ss_score(const ss_volume *pred, const ss_volume *ref,
                                const ss_plan *plan, ss_report **out,
                                ss_error *err);

void ss_report_free(ss_report *r);

#ifdef __cplusplus
}
#endif
#endif /* SEGSCORE_H */
