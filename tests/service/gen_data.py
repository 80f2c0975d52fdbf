#!/usr/bin/python3
"""Small NIfTI inputs for the service tests: two label maps with two
organs, a second rater, a grid that does not match, a corrupt file.
Usage: gen_data.py OUTDIR.  SPDX-License-Identifier: MIT"""
import os
import sys

import nibabel as nib
import numpy as np


def spheres(shape, centres, radii, spacing):
    g = np.indices(shape).astype(np.float64)
    lab = np.zeros(shape, np.uint8)
    for k, (c, r) in enumerate(zip(centres, radii), start=1):
        d2 = sum(((g[i] - c[i]) * spacing[i]) ** 2 for i in range(3))
        lab[d2 <= r * r] = k
    return lab


def save(lab, spacing, path):
    aff = np.diag(list(spacing) + [1.0])
    img = nib.Nifti1Image(lab, aff)
    img.header.set_zooms(spacing)
    img.header.set_xyzt_units("mm")
    img.header["descrip"] = b"PATIENT-DESCRIP-MUST-NOT-BE-LOGGED"
    nib.save(img, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sp = (0.8, 0.8, 2.0)
    shape = (48, 40, 24)
    pred = spheres(shape, [(16, 20, 12), (34, 20, 12)], [8.0, 6.0], sp)
    ref = spheres(shape, [(17, 20, 12), (33, 21, 11)], [8.5, 6.0], sp)
    ref2 = spheres(shape, [(16, 19, 12), (34, 20, 13)], [7.5, 6.5], sp)
    save(pred, sp, os.path.join(out, "pred.nii.gz"))
    save(pred, sp, os.path.join(out, "pred.nii"))
    save(ref, sp, os.path.join(out, "ref.nii.gz"))
    save(ref2, sp, os.path.join(out, "ref2.nii.gz"))
    save(ref[:, :, :20], sp, os.path.join(out, "ref_shape.nii.gz"))
    rng = np.random.default_rng(7)
    with open(os.path.join(out, "corrupt.nii.gz"), "wb") as f:
        f.write(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())


if __name__ == "__main__":
    main()
