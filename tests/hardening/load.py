#!/usr/bin/python3
"""Load, overload, shutdown and privacy tests against a live segscored
(issue 7).  Each part starts its own daemon on 127.0.0.1:<free port>.

  soak      32 concurrent clients, valid and invalid requests mixed, for
            SOAK_SECONDS (30 in `make test`, 120 in `make soak`): zero
            failures on valid requests, RSS flat after warm-up (the curve
            goes to OUT/rss.csv), file descriptors back to the baseline.
  overload  more concurrent large uploads than the memory budget: fast
            503 + Retry-After, daemon alive and bounded; /healthz fast
            while the worker is saturated; many slow uploads do not
            starve a normal client.
  shutdown  SIGTERM under load: every request admitted before the signal
            answers 200 and correct, new connections are refused, exit 0.
  privacy   files whose NIfTI descrip/aux_file/intent_name and file names
            carry a fresh marker: no log line and no file written under
            /tmp or the work tree contains it.

Usage: load.py SEGSCORED OUTDIR [PART...]    SPDX-License-Identifier: MIT
"""
import errno
import io
import os
import random
import socket
import sys
import threading
import time

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hclient as hc  # noqa: E402

failures = []
passes = 0


def ok(cond, what):
    global passes
    if cond:
        passes += 1
        print("ok -", what, flush=True)
    else:
        failures.append(what)
        print("not ok -", what, flush=True)
    return cond


def nifti_bytes(arr, spacing=(1.0, 1.0, 1.0), gz=True, descrip=None,
                aux=None, intent_name=None):
    """NIfTI-1 bytes built in memory (never written to disk)."""
    img = nib.Nifti1Image(arr, np.diag(list(spacing) + [1.0]))
    img.header.set_xyzt_units("mm")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    if descrip is not None:
        img.header["descrip"] = descrip
    if aux is not None:
        img.header["aux_file"] = aux
    if intent_name is not None:
        img.header["intent_name"] = intent_name
    raw = img.to_bytes()
    if not gz:
        return raw
    import gzip
    return gzip.compress(raw, 1)


def pair(shape, seed=1):
    rng = np.random.default_rng(seed)
    x, y, z = np.indices(shape)
    c = np.array(shape) / 2
    ref = (((x - c[0]) / c[0]) ** 2 + ((y - c[1]) / c[1]) ** 2 +
           ((z - c[2]) / c[2]) ** 2 < 0.5).astype(np.uint8)
    ref[(x < shape[0] // 4) & (y < shape[1] // 4)] = 2
    pred = ref.copy()
    flip = rng.random(shape) < 0.03
    pred[flip] = (pred[flip] + 1) % 3
    dice = {}
    for lab in (1, 2):
        a, b = pred == lab, ref == lab
        dice[lab] = 2.0 * (a & b).sum() / (a.sum() + b.sum())
    return pred, ref, dice


def report_ok(r, dice):
    if r is None or r.status != 200:
        return False
    try:
        got = {c["label"]: c["overlap"]["dice"] for c in r.json()["classes"]}
    except (ValueError, KeyError, TypeError):
        return False
    return all(abs(got.get(k, -1) - v) < 1e-12 for k, v in dice.items())


def sanitizer_clean(dm, tag):
    ok(not hc.SANITIZER_RE.search(dm.log_text()), f"{tag}: no sanitizer report")


#---- soak ---------------------------------------------------------------------

def soak(binary, out):
    secs = float(os.environ.get("SOAK_SECONDS", "30"))
    nclients = int(os.environ.get("SOAK_CLIENTS", "32"))
    pred, ref, dice = pair((64, 64, 32))
    P, R = nifti_bytes(pred), nifti_bytes(ref)
    Praw = nifti_bytes(pred, gz=False)
    bad_shape = nifti_bytes(pred[:, :, :30])
    bad_magic = Praw[:344] + b"xx1\0" + Praw[348:]
    # (weight, name, send, check); valid ones are checked for the right
    # Dice, invalid ones for their exact status.
    valid = [
        (4, "valid gz", lambda p: hc.score(p, [("prediction", P), ("reference", R)])),
        (2, "valid raw+opts", lambda p: hc.score(p, [("prediction", Praw), ("reference", R),
                                                      ("options", b'{"metrics":["overlap","boundary"]}')])),
        (1, "valid chunked", lambda p: hc.score(p, [("prediction", P), ("reference", R)], chunked=True)),
    ]
    invalid = [
        (1, 422, lambda p: hc.score(p, [("prediction", bad_shape), ("reference", R)])),
        (1, 400, lambda p: hc.score(p, [("prediction", P)])),
        (1, 400, lambda p: hc.score(p, [("prediction", bad_magic), ("reference", R)])),
        (1, 400, lambda p: hc.score(p, [("prediction", P), ("reference", R), ("options", b'{"x":1}')])),
        (1, 405, lambda p: hc.request(p, "GET", "/v1/score")),
        (1, 404, lambda p: hc.request(p, "GET", "/nope")),
        (1, 200, lambda p: hc.request(p, "GET", "/healthz")),
        (1, 200, lambda p: hc.request(p, "GET", "/metrics")),
    ]
    table = [("v", w, n, f, None) for w, n, f in valid] + \
            [("i", w, f"invalid {s}", f, s) for w, s, f in invalid]
    weights = [t[1] for t in table]
    dm = hc.Daemon(binary, os.path.join(out, "soak.log"),
                   ["--workers", "2", "--threads-per-job", "1", "--queue", "64"])
    stats = {"valid": 0, "valid_fail": 0, "invalid": 0, "invalid_fail": 0}
    fails = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(i):
        rng = random.Random(i)
        while not stop.is_set():
            kind, _, name, send, want = rng.choices(table, weights)[0]
            try:
                r = send(dm.port)
            except OSError as e:
                r = None
                name += f" ({e})"
            good = report_ok(r, dice) if kind == "v" else \
                (r is not None and r.status == want)
            with lock:
                key = "valid" if kind == "v" else "invalid"
                stats[key] += 1
                if not good:
                    stats[key + "_fail"] += 1
                    if len(fails) < 10:
                        fails.append((name, r))

    try:
        ok(report_ok(hc.score(dm.port, [("prediction", P), ("reference", R)]), dice),
           "soak: warm-up request correct")
        time.sleep(0.5)
        fd0 = dm.nfds()
        samples = []
        t0 = time.monotonic()
        ths = [threading.Thread(target=client, args=(i,)) for i in range(nclients)]
        for t in ths:
            t.start()
        while time.monotonic() - t0 < secs:
            time.sleep(1.0)
            samples.append((time.monotonic() - t0, dm.rss_kb(), dm.nfds(),
                            stats["valid"] + stats["invalid"]))
        stop.set()
        for t in ths:
            t.join(90)
        ok(not any(t.is_alive() for t in ths), "soak: clients finished")
        time.sleep(1.5)
        fd1 = dm.nfds()
        with open(os.path.join(out, "rss.csv"), "w") as f:
            f.write("seconds,rss_kb,fds,requests\n")
            for s in samples:
                f.write("%.1f,%s,%s,%s\n" % s)
        total = stats["valid"] + stats["invalid"]
        print(f"# soak: {nclients} clients, {secs:.0f} s, {total} requests "
              f"({total / secs:.0f}/s), {stats}")
        rss = [s[1] for s in samples if s[1]]
        if rss:
            q = max(1, len(rss) // 4)
            print("# soak RSS MiB every %.0f s: %s" % (
                max(1.0, secs / 30), " ".join(
                    "%.0f" % (r / 1024) for r in rss[::max(1, len(rss) // 30)])))
            # Medians per quarter: glibc's arenas swing a few MiB between
            # samples; a leak shows as a rising median.
            med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
            warm = med(rss[q:2 * q] or rss)   # second quarter: after warm-up
            last = med(rss[-q:])
            ok(last <= warm * 1.2 + 8 * 1024,
               f"soak: RSS flat after warm-up (median {warm // 1024} MiB in "
               f"the 2nd quarter, {last // 1024} MiB in the last)")
        ok(stats["valid"] > 0 and stats["valid_fail"] == 0,
           f"soak: zero failures on {stats['valid']} valid requests "
           f"({stats['valid_fail']} failed: {fails[:3]})")
        ok(stats["invalid_fail"] == 0,
           f"soak: {stats['invalid']} invalid requests got their status "
           f"({stats['invalid_fail']} did not: {fails[:3]})")
        ok(fd0 is not None and fd1 is not None and fd1 <= fd0 + 2,
           f"soak: file descriptors back to the baseline ({fd0} -> {fd1})")
        ok(dm.alive(), "soak: daemon alive")
    finally:
        rc = dm.stop()
    ok(rc == 0, f"soak: SIGTERM exit 0 (got {rc})")
    sanitizer_clean(dm, "soak")


#---- overload -------------------------------------------------------------------

def slow_upload(port, body, hold, sent):
    """Headers and a trickle of body for HOLD seconds, then give up."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    try:
        s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: " +
                  hc.CT_MULTIPART + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        sent.append(1)
        end = time.monotonic() + hold
        off = 0
        while time.monotonic() < end and off < len(body) - 1:
            s.sendall(body[off:off + 1])
            off += 1
            time.sleep(0.25)
    except OSError:
        pass
    finally:
        s.close()


def overload(binary, out):
    big_pred, big_ref, big_dice = pair((256, 256, 96), seed=3)
    BP, BR = nifti_bytes(big_pred, gz=False), nifti_bytes(big_ref, gz=False)
    pred, ref, dice = pair((32, 32, 16))
    P, R = nifti_bytes(pred), nifti_bytes(ref)
    dm = hc.Daemon(binary, os.path.join(out, "overload.log"),
                   ["--workers", "1", "--threads-per-job", "1", "--queue", "4",
                    "--max-memory-mb", "64", "--max-upload-mb", "64",
                    "--timeout", "10", "--test-job-delay-ms", "1500"])
    try:
        # 1. Twelve concurrent 12 MB uploads against a 64 MiB budget.
        n = 12
        res = [None] * n

        def up(i):
            try:
                res[i] = hc.score(dm.port, [("prediction", BP), ("reference", BR)],
                                  timeout=60)
            except OSError:
                res[i] = None

        ths = [threading.Thread(target=up, args=(i,)) for i in range(n)]
        for t in ths:
            t.start()
        time.sleep(0.3)
        hz = [hc.request(dm.port, "GET", "/healthz", timeout=5) for _ in range(5)]
        for t in ths:
            t.join(90)
        codes = sorted(r.status if r else 0 for r in res)
        busy = [r for r in res if r is not None and r.status == 503]
        done = [r for r in res if r is not None and r.status == 200]
        print(f"# overload: statuses {codes}; 503 in "
              f"{', '.join('%.2f' % r.elapsed for r in busy)} s; peak RSS "
              f"{(dm.rss_kb() or 0) // 1024} MiB")
        ok(len(done) >= 1 and all(report_ok(r, big_dice) for r in done),
           f"overload: admitted uploads score correctly ({len(done)})")
        ok(len(busy) >= n // 2, f"overload: most uploads shed with 503 ({len(busy)}/{n})")
        ok(all(r.elapsed < 2.0 for r in busy), "overload: 503s are fast (< 2 s)")
        ok(all(r.header("retry-after") for r in busy), "overload: 503s carry Retry-After")
        ok(all(r.json().get("type") == "/problems/busy" for r in busy),
           "overload: 503 type /problems/busy")
        ok(len(busy) + len(done) == n, f"overload: every upload answered ({codes})")
        ok(all(r is not None and r.status == 200 and r.elapsed < 0.5 for r in hz),
           "overload: /healthz fast while the worker is saturated "
           f"({', '.join('%.3f' % r.elapsed for r in hz if r)} s)")
        ok(dm.alive(), "overload: daemon alive (no OOM)")
        # 2. Many slow uploads do not starve a normal client.
        nslow = 40
        body = hc.multipart([("prediction", P), ("reference", R)])
        sent = []
        slow = [threading.Thread(target=slow_upload, args=(dm.port, body, 8.0, sent))
                for _ in range(nslow)]
        for t in slow:
            t.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        r = None
        for _ in range(10):  # a normal client may be told to retry; it must get in
            r = hc.score(dm.port, [("prediction", P), ("reference", R)], timeout=30)
            if r is None or r.status != 503:
                break
            time.sleep(float(r.header("retry-after") or 1))
        took = time.monotonic() - t0
        ok(report_ok(r, dice) and took < 6.0,
           f"overload: a normal client scores while {len(sent)} slow uploads "
           f"hang on ({r.status if r else None} in {took:.1f} s)")
        h = hc.request(dm.port, "GET", "/healthz", timeout=5)
        ok(h is not None and h.status == 200 and h.elapsed < 0.5,
           "overload: /healthz fast with slow uploads connected")
        for t in slow:
            t.join(30)
        ok(dm.alive(), "overload: daemon alive after the slow uploads")
    finally:
        rc = dm.stop()
    ok(rc == 0, f"overload: SIGTERM exit 0 (got {rc})")
    sanitizer_clean(dm, "overload")


#---- shutdown ------------------------------------------------------------------

def shutdown(binary, out):
    pred, ref, dice = pair((32, 32, 16))
    P, R = nifti_bytes(pred), nifti_bytes(ref)
    dm = hc.Daemon(binary, os.path.join(out, "shutdown.log"),
                   ["--workers", "2", "--threads-per-job", "1", "--queue", "32",
                    "--grace", "30", "--test-job-delay-ms", "600"])
    n = 12
    res = [None] * n
    errs = [None] * n

    def one(i):
        try:
            res[i] = hc.score(dm.port, [("prediction", P), ("reference", R)],
                              timeout=60)
        except OSError as e:
            errs[i] = e

    # Background load that keeps arriving through the signal.
    stop = threading.Event()
    later = []

    def pound():
        while not stop.is_set() and dm.p.poll() is None:
            t = time.monotonic()
            try:
                r = hc.score(dm.port, [("prediction", P), ("reference", R)], timeout=60)
                later.append(("answered", t, r))
            except ConnectionRefusedError:
                later.append(("refused", t, None))
                time.sleep(0.05)
            except OSError as e:
                later.append(("error", t, e))
                time.sleep(0.05)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    admitted = 0
    for _ in range(100):
        r = hc.request(dm.port, "GET", "/readyz", timeout=5)
        try:
            admitted = r.json().get("admitted", 0) if r and r.status == 200 else admitted
        except ValueError:
            pass
        if admitted >= n:
            break
        time.sleep(0.05)
    ok(admitted >= n, f"shutdown: {n} requests admitted before the signal ({admitted})")
    pounders = [threading.Thread(target=pound) for _ in range(4)]
    for t in pounders:
        t.start()
    time.sleep(0.2)
    t_sig = time.monotonic()
    dm.p.send_signal(15)
    time.sleep(0.3)
    refused = None
    try:
        s = socket.create_connection(("127.0.0.1", dm.port), timeout=2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(2)
        got = s.recv(100)
        refused = not got  # closed without a byte counts as not accepted
        s.close()
    except ConnectionRefusedError:
        refused = True
    except (ConnectionResetError, socket.timeout, TimeoutError, OSError):
        refused = False
    ok(refused, "shutdown: a new connection after SIGTERM is refused")
    for t in ths:
        t.join(60)
    try:
        rc = dm.p.wait(40)
    except Exception:
        rc = dm.stop()
    took = time.monotonic() - t_sig
    stop.set()
    for t in pounders:
        t.join(60)
    good = sum(1 for r in res if report_ok(r, dice))
    ok(good == n, f"shutdown: all {n} admitted requests answered 200 and correct "
       f"({good}; {[r.status if r else errs[i] for i, r in enumerate(res)]})")
    # Requests that arrived around the signal: answered 200 (admitted), or
    # 503 shutting-down, or refused; never dropped after admission.
    bad = [x for x in later if x[0] == "error" or
           (x[0] == "answered" and (x[2] is None or
                                    (x[2].status != 200 and x[2].status != 503) or
                                    (x[2].status == 200 and not report_ok(x[2], dice))))]
    kinds = {}
    for x in later:
        k = x[0] if x[0] != "answered" else f"answered {x[2].status if x[2] else None}"
        k += " (sent after the signal)" if x[1] > t_sig else " (sent before)"
        kinds[k] = kinds.get(k, 0) + 1
    ok(all(x[0] == "refused" or (x[2] is not None and x[2].status == 503)
           for x in later if x[1] > t_sig + 0.05),
       "shutdown: requests sent after the signal are refused (or 503)")
    print(f"# shutdown: requests around the signal: {kinds}; drained in {took:.1f} s")
    ok(not bad, f"shutdown: no request lost around the signal ({bad[:3]})")
    ok(rc == 0, f"shutdown: exit 0 (got {rc}) in {took:.1f} s")
    dm.f.close()
    sanitizer_clean(dm, "shutdown")


#---- privacy --------------------------------------------------------------------

def scan(roots, marker, since, skip):
    hits = []
    m = marker.encode()
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in skip and d != ".git"]
            for fn in files:
                path = os.path.join(dirpath, fn)
                if m in fn.encode(errors="replace"):
                    hits.append(path)
                    continue
                try:
                    st = os.lstat(path)
                    if not os.path.isfile(path) or os.path.islink(path):
                        continue
                    if st.st_mtime < since or st.st_size > (256 << 20):
                        continue
                    with open(path, "rb") as f:
                        if m in f.read():
                            hits.append(path)
                except OSError:
                    continue
    return hits


def privacy(binary, out, tree):
    marker = "PHI%08x" % random.SystemRandom().getrandbits(32)  # fresh per run
    since = time.time() - 1
    pred, ref, dice = pair((24, 24, 12))
    P = nifti_bytes(pred, descrip=marker + " Doe^Jane", aux=marker, intent_name=marker[:15])
    R = nifti_bytes(ref, descrip="patient " + marker)
    Praw = nifti_bytes(pred, gz=False, descrip=marker)
    fn = marker + "_Doe_Jane_1970-01-01.nii.gz"
    log = os.path.join(out, "privacy.log")
    dm = hc.Daemon(binary, log, ["--workers", "1", "--threads-per-job", "1"])
    try:
        reqs = [
            [("prediction", P, fn), ("reference", R, "ref_" + fn)],
            [("prediction", Praw, fn), ("reference", R, fn)],
            [("prediction", P, fn)],                                   # missing part
            [("prediction", Praw[:-50], fn), ("reference", R, fn)],    # truncated
            [("prediction", P, fn), ("reference", nifti_bytes(ref[:, :, :10], descrip=marker), fn)],
            [("prediction", P, fn), ("reference", R, fn), (marker, b"x", fn)],  # unknown part
            [("prediction", P, fn), ("reference", R, fn),
             ("options", ('{"%s": 1}' % marker).encode(), fn)],       # unknown option
        ]
        codes = []
        for parts in reqs:
            r = hc.request(dm.port, "POST", "/v1/score", body=hc.multipart(parts),
                           ctype=hc.CT_MULTIPART, timeout=30)
            codes.append(r.status if r else None)
        ok(codes[0] == 200 and codes[1] == 200 and all(c and c >= 400 for c in codes[2:]),
           f"privacy: requests answered ({codes})")
        files = []
        for fd in os.listdir(f"/proc/{dm.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{dm.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("/") and not target.startswith("/dev/") and \
                    os.path.realpath(target) != os.path.realpath(log):
                files.append(target)
        ok(not files, f"privacy: the daemon holds no file open but its log {files}")
        m = hc.request(dm.port, "GET", "/metrics", timeout=10)
        ok(m is not None and m.status == 200 and marker.encode() not in m.body,
           "privacy: /metrics does not carry the marker")
    finally:
        rc = dm.stop()
    ok(rc == 0, f"privacy: exit 0 (got {rc})")
    text = dm.log_text()
    ok(marker not in text, "privacy: no log line carries the marker")
    ok(text.count('"msg":"request"') >= len(reqs), "privacy: the requests were logged")
    hits = scan(["/tmp", tree], marker, since, {os.path.abspath(out) + "/nothing"})
    ok(not hits, f"privacy: no file under /tmp or the work tree has the marker {hits[:5]}")


def main():
    binary, out = sys.argv[1], sys.argv[2]
    parts = sys.argv[3:] or ["soak", "overload", "shutdown", "privacy"]
    os.makedirs(out, exist_ok=True)
    tree = os.path.abspath(os.path.join(HERE, "..", ".."))
    for p in parts:
        print(f"== {p}", flush=True)
        if p == "privacy":
            privacy(binary, out, tree)
        else:
            globals()[p](binary, out)
    print(f"{passes} passed, {len(failures)} failed")
    for f in failures:
        print("failed:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
