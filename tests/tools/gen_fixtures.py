#!/usr/bin/python3
"""Generate the decoder's test fixtures with nibabel (an independent
writer): every datatype x byte order x NIfTI-1/2 x plain/gzip, channel
volumes, and malformed files.  Usage: gen_fixtures.py OUTDIR
SPDX-License-Identifier: MIT
"""
import gzip
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import nii  # noqa: E402

DTYPES = ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64",
          "uint64", "float32", "float64"]
VALUES = [0, 1, 2, 50]
SHAPE = (5, 4, 3)
SPACING = (0.5, 0.75, 2.5)


def pattern():
    """value(x,y,z) = VALUES[(x + 2y + 3z) % 4]; the C test recomputes it."""
    x, y, z = np.indices(SHAPE)
    return np.array(VALUES)[(x + 2 * y + 3 * z) % 4]


def main(out):
    os.makedirs(out, exist_ok=True)
    p = pattern()
    for dt in DTYPES:
        for endian, en in (("<", "le"), (">", "be")):
            for ver in (1, 2):
                for gz in ("", ".gz"):
                    name = f"{dt}_{en}_n{ver}.nii{gz}"
                    nii.write(os.path.join(out, name), p.astype(dt), SPACING,
                              version=ver, endian=endian)
    # Probabilities: 4 channels in dim 4 (float32), and dim 5 (vector).
    rng = np.random.default_rng(7)
    pr = rng.random(SHAPE + (4,)).astype(np.float32)
    pr /= pr.sum(axis=3, keepdims=True)
    nii.write(os.path.join(out, "probs4.nii.gz"), pr, SPACING)
    pr5 = pr.reshape(SHAPE + (1, 4))
    nii.write(os.path.join(out, "probs5.nii"), pr5, SPACING, intent="vector")
    # Non-integral single-channel float map: not a label map.
    nii.write(os.path.join(out, "fraction.nii"), (p / 3.0).astype(np.float32),
              SPACING)
    # Scaled integer labels.
    nii.write(os.path.join(out, "scaled.nii"), p.astype(np.int16), SPACING,
              slope=2.0, inter=1.0)
    # Units in metres: spacing must come out in mm.
    nii.write(os.path.join(out, "meters.nii"), p.astype(np.uint8),
              (0.001, 0.002, 0.003), units="meter")

    good = open(os.path.join(out, "uint8_le_n1.nii"), "rb").read()
    good2 = open(os.path.join(out, "int16_le_n2.nii"), "rb").read()
    bad = {}
    bad["empty.nii"] = b""
    bad["short.nii"] = good[:100]
    bad["badmagic.nii"] = good[:344] + b"xx1\0" + good[348:]
    bad["truncated.nii"] = good[:-7]
    bad["truncated.nii.gz"] = gzip.compress(good)[:-20]
    bad["garbage.nii.gz"] = b"\x1f\x8b" + bytes(range(200))
    # dims lying: header says 50x40x30 but only 60 voxels follow.
    bad["lyingdims.nii"] = good[:42] + struct.pack("<hhh", 50, 40, 30) + \
        good[48:]
    # 10^12 voxels: dim = 10000 x 10000 x 10000 (int16 max 32767).
    bad["hugedims.nii"] = good[:42] + struct.pack("<hhh", 10000, 10000,
                                                   10000) + good[48:]
    bad["zerodim.nii"] = good[:42] + struct.pack("<h", 0) + good[44:]
    bad["negdim.nii"] = good[:42] + struct.pack("<h", -4) + good[44:]
    bad["dim0.nii"] = good[:40] + struct.pack("<h", 9) + good[42:]
    bad["badtype.nii"] = good[:70] + struct.pack("<h", 32) + good[72:]  # complex64
    # NIfTI-2 with 10^12 voxels (int64 dims).
    bad["hugedims_n2.nii"] = good2[:24] + struct.pack("<qqq", 10 ** 4, 10 ** 4,
                                                       10 ** 4) + good2[48:]
    bad["overflow_n2.nii"] = good2[:24] + struct.pack("<qqq", 2 ** 62, 2 ** 62,
                                                       4) + good2[48:]
    # gzip bomb: a small file whose header claims 2000^3 voxels.
    bomb_hdr = good[:42] + struct.pack("<hhh", 2000, 2000, 2000) + good[48:352]
    bad["bomb.nii.gz"] = gzip.compress(bomb_hdr + b"\0" * (8 << 20), 9)
    # Multi-member gzip (pigz / cat a.gz b.gz): must decode.
    half = len(good) // 2
    bad["multimember.nii.gz"] = gzip.compress(good[:half]) + \
        gzip.compress(good[half:])
    for name, blob in bad.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main(sys.argv[1])
