#!/usr/bin/python3
"""Losses and trade-offs through the real CLI: float probability / logit
NIfTI files written by nibabel, `segscore score` output checked against an
independent numpy double-precision reference (1e-9), option errors and
invalid probabilities as problem JSON, and `segscore catalog`.
Usage: test_losses_cli.py SEGSCORE        SPDX-License-Identifier: MIT
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
TMP = tempfile.mkdtemp(prefix="segscore-losses-")
TOL = 1e-9
EPS = 1e-7
passed = failed = 0


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == code, (args, p.returncode, p.stderr[:400])
    return p


def score(pred, ref, opts=None, code=0):
    args = ["score", pred, ref]
    if opts is not None:
        args += ["--options", json.dumps(opts)]
    p = run(*args, code=code)
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


def close(got, want, what, tol=TOL):
    assert got is not None, (what, "null")
    assert abs(got - want) <= tol * max(1.0, abs(want)), (what, got, want)


# A 9x8x7 case, 4 classes, spacing 0.8 x 1 x 1.5 mm, ignore label 9 in a
# corner; the prediction leans to the truth with noise.
SHAPE = (9, 8, 7)
SP = (0.8, 1.0, 1.5)
rng = np.random.default_rng(7)
X, Y, Z = np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij")
REF = ((X // 3 + Y // 3 + Z // 4) % 4).astype(np.uint8)
REF[0:2, 0:2, :] = 9
LOGITS = rng.normal(size=SHAPE + (4,)) * 1.5
for k in range(4):
    LOGITS[..., k] += 2.0 * (REF == k)
P32 = (np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)).astype(
    np.float32)
nii.write(path("p4.nii.gz"), P32, SP)
nii.write(path("p5.nii.gz"), P32.reshape(SHAPE + (1, 4)), SP, intent=1007)
nii.write(path("logits.nii.gz"), LOGITS.astype(np.float32), SP)
nii.write(path("ref.nii.gz"), REF, SP)


def reference(p, ref, opts):
    """Straightforward numpy reference for the soft losses (not the
    fused kernel's algorithm): P is (..., K) float64."""
    K = p.shape[-1]
    ok = ref != 9
    pf = p[ok].reshape(-1, K)
    t = ref[ok].astype(int)
    N = len(t)
    pt = pf[np.arange(N), t]
    ce = -np.log(np.clip(pt, EPS, 1 - EPS))
    out = {"ce": ce.mean()}
    nk = np.bincount(t, minlength=K).astype(float)
    kp = (nk > 0).sum()
    w = np.where(nk > 0, N / (kp * np.maximum(nk, 1)), 0.0)
    out["wce"] = (w[t] * ce).sum() / (w[t]).sum()
    g = opts.get("focal_gamma", 2.0)
    out["focal"] = ((1 - np.clip(pt, EPS, 1 - EPS)) ** g * ce).mean()
    m = int(math.floor(N * 10 / 100))
    out["topk"] = np.sort(ce)[::-1][:m].mean()
    out["topk_threshold"] = ce[pt < 0.5].mean()
    s = 1e-5
    per = {}
    gnum = gden = 0.0
    Gs = []
    for c in range(1, K):
        G = float((t == c).sum())
        Gs.append(G)
    wmax = max(1 / G ** 2 for G in Gs if G > 0)
    a, b = opts.get("tversky", (0.3, 0.7))
    for c in range(1, K):
        pc = pf[:, c]
        gc = (t == c).astype(float)
        TP, P, G = (pc * gc).sum(), pc.sum(), gc.sum()
        FP, FN = P - TP, G - TP
        d = (2 * TP + s) / (P + G + s)
        ti = (TP + s) / (TP + a * FP + b * FN + s)
        bce = -(gc * np.log(np.clip(pc, EPS, 1 - EPS)) +
                (1 - gc) * np.log(np.clip(1 - pc, EPS, 1 - EPS))).mean()
        wa = 1.5 ** 2 / (1 + 1.5 ** 2)
        tif = (TP + s) / (TP + 0.3 * FP + 0.7 * FN + s)
        per[c] = {
            "dice": 1 - d,
            "dice_squared": 1 - (2 * TP + s) / ((pc * pc).sum() + G + s),
            "jaccard": 1 - (TP + s) / (P + G - TP + s),
            "tversky": 1 - ti,
            "focal_tversky": (1 - tif) ** 0.75,
            "focal_dice": 1 - d ** 0.5,
            "asym": 1 - (TP + s) / (TP + wa * FN + (1 - wa) * FP + s),
            "dice_bce": 0.5 * bce + 0.5 * (1 - d),
        }
        wg = 1 / G ** 2 if G > 0 else wmax
        gnum += wg * TP
        gden += wg * (P + G)
        # trade-offs
        per[c]["brier"] = ((pc - gc) ** 2).mean()
        e = 0.0
        bins = np.minimum((np.clip(pc, 0, 1) * 15).astype(int), 14)
        for q in range(15):
            sel = bins == q
            e += abs(pc[sel].sum() - gc[sel].sum())
        per[c]["ece"] = e / N
        order = np.argsort(-pc, kind="stable")
        ps, gs = pc[order], gc[order]
        tp = fp = 0.0
        j = len(ps)
        ap = rprev = 0.0
        best, bt = -1.0, None
        at = 0
        prec = {}
        for th in range(1000, -1, -1):
            while at < j and ps[at] * 1000 >= th:
                tp += gs[at]
                fp += 1 - gs[at]
                at += 1
            if tp + fp > 0:
                prec[th] = tp / (tp + fp)
            rc = tp / G
            if rc > rprev:
                ap += (rc - rprev) * tp / (tp + fp)
            rprev = rc
            dd = 2 * tp / (2 * tp + fp + G - tp)
            if dd >= best:
                best, bt = dd, th / 1000
        per[c]["average_precision"] = ap
        per[c]["best"] = (bt, best)
        per[c]["prec"] = prec
    gd = (2 * gnum + s) / (gden + s)
    out["gdl"] = 1 - gd
    out["pgdl"] = 1 - gd / (1 + 2.5 * (1 - gd))
    out["dice"] = np.mean([per[c]["dice"] for c in per])
    out["dice_focal"] = out["dice"] + 0.5 * ((1 - np.clip(pt, EPS, 1 - EPS))
                                             ** 2 * ce).mean()
    return out, per


OPTS = {"ignore_label": 9, "class_weights": "inverse_frequency",
        "loss_params": {"focal": {"gamma": 1.5},
                        "tversky": {"alpha": 0.4, "beta": 0.6}},
        "compound": [{"loss": "dice", "weight": 1},
                     {"loss": "focal", "weight": 0.5}]}


def check_soft(rep, p):
    want, per = reference(p, REF, {"focal_gamma": 1.5,
                                   "tversky": (0.4, 0.6)})
    sl = rep["summary"]["losses"]
    for k in ("ce", "wce", "focal", "topk", "topk_threshold", "gdl", "pgdl",
              "dice", "dice_focal"):
        close(sl[k], want[k], k)
    close(sl["compound"], want["dice"] + 0.5 * want["focal"], "compound")
    assert rep["conventions"]["losses"]["hard"] is False
    for c in (1, 2, 3):
        cj = [x for x in rep["classes"] if x.get("label") == c][0]
        for k in ("dice", "dice_squared", "jaccard", "tversky",
                  "focal_tversky", "focal_dice", "asym", "dice_bce"):
            close(cj["losses"][k], per[c][k], "class %d %s" % (c, k))
        close(cj["loss_scores"]["dice"], 1 - per[c]["dice"], "score")
        to = cj["tradeoffs"]
        close(to["brier"], per[c]["brier"], "brier")
        close(to["ece"], per[c]["ece"], "ece")
        close(to["average_precision"], per[c]["average_precision"], "AP")
        close(to["best_threshold"]["threshold"], per[c]["best"][0], "best t")
        close(to["best_threshold"]["dice"], per[c]["best"][1], "best dice")
        pr = to["pr_curve"]
        assert len(pr["thresholds"]) == 1001
        for th, v in per[c]["prec"].items():
            close(pr["precision"][th], v, "precision at %d" % th)
        assert [t["alpha"] for t in to["tversky"]][:3] == [0.1, 0.3, 0.5]
        assert set(to["fbeta"]) == {"0.25", "0.5", "1", "2", "4"}


def test_probabilities_match_numpy():
    rep = score(path("p4.nii.gz"), path("ref.nii.gz"), OPTS)
    assert rep["input"]["prediction_kind"] == "probabilities"
    assert "tradeoffs" in rep["conventions"]["metrics"]
    check_soft(rep, P32.astype(np.float64))
    # every loss of the catalog is reported for the case
    names = [x["name"] for x in json.loads(run("catalog").stdout)["losses"]]
    assert len(names) == 22
    for n in names:
        assert n in rep["summary"]["losses"], n


def test_vector_intent_5d_is_the_same():
    a = score(path("p4.nii.gz"), path("ref.nii.gz"), OPTS)
    b = score(path("p5.nii.gz"), path("ref.nii.gz"), OPTS)
    assert a["summary"]["losses"] == b["summary"]["losses"]
    assert a["classes"] == b["classes"]


def test_logits_take_softmax():
    o = dict(OPTS, prediction_kind="logits")
    rep = score(path("logits.nii.gz"), path("ref.nii.gz"), o)
    L = LOGITS.astype(np.float32).astype(np.float64)
    e = np.exp(L - L.max(-1, keepdims=True))
    check_soft(rep, e / e.sum(-1, keepdims=True))


def test_threads_give_identical_losses():
    o = json.dumps(OPTS)
    a = run("score", path("p4.nii.gz"), path("ref.nii.gz"), "--options", o,
            "--threads", "1").stdout
    b = run("score", path("p4.nii.gz"), path("ref.nii.gz"), "--options", o,
            "--threads", "2").stdout
    ja, jb = json.loads(a), json.loads(b)
    for j in (ja, jb):
        del j["timing_ms"]
    assert ja == jb


def test_binary_foreground_map():
    ref = (REF == 1).astype(np.uint8)
    p1 = P32[..., 1] / (P32[..., 0] + P32[..., 1])
    nii.write(path("bin.nii.gz"), p1.astype(np.float32), SP)
    nii.write(path("refbin.nii.gz"), ref, SP)
    rep = score(path("bin.nii.gz"), path("refbin.nii.gz"),
                {"losses": ["ce", "dice", "dice_bce"]})
    p = p1.astype(np.float32).astype(np.float64).ravel()
    g = ref.ravel().astype(float)
    bce = -(g * np.log(np.clip(p, EPS, 1 - EPS)) +
            (1 - g) * np.log(np.clip(1 - p, EPS, 1 - EPS))).mean()
    close(rep["summary"]["losses"]["ce"], bce, "binary ce")
    d = 1 - (2 * (p * g).sum() + 1e-5) / (p.sum() + g.sum() + 1e-5)
    close(rep["classes"][0]["losses"]["dice"], d, "binary dice")
    close(rep["classes"][0]["losses"]["dice_bce"], 0.5 * bce + 0.5 * d,
          "binary dice_bce")
    assert set(rep["summary"]["losses"]) == {"ce", "dice", "dice_bce"}


def test_label_maps_give_hard_losses():
    pred = REF.copy()
    pred[3:5, 3:5, 3:5] = 0
    pred[pred == 9] = 0
    nii.write(path("lab.nii.gz"), pred, SP)
    rep = score(path("lab.nii.gz"), path("ref.nii.gz"),
                {"ignore_label": 9, "losses": ["ce", "dice"]})
    assert rep["conventions"]["losses"]["hard"] is True
    ok = REF != 9
    wrong = (pred[ok] != REF[ok]).sum()
    n = ok.sum()
    close(rep["summary"]["losses"]["ce"],
          (wrong * -math.log(EPS) + (n - wrong) * -math.log(1 - EPS)) / n,
          "hard ce")
    # no losses by default for label maps, and no probability trade-offs
    rep = score(path("lab.nii.gz"), path("ref.nii.gz"), {"ignore_label": 9})
    assert "losses" not in rep["summary"]
    assert "tradeoffs" not in rep["classes"][0]


def test_invalid_probabilities_name_the_voxel():
    bad = P32.copy()
    bad[4, 2, 1, 2] = np.nan
    nii.write(path("nan.nii.gz"), bad, SP)
    e = score(path("nan.nii.gz"), path("ref.nii.gz"), {"ignore_label": 9},
              code=3)
    assert e["type"] == "/problems/invalid-probabilities", e
    assert "voxel (4,2,1) channel 2 is NaN" in e["detail"], e
    bad = P32.copy()
    bad[1, 5, 6, 0] += 0.25
    nii.write(path("sum.nii.gz"), bad, SP)
    e = score(path("sum.nii.gz"), path("ref.nii.gz"), {"ignore_label": 9},
              code=3)
    assert "(1,5,6)" in e["detail"] and "sum to 1" in e["detail"], e
    bad = P32.copy()
    bad[0, 0, 0, 1] = -0.5
    nii.write(path("neg.nii.gz"), bad, SP)
    e = score(path("neg.nii.gz"), path("ref.nii.gz"), {"ignore_label": 9},
              code=3)
    assert "voxel (0,0,0) channel 1 is negative" in e["detail"], e


def test_option_errors():
    cases = [
        ({"losses": ["dice", "nope"]}, "unknown-option", "losses[1]"),
        ({"loss_params": {"nope": {}}}, "unknown-option", "loss_params.nope"),
        ({"loss_params": {"tversky": {"gamma": 1}}}, "unknown-option",
         "loss_params.tversky.gamma"),
        ({"loss_params": {"tversky": {"alpha": -1}}}, "option-out-of-range",
         "loss_params.tversky.alpha"),
        ({"loss_params": {"topk": {"k": 0}}}, "option-out-of-range",
         "loss_params.topk.k"),
        ({"loss_params": {"focal": {"alpha": [1, 1]}}, "ignore_label": 9},
         "option-out-of-range", "loss_params.focal.alpha"),
        ({"class_weights": "sometimes"}, "option-out-of-range",
         "class_weights"),
        ({"class_weights": [1, 2], "ignore_label": 9}, "option-out-of-range",
         "class_weights"),
        ({"compound": [{"loss": "nope"}]}, "unknown-option",
         "compound[0].loss"),
        ({"smooth": {"nr": -1}}, "option-out-of-range", "smooth.nr"),
        ({"tradeoff_grid": {"pr_bins": 10}}, "option-out-of-range",
         "tradeoff_grid.pr_bins"),
    ]
    for opts, slug, field in cases:
        e = score(path("p4.nii.gz"), path("ref.nii.gz"), opts, code=3)
        assert e["type"] == "/problems/" + slug, (opts, e)
        assert e.get("field") == field, (opts, e)


def test_reference_label_without_channel():
    e = score(path("p4.nii.gz"), path("ref.nii.gz"), code=3)
    assert e["type"] == "/problems/invalid-labels", e
    assert "label 9" in e["detail"], e


def test_catalog():
    cat = json.loads(run("catalog").stdout)
    by = {x["name"]: x for x in cat["losses"]}
    assert by["tversky"]["parameters"][0]["name"] == "alpha"
    assert by["tversky"]["parameters"][0]["default"] == 0.3
    assert by["focal"]["parameters"][1]["per_class"] is True
    assert by["topk"]["parameters"][0]["min_exclusive"] is True
    for x in cat["losses"]:
        assert x["citation"] and x["formula"], x
        assert x["formula_ref"].startswith("docs/losses.md#")
    assert cat["tradeoffs"]["defaults"]["pr_bins"] == 1000


for fn in (test_probabilities_match_numpy, test_vector_intent_5d_is_the_same,
           test_logits_take_softmax, test_threads_give_identical_losses,
           test_binary_foreground_map, test_label_maps_give_hard_losses,
           test_invalid_probabilities_name_the_voxel, test_option_errors,
           test_reference_label_without_channel, test_catalog):
    case(fn)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
