#!/usr/bin/python3
"""Boundary metrics through the real CLI: NIfTI files written by nibabel,
`segscore score`, JSON keys of DESIGN.md section 2 checked against values
derived by hand (the derivations repeat those of tests/check_boundary.c).
Usage: test_boundary_cli.py SEGSCORE.  SPDX-License-Identifier: MIT
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nii  # noqa: E402

BIN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="segscore-boundary-")
passed = failed = 0


def path(name):
    return os.path.join(TMP, name)


def score(pred, ref, options=None, threads=None):
    args = [BIN, "score", path(pred), path(ref)]
    if options is not None:
        args += ["--options", json.dumps(options)]
    if threads is not None:
        args += ["--threads", str(threads)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return json.loads(p.stdout)


def cls(report, label):
    return next(c for c in report["classes"] if c.get("label") == label)


def near(a, b, tol=1e-9):
    assert a is not None and abs(a - b) <= tol, (a, b)


def case(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print("ok", fn.__name__)
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print("FAIL", fn.__name__, repr(e))


# Single voxels: pred (2,2,2), ref (5,2,2), spacing (0.5, 1, 2); label 2
# only in the reference (pred_empty), label 4 only in the prediction.
SP = (0.5, 1.0, 2.0)
p = np.zeros((8, 5, 5), np.uint8)
r = np.zeros((8, 5, 5), np.uint8)
p[2, 2, 2] = 1
r[5, 2, 2] = 1
r[0, 0, 0] = 2
p[7, 4, 4] = 4
nii.write(path("vox_p.nii.gz"), p, SP)
nii.write(path("vox_r.nii.gz"), r, SP)

BOUNDARY_KEYS = ["hd", "hd_pred_to_ref", "hd_ref_to_pred", "hd95",
                 "hd95_pred_to_ref", "hd95_ref_to_pred", "assd", "masd",
                 "asd_pred_to_ref", "asd_ref_to_pred", "nsd"]


@case
def test_single_voxels_surfel_default():
    # 8 surfels each, at dual x = 2, 3 (pred) and 5, 6 (ref), equal areas:
    # half the area 1.0 mm away, half 1.5 mm.  HD = HD95 = 1.5,
    # ASSD = MASD = 1.25, NSD(1 mm) = 0.5.
    rep = score("vox_p.nii.gz", "vox_r.nii.gz")
    assert rep["conventions"]["surface"] == "surfel"
    b = cls(rep, 1)["boundary"]
    assert list(b) == BOUNDARY_KEYS, list(b)
    for k in ("hd", "hd_pred_to_ref", "hd_ref_to_pred", "hd95",
              "hd95_pred_to_ref", "hd95_ref_to_pred"):
        near(b[k], 1.5)
    for k in ("assd", "masd", "asd_pred_to_ref", "asd_ref_to_pred"):
        near(b[k], 1.25)
    assert list(b["nsd"]) == ["1"]
    near(b["nsd"]["1"], 0.5)
    assert cls(rep, 1)["undefined"] == {}
    assert rep["timing_ms"]["boundary"] > 0


@case
def test_single_voxels_voxel_mode():
    # Each surface is its voxel: 3 * 0.5 = 1.5 mm everywhere; NSD at 1 mm
    # is 0 and at 1.5 mm is 1 (d <= tau counts).
    rep = score("vox_p.nii.gz", "vox_r.nii.gz",
                {"surface": "voxel", "nsd_tolerances_mm": [1, 1.5]})
    assert rep["conventions"]["surface"] == "voxel"
    b = cls(rep, 1)["boundary"]
    for k in ("hd", "hd95", "assd", "masd", "asd_ref_to_pred"):
        near(b[k], 1.5)
    assert list(b["nsd"]) == ["1", "1.5"]
    near(b["nsd"]["1"], 0.0)
    near(b["nsd"]["1.5"], 1.0)


@case
def test_empty_sides_are_null_with_reason_and_nsd_zero():
    rep = score("vox_p.nii.gz", "vox_r.nii.gz")
    for label, why in ((2, "pred_empty"), (4, "ref_empty")):
        c = cls(rep, label)
        assert c["status"] == why, c["status"]
        b = c["boundary"]
        for k in BOUNDARY_KEYS[:-1]:
            assert b[k] is None, (k, b[k])
            assert c["undefined"][k] == why, (k, c["undefined"])
        assert b["nsd"]["1"] == 0.0
        assert "nsd.1" not in c["undefined"]


# Cubes [2,6)^3, ref shifted +2 voxels in x, spacing (0.5, 1, 1).
SPC = (0.5, 1.0, 1.0)
pc = np.zeros((10, 8, 8), np.uint8)
rc = np.zeros((10, 8, 8), np.uint8)
pc[2:6, 2:6, 2:6] = 1
rc[4:8, 2:6, 2:6] = 1
nii.write(path("cube_p.nii"), pc, SPC)
nii.write(path("cube_r.nii"), rc, SPC)


@case
def test_shifted_cubes_voxel_mode_percentiles_and_tolerances():
    # 56 boundary voxels each way: 24 at 0, 16 at 0.5, 16 at 1.0 mm.
    # ASSD 3/7; linear percentiles: p95 -> 1.0, p42 -> pos 23.1 -> 0.05;
    # NSD(0.4) = 24/56, NSD(0.5) = 40/56.
    rep = score("cube_p.nii", "cube_r.nii",
                {"surface": "voxel", "percentiles": [95, 42],
                 "nsd_tolerances_mm": [0.4, 0.5]})
    b = cls(rep, 1)["boundary"]
    near(b["hd"], 1.0)
    near(b["hd95"], 1.0)
    near(b["hd42"], 0.05)
    near(b["hd42_pred_to_ref"], 0.05)
    near(b["assd"], 3 / 7)
    near(b["nsd"]["0.4"], 24 / 56)
    near(b["nsd"]["0.5"], 40 / 56)


@case
def test_shifted_cubes_surfel_mode_isotropic():
    # 1 mm isotropic: face surfels f = 1, edge e = sqrt(2)/2, corner
    # c = sqrt(3)/8 (docs/boundary.md).  W = 54 + 36e + 8c,
    # ASSD = (40 + 28e + 8c)/W, HD = HD95 = 2, NSD(1) = (44 + 24e + 4c)/W.
    iso = (1.0, 1.0, 1.0)
    nii.write(path("cubei_p.nii"), pc, iso)
    nii.write(path("cubei_r.nii"), rc, iso)
    rep = score("cubei_p.nii", "cubei_r.nii")
    b = cls(rep, 1)["boundary"]
    e, c = math.sqrt(2) / 2, math.sqrt(3) / 8
    w = 54 + 36 * e + 8 * c
    near(b["hd"], 2.0)
    near(b["hd95"], 2.0)
    near(b["assd"], (40 + 28 * e + 8 * c) / w)
    near(b["masd"], (40 + 28 * e + 8 * c) / w)
    near(b["nsd"]["1"], (44 + 24 * e + 4 * c) / w)


@case
def test_two_d_slice():
    # nz = 1: squares [1,4)^2 and [1,5)x[1,4), spacing (0.5, 2).  Voxel
    # mode, 4-neighbour erosion: 8 and 10 ring voxels; 1 + 3 of them are
    # 0.5 mm off the other ring.  HD = 0.5, ASSD = 2/18.
    p2 = np.zeros((7, 6, 1), np.uint8)
    r2 = np.zeros((7, 6, 1), np.uint8)
    p2[1:4, 1:4, 0] = 1
    r2[1:5, 1:4, 0] = 1
    nii.write(path("sq_p.nii"), p2, (0.5, 2.0, 1.0))
    nii.write(path("sq_r.nii"), r2, (0.5, 2.0, 1.0))
    rep = score("sq_p.nii", "sq_r.nii", {"surface": "voxel"})
    b = cls(rep, 1)["boundary"]
    near(b["hd"], 0.5)
    near(b["assd"], 1 / 9)
    rep = score("sq_p.nii", "sq_r.nii")
    near(cls(rep, 1)["boundary"]["hd_pred_to_ref"], 0.5)


@case
def test_ignore_label_drops_surface_elements():
    # Pred row x = 0..6 at (y, z) = (2, 2); ref voxel x = 1; ref voxel
    # x = 6 has the ignore label 9: the pred voxel there is dropped, so
    # the farthest pred boundary voxel is x = 5, 4 mm away.
    pi = np.zeros((8, 5, 5), np.uint8)
    ri = np.zeros((8, 5, 5), np.uint8)
    pi[0:7, 2, 2] = 1
    ri[1, 2, 2] = 1
    ri[6, 2, 2] = 9
    nii.write(path("ig_p.nii"), pi, (1.0, 1.0, 1.0))
    nii.write(path("ig_r.nii"), ri, (1.0, 1.0, 1.0))
    rep = score("ig_p.nii", "ig_r.nii", {"surface": "voxel"})
    near(cls(rep, 1)["boundary"]["hd_pred_to_ref"], 5.0)
    rep = score("ig_p.nii", "ig_r.nii",
                {"surface": "voxel", "ignore_label": 9})
    assert [c["label"] for c in rep["classes"]] == [1]
    near(cls(rep, 1)["boundary"]["hd_pred_to_ref"], 4.0)


@case
def test_threads_give_identical_boundary():
    # Big enough for the parallel paths (crop > 65536 voxels).
    rng = np.random.default_rng(7)
    big_p = np.zeros((70, 64, 40), np.uint8)
    big_r = np.zeros((70, 64, 40), np.uint8)
    big_p[8:60, 6:58, 4:36] = 1
    big_r[10:62, 5:57, 5:37] = 1
    big_p[rng.random(big_p.shape) < 0.01] = 2
    big_r[rng.random(big_r.shape) < 0.01] = 2
    nii.write(path("big_p.nii.gz"), big_p, (0.78125, 0.78125, 2.5))
    nii.write(path("big_r.nii.gz"), big_r, (0.78125, 0.78125, 2.5))
    for opts in (None, {"surface": "voxel", "percentiles": [50, 95]}):
        a = score("big_p.nii.gz", "big_r.nii.gz", opts, threads=1)
        b = score("big_p.nii.gz", "big_r.nii.gz", opts, threads=2)
        assert a["classes"] == b["classes"]


@case
def test_number_keys_are_plain_decimals():
    # DESIGN.md section 2: keys are the shortest decimal, so percentile 50
    # is "hd50" (not "hd5e+01") and a 10 mm tolerance is "10".
    rep = score("vox_p.nii.gz", "vox_r.nii.gz",
                {"percentiles": [50, 99.5, 100], "nsd_tolerances_mm": [10, 0.25]})
    b = cls(rep, 1)["boundary"]
    for k in ("hd50", "hd50_pred_to_ref", "hd99.5", "hd99.5_ref_to_pred",
              "hd100"):
        assert k in b, list(b)
    assert list(b["nsd"]) == ["10", "0.25"], b["nsd"]
    near(b["nsd"]["10"], 1.0)
    near(b["hd100"], 1.5)
    near(b["hd50"], 1.0)  # half the surfel area at 1.0 mm, cumulative 0.5


@case
def test_voxel_mode_matches_scipy_reference():
    # An independent voxel-mode implementation as MONAI / MetricsReloaded /
    # medpy compute it: edges = mask XOR binary_erosion(mask) (cross
    # structure, outside = background), scipy's exact EDT with sampling =
    # spacing, numpy's linear percentiles.  Skipped without scipy.
    try:
        from scipy import ndimage
    except ImportError:
        print("  (scipy not installed: skipped)")
        return
    rng = np.random.default_rng(11)
    sp = (0.703125, 1.125, 2.3125)  # exact in the float32 pixdim
    shape = (60, 50, 30)
    x, y, z = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, sp)],
                          indexing="ij")
    def blob(cx, cy, cz, r, wob):
        d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
        return d <= r * (1 + wob * np.sin(x / 3.0) * np.cos(y / 4.0))
    ref = blob(20, 27, 33, 14, 0.1) | (rng.random(shape) < 0.002)
    pred = blob(22, 26, 35, 13, 0.15) | (rng.random(shape) < 0.002)
    nii.write(path("sp_p.nii.gz"), pred.astype(np.uint8), sp)
    nii.write(path("sp_r.nii.gz"), ref.astype(np.uint8), sp)
    pct, tol = [95, 50, 99], [1, 2.5]
    rep = score("sp_p.nii.gz", "sp_r.nii.gz",
                {"surface": "voxel", "percentiles": pct,
                 "nsd_tolerances_mm": tol})
    b = cls(rep, 1)["boundary"]

    def edge(m):
        return m ^ ndimage.binary_erosion(m)
    ep, er = edge(pred), edge(ref)
    d_pr = ndimage.distance_transform_edt(~er, sampling=sp)[ep]
    d_rp = ndimage.distance_transform_edt(~ep, sampling=sp)[er]
    near(b["hd_pred_to_ref"], d_pr.max())
    near(b["hd_ref_to_pred"], d_rp.max())
    near(b["asd_pred_to_ref"], d_pr.mean())
    near(b["assd"], np.concatenate([d_pr, d_rp]).mean())
    near(b["masd"], (d_pr.mean() + d_rp.mean()) / 2)
    for p in pct:
        near(b[f"hd{p}_pred_to_ref"], np.percentile(d_pr, p))
        near(b[f"hd{p}_ref_to_pred"], np.percentile(d_rp, p))
        near(b[f"hd{p}"], max(np.percentile(d_pr, p), np.percentile(d_rp, p)))
    for t in tol:
        want = ((d_pr <= t).sum() + (d_rp <= t).sum()) / (d_pr.size + d_rp.size)
        near(b["nsd"][("%g" % t)], want)


print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
