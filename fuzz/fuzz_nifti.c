/* fuzz_nifti.c - libFuzzer target: NIfTI-1/2 decoding from bytes
 * (ss_volume_read_mem), plain and gzip.  The input is decoded as given
 * (raw or gzip, corrupt streams included); a small plain input is also
 * gzip-compressed here and decoded again, so the gzip path sees valid
 * streams around fuzzed headers and data.  Tight limits keep each run in
 * memory bounds; the daemon's header peek (svc_nifti_peek_voxels) reads
 * the same bytes.  SPDX-License-Identifier: MIT */
#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>

#include "svc.h"

svc_state svc; /* svc_admit.c's peek lives beside the admission state */

static const ss_limits lim = {
  .max_voxels = 1024, .max_bytes = 16u << 10, .max_labels = 256
};

static void
decode(const uint8_t *data, size_t size)
{
  ss_volume *v = NULL;
  ss_error err = { 0 };
  if (ss_volume_read_mem(data, size, &lim, &v, &err) == SS_OK) {
    ss_volume_info info;
    ss_volume_info_get(v, &info);
    /* The contract: a decoded volume is within the limits. */
    if ((uint64_t)(info.nx * info.ny * info.nz * info.channels) >
        lim.max_voxels)
      abort();
    for (int i = 1; i < info.nlabels; i++)
      if (info.labels[i] <= info.labels[i - 1])
        abort(); /* labels must be ascending and distinct */
  } else if (v != NULL || err.code == SS_OK) {
    abort(); /* a failure sets no volume and names its code */
  }
  ss_volume_free(v);
  uint64_t raw;
  (void)svc_nifti_peek_voxels(data, size, &raw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  decode(data, size);
  if (size < 2 || size > 8192 || (data[0] == 0x1f && data[1] == 0x8b))
    return 0;
  static struct libdeflate_compressor *z;
  if (z == NULL && (z = libdeflate_alloc_compressor(1)) == NULL)
    abort();
  size_t cap = libdeflate_gzip_compress_bound(z, size);
  uint8_t *gz = malloc(cap);
  if (gz == NULL)
    abort();
  size_t n = libdeflate_gzip_compress(z, data, size, gz, cap);
  if (n > 0)
    decode(gz, n);
  free(gz);
  return 0;
}
