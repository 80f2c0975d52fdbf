#!/usr/bin/python3
"""`segscore evaluate` on a generated folder of 20 cases with one missing
prediction and one extra file: the summary must equal the statistics of
the per-case `segscore score` runs (computed here with numpy), for 1 and 2
jobs, with and without worst_distance_mm; the CSV has one row per case and
class.  Usage: test_evaluate.py SEGSCORE.  SPDX-License-Identifier: MIT
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nii  # noqa: E402

BIN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="segscore-eval-")
PRED, REF = os.path.join(TMP, "pred"), os.path.join(TMP, "ref")
os.makedirs(PRED)
os.makedirs(REF)
passed = failed = 0
OPTS = '{"metrics":["overlap","boundary","lesions"]}'
OPTS_WORST = '{"metrics":["overlap","boundary"],"worst_distance_mm":50}'


def case(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print("ok", fn.__name__)
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print("FAIL", fn.__name__, repr(e))


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == code, (args, p.returncode, p.stderr[-2000:])
    return p


# 20 cases in nnU-Net naming (BraTS_001.nii.gz ...), 2 labels with random
# boxes; some cases miss label 2 in the prediction (pred_empty) and one
# has no label 2 anywhere.  Case 007 has no prediction; the prediction
# folder has an extra case and non-NIfTI files nnU-Net leaves there.
rng = np.random.default_rng(20261126)
NAMES = [f"BraTS_{i:03d}" for i in range(20)]
for i, name in enumerate(NAMES):
    shape = (24, 22, 12)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    x, y, z = rng.integers(2, 8, 3)
    ref[x:x + 8, y:y + 7, z:z + 4] = 1
    dx, dy = rng.integers(-2, 3, 2)
    pred[x + dx:x + dx + 8, y + dy:y + dy + 6, z:z + 4] = 1
    if i != 11:
        ref[16:20, 14:18, 2:5] = 2
        if i % 4 != 0:
            pred[16 + i % 3:20, 14:18, 2:5 + i % 2] = 2
    if i % 5 == 0:
        pred[0:2, 0:2, 0:2] = 1          # a false-positive lesion
    sp = (1.0, 0.9, 2.0)
    nii.write(os.path.join(REF, name + ".nii.gz"), ref, sp)
    if name != "BraTS_007":
        nii.write(os.path.join(PRED, name + ".nii.gz"), pred, sp)
nii.write(os.path.join(PRED, "BraTS_099.nii.gz"), pred, sp)
for junk in ("plans.json", "summary.json"):
    open(os.path.join(PRED, junk), "w").write("{}")

SCORED = [n for n in NAMES if n != "BraTS_007"]


def evaluate(opts, *extra, code=0):
    out = os.path.join(TMP, "out.json")
    run("evaluate", "--pred-dir", PRED, "--ref-dir", REF, "--options", opts,
        "--out", out, *extra, code=code)
    return json.load(open(out)) if code == 0 else None


def per_case(opts):
    return {n: json.loads(run("score", os.path.join(PRED, n + ".nii.gz"),
                              os.path.join(REF, n + ".nii.gz"), "--options",
                              opts).stdout) for n in SCORED}


def values(reports, label, section, key, worst=None):
    """Per-case values of one metric in name order: (valid list, n_undef,
    n_substituted, n_absent)."""
    vals, nu, ns, na = [], 0, 0, 0
    for n in sorted(reports):
        c = [c for c in reports[n]["classes"] if c.get("label") == label]
        if not c or key not in c[0].get(section, {}):
            na += 1
            continue
        v = c[0][section][key]
        if v is None:
            why = c[0]["undefined"].get(key) or \
                c[0]["undefined"].get(section + "." + key)
            if worst is not None and section == "boundary" and \
                    why in ("pred_empty", "ref_empty"):
                vals.append(worst)
                ns += 1
            else:
                nu += 1
            continue
        vals.append(v)
    return vals, nu, ns, na


def check_cell(cell, vals, nu, ns, na):
    assert cell["n_valid"] == len(vals), (cell, len(vals))
    assert cell["n_undefined"] == nu and cell["n_substituted"] == ns, cell
    assert cell["n_absent"] == na, cell
    if not vals:
        assert cell["mean"] is None
        return
    a = np.array(vals)
    s = 0.0
    for v in vals:          # the same left-to-right sum as the C code
        s += v
    assert cell["mean"] == s / len(vals), (cell["mean"], s / len(vals))
    assert abs(cell["std"] - a.std()) <= 1e-12, (cell["std"], a.std())
    assert cell["median"] == float(np.median(a)), cell
    assert cell["min"] == a.min() and cell["max"] == a.max()


REPORTS = per_case(OPTS)


@case
def test_pairs_missing_and_extra_listed():
    out = evaluate(OPTS, "--jobs", "2")
    ev = out["evaluate"]
    assert ev["n_pairs"] == 19 and ev["n_scored"] == 19, ev
    assert ev["missing_predictions"] == ["BraTS_007.nii.gz"], ev
    assert ev["extra_files"] == ["BraTS_099.nii.gz"], ev
    assert ev["failed"] == []
    assert [c["case"] for c in out["cases"]] == SCORED


@case
def test_case_reports_equal_score_runs():
    out = evaluate(OPTS, "--jobs", "2")
    for c in out["cases"]:
        want = dict(REPORTS[c["case"]])
        got = dict(c["report"])
        want.pop("timing_ms")
        got.pop("timing_ms")
        assert got == want, c["case"]


@case
def test_summary_equals_mean_of_per_case_runs():
    out = evaluate(OPTS, "--jobs", "2")
    summ = out["summary"]
    assert summ["n_cases"] == 19
    checked = 0
    for ce in summ["classes"]:
        label = ce["label"]
        for path, cell in ce["metrics"].items():
            section, key = path.split(".", 1)
            if "." in key:           # fbeta.0.5, nsd.1: one level deeper
                fam, sub = key.split(".", 1)
                vals, nu, na = [], 0, 0
                for n in sorted(REPORTS):
                    c = [c for c in REPORTS[n]["classes"]
                         if c.get("label") == label]
                    if not c:
                        na += 1
                        continue
                    v = c[0][section][fam][sub]
                    if v is None:
                        nu += 1
                    else:
                        vals.append(v)
                check_cell(cell, vals, nu, 0, na)
            else:
                check_cell(cell, *values(REPORTS, label, section, key))
            checked += 1
    assert checked > 40, checked
    # Label 2 is absent from case 011 (neither side has it).
    c2 = next(c for c in summ["classes"] if c["label"] == 2)
    assert c2["n_cases"] == 18 and \
        c2["metrics"]["overlap.dice"]["n_absent"] == 1
    # Foreground mean: mean of the two class means.
    fg = summ["foreground_mean"]["overlap.dice"]
    m = [c["metrics"]["overlap.dice"]["mean"] for c in summ["classes"]]
    assert fg["n_classes"] == 2 and fg["mean"] == (m[0] + m[1]) / 2


@case
def test_jobs_do_not_change_the_output():
    a = evaluate(OPTS, "--jobs", "1", "--threads", "1")
    b = evaluate(OPTS, "--jobs", "2", "--threads", "2")
    assert a["summary"] == b["summary"]
    for x, y in zip(a["cases"], b["cases"]):
        x["report"].pop("timing_ms")
        y["report"].pop("timing_ms")
    assert a["cases"] == b["cases"]


@case
def test_worst_distance_substitution():
    reps = per_case(OPTS_WORST)
    out = evaluate(OPTS_WORST)
    c2 = next(c for c in out["summary"]["classes"] if c["label"] == 2)
    cell = c2["metrics"]["boundary.hd95"]
    vals, nu, ns, na = values(reps, 2, "boundary", "hd95", worst=50.0)
    assert ns == 5, ns            # cases 000, 004, 008, 012, 016
    check_cell(cell, vals, nu, ns, na)
    # Without the option the same cases are undefined, not substituted.
    out = evaluate(OPTS)
    c2 = next(c for c in out["summary"]["classes"] if c["label"] == 2)
    assert c2["metrics"]["boundary.hd95"]["n_undefined"] == 5
    assert c2["metrics"]["boundary.hd95"]["n_substituted"] == 0


@case
def test_csv_one_row_per_case_and_class():
    out = os.path.join(TMP, "out.csv")
    evaluate(OPTS, "--csv", out)
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 19 * 2 - 1, len(rows)
    r = next(r for r in rows if r["case"] == "BraTS_000" and
             r["class"] == "2")
    assert r["status"] == "pred_empty" and r["boundary.hd95"] == ""
    r = next(r for r in rows if r["case"] == "BraTS_001" and
             r["class"] == "1")
    want = [c for c in REPORTS["BraTS_001"]["classes"]
            if c["label"] == 1][0]["overlap"]["dice"]
    assert float(r["overlap.dice"]) == want


@case
def test_strict_fails_on_missing_files():
    evaluate(OPTS, "--strict", code=3)


@case
def test_usage_errors():
    run("evaluate", "--pred-dir", PRED, code=2)
    run("evaluate", "--pred-dir", PRED, "--ref-dir", REF, "--jobs", "0",
        code=2)
    p = run("evaluate", "--pred-dir", os.path.join(TMP, "nope"), "--ref-dir",
            REF, code=3)
    assert json.loads(p.stderr)["field"] == "pred-dir"


@case
def test_failed_case_is_listed_not_fatal():
    bp, br = os.path.join(TMP, "bad_p"), os.path.join(TMP, "bad_r")
    os.makedirs(bp)
    os.makedirs(br)
    for n in ("x1", "x2"):
        nii.write(os.path.join(br, n + ".nii.gz"),
                  np.ones((4, 4, 4), np.uint8))
    nii.write(os.path.join(bp, "x1.nii.gz"), np.ones((4, 4, 4), np.uint8))
    open(os.path.join(bp, "x2.nii"), "wb").write(b"not a nifti file")
    p = run("evaluate", "--pred-dir", bp, "--ref-dir", br)
    out = json.loads(p.stdout)
    ev = out["evaluate"]
    assert ev["n_pairs"] == 2 and ev["n_scored"] == 1, ev
    assert ev["failed"][0]["case"] == "x2", ev
    assert ev["failed"][0]["problem"]["field"] == "prediction", ev
    assert out["summary"]["n_cases"] == 1
    assert "1 case(s) failed" in p.stderr
    run("evaluate", "--pred-dir", bp, "--ref-dir", br, "--strict", code=3)


print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
