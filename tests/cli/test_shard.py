#!/usr/bin/python3
"""Sharded evaluation: `segscore evaluate --shard I/N` run as N processes
at once, then `segscore merge`, must give exactly the output of one
unsharded run: the same cases, evaluate counts and lists, conventions and
summary, number for number (parsed reals compared with ==; the writer's 17
significant digits make that bit equality), and the same CSV bytes.  For
N = 1, 2, 3, 7 and more shards than cases, with a missing prediction, an
extra file and a corrupt case in the folder, with and without
worst_distance_mm.  Then the merge refuses what it must: a missing,
duplicated, truncated or foreign shard.
Usage: test_shard.py SEGSCORE.  SPDX-License-Identifier: MIT"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nii  # noqa: E402

BIN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="segscore-shard-")
PRED, REF = os.path.join(TMP, "pred"), os.path.join(TMP, "ref")
os.makedirs(PRED)
os.makedirs(REF)
passed = failed = 0
OPTS = '{"metrics":["overlap","boundary","lesions"],"percentiles":[95,50]}'
OPTS_WORST = '{"metrics":["overlap","boundary"],"worst_distance_mm":40}'


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
    assert p.returncode == code, (args, p.returncode, p.stderr[-1500:])
    return p


# 13 cases (a prime, so shards get unequal counts) with names whose byte
# order differs from a numeric or case-folded order; 3 labels, some classes
# empty on one side so summaries carry undefined and substituted values.
rng = np.random.default_rng(8)
NAMES = ["case_10", "case_2", "Case_3", "case_1", "case_20", "case_0b",
         "case_0a", "z", "a-1", "a_1", "case_11", "case_9", "m"]
for i, name in enumerate(NAMES):
    shape = (20, 18, 10)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    x, y, z = rng.integers(1, 7, 3)
    ref[x:x + 7, y:y + 6, z:z + 3] = 1
    dx, dy = rng.integers(-2, 3, 2)
    pred[max(x + dx, 0):x + dx + 7, max(y + dy, 0):y + dy + 5, z:z + 3] = 1
    if i % 3 != 0:
        ref[13:17, 12:16, 2:5] = 2
    if i % 4 != 1:
        pred[13 + i % 2:17, 12:16, 2:5 + i % 3] = 2
    if i % 5 == 0:
        pred[0:2, 0:2, 0:2] = 3
    sp = (1.0, 0.8, 2.5)
    nii.write(os.path.join(REF, name + ".nii.gz"), ref, sp)
    if name != "case_20":
        nii.write(os.path.join(PRED, name + ".nii.gz"), pred, sp)
nii.write(os.path.join(PRED, "extra_case.nii.gz"), pred, sp)
# A pair that fails to decode: listed in evaluate.failed by every run.
nii.write(os.path.join(REF, "broken.nii.gz"), ref, sp)
with open(os.path.join(PRED, "broken.nii.gz"), "wb") as f:
    f.write(b"\x1f\x8b\x08\x00not really gzip")


def evaluate(opts, out, *extra):
    run("evaluate", "--pred-dir", PRED, "--ref-dir", REF, "--options", opts,
        "--out", out, *extra)
    return out


def shards(opts, n, tag):
    """Run the N shards as N processes at once; return their files."""
    outs = [os.path.join(TMP, f"{tag}-shard-{i}.json") for i in range(n)]
    procs = [subprocess.Popen([BIN, "evaluate", "--pred-dir", PRED,
                               "--ref-dir", REF, "--options", opts,
                               "--shard", f"{i}/{n}", "--threads", "1",
                               "--out", outs[i]],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for i in range(n)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    return outs


def strip_timing(doc):
    doc = json.loads(json.dumps(doc))
    for c in doc["cases"]:
        c["report"].pop("timing_ms", None)
    return doc


def load(path):
    with open(path) as f:
        return json.load(f)


SINGLE = {}


def single(opts):
    if opts not in SINGLE:
        out = evaluate(opts, os.path.join(TMP, f"single-{len(SINGLE)}.json"),
                       "--csv", os.path.join(TMP, f"single-{len(SINGLE)}.csv"))
        SINGLE[opts] = out
    return SINGLE[opts]


def merged_equals_single(opts, n, tag):
    one = single(opts)
    outs = shards(opts, n, tag)
    merged = os.path.join(TMP, f"{tag}-merged.json")
    csv = os.path.join(TMP, f"{tag}-merged.csv")
    # Shard files in any order: the merge sorts by shard index and name.
    run("merge", *reversed(outs), "--out", merged, "--csv", csv)
    a, b = load(one), load(merged)
    assert a["summary"] == b["summary"], "summary differs"
    assert strip_timing(a) == strip_timing(b), "output differs"
    assert list(a) == list(b), (list(a), list(b))           # key order
    assert list(a["evaluate"]) == list(b["evaluate"]), b["evaluate"]
    with open(one.replace(".json", ".csv"), "rb") as f1, \
            open(csv, "rb") as f2:
        assert f1.read() == f2.read(), "CSV differs"
    return a, outs


@case
def test_fixture_has_failed_missing_and_extra():
    a = load(single(OPTS))
    ev = a["evaluate"]
    assert ev["n_pairs"] == 13 and ev["n_scored"] == 12, ev
    assert [f["case"] for f in ev["failed"]] == ["broken"], ev["failed"]
    assert ev["missing_predictions"] == ["case_20.nii.gz"], ev
    assert ev["extra_files"] == ["extra_case.nii.gz"], ev
    names = [c["case"] for c in a["cases"]]
    assert names == sorted(n for n in NAMES if n != "case_20"), names


@case
def test_shard_takes_every_nth_case_by_name():
    outs = shards(OPTS, 3, "deal")
    pairs = sorted([n for n in NAMES if n != "case_20"] + ["broken"])
    for i, path in enumerate(outs):
        d = load(path)
        got = sorted([c["case"] for c in d["cases"]] +
                     [f["case"] for f in d["evaluate"]["failed"]])
        assert got == pairs[i::3], (i, got, pairs[i::3])
        sh = d["evaluate"]["shard"]
        assert sh["index"] == i and sh["count"] == 3, sh
        assert sh["n_pairs_total"] == 13 and d["evaluate"]["n_pairs"] == \
            len(pairs[i::3]), d["evaluate"]


@case
def test_merge_of_1_shard_equals_one_run():
    merged_equals_single(OPTS, 1, "n1")


@case
def test_merge_of_2_shards_equals_one_run():
    merged_equals_single(OPTS, 2, "n2")


@case
def test_merge_of_3_shards_equals_one_run():
    merged_equals_single(OPTS, 3, "n3")


@case
def test_merge_of_7_shards_equals_one_run():
    merged_equals_single(OPTS, 7, "n7")


@case
def test_more_shards_than_cases_equals_one_run():
    merged_equals_single(OPTS, 16, "n16")


@case
def test_worst_distance_merge_equals_one_run():
    a, _ = merged_equals_single(OPTS_WORST, 4, "worst")
    assert a["summary"]["worst_distance_mm"] == 40
    assert any(m["n_substituted"] > 0 for c in a["summary"]["classes"]
               for m in c["metrics"].values()), "no substituted value"


@case
def test_shard_usage_errors():
    for bad in ("3/3", "1/0", "-1/2", "a/2", "1/2x", "1", "1/ 2", "/2"):
        run("evaluate", "--pred-dir", PRED, "--ref-dir", REF, "--shard",
            bad, code=2)
    run("merge", code=2)


def refuse(name, files):
    p = run("merge", *files, "--out", os.path.join(TMP, name + ".json"),
            code=3)
    problem = json.loads(p.stderr.strip().splitlines()[0])
    assert problem.get("field") == "shard", problem
    assert not os.path.exists(os.path.join(TMP, name + ".json"))
    return problem["detail"]


@case
def test_merge_refuses_a_missing_shard():
    outs = shards(OPTS, 3, "refuse")
    refuse("missing", outs[:2])


@case
def test_merge_refuses_a_duplicate_shard():
    outs = shards(OPTS, 3, "refuse")
    refuse("dup", [outs[0], outs[1], outs[1]])


@case
def test_merge_refuses_a_truncated_shard():
    outs = shards(OPTS, 3, "refuse")
    cut = os.path.join(TMP, "truncated-shard.json")
    with open(outs[2], "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:len(data) // 2])
    detail = refuse("cut", [outs[0], outs[1], cut])
    assert "complete JSON" in detail, detail


@case
def test_merge_refuses_shards_of_different_options():
    outs = shards(OPTS, 2, "refuse-a")
    other = shards(OPTS_WORST, 2, "refuse-b")
    assert "another run" in refuse("mixed", [outs[0], other[1]])


@case
def test_merge_refuses_shards_of_different_folders():
    outs = shards(OPTS, 2, "fold-a")
    moved = os.path.join(TMP, "moved")
    shutil.copytree(PRED, moved + "/pred")
    shutil.copytree(REF, moved + "/ref")
    os.rename(moved + "/pred/a-1.nii.gz", moved + "/pred/zz.nii.gz")
    os.rename(moved + "/ref/a-1.nii.gz", moved + "/ref/zz.nii.gz")
    other = os.path.join(TMP, "fold-b.json")
    run("evaluate", "--pred-dir", moved + "/pred", "--ref-dir",
        moved + "/ref", "--options", OPTS, "--shard", "1/2", "--out", other)
    refuse("folders", [outs[0], other])


@case
def test_merge_refuses_an_unsharded_output():
    refuse("unsharded", [single(OPTS)])


print(f"{passed} passed, {failed} failed")
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(1 if failed else 0)
