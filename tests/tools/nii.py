"""Write NIfTI test files with nibabel (Debian's python3-nibabel).

Independent of segscore's own code: the fixtures and golden files the
tests read are produced here.  SPDX-License-Identifier: MIT
"""
import gzip

import nibabel as nib
import numpy as np


def write(path, data, spacing=(1.0, 1.0, 1.0), version=1, endian="<",
          affine=None, slope=None, inter=None, descrip=None, units="mm",
          intent=None):
    """Write DATA (numpy array, x fastest in NIfTI order) to PATH.

    .gz paths are gzip-compressed.  ENDIAN "<" or ">".  AFFINE defaults to
    diag(spacing).  SLOPE/INTER set scl_slope/scl_inter (raw data stored).
    """
    data = np.asarray(data)
    if affine is None:
        affine = np.diag(list(spacing[:3]) + [1.0])
    cls = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    hdr_cls = nib.Nifti1Header if version == 1 else nib.Nifti2Header
    hdr = hdr_cls(endianness=endian)
    hdr.set_data_dtype(data.dtype.newbyteorder("="))
    img = cls(data, affine, header=hdr)
    img.header.set_zooms(tuple(spacing[:3]) + img.header.get_zooms()[3:])
    img.header.set_xyzt_units(units)
    if intent is not None:
        img.header.set_intent(intent)
    if descrip is not None:
        img.header["descrip"] = descrip
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    if slope is not None:
        img.header.set_slope_inter(slope, inter if inter is not None else 0.0)
        raw = img.header.raw_data_from_fileobj  # noqa: keep nibabel API use
        del raw
    blob = img.to_bytes() if slope is None else _with_scaling(img, slope, inter)
    if path.endswith(".gz"):
        blob = gzip.compress(blob, compresslevel=6)
    with open(path, "wb") as f:
        f.write(blob)


def _with_scaling(img, slope, inter):
    """Serialise with scl_slope/scl_inter set but the raw values unchanged."""
    hdr = img.header.copy()
    hdr.set_slope_inter(slope, inter if inter is not None else 0.0)
    arr = np.asarray(img.dataobj)
    off = int(hdr.get_data_offset()) or (352 if hdr.sizeof_hdr == 348 else 544)
    hdr.set_data_offset(off)
    head = hdr.binaryblock
    pad = b"\0" * (off - len(head))
    raw = arr.astype(hdr.get_data_dtype()).tobytes(order="F")
    return head + pad + raw
