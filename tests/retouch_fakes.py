"""A miniature RETOUCH training set in the exact released layout (MetaImage .mhd + .raw).

Volume numbers follow the release (Cirrus from TRAIN001, Spectralis from TRAIN025, Topcon
from TRAIN049); Spectralis images are 16-bit like the real ones, the others 8-bit. Each volume
has ``slices`` B-scans of ``depth`` x ``width``; slice 1 holds IRF (1) and SRF (2), slice 3
holds PED (3), every other slice is fluid-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["make_retouch_folder", "write_mhd"]

_FIRST = {"Cirrus": 1, "Spectralis": 25, "Topcon": 49}


def write_mhd(path: Path, array: np.ndarray, element_type: str) -> Path:
    """``path`` (.mhd) and its .raw next to it; ``array`` is (Z, Y, X), little-endian."""
    path.parent.mkdir(parents=True, exist_ok=True)
    z, y, x = array.shape
    raw = path.with_suffix(".raw")
    header = [
        "ObjectType = Image",
        "NDims = 3",
        "BinaryData = True",
        "BinaryDataByteOrderMSB = False",
        "CompressedData = False",
        "TransformMatrix = 1 0 0 0 1 0 0 0 1",
        "Offset = 0 0 0",
        "CenterOfRotation = 0 0 0",
        "AnatomicalOrientation = RAI",
        "ElementSpacing = 0.0117188 0.00195313 0.0469",
        f"DimSize = {x} {y} {z}",
        f"ElementType = {element_type}",
        f"ElementDataFile = {raw.name}",
    ]
    path.write_text("\n".join(header) + "\n")
    raw.write_bytes(array.astype(array.dtype.newbyteorder("<")).tobytes())
    return path


def make_retouch_folder(root: Path, volumes=None, slices=5, depth=20, width=16) -> Path:
    """Write ``volumes`` (vendor -> count, default 2 / 2 / 1) under ``root``; returns ``root``."""
    volumes = volumes or {"Cirrus": 2, "Spectralis": 2, "Topcon": 1}
    rng = np.random.default_rng(0)
    for vendor, count in volumes.items():
        for i in range(count):
            folder = root / f"RETOUCH-TrainingSet-{vendor}" / f"TRAIN{_FIRST[vendor] + i:03d}"
            wide = vendor == "Spectralis"
            image = rng.integers(0, 4000 if wide else 256, (slices, depth, width))
            labels = np.zeros((slices, depth, width), np.uint8)
            labels[1, 4:8, 3:7] = 1
            labels[1, 12:14, 8:14] = 2
            labels[3, 15:18, 2:12] = 3
            write_mhd(
                folder / "oct.mhd",
                image.astype(np.uint16 if wide else np.uint8),
                "MET_USHORT" if wide else "MET_UCHAR",
            )
            write_mhd(folder / "reference.mhd", labels, "MET_UCHAR")
    return root
