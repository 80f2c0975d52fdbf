#!/usr/bin/python3
"""CLI tests of issue 6 on the real binary: the "lesions" option and report
section, and scoring against several references (consensus, raters,
inter_rater).  Expected values derived by hand in the comments, or by an
independent run of the binary on the pair in question.
Usage: test_lesions_raters.py SEGSCORE.  SPDX-License-Identifier: MIT
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nii  # noqa: E402

BIN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="segscore-lesions-")
passed = failed = 0


def path(name):
    return os.path.join(TMP, name)


def score(*args, code=0):
    p = subprocess.run([BIN, "score", *args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == code, (args, p.returncode, p.stderr)
    return json.loads(p.stdout) if code == 0 else json.loads(p.stderr)


def case(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print("ok", fn.__name__)
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print("FAIL", fn.__name__, repr(e))


def cls(report, label):
    return next(c for c in report["classes"] if c.get("label") == label)


def close(a, b, tol=1e-12):
    return a is not None and b is not None and abs(a - b) <= tol


# Lesions: reference A = x1..2, B = x6..7 (2x2x2 each, label 1); one
# prediction x1..7 (28 voxels) covering both.  A second label 2 has one
# reference lesion and no prediction.
SHAPE = (10, 4, 4)
ref = np.zeros(SHAPE, np.uint8)
pred = np.zeros(SHAPE, np.uint8)
ref[1:3, 1:3, 1:3] = 1
ref[6:8, 1:3, 1:3] = 1
pred[1:8, 1:3, 1:3] = 1
ref[8:10, 3, 3] = 2
nii.write(path("les_ref.nii.gz"), ref)
nii.write(path("les_pred.nii.gz"), pred)
LES = '{"metrics":["overlap","lesions"]}'


@case
def test_lesions_section_by_hand():
    r = score(path("les_pred.nii.gz"), path("les_ref.nii.gz"),
              "--options", LES)
    l1 = cls(r, 1)["lesions"]
    # any_overlap: both reference lesions detected by the one prediction.
    assert (l1["tp"], l1["fp"], l1["fn"], l1["tp_pred"]) == (2, 0, 0, 1), l1
    assert l1["f1"] == 1.0 and l1["precision"] == 1.0
    # Dice of each lesion against the whole prediction: 2*8/(8+28) = 4/9.
    assert close(l1["lesion_dice"], 4 / 9), l1
    refs = l1["reference_lesions"]
    assert [x["id"] for x in refs] == [1, 2]
    assert refs[0]["matched"] == [1] and refs[0]["volume_mm3"] == 8.0
    assert l1["prediction_lesions"][0]["matched"] == [1, 2]
    # label 2: missed lesion -> recall 0, precision null, HD95 null.
    c2 = cls(r, 2)
    l2 = c2["lesions"]
    assert (l2["tp"], l2["fn"], l2["fp"]) == (0, 1, 0)
    assert l2["precision"] is None
    assert c2["undefined"]["lesions.precision"] == "pred_empty"
    assert l2["reference_lesions"][0]["hd95"] is None
    assert c2["undefined"]["lesions.reference_lesions.1.hd95"] == "pred_empty"
    conv = r["conventions"]["lesions"]
    assert conv["connectivity"] == 26 and conv["match"] == "any_overlap"
    s = r["summary"]["lesions"]
    assert s["tp"] == 2 and s["fn"] == 1 and s["n_valid"]["f1"] == 2


@case
def test_lesions_iou_rule_and_hd95():
    # IoU(A, P) = 8/28 < 0.5: no match, tp 0, fn 2, fp 1.
    r = score(path("les_pred.nii.gz"), path("les_ref.nii.gz"), "--options",
              '{"metrics":["lesions"],"lesions":{"match":"iou"}}')
    l1 = cls(r, 1)["lesions"]
    assert (l1["tp"], l1["fp"], l1["fn"]) == (0, 1, 2), l1
    # Identical masks: per-lesion HD95 0.
    r = score(path("les_ref.nii.gz"), path("les_ref.nii.gz"), "--options",
              LES)
    for x in cls(r, 1)["lesions"]["reference_lesions"]:
        assert x["hd95"] == 0.0 and x["dice"] == 1.0, x


@case
def test_lesion_lists_can_be_left_out():
    r = score(path("les_pred.nii.gz"), path("les_ref.nii.gz"), "--options",
              '{"metrics":["lesions"],"lesions":{"list":false}}')
    l1 = cls(r, 1)["lesions"]
    assert "reference_lesions" not in l1 and "prediction_lesions" not in l1
    assert l1["tp"] == 2 and r["conventions"]["lesions"]["list"] is False
    assert not any(k.startswith("lesions.reference_lesions")
                   for k in cls(r, 2)["undefined"])


@case
def test_lesions_not_reported_unless_asked():
    r = score(path("les_pred.nii.gz"), path("les_ref.nii.gz"))
    assert "lesions" not in cls(r, 1)
    assert "lesions" not in r["conventions"]


@case
def test_lesion_option_errors():
    for opts, slug, field in [
            ({"lesions": {"foo": 1}}, "unknown-option", "lesions.foo"),
            ({"lesions": {"connectivity": 8}}, "option-out-of-range",
             "lesions.connectivity"),
            ({"lesions": {"match": "iou", "dilation_voxels": 1}},
             "option-out-of-range", "lesions.dilation_voxels"),
            ({"lesions": {"iou_threshold": 0}}, "option-out-of-range",
             "lesions.iou_threshold"),
            ({"lesions": 3}, "invalid-option-type", "lesions")]:
        e = score(path("les_pred.nii.gz"), path("les_ref.nii.gz"),
                  "--options", json.dumps(opts), code=3)
        assert e["type"] == "/problems/" + slug, (opts, e)
        assert e["field"] == field, (opts, e)


# Raters on a 12x12x4 grid, label 1:
#   r1 = x2..5, y2..5, z1..2 (32 voxels); r2 = x2..5, y2..6 (40, r1 inside);
#   r3 = x3..5, y2..5 (24, inside r1); pred = x2..5, y3..5 (24).
G = (12, 12, 4)
vols = {k: np.zeros(G, np.uint8) for k in ("r1", "r2", "r3", "p")}
vols["r1"][2:6, 2:6, 1:3] = 1
vols["r2"][2:6, 2:7, 1:3] = 1
vols["r3"][3:6, 2:6, 1:3] = 1
vols["p"][2:6, 3:6, 1:3] = 1
for k, v in vols.items():
    nii.write(path(k + ".nii.gz"), v, (1.0, 0.8, 2.0))


def P(k):
    return path(k + ".nii.gz")


@case
def test_one_reference_report_unchanged():
    r = score(P("p"), P("r1"))
    assert "raters" not in r and "inter_rater" not in r
    assert "consensus" not in r and "references" not in r["input"]


@case
def test_identical_raters_zero_variability():
    one = score(P("p"), P("r1"))
    r = score(P("p"), P("r1"), P("r1"), P("r1"))
    assert r["consensus"]["tied_voxels"] == 0
    assert r["input"]["references"] == 3
    # The consensus is r1 itself, so the top-level classes are unchanged.
    assert r["classes"] == one["classes"], (r["classes"], one["classes"])
    assert len(r["raters"]) == 3
    for k in range(3):
        assert r["raters"][k]["classes"] == one["classes"]
    ir = r["inter_rater"]["classes"][0]
    assert ir["dice"]["min"] == ir["dice"]["max"] == 1.0
    assert ir["dice"]["n_valid"] == 3
    assert ir["hd95"]["min"] == ir["hd95"]["max"] == 0.0
    pr = ir["prediction"]
    # Zero-width range: position only, no relative value.
    assert pr["relative_to_range"] is None
    assert pr["undefined"]["relative_to_range"] == "zero_denominator"
    assert pr["position"] == "below"


@case
def test_known_disagreement_pairwise_numbers():
    r = score(P("p"), P("r1"), P("r2"), P("r3"))
    pairs = r["inter_rater"]["pairs"]
    assert [(x["a"], x["b"]) for x in pairs] == [(1, 2), (1, 3), (2, 3)]
    d = [x["classes"][0]["dice"] for x in pairs]
    # r1 in r2: 2*32/72; r3 in r1: 2*24/56; r3 in r2: 2*24/64.
    want = [64 / 72, 48 / 56, 48 / 64]
    assert all(close(a, b) for a, b in zip(d, want)), d
    # HD95 per pair equals an independent single-reference run.
    for x, (a, b) in zip(pairs, [("r1", "r2"), ("r1", "r3"), ("r2", "r3")]):
        solo = cls(score(P(a), P(b)), 1)["boundary"]["hd95"]
        assert x["classes"][0]["hd95"] == solo, (x, solo)
    ir = r["inter_rater"]["classes"][0]
    assert close(ir["dice"]["min"], 0.75) and close(ir["dice"]["max"], 64 / 72)
    assert close(ir["dice"]["mean"], sum(want) / 3)
    # Majority of 3: voxels in >= 2 raters = r1 (r3 in r1 in r2): no ties.
    assert r["consensus"]["tied_voxels"] == 0
    k = cls(r, 1)["counts"]
    assert k["ref_voxels"] == 32 and k["tp"] == 24, k
    # Prediction vs each rater: 48/56, 48/64, 2*18/48; mean over raters.
    pd = [cls(x, 1)["overlap"]["dice"]
          for x in r["raters"]]
    assert all(close(a, b) for a, b in zip(pd, [48 / 56, 48 / 64, 36 / 48]))
    pr = ir["prediction"]
    m = (48 / 56 + 48 / 64 + 36 / 48) / 3
    assert close(pr["dice_mean_over_references"], m)
    assert close(pr["dice_consensus"], 48 / 56)
    assert pr["position"] == "within"
    assert close(pr["relative_to_range"], (m - 0.75) / (64 / 72 - 0.75))


@case
def test_two_raters_tie_goes_to_background():
    # r1 vs r2 disagree on 8 voxels (r2 \\ r1): ties, background wins.
    r = score(P("p"), P("r1"), P("r2"))
    assert r["consensus"]["tied_voxels"] == 8, r["consensus"]
    assert cls(r, 1)["counts"]["ref_voxels"] == 32


print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
