#!/usr/bin/python3
"""Malformed-input corpus against a live segscored (issue 7).

Table-driven: each case sends one bad request and expects its own HTTP
status and problem "type" (or, for connection-level abuse, a closed
connection); after every case /healthz answers 200 and a valid request
still scores correctly (Dice checked against numpy).  At the end the
daemon gets SIGTERM and must exit 0; under the ASan+UBSan build its log
must hold no sanitizer report (leaks included).

Usage: malformed.py SEGSCORED OUTDIR [--asan]
SPDX-License-Identifier: MIT
"""
import gzip
import os
import struct
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import hclient as hc  # noqa: E402
import nii  # noqa: E402

SHAPE = (24, 20, 10)
SPACING = (0.8, 0.8, 2.0)
failures = []
passes = 0


def ok(cond, what):
    global passes
    if cond:
        passes += 1
        print("ok -", what)
    else:
        failures.append(what)
        print("not ok -", what)
    return cond


def nbytes(tmp, name, data, **kw):
    path = os.path.join(tmp, name)
    nii.write(path, data, kw.pop("spacing", SPACING), **kw)
    return open(path, "rb").read()


def make_data(tmp):
    x, y, z = np.indices(SHAPE)
    ref = np.zeros(SHAPE, np.uint8)
    ref[(x - 10) ** 2 + (y - 10) ** 2 + 4 * (z - 5) ** 2 < 40] = 1
    ref[(x >= 16) & (x < 22) & (y >= 4) & (y < 9)] = 2
    pred = np.zeros(SHAPE, np.uint8)
    pred[(x - 11) ** 2 + (y - 10) ** 2 + 4 * (z - 5) ** 2 < 36] = 1
    pred[(x >= 15) & (x < 22) & (y >= 5) & (y < 9)] = 2
    dice = {}
    for lab in (1, 2):
        a, b = pred == lab, ref == lab
        dice[lab] = 2.0 * (a & b).sum() / (a.sum() + b.sum())
    d = {"dice": dice}
    d["pred"] = nbytes(tmp, "pred.nii.gz", pred)
    d["ref"] = nbytes(tmp, "ref.nii.gz", ref)
    d["pred_raw"] = nbytes(tmp, "pred.nii", pred)
    good = d["pred_raw"]
    d["truncated_gz"] = d["pred"][:-30]
    d["garbage_gz"] = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4
    # A bomb: 400x400x400 zeros (64 MB) compress to ~60 KB, past the
    # daemon's --max-decompressed-mb 8.
    big = np.zeros((400, 400, 400), np.uint8)
    d["bomb"] = gzip.compress(nbytes(tmp, "bomb.nii", big), 9)
    # A bomb that lies: a small header, then 64 MB of zeros after the data.
    d["bomb_tail"] = gzip.compress(good + bytes(64 << 20), 9)
    d["badmagic"] = good[:344] + b"xx1\0" + good[348:]
    d["lyingdims"] = good[:42] + struct.pack("<hhh", 48, 40, 20) + good[48:]
    d["hugedims"] = good[:42] + struct.pack("<hhh", 10000, 10000,
                                           10000) + good[48:]
    n2 = nbytes(tmp, "n2.nii", pred, version=2)
    d["hugedims_n2"] = n2[:24] + struct.pack("<qqq", 10 ** 4, 10 ** 4,
                                            10 ** 4) + n2[48:]
    d["overflow_n2"] = n2[:24] + struct.pack("<qqq", 2 ** 62, 2 ** 62,
                                            4) + n2[48:]
    d["negdim"] = good[:42] + struct.pack("<h", -24) + good[44:]
    d["zerodim"] = good[:42] + struct.pack("<h", 0) + good[44:]
    d["dim0_9"] = good[:40] + struct.pack("<h", 9) + good[42:]
    d["badtype"] = good[:70] + struct.pack("<h", 32) + good[72:]
    d["fraction_ref"] = nbytes(tmp, "frac.nii.gz", (ref / 3.0).astype(np.float32))
    d["scaled_ref"] = nbytes(tmp, "scaled.nii.gz", ref.astype(np.int16),
                             slope=0.5, inter=0.25)
    d["shape"] = nbytes(tmp, "shape.nii.gz", pred[:, :, :8])
    aff = np.diag(list(SPACING) + [1.0])
    aff[0, 3] = 5.0
    d["affine"] = nbytes(tmp, "affine.nii.gz", pred, affine=aff)
    d["ref4d"] = nbytes(tmp, "ref4d.nii.gz",
                        np.stack([ref, ref], axis=3).astype(np.uint8))
    # Probabilities, 3 channels (classes 0..2).
    pr = np.stack([(pred == c).astype(np.float32) * 0.8 + 0.1 for c in range(3)],
                  axis=3)
    pr /= pr.sum(axis=3, keepdims=True)
    d["probs"] = nbytes(tmp, "probs.nii.gz", pr.astype(np.float32))
    for name, val in (("nan", np.nan), ("inf", np.inf), ("neg", -0.5)):
        q = pr.copy()
        q[3, 3, 3, 1] = val
        d["probs_" + name] = nbytes(tmp, f"probs_{name}.nii.gz",
                                    q.astype(np.float32))
    d["probs_sum"] = nbytes(tmp, "probs_sum.nii.gz", (pr * 1.7).astype(np.float32))
    return d


def valid_ok(port, d, tag):
    r = hc.score(port, [("prediction", d["pred"]), ("reference", d["ref"])],
                 timeout=60)
    if r is None or r.status != 200:
        return ok(False, f"{tag}: valid request scores 200 (got {r})")
    rep = r.json()
    got = {c["label"]: c["overlap"]["dice"] for c in rep["classes"]}
    good = all(abs(got.get(k, -1) - v) < 1e-12 for k, v in d["dice"].items())
    return ok(good, f"{tag}: valid request scores correctly ({got})")


def healthy(port, tag):
    r = hc.request(port, "GET", "/healthz", timeout=10)
    return ok(r is not None and r.status == 200 and r.elapsed < 2.0,
              f"{tag}: /healthz 200 after the case")


def problem_ok(r, status, slug, tag, pending=False):
    if not ok(r is not None, f"{tag}: answered"):
        return
    if status == 200:
        ok(r.status == 200 and r.elapsed < 5.0,
           f"{tag}: 200 within 5 s (got {r.status} in {r.elapsed:.1f} s)")
        return
    if pending and r.status == 200:
        print(f"# SKIP {tag}: scored (200); probability validation comes "
              "with the losses work (not in this daemon yet)")
        return
    body = {}
    try:
        body = r.json()
    except ValueError:
        pass
    ok(r.status == status, f"{tag}: status {status} (got {r.status}: "
       f"{body.get('detail', r.body[:120])})")
    ok(body.get("type") == "/problems/" + slug,
       f"{tag}: type /problems/{slug} (got {body.get('type')})")
    ok((r.header("content-type") or "").startswith("application/problem+json"),
       f"{tag}: problem+json")
    ok(body.get("status") == r.status, f"{tag}: body status matches")


def cases(d):
    P, R = d["pred"], d["ref"]
    S = lambda parts, **kw: ("score", parts, kw)  # noqa: E731
    T = []  # (name, request, status, slug); status None = connection closed
    add = lambda *c: T.append(c)  # noqa: E731
    add("truncated gzip", S([("prediction", d["truncated_gz"]), ("reference", R)]), 400, "invalid-gzip")
    add("corrupt gzip", S([("prediction", d["garbage_gz"]), ("reference", R)]), 400, "invalid-gzip")
    add("gzip bomb (header says 64 MB)", S([("prediction", d["bomb"]), ("reference", R)]), 413, "too-large")
    # Only the bytes the header describes are inflated: scored, and fast.
    add("gzip bomb in the tail", S([("prediction", d["bomb_tail"]), ("reference", R)]), 200, None)
    add("wrong magic", S([("prediction", d["badmagic"]), ("reference", R)]), 400, "invalid-nifti")
    add("header dims lie about the data size", S([("prediction", d["lyingdims"]), ("reference", R)]), 400, "truncated-nifti")
    add("10^12-voxel dims (NIfTI-1)", S([("prediction", d["hugedims"]), ("reference", R)]), 413, "too-large")
    add("10^12-voxel dims (NIfTI-2)", S([("prediction", d["hugedims_n2"]), ("reference", R)]), 413, "too-large")
    add("dims whose product overflows", S([("prediction", d["overflow_n2"]), ("reference", R)]), 413, "too-large")
    add("negative dim", S([("prediction", d["negdim"]), ("reference", R)]), 400, "invalid-nifti")
    add("zero dim", S([("prediction", d["zerodim"]), ("reference", R)]), 400, "invalid-nifti")
    add("dim[0] out of range", S([("prediction", d["dim0_9"]), ("reference", R)]), 400, "invalid-nifti")
    add("unsupported datatype", S([("prediction", d["badtype"]), ("reference", R)]), 422, "unsupported-datatype")
    add("non-integral labels", S([("prediction", P), ("reference", d["fraction_ref"])]), 422, "invalid-labels")
    add("scaled labels (non-integral after scaling)", S([("prediction", P), ("reference", d["scaled_ref"])]), 422, "invalid-labels")
    add("NaN probability", S([("prediction", d["probs_nan"]), ("reference", R)]), 422, "invalid-probabilities")
    add("Inf probability", S([("prediction", d["probs_inf"]), ("reference", R)]), 422, "invalid-probabilities")
    add("negative probability", S([("prediction", d["probs_neg"]), ("reference", R)]), 422, "invalid-probabilities")
    add("probabilities not summing to 1", S([("prediction", d["probs_sum"]), ("reference", R)]), 422, "invalid-probabilities")
    add("shape mismatch", S([("prediction", d["shape"]), ("reference", R)]), 422, "shape-mismatch")
    add("affine mismatch", S([("prediction", d["affine"]), ("reference", R)]), 422, "geometry-mismatch")
    add("4-D reference", S([("prediction", P), ("reference", d["ref4d"])]), 422, "invalid-labels")
    add("empty file", S([("prediction", b""), ("reference", R)]), 400, "invalid-nifti")
    add("empty reference", S([("prediction", P), ("reference", b"")]), 400, "invalid-nifti")
    add("missing part", S([("prediction", P)]), 400, "missing-part")
    add("missing prediction", S([("reference", R)]), 400, "missing-part")
    add("duplicated part", S([("prediction", P), ("prediction", P), ("reference", R)]), 400, "duplicate-part")
    add("duplicated options", S([("prediction", P), ("reference", R), ("options", b"{}"), ("options", b"{}")]), 400, "duplicate-part")
    add("unknown part", S([("prediction", P), ("reference", R), ("secret", b"x")]), 400, "unknown-part")
    add("unknown option", S([("prediction", P), ("reference", R), ("options", b'{"no_such_option":1}')]), 400, "unknown-option")
    add("wrong option type", S([("prediction", P), ("reference", R), ("options", b'{"percentiles":"95"}')]), 400, "invalid-option-type")
    add("option out of range", S([("prediction", P), ("reference", R), ("options", b'{"percentiles":[101]}')]), 400, "option-out-of-range")
    add("options not JSON", S([("prediction", P), ("reference", R), ("options", b'{"labels":[1,')]), 400, "invalid-option-type")
    add("options duplicate key", S([("prediction", P), ("reference", R), ("options", b'{"labels":[1],"labels":[2]}')]), 400, "invalid-option-type")
    body = hc.multipart([("prediction", P), ("reference", R)])
    add("malformed multipart boundary", ("raw", dict(body=body.replace(hc.BOUNDARY, b"otherBoundary"), ctype=hc.CT_MULTIPART)), 400, "missing-part")
    add("multipart without a closing boundary", ("raw", dict(body=body[:-len(hc.BOUNDARY) - 6], ctype=hc.CT_MULTIPART)), 400, "invalid-multipart")
    add("multipart without boundary parameter", ("raw", dict(body=body, ctype=b"multipart/form-data")), 400, "invalid-multipart")
    add("garbage body", ("raw", dict(body=bytes(range(256)) * 64, ctype=hc.CT_MULTIPART)), 400, "missing-part")
    add("not multipart", ("raw", dict(body=b'{"a":1}', ctype=b"application/json")), 415, "unsupported-media-type")
    big = hc.multipart([("prediction", bytes(3 << 20)), ("reference", R)])
    add("body over the limit with Content-Length", ("raw", dict(body=big, ctype=hc.CT_MULTIPART)), 413, "upload-too-large")
    add("body over the limit, chunked", ("raw", dict(body=big, ctype=hc.CT_MULTIPART, chunked=True)), 413, "upload-too-large")
    add("wrong method", ("req", dict(method="GET", path="/v1/score")), 405, "method-not-allowed")
    add("wrong method on a probe", ("req", dict(method="DELETE", path="/healthz")), 405, "method-not-allowed")
    add("unknown route", ("req", dict(method="GET", path="/v1/nothing")), 404, "not-found")
    add("path traversal", ("req", dict(method="GET", path="/../../etc/passwd")), 404, "not-found")
    return T


def run_case(port, req):
    kind, arg = req[0], req[1]
    if kind == "score":
        return hc.score(port, arg, timeout=60, **req[2])
    if kind == "raw":
        a = dict(arg)
        return hc.request(port, "POST", "/v1/score", timeout=60, **a)
    return hc.request(port, arg["method"], arg["path"], timeout=30)


def slow_drip(port, d):
    """A client sending one byte every 0.4 s: the daemon drops it at the
    --deadline (2 s) and keeps serving everyone else meanwhile."""
    body = hc.multipart([("prediction", d["pred"]), ("reference", d["ref"])])
    out = {}

    def drip():
        t0 = time.monotonic()
        out["r"] = hc.request(port, "POST", "/v1/score", body=body,
                              ctype=hc.CT_MULTIPART, drip=(1, 0.4), timeout=20)
        out["t"] = time.monotonic() - t0

    th = threading.Thread(target=drip)
    th.start()
    time.sleep(0.5)
    fast = []
    for _ in range(5):
        r = hc.request(port, "GET", "/healthz", timeout=5)
        fast.append(r is not None and r.status == 200 and r.elapsed < 1.0)
    ok(all(fast), "slow drip: /healthz stays fast meanwhile")
    valid_ok(port, d, "slow drip: others still score")
    th.join(30)
    ok(not th.is_alive(), "slow drip: client released")
    r = out.get("r")
    ok((r is None or r.status in (408, 413)) and out.get("t", 99) < 12,
       f"slow drip: dropped near the deadline ({r}, {out.get('t', 0):.1f} s)")
    # Headers only, then silence: closed at the inactivity timeout.
    t0 = time.monotonic()
    r = hc.request(port, "POST", "/v1/score",
                   raw=b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: " +
                   hc.CT_MULTIPART + b"\r\nContent-Length: 100000\r\n\r\n--",
                   timeout=20)
    ok(r is None or r.status in (408,), f"stalled upload: closed ({r}, "
       f"{time.monotonic() - t0:.1f} s)")


def main():
    binary, out = sys.argv[1], sys.argv[2]
    asan = "--asan" in sys.argv
    tag = "asan " if asan else ""
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "data")
    os.makedirs(tmp, exist_ok=True)
    d = make_data(tmp)
    log = os.path.join(out, "segscored-asan.log" if asan else "segscored.log")
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    dm = hc.Daemon(binary, log, ["--workers", "1", "--threads-per-job", "1",
                                 "--max-upload-mb", "2",
                                 "--max-decompressed-mb", "8",
                                 "--max-voxels", "2000000",
                                 "--timeout", "2", "--deadline", "2"], env)
    try:
        valid_ok(dm.port, d, tag + "baseline")
        # Probability checks belong to the losses work: strict once the
        # daemon's catalog lists losses, reported as SKIP before.
        cat = hc.request(dm.port, "GET", "/v1/catalog", timeout=10)
        has_losses = cat is not None and cat.status == 200 and \
            bool(cat.json().get("losses"))
        for name, req, status, slug in cases(d):
            r = run_case(dm.port, req)
            pending = slug == "invalid-probabilities" and not has_losses
            problem_ok(r, status, slug, tag + name, pending)
            healthy(dm.port, tag + name)
            valid_ok(dm.port, d, tag + name)
            ok(dm.alive(), tag + name + ": daemon alive")
        slow_drip(dm.port, d)
        healthy(dm.port, tag + "after all cases")
    finally:
        rc = dm.stop()
    ok(rc == 0, f"{tag}SIGTERM: exit 0 (got {rc})")
    text = dm.log_text()
    ok(not hc.SANITIZER_RE.search(text), f"{tag}no sanitizer report in the log")
    print(f"{passes} passed, {len(failures)} failed")
    for f in failures:
        print("failed:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
