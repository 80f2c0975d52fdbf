/* fuzz_score.c - libFuzzer target: a whole score (svc_score, the path of
 * the CLI and the daemon) of two fuzzed tiny volumes.  The input is a
 * recipe: grid (1..6 per axis), datatypes, channels, spacing, affine
 * perturbation, gzip, then voxel values for both volumes, then options
 * JSON text (or one of a few canned options).  The harness writes real
 * NIfTI-1 bytes from it, so the decoder, the plan, the kernels and the
 * report writer all see fuzzed values (NaN, Inf, negatives included).
 * SPDX-License-Identifier: MIT */
#include <libdeflate.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"

typedef struct {
  const uint8_t *p;
  size_t n;
} cursor;

static uint8_t
take(cursor *c)
{
  if (c->n == 0)
    return 0;
  c->n--;
  return *c->p++;
}

static float
take_float(cursor *c, bool raw)
{
  if (!raw)
    return (float)take(c) / 255.0f;
  uint8_t b[4] = { take(c), take(c), take(c), take(c) };
  float f;
  memcpy(&f, b, 4);
  return f;
}

static void
put16(uint8_t *h, int off, int v)
{
  int16_t s = (int16_t)v;
  memcpy(h + off, &s, 2);
}

static void
putf(uint8_t *h, int off, float v)
{
  memcpy(h + off, &v, 4);
}

/* A NIfTI-1 single file: header, 4 extension bytes, data at 352. */
static uint8_t *
nifti1(int nx, int ny, int nz, int nc, int dtype, int bitpix,
       const float sp[3], float shift, float slope, const void *vox,
       size_t vbytes, size_t *len)
{
  *len = 352 + vbytes;
  uint8_t *h = calloc(1, *len);
  if (h == NULL)
    abort();
  int32_t sz = 348;
  memcpy(h, &sz, 4);
  put16(h, 40, nc > 1 ? 4 : 3);
  put16(h, 42, nx);
  put16(h, 44, ny);
  put16(h, 46, nz);
  put16(h, 48, nc);
  put16(h, 50, 1);
  put16(h, 52, 1);
  put16(h, 54, 1);
  put16(h, 70, dtype);
  put16(h, 72, bitpix);
  putf(h, 76, 1.0f);
  for (int i = 0; i < 3; i++)
    putf(h, 80 + 4 * i, sp[i]);
  putf(h, 108, 352.0f);
  putf(h, 112, slope);
  h[123] = 2; /* mm */
  put16(h, 252, 1);
  put16(h, 254, 1);
  for (int r = 0; r < 3; r++) { /* srow: diag(spacing), shifted origin */
    putf(h, 280 + 16 * r + 4 * r, sp[r]);
    putf(h, 280 + 16 * r + 12, shift);
  }
  memcpy(h + 344, "n+1\0", 4);
  memcpy(h + 352, vox, vbytes);
  return h;
}

static uint8_t *
gzip(uint8_t *raw, size_t *len)
{
  static struct libdeflate_compressor *z;
  if (z == NULL && (z = libdeflate_alloc_compressor(1)) == NULL)
    abort();
  size_t cap = libdeflate_gzip_compress_bound(z, *len);
  uint8_t *out = malloc(cap);
  if (out == NULL)
    abort();
  *len = libdeflate_gzip_compress(z, raw, *len, out, cap);
  free(raw);
  return out;
}

static const char *const canned[8] = {
  NULL,
  "{\"metrics\":[\"overlap\",\"boundary\"],\"surface\":\"voxel\"}",
  "{\"include_background\":true,\"percentiles\":[50,95,100]}",
  "{\"ignore_label\":2,\"both_empty_dice\":1}",
  "{\"regions\":{\"all\":[1,2,3]},\"worst_distance_mm\":100}",
  "{\"prediction_kind\":\"probabilities\"}",
  "{\"prediction_kind\":\"logits\",\"threshold\":0.3}",
  "{\"check_geometry\":false,\"nsd_tolerances_mm\":[0,0.5,2]}",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cursor c = { data, size };
  const int nx = 1 + take(&c) % 6, ny = 1 + take(&c) % 6,
            nz = 1 + take(&c) % 6;
  const uint8_t fl = take(&c);
  const int nc = 1 + take(&c) % 4;
  float sp[3];
  for (int i = 0; i < 3; i++) {
    uint8_t b = take(&c);
    sp[i] = b == 255 ? -1.0f : b == 254 ? 0.0f : 0.25f + (float)(b % 16) / 4;
  }
  const int n = nx * ny * nz;
  const int pkind = fl & 3;     /* uint8, int16, float C, float 1 */
  const int pc = pkind == 2 ? nc : 1;
  const bool raw_floats = fl & 0x80;

  /* Prediction voxels. */
  size_t pbytes = (size_t)n * pc * (pkind == 0 ? 1 : pkind == 1 ? 2 : 4);
  uint8_t *pv = malloc(pbytes);
  if (pv == NULL)
    abort();
  for (int i = 0; i < n * pc; i++) {
    if (pkind == 0)
      pv[i] = take(&c) % 5;
    else if (pkind == 1) {
      int16_t s = (int16_t)((take(&c) % 7) - 1); /* -1 .. 5 */
      memcpy(pv + 2 * i, &s, 2);
    } else {
      float f = take_float(&c, raw_floats);
      memcpy(pv + 4 * i, &f, 4);
    }
  }
  /* Reference voxels: uint8 labels, or int16 with a scale (bit 4). */
  const bool ref_scaled = fl & 0x10;
  size_t rbytes = (size_t)n * (ref_scaled ? 2 : 1);
  uint8_t *rv = malloc(rbytes);
  if (rv == NULL)
    abort();
  for (int i = 0; i < n; i++) {
    uint8_t b = take(&c) % 5;
    if (ref_scaled) {
      int16_t s = b;
      memcpy(rv + 2 * i, &s, 2);
    } else {
      rv[i] = b;
    }
  }
  size_t plen, rlen;
  static const int dt[4] = { 2, 4, 16, 16 }, bp[4] = { 8, 16, 32, 32 };
  uint8_t *pf = nifti1(nx, ny, nz, pc, dt[pkind], bp[pkind], sp, 0.0f,
                       0.0f, pv, pbytes, &plen);
  uint8_t *rf = nifti1(nx, ny, nz, 1, ref_scaled ? 4 : 2,
                       ref_scaled ? 16 : 8, sp,
                       (fl & 4) ? 0.01f : 0.0f,
                       ref_scaled ? 0.5f : 0.0f, rv, rbytes, &rlen);
  free(pv);
  free(rv);
  if (fl & 8)
    pf = gzip(pf, &plen);

  /* Options: the rest of the input, or a canned set. */
  const char *opt = canned[(fl >> 5) & 3];
  size_t optlen = opt != NULL ? strlen(opt) : 0;
  if (c.n > 0) {
    opt = (const char *)c.p;
    optlen = c.n;
  } else if (pkind >= 2 && (fl & 0x40)) {
    opt = canned[5 + ((fl >> 5) & 1)];
    optlen = strlen(opt);
  }
  svc_score_input in = { .pred = pf, .pred_len = plen, .nrefs = 1,
                         .options = opt, .options_len = optlen };
  in.refs[0] = rf;
  in.ref_lens[0] = rlen;
  static const svc_score_config cfg = {
    .limits = { .max_voxels = 1u << 16, .max_bytes = 1u << 20 },
    .threads = 1
  };
  json_t *rep = NULL;
  uint64_t voxels = 0;
  ss_error err = { 0 };
  if (svc_score(&in, &cfg, &rep, &voxels, &err) == 0) {
    char *text = svc_json_dump(rep, 0);
    if (text == NULL)
      abort(); /* undefined values are null: a NaN would fail the dump */
    free(text);
  } else {
    if (rep != NULL || err.code == SS_OK)
      abort();
    json_t *p = svc_problem_json(&err, svc_http_status(err.code), "r");
    if (p == NULL)
      abort();
    json_decref(p);
  }
  json_decref(rep);
  free(pf);
  free(rf);
  return 0;
}
