#!/usr/bin/python3
"""Prediction/reference NIfTI pairs for the HTTP benchmark: label maps with
several ellipsoid "organs" (the reference perturbed: shifted, resized) on
a 128^3 grid and on a 512x512x200 CT-like grid, plus each pair as a
prebuilt multipart/form-data body for wrk.
Usage: gen_pairs.py OUTDIR.  SPDX-License-Identifier: MIT"""
import os
import sys

import nibabel as nib
import numpy as np

BOUNDARY = "segscoreBenchBoundary7MA4YWxkTrZu0gW"


def organs(shape, spacing, jitter, rng):
    lab = np.zeros(shape, np.uint8)
    ext = np.array(shape, float) * np.array(spacing)
    axes = [np.arange(n) * s for n, s in zip(shape, spacing)]
    for k in range(1, 6):
        c = ext * (0.25 + 0.5 * rng.random(3))
        r = ext * (0.06 + 0.08 * rng.random(3))
        c = c + jitter * rng.normal(0, 1.5, 3)
        r = r * (1 + jitter * rng.normal(0, 0.05, 3))
        lo = np.maximum(((c - r) / spacing).astype(int) - 1, 0)
        hi = np.minimum(((c + r) / spacing).astype(int) + 2, shape)
        x, y, z = np.ix_(*(a[l:h] for a, l, h in zip(axes, lo, hi)))
        inside = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + \
            ((z - c[2]) / r[2]) ** 2 <= 1.0
        view = lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        view[inside] = k
    return lab


def save(lab, spacing, path):
    img = nib.Nifti1Image(lab, np.diag(list(spacing) + [1.0]))
    img.header.set_zooms(spacing)
    img.header.set_xyzt_units("mm")
    nib.save(img, path)


def body(pred, ref, path):
    parts = []
    for name, f in (("prediction", pred), ("reference", ref)):
        with open(f, "rb") as fh:
            data = fh.read()
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                      "filename=\"%s.nii.gz\"\r\nContent-Type: "
                      "application/octet-stream\r\n\r\n" %
                      (BOUNDARY, name, name)).encode() + data + b"\r\n")
    with open(path, "wb") as fh:
        fh.write(b"".join(parts) + ("--%s--\r\n" % BOUNDARY).encode())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for tag, shape, sp in (("128", (128, 128, 128), (1.0, 1.0, 1.0)),
                           ("512", (512, 512, 200), (0.78125, 0.78125, 2.5))):
        p = os.path.join(out, "pred_%s.nii.gz" % tag)
        r = os.path.join(out, "ref_%s.nii.gz" % tag)
        if not os.path.exists(os.path.join(out, "body_%s.bin" % tag)):
            save(organs(shape, sp, 0.0, np.random.default_rng(1)), sp, p)
            save(organs(shape, sp, 1.0, np.random.default_rng(1)), sp, r)
            body(p, r, os.path.join(out, "body_%s.bin" % tag))
    print(BOUNDARY)


if __name__ == "__main__":
    main()
