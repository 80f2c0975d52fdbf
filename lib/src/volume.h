/* volume.h - conversion of raw NIfTI voxel data into a volume (volume.c).
 * SPDX-License-Identifier: MIT */
#ifndef SS_VOLUME_H
#define SS_VOLUME_H

#include "internal.h"

/* Raw voxel data of COUNT values of DATATYPE at BYTES.  BLOCK, when not
 * NULL, is the malloc'd buffer BYTES points into; ownership passes to the
 * volume (it may convert in place). */
typedef struct {
  const uint8_t *bytes;
  uint8_t *block;
  int datatype;
  int swap;
  uint64_t count;
} ss__raw_data;

/* Convert RAW into V's label map and/or float channels; V->info must
 * hold the header facts (shape, channels, scaling).  Takes RAW->block. */
ss_status ss__volume_take_data(ss_volume *v, ss__raw_data *raw,
                               const ss_limits *lim, ss_error *err);

#endif
