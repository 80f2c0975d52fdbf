/* svc_admit.c - admission control: a fixed number of job slots (workers +
 * queue) and a memory budget estimated from Content-Length and the NIfTI
 * headers' voxel counts.  A request that does not fit gets 503 at once,
 * so nothing is half-processed.  SPDX-License-Identifier: MIT */
#include "svc.h"

#include <string.h>
#include <zlib.h>

int
svc_capacity(void)
{
  return svc.cfg.workers + svc.cfg.queue;
}

bool
svc_admit_slot(svc_conn *c)
{
  int cur = atomic_load(&svc.admitted);
  do {
    if (cur >= svc_capacity())
      return false;
  } while (!atomic_compare_exchange_weak(&svc.admitted, &cur, cur + 1));
  c->admitted = true;
  return true;
}

/* Job slots are taken when the body is in (h_score), not at the headers:
 * a slow upload holds memory and a connection, never a slot, so slow
 * clients cannot starve the others.  The headers are only turned away
 * while every slot is already taken. */
bool
svc_admit_saturated(void)
{
  return atomic_load(&svc.admitted) >= svc_capacity();
}

void
svc_admit_upload(svc_conn *c)
{
  atomic_fetch_add(&svc.uploading, 1);
  c->uploading = true;
}

/* A lone request is always let in: the upload and voxel limits bound it;
 * the budget bounds how many large requests run side by side.  "Lone"
 * counts only other requests' reservations: its own upload reservation
 * must not make a request that fits the limits wait for itself. */
bool
svc_admit_memory(svc_conn *c, uint64_t bytes)
{
  uint64_t cur = atomic_load(&svc.mem_reserved);
  do {
    if (cur > c->mem_reserved && cur + bytes > svc.cfg.max_memory_bytes)
      return false;
  } while (!atomic_compare_exchange_weak(&svc.mem_reserved, &cur, cur + bytes));
  c->mem_reserved += bytes;
  return true;
}

void
svc_admit_release(svc_conn *c)
{
  if (c->admitted) {
    atomic_fetch_sub(&svc.admitted, 1);
    c->admitted = false;
  }
  if (c->uploading) {
    atomic_fetch_sub(&svc.uploading, 1);
    c->uploading = false;
  }
  if (c->mem_reserved > 0) {
    atomic_fetch_sub(&svc.mem_reserved, c->mem_reserved);
    c->mem_reserved = 0;
  }
}

/* Only min(workers, jobs) jobs decode at once, so the working memory
 * counted is that many times the largest job's; the uploads of every
 * admitted request are in svc.mem_reserved.  Nothing else running: always
 * fits (the per-volume limits bound a lone job). */
bool
svc_admit_job(uint64_t job_bytes, uint64_t max_other, int njobs)
{
  if (njobs == 0)
    return true;
  uint64_t biggest = job_bytes > max_other ? job_bytes : max_other;
  uint64_t concurrent
      = (uint64_t)(njobs + 1 < svc.cfg.workers ? njobs + 1 : svc.cfg.workers);
  return atomic_load(&svc.mem_reserved) + concurrent * biggest
         <= svc.cfg.max_memory_bytes;
}

/* First HDR bytes of a volume, inflated if gzip; returns the count. */
static size_t
header_bytes(const unsigned char *buf, size_t len, unsigned char *hdr,
             size_t cap)
{
  if (len < 2 || buf[0] != 0x1f || buf[1] != 0x8b) {
    size_t n = len < cap ? len : cap;
    if (n > 0) /* an empty part has no buffer at all */
      memcpy(hdr, buf, n);
    return n;
  }
  z_stream zs = { 0 };
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return 0;
  zs.next_in = (unsigned char *)buf;
  zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
  zs.next_out = hdr;
  zs.avail_out = (uInt)cap;
  int rc;
  do
    rc = inflate(&zs, Z_SYNC_FLUSH);
  while (rc == Z_OK && zs.avail_out > 0 && zs.avail_in > 0);
  size_t n = cap - zs.avail_out;
  inflateEnd(&zs);
  return n;
}

static uint64_t
rd(const unsigned char *p, int n, bool swap)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v |= (uint64_t)p[swap ? n - 1 - i : i] << (8 * i);
  return v;
}

uint64_t
svc_nifti_peek_voxels(const void *buf, size_t len, uint64_t *raw_bytes)
{
  unsigned char h[544];
  size_t n = header_bytes(buf, len, h, sizeof h);
  *raw_bytes = 0;
  if (n < 348)
    return 0;
  bool swap;
  int v2;
  uint32_t sz = (uint32_t)rd(h, 4, false);
  if (sz == 348 || sz == 540)
    swap = false;
  else if ((sz = (uint32_t)rd(h, 4, true)) == 348 || sz == 540)
    swap = true;
  else
    return 0;
  v2 = sz == 540;
  if (v2 && n < 540)
    return 0;
  int64_t dim0
      = v2 ? (int64_t)rd(h + 16, 8, swap) : (int16_t)rd(h + 40, 2, swap);
  int bitpix = (int16_t)rd(h + (v2 ? 14 : 72), 2, swap);
  if (dim0 < 1 || dim0 > 7 || bitpix <= 0)
    return 0;
  uint64_t nvox = 1;
  for (int i = 1; i <= dim0; i++) {
    int64_t d = v2 ? (int64_t)rd(h + 16 + 8 * i, 8, swap)
                   : (int16_t)rd(h + 40 + 2 * i, 2, swap);
    if (d < 1 || __builtin_mul_overflow(nvox, (uint64_t)d, &nvox))
      return 0;
  }
  if (__builtin_mul_overflow(nvox, (uint64_t)(bitpix + 7) / 8, raw_bytes))
    return 0;
  return nvox;
}

/* Per volume: the decompressed bytes (transient) plus the decoded form
 * (a 1-2 byte label index, or 4-byte floats); per job 8 bytes a voxel of
 * working space (masks, distance maps over the bounding box).  A float
 * prediction also gets the loss kernels' working set: measured at about
 * 52 bytes per spatial voxel with every loss (double distance maps, SSIM
 * fields), budgeted as 64. */
#define SVC_LOSS_BYTES_PER_VOXEL 64

uint64_t
svc_estimate_job_bytes(const svc_conn *c)
{
  uint64_t total = 0, most = 0, raw, spatial = 0;
  bool float_pred = false;
  const svc_buf *v[1 + SVC_MAX_REFS];
  int nv = 0;
  v[nv++] = &c->pred;
  for (int i = 0; i < c->nrefs; i++)
    v[nv++] = &c->refs[i];
  for (int i = 0; i < nv; i++) {
    uint64_t nvox = svc_nifti_peek_voxels(v[i]->data, v[i]->len, &raw);
    /* Over a limit: the decoder refuses it (413) before allocating, so
     * it costs nothing; counting it would answer "busy, retry" to a
     * request that can never succeed. */
    if (nvox > svc.cfg.max_voxels || raw > svc.cfg.max_decompressed_bytes)
      continue;
    total += raw + (raw >= 4 * nvox ? 4 : 2) * nvox;
    most = nvox > most ? nvox : most;
    if (i == 0)
      float_pred = nvox > 0 && raw >= 4 * nvox;
    else if (spatial == 0)
      spatial = nvox; /* references are 3-D label maps */
  }
  if (float_pred)
    total += SVC_LOSS_BYTES_PER_VOXEL * spatial;
  return total + 8 * most;
}
