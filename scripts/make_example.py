#!/usr/bin/python3
"""Write a small example pair (two organs) for `make run`.
SPDX-License-Identifier: MIT"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "tools"))
import nii  # noqa: E402

out = sys.argv[1]
x, y, z = np.indices((64, 64, 32))
ref = np.zeros((64, 64, 32), np.uint8)
ref[((x - 24) / 12.0) ** 2 + ((y - 30) / 10.0) ** 2 + ((z - 16) / 8.0) ** 2 <= 1] = 1
ref[((x - 46) / 8.0) ** 2 + ((y - 34) / 9.0) ** 2 + ((z - 15) / 6.0) ** 2 <= 1] = 2
pred = np.zeros_like(ref)
pred[((x - 25) / 12.0) ** 2 + ((y - 30) / 11.0) ** 2 + ((z - 16) / 8.0) ** 2 <= 1] = 1
pred[((x - 46) / 7.0) ** 2 + ((y - 33) / 9.0) ** 2 + ((z - 16) / 6.0) ** 2 <= 1] = 2
nii.write(os.path.join(out, "pred.nii.gz"), pred, (0.8, 0.8, 2.0))
nii.write(os.path.join(out, "ref.nii.gz"), ref, (0.8, 0.8, 2.0))
