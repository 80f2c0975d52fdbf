/* nifti_mem.c - decode NIfTI-1/2 (.nii, .nii.gz) from a memory buffer.
 *
 * Uploads never touch disk: gzip is inflated in memory (libdeflate when
 * the size is known from the header, zlib streaming for the header and
 * as the fallback), the header is checked here first and then converted
 * with nifticlib's nifti_convert_n{1,2}hdr2nim (which computes the
 * qform/sform matrices), and voxel data are converted into the volume's
 * label-map or float32 form (volume.c).  Every size is bounded before
 * anything is allocated.  Formats: nifti1.h / nifti2.h (NIfTI DFWG).
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"
#include "volume.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <libdeflate.h>
#include <nifti2_io.h>
#include <zlib.h>

#define N1_HDR 348
#define N2_HDR 540

static int
is_gzip(const uint8_t *b, size_t len)
{
  return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static uint32_t
bswap32(uint32_t v)
{
  return __builtin_bswap32(v);
}

static int32_t
rd_i32(const uint8_t *p, int swap)
{
  uint32_t v;
  memcpy(&v, p, 4);
  return (int32_t)(swap ? bswap32(v) : v);
}

static int16_t
rd_i16(const uint8_t *p, int swap)
{
  uint16_t v;
  memcpy(&v, p, 2);
  return (int16_t)(swap ? __builtin_bswap16(v) : v);
}

static int64_t
rd_i64(const uint8_t *p, int swap)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return (int64_t)(swap ? __builtin_bswap64(v) : v);
}

static double
rd_f32(const uint8_t *p, int swap)
{
  uint32_t v;
  float f;
  memcpy(&v, p, 4);
  if (swap)
    v = bswap32(v);
  memcpy(&f, &v, 4);
  return f;
}

/* Inflate up to CAP bytes of a (possibly multi-member) gzip stream with
 * zlib.  *PRODUCED gets the bytes written; *COMPLETE is set when the whole
 * stream ended within CAP.  Stops at CAP without error: a gzip bomb never
 * inflates past the bound. */
static ss_status
zinflate(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
         size_t *produced, int *complete, int drain, ss_error *err)
{
  uint8_t scratch[16384];
  size_t drained = 0;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK)
    return ss__fail(err, SS_ENOMEM, "cannot start gzip decoder");
  size_t in_off = 0, out_off = 0;
  int rc = Z_OK;
  *complete = 0;
  /* With DRAIN, inflate up to 64 KiB past CAP into scratch space so that a
   * stream truncated just after the data (CRC never checked) is caught;
   * longer trailing data are ignored, so a bomb still stops here. */
  while (out_off < cap || (drain && drained < 4 * sizeof scratch)) {
    const int tail = out_off >= cap;
    size_t in_chunk = len - in_off > UINT_MAX ? UINT_MAX : len - in_off;
    size_t out_chunk = tail ? sizeof scratch
                            : (cap - out_off > UINT_MAX ? UINT_MAX
                                                        : cap - out_off);
    zs.next_in = (Bytef *)(uintptr_t)(in + in_off);
    zs.avail_in = (uInt)in_chunk;
    /* cppcheck-suppress legacyUninitvar ; an output buffer, written by zlib */
    zs.next_out = tail ? scratch : out + out_off;
    zs.avail_out = (uInt)out_chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_off += in_chunk - zs.avail_in;
    if (tail)
      drained += out_chunk - zs.avail_out;
    else
      out_off += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      /* Another member follows?  Skip zero padding as gzip(1) does. */
      while (in_off < len && in[in_off] == 0)
        in_off++;
      if (in_off + 1 < len && is_gzip(in + in_off, len - in_off)) {
        inflateReset(&zs);
        continue;
      }
      *complete = 1;
      break;
    }
    if (rc == Z_BUF_ERROR && in_off >= len)
      break; /* input exhausted before the end: truncated */
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      inflateEnd(&zs);
      return ss__fail(err, SS_EGZIP, "corrupt gzip stream (zlib: %s)",
                      rc == Z_DATA_ERROR ? "data error" : "stream error");
    }
  }
  inflateEnd(&zs);
  *produced = out_off;
  if (!*complete && (out_off < cap || (drain && drained < 4 * sizeof scratch)))
    return ss__fail(err, SS_EGZIP,
                    "gzip stream is truncated after %zu decompressed bytes",
                    out_off);
  return SS_OK;
}

/* Inflate exactly WANT bytes with libdeflate (member by member); fall
 * back to zlib when a member holds more than WANT (trailing data). */
static ss_status
gunzip_exact(const uint8_t *in, size_t len, uint8_t *out, size_t want,
             ss_error *err)
{
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (d == NULL)
    return ss__fail(err, SS_ENOMEM, "cannot allocate the gzip decoder");
  size_t in_off = 0, out_off = 0;
  enum libdeflate_result r = LIBDEFLATE_SUCCESS;
  while (out_off < want && in_off < len) {
    size_t used_in = 0, got = 0;
    r = libdeflate_gzip_decompress_ex(d, in + in_off, len - in_off,
                                      out + out_off, want - out_off,
                                      &used_in, &got);
    if (r != LIBDEFLATE_SUCCESS)
      break;
    in_off += used_in;
    out_off += got;
    while (in_off < len && in[in_off] == 0)
      in_off++;
    if (in_off < len && !is_gzip(in + in_off, len - in_off))
      break; /* trailing garbage after a member: ignore like gzip -q */
  }
  libdeflate_free_decompressor(d);
  if (out_off == want && r == LIBDEFLATE_SUCCESS)
    return SS_OK;
  if (r == LIBDEFLATE_BAD_DATA && out_off == 0) {
    /* libdeflate also says BAD_DATA for a truncated member: let zlib,
     * which tells the two apart, give the precise error. */
  }
  size_t produced = 0;
  int complete = 0;
  ss_status st = zinflate(in, len, out, want, &produced, &complete, 1, err);
  if (st != SS_OK)
    return st;
  if (produced < want)
    return ss__fail(err, SS_ETRUNC,
                    "NIfTI data is truncated: %zu of %zu bytes after "
                    "decompression",
                    produced, want);
  return SS_OK;
}

/* What the raw header says, read before nifticlib sees it. */
typedef struct {
  int version;       /* 1 or 2 */
  int swap;
  int64_t dim[8];
  int datatype;
  int64_t vox_offset;
  size_t hdr_size;
} raw_header;

static int
dtype_size(int dt)
{
  switch (dt) {
  case DT_UINT8: case DT_INT8: return 1;
  case DT_INT16: case DT_UINT16: return 2;
  case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
  case DT_INT64: case DT_UINT64: case DT_FLOAT64: return 8;
  default: return 0;
  }
}

static ss_status
parse_raw_header(const uint8_t *b, size_t len, raw_header *h, ss_error *err)
{
  memset(h, 0, sizeof *h);
  if (len < 4)
    return ss__fail(err, SS_ENIFTI, "input is %zu bytes: too short for a "
                    "NIfTI header", len);
  int32_t sz = rd_i32(b, 0);
  if (sz == N1_HDR || bswap32((uint32_t)sz) == N1_HDR) {
    h->version = 1;
    h->swap = sz != N1_HDR;
    h->hdr_size = N1_HDR;
  } else if (sz == N2_HDR || bswap32((uint32_t)sz) == N2_HDR) {
    h->version = 2;
    h->swap = sz != N2_HDR;
    h->hdr_size = N2_HDR;
  } else {
    return ss__fail(err, SS_ENIFTI, "bad magic: sizeof_hdr is neither 348 "
                    "(NIfTI-1) nor 540 (NIfTI-2)");
  }
  if (len < h->hdr_size)
    return ss__fail(err, SS_ETRUNC, "NIfTI-%d header is truncated: %zu of "
                    "%zu bytes", h->version, len, h->hdr_size);
  double vox;
  if (h->version == 1) {
    if (memcmp(b + 344, "n+1\0", 4) != 0)
      return ss__fail(err, SS_ENIFTI, memcmp(b + 344, "ni1\0", 4) == 0
                      ? "NIfTI-1 header with a separate .img file "
                        "(magic ni1): send a single-file .nii"
                      : "bad NIfTI-1 magic (expected \"n+1\")");
    for (int i = 0; i < 8; i++)
      h->dim[i] = rd_i16(b + 40 + 2 * i, h->swap);
    h->datatype = rd_i16(b + 70, h->swap);
    vox = rd_f32(b + 108, h->swap);
  } else {
    if (memcmp(b + 4, "n+2\0\r\n\032\n", 8) != 0)
      return ss__fail(err, SS_ENIFTI, "bad NIfTI-2 magic (expected "
                      "\"n+2\" single-file)");
    h->datatype = rd_i16(b + 12, h->swap);
    for (int i = 0; i < 8; i++)
      h->dim[i] = rd_i64(b + 16 + 8 * i, h->swap);
    vox = (double)rd_i64(b + 168, h->swap);
  }
  if (h->dim[0] < 1 || h->dim[0] > 7)
    return ss__fail(err, SS_ENIFTI, "dim[0] = %lld: must be 1..7",
                    (long long)h->dim[0]);
  for (int i = 1; i <= h->dim[0]; i++)
    if (h->dim[i] < 1)
      return ss__fail(err, SS_ENIFTI, "dim[%d] = %lld: every used "
                      "dimension must be at least 1", i,
                      (long long)h->dim[i]);
  for (int i = (int)h->dim[0] + 1; i < 8; i++)
    h->dim[i] = 1;
  if (h->dim[6] > 1 || h->dim[7] > 1)
    return ss__fail(err, SS_ENIFTI, "dims 6 and 7 must be 1 (got %lld, "
                    "%lld)", (long long)h->dim[6], (long long)h->dim[7]);
  if (dtype_size(h->datatype) == 0)
    return ss__fail(err, SS_EDTYPE, "NIfTI datatype %d is not supported "
                    "(use an integer type, float32 or float64)",
                    h->datatype);
  if (!isfinite(vox) || vox < (double)h->hdr_size || vox > 1e15)
    return ss__fail(err, SS_ENIFTI, "vox_offset %.0f is invalid (must be "
                    "at least %zu)", isfinite(vox) ? vox : -1.0,
                    h->hdr_size);
  h->vox_offset = (int64_t)vox;
  return SS_OK;
}

/* Voxel counts and byte sizes, overflow-checked and bounded. */
static ss_status
check_sizes(const raw_header *h, const ss_limits *lim, uint64_t *nvox,
            uint64_t *total, ss_error *err)
{
  uint64_t n = 1;
  for (int i = 1; i <= 5; i++)
    if (!ss__mul_ok(n, (uint64_t)h->dim[i], &n))
      return ss__fail(err, SS_ETOOBIG, "voxel count overflows 64 bits");
  if (n > lim->max_voxels)
    return ss__fail(err, SS_ETOOBIG, "%llu voxels exceed the limit of "
                    "%llu", (unsigned long long)n,
                    (unsigned long long)lim->max_voxels);
  uint64_t bytes;
  if (!ss__mul_ok(n, (uint64_t)dtype_size(h->datatype), &bytes) ||
      bytes + (uint64_t)h->vox_offset < bytes)
    return ss__fail(err, SS_ETOOBIG, "data size overflows 64 bits");
  bytes += (uint64_t)h->vox_offset;
  if (bytes > lim->max_bytes)
    return ss__fail(err, SS_ETOOBIG, "decompressed size %llu bytes exceeds "
                    "the limit of %llu", (unsigned long long)bytes,
                    (unsigned long long)lim->max_bytes);
  if (bytes > SIZE_MAX)
    return ss__fail(err, SS_ETOOBIG, "volume does not fit in memory");
  *nvox = n;
  *total = bytes;
  return SS_OK;
}

static double
unit_to_mm(int xyz_units)
{
  switch (xyz_units) {
  case NIFTI_UNITS_METER: return 1000.0;
  case NIFTI_UNITS_MICRON: return 0.001;
  default: return 1.0; /* mm, or unknown: NIfTI readers assume mm */
  }
}

/* Fill the geometry part of INFO from the nifticlib image. */
static ss_status
take_geometry(const nifti_image *nim, ss_volume_info *info, ss_error *err)
{
  double f = unit_to_mm(nim->xyz_units);
  const double pd[3] = { nim->dx, nim->dy, nim->dz };
  const int64_t n[3] = { info->nx, info->ny, info->nz };
  for (int a = 0; a < 3; a++) {
    double s = fabs(pd[a]) * f;
    if (!isfinite(s) || s <= 0.0) {
      if (n[a] == 1 || a >= nim->ndim) {
        s = 1.0; /* unused axis: any positive spacing will do */
      } else {
        return ss__fail(err, SS_ENIFTI, "pixdim[%d] must be a positive "
                        "voxel size for an axis of %lld voxels", a + 1,
                        (long long)n[a]);
      }
    }
    info->spacing_mm[a] = s;
  }
  memset(info->affine, 0, sizeof info->affine);
  const nifti_dmat44 *m = NULL;
  if (nim->sform_code > 0) {
    m = &nim->sto_xyz;
    info->affine_source = "sform";
  } else if (nim->qform_code > 0) {
    m = &nim->qto_xyz;
    info->affine_source = "qform";
  }
  if (m != NULL) {
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++)
        info->affine[r][c] = m->m[r][c] * (r < 3 ? f : 1.0);
  } else {
    info->affine_source = "pixdim";
    for (int a = 0; a < 3; a++)
      info->affine[a][a] = info->spacing_mm[a];
    info->affine[3][3] = 1.0;
  }
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      if (!isfinite(info->affine[r][c]))
        return ss__fail(err, SS_ENIFTI, "the %s affine is not finite",
                        info->affine_source);
  return SS_OK;
}

static nifti_image *
convert_header(const uint8_t *b, const raw_header *h)
{
  nifti_set_debug_level(0);
  if (h->version == 1) {
    nifti_1_header n1;
    memcpy(&n1, b, sizeof n1);
    return nifti_convert_n1hdr2nim(n1, NULL);
  }
  nifti_2_header n2;
  memcpy(&n2, b, sizeof n2);
  return nifti_convert_n2hdr2nim(n2, NULL);
}

ss_status
ss_volume_read_mem(const void *buf, size_t len, const ss_limits *lim_in,
                   ss_volume **out, ss_error *err)
{
  *out = NULL;
  if (buf == NULL && len > 0)
    return ss__fail(err, SS_EINVAL, "no input buffer");
  if (len == 0)
    return ss__fail(err, SS_ENIFTI, "input is empty");
  ss_limits lim = { SS_DEFAULT_MAX_VOXELS, SS_DEFAULT_MAX_BYTES,
                    SS_DEFAULT_MAX_LABELS };
  if (lim_in != NULL) {
    if (lim_in->max_voxels)
      lim.max_voxels = lim_in->max_voxels;
    if (lim_in->max_bytes)
      lim.max_bytes = lim_in->max_bytes;
    if (lim_in->max_labels)
      lim.max_labels = lim_in->max_labels;
  }

  const uint8_t *in = buf;
  const int gz = is_gzip(in, len);
  uint8_t head[N2_HDR];
  const uint8_t *hb = in;
  size_t hlen = len;
  ss_status st;
  if (gz) {
    size_t got = 0;
    int complete = 0;
    st = zinflate(in, len, head, sizeof head, &got, &complete, 0, err);
    if (st != SS_OK && !(st == SS_EGZIP && got > 0))
      return st;
    hb = head;
    hlen = got;
  }
  raw_header h;
  if ((st = parse_raw_header(hb, hlen, &h, err)) != SS_OK)
    return st;
  uint64_t nvox = 0, total = 0;
  if ((st = check_sizes(&h, &lim, &nvox, &total, err)) != SS_OK)
    return st;

  /* Bring the whole file into memory (gzip) or borrow it (plain). */
  uint8_t *block = NULL;
  const uint8_t *file = in;
  if (gz) {
    block = ss__big_alloc(total);
    if (block == NULL)
      return ss__fail(err, SS_ENOMEM, "cannot allocate %llu bytes for the "
                      "decompressed volume", (unsigned long long)total);
    if ((st = gunzip_exact(in, len, block, total, err)) != SS_OK) {
      free(block);
      return st;
    }
    file = block;
  } else if (len < total) {
    return ss__fail(err, SS_ETRUNC, "NIfTI data is truncated: the header "
                    "describes %llu bytes but the input has %zu",
                    (unsigned long long)total, len);
  }

  nifti_image *nim = convert_header(file, &h);
  if (nim == NULL) {
    free(block);
    return ss__fail(err, SS_ENIFTI, "nifticlib rejected the header");
  }
  ss_volume *v = calloc(1, sizeof *v);
  if (v == NULL) {
    nifti_image_free(nim);
    free(block);
    return ss__fail(err, SS_ENOMEM, "out of memory");
  }
  ss_volume_info *info = &v->info;
  info->nifti_version = h.version;
  info->datatype = h.datatype;
  info->swapped = h.swap != 0;
  info->gzip = gz != 0;
  info->ndim = (int)h.dim[0];
  for (int i = 0; i < 7; i++)
    info->dim[i] = h.dim[i + 1];
  info->nx = h.dim[1];
  info->ny = h.dim[2];
  info->nz = h.dim[3];
  info->channels = h.dim[4] * h.dim[5];
  info->intent_code = nim->intent_code;
  info->scl_slope = nim->scl_slope;
  info->scl_inter = nim->scl_inter;
  v->nvox = info->nx * info->ny * info->nz;
  st = take_geometry(nim, info, err);
  nifti_image_free(nim);
  if (st == SS_OK) {
    ss__raw_data raw = {
      .bytes = file + h.vox_offset,
      .block = block,
      .datatype = h.datatype,
      .swap = h.swap,
      .count = nvox,
    };
    block = NULL; /* ss__volume_take_data owns it now */
    st = ss__volume_take_data(v, &raw, &lim, err);
  }
  free(block);
  if (st != SS_OK) {
    ss_volume_free(v);
    return st;
  }
  *out = v;
  return SS_OK;
}
