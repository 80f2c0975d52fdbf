"""A small raw-socket HTTP/1.1 client and a segscored runner for the
hardening tests (malformed.py, load.py).  Raw sockets, because the tests
send what well-behaved clients cannot: broken multipart, lying lengths,
slow drips.  Loopback only; every wait has a timeout.
SPDX-License-Identifier: MIT
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

BOUNDARY = b"segscoreTestBoundary7MA4YWxk"


def part(name, data, filename=None, ctype=b"application/octet-stream"):
    """One multipart/form-data part (bytes)."""
    if isinstance(name, str):
        name = name.encode()
    disp = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        fn = filename.encode() if isinstance(filename, str) else filename
        disp += b'; filename="' + fn + b'"'
    return (b"--" + BOUNDARY + b"\r\n" + disp + b"\r\nContent-Type: " +
            ctype + b"\r\n\r\n" + data + b"\r\n")


def multipart(parts):
    """PARTS: list of (name, bytes[, filename]).  Returns the body."""
    body = b"".join(part(p[0], p[1], p[2] if len(p) > 2 else None)
                    for p in parts)
    return body + b"--" + BOUNDARY + b"--\r\n"


CT_MULTIPART = b"multipart/form-data; boundary=" + BOUNDARY


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def _read_response(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return None if not buf else _parse(buf, b"")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+)", lines[0])
    if not m:
        raise IOError("bad status line %r" % lines[0])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
    status = int(m.group(1))
    if status == 100:  # Continue: the real answer follows
        return _read_response_from(sock, rest, deadline)
    n = headers.get("content-length")
    if n is not None:
        n = int(n)
        while len(rest) < n:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        rest = rest[:n]
    else:
        while True:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return status, headers, rest


def _read_response_from(sock, pre, deadline):
    class Pre:
        def __init__(self, s, data):
            self.s, self.data = s, data

        def settimeout(self, t):
            self.s.settimeout(t)

        def recv(self, n):
            if self.data:
                d, self.data = self.data, b""
                return d
            return self.s.recv(n)
    return _read_response(Pre(sock, pre), deadline)


def _parse(buf, _):
    return None


def request(port, method, path, body=None, headers=None, ctype=None,
            content_length=True, chunked=False, timeout=60.0,
            chunk_size=65536, drip=None, raw=None):
    """Send one request on a new connection; returns a Response, or None
    when the server closed the connection without an answer.  CHUNKED
    sends Transfer-Encoding: chunked (no Content-Length).  DRIP =
    (bytes_per_send, seconds_between) sends the body slowly.  RAW sends
    those bytes as the whole request."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if raw is not None:
            s.sendall(raw)
        else:
            h = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1",
                 b"Connection: close"]
            if ctype is not None:
                h.append(b"Content-Type: " + ctype)
            for k, v in (headers or {}).items():
                h.append(f"{k}: {v}".encode())
            if body is not None:
                if chunked:
                    h.append(b"Transfer-Encoding: chunked")
                elif content_length:
                    h.append(b"Content-Length: " + str(len(body)).encode())
            s.sendall(b"\r\n".join(h) + b"\r\n\r\n")
            if body is not None:
                step = drip[0] if drip else chunk_size
                for off in range(0, len(body), step):
                    piece = body[off:off + step]
                    if chunked:
                        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
                    try:
                        s.sendall(piece)
                    except (BrokenPipeError, ConnectionResetError):
                        break  # the server gave up on us: read its answer
                    if drip:
                        time.sleep(drip[1])
                    if time.monotonic() > deadline:
                        break
                if chunked:
                    try:
                        s.sendall(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
        try:
            r = _read_response(s, deadline)
        except (ConnectionResetError, socket.timeout, TimeoutError):
            r = None
    finally:
        s.close()
    if r is None:
        return None
    return Response(r[0], r[1], r[2], time.monotonic() - t0)


def score(port, parts, **kw):
    return request(port, "POST", "/v1/score", body=multipart(parts),
                   ctype=CT_MULTIPART, **kw)


class Daemon:
    """segscored on 127.0.0.1:<free port>; stderr (the JSON log) to LOG."""

    def __init__(self, binary, log, args=(), env=None):
        self.log = log
        e = dict(os.environ)
        e.update(env or {})
        self.f = open(log, "wb")
        self.p = subprocess.Popen([binary, "--listen", "127.0.0.1:0"] +
                                  list(args), stdout=self.f,
                                  stderr=subprocess.STDOUT, env=e)
        self.port = None
        for _ in range(200):
            m = re.search(rb'"msg":"listening".*?"port":(\d+)',
                          open(log, "rb").read())
            if m:
                self.port = int(m.group(1))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise RuntimeError("segscored did not start; see " + log)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=30):
        """SIGTERM, wait; returns the exit code (None if it had to be
        killed)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
                self.f.close()
                return None
        self.f.close()
        return self.p.returncode

    def rss_kb(self):
        try:
            for ln in open(f"/proc/{self.p.pid}/status"):
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
        except OSError:
            pass
        return None

    def nfds(self):
        try:
            return len(os.listdir(f"/proc/{self.p.pid}/fd"))
        except OSError:
            return None

    def log_text(self):
        return open(self.log, "rb").read().decode(errors="replace")


SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|"
                          r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")
