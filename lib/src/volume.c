/* volume.c - volumes: conversion of raw voxel data into a dense label map
 * (an index per voxel into an ascending table of the distinct values) or
 * float32 channels, plus constructors, accessors and release.
 * SPDX-License-Identifier: MIT
 */
#include "volume.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>

#include <nifti2_io.h>

static const char *
dtype_name(int dt)
{
  switch (dt) {
  case DT_UINT8: return "uint8";
  case DT_INT8: return "int8";
  case DT_INT16: return "int16";
  case DT_UINT16: return "uint16";
  case DT_INT32: return "int32";
  case DT_UINT32: return "uint32";
  case DT_INT64: return "int64";
  case DT_UINT64: return "uint64";
  case DT_FLOAT32: return "float32";
  case DT_FLOAT64: return "float64";
  default: return "unsupported";
  }
}

static int
dtype_bytes(int dt)
{
  switch (dt) {
  case DT_UINT8: case DT_INT8: return 1;
  case DT_INT16: case DT_UINT16: return 2;
  case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
  default: return 8;
  }
}

static int
dtype_is_float(int dt)
{
  return dt == DT_FLOAT32 || dt == DT_FLOAT64;
}

/* The unsigned bit pattern of value I of a 1- or 2-byte type. */
static inline unsigned
code_at(const uint8_t *b, int nb, int swap, uint64_t i)
{
  if (nb == 1)
    return b[i];
  uint16_t v;
  memcpy(&v, b + 2 * i, 2);
  return swap ? __builtin_bswap16(v) : v;
}

static int64_t
code_value(unsigned code, int dt)
{
  switch (dt) {
  case DT_INT8: return (int8_t)code;
  case DT_INT16: return (int16_t)code;
  default: return code;
  }
}

/* Value I of any supported type, as a double (exact for |v| <= 2^53). */
static inline double
value_at(const uint8_t *b, int dt, int swap, uint64_t i)
{
  switch (dt) {
  case DT_UINT8: return b[i];
  case DT_INT8: return (int8_t)b[i];
  case DT_INT16: case DT_UINT16: {
    unsigned c = code_at(b, 2, swap, i);
    return dt == DT_INT16 ? (double)(int16_t)c : (double)c;
  }
  case DT_INT32: case DT_UINT32: case DT_FLOAT32: {
    uint32_t u;
    memcpy(&u, b + 4 * i, 4);
    if (swap)
      u = __builtin_bswap32(u);
    if (dt == DT_INT32)
      return (int32_t)u;
    if (dt == DT_UINT32)
      return u;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t u;
    memcpy(&u, b + 8 * i, 8);
    if (swap)
      u = __builtin_bswap64(u);
    if (dt == DT_INT64)
      return (double)(int64_t)u;
    if (dt == DT_UINT64)
      return (double)u;
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
}

/* Exact int64 value I of a 4/8-byte integer type; false if it does not
 * fit in int64 (uint64 above 2^63). */
static inline bool
int_at(const uint8_t *b, int dt, int swap, uint64_t i, int64_t *out)
{
  if (dt == DT_INT32 || dt == DT_UINT32) {
    uint32_t u;
    memcpy(&u, b + 4 * i, 4);
    if (swap)
      u = __builtin_bswap32(u);
    *out = dt == DT_INT32 ? (int64_t)(int32_t)u : (int64_t)u;
    return true;
  }
  uint64_t u;
  memcpy(&u, b + 8 * i, 8);
  if (swap)
    u = __builtin_bswap64(u);
  if (dt == DT_UINT64 && u > (uint64_t)INT64_MAX)
    return false;
  *out = (int64_t)u;
  return true;
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static ss_status
alloc_idx(ss_volume *v, ss_error *err)
{
  v->idx_width = v->nlabels <= 256 ? 1 : 2;
  v->idx = ss__big_alloc((size_t)v->nvox * (size_t)v->idx_width + 1);
  if (v->idx == NULL)
    return ss__fail(err, SS_ENOMEM, "cannot allocate the label map");
  return SS_OK;
}

static ss_status
too_many_labels(const ss_limits *lim, ss_error *err)
{
  return ss__fail(err, SS_ECLASSES, "label map has more than %d distinct "
                  "values", lim->max_labels);
}

/* Label map from 1- or 2-byte integers: a presence table over the bit
 * patterns, then a lookup table per voxel.  1-byte data owned in a block
 * are mapped in place, and not at all when the values are 0..K-1. */
static ss_status
labels_small(ss_volume *v, ss__raw_data *raw, const ss_limits *lim,
             ss_error *err)
{
  const int nb = dtype_bytes(raw->datatype);
  const unsigned ncode = nb == 1 ? 256u : 65536u;
  const int64_t n = v->nvox;
  uint8_t *present = calloc(ncode, 1);
  uint16_t *lut = malloc(ncode * sizeof *lut);
  if (present == NULL || lut == NULL) {
    free(present);
    free(lut);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  const uint8_t *b = raw->bytes;
  const int swap = raw->swap;
  /* Each thread marks its own slab; the table is OR-combined after. */
  int nt = 1;
#ifdef _OPENMP
  nt = n >= SS_PAR_MIN_VOXELS ? omp_get_max_threads() : 1;
#endif
  uint8_t *tp = calloc((size_t)nt, ncode);
  if (tp == NULL) {
    free(present);
    free(lut);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
#pragma omp parallel num_threads(nt)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    uint8_t *mine = tp + (size_t)t * ncode;
    if (nb == 1) {
      /* Label maps are long runs: skip 8-byte words equal to the last
       * one seen, so a run costs a compare per 8 voxels. */
      const int64_t nw = n / 8;
      uint64_t last = 0;
      bool have = false;
#pragma omp for schedule(static)
      for (int64_t w = 0; w < nw; w++) {
        uint64_t x;
        memcpy(&x, b + 8 * w, 8);
        if (have && x == last)
          continue;
        last = x;
        have = true;
        for (int k = 0; k < 8; k++)
          mine[(x >> (8 * k)) & 0xff] = 1;
      }
#pragma omp single
      for (int64_t i = nw * 8; i < n; i++)
        mine[b[i]] = 1;
    } else {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; i++)
        mine[code_at(b, nb, swap, (uint64_t)i)] = 1;
    }
  }
  for (int t = 0; t < nt; t++)
    for (unsigned c = 0; c < ncode; c++)
      present[c] |= tp[(size_t)t * ncode + c];
  free(tp);

  int k = 0;
  for (unsigned c = 0; c < ncode; c++)
    k += present[c];
  if (k > lim->max_labels) {
    free(present);
    free(lut);
    return too_many_labels(lim, err);
  }
  v->labels = malloc((size_t)(k > 0 ? k : 1) * sizeof *v->labels);
  if (v->labels == NULL) {
    free(present);
    free(lut);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  k = 0;
  for (unsigned c = 0; c < ncode; c++)
    if (present[c])
      v->labels[k++] = code_value(c, raw->datatype);
  v->nlabels = k;
  qsort(v->labels, (size_t)k, sizeof *v->labels, cmp_i64);
  bool identity = true;
  for (int i = 0; i < k; i++) {
    int64_t val = v->labels[i];
    unsigned c = nb == 1 ? (unsigned)(uint8_t)val : (unsigned)(uint16_t)val;
    lut[c] = (uint16_t)i;
    identity = identity && val == i;
  }
  free(present);

  ss_status st = SS_OK;
  if (nb == 1 && raw->block != NULL) {
    /* In place: the decompressed bytes become the index map. */
    uint8_t *p = (uint8_t *)(uintptr_t)raw->bytes;
    if (!identity) {
#pragma omp parallel for schedule(static) if (n >= SS_PAR_MIN_VOXELS)
      for (int64_t i = 0; i < n; i++)
        p[i] = (uint8_t)lut[p[i]];
    }
    v->idx = p;
    v->idx_width = 1;
    v->idx_in_block = true;
  } else if ((st = alloc_idx(v, err)) == SS_OK) {
    if (v->idx_width == 1) {
      uint8_t *o = v->idx;
#pragma omp parallel for schedule(static) if (n >= SS_PAR_MIN_VOXELS)
      for (int64_t i = 0; i < n; i++)
        o[i] = (uint8_t)lut[code_at(b, nb, swap, (uint64_t)i)];
    } else {
      uint16_t *o = v->idx;
#pragma omp parallel for schedule(static) if (n >= SS_PAR_MIN_VOXELS)
      for (int64_t i = 0; i < n; i++)
        o[i] = lut[code_at(b, nb, swap, (uint64_t)i)];
    }
  }
  free(lut);
  return st;
}

static int
find_label(const int64_t *labels, int n, int64_t val)
{
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (labels[mid] < val)
      lo = mid + 1;
    else if (labels[mid] > val)
      hi = mid - 1;
    else
      return mid;
  }
  return -1;
}

/* Read value I as an exact integer (integral floats included). */
static inline bool
label_at(const ss__raw_data *raw, uint64_t i, int64_t *out)
{
  if (dtype_is_float(raw->datatype)) {
    double d = value_at(raw->bytes, raw->datatype, raw->swap, i);
    if (!(fabs(d) <= 9007199254740992.0) || d != nearbyint(d))
      return false;
    *out = (int64_t)d;
    return true;
  }
  return int_at(raw->bytes, raw->datatype, raw->swap, i, out);
}

/* Label map from wide integers or integral floats: collect the distinct
 * values (a small sorted set grown by insertion, bounded by max_labels),
 * then binary-search each voxel.  Returns SS_ELABELS with no detail
 * change when a value is not integral (the caller then keeps floats). */
static ss_status
labels_wide(ss_volume *v, ss__raw_data *raw, const ss_limits *lim,
            ss_error *err)
{
  const int64_t n = v->nvox;
  int cap = 64, k = 0;
  int64_t *set = malloc((size_t)cap * sizeof *set);
  if (set == NULL)
    return ss__fail(err, SS_ENOMEM, "out of memory");
  int64_t last = 0;
  bool have_last = false;
  for (int64_t i = 0; i < n; i++) {
    int64_t val;
    if (!label_at(raw, (uint64_t)i, &val)) {
      free(set);
      return SS_ELABELS;
    }
    if (have_last && val == last)
      continue; /* runs are the common case in label maps */
    last = val;
    have_last = true;
    int lo = 0, hi = k;
    while (lo < hi) {
      int mid = lo + (hi - lo) / 2;
      if (set[mid] < val)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < k && set[lo] == val)
      continue;
    if (k == lim->max_labels) {
      free(set);
      return too_many_labels(lim, err);
    }
    if (k == cap) {
      int64_t *ns = realloc(set, (size_t)cap * 2 * sizeof *set);
      if (ns == NULL) {
        free(set);
        return ss__fail(err, SS_ENOMEM, "out of memory");
      }
      set = ns;
      cap *= 2;
    }
    memmove(set + lo + 1, set + lo, (size_t)(k - lo) * sizeof *set);
    set[lo] = val;
    k++;
  }
  v->labels = set;
  v->nlabels = k;
  ss_status st = alloc_idx(v, err);
  if (st != SS_OK)
    return st;
  const int64_t *labels = v->labels;
  const int w = v->idx_width;
  void *idx = v->idx;
#pragma omp parallel for schedule(static) if (n >= SS_PAR_MIN_VOXELS)
  for (int64_t i = 0; i < n; i++) {
    int64_t val = 0;
    (void)label_at(raw, (uint64_t)i, &val);
    int j = find_label(labels, k, val);
    if (w == 1)
      ((uint8_t *)idx)[i] = (uint8_t)j;
    else
      ((uint16_t *)idx)[i] = (uint16_t)j;
  }
  return SS_OK;
}

/* Float32 channels (scaling applied); float32 data owned in a block with
 * no scaling and no swap are used where they lie. */
static ss_status
floats_take(ss_volume *v, ss__raw_data *raw, bool scaled, ss_error *err)
{
  const uint64_t n = raw->count;
  const double slope = v->info.scl_slope, inter = v->info.scl_inter;
  if (raw->datatype == DT_FLOAT32 && !raw->swap && !scaled &&
      raw->block != NULL &&
      (uintptr_t)raw->bytes % alignof(float) == 0) {
    v->data = (float *)(uintptr_t)raw->bytes;
    v->data_in_block = true;
  } else {
    v->data = ss__big_alloc((size_t)n * sizeof *v->data + 1);
    if (v->data == NULL)
      return ss__fail(err, SS_ENOMEM, "cannot allocate float data");
    float *o = v->data;
    const uint8_t *b = raw->bytes;
    const int dt = raw->datatype, swap = raw->swap;
#pragma omp parallel for schedule(static) if (n >= SS_PAR_MIN_VOXELS)
    for (uint64_t i = 0; i < n; i++) {
      double d = value_at(b, dt, swap, i);
      o[i] = (float)(scaled ? d * slope + inter : d);
    }
  }
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  const float *d = v->data;
#pragma omp parallel for schedule(static) reduction(min : lo) \
    reduction(max : hi) if (n >= SS_PAR_MIN_VOXELS)
  for (uint64_t i = 0; i < n; i++) {
    double x = d[i];
    if (x < lo)
      lo = x;
    if (x > hi)
      hi = x;
  }
  v->info.min = lo <= hi ? lo : 0.0;
  v->info.max = lo <= hi ? hi : 0.0;
  return SS_OK;
}

ss_status
ss__volume_take_data(ss_volume *v, ss__raw_data *raw, const ss_limits *lim,
                     ss_error *err)
{
  ss_volume_info *info = &v->info;
  v->block = raw->block;
  raw->block = NULL;
  ss__raw_data r = *raw;
  r.block = v->block;
  info->datatype_name = dtype_name(r.datatype);
  const double slope = info->scl_slope, inter = info->scl_inter;
  const bool scaled = slope != 0.0 && !(slope == 1.0 && inter == 0.0);
  info->scaled = scaled;
  const bool is_float = dtype_is_float(r.datatype);
  const bool one = info->channels == 1;
  ss_status st;

  if (!is_float && !scaled && one) {
    st = dtype_bytes(r.datatype) <= 2 ? labels_small(v, &r, lim, err)
                                       : labels_wide(v, &r, lim, err);
    if (st == SS_OK)
      info->integral = true;
    else if (st == SS_ELABELS) /* uint64 beyond int64 */
      v->nolabel_reason = "label values must fit in int64";
    else if (st == SS_ECLASSES)
      v->nolabel_reason = "it has more distinct values than the label limit";
    else
      return st;
    if (st != SS_OK && err != NULL)
      err->code = SS_OK; /* not an error for the volume itself */
  } else if (scaled) {
    v->nolabel_reason = "it has scl_slope/scl_inter scaling (label maps "
                        "must be unscaled)";
  } else if (!one) {
    v->nolabel_reason = "it has more than one channel";
  }
  if (!info->integral) {
    if ((st = floats_take(v, &r, scaled, err)) != SS_OK)
      return st;
    if (one && !scaled && is_float) {
      /* A float map whose values are all integers is a label map too. */
      ss__raw_data fr = { .bytes = (const uint8_t *)v->data,
                          .datatype = DT_FLOAT32, .count = r.count };
      if (r.datatype == DT_FLOAT64)
        fr = r; /* judge the original doubles, not the rounded floats */
      fr.block = NULL;
      st = labels_wide(v, &fr, lim, err);
      if (st == SS_OK)
        info->integral = true;
      else if (st == SS_ELABELS)
        v->nolabel_reason = "its values are not all integers";
      else if (st == SS_ECLASSES)
        v->nolabel_reason = "it has more distinct values than the label "
                            "limit";
      else
        return st;
      if (err != NULL)
        err->code = SS_OK;
    }
  }
  if (info->integral) {
    info->nlabels = v->nlabels;
    info->labels = v->labels;
    if (v->nlabels > 0) {
      info->min = (double)v->labels[0];
      info->max = (double)v->labels[v->nlabels - 1];
    }
  }
  /* Free the block unless something lives in it. */
  if (!v->idx_in_block && !v->data_in_block) {
    free(v->block);
    v->block = NULL;
  }
  return SS_OK;
}

void
ss_volume_free(ss_volume *v)
{
  if (v == NULL)
    return;
  if (!v->idx_in_block)
    free(v->idx);
  if (!v->data_in_block)
    free(v->data);
  free(v->labels);
  free(v->block);
  free(v);
}

void
ss_volume_info_get(const ss_volume *v, ss_volume_info *info)
{
  *info = v->info;
}

static ss_status
volume_new(int64_t nx, int64_t ny, int64_t nz, int64_t channels,
           const double *sp, int datatype, ss_volume **out, ss_error *err)
{
  *out = NULL;
  if (nx < 1 || ny < 1 || nz < 1 || channels < 1)
    return ss__fail(err, SS_EINVAL, "every dimension must be at least 1");
  uint64_t n;
  if (!ss__mul_ok((uint64_t)nx, (uint64_t)ny, &n) ||
      !ss__mul_ok(n, (uint64_t)nz, &n) ||
      !ss__mul_ok(n, (uint64_t)channels, &n) || n > SS_DEFAULT_MAX_VOXELS)
    return ss__fail(err, SS_ETOOBIG, "volume too large");
  ss_volume *v = calloc(1, sizeof *v);
  if (v == NULL)
    return ss__fail(err, SS_ENOMEM, "out of memory");
  ss_volume_info *info = &v->info;
  info->nifti_version = 1;
  info->datatype = datatype;
  info->datatype_name = dtype_name(datatype);
  info->ndim = channels > 1 ? 4 : 3;
  info->dim[0] = info->nx = nx;
  info->dim[1] = info->ny = ny;
  info->dim[2] = info->nz = nz;
  info->dim[3] = info->channels = channels;
  for (int i = 4; i < 7; i++)
    info->dim[i] = 1;
  info->affine_source = "pixdim";
  for (int a = 0; a < 3; a++) {
    info->spacing_mm[a] = sp != NULL ? sp[a] : 1.0;
    info->affine[a][a] = info->spacing_mm[a];
  }
  info->affine[3][3] = 1.0;
  v->nvox = nx * ny * nz;
  *out = v;
  return SS_OK;
}

ss_status
ss_volume_from_labels(const int32_t *labels, int64_t nx, int64_t ny,
                      int64_t nz, const double *spacing_mm, ss_volume **out,
                      ss_error *err)
{
  ss_volume *v;
  ss_status st = volume_new(nx, ny, nz, 1, spacing_mm, DT_INT32, &v, err);
  if (st != SS_OK)
    return st;
  ss__raw_data raw = { .bytes = (const uint8_t *)labels,
                       .datatype = DT_INT32, .count = (uint64_t)v->nvox };
  ss_limits lim = { SS_DEFAULT_MAX_VOXELS, SS_DEFAULT_MAX_BYTES,
                    SS_DEFAULT_MAX_LABELS };
  if ((st = ss__volume_take_data(v, &raw, &lim, err)) != SS_OK) {
    ss_volume_free(v);
    return st;
  }
  *out = v;
  return SS_OK;
}

ss_status
ss_volume_from_floats(const float *data, int64_t nx, int64_t ny, int64_t nz,
                      int64_t channels, const double *spacing_mm,
                      ss_volume **out, ss_error *err)
{
  ss_volume *v;
  ss_status st = volume_new(nx, ny, nz, channels, spacing_mm, DT_FLOAT32,
                            &v, err);
  if (st != SS_OK)
    return st;
  ss__raw_data raw = { .bytes = (const uint8_t *)data,
                       .datatype = DT_FLOAT32,
                       .count = (uint64_t)(v->nvox * channels) };
  ss_limits lim = { SS_DEFAULT_MAX_VOXELS, SS_DEFAULT_MAX_BYTES,
                    SS_DEFAULT_MAX_LABELS };
  if ((st = ss__volume_take_data(v, &raw, &lim, err)) != SS_OK) {
    ss_volume_free(v);
    return st;
  }
  *out = v;
  return SS_OK;
}
