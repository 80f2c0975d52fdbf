#!/usr/bin/python3
"""CLI tests: run the real segscore binary on files written by nibabel and
check the JSON against hand-derived values.  Usage: test_cli.py SEGSCORE
SPDX-License-Identifier: MIT
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
TMP = tempfile.mkdtemp(prefix="segscore-cli-")
passed = failed = 0


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == code, (args, p.returncode, p.stderr)
    return p


def score(*args, code=0):
    p = run("score", *args, code=code)
    return json.loads(p.stdout) if code == 0 else json.loads(p.stderr)


def path(name):
    return os.path.join(TMP, name)


def case(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print("ok", fn.__name__)
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print("FAIL", fn.__name__, repr(e))


# A 6x5x4 pair (spacing 0.5 x 1 x 2 mm, 1 mm^3 voxels):
#   label 1: pred box x1..3,y1..2,z1..2 (3*2*2 = 12 voxels),
#            ref  box x1..3,y1..3,z1..2 (3*3*2 = 18)  -> tp 12, fp 0, fn 6
#   label 3: pred one voxel (5,4,3); ref absent          -> ref_empty
#   label 2: ref one voxel (0,0,0); pred absent          -> pred_empty
SHAPE = (6, 5, 4)
SP = (0.5, 1.0, 2.0)
pred = np.zeros(SHAPE, np.uint8)
ref = np.zeros(SHAPE, np.uint8)
pred[1:4, 1:3, 1:3] = 1
ref[1:4, 1:4, 1:3] = 1
pred[5, 4, 3] = 3
ref[0, 0, 0] = 2
nii.write(path("pred.nii.gz"), pred, SP)
nii.write(path("ref.nii"), ref, SP)
nii.write(path("ref_be.nii.gz"), ref.astype(np.int16), SP, version=2,
          endian=">")


def cls(report, label):
    return next(c for c in report["classes"] if c.get("label") == label)


@case
def test_counts_and_overlap_by_hand():
    r = score(path("pred.nii.gz"), path("ref.nii"))
    assert [c["label"] for c in r["classes"]] == [1, 2, 3]
    c1 = cls(r, 1)
    assert c1["status"] == "ok"
    k = c1["counts"]
    assert (k["tp"], k["fp"], k["fn"]) == (12, 0, 6), k
    assert k["tn"] == 120 - 18, k
    assert k["pred_volume_mm3"] == 12.0 and k["ref_volume_mm3"] == 18.0
    o = c1["overlap"]
    assert o["dice"] == 24 / 30, o["dice"]          # 2*12/(24+6)
    assert o["jaccard"] == 12 / 18
    assert o["precision"] == 1.0 and o["recall"] == 12 / 18
    assert o["rvd"] == -6 / 18
    assert o["volume_similarity"] == 2 * (12 - 18) / 30
    assert set(o["fbeta"]) == {"0.5", "2"}
    assert abs(o["fbeta"]["2"] - 5 * 12 / (5 * 12 + 4 * 6)) < 1e-15
    assert c1["undefined"] == {}


@case
def test_empty_classes_are_null_with_reason():
    r = score(path("pred.nii.gz"), path("ref.nii"))
    c2, c3 = cls(r, 2), cls(r, 3)
    assert c2["status"] == "pred_empty" and c3["status"] == "ref_empty"
    assert c2["overlap"]["dice"] == 0.0
    assert c2["overlap"]["precision"] is None
    assert c2["undefined"]["precision"] == "pred_empty"
    assert c3["overlap"]["recall"] is None
    assert c3["undefined"]["recall"] == "ref_empty"
    assert c3["undefined"]["rvd"] == "ref_empty"
    s = r["summary"]
    # precision: class 1 -> 1.0, class 3 -> 0.0, class 2 null
    assert s["mean"]["precision"] == 0.5
    assert s["n_valid"]["precision"] == 2 and s["n_undefined"]["precision"] == 1
    assert s["mean"]["dice"] == (0.8 + 0 + 0) / 3
    assert s["mean"]["fbeta"]["0.5"] is not None


@case
def test_report_has_design_keys():
    r = score(path("pred.nii.gz"), path("ref.nii"))
    for k in ("segscore", "input", "conventions", "classes", "summary",
              "timing_ms"):
        assert k in r, k
    assert r["input"]["shape"] == [6, 5, 4]
    assert r["input"]["spacing_mm"] == [0.5, 1.0, 2.0]
    assert r["input"]["prediction_kind"] == "labels"
    conv = r["conventions"]
    assert conv["surface"] == "surfel" and conv["percentiles"] == [95.0]
    assert conv["nsd_tolerances_mm"] == [1.0]
    assert conv["smooth"] == {"nr": 1e-5, "dr": 1e-5}
    for k in ("decode", "overlap", "boundary", "losses", "total"):
        assert k in r["timing_ms"]


@case
def test_other_byte_order_and_version_give_the_same_report():
    a = score(path("pred.nii.gz"), path("ref.nii"))
    b = score(path("pred.nii.gz"), path("ref_be.nii.gz"))
    assert a["classes"] == b["classes"]
    assert b["input"]["nifti_version"] == [1, 2]


@case
def test_threads_do_not_change_the_report():
    a = score(path("pred.nii.gz"), path("ref.nii"), "--threads", "1")
    b = score(path("pred.nii.gz"), path("ref.nii"), "--threads", "2")
    a.pop("timing_ms"), b.pop("timing_ms")
    assert a == b


@case
def test_numbers_round_trip():
    p = run("score", path("pred.nii.gz"), path("ref.nii"))
    assert '"jaccard":0.66666666666666663' in p.stdout, p.stdout[:400]
    r = json.loads(p.stdout)
    assert cls(r, 1)["overlap"]["jaccard"] == 2 / 3


@case
def test_options_labels_regions_ignore():
    opts = {"labels": [1], "regions": {"any": [1, 2, 3]}, "ignore_label": 2,
            "fbeta_betas": [1], "both_empty_dice": 1}
    r = score(path("pred.nii.gz"), path("ref.nii"), "--options",
              json.dumps(opts))
    assert [c.get("label", c.get("region")) for c in r["classes"]] == [1, "any"]
    g = r["classes"][1]
    # region {1,2,3} minus ignored ref voxel (0,0,0): pred 13, ref 18, tp 12
    assert g["counts"]["tp"] == 12 and g["counts"]["fp"] == 1
    assert g["counts"]["fn"] == 6 and g["counts"]["tn"] == 119 - 19
    assert list(g["overlap"]["fbeta"]) == ["1"]
    assert r["conventions"]["ignore_label"] == 2
    with open(path("opts.json"), "w") as f:
        json.dump(opts, f)
    r2 = score(path("pred.nii.gz"), path("ref.nii"), "--options",
               "@" + path("opts.json"))
    assert r2["classes"] == r["classes"]


@case
def test_option_errors_are_problems():
    cases = [({"nope": 1}, "unknown-option", "nope"),
             ({"labels": "1"}, "invalid-option-type", "labels"),
             ({"percentiles": [101]}, "option-out-of-range", "percentiles[0]"),
             ({"surface": "mesh"}, "option-out-of-range", "surface"),
             ({"threshold": 1.0}, "option-out-of-range", "threshold")]
    for opts, slug, field in cases:
        e = score(path("pred.nii.gz"), path("ref.nii"), "--options",
                  json.dumps(opts), code=3)
        assert e["type"] == "/problems/" + slug, (opts, e)
        assert e["status"] == 400 and e["field"] == field, e
    e = score(path("pred.nii.gz"), path("ref.nii"), "--options", "{bad",
              code=3)
    assert e["type"] == "/problems/invalid-option-type"
    e = score(path("pred.nii.gz"), path("ref.nii"), "--options",
              '{"labels":[1],"labels":[2]}', code=3)
    assert "duplicate" in e["detail"], e


@case
def test_input_errors_are_problems():
    nii.write(path("other.nii"), np.zeros((6, 5, 3), np.uint8), SP)
    e = score(path("pred.nii.gz"), path("other.nii"), code=3)
    assert e["type"] == "/problems/shape-mismatch" and e["status"] == 422
    assert "6x5x4" in e["detail"] and "6x5x3" in e["detail"]
    nii.write(path("moved.nii"), ref, (0.5, 1.0, 2.1))
    e = score(path("pred.nii.gz"), path("moved.nii"), code=3)
    assert e["type"] == "/problems/geometry-mismatch", e
    r = score(path("pred.nii.gz"), path("moved.nii"), "--options",
              '{"check_geometry": false}')
    assert cls(r, 1)["counts"]["tp"] == 12
    with open(path("junk.nii"), "wb") as f:
        f.write(b"\0" * 400)
    e = score(path("junk.nii"), path("ref.nii"), code=3)
    assert e["type"] == "/problems/invalid-nifti" and e["field"] == "prediction"
    e = score(path("pred.nii.gz"), path("missing.nii"), code=3)
    assert e["field"] == "reference"
    nii.write(path("frac.nii"), ref.astype(np.float32) / 3, SP)
    e = score(path("pred.nii.gz"), path("frac.nii"), code=3)
    assert e["type"] == "/problems/invalid-labels", e


@case
def test_usage_errors_exit_2():
    for args in (["score", path("pred.nii.gz")], ["frobnicate"],
                 ["score", "--bogus", "a", "b"], ["inspect"]):
        p = run(*args, code=2)
        assert json.loads(p.stderr.splitlines()[0])["status"] == 400


@case
def test_inspect_reports_header_facts():
    p = run("inspect", path("ref_be.nii.gz"))
    j = json.loads(p.stdout)
    assert j["nifti_version"] == 2 and j["datatype"] == "int16"
    assert j["byte_order"] == "swapped" and j["gzip"] is True
    assert j["shape"] == [6, 5, 4] and j["spacing_mm"] == [0.5, 1.0, 2.0]
    assert j["labels"] == [0, 1, 2] and j["label_map"] is True
    assert j["affine"][2][2] == 2.0


@case
def test_description_never_printed():
    nii.write(path("tagged.nii"), ref, SP, descrip="PATIENT^MARKER")
    p = run("inspect", path("tagged.nii"))
    q = run("score", path("pred.nii.gz"), path("tagged.nii"))
    assert "MARKER" not in p.stdout + p.stderr + q.stdout + q.stderr


print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
