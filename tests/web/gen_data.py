#!/usr/bin/python3
"""Inputs for the web page's end-to-end test: a prediction and a reference
label map with three organs (the third missing from the prediction, so its
distances are undefined and the page must say why), a second rater, a
4-channel probability map, and a file that is not NIfTI.  Usage: gen_data.py OUTDIR.  SPDX-License-Identifier: MIT"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nii  # noqa: E402  (tests/tools/nii.py)


def balls(shape, spacing, items):
    """Label map: for each (label, centre in voxels, radius in mm) a ball."""
    g = np.indices(shape).astype(np.float64)
    lab = np.zeros(shape, np.uint8)
    for label, c, r in items:
        d2 = sum(((g[i] - c[i]) * spacing[i]) ** 2 for i in range(3))
        lab[d2 <= r * r] = label
    return lab


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sp = (0.9, 0.9, 2.0)
    shape = (56, 48, 20)
    pred = balls(shape, sp, [(1, (16, 20, 10), 9.0), (2, (38, 22, 9), 6.0)])
    ref = balls(shape, sp, [(1, (17, 21, 10), 9.5), (2, (37, 24, 10), 6.5),
                            (3, (28, 40, 10), 4.0)])
    ref2 = balls(shape, sp, [(1, (16, 21, 10), 9.0), (2, (38, 23, 10), 6.0),
                             (3, (29, 40, 10), 4.5)])
    nii.write(os.path.join(out, "pred.nii.gz"), pred, spacing=sp)
    nii.write(os.path.join(out, "ref2.nii.gz"), ref2, spacing=sp)
    nii.write(os.path.join(out, "ref.nii.gz"), ref, spacing=sp)
    # A 4-channel probability map (softmax of noisy logits around the
    # reference), so trade-offs and losses have something to show.
    rng = np.random.default_rng(3)
    logits = rng.normal(0.0, 1.0, shape + (4,))
    for k in range(4):
        logits[..., k] += 3.0 * (ref == k)
    prob = np.exp(logits)
    prob /= prob.sum(axis=-1, keepdims=True)
    nii.write(os.path.join(out, "prob.nii.gz"), prob.astype(np.float32), spacing=sp)
    rng = np.random.default_rng(11)
    with open(os.path.join(out, "not-nifti.nii.gz"), "wb") as f:
        f.write(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())


if __name__ == "__main__":
    main()
