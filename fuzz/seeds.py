#!/usr/bin/python3
"""Write the multipart and score seed corpora (fuzz/corpus/multipart,
fuzz/corpus/score) from the decoder fixtures.  The nifti and options
corpora are plain files picked by hand.  Usage: seeds.py FIXTURE_DIR
SPDX-License-Identifier: MIT
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def part(name, data, filename=None, ctype=b"application/octet-stream"):
    disp = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename:
        disp += b'; filename="' + filename + b'"'
    return (b"--XyZ\r\n" + disp + b"\r\nContent-Type: " + ctype +
            b"\r\n\r\n" + data + b"\r\n")


def multipart(fx):
    a = open(os.path.join(fx, "uint8_le_n1.nii"), "rb").read()
    z = open(os.path.join(fx, "uint8_le_n1.nii.gz"), "rb").read()
    p = open(os.path.join(fx, "probs4.nii.gz"), "rb").read()
    end = b"--XyZ--\r\n"
    opts = b'{"metrics":["overlap","boundary"],"percentiles":[95,100]}'
    bodies = {
        "valid": part(b"prediction", a, b"p.nii") +
        part(b"reference", a, b"r.nii") + end,
        "valid_gz_opts": part(b"prediction", z, b"p.nii.gz") +
        part(b"reference", z) + part(b"options", opts, None,
                                     b"application/json") + end,
        "two_refs": part(b"prediction", a) + part(b"reference", a) +
        part(b"reference", z) + end,
        "probs": part(b"prediction", p) + part(b"reference", a) + end,
        "missing_ref": part(b"prediction", a) + end,
        "dup_pred": part(b"prediction", a) + part(b"prediction", a) +
        part(b"reference", a) + end,
        "unknown_part": part(b"x", b"1") + end,
        "no_end": part(b"prediction", a) + part(b"reference", a),
        "bad_opts": part(b"prediction", a) + part(b"reference", a) +
        part(b"options", b'{"nope":1}') + end,
    }
    out = os.path.join(HERE, "corpus", "multipart")
    os.makedirs(out, exist_ok=True)
    for i, (name, body) in enumerate(sorted(bodies.items())):
        flags = bytes([(i * 3) & 0x0f])  # chunked or not, chunk sizes
        with open(os.path.join(out, name), "wb") as f:
            f.write(flags + body)
    # One with its own Content-Type line (quoted boundary).
    with open(os.path.join(out, "quoted_boundary"), "wb") as f:
        f.write(b"\x01Content-Type: multipart/form-data; boundary=\"XyZ\"\n" +
                bodies["valid"])


def score():
    out = os.path.join(HERE, "corpus", "score")
    os.makedirs(out, exist_ok=True)
    seeds = {
        # nx ny nz flags channels sx sy sz, then voxels
        "labels_4x4x3": bytes([3, 3, 2, 0x00, 0, 4, 4, 8]) +
        bytes((i * 7) % 3 for i in range(48)) +
        bytes((i * 5) % 3 for i in range(48)),
        "int16_gz_scaled_ref": bytes([2, 3, 1, 0x19, 0, 2, 3, 4]) +
        bytes(range(24 * 2)) + bytes(i % 3 for i in range(24)),
        "probs3": bytes([2, 2, 2, 0x42, 2, 4, 4, 4]) +
        bytes((i * 37) % 256 for i in range(24)) + bytes([0, 1, 2] * 3),
        "raw_floats": bytes([1, 1, 1, 0x83, 0, 4, 4, 4]) +
        b"\x00\x00\xc0\x7f" + b"\x01",
        "affine_shift": bytes([2, 2, 2, 0x04, 0, 4, 4, 4]) + bytes(16),
        "opts_tail": bytes([2, 2, 2, 0x00, 0, 4, 4, 4]) + bytes([1] * 16) +
        b'{"include_background":true,"surface":"voxel"}',
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    multipart(sys.argv[1])
    score()
