#!/usr/bin/python3
"""Generate realistic benchmark volumes (not committed): a 512x512x200 uint8
label pair with three organs (liver-, kidney-, spleen-like ellipsoids with
a perturbed prediction), spacing 0.78125 x 0.78125 x 2.5 mm, as .nii.gz;
and a 256^3 pair.  Usage: make_volumes.py OUTDIR
SPDX-License-Identifier: MIT"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "tools"))
import nii  # noqa: E402


def organs(shape, shift):
    nx, ny, nz = shape
    x = np.arange(nx, dtype=np.float32)[:, None, None]
    y = np.arange(ny, dtype=np.float32)[None, :, None]
    z = np.arange(nz, dtype=np.float32)[None, None, :]
    s = np.array(shape, np.float32) / np.array([512, 512, 200], np.float32)
    out = np.zeros(shape, np.uint8)
    specs = [  # centre (x, y, z), radii, label, in 512x512x200 units
        ((180, 250, 100), (110, 90, 60), 1),   # liver
        ((360, 300, 90), (40, 35, 30), 2),     # kidney
        ((330, 170, 110), (55, 45, 35), 3),    # spleen
    ]
    for (cx, cy, cz), (rx, ry, rz), lab in specs:
        cx, cy, cz = (cx + shift) * s[0], (cy - shift) * s[1], cz * s[2]
        rx, ry, rz = rx * s[0], ry * s[1], (rz + shift / 2) * s[2]
        wob = 1 + 0.06 * np.sin(x / (7 * s[0])) * np.cos(y / (9 * s[1]))
        m = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + \
            ((z - cz) / rz) ** 2 <= wob
        out[m] = lab
    return out


def main(out):
    os.makedirs(out, exist_ok=True)
    big = (512, 512, 200)
    sp = (0.78125, 0.78125, 2.5)
    if not os.path.exists(os.path.join(out, "ref512.nii.gz")):
        nii.write(os.path.join(out, "ref512.nii.gz"), organs(big, 0), sp)
        nii.write(os.path.join(out, "pred512.nii.gz"), organs(big, 3), sp)
    if not os.path.exists(os.path.join(out, "ref256.nii.gz")):
        nii.write(os.path.join(out, "ref256.nii.gz"), organs((256,) * 3, 0),
                  (1.0, 1.0, 1.0))
        nii.write(os.path.join(out, "pred256.nii.gz"), organs((256,) * 3, 2),
                  (1.0, 1.0, 1.0))


if __name__ == "__main__":
    main(sys.argv[1])
